/*
 * Multiboot (v1) entry for pvgrub-hello: GRUB's `multiboot` command loads
 * this ELF from the guest's own disk and jumps to _start in 32-bit flat
 * protected mode with paging and interrupts off, %eax = 0x2BADB002 and
 * %ebx = the multiboot information structure.  There is no hvm_start_info:
 * the guest finds Xen through CPUID and its console through HVM parameters.
 */
#include "clear-bss.h"
#define MULTIBOOT_MAGIC 0x1BADB002
#define MULTIBOOT_FLAGS 0

    .section .text.entry, "ax"
    .code32
    .balign 4
multiboot_header:
    .long   MULTIBOOT_MAGIC
    .long   MULTIBOOT_FLAGS
    .long   -(MULTIBOOT_MAGIC + MULTIBOOT_FLAGS)

    .globl _start
    .type _start, @function
_start:
    cli
    cld
    mov     %eax, %edx              /* the loader's magic */
    CLEAR_BSS
    mov     $boot_stack_top, %esp
    push    %ebx                    /* multiboot information */
    push    %edx                    /* magic */
    call    multiboot_start
1:  cli
    hlt
    jmp     1b
    .size _start, . - _start

    .section .bss
    .balign 16
boot_stack:
    .skip 16384
boot_stack_top:
