/* zdc engine: the I/O loop, sockets and certificate that peers share.
 *
 * One engine serves any number of peers through one UDP socket per address family (servers
 * expose one port; peers are told apart by remote address and STUN USERNAME). Routing a
 * datagram, running timers and polling cost the same with thousands of peers as with one
 * (hash maps and a timer heap; bench/peers_bench measures it). Each peer must reach the
 * engine from its own remote address (browsers use a port per connection). It owns the
 * DTLS certificate (generated once, its fingerprint in every description).
 *
 * Drive it from the application's thread: zdc_engine_poll() moves datagrams, runs timers and
 * fires every peer's callbacks; zdc_peer_poll() does the same and is what Godot-style code
 * calls once per frame. Nothing runs between polls, so poll often (every few milliseconds
 * while connecting or sending; a game loop's frame is fine).
 *
 * To use more cores behind the same port, create it with zdc_engine_options.workers: an I/O
 * thread then owns the sockets and each worker (zdc_engine_worker) is polled by a thread of
 * the application's (docs/threads.md).
 */
#ifndef ZDC_ENGINE_H
#define ZDC_ENGINE_H

#include "zdc/export.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/error.h"
#include "zdc/tuning.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zdc_engine zdc_engine;

enum zdc_io_backend {
    ZDC_BACKEND_AUTO = 0, /* io_uring, or epoll when io_uring cannot be set up; the environment
                             variable ZDC_IO_BACKEND=uring|epoll overrides */
    ZDC_BACKEND_URING = 1,
    ZDC_BACKEND_EPOLL = 2,
};

typedef struct zdc_engine_options {
    int backend;              /* enum zdc_io_backend */
    bool ipv4, ipv6;          /* families to open (default both; a missing one is skipped) */
    const char *bind_address; /* one local IP to bind (NULL: all addresses) */
    uint16_t port_min;        /* local port range (0/0: any free port) */
    uint16_t port_max;
    bool include_loopback;   /* offer 127.0.0.1/::1 as host candidates (tests, same host) */
    size_t max_message_size; /* largest message received (a=max-message-size), default 256 KiB */
    /* Receive limits, in bytes, on messages received and not yet read by the application (each
     * counts its length plus 64): per channel (default 1 MiB, 0 = default) and per peer, all
     * its channels together (default 4 MiB, 0 = default). At a limit the peer stops taking
     * data from SCTP: its receive window closes and the remote's buffered amount grows instead
     * of this process's memory. Reading resumes it; nothing is dropped. A queue may exceed a
     * limit by one message (up to max_message_size). While a peer is held, every channel of it
     * waits (one SCTP association carries them all): read every channel you accept. */
    size_t max_receive_queue_channel;
    size_t max_receive_queue_peer;
    /* Timeouts and per-peer memory for every peer of this engine (zdc/tuning.h; 0 = the
     * default). Its max_receive_queue_* fields, when set, take precedence over the two above. */
    zdc_peer_tuning tuning;
    /* NAT 1:1 (a cloud server whose public address is on no interface): an IP literal that
     * host candidates announce instead of the interface addresses of its family, with the
     * engine's port (NULL: the interface addresses). Traffic to it must reach the engine's
     * socket (the provider's 1:1 mapping). */
    const char *public_address;
    /* Threads (docs/threads.md). workers: protocol workers, each owning the peers created on
     * it (0 or 1: one). io_thread: the sockets and io_uring/epoll run on a thread the engine
     * starts (implied by workers > 1). With both at their defaults the engine is today's: one
     * object, polled inline by the application, no thread. Otherwise the engine returned by
     * zdc_engine_new is the I/O front: peers are created on, and polled through, its workers
     * (zdc_engine_worker), each from one thread of the application's choosing. Needs zdc's own
     * SCTP (usrsctp keeps process-global state): ZDC_ERR_NOT_SUPPORTED while usrsctp is the
     * SCTP (tuning.sctp_impl, ZDC_SCTP). At most ZDC_ENGINE_MAX_WORKERS. */
    unsigned workers;
    bool io_thread;
} zdc_engine_options;

/* Most workers one engine runs. */
#define ZDC_ENGINE_MAX_WORKERS 64

