/* Fuzz target for the native SCTP wire codec (core/sctp/sctp_wire.h): the input is one SCTP
 * packet. It is parsed with the checksum checked (the CRC path) and then with the check skipped
 * so that mutated chunks are reached. Every chunk that parses is rebuilt, and the rebuilt
 * chunk must parse again and rebuild to the same bytes: build(parse(build(parse(x)))) ==
 * build(parse(x)). Chunks with types the codec does not know must be reported as such. */
#include <stdlib.h>
#include <string.h>

#include "sctp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t b1[70000], b2[70000];

static size_t rebuild(const zdc_sctp_chunk *c, uint8_t *out, size_t cap)
{
    zdc_wr w;
    zdc_wr_init(&w, out, cap);
    int rv = zdc_sctp_chunk_build(&w, c);
    if (rv != 0)
        abort(); /* whatever parsed must build */
    if (w.len != zdc_sctp_chunk_size(c))
        abort();
    return w.len;
}

static bool known_type(uint8_t t)
{
    return t <= ZDC_SCTP_COOKIE_ACK || t == ZDC_SCTP_SHUTDOWN_COMPLETE || t == ZDC_SCTP_RE_CONFIG ||
           t == ZDC_SCTP_FORWARD_TSN;
}

static void check_chunk(const zdc_sctp_raw_chunk *raw)
{
    zdc_sctp_chunk c;
    int rv = zdc_sctp_chunk_parse(raw, &c);
    if (rv == ZDC_ERR_NOT_SUPPORTED) {
        if (known_type(raw->type))
            abort(); /* a type the codec knows is never reported as unknown */
        return;
    }
    if (rv != 0) {
        if (rv != ZDC_ERR_MALFORMED)
            abort();
        return;
    }
    size_t n1 = rebuild(&c, b1, sizeof b1);
    zdc_sctp_raw_chunk r2 = {.type = b1[0], .flags = b1[1], .value = b1 + 4};
    size_t clen = zdc_load_u16(b1 + 2);
    if (clen < 4 || clen > n1)
        abort();
    r2.len = clen - 4;
    zdc_sctp_chunk c2;
    if (zdc_sctp_chunk_parse(&r2, &c2) != 0)
        abort();
    size_t n2 = rebuild(&c2, b2, sizeof b2);
    if (n1 != n2 || memcmp(b1, b2, n1) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zdc_sctp_header h;
    zdc_sctp_chunk_iter it;
    zdc_sctp_raw_chunk raw;
    (void)zdc_sctp_packet_parse(data, size, ZDC_SCTP_CSUM_VERIFY, &h, &it);
    (void)zdc_sctp_packet_parse(data, size, ZDC_SCTP_CSUM_ACCEPT_ZERO, &h, &it);
    if (zdc_sctp_packet_parse(data, size, ZDC_SCTP_CSUM_SKIP, &h, &it) != 0)
        return 0;
    int rv;
    while ((rv = zdc_sctp_chunk_next(&it, &raw)) == 1)
        check_chunk(&raw);
    if (rv != 0 && rv != ZDC_ERR_TRUNCATED && rv != ZDC_ERR_MALFORMED)
        abort();
    return 0;
}
