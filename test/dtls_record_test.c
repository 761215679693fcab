/* DTLS 1.2 record layer (core/proto/dtls_record.c): AEAD known answers, key block, record
 * layout and nonces, anti-replay window, tampering and framing.
 * ctest-labels: security
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bytes.h"
#include "dtls_record.h"

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (s[0] && s[1]) {
        unsigned v;
        cr_assert_lt(n, cap);
        cr_assert_eq(sscanf(s, "%2x", &v), 1);
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

/* Keys where both directions use the same key and IV, so one endpoint opens what it seals. */
static zdc_dtls_keys same_keys(zdc_dtls_aead aead, const uint8_t *key, const uint8_t *iv)
{
    zdc_dtls_keys k = {.aead = aead};
    k.key_len = aead == ZDC_DTLS_AEAD_AES128_GCM ? 16 : 32;
    k.iv_len = aead == ZDC_DTLS_AEAD_CHACHA20_POLY1305 ? 12 : 4;
    memcpy(k.client_key, key, k.key_len);
    memcpy(k.server_key, key, k.key_len);
    if (iv != NULL) {
        memcpy(k.client_iv, iv, k.iv_len);
        memcpy(k.server_iv, iv, k.iv_len);
    }
    return k;
}

/* ---- AEAD known answers ---------------------------------------------------------------- */

typedef struct kat {
    zdc_dtls_aead aead;
    const char *key, *nonce, *aad, *plain, *cipher, *tag;
} kat;

/* NIST GCM (McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 2, 4, 14, 16)
 * and RFC 8439 §2.8.2 (ChaCha20-Poly1305 AEAD). */
