/* The Godot-agnostic half of the Godot integration (bridge.h). */
#include "bridge.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int zdc_bridge_godot_error(int e)
{
    switch (e) {
    case ZDC_OK:
        return ZDC_GD_OK;
    case ZDC_ERR_INVALID_PARAMETER:
    case ZDC_ERR_TOO_LARGE:
        return ZDC_GD_ERR_INVALID_PARAMETER;
    case ZDC_ERR_TRUNCATED:
    case ZDC_ERR_MALFORMED:
        return ZDC_GD_ERR_INVALID_DATA;
    case ZDC_ERR_NOMEM:
        return ZDC_GD_ERR_OUT_OF_MEMORY;
    case ZDC_ERR_INVALID_STATE:
    case ZDC_ERR_CLOSED:
        return ZDC_GD_ERR_UNCONFIGURED;
    case ZDC_ERR_GONE:
    case ZDC_ERR_NOT_FOUND:
        return ZDC_GD_ERR_DOES_NOT_EXIST;
    case ZDC_ERR_AGAIN:
    case ZDC_ERR_NOT_SUPPORTED:
        return ZDC_GD_ERR_UNAVAILABLE;
    case ZDC_ERR_QUEUE_FULL:
        return ZDC_GD_ERR_BUSY;
    case ZDC_ERR_ADDR_IN_USE:
        return ZDC_GD_ERR_ALREADY_IN_USE;
    case ZDC_ERR_TIMEOUT:
        return ZDC_GD_ERR_TIMEOUT;
    case ZDC_ERR_NO_INTERFACE:
    case ZDC_ERR_IO:
    case ZDC_ERR_CRYPTO:
        return ZDC_GD_ERR_CANT_CREATE;
    default:
        return ZDC_GD_ERR_CONNECTION_ERROR;
    }
}

/* ---- settings and the shared engine ---------------------------------------------------- */

static bool setting(zdc_bridge_setting_fn get, void *user, const char *name, char *buf, size_t cap)
{
    char env[64] = "ZDC_GODOT_";
    size_t n = strlen(env);
    for (const char *s = name; *s && n + 1 < sizeof env; s++)
        env[n++] = (char)toupper((unsigned char)*s);
    env[n] = '\0';
    const char *v = getenv(env);
    if (v) {
        snprintf(buf, cap, "%s", v);
        return true;
    }
    return get && get(user, name, buf, cap);
}

static int parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "yes")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "no")) {
        *out = false;
        return 0;
    }
    return ZDC_ERR_INVALID_PARAMETER;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > max || s[0] == '-')
        return ZDC_ERR_INVALID_PARAMETER;
    *out = v;
    return 0;
}

static char g_bind[64];

int zdc_bridge_engine_options(zdc_engine_options *o, zdc_bridge_setting_fn get, void *user,
                              const char **bad)
{
    static const char *const bools[] = {"loopback", "ipv4", "ipv6"};
    char buf[64];
    unsigned long v;

    zdc_engine_options_default(o);
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++) {
        bool b;
        if (!setting(get, user, bools[i], buf, sizeof buf))
            continue;
        if (parse_bool(buf, &b) != 0) {
            *bad = bools[i];
            return ZDC_ERR_INVALID_PARAMETER;
        }
        if (i == 0)
            o->include_loopback = b;
        else if (i == 1)
            o->ipv4 = b;
        else
            o->ipv6 = b;
    }
    *bad = "port_min";
    if (setting(get, user, *bad, buf, sizeof buf)) {
        if (parse_uint(buf, 65535, &v) != 0)
            return ZDC_ERR_INVALID_PARAMETER;
        o->port_min = (uint16_t)v;
    }
    *bad = "port_max";
    if (setting(get, user, *bad, buf, sizeof buf)) {
        if (parse_uint(buf, 65535, &v) != 0)
            return ZDC_ERR_INVALID_PARAMETER;
        o->port_max = (uint16_t)v;
    }
    *bad = "max_message_size";
    if (setting(get, user, *bad, buf, sizeof buf)) {
        if (parse_uint(buf, 1ul << 30, &v) != 0 || v == 0)
            return ZDC_ERR_INVALID_PARAMETER;
        o->max_message_size = v;
    }
    *bad = "backend";
    if (setting(get, user, *bad, buf, sizeof buf)) {
        if (!strcmp(buf, "auto") || !buf[0])
            o->backend = ZDC_BACKEND_AUTO;
        else if (!strcmp(buf, "uring"))
            o->backend = ZDC_BACKEND_URING;
        else if (!strcmp(buf, "epoll"))
            o->backend = ZDC_BACKEND_EPOLL;
        else
            return ZDC_ERR_INVALID_PARAMETER;
    }
    *bad = "bind_address";
    if (setting(get, user, *bad, g_bind, sizeof g_bind) && g_bind[0])
        o->bind_address = g_bind;
    *bad = NULL;
    return 0;
}

