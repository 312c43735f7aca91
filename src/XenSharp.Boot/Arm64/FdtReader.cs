using System.Buffers.Binary;
using System.Text;

namespace XenSharp.Boot.Arm64;

/// <summary>One node of a parsed device tree: its name, properties (in blob order) and children.</summary>
public sealed class FdtNode
{
    internal FdtNode(string name, string path)
    {
        Name = name;
        Path = path;
    }

    /// <summary>The node name with its unit address ("" for the root).</summary>
    public string Name { get; }

    /// <summary>The full path ("/" for the root).</summary>
    public string Path { get; }

    /// <summary>The properties, in blob order.</summary>
    public List<KeyValuePair<string, byte[]>> Properties { get; } = [];

    /// <summary>The child nodes, in blob order.</summary>
    public List<FdtNode> Children { get; } = [];

    /// <summary>The property's raw value, or null.</summary>
    public byte[]? Get(string name) => Properties.FirstOrDefault(p => p.Key == name).Value;

    public bool Has(string name) => Properties.Any(p => p.Key == name);

    /// <summary>The property as big-endian cells.</summary>
    public uint[] GetCells(string name)
    {
        var v = Get(name) ?? throw new KeyNotFoundException($"{Path}: no property {name}");
        if (v.Length % 4 != 0) throw new FormatException($"{Path}: property {name} is {v.Length} bytes, not whole cells");
        var cells = new uint[v.Length / 4];
        for (int i = 0; i < cells.Length; i++) cells[i] = BinaryPrimitives.ReadUInt32BigEndian(v.AsSpan(i * 4));
        return cells;
    }

    public uint GetU32(string name)
    {
        var cells = GetCells(name);
        return cells.Length == 1 ? cells[0] : throw new FormatException($"{Path}: property {name} has {cells.Length} cells, not one");
    }

    public ulong GetU64(string name)
    {
        var cells = GetCells(name);
        return cells.Length == 2 ? (ulong)cells[0] << 32 | cells[1] : throw new FormatException($"{Path}: property {name} has {cells.Length} cells, not two");
    }

    /// <summary>The property as a string list (each NUL-terminated).</summary>
    public string[] GetStrings(string name)
    {
        var v = Get(name) ?? throw new KeyNotFoundException($"{Path}: no property {name}");
        if (v.Length == 0 || v[^1] != 0) throw new FormatException($"{Path}: property {name} is not NUL-terminated strings");
        return Encoding.UTF8.GetString(v, 0, v.Length - 1).Split('\0');
    }

    public string GetString(string name)
    {
        var s = GetStrings(name);
        return s.Length == 1 ? s[0] : throw new FormatException($"{Path}: property {name} holds {s.Length} strings, not one");
    }

    /// <summary>The child with this exact name (including unit address), or null.</summary>
    public FdtNode? Child(string name) => Children.FirstOrDefault(c => c.Name == name);
}

/// <summary>
/// Reads a flattened device tree blob back into nodes, checking the header, block bounds,
/// alignment and token structure. Used by the tests and to inspect a blob handed to a guest.
/// </summary>
public sealed class FdtReader
{
    private FdtReader(FdtNode root, uint version, uint lastCompatibleVersion, uint bootCpuId, (ulong, ulong)[] reservations)
    {
        Root = root;
        Version = version;
        LastCompatibleVersion = lastCompatibleVersion;
        BootCpuId = bootCpuId;
        Reservations = reservations;
    }

    public FdtNode Root { get; }
    public uint Version { get; }
    public uint LastCompatibleVersion { get; }
    public uint BootCpuId { get; }
    public IReadOnlyList<(ulong Address, ulong Size)> Reservations { get; }

    /// <summary>The node at an absolute path ("/", "/cpus/cpu@0"), or null.</summary>
    public FdtNode? Find(string path)
    {
        if (path == "/") return Root;
        var node = Root;
        foreach (var part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            node = node.Child(part);
            if (node is null) return null;
        }
        return node;
    }

