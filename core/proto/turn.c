/* TURN client (RFC 8656) with the long-term credential mechanism (RFC 8489 §9.2). */
#include "turn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "hmac.h"
#include "turnmsg.h"
#include "zdc/error.h"
#include "zdc/stun.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S  1000000000ull

/* RFC 8656 §9: a permission lasts 300 s; §12: a channel binding 600 s. Renew a minute early. */
#define PERMISSION_LIFETIME_NS (300 * NS_PER_S)
#define PERMISSION_RENEW_NS    (240 * NS_PER_S)
#define CHANNEL_LIFETIME_NS    (600 * NS_PER_S)
#define CHANNEL_RENEW_NS       (540 * NS_PER_S)
#define DEFAULT_LIFETIME_S     600 /* RFC 8656 §7.1, when a success lacks LIFETIME */
#define UDP_MAX_SENDS          7   /* RFC 8489 §6.2.1 Rc */
#define UDP_RTO_CAP_NS         (3200 * NS_PER_MS)
#define STREAM_TIMEOUT_NS      (10 * NS_PER_S)
#define MAX_STALE_RETRIES      3
#define MAX_TX                 (2 + ZDC_TURN_MAX_PERMISSIONS + ZDC_TURN_MAX_CHANNELS)
#define MAX_PASSWORD           256
#define REFUSED_BACKOFF_NS     (30 * NS_PER_S) /* a refused permission is not asked again sooner */
#define MSG_MAX                2600 /* a request: credentials (< 2100 bytes) and a few addresses */
#define SCRATCH_SIZE           (65535 + 64)

enum tx_kind { TX_ALLOCATE, TX_REFRESH, TX_PERMISSION, TX_CHANNEL };

typedef struct tx {
    bool used;
    bool authed; /* sent with credentials */
    uint8_t id[12];
    int kind;
    int slot;          /* permission or channel index */
    uint32_t lifetime; /* REFRESH: LIFETIME asked for */
    int sends;
    int stale; /* 438 retries so far */
    uint64_t rto, deadline;
} tx;

typedef struct perm {
    bool used, installed;
    uint64_t refused_until; /* refused: no new CreatePermission before then */
    zdc_addr peer;          /* the first peer of this IP (the port is ignored by the server) */
    uint64_t expires, renew_at;
    int tx; /* pending CreatePermission, -1 = none */
} perm;

typedef struct chan {
    bool used, bound;
    zdc_addr peer;
    uint16_t number;
    uint64_t expires, renew_at;
    int tx;
} chan;

struct zdc_turn {
    zdc_turn_config cfg;
    char user[ZDC_STUN_MAX_USERNAME + 1];
    char pass[MAX_PASSWORD + 1];
    char software[ZDC_STUN_MAX_TEXT + 1];
    int state;
    /* long-term credentials learned from the 401 */
    bool have_auth, sha256;
    uint8_t realm[ZDC_STUN_MAX_TEXT + 1], nonce[ZDC_STUN_MAX_TEXT];
    size_t realm_len, nonce_len;
    uint16_t algs[ZDC_TURN_MAX_PASSWORD_ALGS];
    size_t n_algs;
    uint8_t key[32];
    size_t key_len;
    /* the allocation */
    zdc_addr relayed, mapped;
    uint32_t lifetime;
    uint64_t expires, refresh_at;
    int refresh_tx;
    tx txs[MAX_TX];
    perm perms[ZDC_TURN_MAX_PERMISSIONS];
    chan chans[ZDC_TURN_MAX_CHANNELS];
    uint16_t next_channel;
    int err;
    unsigned err_code;
    char reason[192];
    uint8_t *scratch; /* Send indications and ChannelData */
};

/* ---- helpers ------------------------------------------------------------------------------ */

static void to_stun_addr(const zdc_addr *a, zdc_stun_addr *s)
{
    memset(s, 0, sizeof *s);
    s->family = (uint8_t)zdc_addr_family(a);
    s->port = zdc_addr_port(a);
    zdc_addr_bytes(a, s->ip);
}

static void from_stun_addr(const zdc_stun_addr *s, zdc_addr *a)
{
    if (zdc_addr_from_bytes(a, s->family, s->ip, s->port) != 0)
        memset(a, 0, sizeof *a);
}

static bool stream(const zdc_turn *t)
{
    return t->cfg.transport != ZDC_TURN_UDP;
}

static void fail(zdc_turn *t, int err, unsigned code, const char *fmt, const char *detail,
                 size_t detail_len)
{
    if (t->state == ZDC_TURN_FAILED || t->state == ZDC_TURN_CLOSED)
        return;
    /* The server's reason phrase is untrusted text: keep printable ASCII only. */
    char clean[160];
    size_t n = 0;
    for (size_t i = 0; i < detail_len && n + 1 < sizeof clean; i++)
        clean[n++] = detail[i] >= 0x20 && detail[i] < 0x7F ? detail[i] : '?';
    clean[n] = 0;
    snprintf(t->reason, sizeof t->reason, fmt, code, clean);
    t->err = err;
    t->err_code = code;
    t->state = ZDC_TURN_FAILED;
    memset(t->txs, 0, sizeof t->txs);
    ZDC_LOG_W(t->cfg.log, ZDC_LOG_TURN, "%s", t->reason);
    if (t->cfg.on_failed)
        t->cfg.on_failed(t->cfg.user, err, code, t->reason);
}

