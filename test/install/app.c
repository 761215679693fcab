/* A user's program built against an installed zdc (find_package or pkg-config): it includes
 * only <zdc/zdc.h> and calls into the library (error text, a codec round trip, and an engine
 * with a peer, which needs liburing, OpenSSL and usrsctp linked in). */
#include <stdio.h>
#include <string.h>
#include <zdc/zdc.h>

int main(void)
{
    const char *s = zdc_strerror(ZDC_ERR_TRUNCATED);
    printf("zdc says: %s\n", s);
    if (strcmp(s, "input truncated") != 0)
        return 1;
    zdc_candidate c;
    const char *line = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host";
    if (zdc_candidate_parse(line, strlen(line), &c) != 0)
        return 1;
    char out[256];
    if (zdc_candidate_format(&c, out, sizeof out) < 0)
        return 1;
    printf("candidate round trip: %s\n", out);
    if (!strstr(out, "127.0.0.1 5000 typ host"))
        return 1;
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    zdc_engine *e;
    zdc_peer p;
    zdc_channel ch;
    zdc_channel_options co = zdc_channel_options_default();
    if (zdc_engine_new(&o, &e) != 0 || zdc_peer_new(e, NULL, &p) != 0 ||
        zdc_peer_create_data_channel(p, "x", &co, &ch) != 0 || zdc_peer_create_offer(p) != 0)
        return 1;
    zdc_engine_poll(e, 0);
    const char *sdp = zdc_peer_get_local_description(p, false);
    printf("engine on port %d (%s), offer of %zu bytes\n", zdc_engine_port(e, 4),
           zdc_engine_backend_name(e), sdp ? strlen(sdp) : 0);
    int ok = sdp && strstr(sdp, "webrtc-datachannel") != NULL; /* sdp dies with the peer */
    zdc_engine_free(e);
    return ok ? 0 : 1;
}
