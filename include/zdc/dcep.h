/* zdc — Data Channel Establishment Protocol messages (RFC 8832) and WebRTC SCTP payload
 * protocol identifiers (RFC 8831 §8), sans-IO.
 *
 * DATA_CHANNEL_OPEN (RFC 8832 §5.1):
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |  Message Type |  Channel Type |            Priority           |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                    Reliability Parameter                      |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |         Label Length          |       Protocol Length         |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   \                             Label                             /
 *   \                            Protocol                           /
 *
 * DATA_CHANNEL_ACK (RFC 8832 §5.2) is the single byte 0x02.
 */
#ifndef ZDC_DCEP_H
#define ZDC_DCEP_H

#include "zdc/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* SCTP payload protocol identifiers (RFC 8831 §8, RFC 8832 §8.1). */
enum zdc_ppid {
    ZDC_PPID_DCEP = 50,
    ZDC_PPID_STRING = 51,
    ZDC_PPID_BINARY_PARTIAL = 52, /* deprecated: accept on receive, never send */
    ZDC_PPID_BINARY = 53,
    ZDC_PPID_STRING_PARTIAL = 54, /* deprecated: accept on receive, never send */
    ZDC_PPID_STRING_EMPTY = 56,
    ZDC_PPID_BINARY_EMPTY = 57,
};

/* RFC 8832 §8.2.1 message types. */
enum zdc_dcep_msg_type {
    ZDC_DCEP_ACK = 0x02,
    ZDC_DCEP_OPEN = 0x03,
};

/* RFC 8832 §5.1 / §8.2.2 channel types. Bit 0x80 = unordered. */
enum zdc_dcep_channel_type {
    ZDC_DCEP_RELIABLE = 0x00,
    ZDC_DCEP_RELIABLE_UNORDERED = 0x80,
    ZDC_DCEP_PARTIAL_RELIABLE_REXMIT = 0x01,
    ZDC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED = 0x81,
    ZDC_DCEP_PARTIAL_RELIABLE_TIMED = 0x02,
    ZDC_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED = 0x82,
};

/* Size of a DATA_CHANNEL_OPEN without label and protocol. */
#define ZDC_DCEP_OPEN_HEADER_LEN 12

/* A DATA_CHANNEL_OPEN. After parsing, label and protocol are views into the parsed buffer
 * (not NUL-terminated, valid as long as that buffer; NULL when the length is 0). */
typedef struct zdc_dcep_open {
    uint8_t channel_type; /* enum zdc_dcep_channel_type */
    uint16_t priority;    /* RFC 8832 §5.1, e.g. 128 below-normal, 256 normal, 512, 1024 */
    uint32_t reliability; /* retransmissions or lifetime in ms; 0 for reliable types */
    const uint8_t *label; /* UTF-8 (not validated), label_len bytes */
    uint16_t label_len;
    const uint8_t *protocol; /* UTF-8 (not validated), protocol_len bytes */
    uint16_t protocol_len;
} zdc_dcep_open;

/* A parsed DCEP message: type says which member is meaningful (ACK has no content). */
typedef struct zdc_dcep_msg {
    uint8_t type; /* enum zdc_dcep_msg_type */
    zdc_dcep_open open;
} zdc_dcep_msg;

/* The channel's reliability as the data-channel API describes it (W3C RTCDataChannelInit). */
typedef struct zdc_dcep_reliability {
    bool ordered;
    bool has_max_retransmits;
    uint32_t max_retransmits;
    bool has_max_packet_life_time;
    uint32_t max_packet_life_time; /* milliseconds */
} zdc_dcep_reliability;

/* Parses one DCEP message (the payload of an SCTP message with PPID 50).
 * Returns 0 with *out filled, or:
 *   ZDC_ERR_TRUNCATED  empty input, or it ends before the header or the announced label /
 *                      protocol bytes are complete.
 *   ZDC_ERR_MALFORMED  unknown message type or channel type, or bytes after an OPEN. Bytes
 *                      after an ACK's type byte are ignored (Pion pads its ACK to 4 bytes).
 *   ZDC_ERR_INVALID_PARAMETER  p NULL with len > 0, or out NULL.
 * *out is zeroed on error. */
ZDC_API int zdc_dcep_parse(const uint8_t *p, size_t len, zdc_dcep_msg *out);

/* Bytes a DATA_CHANNEL_OPEN with these label and protocol lengths takes. */
ZDC_API size_t zdc_dcep_open_size(const zdc_dcep_open *m);

/* Writes a DATA_CHANNEL_OPEN. Returns its length, or ZDC_ERR_BUFFER_TOO_SMALL, or
 * ZDC_ERR_INVALID_PARAMETER (NULL, unknown channel type, a non-zero reliability parameter on a
 * reliable type — RFC 8832 §5.1 "MUST be set to 0 on the sending side" — or a NULL label /
 * protocol with a non-zero length). */
ZDC_API int zdc_dcep_open_build(const zdc_dcep_open *m, uint8_t *out, size_t cap);

/* Writes a DATA_CHANNEL_ACK (1 byte). Returns 1 or ZDC_ERR_BUFFER_TOO_SMALL /
 * ZDC_ERR_INVALID_PARAMETER (out NULL). */
ZDC_API int zdc_dcep_ack_build(uint8_t *out, size_t cap);

/* Is this one of the six RFC 8832 channel types? */
ZDC_API bool zdc_dcep_channel_type_valid(uint8_t channel_type);

/* Channel type + reliability parameter -> reliability. For reliable types the parameter is
 * ignored (RFC 8832 §5.1 "MUST be ignored on the receiving side").
 * Returns 0, ZDC_ERR_MALFORMED (unknown channel type) or ZDC_ERR_INVALID_PARAMETER (NULL). */
ZDC_API int zdc_dcep_reliability_decode(uint8_t channel_type, uint32_t reliability,
                                        zdc_dcep_reliability *out);

/* Reliability -> channel type + reliability parameter.
 * Returns 0, or ZDC_ERR_INVALID_PARAMETER when both max_retransmits and max_packet_life_time
 * are set (W3C: a TypeError) or a pointer is NULL. */
ZDC_API int zdc_dcep_reliability_encode(const zdc_dcep_reliability *r, uint8_t *channel_type,
                                        uint32_t *reliability);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_DCEP_H */
