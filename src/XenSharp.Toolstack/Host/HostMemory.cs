namespace XenSharp.Toolstack.Host;

/// <summary>The host's memory as /proc/meminfo reports it.</summary>
public static class HostMemory
{
    /// <summary>MemTotal in bytes.</summary>
    public static ulong Total => Read("MemTotal:");

    /// <summary>MemAvailable in bytes: what a new domain may take without pushing the host into swap.</summary>
    public static ulong Available => Read("MemAvailable:");

    private static ulong Read(string key)
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return ulong.Parse(parts[0]) * 1024;
        }
        return 0;
    }
}
