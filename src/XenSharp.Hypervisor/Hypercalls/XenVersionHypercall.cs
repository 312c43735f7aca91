using System.Text;
using XenSharp.Abi.Hypercalls;

namespace XenSharp.Hypervisor.Hypercalls;

/// <summary>xen_version(cmd, arg): version numbers, strings and the feature bitmap.</summary>
public static class XenVersionHypercall
{
    /// <summary>
    /// XENFEAT bits offered to a PVH guest: a translated (HVM-style) physmap with callback
    /// vector upcalls, as Xen reports for HVM/PVH domains.
    /// </summary>
    public const uint PvhFeatures =
        (1u << XenFeature.WritablePageTables) |
        (1u << XenFeature.AutoTranslatedPhysmap) |
        (1u << XenFeature.HvmSafePvclock) |
        (1u << XenFeature.HvmCallbackVector) |
        (1u << XenFeature.NotDirectMapped);

    private static readonly byte[] ExtraVersion = Encoding.ASCII.GetBytes(HypervisorVersion.Extra);
    private static readonly byte[] Capabilities = Encoding.ASCII.GetBytes(HypervisorVersion.Capabilities);
    /// <summary>What Xen/ARM reports to an AArch64 guest (xen-3.0-aarch64 xen-3.0-armv7l).</summary>
    private static readonly byte[] ArmCapabilities = Encoding.ASCII.GetBytes(HypervisorVersion.ArmCapabilities);
    private static readonly byte[] Changeset = Encoding.ASCII.GetBytes(HypervisorVersion.Changeset);
    private static readonly byte[] CompileInfo = BuildCompileInfo();

    public static long Handle(in HypercallContext ctx)
    {
        ulong arg = ctx.A2;
        switch ((int)ctx.A1)
        {
            case XenVersionOp.Version:
                return HypervisorVersion.Packed;
            case XenVersionOp.ExtraVersion:
                return WriteString(in ctx, arg, ExtraVersion, XenVersionOp.ExtraVersionLength);
            case XenVersionOp.Capabilities:
                return WriteString(in ctx, arg, ctx.Domain.Architecture == GuestArchitecture.Arm64 ? ArmCapabilities : Capabilities, XenVersionOp.CapabilitiesLength);
            case XenVersionOp.Changeset:
                return WriteString(in ctx, arg, Changeset, XenVersionOp.ChangesetLength);
            case XenVersionOp.CompileInfo:
                return ctx.Memory.TryWriteBytes(arg, CompileInfo) ? 0 : -XenErrno.EFAULT;
            case XenVersionOp.CommandLine:
                return WriteString(in ctx, arg, [], XenVersionOp.CommandLineLength);
            case XenVersionOp.PlatformParameters:
                // struct { xen_ulong_t virt_start; }: no hypervisor hole in an HVM guest's address space.
                return ctx.Is64
                    ? (ctx.Memory.TryWrite(arg, 0UL) ? 0 : -XenErrno.EFAULT)
                    : (ctx.Memory.TryWrite(arg, 0U) ? 0 : -XenErrno.EFAULT);
            case XenVersionOp.GetFeatures:
            {
                // struct { u32 submap_idx; u32 submap; }
                if (!ctx.Memory.TryRead(arg, out uint index)) return -XenErrno.EFAULT;
                if (index != 0) return -XenErrno.EINVAL;
                return ctx.Memory.TryWrite(arg + 4, PvhFeatures) ? 0 : -XenErrno.EFAULT;
            }
            case XenVersionOp.PageSize:
                return arg != 0 ? -XenErrno.EINVAL : 4096; // takes no argument, as on Xen
            case XenVersionOp.GuestHandle:
            {
                Span<byte> handle = stackalloc byte[16];
                ctx.Domain.Uuid.TryWriteBytes(handle, bigEndian: true, out _);
                return ctx.Memory.TryWriteBytes(arg, handle) ? 0 : -XenErrno.EFAULT;
            }
            case XenVersionOp.BuildId:
                return -XenErrno.ENODATA;
            default:
                return -XenErrno.ENOSYS;
        }
    }

    /// <summary>Writes a NUL-padded fixed-size string buffer (checked as a whole first).</summary>
    private static long WriteString(in HypercallContext ctx, ulong gpa, ReadOnlySpan<byte> text, int size)
    {
        if (!ctx.Memory.TryGetSpan(gpa, size, out var dest)) return -XenErrno.EFAULT;
        dest.Clear();
        text[..Math.Min(text.Length, size - 1)].CopyTo(dest);
        return 0;
    }

    private static byte[] BuildCompileInfo()
    {
        // struct xen_compile_info { char compiler[64]; char compile_by[16]; char compile_domain[32]; char compile_date[32]; }
        var info = new byte[XenVersionOp.CompileInfoLength];
        Encoding.ASCII.GetBytes(".NET " + Environment.Version).AsSpan(0, Math.Min(63, (".NET " + Environment.Version).Length)).CopyTo(info);
        Encoding.ASCII.GetBytes("xensharp").CopyTo(info.AsSpan(64));
        return info;
    }
}
