/* The compiled core's scanner (issue 17): the frequent lines of a syslog or RFC 3339
 * file, read as loganalyze/parse/scan.py's fast path reads them, straight into the
 * session builder (sessions.c).
 *
 * It reads a line only when it can prove Python's result: printable ASCII (so
 * Python's \s, \d and \w mean what they mean here), no longer than header.MAX_LINE,
 * a header "stamp host service[pid]: ", and a message in one of the common shapes,
 * each read by the rule of the Python function named next to it.  Any other line
 * stops the scan, and Python reads it (la_scan returns PYTHON_LINE); so does a
 * traditional stamp whose time Python has not given (NEED_TIME): the year inference
 * stays Python's alone.  Every read is bounded by the line's end.
 */
#include <string.h>

#include "core.h"

#define MAX_LINE 8192 /* loganalyze.parse.header.MAX_LINE */
#define MAX_DIGITS 18 /* longer numbers are left to Python's ints */
#define HANDLED 0
#define NEED_TIME 1
#define PYTHON_LINE 2

typedef const unsigned char *cur;

static int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static int lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static int alpha(unsigned char c) { return upper(c) || lower(c); }
static int alnum(unsigned char c) { return alpha(c) || digit(c); }
static int word(unsigned char c) { return alnum(c) || c == '_'; }
/* \S on a printable-ASCII line: anything but the space. */
static int nonspace(unsigned char c) { return c != ' '; }

static span sp(cur a, cur b) { return (span){(const char *)a, b - a}; }

static int starts(cur p, cur e, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(e - p) >= n && memcmp(p, lit, n) == 0;
}

static int ends_with(cur p, cur e, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(e - p) >= n && memcmp(e - n, lit, n) == 0;
}

/* The first occurrence of lit in [p, e), or NULL. */
static cur find(cur p, cur e, const char *lit) {
    size_t n = strlen(lit);
    while ((size_t)(e - p) >= n) {
        cur q = memchr(p, lit[0], (size_t)(e - p) - n + 1);
        if (q == NULL) return NULL;
        if (memcmp(q, lit, n) == 0) return q;
        p = q + 1;
    }
    return NULL;
}

/* The last occurrence of lit wholly inside [p, e), or NULL. */
static cur rfind(cur p, cur e, const char *lit) {
    size_t n = strlen(lit);
    if ((size_t)(e - p) < n) return NULL;
    for (cur q = e - n;; q--) {
        if (memcmp(q, lit, n) == 0) return q;
        if (q == p) return NULL;
    }
}

/* A run of digits from p: its end (p itself when there is none). */
static cur digits_end(cur p, cur e) {
    while (p < e && digit(*p)) p++;
    return p;
}

/* A decimal number as Python's int() gives it back: without leading zeros. */
static span canonical(cur p, cur e) {
    while (e - p > 1 && *p == '0') p++;
    return sp(p, e);
}

/* smtpd.client_of: "name[addr]" or "name[addr]:port" and nothing else. */
static int client_of(cur p, cur e, span *name, span *ip) {
    cur q = p;
    while (q < e && *q != '[' && *q != ' ') q++;
    if (q >= e || *q != '[') return 0;
    *name = sp(p, q);
    cur a = ++q;
    while (q < e && *q != ']' && *q != ' ') q++;
    if (q >= e || *q != ']') return 0;
    *ip = sp(a, q);
    q++;
    if (q == e) return 1;
    if (*q != ':') return 0;
    cur d = digits_end(q + 1, e);
    return d > q + 1 && d == e;
}

/* smtpd.accepted_client: "name[addr]" or "name[addr]:port", then the end or ",". */
static int client_prefix(cur p, cur e, span *name, span *ip) {
    cur q = p;
    while (q < e && *q != '[' && *q != ' ') q++;
    if (q >= e || *q != '[') return 0;
    *name = sp(p, q);
    cur a = ++q;
    while (q < e && *q != ']' && *q != ' ') q++;
    if (q >= e || *q != ']') return 0;
    *ip = sp(a, q);
    q++;
    if (q < e && *q == ':') {
        cur d = digits_end(q + 1, e);
        if (d > q + 1) q = d;
    }
    return q == e || *q == ',';
}

