/* zdc statistics: what a game or an operator watches on a connection (the subset of the W3C
 * RTCStatsReport that matters for data channels).
 *
 * zdc_peer_get_stats() and zdc_channel_get_stats() fill a caller-owned struct. They allocate
 * nothing and take no lock beyond the API's own, so calling them every frame is fine (cost: a
 * few hundred nanoseconds, mostly SCTP's status query).
 *
 * Versioning: set `size` to sizeof the struct before the call. zdc fills the fields that fit in
 * `size` bytes and writes back the size it filled, so a program built against an older header
 * keeps working with a newer library (fields are only ever added at the end), and a newer
 * program sees from `size` which fields an older library left at zero.
 *
 * Counting (docs/monitoring.md has the framing between the layers):
 *   bytes_sent/received, packets_sent/received: UDP payload bytes and datagrams of this peer
 *     — STUN (checks, consent) and DTLS records (handshake, SCTP inside). IP and UDP headers
 *     are not counted. W3C: RTCTransportStats bytesSent/bytesReceived.
 *   messages_sent/received, message_bytes_sent/received: data-channel messages and their
 *     payload bytes, summed over every channel the peer has had (W3C RTCDataChannelStats
 *     messagesSent/bytesSent, summed). A message counts as sent once SCTP took it; as received
 *     once it is complete and queued for the application.
 */
#ifndef ZDC_STATS_H
#define ZDC_STATS_H

#include "zdc/export.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "zdc/peer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Consent to send (RFC 7675) on the selected pair. */
enum zdc_consent_state {
    ZDC_CONSENT_NONE = 0,    /* no pair selected yet */
    ZDC_CONSENT_GRANTED = 1, /* the last answer is recent */
    ZDC_CONSENT_STALE = 2,   /* no answer for a while (connection DISCONNECTED); still sending */
    ZDC_CONSENT_EXPIRED = 3, /* 30 s without an answer: the connection failed */
};

/* Candidate types (as in zdc/candidate.h's enum zdc_cand_type), -1 = unknown. */
enum zdc_stats_candidate_type {
    ZDC_STATS_CAND_NONE = -1,
    ZDC_STATS_CAND_HOST = 0,
    ZDC_STATS_CAND_SRFLX = 1,
    ZDC_STATS_CAND_PRFLX = 2,
    ZDC_STATS_CAND_RELAY = 3,
};

/* Longest address text in the stats, with its NUL ("[" IPv6 "%" scope "]" is not used: the
 * address alone, IPv6 with its scope). */
#define ZDC_STATS_ADDR_LEN 64

