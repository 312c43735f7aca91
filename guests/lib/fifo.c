/*
 * The FIFO event-channel ABI (event_channel.h) for vCPU 0, consumed as
 * Linux's drivers/xen/events/events_fifo.c does, but without upcalls: the
 * guest calls fifo_consume() when it wants to see what arrived.
 *
 * Event words are changed only with atomic operations (the hypervisor
 * changes them concurrently): the guest clears LINKED and LINK as it walks
 * a queue, clears PENDING of the events it handles, and sets or clears
 * MASKED.
 */
#include "guest.h"

#define MAX_ARRAY_PAGES 8

/* Defined here, not in guest.h: some guests declare their own. */
struct evtchn_unmask {
    uint32_t port;
};

struct evtchn_bind_ipi {
    uint32_t vcpu;
    uint32_t port;               /* OUT */
};

volatile struct evtchn_fifo_control_block *fifo_control;
static volatile uint32_t *array[MAX_ARRAY_PAGES];
static unsigned int array_pages;
/* Linux's per-CPU q->head[]: where the walk of each queue continues, 0 to
 * (re)start from the control block's head[]. */
static uint32_t local_head[EVTCHN_FIFO_MAX_QUEUES];

long fifo_init_control(void *page, uint32_t offset, uint32_t vcpu,
                       uint8_t *link_bits)
{
    struct evtchn_init_control op = {
        .control_gfn = (uint32_t)page >> 12, .offset = offset, .vcpu = vcpu,
    };
    long rc;
    unsigned int i;

    rc = event_channel_op(EVTCHNOP_init_control, &op);
    if (link_bits)
        *link_bits = op.link_bits;
    if (rc == 0 && vcpu == 0) {
        fifo_control = (volatile void *)((uint8_t *)page + offset);
        for (i = 0; i < EVTCHN_FIFO_MAX_QUEUES; i++)
            local_head[i] = 0;
    }
    return rc;
}

long fifo_expand_array(void *page)
{
    struct evtchn_expand_array op = { .array_gfn = (uint32_t)page >> 12 };
    long rc;

    if (array_pages >= MAX_ARRAY_PAGES)
        return -XEN_ENOSPC;
    rc = event_channel_op(EVTCHNOP_expand_array, &op);
    if (rc == 0)
        array[array_pages++] = page;
    return rc;
}

unsigned int fifo_array_pages(void)
{
    return array_pages;
}

void fifo_forget(void)
{
    unsigned int i;

    fifo_control = NULL;
    array_pages = 0;
    for (i = 0; i < EVTCHN_FIFO_MAX_QUEUES; i++)
        local_head[i] = 0;
}

volatile uint32_t *fifo_word(uint32_t port)
{
    uint32_t page = port / EVTCHN_FIFO_WORDS_PER_PAGE;

    if (page >= array_pages)
        return NULL;
    return array[page] + port % EVTCHN_FIFO_WORDS_PER_PAGE;
}

long fifo_set_priority(uint32_t port, uint32_t priority)
{
    struct evtchn_set_priority op = { .port = port, .priority = priority };

    return event_channel_op(EVTCHNOP_set_priority, &op);
}

long evtchn_unmask_op(uint32_t port)
{
    struct evtchn_unmask op = { .port = port };

    return event_channel_op(EVTCHNOP_unmask, &op);
}

long evtchn_bind_ipi(uint32_t vcpu, uint32_t *port)
{
    struct evtchn_bind_ipi op = { .vcpu = vcpu };
    long rc = event_channel_op(EVTCHNOP_bind_ipi, &op);

    if (rc == 0 && port)
        *port = op.port;
    return rc;
}

long evtchn_reset_self(void)
{
    struct evtchn_reset op = { .dom = DOMID_SELF };

    return event_channel_op(EVTCHNOP_reset, &op);
}

void fifo_mask(uint32_t port)
{
    volatile uint32_t *w = fifo_word(port);

    if (w)
        __atomic_fetch_or(w, FIFO_BIT(MASKED), __ATOMIC_SEQ_CST);
}

/* Linux's clear_masked_cond(): false when the event is pending (the
 * hypervisor must unmask it, to link it), true once MASKED is clear. */
static int clear_masked_cond(volatile uint32_t *word)
{
    uint32_t w = *word, old;

    for (;;) {
        if (!(w & FIFO_BIT(MASKED)))
            return 1;
        if (w & FIFO_BIT(PENDING))
            return 0;
        old = w & ~FIFO_BIT(BUSY);
        if (__atomic_compare_exchange_n(word, &old, old & ~FIFO_BIT(MASKED), 0,
                                        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            return 1;
        w = old;
    }
}

void fifo_unmask(uint32_t port)
{
    volatile uint32_t *w = fifo_word(port);

    if (!w || !clear_masked_cond(w))
        evtchn_unmask_op(port);
}

/* Linux's clear_linked(): clears LINKED and LINK in one step and returns
 * the LINK that was there (the next event of the queue, 0 at the end). */
static uint32_t clear_linked(volatile uint32_t *word)
{
    uint32_t w = *word;

    while (!__atomic_compare_exchange_n(word, &w,
                                        w & ~(FIFO_BIT(LINKED) | EVTCHN_FIFO_LINK_MASK),
                                        0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        ;
    return w & EVTCHN_FIFO_LINK_MASK;
}

unsigned int fifo_consume(struct fifo_event *out, unsigned int max,
                          unsigned int limit)
{
    uint32_t ready, head, port, w;
    volatile uint32_t *word;
    unsigned int handled = 0, steps = 0, q;

    if (!fifo_control)
        return 0;
    ready = __atomic_exchange_n(&fifo_control->ready, 0, __ATOMIC_SEQ_CST);
    while (ready && steps++ < limit) {
        q = __builtin_ctz(ready);           /* lowest bit: highest priority */
        /* consume_one_event() */
        head = local_head[q];
        if (head == 0) {
            barrier();
            head = fifo_control->head[q];
        }
        port = head;
        word = fifo_word(port);
        if (port == 0 || !word) {
            /* A ready bit with no usable head: nothing to walk. */
            printf("INFO fifo_consume: queue %u names port %u (no event word)\n", q, port);
            ready &= ~(1u << q);
            local_head[q] = 0;
            continue;
        }
        head = clear_linked(word);
        if (head == 0)
            ready &= ~(1u << q);
        w = *word;
        if ((w & FIFO_BIT(PENDING)) && !(w & FIFO_BIT(MASKED))) {
            /* "Handle" it: the irq chip's ack clears PENDING. */
            __atomic_fetch_and(word, ~FIFO_BIT(PENDING), __ATOMIC_SEQ_CST);
            if (handled < max) {
                out[handled].port = port;
                out[handled].priority = q;
            }
            handled++;
        }
        local_head[q] = head;
        ready |= __atomic_exchange_n(&fifo_control->ready, 0, __ATOMIC_SEQ_CST);
    }
    if (ready)  /* out of steps: leave the rest for the next call */
        __atomic_fetch_or(&fifo_control->ready, ready, __ATOMIC_SEQ_CST);
    return handled;
}