static const kat kats[] = {
    {ZDC_DTLS_AEAD_AES128_GCM, "00000000000000000000000000000000", "000000000000000000000000", "",
     "00000000000000000000000000000000", "0388dace60b6a392f328c2b971b2fe78",
     "ab6e47d42cec13bdf53a67b21257bddf"},
    {ZDC_DTLS_AEAD_AES128_GCM, "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
     "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
     "b525b16aedf5aa0de657ba637b39",
     "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac"
     "84aa051ba30b396a0aac973d58e091",
     "5bc94fbc3221a5db94fae95ae7121a47"},
    {ZDC_DTLS_AEAD_AES256_GCM, "0000000000000000000000000000000000000000000000000000000000000000",
     "000000000000000000000000", "", "00000000000000000000000000000000",
     "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919"},
    {ZDC_DTLS_AEAD_AES256_GCM, "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
     "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
     "b525b16aedf5aa0de657ba637b39",
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
     "828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
    {ZDC_DTLS_AEAD_CHACHA20_POLY1305,
     "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f", "070000004041424344454647",
     "50515253c0c1c2c3c4c5c6c7",
     /* "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the
      * future, sunscreen would be it." */
     "4c616469657320616e642047656e746c656d656e206f662074686520636c617373206f66202739393a20496620"
     "4920636f756c64206f6666657220796f75206f6e6c79206f6e652074697020666f7220746865206675747572"
     "652c2073756e73637265656e20776f756c642062652069742e",
     "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da"
     "92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6759455"
     "85808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
     "1ae10b594f09e26a7e902ecbd0600691"},
};

Test(dtls_record, aead_known_answers)
{
    for (size_t i = 0; i < sizeof kats / sizeof kats[0]; i++) {
        const kat *t = &kats[i];
        uint8_t key[32], nonce[12], aad[64], plain[256], cipher[256], tag[16], buf[256], out[16];
        unhex(t->key, key, sizeof key);
        cr_assert_eq(unhex(t->nonce, nonce, sizeof nonce), 12u);
        size_t aad_len = unhex(t->aad, aad, sizeof aad);
        size_t len = unhex(t->plain, plain, sizeof plain);
        cr_assert_eq(unhex(t->cipher, cipher, sizeof cipher), len);
        unhex(t->tag, tag, sizeof tag);

        zdc_dtls_keys k = same_keys(t->aead, key, NULL);
        zdc_dtls_record r;
        cr_assert_eq(zdc_dtls_record_init(&r, &k, true, 1, 0, 0), 0);
        memcpy(buf, plain, len);
        cr_assert_eq(zdc_dtls_record_aead_seal(&r, nonce, aad, aad_len, buf, len, out), 0);
        cr_assert_arr_eq(buf, cipher, len, "vector %zu: ciphertext", i);
        cr_assert_arr_eq(out, tag, 16, "vector %zu: tag", i);
        cr_assert_eq(zdc_dtls_record_aead_open(&r, nonce, aad, aad_len, buf, len, tag), 0);
        cr_assert_arr_eq(buf, plain, len, "vector %zu: opened", i);
        /* one flipped bit in the tag, the AAD or the ciphertext: rejected, buffer wiped */
        for (int what = 0; what < 3; what++) {
            memcpy(buf, cipher, len);
            memcpy(out, tag, 16);
            if (what == 0)
                out[15] ^= 1;
            else if (what == 1 && aad_len > 0)
                aad[0] ^= 0x80;
            else
                buf[len / 2] ^= 4;
            cr_assert_eq(zdc_dtls_record_aead_open(&r, nonce, aad, aad_len, buf, len, out),
                         ZDC_ERR_INTEGRITY, "vector %zu tamper %d", i, what);
            for (size_t j = 0; j < len; j++)
                cr_assert_eq(buf[j], 0, "unauthenticated plaintext left behind");
            if (what == 1 && aad_len > 0)
                aad[0] ^= 0x80;
        }
        zdc_dtls_record_clear(&r);
    }
}

/* ---- key block ------------------------------------------------------------------------- */

/* RFC 5246 §5, written out independently of the library: P_hash(secret, seed) =
 * HMAC(secret, A(1) + seed) + HMAC(secret, A(2) + seed) + ..., A(0) = seed,
 * A(i) = HMAC(secret, A(i-1)). PRF(secret, label, seed) = P_hash(secret, label + seed). */
static void p_hash(const EVP_MD *md, const uint8_t *secret, size_t slen, const uint8_t *seed,
                   size_t seed_len, uint8_t *out, size_t out_len)
{
    uint8_t a[64], block[64 + 128];
    unsigned alen = 0, blen = 0;
    cr_assert(HMAC(md, secret, (int)slen, seed, seed_len, a, &alen) != NULL);
    for (size_t done = 0; done < out_len;) {
        uint8_t in[64 + 128];
        cr_assert_leq(alen + seed_len, sizeof in);
        memcpy(in, a, alen);
        memcpy(in + alen, seed, seed_len);
        cr_assert(HMAC(md, secret, (int)slen, in, alen + seed_len, block, &blen) != NULL);
        size_t n = out_len - done < blen ? out_len - done : blen;
        memcpy(out + done, block, n);
        done += n;
        cr_assert(HMAC(md, secret, (int)slen, a, alen, a, &alen) != NULL);
    }
}

Test(dtls_record, p_hash_matches_published_tls12_prf_vector)
{
    /* The TLS 1.2 PRF (SHA-256) test vector circulated on the IETF TLS list (secret, seed,
     * label "test label", 100 bytes of output): checks the test's own P_hash. */
    uint8_t secret[16], seed[10 + 16], out[100], want[100];
    unhex("9bbe436ba940f017b17652849a71db35", secret, sizeof secret);
    memcpy(seed, "test label", 10);
    unhex("a0ba9f936cda311827a6f796ffd5198c", seed + 10, 16);
    unhex("e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e"
          "14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42"
          "c5a72e5a5110fff70187347b66",
          want, sizeof want);
    p_hash(EVP_sha256(), secret, sizeof secret, seed, sizeof seed, out, sizeof out);
    cr_assert_arr_eq(out, want, sizeof want);
}

Test(dtls_record, key_block_matches_independent_prf)
{
    static const struct {
        uint16_t suite;
        zdc_dtls_aead aead;
        uint8_t key_len, iv_len;
        int sha384;
    } suites[] = {
        {0xC02B, ZDC_DTLS_AEAD_AES128_GCM, 16, 4, 0},
        {0xC02F, ZDC_DTLS_AEAD_AES128_GCM, 16, 4, 0},
        {0xC02C, ZDC_DTLS_AEAD_AES256_GCM, 32, 4, 1},
        {0xC030, ZDC_DTLS_AEAD_AES256_GCM, 32, 4, 1},
        {0xCCA8, ZDC_DTLS_AEAD_CHACHA20_POLY1305, 32, 12, 0},
        {0xCCA9, ZDC_DTLS_AEAD_CHACHA20_POLY1305, 32, 12, 0},
    };
    uint8_t ms[48], cr[32], sr[32], seed[13 + 64], block[2 * 32 + 2 * 12];
    for (int i = 0; i < 48; i++)
        ms[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < 32; i++) {
        cr[i] = (uint8_t)(0xc0 + i);
        sr[i] = (uint8_t)(0x50 ^ (i * 3));
    }
    memcpy(seed, "key expansion", 13);
    memcpy(seed + 13, sr, 32); /* server_random first (RFC 5246 §6.3) */
    memcpy(seed + 45, cr, 32);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        zdc_dtls_keys k;
        cr_assert_eq(zdc_dtls_keys_derive(&k, suites[i].suite, ms, 48, cr, sr), 0);
        cr_assert_eq(k.aead, suites[i].aead);
        cr_assert_eq(k.key_len, suites[i].key_len);
        cr_assert_eq(k.iv_len, suites[i].iv_len);
        size_t need = 2u * k.key_len + 2u * k.iv_len;
        p_hash(suites[i].sha384 ? EVP_sha384() : EVP_sha256(), ms, 48, seed, sizeof seed, block,
               need);
        const uint8_t *b = block;
        cr_assert_arr_eq(k.client_key, b, k.key_len, "suite %04x client key", suites[i].suite);
        cr_assert_arr_eq(k.server_key, b + k.key_len, k.key_len);
        cr_assert_arr_eq(k.client_iv, b + 2 * k.key_len, k.iv_len);
        cr_assert_arr_eq(k.server_iv, b + 2 * k.key_len + k.iv_len, k.iv_len);
        zdc_dtls_keys_wipe(&k);
        cr_assert_eq(k.client_key[0] | k.server_iv[0], 0);
    }
    zdc_dtls_keys k;
    cr_assert_eq(zdc_dtls_keys_derive(&k, 0xC013, ms, 48, cr, sr), ZDC_ERR_NOT_SUPPORTED);
    cr_assert_eq(zdc_dtls_keys_derive(&k, 0xC02B, ms, 47, cr, sr), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_dtls_keys_derive(NULL, 0xC02B, ms, 48, cr, sr), ZDC_ERR_INVALID_PARAMETER);
}

