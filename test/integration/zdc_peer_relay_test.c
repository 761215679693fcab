/* Two zdc-peer processes connected by an in-test relay (shared/PEER_PROTOCOL.md): every stdout
 * line without an "event" key goes to the other peer's stdin, event lines are kept for the
 * checks, and when one peer exits the other's stdin is closed. Traffic stays on loopback;
 * every case is bounded by RELAY_TIMEOUT_S. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#ifndef ZDC_PEER_PATH
#error "ZDC_PEER_PATH names the zdc-peer program (set by CMakeLists.txt)"
#endif

#define RELAY_TIMEOUT_S 60
#define MAX_ARGS        32
#define MAX_EVENTS      64

extern char **environ;

typedef struct child {
    pid_t pid;
    int in_fd;  /* its stdin (ours to write), -1 when closed */
    int out_fd; /* its stdout, -1 at end of file */
    char buf[1 << 16];
    size_t len;
    bool exited;
    int code; /* exit status, or 128 + signal */
    char *events[MAX_EVENTS];
    size_t n_events;
} child;

static void spawn_child(child *c, char *const argv[])
{
    int in[2], out[2];
    cr_assert_eq(pipe(in), 0);
    cr_assert_eq(pipe(out), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, in[1]);
    posix_spawn_file_actions_addclose(&fa, out[0]);
    int rv = posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rv, 0, "spawn %s: %s", argv[0], strerror(rv));
    close(in[0]);
    close(out[1]);
    c->in_fd = in[1];
    c->out_fd = out[0];
}

static bool is_event(const char *line, size_t len)
{
    zdc_json_member m[16];
    size_t n;
    return zdc_json_parse_object(line, len, m, 16, &n) == 0 && zdc_json_find(m, n, "event");
}

static void write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the other peer is gone: its lines no longer matter */
        p += w;
        len -= (size_t)w;
    }
}

/* Reads what c printed; forwards signaling lines to `other`, keeps event lines. */
static void pump(child *c, child *other)
{
    ssize_t got = read(c->out_fd, c->buf + c->len, sizeof c->buf - c->len);
    if (got <= 0) {
        if (got < 0 && errno == EINTR)
            return;
        close(c->out_fd);
        c->out_fd = -1;
        return;
    }
    c->len += (size_t)got;
    size_t start = 0;
    for (size_t i = 0; i < c->len; i++) {
        if (c->buf[i] != '\n')
            continue;
        char *line = c->buf + start;
        size_t n = i - start;
        if (is_event(line, n)) {
            cr_assert_lt(c->n_events, MAX_EVENTS, "too many events");
            c->events[c->n_events++] = strndup(line, n);
        } else if (other->in_fd >= 0) {
            write_all(other->in_fd, line, n + 1);
        }
        start = i + 1;
    }
    memmove(c->buf, c->buf + start, c->len - start);
    c->len -= start;
    cr_assert_lt(c->len, sizeof c->buf, "a line longer than the relay's buffer");
}

