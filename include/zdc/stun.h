/* zdc — STUN message codec (RFC 8489, RFC 5389; ICE attributes from RFC 8445). Sans-IO.
 *
 * zdc_stun_parse() checks a whole message and fills a zdc_stun_msg whose strings are views
 * into the input (no copies, the input is never written). Integrity is checked separately
 * (the key depends on the USERNAME the caller looks up). The builder writes a message into
 * caller memory with a sticky error, appending attributes in call order and computing
 * MESSAGE-INTEGRITY / FINGERPRINT over what precedes them.
 */
#ifndef ZDC_STUN_H
#define ZDC_STUN_H

#include "zdc/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZDC_STUN_HEADER_SIZE     20
#define ZDC_STUN_MAGIC_COOKIE    0x2112A442u
#define ZDC_STUN_FINGERPRINT_XOR 0x5354554eu /* RFC 8489 §14.7 */

enum zdc_stun_class {
    ZDC_STUN_REQUEST = 0,
    ZDC_STUN_INDICATION = 1,
    ZDC_STUN_SUCCESS = 2,
    ZDC_STUN_ERROR = 3
};

#define ZDC_STUN_BINDING 0x001

/* Attribute types. 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF optional. */
#define ZDC_STUN_ATTR_MAPPED_ADDRESS           0x0001
#define ZDC_STUN_ATTR_USERNAME                 0x0006
#define ZDC_STUN_ATTR_MESSAGE_INTEGRITY        0x0008
#define ZDC_STUN_ATTR_ERROR_CODE               0x0009
#define ZDC_STUN_ATTR_UNKNOWN_ATTRIBUTES       0x000A
#define ZDC_STUN_ATTR_REALM                    0x0014
#define ZDC_STUN_ATTR_NONCE                    0x0015
#define ZDC_STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define ZDC_STUN_ATTR_XOR_MAPPED_ADDRESS       0x0020
#define ZDC_STUN_ATTR_PRIORITY                 0x0024
#define ZDC_STUN_ATTR_USE_CANDIDATE            0x0025
#define ZDC_STUN_ATTR_SOFTWARE                 0x8022
#define ZDC_STUN_ATTR_FINGERPRINT              0x8028
#define ZDC_STUN_ATTR_ICE_CONTROLLED           0x8029
#define ZDC_STUN_ATTR_ICE_CONTROLLING          0x802A
#define ZDC_STUN_ATTR_GOOG_NETWORK_INFO        0xC057 /* Chrome; optional, skipped by parse */

/* Capacity of the two attribute-type lists in zdc_stun_msg; further entries are dropped. */
#define ZDC_STUN_MAX_UNKNOWN 16

/* Longest USERNAME (RFC 8489 §14.3: fewer than 509 bytes) and longest REALM, NONCE, SOFTWARE,
 * error reason (fewer than 128 characters = at most 763 bytes). Parse rejects longer values;
 * the builder refuses them. */
#define ZDC_STUN_MAX_USERNAME 508
#define ZDC_STUN_MAX_TEXT     763

typedef struct zdc_stun_addr {
    uint8_t family; /* 4 or 6 */
    uint16_t port;  /* host order */
    uint8_t ip[16]; /* network order; the first 4 bytes for IPv4 */
} zdc_stun_addr;

/* A view into the parsed input (valid while the input is). */
typedef struct zdc_stun_view {
    const uint8_t *p;
    size_t len;
} zdc_stun_view;

