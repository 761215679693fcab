/* Logging (include/zdc/log.h, core/base/log.c, io/engine_log.c): the ZDC_LOG grammar, the
 * engine's sink (silent by default, set from the environment or from code, reaching every peer
 * at once, tagged with the peer's handle) and the stderr writer. The reasons logged when a
 * connection fails are tested where the failures are made: test/pc_test.c (log_*, fake clock)
 * and test/dtls_test.c (alert received). */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "zdc/zdc.h"

/* ---- ZDC_LOG parsing ------------------------------------------------------------------- */

Test(log, parse_accepts_level_and_components)
{
    int level = -1;
    uint32_t set = 0;
    cr_assert_eq(zdc_log_parse("debug", &level, &set), 0);
    cr_assert_eq(level, ZDC_LOG_DEBUG);
    cr_assert_eq(set, ZDC_LOG_ALL_COMPONENTS, "no component listed: all of them");

    cr_assert_eq(zdc_log_parse("INFO, ice ,dtls,Sctp", &level, &set), 0);
    cr_assert_eq(level, ZDC_LOG_INFO);
    cr_assert_eq(set, ZDC_LOG_COMPONENT_BIT(ZDC_LOG_ICE) | ZDC_LOG_COMPONENT_BIT(ZDC_LOG_DTLS) |
                          ZDC_LOG_COMPONENT_BIT(ZDC_LOG_SCTP));

    static const struct {
        const char *text;
        int level;
    } levels[] = {{"none", ZDC_LOG_NONE},  {"off", ZDC_LOG_NONE},     {"error", ZDC_LOG_ERROR},
                  {"warn", ZDC_LOG_WARN},  {"warning", ZDC_LOG_WARN}, {"info", ZDC_LOG_INFO},
                  {"trace", ZDC_LOG_TRACE}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        cr_assert_eq(zdc_log_parse(levels[i].text, &level, &set), 0, "%s", levels[i].text);
        cr_assert_eq(level, levels[i].level, "%s", levels[i].text);
    }
    for (int c = 0; c < ZDC_LOG_COMPONENT_COUNT; c++) {
        char spec[64];
        snprintf(spec, sizeof spec, "trace,%s", zdc_log_component_name(c));
        cr_assert_eq(zdc_log_parse(spec, &level, &set), 0, "%s", spec);
        cr_assert_eq(set, ZDC_LOG_COMPONENT_BIT(c), "%s", spec);
    }
}

Test(log, parse_refuses_malformed_values_and_changes_nothing)
{
    static const char *const bad[] = {"",          "loud",      "info,",    ",ice",
                                      "info,,ice", "info,nope", "ice",      "info;ice",
                                      "debug ice", " , ",       "info,ice,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int level = 42;
        uint32_t set = 7;
        cr_assert_eq(zdc_log_parse(bad[i], &level, &set), ZDC_ERR_MALFORMED, "\"%s\"", bad[i]);
        cr_assert_eq(level, 42, "\"%s\" changed the level", bad[i]);
        cr_assert_eq(set, 7u, "\"%s\" changed the set", bad[i]);
    }
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "info,", 5);
    int level;
    uint32_t set;
    cr_assert_eq(zdc_log_parse(big, &level, &set), ZDC_ERR_MALFORMED, "over 256 characters");
    cr_assert_eq(zdc_log_parse(NULL, &level, &set), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_log_parse("info", NULL, &set), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_log_parse("info", &level, NULL), ZDC_ERR_INVALID_PARAMETER);
}

Test(log, names)
{
    cr_assert_str_eq(zdc_log_level_name(ZDC_LOG_ERROR), "error");
    cr_assert_str_eq(zdc_log_level_name(ZDC_LOG_TRACE), "trace");
    cr_assert_str_eq(zdc_log_level_name(99), "?");
    cr_assert_str_eq(zdc_log_component_name(ZDC_LOG_DCEP), "dcep");
    cr_assert_str_eq(zdc_log_component_name(ZDC_LOG_TURN), "turn");
    cr_assert_str_eq(zdc_log_component_name(ZDC_LOG_API), "api");
    cr_assert_str_eq(zdc_log_component_name(-1), "?");
    cr_assert_str_eq(zdc_log_component_name(ZDC_LOG_COMPONENT_COUNT), "?");
}

