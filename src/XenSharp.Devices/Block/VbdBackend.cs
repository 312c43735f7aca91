using System.Globalization;
using XenSharp.Abi.Block;
using XenSharp.Abi.Hypercalls;
using XenSharp.Abi.Xenbus;
using XenSharp.Devices.Xenbus;
using XenSharp.Hypervisor.Domains;
using XenSharp.XenStore;

namespace XenSharp.Devices.Block;

/// <summary>
/// One virtual block device's backend (Linux's xen-blkback for one vbd): the xenbus side
/// driven by a XenStore watch on the frontend's <c>state</c>, and a thread that serves the ring.
/// <see cref="Start"/> publishes the features and device properties in the backend directory
/// (feature-flush-cache, feature-barrier, feature-discard and discard-*, feature-persistent = 0,
/// feature-max-indirect-segments, max-ring-page-order, sectors, sector-size, info) and switches
/// to InitWait. When the frontend reaches Initialised (or Connected) the backend reads
/// ring-ref or ring-page-order + ring-refN, event-channel and protocol (x86_32-abi, x86_64-abi,
/// absent = native 64-bit), maps the ring, binds the guest's unbound port from the host side
/// (<see cref="XenSharp.Hypervisor.Events.EventChannelTable.BindUnboundToHost"/>) and goes
/// Connected; bad parameters give Closing with the reason in the log. Frontend Closing/Closed
/// disconnects (ring unmapped, port given back) and the backend follows. All XenStore and
/// ring work happens on the device's own thread, woken by the watch and by the guest's
/// event-channel sends — never on a vCPU thread. <see cref="Dispose"/> (hot-unplug, domain
/// destroy) stops the thread and unmaps everything; the caller then removes the nodes, before
/// the domain's memory goes.
/// </summary>
public sealed class VbdBackend : IDisposable
{
    private readonly Xenstored _xs;
    private readonly Domain _domain;
    private readonly BlockBackend _backend;
    private readonly AutoResetEvent _wake = new(false);
    private readonly Action _kick;
    private readonly Thread _thread;
    private IDisposable? _watch;
    private BlkifRing? _ring;
    private uint _port;
    private int _frontendChanged;
    private int _kicked;
    private volatile bool _stopping;
    private int _disposed;
    private XenbusState _state = XenbusState.Initialising;

    public VbdBackend(Xenstored xenstored, Domain frontendDomain, int deviceId, string backendPath, string frontendPath,
                      RawImage image, BlockBackendFeatures? features = null)
    {
        _xs = xenstored ?? throw new ArgumentNullException(nameof(xenstored));
        _domain = frontendDomain ?? throw new ArgumentNullException(nameof(frontendDomain));
        DeviceId = deviceId;
        BackendPath = backendPath;
        FrontendPath = frontendPath;
        _backend = new BlockBackend(image, frontendDomain.Grants, features) { Log = m => Log?.Invoke($"{Name}: {m}") };
        _kick = () =>
        {
            Volatile.Write(ref _kicked, 1);
            _wake.Set();
        };
        _thread = new Thread(Run) { IsBackground = true, Name = $"blkback.{frontendDomain.Id}.{deviceId}" };
    }

    public int DeviceId { get; }
    public string BackendPath { get; }
    public string FrontendPath { get; }
    public RawImage Image => _backend.Image;
    public BlockBackend Requests => _backend;
    /// <summary>"vbd dD/N" for messages.</summary>
    public string Name => $"vbd d{_domain.Id}/{DeviceId}";

    /// <summary>Diagnostics (connect, disconnect, refused requests); runs on the device thread.</summary>
    public Action<string>? Log { get; set; }

    /// <summary>Raised on the device thread after the backend state node changed.</summary>
    public event Action<XenbusState>? StateChanged;

    /// <summary>The backend's xenbus state.</summary>
    public XenbusState State => _state;

    /// <summary>The connected ring's layout, or null.</summary>
    public BlkifAbi? Protocol => _ring?.Abi;
    /// <summary>Pages of the connected ring (0 when not connected).</summary>
    public int RingPages => _ring?.PageCount ?? 0;

    /// <summary>Publishes the backend's features, goes to InitWait and starts serving.</summary>
    public void Start()
    {
        Publish();
        SetState(XenbusState.InitWait);
        _thread.Start();
        _watch = _xs.WatchFromHost($"{FrontendPath}/state", _ =>
        {
            Volatile.Write(ref _frontendChanged, 1);
            _wake.Set();
        });
    }

    private void Publish()
    {
        var f = _backend.Features;
        var image = _backend.Image;
        Write("feature-flush-cache", "1");
        Write("feature-barrier", "1");
        Write("feature-persistent", "0");
        bool discard = _backend.DiscardOffered;
        Write("feature-discard", discard ? "1" : "0");
        if (discard)
        {
            Write("discard-granularity", Num(BlkifOp.SectorSize));
            Write("discard-alignment", "0");
            Write("discard-secure", "0");
        }
        if (f.MaxIndirectSegments > 0) Write("feature-max-indirect-segments", Num(f.MaxIndirectSegments));
        Write("max-ring-page-order", Num(f.MaxRingPageOrder));
        Write("sectors", image.Sectors.ToString(CultureInfo.InvariantCulture));
        Write("sector-size", Num(BlkifOp.SectorSize));
        Write("physical-sector-size", Num(BlkifOp.SectorSize));
        uint info = image.ReadOnly ? VdiskInfo.ReadOnly : 0;
        if (_xs.Read($"{BackendPath}/device-type") == "cdrom") info |= VdiskInfo.Cdrom | VdiskInfo.Removable;
        Write("info", info.ToString(CultureInfo.InvariantCulture));
    }

