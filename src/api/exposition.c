/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /metrics: a router snapshot in the Prometheus text format; see
 * exposition.h.
 *
 * The exposition reads only the cumulative half of each cell (counters
 * must never go down between scrapes); the per-step half is the judge's,
 * through /v1/samples. A scrape costs one snapshot, i.e. one merge of the
 * workers' shards, so scraping every few seconds is cheap for the data
 * plane.
 *
 * Counters are written for every cell even when zero, so that rate() has a
 * series to work on from the first scrape and an alert on, say, canary
 * timeouts does not wait for the first timeout to exist.
 */
#include "api/exposition.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

const double cn_admin_duration_buckets_s[] = {.0005, .001, .0025, .005, .01, .025, .05,
                                              .1,    .25,  .5,    1,    2.5, 5,    10};
const size_t cn_admin_n_duration_buckets =
    sizeof cn_admin_duration_buckets_s / sizeof cn_admin_duration_buckets_s[0];

static const char *const role_names[2] = {"stable", "canary"};

static const char *const failure_kinds[CN_ROUTER_FAIL_COUNT] = {
    "connect", "reset", "timeout", "bad_response", "unavailable"};

/* Indexed by cn_router_pred_t; [0] (ok) is not an error. */
static const char *const prediction_errors[CN_ROUTER_PRED_COUNT] = {
    NULL, "not_json", "missing", "not_number", "non_finite", "too_big"};

static const char *const reject_reasons[CN_ROUTER_REJECT_COUNT] = {
    "bad_request", "timeout", "body_too_large", "header_too_large", "max_connections"};

/* The version/role/segment labels of a cell, with room for one more. */
typedef struct cell_labels_s {
    cn_prom_label_t l[4];
} cell_labels_t;

static bool cell_labels(const cn_router_snapshot_t *s, const cn_router_cell_t *c,
                        cell_labels_t *out)
{
    if ((unsigned)c->role > CN_ROLE_CANARY)
        return false;
    const char *version = c->version ? c->version : s->version_name[c->role];
    out->l[0] = (cn_prom_label_t){"version", version ? version : role_names[c->role]};
    out->l[1] = (cn_prom_label_t){"role", role_names[c->role]};
    out->l[2] = (cn_prom_label_t){"segment", c->segment ? c->segment : ""};
    return true;
}

/* A counter family with one sample per cell: the field read by `get`. */
static void cell_counter(cn_prom_writer_t *w, const cn_router_snapshot_t *s,
                         const char *name, const char *help,
                         uint64_t (*get)(const cn_router_cell_t *c))
{
    cn_prom_family(w, name, CN_PROM_COUNTER, help);
    for (size_t i = 0; i < s->ncells; i++) {
        cell_labels_t cl;
        if (cell_labels(s, &s->cells[i], &cl))
            cn_prom_sample_u64(w, NULL, cl.l, 3, get(&s->cells[i]));
    }
}

static uint64_t get_requests(const cn_router_cell_t *c)
{
    return c->requests;
}

static uint64_t get_shadow(const cn_router_cell_t *c)
{
    return c->shadow_requests;
}

static uint64_t get_retries(const cn_router_cell_t *c)
{
    return c->retried_on_stable;
}

static uint64_t get_request_bytes(const cn_router_cell_t *c)
{
    return c->request_bytes;
}

static uint64_t get_response_bytes(const cn_router_cell_t *c)
{
    return c->response_bytes;
}

