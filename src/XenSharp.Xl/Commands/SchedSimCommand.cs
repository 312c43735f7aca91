using XenSharp.Scheduling.Simulation;
using XenSharp.Toolstack.Config;
using XenSharp.Toolstack.Scheduling;

namespace XenSharp.Xl.Commands;

/// <summary>
/// `xl sched-sim SCENARIO`: runs a scheduling scenario (xl.cfg syntax, see <see cref="SimScenario"/>)
/// in the deterministic simulator inside the xl process (no daemon) and prints per-domain shares
/// and utilisation and per-vCPU runnable/blocked time. Exit 0, or 1 on a bad file.
/// </summary>
public static class SchedSimCommand
{
    public const string Usage = "xl sched-sim <ScenarioFile>";

    public const string Details = """
        ScenarioFile  xl.cfg syntax:
                        sched = "credit2"    credit2 | credit | null (default credit2)
                        pcpus = 2            1..64 (default 1)
                        seconds = 10         virtual seconds, 1..3600 (default 10)
                        seed = 1             (default 1)
                        domains = [ "name=web,weight=512,cap=0,vcpus=2,workload=cpu,cpus=0-1",
                                    "name=batch,workload=io:200us:1ms" ]
                      workload: cpu | io:RUN:BLOCK | burst:ON:OFF | random:RUN:BLOCK
                      (units ns, us, ms, s). See examples/sched-sim/.
        """;

    public static int Run(string[] args)
    {
        string? file = null;
        foreach (var a in args)
        {
            if (a.StartsWith('-') && a != "-") throw new XlUsageException($"xl sched-sim: unknown option '{a}' (usage: {Usage})");
            if (file is not null) throw new XlUsageException($"xl sched-sim: one scenario file expected (usage: {Usage})");
            file = a;
        }
        if (file is null) throw new XlUsageException($"xl sched-sim: missing scenario file (usage: {Usage})");
        SimScenario scenario;
        try
        {
            scenario = SimScenario.ParseFile(file);
        }
        catch (XlConfigException e)
        {
            return XlMain.Fail($"xl sched-sim: {e.Message}");
        }
        SimulationReport report;
        try
        {
            report = scenario.Run();
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            return XlMain.Fail($"xl sched-sim: {file}: the simulation failed: {e.Message}");
        }
        Console.Out.Write(scenario.Format(report));
        return ExitCodes.Success;
    }
}
