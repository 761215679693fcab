/* Tests for the native SCTP wire codec (core/sctp/sctp_wire.h): every chunk round-trips
 * through a packet with a real CRC32c, malformed input is rejected with a clear error, unknown
 * chunks and parameters are classified by their upper bits, and every packet usrsctp (the
 * other SCTP stack zdc carries) emits during a handshake, data transfer, stream reset and
 * abort parses. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "sctp.h"
#include "sctp_wire.h"

/* Builds a packet holding chunk c, parses it back and returns the parsed chunk (views point
 * into buf). */
static zdc_sctp_chunk round_trip(const zdc_sctp_chunk *c, uint8_t *buf, size_t cap)
{
    zdc_wr w;
    zdc_wr_init(&w, buf, cap);
    zdc_sctp_packet_begin(&w, 5000, 5001, 0x11223344u);
    cr_assert_eq(zdc_sctp_chunk_build(&w, c), 0);
    int n = zdc_sctp_packet_finish(&w, false);
    cr_assert_gt(n, 0);
    cr_assert_eq((size_t)n, 12 + zdc_sctp_chunk_size(c), "size %d vs predicted %zu", n,
                 12 + zdc_sctp_chunk_size(c));
    cr_assert_eq(n % 4, 0);

    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    cr_assert_eq(zdc_sctp_packet_parse(buf, (size_t)n, ZDC_SCTP_CSUM_VERIFY, &h, &it), 0);
    cr_assert_eq(h.src_port, 5000);
    cr_assert_eq(h.dst_port, 5001);
    cr_assert_eq(h.vtag, 0x11223344u);
    zdc_sctp_raw_chunk raw;
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(raw.type, c->type);
    cr_assert_eq(raw.flags, c->flags);
    zdc_sctp_chunk out;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &out), 0, "type %u", c->type);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 0, "one chunk only");
    return out;
}

static uint8_t buf[70000];

Test(sctp_wire, data_round_trip)
{
    const char msg[] = "hello, data channel";
    zdc_sctp_chunk c = {.type = ZDC_SCTP_DATA, .flags = ZDC_SCTP_DATA_B | ZDC_SCTP_DATA_E};
    c.u.data = (zdc_sctp_data_chunk){.flags = c.flags,
                                     .tsn = 0xfffffffeu,
                                     .stream = 7,
                                     .ssn = 65535,
                                     .ppid = 51,
                                     .payload = (const uint8_t *)msg,
                                     .len = sizeof msg - 1};
    zdc_sctp_chunk o = round_trip(&c, buf, sizeof buf);
    cr_assert_eq(o.u.data.tsn, 0xfffffffeu);
    cr_assert_eq(o.u.data.stream, 7);
    cr_assert_eq(o.u.data.ssn, 65535);
    cr_assert_eq(o.u.data.ppid, 51);
    cr_assert_eq(o.u.data.flags, ZDC_SCTP_DATA_B | ZDC_SCTP_DATA_E);
    cr_assert_eq(o.u.data.len, sizeof msg - 1);
    cr_assert_arr_eq(o.u.data.payload, msg, sizeof msg - 1);
    cr_assert(o.u.data.payload >= buf && o.u.data.payload < buf + sizeof buf, "a view");

    /* Every payload length 1..9 (padding 3..0) and the largest a chunk can carry. */
    static uint8_t big[65535];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)(i * 7);
    size_t lens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 65535 - 16};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        c.u.data.payload = big;
        c.u.data.len = lens[k];
        o = round_trip(&c, buf, sizeof buf);
        cr_assert_eq(o.u.data.len, lens[k]);
        cr_assert_arr_eq(o.u.data.payload, big, lens[k]);
    }
    /* One byte more does not fit a 16-bit chunk length. */
    c.u.data.len = 65535 - 15;
    zdc_wr w;
    zdc_wr_init(&w, buf, sizeof buf);
    cr_assert_eq(zdc_sctp_chunk_build(&w, &c), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_sctp_chunk_size(&c), 0);
}

static void check_init_equal(const zdc_sctp_init_chunk *a, const zdc_sctp_init_chunk *b)
{
    cr_assert_eq(a->init_tag, b->init_tag);
    cr_assert_eq(a->a_rwnd, b->a_rwnd);
    cr_assert_eq(a->os, b->os);
    cr_assert_eq(a->mis, b->mis);
    cr_assert_eq(a->initial_tsn, b->initial_tsn);
    cr_assert_eq(a->ext_len, b->ext_len);
    if (a->ext_len)
        cr_assert_arr_eq(a->ext, b->ext, a->ext_len);
    cr_assert_eq(a->forward_tsn, b->forward_tsn);
    cr_assert_eq(a->zero_checksum, b->zero_checksum);
    cr_assert_eq(a->edmid, b->edmid);
    cr_assert_eq(a->cookie_len, b->cookie_len);
    if (a->cookie_len)
        cr_assert_arr_eq(a->cookie, b->cookie, a->cookie_len);
}

