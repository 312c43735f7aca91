using System.Globalization;
using System.Text;

namespace XenSharp.Scheduling.Simulation;

/// <summary>One Schedule call as the simulator applied it.</summary>
public readonly record struct SimDecision(long Now, int Pcpu, SchedVcpu? Prev, SchedVcpu? Next, long SliceNs);

/// <summary>Thrown when a policy breaks the scheduling contract.</summary>
public sealed class SchedulerInvariantException(string message) : InvalidOperationException(message);

/// <param name="CpuNs">Time spent running.</param>
/// <param name="SharePercent">Share of all CPU time consumed by guests.</param>
/// <param name="UtilizationPercent">CPU time / elapsed time × 100 (100 = one full pCPU, like xentop).</param>
public sealed record VcpuReport(SchedVcpu Vcpu, long CpuNs, long RunnableNs, long BlockedNs, long OfflineNs,
    double SharePercent, double UtilizationPercent, long Runs, long Migrations)
{
    public string Name => Vcpu.ToString();
}

public sealed record DomainReport(SchedDomain Domain, long CpuNs, double SharePercent, double UtilizationPercent,
    long Migrations, IReadOnlyList<VcpuReport> Vcpus)
{
    public string Name => Domain.Name;
}

/// <summary>Cumulative results from virtual time 0 to <see cref="ElapsedNs"/>.</summary>
public sealed record SimulationReport(string Policy, long ElapsedNs, int Pcpus, long Decisions, long Migrations,
    long BusyNs, long IdleNs, IReadOnlyList<DomainReport> Domains, IReadOnlyList<VcpuReport> Vcpus)
{
    public DomainReport Domain(string name) => Domains.Single(d => d.Name == name);
    public VcpuReport Vcpu(SchedVcpu v) => Vcpus.Single(r => ReferenceEquals(r.Vcpu, v));

    public override string ToString()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"policy={Policy} elapsed={ElapsedNs}ns pcpus={Pcpus} decisions={Decisions} migrations={Migrations} busy={BusyNs}ns idle={IdleNs}ns");
        foreach (var d in Domains)
        {
            sb.AppendLine(ci, $"  {d.Name,-16} cpu={d.CpuNs,14}ns share={d.SharePercent,6:F2}% util={d.UtilizationPercent,7:F2}% migr={d.Migrations}");
            foreach (var v in d.Vcpus)
                sb.AppendLine(ci, $"    {v.Name,-14} cpu={v.CpuNs,14}ns share={v.SharePercent,6:F2}% util={v.UtilizationPercent,7:F2}% runnable={v.RunnableNs}ns blocked={v.BlockedNs}ns runs={v.Runs} migr={v.Migrations}");
        }
        return sb.ToString();
    }
}