/* smtpd._MISMATCH, its Postfix 3 form: "warning: hostname %s does not resolve to
 * address %s" and maybe ": why"; the reason is all after "warning: ". */
static int parse_mismatch(cur m, cur e, span *reason) {
    cur p = m + 9;
    if (!starts(p, e, "hostname ")) return 0;
    p += 9;
    cur ptr = p;
    while (p < e && *p != ' ') p++;
    if (p == ptr || !starts(p, e, " does not resolve to address ")) return 0;
    p += 29;
    /* the address: the shortest run of non-spaces followed by the end or ": " */
    for (cur q = p + 1; q <= e; q++) {
        if (q[-1] == ' ') return 0;
        if (q == e || starts(q, e, ": ")) {
            *reason = sp(m + 9, e);
            return 1;
        }
    }
    return 0;
}

/* --- smtpd -------------------------------------------------------------------- */

/* smtpd.counter_items over the text after the client. */
static int counter_items(cur p, cur e, counter_span *out, int64_t *n, int64_t cap) {
    *n = 0;
    while (p < e) {
        if (*p != ' ' || p + 1 >= e || p[1] == ' ') return 0; /* (?: \S+)* */
        cur w = ++p;
        while (p < e && *p != ' ') p++;
        cur eq = memchr(w, '=', (size_t)(p - w));
        cur name_end = eq ? eq : p;
        cur value = eq ? eq + 1 : p;
        cur slash = memchr(value, '/', (size_t)(p - value));
        cur ok_end = slash ? slash : p;
        int is_alpha = name_end > w, is_decimal = ok_end > value;
        for (cur c = w; c < name_end; c++) is_alpha &= alpha(*c);
        for (cur c = value; c < ok_end; c++) is_decimal &= digit(*c);
        if (!(is_alpha && is_decimal)) continue;
        if (ok_end - value > MAX_DIGITS) return 0;
        span ok = canonical(value, ok_end), total = ok;
        if (slash) {
            cur t = slash + 1;
            int total_decimal = p > t;
            for (cur c = t; c < p; c++) total_decimal &= digit(*c);
            if (total_decimal) {
                if (p - t > MAX_DIGITS) return 0;
                total = canonical(t, p);
            }
        }
        if (*n >= cap) return 0;
        out[(*n)++] = (counter_span){sp(w, name_end), ok, total};
    }
    return 1;
}

/* What may follow a from=/to= value's ">": smtpd._AFTER_ADDR. */
static int after_addr(cur p, cur e) {
    if (p == e || *p == ',') return 1;
    if (starts(p, e, " to=<") || starts(p, e, " proto=") || starts(p, e, " helo=<")) return 1;
    if (!starts(p, e, " sasl_")) return 0;
    cur q = p + 6;
    while (q < e && word(*q)) q++;
    return q > p + 6 && q < e && *q == '=';
}

/* "(?: NAME=<" + atomic value + ">,?)?" from *p: smtpd._atomic_addr. */
static void addr_field(cur *p, cur e, const char *head, span *value) {
    *value = NONE_SPAN;
    if (!starts(*p, e, head)) return;
    cur v = *p + strlen(head);
    for (cur q = v; (q = memchr(q, '>', (size_t)(e - q))) != NULL; q++)
        if (after_addr(q + 1, e)) {
            *value = sp(v, q);
            *p = q + 1;
            if (*p < e && **p == ',') (*p)++;
            return;
        }
}

/* smtpd._sasl_start */
static cur sasl_start(cur m, cur e) {
    cur end = e;
    for (;;) {
        cur s = rfind(m, end, " sasl_");
        if (s == NULL) return end;
        cur q = s + 6;
        while (q < end && word(*q)) q++;
        if (q == s + 6 || q >= end || *q != '=') return end;
        for (q++; q < end; q++)
            if (!nonspace(*q)) return end;
        end = s;
    }
}

