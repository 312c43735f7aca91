#include <stdbool.h>
#include <stdint.h>
#include "print.h"
#include "uart.h"

static void print_number(uint64_t v, unsigned base, bool negative, char pad, int width)
{
	char digits[20];
	int n = 0;
	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);
	width -= n + negative;
	if (negative && pad == '0')
		uart_putc('-');
	for (; width > 0; width--)
		uart_putc(pad);
	if (negative && pad != '0')
		uart_putc('-');
	while (n > 0)
		uart_putc(digits[--n]);
}

void vprint(const char *fmt, va_list ap)
{
	for (; *fmt != '\0'; fmt++) {
		if (*fmt != '%') {
			uart_putc(*fmt);
			continue;
		}
		char pad = ' ';
		int width = 0;
		bool is_long = false;
		if (*++fmt == '0') {
			pad = '0';
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		if (*fmt == 'l') {
			is_long = true;
			fmt++;
		}
		switch (*fmt) {
		case 'd': {
			int64_t v = is_long ? va_arg(ap, long) : va_arg(ap, int);
			print_number(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0, pad, width);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned int);
			print_number(v, *fmt == 'u' ? 10 : 16, false, pad, width);
			break;
		}
		case 'c':
			uart_putc((char)va_arg(ap, int));
			break;
		case 's':
			for (const char *s = va_arg(ap, const char *); *s != '\0'; s++)
				uart_putc(*s);
			break;
		case '%':
			uart_putc('%');
			break;
		default:	/* a conversion this printf lacks: show it as written */
			if (*fmt == '\0')
				return;
			uart_putc('%');
			uart_putc(*fmt);
		}
	}
}

void print(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}
