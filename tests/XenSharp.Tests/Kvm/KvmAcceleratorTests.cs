using XenSharp.Kvm;

namespace XenSharp.Tests.Kvm;

/// <summary>A host without usable KVM gets one clear sentence: what is missing and what to do.</summary>
public class KvmAcceleratorTests
{
    [Fact]
    public void A_missing_kvm_device_says_so_and_what_to_do()
    {
        var e = Assert.Throws<KvmUnavailableException>(() => KvmAccelerator.Open("/nonexistent/kvm"));
        Assert.Contains("/nonexistent/kvm: no such device", e.Message);
        Assert.Contains("load kvm_intel or kvm_amd", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void A_device_that_is_not_kvm_is_refused_with_the_api_version()
    {
        var e = Assert.Throws<KvmUnavailableException>(() => KvmAccelerator.Open("/dev/null"));
        Assert.Contains("/dev/null", e.Message);
    }
}
