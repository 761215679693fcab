/* The reference: libdatachannel through npm node-datachannel, driven by perf/ndc-ref.mjs,
 * which runs the same cases with the same message pattern and prints one JSON line per case:
 *   {"reference":"..."}                                            (first line)
 *   {"id":"tp-rel-65536-1p","ok":true,"metrics":{"mbps":12.3,...}} (one per case)
 *   {"id":"...","ok":false,"error":"why"}
 * The lines are flat and written by our own script, so a small reader suffices. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf.h"

/* Copies the string value of "key" into out; false if absent. */
static bool json_string(const char *line, const char *key, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(line, pat);
    if (!p)
        return false;
    p += strlen(pat);
    size_t n = 0;
    while (*p && *p != '"' && n + 1 < cap) {
        if (*p == '\\' && p[1])
            p++;
        out[n++] = *p++;
    }
    out[n] = 0;
    return true;
}

static void json_metrics(const char *line, perf_metrics *m)
{
    const char *p = strstr(line, "\"metrics\":{");
    if (!p)
        return;
    p += strlen("\"metrics\":{");
    for (int guard = 0; guard < PERF_MAX_METRICS && *p == '"'; guard++) {
        const char *q = strchr(p + 1, '"');
        if (!q || q[1] != ':')
            return;
        char name[24];
        snprintf(name, sizeof name, "%.*s", (int)(q - p - 1), p + 1);
        char *end;
        double v = strtod(q + 2, &end);
        if (end == q + 2)
            return;
        perf_metric_set(m, name, v);
        p = end;
        if (*p == ',')
            p++;
    }
}

static void parse_line(const char *line, const perf_case *const *cases, int n, perf_metrics *out,
                       bool *seen, char *version, size_t version_cap)
{
    char id[64];
    if (json_string(line, "reference", version, version_cap))
        return;
    if (!json_string(line, "id", id, sizeof id))
        return;
    for (int i = 0; i < n; i++) {
        if (strcmp(cases[i]->id, id) != 0 || seen[i])
            continue;
        seen[i] = true;
        memset(&out[i], 0, sizeof out[i]);
        json_metrics(line, &out[i]);
        if (strstr(line, "\"ok\":true")) {
            out[i].ok = true;
        } else {
            char err[200] = "failed";
            json_string(line, "error", err, sizeof err);
            perf_fail(&out[i], "%s", err);
        }
        return;
    }
}

int perf_ref_run(const perf_case *const *cases, int n, const perf_params *p, perf_metrics *out,
                 char *version, size_t version_cap)
{
    bool *seen = calloc((size_t)n, sizeof *seen);
    size_t ids_cap = (size_t)n * 40 + 1;
    char *ids = calloc(1, ids_cap);
    for (int i = 0; i < n; i++) {
        perf_fail(&out[i], "the reference did not report this case");
        strcat(ids, cases[i]->id);
        if (i + 1 < n)
            strcat(ids, ",");
    }
    char secs[32], rtt[32], conn[32], cl[32];
    snprintf(secs, sizeof secs, "%g", p->tp_secs);
    snprintf(rtt, sizeof rtt, "%d", p->rtt_count);
    snprintf(conn, sizeof conn, "%d", p->connects);
    snprintf(cl, sizeof cl, "%d", p->hs_clients);
    char sp[16], ss[32];
    snprintf(sp, sizeof sp, "%d", p->scale_peers);
    snprintf(ss, sizeof ss, "%g", p->scale_secs);
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        free(seen);
        free(ids);
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execlp(p->node, p->node, p->script, "--cases", ids, "--secs", secs, "--rtt", rtt,
               "--connects", conn, "--clients", cl, "--scale-peers", sp, "--scale-secs", ss,
               (char *)NULL);
        fprintf(stderr, "zdc-perf: cannot run %s: %s\n", p->node, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    char buf[1 << 16];
    size_t len = 0;
    /* Bounded: generous against what the cases need (connections that fail take 10 s each). */
    double budget = 120 + (double)p->rtt_count * 2e-3 + 10.0 * p->connects + 10 * p->tp_secs;
    double deadline = perf_now() + budget;
    bool eof = false;
    while (!eof && pid > 0 && perf_now() < deadline) {
        struct pollfd pf = {.fd = pipefd[0], .events = POLLIN};
        if (poll(&pf, 1, 1000) <= 0)
            continue;
        ssize_t r = read(pipefd[0], buf + len, sizeof buf - 1 - len);
        if (r <= 0) {
            eof = true;
            break;
        }
        len += (size_t)r;
        buf[len] = 0;
        char *nl;
        while ((nl = strchr(buf, '\n'))) {
            *nl = 0;
            if (p->verbose)
                fprintf(stderr, "reference: %s\n", buf);
            parse_line(buf, cases, n, out, seen, version, version_cap);
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len + 1);
        }
        if (len == sizeof buf - 1)
            len = 0; /* an absurd line: drop it */
    }
    close(pipefd[0]);
    int st = 0;
    if (pid > 0) {
        if (!eof)
            kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    int rv = 0;
    if (pid <= 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 127)) {
        for (int i = 0; i < n; i++)
            perf_fail(&out[i], "could not run %s %s", p->node, p->script);
        rv = -1;
    }
    free(seen);
    free(ids);
    return rv;
}
