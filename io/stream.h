/* A TCP or TLS connection to a TURN server (RFC 8656 §3.1, RFC 6062 framing): non-blocking,
 * driven by readiness (the engine polls zdc_stream_fd for zdc_stream_events), with bounded
 * buffers and a connect deadline.
 *
 *   CONNECTING (TCP) --connected--> HANDSHAKING (TLS only) --done--> OPEN
 *        |                               |                             |
 *        +----- timeout, refused, certificate not verified, dropped ---+--> FAILED
 *
 * Messages given to zdc_stream_send are queued (also while connecting) and written in order;
 * what arrives is cut into whole STUN and ChannelData messages (zdc_turn_stream_frame) and
 * handed to on_message one at a time. Every failure is reported once through on_failed with a
 * readable reason; the stream then does nothing more until freed.
 *
 * TLS: OpenSSL over the socket, TLS 1.2 or later, SSL_OP_ENABLE_KTLS requested. The kernel
 * takes the record layer over when it has the tls module and the cipher suits it; otherwise
 * OpenSSL does it in user space. zdc_stream_ktls says which happened. Verification: the
 * system trust store and the server name (SNI), or a pinned SHA-256 certificate fingerprint,
 * or none (tests). */
#ifndef ZDC_IO_STREAM_H
#define ZDC_IO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "log.h"

enum zdc_stream_state {
    ZDC_STREAM_CONNECTING = 0,
    ZDC_STREAM_HANDSHAKING = 1,
    ZDC_STREAM_OPEN = 2,
    ZDC_STREAM_FAILED = 3,
};

/* Default bounds. */
#define ZDC_STREAM_CONNECT_TIMEOUT_MS 10000
#define ZDC_STREAM_MAX_TX             (256u * 1024u)

typedef struct zdc_stream zdc_stream;

typedef struct zdc_stream_config {
    zdc_addr server;
    bool tls;
    const char *server_name;     /* TLS: name to verify and send as SNI; NULL/"" or an IP literal:
                                    the server's IP is verified, no SNI */
    const char *fingerprint;     /* TLS: "sha-256 AB:CD:..." or 64 hex digits: pinned instead */
    bool insecure;               /* TLS: no verification (tests) */
    uint32_t connect_timeout_ms; /* TCP connect and TLS handshake; 0 = 10000 */
    size_t max_tx;               /* bytes queued at most; 0 = 256 KiB */
    const zdc_log_ctx *log;      /* component "turn"; NULL = silent */
    void *user;
    /* One whole message (STUN, or ChannelData with its padding). May call zdc_stream_send. */
    void (*on_message)(void *user, const uint8_t *p, size_t len);
    /* Optional: the stream is OPEN; info (TLS: "TLSv1.3, <cipher>, kTLS: ...", TCP: "") is
     * valid during the call. */
    void (*on_open)(void *user, const char *info);
    /* The stream failed (state FAILED); reason is valid during the call. */
    void (*on_failed)(void *user, const char *reason);
} zdc_stream_config;

/* Starts connecting (a non-blocking connect). Returns 0, ZDC_ERR_INVALID_PARAMETER (no server,
 * a fingerprint that is not 32 bytes of hex, missing callbacks), ZDC_ERR_NOMEM, ZDC_ERR_IO (no
 * socket, TLS context refused) or ZDC_ERR_NETWORK_UNREACHABLE-like errors as ZDC_ERR_IO. */
int zdc_stream_new(const zdc_stream_config *cfg, uint64_t now_ns, zdc_stream **out);
/* Writes what is queued if the socket takes it at once (a deallocation queued last), then
 * closes and frees. NULL is fine. */
void zdc_stream_free(zdc_stream *s);

/* Queues one message. Returns 0; ZDC_ERR_QUEUE_FULL (beyond max_tx: dropped, as a lost
 * datagram); ZDC_ERR_CLOSED (FAILED); ZDC_ERR_INVALID_PARAMETER. */
int zdc_stream_send(zdc_stream *s, const uint8_t *p, size_t len);

/* The socket and the poll(2) events it waits for (POLLIN and/or POLLOUT; 0 once FAILED). */
int zdc_stream_fd(const zdc_stream *s);
short zdc_stream_events(const zdc_stream *s);
/* The socket polled `revents`: connects, handshakes, reads and writes what it can. */
void zdc_stream_handle_io(zdc_stream *s, short revents, uint64_t now_ns);

/* Connect/handshake deadline (UINT64_MAX: none) and running it. */
uint64_t zdc_stream_deadline(const zdc_stream *s);
void zdc_stream_handle_timeout(zdc_stream *s, uint64_t now_ns);

int zdc_stream_state(const zdc_stream *s);
/* "kTLS: tx/rx", "kTLS: tx", "kTLS: rx" or "kTLS: not available (why)" once a TLS stream is
 * OPEN; "" before and for TCP. */
const char *zdc_stream_ktls(const zdc_stream *s);
/* Bytes queued and not yet written. */
size_t zdc_stream_queued(const zdc_stream *s);

#endif /* ZDC_IO_STREAM_H */
