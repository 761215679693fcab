/* The Godot 3 front: WebRTCPeerConnectionGDNative bound to a bridge peer. Godot's
 * WebRTCPeerConnection.new() calls the library's create_peer_connection with a fresh
 * WebRTCPeerConnectionGDNative; a NativeScript of class ZdcPeerConnection is attached to it so
 * that its destroy callback tells us when Godot frees the object. */
#include "gd3.h"

#include <stdlib.h>
#include <string.h>

typedef struct gd3_peer {
    godot_net_webrtc_peer_connection iface; /* bound to the Godot object; data = this */
    godot_object *owner;
    zdc_bridge_peer *bp; /* NULL if creation failed */
    int create_err;      /* zdc error of that failure */
} gd3_peer;

static godot_error gd_err(int zdc_err)
{
    return (godot_error)zdc_bridge_godot_error(zdc_err);
}

/* ---- signals, emitted after zdc's poll returned --------------------------------------- */

static void emit(godot_object *owner, const char *signal, int n, const godot_variant **args)
{
    godot_variant name;
    zdc_gd3_variant_string(&name, signal);
    const godot_variant *all[4] = {&name};
    for (int i = 0; i < n && i < 3; i++)
        all[i + 1] = args[i];
    if (!zdc_gd3_call(owner, "Object", "emit_signal", n + 1, all))
        zdc_gd3_error(__func__, "emit_signal(%s) failed", signal);
    zdc_gd3_api->godot_variant_destroy(&name);
}

static void sig_description(void *user, const char *type, const char *sdp)
{
    gd3_peer *p = user;
    godot_variant a, b;
    zdc_gd3_variant_string(&a, type);
    zdc_gd3_variant_string(&b, sdp);
    const godot_variant *args[] = {&a, &b};
    emit(p->owner, "session_description_created", 2, args);
    zdc_gd3_api->godot_variant_destroy(&a);
    zdc_gd3_api->godot_variant_destroy(&b);
}

static void sig_candidate(void *user, const char *mid, int index, const char *cand)
{
    gd3_peer *p = user;
    godot_variant a, b, c;
    zdc_gd3_variant_string(&a, mid);
    zdc_gd3_api->godot_variant_new_int(&b, index);
    zdc_gd3_variant_string(&c, cand);
    const godot_variant *args[] = {&a, &b, &c};
    emit(p->owner, "ice_candidate_created", 3, args);
    zdc_gd3_api->godot_variant_destroy(&a);
    zdc_gd3_api->godot_variant_destroy(&b);
    zdc_gd3_api->godot_variant_destroy(&c);
}

static void sig_channel(void *user, zdc_channel ch)
{
    gd3_peer *p = user;
    godot_object *obj = zdc_gd3_channel_wrap(ch);
    if (!obj)
        return;
    godot_variant a;
    /* The variant takes the first reference; if no handler keeps the channel, destroying it
     * frees the channel (and closes it). */
    zdc_gd3_api->godot_variant_new_object(&a, obj);
    const godot_variant *args[] = {&a};
    emit(p->owner, "data_channel_received", 1, args);
    zdc_gd3_api->godot_variant_destroy(&a);
}

/* ---- WebRTCPeerConnection ------------------------------------------------------------- */

#define PEER(self) ((gd3_peer *)(self))
#define NEED_PEER(p, fail)                                                                         \
    do {                                                                                           \
        if (!(p)->bp) {                                                                            \
            zdc_gd3_error(__func__, "peer was not created: %s", zdc_strerror((p)->create_err));    \
            return fail;                                                                           \
        }                                                                                          \
    } while (0)

static godot_int get_connection_state(const void *self)
{
    const gd3_peer *p = self;
    if (!p->bp)
        return ZDC_STATE_FAILED;
    return zdc_peer_get_connection_state(zdc_bridge_peer_handle(p->bp));
}

/* zdc_peer_last_error() as it was before a call: the reason is printed only if the call
 * changed it (a call that fails without a text of its own leaves the previous one). */
static char *before(const gd3_peer *p)
{
    return strdup(zdc_peer_last_error(zdc_bridge_peer_handle(p->bp)));
}

