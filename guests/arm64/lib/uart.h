/*
 * The SBSA generic UART (a PL011 subset) Xen emulates for guests (vpl011) at GUEST_PL011_BASE.
 * Transmitting is polled: wait while UARTFR.TXFF says the FIFO is full, then write UARTDR.
 * The guests never enable its interrupt (SPI 32).
 */
#ifndef UART_H
#define UART_H

#define UART_BASE 0x22000000ul
#define UARTDR    0x00
#define UARTFR    0x18
#define UARTFR_TXFF (1u << 5)

void uart_putc(char c);

#endif
