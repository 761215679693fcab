/* Fuzzes the ICE candidate line parser. Whatever parses must format, and the formatted line
 * must parse back to the same value with every field equal (parse(format(x)) == x). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zdc/candidate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "candidate_fuzz: %s\n", what);
        abort();
    }
}

static bool same(const zdc_candidate *a, const zdc_candidate *b)
{
    if (strcmp(a->foundation, b->foundation) || a->component != b->component ||
        a->transport != b->transport || a->priority != b->priority ||
        strcmp(a->address, b->address) || a->address_kind != b->address_kind ||
        a->port != b->port || a->type != b->type || a->has_raddr != b->has_raddr ||
        a->tcptype != b->tcptype || a->n_ext != b->n_ext)
        return false;
    if (a->has_raddr && (strcmp(a->raddr, b->raddr) || a->rport != b->rport))
        return false;
    for (size_t i = 0; i < a->n_ext; i++)
        if (strcmp(a->ext[i].name, b->ext[i].name) || strcmp(a->ext[i].value, b->ext[i].value))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static zdc_candidate c, back;
    static char line[4096], line2[4096];
    int rv = zdc_candidate_parse((const char *)data, size, &c);
    check(rv == 0 || rv == ZDC_CAND_END || rv == ZDC_ERR_MALFORMED || rv == ZDC_ERR_NOT_SUPPORTED ||
              rv == ZDC_ERR_TOO_LARGE,
          "unexpected return code");
    if (rv != 0)
        return 0;
    check(c.component >= 1 && c.component <= 256, "component range");
    check(strlen(c.foundation) >= 1 && strlen(c.foundation) <= 32, "foundation length");
    check(c.address_kind == 0 || c.address_kind == 4 || c.address_kind == 6, "address kind");
    check(c.n_ext <= ZDC_CAND_MAX_EXT, "n_ext");
    check(c.tcptype == ZDC_CAND_TCP_NONE || c.transport == ZDC_CAND_TCP, "tcptype on udp");

    int n = zdc_candidate_format(&c, line, sizeof line);
    check(n > 0 && (size_t)n == strlen(line), "format of a parsed candidate failed");
    check(zdc_candidate_parse(line, (size_t)n, &back) == 0, "formatted line does not parse");
    check(same(&c, &back), "parse(format(x)) != x");
    check(zdc_candidate_format(&back, line2, sizeof line2) == n && strcmp(line, line2) == 0,
          "format not stable");
    return 0;
}
