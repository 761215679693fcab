#include <criterion/criterion.h>
#include <string.h>

#include "iceurl.h"
#include "zdc/error.h"

static zdc_iceurl parse_ok(const char *s)
{
    zdc_iceurl u;
    int rv = zdc_iceurl_parse(s, strlen(s), &u);
    cr_assert_eq(rv, 0, "%s: %d", s, rv);
    return u;
}

Test(iceurl, stun_and_turn_forms)
{
    zdc_iceurl u = parse_ok("stun:stun.l.google.com:19302");
    cr_assert_eq(u.scheme, ZDC_ICEURL_STUN);
    cr_assert_str_eq(u.host, "stun.l.google.com");
    cr_assert_eq(u.port, 19302);
    u = parse_ok("stun:127.0.0.1");
    cr_assert_eq(u.port, 3478);
    u = parse_ok("stuns:example.org");
    cr_assert_eq(u.port, 5349);
    u = parse_ok("STUN:[::1]:3479");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 3479);
    u = parse_ok("turn:turn.example.org?transport=tcp");
    cr_assert_eq(u.scheme, ZDC_ICEURL_TURN);
    cr_assert_eq(u.transport, ZDC_ICEURL_TCP);
    cr_assert_eq(u.port, 3478);
    u = parse_ok("turns:[2001:db8::1]:443?transport=udp");
    cr_assert_eq(u.scheme, ZDC_ICEURL_TURNS);
    cr_assert_eq(u.port, 443);
}

Test(iceurl, rejects_malformed)
{
    const char *bad[] = {"http://x",
                         "stun:",
                         "stun::3478",
                         "stun:host:",
                         "stun:host:0",
                         "stun:host:65536",
                         "stun:host?transport=udp",
                         "turn:h?transport=sctp",
                         "stun:[::1",
                         "stun:[1.2.3.4]:5",
                         "stun:a b",
                         "stun:[::1]x",
                         "stun:host:12a"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        zdc_iceurl u;
        cr_assert_eq(zdc_iceurl_parse(bad[i], strlen(bad[i]), &u), ZDC_ERR_MALFORMED, "%s", bad[i]);
    }
}

Test(iceurl, lists)
{
    zdc_iceurl u[3];
    size_t n;
    cr_assert_eq(zdc_iceurl_parse_list("stun:a:1, stun:b:2 turn:c", u, 3, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(u[1].host, "b");
    cr_assert_eq(zdc_iceurl_parse_list("stun:a stun:b stun:c stun:d", u, 3, &n), ZDC_ERR_TOO_LARGE);
    cr_assert_eq(zdc_iceurl_parse_list(" , ", u, 3, &n), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_iceurl_parse_list("stun:a, bogus", u, 3, &n), ZDC_ERR_MALFORMED);
}
