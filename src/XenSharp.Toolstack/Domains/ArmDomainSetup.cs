using XenSharp.Abi.Arm;
using XenSharp.Boot;
using XenSharp.Boot.Arm64;
using XenSharp.Devices.Arm;
using XenSharp.Devices.Console;
using XenSharp.Hypervisor;
using XenSharp.Hypervisor.Domains;
using XenSharp.SoftArm64;

namespace XenSharp.Toolstack.Domains;

/// <summary>
/// Builds an AArch64 guest into a freshly created (paused) ARM domain, as libxl and libxc do for
/// Xen/ARM:
/// 1. the SBSA UART at GUEST_PL011_BASE on SPI 32 when the config asks for <c>vuart</c>;
/// 2. the kernel (ELF or arm64 Image), the initrd and the device tree in RAM
///    (<see cref="Arm64DomainBuilder"/>), the tree naming the UART only when there is one;
/// 3. the magic pages cleared and published in the HVM parameters (console and XenStore rings and
///    their event channels), as HVMOP_get_param answers them to an ARM guest;
/// 4. vCPU 0 entered at EL1h with x0 = the device tree; the others wait for PSCI CPU_ON.
/// </summary>
internal static class ArmDomainSetup
{
    public sealed record Result(ulong ConsoleRing, int ConsolePort, ulong StoreRing, int StorePort, IReadOnlyList<string> LogLines);

    public static Result Build(Domain domain, byte[] kernel, string kernelPath, byte[]? ramdisk, string? cmdline, ulong ramBytes,
                               VuartConsoleBackend? vuart, Action consoleKick, Action storeKick)
    {
        var vm = domain.Machine as SoftArm64VirtualMachine
            ?? throw new InvalidOperationException($"d{domain.Id} does not run on the AArch64 accelerator");
        var layout = Arm64Layout.Create(ramBytes, domain.Vcpus.Count);
        if (vuart is not null)
        {
            var uart = new Pl011Uart(vuart.Transmit, vm.Gic!.SpiLine(ArmGuestLayout.Vpl011Spi));
            vuart.Connect(uart);
            vm.AddDevice(uart);
        }

        var options = new Arm64DeviceTreeOptions
        {
            Bootargs = cmdline,
            SbsaUart = vuart is not null,
            TimerFrequency = (uint)GenericTimer.DefaultFrequency,
            XenMajor = HypervisorVersion.Major,
            XenMinor = HypervisorVersion.Minor,
        };
        var build = Arm64DomainBuilder.Build(domain.Memory, layout, kernel, kernelPath, ramdisk, options);

        ulong console = Arm64Layout.MagicPage(ArmGuestLayout.ConsoleRingPage);
        ulong store = Arm64Layout.MagicPage(ArmGuestLayout.XenStoreRingPage);
        for (int i = 0; i < ArmGuestLayout.MagicPageCount; i++)
            domain.Memory.Write(Arm64Layout.MagicPage(i), new byte[Arm64Layout.PageSize]);
        var (consolePort, storePort) = GuestRings.Publish(domain, console, store, consoleKick, storeKick);

        var boot = domain.Vcpus[0];
        boot.PendingArmEntry = (build.BootState.Pc, build.BootState.X0);
        boot.Initialised = true;

        var k = build.Kernel;
        string lines = $"AArch64 {k.Format} kernel at 0x{k.Start:x}..0x{k.End:x}, entry 0x{k.Entry:x}; device tree at 0x{build.Modules.DtbBase:x} ({build.DeviceTree.Length} bytes)"
                       + (vuart is not null ? $"; SBSA UART at 0x{ArmGuestLayout.Pl011Base:x} (SPI {ArmGuestLayout.Vpl011Spi})" : "");
        return new Result(console, consolePort, store, storePort, [lines]);
    }
}