/* ---- records --------------------------------------------------------------------------- */

static const zdc_dtls_aead aeads[] = {ZDC_DTLS_AEAD_AES128_GCM, ZDC_DTLS_AEAD_AES256_GCM,
                                      ZDC_DTLS_AEAD_CHACHA20_POLY1305};

/* A client and a server endpoint from one derived key block. */
typedef struct pair {
    zdc_dtls_keys k;
    zdc_dtls_record c, s;
} pair;

static uint16_t suite_of(zdc_dtls_aead a)
{
    return a == ZDC_DTLS_AEAD_AES128_GCM ? 0xC02B : a == ZDC_DTLS_AEAD_AES256_GCM ? 0xC02C : 0xCCA9;
}

static void pair_init(pair *p, zdc_dtls_aead a, uint64_t seq)
{
    uint8_t ms[48], cr[32], sr[32];
    memset(ms, 0x11, sizeof ms);
    memset(cr, 0x22, sizeof cr);
    memset(sr, 0x33, sizeof sr);
    cr_assert_eq(zdc_dtls_keys_derive(&p->k, suite_of(a), ms, 48, cr, sr), 0);
    cr_assert_eq(zdc_dtls_record_init(&p->c, &p->k, true, 1, seq, 0), 0);
    cr_assert_eq(zdc_dtls_record_init(&p->s, &p->k, false, 1, 0, 0), 0);
}

static void pair_clear(pair *p)
{
    zdc_dtls_record_clear(&p->c);
    zdc_dtls_record_clear(&p->s);
}

typedef struct rec {
    uint8_t buf[ZDC_DTLS_REC_HEAD_ROOM + 2048 + ZDC_DTLS_REC_TAG];
    uint8_t *p;
    size_t len;
} rec;

/* Seals `len` bytes of a pattern (seeded by `tag`) as application data. */
static void seal(zdc_dtls_record *r, rec *out, size_t len, uint8_t tag)
{
    uint8_t *plain = out->buf + ZDC_DTLS_REC_HEAD_ROOM;
    cr_assert_leq(len, 2048u);
    for (size_t i = 0; i < len; i++)
        plain[i] = (uint8_t)(tag + i);
    cr_assert_eq(zdc_dtls_record_seal(r, ZDC_DTLS_CT_APP_DATA, plain, len, &out->p, &out->len), 0);
}

