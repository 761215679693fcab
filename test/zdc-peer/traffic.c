/* zdc-peer's traffic: the data channels (created or received, opened, closed), the sender's
 * counted series of patterned messages and the check of its echoes, the echoer, and what a
 * closed channel means for each role.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdc_peer.h"

/* Sending stops while more than this is queued in the channel, and resumes below a quarter of
 * it (what browsers' senders do with bufferedAmount). */
#define SEND_HIGH_WATER (1u << 20)
/* A peer waiting for echoes on a channel that may lose or reorder messages gives up after this
 * long without one. */
#define QUIET_SECONDS 2.0
/* Messages handled per loop turn, so the engine keeps being polled under load. */
#define BATCH 64
/* How long a peer closed with --close-peer keeps polling, so its goodbye goes out. */
#define LINGER_SECONDS 0.3

/* ---- output ------------------------------------------------------------------------------ */

static void emit_label_event(const char *event, zdc_channel ch, bool with_id)
{
    const char *label = zdc_channel_get_label(ch);
    char *js = json_string(label, strlen(label));
    if (!js)
        return;
    if (with_id)
        printf("{\"event\":\"%s\",\"label\":%s,\"id\":%d}\n", event, js, zdc_channel_get_id(ch));
    else
        printf("{\"event\":\"%s\",\"label\":%s}\n", event, js);
    fflush(stdout);
    free(js);
}

void traffic_print_result(app *a, bool ok)
{
    a->result_printed = true;
    double end = a->received ? a->t_last_echo : now_seconds();
    double seconds = a->t0 > 0 ? end - a->t0 : 0;
    if (seconds < 1e-9)
        seconds = 1e-9;
    double mbps = (double)a->bytes * 8.0 / seconds / 1e6;
    printf("{\"event\":\"result\",\"ok\":%s,\"sent\":%" PRIu64 ",\"received\":%" PRIu64
           ",\"bytes\":%" PRIu64 ",\"seconds\":%.6f,\"mbps\":%.3f}\n",
           ok ? "true" : "false", a->next_send, a->received, a->bytes, seconds, mbps);
    fflush(stdout);
}

/* ---- the message pattern ------------------------------------------------------------------- */

/* The multi-byte pieces of a --utf8 message: 2-, 3- and 4-byte sequences and a NUL. */
static const struct {
    const char *bytes;
    size_t len;
} utf8_units[] = {{"\xc3\xa9", 2}, {"\xe2\x82\xac", 3}, {"\xf0\x9f\x98\x80", 4}, {"", 1}};
#define N_UTF8_UNITS (sizeof utf8_units / sizeof utf8_units[0])

/* Message i of `size` bytes. Binary and ASCII text as in PEER_PROTOCOL.md. A --utf8 message
 * starts like a text one (four digits when size >= 4); then piece n = 0, 1, ... at byte j is
 * unit (i + n) mod 6 of {"é", "€", "😀", NUL} when that exists and fits, else the letter
 * 'a' + (i + j) mod 26. Always whole UTF-8 sequences, so it is a valid string. */
static void fill_message(const options *o, uint8_t *p, uint64_t i, size_t size)
{
    size_t j = 0;
    uint64_t n = 0;
    if (size >= 4) {
        if (o->text) {
            static const uint64_t div[4] = {1000, 100, 10, 1};
            for (; j < 4; j++)
                p[j] = (uint8_t)('0' + (i % 10000) / div[j] % 10);
        } else {
            for (; j < 4; j++)
                p[j] = (uint8_t)(i >> (8 * (3 - j)));
        }
    }
    while (j < size) {
        uint64_t u = (i + n++) % (N_UTF8_UNITS + 2);
        if (o->utf8 && u < N_UTF8_UNITS && utf8_units[u].len <= size - j) {
            memcpy(p + j, utf8_units[u].bytes, utf8_units[u].len);
            j += utf8_units[u].len;
        } else if (o->text) {
            p[j] = (uint8_t)('a' + (i + j) % 26);
            j++;
        } else {
            p[j] = (uint8_t)((i + j) % 251);
            j++;
        }
    }
}

static bool is_message(app *a, const uint8_t *p, size_t len, uint64_t i)
{
    if (len != a->o.size)
        return false;
    fill_message(&a->o, a->scratch, i, len);
    return len == 0 || memcmp(p, a->scratch, len) == 0;
}

/* Which message an echo carries, or -1 when it is none we sent. Messages of 4 bytes or more
 * name their index (text only modulo 10000: the candidate nearest `expected` is taken);
 * shorter ones are matched against the expected index first, then against every pattern. */
