using System.Text.RegularExpressions;

namespace XenSharp.Tests.Toolstack;

/// <summary>
/// SUPPORT.md at the repository root, in Xen's format: every `### Feature` has at least one
/// valid `Status` line, and every Supported feature (or `Status, DETAIL: Supported` line) is
/// covered by at least one test class that exists in tests/ — a Supported feature without a
/// test fails the build.
/// </summary>
public sealed class SupportMdTests
{
    private static readonly string[] Levels = ["Supported", "Tech Preview", "Experimental", "Not supported"];

    /// <summary>Supported feature (or "Feature, detail") → test classes that exercise it.</summary>
    private static readonly Dictionary<string, string[]> TestsOfSupportedFeatures = new(StringComparer.Ordinal)
    {
        ["x86-64 host with Linux KVM"] = ["KvmAcceleratorTests", "DemoTests"],
        ["x86-64 host without KVM (software x86 CPU)"] = ["SoftX86VcpuTests", "ArithmeticTests", "DifferentialAluTests", "PagingTests", "TrapTests", "DemoTests"],
        ["PV block devices (blkback)"] = ["BlockBackendTests", "VbdBackendTests", "XenbusBackendStateMachineTests", "DiskSpecParserTests", "BlockDeviceTests"],
        ["GRUB2 for Xen PVH (pvgrub2)"] = ["GrubTests"],
        ["ARM guests (AArch64)"] = ["ArmGuestTests", "ArmDomainTests", "GicV3Tests", "GicV3ItsTests", "GenericTimerTests", "Arm64DemoGuestTests"],
        ["SBSA UART (vuart)"] = ["Pl011UartTests", "VuartConsoleBackendTests", "ArmGuestTests"],
        ["PVH guests"] = ["PvhKernelLoaderTests", "PvhStartInfoBuilderTests", "DemoTests"],
        ["Hypercall page and CPUID leaves"] = ["HypercallPageTests", "CpuidPolicyTests"],
        ["Hypercalls, xen_version"] = ["XenVersionHypercallTests"],
        ["Hypercalls, console_io"] = ["ConsoleIoHypercallTests"],
        ["Hypercalls, sched_op"] = ["SchedOpHypercallTests", "SchedPollTests"],
        ["Hypercalls, hvm_op (parameters, upcall vector)"] = ["HvmOpHypercallTests"],
        ["Hypercalls, memory_op (reservations, memory map, shared_info, grant table placement)"] = ["MemoryOpHypercallTests"],
        ["Hypercalls, vcpu_op"] = ["VcpuOpHypercallTests"],
        ["Hypercalls, event_channel_op"] = ["EventChannelOpHypercallTests"],
        ["Hypercalls, grant_table_op"] = ["GrantTableSetupTests", "GrantTableCopyTests"],
        ["Hypercalls, set_timer_op"] = ["PeriodicTimerTests"],
        ["Event channels: 2-level ABI"] = ["EventChannelStateTests", "EventChannelTests"],
        ["Event channels: FIFO ABI"] = ["FifoEventChannelsTests"],
        ["Grant tables v1 and v2"] = ["GrantTableSetupTests", "GrantTableCopyTests", "GrantTableMappingTests", "GrantTableTests"],
        ["Timers"] = ["SingleshotTimerTests", "PeriodicTimerTests", "PvClockTests", "TimerTests"],
        ["Local APIC"] = ["LocalApicTests", "ApicTests"],
        ["x86 instruction completion"] = ["IretTests", "InterruptTests", "CompareExchangeTests", "TrapTests"],
        ["Hypervisor parameters"] = ["ParameterRegistryTests", "ParametersTests"],
        ["Scheduler: credit2"] = ["Credit2SchedulerTests", "Credit2CapTests", "Credit2AffinityTests", "SchedulingTests", "SchedulingCommandTests"],
        ["Scheduler: credit"] = ["Credit1SchedulerTests"],
        ["Scheduler: null"] = ["NullSchedulerTests"],
        ["Cpupools"] = ["CpuPoolTests", "SchedulingCommandTests"],
        ["vCPU runstate information"] = ["RunstateTests", "SchedulingTests"],
        ["Debug keys, h q e g r t"] = ["DebugKeysTests"],
        ["xl"] = ["XlCommandTests", "HostTests", "XlHelpTests", "XlResourceCommandTests", "MemorySizeTests"],
        ["Domain lifecycle actions"] = ["LifecycleTests", "CrashTests", "CoreDumpTests"],
        ["Core dumps"] = ["CoreDumpTests"],
        ["XenStore"] = ["XenStoreTests", "XenStoreGuestTests", "TransactionTests", "WatchTests"],
        ["PV console"] = ["PvConsoleBackendTests", "ConsoleProtocolTests", "ConsoleTests", "DemoTests"],
        ["Hypervisor console log"] = ["ConsoleIoHypercallTests", "DemoTests"],
    };

