/* The built-in peer connection: see pc.h. */
#include "pc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ice.h"
#include "iceurl.h"
#include "sctp.h"
#include "zdc/candidate.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/error.h"
#include "zdc/sdp.h"
#include "zdc/stun.h"

#define DEFAULT_MAX_MESSAGE        (256u * 1024u)
#define DEFAULT_SEND_QUEUE         (16u * 1024u * 1024u)
#define REMOTE_DEFAULT_MAX_MESSAGE (64u * 1024u)           /* RFC 8841 §6.1: absent means 64 KiB */
#define SEND_CAP                   ZDC_SCTP_DEFAULT_SNDBUF /* largest message we send */
#define MAX_PENDING_CANDIDATES     64
#define MAX_CHANNELS               1024
#define SDP_BUF                    16384
/* Bytes a DTLS 1.2 record adds to its payload with our worst cipher (AES-GCM: 13-byte header,
 * 8-byte explicit nonce, 16-byte tag). An SCTP packet must fit one record in one datagram of
 * ZDC_DTLS_DEFAULT_MTU bytes, or zdc_dtls_send() refuses it and SCTP retransmits it forever. */
#define DTLS_RECORD_OVERHEAD 37

typedef struct msg {
    struct msg *next;
    size_t len;
    bool text;
    uint32_t ppid;
    uint8_t data[];
} msg;

struct zdc_pc_channel {
    zdc_pc *pc;
    char *label, *protocol;
    bool negotiated, ordered;
    int max_rtx, max_life; /* -1 = unset */
    int id;                /* SCTP stream id, -1 until known */
    int state;             /* enum zdc_channel_state */
    bool local;            /* created by zdc_pc_create_channel */
    uint64_t handle;
    msg *rx_head, *rx_tail;
    int rx_count;
    msg *tx_head, *tx_tail;
    msg *tx_buf; /* zero-copy send buffer handed to the app (len = its capacity) */
    size_t tx_bytes;
    size_t low_threshold;
    bool reset_sent;
};

struct zdc_pc {
    zdc_pc_env env;
    zdc_addr *local;
    size_t n_local;

    int conn_state, gather_state, sig_state;
    bool closed;
    char err[192];

    zdc_ice *ice;
    zdc_dtls *dtls;
    zdc_sctp *sctp;
    bool ice_failed, dtls_failed, remote_closed, torn_down, sctp_up, sctp_failed;
    bool have_remote_addr;
    zdc_addr remote_addr;

    zdc_pc_channel **ch;
    size_t n_ch, cap_ch;

    zdc_pc_event *ev;
    size_t ev_head, ev_n, ev_cap;

    /* Offer/answer. */
    bool offerer;
    char *created_type, *created_sdp; /* what on_session_description_created handed out */
    bool local_set, remote_set;
    char *remote_text;
    zdc_sdp *remote;
    int remote_media; /* index of the data-channel m-section */
    int dtls_role;
    uint16_t remote_sctp_port;
    size_t remote_max_message;
    uint64_t sess_id, sess_version;

    char *pending[MAX_PENDING_CANDIDATES];
    size_t n_pending;
    bool pending_end;

    zdc_addr stun_servers[8];
    size_t n_stun;
    bool ice_lite;
};

/* ---- helpers --------------------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *dup_s(const char *s)
{
    return dup_n(s ? s : "", s ? strlen(s) : 0);
}

static void set_err(zdc_pc *pc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pc->err, sizeof pc->err, fmt, ap);
    va_end(ap);
}

static void notify(zdc_pc *pc)
{
    if (pc->env.notify)
        pc->env.notify(pc->env.user);
}

static void push_event(zdc_pc *pc, int kind, int state, zdc_pc_channel *ch, const char *text,
                       const char *text2)
{
    if (pc->closed)
        return;
    if (pc->ev_head + pc->ev_n == pc->ev_cap) {
        if (pc->ev_head > 0) {
            memmove(pc->ev, pc->ev + pc->ev_head, pc->ev_n * sizeof *pc->ev);
            pc->ev_head = 0;
        } else {
            size_t cap = pc->ev_cap ? pc->ev_cap * 2 : 32;
            zdc_pc_event *e = realloc(pc->ev, cap * sizeof *e);
            if (!e)
                return; /* out of memory: the event is lost, the connection goes on */
            pc->ev = e;
            pc->ev_cap = cap;
        }
    }
    zdc_pc_event *e = &pc->ev[pc->ev_head + pc->ev_n];
    *e = (zdc_pc_event){kind, state, ch, text ? dup_s(text) : NULL, text2 ? dup_s(text2) : NULL};
    pc->ev_n++;
    notify(pc);
}

static void drop_events(zdc_pc *pc)
{
    for (size_t i = 0; i < pc->ev_n; i++)
        zdc_pc_event_clear(&pc->ev[pc->ev_head + i]);
    pc->ev_head = pc->ev_n = 0;
}

int zdc_pc_next_event(zdc_pc *pc, zdc_pc_event *ev)
{
    if (pc->ev_n == 0)
        return 0;
    *ev = pc->ev[pc->ev_head++];
    if (--pc->ev_n == 0)
        pc->ev_head = 0;
    return 1;
}

void zdc_pc_event_clear(zdc_pc_event *ev)
{
    free(ev->text);
    free(ev->text2);
    ev->text = ev->text2 = NULL;
}

static void free_msgs(msg *m)
{
    while (m) {
        msg *n = m->next;
        free(m);
        m = n;
    }
}

static msg *new_msg(const uint8_t *p, size_t len, bool text, uint32_t ppid)
{
    msg *m = malloc(sizeof *m + (len ? len : 1));
    if (!m)
        return NULL;
    m->next = NULL;
    m->len = len;
    m->text = text;
    m->ppid = ppid;
    if (len)
        memcpy(m->data, p, len);
    return m;
}

/* ---- states ---------------------------------------------------------------------------- */

static void set_signaling(zdc_pc *pc, int s)
{
    if (pc->sig_state == s)
        return;
    pc->sig_state = s;
    push_event(pc, ZDC_PC_EV_SIGNALING, s, NULL, NULL, NULL);
}

static void update_connection_state(zdc_pc *pc)
{
    int s;
    int ice = pc->ice ? zdc_ice_state(pc->ice) : ZDC_ICE_NEW;
    bool dtls_up = pc->dtls && zdc_dtls_get_state(pc->dtls) == ZDC_DTLS_CONNECTED;
    if (pc->closed || pc->remote_closed)
        s = ZDC_STATE_CLOSED;
    else if (pc->ice_failed || pc->dtls_failed || pc->sctp_failed)
        s = ZDC_STATE_FAILED;
    else if (ice == ZDC_ICE_DISCONNECTED)
        s = ZDC_STATE_DISCONNECTED;
    else if ((ice == ZDC_ICE_CHECKING || ice == ZDC_ICE_CONNECTED || ice == ZDC_ICE_COMPLETED) &&
             dtls_up)
        /* A DTLS handshake that completed over an address ICE verified proves the path: the
         * controlling side may still be nominating (regular nomination waits for its checks),
         * but data already flows, as browsers report it. */
        s = ZDC_STATE_CONNECTED;
    else if (ice != ZDC_ICE_NEW || pc->dtls)
        s = ZDC_STATE_CONNECTING;
    else
        s = ZDC_STATE_NEW;
    if (s == pc->conn_state)
        return;
    pc->conn_state = s;
    push_event(pc, ZDC_PC_EV_CONNECTION, s, NULL, NULL, NULL);
}

/* ---- channels: lifecycle --------------------------------------------------------------- */