static perm *perm_find(zdc_turn *t, const zdc_addr *peer)
{
    for (size_t i = 0; i < ZDC_TURN_MAX_PERMISSIONS; i++)
        if (t->perms[i].used && zdc_addr_ip_equal(&t->perms[i].peer, peer))
            return &t->perms[i];
    return NULL;
}

static chan *chan_find(zdc_turn *t, const zdc_addr *peer)
{
    for (size_t i = 0; i < ZDC_TURN_MAX_CHANNELS; i++)
        if (t->chans[i].used && zdc_addr_equal(&t->chans[i].peer, peer))
            return &t->chans[i];
    return NULL;
}

static chan *chan_by_number(zdc_turn *t, uint16_t number)
{
    for (size_t i = 0; i < ZDC_TURN_MAX_CHANNELS; i++)
        if (t->chans[i].used && t->chans[i].number == number)
            return &t->chans[i];
    return NULL;
}

/* ---- requests ----------------------------------------------------------------------------- */

static int build_request(zdc_turn *t, const tx *x, uint8_t *buf, size_t cap)
{
    static const uint16_t methods[] = {ZDC_TURN_ALLOCATE, ZDC_TURN_REFRESH,
                                       ZDC_TURN_CREATE_PERMISSION, ZDC_TURN_CHANNEL_BIND};
    zdc_stun_builder b;
    zdc_stun_addr sa;
    zdc_stun_build_begin(&b, buf, cap, methods[x->kind], ZDC_STUN_REQUEST, x->id);
    switch (x->kind) {
    case TX_ALLOCATE:
        /* RFC 8656 §7.1: REQUESTED-TRANSPORT 17 (UDP), the only one WebRTC needs. */
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_REQUESTED_TRANSPORT, 17u << 24);
        if (t->cfg.lifetime_s)
            zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, t->cfg.lifetime_s);
        break;
    case TX_REFRESH:
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_LIFETIME, x->lifetime);
        break;
    case TX_PERMISSION:
        to_stun_addr(&t->perms[x->slot].peer, &sa);
        zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_PEER_ADDRESS, &sa);
        break;
    case TX_CHANNEL:
        zdc_stun_add_u32(&b, ZDC_TURN_ATTR_CHANNEL_NUMBER,
                         (uint32_t)t->chans[x->slot].number << 16);
        to_stun_addr(&t->chans[x->slot].peer, &sa);
        zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_PEER_ADDRESS, &sa);
        break;
    }
    if (t->software[0])
        zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_SOFTWARE, t->software, strlen(t->software));
    if (x->authed) {
        /* RFC 8489 §9.2.3.2: USERNAME, REALM, NONCE, and with a SHA-256 key the algorithms
         * the server offered plus the one chosen, then the integrity attribute. */
        zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_USERNAME, t->user, strlen(t->user));
        zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_REALM, t->realm, t->realm_len);
        zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_NONCE, t->nonce, t->nonce_len);
        if (t->sha256) {
            uint8_t algs[4 * ZDC_TURN_MAX_PASSWORD_ALGS], alg[4] = {0, ZDC_TURN_PASSWORD_SHA256};
            for (size_t i = 0; i < t->n_algs; i++) {
                algs[4 * i] = (uint8_t)(t->algs[i] >> 8);
                algs[4 * i + 1] = (uint8_t)t->algs[i];
                algs[4 * i + 2] = algs[4 * i + 3] = 0;
            }
            zdc_stun_add_bytes(&b, ZDC_TURN_ATTR_PASSWORD_ALGORITHMS, algs, 4 * t->n_algs);
            zdc_stun_add_bytes(&b, ZDC_TURN_ATTR_PASSWORD_ALGORITHM, alg, sizeof alg);
            zdc_stun_add_integrity_sha256(&b, t->key, t->key_len);
        } else {
            zdc_stun_add_integrity(&b, t->key, t->key_len);
        }
    }
    zdc_stun_add_fingerprint(&b);
    return zdc_stun_build_end(&b);
}

static void tx_transmit(zdc_turn *t, tx *x, uint64_t now)
{
    uint8_t buf[MSG_MAX];
    int n = build_request(t, x, buf, sizeof buf);
    if (n > 0)
        t->cfg.send(t->cfg.user, buf, (size_t)n);
    x->sends++;
    if (stream(t)) {
        x->deadline = now + STREAM_TIMEOUT_NS;
    } else {
        /* RFC 8489 §6.2.1: RTO doubled at each retransmission; after Rc sends wait Rm * RTO
         * (here the capped RTO) for the answer. */
        x->deadline = now + x->rto;
        x->rto = x->rto * 2 > UDP_RTO_CAP_NS ? UDP_RTO_CAP_NS : x->rto * 2;
    }
}

