using System.Collections.Frozen;
using XenSharp.Scheduling;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// A domain's configuration as read from an xl.cfg file: the keys the toolstack acts on, typed and
/// validated with xl's defaults, plus every other documented key kept raw in
/// <see cref="RawSettings"/> for later work. Build one with <see cref="FromFile"/>; bad values
/// throw <see cref="XlConfigException"/> (<c>FILE:LINE: key: bad value 'x' (accepted: ...)</c>).
/// Whether the kernel exists, or whether the guest type is supported, is not judged here.
/// </summary>
public sealed record DomainConfig
{
    /// <summary>xl's default <c>memory</c>, in MiB.</summary>
    public const long DefaultMemoryMiB = 128;

    /// <summary>The largest <c>memory</c>/<c>maxmem</c> accepted, in MiB (16 TiB).</summary>
    public const long MaxMemoryMiB = 16L * 1024 * 1024;

    /// <summary>The largest <c>vcpus</c>/<c>maxvcpus</c> accepted (Xen's limit for an HVM-like guest).</summary>
    public const int MaxVcpuCount = 128;

    private const string NameAccepted =
        "a non-empty name without '/' or control characters, not made only of digits (xl would take it for a domain id)";
    private const string UuidAccepted = "a UUID written as 8-4-4-4-12 hexadecimal digits, e.g. 6f9a2c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
    private const string PathAccepted = "a non-empty \"PATH\"";

    /// <summary>The keys read into typed properties (so not kept in <see cref="RawSettings"/>).</summary>
    private static readonly FrozenSet<string> s_typedKeys = FrozenSet.ToFrozenSet(
    [
        "name", "uuid", "type", "builder", "kernel", "ramdisk", "cmdline", "root", "extra",
        "memory", "maxmem", "vcpus", "maxvcpus",
        "on_poweroff", "on_reboot", "on_crash", "on_watchdog", "on_soft_reset",
        "max_event_channels", "max_grant_frames", "max_grant_version",
        "cpus", "cpus_soft", "cpu_weight", "cap", "pool", "disk", "arch", "vuart", "gic_version",
    ], StringComparer.Ordinal);

    /// <summary>What <c>arch</c> accepts (XenSharp's key: Xen's xl has one architecture per host).</summary>
    public const string ArchAccepted = "\"x86\" (also \"x86_64\") or \"aarch64\" (also \"arm64\"); without arch the kernel image decides";

    /// <summary>What <c>vuart</c> accepts (xl.cfg(5): the SBSA UART is the only model, for ARM guests).</summary>
    public const string VuartAccepted = "\"sbsa_uart\" (the emulated SBSA UART of ARM guests)";

    /// <summary>What <c>gic_version</c> accepts: XenSharp emulates a GICv3 (with an ITS) for ARM guests.</summary>
    public const string GicVersionAccepted = "\"v3\" or \"default\" (XenSharp emulates a GICv3 with an ITS)";

    /// <summary>The scheduling keys (<c>cpus</c>, <c>cpus_soft</c>, <c>cpu_weight</c>, <c>cap</c>, <c>pool</c>).</summary>
    public static IReadOnlyList<string> SchedulingKeys { get; } = ["cpus", "cpus_soft", "cpu_weight", "cap", "pool"];

    private const string CpusAccepted =
        "a CPU list \"0-3,^2\" or \"all\" naming at least one CPU (0..1023), or a list with one such string per vCPU, e.g. [\"2\", \"3\"]";

