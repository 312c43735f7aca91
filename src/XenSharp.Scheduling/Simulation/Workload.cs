namespace XenSharp.Scheduling.Simulation;

/// <summary>What a simulated vCPU does. Times in ns.</summary>
public abstract record Workload
{
    private protected Workload() { }

    /// <summary>Always runnable.</summary>
    public static Workload CpuBound { get; } = new CpuBoundWorkload();

    /// <summary>Runs <paramref name="runNs"/> of CPU time, then blocks for <paramref name="blockNs"/> of
    /// wall time (an I/O wait), then wakes; repeat.</summary>
    public static Workload IoLike(long runNs, long blockNs) => new IoLikeWorkload(Positive(runNs), Positive(blockNs));

    /// <summary>Runnable for <paramref name="onNs"/> of wall time (whatever CPU it gets), then blocked for
    /// <paramref name="offNs"/>; repeat.</summary>
    public static Workload Burst(long onNs, long offNs) => new BurstWorkload(Positive(onNs), Positive(offNs));

    /// <summary>Like <see cref="IoLike"/> but each run (CPU ns) and block (wall ns) is drawn uniformly from
    /// [1, 2×mean] with the simulator's seeded random generator.</summary>
    public static Workload Random(long meanRunNs, long meanBlockNs) => new RandomWorkload(Positive(meanRunNs), Positive(meanBlockNs));

    /// <summary>CPU-bound but calls yield after every <paramref name="runNs"/> of CPU time.</summary>
    public static Workload Yielding(long runNs) => new YieldingWorkload(Positive(runNs));

    /// <summary>Blocks the first time it runs and never wakes by itself (see <see cref="Simulator.WakeVcpu"/>).</summary>
    public static Workload Idle { get; } = new IdleWorkload();

    private static long Positive(long ns)
        => ns > 0 ? ns : throw new ArgumentOutOfRangeException(nameof(ns), ns, "workload durations must be > 0 ns");
}

public sealed record CpuBoundWorkload : Workload;
public sealed record IoLikeWorkload(long RunNs, long BlockNs) : Workload;
public sealed record BurstWorkload(long OnNs, long OffNs) : Workload;
public sealed record RandomWorkload(long MeanRunNs, long MeanBlockNs) : Workload;
public sealed record YieldingWorkload(long RunNs) : Workload;
public sealed record IdleWorkload : Workload;
