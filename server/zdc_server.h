/* zdc-server's library part: a WHIP-shaped signaling front and a player table on one zdc
 * engine, for a game to link (libzdc_server.a) and drive from its own loop.
 *
 *   POST /whip        body: the browser's complete offer (application/sdp, candidates in it)
 *                     -> 201 Created, body: the complete answer (candidates and
 *                        a=end-of-candidates), Location: /whip/<player id>
 *   DELETE /whip/<id> the player leaves
 *   GET /...          static files from options.www_dir (the browser client: zdc-client.js)
 *
 * Each browser opens two data channels before its offer: "reliable" (ordered, reliable) and
 * "unreliable" (unordered, no retransmission); server/www/zdc-client.js does it. A player
 * joins once its reliable channel is open and leaves when its connection fails or closes, its
 * reliable channel closes, or it sends DELETE. Signaling is non-trickle: one request, one
 * answer (zdc_peer_get_local_description(peer, true)).
 *
 * Threading: one thread. zdc_server_poll waits on the HTTP server's and the engine's
 * descriptors together (zdc_engine_fd) and fires the callbacks; zdc_server_fd lets a game put
 * both in its own loop instead. Every callback fires inside zdc_server_poll or
 * zdc_server_run_ready. A callback may call zdc_server_send, zdc_server_kick and the getters.
 */
#ifndef ZDC_SERVER_H
#define ZDC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zdc/zdc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zdc_server zdc_server;

typedef struct zdc_server_options {
    const char *bind_address;   /* IP for HTTP and UDP (NULL: all addresses) */
    uint16_t http_port;         /* 0: any free port (zdc_server_http_port tells) */
    uint16_t udp_port;          /* 0: any free port */
    const char *public_address; /* NAT 1:1: announced in host candidates (engine option) */
    const char *www_dir;        /* static files for GET (NULL: none) */
    bool include_loopback;      /* offer loopback candidates (tests on one host) */
    unsigned max_players;       /* default 1000; more offers get 503 */
    zdc_peer_tuning tuning;     /* timeouts and per-peer memory (zdc/tuning.h) */
} zdc_server_options;

typedef struct zdc_server_callbacks {
    void *user;
    /* The player's reliable channel is open: it can be sent to. */
    void (*on_join)(void *user, zdc_server *s, uint32_t player);
    /* A message from the player; `data` is valid during the call only. */
    void (*on_message)(void *user, zdc_server *s, uint32_t player, bool reliable,
                       const uint8_t *data, size_t len, bool text);
    /* The player is gone (after on_join only); its id is not used again. */
    void (*on_leave)(void *user, zdc_server *s, uint32_t player);
} zdc_server_callbacks;

/* Starts the HTTP server and the engine. Returns 0; ZDC_ERR_INVALID_PARAMETER;
 * ZDC_ERR_ADDR_IN_USE (the HTTP port); ZDC_ERR_IO; or an error of zdc_engine_new. */
int zdc_server_new(const zdc_server_options *o, const zdc_server_callbacks *cb, zdc_server **out);
/* Closes every player (no callbacks), stops HTTP, frees. NULL is a no-op. */
void zdc_server_free(zdc_server *s);

/* Waits up to timeout_ms (< 0: until something happens) for HTTP requests, datagrams or
 * timers, handles them, and fires the callbacks. Returns 0 or ZDC_ERR_IO. */
int zdc_server_poll(zdc_server *s, int timeout_ms);

/* For the game's own loop: poll these two descriptors (readable) with a timeout of
 * zdc_server_next_timeout_ms, then call zdc_server_run_ready. */
void zdc_server_fds(zdc_server *s, int fds[2]);
int zdc_server_next_timeout_ms(zdc_server *s);
int zdc_server_run_ready(zdc_server *s);

/* Sends one message to a joined player (text = as a string). Returns 0; ZDC_ERR_NOT_FOUND
 * (no such player); ZDC_ERR_INVALID_STATE (the channel is not open); ZDC_ERR_QUEUE_FULL;
 * ZDC_ERR_TOO_LARGE. */
int zdc_server_send(zdc_server *s, uint32_t player, bool reliable, const void *data, size_t len,
                    bool text);
/* Sends to every joined player; returns how many took it. */
int zdc_server_broadcast(zdc_server *s, bool reliable, const void *data, size_t len, bool text);
/* Closes the player's connection; on_leave follows in the next poll. */
int zdc_server_kick(zdc_server *s, uint32_t player);

int zdc_server_http_port(const zdc_server *s);
int zdc_server_udp_port(const zdc_server *s);
unsigned zdc_server_player_count(const zdc_server *s); /* joined players */
zdc_engine *zdc_server_engine(zdc_server *s);

/* The player's peer connection, for what zdc's peer API offers beyond this header: its
 * address (zdc_peer_get_remote_address), statistics (zdc_peer_get_stats), user data. Valid
 * until on_leave returns; do not free it (zdc_server_kick closes it). Returns a zero handle,
 * which every zdc_peer_* call refuses with ZDC_ERR_GONE, for an unknown or departed player. */
zdc_peer zdc_server_player_peer(zdc_server *s, uint32_t player);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_SERVER_H */
