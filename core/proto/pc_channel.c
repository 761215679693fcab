/* Data channels (RFC 8831) and their establishment protocol, DCEP (RFC 8832), on the SCTP
 * association of the peer connection (see pc.h for the channel life cycle). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceurl.h"
#include "pc_int.h"
#include "zdc/candidate.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/error.h"
#include "zdc/sdp.h"
#include "zdc/stun.h"

static void free_msgs(pc_msg *m)
{
    while (m) {
        pc_msg *n = m->next;
        free(m);
        m = n;
    }
}

static pc_msg *new_msg(const uint8_t *p, size_t len, bool text, uint32_t ppid)
{
    pc_msg *m = malloc(sizeof *m + (len ? len : 1));
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

void pc_channel_set_state(zdc_pc_channel *c, enum zdc_channel_state state)
{
    if (c->state == state)
        return;
    if (state == ZDC_CHANNEL_OPEN && !c->was_open) {
        c->was_open = true;
        c->pc->st.channels_opened++;
    } else if (c->state == ZDC_CHANNEL_OPEN) {
        c->pc->st.channels_closed++; /* W3C dataChannelsClosed: left the open state */
    }
    c->state = state;
    /* A channel that never opened reports CLOSE too: the application learns it failed. */
    if (state == ZDC_CHANNEL_OPEN)
        pc_push_event(c->pc, ZDC_PC_EV_CHANNEL_OPEN, 0, c, NULL, NULL);
    else if (state == ZDC_CHANNEL_CLOSED)
        pc_push_event(c->pc, ZDC_PC_EV_CHANNEL_CLOSE, 0, c, NULL, NULL);
    if (state == ZDC_CHANNEL_CLOSED) {
        free_msgs(c->tx_head);
        c->tx_head = c->tx_tail = NULL;
        c->tx_bytes = 0;
    }
}

static zdc_pc_channel *channel_alloc(zdc_pc *pc, const char *label, size_t label_len,
                                     const char *protocol, size_t protocol_len)
{
    if (pc->n_ch >= pc->tun.max_channels)
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
    c->label = pc_strndup(label, label_len);
    c->protocol = pc_strndup(protocol, protocol_len);
    if (!c->label || !c->protocol) {
        free(c->label);
        free(c->protocol);
        free(c);
        return NULL;
    }
    c->pc = pc;
    c->has_stream = false;
    c->max_rtx = c->max_life = -1;
    c->ordered = true;
    c->state = ZDC_CHANNEL_CONNECTING;
    pc->ch[pc->n_ch++] = c;
    return c;
}

void pc_channels_reap(zdc_pc *pc)
{
    size_t i = 0;
    bool freed = false;
    while (i < pc->n_ch) {
        zdc_pc_channel *c = pc->ch[i];
        if (!c->forgotten || c->state != ZDC_CHANNEL_CLOSED) {
            i++;
            continue;
        }
        pc_events_forget_channel(pc, c);
        pc_channel_free(c);
        /* order kept: channels waiting to open get their streams in creation order */
        memmove(&pc->ch[i], &pc->ch[i + 1], (pc->n_ch - i - 1) * sizeof *pc->ch);
        pc->n_ch--;
        freed = true;
    }
    if (freed && pc->rx_paused)
        pc->rx_resume = true; /* its unread messages are gone: maybe below the limits now */
}

void zdc_pc_channel_forget(zdc_pc_channel *c)
{
    zdc_pc *pc = c->pc;
    c->forgotten = true;
    /* Nobody will read what it received, or what comes until it closes. */
    pc->rx_bytes -= c->rx_bytes;
    c->rx_bytes = 0;
    c->rx_count = 0;
    free_msgs(c->rx_head);
    c->rx_head = c->rx_tail = NULL;
    zdc_pc_channel_buffer_discard(c);
    pc_events_forget_channel(pc, c);
    if (pc->rx_paused)
        pc->rx_resume = true;
    pc_channels_reap(pc);
}

size_t zdc_pc_channel_count(const zdc_pc *pc)
{
    return pc->n_ch;
}

void pc_channel_free(zdc_pc_channel *c)
{
    c->pc->rx_bytes -= c->rx_bytes;
    free_msgs(c->rx_head);
    free_msgs(c->tx_head);
    free(c->tx_buf);
    free(c->label);
    free(c->protocol);
    free(c);
}

static zdc_pc_channel *channel_by_stream(zdc_pc *pc, zdc_stream_id stream)
{
    for (size_t i = 0; i < pc->n_ch; i++)
        if (pc->ch[i]->has_stream && pc->ch[i]->stream.v == stream.v &&
            pc->ch[i]->state != ZDC_CHANNEL_CLOSED)
            return pc->ch[i];
    return NULL;
}

