using Iced.Intel;

namespace XenSharp.X86Emulation.Interpreter;

/// <summary>
/// Iced general-purpose register → slot in <see cref="Hypervisor.Cpu.X86Registers"/> (viewed as
/// ulong[16]: RAX RBX RCX RDX RSI RDI RSP RBP R8…R15) and access kind, precomputed so a register
/// access is two array loads and a switch.
/// </summary>
internal static class RegisterTable
{
    public const byte None = 0, Low8 = 1, High8 = 2, Word = 3, Dword = 4, Qword = 5;

    public static readonly byte[] Slot;
    public static readonly byte[] Kind;
    /// <summary>Size in bytes of any register (0 for none).</summary>
    public static readonly byte[] Size;

    static RegisterTable()
    {
        int count = 0;
        foreach (Register r in Enum.GetValues<Register>()) count = Math.Max(count, (int)r + 1);
        Slot = new byte[count];
        Kind = new byte[count];
        Size = new byte[count];
        foreach (Register r in Enum.GetValues<Register>())
        {
            if (r == Register.None) continue;
            Size[(int)r] = (byte)r.GetSize();
            if (!r.IsGPR()) continue;
            Slot[(int)r] = r.GetFullRegister() switch
            {
                Register.RAX => 0, Register.RBX => 1, Register.RCX => 2, Register.RDX => 3,
                Register.RSI => 4, Register.RDI => 5, Register.RSP => 6, Register.RBP => 7,
                Register.R8 => 8, Register.R9 => 9, Register.R10 => 10, Register.R11 => 11,
                Register.R12 => 12, Register.R13 => 13, Register.R14 => 14, _ => 15,
            };
            Kind[(int)r] = r.GetSize() switch
            {
                1 => r is >= Register.AH and <= Register.BH ? High8 : Low8,
                2 => Word,
                4 => Dword,
                _ => Qword,
            };
        }
    }
}
