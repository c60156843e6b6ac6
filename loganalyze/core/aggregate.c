/* The compiled aggregates (issue 17): loganalyze/aggregate/fold.py's add_session and
 * evidence rules, folded in C for a collector whose finished sessions make its clients
 * (the sequential run and a split run's range workers).  Python stays the reference:
 * each piece names the Python function it mirrors, and what is a judgement on text
 * (a reply's HELO check and category, helo_check / Reject.category / crowdsec_counts)
 * is asked of Python once per distinct text (engine.py _classify).  At the end the
 * records go to Python in bulk (la_agg_take), which makes exactly the ClientStats and
 * SenderStats add_session would have made (engine.py CompiledSessions._take_aggregates).
 *
 * Strings are interned here: one copy per distinct text, compared by pointer; the
 * samples keep them sorted by bytes, which for valid UTF-8 is Python's code-point
 * order.  Nothing logged goes into a fixed-size buffer.
 */
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "core.h"
#include "map.h"
#include "sessions.h"

/* aggregate/traffic.py (engine.py folds in C only while they agree: la_agg_keeps) */
#define KEEP_EXAMPLES 50
#define KEEP_CLIENT_SENDERS 10
#define KEEP_LISTS 10
#define KEEP_ATTEMPTS 1000
#define KEEP_BAN_LINES 200
#define KEEP_REPLIES 5
#define KEEP_ENVELOPES 8
#define DAY_US (86400LL * 1000000LL)
#define CLASSIFY_CACHE 8192
#define TAKE_BATCH 512

/* The allocator of the aggregates: Python's own (PyObject_Malloc, la_set_allocator)
 * unless the library is built with AddressSanitizer.  The records are freed as they
 * are given to Python, whose records then take the same memory: with malloc's, the
 * peak would hold both. */
static void *(*a_malloc)(size_t) = malloc;
static void *(*a_realloc)(void *, size_t) = realloc;
static void (*a_free)(void *) = free;

void la_set_allocator(void *(*m)(size_t), void *(*r)(void *, size_t), void (*f)(void *)) {
#ifndef __SANITIZE_ADDRESS__
    a_malloc = m;
    a_realloc = r;
    a_free = f;
#else
    (void)m;
    (void)r;
    (void)f;
#endif
}

/* The caps above, in traffic.py's order: KEEP_EXAMPLES, KEEP_CLIENT_SENDERS, KEEP_LISTS,
 * KEEP_ATTEMPTS, KEEP_BAN_LINES, KEEP_REPLIES, KEEP_ENVELOPES. */
void la_agg_keeps(int64_t *out) {
    int64_t keeps[] = {KEEP_EXAMPLES, KEEP_CLIENT_SENDERS, KEEP_LISTS, KEEP_ATTEMPTS,
                       KEEP_BAN_LINES, KEEP_REPLIES, KEEP_ENVELOPES};
    memcpy(out, keeps, sizeof keeps);
}

static void *xalloc(size_t n) {
    void *p = a_malloc(n ? n : 1);
    if (p == NULL) abort(); /* out of memory */
    memset(p, 0, n);
    return p;
}

/* --- interned strings ------------------------------------------------------------ */

typedef struct {
    uint64_t h;
    int64_t id; /* its number in the strings Python was given; -1: not given yet */
    int64_t n;
    char p[];
} istr;

typedef struct {
    istr **v;
    int64_t cap, used;
} iset;

static int icmp(const istr *a, const istr *b) {
    if (a == b) return 0;
    int64_t m = a->n < b->n ? a->n : b->n;
    int c = m ? memcmp(a->p, b->p, (size_t)m) : 0;
    if (c) return c;
    return (a->n > b->n) - (a->n < b->n);
}

static istr *intern(iset *set, const char *p, int64_t n) {
    if (n < 0) n = 0;
    uint64_t h = hash_bytes(p, n);
    if ((set->used + 1) * 4 >= set->cap * 3) {
        int64_t cap = set->cap ? set->cap * 2 : 1024;
        istr **v = xalloc((size_t)cap * sizeof(istr *));
        for (int64_t i = 0; i < set->cap; i++) {
            istr *s = set->v[i];
            if (s == NULL) continue;
            int64_t j = (int64_t)(s->h & (uint64_t)(cap - 1));
            while (v[j]) j = (j + 1) & (cap - 1);
            v[j] = s;
        }
        a_free(set->v);
        set->v = v;
        set->cap = cap;
    }
    int64_t mask = set->cap - 1;
    int64_t i = (int64_t)(h & (uint64_t)mask);
    for (; set->v[i]; i = (i + 1) & mask) {
        istr *s = set->v[i];
        if (s->h == h && s->n == n && (n == 0 || memcmp(s->p, p, (size_t)n) == 0)) return s;
    }
    /* malloc's: the strings live to the end, the records Python's memory takes over
     * are freed one by one before (a_malloc's pools empty) */
    istr *s = malloc(sizeof(istr) + (size_t)n + 1);
    if (s == NULL) abort();
    s->h = h;
    s->id = -1;
    s->n = n;
    if (n) memcpy(s->p, p, (size_t)n);
    s->p[n] = 0;
    set->v[i] = s;
    set->used++;
    return s;
}

/* --- maps from one or two pointers --------------------------------------------- */

typedef struct {
    const void *k1, *k2;
    void *val;
} pslot;

typedef struct {
    pslot *s;
    int64_t cap, used;
} pmap;

static uint64_t phash(const void *a, const void *b) {
    uint64_t x = (uint64_t)(uintptr_t)a * 0x9E3779B97F4A7C15ULL;
    x ^= ((uint64_t)(uintptr_t)b + 0x632BE59BD9B4E019ULL) * 0xC2B2AE3D27D4EB4FULL;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    return x ^ (x >> 29);
}

