/*
 * 32-bit IDT entry stubs, the common trap path, and ring-3 entry/exit
 * (see trap32.h).  Each of the 256 stubs is 16 bytes long: it pushes a
 * zero error code when the CPU doesn't push one, then the vector number,
 * and jumps to trap_common, which builds a struct trap_frame.
 */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23

    .text
    .code32

    .balign 16
    .globl trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .org    trap_stubs + 16 * vec, 0xcc /* errors if a stub grew past 16 */
    .if !((vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || \
          (vec == 21) || (vec == 29) || (vec == 30))
    pushl   $0
    .endif
    pushl   $vec
    jmp     trap_common
    .set vec, vec + 1
    .endr
    .org    trap_stubs + 16 * 256, 0xcc

trap_common:
    pushal
    push    %ds
    push    %es
    mov     $SEL_KDATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    cld
    push    %esp
    call    trap_dispatch
    add     $4, %esp
    pop     %es
    pop     %ds
    popal
    add     $8, %esp                /* vector, error code */
    iret

/* uint32_t run_user(const void *eip, void *esp) */
    .globl run_user
    .type run_user, @function
run_user:
    push    %ebp
    push    %ebx
    push    %esi
    push    %edi
    mov     %esp, kernel_saved_esp
    mov     20(%esp), %ecx          /* eip */
    mov     24(%esp), %edx          /* esp */
    mov     $SEL_UDATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    push    $SEL_UDATA              /* SS */
    push    %edx                    /* ESP */
    pushf
    orl     $0x200, (%esp)          /* EFLAGS.IF */
    push    $SEL_UCODE              /* CS */
    push    %ecx                    /* EIP */
    iret
    .size run_user, . - run_user

/* void resume_kernel(uint32_t value): back to whoever saved kernel_saved_esp */
    .globl resume_kernel
    .type resume_kernel, @function
resume_kernel:
    mov     4(%esp), %eax
    ljmp    $SEL_KCODE, $1f         /* in case CS was something else */
1:
    mov     $SEL_KDATA, %ecx
    mov     %ecx, %ds
    mov     %ecx, %es
    mov     %ecx, %ss
    mov     kernel_saved_esp, %esp
    pop     %edi
    pop     %esi
    pop     %ebx
    pop     %ebp
    ret
    .size resume_kernel, . - resume_kernel

    .data
    .balign 4
    .globl kernel_saved_esp
kernel_saved_esp:
    .long   0

    .bss
    .balign 16
trap_stack:
    .skip   8192
    .globl trap_stack_top
trap_stack_top:
