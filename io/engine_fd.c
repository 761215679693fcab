/* The engine inside the application's own event loop (poll, epoll, libuv, a game engine's
 * main loop): zdc_engine_fd, zdc_engine_next_timeout_ms, zdc_engine_wake.
 *
 * The descriptor is an epoll set holding what makes zdc_engine_poll(e, 0) have work:
 * - the UDP sockets and the backend's own descriptor (io_uring's ring fd polls readable while
 *   completions wait; epoll's while an event waits) — datagrams and finished sends;
 * - a timerfd armed (CLOCK_MONOTONIC, absolute) at the engine's next deadline after every
 *   poll — retransmissions, consent checks, SCTP timers;
 * - an eventfd written by zdc_engine_wake (any thread) and by the owner thread when it queues
 *   work outside poll: an API call that sent a datagram, queued an event or moved a deadline
 *   earlier; and after a poll that left sends queued.
 * Level-triggered throughout: it stays readable until zdc_engine_poll handled the cause, and
 * an idle engine's descriptor stays quiet (no periodic tick). */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "engine_priv.h"

int zdc_engine_ext_init(zdc_engine *e)
{
    e->ext_fd = e->timer_fd = -1;
    e->timer_at = UINT64_MAX;
    e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return e->wake_fd < 0 ? ZDC_ERR_IO : 0;
}

void zdc_engine_ext_clear(zdc_engine *e)
{
    if (e->ext_fd >= 0)
        close(e->ext_fd);
    if (e->timer_fd >= 0)
        close(e->timer_fd);
    if (e->wake_fd >= 0)
        close(e->wake_fd);
    e->ext_fd = e->timer_fd = e->wake_fd = -1;
}

static void post(int fd)
{
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
}

/* Sends queued or datagrams received that the next zdc_engine_poll(e, 0) handles. */
static bool has_pending(zdc_engine *e)
{
    return e->worker ? zdc_worker_has_pending(e->worker) : zdc_loop_has_pending(e->loop);
}

int zdc_engine_fd(zdc_engine *e)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    if (e->workers)
        return ZDC_ERR_INVALID_STATE; /* the I/O front: its workers have descriptors */
    if (e->ext_fd >= 0)
        return e->ext_fd;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    int fds[8];
    /* A worker's datagrams arrive on its ring: the I/O thread writes its eventfd. */
    size_t n = e->worker ? 0 : zdc_loop_pollable_fds(e->loop, fds, 6);
    fds[n++] = tf;
    fds[n++] = e->wake_fd;
    bool ok = ep >= 0 && tf >= 0;
    for (size_t i = 0; ok && i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        ok = epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) == 0;
    }
    if (!ok) {
        if (ep >= 0)
            close(ep);
        if (tf >= 0)
            close(tf);
        return ZDC_ERR_IO;
    }
    e->timer_fd = tf;
    e->timer_at = UINT64_MAX;
    e->ext_fd = ep;
    atomic_store(&e->ext_on, true);
    /* Whatever is already due or queued shows at once; the timer follows the first poll. */
    e->signalled = true;
    post(e->wake_fd);
    return ep;
}

int zdc_engine_next_timeout_ms(zdc_engine *e)
{
    if (!e)
        return -1;
    if (zdc_link_linked(&e->ready) || has_pending(e))
        return 0;
    uint64_t d = zdc_engine_next_deadline(e);
    if (d == UINT64_MAX)
        return -1;
    uint64_t now = zdc_engine_now_ns();
    if (d <= now)
        return 0;
    uint64_t ms = (d - now + 999999) / 1000000; /* rounded up: never wakes before it is due */
    return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

void zdc_engine_wake(zdc_engine *e)
{
    if (!e)
        return;
    if (e->worker) {
        post(e->wake_fd); /* a worker waits on it, inside zdc_engine_poll or in the app's loop */
        return;
    }
    if (atomic_load_explicit(&e->ext_on, memory_order_acquire))
        post(e->wake_fd);
    if (e->workers)
        zdc_workers_wake_io(e->workers);
    else
        zdc_loop_wake(e->loop); /* a thread inside zdc_engine_poll */
}

void zdc_engine_ext_signal(zdc_engine *e)
{
    if (e->in_poll || e->signalled || !atomic_load_explicit(&e->ext_on, memory_order_relaxed))
        return;
    e->signalled = true;
    post(e->wake_fd);
}

void zdc_engine_ext_drain(zdc_engine *e)
{
    if (!atomic_load_explicit(&e->ext_on, memory_order_relaxed))
        return;
    uint64_t v;
    (void)!read(e->wake_fd, &v, sizeof v);
    e->signalled = false;
    if (e->timer_at != UINT64_MAX && e->timer_at <= zdc_engine_now_ns()) {
        (void)!read(e->timer_fd, &v, sizeof v); /* expired: one-shot, disarmed now */
        e->timer_at = UINT64_MAX;
    }
}

void zdc_engine_ext_rearm(zdc_engine *e, uint64_t deadline)
{
    if (!atomic_load_explicit(&e->ext_on, memory_order_relaxed))
        return;
    if (zdc_link_linked(&e->ready) || has_pending(e)) {
        if (!e->signalled) {
            e->signalled = true;
            post(e->wake_fd);
        }
        return;
    }
    if (deadline == e->timer_at)
        return;
    struct itimerspec its = {0}; /* all zero: disarm */
    if (deadline != UINT64_MAX) {
        uint64_t d = deadline ? deadline : 1;
        its.it_value.tv_sec = (time_t)(d / 1000000000u);
        its.it_value.tv_nsec = (long)(d % 1000000000u);
    }
    if (timerfd_settime(e->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        e->timer_at = deadline;
}
