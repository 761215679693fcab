/* The engine loop: owns the I/O backend, the UDP sockets (one per address family, shared by
 * every peer), the packet pool and the timers.
 *
 * Received datagrams become zdc_pkt (pkt->addr = sender) handed to the protocol side either
 * by a callback (called on the loop thread) or through a single-producer ring read with
 * zdc_loop_recv. Sends take a zdc_pkt (pkt->addr = destination); the engine owns it from
 * then on and returns it to the pool once the kernel is done with it.
 *
 * Two ways to run it: inline, by calling zdc_loop_poll (which sleeps exactly until the next
 * timer deadline, I/O, or the caller's timeout), or on its own thread (zdc_loop_start /
 * zdc_loop_stop). zdc_loop_send may be called from any thread in both modes; timers and
 * the receive callback belong to the loop thread.
 *
 * Backends: io_uring, or epoll + recvmmsg/sendmmsg when io_uring cannot be set up. The choice
 * is config.backend, and when that is ZDC_IO_BACKEND_AUTO the environment variable
 * ZDC_IO_BACKEND=uring|epoll. */
#ifndef ZDC_IO_LOOP_H
#define ZDC_IO_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "backend.h"
#include "pool.h"
#include "timer.h"

typedef struct zdc_loop zdc_loop;

/* Takes ownership of pkt (unref it when done). Called on the loop thread. */
typedef void (*zdc_loop_recv_cb)(void *user, zdc_loop *e, zdc_pkt *pkt);

typedef struct zdc_loop_config {
    int backend; /* enum zdc_io_backend_kind */
    /* Address families to open and the IP to bind for each (port ignored). An unset IP binds
     * the wildcard (0.0.0.0 / ::). */
    bool ipv4, ipv6;
    zdc_addr bind4, bind6;
    /* Local port or range, the first free one is used; 0/0 = any port. */
    uint16_t port_min, port_max;

    size_t max_datagram;   /* largest datagram received/sent (<= 65507, default 1500) */
    zdc_pool *pool;        /* buffers to use; NULL: the engine makes one for max_datagram */
    uint32_t pool_buffers; /* size of the engine's own pool (default 16384) */
    unsigned rx_buffers;   /* backend receive buffers (default 256; io_uring keeps at most
                              4 MiB of them: 32 when GRO makes each >64 KiB) */
    unsigned tx_slots;     /* sends in flight at most (default 512) */
    bool gso;              /* UDP_SEGMENT for runs of same-size datagrams (default on) */
    bool gro;              /* UDP_GRO receives (default on) */
    bool zerocopy;         /* io_uring SENDMSG_ZC (default off: no gain for small datagrams) */
    int sock_buf;          /* SO_RCVBUF/SO_SNDBUF bytes (default 4 MiB) */

    zdc_loop_recv_cb on_recv; /* NULL: received packets queue for zdc_loop_recv */
    void *user;
    size_t rx_queue; /* capacity of that queue (default 8192) */
    size_t tx_queue; /* capacity of the send queue fed by zdc_loop_send (default 8192) */
} zdc_loop_config;

typedef struct zdc_loop_stats {
    uint64_t rx_packets, rx_bytes;
    uint64_t tx_packets, tx_bytes;
    uint64_t rx_pool_exhausted; /* datagrams dropped: no free buffer */
    uint64_t rx_oversize;       /* datagrams dropped: larger than a pool buffer holds */
    uint64_t rx_truncated;      /* datagrams dropped: cut by the kernel (MSG_TRUNC) */
    uint64_t rx_queue_full;     /* datagrams dropped: the receive queue was full */
    uint64_t rx_gro;            /* coalesced receives split */
    uint64_t rx_nobufs;         /* io_uring buffer ring ran dry */
    uint64_t tx_errors;         /* datagrams the kernel refused */
    uint64_t tx_dropped;        /* datagrams dropped at shutdown */
    uint64_t tx_queue_full;     /* zdc_loop_send calls refused (queue full) */
    uint64_t tx_gso;            /* sends carrying several datagrams (UDP_SEGMENT) */
    uint64_t tx_zc, tx_zc_copied;
    uint64_t rx_syscalls, tx_syscalls;
    uint64_t loops;
} zdc_loop_stats;

void zdc_loop_config_default(zdc_loop_config *cfg);

