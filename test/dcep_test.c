/* DCEP (RFC 8832): byte-exact vectors written field by field from the §5.1 / §5.2 figures. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/dcep.h"

/* OPEN, RELIABLE (ordered), priority 256, reliability 0, label "chat", protocol "". */
static const uint8_t open_reliable[] = {
    0x03,                   /* Message Type: DATA_CHANNEL_OPEN */
    0x00,                   /* Channel Type: DATA_CHANNEL_RELIABLE */
    0x01, 0x00,             /* Priority 256 */
    0x00, 0x00, 0x00, 0x00, /* Reliability Parameter */
    0x00, 0x04,             /* Label Length */
    0x00, 0x00,             /* Protocol Length */
    'c',  'h',  'a',  't',  /* Label */
};

/* OPEN, PARTIAL_RELIABLE_REXMIT_UNORDERED, priority 512, 3 retransmits, "game" / "v1". */
static const uint8_t open_rexmit_unordered[] = {
    0x03, 0x81, 0x02, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00,
    0x04, 0x00, 0x02, 'g',  'a',  'm',  'e',  'v',  '1',
};

/* OPEN, PARTIAL_RELIABLE_TIMED, priority 128, 1500 ms, empty label and protocol. */
static const uint8_t open_timed[] = {
    0x03, 0x02, 0x00, 0x80, 0x00, 0x00, 0x05, 0xdc, 0x00, 0x00, 0x00, 0x00,
};

static const uint8_t ack[] = {0x02};

/* Parses from an exact-size heap copy so ASan catches any read past the end. */
static int parse_exact(const uint8_t *p, size_t len, zdc_dcep_msg *m)
{
    uint8_t *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    if (len)
        memcpy(copy, p, len);
    int rv = zdc_dcep_parse(len ? copy : NULL, len, m);
    free(copy);
    return rv;
}

Test(dcep, parse_reliable_open)
{
    zdc_dcep_msg m;
    cr_assert_eq(zdc_dcep_parse(open_reliable, sizeof open_reliable, &m), 0);
    cr_assert_eq(m.type, ZDC_DCEP_OPEN);
    cr_assert_eq(m.open.channel_type, ZDC_DCEP_RELIABLE);
    cr_assert_eq(m.open.priority, 256);
    cr_assert_eq(m.open.reliability, 0);
    cr_assert_eq(m.open.label_len, 4);
    cr_assert_eq(m.open.label, open_reliable + 12); /* a view, not a copy */
    cr_assert_eq(memcmp(m.open.label, "chat", 4), 0);
    cr_assert_eq(m.open.protocol_len, 0);
    cr_assert_null(m.open.protocol);
}

Test(dcep, parse_rexmit_unordered_and_timed)
{
    zdc_dcep_msg m;
    cr_assert_eq(zdc_dcep_parse(open_rexmit_unordered, sizeof open_rexmit_unordered, &m), 0);
    cr_assert_eq(m.open.channel_type, ZDC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED);
    cr_assert_eq(m.open.priority, 512);
    cr_assert_eq(m.open.reliability, 3);
    cr_assert_eq(memcmp(m.open.label, "game", 4), 0);
    cr_assert_eq(m.open.protocol_len, 2);
    cr_assert_eq(memcmp(m.open.protocol, "v1", 2), 0);

    cr_assert_eq(zdc_dcep_parse(open_timed, sizeof open_timed, &m), 0);
    cr_assert_eq(m.open.channel_type, ZDC_DCEP_PARTIAL_RELIABLE_TIMED);
    cr_assert_eq(m.open.priority, 128);
    cr_assert_eq(m.open.reliability, 1500);
    cr_assert_eq(m.open.label_len, 0);
    cr_assert_null(m.open.label);
}

