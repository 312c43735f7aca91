using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor.Accelerator;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Domains;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>
/// Runs the hypercall a vCPU made through its hypercall page: reads the number and arguments
/// from the registers, calls the family's handler, writes the result to RAX. A hypercall from
/// guest user mode (CPL &gt; 0) gets -EPERM, as on Xen for HVM guests; unknown numbers get
/// -ENOSYS. Handlers take every guest pointer through GuestMemory and answer -EFAULT when it
/// is outside the guest. Nothing here allocates.
/// </summary>
public static class HypercallDispatcher
{
    public static void Dispatch(Vcpu vcpu, IVcpu cpu)
    {
        ref X86Registers r = ref cpu.Registers;
        ref readonly X86SpecialRegisters s = ref cpu.SpecialRegisters;
        bool is64 = s.Is64BitMode;
        // CPL: 0 in real mode, 3 in virtual-8086 mode, else CS.RPL.
        int cpl = (s.Cr0 & X86SpecialRegisters.Cr0Pe) == 0 ? 0
                : (r.Rflags & X86Registers.RflagsVm) != 0 ? 3
                : s.Cs.Selector & 3;
        uint number = (uint)r.Rax;

        long result;
        if (cpl != 0)
        {
            result = -XenErrno.EPERM;
        }
        else
        {
            var ctx = is64
                ? new HypercallContext(vcpu, true, r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8)
                : new HypercallContext(vcpu, false, (uint)r.Rbx, (uint)r.Rcx, (uint)r.Rdx, (uint)r.Rsi, (uint)r.Rdi);
            result = Invoke(number, in ctx);
        }
        r.Rax = is64 ? (ulong)result : (uint)(int)result;
        cpu.MarkRegistersDirty();
    }

    /// <summary>
    /// A hypercall from an ARM guest (HVC #0xEA1 at EL1; the CPU makes it UNDEFINED at EL0):
    /// number in x16, arguments in x0–x4, result to x0; layouts are always the 64-bit ones. The
    /// families and sub-operations are those Xen/ARM offers (arch/arm/traps.c): no set_timer_op;
    /// hvm_op only gets and sets parameters; vcpu_op only registers vcpu_info and the runstate
    /// area (vCPUs come up with PSCI) — anything else gets -ENOSYS / -EINVAL as on Xen/ARM.
    /// </summary>
    public static void DispatchArm(Vcpu vcpu, IArmVcpu cpu)
    {
        uint number = (uint)cpu.GetX(Abi.Arm.ArmHypercallConvention.NumberRegister);
        var ctx = new HypercallContext(vcpu, true, cpu.GetX(0), cpu.GetX(1), cpu.GetX(2), cpu.GetX(3), cpu.GetX(4));
        long result = (HypercallNumber)number switch
        {
            HypercallNumber.SetTimerOp => -XenErrno.ENOSYS,
            HypercallNumber.HvmOp when ctx.A1 is not (HvmOp.SetParam or HvmOp.GetParam) => -XenErrno.ENOSYS,
            HypercallNumber.VcpuOp when ctx.A1 is not (VcpuOp.RegisterVcpuInfo or VcpuOp.RegisterRunstateMemoryArea) => -XenErrno.EINVAL,
            _ => Invoke(number, in ctx),
        };
        cpu.SetX(Abi.Arm.ArmHypercallConvention.ResultRegister, (ulong)result);
    }

    /// <summary>The dispatch table: hypercall number → family handler.</summary>
    public static long Invoke(uint number, in HypercallContext ctx) => (HypercallNumber)number switch
    {
        HypercallNumber.XenVersion => XenVersionHypercall.Handle(in ctx),
        HypercallNumber.ConsoleIo => ConsoleIoHypercall.Handle(in ctx),
        HypercallNumber.SchedOp => SchedOpHypercall.Handle(in ctx),
        HypercallNumber.HvmOp => HvmOpHypercall.Handle(in ctx),
        HypercallNumber.MemoryOp => MemoryOpHypercall.Handle(in ctx),
        HypercallNumber.VcpuOp => VcpuOpHypercall.Handle(in ctx),
        HypercallNumber.EventChannelOp => EventChannelOpHypercall.Handle(in ctx),
        HypercallNumber.GrantTableOp => GrantTableOpHypercall.Handle(in ctx),
        HypercallNumber.SetTimerOp => SetTimerOpHypercall.Handle(in ctx),
        _ => -XenErrno.ENOSYS,
    };
}
