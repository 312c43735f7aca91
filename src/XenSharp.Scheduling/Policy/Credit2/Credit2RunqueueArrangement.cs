namespace XenSharp.Scheduling;

/// <summary>How credit2 groups pCPUs into runqueues (Xen's credit2_runqueue= option).</summary>
public enum Credit2RunqueueArrangement
{
    /// <summary>One runqueue per logical pCPU.</summary>
    Cpu,
    /// <summary>One runqueue per physical core (its hyperthreads share it).</summary>
    Core,
    /// <summary>One runqueue per socket (Xen's default).</summary>
    Socket,
    /// <summary>One runqueue per NUMA node.</summary>
    Node,
    /// <summary>A single runqueue for every pCPU.</summary>
    All,
}
