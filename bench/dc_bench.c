/* dc_bench: data channels over loopback, both peers in one process on one engine (one thread
 * does everything: I/O, ICE, DTLS, SCTP, both applications).
 *
 * Measures
 *   - connect time: zdc_peer_new to the channel open on both sides (offer, answer, candidates,
 *     ICE checks, DTLS handshake, SCTP association, DCEP), median of several connections;
 *   - throughput at message sizes 100 B, 1 KiB, 16 KiB, 64 KiB on a reliable ordered channel
 *     and an unreliable one (unordered, maxRetransmits 0): payload bytes delivered per second,
 *     every message checked (length and a sequence number in its first bytes);
 * beside a reference measured in the same run: the same payload bytes pushed through a plain
 * loopback UDP socket pair in 1200-byte datagrams by one thread (sendto + recvfrom, no
 * crypto, no SCTP) — the ceiling for a one-thread stack — reported as a ratio.
 *
 * Then the same throughput cases with the two peers in two processes (fork; each process has
 * its own engine and thread; signaling over a socketpair), where sender and receiver run on
 * separate cores as they would on two machines.
 *
 * Usage: dc_bench [seconds per throughput case, default 1.0]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zdc/zdc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- two peers, signaling relayed in process -------------------------------------------- */

typedef struct side {
    zdc_peer self, other;
    zdc_channel ch;
    bool open;
    /* receiving */
    uint64_t rx_msgs, rx_bytes, rx_bad, next_seq;
    bool ordered_check;
} side;

typedef struct pending {
    zdc_peer to;
    bool desc;
    char type[8], mid[16];
    int index;
    char *text;
} pending;

static pending queue[512];
static int n_queue;

/* Two-process mode: signaling goes to the other process over this SOCK_SEQPACKET socket (one
 * message per send: 'D' type NUL sdp, 'C' mid NUL index NUL candidate, 'E' count, 'R' result). */
static int sig_fd = -1;

static void sig_send(char kind, const char *a, const char *b, const char *c)
{
    char buf[16384];
    int n = snprintf(buf, sizeof buf, "%c%s%c%s%c%s", kind, a, 0, b ? b : "", 0, c ? c : "");
    if (n > 0 && (size_t)n < sizeof buf)
        (void)send(sig_fd, buf, (size_t)n + 1, MSG_NOSIGNAL);
}

static void post(zdc_peer to, bool desc, const char *type, const char *mid, int index,
                 const char *text)
{
    if (sig_fd >= 0) {
        char idx[16];
        snprintf(idx, sizeof idx, "%d", index);
        if (desc)
            sig_send('D', type, text, NULL);
        else
            sig_send('C', mid, idx, text);
        return;
    }
    if (n_queue == (int)(sizeof queue / sizeof queue[0]))
        return;
    pending *p = &queue[n_queue++];
    *p = (pending){.to = to, .desc = desc, .index = index, .text = strdup(text)};
    snprintf(p->type, sizeof p->type, "%s", type ? type : "");
    snprintf(p->mid, sizeof p->mid, "%s", mid ? mid : "");
}

static void deliver(void)
{
    int n = n_queue;
    pending batch[512];
    memcpy(batch, queue, sizeof(pending) * (size_t)n);
    n_queue = 0;
    for (int i = 0; i < n; i++) {
        if (batch[i].desc)
            zdc_peer_set_remote_description(batch[i].to, batch[i].type, batch[i].text);
        else
            zdc_peer_add_ice_candidate(batch[i].to, batch[i].mid, batch[i].index, batch[i].text);
        free(batch[i].text);
    }
}

static void on_desc(void *u, zdc_peer p, const char *type, const char *sdp)
{
    side *s = u;
    zdc_peer_set_local_description(p, type, sdp);
    post(s->other, true, type, NULL, 0, sdp);
}

static void on_cand(void *u, zdc_peer p, const char *mid, int index, const char *c)
{
    side *s = u;
    (void)p;
    post(s->other, false, NULL, mid, index, c);
}

static void on_dc(void *u, zdc_peer p, zdc_channel ch)
{
    side *s = u;
    (void)p;
    s->ch = ch;
}

static void on_open(void *u, zdc_peer p, zdc_channel ch)
{
    side *s = u;
    (void)p;
    s->ch = ch;
    s->open = true;
}

static void on_msg(void *u, zdc_peer p, zdc_channel ch)
{
    side *s = u;
    (void)p;
    const uint8_t *d;
    size_t len;
    bool text;
    while (zdc_channel_get_packet(ch, &d, &len, &text) == 0) {
        uint64_t seq = 0;
        if (len >= 8)
            memcpy(&seq, d, 8);
        if (len < 8 || text || (s->ordered_check && seq != s->next_seq) || seq < s->next_seq)
            s->rx_bad++;
        s->next_seq = seq + 1;
        s->rx_msgs++;
        s->rx_bytes += len;
        zdc_channel_release_packet(ch);
    }
}