Test(sctp_wire, init_and_init_ack_round_trip_every_parameter_combination)
{
    static const uint8_t ext[] = {ZDC_SCTP_FORWARD_TSN, ZDC_SCTP_RE_CONFIG, ZDC_SCTP_I_DATA};
    static const uint8_t cookie[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
    for (int type = ZDC_SCTP_INIT; type <= ZDC_SCTP_INIT_ACK; type++) {
        for (unsigned mask = 0; mask < 16; mask++) {
            if (type == ZDC_SCTP_INIT_ACK && !(mask & 8))
                continue; /* INIT ACK needs its cookie */
            zdc_sctp_chunk c = {.type = (uint8_t)type};
            c.u.init = (zdc_sctp_init_chunk){.init_tag = 0xdeadbeef,
                                             .a_rwnd = 1 << 20,
                                             .os = 1024,
                                             .mis = 65535,
                                             .initial_tsn = 12345};
            if (mask & 1) {
                c.u.init.ext = ext;
                c.u.init.ext_len = sizeof ext - (mask & 2 ? 0 : 1);
            }
            c.u.init.forward_tsn = mask & 2;
            if (mask & 4) {
                c.u.init.zero_checksum = true;
                c.u.init.edmid = ZDC_SCTP_EDMID_DTLS;
            }
            if (type == ZDC_SCTP_INIT_ACK) {
                c.u.init.cookie = cookie;
                c.u.init.cookie_len = sizeof cookie;
            }
            zdc_sctp_chunk o = round_trip(&c, buf, sizeof buf);
            check_init_equal(&o.u.init, &c.u.init);
            cr_assert_eq(o.u.init.n_reported, 0);
            cr_assert_not(o.u.init.stopped);
        }
    }
}

/* A hand-written INIT (RFC 9260 §3.3.2 layout) with parameters this codec does not know: the
 * upper two bits of each type decide (§3.2.1). */
Test(sctp_wire, init_unknown_parameters_follow_upper_bits)
{
    uint8_t v[] = {
        0x00, 0x00, 0x00, 0x01,                         /* initiate tag */
        0x00, 0x01, 0x00, 0x00,                         /* a_rwnd */
        0x00, 0x10, 0x00, 0x10,                         /* OS, MIS */
        0x00, 0x00, 0x00, 0x07,                         /* initial TSN */
        0x80, 0x02, 0x00, 0x08, 0xaa, 0xbb, 0xcc, 0xdd, /* 10: skip silently (RANDOM) */
        0xC1, 0x23, 0x00, 0x05, 0xee, 0x00, 0x00, 0x00, /* 11: skip and report */
        0xC0, 0x00, 0x00, 0x04,                         /* Forward-TSN-Supported */
        0x41, 0x23, 0x00, 0x04,                         /* 01: stop and report */
        0x80, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, /* not reached */
    };
    zdc_sctp_raw_chunk raw = {.type = ZDC_SCTP_INIT, .value = v, .len = sizeof v};
    zdc_sctp_chunk o;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), 0);
    cr_assert(o.u.init.forward_tsn);
    cr_assert_not(o.u.init.zero_checksum, "the walk stopped before it");
    cr_assert(o.u.init.stopped);
    cr_assert_eq(o.u.init.n_reported, 2);
    cr_assert_eq(o.u.init.reported_len[0], 5);
    cr_assert_eq(o.u.init.reported[0], v + 24);
    cr_assert_eq(o.u.init.reported_len[1], 4);
    cr_assert_eq(o.u.init.reported[1], v + 36);

    /* 00: stop silently. */
    v[36] = 0x01;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), 0);
    cr_assert(o.u.init.stopped);
    cr_assert_eq(o.u.init.n_reported, 1);

    /* Many reportable parameters: all counted, the first ZDC_SCTP_MAX_REPORTED kept. */
    uint8_t many[16 + 10 * 4];
    memcpy(many, v, 16);
    for (int i = 0; i < 10; i++) {
        uint8_t *p = many + 16 + 4 * i;
        p[0] = 0xC0;
        p[1] = (uint8_t)(0x10 + i);
        p[2] = 0;
        p[3] = 4;
    }
    raw.value = many;
    raw.len = sizeof many;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), 0);
    cr_assert_eq(o.u.init.n_reported, 10);
    cr_assert_eq(o.u.init.reported[ZDC_SCTP_MAX_REPORTED - 1],
                 many + 16 + 4 * (ZDC_SCTP_MAX_REPORTED - 1));
}

