/*
 * Baseline for the hypercall_roundtrip benchmark: the smallest possible C VMM on /dev/kvm.
 * It runs, at CPL0 in 32-bit flat protected mode, exactly the guest loop XenSharp's benchmark
 * guest runs (call a stub: mov eax, 17; out 0x9e, al; ret; dec esi; jnz), and re-enters the
 * guest on every I/O exit without doing anything else. Prints the median, min and max
 * microseconds per exit over the given rounds as "median min max".
 * Usage: kvm_out_loop ITERATIONS ROUNDS
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int iterations = argc > 1 ? atoi(argv[1]) : 2000;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) { perror("/dev/kvm"); return 1; }
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    size_t mem_size = 4 << 20;
    uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uintptr_t)mem };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { perror("region"); return 1; }

    /* Stub at 0x2000: mov eax, 17; out 0x9e, al; ret */
    uint8_t stub[] = { 0xb8, 17, 0, 0, 0, 0xe6, 0x9e, 0xc3 };
    memcpy(mem + 0x2000, stub, sizeof stub);
    /* Loop at 0x1000: mov esp, 0x8000; mov esi, N; L: xor ebx, ebx; call 0x2000; dec esi; jnz L; hlt */
    uint8_t code[64];
    int n = 0;
    code[n++] = 0xbc; *(uint32_t *)(code + n) = 0x8000; n += 4;
    code[n++] = 0xbe; *(uint32_t *)(code + n) = (uint32_t)iterations; n += 4;
    int loop = n;
    code[n++] = 0x31; code[n++] = 0xdb;
    code[n++] = 0xe8; *(int32_t *)(code + n) = 0x2000 - (0x1000 + n + 4); n += 4;
    code[n++] = 0x4e;
    code[n++] = 0x75; code[n] = (uint8_t)(loop - (n + 1)); n++;
    code[n++] = 0xf4;
    memcpy(mem + 0x1000, code, n);

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + 256 * sizeof(struct kvm_cpuid_entry2));
    cpuid->nent = 256;
    ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid);
    ioctl(vcpu, KVM_SET_CPUID2, cpuid);

    double *per_exit = calloc(rounds, sizeof(double));
    for (int r = 0; r < rounds; r++) {
        struct kvm_sregs s;
        ioctl(vcpu, KVM_GET_SREGS, &s);
        struct kvm_segment cs = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb, .present = 1, .db = 1, .s = 1, .g = 1 };
        struct kvm_segment ds = cs; ds.selector = 0x18; ds.type = 0x3;
        s.cs = cs; s.ds = s.es = s.fs = s.gs = s.ss = ds;
        s.cr0 = 0x11; s.cr4 = 0; s.efer = 0;
        ioctl(vcpu, KVM_SET_SREGS, &s);
        struct kvm_regs regs = { .rip = 0x1000, .rflags = 2 };
        ioctl(vcpu, KVM_SET_REGS, &regs);
        int exits = 0;
        double start = now_us();
        for (;;) {
            if (ioctl(vcpu, KVM_RUN, 0) < 0) { perror("KVM_RUN"); return 1; }
            if (run->exit_reason == KVM_EXIT_IO) { exits++; continue; }
            if (run->exit_reason == KVM_EXIT_HLT) break;
            fprintf(stderr, "unexpected exit %u\n", run->exit_reason);
            return 1;
        }
        per_exit[r] = (now_us() - start) / exits;
    }
    qsort(per_exit, rounds, sizeof(double), cmp);
    printf("%.3f %.3f %.3f\n", per_exit[rounds / 2], per_exit[0], per_exit[rounds - 1]);
    return 0;
}
