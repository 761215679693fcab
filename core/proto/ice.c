/* ICE agent: see ice.h for the model and the timing choices. */
#include "ice.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/error.h"

#define MS_NS 1000000ull

#define MAX_LOCAL   8
#define MAX_REMOTE  32
#define MAX_PAIRS   100 /* RFC 8445 §6.1.2.5 suggests limiting the check list to 100 */
#define MAX_SERVERS 4
#define MAX_CRED    256 /* RFC 8839 §5.4: ufrag and pwd at most 256 characters */

#define CHECK_RTO_NS     (500 * MS_NS) /* RFC 8445 §14.3: RTO at least 500 ms */
#define CHECK_RTO_MAX_NS (1600 * MS_NS)
#define CHECK_MAX_SENDS  7 /* RFC 8489 §6.2.1 Rc */
/* Authenticated requests remembered by transaction id: a replay of one from another address is
 * dropped, and a retransmission gets at most CHECK_MAX_SENDS answers. */
#define SEEN_REQUESTS    64
#define GATHER_RTO_NS    (500 * MS_NS)
#define GATHER_RTO_MAX   (2000 * MS_NS)
#define GATHER_SENDS     3
#define CONSENT_SENDS    4
#define NOMINATE_WAIT_NS (1000 * MS_NS)

#define TYPE_PREF_HOST  126 /* RFC 8445 §5.1.2.2 recommended type preferences */
#define TYPE_PREF_PRFLX 110
#define TYPE_PREF_SRFLX 100

#define NO_PAIR (-1)

enum pair_state { PAIR_FROZEN, PAIR_WAITING, PAIR_IN_PROGRESS, PAIR_SUCCEEDED, PAIR_FAILED };

/* One outstanding STUN request and its retransmission timer (RFC 8489 §6.2.1). */
struct tx {
    bool active;
    uint8_t txid[12];
    uint8_t sends;
    uint64_t rto_ns;
    uint64_t next_ns; /* next retransmission, or the timeout after the last one */
    uint64_t sent_ns; /* the last transmission (RTT samples: only when sends == 1) */
};

struct local_cand {
    zdc_addr addr;
    zdc_addr base;
    uint8_t type; /* enum zdc_cand_type */
    uint16_t local_pref;
    uint32_t priority;
    uint32_t foundation;
};

struct remote_cand {
    zdc_addr addr;
    bool learned;  /* peer-reflexive, from a request: not paired with other locals */
    bool verified; /* answered a check of ours (ICE-lite: sent us an authenticated one) */
    uint8_t type;
    uint32_t priority;
    char foundation[33];
};

struct pair {
    uint8_t local, remote; /* indices into local[] / remote[] */
    uint8_t state;         /* enum pair_state; SUCCEEDED = in the valid list */
    bool nominated;
    bool use_cand_rx;      /* controlled: peer sent USE-CANDIDATE before our check succeeded */
    bool nominate_pending; /* controlling: the next check carries USE-CANDIDATE */
    bool triggered;        /* in the triggered-check queue (FIFO by trig_seq) */
    bool tx_nominate;      /* the outstanding check carries USE-CANDIDATE */
    bool retriggered;      /* a request queued a new check while this one is in flight */
    uint8_t tx_role;       /* role the outstanding check was sent with */
    uint32_t trig_seq;
    uint64_t priority;
    struct tx tx;
    uint64_t rtt_ns; /* last unambiguous round trip of a check or consent check, 0 = none */
};

struct server {
    zdc_addr addr;
    struct tx tx;
    uint8_t base; /* local candidate the request leaves from */
    bool done;
};

/* An authenticated request answered: STUN short-term credentials have no replay protection
 * (RFC 8489 §9.1), so whoever captured one could send it again from anywhere. */
struct seen_req {
    uint8_t txid[12];
    zdc_addr from;  /* where it first came from */
    zdc_addr other; /* the other address it came from (has_other): one of the two replayed */
    bool has_other;
    uint16_t error; /* the answer's error code, 0 = success */
    uint8_t answers;
    bool used;
};

struct zdc_ice {
    zdc_ice_config cfg;
    int state, gathering, role;
    bool closed, failed, disconnected, gather_started;
    bool remote_creds, remote_lite, remote_eoc;
    bool need_arm; /* checking timer starts at the next call carrying a time */
    char lufrag[MAX_CRED + 1], lpwd[MAX_CRED + 1];
    char rufrag[MAX_CRED + 1], rpwd[MAX_CRED + 1];
    uint64_t tiebreaker;
    uint64_t ta_ns, checking_timeout_ns, consent_interval_ns, disconnected_ns, consent_ns;

    struct local_cand local[MAX_LOCAL];
    size_t n_local, n_host_added;
    struct remote_cand remote[MAX_REMOTE];
    size_t n_remote;
    unsigned n_fqdn_ignored, prflx_seq;
    unsigned n_unusable_dropped; /* remote candidates refused by usable_remote() */
    struct pair pairs[MAX_PAIRS];
    size_t n_pairs;
    uint32_t trig_seq;
    struct server servers[MAX_SERVERS];
    size_t n_servers;

    uint64_t next_check_ns; /* Ta pacing */
    uint64_t checking_deadline_ns;
    bool have_valid;
    uint64_t first_valid_ns;
    int selected;   /* pair index or NO_PAIR */
    int nominating; /* controlling: pair whose USE-CANDIDATE check is pending */

    struct seen_req seen[SEEN_REQUESTS];
    size_t seen_next;
    uint64_t replays_dropped, retransmits_unanswered;

    struct tx consent;
    uint8_t consent_prev_txid[12]; /* a late answer to the previous consent check counts */
    bool consent_prev_valid;
    uint64_t consent_next_ns;
    uint64_t last_alive_ns;

    /* ICE restart (zdc_ice_restart): the pair selected before it, still used for data until
     * the new checks select one (RFC 8445 §9: an agent keeps sending on the previously
     * selected pair while the restart runs). */
    struct {
        bool active;
        zdc_addr local, remote;
        uint8_t local_type, remote_type;
        uint64_t rtt_ns;
    } kept;
    unsigned restarts;
    /* Once a restart selected its pair, the peer may still send on the old one until it sees
     * the nomination: its remote address stays accepted (receiving only) for a consent
     * interval, so nothing in flight is dropped. */
    bool prev_active;
    zdc_addr prev_remote;
    uint64_t prev_until_ns;
    unsigned follows; /* times the peer moved and we followed (NAT rebinding) */
};

/* ---- small helpers ------------------------------------------------------------------- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static bool is_ice_char(char c)
{
    /* RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/" */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

static bool valid_cred(const char *s, size_t min_len)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n < min_len || n > MAX_CRED)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_ice_char(s[i]))
            return false;
    return true;
}

