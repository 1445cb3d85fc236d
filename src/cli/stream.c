/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The monitor's stream CSV; see stream.h for what is accepted and rejected.
 *
 * The record reader is the same small RFC 4180 reader as judge/csv.c's
 * (same dialect, same messages), which cannot be reused as it is: that one
 * knows exactly the four columns of `canary analyze` and hands out rows
 * without their line. It walks the buffer once, unescaping each record's
 * fields into one scratch buffer of the input's size, so a stream of any
 * length costs one allocation; lines are counted as they are consumed, so
 * a message points at the line where the field starts.
 */
#include "cli/stream.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest excerpt of a field quoted back in a message. */
#define QUOTE_MAX 40
#define QUOTE_BUF CN_TEXT_QUOTE_BUF(QUOTE_MAX)

/* Fields kept per record; a record with more is an error anyway. */
#define MAX_FIELDS 16

enum { COL_T, COL_VERSION, COL_METRIC, COL_VALUE, COL_SEGMENT, NCOLS };

static const char *const col_names[NCOLS] = {"t", "version", "metric", "value",
                                             "segment"};

typedef struct {
    size_t off, len; /* unescaped text in the scratch buffer */
    size_t line;     /* where the field starts */
} field_t;

typedef struct {
    const char *p, *end;
    size_t line;
    const char *file;
    char *err;
    size_t errlen;
    char *scratch; /* unescaped fields of the current record */
    size_t used;
    field_t fields[MAX_FIELDS];
    size_t nfields; /* may exceed MAX_FIELDS; only the first are kept */
    size_t rec_line;
    const char *names[MAX_FIELDS]; /* column names by field index */
} rd_t;

static int fail(rd_t *c, size_t line, const char *fmt, ...)
{
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->err && c->errlen) {
        if (line)
            snprintf(c->err, c->errlen, "%s:%zu: %s", c->file, line, what);
        else
            snprintf(c->err, c->errlen, "%s: %s", c->file, what);
    }
    return CN_EPARSE;
}

static const char *quote(const char *s, size_t len, char *buf)
{
    return cn_text_quote(s, len, QUOTE_MAX, buf);
}

/* "column 'value'" for a data row, "field 3" before the header is known. */
static const char *field_name(const rd_t *c, size_t i, char *buf, size_t len)
{
    if (i < MAX_FIELDS && c->names[i])
        snprintf(buf, len, "column '%s'", c->names[i]);
    else
        snprintf(buf, len, "field %zu", i + 1);
    return buf;
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int blank_line(const rd_t *c)
{
    for (const char *q = c->p; q < c->end && *q != '\n'; q++)
        if (!is_blank(*q) && *q != '\r')
            return 0;
    return 1;
}

static void skip_line(rd_t *c)
{
    while (c->p < c->end && *c->p != '\n')
        c->p++;
    if (c->p < c->end) {
        c->p++;
        c->line++;
    }
}

static void put(rd_t *c, char ch)
{
    c->scratch[c->used++] = ch;
}

static int read_quoted(rd_t *c, size_t idx, size_t start_line)
{
    char fn[64];
    c->p++;
    for (;;) {
        if (c->p == c->end)
            return fail(c, start_line, "%s: quoted field has no closing quote",
                        field_name(c, idx, fn, sizeof fn));
        char ch = *c->p++;
        if (ch == '"') {
            if (c->p < c->end && *c->p == '"') {
                put(c, '"');
                c->p++;
                continue;
            }
            break;
        }
        if (ch == '\0')
            return fail(c, c->line, "unexpected NUL byte");
        if (ch == '\n')
            c->line++;
        put(c, ch);
    }
    while (c->p < c->end && is_blank(*c->p))
        c->p++;
    if (c->p < c->end && *c->p == '\r' && (c->p + 1 == c->end || c->p[1] == '\n'))
        c->p++;
    if (c->p < c->end && *c->p != ',' && *c->p != '\n') {
        char q[QUOTE_BUF];
        const char *e = c->p;
        while (e < c->end && *e != ',' && *e != '\n')
            e++;
        return fail(c, c->line, "%s: unexpected text '%s' after the closing quote",
                    field_name(c, idx, fn, sizeof fn),
                    quote(c->p, (size_t)(e - c->p), q));
    }
    return 0;
}

static int read_plain(rd_t *c, size_t idx)
{
    char fn[64];
    const char *s = c->p;
    while (c->p < c->end && *c->p != ',' && *c->p != '\n') {
        if (*c->p == '"')
            return fail(c, c->line,
                        "%s: quote inside an unquoted field (quote the whole "
                        "field and double the quote: \"a \"\"b\"\"\")",
                        field_name(c, idx, fn, sizeof fn));
        if (*c->p == '\0')
            return fail(c, c->line, "unexpected NUL byte");
        c->p++;
    }
    const char *e = c->p;
    if (e > s && e[-1] == '\r' && (e == c->end || *e == '\n'))
        e--;
    while (s < e && is_blank(*s))
        s++;
    while (e > s && is_blank(e[-1]))
        e--;
    memcpy(c->scratch + c->used, s, (size_t)(e - s));
    c->used += (size_t)(e - s);
    return 0;
}

/* The next record, skipping blank lines: 0, 1 at the end, or an error. */
static int read_record(rd_t *c)
{
    while (c->p < c->end && blank_line(c))
        skip_line(c);
    if (c->p == c->end)
        return 1;
    c->used = 0;
    c->nfields = 0;
    c->rec_line = c->line;
    for (;;) {
        size_t idx = c->nfields++;
        size_t start_line = c->line;
        size_t off = c->used;
        while (c->p < c->end && is_blank(*c->p))
            c->p++;
        int rc = (c->p < c->end && *c->p == '"') ? read_quoted(c, idx, start_line)
                                                 : read_plain(c, idx);
        if (rc)
            return rc;
        if (idx < MAX_FIELDS)
            c->fields[idx] = (field_t){off, c->used - off, start_line};
        put(c, '\0');
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end) { /* '\n' */
            c->p++;
            c->line++;
        }
        return 0;
    }
}

