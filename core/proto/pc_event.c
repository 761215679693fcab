/* The peer connection's event queue, last error and states (see pc_int.h for the layout). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iceurl.h"
#include "pc_int.h"
#include "zdc/candidate.h"
#include "zdc/dcep.h"
#include "zdc/demux.h"
#include "zdc/error.h"
#include "zdc/sdp.h"
#include "zdc/stun.h"

char *pc_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        if (n)
            memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *pc_strdup_in(zdc_pc *pc, const char *s)
{
    if (pc->env.fail_alloc && pc->env.fail_alloc(pc->env.user))
        return NULL;
    return pc_strdup(s);
}

char *pc_strdup(const char *s)
{
    return pc_strndup(s ? s : "", s ? strlen(s) : 0);
}

void pc_set_err(zdc_pc *pc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pc->err, sizeof pc->err, fmt, ap);
    va_end(ap);
}

void pc_notify(zdc_pc *pc)
{
    if (pc->env.notify)
        pc->env.notify(pc->env.user);
}

void *pc_alloc(zdc_pc *pc, void *old, size_t n)
{
    if (pc->env.fail_alloc && pc->env.fail_alloc(pc->env.user))
        return NULL;
    return realloc(old, n);
}

void pc_fail_nomem(zdc_pc *pc, const char *what)
{
    pc->nomem_count++;
    if (pc->nomem_failed || pc->closed)
        return;
    pc->nomem_failed = true;
    pc_set_err(pc, "out of memory: %s lost; the connection failed", what);
    /* The FAILED event itself may not fit in memory: pc_push_event then marks it pending and
     * zdc_pc_next_event reports it without allocating. */
    pc_update_connection_state(pc);
    pc_notify(pc);
}

int pc_push_event(zdc_pc *pc, int kind, int value, zdc_pc_channel *ch, const char *text,
                  const char *text2)
{
    if (pc->closed)
        return 0;
    if (pc->ev_head + pc->ev_n == pc->ev_cap) {
        if (pc->ev_head > 0) {
            memmove(pc->ev, pc->ev + pc->ev_head, pc->ev_n * sizeof *pc->ev);
            pc->ev_head = 0;
        } else {
            size_t cap = pc->ev_cap ? pc->ev_cap * 2 : 32;
            zdc_pc_event *e = pc_alloc(pc, pc->ev, cap * sizeof *e);
            if (!e)
                goto nomem;
            pc->ev = e;
            pc->ev_cap = cap;
        }
    }
    char *t1 = NULL, *t2 = NULL;
    if ((text && !(t1 = pc_strdup_in(pc, text))) || (text2 && !(t2 = pc_strdup_in(pc, text2)))) {
        free(t1);
        goto nomem;
    }
    pc->ev[pc->ev_head + pc->ev_n] = (zdc_pc_event){
        .kind = kind,
        .state = kind == ZDC_PC_EV_CANDIDATE ? 0 : value,
        .mline_index = kind == ZDC_PC_EV_CANDIDATE ? value : 0,
        .channel = ch,
        .text = t1,
        .text2 = t2,
    };
    pc->ev_n++;
    pc_notify(pc);
    return 0;
nomem:
    /* An event the application never sees leaves it with a wrong picture of the connection
     * (a channel it thinks is connecting, a message it never got): fail it visibly. */
    if (kind != ZDC_PC_EV_CONNECTION)
        pc_fail_nomem(pc, "an event");
    else
        pc->nomem_event_pending = true;
    return ZDC_ERR_NOMEM;
}

void pc_events_forget_channel(zdc_pc *pc, const zdc_pc_channel *c)
{
    for (size_t i = 0; i < pc->ev_n; i++) {
        zdc_pc_event *e = &pc->ev[pc->ev_head + i];
        if (e->channel == c) {
            e->channel = NULL;
            e->kind = ZDC_PC_EV_NONE; /* its owner let it go: nobody to tell */
        }
    }
}

