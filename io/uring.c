/* The io_uring backend (liburing 2.3).
 *
 * Receive: one multishot recvmsg per socket selects buffers from a provided-buffer ring; each
 * completion carries the buffer id in its flags, the buffer holds an io_uring_recvmsg_out
 * header, the source address, the control data (UDP_GRO segment size) and the payload. The
 * buffer goes back to the ring as soon as its datagrams were handed on. The request is
 * re-armed whenever a completion arrives without IORING_CQE_F_MORE (ring ran dry: -ENOBUFS,
 * or the kernel ended it).
 *
 * Send: each send is one SENDMSG (or SENDMSG_ZC) SQE; SQEs are only prepared by send() and
 * submitted together by the next wait(), so a burst costs one io_uring_enter. A zero-copy
 * send completes twice: the result, then (IORING_CQE_F_NOTIF) the notification after which
 * the kernel no longer reads the buffer; only then does the engine get its buffers back.
 *
 * Waiting: io_uring_submit_and_wait_timeout, whose timeout travels with the enter call
 * (IORING_FEAT_EXT_ARG) or as a timeout SQE on older kernels.
 *
 * Owner thread: the kernel runs a request's deferred work (the receive copies of a multishot
 * recvmsg, the wake-up read) as task work of the thread that submitted it. If that were the
 * thread that created the engine rather than the one driving it, every receive would wake a
 * third thread and contend for the ring's lock with the driver. So the long-lived requests
 * are armed by wait(), and re-armed (the old ones cancelled) when another thread starts
 * driving the engine. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "iocommon.h"
#include "zdc/error.h"

/* Kernel 6.2 UAPI not in liburing 2.3's copy of io_uring.h. */
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

#define BGID            7
#define SQ_ENTRIES      1024
#define UD_RECV         1ull
#define UD_SEND         2ull
#define UD_WAKE         3ull
#define UD_CANCEL       4ull
#define UD(kind, i)     (((kind) << 32) | (uint64_t)(i))
#define DESTROY_WAIT_NS 2000000000ll
/* Receive buffer memory the ring may cycle through (see setup_buf_ring). */
#define RX_RING_MAX_BYTES (4u << 20)
/* Name space in a receive buffer, rounded up so the control messages after it are aligned. */
#define RX_NAMELEN ((sizeof(struct sockaddr_in6) + 7) & ~(size_t)7)

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_SENT, SLOT_WAIT_NOTIF };

typedef struct tx_slot {
    zdc_io_tx tx;
    struct msghdr msg;
    uint8_t ctl[ZDC_IO_TX_CMSG_SPACE];
    int result;
    uint8_t state;
    uint32_t next_free;
} tx_slot;

struct zdc_backend {
    zdc_io_config cfg;
    zdc_io_callbacks cb;
    zdc_io_counters ctr;
    struct io_uring ring;
    bool ring_ok;

    int fds[ZDC_IO_MAX_SOCKS];
    bool fixed[ZDC_IO_MAX_SOCKS]; /* registered at index sock of the ring's file table */
    bool files_registered;
    struct msghdr rx_msg[ZDC_IO_MAX_SOCKS]; /* tells the kernel name/control sizes */
    bool rx_armed[ZDC_IO_MAX_SOCKS];
    int nsock;

    struct io_uring_buf_ring *br;
    size_t br_bytes;
    bool br_registered;
    unsigned br_entries;
    size_t rx_stride;
    uint8_t *rx_mem;
    size_t rx_mem_bytes;
    unsigned br_pending; /* buffers added but not yet published */

    tx_slot *slots;
    unsigned nslots;
    uint32_t free_head; /* index + 1, 0 = none */
    unsigned in_flight;
    unsigned unsubmitted;

    int evfd;
    uint64_t ev_value;
    bool wake_armed;
    bool closing;
    bool owned;
    pthread_t owner; /* thread that armed the receives and the wake-up read */
};

static unsigned round_pow2(unsigned v)
{
    unsigned p = 1;
    while (p < v && p < 32768)
        p <<= 1;
    return p;
}

static struct io_uring_sqe *get_sqe(zdc_backend *b)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
    if (!sqe) {
        /* SQ full: hand what is queued to the kernel and take a fresh entry. */
        io_uring_submit(&b->ring);
        b->unsubmitted = 0;
        sqe = io_uring_get_sqe(&b->ring);
    }
    if (sqe)
        b->unsubmitted++;
    return sqe;
}

