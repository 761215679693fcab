/* A user's program built against an installed zdc (find_package or pkg-config): it includes
 * only <zdc/zdc.h> and calls into the library (error text and a codec round trip). */
#include <stdio.h>
#include <string.h>
#include <zdc/zdc.h>

int main(void)
{
    const char *s = zdc_strerror(ZDC_ERR_TRUNCATED);
    printf("zdc says: %s\n", s);
    if (strcmp(s, "input truncated") != 0)
        return 1;
    zdc_candidate c;
    const char *line = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host";
    if (zdc_candidate_parse(line, strlen(line), &c) != 0)
        return 1;
    char out[256];
    if (zdc_candidate_format(&c, out, sizeof out) < 0)
        return 1;
    printf("candidate round trip: %s\n", out);
    return strstr(out, "127.0.0.1 5000 typ host") ? 0 : 1;
}
