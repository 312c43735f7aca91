using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// A domain's event-channel ports and what each is bound to — the state machine of Xen's
/// event_channel.c, per port:
/// <code>
///   Free ──alloc_unbound(remote)──▶ Unbound ──peer's bind_interdomain──▶ Interdomain ◀──▶ peer port
///   Free ──bind_virq / bind_ipi──▶ Virq / Ipi        Free ──(toolstack)──▶ Host (a backend in the host)
///   Unbound(remote 0) ──a host backend binds it──▶ HostPeer ──backend unbinds──▶ Unbound(remote 0)
///   any guest-bound state ──close──▶ Free;  closing one end of an interdomain pair leaves the
///   other end Unbound (awaiting the same domain again), as in Xen.
/// </code>
/// Ports are 1..Capacity-1 (port 0 is never valid), further limited by what the domain's event
/// ABI can address (<see cref="IEventChannelAbi.PortLimit"/>). Each port notifies one vCPU
/// (bind_vcpu moves it); raising a port marks it pending through the domain's current ABI.
/// Locking: each table has one lock; operations on an interdomain pair take both tables' locks
/// in domain-id order; a send to a peer enters the peer's memory section so the peer cannot be
/// torn down under it. Sends and VIRQs allocate nothing.
/// </summary>
public sealed class EventChannelTable
{
    private enum PortState : byte { Free, Unbound, Interdomain, Virq, Ipi, Host, HostPeer }

    private struct Port
    {
        public PortState State;
        public int NotifyVcpu;
        public int Virq;
        /// <summary>Unbound: the domain allowed to bind. Interdomain: the peer's id.</summary>
        public int RemoteDomainId;
        /// <summary>Interdomain: the peer domain and its port.</summary>
        public Domain? Remote;
        public int RemotePort;
        public Action? Host;
    }

    /// <summary>Xen's default for max_event_channels (libxl): ports 1..1023.</summary>
    public const int DefaultMaxEventChannels = 1023;

    private readonly Domain _domain;
    private readonly object _lock = new();
    private Port[] _ports;
    /// <summary>Per vCPU, per VIRQ: the bound port or 0 (global VIRQs use vCPU 0's row).</summary>
    private readonly int[] _virqPorts;

    public EventChannelTable(Domain domain, int maxEventChannels = DefaultMaxEventChannels)
    {
        _domain = domain;
        _ports = new Port[maxEventChannels + 1];
        _virqPorts = new int[Math.Max(1, domain.Vcpus.Count) * Virq.Count];
    }

    /// <summary>
    /// max_event_channels: the highest port number the domain may use. Set by the toolstack
    /// before the domain starts (xl.cfg); cannot drop below a port in use.
    /// </summary>
    public int MaxEventChannels
    {
        get { lock (_lock) return _ports.Length - 1; }
        set
        {
            if (value < 1 || value >= FifoEvent.MaxChannels)
                throw new ArgumentOutOfRangeException(nameof(value), $"max_event_channels must be 1..{FifoEvent.MaxChannels - 1}");
            lock (_lock)
            {
                for (int p = value + 1; p < _ports.Length; p++)
                    if (_ports[p].State != PortState.Free)
                        throw new InvalidOperationException($"port {p} is in use");
                Array.Resize(ref _ports, value + 1);
            }
        }
    }

    /// <summary>Number of port numbers (0..Capacity-1); kept for callers that size things by it.</summary>
    public int Capacity => MaxEventChannels + 1;

    private int Limit => Math.Min(_ports.Length, _domain.EventAbi.PortLimit);

    private bool Valid(uint port) => port != 0 && port < (uint)Limit;

    /// <summary>No free port lies below this one (so binding many ports is not quadratic).</summary>
    private int _freeHint = 1;

    /// <summary>Lowest free port, or -ENOSPC. Caller holds the lock.</summary>
    private int FindFree()
    {
        int limit = Limit;
        for (int port = _freeHint; port < limit; port++)
        {
            if (_ports[port].State != PortState.Free) continue;
            _freeHint = port;
            return port;
        }
        return -XenErrno.ENOSPC;
    }

