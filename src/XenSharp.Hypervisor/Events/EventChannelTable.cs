using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// A domain's event-channel ports. Ports are small integers from 1 (port 0 is never valid,
/// as in Xen). A port is free, bound to a backend inside the host (console and XenStore rings:
/// a send runs the backend), or bound as an IPI to one of the domain's vCPUs (a send marks
/// the port pending for that vCPU through the 2-level ABI, <see cref="TwoLevelEventChannels"/>).
/// VIRQ ports (VIRQ_TIMER so far) are raised by the hypervisor for one vCPU. Interdomain
/// channels and the FIFO ABI come with the event-channel work.
/// </summary>
public sealed class EventChannelTable
{
    private enum PortState : byte { Free, Host, Ipi, Virq }

    private struct Port
    {
        public PortState State;
        public int Vcpu;
        public int Virq;
        public Action? Host;
    }

    private readonly Port[] _ports;

    public EventChannelTable(int maxPorts = 1024) => _ports = new Port[maxPorts];

    /// <summary>Number of ports the domain may use.</summary>
    public int Capacity => _ports.Length;

    private int Allocate(PortState state, int vcpu, Action? host)
    {
        lock (_ports)
        {
            for (int port = 1; port < _ports.Length; port++)
            {
                if (_ports[port].State != PortState.Free) continue;
                _ports[port] = new Port { State = state, Vcpu = vcpu, Host = host };
                return port;
            }
        }
        return -XenErrno.ENOSPC;
    }

    /// <summary>Allocates a port whose sends are handled by <paramref name="handler"/> in the host.</summary>
    public int BindToHost(Action handler)
    {
        int port = Allocate(PortState.Host, 0, handler);
        if (port < 0) throw new InvalidOperationException("no free event channel port");
        return port;
    }

    /// <summary>Replaces the handler of a host-bound port.</summary>
    public void SetHostHandler(int port, Action handler)
    {
        lock (_ports) _ports[port].Host = handler;
    }

    /// <summary>EVTCHNOP_bind_ipi: a port that notifies vCPU <paramref name="vcpu"/> of this domain.</summary>
    public int BindIpi(int vcpu) => Allocate(PortState.Ipi, vcpu, null);

    /// <summary>EVTCHNOP_bind_virq: a port that virtual IRQ <paramref name="virq"/> of vCPU <paramref name="vcpu"/> raises.</summary>
    public int BindVirq(int virq, int vcpu)
    {
        int port = Allocate(PortState.Virq, vcpu, null);
        if (port > 0)
            lock (_ports) _ports[port].Virq = virq;
        return port;
    }

    /// <summary>The VIRQ a port is bound to, or -1 when it is not a VIRQ port.</summary>
    public int VirqOf(uint port)
    {
        lock (_ports)
            return port < (uint)_ports.Length && _ports[port].State == PortState.Virq ? _ports[port].Virq : -1;
    }

    /// <summary>
    /// EVTCHNOP_send: runs a host backend, or marks an IPI port pending for its vCPU in
    /// <paramref name="domain"/>'s shared_info. -EINVAL for a port that is not bound.
    /// </summary>
    public int Send(uint port, Domains.Domain? domain = null)
    {
        Port p;
        lock (_ports)
        {
            if (port == 0 || port >= (uint)_ports.Length) return -XenErrno.EINVAL;
            p = _ports[port];
        }
        switch (p.State)
        {
            case PortState.Host:
                p.Host?.Invoke();
                return 0;
            case PortState.Ipi:
                if (domain is not null) TwoLevelEventChannels.SetPending(domain, (int)port, p.Vcpu);
                return 0;
            default:
                return -XenErrno.EINVAL;
        }
    }

    /// <summary>The vCPU a guest-bound port notifies, or -1 for host-bound and free ports.</summary>
    public int NotifyVcpu(uint port)
    {
        lock (_ports)
            return port < (uint)_ports.Length && _ports[port].State is PortState.Ipi or PortState.Virq ? _ports[port].Vcpu : -1;
    }

    /// <summary>Whether the port is in use.</summary>
    public bool IsBound(uint port)
    {
        lock (_ports) return port != 0 && port < (uint)_ports.Length && _ports[port].State != PortState.Free;
    }

    /// <summary>EVTCHNOP_close: frees a guest-bound port; host-bound ports belong to the toolstack (-EINVAL).</summary>
    public int Close(uint port)
    {
        lock (_ports)
        {
            if (port == 0 || port >= (uint)_ports.Length || _ports[port].State == PortState.Free) return -XenErrno.EINVAL;
            if (_ports[port].State == PortState.Host) return -XenErrno.EINVAL;
            _ports[port] = default;
            return 0;
        }
    }
}
