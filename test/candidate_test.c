/* ICE candidate lines: real lines from browsers and stacks, round trips, and malformed input.
 *
 * Sources of the real lines (copied from SDP captures / the stacks' own test expectations):
 *   Chrome  — offers captured from Chrome (udp host, tcp passive, srflx, IPv6, mDNS .local with
 *             ufrag + network-cost, as passed to addIceCandidate)
 *   Firefox — "a=candidate:0 1 UDP 2122252543 ... typ host", TCP active, srflx, relay, mDNS
 *   libdatachannel (libjuice) — "a=candidate:1 1 UDP 2122317823 ...", srflx raddr 0.0.0.0
 *   Pion    — pion/ice candidate marshal expectations (udp6 host, prflx over tcp + extensions)
 *   aiortc  — aioice host candidate with its 32-hex-digit md5 foundation
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "zdc/candidate.h"

static zdc_candidate cand;

static int parse(const char *s)
{
    return zdc_candidate_parse(s, strlen(s), &cand);
}

static const char *ext_value(const zdc_candidate *c, const char *name)
{
    for (size_t i = 0; i < c->n_ext; i++)
        if (strcmp(c->ext[i].name, name) == 0)
            return c->ext[i].value;
    return NULL;
}

static bool same(const zdc_candidate *a, const zdc_candidate *b)
{
    if (strcmp(a->foundation, b->foundation) || a->component != b->component ||
        a->transport != b->transport || a->priority != b->priority ||
        strcmp(a->address, b->address) || a->address_kind != b->address_kind ||
        a->port != b->port || a->type != b->type || a->has_raddr != b->has_raddr ||
        a->tcptype != b->tcptype || a->n_ext != b->n_ext)
        return false;
    if (a->has_raddr && (strcmp(a->raddr, b->raddr) || a->rport != b->rport))
        return false;
    for (size_t i = 0; i < a->n_ext; i++)
        if (strcmp(a->ext[i].name, b->ext[i].name) || strcmp(a->ext[i].value, b->ext[i].value))
            return false;
    return true;
}

/* parse(format(x)) == x, and formatting is stable. */
static void assert_round_trip(const zdc_candidate *c)
{
    char line[2048], line2[2048];
    zdc_candidate back;
    int n = zdc_candidate_format(c, line, sizeof line);
    cr_assert_gt(n, 0, "format failed: %d", n);
    cr_assert_eq((size_t)n, strlen(line));
    cr_assert_eq(zdc_candidate_parse(line, (size_t)n, &back), 0, "reparse of \"%s\"", line);
    cr_assert(same(c, &back), "round trip differs: \"%s\"", line);
    cr_assert_eq(zdc_candidate_format(&back, line2, sizeof line2), n);
    cr_assert_str_eq(line, line2);
}

/* ---- Chrome ------------------------------------------------------------------------------ */

Test(candidate, chrome_udp_host_ipv4)
{
    cr_assert_eq(parse("a=candidate:3769337065 1 udp 2122260223 129.97.208.23 56688 typ host "
                       "generation 0 network-id 1 network-cost 50"),
                 0);
    cr_assert_str_eq(cand.foundation, "3769337065");
    cr_assert_eq(cand.component, 1);
    cr_assert_eq(cand.transport, ZDC_CAND_UDP);
    cr_assert_eq(cand.priority, 2122260223u);
    cr_assert_str_eq(cand.address, "129.97.208.23");
    cr_assert_eq(cand.address_kind, 4);
    cr_assert_eq(cand.port, 56688);
    cr_assert_eq(cand.type, ZDC_CAND_HOST);
    cr_assert_not(cand.has_raddr);
    cr_assert_eq(cand.tcptype, ZDC_CAND_TCP_NONE);
    cr_assert_eq(cand.n_ext, 3);
    cr_assert_str_eq(cand.ext[0].name, "generation");
    cr_assert_str_eq(cand.ext[0].value, "0");
    cr_assert_str_eq(ext_value(&cand, "network-id"), "1");
    cr_assert_str_eq(ext_value(&cand, "network-cost"), "50");
    assert_round_trip(&cand);
}

