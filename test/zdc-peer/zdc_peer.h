/* zdc-peer's internal header: the state every file of the program shares, and the functions
 * they call in each other. Not part of zdc.
 *
 * The files, and who calls whom (one way only; none calls back into main.c):
 *   main.c       options, setup, connection state, the loop, timeout, exit codes
 *     -> signaling.c  the JSON lines of shared/PEER_PROTOCOL.md on stdin/stdout: descriptions
 *                     and candidates, out and in
 *     -> traffic.c    the channels: opening, sending, echoing, checking echoes, closing
 *   report.c     log lines, error events and the result of failing; called by all three
 *   stats.c      the stats event (zdc_peer_get_stats); called by main.c
 *   json.c       the JSON reader (built into zdc_test_support)
 * signaling.c and traffic.c do not call each other: what one does that matters to the other is
 * a field of `app` (say, how many channels closed when stdin ends).
 */
#ifndef ZDC_TEST_ZDC_PEER_H
#define ZDC_TEST_ZDC_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "zdc/engine.h"
#include "zdc/peer.h"

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
};

/* Most channels --channels may ask for. */
#define MAX_CHANNELS 64

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
    bool stats_exchange;
    long long restart_ice_at; /* -1 = off; else restart ICE after this many echoes */
    /* --ice-server URLS (repeatable) with --ice-username/--ice-credential after it;
     * --relay-only: iceTransportPolicy "relay" */
    zdc_ice_server ice_servers[4];
    size_t n_ice_servers;
    bool relay_only;
    uint32_t turn_refresh_ms;
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

    /* signaling (signaling.c) */
    char *local_type, *local_sdp; /* created, not yet applied */
    bool local_sent;              /* our description is out: candidates may follow it */
    bool remote_set;
    char **out_lines; /* our candidate lines held until the description is out */
    size_t n_out_lines;
    remote_cand *in_cands; /* remote candidates held until the remote description is set */
    size_t n_in_cands;
    char *last_mid; /* mid of our last candidate, for the end-of-candidates line */
    bool end_sent;

    /* stdin (signaling.c) */
    char *line;
    size_t line_len, line_cap;
    bool stdin_eof;
    bool line_too_long;
    bool stats_requested; /* {"stats":true} came in: main.c prints the stats event and
                             answers {"statsDone":true} */
    bool stats_done;      /* {"statsDone":true} came in */
    /* --stats-exchange (sender): 1 = the result is out, main.c prints our stats and asks the
     * other side for its own; 2 = waiting for its statsDone until stats_wait_until; then
     * traffic_end_series. */
    int stats_exchange;
    bool restarted;         /* --restart-ice-at done */
    bool restart_answered;  /* the answer to our restart offer is applied */
    bool end_after_restart; /* the series ended first: traffic_end_series once it is */
    double stats_wait_until;
    double eof_until; /* stdin ended: exit once every channel closed, or at this time */

    /* the channels, in label order; a received one fills the slot its label names (traffic.c) */
    chan chs[MAX_CHANNELS];
    char *labels[MAX_CHANNELS];
    size_t n_have, n_open, n_closed;
    bool closing;
    double linger_until; /* --close-peer: exit at this time */
    uint64_t echoed;

    /* the sender's series (traffic.c) */
    uint8_t *msg, *scratch;
    uint64_t next_send;
    uint64_t received, bytes;
    bool intact;
    bool sending_done;
    double t0, t_last_echo, t_quiet_from;
    bool result_printed;

    /* the end (finish()) */
    double deadline;
    bool finished;
    int exit_code;
} app;

static inline double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Ends the loop with this exit code; the first call wins. */
static inline void finish(app *a, int code)
{
    if (a->finished)
        return;
    a->finished = true;
    a->exit_code = code;
}

/* ---- report.c ---------------------------------------------------------------------------- */

/* A log line on stderr: "zdc-peer[offer|answer]: ...". */
void logf_(const app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s (n bytes) as a JSON string with quotes, malloc'ed; NULL when out of memory. */
char *json_string(const char *s, size_t n);
/* {"event":"error","message":...}, then finish with EXIT_FAIL. */
void fail(app *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "who: zdc error text (peer's last error)". */
void fail_api(app *a, const char *what, int rv);

/* ---- signaling.c ------------------------------------------------------------------------- */

/* Fills in the callbacks of the description and the candidates. */
void signaling_callbacks(zdc_peer_callbacks *cb);
/* Reads what stdin has (without blocking) and handles each complete line; true when it did. */
bool signaling_read_stdin(app *a);
/* Applies the description zdc created and sends it, then the candidates that waited for it. */
void signaling_apply_local_description(app *a);
/* Frees what signaling holds. */
void signaling_clear(app *a);

/* ---- traffic.c --------------------------------------------------------------------------- */

/* Labels, message buffers and the series' starting state; false when out of memory. */
bool traffic_init(app *a);
/* Fills in the callbacks of the channels. */
void traffic_callbacks(zdc_peer_callbacks *cb);
/* Creates the channels on the side that creates them; < 0 (and failed) on error. */
int traffic_create_channels(app *a);
/* Echoes or checks what arrived; true when there was some. */
bool traffic_pump_receive(app *a);
/* Sends what the channels' queues take; true when it sent. */
bool traffic_pump_send(app *a);
/* On channels that may drop messages the sender stops waiting after a quiet period. */
void traffic_check_quiet(app *a);
/* What closed channels mean, once every message that came before the close has been read. */
void traffic_check_closed(app *a);
/* {"event":"result",...} */
void traffic_print_result(app *a, bool ok);
/* What the sender does after a good result: close, await the close, close the peer, or exit. */
void traffic_end_series(app *a);
/* Frees what traffic holds. */
void traffic_clear(app *a);

/* ---- stats.c ----------------------------------------------------------------------------- */

/* {"event":"stats","reason":reason,"peer":{...},"channels":[...]} and a log line. */
void stats_print(const app *a, const char *reason);

#endif