static void **pmap_slot(pmap *m, const void *k1, const void *k2) {
    if ((m->used + 1) * 4 >= m->cap * 3) {
        int64_t cap = m->cap ? m->cap * 2 : 1024;
        pslot *s = xalloc((size_t)cap * sizeof(pslot));
        for (int64_t i = 0; i < m->cap; i++) {
            if (m->s[i].k1 == NULL) continue;
            int64_t j = (int64_t)(phash(m->s[i].k1, m->s[i].k2) & (uint64_t)(cap - 1));
            while (s[j].k1) j = (j + 1) & (cap - 1);
            s[j] = m->s[i];
        }
        a_free(m->s);
        m->s = s;
        m->cap = cap;
    }
    int64_t mask = m->cap - 1;
    int64_t i = (int64_t)(phash(k1, k2) & (uint64_t)mask);
    for (; m->s[i].k1; i = (i + 1) & mask)
        if (m->s[i].k1 == k1 && m->s[i].k2 == k2) return &m->s[i].val;
    m->s[i].k1 = k1;
    m->s[i].k2 = k2;
    m->used++;
    return &m->s[i].val;
}

/* --- samples.py, tally.py, traffic.py _Names -------------------------------------- */

/* Room for need items: from one, doubling (most arrays here hold one or two). */
static void *grow_small(void *v, int64_t *cap, int64_t need, size_t size) {
    if (need <= *cap) return v;
    int64_t c = *cap ? *cap : 1;
    while (c < need) c *= 2;
    void *w = a_realloc(v, (size_t)c * size);
    if (w == NULL) abort(); /* out of memory */
    *cap = c;
    return w;
}

#define GROW(v, cap, need) ((v) = grow_small((v), &(cap), (need), sizeof *(v)))

/* Room for item n of an array whose room is the power of two at or above n (records'
 * arrays grow by one and hold one or two items mostly). */
static void *room(void *v, int64_t n, size_t size) {
    if (n && (n & (n - 1))) return v;
    void *w = a_realloc(v, (size_t)(n ? 2 * n : 1) * size);
    if (w == NULL) abort(); /* out of memory */
    return w;
}

#define ROOM(v, n) ((v) = room((v), (n), sizeof *(v)))

/* samples.Sample of strings: sorted; 0 items None, 1 the bare item (in p), more a
 * tuple (p an array). */
typedef struct {
    void *p;
    int64_t n;
} ssample;

static istr *sample_at(const ssample *s, int64_t i) {
    return s->n == 1 ? (istr *)s->p : ((istr **)s->p)[i];
}

static void free_sample(ssample *s) {
    if (s->n > 1) a_free(s->p);
}

/* samples.sample_one */
static void sample_one(ssample *s, istr *item, int64_t cap) {
    int64_t n = s->n;
    if (n == 0) {
        s->p = item;
        s->n = 1;
        return;
    }
    if (n == 1) {
        istr *one = s->p;
        if (one == item) return;
        istr **v = xalloc(2 * sizeof(istr *));
        int less = icmp(one, item) < 0;
        v[0] = less ? one : item;
        v[1] = less ? item : one;
        s->p = v;
        s->n = 2;
        return;
    }
    istr **v = s->p;
    if (n >= cap && icmp(item, v[n - 1]) >= 0) return; /* beyond a full sample */
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (icmp(v[mid], item) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < n && v[lo] == item) return;
    if (n < cap) {
        ROOM(v, n);
        s->p = v;
        memmove(&v[lo + 1], &v[lo], (size_t)(n - lo) * sizeof(istr *));
        s->n++;
    } else {
        memmove(&v[lo + 1], &v[lo], (size_t)(n - 1 - lo) * sizeof(istr *));
    }
    v[lo] = item;
}

/* samples.sample_one, of the envelopes' checksums (one: in one, more: in v) */
typedef struct {
    uint32_t *v;
    uint32_t one;
    int32_t n;
} isample;

static uint32_t isample_at(const isample *s, int64_t i) { return s->n == 1 ? s->one : s->v[i]; }

static void isample_one(isample *s, uint32_t item, int64_t cap) {
    int64_t n = s->n;
    if (n == 0) {
        s->one = item;
        s->n = 1;
        return;
    }
    if (n == 1) {
        if (s->one == item) return;
        s->v = xalloc(2 * sizeof(uint32_t));
        s->v[0] = s->one < item ? s->one : item;
        s->v[1] = s->one < item ? item : s->one;
        s->n = 2;
        return;
    }
    uint32_t *v = s->v;
    if (n >= cap && item >= v[n - 1]) return;
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (v[mid] < item) lo = mid + 1;
        else hi = mid;
    }
    if (lo < n && v[lo] == item) return;
    if (n < cap) {
        ROOM(v, n);
        s->v = v;
        memmove(&v[lo + 1], &v[lo], (size_t)(n - lo) * sizeof(uint32_t));
        s->n++;
    } else {
        memmove(&v[lo + 1], &v[lo], (size_t)(n - 1 - lo) * sizeof(uint32_t));
    }
    v[lo] = item;
}

/* tally.Tally: keys in first-seen order; one key a (key, count) tuple, more a Counter. */
typedef struct {
    const void *k1, *k2;
    int64_t count;
} tentry;

/* Where a key is in the array of a tally or of names once they hold many (Python's
 * Counter finds a key in constant time: so must this, for a client logged under
 * thousands of names, or a sender with thousands of SPF domains): one table for all,
 * keyed by the array's owner and the key. */
#define INDEX_FROM 8

typedef struct {
    const void *owner, *k1, *k2;
    int64_t at;
} ientry;

typedef struct {
    ientry *v;
    int64_t cap, used;
} key_index;

static uint64_t ihash(const void *owner, const void *k1, const void *k2) {
    uint64_t x = (uint64_t)(uintptr_t)owner * 0x9E3779B97F4A7C15ULL;
    x ^= (uint64_t)(uintptr_t)k1 * 0xC2B2AE3D27D4EB4FULL;
    x ^= (uint64_t)(uintptr_t)k2 * 0x165667B19E3779F9ULL;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ULL;
    return x ^ (x >> 29);
}

