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
 *   {"stats":true}     (a line on stdin) print {"event":"stats",...} with zdc_peer_get_stats's
 *                      and every channel's zdc_channel_get_stats's numbers, then the line
 *                      {"statsDone":true} (relayed to the other peer); printed at exit too
 *                      (reason "exit"), see stats.c
 *   --restart-ice-at K (sender) after K echoes, restart ICE (zdc_peer_restart_ice: a new offer
 *                      with new credentials) while the rest of the series flows; prints
 *                      {"event":"restart"}. Either peer accepts a later offer (answering it)
 *                      or the answer to its own, and prints {"event":"renegotiated","type":T}
 *   --stats-exchange   (sender) after the result, print our stats event (reason "result"),
 *                      send {"stats":true} to the other side and wait (up to 3 s) for its
 *                      {"statsDone":true} before closing: both snapshots are taken while the
 *                      channels are open (run.mjs compares them with the browser's getStats)
 *   --ice-server URLS  an RTCIceServer's urls (stun:/turn:, comma separated; up to 4 servers),
 *                      with --ice-username U --ice-credential C after it for turn: URLs
 *   --relay-only       iceTransportPolicy "relay": only relayed candidates (test/nat/nat.sh)
 *   --ice-tls-fingerprint F, --ice-tls-insecure
 *                      after an --ice-server with turns: URLs: pin the TURN server's certificate
 *                      (SHA-256) or skip verification
 *   --turn-refresh-ms N  tuning.turn_refresh_ms: refresh TURN allocations and permissions every
 *                      N ms (shows a real Refresh/CreatePermission in a short run)
 *
 * The callbacks only record what happened (and print events); everything that calls back into
 * zdc — applying the local description, sending, echoing, closing — runs from the main loop
 * between polls.
 *
 * This file: options, setup, the connection state, the loop and the exit codes. The signaling
 * lines are in signaling.c, the channels and their messages in traffic.c, log and error
 * reports in report.c; zdc_peer.h holds the state they share and says who calls whom.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "zdc_peer.h"

/* How long --stats-exchange waits for the other side's statsDone. */
#define STATS_WAIT_SECONDS 3.0

/* ---- options ------------------------------------------------------------------------------- */

static const char usage_text[] =
    "usage: zdc-peer --offer|--answer [--echo] [--send COUNT --size SIZE] [--text]\n"
    "                [--label NAME] [--unordered] [--max-retransmits N]\n"
    "                [--max-packet-life-time MS] [--negotiated ID] [--protocol P] [--close]\n"
    "                [--timeout S]\n"
    "zdc extensions: [--utf8] [--channels N] [--close-after N] [--await-close]\n"
    "                [--close-peer] [--await-peer-close] [--no-loopback]\n"
    "                [--stats-exchange] [--restart-ice-at K]\n"
    "                [--ice-server URLS [--ice-username U --ice-credential C]]...\n"
    "                [--ice-tls-fingerprint F | --ice-tls-insecure] (turns:, after --ice-server)\n"
    "                [--relay-only] [--turn-refresh-ms N]\n"
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
                   .close_after = -1,
                   .restart_ice_at = -1};
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
        } else if (strcmp(arg, "--stats-exchange") == 0) {
            o->stats_exchange = true;
        } else if (strcmp(arg, "--restart-ice-at") == 0) {
            NUMBER(UINT32_MAX);
            o->restart_ice_at = (long long)v;
        } else if (strcmp(arg, "--await-peer-close") == 0) {
            o->await_peer_close = true;
        } else if (strcmp(arg, "--ice-server") == 0) {
            if (!val || o->n_ice_servers == 4) {
                fprintf(stderr, "zdc-peer: --ice-server needs URLS (at most 4 servers)\n");
                return -1;
            }
            o->ice_servers[o->n_ice_servers++] = (zdc_ice_server){.urls = val};
            i++;
        } else if (strcmp(arg, "--ice-username") == 0 || strcmp(arg, "--ice-credential") == 0) {
            if (!val || o->n_ice_servers == 0) {
                fprintf(stderr, "zdc-peer: %s needs a value, after --ice-server\n", arg);
                return -1;
            }
            zdc_ice_server *srv = &o->ice_servers[o->n_ice_servers - 1];
            *(arg[6] == 'u' ? &srv->username : &srv->credential) = val;
            i++;
        } else if (strcmp(arg, "--ice-tls-fingerprint") == 0 ||
                   strcmp(arg, "--ice-tls-insecure") == 0) {
            bool fp = arg[10] == 'f';
            if ((fp && !val) || o->n_ice_servers == 0) {
                fprintf(stderr, "zdc-peer: %s needs a value, after --ice-server\n", arg);
                return -1;
            }
            zdc_ice_server *srv = &o->ice_servers[o->n_ice_servers - 1];
            if (fp) {
                srv->tls_fingerprint = val;
                i++;
            } else {
                srv->tls_insecure = true;
            }
        } else if (strcmp(arg, "--turn-refresh-ms") == 0) {
            NUMBER(UINT32_MAX);
            o->turn_refresh_ms = (uint32_t)v;
        } else if (strcmp(arg, "--relay-only") == 0) {
            o->relay_only = true;
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

/* ---- connection state (fires inside zdc_engine_poll) --------------------------------------- */

static const char *const state_names[] = {"new",          "connecting", "connected",
                                          "disconnected", "failed",     "closed"};

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
        .on_connection_state_change = on_connection,
    };
    signaling_callbacks(&cb);
    traffic_callbacks(&cb);
    rv = zdc_peer_new(a->engine, &cb, &a->peer);
    if (rv < 0) {
        fail(a, "peer: %s", zdc_strerror(rv));
        return rv;
    }
    zdc_peer_config pcfg = {.ice_servers = o->ice_servers,
                            .n_ice_servers = o->n_ice_servers,
                            .ice_transport_policy =
                                o->relay_only ? ZDC_ICE_TRANSPORT_RELAY : ZDC_ICE_TRANSPORT_ALL,
                            .tuning.turn_refresh_ms = o->turn_refresh_ms};
    rv = zdc_peer_initialize(a->peer, &pcfg);
    if (rv < 0) {
        fail_api(a, "initialize", rv);
        return rv;
    }
    rv = traffic_create_channels(a);
    if (rv < 0)
        return rv;
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
        traffic_print_result(a, false);
    finish(a, EXIT_FAIL);
}

