/* Statistics over rounds, the machine, progress lines, the summary table and the JSON file. */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "perf.h"

double perf_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double perf_cpu_self(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

long perf_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &size, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

void perf_threads_read(perf_threads *t)
{
    t->n = 0;
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return;
    long hz = sysconf(_SC_CLK_TCK);
    struct dirent *de;
    while ((de = readdir(d)) != NULL && t->n < PERF_MAX_THREADS) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = 0;
        /* Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th. */
        char *p = strrchr(buf, ')');
        unsigned long ut = 0, st = 0;
        if (!p ||
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
            continue;
        t->tid[t->n] = atoi(de->d_name);
        t->cpu[t->n] = (double)(ut + st) / (double)hz;
        t->n++;
    }
    closedir(d);
}

double perf_threads_busiest(const perf_threads *before, const perf_threads *after)
{
    double best = 0;
    for (int i = 0; i < after->n; i++) {
        double c0 = 0;
        for (int j = 0; j < before->n; j++)
            if (before->tid[j] == after->tid[i])
                c0 = before->cpu[j];
        if (after->cpu[i] - c0 > best)
            best = after->cpu[i] - c0;
    }
    return best;
}

void perf_metric_set(perf_metrics *m, const char *name, double v)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) {
            m->val[i] = v;
            return;
        }
    if (m->n == PERF_MAX_METRICS)
        return;
    snprintf(m->name[m->n], sizeof m->name[0], "%s", name);
    m->val[m->n++] = v;
}

bool perf_metric_get(const perf_metrics *m, const char *name, double *v)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->name[i], name) == 0) {
            *v = m->val[i];
            return true;
        }
    return false;
}

void perf_fail(perf_metrics *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof m->err, fmt, ap);
    va_end(ap);
    m->ok = false;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

perf_summary perf_summarize(const perf_metrics *runs, int n_runs, const char *name)
{
    double v[PERF_MAX_ROUNDS];
    int n = 0;
    for (int i = 0; i < n_runs; i++)
        if (runs[i].ok && perf_metric_get(&runs[i], name, &v[n]))
            n++;
    perf_summary s = {0};
    if (n == 0)
        return s;
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    s.n = n;
    s.min = v[0];
    s.max = v[n - 1];
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    return s;
}

/* ---- progress -------------------------------------------------------------------------- */

static bool progress_open;

void perf_progress(const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (isatty(STDERR_FILENO)) {
        fprintf(stderr, "\r\033[K%s", line);
        progress_open = true;
    } else {
        fprintf(stderr, "%s\n", line);
    }
    fflush(stderr);
}

void perf_progress_done(void)
{
    if (progress_open)
        fprintf(stderr, "\r\033[K");
    progress_open = false;
}

/* ---- machine --------------------------------------------------------------------------- */

void perf_machine(char *cpu, size_t cpu_cap, int *cores, char *kernel, size_t kernel_cap)
{
    snprintf(cpu, cpu_cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v) {
                v++;
                while (*v == ' ')
                    v++;
                snprintf(cpu, cpu_cap, "%.*s", (int)strcspn(v, "\n"), v);
            }
            break;
        }
    }
    if (f)
        fclose(f);
    *cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(kernel, kernel_cap, "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(kernel, kernel_cap, "unknown");
}

const char *perf_loadavg(void)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "unknown");
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        double a, b, c;
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
            snprintf(buf, sizeof buf, "%.2f %.2f %.2f", a, b, c);
        fclose(f);
    }
    return buf;
}

/* ---- what each kind of case shows ------------------------------------------------------ */

typedef struct shown {
    const char *metric, *unit;
    bool higher_better;
} shown;

static int shown_for(const perf_case *c, shown *out)
{
    int n = 0;
    switch (c->kind) {
    case PERF_THROUGHPUT:
        out[n++] = (shown){"mbps", "MB/s", true};
        out[n++] = (shown){"msgs", "msg/s", true};
        if (!c->reliable)
            out[n++] = (shown){"loss_pct", "loss %", false};
        break;
    case PERF_LATENCY:
        out[n++] = (shown){"p50_us", "p50 us", false};
        out[n++] = (shown){"p99_us", "p99 us", false};
        out[n++] = (shown){"p999_us", "p99.9 us", false};
        break;
    case PERF_CONNECT:
        out[n++] = (shown){"median_ms", "median ms", false};
        break;
    case PERF_HANDSHAKES:
        out[n++] = (shown){"hs_per_core_s", "hs/s/core", true};
        out[n++] = (shown){"hs_per_s", "hs/s wall", true};
        break;
    case PERF_SCALE:
        out[n++] = (shown){"cpu_pct_per_1000", "CPU % /1000", false};
        out[n++] = (shown){"cpu_us_per_msg", "CPU us/msg", false};
        out[n++] = (shown){"busiest_us_per_msg", "busiest thread us/msg", false};
        out[n++] = (shown){"tick_rate_pct", "tick rate %", true};
        out[n++] = (shown){"p99_tick_ms", "p99 tick ms", false};
        out[n++] = (shown){"rss_kib_per_peer", "KiB/peer", false};
        out[n++] = (shown){"heap_kib_per_peer", "heap KiB/peer", false};
        out[n++] = (shown){"heap_zdc_kib", "..of it zdc", false};
        out[n++] = (shown){"heap_openssl_kib", "..OpenSSL", false};
        out[n++] = (shown){"heap_sctp_kib", "..usrsctp", false};
        out[n++] = (shown){"heap_other_kib", "..libc etc.", false};
        out[n++] = (shown){"loss_pct", "loss %", false};
        break;
    }
    return n;
}

