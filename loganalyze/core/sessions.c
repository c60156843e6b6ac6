/* The compiled core's session builder (issue 17): loganalyze/sessions.py's
 * SessionBuilder, rule for rule, for the sequential run.  The scanner (scan.c) and
 * Python (for the lines only it reads) call the la_on_* events in log order;
 * finished sessions and the postscreen/dnsblog evidence go, in that same order, to the
 * aggregates folded in C (aggregate.c, when la_set_aggregate asked) or to a JSON buffer
 * that Python takes in bulk (loganalyze/core/engine.py), so the aggregates see exactly
 * what the Python builder would have given them.
 *
 * Times are microseconds since 0001-01-01 of naive wall-clock time, as Python's
 * naive datetimes compare and subtract.  Every string is copied with its length;
 * nothing logged goes into a fixed-size buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "map.h"
#include "sessions.h"

#define US 1000000LL
#define STALE_US (3600LL * US)     /* sessions.STALE_SECONDS */
#define SWEEP_EVERY_US (600LL * US) /* sessions._SWEEP_EVERY */
#define MAX_WARNINGS 10000
/* datetime.max: 9999-12-31 23:59:59.999999 */
#define MAX_TIME (3652059LL * 86400LL * US - 1)

static void *grow(void *v, int64_t *cap, int64_t need, size_t size) {
    if (need <= *cap) return v;
    int64_t c = *cap ? *cap : 4;
    while (c < need) c *= 2;
    void *w = realloc(v, (size_t)c * size);
    if (w == NULL) abort(); /* out of memory: nothing sensible is left to do */
    *cap = c;
    return w;
}

static str str_of(span s) {
    str r = {NULL, s.n};
    if (s.n < 0) return r;
    r.p = malloc((size_t)s.n + 1);
    if (r.p == NULL) abort();
    if (s.n) memcpy(r.p, s.p, (size_t)s.n);
    return r;
}

static span span_of(str s) { return (span){s.p, s.n}; }

static int span_eq(span a, span b) {
    if (a.n != b.n) return 0;
    return a.n <= 0 || memcmp(a.p, b.p, (size_t)a.n) == 0;
}

/* --- keys: each part with its length, so no two tuples share a key ------------ */


static void buf_add(buf *b, const void *p, int64_t n) {
    b->p = grow(b->p, &b->cap, b->n + n + 1, 1);
    if (n) memcpy(b->p + b->n, p, (size_t)n);
    b->n += n;
}

static void buf_addc(buf *b, char c) { buf_add(b, &c, 1); }

static void key_part(buf *b, span s) {
    int64_t n = s.n;
    buf_add(b, &n, sizeof n);
    if (n > 0) buf_add(b, s.p, n);
}

typedef struct {
    session **v;
    int64_t n, cap;
} session_list;

typedef struct {
    int64_t t;
    str helo, sender, result, identity;
} pending;

typedef struct {
    pending *v;
    int64_t n, cap;
} pending_list;

typedef struct {
    str reason;
    int64_t t;
    int64_t line; /* sessions._Warning.line */
} warning;

struct engine {
    map open;      /* (host, service, pid) -> session */
    session *first, *last;
    map by_client; /* (host, ip) -> session_list, in opening order */
    map warnings;  /* (host, service, pid) -> warning */
    map pending;   /* (host, ip) -> pending_list */
    map known_ips; /* addresses already given to Python (their ClientStats exist) */
    int sessions_make_clients; /* a finished session makes its ClientStats (add_session) */
    agg *agg; /* the aggregates folded here (aggregate.c), if la_set_aggregate asked */
    int64_t next_sweep;
    int has_next_sweep;
    int64_t sessions, without_connect, without_disconnect, spf_unmatched;
    buf key, out;
    int64_t items;
    scan_state scan;
    /* A split run's byte range (parallel/worker.py's _RangeCollector): off unless set. */
    int range, range_first, past, has_early;
    int64_t early_until;
    /* The number of the line being read (SessionBuilder._lines.line_number; 0: not told),
     * whether evidence counts (TrafficCollector.count_evidence), and the latest end of a
     * finished session (SessionBuilder._latest). */
    int64_t lineno;
    int evidence_off, has_latest;
    int64_t latest;
};

static void free_str(str *s) {
    free(s->p);
    s->p = NULL;
}