static zdc_engine *g_engine;
static int g_engine_refs;
static zdc_log_fn g_log_fn;
static void *g_log_user;

void zdc_bridge_set_log_sink(zdc_log_fn fn, void *user)
{
    g_log_fn = fn;
    g_log_user = user;
}

/* Applies the "log" setting (default "warn") to a new engine. */
static int engine_log(zdc_engine *e, zdc_bridge_setting_fn get, void *user)
{
    char spec[128];
    bool have = setting(get, user, "log", spec, sizeof spec);
    if (!have && getenv("ZDC_LOG"))
        return 0; /* zdc_engine_new applied it (to stderr) */
    int level = ZDC_LOG_WARN;
    uint32_t components = ZDC_LOG_ALL_COMPONENTS;
    if (have && zdc_log_parse(spec, &level, &components) != 0) {
        fprintf(stderr, "zdc-godot: engine setting log has a bad value\n");
        return ZDC_ERR_INVALID_PARAMETER;
    }
    if (!g_log_fn)
        return 0;
    zdc_engine_set_log(e, level, g_log_fn, g_log_user);
    zdc_engine_set_log_components(e, components);
    return 0;
}
static int g_peers, g_channels;

int zdc_bridge_engine_acquire(zdc_bridge_setting_fn get, void *user, zdc_engine **out)
{
    if (!g_engine) {
        zdc_engine_options o;
        const char *bad = NULL;
        int rv = zdc_bridge_engine_options(&o, get, user, &bad);
        if (rv != 0) {
            fprintf(stderr, "zdc-godot: engine setting %s has a bad value\n", bad ? bad : "?");
            return rv;
        }
        rv = zdc_engine_new(&o, &g_engine);
        if (rv != 0) {
            fprintf(stderr, "zdc-godot: zdc_engine_new: %s\n", zdc_strerror(rv));
            g_engine = NULL;
            return rv;
        }
        rv = engine_log(g_engine, get, user);
        if (rv != 0) {
            zdc_engine_free(g_engine);
            g_engine = NULL;
            return rv;
        }
    }
    g_engine_refs++;
    *out = g_engine;
    return 0;
}

void zdc_bridge_engine_release(void)
{
    if (g_engine_refs <= 0)
        return;
    if (--g_engine_refs == 0) {
        zdc_engine_free(g_engine);
        g_engine = NULL;
    }
}

void zdc_bridge_get_stats(zdc_bridge_stats *out)
{
    out->engine_refs = g_engine_refs;
    out->engine_alive = g_engine != NULL;
    out->peers = g_peers;
    out->channels = g_channels;
}

/* ---- peers: signals queued during zdc's poll, handed out after it ------------------------ */

enum sig_kind { SIG_DESCRIPTION, SIG_CANDIDATE, SIG_CHANNEL };

typedef struct sig {
    struct sig *next;
    enum sig_kind kind;
    int index;
    zdc_channel channel;
    char *a, *b; /* type + sdp, or mid + candidate */
} sig;

struct zdc_bridge_peer {
    zdc_peer peer;
    zdc_bridge_signals out;
    sig *head, *tail;
    int depth;      /* nested zdc_bridge_peer_poll calls (a handler may poll again) */
    bool free_late; /* freed from inside a handler: free when the outer poll returns */
    bool failed;    /* an event could not be queued (out of memory) */
};

static void sig_free(sig *s)
{
    free(s->a);
    free(s->b);
    free(s);
}

static void drop_signals(zdc_bridge_peer *p)
{
    while (p->head) {
        sig *s = p->head;
        p->head = s->next;
        sig_free(s);
    }
    p->tail = NULL;
}

static void push(zdc_bridge_peer *p, enum sig_kind kind, const char *a, const char *b, int index,
                 zdc_channel ch)
{
    sig *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    s->kind = kind;
    s->index = index;
    s->channel = ch;
    if ((a && !(s->a = strdup(a))) || (b && !(s->b = strdup(b)))) {
        sig_free(s);
        goto oom;
    }
    if (p->tail)
        p->tail->next = s;
    else
        p->head = s;
    p->tail = s;
    return;
oom:
    /* A lost description or candidate would hang the connection silently: fail it. */
    p->failed = true;
}

static void on_description(void *user, zdc_peer peer, const char *type, const char *sdp)
{
    push(user, SIG_DESCRIPTION, type, sdp, 0, (zdc_channel){0});
}

static void on_candidate(void *user, zdc_peer peer, const char *mid, int index, const char *cand)
{
    push(user, SIG_CANDIDATE, mid, cand, index, (zdc_channel){0});
}

static void on_channel(void *user, zdc_peer peer, zdc_channel ch)
{
    push(user, SIG_CHANNEL, NULL, NULL, 0, ch);
}