    private void Run()
    {
        while (true)
        {
            _wake.WaitOne();
            if (_stopping) return;
            try
            {
                if (Interlocked.Exchange(ref _frontendChanged, 0) != 0) OnFrontendChanged();
                if (Interlocked.Exchange(ref _kicked, 0) != 0) Serve();
            }
            catch (Exception e)
            {
                // Nothing a guest writes may take the host down: report and carry on.
                Log?.Invoke($"{Name}: {e.GetType().Name}: {e.Message}");
            }
        }
    }

    private void Serve()
    {
        if (_ring is not { } ring || ring.IsBroken) return;
        if (_backend.ProcessRing(ring)) _domain.EventChannels.NotifyHostPeer(_port, _kick);
        if (ring.IsBroken) Log?.Invoke($"{Name}: the frontend overran the ring (req_prod too far ahead); no more requests are served");
    }

    private void OnFrontendChanged()
    {
        var frontend = XenbusBackendStateMachine.Parse(_xs.Read($"{FrontendPath}/state"));
        var t = XenbusBackendStateMachine.OnFrontendChanged(_state, frontend);
        switch (t.Action)
        {
            case XenbusBackendAction.Reinitialise:
                Publish();
                break;
            case XenbusBackendAction.Connect:
                Disconnect();
                if (Connect(out string? error))
                {
                    SetState(XenbusState.Connected);
                    Log?.Invoke($"{Name}: connected ({_ring!.Abi.Name}, {_ring.PageCount} ring page(s), {_ring.Size} entries, event channel {_port})");
                    Volatile.Write(ref _kicked, 1); // requests queued before the connection
                    Serve();
                }
                else
                {
                    Log?.Invoke($"{Name}: cannot connect: {error}");
                    SetState(XenbusState.Closing);
                }
                return;
            case XenbusBackendAction.Disconnect:
                Disconnect();
                break;
        }
        if (t.Next is { } next) SetState(next);
    }

    private bool Connect(out string? error)
    {
        error = null;
        var features = _backend.Features;
        string? protocol = _xs.Read($"{FrontendPath}/protocol");
        var abi = BlkifAbi.FromProtocol(protocol);
        if (abi is null)
        {
            error = $"unknown protocol \"{protocol}\" (accepted: {BlkifAbi.X86_32Name}, {BlkifAbi.X86_64Name})";
            return false;
        }
        int order = 0;
        string? orderText = _xs.Read($"{FrontendPath}/ring-page-order");
        if (orderText is not null)
        {
            if (!TryParseUInt(orderText, out uint o) || o > (uint)features.MaxRingPageOrder)
            {
                error = $"ring-page-order \"{orderText}\" (accepted: 0..{features.MaxRingPageOrder})";
                return false;
            }
            order = (int)o;
        }
        Span<uint> refs = stackalloc uint[1 << features.MaxRingPageOrder];
        refs = refs[..(1 << order)];
        for (int i = 0; i < refs.Length; i++)
        {
            string node = orderText is null ? "ring-ref" : $"ring-ref{i}";
            string? text = _xs.Read($"{FrontendPath}/{node}");
            if (!TryParseUInt(text, out refs[i]))
            {
                error = $"{node} \"{text}\" is not a grant reference";
                return false;
            }
        }
        string? portText = _xs.Read($"{FrontendPath}/event-channel");
        if (!TryParseUInt(portText, out uint port))
        {
            error = $"event-channel \"{portText}\" is not a port";
            return false;
        }
        short rc = BlkifRing.TryMap(_domain.Grants, features.BackendDomainId, refs, abi, out var ring);
        if (rc != GrantStatus.Okay)
        {
            error = $"cannot map the ring's grant(s) {string.Join(',', refs.ToArray())}: GNTST {rc}";
            return false;
        }
        int bound = _domain.EventChannels.BindUnboundToHost(port, features.BackendDomainId, _kick);
        if (bound != 0)
        {
            ring!.Dispose();
            error = $"event-channel {port} is not a port offered to domain {features.BackendDomainId} ({bound})";
            return false;
        }
        _ring = ring;
        _port = port;
        return true;
    }

    private void Disconnect()
    {
        if (_ring is null) return;
        _domain.EventChannels.UnbindHost(_port, _kick);
        _ring.Dispose();
        _ring = null;
        _port = 0;
        Log?.Invoke($"{Name}: disconnected");
    }

    private void SetState(XenbusState state)
    {
        _state = state;
        Write("state", XenbusBackendStateMachine.Format(state));
        StateChanged?.Invoke(state);
    }

    private void Write(string node, string value) => _xs.Write($"{BackendPath}/{node}", value);

    private static string Num(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static bool TryParseUInt(string? text, out uint value) =>
        uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    /// <summary>
    /// Hot-unplug: stops watching and serving, unmaps the ring and every grant, gives the
    /// event-channel port back and closes the image. The caller removes the device's nodes.
    /// Idempotent; call it before the domain's memory is released.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _watch?.Dispose();
        _stopping = true;
        _wake.Set();
        if (_thread.IsAlive && Thread.CurrentThread != _thread) _thread.Join();
        Disconnect();
        _state = XenbusState.Closed;
        _backend.Image.Dispose();
        // _wake stays undisposed: a guest's send that read the handler just before the unbind may still Set it.
    }
}
