/* The public peer API: generation-checked handles (registry.c) in front of a registered
 * implementation table (include/zdc/peer_impl.h). Every call looks its handle up, then
 * dispatches. The built-in implementation (builtin.c) is the default table; it sits on the
 * registry, never on this file. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"
#include "zdc/peer.h"
#include "zdc/peer_impl.h"

static pthread_mutex_t dflt_lock = PTHREAD_MUTEX_INITIALIZER;
static const zdc_peer_impl *dflt;
static void *dflt_user;

zdc_channel_options zdc_channel_options_default(void)
{
    return (zdc_channel_options){.negotiated = false,
                                 .id = -1,
                                 .max_packet_life_time = -1,
                                 .max_retransmits = -1,
                                 .ordered = true,
                                 .protocol = ""};
}

int zdc_peer_set_default_impl(const zdc_peer_impl *impl, void *impl_user)
{
    if (impl) {
        void (*const *fn)(void) = (void (*const *)(void)) & impl->create;
        size_t n =
            (offsetof(zdc_peer_impl, channel_buffer_acquire) - offsetof(zdc_peer_impl, create)) /
            sizeof(void (*)(void));
        for (size_t i = 0; i < n; i++)
            if (!fn[i])
                return ZDC_ERR_INVALID_PARAMETER;
        int opt = !!impl->channel_buffer_acquire + !!impl->channel_buffer_submit +
                  !!impl->channel_buffer_discard;
        if (opt != 0 && opt != 3)
            return ZDC_ERR_INVALID_PARAMETER;
    }
    pthread_mutex_lock(&dflt_lock);
    dflt = impl;
    dflt_user = impl_user;
    pthread_mutex_unlock(&dflt_lock);
    return 0;
}

int zdc_peer_new(zdc_engine *engine, const zdc_peer_callbacks *cb, zdc_peer *out)
{
    if (!out)
        return ZDC_ERR_INVALID_PARAMETER;
    out->id = 0;
    pthread_mutex_lock(&dflt_lock);
    const zdc_peer_impl *impl = dflt ? dflt : zdc_peer_builtin_impl();
    void *user = dflt ? dflt_user : NULL;
    pthread_mutex_unlock(&dflt_lock);
    peer_ref *r = calloc(1, sizeof *r);
    if (!r)
        return ZDC_ERR_NOMEM;
    r->impl = impl;
    if (cb)
        r->cb = *cb;
    int rv = zdc_api_add_peer(r);
    if (rv != 0) {
        free(r);
        return rv;
    }
    rv = impl->create(user, engine, (zdc_peer){r->id}, &r->obj);
    if (rv != 0) {
        zdc_api_remove_peer(r);
        free(r);
        return rv;
    }
    out->id = r->id;
    return 0;
}

int zdc_peer_initialize(zdc_peer p, const zdc_peer_config *cfg)
{
    peer_ref *r = zdc_api_peer_ref(p);
    if (!r)
        return ZDC_ERR_GONE;
    int rv = r->impl->initialize(r->obj, cfg);
    if (rv == 0)
        zdc_api_drop_channels(r); /* the implementation discarded them */
    return rv;
}

int zdc_peer_create_data_channel(zdc_peer p, const char *label, const zdc_channel_options *opts,
                                 zdc_channel *out)
{
    peer_ref *r = zdc_api_peer_ref(p);
    if (!out)
        return ZDC_ERR_INVALID_PARAMETER;
    out->id = 0;
    if (!r)
        return ZDC_ERR_GONE;
    return r->impl->create_data_channel(r->obj, label, opts, out);
}

#define PEER_CALL(p, expr)                                                                         \
    do {                                                                                           \
        peer_ref *r = zdc_api_peer_ref(p);                                                         \
        if (!r)                                                                                    \
            return ZDC_ERR_GONE;                                                                   \
        return (expr);                                                                             \
    } while (0)

int zdc_peer_create_offer(zdc_peer p)
{
    PEER_CALL(p, r->impl->create_offer(r->obj));
}

int zdc_peer_restart_ice(zdc_peer p)
{
    PEER_CALL(p, r->impl->restart_ice ? r->impl->restart_ice(r->obj) : ZDC_ERR_NOT_SUPPORTED);
}

int zdc_peer_set_remote_description(zdc_peer p, const char *type, const char *sdp)
{
    PEER_CALL(p, r->impl->set_remote_description(r->obj, type, sdp));
}

