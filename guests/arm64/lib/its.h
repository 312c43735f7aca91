/*
 * The GICv3 Interrupt Translation Service XenSharp gives a guest at 0x04020000 (ARM IHI 0069,
 * chapters 5 and 6). A device's write of an EventID to GITS_TRANSLATER (in the second 64 KiB
 * frame) becomes an LPI: the ITS looks the DeviceID up in its device table to find the device's
 * Interrupt Translation Table (ITT), the EventID in the ITT to find the LPI and a collection,
 * and the collection in its collection table to find the target redistributor.
 *
 * The guest provides the memory: GITS_BASERn registers (their read-only Type field says which
 * table each is for: 1 devices, 4 collections) point at the device and collection tables, and
 * GITS_CBASER at a command queue. The guest fills the tables only through commands: it writes
 * 32-byte commands at GITS_CWRITER's offset in the queue and advances CWRITER; the ITS executes
 * them and advances GITS_CREADR. A command naming IDs the ITS cannot hold is dropped.
 *
 * Commands used (DeviceID in dw0[63:32], EventID in dw1[31:0]):
 *   MAPD   map a device to an ITT of 2^(dw1[4:0] + 1) events at dw2[51:8], Valid dw2[63]
 *   MAPC   map collection dw2[15:0] to redistributor dw2[50:16], Valid dw2[63]
 *   MAPTI  map (device, event) to LPI dw1[63:32] in collection dw2[15:0]
 *   INT    make (device, event)'s LPI pending, as a translated write would
 *   INV    reload (device, event)'s LPI configuration from the property table
 *   SYNC   wait until the effects of earlier commands on redistributor dw2[50:16] are visible
 * A redistributor is named by its vCPU number when GITS_TYPER.PTA is 0 (XenSharp), else by its
 * physical address >> 16.
 *
 * A write by the CPU to GITS_TRANSLATER has no device behind it: XenSharp translates it as
 * DeviceID 0, its "CPU device".
 */
#ifndef ITS_H
#define ITS_H

#include <stdbool.h>
#include <stdint.h>

#define ITS_BASE          0x04020000ul
#define GITS_CTLR         0x0000
#define GITS_TYPER        0x0008
#define GITS_CBASER       0x0080
#define GITS_CWRITER      0x0088
#define GITS_CREADR       0x0090
#define GITS_BASER(n)     (0x0100 + 8 * (n))
#define GITS_TRANSLATER   0x10040

#define ITS_CPU_DEVICE    0

/* Sets up the device and collection tables and the command queue, then enables the ITS. */
void its_init(void);

/* DeviceIDs the ITS supports: 2^(GITS_TYPER.Devbits + 1). */
uint64_t its_device_limit(void);

/* Bytes an ITT needs for 2^event_bits events (GITS_TYPER.ITT_entry_size per event). */
uint64_t its_itt_size(unsigned event_bits);

void its_mapd(uint32_t device, unsigned event_bits, const void *itt);
void its_mapc(uint16_t collection, unsigned cpu);
void its_mapti(uint32_t device, uint32_t event, uint32_t lpi, uint16_t collection);
void its_int(uint32_t device, uint32_t event);
void its_inv(uint32_t device, uint32_t event);
void its_sync(unsigned cpu);

/* Whether the ITS has consumed every command written (GITS_CREADR == GITS_CWRITER). */
bool its_queue_empty(void);

/* An MSI from the CPU: writes `event` to GITS_TRANSLATER. */
void its_translate(uint32_t event);

#endif