Test(candidate, chrome_tcp_passive)
{
    cr_assert_eq(parse("a=candidate:2921887769 1 tcp 1518280447 129.97.208.23 35441 typ host "
                       "tcptype passive generation 0 network-id 1 network-cost 50"),
                 0);
    cr_assert_eq(cand.transport, ZDC_CAND_TCP);
    cr_assert_eq(cand.tcptype, ZDC_CAND_TCP_PASSIVE);
    cr_assert_eq(cand.port, 35441);
    cr_assert_eq(cand.n_ext, 3); /* tcptype is a field, not an extension */
    assert_round_trip(&cand);
}

Test(candidate, chrome_tcp_passive_ipv6)
{
    cr_assert_eq(parse("candidate:2164161293 1 tcp 1518283007 "
                       "2804:29b8:5042:170e:65fc:6499:b2ca:8e99 49523 typ host tcptype passive "
                       "generation 0 network-id 2"),
                 0);
    cr_assert_eq(cand.address_kind, 6);
    cr_assert_str_eq(cand.address, "2804:29b8:5042:170e:65fc:6499:b2ca:8e99");
    cr_assert_eq(cand.tcptype, ZDC_CAND_TCP_PASSIVE);
    assert_round_trip(&cand);
}

Test(candidate, chrome_srflx_ipv6_with_raddr)
{
    cr_assert_eq(parse("a=candidate:3485947379 1 udp 1685987071 120.235.19.172 6875 typ srflx "
                       "raddr 192.168.10.34 rport 6875 generation 0 network-id 1 network-cost 10"),
                 0);
    cr_assert_eq(cand.type, ZDC_CAND_SRFLX);
    cr_assert(cand.has_raddr);
    cr_assert_str_eq(cand.raddr, "192.168.10.34");
    cr_assert_eq(cand.rport, 6875);
    assert_round_trip(&cand);
}

Test(candidate, chrome_ipv6_loopback_tcp)
{
    cr_assert_eq(parse("a=candidate:2889953832 1 tcp 1518157055 ::1 47945 typ host tcptype "
                       "passive generation 0 network-id 2"),
                 0);
    cr_assert_str_eq(cand.address, "::1");
    cr_assert_eq(cand.address_kind, 6);
    assert_round_trip(&cand);
}

Test(candidate, chrome_mdns_local_with_ufrag)
{
    cr_assert_eq(parse("candidate:3005819299 1 udp 2113937151 "
                       "983d4667-3222-491a-aace-e549cd9c13a8.local 54324 typ host generation 0 "
                       "ufrag xMAc network-cost 999"),
                 0);
    cr_assert_str_eq(cand.address, "983d4667-3222-491a-aace-e549cd9c13a8.local");
    cr_assert_eq(cand.address_kind, 0);
    cr_assert_eq(cand.port, 54324);
    cr_assert_str_eq(ext_value(&cand, "ufrag"), "xMAc");
    cr_assert_str_eq(ext_value(&cand, "network-cost"), "999");
    assert_round_trip(&cand);
}

/* ---- Firefox ----------------------------------------------------------------------------- */