int zdc_peer_set_local_description(zdc_peer p, const char *type, const char *sdp)
{
    PEER_CALL(p, r->impl->set_local_description(r->obj, type, sdp));
}

int zdc_peer_add_ice_candidate(zdc_peer p, const char *mid, int index, const char *name)
{
    PEER_CALL(p, r->impl->add_ice_candidate(r->obj, mid, index, name));
}

int zdc_peer_poll(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    if (!r)
        return ZDC_ERR_GONE;
    r->polling++;
    int rv = r->impl->poll(r->obj);
    r->polling--;
    if (r->free_pending && !r->polling)
        zdc_api_destroy(r);
    return rv;
}

void zdc_peer_close(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    if (r)
        r->impl->close(r->obj);
}

int zdc_peer_get_connection_state(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    return r ? r->impl->connection_state(r->obj) : ZDC_STATE_CLOSED;
}

int zdc_peer_get_gathering_state(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    return r ? r->impl->gathering_state(r->obj) : ZDC_GATHERING_COMPLETE;
}

int zdc_peer_get_signaling_state(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    return r ? r->impl->signaling_state(r->obj) : ZDC_SIGNALING_CLOSED;
}

const char *zdc_peer_last_error(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    return r ? r->impl->last_error(r->obj) : "peer is gone";
}

const char *zdc_peer_get_local_description(zdc_peer p, bool with_candidates)
{
    peer_ref *r = zdc_api_peer_ref(p);
    if (!r || !r->impl->local_description)
        return NULL;
    return r->impl->local_description(r->obj, with_candidates);
}

int zdc_peer_set_user_data(zdc_peer p, void *data)
{
    peer_ref *r = zdc_api_peer_ref(p);
    if (!r)
        return ZDC_ERR_GONE;
    r->user_data = data;
    return 0;
}

void *zdc_peer_get_user_data(zdc_peer p)
{
    peer_ref *r = zdc_api_peer_ref(p);
    return r ? r->user_data : NULL;
}

int zdc_channel_set_user_data(zdc_channel c, void *data)
{
    chan_ref *r = zdc_api_chan_ref(c);
    if (!r)
        return ZDC_ERR_GONE;
    r->user_data = data;
    return 0;
}

void *zdc_channel_get_user_data(zdc_channel c)
{
    chan_ref *r = zdc_api_chan_ref(c);
    return r ? r->user_data : NULL;
}

/* ---- for implementations --------------------------------------------------------------- */

/* ---- channels -------------------------------------------------------------------------- */

#define CHAN_CALL(c, dflt_value, expr)                                                             \
    do {                                                                                           \
        chan_ref *r = zdc_api_chan_ref(c);                                                         \
        if (!r)                                                                                    \
            return (dflt_value);                                                                   \
        return (expr);                                                                             \
    } while (0)

static int write_mode_of(chan_ref *r)
{
    return r->mode;
}

int zdc_channel_put_packet(zdc_channel c, const uint8_t *p, size_t len)
{
    CHAN_CALL(c, ZDC_ERR_GONE,
              r->peer->impl->channel_send(r->obj, p, len, write_mode_of(r) == ZDC_WRITE_MODE_TEXT));
}

int zdc_channel_acquire_send_buffer(zdc_channel c, size_t cap, uint8_t **data)
{
    if (!data)
        return ZDC_ERR_INVALID_PARAMETER;
    chan_ref *r = zdc_api_chan_ref(c);
    if (!r)
        return ZDC_ERR_GONE;
    const zdc_peer_impl *im = r->peer->impl;
    if (im->channel_buffer_acquire)
        return im->channel_buffer_acquire(r->obj, cap, data);
    if (r->buf)
        return ZDC_ERR_INVALID_STATE;
    if (im->channel_state(r->obj) != ZDC_CHANNEL_OPEN)
        return ZDC_ERR_INVALID_STATE;
    r->buf = malloc(cap ? cap : 1);
    if (!r->buf)
        return ZDC_ERR_NOMEM;
    r->buf_cap = cap;
    *data = r->buf;
    return 0;
}

int zdc_channel_submit_send_buffer(zdc_channel c, size_t len)
{
    chan_ref *r = zdc_api_chan_ref(c);
    if (!r)
        return ZDC_ERR_GONE;
    const zdc_peer_impl *im = r->peer->impl;
    bool text = write_mode_of(r) == ZDC_WRITE_MODE_TEXT;
    if (im->channel_buffer_submit)
        return im->channel_buffer_submit(r->obj, len, text);
    if (!r->buf)
        return ZDC_ERR_INVALID_STATE;
    if (len > r->buf_cap)
        return ZDC_ERR_INVALID_PARAMETER;
    int rv = im->channel_send(r->obj, r->buf, len, text);
    if (rv == ZDC_ERR_QUEUE_FULL)
        return rv; /* the buffer stays with the application for a retry */
    free(r->buf);
    r->buf = NULL;
    return rv;
}

