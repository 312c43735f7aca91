/* a64_mips benchmark guest: a compute-bound loop of ordinary -O2 C (integer arithmetic, array
   loads and stores, data-dependent branches) over a few KiB, repeated bench_repetitions times
   (start.S; the harness patches it). At the end it prints a checksum on the PL011 data register
   of QEMU's virt board (0x09000000) so two CPUs running it can be compared, and start.S powers
   off with PSCI SYSTEM_OFF. The pieces are kept out of line so calls and returns, stack frames
   and loop setup are part of the mix, as in real programs. */

#define WORDS 1024
#define SORTED 192
#define SIEVE 8192

typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned char u8;

extern volatile u64 bench_repetitions;

static u32 data[WORDS];
static u32 sorted[SORTED];
static u8 sieve[SIEVE];
static u32 histogram[256];
static u32 seed;

static u32 next(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

__attribute__((noinline)) static void fill(u32 *a, int n)
{
	for (int i = 0; i < n; i++)
		a[i] = next() & 0xFFFFF;
}

/* A checksum with a data-dependent branch per word. */
__attribute__((noinline)) static u64 checksum(const u32 *a, int n)
{
	u64 x = 1, y = 0;
	for (int i = 0; i < n; i++) {
		u32 v = a[i];
		if (v & 1)
			x += v;
		else
			x ^= (u64)v << 3;
		y += x;
	}
	return x ^ (y << 1);
}

__attribute__((noinline)) static void insertion_sort(u32 *a, int n)
{
	for (int i = 1; i < n; i++) {
		u32 v = a[i];
		int j = i - 1;
		while (j >= 0 && a[j] > v) {
			a[j + 1] = a[j];
			j--;
		}
		a[j + 1] = v;
	}
}

__attribute__((noinline)) static u32 count_primes(void)
{
	for (int i = 0; i < SIEVE; i++)
		sieve[i] = 1;
	sieve[0] = sieve[1] = 0;
	for (int i = 2; i * i < SIEVE; i++)
		if (sieve[i])
			for (int j = i * i; j < SIEVE; j += i)
				sieve[j] = 0;
	u32 count = 0;
	for (int i = 0; i < SIEVE; i++)
		count += sieve[i];
	return count;
}

/* Byte histogram of the words, then a weighted sum of it. */
__attribute__((noinline)) static u64 byte_histogram(const u32 *a, int n)
{
	for (int i = 0; i < 256; i++)
		histogram[i] = 0;
	const u8 *bytes = (const u8 *)a;
	for (int i = 0; i < n * 4; i++)
		histogram[bytes[i]]++;
	u64 s = 0;
	for (int i = 0; i < 256; i++)
		s = s * 31 + histogram[i] * (u32)(i + 1);
	return s;
}

static void putc_(char c)
{
	*(volatile u32 *)0x09000000 = (u8)c;
}

static void print_hex(const char *label, u64 v)
{
	while (*label)
		putc_(*label++);
	for (int i = 60; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 15]);
	putc_('\n');
}

void main(void)
{
	u64 reps = bench_repetitions, sum = 0;
	for (u64 r = 0; r < reps; r++) {
		seed = 0x12345678u ^ (u32)r;
		fill(data, WORDS);
		sum = sum * 3 + checksum(data, WORDS);
		for (int i = 0; i < SORTED; i++)
			sorted[i] = data[(i * 5 + (int)r) & (WORDS - 1)];
		insertion_sort(sorted, SORTED);
		sum += sorted[r % SORTED] ^ sorted[SORTED / 2];
		sum += byte_histogram(data, WORDS);
		if ((r & 3) == 0)
			sum += count_primes();
	}
	print_hex("a64_mips checksum ", sum);
	print_hex("a64_mips repetitions ", reps);
}
