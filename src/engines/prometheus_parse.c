/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The prometheus source's pure pieces: the series selectors it sends and
 * the answers it reads (Prometheus's HTTP API: "vector" and "matrix"
 * results, values as strings), and a counter series' increase. No I/O:
 * the unit tests and the fuzz target (tests/fuzz/fuzz_prometheus.c) call
 * them on any bytes.
 */
#include "engines/prometheus.h"
#include "util/error.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ selectors */

/* A PromQL metric name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static size_t name_len(const char *s)
{
    size_t n = 0;
    while (isalpha((unsigned char)s[n]) || s[n] == '_' || s[n] == ':' ||
           (n && isdigit((unsigned char)s[n])))
        n++;
    return n;
}

int cn_prometheus_series_selector(const char *series, const char *suffix,
                                  const char *selector, const char *version, char *out,
                                  size_t outlen, char *err, size_t errlen)
{
    size_t nl = name_len(series);
    const char *own = series + nl; /* "" or "{...}" */
    size_t own_len = strlen(own);
    if (nl == 0 || (own_len && (own[0] != '{' || own[own_len - 1] != '}'))) {
        snprintf(err, errlen,
                 "series '%.80s' must be a metric name with optional {matchers}",
                 series);
        return CN_EINVAL;
    }
    size_t sl = strlen(selector);
    const char *pct = strstr(selector, "%s");
    if (sl < 2 || selector[0] != '{' || selector[sl - 1] != '}' || !pct ||
        strstr(pct + 2, "%s") || strchr(selector, '%') != pct) {
        snprintf(err, errlen,
                 "selector '%.80s' must be {matchers} with one %%s for the version",
                 selector);
        return CN_EINVAL;
    }
    /* the version, quoted inside the selector's own quotes: \ and " escaped */
    char ver[256];
    size_t vl = 0;
    for (const char *v = version; *v; v++) {
        if (vl + 3 > sizeof ver) {
            snprintf(err, errlen, "version '%.40s...' is too long", version);
            return CN_ETOOBIG;
        }
        if (*v == '\\' || *v == '"')
            ver[vl++] = '\\';
        if (*v == '\n') {
            ver[vl++] = '\\';
            ver[vl++] = 'n';
            continue;
        }
        ver[vl++] = *v;
    }
    ver[vl] = 0;
    /* the selector's matchers without braces, version in */
    const char *inner = selector + 1;
    size_t before = (size_t)(pct - inner),
           after = (size_t)(selector + sl - 1 - (pct + 2));
    int own_inner = own_len > 2; /* "{...}" with something inside */
    int w =
        snprintf(out, outlen, "%.*s%s{%.*s%s%.*s%s%.*s}", (int)nl, series, suffix,
                 own_inner ? (int)(own_len - 2) : 0, own_inner ? own + 1 : "",
                 own_inner ? "," : "", (int)before, inner, ver, (int)after, pct + 2);
    if (w < 0 || (size_t)w >= outlen) {
        snprintf(err, errlen, "the selector of '%.80s' is too long", series);
        return CN_ETOOBIG;
    }
    return 0;
}

/* ------------------------------------------------------------- answers */

static int parse_value(json_t *pair, double *t, double *v)
{
    if (!json_is_array(pair) || json_array_size(pair) != 2)
        return CN_EPARSE;
    json_t *jt = json_array_get(pair, 0), *jv = json_array_get(pair, 1);
    if (!json_is_number(jt) || !json_is_string(jv))
        return CN_EPARSE;
    *t = json_number_value(jt);
    const char *s = json_string_value(jv);
    char *end;
    *v = strtod(s, &end);
    if (end == s || *end)
        return CN_EPARSE;
    return 0;
}

static char *label_dup(json_t *metric, const char *name)
{
    if (!name)
        return NULL;
    json_t *l = json_object_get(metric, name);
    if (!json_is_string(l))
        return NULL;
    char *s = strdup(json_string_value(l));
    if (!s)
        abort();
    return s;
}

/* One line: jansson's "near '...'" and Prometheus's messages may hold
 * control characters. */
static void one_line(char *err)
{
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

void cn_prometheus_result_dispose(cn_prometheus_result_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->series[i].le);
        free(r->series[i].segment);
        free(r->series[i].t);
        free(r->series[i].v);
    }
    free(r->series);
    r->series = NULL;
    r->n = 0;
}

int cn_prometheus_parse(const char *body, size_t len, const char *segment_label,
                        cn_prometheus_result_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "the answer is not JSON: %.120s", jerr.text);
        one_line(err);
        return CN_EPARSE;
    }
    int rc = CN_EPARSE;
    json_t *status = json_object_get(root, "status");
    if (json_is_string(status) && strcmp(json_string_value(status), "error") == 0) {
        json_t *et = json_object_get(root, "errorType"),
               *e = json_object_get(root, "error");
        snprintf(err, errlen, "prometheus: %.40s: %.200s",
                 json_is_string(et) ? json_string_value(et) : "error",
                 json_is_string(e) ? json_string_value(e) : "(no message)");
        rc = CN_EINVAL;
        goto out;
    }
    json_t *data = json_object_get(root, "data");
    json_t *type = json_object_get(data, "resultType");
    json_t *result = json_object_get(data, "result");
    if (!json_is_string(status) || strcmp(json_string_value(status), "success") != 0 ||
        !json_is_string(type) || !json_is_array(result)) {
        snprintf(err, errlen, "the answer is not a Prometheus query result");
        goto out;
    }
    int matrix = strcmp(json_string_value(type), "matrix") == 0;
    if (!matrix && strcmp(json_string_value(type), "vector") != 0) {
        snprintf(err, errlen, "the answer is a %.20s, not a vector or a matrix",
                 json_string_value(type));
        goto out;
    }
    size_t n = json_array_size(result);
    out->series = cn_xcalloc(n ? n : 1, sizeof *out->series);
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(result, i);
        json_t *metric = json_object_get(item, "metric");
        json_t *values = json_object_get(item, matrix ? "values" : "value");
        if (!json_is_object(metric) || !json_is_array(values)) {
            snprintf(err, errlen, "result %zu has no metric or %s", i,
                     matrix ? "values" : "value");
            goto out;
        }
        cn_prometheus_series_t *s = &out->series[out->n++];
        s->le = label_dup(metric, "le");
        s->segment = label_dup(metric, segment_label);
        size_t np = matrix ? json_array_size(values) : 1;
        s->t = cn_xmallocarray(np ? np : 1, sizeof *s->t);
        s->v = cn_xmallocarray(np ? np : 1, sizeof *s->v);
        for (size_t k = 0; k < np; k++) {
            if (parse_value(matrix ? json_array_get(values, k) : values, &s->t[k],
                            &s->v[k])) {
                snprintf(err, errlen, "result %zu: point %zu is not [time, \"value\"]",
                         i, k);
                goto out;
            }
            s->n++;
        }
    }
    rc = 0;
out:
    if (rc) {
        cn_prometheus_result_dispose(out);
        one_line(err);
    }
    json_decref(root);
    return rc;
}

double cn_prometheus_increase(const double *t, const double *v, size_t n,
                              double born_after)
{
    double sum = 0, last = NAN;
    for (size_t i = 0; i < n; i++) {
        if (!(isfinite(v[i]) && v[i] >= 0))
            continue; /* not a counter's value */
        if (!isnan(last))
            sum += v[i] >= last ? v[i] - last : v[i];
        else if (t[i] > born_after)
            sum += v[i]; /* a series born in the window started at 0 */
        last = v[i];
    }
    return sum;
}
