/* Signaling between two sides of a case: offers, answers, candidates and the cases' own
 * control messages, over one SOCK_SEQPACKET socket pair (one message per record). The same
 * code serves both peers in one process (each end used by one side, one thread pumping
 * both) and one peer per process (each process keeps one end after fork).
 *
 * A message: kind (one letter), a peer index (a server talks to many clients), two short
 * strings and a text (SDP, candidate, or the control message's payload). */
#ifndef ZDC_PERF_SIG_H
#define ZDC_PERF_SIG_H

#include <stdbool.h>
#include <stddef.h>

typedef struct perf_sig_msg {
    char kind; /* 'D' description, 'C' candidate, anything else: the case's control message */
    int idx;
    char a[32]; /* 'D': type; 'C': mid */
    int num;    /* 'C': m-line index */
    const char *text;
} perf_sig_msg;

/* Two connected ends; returns 0 or -1. */
int perf_sig_pair(int fd[2]);
/* Sends one message; false when it could not (the other end is gone). */
bool perf_sig_send(int fd, char kind, int idx, const char *a, int num, const char *text);
/* Receives one waiting message into m (its text valid until the next call with the same
 * buffer); 1 when one was read, 0 when none is waiting, -1 when the other end closed.
 * timeout_ms: 0 don't wait, > 0 wait up to that long. */
int perf_sig_recv(int fd, perf_sig_msg *m, char *buf, size_t cap, int timeout_ms);

#endif
