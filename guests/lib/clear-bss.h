/*
 * CLEAR_BSS for the guests' assembly entry points: zeroes .bss (which also
 * holds the boot stack) with rep stosl.  Clobbers %eax, %ecx and %edi; keep
 * whatever the loader passed in other registers.
 */
#ifndef GUEST_CLEAR_BSS_H
#define GUEST_CLEAR_BSS_H

#define CLEAR_BSS                   \
    mov     $__bss_start, %edi;     \
    mov     $__bss_end, %ecx;       \
    sub     %edi, %ecx;             \
    shr     $2, %ecx;               \
    xor     %eax, %eax;             \
    rep stosl

#endif
