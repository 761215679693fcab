/* Tests for the SDP codec: offers and answers as Chrome, Firefox, Safari, libdatachannel, Pion
 * and aiortc send them (test/data/sdp/), errors that name the line, limits, and round trips of
 * the offers and answers zdc builds. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/error.h"
#include "zdc/sdp.h"

/* ---- helpers ----------------------------------------------------------------------------- */

/* Reads a fixture into an exact-size heap buffer (ASan sees any read past its end). */
static char *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sdp/%s", ZDC_TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    cr_assert_gt(n, 0);
    char *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static zdc_sdp sdp; /* ~19 KiB: static, not on the stack */
static char *text;

static void parse_fixture(const char *name)
{
    size_t len;
    zdc_sdp_error err;
    text = load(name, &len);
    int rc = zdc_sdp_parse(text, len, &sdp, &err);
    cr_assert_eq(rc, 0, "%s: rc %d: %s", name, rc, err.msg);
}

static void free_fixture(void)
{
    free(text);
    text = NULL;
}

static bool eq(zdc_sdp_str s, const char *want)
{
    return s.p && s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

#define assert_str(s, want)                                                                        \
    cr_assert(eq((s), (want)), "%s is \"%.*s\", want \"%s\"", #s, (int)(s).len,                    \
              (s).p ? (s).p : "", (want))

/* Compares a parsed fingerprint with its written form "AB:CD:...". */
static void assert_fp(const zdc_sdp_fingerprint *fp, enum zdc_sdp_hash hash, const char *hex)
{
    cr_assert_eq(fp->hash, hash);
    size_t n = (strlen(hex) + 1) / 3;
    cr_assert_eq(fp->len, n, "fingerprint length %u, want %zu", fp->len, n);
    for (size_t i = 0; i < n; i++) {
        unsigned b;
        cr_assert_eq(sscanf(hex + 3 * i, "%2x", &b), 1);
        cr_assert_eq(fp->bytes[i], b, "fingerprint byte %zu", i);
    }
}

static void assert_conn(const zdc_sdp_connection *c, const char *addr)
{
    cr_assert(c->present);
    assert_str(c->nettype, "IN");
    assert_str(c->addrtype, "IP4");
    assert_str(c->address, addr);
}

/* Parses NUL-terminated text expecting failure `rc` on `line` with message `msg`. */
static void assert_parse_error(const char *sdp_text, int rc, unsigned line, const char *msg)
{
    static zdc_sdp out;
    zdc_sdp_error err;
    size_t len = strlen(sdp_text);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, sdp_text, len);
    int got = zdc_sdp_parse(copy, len, &out, &err);
    free(copy);
    cr_assert_eq(got, rc, "rc %d, want %d (%s)", got, rc, err.msg);
    cr_assert_eq(err.line, line, "line %u, want %u (%s)", err.line, line, err.msg);
    cr_assert_str_eq(err.msg, msg);
}

#define HEAD "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" /* lines 1-4 */
#define DC   "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
#define FP256                                                                                      \
    "49:C7:17:C1:12:9D:CE:FB:31:34:1E:87:BB:E8:88:F3:04:06:7E:10:B0:0A:16:17:EB:6A:2A:CC:E8:0D:"   \
    "46:C5"

/* ---- captured offers and answers --------------------------------------------------------- */

Test(sdp_fixture, chrome_offer, .fini = free_fixture)
{
    parse_fixture("chrome_offer.sdp");
    assert_str(sdp.origin_username, "-");
    cr_assert_eq(sdp.sess_id, 4611731400430051336ull);
    cr_assert_eq(sdp.sess_version, 2);
    assert_str(sdp.origin_address, "127.0.0.1");
    assert_str(sdp.session_name, "-");
    cr_assert(sdp.has_bundle);
    cr_assert_eq(sdp.n_bundle, 1);
    assert_str(sdp.bundle[0], "0");
    cr_assert(sdp.extmap_allow_mixed);
    assert_str(sdp.msid_semantic, "WMS");
    cr_assert_not(sdp.ice_lite);
    cr_assert_eq(sdp.n_fingerprints, 0, "Chrome puts the fingerprint in the section");
    cr_assert_eq(sdp.n_media, 1);
    cr_assert_eq(zdc_sdp_find_datachannel(&sdp), 0);

    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert_eq(m->line, 8);
    cr_assert_eq(m->kind, ZDC_SDP_KIND_APPLICATION);
    assert_str(m->media, "application");
    cr_assert_eq(m->port, 9);
    cr_assert_eq(m->proto, ZDC_SDP_PROTO_UDP_DTLS_SCTP);
    assert_str(m->proto_text, "UDP/DTLS/SCTP");
    assert_str(m->fmt, "webrtc-datachannel");
    cr_assert(m->datachannel);
    cr_assert_not(m->legacy_sctpmap);
    cr_assert_eq(m->sctp_port, 5000);
    cr_assert(m->has_max_message_size);
    cr_assert_eq(m->max_message_size, 262144);
    assert_str(m->mid, "0");
    assert_str(m->ice_ufrag, "EsAw");
    assert_str(m->ice_pwd, "bP+XJMM09aR8AiX1jdukzR6Y");
    assert_str(m->ice_options, "trickle");
    cr_assert(m->ice_trickle);
    cr_assert_not(m->ice_ice2);
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTPASS);
    cr_assert_eq(m->direction, ZDC_SDP_DIR_NONE);
    assert_conn(&m->connection, "0.0.0.0");
    cr_assert_eq(m->n_fingerprints, 1);
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256, FP256);
    assert_str(m->fingerprints[0].hash_name, "sha-256");
    cr_assert_eq(m->n_candidates, 4);
    assert_str(m->candidates[0],
               "candidate:1467250027 1 udp 2122260223 6f1b3f2c-9a4b-4c7e-8f3e-2a1b7c9d0e5f.local "
               "54321 typ host generation 0 network-id 1 network-cost 10");
    assert_str(m->candidates[2],
               "candidate:1467250027 1 tcp 1518280447 6f1b3f2c-9a4b-4c7e-8f3e-2a1b7c9d0e5f.local "
               "9 typ host tcptype active generation 0 network-id 1 network-cost 10");
    assert_str(m->candidates[3], "candidate:842163049 1 udp 1686052607 203.0.113.7 54321 typ srflx "
                                 "raddr 0.0.0.0 rport 0 generation 0 network-id 1 network-cost 10");
    cr_assert_not(m->end_of_candidates);
}

