/* Prints one line, then triple-faults: #UD with a zero-limit IDT. */
#include "guest.h"

int guest_main(const struct hvm_start_info *si)
{
    static const struct {
        uint16_t limit;
        uint32_t base;
    } __attribute__((packed)) empty_idt = { 0, 0 };

    printf("triple-fault: loading an empty IDT and executing ud2\n");
    asm volatile("lidt %0; ud2" :: "m"(empty_idt));
    for (;;)
        ;
}
