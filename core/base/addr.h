/* Socket addresses (IPv4/IPv6 + port) as plain values: compared, hashed, printed and parsed
 * without touching the network. Shared by the I/O layer and the sans-IO ICE agent. */
#ifndef ZDC_CORE_ADDR_H
#define ZDC_CORE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct zdc_addr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } u;
    socklen_t len; /* 0 = unset */
} zdc_addr;

/* Longest text zdc_addr_format writes: "[" IPv6 "%" scope "]:" port, plus NUL. */
#define ZDC_ADDR_STRLEN 72

/* Builds an address from a numeric IPv4 or IPv6 literal (no brackets, no names) and a port.
 * Returns 0 or ZDC_ERR_MALFORMED. */
int zdc_addr_from_ip(zdc_addr *a, const char *ip, size_t ip_len, uint16_t port);

/* From raw bytes: family 4 (4 bytes) or 6 (16 bytes), port in host order.
 * Returns 0 or ZDC_ERR_INVALID_PARAMETER. */
int zdc_addr_from_bytes(zdc_addr *a, int family, const uint8_t *bytes, uint16_t port);

/* Copies from a sockaddr of length len (AF_INET or AF_INET6). Returns 0 or
 * ZDC_ERR_INVALID_PARAMETER. */
int zdc_addr_from_sockaddr(zdc_addr *a, const struct sockaddr *sa, socklen_t len);

/* 4 or 6, or 0 when unset. */
int zdc_addr_family(const zdc_addr *a);
uint16_t zdc_addr_port(const zdc_addr *a);
void zdc_addr_set_port(zdc_addr *a, uint16_t port);
/* The 4 or 16 address bytes (network order); returns their count (0 when unset). */
size_t zdc_addr_bytes(const zdc_addr *a, uint8_t out[16]);

/* IP and port equal (IPv6 scope id ignored unless both are link-local). */
bool zdc_addr_equal(const zdc_addr *a, const zdc_addr *b);
/* IP equal, port ignored. */
bool zdc_addr_ip_equal(const zdc_addr *a, const zdc_addr *b);
bool zdc_addr_is_loopback(const zdc_addr *a);
bool zdc_addr_is_link_local(const zdc_addr *a);
/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) turned into plain IPv4; others unchanged. */
void zdc_addr_unmap_v4(zdc_addr *a);

/* A 64-bit hash of IP and port (for hash tables keyed by remote address). */
uint64_t zdc_addr_hash(const zdc_addr *a);

/* Writes "1.2.3.4:5" or "[::1]:5" (with_port) or the bare IP into out (>= ZDC_ADDR_STRLEN
 * bytes). Returns out. */
char *zdc_addr_format(const zdc_addr *a, bool with_port, char *out, size_t cap);

#endif /* ZDC_CORE_ADDR_H */
