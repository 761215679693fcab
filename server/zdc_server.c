/* zdc-server's library part (zdc_server.h): libmicrohttpd in "external loop" mode (its epoll
 * descriptor polled beside zdc_engine_fd, both on one thread), one zdc peer per player.
 *
 * A POST /whip request: the handler creates the player's peer and applies the offer; the
 * peer answers (on_session_description_created -> set_local_description) and gathers host
 * candidates within the next engine poll; meanwhile the HTTP connection is suspended. When
 * gathering completes the connection is resumed and answered with the complete description.
 * Players are kept in an array (linear lookups: fine for the hundreds one process serves). */
#include "zdc_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OFFER (64 * 1024) /* ZDC_SDP_MAX_INPUT */

typedef struct request request;

typedef struct player {
    uint32_t id;
    zdc_peer peer;
    zdc_channel reliable, unreliable;
    bool joined, gone;
    request *req; /* the POST waiting for the answer */
    zdc_server *srv;
} player;

struct request {
    char *body;
    size_t len;
    bool too_large;
    bool suspended, answered;
    struct MHD_Connection *conn;
    player *pl;
};

struct zdc_server {
    zdc_server_options o;
    char *www_dir;
    zdc_server_callbacks cb;
    zdc_engine *engine;
    struct MHD_Daemon *http;
    int http_fd;
    uint16_t http_port;
    player **pl;
    size_t n_pl, cap_pl;
    uint32_t next_id;
    unsigned joined;
};

/* ---- players --------------------------------------------------------------------------- */

static player *find(zdc_server *s, uint32_t id)
{
    for (size_t i = 0; i < s->n_pl; i++)
        if (s->pl[i]->id == id && !s->pl[i]->gone)
            return s->pl[i];
    return NULL;
}

static void resume(player *p)
{
    if (p->req && p->req->suspended) {
        p->req->suspended = false;
        MHD_resume_connection(p->req->conn);
    }
}

/* Marks the player gone; zdc_server_poll frees it after the engine poll (its peer may be in
 * the middle of a callback now). */
static void leave(player *p)
{
    if (p->gone)
        return;
    p->gone = true;
    resume(p); /* an unanswered request gets its error */
    if (p->joined) {
        p->joined = false;
        p->srv->joined--;
        if (p->srv->cb.on_leave)
            p->srv->cb.on_leave(p->srv->cb.user, p->srv, p->id);
    }
}

static void reap(zdc_server *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->n_pl; i++) {
        player *p = s->pl[i];
        if (p->gone && !p->req) {
            zdc_peer_free(p->peer);
            free(p);
        } else {
            s->pl[k++] = p;
        }
    }
    s->n_pl = k;
}

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    player *p = user;
    if (zdc_peer_set_local_description(peer, type, sdp) != 0)
        leave(p);
}

static void on_gathering(void *user, zdc_peer peer, int state)
{
    (void)peer;
    if (state == ZDC_GATHERING_COMPLETE)
        resume(user);
}

static void on_state(void *user, zdc_peer peer, int state)
{
    (void)peer;
    if (state == ZDC_STATE_FAILED || state == ZDC_STATE_CLOSED)
        leave(user);
}

static void on_data_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    player *p = user;
    (void)peer;
    const char *label = zdc_channel_get_label(ch);
    if (strcmp(label, "reliable") == 0 && !p->reliable.id)
        p->reliable = ch;
    else if (strcmp(label, "unreliable") == 0 && !p->unreliable.id)
        p->unreliable = ch;
    zdc_channel_set_write_mode(ch, ZDC_WRITE_MODE_BINARY);
}

static void on_open(void *user, zdc_peer peer, zdc_channel ch)
{
    player *p = user;
    (void)peer;
    if (ch.id == p->reliable.id && !p->joined && !p->gone) {
        p->joined = true;
        p->srv->joined++;
        if (p->srv->cb.on_join)
            p->srv->cb.on_join(p->srv->cb.user, p->srv, p->id);
    }
}

static void on_close(void *user, zdc_peer peer, zdc_channel ch)
{
    player *p = user;
    (void)peer;
    if (ch.id == p->reliable.id)
        leave(p);
}

