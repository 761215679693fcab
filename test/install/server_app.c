/* A game built against an installed zdc-server library (pkg-config zdc-server): it starts the
 * signaling front on loopback, polls it once, checks its ports and that nobody has joined,
 * and frees it. */
#include <stdio.h>
#include <zdc_server.h>

static void on_join(void *user, zdc_server *s, uint32_t player)
{
    (void)user;
    (void)s;
    (void)player;
}

int main(void)
{
    zdc_server_options o = {.bind_address = "127.0.0.1", .include_loopback = true};
    zdc_server_callbacks cb = {.on_join = on_join};
    zdc_server *s;
    int rv = zdc_server_new(&o, &cb, &s);
    if (rv != 0) {
        fprintf(stderr, "zdc_server_new: %s\n", zdc_strerror(rv));
        return 1;
    }
    if (zdc_server_poll(s, 10) != 0)
        return 1;
    int http = zdc_server_http_port(s), udp = zdc_server_udp_port(s);
    printf("zdc-server library: http port %d, udp port %d, %u players\n", http, udp,
           zdc_server_player_count(s));
    if (http <= 0 || udp <= 0 || zdc_server_player_count(s) != 0)
        return 1;
    if (zdc_peer_get_stats(zdc_server_player_peer(s, 1),
                           &(zdc_peer_stats){.size = sizeof(zdc_peer_stats)}) != ZDC_ERR_GONE)
        return 1;
    zdc_server_free(s);
    return 0;
}