static bool stream_in_use(zdc_pc *pc, zdc_stream_id stream)
{
    for (size_t i = 0; i < pc->n_ch; i++)
        if (pc->ch[i]->has_stream && pc->ch[i]->stream.v == stream.v &&
            pc->ch[i]->state != ZDC_CHANNEL_CLOSED)
            return true;
    return false;
}

/* RFC 8832 §6: "If the side is acting as the DTLS client, it MUST choose an even stream
 * identifier; if the side is acting as the DTLS server, it MUST choose an odd one." */
/* RFC 8832 §6: the DTLS client uses even stream ids, the server odd ones. */
static bool pick_stream(zdc_pc *pc, zdc_stream_id *out)
{
    int limit = pc->sctp ? zdc_sctp_out_streams(pc->sctp) : 0;
    for (int s = pc->dtls_role == ZDC_DTLS_CLIENT ? 0 : 1; s < limit; s += 2)
        if (!stream_in_use(pc, zdc_stream_id_of((uint16_t)s))) {
            *out = zdc_stream_id_of((uint16_t)s);
            return true;
        }
    return false;
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
    if (c->reset_sent || !c->has_stream || !c->pc->sctp || !c->pc->sctp_up)
        return;
    c->reset_sent = true;
    zdc_sctp_reset_stream(c->pc->sctp, c->stream.v);
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
    if (len > 0 && zdc_sctp_send(pc->sctp, c->stream.v, ZDC_PPID_DCEP, buf, (size_t)len, &o) != 0)
        pc_channel_set_state(c, ZDC_CHANNEL_CLOSED);
    free(buf);
}

/* SCTP is up: negotiated channels open now; ours get a stream and send DATA_CHANNEL_OPEN. */
void pc_channels_open(zdc_pc *pc)
{
    for (size_t i = 0; i < pc->n_ch; i++) {
        zdc_pc_channel *c = pc->ch[i];
        if (c->state != ZDC_CHANNEL_CONNECTING)
            continue;
        if (c->negotiated) {
            pc_channel_set_state(c, ZDC_CHANNEL_OPEN);
        } else if (c->local && !c->has_stream) {
            c->has_stream = pick_stream(pc, &c->stream);
            if (!c->has_stream)
                pc_channel_set_state(c, ZDC_CHANNEL_CLOSED);
            else
                channel_send_open(c);
        }
    }
}

/* SCTP took a message of the channel's. */
static void count_sent(zdc_pc_channel *c, size_t len)
{
    c->msgs_out++;
    c->bytes_out += len;
    c->pc->st.msgs_out++;
    c->pc->st.msg_bytes_out += len;
}

static void low_check(zdc_pc_channel *c, size_t before)
{
    if (before > c->low_threshold && c->tx_bytes <= c->low_threshold)
        pc_push_event(c->pc, ZDC_PC_EV_CHANNEL_LOW, 0, c, NULL, NULL);
}

/* Hands queued messages to SCTP until it pushes back. */
static void flush_channel(zdc_pc_channel *c)
{
    zdc_pc *pc = c->pc;
    size_t before = c->tx_bytes;
    while (c->tx_head && pc->sctp_up && c->state == ZDC_CHANNEL_OPEN) {
        pc_msg *m = c->tx_head;
        zdc_sctp_send_opts o = channel_send_opts(c);
        int rv = zdc_sctp_send(pc->sctp, c->stream.v, m->ppid, m->data, m->len ? m->len : 1, &o);
        if (rv == ZDC_ERR_AGAIN)
            break;
        if (rv == 0)
            count_sent(c, m->len);
        c->tx_head = m->next;
        if (!c->tx_head)
            c->tx_tail = NULL;
        c->tx_bytes -= m->len;
        free(m);
    }
    low_check(c, before);
}

void pc_channels_flush(zdc_pc *pc)
{
    for (size_t i = 0; i < pc->n_ch; i++)
        if (pc->ch[i]->tx_head)
            flush_channel(pc->ch[i]);
}

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
    int rv = zdc_sctp_send(c->pc->sctp, c->stream.v, ppid, len ? p : &zero, len ? len : 1, &o);
    if (rv == 0)
        count_sent(c, len);
    return rv;
}

static void enqueue(zdc_pc_channel *c, pc_msg *m)
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
    pc_msg *m = new_msg(p, len, text, ppid);
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
    pc_msg *m = malloc(sizeof *m + (cap ? cap : 1));
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
    pc_msg *m = c->tx_buf;
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
    if (!c->has_stream || !pc->sctp_up || pc->closed)
        return ZDC_ERR_INVALID_STATE;
    zdc_sctp_send_opts o = {0};
    return zdc_sctp_send(pc->sctp, c->stream.v, ppid, p, len, &o);
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

