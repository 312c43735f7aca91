using XenSharp.Hypervisor.Memory;

namespace XenSharp.Boot.Arm64;

/// <summary>What the ARM builder produced: where everything went and how vCPU 0 starts.</summary>
public sealed record Arm64BuildResult(
    Arm64Kernel Kernel,
    Arm64ModulePlacement Modules,
    byte[] DeviceTree,
    Arm64BootState BootState);

/// <summary>
/// Builds an ARM domain's initial memory: parses and places the kernel (<see cref="Arm64ImageLoader"/>),
/// places the initrd and DTB (<see cref="Arm64Layout.PlaceModules"/>), writes the device tree
/// (<see cref="Arm64DeviceTree"/>, with linux,initrd-* pointing at the placed initrd), copies
/// everything into guest memory and returns the boot vCPU's entry state (x0 = DTB address).
/// Guest memory must back <see cref="Arm64Layout.MemoryRanges"/>.
/// </summary>
public static class Arm64DomainBuilder
{
    /// <exception cref="BootException">the kernel or initrd cannot be booted in this layout.</exception>
    public static Arm64BuildResult Build(
        GuestMemory memory,
        Arm64Layout layout,
        ReadOnlyMemory<byte> kernel,
        string kernelPath,
        ReadOnlyMemory<byte>? initrd = null,
        Arm64DeviceTreeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(layout);
        options ??= new Arm64DeviceTreeOptions();

        var k = Arm64ImageLoader.Parse(kernel, kernelPath, layout);
        ulong initrdSize = initrd is { } rd ? (ulong)rd.Length : 0;

        // The DTB's size does not depend on where the initrd goes (the properties are fixed-size),
        // so build once with a placeholder to measure, then for real.
        var probe = options with { Initrd = initrd is null ? null : (0, 0) };
        ulong dtbSize = (ulong)Arm64DeviceTree.Build(layout, probe).Length;
        var placement = layout.PlaceModules(k.Start, k.End, dtbSize, initrdSize);

        var final = options with { Initrd = initrd is null ? null : (placement.InitrdBase, placement.InitrdBase + initrdSize) };
        byte[] dtb = Arm64DeviceTree.Build(layout, final);
        if ((ulong)dtb.Length != dtbSize)
            throw new InvalidOperationException("the device tree changed size between measuring and writing");

        Arm64ImageLoader.Load(memory, k);
        if (initrd is { } bytes && bytes.Length > 0)
        {
            if (!BootFormat.FitsInOneRegion(memory, placement.InitrdBase, initrdSize))
                throw new BootException($"initrd: 0x{placement.InitrdBase:x}..0x{placement.InitrdBase + initrdSize:x} is not in guest RAM ({BootFormat.Ram(memory)})");
            memory.Write(placement.InitrdBase, bytes.Span);
        }
        if (!BootFormat.FitsInOneRegion(memory, placement.DtbBase, (ulong)dtb.Length))
            throw new BootException($"device tree: 0x{placement.DtbBase:x} is not in guest RAM ({BootFormat.Ram(memory)})");
        memory.Write(placement.DtbBase, dtb);

        return new Arm64BuildResult(k, placement, dtb, new Arm64BootState(k.Entry, placement.DtbBase));
    }
}
