/* zdc_peer_get_stats / zdc_channel_get_stats (include/zdc/stats.h): the size handshake that
 * lets the structs grow, in front of the implementation's optional stats entries. */
#include <stddef.h>
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
