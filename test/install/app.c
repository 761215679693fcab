/* A user's program built against an installed zdc (find_package or pkg-config). */
#include <stdio.h>
#include <string.h>
#include <zdc/zdc.h>

int main(void)
{
    const char *s = zdc_strerror(ZDC_ERR_TRUNCATED);
    printf("zdc says: %s\n", s);
    return strcmp(s, "input truncated") == 0 ? 0 : 1;
}
