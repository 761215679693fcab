/* zdc-peer's signaling: the JSON lines of shared/PEER_PROTOCOL.md. Out on stdout: our
 * description, then our candidates (held until the description is out) and the end of
 * candidates. In on stdin: the remote description and candidates (held until the remote
 * description is set); what stdin's end means for each role.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "zdc_peer.h"

/* Longest signaling line accepted (SDP is a few KiB). */
#define MAX_LINE (1u << 20)
/* How long a peer whose stdin ended waits for its open channels to close: the other side may
 * have exited just after closing them. */
#define EOF_GRACE_SECONDS 2.0

static void out_line(const char *s)
{
    fputs(s, stdout);
    fputc('\n', stdout);
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

void signaling_apply_local_description(app *a)
{
    if (!a->local_sdp)
        return;
    char *type = a->local_type, *sdp = a->local_sdp;
    a->local_type = a->local_sdp = NULL;
    int rv = zdc_peer_set_local_description(a->peer, type, sdp);
    if (rv < 0) {
        fail_api(a, "set_local_description", rv);
    } else {
        a->end_sent = false; /* a later description (ICE restart) gathers again */
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

/* ---- callbacks (fire inside zdc_engine_poll) ----------------------------------------------- */

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
    /* zdc extension: once connected, either side may offer again (an ICE restart) */
    int sig = zdc_peer_get_signaling_state(a->peer);
    bool later =
        a->remote_set && ((strcmp(type, "offer") == 0 && sig == ZDC_SIGNALING_STABLE) ||
                          (strcmp(type, "answer") == 0 && sig == ZDC_SIGNALING_HAVE_LOCAL_OFFER));
    if (!later && strcmp(type, want_offer ? "offer" : "answer") != 0) {
        logf_(a, "ignoring an unexpected \"%s\"", type);
        return;
    }
    if (a->remote_set && !later) {
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
    if (later) {
        printf("{\"event\":\"renegotiated\",\"type\":\"%s\"}\n", type);
        fflush(stdout);
        if (a->restarted && strcmp(type, "answer") == 0) {
            a->restart_answered = true;
            if (a->end_after_restart) {
                logf_(a, "the restart answer is applied: ending the series");
                a->end_after_restart = false;
                traffic_end_series(a);
            }
        }
    }
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
    } else if (zdc_json_find(m, n, "stats")) {
        a->stats_requested = true; /* zdc extension: main.c answers with a stats event */
    } else if (zdc_json_find(m, n, "statsDone")) {
        a->stats_done = true; /* the other side answered our {"stats":true} */
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

bool signaling_read_stdin(app *a)
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

void signaling_callbacks(zdc_peer_callbacks *cb)
{
    cb->on_session_description_created = on_description;
    cb->on_ice_candidate_created = on_candidate;
    cb->on_gathering_state_change = on_gathering;
}

void signaling_clear(app *a)
{
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
    free(a->line);
}
