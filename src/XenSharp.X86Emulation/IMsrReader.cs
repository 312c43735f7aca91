namespace XenSharp.X86Emulation;

/// <summary>The MSR values SYSCALL/SYSRET/SYSENTER/SYSEXIT need; the vCPU owner supplies them.</summary>
public interface IMsrReader
{
    ulong Star { get; }
    ulong Lstar { get; }
    ulong Cstar { get; }
    ulong Sfmask { get; }
    ulong SysenterCs { get; }
    ulong SysenterEsp { get; }
    ulong SysenterEip { get; }
}

/// <summary>A plain settable <see cref="IMsrReader"/> (tests, or a caller that snapshots MSRs).</summary>
public class MsrValues : IMsrReader
{
    public ulong Star { get; set; }
    public ulong Lstar { get; set; }
    public ulong Cstar { get; set; }
    public ulong Sfmask { get; set; }
    public ulong SysenterCs { get; set; }
    public ulong SysenterEsp { get; set; }
    public ulong SysenterEip { get; set; }
}