Test(sctp_wire, sack_round_trip_with_gaps_and_dups)
{
    zdc_sctp_gap gaps[] = {{2, 3}, {5, 5}, {7, 100}};
    uint32_t dups[] = {9, 0xffffffffu};
    uint8_t chunk[64];
    zdc_wr w;
    zdc_wr_init(&w, chunk, sizeof chunk);
    cr_assert_eq(zdc_sctp_sack_build(&w, 1000, 65536, gaps, 3, dups, 2), 0);
    cr_assert_eq(w.len, 16 + 12 + 8);
    zdc_sctp_raw_chunk raw = {.type = chunk[0], .value = chunk + 4, .len = w.len - 4};
    zdc_sctp_chunk s;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &s), 0);
    cr_assert_eq(s.u.sack.cum_tsn, 1000);
    cr_assert_eq(s.u.sack.a_rwnd, 65536);
    cr_assert_eq(s.u.sack.n_gaps, 3);
    cr_assert_eq(s.u.sack.n_dups, 2);
    for (unsigned i = 0; i < 3; i++) {
        cr_assert_eq(zdc_sctp_sack_gap(&s.u.sack, i).start, gaps[i].start);
        cr_assert_eq(zdc_sctp_sack_gap(&s.u.sack, i).end, gaps[i].end);
    }
    cr_assert_eq(zdc_sctp_sack_dup(&s.u.sack, 1), 0xffffffffu);
    zdc_sctp_chunk o = round_trip(&s, buf, sizeof buf);
    cr_assert_eq(o.u.sack.n_gaps, 3);
    cr_assert_arr_eq(o.u.sack.gaps, s.u.sack.gaps, 12);
    cr_assert_arr_eq(o.u.sack.dups, s.u.sack.dups, 8);

    /* A count that disagrees with the length. */
    chunk[4 + 9] = 4; /* n_gaps = 4 */
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &s), ZDC_ERR_MALFORMED);
    raw.len = 11;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &s), ZDC_ERR_MALFORMED);
}

Test(sctp_wire, forward_tsn_round_trip)
{
    zdc_sctp_fwd_stream st[] = {{1, 5}, {65535, 0}};
    uint8_t chunk[32];
    zdc_wr w;
    zdc_wr_init(&w, chunk, sizeof chunk);
    cr_assert_eq(zdc_sctp_fwd_tsn_build(&w, 77, st, 2), 0);
    zdc_sctp_raw_chunk raw = {.type = chunk[0], .value = chunk + 4, .len = w.len - 4};
    zdc_sctp_chunk f;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &f), 0);
    cr_assert_eq(f.u.fwd_tsn.new_cum_tsn, 77);
    cr_assert_eq(f.u.fwd_tsn.n_streams, 2);
    cr_assert_eq(zdc_sctp_fwd_tsn_stream(&f.u.fwd_tsn, 1).stream, 65535);
    cr_assert_eq(zdc_sctp_fwd_tsn_stream(&f.u.fwd_tsn, 0).ssn, 5);
    zdc_sctp_chunk o = round_trip(&f, buf, sizeof buf);
    cr_assert_eq(o.u.fwd_tsn.n_streams, 2);
    cr_assert_arr_eq(o.u.fwd_tsn.streams, f.u.fwd_tsn.streams, 8);
    raw.len = 6;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &f), ZDC_ERR_MALFORMED);
    raw.len = 3;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &f), ZDC_ERR_MALFORMED);
}

Test(sctp_wire, small_chunks_round_trip)
{
    static const uint8_t info[] = {'h', 'b', 0, 1, 2};
    static const uint8_t cookie[] = {0xc0, 0x0c, 0x1e};
    uint8_t causes[64];
    zdc_wr w;
    zdc_wr_init(&w, causes, sizeof causes);
    zdc_sctp_cause_build(&w, ZDC_SCTP_CAUSE_USER_ABORT, "bye", 3);
    zdc_sctp_cause_build(&w, ZDC_SCTP_CAUSE_PROTOCOL_VIOLATION, NULL, 0);
    size_t causes_len = w.len;
    cr_assert_eq(causes_len, 8 + 4);

    zdc_sctp_chunk c[] = {
        {.type = ZDC_SCTP_HEARTBEAT, .u.opaque = {info, sizeof info}},
        {.type = ZDC_SCTP_HEARTBEAT_ACK, .u.opaque = {info, sizeof info}},
        {.type = ZDC_SCTP_ABORT, .flags = ZDC_SCTP_FLAG_T, .u.opaque = {causes, causes_len}},
        {.type = ZDC_SCTP_ERROR, .u.opaque = {causes, causes_len}},
        {.type = ZDC_SCTP_ABORT},
        {.type = ZDC_SCTP_SHUTDOWN, .u.cum_tsn = 0x80000000u},
        {.type = ZDC_SCTP_SHUTDOWN_ACK},
        {.type = ZDC_SCTP_SHUTDOWN_COMPLETE, .flags = ZDC_SCTP_FLAG_T},
        {.type = ZDC_SCTP_COOKIE_ECHO, .u.opaque = {cookie, sizeof cookie}},
        {.type = ZDC_SCTP_COOKIE_ACK},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        zdc_sctp_chunk o = round_trip(&c[i], buf, sizeof buf);
        cr_assert_eq(o.flags, c[i].flags);
        if (c[i].type == ZDC_SCTP_SHUTDOWN) {
            cr_assert_eq(o.u.cum_tsn, 0x80000000u);
        } else if (c[i].u.opaque.len) {
            cr_assert_eq(o.u.opaque.len, c[i].u.opaque.len, "type %u", c[i].type);
            cr_assert_arr_eq(o.u.opaque.p, c[i].u.opaque.p, o.u.opaque.len);
        }
        if (c[i].type == ZDC_SCTP_ABORT && c[i].u.opaque.len) {
            zdc_sctp_cause_iter it;
            zdc_sctp_cause_iter_init(&it, o.u.opaque.p, o.u.opaque.len);
            uint16_t code;
            const uint8_t *v;
            size_t n;
            cr_assert_eq(zdc_sctp_cause_next(&it, &code, &v, &n), 1);
            cr_assert_eq(code, ZDC_SCTP_CAUSE_USER_ABORT);
            cr_assert_eq(n, 3);
            cr_assert_arr_eq(v, "bye", 3);
            cr_assert_eq(zdc_sctp_cause_next(&it, &code, &v, &n), 1);
            cr_assert_eq(code, ZDC_SCTP_CAUSE_PROTOCOL_VIOLATION);
            cr_assert_eq(n, 0);
            cr_assert_eq(zdc_sctp_cause_next(&it, &code, &v, &n), 0);
        }
    }
}