static void free_session(session *s) {
    free_str(&s->host);
    free_str(&s->service);
    free_str(&s->pid);
    free_str(&s->name);
    free_str(&s->ip);
    free_str(&s->helo);
    for (int64_t i = 0; i < s->n_senders; i++) free_str(&s->senders[i]);
    for (int64_t i = 0; i < s->n_recipients; i++) free_str(&s->recipients[i]);
    free(s->senders);
    free(s->recipients);
    for (int64_t i = 0; i < s->n_rejects; i++) {
        reject *r = &s->rejects[i];
        free_str(&r->stage);
        free_str(&r->dsn);
        free_str(&r->reason);
        free_str(&r->recipient);
    }
    free(s->rejects);
    for (int64_t i = 0; i < s->n_spf; i++) {
        spf_result *r = &s->spf[i];
        free_str(&r->result);
        free_str(&r->identity);
        free_str(&r->sender);
        free_str(&r->helo);
    }
    free(s->spf);
    for (int64_t i = 0; i < s->n_counters; i++) {
        free_str(&s->counters[i].name);
        free_str(&s->counters[i].ok);
        free_str(&s->counters[i].total);
    }
    free(s->counters);
    free_str(&s->ended_by);
    free_str(&s->hostname_warning);
    free(s);
}

static void free_pending(pending *p) {
    free_str(&p->helo);
    free_str(&p->sender);
    free_str(&p->result);
    free_str(&p->identity);
}

static void free_pending_list(void *v) {
    pending_list *l = v;
    for (int64_t i = 0; i < l->n; i++) free_pending(&l->v[i]);
    free(l->v);
    free(l);
}

static void free_warning(void *v) {
    warning *w = v;
    free_str(&w->reason);
    free(w);
}

static void free_session_list(void *v) {
    session_list *l = v;
    free(l->v);
    free(l);
}

/* --- the JSON the sessions and evidence go out in ---------------------------- */

static void out_str(buf *b, str s) {
    if (s.n < 0) {
        buf_add(b, "null", 4);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    buf_addc(b, '"');
    int64_t run = 0;
    for (int64_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_add(b, s.p + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_add(b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_add(b, esc, 6);
        }
    }
    buf_add(b, s.p + run, s.n - run);
    buf_addc(b, '"');
}

static void out_int(buf *b, int64_t v) {
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) buf_addc(b, '-');
    while (n) buf_addc(b, tmp[--n]);
}

static void out_next(engine *g) {
    if (g->items++) buf_addc(&g->out, ',');
}

static void note_ip(engine *g, str ip) {
    uint64_t h = hash_bytes(ip.p, ip.n);
    if (map_find(&g->known_ips, ip.p, ip.n, h) == NULL) map_put(&g->known_ips, ip.p, ip.n, h, NULL);
}

static void out_session(engine *g, session *s) {
    buf *b = &g->out;
    out_next(g);
    buf_add(b, "[0,", 3);
    out_str(b, s->host);
    buf_addc(b, ',');
    out_str(b, s->service);
    buf_addc(b, ',');
    buf_add(b, s->pid.p, s->pid.n); /* canonical decimal */
    buf_addc(b, ',');
    out_str(b, s->name);
    buf_addc(b, ',');
    out_str(b, s->ip);
    buf_addc(b, ',');
    out_int(b, s->start);
    buf_addc(b, ',');
    out_int(b, s->end);
    buf_addc(b, ',');
    out_str(b, s->helo);
    buf_add(b, ",[", 2);
    for (int64_t i = 0; i < s->n_senders; i++) {
        if (i) buf_addc(b, ',');
        out_str(b, s->senders[i]);
    }
    buf_add(b, "],[", 3);
    for (int64_t i = 0; i < s->n_recipients; i++) {
        if (i) buf_addc(b, ',');
        out_str(b, s->recipients[i]);
    }
    buf_add(b, "],[", 3);
    for (int64_t i = 0; i < s->n_rejects; i++) {
        reject *r = &s->rejects[i];
        buf_add(b, i ? ",[" : "[", i ? 2 : 1);
        out_int(b, r->t);
        buf_addc(b, ',');
        out_str(b, r->stage);
        buf_addc(b, ',');
        out_int(b, r->code);
        buf_addc(b, ',');
        out_str(b, r->dsn);
        buf_addc(b, ',');
        out_str(b, r->reason);
        buf_addc(b, ',');
        out_str(b, r->recipient);
        buf_add(b, r->warning ? ",1]" : ",0]", 3);
    }
    buf_add(b, "],[", 3);
    for (int64_t i = 0; i < s->n_spf; i++) {
        spf_result *r = &s->spf[i];
        buf_add(b, i ? ",[" : "[", i ? 2 : 1);
        out_str(b, r->result);
        buf_addc(b, ',');
        out_str(b, r->identity);
        buf_addc(b, ',');
        out_str(b, r->sender);
        buf_addc(b, ',');
        out_str(b, r->helo);
        buf_addc(b, ']');
    }
    buf_add(b, "],", 2);
    if (s->has_counters) {
        buf_addc(b, '[');
        for (int64_t i = 0; i < s->n_counters; i++) {
            if (i) buf_addc(b, ',');
            buf_addc(b, '[');
            out_str(b, s->counters[i].name);
            buf_addc(b, ',');
            buf_add(b, s->counters[i].ok.p, s->counters[i].ok.n);
            buf_addc(b, ',');
            buf_add(b, s->counters[i].total.p, s->counters[i].total.n);
            buf_addc(b, ']');
        }
        buf_addc(b, ']');
    } else {
        buf_add(b, "null", 4);
    }
    buf_addc(b, ',');
    out_int(b, s->queued);
    buf_addc(b, ',');
    out_str(b, s->ended_by);
    buf_addc(b, ',');
    out_str(b, s->hostname_warning);
    buf_add(b, s->saw_connect ? ",1" : ",0", 2);
    buf_add(b, s->saw_disconnect ? ",1," : ",0,", 3);
    out_int(b, s->first_line);
    buf_addc(b, ']');
    if (g->sessions_make_clients) note_ip(g, s->ip);
}

/* An SPF line a range worker sets aside (7: early, no session of the range took it;
 * 8: past the range, taken by a session of it): [kind, time, host, ip, helo, sender,
 * result, identity]. */
static void out_spf_line(engine *g, int kind, int64_t t, span host, span ip, span helo,
                         span sender, span result, span identity) {
    buf *b = &g->out;
    span fields[] = {host, ip, helo, sender, result, identity};
    out_next(g);
    buf_addc(b, '[');
    out_int(b, kind);
    buf_addc(b, ',');
    out_int(b, t);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        buf_addc(b, ',');
        out_str(b, (str){(char *)fields[i].p, fields[i].n});
    }
    buf_addc(b, ']');
}

