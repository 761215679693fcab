/* zdc — demultiplexing datagrams on one 5-tuple by their first byte (RFC 7983 §7 as updated
 * by RFC 9443 §5), sans-IO.
 *
 *   first byte  0..3    STUN          accepted if >= 20 bytes with the magic cookie
 *              16..19   ZRTP          dropped
 *              20..63   DTLS          accepted if >= 13 bytes (one record header)
 *              64..79   TURN channel  dropped (zdc is not a TURN client on this path)
 *             128..191  RTP / RTCP    dropped (data channels only, no media)
 *             192..255  QUIC          dropped
 *   anything else (4..15, 80..127) and empty datagrams: unknown, dropped.
 *
 * A data-channel-only stack processes STUN and DTLS and drops the rest; each dropped kind has
 * its own class so the engine can count them separately.
 */
#ifndef ZDC_DEMUX_H
#define ZDC_DEMUX_H

#include "zdc/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum zdc_demux_class {
    ZDC_DEMUX_UNKNOWN = 0,  /* empty, or a first byte no protocol is assigned */
    ZDC_DEMUX_STUN,         /* process: STUN message (ICE checks, binding responses) */
    ZDC_DEMUX_DTLS,         /* process: DTLS record(s) */
    ZDC_DEMUX_STUN_INVALID, /* STUN range but shorter than 20 bytes or no magic cookie */
    ZDC_DEMUX_DTLS_INVALID, /* DTLS range but shorter than a 13-byte record header */
    ZDC_DEMUX_ZRTP,
    ZDC_DEMUX_TURN_CHANNEL,
    ZDC_DEMUX_RTP, /* RTP or RTCP */
    ZDC_DEMUX_QUIC,
    ZDC_DEMUX_CLASS_COUNT /* number of classes, for counter arrays */
};

#define ZDC_DEMUX_STUN_HEADER_LEN   20
#define ZDC_DEMUX_STUN_MAGIC_COOKIE 0x2112A442u
#define ZDC_DEMUX_DTLS_HEADER_LEN   13

/* Classifies a datagram. Never reads past p[len-1]; p may be NULL when len is 0. */
ZDC_API enum zdc_demux_class zdc_demux_classify(const uint8_t *p, size_t len);

/* True for the classes a data-channel stack processes (STUN, DTLS); false means drop. */
ZDC_API bool zdc_demux_is_processed(enum zdc_demux_class c);

/* A short lowercase name ("stun", "dtls", "rtp", ...) for logs and counters; never NULL. */
ZDC_API const char *zdc_demux_class_name(enum zdc_demux_class c);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_DEMUX_H */
