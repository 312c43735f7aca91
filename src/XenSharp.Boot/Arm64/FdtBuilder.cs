using System.Buffers.Binary;
using System.Text;

namespace XenSharp.Boot.Arm64;

/// <summary>
/// Writes a flattened device tree blob (Devicetree Specification v0.4, chapter 5: version 17,
/// last compatible version 16): the 40-byte header, the memory reservation block, the structure
/// block (FDT_BEGIN_NODE / FDT_PROP / FDT_END_NODE / FDT_END tokens) and the strings block, all
/// big-endian. Property names are stored once in the strings block. Nodes are written in the
/// order they are begun; a node's properties must come before its children, as the
/// specification requires.
/// </summary>
public sealed class FdtBuilder
{
    public const uint Magic = 0xD00D_FEED;
    public const uint Version = 17;
    public const uint LastCompatibleVersion = 16;
    public const int HeaderSize = 40;

    public const uint TokenBeginNode = 1;
    public const uint TokenEndNode = 2;
    public const uint TokenProp = 3;
    public const uint TokenNop = 4;
    public const uint TokenEnd = 9;

    private readonly MemoryStream _structure = new();
    private readonly MemoryStream _strings = new();
    private readonly Dictionary<string, int> _stringOffsets = new(StringComparer.Ordinal);
    private readonly List<(ulong Address, ulong Size)> _reservations = [];
    private readonly Stack<NodeState> _open = new();
    private uint _nextPhandle = 1;
    private bool _rootDone;

    private sealed class NodeState(string path)
    {
        public string Path { get; } = path;
        public HashSet<string> Properties { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Children { get; } = new(StringComparer.Ordinal);
        public bool HasChildren { get; set; }
    }

    /// <summary>boot_cpuid_phys in the header (the boot CPU's reg in /cpus).</summary>
    public uint BootCpuId { get; set; }

    /// <summary>The node currently open (its full path), or null outside the root.</summary>
    public string? CurrentPath => _open.Count > 0 ? _open.Peek().Path : null;

    /// <summary>Adds a memory reservation block entry (a range the client must not use).</summary>
    public FdtBuilder AddReservation(ulong address, ulong size)
    {
        if (size == 0) throw new ArgumentOutOfRangeException(nameof(size), "a reservation cannot be empty (a zero entry ends the block)");
        if (address + size < address) throw new ArgumentOutOfRangeException(nameof(size), "the reservation wraps around the address space");
        _reservations.Add((address, size));
        return this;
    }

    /// <summary>A phandle not yet handed out by this builder (1, 2, …).</summary>
    public uint AllocatePhandle() => _nextPhandle++;

    /// <summary>Opens a node; the first must be the root, named "".</summary>
    public FdtBuilder BeginNode(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_open.Count == 0)
        {
            if (_rootDone) throw new InvalidOperationException("the root node is already finished");
            if (name.Length != 0) throw new ArgumentException("the first node must be the root, whose name is empty", nameof(name));
            _open.Push(new NodeState("/"));
        }
        else
        {
            ValidateNodeName(name);
            var parent = _open.Peek();
            if (!parent.Children.Add(name)) throw new InvalidOperationException($"{Join(parent.Path, name)}: node already exists");
            parent.HasChildren = true;
            _open.Push(new NodeState(Join(parent.Path, name)));
        }
        WriteU32(_structure, TokenBeginNode);
        WriteString(_structure, name);
        Pad(_structure);
        return this;
    }

    /// <summary>Closes the node opened last.</summary>
    public FdtBuilder EndNode()
    {
        if (_open.Count == 0) throw new InvalidOperationException("no node is open");
        _open.Pop();
        if (_open.Count == 0) _rootDone = true;
        WriteU32(_structure, TokenEndNode);
        return this;
    }