/* --- the builder (sessions.py SessionBuilder) ------------------------------------ */

static const char *open_key(engine *g, span host, span service, span pid, int64_t *n) {
    g->key.n = 0;
    key_part(&g->key, host);
    key_part(&g->key, service);
    key_part(&g->key, pid);
    *n = g->key.n;
    return g->key.p;
}

static const char *client_key(engine *g, span host, span ip, int64_t *n) {
    g->key.n = 0;
    key_part(&g->key, host);
    key_part(&g->key, ip);
    *n = g->key.n;
    return g->key.p;
}

static session *find_open(engine *g, span host, span service, span pid) {
    int64_t n;
    const char *k = open_key(g, host, service, pid, &n);
    slot *s = map_find(&g->open, k, n, hash_bytes(k, n));
    return s ? s->val : NULL;
}

/* _forget: the session leaves its client's list. */
static void forget(engine *g, session *s) {
    int64_t n;
    const char *k = client_key(g, span_of(s->host), span_of(s->ip), &n);
    slot *sl = map_find(&g->by_client, k, n, hash_bytes(k, n));
    if (sl == NULL) return;
    session_list *l = sl->val;
    if (l->n == 1) {
        free_session_list(l);
        map_del(&g->by_client, sl);
        return;
    }
    for (int64_t i = 0; i < l->n; i++)
        if (l->v[i] == s) {
            memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(session *));
            l->n--;
            break;
        }
}

static void unlink_open(engine *g, session *s) {
    if (s->prev) s->prev->next = s->next;
    else g->first = s->next;
    if (s->next) s->next->prev = s->prev;
    else g->last = s->prev;
    s->prev = s->next = NULL;
}

/* _finish: count it and give it to Python (the run's window is open). */
static void finish(engine *g, session *s) {
    if (!g->has_latest || s->end > g->latest) {
        g->latest = s->end;
        g->has_latest = 1;
    }
    g->sessions++;
    if (!s->saw_disconnect) g->without_disconnect++;
    if (g->agg) agg_session(g->agg, s);
    else out_session(g, s);
    free_session(s);
}

/* The session is no longer open: out of the open map, the open list and its client's. */
static void take_out(engine *g, session *s) {
    int64_t n;
    const char *k = open_key(g, span_of(s->host), span_of(s->service), span_of(s->pid), &n);
    slot *sl = map_find(&g->open, k, n, hash_bytes(k, n));
    if (sl) map_del(&g->open, sl);
    unlink_open(g, s);
    forget(g, s);
}

/* _close */
static void close_session(engine *g, session *s, int disconnected) {
    take_out(g, s);
    if (!disconnected) s->saw_disconnect = 0;
    finish(g, s);
}

