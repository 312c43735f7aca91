/*
 * arm64-xen: Xen hypercalls from an ARM guest and an event channel's upcall.
 *
 * xen_version (the version and the extraversion string), console_io write, an unknown
 * hypercall number (-ENOSYS), XENMEM_add_to_physmap placing shared_info at a page of the guest's
 * own RAM. Then an event channel looped back to the same domain: EVTCHNOP_alloc_unbound gives a
 * port A waiting for DOMID_SELF, EVTCHNOP_bind_interdomain binds a port B to it. With the vCPU's
 * upcall and both ports unmasked in shared_info, EVTCHNOP_send on A must raise B, and a send on
 * B must raise A, each through the event-channel PPI 31.
 *
 * Upcall protocol (as Linux's handler does it): Xen sets the port's bit in
 * shared_info.evtchn_pending, and, when the port is not masked in evtchn_mask, its word's bit in
 * vcpu_info.evtchn_pending_sel and vcpu_info.evtchn_upcall_pending, and asserts PPI 31. The
 * handler clears evtchn_upcall_pending first, then takes the selector and the pending bits it
 * names with atomic exchanges/clears, so an event sent meanwhile is seen on the next upcall.
 */
#include <stdbool.h>
#include "cpu.h"
#include "exception.h"
#include "gic.h"
#include "hypercall.h"
#include "test.h"
#include "timer.h"
#include "xen.h"

const char test_name[] = "arm64-xen";

#define BAD_HYPERCALL 99
#define WAIT_US       10000

/* A whole page: add_to_physmap replaces the frame, so nothing else may live in it. */
static union {
	struct shared_info info;
	uint8_t bytes[4096];
} shared_info_page __attribute__((aligned(4096)));
static struct shared_info *const shared = &shared_info_page.info;

static volatile unsigned events;		/* ports found pending by upcalls */
static volatile uint32_t last_port;

static void bit_clear(uint64_t *word, unsigned bit) { __atomic_fetch_and(word, ~(1ul << bit), __ATOMIC_SEQ_CST); }

