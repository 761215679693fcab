/* TURN client (RFC 8656), sans-IO: one allocation on one TURN server.
 *
 * The client never touches a socket or a clock. The caller feeds it everything the server sends
 * (zdc_turn_handle_input: STUN responses, Data indications, ChannelData), the current time and
 * random bytes (config.random); it sends through config.send, which the caller writes to the
 * server over UDP, or over TCP/TLS after stream framing (zdc_turn_stream_frame in
 * core/codec/turnmsg.h: the client pads ChannelData to 4 bytes for those transports).
 *
 * Life of an allocation:
 *   IDLE --allocate--> ALLOCATING --success--> ALLOCATED --close--> CLOSED
 *                          |                      |
 *                          +--error/timeout-------+--refresh failed/expired--> FAILED
 * - Allocate is first sent without credentials; the 401 carries REALM and NONCE and the request
 *   is repeated with the long-term credential (RFC 8489 §9.2): MESSAGE-INTEGRITY-SHA256 with
 *   the SHA-256 key when the server offers PASSWORD-ALGORITHMS with SHA-256, else
 *   MESSAGE-INTEGRITY with the MD5 key. A 438 (stale nonce) is answered by repeating the
 *   request with the new NONCE, at most 3 times in a row. A 401 to a request that carried
 *   credentials means the credentials are wrong: FAILED.
 * - The allocation is refreshed before it expires (a minute before, or at 3/4 of lifetimes
 *   shorter than 4 minutes); a refresh that fails or an allocation that expires is FAILED.
 * - Permissions (per peer IP, RFC 8656 §9) last 300 s and are renewed every 240 s; channel
 *   bindings (§12) last 600 s and are renewed every 540 s, which also renews the permission.
 * - zdc_turn_send uses the peer's channel once the server confirmed the binding (ChannelData),
 *   else a Send indication; data from the server arrives through on_data either way.
 * - Requests over UDP are retransmitted (RTO 500 ms doubling, capped at 3.2 s, 7 sends, then
 *   a timeout); over TCP/TLS they are sent once and time out after 10 s.
 * Callbacks are raised synchronously inside the client's calls; from them the caller may use
 * the getters only. */
#ifndef ZDC_CORE_TURN_H
#define ZDC_CORE_TURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "log.h"

enum zdc_turn_state {
    ZDC_TURN_IDLE = 0,
    ZDC_TURN_ALLOCATING = 1,
    ZDC_TURN_ALLOCATED = 2,
    ZDC_TURN_FAILED = 3, /* terminal: zdc_turn_last_error says why */
    ZDC_TURN_CLOSED = 4, /* zdc_turn_close(): deallocated (Refresh with LIFETIME 0 sent) */
};

enum zdc_turn_transport { ZDC_TURN_UDP = 0, ZDC_TURN_TCP = 1, ZDC_TURN_TLS = 2 };

/* Bounds: permissions (one per peer IP) and channel bindings (one per peer address). */
#define ZDC_TURN_MAX_PERMISSIONS 32
#define ZDC_TURN_MAX_CHANNELS    32

typedef struct zdc_turn zdc_turn;

typedef struct zdc_turn_config {
    const char *username;   /* required, used as given (no SASLprep) */
    const char *password;   /* required */
    int transport;          /* enum zdc_turn_transport: timing and ChannelData padding */
    uint32_t lifetime_s;    /* LIFETIME asked for; 0 = none (the server's default, 600 s) */
    uint32_t rto_ms;        /* first UDP retransmission timeout; 0 = 500 */
    const char *software;   /* SOFTWARE attribute; NULL = none */
    const zdc_log_ctx *log; /* NULL = silent; failures at ERROR, allocation at INFO, the
                               rest (refresh, permissions, channels) at DEBUG */
    /* Tests: refresh the allocation and renew permissions and channels this often (ms) instead
     * of shortly before they expire, so a real server's Refresh and CreatePermission answers
     * can be seen in a short run. 0 = the normal schedule; never later than it. */
    uint32_t refresh_every_ms;

    void *user;
    /* Required: fills p with n unpredictable bytes (transaction ids). */
    void (*random)(void *user, uint8_t *p, size_t n);
    /* Required: sends one message to the server. */
    void (*send)(void *user, const uint8_t *p, size_t len);
    /* The allocation succeeded: relayed transport address and our address as the server saw it
     * (XOR-MAPPED-ADDRESS; unset when the server did not say). */
    void (*on_allocated)(void *user, const zdc_addr *relayed, const zdc_addr *mapped);
    /* The allocation failed or was lost (state FAILED): err is a ZDC_ERR_* code, code the TURN
     * error code (0 when none, e.g. a timeout), reason a readable sentence. */
    void (*on_failed)(void *user, int err, unsigned code, const char *reason);
    /* Data relayed from `peer`. */
    void (*on_data)(void *user, const zdc_addr *peer, const uint8_t *p, size_t len);
} zdc_turn_config;