static int report(const gd3_peer *p, const char *fn, char *old, int rv)
{
    if (rv != 0) {
        const char *why = zdc_peer_last_error(zdc_bridge_peer_handle(p->bp));
        if (old && !strcmp(old, why))
            why = "";
        zdc_gd3_error_at(__FILE__, __LINE__, fn, "%s%s%s", zdc_strerror(rv), why[0] ? ": " : "",
                         why);
    }
    free(old);
    return rv;
}

/* Reads a string or an array of strings into one ','-separated malloc'ed string. */
static char *urls_of(const godot_variant *v)
{
    godot_variant_type t = zdc_gd3_api->godot_variant_get_type(v);
    if (t == GODOT_VARIANT_TYPE_STRING)
        return zdc_gd3_strdup(v);
    if (t != GODOT_VARIANT_TYPE_ARRAY && t != GODOT_VARIANT_TYPE_POOL_STRING_ARRAY)
        return NULL;
    godot_array a = zdc_gd3_api->godot_variant_as_array(v);
    char *out = calloc(1, 1);
    size_t len = 0;
    for (godot_int i = 0; out && i < zdc_gd3_api->godot_array_size(&a); i++) {
        godot_variant e = zdc_gd3_api->godot_array_get(&a, i);
        char *s = zdc_gd3_api->godot_variant_get_type(&e) == GODOT_VARIANT_TYPE_STRING
                      ? zdc_gd3_strdup(&e)
                      : NULL;
        zdc_gd3_api->godot_variant_destroy(&e);
        char *grown = s ? realloc(out, len + strlen(s) + 2) : NULL;
        if (!grown) {
            free(s);
            free(out);
            out = NULL;
            break;
        }
        out = grown;
        if (len)
            out[len++] = ',';
        strcpy(out + len, s);
        len += strlen(s);
        free(s);
    }
    zdc_gd3_api->godot_array_destroy(&a);
    return out;
}

/* initialize({"iceServers": [{"urls": "stun:..." or [...], "username": .., "credential": ..}]}) */
static godot_error initialize(void *self, const godot_dictionary *cfg)
{
    gd3_peer *p = self;
    NEED_PEER(p, GODOT_ERR_UNCONFIGURED);
    zdc_ice_server *servers = NULL;
    size_t n = 0;
    int rv = 0;
    godot_variant list;
    if (zdc_gd3_dict_get(cfg, "iceServers", &list)) {
        if (zdc_gd3_api->godot_variant_get_type(&list) != GODOT_VARIANT_TYPE_ARRAY) {
            zdc_gd3_api->godot_variant_destroy(&list);
            zdc_gd3_error(__func__, "iceServers must be an Array of Dictionaries");
            return GODOT_ERR_INVALID_PARAMETER;
        }
        godot_array a = zdc_gd3_api->godot_variant_as_array(&list);
        zdc_gd3_api->godot_variant_destroy(&list);
        godot_int count = zdc_gd3_api->godot_array_size(&a);
        servers = calloc(count ? (size_t)count : 1, sizeof *servers);
        if (!servers)
            rv = ZDC_ERR_NOMEM;
        for (godot_int i = 0; rv == 0 && i < count; i++) {
            godot_variant e = zdc_gd3_api->godot_array_get(&a, i);
            if (zdc_gd3_api->godot_variant_get_type(&e) != GODOT_VARIANT_TYPE_DICTIONARY) {
                zdc_gd3_error(__func__, "iceServers[%d] is not a Dictionary", (int)i);
                rv = ZDC_ERR_INVALID_PARAMETER;
            } else {
                godot_dictionary d = zdc_gd3_api->godot_variant_as_dictionary(&e);
                godot_variant v;
                zdc_ice_server *s = &servers[n++];
                if (zdc_gd3_dict_get(&d, "urls", &v)) {
                    s->urls = urls_of(&v);
                    zdc_gd3_api->godot_variant_destroy(&v);
                }
                if (!s->urls) {
                    zdc_gd3_error(__func__,
                                  "iceServers[%d].urls: a String or an Array of "
                                  "Strings is required",
                                  (int)i);
                    rv = ZDC_ERR_INVALID_PARAMETER;
                }
                if (zdc_gd3_dict_get(&d, "username", &v)) {
                    s->username = zdc_gd3_strdup(&v);
                    zdc_gd3_api->godot_variant_destroy(&v);
                }
                if (zdc_gd3_dict_get(&d, "credential", &v)) {
                    s->credential = zdc_gd3_strdup(&v);
                    zdc_gd3_api->godot_variant_destroy(&v);
                }
                zdc_gd3_api->godot_dictionary_destroy(&d);
            }
            zdc_gd3_api->godot_variant_destroy(&e);
        }
        zdc_gd3_api->godot_array_destroy(&a);
    }
    if (rv == 0) {
        zdc_peer_config c = {.ice_servers = servers, .n_ice_servers = n};
        char *old = before(p);
        rv = report(p, __func__, old, zdc_bridge_peer_initialize(p->bp, &c));
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)servers[i].urls);
        free((char *)servers[i].username);
        free((char *)servers[i].credential);
    }
    free(servers);
    return gd_err(rv);
}

