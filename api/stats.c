/* zdc_peer_get_stats / zdc_channel_get_stats (include/zdc/stats.h): the size handshake that
 * lets the structs grow, in front of the implementation's optional stats entries. */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "zdc/peer_impl.h"
#include "zdc/stats.h"

/* The smallest struct a caller may pass: `size` and the first counter. */
#define PEER_MIN    (offsetof(zdc_peer_stats, bytes_sent) + sizeof(uint64_t))
#define CHANNEL_MIN (offsetof(zdc_channel_stats, label) + sizeof(const char *))

int zdc_peer_get_stats(zdc_peer p, zdc_peer_stats *out)
{
    if (!out || out->size < PEER_MIN)
        return ZDC_ERR_INVALID_PARAMETER;
    peer_ref *r = zdc_api_peer_ref(p);
    if (!r)
        return ZDC_ERR_GONE;
    if (!r->impl->get_stats)
        return ZDC_ERR_NOT_SUPPORTED;
    size_t n = out->size < sizeof(zdc_peer_stats) ? out->size : sizeof(zdc_peer_stats);
    if (n == sizeof(zdc_peer_stats)) { /* the common case: no copy */
        memset(out, 0, n);
        out->size = n;
        return r->impl->get_stats(r->obj, out);
    }
    zdc_peer_stats full;
    memset(&full, 0, sizeof full);
    full.size = sizeof full;
    int rv = r->impl->get_stats(r->obj, &full);
    if (rv != 0)
        return rv;
    memcpy(out, &full, n);
    out->size = n;
    return 0;
}

int zdc_channel_get_stats(zdc_channel c, zdc_channel_stats *out)
{
    if (!out || out->size < CHANNEL_MIN)
        return ZDC_ERR_INVALID_PARAMETER;
    chan_ref *r = zdc_api_chan_ref(c);
    if (!r)
        return ZDC_ERR_GONE;
    if (!r->peer->impl->channel_get_stats)
        return ZDC_ERR_NOT_SUPPORTED;
    size_t n = out->size < sizeof(zdc_channel_stats) ? out->size : sizeof(zdc_channel_stats);
    zdc_channel_stats full;
    memset(&full, 0, sizeof full);
    full.size = sizeof full;
    int rv = r->peer->impl->channel_get_stats(r->obj, &full);
    if (rv != 0)
        return rv;
    memcpy(out, &full, n);
    out->size = n;
    return 0;
}

int zdc_peer_get_remote_address(zdc_peer p, struct sockaddr_storage *out, socklen_t *len)
{
    if (!out || !len)
        return ZDC_ERR_INVALID_PARAMETER;
    zdc_peer_stats st;
    st.size = sizeof st;
    int rv = zdc_peer_get_stats(p, &st);
    if (rv != 0)
        return rv;
    if (!st.has_selected_pair || !st.remote_address[0])
        return ZDC_ERR_INVALID_STATE;
    /* The stats hold the address as numeric text (IPv6 possibly with "%scope"); turning it
     * back into a sockaddr keeps this on top of every implementation's get_stats. */
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    if (inet_pton(AF_INET, st.remote_address, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(st.remote_port);
        *len = sizeof *v4;
        return 0;
    }
    char host[sizeof st.remote_address];
    snprintf(host, sizeof host, "%s", st.remote_address);
    char *scope = strchr(host, '%');
    if (scope)
        *scope++ = '\0';
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) != 1)
        return ZDC_ERR_INVALID_STATE;
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(st.remote_port);
    if (scope) {
        char *end;
        unsigned long id = strtoul(scope, &end, 10);
        v6->sin6_scope_id = (*end == '\0' && end != scope) ? (uint32_t)id : if_nametoindex(scope);
    }
    *len = sizeof *v6;
    return 0;
}
