/* ICE server URLs: stun:/stuns: (RFC 7064) and turn:/turns: (RFC 7065), as given in
 * RTCIceServer.urls. Parsing only; names are resolved elsewhere. */
#ifndef ZDC_CORE_ICEURL_H
#define ZDC_CORE_ICEURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum zdc_iceurl_scheme { ZDC_ICEURL_STUN, ZDC_ICEURL_STUNS, ZDC_ICEURL_TURN, ZDC_ICEURL_TURNS };
enum zdc_iceurl_transport { ZDC_ICEURL_ANY, ZDC_ICEURL_UDP, ZDC_ICEURL_TCP };

typedef struct zdc_iceurl {
    int scheme;     /* enum zdc_iceurl_scheme */
    char host[256]; /* IPv4 or IPv6 literal (without brackets) or a DNS name */
    uint16_t port;  /* default 3478 (stun/turn) or 5349 (stuns/turns) when absent */
    int transport;  /* turn/turns ?transport= (RFC 7065 §3.1) */
} zdc_iceurl;

/* Parses one URL. Returns 0 or ZDC_ERR_MALFORMED (unknown scheme, empty or invalid host, bad
 * port, a query on stun:, an unknown transport) or ZDC_ERR_TOO_LARGE (host over 255). */
int zdc_iceurl_parse(const char *s, size_t len, zdc_iceurl *out);

/* Parses a list of URLs separated by commas and/or white space into out[0..max).
 * Returns 0; ZDC_ERR_MALFORMED / ZDC_ERR_TOO_LARGE as above; ZDC_ERR_TOO_LARGE for more than
 * max URLs; ZDC_ERR_INVALID_PARAMETER for NULL or an empty list. */
int zdc_iceurl_parse_list(const char *s, zdc_iceurl *out, size_t max, size_t *n);

#endif /* ZDC_CORE_ICEURL_H */