Test(sdp_fixture, chrome_answer, .fini = free_fixture)
{
    parse_fixture("chrome_answer.sdp");
    cr_assert_eq(sdp.sess_id, 7235062470282331264ull);
    cr_assert_eq(sdp.n_media, 1);
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert(m->datachannel);
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTIVE);
    assert_str(m->ice_ufrag, "k9Jv");
    assert_str(m->ice_pwd, "Wq3hBkS1d0F+e9oYzLrUtC7n");
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256,
              "64:42:7C:6E:D4:CB:0A:9F:9E:17:61:13:7B:1E:24:03:0C:3E:B5:6B:C8:9E:9E:11:19:A9:EF:"
              "63:F6:34:08:A0");
    cr_assert_eq(m->n_candidates, 0);
    cr_assert_eq(m->max_message_size, 262144);
}

static void check_firefox(const char *ufrag, const char *pwd, const char *fp)
{
    cr_assert_eq(sdp.n_fingerprints, 1, "Firefox puts the fingerprint at session level");
    assert_fp(&sdp.fingerprints[0], ZDC_SDP_HASH_SHA256, fp);
    assert_str(sdp.ice_options, "trickle");
    assert_str(sdp.msid_semantic, "WMS *");
    cr_assert_eq(sdp.sess_version, 0);
    assert_str(sdp.origin_address, "0.0.0.0");
    cr_assert_eq(sdp.n_media, 1);
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert(m->datachannel);
    cr_assert_eq(m->line, 10);
    cr_assert_eq(m->n_fingerprints, 1, "inherited from the session");
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256, fp);
    assert_str(m->ice_options, "trickle");
    cr_assert(m->ice_trickle);
    assert_str(m->ice_ufrag, ufrag);
    assert_str(m->ice_pwd, pwd);
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTPASS);
    cr_assert_eq(m->direction, ZDC_SDP_DIR_SENDRECV);
    cr_assert_eq(m->sctp_port, 5000);
    cr_assert_eq(m->max_message_size, 1073741823);
}

Test(sdp_fixture, firefox_offer, .fini = free_fixture)
{
    parse_fixture("firefox_offer.sdp");
    assert_str(sdp.origin_username, "mozilla...THIS_IS_SDPARTA-99.0");
    cr_assert_eq(sdp.sess_id, 5173291817433183394ull);
    check_firefox("4f6a2b1c", "e3baa8a9e2dd2a0a5b4ff7f0f5a0e2a1",
                  "16:E5:F6:0F:20:7A:1A:00:73:45:1C:35:A9:D3:15:D1:7F:DC:17:D7:FA:B6:64:49:B0:0C:"
                  "DF:AA:DC:8B:24:9E");
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert_eq(m->n_candidates, 2);
    assert_str(m->candidates[0], "candidate:0 1 UDP 2122252543 "
                                 "8d3f0c1e-5b7a-4e2d-9c6f-1a2b3c4d5e6f.local 51234 typ host");
    assert_str(m->candidates[1],
               "candidate:1 1 TCP 2105524479 8d3f0c1e-5b7a-4e2d-9c6f-1a2b3c4d5e6f.local 9 typ "
               "host tcptype active");
    cr_assert(m->end_of_candidates);
}

Test(sdp_fixture, firefox_offer_bare_lf, .fini = free_fixture)
{
    parse_fixture("firefox_offer_lf.sdp");
    cr_assert_null(memchr(text, '\r', 200), "fixture must use bare LF");
    assert_str(sdp.origin_username, "mozilla...THIS_IS_SDPARTA-115.5.0");
    cr_assert_eq(sdp.sess_id, 1893407461720914752ull);
    check_firefox("a1b2c3d4", "7b0e1f2a3c4d5e6f708192a3b4c5d6e7",
                  "14:42:03:9E:25:A6:8C:A4:76:6A:E3:CA:79:5B:42:AE:76:E1:8C:D7:19:69:80:22:A1:DE:"
                  "28:BE:7C:9B:D6:44");
    cr_assert_eq(sdp.media[0].n_candidates, 0);
    cr_assert_not(sdp.media[0].end_of_candidates);
}

Test(sdp_fixture, safari_offer, .fini = free_fixture)
{
    parse_fixture("safari_offer.sdp");
    cr_assert_eq(sdp.sess_id, 2894410531962712380ull);
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert(m->datachannel);
    assert_str(m->ice_ufrag, "Pe8U");
    assert_str(m->ice_pwd, "3TmgnUkQ6Hc2rLn9aFh0Jt1B");
    cr_assert_eq(m->n_candidates, 2);
    assert_str(m->candidates[0], "candidate:2999745851 1 udp 2113937151 "
                                 "a7d2c8e4-3b1f-4c6a-8e5d-9f0a1b2c3d4e.local 63052 typ host "
                                 "generation 0 network-cost 999");
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256,
              "D8:E6:0E:BB:BB:2B:1A:9D:5F:0D:D2:CF:C7:E8:10:68:85:83:AD:8A:FB:62:6F:CC:6C:35:7F:"
              "75:6E:79:95:30");
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTPASS);
}

Test(sdp_fixture, libdatachannel_offer, .fini = free_fixture)
{
    parse_fixture("libdatachannel_offer.sdp");
    assert_str(sdp.origin_username, "rtc");
    cr_assert_eq(sdp.sess_id, 2366421637ull);
    cr_assert_eq(sdp.n_bundle, 1, "the LS group is not a BUNDLE");
    /* Session-level ICE, fingerprint and setup, inherited by the section. */
    assert_str(sdp.ice_ufrag, "9Gn/");
    cr_assert_eq(sdp.setup, ZDC_SDP_SETUP_ACTPASS);
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert(m->datachannel);
    assert_str(m->ice_ufrag, "9Gn/");
    assert_str(m->ice_pwd, "N2XK+Z7Zdtb7j7H0OvKg6Y");
    assert_str(m->ice_options, "ice2,trickle");
    cr_assert(m->ice_trickle);
    cr_assert(m->ice_ice2);
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTPASS);
    cr_assert_eq(m->n_fingerprints, 1);
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256,
              "C4:07:A8:81:B6:AD:5B:61:85:14:24:27:8A:90:A0:D8:EB:19:55:1F:BE:32:AE:E3:2C:6D:6E:"
              "42:3F:E3:9F:E5");
    cr_assert_eq(m->direction, ZDC_SDP_DIR_SENDRECV);
    cr_assert_eq(m->n_candidates, 2);
    assert_str(m->candidates[1],
               "candidate:2 1 UDP 1686109951 203.0.113.44 50702 typ srflx raddr 0.0.0.0 rport 0");
    cr_assert(m->end_of_candidates);
}

