/* ICE candidate lines: RFC 8839 §5.1 grammar, RFC 6544 §4.5 tcptype.
 *
 *   candidate-attribute = "candidate" ":" foundation SP component-id SP transport SP
 *                         priority SP connection-address SP port SP cand-type
 *                         [SP rel-addr] [SP rel-port] *(SP cand-extension)
 *   foundation   = 1*32ice-char          ice-char = ALPHA / DIGIT / "+" / "/"
 *   component-id = 1*3DIGIT              transport = "UDP" / transport-extension (token)
 *   priority     = 1*10DIGIT             cand-type = "typ" SP candidate-types
 *   rel-addr     = "raddr" SP connection-address     rel-port = "rport" SP port
 *   cand-extension = extension-att-name SP extension-att-value   (token SP *VCHAR)
 */
#include "zdc/candidate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "text.h"

static const char *const type_names[] = {"host", "srflx", "prflx", "relay"};
static const char *const tcptype_names[] = {"", "active", "passive", "so"};

uint32_t zdc_candidate_priority(uint8_t type_pref, uint16_t local_pref, uint16_t component)
{
    if (type_pref > 126)
        type_pref = 126;
    if (component < 1)
        component = 1;
    if (component > 256)
        component = 256;
    return ((uint32_t)type_pref << 24) + ((uint32_t)local_pref << 8) + (256u - component);
}

/* ---- character classes ----------------------------------------------------------------- */

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_ice_char(char c)
{
    return is_alnum(c) || c == '+' || c == '/';
}

/* RFC 3261 §25.1 token characters. */
static bool is_token_char(char c)
{
    return is_alnum(c) || (c && strchr("-.!%*_+`'~", c));
}

/* RFC 5234 VCHAR. */
static bool is_vchar(char c)
{
    return c >= 0x21 && c <= 0x7e;
}

static bool all_chars(zdc_str s, bool (*ok)(char))
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++)
        if (!ok(s.p[i]))
            return false;
    return true;
}

/* ---- addresses -------------------------------------------------------------------------- */

/* An FQDN as browsers put into candidates (mDNS "<uuid>.local", RFC 8839 §5.1 allows FQDNs):
 * letters, digits and hyphens in dot-separated labels of 1..63 characters, at most 253 in all. */