static void random_cred(zdc_ice *ice, char *out, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t b[32];
    ice->cfg.random(ice->cfg.user, b, n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[b[i] & 63];
    out[n] = '\0';
}

static uint32_t cand_priority(unsigned type_pref, unsigned local_pref)
{
    /* RFC 8445 §5.1.2.1, component 1 */
    return (uint32_t)type_pref << 24 | (uint32_t)local_pref << 8 | (256 - 1);
}

/* A value in [0.8, 1.2] * base (RFC 7675 §5.1 randomizes the consent interval). */
static uint64_t jitter(zdc_ice *ice, uint64_t base)
{
    uint8_t b[2];
    ice->cfg.random(ice->cfg.user, b, 2);
    uint64_t r = (uint64_t)b[0] << 8 | b[1];
    uint64_t span = base / 10 * 4;
    return base / 10 * 8 + span / 65535 * r + span % 65535 * r / 65535;
}

static void to_stun_addr(const zdc_addr *a, zdc_stun_addr *s)
{
    memset(s, 0, sizeof *s);
    s->family = (uint8_t)zdc_addr_family(a);
    s->port = zdc_addr_port(a);
    zdc_addr_bytes(a, s->ip);
}

static int from_stun_addr(const zdc_stun_addr *s, zdc_addr *a)
{
    int rv = zdc_addr_from_bytes(a, s->family, s->ip, s->port);
    if (rv == 0)
        zdc_addr_unmap_v4(a);
    return rv;
}

static bool txid_eq(const uint8_t *a, const uint8_t *b)
{
    return memcmp(a, b, 12) == 0;
}

static bool ended(const zdc_ice *ice)
{
    return ice->closed || ice->failed;
}

/* ---- state reporting ----------------------------------------------------------------- */

static bool checks_pending(const zdc_ice *ice)
{
    for (size_t i = 0; i < ice->n_pairs; i++) {
        const struct pair *p = &ice->pairs[i];
        if (p->state == PAIR_IN_PROGRESS || p->triggered)
            return true;
        if (ice->selected == NO_PAIR && (p->state == PAIR_WAITING || p->state == PAIR_FROZEN))
            return true;
    }
    return false;
}

static int compute_state(const zdc_ice *ice)
{
    if (ice->closed)
        return ZDC_ICE_CLOSED;
    if (ice->failed)
        return ZDC_ICE_FAILED;
    if (ice->selected != NO_PAIR) {
        if (ice->disconnected)
            return ZDC_ICE_DISCONNECTED;
        if (ice->gathering == ZDC_ICE_GATHERING_COMPLETE && ice->remote_eoc && !checks_pending(ice))
            return ZDC_ICE_COMPLETED;
        return ZDC_ICE_CONNECTED;
    }
    if (ice->kept.active)
        return ZDC_ICE_CONNECTED; /* restarting over the previous pair */
    return ice->remote_creds ? ZDC_ICE_CHECKING : ZDC_ICE_NEW;
}

static void refresh_state(zdc_ice *ice)
{
    int s = compute_state(ice);
    if (s == ice->state)
        return;
    ice->state = s;
    if (ice->cfg.on_state)
        ice->cfg.on_state(ice->cfg.user, s);
}

static void set_gathering(zdc_ice *ice, int g)
{
    if (g == ice->gathering)
        return;
    ice->gathering = g;
    if (ice->cfg.on_gathering_state)
        ice->cfg.on_gathering_state(ice->cfg.user, g);
}

static void fail(zdc_ice *ice, const char *why)
{
    ZDC_LOG_E(ice->cfg.log, ZDC_LOG_ICE, "ICE failed: %s", why);
    ice->failed = true;
    for (size_t i = 0; i < ice->n_pairs; i++)
        ice->pairs[i].tx.active = false;
    for (size_t i = 0; i < ice->n_servers; i++)
        ice->servers[i].tx.active = false;
    ice->consent.active = false;
    refresh_state(ice);
}

/* ---- sending ------------------------------------------------------------------------- */

static void tx_start(zdc_ice *ice, struct tx *t, uint64_t now, uint64_t rto)
{
    ice->cfg.random(ice->cfg.user, t->txid, sizeof t->txid);
    t->active = true;
    t->sends = 1;
    t->rto_ns = rto;
    t->next_ns = now + rto;
    t->sent_ns = now;
}

/* Returns 1 when a retransmission is due now, -1 when the transaction timed out, else 0. */
static int tx_due(struct tx *t, uint64_t now, unsigned max_sends, uint64_t rto_cap)
{
    if (!t->active || now < t->next_ns)
        return 0;
    if (t->sends >= max_sends) {
        t->active = false;
        return -1;
    }
    t->sends++;
    t->rto_ns = min_u64(t->rto_ns * 2, rto_cap);
    t->next_ns = now + t->rto_ns;
    t->sent_ns = now;
    return 1;
}

static void send_msg(zdc_ice *ice, const zdc_addr *to, zdc_stun_builder *b)
{
    int n = zdc_stun_build_end(b);
    if (n > 0 && !ended(ice))
        ice->cfg.send(ice->cfg.user, to, b->buf, (size_t)n);
}

/* A connectivity or consent check (RFC 8445 §7.2.2). */
static void send_check(zdc_ice *ice, const struct pair *p, const uint8_t txid[12], bool nominate)
{
    uint8_t buf[1200];
    zdc_stun_builder b;
    char user[2 * MAX_CRED + 2];
    const struct local_cand *l = &ice->local[p->local];
    int n = snprintf(user, sizeof user, "%s:%s", ice->rufrag, ice->lufrag);

    zdc_stun_build_begin(&b, buf, sizeof buf, ZDC_STUN_BINDING, ZDC_STUN_REQUEST, txid);
    zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_USERNAME, user, (size_t)n);
    /* RFC 8445 §7.1.1: PRIORITY is the priority a peer-reflexive candidate would get */
    zdc_stun_add_u32(&b, ZDC_STUN_ATTR_PRIORITY, cand_priority(TYPE_PREF_PRFLX, l->local_pref));
    /* RFC 8445 §7.1.3: the role attribute with our tie-breaker */
    zdc_stun_add_u64(&b,
                     ice->role == ZDC_ICE_CONTROLLING ? ZDC_STUN_ATTR_ICE_CONTROLLING
                                                      : ZDC_STUN_ATTR_ICE_CONTROLLED,
                     ice->tiebreaker);
    if (nominate)
        zdc_stun_add_flag(&b, ZDC_STUN_ATTR_USE_CANDIDATE); /* RFC 8445 §7.1.2 */
    zdc_stun_add_integrity(&b, (const uint8_t *)ice->rpwd, strlen(ice->rpwd));
    zdc_stun_add_fingerprint(&b); /* RFC 8445 §7.2.2: MUST include FINGERPRINT */
    send_msg(ice, &ice->remote[p->remote].addr, &b);
}

static void send_response(zdc_ice *ice, const zdc_addr *to, const zdc_stun_msg *req, uint16_t error,
                          const char *reason)
{
    uint8_t buf[600];
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, sizeof buf, req->method,
                         error ? ZDC_STUN_ERROR : ZDC_STUN_SUCCESS, req->txid);
    if (error) {
        zdc_stun_add_error(&b, error, reason);
        if (error == 420) /* RFC 8489 §14.9 */
            zdc_stun_add_unknown_attributes(&b, req->unknown_required, req->n_unknown_required);
    } else {
        zdc_stun_addr xa;
        to_stun_addr(to, &xa);
        zdc_stun_add_xor_address(&b, ZDC_STUN_ATTR_XOR_MAPPED_ADDRESS, &xa); /* RFC 8445 §7.3 */
    }
    zdc_stun_add_integrity(&b, (const uint8_t *)ice->lpwd, strlen(ice->lpwd));
    zdc_stun_add_fingerprint(&b);
    send_msg(ice, to, &b);
}

static void send_server_request(zdc_ice *ice, struct server *s)
{
    uint8_t buf[64];
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, sizeof buf, ZDC_STUN_BINDING, ZDC_STUN_REQUEST, s->tx.txid);
    send_msg(ice, &s->addr, &b);
}

/* ---- candidates ---------------------------------------------------------------------- */

static uint32_t foundation_of(uint8_t type, const zdc_addr *base, const zdc_addr *server)
{
    /* RFC 8445 §5.1.1.3: same type, base IP and server -> same foundation (FNV-1a) */
    uint8_t ip[16];
    uint32_t h = 2166136261u;
    h = (h ^ type) * 16777619u;
    size_t n = zdc_addr_bytes(base, ip);
    for (size_t i = 0; i < n; i++)
        h = (h ^ ip[i]) * 16777619u;
    if (server) {
        n = zdc_addr_bytes(server, ip);
        for (size_t i = 0; i < n; i++)
            h = (h ^ ip[i]) * 16777619u;
    }
    return h;
}

static void emit_local(zdc_ice *ice, const struct local_cand *l)
{
    if (!ice->cfg.on_candidate)
        return;
    zdc_candidate c;
    memset(&c, 0, sizeof c);
    snprintf(c.foundation, sizeof c.foundation, "%u", (unsigned)l->foundation);
    c.component = 1;
    c.transport = ZDC_CAND_UDP;
    c.priority = l->priority;
    zdc_addr_format(&l->addr, false, c.address, sizeof c.address);
    c.address_kind = (uint8_t)zdc_addr_family(&l->addr);
    c.port = zdc_addr_port(&l->addr);
    c.type = l->type;
    if (l->type != ZDC_CAND_HOST) {
        c.has_raddr = true;
        zdc_addr_format(&l->base, false, c.raddr, sizeof c.raddr);
        c.rport = zdc_addr_port(&l->base);
    }
    c.tcptype = ZDC_CAND_TCP_NONE;
    ice->cfg.on_candidate(ice->cfg.user, &c);
}

static int find_local(const zdc_ice *ice, const zdc_addr *a)
{
    for (size_t i = 0; i < ice->n_local; i++)
        if (zdc_addr_equal(&ice->local[i].addr, a))
            return (int)i;
    return -1;
}

/* The host candidate that stands for the engine socket of a family (the most preferred). */
static int default_local(const zdc_ice *ice, int family)
{
    for (size_t i = 0; i < ice->n_local; i++)
        if (ice->local[i].type == ZDC_CAND_HOST && zdc_addr_family(&ice->local[i].addr) == family)
            return (int)i;
    return -1;
}

static int find_remote(const zdc_ice *ice, const zdc_addr *a)
{
    for (size_t i = 0; i < ice->n_remote; i++)
        if (zdc_addr_equal(&ice->remote[i].addr, a))
            return (int)i;
    return -1;
}

/* ---- check list ---------------------------------------------------------------------- */

static uint64_t pair_priority(const zdc_ice *ice, const struct pair *p)
{
    /* RFC 8445 §6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) + (G>D?1:0), G = controlling's */
    uint64_t l = ice->local[p->local].priority, r = ice->remote[p->remote].priority;
    uint64_t g = ice->role == ZDC_ICE_CONTROLLING ? l : r;
    uint64_t d = ice->role == ZDC_ICE_CONTROLLING ? r : l;
    return ((g < d ? g : d) << 32) + 2 * (g > d ? g : d) + (g > d ? 1 : 0);
}

static bool same_foundation(const zdc_ice *ice, const struct pair *a, const struct pair *b)
{
    return ice->local[a->local].foundation == ice->local[b->local].foundation &&
           strcmp(ice->remote[a->remote].foundation, ice->remote[b->remote].foundation) == 0;
}

static int find_pair(const zdc_ice *ice, int local, int remote)
{
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].local == local && ice->pairs[i].remote == remote)
            return (int)i;
    return NO_PAIR;
}

