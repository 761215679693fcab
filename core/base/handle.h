/* Generation-checked handles: a table maps 64-bit ids to objects so that an id outliving its
 * object answers "gone" instead of reaching freed memory (the public zdc_peer / zdc_channel
 * values carry these ids).
 *
 * An id is (generation << 32) | (slot + 1); a freed slot's generation is bumped, so every old
 * id of that slot stops matching. Id 0 is never issued. The table is not thread-safe: it
 * belongs to the thread that polls. */
#ifndef ZDC_CORE_HANDLE_H
#define ZDC_CORE_HANDLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct zdc_handles {
    struct zdc_handle_slot *slots;
    uint32_t cap;
    uint32_t used;
    uint32_t free_head; /* slot + 1 of the first free slot, 0 = none */
} zdc_handles;

void zdc_handles_init(zdc_handles *t);
/* Frees the table itself (not the objects). */
void zdc_handles_clear(zdc_handles *t);

/* Stores obj (non-NULL) with a type tag and returns its id in *id.
 * Returns 0, ZDC_ERR_INVALID_PARAMETER (obj NULL) or ZDC_ERR_NOMEM. */
int zdc_handles_add(zdc_handles *t, void *obj, uint32_t type, uint64_t *id);

/* The object for id if it is live and of this type, else NULL. */
void *zdc_handles_get(const zdc_handles *t, uint64_t id, uint32_t type);

/* Forgets id (its object is the caller's to free). Returns 0 or ZDC_ERR_GONE. */
int zdc_handles_remove(zdc_handles *t, uint64_t id);

/* Number of live handles. */
static inline uint32_t zdc_handles_count(const zdc_handles *t)
{
    return t->used;
}

#endif /* ZDC_CORE_HANDLE_H */
