/* zdc_peer_initialize with ICE servers through the built-in implementation: errors of the
 * name-resolution step reach zdc_peer_last_error, and a later error of the connection replaces
 * them. No name reaches DNS here: "localhost" resolves from /etc/hosts to 127.0.0.1 only, and
 * the engine has an IPv6 socket only, so the name has no usable address. */
#include <criterion/criterion.h>
#include <string.h>

#include "zdc/zdc.h"

static zdc_engine *engine_v6(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv4 = false;
    o.bind_address = "::1";
    zdc_engine *e = NULL;
    int rv = zdc_engine_new(&o, &e);
    cr_assert_eq(rv, 0, "engine on ::1: %s", zdc_strerror(rv));
    return e;
}

Test(peer_config, resolution_error_is_the_last_error)
{
    zdc_engine *e = engine_v6();
    zdc_peer p;
    cr_assert_eq(zdc_peer_new(e, NULL, &p), 0);
    zdc_ice_server s = {.urls = "stun:localhost:3478"};
    zdc_peer_config c = {.ice_servers = &s, .n_ice_servers = 1};
    cr_assert_eq(zdc_peer_initialize(p, &c), ZDC_ERR_INVALID_PARAMETER);
    cr_assert(strstr(zdc_peer_last_error(p), "cannot resolve 'localhost'"), "last error: '%s'",
              zdc_peer_last_error(p));
    /* peer.h: a failed initialize leaves the peer NEW with no ICE servers: usable. */
    cr_assert_eq(zdc_peer_get_connection_state(p), ZDC_STATE_NEW);
    /* A later failing call reports its own error, not the stale one. */
    cr_assert_eq(zdc_peer_set_remote_description(p, "answer", "v=0\r\n"), ZDC_ERR_INVALID_STATE);
    cr_assert_null(strstr(zdc_peer_last_error(p), "resolve"), "last error: '%s'",
                   zdc_peer_last_error(p));
    /* A numeric server needs no resolution: initialize succeeds and clears the error. */
    s.urls = "stun:[::1]:3478";
    cr_assert_eq(zdc_peer_initialize(p, &c), 0, "%s", zdc_peer_last_error(p));
    cr_assert_str_eq(zdc_peer_last_error(p), "");
    zdc_peer_free(p);
    zdc_engine_free(e);
}
