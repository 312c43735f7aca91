namespace XenSharp.Scheduling;

/// <summary>Where a pCPU sits: its core (numbered inside its socket or globally, either works),
/// socket and NUMA node.</summary>
public readonly record struct CpuLocation(int Core, int Socket, int Node);

/// <summary>
/// The host topology credit2 uses to build runqueues: a plain pCPU → (core, socket, node) map.
/// pCPUs never described default to their own core on socket 0, node 0 — so the default
/// topology is "one socket, no hyperthreads". The scheduler reads a pCPU's location when the
/// pCPU is added.
/// </summary>
public sealed class Credit2Topology
{
    private readonly CpuLocation[] _loc = new CpuLocation[CpuMask.MaxCpus];
    private readonly bool[] _set = new bool[CpuMask.MaxCpus];

    /// <summary>Every pCPU its own core, all on socket 0 / node 0.</summary>
    public static Credit2Topology SingleSocket() => new();

    /// <summary>A regular machine: pCPU p is thread p % threadsPerCore of core p / threadsPerCore;
    /// coresPerSocket cores make a socket and socketsPerNode sockets make a node.
    /// E.g. Uniform(2, 2) on 8 pCPUs: cores {0,1} {2,3} {4,5} {6,7}, sockets {0-3} {4-7}.</summary>
    public static Credit2Topology Uniform(int threadsPerCore, int coresPerSocket, int socketsPerNode = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadsPerCore, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(coresPerSocket, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(socketsPerNode, 1);
        var t = new Credit2Topology();
        for (int p = 0; p < CpuMask.MaxCpus; p++)
        {
            int core = p / threadsPerCore;
            int socket = core / coresPerSocket;
            t.Set(p, core, socket, socket / socketsPerNode);
        }
        return t;
    }

    /// <summary>Describes one pCPU (returns this, for chaining).</summary>
    public Credit2Topology Set(int pcpu, int core, int socket, int node)
    {
        if ((uint)pcpu >= CpuMask.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(pcpu), pcpu, $"pCPU number must be in 0..{CpuMask.MaxCpus - 1}");
        ArgumentOutOfRangeException.ThrowIfNegative(core);
        ArgumentOutOfRangeException.ThrowIfNegative(socket);
        ArgumentOutOfRangeException.ThrowIfNegative(node);
        _loc[pcpu] = new CpuLocation(core, socket, node);
        _set[pcpu] = true;
        return this;
    }

    public CpuLocation Location(int pcpu)
    {
        if ((uint)pcpu >= CpuMask.MaxCpus)
            throw new ArgumentOutOfRangeException(nameof(pcpu), pcpu, $"pCPU number must be in 0..{CpuMask.MaxCpus - 1}");
        return _set[pcpu] ? _loc[pcpu] : new CpuLocation(pcpu, 0, 0);
    }

    /// <summary>Runqueue key of a pCPU under an arrangement (pCPUs with equal keys share a runqueue).</summary>
    internal long RunqueueKey(int pcpu, Credit2RunqueueArrangement arrangement)
    {
        var l = Location(pcpu);
        return arrangement switch
        {
            Credit2RunqueueArrangement.Cpu => pcpu,
            Credit2RunqueueArrangement.Core => ((long)l.Socket << 32) | (uint)l.Core,
            Credit2RunqueueArrangement.Socket => l.Socket,
            Credit2RunqueueArrangement.Node => l.Node,
            _ => 0,
        };
    }
}