static int open_copy(zdc_dtls_record *r, const rec *in, zdc_dtls_rec_view *v)
{
    static uint8_t b[sizeof((rec *)0)->buf];
    size_t used;
    memcpy(b, in->p, in->len);
    return zdc_dtls_record_open(r, b, in->len, &used, v);
}

Test(dtls_record, seal_layout_and_nonces_follow_rfc5288_and_rfc7905)
{
    for (size_t a = 0; a < 3; a++) {
        pair p;
        pair_init(&p, aeads[a], 5);
        bool gcm = aeads[a] != ZDC_DTLS_AEAD_CHACHA20_POLY1305;
        for (uint64_t i = 0; i < 3; i++) {
            rec r;
            uint64_t seq = 5 + i;
            seal(&p.c, &r, 100, (uint8_t)i);
            size_t head = gcm ? 21 : 13;
            cr_assert_eq(r.p, r.buf + ZDC_DTLS_REC_HEAD_ROOM - head, "plaintext stayed in place");
            cr_assert_eq(r.len, head + 100 + 16);
            cr_assert_eq(r.p[0], 23);
            cr_assert_eq(zdc_load_u16(r.p + 1), 0xfefd);
            cr_assert_eq(zdc_load_u16(r.p + 3), 1, "epoch");
            cr_assert_eq(zdc_load_u32(r.p + 7), (uint32_t)seq);
            cr_assert_eq(zdc_load_u16(r.p + 5), 0);
            cr_assert_eq(zdc_load_u16(r.p + 11), r.len - 13);
            /* the nonce, built here from the key block: RFC 5288 §3 salt || explicit (which
             * must be what the record carries); RFC 7905 §2 IV XOR padded epoch||seq */
            uint8_t seq64[8] = {0, 1, 0, 0, 0, 0, 0, (uint8_t)seq}, nonce[12], aad[13];
            if (gcm) {
                cr_assert_arr_eq(r.p + 13, seq64, 8, "explicit nonce = epoch || seq");
                memcpy(nonce, p.k.client_iv, 4);
                memcpy(nonce + 4, seq64, 8);
            } else {
                memcpy(nonce, p.k.client_iv, 12);
                for (int j = 0; j < 8; j++)
                    nonce[4 + j] ^= seq64[j];
            }
            memcpy(aad, seq64, 8);
            aad[8] = 23;
            aad[9] = 0xfe;
            aad[10] = 0xfd;
            aad[11] = 0;
            aad[12] = 100;
            /* the server's read context has the client's key */
            uint8_t *ct = r.p + head;
            cr_assert_eq(zdc_dtls_record_aead_open(&p.s, nonce, aad, 13, ct, 100, ct + 100), 0);
            for (int j = 0; j < 100; j++)
                cr_assert_eq(ct[j], (uint8_t)(i + j));
        }
        cr_assert_eq(zdc_dtls_record_next_seq(&p.c), 8u);
        cr_assert_eq(p.c.stats.sealed, 3u);
        pair_clear(&p);
    }
}