static const char *field_text(const rd_t *c, size_t i)
{
    return c->scratch + c->fields[i].off;
}

static int read_header(rd_t *c, size_t col[NCOLS], size_t *ncols)
{
    for (size_t k = 0; k < NCOLS; k++)
        col[k] = (size_t)-1;
    size_t line = c->rec_line;
    if (c->nfields > MAX_FIELDS)
        return fail(c, line,
                    "header has %zu columns; expected t, version, metric, value and "
                    "optionally segment",
                    c->nfields);
    char unknown[256] = "";
    size_t n_unknown = 0;
    for (size_t i = 0; i < c->nfields; i++) {
        const char *name = field_text(c, i);
        size_t k = 0;
        while (k < NCOLS && strcmp(name, col_names[k]) != 0)
            k++;
        char q[QUOTE_BUF];
        if (k == NCOLS) {
            size_t u = strlen(unknown);
            if (n_unknown++ < 4)
                snprintf(unknown + u, sizeof unknown - u, "%s'%s'", u ? ", " : "",
                         quote(name, c->fields[i].len, q));
            continue;
        }
        if (col[k] != (size_t)-1)
            return fail(c, line, "column '%s' appears twice in the header",
                        col_names[k]);
        col[k] = i;
        c->names[i] = col_names[k];
    }
    if (n_unknown)
        return fail(c, line,
                    "unknown column%s %s%s in the header (expected t, version, "
                    "metric, value and optionally segment)",
                    n_unknown > 1 ? "s" : "", unknown, n_unknown > 4 ? ", ..." : "");
    for (size_t k = 0; k < COL_SEGMENT; k++)
        if (col[k] == (size_t)-1)
            return fail(c, line,
                        "the header has no '%s' column (expected t, version, "
                        "metric, value and optionally segment)",
                        col_names[k]);
    *ncols = c->nfields;
    return 0;
}

/* A segment: bounded, printable, one line. */
static int check_name(rd_t *c, size_t i)
{
    char fn[64];
    const field_t *f = &c->fields[i];
    const char *s = field_text(c, i);
    if (f->len > CN_STREAM_NAME_MAX)
        return fail(c, f->line, "%s: longer than %d bytes",
                    field_name(c, i, fn, sizeof fn), CN_STREAM_NAME_MAX);
    for (size_t j = 0; j < f->len; j++) {
        unsigned char ch = (unsigned char)s[j];
        if (ch < 0x20 || ch == 0x7f) {
            char q[QUOTE_BUF];
            return fail(c, f->line, "%s: '%s' contains a control character",
                        field_name(c, i, fn, sizeof fn), quote(s, f->len, q));
        }
    }
    return 0;
}

/* A finite number as strtod reads the whole field (blanks trimmed). */
static int parse_number(rd_t *c, size_t i, double *out, const char **text, size_t *tlen)
{
    char fn[64], q[QUOTE_BUF];
    const field_t *f = &c->fields[i];
    const char *s = field_text(c, i);
    size_t len = f->len;
    while (len && is_blank(*s)) {
        s++;
        len--;
    }
    while (len && is_blank(s[len - 1]))
        len--;
    field_name(c, i, fn, sizeof fn);
    if (len == 0)
        return fail(c, f->line, "%s: empty, expected a number", fn);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || (size_t)(end - s) != len)
        return fail(c, f->line, "%s: '%s' is not a number", fn, quote(s, len, q));
    if (!isfinite(v))
        return fail(c, f->line, "%s: '%s' %s", fn, quote(s, len, q),
                    errno == ERANGE ? "overflows a double" : "is not finite (NaN/Inf)");
    /* The syntax of cn_text_to_double (the configs' numbers): decimal only;
     * a hex float is more likely a mangled field than a measurement. */
    if (!strchr("+-.0123456789", *s) || memchr(s, 'x', len) || memchr(s, 'X', len))
        return fail(c, f->line, "%s: '%s' is not a decimal number", fn,
                    quote(s, len, q));
    *out = v;
    *text = s;
    *tlen = len;
    return 0;
}

