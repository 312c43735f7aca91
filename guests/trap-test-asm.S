/*
 * Instruction snippets for trap-test.c.  Each faulting instruction has a
 * global label (…_insn) and the place a handler resumes at (…_next), so the
 * C side can check the EIP the CPU pushed and skip the instruction.
 */
#define SYS_RETURN 1            /* keep in sync with trap-test.c */
#define SYS_EXIT   2

    .text
    .code32

/*
 * uint32_t k_int80(uint32_t eax): int $0x80 at CPL 0; returns eax after it.
 * Records ESP and EFLAGS just before the INT and EFLAGS just after it.
 */
    .globl k_int80, k_int80_next
k_int80:
    mov     4(%esp), %eax
    mov     %esp, k_int80_esp
    pushf
    popl    k_int80_eflags
    int     $0x80
k_int80_next:
    pushf
    popl    k_int80_eflags_after
    ret

/* void k_int3(void) */
    .globl k_int3, k_int3_next
k_int3:
    int3
k_int3_next:
    ret

/* void k_ud2(void) */
    .globl k_ud2, k_ud2_insn, k_ud2_next
k_ud2:
k_ud2_insn:
    ud2
k_ud2_next:
    ret

/* void k_load_ds(uint32_t selector): mov to DS (2 bytes); DS is restored. */
    .globl k_load_ds, k_load_ds_insn, k_load_ds_next
k_load_ds:
    push    %ds
    mov     8(%esp), %eax
k_load_ds_insn:
    mov     %eax, %ds
k_load_ds_next:
    pop     %ds
    ret

/* void k_int82(void): INT through a not-present gate. */
    .globl k_int82, k_int82_insn, k_int82_next
k_int82:
k_int82_insn:
    int     $0x82
k_int82_next:
    ret

/* void k_pf_write(uint32_t addr, uint32_t value) */
    .globl k_pf_write, k_pf_write_insn, k_pf_write_next
k_pf_write:
    mov     4(%esp), %eax
    mov     8(%esp), %edx
k_pf_write_insn:
    mov     %edx, (%eax)
k_pf_write_next:
    ret

/* uint32_t k_pf_read(uint32_t addr): returns 0 if the read is skipped. */
    .globl k_pf_read, k_pf_read_insn, k_pf_read_next
k_pf_read:
    mov     4(%esp), %ecx
    xor     %eax, %eax
k_pf_read_insn:
    mov     (%ecx), %eax
k_pf_read_next:
    ret

/*
 * Ring-3 program: four faults the kernel fixes up (ud2, cli, int through a
 * DPL-0 gate, and - when user_pf_addr is nonzero - a read of a
 * supervisor-only page), then int $0x80 SYS_RETURN, which IRETs back to
 * ring 3, then int $0x80 SYS_EXIT, which doesn't return.  At SYS_EXIT:
 * esi = eax returned by SYS_RETURN, edi = EFLAGS, ecx = CS, edx = SS,
 * ebp = ESP before SYS_RETURN.
 */
    .globl user_prog, user_ud2_insn, user_ud2_next, user_cli_insn
    .globl user_cli_next, user_int81_insn, user_int81_next
    .globl user_pf_insn, user_pf_next, user_int80_insn, user_int80_next
    .globl user_exit_insn
user_prog:
user_ud2_insn:
    ud2
user_ud2_next:
user_cli_insn:
    cli
user_cli_next:
user_int81_insn:
    int     $0x81
user_int81_next:
    mov     user_pf_addr, %ebx
    test    %ebx, %ebx
    jz      1f
user_pf_insn:
    mov     (%ebx), %eax
user_pf_next:
1:  mov     %esp, %ebp
    mov     $SYS_RETURN, %eax
user_int80_insn:
    int     $0x80
user_int80_next:
    mov     %eax, %esi
    pushf
    pop     %edi
    mov     %cs, %ecx
    mov     %ss, %edx
    mov     $SYS_EXIT, %eax
user_exit_insn:
    int     $0x80
    ud2

/*
 * Ring-3 program for the upcall test: spins (bounded) until the upcall
 * handler has counted an upcall taken from ring 3, then SYS_EXIT.
 */
    .globl user_upcall_prog, user_upcall_exit_insn
user_upcall_prog:
    mov     $0x1000000, %ecx
1:  cmpl    $0, upcall_user_hits
    jne     2f
    pause
    dec     %ecx
    jnz     1b
2:  mov     $SYS_EXIT, %eax
user_upcall_exit_insn:
    int     $0x80
    ud2

    .data
    .balign 4
    .globl k_int80_esp, k_int80_eflags, k_int80_eflags_after
k_int80_esp:
    .long   0
k_int80_eflags:
    .long   0
k_int80_eflags_after:
    .long   0
