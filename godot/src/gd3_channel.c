/* The Godot 3 front: WebRTCDataChannelGDNative bound to a bridge channel, and ZdcInfo (live
 * counts for tests and diagnostics). */
#include "gd3.h"

#include <limits.h>
#include <stdlib.h>

/* zdc's default a=max-message-size: what zdc accepts, and the most a zdc peer sends. */
#define MAX_PACKET_SIZE (256 * 1024)

typedef struct gd3_channel {
    godot_net_webrtc_data_channel iface; /* bound to the Godot object; data = this */
    zdc_bridge_channel *bc;              /* NULL until wrapped (or for a bare ZdcDataChannel) */
} gd3_channel;

#define CH(self) (((const gd3_channel *)(self))->bc)

static zdc_channel handle(const void *self)
{
    const zdc_bridge_channel *bc = CH(self);
    return bc ? zdc_bridge_channel_handle(bc) : (zdc_channel){0};
}

static godot_error get_packet(void *self, const uint8_t **buf, int *len)
{
    gd3_channel *c = self;
    if (!c->bc)
        return GODOT_ERR_UNCONFIGURED;
    size_t n = 0;
    int rv = zdc_bridge_channel_get_packet(c->bc, buf, &n);
    if (rv != 0)
        return rv == ZDC_ERR_AGAIN ? GODOT_ERR_UNAVAILABLE
                                   : (godot_error)zdc_bridge_godot_error(rv);
    *len = n > INT_MAX ? INT_MAX : (int)n;
    return GODOT_OK;
}

static godot_error put_packet(void *self, const uint8_t *buf, int len)
{
    gd3_channel *c = self;
    if (!c->bc)
        return GODOT_ERR_UNCONFIGURED;
    if (len < 0 || (len > 0 && !buf))
        return GODOT_ERR_INVALID_PARAMETER;
    int rv = zdc_channel_put_packet(handle(self), buf, (size_t)len);
    if (rv != 0 && rv != ZDC_ERR_QUEUE_FULL) /* a full queue is flow control (ERR_BUSY) */
        zdc_gd3_error(__func__, "%s (%d bytes on channel \"%s\")", zdc_strerror(rv), len,
                      zdc_channel_get_label(handle(self)));
    return (godot_error)zdc_bridge_godot_error(rv);
}

static godot_int get_available_packet_count(const void *self)
{
    const zdc_bridge_channel *bc = CH(self);
    return bc ? zdc_bridge_channel_available(bc) : 0;
}

static godot_int get_max_packet_size(const void *self)
{
    return MAX_PACKET_SIZE;
}

static void set_write_mode(void *self, godot_int mode)
{
    if (zdc_channel_set_write_mode(handle(self), (int)mode) == ZDC_ERR_INVALID_PARAMETER)
        zdc_gd3_error(__func__, "write mode %d is neither TEXT (0) nor BINARY (1)", (int)mode);
}

static godot_int get_write_mode(const void *self)
{
    return zdc_channel_get_write_mode(handle(self));
}

static bool was_string_packet(const void *self)
{
    const zdc_bridge_channel *bc = CH(self);
    return bc && zdc_bridge_channel_was_string(bc);
}

static godot_int get_ready_state(const void *self)
{
    return zdc_channel_get_ready_state(handle(self));
}

static const char *get_label(const void *self)
{
    return zdc_channel_get_label(handle(self));
}

static bool is_ordered(const void *self)
{
    return zdc_channel_is_ordered(handle(self));
}

static int get_id(const void *self)
{
    return zdc_channel_get_id(handle(self));
}

static int get_max_packet_life_time(const void *self)
{
    return zdc_channel_get_max_packet_life_time(handle(self));
}

static int get_max_retransmits(const void *self)
{
    return zdc_channel_get_max_retransmits(handle(self));
}

static const char *get_protocol(const void *self)
{
    return zdc_channel_get_protocol(handle(self));
}

static bool is_negotiated(const void *self)
{
    return zdc_channel_is_negotiated(handle(self));
}

static godot_error poll(void *self)
{
    /* The peer's poll moves the data; a channel has nothing of its own to do. */
    return ((gd3_channel *)self)->bc ? GODOT_OK : GODOT_ERR_UNCONFIGURED;
}

static void close_channel(void *self)
{
    zdc_channel_close(handle(self));
}