Test(log, logger_from_spec_is_silent_unless_asked)
{
    zdc_logger lg;
    cr_assert_eq(zdc_logger_init_from_spec(&lg, NULL), 0);
    cr_assert_eq(lg.level, ZDC_LOG_NONE);
    cr_assert_eq(zdc_logger_init_from_spec(&lg, ""), 0);
    cr_assert_eq(lg.level, ZDC_LOG_NONE);
    cr_assert_eq(zdc_logger_init_from_spec(&lg, "loud"), ZDC_ERR_MALFORMED);
    cr_assert_eq(lg.level, ZDC_LOG_NONE, "a malformed value leaves it silent");
    cr_assert_eq(zdc_logger_init_from_spec(&lg, "warn,dtls"), 0);
    cr_assert_eq(lg.level, ZDC_LOG_WARN);
    cr_assert_eq(lg.components, ZDC_LOG_COMPONENT_BIT(ZDC_LOG_DTLS));
}

/* ---- the macro: nothing is evaluated or formatted when the line is off ----------------- */

static int g_calls;
static char g_last[512];
static int g_last_level, g_last_component;
static uint64_t g_last_peer;

static void capture(void *user, int level, int component, zdc_peer peer, const char *msg)
{
    (*(int *)user)++;
    g_calls++;
    g_last_level = level;
    g_last_component = component;
    g_last_peer = peer.id;
    snprintf(g_last, sizeof g_last, "%s", msg);
}

static int evaluated;
static int costly(void)
{
    return ++evaluated;
}