    /// <summary>
    /// Documented keys XenSharp parses but cannot honour yet, with what is missing: they are
    /// kept in <see cref="RawSettings"/> and warned about at parse time, so a config written
    /// for Xen still creates its domain and the user learns what did not take effect.
    /// </summary>
    private static readonly FrozenDictionary<string, string> s_notSupportedKeys = new Dictionary<string, string>
    {
        ["vif"] = "no PV network backend",
        ["vfb"] = "no framebuffer", ["vnc"] = "no framebuffer", ["sdl"] = "no framebuffer", ["vkb"] = "no PV keyboard",
        ["pci"] = "no PCI passthrough", ["dtdev"] = "no device passthrough", ["iomem"] = "no device passthrough",
        ["ioports"] = "no device passthrough", ["irqs"] = "no device passthrough",
        ["usbctrl"] = "no PV USB", ["usbdev"] = "no PV USB", ["channel"] = "no PV channels", ["vtpm"] = "no vTPM",
        ["p9"] = "no 9pfs", ["pvcalls"] = "no PV calls", ["vdispl"] = "no PV display", ["vsnd"] = "no PV sound",
        ["serial"] = "no emulated serial port for PVH/PV guests",
        ["bootloader"] = "no bootloader (pygrub); boot a kernel", ["seclabel"] = "no XSM/FLASK",
        ["firmware"] = "PVH guests boot their kernel directly", ["device_model_version"] = "no HVM device model",
        ["dm_restrict"] = "no HVM device model",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>libxl's default <c>max_event_channels</c>.</summary>
    public const int DefaultMaxEventChannels = 1023;
    /// <summary>The FIFO ABI's ceiling on ports (EVTCHN_FIFO_NR_CHANNELS), so the most <c>max_event_channels</c> can ask for.</summary>
    public const int MaxEventChannelsLimit = 131071;
    /// <summary>Xen's default <c>max_grant_frames</c> (gnttab_max_frames).</summary>
    public const int DefaultMaxGrantFrames = 64;
    /// <summary>The most <c>max_grant_frames</c> XenSharp accepts.</summary>
    public const int MaxGrantFramesLimit = 4096;

    /// <summary>The file the configuration was read from, as named to the parser.</summary>
    public string Source { get; init; } = "";

    /// <summary><c>name</c>: the domain's name (mandatory).</summary>
    public required string Name { get; init; }

    /// <summary><c>uuid</c>: the domain's UUID, or null to have one generated at creation.</summary>
    public Guid? Uuid { get; init; }

    /// <summary><c>type</c> (or the deprecated <c>builder</c>); <see cref="DomainType.Pv"/> when absent, as xl on x86.</summary>
    public DomainType Type { get; init; } = DomainType.Pv;

    /// <summary><c>kernel</c>: the kernel image path (mandatory for PVH). Not checked for existence here.</summary>
    public string? Kernel { get; init; }

    /// <summary><c>ramdisk</c>: the initial ramdisk path, if any.</summary>
    public string? Ramdisk { get; init; }

    /// <summary>
    /// The kernel command line: <c>cmdline</c>, or else built as xl does from <c>root</c> and
    /// <c>extra</c> (<c>"root=ROOT EXTRA"</c>, <c>"root=ROOT"</c> or <c>"EXTRA"</c>); null if none is set.
    /// </summary>
    public string? Cmdline { get; init; }

    /// <summary><c>memory</c>: the initial memory in MiB (default 128).</summary>
    public long MemoryMiB { get; init; } = DefaultMemoryMiB;

    /// <summary><c>maxmem</c>: the most memory the guest may have, in MiB (default: <see cref="MemoryMiB"/>).</summary>
    public long MaxMemMiB { get; init; } = DefaultMemoryMiB;

    /// <summary><c>vcpus</c>: vCPUs online at start (default 1).</summary>
    public int Vcpus { get; init; } = 1;

    /// <summary><c>maxvcpus</c>: vCPUs the guest may bring up (default: <see cref="Vcpus"/>; never fewer).</summary>
    public int MaxVcpus { get; init; } = 1;

    /// <summary><c>max_event_channels</c>: the highest event-channel port the guest may use (default 1023).</summary>
    public int MaxEventChannels { get; init; } = DefaultMaxEventChannels;

    /// <summary><c>max_grant_frames</c>: how many grant-table frames the guest may set up (default 64).</summary>
    public int MaxGrantFrames { get; init; } = DefaultMaxGrantFrames;

    /// <summary><c>max_grant_version</c>: the highest grant-table version the guest may select, 1 or 2 (default 2).</summary>
    public int MaxGrantVersion { get; init; } = 2;

    /// <summary><c>on_poweroff</c> (default destroy).</summary>
    public ShutdownAction OnPoweroff { get; init; } = ShutdownAction.Destroy;

    /// <summary><c>on_reboot</c> (default restart).</summary>
    public ShutdownAction OnReboot { get; init; } = ShutdownAction.Restart;

    /// <summary><c>on_crash</c> (default destroy).</summary>
    public ShutdownAction OnCrash { get; init; } = ShutdownAction.Destroy;

    /// <summary><c>on_watchdog</c> (default destroy).</summary>
    public ShutdownAction OnWatchdog { get; init; } = ShutdownAction.Destroy;

    /// <summary><c>on_soft_reset</c> (default soft-reset).</summary>
    public ShutdownAction OnSoftReset { get; init; } = ShutdownAction.SoftReset;

    /// <summary><c>cpus</c>: the vCPUs' hard affinity (null: every pCPU of the pool).</summary>
    public CpuAffinityConfig? Cpus { get; init; }

    /// <summary><c>cpus_soft</c>: the vCPUs' soft affinity (null: all).</summary>
    public CpuAffinityConfig? CpusSoft { get; init; }

    /// <summary><c>cpu_weight</c>: the domain's credit/credit2 weight, 1..65535 (default 256).</summary>
    public int CpuWeight { get; init; } = SchedDomain.DefaultWeight;

    /// <summary><c>cap</c>: the domain's CPU cap in percent of one pCPU, 0..100 × maxvcpus (0 = none).</summary>
    public int Cap { get; init; }

    /// <summary><c>pool</c>: the cpupool the domain is created in (null: Pool-0). Must exist at create time.</summary>
    public string? Pool { get; init; }

    /// <summary>
    /// <c>disk</c>: the virtual block devices (xl-disk-configuration(5)), each served from a raw
    /// image file by XenSharp's block backend. Whether the files exist is judged at create.
    /// </summary>
    public IReadOnlyList<DiskSpec> Disks { get; init; } = [];

    /// <summary><c>arch</c>: the guest's architecture when the file names it (XenSharp's key); null: the kernel image decides.</summary>
    public XenSharp.Hypervisor.GuestArchitecture? Arch { get; init; }

    /// <summary><c>vuart</c>: "sbsa_uart" for an ARM guest with the emulated SBSA UART (its console), else null.</summary>
    public string? Vuart { get; init; }

    /// <summary><c>gic_version</c> as given ("v3" or "default"), or null.</summary>
    public string? GicVersion { get; init; }

    /// <summary>Whether any scheduling key (<see cref="SchedulingKeys"/>) was set.</summary>
    public bool HasSchedulingSettings => Cpus is not null || CpusSoft is not null || Pool is not null
        || CpuWeight != SchedDomain.DefaultWeight || Cap != 0 || SchedulingKeysSet.Count > 0;

    /// <summary>The scheduling keys the file set (in <see cref="SchedulingKeys"/> order), for messages.</summary>
    public IReadOnlyList<string> SchedulingKeysSet { get; init; } = [];

    /// <summary>
    /// The other keys xl.cfg(5) documents (disk, vif, serial, ...), as their effective settings,
    /// in the order the keys first appear; each keeps its value and location for later parsing.
    /// </summary>
    public IReadOnlyDictionary<string, XlSetting> RawSettings { get; init; } = new OrderedDictionary<string, XlSetting>();

    /// <summary>
    /// Warnings for the user: the parser's (repeated keys) followed by this reader's
    /// (<c>FILE:LINE: unknown key 'foo' ignored</c>, deprecated <c>builder</c>, ignored <c>root</c>/<c>extra</c>).
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Reads and validates the typed configuration of a parsed xl.cfg file.</summary>
    public static DomainConfig FromFile(XlConfigFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        var warnings = new List<string>(file.Warnings);
        var raw = new OrderedDictionary<string, XlSetting>(StringComparer.Ordinal);
        foreach (string key in file.Keys)
        {
            XlSetting setting = file.Find(key)!;
            if (s_typedKeys.Contains(key))
                continue;
            if (XlDocumentedKeys.Contains(key))
            {
                raw.Add(key, setting);
                if (s_notSupportedKeys.TryGetValue(key, out string? what))
                    warnings.Add($"{setting.Location}: {key}: not supported by XenSharp yet ({what}); ignored");
            }
            else
                warnings.Add($"{setting.Location}: unknown key '{key}' ignored");
        }

        XlSetting nameSetting = file.Find("name")
            ?? throw XlConfigException.Missing(file.FileName, "name", "every domain needs a name");
        string name = XlSettingReader.Text(nameSetting, NameAccepted);
        if (!IsValidName(name))
            throw XlSettingReader.BadValue(nameSetting, NameAccepted);

        DomainType type = ReadType(file, warnings);
        Guid? uuid = file.Find("uuid") is { } uuidSetting ? ReadUuid(uuidSetting) : null;

        string? kernel = ReadPath(file.Find("kernel"));
        string? ramdisk = ReadPath(file.Find("ramdisk"));
        if (type == DomainType.Pvh && kernel is null)
            throw XlConfigException.Missing(file.FileName, "kernel", "a PVH domain boots a kernel = \"PATH\" ELF");
        string? cmdline = ReadCmdline(file, warnings);

        long memory = DefaultMemoryMiB;
        if (file.Find("memory") is { } memorySetting)
            memory = XlSettingReader.Integer(memorySetting, 1, MaxMemoryMiB, $"a whole number of MiB, 1..{MaxMemoryMiB}");
        long maxMem = memory;
        if (file.Find("maxmem") is { } maxMemSetting)
        {
            maxMem = XlSettingReader.Integer(maxMemSetting, memory, MaxMemoryMiB,
                $"a whole number of MiB, {memory}..{MaxMemoryMiB} (at least memory)");
        }

        int vcpus = 1;
        if (file.Find("vcpus") is { } vcpusSetting)
            vcpus = (int)XlSettingReader.Integer(vcpusSetting, 1, MaxVcpuCount, $"1..{MaxVcpuCount}");
        int maxVcpus = vcpus;
        if (file.Find("maxvcpus") is { } maxVcpusSetting)
        {
            maxVcpus = (int)XlSettingReader.Integer(maxVcpusSetting, vcpus, MaxVcpuCount,
                $"{vcpus}..{MaxVcpuCount} (at least vcpus)");
        }

        int maxEventChannels = DefaultMaxEventChannels;
        if (file.Find("max_event_channels") is { } evtchnSetting)
            maxEventChannels = (int)XlSettingReader.Integer(evtchnSetting, 1, MaxEventChannelsLimit, $"a number of ports, 1..{MaxEventChannelsLimit}");
        int maxGrantFrames = DefaultMaxGrantFrames;
        if (file.Find("max_grant_frames") is { } grantSetting)
            maxGrantFrames = (int)XlSettingReader.Integer(grantSetting, 1, MaxGrantFramesLimit, $"a number of frames, 1..{MaxGrantFramesLimit}");
        int maxGrantVersion = 2;
        if (file.Find("max_grant_version") is { } versionSetting)
            maxGrantVersion = (int)XlSettingReader.Integer(versionSetting, 1, 2, "1 or 2");

        CpuAffinityConfig? cpus = ReadAffinity(file.Find("cpus"), maxVcpus);
        CpuAffinityConfig? cpusSoft = ReadAffinity(file.Find("cpus_soft"), maxVcpus);
        int cpuWeight = SchedDomain.DefaultWeight;
        if (file.Find("cpu_weight") is { } weightSetting)
            cpuWeight = (int)XlSettingReader.Integer(weightSetting, SchedDomain.MinWeight, SchedDomain.MaxWeight,
                $"a weight {SchedDomain.MinWeight}..{SchedDomain.MaxWeight} (default {SchedDomain.DefaultWeight})");
        int cap = 0;
        if (file.Find("cap") is { } capSetting)
            cap = (int)XlSettingReader.Integer(capSetting, 0, 100L * maxVcpus,
                $"a percentage of one pCPU, 0..{100 * maxVcpus} (100 × maxvcpus = {maxVcpus}; 0 = no cap)");
        string? pool = null;
        if (file.Find("pool") is { } poolSetting)
        {
            const string PoolAccepted = "the name of an existing cpupool, e.g. \"Pool-0\" (xl cpupool-list shows them)";
            pool = XlSettingReader.Text(poolSetting, PoolAccepted);
            if (pool.Length == 0 || pool.Trim() != pool)
                throw XlSettingReader.BadValue(poolSetting, PoolAccepted);
        }

        return new DomainConfig
        {
            Source = file.FileName,
            Name = name,
            Uuid = uuid,
            Type = type,
            Kernel = kernel,
            Ramdisk = ramdisk,
            Cmdline = cmdline,
            MemoryMiB = memory,
            MaxMemMiB = maxMem,
            Vcpus = vcpus,
            MaxVcpus = maxVcpus,
            MaxEventChannels = maxEventChannels,
            MaxGrantFrames = maxGrantFrames,
            MaxGrantVersion = maxGrantVersion,
            OnPoweroff = ReadAction(file, "on_poweroff", ShutdownAction.Destroy),
            OnReboot = ReadAction(file, "on_reboot", ShutdownAction.Restart),
            OnCrash = ReadAction(file, "on_crash", ShutdownAction.Destroy),
            OnWatchdog = ReadAction(file, "on_watchdog", ShutdownAction.Destroy),
            OnSoftReset = ReadAction(file, "on_soft_reset", ShutdownAction.SoftReset),
            Cpus = cpus,
            CpusSoft = cpusSoft,
            CpuWeight = cpuWeight,
            Cap = cap,
            Pool = pool,
            Disks = file.Find("disk") is { } diskSetting ? DiskSpecParser.ReadSetting(diskSetting) : [],
            Arch = file.Find("arch") is { } archSetting ? ReadArch(archSetting) : null,
            Vuart = file.Find("vuart") is { } vuartSetting ? ReadChoice(vuartSetting, VuartAccepted, "sbsa_uart") : null,
            GicVersion = file.Find("gic_version") is { } gicSetting ? ReadChoice(gicSetting, GicVersionAccepted, "v3", "default") : null,
            SchedulingKeysSet = SchedulingKeys.Where(k => file.Find(k) is not null).ToArray(),
            RawSettings = raw,
            Warnings = warnings,
        };
    }

    private static XenSharp.Hypervisor.GuestArchitecture ReadArch(XlSetting setting) =>
        XlSettingReader.Text(setting, ArchAccepted) switch
        {
            "x86" or "x86_64" => XenSharp.Hypervisor.GuestArchitecture.X86,
            "aarch64" or "arm64" => XenSharp.Hypervisor.GuestArchitecture.Arm64,
            _ => throw XlSettingReader.BadValue(setting, ArchAccepted),
        };

    private static string ReadChoice(XlSetting setting, string accepted, params string[] values)
    {
        string text = XlSettingReader.Text(setting, accepted);
        return values.Contains(text, StringComparer.Ordinal) ? text : throw XlSettingReader.BadValue(setting, accepted);
    }

    private static CpuAffinityConfig? ReadAffinity(XlSetting? setting, int maxVcpus)
    {
        if (setting is null)
            return null;
        if (setting.Value is XlList list)
        {
            if (list.Count == 0 || list.Count > maxVcpus)
                throw XlSettingReader.BadValue(setting, CpusAccepted + $" (a list has 1..{maxVcpus} entries: one per vCPU, maxvcpus = {maxVcpus})");
            var masks = new CpuMask[list.Count];
            for (int i = 0; i < list.Count; i++)
            {
                string? text = list[i].ScalarText;
                if (text is null || !CpuMask.TryParse(text, out masks[i], out _) || masks[i].IsEmpty)
                    throw XlSettingReader.BadValue(setting, CpusAccepted + $" (entry {i}, for vCPU {i}, is not)");
            }
            return new CpuAffinityConfig(setting.Key, setting.Location, masks, PerVcpu: true);
        }
        string single = XlSettingReader.Text(setting, CpusAccepted);
        if (!CpuMask.TryParse(single, out CpuMask mask, out _) || mask.IsEmpty)
            throw XlSettingReader.BadValue(setting, CpusAccepted);
        return new CpuAffinityConfig(setting.Key, setting.Location, [mask], PerVcpu: false);
    }

    /// <summary>
    /// Parses the file at <paramref name="path"/>, applies <c>xl create</c> command-line
    /// <paramref name="overrides"/> (if any) and reads the configuration.
    /// </summary>
    public static DomainConfig Load(string path, IEnumerable<string>? overrides = null)
    {
        XlConfigFile file = XlConfigParser.ParseFile(path);
        if (overrides is not null)
            file = file.ApplyOverrides(overrides);
        return FromFile(file);
    }

    /// <summary>
    /// The configuration as indented JSON (keys named as in xl.cfg, memory in MiB, other
    /// documented keys under <c>"raw_settings"</c>), as <c>xl create -n</c> prints it.
    /// Written with <see cref="System.Text.Json.Utf8JsonWriter"/>: no reflection, safe for trimming/AOT.
    /// </summary>
    public string ToJson() => DomainConfigJson.Write(this);

    /// <summary>
    /// Whether <paramref name="name"/> is usable as a domain name: non-empty, no '/' (names
    /// become file names, e.g. core dumps), no control characters, and not only digits (xl
    /// commands read an all-digit argument as a domain id).
    /// </summary>
    public static bool IsValidName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
            return false;
        bool allDigits = true;
        foreach (char c in name)
        {
            if (c == '/' || char.IsControl(c))
                return false;
            allDigits &= c is >= '0' and <= '9';
        }
        return !allDigits;
    }

