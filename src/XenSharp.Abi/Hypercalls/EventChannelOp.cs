namespace XenSharp.Abi.Hypercalls;

/// <summary>Event channel sub-commands (EVTCHNOP_* in event_channel.h).</summary>
public static class EventChannelOp
{
    public const int BindInterdomain = 0;
    public const int BindVirq = 1;
    public const int BindPirq = 2;
    public const int Close = 3;
    public const int Send = 4;
    public const int Status = 5;
    public const int AllocUnbound = 6;
    public const int BindIpi = 7;
    public const int BindVcpu = 8;
    public const int Unmask = 9;
    public const int Reset = 10;
    public const int InitControl = 11;
    public const int ExpandArray = 12;
    public const int SetPriority = 13;
    public const int ResetCont = 14;
}

/// <summary>EVTCHNSTAT_*: what EVTCHNOP_status reports about a port.</summary>
public static class EventChannelStatus
{
    public const uint Closed = 0;
    public const uint Unbound = 1;
    public const uint Interdomain = 2;
    public const uint Pirq = 3;
    public const uint Virq = 4;
    public const uint Ipi = 5;
}

/// <summary>The FIFO event-channel ABI's constants (event_channel.h).</summary>
public static class FifoEvent
{
    public const int PriorityMax = 0;
    public const int PriorityDefault = 7;
    public const int PriorityMin = 15;
    public const int Queues = PriorityMin + 1;

    /// <summary>Bits of an event_word_t.</summary>
    public const uint Pending = 1u << 31, Masked = 1u << 30, Linked = 1u << 29, Busy = 1u << 28;
    public const int LinkBits = 17;
    public const uint LinkMask = (1u << LinkBits) - 1;
    /// <summary>EVTCHN_FIFO_NR_CHANNELS.</summary>
    public const int MaxChannels = 1 << LinkBits;

    /// <summary>struct evtchn_fifo_control_block { u32 ready; u32 _rsvd; u32 head[16]; }.</summary>
    public const int ControlBlockSize = 8 + 4 * Queues;
    public const int ControlBlockHeadOffset = 8;
}

/// <summary>Virtual IRQs (VIRQ_* in xen.h). "V" ones are per vCPU, the rest global (bound on one vCPU).</summary>
public static class Virq
{
    /// <summary>V: timebase update and/or the singleshot/periodic timer's timeout.</summary>
    public const int Timer = 0;
    /// <summary>V: request to dump debug info (xl debug-keys).</summary>
    public const int Debug = 1;
    public const int Console = 2;
    public const int DomExc = 3;
    public const int Tbuf = 4;
    public const int Debugger = 6;
    /// <summary>V.</summary>
    public const int Xenoprof = 7;
    public const int ConRing = 8;
    public const int PcpuState = 9;
    public const int MemEvent = 10;
    public const int Argo = 11;
    public const int Enomem = 12;
    /// <summary>V.</summary>
    public const int Xenpmu = 13;
    public const int Count = 24;

    /// <summary>Whether a VIRQ is bound per vCPU (any vCPU) rather than once per domain (vCPU 0 at bind, movable with bind_vcpu).</summary>
    public static bool IsPerVcpu(int virq) => virq is Timer or Debug or Xenoprof or Xenpmu;

    /// <summary>
    /// Whether a VIRQ is global: raised for the whole host and bindable only by its handler
    /// domain (the hardware domain by default) — everything but the per-vCPU ones and
    /// VIRQ_ARGO, which is per domain (Xen's get_virq_type).
    /// </summary>
    public static bool IsGlobal(int virq) => !IsPerVcpu(virq) && virq != Argo;
}