Test(candidate, firefox_host_srflx_relay_tcp_active)
{
    cr_assert_eq(parse("a=candidate:0 1 UDP 2122252543 192.168.39.107 43184 typ host"), 0);
    cr_assert_str_eq(cand.foundation, "0");
    cr_assert_eq(cand.transport, ZDC_CAND_UDP);
    cr_assert_eq(cand.n_ext, 0);
    assert_round_trip(&cand);

    cr_assert_eq(parse("a=candidate:0 2 UDP 2122252542 192.168.39.107 33292 typ host"), 0);
    cr_assert_eq(cand.component, 2);

    cr_assert_eq(parse("a=candidate:1 1 UDP 1686052863 128.6.157.18 1043 typ srflx raddr "
                       "192.168.39.107 rport 43184"),
                 0);
    cr_assert_str_eq(cand.raddr, "192.168.39.107");
    cr_assert_eq(cand.rport, 43184);
    assert_round_trip(&cand);

    cr_assert_eq(parse("a=candidate:3 1 UDP 92216831 65.1.146.205 62949 typ relay raddr "
                       "65.1.146.205 rport 62949"),
                 0);
    cr_assert_eq(cand.type, ZDC_CAND_RELAY);
    cr_assert_eq(cand.priority, 92216831u);
    assert_round_trip(&cand);

    cr_assert_eq(parse("a=candidate:3 1 TCP 2105524479 "
                       "84a78e7e-fe7a-7445-b8b5-2a579cbd5515.local 9 typ host tcptype active"),
                 0);
    cr_assert_eq(cand.transport, ZDC_CAND_TCP);
    cr_assert_eq(cand.tcptype, ZDC_CAND_TCP_ACTIVE);
    cr_assert_eq(cand.address_kind, 0);
    cr_assert_eq(cand.port, 9);
    assert_round_trip(&cand);

    cr_assert_eq(parse("a=candidate:1 1 UDP 1686052863 84.60.72.107 59170 typ srflx raddr "
                       "0.0.0.0 rport 0"),
                 0);
    cr_assert_str_eq(cand.raddr, "0.0.0.0");
    cr_assert_eq(cand.rport, 0);
}

Test(candidate, firefox_ipv6_and_trailing_crlf)
{
    cr_assert_eq(parse("a=candidate:1 1 UDP 2122187007 2001:db8:3::5 50032 typ host\r\n"), 0);
    cr_assert_str_eq(cand.address, "2001:db8:3::5");
    cr_assert_eq(cand.address_kind, 6);
    cr_assert_eq(cand.port, 50032);
}

/* ---- libdatachannel, Pion, aiortc --------------------------------------------------------- */

Test(candidate, libdatachannel_libjuice)
{
    cr_assert_eq(parse("a=candidate:1 1 UDP 2122317823 192.168.10.98 50268 typ host"), 0);
    cr_assert_eq(cand.priority, 2122317823u);
    cr_assert_eq(parse("a=candidate:2 1 UDP 1686109951 106.72.178.128 4674 typ srflx raddr "
                       "0.0.0.0 rport 0"),
                 0);
    cr_assert_eq(cand.type, ZDC_CAND_SRFLX);
    cr_assert_eq(cand.port, 4674);
    assert_round_trip(&cand);
}

Test(candidate, pion)
{
    cr_assert_eq(parse("750 1 udp 500 fcd9:e3b8:12ce:9fc5:74a5:c6bb:d8b:e08a 53987 typ host"), 0);
    cr_assert_eq(cand.address_kind, 6);
    cr_assert_eq(cand.priority, 500);
    cr_assert_eq(parse("candidate:4207374052 1 tcp 1685790463 192.0.2.15 50000 typ prflx raddr "
                       "10.0.0.1 rport 12345 generation 0 network-id 2 network-cost 10"),
                 0);
    cr_assert_eq(cand.type, ZDC_CAND_PRFLX);
    cr_assert_eq(cand.transport, ZDC_CAND_TCP);
    cr_assert_eq(cand.tcptype, ZDC_CAND_TCP_NONE); /* Pion omits tcptype here; accepted */
    cr_assert_eq(cand.rport, 12345);
    cr_assert_eq(cand.n_ext, 3);
    assert_round_trip(&cand);
    cr_assert_eq(parse("1052353102 1 tcp 2128609279 192.168.0.196 0 typ host tcptype active"), 0);
    cr_assert_eq(cand.port, 0);
    cr_assert_eq(parse("+/3713fhi 1 udp 500 127.0.0.1 80 typ host"), 0);
    cr_assert_str_eq(cand.foundation, "+/3713fhi");
    cr_assert_eq(parse("1380287402 1 udp 2130706431 e2494022-4d9a-4c1e-a750-cc48d4f8d6ee.local "
                       "60542 typ host"),
                 0);
    cr_assert_eq(cand.address_kind, 0);
}

