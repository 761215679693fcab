/* Fuzzes the DCEP parser. A parsed OPEN must build back to exactly the input bytes (unless it
 * carries a non-zero reliability parameter on a reliable channel, which a sender must not
 * produce — RFC 8832 §5.1 — and the builder refuses). An ACK may carry bytes after its type,
 * which are ignored; it builds back to the one-byte ACK. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/dcep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "dcep_fuzz: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[ZDC_DCEP_OPEN_HEADER_LEN + 2 * 65535];
    zdc_dcep_msg m;
    zdc_dcep_reliability r;
    int rv = zdc_dcep_parse(data, size, &m);
    check(rv == 0 || rv == ZDC_ERR_TRUNCATED || rv == ZDC_ERR_MALFORMED, "unexpected rv");
    if (rv != 0)
        return 0;
    if (m.type == ZDC_DCEP_ACK) {
        /* bytes after an ACK's type are ignored (Pion pads its ACK to 4 bytes) */
        check(size >= 1, "empty ACK");
        check(zdc_dcep_ack_build(out, sizeof out) == 1 && out[0] == data[0], "ACK rebuild");
        return 0;
    }
    check(m.type == ZDC_DCEP_OPEN, "unknown type accepted");
    const zdc_dcep_open *o = &m.open;
    check(zdc_dcep_open_size(o) == size, "lengths do not cover the message");
    check(o->label_len == 0 || (o->label == data + ZDC_DCEP_OPEN_HEADER_LEN), "label view");
    check(o->protocol_len == 0 || o->protocol == data + ZDC_DCEP_OPEN_HEADER_LEN + o->label_len,
          "protocol view");
    check(zdc_dcep_reliability_decode(o->channel_type, o->reliability, &r) == 0, "decode");

    bool reliable = (o->channel_type & 0x7f) == 0;
    int n = zdc_dcep_open_build(o, out, sizeof out);
    if (reliable && o->reliability != 0) {
        check(n == ZDC_ERR_INVALID_PARAMETER, "reliable with parameter built");
        return 0;
    }
    check(n >= 0 && (size_t)n == size && memcmp(out, data, size) == 0, "round trip differs");

    /* the reliability mapping round-trips the channel type */
    uint8_t t;
    uint32_t v;
    check(zdc_dcep_reliability_encode(&r, &t, &v) == 0 && t == o->channel_type &&
              v == o->reliability,
          "reliability mapping");
    return 0;
}
