/* SDP codec for data-channel sessions: parser (views into the input, fixed capacity) and the
 * offer/answer builder. See include/zdc/sdp.h for what is accepted. */
#include "zdc/sdp.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "text.h"
#include "zdc/error.h"

/* ---- small helpers ----------------------------------------------------------------------- */

/* s equals the string literal `lit` (length known at compile time). */
#define IS(s, lit) ((s).len == sizeof(lit) - 1 && memcmp((s).p, (lit), sizeof(lit) - 1) == 0)

static zdc_sdp_str view(zdc_str s)
{
    return (zdc_sdp_str){s.p, s.len};
}
static zdc_str str(zdc_sdp_str s)
{
    return zdc_str_make(s.p, s.len);
}
static bool present(zdc_sdp_str s)
{
    return s.p != NULL;
}

static const struct {
    enum zdc_sdp_hash hash;
    const char *name;
    size_t len;
} hashes[] = {
    {ZDC_SDP_HASH_SHA1, "sha-1", 20},     {ZDC_SDP_HASH_SHA224, "sha-224", 28},
    {ZDC_SDP_HASH_SHA256, "sha-256", 32}, {ZDC_SDP_HASH_SHA384, "sha-384", 48},
    {ZDC_SDP_HASH_SHA512, "sha-512", 64},
};

size_t zdc_sdp_hash_len(enum zdc_sdp_hash hash)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].hash == hash)
            return hashes[i].len;
    return 0;
}

const char *zdc_sdp_hash_name(enum zdc_sdp_hash hash)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (hashes[i].hash == hash)
            return hashes[i].name;
    return NULL;
}

static enum zdc_sdp_hash hash_from_name(zdc_str name)
{
    for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
        if (zdc_str_ieq_c(name, hashes[i].name))
            return hashes[i].hash;
    return ZDC_SDP_HASH_UNKNOWN;
}

/* RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/" */
static bool ice_chars_ok(zdc_str s, size_t min, size_t max)
{
    if (s.len < min || s.len > max)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/';
        if (!ok)
            return false;
    }
    return true;
}

/* RFC 8866 §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E */
static bool token_ok(zdc_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        bool ok = c == 0x21 || (c >= 0x23 && c <= 0x27) || c == 0x2a || c == 0x2b || c == 0x2d ||
                  c == 0x2e || (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) ||
                  (c >= 0x5e && c <= 0x7e);
        if (!ok)
            return false;
    }
    return true;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- parser ------------------------------------------------------------------------------ */

typedef struct parser {
    zdc_sdp *out;
    zdc_sdp_error *err;
    unsigned line;
    zdc_sdp_media *m; /* current m-section, NULL at session level */
    bool seen_o, seen_s;
    bool session_eoc;      /* session-level a=end-of-candidates */
    bool sctpmap_dc;       /* current section: a=sctpmap names webrtc-datachannel */
    uint64_t sctpmap_port; /* ... for this port */
} parser;

/* Records the error as "line <n>: <what>: <why>" (what names the field; NULL for errors about
 * the line as a whole, line 0 for errors about the whole input) and returns rc. */
static int fail(parser *ps, int rc, const char *what, const char *why)
{
    zdc_sdp_error *e = ps->err;
    if (!e)
        return rc;
    e->line = ps->line;
    char where[24] = "";
    if (ps->line)
        snprintf(where, sizeof where, "line %u: ", ps->line);
    snprintf(e->msg, sizeof e->msg, "%s%s%s%s", where, what ? what : "", what ? ": " : "", why);
    return rc;
}

static int parse_u64(parser *ps, zdc_str s, uint64_t max, uint64_t *v, const char *what)
{
    int rc = zdc_str_to_u64(s, max, v);
    if (rc == ZDC_ERR_TOO_LARGE)
        return fail(ps, ZDC_ERR_MALFORMED, what, "number out of range");
    if (rc != 0)
        return fail(ps, ZDC_ERR_MALFORMED, what, "bad number");
    return 0;
}

/* o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> (RFC 8866 §5.2) */
static int parse_origin(parser *ps, zdc_str v)
{
    zdc_str t[6], extra;
    if (ps->m || ps->seen_o)
        return fail(ps, ZDC_ERR_MALFORMED, "o=", "misplaced or repeated");
    for (int i = 0; i < 6; i++)
        if (!zdc_str_token(&v, &t[i]))
            return fail(ps, ZDC_ERR_MALFORMED, "o=", "expected 6 fields");
    if (zdc_str_token(&v, &extra))
        return fail(ps, ZDC_ERR_MALFORMED, "o=", "expected 6 fields");
    int rc = parse_u64(ps, t[1], UINT64_MAX, &ps->out->sess_id, "o=");
    if (rc == 0)
        rc = parse_u64(ps, t[2], UINT64_MAX, &ps->out->sess_version, "o=");
    if (rc != 0)
        return rc;
    ps->out->origin_username = view(t[0]);
    ps->out->origin_address = view(t[5]);
    ps->seen_o = true;
    return 0;
}