Test(sctp_wire, reconfig_round_trip_each_parameter_and_pair)
{
    static const uint8_t s3[] = {0, 1, 0, 3, 0xff, 0xff}; /* streams 1, 3, 65535 */
    zdc_sctp_reconf_param out = {.type = ZDC_SCTP_P_OUT_RESET_REQ,
                                 .req_seq = 10,
                                 .resp_seq = 20,
                                 .last_tsn = 30,
                                 .n_streams = 3,
                                 .streams = s3};
    zdc_sctp_reconf_param in = {
        .type = ZDC_SCTP_P_IN_RESET_REQ, .req_seq = 11, .n_streams = 2, .streams = s3};
    zdc_sctp_reconf_param tsn = {.type = ZDC_SCTP_P_TSN_RESET_REQ, .req_seq = 12};
    zdc_sctp_reconf_param resp = {
        .type = ZDC_SCTP_P_RECONF_RESP, .req_seq = 13, .result = ZDC_SCTP_RECONF_PERFORMED};
    zdc_sctp_reconf_param resp2 = {.type = ZDC_SCTP_P_RECONF_RESP,
                                   .req_seq = 14,
                                   .result = ZDC_SCTP_RECONF_IN_PROGRESS,
                                   .has_tsns = true,
                                   .sender_next_tsn = 100,
                                   .receiver_next_tsn = 200};
    zdc_sctp_reconf_param addo = {
        .type = ZDC_SCTP_P_ADD_OUT_STREAMS, .req_seq = 15, .new_streams = 16};
    zdc_sctp_reconf_param addi = {
        .type = ZDC_SCTP_P_ADD_IN_STREAMS, .req_seq = 16, .new_streams = 1};
    zdc_sctp_reconf_param all = {.type = ZDC_SCTP_P_OUT_RESET_REQ, .req_seq = 1};
    zdc_sctp_reconf_param singles[] = {out, in, tsn, resp, resp2, addo, addi, all};
    zdc_sctp_reconf_param pairs[][2] = {{out, in}, {out, resp}, {resp, resp2}, {addo, addi}};
    for (size_t i = 0; i < 8 + 4; i++) {
        zdc_sctp_chunk c = {.type = ZDC_SCTP_RE_CONFIG};
        if (i < 8) {
            c.u.reconfig.n = 1;
            c.u.reconfig.p[0] = singles[i];
        } else {
            c.u.reconfig.n = 2;
            c.u.reconfig.p[0] = pairs[i - 8][0];
            c.u.reconfig.p[1] = pairs[i - 8][1];
        }
        zdc_sctp_chunk o = round_trip(&c, buf, sizeof buf);
        cr_assert_eq(o.u.reconfig.n, c.u.reconfig.n);
        for (unsigned k = 0; k < c.u.reconfig.n; k++) {
            const zdc_sctp_reconf_param *a = &c.u.reconfig.p[k], *b = &o.u.reconfig.p[k];
            cr_assert_eq(a->type, b->type);
            cr_assert_eq(a->req_seq, b->req_seq);
            cr_assert_eq(a->resp_seq, b->resp_seq);
            cr_assert_eq(a->last_tsn, b->last_tsn);
            cr_assert_eq(a->result, b->result);
            cr_assert_eq(a->has_tsns, b->has_tsns);
            cr_assert_eq(a->sender_next_tsn, b->sender_next_tsn);
            cr_assert_eq(a->receiver_next_tsn, b->receiver_next_tsn);
            cr_assert_eq(a->new_streams, b->new_streams);
            cr_assert_eq(a->n_streams, b->n_streams);
            for (unsigned s = 0; s < a->n_streams; s++)
                cr_assert_eq(zdc_sctp_reconf_stream(b, s), zdc_sctp_reconf_stream(a, s));
        }
    }
    cr_assert_eq(zdc_sctp_reconf_stream(&out, 2), 65535);

    /* A pair RFC 6525 §3.1 does not allow, and three parameters, are rejected (the builder
     * refuses three; the parser is fed a hand-made chunk). */
    zdc_sctp_chunk bad = {.type = ZDC_SCTP_RE_CONFIG, .u.reconfig = {.n = 3}};
    zdc_wr w;
    zdc_wr_init(&w, buf, sizeof buf);
    cr_assert_eq(zdc_sctp_chunk_build(&w, &bad), ZDC_ERR_INVALID_PARAMETER);
    uint8_t v[] = {0x00, 0x0f, 0x00, 0x08, 0, 0, 0, 1, 0x00, 0x0f, 0x00, 0x08, 0, 0, 0, 2};
    zdc_sctp_raw_chunk raw = {.type = ZDC_SCTP_RE_CONFIG, .value = v, .len = sizeof v};
    zdc_sctp_chunk o;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED, "TSN reset twice");
    raw.len = 8;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), 0);
    raw.len = 0;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED, "no parameter");
    v[3] = 0x0a; /* TSN reset request of 10 bytes */
    raw.len = sizeof v;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED);
}

