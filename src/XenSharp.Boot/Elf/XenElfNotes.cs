using System.Buffers.Binary;
using System.Text;
using XenSharp.Abi.Elf;

namespace XenSharp.Boot.Elf;

/// <summary>
/// The Xen notes of a kernel image (owner name "Xen", elfnote.h) decoded into typed values.
/// Numeric notes may be 4 or 8 bytes; string notes are NUL-terminated. When a note appears
/// more than once, the last one wins (every occurrence stays in <see cref="All"/>).
/// </summary>
public sealed class XenElfNotes
{
    /// <summary>The owner name of Xen notes.</summary>
    public const string OwnerName = "Xen";

    /// <summary>Every "Xen" note, in file order.</summary>
    public IReadOnlyList<ElfNote> All { get; }

    /// <summary>XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit physical PVH entry point.</summary>
    public uint? Phys32Entry { get; private set; }
    /// <summary>XEN_ELFNOTE_ENTRY: PV virtual entry point.</summary>
    public ulong? Entry { get; private set; }
    /// <summary>XEN_ELFNOTE_HYPERCALL_PAGE: virtual address of the hypercall page.</summary>
    public ulong? HypercallPage { get; private set; }
    /// <summary>XEN_ELFNOTE_VIRT_BASE.</summary>
    public ulong? VirtBase { get; private set; }
    /// <summary>XEN_ELFNOTE_PADDR_OFFSET.</summary>
    public ulong? PaddrOffset { get; private set; }
    /// <summary>XEN_ELFNOTE_HV_START_LOW.</summary>
    public ulong? HvStartLow { get; private set; }
    /// <summary>XEN_ELFNOTE_SUSPEND_CANCEL.</summary>
    public ulong? SuspendCancel { get; private set; }
    /// <summary>XEN_ELFNOTE_INIT_P2M.</summary>
    public ulong? InitP2m { get; private set; }
    /// <summary>XEN_ELFNOTE_MOD_START_PFN.</summary>
    public ulong? ModStartPfn { get; private set; }
    /// <summary>XEN_ELFNOTE_SUPPORTED_FEATURES: XENFEAT_* bitmap (first 32-bit word).</summary>
    public uint? SupportedFeatures { get; private set; }
    /// <summary>XEN_ELFNOTE_XEN_VERSION.</summary>
    public string? XenVersion { get; private set; }
    /// <summary>XEN_ELFNOTE_GUEST_OS.</summary>
    public string? GuestOs { get; private set; }
    /// <summary>XEN_ELFNOTE_GUEST_VERSION.</summary>
    public string? GuestVersion { get; private set; }
    /// <summary>XEN_ELFNOTE_LOADER.</summary>
    public string? Loader { get; private set; }
    /// <summary>XEN_ELFNOTE_PAE_MODE.</summary>
    public string? PaeMode { get; private set; }
    /// <summary>XEN_ELFNOTE_FEATURES.</summary>
    public string? Features { get; private set; }
    /// <summary>XEN_ELFNOTE_BSD_SYMTAB.</summary>
    public string? BsdSymtab { get; private set; }
    /// <summary>XEN_ELFNOTE_INFO strings (NAME=VALUE), in file order.</summary>
    public IReadOnlyList<string> Info { get; }
    /// <summary>
    /// XEN_ELFNOTE_PHYS32_RELOC when present: the kernel can be relocated, within these
    /// constraints (defaults filled in as elfnote.h gives them when the note omits a value).
    /// </summary>
    public (uint Alignment, uint Minimum, uint Maximum)? Phys32Reloc { get; private set; }

    private XenElfNotes(List<ElfNote> all, List<string> info)
    {
        All = all;
        Info = info;
    }

    /// <summary>Decodes the Xen notes of a parsed image.</summary>
    /// <exception cref="BootException">a numeric note has a size other than 4 or 8 bytes, or a value out of range.</exception>
    public static XenElfNotes From(ElfImage image) => Decode(image.Notes, image.Path);

