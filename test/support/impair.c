#include "impair.h"

#include <stdlib.h>
#include <string.h>

#include "zdc/error.h"

typedef struct item {
    uint64_t due;
    uint64_t seq; /* push order: ties deliver first-in first-out */
    uint64_t tag;
    size_t len;
    uint8_t *data;
} item;

struct zdc_impair {
    zdc_impair_config cfg;
    uint64_t rng;
    uint64_t seq;
    item *heap;
    size_t n, cap;
    zdc_impair_stats stats;
};

zdc_impair_config zdc_impair_config_default(void)
{
    return (zdc_impair_config){
        .seed = 1, .reorder_delay_ns = 5000000, .max_queued = 4096, .max_size = 65536};
}

/* splitmix64: tiny, seedable, good enough to roll dice for a test link. */
static uint64_t next_rand(zdc_impair *l)
{
    uint64_t z = (l->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(zdc_impair *l)
{
    return (double)(next_rand(l) >> 11) * 0x1.0p-53;
}

static bool valid_prob(double p)
{
    return p >= 0.0 && p <= 1.0;
}

int zdc_impair_new(const zdc_impair_config *cfg, zdc_impair **out)
{
    if (!cfg || !out || !valid_prob(cfg->loss) || !valid_prob(cfg->duplicate) ||
        !valid_prob(cfg->reorder))
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_impair *l = calloc(1, sizeof *l);
    if (!l)
        return ZDC_ERR_NOMEM;
    l->cfg = *cfg;
    if (!l->cfg.max_queued)
        l->cfg.max_queued = 4096;
    if (!l->cfg.max_size)
        l->cfg.max_size = 65536;
    l->rng = cfg->seed;
    *out = l;
    return 0;
}

void zdc_impair_free(zdc_impair *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->heap[i].data);
    free(l->heap);
    free(l);
}

static bool before(const item *a, const item *b)
{
    return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void swap(item *a, item *b)
{
    item t = *a;
    *a = *b;
    *b = t;
}

static int heap_push(zdc_impair *l, item it)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        item *h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return ZDC_ERR_NOMEM;
        l->heap = h;
        l->cap = cap;
    }
    size_t i = l->n++;
    l->heap[i] = it;
    while (i > 0 && before(&l->heap[i], &l->heap[(i - 1) / 2])) {
        swap(&l->heap[i], &l->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    return 0;
}

static void heap_pop(zdc_impair *l)
{
    l->heap[0] = l->heap[--l->n];
    size_t i = 0;
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->n && before(&l->heap[a], &l->heap[m]))
            m = a;
        if (b < l->n && before(&l->heap[b], &l->heap[m]))
            m = b;
        if (m == i)
            break;
        swap(&l->heap[i], &l->heap[m]);
        i = m;
    }
}

static int enqueue(zdc_impair *l, const uint8_t *p, size_t len, uint64_t tag, uint64_t now)
{
    if (l->n >= l->cfg.max_queued) {
        l->stats.overflowed++;
        return 0;
    }
    uint64_t due = now + l->cfg.delay_ns;
    if (l->cfg.jitter_ns)
        due += next_rand(l) % (l->cfg.jitter_ns + 1);
    if (l->cfg.reorder > 0 && uniform(l) < l->cfg.reorder) {
        due += l->cfg.reorder_delay_ns;
        l->stats.reordered++;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return ZDC_ERR_NOMEM;
    if (len)
        memcpy(copy, p, len);
    int rv = heap_push(l, (item){due, l->seq++, tag, len, copy});
    if (rv != 0)
        free(copy);
    return rv;
}

int zdc_impair_push(zdc_impair *l, const uint8_t *p, size_t len, uint64_t tag, uint64_t now_ns)
{
    if (len > l->cfg.max_size)
        return ZDC_ERR_TOO_LARGE;
    l->stats.pushed++;
    if (l->cfg.loss > 0 && uniform(l) < l->cfg.loss) {
        l->stats.lost++;
        return 0;
    }
    int rv = enqueue(l, p, len, tag, now_ns);
    if (rv == 0 && l->cfg.duplicate > 0 && uniform(l) < l->cfg.duplicate) {
        l->stats.duplicated++;
        rv = enqueue(l, p, len, tag, now_ns);
    }
    return rv;
}

int zdc_impair_pop(zdc_impair *l, uint64_t now_ns, uint8_t *out, size_t cap, size_t *len,
                   uint64_t *tag)
{
    if (l->n == 0 || l->heap[0].due > now_ns)
        return 0;
    item *it = &l->heap[0];
    if (it->len > cap)
        return ZDC_ERR_BUFFER_TOO_SMALL;
    if (it->len)
        memcpy(out, it->data, it->len);
    *len = it->len;
    if (tag)
        *tag = it->tag;
    free(it->data);
    heap_pop(l);
    l->stats.delivered++;
    return 1;
}

uint64_t zdc_impair_next(const zdc_impair *l)
{
    return l->n ? l->heap[0].due : UINT64_MAX;
}

size_t zdc_impair_queued(const zdc_impair *l)
{
    return l->n;
}

zdc_impair_stats zdc_impair_get_stats(const zdc_impair *l)
{
    return l->stats;
}