Test(dcep, parse_ack)
{
    zdc_dcep_msg m;
    cr_assert_eq(zdc_dcep_parse(ack, sizeof ack, &m), 0);
    cr_assert_eq(m.type, ZDC_DCEP_ACK);
    /* Pion's datachannel pads its ACK to four bytes: still an ACK. */
    static const uint8_t ack_pion[] = {0x02, 0x00, 0x00, 0x00};
    memset(&m, 0xff, sizeof m);
    cr_assert_eq(zdc_dcep_parse(ack_pion, sizeof ack_pion, &m), 0);
    cr_assert_eq(m.type, ZDC_DCEP_ACK);
    cr_assert_null(m.open.label);
    /* an empty message is no ACK, and an unknown type stays malformed whatever follows */
    cr_assert_eq(zdc_dcep_parse(ack_pion, 0, &m), ZDC_ERR_TRUNCATED);
    static const uint8_t other[] = {0x04, 0x00, 0x00, 0x00};
    cr_assert_eq(zdc_dcep_parse(other, sizeof other, &m), ZDC_ERR_MALFORMED);
}

Test(dcep, build_byte_exact)
{
    uint8_t out[64];
    zdc_dcep_open o = {.channel_type = ZDC_DCEP_RELIABLE,
                       .priority = 256,
                       .label = (const uint8_t *)"chat",
                       .label_len = 4};
    cr_assert_eq(zdc_dcep_open_size(&o), sizeof open_reliable);
    cr_assert_eq(zdc_dcep_open_build(&o, out, sizeof out), (int)sizeof open_reliable);
    cr_assert_eq(memcmp(out, open_reliable, sizeof open_reliable), 0);

    zdc_dcep_open r = {.channel_type = ZDC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED,
                       .priority = 512,
                       .reliability = 3,
                       .label = (const uint8_t *)"game",
                       .label_len = 4,
                       .protocol = (const uint8_t *)"v1",
                       .protocol_len = 2};
    cr_assert_eq(zdc_dcep_open_build(&r, out, sizeof out), (int)sizeof open_rexmit_unordered);
    cr_assert_eq(memcmp(out, open_rexmit_unordered, sizeof open_rexmit_unordered), 0);

    zdc_dcep_open t = {
        .channel_type = ZDC_DCEP_PARTIAL_RELIABLE_TIMED, .priority = 128, .reliability = 1500};
    cr_assert_eq(zdc_dcep_open_build(&t, out, sizeof out), (int)sizeof open_timed);
    cr_assert_eq(memcmp(out, open_timed, sizeof open_timed), 0);

    cr_assert_eq(zdc_dcep_ack_build(out, sizeof out), 1);
    cr_assert_eq(out[0], 0x02);
    cr_assert_eq(zdc_dcep_ack_build(out, 0), ZDC_ERR_BUFFER_TOO_SMALL);
}

