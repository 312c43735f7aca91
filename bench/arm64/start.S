/* Entry of the a64_mips benchmark guest: EL1, MMU off, x0 = DTB address (ignored).
   The header at the load address (0x40080000) lets the harness patch the repetition count
   in the ELF file or in guest memory: a branch, a magic word and the 64-bit count. */
	.section .text.start, "ax"
	.global _start
_start:
	b	1f
	.word	0
	.ascii	"A64MIPS\0"		/* magic at +8 */
	.global	bench_repetitions
bench_repetitions:			/* +16: how many times main() repeats the workload */
	.quad	1000
1:
	mov	x1, #(3 << 20)		/* CPACR_EL1.FPEN: FP/SIMD not trapped */
	msr	cpacr_el1, x1
	isb
	ldr	x1, =__stack_top
	mov	sp, x1
	ldr	x1, =__bss_start	/* clear .bss (8-byte aligned by the linker script) */
	ldr	x2, =__bss_end
2:	cmp	x1, x2
	b.hs	3f
	str	xzr, [x1], #8
	b	2b
3:	bl	main
	/* PSCI SYSTEM_OFF over HVC (the conduit QEMU's virt board uses for an EL1 guest). */
	movz	w0, #0x0008
	movk	w0, #0x8400, lsl #16
	hvc	#0
4:	wfi
	b	4b