static int64_t echo_index(app *a, const uint8_t *p, size_t len, uint64_t expected)
{
    const options *o = &a->o;
    if (len != o->size)
        return -1;
    uint64_t i;
    if (len >= 4) {
        if (o->text) {
            uint64_t d = 0;
            for (int j = 0; j < 4; j++) {
                if (p[j] < '0' || p[j] > '9')
                    return -1;
                d = d * 10 + (uint64_t)(p[j] - '0');
            }
            uint64_t k = expected > d ? (expected - d + 5000) / 10000 : 0;
            i = d + k * 10000;
        } else {
            i = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        }
        if (i >= o->send || !is_message(a, p, len, i))
            return -1;
        return (int64_t)i;
    }
    if (expected < o->send && is_message(a, p, len, expected))
        return (int64_t)expected;
    /* Short messages repeat with the period of their pattern. */
    uint64_t period = o->utf8 ? 26 * 3 : o->text ? 26 : 251;
    for (i = 0; i < o->send && i < period * o->channels; i++)
        if (is_message(a, p, len, i))
            return (int64_t)i;
    return -1;
}

/* ---- the channels -------------------------------------------------------------------------- */

static chan *find_chan(app *a, zdc_channel ch)
{
    for (unsigned k = 0; k < a->o.channels; k++)
        if (a->chs[k].ch.id && a->chs[k].ch.id == ch.id)
            return &a->chs[k];
    return NULL;
}

/* Starts closing every channel not yet closed; on_close reports each one done. */
static void close_channels(app *a)
{
    a->closing = true;
    for (unsigned k = 0; k < a->o.channels; k++) {
        chan *c = &a->chs[k];
        if (!c->ch.id || c->closed)
            continue;
        int rv = zdc_channel_close(c->ch);
        if (rv < 0) {
            fail_api(a, "channel close", rv);
            return;
        }
    }
}

/* ---- the sender ---------------------------------------------------------------------------- */

static void series_done(app *a)
{
    bool ok = a->intact && (!a->reliable || a->received == a->o.send);
    traffic_print_result(a, ok);
    if (!ok)
        finish(a, EXIT_FAIL);
    else if (a->restarted && !a->restart_answered) {
        /* The old pair carries the echoes until the restart completes; a peer slower to answer
         * the restart offer than the series is to finish must still see its answer taken. */
        logf_(a, "series done before the restart answer: waiting for it");
        a->end_after_restart = true;
    } else if (a->o.stats_exchange)
        a->stats_exchange = 1; /* main.c exchanges stats, then calls traffic_end_series */
    else
        traffic_end_series(a);
}

void traffic_end_series(app *a)
{
    if (a->o.close) {
        close_channels(a); /* exit once on_close reports every stream reset done */
    } else if (a->o.await_close) {
        if (a->n_closed == a->o.channels)
            finish(a, EXIT_OK); /* the other side was quicker than our last echo */
        else
            logf_(a, "waiting for the other side to close the channel");
    } else if (a->o.close_peer) {
        logf_(a, "closing the peer connection");
        zdc_peer_close(a->peer);
        a->linger_until = now_seconds() + LINGER_SECONDS;
    } else {
        finish(a, EXIT_OK);
    }
}

static void check_echo(app *a, chan *c, const uint8_t *p, size_t len, bool was_string)
{
    int64_t i = was_string == a->o.text ? echo_index(a, p, len, c->next_expected) : -1;
    unsigned k = (unsigned)(c - a->chs);
    if (i < 0) {
        a->intact = false;
        logf_(a, "echo %" PRIu64 " (%zu bytes, %s) is corrupt or of the wrong kind", a->received,
              len, was_string ? "text" : "binary");
    } else if ((uint64_t)i % a->o.channels != k) {
        a->intact = false;
        logf_(a, "echo %" PRId64 " came back on channel %u", i, k);
    } else {
        if (a->reliable && !a->o.unordered && (uint64_t)i != c->next_expected) {
            a->intact = false;
            logf_(a, "echo %" PRId64 " out of order (expected %" PRIu64 ")", i, c->next_expected);
        }
        c->next_expected = (uint64_t)i + a->o.channels;
    }
    a->received++;
    a->bytes += len;
    a->t_last_echo = now_seconds();
    if (a->received == a->o.send)
        series_done(a);
}

/* Sends what the channels' queues take, message i on channel i mod N; stops above the
 * high-water mark or when a queue is full. */
bool traffic_pump_send(app *a)
{
    const options *o = &a->o;
    if (!o->send || a->n_open < o->channels || a->sending_done || a->closing || a->finished)
        return false;
    if (a->t0 == 0)
        a->t0 = now_seconds();
    for (int k = 0; k < BATCH && a->next_send < o->send; k++) {
        zdc_channel ch = a->chs[a->next_send % o->channels].ch;
        if (zdc_channel_get_buffered_amount(ch) > SEND_HIGH_WATER)
            return false;
        fill_message(o, a->msg, a->next_send, o->size);
        int rv = zdc_channel_put_packet(ch, a->msg, o->size);
        if (rv == ZDC_ERR_QUEUE_FULL)
            return false;
        if (rv < 0) {
            fail_api(a, "send", rv);
            return false;
        }
        a->next_send++;
    }
    if (a->next_send == o->send) {
        a->sending_done = true;
        a->t_quiet_from = now_seconds();
    }
    return true;
}

