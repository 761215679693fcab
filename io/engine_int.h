/* What the built-in peer implementation (io/peer_builtin.c) needs from the engine
 * (io/engine.c) beyond the public include/zdc/engine.h.
 *
 * A peer joins an engine as a member: the engine creates its sans-IO peer connection (wired
 * to the engine's socket, certificate, clock and random source), routes datagrams and timeouts
 * to it, and asks it to deliver its queued events from zdc_engine_poll. Everything here
 * belongs to the thread that polls the engine. */
#ifndef ZDC_IO_ENGINE_INT_H
#define ZDC_IO_ENGINE_INT_H

#include <stdint.h>

#include "keymap.h"
#include "pc.h"
#include "timer.h"
#include "zdc/engine.h"

/* A link in one of the engine's circular lists (internal). */
typedef struct zdc_engine_link {
    struct zdc_engine_link *prev, *next;
} zdc_engine_link;

/* An address other than the selected one that ICE verified for a member (engine.c). */
#define ZDC_ENGINE_VERIFIED 4
typedef struct zdc_engine_vaddr {
    zdc_keymap_node node;
    struct zdc_engine_member *m;
    uint8_t key[19];
    size_t len;
    bool used;
} zdc_engine_vaddr;

typedef struct zdc_engine_member {
    zdc_pc *pc; /* set by zdc_engine_attach */
    /* Delivers the member's queued events to the application (zdc_engine_poll). The member
     * may be detached (even freed) during the call. */
    void (*dispatch)(void *arg);
    /* Frees the member and everything that refers to it (zdc_engine_free). Must detach it. */
    void (*release)(void *arg);
    void *arg;

    /* Internal to the engine (io/engine.c): set up by zdc_engine_attach. */
    zdc_engine *engine;
    struct zdc_engine_member *partner; /* the member it talks to through the engine's own
                                          socket (two peers of one engine), if any */
    bool partnered;                    /* some member's partner is (or was) this one */
    zdc_engine_link all;               /* every member */
    zdc_engine_link ready;             /* members with events to dispatch (self-linked: none) */
    zdc_engine_link txs;               /* this member's recent STUN requests (engine.c) */
    zdc_timer timer;                   /* armed at zdc_pc_next_timeout (UINT64_MAX: none) */
    struct zdc_engine_member *due;     /* next member whose timer fired in this step */
    /* Routing keys, as last read from pc: the local ICE ufrag and the selected remote. */
    zdc_keymap_node ufrag_node, addr_node;
    bool has_ufrag, has_addr, addr_indexed; /* addr: not indexed when it is the engine's own */
    char ufrag[257];                        /* RFC 8839 §5.4: at most 256 characters */
    uint8_t addr_key[19];
    zdc_addr addr;
    zdc_engine_vaddr verified[ZDC_ENGINE_VERIFIED];
    int verified_next;
} zdc_engine_member;

/* Creates m->pc on the engine and adds m to its members (m must stay put until detached;
 * fill dispatch, release and arg, zero the rest). Returns 0, ZDC_ERR_INVALID_PARAMETER or
 * ZDC_ERR_NOMEM. */
int zdc_engine_attach(zdc_engine *e, zdc_engine_member *m);

/* Removes m and frees m->pc (no event is delivered). Safe from inside a dispatch. */
void zdc_engine_detach(zdc_engine *e, zdc_engine_member *m);

/* Tells the engine that a call on m->pc outside the engine (an API call: descriptions,
 * candidates, initialize, close) may have changed its next deadline or its routing keys
 * (local ufrag, selected address): re-reads them. O(log peers). Queued events need no call:
 * the peer connection reports them itself (zdc_pc_env.notify). */
void zdc_engine_member_changed(zdc_engine_member *m);

/* The I/O half of zdc_engine_poll: sends what is queued, waits up to timeout_ms (0: no wait,
 * < 0: until the next deadline or datagram), routes received datagrams and runs due timeouts.
 * Fires no callback. Returns 0 or ZDC_ERR_IO. */
int zdc_engine_step(zdc_engine *e, int timeout_ms);

/* The engine's clock (CLOCK_MONOTONIC, ns): the time every member's peer connection sees. */
uint64_t zdc_engine_now_ns(void);

#endif /* ZDC_IO_ENGINE_INT_H */