/* Short or inconsistent values for every chunk type. */
Test(sctp_wire, malformed_chunks_rejected)
{
    uint8_t z[64] = {0};
    struct {
        uint8_t type;
        size_t len;
    } bad[] = {
        {ZDC_SCTP_DATA, 11},
        {ZDC_SCTP_INIT, 15},
        {ZDC_SCTP_INIT, 16},
        {ZDC_SCTP_INIT_ACK, 16},
        {ZDC_SCTP_SACK, 8},
        {ZDC_SCTP_HEARTBEAT, 0},
        {ZDC_SCTP_HEARTBEAT, 4},
        {ZDC_SCTP_SHUTDOWN, 3},
        {ZDC_SCTP_SHUTDOWN, 8},
        {ZDC_SCTP_SHUTDOWN_ACK, 4},
        {ZDC_SCTP_COOKIE_ACK, 1},
        {ZDC_SCTP_COOKIE_ECHO, 0},
        {ZDC_SCTP_ABORT, 2},
        {ZDC_SCTP_ERROR, 4},
        {ZDC_SCTP_FORWARD_TSN, 0},
        {ZDC_SCTP_RE_CONFIG, 4},
        {ZDC_SCTP_SHUTDOWN_COMPLETE, 4},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zdc_sctp_raw_chunk raw = {.type = bad[i].type, .value = z, .len = bad[i].len};
        zdc_sctp_chunk o;
        cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED, "type %u len %zu",
                     bad[i].type, bad[i].len);
    }
    /* INIT fields the RFC forbids: tag 0, OS 0, MIS 0. */
    uint8_t init[16] = {0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0};
    zdc_sctp_raw_chunk raw = {.type = ZDC_SCTP_INIT, .value = init, .len = sizeof init};
    zdc_sctp_chunk o;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), 0);
    for (int f = 0; f < 3; f++) {
        uint8_t copy[16];
        memcpy(copy, init, 16);
        if (f == 0)
            copy[3] = 0;
        else
            copy[f == 1 ? 9 : 11] = 0;
        raw.value = copy;
        cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED, "field %d", f);
    }
    /* Parameter lengths: Forward-TSN-Supported with a value, Zero Checksum of 2 bytes, a
     * parameter running past the chunk. */
    uint8_t p1[24];
    memcpy(p1, init, 16);
    memcpy(p1 + 16, (uint8_t[]){0xC0, 0x00, 0x00, 0x08, 1, 2, 3, 4}, 8);
    raw.value = p1;
    raw.len = 24;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED);
    memcpy(p1 + 16, (uint8_t[]){0x80, 0x01, 0x00, 0x06, 0, 1, 0, 0}, 8);
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED);
    memcpy(p1 + 16, (uint8_t[]){0x80, 0x08, 0x00, 0x10, 0, 1, 0, 0}, 8);
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED);
    memcpy(p1 + 16, (uint8_t[]){0x80, 0x08, 0x00, 0x02, 0, 1, 0, 0}, 8);
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_MALFORMED);

    /* An unknown chunk type: not supported, with the action its upper bits give. */
    raw = (zdc_sctp_raw_chunk){.type = 0xC7, .value = z, .len = 4};
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &o), ZDC_ERR_NOT_SUPPORTED);
    cr_assert_eq(zdc_sctp_chunk_unknown_action(0xC7), ZDC_SCTP_UNKNOWN_SKIP_REPORT);
    cr_assert_eq(zdc_sctp_chunk_unknown_action(ZDC_SCTP_I_DATA), ZDC_SCTP_UNKNOWN_STOP_REPORT);
    cr_assert_eq(zdc_sctp_chunk_unknown_action(0x85), ZDC_SCTP_UNKNOWN_SKIP);
    cr_assert_eq(zdc_sctp_chunk_unknown_action(0x0f), ZDC_SCTP_UNKNOWN_STOP);
    cr_assert_eq(zdc_sctp_param_unknown_action(0x8001), ZDC_SCTP_UNKNOWN_SKIP);
}

static int build_two_chunk_packet(uint8_t *p, size_t cap, bool zero)
{
    zdc_wr w;
    zdc_wr_init(&w, p, cap);
    zdc_sctp_packet_begin(&w, 1, 2, 3);
    zdc_sctp_chunk a = {.type = ZDC_SCTP_COOKIE_ACK};
    zdc_sctp_chunk d = {.type = ZDC_SCTP_DATA, .flags = 3};
    d.u.data = (zdc_sctp_data_chunk){.tsn = 1, .payload = (const uint8_t *)"x", .len = 1};
    zdc_sctp_chunk_build(&w, &a);
    zdc_sctp_chunk_build(&w, &d);
    return zdc_sctp_packet_finish(&w, zero);
}

