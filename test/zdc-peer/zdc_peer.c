/* zdc-peer: the JSON-lines test peer (shared/PEER_PROTOCOL.md, v1) on zdc's public API.
 *
 * Signaling and events are JSON objects, one per line: signaling in on stdin, signaling and
 * events out on stdout, log on stderr. One data channel (or --channels N of them); the options
 * say whether this side offers or answers, echoes, or sends a counted series of patterned
 * messages and checks the echoes. The main loop alternates a non-blocking look at stdin with
 * zdc_engine_poll(), which is where every zdc callback fires.
 *
 * zdc extensions to the protocol (test/interop/run.mjs and peer-core.mjs speak them too):
 *   --utf8             with --text: messages hold multi-byte UTF-8 and NUL (see fill_message)
 *   --channels N       N channels labelled LABEL-0..LABEL-(N-1); message i goes on channel
 *                      i mod N and its echo must come back on that channel, in order there
 *   --close-after N    (echoer) after echoing N messages, close the channel(s); exit 0 once
 *                      they are closed
 *   --await-close      (sender) after the result, wait for the other side to close the
 *                      channel(s); exit 0 once they are closed
 *   --close-peer       (sender) after the result, close the peer connection (no channel close
 *                      first) and exit 0
 *   --await-peer-close (echoer) exit 0 once the connection state leaves "connected" (to
 *                      disconnected, failed or closed); stdin's end does not end it
 *   --no-loopback      gather no loopback candidates (for machines with another interface)
 *
 * The callbacks only record what happened (and print events); everything that calls back into
 * zdc — applying the local description, sending, echoing, closing — runs from the main loop
 * between polls.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "zdc/engine.h"
#include "zdc/peer.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
};

/* Sending stops while more than this is queued in the channel, and resumes below a quarter of
 * it (what browsers' senders do with bufferedAmount). */
#define SEND_HIGH_WATER (1u << 20)
/* A peer waiting for echoes on a channel that may lose or reorder messages gives up after this
 * long without one. */
#define QUIET_SECONDS 2.0
/* Longest signaling line accepted (SDP is a few KiB). */
#define MAX_LINE (1u << 20)
/* Messages handled per loop turn, so the engine keeps being polled under load. */
#define BATCH 64
/* Most channels --channels may ask for. */
#define MAX_CHANNELS 64
/* How long a peer closed with --close-peer keeps polling, so its goodbye goes out. */
#define LINGER_SECONDS 0.3
/* How long a peer whose stdin ended waits for its open channels to close: the other side may
 * have exited just after closing them. */
#define EOF_GRACE_SECONDS 2.0

typedef struct options {
    bool offer;
    bool echo;
    uint64_t send; /* COUNT */
    size_t size;   /* SIZE */
    bool size_given;
    bool text;
    const char *label;
    bool unordered;
    long max_retransmits;      /* -1 = unset */
    long max_packet_life_time; /* -1 = unset */
    long negotiated;           /* -1 = not negotiated, else the id */
    const char *protocol;
    bool close;
    long timeout; /* seconds */
    bool utf8;
    unsigned channels;     /* how many channels */
    bool channels_given;   /* labels get a "-k" suffix */
    long long close_after; /* -1 = off */
    bool await_close;
    bool close_peer;
    bool await_peer_close;
    bool no_loopback;
} options;

/* One data channel and, on the sender, where its echoes stand. */
typedef struct chan {
    zdc_channel ch;
    bool opened, closed;
    uint64_t next_expected; /* the index the next echo on this channel should carry */
} chan;

/* A remote candidate held until the remote description is set. */
typedef struct remote_cand {
    char *candidate;
    char *mid;
    int index;
} remote_cand;

