/* A hash map from byte keys (copied) to pointers, for the compiled core's files:
 * open addressing, FNV-1a, tombstones on delete. */
#ifndef LA_MAP_H
#define LA_MAP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t h;
    char *key; /* NULL: empty; TOMB: deleted */
    int64_t klen;
    void *val;
} slot;

typedef struct {
    slot *s;
    int64_t cap, used, tomb;
} map;

static char tomb_mark; /* each file's own: its maps stay in it */
#define TOMB (&tomb_mark)

static inline uint64_t hash_bytes(const char *p, int64_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (int64_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h ? h : 1;
}

static inline slot *map_find(map *m, const char *key, int64_t klen, uint64_t h) {
    if (m->cap == 0) return NULL;
    int64_t mask = m->cap - 1;
    for (int64_t i = (int64_t)(h & (uint64_t)mask);; i = (i + 1) & mask) {
        slot *s = &m->s[i];
        if (s->key == NULL) return NULL;
        if (s->key != TOMB && s->h == h && s->klen == klen && memcmp(s->key, key, (size_t)klen) == 0)
            return s;
    }
}

static inline void map_insert_slot(slot *slots, int64_t cap, slot item) {
    int64_t mask = cap - 1;
    for (int64_t i = (int64_t)(item.h & (uint64_t)mask);; i = (i + 1) & mask)
        if (slots[i].key == NULL) {
            slots[i] = item;
            return;
        }
}

static inline void map_put(map *m, const char *key, int64_t klen, uint64_t h, void *val) {
    if ((m->used + m->tomb + 1) * 4 >= m->cap * 3) {
        int64_t cap = m->cap ? m->cap : 16;
        while ((m->used + 1) * 4 >= cap * 2) cap *= 2;
        slot *s = calloc((size_t)cap, sizeof(slot));
        if (s == NULL) abort();
        for (int64_t i = 0; i < m->cap; i++)
            if (m->s[i].key != NULL && m->s[i].key != TOMB) map_insert_slot(s, cap, m->s[i]);
        free(m->s);
        m->s = s;
        m->cap = cap;
        m->tomb = 0;
    }
    char *k = malloc((size_t)klen + 1);
    if (k == NULL) abort();
    memcpy(k, key, (size_t)klen);
    map_insert_slot(m->s, m->cap, (slot){h, k, klen, val});
    m->used++;
}

static inline void map_del(map *m, slot *s) {
    free(s->key);
    s->key = TOMB;
    s->val = NULL;
    m->used--;
    m->tomb++;
}

/* Calls f on every value, then empties the map. */
static inline void map_clear(map *m, void (*f)(void *)) {
    for (int64_t i = 0; i < m->cap; i++)
        if (m->s[i].key != NULL && m->s[i].key != TOMB) {
            if (f) f(m->s[i].val);
            free(m->s[i].key);
        }
    free(m->s);
    m->s = NULL;
    m->cap = m->used = m->tomb = 0;
}

#endif