static void write_cells(cn_prom_writer_t *w, const cn_router_snapshot_t *s)
{
    cell_labels_t cl;

    cell_counter(w, s, "canary_requests_total",
                 "Requests each version was asked to answer, shadow copies included.",
                 get_requests);
    cell_counter(w, s, "canary_shadow_requests_total",
                 "Shadow copies sent to a version (their responses are discarded).",
                 get_shadow);

    cn_prom_family(w, "canary_responses_total", CN_PROM_COUNTER,
                   "Responses from the version's upstream by status code and class "
                   "(the router's own 502/504 are counted as upstream failures).");
    for (size_t i = 0; i < s->ncells; i++) {
        const cn_router_cell_t *c = &s->cells[i];
        if (!cell_labels(s, c, &cl))
            continue;
        for (size_t k = 0; k < c->ncodes; k++) {
            unsigned code = c->codes[k].code;
            if (code < 100 || code > 599)
                continue;
            char code_text[4], class_text[4];
            snprintf(code_text, sizeof code_text, "%u", code);
            snprintf(class_text, sizeof class_text, "%uxx", code / 100);
            cn_prom_label_t l[5] = {
                cl.l[0], cl.l[1], cl.l[2], {"code", code_text}, {"class", class_text}};
            cn_prom_sample_u64(w, NULL, l, 5, c->codes[k].count);
        }
    }

    cn_prom_family(w, "canary_upstream_failures_total", CN_PROM_COUNTER,
                   "Requests that got no usable upstream response, by kind.");
    for (size_t i = 0; i < s->ncells; i++) {
        if (!cell_labels(s, &s->cells[i], &cl))
            continue;
        for (int k = 0; k < CN_ROUTER_FAIL_COUNT; k++) {
            cl.l[3] = (cn_prom_label_t){"kind", failure_kinds[k]};
            cn_prom_sample_u64(w, NULL, cl.l, 4, s->cells[i].failures[k]);
        }
    }

    cell_counter(w, s, "canary_retries_total",
                 "Canary failures answered by retrying the request on stable.",
                 get_retries);
    cell_counter(w, s, "canary_request_bytes_total",
                 "Request bytes received from clients, head and body, per version "
                 "asked (a shadow copy counts again for canary).",
                 get_request_bytes);
    cell_counter(w, s, "canary_response_bytes_total",
                 "Response bytes received from the version's upstream, head and body.",
                 get_response_bytes);

    cn_prom_family(w, "canary_request_duration_seconds", CN_PROM_HISTOGRAM,
                   "Request duration, first byte in to last byte out.");
    for (size_t i = 0; i < s->ncells; i++)
        if (s->cells[i].latency && cell_labels(s, &s->cells[i], &cl))
            cn_prom_histogram(w, cl.l, 3, s->cells[i].latency,
                              cn_admin_duration_buckets_s, cn_admin_n_duration_buckets);

    cn_prom_family(w, "canary_prediction", CN_PROM_HISTOGRAM,
                   "Predictions read from model responses.");
    for (size_t i = 0; i < s->ncells; i++) {
        const cn_router_cell_t *c = &s->cells[i];
        if (!cell_labels(s, c, &cl))
            continue;
        if (c->prediction_le)
            cn_prom_histogram_cumulative(w, cl.l, 3, s->prediction_bounds,
                                         c->prediction_le, s->n_prediction_bounds,
                                         c->prediction_sum);
        else if (s->n_prediction_bounds == 0)
            /* No bounds configured: the +Inf bucket is every prediction. */
            cn_prom_histogram_cumulative(w, cl.l, 3, NULL,
                                         &c->predictions[CN_ROUTER_PRED_OK], 0,
                                         c->prediction_sum);
    }

    cn_prom_family(w, "canary_prediction_errors_total", CN_PROM_COUNTER,
                   "Responses whose prediction could not be read, by reason.");
    for (size_t i = 0; i < s->ncells; i++) {
        if (!cell_labels(s, &s->cells[i], &cl))
            continue;
        for (int r = 1; r < CN_ROUTER_PRED_COUNT; r++) {
            cl.l[3] = (cn_prom_label_t){"reason", prediction_errors[r]};
            cn_prom_sample_u64(w, NULL, cl.l, 4, s->cells[i].predictions[r]);
        }
    }
}

