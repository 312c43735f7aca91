using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Domains;
using XenSharp.Toolstack.Parameters;
using XenSharp.Scheduling;
using XenSharp.Scheduling.Pools;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// Serves the control protocol (<see cref="ControlProtocol"/>) on the daemon's Unix socket:
/// one task per connection, one request per line. A request's failure is a reply with the
/// error's one-line message; it never takes the daemon down.
/// </summary>
public sealed class ControlServer(DomainManager manager, HostInfo host, ParameterRegistry parameters, Action requestQuit)
{
    private XenHypervisor Hypervisor => manager.Hypervisor;

    public async Task ServeAsync(Socket listener, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(cancel);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            _ = Task.Run(() => HandleConnectionAsync(client, cancel));
        }
    }

    private async Task HandleConnectionAsync(Socket socket, CancellationToken cancel)
    {
        using var _ = socket;
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var writeLock = new SemaphoreSlim(1, 1);
        async Task Send(byte[] line)
        {
            await writeLock.WaitAsync();
            try { await stream.WriteAsync(line); }
            finally { writeLock.Release(); }
        }

        try
        {
            while (!cancel.IsCancellationRequested)
            {
                string? line = await reader.ReadLineAsync(cancel);
                if (line is null) return;
                JsonElement request;
                try
                {
                    request = JsonDocument.Parse(line).RootElement;
                }
                catch (JsonException e)
                {
                    await Send(JsonLine.Error($"bad request: {e.Message}"));
                    continue;
                }
                if (!request.TryGetProperty("v", out var v) || v.ValueKind != JsonValueKind.Number || v.GetInt32() != ControlProtocol.Version)
                {
                    await Send(JsonLine.Error($"unsupported protocol version (this daemon speaks version {ControlProtocol.Version}): restart the daemon with `xl daemon-stop`"));
                    continue;
                }
                string cmd = request.GetString("cmd") ?? "";
                try
                {
                    bool keepGoing = await HandleAsync(cmd, request, Send, reader.ReadLineAsync, cancel);
                    if (!keepGoing) return;
                }
                catch (Exception e) when (e is ToolstackException or XlConfigException or ParameterException)
                {
                    await Send(JsonLine.Error(e.Message));
                }
                catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    throw; // the client went away (e.g. `xl create -c` was killed): not an error of the daemon
                }
                catch (Exception e)
                {
                    Hypervisor.Log.Xen($"control: {cmd} failed: {e}");
                    await Send(JsonLine.Error($"{cmd}: internal error: {e.Message}"));
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Client went away.
        }
    }

    /// <summary>Runs one request; false ends the connection (after a console stream or quit).</summary>
    /// <remarks><paramref name="readLine"/> reads the connection's next line (console streams read the client's input with it).</remarks>
    private async Task<bool> HandleAsync(string cmd, JsonElement req, Func<byte[], Task> send,
        Func<CancellationToken, ValueTask<string?>> readLine, CancellationToken cancel)
    {
        switch (cmd)
        {
            case ControlProtocol.Ping:
                await send(JsonLine.Ok(w =>
                {
                    w.WriteNumber("pid", Environment.ProcessId);
                    w.WriteStartArray("features");
                    foreach (var f in ControlProtocol.Features) w.WriteStringValue(f);
                    w.WriteEndArray();
                }));
                return true;
            case ControlProtocol.Create:
                return await CreateAsync(req, send, readLine, cancel);
            case ControlProtocol.List:
            {
                bool withConfig = req.GetBool("long");
                await send(JsonLine.Ok(w => WriteDomainList(w, withConfig)));
                return true;
            }
            case ControlProtocol.VcpuList:
                await send(JsonLine.Ok(WriteVcpuList));
                return true;
            case ControlProtocol.Pause:
            {
                var d = FindOrThrow(req);
                manager.Pause(d);
                await send(JsonLine.Ok(w => w.WriteNumber("domid", d.Id)));
                return true;
            }
            case ControlProtocol.Rename:
            {
                var d = FindOrThrow(req);
                string newName = req.GetString("new_name") ?? throw new ToolstackException("rename: no new_name given");
                manager.Rename(d, newName);
                await send(JsonLine.Ok(w => { w.WriteNumber("domid", d.Id); w.WriteString("name", d.Name); }));
                return true;
            }
            case ControlProtocol.Destroy:
            {
                var d = FindOrThrow(req);
                manager.Destroy(d);
                await send(JsonLine.Ok(w => w.WriteNumber("domid", d.Id)));
                return true;
            }
            case ControlProtocol.Shutdown:
            {
                var d = FindOrThrow(req);
                string reason = req.GetString("reason") ?? "poweroff";
                if (reason is not ("poweroff" or "reboot"))
                    throw new ToolstackException($"shutdown: reason \"{reason}\" (accepted: poweroff, reboot)");
                var gone = new TaskCompletionSource<DomainEnd>(TaskCreationOptions.RunContinuationsAsynchronously);
                void OnEnded(ManagedDomain m, DomainEnd e) { if (m == d) gone.TrySetResult(e); }
                manager.DomainEnded += OnEnded;
                try
                {
                    manager.RequestShutdown(d, reason);
                    if (req.GetBool("wait"))
                    {
                        var end = await gone.Task.WaitAsync(cancel);
                        await send(JsonLine.Ok(w => { w.WriteNumber("domid", d.Id); w.WriteString("reason", end.Reason); }));
                    }
                    else await send(JsonLine.Ok(w => w.WriteNumber("domid", d.Id)));
                }
                finally
                {
                    manager.DomainEnded -= OnEnded;
                }
                return true;
            }
            case ControlProtocol.Unpause:
            {
                var d = FindOrThrow(req);
                manager.Unpause(d);
                await send(JsonLine.Ok(w => w.WriteNumber("domid", d.Id)));
                return true;
            }
            case ControlProtocol.Console:
            {
                var d = FindOrThrow(req);
                bool input = req.GetBool(ControlProtocol.InputField);
                string? type = req.GetString(ControlProtocol.ConsoleTypeField);
                var console = d.ConsoleOfType(type) ?? throw new ToolstackException(type is "pv" or "serial" or "vuart"
                    ? $"domain {d.Id} ({d.Name}) has no {type} console (an ARM guest gets the emulated SBSA UART with vuart = \"sbsa_uart\")"
                    : $"unknown console type '{type}' (accepted: pv, serial, vuart)");
                var subscription = ConsoleSubscription.Start(d.Id, console, () => d.End, Log);
                try
                {
                    await send(JsonLine.Ok(w =>
                    {
                        w.WriteNumber("domid", d.Id);
                        w.WriteString("name", d.Name);
                        if (input) w.WriteBoolean(ControlProtocol.InputField, true);
                    }));
                }
                catch
                {
                    subscription.Detach();
                    throw;
                }
                await subscription.RunAsync(send, readLine, input, cancel);
                return false;
            }
            case ControlProtocol.Dmesg:
            {
                string text = RingView(req.GetBool("clear") ? Hypervisor.Log.ReadAndClear() : Hypervisor.Log.Read());
                await send(JsonLine.Ok(w => w.WriteString("text", text)));
                return true;
            }
            case ControlProtocol.Info:
                await send(JsonLine.Ok(w =>
                {
                    w.WriteStartArray("info");
                    foreach (var (k, value) in host.Describe(Hypervisor))
                    {
                        w.WriteStartArray();
                        w.WriteStringValue(k);
                        w.WriteStringValue(value);
                        w.WriteEndArray();
                    }
                    w.WriteEndArray();
                }));
                return true;
            case ControlProtocol.SetParameters:
            {
                string text = req.GetString("params") ?? throw new ToolstackException("set-parameters: no params given");
                var applied = parameters.SetLive(text);
                Hypervisor.Log.Xen("set-parameters: " + string.Join(' ', applied));
                await send(JsonLine.Ok(w =>
                {
                    w.WriteStartArray("applied");
                    foreach (var a in applied) w.WriteStringValue(a);
                    w.WriteEndArray();
                }));
                return true;
            }
            case ControlProtocol.GetParameters:
                await send(JsonLine.Ok(WriteParameters));
                return true;
            case ControlProtocol.DebugKeys:
            {
                string keys = req.GetString("keys") ?? "";
                if (keys.Length == 0) throw new ToolstackException("debug-keys: no keys given");
                DebugKeys.Run(Hypervisor, keys);
                await send(JsonLine.Ok());
                return true;
            }
            case ControlProtocol.VcpuPin:
            {
                var d = FindOrThrow(req);
                manager.PinVcpus(d, req.GetString("vcpu") ?? "all",
                    req.GetString("hard") ?? throw new ToolstackException("vcpu-pin: no hard affinity given"), req.GetString("soft"));
                await send(JsonLine.Ok(w => w.WriteNumber("domid", d.Id)));
                return true;
            }
            case ControlProtocol.SchedList:
                await send(JsonLine.Ok(WriteSchedList));
                return true;
            case ControlProtocol.SchedDomainSet:
            {
                var d = FindOrThrow(req);
                manager.SetDomainSched(d, req.GetString("sched") ?? "credit2", OptionalInt(req, "weight"), OptionalInt(req, "cap"));
                await send(JsonLine.Ok(w => w.WriteNumber("domid", d.Id)));
                return true;
            }
            case ControlProtocol.SchedPoolSet:
                manager.SetPoolSched(req.GetString("pool"), req.GetString("sched") ?? "credit2", OptionalInt(req, "ratelimit_us"), OptionalInt(req, "tslice_ms"));
                await send(JsonLine.Ok());
                return true;
            case ControlProtocol.CpupoolList:
                await send(JsonLine.Ok(WritePoolList));
                return true;
            case ControlProtocol.CpupoolCreate:
            {
                string name = req.GetString("name") ?? throw new ToolstackException("cpupool-create: no name given");
                var info = manager.CreatePool(name, req.GetString("sched") ?? Hypervisor.Scheduler?.WithPolicy(p => p is CpuPoolSet s ? s.Pool0.Scheduler : p.Name) ?? "credit2", req.GetString("cpus"));
                await send(JsonLine.Ok(w =>
                {
                    w.WriteString("name", info.Name);
                    w.WriteNumber("poolid", info.Id);
                    w.WriteString("sched", info.Sched);
                    w.WriteNumber("cpu_count", info.CpuCount);
                }));
                return true;
            }
            case ControlProtocol.CpupoolDestroy:
                manager.DestroyPool(req.GetString("pool") ?? throw new ToolstackException("cpupool-destroy: no pool given"));
                await send(JsonLine.Ok());
                return true;
            case ControlProtocol.CpupoolCpuAdd:
            case ControlProtocol.CpupoolCpuRemove:
                manager.PoolCpus(req.GetString("pool") ?? throw new ToolstackException($"{cmd}: no pool given"),
                    req.GetString("cpus") ?? throw new ToolstackException($"{cmd}: no cpus given"), cmd == ControlProtocol.CpupoolCpuAdd);
                await send(JsonLine.Ok());
                return true;
            case ControlProtocol.CpupoolMigrate:
            {
                var d = FindOrThrow(req);
                manager.MigrateToPool(d, req.GetString("pool") ?? throw new ToolstackException("cpupool-migrate: no pool given"));
                await send(JsonLine.Ok(w => w.WriteNumber("domid", d.Id)));
                return true;
            }
            case ControlProtocol.DumpCore:
            {
                var d = FindOrThrow(req);
                string? file = req.GetString("file");
                if (file is not null && !Path.IsPathRooted(file))
                    file = Path.Combine(req.GetString("cwd") ?? "/", file);
                var (path, size) = manager.DumpCore(d, file);
                await send(JsonLine.Ok(w => { w.WriteNumber("domid", d.Id); w.WriteString("path", path); w.WriteNumber("size", size); }));
                return true;
            }
            case ControlProtocol.MemSet:
            case ControlProtocol.MemMax:
            {
                var d = FindOrThrow(req);
                long kib = req.TryGetProperty("memory_kib", out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt64(out long k)
                    ? k : throw new ToolstackException($"{cmd}: no memory_kib given");
                if (cmd == ControlProtocol.MemSet) manager.SetMemoryTarget(d, kib);
                else manager.SetMaxMemory(d, kib);
                await send(JsonLine.Ok(w =>
                {
                    w.WriteNumber("domid", d.Id);
                    w.WriteNumber("max_memory_kib", DomainManager.MaxMemoryKiB(d));
                    if (manager.MemoryTargetKiB(d) is { } t) w.WriteNumber("target_kib", t);
                }));
                return true;
            }
            case ControlProtocol.VcpuSet:
            {
                var d = FindOrThrow(req);
                manager.SetVcpus(d, OptionalInt(req, "vcpus") ?? throw new ToolstackException("vcpu-set: no vcpus given"));
                await send(JsonLine.Ok(w => { w.WriteNumber("domid", d.Id); w.WriteNumber("max_vcpus", d.Domain.Vcpus.Count); }));
                return true;
            }
            case ControlProtocol.Quit:
                await send(JsonLine.Ok());
                requestQuit();
                return false;
            default:
                await send(JsonLine.Error($"unknown command \"{cmd}\""));
                return true;
        }
    }

    /// <summary>
    /// The hypervisor log as a ring of conring_size bytes: the log keeps up to 256 KiB; a smaller
    /// conring_size shows only the newest conring_size bytes (whole lines).
    /// </summary>
    private string RingView(string text)
    {
        long size = parameters.Get<long>(HypervisorParameters.ConsoleRingSize);
        if (System.Text.Encoding.UTF8.GetByteCount(text) <= size) return text;
        int start = Math.Max(0, text.Length - (int)size);
        while (start < text.Length && System.Text.Encoding.UTF8.GetByteCount(text.AsSpan(start)) > size) start++;
        while (start > 0 && start < text.Length && text[start - 1] != '\n') start++;
        return text[start..];
    }

    /// <summary>`get-parameters`: the boot command line and every parameter with its value.</summary>
    private void WriteParameters(Utf8JsonWriter w)
    {
        w.WriteString("commandline", parameters.BootCommandLine);
        w.WriteStartArray("parameters");
        foreach (var d in parameters.Definitions)
        {
            w.WriteStartObject();
            w.WriteString("name", d.Name);
            w.WriteString("value", parameters.GetText(d.Name));
            w.WriteString("default", d.Format(d.Default));
            w.WriteBoolean("live", d.Live);
            w.WriteString("accepted", d.Accepted);
            w.WriteString("description", d.Description);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private static int? OptionalInt(JsonElement req, string name) =>
        req.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number
            ? (v.TryGetInt32(out int i) ? i : throw new ToolstackException($"{name} {v.GetRawText()} is out of range"))
            : null;

    /// <summary>A mask as xl prints affinities: "all" when it covers every pCPU, else the list of the pCPUs in it.</summary>
    private string AffinityText(in CpuMask mask)
    {
        int pcpus = Hypervisor.Scheduler?.PcpuCount ?? Environment.ProcessorCount;
        var all = CpuMask.Range(0, pcpus - 1);
        if (all.IsSubsetOf(mask)) return "all";
        var m = mask;
        m.And(all);
        return m.ToString();
    }

    /// <summary>`sched-list`: every pool with its scheduler parameters and its domains' weight and cap.</summary>
    private void WriteSchedList(Utf8JsonWriter w)
    {
        var scheduler = Hypervisor.Scheduler ?? throw new ToolstackException("the hypervisor runs without a scheduler (sched=none): no scheduling parameters");
        var domains = manager.List();
        w.WriteStartArray("pools");
        scheduler.WithPolicy(policy =>
        {
            IEnumerable<(string Name, ISchedulerPolicy Policy)> pools = policy is CpuPoolSet set
                ? set.Pools.Select(p => (p.Name, p.Policy))
                : [(CpuPoolSet.Pool0Name, policy)];
            foreach (var (name, p) in pools)
            {
                w.WriteStartObject();
                w.WriteString("name", name);
                w.WriteString("sched", p.Name);
                if (p is Credit2Scheduler c2) w.WriteNumber("ratelimit_us", c2.RatelimitUs);
                if (p is CreditScheduler c1)
                {
                    w.WriteNumber("tslice_ms", c1.TsliceMs);
                    w.WriteNumber("ratelimit_us", c1.RatelimitUs);
                }
                w.WriteStartArray("domains");
                if (name == CpuPoolSet.Pool0Name)
                {
                    w.WriteStartObject();
                    w.WriteNumber("domid", 0);
                    w.WriteString("name", DomainManager.ControlDomainName);
                    w.WriteNumber("weight", SchedDomain.DefaultWeight);
                    w.WriteNumber("cap", 0);
                    w.WriteEndObject();
                }
                foreach (var d in domains)
                {
                    if (d.Domain.Sched is not { } sd || sd.Pool != name) continue;
                    w.WriteStartObject();
                    w.WriteNumber("domid", d.Id);
                    w.WriteString("name", d.Name);
                    w.WriteNumber("weight", sd.Weight);
                    w.WriteNumber("cap", sd.Cap);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            return 0;
        });
        w.WriteEndArray();
    }

    /// <summary>`cpupool-list`: the pools in id order.</summary>
    private void WritePoolList(Utf8JsonWriter w)
    {
        var pools = manager.ListPools();
        w.WriteStartArray("pools");
        foreach (var (info, count) in pools)
        {
            w.WriteStartObject();
            w.WriteString("name", info.Name);
            w.WriteNumber("poolid", info.Id);
            w.WriteNumber("cpu_count", info.CpuCount);
            w.WriteString("cpus", info.Cpus.IsEmpty ? "" : info.Cpus.ToString());
            w.WriteString("sched", info.Sched);
            w.WriteNumber("domain_count", count);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    private ManagedDomain FindOrThrow(JsonElement req)
    {
        string name = req.GetString("domain") ?? throw new ToolstackException("no domain given");
        return manager.Find(name) ?? throw new ToolstackException($"{name}: no such domain");
    }

    private void Log(string message) => Hypervisor.Log.Xen(message);

    private async Task<bool> CreateAsync(JsonElement req, Func<byte[], Task> send,
        Func<CancellationToken, ValueTask<string?>> readLine, CancellationToken cancel)
    {
        string text = req.GetString("config_text") ?? throw new ToolstackException("create: no config_text");
        string path = req.GetString("config_path") ?? "<config>";
        string cwd = req.GetString("cwd") ?? "/";
        var overrides = new List<string>();
        if (req.TryGetProperty("overrides", out var o) && o.ValueKind == JsonValueKind.Array)
            foreach (var item in o.EnumerateArray()) overrides.Add(item.GetString() ?? "");

        var file = XlConfigParser.Parse(text, path);
        if (overrides.Count > 0) file = file.ApplyOverrides(overrides);
        var config = HypervisorParameters.ApplyDomainDefaults(DomainConfig.FromFile(file), parameters);
        if (manager.SchedulingWarning(config) is { } schedWarning)
            config = config with { Warnings = [.. config.Warnings, schedWarning] };
        if (req.GetBool("dry_run"))
        {
            manager.Validate(config, cwd);
            await send(JsonLine.Ok(w =>
            {
                w.WriteString("name", config.Name);
                w.WritePropertyName("config");
                WriteConfig(w, config);
                w.WriteStartArray("warnings");
                foreach (var warning in config.Warnings) w.WriteStringValue(warning);
                w.WriteEndArray();
            }));
            return true;
        }
        foreach (var warning in config.Warnings) Hypervisor.Log.Xen($"config: {warning}");

        bool console = req.GetBool("console");
        bool input = console && req.GetBool(ControlProtocol.InputField);
        ConsoleSubscription? subscription = null;
        // Attached before the guest's first instruction, so the client sees its first byte.
        var d = manager.Create(config, cwd, paused: req.GetBool("paused"),
            beforeStart: m => { if (console) subscription = ConsoleSubscription.Start(m, Log); });
        try
        {
            await send(JsonLine.Ok(w =>
            {
                w.WriteNumber("domid", d.Id);
                w.WriteString("name", d.Name);
                w.WriteStartArray("warnings");
                foreach (var warning in config.Warnings) w.WriteStringValue(warning);
                w.WriteEndArray();
                if (input) w.WriteBoolean(ControlProtocol.InputField, true);
            }));
        }
        catch
        {
            subscription?.Detach();
            throw;
        }
        if (subscription is null) return true;
        await subscription.RunAsync(send, readLine, input, cancel);
        return false;
    }

    /// <summary>A config as a JSON object (DomainConfig.ToJson, re-written compact to fit on the protocol line).</summary>
    private static void WriteConfig(Utf8JsonWriter w, DomainConfig config)
    {
        using var doc = JsonDocument.Parse(config.ToJson());
        doc.RootElement.WriteTo(w);
    }

    private void WriteDomainList(Utf8JsonWriter w, bool withConfig)
    {
        var now = DateTime.UtcNow;
        w.WriteStartArray("domains");
        w.WriteStartObject();
        w.WriteNumber("domid", 0);
        w.WriteString("name", "Domain-0");
        w.WriteString("uuid", Guid.Empty.ToString());
        w.WriteNumber("memory_mib", host.ControlDomainMemoryMiB());
        w.WriteNumber("memory_kib", host.ControlDomainMemoryMiB() * 1024);
        w.WriteNumber("max_memory_kib", host.ControlDomainMemoryMiB() * 1024);
        w.WriteNumber("vcpus", Environment.ProcessorCount);
        w.WriteString("state", "r-----");
        w.WriteNumber("cpu_time", host.ControlDomainCpuSeconds());
        w.WriteNumber("cpu_time_ns", System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.Ticks * 100);
        w.WriteNumber("uptime", (long)(now - Hypervisor.StartedAt).TotalSeconds);
        if (withConfig) w.WriteNull("config");
        w.WriteEndObject();
        foreach (var d in manager.List())
        {
            w.WriteStartObject();
            w.WriteNumber("domid", d.Id);
            w.WriteString("name", d.Name);
            w.WriteString("uuid", d.Domain.Uuid.ToString());
            w.WriteNumber("memory_mib", (long)(d.Domain.CurrentPages >> 8));
            w.WriteNumber("memory_kib", (long)d.Domain.CurrentPages * 4);
            w.WriteNumber("max_memory_kib", DomainManager.MaxMemoryKiB(d));
            w.WriteNumber("vcpus", d.Domain.Vcpus.Count(v => v.State != VcpuState.Offline || v.Index == 0));
            w.WriteString("state", StateFlags(d.Domain));
            var cpuTime = d.Domain.CpuTime;
            w.WriteNumber("cpu_time", Math.Round(cpuTime.TotalSeconds, 1));
            w.WriteNumber("cpu_time_ns", cpuTime.Ticks * 100);
            w.WriteNumber("uptime", (long)Math.Max(0, (now - d.Domain.CreatedAt).TotalSeconds));
            if (d.Domain.State == DomainState.Shutdown && d.Domain.ShutdownReason is { } reason)
                w.WriteNumber("shutdown_reason", (int)reason);
            if (withConfig)
            {
                w.WritePropertyName("config");
                WriteConfig(w, d.Config);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>
    /// `xl vcpu-list`: each domain's vCPUs. Domain-0 (the daemon) shows one vCPU per host CPU,
    /// on that CPU, blocked, with no time of its own (its total is in `xl list`).
    /// </summary>
    private void WriteVcpuList(Utf8JsonWriter w)
    {
        w.WriteStartArray("domains");
        w.WriteStartObject();
        w.WriteNumber("domid", 0);
        w.WriteString("name", "Domain-0");
        w.WriteStartArray("vcpus");
        for (int i = 0; i < Environment.ProcessorCount; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("vcpu", i);
            w.WriteBoolean("online", true);
            w.WriteNumber("cpu", i);
            w.WriteString("state", "b");
            w.WriteNumber("cpu_time", 0.0);
            w.WriteString("hard", "all");
            w.WriteString("soft", "all");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        foreach (var d in manager.List())
        {
            w.WriteStartObject();
            w.WriteNumber("domid", d.Id);
            w.WriteString("name", d.Name);
            w.WriteStartArray("vcpus");
            bool paused = d.Domain.State == DomainState.Paused;
            foreach (var v in d.Domain.Vcpus)
            {
                bool online = v.State != VcpuState.Offline || (v.Index == 0 && paused);
                w.WriteStartObject();
                w.WriteNumber("vcpu", v.Index);
                w.WriteBoolean("online", online);
                if (v.Sched is { } s)
                {
                    // The scheduler's view, as Xen's v->processor: the pCPU the vCPU holds now, else the
                    // one it last ran on (-1 never ran or offline); r/b/- from its runstate.
                    var runstate = s.State;
                    w.WriteNumber("cpu", !online ? -1 : s.Processor >= 0 ? s.Processor : s.LastProcessor);
                    w.WriteString("state", !online ? "-"
                        : paused ? "p"
                        : d.Domain.State != DomainState.Running ? "-"
                        : runstate switch { VcpuRunstate.Running => "r", VcpuRunstate.Blocked => "b", _ => "-" });
                    w.WriteString("runstate", runstate.ToString().ToLowerInvariant());
                    w.WriteString("hard", AffinityText(s.HardAffinity));
                    w.WriteString("soft", AffinityText(s.SoftAffinity));
                }
                else
                {
                    w.WriteNumber("cpu", online ? v.LastHostCpu : -1);
                    w.WriteString("state", !online ? "-"
                        : paused ? "p"
                        : d.Domain.State != DomainState.Running ? "-"
                        : v.State == VcpuState.Running ? "r" : "b");
                    w.WriteString("hard", "all");
                    w.WriteString("soft", "all");
                }
                w.WriteNumber("cpu_time", Math.Round(v.CpuTime.TotalSeconds, 1));
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>xl's six state columns: r b p s c d.</summary>
    public static string StateFlags(Domain d)
    {
        var f = "------".ToCharArray();
        switch (d.State)
        {
            case DomainState.Running:
                if (d.Vcpus.Any(v => v.State == VcpuState.Running)) f[0] = 'r';
                else f[1] = 'b';
                break;
            case DomainState.Paused:
                f[2] = 'p';
                break;
            case DomainState.Shutdown:
                f[3] = 's';
                if (d.ShutdownReason == Abi.Hypercalls.ShutdownReason.Crash) f[4] = 'c';
                break;
            case DomainState.Dying:
            case DomainState.Destroyed:
                f[5] = 'd';
                break;
        }
        return new string(f);
    }
}
