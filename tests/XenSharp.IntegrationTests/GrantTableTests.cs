namespace XenSharp.IntegrationTests;

[CollectionDefinition(Name)]
public sealed class GrantTableCollection : ICollectionFixture<XenSharpHost> { public const string Name = "grant table guests"; }

/// <summary>
/// guests/build/grant-test.elf: one domain grants pages (read-only and writable) in its grant
/// table, the other copies from and into them with GNTTABOP_copy; then the grants are revoked,
/// and the same again with grant table v2.
/// </summary>
[Collection(GrantTableCollection.Name)]
public sealed class GrantTableTests(XenSharpHost host) : XlTestBase(host)
{
    [Fact]
    public void Granter_And_Grantee_CopyThroughGrants_AndRevokedGrantsAreDenied()
    {
        using var group = GuestGroup.CreatePaused(Host,
            ("granter", Host.WritePvhConfig("granter", XenSharpHost.Guest("grant-test"), memoryMiB: 32,
                extra: "cmdline = \"role=granter\"")),
            ("grantee", Host.WritePvhConfig("grantee", XenSharpHost.Guest("grant-test"), memoryMiB: 32,
                extra: "cmdline = \"role=grantee\"")));
        group.LinkPeers("granter", "grantee");
        group.UnpauseAll();

        var grantee = group.WaitForEnd("grantee", GuestGroup.RunTimeout);
        var granter = group.WaitForEnd("granter", GuestGroup.RunTimeout);

        granter.AssertPassed("grant-test", minPassed: 12);
        grantee.AssertPassed("grant-test", minPassed: 20);
        Assert.Contains("PASS copied-pattern", grantee.Output);
        Assert.Contains("PASS grantee-wrote-rw-page", granter.Output);
        Assert.Contains("PASS copy-from-revoked-denied", grantee.Output);
        // The v2 phase runs unless the hypervisor refuses GNTTABOP_set_version(2) (a SKIP line).
        if (!granter.Output.Contains("SKIP grant-v2", StringComparison.Ordinal))
        {
            Assert.Contains("PASS grantee-wrote-rw-page-v2", granter.Output);
            Assert.Contains("PASS v2-copied-pattern", grantee.Output);
        }
        Host.AssertOnlyDomain0();
    }
}