/* smtpd.parse_reject: "QUEUEID: reject: ..." (or NOQUEUE, or reject_warning). */
static int parse_reject(cur m, cur e, reject_span *r) {
    cur p = m;
    while (p < e && alnum(*p)) p++;
    if (p == m || !starts(p, e, ": ")) return 0;
    p += 2;
    if (starts(p, e, "reject: ")) {
        r->warning = 0;
        p += 8;
    } else if (starts(p, e, "reject_warning: ")) {
        r->warning = 1;
        p += 16;
    } else {
        return 0;
    }
    cur s = p;
    if (p >= e || !upper(*p)) return 0;
    while (p < e && (upper(*p) || *p == '-')) p++;
    r->stage = sp(s, p);
    if (!starts(p, e, " from ")) return 0;
    p += 6;
    cur n = p;
    while (p < e && *p != '[' && *p != ' ') p++;
    if (p >= e || *p != '[') return 0;
    r->name = sp(n, p);
    cur a = ++p;
    while (p < e && *p != ']' && *p != ' ') p++;
    if (p >= e || *p != ']') return 0;
    r->ip = sp(a, p);
    p++;
    if (p < e && *p == ':' && !starts(p, e, ": ")) {
        cur d = digits_end(p + 1, e);
        if (d > p + 1 && starts(d, e, ": ")) p = d;
    }
    if (!starts(p, e, ": ")) return 0;
    p += 2;
    r->code = 0;
    r->dsn = sp(p, p);
    if (e - p >= 4 && (*p == '2' || *p == '4' || *p == '5') && digit(p[1]) && digit(p[2])
        && p[3] == ' ') {
        r->code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        p += 4;
        cur d = p;
        if (d < e && (*d == '2' || *d == '4' || *d == '5') && d + 1 < e && d[1] == '.') {
            cur x = digits_end(d + 2, e);
            if (x > d + 2 && x - (d + 2) <= 3 && x < e && *x == '.') {
                cur y = digits_end(x + 1, e);
                if (y > x + 1 && y - (x + 1) <= 3 && y < e && *y == ' ') {
                    r->dsn = sp(d, y);
                    p = y + 1;
                }
            }
        }
    }
    cur start = p, sasl = NULL;
    for (cur semi = memchr(start, ';', (size_t)(e - start)); semi != NULL;
         semi = semi + 1 < e ? memchr(semi + 1, ';', (size_t)(e - semi - 1)) : NULL) {
        cur f = semi + 1;
        addr_field(&f, e, " from=<", &r->sender);
        addr_field(&f, e, " to=<", &r->recipient);
        if (starts(f, e, " proto=")) {
            cur v = f + 7, q = v;
            while (q < e && *q != ' ' && *q != ',') q++;
            if (q > v) {
                f = q;
                if (f < e && *f == ',') f++;
            }
        }
        int ok = f == e;
        r->helo = NONE_SPAN;
        if (!ok && starts(f, e, " helo=<")) {
            if (e[-1] == '>' && e - 1 >= f + 7) {
                ok = 1;
                r->helo = sp(f + 7, e - 1);
            } else {
                if (sasl == NULL) sasl = sasl_start(m, e);
                if (sasl[-1] == '>' && sasl - 1 >= f + 7) {
                    ok = 1;
                    r->helo = sp(f + 7, sasl - 1);
                }
            }
        } else if (!ok) {
            if (sasl == NULL) sasl = sasl_start(m, e);
            ok = f == sasl;
        }
        if (ok) {
            r->text = sp(start, semi);
            return 1;
        }
    }
    return 0;
}

static const char *const LOST_WORDS[] = {"lost connection", "timeout", "too many errors"};

/* smtpd.LOST, for messages that start with one of its words. */
static int parse_lost(cur m, cur e, span *what, span *stage, span *name, span *ip) {
    cur p = NULL;
    for (int i = 0; i < 3 && p == NULL; i++) {
        size_t n = strlen(LOST_WORDS[i]);
        if (starts(m, e, LOST_WORDS[i]) && starts(m + n, e, " after ")) {
            *what = sp(m, m + n);
            p = m + n + 7;
        }
    }
    if (p == NULL) return 0;
    cur s = p;
    while (p < e && (upper(*p) || *p == '-')) p++;
    if (p == s) return 0;
    if (starts(p, e, " content")) p += 8;
    *stage = sp(s, p);
    if (starts(p, e, " (")) {
        cur d = digits_end(p + 2, e);
        if (d > p + 2 && starts(d, e, " bytes)")) p = d + 7;
    }
    if (!starts(p, e, " from ")) return 0;
    return client_of(p + 6, e, name, ip);
}

