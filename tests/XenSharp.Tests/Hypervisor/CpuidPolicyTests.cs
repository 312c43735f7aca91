using System.Text;
using XenSharp.Hypervisor.Cpu;

namespace XenSharp.Tests.Hypervisor;

/// <summary>
/// What a guest sees with CPUID: Xen's leaves at 0x40000000 (arch-x86/cpuid.h), not KVM's, and
/// the host's leaves adjusted for this vCPU.
/// </summary>
public class CpuidPolicyTests
{
    private const int DomId = 7, VcpuId = 3;

    private static CpuidEntry[] Policy(bool umip = true, int domid = DomId, int vcpu = VcpuId) =>
        CpuidPolicy.ForVcpu(FakeAccelerator.HostCpuid(umip), domid, vcpu);

    private static CpuidEntry Leaf(CpuidEntry[] table, uint function, uint index = 0)
    {
        var matches = table.Where(e => e.Function == function && e.Index == index).ToArray();
        Assert.Single(matches);
        return matches[0];
    }

    private static string Signature(CpuidEntry e) =>
        Encoding.ASCII.GetString([.. BitConverter.GetBytes(e.Ebx), .. BitConverter.GetBytes(e.Ecx), .. BitConverter.GetBytes(e.Edx)]);

    [Fact]
    public void Leaf_0x40000000_is_Xens_signature_with_max_leaf_0x40000004()
    {
        var leaf = Leaf(Policy(), 0x40000000);
        Assert.Equal(0x40000004u, leaf.Eax);
        Assert.Equal("XenVMMXenVMM", Signature(leaf));
    }

    [Fact]
    public void Every_leaf_up_to_the_advertised_maximum_exists()
    {
        var table = Policy();
        uint max = Leaf(table, 0x40000000).Eax;
        for (uint f = 0x40000000; f <= max; f++)
            Assert.Contains(table, e => e.Function == f);
    }

    [Fact]
    public void Version_leaf_is_4_20_packed_as_major_high_minor_low()
    {
        var leaf = Leaf(Policy(), 0x40000001);
        Assert.Equal((4u << 16) | 20u, leaf.Eax);
        Assert.Equal(4u, leaf.Eax >> 16);
        Assert.Equal(20u, leaf.Eax & 0xFFFF);
    }

    [Fact]
    public void Leaf_0x40000002_offers_one_hypercall_page_through_msr_0x40000000()
    {
        var leaf = Leaf(Policy(), 0x40000002);
        Assert.Equal(1u, leaf.Eax);
        Assert.Equal(0x40000000u, leaf.Ebx);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(7, 3)]
    [InlineData(42, 15)]
    public void Hvm_leaf_reports_vcpu_id_and_domid_with_their_present_flags(int domid, int vcpu)
    {
        var leaf = Leaf(Policy(domid: domid, vcpu: vcpu), 0x40000004);
        const uint vcpuIdPresent = 1u << 3, domidPresent = 1u << 4;
        Assert.Equal(vcpuIdPresent | domidPresent, leaf.Eax & (vcpuIdPresent | domidPresent));
        Assert.Equal((uint)vcpu, leaf.Ebx);
        Assert.Equal((uint)domid, leaf.Ecx);
    }

    [Fact]
    public void Kvms_own_hypervisor_leaves_are_removed()
    {
        var table = Policy();
        Assert.DoesNotContain(table, e => e.Function is >= 0x40000000 and <= 0x4000FFFF && Signature(e).StartsWith("KVM"));
        Assert.DoesNotContain(table, e => e.Function == 0x40000001 && e.Eax == 0x01007AFB);
        Assert.Single(table, e => e.Function == 0x40000000);
        Assert.Single(table, e => e.Function == 0x40000001);
    }

    [Fact]
    public void Leaf_1_sets_the_hypervisor_bit_and_keeps_the_other_feature_bits()
    {
        var leaf = Leaf(Policy(), 1);
        Assert.Equal(FakeAccelerator.HostLeaf1Ecx | (1u << 31), leaf.Ecx);
        Assert.Equal(0xBFEBFBFFu, leaf.Edx);
        Assert.Equal(0x000906EAu, leaf.Eax);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(200)]
    public void Leaf_1_ebx_carries_the_vcpus_apic_id_and_keeps_the_low_bits(int vcpu)
    {
        var leaf = Leaf(Policy(vcpu: vcpu), 1);
        Assert.Equal((uint)vcpu, leaf.Ebx >> 24);
        Assert.Equal(FakeAccelerator.HostLeaf1Ebx & 0x00FFFFFF, leaf.Ebx & 0x00FFFFFF);
    }

    [Fact]
    public void Topology_leaf_0xB_reports_the_vcpus_x2apic_id_in_every_subleaf()
    {
        var table = Policy(vcpu: 5);
        Assert.Equal(5u, Leaf(table, 0xB, 0).Edx);
        Assert.Equal(5u, Leaf(table, 0xB, 1).Edx);
    }

    [Fact]
    public void Umip_is_offered_when_the_host_has_it()
    {
        var leaf = Leaf(Policy(umip: true), 7, 0);
        Assert.Equal(1u << 2, leaf.Ecx & (1u << 2));
        Assert.Equal(FakeAccelerator.HostLeaf7EcxOther, leaf.Ecx & ~(1u << 2));
    }

    [Fact]
    public void Umip_is_not_offered_when_the_host_lacks_it()
    {
        var leaf = Leaf(Policy(umip: false), 7, 0);
        Assert.Equal(0u, leaf.Ecx & (1u << 2));
        Assert.Equal(FakeAccelerator.HostLeaf7EcxOther, leaf.Ecx);
    }

    [Fact]
    public void Leaves_the_policy_does_not_touch_are_passed_through()
    {
        var table = Policy();
        var vendor = Leaf(table, 0);
        Assert.Equal("GenuineIntel", Encoding.ASCII.GetString(
            [.. BitConverter.GetBytes(vendor.Ebx), .. BitConverter.GetBytes(vendor.Edx), .. BitConverter.GetBytes(vendor.Ecx)]));
        Assert.Equal(0x80000008u, Leaf(table, 0x80000000).Eax);
        Assert.Equal(0x2C100800u, Leaf(table, 0x80000001).Edx);
    }

    [Fact]
    public void Creating_a_domain_gives_each_vcpu_its_own_table()
    {
        using var t = new TestDomain(vcpus: 3);
        for (int i = 0; i < 3; i++)
        {
            var cpuid = t.FakeCpu(i).Cpuid;
            Assert.Equal((uint)i, Leaf(cpuid, 0x40000004).Ebx);
            Assert.Equal((uint)t.Domain.Id, Leaf(cpuid, 0x40000004).Ecx);
            Assert.Equal((uint)i, Leaf(cpuid, 1).Ebx >> 24);
            Assert.Equal("XenVMMXenVMM", Signature(Leaf(cpuid, 0x40000000)));
        }
    }
}
