/* DTLS stage: DTLS 1.2 over OpenSSL 3, sans-IO.
 *
 * Datagrams come in through zdc_dtls_handle_datagram(), datagrams go out through the
 * `send` callback, decrypted application data (SCTP packets) comes out through `on_data`.
 * Nothing here opens a socket or reads the loop's clock; the loop passes `now_ns` (any
 * monotonic nanosecond clock) into every call that can arm or fire a timer.
 *
 * Profile (what WebRTC peers expect, RFC 8827 §6.5, RFC 8842):
 *   - DTLS 1.2 only. A ClientHello offering DTLS 1.3 (supported_versions) negotiates 1.2.
 *   - use_srtp (RFC 5764 §4.1.1) as browsers do it: a client offers SRTP_AEAD_AES_128_GCM and
 *     SRTP_AES128_CM_SHA1_80, a server selects the first of those the client offered. No SRTP
 *     keys are ever exported: the extension is there because peers such as Pion fail the
 *     connection when no profile was chosen. A peer that offers or selects none still connects.
 *   - Records: after the handshake zdc seals and opens them itself (dtls_record.h; the
 *     hand-off is in docs/dtls-records.md); ZDC_DTLS_RECORDS=openssl keeps OpenSSL's.
 *   - Ciphers ECDHE-ECDSA-AES128-GCM-SHA256 (preferred), ECDHE-ECDSA-AES256-GCM-SHA384,
 *     ECDHE-ECDSA-CHACHA20-POLY1305; groups X25519, P-256; no session resumption, no
 *     renegotiation, no cookie exchange (ICE has already validated the path).
 *   - A certificate is required from both sides; trust comes only from the fingerprint in
 *     the remote SDP (RFC 8122 §5), checked on the leaf certificate while the handshake runs:
 *     a mismatch aborts the handshake (state FAILED, error ZDC_ERR_FINGERPRINT) before any
 *     application data can be exchanged.
 *
 * Time. OpenSSL 3.0 keeps its DTLS retransmission timer on gettimeofday() internally and
 * offers no way to pass time in; only the timer *durations* can be chosen (DTLS_set_timer_cb).
 * zdc owns the policy: it picks every duration (initial `rto_initial_ms`, doubled per timeout,
 * capped at 60 s, RFC 6347 §4.2.4.1) and computes the deadline it reports from the `now_ns`
 * of the call in which OpenSSL armed the timer: deadline = now_ns + duration. OpenSSL's own
 * deadline is gettimeofday() + the same duration, so the two agree to within the lag between
 * the loop's clock sample and the call. zdc_dtls_handle_timeout() asks OpenSSL to retransmit
 * once now_ns reaches zdc's deadline; OpenSSL counts anything less than 15 ms early as
 * expired, and if OpenSSL's clock still says "not yet" nothing is sent and the deadline is
 * moved to now_ns + OpenSSL's remaining time, so a loop never spins and never misses a
 * retransmission. Consequences to know: (1) with a simulated clock that runs ahead of real
 * time OpenSSL will not retransmit early (tests substitute gettimeofday, see dtls_test.c);
 * (2) OpenSSL retransmits by itself when its real-time timer has expired and a datagram is
 * being processed; zdc then re-derives the deadline from that call's now_ns.
 *
 * Randomness and wall-clock: key generation, the certificate serial, handshake randoms and
 * nonces come from OpenSSL's DRBG, and the certificate's validity from the wall clock
 * (X509_gmtime_adj); these are the cryptographic library's business, not protocol state.
 *
 * Threads: an endpoint is used by one thread at a time. A certificate (and its SSL_CTX) may be
 * shared by endpoints on different threads; its reference count is atomic.
 */
#ifndef ZDC_CORE_DTLS_H
#define ZDC_CORE_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "zdc/error.h"

/* ---- certificate ----------------------------------------------------------------------- */

#define ZDC_DTLS_SHA256_LEN 32
/* "AB:CD:...:EF" for 32 bytes: 32 * 3 - 1 = 95 characters, plus the terminating NUL. */
#define ZDC_DTLS_FP_TEXT_SIZE 96

typedef struct zdc_dtls_cert zdc_dtls_cert;

/* Generates an ECDSA P-256 key and a self-signed X.509v3 certificate (random 64-bit serial,
 * subject = issuer = CN "zdc", valid from one day ago for 30 days, SHA-256 signature), and the
 * SSL_CTX every endpoint using this certificate shares. Generate once per engine.
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (out NULL), ZDC_ERR_NOMEM or ZDC_ERR_CRYPTO. */
int zdc_dtls_cert_new(zdc_dtls_cert **out);