Test(sctp_wire, packet_checksum_bundling_and_truncation)
{
    uint8_t p[64];
    int n = build_two_chunk_packet(p, sizeof p, false);
    cr_assert_eq(n, 12 + 4 + 20);
    /* RFC 9260 Appendix A: the CRC32c of the packet with the field zeroed, stored LSB first. */
    uint8_t copy[64];
    memcpy(copy, p, (size_t)n);
    memset(copy + 8, 0, 4);
    cr_assert_eq(zdc_crc32c_load(p + 8), zdc_crc32c(copy, (size_t)n));

    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n, ZDC_SCTP_CSUM_VERIFY, &h, &it), 0);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(raw.type, ZDC_SCTP_COOKIE_ACK);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(raw.type, ZDC_SCTP_DATA);
    cr_assert_eq(raw.len, 13);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 0);

    /* Every single-bit flip is caught. */
    for (int i = 0; i < n * 8; i++) {
        p[i / 8] ^= (uint8_t)(1u << (i % 8));
        cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n, ZDC_SCTP_CSUM_VERIFY, &h, &it),
                     ZDC_ERR_INTEGRITY, "bit %d", i);
        p[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
    /* The last chunk may lose its padding; anything shorter is truncated. */
    n = build_two_chunk_packet(p, sizeof p, true);
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n - 3, ZDC_SCTP_CSUM_ACCEPT_ZERO, &h, &it), 0);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n - 4, ZDC_SCTP_CSUM_ACCEPT_ZERO, &h, &it), 0);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), ZDC_ERR_TRUNCATED);
    cr_assert_eq(zdc_sctp_packet_parse(p, 15, ZDC_SCTP_CSUM_SKIP, &h, &it), ZDC_ERR_TRUNCATED);
    /* A chunk length under 4. */
    p[14] = 0;
    p[15] = 3;
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n, ZDC_SCTP_CSUM_SKIP, &h, &it), 0);
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), ZDC_ERR_MALFORMED);
}

/* RFC 9653: a zero checksum is accepted only by an endpoint that advertised acceptance. */
Test(sctp_wire, zero_checksum_accepted_only_when_advertised)
{
    uint8_t p[64];
    int n = build_two_chunk_packet(p, sizeof p, true);
    cr_assert_eq(zdc_crc32c_load(p + 8), 0);
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n, ZDC_SCTP_CSUM_VERIFY, &h, &it),
                 ZDC_ERR_INTEGRITY);
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n, ZDC_SCTP_CSUM_ACCEPT_ZERO, &h, &it), 0);
    /* A correct CRC stays acceptable to an endpoint that accepts zero; a wrong one does not. */
    n = build_two_chunk_packet(p, sizeof p, false);
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n, ZDC_SCTP_CSUM_ACCEPT_ZERO, &h, &it), 0);
    p[8] ^= 1;
    cr_assert_eq(zdc_sctp_packet_parse(p, (size_t)n, ZDC_SCTP_CSUM_ACCEPT_ZERO, &h, &it),
                 ZDC_ERR_INTEGRITY);
}

Test(sctp_wire, builder_reports_a_full_buffer)
{
    uint8_t p[20];
    zdc_wr w;
    zdc_wr_init(&w, p, sizeof p);
    zdc_sctp_packet_begin(&w, 1, 2, 3);
    zdc_sctp_chunk d = {.type = ZDC_SCTP_DATA};
    d.u.data = (zdc_sctp_data_chunk){.payload = (const uint8_t *)"abcdefgh", .len = 8};
    cr_assert_eq(zdc_sctp_chunk_build(&w, &d), ZDC_ERR_BUFFER_TOO_SMALL);
    cr_assert_eq(zdc_sctp_packet_finish(&w, false), ZDC_ERR_BUFFER_TOO_SMALL);
    zdc_sctp_chunk u = {.type = 0x99};
    zdc_wr_init(&w, p, sizeof p);
    cr_assert_eq(zdc_sctp_chunk_build(&w, &u), ZDC_ERR_INVALID_PARAMETER);
}

/* ---- packets from usrsctp ------------------------------------------------------------------
 * Two usrsctp associations (core/proto/sctp.c) back to back; every packet either sends must
 * parse with a correct CRC32c, and every chunk in it must parse. Set ZDC_SCTP_CAPTURE_DIR to
 * also write the packets out (that is how fuzz/corpus/sctp_chunk and test/data/sctp were
 * recorded). */

struct cap_end {
    zdc_sctp *s;
    uint8_t *q[64];
    size_t ql[64];
    size_t nq;
    int up;
};

static unsigned types_seen[256];
static unsigned packets_seen, capture_no;

static int cap_send(void *user, const uint8_t *p, size_t len)
{
    struct cap_end *e = user;
    if (e->nq == 64)
        return -1;
    e->q[e->nq] = malloc(len);
    memcpy(e->q[e->nq], p, len);
    e->ql[e->nq++] = len;
    return 0;
}

