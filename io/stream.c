/* TCP/TLS connection to a TURN server (stream.h). */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "turnmsg.h"
#include "zdc/error.h"

#define NS_PER_MS 1000000ull
/* The largest frame: a STUN message of 20 + 65535 bytes (a multiple of 4: 65552), or
 * ChannelData of 4 + 65535 + 1 padding; some room above it. */
#define RX_CAP  (65552u + 64u)
#define TX_INIT 4096u

struct zdc_stream {
    zdc_stream_config cfg;
    char name[256];
    uint8_t pin[32];
    bool pinned;
    int fd;
    int state;
    uint64_t deadline;
    SSL_CTX *ctx;
    SSL *ssl;
    bool want_write; /* TLS: the last operation wants the socket writable */
    char ktls[96];
    char info[160]; /* TLS: version, cipher, kTLS (on_open) */
    uint8_t *rx;
    size_t rx_len;
    uint8_t *tx; /* queued bytes tx[tx_head..tx_len) */
    size_t tx_head, tx_len, tx_cap;
    bool in_callback, free_pending;
    int connect_errno; /* connect() failed at once: reported by the first timeout */
};

/* ---- failure ------------------------------------------------------------------------------ */

static void fail(zdc_stream *s, const char *fmt, const char *detail)
{
    if (s->state == ZDC_STREAM_FAILED)
        return;
    char server[ZDC_ADDR_STRLEN], reason[320];
    zdc_addr_format(&s->cfg.server, true, server, sizeof server);
    char what[200];
    snprintf(what, sizeof what, fmt, detail ? detail : "");
    snprintf(reason, sizeof reason, "TURN over %s to %s: %s", s->cfg.tls ? "TLS" : "TCP", server,
             what);
    s->state = ZDC_STREAM_FAILED;
    s->deadline = UINT64_MAX;
    ZDC_LOG_W(s->cfg.log, ZDC_LOG_TURN, "%s", reason);
    bool outer = s->in_callback;
    s->in_callback = true;
    s->cfg.on_failed(s->cfg.user, reason);
    s->in_callback = outer;
}

static void fail_errno(zdc_stream *s, const char *fmt, int err)
{
    fail(s, fmt, strerror(err));
}

/* The reason OpenSSL gives for a failed handshake or record. */
static void fail_ssl(zdc_stream *s, const char *what)
{
    char buf[160] = "";
    /* The chain's verdict counts only when it was asked for (not pinned, not insecure). */
    long vr = s->cfg.insecure || s->pinned ? X509_V_OK : SSL_get_verify_result(s->ssl);
    unsigned long e = ERR_peek_last_error();
    if (vr != X509_V_OK)
        snprintf(buf, sizeof buf, "certificate not verified (%s)",
                 X509_verify_cert_error_string(vr));
    else if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    else
        snprintf(buf, sizeof buf, "connection closed");
    ERR_clear_error();
    char msg[200];
    snprintf(msg, sizeof msg, "%s: %%s", what);
    fail(s, msg, buf);
}

/* ---- TLS setup ---------------------------------------------------------------------------- */

/* "sha-256 AB:CD:..." or 64 hex digits (colons optional) into 32 bytes. */
static bool parse_pin(const char *text, uint8_t out[32])
{
    if (strncasecmp(text, "sha-256", 7) == 0)
        text += 7;
    size_t n = 0;
    int half = -1;
    for (; *text; text++) {
        char c = *text;
        int v = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (v < 0) {
            if (c != ':' && c != ' ')
                return false;
            continue;
        }
        if (half < 0) {
            half = v;
        } else {
            if (n == 32)
                return false;
            out[n++] = (uint8_t)(half << 4 | v);
            half = -1;
        }
    }
    return n == 32 && half < 0;
}

