#include "print.h"
#include "psci.h"
#include "test.h"

void test_log(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	print("%s: ", test_name);
	vprint(fmt, ap);
	print("\n");
	va_end(ap);
}

noreturn void test_pass(void)
{
	print("%s: PASS\n", test_name);
	psci_system_off();
}

noreturn void test_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	print("%s: FAIL: ", test_name);
	vprint(fmt, ap);
	print("\n");
	va_end(ap);
	psci_system_off();
}
