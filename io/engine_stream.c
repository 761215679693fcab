/* TURN over TCP and TLS in the engine (RFC 8656 §3.1, RFC 6062 framing): the streams a
 * member's peer connection asked for (zdc_pc_env.stream_open), carried next to the UDP
 * sockets.
 *
 * One path for both backends: while any stream is open, a step first lets the loop send and
 * collect without waiting, then waits in poll(2) on the streams' sockets together with the
 * loop's own descriptors (its sockets and the backend's ring or epoll fd, which also carry
 * zdc_engine_wake), runs the streams' I/O, and lets the loop collect what the wait revealed.
 * Without streams nothing here runs. When the application polls the engine's descriptor
 * (zdc_engine_fd) the stream sockets are in that set too.
 *
 * Streams are closed by their peer connection (stream_close), possibly from inside one of
 * their own callbacks: a closed stream is moved to a graveyard at once and freed after the
 * I/O pass (or by the next one, or zdc_engine_free). */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "engine_priv.h"
#include "stream.h"
#include "zdc/error.h"

#define MAX_POLL 64 /* streams polled in one wait (the rest wait for the next step) */

typedef struct zdc_engine_stream {
    zdc_link link; /* in e->streams while open */
    zdc_engine *e;
    zdc_engine_member *m; /* NULL once closed */
    unsigned slot;
    zdc_stream *s;
    short watched; /* events registered in the application's epoll set */
} zdc_engine_stream;

#define STREAM_OF(ptr) ZDC_CONTAINER_OF(ptr, zdc_engine_stream, link)

/* Frees the streams closed since the last call. */
static void empty_graveyard(zdc_engine *e)
{
    while (zdc_link_linked(&e->stream_graves)) {
        zdc_engine_stream *es = STREAM_OF(e->stream_graves.next);
        zdc_link_remove(&es->link);
        zdc_stream_free(es->s);
        free(es);
    }
}

/* Keeps the application's epoll set (zdc_engine_fd) in step with what the stream waits for. */
static void watch(zdc_engine_stream *es)
{
    zdc_engine *e = es->e;
    if (e->ext_fd < 0 || !es->s)
        return;
    short want = zdc_stream_events(es->s);
    if (want == es->watched)
        return;
    struct epoll_event ev = {.events =
                                 (want & POLLIN ? EPOLLIN : 0u) | (want & POLLOUT ? EPOLLOUT : 0u),
                             .data.fd = zdc_stream_fd(es->s)};
    int op = !es->watched ? EPOLL_CTL_ADD : want ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    if (epoll_ctl(e->ext_fd, op, ev.data.fd, &ev) == 0)
        es->watched = want;
}

static void on_message(void *user, const uint8_t *p, size_t len)
{
    zdc_engine_stream *es = user;
    zdc_engine_member *m = es->m;
    if (!m)
        return;
    zdc_engine *e = es->e;
    zdc_engine_member *outer = e->calling;
    e->calling = m;
    zdc_pc_handle_turn_stream(m->pc, es->slot, p, len, zdc_engine_now_ns());
    e->calling = outer;
    zdc_engine_member_changed(m);
}

static void on_open(void *user, const char *info)
{
    zdc_engine_stream *es = user;
    if (es->m && es->m->pc)
        zdc_pc_turn_stream_opened(es->m->pc, es->slot, info);
}

static void on_failed(void *user, const char *reason)
{
    zdc_engine_stream *es = user;
    zdc_engine_member *m = es->m;
    if (!m)
        return;
    zdc_engine *e = es->e;
    zdc_engine_member *outer = e->calling;
    e->calling = m;
    zdc_pc_turn_stream_failed(m->pc, es->slot, reason, zdc_engine_now_ns());
    e->calling = outer;
    zdc_engine_member_changed(m);
}

static int stream_open(void *user, unsigned slot, const zdc_pc_stream_params *sp)
{
    zdc_engine_member *m = user;
    zdc_engine *e = m->engine;
    if (slot >= ZDC_ROUTE_SERVERS)
        return ZDC_ERR_INVALID_PARAMETER;
    if (e->worker) /* a worker waits on its rings only: nothing would poll the socket */
        return ZDC_ERR_NOT_SUPPORTED;
    if (m->streams[slot]) /* a stale one: the peer connection starts over */
        zdc_engine_stream_forget(e, m);
    zdc_engine_stream *es = calloc(1, sizeof *es);
    if (!es)
        return ZDC_ERR_NOMEM;
    es->e = e;
    es->m = m;
    es->slot = slot;
    zdc_link_init(&es->link);
    zdc_stream_config c = {.server = sp->server,
                           .tls = sp->tls,
                           .server_name = sp->server_name,
                           .fingerprint = sp->fingerprint,
                           .insecure = sp->insecure,
                           .log = m->pc ? zdc_pc_log(m->pc) : NULL,
                           .user = es,
                           .on_message = on_message,
                           .on_open = on_open,
                           .on_failed = on_failed};
    m->streams[slot] = es;
    zdc_link_append(&e->streams, &es->link);
    e->n_streams++;
    int rv = zdc_stream_new(&c, zdc_engine_now_ns(), &es->s);
    if (rv != 0) {
        m->streams[slot] = NULL;
        zdc_link_remove(&es->link);
        e->n_streams--;
        free(es);
        return rv;
    }
    watch(es);
    zdc_engine_ext_signal(e);
    return 0;
}

