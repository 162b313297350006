/*
 * diag.c — diagnostics in the GNU form compilers use.
 *
 *   model.net:12:5: error: conv 'c1': kernel 5×5 is larger than ...
 *      12 | conv c1 6 k5
 *         |     ^~
 *
 * Errors are printed as they are found (phases run in source order), counted,
 * and capped at diag_max_errors; a "note:" attaches a second location to the
 * error before it.  A location always exists: line 1, column 1 when nothing
 * better does (an empty or binary file).
 */
#include "cnnc.h"

#include <stdarg.h>
#include <string.h>

int diag_max_errors = 20;
static int nerrors;
static FILE *stream;
static bool suppressed;      /* the last error was over the cap: drop its notes */
static const CallSite *context;  /* block calls being expanded */
static const CallSite *pending;  /* context of the last error, printed after its notes */
static void vreport_msg(const char *what, Loc loc, const char *msg);

/* "in block 'basic' called here as 'layer2.0'", one note per enclosing call,
 * after the error's own notes. */
static void flush_context(void) {
    for (const CallSite *c = pending; c; c = c->up) {
        char note[512];
        snprintf(note, sizeof note, "in block '%s' called here as '%s'", c->block, c->inst);
        vreport_msg("note", c->loc, note);
    }
    pending = NULL;
}

void diag_set_context(const CallSite *cs) { flush_context(); context = cs; }

FILE *diag_set_stream(FILE *f) {
    FILE *was = stream;
    stream = f;
    return was;
}
int diag_error_count(void) { return nerrors; }

Loc loc_none(const SrcFile *f) { return (Loc){ .file = f, .line = 1, .col = 1, .len = 1 }; }

/* Length of the valid UTF-8 sequence at p (before end), or 0 if invalid. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    int n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
          : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || end - p < n) return 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80) return 0;
    if (n == 2 && p[0] < 0xc2) return 0;                  /* overlong */
    if (n == 3 && p[0] == 0xe0 && p[1] < 0xa0) return 0;
    if (n == 4 && (p[0] > 0xf4 || (p[0] == 0xf0 && p[1] < 0x90))) return 0;
    return n;
}

/* Print bytes [p, e) one character at a time: valid UTF-8 as it is, tabs as
 * tabs, anything else (control bytes, broken UTF-8) as '?', so binary input
 * cannot upset the terminal.  With blank set, print a space (or tab) per
 * character instead: the padding under the line up to the caret. */
static void put_chars(FILE *out, const char *p, const char *e, bool blank) {
    const unsigned char *u = (const unsigned char *)p, *ue = (const unsigned char *)e;
    while (u < ue) {
        int n = *u == '\t' || (*u >= 32 && *u != 127) ? utf8_len(u, ue) : 0;
        if (blank) fputc(*u == '\t' ? '\t' : ' ', out);
        else if (n) fwrite(u, 1, (size_t)n, out);
        else fputc('?', out);
        u += n ? n : 1;
    }
}

/* Print the source line of loc with a caret and tildes under the span.  A
 * long line is shown as a window of about 160 bytes around the column. */
static void show_line(FILE *out, Loc loc) {
    enum { WIDTH = 160, LEAD = 60 };
    if (!loc.file || !loc.file->text || loc.line < 1)
        return;
    const char *p = loc.file->text, *end = p + loc.file->len;
    for (int l = 1; l < loc.line && p < end; p++)
        if (*p == '\n')
            l++;
    if (p >= end && loc.line > 1)
        return;
    const char *e = p;
    while (e < end && *e != '\n')
        e++;
    if (e > p && e[-1] == '\r') e--;
    long n = (long)(e - p);
    long col = loc.col < 1 ? 1 : loc.col > n + 1 ? n + 1 : loc.col;
    long from = 0, to = n;
    if (n > WIDTH) {
        from = col - 1 > WIDTH - LEAD ? col - 1 - LEAD : 0;
        while (from > 0 && (p[from] & 0xc0) == 0x80) from--;   /* not mid-character */
        to = from + WIDTH < n ? from + WIDTH : n;
        while (to < n && (p[to] & 0xc0) == 0x80) to++;
    }
    fprintf(out, "%5d | %s", loc.line, from > 0 ? "..." : "");
    put_chars(out, p + from, p + to, false);
    fprintf(out, "%s\n      | %s", to < n ? "..." : "", from > 0 ? "   " : "");
    put_chars(out, p + from, p + col - 1, true);
    fputc('^', out);
    long last = col - 1 + (loc.len > 1 ? loc.len : 1);     /* one past the span */
    if (last > to) last = to;
    if (last > col) {
        const unsigned char *u = (const unsigned char *)p + col - 1, *ue = (const unsigned char *)p + last;
        int chars = 0;
        while (u < ue) {
            int k = utf8_len(u, ue);
            u += k ? k : 1;
            chars++;
        }
        for (int i = 1; i < chars; i++)
            fputc('~', out);
    }
    fputc('\n', out);
}

