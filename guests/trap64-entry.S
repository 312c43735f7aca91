/*
 * trap64-test: PVH entry in 32-bit mode, switch to long mode, the 64-bit
 * IDT stubs and trap path, ring-3 entry/exit, SYSCALL entry and the
 * instruction snippets trap64-test.c checks (…_insn labels mark faulting
 * instructions, …_next where a handler resumes).
 */
#include "clear-bss.h"
#define SEL_KCODE  0x08         /* keep in sync with trap64-test.c */
#define SEL_KDATA  0x10
#define SEL_UDATA  0x23
#define SEL_UCODE  0x2b
#define SYS_RETURN 1
#define SYS_EXIT   2

#define MSR_EFER   0xc0000080
#define EFER_LME   0x100
#define CR0_PG_PE  0x80000001
#define CR4_PAE    0x20
#define PTE_PWU    0x7          /* present, writable, user */
#define PTE_PS     0x80

/* ------------------------------------------------------------ 32-bit */
    .section .text.entry, "ax"
    .code32
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    mov     %ebx, %esi                  /* struct hvm_start_info */
    CLEAR_BSS
    mov     %esi, start_info_addr
    mov     $boot_stack_top, %esp

    /* Identity map 4 GiB with 2 MiB pages, all user-accessible:
     * pml4[0] -> pdpt, pdpt[0..3] -> pd[0..3]. */
    mov     $pd, %edi
    mov     $(PTE_PS | PTE_PWU), %eax
    xor     %edx, %edx
    mov     $2048, %ecx
1:  mov     %eax, (%edi)
    mov     %edx, 4(%edi)
    add     $0x200000, %eax
    adc     $0, %edx
    add     $8, %edi
    dec     %ecx
    jnz     1b
    movl    $(pd + PTE_PWU), pdpt
    movl    $(pd + 0x1000 + PTE_PWU), pdpt + 8
    movl    $(pd + 0x2000 + PTE_PWU), pdpt + 16
    movl    $(pd + 0x3000 + PTE_PWU), pdpt + 24
    movl    $(pdpt + PTE_PWU), pml4

    lgdt    gdt64_ptr
    mov     %cr4, %eax
    or      $CR4_PAE, %eax
    mov     %eax, %cr4
    mov     $pml4, %eax
    mov     %eax, %cr3
    mov     $MSR_EFER, %ecx
    rdmsr
    or      $EFER_LME, %eax
    wrmsr
    mov     %cr0, %eax
    or      $CR0_PG_PE, %eax
    mov     %eax, %cr0
    ljmp    $SEL_KCODE, $start64

/* ------------------------------------------------------------ 64-bit */
    .code64
start64:
    mov     $SEL_KDATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    xor     %eax, %eax
    mov     %eax, %fs
    mov     %eax, %gs
    mov     $boot_stack_top, %rsp
    mov     start_info_addr, %edi
    call    c_start64
2:  cli
    hlt
    jmp     2b
    .size _start, . - _start

    .text
/*
 * 256 IDT stubs of 16 bytes: push a zero error code where the CPU pushes
 * none, push the vector, jump to trap64_common.
 */
    .balign 16
    .globl trap64_stubs
