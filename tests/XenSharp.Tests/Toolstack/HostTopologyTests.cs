using XenSharp.Scheduling;
using XenSharp.Toolstack.Host;

namespace XenSharp.Tests.Toolstack;

public sealed class HostTopologyTests
{
    [Fact]
    public void Sysfs_cores_sockets_and_nodes_become_credit2_locations()
    {
        string dir = Path.Combine(Path.GetTempPath(), "xs-topo-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Two sockets with two cores each, two threads per core, sockets on nodes 0 and 1.
            for (int p = 0; p < 8; p++)
            {
                string t = Path.Combine(dir, $"cpu{p}", "topology");
                Directory.CreateDirectory(t);
                File.WriteAllText(Path.Combine(t, "physical_package_id"), $"{p / 4}\n");
                File.WriteAllText(Path.Combine(t, "core_id"), $"{(p / 2) % 2}\n");
                Directory.CreateDirectory(Path.Combine(dir, $"cpu{p}", $"node{p / 4}"));
            }
            var topology = HostTopology.Read(9, dir); // cpu8 is not described: credit2's default

            Assert.Equal(topology.Location(0).Core, topology.Location(1).Core);
            Assert.NotEqual(topology.Location(1).Core, topology.Location(2).Core);
            Assert.NotEqual(topology.Location(0).Core, topology.Location(4).Core); // same core_id, other socket
            Assert.Equal((0, 0), (topology.Location(3).Socket, topology.Location(3).Node));
            Assert.Equal((1, 1), (topology.Location(4).Socket, topology.Location(4).Node));

            var byCore = new Credit2Scheduler(Credit2RunqueueArrangement.Core, topology);
            var bySocket = new Credit2Scheduler(Credit2RunqueueArrangement.Socket, topology);
            var tickle = CpuMask.None;
            for (int p = 0; p < 8; p++)
            {
                byCore.AddPcpu(p, 0, ref tickle);
                bySocket.AddPcpu(p, 0, ref tickle);
            }
            Assert.Equal(4, byCore.RunqueueCount);
            Assert.Equal(2, bySocket.RunqueueCount);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