static void cap_up(void *user, uint16_t in, uint16_t out)
{
    ((struct cap_end *)user)->up = 1;
}

static void cap_check(const uint8_t *p, size_t len)
{
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    cr_assert_eq(zdc_sctp_packet_parse(p, len, ZDC_SCTP_CSUM_VERIFY, &h, &it), 0);
    zdc_sctp_raw_chunk raw;
    int rv;
    while ((rv = zdc_sctp_chunk_next(&it, &raw)) == 1) {
        zdc_sctp_chunk c;
        cr_assert_eq(zdc_sctp_chunk_parse(&raw, &c), 0, "usrsctp chunk type %u", raw.type);
        types_seen[raw.type]++;
    }
    cr_assert_eq(rv, 0);
    packets_seen++;
    const char *dir = getenv("ZDC_SCTP_CAPTURE_DIR");
    if (dir) {
        char name[512];
        snprintf(name, sizeof name, "%s/usrsctp-%03u-type%u.bin", dir, capture_no++,
                 p[ZDC_SCTP_COMMON_HEADER_LEN]);
        FILE *f = fopen(name, "wb");
        cr_assert_not_null(f);
        fwrite(p, 1, len, f);
        fclose(f);
    }
}

static void cap_pump(struct cap_end *a, struct cap_end *b, uint64_t *now)
{
    for (int round = 0; round < 20; round++) {
        struct cap_end *ends[2] = {a, b};
        for (int k = 0; k < 2; k++) {
            struct cap_end *from = ends[k], *to = ends[1 - k];
            size_t n = from->nq;
            uint8_t *q[64];
            size_t ql[64];
            memcpy(q, from->q, n * sizeof q[0]);
            memcpy(ql, from->ql, n * sizeof ql[0]);
            from->nq = 0;
            for (size_t i = 0; i < n; i++) {
                cap_check(q[i], ql[i]);
                if (to->s)
                    zdc_sctp_handle_packet(to->s, q[i], ql[i]);
                free(q[i]);
            }
        }
        *now += ZDC_SCTP_TICK_NS;
        zdc_sctp_global_tick(*now);
    }
}

Test(sctp_wire, every_usrsctp_packet_parses)
{
    struct cap_end a = {0}, b = {0};
    zdc_sctp_config c;
    zdc_sctp_config_default(&c);
    c.native = false; /* usrsctp's packets */
    c.cb.send = cap_send;
    c.cb.on_up = cap_up;
    c.user = &a;
    cr_assert_eq(zdc_sctp_new(&c, &a.s), 0);
    c.user = &b;
    cr_assert_eq(zdc_sctp_new(&c, &b.s), 0);
    uint64_t now = 1;
    zdc_sctp_global_tick(now);
    cr_assert_eq(zdc_sctp_connect(a.s), 0);
    cr_assert_eq(zdc_sctp_connect(b.s), 0);
    cap_pump(&a, &b, &now);
    cr_assert(a.up && b.up);

    static uint8_t msg[5000];
    memset(msg, 'm', sizeof msg);
    zdc_sctp_send_opts unord = {.unordered = true};
    zdc_sctp_send_opts pr = {.pr_policy = ZDC_SCTP_PR_RTX, .pr_value = 0};
    cr_assert_eq(zdc_sctp_send(a.s, 1, 51, msg, 10, NULL), 0);
    cr_assert_eq(zdc_sctp_send(a.s, 3, 53, msg, sizeof msg, &unord), 0);
    cr_assert_eq(zdc_sctp_send(b.s, 2, 51, msg, 100, NULL), 0);
    cap_pump(&a, &b, &now);
    /* Drop what A sends next and let its timers run: retransmissions and SACKs with gaps.
     * (usrsctp ages chunks on the real clock, so a FORWARD-TSN for the abandoned message may
     * not come on this simulated time: it is not required below.) */
    cr_assert_eq(zdc_sctp_send(a.s, 5, 53, msg, 3000, &pr), 0);
    cr_assert_eq(zdc_sctp_send(a.s, 5, 53, msg, 100, NULL), 0);
    for (size_t i = 0; i < a.nq; i++) {
        cap_check(a.q[i], a.ql[i]);
        free(a.q[i]);
    }
    a.nq = 0;
    for (int i = 0; i < 150; i++) {
        now += ZDC_SCTP_TICK_NS;
        zdc_sctp_global_tick(now);
        if (a.nq)
            cap_pump(&a, &b, &now);
    }
    cr_assert_eq(zdc_sctp_reset_stream(a.s, 1), 0);
    cap_pump(&a, &b, &now);
    zdc_sctp_close(a.s); /* ABORT */
    cap_pump(&a, &b, &now);
    zdc_sctp_free(a.s);
    zdc_sctp_free(b.s);
    a.s = b.s = NULL;
    cap_pump(&a, &b, &now);

    cr_log_info("usrsctp packets parsed: %u", packets_seen);
    unsigned want[] = {ZDC_SCTP_INIT, ZDC_SCTP_INIT_ACK, ZDC_SCTP_COOKIE_ECHO, ZDC_SCTP_COOKIE_ACK,
                       ZDC_SCTP_DATA, ZDC_SCTP_SACK,     ZDC_SCTP_RE_CONFIG,   ZDC_SCTP_ABORT};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_gt(types_seen[want[i]], 0, "usrsctp sent no chunk of type %u", want[i]);
}

