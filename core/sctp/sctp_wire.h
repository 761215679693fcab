/* SCTP wire format (RFC 9260 §3): the common header, the chunks WebRTC data channels use, their
 * parameters and error causes. Parse and build only; no state (the association is elsewhere).
 *
 * Parsers take (p, len), check every length before reading, and return views into the input
 * (payloads, cookies, stream lists, gap blocks), never copies. Builders write through the
 * bounds-checked writer of core/base/bytes.h (sticky error: build a whole packet, check once).
 * Repeated wire items (gap blocks, duplicate TSNs, FORWARD-TSN stream entries, reset stream
 * lists, error causes) stay in wire form in the structs, so parse(build(x)) == x field by field;
 * accessors read them, and zdc_sctp_sack_build() / zdc_sctp_fwd_tsn_build() write them from
 * host arrays.
 *
 *  Packet (RFC 9260 §3.1):
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     Source Port Number        |     Destination Port Number   |
 *  |                      Verification Tag                         |
 *  |                           Checksum                            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |   Type = N    |  Chunk Flags  |        Chunk Length           |  chunk 1 .. chunk N, each
 *  |                         Chunk Value ...                       |  padded to 4 bytes
 */
#ifndef ZDC_CORE_SCTP_WIRE_H
#define ZDC_CORE_SCTP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "zdc/error.h"

#define ZDC_SCTP_COMMON_HEADER_LEN 12
#define ZDC_SCTP_CHUNK_HEADER_LEN  4
#define ZDC_SCTP_DATA_HEADER_LEN   16 /* chunk header + TSN, stream, SSN, PPID */

/* Chunk types (RFC 9260 §3.2, RFC 3758 §3.2, RFC 6525 §3.1, RFC 8260 §2.1). */
enum zdc_sctp_chunk_type {
    ZDC_SCTP_DATA = 0,
    ZDC_SCTP_INIT = 1,
    ZDC_SCTP_INIT_ACK = 2,
    ZDC_SCTP_SACK = 3,
    ZDC_SCTP_HEARTBEAT = 4,
    ZDC_SCTP_HEARTBEAT_ACK = 5,
    ZDC_SCTP_ABORT = 6,
    ZDC_SCTP_SHUTDOWN = 7,
    ZDC_SCTP_SHUTDOWN_ACK = 8,
    ZDC_SCTP_ERROR = 9,
    ZDC_SCTP_COOKIE_ECHO = 10,
    ZDC_SCTP_COOKIE_ACK = 11,
    ZDC_SCTP_SHUTDOWN_COMPLETE = 14,
    ZDC_SCTP_I_DATA = 64, /* recognised by name only: not negotiated, not parsed */
    ZDC_SCTP_RE_CONFIG = 130,
    ZDC_SCTP_FORWARD_TSN = 192,
};

/* DATA chunk flags (RFC 9260 §3.3.1). */
#define ZDC_SCTP_DATA_E 0x01u /* last fragment */
#define ZDC_SCTP_DATA_B 0x02u /* first fragment */
#define ZDC_SCTP_DATA_U 0x04u /* unordered */
#define ZDC_SCTP_DATA_I 0x08u /* SACK immediately (RFC 7053) */
/* ABORT / SHUTDOWN COMPLETE flag (RFC 9260 §3.3.7): the sender used the receiver's tag
 * reflected, having no TCB. */
#define ZDC_SCTP_FLAG_T 0x01u

/* Parameter types (RFC 9260 §3.3.2.1, RFC 3758 §3.1, RFC 5061 §4.2.7, RFC 6525 §4, RFC 9653
 * §4). */
