/* Fuzz target: the JSON-lines reader (zdc-peer's input). Property: every string member that
 * unescapes can be escaped again and re-read to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    zdc_json_member m[16];
    size_t n;
    if (zdc_json_parse_object((const char *)data, size, m, 16, &n) != 0)
        return 0;
    static char a[1 << 16], esc[6 * (1 << 16) + 3], b[1 << 16];
    for (size_t i = 0; i < n; i++) {
        zdc_json_find(m, n, "type");
        if (m[i].type == ZDC_JSON_NUMBER) {
            long long v;
            double d;
            zdc_json_to_i64(m[i].raw, &v);
            if (zdc_json_to_double(m[i].raw, &d) != 0 && m[i].raw.len < 64)
                abort(); /* the grammar accepted it, so strtod must too */
        }
        if (m[i].type != ZDC_JSON_STRING)
            continue;
        int k = zdc_json_unescape(m[i].raw, a, sizeof a);
        if (k < 0)
            continue;
        int e = zdc_json_escape(a, (size_t)k, esc, sizeof esc);
        if (e < 2)
            abort();
        zdc_str inner = zdc_str_make(esc + 1, (size_t)e - 2);
        int k2 = zdc_json_unescape(inner, b, sizeof b);
        if (k2 != k || memcmp(a, b, (size_t)k) != 0)
            abort();
    }
    return 0;
}
