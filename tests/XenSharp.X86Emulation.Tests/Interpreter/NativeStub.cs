using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace XenSharp.X86Emulation.Tests.Interpreter;

/// <summary>
/// Runs one instruction natively on the host CPU (x86-64 Linux): a generated routine on an
/// executable page of its own (as HostTsc does) loads RAX, RCX, RDX and RFLAGS from a block,
/// executes the instruction, and stores RAX, RDX and RFLAGS back.
/// Block (ulong[6]): 0 RAX in, 1 RCX in, 2 RFLAGS in, 3 RAX out, 4 RFLAGS out, 5 RDX in/out.
/// </summary>
internal sealed unsafe class NativeStub : IDisposable
{
    public static bool IsSupported => OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    private readonly byte* _page;
    private readonly delegate* unmanaged<ulong*, void> _entry;

    public NativeStub(Action<Assembler> instruction)
    {
        byte[] code = InterpreterMachine.Assemble(64, 0, a =>
        {
            a.mov(rax, __qword_ptr[rdi]);
            a.mov(rcx, __qword_ptr[rdi + 8]);
            a.mov(rdx, __qword_ptr[rdi + 40]);
            a.push(__qword_ptr[rdi + 16]);
            a.popfq();
            instruction(a);
            a.pushfq();
            a.pop(__qword_ptr[rdi + 32]);
            a.mov(__qword_ptr[rdi + 24], rax);
            a.mov(__qword_ptr[rdi + 40], rdx);
            a.ret();
        });
        _page = (byte*)Mmap(null, 4096, 3, 0x22, -1, 0);
        if (_page == (byte*)-1) throw new InvalidOperationException("mmap failed");
        code.CopyTo(new Span<byte>(_page, code.Length));
        if (Mprotect(_page, 4096, 5) != 0) throw new InvalidOperationException("mprotect failed");
        _entry = (delegate* unmanaged<ulong*, void>)_page;
    }

    public (ulong Rax, ulong Rdx, ulong Rflags) Run(ulong rax, ulong rcx, ulong rdx, ulong rflags)
    {
        ulong* block = stackalloc ulong[6];
        block[0] = rax; block[1] = rcx; block[2] = rflags; block[5] = rdx;
        _entry(block);
        return (block[3], block[5], block[4]);
    }

    public void Dispose() => Munmap(_page, 4096);

    [DllImport("libc", EntryPoint = "mmap")]
    private static extern void* Mmap(void* addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "mprotect")]
    private static extern int Mprotect(void* addr, nuint len, int prot);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Munmap(void* addr, nuint len);
}
