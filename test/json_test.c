/* Tests for the JSON-lines reader used by zdc-peer (shared/PEER_PROTOCOL.md shapes). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "zdc/error.h"

static int parse(const char *s, zdc_json_member *m, size_t max, size_t *n)
{
    return zdc_json_parse_object(s, strlen(s), m, max, n);
}

Test(json, offer_line_with_escaped_sdp)
{
    const char *line = "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\n\"}";
    zdc_json_member m[8];
    size_t n;
    cr_assert_eq(parse(line, m, 8, &n), 0);
    cr_assert_eq(n, 2);
    const zdc_json_member *t = zdc_json_find(m, n, "type");
    cr_assert_not_null(t);
    cr_assert_eq(t->type, ZDC_JSON_STRING);
    cr_assert(zdc_str_eq_c(t->raw, "offer"));
    const zdc_json_member *sdp = zdc_json_find(m, n, "sdp");
    char out[128];
    int k = zdc_json_unescape(sdp->raw, out, sizeof out);
    cr_assert_eq(k, (int)strlen("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n"));
    cr_assert_str_eq(out, "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n");
    cr_assert_null(zdc_json_find(m, n, "candidate"));
}

Test(json, candidate_line_number_and_events)
{
    const char *line = " {\"candidate\":\"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\","
                       "\"sdpMid\":\"0\",\"sdpMLineIndex\":0} \n";
    zdc_json_member m[8];
    size_t n;
    cr_assert_eq(parse(line, m, 8, &n), 0);
    cr_assert_eq(n, 3);
    const zdc_json_member *idx = zdc_json_find(m, n, "sdpMLineIndex");
    cr_assert_eq(idx->type, ZDC_JSON_NUMBER);
    long long v = -1;
    cr_assert_eq(zdc_json_to_i64(idx->raw, &v), 0);
    cr_assert_eq(v, 0);

    const char *ev = "{\"event\":\"result\",\"ok\":true,\"sent\":10,\"seconds\":1.5e0,\"x\":null,"
                     "\"nested\":{\"a\":[1,2,{\"b\":[]}]}}";
    cr_assert_eq(parse(ev, m, 8, &n), 0);
    cr_assert_eq(n, 6);
    cr_assert_eq(zdc_json_find(m, n, "ok")->type, ZDC_JSON_TRUE);
    cr_assert_eq(zdc_json_find(m, n, "x")->type, ZDC_JSON_NULL);
    cr_assert_eq(zdc_json_find(m, n, "nested")->type, ZDC_JSON_OBJECT);
    double d = 0;
    cr_assert_eq(zdc_json_to_double(zdc_json_find(m, n, "seconds")->raw, &d), 0);
    cr_assert_float_eq(d, 1.5, 1e-12);
}

Test(json, rejects_malformed)
{
    const char *bad[] = {
        "",
        "[]",
        "{",
        "{\"a\":}",
        "{\"a\" 1}",
        "{\"a\":1,}",
        "{a:1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":-}",
        "{\"a\":tru}",
        "{\"a\":\"x\\q\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"unterminated}",
        "{\"a\":1} x",
        "{\"a\":\"\\u12G4\"}",
        "{\"a\":[1,2}",
        "{\"a\":1}}",
    };
    zdc_json_member m[8];
    size_t n = 99;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(parse(bad[i], m, 8, &n), ZDC_ERR_MALFORMED, "input %zu: %s", i, bad[i]);
        cr_assert_eq(n, 0);
    }
}

Test(json, limits_depth_and_member_count)
{
    char deep[200];
    size_t o = 0;
    deep[o++] = '{';
    memcpy(deep + o, "\"a\":", 4);
    o += 4;
    for (int i = 0; i < 40; i++)
        deep[o++] = '[';
    for (int i = 0; i < 40; i++)
        deep[o++] = ']';
    deep[o++] = '}';
    deep[o] = '\0';
    zdc_json_member m[2];
    size_t n;
    cr_assert_eq(parse(deep, m, 2, &n), ZDC_ERR_TOO_LARGE);
    cr_assert_eq(parse("{\"a\":1,\"b\":2,\"c\":3}", m, 2, &n), ZDC_ERR_TOO_LARGE);
}

Test(json, unicode_escapes_to_utf8)
{
    char out[32];
    /* é (U+00E9), € (U+20AC), 😀 (U+1F600 as a surrogate pair), embedded NUL */
    zdc_str raw = ZDC_STR_LIT("\\u00e9\\u20AC\\ud83d\\ude00\\u0000z");
    int k = zdc_json_unescape(raw, out, sizeof out);
    cr_assert_eq(k, 2 + 3 + 4 + 1 + 1);
    cr_assert_eq(memcmp(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z", 11), 0);
    cr_assert_eq(zdc_json_unescape(ZDC_STR_LIT("\\ud83d"), out, sizeof out), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_json_unescape(ZDC_STR_LIT("\\ude00"), out, sizeof out), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_json_unescape(ZDC_STR_LIT("abcdef"), out, 6), ZDC_ERR_BUFFER_TOO_SMALL);
}

Test(json, integers_strict)
{
    long long v;
    cr_assert_eq(zdc_json_to_i64(ZDC_STR_LIT("-9223372036854775808"), &v), 0);
    cr_assert_eq(v, INT64_MIN);
    cr_assert_eq(zdc_json_to_i64(ZDC_STR_LIT("9223372036854775808"), &v), ZDC_ERR_TOO_LARGE);
    cr_assert_eq(zdc_json_to_i64(ZDC_STR_LIT("1.5"), &v), ZDC_ERR_MALFORMED);
    cr_assert_eq(zdc_json_to_i64(ZDC_STR_LIT("007"), &v), ZDC_ERR_MALFORMED);
}

Test(json, escape_roundtrip)
{
    const char src[] = "a\"b\\c\r\n\t\x01 \xe2\x82\xac";
    char esc[128], back[128];
    int k = zdc_json_escape(src, sizeof src - 1, esc, sizeof esc);
    cr_assert_gt(k, 0);
    cr_assert_str_eq(esc, "\"a\\\"b\\\\c\\r\\n\\t\\u0001 \xe2\x82\xac\"");
    char line[160];
    snprintf(line, sizeof line, "{\"m\":%s}", esc);
    zdc_json_member m[1];
    size_t n;
    cr_assert_eq(zdc_json_parse_object(line, strlen(line), m, 1, &n), 0);
    int b = zdc_json_unescape(m[0].raw, back, sizeof back);
    cr_assert_eq(b, (int)sizeof src - 1);
    cr_assert_eq(memcmp(back, src, sizeof src - 1), 0);
    cr_assert_eq(zdc_json_escape("abc", 3, esc, 5), ZDC_ERR_BUFFER_TOO_SMALL);
}
