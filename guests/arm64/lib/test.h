/*
 * How a guest reports. Every line it prints starts with its name; the last one is exactly
 * "<name>: PASS" or "<name>: FAIL: <reason>", after which the guest powers the domain off
 * (PSCI SYSTEM_OFF).
 *
 * A guest defines test_name and test_main(dtb), which start.S calls on vCPU 0 with x0 from
 * entry (the device tree's address). Returning from test_main means every check passed.
 */
#ifndef TEST_H
#define TEST_H

#include <stdint.h>
#include <stdnoreturn.h>

extern const char test_name[];

void test_main(uint64_t dtb);

/* Prints "<name>: <message>\n". */
void test_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

noreturn void test_pass(void);
noreturn void test_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