/* _new */
static session *new_session(engine *g, span host, span service, span pid, int64_t t, span name,
                            span ip, int saw_connect) {
    session *s = calloc(1, sizeof(session));
    if (s == NULL) abort();
    s->host = str_of(host);
    s->service = str_of(service);
    s->pid = str_of(pid);
    s->name = str_of(name);
    s->ip = str_of(ip);
    s->start = s->end = t;
    s->helo = (str){NULL, -1};
    s->ended_by = (str){NULL, 0};
    s->hostname_warning = (str){NULL, 0};
    s->saw_connect = saw_connect;
    s->saw_disconnect = 1;
    s->first_line = g->lineno;
    int64_t n;
    if (g->warnings.used) {
        const char *k = open_key(g, host, service, pid, &n);
        slot *sl = map_find(&g->warnings, k, n, hash_bytes(k, n));
        if (sl) {
            warning *w = sl->val;
            if (w->reason.n > 0 && saw_connect) {
                s->hostname_warning = w->reason;
                s->first_line = w->line;
                w->reason = (str){NULL, 0};
            }
            free_warning(w);
            map_del(&g->warnings, sl);
        }
    }
    const char *k = open_key(g, host, service, pid, &n);
    map_put(&g->open, k, n, hash_bytes(k, n), s);
    s->prev = g->last;
    if (g->last) g->last->next = s;
    else g->first = s;
    g->last = s;
    k = client_key(g, host, ip, &n);
    uint64_t h = hash_bytes(k, n);
    slot *sl = map_find(&g->by_client, k, n, h);
    session_list *l;
    if (sl == NULL) {
        l = calloc(1, sizeof(session_list));
        if (l == NULL) abort();
        map_put(&g->by_client, k, n, h, l);
    } else {
        l = sl->val;
    }
    l->v = grow(l->v, &l->cap, l->n + 1, sizeof(session *));
    l->v[l->n++] = s;
    if (!saw_connect) g->without_connect++;
    return s;
}

/* _session: the open session of this process (a new one if the log lacks its connect). */
static session *session_of(engine *g, int64_t t, span host, span service, span pid, span name,
                           span ip) {
    session *s = find_open(g, host, service, pid);
    if (s == NULL || (ip.n > 0 && s->ip.n > 0 && !span_eq(ip, span_of(s->ip)))) {
        if (s != NULL) close_session(g, s, 0);
        s = new_session(g, host, service, pid, t, name, ip, 0);
    }
    s->end = t;
    return s;
}

/* SessionBuilder.discard: the session leaves without being finished or counted. */
static void discard(engine *g, session *s) {
    take_out(g, s);
    free_session(s);
}

/* _RangeCollector._ours: in a range, a session line counts when the session opened
 * here (past the first range, the previous worker builds those opened before). */
static int not_ours(engine *g, span host, span service, span pid) {
    if (!g->range || (g->range_first && !g->past)) return 0;
    return find_open(g, host, service, pid) == NULL;
}

static int serves(engine *g, span host, span ip) {
    int64_t n;
    const char *k = client_key(g, host, ip, &n);
    return map_find(&g->by_client, k, n, hash_bytes(k, n)) != NULL;
}

static int has_str(str *v, int64_t n, span s) {
    for (int64_t i = 0; i < n; i++)
        if (span_eq(span_of(v[i]), s)) return 1;
    return 0;
}

static void add_sender(session *s, span sender) {
    if (has_str(s->senders, s->n_senders, sender)) return;
    s->senders = grow(s->senders, &s->cap_senders, s->n_senders + 1, sizeof(str));
    s->senders[s->n_senders++] = str_of(sender);
}

/* _apply_spf */
static void apply_spf(session *s, int64_t t, span helo, span sender, span result, span identity) {
    s->spf = grow(s->spf, &s->cap_spf, s->n_spf + 1, sizeof(spf_result));
    spf_result *r = &s->spf[s->n_spf++];
    r->result = str_of(result);
    r->identity = str_of(identity);
    r->sender = str_of(sender.n < 0 ? (span){"", 0} : sender);
    r->helo = str_of(helo.n < 0 ? (span){"", 0} : helo);
    if (s->helo.n < 0 && helo.n > 0) s->helo = str_of(helo);
    if (sender.n > 0) add_sender(s, sender);
    if (t > s->end) s->end = t;
}

/* _claim_pending_spf */
static void claim_pending(engine *g, session *s) {
    int64_t n;
    const char *k = client_key(g, span_of(s->host), span_of(s->ip), &n);
    slot *sl = map_find(&g->pending, k, n, hash_bytes(k, n));
    if (sl == NULL) return;
    pending_list *l = sl->val;
    for (int64_t i = 0; i < l->n; i++) {
        pending *p = &l->v[i];
        if (s->helo.n < 0 || span_eq(span_of(s->helo), span_of(p->helo))) {
            pending item = *p;
            memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(pending));
            l->n--;
            apply_spf(s, item.t, span_of(item.helo), span_of(item.sender), span_of(item.result),
                      span_of(item.identity));
            free_pending(&item);
            break;
        }
    }
    if (l->n == 0) {
        free_pending_list(l);
        map_del(&g->pending, sl);
    }
}