/* ---- stored captures (test/data/sctp, recorded from usrsctp 0.9.5 as above) ----------------- */

static size_t load(const char *name, uint8_t *p, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/sctp/%s", ZDC_TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(p, 1, cap, f);
    fclose(f);
    return n;
}

static zdc_sctp_chunk first_chunk(const char *name, uint8_t *p, size_t cap, zdc_sctp_header *h)
{
    size_t n = load(name, p, cap);
    zdc_sctp_chunk_iter it;
    cr_assert_eq(zdc_sctp_packet_parse(p, n, ZDC_SCTP_CSUM_VERIFY, h, &it), 0, "%s", name);
    zdc_sctp_raw_chunk raw;
    cr_assert_eq(zdc_sctp_chunk_next(&it, &raw), 1);
    zdc_sctp_chunk c;
    cr_assert_eq(zdc_sctp_chunk_parse(&raw, &c), 0, "%s", name);
    return c;
}

Test(sctp_wire, usrsctp_captures_decode_to_known_fields)
{
    uint8_t p[2048];
    zdc_sctp_header h;
    /* INIT: tag 0 in the header (RFC 9260 §8.5.1), the last parameter's padding outside the
     * chunk length (30). */
    zdc_sctp_chunk c = first_chunk("usrsctp-init.bin", p, sizeof p, &h);
    cr_assert_eq(h.vtag, 0);
    cr_assert_eq(h.src_port, 5000);
    cr_assert_eq(c.type, ZDC_SCTP_INIT);
    cr_assert_eq(c.u.init.init_tag, 0x03bddd2au);
    cr_assert_eq(c.u.init.a_rwnd, 1u << 20);
    cr_assert_eq(c.u.init.os, 1024);
    cr_assert_eq(c.u.init.mis, 1024);
    cr_assert(c.u.init.forward_tsn);
    cr_assert_not(c.u.init.zero_checksum);
    cr_assert_eq(c.u.init.ext_len, 2);
    cr_assert_eq(c.u.init.ext[0], ZDC_SCTP_FORWARD_TSN);
    cr_assert_eq(c.u.init.ext[1], ZDC_SCTP_RE_CONFIG);

    c = first_chunk("usrsctp-init-ack.bin", p, sizeof p, &h);
    cr_assert_eq(h.vtag, 0x03bddd2au);
    cr_assert_eq(c.type, ZDC_SCTP_INIT_ACK);
    cr_assert_eq(c.u.init.cookie_len, 196);
    cr_assert_arr_eq(c.u.init.cookie, "KAME-BSD 1.1", 12);

    c = first_chunk("usrsctp-cookie-echo.bin", p, sizeof p, &h);
    cr_assert_eq(c.type, ZDC_SCTP_COOKIE_ECHO);
    cr_assert_eq(c.u.opaque.len, 196);

    size_t n = load("usrsctp-data-1200.bin", p, sizeof p);
    cr_assert_eq(n, 1200);
    c = first_chunk("usrsctp-data-1200.bin", p, sizeof p, &h);
    cr_assert_eq(c.u.data.flags, ZDC_SCTP_DATA_B | ZDC_SCTP_DATA_U);
    cr_assert_eq(c.u.data.stream, 3);
    cr_assert_eq(c.u.data.ppid, 53);
    cr_assert_eq(c.u.data.len, 1200 - 12 - 16);

    c = first_chunk("usrsctp-sack.bin", p, sizeof p, &h);
    cr_assert_eq(c.type, ZDC_SCTP_SACK);
    cr_assert_eq(c.u.sack.n_gaps, 0);

    c = first_chunk("usrsctp-reconfig-req.bin", p, sizeof p, &h);
    cr_assert_eq(c.u.reconfig.n, 1);
    cr_assert_eq(c.u.reconfig.p[0].type, ZDC_SCTP_P_OUT_RESET_REQ);
    cr_assert_eq(c.u.reconfig.p[0].n_streams, 1);
    cr_assert_eq(zdc_sctp_reconf_stream(&c.u.reconfig.p[0], 0), 1);

    c = first_chunk("usrsctp-reconfig-resp.bin", p, sizeof p, &h);
    cr_assert_eq(c.u.reconfig.p[0].type, ZDC_SCTP_P_RECONF_RESP);
    cr_assert_eq(c.u.reconfig.p[0].req_seq, 0xc4dc059bu);

    c = first_chunk("usrsctp-abort.bin", p, sizeof p, &h);
    cr_assert_eq(c.type, ZDC_SCTP_ABORT);
    zdc_sctp_cause_iter it;
    zdc_sctp_cause_iter_init(&it, c.u.opaque.p, c.u.opaque.len);
    uint16_t code;
    const uint8_t *v;
    cr_assert_eq(zdc_sctp_cause_next(&it, &code, &v, &n), 1);
    cr_assert_eq(code, ZDC_SCTP_CAUSE_USER_ABORT);
}
