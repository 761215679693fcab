/* The engine inside an application's own event loop (engine.h): zdc_engine_fd polls readable
 * for a datagram, for a timer and for zdc_engine_wake() from another thread, and stays quiet
 * while the engine is idle; zdc_engine_next_timeout_ms says when the next timer is due; a
 * zdc_engine_poll blocked on one thread returns when another thread wakes it. Both backends.
 * ctest-labels: thread */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zdc/zdc.h"

static zdc_engine *engine_on(int backend)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.backend = backend;
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    o.include_loopback = true;
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    cr_assert_eq(rv, 0, "engine: %s", zdc_strerror(rv));
    return e;
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

/* poll(2) on the engine's descriptor alone; EINTR retried. */
static int wait_fd(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t end = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        int left = (int)(end > now_ms() ? end - now_ms() : 0);
        int n = poll(&p, 1, left);
        if (n >= 0)
            return n;
    }
}

/* How long the descriptor must stay quiet: until just before the next deadline, or 200 ms. */
static int quiet_window(zdc_engine *e)
{
    int ms = zdc_engine_next_timeout_ms(e);
    return ms < 0 || ms > 202 ? 200 : ms > 2 ? ms - 2 : 0;
}

/* Polls the engine until its descriptor is quiet (bounded): what an event loop does. */
static void settle(zdc_engine *e, int fd)
{
    for (int i = 0; i < 50 && wait_fd(fd, 0) == 1; i++)
        cr_assert_eq(zdc_engine_poll(e, 0), 0);
    cr_assert_eq(wait_fd(fd, 0), 0, "the descriptor stays readable after polling");
}

static void idle_is_quiet(int backend)
{
    zdc_engine *e = engine_on(backend);
    int fd = zdc_engine_fd(e);
    cr_assert_geq(fd, 0);
    cr_assert_eq(zdc_engine_fd(e), fd, "one descriptor per engine");
    settle(e, fd);
    cr_assert_eq(zdc_engine_next_timeout_ms(e), -1, "an idle engine has no deadline");
    uint64_t t0 = now_ms();
    cr_assert_eq(wait_fd(fd, 300), 0, "an idle engine's descriptor woke");
    cr_assert_geq(now_ms() - t0, 290);
    zdc_engine_free(e);
}

Test(engine_fd, idle_uring)
{
    idle_is_quiet(ZDC_BACKEND_AUTO);
}
Test(engine_fd, idle_epoll)
{
    idle_is_quiet(ZDC_BACKEND_EPOLL);
}

static void packet_wakes(int backend)
{
    zdc_engine *e = engine_on(backend);
    int fd = zdc_engine_fd(e);
    settle(e, fd);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    cr_assert_geq(s, 0);
    struct sockaddr_in to = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)zdc_engine_port(e, 4))};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    zdc_engine_stats st0, st1;
    zdc_engine_get_stats(e, &st0);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(sendto(s, "not webrtc", 10, 0, (struct sockaddr *)&to, sizeof to), 10);
        cr_assert_eq(wait_fd(fd, 2000), 1, "round %d: no wake-up for a datagram", round);
        settle(e, fd);
    }
    zdc_engine_get_stats(e, &st1);
    cr_assert_eq(st1.rx_datagrams - st0.rx_datagrams, 3, "the engine received each datagram");
    cr_assert_eq(st1.rx_unrouted - st0.rx_unrouted, 3);
    cr_assert_eq(wait_fd(fd, quiet_window(e)), 0, "quiet after the datagrams were handled");
    close(s);
    zdc_engine_free(e);
}

Test(engine_fd, packet_uring)
{
    packet_wakes(ZDC_BACKEND_AUTO);
}
Test(engine_fd, packet_epoll)
{
    packet_wakes(ZDC_BACKEND_EPOLL);
}

/* A peer checking a remote candidate nobody answers retransmits on its timers: the descriptor
 * wakes at the deadline zdc_engine_next_timeout_ms announced, not before, and the poll then
 * runs a timeout. */
