/* ICE agent (RFC 8445), sans-IO: trickle (RFC 8838), consent freshness (RFC 7675), ICE-lite.
 *
 * One agent handles one data stream with a single component (component 1, UDP), which is all
 * WebRTC data channels with BUNDLE need. The agent never touches a socket or a clock: the
 * engine feeds it every STUN datagram received on its shared socket (zdc_ice_handle_stun),
 * the current time (now_ns arguments) and random bytes (config.random); the agent sends
 * through config.send, which the engine writes from its socket for that address family.
 * Because all local host candidates of one family share that socket, a pair is identified by
 * its remote address for sending: the local side only matters for priorities and signaling.
 *
 * Callbacks are raised synchronously inside the agent's calls. From a callback the user may
 * call only the getters (zdc_ice_state, zdc_ice_local_ufrag, ...); it must not free the agent
 * or feed it input.
 *
 * Timing choices (all overridable in zdc_ice_config, 0 = default):
 * - Ta = 50 ms between new checks (RFC 8445 §14.2 default; Chrome paces weak pings at 48 ms).
 * - A connectivity check is sent up to 7 times: RTO 500 ms (RFC 8445 §14.3 floor), doubled
 *   each time and capped at 1.6 s, so a pair fails after ~9.5 s without an answer.
 * - Server-reflexive gathering: RTO 500 ms doubling, 3 transmissions, give up 2 s after the
 *   last one (3.5 s), so a dead STUN server delays end-of-candidates only a little.
 * - Regular nomination (Chrome-compatible): the controlling agent nominates the best valid pair
 *   once no better pair is still pending, or 1 s after the first pair became valid, by
 *   repeating the check with USE-CANDIDATE. aggressive_nomination puts USE-CANDIDATE in every
 *   check instead.
 * - Checking fails after 20 s without a selected pair, or earlier when every pair failed and
 *   the peer signaled end-of-candidates.
 * - Consent (RFC 7675 §5.1): a new Binding request every 5 s x U[0.8, 1.2] on the selected
 *   pair, retransmitted (RTO 500 ms doubling) until answered or the next one is due.
 *   DISCONNECTED after 7 s without an answer (longer than the 6 s longest interval, so one
 *   lost answer does not flap), CONNECTED/COMPLETED again on the next answer, FAILED when
 *   consent expires 30 s after the last answer (RFC 7675 §5.1). An ICE-lite agent sends no
 *   checks, so it applies the same timeouts to the peer's authenticated checks instead.
 */
#ifndef ZDC_CORE_ICE_H
#define ZDC_CORE_ICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "log.h"
#include "zdc/candidate.h"
#include "zdc/stats.h"
#include "zdc/stun.h"

/* ICE connection state (RFC 8445 / W3C RTCIceConnectionState). The peer connection derives its
 * own (Godot-numbered) state from it together with DTLS and SCTP (core/proto/pc_event.c,
 * pc_update_connection_state): CHECKING/CONNECTED/COMPLETED give CONNECTING until DTLS is up
 * over a verified address, then CONNECTED; DISCONNECTED -> DISCONNECTED; FAILED -> FAILED. */
enum zdc_ice_state {
    ZDC_ICE_NEW = 0,
    ZDC_ICE_CHECKING = 1,     /* remote credentials known, checks running */
    ZDC_ICE_CONNECTED = 2,    /* a pair is selected (nominated) */
    ZDC_ICE_COMPLETED = 3,    /* selected, gathering complete, peer's candidates ended, no
                                 checks pending */
    ZDC_ICE_DISCONNECTED = 4, /* selected pair silent for disconnected_timeout */
    ZDC_ICE_FAILED = 5,       /* no pair worked, or consent expired: terminal */
    ZDC_ICE_CLOSED = 6,       /* zdc_ice_close() */
};

