namespace XenSharp.Scheduling.Pools;

/// <summary>
/// Creates scheduling policies from Xen's scheduler names (sched= / cpupool "sched" key):
/// "credit" → <see cref="CreditScheduler"/>, "credit2" → <see cref="Credit2Scheduler"/> (its default
/// runqueue arrangement and topology), "null" → <see cref="NullScheduler"/>, each with default
/// parameters. <see cref="Register"/> replaces a constructor or adds a scheduler (the hook for
/// non-default parameters, e.g. a credit2 topology, or any further policy).
/// </summary>
public static class SchedulerFactory
{
    private static readonly object Gate = new();
    private static readonly Dictionary<string, Func<ISchedulerPolicy>> Registered = new(StringComparer.Ordinal);

    /// <summary>Scheduler names Xen knows, in xl's order.</summary>
    public static IReadOnlyList<string> KnownNames { get; } = ["credit", "credit2", "null"];

    /// <summary>Registers (or replaces) the constructor used for <paramref name="name"/>.</summary>
    public static void Register(string name, Func<ISchedulerPolicy> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(create);
        lock (Gate) Registered[name] = create;
    }

    /// <summary>True if <see cref="Create"/> can make a policy named <paramref name="name"/> in this build.</summary>
    public static bool IsAvailable(string name) => TryGetConstructor(name, out _);

    /// <summary>Names available in this build.</summary>
    public static IReadOnlyList<string> AvailableNames
    {
        get
        {
            var l = new List<string>();
            lock (Gate) l.AddRange(Registered.Keys);
            foreach (var n in KnownNames) if (!l.Contains(n) && IsAvailable(n)) l.Add(n);
            return l;
        }
    }

    /// <summary>A new policy instance; throws <see cref="ArgumentException"/> naming what is available.</summary>
    public static ISchedulerPolicy Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (TryGetConstructor(name, out var create)) return create();
        throw new ArgumentException($"unknown scheduler \"{name}\"; available: {string.Join(", ", AvailableNames)}", nameof(name));
    }

    private static bool TryGetConstructor(string name, out Func<ISchedulerPolicy> create)
    {
        lock (Gate)
        {
            if (Registered.TryGetValue(name, out var r)) { create = r; return true; }
        }
        switch (name)
        {
            case "credit": create = static () => new CreditScheduler(); return true;
            case "null": create = static () => new NullScheduler(); return true;
            case "credit2": create = static () => new Credit2Scheduler(); return true;
        }
        create = null!;
        return false;
    }
}
