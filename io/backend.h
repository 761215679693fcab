/* The I/O backend interface: io_uring (io/uring.c) and epoll + recvmmsg/sendmmsg
 * (io/epoll.c) implement it, the engine (io/engine.c) drives it.
 *
 * Backends know nothing of packet pools: they receive into their own buffers and hand each
 * datagram to a callback (which copies what it keeps), and they send iovecs the engine owns,
 * reporting each send's completion with the cookies the engine attached. A buffer given to a
 * send belongs to the kernel until its completion callback ran — for a zero-copy send, until
 * the kernel's notification arrived. */
#ifndef ZDC_IO_BACKEND_H
#define ZDC_IO_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "addr.h"

/* Most segments in one GSO send (the kernel's UDP_MAX_SEGMENTS is 64 on older kernels). */
#define ZDC_IO_MAX_SEGS 64
/* Largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP); IPv6 allows 65527 but zdc keeps one
 * limit for both families. */
#define ZDC_IO_MAX_DATAGRAM 65507
#define ZDC_IO_MAX_SOCKS    4

enum zdc_io_backend_kind {
    ZDC_IO_BACKEND_AUTO = 0, /* io_uring, or epoll when io_uring cannot be set up */
    ZDC_IO_BACKEND_URING = 1,
    ZDC_IO_BACKEND_EPOLL = 2,
};

/* One send: a single datagram made of iov[0..niov) (gso_size == 0), or a run of datagrams of
 * gso_size bytes each (the last may be shorter) cut by the kernel (UDP_SEGMENT). cookie[i]
 * goes back to the engine in the completion. */
typedef struct zdc_io_tx {
    zdc_addr to;
    uint16_t sock; /* index returned by add_socket */
    uint16_t gso_size;
    uint16_t niov;
    struct iovec iov[ZDC_IO_MAX_SEGS];
    void *cookie[ZDC_IO_MAX_SEGS];
} zdc_io_tx;

typedef struct zdc_io_callbacks {
    /* One received datagram (GRO-coalesced receives are already split). data is valid only
     * during the call. */
    void (*on_recv)(void *user, int sock, const zdc_addr *from, const uint8_t *data, size_t len);
    /* A send finished: result >= 0 bytes sent, or a negative ZDC_ERR_* (the datagrams were
     * dropped). The iov buffers are the engine's again. */
    void (*on_sent)(void *user, void *const *cookie, size_t n, int result);
    void *user;
} zdc_io_callbacks;

/* Counters a backend keeps; the engine adds them to its stats. */
typedef struct zdc_io_counters {
    uint64_t rx_syscalls;  /* receive system calls or receive completions handled */
    uint64_t tx_syscalls;  /* send system calls or send submissions */
    uint64_t rx_truncated; /* datagrams cut short (MSG_TRUNC) and dropped */
    uint64_t rx_nobufs;    /* times the provided-buffer ring ran dry (-ENOBUFS) */
    uint64_t rx_gro;       /* coalesced receives split by gso_size */
    uint64_t tx_gso;       /* sends that used UDP_SEGMENT */
    uint64_t tx_zc;        /* zero-copy sends */
    uint64_t tx_zc_copied; /* zero-copy sends the kernel had to copy anyway */
    uint64_t tx_errors;    /* sends that failed */
} zdc_io_counters;

typedef struct zdc_io_config {
    size_t max_datagram; /* receive buffer payload size (<= ZDC_IO_MAX_DATAGRAM) */
    unsigned rx_buffers; /* receive buffers (power of two for io_uring) */
    unsigned tx_slots;   /* sends in flight at most */
    bool gro;            /* receives may be coalesced: buffers sized for 64 KiB */
    bool zerocopy;       /* io_uring SENDMSG_ZC */
} zdc_io_config;

typedef struct zdc_backend zdc_backend;

typedef struct zdc_backend_ops {
    const char *name;
    /* Returns ZDC_ERR_NOT_SUPPORTED when the mechanism is unavailable (io_uring refused). */
    int (*create)(zdc_backend **out, const zdc_io_config *cfg, const zdc_io_callbacks *cb);
    /* Starts receiving on fd; returns its index (>= 0) or a ZDC_ERR_*. */
    int (*add_socket)(zdc_backend *b, int fd);
    /* Free send slots right now. */
    size_t (*tx_space)(zdc_backend *b);
    /* Queues (epoll: performs) one send; ZDC_ERR_AGAIN when no slot is free. */
    int (*send)(zdc_backend *b, const zdc_io_tx *tx);
    /* Submits queued sends, waits up to timeout_ns (< 0: forever, 0: not at all) for I/O or a
     * wake-up, and runs the callbacks. Once it ran a callback it must not sleep any more in
     * this call: the engine sends what callbacks queued right after wait returns, without a
     * wake-up. Returns the number of events handled or ZDC_ERR_IO. */
    int (*wait)(zdc_backend *b, int64_t timeout_ns);
    /* Makes a concurrent or next wait return. Safe from any thread. */
    void (*wake)(zdc_backend *b);
    /* Sends still owned by the kernel. */
    size_t (*in_flight)(zdc_backend *b);
    /* A descriptor that polls readable while completions or events wait for wait() (the ring
     * fd, the epoll fd), for an application's own event loop. */
    int (*fd)(zdc_backend *b);
    const zdc_io_counters *(*counters)(zdc_backend *b);
    /* Cancels receives, waits (bounded) for in-flight sends, reports them through on_sent
     * and frees everything. Sockets are the caller's to close (after this). */
    void (*destroy)(zdc_backend *b);
} zdc_backend_ops;

extern const zdc_backend_ops zdc_backend_uring;
extern const zdc_backend_ops zdc_backend_epoll;

#endif /* ZDC_IO_BACKEND_H */
