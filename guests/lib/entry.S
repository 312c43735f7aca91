/*
 * PVH entry point.  The vCPU starts in 32-bit flat protected mode with
 * paging and interrupts off; %ebx holds the guest-physical address of
 * struct hvm_start_info.
 */
#include "clear-bss.h"
    .section .text.entry, "ax"
    .code32
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    /* Clear .bss (the boot stack lives there too); keep %ebx. */
    CLEAR_BSS
    mov     $boot_stack_top, %esp
    push    %ebx
    call    c_start
1:  cli
    hlt
    jmp     1b
    .size _start, . - _start

    .section .bss
    .balign 16
boot_stack:
    .skip 16384
boot_stack_top:
