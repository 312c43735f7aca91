/*
 * Test results for the test guests: PASS/FAIL/SKIP lines, the counters and the summary line
 * "<guest>: P passed, F failed" that the integration tests read.
 */
#include "guest.h"
#include <stdarg.h>

const char *test_guest = "test";
const char *test_suffix = "";
unsigned int tests_passed, tests_failed;

void check(const char *name, int ok, const char *fmt, ...)
{
    char why[256];
    va_list ap;

    if (ok) {
        tests_passed++;
        printf("PASS %s%s\n", name, test_suffix);
        return;
    }
    tests_failed++;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    printf("FAIL %s%s: %s\n", name, test_suffix, why);
}

void skip(const char *name, const char *why)
{
    printf("SKIP %s%s: %s\n", name, test_suffix, why);
}

int test_summary(void)
{
    printf("%s: %u passed, %u failed\n", test_guest, tests_passed, tests_failed);
    return tests_failed != 0;
}

void test_abort(const char *fmt, ...)
{
    char why[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    tests_failed++;
    printf("FAIL %s\n", why);
    test_summary();
    shutdown(SHUTDOWN_crash);
}