/* c=<nettype> <addrtype> <connection-address> (RFC 8866 §5.7) */
static int parse_connection(parser *ps, zdc_str v)
{
    zdc_sdp_connection *c = ps->m ? &ps->m->connection : &ps->out->connection;
    zdc_str t[3], extra;
    if (c->present)
        return fail(ps, ZDC_ERR_MALFORMED, "c=", "repeated");
    for (int i = 0; i < 3; i++)
        if (!zdc_str_token(&v, &t[i]))
            return fail(ps, ZDC_ERR_MALFORMED, "c=", "expected 3 fields");
    if (zdc_str_token(&v, &extra))
        return fail(ps, ZDC_ERR_MALFORMED, "c=", "expected 3 fields");
    c->present = true;
    c->nettype = view(t[0]);
    c->addrtype = view(t[1]);
    c->address = view(t[2]);
    return 0;
}

static enum zdc_sdp_kind kind_from(zdc_str s)
{
    if (IS(s, "application"))
        return ZDC_SDP_KIND_APPLICATION;
    if (IS(s, "audio"))
        return ZDC_SDP_KIND_AUDIO;
    if (IS(s, "video"))
        return ZDC_SDP_KIND_VIDEO;
    return ZDC_SDP_KIND_OTHER;
}

static enum zdc_sdp_proto proto_from(zdc_str s)
{
    if (IS(s, "UDP/DTLS/SCTP"))
        return ZDC_SDP_PROTO_UDP_DTLS_SCTP;
    if (IS(s, "TCP/DTLS/SCTP"))
        return ZDC_SDP_PROTO_TCP_DTLS_SCTP;
    if (IS(s, "DTLS/SCTP"))
        return ZDC_SDP_PROTO_DTLS_SCTP;
    return ZDC_SDP_PROTO_OTHER;
}

static void end_section(parser *ps);

/* m=<media> <port>[/<number of ports>] <proto> <fmt> ... (RFC 8866 §5.14) */
static int parse_media(parser *ps, zdc_str v)
{
    zdc_sdp *out = ps->out;
    zdc_str media, port, proto, portnum;
    if (!ps->seen_o || !ps->seen_s)
        return fail(ps, ZDC_ERR_MALFORMED, "m=", "before o= and s=");
    if (out->n_media == ZDC_SDP_MAX_MEDIA)
        return fail(ps, ZDC_ERR_TOO_LARGE, "m=", "too many m-sections");
    if (!zdc_str_token(&v, &media) || !zdc_str_token(&v, &port) || !zdc_str_token(&v, &proto))
        return fail(ps, ZDC_ERR_MALFORMED, "m=", "expected <media> <port> <proto> <fmt>");
    zdc_str fmt = zdc_str_trim(v);
    if (fmt.len == 0)
        return fail(ps, ZDC_ERR_MALFORMED, "m=", "no fmt");
    if (!token_ok(media))
        return fail(ps, ZDC_ERR_MALFORMED, "m=", "bad media");
    zdc_str_split(&port, '/', &portnum);
    uint64_t n;
    int rc = parse_u64(ps, portnum, 65535, &n, "m=");
    if (rc != 0)
        return rc;
    if (ps->m)
        end_section(ps);
    zdc_sdp_media *m = &out->media[out->n_media++];
    memset(m, 0, offsetof(zdc_sdp_media, fingerprints));
    m->line = ps->line;
    m->kind = kind_from(media);
    m->media = view(media);
    m->port = (uint16_t)n;
    m->proto = proto_from(proto);
    m->proto_text = view(proto);
    m->fmt = view(fmt);
    ps->m = m;
    ps->sctpmap_dc = false;
    return 0;
}