static void channel_set_state(zdc_pc_channel *c, int state)
{
    if (c->state == state)
        return;
    c->state = state;
    /* A channel that never opened reports CLOSE too: the application learns it failed. */
    if (state == ZDC_CHANNEL_OPEN)
        push_event(c->pc, ZDC_PC_EV_CHANNEL_OPEN, 0, c, NULL, NULL);
    else if (state == ZDC_CHANNEL_CLOSED)
        push_event(c->pc, ZDC_PC_EV_CHANNEL_CLOSE, 0, c, NULL, NULL);
    if (state == ZDC_CHANNEL_CLOSED) {
        free_msgs(c->tx_head);
        c->tx_head = c->tx_tail = NULL;
        c->tx_bytes = 0;
    }
}

static zdc_pc_channel *channel_alloc(zdc_pc *pc, const char *label, size_t label_len,
                                     const char *protocol, size_t protocol_len)
{
    if (pc->n_ch >= MAX_CHANNELS)
        return NULL;
    if (pc->n_ch == pc->cap_ch) {
        size_t cap = pc->cap_ch ? pc->cap_ch * 2 : 8;
        zdc_pc_channel **a = realloc(pc->ch, cap * sizeof *a);
        if (!a)
            return NULL;
        pc->ch = a;
        pc->cap_ch = cap;
    }
    zdc_pc_channel *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->label = dup_n(label, label_len);
    c->protocol = dup_n(protocol, protocol_len);
    if (!c->label || !c->protocol) {
        free(c->label);
        free(c->protocol);
        free(c);
        return NULL;
    }
    c->pc = pc;
    c->id = -1;
    c->max_rtx = c->max_life = -1;
    c->ordered = true;
    c->state = ZDC_CHANNEL_CONNECTING;
    pc->ch[pc->n_ch++] = c;
    return c;
}

static void channel_free(zdc_pc_channel *c)
{
    free_msgs(c->rx_head);
    free_msgs(c->tx_head);
    free(c->tx_buf);
    free(c->label);
    free(c->protocol);
    free(c);
}

static zdc_pc_channel *channel_by_stream(zdc_pc *pc, int stream)
{
    for (size_t i = 0; i < pc->n_ch; i++)
        if (pc->ch[i]->id == stream && pc->ch[i]->state != ZDC_CHANNEL_CLOSED)
            return pc->ch[i];
    return NULL;
}

static bool stream_in_use(zdc_pc *pc, int stream)
{
    for (size_t i = 0; i < pc->n_ch; i++)
        if (pc->ch[i]->id == stream && pc->ch[i]->state != ZDC_CHANNEL_CLOSED)
            return true;
    return false;
}

/* RFC 8832 §6: "If the side is acting as the DTLS client, it MUST choose an even stream
 * identifier; if the side is acting as the DTLS server, it MUST choose an odd one." */
static int pick_stream(zdc_pc *pc)
{
    int limit = pc->sctp ? zdc_sctp_out_streams(pc->sctp) : 0;
    for (int s = pc->dtls_role == ZDC_DTLS_CLIENT ? 0 : 1; s < limit; s += 2)
        if (!stream_in_use(pc, s))
            return s;
    return -1;
}

static zdc_sctp_send_opts channel_send_opts(const zdc_pc_channel *c)
{
    zdc_sctp_send_opts o = {.unordered = !c->ordered};
    if (c->max_rtx >= 0) {
        o.pr_policy = ZDC_SCTP_PR_RTX;
        o.pr_value = (uint32_t)c->max_rtx;
    } else if (c->max_life >= 0) {
        o.pr_policy = ZDC_SCTP_PR_TTL;
        o.pr_value = (uint32_t)c->max_life;
    }
    return o;
}

/* Resets our outgoing stream: RFC 8831 §6.7 closes a channel this way. */
static void channel_reset(zdc_pc_channel *c)
{
    if (c->reset_sent || c->id < 0 || !c->pc->sctp || !c->pc->sctp_up)
        return;
    c->reset_sent = true;
    zdc_sctp_reset_stream(c->pc->sctp, (uint16_t)c->id);
}

static void channel_send_open(zdc_pc_channel *c)
{
    zdc_pc *pc = c->pc;
    zdc_dcep_reliability r = {.ordered = c->ordered};
    if (c->max_rtx >= 0) {
        r.has_max_retransmits = true;
        r.max_retransmits = (uint32_t)c->max_rtx;
    } else if (c->max_life >= 0) {
        r.has_max_packet_life_time = true;
        r.max_packet_life_time = (uint32_t)c->max_life;
    }
    zdc_dcep_open open = {.priority = 256,
                          .label = (const uint8_t *)c->label,
                          .label_len = (uint16_t)strlen(c->label),
                          .protocol = (const uint8_t *)c->protocol,
                          .protocol_len = (uint16_t)strlen(c->protocol)};
    zdc_dcep_reliability_encode(&r, &open.channel_type, &open.reliability);
    size_t n = zdc_dcep_open_size(&open);
    uint8_t *buf = malloc(n);
    if (!buf)
        return;
    int len = zdc_dcep_open_build(&open, buf, n);
    /* RFC 8832 §6: "All DCEP messages MUST be sent using ordered delivery and reliable
     * transmission." */
    zdc_sctp_send_opts o = {0};
    if (len > 0 &&
        zdc_sctp_send(pc->sctp, (uint16_t)c->id, ZDC_PPID_DCEP, buf, (size_t)len, &o) != 0)
        channel_set_state(c, ZDC_CHANNEL_CLOSED);
    free(buf);
}

/* SCTP is up: negotiated channels open now; ours get a stream and send DATA_CHANNEL_OPEN. */
static void open_channels(zdc_pc *pc)
{
    for (size_t i = 0; i < pc->n_ch; i++) {
        zdc_pc_channel *c = pc->ch[i];
        if (c->state != ZDC_CHANNEL_CONNECTING)
            continue;
        if (c->negotiated) {
            channel_set_state(c, ZDC_CHANNEL_OPEN);
        } else if (c->local && c->id < 0) {
            c->id = pick_stream(pc);
            if (c->id < 0)
                channel_set_state(c, ZDC_CHANNEL_CLOSED);
            else
                channel_send_open(c);
        }
    }
}

static void low_check(zdc_pc_channel *c, size_t before)
{
    if (before > c->low_threshold && c->tx_bytes <= c->low_threshold)
        push_event(c->pc, ZDC_PC_EV_CHANNEL_LOW, 0, c, NULL, NULL);
}

/* Hands queued messages to SCTP until it pushes back. */
static void flush_channel(zdc_pc_channel *c)
{
    zdc_pc *pc = c->pc;
    size_t before = c->tx_bytes;
    while (c->tx_head && pc->sctp_up && c->state == ZDC_CHANNEL_OPEN) {
        msg *m = c->tx_head;
        zdc_sctp_send_opts o = channel_send_opts(c);
        int rv =
            zdc_sctp_send(pc->sctp, (uint16_t)c->id, m->ppid, m->data, m->len ? m->len : 1, &o);
        if (rv == ZDC_ERR_AGAIN)
            break;
        c->tx_head = m->next;
        if (!c->tx_head)
            c->tx_tail = NULL;
        c->tx_bytes -= m->len;
        free(m);
    }
    low_check(c, before);
}

static void flush_all(zdc_pc *pc)
{
    for (size_t i = 0; i < pc->n_ch; i++)
        if (pc->ch[i]->tx_head)
            flush_channel(pc->ch[i]);
}

/* ---- channels: public calls ------------------------------------------------------------ */

/* RFC 8831 §6.6: an empty message is sent as one zero byte with PPID 56 or 57. */
static uint32_t ppid_for(size_t len, bool text)
{
    return text ? (len ? ZDC_PPID_STRING : ZDC_PPID_STRING_EMPTY)
                : (len ? ZDC_PPID_BINARY : ZDC_PPID_BINARY_EMPTY);
}

/* Checks shared by both send paths. */
static int send_check(zdc_pc_channel *c, size_t len)
{
    zdc_pc *pc = c->pc;
    if (c->state != ZDC_CHANNEL_OPEN || !pc->sctp_up)
        return ZDC_ERR_INVALID_STATE;
    if (len > pc->remote_max_message)
        return ZDC_ERR_TOO_LARGE;
    if (c->tx_bytes + len > pc->env.send_queue_limit)
        return ZDC_ERR_QUEUE_FULL;
    return 0;
}

