/* The handle registry of the public API: see registry.h. */
#include "registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"

enum { T_PEER = 1, T_CHANNEL = 2 };

/* Handles are process-wide; the lock only guards the table (a peer itself belongs to the
 * thread that polls it). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static zdc_handles table;

int zdc_api_add_peer(peer_ref *r)
{
    pthread_mutex_lock(&lock);
    int rv = zdc_handles_add(&table, r, T_PEER, &r->id);
    pthread_mutex_unlock(&lock);
    return rv;
}

void zdc_api_remove_peer(peer_ref *r)
{
    pthread_mutex_lock(&lock);
    zdc_handles_remove(&table, r->id);
    pthread_mutex_unlock(&lock);
}

peer_ref *zdc_api_peer_ref(zdc_peer p)
{
    pthread_mutex_lock(&lock);
    peer_ref *r = zdc_handles_get(&table, p.id, T_PEER);
    pthread_mutex_unlock(&lock);
    return r && !r->free_pending ? r : NULL;
}

chan_ref *zdc_api_chan_ref(zdc_channel c)
{
    pthread_mutex_lock(&lock);
    chan_ref *r = zdc_handles_get(&table, c.id, T_CHANNEL);
    pthread_mutex_unlock(&lock);
    return r && !r->peer->free_pending ? r : NULL;
}

int zdc_api_add_channel(peer_ref *r, void *obj, zdc_channel *out)
{
    chan_ref *c = calloc(1, sizeof *c);
    if (!c)
        return ZDC_ERR_NOMEM;
    c->peer = r;
    c->obj = obj;
    c->mode = ZDC_WRITE_MODE_BINARY;
    if (r->n_chans == r->cap_chans) {
        size_t cap = r->cap_chans ? r->cap_chans * 2 : 8;
        uint64_t *a = realloc(r->chans, cap * sizeof *a);
        if (!a) {
            free(c);
            return ZDC_ERR_NOMEM;
        }
        r->chans = a;
        r->cap_chans = cap;
    }
    uint64_t id;
    pthread_mutex_lock(&lock);
    int rv = zdc_handles_add(&table, c, T_CHANNEL, &id);
    pthread_mutex_unlock(&lock);
    if (rv != 0) {
        free(c);
        return rv;
    }
    r->chans[r->n_chans++] = id;
    out->id = id;
    return 0;
}

void zdc_api_drop_channels(peer_ref *r)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < r->n_chans; i++) {
        chan_ref *c = zdc_handles_get(&table, r->chans[i], T_CHANNEL);
        zdc_handles_remove(&table, r->chans[i]);
        if (c)
            free(c->buf);
        free(c);
    }
    pthread_mutex_unlock(&lock);
    r->n_chans = 0;
}

void zdc_api_destroy(peer_ref *r)
{
    r->impl->destroy(r->obj);
    zdc_api_drop_channels(r);
    free(r->chans);
    pthread_mutex_lock(&lock);
    zdc_handles_remove(&table, r->id);
    pthread_mutex_unlock(&lock);
    free(r);
}

void zdc_peer_free(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    if (!r)
        return;
    if (r->polling) {
        /* Called from one of this peer's callbacks: close now (no more callbacks), free when
         * the poll unwinds. */
        r->impl->close(r->obj);
        r->free_pending = true;
        return;
    }
    zdc_api_destroy(r);
}

const zdc_peer_callbacks *zdc_peer_impl_callbacks(zdc_peer self)
{
    peer_ref *r = zdc_api_peer_ref(self);
    return r ? &r->cb : NULL;
}

int zdc_peer_impl_add_channel(zdc_peer self, void *chan, zdc_channel *out)
{
    peer_ref *r = zdc_api_peer_ref(self);
    if (!r)
        return ZDC_ERR_GONE;
    return zdc_api_add_channel(r, chan, out);
}

bool zdc_peer_api_enter(zdc_peer self)
{
    peer_ref *r = zdc_api_peer_ref(self);
    if (!r)
        return false;
    r->polling++;
    return true;
}

bool zdc_peer_api_leave(zdc_peer self)
{
    pthread_mutex_lock(&lock);
    peer_ref *r = zdc_handles_get(&table, self.id, T_PEER);
    pthread_mutex_unlock(&lock);
    if (!r)
        return false;
    r->polling--;
    if (r->free_pending && !r->polling) {
        zdc_api_destroy(r);
        return false;
    }
    return true;
}

bool zdc_peer_api_alive(zdc_peer self)
{
    return zdc_api_peer_ref(self) != NULL;
}

chan_ref *zdc_api_take_channel(zdc_channel c)
{
    pthread_mutex_lock(&lock);
    chan_ref *r = zdc_handles_get(&table, c.id, T_CHANNEL);
    if (!r || r->peer->free_pending) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    zdc_handles_remove(&table, c.id);
    pthread_mutex_unlock(&lock);
    return r;
}