Test(dtls_record, round_trip_both_directions_all_sizes)
{
    for (size_t a = 0; a < 3; a++) {
        pair p;
        pair_init(&p, aeads[a], 0);
        for (size_t len = 0; len <= 1300; len += len < 40 ? 1 : 97) {
            rec r;
            zdc_dtls_rec_view v;
            zdc_dtls_record *from = len % 2 ? &p.c : &p.s, *to = len % 2 ? &p.s : &p.c;
            seal(from, &r, len, (uint8_t)len);
            size_t used = 0;
            cr_assert_eq(zdc_dtls_record_open(to, r.p, r.len, &used, &v), 0, "len %zu", len);
            cr_assert_eq(used, r.len);
            cr_assert_eq(v.type, 23);
            cr_assert_eq(v.epoch, 1);
            cr_assert_eq(v.len, len);
            for (size_t i = 0; i < len; i++)
                cr_assert_eq(v.data[i], (uint8_t)(len + i));
        }
        /* an alert and a record of 2^14 bytes */
        static uint8_t big[ZDC_DTLS_REC_HEAD_ROOM + 16384 + 16];
        uint8_t *rp;
        size_t rl, used;
        zdc_dtls_rec_view v;
        big[ZDC_DTLS_REC_HEAD_ROOM] = 1;
        big[ZDC_DTLS_REC_HEAD_ROOM + 1] = 0;
        cr_assert_eq(zdc_dtls_record_seal(&p.c, ZDC_DTLS_CT_ALERT, big + ZDC_DTLS_REC_HEAD_ROOM, 2,
                                          &rp, &rl),
                     0);
        cr_assert_eq(zdc_dtls_record_open(&p.s, rp, rl, &used, &v), 0);
        cr_assert_eq(v.type, 21);
        cr_assert_eq(v.len, 2);
        cr_assert_eq(zdc_dtls_record_seal(&p.c, 23, big + ZDC_DTLS_REC_HEAD_ROOM, 16384, &rp, &rl),
                     0);
        cr_assert_eq(zdc_dtls_record_open(&p.s, rp, rl, &used, &v), 0);
        cr_assert_eq(v.len, 16384u);
        cr_assert_eq(zdc_dtls_record_seal(&p.c, 23, big + ZDC_DTLS_REC_HEAD_ROOM, 16385, &rp, &rl),
                     ZDC_ERR_TOO_LARGE);
        cr_assert_eq(zdc_dtls_record_seal(&p.c, 20, big + ZDC_DTLS_REC_HEAD_ROOM, 1, &rp, &rl),
                     ZDC_ERR_INVALID_PARAMETER);
        pair_clear(&p);
    }
}

Test(dtls_record, several_records_in_one_datagram)
{
    pair p;
    pair_init(&p, ZDC_DTLS_AEAD_AES128_GCM, 0);
    uint8_t dgram[1200];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        rec r;
        seal(&p.c, &r, 50 + (size_t)i, (uint8_t)i);
        memcpy(dgram + n, r.p, r.len);
        n += r.len;
    }
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        zdc_dtls_rec_view v;
        size_t used;
        if (i == 2)
            dgram[off + 30] ^= 1; /* the third is corrupted: dropped, the fourth still opens */
        int rv = zdc_dtls_record_open(&p.s, dgram + off, n - off, &used, &v);
        cr_assert_eq(rv, i == 2 ? ZDC_ERR_INTEGRITY : 0, "record %d", i);
        if (rv == 0)
            cr_assert_eq(v.len, 50u + (size_t)i);
        off += used;
    }
    cr_assert_eq(off, n);
    cr_assert_eq(p.s.stats.opened, 3u);
    cr_assert_eq(p.s.stats.auth_failed, 1u);
    pair_clear(&p);
}

Test(dtls_record, gcm_explicit_nonce_can_continue_another_writers_counter)
{
    pair p;
    pair_init(&p, ZDC_DTLS_AEAD_AES128_GCM, 3);
    cr_assert_eq(zdc_dtls_record_set_explicit_nonce(&p.c, UINT64_MAX - 1), 0);
    uint64_t want[3] = {UINT64_MAX - 1, UINT64_MAX, 0};
    for (int i = 0; i < 3; i++) {
        rec r;
        zdc_dtls_rec_view v;
        size_t used;
        seal(&p.c, &r, 10, (uint8_t)i);
        uint64_t got = (uint64_t)zdc_load_u32(r.p + 13) << 32 | zdc_load_u32(r.p + 17);
        cr_assert_eq(got, want[i]);
        cr_assert_eq(zdc_load_u32(r.p + 7), 3u + (uint32_t)i, "the sequence is unaffected");
        cr_assert_eq(zdc_dtls_record_open(&p.s, r.p, r.len, &used, &v), 0);
    }
    pair_clear(&p);
    pair_init(&p, ZDC_DTLS_AEAD_CHACHA20_POLY1305, 0);
    cr_assert_eq(zdc_dtls_record_set_explicit_nonce(&p.c, 5), ZDC_ERR_INVALID_PARAMETER);
    pair_clear(&p);
}

/* ---- anti-replay (RFC 6347 §4.1.2.6) --------------------------------------------------- */

#define NREC 200