/* The pair a request from `remote` arrived on: all local candidates of a family share the
 * engine socket, so prefer a valid pair, then the highest priority one. */
static int pair_for_remote(const zdc_ice *ice, int remote)
{
    if (ice->selected != NO_PAIR && ice->pairs[ice->selected].remote == remote)
        return ice->selected;
    int best = NO_PAIR;
    for (size_t i = 0; i < ice->n_pairs; i++) {
        const struct pair *p = &ice->pairs[i];
        if (p->remote != remote)
            continue;
        if (best == NO_PAIR)
            best = (int)i;
        else {
            const struct pair *b = &ice->pairs[best];
            bool pv = p->state == PAIR_SUCCEEDED, bv = b->state == PAIR_SUCCEEDED;
            if ((pv && !bv) || (pv == bv && p->priority > b->priority))
                best = (int)i;
        }
    }
    return best;
}

/* Traffic proving the selected path is alive (only ever from its remote address). */
static void note_alive(zdc_ice *ice, int remote, uint64_t now)
{
    if (ice->selected == NO_PAIR || ice->pairs[ice->selected].remote != remote)
        return;
    ice->last_alive_ns = now;
    ice->disconnected = false;
}

static int add_pair(zdc_ice *ice, int local, int remote)
{
    int i = find_pair(ice, local, remote);
    if (i != NO_PAIR)
        return i;
    if (ice->n_pairs == MAX_PAIRS)
        return NO_PAIR;
    struct pair *p = &ice->pairs[ice->n_pairs];
    memset(p, 0, sizeof *p);
    p->local = (uint8_t)local;
    p->remote = (uint8_t)remote;
    p->priority = pair_priority(ice, p);
    /* RFC 8445 §6.1.2.6: one pair per foundation starts Waiting, the rest Frozen */
    p->state = PAIR_WAITING;
    for (size_t k = 0; k < ice->n_pairs; k++) {
        const struct pair *o = &ice->pairs[k];
        if (same_foundation(ice, o, p) &&
            (o->state == PAIR_WAITING || o->state == PAIR_IN_PROGRESS)) {
            p->state = PAIR_FROZEN;
            break;
        }
    }
    return (int)ice->n_pairs++;
}

/* RFC 8445 §6.1.2.4: server-reflexive locals are replaced by their base, which duplicates the
 * host pair, so only host candidates are paired. */
static void pair_remote(zdc_ice *ice, int remote)
{
    int fam = zdc_addr_family(&ice->remote[remote].addr);
    for (size_t i = 0; i < ice->n_local; i++)
        if (ice->local[i].type == ZDC_CAND_HOST && zdc_addr_family(&ice->local[i].addr) == fam)
            add_pair(ice, (int)i, remote);
}

static void pair_local(zdc_ice *ice, int local)
{
    int fam = zdc_addr_family(&ice->local[local].addr);
    for (size_t r = 0; r < ice->n_remote; r++)
        if (!ice->remote[r].learned && zdc_addr_family(&ice->remote[r].addr) == fam)
            add_pair(ice, local, (int)r);
}

static void trigger(zdc_ice *ice, struct pair *p)
{
    if (!p->triggered) {
        p->triggered = true;
        p->trig_seq = ice->trig_seq++;
    }
}

static void set_role(zdc_ice *ice, int role)
{
    /* RFC 8445 §7.3.1.1 / §7.2.5.1: switching role recomputes the pair priorities */
    ice->role = role;
    for (size_t i = 0; i < ice->n_pairs; i++) {
        ice->pairs[i].priority = pair_priority(ice, &ice->pairs[i]);
        ice->pairs[i].nominate_pending = false;
    }
    ice->nominating = NO_PAIR;
}

static void select_pair(zdc_ice *ice, int idx, uint64_t now)
{
    struct pair *p = &ice->pairs[idx];
    if (ice->selected == idx)
        return;
    /* Controlled side with aggressive nomination by the peer: the highest priority nominated
     * pair wins (RFC 8445 §8.1.1). */
    if (ice->selected != NO_PAIR && ice->pairs[ice->selected].priority > p->priority &&
        !ice->disconnected)
        return;
    bool restart = ice->selected == NO_PAIR || ice->disconnected;
    ice->selected = idx;
    if (ice->kept.active) {
        ice->kept.active = false;
        ice->prev_active = true;
        ice->prev_remote = ice->kept.remote;
        ice->prev_until_ns = now + ice->consent_interval_ns;
        ZDC_LOG_I(ice->cfg.log, ZDC_LOG_ICE, "ICE restart %u complete", ice->restarts);
    }
    if (restart) {
        ice->disconnected = false;
        ice->last_alive_ns = now;
        ice->consent_next_ns = now + jitter(ice, ice->consent_interval_ns);
    }
    if (zdc_log_enabled(ice->cfg.log, ZDC_LOG_INFO, ZDC_LOG_ICE)) {
        char la[ZDC_ADDR_STRLEN], ra[ZDC_ADDR_STRLEN];
        zdc_log_emit(ice->cfg.log, ZDC_LOG_INFO, ZDC_LOG_ICE, "selected pair %s -> %s",
                     zdc_addr_format(&ice->local[p->local].addr, true, la, sizeof la),
                     zdc_addr_format(&ice->remote[p->remote].addr, true, ra, sizeof ra));
    }
    if (ice->cfg.on_selected_pair)
        ice->cfg.on_selected_pair(ice->cfg.user, &ice->local[p->local].addr,
                                  &ice->remote[p->remote].addr);
    refresh_state(ice);
}

/* The pair got USE-CANDIDATE through (controlling) or is valid and was nominated by the
 * peer (controlled, RFC 8445 §7.3.1.5). */
static void nominate(zdc_ice *ice, int idx, uint64_t now)
{
    ice->pairs[idx].nominated = true;
    select_pair(ice, idx, now);
}

/* The peer moved (its NAT rebound: same credentials, a new source address): `idx` is a pair
 * to an address that answered a check of ours — only the peer, who knows the password, can —
 * while the selected pair stopped answering consent (a check retransmitted, or DISCONNECTED).
 * Data goes to the new address from here on; an address that never answered a check cannot
 * get here, so a replayed request or a forged source cannot move us (docs/security.md).
 * Returns true when it switched. */
static bool follow_peer(zdc_ice *ice, int idx, uint64_t now)
{
    if (ice->cfg.lite || ended(ice) || ice->selected == NO_PAIR || idx == ice->selected ||
        idx < 0 || (size_t)idx >= ice->n_pairs)
        return false;
    const struct pair *p = &ice->pairs[idx];
    const struct pair *sel = &ice->pairs[ice->selected];
    if (p->state != PAIR_SUCCEEDED || !ice->remote[p->remote].verified || p->local != sel->local)
        return false;
    if (!ice->disconnected && !(ice->consent.active && ice->consent.sends >= 2))
        return false; /* the selected pair is fine: a second path is no reason to move */
    if (zdc_log_enabled(ice->cfg.log, ZDC_LOG_INFO, ZDC_LOG_ICE)) {
        char from[ZDC_ADDR_STRLEN], to[ZDC_ADDR_STRLEN];
        zdc_log_emit(ice->cfg.log, ZDC_LOG_INFO, ZDC_LOG_ICE,
                     "the peer moved from %s to %s (its checks and ours succeed there; the "
                     "selected pair stopped answering): following",
                     zdc_addr_format(&ice->remote[sel->remote].addr, true, from, sizeof from),
                     zdc_addr_format(&ice->remote[p->remote].addr, true, to, sizeof to));
    }
    ice->selected = idx;
    ice->disconnected = false;
    ice->last_alive_ns = now;
    ice->consent.active = ice->consent_prev_valid = false;
    ice->consent_next_ns = now + jitter(ice, ice->consent_interval_ns);
    ice->follows++;
    if (ice->cfg.on_selected_pair)
        ice->cfg.on_selected_pair(ice->cfg.user, &ice->local[p->local].addr,
                                  &ice->remote[p->remote].addr);
    refresh_state(ice);
    return true;
}

static void check_succeeded(zdc_ice *ice, int idx, const zdc_stun_msg *msg, uint64_t now)
{
    struct pair *p = &ice->pairs[idx];
    p->state = PAIR_SUCCEEDED;
    if (!p->nominate_pending)
        p->triggered = false; /* valid now: a check queued meanwhile has nothing to find */
    /* RFC 8445 §7.2.5.3.3: unfreeze the pairs sharing its foundation */
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].state == PAIR_FROZEN && same_foundation(ice, &ice->pairs[i], p))
            ice->pairs[i].state = PAIR_WAITING;
    /* RFC 8445 §7.2.5.3.1: a mapped address we do not know is a local peer-reflexive
     * candidate (kept for reporting; it shares the socket of the checked pair's base). */
    zdc_addr mapped;
    if (msg->has_xor_mapped && from_stun_addr(&msg->xor_mapped, &mapped) == 0 &&
        find_local(ice, &mapped) < 0 && ice->n_local < MAX_LOCAL) {
        struct local_cand *l = &ice->local[ice->n_local++];
        const struct local_cand *base = &ice->local[p->local];
        l->addr = mapped;
        l->base = base->base;
        l->type = ZDC_CAND_PRFLX;
        l->local_pref = base->local_pref;
        l->priority = cand_priority(TYPE_PREF_PRFLX, base->local_pref);
        l->foundation = foundation_of(ZDC_CAND_PRFLX, &base->base, NULL);
    }
    ice->remote[p->remote].verified = true;
    if (!ice->have_valid) {
        ice->have_valid = true;
        ice->first_valid_ns = now;
    }
    note_alive(ice, p->remote, now);
    if (ice->role == ZDC_ICE_CONTROLLING && p->tx_nominate)
        nominate(ice, idx, now); /* RFC 8445 §7.2.5.3.4 */
    else if (ice->role == ZDC_ICE_CONTROLLED && p->use_cand_rx)
        nominate(ice, idx, now); /* RFC 8445 §7.3.1.5 */
    if (ice->nominating == idx && !p->nominated)
        ice->nominating = NO_PAIR;
    follow_peer(ice, idx, now);
}

