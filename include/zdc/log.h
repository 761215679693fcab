/* zdc logging: why a connection failed, and what the stack is doing, through one callback.
 *
 * Each engine has a log sink: a level, a set of components and a callback. Every peer of the
 * engine logs through it, tagged with the peer's handle. Nothing is logged by default. A
 * process opts in without code through the environment, read by zdc_engine_new:
 *
 *   ZDC_LOG=level[,component...]      e.g. ZDC_LOG=debug  or  ZDC_LOG=info,ice,dtls
 *
 * writes the engine's lines at that level or more severe, of the components listed (all when
 * none is), to stderr. zdc_engine_set_log() overrides it from code. A level that is off costs a
 * comparison: nothing is formatted, and the data path (messages sent and received) logs only at
 * TRACE.
 *
 * What is logged at which level:
 *   ERROR  a failure that ends a connection, with its reason: ICE failed (no pair worked, or
 *          the checking deadline passed), consent lost, DTLS fingerprint mismatch, DTLS alert
 *          received, DTLS handshake failed, SCTP association aborted (with the cause), an
 *          association that could not start
 *   WARN   input refused or a limit reached (a remote message over max-message-size, a
 *          refused data channel), a connection that went DISCONNECTED
 *   INFO   life-cycle steps: pair selected, DTLS up (version, cipher), SCTP up, channel open
 *   DEBUG  protocol decisions: candidates, checks, nominations, retransmissions
 *   TRACE  per-datagram and per-message detail (the data path)
 *
 * Threads: the callback runs on the thread that called into zdc (the one polling the engine, or
 * the one making an API call), never on a thread of zdc's own. It must not call back into zdc.
 */
#ifndef ZDC_LOG_H
#define ZDC_LOG_H

#include "zdc/export.h"

#include <stdint.h>

#include "zdc/peer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Levels, most severe first. A sink at level L receives every line at L or below. */
enum zdc_log_level {
    ZDC_LOG_NONE = 0, /* a sink level: nothing */
    ZDC_LOG_ERROR = 1,
    ZDC_LOG_WARN = 2,
    ZDC_LOG_INFO = 3,
    ZDC_LOG_DEBUG = 4,
    ZDC_LOG_TRACE = 5,
};

/* Components: which part of zdc a line comes from. New components may be added at the end. */
enum zdc_log_component {
    ZDC_LOG_ICE = 0,    /* ICE agent: candidates, checks, consent (RFC 8445, RFC 7675) */
    ZDC_LOG_DTLS = 1,   /* DTLS handshake, alerts, fingerprint check */
    ZDC_LOG_SCTP = 2,   /* SCTP association */
    ZDC_LOG_DCEP = 3,   /* data channels: DCEP open/ack, channel limits */
    ZDC_LOG_IO = 4,     /* sockets, io_uring/epoll, routing */
    ZDC_LOG_ENGINE = 5, /* the engine: peers, timers */
    ZDC_LOG_TURN = 6,   /* TURN relays */
    ZDC_LOG_API = 7,    /* the public calls: invalid use */
    ZDC_LOG_PC = 8,     /* the peer connection: offer/answer, connection state */
    ZDC_LOG_COMPONENT_COUNT = 9,
};

/* A set of components: bit (1u << component). */
#define ZDC_LOG_COMPONENT_BIT(c) (1u << (unsigned)(c))
#define ZDC_LOG_ALL_COMPONENTS   0xffffffffu

/* Receives one line: `msg` is one line of text without a newline, valid during the call only.
 * `peer` is the peer it concerns ({0} for engine-wide lines). */
typedef void (*zdc_log_fn)(void *user, int level, int component, zdc_peer peer, const char *msg);

/* Sets the engine's log sink: lines at `level` or more severe (enum zdc_log_level; NONE turns
 * logging off) go to fn(user, ...); fn NULL writes them to stderr (zdc_log_stderr). Replaces
 * what ZDC_LOG set; the component set is kept (all components unless
 * zdc_engine_set_log_components or ZDC_LOG narrowed it). Takes effect at once for every peer of
 * the engine. Returns 0 or ZDC_ERR_INVALID_PARAMETER (e NULL, level out of range). */
ZDC_API int zdc_engine_set_log(zdc_engine *e, int level, zdc_log_fn fn, void *user);

/* Restricts the engine's log to a set of components (ZDC_LOG_COMPONENT_BIT() values OR-ed, or
 * ZDC_LOG_ALL_COMPONENTS). Returns 0 or ZDC_ERR_INVALID_PARAMETER (e NULL). */
ZDC_API int zdc_engine_set_log_components(zdc_engine *e, uint32_t components);

/* The engine's current sink level (ZDC_LOG_NONE when silent); ZDC_LOG_NONE for NULL. */
ZDC_API int zdc_engine_get_log_level(const zdc_engine *e);

/* Parses a ZDC_LOG value, "level[,component...]" (names as zdc_log_level_name and
 * zdc_log_component_name give them, case-insensitive; "none" or "off" for no logging; spaces
 * around names are allowed). *components gets the listed set, or ZDC_LOG_ALL_COMPONENTS when
 * none is listed. Returns 0; ZDC_ERR_INVALID_PARAMETER (a NULL argument); ZDC_ERR_MALFORMED
 * (an unknown name, an empty item, over 256 characters): outputs unchanged. */
ZDC_API int zdc_log_parse(const char *spec, int *level, uint32_t *components);

/* A zdc_log_fn writing "zdc <level> <component> [peer <id>]: <msg>" lines to stderr (user is
 * unused). What ZDC_LOG and a NULL fn use. */
ZDC_API void zdc_log_stderr(void *user, int level, int component, zdc_peer peer, const char *msg);

/* "error", "warn", "info", "debug", "trace" ("none" for ZDC_LOG_NONE, "?" out of range). */
ZDC_API const char *zdc_log_level_name(int level);
/* "ice", "dtls", "sctp", "dcep", "io", "engine", "turn", "api", "pc" ("?" out of range). */
ZDC_API const char *zdc_log_component_name(int component);

#ifdef __cplusplus
}
#endif

#endif /* ZDC_LOG_H */