Test(sdp_fixture, pion_offer_and_answer, .fini = free_fixture)
{
    parse_fixture("pion_offer.sdp");
    assert_str(sdp.msid_semantic, "WMS*");
    cr_assert(sdp.extmap_allow_mixed);
    cr_assert_eq(sdp.sess_version, 1732460000);
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert(m->datachannel);
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTPASS);
    assert_str(m->ice_ufrag, "PqXnLBZDelFkKHdQ");
    assert_str(m->ice_pwd, "XyKrcLqVNODvRutcPaKuuNxqPajCYEZJ");
    cr_assert_not(m->has_max_message_size, "Pion sends none: 64 KiB applies");
    cr_assert_null(m->ice_options.p);
    cr_assert_not(m->ice_trickle);
    cr_assert_eq(m->n_candidates, 2);
    cr_assert(m->end_of_candidates);
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256,
              "96:A2:0E:72:6E:FC:D5:3D:B8:BA:E4:C5:D6:E3:78:C2:34:F7:84:BB:9F:5B:13:2C:B4:DA:FA:"
              "9F:47:36:AC:52");
    free_fixture();

    parse_fixture("pion_answer.sdp");
    m = &sdp.media[0];
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTIVE);
    assert_str(m->ice_ufrag, "hWvTzYdGmLqEoJxR");
    cr_assert_eq(m->n_candidates, 1);
    assert_str(m->candidates[0],
               "candidate:1750372181 1 udp 2130706431 192.168.1.21 41877 typ host");
}

Test(sdp_fixture, aiortc_offer, .fini = free_fixture)
{
    parse_fixture("aiortc_offer.sdp");
    cr_assert_eq(sdp.sess_id, 3911482838ull);
    cr_assert_eq(sdp.sess_version, 3911482838ull);
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert(m->datachannel);
    cr_assert_eq(m->port, 54321, "aiortc puts the default candidate in m= and c=");
    assert_conn(&m->connection, "192.168.1.30");
    cr_assert_eq(m->max_message_size, 65536);
    cr_assert_null(m->ice_options.p, "aiortc gathers before the offer: no trickle");
    cr_assert_not(m->ice_trickle);
    cr_assert_eq(m->n_candidates, 2);
    assert_str(m->candidates[0], "candidate:7d1c3e4a5f6b7c8d9e0f1a2b3c4d5e6f 1 udp 2130706431 "
                                 "192.168.1.30 54321 typ host");
    cr_assert(m->end_of_candidates);
    assert_str(m->ice_ufrag, "Kb0d");
    assert_str(m->ice_pwd, "2Nsb8Q0y4eGz0gOaQ5ubL5");
    cr_assert_eq(m->n_fingerprints, 3);
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256,
              "8B:9E:3D:73:71:EC:6D:CD:4B:46:84:35:47:C1:06:D6:E0:7E:5E:5E:38:05:E6:8B:6E:7A:CE:"
              "F6:3B:24:DE:88");
    assert_fp(&m->fingerprints[1], ZDC_SDP_HASH_SHA384,
              "13:7B:91:78:2B:FB:54:09:29:2A:1B:57:0D:9A:29:01:88:80:EF:C5:BB:0A:04:97:17:4D:57:"
              "9C:53:BF:AA:32:B8:5A:37:F8:1C:08:FC:FC:78:D9:25:E5:87:57:81:47");
    assert_fp(&m->fingerprints[2], ZDC_SDP_HASH_SHA512,
              "D7:2F:9C:B0:34:08:16:51:79:FD:89:44:D6:50:19:66:BB:1E:27:B1:51:7C:33:BD:2F:E4:4D:"
              "B9:35:DC:80:54:66:65:06:EA:A0:3E:34:18:D0:62:6E:33:EE:93:65:D2:34:B0:B2:1E:95:EB:"
              "FE:E0:91:56:0A:2C:6C:9D:A3:72");
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTPASS);
}

Test(sdp_fixture, legacy_sctpmap_offer, .fini = free_fixture)
{
    parse_fixture("legacy_sctpmap_offer.sdp");
    assert_str(sdp.bundle[0], "data");
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert_eq(m->proto, ZDC_SDP_PROTO_DTLS_SCTP);
    assert_str(m->fmt, "5000");
    cr_assert(m->datachannel);
    cr_assert(m->legacy_sctpmap);
    cr_assert_eq(m->sctp_port, 5000);
    cr_assert_eq(m->sctpmap_streams, 1024);
    cr_assert_not(m->has_max_message_size);
    assert_str(m->mid, "data");
    assert_str(m->ice_ufrag, "Xr4T");
    cr_assert_eq(m->setup, ZDC_SDP_SETUP_ACTPASS);
}

Test(sdp_fixture, audio_video_application_bundle, .fini = free_fixture)
{
    parse_fixture("chrome_av_bundle_offer.sdp");
    cr_assert_eq(sdp.n_bundle, 3);
    assert_str(sdp.bundle[2], "2");
    assert_str(sdp.msid_semantic, "WMS 3c1e9a2b-5d4f-4e6a-8b7c-0d1e2f3a4b5c");
    cr_assert_eq(sdp.n_media, 3);
    cr_assert_eq(zdc_sdp_find_datachannel(&sdp), 2);

    const zdc_sdp_media *a = &sdp.media[0], *v = &sdp.media[1], *d = &sdp.media[2];
    cr_assert_eq(a->kind, ZDC_SDP_KIND_AUDIO);
    cr_assert_eq(a->line, 8);
    cr_assert_eq(a->proto, ZDC_SDP_PROTO_OTHER);
    assert_str(a->proto_text, "UDP/TLS/RTP/SAVPF");
    assert_str(a->fmt, "111 63 9 0 8 13 110 126");
    assert_str(a->mid, "0");
    cr_assert_not(a->datachannel);
    cr_assert_eq(a->direction, ZDC_SDP_DIR_SENDRECV);
    cr_assert_eq(v->kind, ZDC_SDP_KIND_VIDEO);
    assert_str(v->fmt, "96 97 102 103");
    assert_str(v->mid, "1");
    cr_assert_not(v->datachannel);
    cr_assert_eq(d->kind, ZDC_SDP_KIND_APPLICATION);
    cr_assert(d->datachannel);
    assert_str(d->mid, "2");
    assert_str(d->ice_ufrag, "Zt7c");
    cr_assert_eq(d->sctp_port, 5000);
}

/* ---- acceptance of odd but valid input --------------------------------------------------- */

Test(sdp_parse, unknown_attributes_blank_lines_and_lowercase_hex)
{
    static const char s[] =
        HEAD "a=x-unknown:whatever\r\n\r\n" DC "a=fingerprint:SHA-256 " FP256 "\r\n"
             "a=fingerprint:sha-1 0a:1b:2c:3d:4e:5f:60:71:82:93:a4:b5:c6:d7:e8:"
             "f9:0a:1b:2c:3d\r\n"
             "a=fingerprint:md5 01:02:03:04\r\n"
             "a=weird\r\n\r\n";
    zdc_sdp_error err;
    cr_assert_eq(zdc_sdp_parse(s, sizeof s - 1, &sdp, &err), 0, "%s", err.msg);
    const zdc_sdp_media *m = &sdp.media[0];
    cr_assert_eq(m->n_fingerprints, 3);
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256, FP256);
    assert_fp(&m->fingerprints[1], ZDC_SDP_HASH_SHA1,
              "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D");
    assert_fp(&m->fingerprints[2], ZDC_SDP_HASH_UNKNOWN, "01:02:03:04");
    assert_str(m->fingerprints[2].hash_name, "md5");
    cr_assert(m->datachannel);
    cr_assert_eq(m->sctp_port, 0, "absent: RFC 8841 default 5000 is the caller's");
}

