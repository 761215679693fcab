/* Fuzzes the ICE agent's state machine: two agents wired through a queue, and the input
 * bytes choose the actions — deliver, drop, corrupt or duplicate a queued datagram, inject a
 * raw datagram, inject a well-authenticated check with chosen attributes, add candidates, jump
 * the clock, run timers, close. Invariants checked on every step: handle_timeout leaves no
 * deadline in the past (no timer spin), nothing is sent after FAILED/CLOSED, and the selected
 * pair, when there is one, has a remote address. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ice.h"
#include "zdc/stun.h"

#define QCAP 64
#define MS   1000000ull

typedef struct {
    const uint8_t *p;
    size_t len, off;
} input;

static uint8_t take(input *in)
{
    return in->off < in->len ? in->p[in->off++] : 0;
}

typedef struct {
    zdc_addr to, from;
    uint8_t data[1200];
    size_t len;
} qpkt;

typedef struct fz fz;

typedef struct {
    fz *f;
    zdc_ice *ice;
    zdc_addr addr, addr6;
    uint64_t rng;
    zdc_candidate cand;
    bool have_cand;
} agent;

struct fz {
    agent ag[2];
    qpkt q[QCAP];
    size_t n;
    uint64_t now;
};

static void rnd(void *user, uint8_t *p, size_t n)
{
    agent *a = user;
    for (size_t i = 0; i < n; i++) {
        a->rng ^= a->rng << 13;
        a->rng ^= a->rng >> 7;
        a->rng ^= a->rng << 17;
        p[i] = (uint8_t)a->rng;
    }
}

static void snd(void *user, const zdc_addr *to, const uint8_t *p, size_t len)
{
    agent *a = user;
    int st = zdc_ice_state(a->ice);
    if (st == ZDC_ICE_FAILED || st == ZDC_ICE_CLOSED)
        abort(); /* RFC 7675 §5.1: nothing may be sent once consent is gone */
    if (a->f->n == QCAP || len > sizeof a->f->q[0].data)
        return;
    qpkt *k = &a->f->q[a->f->n++];
    k->to = *to;
    k->from = zdc_addr_family(to) == 6 ? a->addr6 : a->addr;
    memcpy(k->data, p, len);
    k->len = len;
}

static void on_cand(void *user, const zdc_candidate *c)
{
    agent *a = user;
    if (c && !a->have_cand) {
        a->cand = *c;
        a->have_cand = true;
    }
}

static void on_sel(void *user, const zdc_addr *l, const zdc_addr *r)
{
    if (zdc_addr_family(r) == 0)
        abort();
}

static void check_timer(const agent *a, uint64_t now)
{
    uint64_t t = zdc_ice_next_timeout(a->ice);
    if (t != UINT64_MAX && t <= now)
        abort(); /* handle_timeout must consume everything due */
}

static void run_timers(fz *f)
{
    for (int i = 0; i < 2; i++) {
        if (zdc_ice_next_timeout(f->ag[i].ice) <= f->now) {
            zdc_ice_handle_timeout(f->ag[i].ice, f->now);
            check_timer(&f->ag[i], f->now);
        }
    }
}

static void deliver(fz *f, size_t idx, bool keep)
{
    qpkt k = f->q[idx];
    if (!keep)
        f->q[idx] = f->q[--f->n];
    for (int i = 0; i < 2; i++)
        if (zdc_addr_equal(&k.to, &f->ag[i].addr) || zdc_addr_equal(&k.to, &f->ag[i].addr6))
            zdc_ice_handle_stun(f->ag[i].ice, &k.from, k.data, k.len, f->now);
}

static zdc_addr pick_addr(input *in)
{
    static const char *ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "fd00::1"};
    const char *s = ips[take(in) & 3];
    zdc_addr a;
    zdc_addr_from_ip(&a, s, strlen(s), (uint16_t)(5000 + (take(in) & 3)));
    return a;
}

