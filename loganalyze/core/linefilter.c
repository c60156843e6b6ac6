/* The compiled core's line filter (issue 17): which lines of a block are certainly
 * irrelevant to the analysis, by the Python tokenizer's own rule, so that only the
 * others are decoded and read in Python.
 *
 * The rule (loganalyze/parse/dispatch.py, LineParser._parse): a line that names none
 * of the daemons read ("smtpd[", "spf[", "postscreen[", "dnsblog[") and begins like
 * a log line of some format (header.LOG_START) is counted as irrelevant, and reading
 * it changes no state.  This file proves that of a line with ASCII-only semantics,
 * a subset of Python's: whenever it cannot prove it (a non-ASCII byte where the
 * pattern wants a character, a line longer than the Python side keeps) it keeps the
 * line, and Python decides.  So the results never depend on which core ran.
 *
 * Every read is bounded by the line's end; no logged byte is copied into a
 * fixed-size buffer (kept lines go to the caller's buffer, as large as the input).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core.h"

#define LA_CORE_ABI 5
/* loganalyze.input.lines.MAX_KEPT_LINE: longer lines are cut by Python; keep them. */
#define MAX_KEPT_LINE (1 << 20)

typedef const unsigned char *cur;

static int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static int lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
/* Printable ASCII but space: characters Python's \S matches, and no others here. */
static int nonspace(unsigned char c) { return c > 0x20 && c < 0x7f; }

/* n digits from p (all before e)? */
static int digits(cur p, cur e, int n) {
    if (e - p < n) return 0;
    for (int i = 0; i < n; i++)
        if (!digit(p[i])) return 0;
    return 1;
}

/* "\d\d:\d\d:\d\d" */
static int hms(cur p, cur e) {
    return e - p >= 8 && digits(p, e, 2) && p[2] == ':' && digits(p + 3, e, 2)
        && p[5] == ':' && digits(p + 6, e, 2);
}

/* "\S+ " from p: where it ends (after the space), or NULL. */
static cur word_space(cur p, cur e) {
    cur q = p;
    while (q < e && nonspace(*q)) q++;
    if (q == p || q >= e || *q != ' ') return NULL;
    return q + 1;
}

/* "[^ ]* \S+ \S" from p: the end of every syslog and RFC 3339 start. */
static int frac_host_tag(cur p, cur e) {
    cur q = memchr(p, ' ', (size_t)(e - p));
    if (q == NULL) return 0;
    q = word_space(q + 1, e);
    return q != NULL && q < e && nonspace(*q);
}

/* "[A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d[^ ]* \S+ \S" */
static int syslog_start(cur p, cur e) {
    if (e - p < 4 || !upper(p[0]) || !lower(p[1]) || !lower(p[2]) || p[3] != ' ') return 0;
    p += 4;
    if (e - p >= 3 && (p[0] == ' ' || digit(p[0])) && digit(p[1]) && p[2] == ' ')
        p += 3;
    else if (e - p >= 2 && digit(p[0]) && p[1] == ' ')
        p += 2;
    else
        return 0;
    return hms(p, e) && frac_host_tag(p + 8, e);
}

/* "\d{4}-\d\d-\d\d" */
static int date(cur p, cur e) {
    return e - p >= 10 && digits(p, e, 4) && p[4] == '-' && digits(p + 5, e, 2)
        && p[7] == '-' && digits(p + 8, e, 2);
}

/* "\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[^ ]* \S+ \S" */
static int rfc3339_start(cur p, cur e) {
    return date(p, e) && e - p > 10 && (p[10] == 'T' || p[10] == ' ') && hms(p + 11, e)
        && frac_host_tag(p + 19, e);
}