enum zdc_sctp_param_type {
    ZDC_SCTP_P_HEARTBEAT_INFO = 1,
    ZDC_SCTP_P_IPV4 = 5,
    ZDC_SCTP_P_IPV6 = 6,
    ZDC_SCTP_P_STATE_COOKIE = 7,
    ZDC_SCTP_P_UNRECOGNIZED = 8,
    ZDC_SCTP_P_COOKIE_PRESERVATIVE = 9,
    ZDC_SCTP_P_HOSTNAME = 11,
    ZDC_SCTP_P_SUPPORTED_ADDR_TYPES = 12,
    ZDC_SCTP_P_OUT_RESET_REQ = 13,
    ZDC_SCTP_P_IN_RESET_REQ = 14,
    ZDC_SCTP_P_TSN_RESET_REQ = 15,
    ZDC_SCTP_P_RECONF_RESP = 16,
    ZDC_SCTP_P_ADD_OUT_STREAMS = 17,
    ZDC_SCTP_P_ADD_IN_STREAMS = 18,
    ZDC_SCTP_P_ECN_CAPABLE = 0x8000,
    ZDC_SCTP_P_ZERO_CHECKSUM = 0x8001,
    ZDC_SCTP_P_SUPPORTED_EXT = 0x8008,
    ZDC_SCTP_P_FORWARD_TSN_SUPPORTED = 0xC000,
};

/* RFC 9653 §4: Error Detection Method Identifier of "SCTP over DTLS". */
#define ZDC_SCTP_EDMID_DTLS 1u

/* Error cause codes (RFC 9260 §3.3.10, RFC 9653 none). */
enum zdc_sctp_cause {
    ZDC_SCTP_CAUSE_INVALID_STREAM = 1,
    ZDC_SCTP_CAUSE_MISSING_PARAM = 2,
    ZDC_SCTP_CAUSE_STALE_COOKIE = 3,
    ZDC_SCTP_CAUSE_OUT_OF_RESOURCE = 4,
    ZDC_SCTP_CAUSE_UNRESOLVABLE_ADDR = 5,
    ZDC_SCTP_CAUSE_UNRECOGNIZED_CHUNK = 6,
    ZDC_SCTP_CAUSE_INVALID_MANDATORY_PARAM = 7,
    ZDC_SCTP_CAUSE_UNRECOGNIZED_PARAMS = 8,
    ZDC_SCTP_CAUSE_NO_USER_DATA = 9,
    ZDC_SCTP_CAUSE_COOKIE_WHILE_SHUTDOWN = 10,
    ZDC_SCTP_CAUSE_RESTART_NEW_ADDRS = 11,
    ZDC_SCTP_CAUSE_USER_ABORT = 12,
    ZDC_SCTP_CAUSE_PROTOCOL_VIOLATION = 13,
};

/* RFC 6525 §4.4 Reconfiguration Response results. */
enum zdc_sctp_reconf_result {
    ZDC_SCTP_RECONF_NOTHING = 0,
    ZDC_SCTP_RECONF_PERFORMED = 1,
    ZDC_SCTP_RECONF_DENIED = 2,
    ZDC_SCTP_RECONF_ERR_WRONG_SSN = 3,
    ZDC_SCTP_RECONF_ERR_IN_PROGRESS = 4,
    ZDC_SCTP_RECONF_ERR_BAD_SEQ = 5,
    ZDC_SCTP_RECONF_IN_PROGRESS = 6,
    ZDC_SCTP_RECONF_DENIED_NO_TSN = 7,
};

/* What to do with an unrecognized chunk or parameter, from the two upper bits of its type
 * (RFC 9260 §3.2 for chunks, §3.2.1 for parameters). */
enum zdc_sctp_unknown_action {
    ZDC_SCTP_UNKNOWN_STOP = 0,        /* 00: stop (chunk: discard the packet) */
    ZDC_SCTP_UNKNOWN_STOP_REPORT = 1, /* 01: stop and report */
    ZDC_SCTP_UNKNOWN_SKIP = 2,        /* 10: skip it, continue */
    ZDC_SCTP_UNKNOWN_SKIP_REPORT = 3, /* 11: skip it, continue, report */
};

static inline int zdc_sctp_chunk_unknown_action(uint8_t type)
{
    return type >> 6;
}
static inline int zdc_sctp_param_unknown_action(uint16_t type)
{
    return type >> 14;
}

