using System.Collections.Frozen;

namespace XenSharp.Toolstack.Config;

/// <summary>
/// The top-level keys xl.cfg(5) documents (all guest types and architectures). A key outside this
/// set is unknown: <see cref="DomainConfig.FromFile"/> ignores it with a warning.
/// </summary>
public static class XlDocumentedKeys
{
    /// <summary>Every documented key.</summary>
    public static FrozenSet<string> All { get; } = FrozenSet.ToFrozenSet(
    [
        "acpi", "acpi_firmware", "acpi_laptop_slate", "acpi_s3", "acpi_s4", "altp2m", "altp2m_count", "altp2mhvm",
        "apic", "arm_sci", "bios", "bios_path_override", "boot", "bootloader", "bootloader_args", "bootloader_restrict",
        "bootloader_user", "builder", "cap", "channel", "cmdline", "cpu_weight", "cpuid", "cpus",
        "cpus_soft", "device_model_args", "device_model_args_hvm", "device_model_args_pv", "device_model_override",
        "device_model_stubdomain_override", "device_model_stubdomain_seclabel", "device_model_user",
        "device_model_version", "device_tree", "disk", "dm_restrict", "driver_domain", "dtdev", "e820_host", "extra",
        "firmware", "gfx_passthru", "gic_version", "hap", "hdtype", "hpet", "hvm_pirq", "init_seclabel",
        "iomem", "ioports", "irqs", "kernel", "keymap", "llc_colors", "localtime", "max_event_channels",
        "max_grant_frames", "max_grant_version", "max_maptrack_frames", "maxmem", "maxvcpus", "mca_caps", "memory", "mmio_hole",
        "ms_vm_genid", "msr_relaxed", "name", "nestedhvm", "nographic", "nomigrate", "nr_spis", "nx",
        "on_crash", "on_poweroff", "on_reboot", "on_soft_reset", "on_watchdog", "oos", "p9", "pae",
        "passthrough", "pci", "pci_msitranslate", "pci_permissive", "pci_power_mgmt", "pci_seize", "pool", "pvcalls",
        "pvshim", "pvshim_cmdline", "pvshim_extra", "pvshim_path", "ramdisk", "rdm", "rdm_mem_boundary", "root",
        "rtc_timeoffset", "sdl", "seclabel", "serial", "shadow_memory", "smbios", "smbios_firmware", "soundhw",
        "spice", "spice_clipboard_sharing", "spice_image_compression", "spice_streaming_video", "spiceagent_mouse",
        "spicedisable_ticketing", "spicehost", "spicepasswd",
        "spiceport", "spicetls_port", "spiceusbredirection", "spicevdagent", "stdvga", "stubdomain_cmdline",
        "stubdomain_kernel", "stubdomain_memory",
        "stubdomain_ramdisk", "sve", "tee", "timer_mode", "trap_unmapped_accesses", "tsc_mode", "type", "usb",
        "usbctrl", "usbdev", "usbdevice", "usbversion", "uuid", "vcpus", "vdispl", "vendor_device",
        "vfb", "vga", "videoram", "vif", "viridian", "virtio", "vkb", "vkb_device",
        "vmtrace_buf_kb", "vnc", "vncdisplay", "vnclisten", "vncpasswd", "vncunused", "vnuma", "vpmu",
        "vpt_align", "vsnd", "vtpm", "vuart", "xen_platform_pci", "xen_platform_pci_bar_uc", "xend_suspend_evtchn_compat",
        "xenstore_feature_mask", "xenstore_quota",
    ], StringComparer.Ordinal);

    /// <summary>Whether xl.cfg(5) documents <paramref name="key"/>.</summary>
    public static bool Contains(string key) => All.Contains(key);
}
