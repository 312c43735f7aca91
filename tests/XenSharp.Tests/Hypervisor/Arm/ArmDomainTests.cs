using System.Text;
using XenSharp.Abi.Arm;
using XenSharp.Abi.Hypercalls;
using XenSharp.Guests.Arm64;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Memory;
using XenSharp.SoftArm64;

namespace XenSharp.Tests.Hypervisor.Arm;

/// <summary>
/// An ARM domain on the AArch64 accelerator, driven by small programs assembled here: PSCI's
/// answers to good and bad arguments, the hypercall families Xen/ARM does not offer, HVC
/// immediates that are not Xen's, and a CPU stop that crashes the domain (never the host).
/// </summary>
public sealed class ArmDomainTests
{
    private const ulong Code = ArmGuestLayout.Ram0Base;
    private const ulong Results = ArmGuestLayout.Ram0Base + 0x8000;

    /// <summary>One domain running one program on vCPU 0; results are 64-bit slots at <see cref="Results"/>.</summary>
    private sealed class ArmMachine : IDisposable
    {
        private readonly ManualResetEventSlim _down = new();
        public XenHypervisor Hypervisor { get; } = new(new SoftArm64Accelerator());
        public Domain Domain { get; }
        public ShutdownReason? Reason { get; private set; }

        public ArmMachine(Action<A64Assembler> program, int vcpus = 1)
        {
            var memory = GuestMemory.Allocate([(ArmGuestLayout.Ram0Base, 1UL << 20)]);
            Domain = Hypervisor.CreateDomain("arm-test", Guid.NewGuid(), memory, vcpus, 256, 256, GuestArchitecture.Arm64);
            var a = new A64Assembler();
            program(a);
            memory.Write(Code, a.ToArray());
            Domain.ShutdownRequested += (_, r) => { Reason = r; _down.Set(); };
            Domain.Vcpus[0].PendingArmEntry = (Code, 0);
            Domain.Vcpus[0].Initialised = true;
            Domain.Unpause();
        }

        public ShutdownReason Wait()
        {
            Assert.True(_down.Wait(TimeSpan.FromSeconds(20)), "the guest did not shut down");
            return Reason!.Value;
        }

        public ulong Result(int slot)
        {
            Assert.True(Domain.Memory.TryRead(Results + (ulong)slot * 8, out ulong value));
            return value;
        }

        public void Dispose()
        {
            Domain.Destroy();
            Hypervisor.Dispose();
        }
    }

    private static void Psci(A64Assembler a, uint function, ulong x1 = 0, ulong x2 = 0, ulong x3 = 0)
    {
        a.Mov(0, function);
        a.Mov(1, x1);
        a.Mov(2, x2);
        a.Mov(3, x3);
        a.Hvc(0);
    }

    private static void Hypercall(A64Assembler a, HypercallNumber number, ulong x0 = 0, ulong x1 = 0, ulong x2 = 0)
    {
        a.Mov(16, (ulong)number);
        a.Mov(0, x0);
        a.Mov(1, x1);
        a.Mov(2, x2);
        a.Hvc(ArmHypercallConvention.HvcImmediate);
    }

    /// <summary>Stores x0 to result slot <paramref name="slot"/> (x9 holds the base).</summary>
    private static void Store(A64Assembler a, int slot)
    {
        a.Mov(9, Results + (ulong)slot * 8);
        a.Raw(0xF900_0000u | 9u << 5);               // STR X0, [X9]
    }

    private static void PowerOff(A64Assembler a) => Psci(a, PsciFunction.SystemOff);

    [Fact]
    public void Psci_AnswersEachFunctionAsPsci11Says()
    {
        using var m = new ArmMachine(a =>
        {
            Psci(a, PsciFunction.Version); Store(a, 0);
            Psci(a, PsciFunction.Features, PsciFunction.CpuOn64); Store(a, 1);
            Psci(a, PsciFunction.Features, 0x8400_000F); Store(a, 2);
            Psci(a, PsciFunction.CpuOn64, 5, Code, 0); Store(a, 3);            // no vCPU has affinity 5
            Psci(a, PsciFunction.CpuOn64, 1, Code + 2, 0); Store(a, 4);        // entry not 4-byte aligned
            Psci(a, PsciFunction.CpuOn64, 0, Code, 0); Store(a, 5);            // itself: already on
            Psci(a, PsciFunction.AffinityInfo64, 0, 0); Store(a, 6);           // vCPU 0 is on
            Psci(a, PsciFunction.AffinityInfo64, 1, 0); Store(a, 7);           // vCPU 1 is off
            Psci(a, PsciFunction.AffinityInfo64, 0, 4); Store(a, 8);           // no affinity level 4
            Psci(a, PsciFunction.MigrateInfoType); Store(a, 9);
            Psci(a, 0x8400_0077); Store(a, 10);                                // not a PSCI function
            PowerOff(a);
        }, vcpus: 2);
        Assert.Equal(ShutdownReason.Poweroff, m.Wait());
        Assert.Equal(0x1_0001UL, m.Result(0));
        Assert.Equal(0UL, m.Result(1));
        Assert.Equal(0xFFFF_FFFFUL, m.Result(2));                  // NOT_SUPPORTED as a 32-bit result
        Assert.Equal(unchecked((ulong)PsciFunction.InvalidParameters), m.Result(3));
        Assert.Equal(unchecked((ulong)PsciFunction.InvalidAddress), m.Result(4));
        Assert.Equal(unchecked((ulong)PsciFunction.AlreadyOn), m.Result(5));
        Assert.Equal(0UL, m.Result(6));
        Assert.Equal(1UL, m.Result(7));
        Assert.Equal(unchecked((ulong)PsciFunction.InvalidParameters), m.Result(8));
        Assert.Equal(2UL, m.Result(9));
        Assert.Equal(0xFFFF_FFFFUL, m.Result(10));
        Assert.Equal(VcpuState.Offline, m.Domain.Vcpus[1].State);
    }

