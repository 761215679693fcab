/* Fuzz target for the TURN codec (core/codec/turnmsg.c) and the TURN client (core/proto/turn.c).
 *
 * The first byte picks what the rest is:
 *   0  one STUN message with TURN attributes: zdc_turn_parse; what parses must re-parse the same
 *      after the TURN attributes are rebuilt, and the views must lie inside the input;
 *   1  one ChannelData message: parse, rebuild (padded and not) and parse again, same values;
 *   2  a TCP/TLS stream: split into frames with zdc_turn_stream_frame, each inside the input,
 *      and the same bytes fed in pieces through zdc_turn_stream_take: the same frames, in
 *      order, and the buffer never overflows;
 *   3  a TURN client's life: records of [op][len16][bytes] fed to an allocating client (op
 *      chooses input, a time jump, a permit, a channel bind or a send); transaction ids come
 *      from a counter so inputs can answer them. Nothing may crash, leak or grow. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "turn.h"
#include "turnmsg.h"
#include "zdc/stun.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static bool inside(const uint8_t *v, size_t n, const uint8_t *p, size_t len)
{
    return n == 0 || (v >= p && v + n <= p + len);
}

static void fuzz_parse(const uint8_t *p, size_t len)
{
    zdc_stun_msg m;
    zdc_turn_attrs a;
    int rv = zdc_turn_parse(p, len, &m, &a);
    if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return;
    check(!a.has_data || inside(a.data.p, a.data.len, p, len));
    check(!a.has_channel ||
          (a.channel >= ZDC_TURN_CHANNEL_MIN && a.channel <= ZDC_TURN_CHANNEL_MAX));
    check(a.n_password_algs <= ZDC_TURN_MAX_PASSWORD_ALGS);
    /* Round trip of the TURN attributes that the builder writes. */
    uint8_t buf[70000];
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, sizeof buf, m.method, m.cls, m.txid);
    if (a.has_channel)
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_CHANNEL_NUMBER, (uint32_t)a.channel << 16);
    if (a.has_lifetime)
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, a.lifetime);
    if (a.has_peer)
        zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_PEER_ADDRESS, &a.peer);
    if (a.has_relayed)
        zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_RELAYED_ADDRESS, &a.relayed);
    if (a.has_data)
        zdc_stun_add_bytes(&b, ZDC_TURN_ATTR_DATA, a.data.p, a.data.len);
    int n = zdc_stun_build_end(&b);
    check(n > 0);
    zdc_stun_msg m2;
    zdc_turn_attrs a2;
    check(zdc_turn_parse(buf, (size_t)n, &m2, &a2) == 0);
    check(a2.has_channel == a.has_channel && a2.channel == a.channel);
    check(a2.has_lifetime == a.has_lifetime && a2.lifetime == a.lifetime);
    check(a2.has_peer == a.has_peer &&
          (!a.has_peer || (a2.peer.port == a.peer.port && memcmp(a2.peer.ip, a.peer.ip, 16) == 0)));
    check(a2.has_relayed == a.has_relayed &&
          (!a.has_relayed || memcmp(a2.relayed.ip, a.relayed.ip, 16) == 0));
    check(a2.has_data == a.has_data && a2.data.len == a.data.len &&
          (a.data.len == 0 || memcmp(a2.data.p, a.data.p, a.data.len) == 0));
}

static void fuzz_channel_data(const uint8_t *p, size_t len)
{
    uint16_t ch, ch2;
    const uint8_t *d, *d2;
    size_t n, n2;
    if (zdc_turn_channel_data_parse(p, len, &ch, &d, &n) != 0)
        return;
    check(zdc_turn_is_channel_data(p, len));
    check(inside(d, n, p, len) && len - 4 - n <= 3);
    static uint8_t buf[65540 + 4];
    for (int pad = 0; pad < 2; pad++) {
        int k = zdc_turn_channel_data_build(buf, sizeof buf, ch, d, n, pad);
        check(k >= 4 && (!pad || (k & 3) == 0));
        check(zdc_turn_channel_data_parse(buf, (size_t)k, &ch2, &d2, &n2) == 0);
        check(ch2 == ch && n2 == n && memcmp(d2, d, n) == 0);
        if (pad)
            check(zdc_turn_stream_frame(buf, (size_t)k) == k);
    }
}

/* Reassembly (zdc_turn_stream_take, as io/stream.c receives): every message handed out is the
 * next whole frame of the input, in order. */
typedef struct reasm {
    const uint8_t *src;
    size_t len, pos;
} reasm;