/* Echoes or checks what arrived on one channel. An echo the send queue refuses stays
 * unreleased and is tried again next turn, so a slow path back slows the reader instead of
 * losing messages. */
static bool receive_on(app *a, chan *c)
{
    bool worked = false;
    for (int k = 0; k < BATCH && !a->finished && !a->closing; k++) {
        const uint8_t *p;
        size_t len;
        bool was_string = false;
        if (a->o.echo && zdc_channel_get_buffered_amount(c->ch) > SEND_HIGH_WATER)
            break;
        int rv = zdc_channel_get_packet(c->ch, &p, &len, &was_string);
        if (rv == ZDC_ERR_AGAIN)
            break;
        if (rv < 0) {
            fail_api(a, "receive", rv);
            break;
        }
        worked = true;
        if (a->o.echo) {
            zdc_channel_set_write_mode(c->ch,
                                       was_string ? ZDC_WRITE_MODE_TEXT : ZDC_WRITE_MODE_BINARY);
            rv = zdc_channel_put_packet(c->ch, p, len);
            if (rv == ZDC_ERR_QUEUE_FULL)
                break;
            if (rv < 0)
                logf_(a, "echo failed: %s", zdc_strerror(rv));
            else
                a->echoed++;
        } else if (a->o.send && !a->result_printed) {
            check_echo(a, c, p, len, was_string);
        }
        zdc_channel_release_packet(c->ch);
        if (a->o.close_after >= 0 && a->echoed == (uint64_t)a->o.close_after) {
            logf_(a, "%" PRIu64 " echoed: closing the channel", a->echoed);
            close_channels(a);
        }
    }
    return worked;
}

bool traffic_pump_receive(app *a)
{
    bool worked = false;
    for (unsigned k = 0; k < a->o.channels && !a->finished; k++) {
        chan *c = &a->chs[k];
        /* A sender still reads what arrived before its channel closed; an echoer cannot
         * answer on a closed channel. */
        if (c->ch.id && (!c->closed || (a->o.send && !a->result_printed)))
            worked |= receive_on(a, c);
    }
    return worked;
}

/* What closed channels mean, once every message that came before the close has been read. */
void traffic_check_closed(app *a)
{
    if (!a->n_closed || a->finished || a->o.await_peer_close)
        return;
    if (a->o.send && !a->result_printed) {
        for (unsigned k = 0; k < a->o.channels; k++)
            if (a->chs[k].closed && zdc_channel_get_available_packet_count(a->chs[k].ch) > 0)
                return; /* not all read yet */
        logf_(a, "a channel closed before every echo arrived");
        traffic_print_result(a, false);
        finish(a, EXIT_FAIL);
        return;
    }
    /* A channel closed before we began closing them all: the other side closes; follow. */
    if (!a->closing && a->n_closed < a->o.channels && !a->o.send)
        close_channels(a);
    if (a->n_closed == a->o.channels && (!a->o.send || a->result_printed)) {
        if (!a->o.send && a->o.close_after >= 0) {
            /* We closed: every echo is acknowledged by the other side's SCTP, but its
             * application may still be reading them (node-datachannel drops the message
             * callbacks it has not run when the connection closes). Exit a moment later. */
            if (a->linger_until == 0)
                a->linger_until = now_seconds() + LINGER_SECONDS;
            return;
        }
        finish(a, EXIT_OK);
    }
}

/* On channels that may drop messages the sender stops waiting after a quiet period. */
void traffic_check_quiet(app *a)
{
    if (!a->o.send || a->result_printed || !a->sending_done || a->finished)
        return;
    if (a->reliable && !a->o.unordered)
        return;
    double from = a->t_last_echo > a->t_quiet_from ? a->t_last_echo : a->t_quiet_from;
    if (now_seconds() - from >= QUIET_SECONDS)
        series_done(a);
}

/* ---- callbacks (fire inside zdc_engine_poll) ----------------------------------------------- */

static void channel_opened(app *a, chan *c)
{
    if (c->opened)
        return;
    c->opened = true;
    a->n_open++;
    emit_label_event("open", c->ch, true);
    if (a->o.text)
        zdc_channel_set_write_mode(c->ch, ZDC_WRITE_MODE_TEXT);
    zdc_channel_set_buffered_amount_low_threshold(c->ch, SEND_HIGH_WATER / 4);
}

/* The slot of the channel whose label this is, or -1. */
static int label_slot(const app *a, const char *label)
{
    for (unsigned k = 0; k < a->o.channels; k++)
        if (strcmp(label, a->labels[k]) == 0)
            return (int)k;
    return -1;
}

/* The received channel must be one our options describe. */
static void check_received(app *a, zdc_channel ch)
{
    const options *o = &a->o;
    char problems[512] = "";
    size_t n = 0;
#define PROBLEM(...)                                                                               \
    do {                                                                                           \
        if (n < sizeof problems)                                                                   \
            n += (size_t)snprintf(problems + n, sizeof problems - n, __VA_ARGS__);                 \
    } while (0)
    const char *protocol = zdc_channel_get_protocol(ch);
    if (strcmp(protocol, o->protocol) != 0)
        PROBLEM(" protocol \"%s\" (want \"%s\")", protocol, o->protocol);
    if (zdc_channel_is_ordered(ch) != !o->unordered)
        PROBLEM(" ordered %d", (int)zdc_channel_is_ordered(ch));
    if (zdc_channel_get_max_retransmits(ch) != o->max_retransmits)
        PROBLEM(" maxRetransmits %d", zdc_channel_get_max_retransmits(ch));
    if (zdc_channel_get_max_packet_life_time(ch) != o->max_packet_life_time)
        PROBLEM(" maxPacketLifeTime %d", zdc_channel_get_max_packet_life_time(ch));
#undef PROBLEM
    if (n)
        fail(a, "received channel \"%s\" differs:%s", zdc_channel_get_label(ch), problems);
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    app *a = user;
    const char *label = zdc_channel_get_label(ch);
    int k = label_slot(a, label);
    if (k < 0) {
        fail(a, "received channel \"%s\": not one of our %u label(s), the first \"%s\"", label,
             a->o.channels, a->labels[0]);
        return;
    }
    if (a->chs[k].ch.id) {
        logf_(a, "ignoring a second channel \"%s\"", label);
        return;
    }
    check_received(a, ch);
    a->chs[k].ch = ch;
    a->n_have++;
    if (!a->finished && zdc_channel_get_ready_state(ch) == ZDC_CHANNEL_OPEN)
        channel_opened(a, &a->chs[k]);
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    app *a = user;
    chan *c = find_chan(a, ch);
    if (c && !a->finished)
        channel_opened(a, c);
}

static void on_close(void *user, zdc_peer peer, zdc_channel ch)
{
    app *a = user;
    chan *c = find_chan(a, ch);
    if (!c || c->closed)
        return;
    c->closed = true;
    a->n_closed++;
    emit_label_event("closed", ch, false);
    /* What follows runs in traffic_check_closed(), after the loop has read what arrived before. */
}

/* ---- setup and cleanup --------------------------------------------------------------------- */

bool traffic_init(app *a)
{
    a->reliable = a->o.max_retransmits < 0 && a->o.max_packet_life_time < 0;
    a->intact = true;
    a->msg = malloc(a->o.size ? a->o.size : 1);
    a->scratch = malloc(a->o.size ? a->o.size : 1);
    bool oom = !a->msg || !a->scratch;
    for (unsigned k = 0; k < a->o.channels && !oom; k++) {
        size_t n = strlen(a->o.label) + 16;
        a->chs[k].next_expected = k; /* message k is channel k's first */
        a->labels[k] = malloc(n);
        oom = !a->labels[k];
        if (!oom && a->o.channels_given)
            snprintf(a->labels[k], n, "%s-%u", a->o.label, k);
        else if (!oom)
            snprintf(a->labels[k], n, "%s", a->o.label);
    }
    return !oom;
}

void traffic_callbacks(zdc_peer_callbacks *cb)
{
    cb->on_data_channel_received = on_data_channel;
    cb->on_channel_open = on_open;
    cb->on_channel_close = on_close;
}

int traffic_create_channels(app *a)
{
    const options *o = &a->o;
    int rv;
    /* The offerer creates the channel; with --negotiated both sides do, with the same id. */
    if (o->offer || o->negotiated >= 0) {
        zdc_channel_options co = zdc_channel_options_default();
        co.ordered = !o->unordered;
        co.max_retransmits = (int)o->max_retransmits;
        co.max_packet_life_time = (int)o->max_packet_life_time;
        co.protocol = o->protocol;
        if (o->negotiated >= 0) {
            co.negotiated = true;
            co.id = (int)o->negotiated;
        }
        for (unsigned k = 0; k < o->channels; k++) {
            rv = zdc_peer_create_data_channel(a->peer, a->labels[k], &co, &a->chs[k].ch);
            if (rv < 0) {
                fail_api(a, "create_data_channel", rv);
                return rv;
            }
            a->n_have++;
        }
    }
    return 0;
}

void traffic_clear(app *a)
{
    free(a->msg);
    free(a->scratch);
    for (unsigned k = 0; k < MAX_CHANNELS; k++)
        free(a->labels[k]);
}
