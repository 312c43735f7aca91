using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;

namespace XenSharp.Scheduling;

/// <summary>
/// A fixed-size set of physical CPU numbers 0..<see cref="MaxCpus"/>-1 (Xen's cpumask_t).
/// A mutable value type with no heap storage: copy it with plain assignment, pass it with
/// <c>in</c>/<c>ref</c>. Text syntax is xl's: "all", "none", "0-3,5,^2" (ranges, single CPUs,
/// and "^" exclusions applied left to right), e.g. "all,^0".
/// </summary>
public struct CpuMask : IEquatable<CpuMask>
{
    /// <summary>Largest number of pCPUs a mask can describe.</summary>
    public const int MaxCpus = 1024;
    private const int Words = MaxCpus / 64;

    [InlineArray(Words)]
    private struct Bits
    {
        private ulong _element0;
    }

    private Bits _bits;

    /// <summary>The empty mask.</summary>
    public static CpuMask None => default;

    /// <summary>Every CPU 0..MaxCpus-1.</summary>
    public static CpuMask All
    {
        get
        {
            var m = default(CpuMask);
            for (int i = 0; i < Words; i++) m._bits[i] = ulong.MaxValue;
            return m;
        }
    }

    /// <summary>CPUs first..last inclusive.</summary>
    public static CpuMask Range(int first, int last)
    {
        Check(first, nameof(first));
        Check(last, nameof(last));
        if (last < first) throw new ArgumentException($"cpu range {first}-{last} is reversed: the first CPU must not exceed the last");
        var m = default(CpuMask);
        for (int c = first; c <= last; c++) m.Set(c);
        return m;
    }

    /// <summary>A mask holding the listed CPUs.</summary>
    public static CpuMask Of(params ReadOnlySpan<int> cpus)
    {
        var m = default(CpuMask);
        foreach (var c in cpus) m.Set(c);
        return m;
    }

    private static void Check(int cpu, string name)
    {
        if ((uint)cpu >= MaxCpus)
            throw new ArgumentOutOfRangeException(name, cpu, $"cpu number must be in 0..{MaxCpus - 1}");
    }

    public void Set(int cpu)
    {
        Check(cpu, nameof(cpu));
        _bits[cpu >> 6] |= 1UL << (cpu & 63);
    }

    public void Clear(int cpu)
    {
        Check(cpu, nameof(cpu));
        _bits[cpu >> 6] &= ~(1UL << (cpu & 63));
    }

    /// <summary>Empties the mask.</summary>
    public void ClearAll() => this = default;

    /// <summary>True if <paramref name="cpu"/> is in the mask (false for any out-of-range number).</summary>
    public readonly bool Contains(int cpu)
        => (uint)cpu < MaxCpus && (_bits[cpu >> 6] & (1UL << (cpu & 63))) != 0;

    public readonly bool IsEmpty
    {
        get
        {
            for (int i = 0; i < Words; i++) if (_bits[i] != 0) return false;
            return true;
        }
    }

    public readonly int Count
    {
        get
        {
            int n = 0;
            for (int i = 0; i < Words; i++) n += BitOperations.PopCount(_bits[i]);
            return n;
        }
    }

    /// <summary>Lowest CPU in the mask, or -1.</summary>
    public readonly int First() => Next(-1);

    /// <summary>Lowest CPU greater than <paramref name="after"/>, or -1 (cpumask_next).</summary>
    public readonly int Next(int after)
    {
        int c = after + 1;
        if (c < 0) c = 0;
        while (c < MaxCpus)
        {
            int w = c >> 6;
            ulong bits = _bits[w] & (ulong.MaxValue << (c & 63));
            if (bits != 0) return (w << 6) + BitOperations.TrailingZeroCount(bits);
            c = (w + 1) << 6;
        }
        return -1;
    }

    public readonly bool Intersects(in CpuMask other)
    {
        for (int i = 0; i < Words; i++) if ((_bits[i] & other._bits[i]) != 0) return true;
        return false;
    }

    public readonly bool IsSubsetOf(in CpuMask other)
    {
        for (int i = 0; i < Words; i++) if ((_bits[i] & ~other._bits[i]) != 0) return false;
        return true;
    }

    /// <summary>this &amp;= other.</summary>
    public void And(in CpuMask other) { for (int i = 0; i < Words; i++) _bits[i] &= other._bits[i]; }

    /// <summary>this |= other.</summary>
    public void Or(in CpuMask other) { for (int i = 0; i < Words; i++) _bits[i] |= other._bits[i]; }

