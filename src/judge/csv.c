/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Samples from CSV; see csv.h for what is accepted and rejected.
 *
 * A small hand-written RFC 4180 reader rather than a library: the format
 * is four columns, and what matters is the error messages, which must name
 * the line and the column of the first problem. The reader walks the
 * buffer once, unescaping each record's fields into one scratch buffer of
 * the input's size (an unescaped record is never longer than its text), so
 * a file of any size costs one allocation plus what the callback keeps.
 * Lines are counted as they are consumed, including the newlines inside
 * quoted fields, so a message points at the line where the field starts.
 */
#include "judge/csv.h"
#include "judge/judge.h"
#include "util/error.h"
#include "util/text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest excerpt of a field quoted back in a message. */
#define QUOTE_MAX 40
#define QUOTE_BUF (QUOTE_MAX + 8)

/* Fields kept per record; a record with more is an error anyway. */
#define MAX_FIELDS 16

enum { COL_VERSION, COL_METRIC, COL_VALUE, COL_SEGMENT, NCOLS };

static const char *const default_col_names[NCOLS] = {"version", "metric", "value",
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
    /* column names by field index, once the header is read */
    const char *names[MAX_FIELDS];
    /* the four column names; the segment column's is the caller's */
    const char *col_names[NCOLS];
} csv_t;

static int fail(csv_t *c, size_t line, const char *fmt, ...)
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

/* Quote at most QUOTE_MAX bytes of s for a message (util/text.h). */
static const char *quote(const char *s, size_t len, char *buf)
{
    return cn_text_quote(s, len, QUOTE_MAX, buf);
}

/* "column 'value'" for a data row, "header field 3" for the header. */
static const char *field_name(const csv_t *c, size_t i, char *buf, size_t len)
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

/* Is the rest of the current line only blanks (and a CR)? */
static int blank_line(const csv_t *c)
{
    for (const char *q = c->p; q < c->end && *q != '\n'; q++)
        if (!is_blank(*q) && *q != '\r')
            return 0;
    return 1;
}

static void skip_line(csv_t *c)
{
    while (c->p < c->end && *c->p != '\n')
        c->p++;
    if (c->p < c->end) {
        c->p++;
        c->line++;
    }
}

static void put(csv_t *c, char ch)
{
    c->scratch[c->used++] = ch;
}

/* A quoted field, from the opening quote. */
static int read_quoted(csv_t *c, size_t idx, size_t start_line)
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

/* An unquoted field: up to a comma or the end of the line, trimmed. */
static int read_plain(csv_t *c, size_t idx)
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

/*
 * Read the next record, skipping blank lines. Returns 0 with the fields in
 * c->fields (NUL-terminated in c->scratch), 1 at the end of input, or an
 * error code.
 */
static int read_record(csv_t *c)
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

static const char *field_text(const csv_t *c, size_t i)
{
    return c->scratch + c->fields[i].off;
}

/* Map header fields to columns. col[k] is the field index of column k. */
static int read_header(csv_t *c, size_t col[NCOLS], size_t *ncols)
{
    for (size_t k = 0; k < NCOLS; k++)
        col[k] = (size_t)-1;
    size_t line = c->rec_line;
    if (c->nfields > MAX_FIELDS)
        return fail(c, line,
                    "header has %zu columns; expected version, metric, value and "
                    "optionally %s",
                    c->nfields, c->col_names[COL_SEGMENT]);
    char unknown[256] = "";
    size_t n_unknown = 0;
    for (size_t i = 0; i < c->nfields; i++) {
        const char *name = field_text(c, i);
        size_t k = 0;
        while (k < NCOLS && strcmp(name, c->col_names[k]) != 0)
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
                        c->col_names[k]);
        col[k] = i;
        c->names[i] = c->col_names[k];
    }
    if (n_unknown)
        return fail(c, line,
                    "unknown column%s %s%s in the header (expected version, "
                    "metric, value and optionally %s)",
                    n_unknown > 1 ? "s" : "", unknown, n_unknown > 4 ? ", ..." : "",
                    c->col_names[COL_SEGMENT]);
    for (size_t k = 0; k < COL_SEGMENT; k++)
        if (col[k] == (size_t)-1)
            return fail(c, line,
                        "the header has no '%s' column (expected version, "
                        "metric, value and optionally %s)",
                        c->col_names[k], c->col_names[COL_SEGMENT]);
    *ncols = c->nfields;
    return 0;
}