/* _sweep: close sessions silent for an hour. */
static void sweep(engine *g, int64_t now) {
    g->next_sweep = now > MAX_TIME - SWEEP_EVERY_US ? MAX_TIME : now + SWEEP_EVERY_US;
    g->has_next_sweep = 1;
    session *s = g->first;
    while (s) {
        session *next = s->next;
        if (now - s->end > STALE_US) close_session(g, s, 0);
        s = next;
    }
    if (g->warnings.used > MAX_WARNINGS) map_clear(&g->warnings, free_warning);
    for (int64_t i = 0; i < g->pending.cap; i++) {
        slot *sl = &g->pending.s[i];
        if (sl->key == NULL || sl->key == TOMB) continue;
        pending_list *l = sl->val;
        if (now - l->v[l->n - 1].t > STALE_US) {
            g->spf_unmatched += l->n;
            free_pending_list(l);
            map_del(&g->pending, sl);
        }
    }
}

void la_on_connect(engine *g, int64_t t, span host, span service, span pid, span name, span ip) {
    session *s = find_open(g, host, service, pid);
    /* Past its range, a connect only ends a session of ours; the new one is not ours. */
    if (g->past && s == NULL) return;
    if (s) close_session(g, s, 0);
    session *fresh = new_session(g, host, service, pid, t, name, ip, 1);
    if (!g->has_next_sweep || t >= g->next_sweep) sweep(g, t);
    if (g->past) discard(g, fresh);
}

void la_on_disconnect(engine *g, int64_t t, span host, span service, span pid, span name,
                      span ip, const counter_span *counters, int64_t n) {
    if (not_ours(g, host, service, pid)) return;
    session *s = session_of(g, t, host, service, pid, name, ip);
    if (g->pending.used) claim_pending(g, s);
    for (int64_t i = 0; i < s->n_counters; i++) {
        free_str(&s->counters[i].name);
        free_str(&s->counters[i].ok);
        free_str(&s->counters[i].total);
    }
    s->n_counters = 0;
    s->has_counters = 1;
    for (int64_t i = 0; i < n; i++) {
        /* a dict: a name logged again keeps its place and takes the new value */
        int64_t at = -1;
        for (int64_t j = 0; j < s->n_counters; j++)
            if (span_eq(span_of(s->counters[j].name), counters[i].name)) at = j;
        if (at < 0) {
            s->counters = grow(s->counters, &s->cap_counters, s->n_counters + 1, sizeof(counter));
            at = s->n_counters++;
            s->counters[at].name = str_of(counters[i].name);
        } else {
            free_str(&s->counters[at].ok);
            free_str(&s->counters[at].total);
        }
        s->counters[at].ok = str_of(counters[i].ok);
        s->counters[at].total = str_of(counters[i].total);
    }
    close_session(g, s, 1);
}

void la_on_reject(engine *g, int64_t t, span host, span service, span pid, const reject_span *r) {
    if (not_ours(g, host, service, pid)) return;
    session *s = session_of(g, t, host, service, pid, r->name, r->ip);
    if (g->pending.used) claim_pending(g, s);
    s->rejects = grow(s->rejects, &s->cap_rejects, s->n_rejects + 1, sizeof(reject));
    reject *x = &s->rejects[s->n_rejects++];
    x->t = t;
    x->stage = str_of(r->stage);
    x->dsn = str_of(r->dsn);
    x->reason = str_of(r->text);
    x->recipient = str_of(r->recipient);
    x->code = r->code;
    x->warning = r->warning;
    if (r->helo.n >= 0) {
        free_str(&s->helo);
        s->helo = str_of(r->helo);
    }
    if (r->sender.n >= 0) add_sender(s, r->sender);
    if (r->recipient.n >= 0 && !has_str(s->recipients, s->n_recipients, r->recipient)) {
        s->recipients = grow(s->recipients, &s->cap_recipients, s->n_recipients + 1, sizeof(str));
        s->recipients[s->n_recipients++] = str_of(r->recipient);
    }
}

void la_on_client(engine *g, int64_t t, span host, span service, span pid, span name, span ip) {
    if (not_ours(g, host, service, pid)) return;
    session *s = session_of(g, t, host, service, pid, name, ip);
    if (g->pending.used) claim_pending(g, s);
    s->queued++;
}

void la_on_lost(engine *g, int64_t t, span host, span service, span pid, span name, span ip,
                span stage, span what) {
    if (not_ours(g, host, service, pid)) return;
    session *s = session_of(g, t, host, service, pid, name, ip);
    free_str(&s->ended_by);
    int64_t n = what.n + 7 + stage.n;
    s->ended_by.p = malloc((size_t)n + 1);
    if (s->ended_by.p == NULL) abort();
    memcpy(s->ended_by.p, what.p, (size_t)what.n);
    memcpy(s->ended_by.p + what.n, " after ", 7);
    memcpy(s->ended_by.p + what.n + 7, stage.p, (size_t)stage.n);
    s->ended_by.n = n;
}

