#include "crc32.h"

#include <pthread.h>

#include "crc_slice8.h"

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_build(void)
{
    zdc_crc_slice8_build(table, 0xEDB88320u);
}

uint32_t zdc_crc32_update(uint32_t crc, const void *p, size_t n)
{
    pthread_once(&table_once, table_build);
    return ~zdc_crc_slice8((const uint32_t(*)[256])table, ~crc, p, n);
}

uint32_t zdc_crc32(const void *p, size_t n)
{
    return zdc_crc32_update(0, p, n);
}