    /// <summary>Every node, depth first.</summary>
    public IEnumerable<FdtNode> AllNodes()
    {
        var stack = new Stack<FdtNode>();
        stack.Push(Root);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            yield return n;
            for (int i = n.Children.Count - 1; i >= 0; i--) stack.Push(n.Children[i]);
        }
    }

    /// <exception cref="FormatException">the blob is malformed.</exception>
    public static FdtReader Parse(ReadOnlySpan<byte> blob)
    {
        if (blob.Length < FdtBuilder.HeaderSize) throw new FormatException("blob shorter than the FDT header");
        uint magic = U32(blob, 0);
        if (magic != FdtBuilder.Magic) throw new FormatException($"bad FDT magic 0x{magic:x8}");
        uint total = U32(blob, 4), offStruct = U32(blob, 8), offStrings = U32(blob, 12), offRsv = U32(blob, 16);
        uint version = U32(blob, 20), lastComp = U32(blob, 24), bootCpu = U32(blob, 28);
        uint sizeStrings = U32(blob, 32), sizeStruct = U32(blob, 36);
        if (total > blob.Length) throw new FormatException($"totalsize {total} larger than the blob ({blob.Length})");
        if (version < 17 || lastComp > 17) throw new FormatException($"unsupported FDT version {version} (last compatible {lastComp})");
        if (offRsv % 8 != 0) throw new FormatException("memory reservation block not 8-byte aligned");
        if (offStruct % 4 != 0) throw new FormatException("structure block not 4-byte aligned");
        if ((ulong)offStruct + sizeStruct > total || (ulong)offStrings + sizeStrings > total)
            throw new FormatException("a block runs past totalsize");

        var reservations = new List<(ulong, ulong)>();
        for (uint at = offRsv; ; at += 16)
        {
            if (at + 16 > total) throw new FormatException("unterminated memory reservation block");
            ulong a = BinaryPrimitives.ReadUInt64BigEndian(blob[(int)at..]), s = BinaryPrimitives.ReadUInt64BigEndian(blob[(int)(at + 8)..]);
            if (a == 0 && s == 0) break;
            reservations.Add((a, s));
        }

        var strings = blob.Slice((int)offStrings, (int)sizeStrings);
        var structure = blob.Slice((int)offStruct, (int)sizeStruct);
        FdtNode? root = null;
        var stack = new Stack<FdtNode>();
        int pos = 0;
        bool ended = false;
        while (!ended)
        {
            if (pos + 4 > structure.Length) throw new FormatException("structure block ends without FDT_END");
            uint token = U32(structure, pos);
            pos += 4;
            switch (token)
            {
                case FdtBuilder.TokenBeginNode:
                {
                    int nul = structure[pos..].IndexOf((byte)0);
                    if (nul < 0) throw new FormatException("unterminated node name");
                    string name = Encoding.UTF8.GetString(structure.Slice(pos, nul));
                    pos = Align4(pos + nul + 1);
                    FdtNode node;
                    if (stack.Count == 0)
                    {
                        if (root is not null) throw new FormatException("a second root node");
                        if (name.Length != 0) throw new FormatException($"root node named '{name}'");
                        node = root = new FdtNode("", "/");
                    }
                    else
                    {
                        var parent = stack.Peek();
                        node = new FdtNode(name, parent.Path == "/" ? "/" + name : parent.Path + "/" + name);
                        parent.Children.Add(node);
                    }
                    stack.Push(node);
                    break;
                }
                case FdtBuilder.TokenEndNode:
                    if (stack.Count == 0) throw new FormatException("FDT_END_NODE without a node");
                    stack.Pop();
                    break;
                case FdtBuilder.TokenProp:
                {
                    if (stack.Count == 0) throw new FormatException("property outside any node");
                    if (pos + 8 > structure.Length) throw new FormatException("truncated property");
                    int len = (int)U32(structure, pos), nameOff = (int)U32(structure, pos + 4);
                    pos += 8;
                    if (len < 0 || pos + len > structure.Length) throw new FormatException("property value runs past the structure block");
                    if (nameOff < 0 || nameOff >= strings.Length) throw new FormatException("property name offset outside the strings block");
                    int nameEnd = strings[nameOff..].IndexOf((byte)0);
                    if (nameEnd < 0) throw new FormatException("unterminated property name");
                    string name = Encoding.UTF8.GetString(strings.Slice(nameOff, nameEnd));
                    stack.Peek().Properties.Add(new(name, structure.Slice(pos, len).ToArray()));
                    pos = Align4(pos + len);
                    break;
                }
                case FdtBuilder.TokenNop:
                    break;
                case FdtBuilder.TokenEnd:
                    if (stack.Count != 0) throw new FormatException("FDT_END with nodes still open");
                    ended = true;
                    break;
                default:
                    throw new FormatException($"unknown token 0x{token:x} at structure offset {pos - 4}");
            }
        }
        if (root is null) throw new FormatException("no root node");
        return new FdtReader(root, version, lastComp, bootCpu, reservations.ToArray());
    }

    private static int Align4(int v) => (v + 3) & ~3;
    private static uint U32(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt32BigEndian(s[offset..]);
}
