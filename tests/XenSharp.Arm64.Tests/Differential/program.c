/* Differential test program: freestanding, integer only, Linux syscalls write/exit.
   Built with aarch64-linux-gnu-gcc -O2 and run under qemu-aarch64 and XenSharp's CPU; outputs must match. */
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;
typedef int i32;

static long sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}

static char buf[4096];
static int len;

static void flush(void) { sys3(64, 1, (long)buf, len); len = 0; }
static void putc_(char c) { buf[len++] = c; if (len == sizeof buf) flush(); }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void hex(u64 v) { puts_(" "); for (int i = 60; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]); }
static void line(const char *name, u64 v) { puts_(name); hex(v); putc_('\n'); }

static u64 state = 0x123456789abcdef1ul;
static u64 rnd(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; }

static i64 values[64];
static u32 words[64];

static void sort(i64 *a, int n)
{
    for (int i = 1; i < n; i++) { i64 v = a[i]; int j = i - 1; while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; }
}

__attribute__((noinline)) static u64 mix(u64 a, u64 b, int k)
{
    u64 r = 0;
    r += a * b;
    r ^= (u64)((unsigned __int128)a * b >> 64);
    r += (u64)((__int128)(i64)a * (i64)b >> 64);
    r ^= b ? a / b : 0;
    r += (i64)b ? (u64)((i64)a / ((i64)b | 1)) : 0;
    r ^= a % (b | 1);
    r += __builtin_clzl(a | 1) + __builtin_ctzl(b | 1) + __builtin_popcountl(a);
    r ^= __builtin_bswap64(a) >> (k & 63);
    r += (a >> (k & 63)) | (a << ((64 - k) & 63));
    r ^= (u64)((i64)a >> (k & 63));
    r += (u32)a * (u32)b + (i32)a / ((i32)b | 1);
    r ^= (a & 0xff00) >> 8 | (b & 0xf) << 60;
    r += a < b ? 1 : a == b ? 2 : 3;
    r += (i64)a < (i64)b ? 5 : 7;
    return r;
}

void _start(void)
{
    u64 acc = 0;
    for (int i = 0; i < 64; i++) { values[i] = (i64)rnd(); words[i] = (u32)rnd(); }
    for (int i = 0; i < 2000; i++) acc = acc * 31 + mix(rnd(), rnd() >> (i & 31), i);
    line("mix", acc);
    sort(values, 64);
    u64 h = 1469598103934665603ul;
    for (int i = 0; i < 64; i++) { h ^= (u64)values[i]; h *= 1099511628211ul; }
    line("sorted", h);
    u32 w = 0;
    for (int i = 0; i < 64; i++) w = (w << 5 | w >> 27) ^ words[i] ^ (words[i] >> (i & 15));
    line("words", w);
    i64 edge = (i64)0x8000000000000000ul;
    volatile i64 m1 = -1, z = 0;
    line("div", (u64)(edge / m1) ^ (u64)(5 / (z | 1)));
    char text[64];
    for (int i = 0; i < 63; i++) text[i] = (char)('a' + (rnd() % 26));
    text[63] = 0;
    u64 cs = 0;
    for (int i = 0; text[i]; i++) cs = cs * 131 + (unsigned char)text[i];
    line("text", cs);
    flush();
    sys3(93, 0, 0, 0);
    for (;;) { }
}