/* Takes another reference (for an owner besides the endpoints, e.g. a peer connection that
 * needs the fingerprint before it creates its endpoint). Drop it with zdc_dtls_cert_free. */
void zdc_dtls_cert_ref(zdc_dtls_cert *c);

/* Drops the caller's reference. The certificate lives on until the last endpoint created with
 * it is freed. NULL is ignored. */
void zdc_dtls_cert_free(zdc_dtls_cert *c);

/* SHA-256 fingerprint of the DER certificate: 32 bytes. */
const uint8_t *zdc_dtls_cert_fingerprint(const zdc_dtls_cert *c);

/* The same fingerprint in SDP form (RFC 8122 §5): 95 characters, uppercase hex bytes
 * separated by colons, NUL-terminated. Valid while the certificate lives. */
const char *zdc_dtls_cert_fingerprint_text(const zdc_dtls_cert *c);

/* ---- fingerprints ---------------------------------------------------------------------- */

typedef enum zdc_dtls_hash {
    ZDC_DTLS_HASH_SHA1 = 1,
    ZDC_DTLS_HASH_SHA256,
    ZDC_DTLS_HASH_SHA384,
    ZDC_DTLS_HASH_SHA512,
} zdc_dtls_hash;

#define ZDC_DTLS_FP_MAX 64

typedef struct zdc_dtls_fingerprint {
    zdc_dtls_hash hash;
    uint8_t len; /* must equal the hash's output size */
    uint8_t bytes[ZDC_DTLS_FP_MAX];
} zdc_dtls_fingerprint;

/* Parses an a=fingerprint value: `hash` is the hash-func token ("sha-256"; compared without
 * regard to case, RFC 8122 §5), `text` the fingerprint ("AB:CD:..."; uppercase per the RFC's
 * grammar, lowercase accepted because deployed stacks send it). sha-1, sha-256, sha-384 and
 * sha-512 are accepted. Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL), ZDC_ERR_NOT_SUPPORTED
 * (other hash, e.g. md5 — RFC 8122 §5 forbids MD5/MD2 anyway) or ZDC_ERR_MALFORMED (text is
 * not exactly the hash's size in colon-separated hex pairs). `fp` is written only on success. */
int zdc_dtls_fingerprint_parse(zdc_dtls_fingerprint *fp, const char *hash, size_t hash_len,
                               const char *text, size_t text_len);

/* The certificate's fingerprint with any supported hash (for an a=fingerprint line with
 * another hash, and for tests). Returns 0, ZDC_ERR_INVALID_PARAMETER or ZDC_ERR_CRYPTO. */
int zdc_dtls_cert_digest(const zdc_dtls_cert *c, zdc_dtls_hash hash, zdc_dtls_fingerprint *out);

/* ---- endpoint -------------------------------------------------------------------------- */

typedef enum zdc_dtls_role {
    ZDC_DTLS_CLIENT = 1, /* a=setup:active  — sends the ClientHello */
    ZDC_DTLS_SERVER = 2, /* a=setup:passive — waits for it */
} zdc_dtls_role;

typedef enum zdc_dtls_state {
    ZDC_DTLS_NEW = 0,
    ZDC_DTLS_CONNECTING,
    ZDC_DTLS_CONNECTED,
    ZDC_DTLS_FAILED, /* zdc_dtls_error() says why */
    ZDC_DTLS_CLOSED, /* close_notify sent or received */
} zdc_dtls_state;

#define ZDC_DTLS_DEFAULT_MTU     1200
#define ZDC_DTLS_DEFAULT_RTO_MS  1000 /* RFC 6347 §4.2.4.1: initial timer 1 s */
#define ZDC_DTLS_MIN_RTO_MS      50   /* OpenSSL treats < 15 ms left as expired; stay clear */
#define ZDC_DTLS_MAX_RTO_MS      60000
#define ZDC_DTLS_DEFAULT_RETRIES 7
#define ZDC_DTLS_NO_TIMEOUT      UINT64_MAX

