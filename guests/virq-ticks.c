/*
 * Checks the periodic timer: VIRQ_TIMER bound to a port, a 10 ms
 * VCPUOP_set_periodic_timer, and 50 ticks counted by polling the port
 * (SCHEDOP_poll, upcalls masked).  Then VCPUOP_stop_periodic_timer must
 * stop the ticks, and a period under 1 ms must give -EINVAL.
 *
 * Options: ticks=<n> (default 50), period-ms=<n> (default 10).
 *
 * Checks: the ticks arrive, the time they took is at least (ticks - 1)
 * periods (Xen may fire the first tick right away) and under ticks x 20
 * periods, no tick comes within 5 periods (at least 50 ms) after
 * stopping, and the errors (periods under 1 ms or over 2^62 - 1 ns, a
 * vCPU that doesn't exist).  Output as timer-test's, ending
 * "virq-ticks: <P> passed, <F> failed"; then SHUTDOWN_poweroff if F == 0,
 * otherwise SHUTDOWN_crash.
 */
#include "guest.h"

#define MS 1000000ull

static void check_rc(const char *name, long got, long want)
{
    check(name, got == want, "got %ld expected %ld", got, want);
}

int guest_main(const struct hvm_start_info *si)
{
    uint32_t port = 0, ticks, got = 0, period_ms, quiet_ms, limit_ms;
    uint64_t period, start, elapsed;
    long rc;

    cmdline_init(si);
    test_guest = "virq-ticks";
    ticks = cmdline_ull("ticks", 50);
    period_ms = cmdline_ull("period-ms", 10);
    period = period_ms * MS;
    limit_ms = 20 * period_ms + 1000;    /* for one tick */
    printf("virq-ticks: starting: %u ticks of %u ms\n", ticks, period_ms);
    if (!xen_cpuid_base)
        test_abort("no Xen CPUID leaves");
    if (ticks == 0 || period == 0)
        test_abort("options: ticks and period-ms must be nonzero");

    rc = evtchn_init();
    check_rc("shared-info-placed", rc, 0);
    if (rc != 0)
        return test_summary();

    rc = evtchn_bind_virq(VIRQ_TIMER, 0, &port);
    check("bind-virq-timer", rc == 0 && port != 0, "got rc %ld port %u", rc, port);
    if (rc != 0)
        return test_summary();
    printf("INFO VIRQ_TIMER is port %u\n", port);

    /* Errors first: nothing may be left running by them. */
    check_rc("period-under-1ms-einval", vcpu_set_periodic_timer(0, 999999), -XEN_EINVAL);
    check_rc("period-zero-einval", vcpu_set_periodic_timer(0, 0), -XEN_EINVAL);
    check_rc("periodic-timer-bad-vcpu", vcpu_set_periodic_timer(1000, period),
             -XEN_ENOENT);
    /* Xen refuses periods above STIME_DELTA_MAX (2^62 - 1 ns). */
    rc = vcpu_set_periodic_timer(0, 0x4000000000000000ull);
    check_rc("period-over-stime-delta-max-einval", rc, -XEN_EINVAL);
    if (rc == 0)
        vcpu_stop_periodic_timer(0);
    evtchn_clear(port);

    start = xen_now_ns();
    rc = vcpu_set_periodic_timer(0, period);
    check_rc("set-periodic-timer", rc, 0);
    if (rc != 0)
        return test_summary();
    while (got < ticks && evtchn_wait(port, limit_ms * MS))
        got++;
    elapsed = xen_now_ns() - start;
    printf("INFO %u ticks in %llu ns\n", got, elapsed);
    check("ticks-arrive", got == ticks, "got %u ticks expected %u (the last wait "
          "gave up after %u ms)", got, ticks, limit_ms);
    check("ticks-not-early", got < ticks || elapsed >= (ticks - 1) * period,
          "got %u ticks in %llu ns expected at least %llu ns", got, elapsed,
          (ticks - 1) * period);
    check("ticks-not-late", elapsed < ticks * period * 20,
          "got %llu ns expected under %llu ns", elapsed, ticks * period * 20);

    rc = vcpu_stop_periodic_timer(0);
    check_rc("stop-periodic-timer", rc, 0);
    evtchn_clear(port);
    quiet_ms = 5 * period_ms < 50 ? 50 : 5 * period_ms;
    check("stopped-timer-silent", !evtchn_wait(port, quiet_ms * MS),
          "got VIRQ_TIMER within %u ms after stopping", quiet_ms);
    check_rc("stop-again", vcpu_stop_periodic_timer(0), 0);
    return test_summary();
}