Test(candidate, aiortc_32_char_foundation)
{
    cr_assert_eq(parse("candidate:84525827d984b903f6250bb33f1836c3 1 udp 2130706431 "
                       "172.19.240.1 61128 typ host"),
                 0);
    cr_assert_eq(strlen(cand.foundation), 32);
    cr_assert_eq(cand.priority, 2130706431u);
    assert_round_trip(&cand);
}

/* ---- prefixes, end of candidates, keyword case -------------------------------------------- */

Test(candidate, prefixes_and_end_of_candidates)
{
    const char *bare = "0 1 UDP 2122252543 192.168.1.5 55317 typ host";
    char buf[128];
    zdc_candidate a;
    cr_assert_eq(parse(bare), 0);
    a = cand;
    snprintf(buf, sizeof buf, "candidate:%s", bare);
    cr_assert_eq(parse(buf), 0);
    cr_assert(same(&a, &cand));
    snprintf(buf, sizeof buf, "a=candidate:%s", bare);
    cr_assert_eq(parse(buf), 0);
    cr_assert(same(&a, &cand));

    cr_assert_eq(parse(""), ZDC_CAND_END);
    cr_assert_eq(zdc_candidate_parse(NULL, 0, &cand), ZDC_CAND_END);
    cr_assert_eq(parse("candidate:"), ZDC_CAND_END);
    cr_assert_eq(parse("a=candidate:"), ZDC_CAND_END);
    cr_assert_eq(parse("a=end-of-candidates"), ZDC_CAND_END);
    cr_assert_eq(parse("a=end-of-candidates\r\n"), ZDC_CAND_END);
    cr_assert_eq(parse("end-of-candidates"), ZDC_CAND_END);
}

Test(candidate, keywords_case_insensitive_values_preserved)
{
    cr_assert_eq(parse("candidate:1 1 Udp 10 10.0.0.1 5000 TYP SRFLX RADDR 10.0.0.2 RPORT 6 "
                       "Generation 0"),
                 0);
    cr_assert_eq(cand.type, ZDC_CAND_SRFLX);
    cr_assert(cand.has_raddr);
    cr_assert_str_eq(cand.ext[0].name, "Generation");
}

Test(candidate, unknown_transport_not_supported)
{
    cr_assert_eq(parse("candidate:1 1 ssltcp 10 10.0.0.1 443 typ host"), ZDC_ERR_NOT_SUPPORTED);
    cr_assert_eq(parse("candidate:1 1 tls 10 10.0.0.1 443 typ relay"), ZDC_ERR_NOT_SUPPORTED);
    cr_assert_eq(parse("candidate:1 1 u(p 10 10.0.0.1 443 typ host"), ZDC_ERR_MALFORMED);
}

/* ---- extensions ---------------------------------------------------------------------------- */

Test(candidate, extensions_beyond_max_are_skipped)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "candidate:1 1 udp 10 10.0.0.1 5000 typ host");
    for (int i = 0; i < ZDC_CAND_MAX_EXT + 3; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " x%d v%d", i, i);
    cr_assert_eq(parse(line), 0);
    cr_assert_eq(cand.n_ext, ZDC_CAND_MAX_EXT);
    cr_assert_str_eq(cand.ext[ZDC_CAND_MAX_EXT - 1].name, "x7");
    cr_assert_str_eq(cand.ext[ZDC_CAND_MAX_EXT - 1].value, "v7");
    assert_round_trip(&cand);
}