/* ---- common header and chunk walk ------------------------------------------------------- */

typedef struct zdc_sctp_header {
    uint16_t src_port, dst_port;
    uint32_t vtag;
    uint32_t checksum; /* as received, zdc_crc32c_load() order */
} zdc_sctp_header;

/* One chunk as found in a packet: type, flags and a view of its value (without header and
 * padding). */
typedef struct zdc_sctp_raw_chunk {
    uint8_t type;
    uint8_t flags;
    const uint8_t *value;
    size_t len;
    const uint8_t *wire; /* the whole chunk, header included, without padding */
    size_t wire_len;
} zdc_sctp_raw_chunk;

typedef struct zdc_sctp_chunk_iter {
    zdc_tlv_walker w;
} zdc_sctp_chunk_iter;

/* How zdc_sctp_packet_parse treats the checksum field. */
enum zdc_sctp_csum_mode {
    ZDC_SCTP_CSUM_VERIFY = 0,      /* a correct CRC32c is required */
    ZDC_SCTP_CSUM_ACCEPT_ZERO = 1, /* also accept 0 (we advertised RFC 9653 acceptance) */
    ZDC_SCTP_CSUM_SKIP = 2,        /* no check (fuzzing, or already checked) */
};

/* Parses the common header of packet p and, with mode, checks its checksum (RFC 9260 §6.8:
 * CRC32c over the packet with the checksum field taken as zero; computed without writing into
 * p). On success *it walks the chunks. Returns 0, ZDC_ERR_TRUNCATED (shorter than the header
 * plus one chunk header), ZDC_ERR_INTEGRITY (wrong checksum), ZDC_ERR_INVALID_PARAMETER. */
int zdc_sctp_packet_parse(const uint8_t *p, size_t len, int mode, zdc_sctp_header *h,
                          zdc_sctp_chunk_iter *it);

/* The next chunk. Returns 1 (a chunk), 0 (clean end of packet), ZDC_ERR_TRUNCATED or
 * ZDC_ERR_MALFORMED (a length under 4, or a chunk running past the packet): the rest of the
 * packet must be dropped. The last chunk may omit its padding. */
int zdc_sctp_chunk_next(zdc_sctp_chunk_iter *it, zdc_sctp_raw_chunk *out);

/* Starts a packet in w: the common header with a zero checksum. */
void zdc_sctp_packet_begin(zdc_wr *w, uint16_t src_port, uint16_t dst_port, uint32_t vtag);

/* Ends a packet begun at w->p: writes its CRC32c, or leaves 0 when zero_checksum (only to a
 * peer that advertised RFC 9653 acceptance). Returns the length or ZDC_ERR_BUFFER_TOO_SMALL
 * (any earlier write that did not fit). */
int zdc_sctp_packet_finish(zdc_wr *w, bool zero_checksum);

/* ---- chunks ------------------------------------------------------------------------------ */

/* DATA (RFC 9260 §3.3.1). A zero-length payload parses (len 0): the association answers it
 * with ABORT "No User Data" (§6.2). */
typedef struct zdc_sctp_data_chunk {
    uint8_t flags; /* ZDC_SCTP_DATA_* */
    uint32_t tsn;
    uint16_t stream;
    uint16_t ssn;
    uint32_t ppid; /* host order; RFC 9260 lets it through opaque, WebRTC uses it big-endian */
    const uint8_t *payload;
    size_t len;
} zdc_sctp_data_chunk;

#define ZDC_SCTP_MAX_REPORTED 4

