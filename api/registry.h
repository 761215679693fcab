/* The handle registry of the public API (api/): every zdc_peer and zdc_channel handle maps to
 * an entry here, generation-checked (core/base/handle.h), under one process-wide lock that
 * guards the table only (a peer itself belongs to the thread that polls it). The public
 * dispatch (api.c) and the implementations (builtin.c, include/zdc/peer_impl.h) both sit on
 * it; it calls neither: an implementation is reached only through its table. */
#ifndef ZDC_API_REGISTRY_H
#define ZDC_API_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/peer.h"
#include "zdc/peer_impl.h"

typedef struct peer_ref {
    const zdc_peer_impl *impl;
    void *obj;
    zdc_peer_callbacks cb;
    uint64_t *chans;
    size_t n_chans, cap_chans;
    int polling;       /* inside impl->poll (callbacks may run) */
    bool free_pending; /* zdc_peer_free was called from a callback */
    uint64_t id;
    void *user_data; /* zdc_peer_set_user_data */
} peer_ref;

typedef struct chan_ref {
    peer_ref *peer;
    void *obj;
    /* The zero-copy send buffer when the implementation has no channel_buffer_* entries. */
    uint8_t *buf;
    size_t buf_cap;
    int mode;        /* enum zdc_write_mode: API-level state, kept beside the handle */
    void *user_data; /* zdc_channel_set_user_data */
} chan_ref;

/* The entry of a live handle (NULL: gone, or its peer is being freed). */
peer_ref *zdc_api_peer_ref(zdc_peer p);
chan_ref *zdc_api_chan_ref(zdc_channel c);
/* Registers a channel object of peer r. Returns 0, ZDC_ERR_NOMEM or ZDC_ERR_QUEUE_FULL. */
int zdc_api_add_channel(peer_ref *r, void *obj, zdc_channel *out);
/* Removes a live channel handle from the table (it answers "gone" from now on) and returns
 * its entry, still listed in its peer's chans[]; NULL when gone or its peer is being freed. */
chan_ref *zdc_api_take_channel(zdc_channel c);
/* Forgets the peer's channel handles (they answer "gone" from now on). */
void zdc_api_drop_channels(peer_ref *r);
/* Destroys the implementation's object, then the handles, then the entry. */
void zdc_api_destroy(peer_ref *r);
/* Registers a new peer entry (r->id set). Returns 0, ZDC_ERR_NOMEM or ZDC_ERR_QUEUE_FULL. */
int zdc_api_add_peer(peer_ref *r);
/* Removes an entry registered with zdc_api_add_peer whose object was never created. */
void zdc_api_remove_peer(peer_ref *r);

/* Delivery bracketing for implementations that fire callbacks outside zdc_peer_poll (see
 * peer_api.h). */
#include "peer_api.h"

#endif /* ZDC_API_REGISTRY_H */