/* Defaults: auto backend, IPv4 and IPv6, all addresses, any port, no loopback candidates,
 * 256 KiB messages, receive limits 1 MiB per channel and 4 MiB per peer. */
ZDC_API void zdc_engine_options_default(zdc_engine_options *o);

/* Opens the sockets, generates the certificate; with workers > 1 or io_thread, starts the I/O
 * thread. Returns 0; ZDC_ERR_INVALID_PARAMETER (bad
 * range, a bind_address or public_address that is not an IP literal, tuning.max_channels over
 * 1024, workers over ZDC_ENGINE_MAX_WORKERS, tuning.sctp_impl not one of enum
 * zdc_sctp_impl); ZDC_ERR_NOT_SUPPORTED (workers > 1 or io_thread
 * while usrsctp is the SCTP: tuning.sctp_impl USRSCTP, or DEFAULT with ZDC_SCTP=usrsctp);
 * ZDC_ERR_ADDR_IN_USE (no free port in the range); ZDC_ERR_NO_INTERFACE (bind_address is not local,
 * or no family could be opened); ZDC_ERR_NOT_SUPPORTED (the backend asked for is unavailable);
 * ZDC_ERR_CRYPTO; ZDC_ERR_NOMEM; ZDC_ERR_IO. */
ZDC_API int zdc_engine_new(const zdc_engine_options *o, zdc_engine **out);

/* Frees every peer still on the engine (no callbacks), closes the sockets, frees the engine.
 * With workers: stops the I/O thread, frees every worker and its peers (on the calling thread:
 * no other thread may poll a worker or call into its peers any more), returns every packet
 * buffer to the pool. A worker handle is freed with its engine: zdc_engine_free(worker) is a
 * no-op. NULL is a no-op. */
ZDC_API void zdc_engine_free(zdc_engine *e);

/* Waits up to timeout_ms (0: don't wait, < 0: until something happens) for datagrams or the
 * next timer, handles them, and fires every peer's queued callbacks.
 * Returns 0, ZDC_ERR_IO, or ZDC_ERR_INVALID_STATE (the I/O front of an engine with workers:
 * poll its workers instead). */
ZDC_API int zdc_engine_poll(zdc_engine *e, int timeout_ms);

/* ---- workers: one port on every core (docs/threads.md) --------------------------------
 *
 * An engine made with workers > 1 (or io_thread) has one I/O thread that owns its sockets and
 * hands received datagrams to the worker that owns their peer (STUN by local ufrag, the rest
 * by remote address), and sends what the workers queue. A worker is a zdc_engine handle:
 * zdc_peer_new(worker, ...) creates a peer on it, zdc_engine_poll(worker, ...) (or its
 * zdc_engine_fd) drives it and fires its peers' callbacks. The rules:
 * - A worker and its peers and channels belong to the one thread that polls it (any thread,
 *   one at a time). Calls on a peer from another thread are undefined, except that a stale
 *   handle answers ZDC_ERR_GONE from any thread (handles are process-wide).
 * - Any thread: zdc_engine_wake (an engine or a worker), zdc_engine_get_stats of the front
 *   (the sum over the workers as of their last poll), zdc_engine_port, zdc_engine_fingerprint,
 *   zdc_engine_backend_name, zdc_engine_worker, zdc_engine_workers.
 * - Peers of one engine on different workers cannot connect to each other (their datagrams
 *   come from one address, the engine's own): connect them to another engine.
 * - zdc_engine_free(front) only after every thread stopped polling the workers. */

/* Worker i of e (0 <= i < zdc_engine_workers(e)), or NULL (out of range, NULL e). For an
 * engine without workers (the default) worker 0 is e itself. */
ZDC_API zdc_engine *zdc_engine_worker(zdc_engine *e, unsigned i);

/* The number of workers (1 for an engine without workers; 0 for NULL). */
ZDC_API unsigned zdc_engine_workers(const zdc_engine *e);