/* Same numbers as Godot's WebRTCPeerConnection::GatheringState. */
enum zdc_ice_gathering_state {
    ZDC_ICE_GATHERING_NEW = 0,
    ZDC_ICE_GATHERING_GATHERING = 1,
    ZDC_ICE_GATHERING_COMPLETE = 2,
};

enum zdc_ice_role { ZDC_ICE_CONTROLLING = 0, ZDC_ICE_CONTROLLED = 1 };

typedef struct zdc_ice zdc_ice;

typedef struct zdc_ice_config {
    int role;  /* initial enum zdc_ice_role (offerer: CONTROLLING); an ICE-lite agent is
                  always CONTROLLED against a full peer (RFC 8445 §6.1.1) */
    bool lite; /* we are ICE-lite: answer checks, never send any */
    bool aggressive_nomination;
    /* Local credentials; NULL = generated from random bytes (8-char ufrag, 24-char pwd).
     * Given ones must be ice-chars, ufrag 4..256 and pwd 22..256 long (RFC 8839 §5.4). */
    const char *ufrag;
    const char *pwd;
    /* 0 = the defaults described above. */
    uint32_t ta_ms;
    uint32_t checking_timeout_ms;
    uint32_t consent_interval_ms;
    uint32_t disconnected_timeout_ms;
    uint32_t consent_timeout_ms;

    void *user;
    /* Required: fills p with n unpredictable bytes (txids, credentials, tie-breaker). */
    void (*random)(void *user, uint8_t *p, size_t n);
    /* Required: send one datagram to `to` from the engine socket of to's family. */
    void (*send)(void *user, const zdc_addr *to, const uint8_t *p, size_t len);
    /* A new local candidate to signal (trickle); NULL = end of candidates. */
    void (*on_candidate)(void *user, const zdc_candidate *c);
    void (*on_state)(void *user, int state);
    void (*on_gathering_state)(void *user, int state);
    /* The selected pair changed: application data goes to `remote` from here on. `local` is
     * the local candidate's transport address (for host candidates, the socket address). */
    void (*on_selected_pair)(void *user, const zdc_addr *local, const zdc_addr *remote);
    /* Optional log context (must outlive the agent); NULL is silent. FAILED logs its reason at
     * ERROR (every pair failed, checking deadline, consent expired), DISCONNECTED at WARN, the
     * selected pair at INFO, checks at DEBUG. */
    const zdc_log_ctx *log;
} zdc_ice_config;

/* Creates an agent in state NEW / gathering NEW. Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL
 * cfg/out, missing random/send callback, bad role or credentials) or ZDC_ERR_NOMEM. */
int zdc_ice_new(const zdc_ice_config *cfg, zdc_ice **out);
/* Frees the agent (NULL is fine). No callback is raised. */
void zdc_ice_free(zdc_ice *ice);
/* Moves to CLOSED (on_state raised once); afterwards nothing is sent and input is ignored. */
void zdc_ice_close(zdc_ice *ice);

/* ---- gathering ------------------------------------------------------------------------ */

/* Adds a local interface address (the engine socket's address on that interface) as a host
 * candidate. The local preference falls with the order of addition (first = preferred).
 * Before zdc_ice_gather() it is only recorded; during gathering it is signaled at once.
 * Returns 0; ZDC_ERR_INVALID_PARAMETER (unset address, port 0); ZDC_ERR_QUEUE_FULL (too many
 * local candidates); ZDC_ERR_INVALID_STATE (gathering complete, or closed). A duplicate is
 * ignored (0). */
int zdc_ice_add_local_address(zdc_ice *ice, const zdc_addr *addr);
/* Adds a STUN server for server-reflexive candidates (queried when gathering starts).
 * Returns 0; ZDC_ERR_INVALID_PARAMETER; ZDC_ERR_QUEUE_FULL; ZDC_ERR_INVALID_STATE (gathering
 * already started). */
