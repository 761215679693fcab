/* Fuzz target for the native SCTP association's state machine (core/sctp/sctp_assoc.h): two
 * associations on a simulated clock, and a link the input controls. Each input byte pair is an
 * action: send a message (either side, any stream, ordered or not, reliable or partially
 * reliable), deliver / drop / duplicate / reorder / corrupt the next packet of a direction,
 * let time pass, reset a stream, restart one side (a fresh association with new tags: the other
 * must detect the restart), or inject the following bytes as a packet with a valid header
 * into B. Then the link heals: everything is delivered until both sides are quiet.
 *
 * Checked besides "no crash, no leak, no UB": every packet sent parses and has its control
 * chunks before its DATA chunks (RFC 9260 §6.10); the receive buffer never holds more than the
 * window plus one message; when both associations are still up after healing, every reliable
 * message arrived exactly once, intact, and in order on its stream where ordered; no message
 * ever arrives twice or corrupt. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32c.h"
#include "sctp_assoc.h"
#include "sctp_assoc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define QMAX   256
#define MAXMSG 512

typedef struct pkt {
    uint8_t *p;
    size_t len;
} pkt;

typedef struct side {
    zdc_sctp_assoc *a;
    pkt q[QMAX]; /* packets this side sent, in flight */
    size_t nq;
    /* what this side sent reliably: index -> stream, ordered */
    uint16_t stream[MAXMSG];
    bool ordered[MAXMSG], reliable[MAXMSG];
    uint32_t nsent;
    /* what this side received (indices, per the sender's numbering) */
    uint8_t got[MAXMSG];
    int32_t last_ordered[8];
    int up, down;
} side;

static side S[2];
static uint64_t now;
static uint64_t n_restarts; /* in this run: seeds the restarted side's association */

/* RFC 9260 §6.10: a packet's control chunks come before its DATA chunks. */
static void check_chunk_order(const uint8_t *p, size_t len)
{
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    bool data = false;
    if (zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_SKIP, &h, &it) != 0)
        abort(); /* we built it */
    while (zdc_sctp_chunk_next(&it, &raw) == 1) {
        if (raw.type == ZDC_SCTP_DATA)
            data = true;
        else if (data)
            abort();
    }
}

static int on_send(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    check_chunk_order(p, len);
    if (s->nq == QMAX)
        return 0; /* the link's queue is full: lost */
    uint8_t *c = malloc(len);
    if (c == NULL)
        return 0;
    memcpy(c, p, len);
    s->q[s->nq++] = (pkt){c, len};
    return 0;
}

static void on_up(void *user, uint16_t i, uint16_t o)
{
    ((side *)user)->up = 1;
}

/* The peer restarted: what this side sent before is dropped with the old association's
 * state (RFC 9260 §5.2.4 A), so it is no longer owed. */
static void on_restart(void *user)
{
    side *s = user;
    for (uint32_t k = 0; k < s->nsent; k++)
        s->reliable[k] = false;
}

static void on_down(void *user, int reason)
{
    ((side *)user)->down = 1;
}

/* message: [u32 index][u16 stream][u8 ordered] then bytes (index * 7 + k) */
static void on_msg(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                   unsigned flags)
{
    side *s = user;
    if (len < 7)
        abort();
    uint32_t idx = zdc_load_u32(p);
    if (idx >= MAXMSG || zdc_load_u16(p + 4) != stream || p[6] != !(flags & 1))
        abort();
    for (size_t k = 7; k < len; k++)
        if (p[k] != (uint8_t)(idx * 7 + k))
            abort(); /* corrupt */
    if (s->got[idx]++)
        abort(); /* delivered twice */
    if (p[6] && stream < 8) {
        if ((int32_t)idx <= s->last_ordered[stream])
            abort(); /* out of order on an ordered stream */
        s->last_ordered[stream] = (int32_t)idx;
    }
}

static zdc_sctp_assoc *make(side *s, uint64_t seed)
{
    zdc_sctp_assoc_config c;
    zdc_sctp_assoc_config_default(&c);
    c.random_seed = seed;
    c.zero_checksum = false; /* corruption is the CRC's to catch here */
    c.rwnd = 64 * 1024;
    c.max_message_size = 16 * 1024;
    c.max_retransmits = 5;
    c.cb = (zdc_sctp_assoc_callbacks){.send = on_send,
                                      .on_up = on_up,
                                      .on_down = on_down,
                                      .on_message = on_msg,
                                      .on_restart = on_restart};
    c.user = s;
    zdc_sctp_assoc *a = NULL;
    if (zdc_sctp_assoc_new(&c, &a) != 0)
        abort();
    return a;
}