/* INIT and INIT ACK (RFC 9260 §3.3.2, §3.3.3) with the parameters data channels use. */
typedef struct zdc_sctp_init_chunk {
    uint32_t init_tag;
    uint32_t a_rwnd;
    uint16_t os, mis;
    uint32_t initial_tsn;
    /* Supported Extensions (RFC 5061 §4.2.7): chunk types, a view. */
    const uint8_t *ext;
    size_t ext_len;
    bool forward_tsn;      /* Forward-TSN-Supported parameter (RFC 3758 §3.1) */
    bool zero_checksum;    /* Zero Checksum Acceptable (RFC 9653 §4) */
    uint32_t edmid;        /* its Error Detection Method Identifier */
    const uint8_t *cookie; /* State Cookie (INIT ACK only; mandatory there) */
    size_t cookie_len;
    /* Parse only: unknown parameters whose upper bits ask for a report (whole TLVs, at most
     * ZDC_SCTP_MAX_REPORTED kept, n_reported counts them all), and whether a "stop" parameter
     * ended the walk (RFC 9260 §3.2.1). Unrecognized Parameter parameters of an INIT ACK are
     * counted in n_unrecognized_back. */
    const uint8_t *reported[ZDC_SCTP_MAX_REPORTED];
    size_t reported_len[ZDC_SCTP_MAX_REPORTED];
    unsigned n_reported;
    bool stopped;
    unsigned n_unrecognized_back;
    /* Build only (INIT ACK; parsing leaves it empty): parameters of the peer's INIT reported
     * back, each sent whole (type, length, value) in an Unrecognized Parameter parameter
     * before the State Cookie (RFC 9260 §3.2.1, §3.3.3). */
    const uint8_t *const *unrec;
    const size_t *unrec_len;
    unsigned n_unrec;
} zdc_sctp_init_chunk;

/* SACK (RFC 9260 §3.3.4). Gap blocks and duplicate TSNs stay in wire form. */
typedef struct zdc_sctp_sack_chunk {
    uint32_t cum_tsn;
    uint32_t a_rwnd;
    uint16_t n_gaps, n_dups;
    const uint8_t *gaps; /* n_gaps x (start u16, end u16), offsets from cum_tsn */
    const uint8_t *dups; /* n_dups x u32 */
} zdc_sctp_sack_chunk;

typedef struct zdc_sctp_gap {
    uint16_t start, end;
} zdc_sctp_gap;

/* FORWARD-TSN (RFC 3758 §3.2): new cumulative TSN and (stream, SSN) pairs in wire form. */
typedef struct zdc_sctp_fwd_tsn_chunk {
    uint32_t new_cum_tsn;
    uint16_t n_streams;
    const uint8_t *streams; /* n_streams x (stream u16, ssn u16) */
} zdc_sctp_fwd_tsn_chunk;

typedef struct zdc_sctp_fwd_stream {
    uint16_t stream, ssn;
} zdc_sctp_fwd_stream;

/* One RE-CONFIG parameter (RFC 6525 §4). Fields by type:
 *   OUT_RESET_REQ: req_seq, resp_seq, last_tsn, streams
 *   IN_RESET_REQ:  req_seq, streams
 *   TSN_RESET_REQ: req_seq
 *   RECONF_RESP:   req_seq (= the Re-configuration Response Sequence Number), result and,
 *                  when has_tsns, sender_next_tsn / receiver_next_tsn
 *   ADD_OUT_STREAMS / ADD_IN_STREAMS: req_seq, new_streams */
typedef struct zdc_sctp_reconf_param {
    uint16_t type;
    uint32_t req_seq;
    uint32_t resp_seq;
    uint32_t last_tsn;
    uint32_t result;
    bool has_tsns;
    uint32_t sender_next_tsn, receiver_next_tsn;
    uint16_t new_streams;
    uint16_t n_streams;
    const uint8_t *streams; /* n_streams x u16; 0 streams means "all" */
} zdc_sctp_reconf_param;

/* RE-CONFIG (RFC 6525 §3.1): one or two parameters. */
typedef struct zdc_sctp_reconfig_chunk {
    unsigned n;
    zdc_sctp_reconf_param p[2];
} zdc_sctp_reconfig_chunk;

/* Any chunk. `type`/`flags` are the chunk header; the union member matching the type holds
 * the value. HEARTBEAT/ACK carry `opaque` = the Heartbeat Info parameter's value; ABORT and
 * ERROR `opaque` = their error causes (validated, walk with zdc_sctp_cause_next); COOKIE ECHO
 * `opaque` = the cookie; SHUTDOWN the cumulative TSN ack. */
