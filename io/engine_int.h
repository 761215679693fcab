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

#include "pc.h"
#include "zdc/engine.h"

typedef struct zdc_engine_member {
    zdc_pc *pc; /* set by zdc_engine_attach */
    /* Delivers the member's queued events to the application (zdc_engine_poll). The member
     * may be detached (even freed) during the call. */
    void (*dispatch)(void *arg);
    /* Frees the member and everything that refers to it (zdc_engine_free). Must detach it. */
    void (*release)(void *arg);
    void *arg;

    /* Internal to the engine. */
    zdc_engine *engine;
    struct zdc_engine_member *partner; /* the member it talks to through the engine's own
                                          socket (two peers of one engine), if any */
} zdc_engine_member;

/* Creates m->pc on the engine and adds m to its members (m must stay put until detached).
 * Returns 0, ZDC_ERR_INVALID_PARAMETER or ZDC_ERR_NOMEM. */
int zdc_engine_attach(zdc_engine *e, zdc_engine_member *m);

/* Removes m and frees m->pc (no event is delivered). Safe from inside a dispatch. */
void zdc_engine_detach(zdc_engine *e, zdc_engine_member *m);

/* The I/O half of zdc_engine_poll: sends what is queued, waits up to timeout_ms (0: no wait,
 * < 0: until the next deadline or datagram), routes received datagrams and runs due timeouts.
 * Fires no callback. Returns 0 or ZDC_ERR_IO. */
int zdc_engine_step(zdc_engine *e, int timeout_ms);

/* The engine's clock (CLOCK_MONOTONIC, ns): the time every member's peer connection sees. */
uint64_t zdc_engine_now_ns(void);

#endif /* ZDC_IO_ENGINE_INT_H */
