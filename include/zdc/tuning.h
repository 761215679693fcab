/* zdc tuning: the timeouts and the per-peer memory a server sets (zdc_engine_options.tuning
 * for every peer of an engine, zdc_peer_config.tuning for one peer). */
#ifndef ZDC_TUNING_H
#define ZDC_TUNING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The SCTP implementation under the data channels (zdc_peer_tuning.sctp_impl, docs/sctp.md). */
enum zdc_sctp_impl {
    ZDC_SCTP_IMPL_DEFAULT = 0, /* the environment variable ZDC_SCTP=usrsctp|native decides;
                                  unset (or any other value): native */
    ZDC_SCTP_IMPL_NATIVE = 1,  /* zdc's own sans-IO SCTP (core/sctp) */
    ZDC_SCTP_IMPL_USRSCTP = 2, /* usrsctp (Debian's libusrsctp), zdc's SCTP before native */
};

/* Every field: 0 = inherit. In zdc_engine_options, 0 is the default named here; in
 * zdc_peer_config, 0 is the engine's value. */
typedef struct zdc_peer_tuning {
    /* ICE checking without a working pair: the connection goes FAILED after this long
     * (default 20000 ms; earlier when every pair failed after the remote's end-of-candidates,
     * a pair failing after ~9.5 s of unanswered checks). */
    uint32_t connect_timeout_ms;
    /* Consent freshness (RFC 7675): a check every consent_interval_ms x U[0.8, 1.2] on the
     * selected pair (default 5000); DISCONNECTED after disconnected_timeout_ms without an
     * answer (default 7000; back to CONNECTED on the next answer); FAILED after
     * failed_timeout_ms without one (default 30000, RFC 7675 §5.1's 30 s). A client that
     * vanishes is seen DISCONNECTED after disconnected_timeout_ms and FAILED after
     * failed_timeout_ms. disconnected_timeout_ms should exceed 1.2 x consent_interval_ms, or
     * one lost answer flaps the state. */
    uint32_t consent_interval_ms;
    uint32_t disconnected_timeout_ms;
    uint32_t failed_timeout_ms;
    /* Receive memory, bytes of messages received and not yet read (each counts its length
     * plus 64): per channel (default 1 MiB) and per peer (default 4 MiB). At a limit the peer
     * stops taking data from SCTP: its receive window closes and the sender waits. This is the
     * receive window a server tunes. */
    size_t max_receive_queue_channel;
    size_t max_receive_queue_peer;
    /* Send memory: bytes per channel waiting for SCTP (default 16 MiB); beyond it
     * zdc_channel_put_packet answers ZDC_ERR_QUEUE_FULL. */
    size_t max_send_queue_channel;
    /* Channels (SCTP streams) per peer, created or received (default and maximum 1024). */
    uint32_t max_channels;
    /* Tests: TURN allocations are refreshed and their permissions and channels renewed this
     * often (ms) instead of shortly before they expire (allocations last 600 s and more on
     * real servers), so a short run sees a real Refresh and CreatePermission. Default 0: the
     * normal schedule (docs/turn.md). */
    uint32_t turn_refresh_ms;
    /* SCTP implementation (enum zdc_sctp_impl; default ZDC_SCTP_IMPL_DEFAULT: the ZDC_SCTP
     * environment variable, else native). Taken when the transport starts (the first
     * offer/answer); a later zdc_peer_initialize does not switch a running association. An
     * engine with workers or an I/O thread runs native only (usrsctp keeps process-global
     * state): USRSCTP there is ZDC_ERR_NOT_SUPPORTED. */
    uint32_t sctp_impl;
} zdc_peer_tuning;

#ifdef __cplusplus
}
#endif

#endif /* ZDC_TUNING_H */
