/*
 * console-echo: reads lines from the PV console's input ring and echoes each
 * back as "echo: LINE"; powers off on the line "quit".  A line ends at '\n'
 * or '\r' (a terminal in raw mode sends '\r' for Enter); empty lines are
 * skipped.  Output goes to the ring (and console_io), so `xl console` shows
 * it.  Waits for input with SCHEDOP_poll on the console event channel.
 */
#include "guest.h"

#define LINE_MAX 256

int guest_main(const struct hvm_start_info *si)
{
    char line[LINE_MAX], buf[64];
    unsigned int len = 0, lines = 0;
    uint32_t port;
    long rc;

    (void)si;
    rc = evtchn_init();
    port = console_ring_port();
    if (rc != 0 || port == 0) {
        printf("console-echo: no console ring or event channels (%ld)\n", rc);
        return 1;
    }
    printf("console-echo: ready\n");
    for (;;) {
        int n = console_read(buf, sizeof(buf));

        if (n < 0)
            return 1;
        if (n == 0) {
            /* The backend notifies the port after moving in_prod; the
             * timeout is only a safety net. */
            evtchn_wait(port, 1000000000ull);
            continue;
        }
        for (int i = 0; i < n; i++) {
            char c = buf[i];

            if (c != '\n' && c != '\r') {
                if (len < LINE_MAX - 1)
                    line[len++] = c;
                continue;
            }
            if (len == 0)
                continue;
            line[len] = '\0';
            len = 0;
            lines++;
            if (strcmp(line, "quit") == 0) {
                printf("console-echo: quit after %u lines\n", lines);
                return 0;
            }
            printf("echo: %s\n", line);
        }
    }
}