    private static DomainType ReadType(XlConfigFile file, List<string> warnings)
    {
        DomainType type = DomainType.Pv;
        XlSetting? typeSetting = file.Find("type");
        if (typeSetting is not null
            && !XlNames.TryParseDomainType(XlSettingReader.Text(typeSetting, "pv, pvh, hvm"), out type))
        {
            throw XlSettingReader.BadValue(typeSetting, "pv, pvh, hvm");
        }

        if (file.Find("builder") is not { } builderSetting)
            return type;

        const string BuilderAccepted = "generic, hvm (builder is deprecated: prefer type = \"pv\", \"pvh\" or \"hvm\")";
        DomainType builderType = XlSettingReader.Text(builderSetting, BuilderAccepted) switch
        {
            "generic" => DomainType.Pv,
            "hvm" => DomainType.Hvm,
            _ => throw XlSettingReader.BadValue(builderSetting, BuilderAccepted),
        };
        if (typeSetting is null)
        {
            warnings.Add($"{builderSetting.Location}: builder is deprecated; use type = \"{builderType.ToXlName()}\"");
            return builderType;
        }
        if (builderType != type)
        {
            string agreeing = type switch
            {
                DomainType.Pv => "generic, which",
                DomainType.Hvm => "hvm, which",
                _ => "no builder at all: it",
            };
            throw XlSettingReader.BadValue(builderSetting,
                $"{agreeing} must agree with type = \"{type.ToXlName()}\" at {typeSetting.Location}; better remove the deprecated builder");
        }
        return type;
    }

