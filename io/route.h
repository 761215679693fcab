/* Routing on a shared socket: which of an engine's peers a received datagram is for. No
 * socket, no clock: the engine feeds it what it knows and asks; test/route_test.c drives it
 * with stand-in peers.
 *
 * RFC 8445 §5.1.1 / single-port mux. A STUN request or indication names its peer by the local
 * ufrag in USERNAME (RFC 8445 §7.2.2: "LFRAG:RFRAG" as the receiver reads it), a STUN response
 * by the transaction id of the request that peer sent (RFC 8489 §6.3: responses carry no
 * USERNAME and come from wherever the request went). Anything else (DTLS, carrying SCTP)
 * belongs to the peer whose selected pair has that remote address, or whose ICE agent
 * validated the address (it answered a check of ours, RFC 8445 §7.2.5.3) — the controlling peer
 * chooses the pair (RFC 8445 §8.1.1), and a browser may send on another than ours.
 *
 * Lookups are hash maps (core/base/keymap.h, SipHash under seeds the engine draws at random,
 * so remotes cannot choose colliding keys); every candidate a map gives is confirmed by the
 * peer itself (ops), so a stale or colliding key cannot misroute. Nothing here walks the
 * peers: routing one datagram costs the same with one peer or thousands. */
#ifndef ZDC_IO_ROUTE_H
#define ZDC_IO_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "keymap.h"
#include "list.h"
#include "zdc/stun.h"

/* TURN servers one peer talks to (core/proto/pc.h PC_MAX_TURN). */
#define ZDC_ROUTE_SERVERS 4
/* Addresses other than the selected one remembered per peer as verified (the oldest replaced). */
#define ZDC_ROUTE_VERIFIED 4
/* STUN requests remembered for routing their responses. A response whose request left the
 * ring (more than this many requests since) is dropped like a loss: ICE retransmits. */
#define ZDC_ROUTE_TX_RING 16384

typedef struct zdc_route_entry zdc_route_entry;

typedef struct zdc_route_vaddr {
    zdc_keymap_node node;
    zdc_route_entry *entry;
    uint8_t key[19];
    size_t len;
    bool used;
} zdc_route_vaddr;

/* One peer's routing keys, embedded in the engine's member (zero it, then zdc_route_add). */
struct zdc_route_entry {
    zdc_keymap_node ufrag_node, addr_node;
    bool has_ufrag, has_addr, addr_indexed;
    char ufrag[257]; /* RFC 8839 §5.4: at most 256 characters */
    uint8_t addr_key[19];
    zdc_addr addr;
    zdc_route_vaddr verified[ZDC_ROUTE_VERIFIED];
    int verified_next;
    zdc_link txs;                               /* this peer's remembered STUN requests */
    zdc_route_vaddr servers[ZDC_ROUTE_SERVERS]; /* its TURN servers: all they send is its */
};

/* The peer's own word on a candidate the maps found. */
typedef struct zdc_route_ops {
    /* Whether a parsed STUN message is this peer's (full USERNAME, or a live transaction). */
    bool (*owns_stun)(zdc_route_entry *e, const zdc_stun_msg *msg);
    /* Whether non-STUN traffic from `from` may reach this peer. */
    bool (*accepts_from)(zdc_route_entry *e, const zdc_addr *from);
} zdc_route_ops;

typedef struct zdc_route_tx zdc_route_tx;

typedef struct zdc_route {
    zdc_route_ops ops;
    zdc_keymap by_ufrag;    /* local ICE ufrag -> entry */
    zdc_keymap by_addr;     /* selected remote address -> entry */
    zdc_keymap by_verified; /* other addresses ICE verified -> entry */
    zdc_keymap by_txid;     /* STUN request transaction id -> entry */
    zdc_keymap by_server;   /* TURN server address -> entries using it */
    zdc_route_tx *tx;       /* ring of ZDC_ROUTE_TX_RING; tx_next is overwritten next */
    size_t tx_next;
} zdc_route;

/* seeds: 4 x 16 random bytes (the maps' SipHash keys). Returns 0 or ZDC_ERR_NOMEM. */
int zdc_route_init(zdc_route *r, const zdc_route_ops *ops, const uint8_t seeds[4][16]);
void zdc_route_clear(zdc_route *r);

/* Starts an entry with no keys. */
void zdc_route_add(zdc_route *r, zdc_route_entry *e);
/* Forgets the entry: its keys, verified addresses and STUN requests. */
void zdc_route_remove(zdc_route *r, zdc_route_entry *e);

/* Sets the entry's keys as the peer reports them now: its local ufrag (NULL: none) and its
 * selected remote address (NULL: none). `index_addr` false keeps the address out of the map
 * (the engine's own address: self traffic is routed by its sender, see engine_self.c). */
void zdc_route_set_keys(zdc_route *r, zdc_route_entry *e, const char *ufrag,
                        const zdc_addr *selected, bool index_addr);

/* A STUN request the peer sent (p, len: the datagram; anything not a request is ignored), so
 * its response finds the peer. A retransmission refreshes it. */
void zdc_route_tx_remember(zdc_route *r, zdc_route_entry *e, const uint8_t *p, size_t len);

/* The peer `from` proved itself to with an authenticated STUN check: non-STUN traffic from it
 * then reaches the peer even when it is not the selected pair. Only when ops.accepts_from
 * agrees; a few addresses per peer, the oldest replaced. */
void zdc_route_add_verified(zdc_route *r, zdc_route_entry *e, const zdc_addr *from);

/* Sets the TURN servers the peer talks to (n <= ZDC_ROUTE_SERVERS; more are ignored).
 * Everything from such an address is offered to the peer first (zdc_route_server_take). */
void zdc_route_set_servers(zdc_route *r, zdc_route_entry *e, const zdc_addr *servers, size_t n);
/* Offers a datagram from `from` to each peer using that TURN server until take() accepts it;
 * returns that peer, or NULL (none uses the server, or none took it). */
zdc_route_entry *zdc_route_server_take(zdc_route *r, const zdc_addr *from,
                                       bool (*take)(zdc_route_entry *e, void *arg), void *arg);

/* The owner of a parsed STUN message, or NULL (skip: an entry not to answer). */
zdc_route_entry *zdc_route_stun_owner(zdc_route *r, const zdc_stun_msg *msg,
                                      const zdc_route_entry *skip);
/* The owner of non-STUN traffic from `from`, or NULL. */
zdc_route_entry *zdc_route_addr_owner(zdc_route *r, const zdc_addr *from,
                                      const zdc_route_entry *skip);

/* The key an address is indexed under in these maps (family, port, IP bytes); returns its
 * length (7 or 19). io/workers.c keys the I/O thread's map the same way. */
size_t zdc_route_addr_key(const zdc_addr *a, uint8_t key[19]);

#endif /* ZDC_IO_ROUTE_H */
