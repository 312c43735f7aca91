using Iced.Intel;

namespace XenSharp.X86Emulation.Instructions;

/// <summary>Far CALL/JMP/RET — not implemented yet (reported Unsupported).</summary>
internal static class FarTransfer
{
    public static bool TryExecute(X86EmulationState state, in Instruction instruction, ulong next)
    {
        _ = state; _ = instruction; _ = next;
        return false;
    }
}
