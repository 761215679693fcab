/* The fallback backend: epoll readiness plus recvmmsg/sendmmsg batches. Used when io_uring
 * cannot be set up (seccomp in containers refuses io_uring_setup) or when asked for. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "iocommon.h"
#include "zdc/error.h"

#define RX_BATCH  32
#define TX_BATCH  64
#define RX_ROUNDS 8 /* recvmmsg rounds per readable socket per wait: fairness */
#define EV_WAKE   UINT32_MAX

struct zdc_backend {
    zdc_io_config cfg;
    zdc_io_callbacks cb;
    zdc_io_counters ctr;
    int epfd;
    int evfd;
    int fds[ZDC_IO_MAX_SOCKS];
    bool blocked[ZDC_IO_MAX_SOCKS]; /* a send hit EAGAIN: wait for EPOLLOUT */
    int nsock;

    size_t rx_stride; /* bytes per receive buffer */
    uint8_t *rx_mem;
    struct mmsghdr rx_msg[RX_BATCH];
    struct iovec rx_iov[RX_BATCH];
    struct sockaddr_in6 rx_name[RX_BATCH];
    uint8_t rx_ctl[RX_BATCH][ZDC_IO_RX_CMSG_SPACE];

    zdc_io_tx *txq; /* ring of queued sends */
    unsigned tx_cap, tx_head, tx_count;
    struct mmsghdr tx_msg[TX_BATCH];
    uint8_t tx_ctl[TX_BATCH][ZDC_IO_TX_CMSG_SPACE];
};

static int ep_create(zdc_backend **out, const zdc_io_config *cfg, const zdc_io_callbacks *cb)
{
    zdc_backend *b = calloc(1, sizeof *b);
    if (!b)
        return ZDC_ERR_NOMEM;
    b->cfg = *cfg;
    b->cb = *cb;
    b->epfd = b->evfd = -1;
    b->rx_stride = zdc_io_rx_payload_size(cfg);
    b->tx_cap = cfg->tx_slots ? cfg->tx_slots : 256;
    b->rx_mem = malloc(b->rx_stride * RX_BATCH);
    b->txq = calloc(b->tx_cap, sizeof *b->txq);
    if (!b->rx_mem || !b->txq)
        goto fail;
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    b->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (b->epfd < 0 || b->evfd < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = EV_WAKE};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->evfd, &ev) != 0)
        goto fail;
    *out = b;
    return 0;
fail:
    if (b->epfd >= 0)
        close(b->epfd);
    if (b->evfd >= 0)
        close(b->evfd);
    free(b->rx_mem);
    free(b->txq);
    free(b);
    return ZDC_ERR_NOMEM;
}

static int ep_add_socket(zdc_backend *b, int fd)
{
    if (b->nsock == ZDC_IO_MAX_SOCKS)
        return ZDC_ERR_INVALID_STATE;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)b->nsock};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
        return ZDC_ERR_IO;
    b->fds[b->nsock] = fd;
    return b->nsock++;
}

static size_t ep_tx_space(zdc_backend *b)
{
    return b->tx_cap - b->tx_count;
}

static int ep_send(zdc_backend *b, const zdc_io_tx *tx)
{
    if (b->tx_count == b->tx_cap)
        return ZDC_ERR_AGAIN;
    if (tx->sock >= b->nsock || tx->niov == 0 || tx->niov > ZDC_IO_MAX_SEGS)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_io_tx *slot = &b->txq[(b->tx_head + b->tx_count) % b->tx_cap];
    zdc_io_tx_copy(slot, tx);
    b->tx_count++;
    return 0;
}

static void set_blocked(zdc_backend *b, int sock, bool blocked)
{
    if (b->blocked[sock] == blocked)
        return;
    b->blocked[sock] = blocked;
    struct epoll_event ev = {.events = EPOLLIN | (blocked ? EPOLLOUT : 0u),
                             .data.u32 = (uint32_t)sock};
    (void)epoll_ctl(b->epfd, EPOLL_CTL_MOD, b->fds[sock], &ev);
}

static void complete_head(zdc_backend *b, int result)
{
    zdc_io_tx *tx = &b->txq[b->tx_head];
    b->tx_head = (b->tx_head + 1) % b->tx_cap;
    b->tx_count--;
    if (result < 0)
        b->ctr.tx_errors++;
    b->cb.on_sent(b->cb.user, tx->cookie, tx->niov, result);
}

/* Sends queued datagrams in sendmmsg batches of one socket each, in queue order. Stops at
 * the first socket whose buffer is full (EAGAIN) and waits for it to drain. */
