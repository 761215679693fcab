#include "text.h"

#include <string.h>

#include "zdc/error.h"

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

zdc_str zdc_str_c(const char *s)
{
    return s ? zdc_str_make(s, strlen(s)) : zdc_str_make("", 0);
}

bool zdc_str_eq(zdc_str a, zdc_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool zdc_str_ieq(zdc_str a, zdc_str b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower(a.p[i]) != lower(b.p[i]))
            return false;
    return true;
}

bool zdc_str_eq_c(zdc_str a, const char *b)
{
    return zdc_str_eq(a, zdc_str_c(b));
}
bool zdc_str_ieq_c(zdc_str a, const char *b)
{
    return zdc_str_ieq(a, zdc_str_c(b));
}

bool zdc_str_has_prefix(zdc_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && memcmp(s.p, prefix, n) == 0;
}

bool zdc_str_ihas_prefix(zdc_str s, const char *prefix)
{
    size_t n = strlen(prefix);
    return s.len >= n && zdc_str_ieq(zdc_str_make(s.p, n), zdc_str_make(prefix, n));
}

zdc_str zdc_str_drop(zdc_str s, size_t n)
{
    if (n > s.len)
        n = s.len;
    return zdc_str_make(s.p + n, s.len - n);
}

zdc_str zdc_str_trim(zdc_str s)
{
    while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

long zdc_str_find(zdc_str s, char c)
{
    const char *hit = s.len ? memchr(s.p, c, s.len) : NULL;
    return hit ? (long)(hit - s.p) : -1;
}

bool zdc_str_split(zdc_str *s, char sep, zdc_str *tok)
{
    if (s->len == 0)
        return false;
    long i = zdc_str_find(*s, sep);
    if (i < 0) {
        *tok = *s;
        *s = zdc_str_make(s->p + s->len, 0);
    } else {
        *tok = zdc_str_make(s->p, (size_t)i);
        *s = zdc_str_drop(*s, (size_t)i + 1);
    }
    return true;
}

bool zdc_str_token(zdc_str *s, zdc_str *tok)
{
    while (s->len && s->p[0] == ' ')
        *s = zdc_str_drop(*s, 1);
    if (s->len == 0)
        return false;
    size_t i = 0;
    while (i < s->len && s->p[i] != ' ')
        i++;
    *tok = zdc_str_make(s->p, i);
    *s = zdc_str_drop(*s, i);
    return true;
}

bool zdc_str_next_line(zdc_str *s, zdc_str *line)
{
    if (!zdc_str_split(s, '\n', line))
        return false;
    if (line->len && line->p[line->len - 1] == '\r')
        line->len--;
    return true;
}

int zdc_str_to_u64(zdc_str s, uint64_t max, uint64_t *out)
{
    if (s.len == 0)
        return ZDC_ERR_MALFORMED;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        if (c < '0' || c > '9')
            return ZDC_ERR_MALFORMED;
        unsigned d = (unsigned)(c - '0');
        if (d > max || v > (max - d) / 10)
            return ZDC_ERR_TOO_LARGE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int zdc_str_copy(zdc_str s, char *dst, size_t cap)
{
    if (s.len >= cap) {
        if (cap)
            dst[0] = '\0';
        return ZDC_ERR_TOO_LARGE;
    }
    if (s.len)
        memcpy(dst, s.p, s.len);
    dst[s.len] = '\0';
    return 0;
}