Test(sdp_parse, session_end_of_candidates_and_tcp_proto)
{
    static const char s[] = HEAD "a=end-of-candidates\r\na=ice-lite\r\n"
                                 "m=application 9 TCP/DTLS/SCTP webrtc-datachannel\r\n"
                                 "m=application 9 DTLS/SCTP 5000\r\n";
    cr_assert_eq(zdc_sdp_parse(s, sizeof s - 1, &sdp, NULL), 0);
    cr_assert(sdp.ice_lite);
    cr_assert_eq(sdp.media[0].proto, ZDC_SDP_PROTO_TCP_DTLS_SCTP);
    cr_assert(sdp.media[0].datachannel);
    cr_assert(sdp.media[0].end_of_candidates);
    cr_assert(sdp.media[1].end_of_candidates);
    cr_assert_not(sdp.media[1].datachannel, "legacy form without a=sctpmap");
}

Test(sdp_parse, media_level_values_override_session)
{
    static const char s[] =
        HEAD "a=ice-ufrag:sess\r\na=ice-pwd:sessionpasswordsession\r\n"
             "a=setup:actpass\r\n" DC "a=ice-ufrag:media\r\na=setup:passive\r\n";
    cr_assert_eq(zdc_sdp_parse(s, sizeof s - 1, &sdp, NULL), 0);
    assert_str(sdp.media[0].ice_ufrag, "media");
    assert_str(sdp.media[0].ice_pwd, "sessionpasswordsession");
    cr_assert_eq(sdp.media[0].setup, ZDC_SDP_SETUP_PASSIVE);
    assert_str(sdp.ice_ufrag, "sess");
}

Test(sdp_parse, session_connection_inherited_and_holdconn)
{
    static const char s[] = HEAD "c=IN IP6 2001:db8::1\r\n" DC "a=setup:holdconn\r\n"
                                 "m=audio 0 RTP/AVP 0\r\nc=IN IP4 192.0.2.7\r\n";
    cr_assert_eq(zdc_sdp_parse(s, sizeof s - 1, &sdp, NULL), 0);
    cr_assert_eq(sdp.media[0].setup, ZDC_SDP_SETUP_HOLDCONN);
    assert_str(sdp.media[0].connection.addrtype, "IP6");
    assert_str(sdp.media[0].connection.address, "2001:db8::1");
    assert_str(sdp.media[1].connection.address, "192.0.2.7");
    cr_assert_eq(sdp.media[1].kind, ZDC_SDP_KIND_AUDIO);
    cr_assert_eq(sdp.media[1].port, 0);
    cr_assert_eq(sdp.media[1].setup, ZDC_SDP_SETUP_NONE);
}

/* ---- errors name the line ---------------------------------------------------------------- */

Test(sdp_error, fingerprint_bad_hex)
{
    assert_parse_error(HEAD DC "a=mid:0\r\na=fingerprint:sha-256 ZZ:C7\r\n", ZDC_ERR_MALFORMED, 7,
                       "line 7: a=fingerprint: bad hex");
    assert_parse_error(HEAD DC "a=fingerprint:sha-256 " FP256 ":\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=fingerprint: bad hex");
    assert_parse_error(HEAD DC "a=fingerprint:sha-256 AB-CD\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=fingerprint: bad hex");
    assert_parse_error(HEAD DC "a=fingerprint:sha-256 ABC\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=fingerprint: bad hex");
    assert_parse_error(HEAD DC "a=fingerprint:sha-256 AB:CD\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=fingerprint: length does not match hash");
    assert_parse_error(HEAD DC "a=fingerprint:sha-256\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=fingerprint: expected <hash> <hex>");
    /* An unknown hash is kept, but no fingerprint is longer than sha-512's 64 bytes. */
    assert_parse_error(HEAD DC "a=fingerprint:sha-1024 " FP256 ":" FP256 ":00\r\n",
                       ZDC_ERR_MALFORMED, 6, "line 6: a=fingerprint: too long");
}

Test(sdp_error, structure)
{
    assert_parse_error("", ZDC_ERR_MALFORMED, 0, "empty input");
    assert_parse_error("o=- 1 2 IN IP4 127.0.0.1\r\n", ZDC_ERR_MALFORMED, 1,
                       "line 1: v=: first line must be v=0");
    assert_parse_error("v=0\r\no=- 1 2 IN IP4\r\n", ZDC_ERR_MALFORMED, 2,
                       "line 2: o=: expected 6 fields");
    assert_parse_error("v=0\r\no=- x 2 IN IP4 1.2.3.4\r\n", ZDC_ERR_MALFORMED, 2,
                       "line 2: o=: bad number");
    assert_parse_error("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\n" DC, ZDC_ERR_MALFORMED, 3,
                       "line 3: m=: before o= and s=");
    assert_parse_error("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\n", ZDC_ERR_MALFORMED, 0,
                       "no o= or s= line");
    assert_parse_error(HEAD "x=1\r\n", ZDC_ERR_MALFORMED, 5, "line 5: unknown type letter");
    assert_parse_error(HEAD "a sendrecv\r\n", ZDC_ERR_MALFORMED, 5,
                       "line 5: expected <type>=<value>");
    assert_parse_error(HEAD "v=0\r\n", ZDC_ERR_MALFORMED, 5, "line 5: v=: repeated");
    assert_parse_error(HEAD "c=IN IP4\r\n", ZDC_ERR_MALFORMED, 5, "line 5: c=: expected 3 fields");
    assert_parse_error(HEAD "a=mid:0\r\n", ZDC_ERR_MALFORMED, 5, "line 5: a=mid: at session level");
    assert_parse_error(HEAD "a=candidate:1 1 udp 1 1.2.3.4 5 typ host\r\n", ZDC_ERR_MALFORMED, 5,
                       "line 5: a=candidate: at session level");
    /* Bare LF counts lines the same way. */
    assert_parse_error("v=0\no=- 1 2 IN IP4 1.2.3.4\ns=-\nm=application 9 X y\na=setup:maybe\n",
                       ZDC_ERR_MALFORMED, 5, "line 5: a=setup: unknown value");
}

