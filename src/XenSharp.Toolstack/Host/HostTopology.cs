using System.Globalization;
using XenSharp.Scheduling;

namespace XenSharp.Toolstack.Host;

/// <summary>
/// The host's CPU topology from sysfs (/sys/devices/system/cpu/cpuN/topology/core_id and
/// physical_package_id, and the cpuN/nodeM link), as credit2 needs it to build runqueues per
/// core, socket or node. CPUs sysfs does not describe keep credit2's default (own core,
/// socket 0, node 0).
/// </summary>
public static class HostTopology
{
    public static Credit2Topology Read(int pcpus, string sysfs = "/sys/devices/system/cpu")
    {
        var topology = Credit2Topology.SingleSocket();
        var cores = new Dictionary<(int Socket, int Core), int>();
        for (int p = 0; p < pcpus; p++)
        {
            string dir = Path.Combine(sysfs, $"cpu{p}");
            if (!TryReadInt(Path.Combine(dir, "topology", "physical_package_id"), out int socket) ||
                !TryReadInt(Path.Combine(dir, "topology", "core_id"), out int coreId))
                continue;
            if (!cores.TryGetValue((socket, coreId), out int core))
                cores[(socket, coreId)] = core = cores.Count;
            int node = 0;
            try
            {
                foreach (var entry in Directory.EnumerateDirectories(dir, "node*"))
                    if (int.TryParse(Path.GetFileName(entry)[4..], NumberStyles.None, CultureInfo.InvariantCulture, out int n)) node = n;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            topology.Set(p, core, Math.Max(0, socket), node);
        }
        return topology;
    }

    private static bool TryReadInt(string path, out int value)
    {
        value = 0;
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
