using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>XlConfigParser reads every feature of the xl.cfg(5) syntax.</summary>
public class XlConfigParserTests
{
    private const string File = "vm.cfg";

    private static XlConfigFile Parse(string text) => XlConfigParser.Parse(text, File);

    private static XlList List(params XlValue[] items) => new(items);

    private static XlString Str(string s) => new(s);

    private static XlNumber Num(long n) => new(n);

    [Fact]
    public void Reads_settings_one_per_line_in_order_with_lines()
    {
        var cfg = Parse("name = \"vm1\"\nmemory = 512\n\nvcpus=2\n");

        Assert.Equal(["name", "memory", "vcpus"], cfg.Settings.Select(s => s.Key));
        Assert.Equal([1, 2, 4], cfg.Settings.Select(s => s.Line));
        Assert.Equal(Str("vm1"), cfg["name"]);
        Assert.Equal(Num(512), cfg["memory"]);
        Assert.Equal(Num(2), cfg["vcpus"]);
        Assert.All(cfg.Settings, s => Assert.Equal(File, s.File));
        Assert.Empty(cfg.Warnings);
    }

    [Fact]
    public void Semicolons_separate_settings_and_empty_statements_are_fine()
    {
        var cfg = Parse(";;name=\"h0\"; type=\"hvm\" ;\n;memory=1;");

        Assert.Equal(["name", "type", "memory"], cfg.Keys);
        Assert.Equal(Str("hvm"), cfg["type"]);
        Assert.All(cfg.Settings.Take(2), s => Assert.Equal(1, s.Line));
    }

    [Fact]
    public void Last_statement_needs_no_newline_and_empty_input_is_empty()
    {
        Assert.Equal(Num(7), Parse("vcpus = 7")["vcpus"]);
        Assert.Empty(Parse("").Settings);
        Assert.Empty(Parse("\n\n# only a comment").Settings);
    }

    [Fact]
    public void Comments_run_to_end_of_line_anywhere_outside_strings()
    {
        var cfg = Parse("""
            # a comment
            name = "a#b" # trailing comment
            memory = 256# no space
            disk = [ # comment after [
               'x', # comment after item
               # comment line inside the list
               'y'
            ] # after ]
            """);

        Assert.Equal(Str("a#b"), cfg["name"]);
        Assert.Equal(Num(256), cfg["memory"]);
        Assert.Equal(List(Str("x"), Str("y")), cfg["disk"]);
    }

    [Fact]
    public void Strings_take_double_or_single_quotes()
    {
        var cfg = Parse("a = \"it's\"\nb = 'say \"hi\"'\nc = ''\nd = \"\"");

        Assert.Equal(Str("it's"), cfg["a"]);
        Assert.Equal(Str("say \"hi\""), cfg["b"]);
        Assert.Equal(Str(""), cfg["c"]);
        Assert.Equal(Str(""), cfg["d"]);
    }

    [Fact]
    public void Strings_decode_the_escapes_xl_accepts()
    {
        var cfg = Parse("""
            a = "q\" s\' b\\ e"
            b = '\a\b\f\n\r\t\v'
            c = "\x41\x7a\x1B"
            d = "\101\0\7x\1010"
            """);

        Assert.Equal(Str("q\" s' b\\ e"), cfg["a"]);
        Assert.Equal(Str("\a\b\f\n\r\t\v"), cfg["b"]);
        Assert.Equal(Str("Az\x1b"), cfg["c"]);
        Assert.Equal(Str("A\0\u0007xA0"), cfg["d"]);
    }

    [Fact]
    public void Strings_keep_spaces_tabs_and_non_ascii_text()
    {
        Assert.Equal(Str("  caf\u00e9\tx "), Parse("s = \"  caf\u00e9\tx \"")["s"]);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("512", 512L)]
    [InlineData("0x1f", 31L)]
    [InlineData("0X1F", 31L)]
    [InlineData("0xFFFFFFFF", 0xFFFFFFFFL)]
    [InlineData("010", 8L)] // xl reads a leading 0 as octal (strtol base 0)
    [InlineData("9223372036854775807", long.MaxValue)]
    public void Numbers_are_decimal_hex_or_octal(string text, long expected)
    {
        var value = Assert.IsType<XlNumber>(Parse($"n = {text}")["n"]);
        Assert.Equal(expected, value.Value);
        Assert.Equal(text, value.Text);
        Assert.Equal(text, value.ScalarText);
    }

    [Fact]
    public void Lists_may_be_empty_span_lines_and_end_with_a_comma()
    {
        var cfg = Parse("""
            a = []
            b = [

            ]
            c = [ 'x', 1, "y", ]
            d = [
                'x'
                ,
                'y',

            ]
            e = ['only']
            """);

        Assert.Equal(List(), cfg["a"]);
        Assert.Equal(List(), cfg["b"]);
        Assert.Equal(List(Str("x"), Num(1), Str("y")), cfg["c"]);
        Assert.Equal(List(Str("x"), Str("y")), cfg["d"]);
        Assert.Equal(List(Str("only")), cfg["e"]);
        Assert.Equal(6, cfg.Find("d")!.Line);
        Assert.Equal(12, cfg.Find("e")!.Line);
    }

    [Fact]
    public void List_items_remember_their_lines()
    {
        var list = Assert.IsType<XlList>(Parse("disk = [\n 'a',\n\n 'b' ]")["disk"]);
        Assert.Equal(1, list.Line);
        Assert.Equal([2, 4], list.Items.Select(i => i.Line));
    }

    [Fact]
    public void Lists_nest_like_vnuma_and_vsnd()
    {
        var cfg = Parse("""
            vnuma = [ ["pnode=0","size=512","vcpus=0-4","vdistances=10,20"] ]
            vsnd = [
                ['CARD, short-name=Main, sample-formats=s16_le;s8;u32_be',
                    'PCM, name=Main',
                        'STREAM, id=0, type=p',
                        'STREAM, id=1, type=c, channels-max=2'
                ],
                ['CARD, short-name=Second',
                    'PCM, name=Second, buffer-size=1024',
                        'STREAM, id=2, type=p',
                        'STREAM, id=3, type=c'
                ]
            ]
            mixed = [ 1, [ ], [ 'a', [ 2 ] ], ]
            """);

        var vnuma = Assert.IsType<XlList>(cfg["vnuma"]);
        Assert.Equal(List(Str("pnode=0"), Str("size=512"), Str("vcpus=0-4"), Str("vdistances=10,20")), vnuma[0]);
        var vsnd = Assert.IsType<XlList>(cfg["vsnd"]);
        Assert.Equal(2, vsnd.Count);
        Assert.Equal(4, Assert.IsType<XlList>(vsnd[1]).Count);
        Assert.Equal(Str("CARD, short-name=Main, sample-formats=s16_le;s8;u32_be"), Assert.IsType<XlList>(vsnd[0])[0]);
        Assert.Equal(List(Num(1), List(), List(Str("a"), List(Num(2)))), cfg["mixed"]);
    }

    [Fact]
    public void Keys_may_hold_digits_underscores_and_dots()
    {
        var cfg = Parse("on_crash = 'preserve'\nacpi_s3 = 1\nx.y_2 = 3");
        Assert.Equal(["on_crash", "acpi_s3", "x.y_2"], cfg.Keys);
    }

    [Fact]
    public void Spaces_around_equals_are_optional_and_crlf_line_ends_work()
    {
        var cfg = Parse("name=\"a\"\r\nmemory\t=\t64\r\nvif = [ '' ,\r\n ]\r\n");
        Assert.Equal(Str("a"), cfg["name"]);
        Assert.Equal(Num(64), cfg["memory"]);
        Assert.Equal(List(Str("")), cfg["vif"]);
        Assert.Equal(2, cfg.Find("memory")!.Line);
    }

    [Fact]
    public void A_byte_order_mark_is_skipped()
    {
        Assert.Equal(Str("a"), Parse("\uFEFFname = 'a'")["name"]);
    }

    [Fact]
    public void Repeated_keys_keep_the_last_value_with_a_warning()
    {
        var cfg = Parse("memory = 256\nname = 'a'\nmemory = 512\nmemory = 1024\n");

        Assert.Equal(Num(1024), cfg["memory"]);
        Assert.Equal(4, cfg.Find("memory")!.Line);
        Assert.Equal(4, cfg.Settings.Count);
        Assert.Equal(["memory", "name"], cfg.Keys);
        Assert.Equal(
            [
                "vm.cfg:3: 'memory' set again; replaces the value from line 1 (the last one wins)",
                "vm.cfg:4: 'memory' set again; replaces the value from line 3 (the last one wins)",
            ],
            cfg.Warnings);
    }

    [Fact]
    public void Plus_equals_joins_strings_and_concatenates_lists()
    {
        var cfg = Parse("""
            extra = "console=hvc0"
            extra += " quiet"
            disk = [ 'a' ]
            disk += [ 'b', 'c' ]
            vif += [ 'bridge=br0' ]
            """);

        Assert.Equal(Str("console=hvc0 quiet"), cfg["extra"]);
        Assert.Equal(List(Str("a"), Str("b"), Str("c")), cfg["disk"]);
        Assert.Equal(List(Str("bridge=br0")), cfg["vif"]);
        Assert.True(cfg.Find("extra")!.Appended);
        Assert.Empty(cfg.Warnings);
    }

    [Fact]
    public void Plus_equals_needs_the_same_shape_on_both_sides()
    {
        var e = Assert.Throws<XlConfigException>(() => Parse("disk = [ 'a' ]\ndisk += 'b'"));
        Assert.Equal("vm.cfg:2: disk: bad value 'b' (accepted: a [ list ], to add with '+=' to the value from vm.cfg:1)", e.Message);
        Assert.Equal(2, e.Line);
        Assert.Equal("disk", e.Key);
    }

    [Fact]
    public void Missing_keys_are_null()
    {
        var cfg = Parse("name = 'a'");
        Assert.Null(cfg["memory"]);
        Assert.Null(cfg.Find("memory"));
        Assert.False(cfg.Contains("memory"));
        Assert.True(cfg.Contains("name"));
    }

    [Fact]
    public void Values_print_in_xl_syntax()
    {
        var cfg = Parse("""v = [ "a\"b", 'c\n', 0x10, [ ] ]""");
        Assert.Equal("""[ "a\"b", "c\n", 0x10, [ ] ]""", cfg["v"]!.ToString());
    }

    [Fact]
    public void ParseFile_reads_a_file_and_names_it_in_messages()
    {
        string dir = Directory.CreateTempSubdirectory("xlcfg").FullName;
        try
        {
            string path = Path.Combine(dir, "guest.cfg");
            System.IO.File.WriteAllText(path, "name = 'g'\nmemory = oops\n");
            var e = Assert.Throws<XlConfigException>(() => XlConfigParser.ParseFile(path));
            Assert.StartsWith($"{path}:2: syntax error: 'oops'", e.Message);

            System.IO.File.WriteAllText(path, "name = 'g'\n");
            Assert.Equal(path, XlConfigParser.ParseFile(path).FileName);

            var missing = Assert.Throws<XlConfigException>(() => XlConfigParser.ParseFile(Path.Combine(dir, "none.cfg")));
            Assert.Equal($"{Path.Combine(dir, "none.cfg")}: cannot read the configuration file: no such file", missing.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