/* a=fingerprint:<hash-func> <hex pairs separated by ':'> (RFC 8122 §5) */
static int parse_fingerprint(parser *ps, zdc_str v)
{
    size_t *n = ps->m ? &ps->m->n_fingerprints : &ps->out->n_fingerprints;
    zdc_sdp_fingerprint *fps = ps->m ? ps->m->fingerprints : ps->out->fingerprints;
    zdc_str name, hex, extra;
    if (!zdc_str_token(&v, &name) || !zdc_str_token(&v, &hex) || zdc_str_token(&v, &extra))
        return fail(ps, ZDC_ERR_MALFORMED, "a=fingerprint", "expected <hash> <hex>");
    if (*n == ZDC_SDP_MAX_FINGERPRINTS)
        return fail(ps, ZDC_ERR_TOO_LARGE, "a=fingerprint", "too many fingerprints");
    zdc_sdp_fingerprint *fp = &fps[*n];
    memset(fp, 0, sizeof *fp);
    fp->hash = hash_from_name(name);
    fp->hash_name = view(name);
    /* fingerprint = 2UHEX *(":" 2UHEX); lower case is accepted too (browsers differ). */
    size_t i = 0;
    for (;;) {
        if (hex.len - i < 2)
            return fail(ps, ZDC_ERR_MALFORMED, "a=fingerprint", "bad hex");
        int hi = hex_digit(hex.p[i]), lo = hex_digit(hex.p[i + 1]);
        if (hi < 0 || lo < 0)
            return fail(ps, ZDC_ERR_MALFORMED, "a=fingerprint", "bad hex");
        if (fp->len == ZDC_SDP_FINGERPRINT_MAX)
            return fail(ps, ZDC_ERR_MALFORMED, "a=fingerprint", "too long");
        fp->bytes[fp->len++] = (uint8_t)(hi << 4 | lo);
        i += 2;
        if (i == hex.len)
            break;
        if (hex.p[i] != ':')
            return fail(ps, ZDC_ERR_MALFORMED, "a=fingerprint", "bad hex");
        i++;
    }
    size_t want = zdc_sdp_hash_len(fp->hash);
    if (want && fp->len != want)
        return fail(ps, ZDC_ERR_MALFORMED, "a=fingerprint", "length does not match hash");
    (*n)++;
    return 0;
}

static int parse_setup(parser *ps, zdc_str v)
{
    enum zdc_sdp_setup *s = ps->m ? &ps->m->setup : &ps->out->setup;
    enum zdc_sdp_setup val;
    /* RFC 4145 §4: setup-value = "active" / "passive" / "actpass" / "holdconn" */
    if (IS(v, "actpass"))
        val = ZDC_SDP_SETUP_ACTPASS;
    else if (IS(v, "active"))
        val = ZDC_SDP_SETUP_ACTIVE;
    else if (IS(v, "passive"))
        val = ZDC_SDP_SETUP_PASSIVE;
    else if (IS(v, "holdconn"))
        val = ZDC_SDP_SETUP_HOLDCONN;
    else
        return fail(ps, ZDC_ERR_MALFORMED, "a=setup", "unknown value");
    if (*s != ZDC_SDP_SETUP_NONE)
        return fail(ps, ZDC_ERR_MALFORMED, "a=setup", "repeated");
    *s = val;
    return 0;
}

/* ice-ufrag = 4*256ice-char, ice-pwd = 22*256ice-char (RFC 8839 §5.4) */
static int parse_ice_cred(parser *ps, zdc_str v, bool pwd)
{
    const char *what = pwd ? "a=ice-pwd" : "a=ice-ufrag";
    zdc_sdp_str *dst;
    if (pwd)
        dst = ps->m ? &ps->m->ice_pwd : &ps->out->ice_pwd;
    else
        dst = ps->m ? &ps->m->ice_ufrag : &ps->out->ice_ufrag;
    if (!ice_chars_ok(v, pwd ? 22 : 4, 256))
        return fail(ps, ZDC_ERR_MALFORMED, what, "bad value");
    if (present(*dst))
        return fail(ps, ZDC_ERR_MALFORMED, what, "repeated");
    *dst = view(v);
    return 0;
}

/* RFC 8839 §5.6: ice-options = ice-option-tag *(SP ice-option-tag). libdatachannel writes
 * "ice2,trickle", so a comma separates too. Returns false when no tag is left. */
static bool next_option(zdc_str *s, zdc_str *tok)
{
    while (s->len && (s->p[0] == ' ' || s->p[0] == ','))
        *s = zdc_str_drop(*s, 1);
    if (s->len == 0)
        return false;
    size_t i = 0;
    while (i < s->len && s->p[i] != ' ' && s->p[i] != ',')
        i++;
    *tok = zdc_str_make(s->p, i);
    *s = zdc_str_drop(*s, i);
    return true;
}

static int parse_ice_options(parser *ps, zdc_str v)
{
    zdc_sdp_str *dst = ps->m ? &ps->m->ice_options : &ps->out->ice_options;
    zdc_str rest = v, tok;
    int n = 0;
    while (next_option(&rest, &tok)) {
        if (!token_ok(tok))
            return fail(ps, ZDC_ERR_MALFORMED, "a=ice-options", "bad option");
        n++;
    }
    if (n == 0)
        return fail(ps, ZDC_ERR_MALFORMED, "a=ice-options", "empty");
    if (present(*dst))
        return fail(ps, ZDC_ERR_MALFORMED, "a=ice-options", "repeated");
    *dst = view(v);
    return 0;
}

