using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi.Arm;
using XenSharp.Abi.Hypercalls;

namespace XenSharp.Guests.Arm64;

/// <summary>
/// The built-in AArch64 demo guest (<c>kernel = "builtin:arm64-demo"</c>): an arm64 Linux-style
/// <c>Image</c> of a few hundred bytes assembled here, so the demo needs no cross compiler. It
/// asks Xen for its version and extraversion (xen_version through <c>HVC #0xEA1</c>), writes
/// <c>XenSharp arm64 demo: hello from an AArch64 guest, running on Xen X.Y.extra</c> through
/// console_io (the hypervisor log) and through the SBSA UART (its console), and powers off with
/// PSCI SYSTEM_OFF. Its exception vectors skip a faulting instruction, so without a UART
/// (no <c>vuart</c> in the config) the UART writes are dropped and the line only reaches the log.
/// </summary>
public static class Arm64DemoGuest
{
    public const string LinePrefix = "XenSharp arm64 demo:";

    /// <summary>The Image's text_offset: it runs at RAM base + this (0x40080000).</summary>
    public const ulong TextOffset = 0x80000;
    private const ulong LoadAddress = ArmGuestLayout.Ram0Base + TextOffset;
    private const ulong ImageSize = 0x20000;             // code and the scratch below, as the header says
    private const ulong LineBuffer = LoadAddress + 0x10000;
    private const ulong DigitsEnd = LineBuffer + 0x220;   // putnum builds digits backwards from here
    private const ulong ExtraVersion = LineBuffer + 0x300;
    private const int VectorsOffset = 0x800;            // VBAR_EL1 needs 2 KiB alignment
    private const int HeaderSize = 64;

    // Registers: x19 the line's write pointer, x20 the line's start, x21 the version.
    private const int Write = 19, Line = 20, Version = 21;

    /// <summary>The demo as an arm64 Image (64-byte header: text_offset, image_size, flags, "ARM\x64").</summary>
    public static byte[] BuildImage()
    {
        var a = new A64Assembler();
        var start = a.NewLabel();
        var putstr = a.NewLabel();
        var putnum = a.NewLabel();
        var prefix = a.NewLabel();
        var newline = a.NewLabel();
        var vectors = a.NewLabel();

        // Header: code0 branches over it; the loader reads the rest.
        a.B(start);
        a.AlignTo(HeaderSize);
        a.Bind(start);
        a.Adr(0, vectors);
        a.MsrVbarEl1(0);
        a.Mov(Line, LineBuffer);
        a.MovReg(Write, Line);
        a.Adr(1, prefix);
        a.Bl(putstr);

        // xen_version(XENVER_version) → major << 16 | minor.
        XenVersion(a, 0, 0);
        a.MovReg(Version, 0);
        a.LsrImm(0, Version, 16);
        a.Bl(putnum);
        a.Mov(1, '.');
        a.Strb(1, Write);
        a.AddImm(Write, Write, 1);
        a.AndLow16(0, Version);
        a.Bl(putnum);
        // xen_version(XENVER_extraversion, buffer of 16): ".0-xensharp".
        a.Mov(1, ExtraVersion);
        a.Strb(31, 1, 16);                           // a terminator after the 16 bytes
        XenVersion(a, 1, ExtraVersion);
        a.Mov(1, ExtraVersion);
        a.Bl(putstr);
        a.Adr(1, newline);
        a.Bl(putstr);

        // console_io(CONSOLEIO_write, length, line).
        a.Mov(16, (ulong)HypercallNumber.ConsoleIo);
        a.Mov(0, 0);
        a.SubReg(1, Write, Line);
        a.MovReg(2, Line);
        a.Hvc(ArmHypercallConvention.HvcImmediate);

        // The UART: each byte to UARTDR once UARTFR.TXFF (bit 5) is clear.
        var uartLoop = a.NewLabel();
        var txWait = a.NewLabel();
        var done = a.NewLabel();
        a.Mov(3, ArmGuestLayout.Pl011Base);
        a.MovReg(4, Line);
        a.Bind(uartLoop);
        a.CmpReg(4, Write);
        a.BCond(2, done);                            // HS: all sent
        a.Bind(txWait);
        a.LdrW(5, 3, 0x18);
        a.Tbnz(5, 5, txWait);
        a.Ldrb(5, 4);
        a.StrW(5, 3, 0);
        a.AddImm(4, 4, 1);
        a.B(uartLoop);
        a.Bind(done);

        // PSCI SYSTEM_OFF; should it return, wait forever.
        var hang = a.NewLabel();
        a.Mov(0, PsciFunction.SystemOff);
        a.Hvc(0);
        a.Bind(hang);
        a.Wfi();
        a.B(hang);

        // putstr: appends the NUL-terminated string at x1 (clobbers x1, x2).
        var strEnd = a.NewLabel();
        a.Bind(putstr);
        a.Ldrb(2, 1);
        a.Cbz(2, strEnd);
        a.Strb(2, Write);
        a.AddImm(1, 1, 1);
        a.AddImm(Write, Write, 1);
        a.B(putstr);
        a.Bind(strEnd);
        a.Ret();

        // putnum: appends x0 in decimal (clobbers x0, x9..x13).
        var divide = a.NewLabel();
        var copy = a.NewLabel();
        var numEnd = a.NewLabel();
        a.Bind(putnum);
        a.Mov(9, DigitsEnd);
        a.Mov(10, 10);
        a.Bind(divide);
        a.Udiv(11, 0, 10);
        a.Msub(12, 11, 10, 0);                       // x12 = x0 - (x0 / 10) * 10
        a.AddImm(12, 12, '0');
        a.SubImm(9, 9, 1);
        a.Strb(12, 9);
        a.MovReg(0, 11);
        a.Cbnz(0, divide);
        a.Mov(13, DigitsEnd);
        a.Bind(copy);
        a.CmpReg(9, 13);
        a.BCond(2, numEnd);
        a.Ldrb(12, 9);
        a.Strb(12, Write);
        a.AddImm(9, 9, 1);
        a.AddImm(Write, Write, 1);
        a.B(copy);
        a.Bind(numEnd);
        a.Ret();

        a.Bind(prefix);
        a.Data(Encoding.ASCII.GetBytes(LinePrefix + " hello from an AArch64 guest, running on Xen \0"));
        a.Bind(newline);
        a.Data("\n\0"u8);

        // Vectors: a synchronous exception at EL1 with SP_EL1 (VBAR + 0x200) skips the faulting
        // instruction; every other entry also returns (nothing else is unmasked).
        a.AlignTo(VectorsOffset);
        a.Bind(vectors);
        for (int entry = 0; entry < 16; entry++)
        {
            a.AlignTo(VectorsOffset + entry * 0x80);
            if (entry == 4)
            {
                a.MrsElrEl1(9);
                a.AddImm(9, 9, 4);
                a.MsrElrEl1(9);
            }
            a.Eret();
        }

        byte[] code = a.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(8), TextOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(16), ImageSize);
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(24), 0b1010);   // little endian, 4 KiB pages, anywhere in RAM
        BinaryPrimitives.WriteUInt32LittleEndian(code.AsSpan(56), 0x644D_5241); // "ARM\x64"
        return code;
    }

    /// <summary>xen_version(cmd, arg): x16 = 17, result in x0.</summary>
    private static void XenVersion(A64Assembler a, ulong cmd, ulong arg)
    {
        a.Mov(16, (ulong)HypercallNumber.XenVersion);
        a.Mov(0, cmd);
        a.Mov(1, arg);
        a.Hvc(ArmHypercallConvention.HvcImmediate);
    }
}