static const zdc_peer_callbacks callbacks = {
    .on_session_description_created = on_desc,
    .on_ice_candidate_created = on_cand,
    .on_data_channel_received = on_dc,
    .on_channel_open = on_open,
    .on_channel_message = on_msg,
};

/* Connects a and b with one channel from a; returns the seconds it took, or -1. */
static double connect_pair(zdc_engine *e, side *a, side *b, const zdc_channel_options *o)
{
    memset(a, 0, sizeof *a);
    memset(b, 0, sizeof *b);
    double t0 = now_s();
    zdc_peer_callbacks ca = callbacks, cb = callbacks;
    ca.user = a;
    cb.user = b;
    if (zdc_peer_new(e, &ca, &a->self) || zdc_peer_new(e, &cb, &b->self))
        return -1;
    a->other = b->self;
    b->other = a->self;
    zdc_peer_config cfg = {0};
    zdc_peer_initialize(a->self, &cfg);
    zdc_peer_initialize(b->self, &cfg);
    if (zdc_peer_create_data_channel(a->self, "bench", o, &a->ch) || zdc_peer_create_offer(a->self))
        return -1;
    double deadline = t0 + 10;
    while (!(a->open && b->open) && now_s() < deadline) {
        zdc_engine_poll(e, 1);
        deliver();
    }
    return a->open && b->open ? now_s() - t0 : -1;
}

static void free_pair(side *a, side *b)
{
    zdc_peer_free(a->self);
    zdc_peer_free(b->self);
    for (int i = 0; i < n_queue; i++)
        free(queue[i].text);
    n_queue = 0;
}

/* Sends size-byte messages from a to b for `secs`; returns delivered payload bytes/s. */
static double run_throughput(zdc_engine *e, side *a, side *b, size_t size, bool reliable,
                             double secs, uint64_t *sent_out)
{
    uint8_t *msg = calloc(1, size);
    uint64_t seq = 0;
    b->ordered_check = reliable;
    zdc_channel_set_buffered_amount_low_threshold(a->ch, 256 * 1024);
    double t0 = now_s(), end = t0 + secs;
    while (now_s() < end) {
        /* Keep about 1 MiB queued: enough to fill the pipe, bounded memory. */
        while (zdc_channel_get_buffered_amount(a->ch) < 1024 * 1024) {
            memcpy(msg, &seq, 8);
            if (zdc_channel_put_packet(a->ch, msg, size) != 0)
                break;
            seq++;
        }
        zdc_engine_poll(e, 0);
    }
    /* Drain what is in flight (bounded), then count. */
    double drain_end = now_s() + 2;
    while (b->rx_msgs < seq && now_s() < drain_end)
        zdc_engine_poll(e, 1);
    double t = now_s() - t0;
    free(msg);
    *sent_out = seq;
    return (double)b->rx_bytes / t;
}

/* ---- the reference: one thread, plain UDP over loopback --------------------------------- */

static double udp_reference(double secs)
{
    int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int buf = 4 << 20;
    setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    bind(rx, (struct sockaddr *)&a, sizeof a);
    getsockname(rx, (struct sockaddr *)&a, &al);
    uint8_t d[1200] = {0}, r[1500];
    uint64_t bytes = 0;
    double t0 = now_s(), end = t0 + secs;
    while (now_s() < end) {
        for (int i = 0; i < 32; i++)
            sendto(tx, d, sizeof d, 0, (struct sockaddr *)&a, sizeof a);
        for (int i = 0; i < 32; i++) {
            ssize_t n = recv(rx, r, sizeof r, MSG_DONTWAIT);
            if (n <= 0)
                break;
            bytes += (uint64_t)n;
        }
    }
    double t = now_s() - t0;
    close(rx);
    close(tx);
    return (double)bytes / t;
}

/* ---- two processes ------------------------------------------------------------------------ */

/* Applies signaling from the other process to `self`; a control message ('E', 'R') is copied to
 * ctl and 1 returned. */
static int sig_pump(zdc_peer self, char *ctl, size_t cap)
{
    char buf[16384];
    for (;;) {
        ssize_t n = recv(sig_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n <= 0)
            return 0;
        buf[n] = 0;
        const char *a = buf + 1, *b = a + strlen(a) + 1, *c = b + strlen(b) + 1;
        if (buf[0] == 'D') {
            zdc_peer_set_remote_description(self, a, b);
        } else if (buf[0] == 'C') {
            zdc_peer_add_ice_candidate(self, a, atoi(b), c);
        } else {
            snprintf(ctl, cap, "%c%.150s", buf[0], a);
            return 1;
        }
    }
}