    /// <summary>this &amp;= ~other.</summary>
    public void AndNot(in CpuMask other) { for (int i = 0; i < Words; i++) _bits[i] &= ~other._bits[i]; }

    public static CpuMask operator &(in CpuMask a, in CpuMask b) { var r = a; r.And(b); return r; }
    public static CpuMask operator |(in CpuMask a, in CpuMask b) { var r = a; r.Or(b); return r; }

    public readonly bool Equals(CpuMask other)
    {
        for (int i = 0; i < Words; i++) if (_bits[i] != other._bits[i]) return false;
        return true;
    }

    public override readonly bool Equals(object? obj) => obj is CpuMask m && Equals(m);

    public override readonly int GetHashCode()
    {
        var h = new HashCode();
        for (int i = 0; i < Words; i++) h.Add(_bits[i]);
        return h.ToHashCode();
    }

    public static bool operator ==(in CpuMask a, in CpuMask b) => a.Equals(b);
    public static bool operator !=(in CpuMask a, in CpuMask b) => !a.Equals(b);

    /// <summary>Allocation-free iteration: <c>foreach (int cpu in mask)</c>.</summary>
    public readonly Enumerator GetEnumerator() => new(this);

    public struct Enumerator
    {
        private readonly CpuMask _mask;
        private int _cur;
        internal Enumerator(in CpuMask mask) { _mask = mask; _cur = -1; }
        public readonly int Current => _cur;
        public bool MoveNext() { _cur = _mask.Next(_cur); return _cur >= 0; }
    }

    /// <summary>xl syntax: "all" when every CPU is set, "none" when empty, else "0-3,5,8-9".</summary>
    public override readonly string ToString()
    {
        if (IsEmpty) return "none";
        if (Count == MaxCpus) return "all";
        var sb = new StringBuilder();
        int c = First();
        while (c >= 0)
        {
            int end = c;
            while (end + 1 < MaxCpus && Contains(end + 1)) end++;
            if (sb.Length > 0) sb.Append(',');
            sb.Append(c);
            if (end > c) sb.Append('-').Append(end);
            c = Next(end);
        }
        return sb.ToString();
    }

    private const string Accepted =
        "accepted: \"all\", \"none\", or a comma-separated list of CPU numbers (0..1023) and ranges " +
        "\"a-b\", each optionally prefixed by '^' to exclude it, e.g. \"0-3,5,^2\" or \"all,^0\"";

    /// <summary>Parses xl's cpu list syntax; throws <see cref="FormatException"/> naming what is accepted.</summary>
    public static CpuMask Parse(string text)
    {
        if (!TryParse(text, out var mask, out var error)) throw new FormatException(error);
        return mask;
    }

    public static bool TryParse(string? text, out CpuMask mask) => TryParse(text, out mask, out _);

    public static bool TryParse(string? text, out CpuMask mask, out string error)
    {
        mask = default;
        error = "";
        if (text is null) { error = $"cpu list is missing; {Accepted}"; return false; }
        var s = text.Trim();
        if (s.Length == 0) { error = $"cpu list is empty; {Accepted}"; return false; }
        foreach (var rawPart in s.Split(','))
        {
            var part = rawPart.Trim();
            bool exclude = part.StartsWith('^');
            var body = exclude ? part[1..].Trim() : part;
            if (body.Length == 0) { error = $"empty entry in cpu list \"{text}\"; {Accepted}"; return false; }
            CpuMask item;
            if (body.Equals("all", StringComparison.OrdinalIgnoreCase)) item = All;
            else if (body.Equals("none", StringComparison.OrdinalIgnoreCase)) item = default;
            else
            {
                int dash = body.IndexOf('-');
                string a = dash < 0 ? body : body[..dash].Trim();
                string b = dash < 0 ? body : body[(dash + 1)..].Trim();
                if (!ParseCpu(a, out int first) || !ParseCpu(b, out int last))
                {
                    error = $"bad entry \"{part}\" in cpu list \"{text}\"; {Accepted}";
                    return false;
                }
                if (last < first)
                {
                    error = $"reversed range \"{part}\" in cpu list \"{text}\" (first CPU must not exceed last); {Accepted}";
                    return false;
                }
                item = default;
                for (int c = first; c <= last; c++) item.Set(c);
            }
            if (exclude) mask.AndNot(item); else mask.Or(item);
        }
        return true;
    }

    private static bool ParseCpu(string s, out int cpu)
    {
        cpu = -1;
        if (s.Length == 0) return false;
        foreach (char ch in s) if (ch is < '0' or > '9') return false;
        if (s.Length > 4 || !int.TryParse(s, out cpu)) return false;
        return cpu < MaxCpus;
    }
}