/* The entry of (owner, k1, k2): its at is -1 when new. */
static ientry *index_slot(key_index *ki, const void *owner, const void *k1, const void *k2) {
#define key_index (*ki)
    if ((key_index.used + 1) * 4 >= key_index.cap * 3) {
        int64_t cap = key_index.cap ? key_index.cap * 2 : 1024;
        ientry *v = malloc((size_t)cap * sizeof(ientry));
        if (v == NULL) abort();
        memset(v, 0, (size_t)cap * sizeof(ientry));
        for (int64_t i = 0; i < key_index.cap; i++) {
            ientry *e = &key_index.v[i];
            if (e->owner == NULL) continue;
            int64_t j = (int64_t)(ihash(e->owner, e->k1, e->k2) & (uint64_t)(cap - 1));
            while (v[j].owner) j = (j + 1) & (cap - 1);
            v[j] = *e;
        }
        free(key_index.v);
        key_index.v = v;
        key_index.cap = cap;
    }
    int64_t mask = key_index.cap - 1;
    int64_t i = (int64_t)(ihash(owner, k1, k2) & (uint64_t)mask);
    for (; key_index.v[i].owner; i = (i + 1) & mask) {
        ientry *e = &key_index.v[i];
        if (e->owner == owner && e->k1 == k1 && e->k2 == k2) return e;
    }
    key_index.used++;
    key_index.v[i] = (ientry){owner, k1, k2, -1};
    return &key_index.v[i];
#undef key_index
}

/* The place of (k1, k2) among the n entries of owner's array v; -1 if absent, and then
 * it will be at n (the caller appends it). */
static int64_t find_key(key_index *ki, const void *owner, const tentry *v, int64_t n,
                        const void *k1, const void *k2) {
    if (n < INDEX_FROM) {
        for (int64_t i = 0; i < n; i++)
            if (v[i].k1 == k1 && v[i].k2 == k2) return i;
        return -1;
    }
    if (n == INDEX_FROM) /* from now on through the index */
        for (int64_t i = 0; i < n; i++) index_slot(ki, owner, v[i].k1, v[i].k2)->at = i;
    ientry *e = index_slot(ki, owner, k1, k2);
    if (e->at < 0) e->at = n;
    else return e->at;
    return -1;
}

static void free_index(key_index *ki) {
    free(ki->v);
    *ki = (key_index){0};
}

typedef struct {
    tentry *v;
    int64_t n;
} tally;

/* tally.tallied */
static void tallied(key_index *ki, tally *t, const void *k1, const void *k2, int64_t count) {
    int64_t at = find_key(ki, t, t->v, t->n, k1, k2);
    if (at >= 0) {
        t->v[at].count += count;
        return;
    }
    ROOM(t->v, t->n);
    t->v[t->n++] = (tentry){k1, k2, count};
}

/* traffic._Names: one name in p with its count; once a second comes (a Counter), p
 * is an array of (name, count) and count stays the first name's count then (the
 * _name_count Python keeps). */
typedef struct {
    void *p;
    int64_t count, n;
} names;

static void free_names(names *m) {
    if (m->n > 1) a_free(m->p);
}

/* _Names._add_name */
static void add_name(key_index *ki, names *m, istr *name) {
    if (m->n == 0) {
        m->p = name;
        m->count = 1;
        m->n = 1;
        return;
    }
    if (m->n == 1) {
        if (m->p == name) {
            m->count++;
            return;
        }
        tentry *v = xalloc(2 * sizeof(tentry));
        v[0] = (tentry){m->p, NULL, m->count};
        v[1] = (tentry){name, NULL, 1};
        m->p = v;
        m->n = 2;
        return;
    }
    tentry *v = m->p;
    int64_t at = find_key(ki, m, v, m->n, name, NULL);
    if (at >= 0) {
        v[at].count++;
        return;
    }
    ROOM(v, m->n);
    m->p = v;
    v[m->n++] = (tentry){name, NULL, 1};
}

/* A list of times (samples.earliest_capped, traffic.earliest); has: not None. */
typedef struct {
    int64_t *v;
    int32_t n, has;
} times;

