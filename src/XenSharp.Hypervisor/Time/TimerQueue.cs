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
            // The thread sleeps until the earliest deadline (stale entries included): wake it only
            // when this one comes before that, so re-arming a far timeout (SCHEDOP_poll's) costs no
            // thread switch.
            bool earliest = !_heap.TryPeek(out _, out long head) || deadlineNs < head;
            _heap.Enqueue((timer, generation), deadlineNs);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "xen-timers" };
                _thread.Start();
            }
            if (earliest) Monitor.Pulse(_lock);
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