Test(dtls_record, replay_window)
{
    for (size_t a = 0; a < 3; a++) {
        pair p;
        static rec r[NREC];
        zdc_dtls_rec_view v;
        pair_init(&p, aeads[a], 0);
        for (int i = 0; i < NREC; i++)
            seal(&p.c, &r[i], 20, (uint8_t)i);
        /* in order, then each one again: duplicates */
        for (int i = 0; i < 10; i++)
            cr_assert_eq(open_copy(&p.s, &r[i], &v), 0);
        for (int i = 0; i < 10; i++)
            cr_assert_eq(open_copy(&p.s, &r[i], &v), ZDC_ERR_AGAIN, "duplicate %d", i);
        /* jump ahead to 100: 11..99 missing; reordered ones inside the window still open */
        cr_assert_eq(open_copy(&p.s, &r[100], &v), 0);
        cr_assert_eq(open_copy(&p.s, &r[99], &v), 0);
        cr_assert_eq(open_copy(&p.s, &r[37], &v), 0, "100 - 37 = 63: inside the window");
        cr_assert_eq(open_copy(&p.s, &r[37], &v), ZDC_ERR_AGAIN);
        cr_assert_eq(open_copy(&p.s, &r[36], &v), ZDC_ERR_AGAIN, "100 - 36 = 64: too old");
        cr_assert_eq(open_copy(&p.s, &r[11], &v), ZDC_ERR_AGAIN, "too old");
        cr_assert_eq(open_copy(&p.s, &r[99], &v), ZDC_ERR_AGAIN);
        for (int i = 101; i + 1 < NREC; i += 2) { /* reordered pairwise */
            cr_assert_eq(open_copy(&p.s, &r[i + 1], &v), 0, "%d", i + 1);
            cr_assert_eq(open_copy(&p.s, &r[i], &v), 0, "%d", i);
        }
        cr_assert_eq(open_copy(&p.s, &r[NREC - 1], &v), 0);
        cr_assert_eq(p.s.stats.replayed, 14u);
        cr_assert_eq(p.s.stats.opened, 10u + 3u + 99u);
        pair_clear(&p);
    }
}

Test(dtls_record, far_future_sequence_moves_the_window_only_when_authentic)
{
    pair p;
    rec r0, r1, far, forged;
    zdc_dtls_rec_view v;
    pair_init(&p, ZDC_DTLS_AEAD_CHACHA20_POLY1305, 0);
    seal(&p.c, &r0, 10, 0);
    seal(&p.c, &r1, 10, 1);
    cr_assert_eq(open_copy(&p.s, &r0, &v), 0);
    /* a forged record claiming sequence 2^48 - 1 fails authentication and changes nothing */
    forged = r1;
    forged.p = forged.buf + (r1.p - r1.buf);
    memset(forged.p + 5, 0xff, 6);
    cr_assert_eq(open_copy(&p.s, &forged, &v), ZDC_ERR_INTEGRITY);
    cr_assert_eq(open_copy(&p.s, &r1, &v), 0, "window unmoved by the forgery");
    /* a genuine far-future record (the sender jumped) is accepted and moves the window */
    zdc_dtls_record_clear(&p.c);
    cr_assert_eq(zdc_dtls_record_init(&p.c, &p.k, true, 1, ZDC_DTLS_REC_SEQ_MAX, 0), 0);
    seal(&p.c, &far, 10, 2);
    cr_assert_eq(v.seq, 1u);
    cr_assert_eq(open_copy(&p.s, &far, &v), 0);
    cr_assert_eq(v.seq, ZDC_DTLS_REC_SEQ_MAX);
    cr_assert_eq(open_copy(&p.s, &r1, &v), ZDC_ERR_AGAIN, "now far left of the window");
    pair_clear(&p);
}

Test(dtls_record, read_floor_rejects_what_was_processed_before)
{
    pair p;
    static rec r[80];
    zdc_dtls_rec_view v;
    pair_init(&p, ZDC_DTLS_AEAD_AES256_GCM, 0);
    for (int i = 0; i < 80; i++)
        seal(&p.c, &r[i], 8, (uint8_t)i);
    zdc_dtls_record_clear(&p.s);
    cr_assert_eq(zdc_dtls_record_init(&p.s, &p.k, false, 1, 0, 70), 0);
    cr_assert_eq(open_copy(&p.s, &r[69], &v), ZDC_ERR_AGAIN);
    cr_assert_eq(open_copy(&p.s, &r[3], &v), ZDC_ERR_AGAIN);
    cr_assert_eq(open_copy(&p.s, &r[72], &v), 0);
    cr_assert_eq(open_copy(&p.s, &r[70], &v), 0, "reordered above the floor");
    cr_assert_eq(open_copy(&p.s, &r[69], &v), ZDC_ERR_AGAIN);
    pair_clear(&p);
}