/* The receiving process: answers, counts and checks messages, reports when told the count. */
static int receiver_main(bool reliable)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    o.ipv6 = false;
    zdc_engine *e;
    if (zdc_engine_new(&o, &e) != 0)
        return 1;
    side b;
    memset(&b, 0, sizeof b);
    b.ordered_check = reliable;
    zdc_peer_callbacks cb = callbacks;
    cb.user = &b;
    zdc_peer_config cfg = {0};
    if (zdc_peer_new(e, &cb, &b.self) || zdc_peer_initialize(b.self, &cfg))
        return 1;
    uint64_t expect = UINT64_MAX, seen = 0;
    double last_rx = now_s(), deadline = now_s() + 60;
    char ctl[64];
    while (now_s() < deadline) {
        zdc_engine_poll(e, 1);
        if (b.rx_msgs != seen) {
            seen = b.rx_msgs;
            last_rx = now_s();
        }
        if (sig_pump(b.self, ctl, sizeof ctl) && ctl[0] == 'E')
            expect = strtoull(ctl + 1, NULL, 10);
        /* Done: everything arrived, or (unreliable) nothing more for half a second. */
        if (expect != UINT64_MAX && (b.rx_msgs >= expect || now_s() - last_rx > 0.5))
            break;
    }
    char res[160];
    snprintf(res, sizeof res, "%llu %llu %llu %.9f", (unsigned long long)b.rx_msgs,
             (unsigned long long)b.rx_bytes, (unsigned long long)b.rx_bad, last_rx);
    sig_send('R', res, NULL, NULL);
    zdc_peer_free(b.self);
    zdc_engine_free(e);
    return 0;
}

typedef struct two_result {
    bool ok;
    uint64_t sent, received, bytes, bad;
    double seconds;
} two_result;