/* smtpd.has_words */
static int has_words(cur m, cur e) {
    return find(m, e, "connect from") || find(m, e, "reject") || find(m, e, " after ")
        || find(m, e, "warning: ") || find(m, e, "client=") || find(m, e, "HELO/EHLO");
}

static const char *const NOISE[] = {"Anonymous TLS ", "Trusted TLS ", "Verified TLS ",
                                    "Untrusted TLS ", "NOQUEUE: filter:",
                                    "improper command pipelining"};

enum { MAX_COUNTERS = 64 };

static int smtpd(engine *g, int64_t t, span host, span service, span pid, cur m, cur e) {
    span name, ip;
    if (starts(m, e, "connect from ")) {
        if (!client_of(m + 13, e, &name, &ip)) return PYTHON_LINE;
        la_on_connect(g, t, host, service, pid, name, ip);
        return HANDLED;
    }
    if (starts(m, e, "disconnect from ")) {
        cur c = m + 16, space = memchr(c, ' ', (size_t)(e - c));
        if (space == NULL) space = e;
        counter_span counters[MAX_COUNTERS];
        int64_t n;
        if (!client_of(c, space, &name, &ip)
            || !counter_items(space, e, counters, &n, MAX_COUNTERS))
            return PYTHON_LINE;
        la_on_disconnect(g, t, host, service, pid, name, ip, counters, n);
        return HANDLED;
    }
    if (starts(m, e, "NOQUEUE: reject")) {
        reject_span r;
        if (!parse_reject(m, e, &r)) return PYTHON_LINE;
        la_on_reject(g, t, host, service, pid, &r);
        return HANDLED;
    }
    if (starts(m, e, "lost connection after ") || starts(m, e, "timeout after ")
        || starts(m, e, "too many errors after ")) {
        span what, stage;
        if (!parse_lost(m, e, &what, &stage, &name, &ip)) return PYTHON_LINE;
        la_on_lost(g, t, host, service, pid, name, ip, stage, what);
        return HANDLED;
    }
    for (int i = 0; i < 6; i++)
        if (starts(m, e, NOISE[i])) return has_words(m, e) ? PYTHON_LINE : -1;
    /* smtpd.accepted: "QUEUEID: client=name[addr]" */
    cur colon = find(m, e, ": client=");
    int queue_id = colon != NULL && colon != m
        && !(colon - m == 7 && memcmp(m, "warning", 7) == 0);
    for (cur q = m; queue_id && q < colon; q++) queue_id = alnum(*q);
    if (queue_id && client_of(colon + 9, e, &name, &ip)) {
        la_on_client(g, t, host, service, pid, name, ip);
        return HANDLED;
    }
    /* smtpd.record(), in its order, for the shapes it reads most */
    if (starts(m, e, "connect fro") || starts(m, e, "disconnect ")) return PYTHON_LINE;
    if (find(m, e, ": reject")) {
        reject_span r;
        if (!parse_reject(m, e, &r)) return PYTHON_LINE;
        la_on_reject(g, t, host, service, pid, &r);
        return HANDLED;
    }
    if (find(m, e, " after ")) return PYTHON_LINE;
    if (starts(m, e, "warning: ")) {
        span reason;
        if (!parse_mismatch(m, e, &reason)) {
            /* Neither form of _MISMATCH can match (SASL failures, the most frequent
             * smtpd warnings): irrelevant, as record() finds. */
            if (!starts(m + 9, e, "hostname ")
                && !find(m, e, ": address not listed for hostname "))
                return -1;
            return PYTHON_LINE;
        }
        la_on_mismatch(g, t, host, service, pid, reason);
        return HANDLED;
    }
    /* accepted_client: "client=name[addr]" then nothing or ", sasl_..." */
    if (!queue_id || !client_prefix(colon + 9, e, &name, &ip)) return PYTHON_LINE;
    la_on_client(g, t, host, service, pid, name, ip);
    return HANDLED;
}

/* --- policyd-spf: policyd_spf.received (the Python daemon) --------------------- */

