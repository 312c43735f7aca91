using System.Diagnostics;
using System.Text;

namespace XenSharp.IntegrationTests;

/// <summary>
/// The interactive PV console with guests/console-echo (echoes each input line as
/// "echo: LINE", powers off on "quit"): `xl create -c` and `xl console` send stdin to the
/// guest's in ring on the same connection that brings its output; the end of a piped stdin
/// does not detach; Ctrl-] detaches and is not sent; output printed while nobody is attached
/// is kept and replayed to the next `xl console`.
/// </summary>
[Collection(ConsoleCollection.Name)]
public sealed class ConsoleTests(XenSharpHost host) : XlTestBase(host)
{
    private const string Ready = "console-echo: ready";

    [Fact]
    public void CreateC_SendsPipedInputToTheGuest_AndReturnsWhenItPowersOff()
    {
        string cfg = Host.WritePvhConfig("echo-create", XenSharpHost.Guest("console-echo"));
        // stdin ends right after "quit": xl stays attached until the guest is gone.
        var r = XlWithInput("hello\nquit\n", "create", "-c", cfg).AssertSuccess();
        Assert.Contains(Ready, r.Stdout);
        Assert.Contains("echo: hello", r.Stdout);
        Assert.Contains("console-echo: quit after 2 lines", r.Stdout);
        Assert.True(r.Stdout.IndexOf("echo: hello", StringComparison.Ordinal) > r.Stdout.IndexOf(Ready, StringComparison.Ordinal),
            "the echo came before the guest's first line\n" + r.Describe());
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void XlConsole_ReplaysWhatTheGuestPrintedWhileNobodyWasAttached()
    {
        string cfg = Host.WritePvhConfig("echo-replay", XenSharpHost.Guest("console-echo"));
        Host.Xl("create", cfg).AssertSuccess();
        int id = Host.List().Single(d => d.Name == "echo-replay").Id;
        XenSharpHost.WaitUntil(() => Host.Xl("dmesg").Stdout.Contains($"(d{id}) {Ready}", StringComparison.Ordinal),
            XenSharpHost.DefaultTimeout, "the guest's first line");

        using var console = Host.StartXl("console", "echo-replay"); // stdin closed at once: still attached
        console.WaitForStdout(Ready, XenSharpHost.DefaultTimeout);
        Assert.False(console.HasExited, "xl console returned at the end of its (empty) stdin\n" + console.Stderr);

        Host.Xl("destroy", "echo-replay").AssertSuccess();
        Assert.True(console.WaitForExit(XenSharpHost.DefaultTimeout), "xl console did not return when the domain was destroyed");
        Assert.Equal(0, console.ExitCode);
        Assert.Equal("", console.Stderr); // like xl: nothing of its own on attach or at the end
        Host.AssertOnlyDomain0();
    }

    [Fact]
    public void CtrlRightBracket_Detaches_AndNeitherItNorWhatFollowsReachesTheGuest()
    {
        string cfg = Host.WritePvhConfig("echo-detach", XenSharpHost.Guest("console-echo"));
        Host.Xl("create", cfg).AssertSuccess();
        int id = Host.List().Single(d => d.Name == "echo-detach").Id;

        // "first" goes to the guest; Ctrl-] detaches (exit 0) while the domain runs on; "second" is never sent.
        XlWithInput("first\n\u001dsecond\n", "console", "echo-detach").AssertSuccess();
        Assert.Contains(Host.List(), d => d.Id == id);
        XenSharpHost.WaitUntil(() => Host.Xl("dmesg").Stdout.Contains($"(d{id}) echo: first", StringComparison.Ordinal),
            XenSharpHost.DefaultTimeout, "the guest's echo of the line sent before Ctrl-]");

        var r = XlWithInput("quit\n", "console", "echo-detach").AssertSuccess();
        Assert.Contains("console-echo: quit after 2 lines", r.Stdout); // "first" and "quit": nothing after Ctrl-]
        string dmesg = Host.Xl("dmesg").Stdout;
        Assert.DoesNotContain($"(d{id}) echo: second", dmesg);
        Assert.DoesNotContain($"(d{id}) echo: \u001d", dmesg);
        Host.AssertOnlyDomain0();
    }

    /// <summary>Runs <c>xl ARGS</c> with <paramref name="stdin"/> piped in (then closed), to completion.</summary>
    private XlResult XlWithInput(string stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(Host.XlPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Host.StateDir,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["XENSHARP_STATE_DIR"] = Host.StateDir;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardInput.BaseStream.Write(Encoding.UTF8.GetBytes(stdin));
        p.StandardInput.Close();
        var clock = Stopwatch.StartNew();
        if (!p.WaitForExit(XenSharpHost.DefaultTimeout))
        {
            try { p.Kill(); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            Assert.Fail($"`xl {string.Join(' ', args)}` did not finish within {XenSharpHost.DefaultTimeout.TotalSeconds:0} s and was killed.\n" +
                        $"--- stdout ---\n{(stdout.Wait(5000) ? stdout.Result : "")}\n--- stderr ---\n{(stderr.Wait(5000) ? stderr.Result : "")}\n" +
                        $"--- daemon log (tail) ---\n{Host.DaemonLogTail()}");
        }
        p.WaitForExit();
        return new XlResult(args, p.ExitCode, stdout.Result, stderr.Result, clock.Elapsed, Host);
    }
}
