#include "uart.h"
#include "cpu.h"

void uart_putc(char c)
{
	while (mmio_read32(UART_BASE + UARTFR) & UARTFR_TXFF)
		cpu_relax();
	mmio_write32(UART_BASE + UARTDR, (uint8_t)c);
}