static void start_check(zdc_ice *ice, int idx, uint64_t now)
{
    struct pair *p = &ice->pairs[idx];
    p->triggered = false;
    if (p->state == PAIR_IN_PROGRESS && p->tx.active && !p->nominate_pending) {
        send_check(ice, p, p->tx.txid, p->tx_nominate); /* queued by a request: see above */
        return;
    }
    p->retriggered = false;
    p->state = PAIR_IN_PROGRESS;
    p->tx_role = (uint8_t)ice->role;
    p->tx_nominate =
        ice->role == ZDC_ICE_CONTROLLING && (p->nominate_pending || ice->cfg.aggressive_nomination);
    p->nominate_pending = false;
    tx_start(ice, &p->tx, now, CHECK_RTO_NS);
    send_check(ice, p, p->tx.txid, p->tx_nominate);
}

static int next_triggered(const zdc_ice *ice)
{
    int best = NO_PAIR;
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].triggered &&
            (best == NO_PAIR || ice->pairs[i].trig_seq < ice->pairs[best].trig_seq))
            best = (int)i;
    return best;
}

/* RFC 8445 §6.1.4.2: the highest priority Waiting pair, else the highest priority Frozen. */
static int next_ordinary(zdc_ice *ice)
{
    int best = NO_PAIR;
    for (int want = PAIR_WAITING; want >= PAIR_FROZEN && best == NO_PAIR; want--)
        for (size_t i = 0; i < ice->n_pairs; i++)
            if (ice->pairs[i].state == want &&
                (best == NO_PAIR || ice->pairs[i].priority > ice->pairs[best].priority))
                best = (int)i;
    return best;
}

static bool can_check(const zdc_ice *ice)
{
    return !ended(ice) && !ice->cfg.lite && ice->remote_creds;
}

static bool has_check_work(const zdc_ice *ice)
{
    for (size_t i = 0; i < ice->n_pairs; i++) {
        const struct pair *p = &ice->pairs[i];
        if (p->triggered)
            return true;
        if (ice->selected == NO_PAIR && (p->state == PAIR_WAITING || p->state == PAIR_FROZEN))
            return true;
    }
    return false;
}

static void run_paced_check(zdc_ice *ice, uint64_t now)
{
    if (!can_check(ice) || now < ice->next_check_ns)
        return;
    int idx = next_triggered(ice);
    if (idx == NO_PAIR && ice->selected == NO_PAIR)
        idx = next_ordinary(ice);
    if (idx == NO_PAIR)
        return;
    start_check(ice, idx, now);
    ice->next_check_ns = now + ice->ta_ns; /* RFC 8445 §6.1.4.2: one check per Ta */
}

static int best_valid(const zdc_ice *ice)
{
    int best = NO_PAIR;
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].state == PAIR_SUCCEEDED &&
            (best == NO_PAIR || ice->pairs[i].priority > ice->pairs[best].priority))
            best = (int)i;
    return best;
}

/* Regular nomination by the controlling agent (RFC 8445 §8.1.1): once the best valid pair has
 * no better pair still being checked, or a short wait has passed, check it again with
 * USE-CANDIDATE. */
static void maybe_nominate(zdc_ice *ice, uint64_t now)
{
    if (!can_check(ice) || ice->role != ZDC_ICE_CONTROLLING || ice->cfg.aggressive_nomination ||
        ice->selected != NO_PAIR || ice->nominating != NO_PAIR || !ice->have_valid)
        return;
    int best = best_valid(ice);
    if (best == NO_PAIR)
        return;
    bool better_pending = false;
    for (size_t i = 0; i < ice->n_pairs; i++) {
        const struct pair *p = &ice->pairs[i];
        if (p->priority > ice->pairs[best].priority && p->state != PAIR_SUCCEEDED &&
            p->state != PAIR_FAILED)
            better_pending = true;
    }
    if (better_pending && now < ice->first_valid_ns + NOMINATE_WAIT_NS)
        return;
    ice->nominating = best;
    ice->pairs[best].nominate_pending = true;
    /* The nominating check repeats a check on a pair that has just proved valid: it opens no
     * new flow, which is what Ta paces (RFC 8445 §14.2), so it leaves at once instead of
     * waiting up to Ta behind the check that validated the pair (50 ms of every connect). It
     * still counts as the last check sent, so ordinary checks keep their pacing. */
    if (!ice->pairs[best].tx.active) {
        start_check(ice, best, now);
        ice->next_check_ns = now + ice->ta_ns;
        return;
    }
    trigger(ice, &ice->pairs[best]);
}

static void check_all_failed(zdc_ice *ice)
{
    if (ice->selected != NO_PAIR || ended(ice) || ice->cfg.lite || !ice->remote_eoc ||
        ice->n_pairs == 0 || ice->n_fqdn_ignored > 0)
        return;
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].state != PAIR_FAILED || ice->pairs[i].triggered)
            return;
    /* RFC 8445 §8.1.2: every pair failed and no more candidates will come */
    fail(ice, "every candidate pair failed and the remote signaled end-of-candidates");
}

/* ---- lifecycle ----------------------------------------------------------------------- */

int zdc_ice_new(const zdc_ice_config *cfg, zdc_ice **out)
{
    if (!out)
        return ZDC_ERR_INVALID_PARAMETER;
    *out = NULL;
    if (!cfg || !cfg->random || !cfg->send ||
        (cfg->role != ZDC_ICE_CONTROLLING && cfg->role != ZDC_ICE_CONTROLLED))
        return ZDC_ERR_INVALID_PARAMETER;
    if ((cfg->ufrag && !valid_cred(cfg->ufrag, 4)) || (cfg->pwd && !valid_cred(cfg->pwd, 22)))
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_ice *ice = calloc(1, sizeof *ice);
    if (!ice)
        return ZDC_ERR_NOMEM;
    ice->cfg = *cfg;
    ice->cfg.ufrag = ice->cfg.pwd = NULL; /* not kept: copied below */
    ice->role = cfg->lite ? ZDC_ICE_CONTROLLED : cfg->role;
    ice->selected = NO_PAIR;
    ice->nominating = NO_PAIR;
    if (cfg->ufrag)
        strcpy(ice->lufrag, cfg->ufrag);
    else
        random_cred(ice, ice->lufrag, 8);
    if (cfg->pwd)
        strcpy(ice->lpwd, cfg->pwd);
    else
        random_cred(ice, ice->lpwd, 24);
    uint8_t tb[8];
    cfg->random(cfg->user, tb, sizeof tb);
    for (int i = 0; i < 8; i++)
        ice->tiebreaker = ice->tiebreaker << 8 | tb[i];
    ice->ta_ns = (cfg->ta_ms ? cfg->ta_ms : 50) * MS_NS;
    ice->checking_timeout_ns =
        (cfg->checking_timeout_ms ? cfg->checking_timeout_ms : 20000) * MS_NS;
    ice->consent_interval_ns = (cfg->consent_interval_ms ? cfg->consent_interval_ms : 5000) * MS_NS;
    ice->disconnected_ns =
        (cfg->disconnected_timeout_ms ? cfg->disconnected_timeout_ms : 7000) * MS_NS;
    ice->consent_ns = (cfg->consent_timeout_ms ? cfg->consent_timeout_ms : 30000) * MS_NS;
    *out = ice;
    return 0;
}

void zdc_ice_free(zdc_ice *ice)
{
    free(ice);
}

void zdc_ice_close(zdc_ice *ice)
{
    if (!ice || ice->closed)
        return;
    ice->closed = true;
    refresh_state(ice);
}

/* ---- gathering ----------------------------------------------------------------------- */

static void check_gathering_done(zdc_ice *ice)
{
    if (ice->gathering != ZDC_ICE_GATHERING_GATHERING)
        return;
    for (size_t i = 0; i < ice->n_servers; i++)
        if (!ice->servers[i].done)
            return;
    if (ice->cfg.on_candidate)
        ice->cfg.on_candidate(ice->cfg.user, NULL); /* end-of-candidates (RFC 8838 §13) */
    set_gathering(ice, ZDC_ICE_GATHERING_COMPLETE);
    refresh_state(ice);
}

