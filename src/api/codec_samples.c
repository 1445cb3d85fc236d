/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The samples resource's JSON (see api/codec.h): the query of GET
 * /v1/samples and the snapshot rendered for the judge. Written with the
 * streaming writer, since a step's reservoirs can hold hundreds of
 * thousands of values.
 */
#include "api/codec.h"
#include "util/error.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[2] = {"stable", "canary"};

static void write_quantiles(cn_jsonw_t *w, const cn_metrics_hist_t *h)
{
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}};
    uint64_t n = h ? cn_metrics_hist_count(h) : 0; /* NULL: not asked for */
    cn_jsonw_key(w, "count");
    cn_jsonw_u64(w, n);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        cn_jsonw_key(w, qs[i].name);
        if (n)
            cn_jsonw_u64(w, cn_metrics_hist_quantile(h, qs[i].q));
        else
            cn_jsonw_null(w);
    }
}

static void write_sample(cn_jsonw_t *w, const double *values, size_t n)
{
    cn_jsonw_key(w, "sample");
    cn_jsonw_array_begin(w);
    for (size_t i = 0; i < n && values; i++)
        cn_jsonw_double(w, values[i]);
    cn_jsonw_array_end(w);
}

static void write_cell(cn_jsonw_t *w, const cn_router_cell_t *c, bool all)
{
    cn_jsonw_object_begin(w);
    if (all) {
        uint64_t errors = c->responses_by_class[5];
        for (int k = 0; k < CN_ROUTER_FAIL_COUNT; k++)
            errors += c->failures[k];
        cn_jsonw_key(w, "requests");
        cn_jsonw_u64(w, c->requests);
        cn_jsonw_key(w, "shadow_requests");
        cn_jsonw_u64(w, c->shadow_requests);
        cn_jsonw_key(w, "errors");
        cn_jsonw_u64(w, errors);
        cn_jsonw_key(w, "retried_on_stable");
        cn_jsonw_u64(w, c->retried_on_stable);
        cn_jsonw_key(w, "latency_us");
        cn_jsonw_object_begin(w);
        write_quantiles(w, c->latency);
        cn_jsonw_object_end(w);
        cn_jsonw_key(w, "predictions");
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "seen");
        cn_jsonw_u64(w, c->predictions[CN_ROUTER_PRED_OK]);
        cn_jsonw_key(w, "sum");
        cn_jsonw_double(w, c->prediction_sum);
        cn_jsonw_object_end(w);
    } else {
        cn_jsonw_key(w, "requests");
        cn_jsonw_u64(w, c->step_requests);
        cn_jsonw_key(w, "errors");
        cn_jsonw_u64(w, c->step_errors);
        cn_jsonw_key(w, "latency_us");
        cn_jsonw_object_begin(w);
        write_quantiles(w, c->step_latency);
        write_sample(w, c->step_latency_us, c->n_step_latency);
        cn_jsonw_object_end(w);
        cn_jsonw_key(w, "predictions");
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "seen");
        cn_jsonw_u64(w, c->step_predictions_seen);
        write_sample(w, c->step_predictions, c->n_step_predictions);
        cn_jsonw_object_end(w);
    }
    cn_jsonw_object_end(w);
}

void cn_api_samples_write(cn_jsonw_t *w, const cn_router_snapshot_t *s, bool all)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "window");
    cn_jsonw_cstr(w, all ? "all" : "step");
    cn_jsonw_key(w, "step");
    cn_jsonw_u64(w, s->step);
    cn_jsonw_key(w, "step_started");
    cn_jsonw_double(w, s->step_started_unix_s);
    cn_jsonw_key(w, "now");
    cn_jsonw_double(w, s->now_unix_s);
    cn_jsonw_key(w, "traffic");
    cn_api_traffic_write(w, &s->traffic, s->step);
    cn_jsonw_key(w, "versions");
    cn_jsonw_object_begin(w);
    for (int role = 0; role < 2; role++) {
        cn_jsonw_key(w, role_names[role]);
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "version");
        cn_jsonw_cstr(w,
                      s->version_name[role] ? s->version_name[role] : role_names[role]);
        cn_jsonw_key(w, "segments");
        cn_jsonw_object_begin(w);
        for (size_t i = 0; i < s->ncells; i++) {
            const cn_router_cell_t *c = &s->cells[i];
            /* the current version's cells only: a role's older versions
             * are in /metrics until their series end */
            if ((int)c->role != role ||
                (c->version && s->version_name[role] &&
                 strcmp(c->version, s->version_name[role]) != 0))
                continue;
            cn_jsonw_key(w, c->segment ? c->segment : "");
            write_cell(w, c, all);
        }
        cn_jsonw_object_end(w);
        cn_jsonw_object_end(w);
    }
    cn_jsonw_object_end(w);
    if (!all) {
        cn_jsonw_key(w, "shadow_pairs");
        cn_jsonw_array_begin(w);
        for (size_t i = 0; i < s->npairs; i++) {
            const cn_router_pair_t *p = &s->pairs[i];
            cn_jsonw_object_begin(w);
            cn_jsonw_key(w, "request_id");
            cn_jsonw_string(w, p->request_id,
                            strnlen(p->request_id, sizeof p->request_id));
            cn_jsonw_key(w, "stable");
            cn_jsonw_double(w, p->stable);
            cn_jsonw_key(w, "canary");
            cn_jsonw_double(w, p->canary);
            cn_jsonw_object_end(w);
        }
        cn_jsonw_array_end(w);
    }
    cn_jsonw_object_end(w);
}

int cn_api_samples_query_parse(const char *query, size_t query_len, bool *all,
                               char *err, size_t errlen)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    int rc = CN_EINVAL;
    *all = false;
    /* Each parameter is decoded into a buffer as long as the query. */
    char *name = cn_xmalloc(query_len + 1), *value = cn_xmalloc(query_len + 1);
    const char *p = query, *end = query + query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *vstart = eq ? eq + 1 : stop;
        size_t name_len, value_len;
        if (stop == p) {
            p = stop + 1;
            continue;
        }
        if (!cn_api_percent_decode(p, (size_t)((eq ? eq : stop) - p), true, name,
                                   &name_len) ||
            !cn_api_percent_decode(vstart, (size_t)(stop - vstart), true, value,
                                   &value_len)) {
            snprintf(err, errlen, "query: bad percent-encoding in '%s'",
                     cn_text_quote(p, (size_t)(stop - p), 64, quoted));
            goto out;
        }
        if (strcmp(name, "window") != 0) {
            snprintf(err, errlen, "query: unknown parameter '%s' (expected window)",
                     cn_text_quote(name, name_len, 64, quoted));
            goto out;
        }
        if (strcmp(value, "step") == 0)
            *all = false;
        else if (strcmp(value, "all") == 0)
            *all = true;
        else {
            snprintf(err, errlen,
                     "window: must be 'step' or 'all', got '%s' (durations are not "
                     "supported)",
                     cn_text_quote(value, value_len, 64, quoted));
            goto out;
        }
        p = stop + 1;
    }
    rc = 0;
out:
    free(name);
    free(value);
    return rc;
}
