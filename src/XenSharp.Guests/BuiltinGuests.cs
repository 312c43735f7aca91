namespace XenSharp.Guests;

/// <summary>
/// Guest kernels XenSharp produces itself, named in xl.cfg as <c>kernel = "builtin:NAME"</c>.
/// </summary>
public static class BuiltinGuests
{
    public const string Scheme = "builtin:";

    private static readonly Dictionary<string, Func<byte[]>> Guests = new()
    {
        ["demo"] = DemoGuest.BuildElf,
        ["arm64-demo"] = Arm64.Arm64DemoGuest.BuildImage,
    };

    public static IEnumerable<string> Names => Guests.Keys;

    /// <summary>Whether a kernel path names a built-in guest.</summary>
    public static bool IsBuiltin(string kernel) => kernel.StartsWith(Scheme, StringComparison.Ordinal);

    /// <summary>The kernel image of a built-in guest (an ELF, or an arm64 Image), or null when there is no such guest.</summary>
    public static byte[]? TryGet(string kernel) =>
        IsBuiltin(kernel) && Guests.TryGetValue(kernel[Scheme.Length..], out var build) ? build() : null;
}
