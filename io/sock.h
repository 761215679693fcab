/* UDP sockets and local interface addresses: the only place zdc opens sockets.
 *
 * One non-blocking UDP socket per address family is shared by every peer of an engine. IPv6
 * sockets are IPV6_V6ONLY so an IPv4 socket can own the same port. SO_REUSEADDR is never set:
 * a port already bound by anyone is reported as ZDC_ERR_ADDR_IN_USE instead of being shared. */
#ifndef ZDC_IO_SOCK_H
#define ZDC_IO_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

typedef struct zdc_udp_opts {
    int rcvbuf; /* SO_RCVBUF bytes wanted (0: leave the kernel default) */
    int sndbuf; /* SO_SNDBUF bytes wanted (0: leave the kernel default) */
    bool gro;   /* ask for UDP_GRO (coalesced receives, see zdc_udp_gro_on) */
} zdc_udp_opts;

/* Opens a non-blocking UDP socket bound to the IP of `ip` (its port is ignored) and the first
 * free port in [port_min, port_max]; port_min == port_max == 0 lets the kernel choose.
 * On success *fd is the socket and *bound its local address (with the real port).
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (no IP, port_min > port_max), ZDC_ERR_ADDR_IN_USE
 * (every port of the range is taken), ZDC_ERR_NO_INTERFACE (the IP is not local to this host,
 * or its family is not available) or ZDC_ERR_IO. */
int zdc_udp_open(const zdc_addr *ip, uint16_t port_min, uint16_t port_max, const zdc_udp_opts *opts,
                 int *fd, zdc_addr *bound);

/* True when the kernel accepts UDP_SEGMENT (GSO sends) on this socket. */
bool zdc_udp_gso_supported(int fd);

/* Turns UDP_GRO on. Returns 0 or ZDC_ERR_NOT_SUPPORTED. */
int zdc_udp_gro_on(int fd);

/* Which local addresses zdc_ifaddrs lists. */
enum zdc_ifaddr_flags {
    ZDC_IFADDR_IPV4 = 1u << 0,
    ZDC_IFADDR_IPV6 = 1u << 1,
    ZDC_IFADDR_LOOPBACK = 1u << 2,   /* 127/8 and ::1 (tests need them) */
    ZDC_IFADDR_LINK_LOCAL = 1u << 3, /* 169.254/16 and fe80::/10 (with their scope id) */
};

/* Lists the addresses of interfaces that are up, as host-candidate IPs (port 0), at most cap
 * of them into out. Loopback and link-local addresses only when their flag is set.
 * Returns the count (> 0), ZDC_ERR_NO_INTERFACE (nothing usable) or ZDC_ERR_IO. */
int zdc_ifaddrs(zdc_addr *out, size_t cap, unsigned flags);

#endif /* ZDC_IO_SOCK_H */
