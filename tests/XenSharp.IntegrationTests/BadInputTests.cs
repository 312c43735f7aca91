namespace XenSharp.IntegrationTests;

/// <summary>
/// Mistakes a user makes: each gives a non-zero exit, one error line on stderr that names the
/// problem, and leaves no domain behind.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class BadInputTests(XenSharpHost host) : XlTestBase(host)
{
    public static TheoryData<string> Cases => new()
    {
        "missing-kernel", "not-elf", "no-phys32-entry", "too-much-memory", "syntax-error", "type-hvm",
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadConfig_OneLineError_NoDomainLeft(string kase)
    {
        string cfg;
        string[] expected;
        switch (kase)
        {
            case "missing-kernel":
            {
                string kernel = Path.Combine(Host.StateDir, "no-such-kernel.elf");
                cfg = Host.WritePvhConfig(kase, kernel);
                expected = [kernel, "no such file"];
                break;
            }
            case "not-elf":
            {
                string kernel = Path.Combine(Host.StateDir, "kernel.txt");
                File.WriteAllText(kernel, "this is a text file, not a kernel\n");
                cfg = Host.WritePvhConfig(kase, kernel);
                expected = [kernel, "not an ELF file"];
                break;
            }
            case "no-phys32-entry":
                cfg = Host.WritePvhConfig(kase, "/bin/true");
                expected = ["/bin/true", "PHYS32_ENTRY"];
                break;
            case "too-much-memory":
                cfg = Host.WritePvhConfig(kase, XenSharpHost.Guest("spin"), memoryMiB: 16_000_000);
                expected = ["16000000", "more than the host"];
                break;
            case "syntax-error":
                cfg = Host.WriteConfig(kase, """
                    name = "syntax-error"
                    type = "pvh"
                    memory = = 16
                    """);
                expected = [cfg + ":3:"];
                break;
            case "type-hvm":
                cfg = Host.WriteConfig(kase, $"""
                    name = "type-hvm"
                    type = "hvm"
                    kernel = "{XenSharpHost.Guest("spin")}"
                    memory = 16
                    """);
                expected = ["hvm", "not supported yet"];
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(kase), kase, null);
        }

        var r = Host.Xl("create", cfg);

        AssertOneLineError(r, expected);
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void DuplicateName_IsRefused_AndTheFirstDomainKeepsRunning()
    {
        string cfg = Host.WritePvhConfig("dup", XenSharpHost.Guest("spin"));
        Host.Xl("create", cfg).AssertSuccess();

        var r = Host.Xl("create", cfg);

        AssertOneLineError(r, "dup", "already exists");
        var rows = Host.List();
        Assert.Single(rows, d => d.Name == "dup");
        Assert.Equal(2, rows.Count);

        Host.Xl("destroy", "dup").AssertSuccess();
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void ConfigFileThatDoesNotExist()
    {
        string cfg = Path.Combine(Host.StateDir, "no-such-config.cfg");

        var r = Host.Xl("create", cfg);

        AssertOneLineError(r, cfg, "no such file");
        Host.AssertOnlyDomain0();
    }

    private static void AssertOneLineError(XlResult r, params string[] expected)
    {
        Assert.True(r.ExitCode != 0, "expected a non-zero exit\n" + r.Describe());
        var errors = r.ErrorLines;
        Assert.True(errors.Count == 1, $"expected one error line on stderr, got {errors.Count}\n{r.Describe()}");
        foreach (var e in expected)
            Assert.True(errors[0].Contains(e, StringComparison.OrdinalIgnoreCase), $"the error line does not mention \"{e}\"\n{r.Describe()}");
    }
}