/* A metric or segment name: bounded, printable, one line. */
static int check_name(csv_t *c, size_t i, int may_be_empty)
{
    char fn[64];
    const field_t *f = &c->fields[i];
    const char *s = field_text(c, i);
    if (f->len == 0 && !may_be_empty)
        return fail(c, f->line, "%s: must not be empty",
                    field_name(c, i, fn, sizeof fn));
    if (f->len > CN_JUDGE_CSV_NAME_MAX)
        return fail(c, f->line, "%s: longer than %d bytes",
                    field_name(c, i, fn, sizeof fn), CN_JUDGE_CSV_NAME_MAX);
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

static int parse_value(csv_t *c, size_t i, double *out)
{
    char fn[64], q[QUOTE_BUF];
    const field_t *f = &c->fields[i];
    const char *s = field_text(c, i);
    size_t len = f->len;
    /* Blanks around a number are unambiguous, even inside quotes. */
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
    *out = v;
    return 0;
}

int cn_judge_csv_parse(const char *text, size_t len, const char *filename,
                       cn_judge_csv_row_cb row_cb, void *ctx, char *err, size_t errlen)
{
    return cn_judge_csv_parse_column(text, len, filename, NULL, row_cb, ctx, err,
                                     errlen);
}

int cn_judge_csv_parse_column(const char *text, size_t len, const char *filename,
                              const char *segment_column, cn_judge_csv_row_cb row_cb,
                              void *ctx, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    csv_t c;
    memset(&c, 0, sizeof c);
    for (size_t k = 0; k < NCOLS; k++)
        c.col_names[k] = default_col_names[k];
    if (segment_column && *segment_column)
        c.col_names[COL_SEGMENT] = segment_column;
    c.p = text ? text : "";
    c.end = c.p + (text ? len : 0);
    c.line = 1;
    c.file = filename ? filename : "<data>";
    c.err = err;
    c.errlen = errlen;
    /* A record's unescaped fields plus a NUL each: at most len + len + 1. */
    c.scratch = cn_xmallocarray(2, len + 1);
    if (c.end - c.p >= 3 && memcmp(c.p, "\xEF\xBB\xBF", 3) == 0)
        c.p += 3;

    size_t col[NCOLS], ncols = 0, rows = 0;
    int rc = read_record(&c);
    if (rc == 1) {
        rc = fail(&c, 0, "no samples (%s)",
                  len == 0 ? "empty file" : "only blank lines");
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
        char fn[64], q[QUOTE_BUF];
        const char *version = field_text(&c, col[COL_VERSION]);
        cn_judge_arm_t arm;
        if (strcmp(version, "stable") == 0) {
            arm = CN_ARM_STABLE;
        } else if (strcmp(version, "canary") == 0) {
            arm = CN_ARM_CANARY;
        } else {
            const field_t *f = &c.fields[col[COL_VERSION]];
            rc = fail(&c, f->line, "%s: must be 'stable' or 'canary', got '%s'",
                      field_name(&c, col[COL_VERSION], fn, sizeof fn),
                      quote(version, f->len, q));
            goto out;
        }
        double value = 0;
        if ((rc = check_name(&c, col[COL_METRIC], 0)) ||
            (rc = parse_value(&c, col[COL_VALUE], &value)))
            goto out;
        const char *segment = NULL;
        if (col[COL_SEGMENT] != (size_t)-1) {
            if ((rc = check_name(&c, col[COL_SEGMENT], 1)))
                goto out;
            if (c.fields[col[COL_SEGMENT]].len)
                segment = field_text(&c, col[COL_SEGMENT]);
        }
        rc = row_cb(ctx, field_text(&c, col[COL_METRIC]), arm, segment, value);
        if (rc) {
            if (err && errlen)
                snprintf(err, errlen, "%s:%zu: cannot add the sample: %s", c.file,
                         c.rec_line, cn_strerror(rc));
            goto out;
        }
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

static int add_to_data(void *ctx, const char *metric, cn_judge_arm_t arm,
                       const char *segment, double value)
{
    return cn_judge_data_add(ctx, metric, arm, segment, value);
}

int cn_judge_data_parse_csv(const char *text, size_t len, const char *filename,
                            cn_judge_data_t *data, char *err, size_t errlen)
{
    return cn_judge_csv_parse(text, len, filename, add_to_data, data, err, errlen);
}

int cn_judge_data_parse_csv_column(const char *text, size_t len, const char *filename,
                                   const char *segment_column, cn_judge_data_t *data,
                                   char *err, size_t errlen)
{
    return cn_judge_csv_parse_column(text, len, filename, segment_column, add_to_data,
                                     data, err, errlen);
}