    private static Guid ReadUuid(XlSetting setting)
    {
        string text = XlSettingReader.Text(setting, UuidAccepted);
        if (text.Length != 36)
            throw XlSettingReader.BadValue(setting, UuidAccepted);
        for (int i = 0; i < text.Length; i++)
        {
            bool ok = i is 8 or 13 or 18 or 23 ? text[i] == '-' : char.IsAsciiHexDigit(text[i]);
            if (!ok)
                throw XlSettingReader.BadValue(setting, UuidAccepted);
        }
        return Guid.ParseExact(text, "D");
    }

    private static string? ReadPath(XlSetting? setting)
    {
        if (setting is null)
            return null;
        string path = XlSettingReader.Text(setting, PathAccepted);
        return path.Length > 0 ? path : throw XlSettingReader.BadValue(setting, PathAccepted);
    }

    private static string? ReadCmdline(XlConfigFile file, List<string> warnings)
    {
        const string Accepted = "a \"STRING\"";
        XlSetting? cmdlineSetting = file.Find("cmdline");
        XlSetting? rootSetting = file.Find("root");
        XlSetting? extraSetting = file.Find("extra");
        string? root = rootSetting is null ? null : XlSettingReader.Text(rootSetting, Accepted);
        string? extra = extraSetting is null ? null : XlSettingReader.Text(extraSetting, Accepted);

        if (cmdlineSetting is not null)
        {
            string cmdline = XlSettingReader.Text(cmdlineSetting, Accepted);
            if (root is not null || extra is not null)
            {
                string ignored = (root, extra) switch
                {
                    (not null, not null) => "root and extra",
                    (not null, null) => "root",
                    _ => "extra",
                };
                warnings.Add($"{cmdlineSetting.Location}: {ignored} ignored in favour of cmdline");
            }
            return cmdline;
        }
        return (root, extra) switch
        {
            (not null, not null) => $"root={root} {extra}",
            (not null, null) => $"root={root}",
            (null, not null) => extra,
            _ => null,
        };
    }