    [Fact]
    public void SystemReset_RebootsTheDomain()
    {
        using var m = new ArmMachine(a => Psci(a, PsciFunction.SystemReset));
        Assert.Equal(ShutdownReason.Reboot, m.Wait());
    }

    [Fact]
    public void Hypercalls_XenArmLacks_FailAsOnXenArm_AndCapabilitiesSayAArch64()
    {
        const ulong caps = Results + 0x100;
        using var m = new ArmMachine(a =>
        {
            Hypercall(a, HypercallNumber.SetTimerOp, 1); Store(a, 0);
            Hypercall(a, HypercallNumber.VcpuOp, VcpuOp.Initialise, 0, Results + 0x200); Store(a, 1);
            Hypercall(a, HypercallNumber.HvmOp, HvmOp.SetEvtchnUpcallVector, Results + 0x200); Store(a, 2);
            Hypercall(a, (HypercallNumber)99); Store(a, 3);
            Hypercall(a, HypercallNumber.XenVersion, XenVersionOp.Capabilities, caps); Store(a, 4);
            PowerOff(a);
        });
        Assert.Equal(ShutdownReason.Poweroff, m.Wait());
        Assert.Equal(unchecked((ulong)-XenErrno.ENOSYS), m.Result(0));
        Assert.Equal(unchecked((ulong)-XenErrno.EINVAL), m.Result(1));
        Assert.Equal(unchecked((ulong)-XenErrno.ENOSYS), m.Result(2));
        Assert.Equal(unchecked((ulong)-XenErrno.ENOSYS), m.Result(3));
        Assert.Equal(0UL, m.Result(4));
        Assert.True(m.Domain.Memory.TryGetSpan(caps, HypervisorVersion.ArmCapabilities.Length, out var text));
        Assert.Equal(HypervisorVersion.ArmCapabilities, Encoding.ASCII.GetString(text));
    }

    [Fact]
    public void HvcWithAnotherImmediate_IsUndefinedForTheGuest()
    {
        // VBAR_EL1 → a handler at Code + 0x800 that stores ESR_EL1 and ELR_EL1, then powers off.
        using var m = new ArmMachine(a =>
        {
            var vectors = a.NewLabel();
            var hvc = a.NewLabel();
            a.Adr(0, vectors);
            a.MsrVbarEl1(0);
            a.Bind(hvc);
            a.Hvc(0x1234);
            PowerOff(a);                                // not reached
            a.AlignTo(0x800);
            a.Bind(vectors);
            a.AlignTo(0x800 + 0x200);                   // current EL, SP_ELx, synchronous
            a.Raw(0xD538_5200u);                        // MRS X0, ESR_EL1
            Store(a, 0);
            a.MrsElrEl1(0);
            Store(a, 1);
            PowerOff(a);
        });
        Assert.Equal(ShutdownReason.Poweroff, m.Wait());
        Assert.Equal(0UL, m.Result(0) >> 26);           // EC 0: UNDEFINED
        Assert.Equal(Code + 2 * 4, m.Result(1));        // at the HVC (after ADR, MSR)
    }

    [Fact]
    public void AnInstructionTheCpuCannotRun_CrashesTheDomainWithTheCpusWords()
    {
        using var m = new ArmMachine(a =>
        {
            a.Mov(0, 0x3C9);                            // SPSR: EL2h
            a.Raw(0xD518_4000u);                        // MSR SPSR_EL1, X0
            a.Eret();
        });
        Assert.Equal(ShutdownReason.Crash, m.Wait());
        Assert.Contains("ERET to EL2", m.Domain.CrashDetail);
    }
}

/// <summary>The built-in AArch64 demo is an arm64 Image a loader and xl recognise.</summary>
public sealed class Arm64DemoGuestTests
{
    [Fact]
    public void Demo_is_an_arm64_Image_at_text_offset_0x80000()
    {
        byte[] image = XenSharp.Guests.BuiltinGuests.TryGet("builtin:arm64-demo")!;
        Assert.Equal(XenSharp.Boot.Arm64.BootImageKind.Arm64, XenSharp.Boot.Arm64.BootImageArchitecture.Detect(image));
        Assert.True(XenSharp.Boot.Arm64.Arm64ImageHeader.HasMagic(image));
        Assert.Equal(Arm64DemoGuest.TextOffset, BitConverter.ToUInt64(image, 8));
        Assert.Equal(0x1400_0010u, BitConverter.ToUInt32(image, 0));   // code0: B over the 64-byte header
    }
}
