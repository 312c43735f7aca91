using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Events;

/// <summary>
/// A domain's event-channel ports. This first cut binds ports only to backends inside the
/// host (the console and XenStore rings' channels): EVTCHNOP_send on such a port calls the
/// backend. Ports are small integers from 1; port 0 is never valid, as in Xen.
/// </summary>
public sealed class EventChannelTable
{
    private readonly Action?[] _hostHandlers;

    public EventChannelTable(int maxPorts = 64) => _hostHandlers = new Action?[maxPorts];

    /// <summary>Allocates a port whose sends are handled by <paramref name="handler"/> in the host.</summary>
    public int BindToHost(Action handler)
    {
        lock (_hostHandlers)
        {
            for (int port = 1; port < _hostHandlers.Length; port++)
            {
                if (_hostHandlers[port] is null)
                {
                    _hostHandlers[port] = handler;
                    return port;
                }
            }
        }
        throw new InvalidOperationException("no free event channel port");
    }

    /// <summary>Replaces the handler of a host-bound port (the backend attaches after the port was reserved).</summary>
    public void SetHostHandler(int port, Action handler)
    {
        lock (_hostHandlers) _hostHandlers[port] = handler;
    }

    /// <summary>EVTCHNOP_send from the guest: 0, or -EINVAL for a port that is not bound.</summary>
    public int Send(uint port)
    {
        Action? handler = port < (uint)_hostHandlers.Length ? _hostHandlers[port] : null;
        if (handler is null) return -XenErrno.EINVAL;
        handler();
        return 0;
    }
}
