/* Fuzz target for the SDP codec: parse; if the input parses and has a data-channel section,
 * build an answer to it and an offer from its fields, re-parse both and check that what was
 * built reads back the same (abort on any mismatch). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/error.h"
#include "zdc/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static zdc_sdp in, back;
static char buf[1 << 17]; /* holds an answer to the largest parseable offer */

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool str_eq(zdc_sdp_str a, zdc_sdp_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void check_section(const zdc_sdp_desc *d, const zdc_sdp_media *m, bool legacy)
{
    check(m->datachannel && m->legacy_sctpmap == legacy);
    check(str_eq(m->ice_ufrag, d->ice_ufrag) && str_eq(m->ice_pwd, d->ice_pwd));
    check(m->setup == d->setup && m->ice_trickle == d->trickle);
    check(m->n_fingerprints == 1 && m->fingerprints[0].hash == d->fingerprint.hash);
    check(m->fingerprints[0].len == d->fingerprint.len);
    check(memcmp(m->fingerprints[0].bytes, d->fingerprint.bytes, d->fingerprint.len) == 0);
    check(m->sctp_port == (d->sctp_port ? d->sctp_port : 5000));
    check(m->has_max_message_size == (d->max_message_size != 0));
    check(m->max_message_size == d->max_message_size);
    check(m->n_candidates == d->n_candidates && m->end_of_candidates == d->end_of_candidates);
    for (size_t i = 0; i < d->n_candidates; i++)
        check(str_eq(m->candidates[i], d->candidates[i]));
}

static void answer(int dc)
{
    const zdc_sdp_media *om = &in.media[dc];
    zdc_sdp_desc d = {
        .sess_id = 42,
        .sess_version = 2,
        .ice_ufrag = {"fuzz", 4},
        .ice_pwd = {"fuzzfuzzfuzzfuzzfuzzfu", 22},
        .setup = om->setup == ZDC_SDP_SETUP_PASSIVE ? ZDC_SDP_SETUP_ACTIVE : ZDC_SDP_SETUP_PASSIVE,
        .trickle = om->ice_trickle,
        .max_message_size = om->max_message_size,
        .candidates = om->candidates,
        .n_candidates = om->n_candidates,
        .end_of_candidates = om->end_of_candidates,
    };
    d.fingerprint.hash = ZDC_SDP_HASH_SHA256;
    d.fingerprint.len = 32;
    memset(d.fingerprint.bytes, 0xab, 32);
    int n = zdc_sdp_build_answer(&d, &in, buf, sizeof buf);
    check(n > 0); /* any parseable offer with a data-channel section can be answered */
    zdc_sdp_error err;
    check(zdc_sdp_parse(buf, (size_t)n, &back, &err) == 0);
    check(back.n_media == in.n_media);
    check(zdc_sdp_find_datachannel(&back) == dc);
    for (size_t i = 0; i < in.n_media; i++) {
        check(str_eq(back.media[i].mid, in.media[i].mid));
        check(back.media[i].kind == in.media[i].kind);
        check((int)i == dc || back.media[i].port == 0);
    }
    check_section(&d, &back.media[dc], om->legacy_sctpmap);
}

static void offer(int dc)
{
    const zdc_sdp_media *m = &in.media[dc];
    zdc_sdp_desc d = {
        .sess_id = in.sess_id,
        .sess_version = in.sess_version,
        .ice_ufrag = m->ice_ufrag,
        .ice_pwd = m->ice_pwd,
        .setup = ZDC_SDP_SETUP_ACTPASS,
        .ice_lite = in.ice_lite,
        .trickle = m->ice_trickle,
        .extmap_allow_mixed = in.extmap_allow_mixed,
        .legacy_sctpmap = m->legacy_sctpmap,
        .mid = m->mid,
        .sctp_port = m->sctp_port,
        .max_message_size = m->has_max_message_size ? m->max_message_size : 0,
        .candidates = m->candidates,
        .n_candidates = m->n_candidates,
        .end_of_candidates = m->end_of_candidates,
    };
    for (size_t i = 0; i < m->n_fingerprints; i++)
        if (m->fingerprints[i].hash != ZDC_SDP_HASH_UNKNOWN) {
            d.fingerprint = m->fingerprints[i];
            break;
        }
    int n = zdc_sdp_build_offer(&d, buf, sizeof buf);
    if (n < 0) {
        check(n == ZDC_ERR_INVALID_PARAMETER); /* e.g. no ufrag or no usable fingerprint */
        return;
    }
    zdc_sdp_error err;
    check(zdc_sdp_parse(buf, (size_t)n, &back, &err) == 0);
    check(back.n_media == 1 && back.sess_id == d.sess_id && back.ice_lite == d.ice_lite);
    check(str_eq(back.media[0].mid, d.mid.len ? d.mid : (zdc_sdp_str){"0", 1}));
    check_section(&d, &back.media[0], d.legacy_sctpmap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zdc_sdp_error err;
    int rc = zdc_sdp_parse((const char *)data, size, &in, &err);
    if (rc != 0) {
        check(rc == ZDC_ERR_MALFORMED || rc == ZDC_ERR_TOO_LARGE);
        check(err.msg[0] != '\0' && strlen(err.msg) < sizeof err.msg);
        return 0;
    }
    int dc = zdc_sdp_find_datachannel(&in);
    if (dc < 0)
        return 0;
    answer(dc);
    offer(dc);
    return 0;
}
