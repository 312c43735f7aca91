namespace XenSharp.Scheduling;

/// <summary>
/// A domain as the scheduler sees it: identity, the common per-domain parameters (Xen's
/// credit/credit2 weight and cap) and its vCPUs. Change parameters, then call
/// <see cref="ISchedulerPolicy.AdjustDomain"/> so the policy picks them up.
/// Policy-specific extra parameters live in the policy (typed methods), not here.
/// </summary>
public sealed class SchedDomain
{
    public const int DefaultWeight = 256;
    public const int MinWeight = 1;
    public const int MaxWeight = 65535;

    private readonly List<SchedVcpu> _vcpus = new();
    private int _weight = DefaultWeight;
    private int _cap;

    public SchedDomain(int id, string name, string pool = "Pool-0")
    {
        ArgumentOutOfRangeException.ThrowIfNegative(id);
        Id = id;
        Name = name ?? throw new ArgumentNullException(nameof(name));
        Pool = pool ?? throw new ArgumentNullException(nameof(pool));
    }

    public int Id { get; }
    public string Name { get; }

    /// <summary>The cpupool this domain belongs to (one policy instance per pool).</summary>
    public string Pool { get; set; }

    /// <summary>Proportional share, 1..65535, default 256.</summary>
    public int Weight
    {
        get => _weight;
        set
        {
            if (value is < MinWeight or > MaxWeight)
                throw new ArgumentOutOfRangeException(nameof(Weight), value, $"weight must be in {MinWeight}..{MaxWeight} (default {DefaultWeight})");
            _weight = value;
        }
    }

    /// <summary>
    /// Upper bound in percent of one pCPU (100 = one full pCPU), 0 = no cap;
    /// at most 100 × number of vCPUs.
    /// </summary>
    public int Cap
    {
        get => _cap;
        set
        {
            int max = 100 * Math.Max(1, _vcpus.Count);
            if (value < 0 || value > max)
                throw new ArgumentOutOfRangeException(nameof(Cap), value, $"cap must be in 0..{max} (percent of one pCPU, 100 × {Math.Max(1, _vcpus.Count)} vCPU(s); 0 = no cap)");
            _cap = value;
        }
    }

    public IReadOnlyList<SchedVcpu> Vcpus => _vcpus;

    /// <summary>Scratch slot for the policy owning this domain (Xen's sched_priv).</summary>
    public object? PolicyData { get; set; }

    internal void AddVcpu(SchedVcpu v) => _vcpus.Add(v);

    public override string ToString() => $"d{Id}({Name})";
}
