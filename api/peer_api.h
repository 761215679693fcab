/* What api/registry.c offers peer implementations beyond include/zdc/peer_impl.h: bracketing the
 * delivery of callbacks, so that a zdc_peer_free() called from a callback is deferred until
 * the delivery ends instead of freeing the object under the implementation's feet.
 * zdc_peer_poll() brackets its implementation's poll itself; an implementation that fires
 * callbacks from elsewhere (the built-in one, from zdc_engine_poll) brackets them with these. */
#ifndef ZDC_CORE_PEER_API_H
#define ZDC_CORE_PEER_API_H

#include <stdbool.h>

#include "zdc/peer.h"

/* Marks the peer as delivering callbacks. Returns false (and marks nothing) when the peer is
 * gone or being freed. */
bool zdc_peer_api_enter(zdc_peer self);

/* Ends zdc_peer_api_enter; frees the peer if a callback asked for it and no delivery is
 * still running. Returns false when the peer is gone (freed now or before). */
bool zdc_peer_api_leave(zdc_peer self);

/* Whether the peer is usable: not freed, no free pending. */
bool zdc_peer_api_alive(zdc_peer self);

#endif /* ZDC_CORE_PEER_API_H */