/* Hands a message straight to SCTP when nothing is queued before it. Returns 0 (sent),
 * ZDC_ERR_AGAIN (queue it) or another error. */
static int send_now(zdc_pc_channel *c, const uint8_t *p, size_t len, uint32_t ppid)
{
    static const uint8_t zero = 0;
    if (c->tx_head)
        return ZDC_ERR_AGAIN;
    zdc_sctp_send_opts o = channel_send_opts(c);
    return zdc_sctp_send(c->pc->sctp, (uint16_t)c->id, ppid, len ? p : &zero, len ? len : 1, &o);
}

static void enqueue(zdc_pc_channel *c, msg *m)
{
    m->next = NULL;
    if (c->tx_tail)
        c->tx_tail->next = m;
    else
        c->tx_head = m;
    c->tx_tail = m;
    c->tx_bytes += m->len;
}

int zdc_pc_channel_send(zdc_pc_channel *c, const uint8_t *p, size_t len, bool text)
{
    if (len > 0 && !p)
        return ZDC_ERR_INVALID_PARAMETER;
    int rv = send_check(c, len);
    if (rv != 0)
        return rv;
    uint32_t ppid = ppid_for(len, text);
    rv = send_now(c, p, len, ppid);
    if (rv != ZDC_ERR_AGAIN)
        return rv;
    msg *m = new_msg(p, len, text, ppid);
    if (!m)
        return ZDC_ERR_NOMEM;
    if (!len)
        m->data[0] = 0;
    enqueue(c, m);
    return 0;
}

int zdc_pc_channel_buffer_acquire(zdc_pc_channel *c, size_t cap, uint8_t **data)
{
    if (!data)
        return ZDC_ERR_INVALID_PARAMETER;
    if (c->tx_buf)
        return ZDC_ERR_INVALID_STATE;
    if (c->state != ZDC_CHANNEL_OPEN || !c->pc->sctp_up)
        return ZDC_ERR_INVALID_STATE;
    if (cap > c->pc->remote_max_message)
        return ZDC_ERR_TOO_LARGE;
    msg *m = malloc(sizeof *m + (cap ? cap : 1));
    if (!m)
        return ZDC_ERR_NOMEM;
    m->next = NULL;
    m->len = cap;
    c->tx_buf = m;
    *data = m->data;
    return 0;
}

int zdc_pc_channel_buffer_submit(zdc_pc_channel *c, size_t len, bool text)
{
    msg *m = c->tx_buf;
    if (!m)
        return ZDC_ERR_INVALID_STATE;
    if (len > m->len)
        return ZDC_ERR_INVALID_PARAMETER;
    int rv = send_check(c, len);
    if (rv == ZDC_ERR_INVALID_STATE) /* the channel closed meanwhile: the buffer goes too */
        zdc_pc_channel_buffer_discard(c);
    if (rv != 0)
        return rv;
    uint32_t ppid = ppid_for(len, text);
    if (!len)
        m->data[0] = 0;
    rv = send_now(c, m->data, len, ppid);
    if (rv == 0) {
        zdc_pc_channel_buffer_discard(c);
        return 0;
    }
    if (rv != ZDC_ERR_AGAIN)
        return rv;
    /* Queued as it is: the bytes the application wrote are not copied again. */
    m->len = len;
    m->text = text;
    m->ppid = ppid;
    c->tx_buf = NULL;
    enqueue(c, m);
    return 0;
}

void zdc_pc_channel_buffer_discard(zdc_pc_channel *c)
{
    free(c->tx_buf);
    c->tx_buf = NULL;
}

int zdc_pc_channel_send_raw(zdc_pc_channel *c, uint32_t ppid, const uint8_t *p, size_t len)
{
    zdc_pc *pc = c->pc;
    if (c->id < 0 || !pc->sctp_up || pc->closed)
        return ZDC_ERR_INVALID_STATE;
    zdc_sctp_send_opts o = {0};
    return zdc_sctp_send(pc->sctp, (uint16_t)c->id, ppid, p, len, &o);
}

int zdc_pc_channel_peek(zdc_pc_channel *c, const uint8_t **p, size_t *len, bool *was_string)
{
    if (!c->rx_head)
        return ZDC_ERR_AGAIN;
    *p = c->rx_head->data;
    *len = c->rx_head->len;
    if (was_string)
        *was_string = c->rx_head->text;
    return 0;
}

void zdc_pc_channel_release(zdc_pc_channel *c)
{
    msg *m = c->rx_head;
    if (!m)
        return;
    c->rx_head = m->next;
    if (!c->rx_head)
        c->rx_tail = NULL;
    c->rx_count--;
    free(m);
}

uint32_t zdc_pc_channel_peek_ppid(const zdc_pc_channel *c)
{
    return c->rx_head ? c->rx_head->ppid : 0;
}

int zdc_pc_channel_available(const zdc_pc_channel *c)
{
    return c->rx_count;
}

int zdc_pc_channel_close(zdc_pc_channel *c)
{
    if (c->state == ZDC_CHANNEL_CLOSED || c->state == ZDC_CHANNEL_CLOSING)
        return 0;
    if (c->id < 0 || !c->pc->sctp_up) {
        channel_set_state(c, ZDC_CHANNEL_CLOSED);
        return 0;
    }
    channel_set_state(c, ZDC_CHANNEL_CLOSING);
    channel_reset(c);
    return 0;
}

int zdc_pc_channel_state(const zdc_pc_channel *c)
{
    return c->state;
}
const char *zdc_pc_channel_label(const zdc_pc_channel *c)
{
    return c->label;
}
const char *zdc_pc_channel_protocol(const zdc_pc_channel *c)
{
    return c->protocol;
}
int zdc_pc_channel_id(const zdc_pc_channel *c)
{
    return c->id;
}
bool zdc_pc_channel_ordered(const zdc_pc_channel *c)
{
    return c->ordered;
}
bool zdc_pc_channel_negotiated(const zdc_pc_channel *c)
{
    return c->negotiated;
}
int zdc_pc_channel_max_packet_life_time(const zdc_pc_channel *c)
{
    return c->max_life;
}
int zdc_pc_channel_max_retransmits(const zdc_pc_channel *c)
{
    return c->max_rtx;
}
size_t zdc_pc_channel_buffered_amount(const zdc_pc_channel *c)
{
    return c->tx_bytes;
}
void zdc_pc_channel_set_low_threshold(zdc_pc_channel *c, size_t b)
{
    c->low_threshold = b;
}
uint64_t zdc_pc_channel_handle(const zdc_pc_channel *c)
{
    return c->handle;
}
void zdc_pc_channel_set_handle(zdc_pc_channel *c, uint64_t id)
{
    c->handle = id;
}

/* ---- SCTP callbacks -------------------------------------------------------------------- */

static int sctp_out(void *user, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    if (!pc->dtls)
        return ZDC_ERR_INVALID_STATE;
    return zdc_dtls_send(pc->dtls, p, len);
}

static void sctp_up(void *user, uint16_t in, uint16_t out)
{
    zdc_pc *pc = user;
    notify(pc);
    pc->sctp_up = true;
    open_channels(pc);
}

static void sctp_down(void *user, int reason)
{
    zdc_pc *pc = user;
    notify(pc);
    pc->sctp_up = false;
    /* An ABORT or SHUTDOWN from the peer ends the connection (zdc_pc_close and browsers send
     * one); an association that never came up is a failure. */
    if (reason == ZDC_SCTP_DOWN_CANT_START)
        pc->sctp_failed = true;
    else
        pc->remote_closed = true;
    for (size_t i = 0; i < pc->n_ch; i++)
        channel_set_state(pc->ch[i], ZDC_CHANNEL_CLOSED);
    update_connection_state(pc);
}

