/* DTLS 1.2 record protection, sans-IO (RFC 6347 §4.1), for the AEAD suites WebRTC peers
 * negotiate. OpenSSL does the handshake; this module derives the traffic keys from the
 * session it produced and seals and opens records in place in the caller's buffer.
 *
 *   suites          0xC02B/0xC02F AES-128-GCM, 0xC02C/0xC030 AES-256-GCM (RFC 5288),
 *                   0xCCA8/0xCCA9 ChaCha20-Poly1305 (RFC 7905)
 *   keys            TLS1-PRF(master_secret, "key expansion", server_random || client_random)
 *                   (RFC 5246 §6.3; SHA-384 PRF for the AES-256 suites, SHA-256 otherwise).
 *                   With the extended master secret (RFC 7627) the session's master secret
 *                   already is the extended one: nothing changes here.
 *   nonce           GCM: 4-byte salt from the key block || 8-byte explicit nonce carried in the
 *                   record (RFC 5288 §3); zdc writes epoch || seq there, or continues another
 *                   writer's counter (zdc_dtls_record_set_explicit_nonce()).
 *                   ChaCha20-Poly1305: 12-byte IV XOR (epoch << 48 | seq), left-padded with
 *                   zeros (RFC 7905 §2); nothing carried.
 *   AAD             epoch(2) || seq(6) || type(1) || version(2) || plaintext length(2)
 *                   (RFC 5246 §6.2.3.3 with RFC 6347 §4.1.2.1's 64-bit DTLS sequence).
 *
 * Record layout in a caller buffer (sealed in place):
 *
 *   | hdr 13 | explicit nonce 8 (GCM only) | plaintext ... | tag 16 |
 *            ^ ZDC_DTLS_REC_HEAD_ROOM bytes before the plaintext are always enough
 *
 * The plaintext stays where the caller put it; the header (and GCM's explicit nonce) are
 * written in front of it and the tag after it, so the record starts 8 bytes later with
 * ChaCha20 than with GCM (zdc_dtls_record_seal() returns where).
 *
 * No allocation per record: the two cipher contexts (one per direction) are created and keyed
 * once in zdc_dtls_record_init(); a record only changes the nonce.
 */
#ifndef ZDC_CORE_DTLS_RECORD_H
#define ZDC_CORE_DTLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"

#define ZDC_DTLS_REC_HDR       13u    /* type(1) version(2) epoch(2) seq(6) length(2) */
#define ZDC_DTLS_REC_EXPLICIT  8u     /* GCM's explicit nonce */
#define ZDC_DTLS_REC_HEAD_ROOM 21u    /* header + explicit nonce */
#define ZDC_DTLS_REC_TAG       16u    /* tail room */
#define ZDC_DTLS_REC_MAX_PLAIN 16384u /* RFC 5246 §6.2.1: 2^14 */
#define ZDC_DTLS_REC_SEQ_MAX   ((UINT64_C(1) << 48) - 1) /* RFC 6347 §4.1: 48-bit sequence */
#define ZDC_DTLS_REC_WINDOW    64u                       /* anti-replay window, in records */

#define ZDC_DTLS_CT_ALERT     21
#define ZDC_DTLS_CT_HANDSHAKE 22
#define ZDC_DTLS_CT_APP_DATA  23

typedef enum zdc_dtls_aead {
    ZDC_DTLS_AEAD_AES128_GCM = 1,
    ZDC_DTLS_AEAD_AES256_GCM,
    ZDC_DTLS_AEAD_CHACHA20_POLY1305,
} zdc_dtls_aead;

/* The keys of one connection, both directions (RFC 5246 §6.3 key block without MAC keys). */
typedef struct zdc_dtls_keys {
    zdc_dtls_aead aead;
    uint16_t suite;
    uint8_t key_len; /* 16 or 32 */
    uint8_t iv_len;  /* 4 (GCM salt) or 12 (ChaCha20-Poly1305 IV) */
    uint8_t client_key[32];
    uint8_t server_key[32];
    uint8_t client_iv[12];
    uint8_t server_iv[12];
} zdc_dtls_keys;

/* The AEAD of a cipher suite (the low 16 bits of OpenSSL's SSL_CIPHER_get_id()).
 * Returns 0 or ZDC_ERR_NOT_SUPPORTED (any other suite: zdc's record layer is not used). */