static two_result two_process_case(zdc_engine *e, size_t size, bool reliable, double secs)
{
    two_result r = {0};
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
        return r;
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return r;
    if (pid == 0) {
        close(sv[0]);
        sig_fd = sv[1];
        _exit(receiver_main(reliable));
    }
    close(sv[1]);
    sig_fd = sv[0];
    side a;
    memset(&a, 0, sizeof a);
    zdc_peer_callbacks cb = callbacks;
    cb.user = &a;
    zdc_peer_config cfg = {0};
    zdc_channel_options opt = zdc_channel_options_default();
    if (!reliable) {
        opt.ordered = false;
        opt.max_retransmits = 0;
    }
    char ctl[200];
    if (zdc_peer_new(e, &cb, &a.self) == 0 && zdc_peer_initialize(a.self, &cfg) == 0 &&
        zdc_peer_create_data_channel(a.self, "bench", &opt, &a.ch) == 0 &&
        zdc_peer_create_offer(a.self) == 0) {
        double deadline = now_s() + 10;
        while (!a.open && now_s() < deadline) {
            zdc_engine_poll(e, 1);
            sig_pump(a.self, ctl, sizeof ctl);
        }
    }
    if (a.open) {
        uint8_t *msg = calloc(1, size);
        uint64_t seq = 0;
        double t0 = now_s(), end = t0 + secs;
        while (now_s() < end) {
            while (zdc_channel_get_buffered_amount(a.ch) < 1024 * 1024) {
                memcpy(msg, &seq, 8);
                if (zdc_channel_put_packet(a.ch, msg, size) != 0)
                    break;
                seq++;
            }
            zdc_engine_poll(e, 0);
        }
        free(msg);
        char cnt[32];
        snprintf(cnt, sizeof cnt, "%llu", (unsigned long long)seq);
        sig_send('E', cnt, NULL, NULL);
        /* Keep polling: what is still queued or unacknowledged must go out. */
        double deadline = now_s() + 10;
        while (now_s() < deadline) {
            zdc_engine_poll(e, 1);
            if (sig_pump(a.self, ctl, sizeof ctl) && ctl[0] == 'R') {
                unsigned long long rx, bytes, bad;
                double last;
                if (sscanf(ctl + 1, "%llu %llu %llu %lf", &rx, &bytes, &bad, &last) == 4) {
                    r = (two_result){.ok = true,
                                     .sent = seq,
                                     .received = rx,
                                     .bytes = bytes,
                                     .bad = bad,
                                     .seconds = last - t0};
                }
                break;
            }
        }
    }
    zdc_peer_free(a.self);
    close(sv[0]);
    sig_fd = -1;
    int status;
    waitpid(pid, &status, 0);
    return r;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0 || secs > 30)
        secs = 1.0;
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.include_loopback = true;
    o.bind_address = "127.0.0.1";
    o.ipv6 = false;
    zdc_engine *e;
    int rc = zdc_engine_new(&o, &e);
    if (rc) {
        fprintf(stderr, "zdc_engine_new: %s\n", zdc_strerror(rc));
        return 1;
    }
    printf("dc_bench: two peers, one engine (%s), one thread, 127.0.0.1; %.1f s per case\n",
           zdc_engine_backend_name(e), secs);

    /* Connect time. */
    enum { CONNECTS = 7 };
    double ct[CONNECTS];
    int nct = 0;
    zdc_channel_options rel = zdc_channel_options_default();
    for (int i = 0; i < CONNECTS; i++) {
        side a, b;
        double t = connect_pair(e, &a, &b, &rel);
        free_pair(&a, &b);
        if (t >= 0)
            ct[nct++] = t;
    }
    if (nct == 0) {
        fprintf(stderr, "dc_bench: peers did not connect\n");
        zdc_engine_free(e);
        return 1;
    }
    for (int i = 1; i < nct; i++) /* insertion sort */
        for (int j = i; j > 0 && ct[j] < ct[j - 1]; j--) {
            double x = ct[j];
            ct[j] = ct[j - 1];
            ct[j - 1] = x;
        }
    printf("\nconnect (create -> channel open on both sides): median %.1f ms, min %.1f, max "
           "%.1f over %d\n",
           ct[nct / 2] * 1e3, ct[0] * 1e3, ct[nct - 1] * 1e3, nct);

    double ref = udp_reference(secs);
    printf("\nreference: plain UDP, one thread, 1200-byte datagrams: %.1f MB/s\n\n", ref / 1e6);
    printf("%-28s %9s %12s %10s %10s %8s %6s\n", "channel", "size", "msgs/s", "MB/s", "vs UDP",
           "loss%", "bad");
    static const size_t sizes[] = {100, 1024, 16384, 65536};
    int failures = 0;
    for (int kind = 0; kind < 2; kind++) {
        bool reliable = kind == 0;
        zdc_channel_options opt = zdc_channel_options_default();
        if (!reliable) {
            opt.ordered = false;
            opt.max_retransmits = 0;
        }
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            side a, b;
            if (connect_pair(e, &a, &b, &opt) < 0) {
                printf("%-28s %9zu  did not connect\n", reliable ? "reliable ordered" : "x",
                       sizes[i]);
                failures++;
                free_pair(&a, &b);
                continue;
            }
            uint64_t sent = 0;
            double bps = run_throughput(e, &a, &b, sizes[i], reliable, secs, &sent);
            double loss = sent ? 100.0 * (double)(sent - b.rx_msgs) / (double)sent : 0;
            printf("%-28s %9zu %12.0f %10.1f %9.2fx %8.2f %6llu\n",
                   reliable ? "reliable ordered" : "unordered, maxRetransmits 0", sizes[i],
                   bps / (double)sizes[i], bps / 1e6, bps / ref, loss,
                   (unsigned long long)b.rx_bad);
            if (b.rx_bad || (reliable && b.rx_msgs != sent))
                failures++;
            free_pair(&a, &b);
        }
    }
    printf("\ntwo processes (one engine and thread each; the receiver counts and checks):\n");
    printf("%-28s %9s %12s %10s %10s %8s %6s\n", "channel", "size", "msgs/s", "MB/s", "vs UDP",
           "loss%", "bad");
    for (int kind = 0; kind < 2; kind++) {
        bool reliable = kind == 0;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            two_result r = two_process_case(e, sizes[i], reliable, secs);
            const char *name = reliable ? "reliable ordered" : "unordered, maxRetransmits 0";
            if (!r.ok || r.seconds <= 0) {
                printf("%-28s %9zu  did not complete\n", name, sizes[i]);
                failures++;
                continue;
            }
            double bps = (double)r.bytes / r.seconds;
            double loss = r.sent ? 100.0 * (double)(r.sent - r.received) / (double)r.sent : 0;
            printf("%-28s %9zu %12.0f %10.1f %9.2fx %8.2f %6llu\n", name, sizes[i],
                   bps / (double)sizes[i], bps / 1e6, bps / ref, loss, (unsigned long long)r.bad);
            if (r.bad || (reliable && r.received != r.sent))
                failures++;
        }
    }
    zdc_engine_free(e);
    if (failures)
        printf("\n%d case(s) lost or corrupted reliable data: see above\n", failures);
    return failures ? 1 : 0;
}