static int parse_group(parser *ps, zdc_str v)
{
    zdc_sdp *out = ps->out;
    zdc_str sem, mid;
    if (ps->m)
        return 0; /* RFC 5888 §5: session-level only; ignored elsewhere */
    if (!zdc_str_token(&v, &sem))
        return fail(ps, ZDC_ERR_MALFORMED, "a=group", "no semantics");
    if (!IS(sem, "BUNDLE") || out->has_bundle)
        return 0; /* other semantics (LS, FID) and later groups are not used */
    out->has_bundle = true;
    while (zdc_str_token(&v, &mid)) {
        if (!token_ok(mid))
            return fail(ps, ZDC_ERR_MALFORMED, "a=group", "bad mid");
        if (out->n_bundle == ZDC_SDP_MAX_BUNDLE)
            return fail(ps, ZDC_ERR_TOO_LARGE, "a=group", "too many mids");
        out->bundle[out->n_bundle++] = view(mid);
    }
    return 0;
}

static int parse_mid(parser *ps, zdc_str v)
{
    zdc_sdp_media *m = ps->m;
    if (!m)
        return fail(ps, ZDC_ERR_MALFORMED, "a=mid", "at session level");
    /* RFC 5888 §4: identification-tag = token */
    if (!token_ok(v))
        return fail(ps, ZDC_ERR_MALFORMED, "a=mid", "bad value");
    if (present(m->mid))
        return fail(ps, ZDC_ERR_MALFORMED, "a=mid", "repeated");
    /* RFC 5888 §4: an identification-tag MUST be unique within an SDP session description. */
    for (zdc_sdp_media *o = ps->out->media; o < m; o++)
        if (zdc_str_eq(str(o->mid), v))
            return fail(ps, ZDC_ERR_MALFORMED, "a=mid", "not unique");
    m->mid = view(v);
    return 0;
}

static int parse_sctp_port(parser *ps, zdc_str v)
{
    uint64_t n;
    if (!ps->m)
        return 0; /* media-level attribute (RFC 8841 §5.1); ignored elsewhere */
    int rc = parse_u64(ps, v, 65535, &n, "a=sctp-port");
    if (rc != 0)
        return rc;
    if (n == 0)
        return fail(ps, ZDC_ERR_MALFORMED, "a=sctp-port", "number out of range");
    if (ps->m->sctp_port)
        return fail(ps, ZDC_ERR_MALFORMED, "a=sctp-port", "repeated");
    ps->m->sctp_port = (uint16_t)n;
    return 0;
}

static int parse_max_message_size(parser *ps, zdc_str v)
{
    uint64_t n;
    if (!ps->m)
        return 0; /* media-level attribute (RFC 8841 §6.1); ignored elsewhere */
    int rc = parse_u64(ps, v, UINT64_MAX, &n, "a=max-message-size");
    if (rc != 0)
        return rc;
    if (ps->m->has_max_message_size)
        return fail(ps, ZDC_ERR_MALFORMED, "a=max-message-size", "repeated");
    ps->m->has_max_message_size = true;
    ps->m->max_message_size = n;
    return 0;
}

/* Legacy: a=sctpmap:<sctpmap-number> <protocol> [<streams>] */
static int parse_sctpmap(parser *ps, zdc_str v)
{
    zdc_str num, proto, streams, extra;
    uint64_t port, n = 0;
    if (!ps->m)
        return 0;
    if (!zdc_str_token(&v, &num) || !zdc_str_token(&v, &proto))
        return fail(ps, ZDC_ERR_MALFORMED, "a=sctpmap", "expected <port> <protocol>");
    int rc = parse_u64(ps, num, 65535, &port, "a=sctpmap");
    if (rc == 0 && zdc_str_token(&v, &streams))
        rc = parse_u64(ps, streams, UINT32_MAX, &n, "a=sctpmap");
    if (rc != 0)
        return rc;
    if (zdc_str_token(&v, &extra))
        return fail(ps, ZDC_ERR_MALFORMED, "a=sctpmap", "trailing text");
    if (IS(proto, "webrtc-datachannel") && !ps->sctpmap_dc) {
        ps->sctpmap_dc = true;
        ps->sctpmap_port = port;
        ps->m->sctpmap_streams = (uint32_t)n;
    }
    return 0;
}

static int parse_candidate(parser *ps, zdc_str attr)
{
    zdc_sdp_media *m = ps->m;
    /* RFC 8839 §5.1: the candidate attribute is media-level only. */
    if (!m)
        return fail(ps, ZDC_ERR_MALFORMED, "a=candidate", "at session level");
    if (attr.len == sizeof "candidate:" - 1)
        return fail(ps, ZDC_ERR_MALFORMED, "a=candidate", "empty");
    /* Beyond the cap a candidate is counted and skipped, not an error: a browser on a host
     * with many interfaces offers more, and the first ones (its own order) are enough. */
    if (m->n_candidates == ZDC_SDP_MAX_CANDIDATES) {
        m->candidates_ignored++;
        return 0;
    }
    m->candidates[m->n_candidates++] = view(attr);
    return 0;
}

