/*
 * Smallest PVH guest: writes "X\n" to the debug console port 0xE9 and
 * halts.  Used to time boot-to-first-byte.
 */
    .section .text.entry, "ax"
    .code32
    .globl _start
_start:
    mov     $0xe9, %dx
    mov     $'X', %al
    out     %al, %dx
    mov     $'\n', %al
    out     %al, %dx
1:  cli
    hlt
    jmp     1b
