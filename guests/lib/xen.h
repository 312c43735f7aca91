/*
 * The parts of the Xen guest ABI used by the XenSharp test guests, written
 * for a 32-bit (i386) PVH guest.  Values and layouts follow Xen's public
 * interface headers; structures use the 32-bit guest ("compat") layout.
 */
#ifndef GUESTS_XEN_H
#define GUESTS_XEN_H

#include <stdint.h>

/* Hypercall numbers. */
#define HC_memory_op        12
#define HC_xen_version      17
#define HC_console_io       18
#define HC_vcpu_op          24
#define HC_sched_op         29
#define HC_event_channel_op 32
#define HC_hvm_op           34

/* Error numbers (returned negated); Xen and XenStore use these values. */
#define XEN_EPERM        1
#define XEN_ENOENT       2
#define XEN_EIO          5
#define XEN_E2BIG        7
#define XEN_EAGAIN      11
#define XEN_ENOMEM      12
#define XEN_EACCES      13
#define XEN_EFAULT      14
#define XEN_EBUSY       16
#define XEN_EEXIST      17
#define XEN_EISDIR      21
#define XEN_EINVAL      22
#define XEN_ENOSPC      28
#define XEN_EROFS       30
#define XEN_ENOSYS      38
#define XEN_ENOTEMPTY   39
#define XEN_EISCONN    106
#define XEN_ETIME       62
#define XEN_ETIMEDOUT  110

#define DOMID_SELF 0x7FF0u
#define DOMID_FIRST_RESERVED 0x7FF0u

/* CPUID leaves, relative to the discovered base (0x40000x00). */
#define XEN_CPUID_SIG_EBX 0x566e6558u /* "XenV" */
#define XEN_CPUID_SIG_ECX 0x65584d4du /* "MMXe" */
#define XEN_CPUID_SIG_EDX 0x4d4d566eu /* "nVMM" */
#define XEN_HVM_CPUID_VCPU_ID_PRESENT (1u << 3)
#define XEN_HVM_CPUID_DOMID_PRESENT   (1u << 4)

/* console_io */
#define CONSOLEIO_write 0
#define CONSOLEIO_read  1

/* xen_version */
#define XENVER_version      0
#define XENVER_extraversion 1
#define XENVER_capabilities 3
#define XENVER_get_features 6
#define XENVER_pagesize     7

struct xen_feature_info {
    uint32_t submap_idx;
    uint32_t submap;
};

#define XENFEAT_auto_translated_physmap 2
#define XENFEAT_hvm_callback_vector     8

/* sched_op */
#define SCHEDOP_yield    0
#define SCHEDOP_block    1
#define SCHEDOP_shutdown 2

#define SHUTDOWN_poweroff 0
#define SHUTDOWN_reboot   1
#define SHUTDOWN_crash    3

struct sched_shutdown {
    uint32_t reason;
};

/* event_channel_op */
#define EVTCHNOP_bind_virq 1
#define EVTCHNOP_send 4

struct evtchn_bind_virq {
    uint32_t virq;
    uint32_t vcpu;
    uint32_t port;               /* OUT */
};

#define VIRQ_TIMER 0

struct evtchn_send {
    uint32_t port;
};

/* hvm_op */
#define HVMOP_set_param 0
#define HVMOP_get_param 1

struct xen_hvm_param {
    uint16_t domid;
    uint16_t pad;
    uint32_t index;
    uint64_t value;
};

#define HVM_PARAM_CALLBACK_IRQ    0
#define HVM_PARAM_STORE_PFN       1
#define HVM_PARAM_STORE_EVTCHN    2
#define HVM_PARAM_CONSOLE_PFN    17
#define HVM_PARAM_CONSOLE_EVTCHN 18
#define HVM_PARAM_CALLBACK_TYPE_VECTOR 2ull /* in bits 63:56 of the value */

/* memory_op */
#define XENMEM_current_reservation 3
#define XENMEM_maximum_reservation 4
#define XENMEM_add_to_physmap      7
#define XENMEM_memory_map          9

