/* The Godot 3 front: GDNative entry points, the WebRTC library table, Godot API helpers. */
#include "gd3.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const godot_gdnative_core_api_struct *zdc_gd3_api;
const godot_gdnative_ext_nativescript_api_struct *zdc_gd3_ns;
const godot_gdnative_ext_net_3_2_api_struct *zdc_gd3_net;
static godot_object *g_library; /* the GDNativeLibrary resource that loaded us */

void zdc_gd3_error_at(const char *file, int line, const char *fn, const char *fmt, ...)
{
    char msg[512] = "zdc: ";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 5, sizeof msg - 5, fmt, ap);
    va_end(ap);
    if (zdc_gd3_api)
        zdc_gd3_api->godot_print_error(msg, fn, strrchr(file, '/') ? strrchr(file, '/') + 1 : file,
                                       line);
    else
        fprintf(stderr, "%s (%s)\n", msg, fn);
}

void zdc_gd3_variant_string(godot_variant *v, const char *s)
{
    godot_string str = zdc_gd3_api->godot_string_chars_to_utf8(s);
    zdc_gd3_api->godot_variant_new_string(v, &str);
    zdc_gd3_api->godot_string_destroy(&str);
}

char *zdc_gd3_strdup(const godot_variant *v)
{
    godot_string s = zdc_gd3_api->godot_variant_as_string(v);
    godot_char_string cs = zdc_gd3_api->godot_string_utf8(&s);
    char *out = strdup(zdc_gd3_api->godot_char_string_get_data(&cs));
    zdc_gd3_api->godot_char_string_destroy(&cs);
    zdc_gd3_api->godot_string_destroy(&s);
    return out;
}

bool zdc_gd3_dict_get(const godot_dictionary *d, const char *key, godot_variant *out)
{
    godot_variant k;
    zdc_gd3_variant_string(&k, key);
    bool has = zdc_gd3_api->godot_dictionary_has(d, &k);
    if (has)
        *out = zdc_gd3_api->godot_dictionary_get(d, &k);
    zdc_gd3_api->godot_variant_destroy(&k);
    return has;
}

static bool call_keep(godot_object *obj, const char *cls, const char *method, int n,
                      const godot_variant **args, godot_variant *ret)
{
    godot_method_bind *mb = zdc_gd3_api->godot_method_bind_get_method(cls, method);
    if (!mb || !obj)
        return false;
    godot_variant_call_error err = {0};
    *ret = zdc_gd3_api->godot_method_bind_call(mb, obj, args, n, &err);
    if (err.error != GODOT_CALL_ERROR_CALL_OK) {
        zdc_gd3_api->godot_variant_destroy(ret);
        return false;
    }
    return true;
}

bool zdc_gd3_call(godot_object *obj, const char *cls, const char *method, int n,
                  const godot_variant **args)
{
    godot_variant ret;
    if (!call_keep(obj, cls, method, n, args, &ret))
        return false;
    zdc_gd3_api->godot_variant_destroy(&ret);
    return true;
}

bool zdc_gd3_attach_script(godot_object *obj, const char *cls)
{
    godot_class_constructor ctor = zdc_gd3_api->godot_get_class_constructor("NativeScript");
    if (!ctor || !g_library)
        return false;
    godot_object *script = ctor();
    if (!script)
        return false;
    godot_variant vs, vlib, vname;
    /* The variant holds the script's first reference; set_script takes the object's. */
    zdc_gd3_api->godot_variant_new_object(&vs, script);
    zdc_gd3_api->godot_variant_new_object(&vlib, g_library);
    zdc_gd3_variant_string(&vname, cls);
    const godot_variant *a_lib[] = {&vlib}, *a_name[] = {&vname}, *a_script[] = {&vs};
    bool ok = zdc_gd3_call(script, "NativeScript", "set_library", 1, a_lib) &&
              zdc_gd3_call(script, "NativeScript", "set_class_name", 1, a_name) &&
              zdc_gd3_call(obj, "Object", "set_script", 1, a_script);
    zdc_gd3_api->godot_variant_destroy(&vname);
    zdc_gd3_api->godot_variant_destroy(&vlib);
    zdc_gd3_api->godot_variant_destroy(&vs);
    return ok && zdc_gd3_ns->godot_nativescript_get_userdata(obj) != NULL;
}