    /// <summary>Binds the lowest free port as <paramref name="binding"/>, starting not pending; -ENOSPC when full. Caller holds the lock.</summary>
    private int AllocateLocked(in Port binding)
    {
        int port = FindFree();
        if (port < 0) return port;
        _ports[port] = binding;
        _domain.EventAbi.ClearPending(port);
        return port;
    }

    // ------------------------------------------------------------------ toolstack side

    /// <summary>Allocates a port whose sends are handled by <paramref name="handler"/> in the host.</summary>
    public int BindToHost(Action handler)
    {
        lock (_lock)
        {
            int port = FindFree();
            if (port < 0) throw new InvalidOperationException("no free event channel port");
            _ports[port] = new Port { State = PortState.Host, Host = handler };
            return port;
        }
    }

    /// <summary>Replaces the handler of a host-bound port.</summary>
    public void SetHostHandler(int port, Action handler)
    {
        lock (_lock) _ports[port].Host = handler;
    }

    /// <summary>
    /// A backend in the host binds, as domain <paramref name="hostDomainId"/> (0), the port the
    /// guest allocated for it with alloc_unbound — what bind_interdomain from dom0 does in Xen
    /// (a split driver's frontend offers the port in XenStore, e.g. a vbd's event-channel node).
    /// The port must be Unbound and offered to that domain (else -EINVAL). Afterwards the guest's
    /// sends run <paramref name="handler"/> and <see cref="NotifyHostPeer"/> raises the port. The
    /// guest still owns it: it may close it (the backend's notifications then go nowhere) and
    /// EVTCHNOP_status shows an interdomain channel to that domain. Like Xen's bind_interdomain,
    /// the port is marked pending at once.
    /// </summary>
    public int BindUnboundToHost(uint port, int hostDomainId, Action handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        lock (_lock)
        {
            if (!Valid(port)) return -XenErrno.EINVAL;
            ref var p = ref _ports[port];
            if (p.State != PortState.Unbound || p.RemoteDomainId != hostDomainId) return -XenErrno.EINVAL;
            p.State = PortState.HostPeer;
            p.Host = handler;
        }
        NotifyHostPeer(port, handler);
        return 0;
    }

    /// <summary>
    /// The host backend closes its end of a port bound with <see cref="BindUnboundToHost"/>: if the
    /// port is still bound to <paramref name="handler"/> it becomes Unbound again, offered to the
    /// same domain (as the guest's end of an interdomain channel does when the peer closes).
    /// </summary>
    public void UnbindHost(uint port, Action handler)
    {
        lock (_lock)
        {
            if (!Valid(port)) return;
            ref var p = ref _ports[port];
            if (p.State != PortState.HostPeer || !ReferenceEquals(p.Host, handler)) return;
            p.State = PortState.Unbound;
            p.Host = null;
        }
    }

    /// <summary>
    /// A host backend notifies the guest on a port bound with <see cref="BindUnboundToHost"/>; nothing
    /// happens (false) when the guest closed or rebound the port since, or the domain is going away.
    /// Allocates nothing.
    /// </summary>
    public bool NotifyHostPeer(uint port, Action handler)
    {
        if (!_domain.TryEnterMemory()) return false;
        try
        {
            lock (_lock)
            {
                if (!Valid(port)) return false;
                ref var p = ref _ports[port];
                if (p.State != PortState.HostPeer || !ReferenceEquals(p.Host, handler)) return false;
                RaiseLocked(port);
                return true;
            }
        }
        finally
        {
            _domain.ExitMemory();
        }
    }

    /// <summary>A host backend notifies the guest on its host-bound port (the guest sees it pending).</summary>
    public void NotifyFromHost(int port)
    {
        if (!_domain.TryEnterMemory()) return;
        try { Raise((uint)port); }
        finally { _domain.ExitMemory(); }
    }

    // ------------------------------------------------------------------ guest operations

    /// <summary>EVTCHNOP_alloc_unbound: a port that domain <paramref name="remoteDomainId"/> may bind to.</summary>
    public int AllocUnbound(int remoteDomainId)
    {
        lock (_lock) return AllocateLocked(new Port { State = PortState.Unbound, RemoteDomainId = remoteDomainId });
    }