Test(candidate, oversize_extension_skipped_but_validated)
{
    char line[1024], big[300];
    memset(big, 'v', 299);
    big[299] = '\0';
    snprintf(line, sizeof line, "candidate:1 1 udp 10 10.0.0.1 5000 typ host huge %s ufrag ab",
             big);
    cr_assert_eq(parse(line), 0);
    cr_assert_eq(cand.n_ext, 1);
    cr_assert_str_eq(cand.ext[0].name, "ufrag");
    /* a bad character in a value is still an error */
    cr_assert_eq(parse("candidate:1 1 udp 10 10.0.0.1 5000 typ host ufrag a\x7f"),
                 ZDC_ERR_MALFORMED);
}

/* ---- malformed ------------------------------------------------------------------------------ */

Test(candidate, malformed_lines)
{
    static const char *const bad[] = {
        "candidate:1 1 udp 2122260223 192.168.1.5 5000",           /* missing typ */
        "candidate:1 1 udp 2122260223 192.168.1.5 5000 typ",       /* typ without type */
        "candidate:1 1 udp 2122260223 192.168.1.5 5000 host",      /* no "typ" keyword */
        "candidate:1 1 udp 2122260223 192.168.1.5 5000 typ bogus", /* unknown type */
        "candidate:1 1 udp 2122260223 192.168.1.5 70000 typ host", /* port > 65535 */
        "candidate:1 1 udp 2122260223 192.168.1.5 -1 typ host",    /* sign */
        "candidate:1 1 udp 4294967296 192.168.1.5 5000 typ host",  /* priority 2^32 */
        "candidate:1 1 udp 99999999999 192.168.1.5 5000 typ host", /* 11 digits */
        "candidate: 1 udp 2122260223 192.168.1.5 5000 typ host",   /* empty foundation */
        "candidate:123456789012345678901234567890123 1 udp 1 1.2.3.4 5 typ host", /* 33 chars */
        "candidate:3$3 1 udp 500 127.0.0.1 80 typ host",                          /* bad ice-char */
        "candidate:1 x udp 2122260223 192.168.1.5 5000 typ host",      /* component not digit */
        "candidate:1 0 udp 2122260223 192.168.1.5 5000 typ host",      /* component 0 */
        "candidate:1 257 udp 2122260223 192.168.1.5 5000 typ host",    /* component > 256 */
        "candidate:1 0001 udp 2122260223 192.168.1.5 5000 typ host",   /* 4 digits */
        "candidate:1 1 udp 2122260223 192.168.1.5; 5000 typ host",     /* junk in address */
        "candidate:1 1 udp 2122260223 50.0.0.^^1 5000 typ host",       /* junk in address */
        "candidate:1 1 udp 2122260223 191.228.2@338.68 5000 typ host", /* junk in address */
        "candidate:1 1 udp 2122260223 1.2.3.256 5000 typ host",        /* bad IPv4 */
        "candidate:1 1 udp 2122260223 2001:db8::g 5000 typ host",      /* bad IPv6 */
        "candidate:1 1 udp 2122260223 a..local 5000 typ host",         /* empty label */
        "candidate:1 1 udp 2122260223 abc.local. 5000 typ host",       /* trailing dot */
        "candidate:1 1 udp 2122260223 ab_c.local 5000 typ host",       /* underscore */
        "candidate:1 1 udp 16777215 50.0.0.1 5000 typ relay raddr 192.168.0.1", /* no rport */
        "candidate:1 1 udp 16777215 50.0.0.1 5000 typ relay rport 5001",        /* no raddr */
        "candidate:1 1 udp 16777215 50.0.0.1 5000 typ relay raddr 1.2.3.4 rport 99999",
        "candidate:1 1 udp 16777215 50.0.0.1 5000 typ relay raddr 1.2.3.4 rport 1 rport 2",
        "candidate:1 1 udp 16777215 50.0.0.1 5000 typ relay raddr 1.2.3.4 rport",
        "candidate:1 1 tcp 2128609279 192.168.0.196 0 typ host tcptype INVALID",
        "candidate:1 1 udp 2128609279 192.168.0.196 0 typ host tcptype active", /* on UDP */
        "candidate:1 1 tcp 2128609279 192.168.0.196 0 typ host tcptype so tcptype so",
        "candidate:1 1 udp 10 10.0.0.1 5000 typ host generation", /* name without value */
        "candidate:1 1 udp 10 10.0.0.1 5000 typ host gen\"x 0",   /* name not a token */
        "candidate:4207374051",
        "candidate:4207374051 1 udp",
        "candidate:1 1 udp 10 10.0.0.1 5000 typ host\nextra 1", /* embedded LF */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rv = parse(bad[i]);
        cr_assert_eq(rv, ZDC_ERR_MALFORMED, "\"%s\" gave %d", bad[i], rv);
        cr_assert_eq(cand.foundation[0], '\0', "output not cleared for \"%s\"", bad[i]);
    }
}