int zdc_ice_add_local_address(zdc_ice *ice, const zdc_addr *addr)
{
    if (!ice || !addr || zdc_addr_family(addr) == 0 || zdc_addr_port(addr) == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    if (ice->closed || ice->gathering == ZDC_ICE_GATHERING_COMPLETE)
        return ZDC_ERR_INVALID_STATE;
    zdc_addr a = *addr;
    zdc_addr_unmap_v4(&a);
    if (find_local(ice, &a) >= 0)
        return 0;
    if (ice->n_local == MAX_LOCAL)
        return ZDC_ERR_QUEUE_FULL;
    struct local_cand *l = &ice->local[ice->n_local];
    l->addr = l->base = a;
    l->type = ZDC_CAND_HOST;
    /* RFC 8445 §5.1.2.1: distinct local preferences per interface, first added preferred */
    l->local_pref = (uint16_t)(65535 - 256 * ice->n_host_added++);
    l->priority = cand_priority(TYPE_PREF_HOST, l->local_pref);
    l->foundation = foundation_of(ZDC_CAND_HOST, &a, NULL);
    int idx = (int)ice->n_local++;
    pair_local(ice, idx);
    if (ice->gathering == ZDC_ICE_GATHERING_GATHERING)
        emit_local(ice, l);
    return 0;
}

int zdc_ice_add_stun_server(zdc_ice *ice, const zdc_addr *server)
{
    if (!ice || !server || zdc_addr_family(server) == 0 || zdc_addr_port(server) == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    if (ice->closed || ice->gather_started)
        return ZDC_ERR_INVALID_STATE;
    if (ice->n_servers == MAX_SERVERS)
        return ZDC_ERR_QUEUE_FULL;
    struct server *s = &ice->servers[ice->n_servers++];
    memset(s, 0, sizeof *s);
    s->addr = *server;
    zdc_addr_unmap_v4(&s->addr);
    return 0;
}

int zdc_ice_gather(zdc_ice *ice, uint64_t now_ns)
{
    if (!ice)
        return ZDC_ERR_INVALID_PARAMETER;
    if (ice->closed || ice->gather_started)
        return ZDC_ERR_INVALID_STATE;
    ice->gather_started = true;
    set_gathering(ice, ZDC_ICE_GATHERING_GATHERING);
    for (size_t i = 0; i < ice->n_local; i++)
        if (ice->local[i].type == ZDC_CAND_HOST)
            emit_local(ice, &ice->local[i]);
    for (size_t i = 0; i < ice->n_servers; i++) {
        struct server *s = &ice->servers[i];
        int base = default_local(ice, zdc_addr_family(&s->addr));
        if (base < 0) {
            s->done = true; /* no socket of that family */
            continue;
        }
        s->base = (uint8_t)base;
        tx_start(ice, &s->tx, now_ns, GATHER_RTO_NS);
        send_server_request(ice, s);
    }
    check_gathering_done(ice);
    return 0;
}

static void add_srflx(zdc_ice *ice, struct server *s, const zdc_addr *mapped)
{
    /* RFC 8445 §5.1.3: a server-reflexive candidate equal to a host one is redundant */
    if (find_local(ice, mapped) >= 0 || ice->n_local == MAX_LOCAL)
        return;
    const struct local_cand *base = &ice->local[s->base];
    struct local_cand *l = &ice->local[ice->n_local++];
    l->addr = *mapped;
    l->base = base->addr;
    l->type = ZDC_CAND_SRFLX;
    l->local_pref = base->local_pref;
    l->priority = cand_priority(TYPE_PREF_SRFLX, base->local_pref);
    l->foundation = foundation_of(ZDC_CAND_SRFLX, &base->addr, &s->addr);
    emit_local(ice, l);
}

/* ---- remote side --------------------------------------------------------------------- */

int zdc_ice_set_remote_credentials(zdc_ice *ice, const char *ufrag, const char *pwd,
                                   bool remote_lite)
{
    if (!ice || !valid_cred(ufrag, 4) || !valid_cred(pwd, 22))
        return ZDC_ERR_INVALID_PARAMETER;
    if (ice->closed)
        return ZDC_ERR_INVALID_STATE;
    if (ice->remote_creds) {
        if (strcmp(ufrag, ice->rufrag) == 0 && strcmp(pwd, ice->rpwd) == 0)
            return 0;
        return ZDC_ERR_INVALID_STATE;
    }
    strcpy(ice->rufrag, ufrag);
    strcpy(ice->rpwd, pwd);
    ice->remote_creds = true;
    ice->remote_lite = remote_lite;
    ice->need_arm = true;
    /* RFC 8445 §6.1.1: against a lite peer the full agent is controlling */
    if (remote_lite && !ice->cfg.lite && ice->role != ZDC_ICE_CONTROLLING)
        set_role(ice, ZDC_ICE_CONTROLLING);
    refresh_state(ice);
    return 0;
}

/* A trickled candidate tagged with another ufrag belongs to an older ICE generation. */
static bool stale_generation(const zdc_ice *ice, const zdc_candidate *c)
{
    if (!ice->remote_creds)
        return false;
    for (size_t i = 0; i < c->n_ext && i < ZDC_CAND_MAX_EXT; i++)
        if (strcmp(c->ext[i].name, "ufrag") == 0)
            return strcmp(c->ext[i].value, ice->rufrag) != 0;
    return false;
}

/* Whether a signaled remote address can be a peer's at all. As browsers do, nothing is sent to
 * an unspecified (0.0.0.0, ::), multicast or broadcast address — checks there would reach
 * other hosts, or this one — and to loopback only when we offer loopback ourselves (tests,
 * same host): otherwise a remote could aim our checks at local services. */
static bool usable_remote(const zdc_ice *ice, const zdc_addr *a)
{
    uint8_t ip[16];
    zdc_addr_bytes(a, ip);
    if (zdc_addr_family(a) == 4) {
        uint32_t v = (uint32_t)ip[0] << 24 | (uint32_t)ip[1] << 16 | (uint32_t)ip[2] << 8 | ip[3];
        if (v == 0 || v == 0xffffffffu || (ip[0] & 0xf0) == 0xe0) /* 224/4 multicast */
            return false;
    } else {
        static const uint8_t zero[16];
        if (memcmp(ip, zero, 16) == 0 || ip[0] == 0xff) /* :: or ff00::/8 multicast */
            return false;
    }
    if (zdc_addr_is_loopback(a)) {
        for (size_t i = 0; i < ice->n_local; i++)
            if (zdc_addr_is_loopback(&ice->local[i].addr))
                return true;
        return false;
    }
    return true;
}

unsigned zdc_ice_unusable_candidates(const zdc_ice *ice)
{
    return ice ? ice->n_unusable_dropped : 0;
}

int zdc_ice_add_remote_candidate(zdc_ice *ice, const zdc_candidate *c)
{
    if (!ice)
        return ZDC_ERR_INVALID_PARAMETER;
    if (ice->closed)
        return ZDC_ERR_INVALID_STATE;
    if (!c) {
        ice->remote_eoc = true; /* RFC 8838 §8.2 */
        check_all_failed(ice);
        refresh_state(ice);
        return 0;
    }
    if (c->port == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    if (c->component != 1 || c->transport != ZDC_CAND_UDP || stale_generation(ice, c))
        return 0;
    if (c->address_kind == 0) {
        /* mDNS name (or any FQDN): no resolver here; the peer's checks reveal it as a
         * peer-reflexive candidate instead. */
        ice->n_fqdn_ignored++;
        return 0;
    }
    zdc_addr a;
    if (zdc_addr_from_ip(&a, c->address, strlen(c->address), c->port) != 0)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_addr_unmap_v4(&a);
    if (!usable_remote(ice, &a)) {
        ice->n_unusable_dropped++;
        return 0;
    }
    int r = find_remote(ice, &a);
    if (r >= 0) {
        struct remote_cand *rc = &ice->remote[r];
        if (rc->learned) {
            /* the signaled candidate replaces the peer-reflexive one learned earlier */
            rc->learned = false;
            rc->type = c->type;
            rc->priority = c->priority;
            snprintf(rc->foundation, sizeof rc->foundation, "%s", c->foundation);
            for (size_t i = 0; i < ice->n_pairs; i++)
                ice->pairs[i].priority = pair_priority(ice, &ice->pairs[i]);
            pair_remote(ice, r);
        }
        return 0;
    }
    if (ice->n_remote == MAX_REMOTE)
        return ZDC_ERR_QUEUE_FULL;
    struct remote_cand *rc = &ice->remote[ice->n_remote];
    memset(rc, 0, sizeof *rc);
    rc->addr = a;
    rc->type = c->type;
    rc->priority = c->priority;
    snprintf(rc->foundation, sizeof rc->foundation, "%s", c->foundation);
    pair_remote(ice, (int)ice->n_remote++);
    refresh_state(ice);
    return 0;
}

/* ---- incoming requests --------------------------------------------------------------- */

int zdc_ice_username_local_ufrag(const zdc_stun_msg *msg, const char **ufrag, size_t *len)
{
    if (!msg || !msg->has_username || msg->username.len == 0)
        return ZDC_ERR_NOT_FOUND;
    const char *u = (const char *)msg->username.p;
    const char *colon = memchr(u, ':', msg->username.len);
    if (!colon)
        return ZDC_ERR_NOT_FOUND;
    *ufrag = u;
    *len = (size_t)(colon - u);
    return 0;
}

bool zdc_ice_username_matches(const zdc_ice *ice, const zdc_stun_msg *msg)
{
    const char *u;
    size_t n;
    if (!ice || zdc_ice_username_local_ufrag(msg, &u, &n) != 0)
        return false;
    return n == strlen(ice->lufrag) && memcmp(u, ice->lufrag, n) == 0;
}

/* RFC 8445 §7.3.1.1. Returns true when we answered 487 and the request goes no further. */
static bool role_conflict(zdc_ice *ice, const zdc_addr *from, const zdc_stun_msg *msg)
{
    if (ice->role == ZDC_ICE_CONTROLLING && msg->has_ice_controlling) {
        if (ice->tiebreaker >= msg->tiebreaker) {
            send_response(ice, from, msg, 487, "Role Conflict");
            return true;
        }
        set_role(ice, ZDC_ICE_CONTROLLED);
    } else if (ice->role == ZDC_ICE_CONTROLLED && msg->has_ice_controlled) {
        /* a lite agent cannot take control: the full peer must (RFC 8445 §6.1.1) */
        if (ice->cfg.lite || ice->tiebreaker < msg->tiebreaker) {
            send_response(ice, from, msg, 487, "Role Conflict");
            return true;
        }
        set_role(ice, ZDC_ICE_CONTROLLING);
    }
    return false;
}

/* RFC 8445 §7.3.1.3: a request from an unknown address reveals a peer-reflexive candidate. */
static int learn_remote(zdc_ice *ice, const zdc_addr *from, uint32_t priority)
{
    int r = find_remote(ice, from);
    if (r >= 0 || ice->n_remote == MAX_REMOTE)
        return r;
    struct remote_cand *rc = &ice->remote[ice->n_remote];
    memset(rc, 0, sizeof *rc);
    rc->addr = *from;
    rc->learned = true;
    rc->type = ZDC_CAND_PRFLX;
    rc->priority = priority;
    snprintf(rc->foundation, sizeof rc->foundation, "prflx%u", ice->prflx_seq++);
    return (int)ice->n_remote++;
}

static void on_checked_pair(zdc_ice *ice, int idx, bool use_candidate, uint64_t now)
{
    struct pair *p = &ice->pairs[idx];
    if (ice->cfg.lite) {
        /* RFC 8445 §7.3.1.5 (lite): the pair the full peer checks is valid; USE-CANDIDATE
         * selects it. The peer's checks are also our only sign of life. */
        p->state = PAIR_SUCCEEDED;
        note_alive(ice, p->remote, now);
        if (use_candidate)
            nominate(ice, idx, now);
        return;
    }
    /* RFC 8445 §7.3.1.4: triggered checks */
    switch (p->state) {
    case PAIR_SUCCEEDED:
        break;
    case PAIR_IN_PROGRESS:
        /* RFC 8445 §7.3.1.4: "the agent MUST enqueue the pair in the triggered checklist".
         * It waits its turn like every check, one per Ta (§6.1.4.2), and is queued once per
         * check in flight, however many requests come meanwhile: requests cannot make the
         * agent send more checks. It goes out as a retransmission of the check in flight
         * (same transaction), so that a late answer to that one still counts — on a slow
         * path a new transaction per peer request would never be answered in time. */
        if (!p->retriggered) {
            p->retriggered = true;
            trigger(ice, p);
        }
        break;
    default:
        p->state = PAIR_WAITING;
        trigger(ice, p);
        break;
    }
    if (use_candidate && ice->role == ZDC_ICE_CONTROLLED) {
        if (p->state == PAIR_SUCCEEDED)
            nominate(ice, idx, now);
        else
            p->use_cand_rx = true;
    }
}

static bool addr_validated(const zdc_ice *ice, const zdc_addr *a)
{
    int r = find_remote(ice, a);
    return r >= 0 && ice->remote[r].verified;
}

static struct seen_req *seen_lookup(zdc_ice *ice, const uint8_t txid[12])
{
    for (size_t i = 0; i < SEEN_REQUESTS; i++)
        if (ice->seen[i].used && txid_eq(ice->seen[i].txid, txid))
            return &ice->seen[i];
    return NULL;
}

static struct seen_req *seen_add(zdc_ice *ice, const uint8_t txid[12], const zdc_addr *from)
{
    struct seen_req *s = &ice->seen[ice->seen_next];
    ice->seen_next = (ice->seen_next + 1) % SEEN_REQUESTS; /* the oldest is replaced */
    memcpy(s->txid, txid, 12);
    s->from = *from;
    s->has_other = false;
    s->error = 0;
    s->answers = 1;
    s->used = true;
    return s;
}

static int handle_request(zdc_ice *ice, const zdc_addr *from, const uint8_t *p, size_t len,
                          const zdc_stun_msg *msg, int parse_rv, uint64_t now)
{
    if (!zdc_ice_username_matches(ice, msg))
        return ZDC_ERR_NOT_FOUND;
    /* RFC 8445 §7.3 / RFC 8489 §9.1.3: short-term credentials are required; a request
     * without valid MESSAGE-INTEGRITY is dropped (no error response leaks information). */
    if (zdc_stun_check_integrity(p, len, msg, (const uint8_t *)ice->lpwd, strlen(ice->lpwd)) != 0)
        return ZDC_ERR_INTEGRITY;
    if (parse_rv == ZDC_ERR_UNKNOWN_ATTRIBUTE) {
        send_response(ice, from, msg, 420, "Unknown Attribute"); /* RFC 8489 §6.3.1 */
        return 0;
    }
    if (msg->method != ZDC_STUN_BINDING || !msg->has_priority) {
        send_response(ice, from, msg, 400, "Bad Request"); /* RFC 8445 §7.1.1: PRIORITY */
        return 0;
    }
    struct seen_req *seen = seen_lookup(ice, msg->txid);
    if (seen) {
        /* The same transaction again. From two addresses, one of the two is a replay, since a
         * retransmission comes from where the first one did. Once one of them is validated (it
         * answered a check of ours) it was the peer: anything from the other is dropped,
         * nothing answered or learned, however often it repeats. Before that, the replay may
         * have won the race against the real request, so a second address is handled — but
         * one transaction is answered at most Rc times in all, wherever it comes from
         * (RFC 8489 §6.3.1: a retransmission is answered again, but no more often than a real
         * client sends one), so a replaying source gets no stream of answers. */
        bool first = zdc_addr_equal(&seen->from, from);
        bool known = first || (seen->has_other && zdc_addr_equal(&seen->other, from));
        bool peer_known = addr_validated(ice, &seen->from) ||
                          (seen->has_other && addr_validated(ice, &seen->other));
        /* Also once a pair is selected: the peer proved itself on some path, and its own
         * retransmissions come from where its first request did, never from a new address. */
        if ((peer_known && !addr_validated(ice, from)) ||
            (!first && ice->selected != NO_PAIR && !addr_validated(ice, from))) {
            ice->replays_dropped++;
            return 0;
        }
        if (seen->answers >= CHECK_MAX_SENDS) {
            if (known)
                ice->retransmits_unanswered++;
            else
                ice->replays_dropped++;
            return 0;
        }
        seen->answers++;
        if (known) {
            /* A retransmission: answered again; no new check is triggered (the first request
             * did that). */
            send_response(ice, from, msg, seen->error, seen->error ? "Role Conflict" : NULL);
            return 0;
        }
        seen->other = *from;
        seen->has_other = true;
    } else {
        seen = seen_add(ice, msg->txid, from);
    }
    if (role_conflict(ice, from, msg)) {
        seen->error = 487;
        return 0;
    }
    send_response(ice, from, msg, 0, NULL);

    int r = learn_remote(ice, from, msg->priority);
    if (r < 0)
        return 0;
    /* RFC 8445 §7.3.1.4 / §7.2.5.3: an authenticated request proves nothing about its source
     * address (it may be replayed); the address becomes usable — for DTLS, SCTP and as a
     * destination — only when a check of ours to it is answered (check_succeeded). An ICE-lite
     * agent sends no checks, so the full peer's request is all it has (RFC 8445 §7.3.1.5
     * lite); replays from elsewhere are still dropped above. */
    if (ice->cfg.lite)
        ice->remote[r].verified = true;
    int idx = pair_for_remote(ice, r);
    if (idx == NO_PAIR) {
        int l = default_local(ice, zdc_addr_family(from));
        if (l < 0 || (idx = add_pair(ice, l, r)) == NO_PAIR)
            return 0;
    }
    on_checked_pair(ice, idx, msg->use_candidate, now);
    follow_peer(ice, idx, now);
    refresh_state(ice);
    return 0;
}

/* ---- incoming responses -------------------------------------------------------------- */

static int handle_server_response(zdc_ice *ice, struct server *s, const zdc_addr *from,
                                  const zdc_stun_msg *msg)
{
    if (!zdc_addr_equal(from, &s->addr))
        return ZDC_ERR_NOT_FOUND;
    s->tx.active = false;
    s->done = true;
    zdc_addr mapped;
    if (msg->cls == ZDC_STUN_SUCCESS) {
        const zdc_stun_addr *m = msg->has_xor_mapped ? &msg->xor_mapped
                                 : msg->has_mapped   ? &msg->mapped
                                                     : NULL;
        if (m && from_stun_addr(m, &mapped) == 0)
            add_srflx(ice, s, &mapped);
    }
    check_gathering_done(ice);
    return 0;
}

static bool check_response_integrity(const zdc_ice *ice, const uint8_t *p, size_t len,
                                     const zdc_stun_msg *msg)
{
    /* RFC 8445 §7.2.5.1 / RFC 8489 §9.1.4: responses are authenticated with the peer's pwd */
    return zdc_stun_check_integrity(p, len, msg, (const uint8_t *)ice->rpwd, strlen(ice->rpwd)) ==
           0;
}

static int handle_consent_response(zdc_ice *ice, const zdc_addr *from, const uint8_t *p, size_t len,
                                   const zdc_stun_msg *msg, uint64_t now)
{
    const struct pair *sel = &ice->pairs[ice->selected];
    if (!zdc_addr_equal(from, &ice->remote[sel->remote].addr))
        return ZDC_ERR_NOT_FOUND;
    if (!check_response_integrity(ice, p, len, msg))
        return ZDC_ERR_INTEGRITY;
    if (txid_eq(msg->txid, ice->consent.txid)) {
        /* Karn: a retransmitted check's answer cannot tell which copy it answers */
        if (msg->cls == ZDC_STUN_SUCCESS && ice->consent.sends == 1 && now >= ice->consent.sent_ns)
            ice->pairs[ice->selected].rtt_ns = now - ice->consent.sent_ns;
        ice->consent.active = false;
    } else {
        ice->consent_prev_valid = false;
    }
    if (msg->cls == ZDC_STUN_SUCCESS) {
        ice->last_alive_ns = now; /* RFC 7675 §5.1: consent refreshed */
        ice->disconnected = false;
        refresh_state(ice);
    }
    return 0;
}

static int handle_check_response(zdc_ice *ice, int idx, const zdc_addr *from, const uint8_t *p,
                                 size_t len, const zdc_stun_msg *msg, uint64_t now)
{
    struct pair *pr = &ice->pairs[idx];
    if (!check_response_integrity(ice, p, len, msg))
        return ZDC_ERR_INTEGRITY;
    pr->tx.active = false;
    if (!zdc_addr_equal(from, &ice->remote[pr->remote].addr)) {
        pr->state = PAIR_FAILED; /* RFC 8445 §7.2.5.2.1: non-symmetric transport addresses */
    } else if (msg->cls == ZDC_STUN_ERROR && msg->has_error && msg->error_code == 487) {
        /* RFC 8445 §7.2.5.1: switch role if we still have the one we sent, then retry */
        if (pr->tx_role == ice->role)
            set_role(ice,
                     ice->role == ZDC_ICE_CONTROLLING ? ZDC_ICE_CONTROLLED : ZDC_ICE_CONTROLLING);
        pr->state = PAIR_WAITING;
        trigger(ice, pr);
    } else if (msg->cls == ZDC_STUN_ERROR) {
        pr->state = PAIR_FAILED; /* RFC 8445 §7.2.5.2.4: unrecoverable error */
    } else {
        if (pr->tx.sends == 1 && now >= pr->tx.sent_ns)
            pr->rtt_ns = now - pr->tx.sent_ns;
        check_succeeded(ice, idx, msg, now);
    }
    if (ice->nominating == idx && ice->pairs[idx].state != PAIR_SUCCEEDED)
        ice->nominating = NO_PAIR;
    maybe_nominate(ice, now);
    check_all_failed(ice);
    refresh_state(ice);
    return 0;
}

static int handle_response(zdc_ice *ice, const zdc_addr *from, const uint8_t *p, size_t len,
                           const zdc_stun_msg *msg, uint64_t now)
{
    for (size_t i = 0; i < ice->n_servers; i++)
        if (ice->servers[i].tx.active && txid_eq(ice->servers[i].tx.txid, msg->txid))
            return handle_server_response(ice, &ice->servers[i], from, msg);
    if (ice->selected != NO_PAIR &&
        ((ice->consent.active && txid_eq(ice->consent.txid, msg->txid)) ||
         (ice->consent_prev_valid && txid_eq(ice->consent_prev_txid, msg->txid))))
        return handle_consent_response(ice, from, p, len, msg, now);
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].tx.active && txid_eq(ice->pairs[i].tx.txid, msg->txid))
            return handle_check_response(ice, (int)i, from, p, len, msg, now);
    return ZDC_ERR_NOT_FOUND;
}

static void arm(zdc_ice *ice, uint64_t now)
{
    if (ice->need_arm) {
        ice->need_arm = false;
        ice->checking_deadline_ns = now + ice->checking_timeout_ns;
    }
}

int zdc_ice_handle_stun(zdc_ice *ice, const zdc_addr *from, const uint8_t *p, size_t len,
                        uint64_t now_ns)
{
    if (!ice || !from || !p)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_stun_msg msg;
    int rv = zdc_stun_parse(p, len, &msg);
    if (rv != 0 && rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return ended(ice) ? ZDC_ERR_CLOSED : rv;
    return zdc_ice_handle_stun_msg(ice, from, p, len, &msg, rv, now_ns);
}

int zdc_ice_handle_stun_msg(zdc_ice *ice, const zdc_addr *from, const uint8_t *p, size_t len,
                            const zdc_stun_msg *m, int parse_rv, uint64_t now_ns)
{
    if (!ice || !from || !p || !m)
        return ZDC_ERR_INVALID_PARAMETER;
    if (ended(ice))
        return ZDC_ERR_CLOSED;
    if (parse_rv != 0 && parse_rv != ZDC_ERR_UNKNOWN_ATTRIBUTE)
        return parse_rv;
    zdc_stun_msg msg = *m;
    int rv = parse_rv;
    arm(ice, now_ns);
    zdc_addr src = *from;
    zdc_addr_unmap_v4(&src);
    if (msg.cls == ZDC_STUN_REQUEST)
        return handle_request(ice, &src, p, len, &msg, rv, now_ns);
    if (rv != 0 || msg.method != ZDC_STUN_BINDING)
        return rv ? rv : ZDC_ERR_NOT_FOUND;
    if (msg.cls == ZDC_STUN_SUCCESS || msg.cls == ZDC_STUN_ERROR)
        return handle_response(ice, &src, p, len, &msg, now_ns);
    return 0; /* Binding indication: a keepalive (RFC 8445 §11), nothing to do */
}

bool zdc_ice_remote_verified(const zdc_ice *ice, const zdc_addr *addr)
{
    if (!ice || !addr || ended(ice))
        return false;
    zdc_addr a = *addr;
    zdc_addr_unmap_v4(&a);
    if (ice->kept.active && zdc_addr_equal(&a, &ice->kept.remote))
        return true; /* the pair in use while a restart runs */
    if (ice->prev_active && zdc_addr_equal(&a, &ice->prev_remote))
        return true; /* ... and shortly after it */
    int r = find_remote(ice, &a);
    return r >= 0 && ice->remote[r].verified;
}

bool zdc_ice_has_transaction(const zdc_ice *ice, const uint8_t txid[12])
{
    if (!ice || !txid)
        return false;
    for (size_t i = 0; i < ice->n_servers; i++)
        if (ice->servers[i].tx.active && txid_eq(ice->servers[i].tx.txid, txid))
            return true;
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].tx.active && txid_eq(ice->pairs[i].tx.txid, txid))
            return true;
    return (ice->consent.active && txid_eq(ice->consent.txid, txid)) ||
           (ice->consent_prev_valid && txid_eq(ice->consent_prev_txid, txid));
}