static void vreport_msg(const char *what, Loc loc, const char *msg) {
    FILE *out = stream ? stream : stderr;
    const char *name = loc.file ? loc.file->name : "<command line>";
    fprintf(out, "%s:%d:%d: %s: %s\n", name, loc.line > 0 ? loc.line : 1,
            loc.col > 0 ? loc.col : 1, what, msg);
    show_line(out, loc);
}

static void vreport(const char *what, Loc loc, const char *fmt, va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    vreport_msg(what, loc, msg);
}

/* A block expanded n times would repeat its errors n times: an error with
 * the same location and text as an earlier one is dropped, with its notes. */
enum { NSEEN = 4096 };
static unsigned long long seen_h[NSEEN];
static int nseen;

void diag_reset(void) { nerrors = 0; nseen = 0; suppressed = false; context = pending = NULL; }

static bool seen_before(Loc loc, const char *msg) {
    unsigned long long *h = seen_h;
    int n = nseen;
    unsigned long long x = 1469598103934665603ULL;
    for (const char *p = msg; *p; p++) x = (x ^ (unsigned char)*p) * 1099511628211ULL;
    x ^= (unsigned long long)(uintptr_t)loc.file * 31 + (unsigned long long)loc.line * 4099 + (unsigned)loc.col;
    for (int i = 0; i < n; i++)
        if (h[i] == x) return true;
    if (n < NSEEN) h[nseen++] = x;
    return false;
}

void diag_error(Loc loc, const char *fmt, ...) {
    char msg[1024];
    va_list ap0;
    va_start(ap0, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap0);
    va_end(ap0);
    flush_context();
    if (seen_before(loc, msg)) {
        suppressed = true;
        return;
    }
    nerrors++;
    suppressed = nerrors > diag_max_errors;
    if (suppressed) {
        if (nerrors == diag_max_errors + 1) {
            FILE *out = stream ? stream : stderr;
            fprintf(out, "%s:%d:%d: error: too many errors (%d); stopping here\n",
                    loc.file ? loc.file->name : "<command line>", loc.line, loc.col,
                    diag_max_errors);
        }
        return;
    }
    vreport_msg("error", loc, msg);
    pending = context;
}

void diag_note(Loc loc, const char *fmt, ...) {
    if (suppressed)
        return;
    va_list ap;
    va_start(ap, fmt);
    vreport("note", loc, fmt, ap);
    va_end(ap);
}

void diag_file_error(const char *file, const char *fmt, ...) {
    FILE *out = stream ? stream : stderr;
    flush_context();
    nerrors++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "%s: error: ", file);
    vfprintf(out, fmt, ap);
    fputc('\n', out);
    va_end(ap);
}

/* Damerau-free Levenshtein distance, capped: enough for typos. */
static int distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;      /* transposition */
            d[i][j] = c;
        }
    return d[la][lb];
}

const char *diag_suggest(const char *s, const char *const *cands, int ncands) {
    const char *best = NULL;
    int bestd = 99;
    for (int i = 0; i < ncands; i++) {
        if (!cands[i]) continue;
        int d = distance(s, cands[i]);
        if (d < bestd) { bestd = d; best = cands[i]; }
    }
    size_t n = strlen(s);
    int limit = n <= 3 ? 1 : n <= 6 ? 2 : 3;
    return bestd <= limit ? best : NULL;
}
