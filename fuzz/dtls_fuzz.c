/* Fuzzes the DTLS stage as a state machine: a real client and server wired through queues,
 * and the input chooses what happens next — deliver, drop, corrupt or inject a datagram,
 * jump the clock to a deadline, send data, close. Invariants checked: no crash or leak, no
 * application data before CONNECTED, no datagram larger than the MTU, a failed endpoint stays
 * silent, and once CONNECTED no injected, corrupted, truncated or replayed datagram fails it.
 *
 * Each input runs twice, with OpenSSL's record layer and with zdc's after the hand-off
 * (docs/dtls-records.md).
 *
 * Input: a sequence of ops, one byte each (low 3 bits = op, bit 3 = which side), some followed
 * by arguments. Like dtls_test.c, this program supplies gettimeofday() so OpenSSL's timer runs
 * on the same simulated clock as now_ns and runs replay deterministically. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "dtls.h"

#define QCAP 64
#define SEC  1000000000ull

static uint64_t now = SEC;

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    uint64_t t = 1800000000ull * SEC + now;
    tv->tv_sec = (time_t)(t / SEC);
    tv->tv_usec = (suseconds_t)(t % SEC / 1000);
    return 0;
}

typedef struct pkt {
    uint8_t b[1500];
    size_t len;
} pkt;

typedef struct side {
    zdc_dtls *d;
    pkt q[QCAP]; /* datagrams on their way to this side */
    size_t head, tail;
    struct side *peer;
} side;

static side S[2];

static int on_send(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    zdc_dtls_state st = zdc_dtls_get_state(s->d);
    if (len > ZDC_DTLS_DEFAULT_MTU || st == ZDC_DTLS_FAILED)
        abort();
    side *to = s->peer;
    if (to->tail - to->head < QCAP) {
        pkt *q = &to->q[to->tail++ % QCAP];
        memcpy(q->b, p, len);
        q->len = len;
    }
    return 0;
}

static void on_data(void *user, const uint8_t *p, size_t len)
{
    side *s = user;
    if (zdc_dtls_get_state(s->d) != ZDC_DTLS_CONNECTED || len > 16384)
        abort();
    (void)p;
}

static zdc_dtls_cert *certs[2];

static zdc_dtls_fingerprint fp_of(const zdc_dtls_cert *c)
{
    zdc_dtls_fingerprint fp = {.hash = ZDC_DTLS_HASH_SHA256, .len = 32};
    memcpy(fp.bytes, zdc_dtls_cert_fingerprint(c), 32);
    return fp;
}

static void deliver(side *s, uint8_t how, const uint8_t **in, size_t *left)
{
    if (s->head == s->tail)
        return;
    pkt p = s->q[s->head++ % QCAP];
    if (how == 1)
        return;                   /* lost */
    if (how == 2 && *left >= 2) { /* corrupted: xor one byte */
        p.b[(*in)[0] % p.len] ^= (uint8_t)((*in)[1] | 1);
        *in += 2;
        *left -= 2;
    }
    if (how == 3 && *left >= 1) { /* truncated */
        p.len = p.len * (*in)[0] / 256;
        *in += 1;
        *left -= 1;
    }
    (void)zdc_dtls_handle_datagram(s->d, p.b, p.len, now);
}

static void run(const uint8_t *data, size_t size, zdc_dtls_records records)
{
    memset(S, 0, sizeof S);
    now = SEC;
    for (int i = 0; i < 2; i++) {
        zdc_dtls_config cfg;
        zdc_dtls_config_default(&cfg);
        cfg.role = i == 0 ? ZDC_DTLS_CLIENT : ZDC_DTLS_SERVER;
        cfg.cert = certs[i];
        cfg.remote_fp = fp_of(certs[1 - i]);
        cfg.send = on_send;
        cfg.on_data = on_data;
        cfg.user = &S[i];
        cfg.records = records;
        S[i].peer = &S[1 - i];
        if (zdc_dtls_new(&cfg, &S[i].d) != 0)
            abort();
    }
    zdc_dtls_start(S[1].d, now);
    zdc_dtls_start(S[0].d, now);

    bool connected[2] = {false, false};
    for (int steps = 0; size > 0 && steps < 256; steps++) {
        uint8_t op = data[0];
        side *s = &S[(op >> 3) & 1];
        data++;
        size--;
        switch (op & 7) {
        case 0:
        case 1:
        case 2:
        case 3:
            deliver(s, op & 3, &data, &size);
            break;
        case 4: { /* inject: u8 length, bytes */
            size_t n = size > 0 ? data[0] : 0;
            if (size > 0) {
                data++;
                size--;
            }
            n = n < size ? n : size;
            (void)zdc_dtls_handle_datagram(s->d, data, n, now);
            data += n;
            size -= n;
            break;
        }
        case 5: { /* jump to the earliest deadline */
            uint64_t a = zdc_dtls_next_timeout(S[0].d), b = zdc_dtls_next_timeout(S[1].d);
            uint64_t t = a < b ? a : b;
            if (t != ZDC_DTLS_NO_TIMEOUT && t > now)
                now = t;
            zdc_dtls_handle_timeout(S[0].d, now);
            zdc_dtls_handle_timeout(S[1].d, now);
            break;
        }
        case 6: { /* send (op >> 4) * 70 bytes */
            uint8_t msg[1100] = {0};
            (void)zdc_dtls_send(s->d, msg, (size_t)(op >> 4) * 70);
            break;
        }
        case 7:
            if ((op >> 4) == 15)
                zdc_dtls_close(s->d);
            else
                deliver(s, 0, &data, &size);
            break;
        }
        /* Once connected, nothing an attacker without the keys can send (stray, corrupted,
         * truncated, replayed datagrams) may fail the association. */
        for (int i = 0; i < 2; i++) {
            zdc_dtls_state st = zdc_dtls_get_state(S[i].d);
            if (st == ZDC_DTLS_CONNECTED)
                connected[i] = true;
            if (connected[i] && st == ZDC_DTLS_FAILED)
                abort();
        }
    }
    zdc_dtls_free(S[0].d);
    zdc_dtls_free(S[1].d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every input runs twice: with OpenSSL's record layer and with zdc's (the hand-off). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (certs[0] == NULL &&
        (zdc_dtls_cert_new(&certs[0]) != 0 || zdc_dtls_cert_new(&certs[1]) != 0))
        abort();
    run(data, size, ZDC_DTLS_RECORDS_OPENSSL);
    run(data, size, ZDC_DTLS_RECORDS_ZDC);
    return 0;
}
