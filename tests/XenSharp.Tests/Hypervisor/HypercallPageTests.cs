using Iced.Intel;
using XenSharp.Hypervisor.Hypercalls;
using XenSharp.Hypervisor.Memory;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// The hypercall page a guest calls into: entry N at N*32 is "mov eax, N; out 0x9e, al; ret",
/// padded with int3, and decodes the same way in 32- and 64-bit code.
/// </summary>
public class HypercallPageTests
{
    private static byte[] BuildPage()
    {
        var page = new byte[4096];
        page.AsSpan().Fill(0x5A); // anything Build does not write stays visible
        HypercallPage.Build(page);
        return page;
    }

    [Theory]
    [InlineData(32)]
    [InlineData(64)]
    public void Every_entry_decodes_as_mov_eax_n_out_9e_al_ret_then_int3_padding(int bitness)
    {
        var page = BuildPage();
        for (int n = 0; n < 4096 / 32; n++)
        {
            var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(page, n * 32, 32));
            decoder.IP = (ulong)(n * 32);

            var mov = decoder.Decode();
            Assert.Equal(Mnemonic.Mov, mov.Mnemonic);
            Assert.Equal(Register.EAX, mov.Op0Register);
            Assert.Equal(OpKind.Immediate32, mov.Op1Kind);
            Assert.Equal((uint)n, mov.Immediate32);

            var @out = decoder.Decode();
            Assert.Equal(Mnemonic.Out, @out.Mnemonic);
            Assert.Equal(OpKind.Immediate8, @out.Op0Kind);
            Assert.Equal(0x9E, @out.Immediate8);
            Assert.Equal(Register.AL, @out.Op1Register);

            var ret = decoder.Decode();
            Assert.Equal(Mnemonic.Ret, ret.Mnemonic);
            Assert.Equal(0, ret.OpCount);

            while (decoder.IP < (ulong)(n * 32 + 32))
                Assert.Equal(Mnemonic.Int3, decoder.Decode().Mnemonic);
            Assert.Equal((ulong)(n * 32 + 32), decoder.IP);
        }
    }

    [Fact]
    public void Stubs_use_port_0x9e()
    {
        Assert.Equal(0x9E, HypercallPage.Port);
        var page = BuildPage();
        Assert.Equal(new byte[] { 0xB8, 29, 0, 0, 0, 0xE6, 0x9E, 0xC3, 0xCC }, page.AsSpan(29 * 32, 9).ToArray());
    }

    [Fact]
    public void Fill_writes_the_page_into_guest_ram()
    {
        using var memory = GuestMemory.Allocate([(0UL, 0x10000UL)]);
        Assert.True(HypercallPage.Fill(memory, 0x3000));
        var page = new byte[4096];
        Assert.True(memory.TryReadBytes(0x3000, page));
        Assert.Equal(BuildPage(), page);
        Assert.True(memory.TryGetSpan(0x2000, 4096, out var before));
        Assert.True(before.IndexOfAnyExcept((byte)0) < 0);
    }

    [Theory]
    [InlineData(0x10000UL)]            // first page after RAM
    [InlineData(0x7FFF_0000_0000UL)]   // far away
    [InlineData(0xFFFF_FFFF_FFFF_F000UL)]
    public void Fill_of_a_page_outside_guest_memory_returns_false(ulong gpa)
    {
        using var memory = GuestMemory.Allocate([(0UL, 0x10000UL)]);
        Assert.False(HypercallPage.Fill(memory, gpa));
    }

    [Fact]
    public void Fill_of_a_page_straddling_the_end_of_ram_returns_false_and_writes_nothing()
    {
        using var memory = GuestMemory.Allocate([(0UL, 0x10000UL)]);
        Assert.False(HypercallPage.Fill(memory, 0x10000 - 2048));
        Assert.True(memory.TryGetSpan(0x10000 - 2048, 2048, out var tail));
        Assert.True(tail.IndexOfAnyExcept((byte)0) < 0);
    }
}
