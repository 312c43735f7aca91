using System.Text;
using Iced.Intel;
using XenSharp.Abi.Hypercalls;
using XenSharp.Abi.X86;
using XenSharp.Guests.Elf;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.Guests;

/// <summary>
/// The built-in demo guest: a PVH kernel of a few hundred bytes assembled here with Iced, so
/// the demo needs no external toolchain. It does what any Xen guest does first:
/// finds Xen through CPUID (signature scan from 0x40000000), asks for the hypercall page
/// through the MSR CPUID names, asks xen_version for the version and extraversion, learns
/// its domain id from the HVM CPUID leaf, then writes
/// <c>XenSharp demo: hello from domain N, running on Xen X.Y.extra</c>
/// to the PV console ring (HVM_PARAM_CONSOLE_PFN/EVTCHN, then EVTCHNOP_send) and to
/// console_io (the hypervisor log), and powers off with SCHEDOP_shutdown.
/// </summary>
public static class DemoGuest
{
    public const uint LoadAddress = 0x100000;
    private const uint Scratch = 0x101000;      // line buffer and hypercall arguments
    private const uint LineBuffer = Scratch;
    private const uint ExtraVersion = Scratch + 0x100;
    private const uint ParamBlock = Scratch + 0x200;    // struct xen_hvm_param
    private const uint Argument = Scratch + 0x300;      // one u32 argument
    private const uint DomainId = Scratch + 0x304;
    private const uint Version = Scratch + 0x308;
    private const uint Ring = Scratch + 0x30C;
    private const uint Port = Scratch + 0x310;
    private const uint StackTop = 0x103000;
    private const uint HypercallPage = 0x103000;
    private const uint ImageEnd = 0x104000;

    public const string LinePrefix = "XenSharp demo:";
    private const uint StringsAddress = LoadAddress + 0xE00;
    private const string HelloText = LinePrefix + " hello from domain \0";
    private const string RunningText = ", running on Xen \0";
    private const string EndText = "\n\0";

    /// <summary>The demo kernel as an ELF32 PVH image.</summary>
    public static byte[] BuildElf()
    {
        var image = Assemble();
        if (image.Length > Scratch - LoadAddress)
            throw new InvalidOperationException("demo guest code outgrew its page");
        return new PvhElfWriter
        {
            Image = image,
            LoadAddress = LoadAddress,
            EntryAddress = LoadAddress,
            BssSize = ImageEnd - LoadAddress - (uint)image.Length,
            GuestOs = "XenSharp-demo",
            GuestVersion = "1",
            XenVersion = "xen-3.0",
            Loader = "generic",
        }.Build();
    }

    private static ulong Hypercall(HypercallNumber n) => HypercallPage + (uint)n * 32;

