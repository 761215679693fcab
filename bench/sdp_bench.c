/* SDP codec throughput: Chrome-style offers (with four candidates) parsed per second, beside a
 * floor that only splits the same text into lines with memchr, and offers built per second.
 * The floor and the parser alternate in rounds so both see the same machine state.
 * Runs about 2.5 s. Usage: sdp_bench [seconds per measurement, default 0.8] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zdc/sdp.h"

static const char offer[] =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "a=extmap-allow-mixed\r\n"
    "a=msid-semantic: WMS\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=candidate:1467250027 1 udp 2122260223 6f1b3f2c-9a4b-4c7e-8f3e-2a1b7c9d0e5f.local 54321 "
    "typ host generation 0 network-id 1 network-cost 10\r\n"
    "a=candidate:3890297443 1 udp 2122194687 b2c4e6a8-1d3f-4a5b-9c7d-0e1f2a3b4c5d.local 60123 "
    "typ host generation 0 network-id 2 network-cost 50\r\n"
    "a=candidate:1467250027 1 tcp 1518280447 6f1b3f2c-9a4b-4c7e-8f3e-2a1b7c9d0e5f.local 9 typ "
    "host tcptype active generation 0 network-id 1 network-cost 10\r\n"
    "a=candidate:842163049 1 udp 1686052607 203.0.113.7 54321 typ srflx raddr 0.0.0.0 rport 0 "
    "generation 0 network-id 1 network-cost 10\r\n"
    "a=ice-ufrag:EsAw\r\n"
    "a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y\r\n"
    "a=ice-options:trickle\r\n"
    "a=fingerprint:sha-256 "
    "49:C7:17:C1:12:9D:CE:FB:31:34:1E:87:BB:E8:88:F3:04:06:7E:10:B0:0A:16:17:EB:6A:2A:CC:E8:0D:"
    "46:C5\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sctp-port:5000\r\n"
    "a=max-message-size:262144\r\n";

static volatile size_t sink;
static zdc_sdp parsed;
static char out[4096];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The floor: every line located, nothing interpreted. */
static size_t split_lines(const char *p, size_t len)
{
    size_t lines = 0, off = 0;
    while (off < len) {
        const char *nl = memchr(p + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - p) : len;
        lines += end - off; /* use each line's length so the loop is not folded away */
        off = end + 1;
    }
    return lines;
}

static size_t run_floor(void)
{
    const char *p = offer;
    size_t len = sizeof offer - 1;
    size_t s = 0;
    for (int i = 0; i < 1000; i++)
        s += split_lines(p, len);
    return s;
}

static size_t run_parse(void)
{
    const char *p = offer;
    size_t len = sizeof offer - 1;
    size_t s = 0;
    for (int i = 0; i < 1000; i++) {
        if (zdc_sdp_parse(p, len, &parsed, NULL) != 0) {
            fprintf(stderr, "sdp_bench: the offer does not parse\n");
            exit(1);
        }
        s += parsed.media[0].n_candidates;
    }
    return s;
}

#define VIEW(s)                                                                                    \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }
static const zdc_sdp_str cands[] = {
    VIEW("candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host"),
    VIEW("candidate:2 1 udp 1694498815 198.51.100.1 50000 typ srflx raddr 192.0.2.10 rport 50000"),
    VIEW("candidate:3 1 udp 2130706175 2001:db8::10 50002 typ host"),
    VIEW("candidate:4 1 tcp 1518280447 192.0.2.10 9 typ host tcptype passive"),
};

static zdc_sdp_desc desc;

static size_t run_build(void)
{
    const zdc_sdp_desc *d = &desc;
    size_t s = 0;
    for (int i = 0; i < 1000; i++) {
        int n = zdc_sdp_build_offer(d, out, sizeof out);
        if (n < 0) {
            fprintf(stderr, "sdp_bench: build failed: %d\n", n);
            exit(1);
        }
        s += (size_t)n;
    }
    return s;
}

typedef struct phase {
    double secs;
    uint64_t ops;
} phase;

/* Runs `batch` (1000 operations) repeatedly for `dur` seconds, adding to *ph. */
static void timed(phase *ph, double dur, size_t (*batch)(void))
{
    double t0 = now(), end = t0 + dur, t;
    do {
        sink += batch();
        ph->ops += 1000;
    } while ((t = now()) < end);
    ph->secs += t - t0;
}

static double rate(const phase *ph)
{
    return (double)ph->ops / ph->secs;
}

static void row(const char *what, const phase *ph, size_t bytes)
{
    double ops = rate(ph);
    printf("  %-32s %12.0f %9.1f %9.1f\n", what, ops, 1e9 / ops, ops * (double)bytes / 1e6);
}

int main(int argc, char **argv)
{
    double budget = argc > 1 ? atof(argv[1]) : 0.8;
    if (budget <= 0)
        budget = 0.8;
    size_t len = sizeof offer - 1;
    phase floor = {0}, parse = {0}, build = {0};

    /* Floor and parser alternate in 8 rounds of budget/8 s each. */
    for (int r = 0; r < 8; r++) {
        timed(&floor, budget / 8, run_floor);
        timed(&parse, budget / 8, run_parse);
    }

    zdc_sdp_desc d = {
        .sess_id = 4611731400430051336ull,
        .sess_version = 2,
        .ice_ufrag = {"EsAw", 4},
        .ice_pwd = {"bP+XJMM09aR8AiX1jdukzR6Y", 24},
        .setup = ZDC_SDP_SETUP_ACTPASS,
        .trickle = true,
        .extmap_allow_mixed = true,
        .max_message_size = 262144,
        .candidates = cands,
        .n_candidates = 4,
    };
    d.fingerprint.hash = ZDC_SDP_HASH_SHA256;
    d.fingerprint.len = 32;
    memcpy(d.fingerprint.bytes, "0123456789abcdef0123456789abcdef", 32);
    int built = zdc_sdp_build_offer(&d, out, sizeof out);
    if (built < 0 || zdc_sdp_parse(out, (size_t)built, &parsed, NULL) != 0) {
        fprintf(stderr, "sdp_bench: built offer does not parse\n");
        return 1;
    }
    desc = d;
    timed(&build, budget, run_build);

    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += offer[i] == '\n';
    printf("sdp_bench: Chrome-style offer of %zu bytes, %zu lines, %zu candidates; built offer "
           "%d bytes with %zu candidates\n",
           len, lines, parsed.media[0].n_candidates, built, d.n_candidates);
    printf("  %-32s %12s %9s %9s\n", "what", "per second", "ns/op", "MB/s");
    row("line split floor (memchr)", &floor, len);
    row("zdc_sdp_parse", &parse, len);
    row("zdc_sdp_build_offer", &build, (size_t)built);
    printf("  parse rate / floor rate = %.3f (a parse costs %.1fx the memchr line split)\n",
           rate(&parse) / rate(&floor), rate(&floor) / rate(&parse));
    return 0;
}