bool zdc_gd3_setting(void *user, const char *name, char *buf, size_t cap)
{
    godot_object *ps = zdc_gd3_api->godot_global_get_singleton("ProjectSettings");
    if (!ps)
        return false;
    char path[96];
    snprintf(path, sizeof path, "network/zdc/%s", name);
    godot_variant key, ret;
    zdc_gd3_variant_string(&key, path);
    const godot_variant *args[] = {&key};
    bool found = false;
    if (call_keep(ps, "ProjectSettings", "has_setting", 1, args, &ret)) {
        found = zdc_gd3_api->godot_variant_as_bool(&ret);
        zdc_gd3_api->godot_variant_destroy(&ret);
    }
    if (found && call_keep(ps, "ProjectSettings", "get_setting", 1, args, &ret)) {
        char *s = zdc_gd3_strdup(&ret);
        zdc_gd3_api->godot_variant_destroy(&ret);
        if (s)
            snprintf(buf, cap, "%s", s);
        found = s != NULL;
        free(s);
    } else {
        found = false;
    }
    zdc_gd3_api->godot_variant_destroy(&key);
    return found;
}

/* zdc's log lines in Godot's output: errors and warnings as Godot errors and warnings. */
static void log_line(void *user, int level, int component, zdc_peer peer, const char *msg)
{
    char line[1024];
    snprintf(line, sizeof line, "zdc %s %s%s: %s", zdc_log_level_name(level),
             zdc_log_component_name(component), peer.id ? " (peer)" : "", msg);
    if (level == ZDC_LOG_ERROR)
        zdc_gd3_api->godot_print_error(line, "zdc", "zdc", 0);
    else if (level == ZDC_LOG_WARN)
        zdc_gd3_api->godot_print_warning(line, "zdc", "zdc", 0);
    else {
        godot_string s = zdc_gd3_api->godot_string_chars_to_utf8(line);
        zdc_gd3_api->godot_print(&s);
        zdc_gd3_api->godot_string_destroy(&s);
    }
}

/* ---- the WebRTC library table ---------------------------------------------------------- */

static void on_unregistered(void)
{
    /* Another library became Godot's WebRTC implementation; peers made by us keep working. */
}

static godot_error create_peer_connection(godot_object *obj)
{
    return zdc_gd3_peer_create(obj);
}

static const godot_net_webrtc_library g_webrtc_library = {
    .version = {GODOT_NET_WEBRTC_API_MAJOR, GODOT_NET_WEBRTC_API_MINOR},
    .unregistered = on_unregistered,
    .create_peer_connection = create_peer_connection,
};

/* ---- entry points ---------------------------------------------------------------------- */

ZDC_GD3_EXPORT void godot_gdnative_init(godot_gdnative_init_options *o)
{
    zdc_gd3_api = o->api_struct;
    g_library = o->gd_native_library;
    zdc_bridge_set_log_sink(log_line, NULL);
    for (unsigned i = 0; i < zdc_gd3_api->num_extensions; i++) {
        const godot_gdnative_api_struct *ext = zdc_gd3_api->extensions[i];
        if (ext->type == GDNATIVE_EXT_NATIVESCRIPT) {
            zdc_gd3_ns = (const godot_gdnative_ext_nativescript_api_struct *)ext;
        } else if (ext->type == GDNATIVE_EXT_NET) {
            /* The WebRTC calls are in NET 3.2, reached from the 3.1 struct's next pointer. */
            for (const godot_gdnative_api_struct *e = ext; e; e = e->next)
                if (e->version.major == 3 && e->version.minor >= 2)
                    zdc_gd3_net = (const godot_gdnative_ext_net_3_2_api_struct *)e;
        }
    }
}

ZDC_GD3_EXPORT void godot_gdnative_terminate(godot_gdnative_terminate_options *o) {}

ZDC_GD3_EXPORT void godot_gdnative_singleton(void)
{
    if (!zdc_gd3_net || !zdc_gd3_ns) {
        zdc_gd3_error(__func__, "this Godot has no GDNative NET 3.2 or NativeScript API; "
                                "zdc is not its WebRTC implementation");
        return;
    }
    godot_error err = zdc_gd3_net->godot_net_set_webrtc_library(&g_webrtc_library);
    if (err != GODOT_OK)
        zdc_gd3_error(__func__, "godot_net_set_webrtc_library failed (%d)", (int)err);
}

ZDC_GD3_EXPORT void godot_nativescript_init(void *handle)
{
    zdc_gd3_peer_register(handle);
    zdc_gd3_channel_register(handle);
}
