/* Prints one line, then asks Xen to shut the domain down as crashed. */
#include "guest.h"

int guest_main(const struct hvm_start_info *si)
{
    printf("crash: calling SCHEDOP_shutdown(SHUTDOWN_crash)\n");
    shutdown(SHUTDOWN_crash);
}