static void on_message(void *user, zdc_peer peer, zdc_channel ch)
{
    player *p = user;
    (void)peer;
    bool reliable = ch.id == p->reliable.id;
    const uint8_t *d;
    size_t len;
    bool text;
    /* Read everything, even after the player left: unread messages would hold the peer. */
    while (zdc_channel_get_packet(ch, &d, &len, &text) == 0) {
        if (!p->gone && p->srv->cb.on_message)
            p->srv->cb.on_message(p->srv->cb.user, p->srv, p->id, reliable, d, len, text);
        zdc_channel_release_packet(ch);
    }
}

/* A player for an offer. Returns NULL with *status set on failure. */
static player *join(zdc_server *s, const char *offer, int *status)
{
    if (s->n_pl >= s->o.max_players) {
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        return NULL;
    }
    if (s->n_pl == s->cap_pl) {
        size_t cap = s->cap_pl ? s->cap_pl * 2 : 16;
        player **a = realloc(s->pl, cap * sizeof *a);
        if (!a) {
            *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            return NULL;
        }
        s->pl = a;
        s->cap_pl = cap;
    }
    player *p = calloc(1, sizeof *p);
    if (!p) {
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }
    p->srv = s;
    p->id = ++s->next_id;
    zdc_peer_callbacks cb = {.user = p,
                             .on_session_description_created = on_description,
                             .on_gathering_state_change = on_gathering,
                             .on_connection_state_change = on_state,
                             .on_data_channel_received = on_data_channel,
                             .on_channel_open = on_open,
                             .on_channel_close = on_close,
                             .on_channel_message = on_message};
    zdc_peer_config cfg = {.tuning = s->o.tuning};
    if (zdc_peer_new(s->engine, &cb, &p->peer) != 0 || zdc_peer_initialize(p->peer, &cfg) != 0) {
        zdc_peer_free(p->peer);
        free(p);
        *status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }
    if (zdc_peer_set_remote_description(p->peer, "offer", offer) != 0) {
        fprintf(stderr, "zdc-server: offer refused: %s\n", zdc_peer_last_error(p->peer));
        zdc_peer_free(p->peer);
        free(p);
        *status = MHD_HTTP_BAD_REQUEST;
        return NULL;
    }
    zdc_peer_set_user_data(p->peer, p);
    s->pl[s->n_pl++] = p;
    return p;
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             const void *body, size_t len, const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (location) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
        MHD_add_response_header(r, "Access-Control-Expose-Headers", "Location");
    }
    /* A game page served from elsewhere may post its offer here. */
    MHD_add_response_header(r, "Access-Control-Allow-Origin", "*");
    MHD_add_response_header(r, "Access-Control-Allow-Methods", "POST, DELETE, OPTIONS");
    MHD_add_response_header(r, "Access-Control-Allow-Headers", "Content-Type");
    enum MHD_Result rv = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rv;
}

static enum MHD_Result text_reply(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return reply(c, status, "text/plain", msg, strlen(msg), NULL);
}

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && (strcmp(dot, ".js") == 0 || strcmp(dot, ".mjs") == 0))
        return "text/javascript";
    return "application/octet-stream";
}

static enum MHD_Result serve_file(zdc_server *s, struct MHD_Connection *c, const char *url)
{
    if (!s->www_dir || strstr(url, "..") || url[0] != '/')
        return text_reply(c, MHD_HTTP_NOT_FOUND, "not found\n");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s%s", s->www_dir, strcmp(url, "/") == 0 ? "/index.html" : url);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return text_reply(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime_of(path));
    enum MHD_Result rv = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rv;
}

