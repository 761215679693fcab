/* Heap by owner (perf/heap.c): live bytes allocated while tracking, by the library that asked. */
#ifndef ZDC_PERF_HEAP_H
#define ZDC_PERF_HEAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { PERF_HEAP_ZDC, PERF_HEAP_OPENSSL, PERF_HEAP_SCTP, PERF_HEAP_OTHER, PERF_HEAP_OWNERS };

typedef struct perf_heap_owners {
    uint64_t bytes[PERF_HEAP_OWNERS];
    uint64_t blocks[PERF_HEAP_OWNERS];
    uint64_t untracked_blocks; /* allocated while the table was full (should be 0) */
} perf_heap_owners;

/* False in sanitizer builds, where the sanitizer owns malloc. */
bool perf_heap_available(void);
/* Starts tracking with room for max_blocks live blocks. 0, or -1 (unavailable, no memory). */
int perf_heap_start(size_t max_blocks);
void perf_heap_read(perf_heap_owners *out);
void perf_heap_stop(void);

#endif