static bool is_fqdn(zdc_str s)
{
    size_t label = 0;
    if (s.len == 0 || s.len > 253)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (is_alnum(c) || c == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return label > 0;
}

/* Classifies a connection-address: 4 or 6 for a literal, 0 for an FQDN; negative if invalid.
 * Text that can only be meant as a literal (a ':' or only digits and dots) must be a valid
 * one, so "1.2.3.256" is rejected rather than taken as a host name. */
static int address_kind(zdc_str s)
{
    zdc_addr a;
    bool digits_dots = s.len > 0;
    if (s.len > 255)
        return ZDC_ERR_TOO_LARGE;
    for (size_t i = 0; i < s.len; i++)
        if (!((s.p[i] >= '0' && s.p[i] <= '9') || s.p[i] == '.'))
            digits_dots = false;
    if (zdc_str_find(s, ':') >= 0 || digits_dots) {
        if (zdc_addr_from_ip(&a, s.p, s.len, 0) != 0)
            return ZDC_ERR_MALFORMED;
        return zdc_addr_family(&a); /* 4 or 6 */
    }
    return is_fqdn(s) ? 0 : ZDC_ERR_MALFORMED;
}

/* ---- parser ------------------------------------------------------------------------------ */

static int parse_u32(zdc_str s, size_t max_digits, uint64_t max, uint32_t *out)
{
    uint64_t v;
    if (s.len > max_digits || zdc_str_to_u64(s, max, &v) != 0)
        return ZDC_ERR_MALFORMED;
    *out = (uint32_t)v;
    return 0;
}

static int parse_port(zdc_str s, uint16_t *out)
{
    uint32_t v;
    int rv = parse_u32(s, 5, 65535, &v);
    if (rv == 0)
        *out = (uint16_t)v;
    return rv;
}

static int parse_address(zdc_str s, char *dst, size_t cap, uint8_t *kind)
{
    int k = address_kind(s);
    if (k < 0)
        return k;
    if (zdc_str_copy(s, dst, cap) != 0)
        return ZDC_ERR_TOO_LARGE;
    if (kind)
        *kind = (uint8_t)k;
    return 0;
}

static int match_name(zdc_str s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (names[i][0] && zdc_str_ieq_c(s, names[i]))
            return i;
    return -1;
}

/* Strips "a=", "candidate:" and one trailing CRLF/LF. Returns true for an end-of-candidates
 * line (which has no candidate to parse). */
static bool strip_prefixes(zdc_str *s)
{
    if (s->len && s->p[s->len - 1] == '\n')
        s->len--;
    if (s->len && s->p[s->len - 1] == '\r')
        s->len--;
    if (zdc_str_has_prefix(*s, "a="))
        *s = zdc_str_drop(*s, 2);
    if (zdc_str_eq_c(*s, "end-of-candidates"))
        return true;
    if (zdc_str_ihas_prefix(*s, "candidate:"))
        *s = zdc_str_drop(*s, strlen("candidate:"));
    return zdc_str_trim(*s).len == 0;
}

/* foundation SP component-id SP transport SP priority SP connection-address SP port */
static int parse_head(zdc_str *s, zdc_candidate *c)
{
    zdc_str f, comp, tr, prio, addr, port;
    uint32_t v;
    if (!zdc_str_token(s, &f) || !zdc_str_token(s, &comp) || !zdc_str_token(s, &tr) ||
        !zdc_str_token(s, &prio) || !zdc_str_token(s, &addr) || !zdc_str_token(s, &port))
        return ZDC_ERR_MALFORMED;
    /* RFC 8839 §5.1: foundation = 1*32ice-char */
    if (f.len > 32 || !all_chars(f, is_ice_char))
        return ZDC_ERR_MALFORMED;
    memcpy(c->foundation, f.p, f.len);
    /* RFC 8839 §5.1: component-id = 1*3DIGIT, "MUST be ... between 1 and 256" */
    if (parse_u32(comp, 3, 256, &v) != 0 || v < 1)
        return ZDC_ERR_MALFORMED;
    c->component = (uint16_t)v;
    if (zdc_str_ieq_c(tr, "UDP"))
        c->transport = ZDC_CAND_UDP;
    else if (zdc_str_ieq_c(tr, "TCP"))
        c->transport = ZDC_CAND_TCP;
    else if (all_chars(tr, is_token_char))
        return ZDC_ERR_NOT_SUPPORTED; /* transport-extension: skip, e.g. "tls", "ssltcp" */
    else
        return ZDC_ERR_MALFORMED;
    /* RFC 8839 §5.1: priority = 1*10DIGIT, "MUST be ... between 1 and (2**31 - 1)" for the
     * sender; receivers accept any 32-bit value as the ICE agent computes with uint32. */
    if (parse_u32(prio, 10, UINT32_MAX, &c->priority) != 0)
        return ZDC_ERR_MALFORMED;
    int rv = parse_address(addr, c->address, sizeof c->address, &c->address_kind);
    if (rv != 0)
        return rv;
    return parse_port(port, &c->port);
}

static void keep_ext(zdc_candidate *c, zdc_str name, zdc_str value)
{
    if (c->n_ext >= ZDC_CAND_MAX_EXT || name.len >= ZDC_CAND_EXT_NAME_MAX ||
        value.len >= ZDC_CAND_EXT_VALUE_MAX)
        return; /* validated but not kept */
    zdc_str_copy(name, c->ext[c->n_ext].name, ZDC_CAND_EXT_NAME_MAX);
    zdc_str_copy(value, c->ext[c->n_ext].value, ZDC_CAND_EXT_VALUE_MAX);
    c->n_ext++;
}

/* [raddr A] [rport P] [tcptype T] *(name value), each a pair of tokens. */
static int parse_tail(zdc_str *s, zdc_candidate *c)
{
    bool seen_raddr = false, seen_rport = false;
    zdc_str name, value;
    int rv;
    while (zdc_str_token(s, &name)) {
        if (!zdc_str_token(s, &value))
            return ZDC_ERR_MALFORMED;
        if (zdc_str_ieq_c(name, "raddr")) {
            if (seen_raddr)
                return ZDC_ERR_MALFORMED;
            seen_raddr = true;
            rv = parse_address(value, c->raddr, sizeof c->raddr, NULL);
            if (rv != 0)
                return rv;
        } else if (zdc_str_ieq_c(name, "rport")) {
            if (seen_rport || parse_port(value, &c->rport) != 0)
                return ZDC_ERR_MALFORMED;
            seen_rport = true;
        } else if (zdc_str_ieq_c(name, "tcptype")) {
            int t = match_name(value, tcptype_names, 4);
            /* RFC 6544 §4.5: tcp-type = "active" / "passive" / "so", on TCP candidates */
            if (t <= 0 || c->tcptype != ZDC_CAND_TCP_NONE || c->transport != ZDC_CAND_TCP)
                return ZDC_ERR_MALFORMED;
            c->tcptype = (uint8_t)t;
        } else {
            if (!all_chars(name, is_token_char) || !all_chars(value, is_vchar))
                return ZDC_ERR_MALFORMED;
            keep_ext(c, name, value);
        }
    }
    /* Both or neither: the ICE agent needs the pair (RFC 8839 §5.1 rel-addr/rel-port). */
    if (seen_raddr != seen_rport)
        return ZDC_ERR_MALFORMED;
    c->has_raddr = seen_raddr;
    return 0;
}

static int parse_line(zdc_str s, zdc_candidate *c)
{
    zdc_str tok;
    int rv = parse_head(&s, c);
    if (rv != 0)
        return rv;
    /* RFC 8839 §5.1: cand-type = "typ" SP candidate-types */
    if (!zdc_str_token(&s, &tok) || !zdc_str_ieq_c(tok, "typ") || !zdc_str_token(&s, &tok))
        return ZDC_ERR_MALFORMED;
    int t = match_name(tok, type_names, 4);
    if (t < 0)
        return ZDC_ERR_MALFORMED;
    c->type = (uint8_t)t;
    return parse_tail(&s, c);
}

int zdc_candidate_parse(const char *s, size_t len, zdc_candidate *out)
{
    if (!out || (!s && len))
        return ZDC_ERR_INVALID_PARAMETER;
    memset(out, 0, sizeof *out);
    zdc_str line = zdc_str_make(s, len);
    if (strip_prefixes(&line))
        return ZDC_CAND_END;
    if (line.p[0] == ' ')
        return ZDC_ERR_MALFORMED; /* RFC 8839 §5.1: "candidate:" foundation, no space */
    for (size_t i = 0; i < line.len; i++)
        if (line.p[i] == '\0' || line.p[i] == '\r' || line.p[i] == '\n')
            return ZDC_ERR_MALFORMED; /* one line only, no embedded NUL */
    int rv = parse_line(line, out);
    if (rv != 0)
        memset(out, 0, sizeof *out);
    return rv;
}

/* ---- formatter --------------------------------------------------------------------------- */

static bool valid_cstr(const char *s, size_t cap, bool (*check)(zdc_str))
{
    size_t n = strnlen(s, cap);
    return n < cap && check(zdc_str_make(s, n));
}

static bool check_foundation(zdc_str s)
{
    return s.len <= 32 && all_chars(s, is_ice_char);
}
static bool check_address(zdc_str s)
{
    return address_kind(s) >= 0;
}
static bool check_token(zdc_str s)
{
    return all_chars(s, is_token_char);
}
static bool check_vchars(zdc_str s)
{
    return all_chars(s, is_vchar);
}

/* The same rules as the parser, so that whatever is formatted parses back. */
static bool valid_candidate(const zdc_candidate *c)
{
    if (!valid_cstr(c->foundation, sizeof c->foundation, check_foundation) || c->component < 1 ||
        c->component > 256 || c->transport > ZDC_CAND_TCP || c->type > ZDC_CAND_RELAY ||
        c->tcptype > ZDC_CAND_TCP_SO ||
        (c->tcptype != ZDC_CAND_TCP_NONE && c->transport != ZDC_CAND_TCP) ||
        !valid_cstr(c->address, sizeof c->address, check_address) ||
        (c->has_raddr && !valid_cstr(c->raddr, sizeof c->raddr, check_address)) ||
        c->n_ext > ZDC_CAND_MAX_EXT)
        return false;
    for (size_t i = 0; i < c->n_ext; i++) {
        const zdc_cand_ext *e = &c->ext[i];
        zdc_str name = zdc_str_make(e->name, strnlen(e->name, sizeof e->name));
        if (!valid_cstr(e->name, sizeof e->name, check_token) ||
            !valid_cstr(e->value, sizeof e->value, check_vchars) || zdc_str_ieq_c(name, "raddr") ||
            zdc_str_ieq_c(name, "rport") || zdc_str_ieq_c(name, "tcptype"))
            return false;
    }
    return true;
}

typedef struct outbuf {
    char *p;
    size_t cap, len;
    bool overflow;
} outbuf;

static void put(outbuf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(outbuf *o, const char *fmt, ...)
{
    va_list ap;
    if (o->overflow)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->overflow = true;
    else
        o->len += (size_t)n;
}

int zdc_candidate_format(const zdc_candidate *c, char *out, size_t cap)
{
    if (!c || (!out && cap) || !valid_candidate(c))
        return ZDC_ERR_INVALID_PARAMETER;
    if (cap == 0)
        return ZDC_ERR_BUFFER_TOO_SMALL;
    outbuf o = {out, cap, 0, false};
    put(&o, "candidate:%s %u %s %lu %s %u typ %s", c->foundation, (unsigned)c->component,
        c->transport == ZDC_CAND_TCP ? "TCP" : "UDP", (unsigned long)c->priority, c->address,
        (unsigned)c->port, type_names[c->type]);
    if (c->has_raddr)
        put(&o, " raddr %s rport %u", c->raddr, (unsigned)c->rport);
    if (c->tcptype != ZDC_CAND_TCP_NONE)
        put(&o, " tcptype %s", tcptype_names[c->tcptype]);
    for (size_t i = 0; i < c->n_ext; i++)
        put(&o, " %s %s", c->ext[i].name, c->ext[i].value);
    if (o.overflow || o.len > INT32_MAX) {
        out[0] = '\0';
        return ZDC_ERR_BUFFER_TOO_SMALL;
    }
    return (int)o.len;
}