trap64_stubs:
    .set vec, 0
    .rept 256
    .org    trap64_stubs + 16 * vec, 0xcc
    .if !((vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || \
          (vec == 21) || (vec == 29) || (vec == 30))
    pushq   $0
    .endif
    pushq   $vec
    jmp     trap64_common
    .set vec, vec + 1
    .endr
    .org    trap64_stubs + 16 * 256, 0xcc

/* Builds struct frame64 (r15 at the lowest address) and calls C. */
trap64_common:
    push    %rax
    push    %rcx
    push    %rdx
    push    %rbx
    push    %rbp
    push    %rsi
    push    %rdi
    push    %r8
    push    %r9
    push    %r10
    push    %r11
    push    %r12
    push    %r13
    push    %r14
    push    %r15
    cld
    mov     %rsp, %rdi
    call    trap64_dispatch
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %r11
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rdi
    pop     %rsi
    pop     %rbp
    pop     %rbx
    pop     %rdx
    pop     %rcx
    pop     %rax
    add     $16, %rsp                   /* vector, error code */
    iretq

/* uint64_t run_user64(const void *rip, void *rsp): IRETQ to ring 3. */
    .globl run_user64
run_user64:
    push    %rbx
    push    %rbp
    push    %r12
    push    %r13
    push    %r14
    push    %r15
    mov     %rsp, kernel_saved_rsp
    pushq   $SEL_UDATA                  /* SS */
    pushq   %rsi                        /* RSP */
    pushfq
    orq     $0x200, (%rsp)              /* RFLAGS.IF */
    pushq   $SEL_UCODE                  /* CS */
    pushq   %rdi                        /* RIP */
    iretq

/* void resume_kernel64(uint64_t value): back into whoever saved
 * kernel_saved_rsp (run_user64, try_iretq), which returns value. */
    .globl resume_kernel64
resume_kernel64:
    mov     %rdi, %rax
    mov     $SEL_KDATA, %ecx
    mov     %ecx, %ss
    mov     kernel_saved_rsp, %rsp
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %rbp
    pop     %rbx
    ret

/*
 * SYSCALL entry (LSTAR): switch to syscall_stack, call
 * syscall_c(rax, user rip, user rflags, user rsp), return its value in
 * rax with SYSRETQ.
 */
    .globl syscall_entry
syscall_entry:
    mov     %rsp, syscall_user_rsp
    mov     $syscall_stack_top, %rsp
    push    %rcx
    push    %r11
    mov     %rax, %rdi
    mov     %rcx, %rsi
    mov     %r11, %rdx
    mov     syscall_user_rsp, %rcx
    call    syscall_c
    pop     %r11
    pop     %rcx
    mov     syscall_user_rsp, %rsp
    sysretq

/* ------------------------------------------------- kernel snippets */

/* uint64_t k64_int80(uint64_t rax): records RSP and RFLAGS before the INT
 * and RFLAGS after it. */
    .globl k64_int80, k64_int80_next
k64_int80:
    mov     %rdi, %rax
    mov     %rsp, k64_int_rsp
    pushfq
    popq    k64_int_rflags
    int     $0x80
k64_int80_next:
    pushfq
    popq    k64_int_rflags_after
    ret

/* void k64_int81(void): INT through the IST gate. */
    .globl k64_int81, k64_int81_next
k64_int81:
    mov     %rsp, k64_int_rsp
    int     $0x81
k64_int81_next:
    ret

    .globl k64_int3, k64_int3_next
k64_int3:
    int3
k64_int3_next:
    ret

    .globl k64_ud2, k64_ud2_insn, k64_ud2_next
k64_ud2:
k64_ud2_insn:
    ud2
k64_ud2_next:
    ret

/* uint64_t k64_read(uint64_t addr): 0 if the read is skipped. */
    .globl k64_read, k64_read_insn, k64_read_next
k64_read:
    xor     %eax, %eax
k64_read_insn:
    mov     (%rdi), %rax
k64_read_next:
    ret

/* void k64_write(uint64_t addr, uint64_t value) */
    .globl k64_write, k64_write_insn, k64_write_next
k64_write:
k64_write_insn:
    mov     %rsi, (%rdi)
k64_write_next:
    ret

/*
 * int k64_cmpxchg16b(void *p, uint64_t cmp[2], const uint64_t new[2]):
 * lock cmpxchg16b (p) with rdx:rax = cmp[1]:cmp[0], rcx:rbx = new;
 * stores rdx:rax back to cmp and returns ZF.
 */
    .globl k64_cmpxchg16b, k64_cx16_insn, k64_cx16_next
k64_cmpxchg16b:
    push    %rbx
    mov     %rdx, %r8
    mov     %rsi, %r9
    mov     (%r9), %rax
    mov     8(%r9), %rdx
    mov     (%r8), %rbx
    mov     8(%r8), %rcx
k64_cx16_insn:
    lock cmpxchg16b (%rdi)
k64_cx16_next:
    setz    %r10b
    mov     %rax, (%r9)
    mov     %rdx, 8(%r9)
    movzbl  %r10b, %eax
    pop     %rbx
    ret

/*
 * uint64_t try_iretq(const uint64_t frame[5]): IRETQ with frame (RIP, CS,
 * RFLAGS, RSP, SS).  Returns (via resume_kernel64) 0 when it faulted and the
 * handler resumed at try_iretq_resume, 1 when it reached try_iretq_landing
 * at CPL 0, or the SYS_EXIT value when it reached ring 3.
 */
    .globl try_iretq, try_iretq_insn, try_iretq_landing, try_iretq_resume
try_iretq:
    push    %rbx
    push    %rbp
    push    %r12
    push    %r13
    push    %r14
    push    %r15
    mov     %rsp, kernel_saved_rsp
    pushq   32(%rdi)
    pushq   24(%rdi)
    pushq   16(%rdi)
    pushq   8(%rdi)
    pushq   (%rdi)
    mov     %rsp, iretq_rsp
try_iretq_insn:
    iretq
try_iretq_landing:
    mov     %rsp, landing_rsp
    mov     %ss, %rax
    mov     %rax, landing_ss
    pushfq
    popq    landing_rflags
    mov     $1, %edi
    jmp     resume_kernel64
try_iretq_resume:
    xor     %edi, %edi
    jmp     resume_kernel64

/* ------------------------------------------------------ ring 3 code */

/*
 * Fixed-up faults (ud2, cli, int through a DPL-0 gate), int $0x80
 * SYS_RETURN (IRETQ back), SYSCALL SYS_RETURN if syscall_enabled (SYSRETQ
 * back), then SYS_EXIT with r12 = int $0x80 result, r13 = SYSCALL result,
 * r14 = RFLAGS, rbx = CS, rdx = SS, rbp = RSP before the int $0x80.
 */
    .globl user64_prog, user64_ud2_insn, user64_ud2_next, user64_cli_insn
    .globl user64_cli_next, user64_int81_insn, user64_int81_next
    .globl user64_int80_insn, user64_int80_next, user64_syscall_insn
    .globl user64_syscall_next, user64_prog_exit_insn
user64_prog:
user64_ud2_insn:
    ud2
user64_ud2_next:
user64_cli_insn:
    cli
user64_cli_next:
user64_int81_insn:
    int     $0x81
user64_int81_next:
    mov     %rsp, %rbp
    mov     $SYS_RETURN, %eax
user64_int80_insn:
    int     $0x80
user64_int80_next:
    mov     %rax, %r12
    xor     %r13d, %r13d
    cmpl    $0, syscall_enabled
    je      1f
    mov     $SYS_RETURN, %eax
user64_syscall_insn:
    syscall
user64_syscall_next:
    mov     %rax, %r13
1:  pushfq
    pop     %r14
    mov     %cs, %rbx
    mov     %ss, %rdx
    mov     $SYS_EXIT, %eax
user64_prog_exit_insn:
    int     $0x80
    ud2

/* Spins (bounded) until an upcall was taken in ring 3, then SYS_EXIT. */
    .globl user64_upcall_prog, user64_upcall_exit_insn
user64_upcall_prog:
    mov     $0x1000000, %ecx
1:  cmpl    $0, upcall_user_hits
    jne     2f
    pause
    dec     %ecx
    jnz     1b
2:  mov     $SYS_EXIT, %eax
user64_upcall_exit_insn:
    int     $0x80
    ud2

/* Reached only by an IRETQ to ring 3 that should have faulted. */
    .globl user64_exit, user64_exit_insn
user64_exit:
    mov     $SYS_EXIT, %eax
user64_exit_insn:
    int     $0x80
    ud2

/* --------------------------------------------------------------- data */
    .data
    .balign 16
    .globl gdt64
gdt64:
    .quad   0                           /* null */
    .quad   0x00af9b000000ffff          /* 0x08 kernel code, 64-bit */
    .quad   0x00cf93000000ffff          /* 0x10 kernel data */
    .quad   0x00cffb000000ffff          /* 0x18 user code, 32-bit (SYSRET) */
    .quad   0x00cff3000000ffff          /* 0x20 user data */
    .quad   0x00affb000000ffff          /* 0x28 user code, 64-bit */
    .quad   0, 0                        /* 0x30 TSS (filled in by C) */
gdt64_end:
    .balign 8
gdt64_ptr:
    .word   gdt64_end - gdt64 - 1
    .quad   gdt64

    .balign 8
    .globl kernel_saved_rsp, k64_int_rsp, k64_int_rflags, k64_int_rflags_after
    .globl iretq_rsp, landing_rsp, landing_ss, landing_rflags
kernel_saved_rsp:     .quad 0
syscall_user_rsp:     .quad 0
k64_int_rsp:          .quad 0
k64_int_rflags:       .quad 0
k64_int_rflags_after: .quad 0
iretq_rsp:            .quad 0
landing_rsp:          .quad 0
landing_ss:           .quad 0
landing_rflags:       .quad 0
start_info_addr:      .long 0

    .bss
    .balign 4096
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4 * 4096
    .balign 16
boot_stack:
    .skip   16384
boot_stack_top:
    .balign 16
    .globl trap64_stack_top, ist1_stack_top
    .skip   8192
trap64_stack_top:
    .skip   8192
ist1_stack_top:
    .skip   8192
syscall_stack_top:
