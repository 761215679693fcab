/* What a peer implementation (api/builtin.c) needs from the engine beyond the public
 * include/zdc/engine.h: a place among the engine's members.
 *
 * A member is the engine's side of one peer: the engine creates its sans-IO peer connection
 * (wired to the engine's socket, certificate, clock and random source), routes datagrams and
 * timeouts to it, and asks its owner to deliver its queued events from zdc_engine_poll. The
 * member is opaque: its owner sees its peer connection and nothing of the engine's routing or
 * timers. Everything here belongs to the thread that polls the engine.
 *
 * Teardown has one owner, the member's owner: it calls zdc_engine_detach when its peer goes.
 * zdc_engine_free asks every member still attached to go (ops.release), and the owner
 * detaches it from there. */
#ifndef ZDC_IO_ENGINE_MEMBER_H
#define ZDC_IO_ENGINE_MEMBER_H

#include <stdint.h>

#include "pc.h"
#include "zdc/engine.h"

typedef struct zdc_engine_member zdc_engine_member;

typedef struct zdc_engine_member_ops {
    /* Delivers the member's queued events to the application (from zdc_engine_poll). The
     * member may be detached (even freed) during the call. */
    void (*dispatch)(void *arg);
    /* zdc_engine_free is running: free the peer, which must detach the member. */
    void (*release)(void *arg);
} zdc_engine_member_ops;

/* Creates a member with its peer connection (*out). Returns 0, ZDC_ERR_INVALID_PARAMETER or
 * ZDC_ERR_NOMEM. */
int zdc_engine_attach(zdc_engine *e, const zdc_engine_member_ops *ops, void *arg,
                      zdc_engine_member **out);

/* The member's peer connection (valid until zdc_engine_detach). */
zdc_pc *zdc_engine_member_pc(const zdc_engine_member *m);

/* Removes m and frees it and its peer connection (no event is delivered). Safe from inside a
 * dispatch. NULL: nothing. */
void zdc_engine_detach(zdc_engine_member *m);

/* Tells the engine that a call on m's peer connection from outside the engine (an API call:
 * descriptions, candidates, initialize, close) may have changed its next deadline or its
 * routing keys (local ufrag, selected address): re-reads them. O(log peers). Queued events
 * need no call: the peer connection reports them itself (zdc_pc_env.notify). */
void zdc_engine_member_changed(zdc_engine_member *m);

/* The I/O half of zdc_engine_poll: sends what is queued, waits up to timeout_ms (0: no wait,
 * < 0: until the next deadline or datagram), routes received datagrams and runs due timeouts.
 * Fires no callback. Returns 0 or ZDC_ERR_IO. */
int zdc_engine_step(zdc_engine *e, int timeout_ms);

/* The engine's clock (CLOCK_MONOTONIC, ns): the time every member's peer connection sees. */
uint64_t zdc_engine_now_ns(void);

#endif /* ZDC_IO_ENGINE_MEMBER_H */
