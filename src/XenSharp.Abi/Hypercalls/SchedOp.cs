namespace XenSharp.Abi.Hypercalls;

/// <summary>sched_op sub-commands (SCHEDOP_* in sched.h).</summary>
public static class SchedOp
{
    public const int Yield = 0;
    public const int Block = 1;
    public const int Shutdown = 2;      // struct sched_shutdown { u32 reason; }
    public const int Poll = 3;
    public const int RemoteShutdown = 4;
    public const int ShutdownCode = 5;
    public const int Watchdog = 6;
    public const int PinOverride = 7;
}

/// <summary>SHUTDOWN_* reason codes (sched.h).</summary>
public enum ShutdownReason
{
    Poweroff = 0,
    Reboot = 1,
    Suspend = 2,
    Crash = 3,
    Watchdog = 4,
    SoftReset = 5,
}
