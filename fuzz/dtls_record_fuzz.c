/* Fuzzes zdc's DTLS record opener (core/proto/dtls_record.c) against a fixed key state.
 *
 * Input: byte 0 chooses the AEAD (value % 3: AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305) and
 * the mode (bit 7). The rest is
 *   - mode 0: one datagram, opened record by record as a receiver would (walking `consumed`).
 *     Invariants: every step consumes 1..remaining bytes; an accepted record's plaintext lies
 *     inside the datagram, is at most 2^14 bytes and has the header's epoch and sequence
 *     number; opening the same bytes again is refused as a replay.
 *   - mode 1: a plaintext (up to 2^14 bytes), sealed by the client and opened by the server:
 *     the round trip must give the plaintext back; the same record again is a replay; the
 *     record with one byte flipped (chosen by the input) is refused.
 * Keys (no derivation, so seeds are easy to build): key bytes 0x42, GCM salt 0x24242424,
 * ChaCha IV 0x24 * 12; epoch 1; sequence numbers from 0.
 * Seeds in fuzz/corpus/dtls_record/: valid records of each AEAD (also two in one datagram), a
 * tampered one, an epoch-0 one, round-trip inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dtls_record.h"

static void keys(zdc_dtls_keys *k, zdc_dtls_aead a)
{
    memset(k, 0, sizeof *k);
    k->aead = a;
    k->key_len = a == ZDC_DTLS_AEAD_AES128_GCM ? 16 : 32;
    k->iv_len = a == ZDC_DTLS_AEAD_CHACHA20_POLY1305 ? 12 : 4;
    memset(k->client_key, 0x42, sizeof k->client_key);
    memset(k->server_key, 0x42, sizeof k->server_key);
    memset(k->client_iv, 0x24, sizeof k->client_iv);
    memset(k->server_iv, 0x24, sizeof k->server_iv);
}

static void open_datagram(zdc_dtls_record *rx, const uint8_t *in, size_t len)
{
    uint8_t *d = malloc(len ? len : 1), *again = malloc(len ? len : 1);
    if (d == NULL || again == NULL)
        abort();
    memcpy(d, in, len);
    memcpy(again, in, len);
    size_t off = 0;
    while (off < len) {
        zdc_dtls_rec_view v;
        size_t used = 0;
        int rv = zdc_dtls_record_open(rx, d + off, len - off, &used, &v);
        if (used == 0 || used > len - off)
            abort();
        if (rv == 0) {
            if (v.data < d + off || v.len > ZDC_DTLS_REC_MAX_PLAIN ||
                v.data + v.len > d + off + used)
                abort();
            if (v.epoch != (uint16_t)(in[off + 3] << 8 | in[off + 4]))
                abort();
            zdc_dtls_rec_view v2;
            size_t used2;
            if (zdc_dtls_record_open(rx, again + off, len - off, &used2, &v2) != ZDC_ERR_AGAIN)
                abort();
        }
        off += used;
    }
    free(d);
    free(again);
}

static void round_trip(zdc_dtls_record *tx, zdc_dtls_record *rx, const uint8_t *in, size_t len)
{
    if (len > ZDC_DTLS_REC_MAX_PLAIN)
        len = ZDC_DTLS_REC_MAX_PLAIN;
    size_t cap = ZDC_DTLS_REC_HEAD_ROOM + len + ZDC_DTLS_REC_TAG;
    uint8_t *b = malloc(cap), *copy = malloc(cap), *rec;
    size_t rec_len, used;
    zdc_dtls_rec_view v;
    if (b == NULL || copy == NULL)
        abort();
    if (len > 0)
        memcpy(b + ZDC_DTLS_REC_HEAD_ROOM, in, len);
    if (zdc_dtls_record_seal(tx, ZDC_DTLS_CT_APP_DATA, b + ZDC_DTLS_REC_HEAD_ROOM, len, &rec,
                             &rec_len) != 0)
        abort();
    memcpy(copy, rec, rec_len);
    if (zdc_dtls_record_open(rx, rec, rec_len, &used, &v) != 0 || used != rec_len || v.len != len ||
        (len > 0 && memcmp(v.data, in, len) != 0))
        abort();
    memcpy(rec, copy, rec_len);
    if (zdc_dtls_record_open(rx, rec, rec_len, &used, &v) != ZDC_ERR_AGAIN)
        abort();
    /* a fresh record with one byte flipped, position and bit from the input */
    if (len > 0) {
        memcpy(b + ZDC_DTLS_REC_HEAD_ROOM, in, len);
        if (zdc_dtls_record_seal(tx, ZDC_DTLS_CT_APP_DATA, b + ZDC_DTLS_REC_HEAD_ROOM, len, &rec,
                                 &rec_len) != 0)
            abort();
        rec[in[0] % rec_len] ^= (uint8_t)(1u << (in[len - 1] & 7));
        if (zdc_dtls_record_open(rx, rec, rec_len, &used, &v) == 0)
            abort();
    }
    free(b);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zdc_dtls_keys k;
    zdc_dtls_record tx, rx;

    if (size < 1)
        return 0;
    keys(&k, (zdc_dtls_aead)(data[0] % 3 + 1));
    if (zdc_dtls_record_init(&tx, &k, true, 1, 0, 0) != 0 ||
        zdc_dtls_record_init(&rx, &k, false, 1, 0, 0) != 0)
        abort();
    if (data[0] & 0x80)
        round_trip(&tx, &rx, data + 1, size - 1);
    else
        open_datagram(&rx, data + 1, size - 1);
    zdc_dtls_record_clear(&tx);
    zdc_dtls_record_clear(&rx);
    return 0;
}