void la_on_mismatch(engine *g, int64_t t, span host, span service, span pid, span reason) {
    if (g->past) return; /* it belongs to the next connect: the next range's */
    int64_t n;
    const char *k = open_key(g, host, service, pid, &n);
    uint64_t h = hash_bytes(k, n);
    slot *sl = map_find(&g->warnings, k, n, h);
    warning *w;
    if (sl) {
        w = sl->val;
        free_str(&w->reason);
    } else {
        w = calloc(1, sizeof(warning));
        if (w == NULL) abort();
        map_put(&g->warnings, k, n, h, w);
    }
    w->reason = str_of(reason);
    w->t = t;
    w->line = g->lineno;
}

void la_on_spf(engine *g, int64_t t, span host, span ip, span helo, span sender, span result,
               span identity) {
    if (g->range) {
        /* Past the range: only for a client of ours.  Early in a range, one no session
         * here takes may be the previous range's: its worker's lookahead decides. */
        int ours = serves(g, host, ip);
        if (g->past && !ours) return;
        if (g->past) out_spf_line(g, 8, t, host, ip, helo, sender, result, identity);
        else if (g->has_early && t <= g->early_until && !ours) {
            out_spf_line(g, 7, t, host, ip, helo, sender, result, identity);
            return;
        }
    }
    int64_t n;
    const char *k = client_key(g, host, ip, &n);
    uint64_t h = hash_bytes(k, n);
    slot *sl = map_find(&g->by_client, k, n, h);
    if (sl == NULL) {
        g->spf_unmatched++;
        return;
    }
    session_list *l = sl->val;
    if (l->n == 1) {
        apply_spf(l->v[0], t, helo, sender, result, identity);
        return;
    }
    session *same = NULL;
    int64_t count = 0;
    for (int64_t i = 0; i < l->n; i++)
        if (span_eq(span_of(l->v[i]->helo), helo)) {
            same = l->v[i];
            count++;
        }
    if (count == 1) {
        apply_spf(same, t, helo, sender, result, identity);
        return;
    }
    /* Several sessions of one client are open: the next one to log a RCPT outcome
     * claims it.  (by_client's key is the pending map's key too.) */
    slot *ps = map_find(&g->pending, k, n, h);
    pending_list *pl;
    if (ps == NULL) {
        pl = calloc(1, sizeof(pending_list));
        if (pl == NULL) abort();
        map_put(&g->pending, k, n, h, pl);
    } else {
        pl = ps->val;
    }
    pl->v = grow(pl->v, &pl->cap, pl->n + 1, sizeof(pending));
    pending *p = &pl->v[pl->n++];
    p->t = t;
    p->helo = str_of(helo);
    p->sender = str_of(sender);
    p->result = str_of(result);
    p->identity = str_of(identity);
}

void la_on_evidence(engine *g, int kind, span ip, int64_t rank, span domain) {
    if (g->past) return; /* evidence counts inside a range only */
    if (g->evidence_off) return; /* TrafficCollector._counts: a replayed line's */
    if (ip.n <= 0) return; /* TrafficCollector._client: no address, no client */
    if (g->agg) {
        agg_evidence(g->agg, kind, ip, rank, domain);
        return;
    }
    str s = {(char *)ip.p, ip.n};
    if (kind == 1) {
        uint64_t h = hash_bytes(ip.p, ip.n);
        if (map_find(&g->known_ips, ip.p, ip.n, h)) return; /* it exists: nothing changes */
        map_put(&g->known_ips, ip.p, ip.n, h, NULL);
    } else {
        note_ip(g, s);
    }
    buf *b = &g->out;
    out_next(g);
    buf_addc(b, '[');
    out_int(b, kind);
    buf_addc(b, ',');
    out_str(b, s);
    if (kind == 3) {
        buf_addc(b, ',');
        out_int(b, rank);
    } else if (kind == 4) {
        buf_addc(b, ',');
        out_str(b, (str){(char *)domain.p, domain.n});
    }
    buf_addc(b, ']');
}

/* --- shared with aggregate.c --------------------------------------------------- */

void *la_grow(void *v, int64_t *cap, int64_t need, size_t size) { return grow(v, cap, need, size); }
void la_buf_add(buf *b, const void *p, int64_t n) { buf_add(b, p, n); }
void la_out_str(buf *b, const char *p, int64_t n) { out_str(b, (str){(char *)p, n}); }
void la_out_int(buf *b, int64_t v) { out_int(b, v); }

/* --- what Python calls --------------------------------------------------------- */

/* sessions_make_clients: the collector folds finished sessions with add_session, which
 * makes the client's record, so a later postscreen CONNECT of it changes nothing. */
