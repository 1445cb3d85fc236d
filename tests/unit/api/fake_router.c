/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The admin API tests' stand-in router; see fake_router.h. */
#include "fake_router.h"
#include "metrics/metrics.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double prediction_bounds[] = {0.25, 0.5, 0.75};

void fake_router_init(fake_router_t *f)
{
    memset(f, 0, sizeof *f);
    f->traffic.canary_weight_bp = 250;
    f->traffic.shadow_bp = 10000;
    f->traffic.mode = CN_TRAFFIC_MODE_RANDOM;
    f->traffic.force_enabled = false;
    f->step = 7;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

void fake_router_pass_gate(fake_router_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->waiting++;
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed)
        pthread_cond_wait(&f->cv, &f->mu);
    f->waiting--;
    pthread_mutex_unlock(&f->mu);
}

static cn_router_snapshot_t *ops_snapshot(void *ctx, unsigned mask)
{
    fake_router_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->last_mask = mask;
    pthread_mutex_unlock(&f->mu);
    fake_router_pass_gate(f);
    pthread_mutex_lock(&f->mu);
    if (f->no_snapshot) {
        pthread_mutex_unlock(&f->mu);
        return NULL;
    }
    f->snapshots_live++;
    pthread_mutex_unlock(&f->mu);
    return fake_router_snapshot(f);
}

static void ops_snapshot_free(void *ctx, cn_router_snapshot_t *s)
{
    fake_router_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->snapshots_live--;
    pthread_mutex_unlock(&f->mu);
    fake_router_snapshot_free(s);
}

void fake_router_close_gate(fake_router_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->gate_closed = true;
    pthread_mutex_unlock(&f->mu);
}

