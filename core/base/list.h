/* An intrusive circular doubly linked list: a zdc_link embedded in each element, a zdc_link as
 * the head. A link that is on no list points to itself, so removal is O(1) and idempotent
 * checks are cheap. Header-only. */
#ifndef ZDC_BASE_LIST_H
#define ZDC_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct zdc_link {
    struct zdc_link *prev, *next;
} zdc_link;

/* The element of type `type` whose member `field` is the link `ptr`. */
#define ZDC_CONTAINER_OF(ptr, type, field) ((type *)((char *)(ptr)-offsetof(type, field)))

static inline void zdc_link_init(zdc_link *l)
{
    l->prev = l->next = l;
}

/* Whether l is on a list (for a head: whether the list is not empty). */
static inline bool zdc_link_linked(const zdc_link *l)
{
    return l->next != l;
}

static inline void zdc_link_remove(zdc_link *l)
{
    l->prev->next = l->next;
    l->next->prev = l->prev;
    zdc_link_init(l);
}

static inline void zdc_link_append(zdc_link *head, zdc_link *l)
{
    l->prev = head->prev;
    l->next = head;
    head->prev->next = l;
    head->prev = l;
}

/* Moves every element of `from` to the empty head `to`; `from` is left empty. */
static inline void zdc_link_move(zdc_link *from, zdc_link *to)
{
    zdc_link_init(to);
    if (!zdc_link_linked(from))
        return;
    to->next = from->next;
    to->prev = from->prev;
    to->next->prev = to;
    to->prev->next = to;
    zdc_link_init(from);
}

#endif /* ZDC_BASE_LIST_H */