void pc_drop_events(zdc_pc *pc)
{
    for (size_t i = 0; i < pc->ev_n; i++)
        zdc_pc_event_clear(&pc->ev[pc->ev_head + i]);
    pc->ev_head = pc->ev_n = 0;
}

int zdc_pc_next_event(zdc_pc *pc, zdc_pc_event *ev)
{
    if (pc->ev_n == 0) {
        if (!pc->nomem_event_pending || pc->closed)
            return 0;
        /* The connection failed for lack of memory and its FAILED event could not be queued:
         * report it now (it needs no allocation). */
        pc->nomem_event_pending = false;
        *ev = (zdc_pc_event){.kind = ZDC_PC_EV_CONNECTION, .state = pc->conn_state};
        return 1;
    }
    *ev = pc->ev[pc->ev_head++];
    if (--pc->ev_n == 0)
        pc->ev_head = 0;
    return 1;
}

void zdc_pc_event_clear(zdc_pc_event *ev)
{
    free(ev->text);
    free(ev->text2);
    ev->text = ev->text2 = NULL;
}

void pc_set_signaling(zdc_pc *pc, enum zdc_signaling_state s)
{
    if (pc->sig_state == s)
        return;
    pc->sig_state = s;
    pc_push_event(pc, ZDC_PC_EV_SIGNALING, s, NULL, NULL, NULL);
}

static const char *state_name(enum zdc_connection_state s)
{
    static const char *const names[] = {"new",          "connecting", "connected",
                                        "disconnected", "failed",     "closed"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}

/* Which stage failed the connection (its own line, logged where it failed, says how). */
static const char *failure_stage(const zdc_pc *pc)
{
    if (pc->nomem_failed)
        return "out of memory";
    if (pc->ice_failed)
        return "ICE failed";
    if (pc->dtls_failed)
        return "DTLS failed";
    return "the SCTP association could not start";
}

static void log_state(const zdc_pc *pc, enum zdc_connection_state from,
                      enum zdc_connection_state to)
{
    if (to == ZDC_STATE_FAILED)
        ZDC_LOG_E(&pc->log, ZDC_LOG_PC, "connection failed: %s%s%s", failure_stage(pc),
                  pc->err[0] ? "; last error: " : "", pc->err);
    else if (to == ZDC_STATE_CLOSED && pc->remote_closed && !pc->closed)
        ZDC_LOG_I(&pc->log, ZDC_LOG_PC, "connection closed by the remote (SCTP ABORT or SHUTDOWN)");
    else
        ZDC_LOG_I(&pc->log, ZDC_LOG_PC, "connection %s -> %s", state_name(from), state_name(to));
}

void pc_update_connection_state(zdc_pc *pc)
{
    enum zdc_connection_state s;
    int ice = pc->ice ? zdc_ice_state(pc->ice) : ZDC_ICE_NEW;
    bool dtls_up = pc->dtls && zdc_dtls_get_state(pc->dtls) == ZDC_DTLS_CONNECTED;
    if (pc->closed || pc->remote_closed)
        s = ZDC_STATE_CLOSED;
    else if (pc->ice_failed || pc->dtls_failed || pc->sctp_failed || pc->nomem_failed)
        s = ZDC_STATE_FAILED;
    else if (ice == ZDC_ICE_DISCONNECTED)
        s = ZDC_STATE_DISCONNECTED;
    else if ((ice == ZDC_ICE_CHECKING || ice == ZDC_ICE_CONNECTED || ice == ZDC_ICE_COMPLETED) &&
             dtls_up)
        /* A DTLS handshake that completed over an address ICE verified proves the path: the
         * controlling side may still be nominating (regular nomination waits for its checks),
         * but data already flows, as browsers report it. */
        s = ZDC_STATE_CONNECTED;
    else if (ice != ZDC_ICE_NEW || pc->dtls)
        s = ZDC_STATE_CONNECTING;
    else
        s = ZDC_STATE_NEW;
    if (s == pc->conn_state)
        return;
    log_state(pc, pc->conn_state, s);
    pc->conn_state = s;
    pc_push_event(pc, ZDC_PC_EV_CONNECTION, s, NULL, NULL, NULL);
}