typedef struct zdc_stun_msg {
    uint16_t method; /* 12 bits, e.g. ZDC_STUN_BINDING */
    uint8_t cls;     /* enum zdc_stun_class */
    uint8_t txid[12];
    uint16_t length; /* header length field */
    bool has_mapped, has_xor_mapped;
    zdc_stun_addr mapped, xor_mapped; /* xor already undone */
    bool has_username, has_software, has_realm, has_nonce;
    zdc_stun_view username, software, realm, nonce;
    bool has_priority;
    uint32_t priority;
    bool use_candidate;
    bool has_ice_controlled, has_ice_controlling;
    uint64_t tiebreaker;
    bool has_error;
    uint16_t error_code; /* class * 100 + number, e.g. 487 */
    zdc_stun_view error_reason;
    size_t n_unknown_attrs;
    uint16_t unknown_attrs[ZDC_STUN_MAX_UNKNOWN]; /* content of UNKNOWN-ATTRIBUTES */
    size_t n_unknown_required;
    uint16_t unknown_required[ZDC_STUN_MAX_UNKNOWN]; /* unknown comprehension-required types
                                                        seen (each type once) */
    size_t integrity_offset;        /* offset of MESSAGE-INTEGRITY attribute header, 0 = absent */
    size_t integrity_sha256_offset; /* offset of MESSAGE-INTEGRITY-SHA256 header, 0 = absent */
    bool has_fingerprint;           /* present and verified by parse */
} zdc_stun_msg;

/* Quick classification (RFC 7983 demux, then this): len >= 20, top two bits 0, magic cookie,
 * length field a multiple of 4 and equal to len - 20. */
ZDC_API bool zdc_stun_is_message(const uint8_t *p, size_t len);

/* Parses a whole message of exactly `len` bytes into *msg. Of duplicated attributes only the
 * first counts (RFC 8489 §14); attributes after MESSAGE-INTEGRITY are ignored except
 * MESSAGE-INTEGRITY-SHA256 and FINGERPRINT (§14.5, §14.6); FINGERPRINT must be last (§14.7).
 * Returns 0;
 *   ZDC_ERR_TRUNCATED     input shorter than the header or than its length field announces,
 *                         or an attribute runs past the end;
 *   ZDC_ERR_MALFORMED     bad top bits, magic cookie, length, attribute length or value, or an
 *                         attribute after FINGERPRINT;
 *   ZDC_ERR_FINGERPRINT   FINGERPRINT present but wrong (drop the message);
 *   ZDC_ERR_UNKNOWN_ATTRIBUTE  unknown comprehension-required attributes are present: msg is
 *                         still fully filled (unknown_required lists them) so a 420 response
 *                         can be sent to a request;
 *   ZDC_ERR_INVALID_PARAMETER  msg NULL, or p NULL with len > 0.
 * FINGERPRINT is verified here (has_fingerprint); MESSAGE-INTEGRITY is not (see below). */
ZDC_API int zdc_stun_parse(const uint8_t *p, size_t len, zdc_stun_msg *msg);

/* Verifies MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) of a message parsed from p/len with
 * `key` (short-term: the ICE password; long-term: zdc_stun_long_term_key()). Does not modify
 * p. Returns 0; ZDC_ERR_INTEGRITY (mismatch); ZDC_ERR_NOT_FOUND (no MESSAGE-INTEGRITY);
 * ZDC_ERR_INVALID_PARAMETER (msg does not fit p/len, key NULL with key_len > 0);
 * ZDC_ERR_CRYPTO (OpenSSL failure). */
ZDC_API int zdc_stun_check_integrity(const uint8_t *p, size_t len, const zdc_stun_msg *msg,
                                     const uint8_t *key, size_t key_len);

/* The same for MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, possibly truncated to 16..32 bytes,
 * RFC 8489 §14.6). Same return codes. */
ZDC_API int zdc_stun_check_integrity_sha256(const uint8_t *p, size_t len, const zdc_stun_msg *msg,
                                            const uint8_t *key, size_t key_len);

/* Long-term credential key = MD5(username ":" realm ":" password) (RFC 8489 §9.2.2). The
 * strings are used as given: the caller applies OpaqueString/SASLprep if needed.
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL string) or ZDC_ERR_CRYPTO (MD5 unavailable). */
ZDC_API int zdc_stun_long_term_key(const char *user, const char *realm, const char *pass,
                                   uint8_t key[16]);

/* Content equality of two parsed messages: header fields and every attribute value (views
 * compared by bytes). Ignores `length`, the integrity offsets and has_fingerprint. */
