using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>
/// Bad xl.cfg input fails with messages naming the file, line, key and what is accepted:
/// "FILE:LINE: syntax error: FOUND (expected ...)", "FILE:LINE: KEY: bad value 'X' (accepted: ...)"
/// and "FILE: KEY: missing (...)".
/// </summary>
public class XlConfigErrorTests
{
    private const string Pvh = "name = 'vm'\ntype = 'pvh'\nkernel = '/k'\n";

    private static XlConfigException SyntaxError(string text) =>
        Assert.Throws<XlConfigException>(() => XlConfigParser.Parse(text, "vm.cfg"));

    private static XlConfigException ConfigError(string text) =>
        Assert.Throws<XlConfigException>(() => DomainConfig.FromFile(XlConfigParser.Parse(text, "vm.cfg")));

    [Theory]
    [InlineData("name = vm1",
        "vm.cfg:1: syntax error: 'vm1' (expected a value: a \"quoted string\", a number, or a [ list ] (text must be quoted))")]
    [InlineData("name = 'a'\nmemory = 512M",
        "vm.cfg:2: syntax error: '512M' (expected an integer: decimal, 0x hexadecimal, or octal with a leading 0 (quote other text))")]
    [InlineData("cap = 1.5",
        "vm.cfg:1: syntax error: '1.5' (expected an integer: xl has no floating-point numbers)")]
    [InlineData("memory = 0x",
        "vm.cfg:1: syntax error: '0x' (expected hexadecimal digits after 0x)")]
    [InlineData("memory = 0x1g",
        "vm.cfg:1: syntax error: '0x1g' (expected hexadecimal digits 0-9, a-f after 0x)")]
    [InlineData("memory = 09",
        "vm.cfg:1: syntax error: '09' (expected octal digits 0-7 after a leading 0 (xl reads 0-prefixed numbers as octal))")]
    [InlineData("memory = 99999999999999999999",
        "vm.cfg:1: syntax error: '99999999999999999999' (expected an integer no larger than 9223372036854775807)")]
    [InlineData("memory = -1",
        "vm.cfg:1: syntax error: '-1' (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("\n\nname = \"abc\n",
        "vm.cfg:3: syntax error: end of line inside the string \"abc (expected the closing \" on the same line (xl strings cannot span lines))")]
    [InlineData("name = 'abc",
        "vm.cfg:1: syntax error: end of file inside the string 'abc (expected the closing ' on the same line (xl strings cannot span lines))")]
    [InlineData("name = \"a\\qb\"",
        "vm.cfg:1: syntax error: '\\q' inside the string \"a\\qb\" (expected one of the escapes \\\" \\' \\\\ \\a \\b \\f \\n \\r \\t \\v \\xHH \\OOO)")]
    [InlineData("name = \"\\xZ1\"",
        "vm.cfg:1: syntax error: '\\xZ1' in a string (expected two hexadecimal digits after \\x, as in \\x1b)")]
    [InlineData("name = \"\\777\"",
        "vm.cfg:1: syntax error: '\\777' in a string (expected an octal escape from \\0 to \\377)")]
    [InlineData("name = 'a' memory = 5",
        "vm.cfg:1: syntax error: 'memory' (expected ';' or a new line after the value of 'name')")]
    [InlineData("Memory = 5",
        "vm.cfg:1: syntax error: 'Memory' (expected a key: a lowercase letter, then lowercase letters, digits, '_' or '.')")]
    [InlineData("_x = 5",
        "vm.cfg:1: syntax error: '_x' (expected a key: a lowercase letter, then lowercase letters, digits, '_' or '.')")]
    [InlineData("= 5",
        "vm.cfg:1: syntax error: '=' (expected a key: a lowercase letter, then lowercase letters, digits, '_' or '.')")]
    [InlineData("memory 5",
        "vm.cfg:1: syntax error: '5' (expected '=' or '+=' after 'memory')")]
    [InlineData("memory\n= 5",
        "vm.cfg:1: syntax error: end of line (expected '=' or '+=' after 'memory')")]
    [InlineData("memory =\n5",
        "vm.cfg:1: syntax error: end of line (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("memory =",
        "vm.cfg:1: syntax error: end of file (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("disk = [ 'a' 'b' ]",
        "vm.cfg:1: syntax error: 'b' (expected ',' or ']' in the list opened on line 1)")]
    [InlineData("disk = [ 'a',\n  'b'\n",
        "vm.cfg:3: syntax error: end of file (expected ',' or ']' in the list opened on line 1)")]
    [InlineData("disk = [ , 'a' ]",
        "vm.cfg:1: syntax error: ',' (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("disk = [ 'a',, ]",
        "vm.cfg:1: syntax error: ',' (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("disk = [ 'a'; 'b' ]",
        "vm.cfg:1: syntax error: ';' (expected ',' or ']' in the list opened on line 1)")]
    [InlineData("disk = ]",
        "vm.cfg:1: syntax error: ']' (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("memory = 128 * 2",
        "vm.cfg:1: syntax error: '*' (expected ';' or a new line after the value of 'memory')")]
    [InlineData("memory =\u00a0512",
        "vm.cfg:1: syntax error: '\u00a0512' (expected a value: a \"quoted string\", a number, or a [ list ])")]
    [InlineData("memory = 512\u00a0",
        "vm.cfg:1: syntax error: '512\u00a0' (expected an integer: decimal, 0x hexadecimal, or octal with a leading 0 (quote other text))")]
    [InlineData("name = 'a'\u0001",
        "vm.cfg:1: syntax error: '\\x01' (expected ';' or a new line after the value of 'name')")]
    [InlineData("v = [[[[[[[[[1]]]]]]]]]",
        "vm.cfg:1: syntax error: '[' (expected a value: lists nest at most 8 deep)")]
    public void Syntax_errors_name_the_line_what_was_found_and_what_is_accepted(string text, string message)
    {
        var e = SyntaxError(text);
        Assert.Equal(message, e.Message);
        Assert.NotNull(e.Line);
        Assert.Equal(message[..message.IndexOf(": syntax error", StringComparison.Ordinal)], e.Location);
    }

