using XenSharp.X86Emulation.Interpreter;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.X86Emulation.Tests.Interpreter;

/// <summary>Real mode is not a target, but the generic paths (segmented addressing, IVT delivery, IRET) run it.</summary>
public sealed class RealModeTests : IDisposable
{
    private readonly TestMachine _m = new();
    public void Dispose() => _m.Dispose();

    [Fact]
    public void Real_mode_segments_int_and_iret()
    {
        _m.Real();
        _m.Memory.Write(0x10000, InterpreterMachine.Assemble(16, 0, a =>
        {
            a.mov(ax, 0x3000); a.mov(ds, ax);
            a.mov(__word_ptr[0x10], 0xBEEF);
            a.mov(ax, 5);
            a.@int(0x10);
            a.mov(bx, ax);
            a.hlt();
        }));
        _m.Memory.Write(0x10100, InterpreterMachine.Assemble(16, 0x100, a => { a.add(ax, 1); a.iret(); }));
        _m.Write32(0x10 * 4, 0x1000_0100); // IVT[0x10] = 1000:0100
        var cpu = new X86Interpreter(_m.State, []);
        Assert.Equal(InterpreterStop.Halt, cpu.Run(100));
        Assert.Equal(6UL, _m.State.Registers.Rbx);
        Assert.Equal(0xBEEF, _m.Read16(0x30010));
        Assert.Equal(0x8000UL, _m.State.Registers.Rsp);
    }
}