static int failures(const perf_metrics *runs, int n, const char **first)
{
    int f = 0;
    for (int i = 0; i < n; i++)
        if (!runs[i].ok) {
            if (!f)
                *first = runs[i].err;
            f++;
        }
    return f;
}

static void fmt_num(char *out, size_t cap, double v)
{
    if (v >= 1000 || v <= -1000)
        snprintf(out, cap, "%.0f", v);
    else if (v >= 10 || v <= -10)
        snprintf(out, cap, "%.1f", v);
    else
        snprintf(out, cap, "%.3g", v);
}

/* "median [min-max]", or the median alone for a single round. */
static void fmt_summary(char *out, size_t cap, const perf_summary *s)
{
    char m[24], lo[24], hi[24];
    fmt_num(m, sizeof m, s->median);
    fmt_num(lo, sizeof lo, s->min);
    fmt_num(hi, sizeof hi, s->max);
    if (s->n == 1)
        snprintf(out, cap, "%s", m);
    else
        snprintf(out, cap, "%s [%s-%s]", m, lo, hi);
}

void perf_print_table(FILE *f, const perf_case_result *r, int n, const perf_params *p,
                      const char *ref_version)
{
    char cpu[128], kernel[128];
    int cores;
    perf_machine(cpu, sizeof cpu, &cores, kernel, sizeof kernel);
    fprintf(f, "\nzdc-perf: %s, %d cores, %s; %d round%s%s; load average now %s\n", cpu, cores,
            kernel, p->rounds, p->rounds == 1 ? "" : "s", p->quick ? " (--quick)" : "",
            perf_loadavg());
    if (p->against)
        fprintf(f, "reference: %s, run in the same invocation, rounds interleaved\n",
                ref_version[0] ? ref_version : "libdatachannel (unavailable)");
    fprintf(f, "figures: median [min-max] over rounds; ratio = zdc median / reference median\n\n");
    fprintf(f, "%-44s %-12s %24s %24s %8s\n", "case", "figure", "zdc", "libdatachannel", "ratio");
    for (int i = 0; i < n; i++) {
        const perf_case *c = r[i].c;
        shown sh[16];
        int ns = shown_for(c, sh);
        const char *ferr = NULL;
        int fz = failures(r[i].zdc, r[i].n_zdc, &ferr);
        for (int k = 0; k < ns; k++) {
            perf_summary z = perf_summarize(r[i].zdc, r[i].n_zdc, sh[k].metric);
            perf_summary q = perf_summarize(r[i].ref, r[i].n_ref, sh[k].metric);
            char zs[80] = "-", qs[80] = "-", rs[16] = "";
            if (z.n)
                fmt_summary(zs, sizeof zs, &z);
            if (q.n)
                fmt_summary(qs, sizeof qs, &q);
            else if (c->reference && p->against && r[i].n_ref > 0 &&
                     failures(r[i].ref, r[i].n_ref, &(const char *){NULL}) == 0)
                snprintf(qs, sizeof qs, "n/a"); /* ran, has no such figure */
            else if (c->reference && p->against)
                snprintf(qs, sizeof qs, "failed");
            else if (!c->reference)
                snprintf(qs, sizeof qs, "not run");
            if (z.n && q.n && q.median != 0)
                snprintf(rs, sizeof rs, "%.3gx", z.median / q.median);
            fprintf(f, "%-44s %-12s %24s %24s %8s\n", k == 0 ? c->title : "", sh[k].unit, zs, qs,
                    rs);
        }
        if (fz)
            fprintf(f, "%-44s zdc failed %d of %d rounds: %s\n", "", fz, r[i].n_zdc, ferr);
        const char *rerr = NULL;
        int fr = failures(r[i].ref, r[i].n_ref, &rerr);
        if (fr)
            fprintf(f, "%-44s reference failed %d of %d rounds: %s\n", "", fr, r[i].n_ref, rerr);
    }
}