int zdc_ice_add_stun_server(zdc_ice *ice, const zdc_addr *server);
/* Starts gathering: signals the host candidates, queries the STUN servers; gathering is
 * COMPLETE (and on_candidate(NULL) raised) when every server answered or timed out.
 * Returns 0 or ZDC_ERR_INVALID_STATE (already started, or closed). */
int zdc_ice_gather(zdc_ice *ice, uint64_t now_ns);

/* ---- remote side ---------------------------------------------------------------------- */

/* The peer's ice-ufrag / ice-pwd (and whether it is ICE-lite). Checks start on the next
 * timeout. Candidates added before this are kept (trickle, RFC 8838 §8). Returns 0;
 * ZDC_ERR_INVALID_PARAMETER (not ice-chars or bad length); ZDC_ERR_INVALID_STATE (already set
 * to different values — an ICE restart is not supported — or closed). */
int zdc_ice_set_remote_credentials(zdc_ice *ice, const char *ufrag, const char *pwd,
                                   bool remote_lite);
/* A remote candidate (NULL = end-of-candidates). UDP candidates of component 1 with an IP
 * address are paired; TCP, other components and FQDN addresses (mDNS ".local" names, which
 * are reached through peer-reflexive discovery instead) are accepted and ignored.
 * Returns 0; ZDC_ERR_INVALID_PARAMETER (port 0, bad IP text); ZDC_ERR_QUEUE_FULL (too many
 * remote candidates; the candidate is dropped); ZDC_ERR_INVALID_STATE (closed). */
int zdc_ice_add_remote_candidate(zdc_ice *ice, const zdc_candidate *c);

/* Remote candidates ignored because their address cannot be a peer's: unspecified
 * (0.0.0.0, ::), multicast, broadcast, or loopback while no local candidate is loopback.
 * zdc_ice_add_remote_candidate returns 0 for them and pairs nothing. */
unsigned zdc_ice_unusable_candidates(const zdc_ice *ice);

/* ---- input and time ------------------------------------------------------------------- */

/* One STUN datagram received from `from` on the engine socket. Requests for this agent are
 * answered (with XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT) and trigger a check back,
 * paced by Ta; a request whose transaction id came before from another address that has since
 * been validated is a replay and is dropped unanswered; one transaction is answered at most 7
 * times (RFC 8489 Rc), wherever it comes from. Responses are matched
 * to outstanding transactions. Invalid, unauthenticated or foreign messages are dropped.
 * Returns 0 (consumed), ZDC_ERR_NOT_FOUND (not for this agent: wrong USERNAME or unknown
 * transaction), ZDC_ERR_INTEGRITY (bad MESSAGE-INTEGRITY, dropped), a parse error, or
 * ZDC_ERR_CLOSED. The caller needs nothing but to keep going. */
int zdc_ice_handle_stun(zdc_ice *ice, const zdc_addr *from, const uint8_t *p, size_t len,
                        uint64_t now_ns);
/* The same for a datagram the caller already parsed: msg and parse_rv are zdc_stun_parse's
 * output and result for p/len (the raw bytes are still needed for MESSAGE-INTEGRITY). */
int zdc_ice_handle_stun_msg(zdc_ice *ice, const zdc_addr *from, const uint8_t *p, size_t len,
                            const zdc_stun_msg *msg, int parse_rv, uint64_t now_ns);
/* Absolute time of the next deadline, or UINT64_MAX when none. */
uint64_t zdc_ice_next_timeout(const zdc_ice *ice);
/* Runs everything due at now_ns (retransmissions, paced checks, nomination, consent). */
void zdc_ice_handle_timeout(zdc_ice *ice, uint64_t now_ns);

/* ---- demux helpers for the engine ---------------------------------------------------- */

/* The local-ufrag part (before ':') of a request's USERNAME ("LFRAG:RFRAG", RFC 8445 §7.2.2),
 * as a view into the message. Returns 0 or ZDC_ERR_NOT_FOUND (no USERNAME or no ':'). */