    [Fact]
    public void Nesting_up_to_the_limit_is_accepted()
    {
        var cfg = XlConfigParser.Parse("v = [[[[[[[[1]]]]]]]]", "vm.cfg");
        Assert.Equal(XlValueKind.List, cfg["v"]!.Kind);
    }

    [Theory]
    [InlineData(Pvh + "memory = 0",
        "vm.cfg:4: memory: bad value '0' (accepted: a whole number of MiB, 1..16777216)")]
    [InlineData(Pvh + "memory = 'lots'",
        "vm.cfg:4: memory: bad value 'lots' (accepted: a whole number of MiB, 1..16777216)")]
    [InlineData(Pvh + "memory = [ 512 ]",
        "vm.cfg:4: memory: bad value '[ 512 ]' (accepted: a whole number of MiB, 1..16777216)")]
    [InlineData(Pvh + "memory = 99999999999",
        "vm.cfg:4: memory: bad value '99999999999' (accepted: a whole number of MiB, 1..16777216)")]
    [InlineData(Pvh + "memory = 512\nmaxmem = 256",
        "vm.cfg:5: maxmem: bad value '256' (accepted: a whole number of MiB, 512..16777216 (at least memory))")]
    [InlineData(Pvh + "vcpus = 0",
        "vm.cfg:4: vcpus: bad value '0' (accepted: 1..128)")]
    [InlineData(Pvh + "vcpus = 129",
        "vm.cfg:4: vcpus: bad value '129' (accepted: 1..128)")]
    [InlineData(Pvh + "vcpus = 4\nmaxvcpus = 2",
        "vm.cfg:5: maxvcpus: bad value '2' (accepted: 4..128 (at least vcpus))")]
    [InlineData(Pvh + "max_event_channels = 0",
        "vm.cfg:4: max_event_channels: bad value '0' (accepted: a number of ports, 1..131071)")]
    [InlineData(Pvh + "max_grant_frames = 5000",
        "vm.cfg:4: max_grant_frames: bad value '5000' (accepted: a number of frames, 1..4096)")]
    [InlineData(Pvh + "max_grant_version = 3",
        "vm.cfg:4: max_grant_version: bad value '3' (accepted: 1 or 2)")]
    [InlineData(Pvh + "on_crash = 'explode'",
        "vm.cfg:4: on_crash: bad value 'explode' (accepted: destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)")]
    [InlineData(Pvh + "on_reboot = 'Restart'",
        "vm.cfg:4: on_reboot: bad value 'Restart' (accepted: destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)")]
    [InlineData("name = 'vm'\ntype = 'kvm'",
        "vm.cfg:2: type: bad value 'kvm' (accepted: pv, pvh, hvm)")]
    [InlineData("name = 'vm'\ntype = [ 'pvh' ]",
        "vm.cfg:2: type: bad value '[ \"pvh\" ]' (accepted: pv, pvh, hvm)")]
    [InlineData("name = 'vm'\nbuilder = 'linux'",
        "vm.cfg:2: builder: bad value 'linux' (accepted: generic, hvm (builder is deprecated: prefer type = \"pv\", \"pvh\" or \"hvm\"))")]
    [InlineData("name = 'vm'\ntype = 'pv'\nbuilder = 'hvm'",
        "vm.cfg:3: builder: bad value 'hvm' (accepted: generic, which must agree with type = \"pv\" at vm.cfg:2; better remove the deprecated builder)")]
    [InlineData("name = 'vm'\ntype = 'pvh'\nkernel = '/k'\nbuilder = 'generic'",
        "vm.cfg:4: builder: bad value 'generic' (accepted: no builder at all: it must agree with type = \"pvh\" at vm.cfg:2; better remove the deprecated builder)")]
    [InlineData("name = 'a/b'",
        "vm.cfg:1: name: bad value 'a/b' (accepted: a non-empty name without '/' or control characters, not made only of digits (xl would take it for a domain id))")]
    [InlineData("name = ''",
        "vm.cfg:1: name: bad value '' (accepted: a non-empty name without '/' or control characters, not made only of digits (xl would take it for a domain id))")]
    [InlineData("name = 'a\\nb'",
        "vm.cfg:1: name: bad value 'a\\nb' (accepted: a non-empty name without '/' or control characters, not made only of digits (xl would take it for a domain id))")]
    [InlineData("name = 42",
        "vm.cfg:1: name: bad value '42' (accepted: a non-empty name without '/' or control characters, not made only of digits (xl would take it for a domain id))")]
    [InlineData(Pvh + "uuid = 'not-a-uuid'",
        "vm.cfg:4: uuid: bad value 'not-a-uuid' (accepted: a UUID written as 8-4-4-4-12 hexadecimal digits, e.g. 6f9a2c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b)")]
    [InlineData(Pvh + "uuid = '6f9a2c1e3b4d-4e5f-8a9b-0c1d-2e3f4a5b'",
        "vm.cfg:4: uuid: bad value '6f9a2c1e3b4d-4e5f-8a9b-0c1d-2e3f4a5b' (accepted: a UUID written as 8-4-4-4-12 hexadecimal digits, e.g. 6f9a2c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b)")]
    [InlineData("name = 'vm'\ntype = 'pvh'\nkernel = ''",
        "vm.cfg:3: kernel: bad value '' (accepted: a non-empty \"PATH\")")]
    [InlineData(Pvh + "extra = [ 'quiet' ]",
        "vm.cfg:4: extra: bad value '[ \"quiet\" ]' (accepted: a \"STRING\")")]
    [InlineData(Pvh + "memory = 256\nmemory += 1",
        "vm.cfg:5: memory: bad value '2561' (accepted: a whole number of MiB, 1..16777216, set with '=' ('+=' joins text and cannot be used with numbers))")]
    public void Bad_values_name_the_file_line_key_and_accepted_values(string text, string message)
    {
        var e = ConfigError(text);
        Assert.Equal(message, e.Message);
        Assert.NotNull(e.Key);
        Assert.NotNull(e.Line);
        Assert.StartsWith($"{e.Location}: {e.Key}: bad value '", e.Message);
    }