ZDC_API bool zdc_stun_msg_equal(const zdc_stun_msg *a, const zdc_stun_msg *b);

/* ---- builder ---------------------------------------------------------------------------- */

/* Writes into caller memory with a sticky error: after the first failure every call is a
 * no-op and zdc_stun_build_end() reports it. Attributes are appended in call order; the
 * header length field is kept current after each one. */
typedef struct zdc_stun_builder {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;
    uint8_t stage; /* private: which of integrity / integrity-sha256 / fingerprint is written */
} zdc_stun_builder;

/* Starts a message. method must fit 12 bits and cls be 0..3 (else ZDC_ERR_INVALID_PARAMETER
 * at build_end). */
ZDC_API void zdc_stun_build_begin(zdc_stun_builder *b, uint8_t *buf, size_t cap, uint16_t method,
                                  uint8_t cls, const uint8_t txid[12]);
/* Any attribute with an opaque value (USERNAME, SOFTWARE, REALM, NONCE, unknown types). The
 * value is padded to 4 bytes with zeros. USERNAME longer than ZDC_STUN_MAX_USERNAME and
 * REALM/NONCE/SOFTWARE longer than ZDC_STUN_MAX_TEXT are refused. */
ZDC_API void zdc_stun_add_bytes(zdc_stun_builder *b, uint16_t type, const void *p, size_t n);
ZDC_API void zdc_stun_add_u32(zdc_stun_builder *b, uint16_t type, uint32_t v); /* PRIORITY */
ZDC_API void zdc_stun_add_u64(zdc_stun_builder *b, uint16_t type,
                              uint64_t v);                          /* ICE-CONTROLL(ED|ING) */
ZDC_API void zdc_stun_add_flag(zdc_stun_builder *b, uint16_t type); /* USE-CANDIDATE */
ZDC_API void zdc_stun_add_address(zdc_stun_builder *b, uint16_t type, const zdc_stun_addr *a);
/* XOR-MAPPED-ADDRESS: the xor with the cookie (and txid for IPv6) is applied here. */
ZDC_API void zdc_stun_add_xor_address(zdc_stun_builder *b, uint16_t type, const zdc_stun_addr *a);
/* ERROR-CODE: code 300..699, reason (may be NULL = empty) at most ZDC_STUN_MAX_TEXT bytes. */
ZDC_API void zdc_stun_add_error(zdc_stun_builder *b, uint16_t code, const char *reason);
ZDC_API void zdc_stun_add_unknown_attributes(zdc_stun_builder *b, const uint16_t *types, size_t n);
/* MESSAGE-INTEGRITY(-SHA256) over everything before it with the length field adjusted to
 * include it. After MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT may follow,
 * after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT, and nothing after FINGERPRINT (else
 * ZDC_ERR_INVALID_PARAMETER). */
ZDC_API void zdc_stun_add_integrity(zdc_stun_builder *b, const uint8_t *key, size_t key_len);
ZDC_API void zdc_stun_add_integrity_sha256(zdc_stun_builder *b, const uint8_t *key, size_t key_len);
ZDC_API void zdc_stun_add_fingerprint(zdc_stun_builder *b);

/* Appends every attribute of a parsed message that the builder knows how to write (addresses,
 * strings, ICE attributes, ERROR-CODE, UNKNOWN-ATTRIBUTES, and each unknown
 * comprehension-required type with an empty value) — not integrity or fingerprint. Used for
 * the parse/build round trip and to answer with the same content. */
ZDC_API void zdc_stun_add_msg_attributes(zdc_stun_builder *b, const zdc_stun_msg *m);

/* Returns the message length, or ZDC_ERR_BUFFER_TOO_SMALL (cap exceeded),
 * ZDC_ERR_INVALID_PARAMETER (bad method/class/value or attribute order), ZDC_ERR_TOO_LARGE
 * (attributes exceed the 16-bit length field) or ZDC_ERR_CRYPTO (OpenSSL failure). */
ZDC_API int zdc_stun_build_end(zdc_stun_builder *b);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_STUN_H */
