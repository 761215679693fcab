/* zdc-perf: the standard performance suite on loopback, zdc beside libdatachannel.
 *
 *   zdc-perf [--against libdatachannel] [--rounds N] [--quick] [--json FILE] [--only TEXT]
 *            [--node PATH] [--reference-script PATH] [--scale-peers N] [--seconds S]
 *            [--verbose]
 * --only TEXT runs the cases whose id contains TEXT (ids: see `suite` below); --seconds sets
 * how long each throughput case sends (default 1, 0.3 with --quick).
 *
 * Rounds interleave zdc and the reference case by case (zdc runs a case, then the reference
 * runs the same case in a fresh node process), so load from elsewhere hits both alike; the
 * table shows each figure's median and range over the rounds and its ratio to the reference
 * measured in this run. Exit status 1 when any case failed (a connection that did not open, a
 * message that failed its check, a reliable message lost), on either side. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf.h"

#ifndef ZDC_PERF_SCRIPT
#define ZDC_PERF_SCRIPT ""
#endif
#ifndef ZDC_PERF_SCRIPT_INSTALLED
#define ZDC_PERF_SCRIPT_INSTALLED ""
#endif

/* clang-format off */
static const perf_case suite[] = {
    {"tp-rel-65536-1p",   "reliable 64 KiB, 1 process",          PERF_THROUGHPUT, 65536, true,  1, true},
    {"tp-rel-16384-1p",   "reliable 16 KiB, 1 process",          PERF_THROUGHPUT, 16384, true,  1, true},
    {"tp-rel-1024-1p",    "reliable 1 KiB, 1 process",           PERF_THROUGHPUT, 1024,  true,  1, true},
    {"tp-unrel-1024-1p",  "unreliable 1 KiB, 1 process",         PERF_THROUGHPUT, 1024,  false, 1, true},
    {"tp-unrel-100-1p",   "unreliable 100 B, 1 process",         PERF_THROUGHPUT, 100,   false, 1, true},
    {"tp-rel-65536-2p",   "reliable 64 KiB, 2 processes",        PERF_THROUGHPUT, 65536, true,  2, true},
    {"tp-rel-16384-2p",   "reliable 16 KiB, 2 processes",        PERF_THROUGHPUT, 16384, true,  2, true},
    {"tp-rel-1024-2p",    "reliable 1 KiB, 2 processes",         PERF_THROUGHPUT, 1024,  true,  2, true},
    {"tp-unrel-1024-2p",  "unreliable 1 KiB, 2 processes",       PERF_THROUGHPUT, 1024,  false, 2, true},
    {"tp-unrel-100-2p",   "unreliable 100 B, 2 processes",       PERF_THROUGHPUT, 100,   false, 2, true},
    {"rtt-100-1p",        "round trip 100 B, 1 process",         PERF_LATENCY,    100,   true,  1, true},
    {"rtt-100-2p",        "round trip 100 B, 2 processes",       PERF_LATENCY,    100,   true,  2, true},
    {"connect-1p",        "connect create-to-open, 1 process",   PERF_CONNECT,    0,     true,  1, true},
    {"connect-2p",        "connect create-to-open, 2 processes", PERF_CONNECT,    0,     true,  2, true},
    {"handshakes",        "clients connecting at once, 1 server",PERF_HANDSHAKES, 0,     true,  2, true},
    {"scale-20hz",        "20 Hz tick, peers on 1 server engine",PERF_SCALE,      64,    false, 2, true},
};
/* clang-format on */
#define N_SUITE (int)(sizeof suite / sizeof suite[0])

/* Round trips and connections per case and implementation in a full run, shared out over the
 * rounds (each round measures its share; the table shows the median over rounds of each
 * round's percentile): 100,000 round trips and 20 connections in all, and a full run stays a
 * few minutes long. */
#define RTT_TOTAL      100000
#define CONNECTS_TOTAL 20

/* --quick: the small sizes only. */
static bool in_quick(const perf_case *c)
{
    return c->kind != PERF_THROUGHPUT || c->size <= 1024;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: zdc-perf [--against libdatachannel] [--rounds N] [--quick] [--json FILE]\n"
            "                [--only TEXT] [--node PATH] [--reference-script PATH]\n"
            "                [--scale-peers N] [--workers N] [--seconds S] [--verbose]\n"
            "Runs zdc's loopback performance suite; with --against, libdatachannel (npm\n"
            "node-datachannel) runs the same cases in the same invocation, interleaved.\n");
}

static const char *find_script(const char *given)
{
    if (given)
        return given;
    const char *env = getenv("ZDC_PERF_REFERENCE");
    if (env && *env)
        return env;
    if (*ZDC_PERF_SCRIPT && access(ZDC_PERF_SCRIPT, R_OK) == 0)
        return ZDC_PERF_SCRIPT;
    return ZDC_PERF_SCRIPT_INSTALLED;
}

