/* STUN benchmark: what an ICE server does per incoming binding request — parse, verify
 * FINGERPRINT (inside parse) and MESSAGE-INTEGRITY — against the bare cost floor measured in
 * the same run: one HMAC-SHA1 over the same bytes plus one CRC-32, no parsing. Also builds
 * per second. Run from a release build: `cmake --preset release && cmake --build --preset
 * release && build/release/stun_bench`. About 2.5 s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "crc32.h"
#include "hmac.h"
#include "zdc/stun.h"

#define SLICE_S 0.35 /* seconds per measurement */

static const char password[] = "Zf5pX0Ek0v8kOzJ+Wm9LcWnb"; /* 24 chars, like browsers' ice-pwd */
static volatile uint64_t sink;

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A nominating binding request as browsers send it, minus GOOG-NETWORK-INFO: 92 bytes. */
static int build_request(uint8_t *buf, size_t cap, uint32_t seq)
{
    uint8_t txid[12] = {0x4a, 0x33, 0x6b, 0x2f, 0x71, 0x58, 0x4c, 0x69};
    memcpy(txid + 8, &seq, 4);
    zdc_stun_builder b;
    zdc_stun_build_begin(&b, buf, cap, ZDC_STUN_BINDING, ZDC_STUN_REQUEST, txid);
    zdc_stun_add_bytes(&b, ZDC_STUN_ATTR_USERNAME, "Ab1z:q9Tx", 9);
    zdc_stun_add_u32(&b, ZDC_STUN_ATTR_PRIORITY, 1853824767u);
    zdc_stun_add_u64(&b, ZDC_STUN_ATTR_ICE_CONTROLLING, 0x2e3c1b5d9a7f4401ull);
    zdc_stun_add_flag(&b, ZDC_STUN_ATTR_USE_CANDIDATE);
    zdc_stun_add_integrity(&b, (const uint8_t *)password, sizeof password - 1);
    zdc_stun_add_fingerprint(&b);
    return zdc_stun_build_end(&b);
}

typedef struct ctx {
    const uint8_t *msg;
    size_t len, mi_off, fp_off;
    uint8_t out[128];
} ctx;

typedef void (*op_fn)(ctx *c, uint32_t i);

static void op_verify(ctx *c, uint32_t i)
{
    zdc_stun_msg m;
    int rv = zdc_stun_parse(c->msg, c->len, &m);
    if (rv == 0)
        rv = zdc_stun_check_integrity(c->msg, c->len, &m, (const uint8_t *)password,
                                      sizeof password - 1);
    if (rv != 0 || !m.has_fingerprint) {
        fprintf(stderr, "verify failed: %d\n", rv);
        exit(1);
    }
    sink += m.priority + i;
}

static void op_parse(ctx *c, uint32_t i)
{
    zdc_stun_msg m;
    if (zdc_stun_parse(c->msg, c->len, &m) != 0)
        exit(1);
    sink += m.priority + i;
}

/* The floor with the primitives zdc uses: HMAC-SHA1 (EVP_MD fetched once) over the bytes
 * MESSAGE-INTEGRITY covers, CRC-32 over the bytes FINGERPRINT covers. */
static void op_floor(ctx *c, uint32_t i)
{
    uint8_t mac[20];
    zdc_chunk ch = {c->msg, c->mi_off};
    zdc_hmac(ZDC_DIGEST_SHA1, (const uint8_t *)password, sizeof password - 1, &ch, 1, mac);
    sink += mac[0] + zdc_crc32(c->msg, c->fp_off) + i;
}

/* The same floor with OpenSSL's one-shot HMAC(). */
static void op_floor_oneshot(ctx *c, uint32_t i)
{
    uint8_t mac[20];
    unsigned int n = 0;
    HMAC(EVP_sha1(), password, (int)sizeof password - 1, c->msg, c->mi_off, mac, &n);
    sink += mac[0] + zdc_crc32(c->msg, c->fp_off) + i;
}

