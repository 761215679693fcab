/* Plugging another implementation behind the zdc peer API (Godot's SetDefaultExtension).
 *
 * zdc_peer_new() creates peers with the default implementation: zdc's own engine, unless the
 * application registered another table with zdc_peer_set_default_impl() — an in-memory mock
 * for game-logic tests, or a bridge to another stack. Every zdc_peer_* / zdc_channel_* call
 * then dispatches to that table; handles stay generation-checked either way.
 *
 * An implementation fires the user's callbacks itself, only from its `poll`, using
 * zdc_peer_impl_callbacks() and handles from zdc_peer_impl_add_channel().
 */
#ifndef ZDC_PEER_IMPL_H
#define ZDC_PEER_IMPL_H

#include "zdc/export.h"

#include "zdc/peer.h"
#include "zdc/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zdc_peer_impl {
    const char *name;
    /* Creates the implementation's peer object for `self`. 0 or a ZDC_ERR_* code. */
    int (*create)(void *impl_user, zdc_engine *engine, zdc_peer self, void **obj);
    /* Frees it (no callbacks). Channels' objects are freed with it. */
    void (*destroy)(void *obj);
    int (*initialize)(void *obj, const zdc_peer_config *cfg);
    /* Creates a channel and registers it with zdc_peer_impl_add_channel (so the handle is
     * known to the implementation's events too); *out is that handle. */
    int (*create_data_channel)(void *obj, const char *label, const zdc_channel_options *o,
                               zdc_channel *out);
    int (*create_offer)(void *obj);
    int (*set_remote_description)(void *obj, const char *type, const char *sdp);
    int (*set_local_description)(void *obj, const char *type, const char *sdp);
    int (*add_ice_candidate)(void *obj, const char *mid, int index, const char *name);
    int (*poll)(void *obj);
    void (*close)(void *obj);
    int (*connection_state)(void *obj);
    int (*gathering_state)(void *obj);
    int (*signaling_state)(void *obj);
    const char *(*last_error)(void *obj);

    int (*channel_send)(void *chan, const uint8_t *p, size_t len, bool text);
    int (*channel_get_packet)(void *chan, const uint8_t **p, size_t *len, bool *was_string);
    void (*channel_release_packet)(void *chan);
    int (*channel_available)(void *chan);
    int (*channel_close)(void *chan);
    int (*channel_state)(void *chan);
    const char *(*channel_label)(void *chan);
    const char *(*channel_protocol)(void *chan);
    int (*channel_id)(void *chan);
    bool (*channel_ordered)(void *chan);
    bool (*channel_negotiated)(void *chan);
    int (*channel_max_packet_life_time)(void *chan);
    int (*channel_max_retransmits)(void *chan);
    size_t (*channel_buffered_amount)(void *chan);
    void (*channel_set_low_threshold)(void *chan, size_t bytes);

    /* Optional (NULL: the API layer gives the application a heap buffer and sends it through
     * channel_send): the zero-copy send path, see zdc_channel_acquire_send_buffer. */
    int (*channel_buffer_acquire)(void *chan, size_t cap, uint8_t **data);
    int (*channel_buffer_submit)(void *chan, size_t len, bool text);
    void (*channel_buffer_discard)(void *chan);

    /* Optional (NULL: channels live until the peer is freed): the application released the
     * channel's handle (zdc_channel_release); `chan` is not used by the API layer afterwards.
     * The implementation frees it once it is closed, and its stream id may be used again. */
    void (*channel_release)(void *chan);

    /* Optional (NULL: zdc_peer_get_stats / zdc_channel_get_stats answer
     * ZDC_ERR_NOT_SUPPORTED): fill every field of a zeroed struct of the header's size but
     * `size` (include/zdc/stats.h); return 0 or a ZDC_ERR_* code. */
    int (*get_stats)(void *obj, zdc_peer_stats *out);
    int (*channel_get_stats)(void *chan, zdc_channel_stats *out);

    /* Optional (NULL: zdc_peer_restart_ice answers ZDC_ERR_NOT_SUPPORTED). */
    int (*restart_ice)(void *obj);

    /* Optional (NULL: zdc_peer_get_local_description answers NULL): the description the peer
     * created last, with the local candidates gathered so far when with_candidates (see
     * zdc_peer_get_local_description). Valid until the next call on the peer. */
    const char *(*local_description)(void *obj, bool with_candidates);
} zdc_peer_impl;

/* Makes `impl` the implementation zdc_peer_new uses from now on (existing peers keep theirs).
 * NULL restores zdc's own. Returns 0 or ZDC_ERR_INVALID_PARAMETER (a required entry is NULL:
 * every entry but `name` and the three channel_buffer_* ones is required). The three
 * channel_buffer_* entries are all set or all NULL. */
ZDC_API int zdc_peer_set_default_impl(const zdc_peer_impl *impl, void *impl_user);

/* For implementations: the callbacks the user gave zdc_peer_new (NULL if `self` is gone). */
ZDC_API const zdc_peer_callbacks *zdc_peer_impl_callbacks(zdc_peer self);

/* For implementations: registers a channel object (one the application created, or one the
 * remote side opened) and returns its handle, freed with the peer.
 * Returns 0, ZDC_ERR_GONE or ZDC_ERR_NOMEM. */
ZDC_API int zdc_peer_impl_add_channel(zdc_peer self, void *chan, zdc_channel *out);

/* zdc's own implementation (what zdc_peer_new uses by default). */
ZDC_API const zdc_peer_impl *zdc_peer_builtin_impl(void);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_PEER_IMPL_H */