    private sealed record StatusLine(string Feature, string? Detail, string Value, int Line)
    {
        public string Key => Detail is null ? Feature : $"{Feature}, {Detail}";
        public bool IsSupported => Level(Value) == "Supported";
    }

    private static string RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "XenSharp.slnx"))) return dir.FullName;
            throw new InvalidOperationException($"no XenSharp.slnx above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>The level a status value starts with ("Supported, not security supported" → Supported), or null.</summary>
    private static string? Level(string value) =>
        Levels.FirstOrDefault(l => value == l || value.StartsWith(l + ",", StringComparison.Ordinal) ||
                                   value.StartsWith(l + ".", StringComparison.Ordinal) || value.StartsWith(l + " ", StringComparison.Ordinal));

    private static (List<string> Features, List<StatusLine> Statuses) Parse(string text)
    {
        var features = new List<string>();
        var statuses = new List<StatusLine>();
        var status = new Regex(@"^    Status(, (?<detail>[^:]+))?: (?<value>.+)$", RegexOptions.CultureInvariant);
        string? feature = null;
        int n = 0;
        foreach (var raw in text.Split('\n'))
        {
            n++;
            string line = raw.TrimEnd('\r');
            if (line.StartsWith("### ", StringComparison.Ordinal))
            {
                feature = line[4..].Trim();
                features.Add(feature);
            }
            else if (line.StartsWith("#", StringComparison.Ordinal)) feature = null;
            else if (line.TrimStart().StartsWith("Status", StringComparison.Ordinal))
            {
                var m = status.Match(line);
                Assert.True(m.Success, $"SUPPORT.md:{n}: a status line must read '    Status: LEVEL' or '    Status, DETAIL: LEVEL' (4 spaces): \"{line}\"");
                Assert.True(feature is not null, $"SUPPORT.md:{n}: status line outside a ### feature section");
                statuses.Add(new StatusLine(feature!, m.Groups["detail"].Success ? m.Groups["detail"].Value : null, m.Groups["value"].Value, n));
            }
        }
        return (features, statuses);
    }

    private static string SupportMd => File.ReadAllText(Path.Combine(RepoRoot, "SUPPORT.md"));

    [Fact]
    public void EveryFeature_HasAValidStatus()
    {
        var (features, statuses) = Parse(SupportMd);
        Assert.True(features.Count >= 20, $"SUPPORT.md lists only {features.Count} features");
        Assert.Equal(features.Count, features.Distinct().Count());
        foreach (var f in features)
            Assert.True(statuses.Any(s => s.Feature == f), $"SUPPORT.md: feature \"{f}\" has no Status line");
        foreach (var s in statuses)
            Assert.True(Level(s.Value) is not null,
                $"SUPPORT.md:{s.Line}: \"{s.Key}\" has status \"{s.Value}\" (accepted: {string.Join(", ", Levels)})");
        Assert.Contains(statuses, s => s.Feature == "PV guests" && Level(s.Value) == "Not supported");
    }

    [Fact]
    public void EverySupportedFeature_IsCoveredByTestClassesThatExist()
    {
        var (_, statuses) = Parse(SupportMd);
        var supported = statuses.Where(s => s.IsSupported).Select(s => s.Key).ToHashSet();
        var classes = TestClassNames();

        foreach (var key in supported)
        {
            Assert.True(TestsOfSupportedFeatures.TryGetValue(key, out var tests) && tests.Length > 0,
                $"SUPPORT.md marks \"{key}\" Supported but SupportMdTests names no test class for it: add it to TestsOfSupportedFeatures (or lower its status)");
            foreach (var t in tests!)
                Assert.True(classes.Contains(t), $"\"{key}\" is covered by test class {t}, which does not exist under tests/");
        }
        foreach (var key in TestsOfSupportedFeatures.Keys)
            Assert.True(supported.Contains(key), $"SupportMdTests maps \"{key}\", which SUPPORT.md does not mark Supported (renamed or lowered?)");
    }

    /// <summary>Names of the classes declared in tests/**/*.cs (every test project, without building them).</summary>
    private static HashSet<string> TestClassNames()
    {
        var decl = new Regex(@"\bclass\s+(?<name>[A-Za-z_][A-Za-z0-9_]*)", RegexOptions.CultureInvariant);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(RepoRoot, "tests"), "*.cs", SearchOption.AllDirectories))
        {
            string rel = Path.GetRelativePath(RepoRoot, file).Replace('\\', '/');
            if (rel.Contains("/bin/", StringComparison.Ordinal) || rel.Contains("/obj/", StringComparison.Ordinal)) continue;
            string text = File.ReadAllText(file);
            if (!text.Contains("[Fact", StringComparison.Ordinal) && !text.Contains("[Theory", StringComparison.Ordinal)) continue;
            foreach (Match m in decl.Matches(text)) names.Add(m.Groups["name"].Value);
        }
        return names;
    }
}
