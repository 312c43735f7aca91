/* Prints one line, then spins forever (target for `xl destroy`). */
#include "guest.h"

int guest_main(const struct hvm_start_info *si)
{
    printf("spin: running\n");
    for (;;)
        asm volatile("pause");
}
