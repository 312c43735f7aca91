/*
 * Exceptions taken at EL1. start.S's vector table saves the interrupted registers in a
 * struct exception_frame on the current stack and calls exception_dispatch; whatever the frame
 * holds when it returns (x0-x30, ELR, SPSR) is restored by ERET.
 *
 * Only two kinds are expected, both from EL1 with SP_EL1 (the guests never leave EL1h):
 *  - synchronous (vector 0x200): offered to the guest's sync handler, which returns true when
 *    it dealt with the exception (e.g. moved frame->elr past a faulting instruction);
 *  - IRQ (0x280): acknowledged at the GIC, passed to the guest's IRQ handler, then ended (EOI).
 * Anything else, or either kind without a handler that accepts it, ends the test with
 * "FAIL: exception ESR=... ELR=... FAR=...".
 */
#ifndef EXCEPTION_H
#define EXCEPTION_H

#include <stdbool.h>
#include <stdint.h>

struct exception_frame {
	uint64_t x[31];
	uint64_t elr;
	uint64_t spsr;
	uint64_t pad;		/* keeps the frame a multiple of 16 bytes */
};

#define ESR_EC(esr)      ((uint32_t)((esr) >> 26) & 0x3F)
#define ESR_IL           (1u << 25)	/* the trapped instruction was 32 bits */
#define ESR_EC_DABT_CUR  0x25		/* data abort taken without a change of EL */

typedef bool sync_handler_fn(struct exception_frame *frame, uint64_t esr, uint64_t far);
typedef void irq_handler_fn(uint32_t intid);

void exception_set_sync_handler(sync_handler_fn *handler);
void exception_set_irq_handler(irq_handler_fn *handler);

void exception_dispatch(struct exception_frame *frame, uint64_t vector);

#endif
