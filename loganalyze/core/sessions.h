/* The session record of the compiled builder (sessions.c), which the compiled
 * aggregates (aggregate.c) fold as fold.py's add_session folds an SmtpSession. */
#ifndef LA_SESSIONS_H
#define LA_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"

typedef struct {
    char *p;
    int64_t n; /* < 0: None */
} str;

/* A growing byte buffer (keys, the JSON out). */
typedef struct {
    char *p;
    int64_t n, cap;
} buf;

/* --- sessions ------------------------------------------------------------------ */

typedef struct {
    int64_t t;
    str stage, dsn, reason, recipient;
    int code, warning;
} reject;

typedef struct {
    str result, identity, sender, helo;
} spf_result;

typedef struct {
    str name, ok, total;
} counter;

typedef struct session {
    str host, service, pid, name, ip;
    int64_t start, end;
    str helo;
    str *senders, *recipients;
    int64_t n_senders, cap_senders, n_recipients, cap_recipients;
    reject *rejects;
    int64_t n_rejects, cap_rejects;
    spf_result *spf;
    int64_t n_spf, cap_spf;
    counter *counters;
    int64_t n_counters, cap_counters;
    int has_counters;
    int64_t queued;
    str ended_by, hostname_warning;
    int saw_connect, saw_disconnect;
    int64_t first_line; /* SmtpSession.first_line: 0 unless the engine is told line numbers */
    struct session *prev, *next; /* the open sessions in the order Python's dict keeps */
} session;

/* aggregate.c: the aggregates of a collector whose sessions make its clients
 * (fold.py's add_session and the evidence rules), folded in C. */
typedef struct agg agg;
/* Python's classification of a reject's reply text (engine.py _classify): bits 0-7 the
 * category's number, 8-11 the HELO check's (0: none), bit 12 crowdsec_counts for an
 * smtpd reject line (not a warning). */
typedef int (*classify_fn)(const char *reason, int64_t n);
/* unknown_check: the number of Check.UNKNOWN. */
agg *agg_new(classify_fn classify, int unknown_check);
void agg_free(agg *a);
void agg_session(agg *a, const session *s);
/* 1 seen, 2 postscreen pass, 3 DNSBL rank (value), 4 listed by domain, 5 postscreen
 * reject, 6 SPF reject: fold.py's EVIDENCE operations. */
void agg_evidence(agg *a, int op, span ip, int64_t value, span domain);
const char *agg_take(agg *a, int64_t *n);

/* sessions.c's helpers, shared with aggregate.c. */
void *la_grow(void *v, int64_t *cap, int64_t need, size_t size);
void la_buf_add(buf *b, const void *p, int64_t n);
void la_out_str(buf *b, const char *p, int64_t n); /* a JSON string (n < 0: null) */
void la_out_int(buf *b, int64_t v);

#endif
