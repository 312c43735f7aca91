/*
 * Entry points, stacks and the exception vector table shared by every guest.
 *
 * vCPU 0: the domain builder enters _start at EL1h (SP_EL1) with D/A/I/F masked, the MMU and
 * caches off and x0 = the device tree's physical address. _start zeroes the BSS (nothing may use
 * it, or the stacks in it, before that), then takes its stack, installs the vectors and calls
 * test_main(dtb). Returning from test_main is a pass.
 *
 * Other vCPUs: PSCI CPU_ON starts one at secondary_entry in the same state with x0 = the context
 * id. It takes the stack of its vCPU number, computed from MPIDR_EL1 as Aff1 * 16 + Aff0 (Xen's
 * numbering), installs the vectors and calls secondary_main(context_id), which only guests that
 * start vCPUs define (it is a weak reference). A vCPU beyond MAX_CPUS, in a guest without
 * secondary_main, or whose secondary_main returns, powers itself off (PSCI CPU_OFF).
 */

#define MAX_CPUS        4
#define STACK_SIZE      0x4000
#define FRAME_SIZE      272		/* struct exception_frame (exception.h): x0-x30, ELR, SPSR, pad */
#define PSCI_CPU_OFF    0x84000002

	.section .text.start, "ax"
	.globl	_start
_start:
	mov	x19, x0
	ldr	x1, =__bss_start
	ldr	x2, =__bss_end
1:	cmp	x1, x2
	b.hs	2f
	stp	xzr, xzr, [x1], #16
	b	1b
2:	mov	x0, #0
	bl	cpu_setup
	mov	x0, x19
	bl	test_main
	bl	test_pass

	.weak	secondary_main
	.text
	.globl	secondary_entry
	.type	secondary_entry, %function
secondary_entry:
	mov	x19, x0
	mrs	x1, mpidr_el1
	and	x0, x1, #0xff			/* Aff0 */
	ubfx	x1, x1, #8, #8			/* Aff1 */
	add	x0, x0, x1, lsl #4
	cmp	x0, #MAX_CPUS
	b.hs	cpu_off
	ldr	x20, =secondary_main
	cbz	x20, cpu_off
	bl	cpu_setup
	mov	x0, x19
	blr	x20
cpu_off:
	ldr	x0, =PSCI_CPU_OFF
	hvc	#0
	b	cpu_off
	.size	secondary_entry, . - secondary_entry

/* cpu_setup(x0 = vCPU number): stack top of that vCPU, vector base. Returns through x30. */
cpu_setup:
	ldr	x1, =stacks
	add	x0, x0, #1
	mov	x2, #STACK_SIZE
	madd	x1, x0, x2, x1
	mov	sp, x1
	ldr	x1, =vectors
	msr	vbar_el1, x1
	isb
	ret

/*
 * The vector table: 16 entries of 0x80 bytes (synchronous, IRQ, FIQ, SError for each of: current
 * EL with SP_EL0, current EL with SP_ELx, lower EL AArch64, lower EL AArch32), 2 KiB aligned.
 * Each entry saves x0/x1 and jumps to exception_entry with its offset in x1.
 */
.macro	vector offset
	.balign	0x80
	sub	sp, sp, #FRAME_SIZE
	stp	x0, x1, [sp]
	mov	x1, #\offset
	b	exception_entry
.endm

	.balign	0x800
vectors:
	.irp	offset, 0x000, 0x080, 0x100, 0x180, 0x200, 0x280, 0x300, 0x380, 0x400, 0x480, 0x500, 0x580, 0x600, 0x680, 0x700, 0x780
	vector	\offset
	.endr

/* Saves the rest of the frame, calls exception_dispatch(frame, offset), restores, returns. */
exception_entry:
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x19, [sp, #144]
	stp	x20, x21, [sp, #160]
	stp	x22, x23, [sp, #176]
	stp	x24, x25, [sp, #192]
	stp	x26, x27, [sp, #208]
	stp	x28, x29, [sp, #224]
	mrs	x2, elr_el1
	mrs	x3, spsr_el1
	stp	x30, x2, [sp, #240]
	str	x3, [sp, #256]
	mov	x0, sp
	bl	exception_dispatch
	ldp	x30, x2, [sp, #240]
	ldr	x3, [sp, #256]
	msr	elr_el1, x2
	msr	spsr_el1, x3
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x19, [sp, #144]
	ldp	x20, x21, [sp, #160]
	ldp	x22, x23, [sp, #176]
	ldp	x24, x25, [sp, #192]
	ldp	x26, x27, [sp, #208]
	ldp	x28, x29, [sp, #224]
	ldp	x0, x1, [sp]
	add	sp, sp, #FRAME_SIZE
	eret

	.bss
	.balign	16
stacks:
	.space	MAX_CPUS * STACK_SIZE