typedef struct app {
    options o;
    bool reliable; /* no retransmission limit */
    zdc_engine *engine;
    zdc_peer peer;

    /* signaling */
    char *local_type, *local_sdp; /* created, not yet applied */
    bool local_sent;              /* our description is out: candidates may follow it */
    bool remote_set;
    char **out_lines; /* our candidate lines held until the description is out */
    size_t n_out_lines;
    remote_cand *in_cands; /* remote candidates held until the remote description is set */
    size_t n_in_cands;
    char *last_mid; /* mid of our last candidate, for the end-of-candidates line */
    bool end_sent;
    uint64_t echoed;

    /* the channels, in label order; a received one fills the slot its label names */
    chan chs[MAX_CHANNELS];
    char *labels[MAX_CHANNELS];
    size_t n_have, n_open, n_closed;
    bool closing;
    double linger_until; /* --close-peer: exit at this time */
    double eof_until;    /* stdin ended: exit once every channel closed, or at this time */

    /* the sender's series */
    uint8_t *msg, *scratch;
    uint64_t next_send;
    uint64_t received, bytes;
    bool intact;
    bool sending_done;
    double t0, t_last_echo, t_quiet_from;
    bool result_printed;

    /* stdin */
    char *line;
    size_t line_len, line_cap;
    bool stdin_eof;
    bool line_too_long;

    double deadline;
    bool finished;
    int exit_code;
} app;

/* ---- output ------------------------------------------------------------------------------ */