    private static byte[] Assemble()
    {
        var a = new Assembler(32);
        var find = a.CreateLabel();
        var next = a.CreateLabel();
        var found = a.CreateLabel();
        var hang = a.CreateLabel();
        var copyString = a.CreateLabel();
        var putDecimal = a.CreateLabel();
        var ringLoop = a.CreateLabel();
        // Strings live at a fixed place after the code (32-bit code cannot address labels RIP-relative).
        uint msgHello = StringsAddress;
        uint msgRunning = msgHello + (uint)HelloText.Length;
        uint msgEnd = msgRunning + (uint)RunningText.Length;

        a.mov(esp, StackTop);

        // Find Xen's CPUID leaves.
        a.mov(esi, XenCpuid.BaseLeaf);
        a.Label(ref find);
        a.mov(eax, esi);
        a.cpuid();
        a.cmp(ebx, XenCpuid.SignatureEbx);
        a.jne(next);
        a.cmp(ecx, XenCpuid.SignatureEcx);
        a.jne(next);
        a.cmp(edx, XenCpuid.SignatureEdx);
        a.je(found);
        a.Label(ref next);
        a.add(esi, 0x100);
        a.cmp(esi, 0x40010000);
        a.jb(find);
        a.jmp(hang);

        a.Label(ref found);
        // Hypercall page: write its address to the MSR in leaf base+2 EBX.
        a.lea(eax, __[esi + 2]);
        a.cpuid();
        a.mov(ecx, ebx);
        a.mov(eax, HypercallPage);
        a.xor(edx, edx);
        a.wrmsr();
        // Domain id: leaf base+4 ECX.
        a.lea(eax, __[esi + 4]);
        a.cpuid();
        a.mov(__dword_ptr[DomainId], ecx);

        // xen_version(XENVER_version), xen_version(XENVER_extraversion, buf)
        a.mov(ebx, XenVersionOp.Version);
        a.call(Hypercall(HypercallNumber.XenVersion));
        a.mov(__dword_ptr[Version], eax);
        a.mov(ebx, XenVersionOp.ExtraVersion);
        a.mov(ecx, ExtraVersion);
        a.call(Hypercall(HypercallNumber.XenVersion));

        // Compose the line.
        a.mov(edi, LineBuffer);
        a.mov(esi, msgHello);
        a.call(copyString);
        a.mov(eax, __dword_ptr[DomainId]);
        a.call(putDecimal);
        a.mov(esi, msgRunning);
        a.call(copyString);
        a.mov(eax, __dword_ptr[Version]);
        a.shr(eax, 16);
        a.call(putDecimal);
        a.mov(al, (byte)'.');
        a.stosb();
        a.mov(eax, __dword_ptr[Version]);
        a.and(eax, 0xFFFF);
        a.call(putDecimal);
        a.mov(esi, ExtraVersion);
        a.call(copyString);
        a.mov(esi, msgEnd);
        a.call(copyString);
        a.sub(edi, LineBuffer);             // edi = length
        a.mov(ebp, edi);

        // console_io(CONSOLEIO_write, len, buf): the hypervisor log.
        a.mov(ebx, ConsoleIoOp.Write);
        a.mov(ecx, ebp);
        a.mov(edx, LineBuffer);
        a.call(Hypercall(HypercallNumber.ConsoleIo));

        // The PV console: ring page and event channel from the HVM parameters.
        a.mov(__word_ptr[ParamBlock], DomId.Self);
        a.mov(__dword_ptr[ParamBlock + 4], HvmParam.ConsolePfn);
        a.mov(ebx, HvmOp.GetParam);
        a.mov(ecx, ParamBlock);
        a.call(Hypercall(HypercallNumber.HvmOp));
        a.mov(eax, __dword_ptr[ParamBlock + 8]);
        a.shl(eax, 12);
        a.mov(__dword_ptr[Ring], eax);
        a.mov(__dword_ptr[ParamBlock + 4], HvmParam.ConsoleEvtchn);
        a.mov(ebx, HvmOp.GetParam);
        a.mov(ecx, ParamBlock);
        a.call(Hypercall(HypercallNumber.HvmOp));
        a.mov(eax, __dword_ptr[ParamBlock + 8]);
        a.mov(__dword_ptr[Port], eax);

        // Copy the line into out[] at out_prod (the ring starts empty and the line is short).
        a.mov(ebx, __dword_ptr[Ring]);
        a.mov(edx, __dword_ptr[ebx + XenConsoleInterface.OutProdOffset]);
        a.mov(esi, LineBuffer);
        a.mov(ecx, ebp);
        a.Label(ref ringLoop);
        a.lodsb();
        a.mov(edi, edx);
        a.and(edi, XenConsoleInterface.OutSize - 1);
        a.mov(__byte_ptr[ebx + edi + XenConsoleInterface.OutOffset], al);
        a.inc(edx);
        a.dec(ecx);
        a.jnz(ringLoop);
        a.mov(__dword_ptr[ebx + XenConsoleInterface.OutProdOffset], edx);
        // EVTCHNOP_send(port)
        a.mov(eax, __dword_ptr[Port]);
        a.mov(__dword_ptr[Argument], eax);
        a.mov(ebx, EventChannelOp.Send);
        a.mov(ecx, Argument);
        a.call(Hypercall(HypercallNumber.EventChannelOp));

        // SCHEDOP_shutdown(SHUTDOWN_poweroff)
        a.mov(__dword_ptr[Argument], (uint)ShutdownReason.Poweroff);
        a.mov(ebx, SchedOp.Shutdown);
        a.mov(ecx, Argument);
        a.call(Hypercall(HypercallNumber.SchedOp));
        a.Label(ref hang);
        a.cli();
        a.hlt();
        a.jmp(hang);

        // copyString: append the NUL-terminated string at esi to edi.
        var copyDone = a.CreateLabel();
        a.Label(ref copyString);
        a.lodsb();
        a.test(al, al);
        a.jz(copyDone);
        a.stosb();
        a.jmp(copyString);
        a.Label(ref copyDone);
        a.ret();

        // putDecimal: append eax in decimal to edi.
        var divide = a.CreateLabel();
        var emit = a.CreateLabel();
        a.Label(ref putDecimal);
        a.xor(ecx, ecx);
        a.mov(ebx, 10);
        a.Label(ref divide);
        a.xor(edx, edx);
        a.div(ebx);
        a.push(edx);
        a.inc(ecx);
        a.test(eax, eax);
        a.jnz(divide);
        a.Label(ref emit);
        a.pop(eax);
        a.add(al, (byte)'0');
        a.stosb();
        a.dec(ecx);
        a.jnz(emit);
        a.ret();

        var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), LoadAddress);
        if (stream.Length > StringsAddress - LoadAddress)
            throw new InvalidOperationException("demo guest code overlaps its strings");
        stream.SetLength(StringsAddress - LoadAddress);
        stream.Position = stream.Length;
        stream.Write(Encoding.ASCII.GetBytes(HelloText + RunningText + EndText));
        return stream.ToArray();
    }
}
