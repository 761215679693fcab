/* The log sink the layers share (public face: include/zdc/log.h).
 *
 * An engine owns a zdc_logger; each peer connection holds a zdc_log_ctx naming that logger and
 * the peer's handle, and hands a pointer to it to its stages (ICE, DTLS, SCTP) through their
 * configs — there is no global logger. Code logs with ZDC_LOG(ctx, level, component, fmt, ...),
 * which tests the level and component before it evaluates its arguments or formats anything:
 * a disabled line costs two loads and a compare. A NULL ctx, or a ctx with no logger, is
 * silent. */
#ifndef ZDC_BASE_LOG_H
#define ZDC_BASE_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "zdc/log.h"

typedef struct zdc_logger {
    int level;           /* enum zdc_log_level: lines at or below it pass */
    uint32_t components; /* ZDC_LOG_COMPONENT_BIT set */
    zdc_log_fn fn;       /* NULL: stderr */
    void *user;
} zdc_logger;

typedef struct zdc_log_ctx {
    const zdc_logger *sink; /* NULL: silent */
    uint64_t peer;          /* the peer's public handle id, 0 for none */
} zdc_log_ctx;

/* Whether a line at (level, component) would be emitted. */
static inline bool zdc_log_enabled(const zdc_log_ctx *c, int level, int component)
{
    return c != NULL && c->sink != NULL && level <= c->sink->level &&
           (c->sink->components & ZDC_LOG_COMPONENT_BIT(component)) != 0;
}

/* Formats and emits one line (no level check: use ZDC_LOG). Lines longer than 511 bytes are
 * cut. */
void zdc_log_emit(const zdc_log_ctx *c, int level, int component, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ZDC_LOG(ctx, level, component, ...)                                                        \
    do {                                                                                           \
        const zdc_log_ctx *zdc_log_c_ = (ctx);                                                     \
        if (zdc_log_enabled(zdc_log_c_, (level), (component)))                                     \
            zdc_log_emit(zdc_log_c_, (level), (component), __VA_ARGS__);                           \
    } while (0)

#define ZDC_LOG_E(ctx, comp, ...) ZDC_LOG(ctx, ZDC_LOG_ERROR, comp, __VA_ARGS__)
#define ZDC_LOG_W(ctx, comp, ...) ZDC_LOG(ctx, ZDC_LOG_WARN, comp, __VA_ARGS__)
#define ZDC_LOG_I(ctx, comp, ...) ZDC_LOG(ctx, ZDC_LOG_INFO, comp, __VA_ARGS__)
#define ZDC_LOG_D(ctx, comp, ...) ZDC_LOG(ctx, ZDC_LOG_DEBUG, comp, __VA_ARGS__)
#define ZDC_LOG_T(ctx, comp, ...) ZDC_LOG(ctx, ZDC_LOG_TRACE, comp, __VA_ARGS__)

/* A silent logger (level NONE, every component, stderr when enabled). */
void zdc_logger_init(zdc_logger *lg);
/* The process default: zdc_logger_init, then the ZDC_LOG value `spec` if it is not NULL (an
 * engine passes getenv("ZDC_LOG")). A malformed value leaves the logger silent. Returns 0 or
 * ZDC_ERR_MALFORMED. */
int zdc_logger_init_from_spec(zdc_logger *lg, const char *spec);

#endif /* ZDC_BASE_LOG_H */
