/* The log sink (log.h): level and component names, ZDC_LOG parsing, formatting, stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "zdc/error.h"

#define LINE_MAX_BYTES 512
#define SPEC_MAX       256

static const char *const level_names[] = {"none", "error", "warn", "info", "debug", "trace"};
static const char *const component_names[ZDC_LOG_COMPONENT_COUNT] = {
    "ice", "dtls", "sctp", "dcep", "io", "engine", "turn", "api", "pc"};

const char *zdc_log_level_name(int level)
{
    if (level < ZDC_LOG_NONE || level > ZDC_LOG_TRACE)
        return "?";
    return level_names[level];
}

const char *zdc_log_component_name(int component)
{
    if (component < 0 || component >= ZDC_LOG_COMPONENT_COUNT)
        return "?";
    return component_names[component];
}

/* The item [p, p + n) with surrounding spaces removed. */
static void trim(const char **p, size_t *n)
{
    while (*n && (**p == ' ' || **p == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

static int find_level(const char *p, size_t n)
{
    if (name_is(p, n, "off"))
        return ZDC_LOG_NONE;
    if (name_is(p, n, "warning"))
        return ZDC_LOG_WARN;
    for (int l = ZDC_LOG_NONE; l <= ZDC_LOG_TRACE; l++)
        if (name_is(p, n, level_names[l]))
            return l;
    return -1;
}

static int find_component(const char *p, size_t n)
{
    for (int c = 0; c < ZDC_LOG_COMPONENT_COUNT; c++)
        if (name_is(p, n, component_names[c]))
            return c;
    return -1;
}

int zdc_log_parse(const char *spec, int *level, uint32_t *components)
{
    if (!spec || !level || !components)
        return ZDC_ERR_INVALID_PARAMETER;
    size_t total = strnlen(spec, SPEC_MAX + 1);
    if (total > SPEC_MAX)
        return ZDC_ERR_MALFORMED;
    int lv = -1;
    uint32_t set = 0;
    const char *p = spec, *end = spec + total;
    for (bool first = true;; first = false) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        const char *item = p;
        size_t n = (size_t)(stop - p);
        trim(&item, &n);
        if (n == 0)
            return ZDC_ERR_MALFORMED;
        if (first) {
            lv = find_level(item, n);
            if (lv < 0)
                return ZDC_ERR_MALFORMED;
        } else {
            int c = find_component(item, n);
            if (c < 0)
                return ZDC_ERR_MALFORMED;
            set |= ZDC_LOG_COMPONENT_BIT(c);
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    *level = lv;
    *components = set ? set : ZDC_LOG_ALL_COMPONENTS;
    return 0;
}

void zdc_log_stderr(void *user, int level, int component, zdc_peer peer, const char *msg)
{
    (void)user;
    if (peer.id)
        fprintf(stderr, "zdc %s %s [peer %llx]: %s\n", zdc_log_level_name(level),
                zdc_log_component_name(component), (unsigned long long)peer.id, msg);
    else
        fprintf(stderr, "zdc %s %s: %s\n", zdc_log_level_name(level),
                zdc_log_component_name(component), msg);
}

void zdc_log_emit(const zdc_log_ctx *c, int level, int component, const char *fmt, ...)
{
    if (!c || !c->sink)
        return;
    char line[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    zdc_log_fn fn = c->sink->fn ? c->sink->fn : zdc_log_stderr;
    fn(c->sink->user, level, component, (zdc_peer){c->peer}, line);
}

void zdc_logger_init(zdc_logger *lg)
{
    lg->level = ZDC_LOG_NONE;
    lg->components = ZDC_LOG_ALL_COMPONENTS;
    lg->fn = NULL;
    lg->user = NULL;
}

int zdc_logger_init_from_spec(zdc_logger *lg, const char *spec)
{
    zdc_logger_init(lg);
    if (!spec || !*spec)
        return 0;
    int level;
    uint32_t set;
    if (zdc_log_parse(spec, &level, &set) != 0)
        return ZDC_ERR_MALFORMED;
    lg->level = level;
    lg->components = set;
    return 0;
}