int zdc_bridge_peer_new(const zdc_bridge_signals *sigs, zdc_bridge_setting_fn get, void *user,
                        zdc_bridge_peer **out)
{
    zdc_bridge_peer *p = calloc(1, sizeof *p);
    if (!p)
        return ZDC_ERR_NOMEM;
    p->out = *sigs;
    zdc_engine *e;
    int rv = zdc_bridge_engine_acquire(get, user, &e);
    if (rv != 0) {
        free(p);
        return rv;
    }
    zdc_peer_callbacks cb = {
        .user = p,
        .on_session_description_created = on_description,
        .on_ice_candidate_created = on_candidate,
        .on_data_channel_received = on_channel,
    };
    rv = zdc_peer_new(e, &cb, &p->peer);
    if (rv != 0) {
        zdc_bridge_engine_release();
        free(p);
        return rv;
    }
    g_peers++;
    *out = p;
    return 0;
}

static void peer_destroy(zdc_bridge_peer *p)
{
    drop_signals(p);
    free(p);
    g_peers--;
    zdc_bridge_engine_release();
}

void zdc_bridge_peer_free(zdc_bridge_peer *p)
{
    if (!p || p->free_late)
        return;
    zdc_peer_free(p->peer);
    p->peer = (zdc_peer){0};
    drop_signals(p);
    if (p->depth > 0) {
        p->free_late = true;
        return;
    }
    peer_destroy(p);
}

zdc_peer zdc_bridge_peer_handle(const zdc_bridge_peer *p)
{
    return p ? p->peer : (zdc_peer){0};
}

int zdc_bridge_peer_poll(zdc_bridge_peer *p)
{
    if (p->free_late)
        return ZDC_ERR_GONE;
    int rv = zdc_peer_poll(p->peer);
    if (p->failed) {
        p->failed = false;
        zdc_peer_close(p->peer);
        drop_signals(p);
        fprintf(stderr, "zdc-godot: out of memory queueing a signal; peer closed\n");
        return ZDC_ERR_NOMEM;
    }
    p->depth++;
    /* One at a time from the head: a handler may poll (appending and handing out more),
     * close (dropping the rest) or free the peer. */
    while (p->head && !p->free_late) {
        sig *s = p->head;
        p->head = s->next;
        if (!p->head)
            p->tail = NULL;
        switch (s->kind) {
        case SIG_DESCRIPTION:
            if (p->out.session_description_created)
                p->out.session_description_created(p->out.user, s->a, s->b);
            break;
        case SIG_CANDIDATE:
            if (p->out.ice_candidate_created)
                p->out.ice_candidate_created(p->out.user, s->a, s->index, s->b);
            break;
        case SIG_CHANNEL:
            if (p->out.data_channel_received)
                p->out.data_channel_received(p->out.user, s->channel);
            else
                zdc_channel_release(s->channel);
            break;
        }
        sig_free(s);
    }
    p->depth--;
    if (p->free_late && p->depth == 0) {
        peer_destroy(p);
        return ZDC_ERR_GONE;
    }
    return rv;
}

void zdc_bridge_peer_close(zdc_bridge_peer *p)
{
    zdc_peer_close(p->peer);
    drop_signals(p);
}

int zdc_bridge_peer_initialize(zdc_bridge_peer *p, const zdc_peer_config *cfg)
{
    drop_signals(p);
    return zdc_peer_initialize(p->peer, cfg);
}

/* ---- channels: Godot's get_packet contract ------------------------------------------------ */

struct zdc_bridge_channel {
    zdc_channel ch;
    bool holding; /* a packet is handed out (zdc's view of the queue's head) */
    bool was_string;
};

zdc_bridge_channel *zdc_bridge_channel_new(zdc_channel ch)
{
    zdc_bridge_channel *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ch = ch;
    g_channels++;
    return c;
}

void zdc_bridge_channel_free(zdc_bridge_channel *c)
{
    if (!c)
        return;
    if (c->holding)
        zdc_channel_release_packet(c->ch);
    zdc_channel_close(c->ch);
    zdc_channel_release(c->ch);
    free(c);
    g_channels--;
}

zdc_channel zdc_bridge_channel_handle(const zdc_bridge_channel *c)
{
    return c->ch;
}

int zdc_bridge_channel_get_packet(zdc_bridge_channel *c, const uint8_t **p, size_t *len)
{
    if (c->holding) {
        zdc_channel_release_packet(c->ch);
        c->holding = false;
    }
    bool was_string = false;
    int rv = zdc_channel_get_packet(c->ch, p, len, &was_string);
    if (rv != 0)
        return rv;
    c->holding = true;
    c->was_string = was_string;
    return 0;
}

bool zdc_bridge_channel_was_string(const zdc_bridge_channel *c)
{
    return c->was_string;
}

int zdc_bridge_channel_available(const zdc_bridge_channel *c)
{
    int n = zdc_channel_get_available_packet_count(c->ch);
    if (c->holding && n > 0)
        n--;
    return n;
}