/* Points sqe at socket sock: its registered slot when it has one, which spares the kernel a
 * file lookup and reference per request (fget/fput showed in profiles), else the fd. */
static void sqe_set_sock(zdc_backend *b, struct io_uring_sqe *sqe, int sock)
{
    if (b->fixed[sock]) {
        sqe->fd = sock;
        sqe->flags |= IOSQE_FIXED_FILE;
    }
}

static int setup_buf_ring(zdc_backend *b)
{
    b->br_entries = round_pow2(b->cfg.rx_buffers ? b->cfg.rx_buffers : 256);
    b->rx_stride = sizeof(struct io_uring_recvmsg_out) + RX_NAMELEN + ZDC_IO_RX_CMSG_SPACE +
                   zdc_io_rx_payload_size(&b->cfg);
    b->rx_stride = (b->rx_stride + 63) & ~(size_t)63;
    /* The kernel takes buffers from the ring in order, so every buffer is touched in turn:
     * 256 GRO-sized (64 KiB) buffers make a 16 MiB working set that falls out of the caches,
     * for the kernel's copy in and ours out (measured: ~10% more CPU per datagram than 32 or 64).
     * A GRO buffer holds a whole coalesced run, so fewer of them still hold more datagrams
     * than the same count of single-datagram buffers. */
    while (b->br_entries > 8 && b->br_entries * b->rx_stride > RX_RING_MAX_BYTES)
        b->br_entries >>= 1;
    b->br_bytes = b->br_entries * sizeof(struct io_uring_buf);
    /* mmap'd so untouched parts of large (GRO-sized) buffers cost no memory. */
    b->br = mmap(NULL, b->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b->br == MAP_FAILED) {
        b->br = NULL;
        return ZDC_ERR_NOMEM;
    }
    b->rx_mem_bytes = b->rx_stride * b->br_entries;
    b->rx_mem =
        mmap(NULL, b->rx_mem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b->rx_mem == MAP_FAILED) {
        b->rx_mem = NULL;
        return ZDC_ERR_NOMEM;
    }
    struct io_uring_buf_reg reg = {
        .ring_addr = (uint64_t)(uintptr_t)b->br, .ring_entries = b->br_entries, .bgid = BGID};
    int rv = io_uring_register_buf_ring(&b->ring, &reg, 0);
    if (rv != 0)
        return rv == -EINVAL || rv == -ENOSYS ? ZDC_ERR_NOT_SUPPORTED : ZDC_ERR_IO;
    b->br_registered = true;
    io_uring_buf_ring_init(b->br);
    int mask = io_uring_buf_ring_mask(b->br_entries);
    for (unsigned i = 0; i < b->br_entries; i++)
        io_uring_buf_ring_add(b->br, b->rx_mem + i * b->rx_stride, (unsigned)b->rx_stride,
                              (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(b->br, (int)b->br_entries);
    return 0;
}

static void arm_wake(zdc_backend *b)
{
    struct io_uring_sqe *sqe = get_sqe(b);
    if (!sqe)
        return;
    io_uring_prep_read(sqe, b->evfd, &b->ev_value, sizeof b->ev_value, 0);
    io_uring_sqe_set_data64(sqe, UD(UD_WAKE, 0));
    b->wake_armed = true;
}

static void ur_destroy(zdc_backend *b);

static int ur_create(zdc_backend **out, const zdc_io_config *cfg, const zdc_io_callbacks *cb)
{
    zdc_backend *b = calloc(1, sizeof *b);
    if (!b)
        return ZDC_ERR_NOMEM;
    b->cfg = *cfg;
    b->cb = *cb;
    b->evfd = -1;
    struct io_uring_params p = {.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN};
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = SQ_ENTRIES * 8;
    int rv = io_uring_queue_init_params(SQ_ENTRIES, &b->ring, &p);
    if (rv == -EINVAL) { /* older kernel: no COOP_TASKRUN / SUBMIT_ALL */
        memset(&p, 0, sizeof p);
        rv = io_uring_queue_init_params(SQ_ENTRIES, &b->ring, &p);
    }
    if (rv != 0) {
        free(b);
        /* EPERM/ENOSYS: seccomp or a kernel without io_uring; the engine falls back. */
        return rv == -ENOMEM ? ZDC_ERR_NOMEM : ZDC_ERR_NOT_SUPPORTED;
    }
    b->ring_ok = true;
    b->nslots = cfg->tx_slots ? cfg->tx_slots : 256;
    b->slots = calloc(b->nslots, sizeof *b->slots);
    b->evfd = eventfd(0, EFD_CLOEXEC);
    if (!b->slots || b->evfd < 0) {
        ur_destroy(b);
        return ZDC_ERR_NOMEM;
    }
    for (unsigned i = 0; i < b->nslots; i++)
        b->slots[i].next_free = i + 2 <= b->nslots ? i + 2 : 0;
    b->free_head = 1;
    rv = setup_buf_ring(b);
    if (rv != 0) {
        ur_destroy(b);
        return rv;
    }
    /* Optional: without a file table (old kernel, memlock limits) requests use the fds. */
    b->files_registered = io_uring_register_files_sparse(&b->ring, ZDC_IO_MAX_SOCKS) == 0;
    *out = b; /* the first wait() arms the wake-up read */
    return 0;
}

static void arm_recv(zdc_backend *b, int sock)
{
    struct io_uring_sqe *sqe = get_sqe(b);
    if (!sqe)
        return; /* retried by the next wait */
    io_uring_prep_recvmsg_multishot(sqe, b->fds[sock], &b->rx_msg[sock], 0);
    sqe_set_sock(b, sqe, sock);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    io_uring_sqe_set_data64(sqe, UD(UD_RECV, sock));
    b->rx_armed[sock] = true;
}

static int ur_add_socket(zdc_backend *b, int fd)
{
    if (b->nsock == ZDC_IO_MAX_SOCKS)
        return ZDC_ERR_INVALID_STATE;
    int sock = b->nsock++;
    b->fds[sock] = fd;
    b->fixed[sock] = b->files_registered &&
                     io_uring_register_files_update(&b->ring, (unsigned)sock, &fd, 1) == 1;
    b->rx_msg[sock] =
        (struct msghdr){.msg_namelen = RX_NAMELEN, .msg_controllen = ZDC_IO_RX_CMSG_SPACE};
    /* Armed by the next wait(), on the thread that will handle the receives. */
    return sock;
}

static size_t ur_tx_space(zdc_backend *b)
{
    return b->nslots - b->in_flight;
}

static void prep_send(zdc_backend *b, uint32_t idx)
{
    tx_slot *s = &b->slots[idx];
    struct io_uring_sqe *sqe = get_sqe(b);
    if (!sqe) { /* cannot happen after a successful submit; fail the send, not the engine */
        s->result = ZDC_ERR_IO;
        s->state = SLOT_SENT;
        return;
    }
    if (b->cfg.zerocopy) {
        io_uring_prep_sendmsg_zc(sqe, b->fds[s->tx.sock], &s->msg, 0);
        sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
        b->ctr.tx_zc++;
    } else {
        io_uring_prep_sendmsg(sqe, b->fds[s->tx.sock], &s->msg, 0);
    }
    sqe_set_sock(b, sqe, s->tx.sock);
    io_uring_sqe_set_data64(sqe, UD(UD_SEND, idx));
    s->state = SLOT_QUEUED;
}

static int ur_send(zdc_backend *b, const zdc_io_tx *tx)
{
    if (tx->sock >= b->nsock || tx->niov == 0 || tx->niov > ZDC_IO_MAX_SEGS)
        return ZDC_ERR_INVALID_PARAMETER;
    if (b->free_head == 0)
        return ZDC_ERR_AGAIN;
    uint32_t idx = b->free_head - 1;
    tx_slot *s = &b->slots[idx];
    b->free_head = s->next_free;
    zdc_io_tx_copy(&s->tx, tx);
    zdc_io_fill_txmsg(&s->msg, &s->tx, s->ctl);
    if (tx->gso_size)
        b->ctr.tx_gso++;
    s->result = 0;
    b->in_flight++;
    prep_send(b, idx);
    return 0;
}

static void finish_send(zdc_backend *b, uint32_t idx)
{
    tx_slot *s = &b->slots[idx];
    if (s->result < 0)
        b->ctr.tx_errors++;
    s->state = SLOT_FREE;
    b->in_flight--;
    /* Free the slot before the callback so a send from inside it finds room. */
    s->next_free = b->free_head;
    b->free_head = idx + 1;
    b->cb.on_sent(b->cb.user, s->tx.cookie, s->tx.niov, s->result);
}

static void on_send_cqe(zdc_backend *b, uint32_t idx, const struct io_uring_cqe *cqe)
{
    if (idx >= b->nslots)
        return;
    tx_slot *s = &b->slots[idx];
    if (cqe->flags & IORING_CQE_F_NOTIF) {
        if ((uint32_t)cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
            b->ctr.tx_zc_copied++;
        finish_send(b, idx);
        return;
    }
    if (cqe->res == -EAGAIN && !b->closing && !(cqe->flags & IORING_CQE_F_MORE)) {
        prep_send(b, idx); /* socket buffer full: try again */
        return;
    }
    s->result = cqe->res >= 0 ? cqe->res : zdc_io_errno_to_err(-cqe->res);
    if (cqe->flags & IORING_CQE_F_MORE)
        s->state = SLOT_WAIT_NOTIF; /* the kernel still reads the buffer */
    else
        finish_send(b, idx);
}

static int on_recv_cqe(zdc_backend *b, int sock, const struct io_uring_cqe *cqe)
{
    int delivered = 0;
    if (cqe->res == -ENOBUFS)
        b->ctr.rx_nobufs++;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        uint8_t *buf = b->rx_mem + (size_t)bid * b->rx_stride;
        b->ctr.rx_syscalls++;
        struct msghdr *m = &b->rx_msg[sock];
        struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(buf, cqe->res, m);
        if (o && cqe->res >= 0) {
            int gro = 0;
            for (struct cmsghdr *c = io_uring_recvmsg_cmsg_firsthdr(o, m); c;
                 c = io_uring_recvmsg_cmsg_nexthdr(o, m, c)) {
                if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
                    memcpy(&gro, CMSG_DATA(c), sizeof gro);
            }
            socklen_t namelen = o->namelen < m->msg_namelen ? o->namelen : m->msg_namelen;
            int flags = (int)o->flags;
            if (o->payloadlen > io_uring_recvmsg_payload_length(o, cqe->res, m))
                flags |= MSG_TRUNC;
            delivered = zdc_io_deliver_one(&b->cb, &b->ctr, sock, io_uring_recvmsg_name(o), namelen,
                                           flags, gro, io_uring_recvmsg_payload(o, m),
                                           io_uring_recvmsg_payload_length(o, cqe->res, m));
        }
        io_uring_buf_ring_add(b->br, buf, (unsigned)b->rx_stride, (unsigned short)bid,
                              io_uring_buf_ring_mask(b->br_entries), (int)b->br_pending++);
    }
    if (!(cqe->flags & IORING_CQE_F_MORE))
        b->rx_armed[sock] = false; /* re-armed after the buffers are published */
    return delivered;
}

static int reap(zdc_backend *b)
{
    int handled = 0;
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&b->ring, head, cqe)
    {
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        uint32_t kind = (uint32_t)(ud >> 32), idx = (uint32_t)ud;
        seen++;
        switch (kind) {
        case UD_RECV:
            handled += on_recv_cqe(b, (int)idx, cqe);
            break;
        case UD_SEND:
            on_send_cqe(b, idx, cqe);
            handled++;
            break;
        case UD_WAKE:
            b->wake_armed = false;
            handled += cqe->res > 0;
            break;
        default:
            break;
        }
    }
    io_uring_cq_advance(&b->ring, seen);
    if (b->br_pending) {
        io_uring_buf_ring_advance(b->br, (int)b->br_pending);
        b->br_pending = 0;
    }
    if (!b->closing) {
        for (int s = 0; s < b->nsock; s++)
            if (!b->rx_armed[s])
                arm_recv(b, s);
        if (!b->wake_armed)
            arm_wake(b);
    }
    return handled;
}

static void cancel_ud(zdc_backend *b, uint64_t ud)
{
    struct io_uring_sqe *sqe = get_sqe(b);
    if (sqe) {
        io_uring_prep_cancel64(sqe, ud, 0);
        io_uring_sqe_set_data64(sqe, UD(UD_CANCEL, 0));
    }
}

/* Makes the calling thread the one whose task work serves the receives: requests armed by
 * another thread are cancelled, and reap() re-arms them from here once they have ended. */
static void take_ownership(zdc_backend *b)
{
    pthread_t self = pthread_self();
    if (b->owned && pthread_equal(b->owner, self))
        return;
    if (b->owned) {
        for (int s = 0; s < b->nsock; s++)
            if (b->rx_armed[s])
                cancel_ud(b, UD(UD_RECV, s));
        if (b->wake_armed)
            cancel_ud(b, UD(UD_WAKE, 0));
    }
    b->owned = true;
    b->owner = self;
}

static int ur_wait(zdc_backend *b, int64_t timeout_ns)
{
    take_ownership(b);
    /* Completions already waiting are handled first: no sleep if there is work. */
    int handled = reap(b);
    if (handled > 0)
        timeout_ns = 0;
    struct io_uring_cqe *cqe = NULL;
    int rv;
    if (timeout_ns == 0) {
        rv = io_uring_submit(&b->ring);
        b->unsubmitted = 0;
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                       .tv_nsec = timeout_ns % 1000000000};
        rv = io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, timeout_ns < 0 ? NULL : &ts, NULL);
        b->unsubmitted = 0;
    }
    b->ctr.tx_syscalls++;
    if (rv < 0 && rv != -ETIME && rv != -EINTR && rv != -EAGAIN && rv != -EBUSY)
        return ZDC_ERR_IO;
    handled += reap(b);
    if (b->unsubmitted) { /* re-arms and sends queued by callbacks */
        io_uring_submit(&b->ring);
        b->unsubmitted = 0;
    }
    return handled;
}