engine *la_engine_new(int sessions_make_clients) {
    engine *g = calloc(1, sizeof(engine));
    if (g == NULL) abort();
    g->sessions_make_clients = sessions_make_clients;
    return g;
}

void la_engine_free(engine *g) {
    if (g == NULL) return;
    session *s = g->first;
    while (s) {
        session *next = s->next;
        free_session(s);
        s = next;
    }
    map_clear(&g->open, NULL);
    map_clear(&g->by_client, free_session_list);
    map_clear(&g->warnings, free_warning);
    map_clear(&g->pending, free_pending_list);
    map_clear(&g->known_ips, NULL);
    agg_free(g->agg);
    free(g->key.p);
    free(g->out.p);
    free(g);
}

scan_state *la_scan_state(engine *g) { return &g->scan; }

/* The JSON items written since the last call (without the enclosing brackets); the
 * pointer stays valid until the next call into the engine.  Empties the buffer. */
const char *la_take_output(engine *g, int64_t *n) {
    *n = g->out.n;
    g->out.n = 0;
    g->items = 0;
    return g->out.p ? g->out.p : "";
}

/* close(): the sessions still open, cut off, by start (stably, in opening order). */
void la_close(engine *g) {
    int64_t count = 0;
    for (session *s = g->first; s; s = s->next) count++;
    session **v = malloc((size_t)(count ? count : 1) * sizeof(session *));
    if (v == NULL) abort();
    int64_t i = 0;
    for (session *s = g->first; s; s = s->next) v[i++] = s;
    /* insertion sort keeps ties in order; merge sort for many */
    for (int64_t width = 1; width < count; width *= 2) {
        session **tmp = malloc((size_t)count * sizeof(session *));
        if (tmp == NULL) abort();
        for (int64_t lo = 0; lo < count; lo += 2 * width) {
            int64_t mid = lo + width < count ? lo + width : count;
            int64_t hi = lo + 2 * width < count ? lo + 2 * width : count;
            int64_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) tmp[o++] = v[b]->start < v[a]->start ? v[b++] : v[a++];
            while (a < mid) tmp[o++] = v[a++];
            while (b < hi) tmp[o++] = v[b++];
        }
        memcpy(v, tmp, (size_t)count * sizeof(session *));
        free(tmp);
    }
    g->first = g->last = NULL;
    map_clear(&g->open, NULL);
    map_clear(&g->by_client, free_session_list);
    for (i = 0; i < count; i++) {
        v[i]->saw_disconnect = 0;
        v[i]->prev = v[i]->next = NULL;
        finish(g, v[i]);
    }
    free(v);
    for (int64_t j = 0; j < g->pending.cap; j++) {
        slot *sl = &g->pending.s[j];
        if (sl->key != NULL && sl->key != TOMB) g->spf_unmatched += ((pending_list *)sl->val)->n;
    }
    map_clear(&g->pending, free_pending_list);
}

/* A split run's range: the first range or a later one, and until when (if at all)
 * SPF lines may be for a session of the previous range. */
void la_set_range(engine *g, int first, int has_early, int64_t early_until) {
    g->range = 1;
    g->range_first = first;
    g->has_early = has_early;
    g->early_until = early_until;
}

/* The lines from now on are past the range: they only finish its sessions. */
void la_set_past(engine *g) { g->past = 1; }

/* The sessions still open: how many, and the latest time of any line of theirs. */
void la_open_sessions(engine *g, int64_t *out) {
    int64_t count = 0, latest = INT64_MIN;
    for (session *s = g->first; s; s = s->next) {
        count++;
        if (s->end > latest) latest = s->end;
    }
    out[0] = count;
    out[1] = latest;
}

/* The first lines of the open sessions (as many as fit in out[0..cap)), then those of
 * the hostname warnings waiting for their connect: all of them, or (has_within) those
 * logged at most within seconds before the latest end of an open or finished session
 * or time of a warning (TrafficCollector.open_lines, SessionBuilder.pending_warnings).
 * Returns how many there are; out[cap..] is not written. */
int64_t la_open_lines(engine *g, int has_within, double within, int64_t *out, int64_t cap) {
    int64_t n = 0, latest = INT64_MIN;
    int any = 0;
    for (session *s = g->first; s; s = s->next) {
        if (n < cap) out[n] = s->first_line;
        n++;
        if (!any || s->end > latest) latest = s->end;
        any = 1;
    }
    if (g->has_latest && (!any || g->latest > latest)) {
        latest = g->latest;
        any = 1;
    }
    for (int64_t i = 0; i < g->warnings.cap; i++) {
        slot *sl = &g->warnings.s[i];
        if (sl->key == NULL || sl->key == TOMB) continue;
        warning *w = sl->val;
        if (!any || w->t > latest) latest = w->t;
        any = 1;
    }
    for (int64_t i = 0; i < g->warnings.cap; i++) {
        slot *sl = &g->warnings.s[i];
        if (sl->key == NULL || sl->key == TOMB) continue;
        warning *w = sl->val;
        /* (latest - w.time).total_seconds() <= within */
        if (has_within && !((double)(latest - w->t) / 1e6 <= within)) continue;
        if (n < cap) out[n] = w->line;
        n++;
    }
    return n;
}