/* A check to agent `to` as its peer would send it, with input-chosen attributes. */
static void inject_check(fz *f, input *in)
{
    int to = take(in) & 1;
    agent *dst = &f->ag[to], *peer = &f->ag[!to];
    uint8_t flags = take(in);
    char user[600];
    snprintf(user, sizeof user, "%s:%s", zdc_ice_local_ufrag(dst->ice),
             zdc_ice_local_ufrag(peer->ice));
    uint8_t txid[12], buf[700];
    for (int i = 0; i < 12; i++)
        txid[i] = take(in);
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, sizeof buf, ZDC_STUN_BINDING,
                         (flags & 0x40) ? ZDC_STUN_SUCCESS : ZDC_STUN_REQUEST, txid);
    zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_USERNAME, user, strlen(user));
    if (flags & 1)
        zdc_stun_add_u32(&b, ZDC_STUN_ATTR_PRIORITY, (uint32_t)take(in) << 24 | 0xffff);
    if (flags & 2)
        zdc_stun_add_u64(&b, ZDC_STUN_ATTR_ICE_CONTROLLING, (uint64_t)take(in) << 56);
    if (flags & 4)
        zdc_stun_add_u64(&b, ZDC_STUN_ATTR_ICE_CONTROLLED, (uint64_t)take(in) << 56);
    if (flags & 8)
        zdc_stun_add_flag(&b, ZDC_STUN_ATTR_USE_CANDIDATE);
    if (flags & 0x80)
        zdc_stun_add_error(&b, 487, "Role Conflict");
    const char *key = (flags & 0x10) ? zdc_ice_local_pwd(dst->ice) : "garbagegarbagegarbage00";
    zdc_stun_add_integrity(&b, (const uint8_t *)key, strlen(key));
    if (flags & 0x20)
        zdc_stun_add_fingerprint(&b);
    int n = zdc_stun_build_end(&b);
    if (n > 0) {
        zdc_addr from = pick_addr(in);
        zdc_ice_handle_stun(dst->ice, &from, buf, (size_t)n, f->now);
    }
}