    /// <summary>Decodes the "Xen" notes among <paramref name="notes"/>; <paramref name="path"/> is used in messages.</summary>
    /// <exception cref="BootException">a numeric note has a size other than 4 or 8 bytes, or a value out of range.</exception>
    public static XenElfNotes Decode(IEnumerable<ElfNote> notes, string path)
    {
        var all = new List<ElfNote>();
        var info = new List<string>();
        var result = new XenElfNotes(all, info);
        foreach (var note in notes)
        {
            if (note.Name != OwnerName) continue;
            all.Add(note);
            ReadOnlySpan<byte> d = note.Descriptor.Span;
            switch ((XenElfNoteType)note.Type)
            {
                case XenElfNoteType.Phys32Entry:
                    ulong entry = Numeric(note, path);
                    if (entry > uint.MaxValue)
                        throw new BootException($"{path}: Xen note PHYS32_ENTRY (18) is 0x{entry:x}, above 4 GiB; it must be a 32-bit physical address");
                    result.Phys32Entry = (uint)entry;
                    break;
                case XenElfNoteType.Entry: result.Entry = Numeric(note, path); break;
                case XenElfNoteType.HypercallPage: result.HypercallPage = Numeric(note, path); break;
                case XenElfNoteType.VirtBase: result.VirtBase = Numeric(note, path); break;
                case XenElfNoteType.PaddrOffset: result.PaddrOffset = Numeric(note, path); break;
                case XenElfNoteType.HvStartLow: result.HvStartLow = Numeric(note, path); break;
                case XenElfNoteType.SuspendCancel: result.SuspendCancel = Numeric(note, path); break;
                case XenElfNoteType.InitP2m: result.InitP2m = Numeric(note, path); break;
                case XenElfNoteType.ModStartPfn: result.ModStartPfn = Numeric(note, path); break;
                case XenElfNoteType.SupportedFeatures:
                    if (d.Length < 4 || d.Length % 4 != 0)
                        throw BadSize(note, path, "a multiple of 4 bytes");
                    result.SupportedFeatures = BinaryPrimitives.ReadUInt32LittleEndian(d);
                    break;
                case XenElfNoteType.XenVersion: result.XenVersion = Text(d); break;
                case XenElfNoteType.GuestOs: result.GuestOs = Text(d); break;
                case XenElfNoteType.GuestVersion: result.GuestVersion = Text(d); break;
                case XenElfNoteType.Loader: result.Loader = Text(d); break;
                case XenElfNoteType.PaeMode: result.PaeMode = Text(d); break;
                case XenElfNoteType.Features: result.Features = Text(d); break;
                case XenElfNoteType.BsdSymtab: result.BsdSymtab = Text(d); break;
                case XenElfNoteType.Info: info.Add(Text(d)); break;
                case XenElfNoteType.Phys32Reloc:
                    result.Phys32Reloc = (
                        d.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(d) : 0x200000u,
                        d.Length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(d[4..]) : 0u,
                        d.Length >= 12 ? BinaryPrimitives.ReadUInt32LittleEndian(d[8..]) : uint.MaxValue);
                    break;
            }
        }
        return result;
    }

    /// <summary>
    /// One human-readable line per Xen note, in file order: "GUEST_OS = Linux",
    /// "PHYS32_ENTRY = 0x1000000", "L1_MFN_VALID = &lt;16 bytes: ...&gt;".
    /// </summary>
    public IReadOnlyList<string> Describe()
    {
        var lines = new List<string>(All.Count);
        foreach (var note in All)
        {
            ReadOnlySpan<byte> d = note.Descriptor.Span;
            string value = (XenElfNoteType)note.Type switch
            {
                XenElfNoteType.Entry or XenElfNoteType.HypercallPage or XenElfNoteType.VirtBase
                    or XenElfNoteType.PaddrOffset or XenElfNoteType.HvStartLow or XenElfNoteType.SuspendCancel
                    or XenElfNoteType.InitP2m or XenElfNoteType.ModStartPfn or XenElfNoteType.Phys32Entry
                    when d.Length is 4 or 8 => $"0x{ReadNumeric(d):x}",
                XenElfNoteType.SupportedFeatures when d.Length >= 4 => $"0x{BinaryPrimitives.ReadUInt32LittleEndian(d):x}",
                XenElfNoteType.Info or XenElfNoteType.XenVersion or XenElfNoteType.GuestOs or XenElfNoteType.GuestVersion
                    or XenElfNoteType.Loader or XenElfNoteType.PaeMode or XenElfNoteType.Features
                    or XenElfNoteType.BsdSymtab => Printable(Text(d)),
                XenElfNoteType.Phys32Reloc => DescribeReloc(d),
                _ => Hex(d),
            };
            lines.Add($"{NameOf(note.Type)} = {value}");
        }
        return lines;
    }

