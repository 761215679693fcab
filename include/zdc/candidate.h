/* zdc — ICE candidate lines (RFC 8839 §5.1, RFC 6544 §4.5 tcptype), sans-IO.
 *
 * A candidate line is parsed into a self-contained value (no pointers into the input), so the
 * ICE agent can keep it after the SDP text is gone. zdc_candidate_format() writes the canonical
 * form back; for any value produced by zdc_candidate_parse(), parse(format(x)) == x.
 *
 *   candidate:842163049 1 udp 1677729535 203.0.113.7 54321 typ srflx raddr 192.168.1.5
 *       rport 54321 generation 0 ufrag EsAw network-id 1 network-cost 10
 */
#ifndef ZDC_CANDIDATE_H
#define ZDC_CANDIDATE_H

#include "zdc/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum zdc_cand_type { ZDC_CAND_HOST, ZDC_CAND_SRFLX, ZDC_CAND_PRFLX, ZDC_CAND_RELAY };
enum zdc_cand_transport { ZDC_CAND_UDP, ZDC_CAND_TCP };
enum zdc_cand_tcptype {
    ZDC_CAND_TCP_NONE,
    ZDC_CAND_TCP_ACTIVE,
    ZDC_CAND_TCP_PASSIVE,
    ZDC_CAND_TCP_SO
};

/* zdc_candidate_parse() returns this for an empty candidate / end-of-candidates. */
#define ZDC_CAND_END 1

/* Extension attributes kept per candidate; further ones are parsed (validated) and skipped. */
#define ZDC_CAND_MAX_EXT       8
#define ZDC_CAND_EXT_NAME_MAX  64  /* storage incl. NUL: names up to 63 chars are kept */
#define ZDC_CAND_EXT_VALUE_MAX 256 /* storage incl. NUL: values up to 255 chars are kept */

/* One extension attribute (generation, ufrag, network-id, network-cost, ...), NUL-terminated. */
typedef struct zdc_cand_ext {
    char name[ZDC_CAND_EXT_NAME_MAX];
    char value[ZDC_CAND_EXT_VALUE_MAX];
} zdc_cand_ext;

typedef struct zdc_candidate {
    char foundation[33];  /* 1..32 ice-chars, NUL-terminated */
    uint16_t component;   /* 1..256 */
    uint8_t transport;    /* enum zdc_cand_transport */
    uint32_t priority;    /* 0..2^32-1 */
    char address[256];    /* IPv4/IPv6 literal or FQDN (e.g. "abc.local"), NUL-terminated */
    uint8_t address_kind; /* 4, 6, or 0 for an FQDN */
    uint16_t port;
    uint8_t type; /* enum zdc_cand_type */
    bool has_raddr;
    char raddr[256]; /* same rules as address; valid when has_raddr */
    uint16_t rport;  /* valid when has_raddr */
    uint8_t tcptype; /* enum zdc_cand_tcptype; ZDC_CAND_TCP_NONE for UDP */
    size_t n_ext;
    zdc_cand_ext ext[ZDC_CAND_MAX_EXT]; /* in line order */
} zdc_candidate;

/* Parses one candidate line. Accepts "a=candidate:...", "candidate:..." or the bare attribute
 * value; one trailing CRLF or LF is ignored. Keywords (typ, host, raddr, UDP, ...) match
 * case-insensitively (RFC 5234 string literals). "raddr" and "rport" must appear together;
 * "tcptype" only on TCP candidates. *out is fully overwritten (zeroed first).
 *
 * Returns:
 *   0                      a candidate was parsed into *out.
 *   ZDC_CAND_END (1)       empty candidate ("", "candidate:", "a=candidate:") or
 *                          "a=end-of-candidates": the remote peer finished gathering.
 *   ZDC_ERR_NOT_SUPPORTED  well-formed token as transport but neither UDP nor TCP (e.g. "tls",
 *                          "ssltcp"): skip the candidate, it is not an error of the peer.
 *   ZDC_ERR_MALFORMED      the line violates the grammar or a range (missing typ, port >
 *                          65535, priority > 2^32-1, foundation empty or > 32 chars, component
 *                          not 1..256, bad address characters, unknown candidate type, ...).
 *   ZDC_ERR_TOO_LARGE      an address longer than 255 characters.
 *   ZDC_ERR_INVALID_PARAMETER  s or out is NULL (s may be NULL only with len 0).
 * On any error *out holds no usable candidate. */
ZDC_API int zdc_candidate_parse(const char *s, size_t len, zdc_candidate *out);

/* Writes "candidate:..." (no "a=", no CRLF), NUL-terminated, in the order foundation component
 * transport priority address port typ [raddr rport] [tcptype] extensions.
 * Returns the length written (without the NUL), ZDC_ERR_BUFFER_TOO_SMALL (out holds "" when
 * cap > 0), or ZDC_ERR_INVALID_PARAMETER (NULL, or a field out of range: empty foundation,
 * component 0 or > 256, unknown enum value, empty address, n_ext > ZDC_CAND_MAX_EXT). */
ZDC_API int zdc_candidate_format(const zdc_candidate *c, char *out, size_t cap);

/* RFC 8445 §5.1.2.1: priority = 2^24*type_pref + 2^8*local_pref + (256 - component).
 * type_pref 0..126 (126 host, 110 prflx, 100 srflx, 0 relay recommended), component 1..256;
 * out-of-range inputs are clamped. */
ZDC_API uint32_t zdc_candidate_priority(uint8_t type_pref, uint16_t local_pref, uint16_t component);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_CANDIDATE_H */