static int set_direction(parser *ps, enum zdc_sdp_direction d)
{
    if (ps->m)
        ps->m->direction = d; /* session-level direction is not used by data channels */
    return 0;
}

static int on_sendrecv(parser *ps, zdc_str v)
{
    return set_direction(ps, ZDC_SDP_DIR_SENDRECV);
}
static int on_sendonly(parser *ps, zdc_str v)
{
    return set_direction(ps, ZDC_SDP_DIR_SENDONLY);
}
static int on_recvonly(parser *ps, zdc_str v)
{
    return set_direction(ps, ZDC_SDP_DIR_RECVONLY);
}
static int on_inactive(parser *ps, zdc_str v)
{
    return set_direction(ps, ZDC_SDP_DIR_INACTIVE);
}
static int on_ice_ufrag(parser *ps, zdc_str v)
{
    return parse_ice_cred(ps, v, false);
}
static int on_ice_pwd(parser *ps, zdc_str v)
{
    return parse_ice_cred(ps, v, true);
}

/* RFC 8840 §8.2: session or media level. */
static int on_end_of_candidates(parser *ps, zdc_str v)
{
    if (ps->m)
        ps->m->end_of_candidates = true;
    else
        ps->session_eoc = true;
    return 0;
}

static int on_ice_lite(parser *ps, zdc_str v)
{
    ps->out->ice_lite = true; /* RFC 8839 §5.3: session-level; tolerated in a section */
    return 0;
}

static int on_bundle_only(parser *ps, zdc_str v)
{
    if (ps->m)
        ps->m->bundle_only = true;
    return 0;
}

static int on_extmap_allow_mixed(parser *ps, zdc_str v)
{
    if (!ps->m)
        ps->out->extmap_allow_mixed = true;
    return 0;
}

static int on_msid_semantic(parser *ps, zdc_str v)
{
    if (!ps->m)
        ps->out->msid_semantic = view(zdc_str_trim(v));
    return 0;
}

/* The attributes zdc reads; `valued` ones are malformed without ":<value>". */
#define RULE(name, valued, fn)                                                                     \
    {                                                                                              \
        name, sizeof(name) - 1, valued, fn                                                         \
    }
static const struct attr_rule {
    const char *name;
    size_t len;
    bool valued;
    int (*fn)(parser *, zdc_str value);
} attr_rules[] = {
    RULE("candidate", true, NULL), /* handled before the table: it needs the whole text */
    RULE("ice-ufrag", true, on_ice_ufrag),
    RULE("ice-pwd", true, on_ice_pwd),
    RULE("ice-options", true, parse_ice_options),
    RULE("fingerprint", true, parse_fingerprint),
    RULE("setup", true, parse_setup),
    RULE("mid", true, parse_mid),
    RULE("sctp-port", true, parse_sctp_port),
    RULE("max-message-size", true, parse_max_message_size),
    RULE("sctpmap", true, parse_sctpmap),
    RULE("group", true, parse_group),
    RULE("end-of-candidates", false, on_end_of_candidates),
    RULE("sendrecv", false, on_sendrecv),
    RULE("sendonly", false, on_sendonly),
    RULE("recvonly", false, on_recvonly),
    RULE("inactive", false, on_inactive),
    RULE("ice-lite", false, on_ice_lite),
    RULE("bundle-only", false, on_bundle_only),
    RULE("extmap-allow-mixed", false, on_extmap_allow_mixed),
    RULE("msid-semantic", false, on_msid_semantic),
};
#undef RULE

/* a=<attribute>[:<value>] (RFC 8866 §5.13); attr is the text after "a=". */
static int parse_attribute(parser *ps, zdc_str attr)
{
    zdc_str value = attr, name = attr;
    zdc_str_split(&value, ':', &name);
    bool has_value = name.len < attr.len;

    for (size_t i = 0; i < sizeof attr_rules / sizeof attr_rules[0]; i++) {
        const struct attr_rule *r = &attr_rules[i];
        if (name.len != r->len || memcmp(name.p, r->name, r->len) != 0)
            continue;
        if (r->valued && !has_value) {
            char what[32];
            snprintf(what, sizeof what, "a=%s", r->name);
            return fail(ps, ZDC_ERR_MALFORMED, what, "no value");
        }
        return r->fn ? r->fn(ps, value) : parse_candidate(ps, attr);
    }
    return 0; /* RFC 8866 §5.13: unknown attributes are ignored */
}

