/* A small strict JSON reader for one-object-per-line protocols (the zdc-peer protocol), and
 * a string escaper for writing such lines.
 *
 * The reader validates the whole text against RFC 8259 (nested arrays/objects included, depth
 * limited) but only exposes the top-level object's members: each member's key and value are
 * views into the input; string values are unescaped on request into caller memory. Nothing is
 * allocated.
 */
#ifndef ZDC_CORE_JSON_H
#define ZDC_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "text.h"

enum zdc_json_type {
    ZDC_JSON_NULL,
    ZDC_JSON_FALSE,
    ZDC_JSON_TRUE,
    ZDC_JSON_NUMBER,
    ZDC_JSON_STRING,
    ZDC_JSON_ARRAY,
    ZDC_JSON_OBJECT,
};

/* Nesting deeper than this is rejected (ZDC_ERR_TOO_LARGE): bounded stack on hostile input. */
#define ZDC_JSON_MAX_DEPTH 32

typedef struct zdc_json_member {
    zdc_str key; /* raw key, still escaped, without quotes */
    int type;    /* enum zdc_json_type */
    zdc_str raw; /* the value's text; for strings the escaped contents without quotes */
} zdc_json_member;

/* Parses `len` bytes holding exactly one JSON object (surrounding white space allowed).
 * Up to `max` top-level members are stored in `out`; *n gets their count.
 * Returns 0; ZDC_ERR_MALFORMED (not JSON, or not an object, or trailing text);
 * ZDC_ERR_TOO_LARGE (more than `max` members, or nesting deeper than ZDC_JSON_MAX_DEPTH). */
int zdc_json_parse_object(const char *p, size_t len, zdc_json_member *out, size_t max, size_t *n);

/* The first member whose (unescaped) key equals `key`, or NULL. */
const zdc_json_member *zdc_json_find(const zdc_json_member *m, size_t n, const char *key);

/* Unescapes a string member's contents into out (UTF-8, NUL-terminated; \u0000 is written as
 * a NUL byte and counted, so use the returned length, not strlen).
 * Returns the length; ZDC_ERR_BUFFER_TOO_SMALL; ZDC_ERR_MALFORMED (bad escape, lone surrogate). */
int zdc_json_unescape(zdc_str raw, char *out, size_t cap);

/* Number member to an integer: an optional '-', digits, no fraction or exponent, in range.
 * Returns 0; ZDC_ERR_MALFORMED; ZDC_ERR_TOO_LARGE. */
int zdc_json_to_i64(zdc_str raw, long long *out);

/* Number member to a double. Returns 0 or ZDC_ERR_MALFORMED. */
int zdc_json_to_double(zdc_str raw, double *out);

/* Writes `n` bytes of s as a JSON string (with quotes) into out, NUL-terminated; control
 * characters, quotes and backslashes are escaped. Returns the length written or
 * ZDC_ERR_BUFFER_TOO_SMALL. */
int zdc_json_escape(const char *s, size_t n, char *out, size_t cap);

#endif /* ZDC_CORE_JSON_H */