/* --stats-exchange: our snapshot, the other side's, then the end of the series. */
static void run_stats_exchange(app *a)
{
    if (a->stats_exchange == 1) {
        stats_print(a, "result");
        puts("{\"stats\":true}");
        fflush(stdout);
        a->stats_exchange = 2;
        a->stats_wait_until = now_seconds() + STATS_WAIT_SECONDS;
    } else if (a->stats_exchange == 2 && (a->stats_done || now_seconds() >= a->stats_wait_until)) {
        if (!a->stats_done)
            logf_(a, "no statsDone from the other side within %.0f s", STATS_WAIT_SECONDS);
        a->stats_exchange = 3;
        traffic_end_series(a);
    }
}

static void run(app *a)
{
    while (!a->finished) {
        if (now_seconds() >= a->deadline) {
            on_timeout(a);
            break;
        }
        bool busy = signaling_read_stdin(a);
        if (a->stats_requested) {
            a->stats_requested = false;
            stats_print(a, "request");
            puts("{\"statsDone\":true}");
            fflush(stdout);
        }
        run_stats_exchange(a);
        if (a->o.restart_ice_at >= 0 && !a->restarted &&
            a->received >= (uint64_t)a->o.restart_ice_at) {
            a->restarted = true;
            int rv = zdc_peer_restart_ice(a->peer);
            if (rv < 0) {
                fail_api(a, "restart_ice", rv);
            } else {
                logf_(a, "ICE restart after %" PRIu64 " echoes", a->received);
                puts("{\"event\":\"restart\"}");
                fflush(stdout);
            }
        }
        signaling_apply_local_description(a);
        busy |= traffic_pump_receive(a);
        busy |= traffic_pump_send(a);
        traffic_check_quiet(a);
        traffic_check_closed(a);
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
    signaling_clear(a);
    traffic_clear(a);
}

int main(int argc, char **argv)
{
    static app a;
    if (parse_options(argc, argv, &a.o) < 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN); /* a relay that went away shows as write errors */
    a.deadline = now_seconds() + (double)a.o.timeout;
    if (!traffic_init(&a)) {
        fprintf(stderr, "zdc-peer: out of memory\n");
        cleanup(&a);
        return EXIT_FAIL;
    }
    if (start(&a) == 0)
        run(&a);
    stats_print(&a, "exit");
    cleanup(&a);
    return a.finished ? a.exit_code : EXIT_FAIL;
}
