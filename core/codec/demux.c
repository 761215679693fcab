/* First-byte demultiplexing, RFC 7983 §7 with the RFC 9443 §5 ranges:
 *
 *                  +----------------+
 *                  |        [0..3] -+--> forward to STUN
 *                  |       [16..19] -+--> forward to ZRTP
 *      packet -->  |       [20..63] -+--> forward to DTLS
 *                  |       [64..79] -+--> forward to TURN Channel
 *                  |     [128..191] -+--> forward to RTP/RTCP
 *                  |     [192..255] -+--> forward to QUIC
 *                  +----------------+
 */
#include "zdc/demux.h"

#include "bytes.h"

enum zdc_demux_class zdc_demux_classify(const uint8_t *p, size_t len)
{
    if (len == 0)
        return ZDC_DEMUX_UNKNOWN;
    uint8_t b = p[0];
    if (b <= 3) {
        /* RFC 8489 §5: a STUN header is 20 bytes and carries the fixed magic cookie, which
         * tells STUN apart from anything else starting with 0..3. */
        if (len < ZDC_DEMUX_STUN_HEADER_LEN || zdc_load_u32(p + 4) != ZDC_DEMUX_STUN_MAGIC_COOKIE)
            return ZDC_DEMUX_STUN_INVALID;
        return ZDC_DEMUX_STUN;
    }
    if (b >= 16 && b <= 19)
        return ZDC_DEMUX_ZRTP;
    if (b >= 20 && b <= 63) {
        /* RFC 6347 §4.1: a DTLS record header is 13 bytes. */
        return len < ZDC_DEMUX_DTLS_HEADER_LEN ? ZDC_DEMUX_DTLS_INVALID : ZDC_DEMUX_DTLS;
    }
    if (b >= 64 && b <= 79)
        return ZDC_DEMUX_TURN_CHANNEL;
    if (b >= 128 && b <= 191)
        return ZDC_DEMUX_RTP;
    if (b >= 192)
        return ZDC_DEMUX_QUIC;
    return ZDC_DEMUX_UNKNOWN; /* 4..15, 80..127 */
}

bool zdc_demux_is_processed(enum zdc_demux_class c)
{
    return c == ZDC_DEMUX_STUN || c == ZDC_DEMUX_DTLS;
}

const char *zdc_demux_class_name(enum zdc_demux_class c)
{
    static const char *const names[ZDC_DEMUX_CLASS_COUNT] = {
        [ZDC_DEMUX_UNKNOWN] = "unknown",
        [ZDC_DEMUX_STUN] = "stun",
        [ZDC_DEMUX_DTLS] = "dtls",
        [ZDC_DEMUX_STUN_INVALID] = "stun-invalid",
        [ZDC_DEMUX_DTLS_INVALID] = "dtls-invalid",
        [ZDC_DEMUX_ZRTP] = "zrtp",
        [ZDC_DEMUX_TURN_CHANNEL] = "turn-channel",
        [ZDC_DEMUX_RTP] = "rtp",
        [ZDC_DEMUX_QUIC] = "quic",
    };
    if ((unsigned)c >= ZDC_DEMUX_CLASS_COUNT)
        return "invalid-class";
    return names[c];
}
