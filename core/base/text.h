/* String views and strict tokenizing for the text codecs (SDP, ICE candidate lines).
 *
 * A zdc_str is a (pointer, length) view into the caller's text: never NUL-terminated, never
 * written to. Number parsing is strict (digits only, overflow and range checked) — no sscanf,
 * no locale, no leading '+' or spaces.
 */
#ifndef ZDC_CORE_TEXT_H
#define ZDC_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct zdc_str {
    const char *p;
    size_t len;
} zdc_str;

#define ZDC_STR_LIT(s) ((zdc_str){(s), sizeof(s) - 1})

static inline zdc_str zdc_str_make(const char *p, size_t len)
{
    return (zdc_str){p, len};
}

/* View of a NUL-terminated string (NULL gives the empty view). */
zdc_str zdc_str_c(const char *s);

bool zdc_str_eq(zdc_str a, zdc_str b);
/* Equal ignoring ASCII case. */
bool zdc_str_ieq(zdc_str a, zdc_str b);
bool zdc_str_eq_c(zdc_str a, const char *b);
bool zdc_str_ieq_c(zdc_str a, const char *b);
bool zdc_str_has_prefix(zdc_str s, const char *prefix);
bool zdc_str_ihas_prefix(zdc_str s, const char *prefix);

/* Drops `n` bytes from the front (n is clamped to the length). */
zdc_str zdc_str_drop(zdc_str s, size_t n);

/* Removes spaces and tabs at both ends. */
zdc_str zdc_str_trim(zdc_str s);

/* Splits off the text before the first `sep` into *tok and leaves the rest after it in *s.
 * Without a `sep`, *tok is all of *s and *s becomes empty. Returns false only when *s was
 * already empty (nothing to take). */
bool zdc_str_split(zdc_str *s, char sep, zdc_str *tok);

/* Like zdc_str_split on a single space, but a run of spaces counts as one separator and
 * leading spaces are skipped. Returns false when no token is left. */
bool zdc_str_token(zdc_str *s, zdc_str *tok);

/* Takes the next line from *s: ends at LF, and a CR right before the LF is dropped (so CRLF and
 * bare LF both work). A final line without LF is returned too. Returns false at the end. */
bool zdc_str_next_line(zdc_str *s, zdc_str *line);

/* Strict unsigned decimal: one or more digits, nothing else, value <= max.
 * Returns 0, or ZDC_ERR_MALFORMED (empty, a non-digit) or ZDC_ERR_TOO_LARGE (> max). */
int zdc_str_to_u64(zdc_str s, uint64_t max, uint64_t *out);

/* Index of the first `c` in s, or -1. */
long zdc_str_find(zdc_str s, char c);

/* Copies s into dst as a NUL-terminated string if it fits (len < cap).
 * Returns 0 or ZDC_ERR_TOO_LARGE (dst is then set to the empty string when cap > 0). */
int zdc_str_copy(zdc_str s, char *dst, size_t cap);

#endif /* ZDC_CORE_TEXT_H */
