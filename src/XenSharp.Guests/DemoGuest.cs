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
/// its domain id from XenStore (the "domid" node, read through its store ring; the HVM CPUID
/// leaf's value is the fallback), then writes
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
    private const uint StoreRing = Scratch + 0x314;
    private const uint StorePort = Scratch + 0x318;
    private const uint RequestBuffer = Scratch + 0x400;   // xsd_sockmsg + "domid\0"
    private const uint ReplyBuffer = Scratch + 0x500;     // xsd_sockmsg + value
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

    /// <summary>
    /// Replaces the CPUID domain id with the one XenStore holds at the relative path "domid":
    /// writes an XS_READ request into the store ring (HVM_PARAM_STORE_PFN), kicks the store
    /// event channel, and polls for the reply, yielding between polls. Any failure (no reply
    /// within the poll budget, an error reply, a value too long) keeps the CPUID value.
    /// </summary>
    private static void ReadDomainIdFromXenStore(Assembler a)
    {
        const int reqProd = XenStoreDomainInterface.ReqProdOffset, rspCons = XenStoreDomainInterface.RspConsOffset;
        const int rspProd = XenStoreDomainInterface.RspProdOffset, rsp = XenStoreDomainInterface.RspOffset;
        const uint mask = XenStoreDomainInterface.RingSize - 1;
        var done = a.CreateLabel();
        var copyIn = a.CreateLabel();
        var pollHeader = a.CreateLabel();
        var haveHeader = a.CreateLabel();
        var pollBody = a.CreateLabel();
        var haveBody = a.CreateLabel();
        var copyOut = a.CreateLabel();
        var parse = a.CreateLabel();

        foreach (var (param, dest) in new[] { (HvmParam.StorePfn, StoreRing), (HvmParam.StoreEvtchn, StorePort) })
        {
            a.mov(__word_ptr[ParamBlock], DomId.Self);
            a.mov(__dword_ptr[ParamBlock + 4], param);
            a.mov(ebx, HvmOp.GetParam);
            a.mov(ecx, ParamBlock);
            a.call(Hypercall(HypercallNumber.HvmOp));
            a.test(eax, eax);
            a.jnz(done);
            a.mov(eax, __dword_ptr[ParamBlock + 8]);
            if (dest == StoreRing) a.shl(eax, 12);
            a.mov(__dword_ptr[dest], eax);
        }

        // The request: struct xsd_sockmsg { type = XS_READ (2), req_id = 1, tx_id = 0, len = 6 } "domid\0".
        a.mov(__dword_ptr[RequestBuffer], 2u);
        a.mov(__dword_ptr[RequestBuffer + 4], 1u);
        a.mov(__dword_ptr[RequestBuffer + 8], 0u);
        a.mov(__dword_ptr[RequestBuffer + 12], 6u);
        a.mov(__dword_ptr[RequestBuffer + 16], 0x696d6f64u); // "domi"
        a.mov(__word_ptr[RequestBuffer + 20], 0x0064);       // "d\0"
        a.mov(ebx, __dword_ptr[StoreRing]);
        a.mov(edx, __dword_ptr[ebx + reqProd]);
        a.mov(esi, RequestBuffer);
        a.mov(ecx, 22u);
        a.Label(ref copyIn);
        a.lodsb();
        a.mov(edi, edx);
        a.and(edi, mask);
        a.mov(__byte_ptr[ebx + edi], al);
        a.inc(edx);
        a.dec(ecx);
        a.jnz(copyIn);
        a.mov(__dword_ptr[ebx + reqProd], edx);
        NotifyStore(a);

        // Wait for a 16-byte header, then for its payload.
        a.mov(ebp, 100000u);
        a.Label(ref pollHeader);
        a.mov(ebx, __dword_ptr[StoreRing]);
        a.mov(eax, __dword_ptr[ebx + rspProd]);
        a.sub(eax, __dword_ptr[ebx + rspCons]);
        a.cmp(eax, 16);
        a.jae(haveHeader);
        Yield(a);
        a.dec(ebp);
        a.jnz(pollHeader);
        a.jmp(done);
        a.Label(ref haveHeader);
        a.mov(esi, __dword_ptr[ebx + rspCons]);
        a.mov(edi, ReplyBuffer);
        a.mov(ecx, 16u);
        a.call(copyOut);
        a.mov(ecx, __dword_ptr[ReplyBuffer + 12]);
        a.cmp(ecx, 10);                      // a domain id has at most 5 digits
        a.ja(done);
        a.Label(ref pollBody);
        a.mov(ebx, __dword_ptr[StoreRing]);
        a.mov(eax, __dword_ptr[ebx + rspProd]);
        a.sub(eax, __dword_ptr[ebx + rspCons]);
        a.mov(ecx, __dword_ptr[ReplyBuffer + 12]);
        a.add(ecx, 16);
        a.cmp(eax, ecx);
        a.jae(haveBody);
        Yield(a);
        a.dec(ebp);
        a.jnz(pollBody);
        a.jmp(done);
        a.Label(ref haveBody);
        a.mov(esi, __dword_ptr[ebx + rspCons]);
        a.add(esi, 16);
        a.mov(edi, ReplyBuffer + 16);
        a.mov(ecx, __dword_ptr[ReplyBuffer + 12]);
        a.test(ecx, ecx);
        a.jz(done);
        a.call(copyOut);
        a.mov(eax, __dword_ptr[ReplyBuffer + 12]);
        a.add(eax, 16);
        a.add(__dword_ptr[ebx + rspCons], eax); // consume the reply
        NotifyStore(a);
        a.cmp(__dword_ptr[ReplyBuffer], 2u);    // XS_READ, not XS_ERROR
        a.jne(done);

        // Parse the decimal value.
        a.xor(eax, eax);
        a.mov(esi, ReplyBuffer + 16);
        a.mov(ecx, __dword_ptr[ReplyBuffer + 12]);
        a.Label(ref parse);
        a.movzx(edx, __byte_ptr[esi]);
        a.sub(edx, (byte)'0');
        a.cmp(edx, 9);
        a.ja(done);                             // not a digit: keep the CPUID value
        a.imul(eax, eax, 10);
        a.add(eax, edx);
        a.inc(esi);
        a.dec(ecx);
        a.jnz(parse);
        a.mov(__dword_ptr[DomainId], eax);
        a.jmp(done);

        // copyOut: ecx bytes from rsp[] at ring index esi to edi (ebx = ring).
        a.Label(ref copyOut);
        a.mov(edx, esi);
        a.and(edx, mask);
        a.mov(al, __byte_ptr[ebx + edx + rsp]);
        a.stosb();
        a.inc(esi);
        a.dec(ecx);
        a.jnz(copyOut);
        a.ret();

        a.Label(ref done);
    }

    private static void NotifyStore(Assembler a)
    {
        a.push(ebx);
        a.mov(eax, __dword_ptr[StorePort]);
        a.mov(__dword_ptr[Argument], eax);
        a.mov(ebx, EventChannelOp.Send);
        a.mov(ecx, Argument);
        a.call(Hypercall(HypercallNumber.EventChannelOp));
        a.pop(ebx);
    }

    private static void Yield(Assembler a)
    {
        a.push(ebx);
        a.mov(ebx, SchedOp.Yield);
        a.xor(ecx, ecx);
        a.call(Hypercall(HypercallNumber.SchedOp));
        a.pop(ebx);
    }

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

        ReadDomainIdFromXenStore(a);

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
