#include <stddef.h>
#include "cpu.h"
#include "exception.h"
#include "gic.h"
#include "test.h"

/* start.S builds the frame with these offsets. */
_Static_assert(sizeof(struct exception_frame) == 272, "exception frame size");
_Static_assert(offsetof(struct exception_frame, elr) == 248, "exception frame ELR");
_Static_assert(offsetof(struct exception_frame, spsr) == 256, "exception frame SPSR");

/* Vector offsets in the table (start.S): current EL with SP_ELx. */
#define VECTOR_SYNC 0x200
#define VECTOR_IRQ  0x280

static sync_handler_fn *sync_handler;
static irq_handler_fn *irq_handler;

void exception_set_sync_handler(sync_handler_fn *handler) { sync_handler = handler; }
void exception_set_irq_handler(irq_handler_fn *handler) { irq_handler = handler; }

void exception_dispatch(struct exception_frame *frame, uint64_t vector)
{
	uint64_t esr = read_sysreg(esr_el1), far = read_sysreg(far_el1);

	if (vector == VECTOR_SYNC && sync_handler != 0 && sync_handler(frame, esr, far))
		return;
	if (vector == VECTOR_IRQ && irq_handler != 0) {
		uint32_t intid = gic_acknowledge();
		if (intid != GIC_SPURIOUS) {
			irq_handler(intid);
			gic_end_of_interrupt(intid);
		}
		return;
	}
	test_fail("exception ESR=0x%lx ELR=0x%lx FAR=0x%lx (vector 0x%lx)", esr, frame->elr, far, vector);
}
