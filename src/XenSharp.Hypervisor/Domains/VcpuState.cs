namespace XenSharp.Hypervisor.Domains;

/// <summary>Where a vCPU is in its life (the runstate Xen reports).</summary>
public enum VcpuState
{
    /// <summary>Not brought up (VCPUOP_up not yet called, or VCPUOP_down).</summary>
    Offline,
    /// <summary>Executing guest code (or about to).</summary>
    Running,
    /// <summary>Waiting for an event (HLT, SCHEDOP_block).</summary>
    Blocked,
}
