/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * POST /v1/feedback: delayed business and quality metrics (a click, a
 * conversion, the true label), joined to the request they are about
 * through the router's request-id map, kept per version and segment for
 * the judge (feedback/feedback.h). GET /v1/feedback: the newest step's fed
 * metrics per version and segment, with 95% intervals.
 *
 * A batch is parsed, joined in one cross-thread call and recorded on
 * libuv's thread pool: the join waits on every worker.
 */
#include "api/admin_internal.h"
#include "feedback/feedback.h"
#include "util/clock.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct feedback_job_s {
    char *body; /* owned */
    size_t len;
    cn_admin_response_t res;
} feedback_job_t;

/* Wall-clock seconds, as the router's request-id map records them. */
static double unix_now(void)
{
    return (double)cn_clock_unix_ms() / 1000.0;
}

static void write_counts(cn_jsonw_t *w, const uint64_t counts[CN_FEEDBACK_OUTCOMES])
{
    for (int o = 0; o < CN_FEEDBACK_OUTCOMES; o++) {
        cn_jsonw_key(w, cn_feedback_outcome_name((cn_feedback_outcome_t)o));
        cn_jsonw_u64(w, counts[o]);
    }
}

static void post_work(cn_admin_request_t *req, void *arg)
{
    feedback_job_t *job = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    cn_feedback_t *fb = a->feedback;
    const cn_feedback_config_t *cfg = cn_feedback_config(fb);
    char err[256];
    cn_feedback_batch_t b;
    int rc = cn_feedback_parse(cfg, job->body, job->len, &b, err, sizeof err);
    if (rc) {
        cn_admin_response_error(&job->res, rc == CN_ETOOBIG ? 413 : 400, "feedback: %s",
                                err);
        return;
    }
    uint64_t counts[CN_FEEDBACK_OUTCOMES] = {0};
    counts[CN_FEEDBACK_INVALID] = b.n_errors;
    cn_router_join_t *items = cn_xcalloc(b.n_items ? b.n_items : 1, sizeof *items);
    for (size_t i = 0; i < b.n_items; i++) {
        items[i].id = b.items[i].id;
        items[i].len = b.items[i].id_len;
        items[i].mark = b.items[i].mask;
    }
    double now = unix_now(), oldest = NAN;
    double not_before = now - cfg->ttl_ms / 1000.0;
    if (b.n_items) {
        a->ops.join(a->ops.ctx, items, b.n_items, not_before, &oldest);
        cn_feedback_note_oldest(fb, oldest);
    }
    for (size_t i = 0; i < b.n_items; i++) {
        const cn_router_join_t *j = &items[i];
        const cn_router_lookup_t *l = &j->result;
        cn_feedback_outcome_t o;
        if (!j->found || !l->version[0])
            o = CN_FEEDBACK_UNKNOWN; /* not remembered, or its version's key
                                        was reused since */
        else if (l->unix_s < not_before)
            o = CN_FEEDBACK_EXPIRED;
        else if (!(j->mark & ~l->fed))
            o = CN_FEEDBACK_DUPLICATE;
        else {
            o = CN_FEEDBACK_ACCEPTED;
            cn_feedback_served_t s = {.role = l->role,
                                      .version = l->version,
                                      .segment = l->segment,
                                      .step = l->step,
                                      .prediction = l->prediction};
            cn_feedback_record(fb, &s, &b.items[i], j->mark & ~l->fed);
        }
        counts[o]++;
    }
    for (int o = 0; o < CN_FEEDBACK_OUTCOMES; o++)
        if (counts[o])
            cn_feedback_count(fb, (cn_feedback_outcome_t)o, counts[o]);
    free(items);

    cn_jsonw_t w;
    cn_jsonw_init(&w, 64 * 1024 + b.n_errors * 256);
    cn_jsonw_object_begin(&w);
    if (!b.n_items) {
        cn_jsonw_key(&w, "error");
        cn_jsonw_cstr(&w, b.n_errors ? b.errors[0].message : "no feedback line");
    }
    write_counts(&w, counts);
    cn_jsonw_key(&w, "errors");
    cn_jsonw_array_begin(&w);
    for (size_t i = 0; i < b.n_errors; i++) {
        cn_jsonw_object_begin(&w);
        cn_jsonw_key(&w, "line");
        cn_jsonw_u64(&w, b.errors[i].line);
        cn_jsonw_key(&w, "error");
        cn_jsonw_cstr(&w, b.errors[i].message);
        cn_jsonw_object_end(&w);
    }
    cn_jsonw_array_end(&w);
    cn_jsonw_object_end(&w);
    cn_jsonw_newline(&w);
    /* every line bad: the body was wrong (400); else the valid lines are
     * in, and the errors say which were not */
    cn_admin__response_json(&job->res, b.n_items ? 200 : 400, &w);
    cn_feedback_batch_dispose(&b);
}