Test(dtls_record, marked_seen_and_moved_write_sequence)
{
    pair p;
    rec r[6];
    zdc_dtls_rec_view v;
    pair_init(&p, ZDC_DTLS_AEAD_CHACHA20_POLY1305, 0);
    for (int i = 0; i < 6; i++)
        seal(&p.c, &r[i], 8, (uint8_t)i);
    cr_assert_eq(zdc_dtls_record_mark_seen(&p.s, 0), 0);
    cr_assert_eq(zdc_dtls_record_mark_seen(&p.s, 2), 0);
    cr_assert_eq(open_copy(&p.s, &r[0], &v), ZDC_ERR_AGAIN);
    cr_assert_eq(open_copy(&p.s, &r[1], &v), 0);
    cr_assert_eq(open_copy(&p.s, &r[2], &v), ZDC_ERR_AGAIN);
    cr_assert_eq(open_copy(&p.s, &r[3], &v), 0);
    cr_assert_eq(zdc_dtls_record_mark_seen(&p.s, ZDC_DTLS_REC_SEQ_MAX + 1),
                 ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_dtls_record_set_write_seq(&p.c, 40), 0);
    rec w;
    seal(&p.c, &w, 8, 0);
    cr_assert_eq(zdc_load_u32(w.p + 7), 40u);
    cr_assert_eq(open_copy(&p.s, &w, &v), 0);
    cr_assert_eq(zdc_dtls_record_set_write_seq(&p.c, ZDC_DTLS_REC_SEQ_MAX + 2),
                 ZDC_ERR_INVALID_PARAMETER);
    pair_clear(&p);
}

Test(dtls_record, sequence_exhaustion_refuses_to_wrap)
{
    pair p;
    rec r;
    uint8_t *rp;
    size_t rl;
    pair_init(&p, ZDC_DTLS_AEAD_AES128_GCM, ZDC_DTLS_REC_SEQ_MAX - 1);
    seal(&p.c, &r, 4, 0);
    seal(&p.c, &r, 4, 1);
    cr_assert_eq(zdc_load_u32(r.p + 7), 0xffffffffu);
    cr_assert_eq(zdc_dtls_record_next_seq(&p.c), ZDC_DTLS_REC_SEQ_MAX + 1);
    uint8_t before[sizeof r.buf];
    memcpy(before, r.buf, sizeof before);
    cr_assert_eq(zdc_dtls_record_seal(&p.c, 23, r.buf + 21, 4, &rp, &rl), ZDC_ERR_CLOSED);
    cr_assert_arr_eq(r.buf, before, sizeof before, "nothing written");
    cr_assert_eq(zdc_dtls_record_init(&p.c, &p.k, true, 1, ZDC_DTLS_REC_SEQ_MAX + 2, 0),
                 ZDC_ERR_INVALID_PARAMETER);
    pair_clear(&p);
}

/* ---- tampering and framing ------------------------------------------------------------- */

Test(dtls_record, every_tampered_byte_is_rejected)
{
    for (size_t a = 0; a < 3; a++) {
        pair p;
        rec r, good;
        zdc_dtls_rec_view v;
        pair_init(&p, aeads[a], 0);
        seal(&p.c, &r, 64, 9);
        seal(&p.c, &good, 64, 10);
        for (size_t i = 0; i < r.len; i++) {
            for (int bit = 0; bit < 8; bit += 3) {
                rec t = r;
                t.p = t.buf + (r.p - r.buf);
                t.p[i] ^= (uint8_t)(1 << bit);
                int rv = open_copy(&p.s, &t, &v);
                cr_assert_neq(rv, 0, "aead %zu: byte %zu bit %d accepted", a, i, bit);
                if (i >= 13 || (i >= 5 && i <= 10)) /* body, or the sequence number */
                    cr_assert_eq(rv, ZDC_ERR_INTEGRITY, "byte %zu", i);
            }
        }
        /* the length one shorter / longer than the body (header and datagram agree) */
        rec t = r;
        t.p = t.buf + (r.p - r.buf);
        zdc_store_u16(t.p + 11, (uint16_t)(r.len - 14));
        t.len = r.len - 1;
        cr_assert_eq(open_copy(&p.s, &t, &v), ZDC_ERR_INTEGRITY);
        cr_assert_eq(open_copy(&p.s, &r, &v), 0, "the genuine one still opens");
        cr_assert_eq(open_copy(&p.s, &good, &v), 0);
        pair_clear(&p);
    }
}