void zdc_channel_discard_send_buffer(zdc_channel c)
{
    chan_ref *r = zdc_api_chan_ref(c);
    if (!r)
        return;
    if (r->peer->impl->channel_buffer_discard) {
        r->peer->impl->channel_buffer_discard(r->obj);
        return;
    }
    free(r->buf);
    r->buf = NULL;
}

int zdc_channel_get_packet(zdc_channel c, const uint8_t **p, size_t *len, bool *was_string)
{
    if (!p || !len)
        return ZDC_ERR_INVALID_PARAMETER;
    CHAN_CALL(c, ZDC_ERR_GONE, r->peer->impl->channel_get_packet(r->obj, p, len, was_string));
}

void zdc_channel_release_packet(zdc_channel c)
{
    chan_ref *r = zdc_api_chan_ref(c);
    if (r)
        r->peer->impl->channel_release_packet(r->obj);
}

int zdc_channel_get_available_packet_count(zdc_channel c)
{
    CHAN_CALL(c, 0, r->peer->impl->channel_available(r->obj));
}

int zdc_channel_set_write_mode(zdc_channel c, int mode)
{
    if (mode != ZDC_WRITE_MODE_TEXT && mode != ZDC_WRITE_MODE_BINARY)
        return ZDC_ERR_INVALID_PARAMETER;
    chan_ref *r = zdc_api_chan_ref(c);
    if (!r)
        return ZDC_ERR_GONE;
    r->mode = mode;
    return 0;
}

int zdc_channel_get_write_mode(zdc_channel c)
{
    CHAN_CALL(c, ZDC_WRITE_MODE_BINARY, r->mode);
}

int zdc_channel_get_ready_state(zdc_channel c)
{
    CHAN_CALL(c, ZDC_CHANNEL_CLOSED, r->peer->impl->channel_state(r->obj));
}

const char *zdc_channel_get_label(zdc_channel c)
{
    CHAN_CALL(c, "", r->peer->impl->channel_label(r->obj));
}

const char *zdc_channel_get_protocol(zdc_channel c)
{
    CHAN_CALL(c, "", r->peer->impl->channel_protocol(r->obj));
}

int zdc_channel_get_id(zdc_channel c)
{
    CHAN_CALL(c, -1, r->peer->impl->channel_id(r->obj));
}

bool zdc_channel_is_ordered(zdc_channel c)
{
    CHAN_CALL(c, false, r->peer->impl->channel_ordered(r->obj));
}

bool zdc_channel_is_negotiated(zdc_channel c)
{
    CHAN_CALL(c, false, r->peer->impl->channel_negotiated(r->obj));
}

int zdc_channel_get_max_packet_life_time(zdc_channel c)
{
    CHAN_CALL(c, -1, r->peer->impl->channel_max_packet_life_time(r->obj));
}

int zdc_channel_get_max_retransmits(zdc_channel c)
{
    CHAN_CALL(c, -1, r->peer->impl->channel_max_retransmits(r->obj));
}

size_t zdc_channel_get_buffered_amount(zdc_channel c)
{
    CHAN_CALL(c, 0, r->peer->impl->channel_buffered_amount(r->obj));
}

int zdc_channel_set_buffered_amount_low_threshold(zdc_channel c, size_t bytes)
{
    chan_ref *r = zdc_api_chan_ref(c);
    if (!r)
        return ZDC_ERR_GONE;
    r->peer->impl->channel_set_low_threshold(r->obj, bytes);
    return 0;
}

int zdc_channel_close(zdc_channel c)
{
    CHAN_CALL(c, ZDC_ERR_GONE, r->peer->impl->channel_close(r->obj));
}

void zdc_channel_release(zdc_channel c)
{
    chan_ref *r = zdc_api_take_channel(c);
    if (!r)
        return;
    peer_ref *p = r->peer;
    for (size_t i = 0; i < p->n_chans; i++)
        if (p->chans[i] == c.id) {
            p->chans[i] = p->chans[--p->n_chans];
            break;
        }
    if (p->impl->channel_release)
        p->impl->channel_release(r->obj);
    free(r->buf);
    free(r);
}
