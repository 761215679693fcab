/* Fuzz target for the SCTP stage: an established association (two zdc_sctp in one process,
 * wired back to back) receives fuzzer-chosen chunks inside otherwise valid packets (correct
 * ports, verification tag and CRC32c, so usrsctp's chunk parsers are reached instead of the
 * checksum check), interleaved with API calls on the other side.
 *
 * Input: records [op u8][len u16 big-endian][len bytes]:
 *   op % 4 == 0 or 1: inject a packet whose chunks are the bytes
 *   op % 4 == 2:      A sends a message of `len` bytes (stream from the first two bytes,
 *                     op bits choose unordered / PR-SCTP)
 *   op % 4 == 3:      A resets the stream named by the first two bytes
 * After every record both directions are pumped a few rounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <usrsctp.h>

#include "sctp.h"

struct ep {
    zdc_sctp *s;
    uint8_t **pk;
    size_t *pl;
    size_t n, cap;
    int up, down;
};

static struct ep A, B;
static uint8_t hdr[8]; /* ports + verification tag of packets A sends to B */
static bool have_hdr, crc_swapped;

static int on_send(void *user, const uint8_t *p, size_t len)
{
    struct ep *e = user;
    if (e->n == e->cap) {
        size_t c = e->cap ? e->cap * 2 : 32;
        uint8_t **pk = realloc(e->pk, c * sizeof *pk);
        if (pk == NULL)
            return -1;
        e->pk = pk;
        size_t *pl = realloc(e->pl, c * sizeof *pl);
        if (pl == NULL)
            return -1;
        e->pl = pl;
        e->cap = c;
    }
    uint8_t *c = malloc(len);
    if (c == NULL)
        return -1;
    memcpy(c, p, len);
    if (e == &A && len >= 12) {
        memcpy(hdr, p, 8);
        have_hdr = true;
    }
    e->pk[e->n] = c;
    e->pl[e->n++] = len;
    return 0;
}

static void on_up(void *user, uint16_t in, uint16_t out)
{
    ((struct ep *)user)->up = 1;
}
static void on_down(void *user, int reason)
{
    ((struct ep *)user)->down = 1;
}
static void on_reset(void *user, uint16_t stream)
{
    struct ep *e = user;
    zdc_sctp_reset_stream(e->s, stream); /* like a data channel closing its side */
}
static void on_too_large(void *user, uint16_t stream, uint32_t ppid)
{
    struct ep *e = user;
    zdc_sctp_reset_stream(e->s, stream);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void drop_queue(struct ep *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->pk[i]);
    e->n = 0;
}

static void deliver(struct ep *from, struct ep *to)
{
    size_t n = from->n;
    uint8_t **pk = from->pk;
    size_t *pl = from->pl;
    from->pk = NULL;
    from->pl = NULL;
    from->n = from->cap = 0;
    for (size_t i = 0; i < n; i++) {
        if (to->s != NULL)
            zdc_sctp_handle_packet(to->s, pk[i], pl[i]);
        free(pk[i]);
    }
    free(pk);
    free(pl);
}

static void pump(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        deliver(&A, &B);
        deliver(&B, &A);
        zdc_sctp_global_tick(mono_ns());
    }
}

static void teardown(void)
{
    zdc_sctp_free(A.s);
    zdc_sctp_free(B.s);
    drop_queue(&A);
    drop_queue(&B);
    free(A.pk);
    free(A.pl);
    free(B.pk);
    free(B.pl);
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    have_hdr = false;
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

/* Learns how usrsctp_crc32c's result is laid out in the header from a real packet. */
static void learn_crc(const uint8_t *p, size_t len)
{
    uint8_t *c = malloc(len);
    memcpy(c, p, len);
    uint32_t want;
    memcpy(&want, p + 8, 4);
    memset(c + 8, 0, 4);
    uint32_t got = usrsctp_crc32c(c, len);
    crc_swapped = got != want;
    free(c);
}

static bool setup(void)
{
    zdc_sctp_config c;
    zdc_sctp_config_default(&c);
    c.max_message_size = 70000;
    c.cb.send = on_send;
    c.cb.on_up = on_up;
    c.cb.on_down = on_down;
    c.cb.on_stream_reset = on_reset;
    c.cb.on_message_too_large = on_too_large;
    c.user = &A;
    if (zdc_sctp_new(&c, &A.s) != 0)
        return false;
    c.user = &B;
    if (zdc_sctp_new(&c, &B.s) != 0)
        return false;
    zdc_sctp_global_tick(mono_ns());
    zdc_sctp_connect(A.s);
    zdc_sctp_connect(B.s);
    for (int i = 0; i < 50 && !(A.up && B.up); i++)
        pump(1);
    if (!(A.up && B.up))
        return false;
    /* One more packet from A after setup carries B's verification tag. */
    uint8_t x = 1;
    zdc_sctp_send(A.s, 0, 51, &x, 1, NULL);
    if (A.n > 0)
        learn_crc(A.pk[A.n - 1], A.pl[A.n - 1]);
    pump(3);
    return have_hdr;
}

static void inject(const uint8_t *chunks, size_t len)
{
    size_t n = 12 + len;
    uint8_t *p = malloc(n);
    memcpy(p, hdr, 8);
    memset(p + 8, 0, 4);
    memcpy(p + 12, chunks, len);
    uint32_t crc = usrsctp_crc32c(p, n);
    if (crc_swapped)
        crc = __builtin_bswap32(crc);
    put32(p + 8, crc);
    zdc_sctp_handle_packet(B.s, p, n);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (A.s == NULL && !setup()) {
        teardown();
        return 0;
    }
    size_t off = 0;
    for (int rec = 0; rec < 32 && size - off >= 3; rec++) {
        uint8_t op = data[off];
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        const uint8_t *body = data + off;
        off += len;
        uint16_t stream = len >= 2 ? (uint16_t)(body[0] << 8 | body[1]) % 1100u : 0;
        switch (op % 4) {
        case 0:
        case 1:
            inject(body, len);
            break;
        case 2: {
            zdc_sctp_send_opts o = {
                .unordered = op & 0x10, .pr_policy = (op >> 5) % 3, .pr_value = op >> 7};
            if (len > 0)
                zdc_sctp_send(A.s, stream, 53, body, len, &o);
            break;
        }
        default:
            zdc_sctp_reset_stream(A.s, stream);
            break;
        }
        pump(2);
        if (A.down || B.down || !zdc_sctp_is_up(A.s) || !zdc_sctp_is_up(B.s))
            break;
    }
    /* A fresh association for the next input when this one died. */
    if (A.down || B.down || !zdc_sctp_is_up(A.s) || !zdc_sctp_is_up(B.s))
        teardown();
    return 0;
}
