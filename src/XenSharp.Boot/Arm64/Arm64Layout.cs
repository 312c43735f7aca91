using XenSharp.Abi.Arm;

namespace XenSharp.Boot.Arm64;

/// <summary>A range of guest-physical addresses with a name (for messages and tests).</summary>
public readonly record struct Arm64Region(string Name, ulong Base, ulong Size)
{
    public ulong End => Base + Size;

    public bool Overlaps(ulong start, ulong size) => size != 0 && Size != 0 && start < End && Base < start + size;
}

/// <summary>Where the builder puts the boot modules: the initrd (when there is one), then the DTB.</summary>
public readonly record struct Arm64ModulePlacement(ulong InitrdBase, ulong InitrdSize, ulong DtbBase, ulong DtbSize);

/// <summary>
/// The guest-physical memory map of an ARM domain of a given RAM size and vCPU count, laid out
/// as Xen lays out toolstack-built ARM guests (<see cref="ArmGuestLayout"/>, the GUEST_* constants
/// of arch-arm.h):
/// <code>
///   0x0200_0000 .. 0x0210_0000   virtio-mmio (reserved, not used yet)
///   0x0300_1000 .. 0x0301_1000   GICv3 distributor
///   0x0302_0000 .. 0x0402_0000   GICv3 redistributors, 128 KiB per vCPU (vCPU n at 0x0302_0000 + n * 0x2_0000)
///   0x0402_0000 .. 0x0404_0000   GICv3 ITS (XenSharp's choice; Xen has no guest ITS)
///   0x2200_0000 .. 0x2200_1000   SBSA UART (vpl011), SPI 32
///   0x3800_0000 .. 0x3900_0000   grant-table window: not backed; frames appear when the guest maps them
///   0x3900_0000 .. 0x3900_4000   magic pages (backed): console ring, XenStore ring, memaccess ring, vuart ring
///   0x4000_0000 .. + min(RAM, 3 GiB)               RAM bank 0
///   0x2_0000_0000 .. + (RAM - 3 GiB)               RAM bank 1, when there is more than 3 GiB
/// </code>
/// Boot images (libxc's meminit in tools/libs/guest/xg_dom_arm.c, and Xen's place_dtb_initrd):
/// an arm64 Image at RAM base + text_offset (RAM base is 2 MiB aligned, as booting.rst asks), an
/// ELF at its p_paddr; the initrd and then the DTB (each rounded up to 4 KiB) at RAM base + 128 MiB
/// when bank 0 reaches that far and the kernel (rounded up to 2 MiB) ends below it, else at the top
/// of bank 0, else just below the kernel.
/// </summary>
public sealed class Arm64Layout
{
    public const ulong PageSize = 4096;
    public const ulong TwoMiB = 2UL << 20;
    /// <summary>Where the boot modules go when bank 0 is large enough: RAM base + 128 MiB.</summary>
    public const ulong ModulesPreferredBase = ArmGuestLayout.Ram0Base + (128UL << 20);

    private Arm64Layout(ulong ramBytes, int vcpus, Arm64Region[] banks)
    {
        RamBytes = ramBytes;
        Vcpus = vcpus;
        RamBanks = banks;
    }

    public ulong RamBytes { get; }

    public int Vcpus { get; }

    /// <summary>The populated RAM banks: bank 0 always, bank 1 when RAM exceeds 3 GiB.</summary>
    public IReadOnlyList<Arm64Region> RamBanks { get; }

    /// <summary>The end of RAM bank 0 (exclusive).</summary>
    public ulong Bank0End => RamBanks[0].End;

    /// <summary>The layout of a domain with <paramref name="ramBytes"/> of RAM (a multiple of 4 KiB) and <paramref name="vcpus"/> vCPUs.</summary>
    /// <exception cref="BootException">the size or the vCPU count is outside what the platform holds.</exception>
    public static Arm64Layout Create(ulong ramBytes, int vcpus)
    {
        if (ramBytes == 0)
            throw new BootException("memory= is 0; an ARM guest needs RAM");
        if (ramBytes % PageSize != 0)
            throw new BootException($"guest RAM of {ramBytes} bytes is not a whole number of 4 KiB pages");
        if (ramBytes > ArmGuestLayout.RamMax)
            throw new BootException($"memory= {BootFormat.Size(ramBytes)} is more than an ARM guest's address space holds ({BootFormat.Size(ArmGuestLayout.RamMax)})");
        if (vcpus < 1 || vcpus > ArmGuestLayout.MaxVcpus)
            throw new BootException($"vcpus= {vcpus}: an ARM guest has 1..{ArmGuestLayout.MaxVcpus} vCPUs (one GICv3 redistributor each in a 16 MiB region)");

        ulong bank0 = Math.Min(ramBytes, ArmGuestLayout.Ram0Size);
        var banks = new List<Arm64Region> { new("RAM bank 0", ArmGuestLayout.Ram0Base, bank0) };
        if (ramBytes > bank0)
            banks.Add(new("RAM bank 1", ArmGuestLayout.Ram1Base, ramBytes - bank0));
        return new Arm64Layout(ramBytes, vcpus, banks.ToArray());
    }

    /// <summary>The redistributor frames (RD_base, then SGI_base) of <paramref name="vcpu"/>.</summary>
    public static ulong RedistributorBase(int vcpu)
    {
        if (vcpu < 0 || vcpu >= ArmGuestLayout.MaxVcpus) throw new ArgumentOutOfRangeException(nameof(vcpu));
        return ArmGuestLayout.GicV3Redistributor0Base + (ulong)vcpu * ArmGuestLayout.GicV3RedistributorStride;
    }