    /// <summary>
    /// EVTCHNOP_bind_interdomain: connects a new local port to <paramref name="remote"/>'s port
    /// <paramref name="remotePort"/>, which must be Unbound and offered to this domain (else
    /// -EINVAL). The new local port is marked pending at once, because notifications sent
    /// before the peer bound were dropped (Xen does the same).
    /// </summary>
    public int BindInterdomain(Domain remote, uint remotePort)
    {
        int local;
        var first = _domain.Id <= remote.Id ? this : remote.EventChannels;
        var second = first == this ? remote.EventChannels : this;
        lock (first._lock)
        lock (second._lock)
        {
            var rt = remote.EventChannels;
            if (!rt.Valid(remotePort)) return -XenErrno.EINVAL;
            ref var rp = ref rt._ports[remotePort];
            if (rp.State != PortState.Unbound || rp.RemoteDomainId != _domain.Id) return -XenErrno.EINVAL;
            local = AllocateLocked(new Port { State = PortState.Interdomain, Remote = remote, RemoteDomainId = remote.Id, RemotePort = (int)remotePort });
            if (local < 0) return local;
            // Same-domain loopback: the remote slot may be the one just written; re-take the ref.
            ref var rp2 = ref rt._ports[remotePort];
            rp2.State = PortState.Interdomain;
            rp2.Remote = _domain;
            rp2.RemoteDomainId = _domain.Id;
            rp2.RemotePort = local;
            RaiseLocked((uint)local);
        }
        return local;
    }

    /// <summary>
    /// EVTCHNOP_bind_virq, in Xen's order of checks: per-vCPU VIRQs (TIMER, DEBUG, …) bind on any
    /// vCPU, the others only on vCPU 0 (-EINVAL); a missing vCPU is -ENOENT; global VIRQs
    /// (CONSOLE, DOM_EXC, …) belong to the hardware domain, which a guest here never is
    /// (-EBUSY); a VIRQ already bound there gives -EEXIST.
    /// </summary>
    public int BindVirq(int virq, int vcpu)
    {
        if ((uint)virq >= Virq.Count) return -XenErrno.EINVAL;
        if (!Virq.IsPerVcpu(virq) && vcpu != 0) return -XenErrno.EINVAL;
        if ((uint)vcpu >= (uint)_domain.Vcpus.Count) return -XenErrno.ENOENT;
        if (Virq.IsGlobal(virq)) return -XenErrno.EBUSY;
        lock (_lock)
        {
            ref int slot = ref _virqPorts[vcpu * Virq.Count + virq];
            if (slot != 0) return -XenErrno.EEXIST;
            int port = AllocateLocked(new Port { State = PortState.Virq, NotifyVcpu = vcpu, Virq = virq });
            if (port > 0) slot = port;
            return port;
        }
    }

    /// <summary>EVTCHNOP_bind_ipi: a port that notifies vCPU <paramref name="vcpu"/> of this domain.</summary>
    public int BindIpi(int vcpu)
    {
        if ((uint)vcpu >= (uint)_domain.Vcpus.Count) return -XenErrno.ENOENT;
        lock (_lock) return AllocateLocked(new Port { State = PortState.Ipi, NotifyVcpu = vcpu });
    }

    /// <summary>
    /// EVTCHNOP_bind_vcpu: the port notifies <paramref name="vcpu"/> from now on. Allowed for
    /// unbound, interdomain and global-VIRQ ports; per-vCPU VIRQs and IPIs are tied to their
    /// vCPU (-EINVAL), as are host-bound ports.
    /// </summary>
    public int BindVcpu(uint port, int vcpu)
    {
        if ((uint)vcpu >= (uint)_domain.Vcpus.Count) return -XenErrno.ENOENT;
        lock (_lock)
        {
            if (!Valid(port)) return -XenErrno.EINVAL;
            ref var p = ref _ports[port];
            switch (p.State)
            {
                case PortState.Unbound:
                case PortState.Interdomain:
                case PortState.HostPeer:
                    break;
                case PortState.Virq when !Virq.IsPerVcpu(p.Virq):
                    break;
                default:
                    return -XenErrno.EINVAL;
            }
            p.NotifyVcpu = vcpu;
            return 0;
        }
    }