static const godot_net_webrtc_data_channel g_iface = {
    .version = {GODOT_NET_WEBRTC_API_MAJOR, GODOT_NET_WEBRTC_API_MINOR},
    .get_packet = get_packet,
    .put_packet = put_packet,
    .get_available_packet_count = get_available_packet_count,
    .get_max_packet_size = get_max_packet_size,
    .set_write_mode = set_write_mode,
    .get_write_mode = get_write_mode,
    .was_string_packet = was_string_packet,
    .get_ready_state = get_ready_state,
    .get_label = get_label,
    .is_ordered = is_ordered,
    .get_id = get_id,
    .get_max_packet_life_time = get_max_packet_life_time,
    .get_max_retransmits = get_max_retransmits,
    .get_protocol = get_protocol,
    .is_negotiated = is_negotiated,
    .poll = poll,
    .close = close_channel,
};

static void *channel_ctor(godot_object *owner, void *method_data)
{
    gd3_channel *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->iface = g_iface;
    c->iface.data = (godot_object *)c;
    zdc_gd3_net->godot_net_bind_webrtc_data_channel(owner, &c->iface);
    return c;
}

static void channel_dtor(godot_object *owner, void *method_data, void *user)
{
    gd3_channel *c = user;
    if (!c)
        return;
    zdc_bridge_channel_free(c->bc);
    free(c);
}

godot_object *zdc_gd3_channel_wrap(zdc_channel ch)
{
    godot_class_constructor ctor =
        zdc_gd3_api->godot_get_class_constructor("WebRTCDataChannelGDNative");
    godot_object *obj = ctor ? ctor() : NULL;
    zdc_bridge_channel *bc = zdc_bridge_channel_new(ch);
    if (obj && bc && zdc_gd3_attach_script(obj, ZDC_GD3_CHANNEL_CLASS)) {
        gd3_channel *c = zdc_gd3_ns->godot_nativescript_get_userdata(obj);
        c->bc = bc;
        return obj;
    }
    zdc_gd3_error(__func__, "cannot make a WebRTCDataChannelGDNative");
    if (bc)
        zdc_bridge_channel_free(bc);
    else
        zdc_channel_release(ch);
    if (obj) {
        godot_variant v; /* takes the first reference; destroying it frees the object */
        zdc_gd3_api->godot_variant_new_object(&v, obj);
        zdc_gd3_api->godot_variant_destroy(&v);
    }
    return NULL;
}

/* ---- ZdcInfo: live counts ------------------------------------------------------------- */

static void dict_set_int(godot_dictionary *d, const char *key, int64_t value)
{
    godot_variant k, v;
    zdc_gd3_variant_string(&k, key);
    zdc_gd3_api->godot_variant_new_int(&v, value);
    zdc_gd3_api->godot_dictionary_set(d, &k, &v);
    zdc_gd3_api->godot_variant_destroy(&k);
    zdc_gd3_api->godot_variant_destroy(&v);
}

/* ZdcInfo.get_stats() -> {"peers", "channels", "engine_refs", "engine_alive"} */
static godot_variant info_get_stats(godot_object *obj, void *method_data, void *user, int n,
                                    godot_variant **args)
{
    zdc_bridge_stats st;
    zdc_bridge_get_stats(&st);
    godot_dictionary d;
    zdc_gd3_api->godot_dictionary_new(&d);
    dict_set_int(&d, "peers", st.peers);
    dict_set_int(&d, "channels", st.channels);
    dict_set_int(&d, "engine_refs", st.engine_refs);
    dict_set_int(&d, "engine_alive", st.engine_alive);
    godot_variant ret;
    zdc_gd3_api->godot_variant_new_dictionary(&ret, &d);
    zdc_gd3_api->godot_dictionary_destroy(&d);
    return ret;
}

static void *info_ctor(godot_object *owner, void *method_data)
{
    return owner; /* no state; non-NULL */
}

static void info_dtor(godot_object *owner, void *method_data, void *user) {}

void zdc_gd3_channel_register(void *handle)
{
    godot_instance_create_func c = {.create_func = channel_ctor};
    godot_instance_destroy_func d = {.destroy_func = channel_dtor};
    zdc_gd3_ns->godot_nativescript_register_class(handle, ZDC_GD3_CHANNEL_CLASS,
                                                  "WebRTCDataChannelGDNative", c, d);
    godot_instance_create_func ic = {.create_func = info_ctor};
    godot_instance_destroy_func id = {.destroy_func = info_dtor};
    zdc_gd3_ns->godot_nativescript_register_class(handle, ZDC_GD3_INFO_CLASS, "Reference", ic, id);
    godot_method_attributes attr = {.rpc_type = GODOT_METHOD_RPC_MODE_DISABLED};
    godot_instance_method m = {.method = info_get_stats};
    zdc_gd3_ns->godot_nativescript_register_method(handle, ZDC_GD3_INFO_CLASS, "get_stats", attr,
                                                   m);
}
