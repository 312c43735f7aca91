using XenSharp.Abi.Arm;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Arm;

/// <summary>
/// PSCI 1.1 for ARM guests, as Xen's vpsci offers it through <c>HVC #0</c> (ARM DEN 0022; SMCCC
/// function id in w0, arguments in x1–x3, result in x0):
/// <list type="bullet">
/// <item>CPU_ON (32/64): brings up the offline vCPU whose MPIDR affinity is x1 at entry x2 with
/// x0 = context x3, in the reset state (EL1h, DAIF masked, MMU off); INVALID_PARAMETERS for an
/// affinity no vCPU has, ALREADY_ON for a vCPU that is not offline;</item>
/// <item>CPU_OFF: the calling vCPU goes offline (CPU_ON may start it again);</item>
/// <item>AFFINITY_INFO (32/64): ON (0) when some vCPU at that affinity (bits below the given
/// level ignored) is not offline, OFF (1) otherwise;</item>
/// <item>CPU_SUSPEND: a standby — blocks like WFI — then SUCCESS;</item>
/// <item>SYSTEM_OFF / SYSTEM_RESET: the domain shuts down (poweroff / reboot);</item>
/// <item>PSCI_VERSION 1.1, MIGRATE_INFO_TYPE 2 (no Trusted OS to migrate), PSCI_FEATURES (0 for each
/// of the above, NOT_SUPPORTED otherwise), SMCCC_VERSION 1.1; anything else NOT_SUPPORTED.</item>
/// </list>
/// The 32-bit (0x84…) ids take their arguments' low 32 bits.
/// </summary>
public static class Psci
{
    /// <summary>SMCCC_VERSION and the version it reports (1.1).</summary>
    public const uint SmcccVersion = 0x8000_0000, SmcccVersion11 = 0x1_0001;

    public static void Handle(Vcpu vcpu, IArmVcpu cpu)
    {
        uint function = (uint)cpu.GetX(0);
        bool smc32 = (function & 0x4000_0000) == 0;
        ulong Arg(int n) => smc32 ? (uint)cpu.GetX(n) : cpu.GetX(n);
        long result;
        switch (function)
        {
            case PsciFunction.Version:
                result = PsciFunction.XenVersion;
                break;
            case SmcccVersion:
                result = SmcccVersion11;
                break;
            case PsciFunction.CpuOn32:
            case PsciFunction.CpuOn64:
                result = CpuOn(vcpu.Domain, Arg(1), Arg(2), Arg(3));
                break;
            case PsciFunction.CpuOff:
                vcpu.GoOffline();
                return;
            case PsciFunction.AffinityInfo32:
            case PsciFunction.AffinityInfo64:
                result = AffinityInfo(vcpu.Domain, Arg(1), Arg(2));
                break;
            case PsciFunction.CpuSuspend32:
            case PsciFunction.CpuSuspend64:
                vcpu.Block();
                result = PsciFunction.Success;
                break;
            case PsciFunction.MigrateInfoType:
                result = 2; // Trusted OS not present (or does not need migration)
                break;
            case PsciFunction.SystemOff:
                vcpu.Domain.Shutdown(ShutdownReason.Poweroff);
                return;
            case PsciFunction.SystemReset:
                vcpu.Domain.Shutdown(ShutdownReason.Reboot);
                return;
            case PsciFunction.Features:
                result = IsImplemented((uint)cpu.GetX(1)) ? PsciFunction.Success : PsciFunction.NotSupported;
                break;
            default:
                result = PsciFunction.NotSupported;
                break;
        }
        cpu.SetX(0, smc32 ? (uint)(int)result : (ulong)result);
    }

    private static bool IsImplemented(uint function) => function is
        PsciFunction.Version or PsciFunction.CpuOn32 or PsciFunction.CpuOn64 or PsciFunction.CpuOff or
        PsciFunction.AffinityInfo32 or PsciFunction.AffinityInfo64 or PsciFunction.CpuSuspend32 or
        PsciFunction.CpuSuspend64 or PsciFunction.MigrateInfoType or PsciFunction.SystemOff or
        PsciFunction.SystemReset or PsciFunction.Features or SmcccVersion;

    /// <summary>MPIDR_EL1's affinity fields (Aff3 in 39:32, Aff2..Aff0 in 23:0).</summary>
    private const ulong AffinityMask = 0xFF_00FF_FFFF;

    private static Vcpu? FindByAffinity(Domain domain, ulong affinity)
    {
        foreach (var v in domain.Vcpus)
            if (v.ArmCpu is { } c && c.Affinity == (affinity & AffinityMask)) return v;
        return null;
    }

    private static long CpuOn(Domain domain, ulong target, ulong entry, ulong context)
    {
        if (FindByAffinity(domain, target) is not { } v) return PsciFunction.InvalidParameters;
        if ((entry & 3) != 0) return PsciFunction.InvalidAddress;
        if (!v.TryBringUpArm(entry, context)) return PsciFunction.AlreadyOn;
        return PsciFunction.Success;
    }

    private static long AffinityInfo(Domain domain, ulong target, ulong level)
    {
        if (level > 3) return PsciFunction.InvalidParameters;
        // Level n ignores Aff0..Aff(n-1); level 3 compares nothing below Aff3.
        ulong mask = level switch { 0 => AffinityMask, 1 => AffinityMask & ~0xFFUL, 2 => AffinityMask & ~0xFFFFUL, _ => 0xFF_0000_0000UL };
        bool any = false, on = false;
        foreach (var v in domain.Vcpus)
        {
            if (v.ArmCpu is not { } c || (c.Affinity & mask) != (target & mask)) continue;
            any = true;
            on |= v.State != VcpuState.Offline;
        }
        if (!any) return PsciFunction.InvalidParameters;
        return on ? 0 : 1;
    }
}
