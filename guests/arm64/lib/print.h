/*
 * A small printf to the UART: %s, %c, %d, %u, %x, each with an optional 'l' (64-bit) length,
 * a '0' flag and a field width (so "%08lx"), and %%. Lines end in "\n" alone.
 */
#ifndef PRINT_H
#define PRINT_H

#include <stdarg.h>

void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprint(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

#endif
