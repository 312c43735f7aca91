namespace XenSharp.Toolstack.Config;

/// <summary>
/// The guest type chosen by xl.cfg's <c>type</c> key (or the deprecated <c>builder</c>).
/// xl's default on x86 is <see cref="Pv"/>.
/// </summary>
public enum DomainType
{
    /// <summary><c>type = "pv"</c>: a paravirtualised guest (xl's default on x86).</summary>
    Pv,

    /// <summary><c>type = "pvh"</c>: an HVM-like guest without a device model, booting a PVH ELF kernel.</summary>
    Pvh,

    /// <summary><c>type = "hvm"</c> (or <c>builder = "hvm"</c>): a fully virtualised guest.</summary>
    Hvm,
}
