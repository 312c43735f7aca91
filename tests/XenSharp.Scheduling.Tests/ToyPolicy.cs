namespace XenSharp.Scheduling.Tests;

/// <summary>A global round-robin policy (1 ms slices) with switchable bugs, to test the simulator.</summary>
public sealed class ToyPolicy(ToyPolicy.Bug bug = ToyPolicy.Bug.None) : ISchedulerPolicy
{
    public enum Bug { None, AlwaysFirst, IgnoreAffinity, RunBlocked }

    private readonly List<SchedVcpu> _queue = new(64);
    private readonly List<SchedVcpu> _all = new(64);
    private CpuMask _online;

    public string Name => "toy-" + bug;
    public long NextTimerAt => long.MaxValue;
    public void AddPcpu(int pcpu, long now, ref CpuMask tickle) { _online.Set(pcpu); tickle.Set(pcpu); }
    public bool CanRemovePcpu(int pcpu) => true;
    public void RemovePcpu(int pcpu, long now, ref CpuMask tickle) => _online.Clear(pcpu);
    public void InsertVcpu(SchedVcpu v, long now, ref CpuMask tickle) => _all.Add(v);
    public void RemoveVcpu(SchedVcpu v, long now, ref CpuMask tickle) { _all.Remove(v); _queue.Remove(v); }
    public void Sleep(SchedVcpu v, long now, ref CpuMask tickle) => _queue.Remove(v);
    public void Wake(SchedVcpu v, long now, ref CpuMask tickle) { if (!_queue.Contains(v)) _queue.Add(v); tickle.Or(_online); }
    public void Yield(SchedVcpu v, long now) { }
    public void SetAffinity(SchedVcpu v, in CpuMask hard, in CpuMask soft, long now, ref CpuMask tickle)
    {
        v.SetAffinityMasks(hard, soft);
        if (v.Processor >= 0) tickle.Set(v.Processor);
    }
    public void AdjustDomain(SchedDomain d, long now, ref CpuMask tickle) { }
    public void OnTimer(long now, ref CpuMask tickle) { }

    public ScheduleDecision Schedule(int pcpu, long now, SchedVcpu? prev, ref CpuMask tickle)
    {
        if (bug == Bug.AlwaysFirst && _all.Count > 0) return new ScheduleDecision(_all[0], 1_000_000);
        if (bug == Bug.RunBlocked && prev != null) return new ScheduleDecision(prev, 1_000_000);
        if (prev != null && prev.IsRunnable && !_queue.Contains(prev)) _queue.Add(prev);
        for (int i = 0; i < _queue.Count; i++)
        {
            var v = _queue[i];
            if (bug != Bug.IgnoreAffinity && !v.HardAffinity.Contains(pcpu)) continue;
            if (v.Processor >= 0 && v.Processor != pcpu) continue;
            _queue.RemoveAt(i);
            return new ScheduleDecision(v, 1_000_000);
        }
        return ScheduleDecision.Idle;
    }
}