static void pop(side *s, size_t i)
{
    free(s->q[i].p);
    memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof s->q[0]);
    s->nq--;
}

static void deliver_one(int from, bool keep)
{
    side *s = &S[from];
    if (s->nq == 0)
        return;
    pkt p = s->q[0];
    uint8_t *copy = keep ? malloc(p.len) : NULL;
    if (copy)
        memcpy(copy, p.p, p.len);
    memmove(&s->q[0], &s->q[1], (s->nq - 1) * sizeof s->q[0]);
    s->nq--;
    zdc_sctp_assoc_handle_packet(S[1 - from].a, p.p, p.len, now);
    free(p.p);
    if (copy && s->nq < QMAX)
        s->q[s->nq++] = (pkt){copy, p.len};
    else
        free(copy);
}

static void check_bounds(void)
{
    for (int i = 0; i < 2; i++) {
        zdc_sctp_assoc *a = S[i].a;
        if (a->rx_held > (size_t)a->cfg.rwnd + a->cfg.max_message_size)
            abort();
    }
}

static void send_msg(int who, uint8_t b)
{
    side *s = &S[who];
    if (s->nsent == MAXMSG || !zdc_sctp_assoc_is_up(s->a))
        return;
    uint32_t idx = s->nsent;
    uint16_t stream = b & 7;
    bool ordered = !(b & 8);
    int pr = (b >> 4) % 3;
    size_t len = 7 + (size_t)(b >> 6) * 1500 + (b & 0x3f) * 3;
    uint8_t buf[7 + 3 * 1500 + 0x3f * 3];
    zdc_store_u32(buf, idx);
    zdc_store_u16(buf + 4, stream);
    buf[6] = ordered;
    for (size_t k = 7; k < len; k++)
        buf[k] = (uint8_t)(idx * 7 + k);
    zdc_sctp_assoc_send_opts o = {.unordered = !ordered, .pr_policy = pr, .pr_value = b & 3};
    if (zdc_sctp_assoc_send_ex(s->a, stream, 51, buf, len, &o, now) != 0)
        return;
    s->stream[idx] = stream;
    s->ordered[idx] = ordered;
    s->reliable[idx] = pr == 0;
    s->nsent++;
}

static void run_timers(void)
{
    for (int i = 0; i < 2; i++)
        if (zdc_sctp_assoc_next_timeout(S[i].a) <= now)
            zdc_sctp_assoc_handle_timeout(S[i].a, now);
}

static void inject(const uint8_t *p, size_t len)
{
    uint8_t pk[1200];
    if (len > sizeof pk - 12)
        len = sizeof pk - 12;
    zdc_store_u16(pk, 5000);
    zdc_store_u16(pk + 2, 5000);
    zdc_store_u32(pk + 4, S[1].a->local_tag);
    memset(pk + 8, 0, 4);
    memcpy(pk + 12, p, len);
    zdc_crc32c_store(pk + 8, zdc_crc32c(pk, 12 + len));
    zdc_sctp_assoc_handle_packet(S[1].a, pk, 12 + len, now);
}

/* The side's process restarts: a fresh association (new tags) connects to the other side,
 * which must detect the restart (RFC 9260 §5.2.4 A). What either side sent before is no longer
 * owed: only messages sent afterwards must arrive. */
static void restart_side(int who)
{
    zdc_sctp_assoc_free(S[who].a);
    S[who].a = make(&S[who], 100 + ++n_restarts);
    S[who].up = 0;
    for (int i = 0; i < 2; i++)
        for (uint32_t k = 0; k < S[i].nsent; k++)
            S[i].reliable[k] = false;
    zdc_sctp_assoc_connect(S[who].a, now);
}