Test(dcep, build_small_buffer_and_invalid)
{
    uint8_t out[64];
    zdc_dcep_open r = {.channel_type = ZDC_DCEP_PARTIAL_RELIABLE_REXMIT,
                       .reliability = 3,
                       .label = (const uint8_t *)"game",
                       .label_len = 4};
    for (size_t cap = 0; cap < zdc_dcep_open_size(&r); cap++)
        cr_assert_eq(zdc_dcep_open_build(&r, out, cap), ZDC_ERR_BUFFER_TOO_SMALL);
    r.channel_type = 0x03;
    cr_assert_eq(zdc_dcep_open_build(&r, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    /* RFC 8832 §5.1: reliable channels send 0 */
    r.channel_type = ZDC_DCEP_RELIABLE_UNORDERED;
    cr_assert_eq(zdc_dcep_open_build(&r, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
    r.reliability = 0;
    r.label = NULL;
    cr_assert_eq(zdc_dcep_open_build(&r, out, sizeof out), ZDC_ERR_INVALID_PARAMETER);
}

Test(dcep, every_channel_type_round_trips)
{
    static const uint8_t types[] = {
        ZDC_DCEP_RELIABLE,
        ZDC_DCEP_RELIABLE_UNORDERED,
        ZDC_DCEP_PARTIAL_RELIABLE_REXMIT,
        ZDC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED,
        ZDC_DCEP_PARTIAL_RELIABLE_TIMED,
        ZDC_DCEP_PARTIAL_RELIABLE_TIMED_UNORDERED,
    };
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t out[64];
        zdc_dcep_msg m;
        bool reliable = (types[i] & 0x7f) == 0;
        zdc_dcep_open o = {.channel_type = types[i],
                           .priority = (uint16_t)(1000 + i),
                           .reliability = reliable ? 0 : 0xfffffff0u + (uint32_t)i,
                           .label = (const uint8_t *)"l\xc3\xa4",
                           .label_len = 3,
                           .protocol = (const uint8_t *)"proto",
                           .protocol_len = 5};
        int n = zdc_dcep_open_build(&o, out, sizeof out);
        cr_assert_eq(n, 20);
        cr_assert_eq(out[1], types[i]);
        cr_assert_eq(zdc_dcep_parse(out, (size_t)n, &m), 0);
        cr_assert_eq(m.open.channel_type, o.channel_type);
        cr_assert_eq(m.open.priority, o.priority);
        cr_assert_eq(m.open.reliability, o.reliability);
        cr_assert_eq(memcmp(m.open.label, o.label, 3), 0);
        cr_assert_eq(memcmp(m.open.protocol, o.protocol, 5), 0);
    }
}

Test(dcep, unknown_channel_and_message_types)
{
    zdc_dcep_msg m;
    uint8_t v[sizeof open_timed];
    for (int t = 0; t < 256; t++) {
        memcpy(v, open_timed, sizeof v);
        v[1] = (uint8_t)t;
        bool known = t == 0x00 || t == 0x80 || t == 0x01 || t == 0x81 || t == 0x02 || t == 0x82;
        cr_assert_eq(zdc_dcep_channel_type_valid((uint8_t)t), known);
        cr_assert_eq(zdc_dcep_parse(v, sizeof v, &m), known ? 0 : ZDC_ERR_MALFORMED, "type %d", t);
    }
    for (int t = 0; t < 256; t++) {
        if (t == ZDC_DCEP_OPEN || t == ZDC_DCEP_ACK)
            continue;
        uint8_t b = (uint8_t)t;
        cr_assert_eq(zdc_dcep_parse(&b, 1, &m), ZDC_ERR_MALFORMED);
    }
}

Test(dcep, truncation_at_every_offset)
{
    const struct {
        const uint8_t *p;
        size_t len;
    } vecs[] = {
        {open_reliable, sizeof open_reliable},
        {open_rexmit_unordered, sizeof open_rexmit_unordered},
        {open_timed, sizeof open_timed},
        {ack, sizeof ack},
    };
    zdc_dcep_msg m;
    for (size_t v = 0; v < sizeof vecs / sizeof vecs[0]; v++) {
        cr_assert_eq(parse_exact(vecs[v].p, vecs[v].len, &m), 0);
        for (size_t n = 0; n < vecs[v].len; n++) {
            cr_assert_eq(parse_exact(vecs[v].p, n, &m), ZDC_ERR_TRUNCATED, "vec %zu at %zu", v, n);
            cr_assert_eq(m.type, 0); /* cleared on error */
        }
    }
}

Test(dcep, lengths_must_fit_exactly)
{
    zdc_dcep_msg m;
    uint8_t v[sizeof open_rexmit_unordered + 1];
    memcpy(v, open_rexmit_unordered, sizeof open_rexmit_unordered);
    v[sizeof v - 1] = 'x';
    cr_assert_eq(parse_exact(v, sizeof v, &m), ZDC_ERR_MALFORMED); /* trailing byte */
    v[11] = 3;                                                     /* protocol length 3 */
    cr_assert_eq(zdc_dcep_parse(v, sizeof v, &m), 0);              /* views into v */
    cr_assert_eq(memcmp(m.open.protocol, "v1x", 3), 0);
    v[9] = 0xff; /* label length 0x00ff: beyond the message */
    cr_assert_eq(parse_exact(v, sizeof v, &m), ZDC_ERR_TRUNCATED);
    v[8] = 0xff;
    v[9] = 0xff;
    v[10] = 0xff;
    v[11] = 0xff; /* 65535 + 65535: must not wrap */
    cr_assert_eq(parse_exact(v, sizeof v, &m), ZDC_ERR_TRUNCATED);
    cr_assert_eq(zdc_dcep_parse(NULL, 1, &m), ZDC_ERR_INVALID_PARAMETER);
}

Test(dcep, reliability_mapping)
{
    zdc_dcep_reliability r;
    uint8_t t;
    uint32_t v;

    cr_assert_eq(zdc_dcep_reliability_decode(ZDC_DCEP_RELIABLE, 77, &r), 0);
    cr_assert(r.ordered);
    cr_assert_not(r.has_max_retransmits);
    cr_assert_not(r.has_max_packet_life_time); /* parameter ignored for reliable */

    cr_assert_eq(zdc_dcep_reliability_decode(ZDC_DCEP_PARTIAL_RELIABLE_REXMIT_UNORDERED, 5, &r), 0);
    cr_assert_not(r.ordered);
    cr_assert(r.has_max_retransmits);
    cr_assert_eq(r.max_retransmits, 5);

    cr_assert_eq(zdc_dcep_reliability_decode(ZDC_DCEP_PARTIAL_RELIABLE_TIMED, 3000, &r), 0);
    cr_assert(r.ordered);
    cr_assert(r.has_max_packet_life_time);
    cr_assert_eq(r.max_packet_life_time, 3000);
    cr_assert_eq(zdc_dcep_reliability_decode(0x42, 0, &r), ZDC_ERR_MALFORMED);

    /* encode then decode is the identity for every combination */
    for (int ordered = 0; ordered < 2; ordered++) {
        zdc_dcep_reliability in[3] = {
            {.ordered = ordered},
            {.ordered = ordered, .has_max_retransmits = true, .max_retransmits = 0},
            {.ordered = ordered, .has_max_packet_life_time = true, .max_packet_life_time = 150},
        };
        static const uint8_t want[3] = {0x00, 0x01, 0x02};
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(zdc_dcep_reliability_encode(&in[i], &t, &v), 0);
            cr_assert_eq(t, ordered ? want[i] : (want[i] | 0x80));
            cr_assert_eq(zdc_dcep_reliability_decode(t, v, &r), 0);
            cr_assert_eq(r.ordered, in[i].ordered);
            cr_assert_eq(r.has_max_retransmits, in[i].has_max_retransmits);
            cr_assert_eq(r.max_retransmits, in[i].max_retransmits);
            cr_assert_eq(r.has_max_packet_life_time, in[i].has_max_packet_life_time);
            cr_assert_eq(r.max_packet_life_time, in[i].max_packet_life_time);
        }
    }
    zdc_dcep_reliability both = {.has_max_retransmits = true, .has_max_packet_life_time = true};
    cr_assert_eq(zdc_dcep_reliability_encode(&both, &t, &v), ZDC_ERR_INVALID_PARAMETER);
}

Test(dcep, ppid_values)
{
    /* RFC 8831 §8 / RFC 8832 §8.1 registry values */
    cr_assert_eq(ZDC_PPID_DCEP, 50);
    cr_assert_eq(ZDC_PPID_STRING, 51);
    cr_assert_eq(ZDC_PPID_BINARY_PARTIAL, 52);
    cr_assert_eq(ZDC_PPID_BINARY, 53);
    cr_assert_eq(ZDC_PPID_STRING_PARTIAL, 54);
    cr_assert_eq(ZDC_PPID_STRING_EMPTY, 56);
    cr_assert_eq(ZDC_PPID_BINARY_EMPTY, 57);
}