static int parse_args(int argc, char **argv, perf_params *p, const char **only)
{
    const char *script = NULL;
    int rounds = 0, scale = 0;
    double secs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) {
            p->quick = true;
        } else if (strcmp(a, "--verbose") == 0) {
            p->verbose = true;
        } else if (strcmp(a, "--against") == 0 && v) {
            if (strcmp(v, "libdatachannel") != 0) {
                fprintf(stderr, "zdc-perf: the only reference is libdatachannel\n");
                return -1;
            }
            p->against = true;
            i++;
        } else if (strcmp(a, "--rounds") == 0 && v) {
            rounds = atoi(v);
            i++;
        } else if (strcmp(a, "--json") == 0 && v) {
            p->json = v;
            i++;
        } else if (strcmp(a, "--only") == 0 && v) {
            *only = v;
            i++;
        } else if (strcmp(a, "--node") == 0 && v) {
            p->node = v;
            i++;
        } else if (strcmp(a, "--reference-script") == 0 && v) {
            script = v;
            i++;
        } else if (strcmp(a, "--seconds") == 0 && v) {
            secs = atof(v);
            i++;
        } else if (strcmp(a, "--workers") == 0 && v) {
            p->workers = atoi(v);
            if (p->workers < 0 || p->workers > 64) {
                fprintf(stderr, "zdc-perf: --workers 0..64\n");
                return -1;
            }
            i++;
        } else if (strcmp(a, "--scale-peers") == 0 && v) {
            scale = atoi(v);
            i++;
        } else {
            usage();
            return -1;
        }
    }
    if (p->quick) {
        p->rounds = 1;
        p->tp_secs = 0.3;
        p->rtt_count = 2000;
        p->connects = 5;
        p->hs_clients = 20;
        p->scale_peers = 50;
        p->scale_secs = 1;
    }
    if (rounds) {
        if (rounds < 1 || rounds > PERF_MAX_ROUNDS) {
            fprintf(stderr, "zdc-perf: --rounds 1..%d\n", PERF_MAX_ROUNDS);
            return -1;
        }
        p->rounds = rounds;
    }
    if (!p->quick) {
        p->rtt_count = (RTT_TOTAL + p->rounds - 1) / p->rounds;
        p->connects = (CONNECTS_TOTAL + p->rounds - 1) / p->rounds;
        if (p->connects < 5)
            p->connects = 5;
    }
    if (secs) {
        if (secs < 0.05 || secs > 60) {
            fprintf(stderr, "zdc-perf: --seconds 0.05..60\n");
            return -1;
        }
        p->tp_secs = secs;
    }
    if (scale) {
        if (scale < 1 || scale > 20000) {
            fprintf(stderr, "zdc-perf: --scale-peers 1..20000\n");
            return -1;
        }
        p->scale_peers = scale;
    }
    p->script = find_script(script);
    return 0;
}

int main(int argc, char **argv)
{
    perf_params p = {.rounds = 3,
                     .tp_secs = 1.0,
                     .rtt_count = RTT_TOTAL,
                     .connects = CONNECTS_TOTAL,
                     .hs_clients = 200,
                     .scale_peers = 1000,
                     .scale_secs = 5,
                     .node = "node"};
    const char *only = NULL;
    if (parse_args(argc, argv, &p, &only) != 0)
        return 2;

    perf_case_result *res = calloc(N_SUITE, sizeof *res);
    int n = 0;
    for (int i = 0; i < N_SUITE; i++) {
        if ((p.quick && !in_quick(&suite[i])) || (only && !strstr(suite[i].id, only)))
            continue;
        res[n++].c = &suite[i];
    }
    if (n == 0) {
        fprintf(stderr, "zdc-perf: no case matches\n");
        return 2;
    }
    char version[160] = "";
    double t_start = perf_now();
    for (int round = 0; round < p.rounds; round++) {
        for (int i = 0; i < n; i++) {
            perf_case_result *r = &res[i];
            /* The scale case holds a thousand engines: once per invocation is enough. */
            if (r->c->kind == PERF_SCALE && round > 0)
                continue;
            perf_progress("[round %d/%d, %3.0f s] zdc: %s", round + 1, p.rounds,
                          perf_now() - t_start, r->c->title);
            perf_zdc_run(r->c, &p, &r->zdc[r->n_zdc]);
            if (!r->zdc[r->n_zdc].ok)
                fprintf(stderr, "%szdc-perf: zdc %s: %s\n", isatty(2) ? "\n" : "", r->c->id,
                        r->zdc[r->n_zdc].err);
            r->n_zdc++;
            if (!p.against || !r->c->reference)
                continue;
            perf_progress("[round %d/%d, %3.0f s] libdatachannel: %s", round + 1, p.rounds,
                          perf_now() - t_start, r->c->title);
            const perf_case *one[1] = {r->c};
            perf_ref_run(one, 1, &p, &r->ref[r->n_ref], version, sizeof version);
            if (!r->ref[r->n_ref].ok)
                fprintf(stderr, "%szdc-perf: libdatachannel %s: %s\n", isatty(2) ? "\n" : "",
                        r->c->id, r->ref[r->n_ref].err);
            r->n_ref++;
        }
    }
    perf_progress_done();
    perf_print_table(stdout, res, n, &p, version);
    printf("\n%d case%s in %.0f s\n", n, n == 1 ? "" : "s", perf_now() - t_start);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < res[i].n_zdc; k++)
            failed += !res[i].zdc[k].ok;
        for (int k = 0; k < res[i].n_ref; k++)
            failed += !res[i].ref[k].ok;
    }
    if (p.json) {
        if (perf_write_json(p.json, res, n, &p, version) != 0) {
            fprintf(stderr, "zdc-perf: cannot write %s\n", p.json);
            failed++;
        } else {
            printf("JSON: %s\n", p.json);
        }
    }
    if (failed)
        printf("zdc-perf: %d run%s failed (see above)\n", failed, failed == 1 ? "" : "s");
    free(res);
    return failed ? 1 : 0;
}