int zdc_ice_username_local_ufrag(const zdc_stun_msg *msg, const char **ufrag, size_t *len);
/* Whether a parsed request is addressed to this agent (its USERNAME starts "LFRAG:"). */
bool zdc_ice_username_matches(const zdc_ice *ice, const zdc_stun_msg *msg);
/* Whether `addr` has proven it is the peer: it answered a check of ours with the peer's
 * credentials (RFC 8445 §7.2.5.3: the pair is valid). An authenticated request alone does not
 * prove it — STUN has no replay protection, so anyone who saw one can send it again from
 * another address — except to an ICE-lite agent, which sends no checks of its own. The engine
 * accepts non-STUN traffic (DTLS) from such an address even when it is not the selected pair.
 * False once FAILED/CLOSED. */
bool zdc_ice_remote_verified(const zdc_ice *ice, const zdc_addr *addr);
/* Whether a response's transaction id belongs to one of this agent's requests. */
bool zdc_ice_has_transaction(const zdc_ice *ice, const uint8_t txid[12]);

/* ---- getters -------------------------------------------------------------------------- */

int zdc_ice_state(const zdc_ice *ice);
int zdc_ice_gathering_state(const zdc_ice *ice);
int zdc_ice_role(const zdc_ice *ice);
const char *zdc_ice_local_ufrag(const zdc_ice *ice);
const char *zdc_ice_local_pwd(const zdc_ice *ice);
/* The selected pair's addresses. Returns 0 or ZDC_ERR_NOT_FOUND (none selected yet). */
int zdc_ice_selected_pair(const zdc_ice *ice, zdc_addr *local, zdc_addr *remote);

/* Non-STUN traffic (DTLS) of the peer arrived from `from`, which is not the selected remote
 * address. When `from` answered a check of ours and the selected pair stopped answering
 * consent (a consent check retransmitted, or DISCONNECTED), the peer moved — its NAT rebound —
 * and the agent selects the pair to `from` (on_selected_pair). Requests and check answers from
 * such an address do the same inside the agent. Returns true when it switched. */
bool zdc_ice_follow(zdc_ice *ice, const zdc_addr *from, uint64_t now_ns);

/* ICE restart (RFC 8445 §9): new local credentials; remote credentials, remote candidates,
 * pairs and checks start over (the next zdc_ice_set_remote_credentials and remote candidates
 * are the new generation's); host candidates are signaled again by the next zdc_ice_gather and
 * reflexive ones gathered again. The pair selected so far stays in use — zdc_ice_selected_pair,
 * zdc_ice_remote_verified and the state (CONNECTED) answer for it — until the new checks
 * select one; consent is not checked meanwhile, and the checking deadline bounds the restart.
 * `role` is the agent's role for the new generation (the side that offers the restart
 * controls; an ICE-lite agent stays controlled).
 * Returns 0, ZDC_ERR_INVALID_PARAMETER or ZDC_ERR_INVALID_STATE (closed or failed). */
int zdc_ice_restart(zdc_ice *ice, int role);

/* The selected pair and its health (zdc_peer_get_stats). */
typedef struct zdc_ice_stats {
    bool selected;               /* a pair is selected; the fields below describe it */
    zdc_addr local, remote;      /* its addresses */
    int local_type, remote_type; /* enum zdc_cand_type, -1 when none */
    uint64_t rtt_ns;             /* last round trip of a check on it answered at the first
                                    transmission (consent checks included), 0 = none yet */
    uint64_t last_alive_ns;      /* when it last proved alive (consent, RFC 7675) */
    int consent;                 /* enum zdc_consent_state (zdc/stats.h) */
} zdc_ice_stats;
/* Fills *st (a NULL agent: nothing selected). */
void zdc_ice_get_stats(const zdc_ice *ice, zdc_ice_stats *st);

#endif /* ZDC_CORE_ICE_H */