static size_t rx_cost(size_t len)
{
    return len + ZDC_PC_RX_MSG_COST;
}

static bool rx_over_limit(const zdc_pc *pc)
{
    if (pc->rx_bytes >= pc->env.rx_peer_limit)
        return true;
    for (size_t i = 0; i < pc->n_ch; i++)
        if (pc->ch[i]->rx_bytes >= pc->env.rx_channel_limit)
            return true;
    return false;
}

void pc_channels_resume_receive(zdc_pc *pc)
{
    if (!pc->rx_resume)
        return;
    pc->rx_resume = false;
    if (!pc->rx_paused || rx_over_limit(pc))
        return;
    pc->rx_paused = false;
    if (pc->sctp)
        zdc_sctp_pause_receive(pc->sctp, false); /* may pause again at once */
}

void zdc_pc_channel_release(zdc_pc_channel *c)
{
    pc_msg *m = c->rx_head;
    if (!m)
        return;
    c->rx_head = m->next;
    if (!c->rx_head)
        c->rx_tail = NULL;
    c->rx_count--;
    c->rx_bytes -= rx_cost(m->len);
    c->pc->rx_bytes -= rx_cost(m->len);
    free(m);
    if (c->pc->rx_paused && !c->pc->rx_resume && !rx_over_limit(c->pc)) {
        /* Resumed from zdc_pc_handle_timeout, not here: reading SCTP raises callbacks that
         * must not run inside the application's read. */
        c->pc->rx_resume = true;
        pc_notify(c->pc);
    }
}

size_t zdc_pc_channel_received_bytes(const zdc_pc_channel *c)
{
    return c->rx_bytes;
}

size_t zdc_pc_received_bytes(const zdc_pc *pc)
{
    return pc->rx_bytes;
}

uint32_t zdc_pc_channel_peek_ppid(const zdc_pc_channel *c)
{
    return c->rx_head ? c->rx_head->ppid : 0;
}

int zdc_pc_channel_available(const zdc_pc_channel *c)
{
    return c->rx_count > INT_MAX ? INT_MAX : (int)c->rx_count;
}

