#include "addr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "zdc/error.h"

int zdc_addr_from_ip(zdc_addr *a, const char *ip, size_t ip_len, uint16_t port)
{
    char buf[INET6_ADDRSTRLEN + 1];
    memset(a, 0, sizeof *a);
    if (!ip || ip_len == 0 || ip_len >= sizeof buf)
        return ZDC_ERR_MALFORMED;
    memcpy(buf, ip, ip_len);
    buf[ip_len] = '\0';
    if (inet_pton(AF_INET, buf, &a->u.in4.sin_addr) == 1) {
        a->u.in4.sin_family = AF_INET;
        a->u.in4.sin_port = htons(port);
        a->len = sizeof a->u.in4;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &a->u.in6.sin6_addr) == 1) {
        a->u.in6.sin6_family = AF_INET6;
        a->u.in6.sin6_port = htons(port);
        a->len = sizeof a->u.in6;
        return 0;
    }
    memset(a, 0, sizeof *a);
    return ZDC_ERR_MALFORMED;
}

int zdc_addr_from_bytes(zdc_addr *a, int family, const uint8_t *bytes, uint16_t port)
{
    memset(a, 0, sizeof *a);
    if (family == 4) {
        a->u.in4.sin_family = AF_INET;
        memcpy(&a->u.in4.sin_addr, bytes, 4);
        a->u.in4.sin_port = htons(port);
        a->len = sizeof a->u.in4;
        return 0;
    }
    if (family == 6) {
        a->u.in6.sin6_family = AF_INET6;
        memcpy(&a->u.in6.sin6_addr, bytes, 16);
        a->u.in6.sin6_port = htons(port);
        a->len = sizeof a->u.in6;
        return 0;
    }
    return ZDC_ERR_INVALID_PARAMETER;
}

int zdc_addr_from_sockaddr(zdc_addr *a, const struct sockaddr *sa, socklen_t len)
{
    memset(a, 0, sizeof *a);
    if (sa && sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        memcpy(&a->u.in4, sa, sizeof a->u.in4);
        a->len = sizeof a->u.in4;
        return 0;
    }
    if (sa && sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        memcpy(&a->u.in6, sa, sizeof a->u.in6);
        a->len = sizeof a->u.in6;
        return 0;
    }
    return ZDC_ERR_INVALID_PARAMETER;
}

int zdc_addr_family(const zdc_addr *a)
{
    if (a->len == 0)
        return 0;
    return a->u.sa.sa_family == AF_INET ? 4 : 6;
}

uint16_t zdc_addr_port(const zdc_addr *a)
{
    switch (zdc_addr_family(a)) {
    case 4:
        return ntohs(a->u.in4.sin_port);
    case 6:
        return ntohs(a->u.in6.sin6_port);
    default:
        return 0;
    }
}

void zdc_addr_set_port(zdc_addr *a, uint16_t port)
{
    if (zdc_addr_family(a) == 4)
        a->u.in4.sin_port = htons(port);
    else if (zdc_addr_family(a) == 6)
        a->u.in6.sin6_port = htons(port);
}

size_t zdc_addr_bytes(const zdc_addr *a, uint8_t out[16])
{
    switch (zdc_addr_family(a)) {
    case 4:
        memcpy(out, &a->u.in4.sin_addr, 4);
        return 4;
    case 6:
        memcpy(out, &a->u.in6.sin6_addr, 16);
        return 16;
    default:
        return 0;
    }
}

bool zdc_addr_ip_equal(const zdc_addr *a, const zdc_addr *b)
{
    int fa = zdc_addr_family(a);
    if (fa == 0 || fa != zdc_addr_family(b))
        return false;
    if (fa == 4)
        return a->u.in4.sin_addr.s_addr == b->u.in4.sin_addr.s_addr;
    if (memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, 16) != 0)
        return false;
    if (zdc_addr_is_link_local(a) && a->u.in6.sin6_scope_id && b->u.in6.sin6_scope_id)
        return a->u.in6.sin6_scope_id == b->u.in6.sin6_scope_id;
    return true;
}

bool zdc_addr_equal(const zdc_addr *a, const zdc_addr *b)
{
    return zdc_addr_ip_equal(a, b) && zdc_addr_port(a) == zdc_addr_port(b);
}

bool zdc_addr_is_loopback(const zdc_addr *a)
{
    if (zdc_addr_family(a) == 4)
        return (ntohl(a->u.in4.sin_addr.s_addr) >> 24) == 127;
    if (zdc_addr_family(a) == 6)
        return IN6_IS_ADDR_LOOPBACK(&a->u.in6.sin6_addr);
    return false;
}

bool zdc_addr_is_link_local(const zdc_addr *a)
{
    if (zdc_addr_family(a) == 4)
        return (ntohl(a->u.in4.sin_addr.s_addr) >> 16) == 0xa9fe; /* 169.254/16 */
    if (zdc_addr_family(a) == 6)
        return IN6_IS_ADDR_LINKLOCAL(&a->u.in6.sin6_addr);
    return false;
}

void zdc_addr_unmap_v4(zdc_addr *a)
{
    if (zdc_addr_family(a) != 6 || !IN6_IS_ADDR_V4MAPPED(&a->u.in6.sin6_addr))
        return;
    uint16_t port = zdc_addr_port(a);
    uint8_t v4[4];
    memcpy(v4, (const uint8_t *)&a->u.in6.sin6_addr + 12, 4);
    zdc_addr_from_bytes(a, 4, v4, port);
}

uint64_t zdc_addr_hash(const zdc_addr *a)
{
    /* FNV-1a over the address bytes and port: cheap and good enough for table buckets. */
    uint8_t b[16];
    size_t n = zdc_addr_bytes(a, b);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    uint16_t port = zdc_addr_port(a);
    h = (h ^ (port >> 8)) * 0x100000001b3ull;
    h = (h ^ (port & 0xff)) * 0x100000001b3ull;
    return h;
}

char *zdc_addr_format(const zdc_addr *a, bool with_port, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    int fam = zdc_addr_family(a);
    if (fam == 4)
        inet_ntop(AF_INET, &a->u.in4.sin_addr, ip, sizeof ip);
    else if (fam == 6)
        inet_ntop(AF_INET6, &a->u.in6.sin6_addr, ip, sizeof ip);
    if (!with_port)
        snprintf(out, cap, "%s", ip);
    else if (fam == 6)
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)zdc_addr_port(a));
    else
        snprintf(out, cap, "%s:%u", ip, (unsigned)zdc_addr_port(a));
    return out;
}