int zdc_dtls_suite_aead(uint16_t suite, zdc_dtls_aead *aead);

/* Derives the key block of `suite` from the session's master secret (48 bytes) and the hello
 * randoms (32 bytes each). Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL, master secret not 48
 * bytes), ZDC_ERR_NOT_SUPPORTED (suite) or ZDC_ERR_CRYPTO (the KDF failed). */
int zdc_dtls_keys_derive(zdc_dtls_keys *k, uint16_t suite, const uint8_t *master, size_t master_len,
                         const uint8_t client_random[32], const uint8_t server_random[32]);

/* Overwrites the keys with zeros (OPENSSL_cleanse). */
void zdc_dtls_keys_wipe(zdc_dtls_keys *k);

typedef struct zdc_dtls_record_stats {
    uint64_t sealed;
    uint64_t opened;
    uint64_t auth_failed; /* failed AEAD verification: dropped */
    uint64_t replayed;    /* duplicate, older than the window or below the floor: dropped */
    uint64_t other_epoch; /* not the current epoch: handed back to the caller */
    uint64_t malformed;   /* bad framing, version, type or length: dropped */
} zdc_dtls_record_stats;

/* One connection's record protection: both directions of one epoch. Embedded (init/clear). */
typedef struct zdc_dtls_record {
    zdc_dtls_aead aead;
    uint16_t epoch;
    void *wctx; /* EVP_CIPHER_CTX, keyed for writing */
    void *rctx; /* EVP_CIPHER_CTX, keyed for reading */
    uint8_t wiv[12], riv[12];
    uint64_t wseq;         /* next sequence number to write; ZDC_DTLS_REC_SEQ_MAX + 1 = exhausted */
    uint64_t explicit_off; /* GCM: explicit nonce = (epoch << 48 | seq) + explicit_off */
    uint64_t rtop;         /* highest sequence number accepted (valid when rwin != 0) */
    uint64_t rwin;         /* bit i: rtop - i was accepted (or lies below the floor) */
    zdc_dtls_record_stats stats;
} zdc_dtls_record;

/* Keys both directions for `epoch` from the key block: an endpoint with `is_client` writes with
 * the client keys and reads with the server keys. The first record written gets sequence
 * number `write_seq`; received records with a sequence number below `read_floor` are
 * rejected as replays (they were processed elsewhere, e.g. by OpenSSL before the hand-off).
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL, bad key lengths, write_seq or read_floor above
 * 2^48) or ZDC_ERR_NOMEM / ZDC_ERR_CRYPTO (nothing to clear then). */
int zdc_dtls_record_init(zdc_dtls_record *r, const zdc_dtls_keys *k, bool is_client, uint16_t epoch,
                         uint64_t write_seq, uint64_t read_floor);

/* Moves the write direction to sequence number `seq` (the next record carries it): for taking
 * over from another writer of the same epoch, at one above the highest sequence number it
 * used. Call before zdc_dtls_record_set_explicit_nonce(). Returns 0 or
 * ZDC_ERR_INVALID_PARAMETER (NULL, seq above 2^48). */
int zdc_dtls_record_set_write_seq(zdc_dtls_record *r, uint64_t seq);

/* Marks sequence number `seq` as received without opening anything (records another reader
 * processed, e.g. OpenSSL before the hand-off), so the same record arriving again is a
 * replay. Moves the window like an accepted record: use it only for small, plausible
 * sequence numbers. Returns 0 or ZDC_ERR_INVALID_PARAMETER. */
int zdc_dtls_record_mark_seen(zdc_dtls_record *r, uint64_t seq);

/* GCM only: the next record written carries explicit nonce `next`, the one after it next + 1,
 * and so on (instead of epoch || seq). For taking over the write direction from OpenSSL 3.0,
 * whose GCM explicit nonces are a counter from a random start: continuing its run keeps every
 * (key, nonce) pair unique (the run cannot come round in 2^48 records). Returns 0 or
 * ZDC_ERR_INVALID_PARAMETER (NULL, or ChaCha20-Poly1305, whose nonce is bound to epoch||seq). */
int zdc_dtls_record_set_explicit_nonce(zdc_dtls_record *r, uint64_t next);