static int tls_setup(zdc_stream *s)
{
    s->ctx = SSL_CTX_new(TLS_client_method());
    if (!s->ctx)
        return ZDC_ERR_IO;
    SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
#ifdef SSL_OP_ENABLE_KTLS
    /* The kernel does the record layer where it can (docs/turn.md: the kTLS note). */
    SSL_CTX_set_options(s->ctx, SSL_OP_ENABLE_KTLS);
#endif
    SSL_CTX_set_mode(s->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    bool verify = !s->cfg.insecure && !s->pinned;
    if (verify && SSL_CTX_set_default_verify_paths(s->ctx) != 1)
        return ZDC_ERR_IO;
    SSL_CTX_set_verify(s->ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    s->ssl = SSL_new(s->ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1)
        return ZDC_ERR_IO;
    zdc_addr ip;
    bool is_ip = s->name[0] == 0 || zdc_addr_from_ip(&ip, s->name, strlen(s->name), 0) == 0;
    if (!is_ip && SSL_set_tlsext_host_name(s->ssl, s->name) != 1)
        return ZDC_ERR_IO;
    if (verify) {
        /* RFC 6125: the certificate must name the host we meant (or carry its IP). */
        X509_VERIFY_PARAM *vp = SSL_get0_param(s->ssl);
        char ipbuf[ZDC_ADDR_STRLEN];
        int ok = is_ip ? X509_VERIFY_PARAM_set1_ip_asc(
                             vp, s->name[0]
                                     ? s->name
                                     : zdc_addr_format(&s->cfg.server, false, ipbuf, sizeof ipbuf))
                       : SSL_set1_host(s->ssl, s->name);
        if (ok != 1)
            return ZDC_ERR_IO;
    }
    return 0;
}

/* After the handshake: the pin, and which record path OpenSSL took. */
static bool tls_opened(zdc_stream *s)
{
    if (s->pinned) {
        X509 *cert = SSL_get1_peer_certificate(s->ssl);
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned mdlen = 0;
        bool ok = cert && X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32 &&
                  memcmp(md, s->pin, 32) == 0;
        X509_free(cert);
        if (!ok) {
            fail(s, "certificate does not match the pinned fingerprint%s", "");
            return false;
        }
    }
    int tx = 0, rx = 0;
#ifndef OPENSSL_NO_KTLS
    tx = BIO_get_ktls_send(SSL_get_wbio(s->ssl)) ? 1 : 0;
    rx = BIO_get_ktls_recv(SSL_get_rbio(s->ssl)) ? 1 : 0;
#endif
    if (tx || rx)
        snprintf(s->ktls, sizeof s->ktls, "kTLS: %s", tx && rx ? "tx/rx" : tx ? "tx" : "rx");
    else
#ifdef OPENSSL_NO_KTLS
        snprintf(s->ktls, sizeof s->ktls, "kTLS: not available (OpenSSL built without it)");
#else
        snprintf(s->ktls, sizeof s->ktls, "kTLS: not available (%s)",
                 access("/sys/module/tls", F_OK) != 0 ? "the kernel has no tls module"
                                                      : "not enabled for this cipher suite");
#endif
    char server[ZDC_ADDR_STRLEN];
    zdc_addr_format(&s->cfg.server, true, server, sizeof server);
    snprintf(s->info, sizeof s->info, "%s, %s, %s", SSL_get_version(s->ssl),
             SSL_get_cipher_name(s->ssl), s->ktls);
    ZDC_LOG_I(s->cfg.log, ZDC_LOG_TURN, "TURN over TLS to %s: %s", server, s->info);
    return true;
}

/* ---- life cycle --------------------------------------------------------------------------- */

static void destroy(zdc_stream *s);

int zdc_stream_new(const zdc_stream_config *cfg, uint64_t now_ns, zdc_stream **out)
{
    if (!cfg || !out || !cfg->on_message || !cfg->on_failed || zdc_addr_family(&cfg->server) == 0)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_stream *s = calloc(1, sizeof *s);
    if (!s)
        return ZDC_ERR_NOMEM;
    s->cfg = *cfg;
    s->fd = -1;
    if (cfg->tls && cfg->fingerprint && cfg->fingerprint[0]) {
        if (!parse_pin(cfg->fingerprint, s->pin)) {
            free(s);
            return ZDC_ERR_INVALID_PARAMETER;
        }
        s->pinned = true;
    }
    snprintf(s->name, sizeof s->name, "%s", cfg->server_name ? cfg->server_name : "");
    s->cfg.server_name = s->name;
    s->cfg.fingerprint = NULL;
    if (!s->cfg.connect_timeout_ms)
        s->cfg.connect_timeout_ms = ZDC_STREAM_CONNECT_TIMEOUT_MS;
    if (!s->cfg.max_tx)
        s->cfg.max_tx = ZDC_STREAM_MAX_TX;
    s->rx = malloc(RX_CAP);
    int rv = s->rx ? 0 : ZDC_ERR_NOMEM;
    if (rv == 0) {
        s->fd = socket(zdc_addr_family(&cfg->server) == 4 ? AF_INET : AF_INET6,
                       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        rv = s->fd < 0 ? ZDC_ERR_IO : 0;
    }
    if (rv == 0) {
        int one = 1; /* STUN transactions and ChannelData: latency matters, not segments */
        (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (cfg->tls)
            rv = tls_setup(s);
    }
    if (rv != 0) {
        destroy(s);
        return rv;
    }
    s->state = ZDC_STREAM_CONNECTING;
    s->deadline = now_ns + (uint64_t)s->cfg.connect_timeout_ms * NS_PER_MS;
    *out = s;
    if (connect(s->fd, &cfg->server.u.sa, cfg->server.len) != 0 && errno != EINPROGRESS) {
        /* Reported like any later failure: the owner has its stream and hears on_failed. */
        int err = errno;
        s->in_callback = true;
        fail_errno(s, "cannot connect (%s)", err);
        s->in_callback = false;
        if (s->free_pending) { /* the owner dropped it from on_failed */
            destroy(s);
            *out = NULL;
        }
    }
    return 0;
}

static void destroy(zdc_stream *s)
{
    if (s->state == ZDC_STREAM_OPEN && s->tx_len > s->tx_head) {
        /* Best effort, never blocking: a Refresh with LIFETIME 0 is usually queued last. */
        if (s->ssl)
            (void)SSL_write(s->ssl, s->tx + s->tx_head, (int)(s->tx_len - s->tx_head));
        else
            (void)!send(s->fd, s->tx + s->tx_head, s->tx_len - s->tx_head, MSG_NOSIGNAL);
    }
    if (s->ssl && s->state == ZDC_STREAM_OPEN)
        (void)SSL_shutdown(s->ssl);
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
    ERR_clear_error();
    if (s->fd >= 0)
        close(s->fd);
    free(s->rx);
    free(s->tx);
    free(s);
}

void zdc_stream_free(zdc_stream *s)
{
    if (!s)
        return;
    if (s->in_callback)
        s->free_pending = true; /* from inside a callback: freed when the call returns */
    else
        destroy(s);
}

/* ---- sending ------------------------------------------------------------------------------ */

int zdc_stream_send(zdc_stream *s, const uint8_t *p, size_t len)
{
    if (!s || (!p && len))
        return ZDC_ERR_INVALID_PARAMETER;
    if (s->state == ZDC_STREAM_FAILED)
        return ZDC_ERR_CLOSED;
    size_t queued = s->tx_len - s->tx_head;
    if (len > s->cfg.max_tx - queued)
        return ZDC_ERR_QUEUE_FULL;
    if (s->tx_head > 0 && s->tx_len + len > s->tx_cap) {
        memmove(s->tx, s->tx + s->tx_head, queued);
        s->tx_len = queued;
        s->tx_head = 0;
    }
    if (s->tx_len + len > s->tx_cap) {
        size_t cap = s->tx_cap ? s->tx_cap : TX_INIT;
        while (cap < s->tx_len + len)
            cap *= 2;
        if (cap > s->cfg.max_tx)
            cap = s->cfg.max_tx;
        uint8_t *n = realloc(s->tx, cap);
        if (!n)
            return ZDC_ERR_QUEUE_FULL;
        s->tx = n;
        s->tx_cap = cap;
    }
    memcpy(s->tx + s->tx_len, p, len);
    s->tx_len += len;
    return 0;
}

/* Writes what the socket takes. Returns false when the stream failed. */
static bool flush(zdc_stream *s)
{
    while (s->tx_len > s->tx_head) {
        size_t n = s->tx_len - s->tx_head;
        if (s->ssl) {
            int w = SSL_write(s->ssl, s->tx + s->tx_head, n > INT32_MAX ? INT32_MAX : (int)n);
            if (w <= 0) {
                int err = SSL_get_error(s->ssl, w);
                if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
                    s->want_write = err == SSL_ERROR_WANT_WRITE;
                    return true;
                }
                fail_ssl(s, "write failed");
                return false;
            }
            s->tx_head += (size_t)w;
        } else {
            ssize_t w = send(s->fd, s->tx + s->tx_head, n, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return true;
                fail_errno(s, "write failed (%s)", errno);
                return false;
            }
            s->tx_head += (size_t)w;
        }
    }
    s->tx_head = s->tx_len = 0;
    s->want_write = false;
    return true;
}

/* ---- receiving ---------------------------------------------------------------------------- */

/* Hands every whole message in rx to on_message. Returns false when the stream failed. */
static bool deliver(zdc_stream *s)
{
    size_t off = 0;
    while (off < s->rx_len) {
        int n = zdc_turn_stream_frame(s->rx + off, s->rx_len - off);
        if (n == 0)
            break;
        if (n < 0) {
            /* RFC 8656 §12.5 / RFC 6062: nothing but STUN and ChannelData on the stream. */
            fail(s, "the server sent something that is neither STUN nor ChannelData%s", "");
            return false;
        }
        s->cfg.on_message(s->cfg.user, s->rx + off, (size_t)n);
        off += (size_t)n;
        if (s->free_pending || s->state == ZDC_STREAM_FAILED)
            return false;
    }
    if (off > 0) {
        memmove(s->rx, s->rx + off, s->rx_len - off);
        s->rx_len -= off;
    }
    return true;
}

/* Reads what is there. Returns false when the stream failed. */
static bool readable(zdc_stream *s)
{
    for (int round = 0; round < 64; round++) { /* bounded: other streams get their turn */
        size_t room = RX_CAP - s->rx_len;
        ssize_t r;
        if (s->ssl) {
            int n = SSL_read(s->ssl, s->rx + s->rx_len, (int)room);
            if (n <= 0) {
                int err = SSL_get_error(s->ssl, n);
                if (err == SSL_ERROR_WANT_READ)
                    return true;
                if (err == SSL_ERROR_WANT_WRITE) {
                    s->want_write = true;
                    return true;
                }
                if (err == SSL_ERROR_ZERO_RETURN)
                    fail(s, "the server closed the connection%s", "");
                else
                    fail_ssl(s, "read failed");
                return false;
            }
            r = n;
        } else {
            r = recv(s->fd, s->rx + s->rx_len, room, 0);
            if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return true;
                fail_errno(s, "connection lost (%s)", errno);
                return false;
            }
            if (r == 0) {
                fail(s, "the server closed the connection%s", "");
                return false;
            }
        }
        s->rx_len += (size_t)r;
        if (!deliver(s))
            return false;
    }
    return true;
}

/* ---- readiness ---------------------------------------------------------------------------- */

int zdc_stream_fd(const zdc_stream *s)
{
    return s ? s->fd : -1;
}

short zdc_stream_events(const zdc_stream *s)
{
    if (!s || s->state == ZDC_STREAM_FAILED)
        return 0;
    if (s->state == ZDC_STREAM_CONNECTING)
        return POLLOUT;
    if (s->state == ZDC_STREAM_HANDSHAKING)
        return s->want_write ? POLLOUT : POLLIN;
    return (short)(POLLIN | (s->tx_len > s->tx_head || s->want_write ? POLLOUT : 0));
}

static void handshake(zdc_stream *s)
{
    int r = SSL_connect(s->ssl);
    if (r == 1) {
        if (!tls_opened(s))
            return;
        s->state = ZDC_STREAM_OPEN;
        s->deadline = UINT64_MAX;
        s->want_write = false;
        if (s->cfg.on_open)
            s->cfg.on_open(s->cfg.user, s->info);
        if (s->state == ZDC_STREAM_OPEN && !s->free_pending && flush(s))
            readable(s); /* the server may already have sent (or closed) */
        return;
    }
    int err = SSL_get_error(s->ssl, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        s->want_write = err == SSL_ERROR_WANT_WRITE;
        return;
    }
    fail_ssl(s, "TLS handshake failed");
}

static void connected(zdc_stream *s)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err) {
        fail_errno(s, "cannot connect (%s)", err);
        return;
    }
    if (s->ssl) {
        s->state = ZDC_STREAM_HANDSHAKING;
        handshake(s);
        return;
    }
    s->state = ZDC_STREAM_OPEN;
    s->deadline = UINT64_MAX;
    char server[ZDC_ADDR_STRLEN];
    zdc_addr_format(&s->cfg.server, true, server, sizeof server);
    ZDC_LOG_I(s->cfg.log, ZDC_LOG_TURN, "TURN over TCP to %s: connected", server);
    if (s->cfg.on_open)
        s->cfg.on_open(s->cfg.user, "");
    if (!s->free_pending)
        flush(s);
}

