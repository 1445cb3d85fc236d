/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus text exposition (format 0.0.4); see prom.h for the contract.
 *
 * Every public call appends into the buffer through the small append_*
 * helpers, which only note an overflow; the call then either keeps what it
 * wrote or rolls the length back to where it started. That is what makes
 * "a whole line or nothing" cheap: no temporary buffer, no second pass.
 */
#include "metrics/prom.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_prom_init(cn_prom_writer_t *w, size_t max_bytes)
{
    memset(w, 0, sizeof *w);
    cn_buf_init(&w->out, max_bytes ? max_bytes : CN_PROM_DEFAULT_MAX_BYTES);
}

void cn_prom_dispose(cn_prom_writer_t *w)
{
    cn_buf_dispose(&w->out);
    free(w->family);
    for (size_t i = 0; i < w->nclosed; i++)
        free(w->closed[i]);
    free(w->closed);
    cn_prom_init(w, w->out.max);
}

char *cn_prom_take(cn_prom_writer_t *w, size_t *len)
{
    char *text = cn_buf_take(&w->out, len);
    cn_prom_dispose(w);
    return text;
}

const char *cn_prom_type_name(cn_prom_type_t type)
{
    switch (type) {
    case CN_PROM_COUNTER:
        return "counter";
    case CN_PROM_GAUGE:
        return "gauge";
    case CN_PROM_HISTOGRAM:
        return "histogram";
    case CN_PROM_UNTYPED:
        return "untyped";
    }
    return "?";
}

/* ------------------------------------------------------------ buffer */

/* Appenders: on overflow they set *ok = false and append nothing more. */
static void append(cn_prom_writer_t *w, bool *ok, const char *s, size_t n)
{
    if (!*ok)
        return;
    if (cn_buf_add(&w->out, s, n))
        *ok = false;
}

static void append_str(cn_prom_writer_t *w, bool *ok, const char *s)
{
    append(w, ok, s, strlen(s));
}

/*
 * Escape for a label value ('\\', '"', '\n') or, with quote false, for
 * HELP text ('\\' and '\n' only), as the 0.0.4 format specifies. Bytes
 * that are not valid UTF-8 become U+FFFD: Prometheus refuses the whole
 * scrape over one invalid label value, and segment labels come from
 * request headers, so one bad client must not blind the monitoring.
 */
static void append_escaped(cn_prom_writer_t *w, bool *ok, const char *s, bool quote)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), run = 0;
    for (size_t i = 0; i < n;) {
        const char *esc = NULL;
        size_t step = 1;
        if (p[i] == '\\')
            esc = "\\\\";
        else if (p[i] == '\n')
            esc = "\\n";
        else if (p[i] == '"' && quote)
            esc = "\\\"";
        else if (p[i] >= 0x80) {
            step = cn_text_utf8_len(s + i, n - i);
            if (step == 0) {
                esc = "\xef\xbf\xbd";
                step = 1;
            }
        }
        if (esc) {
            append(w, ok, s + run, i - run);
            append_str(w, ok, esc);
            run = i + step;
        }
        i += step;
    }
    append(w, ok, s + run, n - run);
}

/* Keep the first error, and roll back to `mark` if this call overflowed. */
static int finish(cn_prom_writer_t *w, bool ok, size_t mark)
{
    if (ok)
        return 0;
    cn_buf_truncate(&w->out, mark);
    if (!w->error)
        w->error = CN_ETOOBIG;
    return CN_ETOOBIG;
}

static int fail(cn_prom_writer_t *w, int code)
{
    if (!w->error)
        w->error = code;
    return code;
}

/* ------------------------------------------------------------ names */

static bool is_name_char(char c, bool first, bool colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    if (c == ':')
        return colon;
    return !first && c >= '0' && c <= '9';
}

/* Metric names allow ':'; label names do not, and "__" is reserved. */
static bool valid_metric_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++)
        if (!is_name_char(s[i], i == 0, true))
            return false;
    return true;
}

static bool valid_suffix(const char *s)
{
    for (; s && *s; s++)
        if (!is_name_char(*s, false, true))
            return false;
    return true;
}