/* Decides whether the section just finished is a data-channel section. */
static void end_section(parser *ps)
{
    zdc_sdp_media *m = ps->m;
    if (m->kind != ZDC_SDP_KIND_APPLICATION)
        return;
    if ((m->proto == ZDC_SDP_PROTO_UDP_DTLS_SCTP || m->proto == ZDC_SDP_PROTO_TCP_DTLS_SCTP) &&
        IS(m->fmt, "webrtc-datachannel")) {
        m->datachannel = true;
        return;
    }
    uint64_t port;
    if (m->proto == ZDC_SDP_PROTO_DTLS_SCTP && ps->sctpmap_dc &&
        zdc_str_to_u64(str(m->fmt), 65535, &port) == 0 && port == ps->sctpmap_port) {
        m->datachannel = true;
        m->legacy_sctpmap = true;
        if (!m->sctp_port)
            m->sctp_port = (uint16_t)port;
    } else {
        m->sctpmap_streams = 0;
    }
}

/* Fills what each section inherits from the session level. */
static void inherit(zdc_sdp *out, bool session_eoc)
{
    for (size_t i = 0; i < out->n_media; i++) {
        zdc_sdp_media *m = &out->media[i];
        if (!present(m->ice_ufrag))
            m->ice_ufrag = out->ice_ufrag;
        if (!present(m->ice_pwd))
            m->ice_pwd = out->ice_pwd;
        if (!present(m->ice_options))
            m->ice_options = out->ice_options;
        if (m->setup == ZDC_SDP_SETUP_NONE)
            m->setup = out->setup;
        if (!m->connection.present)
            m->connection = out->connection;
        if (m->n_fingerprints == 0) {
            m->n_fingerprints = out->n_fingerprints;
            memcpy(m->fingerprints, out->fingerprints,
                   out->n_fingerprints * sizeof out->fingerprints[0]);
        }
        m->end_of_candidates |= session_eoc;
        zdc_str opts = str(m->ice_options), tok;
        while (next_option(&opts, &tok)) {
            m->ice_trickle |= IS(tok, "trickle");
            m->ice_ice2 |= IS(tok, "ice2");
        }
    }
}

static int parse_line(parser *ps, zdc_str l)
{
    if (l.len < 2 || l.p[1] != '=')
        return fail(ps, ZDC_ERR_MALFORMED, NULL, "expected <type>=<value>");
    /* RFC 8866 §5: text fields may hold any byte but NUL, CR and LF. */
    if (memchr(l.p, '\0', l.len) || memchr(l.p, '\r', l.len))
        return fail(ps, ZDC_ERR_MALFORMED, NULL, "NUL or CR inside the line");
    char type = l.p[0];
    zdc_str v = zdc_str_drop(l, 2);
    switch (type) {
    case 'v':
        return fail(ps, ZDC_ERR_MALFORMED, "v=", "repeated");
    case 'o':
        return parse_origin(ps, v);
    case 's':
        if (ps->m || ps->seen_s)
            return fail(ps, ZDC_ERR_MALFORMED, "s=", "misplaced or repeated");
        ps->seen_s = true;
        ps->out->session_name = view(v);
        return 0;
    case 'c':
        return parse_connection(ps, v);
    case 'm':
        return parse_media(ps, v);
    case 'a':
        return parse_attribute(ps, v);
    case 'i':
    case 'u':
    case 'e':
    case 'p':
    case 'b':
    case 't':
    case 'r':
    case 'z':
    case 'k':
        return 0; /* not used by data-channel sessions */
    default:
        /* RFC 8866 §5: a parser MUST completely ignore or reject a description with a type
         * letter it does not understand; zdc rejects. */
        return fail(ps, ZDC_ERR_MALFORMED, NULL, "unknown type letter");
    }
}

int zdc_sdp_parse(const char *text, size_t len, zdc_sdp *out, zdc_sdp_error *err)
{
    parser ps = {.out = out, .err = err};
    if (err) {
        err->line = 0;
        err->msg[0] = '\0';
    }
    if (!text || !out)
        return fail(&ps, ZDC_ERR_INVALID_PARAMETER, NULL, "NULL argument");
    /* Arrays are filled up to their counts; clearing them all would cost more than parsing. */
    memset(out, 0, offsetof(zdc_sdp, fingerprints));
    if (len > ZDC_SDP_MAX_INPUT)
        return fail(&ps, ZDC_ERR_TOO_LARGE, NULL, "input too large");

    zdc_str rest = zdc_str_make(text, len), l;
    bool seen_v = false;
    while (zdc_str_next_line(&rest, &l)) {
        ps.line++;
        if (ps.line > ZDC_SDP_MAX_LINES)
            return fail(&ps, ZDC_ERR_TOO_LARGE, NULL, "too many lines");
        if (l.len > ZDC_SDP_MAX_LINE_LEN)
            return fail(&ps, ZDC_ERR_TOO_LARGE, NULL, "line too long");
        if (l.len == 0)
            continue; /* tolerated: hand-edited SDP often ends with a blank line */
        if (!seen_v) {
            /* RFC 8866 §5.1: the first line is "v=0". */
            if (!IS(l, "v=0"))
                return fail(&ps, ZDC_ERR_MALFORMED, "v=", "first line must be v=0");
            seen_v = true;
            continue;
        }
        int rc = parse_line(&ps, l);
        if (rc != 0)
            return rc;
    }
    ps.line = 0;
    if (!seen_v)
        return fail(&ps, ZDC_ERR_MALFORMED, NULL, "empty input");
    if (!ps.seen_o || !ps.seen_s)
        return fail(&ps, ZDC_ERR_MALFORMED, NULL, "no o= or s= line");
    if (ps.m)
        end_section(&ps);
    inherit(out, ps.session_eoc);
    return 0;
}

