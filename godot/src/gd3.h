/* The Godot 3 front (GDNative "net" WebRTC extension, API 3.2): shared declarations of
 * gd3_library.c (entry points, Godot API helpers), gd3_peer.c and gd3_channel.c. Everything
 * Godot-independent lives in bridge.c; a Godot 4 GDExtension front would sit beside these
 * files and reuse it (docs/godot.md). */
#ifndef ZDC_GODOT_GD3_H
#define ZDC_GODOT_GD3_H

#include <gdnative_api_struct.gen.h>
#include <stdbool.h>
#include <stddef.h>

#include "bridge.h"

extern const godot_gdnative_core_api_struct *zdc_gd3_api;
extern const godot_gdnative_ext_nativescript_api_struct *zdc_gd3_ns;
extern const godot_gdnative_ext_net_3_2_api_struct *zdc_gd3_net;

/* Class names registered through NativeScript. */
#define ZDC_GD3_PEER_CLASS    "ZdcPeerConnection"
#define ZDC_GD3_CHANNEL_CLASS "ZdcDataChannel"
#define ZDC_GD3_INFO_CLASS    "ZdcInfo"

/* Entry points Godot looks up in the library (symbol_prefix "godot_"): the only symbols the
 * library exports (GDN_EXPORT is empty outside Windows; the library is built hidden). */
#define ZDC_GD3_EXPORT __attribute__((visibility("default")))
ZDC_GD3_EXPORT void godot_gdnative_init(godot_gdnative_init_options *o);
ZDC_GD3_EXPORT void godot_gdnative_terminate(godot_gdnative_terminate_options *o);
ZDC_GD3_EXPORT void godot_gdnative_singleton(void);
ZDC_GD3_EXPORT void godot_nativescript_init(void *handle);

/* Prints through Godot's error list (shown like an engine error, with "zdc:" first), naming
 * the caller's function, file and line. */
void zdc_gd3_error_at(const char *file, int line, const char *fn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define zdc_gd3_error(...) zdc_gd3_error_at(__FILE__, __LINE__, __VA_ARGS__)

/* Calls cls.method on obj with n variant arguments; the result is destroyed. Returns false if
 * the method does not exist or the call failed. */
bool zdc_gd3_call(godot_object *obj, const char *cls, const char *method, int n,
                  const godot_variant **args);
/* Attaches a new NativeScript of this library's class `cls` to obj (which must derive from the
 * class's base). The class's create callback runs inside. Returns false on failure. */
bool zdc_gd3_attach_script(godot_object *obj, const char *cls);

/* Dictionary helpers: true if d has key (the value in *out, to destroy). */
bool zdc_gd3_dict_get(const godot_dictionary *d, const char *key, godot_variant *out);
/* A variant's text as a malloc'ed UTF-8 string (NULL on out of memory). */
char *zdc_gd3_strdup(const godot_variant *v);
/* A variant holding a UTF-8 string. */
void zdc_gd3_variant_string(godot_variant *v, const char *s);

/* Engine settings from ProjectSettings "network/zdc/<name>" (zdc_bridge_setting_fn). */
bool zdc_gd3_setting(void *user, const char *name, char *buf, size_t cap);

/* Registers the classes with NativeScript. */
void zdc_gd3_peer_register(void *handle);
void zdc_gd3_channel_register(void *handle);

/* create_peer_connection of the library table: binds a WebRTCPeerConnectionGDNative. */
godot_error zdc_gd3_peer_create(godot_object *obj);
/* A new WebRTCDataChannelGDNative bound to zdc channel ch (reference count not yet taken), or
 * NULL (the handle is then released). */
godot_object *zdc_gd3_channel_wrap(zdc_channel ch);

#endif /* ZDC_GODOT_GD3_H */
