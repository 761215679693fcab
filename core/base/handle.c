#include "handle.h"

#include <stdlib.h>

#include "zdc/error.h"

struct zdc_handle_slot {
    void *obj;    /* NULL when free */
    uint32_t gen; /* bumped on every removal */
    uint32_t type;
    uint32_t next_free; /* slot + 1 of the next free slot */
};

void zdc_handles_init(zdc_handles *t)
{
    *t = (zdc_handles){0};
}

void zdc_handles_clear(zdc_handles *t)
{
    free(t->slots);
    *t = (zdc_handles){0};
}

static uint32_t slot_of(uint64_t id)
{
    return (uint32_t)(id & 0xffffffffu) - 1;
}

int zdc_handles_add(zdc_handles *t, void *obj, uint32_t type, uint64_t *id)
{
    if (!obj || !id)
        return ZDC_ERR_INVALID_PARAMETER;
    if (t->free_head == 0) {
        uint32_t cap = t->cap ? t->cap * 2 : 16;
        if (cap <= t->cap || cap > 0x7fffffffu)
            return ZDC_ERR_NOMEM;
        struct zdc_handle_slot *s = realloc(t->slots, (size_t)cap * sizeof *s);
        if (!s)
            return ZDC_ERR_NOMEM;
        for (uint32_t i = t->cap; i < cap; i++)
            s[i] = (struct zdc_handle_slot){.gen = 1, .next_free = i + 2 <= cap ? i + 2 : 0};
        t->slots = s;
        t->free_head = t->cap + 1;
        t->cap = cap;
    }
    uint32_t i = t->free_head - 1;
    struct zdc_handle_slot *s = &t->slots[i];
    t->free_head = s->next_free;
    s->obj = obj;
    s->type = type;
    s->next_free = 0;
    t->used++;
    *id = (uint64_t)s->gen << 32 | (uint64_t)(i + 1);
    return 0;
}

static struct zdc_handle_slot *lookup(const zdc_handles *t, uint64_t id)
{
    if ((id & 0xffffffffu) == 0)
        return NULL;
    uint32_t i = slot_of(id);
    if (i >= t->cap)
        return NULL;
    struct zdc_handle_slot *s = &t->slots[i];
    if (!s->obj || s->gen != (uint32_t)(id >> 32))
        return NULL;
    return s;
}

void *zdc_handles_get(const zdc_handles *t, uint64_t id, uint32_t type)
{
    struct zdc_handle_slot *s = lookup(t, id);
    return s && s->type == type ? s->obj : NULL;
}

int zdc_handles_remove(zdc_handles *t, uint64_t id)
{
    struct zdc_handle_slot *s = lookup(t, id);
    if (!s)
        return ZDC_ERR_GONE;
    s->obj = NULL;
    /* Generation 0 is skipped so that no id ever has the form (0 << 32) | slot. */
    if (++s->gen == 0)
        s->gen = 1;
    s->next_free = t->free_head;
    t->free_head = slot_of(id) + 1;
    t->used--;
    return 0;
}