/* One data row's fields, checked, into *row. prev_t/prev_line: the last
 * row's time (prev_line 0 before the first). */
static int read_row(rd_t *c, const size_t col[NCOLS], double prev_t, size_t prev_line,
                    cn_stream_row_t *row)
{
    char fn[64], q[QUOTE_BUF];
    const char *s;
    size_t sl;
    row->line = c->rec_line;

    const field_t *f = &c->fields[col[COL_T]];
    if (parse_number(c, col[COL_T], &row->t, &s, &sl))
        return CN_EPARSE;
    field_name(c, col[COL_T], fn, sizeof fn);
    if (row->t < 0 || row->t > CN_STREAM_T_MAX)
        return fail(c, f->line, "%s: '%s' is out of range: seconds in [0, %g]", fn,
                    quote(s, sl, q), CN_STREAM_T_MAX);
    if (prev_line && row->t < prev_t) {
        char before[CN_FMT_DOUBLE_BUF];
        return fail(c, f->line,
                    "%s: time goes backwards: '%s' is before %s on line %zu (rows "
                    "must be in time order)",
                    fn, quote(s, sl, q), cn_fmt_double(prev_t, before, sizeof before),
                    prev_line);
    }

    f = &c->fields[col[COL_VERSION]];
    const char *version = field_text(c, col[COL_VERSION]);
    if (strcmp(version, "stable") == 0)
        row->version = CN_ROLE_STABLE;
    else if (strcmp(version, "canary") == 0)
        row->version = CN_ROLE_CANARY;
    else
        return fail(c, f->line, "%s: must be 'stable' or 'canary', got '%s'",
                    field_name(c, col[COL_VERSION], fn, sizeof fn),
                    quote(version, f->len, q));

    f = &c->fields[col[COL_METRIC]];
    int kind = cn_seq_kind_of(field_text(c, col[COL_METRIC]));
    if (kind < 0)
        return fail(c, f->line,
                    "%s: must be 'error', 'latency_ms' or 'prediction', got '%s'",
                    field_name(c, col[COL_METRIC], fn, sizeof fn),
                    quote(field_text(c, col[COL_METRIC]), f->len, q));
    row->metric = (cn_seq_kind_t)kind;

    f = &c->fields[col[COL_VALUE]];
    if (parse_number(c, col[COL_VALUE], &row->value, &s, &sl))
        return CN_EPARSE;
    field_name(c, col[COL_VALUE], fn, sizeof fn);
    if (row->metric == CN_SEQ_ERROR && row->value != 0 && row->value != 1)
        return fail(c, f->line, "%s: an error is 0 or 1, got '%s'", fn,
                    quote(s, sl, q));
    if (row->metric == CN_SEQ_LATENCY && row->value < 0)
        return fail(c, f->line, "%s: a latency_ms must be >= 0, got '%s'", fn,
                    quote(s, sl, q));

    row->segment = NULL;
    if (col[COL_SEGMENT] != (size_t)-1) {
        if (check_name(c, col[COL_SEGMENT]))
            return CN_EPARSE;
        if (c->fields[col[COL_SEGMENT]].len)
            row->segment = field_text(c, col[COL_SEGMENT]);
    }
    return 0;
}

int cn_stream_parse(const char *text, size_t len, const char *filename,
                    cn_stream_row_cb row_cb, void *ctx, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    rd_t c;
    memset(&c, 0, sizeof c);
    c.p = text ? text : "";
    c.end = c.p + (text ? len : 0);
    c.line = 1;
    c.file = filename ? filename : "<stream>";
    c.err = err;
    c.errlen = errlen;
    /* A record's unescaped fields plus a NUL each: at most len + len + 1. */
    c.scratch = cn_xmallocarray(2, (text ? len : 0) + 1);
    if (c.end - c.p >= 3 && memcmp(c.p, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;

    size_t col[NCOLS], ncols = 0, rows = 0, prev_line = 0;
    double prev_t = 0;
    int rc = read_record(&c);
    if (rc == 1) {
        rc = fail(&c, 0, "no samples (%s)",
                  !text || len == 0 ? "empty file" : "only blank lines");
        goto out;
    }
    if (rc || (rc = read_header(&c, col, &ncols)))
        goto out;
    while ((rc = read_record(&c)) == 0) {
        if (c.nfields != ncols) {
            rc = fail(&c, c.rec_line, "expected %zu fields as in the header, got %zu",
                      ncols, c.nfields);
            goto out;
        }
        cn_stream_row_t row;
        if ((rc = read_row(&c, col, prev_t, prev_line, &row)))
            goto out;
        rc = row_cb(ctx, &row);
        if (rc) {
            if (err && errlen)
                snprintf(err, errlen, "%s:%zu: cannot use the row: %s", c.file,
                         c.rec_line, cn_strerror(rc));
            goto out;
        }
        prev_t = row.t;
        prev_line = row.line;
        rows++;
    }
    if (rc == 1) {
        rc = 0;
        if (rows == 0)
            rc = fail(&c, 0, "no samples (a header only)");
    }
out:
    free(c.scratch);
    return rc;
}