static void timer_wakes(int backend)
{
    zdc_engine *e = engine_on(backend);
    zdc_engine *e2 = engine_on(backend);
    int fd = zdc_engine_fd(e);
    zdc_peer a, b;
    cr_assert_eq(zdc_peer_new(e2, NULL, &b), 0);
    cr_assert_eq(zdc_peer_new(e, NULL, &a), 0);
    zdc_channel ch;
    zdc_channel_options co = zdc_channel_options_default();
    cr_assert_eq(zdc_peer_create_data_channel(b, "x", &co, &ch), 0);
    cr_assert_eq(zdc_peer_create_offer(b), 0);
    /* b's offer, taken from the peer (no callbacks set). */
    for (int i = 0; i < 20 && !zdc_peer_get_local_description(b, false); i++)
        zdc_engine_poll(e2, 1);
    const char *offer = zdc_peer_get_local_description(b, false);
    cr_assert_not_null(offer);
    cr_assert_eq(zdc_peer_set_remote_description(a, "offer", offer), 0, "%s",
                 zdc_peer_last_error(a));
    const char *answer = zdc_peer_get_local_description(a, false);
    cr_assert_not_null(answer);
    cr_assert_eq(zdc_peer_set_local_description(a, "answer", answer), 0);
    cr_assert_eq(wait_fd(fd, 0), 1, "an API call that queued work makes the descriptor readable");
    /* A candidate on a port nobody listens on: checks go out and time out. */
    cr_assert_eq(
        zdc_peer_add_ice_candidate(a, "0", 0, "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"),
        0, "%s", zdc_peer_last_error(a));
    settle(e, fd);
    /* An event loop waiting on the descriptor alone for 1.5 s: every wake-up comes at or after
     * the deadline announced before the wait, each poll leaves the descriptor quiet, and the
     * checks' retransmissions (timers of the peer) go out. */
    zdc_engine_stats s0, s1;
    zdc_engine_get_stats(e, &s0);
    uint64_t end = now_ms() + 1500;
    int wakes = 0;
    while (now_ms() < end) {
        int ms = zdc_engine_next_timeout_ms(e);
        cr_assert_gt(ms, 0, "a deadline is pending and nothing else (%d)", ms);
        uint64_t t0 = now_ms();
        cr_assert_eq(wait_fd(fd, 5000), 1, "no wake-up for the timer due in %d ms", ms);
        uint64_t waited = now_ms() - t0;
        cr_assert_geq(waited + 2, (uint64_t)ms, "woke after %llu ms, the deadline was in %d ms",
                      (unsigned long long)waited, ms);
        wakes++;
        settle(e, fd);
    }
    zdc_engine_get_stats(e, &s1);
    cr_assert_gt(s1.timeouts_run, s0.timeouts_run, "the peer's timers ran (%d wake-ups)", wakes);
    cr_assert_gt(s1.tx_datagrams, s0.tx_datagrams, "the checks were retransmitted");
    zdc_peer_free(a);
    zdc_peer_free(b);
    zdc_engine_free(e);
    zdc_engine_free(e2);
}

Test(engine_fd, timer_uring)
{
    timer_wakes(ZDC_BACKEND_AUTO);
}
Test(engine_fd, timer_epoll)
{
    timer_wakes(ZDC_BACKEND_EPOLL);
}

static void *wake_later(void *arg)
{
    usleep(50000);
    zdc_engine_wake(arg);
    return NULL;
}

static void wake_from_thread(int backend)
{
    zdc_engine *e = engine_on(backend);
    int fd = zdc_engine_fd(e);
    settle(e, fd);
    /* The descriptor, in the application's loop. */
    pthread_t t;
    uint64_t t0 = now_ms();
    cr_assert_eq(pthread_create(&t, NULL, wake_later, e), 0);
    cr_assert_eq(wait_fd(fd, 5000), 1, "zdc_engine_wake did not make the descriptor readable");
    cr_assert_lt(now_ms() - t0, 4000);
    pthread_join(t, NULL);
    /* The wake also reaches a zdc_engine_poll that might be blocked (the backend's own
     * wake-up), whose completion can surface one poll later: a few polls at most, then quiet
     * until the next deadline. (Without Criterion's fork, as under TSan, usrsctp's process-wide
     * tick left by the earlier tests' peers is such a deadline for a few seconds.) */
    int extra = 0;
    for (; extra < 5; extra++) {
        settle(e, fd);
        if (wait_fd(fd, quiet_window(e)) == 0)
            break;
    }
    cr_assert_lt(extra, 3, "still readable after %d polls", extra);
    /* A zdc_engine_poll blocked without a timeout. */
    t0 = now_ms();
    cr_assert_eq(pthread_create(&t, NULL, wake_later, e), 0);
    cr_assert_eq(zdc_engine_poll(e, -1), 0);
    cr_assert_lt(now_ms() - t0, 4000);
    pthread_join(t, NULL);
    zdc_engine_free(e);
}

Test(engine_fd, wake_uring)
{
    wake_from_thread(ZDC_BACKEND_AUTO);
}
Test(engine_fd, wake_epoll)
{
    wake_from_thread(ZDC_BACKEND_EPOLL);
}

Test(engine_fd, null_engine)
{
    cr_assert_eq(zdc_engine_fd(NULL), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_engine_next_timeout_ms(NULL), -1);
    zdc_engine_wake(NULL);
}