static void teardown(void)
{
    for (int i = 0; i < 2; i++) {
        zdc_sctp_assoc_free(S[i].a);
        while (S[i].nq)
            pop(&S[i], S[i].nq - 1);
    }
    memset(S, 0, sizeof S);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memset(S, 0, sizeof S);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 8; k++)
            S[i].last_ordered[k] = -1;
    now = 1000000000ull;
    n_restarts = 0;
    S[0].a = make(&S[0], 1);
    S[1].a = make(&S[1], 2);
    zdc_sctp_assoc_connect(S[0].a, now);
    zdc_sctp_assoc_connect(S[1].a, now);

    size_t off = 0;
    for (int ops = 0; ops < 4000 && size - off >= 2; ops++) {
        uint8_t op = data[off], arg = data[off + 1];
        off += 2;
        int dir = op & 1;
        switch ((op >> 1) % 10) {
        case 0:
            send_msg(dir, arg);
            break;
        case 1:
        case 2:
            deliver_one(dir, false);
            break;
        case 3: /* drop */
            if (S[dir].nq)
                pop(&S[dir], 0);
            break;
        case 4: /* duplicate */
            deliver_one(dir, true);
            break;
        case 5: /* reorder: the head goes to the back */
            if (S[dir].nq > 1) {
                pkt p = S[dir].q[0];
                memmove(&S[dir].q[0], &S[dir].q[1], (S[dir].nq - 1) * sizeof p);
                S[dir].q[S[dir].nq - 1] = p;
            }
            break;
        case 6: /* corrupt one byte of the head */
            if (S[dir].nq) {
                pkt *p = &S[dir].q[0];
                p->p[arg % p->len] ^= (uint8_t)(op | 1);
                deliver_one(dir, false);
            }
            break;
        case 7:
            now += (uint64_t)(arg + 1) * 10000000ull;
            run_timers();
            break;
        case 8:
            if (arg == 0xff) {
                restart_side(dir);
                break;
            }
            if (zdc_sctp_assoc_is_up(S[dir].a))
                zdc_sctp_assoc_reset_stream(S[dir].a, arg & 7, now);
            break;
        default: { /* inject the next arg bytes into B */
            size_t n = arg < size - off ? arg : size - off;
            inject(data + off, n);
            off += n;
            break;
        }
        }
        check_bounds();
    }

    /* Heal: a perfect link until both sides are quiet (bounded simulated time). */
    uint64_t end = now + 900ull * 1000000000ull;
    while (now < end) {
        bool moved = S[0].nq || S[1].nq;
        while (S[0].nq || S[1].nq) {
            deliver_one(0, false);
            deliver_one(1, false);
        }
        check_bounds();
        bool quiet = zdc_sctp_assoc_buffered_amount(S[0].a) == 0 &&
                     zdc_sctp_assoc_buffered_amount(S[1].a) == 0;
        if (quiet && !moved && S[0].up && S[1].up)
            break;
        uint64_t t = zdc_sctp_assoc_next_timeout(S[0].a);
        uint64_t u = zdc_sctp_assoc_next_timeout(S[1].a);
        t = u < t ? u : t;
        if (t == UINT64_MAX)
            break;
        if (t > now)
            now = t;
        run_timers();
    }
    if (zdc_sctp_assoc_is_up(S[0].a) && zdc_sctp_assoc_is_up(S[1].a) && !S[0].down && !S[1].down) {
        /* every reliable message arrived (once: checked on arrival) */
        for (int i = 0; i < 2; i++)
            for (uint32_t k = 0; k < S[i].nsent; k++)
                if (S[i].reliable[k] && !S[1 - i].got[k]) {
                    if (getenv("ZDC_FUZZ_DEBUG"))
                        fprintf(stderr,
                                "side %d message %u (stream %u, %s) missing; sent %u; "
                                "buffered %zu, peer cum %u next %u; now %llu\n",
                                i, k, S[i].stream[k], S[i].ordered[k] ? "ordered" : "unordered",
                                S[i].nsent, zdc_sctp_assoc_buffered_amount(S[i].a),
                                S[i].a->peer_cum, S[i].a->next_tsn, (unsigned long long)now);
                    abort();
                }
    }
    if (getenv("ZDC_FUZZ_DEBUG"))
        fprintf(stderr, "up %d %d, restarts seen %llu %llu, messages %u %u\n", S[0].up, S[1].up,
                (unsigned long long)S[0].a->st.restarts, (unsigned long long)S[1].a->st.restarts,
                S[0].nsent, S[1].nsent);
    teardown();
    return 0;
}