static int64_t bisect_right(const int64_t *v, int64_t n, int64_t x) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (x < v[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void insort(times *t, int64_t when) {
    int64_t at = bisect_right(t->v, t->n, when);
    ROOM(t->v, t->n);
    memmove(&t->v[at + 1], &t->v[at], (size_t)(t->n - at) * sizeof(int64_t));
    t->v[at] = when;
    t->n++;
}

/* samples.earliest_capped, one time */
static void earliest_capped(times *t, int64_t when, int64_t cap) {
    t->has = 1;
    if (t->n < cap) insort(t, when);
    else if (when < t->v[t->n - 1]) {
        insort(t, when);
        t->n--;
    }
}

static int cmp_time(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* traffic.earliest */
static void earliest(times *t, int64_t when) {
    if (t->n < KEEP_ATTEMPTS) {
        ROOM(t->v, t->n);
        t->v[t->n++] = when;
        if (t->n == KEEP_ATTEMPTS) qsort(t->v, (size_t)t->n, sizeof(int64_t), cmp_time);
    } else if (when < t->v[t->n - 1]) {
        insort(t, when);
        t->n--;
    }
}

/* A set of days (traffic._with_day): one is _day (here in one), more a set (in v,
 * the first too). */
typedef struct {
    int32_t *v;
    int32_t one, n;
} days;

static int32_t day_at(const days *d, int64_t i) { return d->n == 1 ? d->one : d->v[i]; }

static void add_day(days *d, int32_t day) {
    if (d->n == 0) {
        d->one = day;
        d->n = 1;
        return;
    }
    if (d->n == 1) {
        if (d->one == day) return;
        d->v = xalloc(2 * sizeof(int32_t));
        d->v[0] = d->one;
        d->v[1] = day;
        d->n = 2;
        return;
    }
    for (int64_t i = 0; i < d->n; i++)
        if (d->v[i] == day) return;
    ROOM(d->v, d->n);
    d->v[d->n++] = day;
}

/* An optional time (None: has is 0). */
typedef struct {
    int64_t t;
    int has;
} otime;

/* samples.earlier / later */
static void earlier(otime *o, int64_t t) {
    if (!o->has || t < o->t) *o = (otime){t, 1};
}

static void later(otime *o, int64_t t) {
    if (!o->has || t > o->t) *o = (otime){t, 1};
}

/* --- the records ------------------------------------------------------------------ */

typedef struct {
    istr *ip;
    int64_t sessions, queued, hostname_warnings, temporary_hostname_warnings, postscreen_pass,
        dnsbl_rank, postscreen_rejects, spf_rejects, helo_reject_lines;
    names names;
    tally rejects; /* category numbers */
    ssample recipients, senders, dnsbl_lists;
    times helo_reject_times;
} client;

typedef struct {
    istr *service;
    int64_t when;
} accepted;

typedef struct {
    istr *ip, *helo;
    int64_t sessions;
    times attempts;
    int64_t first_seen, last_seen;
    int64_t enforced_rejects, temporary_rejects, helo_required_rejects, queued, envelope_sessions;
    istr *first_reply; /* NULL: "" */
    otime first_reply_at, first_refused, last_refused;
    names names;
    days days, reject_days;
    tally logged_checks; /* check numbers */
    tally spf;           /* (result, domain) */
    ssample senders, recipients, replies;
    isample envelopes;
    accepted *accepted;
    int64_t n_accepted;
} sender;

struct agg {
    classify_fn classify;
    int unknown_check;
    iset strings;
    pmap clients_by_ip, senders_by_key, host_index;
    client **clients;
    int64_t n_clients, cap_clients;
    sender **senders;
    int64_t n_senders, cap_senders;
    int64_t sessions, sessions_with_helo;
    tentry *hosts; /* (host, count) */
    int64_t n_hosts, cap_hosts;
    accepted *since; /* unknown_check_since: (service, time) */
    int64_t n_since, cap_since;
    map classified; /* reply text -> its classification code (as a pointer-sized int) */
    buf tmp, strings_out, records_out, out;
    int stage;          /* la_agg_take: 0 the traffic, 1 the clients, 2 the senders, 3 done */
    int64_t next_taken; /* the next client or sender to give */
    int64_t next_id;    /* the number of the next string given */
    int64_t *helo_v;    /* agg_session's scratch: its HELO rejects and their checks */
    int *check_v;
    int64_t scratch_cap;
    int written;        /* agg_take: all the parts are written out */
    buf *parts;         /* each freed once given */
    int64_t n_parts, cap_parts, next_given;
    key_index index; /* the places of keys in the records' large tallies and names */
};

agg *agg_new(classify_fn classify, int unknown_check) {
    agg *a = xalloc(sizeof(agg));
    a->classify = classify;
    a->unknown_check = unknown_check;
    return a;
}

static void free_client(client *c) {
    free_names(&c->names);
    a_free(c->rejects.v);
    free_sample(&c->recipients);
    free_sample(&c->senders);
    free_sample(&c->dnsbl_lists);
    a_free(c->helo_reject_times.v);
    a_free(c);
}

static void free_sender(sender *s) {
    a_free(s->attempts.v);
    free_names(&s->names);
    a_free(s->days.v);
    a_free(s->reject_days.v);
    a_free(s->logged_checks.v);
    a_free(s->spf.v);
    free_sample(&s->senders);
    free_sample(&s->recipients);
    free_sample(&s->replies);
    a_free(s->envelopes.v);
    a_free(s->accepted);
    a_free(s);
}

/* Everything but the output buffers: the records not given yet, the strings, the maps. */
static void release(agg *a) {
    for (int64_t i = a->stage >= 2 ? a->n_clients : a->next_taken; i < a->n_clients; i++)
        free_client(a->clients[i]);
    for (int64_t i = a->stage >= 3 ? a->n_senders : (a->stage == 2 ? a->next_taken : 0);
         i < a->n_senders; i++)
        free_sender(a->senders[i]);
    a_free(a->clients);
    a_free(a->senders);
    a->clients = NULL;
    a->senders = NULL;
    a->n_clients = a->n_senders = a->cap_clients = a->cap_senders = 0;
    for (int64_t i = 0; i < a->strings.cap; i++) free(a->strings.v[i]);
    a_free(a->strings.v);
    a->strings = (iset){0};
    a_free(a->clients_by_ip.s);
    a_free(a->senders_by_key.s);
    a_free(a->host_index.s);
    a->clients_by_ip = a->senders_by_key = a->host_index = (pmap){0};
    a_free(a->hosts);
    a_free(a->since);
    a->hosts = NULL;
    a->since = NULL;
    a->n_hosts = a->cap_hosts = a->n_since = a->cap_since = 0;
    map_clear(&a->classified, NULL);
    free_index(&a->index);
    a_free(a->helo_v);
    a_free(a->check_v);
    a->helo_v = NULL;
    a->check_v = NULL;
    a->scratch_cap = 0;
}

void agg_free(agg *a) {
    if (a == NULL) return;
    release(a);
    /* the buffers grow with sessions.c's la_grow: malloc's */
    free(a->tmp.p);
    free(a->strings_out.p);
    free(a->records_out.p);
    free(a->out.p);
    for (int64_t i = 0; i < a->n_parts; i++) free(a->parts[i].p);
    a_free(a->parts);
    a_free(a);
}

static istr *intern_str(agg *a, str s) { return intern(&a->strings, s.p, s.n); }

/* fold.py: traffic.clients.get(ip) or a new ClientStats (in the dict's order) */
static client *client_of(agg *a, istr *ip) {
    void **slot = pmap_slot(&a->clients_by_ip, ip, NULL);
    if (*slot) return *slot;
    client *c = xalloc(sizeof(client));
    c->ip = ip;
    GROW(a->clients, a->cap_clients, a->n_clients + 1);
    a->clients[a->n_clients++] = c;
    *slot = c;
    return c;
}

/* Python's verdict on a reply text (a cache of engine.py _classify's answers). */
static int classify(agg *a, str reason) {
    const char *p = reason.n > 0 ? reason.p : "";
    int64_t n = reason.n > 0 ? reason.n : 0;
    uint64_t h = hash_bytes(p, n);
    slot *known = map_find(&a->classified, p, n, h);
    if (known) return (int)(intptr_t)known->val;
    if (a->classified.used >= CLASSIFY_CACHE) map_clear(&a->classified, NULL);
    int code = a->classify(p, n);
    map_put(&a->classified, p, n, h, (void *)(intptr_t)code);
    return code;
}

#define CATEGORY(code) ((code) & 0xff)
#define CHECK(code) (((code) >> 8) & 0xf)
#define CROWDSEC(code) (((code) >> 12) & 1)

static int ends_with(str s, const char *tail) {
    int64_t n = (int64_t)strlen(tail);
    return s.n >= n && memcmp(s.p + s.n - n, tail, (size_t)n) == 0;
}

static int contains(str s, const char *part) {
    int64_t n = (int64_t)strlen(part);
    for (int64_t i = 0; i + n <= s.n; i++)
        if (memcmp(s.p + i, part, (size_t)n) == 0) return 1;
    return 0;
}

/* A canonical decimal's value compared with another's: <0, 0, >0. */
static int cmp_decimal(str a, str b) {
    if (a.n != b.n) return a.n < b.n ? -1 : 1;
    return a.n > 0 ? memcmp(a.p, b.p, (size_t)a.n) : 0;
}

static const counter *counter_of(const session *s, const char *name) {
    int64_t n = (int64_t)strlen(name);
    for (int64_t i = 0; i < s->n_counters; i++)
        if (s->counters[i].name.n == n && memcmp(s->counters[i].name.p, name, (size_t)n) == 0)
            return &s->counters[i];
    return NULL;
}

/* SmtpSession.helo_required_reject */
static int helo_required_reject(const session *s) {
    if (!s->has_counters || s->helo.n >= 0) return 0;
    const counter *helo = counter_of(s, "helo"), *ehlo = counter_of(s, "ehlo");
    /* sent_helo: a helo or ehlo counter whose ok is above 0 */
    if ((helo && !(helo->ok.n == 1 && helo->ok.p[0] == '0')) ||
        (ehlo && !(ehlo->ok.n == 1 && ehlo->ok.p[0] == '0')))
        return 0;
    const counter *mail = counter_of(s, "mail");
    return mail != NULL && cmp_decimal(mail->ok, mail->total) < 0;
}

/* fold._reply: f"{code} {dsn} {reason}".replace("  ", " "), interned. */
static istr *reply_of(agg *a, const reject *r) {
    buf *b = &a->tmp;
    b->n = 0;
    la_out_int(b, r->code);
    la_buf_add(b, " ", 1);
    if (r->dsn.n > 0) la_buf_add(b, r->dsn.p, r->dsn.n);
    la_buf_add(b, " ", 1);
    if (r->reason.n > 0) la_buf_add(b, r->reason.p, r->reason.n);
    int64_t o = 0;
    for (int64_t i = 0; i < b->n; i++) {
        b->p[o++] = b->p[i];
        if (b->p[i] == ' ' && i + 1 < b->n && b->p[i + 1] == ' ') i++; /* "  " -> " " */
    }
    return intern(&a->strings, b->p, o);
}

/* zlib.crc32 */
static uint32_t crc_table[256];
static int crc_ready;

static uint32_t crc32_add(uint32_t crc, const char *p, int64_t n) {
    if (!crc_ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320U ^ (c >> 1) : c >> 1;
            crc_table[i] = c;
        }
        crc_ready = 1;
    }
    crc = ~crc;
    for (int64_t i = 0; i < n; i++) crc = crc_table[(crc ^ (unsigned char)p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static int cmp_str(const void *x, const void *y) {
    const str *a = *(const str *const *)x, *b = *(const str *const *)y;
    int64_t m = a->n < b->n ? a->n : b->n;
    int c = m > 0 ? memcmp(a->p, b->p, (size_t)m) : 0;
    if (c) return c;
    return (a->n > b->n) - (a->n < b->n);
}

/* fold._envelope: crc32 of " ".join([*senders, *sorted(recipients)]) */
static uint32_t envelope(const session *s) {
    uint32_t crc = 0;
    int first = 1;
    for (int64_t i = 0; i < s->n_senders; i++, first = 0) {
        if (!first) crc = crc32_add(crc, " ", 1);
        crc = crc32_add(crc, s->senders[i].p, s->senders[i].n);
    }
    const str **sorted = xalloc((size_t)s->n_recipients * sizeof(str *));
    for (int64_t i = 0; i < s->n_recipients; i++) sorted[i] = &s->recipients[i];
    qsort(sorted, (size_t)s->n_recipients, sizeof(str *), cmp_str);
    for (int64_t i = 0; i < s->n_recipients; i++, first = 0) {
        if (!first) crc = crc32_add(crc, " ", 1);
        crc = crc32_add(crc, sorted[i]->p, sorted[i]->n);
    }
    a_free(sorted);
    return crc;
}

/* fold._count_again */
static void count_again(agg *a, sender *x, istr *name, int64_t start, int64_t end) {
    add_name(&a->index, &x->names, name);
    times *attempts = &x->attempts;
    if (!attempts->has) {
        attempts->has = 1;
        attempts->v = xalloc(2 * sizeof(int64_t));
        attempts->v[0] = x->first_seen;
        attempts->v[1] = start;
        attempts->n = 2;
    } else if (attempts->n < KEEP_ATTEMPTS - 1) {
        ROOM(attempts->v, attempts->n);
        attempts->v[attempts->n++] = start;
    } else {
        earliest(attempts, start);
    }
    if (start < x->first_seen) x->first_seen = start;
    if (end > x->last_seen) x->last_seen = end;
}

/* SenderStats.note_accepted */
static void note_accepted(sender *x, istr *service, int64_t when) {
    for (int64_t i = 0; i < x->n_accepted; i++)
        if (x->accepted[i].service == service) {
            if (when > x->accepted[i].when) x->accepted[i].when = when;
            return;
        }
    ROOM(x->accepted, x->n_accepted);
    x->accepted[x->n_accepted++] = (accepted){service, when};
}

/* fold._fold_helo_rejects; helo[i] indexes the session's rejects, check[i] its check. */
static void fold_helo_rejects(agg *a, const session *s, sender *x, const int64_t *helo,
                              const int *check, int64_t n, int32_t day) {
    const reject *first = &s->rejects[helo[0]];
    /* the checks logged: once each per session.  (With several, Python tallies them in
     * a set's order: the keys' order in the Counter, which compares equal either way,
     * is first-seen here.) */
    for (int64_t i = 0; i < n; i++) {
        int seen = 0;
        for (int64_t j = 0; j < i; j++) seen |= check[j] == check[i];
        if (!seen) tallied(&a->index, &x->logged_checks, (void *)(intptr_t)check[i], NULL, 1);
    }
    /* enforced: the HELO rejects that are not warnings */
    int64_t n_enforced = 0, first_enforced = -1, last_enforced = -1;
    int temporary = 0, unknown = 0;
    for (int64_t i = 0; i < n; i++) {
        const reject *r = &s->rejects[helo[i]];
        if (r->warning) continue;
        if (n_enforced++ == 0) first_enforced = helo[i];
        last_enforced = helo[i];
        if (r->code / 100 == 4) temporary = 1;
        if (!unknown && check[i] == a->unknown_check) {
            unknown = 1;
            istr *service = intern_str(a, s->service);
            int64_t k = 0;
            while (k < a->n_since && a->since[k].service != service) k++;
            if (k == a->n_since) {
                GROW(a->since, a->cap_since, a->n_since + 1);
                a->since[a->n_since++] = (accepted){service, r->t};
            } else if (r->t < a->since[k].when) {
                a->since[k].when = r->t;
            }
        }
    }
    if (n_enforced) {
        x->enforced_rejects++;
        if (temporary) x->temporary_rejects++;
        add_day(&x->reject_days, day);
        earlier(&x->first_refused, s->rejects[first_enforced].t);
        later(&x->last_refused, s->rejects[last_enforced].t);
        for (int64_t i = 0; i < n; i++) {
            const reject *r = &s->rejects[helo[i]];
            if (!r->warning) sample_one(&x->replies, reply_of(a, r), KEEP_REPLIES);
        }
    }
    if (!x->first_reply_at.has || s->start < x->first_reply_at.t) {
        x->first_reply = reply_of(a, first);
        x->first_reply_at = (otime){s->start, 1};
    }
}

/* fold.add_session */
void agg_session(agg *a, const session *s) {
    a->sessions++;
    istr *host = intern_str(a, s->host);
    void **hs = pmap_slot(&a->host_index, host, NULL);
    if (*hs == NULL) {
        GROW(a->hosts, a->cap_hosts, a->n_hosts + 1);
        a->hosts[a->n_hosts++] = (tentry){host, NULL, 0};
        *hs = (void *)(intptr_t)a->n_hosts; /* its place + 1 */
    }
    a->hosts[(intptr_t)*hs - 1].count++;
    istr *ip = intern_str(a, s->ip);
    client *c = client_of(a, ip);
    c->sessions++;
    istr *name = intern_str(a, s->name);
    add_name(&a->index, &c->names, name);
    c->queued += s->queued;
    if (s->hostname_warning.n > 0) {
        c->hostname_warnings++;
        if (contains(s->hostname_warning, "Temporary failure")) c->temporary_hostname_warnings++;
    }
    int64_t n_helo = 0;
    int64_t *helo = NULL;
    int *check = NULL;
    if (s->n_rejects) {
        int smtpd = ends_with(s->service, "smtpd");
        if (s->n_rejects > a->scratch_cap) {
            int64_t cap = a->scratch_cap;
            a->helo_v = grow_small(a->helo_v, &cap, s->n_rejects, sizeof(int64_t));
            cap = a->scratch_cap;
            a->check_v = grow_small(a->check_v, &cap, s->n_rejects, sizeof(int));
            a->scratch_cap = cap;
        }
        helo = a->helo_v;
        check = a->check_v;
        for (int64_t i = 0; i < s->n_rejects; i++) {
            const reject *r = &s->rejects[i];
            int code = classify(a, r->reason);
            if (CHECK(code)) {
                helo[n_helo] = i;
                check[n_helo++] = CHECK(code);
            }
            tallied(&a->index, &c->rejects, (void *)(intptr_t)CATEGORY(code), NULL, 1);
            /* judge/bans.crowdsec_counts: not a warning, an smtpd service, the text */
            if (!r->warning && smtpd && CROWDSEC(code)) {
                c->helo_reject_lines++;
                earliest_capped(&c->helo_reject_times, r->t, KEEP_BAN_LINES);
            }
        }
    }
    for (int64_t i = 0; i < s->n_recipients; i++)
        sample_one(&c->recipients, intern_str(a, s->recipients[i]), KEEP_EXAMPLES);
    for (int64_t i = 0; i < s->n_senders; i++)
        sample_one(&c->senders, intern_str(a, s->senders[i]), KEEP_CLIENT_SENDERS);

    int no_helo = s->helo.n < 0 && helo_required_reject(s);
    if (s->helo.n < 0 && !no_helo) return;
    a->sessions_with_helo++;
    istr *helo_name = intern_str(a, s->helo); /* None: "" */
    void **slot = pmap_slot(&a->senders_by_key, ip, helo_name);
    sender *x = *slot;
    if (x == NULL) {
        x = *slot = xalloc(sizeof(sender));
        GROW(a->senders, a->cap_senders, a->n_senders + 1);
        a->senders[a->n_senders++] = x;
        x->ip = ip;
        x->helo = helo_name;
        x->first_seen = s->start;
        x->last_seen = s->end;
        add_name(&a->index, &x->names, name);
    } else {
        count_again(a, x, name, s->start, s->end);
    }
    x->sessions++;
    /* start.date(): days since 0001-01-01 (times are never before it) */
    int32_t day = (int32_t)(s->start / DAY_US);
    add_day(&x->days, day);
    if (s->queued) {
        x->queued += s->queued;
        if (s->helo.n > 0 && n_helo == 0) note_accepted(x, intern_str(a, s->service), s->start);
    }
    if (no_helo) x->helo_required_rejects++;
    if (n_helo) fold_helo_rejects(a, s, x, helo, check, n_helo, day);
    for (int64_t i = 0; i < s->n_spf; i++) {
        const spf_result *r = &s->spf[i];
        const char *p;
        int64_t n;
        if (r->identity.n == 8 && memcmp(r->identity.p, "mailfrom", 8) == 0) {
            /* address.rpartition("@")[2] if "@" in address else "" */
            p = "";
            n = 0;
            for (int64_t k = r->sender.n - 1; k >= 0; k--)
                if (r->sender.p[k] == '@') {
                    p = r->sender.p + k + 1;
                    n = r->sender.n - k - 1;
                    break;
                }
        } else {
            p = r->helo.p;
            n = r->helo.n;
        }
        /* .lower(): ASCII here; engine.py lowers the rest (and merges what that joins) */
        buf *b = &a->tmp;
        b->n = 0;
        if (n > 0) la_buf_add(b, p, n);
        for (int64_t k = 0; k < b->n; k++)
            if (b->p[k] >= 'A' && b->p[k] <= 'Z') b->p[k] = (char)(b->p[k] + 32);
        istr *domain = intern(&a->strings, b->p, b->n);
        tallied(&a->index, &x->spf, intern_str(a, r->result), domain, 1);
    }
    for (int64_t i = 0; i < s->n_senders; i++)
        sample_one(&x->senders, intern_str(a, s->senders[i]), KEEP_EXAMPLES);
    if (s->n_recipients) {
        for (int64_t i = 0; i < s->n_recipients; i++)
            sample_one(&x->recipients, intern_str(a, s->recipients[i]), KEEP_EXAMPLES);
        if (s->n_senders) {
            x->envelope_sessions++;
            isample_one(&x->envelopes, envelope(s), KEEP_ENVELOPES);
        }
    }
}

/* fold.fold_evidence */
void agg_evidence(agg *a, int op, span ip, int64_t value, span domain) {
    if (ip.n <= 0) return;
    client *c = client_of(a, intern(&a->strings, ip.p, ip.n));
    if (op == 2) c->postscreen_pass++;
    else if (op == 3) {
        if (value > c->dnsbl_rank) c->dnsbl_rank = value;
    } else if (op == 4)
        sample_one(&c->dnsbl_lists, intern(&a->strings, domain.p, domain.n), KEEP_LISTS);
    else if (op == 5) c->postscreen_rejects++;
    else if (op == 6) c->spf_rejects++;
}

/* --- to Python (engine.py _Aggregates): JSON, strings by number ------------------ */

static void out_c(buf *b, char c) { la_buf_add(b, &c, 1); }

static void out_ref(agg *a, buf *b, istr *s) {
    if (s->id < 0) {
        buf *t = &a->strings_out;
        if (t->n) out_c(t, ',');
        la_out_str(t, s->p, s->n);
        s->id = a->next_id++;
    }
    la_out_int(b, s->id);
}

static void out_time_or_null(buf *b, otime t) {
    if (t.has) la_out_int(b, t.t);
    else la_buf_add(b, "null", 4);
}

static void out_sample(agg *a, buf *b, const ssample *s) {
    out_c(b, '[');
    for (int64_t i = 0; i < s->n; i++) {
        if (i) out_c(b, ',');
        out_ref(a, b, sample_at(s, i));
    }
    out_c(b, ']');
}

/* [] | [name, count] | [name, frozen count, [[name, count], ...]] */
static void out_names(agg *a, buf *b, const names *m) {
    out_c(b, '[');
    if (m->n) {
        out_ref(a, b, m->n == 1 ? (istr *)m->p : (istr *)((tentry *)m->p)[0].k1);
        out_c(b, ',');
        la_out_int(b, m->count);
        if (m->n > 1) {
            la_buf_add(b, ",[", 2);
            for (int64_t i = 0; i < m->n; i++) {
                tentry *e = &((tentry *)m->p)[i];
                la_buf_add(b, i ? ",[" : "[", i ? 2 : 1);
                out_ref(a, b, (istr *)e->k1);
                out_c(b, ',');
                la_out_int(b, e->count);
                out_c(b, ']');
            }
            out_c(b, ']');
        }
    }
    out_c(b, ']');
}

/* [[key, count], ...], keys numbers */
static void out_int_tally(buf *b, const tally *t) {
    out_c(b, '[');
    for (int64_t i = 0; i < t->n; i++) {
        la_buf_add(b, i ? ",[" : "[", i ? 2 : 1);
        la_out_int(b, (int64_t)(intptr_t)t->v[i].k1);
        out_c(b, ',');
        la_out_int(b, t->v[i].count);
        out_c(b, ']');
    }
    out_c(b, ']');
}

static void out_times(buf *b, const times *t) {
    if (!t->has) {
        la_buf_add(b, "null", 4);
        return;
    }
    out_c(b, '[');
    for (int64_t i = 0; i < t->n; i++) {
        if (i) out_c(b, ',');
        la_out_int(b, t->v[i]);
    }
    out_c(b, ']');
}

static void out_days(buf *b, const days *d) {
    out_c(b, '[');
    for (int64_t i = 0; i < d->n; i++) {
        if (i) out_c(b, ',');
        la_out_int(b, day_at(d, i));
    }
    out_c(b, ']');
}

static void out_client(agg *a, buf *b, const client *c) {
    out_c(b, '[');
    out_ref(a, b, c->ip);
    int64_t ints[] = {c->sessions, c->queued, c->hostname_warnings, c->temporary_hostname_warnings,
                      c->postscreen_pass, c->dnsbl_rank, c->postscreen_rejects, c->spf_rejects,
                      c->helo_reject_lines};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        out_c(b, ',');
        la_out_int(b, ints[i]);
    }
    out_c(b, ',');
    out_names(a, b, &c->names);
    out_c(b, ',');
    out_int_tally(b, &c->rejects);
    out_c(b, ',');
    out_sample(a, b, &c->recipients);
    out_c(b, ',');
    out_sample(a, b, &c->senders);
    out_c(b, ',');
    out_sample(a, b, &c->dnsbl_lists);
    out_c(b, ',');
    out_times(b, &c->helo_reject_times);
    out_c(b, ']');
}

static void out_sender(agg *a, buf *b, const sender *x) {
    out_c(b, '[');
    out_ref(a, b, x->ip);
    out_c(b, ',');
    out_ref(a, b, x->helo);
    int64_t ints[] = {x->sessions, x->first_seen, x->last_seen, x->enforced_rejects,
                      x->temporary_rejects, x->helo_required_rejects, x->queued,
                      x->envelope_sessions};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        out_c(b, ',');
        la_out_int(b, ints[i]);
    }
    out_c(b, ',');
    out_times(b, &x->attempts);
    out_c(b, ',');
    if (x->first_reply) out_ref(a, b, x->first_reply);
    else la_buf_add(b, "null", 4);
    out_c(b, ',');
    out_time_or_null(b, x->first_reply_at);
    out_c(b, ',');
    out_time_or_null(b, x->first_refused);
    out_c(b, ',');
    out_time_or_null(b, x->last_refused);
    out_c(b, ',');
    out_names(a, b, &x->names);
    out_c(b, ',');
    out_days(b, &x->days);
    out_c(b, ',');
    out_days(b, &x->reject_days);
    out_c(b, ',');
    out_int_tally(b, &x->logged_checks);
    out_c(b, ',');
    out_c(b, '[');
    for (int64_t i = 0; i < x->spf.n; i++) {
        la_buf_add(b, i ? ",[" : "[", i ? 2 : 1);
        out_ref(a, b, (istr *)x->spf.v[i].k1);
        out_c(b, ',');
        out_ref(a, b, (istr *)x->spf.v[i].k2);
        out_c(b, ',');
        la_out_int(b, x->spf.v[i].count);
        out_c(b, ']');
    }
    out_c(b, ']');
    out_c(b, ',');
    out_sample(a, b, &x->senders);
    out_c(b, ',');
    out_sample(a, b, &x->recipients);
    out_c(b, ',');
    out_sample(a, b, &x->replies);
    out_c(b, ',');
    out_c(b, '[');
    for (int64_t i = 0; i < x->envelopes.n; i++) {
        if (i) out_c(b, ',');
        la_out_int(b, isample_at(&x->envelopes, i));
    }
    out_c(b, ']');
    out_c(b, ',');
    if (x->n_accepted) {
        out_c(b, '[');
        for (int64_t i = 0; i < x->n_accepted; i++) {
            la_buf_add(b, i ? ",[" : "[", i ? 2 : 1);
            out_ref(a, b, x->accepted[i].service);
            out_c(b, ',');
            la_out_int(b, x->accepted[i].when);
            out_c(b, ']');
        }
        out_c(b, ']');
    } else {
        la_buf_add(b, "null", 4);
    }
    out_c(b, ']');
}

/* The next part of the aggregates as [[new strings], stage, [records]]: stage 0 the
 * traffic's counts ([sessions, sessions_with_helo, [[host, count]...], [[service,
 * time]...]]), 1 clients, 2 senders, in their dicts' order; n 0 when all is given.
 * What is given is freed. */
static const char *next_part(agg *a, int64_t *n) {
    buf *r = &a->records_out, *o = &a->out;
    r->n = a->strings_out.n = o->n = 0;
    if (a->stage == 0) {
        la_out_int(r, a->sessions);
        out_c(r, ',');
        la_out_int(r, a->sessions_with_helo);
        la_buf_add(r, ",[", 2);
        for (int64_t i = 0; i < a->n_hosts; i++) {
            la_buf_add(r, i ? ",[" : "[", i ? 2 : 1);
            out_ref(a, r, (istr *)a->hosts[i].k1);
            out_c(r, ',');
            la_out_int(r, a->hosts[i].count);
            out_c(r, ']');
        }
        la_buf_add(r, "],[", 3);
        for (int64_t i = 0; i < a->n_since; i++) {
            la_buf_add(r, i ? ",[" : "[", i ? 2 : 1);
            out_ref(a, r, a->since[i].service);
            out_c(r, ',');
            la_out_int(r, a->since[i].when);
            out_c(r, ']');
        }
        out_c(r, ']');
    } else if (a->stage == 1 || a->stage == 2) {
        int64_t end = a->stage == 1 ? a->n_clients : a->n_senders;
        int64_t stop = end - a->next_taken > TAKE_BATCH ? a->next_taken + TAKE_BATCH : end;
        for (int64_t i = a->next_taken; i < stop; i++) {
            if (i > a->next_taken) out_c(r, ',');
            if (a->stage == 1) {
                out_client(a, r, a->clients[i]);
                free_client(a->clients[i]);
            } else {
                out_sender(a, r, a->senders[i]);
                free_sender(a->senders[i]);
            }
        }
        a->next_taken = stop;
    } else {
        *n = 0;
        return "";
    }
    la_buf_add(o, "[[", 2);
    la_buf_add(o, a->strings_out.p, a->strings_out.n);
    la_buf_add(o, "],", 2);
    la_out_int(o, a->stage);
    la_buf_add(o, ",[", 2);
    la_buf_add(o, r->p, r->n);
    la_buf_add(o, "]]", 2);
    int64_t end = a->stage == 1 ? a->n_clients : a->n_senders;
    if (a->stage == 0 || a->next_taken >= end) {
        a->stage++;
        a->next_taken = 0;
        if (a->stage == 2) {
            a_free(a->clients_by_ip.s);
            a->clients_by_ip = (pmap){0};
        }
        if (a->stage == 3) release(a); /* all is written out */
    }
    *n = o->n;
    return o->p;
}

/* The parts of the aggregates (next_part), one a call; n 0 at the end.  All are
 * written out first and the records freed, so that Python's records, made next, take
 * the memory they held; the pointer is valid until the next call. */
const char *agg_take(agg *a, int64_t *n) {
    if (!a->written) {
        a->written = 1;
        int64_t size;
        for (const char *part = next_part(a, &size); size; part = next_part(a, &size)) {
            a->parts = grow_small(a->parts, &a->cap_parts, a->n_parts + 1, sizeof(buf));
            buf *copy = &a->parts[a->n_parts++];
            *copy = (buf){0};
            la_buf_add(copy, part, size);
        }
        free(a->tmp.p);
        free(a->strings_out.p);
        free(a->records_out.p);
        free(a->out.p);
        a->tmp = a->strings_out = a->records_out = a->out = (buf){0};
#ifdef __GLIBC__
        malloc_trim(0); /* the strings' memory back to the system */
#endif
    }
    if (a->next_given) { /* the part given last time */
        free(a->parts[a->next_given - 1].p);
        a->parts[a->next_given - 1] = (buf){0};
#ifdef __GLIBC__
        if (a->next_given % 16 == 0 || a->next_given == a->n_parts) malloc_trim(0);
#endif
    }
    if (a->next_given < a->n_parts) {
        buf *part = &a->parts[a->next_given++];
        *n = part->n;
        return part->p;
    }
    *n = 0;
    return "";
}