/* Frees the cipher contexts and wipes the IVs. Safe on a zeroed or cleared struct. */
void zdc_dtls_record_clear(zdc_dtls_record *r);

/* Bytes a record adds in front of the plaintext: 21 for GCM, 13 for ChaCha20-Poly1305. */
size_t zdc_dtls_record_head(const zdc_dtls_record *r);

/* Seals `len` bytes of plaintext at `plain` into one record of content type `type`, in place:
 * the caller guarantees zdc_dtls_record_head() (at most ZDC_DTLS_REC_HEAD_ROOM) writable
 * bytes before `plain` and ZDC_DTLS_REC_TAG after plain + len. On success *rec points at the
 * record's first byte and *rec_len is its size (head + len + 16); the plaintext bytes were
 * replaced by ciphertext. Each call uses the next sequence number.
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (NULL, type not 21/22/23), ZDC_ERR_TOO_LARGE
 * (len > 2^14), ZDC_ERR_CLOSED (the 48-bit sequence space of this epoch is exhausted, RFC 6347
 * §4.1: a new epoch would be needed; nothing written) or ZDC_ERR_CRYPTO. */
int zdc_dtls_record_seal(zdc_dtls_record *r, uint8_t type, uint8_t *plain, size_t len,
                         uint8_t **rec, size_t *rec_len);

/* What zdc_dtls_record_open() found. */
typedef struct zdc_dtls_rec_view {
    uint8_t type;
    uint16_t epoch;
    uint64_t seq;
    uint8_t *data; /* the plaintext, inside the caller's buffer (success only) */
    size_t len;
} zdc_dtls_rec_view;

/* Parses the first record of p[0..len) (one datagram may hold several) and, if it belongs to
 * this epoch, authenticates and decrypts it in place. *consumed is set to the record's size
 * whenever its framing holds (so the caller can go on with the next record even if this one
 * is dropped), or to `len` when it does not. `out` gets type, epoch and sequence number
 * whenever the header could be read.
 * Returns 0 (out->data/len = the plaintext), or why the record was not accepted:
 *   ZDC_ERR_TRUNCATED      header or body runs past the datagram (drop the rest)
 *   ZDC_ERR_MALFORMED      version not DTLS 1.2, unknown content type, length shorter than
 *                          nonce + tag or longer than 2^14 + 2048 (RFC 6347 §4.1)
 *   ZDC_ERR_INVALID_STATE  another epoch: not processed, not counted against the window
 *   ZDC_ERR_AGAIN          replay (RFC 6347 §4.1.2.6): seen already, left of the window or
 *                          below the read floor
 *   ZDC_ERR_INTEGRITY      failed authentication (RFC 6347 §4.1.2.7: discard silently); the
 *                          unauthenticated plaintext is wiped, the window is not moved
 *   ZDC_ERR_INVALID_PARAMETER / ZDC_ERR_CRYPTO
 * Every drop is counted in the stats; none changes the state. */
int zdc_dtls_record_open(zdc_dtls_record *r, uint8_t *p, size_t len, size_t *consumed,
                         zdc_dtls_rec_view *out);

/* The bare AEAD under seal/open, with the record's write (seal) or read (open) context and
 * any 12-byte nonce and AAD: for known-answer tests (NIST GCM, RFC 8439 vectors). Seals
 * buf[0..len) in place and writes the 16-byte tag; open verifies `tag` and decrypts in place
 * (on failure the buffer is wiped). Returns 0, ZDC_ERR_INVALID_PARAMETER, ZDC_ERR_INTEGRITY
 * (open: tag mismatch) or ZDC_ERR_CRYPTO. */
int zdc_dtls_record_aead_seal(zdc_dtls_record *r, const uint8_t nonce[12], const uint8_t *aad,
                              size_t aad_len, uint8_t *buf, size_t len, uint8_t tag[16]);
int zdc_dtls_record_aead_open(zdc_dtls_record *r, const uint8_t nonce[12], const uint8_t *aad,
                              size_t aad_len, uint8_t *buf, size_t len, const uint8_t tag[16]);

/* The sequence number the next sealed record will carry (ZDC_DTLS_REC_SEQ_MAX + 1 once
 * exhausted). */
uint64_t zdc_dtls_record_next_seq(const zdc_dtls_record *r);

#endif /* ZDC_CORE_DTLS_RECORD_H */