/* Starts a new transaction (a new transaction id). Returns its index or -1 when full. */
static int tx_start(zdc_turn *t, int kind, int slot, uint32_t lifetime, int stale, uint64_t now)
{
    for (int i = 0; i < MAX_TX; i++) {
        tx *x = &t->txs[i];
        if (x->used)
            continue;
        memset(x, 0, sizeof *x);
        x->used = true;
        x->kind = kind;
        x->slot = slot;
        x->lifetime = lifetime;
        x->stale = stale;
        x->authed = t->have_auth;
        x->rto = (uint64_t)(t->cfg.rto_ms ? t->cfg.rto_ms : 500) * NS_PER_MS;
        t->cfg.random(t->cfg.user, x->id, sizeof x->id);
        if (kind == TX_REFRESH)
            t->refresh_tx = i;
        else if (kind == TX_PERMISSION)
            t->perms[slot].tx = i;
        else if (kind == TX_CHANNEL)
            t->chans[slot].tx = i;
        tx_transmit(t, x, now);
        return i;
    }
    return -1;
}

/* Forgets transaction i and the references to it. */
static void tx_end(zdc_turn *t, int i)
{
    tx *x = &t->txs[i];
    if (x->kind == TX_REFRESH && t->refresh_tx == i)
        t->refresh_tx = -1;
    else if (x->kind == TX_PERMISSION && t->perms[x->slot].tx == i)
        t->perms[x->slot].tx = -1;
    else if (x->kind == TX_CHANNEL && t->chans[x->slot].tx == i)
        t->chans[x->slot].tx = -1;
    x->used = false;
}

/* ---- life cycle --------------------------------------------------------------------------- */

static bool copy_str(char *dst, size_t cap, const char *src)
{
    if (!src)
        return cap > 0 && (dst[0] = 0, true);
    size_t n = strlen(src);
    if (n >= cap)
        return false;
    memcpy(dst, src, n + 1);
    return true;
}

int zdc_turn_new(const zdc_turn_config *cfg, zdc_turn **out)
{
    if (!cfg || !out || !cfg->random || !cfg->send || !cfg->username || !cfg->password ||
        cfg->transport < ZDC_TURN_UDP || cfg->transport > ZDC_TURN_TLS)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_turn *t = calloc(1, sizeof *t);
    if (!t)
        return ZDC_ERR_NOMEM;
    if (!copy_str(t->user, sizeof t->user, cfg->username) ||
        !copy_str(t->pass, sizeof t->pass, cfg->password) ||
        !copy_str(t->software, sizeof t->software, cfg->software)) {
        free(t);
        return ZDC_ERR_INVALID_PARAMETER;
    }
    t->scratch = malloc(SCRATCH_SIZE);
    if (!t->scratch) {
        free(t);
        return ZDC_ERR_NOMEM;
    }
    t->cfg = *cfg;
    t->cfg.username = t->user;
    t->cfg.password = t->pass;
    t->cfg.software = t->software;
    t->refresh_tx = -1;
    t->next_channel = ZDC_TURN_CHANNEL_MIN;
    for (size_t i = 0; i < ZDC_TURN_MAX_PERMISSIONS; i++)
        t->perms[i].tx = -1;
    for (size_t i = 0; i < ZDC_TURN_MAX_CHANNELS; i++)
        t->chans[i].tx = -1;
    *out = t;
    return 0;
}

void zdc_turn_free(zdc_turn *t)
{
    if (!t)
        return;
    free(t->scratch);
    OPENSSL_cleanse(t->pass, sizeof t->pass);
    OPENSSL_cleanse(t->key, sizeof t->key);
    free(t);
}

int zdc_turn_allocate(zdc_turn *t, uint64_t now_ns)
{
    if (!t || t->state != ZDC_TURN_IDLE)
        return ZDC_ERR_INVALID_STATE;
    t->state = ZDC_TURN_ALLOCATING;
    if (tx_start(t, TX_ALLOCATE, 0, 0, 0, now_ns) < 0)
        return ZDC_ERR_QUEUE_FULL; /* cannot happen: the table is empty */
    return 0;
}

void zdc_turn_close(zdc_turn *t, uint64_t now_ns)
{
    if (!t || t->state == ZDC_TURN_CLOSED)
        return;
    if (t->state == ZDC_TURN_ALLOCATED) {
        /* RFC 8656 §7.2: a Refresh with LIFETIME 0 deletes the allocation. Sent once: the
         * allocation expires on its own if it is lost. */
        memset(t->txs, 0, sizeof t->txs);
        tx x = {.used = true, .authed = t->have_auth, .kind = TX_REFRESH, .lifetime = 0};
        t->cfg.random(t->cfg.user, x.id, sizeof x.id);
        uint8_t buf[MSG_MAX];
        int n = build_request(t, &x, buf, sizeof buf);
        if (n > 0)
            t->cfg.send(t->cfg.user, buf, (size_t)n);
    }
    (void)now_ns;
    memset(t->txs, 0, sizeof t->txs);
    memset(t->perms, 0, sizeof t->perms);
    memset(t->chans, 0, sizeof t->chans);
    t->refresh_tx = -1;
    t->state = ZDC_TURN_CLOSED;
}