static void reap(child *c, child *other)
{
    int status;
    if (c->exited || waitpid(c->pid, &status, WNOHANG) != c->pid)
        return;
    c->exited = true;
    c->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (other->in_fd >= 0) {
        close(other->in_fd);
        other->in_fd = -1;
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Splits "a b c" into argv after the program path. */
static void make_argv(char *words, char *argv[MAX_ARGS])
{
    size_t n = 0;
    argv[n++] = ZDC_PEER_PATH;
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        cr_assert_lt(n, MAX_ARGS - 1);
        argv[n++] = w;
    }
    argv[n] = NULL;
}

static void free_child(child *c)
{
    for (size_t i = 0; i < c->n_events; i++)
        free(c->events[i]);
    memset(c, 0, sizeof *c);
}

static void drain(child *c, child *other)
{
    if (c->in_fd >= 0)
        close(c->in_fd);
    c->in_fd = -1;
    while (c->out_fd >= 0) /* lines printed right before the exit */
        pump(c, other);
}

/* Runs peer A with args_a and peer B with args_b through the relay until both exit. The
 * events of an earlier run are dropped. */
static void relay(child *a, child *b, const char *args_a, const char *args_b)
{
    signal(SIGPIPE, SIG_IGN);
    free_child(a);
    free_child(b);
    char wa[512], wb[512];
    char *argv_a[MAX_ARGS], *argv_b[MAX_ARGS];
    snprintf(wa, sizeof wa, "%s", args_a);
    snprintf(wb, sizeof wb, "%s", args_b);
    make_argv(wa, argv_a);
    make_argv(wb, argv_b);
    spawn_child(a, argv_a);
    spawn_child(b, argv_b);
    double deadline = now_s() + RELAY_TIMEOUT_S;
    while (!(a->exited && b->exited)) {
        if (now_s() > deadline) {
            kill(a->pid, SIGKILL);
            kill(b->pid, SIGKILL);
            waitpid(a->pid, NULL, 0);
            waitpid(b->pid, NULL, 0);
            cr_assert_fail("relay: peers still running after %d s", RELAY_TIMEOUT_S);
        }
        struct pollfd p[2] = {{.fd = a->out_fd, .events = POLLIN},
                              {.fd = b->out_fd, .events = POLLIN}};
        poll(p, 2, 20);
        if (p[0].revents && a->out_fd >= 0)
            pump(a, b);
        if (p[1].revents && b->out_fd >= 0)
            pump(b, a);
        reap(a, b);
        reap(b, a);
    }
    drain(a, b);
    drain(b, a);
}

/* The first event line of `c` whose "event" is `name` and that contains `text`, or NULL. */
static const char *find_event_with(const child *c, const char *name, const char *text)
{
    char want[64];
    snprintf(want, sizeof want, "\"event\":\"%s\"", name);
    for (size_t i = 0; i < c->n_events; i++)
        if (strstr(c->events[i], want) && strstr(c->events[i], text))
            return c->events[i];
    return NULL;
}

static const char *find_event(const child *c, const char *name)
{
    return find_event_with(c, name, "");
}

static long long member_int(const char *line, const char *key)
{
    zdc_json_member m[16];
    size_t n;
    cr_assert_eq(zdc_json_parse_object(line, strlen(line), m, 16, &n), 0);
    const zdc_json_member *v = zdc_json_find(m, n, key);
    cr_assert(v && v->type == ZDC_JSON_NUMBER, "%s has no number \"%s\"", line, key);
    long long x;
    cr_assert_eq(zdc_json_to_i64(v->raw, &x), 0);
    return x;
}

static child A, B; /* large buffers: not on the stack */

/* A sends COUNT messages and B echoes them: both exit 0 and A's result counts every echo. */
static void round_trip(const char *send_args, const char *shared, long long count)
{
    char args_a[256], args_b[256];
    snprintf(args_a, sizeof args_a, "--offer %s %s --close --timeout 40", send_args, shared);
    snprintf(args_b, sizeof args_b, "--answer --echo %s --timeout 40", shared);
    relay(&A, &B, args_a, args_b);
    const char *result = find_event(&A, "result");
    cr_assert(result, "the sender printed no result");
    cr_expect(strstr(result, "\"ok\":true"), "%s", result);
    cr_expect_eq(member_int(result, "sent"), count, "%s", result);
    cr_expect_eq(member_int(result, "received"), count, "%s", result);
    cr_expect(find_event(&A, "open") && find_event(&B, "open"));
    cr_expect(find_event(&A, "closed"), "the sender's channel never closed (--close)");
    cr_expect(find_event_with(&A, "connection", "\"connected\""));
    cr_expect(find_event_with(&B, "connection", "\"connected\""));
    cr_expect_eq(A.code, 0, "sender exit %d", A.code);
    cr_expect_eq(B.code, 0, "echoer exit %d", B.code);
}

/* The stats event a peer prints at exit (zdc_peer_get_stats) containing `text`. */
static void expect_exit_stats(const child *c, const char *text)
{
    const char *st = find_event_with(c, "stats", "\"reason\":\"exit\"");
    cr_assert(st, "no stats event at exit");
    cr_expect(strstr(st, text), "stats lack %s: %s", text, st);
}

Test(zdc_peer_relay, binary_round_trip)
{
    round_trip("--send 50 --size 1200", "", 50);
    /* the peers' own counts at exit: 50 messages of 1200 bytes each way */
    expect_exit_stats(&A, "\"messagesSent\":50,\"messagesReceived\":50,"
                          "\"messageBytesSent\":60000,\"messageBytesReceived\":60000,");
    expect_exit_stats(&B, "\"messagesSent\":50,\"messagesReceived\":50,");
    expect_exit_stats(&A, "\"dtlsVersion\":\"DTLSv1.2\"");
    expect_exit_stats(&A, "\"label\":\"test\"");
}

Test(zdc_peer_relay, empty_and_short_messages)
{
    round_trip("--send 20 --size 0", "", 20);
    round_trip("--send 20 --size 3", "", 20);
}

Test(zdc_peer_relay, text_with_label_and_protocol)
{
    round_trip("--send 30 --size 100 --text", "--label txt --protocol chat", 30);
    cr_expect(find_event_with(&A, "open", "\"label\":\"txt\""));
    cr_expect(find_event_with(&B, "open", "\"label\":\"txt\""));
}

Test(zdc_peer_relay, large_messages)
{
    round_trip("--send 20 --size 65536", "", 20);
}

Test(zdc_peer_relay, negotiated_channel)
{
    round_trip("--send 20 --size 500", "--negotiated 7", 20);
}

Test(zdc_peer_relay, unreliable_unordered)
{
    round_trip("--send 100 --size 1200", "--unordered --max-retransmits 0", 100);
}

/* The answerer expects another label: it reports an error and exits 1. */
Test(zdc_peer_relay, label_mismatch_fails)
{
    relay(&A, &B, "--offer --send 5 --size 10 --label one --timeout 20",
          "--answer --echo --label two --timeout 20");
    const char *err = find_event(&B, "error");
    cr_assert(err, "the answerer did not report the label mismatch");
    cr_expect(strstr(err, "label"), "%s", err);
    cr_expect_eq(B.code, 1);
    cr_expect_neq(A.code, 0, "the sender cannot have succeeded without its echoer");
}

Test(zdc_peer_relay, usage_errors_exit_2)
{
    const char *bad[] = {"",
                         "--offer --answer",
                         "--offer --send 5",
                         "--offer --bogus",
                         "--offer --max-retransmits 1 --max-packet-life-time 5",
                         "--offer --negotiated 65535",
                         "--offer --send x --size 1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char words[256];
        char *argv[MAX_ARGS];
        snprintf(words, sizeof words, "%s", bad[i]);
        make_argv(words, argv);
        pid_t pid;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        cr_assert_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
        posix_spawn_file_actions_destroy(&fa);
        int status;
        cr_assert_eq(waitpid(pid, &status, 0), pid);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "\"%s\" exits %d", bad[i],
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}

/* Without --send, a peer whose stdin ends exits 0; with --close it exits 1 (never closed). */
Test(zdc_peer_relay, eof_on_stdin)
{
    for (int close_opt = 0; close_opt < 2; close_opt++) {
        char words[128];
        char *argv[MAX_ARGS];
        snprintf(words, sizeof words, "--answer --echo%s --timeout 20",
                 close_opt ? " --close" : "");
        make_argv(words, argv);
        child c = {0};
        spawn_child(&c, argv);
        close(c.in_fd);
        int status;
        cr_assert_eq(waitpid(c.pid, &status, 0), c.pid);
        close(c.out_fd);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == (close_opt ? 1 : 0),
                  "close=%d: exit %d", close_opt, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
}