static void irq(uint32_t intid)
{
	if (intid != XEN_EVTCHN_PPI)
		test_fail("unexpected interrupt %u", intid);
	struct vcpu_info *vcpu = &shared->vcpu_info[0];
	__atomic_store_n(&vcpu->evtchn_upcall_pending, 0, __ATOMIC_SEQ_CST);
	uint64_t selector = __atomic_exchange_n(&vcpu->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
	unsigned ports = 0;
	for (unsigned word = 0; word < 64; word++) {
		if (!(selector & 1ul << word))
			continue;
		uint64_t pending = __atomic_load_n(&shared->evtchn_pending[word], __ATOMIC_SEQ_CST) &
				   ~__atomic_load_n(&shared->evtchn_mask[word], __ATOMIC_SEQ_CST);
		for (unsigned bit = 0; bit < 64; bit++) {
			if (pending & 1ul << bit) {
				bit_clear(&shared->evtchn_pending[word], bit);
				last_port = word * 64 + bit;
				ports++;
			}
		}
	}
	/* None is a spurious upcall, which Xen allows; more would be events the test never sent. */
	if (ports > 1)
		test_fail("upcall with %u pending ports (selector 0x%lx), expected 1", ports, selector);
	events += ports;
}

static void check_version(void)
{
	long version = xen_version(XENVER_version, 0);
	if (version < 0)
		test_fail("xen_version(XENVER_version) = %ld", version);
	char extra[XEN_EXTRAVERSION_LEN + 1] = { 0 };
	long rc = xen_version(XENVER_extraversion, extra);
	if (rc != 0)
		test_fail("xen_version(XENVER_extraversion) = %ld", rc);
	test_log("Xen %lu.%lu%s", (unsigned long)version >> 16, (unsigned long)version & 0xFFFF, extra);
}

static void check_console_and_bad_hypercall(void)
{
	static const char line[] = "arm64-xen: hello through console_io\n";
	long rc = xen_console_write(line, sizeof(line) - 1);
	if (rc != 0)
		test_fail("console_io(CONSOLEIO_write) = %ld", rc);
	rc = xen_hypercall(BAD_HYPERCALL, 0, 0, 0);
	if (rc != -XEN_ENOSYS)
		test_fail("hypercall %u = %ld, not -%u (ENOSYS)", BAD_HYPERCALL, rc, XEN_ENOSYS);
	test_log("console_io written; hypercall %u = -ENOSYS", BAD_HYPERCALL);
}

static void map_shared_info(void)
{
	struct xen_add_to_physmap map = {
		.domid = DOMID_SELF,
		.space = XENMAPSPACE_shared_info,
		.idx = 0,
		.gpfn = (uintptr_t)shared >> 12,
	};
	long rc = xen_memory_op(XENMEM_add_to_physmap, &map);
	if (rc != 0)
		test_fail("XENMEM_add_to_physmap(shared_info) = %ld", rc);
	test_log("shared_info at 0x%lx", (uintptr_t)shared);
}

static void send(uint32_t port)
{
	struct evtchn_send op = { .port = port };
	long rc = xen_event_channel_op(EVTCHNOP_send, &op);
	if (rc != 0)
		test_fail("EVTCHNOP_send(%u) = %ld", port, rc);
}

/* Sends on `from` and waits for the upcall that must report `to`. */
static void expect_upcall(uint32_t from, uint32_t to)
{
	unsigned before = events;
	send(from);
	uint64_t deadline = timer_deadline(WAIT_US);
	while (events == before) {
		if (timer_passed(deadline))
			test_fail("no upcall (PPI %u) after EVTCHNOP_send(%u)", XEN_EVTCHN_PPI, from);
		cpu_relax();
	}
	if (last_port != to)
		test_fail("EVTCHNOP_send(%u) raised port %u, not %u", from, last_port, to);
	test_log("send on port %u: upcall for port %u", from, to);
}

void test_main(uint64_t dtb)
{
	(void)dtb;
	check_version();
	check_console_and_bad_hypercall();
	map_shared_info();

	exception_set_irq_handler(irq);
	gic_init_distributor();
	gic_init_cpu(0);
	gic_enable_private(0, XEN_EVTCHN_PPI);
	__atomic_store_n(&shared->vcpu_info[0].evtchn_upcall_mask, 0, __ATOMIC_SEQ_CST);

	struct evtchn_alloc_unbound alloc = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
	long rc = xen_event_channel_op(EVTCHNOP_alloc_unbound, &alloc);
	if (rc != 0)
		test_fail("EVTCHNOP_alloc_unbound = %ld", rc);
	struct evtchn_bind_interdomain bind = { .remote_dom = DOMID_SELF, .remote_port = alloc.port };
	rc = xen_event_channel_op(EVTCHNOP_bind_interdomain, &bind);
	if (rc != 0)
		test_fail("EVTCHNOP_bind_interdomain(port %u) = %ld", alloc.port, rc);
	uint32_t a = alloc.port, b = bind.local_port;
	if (a == b || a >= 64 * 64 || b >= 64 * 64)
		test_fail("ports %u and %u", a, b);
	test_log("unbound port %u, bound port %u", a, b);

	/*
	 * Binding marks the new port pending (Xen cannot tell whether a notification to the unbound
	 * port was lost): discard that, then unmask both ports. An upcall already raised for it
	 * finds nothing pending when IRQs are unmasked.
	 */
	bit_clear(&shared->evtchn_pending[a / 64], a % 64);
	bit_clear(&shared->evtchn_pending[b / 64], b % 64);
	bit_clear(&shared->evtchn_mask[a / 64], a % 64);
	bit_clear(&shared->evtchn_mask[b / 64], b % 64);
	irq_enable();

	expect_upcall(a, b);
	expect_upcall(b, a);
}