void zdc_turn_abort(zdc_turn *t, int err, const char *reason)
{
    if (t)
        fail(t, err, 0, "%.0u%s", reason ? reason : "transport lost", reason ? strlen(reason) : 14);
}

static bool addr_usable(const zdc_addr *a)
{
    return a && (zdc_addr_family(a) == 4 || zdc_addr_family(a) == 6);
}

/* The permission slot for peer's IP, creating it (and sending CreatePermission) if needed.
 * Returns NULL when the table is full. */
static perm *perm_get(zdc_turn *t, const zdc_addr *peer, uint64_t now)
{
    perm *p = perm_find(t, peer);
    if (p) {
        /* Refused before (403: the server does not relay there): asked again only after a
         * while, so a peer's checks do not turn into a CreatePermission each. */
        if (!p->installed && p->tx < 0 && now >= p->refused_until)
            tx_start(t, TX_PERMISSION, (int)(p - t->perms), 0, 0, now);
        return p;
    }
    for (int i = 0; i < ZDC_TURN_MAX_PERMISSIONS; i++) {
        p = &t->perms[i];
        if (p->used)
            continue;
        memset(p, 0, sizeof *p);
        p->used = true;
        p->peer = *peer;
        p->tx = -1;
        if (tx_start(t, TX_PERMISSION, i, 0, 0, now) < 0) {
            p->used = false;
            return NULL;
        }
        return p;
    }
    return NULL;
}

int zdc_turn_permit(zdc_turn *t, const zdc_addr *peer, uint64_t now_ns)
{
    if (!t || !addr_usable(peer))
        return ZDC_ERR_INVALID_PARAMETER;
    if (t->state != ZDC_TURN_ALLOCATED)
        return ZDC_ERR_INVALID_STATE;
    return perm_get(t, peer, now_ns) ? 0 : ZDC_ERR_QUEUE_FULL;
}

int zdc_turn_bind_channel(zdc_turn *t, const zdc_addr *peer, uint64_t now_ns)
{
    if (!t || !addr_usable(peer))
        return ZDC_ERR_INVALID_PARAMETER;
    if (t->state != ZDC_TURN_ALLOCATED)
        return ZDC_ERR_INVALID_STATE;
    if (chan_find(t, peer))
        return 0;
    for (int i = 0; i < ZDC_TURN_MAX_CHANNELS; i++) {
        chan *c = &t->chans[i];
        if (c->used)
            continue;
        /* A ChannelBind also installs the permission (RFC 8656 §12.2); keep a slot for it so
         * data can fall back to Send indications if the binding is refused. */
        if (!perm_find(t, peer) && !perm_get(t, peer, now_ns))
            return ZDC_ERR_QUEUE_FULL;
        memset(c, 0, sizeof *c);
        c->used = true;
        c->peer = *peer;
        c->tx = -1;
        /* Numbers are not reused within the client's life while any is in use: RFC 8656 §12
         * forbids rebinding a number to another peer until 5 minutes after it expired. */
        c->number = t->next_channel;
        t->next_channel =
            t->next_channel == ZDC_TURN_CHANNEL_MAX ? ZDC_TURN_CHANNEL_MIN : t->next_channel + 1;
        if (tx_start(t, TX_CHANNEL, i, 0, 0, now_ns) < 0) {
            c->used = false;
            return ZDC_ERR_QUEUE_FULL;
        }
        return 0;
    }
    return ZDC_ERR_QUEUE_FULL;
}

int zdc_turn_send(zdc_turn *t, const zdc_addr *peer, const uint8_t *p, size_t len, uint64_t now_ns)
{
    if (!t || !addr_usable(peer) || (!p && len))
        return ZDC_ERR_INVALID_PARAMETER;
    if (t->state != ZDC_TURN_ALLOCATED)
        return ZDC_ERR_INVALID_STATE;
    chan *c = chan_find(t, peer);
    if (c && c->bound) {
        int n = zdc_turn_channel_data_build(t->scratch, SCRATCH_SIZE, c->number, p, len, stream(t));
        if (n < 0)
            return n;
        t->cfg.send(t->cfg.user, t->scratch, (size_t)n);
        return 0;
    }
    if (len > 65535 - 64)
        return ZDC_ERR_TOO_LARGE;
    if (!perm_get(t, peer, now_ns))
        return ZDC_ERR_QUEUE_FULL;
    /* RFC 8656 §11.1: a Send indication with XOR-PEER-ADDRESS and DATA, no authentication. */
    uint8_t id[12];
    t->cfg.random(t->cfg.user, id, sizeof id);
    zdc_stun_builder b;
    zdc_stun_addr sa;
    to_stun_addr(peer, &sa);
    zdc_stun_build_begin(&b, t->scratch, SCRATCH_SIZE, ZDC_TURN_SEND, ZDC_STUN_INDICATION, id);
    zdc_stun_add_xor_address(&b, ZDC_TURN_ATTR_XOR_PEER_ADDRESS, &sa);
    zdc_stun_add_bytes(&b, ZDC_TURN_ATTR_DATA, p, len);
    int n = zdc_stun_build_end(&b);
    if (n < 0)
        return n;
    t->cfg.send(t->cfg.user, t->scratch, (size_t)n);
    return 0;
}

