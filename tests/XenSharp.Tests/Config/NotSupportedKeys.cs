using XenSharp.Toolstack.Config;

namespace XenSharp.Tests.Config;

/// <summary>Filters the "not supported by XenSharp yet" warnings out, for tests about other warnings.</summary>
internal static class NotSupportedKeys
{
    public const string Marker = ": not supported by XenSharp yet";

    public static IEnumerable<string> OtherWarnings(this DomainConfig config) =>
        config.Warnings.Where(w => !w.Contains(Marker, StringComparison.Ordinal));

    public static IEnumerable<string> NotSupportedWarnings(this DomainConfig config) =>
        config.Warnings.Where(w => w.Contains(Marker, StringComparison.Ordinal));
}