static void handle_io(zdc_stream *s, short revents)
{
    switch (s->state) {
    case ZDC_STREAM_CONNECTING:
        if (revents & (POLLOUT | POLLERR | POLLHUP))
            connected(s);
        return;
    case ZDC_STREAM_HANDSHAKING:
        handshake(s);
        return;
    default:
        break;
    }
    if ((revents & (POLLOUT | POLLERR)) && !flush(s))
        return;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
        if (!readable(s))
            return;
        if (s->tx_len > s->tx_head)
            flush(s); /* on_message may have queued an answer */
    }
}

void zdc_stream_handle_io(zdc_stream *s, short revents, uint64_t now_ns)
{
    (void)now_ns;
    if (!s || s->state == ZDC_STREAM_FAILED || !revents)
        return;
    s->in_callback = true; /* zdc_stream_free from on_message or on_failed waits for the end */
    handle_io(s, revents);
    s->in_callback = false;
    if (s->free_pending)
        destroy(s);
}

uint64_t zdc_stream_deadline(const zdc_stream *s)
{
    return s ? s->deadline : UINT64_MAX;
}

void zdc_stream_handle_timeout(zdc_stream *s, uint64_t now_ns)
{
    if (!s || s->state == ZDC_STREAM_FAILED || now_ns < s->deadline)
        return;
    char what[96];
    snprintf(what, sizeof what, "%s not done after %u ms%%s",
             s->state == ZDC_STREAM_CONNECTING ? "connect" : "TLS handshake",
             (unsigned)s->cfg.connect_timeout_ms);
    s->in_callback = true;
    if (s->connect_errno)
        fail_errno(s, "cannot connect (%s)", s->connect_errno);
    else
        fail(s, what, "");
    s->in_callback = false;
    if (s->free_pending)
        destroy(s);
}

int zdc_stream_state(const zdc_stream *s)
{
    return s ? s->state : ZDC_STREAM_FAILED;
}

const char *zdc_stream_ktls(const zdc_stream *s)
{
    return s ? s->ktls : "";
}

size_t zdc_stream_queued(const zdc_stream *s)
{
    return s ? s->tx_len - s->tx_head : 0;
}