static bool take_check(void *arg, const uint8_t *p, size_t n)
{
    reasm *r = arg;
    check(n <= r->len - r->pos && memcmp(p, r->src + r->pos, n) == 0);
    check(zdc_turn_stream_frame(p, n) == (int)n);
    r->pos += n;
    return true;
}

static void fuzz_stream(const uint8_t *p, size_t len)
{
    size_t off = 0;
    for (int i = 0; i < 100000 && off < len; i++) {
        int n = zdc_turn_stream_frame(p + off, len - off);
        if (n <= 0)
            break;
        check((size_t)n <= len - off && n >= 4);
        off += (size_t)n;
    }
    /* The same bytes arriving in pieces whose sizes the bytes choose (small ones, or as much
     * as the buffer takes), into a buffer of the largest message and some room, as a socket
     * would deliver them. */
    static uint8_t rx[ZDC_TURN_STREAM_MAX_FRAME + 64];
    size_t rx_len = 0, fed = 0;
    reasm r = {p, len, 0};
    while (fed < len) {
        size_t room = sizeof rx - rx_len;
        check(room >= 64); /* what is left after a take is less than one message */
        size_t chunk = p[fed] & 1 ? 1 + p[fed] % 13u : room;
        if (chunk > len - fed)
            chunk = len - fed;
        if (chunk > room)
            chunk = room;
        memcpy(rx + rx_len, p + fed, chunk);
        rx_len += chunk;
        fed += chunk;
        int rv = zdc_turn_stream_take(rx, &rx_len, take_check, &r);
        if (rv < 0) {
            check(r.pos == off && zdc_turn_stream_frame(p + r.pos, len - r.pos) < 0);
            return;
        }
    }
    check(r.pos == off && r.pos + rx_len == len);
}

typedef struct ctx {
    uint8_t counter;
    size_t sent;
} ctx;

static void rnd(void *user, uint8_t *p, size_t n)
{
    ctx *c = user;
    memset(p, c->counter++, n);
}

static void snd(void *user, const uint8_t *p, size_t len)
{
    ctx *c = user;
    check(p && len > 0 && len <= 65535 + 64);
    c->sent++;
}

static void fuzz_client(const uint8_t *p, size_t len)
{
    ctx c = {0, 0};
    zdc_turn_config cfg = {.username = "user",
                           .password = "pass",
                           .transport = len && (p[0] & 1) ? ZDC_TURN_TCP : ZDC_TURN_UDP,
                           .lifetime_s = 60,
                           .user = &c,
                           .random = rnd,
                           .send = snd};
    zdc_turn *t;
    check(zdc_turn_new(&cfg, &t) == 0);
    uint64_t now = 1000000000ull;
    check(zdc_turn_allocate(t, now) == 0);
    size_t off = 1;
    while (off + 3 <= len) {
        uint8_t op = p[off];
        size_t n = (size_t)p[off + 1] << 8 | p[off + 2];
        off += 3;
        if (n > len - off)
            n = len - off;
        const uint8_t *v = p + off;
        off += n;
        zdc_addr peer;
        uint8_t ip[4] = {192, 0, 2, (uint8_t)(op >> 3)};
        zdc_addr_from_bytes(&peer, 4, ip, 1000);
        switch (op & 7) {
        case 0:
        case 1:
            zdc_turn_handle_input(t, v, n, now);
            break;
        case 2: {
            uint64_t next = zdc_turn_next_timeout(t);
            if (next != UINT64_MAX && next > now)
                now = next;
            zdc_turn_handle_timeout(t, now);
            break;
        }
        case 3:
            now += (uint64_t)(n ? v[0] : 1) * 1000000000ull;
            zdc_turn_handle_timeout(t, now);
            break;
        case 4:
            zdc_turn_permit(t, &peer, now);
            break;
        case 5:
            zdc_turn_bind_channel(t, &peer, now);
            break;
        case 6:
            zdc_turn_send(t, &peer, v, n, now);
            break;
        case 7:
            zdc_turn_close(t, now);
            break;
        }
        int s = zdc_turn_state(t);
        check(s >= ZDC_TURN_IDLE && s <= ZDC_TURN_CLOSED);
        check(s != ZDC_TURN_ALLOCATED || zdc_turn_relayed_address(t, &peer) == 0);
    }
    zdc_turn_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] & 3) {
    case 0:
        fuzz_parse(data + 1, size - 1);
        break;
    case 1:
        fuzz_channel_data(data + 1, size - 1);
        break;
    case 2:
        fuzz_stream(data + 1, size - 1);
        break;
    case 3:
        fuzz_client(data + 1, size - 1);
        break;
    }
    return 0;
}