static const char *const RESULTS[] = {"pass", "fail", "softfail", "neutral", "none",
                                      "temperror", "permerror"};

static int spf(engine *g, int64_t t, span host, cur m, cur e) {
    cur p = m, q = m;
    while (q < e && alnum(*q)) q++;
    if (starts(q, e, ": ")) p = q + 2;
    if (starts(p, e, "prepend")) p += 7;
    else if (starts(p, e, "Header field not prepended:")) p += 27;
    else return PYTHON_LINE;
    if (!starts(p, e, " Received-SPF: ")) return PYTHON_LINE;
    p += 15;
    cur r = p;
    int has_upper = 0;
    while (p < e && alpha(*p)) has_upper |= upper(*p++);
    span result = sp(r, p);
    if (p == r || !starts(p, e, " (")) return PYTHON_LINE;
    if (has_upper) { /* .lower(): the known results; others are left to Python */
        int found = 0;
        for (int i = 0; i < 7 && !found; i++)
            if ((size_t)result.n == strlen(RESULTS[i])) {
                int same = 1;
                for (int64_t j = 0; j < result.n; j++)
                    same &= (r[j] | 0x20) == (unsigned char)RESULTS[i][j];
                if (same) {
                    result = (span){RESULTS[i], result.n};
                    found = 1;
                }
            }
        if (!found) return PYTHON_LINE;
    }
    cur c = find(p + 2, e, ") identity=");
    if (c == NULL) return PYTHON_LINE;
    p = c + 11;
    cur id = p;
    while (p < e && word(*p)) p++;
    span identity = sp(id, p);
    if (p == id || !starts(p, e, "; client-ip=")) return PYTHON_LINE;
    p += 12;
    cur a = p;
    while (p < e && *p != ';' && *p != ' ') p++;
    span ip = sp(a, p);
    if (p == a || !starts(p, e, "; helo=")) return PYTHON_LINE;
    p += 7;
    cur h = find(p, e, "; envelope-from=");
    if (h == NULL) return PYTHON_LINE;
    span helo = sp(p, h);
    p = h + 16;
    cur f = find(p, e, "; receiver=");
    if (f == NULL) return PYTHON_LINE;
    span sender = sp(p, f);
    if (sender.n == 2 && memcmp(sender.p, "<>", 2) == 0) sender.n = 0;
    if (identity.n == 5 && memcmp(identity.p, "mfrom", 5) == 0) identity = (span){"mailfrom", 8};
    la_on_spf(g, t, host, ip, helo, sender, result, identity);
    return HANDLED;
}

/* --- postscreen and dnsblog ---------------------------------------------------- */

enum { MAX_EVENT = 1024 }; /* postscreen._MAX_EVENT: longer messages are no events */

/* postscreen._ADDR "[addr]:port": the address, and where the port ends. */
static int addr_port(cur p, cur e, span *ip, cur *after) {
    if (p >= e || *p != '[') return 0;
    cur a = ++p;
    while (p < e && *p != ']' && *p != ' ') p++;
    if (p >= e || *p != ']' || p + 1 >= e || p[1] != ':') return 0;
    *ip = sp(a, p);
    cur d = digits_end(p + 2, e);
    if (d == p + 2) return 0;
    *after = d;
    return 1;
}

