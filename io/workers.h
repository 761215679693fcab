/* One port on every core: the I/O thread and the protocol workers of an engine made with
 * workers > 1 or io_thread (include/zdc/engine.h, docs/threads.md).
 *
 *   sockets ── I/O thread (zdc_loop, io_uring/epoll) ──► rx ring (SPSC) ──► worker i
 *                 ▲  routes by local ufrag, STUN transaction id, remote address │
 *                 └── tx ring (SPSC) + route-update ring (SPSC) ◄──────────────┘
 *
 * A worker is a zdc_engine of its own (members, timers, routing table, dispatch: engine.c)
 * whose datagrams come from its rx ring instead of a socket and whose sends go to its tx ring.
 * The I/O thread keeps a coarse map (key -> workers): each worker publishes the keys its
 * routing table holds (local ufrag, selected and verified remote addresses, TURN servers)
 * through its update ring whenever they change; the I/O thread applies them before it routes
 * the next batch, and learns STUN transaction ids from the requests the workers send through
 * it. The worker's own table still confirms every datagram (route.h), so the coarse map may
 * lag or over-approximate but never lets traffic reach a peer its own table refuses. Nothing
 * on the hot path takes a lock: every ring has one producer and one consumer thread.
 *
 * Packet buffers come from the loop's pool (lock-free, any thread) and have one owner at a
 * time: the I/O thread until pushed on a ring, the worker after popping it, and back. At
 * shutdown every ring is drained and every buffer returned (zdc_workers_free). */
#ifndef ZDC_IO_WORKERS_H
#define ZDC_IO_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"
#include "pool.h"
#include "route.h"
#include "zdc/engine.h"

typedef struct zdc_workers zdc_workers; /* the front's: I/O thread, maps, the workers */
typedef struct zdc_worker zdc_worker;   /* one worker engine's rings */

/* Routing keys a member published to the I/O thread, slot by slot: its local ufrag, its
 * selected address, its verified addresses, its TURN servers. Zeroed with the member. */
#define ZDC_WK_SLOTS (2 + ZDC_ROUTE_VERIFIED + ZDC_ROUTE_SERVERS)
typedef struct zdc_wk_pub {
    char ufrag[257];
    uint16_t ufrag_len;                 /* 0: none */
    uint8_t addr[ZDC_WK_SLOTS - 1][19]; /* address keys (route.h zdc_route_addr_key) */
    uint8_t addr_len[ZDC_WK_SLOTS - 1]; /* 0: none */
} zdc_wk_pub;

/* ---- the front (engine.c, zdc_engine_new / zdc_engine_free) ------------------------------ */

/* n workers (1..ZDC_ENGINE_MAX_WORKERS). Returns 0, ZDC_ERR_NOMEM. */
int zdc_workers_new(unsigned n, zdc_workers **out);
/* Points the loop's received datagrams at the I/O thread's router. */
void zdc_workers_loop_config(zdc_workers *ws, zdc_loop_config *lc);
/* Creates the worker engines (zdc_engine_worker_new) on `front`, whose loop exists, and
 * starts the I/O thread. Returns 0, ZDC_ERR_NOMEM, ZDC_ERR_IO (no thread) or what creating a
 * worker engine returned. */
int zdc_workers_start(zdc_workers *ws, zdc_engine *front, zdc_loop *loop);
/* Stops the I/O thread, frees the worker engines (their peers with them), drains every ring
 * back to the pool. Before the loop is freed. NULL is a no-op. */
void zdc_workers_free(zdc_workers *ws);
unsigned zdc_workers_count(const zdc_workers *ws);
zdc_engine *zdc_workers_engine(const zdc_workers *ws, unsigned i);
/* Adds the workers' published counters and the I/O thread's own to *out. Any thread. */
void zdc_workers_add_stats(zdc_workers *ws, zdc_engine_stats *out);
/* Makes the I/O thread look at its rings. Any thread. */
void zdc_workers_wake_io(zdc_workers *ws);

/* ---- a worker engine (engine.c, on the thread that polls it) ---------------------------- */

/* Queues a datagram for the I/O thread to send; the worker gives pkt away on 0. in_poll:
 * the I/O thread is woken at zdc_worker_step_end instead of now. Returns 0 or
 * ZDC_ERR_QUEUE_FULL (the caller keeps pkt). */
int zdc_worker_send(zdc_worker *w, zdc_pkt *pkt, bool in_poll);
/* Waits up to timeout_ns (< 0: until woken) unless a datagram is queued; wake_fd is the
 * worker engine's eventfd. */
void zdc_worker_wait(zdc_worker *w, int wake_fd, int64_t timeout_ns);
/* Takes one received datagram (the worker owns it). Returns 1, or 0 when none is queued. */
int zdc_worker_recv(zdc_worker *w, zdc_pkt **pkt);
/* A datagram is queued for zdc_worker_recv. */
bool zdc_worker_has_pending(zdc_worker *w);
/* Publishes the keys of `r` that differ from `pub` (r NULL: the member is going, unpublish
 * all). */
void zdc_worker_publish(zdc_worker *w, zdc_wk_pub *pub, const zdc_route_entry *r);
/* End of a step: wakes the I/O thread when something was sent, publishes the counters. */
void zdc_worker_step_end(zdc_worker *w, const zdc_engine_stats *st);
zdc_pool *zdc_worker_pool(zdc_worker *w);

#endif /* ZDC_IO_WORKERS_H */