void la_set_line(engine *g, int64_t line) { g->lineno = line; }

/* TrafficCollector.count_evidence: whether the evidence of the lines from now on counts. */
void la_set_evidence(engine *g, int on) { g->evidence_off = !on; }

/* From now on finished sessions and evidence fold into aggregates here (aggregate.c)
 * instead of going out as JSON; classify is Python's verdict on a reply text. */
void la_set_aggregate(engine *g, classify_fn classify, int unknown_check) {
    if (g->agg == NULL) g->agg = agg_new(classify, unknown_check);
}

/* Evidence Python read (fold.py fold_evidence's operations), folded into the
 * aggregates: ip and domain as UTF-8 with their lengths. */
void la_agg_evidence(engine *g, int op, const char *ip, int64_t ip_n, int64_t value,
                     const char *domain, int64_t domain_n) {
    if (g->agg) agg_evidence(g->agg, op, (span){ip, ip_n}, value, (span){domain, domain_n});
}

/* The aggregates, part by part (aggregate.c agg_take); n 0 at the end. */
const char *la_agg_take(engine *g, int64_t *n) {
    if (g->agg == NULL) {
        *n = 0;
        return "";
    }
    return agg_take(g->agg, n);
}

/* SessionStats: sessions, without_connect, without_disconnect, spf_unmatched. */
void la_session_stats(engine *g, int64_t *out) {
    out[0] = g->sessions;
    out[1] = g->without_connect;
    out[2] = g->without_disconnect;
    out[3] = g->spf_unmatched;
}

/* --- Python's events: fields packed as [int64 length][bytes] (length -1: None) --- */

static int64_t unpack(const char *p, int64_t len, span *f, int64_t max) {
    int64_t n = 0, at = 0;
    while (at < len && n < max) {
        if (len - at < 8) return -1;
        int64_t k;
        memcpy(&k, p + at, 8);
        at += 8;
        if (k < 0) {
            f[n++] = NONE_SPAN;
            continue;
        }
        if (k > len - at) return -1;
        f[n++] = (span){p + at, k};
        at += k;
    }
    return at == len ? n : -1;
}

static int64_t small_int(span s) {
    int64_t v = 0;
    for (int64_t i = 0; i < s.n && i < 18; i++) v = v * 10 + (s.p[i] - '0');
    return v;
}

/* kinds: 1 connect, 2 disconnect, 3 reject, 4 client, 5 lost, 6 mismatch, 7 spf.
 * Returns 0, or -1 when the fields do not fit the kind. */
int la_feed(engine *g, int kind, int64_t t, int64_t line, const char *packed, int64_t len) {
    g->lineno = line;
    int64_t max_fields = len / 8 + 1; /* each field takes its 8-byte length at least */
    span *f = malloc((size_t)max_fields * sizeof(span));
    if (f == NULL) abort();
    int64_t n = unpack(packed, len, f, max_fields);
    int ok = 0;
    if (kind == 1 && n == 5) la_on_connect(g, t, f[0], f[1], f[2], f[3], f[4]);
    else if (kind == 2 && n >= 5 && (n - 5) % 3 == 0) {
        int64_t count = (n - 5) / 3;
        counter_span *c = malloc((size_t)(count ? count : 1) * sizeof(counter_span));
        if (c == NULL) abort();
        for (int64_t i = 0; i < count; i++)
            c[i] = (counter_span){f[5 + 3 * i], f[6 + 3 * i], f[7 + 3 * i]};
        la_on_disconnect(g, t, f[0], f[1], f[2], f[3], f[4], c, count);
        free(c);
    } else if (kind == 3 && n == 13) {
        reject_span r = {f[3], f[4], f[5], f[6], f[7], f[8], f[10], f[11],
                         (int)small_int(f[9]), f[12].n == 1 && f[12].p[0] == '1'};
        la_on_reject(g, t, f[0], f[1], f[2], &r);
    } else if (kind == 4 && n == 5) la_on_client(g, t, f[0], f[1], f[2], f[3], f[4]);
    else if (kind == 5 && n == 7) la_on_lost(g, t, f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
    else if (kind == 6 && n == 4) la_on_mismatch(g, t, f[0], f[1], f[2], f[3]);
    else if (kind == 7 && n == 6) la_on_spf(g, t, f[0], f[1], f[2], f[3], f[4], f[5]);
    else ok = -1;
    free(f);
    return ok;
}