/* Who protects application records once the handshake is complete (docs/dtls-records.md). */
typedef enum zdc_dtls_records {
    ZDC_DTLS_RECORDS_DEFAULT = 0, /* the build's default: zdc's */
    ZDC_DTLS_RECORDS_OPENSSL,     /* OpenSSL's record layer throughout */
    ZDC_DTLS_RECORDS_ZDC,         /* zdc's (dtls_record.h) after the hand-off */
} zdc_dtls_records;

typedef struct zdc_dtls_config {
    zdc_dtls_role role;
    zdc_dtls_cert *cert;            /* our certificate; a reference is taken */
    zdc_dtls_fingerprint remote_fp; /* from the remote SDP's a=fingerprint */
    uint16_t mtu;                   /* largest datagram sent; 0 = ZDC_DTLS_DEFAULT_MTU */
    uint32_t rto_initial_ms;        /* 0 = default; clamped to [MIN_RTO, MAX_RTO] */
    uint8_t max_retransmits;        /* per flight before FAILED/TIMEOUT; 0 = default */
    /* One whole datagram to put on the wire. Called from inside any endpoint call; must not
     * call back into this endpoint. The return value is ignored (DTLS recovers lost
     * datagrams by retransmission). Required. */
    int (*send)(void *user, const uint8_t *p, size_t len);
    /* One decrypted application-data record. `p` is valid only during the call. May call
     * zdc_dtls_send() on the same endpoint, not zdc_dtls_free(). Required. */
    void (*on_data)(void *user, const uint8_t *p, size_t len);
    void *user;
    /* Optional log context (must outlive the endpoint); NULL is silent. A failure logs its
     * reason at ERROR (fingerprint mismatch, alert received, timeout); alerts received at WARN
     * (close_notify at INFO), the handshake's end at INFO. */
    const zdc_log_ctx *log;
    /* zdc_dtls_config_default() sets it from the environment: ZDC_DTLS_RECORDS=zdc|openssl. */
    zdc_dtls_records records;
    /* OpenSSL cipher list replacing the profile's (tests, diagnostics); NULL = the profile's.
     * An invalid or empty list makes zdc_dtls_new() fail with ZDC_ERR_INVALID_PARAMETER. */
    const char *cipher_list;
} zdc_dtls_config;

typedef struct zdc_dtls zdc_dtls;

/* Zeroes `cfg` (every size and timer at its default) and reads ZDC_DTLS_RECORDS. */
void zdc_dtls_config_default(zdc_dtls_config *cfg);

/* Creates an endpoint in state NEW. Returns 0, ZDC_ERR_INVALID_PARAMETER (missing cert or
 * callback, bad role, fingerprint length not matching its hash, mtu below 256),
 * ZDC_ERR_NOT_SUPPORTED (fingerprint hash) or ZDC_ERR_NOMEM / ZDC_ERR_CRYPTO. */
int zdc_dtls_new(const zdc_dtls_config *cfg, zdc_dtls **out);

/* Frees the endpoint without sending anything (call zdc_dtls_close() first for a polite
 * close). NULL is ignored. */
void zdc_dtls_free(zdc_dtls *d);

/* NEW -> CONNECTING. A client sends its ClientHello (through `send`) and arms the timer; a
 * server just starts accepting datagrams (it also moves to CONNECTING on its first datagram).
 * Returns 0, ZDC_ERR_INVALID_STATE (not NEW) or the failure code if the endpoint failed. */
int zdc_dtls_start(zdc_dtls *d, uint64_t now_ns);

/* Feeds one received datagram (one UDP payload that RFC 7983 demux classified as DTLS; it
 * may hold several records). May send datagrams and deliver application data.
 * Malformed datagrams, records that fail authentication, and unauthenticated (epoch 0)
 * alerts are dropped without effect; see the policy in dtls.c.
 * Returns 0 (processed or dropped), ZDC_ERR_CLOSED (endpoint FAILED or CLOSED: ignored),
 * ZDC_ERR_INVALID_PARAMETER (NULL with len > 0), or, when this datagram made the endpoint
 * fail, the failure code (ZDC_ERR_FINGERPRINT, ZDC_ERR_PROTOCOL, ZDC_ERR_CRYPTO, ...). */
int zdc_dtls_handle_datagram(zdc_dtls *d, const uint8_t *p, size_t len, uint64_t now_ns);

/* Encrypts `len` bytes of application data (one SCTP packet) into one record in one
 * datagram. len 0 sends nothing (OpenSSL does not emit empty records) and returns 0.
 * Returns 0, ZDC_ERR_INVALID_STATE (not CONNECTED), ZDC_ERR_TOO_LARGE (len >
 * zdc_dtls_max_payload(); nothing sent), ZDC_ERR_INVALID_PARAMETER or ZDC_ERR_CRYPTO. */
