/* TURN wire formats (RFC 8656, RFC 6062 for TCP allocations): the methods and attributes a
 * TURN client needs on top of the STUN codec (zdc/stun.h), ChannelData messages (§12.4) and
 * the framing of STUN and ChannelData messages over a TCP/TLS stream (§12.5). Parse and build
 * only, no state; parsed values are views into the input. */
#ifndef ZDC_CORE_TURNMSG_H
#define ZDC_CORE_TURNMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/stun.h"

/* Methods (RFC 8656 §17, RFC 6062 §6.1). */
#define ZDC_TURN_ALLOCATE          0x003
#define ZDC_TURN_REFRESH           0x004
#define ZDC_TURN_SEND              0x006 /* indication only */
#define ZDC_TURN_DATA              0x007 /* indication only */
#define ZDC_TURN_CREATE_PERMISSION 0x008
#define ZDC_TURN_CHANNEL_BIND      0x009

/* Attributes (RFC 8656 §18, RFC 8489 §18.3 for the password algorithms). */
#define ZDC_TURN_ATTR_CHANNEL_NUMBER           0x000C
#define ZDC_TURN_ATTR_LIFETIME                 0x000D
#define ZDC_TURN_ATTR_XOR_PEER_ADDRESS         0x0012
#define ZDC_TURN_ATTR_DATA                     0x0013
#define ZDC_TURN_ATTR_XOR_RELAYED_ADDRESS      0x0016
#define ZDC_TURN_ATTR_REQUESTED_ADDRESS_FAMILY 0x0017
#define ZDC_TURN_ATTR_EVEN_PORT                0x0018
#define ZDC_TURN_ATTR_REQUESTED_TRANSPORT      0x0019
#define ZDC_TURN_ATTR_DONT_FRAGMENT            0x001A
#define ZDC_TURN_ATTR_PASSWORD_ALGORITHM       0x001D
#define ZDC_TURN_ATTR_RESERVATION_TOKEN        0x0022
#define ZDC_TURN_ATTR_CONNECTION_ID            0x002A
#define ZDC_TURN_ATTR_PASSWORD_ALGORITHMS      0x8002

/* RFC 8489 §18.5: password algorithm numbers. */
#define ZDC_TURN_PASSWORD_MD5    0x0001
#define ZDC_TURN_PASSWORD_SHA256 0x0002

/* RFC 8656 §12: channel numbers 0x4000 through 0x4FFF; on the wire the first byte is then
 * 64..79, the ChannelData range of RFC 7983's demultiplexing. */
#define ZDC_TURN_CHANNEL_MIN         0x4000
#define ZDC_TURN_CHANNEL_MAX         0x4FFF
#define ZDC_TURN_CHANNEL_HEADER_SIZE 4

/* Largest number of algorithms kept from PASSWORD-ALGORITHMS. */
#define ZDC_TURN_MAX_PASSWORD_ALGS 8

/* The TURN attributes of one STUN message (those before MESSAGE-INTEGRITY). Of duplicates the
 * first counts, as in zdc_stun_parse. */
typedef struct zdc_turn_attrs {
    bool has_channel, has_lifetime, has_peer, has_relayed, has_data, has_transport;
    uint16_t channel;      /* CHANNEL-NUMBER */
    uint32_t lifetime;     /* LIFETIME, seconds */
    zdc_stun_addr peer;    /* XOR-PEER-ADDRESS, xor undone */
    zdc_stun_addr relayed; /* XOR-RELAYED-ADDRESS, xor undone */
    zdc_stun_view data;    /* DATA */
    uint8_t transport;     /* REQUESTED-TRANSPORT protocol number (17 = UDP) */
    bool dont_fragment;
    bool has_password_algorithm;
    uint16_t password_algorithm;
    size_t n_password_algs; /* PASSWORD-ALGORITHMS (parameters are skipped) */
    uint16_t password_algs[ZDC_TURN_MAX_PASSWORD_ALGS];
    bool has_connection_id;
    uint32_t connection_id;
} zdc_turn_attrs;

