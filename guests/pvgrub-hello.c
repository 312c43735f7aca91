/*
 * The kernel of the pvgrub2 test: lives on the guest's own disk, is named by
 * that disk's /boot/grub/grub.cfg and booted by Debian's GRUB for Xen PVH
 * (multiboot).  It proves GRUB handed over a working machine: Xen is found,
 * the PV console works, the multiboot magic and command line arrived.  Output:
 *
 *   XenSharp pvgrub2 guest: booted by GRUB (multiboot magic 0x2badb002), cmdline "..."
 *
 * then SCHEDOP_shutdown poweroff (crash when the magic is wrong).
 */
#include "guest.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_INFO_CMDLINE     (1u << 2)

struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower, mem_upper;
    uint32_t boot_device;
    uint32_t cmdline;
};

void __attribute__((noreturn, used)) multiboot_start(uint32_t magic, const struct multiboot_info *mbi);

void multiboot_start(uint32_t magic, const struct multiboot_info *mbi)
{
    const char *cmdline = "";

    xen_init();
    if (magic == MULTIBOOT_BOOTLOADER_MAGIC && mbi && (mbi->flags & MULTIBOOT_INFO_CMDLINE))
        cmdline = (const char *)(uintptr_t)mbi->cmdline;
    printf("XenSharp pvgrub2 guest: booted by GRUB (multiboot magic %#x), cmdline \"%s\"\n",
           magic, cmdline);
    shutdown(magic == MULTIBOOT_BOOTLOADER_MAGIC ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}
