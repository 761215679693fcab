/* Fuzzes the first-byte demultiplexer against an independent statement of the rules
 * (RFC 7983 §7, RFC 9443 §5): only a >= 20-byte datagram with first byte 0..3 and the STUN
 * magic cookie is STUN, only a >= 13-byte one with first byte 20..63 is DTLS. */
#include <stdio.h>
#include <stdlib.h>

#include "zdc/demux.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "demux_fuzz: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum zdc_demux_class c = zdc_demux_classify(data, size);
    check((unsigned)c < ZDC_DEMUX_CLASS_COUNT, "class out of range");
    bool stun = size >= 20 && data[0] <= 3 && data[4] == 0x21 && data[5] == 0x12 &&
                data[6] == 0xa4 && data[7] == 0x42;
    bool dtls = size >= 13 && data[0] >= 20 && data[0] <= 63;
    check((c == ZDC_DEMUX_STUN) == stun, "STUN rule");
    check((c == ZDC_DEMUX_DTLS) == dtls, "DTLS rule");
    check(zdc_demux_is_processed(c) == (stun || dtls), "processed iff STUN or DTLS");
    if (size == 0) {
        check(c == ZDC_DEMUX_UNKNOWN, "empty");
        return 0;
    }
    uint8_t b = data[0];
    if (b <= 3)
        check(stun || c == ZDC_DEMUX_STUN_INVALID, "STUN range");
    else if (b >= 20 && b <= 63)
        check(dtls || c == ZDC_DEMUX_DTLS_INVALID, "DTLS range");
    else
        check(c != ZDC_DEMUX_STUN_INVALID && c != ZDC_DEMUX_DTLS_INVALID, "invalid outside");
    check(zdc_demux_class_name(c) != NULL, "name");
    return 0;
}