    [Fact]
    public void A_missing_name_is_reported_against_the_file()
    {
        var e = ConfigError("memory = 512\n");
        Assert.Equal("vm.cfg: name: missing (every domain needs a name)", e.Message);
        Assert.Equal("name", e.Key);
        Assert.Null(e.Line);
    }

    [Fact]
    public void A_pvh_domain_without_a_kernel_is_reported()
    {
        var e = ConfigError("name = 'vm'\ntype = 'pvh'\n");
        Assert.Equal("vm.cfg: kernel: missing (a PVH domain boots a kernel = \"PATH\" ELF)", e.Message);
        Assert.Equal("kernel", e.Key);
    }

    [Fact]
    public void Pv_and_hvm_domains_without_a_kernel_are_parsed()
    {
        Assert.Equal(DomainType.Pv, DomainConfig.FromFile(XlConfigParser.Parse("name = 'a'", "vm.cfg")).Type);
        Assert.Equal(DomainType.Hvm, DomainConfig.FromFile(XlConfigParser.Parse("name = 'a'\ntype = 'hvm'", "vm.cfg")).Type);
    }

    [Fact]
    public void Errors_in_values_inside_multi_line_lists_point_at_the_right_line()
    {
        var e = SyntaxError("disk = [\n  'a',\n  'b',\n  c\n]\n");
        Assert.Equal("vm.cfg:4: syntax error: 'c' (expected a value: a \"quoted string\", a number, or a [ list ] (text must be quoted))", e.Message);
        Assert.Equal(4, e.Line);
    }
}