static void ur_wake(zdc_backend *b)
{
    uint64_t one = 1;
    (void)!write(b->evfd, &one, sizeof one);
}

static size_t ur_in_flight(zdc_backend *b)
{
    return b->in_flight;
}

static int ur_fd(zdc_backend *b)
{
    return b->ring.ring_fd;
}

static const zdc_io_counters *ur_counters(zdc_backend *b)
{
    return &b->ctr;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void ur_destroy(zdc_backend *b)
{
    if (!b)
        return;
    if (b->ring_ok) {
        b->closing = true;
        /* Stop the receives and the wake-up read; sends finish on their own. */
        for (int s = 0; s < b->nsock; s++)
            if (b->rx_armed[s])
                cancel_ud(b, UD(UD_RECV, s));
        if (b->wake_armed)
            cancel_ud(b, UD(UD_WAKE, 0));
        io_uring_submit(&b->ring);
        int64_t deadline = now_ns() + DESTROY_WAIT_NS;
        bool busy = true;
        while (busy && now_ns() < deadline) {
            struct io_uring_cqe *cqe;
            struct __kernel_timespec ts = {.tv_nsec = 10000000};
            (void)io_uring_submit_and_wait_timeout(&b->ring, &cqe, 1, &ts, NULL);
            reap(b);
            busy = b->in_flight > 0 || b->wake_armed;
            for (int s = 0; s < b->nsock; s++)
                busy = busy || b->rx_armed[s];
        }
        /* Anything still in flight after the bound is reported as closed; queue_exit
         * cancels it in the kernel. */
        for (uint32_t i = 0; i < b->nslots && b->slots; i++)
            if (b->slots[i].state != SLOT_FREE) {
                b->slots[i].result = ZDC_ERR_CLOSED;
                finish_send(b, i);
            }
        if (b->br_registered)
            io_uring_unregister_buf_ring(&b->ring, BGID);
        io_uring_queue_exit(&b->ring);
    }
    if (b->br)
        munmap(b->br, b->br_bytes);
    if (b->rx_mem)
        munmap(b->rx_mem, b->rx_mem_bytes);
    if (b->evfd >= 0)
        close(b->evfd);
    free(b->slots);
    free(b);
}

const zdc_backend_ops zdc_backend_uring = {
    .name = "io_uring",
    .create = ur_create,
    .add_socket = ur_add_socket,
    .tx_space = ur_tx_space,
    .send = ur_send,
    .wait = ur_wait,
    .wake = ur_wake,
    .in_flight = ur_in_flight,
    .fd = ur_fd,
    .counters = ur_counters,
    .destroy = ur_destroy,
};