/* ---- responses ---------------------------------------------------------------------------- */

/* When to renew something due `after` ns from now: earlier with config.refresh_every_ms. */
static uint64_t renew_at(const zdc_turn *t, uint64_t now, uint64_t after)
{
    uint64_t every = (uint64_t)t->cfg.refresh_every_ms * NS_PER_MS;
    return now + (every && every < after ? every : after);
}

static void schedule_refresh(zdc_turn *t, uint32_t lifetime, uint64_t now)
{
    t->lifetime = lifetime;
    t->expires = now + (uint64_t)lifetime * NS_PER_S;
    /* Refresh a minute before expiry, or at 3/4 of a short lifetime. */
    uint64_t lead = lifetime >= 240 ? 60 * NS_PER_S : (uint64_t)lifetime * NS_PER_S / 4;
    t->refresh_at = renew_at(t, now, t->expires - lead - now);
}

/* A 401 or 438 to transaction i: learn the realm and nonce, try again. */
static void handle_auth_error(zdc_turn *t, int i, const zdc_stun_msg *m, const zdc_turn_attrs *a,
                              uint64_t now)
{
    tx x = t->txs[i];
    tx_end(t, i);
    bool kill_alloc = x.kind == TX_ALLOCATE || x.kind == TX_REFRESH;
    /* RFC 8489 §9.2.5: a 401 to a request with credentials means they are wrong (the nonce
     * was good, or the server would have said 438). */
    if (m->error_code == 401 && x.authed) {
        if (kill_alloc)
            fail(t, ZDC_ERR_INTEGRITY, 401, "TURN server refused the credentials (%u %s)",
                 (const char *)m->error_reason.p, m->error_reason.len);
        return;
    }
    if (m->error_code == 438 && x.stale >= MAX_STALE_RETRIES) {
        if (kill_alloc)
            fail(t, ZDC_ERR_PROTOCOL, 438, "TURN server keeps answering stale nonce (%u %s)",
                 (const char *)m->error_reason.p, m->error_reason.len);
        return;
    }
    if (!m->has_nonce || (!m->has_realm && !t->have_auth) || m->nonce.len > sizeof t->nonce) {
        if (kill_alloc)
            fail(t, ZDC_ERR_PROTOCOL, m->error_code,
                 "TURN server answered %u without REALM or NONCE%s", "", 0);
        return;
    }
    memcpy(t->nonce, m->nonce.p, m->nonce.len);
    t->nonce_len = m->nonce.len;
    if (m->has_realm) {
        memcpy(t->realm, m->realm.p, m->realm.len);
        t->realm_len = m->realm.len;
        t->realm[t->realm_len] = 0;
    }
    if (!t->have_auth) {
        /* RFC 8489 §9.2.4: SHA-256 when the server lists it in PASSWORD-ALGORITHMS (it then
         * expects the list echoed and MESSAGE-INTEGRITY-SHA256), else MD5. */
        t->sha256 = false;
        for (size_t k = 0; k < a->n_password_algs; k++)
            if (a->password_algs[k] == ZDC_TURN_PASSWORD_SHA256)
                t->sha256 = true;
        t->n_algs = a->n_password_algs;
        memcpy(t->algs, a->password_algs, sizeof t->algs);
        char realm[ZDC_STUN_MAX_TEXT + 1];
        memcpy(realm, t->realm, t->realm_len);
        realm[t->realm_len] = 0;
        int rv;
        if (t->sha256) {
            zdc_chunk c[5] = {{t->user, strlen(t->user)},
                              {":", 1},
                              {realm, t->realm_len},
                              {":", 1},
                              {t->pass, strlen(t->pass)}};
            rv = zdc_digest(ZDC_DIGEST_SHA256, c, 5, t->key);
            t->key_len = 32;
        } else {
            rv = zdc_stun_long_term_key(t->user, realm, t->pass, t->key);
            t->key_len = 16;
        }
        if (rv) {
            fail(t, rv, 0, "cannot derive the TURN key%.0u%s", "", 0);
            return;
        }
        t->have_auth = true;
    }
    tx_start(t, x.kind, x.slot, x.lifetime, m->error_code == 438 ? x.stale + 1 : x.stale, now);
}