/* Closes the channel on `stream` (or, with none, just resets the stream: RFC 8831 §6.7). */
static void refuse_stream(zdc_pc *pc, zdc_pc_channel *c, uint16_t stream)
{
    if (c)
        zdc_pc_channel_close(c);
    else
        zdc_sctp_reset_stream(pc->sctp, stream);
}

static void handle_dcep(zdc_pc *pc, uint16_t stream, const uint8_t *p, size_t len)
{
    zdc_dcep_msg m;
    zdc_pc_channel *c = channel_by_stream(pc, stream);
    /* RFC 8832 §6: an OPEN on an unused stream of the peer's parity with valid parameters is
     * acknowledged; otherwise "the receiver MUST close the corresponding data channel ... and
     * MUST NOT send a DATA_CHANNEL_ACK". A message that does not parse is treated alike. */
    if (zdc_dcep_parse(p, len, &m) != 0) {
        refuse_stream(pc, c, stream);
        return;
    }
    if (m.type == ZDC_DCEP_ACK) {
        if (c && c->local && c->state == ZDC_CHANNEL_CONNECTING)
            channel_set_state(c, ZDC_CHANNEL_OPEN);
        return;
    }
    bool ours = (stream % 2 == 0) == (pc->dtls_role == ZDC_DTLS_CLIENT);
    zdc_dcep_reliability r;
    if (c || ours ||
        zdc_dcep_reliability_decode(m.open.channel_type, m.open.reliability, &r) != 0) {
        refuse_stream(pc, c, stream);
        return;
    }
    c = channel_alloc(pc, (const char *)m.open.label, m.open.label_len,
                      (const char *)m.open.protocol, m.open.protocol_len);
    if (!c) {
        zdc_sctp_reset_stream(pc->sctp, stream);
        return;
    }
    c->id = stream;
    c->ordered = r.ordered;
    c->max_rtx = r.has_max_retransmits ? (int)r.max_retransmits : -1;
    c->max_life = r.has_max_packet_life_time ? (int)r.max_packet_life_time : -1;
    uint8_t ack[4];
    int n = zdc_dcep_ack_build(ack, sizeof ack);
    zdc_sctp_send_opts o = {0};
    if (n > 0)
        zdc_sctp_send(pc->sctp, stream, ZDC_PPID_DCEP, ack, (size_t)n, &o);
    push_event(pc, ZDC_PC_EV_DATA_CHANNEL, 0, c, NULL, NULL);
    channel_set_state(c, ZDC_CHANNEL_OPEN);
}

static void sctp_message(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                         unsigned flags)
{
    zdc_pc *pc = user;
    notify(pc);
    if (ppid == ZDC_PPID_DCEP) {
        handle_dcep(pc, stream, p, len);
        return;
    }
    zdc_pc_channel *c = channel_by_stream(pc, stream);
    if (!c)
        return;
    /* RFC 8832 §6: user data before the ACK means the peer got our OPEN. */
    if (c->state == ZDC_CHANNEL_CONNECTING && c->local)
        channel_set_state(c, ZDC_CHANNEL_OPEN);
    if (c->state != ZDC_CHANNEL_OPEN)
        return;
    bool text;
    switch (ppid) {
    case ZDC_PPID_STRING:
    case ZDC_PPID_STRING_PARTIAL:
        text = true;
        break;
    case ZDC_PPID_BINARY:
    case ZDC_PPID_BINARY_PARTIAL:
        text = false;
        break;
    case ZDC_PPID_STRING_EMPTY:
        text = true;
        len = 0;
        break;
    case ZDC_PPID_BINARY_EMPTY:
        text = false;
        len = 0;
        break;
    default:
        return; /* unknown PPID: not a data-channel message */
    }
    msg *m = new_msg(p, len, text, ppid);
    if (!m)
        return;
    if (c->rx_tail)
        c->rx_tail->next = m;
    else
        c->rx_head = m;
    c->rx_tail = m;
    c->rx_count++;
    push_event(pc, ZDC_PC_EV_CHANNEL_MESSAGE, 0, c, NULL, NULL);
}

static void sctp_too_large(void *user, uint16_t stream, uint32_t ppid)
{
    zdc_pc *pc = user;
    notify(pc);
    zdc_pc_channel *c = channel_by_stream(pc, stream);
    if (c)
        zdc_pc_channel_close(c);
}

/* The peer reset its outgoing stream: RFC 8831 §6.7 — the channel is closed; reset ours too. */
static void sctp_stream_reset(void *user, uint16_t stream)
{
    zdc_pc *pc = user;
    notify(pc);
    zdc_pc_channel *c = channel_by_stream(pc, stream);
    if (!c)
        return;
    channel_reset(c);
    channel_set_state(c, ZDC_CHANNEL_CLOSED);
}

static void sctp_buffered(void *user, size_t amount)
{
    zdc_pc *pc = user;
    notify(pc);
    flush_all(pc);
}

/* ---- DTLS callbacks -------------------------------------------------------------------- */

static int dtls_out(void *user, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    if (!pc->have_remote_addr)
        return ZDC_ERR_INVALID_STATE;
    pc->env.send(pc->env.user, &pc->remote_addr, p, len);
    return 0;
}

static void dtls_data(void *user, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    if (pc->sctp)
        zdc_sctp_handle_packet(pc->sctp, p, len);
}

/* ---- ICE callbacks --------------------------------------------------------------------- */

static void ice_send(void *user, const zdc_addr *to, const uint8_t *p, size_t len)
{
    zdc_pc *pc = user;
    pc->env.send(pc->env.user, to, p, len);
}

static void ice_random(void *user, uint8_t *p, size_t n)
{
    zdc_pc *pc = user;
    pc->env.random(pc->env.user, p, n);
}

static void ice_candidate(void *user, const zdc_candidate *c)
{
    zdc_pc *pc = user;
    char line[600];
    const char *mid = "0";
    if (pc->remote && pc->remote_media >= 0 && pc->remote->media[pc->remote_media].mid.len)
        mid = NULL;
    char midbuf[64] = "0";
    if (!mid) {
        zdc_sdp_str m = pc->remote->media[pc->remote_media].mid;
        snprintf(midbuf, sizeof midbuf, "%.*s", (int)m.len, m.p);
    }
    if (!c) {
        push_event(pc, ZDC_PC_EV_CANDIDATE, 0, NULL, midbuf, "");
        return;
    }
    if (zdc_candidate_format(c, line, sizeof line) < 0)
        return;
    push_event(pc, ZDC_PC_EV_CANDIDATE, 0, NULL, midbuf, line);
}

static void start_dtls_if_ready(zdc_pc *pc, uint64_t now_ns);

static void ice_state(void *user, int state)
{
    zdc_pc *pc = user;
    if (state == ZDC_ICE_FAILED)
        pc->ice_failed = true;
    update_connection_state(pc);
}

static void ice_gathering(void *user, int state)
{
    zdc_pc *pc = user;
    if (pc->gather_state == state)
        return;
    pc->gather_state = state;
    push_event(pc, ZDC_PC_EV_GATHERING, state, NULL, NULL, NULL);
}

static void ice_selected(void *user, const zdc_addr *local, const zdc_addr *remote)
{
    zdc_pc *pc = user;
    pc->remote_addr = *remote;
    pc->have_remote_addr = true;
}

/* ---- life cycle ------------------------------------------------------------------------ */

int zdc_pc_new(const zdc_pc_env *env, zdc_pc **out)
{
    if (!env || !out || !env->send || !env->random || !env->cert)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_pc *pc = calloc(1, sizeof *pc);
    if (!pc)
        return ZDC_ERR_NOMEM;
    pc->env = *env;
    if (!pc->env.max_message_size)
        pc->env.max_message_size = DEFAULT_MAX_MESSAGE;
    if (!pc->env.send_queue_limit)
        pc->env.send_queue_limit = DEFAULT_SEND_QUEUE;
    if (env->n_local) {
        pc->local = malloc(env->n_local * sizeof *pc->local);
        if (!pc->local) {
            free(pc);
            return ZDC_ERR_NOMEM;
        }
        memcpy(pc->local, env->local, env->n_local * sizeof *pc->local);
        pc->n_local = env->n_local;
    }
    pc->env.local = NULL;
    pc->remote_media = -1;
    pc->dtls_role = 0;
    zdc_dtls_cert_ref(pc->env.cert); /* dropped by zdc_pc_del */
    *out = pc;
    return 0;
}

