using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Parameters;

namespace XenSharp.Toolstack.Daemon;

/// <summary>
/// The daemon's boot parameters: <see cref="StatePaths.ParametersFile"/> (xensharpd.conf, xl.cfg
/// syntax, a missing file means defaults) and then the daemon's command line
/// (`xl daemon -- NAME=VALUE ...`, which wins). Every parameter of
/// <see cref="HypervisorParameters"/> may be set in either:
/// <code>
///   loglvl = "all"
///   gnttab_max_frames = 32
///   conring_size = "64k"
///   # xenstored quotas, as xenstored's -Q name=value (0 turns a check off)
///   xenstore_quota = [ "nodes=1000", "watches=128", "transactions=10", "outstanding=20",
///                      "transaction-nodes=1024", "node-permissions=5", "path-max=2048",
///                      "node-size=2048" ]
/// </code>
/// A file setting NAME = VALUE is the assignment NAME=VALUE; a list (xenstore_quota) joins
/// its items with commas. A bad value stops the daemon with an error naming the file, line and
/// what is accepted. The live parameters can be changed later with `xl set-parameters`.
/// </summary>
public sealed record DaemonParameters(IReadOnlyList<string> FileAssignments, IReadOnlyList<string> CommandLine)
{
    public static DaemonParameters Default { get; } = new([], []);

    /// <summary>
    /// Reads and checks the file and the command line: <see cref="XlConfigException"/> for a bad
    /// file setting (with its location), <see cref="ParameterException"/> for a bad command-line one.
    /// </summary>
    public static DaemonParameters Load(string path, IReadOnlyList<string>? commandLine = null)
    {
        var registry = HypervisorParameters.CreateRegistry();
        var fromFile = new List<string>();
        if (File.Exists(path))
        {
            var file = XlConfigParser.ParseFile(path);
            foreach (var setting in file.Settings)
            {
                string value = setting.Value is XlList list
                    ? string.Join(",", list.Items.Select(i => i.ScalarText ?? i.ToString()))
                    : setting.Value.ScalarText ?? setting.Value.ToString();
                string assignment = $"{setting.Key}={value}";
                try
                {
                    registry.ApplyBoot([assignment]);
                }
                catch (ParameterException e)
                {
                    throw new XlConfigException($"{setting.Location}: {e.Message}");
                }
                fromFile.Add(assignment);
            }
        }
        var args = commandLine ?? [];
        registry.Check(args, live: false);
        return new DaemonParameters(fromFile, args.ToList());
    }

    /// <summary>A registry holding these parameters (file first, then the command line).</summary>
    public ParameterRegistry CreateRegistry()
    {
        var registry = HypervisorParameters.CreateRegistry();
        registry.ApplyBoot(FileAssignments.Concat(CommandLine));
        return registry;
    }

    /// <summary>The quotas as "name=value" pairs for `xl info`.</summary>
    public static string Describe(XenSharp.XenStore.XenStoreQuotas q) =>
        string.Join(" ", XenSharp.XenStore.XenStoreQuotas.Names.Select(n => $"{n}={q.Get(n)}"));
}