static bool valid_labels(const cn_prom_label_t *labels, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = labels[i].name;
        if (!name || !*name || !labels[i].value)
            return false;
        if (name[0] == '_' && name[1] == '_')
            return false;
        for (size_t j = 0; name[j]; j++)
            if (!is_name_char(name[j], j == 0, false))
                return false;
        /* A repeated name would make the sample unparseable. */
        for (size_t k = 0; k < i; k++)
            if (strcmp(labels[k].name, name) == 0)
                return false;
    }
    return true;
}

/* ------------------------------------------------------------ families */

int cn_prom_family(cn_prom_writer_t *w, const char *name, cn_prom_type_t type,
                   const char *help)
{
    if (!valid_metric_name(name) || (unsigned)type > CN_PROM_UNTYPED)
        return fail(w, CN_EINVAL);
    if (w->family && strcmp(w->family, name) == 0)
        return type == w->type ? 0 : fail(w, CN_EINVAL);
    for (size_t i = 0; i < w->nclosed; i++)
        if (strcmp(w->closed[i], name) == 0)
            return fail(w, CN_EINVAL);

    size_t mark = w->len;
    bool ok = true;
    append_str(w, &ok, "# HELP ");
    append_str(w, &ok, name);
    append_str(w, &ok, " ");
    append_escaped(w, &ok, help ? help : "", false);
    append_str(w, &ok, "\n# TYPE ");
    append_str(w, &ok, name);
    append_str(w, &ok, " ");
    append_str(w, &ok, cn_prom_type_name(type));
    append_str(w, &ok, "\n");
    if (!ok)
        return finish(w, ok, mark);

    if (w->family) {
        if (w->nclosed == w->closed_cap) {
            w->closed_cap = w->closed_cap ? w->closed_cap * 2 : 16;
            w->closed = cn_xrealloc(w->closed, w->closed_cap * sizeof *w->closed);
        }
        w->closed[w->nclosed++] = w->family;
    }
    size_t n = strlen(name);
    w->family = cn_xmalloc(n + 1);
    memcpy(w->family, name, n + 1);
    w->type = type;
    return 0;
}

/* ------------------------------------------------------------ samples */

/* "family+suffix{a="x",b="y"} " without the value. `extra` is one more
 * label appended after the caller's (the histogram's le), or NULL. */
static void append_series(cn_prom_writer_t *w, bool *ok, const char *suffix,
                          const cn_prom_label_t *labels, size_t nlabels,
                          const cn_prom_label_t *extra)
{
    append_str(w, ok, w->family);
    if (suffix)
        append_str(w, ok, suffix);
    if (nlabels || extra) {
        append_str(w, ok, "{");
        for (size_t i = 0; i < nlabels + (extra != NULL); i++) {
            const cn_prom_label_t *l = i < nlabels ? &labels[i] : extra;
            if (i)
                append_str(w, ok, ",");
            append_str(w, ok, l->name);
            append_str(w, ok, "=\"");
            append_escaped(w, ok, l->value, true);
            append_str(w, ok, "\"");
        }
        append_str(w, ok, "}");
    }
    append_str(w, ok, " ");
}

static int check_sample(cn_prom_writer_t *w, const char *suffix,
                        const cn_prom_label_t *labels, size_t nlabels)
{
    if (!w->family || !valid_suffix(suffix) || (nlabels && !labels) ||
        !valid_labels(labels, nlabels))
        return fail(w, CN_EINVAL);
    return 0;
}

static int write_sample(cn_prom_writer_t *w, const char *suffix,
                        const cn_prom_label_t *labels, size_t nlabels,
                        const char *value)
{
    int rc = check_sample(w, suffix, labels, nlabels);
    if (rc)
        return rc;
    size_t mark = w->len;
    bool ok = true;
    append_series(w, &ok, suffix, labels, nlabels, NULL);
    append_str(w, &ok, value);
    append_str(w, &ok, "\n");
    return finish(w, ok, mark);
}

int cn_prom_sample_u64(cn_prom_writer_t *w, const char *suffix,
                       const cn_prom_label_t *labels, size_t nlabels, uint64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, value);
    return write_sample(w, suffix, labels, nlabels, buf);
}

int cn_prom_sample_i64(cn_prom_writer_t *w, const char *suffix,
                       const cn_prom_label_t *labels, size_t nlabels, int64_t value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, value);
    return write_sample(w, suffix, labels, nlabels, buf);
}