Test(sdp_error, nul_and_stray_cr)
{
    static const char s[] = "v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=a\0b\r\n";
    static zdc_sdp out;
    zdc_sdp_error err;
    cr_assert_eq(zdc_sdp_parse(s, sizeof s - 1, &out, &err), ZDC_ERR_MALFORMED);
    cr_assert_eq(err.line, 3);
    assert_parse_error(HEAD "s=x\r\r\n", ZDC_ERR_MALFORMED, 5, "line 5: NUL or CR inside the line");
}

Test(sdp_error, media_section_rules)
{
    assert_parse_error(HEAD "m=application 70000 UDP/DTLS/SCTP webrtc-datachannel\r\n",
                       ZDC_ERR_MALFORMED, 5, "line 5: m=: number out of range");
    assert_parse_error(HEAD "m=application 9 UDP/DTLS/SCTP\r\n", ZDC_ERR_MALFORMED, 5,
                       "line 5: m=: no fmt");
    assert_parse_error(HEAD DC "a=mid:0\r\n" DC "a=mid:0\r\n", ZDC_ERR_MALFORMED, 8,
                       "line 8: a=mid: not unique");
    assert_parse_error(HEAD DC "a=mid:0\r\na=mid:1\r\n", ZDC_ERR_MALFORMED, 7,
                       "line 7: a=mid: repeated");
    assert_parse_error(HEAD DC "a=sctp-port:http\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=sctp-port: bad number");
    assert_parse_error(HEAD DC "a=sctp-port:0\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=sctp-port: number out of range");
    assert_parse_error(HEAD DC "a=max-message-size:-1\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=max-message-size: bad number");
    assert_parse_error(HEAD DC "a=max-message-size:99999999999999999999\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=max-message-size: number out of range");
    assert_parse_error(HEAD DC "a=ice-ufrag:abc\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=ice-ufrag: bad value");
    assert_parse_error(HEAD DC "a=ice-pwd:short\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=ice-pwd: bad value");
    assert_parse_error(HEAD DC "a=ice-pwd:has-a-dash-in-it-which-is-bad\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=ice-pwd: bad value");
    assert_parse_error(HEAD DC "a=ice-ufrag:abcd\r\na=ice-ufrag:abcd\r\n", ZDC_ERR_MALFORMED, 7,
                       "line 7: a=ice-ufrag: repeated");
    assert_parse_error(HEAD DC "a=setup:active\r\na=setup:active\r\n", ZDC_ERR_MALFORMED, 7,
                       "line 7: a=setup: repeated");
    assert_parse_error(HEAD DC "a=ice-options:\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=ice-options: empty");
    assert_parse_error(HEAD DC "a=candidate:\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=candidate: empty");
    assert_parse_error(HEAD DC "a=candidate\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=candidate: no value");
    assert_parse_error(HEAD "m=application 9\r\n", ZDC_ERR_MALFORMED, 5,
                       "line 5: m=: expected <media> <port> <proto> <fmt>");
    assert_parse_error(HEAD DC "a=sctpmap:5000\r\n", ZDC_ERR_MALFORMED, 6,
                       "line 6: a=sctpmap: expected <port> <protocol>");
    assert_parse_error(HEAD "a=group:BUNDLE 0 1 \x01\r\n", ZDC_ERR_MALFORMED, 5,
                       "line 5: a=group: bad mid");
}

/* ---- limits ------------------------------------------------------------------------------ */

static char big[ZDC_SDP_MAX_INPUT + 64];

static size_t append(size_t n, const char *s)
{
    size_t l = strlen(s);
    cr_assert_lt(n + l, sizeof big);
    memcpy(big + n, s, l);
    return n + l;
}

static void assert_big_error(size_t n, int rc, unsigned line, const char *msg)
{
    static zdc_sdp out;
    zdc_sdp_error err;
    int got = zdc_sdp_parse(big, n, &out, &err);
    cr_assert_eq(got, rc, "rc %d: %s", got, err.msg);
    cr_assert_eq(err.line, line, "%s", err.msg);
    cr_assert_str_eq(err.msg, msg);
}

Test(sdp_limits, too_many_media_sections)
{
    size_t n = append(0, HEAD);
    for (int i = 0; i < ZDC_SDP_MAX_MEDIA; i++)
        n = append(n, "m=audio 0 RTP/AVP 0\r\n");
    cr_assert_eq(zdc_sdp_parse(big, n, &sdp, NULL), 0, "exactly the limit is fine");
    n = append(n, DC);
    assert_big_error(n, ZDC_ERR_TOO_LARGE, 4 + ZDC_SDP_MAX_MEDIA + 1,
                     "line 21: m=: too many m-sections");
}

Test(sdp_limits, too_many_candidates_and_fingerprints)
{
    size_t n = append(0, HEAD DC);
    for (int i = 0; i < ZDC_SDP_MAX_CANDIDATES + 8; i++)
        n = append(n, "a=candidate:1 1 udp 1 192.0.2.1 9 typ host\r\n");
    /* Candidates beyond the cap are counted and skipped, not refused. */
    cr_assert_eq(zdc_sdp_parse(big, n, &sdp, NULL), 0);
    cr_assert_eq(sdp.media[0].n_candidates, ZDC_SDP_MAX_CANDIDATES);
    cr_assert_eq(sdp.media[0].candidates_ignored, 8);

    n = append(0, HEAD DC);
    for (int i = 0; i <= ZDC_SDP_MAX_FINGERPRINTS; i++)
        n = append(n, "a=fingerprint:sha-256 " FP256 "\r\n");
    assert_big_error(n, ZDC_ERR_TOO_LARGE, 10, "line 10: a=fingerprint: too many fingerprints");
}

Test(sdp_limits, line_length_line_count_and_size)
{
    size_t n = append(0, HEAD "a=x:");
    memset(big + n, 'y', ZDC_SDP_MAX_LINE_LEN);
    n += ZDC_SDP_MAX_LINE_LEN;
    n = append(n, "\r\n");
    assert_big_error(n, ZDC_ERR_TOO_LARGE, 5, "line 5: line too long");

    n = append(0, HEAD);
    for (int i = 4; i < ZDC_SDP_MAX_LINES + 1; i++)
        n = append(n, "a=x\r\n");
    assert_big_error(n, ZDC_ERR_TOO_LARGE, ZDC_SDP_MAX_LINES + 1, "line 1025: too many lines");

    memset(big, '\n', ZDC_SDP_MAX_INPUT + 1);
    assert_big_error(ZDC_SDP_MAX_INPUT + 1, ZDC_ERR_TOO_LARGE, 0, "input too large");

    n = append(0, HEAD "a=group:BUNDLE");
    for (int i = 0; i <= ZDC_SDP_MAX_BUNDLE; i++)
        n = append(n, " m");
    n = append(n, "\r\n");
    assert_big_error(n, ZDC_ERR_TOO_LARGE, 5, "line 5: a=group: too many mids");
}

