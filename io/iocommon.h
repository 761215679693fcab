/* Helpers shared by the two backends: send message layout, receive delivery (GRO split,
 * truncation), errno mapping. Internal to io/. */
#ifndef ZDC_IO_IOCOMMON_H
#define ZDC_IO_IOCOMMON_H

#include <stdint.h>
#include <sys/socket.h>

#include "backend.h"

/* Control space for a UDP_GRO cmsg (int) plus slack for anything else the kernel adds. */
#define ZDC_IO_RX_CMSG_SPACE (CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(int)))
/* Control space for a UDP_SEGMENT cmsg (uint16_t). */
#define ZDC_IO_TX_CMSG_SPACE CMSG_SPACE(sizeof(uint16_t))

/* Payload bytes a receive buffer must hold: one datagram, or a GRO-coalesced run (64 KiB). */
size_t zdc_io_rx_payload_size(const zdc_io_config *cfg);

/* Copies the used part of a send descriptor. */
void zdc_io_tx_copy(zdc_io_tx *dst, const zdc_io_tx *src);

/* Points m at tx's destination and iovecs; adds the UDP_SEGMENT cmsg (in ctl, which must hold
 * ZDC_IO_TX_CMSG_SPACE bytes) when tx->gso_size is set. */
void zdc_io_fill_txmsg(struct msghdr *m, zdc_io_tx *tx, uint8_t *ctl);

/* Hands one receive (name/namelen from the kernel, flags its msg_flags, gro the segment
 * size or 0) to cb->on_recv, split into datagrams. Truncated receives are counted and
 * dropped. Returns the number of datagrams delivered. */
int zdc_io_deliver_one(const zdc_io_callbacks *cb, zdc_io_counters *ctr, int sock, const void *name,
                       socklen_t namelen, int flags, int gro, const uint8_t *data, size_t len);

/* The same for a recvmmsg entry (parses m's control data itself). */
int zdc_io_deliver(const zdc_io_callbacks *cb, zdc_io_counters *ctr, int sock,
                   const struct msghdr *m, const uint8_t *data, size_t len);

/* errno of a failed send or receive as a ZDC_ERR_* code. */
int zdc_io_errno_to_err(int err);

#endif /* ZDC_IO_IOCOMMON_H */