static void handle_success(zdc_turn *t, int i, const zdc_stun_msg *m, const zdc_turn_attrs *a,
                           uint64_t now)
{
    tx x = t->txs[i];
    tx_end(t, i);
    switch (x.kind) {
    case TX_ALLOCATE:
        if (t->state != ZDC_TURN_ALLOCATING)
            return;
        if (!a->has_relayed) {
            fail(t, ZDC_ERR_PROTOCOL, 0, "TURN Allocate success without XOR-RELAYED-ADDRESS%u%s",
                 "", 0);
            return;
        }
        from_stun_addr(&a->relayed, &t->relayed);
        memset(&t->mapped, 0, sizeof t->mapped);
        if (m->has_xor_mapped)
            from_stun_addr(&m->xor_mapped, &t->mapped);
        t->state = ZDC_TURN_ALLOCATED;
        schedule_refresh(t, a->has_lifetime ? a->lifetime : DEFAULT_LIFETIME_S, now);
        if (zdc_log_enabled(t->cfg.log, ZDC_LOG_INFO, ZDC_LOG_TURN)) {
            char r[ZDC_ADDR_STRLEN], mp[ZDC_ADDR_STRLEN] = "unknown";
            zdc_addr_format(&t->relayed, true, r, sizeof r);
            if (zdc_addr_family(&t->mapped))
                zdc_addr_format(&t->mapped, true, mp, sizeof mp);
            zdc_log_emit(t->cfg.log, ZDC_LOG_INFO, ZDC_LOG_TURN,
                         "allocated relayed %s (mapped %s), lifetime %u s, %s key", r, mp,
                         (unsigned)t->lifetime, t->sha256 ? "SHA-256" : "MD5");
        }
        if (t->cfg.on_allocated)
            t->cfg.on_allocated(t->cfg.user, &t->relayed, &t->mapped);
        return;
    case TX_REFRESH:
        schedule_refresh(t, a->has_lifetime ? a->lifetime : x.lifetime, now);
        ZDC_LOG_D(t->cfg.log, ZDC_LOG_TURN, "allocation refreshed, lifetime %u s",
                  (unsigned)t->lifetime);
        return;
    case TX_PERMISSION: {
        perm *p = &t->perms[x.slot];
        if (!p->used)
            return;
        p->installed = true;
        p->expires = now + PERMISSION_LIFETIME_NS;
        p->renew_at = renew_at(t, now, PERMISSION_RENEW_NS);
        if (zdc_log_enabled(t->cfg.log, ZDC_LOG_DEBUG, ZDC_LOG_TURN)) {
            char a_[ZDC_ADDR_STRLEN];
            zdc_addr_format(&p->peer, false, a_, sizeof a_);
            zdc_log_emit(t->cfg.log, ZDC_LOG_DEBUG, ZDC_LOG_TURN, "permission for %s", a_);
        }
        return;
    }
    case TX_CHANNEL: {
        chan *c = &t->chans[x.slot];
        if (!c->used)
            return;
        c->bound = true;
        c->expires = now + CHANNEL_LIFETIME_NS;
        c->renew_at = renew_at(t, now, CHANNEL_RENEW_NS);
        if (zdc_log_enabled(t->cfg.log, ZDC_LOG_DEBUG, ZDC_LOG_TURN)) {
            char a_[ZDC_ADDR_STRLEN];
            zdc_addr_format(&c->peer, true, a_, sizeof a_);
            zdc_log_emit(t->cfg.log, ZDC_LOG_DEBUG, ZDC_LOG_TURN, "channel 0x%04x bound to %s",
                         c->number, a_);
        }
        /* RFC 8656 §12.2: the binding also installs or refreshes the permission. */
        perm *p = perm_find(t, &c->peer);
        if (p) {
            p->installed = true;
            p->expires = now + PERMISSION_LIFETIME_NS;
            p->renew_at = renew_at(t, now, PERMISSION_RENEW_NS);
        }
        return;
    }
    }
}

static void perm_drop(zdc_turn *t, perm *p)
{
    if (p->tx >= 0)
        t->txs[p->tx].used = false;
    memset(p, 0, sizeof *p);
    p->tx = -1;
}

static void chan_drop(zdc_turn *t, chan *c)
{
    if (c->tx >= 0)
        t->txs[c->tx].used = false;
    memset(c, 0, sizeof *c);
    c->tx = -1;
}

/* An error other than 401/438, or a timeout (code 0), for transaction i. */
static void handle_failure(zdc_turn *t, int i, unsigned code, const zdc_stun_view *reason,
                           uint64_t now)
{
    tx x = t->txs[i];
    tx_end(t, i);
    const char *r = reason ? (const char *)reason->p : "";
    size_t rlen = reason ? reason->len : 0;
    switch (x.kind) {
    case TX_ALLOCATE:
        if (code)
            fail(t, ZDC_ERR_PROTOCOL, code, "TURN server refused the allocation (%u %s)", r, rlen);
        else
            fail(t, ZDC_ERR_TIMEOUT, 0, "no answer from the TURN server to Allocate%.0u%s", "", 0);
        return;
    case TX_REFRESH:
        if (code)
            fail(t, ZDC_ERR_PROTOCOL, code, "TURN refresh refused, allocation lost (%u %s)", r,
                 rlen);
        else
            fail(t, ZDC_ERR_TIMEOUT, 0, "no answer from the TURN server to Refresh%.0u%s", "", 0);
        return;
    case TX_PERMISSION: {
        perm *p = &t->perms[x.slot];
        if (zdc_log_enabled(t->cfg.log, ZDC_LOG_WARN, ZDC_LOG_TURN)) {
            char a_[ZDC_ADDR_STRLEN];
            zdc_addr_format(&p->peer, false, a_, sizeof a_);
            zdc_log_emit(
                t->cfg.log, ZDC_LOG_WARN, ZDC_LOG_TURN, "CreatePermission for %s %s (%u %.*s)", a_,
                code ? "refused" : "unanswered", code, (int)(rlen > 80 ? 80 : rlen), code ? r : "");
        }
        /* Refused (e.g. 403): kept, not asked again for a while (perm_get). Unanswered: a
         * permission not yet installed is dropped; an installed one lives until it expires and
         * is tried again at its next renewal. */
        if (code && !p->installed)
            p->refused_until = now + REFUSED_BACKOFF_NS;
        else if (!p->installed)
            perm_drop(t, p);
        return;
    }
    case TX_CHANNEL:
        ZDC_LOG_W(t->cfg.log, ZDC_LOG_TURN, "ChannelBind %s (%u): Send indications go on",
                  code ? "refused" : "unanswered", code);
        if (!t->chans[x.slot].bound)
            chan_drop(t, &t->chans[x.slot]);
        return;
    }
}

