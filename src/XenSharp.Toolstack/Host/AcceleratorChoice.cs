using XenSharp.Hypervisor.Accelerator;
using XenSharp.Kvm;
using XenSharp.SoftX86;

namespace XenSharp.Toolstack.Host;

/// <summary>
/// Which accelerator runs guests, from the boot parameter <c>accel=</c>:
/// <list type="bullet">
/// <item><c>auto</c> (default): KVM when /dev/kvm can be opened, else XenSharp's software x86 CPU;</item>
/// <item><c>kvm</c>: KVM or an error saying why it cannot be had;</item>
/// <item><c>soft-x86</c>: the software CPU even where KVM exists.</item>
/// </list>
/// </summary>
public static class AcceleratorChoice
{
    public const string Auto = "auto";

    public static IReadOnlyList<string> Names { get; } = [Auto, "kvm", SoftX86Accelerator.AcceleratorName];

    /// <summary>Opens the chosen accelerator; throws <see cref="KvmUnavailableException"/> when accel=kvm and KVM cannot be had.</summary>
    public static IAccelerator Open(string choice)
    {
        switch (choice)
        {
            case "kvm":
                return KvmAccelerator.Open();
            case SoftX86Accelerator.AcceleratorName:
                return new SoftX86Accelerator();
            default:
                return KvmAvailability() is null ? KvmAccelerator.Open() : new SoftX86Accelerator();
        }
    }

    /// <summary>Null when KVM can be opened here, else why not (one sentence).</summary>
    public static string? KvmAvailability()
    {
        try
        {
            KvmAccelerator.Open().Dispose();
            return null;
        }
        catch (KvmUnavailableException e)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// For `xl info`: each accelerator this host offers, or why it does not, with the guests it
    /// runs. AArch64 guests always run on XenSharp's AArch64 CPU (soft-arm64), whatever accel= says.
    /// </summary>
    public static string Describe()
    {
        string? kvm = KvmAvailability();
        return (kvm is null ? "kvm (x86)" : $"kvm (x86; unavailable: {kvm.TrimEnd('.')})")
               + $", {SoftX86Accelerator.AcceleratorName} (x86), {XenSharp.SoftArm64.SoftArm64Accelerator.AcceleratorName} (aarch64)";
    }
}