    /// <summary>
    /// EVTCHNOP_send: interdomain → the peer's port becomes pending; IPI → this domain's port;
    /// unbound → dropped silently (Xen); host-bound → the backend runs. Anything else -EINVAL.
    /// </summary>
    public int Send(uint port)
    {
        Domain? remote;
        int remotePort;
        Action? host;
        lock (_lock)
        {
            if (!Valid(port)) return -XenErrno.EINVAL;
            ref var p = ref _ports[port];
            switch (p.State)
            {
                case PortState.Ipi:
                    RaiseLocked(port);
                    return 0;
                case PortState.Unbound:
                    return 0;
                case PortState.Host:
                case PortState.HostPeer:
                    host = p.Host;
                    remote = null;
                    remotePort = 0;
                    break;
                case PortState.Interdomain:
                    remote = p.Remote;
                    remotePort = p.RemotePort;
                    host = null;
                    break;
                default:
                    return -XenErrno.EINVAL;
            }
        }
        if (host is not null)
        {
            host();
            return 0;
        }
        if (remote is null || remote == _domain)
        {
            if (remote == _domain) Raise((uint)remotePort);
            return 0;
        }
        if (!remote.TryEnterMemory()) return 0; // the peer is going away: the event is lost with it
        try
        {
            remote.EventChannels.RaiseFrom(_domain, (uint)remotePort, (int)port);
        }
        finally
        {
            remote.ExitMemory();
        }
        return 0;
    }

    /// <summary>Raises <paramref name="port"/> if it is still connected to <paramref name="peer"/>'s <paramref name="peerPort"/>.</summary>
    private void RaiseFrom(Domain peer, uint port, int peerPort)
    {
        lock (_lock)
        {
            if (!Valid(port)) return;
            ref var p = ref _ports[port];
            if (p.State != PortState.Interdomain || p.Remote != peer || p.RemotePort != peerPort) return;
            RaiseLocked(port);
        }
    }

    /// <summary>Marks a port pending for its vCPU through the domain's ABI and wakes pollers.</summary>
    private void Raise(uint port)
    {
        lock (_lock)
            if (Valid(port) && _ports[port].State != PortState.Free) RaiseLocked(port);
    }

    private void RaiseLocked(uint port)
    {
        _domain.EventAbi.SetPending((int)port, _ports[port].NotifyVcpu);
        _domain.WakePollers();
    }

    /// <summary>The hypervisor raises a VIRQ (timer, debug keys…): nothing happens if the guest did not bind it.</summary>
    public void RaiseVirq(int virq, int vcpu)
    {
        if ((uint)virq >= Virq.Count) return;
        if (!Virq.IsPerVcpu(virq)) vcpu = 0;
        if ((uint)vcpu >= (uint)_domain.Vcpus.Count) return;
        lock (_lock)
        {
            int port = _virqPorts[vcpu * Virq.Count + virq];
            if (port != 0) RaiseLocked((uint)port);
        }
    }

    /// <summary>The port bound to <paramref name="virq"/> of <paramref name="vcpu"/>, 0 if none.</summary>
    public int VirqPort(int virq, int vcpu)
    {
        if ((uint)virq >= Virq.Count) return 0;
        if (!Virq.IsPerVcpu(virq)) vcpu = 0;
        if ((uint)vcpu >= (uint)_domain.Vcpus.Count) return 0;
        lock (_lock) return _virqPorts[vcpu * Virq.Count + virq];
    }

    /// <summary>
    /// EVTCHNOP_unmask: clears the port's mask; if it is pending its vCPU is notified. -EINVAL for
    /// a port outside the table.
    /// </summary>
    public int Unmask(uint port)
    {
        lock (_lock)
        {
            if (!Valid(port)) return -XenErrno.EINVAL;
            _domain.EventAbi.Unmask((int)port, _ports[port].NotifyVcpu);
        }
        _domain.WakePollers();
        return 0;
    }