typedef struct zdc_peer_stats {
    size_t size; /* in: sizeof(zdc_peer_stats) as the caller knows it; out: bytes filled */

    /* ---- transport: this peer's datagrams ---- */
    uint64_t bytes_sent, bytes_received;     /* UDP payload bytes: STUN and DTLS (through a
                                                TURN relay: what is relayed, not the framing) */
    uint64_t packets_sent, packets_received; /* datagrams */

    /* ---- data channels, summed ---- */
    uint64_t messages_sent, messages_received;
    uint64_t message_bytes_sent, message_bytes_received; /* message payload bytes */
    uint32_t channels_opened, channels_closed;           /* W3C dataChannelsOpened/Closed */

    /* ---- round-trip time, microseconds; 0 = no sample yet ---- */
    uint32_t ice_rtt_us;  /* the last answered ICE check or consent check on the selected pair
                             (never a retransmitted one: its answer is ambiguous) */
    uint32_t sctp_rtt_us; /* SCTP's smoothed RTT (RFC 9260 §6.3.1) on the association */

    /* ---- the selected candidate pair (W3C RTCIceCandidatePairStats) ---- */
    int has_selected_pair; /* 0 until ICE selected one; the fields below are then empty */
    char local_address[ZDC_STATS_ADDR_LEN];
    uint16_t local_port;
    int local_candidate_type; /* enum zdc_stats_candidate_type */
    char remote_address[ZDC_STATS_ADDR_LEN];
    uint16_t remote_port;
    int remote_candidate_type;
    char protocol[4]; /* "udp" */

    /* ---- ICE ---- */
    int ice_role;            /* 0 controlling, 1 controlled, -1 no ICE agent yet */
    int ice_state;           /* enum zdc_connection_state of the peer, for convenience */
    int consent_state;       /* enum zdc_consent_state */
    uint32_t consent_age_ms; /* since the last answer on the selected pair (0 if none) */

    /* ---- DTLS ---- */
    char dtls_version[16]; /* "DTLSv1.2", "" before the handshake completed */
    char dtls_cipher[64];  /* OpenSSL's name, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256", or "" */
    int dtls_role;         /* 0 client, 1 server, -1 not known yet */

    /* ---- SCTP ---- */
    int sctp_up;                     /* 1 while the association is established */
    uint32_t sctp_cwnd;              /* congestion window, bytes */
    uint32_t sctp_rwnd;              /* the peer's receive window as last advertised, bytes */
    uint32_t sctp_outstanding_bytes; /* bytes SCTP holds for sending: in flight, not yet
                                        acknowledged, or not yet sent */
    uint32_t sctp_unacked_chunks;    /* DATA chunks sent and not yet acknowledged */
    uint64_t sctp_retransmissions;   /* DATA chunks sent again (timeout or fast retransmit) */
    uint64_t sctp_abandoned;         /* messages given up by partial reliability (RFC 3758) */
    uint32_t sctp_mtu;               /* path MTU SCTP uses, bytes */

    /* ---- the STUN part of the transport counters above (checks, consent, their answers);
     * the rest is DTLS: bytes_sent - stun_bytes_sent is what browsers count as the candidate
     * pair's bytesSent (W3C: "not including ... ICE connectivity checks") ---- */
    uint64_t stun_bytes_sent, stun_bytes_received;
    uint64_t stun_packets_sent, stun_packets_received;

    /* ---- the relay under a relayed selected pair (W3C RTCIceCandidateStats.relayProtocol):
     * how we reach the TURN server ---- */
    char relay_protocol[4]; /* "udp", "tcp" or "tls"; "" when the local candidate is not ours
                               relayed */
    char relay_tls[96];     /* TLS: version, cipher and the record path, e.g. "TLSv1.3,
                               TLS_AES_128_GCM_SHA256, kTLS: tx/rx" or "..., kTLS: not available
                               (the kernel has no tls module)"; "" otherwise */
} zdc_peer_stats;

/* Fills *out (see the top for `size`). Works in every state; counters keep their values after
 * the connection failed or closed.
 * Returns 0; ZDC_ERR_GONE (stale handle); ZDC_ERR_INVALID_PARAMETER (out NULL, or out->size
 * smaller than offsetof(zdc_peer_stats, bytes_sent) + 8); ZDC_ERR_NOT_SUPPORTED (an
 * implementation other than zdc's own that has no stats). */
ZDC_API int zdc_peer_get_stats(zdc_peer peer, zdc_peer_stats *out);

/* The remote end of the selected candidate pair as a socket address: where the player's
 * datagrams come from now (their public address and port, or their TURN relay's when the pair
 * is relayed: the remote candidate type in zdc_peer_get_stats tells). Follows NAT rebinding
 * and ICE restarts. For ban lists, rate limits per address, geolocation.
 * *len is set to the address's length (sizeof(struct sockaddr_in) or _in6).
 * Returns 0; ZDC_ERR_GONE (stale handle); ZDC_ERR_INVALID_PARAMETER (out or len NULL);
 * ZDC_ERR_INVALID_STATE (no pair selected yet: before ICE connected); ZDC_ERR_NOT_SUPPORTED
 * (an implementation with no stats). */
ZDC_API int zdc_peer_get_remote_address(zdc_peer peer, struct sockaddr_storage *out,
                                        socklen_t *len);

typedef struct zdc_channel_stats {
    size_t size;       /* as in zdc_peer_stats */
    const char *label; /* valid until the channel is released; "" if none */
    const char *protocol;
    int id;    /* SCTP stream id, -1 until the DTLS role is known */
    int state; /* enum zdc_channel_state */
    uint64_t messages_sent, messages_received;
    uint64_t bytes_sent, bytes_received; /* message payload bytes */
    size_t buffered_amount;              /* bytes queued for sending, not yet taken by SCTP */
    size_t messages_waiting;             /* received and not yet read by the application */
    size_t bytes_waiting;                /* their payload bytes */
} zdc_channel_stats;

/* Fills *out. Returns 0; ZDC_ERR_GONE; ZDC_ERR_INVALID_PARAMETER (out NULL or size too small);
 * ZDC_ERR_NOT_SUPPORTED (another implementation without stats). */
ZDC_API int zdc_channel_get_stats(zdc_channel ch, zdc_channel_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_STATS_H */