static enum MHD_Result whip_post(zdc_server *s, struct MHD_Connection *c, request *q)
{
    if (q->pl) { /* resumed */
        player *p = q->pl;
        p->req = NULL;
        q->pl = NULL;
        const char *answer = p->gone ? NULL : zdc_peer_get_local_description(p->peer, true);
        if (!answer || zdc_peer_get_gathering_state(p->peer) != ZDC_GATHERING_COMPLETE) {
            leave(p);
            return text_reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "no answer\n");
        }
        char loc[32];
        snprintf(loc, sizeof loc, "/whip/%u", p->id);
        return reply(c, MHD_HTTP_CREATED, "application/sdp", answer, strlen(answer), loc);
    }
    if (q->too_large)
        return text_reply(c, 413, "offer too large\n");
    if (!q->body)
        return text_reply(c, MHD_HTTP_BAD_REQUEST, "no offer\n");
    int status = 0;
    player *p = join(s, q->body, &status);
    if (!p)
        return text_reply(c, (unsigned)status, "offer refused\n");
    p->req = q;
    q->pl = p;
    q->conn = c;
    q->suspended = true;
    MHD_suspend_connection(c); /* resumed by on_gathering (or leave) */
    return MHD_YES;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    zdc_server *s = cls;
    (void)version;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (!*con_cls) {
        request *q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    request *q = *con_cls;
    if (post && *upload_size) {
        if (!q->too_large && q->len + *upload_size <= MAX_OFFER) {
            char *b = realloc(q->body, q->len + *upload_size + 1);
            if (!b)
                return MHD_NO;
            memcpy(b + q->len, upload, *upload_size);
            q->len += *upload_size;
            b[q->len] = '\0';
            q->body = b;
        } else {
            q->too_large = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_OPTIONS) == 0)
        return reply(c, MHD_HTTP_NO_CONTENT, NULL, "", 0, NULL);
    if (post && strcmp(url, "/whip") == 0)
        return whip_post(s, c, q);
    if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0 && strncmp(url, "/whip/", 6) == 0) {
        player *p = find(s, (uint32_t)strtoul(url + 6, NULL, 10));
        if (!p)
            return text_reply(c, MHD_HTTP_NOT_FOUND, "no such player\n");
        zdc_peer_close(p->peer);
        leave(p);
        return reply(c, MHD_HTTP_OK, NULL, "", 0, NULL);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0)
        return serve_file(s, c, url);
    return text_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)c, (void)why;
    request *q = *con_cls;
    if (!q)
        return;
    if (q->pl) { /* the client went away before its answer */
        q->pl->req = NULL;
        leave(q->pl);
    }
    free(q->body);
    free(q);
    *con_cls = NULL;
}

/* ---- life cycle and loop ------------------------------------------------------------------ */

int zdc_server_new(const zdc_server_options *o, const zdc_server_callbacks *cb, zdc_server **out)
{
    if (!o || !out)
        return ZDC_ERR_INVALID_PARAMETER;
    *out = NULL;
    zdc_server *s = calloc(1, sizeof *s);
    if (!s)
        return ZDC_ERR_NOMEM;
    s->o = *o;
    if (!s->o.max_players)
        s->o.max_players = 1000;
    if (cb)
        s->cb = *cb;
    if (o->www_dir && !(s->www_dir = strdup(o->www_dir))) {
        free(s);
        return ZDC_ERR_NOMEM;
    }
    s->o.www_dir = s->www_dir;
    zdc_engine_options eo;
    zdc_engine_options_default(&eo);
    eo.bind_address = o->bind_address;
    if (o->bind_address && strchr(o->bind_address, ':') == NULL)
        eo.ipv6 = false;
    eo.port_min = eo.port_max = o->udp_port;
    eo.public_address = o->public_address;
    eo.include_loopback = o->include_loopback;
    eo.tuning = o->tuning;
    int rv = zdc_engine_new(&eo, &s->engine);
    if (rv != 0) {
        zdc_server_free(s);
        return rv;
    }
    struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(o->http_port)};
    struct sockaddr_in sa4 = {.sin_family = AF_INET, .sin_port = htons(o->http_port)};
    const struct sockaddr *sa = (const struct sockaddr *)&sa4;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (o->bind_address && inet_pton(AF_INET, o->bind_address, &sa4.sin_addr) != 1) {
        if (inet_pton(AF_INET6, o->bind_address, &sa6.sin6_addr) != 1) {
            zdc_server_free(s);
            return ZDC_ERR_INVALID_PARAMETER;
        }
        sa = (const struct sockaddr *)&sa6;
        flags |= MHD_USE_IPv6;
    } else if (!o->bind_address) {
        sa = (const struct sockaddr *)&sa6; /* dual stack */
        flags |= MHD_USE_DUAL_STACK;
    }
    s->http = MHD_start_daemon(flags, o->http_port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR,
                               sa, MHD_OPTION_NOTIFY_COMPLETED, completed, s,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!s->http) {
        zdc_server_free(s);
        return errno == EADDRINUSE ? ZDC_ERR_ADDR_IN_USE : ZDC_ERR_IO;
    }
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->http, MHD_DAEMON_INFO_EPOLL_FD);
    s->http_fd = i ? i->epoll_fd : -1;
    i = MHD_get_daemon_info(s->http, MHD_DAEMON_INFO_BIND_PORT);
    s->http_port = i ? i->port : o->http_port;
    if (s->http_fd < 0 || zdc_engine_fd(s->engine) < 0) {
        zdc_server_free(s);
        return ZDC_ERR_IO;
    }
    *out = s;
    return 0;
}

