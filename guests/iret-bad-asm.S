/*
 * IRET helpers for iret-bad.c.
 *
 * uint32_t try_iret(const uint32_t *frame, unsigned int words) pushes
 * frame[words-1] ... frame[0] (so frame[0] = EIP is on top) and executes
 * IRET at CPL 0.  It returns through resume_kernel(): 0 when the IRET
 * faulted (the fault handler resumes at try_iret_resume), 1 when it
 * reached try_iret_landing at CPL 0, or whatever the ring-3 code passes
 * to SYS_EXIT when it reached ring 3.
 */
#define SYS_EXIT  2             /* keep in sync with iret-bad.c */
#define SEL_KCODE 0x08

    .text
    .code32

    .globl try_iret, try_iret_insn, try_iret_landing, try_iret_resume
try_iret:
    push    %ebp
    push    %ebx
    push    %esi
    push    %edi
    mov     %esp, kernel_saved_esp
    mov     20(%esp), %esi
    mov     24(%esp), %ecx
1:  pushl   -4(%esi,%ecx,4)
    dec     %ecx
    jnz     1b
    mov     %esp, iret_esp
try_iret_insn:
    iret
try_iret_landing:
    mov     %esp, landing_esp
    pushf
    popl    landing_eflags
    push    $1
    call    resume_kernel
try_iret_resume:
    push    $0
    call    resume_kernel

/*
 * Ring 3, reached by an outer-level IRET: reports DS, ES, FS, GS and SS in
 * ebx, ecx, edx, esi, edi and ESP in ebp (no memory access: DS may be null).
 */
    .globl user_report, user_report_exit_insn
user_report:
    mov     %ds, %ebx
    mov     %es, %ecx
    mov     %fs, %edx
    mov     %gs, %esi
    mov     %ss, %edi
    mov     %esp, %ebp
    mov     $SYS_EXIT, %eax
user_report_exit_insn:
    int     $0x80
    ud2

/*
 * Ring 3, entered with run_user(): IRET to a CS with RPL 0 < CPL 3.  The
 * #GP handler resumes at user_iret_resume, which exits with ebp = ESP
 * (the IRET frame must still be on the stack).
 */
    .globl user_iret_to_ring0, user_iret_insn, user_iret_resume
    .globl user_iret_exit_insn
user_iret_to_ring0:
    pushl   $0x202
    pushl   $SEL_KCODE
    pushl   $try_iret_landing
    mov     %esp, %ebp
user_iret_insn:
    iret
user_iret_resume:
    mov     %esp, %edi
    mov     $SYS_EXIT, %eax
user_iret_exit_insn:
    int     $0x80
    ud2

    .data
    .balign 4
    .globl iret_esp, landing_esp, landing_eflags
iret_esp:
    .long   0
landing_esp:
    .long   0
landing_eflags:
    .long   0