    /// <summary>The elfnote.h name of a note type without the XEN_ELFNOTE_ prefix ("PHYS32_ENTRY"), or "type N".</summary>
    public static string NameOf(uint type) => (XenElfNoteType)type switch
    {
        XenElfNoteType.Info => "INFO",
        XenElfNoteType.Entry => "ENTRY",
        XenElfNoteType.HypercallPage => "HYPERCALL_PAGE",
        XenElfNoteType.VirtBase => "VIRT_BASE",
        XenElfNoteType.PaddrOffset => "PADDR_OFFSET",
        XenElfNoteType.XenVersion => "XEN_VERSION",
        XenElfNoteType.GuestOs => "GUEST_OS",
        XenElfNoteType.GuestVersion => "GUEST_VERSION",
        XenElfNoteType.Loader => "LOADER",
        XenElfNoteType.PaeMode => "PAE_MODE",
        XenElfNoteType.Features => "FEATURES",
        XenElfNoteType.BsdSymtab => "BSD_SYMTAB",
        XenElfNoteType.HvStartLow => "HV_START_LOW",
        XenElfNoteType.L1MfnValid => "L1_MFN_VALID",
        XenElfNoteType.SuspendCancel => "SUSPEND_CANCEL",
        XenElfNoteType.InitP2m => "INIT_P2M",
        XenElfNoteType.ModStartPfn => "MOD_START_PFN",
        XenElfNoteType.SupportedFeatures => "SUPPORTED_FEATURES",
        XenElfNoteType.Phys32Entry => "PHYS32_ENTRY",
        XenElfNoteType.Phys32Reloc => "PHYS32_RELOC",
        XenElfNoteType.CrashInfo => "CRASH_INFO",
        XenElfNoteType.CrashRegs => "CRASH_REGS",
        XenElfNoteType.DumpcoreNone => "DUMPCORE_NONE",
        XenElfNoteType.DumpcoreHeader => "DUMPCORE_HEADER",
        XenElfNoteType.DumpcoreXenVersion => "DUMPCORE_XEN_VERSION",
        XenElfNoteType.DumpcoreFormatVersion => "DUMPCORE_FORMAT_VERSION",
        _ => $"type {type}",
    };

    private static ulong Numeric(ElfNote note, string path)
    {
        ReadOnlySpan<byte> d = note.Descriptor.Span;
        if (d.Length is not (4 or 8))
            throw BadSize(note, path, "4 or 8 bytes");
        return ReadNumeric(d);
    }

    private static ulong ReadNumeric(ReadOnlySpan<byte> d) =>
        d.Length == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(d) : BinaryPrimitives.ReadUInt32LittleEndian(d);

    private static BootException BadSize(ElfNote note, string path, string expected) =>
        new($"{path}: Xen note {NameOf(note.Type)} ({note.Type}) has a {note.Descriptor.Length}-byte value; it must be {expected}");

    private static string Text(ReadOnlySpan<byte> d)
    {
        int nul = d.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? d[..nul] : d);
    }

    private static string Printable(string s)
    {
        if (!s.Any(char.IsControl)) return s;
        return string.Create(s.Length, s, static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++) dst[i] = char.IsControl(src[i]) ? '?' : src[i];
        });
    }

    private static string DescribeReloc(ReadOnlySpan<byte> d)
    {
        uint align = d.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(d) : 0x200000u;
        uint min = d.Length >= 8 ? BinaryPrimitives.ReadUInt32LittleEndian(d[4..]) : 0u;
        uint max = d.Length >= 12 ? BinaryPrimitives.ReadUInt32LittleEndian(d[8..]) : uint.MaxValue;
        return $"relocatable (align 0x{align:x}, min 0x{min:x}, max 0x{max:x})";
    }

    private static string Hex(ReadOnlySpan<byte> d)
    {
        const int shown = 32;
        if (d.IsEmpty) return "<empty>";
        var hex = Convert.ToHexString(d[..Math.Min(d.Length, shown)]).ToLowerInvariant();
        return d.Length > shown ? $"<{d.Length} bytes: {hex}...>" : $"<{d.Length} bytes: {hex}>";
    }
}
