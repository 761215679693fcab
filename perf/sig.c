#include "sig.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SIG_BUF (1 << 20) /* a burst of 200 offers must not block the sender */

int perf_sig_pair(int fd[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fd) != 0)
        return -1;
    int sz = SIG_BUF;
    for (int i = 0; i < 2; i++) {
        setsockopt(fd[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(fd[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    return 0;
}

/* Wire form: kind, idx (decimal) NUL, a NUL, num (decimal) NUL, text. */
bool perf_sig_send(int fd, char kind, int idx, const char *a, int num, const char *text)
{
    size_t tl = text ? strlen(text) : 0;
    size_t cap = tl + 96;
    char *buf = malloc(cap);
    if (!buf)
        return false;
    int h = snprintf(buf, cap, "%c%d%c%.31s%c%d%c", kind, idx, 0, a ? a : "", 0, num, 0);
    if (h < 0 || (size_t)h + tl >= cap) {
        free(buf);
        return false;
    }
    if (tl)
        memcpy(buf + h, text, tl);
    ssize_t n = send(fd, buf, (size_t)h + tl, MSG_NOSIGNAL);
    free(buf);
    return n == (ssize_t)((size_t)h + tl);
}

int perf_sig_recv(int fd, perf_sig_msg *m, char *buf, size_t cap, int timeout_ms)
{
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