Test(candidate, embedded_nul_rejected)
{
    static const char line[] = "candidate:1 1 udp 10 10.0.0.1 5000 typ host ufrag a\0b";
    cr_assert_eq(zdc_candidate_parse(line, sizeof line - 1, &cand), ZDC_ERR_MALFORMED);
}

Test(candidate, overlong_address)
{
    char line[600], name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(line, sizeof line, "candidate:1 1 udp 10 %s 5000 typ host", name);
    cr_assert_eq(parse(line), ZDC_ERR_TOO_LARGE);
}

Test(candidate, parse_does_not_read_past_len)
{
    /* The length excludes " 9" — the port is 500, not 5009. */
    static const char line[] = "candidate:1 1 udp 10 10.0.0.1 500 typ host generation 0 9";
    cr_assert_eq(zdc_candidate_parse(line, sizeof line - 3, &cand), 0);
    cr_assert_str_eq(cand.ext[0].value, "0");
}

/* ---- formatter ------------------------------------------------------------------------------ */

Test(candidate, format_exact_text_and_small_buffer)
{
    char out[256];
    cr_assert_eq(parse("a=candidate:2 1 udp 1686052607 203.0.113.7 54321 typ srflx raddr "
                       "192.168.1.5 rport 54321 generation 0"),
                 0);
    const char *want = "candidate:2 1 UDP 1686052607 203.0.113.7 54321 typ srflx raddr "
                       "192.168.1.5 rport 54321 generation 0";
    cr_assert_eq(zdc_candidate_format(&cand, out, sizeof out), (int)strlen(want));
    cr_assert_str_eq(out, want);
    /* every buffer size below what is needed fails cleanly */
    for (size_t cap = 1; cap <= strlen(want); cap++) {
        cr_assert_eq(zdc_candidate_format(&cand, out, cap), ZDC_ERR_BUFFER_TOO_SMALL);
        cr_assert_eq(out[0], '\0');
    }
    cr_assert_eq(zdc_candidate_format(&cand, out, 0), ZDC_ERR_BUFFER_TOO_SMALL);
}

