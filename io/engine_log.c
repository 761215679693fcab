/* The engine's log sink (include/zdc/log.h): the process default from ZDC_LOG, and the calls
 * that set it. Every member's peer connection logs through a pointer to e->log, so a change
 * here reaches all of them at once. */
#include <stdio.h>
#include <stdlib.h>

#include "engine_priv.h"
#include "zdc/log.h"

void zdc_engine_log_init(zdc_engine *e)
{
    const char *spec = getenv("ZDC_LOG");
    if (zdc_logger_init_from_spec(&e->log, spec) != 0)
        fprintf(stderr, "zdc: ZDC_LOG=\"%.64s\" ignored: expected level[,component...]\n", spec);
    e->log_ctx = (zdc_log_ctx){.sink = &e->log, .peer = 0};
}

int zdc_engine_set_log(zdc_engine *e, int level, zdc_log_fn fn, void *user)
{
    if (!e || level < ZDC_LOG_NONE || level > ZDC_LOG_TRACE)
        return ZDC_ERR_INVALID_PARAMETER;
    e->log.level = level;
    e->log.fn = fn;
    e->log.user = user;
    return 0;
}

int zdc_engine_set_log_components(zdc_engine *e, uint32_t components)
{
    if (!e)
        return ZDC_ERR_INVALID_PARAMETER;
    e->log.components = components;
    return 0;
}

int zdc_engine_get_log_level(const zdc_engine *e)
{
    return e ? e->log.level : ZDC_LOG_NONE;
}