/* Whether `type` is an attribute this codec understands (so a comprehension-required TURN
 * attribute is not "unknown" to a TURN client). */
bool zdc_turn_attr_known(uint16_t type);

/* Parses a STUN message carrying TURN attributes: zdc_stun_parse() into *msg, then the TURN
 * attributes into *attrs. A comprehension-required attribute that neither STUN nor TURN knows
 * still gives ZDC_ERR_UNKNOWN_ATTRIBUTE (msg->unknown_required then lists only those).
 * Returns 0; the errors of zdc_stun_parse(); ZDC_ERR_MALFORMED for a TURN attribute with a bad
 * length or value (a family other than 1/2, a channel number outside 0x4000-0x4FFF). */
int zdc_turn_parse(const uint8_t *p, size_t len, zdc_stun_msg *msg, zdc_turn_attrs *attrs);

/* ---- ChannelData (RFC 8656 §12.4) ---------------------------------------------------------
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Channel Number        |            Length             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  /                       Application Data                        /
 */

/* First byte 64..79 and at least a header (RFC 7983 §7). */
bool zdc_turn_is_channel_data(const uint8_t *p, size_t len);

/* Parses one ChannelData message of `len` bytes: padding up to the next multiple of 4 after
 * the data is accepted (it is sent over TCP, §12.5), nothing more. Returns 0 with the channel
 * number and a view of the data; ZDC_ERR_TRUNCATED (shorter than the length field says);
 * ZDC_ERR_MALFORMED (channel outside 0x4000-0x4FFF, more than 3 trailing bytes);
 * ZDC_ERR_INVALID_PARAMETER (NULL). */
int zdc_turn_channel_data_parse(const uint8_t *p, size_t len, uint16_t *channel,
                                const uint8_t **data, size_t *data_len);

/* Writes a ChannelData message into buf; with pad the data is padded with zeros to a multiple
 * of 4 (MUST over TCP/TLS, §12.5). Returns its length; ZDC_ERR_BUFFER_TOO_SMALL;
 * ZDC_ERR_TOO_LARGE (data over 65535 bytes); ZDC_ERR_INVALID_PARAMETER (bad channel, NULL). */
int zdc_turn_channel_data_build(uint8_t *buf, size_t cap, uint16_t channel, const uint8_t *data,
                                size_t data_len, bool pad);

/* ---- stream framing (RFC 8656 §12.5, RFC 6062) --------------------------------------------
 * Over TCP and TLS, STUN messages and ChannelData messages follow each other on the stream,
 * told apart by the first two bits (00 STUN, 01 ChannelData). */

/* Length of the first complete message at the start of a stream buffer, ChannelData padded
 * to 4. Returns 0 when more bytes are needed (fewer than 4, or the message is incomplete),
 * the length (> 0), or ZDC_ERR_MALFORMED when the stream cannot be TURN (the first two bits
 * are neither 00 nor 01, a STUN length not a multiple of 4, a bad magic cookie): the
 * connection must be closed. */
int zdc_turn_stream_frame(const uint8_t *p, size_t len);

/* The longest message on a stream: a STUN message of 20 + 65532 bytes (its length is a
 * multiple of 4). A receive buffer of this size always holds a whole message. */
#define ZDC_TURN_STREAM_MAX_FRAME (ZDC_STUN_HEADER_SIZE + 65532)

/* Reassembly of a stream's receive buffer buf[0..*len): calls fn(arg, message, length) for
 * each whole message at its start, in order, then moves what is left (the start of the next
 * message) to the front and updates *len. Stops early when fn returns false (the messages
 * handed out are removed, the rest stays). Returns the number of messages handed out, or
 * ZDC_ERR_MALFORMED when the stream cannot be TURN (the connection must be closed; *len then
 * keeps the bad bytes at the front). */
int zdc_turn_stream_take(uint8_t *buf, size_t *len,
                         bool (*fn)(void *arg, const uint8_t *p, size_t n), void *arg);

#endif /* ZDC_CORE_TURNMSG_H */