/* Reads an int-like option (int, float or bool); 1 = present, 0 = absent, -1 = wrong type. */
static int opt_int(const godot_dictionary *d, const char *key, int64_t *out)
{
    godot_variant v;
    if (!zdc_gd3_dict_get(d, key, &v))
        return 0;
    godot_variant_type t = zdc_gd3_api->godot_variant_get_type(&v);
    int rv = 1;
    if (t == GODOT_VARIANT_TYPE_INT || t == GODOT_VARIANT_TYPE_REAL || t == GODOT_VARIANT_TYPE_BOOL)
        *out = zdc_gd3_api->godot_variant_as_int(&v);
    else
        rv = -1;
    zdc_gd3_api->godot_variant_destroy(&v);
    if (rv < 0)
        zdc_gd3_error("create_data_channel", "option %s must be a number or a bool", key);
    return rv;
}

static godot_object *create_data_channel(void *self, const char *label, const godot_dictionary *d)
{
    gd3_peer *p = self;
    NEED_PEER(p, NULL);
    zdc_channel_options o = zdc_channel_options_default();
    int64_t v;
    char *protocol = NULL;
    int r;
    if ((r = opt_int(d, "negotiated", &v)) < 0)
        return NULL;
    if (r)
        o.negotiated = v != 0;
    if ((r = opt_int(d, "id", &v)) < 0)
        return NULL;
    if (r)
        o.id = v < -1 || v > 65535 ? 65535 : (int)v;
    if ((r = opt_int(d, "ordered", &v)) < 0)
        return NULL;
    if (r)
        o.ordered = v != 0;
    /* The W3C spelling, and Godot 3.2's WebRTCMultiplayer's ("maxPacketLifetime"). */
    static const char *const lifetimes[] = {"maxPacketLifeTime", "maxPacketLifetime"};
    for (int i = 0; i < 2; i++) {
        if ((r = opt_int(d, lifetimes[i], &v)) < 0)
            return NULL;
        if (r)
            o.max_packet_life_time = v < 0 || v > 65535 ? -2 : (int)v;
    }
    if ((r = opt_int(d, "maxRetransmits", &v)) < 0)
        return NULL;
    if (r)
        o.max_retransmits = v < 0 || v > 65535 ? -2 : (int)v;
    if (o.max_packet_life_time == -2 || o.max_retransmits == -2) {
        zdc_gd3_error(__func__, "maxPacketLifeTime / maxRetransmits must be 0..65535");
        return NULL;
    }
    godot_variant pv;
    if (zdc_gd3_dict_get(d, "protocol", &pv)) {
        protocol = zdc_gd3_strdup(&pv);
        zdc_gd3_api->godot_variant_destroy(&pv);
        if (!protocol)
            return NULL;
        o.protocol = protocol;
    }
    zdc_channel ch;
    char *old = before(p);
    int rv = zdc_peer_create_data_channel(zdc_bridge_peer_handle(p->bp), label, &o, &ch);
    free(protocol);
    if (report(p, __func__, old, rv) != 0)
        return NULL;
    return zdc_gd3_channel_wrap(ch);
}