    /// <summary>
    /// Whether <paramref name="port"/> is a port number of this domain (Xen's port_is_valid:
    /// below the limit, port 0 included — it is reserved and never pending). SCHEDOP_poll and
    /// set_priority answer -EINVAL otherwise.
    /// </summary>
    public bool IsValidPort(uint port)
    {
        lock (_lock) return port < (uint)Limit;
    }

    /// <summary>Whether the port is pending in the domain's current ABI.</summary>
    public bool IsPending(uint port) => port < (uint)FifoEvent.MaxChannels && _domain.EventAbi.IsPending((int)port);

    /// <summary>The vCPU a port notifies, or -1 for free ports.</summary>
    public int NotifyVcpu(uint port)
    {
        lock (_lock)
            return Valid(port) && _ports[port].State != PortState.Free ? _ports[port].NotifyVcpu : -1;
    }

    /// <summary>Whether the port is in use.</summary>
    public bool IsBound(uint port)
    {
        lock (_lock) return Valid(port) && _ports[port].State != PortState.Free;
    }

    /// <summary>The VIRQ a port is bound to, or -1 when it is not a VIRQ port.</summary>
    public int VirqOf(uint port)
    {
        lock (_lock)
            return Valid(port) && _ports[port].State == PortState.Virq ? _ports[port].Virq : -1;
    }

    /// <summary>What EVTCHNOP_status reports about a port.</summary>
    public readonly record struct PortStatus(uint Status, int Vcpu, int RemoteDomainId, int RemotePort, int Virq);

    /// <summary>
    /// EVTCHNOP_status. Host-bound ports (console, XenStore) show as interdomain channels to
    /// domain 0, which is what they are in Xen. -EINVAL for a port outside the table.
    /// </summary>
    public int Status(uint port, out PortStatus status)
    {
        status = default;
        lock (_lock)
        {
            if (!Valid(port)) return -XenErrno.EINVAL;
            var p = _ports[port];
            status = p.State switch
            {
                PortState.Free => new PortStatus(EventChannelStatus.Closed, 0, 0, 0, 0),
                PortState.Unbound => new PortStatus(EventChannelStatus.Unbound, p.NotifyVcpu, p.RemoteDomainId, 0, 0),
                PortState.Interdomain => new PortStatus(EventChannelStatus.Interdomain, p.NotifyVcpu, p.RemoteDomainId, p.RemotePort, 0),
                PortState.Host => new PortStatus(EventChannelStatus.Interdomain, p.NotifyVcpu, 0, (int)port, 0),
                PortState.HostPeer => new PortStatus(EventChannelStatus.Interdomain, p.NotifyVcpu, p.RemoteDomainId, (int)port, 0),
                PortState.Virq => new PortStatus(EventChannelStatus.Virq, p.NotifyVcpu, 0, 0, p.Virq),
                PortState.Ipi => new PortStatus(EventChannelStatus.Ipi, p.NotifyVcpu, 0, 0, 0),
                _ => default,
            };
            return 0;
        }
    }

    /// <summary>
    /// EVTCHNOP_close: frees a guest-bound port (its pending bit is cleared; an interdomain
    /// peer's end becomes Unbound, awaiting this domain). Host-bound ports belong to the
    /// toolstack (-EINVAL), as do free ones; ports a host backend bound with BindUnboundToHost
    /// are the guest's own and close like any other.
    /// </summary>
    public int Close(uint port)
    {
        Domain? remote;
        lock (_lock)
        {
            if (!Valid(port)) return -XenErrno.EINVAL;
            var state = _ports[port].State;
            if (state is PortState.Free or PortState.Host) return -XenErrno.EINVAL;
            remote = state == PortState.Interdomain ? _ports[port].Remote : null;
        }
        if (remote is null)
        {
            lock (_lock) FreeLocked(port);
            return 0;
        }
        var first = _domain.Id <= remote.Id ? this : remote.EventChannels;
        var second = first == this ? remote.EventChannels : this;
        lock (first._lock)
        lock (second._lock)
        {
            ref var p = ref _ports[port];
            if (p.State == PortState.Interdomain && p.Remote == remote)
                remote.EventChannels.Unbind((uint)p.RemotePort, _domain, (int)port);
            FreeLocked(port);
        }
        return 0;
    }