int zdc_sdp_find_datachannel(const zdc_sdp *sdp)
{
    for (size_t i = 0; sdp && i < sdp->n_media; i++)
        if (sdp->media[i].datachannel)
            return (int)i;
    return ZDC_ERR_NOT_FOUND;
}

/* ---- builder ----------------------------------------------------------------------------- */

static void put(zdc_wr *w, const char *s)
{
    zdc_wr_bytes(w, s, strlen(s));
}
static void put_str(zdc_wr *w, zdc_sdp_str s)
{
    zdc_wr_bytes(w, s.p, s.len);
}

static void put_u64(zdc_wr *w, uint64_t v)
{
    char tmp[20]; /* UINT64_MAX has 20 digits */
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    zdc_wr_bytes(w, tmp + i, sizeof tmp - i);
}

static const char *setup_name(enum zdc_sdp_setup s)
{
    switch (s) {
    case ZDC_SDP_SETUP_ACTPASS:
        return "actpass";
    case ZDC_SDP_SETUP_ACTIVE:
        return "active";
    case ZDC_SDP_SETUP_PASSIVE:
        return "passive";
    case ZDC_SDP_SETUP_HOLDCONN:
        return "holdconn";
    default:
        return NULL;
    }
}

static bool line_safe(zdc_sdp_str s)
{
    return !s.len ||
           (!memchr(s.p, '\r', s.len) && !memchr(s.p, '\n', s.len) && !memchr(s.p, '\0', s.len));
}

static int check_desc(const zdc_sdp_desc *d)
{
    if (!ice_chars_ok(str(d->ice_ufrag), 4, 256) || !ice_chars_ok(str(d->ice_pwd), 22, 256))
        return ZDC_ERR_INVALID_PARAMETER;
    size_t flen = zdc_sdp_hash_len(d->fingerprint.hash);
    if (!flen || d->fingerprint.len != flen)
        return ZDC_ERR_INVALID_PARAMETER;
    if (d->mid.len && !token_ok(str(d->mid)))
        return ZDC_ERR_INVALID_PARAMETER;
    if (d->n_candidates > ZDC_SDP_MAX_CANDIDATES)
        return ZDC_ERR_TOO_LARGE;
    if (d->n_candidates && !d->candidates)
        return ZDC_ERR_INVALID_PARAMETER;
    for (size_t i = 0; i < d->n_candidates; i++) {
        zdc_sdp_str c = d->candidates[i];
        if (!zdc_str_has_prefix(str(c), "candidate:") || c.len == sizeof "candidate:" - 1 ||
            !line_safe(c))
            return ZDC_ERR_INVALID_PARAMETER;
    }
    return 0;
}

static void put_session(zdc_wr *w, const zdc_sdp_desc *d, zdc_sdp_str bundle_mid)
{
    put(w, "v=0\r\no=- ");
    put_u64(w, d->sess_id);
    put(w, " ");
    put_u64(w, d->sess_version);
    put(w, " IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    if (bundle_mid.len) {
        put(w, "a=group:BUNDLE ");
        put_str(w, bundle_mid);
        put(w, "\r\n");
    }
    if (d->extmap_allow_mixed)
        put(w, "a=extmap-allow-mixed\r\n");
    put(w, "a=msid-semantic: WMS\r\n");
    if (d->ice_lite)
        put(w, "a=ice-lite\r\n");
}