static int postscreen(engine *g, cur m, cur e) {
    span ip, other;
    cur after;
    if (starts(m, e, "CONNECT from ")) {
        if (!addr_port(m + 13, e, &ip, &after) || !starts(after, e, " to ")
            || !addr_port(after + 4, e, &other, &after) || after != e)
            return PYTHON_LINE;
        la_on_evidence(g, 1, ip, 0, NONE_SPAN);
        return HANDLED;
    }
    if (starts(m, e, "PASS ")) {
        if (!(starts(m + 5, e, "NEW ") || starts(m + 5, e, "OLD "))
            || !addr_port(m + 9, e, &ip, &after) || after != e)
            return PYTHON_LINE;
        la_on_evidence(g, 2, ip, 0, NONE_SPAN);
        return HANDLED;
    }
    if (starts(m, e, "DISCONNECT ")) {
        if (!addr_port(m + 11, e, &ip, &after) || after != e) return PYTHON_LINE;
        la_on_evidence(g, 1, ip, 0, NONE_SPAN);
        return HANDLED;
    }
    if (starts(m, e, "DNSBL rank ")) {
        cur p = m + 11;
        int negative = p < e && *p == '-';
        cur d = digits_end(p + negative, e);
        if (d == p + negative || d - (p + negative) > 9 || !starts(d, e, " for ")
            || !addr_port(d + 5, e, &ip, &after) || after != e)
            return PYTHON_LINE;
        int64_t rank = 0;
        for (cur c = p + negative; c < d; c++) rank = rank * 10 + (*c - '0');
        la_on_evidence(g, 3, ip, negative ? -rank : rank, NONE_SPAN);
        return HANDLED;
    }
    if (find(m, e, "reject: ")) { /* postscreen.record: its own reject lines */
        reject_span r;
        if (!parse_reject(m, e, &r)) return PYTHON_LINE;
        la_on_evidence(g, 5, r.ip, 0, NONE_SPAN);
        return HANDLED;
    }
    /* postscreen._EVENT for the violations logged most: the event word, text without
     * "[" that ends in a space, the client's "[addr]:port", then the end, " ..." or
     * ": ...".  add_evidence counts a violation as a postscreen reject. */
    if ((starts(m, e, "HANGUP ") || starts(m, e, "PREGREET ")) && e - m <= MAX_EVENT) {
        cur b = memchr(m, '[', (size_t)(e - m));
        if (b == NULL || b[-1] != ' ' || !addr_port(b, e, &ip, &after)
            || !(after == e || *after == ' ' || starts(after, e, ": ")))
            return PYTHON_LINE;
        la_on_evidence(g, 5, ip, 0, NONE_SPAN);
        return HANDLED;
    }
    return PYTHON_LINE;
}

/* dnsblog.LISTED: "addr %s listed by domain %s as %s" */
static int dnsblog(engine *g, cur m, cur e) {
    if (!starts(m, e, "addr ")) return PYTHON_LINE;
    cur p = m + 5, a = p;
    while (p < e && *p != ' ') p++;
    span ip = sp(a, p);
    if (p == a || !starts(p, e, " listed by domain ")) return PYTHON_LINE;
    p += 18;
    cur d = p;
    while (p < e && *p != ' ') p++;
    span domain = sp(d, p);
    if (p == d || !starts(p, e, " as ")) return PYTHON_LINE;
    p += 4;
    if (p >= e || memchr(p, ' ', (size_t)(e - p)) != NULL) return PYTHON_LINE;
    la_on_evidence(g, 4, ip, 0, domain);
    return HANDLED;
}

/* --- the header ----------------------------------------------------------------- */

static int hms(cur p) {
    return digit(p[0]) && digit(p[1]) && p[2] == ':' && digit(p[3]) && digit(p[4]) && p[5] == ':'
        && digit(p[6]) && digit(p[7]);
}

