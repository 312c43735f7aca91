namespace XenSharp.Hypervisor.Events;

/// <summary>
/// How a domain's pending and masked event bits are kept in its memory: the 2-level ABI
/// (bitmaps in shared_info, <see cref="TwoLevelEventChannels"/>) until the guest switches to
/// the FIFO ABI with EVTCHNOP_init_control (<see cref="FifoEventChannels"/>).
/// <see cref="EventChannelTable"/> decides which port is bound to what and which vCPU it
/// notifies; the ABI only marks, tests and clears the port's bits and raises the upcall
/// (evtchn_upcall_pending in the vCPU's vcpu_info, then <see cref="Domains.Vcpu.NotifyEvent"/>).
/// Every method is safe against a guest changing the same words at the same time (atomic
/// read-modify-writes) and against bad guest state (pages outside RAM: nothing happens).
/// Nothing here allocates: these run on the event path.
/// </summary>
public interface IEventChannelAbi
{
    /// <summary>Ports 0..PortLimit-1 are addressable now (2-level: 1024 or 4096; FIFO: as far as the event array reaches).</summary>
    int PortLimit { get; }

    /// <summary>Marks <paramref name="port"/> pending, and when it is not masked notifies vCPU <paramref name="vcpu"/>.</summary>
    void SetPending(int port, int vcpu);

    /// <summary>Clears the port's pending bit (EVTCHNOP_close, reset).</summary>
    void ClearPending(int port);

    bool IsPending(int port);

    bool IsMasked(int port);

    /// <summary>EVTCHNOP_unmask: clears the mask and, if the port is pending, notifies <paramref name="vcpu"/>.</summary>
    void Unmask(int port, int vcpu);
}