static int flush(zdc_backend *b)
{
    int handled = 0;
    while (b->tx_count > 0) {
        int sock = b->txq[b->tx_head].sock;
        if (b->blocked[sock])
            break;
        unsigned n = 0;
        while (n < TX_BATCH && n < b->tx_count) {
            zdc_io_tx *tx = &b->txq[(b->tx_head + n) % b->tx_cap];
            if (tx->sock != sock)
                break;
            zdc_io_fill_txmsg(&b->tx_msg[n].msg_hdr, tx, b->tx_ctl[n]);
            if (tx->gso_size)
                b->ctr.tx_gso++;
            n++;
        }
        b->ctr.tx_syscalls++;
        int sent = sendmmsg(b->fds[sock], b->tx_msg, n, MSG_DONTWAIT);
        if (sent < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_blocked(b, sock, true);
                break;
            }
            if (errno == EINTR)
                continue;
            /* The first datagram is bad (too large, unreachable): drop it, go on. */
            complete_head(b, zdc_io_errno_to_err(errno));
            handled++;
            continue;
        }
        for (int i = 0; i < sent; i++)
            complete_head(b, (int)b->tx_msg[i].msg_len);
        handled += sent;
    }
    return handled;
}

static int read_socket(zdc_backend *b, int sock)
{
    int fd = b->fds[sock];
    int handled = 0;
    for (int round = 0; round < RX_ROUNDS; round++) {
        for (unsigned i = 0; i < RX_BATCH; i++) {
            b->rx_iov[i] = (struct iovec){b->rx_mem + i * b->rx_stride, b->rx_stride};
            b->rx_msg[i].msg_hdr = (struct msghdr){
                .msg_name = &b->rx_name[i],
                .msg_namelen = sizeof b->rx_name[i],
                .msg_iov = &b->rx_iov[i],
                .msg_iovlen = 1,
                .msg_control = b->rx_ctl[i],
                .msg_controllen = sizeof b->rx_ctl[i],
            };
        }
        b->ctr.rx_syscalls++;
        int n = recvmmsg(fd, b->rx_msg, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* EAGAIN: drained */
        }
        for (int i = 0; i < n; i++) {
            struct msghdr *m = &b->rx_msg[i].msg_hdr;
            handled += zdc_io_deliver(&b->cb, &b->ctr, sock, m, b->rx_iov[i].iov_base,
                                      b->rx_msg[i].msg_len);
        }
        if (n < RX_BATCH)
            break;
    }
    return handled;
}

static int ep_wait(zdc_backend *b, int64_t timeout_ns)
{
    int handled = flush(b);
    if (handled > 0)
        timeout_ns = 0; /* work was done: report it instead of sleeping */
    struct epoll_event evs[ZDC_IO_MAX_SOCKS + 1];
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    int n = epoll_pwait2(b->epfd, evs, ZDC_IO_MAX_SOCKS + 1, tsp, NULL);
    if (n < 0 && errno == ENOSYS) {
        /* Kernels before 5.11: millisecond resolution, rounded up so timers are not early. */
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(b->epfd, evs, ZDC_IO_MAX_SOCKS + 1, ms);
    }
    if (n < 0)
        return errno == EINTR ? handled : ZDC_ERR_IO;
    for (int i = 0; i < n; i++) {
        uint32_t id = evs[i].data.u32;
        if (id == EV_WAKE) {
            uint64_t v;
            (void)!read(b->evfd, &v, sizeof v);
            handled++;
            continue;
        }
        if (evs[i].events & EPOLLOUT)
            set_blocked(b, (int)id, false);
        if (evs[i].events & (EPOLLIN | EPOLLERR))
            handled += read_socket(b, (int)id);
    }
    handled += flush(b);
    return handled;
}

static void ep_wake(zdc_backend *b)
{
    uint64_t one = 1;
    (void)!write(b->evfd, &one, sizeof one);
}

static size_t ep_in_flight(zdc_backend *b)
{
    return b->tx_count; /* queued sends; sendmmsg itself completes synchronously */
}

static int ep_fd(zdc_backend *b)
{
    return b->epfd;
}

static const zdc_io_counters *ep_counters(zdc_backend *b)
{
    return &b->ctr;
}

static void ep_destroy(zdc_backend *b)
{
    if (!b)
        return;
    (void)flush(b);
    while (b->tx_count > 0)
        complete_head(b, ZDC_ERR_CLOSED);
    close(b->epfd);
    close(b->evfd);
    free(b->rx_mem);
    free(b->txq);
    free(b);
}

const zdc_backend_ops zdc_backend_epoll = {
    .name = "epoll",
    .create = ep_create,
    .add_socket = ep_add_socket,
    .tx_space = ep_tx_space,
    .send = ep_send,
    .wait = ep_wait,
    .wake = ep_wake,
    .in_flight = ep_in_flight,
    .fd = ep_fd,
    .counters = ep_counters,
    .destroy = ep_destroy,
};