/* Creates the engine: picks the backend, opens and binds the sockets, starts receiving.
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (no family, bad port range, max_datagram too big),
 * ZDC_ERR_ADDR_IN_USE (no free port in the range), ZDC_ERR_NO_INTERFACE (a bind IP is not
 * local, or no family could be opened), ZDC_ERR_NOT_SUPPORTED (the backend asked for
 * explicitly is unavailable), ZDC_ERR_NOMEM or ZDC_ERR_IO. */
int zdc_loop_new(const zdc_loop_config *cfg, zdc_loop **out);

/* Stops the thread if running, completes or cancels every send in flight, drops queued
 * packets, closes every socket; every buffer the engine held is back in the pool. The engine
 * answers ZDC_ERR_CLOSED afterwards. Idempotent. */
void zdc_loop_close(zdc_loop *e);
/* zdc_loop_close, then frees the engine (and its own pool). NULL is a no-op. */
void zdc_loop_free(zdc_loop *e);

/* "io_uring" or "epoll". */
const char *zdc_loop_backend_name(const zdc_loop *e);
/* The bound address for family 4 or 6. Returns 0 or ZDC_ERR_NOT_FOUND. */
int zdc_loop_local_addr(const zdc_loop *e, int family, zdc_addr *out);
zdc_pool *zdc_loop_pool(zdc_loop *e);
/* A fresh buffer from the engine's pool, NULL when exhausted. */
zdc_pkt *zdc_loop_pkt_alloc(zdc_loop *e);

/* Queues pkt for pkt->addr; the engine owns it from now on (even if the kernel later refuses
 * it: counted in tx_errors). Any thread. Returns 0, ZDC_ERR_INVALID_PARAMETER (no address,
 * family without socket, length 0 or > max_datagram: the caller keeps pkt),
 * ZDC_ERR_QUEUE_FULL (the caller keeps pkt; retry after the loop ran) or ZDC_ERR_CLOSED. */
int zdc_loop_send(zdc_loop *e, zdc_pkt *pkt);

/* Inline drive: sends what is queued, waits up to timeout_ns (< 0: no limit) — or less, until
 * the next timer deadline or I/O — then handles completions, runs due timers and delivers
 * received packets. Returns the number of events handled (>= 0), ZDC_ERR_INVALID_STATE (the
 * engine runs its own thread), ZDC_ERR_CLOSED or ZDC_ERR_IO. */
int zdc_loop_poll(zdc_loop *e, int64_t timeout_ns);

/* Runs the loop on a new thread until zdc_loop_stop. Returns 0, ZDC_ERR_INVALID_STATE
 * (already running), ZDC_ERR_CLOSED or ZDC_ERR_IO (no thread). */
int zdc_loop_start(zdc_loop *e);
/* Asks the loop thread to stop and joins it. No-op when not running. */
void zdc_loop_stop(zdc_loop *e);

/* Takes one received packet from the queue (when no on_recv callback is set). One consumer
 * thread. Returns 1 (*pkt set, caller owns it) or 0 (empty). */
int zdc_loop_recv(zdc_loop *e, zdc_pkt **pkt);
/* Wakes a loop sleeping in poll or on its thread. Any thread. */
void zdc_loop_wake(zdc_loop *e);

/* The descriptors that poll readable when zdc_loop_poll(e, 0) has something to receive or
 * complete: the open sockets and the backend's own (ring or epoll fd). Writes up to cap of them
 * to fds and returns how many. */
size_t zdc_loop_pollable_fds(const zdc_loop *e, int *fds, size_t cap);

/* True while sends wait to be handed to the kernel or received datagrams wait for
 * zdc_loop_recv: the next zdc_loop_poll(e, 0) has work. Loop thread. */
bool zdc_loop_has_pending(zdc_loop *e);

/* Timers run by the loop; arm them only from the loop thread (callbacks, or around poll). */
zdc_timers *zdc_loop_timers(zdc_loop *e);
/* The loop's clock: CLOCK_MONOTONIC in nanoseconds. */
uint64_t zdc_loop_now_ns(void);

/* A snapshot of the counters (consistent as of the last loop iteration). Any thread. */
void zdc_loop_get_stats(zdc_loop *e, zdc_loop_stats *out);

#endif /* ZDC_IO_LOOP_H */
