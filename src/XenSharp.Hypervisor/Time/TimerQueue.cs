namespace XenSharp.Hypervisor.Time;

/// <summary>
/// All of a hypervisor's timers in one deadline-ordered heap, serviced by a single background
/// thread that sleeps until the earliest deadline (on <see cref="HostClock"/>), then runs the
/// expired timers in deadline order. Re-arming or stopping a timer leaves its old heap entry
/// behind; the entry carries the timer's generation and is dropped when it no longer matches.
/// </summary>
public sealed class TimerQueue : IDisposable
{
    private readonly PriorityQueue<(VcpuTimer Timer, long Generation), long> _heap = new();
    private readonly object _lock = new();
    private Thread? _thread;
    private bool _disposed;

    /// <summary>Heap entries, live or stale (for tests).</summary>
    public int Count
    {
        get { lock (_lock) return _heap.Count; }
    }

    internal void Schedule(VcpuTimer timer, long generation, long deadlineNs)
    {
        lock (_lock)
        {
            if (_disposed) return;
            _heap.Enqueue((timer, generation), deadlineNs);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "xen-timers" };
                _thread.Start();
            }
            Monitor.Pulse(_lock);
        }
    }

    private void Run()
    {
        while (true)
        {
            VcpuTimer due;
            long generation;
            lock (_lock)
            {
                while (true)
                {
                    if (_disposed) return;
                    if (!_heap.TryPeek(out var entry, out long deadline))
                    {
                        Monitor.Wait(_lock);
                        continue;
                    }
                    if (entry.Timer.Generation != entry.Generation)
                    {
                        _heap.Dequeue(); // stopped or re-armed since
                        continue;
                    }
                    long wait = deadline - HostClock.NowNs();
                    if (wait <= 0)
                    {
                        _heap.Dequeue();
                        (due, generation) = entry;
                        break;
                    }
                    Monitor.Wait(_lock, (int)Math.Min(int.MaxValue, (wait + 999_999) / 1_000_000));
                }
            }
            try
            {
                due.Expire(generation);
            }
            catch (ObjectDisposedException)
            {
                // The timer's domain went away while it expired.
            }
        }
    }

    public void Dispose()
    {
        Thread? t;
        lock (_lock)
        {
            _disposed = true;
            _heap.Clear();
            Monitor.PulseAll(_lock);
            t = _thread;
        }
        if (t is not null && t != Thread.CurrentThread) t.Join();
    }
}

/// <summary>
/// A one-shot timer on a <see cref="TimerQueue"/> (a vCPU's singleshot timer). Arming it again
/// replaces the previous deadline; the callback runs once per arming, on the queue's thread.
/// </summary>
public sealed class VcpuTimer(TimerQueue queue, Action onExpire)
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
    /// expiry is running (the domain may then release its memory). The callback must not set
    /// or stop this timer.
    /// </summary>
    internal void Expire(long generation)
    {
        lock (_lock)
        {
            if (generation != _generation || !_armed) return;
            _armed = false;
            onExpire();
        }
    }
}
