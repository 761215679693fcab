#include "iceurl.h"

#include <string.h>

#include "addr.h"
#include "text.h"
#include "zdc/error.h"

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

int zdc_iceurl_parse(const char *s, size_t len, zdc_iceurl *out)
{
    zdc_str u = zdc_str_make(s, len);
    static const struct {
        const char *prefix;
        int scheme;
        uint16_t port;
    } schemes[] = {{"stuns:", ZDC_ICEURL_STUNS, 5349},
                   {"stun:", ZDC_ICEURL_STUN, 3478},
                   {"turns:", ZDC_ICEURL_TURNS, 5349},
                   {"turn:", ZDC_ICEURL_TURN, 3478}};
    memset(out, 0, sizeof *out);
    size_t k = 0;
    while (k < 4 && !zdc_str_ihas_prefix(u, schemes[k].prefix))
        k++;
    if (k == 4)
        return ZDC_ERR_MALFORMED;
    out->scheme = schemes[k].scheme;
    out->port = schemes[k].port;
    u = zdc_str_drop(u, strlen(schemes[k].prefix));

    /* RFC 7065 §3.1: turnURI = scheme ":" host [ ":" port ] [ "?transport=" transport ] */
    zdc_str query = {0};
    long q = zdc_str_find(u, '?');
    if (q >= 0) {
        query = zdc_str_drop(u, (size_t)q + 1);
        u.len = (size_t)q;
        if (out->scheme == ZDC_ICEURL_STUN || out->scheme == ZDC_ICEURL_STUNS)
            return ZDC_ERR_MALFORMED; /* RFC 7064 §3.1: no query on stun URIs */
        if (zdc_str_ieq_c(query, "transport=udp"))
            out->transport = ZDC_ICEURL_UDP;
        else if (zdc_str_ieq_c(query, "transport=tcp"))
            out->transport = ZDC_ICEURL_TCP;
        else
            return ZDC_ERR_MALFORMED;
    }

    zdc_str host, port = {0};
    if (u.len && u.p[0] == '[') {
        long e = zdc_str_find(u, ']');
        if (e < 0)
            return ZDC_ERR_MALFORMED;
        host = zdc_str_make(u.p + 1, (size_t)e - 1);
        zdc_str rest = zdc_str_drop(u, (size_t)e + 1);
        if (rest.len) {
            if (rest.p[0] != ':')
                return ZDC_ERR_MALFORMED;
            port = zdc_str_drop(rest, 1);
            if (!port.len)
                return ZDC_ERR_MALFORMED;
        }
        zdc_addr a;
        if (zdc_addr_from_ip(&a, host.p, host.len, 0) != 0 || zdc_addr_family(&a) != 6)
            return ZDC_ERR_MALFORMED;
    } else {
        long c = zdc_str_find(u, ':');
        host = u;
        if (c >= 0) {
            host.len = (size_t)c;
            port = zdc_str_drop(u, (size_t)c + 1);
            if (!port.len)
                return ZDC_ERR_MALFORMED;
        }
        for (size_t i = 0; i < host.len; i++)
            if (!host_char(host.p[i]))
                return ZDC_ERR_MALFORMED;
    }
    if (host.len == 0)
        return ZDC_ERR_MALFORMED;
    if (port.len) {
        uint64_t v;
        if (zdc_str_to_u64(port, 65535, &v) != 0 || v == 0)
            return ZDC_ERR_MALFORMED;
        out->port = (uint16_t)v;
    }
    return zdc_str_copy(host, out->host, sizeof out->host);
}

int zdc_iceurl_parse_list(const char *s, zdc_iceurl *out, size_t max, size_t *n)
{
    *n = 0;
    if (!s)
        return ZDC_ERR_INVALID_PARAMETER;
    size_t i = 0, len = strlen(s);
    while (i < len) {
        while (i < len && (s[i] == ',' || s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
            i++;
        size_t start = i;
        while (i < len && !(s[i] == ',' || s[i] == ' ' || s[i] == '\t' || s[i] == '\n'))
            i++;
        if (i == start)
            break;
        if (*n == max)
            return ZDC_ERR_TOO_LARGE;
        int rv = zdc_iceurl_parse(s + start, i - start, &out[*n]);
        if (rv != 0)
            return rv;
        (*n)++;
    }
    return *n ? 0 : ZDC_ERR_INVALID_PARAMETER;
}