Test(log, macro_checks_level_and_component_before_formatting)
{
    int mine = 0;
    zdc_logger lg = {.level = ZDC_LOG_WARN,
                     .components = ZDC_LOG_COMPONENT_BIT(ZDC_LOG_ICE),
                     .fn = capture,
                     .user = &mine};
    zdc_log_ctx ctx = {.sink = &lg, .peer = 7};
    ZDC_LOG_I(&ctx, ZDC_LOG_ICE, "x %d", costly());  /* level off */
    ZDC_LOG_E(&ctx, ZDC_LOG_DTLS, "x %d", costly()); /* component off */
    ZDC_LOG_E((const zdc_log_ctx *)NULL, ZDC_LOG_ICE, "x %d", costly());
    zdc_log_ctx no_sink = {0};
    ZDC_LOG_E(&no_sink, ZDC_LOG_ICE, "x %d", costly());
    cr_assert_eq(evaluated, 0, "arguments of a disabled line are not evaluated");
    cr_assert_eq(mine, 0);
    ZDC_LOG_W(&ctx, ZDC_LOG_ICE, "pair %d of %s", costly(), "x");
    cr_assert_eq(mine, 1);
    cr_assert_eq(evaluated, 1);
    cr_assert_str_eq(g_last, "pair 1 of x");
    cr_assert_eq(g_last_level, ZDC_LOG_WARN);
    cr_assert_eq(g_last_component, ZDC_LOG_ICE);
    cr_assert_eq(g_last_peer, 7);
    /* a line longer than the buffer is cut, not overflowed */
    char big[2000];
    memset(big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ZDC_LOG_E(&ctx, ZDC_LOG_ICE, "%s", big);
    cr_assert_eq(strlen(g_last), 511);
}

/* ---- the engine's sink ----------------------------------------------------------------- */

static zdc_engine *new_engine(void)
{
    zdc_engine_options o;
    zdc_engine_options_default(&o);
    o.ipv6 = false;
    o.bind_address = "127.0.0.1";
    o.include_loopback = true;
    zdc_engine *e = NULL;
    cr_assert_eq(zdc_engine_new(&o, &e), 0);
    return e;
}

/* A remote description that is refused logs a WARN line for its peer. */
static void refuse_one(zdc_peer p)
{
    cr_assert_eq(zdc_peer_set_remote_description(p, "offer", "v=0\r\nnonsense\r\n"),
                 ZDC_ERR_MALFORMED);
}

Test(log, engine_is_silent_by_default_and_set_log_reaches_its_peers)
{
    unsetenv("ZDC_LOG");
    zdc_engine *e = new_engine();
    cr_assert_eq(zdc_engine_get_log_level(e), ZDC_LOG_NONE, "silent by default");
    zdc_peer_callbacks cb = {0};
    zdc_peer p1, p2;
    cr_assert_eq(zdc_peer_new(e, &cb, &p1), 0);
    cr_assert_eq(zdc_peer_new(e, &cb, &p2), 0);
    int mine = 0;
    refuse_one(p1);
    cr_assert_eq(g_calls, 0);

    /* set after the peers exist: it reaches them at once */
    cr_assert_eq(zdc_engine_set_log(e, ZDC_LOG_WARN, capture, &mine), 0);
    cr_assert_eq(zdc_engine_get_log_level(e), ZDC_LOG_WARN);
    refuse_one(p2);
    cr_assert_eq(mine, 1);
    cr_assert_eq(g_last_peer, p2.id, "tagged with the peer's handle");
    cr_assert_eq(g_last_level, ZDC_LOG_WARN);
    cr_assert_eq(g_last_component, ZDC_LOG_PC);
    cr_assert(strstr(g_last, "remote description refused") != NULL, "%s", g_last);
    refuse_one(p1);
    cr_assert_eq(mine, 2);
    cr_assert_eq(g_last_peer, p1.id);

    /* components narrow it; NONE silences it */
    cr_assert_eq(zdc_engine_set_log_components(e, ZDC_LOG_COMPONENT_BIT(ZDC_LOG_ICE)), 0);
    refuse_one(p1);
    cr_assert_eq(mine, 2);
    cr_assert_eq(zdc_engine_set_log_components(e, ZDC_LOG_ALL_COMPONENTS), 0);
    cr_assert_eq(zdc_engine_set_log(e, ZDC_LOG_ERROR, capture, &mine), 0);
    refuse_one(p1);
    cr_assert_eq(mine, 2, "a WARN line at level ERROR");
    cr_assert_eq(zdc_engine_set_log(e, ZDC_LOG_NONE, capture, &mine), 0);
    refuse_one(p1);
    cr_assert_eq(mine, 2);

    cr_assert_eq(zdc_engine_set_log(e, ZDC_LOG_TRACE + 1, capture, &mine),
                 ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_engine_set_log(e, -1, NULL, NULL), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_engine_set_log(NULL, ZDC_LOG_INFO, NULL, NULL), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_engine_set_log_components(NULL, 0), ZDC_ERR_INVALID_PARAMETER);
    cr_assert_eq(zdc_engine_get_log_level(NULL), ZDC_LOG_NONE);
    zdc_peer_free(p1);
    zdc_peer_free(p2);
    zdc_engine_free(e);
}

/* Runs fn with stderr going to a temporary file; returns what was written (malloc'd). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    FILE *tmp = tmpfile();
    cr_assert_not_null(tmp);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    cr_assert_geq(saved, 0);
    cr_assert_geq(dup2(fileno(tmp), STDERR_FILENO), 0);
    fn(arg);
    fflush(stderr);
    cr_assert_geq(dup2(saved, STDERR_FILENO), 0);
    close(saved);
    fseek(tmp, 0, SEEK_END);
    long n = ftell(tmp);
    cr_assert_geq(n, 0);
    rewind(tmp);
    char *out = calloc(1, (size_t)n + 1);
    cr_assert_not_null(out);
    cr_assert_eq(fread(out, 1, (size_t)n, tmp), (size_t)n);
    fclose(tmp);
    return out;
}

static void engine_session(void *arg)
{
    zdc_peer *who = arg;
    zdc_engine *e = new_engine();
    zdc_peer_callbacks cb = {0};
    cr_assert_eq(zdc_peer_new(e, &cb, who), 0);
    refuse_one(*who);
    zdc_peer_free(*who);
    zdc_engine_free(e);
}

Test(log, zdc_log_environment_writes_to_stderr)
{
    zdc_peer p;
    setenv("ZDC_LOG", "warn,pc", 1);
    char *out = capture_stderr(engine_session, &p);
    char want[128];
    snprintf(want, sizeof want, "zdc warn pc [peer %llx]: remote description refused",
             (unsigned long long)p.id);
    cr_assert(strstr(out, want) != NULL, "stderr: \"%s\"", out);
    free(out);

    setenv("ZDC_LOG", "error", 1); /* a WARN line: not written */
    out = capture_stderr(engine_session, &p);
    cr_assert_str_eq(out, "");
    free(out);

    setenv("ZDC_LOG", "warn,ice", 1); /* another component: not written */
    out = capture_stderr(engine_session, &p);
    cr_assert_str_eq(out, "");
    free(out);

    unsetenv("ZDC_LOG"); /* silent by default */
    out = capture_stderr(engine_session, &p);
    cr_assert_str_eq(out, "");
    free(out);

    setenv("ZDC_LOG", "chatty", 1); /* malformed: one line saying so, then silence */
    out = capture_stderr(engine_session, &p);
    cr_assert(strstr(out, "ZDC_LOG=\"chatty\" ignored") != NULL, "stderr: \"%s\"", out);
    cr_assert(strstr(out, "refused") == NULL, "stderr: \"%s\"", out);
    free(out);
    unsetenv("ZDC_LOG");
}
