/* One zdc peer as the cases drive it: its signaling goes out on `sig_fd` tagged with `idx`,
 * what the other side signals is applied with perf_side_apply, and every received message
 * goes to the side's handler (the checker, an echo, a latency probe). */
#ifndef ZDC_PERF_SIDE_H
#define ZDC_PERF_SIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sig.h"
#include "zdc/zdc.h"

/* Checks every received message: its length and the sequence number in its first 8 bytes
 * (in order on a reliable channel; once each on an unreliable one). */
typedef struct perf_rx {
    size_t size;
    bool ordered;
    uint64_t next, msgs, bytes, bad;
    uint8_t *seen; /* unordered: one bit per sequence number */
    size_t seen_cap;
    double first, last; /* arrival of the first and the last message */
} perf_rx;

void perf_rx_init(perf_rx *rx, size_t size, bool ordered);
void perf_rx_free(perf_rx *rx);
void perf_rx_check(perf_rx *rx, const uint8_t *p, size_t len, bool text);

typedef struct perf_side perf_side;
typedef void (*perf_msg_fn)(perf_side *s, const uint8_t *p, size_t len, bool text);

struct perf_side {
    zdc_peer peer;
    zdc_channel ch;
    bool has_ch, open;
    int sig_fd, idx;
    double open_at;
    int errors;
    perf_msg_fn on_msg;
    perf_rx rx;
    void *user;
    /* latency / scale probes */
    double sent_at;
    uint64_t echoes;
};

/* Creates the peer on e (state NEW, no ICE servers). Returns 0 or a ZDC_ERR_*. */
int perf_side_new(perf_side *s, zdc_engine *e, int sig_fd, int idx);
/* Offerer: creates the channel and the offer. */
int perf_side_offer(perf_side *s, bool reliable);
/* Applies a 'D' or 'C' message from the other side. */
void perf_side_apply(perf_side *s, const perf_sig_msg *m);
void perf_side_free(perf_side *s);

/* Handlers. */
void perf_side_check(perf_side *s, const uint8_t *p, size_t len, bool text);
void perf_side_echo(perf_side *s, const uint8_t *p, size_t len, bool text);

/* Sends messages of `size` bytes numbered from *seq while the channel's buffered amount stays
 * under `high` (at most `max_msgs` this call); returns how many were queued. */
int perf_side_fill(perf_side *s, uint8_t *buf, size_t size, uint64_t *seq, size_t high,
                   int max_msgs);

zdc_engine *perf_engine_new(bool epoll);
/* A server engine with that many workers (and an I/O thread): docs/threads.md. */
zdc_engine *perf_engine_new_workers(int workers);

/* Spin, then block: polls without waiting while datagrams (or the caller's `activity`, e.g.
 * signaling) arrived in the last PERF_SPIN_S, else waits up to 1 ms in zdc_engine_poll. A
 * process that only spins loses its core to others on a loaded machine and then answers late;
 * one that only blocks leaves signaling (on another socket) waiting up to 1 ms. */
#define PERF_SPIN_S 200e-6
typedef struct perf_spin {
    uint64_t rx;
    double idle_since;
} perf_spin;
void perf_spin_poll(zdc_engine *e, perf_spin *sp, bool activity);

#endif
