using Iced.Intel;

namespace XenSharp.X86Emulation;

/// <summary>
/// Per-mnemonic counts of emulated instructions by outcome. Increments are Interlocked adds into
/// preallocated arrays indexed by Iced's <see cref="Mnemonic"/> (thread-safe, no allocation);
/// <see cref="Snapshot"/> builds a dictionary only when someone wants to print it.
/// </summary>
public sealed class EmulationCounters
{
    private static readonly int Count = Enum.GetValues<Mnemonic>().Length + 1;
    private readonly long[] _completed = new long[Count];
    private readonly long[] _faulted = new long[Count];
    private readonly long[] _unsupported = new long[Count];

    internal void Record(Mnemonic mnemonic, EmulationOutcome outcome)
    {
        int i = (int)mnemonic;
        if ((uint)i >= (uint)Count) i = 0;
        var array = outcome switch
        {
            EmulationOutcome.Completed => _completed,
            EmulationOutcome.Unsupported => _unsupported,
            _ => _faulted,
        };
        Interlocked.Increment(ref array[i]);
    }

    /// <summary>Non-zero counts keyed "MNEMONIC" (completed), "MNEMONIC/fault", "MNEMONIC/unsupported"; "INVALID" = undecodable.</summary>
    public IReadOnlyDictionary<string, long> Snapshot()
    {
        var result = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < Count; i++)
        {
            string name = ((Mnemonic)i).ToString().ToUpperInvariant();
            Add(name, Volatile.Read(ref _completed[i]));
            Add(name + "/fault", Volatile.Read(ref _faulted[i]));
            Add(name + "/unsupported", Volatile.Read(ref _unsupported[i]));
        }
        return result;

        void Add(string key, long value) { if (value != 0) result[key] = value; }
    }

    public long Completed(Mnemonic mnemonic) => Volatile.Read(ref _completed[(int)mnemonic]);
    public long Faulted(Mnemonic mnemonic) => Volatile.Read(ref _faulted[(int)mnemonic]);
    public long Unsupported(Mnemonic mnemonic) => Volatile.Read(ref _unsupported[(int)mnemonic]);
}
