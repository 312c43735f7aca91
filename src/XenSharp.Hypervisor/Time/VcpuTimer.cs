namespace XenSharp.Hypervisor.Time;

/// <summary>
/// A one-shot timer on a <see cref="TimerQueue"/> (a vCPU's singleshot timer). Arming it again
/// replaces the previous deadline; the callback runs once per arming, on the queue's thread —
/// under the timer's lock by default (so Stop waits for a running expiry), or outside it with
/// <c>expireUnderLock: false</c> for owners that arm the timer while holding a lock the
/// callback takes (the scheduler): they must tolerate a late expiry after Stop.
/// </summary>
public sealed class VcpuTimer(TimerQueue queue, Action onExpire, bool expireUnderLock = true)
{
    private readonly object _lock = new();
    private long _generation;
    private bool _armed;

    internal long Generation => Volatile.Read(ref _generation);

    /// <summary>Whether the timer is armed and has not expired yet.</summary>
    public bool IsArmed
    {
        get { lock (_lock) return _armed; }
    }

    /// <summary>The deadline of the armed timer on <see cref="HostClock"/>.</summary>
    public long Deadline { get; private set; }

    /// <summary>Arms (or re-arms) the timer for <paramref name="deadlineNs"/> on <see cref="HostClock"/>; a past deadline expires at once.</summary>
    public void Set(long deadlineNs)
    {
        long generation;
        lock (_lock)
        {
            generation = Interlocked.Increment(ref _generation);
            _armed = true;
            Deadline = deadlineNs;
        }
        queue.Schedule(this, generation, deadlineNs);
    }

    /// <summary>Disarms the timer; waits for an expiry already running to finish.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            Interlocked.Increment(ref _generation);
            _armed = false;
        }
    }

    /// <summary>
    /// Runs the callback under the timer's lock, so that once <see cref="Stop"/> returns no
    /// expiry is running (the domain may then release its memory). The callback may re-arm
    /// this timer (the lock is re-entrant; periodic timers do), but must not wait for others.
    /// </summary>
    internal void Expire(long generation)
    {
        lock (_lock)
        {
            if (generation != _generation || !_armed) return;
            _armed = false;
            if (expireUnderLock)
            {
                onExpire();
                return;
            }
        }
        onExpire(); // the owner takes its own lock, which it also holds while arming this timer
    }
}