/* ---- timers -------------------------------------------------------------------------- */

uint64_t zdc_ice_next_timeout(const zdc_ice *ice)
{
    uint64_t t = UINT64_MAX;
    if (!ice || ended(ice))
        return t;
    if (ice->need_arm)
        return 0;
    for (size_t i = 0; i < ice->n_servers; i++)
        if (ice->servers[i].tx.active)
            t = min_u64(t, ice->servers[i].tx.next_ns);
    for (size_t i = 0; i < ice->n_pairs; i++)
        if (ice->pairs[i].tx.active)
            t = min_u64(t, ice->pairs[i].tx.next_ns);
    if (can_check(ice) && has_check_work(ice))
        t = min_u64(t, ice->next_check_ns);
    if (ice->prev_active)
        t = min_u64(t, ice->prev_until_ns);
    if (ice->selected == NO_PAIR) {
        if (ice->remote_creds)
            t = min_u64(t, ice->checking_deadline_ns);
        if (can_check(ice) && ice->nominating == NO_PAIR && ice->role == ZDC_ICE_CONTROLLING &&
            !ice->cfg.aggressive_nomination && best_valid(ice) != NO_PAIR)
            t = min_u64(t, ice->first_valid_ns + NOMINATE_WAIT_NS);
        return t;
    }
    if (!ice->cfg.lite) {
        t = min_u64(t, ice->consent_next_ns);
        if (ice->consent.active)
            t = min_u64(t, ice->consent.next_ns);
    }
    if (!ice->disconnected)
        t = min_u64(t, ice->last_alive_ns + ice->disconnected_ns);
    return min_u64(t, ice->last_alive_ns + ice->consent_ns);
}