/* "[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+ \S+ \S" */
static int full_start(cur p, cur e) {
    if (e - p < 4 || !upper(p[0]) || !lower(p[1]) || !lower(p[2]) || p[3] != ' ') return 0;
    p += 4;
    if (!date(p, e) || e - p <= 10 || p[10] != ' ' || !hms(p + 11, e)) return 0;
    p += 19;
    if (p >= e || *p != ' ') return 0;
    p = word_space(p + 1, e);
    if (p == NULL) return 0;
    p = word_space(p, e);
    return p != NULL && p < e && nonspace(*p);
}

/* "\d{9,12}\.\d+ \S+ \S" */
static int unix_start(cur p, cur e) {
    cur q = p;
    while (q < e && digit(*q)) q++;
    if (q - p < 9 || q - p > 12 || q >= e || *q != '.') return 0;
    p = ++q;
    while (q < e && digit(*q)) q++;
    if (q == p || q >= e || *q != ' ') return 0;
    q = word_space(q + 1, e);
    return q != NULL && q < e && nonspace(*q);
}

/* Does the line name a daemon the tokenizer reads ("smtpd[", "spf[", "postscreen[",
 * "dnsblog[")?  Checked on the whole line: more than Python looks at is safe. */
static int names_daemon(cur p, cur e) {
    cur q = p;
    while ((q = memchr(q, '[', (size_t)(e - q))) != NULL) {
        size_t before = (size_t)(q - p);
        if ((before >= 5 && memcmp(q - 5, "smtpd", 5) == 0)
            || (before >= 3 && memcmp(q - 3, "spf", 3) == 0)
            || (before >= 10 && memcmp(q - 10, "postscreen", 10) == 0)
            || (before >= 7 && memcmp(q - 7, "dnsblog", 7) == 0))
            return 1;
        q++;
    }
    return 0;
}

/* Certainly irrelevant: Python would count the line so and learn nothing from it. */
int la_line_irrelevant(cur p, cur e) {
    if (e - p > MAX_KEPT_LINE) return 0;
    while (p < e && *p == 0) p++; /* Python drops NULs at the start of a line */
    if (names_daemon(p, e)) return 0;
    if (p >= e) return 0;
    if (upper(*p)) return syslog_start(p, e) || full_start(p, e);
    if (digit(*p)) return rfc3339_start(p, e) || unix_start(p, e);
    return 0;
}

int la_core_abi(void) { return LA_CORE_ABI; }

/* Split buf[0, len) into lines ('\n'; a rest without one is a line too) and copy
 * each line not certainly irrelevant, with its '\n', to out (room: len + 1 bytes),
 * its number within the block (0-based) to kept_index (room: one per line, the
 * number of '\n' in buf plus one).  *out_len and *kept get the bytes and lines written.  Returns the
 * number of lines in buf. */
int64_t la_filter_lines(const unsigned char *buf, int64_t len, unsigned char *out,
                        int64_t *out_len, int32_t *kept_index, int64_t *kept) {
    cur p = buf, end = buf + len;
    unsigned char *o = out;
    int64_t lines = 0, k = 0;
    while (p < end) {
        cur nl = memchr(p, '\n', (size_t)(end - p));
        cur e = nl != NULL ? nl : end;
        if (!la_line_irrelevant(p, e)) {
            size_t n = (size_t)(e - p);
            memcpy(o, p, n);
            o += n;
            *o++ = '\n';
            kept_index[k++] = (int32_t)lines;
        }
        lines++;
        p = nl != NULL ? nl + 1 : end;
    }
    *out_len = (int64_t)(o - out);
    *kept = k;
    return lines;
}

/* The offset just past each '\n' of buf[0, len), counted from base, into out (room:
 * cap entries; lines.py LineSplitter._ends from the lines' lengths).  Returns the number
 * of '\n' in buf; at most cap are written. */
int64_t la_line_ends(const unsigned char *buf, int64_t len, int64_t base, int64_t *out,
                     int64_t cap) {
    cur p = buf, end = buf + len;
    int64_t n = 0;
    while (p < end) {
        cur nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) break;
        if (n < cap) out[n] = base + (int64_t)(nl + 1 - buf);
        n++;
        p = nl + 1;
    }
    return n;
}