Test(candidate, format_rejects_invalid_values)
{
    char out[512];
    zdc_candidate c;
    cr_assert_eq(parse("candidate:1 1 tcp 10 10.0.0.1 5000 typ host tcptype so"), 0);
    c = cand;
    c.foundation[0] = '\0';
    cr_assert_eq(zdc_candidate_format(&c, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    c = cand;
    c.component = 257;
    cr_assert_eq(zdc_candidate_format(&c, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    c = cand;
    c.transport = ZDC_CAND_UDP; /* tcptype on UDP */
    cr_assert_eq(zdc_candidate_format(&c, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    c = cand;
    strcpy(c.address, "1.2.3.4 typ relay");
    cr_assert_eq(zdc_candidate_format(&c, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    c = cand;
    c.type = 4;
    cr_assert_eq(zdc_candidate_format(&c, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    c = cand;
    c.n_ext = 1;
    strcpy(c.ext[0].name, "raddr");
    strcpy(c.ext[0].value, "1.2.3.4");
    cr_assert_eq(zdc_candidate_format(&c, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_candidate_format(&cand, out, sizeof out), (int)strlen(out));
    cr_assert_str_eq(out, "candidate:1 1 TCP 10 10.0.0.1 5000 typ host tcptype so");
}

/* ---- priority ------------------------------------------------------------------------------- */

Test(candidate, priority_formula)
{
    /* RFC 8445 §5.1.2.1 with the recommended type preferences; values match what Pion and
     * aioice send for host (2130706431), srflx (1694498815) and relay (16777215). */
    cr_assert_eq(zdc_candidate_priority(126, 65535, 1), 2130706431u);
    cr_assert_eq(zdc_candidate_priority(100, 65535, 1), 1694498815u);
    cr_assert_eq(zdc_candidate_priority(110, 65535, 1), 1862270975u);
    cr_assert_eq(zdc_candidate_priority(0, 65535, 1), 16777215u);
    cr_assert_eq(zdc_candidate_priority(126, 65535, 2), 2130706430u);
    cr_assert_eq(zdc_candidate_priority(0, 0, 256), 0u);
    cr_assert_eq(zdc_candidate_priority(200, 0, 1), zdc_candidate_priority(126, 0, 1));
}

Test(candidate, extension_size_boundaries)
{
    char line[1024], name[80], value[300];
    memset(name, 'n', 63);
    name[63] = '\0';
    memset(value, 'v', 255);
    value[255] = '\0';
    /* 63-char name and 255-char value are the largest kept */
    snprintf(line, sizeof line, "candidate:1 1 udp 10 10.0.0.1 5000 typ host %s %s", name, value);
    cr_assert_eq(parse(line), 0);
    cr_assert_eq(cand.n_ext, 1);
    cr_assert_eq(strlen(cand.ext[0].name), 63);
    cr_assert_eq(strlen(cand.ext[0].value), 255);
    assert_round_trip(&cand);
    /* one more character in either is skipped, not truncated */
    name[63] = 'n';
    name[64] = '\0';
    snprintf(line, sizeof line, "candidate:1 1 udp 10 10.0.0.1 5000 typ host %s 1", name);
    cr_assert_eq(parse(line), 0);
    cr_assert_eq(cand.n_ext, 0);
    value[255] = 'v';
    value[256] = '\0';
    snprintf(line, sizeof line, "candidate:1 1 udp 10 10.0.0.1 5000 typ host x %s", value);
    cr_assert_eq(parse(line), 0);
    cr_assert_eq(cand.n_ext, 0);
}

Test(candidate, fqdn_label_and_total_limits)
{
    char line[600], host[300];
    memset(host, 'a', 63);
    strcpy(host + 63, ".local");
    snprintf(line, sizeof line, "candidate:1 1 udp 10 %s 5000 typ host", host);
    cr_assert_eq(parse(line), 0);
    cr_assert_eq(cand.address_kind, 0);
    memset(host, 'a', 64);
    strcpy(host + 64, ".local"); /* 64-char label */
    snprintf(line, sizeof line, "candidate:1 1 udp 10 %s 5000 typ host", host);
    cr_assert_eq(parse(line), ZDC_ERR_MALFORMED);
    /* 254 characters in dot-separated short labels: over the 253 limit */
    for (int i = 0; i < 254; i++)
        host[i] = (i % 2) ? '.' : 'a';
    host[253] = 'a';
    host[254] = '\0';
    snprintf(line, sizeof line, "candidate:1 1 udp 10 %s 5000 typ host", host);
    cr_assert_eq(parse(line), ZDC_ERR_MALFORMED);
    host[253] = '\0'; /* exactly 253 characters */
    snprintf(line, sizeof line, "candidate:1 1 udp 10 %s 5000 typ host", host);
    cr_assert_eq(parse(line), 0);
}