int cn_prom_sample_double(cn_prom_writer_t *w, const char *suffix,
                          const cn_prom_label_t *labels, size_t nlabels, double value)
{
    char buf[CN_FMT_DOUBLE_BUF];
    return write_sample(w, suffix, labels, nlabels,
                        cn_fmt_double(value, buf, sizeof buf));
}

/* ------------------------------------------------------------ histograms */

/* The shared body of both histogram helpers, once the counts are known:
 * count_at(i) is the cumulative count of bucket i (i == nle: +Inf). */
typedef uint64_t (*count_at_fn)(const void *src, size_t i);

static int write_histogram(cn_prom_writer_t *w, const cn_prom_label_t *labels,
                           size_t nlabels, const double *le, size_t nle,
                           count_at_fn count_at, const void *src, double sum)
{
    int rc = check_sample(w, NULL, labels, nlabels);
    if (rc)
        return rc;
    if (w->type != CN_PROM_HISTOGRAM || (nle && !le))
        return fail(w, CN_EINVAL);
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(labels[i].name, "le") == 0)
            return fail(w, CN_EINVAL);
    for (size_t i = 0; i < nle; i++)
        if (!isfinite(le[i]) || (i && !(le[i] > le[i - 1])))
            return fail(w, CN_EINVAL);
    for (size_t i = 1; i <= nle; i++)
        if (count_at(src, i) < count_at(src, i - 1))
            return fail(w, CN_EINVAL);

    size_t mark = w->len;
    bool ok = true;
    char bound[CN_FMT_DOUBLE_BUF], value[32];
    for (size_t i = 0; i <= nle; i++) {
        cn_prom_label_t le_label = {
            "le", i < nle ? cn_fmt_double(le[i], bound, sizeof bound) : "+Inf"};
        append_series(w, &ok, "_bucket", labels, nlabels, &le_label);
        snprintf(value, sizeof value, "%" PRIu64 "\n", count_at(src, i));
        append_str(w, &ok, value);
    }
    append_series(w, &ok, "_sum", labels, nlabels, NULL);
    append_str(w, &ok, cn_fmt_double(sum, bound, sizeof bound));
    append_str(w, &ok, "\n");
    append_series(w, &ok, "_count", labels, nlabels, NULL);
    snprintf(value, sizeof value, "%" PRIu64 "\n", count_at(src, nle));
    append_str(w, &ok, value);
    return finish(w, ok, mark);
}

typedef struct hist_src_s {
    const cn_metrics_hist_t *h;
    const double *le_s;
    size_t nle;
} hist_src_t;

/* Seconds to the nearest microsecond, clamped to what the histogram
 * holds: a bound at or past its maximum counts everything, one below zero
 * nothing. */
static uint64_t hist_count_at(const void *src, size_t i)
{
    const hist_src_t *s = src;
    if (i == s->nle)
        return cn_metrics_hist_count(s->h);
    double us = nearbyint(s->le_s[i] * 1e6);
    if (us < 0)
        return 0;
    if (us >= (double)CN_METRICS_HIST_MAX_US)
        return cn_metrics_hist_count(s->h);
    return cn_metrics_hist_count_le(s->h, (uint64_t)us);
}

int cn_prom_histogram(cn_prom_writer_t *w, const cn_prom_label_t *labels,
                      size_t nlabels, const cn_metrics_hist_t *h, const double *le_s,
                      size_t nle)
{
    if (!h)
        return fail(w, CN_EINVAL);
    /* Validate the bounds before hist_count_at converts them. */
    for (size_t i = 0; i < nle; i++)
        if (!le_s || !isfinite(le_s[i]))
            return fail(w, CN_EINVAL);
    hist_src_t src = {h, le_s, nle};
    double sum_s = (double)cn_metrics_hist_sum(h) / 1e6;
    return write_histogram(w, labels, nlabels, le_s, nle, hist_count_at, &src, sum_s);
}

static uint64_t cumulative_at(const void *src, size_t i)
{
    return ((const uint64_t *)src)[i];
}

int cn_prom_histogram_cumulative(cn_prom_writer_t *w, const cn_prom_label_t *labels,
                                 size_t nlabels, const double *le,
                                 const uint64_t *cumulative, size_t nle, double sum)
{
    if (!cumulative)
        return fail(w, CN_EINVAL);
    return write_histogram(w, labels, nlabels, le, nle, cumulative_at, cumulative, sum);
}
