#include "json.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/error.h"

typedef struct parser {
    const char *p;
    size_t len;
    size_t off;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (ps->off < ps->len) {
        char c = ps->p[ps->off];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        ps->off++;
    }
}

static bool peek(const parser *ps, char c)
{
    return ps->off < ps->len && ps->p[ps->off] == c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool take_literal(parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if (ps->len - ps->off < n || memcmp(ps->p + ps->off, lit, n) != 0)
        return false;
    ps->off += n;
    return true;
}

/* RFC 8259 §7: a string is quoted; control characters (< 0x20) must be escaped. On success
 * *contents is the text between the quotes. */
static int parse_string(parser *ps, zdc_str *contents)
{
    if (!peek(ps, '"'))
        return ZDC_ERR_MALFORMED;
    size_t start = ++ps->off;
    while (ps->off < ps->len) {
        unsigned char c = (unsigned char)ps->p[ps->off];
        if (c == '"') {
            *contents = zdc_str_make(ps->p + start, ps->off - start);
            ps->off++;
            return 0;
        }
        if (c < 0x20)
            return ZDC_ERR_MALFORMED;
        if (c == '\\') {
            if (ps->len - ps->off < 2)
                return ZDC_ERR_MALFORMED;
            char e = ps->p[ps->off + 1];
            if (e == 'u') {
                if (ps->len - ps->off < 6)
                    return ZDC_ERR_MALFORMED;
                for (int i = 2; i < 6; i++)
                    if (!is_hex(ps->p[ps->off + i]))
                        return ZDC_ERR_MALFORMED;
                ps->off += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0')
                return ZDC_ERR_MALFORMED;
            ps->off += 2;
            continue;
        }
        ps->off++;
    }
    return ZDC_ERR_MALFORMED;
}

/* RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int parse_number(parser *ps)
{
    if (peek(ps, '-'))
        ps->off++;
    if (peek(ps, '0')) {
        ps->off++;
    } else if (ps->off < ps->len && is_digit(ps->p[ps->off])) {
        while (ps->off < ps->len && is_digit(ps->p[ps->off]))
            ps->off++;
    } else {
        return ZDC_ERR_MALFORMED;
    }
    if (peek(ps, '.')) {
        ps->off++;
        if (!(ps->off < ps->len && is_digit(ps->p[ps->off])))
            return ZDC_ERR_MALFORMED;
        while (ps->off < ps->len && is_digit(ps->p[ps->off]))
            ps->off++;
    }
    if (peek(ps, 'e') || peek(ps, 'E')) {
        ps->off++;
        if (peek(ps, '+') || peek(ps, '-'))
            ps->off++;
        if (!(ps->off < ps->len && is_digit(ps->p[ps->off])))
            return ZDC_ERR_MALFORMED;
        while (ps->off < ps->len && is_digit(ps->p[ps->off]))
            ps->off++;
    }
    return 0;
}

static int parse_value(parser *ps, int *type, zdc_str *raw);

/* Parses an object or array body after its opening bracket; members of the top-level object
 * are stored when `out` is given. */
static int parse_container(parser *ps, bool object, zdc_json_member *out, size_t max, size_t *n)
{
    if (++ps->depth > ZDC_JSON_MAX_DEPTH)
        return ZDC_ERR_TOO_LARGE;
    char close = object ? '}' : ']';
    skip_ws(ps);
    if (peek(ps, close)) {
        ps->off++;
        ps->depth--;
        return 0;
    }
    for (;;) {
        zdc_str key = {0};
        int rv;
        skip_ws(ps);
        if (object) {
            if ((rv = parse_string(ps, &key)) != 0)
                return rv;
            skip_ws(ps);
            if (!peek(ps, ':'))
                return ZDC_ERR_MALFORMED;
            ps->off++;
        }
        int type;
        zdc_str raw;
        if ((rv = parse_value(ps, &type, &raw)) != 0)
            return rv;
        if (out) {
            if (*n == max)
                return ZDC_ERR_TOO_LARGE;
            out[*n] = (zdc_json_member){key, type, raw};
            (*n)++;
        }
        skip_ws(ps);
        if (peek(ps, ',')) {
            ps->off++;
            continue;
        }
        if (peek(ps, close)) {
            ps->off++;
            ps->depth--;
            return 0;
        }
        return ZDC_ERR_MALFORMED;
    }
}

static int parse_value(parser *ps, int *type, zdc_str *raw)
{
    skip_ws(ps);
    if (ps->off >= ps->len)
        return ZDC_ERR_MALFORMED;
    size_t start = ps->off;
    int rv = 0;
    char c = ps->p[ps->off];
    if (c == '"') {
        *type = ZDC_JSON_STRING;
        return parse_string(ps, raw);
    } else if (c == '{' || c == '[') {
        *type = c == '{' ? ZDC_JSON_OBJECT : ZDC_JSON_ARRAY;
        ps->off++;
        rv = parse_container(ps, c == '{', NULL, 0, NULL);
    } else if (c == 't') {
        *type = ZDC_JSON_TRUE;
        rv = take_literal(ps, "true") ? 0 : ZDC_ERR_MALFORMED;
    } else if (c == 'f') {
        *type = ZDC_JSON_FALSE;
        rv = take_literal(ps, "false") ? 0 : ZDC_ERR_MALFORMED;
    } else if (c == 'n') {
        *type = ZDC_JSON_NULL;
        rv = take_literal(ps, "null") ? 0 : ZDC_ERR_MALFORMED;
    } else {
        *type = ZDC_JSON_NUMBER;
        rv = parse_number(ps);
    }
    *raw = zdc_str_make(ps->p + start, ps->off - start);
    return rv;
}

int zdc_json_parse_object(const char *p, size_t len, zdc_json_member *out, size_t max, size_t *n)
{
    parser ps = {p, len, 0, 0};
    *n = 0;
    skip_ws(&ps);
    if (!peek(&ps, '{'))
        return ZDC_ERR_MALFORMED;
    ps.off++;
    int rv = parse_container(&ps, true, out, max, n);
    if (rv != 0) {
        *n = 0;
        return rv;
    }
    skip_ws(&ps);
    if (ps.off != ps.len) {
        *n = 0;
        return ZDC_ERR_MALFORMED;
    }
    return 0;
}

static int hex4(const char *s)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = is_digit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : c - 'A' + 10;
        v = v * 16 + d;
    }
    return v;
}