static void add_candidate(fz *f, input *in)
{
    int to = take(in) & 1;
    uint8_t kind = take(in);
    zdc_candidate c;
    if ((kind & 3) == 0 && f->ag[!to].have_cand) {
        c = f->ag[!to].cand;
    } else {
        memset(&c, 0, sizeof c);
        strcpy(c.foundation, "9");
        c.component = (uint16_t)(1 + ((kind >> 2) & 1));
        c.transport = (kind >> 3) & 1;
        c.priority = (uint32_t)take(in) << 24;
        c.type = (kind >> 4) & 3;
        c.port = (uint16_t)(take(in) & 7);
        if (kind & 0x40) {
            strcpy(c.address, "abc.local");
            c.address_kind = 0;
        } else {
            zdc_addr a = pick_addr(in);
            zdc_addr_format(&a, false, c.address, sizeof c.address);
            c.address_kind = (uint8_t)zdc_addr_family(&a);
            c.port = zdc_addr_port(&a);
        }
    }
    zdc_ice_add_remote_candidate(f->ag[to].ice, (kind & 0x80) ? NULL : &c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    input in = {data, size, 0};
    fz *f = calloc(1, sizeof *f);
    if (!f)
        return 0;
    f->now = 1000 * MS;
    uint8_t setup = take(&in);
    static const char *addrs[] = {"10.0.0.1", "10.0.0.2"};
    for (int i = 0; i < 2; i++) {
        agent *a = &f->ag[i];
        a->f = f;
        a->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(take(&in) + 1 + i);
        zdc_addr_from_ip(&a->addr, addrs[i], strlen(addrs[i]), 5000);
        zdc_ice_config c;
        memset(&c, 0, sizeof c);
        c.role = i == 0 ? ZDC_ICE_CONTROLLING : ZDC_ICE_CONTROLLED;
        if (setup & (1 << i))
            c.role = !c.role;
        c.lite = (setup >> (2 + i)) & 1;
        c.aggressive_nomination = (setup >> 4) & 1;
        c.user = a;
        c.random = rnd;
        c.send = snd;
        c.on_candidate = on_cand;
        c.on_selected_pair = on_sel;
        if (zdc_ice_new(&c, &a->ice) != 0)
            abort();
        zdc_ice_add_local_address(a->ice, &a->addr);
        if (setup & 0x20) {
            zdc_addr_from_ip(&a->addr6, "fd00::1", 7, (uint16_t)(6000 + i));
            zdc_ice_add_local_address(a->ice, &a->addr6);
        }
        if (setup & 0x40) {
            zdc_addr srv;
            zdc_addr_from_ip(&srv, "10.0.0.3", 8, 5000);
            zdc_ice_add_stun_server(a->ice, &srv);
        }
        zdc_ice_gather(a->ice, f->now);
    }

    for (int step = 0; step < 2000 && in.off < in.len; step++) {
        uint8_t op = take(&in);
        switch (op % 12) {
        case 0: /* clock jump up to ~2.5 s */
            f->now += (uint64_t)take(&in) * 10 * MS;
            run_timers(f);
            break;
        case 1: { /* advance to the next deadline */
            uint64_t t = zdc_ice_next_timeout(f->ag[0].ice);
            uint64_t t2 = zdc_ice_next_timeout(f->ag[1].ice);
            t = t < t2 ? t : t2;
            if (t != UINT64_MAX && t > f->now)
                f->now = t;
            run_timers(f);
            break;
        }
        case 2:
        case 3:
            if (f->n)
                deliver(f, take(&in) % f->n, false);
            break;
        case 4:
            if (f->n) { /* drop */
                size_t i = take(&in) % f->n;
                f->q[i] = f->q[f->n - 1];
                f->n--;
            }
            break;
        case 5:
            if (f->n) /* duplicate */
                deliver(f, take(&in) % f->n, true);
            break;
        case 6:
            if (f->n) { /* corrupt one byte, then deliver */
                qpkt *k = &f->q[take(&in) % f->n];
                k->data[take(&in) % k->len] ^= (uint8_t)(take(&in) | 1);
                deliver(f, (size_t)(k - f->q), false);
            }
            break;
        case 7: { /* raw datagram from the input */
            uint8_t buf[256];
            size_t n = take(&in);
            if (n > in.len - in.off)
                n = in.len - in.off;
            memcpy(buf, in.p + in.off, n);
            in.off += n;
            zdc_addr from = pick_addr(&in);
            zdc_ice_handle_stun(f->ag[take(&in) & 1].ice, &from, buf, n, f->now);
            break;
        }
        case 8:
            inject_check(f, &in);
            break;
        case 9: { /* signaling: credentials */
            int to = take(&in) & 1;
            zdc_ice_set_remote_credentials(f->ag[to].ice, zdc_ice_local_ufrag(f->ag[!to].ice),
                                           zdc_ice_local_pwd(f->ag[!to].ice), take(&in) & 1);
            break;
        }
        case 10:
            add_candidate(f, &in);
            break;
        case 11:
            if ((take(&in) & 15) == 0)
                zdc_ice_close(f->ag[take(&in) & 1].ice);
            break;
        }
        for (int i = 0; i < 2; i++) {
            zdc_addr r;
            if (zdc_ice_selected_pair(f->ag[i].ice, NULL, &r) == 0 && zdc_addr_family(&r) == 0)
                abort();
        }
    }
#ifdef ZDC_ICE_FUZZ_DEBUG
    fprintf(stderr, "states %d %d\n", zdc_ice_state(f->ag[0].ice), zdc_ice_state(f->ag[1].ice));
#endif
    zdc_ice_free(f->ag[0].ice);
    zdc_ice_free(f->ag[1].ice);
    free(f);
    return 0;
}