void zdc_server_free(zdc_server *s)
{
    if (!s)
        return;
    if (s->http) {
        /* Suspended requests must be resumed before MHD can stop. */
        for (size_t i = 0; i < s->n_pl; i++)
            resume(s->pl[i]);
        MHD_stop_daemon(s->http); /* completes every request: their players are let go */
    }
    for (size_t i = 0; i < s->n_pl; i++) {
        zdc_peer_free(s->pl[i]->peer);
        free(s->pl[i]);
    }
    free(s->pl);
    zdc_engine_free(s->engine);
    free(s->www_dir);
    free(s);
}

void zdc_server_fds(zdc_server *s, int fds[2])
{
    fds[0] = s->http_fd;
    fds[1] = zdc_engine_fd(s->engine);
}

int zdc_server_next_timeout_ms(zdc_server *s)
{
    int t = zdc_engine_next_timeout_ms(s->engine);
    MHD_UNSIGNED_LONG_LONG h;
    if (MHD_get_timeout(s->http, &h) == MHD_YES && (t < 0 || h < (MHD_UNSIGNED_LONG_LONG)t))
        t = h > INT_MAX ? INT_MAX : (int)h;
    return t;
}

int zdc_server_run_ready(zdc_server *s)
{
    MHD_run(s->http);
    int rv = zdc_engine_poll(s->engine, 0);
    MHD_run(s->http); /* answers whose gathering completed in that poll */
    reap(s);
    return rv == 0 ? 0 : ZDC_ERR_IO;
}

int zdc_server_poll(zdc_server *s, int timeout_ms)
{
    int fds[2];
    zdc_server_fds(s, fds);
    int t = zdc_server_next_timeout_ms(s);
    if (timeout_ms >= 0 && (t < 0 || timeout_ms < t))
        t = timeout_ms;
    struct pollfd p[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = fds[1], .events = POLLIN}};
    if (poll(p, 2, t) < 0 && errno != EINTR)
        return ZDC_ERR_IO;
    return zdc_server_run_ready(s);
}

/* ---- sending ------------------------------------------------------------------------------- */

static int send_to(player *p, bool reliable, const void *data, size_t len, bool text)
{
    zdc_channel ch = reliable ? p->reliable : p->unreliable;
    if (!ch.id || zdc_channel_get_ready_state(ch) != ZDC_CHANNEL_OPEN)
        return ZDC_ERR_INVALID_STATE;
    zdc_channel_set_write_mode(ch, text ? ZDC_WRITE_MODE_TEXT : ZDC_WRITE_MODE_BINARY);
    return zdc_channel_put_packet(ch, data, len);
}

int zdc_server_send(zdc_server *s, uint32_t player_id, bool reliable, const void *data, size_t len,
                    bool text)
{
    player *p = find(s, player_id);
    if (!p || !p->joined)
        return ZDC_ERR_NOT_FOUND;
    return send_to(p, reliable, data, len, text);
}

int zdc_server_broadcast(zdc_server *s, bool reliable, const void *data, size_t len, bool text)
{
    int n = 0;
    for (size_t i = 0; i < s->n_pl; i++)
        if (s->pl[i]->joined && send_to(s->pl[i], reliable, data, len, text) == 0)
            n++;
    return n;
}

int zdc_server_kick(zdc_server *s, uint32_t player_id)
{
    player *p = find(s, player_id);
    if (!p)
        return ZDC_ERR_NOT_FOUND;
    zdc_peer_close(p->peer);
    leave(p);
    return 0;
}

int zdc_server_http_port(const zdc_server *s)
{
    return s->http_port;
}

int zdc_server_udp_port(const zdc_server *s)
{
    int p = zdc_engine_port(s->engine, 4);
    return p > 0 ? p : zdc_engine_port(s->engine, 6);
}

unsigned zdc_server_player_count(const zdc_server *s)
{
    return s->joined;
}

zdc_engine *zdc_server_engine(zdc_server *s)
{
    return s->engine;
}

zdc_peer zdc_server_player_peer(zdc_server *s, uint32_t player_id)
{
    player *p = find(s, player_id);
    return p ? p->peer : (zdc_peer){0};
}
