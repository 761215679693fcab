/* zdc-perf: zdc beside libdatachannel in one run. Shared types of the program's parts:
 *   main.c       arguments, the suite, rounds interleaved zdc / reference
 *   sig.c        signaling between two sides (a SOCK_SEQPACKET pair, in one process or two)
 *   side.c       one zdc peer as the cases drive it, and the received-message checker
 *   zdc_cases.c  throughput, latency, connect (one process and two)
 *   zdc_server.c one server engine: 200 clients handshaking at once; the 20 Hz scale case
 *   reference.c  runs perf/ndc-ref.mjs (node-datachannel = libdatachannel) and reads its lines
 *   report.c     statistics, machine description, progress, table, JSON
 *   heap.c       heap by owner (zdc, OpenSSL, usrsctp) for the scale case (heap.h)
 */
#ifndef ZDC_PERF_H
#define ZDC_PERF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PERF_MAX_METRICS 24
#define PERF_MAX_ROUNDS  20

/* What one run of one case measured: named figures (the same names in ndc-ref.mjs). */
typedef struct perf_metrics {
    bool ok;
    char err[200];
    int n;
    char name[PERF_MAX_METRICS][24];
    double val[PERF_MAX_METRICS];
} perf_metrics;

void perf_metric_set(perf_metrics *m, const char *name, double v);
bool perf_metric_get(const perf_metrics *m, const char *name, double *v);
void perf_fail(perf_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum perf_kind { PERF_THROUGHPUT, PERF_LATENCY, PERF_CONNECT, PERF_HANDSHAKES, PERF_SCALE };

typedef struct perf_case {
    const char *id; /* also the reference's case name */
    const char *title;
    enum perf_kind kind;
    size_t size;   /* message size */
    bool reliable; /* false: unordered, maxRetransmits 0 */
    int procs;     /* 1: both peers in one process; 2: one peer per process */
    bool reference;
} perf_case;

typedef struct perf_params {
    int rounds;
    bool quick;
    double tp_secs;    /* seconds of sending per throughput case */
    int rtt_count;     /* round trips per latency case */
    int connects;      /* connections per connect case */
    int hs_clients;    /* clients connecting at once */
    int scale_peers;   /* peers on the server engine in the scale case */
    double scale_secs; /* seconds of 20 Hz ticks */
    int workers;       /* scale/handshake server: engine workers, each on a thread (0: inline) */
    bool against;      /* run the reference */
    const char *json;  /* output file or NULL */
    const char *node;
    const char *script;
    bool verbose;
} perf_params;

double perf_now(void);      /* CLOCK_MONOTONIC seconds (the same clock in every process) */
double perf_cpu_self(void); /* user + system CPU seconds of this process */
long perf_rss_kib(void);    /* resident set of this process */
/* CPU seconds of each thread of this process (/proc/self/task): up to cap threads. */
#define PERF_MAX_THREADS 80
typedef struct perf_threads {
    int n;
    int tid[PERF_MAX_THREADS];
    double cpu[PERF_MAX_THREADS];
} perf_threads;
void perf_threads_read(perf_threads *t);
/* The largest CPU seconds one thread spent between two readings (threads matched by id). */
double perf_threads_busiest(const perf_threads *before, const perf_threads *after);

/* zdc side: runs one case once. */
void perf_zdc_run(const perf_case *c, const perf_params *p, perf_metrics *out);
void perf_zdc_throughput(const perf_case *c, const perf_params *p, perf_metrics *out);
void perf_zdc_latency(const perf_case *c, const perf_params *p, perf_metrics *out);
void perf_zdc_connect(const perf_case *c, const perf_params *p, perf_metrics *out);
void perf_zdc_handshakes(const perf_case *c, const perf_params *p, perf_metrics *out);
void perf_zdc_scale(const perf_case *c, const perf_params *p, perf_metrics *out);

/* Reference: runs the given cases once in node; out[i] for cases[i]. Returns 0, or -1 when
 * the script could not be run at all (every out[i] then says why). */
int perf_ref_run(const perf_case *const *cases, int n, const perf_params *p, perf_metrics *out,
                 char *version, size_t version_cap);

/* Report. */
typedef struct perf_case_result {
    const perf_case *c;
    int n_zdc, n_ref;
    perf_metrics zdc[PERF_MAX_ROUNDS], ref[PERF_MAX_ROUNDS];
} perf_case_result;

typedef struct perf_summary {
    double median, min, max;
    int n;
} perf_summary;

/* Median and range of metric `name` over the runs that succeeded; n = 0 when none had it. */
perf_summary perf_summarize(const perf_metrics *runs, int n_runs, const char *name);
void perf_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void perf_progress_done(void);
void perf_print_table(FILE *f, const perf_case_result *r, int n, const perf_params *p,
                      const char *ref_version);
int perf_write_json(const char *path, const perf_case_result *r, int n, const perf_params *p,
                    const char *ref_version);
const char *perf_loadavg(void); /* "1.00 0.50 0.20" from /proc/loadavg */
void perf_machine(char *cpu, size_t cpu_cap, int *cores, char *kernel, size_t kernel_cap);

#endif /* ZDC_PERF_H */