static void op_crc(ctx *c, uint32_t i)
{
    sink += zdc_crc32(c->msg, c->fp_off) + i;
}

static void op_build(ctx *c, uint32_t i)
{
    if (build_request(c->out, sizeof c->out, i) != (int)c->len)
        exit(1);
    sink += c->out[c->len - 1];
}

/* Runs op in batches for SLICE_S seconds of this thread's CPU time (the machine may be
 * shared, so wall time would count other processes' slices) or at most 3 * SLICE_S of wall
 * time; returns operations per CPU-second. */
static double measure(op_fn op, ctx *c)
{
    uint32_t i = 0;
    for (int w = 0; w < 1000; w++)
        op(c, i++); /* warm-up: first-use fetches and tables */
    uint64_t n = 0;
    double c0 = clock_s(CLOCK_THREAD_CPUTIME_ID), w0 = clock_s(CLOCK_MONOTONIC), t;
    do {
        for (int k = 0; k < 2000; k++)
            op(c, i++);
        n += 2000;
        t = clock_s(CLOCK_THREAD_CPUTIME_ID);
    } while (t - c0 < SLICE_S && clock_s(CLOCK_MONOTONIC) - w0 < 3 * SLICE_S);
    return (double)n / (t - c0);
}

int main(void)
{
    uint8_t msg[128];
    int n = build_request(msg, sizeof msg, 1);
    if (n <= 0) {
        fprintf(stderr, "build failed: %d\n", n);
        return 1;
    }
    zdc_stun_msg m;
    if (zdc_stun_parse(msg, (size_t)n, &m) != 0)
        return 1;
    ctx c = {.msg = msg, .len = (size_t)n, .mi_off = m.integrity_offset, .fp_off = (size_t)n - 8};

    double verify = measure(op_verify, &c);
    double floor_zdc = measure(op_floor, &c);
    double floor_ossl = measure(op_floor_oneshot, &c);
    double parse = measure(op_parse, &c);
    double crc = measure(op_crc, &c);
    double build = measure(op_build, &c);

    printf("STUN binding request: %d bytes (USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,\n"
           "MESSAGE-INTEGRITY, FINGERPRINT); HMAC covers %zu bytes, CRC-32 %zu bytes.\n"
           "One thread; rates are per second of that thread's CPU time.\n\n",
           n, c.mi_off, c.fp_off);
    printf("%-58s %12s %9s\n", "operation", "ops/s", "ns/op");
    printf("%-58s %12.0f %9.1f\n", "zdc: parse + FINGERPRINT + MESSAGE-INTEGRITY verified", verify,
           1e9 / verify);
    printf("%-58s %12.0f %9.1f\n", "floor: HMAC-SHA1 (EVP_MD fetched once) + CRC-32, no parse",
           floor_zdc, 1e9 / floor_zdc);
    printf("%-58s %12.0f %9.1f\n", "floor: OpenSSL one-shot HMAC() + CRC-32, no parse", floor_ossl,
           1e9 / floor_ossl);
    printf("%-58s %12.0f %9.1f\n", "zdc: parse + FINGERPRINT only (no HMAC)", parse, 1e9 / parse);
    printf("%-58s %12.0f %9.1f\n", "CRC-32 alone (slicing-by-8)", crc, 1e9 / crc);
    printf("%-58s %12.0f %9.1f\n", "zdc: build (all six attributes, HMAC + CRC)", build,
           1e9 / build);
    printf(
        "\nverify / floor (same HMAC construction): %.2fx the floor's time (%.0f%% of its rate)\n",
        floor_zdc / verify, 100.0 * verify / floor_zdc);
    printf(
        "verify / floor (one-shot HMAC()):         %.2fx the floor's time (%.0f%% of its rate)\n",
        floor_ossl / verify, 100.0 * verify / floor_ossl);
    return sink == 42 ? 2 : 0;
}
