/*
 * Xen ELF notes (name "Xen", 4-byte aligned).  PHYS32_ENTRY makes the image
 * bootable as a PVH guest, by Xen and by QEMU's -kernel.
 */
#define XEN_ELFNOTE_XEN_VERSION    5
#define XEN_ELFNOTE_GUEST_OS       6
#define XEN_ELFNOTE_LOADER         8
#define XEN_ELFNOTE_PHYS32_ENTRY  18

.macro xen_note type:req, desc:vararg
    .balign 4
    .long   4                       /* namesz */
    .long   .Ldesc_end\@ - .Ldesc\@ /* descsz */
    .long   \type
    .asciz  "Xen"
    .balign 4
.Ldesc\@:
    \desc
.Ldesc_end\@:
    .balign 4
.endm

    .section .note.Xen, "a", @note
    xen_note XEN_ELFNOTE_PHYS32_ENTRY, .long _start
    xen_note XEN_ELFNOTE_GUEST_OS,     .asciz "XenSharp-test"
    xen_note XEN_ELFNOTE_XEN_VERSION,  .asciz "xen-3.0"
    xen_note XEN_ELFNOTE_LOADER,       .asciz "generic"
