#include "sig.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SIG_BUF (4 << 20) /* most of a burst of offers fits; see the queue below */

int perf_sig_pair(int fd[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fd) != 0)
        return -1;
    int sz = SIG_BUF;
    for (int i = 0; i < 2; i++) {
        setsockopt(fd[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(fd[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        /* Past net.core.[rw]mem_max where allowed (root); the queue below covers the rest. */
        setsockopt(fd[i], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz);
        setsockopt(fd[i], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz);
    }
    return 0;
}

/* Messages the socket could not take yet, per descriptor, in order. Two processes that each
 * send a burst (2,500 offers one way, answers and candidates the other) while only reading
 * between sends would otherwise block each other with both buffers full: sends never block,
 * what does not fit waits here and goes out at the next send or receive on that descriptor. */
typedef struct pending {
    struct pending *next;
    size_t len;
    char data[];
} pending;

#define SIG_MAX_FD 4096
static pending *queue_head[SIG_MAX_FD], *queue_tail[SIG_MAX_FD];

static void flush(int fd)
{
    if (fd < 0 || fd >= SIG_MAX_FD)
        return;
    while (queue_head[fd]) {
        pending *q = queue_head[fd];
        if (send(fd, q->data, q->len, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)q->len)
            return; /* still full (or gone: the next receive says so) */
        queue_head[fd] = q->next;
        if (!queue_head[fd])
            queue_tail[fd] = NULL;
        free(q);
    }
}

/* Wire form: kind, idx (decimal) NUL, a NUL, num (decimal) NUL, text. */
/* The server's workers (zdc-perf --workers) send from their threads: one at a time. */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;

static bool sig_send(int fd, char kind, int idx, const char *a, int num, const char *text);

bool perf_sig_send(int fd, char kind, int idx, const char *a, int num, const char *text)
{
    pthread_mutex_lock(&sig_lock);
    bool ok = sig_send(fd, kind, idx, a, num, text);
    pthread_mutex_unlock(&sig_lock);
    return ok;
}

static bool sig_send(int fd, char kind, int idx, const char *a, int num, const char *text)
{
    size_t tl = text ? strlen(text) : 0;
    size_t cap = tl + 96;
    pending *q = malloc(sizeof *q + cap);
    if (!q)
        return false;
    char *buf = q->data;
    int h = snprintf(buf, cap, "%c%d%c%.31s%c%d%c", kind, idx, 0, a ? a : "", 0, num, 0);
    if (h < 0 || (size_t)h + tl >= cap) {
        free(q);
        return false;
    }
    if (tl)
        memcpy(buf + h, text, tl);
    q->len = (size_t)h + tl;
    q->next = NULL;
    bool queued = fd >= 0 && fd < SIG_MAX_FD;
    if (queued && queue_head[fd]) {
        queue_tail[fd]->next = q;
        queue_tail[fd] = q;
        flush(fd);
        return true;
    }
    ssize_t n = send(fd, buf, q->len, MSG_NOSIGNAL | (queued ? MSG_DONTWAIT : 0));
    if (n < 0 && queued && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        queue_head[fd] = queue_tail[fd] = q;
        return true;
    }
    free(q);
    return n == (ssize_t)((size_t)h + tl);
}

int perf_sig_recv(int fd, perf_sig_msg *m, char *buf, size_t cap, int timeout_ms)
{
    pthread_mutex_lock(&sig_lock);
    flush(fd);
    pthread_mutex_unlock(&sig_lock);
    if (timeout_ms > 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            return 0;
    }
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    if (n == 0)
        return -1;
    if (n < 0)
        return 0;
    buf[n] = 0;
    const char *end = buf + n;
    const char *idx = buf + 1;
    const char *a = idx + strlen(idx) + 1;
    if (a >= end)
        return 0;
    const char *num = a + strlen(a) + 1;
    if (num >= end)
        return 0;
    const char *text = num + strlen(num) + 1;
    if (text > end)
        return 0;
    m->kind = buf[0];
    m->idx = atoi(idx);
    snprintf(m->a, sizeof m->a, "%s", a);
    m->num = atoi(num);
    m->text = text;
    return 1;
}