void fake_router_wait_at_gate(fake_router_t *f, unsigned n)
{
    pthread_mutex_lock(&f->mu);
    while (f->waiting < n)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

void fake_router_open_gate(fake_router_t *f)
{
    pthread_mutex_lock(&f->mu);
    f->gate_closed = false;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static int ops_lookup(void *ctx, const char *id, size_t len, cn_router_lookup_t *out)
{
    (void)ctx;
    /* The second id needs percent-decoding in a URL path. */
    static const char *const known[] = {FAKE_KNOWN_ID, "a b/c"};
    bool found = false;
    for (size_t i = 0; i < 2; i++)
        found = found || (len == strlen(known[i]) && memcmp(id, known[i], len) == 0);
    if (!found)
        return CN_ENOTFOUND;
    memset(out, 0, sizeof *out);
    out->role = CN_ROLE_CANARY;
    strcpy(out->version, "v2");
    strcpy(out->segment, "eu");
    out->unix_s = 1700000001.25;
    out->shadowed = false;
    return 0;
}

cn_admin_ops_t fake_router_ops(fake_router_t *f)
{
    cn_admin_ops_t ops = {ops_snapshot, ops_snapshot_free, ops_lookup, NULL, f, NULL,
                          NULL};
    return ops;
}

static double *copy_values(const double *v, size_t n)
{
    if (!n)
        return NULL;
    double *out = cn_xmallocarray(n, sizeof *out);
    memcpy(out, v, n * sizeof *out);
    return out;
}

static char *copy_string(const char *s)
{
    char *out = cn_xmalloc(strlen(s) + 1);
    strcpy(out, s);
    return out;
}

static void record(cn_metrics_hist_t *h, uint64_t value_us, unsigned times)
{
    for (unsigned i = 0; i < times; i++)
        cn_metrics_hist_record(h, value_us);
}

static void init_cell(cn_router_cell_t *c, cn_role_t role, const char *segment)
{
    memset(c, 0, sizeof *c);
    c->role = role;
    c->segment = copy_string(segment);
    c->latency = cn_xmalloc(sizeof *c->latency);
    c->step_latency = cn_xmalloc(sizeof *c->step_latency);
    cn_metrics_hist_init(c->latency);
    cn_metrics_hist_init(c->step_latency);
    c->prediction_le = cn_xcalloc(4, sizeof *c->prediction_le);
}

static void set_codes(cn_router_cell_t *c, const cn_router_code_count_t *codes,
                      size_t n)
{
    c->codes = cn_xmallocarray(n, sizeof *c->codes);
    memcpy(c->codes, codes, n * sizeof *codes);
    c->ncodes = n;
}

cn_router_snapshot_t *fake_router_snapshot(const fake_router_t *f)
{
    cn_router_snapshot_t *s = cn_xcalloc(1, sizeof *s);
    s->traffic = f->traffic;
    s->step = f->step;
    s->step_started_unix_s = 1700000000.5;
    s->now_unix_s = 1700000060.25;
    s->version_name[0] = "v1";
    s->version_name[1] = "v2";
    s->workers = 2;
    s->connections_open = 3;
    s->connections_total = 120;
    s->rejects[CN_ROUTER_REJECT_BAD_REQUEST] = 1;
    s->rejects[CN_ROUTER_REJECT_BODY_TOO_BIG] = 2;
    s->rejects[CN_ROUTER_REJECT_MAX_CONNECTIONS] = 5;
    s->prediction_bounds = prediction_bounds;
    s->n_prediction_bounds = 3;
    if (f->empty_snapshot)
        return s;

    s->ncells = 3;
    s->cells = cn_xcalloc(3, sizeof *s->cells);

    cn_router_cell_t *c = &s->cells[0];
    init_cell(c, CN_ROLE_STABLE, "");
    c->requests = 100;
    set_codes(c, (cn_router_code_count_t[]){{200, 95}, {503, 3}}, 2);
    c->responses_by_class[2] = 95;
    c->responses_by_class[5] = 3;
    c->failures[CN_ROUTER_FAIL_CONNECT] = 1;
    c->failures[CN_ROUTER_FAIL_TIMEOUT] = 1;
    c->request_bytes = 12345;
    c->response_bytes = 67890;
    c->predictions[CN_ROUTER_PRED_OK] = 90;
    c->predictions[CN_ROUTER_PRED_NOT_JSON] = 2;
    c->predictions[CN_ROUTER_PRED_MISSING] = 1;
    c->prediction_sum = 45.5;
    memcpy(c->prediction_le, (uint64_t[]){20, 50, 80, 90}, 4 * sizeof(uint64_t));
    record(c->latency, 1000, 50);
    record(c->latency, 3000, 48);
    c->step_requests = 40;
    c->step_errors = 2;
    record(c->step_latency, 1000, 20);
    record(c->step_latency, 3000, 20);
    c->step_latency_us = copy_values((double[]){1000, 3000, 1200}, 3);
    c->n_step_latency = 3;
    c->step_predictions = copy_values((double[]){0.1, 0.5, 0.9}, 3);
    c->n_step_predictions = 3;
    c->step_predictions_seen = 30;

    c = &s->cells[1];
    init_cell(c, CN_ROLE_STABLE, "eu \"west\"\n");
    c->requests = 10;
    set_codes(c, (cn_router_code_count_t[]){{200, 10}}, 1);
    c->responses_by_class[2] = 10;
    record(c->latency, 500, 10);

    c = &s->cells[2];
    init_cell(c, CN_ROLE_CANARY, "");
    c->requests = 20;
    c->shadow_requests = 15;
    set_codes(c, (cn_router_code_count_t[]){{200, 18}, {500, 1}}, 2);
    c->responses_by_class[2] = 18;
    c->responses_by_class[5] = 1;
    c->failures[CN_ROUTER_FAIL_RESET] = 1;
    c->retried_on_stable = 1;
    c->predictions[CN_ROUTER_PRED_OK] = 19;
    c->predictions[CN_ROUTER_PRED_NON_FINITE] = 1;
    c->prediction_sum = 9.5;
    memcpy(c->prediction_le, (uint64_t[]){5, 10, 15, 19}, 4 * sizeof(uint64_t));
    record(c->latency, 2000, 19);
    c->step_requests = 20;
    c->step_errors = 2;
    record(c->step_latency, 2000, 19);
    c->step_latency_us = copy_values((double[]){2000, 2100}, 2);
    c->n_step_latency = 2;
    c->step_predictions = copy_values((double[]){0.45, 0.55}, 2);
    c->n_step_predictions = 2;
    c->step_predictions_seen = 19;
    c->requests += f->canary_more;
    c->responses_by_class[2] += f->canary_more - f->canary_more_errors;
    c->responses_by_class[5] += f->canary_more_errors;
    record(c->latency, 9000, (unsigned)f->canary_more);

    s->npairs = 2;
    s->pairs = cn_xcalloc(2, sizeof *s->pairs);
    strcpy(s->pairs[0].request_id, "req-1");
    s->pairs[0].stable = 0.1;
    s->pairs[0].canary = 0.2;
    strcpy(s->pairs[1].request_id, "req-2");
    s->pairs[1].stable = 0.7;
    s->pairs[1].canary = 0.6;

    s->nupstreams = 2;
    s->upstreams = cn_xcalloc(2, sizeof *s->upstreams);
    s->upstreams[0] = (cn_router_upstream_state_t){copy_string("127.0.0.1:9001"),
                                                   CN_ROLE_STABLE, true, true, 0};
    s->upstreams[1] = (cn_router_upstream_state_t){copy_string("127.0.0.1:9002"),
                                                   CN_ROLE_CANARY, false, true, 4};
    return s;
}

void fake_router_snapshot_free(cn_router_snapshot_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncells; i++) {
        free(s->cells[i].segment);
        free(s->cells[i].codes);
        free(s->cells[i].latency);
        free(s->cells[i].step_latency);
        free(s->cells[i].prediction_le);
        free(s->cells[i].step_latency_us);
        free(s->cells[i].step_predictions);
    }
    free(s->cells);
    free(s->pairs);
    for (size_t i = 0; i < s->nupstreams; i++)
        free(s->upstreams[i].address);
    free(s->upstreams);
    free(s);
}
