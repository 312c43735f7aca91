namespace XenSharp.Scheduling.Pools;

/// <summary>A cpupool operation that Xen would refuse; the message says why and what to do.</summary>
public sealed class CpuPoolException(string message) : InvalidOperationException(message);

/// <summary>One row of <c>xl cpupool-list</c>: Name, CPUs (count), Sched, Active, Domain count
/// (and the pCPU list that <c>xl cpupool-list -c</c> prints).</summary>
public sealed record CpuPoolInfo(string Name, int Id, int CpuCount, string Sched, bool Active, int DomainCount, CpuMask Cpus);

/// <summary>A cpupool: a named set of pCPUs with its own scheduling policy instance.
/// Changed only through <see cref="CpuPoolSet"/>.</summary>
public sealed class CpuPool
{
    private CpuMask _cpus;
    internal readonly List<SchedDomain> DomainList = new();

    internal CpuPool(int id, string name, ISchedulerPolicy policy)
    {
        Id = id;
        Name = name;
        Policy = policy;
    }

    /// <summary>Pool id (Pool-0 is 0; others count up from 1, as Xen's poolids).</summary>
    public int Id { get; }
    public string Name { get; }

    /// <summary>The pool's own policy instance (e.g. to set its credit/credit2 parameters).</summary>
    public ISchedulerPolicy Policy { get; }

    /// <summary>Scheduler name ("credit", "credit2", "null").</summary>
    public string Scheduler => Policy.Name;

    /// <summary>pCPUs owned by this pool.</summary>
    public CpuMask Cpus => _cpus;

    /// <summary>Domains with vCPUs in this pool.</summary>
    public IReadOnlyList<SchedDomain> Domains => DomainList;

    internal void AddCpu(int cpu) => _cpus.Set(cpu);
    internal void RemoveCpu(int cpu) => _cpus.Clear(cpu);

    public override string ToString() => $"{Name}(sched={Scheduler}, cpus={_cpus}, domains={DomainList.Count})";
}