struct xen_memory_domain {
    uint16_t domid;
};

struct xen_memory_map {          /* 32-bit layout */
    uint32_t nr_entries;         /* IN: capacity, OUT: entries written */
    uint32_t buffer;             /* guest address of e820 entries */
};

struct e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));

#define XENMAPSPACE_shared_info 0

struct xen_add_to_physmap {      /* 32-bit layout */
    uint16_t domid;
    uint16_t size;
    uint32_t space;
    uint32_t idx;
    uint32_t gpfn;
};

/* shared_info page, 32-bit layout: 32 vcpu_info slots of 64 bytes. */
struct vcpu_info {
    uint8_t evtchn_upcall_pending;
    uint8_t evtchn_upcall_mask;
    uint16_t pad0;
    uint32_t evtchn_pending_sel;
    uint32_t arch[6];
    uint8_t time[32];
};

struct shared_info {
    struct vcpu_info vcpu_info[32];
    uint32_t evtchn_pending[32];
    uint32_t evtchn_mask[32];
    uint32_t wc_version;
    uint32_t wc_sec;
    uint32_t wc_nsec;
};

/* vcpu_op */
#define VCPUOP_initialise         0
#define VCPUOP_up                 1
#define VCPUOP_down               2
#define VCPUOP_is_up              3
#define VCPUOP_stop_periodic_timer   7
#define VCPUOP_set_singleshot_timer  8
#define VCPUOP_stop_singleshot_timer 9
#define VCPUOP_register_vcpu_info 10

struct vcpu_set_singleshot_timer {
    uint64_t timeout_abs_ns;     /* system time */
    uint32_t flags;
} __attribute__((packed, aligned(4)));   /* i386 layout: 12 bytes */

#define VCPU_SSHOTTMR_future (1u << 0)   /* -ETIME if already past */

/* vcpu_info.time: the pvclock.  System time (ns) is
 * system_time + ((((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32). */
struct vcpu_time_info {
    uint32_t version;            /* odd while the hypervisor updates it */
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad1[2];
} __attribute__((packed, aligned(4)));

#define XEN_PVCLOCK_TSC_STABLE_BIT (1u << 0)

struct vcpu_register_vcpu_info {
    uint64_t mfn;
    uint32_t offset;
    uint32_t rsvd;
};

#define VCPU_HVM_MODE_32B 0

struct vcpu_hvm_x86_32 {
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t eip, eflags;
    uint32_t cr0, cr3, cr4;
    uint32_t pad1;
    uint64_t efer;
    uint32_t cs_base, ds_base, ss_base, es_base, tr_base;
    uint32_t cs_limit, ds_limit, ss_limit, es_limit, tr_limit;
    uint16_t cs_ar, ds_ar, ss_ar, es_ar, tr_ar;
    uint16_t pad2[3];
};

struct vcpu_hvm_context {
    uint32_t mode;
    uint32_t pad;
    union {
        struct vcpu_hvm_x86_32 x86_32;
        uint64_t x86_64[14];
    } cpu_regs;
};

/* PV console ring (io/console.h). */
struct xencons_interface {
    char in[1024];
    char out[2048];
    uint32_t in_cons, in_prod;
    uint32_t out_cons, out_prod;
};

/* XenStore shared ring page (io/xs_wire.h) and its message header. */
#define XENSTORE_RING_SIZE   1024
#define XENSTORE_PAYLOAD_MAX 4096

struct xenstore_domain_interface {
    char req[XENSTORE_RING_SIZE];   /* guest -> xenstored */
    char rsp[XENSTORE_RING_SIZE];   /* xenstored -> guest: replies, watch events */
    uint32_t req_cons, req_prod;
    uint32_t rsp_cons, rsp_prod;
    uint32_t server_features;
    uint32_t connection;
    uint32_t error;
};

#define XENSTORE_SERVER_FEATURE_RECONNECTION 1u
#define XENSTORE_SERVER_FEATURE_ERROR        2u
#define XENSTORE_CONNECTED 0
#define XENSTORE_RECONNECT 1