int zdc_json_unescape(zdc_str raw, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < raw.len;) {
        uint32_t cp;
        char c = raw.p[i];
        if (c != '\\') {
            if (cap - o < 2)
                return ZDC_ERR_BUFFER_TOO_SMALL;
            out[o++] = c;
            i++;
            continue;
        }
        if (raw.len - i < 2)
            return ZDC_ERR_MALFORMED;
        char e = raw.p[i + 1];
        i += 2;
        switch (e) {
        case '"':
            cp = '"';
            break;
        case '\\':
            cp = '\\';
            break;
        case '/':
            cp = '/';
            break;
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            if (raw.len - i < 4)
                return ZDC_ERR_MALFORMED;
            for (int k = 0; k < 4; k++)
                if (!is_hex(raw.p[i + (size_t)k]))
                    return ZDC_ERR_MALFORMED;
            cp = (uint32_t)hex4(raw.p + i);
            i += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return ZDC_ERR_MALFORMED; /* a low surrogate must follow a high one */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (raw.len - i < 6 || raw.p[i] != '\\' || raw.p[i + 1] != 'u')
                    return ZDC_ERR_MALFORMED;
                for (int k = 2; k < 6; k++)
                    if (!is_hex(raw.p[i + (size_t)k]))
                        return ZDC_ERR_MALFORMED;
                uint32_t lo = (uint32_t)hex4(raw.p + i + 2);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return ZDC_ERR_MALFORMED;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            break;
        default:
            return ZDC_ERR_MALFORMED;
        }
        uint8_t enc[4];
        size_t k;
        if (cp < 0x80) {
            enc[0] = (uint8_t)cp;
            k = 1;
        } else if (cp < 0x800) {
            enc[0] = (uint8_t)(0xC0 | cp >> 6);
            enc[1] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 2;
        } else if (cp < 0x10000) {
            enc[0] = (uint8_t)(0xE0 | cp >> 12);
            enc[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            enc[2] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 3;
        } else {
            enc[0] = (uint8_t)(0xF0 | cp >> 18);
            enc[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
            enc[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
            enc[3] = (uint8_t)(0x80 | (cp & 0x3F));
            k = 4;
        }
        if (cap - o < k + 1)
            return ZDC_ERR_BUFFER_TOO_SMALL;
        memcpy(out + o, enc, k);
        o += k;
    }
    if (cap - o < 1)
        return ZDC_ERR_BUFFER_TOO_SMALL;
    out[o] = '\0';
    return (int)o;
}

const zdc_json_member *zdc_json_find(const zdc_json_member *m, size_t n, const char *key)
{
    char buf[256];
    for (size_t i = 0; i < n; i++) {
        /* Keys are compared unescaped, so {"sdp\u004d..."} cannot hide from a lookup. */
        int k = zdc_json_unescape(m[i].key, buf, sizeof buf);
        if (k >= 0 && (size_t)k == strlen(key) && memcmp(buf, key, (size_t)k) == 0)
            return &m[i];
    }
    return NULL;
}

int zdc_json_to_i64(zdc_str raw, long long *out)
{
    bool neg = raw.len && raw.p[0] == '-';
    zdc_str digits = zdc_str_drop(raw, neg ? 1 : 0);
    uint64_t v;
    int rv = zdc_str_to_u64(digits, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v);
    if (rv != 0)
        return rv;
    if (digits.len > 1 && digits.p[0] == '0')
        return ZDC_ERR_MALFORMED;
    *out = neg ? (long long)(0 - v) : (long long)v;
    return 0;
}

int zdc_json_to_double(zdc_str raw, double *out)
{
    char buf[64];
    if (raw.len == 0 || raw.len >= sizeof buf)
        return ZDC_ERR_MALFORMED;
    parser ps = {raw.p, raw.len, 0, 0};
    if (parse_number(&ps) != 0 || ps.off != raw.len)
        return ZDC_ERR_MALFORMED;
    memcpy(buf, raw.p, raw.len);
    buf[raw.len] = '\0';
    errno = 0;
    char *end;
    double d = strtod(buf, &end);
    if (*end != '\0')
        return ZDC_ERR_MALFORMED;
    *out = d;
    return 0;
}

int zdc_json_escape(const char *s, size_t n, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        if (o + 1 >= cap)                                                                          \
            return ZDC_ERR_BUFFER_TOO_SMALL;                                                       \
        out[o++] = (ch);                                                                           \
    } while (0)
    PUT('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            PUT('\\');
            PUT('"');
            break;
        case '\\':
            PUT('\\');
            PUT('\\');
            break;
        case '\n':
            PUT('\\');
            PUT('n');
            break;
        case '\r':
            PUT('\\');
            PUT('r');
            break;
        case '\t':
            PUT('\\');
            PUT('t');
            break;
        default:
            if (c < 0x20) {
                PUT('\\');
                PUT('u');
                PUT('0');
                PUT('0');
                PUT(hex[c >> 4]);
                PUT(hex[c & 15]);
            } else {
                PUT((char)c);
            }
        }
    }
    PUT('"');
#undef PUT
    out[o] = '\0';
    return (int)o;
}
