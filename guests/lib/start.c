/* C entry point, called by _start (entry.S) on the boot stack. */
#include "guest.h"

void __attribute__((noreturn, used)) c_start(const struct hvm_start_info *si);

void c_start(const struct hvm_start_info *si)
{
    int rc;

    xen_init();
    rc = guest_main(si);
    shutdown(rc == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}