/* ---- the engine inside the application's own event loop -------------------------------
 *
 * Put zdc_engine_fd() in your poll/epoll/libuv/game loop next to your own descriptors. When it
 * polls readable, call zdc_engine_poll(e, 0). Before each wait, take the wait's timeout from
 * zdc_engine_next_timeout_ms() (the descriptor also turns readable at that deadline, so a
 * loop that cannot take a timeout may wait on the descriptor alone). An idle engine's
 * descriptor stays quiet: no periodic wake-up, no CPU.
 *
 *   struct pollfd p[2] = {{.fd = zdc_engine_fd(e), .events = POLLIN}, {.fd = mine, ...}};
 *   for (;;) {
 *       poll(p, 2, zdc_engine_next_timeout_ms(e));
 *       if (p[0].revents) zdc_engine_poll(e, 0);
 *       ...
 *   }
 *
 * The rules: only the thread that polls the engine calls zdc_engine_poll and the peer and
 * channel functions of its peers; zdc_engine_wake() is the one call any thread may make.
 * docs/event-loop.md explains it; docs/event_loop.c is a complete program (run by ctest). */

/* A descriptor (Linux epoll set, level-triggered) that polls readable while
 * zdc_engine_poll(e, 0) has work: a datagram received, a send completed or queued, a timer
 * due, an event queued by an API call, or a zdc_engine_wake(). Reading it is not needed (nor
 * useful): zdc_engine_poll clears what it handled. Created by the first call, owned by the
 * engine (closed by zdc_engine_free; do not close it). Only epoll, poll and select on it are
 * supported. Returns the descriptor; ZDC_ERR_INVALID_PARAMETER (NULL); ZDC_ERR_IO (the kernel
 * refused an epoll set or a timerfd). */
ZDC_API int zdc_engine_fd(zdc_engine *e);

/* Milliseconds until the engine's next deadline, rounded up: 0 when zdc_engine_poll(e, 0) has
 * work now, -1 when nothing is scheduled (wait for the descriptor alone). -1 for NULL. */
ZDC_API int zdc_engine_next_timeout_ms(zdc_engine *e);

/* Thread-safe: makes a zdc_engine_poll() blocked on another thread return, and the descriptor
 * of zdc_engine_fd() poll readable (until the zdc_engine_poll calls it causes clear it). For a game
 * thread that wants the network thread to look at its queues. NULL is a no-op. Do not call it
 * while or after zdc_engine_free runs. */
ZDC_API void zdc_engine_wake(zdc_engine *e);

/* "io_uring" or "epoll". */
ZDC_API const char *zdc_engine_backend_name(const zdc_engine *e);

/* The bound UDP port for family 4 or 6, or ZDC_ERR_NOT_FOUND. */
ZDC_API int zdc_engine_port(const zdc_engine *e, int family);

/* SHA-256 fingerprint of the engine's certificate as in SDP ("AB:CD:..."). */
ZDC_API const char *zdc_engine_fingerprint(const zdc_engine *e);

/* Counters since zdc_engine_new. A datagram the engine cannot send or keep is dropped and
 * counted, never fatal: ICE, DTLS and SCTP recover from it as from a loss on the wire. */
typedef struct zdc_engine_stats {
    uint64_t rx_datagrams, rx_bytes; /* received from the sockets */
    uint64_t tx_datagrams, tx_bytes; /* handed to the kernel and accepted */
    uint64_t rx_routed;              /* received datagrams a peer took */
    uint64_t rx_unrouted;            /* received datagrams no peer claimed (dropped) */
    uint64_t rx_no_buffer;           /* received datagrams dropped: packet pool exhausted */
    uint64_t tx_no_buffer;           /* datagrams not sent: packet pool exhausted */
    uint64_t tx_queue_full;          /* datagrams not sent: the send queue stayed full */
    uint64_t tx_refused;             /* datagrams not sent: no socket of that family, too big,
                                        or refused by the kernel */
    uint64_t self_sent;              /* datagrams between two peers of this engine */
    uint64_t timeouts_run;           /* peer timer expiries handled */
    uint64_t buffers_outstanding;    /* packet buffers out of the pool now (received datagrams
                                        not yet routed, sends the kernel still holds): zero
                                        once the engine is idle — a leak check */
} zdc_engine_stats;

/* Fills *out. With workers: on the front, from any thread, the sockets' counters plus every
 * worker's as of its last poll; on a worker, from its thread, the datagrams that worker took
 * from and gave to the I/O thread (buffers_outstanding: the engine's whole pool). */
ZDC_API void zdc_engine_get_stats(const zdc_engine *e, zdc_engine_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_ENGINE_H */
