using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// Writes a <see cref="DomainConfig"/> as indented JSON with <see cref="Utf8JsonWriter"/> (no
/// reflection, so it works trimmed and AOT-compiled). Keys follow xl.cfg's names; raw settings
/// become JSON strings, numbers and arrays.
/// </summary>
internal static class DomainConfigJson
{
    private static readonly JsonWriterOptions s_options = new()
    {
        Indented = true,
        NewLine = "\n",
        // Paths and command lines read better without \u002B-style escapes; the output is not for HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The JSON text of <paramref name="config"/>.</summary>
    public static string Write(DomainConfig config)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, s_options))
        {
            json.WriteStartObject();
            json.WriteString("name", config.Name);
            WriteOptional(json, "uuid", config.Uuid?.ToString("D"));
            json.WriteString("type", config.Type.ToXlName());
            if (config.Arch is { } arch) json.WriteString("arch", arch == XenSharp.Hypervisor.GuestArchitecture.Arm64 ? "aarch64" : "x86");
            WriteOptional(json, "kernel", config.Kernel);
            WriteOptional(json, "ramdisk", config.Ramdisk);
            WriteOptional(json, "cmdline", config.Cmdline);
            json.WriteNumber("memory", config.MemoryMiB);
            json.WriteNumber("maxmem", config.MaxMemMiB);
            json.WriteNumber("vcpus", config.Vcpus);
            json.WriteNumber("maxvcpus", config.MaxVcpus);
            json.WriteNumber("max_event_channels", config.MaxEventChannels);
            json.WriteNumber("max_grant_frames", config.MaxGrantFrames);
            json.WriteNumber("max_grant_version", config.MaxGrantVersion);
            WriteAffinity(json, "cpus", config.Cpus);
            WriteAffinity(json, "cpus_soft", config.CpusSoft);
            json.WriteNumber("cpu_weight", config.CpuWeight);
            json.WriteNumber("cap", config.Cap);
            WriteOptional(json, "pool", config.Pool);
            json.WriteString("on_poweroff", config.OnPoweroff.ToXlName());
            json.WriteString("on_reboot", config.OnReboot.ToXlName());
            json.WriteString("on_crash", config.OnCrash.ToXlName());
            json.WriteString("on_watchdog", config.OnWatchdog.ToXlName());
            json.WriteString("on_soft_reset", config.OnSoftReset.ToXlName());
            if (config.Vuart is not null) json.WriteString("vuart", config.Vuart);
            if (config.GicVersion is not null) json.WriteString("gic_version", config.GicVersion);
            if (config.Disks.Count > 0)
            {
                json.WriteStartArray("disk");
                foreach (var disk in config.Disks) json.WriteStringValue(disk.ToString());
                json.WriteEndArray();
            }
            json.WriteStartObject("raw_settings");
            foreach (var (key, setting) in config.RawSettings)
            {
                json.WritePropertyName(key);
                WriteValue(json, setting.Value);
            }
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>null, a CPU list string, or (per-vCPU) an array of them.</summary>
    private static void WriteAffinity(Utf8JsonWriter json, string name, CpuAffinityConfig? affinity)
    {
        if (affinity is null)
        {
            json.WriteNull(name);
            return;
        }
        if (!affinity.PerVcpu)
        {
            json.WriteString(name, affinity.Masks[0].ToString());
            return;
        }
        json.WriteStartArray(name);
        foreach (var mask in affinity.Masks)
            json.WriteStringValue(mask.ToString());
        json.WriteEndArray();
    }

    private static void WriteOptional(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
            json.WriteNull(name);
        else
            json.WriteString(name, value);
    }

    private static void WriteValue(Utf8JsonWriter json, XlValue value)
    {
        switch (value)
        {
            case XlString s:
                json.WriteStringValue(s.Value);
                break;
            case XlNumber n:
                json.WriteNumberValue(n.Value);
                break;
            case XlList list:
                json.WriteStartArray();
                foreach (var item in list.Items)
                    WriteValue(json, item);
                json.WriteEndArray();
                break;
            default:
                throw new InvalidOperationException($"unexpected xl value {value.GetType().Name}");
        }
    }
}
