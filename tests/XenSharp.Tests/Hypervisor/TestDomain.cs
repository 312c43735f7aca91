using System.Runtime.InteropServices;
using XenSharp.Abi.Hypercalls;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Cpu;
using XenSharp.Hypervisor.Domains;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// A real hypervisor and domain on the fake accelerator: 2 MiB of guest RAM at 0, paused,
/// with helpers to place hypercall arguments in guest memory and make hypercalls.
/// </summary>
internal sealed class TestDomain : IDisposable
{
    public const ulong RamSize = 2UL << 20;
    /// <summary>Where tests put hypercall argument structures.</summary>
    public const ulong Arg = 0x10000;
    /// <summary>Where tests put buffers that arguments point to.</summary>
    public const ulong Buffer = 0x20000;
    /// <summary>An address far outside guest RAM.</summary>
    public const ulong Unmapped = 0x7FFF_0000_0000;

    public static readonly Guid DefaultUuid = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff");

    public FakeAccelerator Accelerator { get; }
    public XenHypervisor Hv { get; }
    public Domain Domain { get; }
    public GuestMemory Memory => Domain.Memory;

    public TestDomain(int vcpus = 1, CpuidEntry[]? cpuid = null, ulong currentPages = 512, ulong maxPages = 1024)
    {
        Accelerator = new FakeAccelerator(cpuid);
        Hv = new XenHypervisor(Accelerator);
        var memory = GuestMemory.Allocate([(0UL, RamSize)]);
        Domain = Hv.CreateDomain("test", DefaultUuid, memory, vcpus, currentPages, maxPages);
    }

    public FakeVcpu FakeCpu(int vcpu = 0) => (FakeVcpu)Domain.Vcpus[vcpu].Cpu;

    public long Call(HypercallNumber number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, bool is64 = true, int vcpu = 0) =>
        Call((uint)number, a1, a2, a3, is64, vcpu);

    public long Call(uint number, ulong a1 = 0, ulong a2 = 0, ulong a3 = 0, bool is64 = true, int vcpu = 0) =>
        HypercallDispatcher.Invoke(number, new HypercallContext(Domain.Vcpus[vcpu], is64, a1, a2, a3, 0, 0));

    public void Poke(ulong gpa, ReadOnlySpan<byte> bytes) => Assert.True(Memory.TryWriteBytes(gpa, bytes));

    public void Poke<T>(ulong gpa, T value) where T : unmanaged => Assert.True(Memory.TryWrite(gpa, value));

    public byte[] Peek(ulong gpa, int length)
    {
        var bytes = new byte[length];
        Assert.True(Memory.TryReadBytes(gpa, bytes));
        return bytes;
    }

    public T Peek<T>(ulong gpa) where T : unmanaged
    {
        Assert.True(Memory.TryRead(gpa, out T value));
        return value;
    }

    public void Fill(ulong gpa, int length, byte value)
    {
        Assert.True(Memory.TryGetSpan(gpa, length, out var span));
        span.Fill(value);
    }

    /// <summary>Reads a NUL-terminated ASCII string of at most <paramref name="size"/> bytes.</summary>
    public string PeekString(ulong gpa, int size)
    {
        var bytes = Peek(gpa, size);
        int nul = Array.IndexOf(bytes, (byte)0);
        Assert.True(nul >= 0, "string is not NUL-terminated within its buffer");
        return System.Text.Encoding.ASCII.GetString(bytes, 0, nul);
    }

    public static byte[] Bytes<T>(T value) where T : unmanaged =>
        MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();

    public void Dispose() => Hv.Dispose();
}