Test(dtls_record, truncated_short_and_oversize_records)
{
    for (size_t a = 0; a < 3; a++) {
        pair p;
        rec r;
        zdc_dtls_rec_view v;
        size_t used;
        pair_init(&p, aeads[a], 0);
        seal(&p.c, &r, 32, 1);
        uint8_t b[sizeof r.buf];
        for (size_t cut = 0; cut < r.len; cut++) {
            memcpy(b, r.p, r.len);
            int rv = zdc_dtls_record_open(&p.s, b, cut, &used, &v);
            cr_assert_eq(rv, ZDC_ERR_TRUNCATED, "cut at %zu", cut);
            cr_assert_eq(used, cut);
        }
        /* bodies shorter than (explicit nonce +) tag */
        size_t min = a < 2 ? 24 : 16;
        for (size_t l = 0; l < min; l++) {
            memcpy(b, r.p, 13);
            zdc_store_u16(b + 11, (uint16_t)l);
            memset(b + 13, 0, l);
            cr_assert_eq(zdc_dtls_record_open(&p.s, b, 13 + l, &used, &v), ZDC_ERR_MALFORMED);
            cr_assert_eq(used, 13 + l);
        }
        /* a length beyond 2^14 + 2048 */
        static uint8_t huge[13 + 20000];
        memcpy(huge, r.p, 13);
        zdc_store_u16(huge + 11, 18433);
        cr_assert_eq(zdc_dtls_record_open(&p.s, huge, 13 + 18433, &used, &v), ZDC_ERR_MALFORMED);
        /* ciphertext above 2^14 inside the limit */
        zdc_store_u16(huge + 11, (uint16_t)(16385 + min));
        cr_assert_eq(zdc_dtls_record_open(&p.s, huge, 13 + 16385 + min, &used, &v),
                     ZDC_ERR_MALFORMED);
        /* version, type, epoch */
        memcpy(b, r.p, r.len);
        b[2] = 0xff;
        cr_assert_eq(zdc_dtls_record_open(&p.s, b, r.len, &used, &v), ZDC_ERR_MALFORMED);
        memcpy(b, r.p, r.len);
        b[0] = 24;
        cr_assert_eq(zdc_dtls_record_open(&p.s, b, r.len, &used, &v), ZDC_ERR_MALFORMED);
        memcpy(b, r.p, r.len);
        b[4] = 0;
        cr_assert_eq(zdc_dtls_record_open(&p.s, b, r.len, &used, &v), ZDC_ERR_INVALID_STATE);
        cr_assert_eq(v.epoch, 0);
        cr_assert_eq(p.s.stats.other_epoch, 1u);
        cr_assert_eq(zdc_dtls_record_open(&p.s, r.p, r.len, &used, &v), 0, "state unchanged");
        cr_assert_eq(zdc_dtls_record_open(&p.s, NULL, 5, &used, &v), ZDC_ERR_INVALID_PARAMETER);
        pair_clear(&p);
    }
}

Test(dtls_record, init_validates_and_clear_is_idempotent)
{
    zdc_dtls_keys k =
        same_keys(ZDC_DTLS_AEAD_AES128_GCM, (const uint8_t *)"0123456789abcdef", NULL);
    zdc_dtls_record r;
    k.key_len = 32;
    cr_assert_eq(zdc_dtls_record_init(&r, &k, true, 1, 0, 0), ZDC_ERR_INVALID_PARAMETER);
    k.key_len = 16;
    k.aead = 9;
    cr_assert_eq(zdc_dtls_record_init(&r, &k, true, 1, 0, 0), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_dtls_record_init(NULL, &k, true, 1, 0, 0), ZDC_ERR_INVALID_PARAMETER);
    memset(&r, 0, sizeof r);
    zdc_dtls_record_clear(&r);
    zdc_dtls_record_clear(NULL);
    uint8_t b[64] = {0}, *rp;
    size_t rl;
    cr_assert_eq(zdc_dtls_record_seal(&r, 23, b + 21, 4, &rp, &rl), ZDC_ERR_INVALID_PARAMETER);
}