int zdc_dtls_send(zdc_dtls *d, const uint8_t *p, size_t len);

/* Largest application payload zdc_dtls_send() accepts with the negotiated cipher and MTU
 * (0 before CONNECTED). */
size_t zdc_dtls_max_payload(const zdc_dtls *d);

/* Absolute deadline (same clock as now_ns) of the retransmission timer, or
 * ZDC_DTLS_NO_TIMEOUT when none is armed. */
uint64_t zdc_dtls_next_timeout(const zdc_dtls *d);

/* Runs the timer: if now_ns has reached the deadline, retransmits the last flight and arms the
 * next (doubled) interval, or fails the endpoint with ZDC_ERR_TIMEOUT after max_retransmits.
 * Calling early or with no timer armed does nothing. Returns 0, ZDC_ERR_CLOSED (FAILED or
 * CLOSED) or the failure code when this call made the endpoint fail. */
int zdc_dtls_handle_timeout(zdc_dtls *d, uint64_t now_ns);

/* Sends close_notify (if the handshake completed) and moves to CLOSED; later datagrams are
 * ignored. Returns 0 or ZDC_ERR_CLOSED (already FAILED or CLOSED). */
int zdc_dtls_close(zdc_dtls *d);

zdc_dtls_state zdc_dtls_get_state(const zdc_dtls *d);

/* Why the endpoint FAILED: ZDC_ERR_FINGERPRINT (remote certificate does not match the SDP
 * fingerprint), ZDC_ERR_TIMEOUT (retransmissions exhausted), ZDC_ERR_PROTOCOL (the peer sent
 * a fatal authenticated alert or broke the protocol), ZDC_ERR_CRYPTO (local OpenSSL failure)
 * or ZDC_ERR_NOMEM; 0 otherwise. */
int zdc_dtls_error(const zdc_dtls *d);

/* Negotiated cipher (OpenSSL name, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256") and protocol
 * ("DTLSv1.2"), or NULL before CONNECTED. Static strings. */
const char *zdc_dtls_cipher(const zdc_dtls *d);
const char *zdc_dtls_version(const zdc_dtls *d);

/* The SRTP protection profile the handshake selected through use_srtp (RFC 5764), e.g.
 * "SRTP_AEAD_AES_128_GCM"; NULL before CONNECTED or when the peer offered none of ours. zdc
 * offers SRTP_AEAD_AES_128_GCM and SRTP_AES128_CM_SHA1_80 (as browsers do) and selects one as
 * server, but never keys SRTP: the extension is there because peers such as Pion require a
 * profile to be chosen. Static string. */
const char *zdc_dtls_srtp_profile(const zdc_dtls *d);

/* Counters, for tests and diagnostics. */
typedef struct zdc_dtls_stats {
    uint64_t datagrams_in;
    uint64_t datagrams_dropped; /* malformed framing, or arriving while FAILED/CLOSED */
    uint64_t alerts_ignored;    /* unauthenticated epoch-0 alerts not acted upon */
    uint64_t datagrams_out;
    uint64_t retransmits;       /* timer expiries that resent a flight */
    uint8_t last_ignored_alert; /* AlertDescription of the last ignored alert (RFC 5246 §7.2) */
    /* zdc's record layer (after the hand-off): records dropped for failing authentication,
     * and as replays (RFC 6347 §4.1.2.6). */
    uint64_t records_auth_failed;
    uint64_t records_replayed;
} zdc_dtls_stats;

/* Where the hand-off to zdc's record layer stands (ZDC_DTLS_RECORDS_ZDC). */
typedef enum zdc_dtls_records_phase {
    ZDC_DTLS_PHASE_OPENSSL = 0, /* OpenSSL reads and writes every record */
    ZDC_DTLS_PHASE_ZDC_READS,   /* zdc opens application records, OpenSSL still writes */
    ZDC_DTLS_PHASE_ZDC,         /* zdc reads and writes; the SSL object is freed */
} zdc_dtls_records_phase;

zdc_dtls_records_phase zdc_dtls_get_records_phase(const zdc_dtls *d);

void zdc_dtls_get_stats(const zdc_dtls *d, zdc_dtls_stats *st);

#endif /* ZDC_CORE_DTLS_H */