/* ---- JSON ------------------------------------------------------------------------------ */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_side(FILE *f, const perf_metrics *runs, int n)
{
    fprintf(f, "{\"rounds\":%d,\"failed\":[", n);
    bool first = true;
    for (int i = 0; i < n; i++)
        if (!runs[i].ok) {
            fprintf(f, "%s", first ? "" : ",");
            json_str(f, runs[i].err);
            first = false;
        }
    fprintf(f, "],\"figures\":{");
    /* every metric name any run reported */
    const char *names[PERF_MAX_METRICS * 2];
    int nn = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < runs[i].n; k++) {
            bool have = false;
            for (int j = 0; j < nn; j++)
                have |= strcmp(names[j], runs[i].name[k]) == 0;
            if (!have && nn < PERF_MAX_METRICS * 2)
                names[nn++] = runs[i].name[k];
        }
    for (int j = 0; j < nn; j++) {
        perf_summary s = perf_summarize(runs, n, names[j]);
        fprintf(f, "%s", j ? "," : "");
        json_str(f, names[j]);
        fprintf(f, ":{\"median\":%.6g,\"min\":%.6g,\"max\":%.6g,\"n\":%d,\"runs\":[", s.median,
                s.min, s.max, s.n);
        bool fr = true;
        for (int i = 0; i < n; i++) {
            double v;
            if (perf_metric_get(&runs[i], names[j], &v)) {
                fprintf(f, "%s%.6g", fr ? "" : ",", v);
                fr = false;
            }
        }
        fprintf(f, "]}");
    }
    fprintf(f, "}}");
}

static const char *method_of(const perf_case *c)
{
    switch (c->kind) {
    case PERF_THROUGHPUT:
        return "sender keeps about 1 MiB queued (bufferedAmount) for the set time; every "
               "message carries its sequence number and is checked on arrival (length, order "
               "on reliable, no duplicate on unreliable); rate = payload bytes received / time "
               "from the first send to the last arrival";
    case PERF_LATENCY:
        return "one 100-byte message in flight on an idle reliable channel, echoed by the "
               "other peer; round-trip time of each after a warm-up";
    case PERF_CONNECT:
        return "new peers to channel open on both sides (offer, answer, trickled "
               "candidates, ICE, DTLS, SCTP, DCEP), sequential connections";
    case PERF_HANDSHAKES:
        return "N clients (other process) offer at once to one server; handshakes completed "
               "per CPU second of the server process, and per wall second";
    case PERF_SCALE:
        return "N clients (other process, one engine/port each) send 64 B at 20 Hz on an "
               "unordered maxRetransmits-0 channel, the server echoes; server CPU over the tick "
               "phase scaled to 1000 peers, clients' tick round trip, server RSS delta / N";
    }
    return "";
}

int perf_write_json(const char *path, const perf_case_result *r, int n, const perf_params *p,
                    const char *ref_version)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    char cpu[128], kernel[128];
    int cores;
    perf_machine(cpu, sizeof cpu, &cores, kernel, sizeof kernel);
    for (int i = 0; i < n; i++) {
        const perf_case *c = r[i].c;
        fprintf(f, "{\"case\":");
        json_str(f, c->id);
        fprintf(f, ",\"title\":");
        json_str(f, c->title);
        fprintf(f, ",\"processes\":%d,\"size\":%zu,\"reliable\":%s,\"method\":", c->procs, c->size,
                c->reliable ? "true" : "false");
        json_str(f, method_of(c));
        fprintf(f,
                ",\"params\":{\"rounds\":%d,\"quick\":%s,\"tp_secs\":%g,\"round_trips\":%d,"
                "\"connects\":%d,\"clients\":%d,\"scale_peers\":%d,\"scale_secs\":%g}",
                p->rounds, p->quick ? "true" : "false", p->tp_secs, p->rtt_count, p->connects,
                p->hs_clients, p->scale_peers, p->scale_secs);
        fprintf(f, ",\"machine\":{\"cpu\":");
        json_str(f, cpu);
        fprintf(f, ",\"cores\":%d,\"kernel\":", cores);
        json_str(f, kernel);
        fprintf(f, ",\"loadavg_at_end\":");
        json_str(f, perf_loadavg());
        fprintf(f, "},\"zdc\":");
        json_side(f, r[i].zdc, r[i].n_zdc);
        if (p->against && c->reference) {
            fprintf(f, ",\"reference\":{\"name\":");
            json_str(f, ref_version);
            fprintf(f, ",\"results\":");
            json_side(f, r[i].ref, r[i].n_ref);
            fprintf(f, "},\"ratios\":{");
            bool first = true;
            for (int k = 0; k < r[i].zdc[0].n; k++) {
                const char *name = r[i].zdc[0].name[k];
                perf_summary z = perf_summarize(r[i].zdc, r[i].n_zdc, name);
                perf_summary q = perf_summarize(r[i].ref, r[i].n_ref, name);
                if (!z.n || !q.n || q.median == 0)
                    continue;
                fprintf(f, "%s", first ? "" : ",");
                json_str(f, name);
                fprintf(f, ":%.4g", z.median / q.median);
                first = false;
            }
            fprintf(f, "}");
        }
        fprintf(f, "}\n");
    }
    return fclose(f) == 0 ? 0 : -1;
}
