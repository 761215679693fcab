#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zdc/error.h"

static void set_bufsize(int fd, int opt, int force_opt, int bytes)
{
    if (bytes <= 0)
        return;
    /* The FORCE variant passes rmem_max/wmem_max but needs CAP_NET_ADMIN; without it the
     * plain option gives whatever the sysctl cap allows. */
    if (setsockopt(fd, SOL_SOCKET, force_opt, &bytes, sizeof bytes) != 0)
        (void)setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

static int new_socket(int family, const zdc_udp_opts *opts, int *out)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0)
        return errno == EAFNOSUPPORT ? ZDC_ERR_NO_INTERFACE : ZDC_ERR_IO;
    int one = 1;
    if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
        close(fd);
        return ZDC_ERR_IO;
    }
    if (opts) {
        set_bufsize(fd, SO_RCVBUF, SO_RCVBUFFORCE, opts->rcvbuf);
        set_bufsize(fd, SO_SNDBUF, SO_SNDBUFFORCE, opts->sndbuf);
        if (opts->gro)
            (void)zdc_udp_gro_on(fd);
    }
    *out = fd;
    return 0;
}

static int bind_error(int err)
{
    switch (err) {
    case EADDRINUSE:
        return ZDC_ERR_ADDR_IN_USE;
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
        return ZDC_ERR_NO_INTERFACE;
    default:
        return ZDC_ERR_IO;
    }
}

int zdc_udp_open(const zdc_addr *ip, uint16_t port_min, uint16_t port_max, const zdc_udp_opts *opts,
                 int *fd, zdc_addr *bound)
{
    if (!ip || !fd || zdc_addr_family(ip) == 0 || port_min > port_max ||
        (port_min == 0 && port_max != 0))
        return ZDC_ERR_INVALID_PARAMETER;
    int family = zdc_addr_family(ip) == 4 ? AF_INET : AF_INET6;
    int s = -1;
    int rv = new_socket(family, opts, &s);
    if (rv != 0)
        return rv;
    zdc_addr a = *ip;
    rv = ZDC_ERR_ADDR_IN_USE;
    for (uint32_t port = port_min; port <= port_max; port++) {
        zdc_addr_set_port(&a, (uint16_t)port);
        if (bind(s, &a.u.sa, a.len) == 0) {
            rv = 0;
            break;
        }
        rv = bind_error(errno);
        if (rv != ZDC_ERR_ADDR_IN_USE)
            break; /* another port will not fix a missing address */
    }
    if (rv != 0) {
        close(s);
        return rv;
    }
    zdc_addr local;
    socklen_t len = sizeof local.u;
    if (getsockname(s, &local.u.sa, &len) != 0 ||
        zdc_addr_from_sockaddr(&local, &local.u.sa, len) != 0) {
        close(s);
        return ZDC_ERR_IO;
    }
    *fd = s;
    if (bound)
        *bound = local;
    return 0;
}

bool zdc_udp_gso_supported(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0;
}

int zdc_udp_gro_on(int fd)
{
    int one = 1;
    return setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one) == 0 ? 0 : ZDC_ERR_NOT_SUPPORTED;
}

static bool wanted(const zdc_addr *a, unsigned flags)
{
    int fam = zdc_addr_family(a);
    if ((fam == 4 && !(flags & ZDC_IFADDR_IPV4)) || (fam == 6 && !(flags & ZDC_IFADDR_IPV6)))
        return false;
    if (zdc_addr_is_loopback(a) && !(flags & ZDC_IFADDR_LOOPBACK))
        return false;
    if (zdc_addr_is_link_local(a) && !(flags & ZDC_IFADDR_LINK_LOCAL))
        return false;
    if (fam == 6 && IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr))
        return false;
    return true;
}

int zdc_ifaddrs(zdc_addr *out, size_t cap, unsigned flags)
{
    struct ifaddrs *list = NULL;
    if (getifaddrs(&list) != 0)
        return ZDC_ERR_IO;
    size_t n = 0;
    for (struct ifaddrs *i = list; i && n < cap; i = i->ifa_next) {
        if (!i->ifa_addr || !(i->ifa_flags & IFF_UP))
            continue;
        int fam = i->ifa_addr->sa_family;
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        zdc_addr a;
        socklen_t len = fam == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        if (zdc_addr_from_sockaddr(&a, i->ifa_addr, len) != 0 || !wanted(&a, flags))
            continue;
        zdc_addr_set_port(&a, 0);
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++)
            dup = zdc_addr_equal(&out[k], &a);
        if (!dup)
            out[n++] = a;
    }
    freeifaddrs(list);
    return n > 0 ? (int)n : ZDC_ERR_NO_INTERFACE;
}
