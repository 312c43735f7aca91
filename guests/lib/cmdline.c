/*
 * The kernel command line from hvm_start_info.cmdline_paddr (xl.cfg
 * `cmdline = "..."`), copied once so later code may reuse low memory.
 * Options are space-separated `key=value` words.
 */
#include "guest.h"

static char line[1024];

void cmdline_init(const struct hvm_start_info *si)
{
    const char *src;
    size_t n;

    line[0] = '\0';
    if (!si || si->magic != XEN_HVM_START_MAGIC_VALUE || !si->cmdline_paddr ||
        si->cmdline_paddr >= (1ull << 32))
        return;
    src = (const char *)(uint32_t)si->cmdline_paddr;
    n = strnlen(src, sizeof(line) - 1);
    memcpy(line, src, n);
    line[n] = '\0';
}

const char *cmdline(void)
{
    return line;
}

/* The value of the first "key=" that starts a word, or NULL. */
static const char *find(const char *key)
{
    size_t klen = strlen(key);
    const char *p = line;

    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (memcmp(p, key, klen) == 0 && p[klen] == '=')
            return p + klen + 1;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    return NULL;
}

int cmdline_str(const char *key, char *buf, size_t size)
{
    const char *v = find(key);
    size_t n = 0;

    if (!v)
        return -1;
    while (v[n] && v[n] != ' ' && v[n] != '\t')
        n++;
    if (buf && size) {
        size_t m = n < size - 1 ? n : size - 1;

        memcpy(buf, v, m);
        buf[m] = '\0';
    }
    return (int)n;
}

unsigned long long cmdline_ull(const char *key, unsigned long long dflt)
{
    const char *v = find(key);
    unsigned long long x = 0;
    unsigned int base = 10, digits = 0;

    if (!v)
        return dflt;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
    }
    for (;; v++, digits++) {
        unsigned int d;

        if (*v >= '0' && *v <= '9')
            d = *v - '0';
        else if (base == 16 && *v >= 'a' && *v <= 'f')
            d = *v - 'a' + 10;
        else if (base == 16 && *v >= 'A' && *v <= 'F')
            d = *v - 'A' + 10;
        else
            break;
        x = base == 16 ? (x << 4) | d : (x << 3) + (x << 1) + d;
    }
    return digits ? x : dflt;
}