static int two(cur p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

static int64_t days_before_year(int64_t y) {
    y -= 1;
    return y * 365 + y / 4 - y / 100 + y / 400;
}

static int leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static const int64_t MONTH_DAYS_BEFORE[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
static const int MONTH_DAYS[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* Microseconds since 0001-01-01 of a valid date and time; -1 if it is not valid. */
static int64_t civil_time(int64_t year, int month, int day, int hour, int minute, int second,
                          int64_t micro) {
    if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return -1;
    if (day > MONTH_DAYS[month - 1] + (month == 2 && leap(year))) return -1;
    if (hour > 23 || minute > 59 || second > 59) return -1;
    int64_t ordinal = days_before_year(year) + MONTH_DAYS_BEFORE[month - 1]
        + (month > 2 && leap(year)) + day;
    return ((ordinal - 1) * 86400 + hour * 3600 + minute * 60 + second) * 1000000LL + micro;
}

/* The time Python's clock gives a traditional stamp of the month it stands in (so the
 * clock does not move: header.Clock.syslog); -1 when Python must say it. */
static int64_t syslog_time(const scan_state *st, cur p) {
    static const char NAMES[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    if (!st->has_clock || st->clock_month < 1 || st->clock_month > 12
        || memcmp(p, NAMES + 3 * (st->clock_month - 1), 3) != 0)
        return -1;
    int day = (p[4] == ' ' ? 0 : p[4] - '0') * 10 + (p[5] - '0');
    return civil_time(st->clock_year, st->clock_month, day, two(p + 7), two(p + 10),
                      two(p + 13), 0);
}

enum { OTHER, SMTPD, SPF, POSTSCREEN, DNSBLOG };

/* One line [p, e): HANDLED, NEED_TIME or PYTHON_LINE; counted only when handled. */
static int line(engine *g, scan_state *st, cur p, cur e, int postscreen_too) {
    if (la_line_irrelevant(p, e)) {
        st->irrelevant++;
        return HANDLED;
    }
    while (e > p && e[-1] == '\r') e--; /* lines.clean() */
    if (e - p > MAX_LINE || e == p) return PYTHON_LINE;
    for (cur c = p; c < e; c++)
        if (*c < 0x20 || *c > 0x7e) return PYTHON_LINE;
    cur tag;
    int rfc = digit(p[0]), fraction = 0, fast_stamp = 1;
    if (rfc) {
        /* header.ISO's stamp in the forms rsyslog, syslog-ng and journalctl -o short-iso
         * write: a date, T or a space, the time, no fraction or six digits, no offset or
         * Z, +hh:mm, +hhmm; then a space.  Only RFC_STAMP's (six digits, +hh:mm) is the
         * Python fast path's; the others Python reads with header.ISO, which also drops
         * a Solaris "[ID n facility.level] " (left to Python below). */
        if (e - p < 21 || !(digit(p[1]) && digit(p[2]) && digit(p[3]) && p[4] == '-'
                            && digit(p[5]) && digit(p[6]) && p[7] == '-' && digit(p[8])
                            && digit(p[9]) && (p[10] == 'T' || p[10] == ' ') && hms(p + 11)))
            return PYTHON_LINE;
        cur q = p + 19;
        if (*q == '.') {
            cur d = digits_end(q + 1, e);
            if (d - (q + 1) != 6) return PYTHON_LINE;
            fraction = 1;
            q = d;
        }
        int colon_offset = 0;
        if (q < e && *q == 'Z') q++;
        else if (q < e && (*q == '+' || *q == '-')) {
            if (e - q < 5 || !digit(q[1]) || !digit(q[2])) return PYTHON_LINE;
            colon_offset = q[3] == ':';
            q += 3 + colon_offset;
            if (e - q < 2 || !digit(q[0]) || !digit(q[1])) return PYTHON_LINE;
            q += 2;
        }
        if (q >= e || *q != ' ') return PYTHON_LINE;
        fast_stamp = fraction && colon_offset;
        tag = q + 1;
    } else { /* header.SYSLOG_STAMP */
        if (e - p < 17 || !(upper(p[0]) && lower(p[1]) && lower(p[2]) && p[3] == ' '
                            && (p[4] == ' ' || digit(p[4])) && digit(p[5]) && p[6] == ' '
                            && hms(p + 7) && p[15] == ' '))
            return PYTHON_LINE;
        tag = p + 16;
    }
    /* "host service[pid]" up to the first ": " (header.TAG) */
    cur colon = find(tag, e, ": ");
    if (colon == NULL || colon == tag) return PYTHON_LINE;
    cur space = memchr(tag, ' ', (size_t)(colon - tag));
    if (space == NULL || space == tag) return PYTHON_LINE;
    cur bracket = memchr(space + 1, '[', (size_t)(colon - space - 1));
    if (bracket == NULL || bracket == space + 1 || colon[-1] != ']') return PYTHON_LINE;
    if (memchr(space + 1, ' ', (size_t)(bracket - space - 1)) != NULL) return PYTHON_LINE;
    cur pid_end = colon - 1;
    if (digits_end(bracket + 1, pid_end) != pid_end || pid_end == bracket + 1) return PYTHON_LINE;
    if (pid_end - (bracket + 1) > MAX_DIGITS) return PYTHON_LINE;
    span host = sp(tag, space), service = sp(space + 1, bracket);
    span pid = canonical(bracket + 1, pid_end);
    cur s = space + 1;
    int daemon = OTHER;
    if (ends_with(s, bracket, "/smtpd")) daemon = SMTPD;
    else if (ends_with(s, bracket, "spf")) {
        if (ends_with(s, bracket, "policy-spf")) return PYTHON_LINE; /* the Perl daemon */
        daemon = SPF;
    } else if (postscreen_too && ends_with(s, bracket, "/postscreen")) daemon = POSTSCREEN;
    else if (postscreen_too && ends_with(s, bracket, "/dnsblog")) daemon = DNSBLOG;
    if (daemon == OTHER) {
        st->irrelevant++;
        return HANDLED;
    }
    int64_t t;
    cur m = colon + 2;
    if (!fast_stamp && starts(m, e, "[ID ")) return PYTHON_LINE;
    if (rfc) { /* datetime.fromisoformat(line[:26]), or compat.parse_iso of the stamp */
        int64_t micro = 0;
        for (int i = 20; fraction && i < 26; i++) micro = micro * 10 + (p[i] - '0');
        t = civil_time(two(p) * 100 + two(p + 2), two(p + 5), two(p + 8), two(p + 11),
                       two(p + 14), two(p + 17), micro);
        if (t < 0) return PYTHON_LINE;
    } else {
        if (!st->has_stamp || memcmp(st->stamp, p, 16) != 0) {
            t = syslog_time(st, p);
            if (t < 0) return NEED_TIME;
            memcpy(st->stamp, p, 16);
            st->stamp_time = t;
            st->has_stamp = 1;
        } else {
            t = st->stamp_time;
        }
    }
    int r;
    if (daemon == SMTPD) r = smtpd(g, t, host, service, pid, m, e);
    else if (daemon == SPF) r = spf(g, t, host, m, e);
    else if (daemon == POSTSCREEN) r = postscreen(g, m, e);
    else r = dnsblog(g, m, e);
    if (r == -1) { /* smtpd chatter: irrelevant */
        st->irrelevant++;
        return HANDLED;
    }
    if (r == HANDLED) st->matched++;
    return r;
}

/* Read the lines of buf from *pos on (lineno: the number of the line at *pos, for the
 * sessions' first lines; 0: not told): stops at the end (returns 0), or before a line
 * whose traditional stamp has no time yet (NEED_TIME: Python gives it with
 * la_set_time and calls again), or before a line Python must read (PYTHON_LINE: it
 * reads that line and calls again after it).  *pos is where it stopped. */
int la_scan(engine *g, const unsigned char *buf, int64_t len, int64_t *pos, int postscreen_too,
            int64_t lineno) {
    scan_state *st = la_scan_state(g);
    cur p = buf + *pos, end = buf + len;
    while (p < end) {
        cur nl = memchr(p, '\n', (size_t)(end - p));
        cur e = nl != NULL ? nl : end;
        la_set_line(g, lineno);
        if (lineno) lineno++;
        int r = line(g, st, p, e, postscreen_too);
        if (r != HANDLED) {
            *pos = p - buf;
            return r;
        }
        st->lines++;
        p = nl != NULL ? nl + 1 : end;
    }
    *pos = len;
    return HANDLED;
}

/* The time of a 16-character traditional stamp, as Python's tokenizer dated it. */
void la_set_time(engine *g, const char *stamp, int64_t t) {
    scan_state *st = la_scan_state(g);
    memcpy(st->stamp, stamp, 16);
    st->stamp_time = t;
    st->has_stamp = 1;
}

/* Python's clock state after it dated a stamp or read a line (year < 1: no year yet);
 * a new state makes the scanner date stamps afresh. */
void la_set_clock(engine *g, int64_t year, int month) {
    scan_state *st = la_scan_state(g);
    st->has_stamp = 0;
    st->has_clock = year >= 1;
    st->clock_year = year;
    st->clock_month = month;
}

/* The lines read, matched and irrelevant since the last call. */
void la_scan_counts(engine *g, int64_t *out) {
    scan_state *st = la_scan_state(g);
    out[0] = st->lines;
    out[1] = st->matched;
    out[2] = st->irrelevant;
    st->lines = st->matched = st->irrelevant = 0;
}