struct xsd_sockmsg {
    uint32_t type;     /* XS_* */
    uint32_t req_id;   /* echoed in the reply */
    uint32_t tx_id;    /* transaction, 0 for none */
    uint32_t len;      /* payload bytes that follow */
};

enum xsd_sockmsg_type {
    XS_CONTROL, XS_DIRECTORY, XS_READ, XS_GET_PERMS, XS_WATCH, XS_UNWATCH,
    XS_TRANSACTION_START, XS_TRANSACTION_END, XS_INTRODUCE, XS_RELEASE,
    XS_GET_DOMAIN_PATH, XS_WRITE, XS_MKDIR, XS_RM, XS_SET_PERMS,
    XS_WATCH_EVENT, XS_ERROR,
};

/* PVH start of day structure, passed in %ebx. */
#define XEN_HVM_START_MAGIC_VALUE 0x336ec578u

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;       /* version >= 1 */
    uint32_t memmap_entries;     /* version >= 1 */
    uint32_t reserved;
};

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

#define XEN_HVM_MEMMAP_TYPE_RAM 1

/* Layout checks against the documented offsets and sizes. */
#define XEN_ABI_SIZE(t, n) _Static_assert(sizeof(t) == (n), #t " size")
#define XEN_ABI_OFF(t, f, n) \
    _Static_assert(__builtin_offsetof(t, f) == (n), #t "." #f " offset")
XEN_ABI_SIZE(struct xen_hvm_param, 16);
XEN_ABI_SIZE(struct e820_entry, 20);
XEN_ABI_SIZE(struct xen_add_to_physmap, 16);
XEN_ABI_SIZE(struct vcpu_info, 64);
XEN_ABI_OFF(struct shared_info, wc_version, 2304);
XEN_ABI_SIZE(struct vcpu_register_vcpu_info, 16);
XEN_ABI_SIZE(struct vcpu_set_singleshot_timer, 12);
XEN_ABI_SIZE(struct vcpu_time_info, 32);
XEN_ABI_OFF(struct vcpu_time_info, tsc_to_system_mul, 24);
XEN_ABI_SIZE(struct evtchn_bind_virq, 12);
XEN_ABI_OFF(struct vcpu_hvm_x86_32, efer, 56);
XEN_ABI_OFF(struct vcpu_hvm_x86_32, cs_ar, 104);
XEN_ABI_SIZE(struct vcpu_hvm_x86_32, 120);
XEN_ABI_OFF(struct vcpu_hvm_context, cpu_regs, 8);
XEN_ABI_OFF(struct xencons_interface, out_prod, 3084);
XEN_ABI_OFF(struct xenstore_domain_interface, req_cons, 2048);
XEN_ABI_OFF(struct xenstore_domain_interface, req_prod, 2052);
XEN_ABI_OFF(struct xenstore_domain_interface, rsp_cons, 2056);
XEN_ABI_OFF(struct xenstore_domain_interface, rsp_prod, 2060);
XEN_ABI_OFF(struct xenstore_domain_interface, server_features, 2064);
XEN_ABI_OFF(struct xenstore_domain_interface, connection, 2068);
XEN_ABI_OFF(struct xenstore_domain_interface, error, 2072);
XEN_ABI_SIZE(struct xsd_sockmsg, 16);
_Static_assert(XS_WATCH_EVENT == 15 && XS_ERROR == 16 && XS_SET_PERMS == 14,
               "xsd_sockmsg_type values");
XEN_ABI_OFF(struct hvm_start_info, memmap_paddr, 40);
XEN_ABI_SIZE(struct hvm_start_info, 56);
XEN_ABI_SIZE(struct hvm_memmap_table_entry, 24);

/* ---- Event channels, grant tables, polling and periodic timers ----
 * (event_channel.h, grant_table.h, sched.h, vcpu.h, memory.h; 32-bit layouts,
 * with guest handles written as uint32_t guest addresses.) */
#define HC_grant_table_op   20

#define XEN_ESRCH        3

#define DOMID_IO      0x7FF1u
#define DOMID_XEN     0x7FF2u
#define DOMID_INVALID 0x7FF4u

/* sched_op */
#define SCHEDOP_poll     3

struct sched_poll {
    uint32_t ports;              /* guest address of uint32_t ports[] */
    uint32_t nr_ports;
    uint64_t timeout;            /* absolute system time (ns); 0: none */
} __attribute__((packed, aligned(4)));

/* vcpu_op: periodic timer (period >= 1 ms) */
#define VCPUOP_set_periodic_timer 6

struct vcpu_set_periodic_timer {
    uint64_t period_ns;
} __attribute__((packed, aligned(4)));

/* event_channel_op commands (EVTCHNOP_bind_virq and _send are above). */
#define EVTCHNOP_bind_interdomain 0
#define EVTCHNOP_bind_pirq        2
#define EVTCHNOP_close            3
#define EVTCHNOP_status           5
#define EVTCHNOP_alloc_unbound    6
#define EVTCHNOP_bind_ipi         7
#define EVTCHNOP_bind_vcpu        8
#define EVTCHNOP_unmask           9
#define EVTCHNOP_reset           10
#define EVTCHNOP_init_control    11
#define EVTCHNOP_expand_array    12
#define EVTCHNOP_set_priority    13

/* Ports of the 2-level ABI for a 32-bit guest: 32 x 32. */
#define EVTCHN_2L_NR_CHANNELS_32 1024u

struct evtchn_alloc_unbound {
    uint16_t dom;                /* IN: DOMID_SELF (or a domain it controls) */
    uint16_t remote_dom;         /* IN: the domain that may bind */
    uint32_t port;               /* OUT */
};

struct evtchn_bind_interdomain {
    uint16_t remote_dom;
    uint16_t pad;
    uint32_t remote_port;
    uint32_t local_port;         /* OUT */
};

struct evtchn_close {
    uint32_t port;
};

#define EVTCHNSTAT_closed       0
#define EVTCHNSTAT_unbound      1
#define EVTCHNSTAT_interdomain  2
#define EVTCHNSTAT_pirq         3
#define EVTCHNSTAT_virq         4
#define EVTCHNSTAT_ipi          5

struct evtchn_status {
    uint16_t dom;                /* IN */
    uint16_t pad;
    uint32_t port;               /* IN */
    uint32_t status;             /* OUT: EVTCHNSTAT_* */
    uint32_t vcpu;               /* OUT */
    union {
        struct { uint16_t dom; } unbound;
        struct { uint16_t dom; uint16_t pad; uint32_t port; } interdomain;
        uint32_t pirq;
        uint32_t virq;
    } u;
};

struct evtchn_bind_vcpu {
    uint32_t port;
    uint32_t vcpu;
};

struct evtchn_reset {
    uint16_t dom;
};

/* memory_op: grant-table frames in the physmap */
#define XENMAPSPACE_grant_table 1
#define XENMAPIDX_grant_table_status 0x80000000u

/* grant_table_op */
#define GNTTABOP_map_grant_ref     0
#define GNTTABOP_unmap_grant_ref   1
#define GNTTABOP_setup_table       2
#define GNTTABOP_dump_table        3
#define GNTTABOP_transfer          4
#define GNTTABOP_copy              5
#define GNTTABOP_query_size        6
#define GNTTABOP_unmap_and_replace 7
#define GNTTABOP_set_version       8
#define GNTTABOP_get_status_frames 9
#define GNTTABOP_get_version      10
#define GNTTABOP_swap_grant_ref   11
#define GNTTABOP_cache_flush      12

#define GNTTAB_NR_RESERVED_ENTRIES 8

struct grant_entry_v1 {
    uint16_t flags;              /* GTF_* */
    uint16_t domid;              /* the domain granted access */
    uint32_t frame;              /* the granted GFN */
};

struct grant_entry_header {
    uint16_t flags;
    uint16_t domid;
};

union grant_entry_v2 {
    struct grant_entry_header hdr;
    struct {
        struct grant_entry_header hdr;
        uint32_t pad0;
        uint64_t frame;
    } __attribute__((packed, aligned(4))) full_page;
    struct {
        struct grant_entry_header hdr;
        uint16_t page_off;
        uint16_t length;
        uint64_t frame;
    } __attribute__((packed, aligned(4))) sub_page;
    uint32_t spacer[4];
};

#define GTF_invalid         0u
#define GTF_permit_access   1u
#define GTF_accept_transfer 2u
#define GTF_transitive      3u
#define GTF_type_mask       3u
#define GTF_readonly        (1u << 2)
#define GTF_reading         (1u << 3)
#define GTF_writing         (1u << 4)
#define GTF_sub_page        (1u << 8)

#define GNTCOPY_source_gref (1u << 0)
#define GNTCOPY_dest_gref   (1u << 1)

struct gnttab_copy_ptr {
    uint32_t u;                  /* grant_ref_t ref, or xen_pfn_t gmfn */
    uint16_t domid;
    uint16_t offset;
};

struct gnttab_copy {
    struct gnttab_copy_ptr source, dest;
    uint16_t len;
    uint16_t flags;              /* GNTCOPY_* */
    int16_t status;              /* OUT: GNTST_* */
    uint16_t pad;
};

struct gnttab_setup_table {
    uint16_t dom;
    uint16_t pad;
    uint32_t nr_frames;
    int16_t status;              /* OUT */
    uint16_t pad2;
    uint32_t frame_list;         /* guest address of xen_pfn_t (32-bit) frames */
};

struct gnttab_query_size {
    uint16_t dom;
    uint16_t pad;
    uint32_t nr_frames;          /* OUT */
    uint32_t max_nr_frames;      /* OUT */
    int16_t status;              /* OUT */
    uint16_t pad2;
};

struct gnttab_set_version {
    uint32_t version;            /* IN/OUT */
};

struct gnttab_get_version {
    uint16_t dom;
    uint16_t pad;
    uint32_t version;            /* OUT */
};

#define GNTST_okay              0
#define GNTST_general_error    (-1)
#define GNTST_bad_domain       (-2)
#define GNTST_bad_gntref       (-3)
#define GNTST_bad_handle       (-4)
#define GNTST_bad_virt_addr    (-5)
#define GNTST_bad_dev_addr     (-6)
#define GNTST_no_device_space  (-7)
#define GNTST_permission_denied (-8)
#define GNTST_bad_page         (-9)
#define GNTST_bad_copy_arg    (-10)
#define GNTST_address_too_big (-11)
#define GNTST_eagain          (-12)
#define GNTST_no_space        (-13)

XEN_ABI_SIZE(struct sched_poll, 16);
XEN_ABI_OFF(struct sched_poll, timeout, 8);
XEN_ABI_SIZE(struct vcpu_set_periodic_timer, 8);
XEN_ABI_SIZE(struct evtchn_alloc_unbound, 8);
XEN_ABI_SIZE(struct evtchn_bind_interdomain, 12);
XEN_ABI_OFF(struct evtchn_status, status, 8);
XEN_ABI_OFF(struct evtchn_status, u.interdomain.port, 20);
XEN_ABI_SIZE(struct evtchn_status, 24);
XEN_ABI_SIZE(struct grant_entry_v1, 8);
XEN_ABI_SIZE(union grant_entry_v2, 16);
XEN_ABI_OFF(union grant_entry_v2, full_page.frame, 8);
XEN_ABI_SIZE(struct gnttab_copy, 24);
XEN_ABI_OFF(struct gnttab_copy, len, 16);
XEN_ABI_OFF(struct gnttab_copy, status, 20);
XEN_ABI_SIZE(struct gnttab_setup_table, 16);
XEN_ABI_OFF(struct gnttab_setup_table, frame_list, 12);
XEN_ABI_SIZE(struct gnttab_query_size, 16);
XEN_ABI_SIZE(struct gnttab_get_version, 8);

#endif