    /// <summary>
    /// MPIDR_EL1 affinity of a vCPU, as Xen assigns it (vcpuid_to_vaffinity): Aff0 = id bits 3:0
    /// (GICv3 allows 16 per cluster), Aff1 = id bits 11:4. Also the reg of its /cpus node.
    /// </summary>
    public static ulong MpidrAffinity(int vcpu)
    {
        if (vcpu < 0 || vcpu >= 4096) throw new ArgumentOutOfRangeException(nameof(vcpu));
        return (ulong)(uint)(vcpu & 0xF) | ((ulong)(uint)((vcpu >> 4) & 0xFF) << 8);
    }

    /// <summary>The guest-physical address of magic page <paramref name="index"/> (<see cref="ArmGuestLayout.ConsoleRingPage"/>, …).</summary>
    public static ulong MagicPage(int index)
    {
        if (index < 0 || index >= ArmGuestLayout.MagicPageCount) throw new ArgumentOutOfRangeException(nameof(index));
        return ArmGuestLayout.MagicBase + (ulong)index * PageSize;
    }

    /// <summary>
    /// The regions that are devices or windows, never RAM: accesses there are MMIO (GIC, ITS, UART)
    /// or, for the grant-table and magic windows, pages the hypervisor places itself.
    /// </summary>
    public static IReadOnlyList<Arm64Region> DeviceRegions { get; } =
    [
        new("virtio-mmio", ArmGuestLayout.VirtioMmioBase, ArmGuestLayout.VirtioMmioSize),
        new("GICv3 distributor", ArmGuestLayout.GicV3DistributorBase, ArmGuestLayout.GicV3DistributorSize),
        new("GICv3 redistributors", ArmGuestLayout.GicV3Redistributor0Base, ArmGuestLayout.GicV3Redistributor0Size),
        new("GICv3 ITS", ArmGuestLayout.GicV3ItsBase, ArmGuestLayout.GicV3ItsSize),
        new("SBSA UART", ArmGuestLayout.Pl011Base, ArmGuestLayout.Pl011Size),
        new("grant-table window", ArmGuestLayout.GrantTableBase, ArmGuestLayout.GrantTableSize),
        new("magic pages", ArmGuestLayout.MagicBase, ArmGuestLayout.MagicSize),
    ];

    /// <summary>
    /// The guest-physical ranges to back with memory: the RAM banks and the
    /// <see cref="ArmGuestLayout.MagicPageCount"/> magic pages (as libxc's alloc_magic_pages does).
    /// The rest of the magic window and the grant-table window stay unbacked.
    /// </summary>
    public (ulong GuestPhysical, ulong Size)[] MemoryRanges()
    {
        var ranges = new List<(ulong, ulong)>
        {
            (ArmGuestLayout.MagicBase, ArmGuestLayout.MagicPageCount * PageSize),
        };
        foreach (var b in RamBanks) ranges.Add((b.Base, b.Size));
        return ranges.ToArray();
    }

    /// <summary>Whether [start, start+size) lies wholly in one RAM bank.</summary>
    public bool InRam(ulong start, ulong size) =>
        RamBanks.Any(b => start >= b.Base && start - b.Base <= b.Size && size <= b.Size - (start - b.Base));

    /// <summary>
    /// Places the initrd and DTB for a kernel occupying [<paramref name="kernelStart"/>,
    /// <paramref name="kernelEnd"/>) in bank 0, following libxc's meminit: modules at RAM base +
    /// 128 MiB if bank 0 reaches past them and the kernel (end rounded up to 2 MiB) ends below
    /// 128 MiB; else as high as possible in bank 0 above the kernel; else just below the kernel.
    /// The initrd comes first, the DTB right after it; both start on a 4 KiB boundary.
    /// </summary>
    /// <exception cref="BootException">the modules do not fit beside the kernel in bank 0.</exception>
    public Arm64ModulePlacement PlaceModules(ulong kernelStart, ulong kernelEnd, ulong dtbSize, ulong initrdSize)
    {
        if (kernelEnd < kernelStart) throw new ArgumentOutOfRangeException(nameof(kernelEnd));
        ulong bank0Base = RamBanks[0].Base, bank0End = Bank0End;
        if (kernelStart < bank0Base || kernelEnd > bank0End)
            throw new BootException($"the kernel (0x{kernelStart:x}..0x{kernelEnd:x}) is not inside RAM bank 0 (0x{bank0Base:x}..0x{bank0End:x}); raise memory=");

        ulong kernEnd = BootFormat.AlignUp(kernelEnd, TwoMiB);
        ulong dtb = BootFormat.AlignUp(dtbSize, PageSize);
        ulong initrd = BootFormat.AlignUp(initrdSize, PageSize);
        ulong modSize = dtb + initrd;
        ulong kernSize = kernEnd - kernelStart;

        string Need() => $"kernel {BootFormat.Size(kernSize)} (to a 2 MiB boundary), initrd {BootFormat.Size(initrd)}, device tree {BootFormat.Size(dtb)}";
        if (modSize + kernSize > RamBanks[0].Size)
            throw new BootException($"not enough RAM for the kernel, initrd and device tree ({Need()}) in RAM bank 0 ({BootFormat.Size(RamBanks[0].Size)}); raise memory=");

        ulong modBase;
        if (bank0End >= ModulesPreferredBase + modSize && kernEnd < ModulesPreferredBase)
            modBase = ModulesPreferredBase;
        else if (bank0End - modSize > kernEnd)
            modBase = bank0End - modSize;
        else if (kernelStart - bank0Base > modSize)
            modBase = kernelStart - modSize;
        else
            throw new BootException($"no room for the initrd and device tree beside the kernel in RAM bank 0 ({Need()}); raise memory=");

        return new Arm64ModulePlacement(modBase, initrd, modBase + initrd, dtb);
    }
}