    private static ShutdownAction ReadAction(XlConfigFile file, string key, ShutdownAction defaultAction)
    {
        if (file.Find(key) is not { } setting)
            return defaultAction;
        string accepted = string.Join(", ", XlNames.ShutdownActions);
        return XlNames.TryParseShutdownAction(XlSettingReader.Text(setting, accepted), out ShutdownAction action)
            ? action
            : throw XlSettingReader.BadValue(setting, accepted);
    }
}

/// <summary>
/// A <c>cpus</c> / <c>cpus_soft</c> setting: one mask for every vCPU, or (a list in xl.cfg) one
/// per vCPU — vCPUs past the list's end keep "all", as libxl does.
/// </summary>
public sealed record CpuAffinityConfig(string Key, string Location, IReadOnlyList<CpuMask> Masks, bool PerVcpu)
{
    /// <summary>The mask for vCPU <paramref name="vcpu"/>.</summary>
    public CpuMask For(int vcpu) => !PerVcpu ? Masks[0] : vcpu < Masks.Count ? Masks[vcpu] : CpuMask.All;

    /// <summary>As written in xl.cfg: "2-3" or ["2", "3"].</summary>
    public override string ToString() =>
        PerVcpu ? "[" + string.Join(", ", Masks.Select(m => $"\"{m}\"")) + "]" : Masks[0].ToString();
}
