/* zdc-peer's reports: log lines on stderr, error events on stdout, and failing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "zdc_peer.h"

void logf_(const app *a, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "zdc-peer[%s]: ", a->o.offer ? "offer" : "answer");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

char *json_string(const char *s, size_t n)
{
    /* The longest escape, \u00XX, is six bytes per input byte. */
    size_t cap = 6 * n + 3;
    char *out = malloc(cap);
    if (out && zdc_json_escape(s, n, out, cap) < 0) {
        free(out);
        out = NULL;
    }
    return out;
}

void fail(app *a, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    logf_(a, "error: %s", msg);
    char *js = json_string(msg, strlen(msg));
    if (js) {
        printf("{\"event\":\"error\",\"message\":%s}\n", js);
        fflush(stdout);
        free(js);
    }
    finish(a, EXIT_FAIL);
}

/* "who: zdc error text (peer's last error)". */
void fail_api(app *a, const char *what, int rv)
{
    const char *detail = zdc_peer_last_error(a->peer);
    if (detail && *detail)
        fail(a, "%s: %s (%s)", what, zdc_strerror(rv), detail);
    else
        fail(a, "%s: %s", what, zdc_strerror(rv));
}