/* Runs one zdc call on the peer's handle, printing its reason on failure. */
#define PEER_CALL(p, call)                                                                         \
    do {                                                                                           \
        NEED_PEER(p, GODOT_ERR_UNCONFIGURED);                                                      \
        zdc_peer h = zdc_bridge_peer_handle((p)->bp);                                              \
        char *old = before(p);                                                                     \
        int rv = (call);                                                                           \
        return gd_err(report(p, __func__, old, rv));                                               \
    } while (0)

static godot_error create_offer(void *self)
{
    PEER_CALL(PEER(self), zdc_peer_create_offer(h));
}

static godot_error create_answer(void *self)
{
    /* Godot never calls it: the answer comes from set_remote_description("offer"). */
    return GODOT_ERR_UNAVAILABLE;
}

static godot_error set_remote_description(void *self, const char *type, const char *sdp)
{
    PEER_CALL(PEER(self), zdc_peer_set_remote_description(h, type, sdp));
}

static godot_error set_local_description(void *self, const char *type, const char *sdp)
{
    PEER_CALL(PEER(self), zdc_peer_set_local_description(h, type, sdp));
}

static godot_error add_ice_candidate(void *self, const char *mid, int index, const char *cand)
{
    PEER_CALL(PEER(self), zdc_peer_add_ice_candidate(h, mid, index, cand));
}

static godot_error poll(void *self)
{
    gd3_peer *p = self;
    NEED_PEER(p, GODOT_ERR_UNCONFIGURED);
    return gd_err(zdc_bridge_peer_poll(p->bp));
}

static void close_peer(void *self)
{
    gd3_peer *p = self;
    if (p->bp)
        zdc_bridge_peer_close(p->bp);
}

static const godot_net_webrtc_peer_connection g_iface = {
    .version = {GODOT_NET_WEBRTC_API_MAJOR, GODOT_NET_WEBRTC_API_MINOR},
    .get_connection_state = get_connection_state,
    .initialize = initialize,
    .create_data_channel = create_data_channel,
    .create_offer = create_offer,
    .create_answer = create_answer,
    .set_remote_description = set_remote_description,
    .set_local_description = set_local_description,
    .add_ice_candidate = add_ice_candidate,
    .poll = poll,
    .close = close_peer,
};

/* ---- NativeScript class --------------------------------------------------------------- */

static void *peer_ctor(godot_object *owner, void *method_data)
{
    gd3_peer *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->iface = g_iface;
    p->iface.data = (godot_object *)p;
    p->owner = owner;
    zdc_bridge_signals sig = {
        .user = p,
        .session_description_created = sig_description,
        .ice_candidate_created = sig_candidate,
        .data_channel_received = sig_channel,
    };
    p->create_err = zdc_bridge_peer_new(&sig, zdc_gd3_setting, NULL, &p->bp);
    if (p->create_err != 0) {
        p->bp = NULL;
        zdc_gd3_error(__func__, "cannot create a peer: %s", zdc_strerror(p->create_err));
    }
    zdc_gd3_net->godot_net_bind_webrtc_peer_connection(owner, &p->iface);
    return p;
}

static void peer_dtor(godot_object *owner, void *method_data, void *user)
{
    gd3_peer *p = user;
    if (!p)
        return;
    zdc_bridge_peer_free(p->bp);
    free(p);
}

void zdc_gd3_peer_register(void *handle)
{
    godot_instance_create_func c = {.create_func = peer_ctor};
    godot_instance_destroy_func d = {.destroy_func = peer_dtor};
    zdc_gd3_ns->godot_nativescript_register_class(handle, ZDC_GD3_PEER_CLASS,
                                                  "WebRTCPeerConnectionGDNative", c, d);
}

godot_error zdc_gd3_peer_create(godot_object *obj)
{
    if (!zdc_gd3_attach_script(obj, ZDC_GD3_PEER_CLASS)) {
        zdc_gd3_error(__func__, "cannot attach the " ZDC_GD3_PEER_CLASS " script");
        return GODOT_ERR_CANT_CREATE;
    }
    gd3_peer *p = zdc_gd3_ns->godot_nativescript_get_userdata(obj);
    return p->bp ? GODOT_OK : gd_err(p->create_err);
}