static int handle_response(zdc_turn *t, const uint8_t *p, size_t len, const zdc_stun_msg *m,
                           const zdc_turn_attrs *a, uint64_t now)
{
    int i;
    for (i = 0; i < MAX_TX; i++)
        if (t->txs[i].used && memcmp(t->txs[i].id, m->txid, 12) == 0)
            break;
    if (i == MAX_TX)
        return ZDC_ERR_NOT_FOUND;
    const tx *x = &t->txs[i];
    static const uint16_t methods[] = {ZDC_TURN_ALLOCATE, ZDC_TURN_REFRESH,
                                       ZDC_TURN_CREATE_PERMISSION, ZDC_TURN_CHANNEL_BIND};
    if (m->method != methods[x->kind])
        return ZDC_ERR_NOT_FOUND;
    bool challenge = m->cls == ZDC_STUN_ERROR && (m->error_code == 401 || m->error_code == 438);
    if (m->cls == ZDC_STUN_ERROR && !m->has_error)
        return ZDC_ERR_MALFORMED;
    if (x->authed && !challenge) {
        /* RFC 8489 §9.2.5: a response to an authenticated request must carry the integrity
         * attribute of the algorithm used, computed with the same key; else discard it. */
        int rv = t->sha256 ? zdc_stun_check_integrity_sha256(p, len, m, t->key, t->key_len)
                           : zdc_stun_check_integrity(p, len, m, t->key, t->key_len);
        if (rv)
            return rv == ZDC_ERR_NOT_FOUND ? ZDC_ERR_INTEGRITY : rv;
    }
    if (challenge)
        handle_auth_error(t, i, m, a, now);
    else if (m->cls == ZDC_STUN_SUCCESS)
        handle_success(t, i, m, a, now);
    else
        handle_failure(t, i, m->error_code, &m->error_reason, now);
    return 0;
}

int zdc_turn_handle_input(zdc_turn *t, const uint8_t *p, size_t len, uint64_t now_ns)
{
    if (!t || (!p && len))
        return ZDC_ERR_INVALID_PARAMETER;
    if (t->state == ZDC_TURN_CLOSED || t->state == ZDC_TURN_FAILED)
        return ZDC_ERR_CLOSED;
    zdc_addr peer;
    if (zdc_turn_is_channel_data(p, len)) {
        uint16_t number;
        const uint8_t *data;
        size_t n;
        int rv = zdc_turn_channel_data_parse(p, len, &number, &data, &n);
        if (rv)
            return rv;
        chan *c = chan_by_number(t, number);
        if (!c)
            return ZDC_ERR_NOT_FOUND;
        if (t->cfg.on_data)
            t->cfg.on_data(t->cfg.user, &c->peer, data, n);
        return 0;
    }
    zdc_stun_msg m;
    zdc_turn_attrs a;
    int rv = zdc_turn_parse(p, len, &m, &a);
    if (rv == ZDC_ERR_UNKNOWN_ATTRIBUTE && m.cls != ZDC_STUN_REQUEST)
        rv = 0; /* RFC 8489 §6.3.3/§6.3.4: unknown attributes in answers are ignored */
    if (rv)
        return rv;
    if (m.cls == ZDC_STUN_INDICATION) {
        /* RFC 8656 §11.4: a Data indication without XOR-PEER-ADDRESS or DATA is discarded. */
        if (m.method != ZDC_TURN_DATA || !a.has_peer || !a.has_data)
            return ZDC_ERR_NOT_FOUND;
        from_stun_addr(&a.peer, &peer);
        /* §11.4: also discarded when no permission exists for the peer. */
        if (!perm_find(t, &peer))
            return ZDC_ERR_NOT_FOUND;
        if (t->cfg.on_data)
            t->cfg.on_data(t->cfg.user, &peer, a.data.p, a.data.len);
        return 0;
    }
    if (m.cls == ZDC_STUN_REQUEST)
        return ZDC_ERR_NOT_FOUND; /* a client answers no requests */
    return handle_response(t, p, len, &m, &a, now_ns);
}