static void estimate(cn_jsonw_t *w, const char *key, const cn_feedback_estimate_t *e)
{
    cn_jsonw_key(w, key);
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "n");
    cn_jsonw_u64(w, e->n);
    cn_jsonw_key(w, "value");
    cn_jsonw_double(w, e->value);
    cn_jsonw_key(w, "ci_low");
    cn_jsonw_double(w, e->low);
    cn_jsonw_key(w, "ci_high");
    cn_jsonw_double(w, e->high);
    cn_jsonw_object_end(w);
}

static void get_work(cn_admin_request_t *req, void *arg)
{
    feedback_job_t *job = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    cn_feedback_t *fb = a->feedback;
    const cn_feedback_config_t *cfg = cn_feedback_config(fb);
    size_t n;
    uint64_t step;
    cn_feedback_cell_summary_t *cells = cn_feedback_summary(fb, 0, &n, &step);
    cn_feedback_counters_t k;
    cn_feedback_counters(fb, &k);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024 * 1024);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "metrics");
    cn_jsonw_object_begin(&w);
    static const char *const kinds[] = {"proportion", "mean", "label"};
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        cn_jsonw_key(&w, cfg->metrics[i].name);
        cn_jsonw_cstr(&w, kinds[cfg->metrics[i].kind]);
    }
    cn_jsonw_object_end(&w);
    cn_jsonw_key(&w, "ttl_s");
    cn_jsonw_double(&w, cfg->ttl_ms / 1000.0);
    cn_jsonw_key(&w, "items");
    cn_jsonw_object_begin(&w);
    write_counts(&w, k.items);
    cn_jsonw_object_end(&w);
    cn_jsonw_key(&w, "oldest_joinable_age_s");
    cn_jsonw_double(&w, isnan(k.oldest_joinable_unix_s)
                            ? NAN
                            : unix_now() - k.oldest_joinable_unix_s);
    cn_jsonw_key(&w, "step");
    if (step)
        cn_jsonw_u64(&w, step);
    else
        cn_jsonw_null(&w);
    cn_jsonw_key(&w, "cells");
    cn_jsonw_array_begin(&w);
    for (size_t i = 0; i < n; i++) {
        const cn_feedback_cell_summary_t *c = &cells[i];
        cn_jsonw_object_begin(&w);
        cn_jsonw_key(&w, "role");
        cn_jsonw_cstr(&w, cn_role_name(c->role));
        cn_jsonw_key(&w, "version");
        cn_jsonw_cstr(&w, c->version);
        cn_jsonw_key(&w, "segment");
        cn_jsonw_cstr(&w, c->segment);
        for (size_t m = 0; m < cfg->n_metrics; m++) {
            if (cfg->metrics[m].kind == CN_FEEDBACK_LABEL) {
                for (int d = 0; d < CN_FEEDBACK_DERIVED; d++)
                    estimate(&w, cn_feedback_derived[d], &c->label[d]);
                cn_jsonw_key(&w, cfg->metrics[m].name);
                cn_jsonw_object_begin(&w);
                cn_jsonw_key(&w, "n");
                cn_jsonw_u64(&w, c->metric[m].n);
                cn_jsonw_object_end(&w);
            } else {
                estimate(&w, cfg->metrics[m].name, &c->metric[m]);
            }
        }
        cn_jsonw_object_end(&w);
    }
    cn_jsonw_array_end(&w);
    cn_jsonw_object_end(&w);
    cn_jsonw_newline(&w);
    cn_admin__response_json(&job->res, 200, &w);
    free(cells);
}

static void job_done(cn_admin_request_t *req, void *arg)
{
    feedback_job_t *job = arg;
    cn_admin_respond(req, &job->res);
    free(job->body);
    free(job);
}

static void handle_feedback(cn_admin_request_t *req)
{
    cn_admin_t *a = cn_admin_request_server(req);
    if (!a->feedback || !a->ops.join) {
        cn_admin__respond_error(req, 503, "feedback: this server joins no feedback");
        return;
    }
    const cn_http_message_t *msg = cn_admin_request_message(req);
    bool post = strcmp(req->method, "POST") == 0;
    if (post && cn_feedback_config(a->feedback)->n_metrics == 0) {
        cn_admin__respond_error(req, 400,
                                "feedback: no fed metrics are configured (name them in "
                                "feedback.metrics)");
        return;
    }
    feedback_job_t *job = cn_xcalloc(1, sizeof *job);
    if (post) {
        job->len = msg->body_len;
        job->body = cn_xmalloc(job->len + 1);
        memcpy(job->body, msg->body, job->len);
        job->body[job->len] = '\0';
    }
    int rc = cn_admin__offload(req, post ? post_work : get_work, job_done, job);
    if (rc) {
        free(job->body);
        free(job);
        cn_admin__respond_error(req, 503, "feedback: %s", uv_strerror(rc));
    }
}

void cn_admin__feedback_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET | CN_ADMIN_POST, "/v1/feedback",
                                           true, handle_feedback, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
