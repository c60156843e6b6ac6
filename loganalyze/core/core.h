/* Shared by the compiled core's files: spans of bytes, and the session builder's entry
 * points the scanner calls (sessions.c). */
#ifndef LA_CORE_H
#define LA_CORE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes [p, p + n) of a line or of a field Python passed; n < 0 is None. */
typedef struct {
    const char *p;
    int64_t n;
} span;

#define NONE_SPAN ((span){NULL, -1})

typedef struct engine engine;

/* One counter of a disconnect line: name=ok/total (ok and total canonical decimals). */
typedef struct {
    span name, ok, total;
} counter_span;

/* A reject line's facts (smtpd.parse_reject). */
typedef struct {
    span name, ip, helo, sender, recipient, stage, dsn, text;
    int code, warning;
} reject_span;

/* The events of sessions.py's SessionBuilder, and of TrafficCollector's evidence. */
void la_on_connect(engine *g, int64_t t, span host, span service, span pid, span name, span ip);
void la_on_disconnect(engine *g, int64_t t, span host, span service, span pid, span name,
                      span ip, const counter_span *counters, int64_t n);
void la_on_reject(engine *g, int64_t t, span host, span service, span pid, const reject_span *r);
void la_on_client(engine *g, int64_t t, span host, span service, span pid, span name, span ip);
void la_on_lost(engine *g, int64_t t, span host, span service, span pid, span name, span ip,
                span stage, span what);
void la_on_mismatch(engine *g, int64_t t, span host, span service, span pid, span reason);
void la_on_spf(engine *g, int64_t t, span host, span ip, span helo, span sender, span result,
               span identity);
/* Evidence: 1 postscreen CONNECT/DISCONNECT, 2 PASS, 3 DNSBL rank, 4 dnsblog listed,
 * 5 a postscreen reject. */
void la_on_evidence(engine *g, int kind, span ip, int64_t rank, span domain);
/* The number of the line the next events come from (SessionBuilder._lines.line_number). */
void la_set_line(engine *g, int64_t line);

/* The scanner's counts, its one-entry time cache and Python's clock state (the year
 * and month of the last syslog line, header.Clock.state) live in the engine too. */
typedef struct {
    int64_t lines, matched, irrelevant;
    char stamp[16];
    int64_t stamp_time;
    int has_stamp;
    int has_clock, clock_month;
    int64_t clock_year;
} scan_state;

scan_state *la_scan_state(engine *g);

/* linefilter.c: a line Python would certainly count as irrelevant. */
int la_line_irrelevant(const unsigned char *p, const unsigned char *e);

#endif