/* ---- time --------------------------------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

uint64_t zdc_turn_next_timeout(const zdc_turn *t)
{
    uint64_t next = UINT64_MAX;
    if (!t || t->state == ZDC_TURN_CLOSED || t->state == ZDC_TURN_FAILED)
        return next;
    for (int i = 0; i < MAX_TX; i++)
        if (t->txs[i].used)
            next = min_u64(next, t->txs[i].deadline);
    if (t->state != ZDC_TURN_ALLOCATED)
        return next;
    next = min_u64(next, t->expires);
    if (t->refresh_tx < 0)
        next = min_u64(next, t->refresh_at);
    for (int i = 0; i < ZDC_TURN_MAX_PERMISSIONS; i++) {
        const perm *p = &t->perms[i];
        if (p->used && p->installed) {
            next = min_u64(next, p->expires);
            if (p->tx < 0)
                next = min_u64(next, p->renew_at);
        }
    }
    for (int i = 0; i < ZDC_TURN_MAX_CHANNELS; i++) {
        const chan *c = &t->chans[i];
        if (c->used && c->bound) {
            next = min_u64(next, c->expires);
            if (c->tx < 0)
                next = min_u64(next, c->renew_at);
        }
    }
    return next;
}

static void timeout_transactions(zdc_turn *t, uint64_t now)
{
    for (int i = 0; i < MAX_TX && t->state != ZDC_TURN_FAILED; i++) {
        tx *x = &t->txs[i];
        if (!x->used || x->deadline > now)
            continue;
        if (!stream(t) && x->sends < UDP_MAX_SENDS)
            tx_transmit(t, x, now);
        else
            handle_failure(t, i, 0, NULL, now);
    }
}

static void timeout_allocation(zdc_turn *t, uint64_t now)
{
    if (now >= t->expires) {
        fail(t, ZDC_ERR_TIMEOUT, 0, "TURN allocation expired without a refresh%.0u%s", "", 0);
        return;
    }
    if (t->refresh_tx < 0 && now >= t->refresh_at) {
        uint32_t lifetime = t->cfg.lifetime_s ? t->cfg.lifetime_s : t->lifetime;
        tx_start(t, TX_REFRESH, 0, lifetime, 0, now);
    }
    for (int i = 0; i < ZDC_TURN_MAX_PERMISSIONS; i++) {
        perm *p = &t->perms[i];
        if (!p->used || !p->installed)
            continue;
        if (now >= p->expires) {
            /* RFC 8656 §9: an expired permission is gone on the server as well. */
            bool bound = false;
            for (int k = 0; k < ZDC_TURN_MAX_CHANNELS; k++)
                bound |= t->chans[k].used && zdc_addr_ip_equal(&t->chans[k].peer, &p->peer);
            if (!bound)
                perm_drop(t, p);
            else
                p->installed = false;
        } else if (p->tx < 0 && now >= p->renew_at) {
            tx_start(t, TX_PERMISSION, i, 0, 0, now);
        }
    }
    for (int i = 0; i < ZDC_TURN_MAX_CHANNELS; i++) {
        chan *c = &t->chans[i];
        if (!c->used || !c->bound)
            continue;
        if (now >= c->expires)
            chan_drop(t, c);
        else if (c->tx < 0 && now >= c->renew_at)
            tx_start(t, TX_CHANNEL, i, 0, 0, now);
    }
}

void zdc_turn_handle_timeout(zdc_turn *t, uint64_t now_ns)
{
    if (!t || t->state == ZDC_TURN_CLOSED || t->state == ZDC_TURN_FAILED)
        return;
    timeout_transactions(t, now_ns);
    if (t->state == ZDC_TURN_ALLOCATED)
        timeout_allocation(t, now_ns);
}

/* ---- getters ------------------------------------------------------------------------------ */

int zdc_turn_state(const zdc_turn *t)
{
    return t ? t->state : ZDC_TURN_CLOSED;
}

int zdc_turn_relayed_address(const zdc_turn *t, zdc_addr *out)
{
    if (!t || !out || t->state != ZDC_TURN_ALLOCATED)
        return ZDC_ERR_NOT_FOUND;
    *out = t->relayed;
    return 0;
}

bool zdc_turn_has_permission(const zdc_turn *t, const zdc_addr *peer)
{
    const perm *p = t && peer ? perm_find((zdc_turn *)t, peer) : NULL;
    return p && p->installed;
}

uint16_t zdc_turn_channel(const zdc_turn *t, const zdc_addr *peer)
{
    const chan *c = t && peer ? chan_find((zdc_turn *)t, peer) : NULL;
    return c && c->bound ? c->number : 0;
}

int zdc_turn_last_error(const zdc_turn *t, unsigned *code, const char **reason)
{
    if (!t)
        return ZDC_ERR_INVALID_PARAMETER;
    if (code)
        *code = t->err_code;
    if (reason)
        *reason = t->reason;
    return t->err;
}

uint64_t zdc_turn_expiry(const zdc_turn *t)
{
    return t && t->state == ZDC_TURN_ALLOCATED ? t->expires : 0;
}
