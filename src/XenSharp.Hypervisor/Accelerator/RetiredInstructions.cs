namespace XenSharp.Hypervisor.Accelerator;

/// <summary>A software vCPU that counts the guest instructions it executed.</summary>
public interface ICountsInstructions
{
    long InstructionsRetired { get; }
}

/// <summary>
/// The guest instructions all vCPUs of a software accelerator executed (`xl info`): live vCPUs
/// are read when asked; a vCPU leaving adds its count to what the gone ones ran.
/// </summary>
public sealed class RetiredInstructions
{
    private readonly object _lock = new();
    private readonly HashSet<ICountsInstructions> _live = [];
    private long _byGone;

    public long Total
    {
        get
        {
            lock (_lock) return _byGone + _live.Sum(v => v.InstructionsRetired);
        }
    }

    public void Track(ICountsInstructions vcpu)
    {
        lock (_lock) _live.Add(vcpu);
    }

    public void Untrack(ICountsInstructions vcpu)
    {
        lock (_lock)
            if (_live.Remove(vcpu)) _byGone += vcpu.InstructionsRetired;
    }
}