Test(sdp_parse, null_arguments)
{
    zdc_sdp_error err;
    cr_assert_eq(zdc_sdp_parse(NULL, 0, &sdp, &err), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_sdp_parse("v=0", 3, NULL, NULL), ZDC_ERR_INVALID_PARAMETER);
}

/* ---- builder and round trips ------------------------------------------------------------- */

#define VIEW(s)                                                                                    \
    {                                                                                              \
        (s), sizeof(s) - 1                                                                         \
    }

static const zdc_sdp_str cands[] = {
    VIEW("candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host"),
    VIEW("candidate:2 1 udp 1694498815 198.51.100.1 50000 typ srflx raddr 192.0.2.10 rport 50000"),
};

static zdc_sdp_desc make_desc(enum zdc_sdp_setup setup)
{
    zdc_sdp_desc d = {
        .sess_id = 0x7fffffffffffffffull,
        .sess_version = 3,
        .ice_ufrag = {"Zq9+", 4},
        .ice_pwd = {"aB3dE6gH9jK2mN5pQ8sT1v", 22},
        .setup = setup,
        .trickle = true,
        .extmap_allow_mixed = true,
        .max_message_size = 262144,
        .candidates = cands,
        .n_candidates = 2,
        .end_of_candidates = true,
    };
    d.fingerprint.hash = ZDC_SDP_HASH_SHA256;
    d.fingerprint.len = 32;
    for (int i = 0; i < 32; i++)
        d.fingerprint.bytes[i] = (uint8_t)(i * 37 + 5);
    return d;
}

