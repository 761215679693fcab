/* Heap by owner for zdc-perf's scale case: which library holds the bytes of an idle peer.
 *
 * zdc-perf's own malloc, calloc, realloc and free (this file, in the executable, so they take
 * the place of libc's for every library in the process) forward to glibc's __libc_* functions
 * and, only between perf_heap_start() and perf_heap_stop(), remember each block allocated and
 * who asked for it: the caller's return address falls in the main executable (zdc, linked
 * statically into zdc-perf), libcrypto/libssl (OpenSSL: its allocations all go through
 * CRYPTO_malloc in libcrypto), libusrsctp (SCTP), or elsewhere (libc on anyone's behalf, e.g.
 * strdup; liburing; the dynamic loader). Outside that window the only cost is one branch.
 * Blocks freed in the window are forgotten; blocks allocated before it are not counted, so the
 * result is "live bytes allocated since start, by owner": run it around the peers' creation.
 *
 * Bytes are those asked for (malloc's argument), not the allocator's chunk sizes: the RSS
 * figure next to it includes the allocator's overhead and fragmentation.
 *
 * Only in builds without sanitizers (they replace malloc themselves): ZDC_PERF_HEAP_OWNERS. */
#include "heap.h"

#include <stdlib.h>
#include <string.h>

#ifdef ZDC_PERF_HEAP_OWNERS
#include <link.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

typedef struct range {
    uintptr_t lo, hi;
    int owner;
} range;

typedef struct slot {
    uintptr_t p; /* 0: empty */
    uint32_t size;
    uint32_t owner;
} slot;

static atomic_int on;
static atomic_flag lock = ATOMIC_FLAG_INIT;
static range ranges[64];
static int n_ranges;
static slot *table;
static size_t table_cap; /* power of two */
static size_t table_used;
static perf_heap_owners totals;
static uint64_t lost; /* blocks not tracked because the table was full */

static int owner_of(uintptr_t ra)
{
    for (int i = 0; i < n_ranges; i++)
        if (ra >= ranges[i].lo && ra < ranges[i].hi)
            return ranges[i].owner;
    return PERF_HEAP_OTHER;
}

static size_t hash(uintptr_t p)
{
    return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull);
}

static void take(void *p, size_t size, uintptr_t ra)
{
    if (!p)
        return;
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        ;
    if (!atomic_load_explicit(&on, memory_order_relaxed)) {
        /* stopped meanwhile */
    } else if (table_used < table_cap / 2) {
        int o = owner_of(ra);
        size_t m = table_cap - 1, i = hash((uintptr_t)p) & m;
        while (table[i].p != 0)
            i = (i + 1) & m;
        table[i] =
            (slot){(uintptr_t)p, size > UINT32_MAX ? UINT32_MAX : (uint32_t)size, (uint32_t)o};
        table_used++;
        totals.bytes[o] += size;
        totals.blocks[o]++;
    } else {
        lost++;
    }
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

/* Linear probing with backward-shift deletion: no tombstones, so a table that sees millions
 * of short-lived blocks (a packet's) never fills up with them. */
static void forget(void *p)
{
    if (!p)
        return;
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        ;
    if (atomic_load_explicit(&on, memory_order_relaxed)) {
        size_t m = table_cap - 1, i = hash((uintptr_t)p) & m;
        while (table[i].p != 0 && table[i].p != (uintptr_t)p)
            i = (i + 1) & m;
        if (table[i].p != 0) {
            totals.bytes[table[i].owner] -= table[i].size;
            totals.blocks[table[i].owner]--;
            table_used--;
            for (size_t j = (i + 1) & m; table[j].p != 0; j = (j + 1) & m) {
                size_t home = hash(table[j].p) & m;
                /* Move j back into the hole at i unless its home lies in (i, j]. */
                bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
                if (!stays) {
                    table[i] = table[j];
                    i = j;
                }
            }
            table[i].p = 0;
        }
    }
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (atomic_load_explicit(&on, memory_order_relaxed))
        take(p, n, (uintptr_t)__builtin_return_address(0));
    return p;
}

void *calloc(size_t a, size_t b)
{
    void *p = __libc_calloc(a, b);
    if (atomic_load_explicit(&on, memory_order_relaxed))
        take(p, a * b, (uintptr_t)__builtin_return_address(0));
    return p;
}

void *realloc(void *old, size_t n)
{
    if (atomic_load_explicit(&on, memory_order_relaxed))
        forget(old);
    void *p = __libc_realloc(old, n);
    if (atomic_load_explicit(&on, memory_order_relaxed))
        take(p, n, (uintptr_t)__builtin_return_address(0));
    return p;
}

void free(void *p)
{
    if (atomic_load_explicit(&on, memory_order_relaxed))
        forget(p);
    __libc_free(p);
}

static int add_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    (void)arg;
    const char *name = info->dlpi_name;
    int owner;
    if (!name || !*name)
        owner = PERF_HEAP_ZDC; /* the main executable: zdc is linked into zdc-perf */
    else if (strstr(name, "libcrypto") || strstr(name, "libssl"))
        owner = PERF_HEAP_OPENSSL;
    else if (strstr(name, "libusrsctp"))
        owner = PERF_HEAP_SCTP;
    else
        return 0;
    for (int i = 0; i < info->dlpi_phnum && n_ranges < 64; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        ranges[n_ranges++] = (range){lo, lo + ph->p_memsz, owner};
    }
    return 0;
}

bool perf_heap_available(void)
{
    return true;
}

int perf_heap_start(size_t max_blocks)
{
    perf_heap_stop();
    n_ranges = 0;
    dl_iterate_phdr(add_object, NULL);
    size_t cap = 1024;
    while (cap < 2 * max_blocks)
        cap *= 2;
    void *t =
        mmap(NULL, cap * sizeof(slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED)
        return -1;
    table = t;
    table_cap = cap;
    table_used = 0;
    lost = 0;
    memset(&totals, 0, sizeof totals);
    atomic_store(&on, 1);
    return 0;
}

void perf_heap_read(perf_heap_owners *out)
{
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        ;
    *out = totals;
    out->untracked_blocks = lost;
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

void perf_heap_stop(void)
{
    while (atomic_flag_test_and_set_explicit(&lock, memory_order_acquire))
        ;
    atomic_store(&on, 0);
    if (table)
        munmap(table, table_cap * sizeof(slot));
    table = NULL;
    table_cap = 0;
    atomic_flag_clear_explicit(&lock, memory_order_release);
}

#else /* sanitizer builds: no interposition */

bool perf_heap_available(void)
{
    return false;
}

int perf_heap_start(size_t max_blocks)
{
    (void)max_blocks;
    return -1;
}

void perf_heap_read(perf_heap_owners *out)
{
    memset(out, 0, sizeof *out);
}

void perf_heap_stop(void) {}

#endif