int zdc_pc_channel_close(zdc_pc_channel *c)
{
    if (c->state == ZDC_CHANNEL_CLOSED || c->state == ZDC_CHANNEL_CLOSING)
        return 0;
    if (!c->has_stream || !c->pc->sctp_up) {
        pc_channel_set_state(c, ZDC_CHANNEL_CLOSED);
        return 0;
    }
    pc_channel_set_state(c, ZDC_CHANNEL_CLOSING);
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
    return c->has_stream ? (int)c->stream.v : -1;
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
    zdc_pc_channel *c = channel_by_stream(pc, zdc_stream_id_of(stream));
    /* RFC 8832 §6: an OPEN on an unused stream of the peer's parity with valid parameters is
     * acknowledged; otherwise "the receiver MUST close the corresponding data channel ... and
     * MUST NOT send a DATA_CHANNEL_ACK". A message that does not parse is treated alike. */
    if (zdc_dcep_parse(p, len, &m) != 0) {
        refuse_stream(pc, c, stream);
        return;
    }
    if (m.type == ZDC_DCEP_ACK) {
        if (c && c->local && c->state == ZDC_CHANNEL_CONNECTING)
            pc_channel_set_state(c, ZDC_CHANNEL_OPEN);
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
    c->stream = zdc_stream_id_of(stream);
    c->has_stream = true;
    c->ordered = r.ordered;
    c->max_rtx = r.has_max_retransmits ? (int)r.max_retransmits : -1;
    c->max_life = r.has_max_packet_life_time ? (int)r.max_packet_life_time : -1;
    uint8_t ack[4];
    int n = zdc_dcep_ack_build(ack, sizeof ack);
    zdc_sctp_send_opts o = {0};
    if (n > 0)
        zdc_sctp_send(pc->sctp, stream, ZDC_PPID_DCEP, ack, (size_t)n, &o);
    pc_push_event(pc, ZDC_PC_EV_DATA_CHANNEL, 0, c, NULL, NULL);
    pc_channel_set_state(c, ZDC_CHANNEL_OPEN);
}

void pc_channel_on_message(void *user, uint16_t stream, uint32_t ppid, const uint8_t *p, size_t len,
                           unsigned flags)
{
    zdc_pc *pc = user;
    pc_notify(pc);
    if (ppid == ZDC_PPID_DCEP) {
        handle_dcep(pc, stream, p, len);
        return;
    }
    zdc_pc_channel *c = channel_by_stream(pc, zdc_stream_id_of(stream));
    if (!c)
        return;
    /* RFC 8832 §6: user data before the ACK means the peer got our OPEN. */
    if (c->state == ZDC_CHANNEL_CONNECTING && c->local)
        pc_channel_set_state(c, ZDC_CHANNEL_OPEN);
    if (c->state != ZDC_CHANNEL_OPEN || c->forgotten)
        return; /* a forgotten channel has no reader: its messages are discarded */
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
    pc_msg *m = pc_alloc(pc, NULL, sizeof *m + (len ? len : 1));
    if (!m) {
        /* A message SCTP delivered and acknowledged cannot come again: losing it silently
         * would break a reliable channel's promise. */
        pc_fail_nomem(pc, "a received message");
        return;
    }
    *m = (pc_msg){.len = len, .text = text, .ppid = ppid};
    if (len)
        memcpy(m->data, p, len);
    if (c->rx_tail)
        c->rx_tail->next = m;
    else
        c->rx_head = m;
    c->rx_tail = m;
    c->rx_count++;
    c->rx_bytes += rx_cost(len);
    c->msgs_in++;
    c->bytes_in += len;
    pc->st.msgs_in++;
    pc->st.msg_bytes_in += len;
    pc->rx_bytes += rx_cost(len);
    pc_push_event(pc, ZDC_PC_EV_CHANNEL_MESSAGE, 0, c, NULL, NULL);
    /* A full queue stops the reading of SCTP instead of growing: its receive window closes and
     * the sender waits (RFC 9260 §6.2.1: data is sent only while the peer's rwnd allows).
     * Nothing is dropped, so reliable channels keep their promise. */
    if (!pc->rx_paused &&
        (c->rx_bytes >= pc->env.rx_channel_limit || pc->rx_bytes >= pc->env.rx_peer_limit)) {
        pc->rx_paused = true;
        zdc_sctp_pause_receive(pc->sctp, true);
    }
}

void pc_channel_on_too_large(void *user, uint16_t stream, uint32_t ppid)
{
    zdc_pc *pc = user;
    pc_notify(pc);
    zdc_pc_channel *c = channel_by_stream(pc, zdc_stream_id_of(stream));
    if (c)
        zdc_pc_channel_close(c);
}

/* The peer reset its outgoing stream: RFC 8831 §6.7 — the channel is closed; reset ours too. */
void pc_channel_on_stream_reset(void *user, uint16_t stream)
{
    zdc_pc *pc = user;
    pc_notify(pc);
    zdc_pc_channel *c = channel_by_stream(pc, zdc_stream_id_of(stream));
    if (!c)
        return;
    channel_reset(c);
    pc_channel_set_state(c, ZDC_CHANNEL_CLOSED);
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
        pc_set_err(pc, "the connection is %s", pc->closed ? "closed" : "failed or closed");
        return ZDC_ERR_INVALID_STATE;
    }
    const char *proto = opts->protocol ? opts->protocol : "";
    if (!label)
        label = "";
    if (strlen(label) > 65535 || strlen(proto) > 65535) {
        pc_set_err(pc, "label or protocol longer than 65535 bytes");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (opts->negotiated != (opts->id >= 0) || opts->id > 65534) {
        pc_set_err(pc, "negotiated and id go together (id 0..65534)");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (opts->max_packet_life_time >= 0 && opts->max_retransmits >= 0) {
        pc_set_err(pc, "max_packet_life_time and max_retransmits are exclusive");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (opts->negotiated && stream_in_use(pc, zdc_stream_id_of((uint16_t)opts->id))) {
        pc_set_err(pc, "channel id %d is already used", opts->id);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    zdc_pc_channel *c = channel_alloc(pc, label, strlen(label), proto, strlen(proto));
    if (!c)
        return pc->n_ch >= pc->tun.max_channels ? ZDC_ERR_QUEUE_FULL : ZDC_ERR_NOMEM;
    c->local = true;
    c->negotiated = opts->negotiated;
    c->has_stream = opts->negotiated;
    if (opts->negotiated)
        c->stream = zdc_stream_id_of((uint16_t)opts->id);
    c->ordered = opts->ordered;
    c->max_rtx = opts->max_retransmits >= 0 ? opts->max_retransmits : -1;
    c->max_life = opts->max_packet_life_time >= 0 ? opts->max_packet_life_time : -1;
    *out = c;
    if (pc->sctp_up)
        pc_channels_open(pc); /* created on a live association: open it now */
    return 0;
}
