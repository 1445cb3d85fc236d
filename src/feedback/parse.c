/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * POST /v1/feedback bodies (feedback.h): one JSON object, or JSON Lines.
 * Each line is checked on its own, so one bad line costs only itself.
 */
#include "feedback/feedback.h"
#include "util/error.h"
#include "util/text.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 40

static void add_error(cn_feedback_batch_t *b, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_error(cn_feedback_batch_t *b, size_t line, const char *fmt, ...)
{
    b->errors = cn_xrealloc(b->errors, (b->n_errors + 1) * sizeof *b->errors);
    cn_feedback_line_error_t *e = &b->errors[b->n_errors++];
    e->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
}

/* A value of the metric's kind into *out; NULL, or what is wrong. */
static const char *value_of(const json_t *v, int kind, double *out)
{
    if (json_is_boolean(v) && kind != CN_FEEDBACK_MEAN) {
        *out = json_is_true(v) ? 1 : 0;
        return NULL;
    }
    if (!json_is_number(v))
        return kind == CN_FEEDBACK_MEAN ? "must be a number" : "must be 0 or 1";
    double x = json_number_value(v);
    if (!isfinite(x))
        return "must be finite";
    if (kind != CN_FEEDBACK_MEAN && x != 0 && x != 1)
        return "must be 0 or 1";
    *out = x;
    return NULL;
}

/* One line's object into an item, or an error for that line. */
static void read_line(const cn_feedback_config_t *cfg, const char *text, size_t len,
                      size_t line, cn_feedback_batch_t *b)
{
    char q[CN_TEXT_QUOTE_BUF(QUOTE_MAX)];
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        add_error(b, line, "line %zu: not JSON: %s (column %d)", line, je.text,
                  je.column);
        return;
    }
    cn_feedback_item_t it;
    memset(&it, 0, sizeof it);
    it.line = line;
    const char *key;
    json_t *v;
    const json_t *id = NULL, *metrics = NULL;
    if (!json_is_object(root)) {
        add_error(b, line, "line %zu: must be an object with request_id and metrics",
                  line);
        goto done;
    }
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "request_id") == 0)
            id = v;
        else if (strcmp(key, "metrics") == 0)
            metrics = v;
        else {
            add_error(b, line,
                      "line %zu: unknown key '%s' (expected request_id, metrics)", line,
                      cn_text_quote(key, strlen(key), QUOTE_MAX, q));
            goto done;
        }
    }
    if (!id || !json_is_string(id) || json_string_length(id) == 0) {
        add_error(b, line, "line %zu: request_id: must be a non-empty string", line);
        goto done;
    }
    if (json_string_length(id) > CN_FEEDBACK_ID_MAX) {
        add_error(b, line,
                  "line %zu: request_id: %zu bytes, longer than the %d the router "
                  "remembers",
                  line, json_string_length(id), CN_FEEDBACK_ID_MAX);
        goto done;
    }
    if (!metrics || !json_is_object(metrics) || json_object_size(metrics) == 0) {
        add_error(b, line,
                  "line %zu: metrics: must be an object with at least one value", line);
        goto done;
    }
    it.id_len = json_string_length(id);
    memcpy(it.id, json_string_value(id), it.id_len);
    json_object_foreach((json_t *)metrics, key, v)
    {
        int k = cn_feedback_config_index(cfg, key, strlen(key));
        if (k < 0) {
            add_error(b, line, "line %zu: metrics.%s: not a fed metric (%s)", line,
                      cn_text_quote(key, strlen(key), QUOTE_MAX, q),
                      cfg->n_metrics ? "see feedback.metrics in the config"
                                     : "feedback.metrics in the config names none");
            goto done;
        }
        const char *why = value_of(v, cfg->metrics[k].kind, &it.values[k]);
        if (why) {
            add_error(b, line, "line %zu: metrics.%s: %s", line, cfg->metrics[k].name,
                      why);
            goto done;
        }
        it.mask |= 1u << k;
    }
    b->items = cn_xrealloc(b->items, (b->n_items + 1) * sizeof *b->items);
    b->items[b->n_items++] = it;
done:
    json_decref(root);
}

static bool blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    return true;
}

int cn_feedback_parse(const cn_feedback_config_t *cfg, const char *body, size_t len,
                      cn_feedback_batch_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!body || blank(body, len))
        return cn_fail(err, errlen, CN_EINVAL,
                       "empty body: send one JSON object or JSON Lines, each "
                       "{\"request_id\": ..., \"metrics\": {...}}");
    /* One object, possibly over several lines: the whole body parses. */
    json_error_t je;
    json_t *whole = json_loadb(body, len, 0, &je);
    if (whole) {
        json_decref(whole);
        out->lines = 1;
        read_line(cfg, body, len, 1, out);
        return 0;
    }
    size_t line = 0, lines = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(body + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - body) : len;
        line++;
        if (!blank(body + at, end - at)) {
            if (++lines > cfg->max_lines) {
                cn_feedback_batch_dispose(out);
                return cn_fail(err, errlen, CN_ETOOBIG,
                               "more than %u lines (feedback.max_lines): send smaller "
                               "batches",
                               cfg->max_lines);
            }
            read_line(cfg, body + at, end - at, line, out);
        }
        at = end + 1;
    }
    out->lines = lines;
    return 0;
}

void cn_feedback_batch_dispose(cn_feedback_batch_t *b)
{
    if (!b)
        return;
    free(b->items);
    free(b->errors);
    memset(b, 0, sizeof *b);
}