static void run_gather_timers(zdc_ice *ice, uint64_t now)
{
    for (size_t i = 0; i < ice->n_servers; i++) {
        struct server *s = &ice->servers[i];
        int d = tx_due(&s->tx, now, GATHER_SENDS, GATHER_RTO_MAX);
        if (d > 0)
            send_server_request(ice, s);
        else if (d < 0)
            s->done = true;
    }
    check_gathering_done(ice);
}

static void run_check_timers(zdc_ice *ice, uint64_t now)
{
    for (size_t i = 0; i < ice->n_pairs; i++) {
        struct pair *p = &ice->pairs[i];
        int d = tx_due(&p->tx, now, CHECK_MAX_SENDS, CHECK_RTO_MAX_NS);
        if (d > 0) {
            send_check(ice, p, p->tx.txid, p->tx_nominate);
        } else if (d < 0) {
            p->state = PAIR_FAILED; /* RFC 8445 §7.2.5.2.2: transaction timed out */
            if (ice->nominating == (int)i)
                ice->nominating = NO_PAIR;
        }
    }
}

static void run_consent(zdc_ice *ice, uint64_t now)
{
    if (ice->selected == NO_PAIR)
        return;
    if (now >= ice->last_alive_ns + ice->consent_ns) {
        /* RFC 7675 §5.1: consent expired, stop sending */
        ZDC_LOG(ice->cfg.log, ZDC_LOG_ERROR, ZDC_LOG_ICE,
                "consent lost: no answer from the selected pair for %llu ms",
                (unsigned long long)((now - ice->last_alive_ns) / MS_NS));
        fail(ice, "consent expired (RFC 7675)");
        return;
    }
    if (!ice->disconnected && now >= ice->last_alive_ns + ice->disconnected_ns) {
        ice->disconnected = true;
        ZDC_LOG_W(ice->cfg.log, ZDC_LOG_ICE, "disconnected: no answer for %llu ms",
                  (unsigned long long)((now - ice->last_alive_ns) / MS_NS));
        refresh_state(ice);
    }
    if (ice->cfg.lite)
        return;
    const struct pair *sel = &ice->pairs[ice->selected];
    if (now >= ice->consent_next_ns) {
        /* RFC 7675 §5.1: each consent check is a new transaction */
        if (ice->consent.active) {
            memcpy(ice->consent_prev_txid, ice->consent.txid, 12);
            ice->consent_prev_valid = true;
        }
        tx_start(ice, &ice->consent, now, CHECK_RTO_NS);
        send_check(ice, sel, ice->consent.txid, false);
        ice->consent_next_ns = now + jitter(ice, ice->consent_interval_ns);
    } else if (tx_due(&ice->consent, now, CONSENT_SENDS, CHECK_RTO_MAX_NS) > 0) {
        send_check(ice, sel, ice->consent.txid, false);
    }
}

