#include "gic.h"
#include "its.h"
#include "test.h"
#include "timer.h"

#define ITS_PAGE        4096
#define ITS_TIMEOUT_US  100000

#define GITS_CTLR_ENABLED   (1u << 0)
#define GITS_TYPER_PTA      (1ul << 19)
#define GITS_BASER_VALID    (1ul << 63)
#define GITS_BASER_TYPE(v)  ((unsigned)((v) >> 56) & 7)
#define GITS_BASER_TYPE_DEVICES     1
#define GITS_BASER_TYPE_COLLECTIONS 4
#define GITS_CBASER_VALID   (1ul << 63)

#define ITS_CMD_INT   0x03
#define ITS_CMD_SYNC  0x05
#define ITS_CMD_MAPD  0x08
#define ITS_CMD_MAPC  0x09
#define ITS_CMD_MAPTI 0x0A
#define ITS_CMD_INV   0x0C

/*
 * One 4 KiB page each: flat tables (GITS_BASERn.Size = 0) that hold at least 128 entries (an
 * entry is at most 32 bytes), plenty for device 0 and collection 0; a queue of 128 commands.
 */
static uint64_t device_table[ITS_PAGE / 8] __attribute__((aligned(ITS_PAGE)));
static uint64_t collection_table[ITS_PAGE / 8] __attribute__((aligned(ITS_PAGE)));
static uint64_t command_queue[ITS_PAGE / 8] __attribute__((aligned(ITS_PAGE)));
static uint64_t cwriter;

static uint64_t its_read(unsigned reg) { return mmio_read64(ITS_BASE + reg); }
static void its_write(unsigned reg, uint64_t v) { mmio_write64(ITS_BASE + reg, v); }

uint64_t its_device_limit(void) { return 1ul << (((its_read(GITS_TYPER) >> 13) & 0x1F) + 1); }

uint64_t its_itt_size(unsigned event_bits)
{
	return (((its_read(GITS_TYPER) >> 4) & 0xF) + 1) << event_bits;
}

void its_init(void)
{
	for (unsigned n = 0; n < 8; n++) {
		uint64_t baser = its_read(GITS_BASER(n));
		uint64_t *table;
		switch (GITS_BASER_TYPE(baser)) {
		case GITS_BASER_TYPE_DEVICES: table = device_table; break;
		case GITS_BASER_TYPE_COLLECTIONS: table = collection_table; break;
		default: continue;
		}
		/* Valid, physical address, 4 KiB pages (Page_Size 0), one page (Size 0), flat. */
		its_write(GITS_BASER(n), GITS_BASER_VALID | (uintptr_t)table);
	}
	its_write(GITS_CBASER, GITS_CBASER_VALID | (uintptr_t)command_queue);	/* Size 0: one page */
	its_write(GITS_CWRITER, 0);
	mmio_write32(ITS_BASE + GITS_CTLR, mmio_read32(ITS_BASE + GITS_CTLR) | GITS_CTLR_ENABLED);
}

/* Queues one command and tells the ITS; waits first if the queue is full. */
static void its_send(uint64_t dw0, uint64_t dw1, uint64_t dw2)
{
	uint64_t next = (cwriter + 32) % sizeof(command_queue);
	uint64_t deadline = timer_deadline(ITS_TIMEOUT_US);
	while (its_read(GITS_CREADR) == next) {
		if (timer_passed(deadline))
			test_fail("the ITS command queue stays full (GITS_CREADR 0x%lx)", next);
		cpu_relax();
	}
	uint64_t *cmd = &command_queue[cwriter / 8];
	cmd[0] = dw0;
	cmd[1] = dw1;
	cmd[2] = dw2;
	cmd[3] = 0;
	cwriter = next;
	asm volatile("dsb sy" : : : "memory");	/* the command is in memory before CWRITER moves */
	its_write(GITS_CWRITER, cwriter);
}

static uint64_t redistributor_id(unsigned cpu)
{
	return its_read(GITS_TYPER) & GITS_TYPER_PTA ? gic_redistributor(cpu) >> 16 : cpu;
}

static uint64_t device_event(uint8_t command, uint32_t device) { return command | (uint64_t)device << 32; }

void its_mapd(uint32_t device, unsigned event_bits, const void *itt)
{
	its_send(device_event(ITS_CMD_MAPD, device), event_bits - 1,
		 1ul << 63 | ((uintptr_t)itt & 0xFFFFFFFFFFF00ul));
}

void its_mapc(uint16_t collection, unsigned cpu)
{
	its_send(ITS_CMD_MAPC, 0, 1ul << 63 | redistributor_id(cpu) << 16 | collection);
}

void its_mapti(uint32_t device, uint32_t event, uint32_t lpi, uint16_t collection)
{
	its_send(device_event(ITS_CMD_MAPTI, device), (uint64_t)lpi << 32 | event, collection);
}

void its_int(uint32_t device, uint32_t event) { its_send(device_event(ITS_CMD_INT, device), event, 0); }
void its_inv(uint32_t device, uint32_t event) { its_send(device_event(ITS_CMD_INV, device), event, 0); }
void its_sync(unsigned cpu) { its_send(ITS_CMD_SYNC, 0, redistributor_id(cpu) << 16); }

bool its_queue_empty(void) { return its_read(GITS_CREADR) == cwriter; }

void its_translate(uint32_t event) { mmio_write32(ITS_BASE + GITS_TRANSLATER, event); }