static void write_traffic(cn_prom_writer_t *w, const cn_router_snapshot_t *s)
{
    const cn_traffic_t *t = &s->traffic;
    cn_prom_family(w, "canary_traffic_canary_weight_percent", CN_PROM_GAUGE,
                   "Share of requests sent to canary, in percent.");
    cn_prom_sample_double(w, NULL, NULL, 0, t->canary_weight_bp / 100.0);
    cn_prom_family(w, "canary_traffic_shadow_percent", CN_PROM_GAUGE,
                   "Shadow mode: share of requests copied to canary, in percent.");
    cn_prom_sample_double(w, NULL, NULL, 0, t->shadow_bp / 100.0);
    cn_prom_family(w, "canary_traffic_mode", CN_PROM_GAUGE,
                   "The split mode: 1 for the mode in force, 0 for the others.");
    for (int m = 0; m < CN_TRAFFIC_MODE_COUNT; m++) {
        cn_prom_label_t l[1] = {{"mode", cn_traffic_mode_name((cn_traffic_mode_t)m)}};
        cn_prom_sample_u64(w, NULL, l, 1, (int)t->mode == m);
    }
    cn_prom_family(w, "canary_traffic_force_enabled", CN_PROM_GAUGE,
                   "1 if the force header is honoured.");
    cn_prom_sample_u64(w, NULL, NULL, 0, t->force_enabled);
    cn_prom_family(w, "canary_traffic_step", CN_PROM_GAUGE,
                   "Measurement step; increments on every traffic change.");
    cn_prom_sample_u64(w, NULL, NULL, 0, s->step);
    cn_prom_family(w, "canary_traffic_step_start_time_seconds", CN_PROM_GAUGE,
                   "When the current measurement step started, Unix time.");
    cn_prom_sample_double(w, NULL, NULL, 0, s->step_started_unix_s);
}

/* One sample per upstream address: up (gauge) or passive failures. */
static void upstream_family(cn_prom_writer_t *w, const cn_router_snapshot_t *s,
                            const char *name, cn_prom_type_t type, const char *help,
                            bool failures)
{
    cn_prom_family(w, name, type, help);
    for (size_t i = 0; i < s->nupstreams; i++) {
        const cn_router_upstream_state_t *u = &s->upstreams[i];
        if ((unsigned)u->role > CN_ROLE_CANARY)
            continue;
        cn_prom_label_t l[2] = {{"address", u->address ? u->address : ""},
                                {"role", role_names[u->role]}};
        cn_prom_sample_u64(w, NULL, l, 2, failures ? u->failures : (uint64_t)u->up);
    }
}

static void write_process(cn_prom_writer_t *w, const cn_router_snapshot_t *s)
{
    cn_prom_family(w, "canary_workers", CN_PROM_GAUGE, "Data plane worker threads.");
    cn_prom_sample_u64(w, NULL, NULL, 0, s->workers);
    cn_prom_family(w, "canary_connections_open", CN_PROM_GAUGE,
                   "Client connections open now.");
    cn_prom_sample_u64(w, NULL, NULL, 0, s->connections_open);
    cn_prom_family(w, "canary_connections_total", CN_PROM_COUNTER,
                   "Client connections accepted.");
    cn_prom_sample_u64(w, NULL, NULL, 0, s->connections_total);
    cn_prom_family(w, "canary_rejected_requests_total", CN_PROM_COUNTER,
                   "Client requests or connections refused before routing, by reason.");
    for (int r = 0; r < CN_ROUTER_REJECT_COUNT; r++) {
        cn_prom_label_t l[1] = {{"reason", reject_reasons[r]}};
        cn_prom_sample_u64(w, NULL, l, 1, s->rejects[r]);
    }

    upstream_family(w, s, "canary_upstream_up", CN_PROM_GAUGE,
                    "1 if the upstream address is taken as healthy.", false);
    upstream_family(w, s, "canary_upstream_failures_passive_total", CN_PROM_COUNTER,
                    "Failures seen on live traffic to the upstream address.", true);
}

int cn_admin_exposition(const cn_router_snapshot_t *s, cn_prom_writer_t *w)
{
    if (!s)
        return CN_EINVAL;
    write_cells(w, s);
    write_traffic(w, s);
    write_process(w, s);
    return w->error;
}