void zdc_ice_handle_timeout(zdc_ice *ice, uint64_t now_ns)
{
    if (!ice || ended(ice))
        return;
    arm(ice, now_ns);
    if (ice->prev_active && now_ns >= ice->prev_until_ns)
        ice->prev_active = false;
    run_gather_timers(ice, now_ns);
    run_check_timers(ice, now_ns);
    maybe_nominate(ice, now_ns);
    run_paced_check(ice, now_ns);
    check_all_failed(ice);
    if (ended(ice))
        return;
    if (ice->selected == NO_PAIR && ice->remote_creds && now_ns >= ice->checking_deadline_ns) {
        fail(ice, "no candidate pair succeeded before the checking deadline");
        return;
    }
    run_consent(ice, now_ns);
    if (!ended(ice))
        refresh_state(ice);
}

/* ---- getters ------------------------------------------------------------------------- */

int zdc_ice_state(const zdc_ice *ice)
{
    return ice->state;
}
int zdc_ice_gathering_state(const zdc_ice *ice)
{
    return ice->gathering;
}
int zdc_ice_role(const zdc_ice *ice)
{
    return ice->role;
}
const char *zdc_ice_local_ufrag(const zdc_ice *ice)
{
    return ice->lufrag;
}
const char *zdc_ice_local_pwd(const zdc_ice *ice)
{
    return ice->lpwd;
}

int zdc_ice_selected_pair(const zdc_ice *ice, zdc_addr *local, zdc_addr *remote)
{
    if (ice && ice->selected == NO_PAIR && ice->kept.active) {
        if (local)
            *local = ice->kept.local;
        if (remote)
            *remote = ice->kept.remote;
        return 0;
    }
    if (!ice || ice->selected == NO_PAIR)
        return ZDC_ERR_NOT_FOUND;
    const struct pair *p = &ice->pairs[ice->selected];
    if (local)
        *local = ice->local[p->local].addr;
    if (remote)
        *remote = ice->remote[p->remote].addr;
    return 0;
}

void zdc_ice_get_stats(const zdc_ice *ice, zdc_ice_stats *st)
{
    memset(st, 0, sizeof *st);
    st->consent = ZDC_CONSENT_NONE;
    st->local_type = st->remote_type = -1;
    if (ice && ice->selected == NO_PAIR && ice->kept.active) {
        st->selected = true;
        st->local = ice->kept.local;
        st->remote = ice->kept.remote;
        st->local_type = ice->kept.local_type;
        st->remote_type = ice->kept.remote_type;
        st->rtt_ns = ice->kept.rtt_ns;
        st->last_alive_ns = ice->last_alive_ns;
        st->consent = ZDC_CONSENT_GRANTED;
        return;
    }
    if (!ice || ice->selected == NO_PAIR)
        return;
    const struct pair *p = &ice->pairs[ice->selected];
    st->selected = true;
    st->local = ice->local[p->local].addr;
    st->remote = ice->remote[p->remote].addr;
    st->local_type = ice->local[p->local].type;
    st->remote_type = ice->remote[p->remote].type;
    st->rtt_ns = p->rtt_ns;
    st->last_alive_ns = ice->last_alive_ns;
    st->consent = ice->failed         ? ZDC_CONSENT_EXPIRED
                  : ice->disconnected ? ZDC_CONSENT_STALE
                                      : ZDC_CONSENT_GRANTED;
}

int zdc_ice_restart(zdc_ice *ice, int role)
{
    if (!ice || (role != ZDC_ICE_CONTROLLING && role != ZDC_ICE_CONTROLLED))
        return ZDC_ERR_INVALID_PARAMETER;
    if (ended(ice))
        return ZDC_ERR_INVALID_STATE;
    if (ice->selected != NO_PAIR) { /* RFC 8445 §9: keep using it until the restart selects */
        const struct pair *p = &ice->pairs[ice->selected];
        ice->kept.active = true;
        ice->kept.local = ice->local[p->local].addr;
        ice->kept.remote = ice->remote[p->remote].addr;
        ice->kept.local_type = ice->local[p->local].type;
        ice->kept.remote_type = ice->remote[p->remote].type;
        ice->kept.rtt_ns = p->rtt_ns;
    }
    ice->restarts++;
    /* RFC 8445 §9: new credentials; every check, pair and remote candidate starts over */
    char old[MAX_CRED + 1];
    strcpy(old, ice->lufrag);
    do
        random_cred(ice, ice->lufrag, 8);
    while (strcmp(old, ice->lufrag) == 0);
    random_cred(ice, ice->lpwd, 24);
    ice->rufrag[0] = ice->rpwd[0] = '\0';
    ice->remote_creds = ice->remote_lite = ice->remote_eoc = false;
    ice->need_arm = false;
    ice->n_remote = 0;
    ice->n_pairs = 0;
    ice->n_fqdn_ignored = 0;
    ice->selected = ice->nominating = NO_PAIR;
    ice->have_valid = false;
    ice->disconnected = false;
    ice->consent.active = ice->consent_prev_valid = false;
    /* host candidates are signaled again by the next zdc_ice_gather; reflexive ones are
     * gathered again */
    size_t n = 0;
    for (size_t i = 0; i < ice->n_local; i++)
        if (ice->local[i].type == ZDC_CAND_HOST)
            ice->local[n++] = ice->local[i];
    ice->n_local = n;
    for (size_t i = 0; i < ice->n_servers; i++) {
        ice->servers[i].tx.active = false;
        ice->servers[i].done = false;
    }
    ice->gather_started = false;
    ice->gathering = ZDC_ICE_GATHERING_NEW;
    if (!ice->cfg.lite)
        set_role(ice, role);
    ZDC_LOG_I(ice->cfg.log, ZDC_LOG_ICE, "ICE restart %u: new credentials, %s", ice->restarts,
              ice->kept.active ? "data stays on the selected pair meanwhile" : "no pair yet");
    refresh_state(ice);
    return 0;
}

bool zdc_ice_follow(zdc_ice *ice, const zdc_addr *from, uint64_t now_ns)
{
    if (!ice || !from || ended(ice))
        return false;
    zdc_addr a = *from;
    zdc_addr_unmap_v4(&a);
    int r = find_remote(ice, &a);
    if (r < 0 || !ice->remote[r].verified)
        return false;
    return follow_peer(ice, pair_for_remote(ice, r), now_ns);
}