/* The data-channel m-section (RFC 8841 §4/§5, JSEP §5.2.1). */
static void put_datachannel(zdc_wr *w, const zdc_sdp_desc *d, bool legacy, zdc_sdp_str mid)
{
    uint16_t sctp_port = d->sctp_port ? d->sctp_port : 5000;
    if (legacy) {
        put(w, "m=application 9 DTLS/SCTP ");
        put_u64(w, sctp_port);
        put(w, "\r\n");
    } else {
        put(w, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n");
    }
    put(w, "c=IN IP4 0.0.0.0\r\na=ice-ufrag:");
    put_str(w, d->ice_ufrag);
    put(w, "\r\na=ice-pwd:");
    put_str(w, d->ice_pwd);
    put(w, "\r\n");
    if (d->trickle)
        put(w, "a=ice-options:trickle\r\n");
    put(w, "a=fingerprint:");
    put(w, zdc_sdp_hash_name(d->fingerprint.hash));
    put(w, " ");
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < d->fingerprint.len; i++) {
        char b[3] = {hex[d->fingerprint.bytes[i] >> 4], hex[d->fingerprint.bytes[i] & 15], ':'};
        zdc_wr_bytes(w, b, i + 1 < d->fingerprint.len ? 3 : 2);
    }
    put(w, "\r\na=setup:");
    put(w, setup_name(d->setup));
    put(w, "\r\n");
    if (mid.len) {
        put(w, "a=mid:");
        put_str(w, mid);
        put(w, "\r\n");
    }
    if (legacy) {
        put(w, "a=sctpmap:");
        put_u64(w, sctp_port);
        put(w, " webrtc-datachannel 1024\r\n");
    } else {
        put(w, "a=sctp-port:");
        put_u64(w, sctp_port);
        put(w, "\r\n");
    }
    if (d->max_message_size) {
        put(w, "a=max-message-size:");
        put_u64(w, d->max_message_size);
        put(w, "\r\n");
    }
    for (size_t i = 0; i < d->n_candidates; i++) {
        put(w, "a=");
        put_str(w, d->candidates[i]);
        put(w, "\r\n");
    }
    if (d->end_of_candidates)
        put(w, "a=end-of-candidates\r\n");
}

static int finish(zdc_wr *w)
{
    zdc_wr_u8(w, 0);
    int n = zdc_wr_finish(w);
    return n < 0 ? n : n - 1;
}

int zdc_sdp_build_offer(const zdc_sdp_desc *d, char *buf, size_t cap)
{
    if (!d || !buf)
        return ZDC_ERR_INVALID_PARAMETER;
    int rc = check_desc(d);
    if (rc != 0)
        return rc;
    /* JSEP §5.2.1 / RFC 8842 §5.2: the offerer MUST use setup:actpass. */
    if (d->setup != ZDC_SDP_SETUP_ACTPASS)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_sdp_str mid = d->mid.len ? d->mid : (zdc_sdp_str){"0", 1};
    zdc_wr w;
    zdc_wr_init(&w, (uint8_t *)buf, cap);
    put_session(&w, d, mid);
    put_datachannel(&w, d, d->legacy_sctpmap, mid);
    return finish(&w);
}

/* JSEP §5.3.1: a rejected m-section keeps the offer's media, proto and fmt, has port 0, and
 * keeps its mid. */
static void put_rejected(zdc_wr *w, const zdc_sdp_media *m)
{
    put(w, "m=");
    put_str(w, m->media);
    put(w, " 0 ");
    put_str(w, m->proto_text);
    put(w, " ");
    put_str(w, m->fmt);
    put(w, "\r\nc=IN IP4 0.0.0.0\r\n");
    if (m->mid.len) {
        put(w, "a=mid:");
        put_str(w, m->mid);
        put(w, "\r\n");
    }
}

int zdc_sdp_build_answer(const zdc_sdp_desc *d, const zdc_sdp *offer, char *buf, size_t cap)
{
    if (!d || !offer || !buf || offer->n_media > ZDC_SDP_MAX_MEDIA)
        return ZDC_ERR_INVALID_PARAMETER;
    int rc = check_desc(d);
    if (rc != 0)
        return rc;
    int dc = zdc_sdp_find_datachannel(offer);
    if (dc < 0)
        return dc;
    const zdc_sdp_media *om = &offer->media[dc];
    /* JSEP §5.3.1 / RFC 8842 §5.3: the answerer MUST use active or passive ... */
    if (d->setup != ZDC_SDP_SETUP_ACTIVE && d->setup != ZDC_SDP_SETUP_PASSIVE)
        return ZDC_ERR_INVALID_PARAMETER;
    /* ... and the opposite of a role the offerer fixed. */
    if (om->setup == d->setup)
        return ZDC_ERR_INVALID_PARAMETER;
    for (size_t i = 0; i < offer->n_media; i++) {
        const zdc_sdp_media *m = &offer->media[i];
        if (!line_safe(m->media) || !line_safe(m->proto_text) || !line_safe(m->fmt) ||
            !line_safe(m->mid))
            return ZDC_ERR_INVALID_PARAMETER;
    }
    zdc_wr w;
    zdc_wr_init(&w, (uint8_t *)buf, cap);
    put_session(&w, d, offer->has_bundle ? om->mid : (zdc_sdp_str){NULL, 0});
    for (size_t i = 0; i < offer->n_media; i++) {
        if ((int)i == dc)
            put_datachannel(&w, d, om->legacy_sctpmap, om->mid);
        else
            put_rejected(&w, &offer->media[i]);
    }
    return finish(&w);
}
