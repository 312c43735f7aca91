namespace XenSharp.Hypervisor.Domains;

/// <summary>A domain's life, as `xl list` shows it.</summary>
public enum DomainState
{
    /// <summary>Built and not started yet (xl create -p), or paused by xl pause (vCPUs parked).</summary>
    Paused,
    /// <summary>At least one vCPU may run.</summary>
    Running,
    /// <summary>The guest asked to shut down (or crashed); the toolstack decides what follows.</summary>
    Shutdown,
    /// <summary>Being destroyed.</summary>
    Dying,
    /// <summary>Gone; its resources are released.</summary>
    Destroyed,
}
