#include "iocommon.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>

#include "zdc/error.h"

size_t zdc_io_rx_payload_size(const zdc_io_config *cfg)
{
    size_t n = cfg->max_datagram ? cfg->max_datagram : ZDC_IO_MAX_DATAGRAM;
    if (cfg->gro || n > ZDC_IO_MAX_DATAGRAM)
        n = 65535; /* a coalesced run is at most one 64 KiB skb */
    return n;
}

void zdc_io_tx_copy(zdc_io_tx *dst, const zdc_io_tx *src)
{
    dst->to = src->to;
    dst->sock = src->sock;
    dst->gso_size = src->gso_size;
    dst->niov = src->niov;
    memcpy(dst->iov, src->iov, src->niov * sizeof src->iov[0]);
    memcpy(dst->cookie, src->cookie, src->niov * sizeof src->cookie[0]);
}

void zdc_io_fill_txmsg(struct msghdr *m, zdc_io_tx *tx, uint8_t *ctl)
{
    *m = (struct msghdr){
        .msg_name = &tx->to.u.sa,
        .msg_namelen = tx->to.len,
        .msg_iov = tx->iov,
        .msg_iovlen = tx->niov,
    };
    if (tx->gso_size == 0)
        return;
    memset(ctl, 0, ZDC_IO_TX_CMSG_SPACE);
    m->msg_control = ctl;
    m->msg_controllen = ZDC_IO_TX_CMSG_SPACE;
    struct cmsghdr *c = CMSG_FIRSTHDR(m);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    memcpy(CMSG_DATA(c), &tx->gso_size, sizeof tx->gso_size);
}

int zdc_io_deliver_one(const zdc_io_callbacks *cb, zdc_io_counters *ctr, int sock, const void *name,
                       socklen_t namelen, int flags, int gro, const uint8_t *data, size_t len)
{
    if (flags & MSG_TRUNC) {
        ctr->rx_truncated++;
        return 0;
    }
    zdc_addr from;
    if (zdc_addr_from_sockaddr(&from, name, namelen) != 0)
        return 0;
    zdc_addr_unmap_v4(&from);
    if (gro <= 0 || (size_t)gro >= len) {
        cb->on_recv(cb->user, sock, &from, data, len);
        return 1;
    }
    ctr->rx_gro++;
    int n = 0;
    for (size_t off = 0; off < len; off += (size_t)gro, n++) {
        size_t seg = len - off < (size_t)gro ? len - off : (size_t)gro;
        cb->on_recv(cb->user, sock, &from, data + off, seg);
    }
    return n;
}

int zdc_io_deliver(const zdc_io_callbacks *cb, zdc_io_counters *ctr, int sock,
                   const struct msghdr *m, const uint8_t *data, size_t len)
{
    int gro = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
            memcpy(&gro, CMSG_DATA(c), sizeof gro);
    }
    return zdc_io_deliver_one(cb, ctr, sock, m->msg_name, m->msg_namelen, m->msg_flags, gro, data,
                              len);
}

int zdc_io_errno_to_err(int err)
{
    switch (err) {
    case EMSGSIZE:
        return ZDC_ERR_TOO_LARGE;
    case EAGAIN:
        return ZDC_ERR_AGAIN;
    case ENOBUFS:
    case ENOMEM:
        return ZDC_ERR_NOMEM;
    case EINVAL:
        return ZDC_ERR_INVALID_PARAMETER;
    default:
        return ZDC_ERR_IO;
    }
}
