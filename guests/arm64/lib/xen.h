/*
 * The pieces of Xen's public ABI (xen/include/public) the guests use, laid out as on arm64:
 * xen_ulong_t and xen_pfn_t are 64 bits, domid_t 16, evtchn_port_t 32.
 */
#ifndef XEN_H
#define XEN_H

#include <stddef.h>
#include <stdint.h>

#define DOMID_SELF 0x7FF0

/* The PPI Xen/ARM raises while vcpu_info.evtchn_upcall_pending is set (GUEST_EVTCHN_PPI). */
#define XEN_EVTCHN_PPI 31

/* xen_version (version.h) */
#define XENVER_version      0	/* returns major << 16 | minor */
#define XENVER_extraversion 1	/* fills a char[16], e.g. ".0" or "-unstable" */
#define XEN_EXTRAVERSION_LEN 16

/* memory_op (memory.h): XENMEM_add_to_physmap places a special page at a guest frame. */
#define XENMEM_add_to_physmap   7
#define XENMAPSPACE_shared_info 0

struct xen_add_to_physmap {
	uint16_t domid;
	uint16_t size;		/* gmfn_range only */
	uint32_t space;
	uint64_t idx;
	uint64_t gpfn;
};
_Static_assert(sizeof(struct xen_add_to_physmap) == 24, "xen_add_to_physmap layout");

/* event_channel_op (event_channel.h) */
#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_send             4
#define EVTCHNOP_alloc_unbound    6

struct evtchn_alloc_unbound {
	uint16_t dom, remote_dom;	/* IN */
	uint32_t port;			/* OUT */
};

struct evtchn_bind_interdomain {
	uint16_t remote_dom;		/* IN */
	uint32_t remote_port;		/* IN */
	uint32_t local_port;		/* OUT */
};

struct evtchn_send {
	uint32_t port;
};

/*
 * shared_info (xen.h). On ARM vcpu_info is 48 bytes: arch_vcpu_info is empty, and the byte
 * after evtchn_upcall_pending is padding to Xen/ARM (XEN_HAVE_PV_UPCALL_MASK is an x86 thing)
 * but the upcall mask to XenSharp, which starts it at 1 as Xen does on x86: the guests clear it.
 */
struct vcpu_time_info {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	int8_t pad1[3];
};

struct vcpu_info {
	uint8_t evtchn_upcall_pending;
	uint8_t evtchn_upcall_mask;
	uint64_t evtchn_pending_sel;	/* one bit per word of evtchn_pending */
	struct vcpu_time_info time;
};

#define XEN_LEGACY_MAX_VCPUS 32

/* Only the part the guests touch; wallclock and arch fields follow. */
struct shared_info {
	struct vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];
	uint64_t evtchn_pending[64];
	uint64_t evtchn_mask[64];
};
_Static_assert(sizeof(struct vcpu_info) == 48, "vcpu_info layout");
_Static_assert(offsetof(struct shared_info, evtchn_pending) == 1536, "shared_info layout");
_Static_assert(offsetof(struct shared_info, evtchn_mask) == 2048, "shared_info layout");

#endif