static void stream_send(void *user, unsigned slot, const uint8_t *p, size_t len)
{
    zdc_engine_member *m = user;
    zdc_engine_stream *es = slot < ZDC_ROUTE_SERVERS ? m->streams[slot] : NULL;
    if (!es || !es->s)
        return;
    if (zdc_stream_send(es->s, p, len) == ZDC_ERR_QUEUE_FULL)
        m->engine->st.tx_queue_full++; /* a loss like any other: TURN times out, ICE retries */
    watch(es);
    zdc_engine_ext_signal(m->engine); /* written at the next step */
}

static void close_one(zdc_engine *e, zdc_engine_stream *es)
{
    if (!es->m)
        return;
    es->m->streams[es->slot] = NULL;
    es->m = NULL;
    if (e->ext_fd >= 0 && es->watched)
        (void)epoll_ctl(e->ext_fd, EPOLL_CTL_DEL, zdc_stream_fd(es->s), NULL);
    zdc_link_remove(&es->link);
    zdc_link_append(&e->stream_graves, &es->link);
    e->n_streams--;
}

static void stream_close(void *user, unsigned slot)
{
    zdc_engine_member *m = user;
    if (slot < ZDC_ROUTE_SERVERS && m->streams[slot])
        close_one(m->engine, m->streams[slot]);
}

void zdc_engine_stream_env(zdc_pc_env *env)
{
    env->stream_open = stream_open;
    env->stream_send = stream_send;
    env->stream_close = stream_close;
}

void zdc_engine_stream_forget(zdc_engine *e, zdc_engine_member *m)
{
    for (unsigned i = 0; i < ZDC_ROUTE_SERVERS; i++)
        if (m->streams[i])
            close_one(e, m->streams[i]);
}

void zdc_engine_stream_clear(zdc_engine *e)
{
    while (zdc_link_linked(&e->streams))
        close_one(e, STREAM_OF(e->streams.next));
    empty_graveyard(e);
}

int zdc_engine_stream_wait(zdc_engine *e, int64_t timeout_ns)
{
    int handled = zdc_loop_poll(e->loop, 0); /* sends leave, completions come in */
    if (handled < 0)
        return handled;
    if (handled > 0 || zdc_loop_has_pending(e->loop))
        timeout_ns = 0;
    struct pollfd fds[MAX_POLL + 8];
    zdc_engine_stream *which[MAX_POLL];
    size_t n = 0;
    uint64_t now = zdc_engine_now_ns();
    for (zdc_link *l = e->streams.next; l != &e->streams && n < MAX_POLL; l = l->next) {
        zdc_engine_stream *es = STREAM_OF(l);
        uint64_t d = zdc_stream_deadline(es->s);
        if (d != UINT64_MAX) {
            int64_t until = d <= now ? 0 : (int64_t)(d - now);
            if (timeout_ns < 0 || until < timeout_ns)
                timeout_ns = until;
        }
        short ev = zdc_stream_events(es->s);
        if (!ev)
            continue;
        fds[n] = (struct pollfd){.fd = zdc_stream_fd(es->s), .events = ev};
        which[n++] = es;
    }
    int lfds[8];
    size_t nl = zdc_loop_pollable_fds(e->loop, lfds, 8);
    for (size_t i = 0; i < nl; i++)
        fds[n + i] = (struct pollfd){.fd = lfds[i], .events = POLLIN};
    int ms = timeout_ns < 0                 ? -1
             : timeout_ns > 3600000000000LL ? 3600000
                                            : (int)((timeout_ns + 999999) / 1000000);
    int r = poll(fds, (nfds_t)(n + nl), ms);
    if (r > 0) {
        /* A stream closed by an earlier one's callback waits in the graveyard (m NULL). */
        for (size_t i = 0; i < n; i++) {
            zdc_engine_stream *es = which[i];
            if (!fds[i].revents || !es->m)
                continue;
            zdc_stream_handle_io(es->s, fds[i].revents, zdc_engine_now_ns());
            handled++;
        }
    }
    now = zdc_engine_now_ns();
    for (zdc_link *l = e->streams.next, *next; l != &e->streams; l = next) {
        next = l->next;
        zdc_engine_stream *es = STREAM_OF(l);
        if (zdc_stream_deadline(es->s) <= now)
            zdc_stream_handle_timeout(es->s, now); /* may close es (and only es) */
    }
    for (zdc_link *l = e->streams.next; l != &e->streams; l = l->next)
        watch(STREAM_OF(l));
    empty_graveyard(e);
    int more = zdc_loop_poll(e->loop, 0);
    if (more < 0)
        return more;
    return handled + more;
}
