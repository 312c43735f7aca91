using System.Text;
using System.Text.Json;

namespace XenSharp.Bench;

/// <summary>One benchmark's figures, printed as one JSON line.</summary>
public sealed class BenchResult(string name, string unit, IReadOnlyList<double> samples)
{
    public string Name { get; } = name;
    public string Unit { get; } = unit;
    public IReadOnlyList<double> Samples { get; } = samples;
    /// <summary>Other figures measured in the same run (baselines, targets), printed as-is.</summary>
    public Dictionary<string, object> Extra { get; } = new();

    public static double Median(IReadOnlyList<double> xs)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>The line a scenario that could not run prints: {"bench":NAME,"skipped":WHY}.</summary>
    public static string SkippedJson(string name, string why)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("bench", name);
            w.WriteString("skipped", why);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    public string ToJson()
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("bench", Name);
            w.WriteString("unit", Unit);
            w.WriteNumber("median", Math.Round(Median(Samples), 3));
            w.WriteNumber("min", Math.Round(Samples.Min(), 3));
            w.WriteNumber("max", Math.Round(Samples.Max(), 3));
            w.WriteNumber("samples", Samples.Count);
            foreach (var (k, v) in Extra)
            {
                switch (v)
                {
                    case double d: w.WriteNumber(k, Math.Round(d, 3)); break;
                    case int i: w.WriteNumber(k, i); break;
                    case long l: w.WriteNumber(k, l); break;
                    default: w.WriteString(k, v.ToString()); break;
                }
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

/// <summary>Thrown by a scenario that cannot run on this machine; reported as skipped, not failed.</summary>
public sealed class BenchSkippedException(string message) : Exception(message);
