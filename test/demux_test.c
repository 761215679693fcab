/* RFC 7983 §7 / RFC 9443 §5 first-byte demultiplexing: every range boundary. */
#include <criterion/criterion.h>
#include <string.h>

#include "zdc/demux.h"

/* RFC 5769 §2.1 sample request header: Binding request, length 0x58, magic cookie, txid. */
static const uint8_t stun_req[20] = {0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7,
                                     0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* Classifies a 64-byte datagram whose first byte is b (rest: a valid STUN header's cookie). */
static enum zdc_demux_class classify_first(uint8_t b, size_t len)
{
    uint8_t d[64] = {0};
    memcpy(d, stun_req, sizeof stun_req);
    d[0] = b;
    return zdc_demux_classify(d, len);
}

Test(demux, empty_is_unknown)
{
    cr_assert_eq(zdc_demux_classify(NULL, 0), ZDC_DEMUX_UNKNOWN);
    cr_assert_eq(zdc_demux_classify(stun_req, 0), ZDC_DEMUX_UNKNOWN);
}

Test(demux, every_first_byte)
{
    for (int b = 0; b < 256; b++) {
        enum zdc_demux_class want;
        if (b <= 3)
            want = ZDC_DEMUX_STUN;
        else if (b <= 15)
            want = ZDC_DEMUX_UNKNOWN;
        else if (b <= 19)
            want = ZDC_DEMUX_ZRTP;
        else if (b <= 63)
            want = ZDC_DEMUX_DTLS;
        else if (b <= 79)
            want = ZDC_DEMUX_TURN_CHANNEL;
        else if (b <= 127)
            want = ZDC_DEMUX_UNKNOWN;
        else if (b <= 191)
            want = ZDC_DEMUX_RTP;
        else
            want = ZDC_DEMUX_QUIC;
        cr_assert_eq(classify_first((uint8_t)b, 64), want, "first byte %d", b);
    }
}

Test(demux, boundaries)
{
    static const struct {
        uint8_t b;
        enum zdc_demux_class c;
    } cases[] = {
        {3, ZDC_DEMUX_STUN},     {4, ZDC_DEMUX_UNKNOWN},       {15, ZDC_DEMUX_UNKNOWN},
        {16, ZDC_DEMUX_ZRTP},    {19, ZDC_DEMUX_ZRTP},         {20, ZDC_DEMUX_DTLS},
        {63, ZDC_DEMUX_DTLS},    {64, ZDC_DEMUX_TURN_CHANNEL}, {79, ZDC_DEMUX_TURN_CHANNEL},
        {80, ZDC_DEMUX_UNKNOWN}, {127, ZDC_DEMUX_UNKNOWN},     {128, ZDC_DEMUX_RTP},
        {191, ZDC_DEMUX_RTP},    {192, ZDC_DEMUX_QUIC},        {255, ZDC_DEMUX_QUIC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(classify_first(cases[i].b, 40), cases[i].c, "first byte %u", cases[i].b);
}

Test(demux, stun_needs_20_bytes_and_cookie)
{
    cr_assert_eq(zdc_demux_classify(stun_req, 20), ZDC_DEMUX_STUN);
    for (size_t n = 1; n < 20; n++)
        cr_assert_eq(zdc_demux_classify(stun_req, n), ZDC_DEMUX_STUN_INVALID, "len %zu", n);
    for (int i = 4; i < 8; i++) {
        uint8_t d[20];
        memcpy(d, stun_req, sizeof d);
        d[i] ^= 0x01; /* any cookie bit wrong */
        cr_assert_eq(zdc_demux_classify(d, sizeof d), ZDC_DEMUX_STUN_INVALID);
    }
}

Test(demux, dtls_needs_13_bytes)
{
    /* DTLS 1.2 handshake record header: type 22, version fefd, epoch 0, seq 0, length 0x0100 */
    static const uint8_t rec[13] = {0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x00};
    cr_assert_eq(zdc_demux_classify(rec, 13), ZDC_DEMUX_DTLS);
    for (size_t n = 1; n < 13; n++)
        cr_assert_eq(zdc_demux_classify(rec, n), ZDC_DEMUX_DTLS_INVALID, "len %zu", n);
    cr_assert_eq(classify_first(20, 12), ZDC_DEMUX_DTLS_INVALID);
    cr_assert_eq(classify_first(63, 13), ZDC_DEMUX_DTLS);
}

Test(demux, short_non_stun_dtls_keep_their_class)
{
    cr_assert_eq(classify_first(0x80, 1), ZDC_DEMUX_RTP);
    cr_assert_eq(classify_first(0x40, 1), ZDC_DEMUX_TURN_CHANNEL);
    cr_assert_eq(classify_first(0x10, 1), ZDC_DEMUX_ZRTP);
}

Test(demux, only_stun_and_dtls_processed_and_names_distinct)
{
    for (int c = 0; c < ZDC_DEMUX_CLASS_COUNT; c++) {
        bool want = c == ZDC_DEMUX_STUN || c == ZDC_DEMUX_DTLS;
        cr_assert_eq(zdc_demux_is_processed((enum zdc_demux_class)c), want, "class %d", c);
        for (int d = 0; d < c; d++)
            cr_assert_str_neq(zdc_demux_class_name((enum zdc_demux_class)c),
                              zdc_demux_class_name((enum zdc_demux_class)d));
    }
    cr_assert_str_eq(zdc_demux_class_name(ZDC_DEMUX_STUN), "stun");
    cr_assert_str_eq(zdc_demux_class_name((enum zdc_demux_class)99), "invalid-class");
}
