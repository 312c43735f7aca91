namespace XenSharp.Toolstack.Config;

/// <summary>
/// A list value <c>[ a, "b", [ ... ] ]</c>. Items may be strings, numbers or lists (xl lists
/// are heterogeneous and nest, e.g. <c>vnuma</c> and <c>vsnd</c> are lists of lists).
/// Lists compare item by item.
/// </summary>
public sealed class XlList : XlValue
{
    /// <summary>A list holding <paramref name="items"/>, opened on <paramref name="line"/>.</summary>
    public XlList(IEnumerable<XlValue> items, int line = 0) : base(line)
    {
        ArgumentNullException.ThrowIfNull(items);
        Items = items.ToArray();
    }

    /// <summary>The list's items, in order.</summary>
    public IReadOnlyList<XlValue> Items { get; }

    /// <summary>The number of items.</summary>
    public int Count => Items.Count;

    /// <summary>The item at <paramref name="index"/>.</summary>
    public XlValue this[int index] => Items[index];

    /// <inheritdoc />
    public override XlValueKind Kind => XlValueKind.List;

    /// <inheritdoc />
    public override bool Equals(XlValue? other) =>
        other is XlList list && list.Items.SequenceEqual(Items);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(XlValueKind.List);
        foreach (var item in Items)
        {
            hash.Add(item);
        }
        return hash.ToHashCode();
    }

    /// <inheritdoc />
    public override string ToString() =>
        Items.Count == 0 ? "[ ]" : "[ " + string.Join(", ", Items.Select(i => i.ToString())) + " ]";
}