    /// <summary>A property with raw bytes as its value.</summary>
    public FdtBuilder Property(string name, ReadOnlySpan<byte> value)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_open.Count == 0) throw new InvalidOperationException($"property {name} outside any node");
        var node = _open.Peek();
        ValidatePropertyName(name);
        if (node.HasChildren) throw new InvalidOperationException($"{node.Path}: property {name} after a child node (properties come first)");
        if (!node.Properties.Add(name)) throw new InvalidOperationException($"{node.Path}: property {name} already set");
        WriteU32(_structure, TokenProp);
        WriteU32(_structure, (uint)value.Length);
        WriteU32(_structure, (uint)StringOffset(name));
        _structure.Write(value);
        Pad(_structure);
        return this;
    }

    /// <summary>An empty (boolean) property, e.g. "interrupt-controller".</summary>
    public FdtBuilder PropertyEmpty(string name) => Property(name, []);

    /// <summary>A one-cell property.</summary>
    public FdtBuilder PropertyU32(string name, uint value) => PropertyCells(name, value);

    /// <summary>A two-cell (64-bit) property, e.g. "linux,initrd-start".</summary>
    public FdtBuilder PropertyU64(string name, ulong value) => PropertyCells(name, (uint)(value >> 32), (uint)value);

    /// <summary>A property made of 32-bit big-endian cells.</summary>
    public FdtBuilder PropertyCells(string name, params ReadOnlySpan<uint> cells)
    {
        var bytes = new byte[cells.Length * 4];
        for (int i = 0; i < cells.Length; i++) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(i * 4), cells[i]);
        return Property(name, bytes);
    }

    /// <summary>A NUL-terminated string property.</summary>
    public FdtBuilder PropertyString(string name, string value) => PropertyStrings(name, value);

    /// <summary>A string-list property ("compatible"): each string NUL-terminated, one after another.</summary>
    public FdtBuilder PropertyStrings(string name, params ReadOnlySpan<string> values)
    {
        if (values.Length == 0) throw new ArgumentException("a string list needs at least one string", nameof(values));
        var ms = new MemoryStream();
        foreach (var v in values)
        {
            ArgumentNullException.ThrowIfNull(v);
            if (v.Contains('\0')) throw new ArgumentException($"property {name}: a string cannot contain NUL", nameof(values));
            WriteString(ms, v);
        }
        return Property(name, ms.ToArray());
    }

    /// <summary>
    /// A "reg"-style property: (address, size) pairs encoded with the parent's
    /// #address-cells / #size-cells (1 or 2 each; 0 size cells for e.g. /cpus).
    /// </summary>
    public FdtBuilder PropertyRegs(string name, int addressCells, int sizeCells, params ReadOnlySpan<(ulong Address, ulong Size)> ranges)
    {
        if (addressCells is < 1 or > 2) throw new ArgumentOutOfRangeException(nameof(addressCells));
        if (sizeCells is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(sizeCells));
        var cells = new List<uint>();
        foreach (var (address, size) in ranges)
        {
            AppendCells(cells, addressCells, address, name);
            AppendCells(cells, sizeCells, size, name);
        }
        return PropertyCells(name, cells.ToArray());
    }

    /// <summary>Writes the blob; every node must be closed.</summary>
    public byte[] Finish()
    {
        if (!_rootDone || _open.Count != 0) throw new InvalidOperationException(_open.Count != 0 ? $"node {_open.Peek().Path} is still open" : "no root node");

        var structure = new MemoryStream();
        _structure.Position = 0;
        _structure.CopyTo(structure);
        WriteU32(structure, TokenEnd);

        int rsvOffset = HeaderSize;                          // 8-byte aligned (40)
        int rsvSize = (_reservations.Count + 1) * 16;
        int structOffset = rsvOffset + rsvSize;              // 8-aligned, so 4-aligned
        int structSize = (int)structure.Length;
        int stringsOffset = structOffset + structSize;
        int stringsSize = (int)_strings.Length;
        int total = stringsOffset + stringsSize;

        var blob = new byte[total];
        var span = blob.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(span[0..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)total);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)structOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], (uint)stringsOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], (uint)rsvOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[20..], Version);
        BinaryPrimitives.WriteUInt32BigEndian(span[24..], LastCompatibleVersion);
        BinaryPrimitives.WriteUInt32BigEndian(span[28..], BootCpuId);
        BinaryPrimitives.WriteUInt32BigEndian(span[32..], (uint)stringsSize);
        BinaryPrimitives.WriteUInt32BigEndian(span[36..], (uint)structSize);
        for (int i = 0; i < _reservations.Count; i++)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span[(rsvOffset + i * 16)..], _reservations[i].Address);
            BinaryPrimitives.WriteUInt64BigEndian(span[(rsvOffset + i * 16 + 8)..], _reservations[i].Size);
        }
        structure.ToArray().CopyTo(span[structOffset..]);
        _strings.ToArray().CopyTo(span[stringsOffset..]);
        return blob;
    }

    private int StringOffset(string name)
    {
        if (_stringOffsets.TryGetValue(name, out int offset)) return offset;
        offset = (int)_strings.Length;
        WriteString(_strings, name);
        _stringOffsets.Add(name, offset);
        return offset;
    }

    private static void AppendCells(List<uint> cells, int count, ulong value, string name)
    {
        if (count == 0)
        {
            if (value != 0) throw new ArgumentException($"property {name}: value 0x{value:x} needs a size cell");
            return;
        }
        if (count == 1)
        {
            if (value > uint.MaxValue) throw new ArgumentException($"property {name}: value 0x{value:x} does not fit in one cell");
            cells.Add((uint)value);
            return;
        }
        cells.Add((uint)(value >> 32));
        cells.Add((uint)value);
    }

    // Devicetree Specification 2.2.1 (node names) and 2.2.4 (property names).
    private static void ValidateNodeName(string name)
    {
        int at = name.IndexOf('@');
        string nodeName = at < 0 ? name : name[..at];
        if (nodeName.Length is 0 or > 31) throw new ArgumentException($"node name '{name}': the part before '@' must be 1..31 characters", nameof(name));
        foreach (char c in name)
        {
            bool ok = char.IsAsciiLetterOrDigit(c) || c is ',' or '.' or '_' or '+' or '-' or '@';
            if (!ok) throw new ArgumentException($"node name '{name}': character '{c}' is not allowed", nameof(name));
        }
        if (at >= 0 && (name.IndexOf('@', at + 1) >= 0 || at == name.Length - 1))
            throw new ArgumentException($"node name '{name}': a unit address follows one '@'", nameof(name));
    }

    private static void ValidatePropertyName(string name)
    {
        if (name.Length is 0 or > 31) throw new ArgumentException($"property name '{name}' must be 1..31 characters", nameof(name));
        foreach (char c in name)
        {
            bool ok = char.IsAsciiLetterOrDigit(c) || c is ',' or '.' or '_' or '+' or '?' or '#' or '-';
            if (!ok) throw new ArgumentException($"property name '{name}': character '{c}' is not allowed", nameof(name));
        }
    }

    private static string Join(string parent, string name) => parent == "/" ? "/" + name : parent + "/" + name;

    private static void WriteU32(Stream s, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        s.Write(b);
    }

    private static void WriteString(Stream s, string value)
    {
        s.Write(Encoding.UTF8.GetBytes(value));
        s.WriteByte(0);
    }

    private static void Pad(Stream s)
    {
        while (s.Length % 4 != 0) s.WriteByte(0);
    }
}
