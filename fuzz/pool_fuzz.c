/* Packet pool against a reference model: the input is a program of get / ref / unref /
 * push / pull / put / trim / reset operations on a small pool (6 buffers of 96 bytes, 16 of
 * head room, slabs of 4). The model tracks each held buffer's references, head room and
 * length; the bytes written by put/push are checked when pulled back. Any disagreement
 * aborts; ASan catches any write outside a buffer. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define MAX_BUFS 6
#define BUF_SIZE 96
#define HEADROOM 16

struct held {
    zdc_pkt *pkt;
    uint32_t refs;
    size_t head, len;
    uint8_t bytes[BUF_SIZE]; /* expected contents of [base, base + BUF_SIZE) where written */
    bool known[BUF_SIZE];
};

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_bytes(const struct held *h)
{
    const uint8_t *base = h->pkt->data - h->head;
    for (size_t i = 0; i < BUF_SIZE; i++)
        if (h->known[i])
            check(base[i] == h->bytes[i]);
}

static void fill(struct held *h, size_t at, size_t n, uint8_t v)
{
    uint8_t *base = h->pkt->data - h->head;
    for (size_t i = 0; i < n; i++) {
        base[at + i] = (uint8_t)(v + i);
        h->bytes[at + i] = (uint8_t)(v + i);
        h->known[at + i] = true;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zdc_pool_config cfg = {
        .buf_size = BUF_SIZE, .headroom = HEADROOM, .slab_buffers = 4, .max_buffers = MAX_BUFS};
    zdc_pool *pool;
    if (zdc_pool_new(&cfg, &pool) != 0)
        return 0;
    static struct held h[MAX_BUFS];
    memset(h, 0, sizeof h);
    size_t n_held = 0;
    uint64_t exhausted = 0;

    for (size_t off = 0; size - off >= 2; off += 2) {
        uint8_t op = data[off], arg = data[off + 1];
        struct held *x = n_held ? &h[arg % n_held] : NULL;
        size_t n = arg % (BUF_SIZE + 8); /* sometimes more than fits */
        switch (op % 8) {
        case 0: { /* get */
            zdc_pkt *k = zdc_pool_get(pool);
            if (n_held == MAX_BUFS) {
                check(k == NULL);
                exhausted++;
                break;
            }
            check(k != NULL && k->len == 0 && zdc_pkt_headroom(k) == HEADROOM);
            check(zdc_pool_pkt_at(pool, zdc_pkt_index(k)) == k);
            for (size_t i = 0; i < n_held; i++)
                check(h[i].pkt != k);
            h[n_held] = (struct held){.pkt = k, .refs = 1, .head = HEADROOM};
            n_held++;
            break;
        }
        case 1: /* ref */
            if (x) {
                zdc_pkt_ref(x->pkt);
                x->refs++;
            }
            break;
        case 2: /* unref */
            if (x) {
                check_bytes(x);
                zdc_pkt_unref(x->pkt);
                if (--x->refs == 0)
                    *x = h[--n_held];
            }
            break;
        case 3: /* push n */
            if (x) {
                uint8_t *p = zdc_pkt_push(x->pkt, n);
                check((p != NULL) == (n <= x->head));
                if (p) {
                    x->head -= n;
                    x->len += n;
                    check(p == x->pkt->data);
                    fill(x, x->head, n, op);
                }
            }
            break;
        case 4: /* pull n */
            if (x) {
                uint8_t *p = zdc_pkt_pull(x->pkt, n);
                check((p != NULL) == (n <= x->len));
                if (p) {
                    x->head += n;
                    x->len -= n;
                }
            }
            break;
        case 5: /* put n */
            if (x) {
                uint8_t *p = zdc_pkt_put(x->pkt, n);
                check((p != NULL) == (n <= BUF_SIZE - x->head - x->len));
                if (p) {
                    fill(x, x->head + x->len, n, op);
                    x->len += n;
                }
            }
            break;
        case 6: /* trim to n */
            if (x) {
                int rv = zdc_pkt_trim(x->pkt, n);
                check((rv == 0) == (n <= x->len));
                if (rv == 0)
                    x->len = n;
            }
            break;
        default: /* reset */
            if (x) {
                zdc_pkt_reset(x->pkt);
                x->head = HEADROOM;
                x->len = 0;
            }
            break;
        }
        for (size_t i = 0; i < n_held; i++) {
            check(h[i].pkt->len == h[i].len);
            check(zdc_pkt_headroom(h[i].pkt) == h[i].head);
            check(zdc_pkt_tailroom(h[i].pkt) == BUF_SIZE - h[i].head - h[i].len);
        }
        check(zdc_pool_outstanding(pool) == n_held);
    }
    zdc_pool_stats st;
    zdc_pool_get_stats(pool, &st);
    check(st.exhausted_count == exhausted);
    check(st.allocated <= MAX_BUFS && st.double_unref == 0);
    while (n_held > 0) {
        struct held *x = &h[n_held - 1];
        while (x->refs-- > 0)
            zdc_pkt_unref(x->pkt);
        n_held--;
    }
    check(zdc_pool_outstanding(pool) == 0);
    zdc_pool_free(pool);
    return 0;
}
