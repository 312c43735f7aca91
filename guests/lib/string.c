/* The few string routines the guests (and gcc) need. */
#include "guest.h"

void *memset(void *s, int c, size_t n)
{
    unsigned char *p = s;

    while (n--)
        *p++ = (unsigned char)c;
    return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;

    while (n--)
        *dp++ = *sp++;
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *pa = a, *pb = b;

    for (; n; n--, pa++, pb++)
        if (*pa != *pb)
            return *pa - *pb;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;

    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;

    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    const unsigned char *pa = (const void *)a, *pb = (const void *)b;

    for (; *pa && *pa == *pb; pa++, pb++)
        ;
    return *pa - *pb;
}

char *strstr(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++)
        if (memcmp(hay, needle, n) == 0)
            return (char *)hay;
    return n ? NULL : (char *)hay;
}
