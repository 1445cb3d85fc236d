/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One-number-per-line sample files; see numbers.h for what is accepted.
 *
 * The whole file is read into memory first and parsed in place: 10^6 lines
 * parse in well under a second (the cost is strtod's). strtod needs a NUL
 * terminator to stop at, so the buffer gets one extra byte; a NUL inside the
 * data is rejected explicitly rather than silently ending a line early.
 */
#include "cli/numbers.h"
#include "cli/input.h"
#include "util/error.h"
#include "util/text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest excerpt of a bad line quoted back in an error message. */
#define QUOTE_MAX 40

/* One line in err; CN_EPARSE. */
#define fail(err, errlen, ...) cn_fail(err, errlen, CN_EPARSE, __VA_ARGS__)

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

int cn_numbers_parse(const char *text, size_t len, const char *name, cn_numbers_t *out,
                     char *err, size_t errlen)
{
    out->values = NULL;
    out->n = 0;
    /* strtod needs a terminator after the last line. */
    char *buf = cn_xmalloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';

    size_t cap = 1024, n = 0;
    double *v = cn_xmallocarray(cap, sizeof *v);
    int rc = 0;
    size_t lineno = 0;
    char q[CN_TEXT_QUOTE_BUF(QUOTE_MAX)];
    for (size_t pos = 0; pos < len;) {
        lineno++;
        char *line = buf + pos;
        char *nl = memchr(line, '\n', len - pos);
        size_t line_len = nl ? (size_t)(nl - line) : len - pos;
        pos += line_len + 1;
        if (memchr(line, '\0', line_len)) {
            rc = fail(err, errlen, "%s:%zu: unexpected NUL byte", name, lineno);
            goto out;
        }
        if (nl)
            *nl = '\0';
        char *p = line;
        while (is_blank(*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        errno = 0;
        char *end;
        double d = strtod(p, &end);
        char *rest = end;
        while (is_blank(*rest))
            rest++;
        if (end == p || *rest != '\0') {
            rc = fail(err, errlen, "%s:%zu: '%s' is not a number", name, lineno,
                      cn_text_quote(p, strlen(p), QUOTE_MAX, q));
            goto out;
        }
        if (isnan(d) || isinf(d)) {
            /* strtod returns +-HUGE_VAL with ERANGE on overflow. */
            const char *what =
                errno == ERANGE ? "overflows a double" : "is not finite (NaN/Inf)";
            rc = fail(err, errlen, "%s:%zu: '%s' %s", name, lineno,
                      cn_text_quote(p, (size_t)(end - p), QUOTE_MAX, q), what);
            goto out;
        }
        /* ERANGE with a finite result is underflow to (sub)normal or 0;
         * that value is the closest double, so keep it. */
        if (n == cap) {
            cap *= 2;
            v = cn_xrealloc(v, cap * sizeof *v);
        }
        v[n++] = d;
    }
    if (n == 0) {
        rc = fail(err, errlen, "%s: no values (%s)", name,
                  len == 0 ? "empty file" : "only blank or comment lines");
        goto out;
    }
    out->values = v;
    out->n = n;
    v = NULL;
out:
    free(v);
    free(buf);
    return rc;
}

int cn_numbers_load(const char *path, cn_numbers_t *out, char *err, size_t errlen)
{
    out->values = NULL;
    out->n = 0;
    char *data;
    size_t len;
    int rc = cn_cli_read_input(path, CN_NUMBERS_MAX_BYTES, &data, &len, err, errlen);
    if (rc)
        return rc;
    rc = cn_numbers_parse(data, len, cn_cli_input_name(path), out, err, errlen);
    free(data);
    return rc;
}

void cn_numbers_dispose(cn_numbers_t *nums)
{
    if (!nums)
        return;
    free(nums->values);
    nums->values = NULL;
    nums->n = 0;
}