    /// <summary>The peer closed its end: our end waits for that domain again. Caller holds both locks.</summary>
    private void Unbind(uint port, Domain peer, int peerPort)
    {
        if (port >= (uint)_ports.Length) return;
        ref var p = ref _ports[port];
        if (p.State != PortState.Interdomain || p.Remote != peer || p.RemotePort != peerPort) return;
        p.State = PortState.Unbound;
        p.Remote = null;
        p.RemotePort = 0;
        p.RemoteDomainId = peer.Id;
    }

    private void FreeLocked(uint port)
    {
        ref var p = ref _ports[port];
        if (p.State == PortState.Virq)
        {
            int vcpu = Virq.IsPerVcpu(p.Virq) ? p.NotifyVcpu : 0;
            // A global VIRQ moved with bind_vcpu is still recorded in vCPU 0's row.
            for (int v = 0; v < _domain.Vcpus.Count; v++)
                if (_virqPorts[v * Virq.Count + p.Virq] == (int)port) _virqPorts[v * Virq.Count + p.Virq] = 0;
            _ = vcpu;
        }
        p = default;
        if ((int)port < _freeHint) _freeHint = (int)port;
        _domain.EventAbi.ClearPending((int)port);
        if (_domain.EventAbi is FifoEventChannels fifo) fifo.ResetPriority((int)port);
    }

    /// <summary>
    /// EVTCHNOP_reset: closes every guest-bound port (interdomain peers become unbound). Ports the
    /// toolstack bound to host backends (console, XenStore) stay, so the guest can reconnect.
    /// </summary>
    public void Reset()
    {
        for (uint port = 1; port < (uint)_ports.Length; port++)
        {
            bool guestBound;
            lock (_lock) guestBound = port < (uint)_ports.Length && _ports[port].State is not (PortState.Free or PortState.Host);
            if (guestBound) Close(port);
        }
    }

    /// <summary>The domain is being destroyed: every interdomain peer's end becomes unbound.</summary>
    public void CloseAll()
    {
        for (uint port = 1; port < (uint)_ports.Length; port++)
        {
            bool interdomain;
            lock (_lock) interdomain = port < (uint)_ports.Length && _ports[port].State == PortState.Interdomain;
            if (interdomain) Close(port);
        }
    }
    /// <summary>
    /// Debug dump (`xl debug-keys e`): one line per bound port — port, state, notified vCPU,
    /// the remote domain/port, VIRQ number or host backend, and the ABI's pending/masked bits.
    /// Read-only; the bits are read inside the domain's memory section.
    /// </summary>
    public void Dump(Action<string> line)
    {
        var bound = new List<(int Port, Port P)>();
        lock (_lock)
        {
            for (int port = 1; port < _ports.Length; port++)
                if (_ports[port].State != PortState.Free) bound.Add((port, _ports[port]));
        }
        string abi = _domain.EventAbi is FifoEventChannels ? "fifo" : "2-level";
        line($"d{_domain.Id}: event channels ({abi}, max {MaxEventChannels}): {bound.Count} bound");
        bool memory = _domain.TryEnterMemory();
        try
        {
            foreach (var (port, p) in bound)
            {
                string what = p.State switch
                {
                    PortState.Unbound => $"unbound remote=d{p.RemoteDomainId}",
                    PortState.Interdomain => $"interdomain remote=d{p.RemoteDomainId}/p{p.RemotePort}",
                    PortState.Virq => $"virq {p.Virq}",
                    PortState.Ipi => "ipi",
                    PortState.Host => "interdomain remote=d0 (host backend)",
                    PortState.HostPeer => $"interdomain remote=d{p.RemoteDomainId} (host backend, guest-allocated)",
                    _ => p.State.ToString().ToLowerInvariant(),
                };
                string bits = memory && port < FifoEvent.MaxChannels
                    ? $"pending={(_domain.EventAbi.IsPending(port) ? 1 : 0)} masked={(_domain.EventAbi.IsMasked(port) ? 1 : 0)}"
                    : "pending=? masked=?";
                line($"    port {port,4}: {what} vcpu={p.NotifyVcpu} {bits}");
            }
        }
        finally
        {
            if (memory) _domain.ExitMemory();
        }
    }
}