/* Tears down the connection and forgets signaling; channels are freed too when `channels`. */
static void reset_connection(zdc_pc *pc, bool channels)
{
    if (pc->sctp) {
        zdc_sctp_del(pc->sctp);
        pc->sctp = NULL;
    }
    if (pc->dtls) {
        zdc_dtls_del(pc->dtls);
        pc->dtls = NULL;
    }
    if (pc->ice) {
        zdc_ice_free(pc->ice);
        pc->ice = NULL;
    }
    if (channels) {
        for (size_t i = 0; i < pc->n_ch; i++)
            channel_free(pc->ch[i]);
        pc->n_ch = 0;
    }
    free(pc->created_type);
    free(pc->created_sdp);
    free(pc->remote_text);
    free(pc->remote);
    pc->created_type = pc->created_sdp = pc->remote_text = NULL;
    pc->remote = NULL;
    for (size_t i = 0; i < pc->n_pending; i++)
        free(pc->pending[i]);
    pc->n_pending = 0;
    pc->pending_end = false;
    pc->local_set = pc->remote_set = pc->offerer = false;
    pc->remote_media = -1;
    pc->dtls_role = 0;
    pc->ice_failed = pc->dtls_failed = pc->remote_closed = pc->torn_down = pc->sctp_up = false;
    pc->sctp_failed = pc->have_remote_addr = false;
    pc->remote_max_message = 0;
}

void zdc_pc_del(zdc_pc *pc)
{
    if (!pc)
        return;
    pc->closed = true;
    reset_connection(pc, true);
    drop_events(pc);
    free(pc->ev);
    free(pc->ch);
    free(pc->local);
    zdc_dtls_cert_del(pc->env.cert);
    free(pc);
}

int zdc_pc_initialize(zdc_pc *pc, const zdc_peer_config *cfg)
{
    zdc_addr servers[8];
    size_t n = 0;
    for (size_t i = 0; cfg && i < cfg->n_ice_servers; i++) {
        zdc_iceurl urls[8];
        size_t nu = 0;
        int rv = zdc_iceurl_parse_list(cfg->ice_servers[i].urls, urls, 8, &nu);
        if (rv != 0) {
            set_err(pc, "ice server %zu: malformed URL list", i);
            return rv;
        }
        for (size_t k = 0; k < nu; k++) {
            if (urls[k].scheme != ZDC_ICEURL_STUN) {
                set_err(pc, "ice server %zu: turn/turns relaying is not supported yet", i);
                return ZDC_ERR_NOT_SUPPORTED;
            }
            if (n == 8) {
                set_err(pc, "too many STUN servers (at most 8)");
                return ZDC_ERR_INVALID_PARAMETER;
            }
            if (zdc_addr_from_ip(&servers[n], urls[k].host, strlen(urls[k].host), urls[k].port) !=
                0) {
                set_err(pc,
                        "ice server %zu: '%s' is not a numeric address (names are resolved "
                        "by the engine)",
                        i, urls[k].host);
                return ZDC_ERR_INVALID_PARAMETER;
            }
            n++;
        }
    }
    pc->closed = false;
    reset_connection(pc, true);
    drop_events(pc);
    memcpy(pc->stun_servers, servers, n * sizeof *servers);
    pc->n_stun = n;
    pc->ice_lite = cfg ? cfg->ice_lite : false;
    pc->conn_state = ZDC_STATE_NEW;
    pc->gather_state = ZDC_GATHERING_NEW;
    pc->sig_state = ZDC_SIGNALING_STABLE;
    pc->err[0] = '\0';
    return 0;
}