/* Creates a client in state IDLE. Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL cfg/out, missing
 * random/send, NULL or over-long username/password, bad transport) or ZDC_ERR_NOMEM. */
int zdc_turn_new(const zdc_turn_config *cfg, zdc_turn **out);
/* Frees the client (NULL is fine); sends nothing (call zdc_turn_close first to deallocate). */
void zdc_turn_free(zdc_turn *t);

/* Sends the first Allocate. Returns 0 or ZDC_ERR_INVALID_STATE (not IDLE). */
int zdc_turn_allocate(zdc_turn *t, uint64_t now_ns);

/* Deallocates: an allocated client sends a Refresh with LIFETIME 0 once (RFC 8656 §7.2) and
 * moves to CLOSED; afterwards nothing is sent and input is ignored. Idempotent. */
void zdc_turn_close(zdc_turn *t, uint64_t now_ns);

/* The transport to the server is gone (a TCP/TLS connection dropped or could not be made):
 * FAILED with `reason` (on_failed raised with err, code 0), unless already FAILED or CLOSED. */
void zdc_turn_abort(zdc_turn *t, int err, const char *reason);

/* Installs (and keeps renewing) a permission for peer's IP. Returns 0; ZDC_ERR_INVALID_STATE
 * (not ALLOCATED); ZDC_ERR_INVALID_PARAMETER (unset address); ZDC_ERR_QUEUE_FULL (too many
 * permissions). Repeating it for a known IP does nothing. */
int zdc_turn_permit(zdc_turn *t, const zdc_addr *peer, uint64_t now_ns);

/* Binds a channel to peer (and so also permits its IP). Returns 0 (also when already bound or
 * pending); ZDC_ERR_INVALID_STATE; ZDC_ERR_INVALID_PARAMETER; ZDC_ERR_QUEUE_FULL (no channel
 * or permission left). */
int zdc_turn_bind_channel(zdc_turn *t, const zdc_addr *peer, uint64_t now_ns);

/* Relays data to peer: ChannelData on a confirmed channel, else a Send indication (a
 * permission for the peer's IP is installed first if there is none). Returns 0;
 * ZDC_ERR_INVALID_STATE (not ALLOCATED); ZDC_ERR_TOO_LARGE (over 65535 - headers);
 * ZDC_ERR_QUEUE_FULL (no permission slot); ZDC_ERR_INVALID_PARAMETER. */
int zdc_turn_send(zdc_turn *t, const zdc_addr *peer, const uint8_t *p, size_t len, uint64_t now_ns);

/* One message from the server (a whole datagram, or one frame of a stream). Responses are
 * matched to outstanding requests and authenticated; Data indications and ChannelData are
 * handed to on_data. Returns 0 (consumed); ZDC_ERR_NOT_FOUND (not for this client: unknown
 * transaction or channel); ZDC_ERR_INTEGRITY (bad MESSAGE-INTEGRITY: dropped); a parse error;
 * ZDC_ERR_CLOSED (CLOSED or FAILED). */
int zdc_turn_handle_input(zdc_turn *t, const uint8_t *p, size_t len, uint64_t now_ns);

/* Absolute time of the next deadline, or UINT64_MAX when none. */
uint64_t zdc_turn_next_timeout(const zdc_turn *t);
/* Runs everything due at now_ns (retransmissions, refreshes, expiry). */
void zdc_turn_handle_timeout(zdc_turn *t, uint64_t now_ns);

/* ---- getters -------------------------------------------------------------------------- */

int zdc_turn_state(const zdc_turn *t);
/* The relayed address. Returns 0 or ZDC_ERR_NOT_FOUND (not allocated). */
int zdc_turn_relayed_address(const zdc_turn *t, zdc_addr *out);
/* Whether a permission for peer's IP is installed (confirmed by the server). */
bool zdc_turn_has_permission(const zdc_turn *t, const zdc_addr *peer);
/* The channel number bound (confirmed) to peer, or 0. */
uint16_t zdc_turn_channel(const zdc_turn *t, const zdc_addr *peer);
/* Why the client FAILED (ZDC_ERR_* code; 0 when it did not) and a readable reason. */
int zdc_turn_last_error(const zdc_turn *t, unsigned *code, const char **reason);
/* Absolute time the allocation expires unless refreshed (0 when not allocated). */
uint64_t zdc_turn_expiry(const zdc_turn *t);

#endif /* ZDC_CORE_TURN_H */