static void logf_(const app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const app *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "zdc-peer[%s]: ", a->o.offer ? "offer" : "answer");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static void out_line(const char *s)
{
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* s (n bytes) as a JSON string with quotes, malloc'ed; NULL when out of memory. */
static char *json_string(const char *s, size_t n)
{
    /* The longest escape, \u00XX, is six bytes per input byte. */
    size_t cap = 6 * n + 3;
    char *out = malloc(cap);
    if (out && zdc_json_escape(s, n, out, cap) < 0) {
        free(out);
        out = NULL;
    }
    return out;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void finish(app *a, int code)
{
    if (a->finished)
        return;
    a->finished = true;
    a->exit_code = code;
}

/* {"event":"error","message":...}, then exit 1. */
static void fail(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(app *a, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    logf_(a, "error: %s", msg);
    char *js = json_string(msg, strlen(msg));
    if (js) {
        printf("{\"event\":\"error\",\"message\":%s}\n", js);
        fflush(stdout);
        free(js);
    }
    finish(a, EXIT_FAIL);
}

/* "who: zdc error text (peer's last error)". */
static void fail_api(app *a, const char *what, int rv)
{
    const char *detail = zdc_peer_last_error(a->peer);
    if (detail && *detail)
        fail(a, "%s: %s (%s)", what, zdc_strerror(rv), detail);
    else
        fail(a, "%s: %s", what, zdc_strerror(rv));
}

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

static void print_result(app *a, bool ok)
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

/* ---- signaling out ------------------------------------------------------------------------- */

/* Queues or prints a candidate line: the other side should see our description first. */
static void send_signal_line(app *a, char *line)
{
    if (a->local_sent) {
        out_line(line);
        free(line);
        return;
    }
    char **l = realloc(a->out_lines, (a->n_out_lines + 1) * sizeof *l);
    if (!l) {
        free(line);
        fail(a, "out of memory");
        return;
    }
    a->out_lines = l;
    a->out_lines[a->n_out_lines++] = line;
}

static void send_candidate(app *a, const char *mid, int index, const char *cand)
{
    if (strncmp(cand, "a=", 2) == 0)
        cand += 2;
    if (!*cand) { /* end of candidates: once */
        if (a->end_sent)
            return;
        a->end_sent = true;
    }
    char *jc = json_string(cand, strlen(cand));
    char *jm = json_string(mid, strlen(mid));
    char *line = NULL;
    if (jc && jm) {
        size_t n = strlen(jc) + strlen(jm) + 64;
        line = malloc(n);
        if (line)
            snprintf(line, n, "{\"candidate\":%s,\"sdpMid\":%s,\"sdpMLineIndex\":%d}", jc, jm,
                     index);
    }
    free(jc);
    free(jm);
    if (!line) {
        fail(a, "out of memory");
        return;
    }
    send_signal_line(a, line);
}

/* Applies the description zdc created and sends it, then the candidates that waited for it. */
static void apply_local_description(app *a)
{
    if (!a->local_sdp)
        return;
    char *type = a->local_type, *sdp = a->local_sdp;
    a->local_type = a->local_sdp = NULL;
    int rv = zdc_peer_set_local_description(a->peer, type, sdp);
    if (rv < 0) {
        fail_api(a, "set_local_description", rv);
    } else {
        char *js = json_string(sdp, strlen(sdp));
        if (js) {
            printf("{\"type\":\"%s\",\"sdp\":%s}\n", type, js);
            fflush(stdout);
            free(js);
            a->local_sent = true;
            for (size_t i = 0; i < a->n_out_lines; i++) {
                out_line(a->out_lines[i]);
                free(a->out_lines[i]);
            }
            a->n_out_lines = 0;
        } else {
            fail(a, "out of memory");
        }
    }
    free(type);
    free(sdp);
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
    print_result(a, ok);
    if (!ok) {
        finish(a, EXIT_FAIL);
    } else if (a->o.close) {
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
static bool pump_send(app *a)
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

static bool pump_receive(app *a)
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
static void check_closed(app *a)
{
    if (!a->n_closed || a->finished || a->o.await_peer_close)
        return;
    if (a->o.send && !a->result_printed) {
        for (unsigned k = 0; k < a->o.channels; k++)
            if (a->chs[k].closed && zdc_channel_get_available_packet_count(a->chs[k].ch) > 0)
                return; /* not all read yet */
        logf_(a, "a channel closed before every echo arrived");
        print_result(a, false);
        finish(a, EXIT_FAIL);
        return;
    }
    /* A channel closed before we began closing them all: the other side closes; follow. */
    if (!a->closing && a->n_closed < a->o.channels && !a->o.send)
        close_channels(a);
    if (a->n_closed == a->o.channels && (!a->o.send || a->result_printed))
        finish(a, EXIT_OK);
}

/* On channels that may drop messages the sender stops waiting after a quiet period. */
static void check_quiet(app *a)
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

static const char *const state_names[] = {"new",          "connecting", "connected",
                                          "disconnected", "failed",     "closed"};

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    app *a = user;
    free(a->local_type);
    free(a->local_sdp);
    a->local_type = strdup(type);
    a->local_sdp = strdup(sdp);
    if (!a->local_type || !a->local_sdp)
        fail(a, "out of memory");
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index,
                         const char *candidate)
{
    app *a = user;
    if (!a->last_mid || strcmp(a->last_mid, mid) != 0) {
        free(a->last_mid);
        a->last_mid = strdup(mid);
    }
    send_candidate(a, mid, index, candidate);
}

static void on_gathering(void *user, zdc_peer peer, int state)
{
    app *a = user;
    if (state == ZDC_GATHERING_COMPLETE)
        send_candidate(a, a->last_mid ? a->last_mid : "0", 0, "");
}

static void on_connection(void *user, zdc_peer peer, int state)
{
    app *a = user;
    if (state < 0 || state > ZDC_STATE_CLOSED)
        return;
    printf("{\"event\":\"connection\",\"state\":\"%s\"}\n", state_names[state]);
    fflush(stdout);
    bool gone =
        state == ZDC_STATE_DISCONNECTED || state == ZDC_STATE_FAILED || state == ZDC_STATE_CLOSED;
    if (a->o.await_peer_close && gone) {
        logf_(a, "the peer went away: connection %s", state_names[state]);
        finish(a, EXIT_OK);
    } else if (state == ZDC_STATE_FAILED) {
        fail(a, "connection failed");
    }
}

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
    /* What follows runs in check_closed(), after the loop has read what arrived before. */
}

/* ---- signaling in -------------------------------------------------------------------------- */

/* A string member unescaped into a new buffer; NULL (and *bad set) when it is not a string or
 * holds a NUL. */
static char *member_string(const zdc_json_member *m, bool *bad)
{
    if (!m || m->type != ZDC_JSON_STRING) {
        *bad = true;
        return NULL;
    }
    char *s = malloc(m->raw.len + 1);
    if (!s) {
        *bad = true;
        return NULL;
    }
    int n = zdc_json_unescape(m->raw, s, m->raw.len + 1);
    if (n < 0 || strlen(s) != (size_t)n) {
        free(s);
        *bad = true;
        return NULL;
    }
    return s;
}

static void add_candidate(app *a, const char *cand, const char *mid, int index)
{
    int rv = zdc_peer_add_ice_candidate(a->peer, mid, index, cand);
    if (rv < 0) /* one candidate we cannot use is no reason to stop */
        logf_(a, "add_ice_candidate \"%s\": %s (%s); ignored", cand, zdc_strerror(rv),
              zdc_peer_last_error(a->peer));
}

static void flush_remote_candidates(app *a)
{
    for (size_t i = 0; i < a->n_in_cands; i++) {
        remote_cand *c = &a->in_cands[i];
        if (!a->finished)
            add_candidate(a, c->candidate, c->mid, c->index);
        free(c->candidate);
        free(c->mid);
    }
    a->n_in_cands = 0;
}

static void handle_description(app *a, const char *type, const zdc_json_member *sdp_m)
{
    bool want_offer = !a->o.offer;
    if (strcmp(type, want_offer ? "offer" : "answer") != 0) {
        logf_(a, "ignoring an unexpected \"%s\"", type);
        return;
    }
    if (a->remote_set) {
        logf_(a, "ignoring a second \"%s\"", type);
        return;
    }
    bool bad = false;
    char *sdp = member_string(sdp_m, &bad);
    if (bad) {
        fail(a, "%s without a usable \"sdp\" string", type);
        return;
    }
    int rv = zdc_peer_set_remote_description(a->peer, type, sdp);
    free(sdp);
    if (rv < 0) {
        fail_api(a, "set_remote_description", rv);
        return;
    }
    a->remote_set = true;
    flush_remote_candidates(a);
}

static void handle_candidate(app *a, const zdc_json_member *m, size_t n)
{
    bool bad = false;
    char *cand = member_string(zdc_json_find(m, n, "candidate"), &bad);
    if (bad) {
        logf_(a, "ignoring a candidate line without a usable \"candidate\" string");
        return;
    }
    if (!*cand) { /* end of candidates */
        free(cand);
        return;
    }
    const zdc_json_member *mid_m = zdc_json_find(m, n, "sdpMid");
    const zdc_json_member *idx_m = zdc_json_find(m, n, "sdpMLineIndex");
    char *mid = NULL;
    if (mid_m && mid_m->type == ZDC_JSON_STRING)
        mid = member_string(mid_m, &bad);
    else
        mid = strdup("0");
    long long index = 0;
    if (idx_m && idx_m->type == ZDC_JSON_NUMBER &&
        (zdc_json_to_i64(idx_m->raw, &index) < 0 || index < 0 || index > 65535))
        bad = true;
    if (bad || !mid) {
        logf_(a, "ignoring a candidate line with a bad sdpMid or sdpMLineIndex");
        free(cand);
        free(mid);
        return;
    }
    if (a->remote_set) {
        add_candidate(a, cand, mid, (int)index);
        free(cand);
        free(mid);
        return;
    }
    remote_cand *c = realloc(a->in_cands, (a->n_in_cands + 1) * sizeof *c);
    if (!c) {
        free(cand);
        free(mid);
        fail(a, "out of memory");
        return;
    }
    a->in_cands = c;
    a->in_cands[a->n_in_cands++] = (remote_cand){cand, mid, (int)index};
}

static void handle_line(app *a, const char *p, size_t len)
{
    while (len && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    if (!len)
        return;
    zdc_json_member m[16];
    size_t n;
    if (zdc_json_parse_object(p, len, m, 16, &n) < 0) {
        logf_(a, "ignoring a line that is not a JSON object: %.80s", p);
        return;
    }
    const zdc_json_member *type = zdc_json_find(m, n, "type");
    if (type) {
        bool bad = false;
        char *t = member_string(type, &bad);
        if (t)
            handle_description(a, t, zdc_json_find(m, n, "sdp"));
        else
            logf_(a, "ignoring a line whose \"type\" is not a string");
        free(t);
    } else if (zdc_json_find(m, n, "candidate")) {
        handle_candidate(a, m, n);
    } else {
        logf_(a, "ignoring a line: %.80s", p);
    }
}

static void on_stdin_eof(app *a)
{
    a->stdin_eof = true;
    if (a->o.send)
        return; /* a sender finishes on its own, or times out */
    if (a->o.await_peer_close)
        return; /* the other side has gone: we must notice that ourselves */
    if ((a->o.close || a->o.close_after >= 0) && a->n_closed < a->o.channels) {
        logf_(a, "stdin closed before the channel was");
        finish(a, EXIT_FAIL);
        return;
    }
    a->eof_until = now_seconds() + EOF_GRACE_SECONDS;
}

/* Reads what stdin has (without blocking) and handles each complete line. */
static bool read_stdin(app *a)
{
    struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
    if (a->stdin_eof || poll(&pfd, 1, 0) <= 0)
        return false;
    if (a->line_cap - a->line_len < 4096) {
        size_t cap = a->line_cap ? a->line_cap * 2 : 16384;
        char *l = realloc(a->line, cap);
        if (!l) {
            fail(a, "out of memory");
            return false;
        }
        a->line = l;
        a->line_cap = cap;
    }
    ssize_t got = read(STDIN_FILENO, a->line + a->line_len, a->line_cap - a->line_len - 1);
    if (got < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return false;
        logf_(a, "reading stdin: %s", strerror(errno));
        on_stdin_eof(a);
        return true;
    }
    if (got == 0) {
        if (a->line_len && !a->line_too_long)
            handle_line(a, a->line, a->line_len); /* a last line without LF */
        a->line_len = 0;
        if (!a->finished)
            on_stdin_eof(a);
        return true;
    }
    a->line_len += (size_t)got;
    size_t start = 0;
    for (size_t i = a->line_len - (size_t)got; i < a->line_len && !a->finished; i++) {
        if (a->line[i] != '\n')
            continue;
        a->line[i] = '\0';
        if (!a->line_too_long)
            handle_line(a, a->line + start, i - start);
        a->line_too_long = false;
        start = i + 1;
    }
    memmove(a->line, a->line + start, a->line_len - start);
    a->line_len -= start;
    if (a->line_len > MAX_LINE) { /* drop the rest of this line */
        logf_(a, "ignoring a line longer than %u bytes", MAX_LINE);
        a->line_too_long = true;
        a->line_len = 0;
    }
    return true;
}

/* ---- options ------------------------------------------------------------------------------- */

static const char usage_text[] =
    "usage: zdc-peer --offer|--answer [--echo] [--send COUNT --size SIZE] [--text]\n"
    "                [--label NAME] [--unordered] [--max-retransmits N]\n"
    "                [--max-packet-life-time MS] [--negotiated ID] [--protocol P] [--close]\n"
    "                [--timeout S]\n"
    "zdc extensions: [--utf8] [--channels N] [--close-after N] [--await-close]\n"
    "                [--close-peer] [--await-peer-close] [--no-loopback]\n"
    "JSON lines on stdin/stdout as in PEER_PROTOCOL.md (v1).\n";

static bool parse_number(const char *s, uint64_t max, uint64_t *out)
{
    if (!s)
        return false;
    zdc_str str = zdc_str_c(s);
    return zdc_str_to_u64(str, max, out) == 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){.label = "test",
                   .protocol = "",
                   .max_retransmits = -1,
                   .max_packet_life_time = -1,
                   .negotiated = -1,
                   .timeout = 30,
                   .channels = 1,
                   .close_after = -1};
    int roles = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t v = 0;
#define NUMBER(max)                                                                                \
    do {                                                                                           \
        if (!parse_number(val, (max), &v)) {                                                       \
            fprintf(stderr, "zdc-peer: %s needs an integer 0..%llu\n", arg,                        \
                    (unsigned long long)(max));                                                    \
            return -1;                                                                             \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (strcmp(arg, "--offer") == 0 || strcmp(arg, "--answer") == 0) {
            o->offer = arg[2] == 'o';
            roles++;
        } else if (strcmp(arg, "--echo") == 0) {
            o->echo = true;
        } else if (strcmp(arg, "--send") == 0) {
            NUMBER(UINT32_MAX);
            o->send = v;
        } else if (strcmp(arg, "--size") == 0) {
            NUMBER(64u << 20);
            o->size = (size_t)v;
            o->size_given = true;
        } else if (strcmp(arg, "--text") == 0) {
            o->text = true;
        } else if (strcmp(arg, "--label") == 0 || strcmp(arg, "--protocol") == 0) {
            if (!val) {
                fprintf(stderr, "zdc-peer: %s needs a value\n", arg);
                return -1;
            }
            *(arg[2] == 'l' ? &o->label : &o->protocol) = val;
            i++;
        } else if (strcmp(arg, "--unordered") == 0) {
            o->unordered = true;
        } else if (strcmp(arg, "--max-retransmits") == 0) {
            NUMBER(65535);
            o->max_retransmits = (long)v;
        } else if (strcmp(arg, "--max-packet-life-time") == 0) {
            NUMBER(65535);
            o->max_packet_life_time = (long)v;
        } else if (strcmp(arg, "--negotiated") == 0) {
            NUMBER(65534);
            o->negotiated = (long)v;
        } else if (strcmp(arg, "--close") == 0) {
            o->close = true;
        } else if (strcmp(arg, "--utf8") == 0) {
            o->utf8 = true;
        } else if (strcmp(arg, "--channels") == 0) {
            NUMBER(MAX_CHANNELS);
            o->channels = (unsigned)v;
            o->channels_given = true;
        } else if (strcmp(arg, "--close-after") == 0) {
            NUMBER(UINT32_MAX);
            o->close_after = (long long)v;
        } else if (strcmp(arg, "--await-close") == 0) {
            o->await_close = true;
        } else if (strcmp(arg, "--close-peer") == 0) {
            o->close_peer = true;
        } else if (strcmp(arg, "--await-peer-close") == 0) {
            o->await_peer_close = true;
        } else if (strcmp(arg, "--no-loopback") == 0) {
            o->no_loopback = true;
        } else if (strcmp(arg, "--timeout") == 0) {
            NUMBER(86400);
            o->timeout = (long)v;
        } else {
            fprintf(stderr, "zdc-peer: unknown option %s\n", arg);
            return -1;
        }
#undef NUMBER
    }
    if (roles != 1) {
        fprintf(stderr, "zdc-peer: give exactly one of --offer and --answer\n");
        return -1;
    }
    if (o->max_retransmits >= 0 && o->max_packet_life_time >= 0) {
        fprintf(stderr,
                "zdc-peer: --max-retransmits and --max-packet-life-time exclude each other\n");
        return -1;
    }
    if (o->send && !o->size_given) {
        fprintf(stderr, "zdc-peer: --send needs --size\n");
        return -1;
    }
    if (o->utf8 && !o->text) {
        fprintf(stderr, "zdc-peer: --utf8 needs --text\n");
        return -1;
    }
    if (o->channels == 0 || (o->channels > 1 && o->negotiated >= 0)) {
        fprintf(stderr, "zdc-peer: --channels needs 1..%d, and no --negotiated\n", MAX_CHANNELS);
        return -1;
    }
    if (o->close + o->await_close + o->close_peer > 1) {
        fprintf(stderr, "zdc-peer: --close, --await-close and --close-peer exclude each other\n");
        return -1;
    }
    return 0;
}

/* ---- setup and the loop -------------------------------------------------------------------- */

static int start(app *a)
{
    const options *o = &a->o;
    zdc_engine_options eo;
    zdc_engine_options_default(&eo);
    /* The test machines have loopback only, unless a test made them another interface. */
    eo.include_loopback = !o->no_loopback;
    int rv = zdc_engine_new(&eo, &a->engine);
    if (rv < 0) {
        fail(a, "engine: %s", zdc_strerror(rv));
        return rv;
    }
    logf_(a, "engine up (%s), udp port %d", zdc_engine_backend_name(a->engine),
          zdc_engine_port(a->engine, 4));

    zdc_peer_callbacks cb = {
        .user = a,
        .on_session_description_created = on_description,
        .on_ice_candidate_created = on_candidate,
        .on_data_channel_received = on_data_channel,
        .on_connection_state_change = on_connection,
        .on_gathering_state_change = on_gathering,
        .on_channel_open = on_open,
        .on_channel_close = on_close,
    };
    rv = zdc_peer_new(a->engine, &cb, &a->peer);
    if (rv < 0) {
        fail(a, "peer: %s", zdc_strerror(rv));
        return rv;
    }
    rv = zdc_peer_initialize(a->peer, &(zdc_peer_config){0});
    if (rv < 0) {
        fail_api(a, "initialize", rv);
        return rv;
    }

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
    if (o->offer) {
        rv = zdc_peer_create_offer(a->peer);
        if (rv < 0) {
            fail_api(a, "create_offer", rv);
            return rv;
        }
    }
    return 0;
}

/* The engine's counters: where datagrams went (logged when giving up). */
static void log_engine_stats(const app *a)
{
    zdc_engine_stats st;
    zdc_engine_get_stats(a->engine, &st);
    logf_(a,
          "engine: rx %" PRIu64 " datagrams (%" PRIu64 " routed, %" PRIu64 " unrouted, %" PRIu64
          " no buffer), tx %" PRIu64 " (%" PRIu64 " no buffer, %" PRIu64 " queue full, %" PRIu64
          " refused), %" PRIu64 " timeouts",
          st.rx_datagrams, st.rx_routed, st.rx_unrouted, st.rx_no_buffer, st.tx_datagrams,
          st.tx_no_buffer, st.tx_queue_full, st.tx_refused, st.timeouts_run);
}

static void on_timeout(app *a)
{
    logf_(a, "timeout after %ld s", a->o.timeout);
    log_engine_stats(a);
    logf_(a,
          "connection %d, %zu channels, %zu open, %zu closed, %" PRIu64 " echoed, %" PRIu64
          " sent, %" PRIu64 " echoes received",
          zdc_peer_get_connection_state(a->peer), a->n_have, a->n_open, a->n_closed, a->echoed,
          a->next_send, a->received);
    for (unsigned k = 0; k < a->o.channels; k++) /* where it stuck */
        if (a->chs[k].ch.id)
            logf_(a, "channel %s: state %d, %zu bytes buffered, %d messages waiting", a->labels[k],
                  zdc_channel_get_ready_state(a->chs[k].ch),
                  zdc_channel_get_buffered_amount(a->chs[k].ch),
                  zdc_channel_get_available_packet_count(a->chs[k].ch));
    if (a->o.send && !a->result_printed)
        print_result(a, false);
    finish(a, EXIT_FAIL);
}

static void run(app *a)
{
    while (!a->finished) {
        if (now_seconds() >= a->deadline) {
            on_timeout(a);
            break;
        }
        bool busy = read_stdin(a);
        apply_local_description(a);
        busy |= pump_receive(a);
        busy |= pump_send(a);
        check_quiet(a);
        check_closed(a);
        if (a->linger_until > 0 && now_seconds() >= a->linger_until)
            finish(a, EXIT_OK);
        if (a->eof_until > 0 && (a->n_closed == a->n_have || now_seconds() >= a->eof_until))
            finish(a, EXIT_OK);
        if (a->finished)
            break;
        /* Wait for the network only when there is nothing to do here; stdin is looked at
         * again within a few milliseconds. */
        int rv = zdc_engine_poll(a->engine, busy ? 0 : 5);
        if (rv < 0)
            fail(a, "engine poll: %s", zdc_strerror(rv));
    }
}

static void cleanup(app *a)
{
    if (a->peer.id) {
        zdc_peer_close(a->peer);
        zdc_peer_free(a->peer);
    }
    zdc_engine_free(a->engine);
    free(a->local_type);
    free(a->local_sdp);
    for (size_t i = 0; i < a->n_out_lines; i++)
        free(a->out_lines[i]);
    free(a->out_lines);
    for (size_t i = 0; i < a->n_in_cands; i++) {
        free(a->in_cands[i].candidate);
        free(a->in_cands[i].mid);
    }
    free(a->in_cands);
    free(a->last_mid);
    free(a->msg);
    free(a->scratch);
    for (unsigned k = 0; k < MAX_CHANNELS; k++)
        free(a->labels[k]);
    free(a->line);
}

int main(int argc, char **argv)
{
    static app a;
    if (parse_options(argc, argv, &a.o) < 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN); /* a relay that went away shows as write errors */
    a.reliable = a.o.max_retransmits < 0 && a.o.max_packet_life_time < 0;
    a.intact = true;
    a.deadline = now_seconds() + (double)a.o.timeout;
    a.msg = malloc(a.o.size ? a.o.size : 1);
    a.scratch = malloc(a.o.size ? a.o.size : 1);
    bool oom = !a.msg || !a.scratch;
    for (unsigned k = 0; k < a.o.channels && !oom; k++) {
        size_t n = strlen(a.o.label) + 16;
        a.chs[k].next_expected = k; /* message k is channel k's first */
        a.labels[k] = malloc(n);
        oom = !a.labels[k];
        if (!oom && a.o.channels_given)
            snprintf(a.labels[k], n, "%s-%u", a.o.label, k);
        else if (!oom)
            snprintf(a.labels[k], n, "%s", a.o.label);
    }
    if (oom) {
        fprintf(stderr, "zdc-peer: out of memory\n");
        cleanup(&a);
        return EXIT_FAIL;
    }
    if (start(&a) == 0)
        run(&a);
    cleanup(&a);
    return a.finished ? a.exit_code : EXIT_FAIL;
}