int zdc_pc_create_channel(zdc_pc *pc, const char *label, const zdc_channel_options *opts,
                          zdc_pc_channel **out)
{
    /* The defaults of zdc_channel_options_default(), spelled out so core/pc does not pull in
     * the public API layer (which needs an engine). */
    const zdc_channel_options d = {.id = -1,
                                   .max_packet_life_time = -1,
                                   .max_retransmits = -1,
                                   .ordered = true,
                                   .protocol = ""};
    if (!opts)
        opts = &d;
    if (pc->closed || pc->conn_state == ZDC_STATE_FAILED || pc->conn_state == ZDC_STATE_CLOSED) {
        set_err(pc, "the connection is %s", pc->closed ? "closed" : "failed or closed");
        return ZDC_ERR_INVALID_STATE;
    }
    const char *proto = opts->protocol ? opts->protocol : "";
    if (!label)
        label = "";
    if (strlen(label) > 65535 || strlen(proto) > 65535) {
        set_err(pc, "label or protocol longer than 65535 bytes");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (opts->negotiated != (opts->id >= 0) || opts->id > 65534) {
        set_err(pc, "negotiated and id go together (id 0..65534)");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (opts->max_packet_life_time >= 0 && opts->max_retransmits >= 0) {
        set_err(pc, "max_packet_life_time and max_retransmits are exclusive");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (opts->negotiated && stream_in_use(pc, opts->id)) {
        set_err(pc, "channel id %d is already used", opts->id);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    zdc_pc_channel *c = channel_alloc(pc, label, strlen(label), proto, strlen(proto));
    if (!c)
        return pc->n_ch >= MAX_CHANNELS ? ZDC_ERR_QUEUE_FULL : ZDC_ERR_NOMEM;
    c->local = true;
    c->negotiated = opts->negotiated;
    c->id = opts->negotiated ? opts->id : -1;
    c->ordered = opts->ordered;
    c->max_rtx = opts->max_retransmits >= 0 ? opts->max_retransmits : -1;
    c->max_life = opts->max_packet_life_time >= 0 ? opts->max_packet_life_time : -1;
    *out = c;
    if (pc->sctp_up)
        open_channels(pc); /* created on a live association: open it now */
    return 0;
}

static int make_ice(zdc_pc *pc, int role)
{
    zdc_ice_config ic = {.role = role,
                         .lite = pc->ice_lite,
                         .user = pc,
                         .random = ice_random,
                         .send = ice_send,
                         .on_candidate = ice_candidate,
                         .on_state = ice_state,
                         .on_gathering_state = ice_gathering,
                         .on_selected_pair = ice_selected};
    int rv = zdc_ice_new(&ic, &pc->ice);
    if (rv != 0)
        return rv;
    for (size_t i = 0; i < pc->n_local; i++)
        zdc_ice_add_local_address(pc->ice, &pc->local[i]);
    for (size_t i = 0; i < pc->n_stun; i++)
        zdc_ice_add_stun_server(pc->ice, &pc->stun_servers[i]);
    return 0;
}

/* Writes this peer's offer or answer (answer: a=setup from `role`) into a new buffer. */
static int render_description(zdc_pc *pc, bool offer, int role, char **out)
{
    char *buf = malloc(SDP_BUF);
    if (!buf)
        return ZDC_ERR_NOMEM;
    zdc_sdp_desc d = {0};
    d.sess_id = pc->sess_id;
    d.sess_version = pc->sess_version;
    const char *uf = zdc_ice_local_ufrag(pc->ice), *pw = zdc_ice_local_pwd(pc->ice);
    d.ice_ufrag = (zdc_sdp_str){uf, strlen(uf)};
    d.ice_pwd = (zdc_sdp_str){pw, strlen(pw)};
    d.fingerprint.hash = ZDC_SDP_HASH_SHA256;
    d.fingerprint.len = ZDC_DTLS_SHA256_LEN;
    memcpy(d.fingerprint.bytes, zdc_dtls_cert_fingerprint(pc->env.cert), ZDC_DTLS_SHA256_LEN);
    d.ice_lite = pc->ice_lite;
    d.trickle = true;
    d.sctp_port = ZDC_SCTP_DEFAULT_PORT;
    d.max_message_size = pc->env.max_message_size;
    d.mid = (zdc_sdp_str){"0", 1};
    int n;
    if (offer) {
        d.setup = ZDC_SDP_SETUP_ACTPASS;
        n = zdc_sdp_build_offer(&d, buf, SDP_BUF);
    } else {
        d.setup = role == ZDC_DTLS_CLIENT ? ZDC_SDP_SETUP_ACTIVE : ZDC_SDP_SETUP_PASSIVE;
        n = zdc_sdp_build_answer(&d, pc->remote, buf, SDP_BUF);
    }
    if (n < 0) {
        free(buf);
        set_err(pc, "building the %s failed: %s", offer ? "offer" : "answer", zdc_strerror(n));
        return n;
    }
    *out = buf;
    return 0;
}

static int build_description(zdc_pc *pc, bool offer)
{
    if (!pc->sess_id) {
        uint8_t r[8];
        pc->env.random(pc->env.user, r, sizeof r);
        for (int i = 0; i < 8; i++)
            pc->sess_id = pc->sess_id << 8 | r[i];
        pc->sess_id &= 0x7fffffffffffffffull; /* JSEP §5.2.1: top bit zero */
        if (!pc->sess_id)
            pc->sess_id = 1;
    }
    pc->sess_version++;
    char *buf, *type = dup_s(offer ? "offer" : "answer");
    if (!type)
        return ZDC_ERR_NOMEM;
    int rv = render_description(pc, offer, pc->dtls_role, &buf);
    if (rv != 0) {
        free(type);
        return rv;
    }
    free(pc->created_type);
    free(pc->created_sdp);
    pc->created_type = type;
    pc->created_sdp = buf;
    push_event(pc, ZDC_PC_EV_DESCRIPTION, 0, NULL, pc->created_type, buf);
    return 0;
}

/* The application may change its answer's a=setup between active and passive (the one edit
 * accepted, RFC 8842 §5.3: the answerer picks the role when the offer said actpass). Returns
 * true, with the role switched, when `sdp` is the created answer with the other role. */
static bool answer_with_other_role(zdc_pc *pc, const char *sdp)
{
    const zdc_sdp_media *m = &pc->remote->media[pc->remote_media];
    if (strcmp(pc->created_type, "answer") != 0 || m->setup != ZDC_SDP_SETUP_ACTPASS)
        return false;
    int other = pc->dtls_role == ZDC_DTLS_CLIENT ? ZDC_DTLS_SERVER : ZDC_DTLS_CLIENT;
    char *alt;
    if (render_description(pc, false, other, &alt) != 0)
        return false;
    if (strcmp(alt, sdp) != 0) {
        free(alt);
        return false;
    }
    free(pc->created_sdp);
    pc->created_sdp = alt;
    pc->dtls_role = other;
    return true;
}

int zdc_pc_create_offer(zdc_pc *pc, uint64_t now_ns)
{
    if (pc->closed || pc->sig_state != ZDC_SIGNALING_STABLE || pc->remote_set)
        return ZDC_ERR_INVALID_STATE;
    if (pc->n_ch == 0) {
        set_err(pc, "create a data channel before the offer");
        return ZDC_ERR_INVALID_STATE;
    }
    if (!pc->ice) {
        int rv = make_ice(pc, ZDC_ICE_CONTROLLING);
        if (rv != 0)
            return rv;
    }
    pc->offerer = true;
    return build_description(pc, true);
}

/* Fills in a remote DTLS fingerprint from the section: sha-256 preferred. */
static int remote_fingerprint(const zdc_sdp_media *m, zdc_dtls_fingerprint *fp)
{
    static const struct {
        enum zdc_sdp_hash sdp;
        zdc_dtls_hash dtls;
    } order[] = {{ZDC_SDP_HASH_SHA256, ZDC_DTLS_HASH_SHA256},
                 {ZDC_SDP_HASH_SHA384, ZDC_DTLS_HASH_SHA384},
                 {ZDC_SDP_HASH_SHA512, ZDC_DTLS_HASH_SHA512},
                 {ZDC_SDP_HASH_SHA1, ZDC_DTLS_HASH_SHA1}};
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++)
        for (size_t i = 0; i < m->n_fingerprints; i++)
            if (m->fingerprints[i].hash == order[k].sdp) {
                fp->hash = order[k].dtls;
                fp->len = m->fingerprints[i].len;
                memcpy(fp->bytes, m->fingerprints[i].bytes, fp->len);
                return 0;
            }
    return ZDC_ERR_NOT_SUPPORTED;
}

static int add_candidate_text(zdc_pc *pc, const char *s, size_t len)
{
    zdc_candidate c;
    int rv = zdc_candidate_parse(s, len, &c);
    if (rv == 1) /* end of candidates */
        return zdc_ice_add_remote_candidate(pc->ice, NULL);
    if (rv == ZDC_ERR_NOT_SUPPORTED)
        return 0; /* a transport we do not use (e.g. a future one): skip it */
    if (rv != 0) {
        set_err(pc, "candidate '%.*s': %s", (int)(len > 80 ? 80 : len), s, zdc_strerror(rv));
        return rv;
    }
    rv = zdc_ice_add_remote_candidate(pc->ice, &c);
    return rv == ZDC_ERR_QUEUE_FULL ? 0 : rv;
}

/* Creates DTLS and SCTP once both descriptions are known. */
static int start_transport(zdc_pc *pc, uint64_t now_ns)
{
    const zdc_sdp_media *m = &pc->remote->media[pc->remote_media];
    zdc_dtls_config dc;
    zdc_dtls_config_default(&dc);
    dc.role = pc->dtls_role;
    dc.cert = pc->env.cert;
    dc.send = dtls_out;
    dc.on_data = dtls_data;
    dc.user = pc;
    if (remote_fingerprint(m, &dc.remote_fp) != 0)
        return ZDC_ERR_NOT_SUPPORTED;
    int rv = zdc_dtls_new(&dc, &pc->dtls);
    if (rv != 0)
        return rv;
    zdc_sctp_config sc;
    zdc_sctp_config_default(&sc);
    sc.local_port = ZDC_SCTP_DEFAULT_PORT;
    sc.remote_port = pc->remote_sctp_port;
    sc.mtu = ZDC_DTLS_DEFAULT_MTU - DTLS_RECORD_OVERHEAD;
    sc.max_message_size = pc->env.max_message_size;
    sc.max_send_size = pc->remote_max_message;
    sc.sndbuf = SEND_CAP;
    sc.cb = (zdc_sctp_callbacks){.send = sctp_out,
                                 .on_up = sctp_up,
                                 .on_down = sctp_down,
                                 .on_message = sctp_message,
                                 .on_message_too_large = sctp_too_large,
                                 .on_stream_reset = sctp_stream_reset,
                                 .on_buffered_amount = sctp_buffered};
    sc.user = pc;
    rv = zdc_sctp_new(&sc, &pc->sctp);
    if (rv != 0)
        return rv;
    update_connection_state(pc);
    start_dtls_if_ready(pc, now_ns);
    return 0;
}

static void start_dtls_if_ready(zdc_pc *pc, uint64_t now_ns)
{
    if (pc->dtls && pc->have_remote_addr && zdc_dtls_get_state(pc->dtls) == ZDC_DTLS_NEW)
        zdc_dtls_start(pc->dtls, now_ns);
}

/* Both descriptions set: start checks, and the transport on top. */
static int both_descriptions(zdc_pc *pc, uint64_t now_ns)
{
    if (!(pc->local_set && pc->remote_set))
        return 0;
    int rv = zdc_ice_gather(pc->ice, now_ns);
    if (rv != 0 && rv != ZDC_ERR_INVALID_STATE)
        return rv;
    return start_transport(pc, now_ns);
}

int zdc_pc_set_remote_description(zdc_pc *pc, const char *type, const char *sdp, uint64_t now_ns)
{
    if (pc->closed)
        return ZDC_ERR_INVALID_STATE;
    if (!type || !sdp)
        return ZDC_ERR_INVALID_PARAMETER;
    bool offer = strcmp(type, "offer") == 0;
    if (!offer && strcmp(type, "answer") != 0) {
        set_err(pc, "description type must be \"offer\" or \"answer\"");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (offer ? (pc->sig_state != ZDC_SIGNALING_STABLE || pc->remote_set)
              : pc->sig_state != ZDC_SIGNALING_HAVE_LOCAL_OFFER) {
        set_err(pc, offer ? "an offer is already being negotiated" : "no local offer to answer");
        return ZDC_ERR_INVALID_STATE;
    }
    size_t len = strlen(sdp);
    char *text = dup_n(sdp, len);
    zdc_sdp *parsed = malloc(sizeof *parsed);
    if (!text || !parsed) {
        free(text);
        free(parsed);
        return ZDC_ERR_NOMEM;
    }
    zdc_sdp_error e = {0};
    int rv = zdc_sdp_parse(text, len, parsed, &e);
    int mi = rv == 0 ? zdc_sdp_find_datachannel(parsed) : -1;
    zdc_dtls_fingerprint fp;
    if (rv != 0) {
        set_err(pc, "remote %s: %s", type, e.msg);
    } else if (mi < 0) {
        set_err(pc, "remote %s has no data-channel m-section", type);
        rv = ZDC_ERR_NOT_SUPPORTED;
    } else if (!parsed->media[mi].ice_ufrag.len || !parsed->media[mi].ice_pwd.len) {
        set_err(pc, "remote %s: line %u: no a=ice-ufrag/a=ice-pwd", type, parsed->media[mi].line);
        rv = ZDC_ERR_MALFORMED;
    } else if (remote_fingerprint(&parsed->media[mi], &fp) != 0) {
        set_err(pc, "remote %s: line %u: no usable a=fingerprint (sha-256/384/512/1)", type,
                parsed->media[mi].line);
        rv = ZDC_ERR_NOT_SUPPORTED;
    } else if (!offer && parsed->media[mi].setup == ZDC_SDP_SETUP_ACTPASS) {
        set_err(pc, "remote answer: line %u: a=setup:actpass is not allowed in an answer",
                parsed->media[mi].line);
        rv = ZDC_ERR_MALFORMED;
    }
    if (rv != 0) {
        free(text);
        free(parsed);
        return rv;
    }
    const zdc_sdp_media *m = &parsed->media[mi];
    if (offer && !pc->ice && (rv = make_ice(pc, ZDC_ICE_CONTROLLED)) != 0) {
        free(text);
        free(parsed);
        return rv;
    }
    char uf[257], pw[257];
    snprintf(uf, sizeof uf, "%.*s", (int)m->ice_ufrag.len, m->ice_ufrag.p);
    snprintf(pw, sizeof pw, "%.*s", (int)m->ice_pwd.len, m->ice_pwd.p);
    rv = zdc_ice_set_remote_credentials(pc->ice, uf, pw, parsed->ice_lite);
    if (rv != 0) {
        set_err(pc, "remote %s: line %u: ICE credentials rejected", type, m->line);
        free(text);
        free(parsed);
        return rv;
    }
    pc->remote_text = text;
    pc->remote = parsed;
    pc->remote_media = mi;
    pc->remote_set = true;
    pc->remote_sctp_port = m->sctp_port ? m->sctp_port : ZDC_SCTP_DEFAULT_PORT;
    /* RFC 8841 §6.1: absent means 64 KiB, 0 means any size. We never send more than one SCTP
     * send buffer holds (a bigger message could never be queued). */
    pc->remote_max_message = !m->has_max_message_size ? REMOTE_DEFAULT_MAX_MESSAGE
                             : m->max_message_size && m->max_message_size < SEND_CAP
                                 ? (size_t)m->max_message_size
                                 : SEND_CAP;
    /* DTLS role (RFC 8842 §5.3): the answerer picks; zdc answers active, as browsers do. */
    if (offer)
        pc->dtls_role = m->setup == ZDC_SDP_SETUP_ACTIVE ? ZDC_DTLS_SERVER : ZDC_DTLS_CLIENT;
    else
        pc->dtls_role = m->setup == ZDC_SDP_SETUP_PASSIVE ? ZDC_DTLS_CLIENT : ZDC_DTLS_SERVER;

    for (size_t i = 0; i < m->n_candidates; i++)
        add_candidate_text(pc, m->candidates[i].p, m->candidates[i].len);
    for (size_t i = 0; i < pc->n_pending; i++) {
        add_candidate_text(pc, pc->pending[i], strlen(pc->pending[i]));
        free(pc->pending[i]);
    }
    pc->n_pending = 0;
    if (m->end_of_candidates || pc->pending_end)
        zdc_ice_add_remote_candidate(pc->ice, NULL);

    if (offer) {
        set_signaling(pc, ZDC_SIGNALING_HAVE_REMOTE_OFFER);
        rv = build_description(pc, false);
    } else {
        set_signaling(pc, ZDC_SIGNALING_STABLE);
        rv = both_descriptions(pc, now_ns);
    }
    update_connection_state(pc);
    return rv;
}

int zdc_pc_set_local_description(zdc_pc *pc, const char *type, const char *sdp, uint64_t now_ns)
{
    if (pc->closed)
        return ZDC_ERR_INVALID_STATE;
    if (!type || !sdp)
        return ZDC_ERR_INVALID_PARAMETER;
    if (!pc->created_type || strcmp(type, pc->created_type) != 0) {
        set_err(pc, "no %s was created by this peer", type);
        return pc->created_type ? ZDC_ERR_INVALID_PARAMETER : ZDC_ERR_INVALID_STATE;
    }
    if (strcmp(sdp, pc->created_sdp) != 0 && !answer_with_other_role(pc, sdp)) {
        set_err(pc,
                "the %s differs from the one this peer created (SDP munging is not "
                "supported)",
                type);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (pc->local_set)
        return ZDC_ERR_INVALID_STATE;
    pc->local_set = true;
    int rv;
    if (strcmp(type, "offer") == 0) {
        set_signaling(pc, ZDC_SIGNALING_HAVE_LOCAL_OFFER);
        /* JSEP §5.7: gathering starts with the local description. */
        rv = zdc_ice_gather(pc->ice, now_ns);
    } else {
        set_signaling(pc, ZDC_SIGNALING_STABLE);
        rv = both_descriptions(pc, now_ns);
    }
    update_connection_state(pc);
    return rv;
}

int zdc_pc_add_ice_candidate(zdc_pc *pc, const char *mid, int index, const char *cand)
{
    if (pc->closed)
        return ZDC_ERR_INVALID_STATE;
    if (!cand)
        return ZDC_ERR_INVALID_PARAMETER;
    size_t len = strlen(cand);
    if (!pc->remote_set) {
        /* RFC 8838 §8: candidates may arrive before the description; keep them. */
        if (len == 0) {
            pc->pending_end = true;
            return 0;
        }
        zdc_candidate c;
        int rv = zdc_candidate_parse(cand, len, &c);
        if (rv < 0 && rv != ZDC_ERR_NOT_SUPPORTED) {
            set_err(pc, "candidate '%.*s': %s", (int)(len > 80 ? 80 : len), cand, zdc_strerror(rv));
            return rv;
        }
        if (pc->n_pending == MAX_PENDING_CANDIDATES)
            return ZDC_ERR_QUEUE_FULL;
        if (!(pc->pending[pc->n_pending] = dup_n(cand, len)))
            return ZDC_ERR_NOMEM;
        pc->n_pending++;
        return 0;
    }
    const zdc_sdp_media *m = &pc->remote->media[pc->remote_media];
    /* The mid names the section when given (JSEP §5.8); without one, the m-line index. */
    bool known = mid && *mid ? m->mid.len == strlen(mid) && memcmp(m->mid.p, mid, m->mid.len) == 0
                             : index == pc->remote_media;
    if (!known) {
        set_err(pc, "candidate for unknown media section (mid '%s', index %d)", mid ? mid : "",
                index);
        return ZDC_ERR_NOT_FOUND;
    }
    if (len == 0)
        return zdc_ice_add_remote_candidate(pc->ice, NULL);
    return add_candidate_text(pc, cand, len);
}

void zdc_pc_close(zdc_pc *pc)
{
    if (pc->closed)
        return;
    for (size_t i = 0; i < pc->n_ch; i++)
        pc->ch[i]->state = ZDC_CHANNEL_CLOSED;
    if (pc->sctp)
        zdc_sctp_close(pc->sctp); /* ABORT: the remote's channels close at once */
    if (pc->dtls)
        zdc_dtls_close(pc->dtls);
    if (pc->ice)
        zdc_ice_close(pc->ice);
    pc->closed = true;
    pc->conn_state = ZDC_STATE_CLOSED;
    pc->sig_state = ZDC_SIGNALING_CLOSED;
    drop_events(pc);
}

int zdc_pc_connection_state(const zdc_pc *pc)
{
    return pc->conn_state;
}
int zdc_pc_gathering_state(const zdc_pc *pc)
{
    return pc->gather_state;
}
int zdc_pc_signaling_state(const zdc_pc *pc)
{
    return pc->sig_state;
}
const char *zdc_pc_last_error(const zdc_pc *pc)
{
    return pc->err;
}
const char *zdc_pc_dtls_cipher(const zdc_pc *pc)
{
    return pc->dtls ? zdc_dtls_cipher(pc->dtls) : NULL;
}

/* ---- I/O and time ---------------------------------------------------------------------- */

bool zdc_pc_owns_stun(const zdc_pc *pc, const uint8_t *p, size_t len)
{
    zdc_stun_msg m;
    if (!pc->ice || pc->closed)
        return false;
    int rv = zdc_stun_parse(p, len, &m);
    if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return false;
    if (m.cls == ZDC_STUN_REQUEST || m.cls == ZDC_STUN_INDICATION)
        return zdc_ice_username_matches(pc->ice, &m);
    return zdc_ice_has_transaction(pc->ice, m.txid);
}

static void after_input(zdc_pc *pc, uint64_t now_ns)
{
    start_dtls_if_ready(pc, now_ns);
    if (pc->dtls) {
        int ds = zdc_dtls_get_state(pc->dtls);
        if (ds == ZDC_DTLS_FAILED && !pc->dtls_failed) {
            pc->dtls_failed = true;
            set_err(pc, "DTLS failed: %s", zdc_strerror(zdc_dtls_error(pc->dtls)));
        } else if (ds == ZDC_DTLS_CLOSED) {
            /* The peer sent close_notify: it closed the connection. */
            pc->remote_closed = true;
        } else if (ds == ZDC_DTLS_CONNECTED && pc->sctp && !pc->sctp_up &&
                   !zdc_sctp_is_up(pc->sctp)) {
            zdc_sctp_connect(pc->sctp); /* INVALID_STATE once connecting: harmless */
        }
    }
    bool over = pc->remote_closed || pc->ice_failed || pc->dtls_failed || pc->sctp_failed;
    if (over && !pc->torn_down) {
        /* The connection is over (the peer left, or a layer failed): close every channel and
         * stop the association, DTLS and the consent checks, so nothing more is sent. Done
         * here, not in the callbacks that noticed, which run inside those layers. */
        pc->torn_down = true;
        for (size_t i = 0; i < pc->n_ch; i++)
            channel_set_state(pc->ch[i], ZDC_CHANNEL_CLOSED);
        pc->sctp_up = false;
        if (pc->sctp)
            zdc_sctp_close(pc->sctp);
        if (pc->dtls)
            zdc_dtls_close(pc->dtls);
        if (pc->ice)
            zdc_ice_close(pc->ice);
    }
    update_connection_state(pc);
}

int zdc_pc_handle_datagram(zdc_pc *pc, const zdc_addr *from, const uint8_t *p, size_t len,
                           uint64_t now_ns)
{
    if (pc->closed)
        return 0;
    switch (zdc_demux_classify(p, len)) {
    case ZDC_DEMUX_STUN:
        if (!pc->ice)
            return ZDC_ERR_NOT_FOUND;
        if (zdc_ice_handle_stun(pc->ice, from, p, len, now_ns) == ZDC_ERR_NOT_FOUND)
            return ZDC_ERR_NOT_FOUND;
        break;
    case ZDC_DEMUX_DTLS:
        /* Only an address ICE has verified may speak DTLS to us: a datagram from anywhere else
         * cannot reach the handshake or inject data. */
        if (!pc->dtls || !zdc_pc_accepts_from(pc, from))
            return 0;
        if (!pc->have_remote_addr || !zdc_addr_equal(from, &pc->remote_addr)) {
            /* RFC 8445 §8.1.1: the controlling agent decides the pair. A browser may nominate
             * a pair other than the one we selected, or move to another later, and sends its
             * DTLS there; the controlled side follows the path the peer actually uses (the
             * address proved itself with an authenticated check), so that our DTLS and SCTP
             * reach it on the same pair. */
            if (!pc->have_remote_addr || zdc_ice_role(pc->ice) == ZDC_ICE_CONTROLLED) {
                pc->remote_addr = *from;
                pc->have_remote_addr = true;
            }
        }
        zdc_dtls_handle_datagram(pc->dtls, p, len, now_ns);
        break;
    default:
        return 0;
    }
    after_input(pc, now_ns);
    return 0;
}

bool zdc_pc_accepts_from(const zdc_pc *pc, const zdc_addr *from)
{
    if (pc->closed || !from)
        return false;
    if (pc->have_remote_addr && zdc_addr_equal(from, &pc->remote_addr))
        return true;
    return pc->ice && zdc_ice_remote_verified(pc->ice, from);
}

uint64_t zdc_pc_next_timeout(const zdc_pc *pc)
{
    uint64_t t = UINT64_MAX;
    if (pc->closed)
        return t;
    if (pc->ice) {
        uint64_t x = zdc_ice_next_timeout(pc->ice);
        if (x < t)
            t = x;
    }
    if (pc->dtls) {
        uint64_t x = zdc_dtls_next_timeout(pc->dtls);
        if (x < t)
            t = x;
    }
    uint64_t x;
    if (pc->sctp && !pc->env.external_sctp_tick && zdc_sctp_global_next_tick(&x) && x < t)
        t = x;
    return t;
}

void zdc_pc_handle_timeout(zdc_pc *pc, uint64_t now_ns)
{
    if (pc->closed)
        return;
    if (pc->ice)
        zdc_ice_handle_timeout(pc->ice, now_ns);
    if (pc->dtls)
        zdc_dtls_handle_timeout(pc->dtls, now_ns);
    /* usrsctp's timer wheel is process-wide: ticking it may run other peers' timers too,
     * and a second tick at the same now_ns does nothing. */
    uint64_t tick;
    if (pc->sctp && !pc->env.external_sctp_tick && zdc_sctp_global_next_tick(&tick) &&
        tick <= now_ns)
        zdc_sctp_global_tick(now_ns);
    flush_all(pc);
    after_input(pc, now_ns);
}

int zdc_pc_remote_address(const zdc_pc *pc, zdc_addr *out)
{
    if (!pc->have_remote_addr)
        return ZDC_ERR_NOT_FOUND;
    *out = pc->remote_addr;
    return 0;
}

const char *zdc_pc_local_ufrag(const zdc_pc *pc)
{
    return pc->ice && !pc->closed ? zdc_ice_local_ufrag(pc->ice) : NULL;
}