static bool str_eq(zdc_sdp_str a, zdc_sdp_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* parse(build(d)) == d for every field d holds. */
static void assert_matches(const zdc_sdp_desc *d, const zdc_sdp *p, size_t idx, bool legacy)
{
    cr_assert_eq(p->sess_id, d->sess_id);
    cr_assert_eq(p->sess_version, d->sess_version);
    cr_assert_eq(p->ice_lite, d->ice_lite);
    cr_assert_eq(p->extmap_allow_mixed, d->extmap_allow_mixed);
    const zdc_sdp_media *m = &p->media[idx];
    cr_assert(m->datachannel);
    cr_assert_eq(m->legacy_sctpmap, legacy);
    cr_assert_eq(m->port, 9);
    cr_assert(str_eq(m->ice_ufrag, d->ice_ufrag));
    cr_assert(str_eq(m->ice_pwd, d->ice_pwd));
    cr_assert_eq(m->ice_trickle, d->trickle);
    cr_assert_eq(m->setup, d->setup);
    cr_assert_eq(m->n_fingerprints, 1);
    cr_assert_eq(m->fingerprints[0].hash, d->fingerprint.hash);
    cr_assert_eq(m->fingerprints[0].len, d->fingerprint.len);
    cr_assert_arr_eq(m->fingerprints[0].bytes, d->fingerprint.bytes, d->fingerprint.len);
    cr_assert_eq(m->sctp_port, d->sctp_port ? d->sctp_port : 5000);
    cr_assert_eq(m->has_max_message_size, d->max_message_size != 0);
    cr_assert_eq(m->max_message_size, d->max_message_size);
    cr_assert_eq(m->n_candidates, d->n_candidates);
    for (size_t i = 0; i < d->n_candidates; i++)
        cr_assert(str_eq(m->candidates[i], d->candidates[i]), "candidate %zu", i);
    cr_assert_eq(m->end_of_candidates, d->end_of_candidates);
    assert_conn(&m->connection, "0.0.0.0");
}

static char out[8192];
static zdc_sdp parsed;

Test(sdp_build, offer_round_trip_and_shape)
{
    zdc_sdp_desc d = make_desc(ZDC_SDP_SETUP_ACTPASS);
    int n = zdc_sdp_build_offer(&d, out, sizeof out);
    cr_assert_gt(n, 0, "rc %d", n);
    cr_assert_eq((size_t)n, strlen(out));
    /* JSEP §5.2.1 shape, line by line. */
    const char *want_head = "v=0\r\n"
                            "o=- 9223372036854775807 3 IN IP4 127.0.0.1\r\n"
                            "s=-\r\n"
                            "t=0 0\r\n"
                            "a=group:BUNDLE 0\r\n"
                            "a=extmap-allow-mixed\r\n"
                            "a=msid-semantic: WMS\r\n"
                            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                            "c=IN IP4 0.0.0.0\r\n"
                            "a=ice-ufrag:Zq9+\r\n"
                            "a=ice-pwd:aB3dE6gH9jK2mN5pQ8sT1v\r\n"
                            "a=ice-options:trickle\r\n"
                            "a=fingerprint:sha-256 05:2A:4F:";
    cr_assert_eq(strncmp(out, want_head, strlen(want_head)), 0, "got:\n%s", out);
    const char *want_tail = "a=setup:actpass\r\n"
                            "a=mid:0\r\n"
                            "a=sctp-port:5000\r\n"
                            "a=max-message-size:262144\r\n"
                            "a=candidate:1 1 udp 2130706431 192.0.2.10 50000 typ host\r\n"
                            "a=candidate:2 1 udp 1694498815 198.51.100.1 50000 typ srflx raddr "
                            "192.0.2.10 rport 50000\r\n"
                            "a=end-of-candidates\r\n";
    cr_assert_not_null(strstr(out, want_tail), "got:\n%s", out);

    zdc_sdp_error err;
    cr_assert_eq(zdc_sdp_parse(out, (size_t)n, &parsed, &err), 0, "%s", err.msg);
    cr_assert_eq(parsed.n_media, 1);
    assert_str(parsed.media[0].mid, "0");
    assert_str(parsed.bundle[0], "0");
    assert_matches(&d, &parsed, 0, false);
}

Test(sdp_build, offer_variants_round_trip)
{
    zdc_sdp_desc d = make_desc(ZDC_SDP_SETUP_ACTPASS);
    d.sess_id = UINT64_MAX;
    d.sess_version = 0;
    d.ice_lite = true;
    d.trickle = false;
    d.extmap_allow_mixed = false;
    d.n_candidates = 0;
    d.end_of_candidates = false;
    d.max_message_size = 0;
    d.sctp_port = 5001;
    d.mid = (zdc_sdp_str){"data", 4};
    d.fingerprint.hash = ZDC_SDP_HASH_SHA512;
    d.fingerprint.len = 64;
    int n = zdc_sdp_build_offer(&d, out, sizeof out);
    cr_assert_gt(n, 0);
    cr_assert_eq(zdc_sdp_parse(out, (size_t)n, &parsed, NULL), 0);
    assert_matches(&d, &parsed, 0, false);
    assert_str(parsed.media[0].mid, "data");
    cr_assert_null(strstr(out, "a=ice-options"));
    cr_assert_not_null(strstr(out, "\r\na=ice-lite\r\n"));

    d.legacy_sctpmap = true;
    n = zdc_sdp_build_offer(&d, out, sizeof out);
    cr_assert_gt(n, 0);
    cr_assert_not_null(strstr(out, "m=application 9 DTLS/SCTP 5001\r\n"));
    cr_assert_not_null(strstr(out, "a=sctpmap:5001 webrtc-datachannel 1024\r\n"));
    cr_assert_eq(zdc_sdp_parse(out, (size_t)n, &parsed, NULL), 0);
    assert_matches(&d, &parsed, 0, true);
}

static void answer_fixture(const char *name, enum zdc_sdp_setup setup)
{
    parse_fixture(name);
    zdc_sdp_desc d = make_desc(setup);
    int n = zdc_sdp_build_answer(&d, &sdp, out, sizeof out);
    cr_assert_gt(n, 0, "%s: rc %d", name, n);
    zdc_sdp_error err;
    cr_assert_eq(zdc_sdp_parse(out, (size_t)n, &parsed, &err), 0, "%s", err.msg);
    cr_assert_eq(parsed.n_media, sdp.n_media, "one m-section per offered one");
    int dc = zdc_sdp_find_datachannel(&sdp);
    assert_matches(&d, &parsed, (size_t)dc, sdp.media[dc].legacy_sctpmap);
    cr_assert(str_eq(parsed.media[dc].mid, sdp.media[dc].mid));
}

Test(sdp_build, answer_to_each_capture, .fini = free_fixture)
{
    static const char *offers[] = {
        "chrome_offer.sdp",         "firefox_offer.sdp", "firefox_offer_lf.sdp", "safari_offer.sdp",
        "libdatachannel_offer.sdp", "pion_offer.sdp",    "aiortc_offer.sdp"};
    for (size_t i = 0; i < sizeof offers / sizeof offers[0]; i++) {
        answer_fixture(offers[i], ZDC_SDP_SETUP_PASSIVE);
        assert_str(parsed.bundle[0], "0");
        free_fixture();
    }
}

Test(sdp_build, answer_rejects_audio_video_keeps_mids, .fini = free_fixture)
{
    answer_fixture("chrome_av_bundle_offer.sdp", ZDC_SDP_SETUP_ACTIVE);
    cr_assert_eq(parsed.n_bundle, 1, "only the accepted section is bundled");
    assert_str(parsed.bundle[0], "2");
    const zdc_sdp_media *a = &parsed.media[0], *v = &parsed.media[1];
    cr_assert_eq(a->kind, ZDC_SDP_KIND_AUDIO);
    cr_assert_eq(a->port, 0);
    assert_str(a->proto_text, "UDP/TLS/RTP/SAVPF");
    assert_str(a->fmt, "111 63 9 0 8 13 110 126");
    assert_str(a->mid, "0");
    cr_assert_eq(v->kind, ZDC_SDP_KIND_VIDEO);
    cr_assert_eq(v->port, 0);
    assert_str(v->mid, "1");
    cr_assert_eq(parsed.media[2].port, 9);
    assert_str(parsed.media[2].mid, "2");
    cr_assert_not_null(strstr(out, "m=audio 0 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
                                   "c=IN IP4 0.0.0.0\r\na=mid:0\r\n"));
}

Test(sdp_build, answer_matches_legacy_form, .fini = free_fixture)
{
    answer_fixture("legacy_sctpmap_offer.sdp", ZDC_SDP_SETUP_PASSIVE);
    const zdc_sdp_media *m = &parsed.media[0];
    cr_assert_eq(m->proto, ZDC_SDP_PROTO_DTLS_SCTP);
    cr_assert(m->legacy_sctpmap);
    cr_assert_eq(m->sctpmap_streams, 1024);
    assert_str(m->mid, "data");
    assert_str(parsed.bundle[0], "data");
}

Test(sdp_build, errors)
{
    zdc_sdp_desc d = make_desc(ZDC_SDP_SETUP_ACTPASS);
    cr_assert_eq(zdc_sdp_build_offer(&d, out, 100), ZDC_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(zdc_sdp_build_offer(NULL, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);

    zdc_sdp_desc bad = d;
    bad.setup = ZDC_SDP_SETUP_ACTIVE;
    cr_assert_eq(zdc_sdp_build_offer(&bad, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    bad = d;
    bad.ice_ufrag = (zdc_sdp_str){"ab", 2};
    cr_assert_eq(zdc_sdp_build_offer(&bad, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    bad = d;
    bad.fingerprint.len = 20;
    cr_assert_eq(zdc_sdp_build_offer(&bad, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    bad = d;
    bad.mid = (zdc_sdp_str){"a b", 3};
    cr_assert_eq(zdc_sdp_build_offer(&bad, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    static const zdc_sdp_str inject[] = {VIEW("candidate:1 1 udp 1 1.2.3.4 5 typ host\r\na=x")};
    bad = d;
    bad.candidates = inject;
    bad.n_candidates = 1;
    cr_assert_eq(zdc_sdp_build_offer(&bad, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    bad = d;
    bad.n_candidates = ZDC_SDP_MAX_CANDIDATES + 1;
    cr_assert_eq(zdc_sdp_build_offer(&bad, out, sizeof out), ZDC_ERR_TOO_LARGE);

    /* Answers: setup must be active/passive and opposite to a role the offer fixed. */
    static const char active_offer[] = HEAD DC "a=setup:active\r\na=mid:0\r\n";
    cr_assert_eq(zdc_sdp_parse(active_offer, sizeof active_offer - 1, &parsed, NULL), 0);
    cr_assert_eq(zdc_sdp_build_answer(&d, &parsed, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    d.setup = ZDC_SDP_SETUP_ACTIVE;
    cr_assert_eq(zdc_sdp_build_answer(&d, &parsed, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    d.setup = ZDC_SDP_SETUP_PASSIVE;
    cr_assert_gt(zdc_sdp_build_answer(&d, &parsed, out, sizeof out), 0);

    static const char audio_only[] = HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n";
    cr_assert_eq(zdc_sdp_parse(audio_only, sizeof audio_only - 1, &parsed, NULL), 0);
    cr_assert_eq(zdc_sdp_build_answer(&d, &parsed, out, sizeof out), ZDC_ERR_NOT_FOUND);
}

Test(sdp_build, hash_helpers)
{
    cr_assert_lt(sizeof(zdc_sdp), 32 * 1024, "the header promises a small parsed struct");
    cr_assert_eq(zdc_sdp_hash_len(ZDC_SDP_HASH_SHA1), 20);
    cr_assert_eq(zdc_sdp_hash_len(ZDC_SDP_HASH_SHA384), 48);
    cr_assert_eq(zdc_sdp_hash_len(ZDC_SDP_HASH_UNKNOWN), 0);
    cr_assert_str_eq(zdc_sdp_hash_name(ZDC_SDP_HASH_SHA512), "sha-512");
    cr_assert_null(zdc_sdp_hash_name(ZDC_SDP_HASH_UNKNOWN));
}

/* ---- captures made on this project's test machine ----------------------------------------
 * Recorded with test/interop/capture-sdp.mjs: Chromium 156 (Debian, headless, loopback flags)
 * and libdatachannel 0.33 (npm node-datachannel), and with capture-sdp-firefox.mjs: Firefox
 * ESR 153 (Debian firefox-esr, headless); offer and answer each, after gathering. */

static void assert_live_capture(const char *name, enum zdc_sdp_setup setup, const char *ufrag,
                                const char *pwd, const char *fp, size_t n_cand, bool eoc)
{
    parse_fixture(name);
    int dc = zdc_sdp_find_datachannel(&sdp);
    cr_assert_eq(dc, 0, "%s", name);
    const zdc_sdp_media *m = &sdp.media[dc];
    cr_assert(m->datachannel);
    cr_assert_eq(m->proto, ZDC_SDP_PROTO_UDP_DTLS_SCTP);
    cr_assert_eq(m->sctp_port, 5000);
    cr_assert(m->has_max_message_size);
    cr_assert_eq(m->max_message_size, strstr(name, "firefox") ? 1073741823 : 262144);
    cr_assert_eq(m->setup, setup, "%s: setup %d", name, (int)m->setup);
    assert_str(m->mid, "0");
    assert_str(m->ice_ufrag, ufrag);
    assert_str(m->ice_pwd, pwd);
    cr_assert(m->ice_trickle, "%s: trickle in a=ice-options", name);
    cr_assert_eq(m->n_fingerprints, 1);
    assert_fp(&m->fingerprints[0], ZDC_SDP_HASH_SHA256, fp);
    cr_assert_eq(m->n_candidates, n_cand, "%s: %zu candidates", name, m->n_candidates);
    cr_assert_eq(m->end_of_candidates, eoc);
    assert_conn(&m->connection, "192.0.2.2");
    cr_assert(sdp.has_bundle);
    assert_str(sdp.bundle[0], "0");
}

Test(sdp_live, chromium_156_offer, .fini = free_fixture)
{
    assert_live_capture("chromium_156_offer.sdp", ZDC_SDP_SETUP_ACTPASS, "cEzT",
                        "94UdwSN8C8XFMQOearQv6SYp",
                        "1B:E0:57:AE:A6:54:C2:D7:5D:A0:B8:52:09:AD:2D:5E:ED:9F:CF:86:C9:46:FB:"
                        "B8:33:9D:DA:1C:5B:33:C0:5E",
                        2, false);
    assert_str(sdp.media[0].candidates[1], "candidate:1416333760 1 udp 2113942271 fd00::2 47452 "
                                           "typ host generation 0 network-cost 999");
}

Test(sdp_live, chromium_156_answer, .fini = free_fixture)
{
    assert_live_capture("chromium_156_answer.sdp", ZDC_SDP_SETUP_ACTIVE, "OVtT",
                        "UghQq/gYtcYtKBZKsXQsCRZ9",
                        "CA:81:1F:2A:50:03:72:E8:42:F3:F7:96:74:67:B0:ED:F2:97:67:0A:BB:9B:22:"
                        "74:22:F0:DA:64:F9:CB:5C:A2",
                        2, false);
}

Test(sdp_live, libdatachannel_033_offer, .fini = free_fixture)
{
    assert_live_capture("libdatachannel_0.33_offer.sdp", ZDC_SDP_SETUP_ACTPASS, "thho",
                        "PkmcNB417T5H2wdur6p5y1",
                        "A2:AE:CA:CD:69:2F:E9:6F:D0:0E:24:4B:CB:E1:AB:E7:70:BD:D9:43:25:F6:1A:"
                        "D4:EB:38:2A:3F:CC:0F:BD:13",
                        2, true);
    cr_assert(sdp.media[0].ice_ice2, "a=ice-options:ice2,trickle (comma-separated)");
    cr_assert_eq(sdp.n_fingerprints, 1, "libdatachannel writes the fingerprint at session level");
    assert_str(sdp.media[0].candidates[0], "candidate:2 1 UDP 2116026111 fd00::2 57720 typ host");
}

Test(sdp_live, libdatachannel_033_answer, .fini = free_fixture)
{
    assert_live_capture("libdatachannel_0.33_answer.sdp", ZDC_SDP_SETUP_ACTIVE, "SnGQ",
                        "WoUzBH5MR7m+ZfOFQaTOEG",
                        "D5:9C:51:50:63:87:9C:78:D0:5F:DA:66:25:87:93:42:3A:68:D5:7C:79:41:EB:"
                        "D8:CA:3F:91:54:A3:39:DB:C1",
                        2, true);
}

Test(sdp_live, firefox_esr_offer, .fini = free_fixture)
{
    assert_live_capture("firefox_esr_offer.sdp", ZDC_SDP_SETUP_ACTPASS, "acaec9d5",
                        "fb664746c12d97b4a40de2c86bd4939d",
                        "1C:B9:0B:D8:C8:45:4A:24:5B:E3:AC:82:40:E9:D1:E8:D0:61:86:19:C6:8F:29:"
                        "CC:4D:A0:A8:6E:2F:36:3B:7F",
                        4, true);
    assert_str(sdp.origin_username, "mozilla...THIS_IS_SDPARTA-99.0");
    cr_assert_eq(sdp.n_fingerprints, 1, "Firefox writes the fingerprint at session level");
    assert_str(sdp.media[0].candidates[2],
               "candidate:2 1 TCP 2105458943 192.0.2.2 9 typ host tcptype active");
}

Test(sdp_live, firefox_esr_answer, .fini = free_fixture)
{
    assert_live_capture("firefox_esr_answer.sdp", ZDC_SDP_SETUP_ACTIVE, "f39ff4e2",
                        "c5e188d2f0cad6228d83de3a9aaa6b03",
                        "DD:7A:48:BF:01:D9:9D:55:E9:7B:DB:A1:13:73:7F:49:60:30:67:10:20:98:16:"
                        "91:DB:0D:33:E4:99:7D:10:EB",
                        4, true);
}

Test(sdp_live, answer_each_live_offer, .fini = free_fixture)
{
    answer_fixture("chromium_156_offer.sdp", ZDC_SDP_SETUP_PASSIVE);
    assert_str(parsed.bundle[0], "0");
    free_fixture();
    answer_fixture("libdatachannel_0.33_offer.sdp", ZDC_SDP_SETUP_ACTIVE);
    assert_str(parsed.bundle[0], "0");
    free_fixture();
    answer_fixture("firefox_esr_offer.sdp", ZDC_SDP_SETUP_PASSIVE);
    assert_str(parsed.bundle[0], "0");
}