typedef struct zdc_sctp_chunk {
    uint8_t type;
    uint8_t flags;
    union {
        zdc_sctp_data_chunk data;
        zdc_sctp_init_chunk init;
        zdc_sctp_sack_chunk sack;
        zdc_sctp_fwd_tsn_chunk fwd_tsn;
        zdc_sctp_reconfig_chunk reconfig;
        uint32_t cum_tsn;
        struct {
            const uint8_t *p;
            size_t len;
        } opaque;
    } u;
} zdc_sctp_chunk;

/* Parses one chunk's value. Returns 0; ZDC_ERR_MALFORMED (a length or field the RFC forbids:
 * a short value, counts that do not match the length, an INIT tag/OS/MIS of 0, an INIT ACK
 * without State Cookie, a HEARTBEAT without Heartbeat Info, a bad cause or parameter walk);
 * ZDC_ERR_NOT_SUPPORTED (a type this codec does not know: act on
 * zdc_sctp_chunk_unknown_action()). Nothing is copied: views point into raw->value. */
int zdc_sctp_chunk_parse(const zdc_sctp_raw_chunk *raw, zdc_sctp_chunk *out);

/* Writes chunk c (header, value, padding) into w. Returns 0, ZDC_ERR_BUFFER_TOO_SMALL (w's
 * sticky error), ZDC_ERR_INVALID_PARAMETER (unknown type, a value too long for the 16-bit
 * length, more than two RE-CONFIG parameters). */
int zdc_sctp_chunk_build(zdc_wr *w, const zdc_sctp_chunk *c);

/* Bytes zdc_sctp_chunk_build would write for c, padding included (0 if it cannot be built). */
size_t zdc_sctp_chunk_size(const zdc_sctp_chunk *c);

/* Gap block i (0-based, < n_gaps) and duplicate TSN i of a parsed SACK. */
zdc_sctp_gap zdc_sctp_sack_gap(const zdc_sctp_sack_chunk *s, unsigned i);
uint32_t zdc_sctp_sack_dup(const zdc_sctp_sack_chunk *s, unsigned i);
/* Writes a SACK chunk from host arrays. Returns 0 or ZDC_ERR_BUFFER_TOO_SMALL. */
int zdc_sctp_sack_build(zdc_wr *w, uint32_t cum_tsn, uint32_t a_rwnd, const zdc_sctp_gap *gaps,
                        uint16_t n_gaps, const uint32_t *dups, uint16_t n_dups);

zdc_sctp_fwd_stream zdc_sctp_fwd_tsn_stream(const zdc_sctp_fwd_tsn_chunk *f, unsigned i);
int zdc_sctp_fwd_tsn_build(zdc_wr *w, uint32_t new_cum_tsn, const zdc_sctp_fwd_stream *s,
                           uint16_t n);

/* Stream i of an RE-CONFIG request's stream list. */
uint16_t zdc_sctp_reconf_stream(const zdc_sctp_reconf_param *p, unsigned i);

/* ---- error causes (ABORT, ERROR; RFC 9260 §3.3.10) --------------------------------------- */

typedef struct zdc_sctp_cause_iter {
    zdc_tlv_walker w;
} zdc_sctp_cause_iter;

void zdc_sctp_cause_iter_init(zdc_sctp_cause_iter *it, const uint8_t *p, size_t len);
/* Returns 1 with *code and the cause's value, 0 at the end, or ZDC_ERR_TRUNCATED /
 * ZDC_ERR_MALFORMED. */
int zdc_sctp_cause_next(zdc_sctp_cause_iter *it, uint16_t *code, const uint8_t **value,
                        size_t *len);
/* Writes one cause (code, value, padding) into w. */
void zdc_sctp_cause_build(zdc_wr *w, uint16_t code, const void *value, size_t len);

#endif /* ZDC_CORE_SCTP_WIRE_H */
