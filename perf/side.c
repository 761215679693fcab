#include "side.h"

#include <stdlib.h>
#include <string.h>

#include "perf.h"

void perf_rx_init(perf_rx *rx, size_t size, bool ordered)
{
    memset(rx, 0, sizeof *rx);
    rx->size = size;
    rx->ordered = ordered;
}

void perf_rx_free(perf_rx *rx)
{
    free(rx->seen);
    rx->seen = NULL;
}

/* Marks seq seen; false if it was already (a duplicate) or cannot be tracked. */
static bool mark_seen(perf_rx *rx, uint64_t seq)
{
    size_t byte = (size_t)(seq / 8);
    if (seq > (uint64_t)1 << 32)
        return false;
    if (byte >= rx->seen_cap) {
        size_t cap = rx->seen_cap ? rx->seen_cap : 4096;
        while (cap <= byte)
            cap *= 2;
        uint8_t *n = realloc(rx->seen, cap);
        if (!n)
            return false;
        memset(n + rx->seen_cap, 0, cap - rx->seen_cap);
        rx->seen = n;
        rx->seen_cap = cap;
    }
    uint8_t bit = (uint8_t)(1u << (seq % 8));
    if (rx->seen[byte] & bit)
        return false;
    rx->seen[byte] |= bit;
    return true;
}

void perf_rx_check(perf_rx *rx, const uint8_t *p, size_t len, bool text)
{
    double t = perf_now();
    if (rx->msgs == 0)
        rx->first = t;
    rx->last = t;
    rx->msgs++;
    rx->bytes += len;
    uint64_t seq = 0;
    if (len != rx->size || len < 8 || text) {
        rx->bad++;
        return;
    }
    memcpy(&seq, p, 8);
    if (rx->ordered) {
        if (seq != rx->next)
            rx->bad++;
        rx->next = seq + 1;
    } else if (!mark_seen(rx, seq)) {
        rx->bad++;
    }
}

/* ---- callbacks ------------------------------------------------------------------------- */

static void on_desc(void *u, zdc_peer p, const char *type, const char *sdp)
{
    perf_side *s = u;
    if (zdc_peer_set_local_description(p, type, sdp) != 0 ||
        !perf_sig_send(s->sig_fd, 'D', s->idx, type, 0, sdp))
        s->errors++;
}

static void on_cand(void *u, zdc_peer p, const char *mid, int index, const char *c)
{
    perf_side *s = u;
    (void)p;
    if (!perf_sig_send(s->sig_fd, 'C', s->idx, mid, index, c))
        s->errors++;
}

static void on_dc(void *u, zdc_peer p, zdc_channel ch)
{
    perf_side *s = u;
    (void)p;
    s->ch = ch;
    s->has_ch = true;
}

static void on_open(void *u, zdc_peer p, zdc_channel ch)
{
    perf_side *s = u;
    (void)p;
    s->ch = ch;
    s->has_ch = true;
    if (!s->open)
        s->open_at = perf_now();
    s->open = true;
}

static void on_msg(void *u, zdc_peer p, zdc_channel ch)
{
    perf_side *s = u;
    (void)p;
    const uint8_t *d;
    size_t len;
    bool text;
    while (zdc_channel_get_packet(ch, &d, &len, &text) == 0) {
        if (s->on_msg)
            s->on_msg(s, d, len, text);
        zdc_channel_release_packet(ch);
    }
}

static void on_state(void *u, zdc_peer p, int state)
{
    perf_side *s = u;
    (void)p;
    if (state == ZDC_STATE_FAILED)
        s->errors++;
}

int perf_side_new(perf_side *s, zdc_engine *e, int sig_fd, int idx)
{
    memset(s, 0, sizeof *s);
    s->sig_fd = sig_fd;
    s->idx = idx;
    zdc_peer_callbacks cb = {.user = s,
                             .on_session_description_created = on_desc,
                             .on_ice_candidate_created = on_cand,
                             .on_data_channel_received = on_dc,
                             .on_channel_open = on_open,
                             .on_channel_message = on_msg,
                             .on_connection_state_change = on_state};
    int rv = zdc_peer_new(e, &cb, &s->peer);
    if (rv != 0)
        return rv;
    zdc_peer_config cfg = {0};
    return zdc_peer_initialize(s->peer, &cfg);
}

int perf_side_offer(perf_side *s, bool reliable)
{
    zdc_channel_options o = zdc_channel_options_default();
    if (!reliable) {
        o.ordered = false;
        o.max_retransmits = 0;
    }
    int rv = zdc_peer_create_data_channel(s->peer, "perf", &o, &s->ch);
    if (rv != 0)
        return rv;
    s->has_ch = true;
    zdc_channel_set_write_mode(s->ch, ZDC_WRITE_MODE_BINARY);
    return zdc_peer_create_offer(s->peer);
}

void perf_side_apply(perf_side *s, const perf_sig_msg *m)
{
    int rv = 0;
    if (m->kind == 'D')
        rv = zdc_peer_set_remote_description(s->peer, m->a, m->text);
    else if (m->kind == 'C')
        rv = zdc_peer_add_ice_candidate(s->peer, m->a, m->num, m->text);
    if (rv != 0)
        s->errors++;
}

void perf_side_free(perf_side *s)
{
    zdc_peer_free(s->peer);
    s->peer = (zdc_peer){0};
    perf_rx_free(&s->rx);
}

void perf_side_check(perf_side *s, const uint8_t *p, size_t len, bool text)
{
    perf_rx_check(&s->rx, p, len, text);
}

void perf_side_echo(perf_side *s, const uint8_t *p, size_t len, bool text)
{
    (void)text;
    s->echoes++;
    if (zdc_channel_put_packet(s->ch, p, len) != 0)
        s->errors++;
}

int perf_side_fill(perf_side *s, uint8_t *buf, size_t size, uint64_t *seq, size_t high,
                   int max_msgs)
{
    int n = 0;
    while (n < max_msgs && zdc_channel_get_buffered_amount(s->ch) < high) {
        memcpy(buf, seq, 8);
        if (zdc_channel_put_packet(s->ch, buf, size) != 0)
            break;
        (*seq)++;
        n++;
    }
    return n;
}

zdc_engine *perf_engine_new(bool epoll)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    o.ipv6 = false;
    if (epoll)
        o.backend = ZDC_BACKEND_EPOLL;
    zdc_engine *e = NULL;
    if (zdc_engine_new(&o, &e) != 0)
        return NULL;
    return e;
}

zdc_engine *perf_engine_new_workers(int workers)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    o.ipv6 = false;
    o.workers = (unsigned)workers;
    o.io_thread = true; /* --workers 1: one worker beside the I/O thread */
    zdc_engine *e = NULL;
    if (zdc_engine_new(&o, &e) != 0)
        return NULL;
    return e;
}

void perf_spin_poll(zdc_engine *e, perf_spin *sp, bool activity)
{
    zdc_engine_stats st;
    zdc_engine_get_stats(e, &st);
    double now = perf_now();
    if (activity || st.rx_datagrams != sp->rx || sp->idle_since == 0) {
        sp->rx = st.rx_datagrams;
        sp->idle_since = now;
    }
    zdc_engine_poll(e, now - sp->idle_since > PERF_SPIN_S ? 1 : 0);
}
