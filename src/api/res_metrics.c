/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /metrics: the Prometheus exposition, open to scrapers. The snapshot
 * (which waits for every worker) and the rendering run on libuv's thread
 * pool, never on the admin loop, and ask the router only for counters and
 * histograms: a scrape copies no reservoir.
 */
#include "api/admin_internal.h"
#include "api/exposition.h"
#include "feedback/feedback.h"
#include "metrics/prom.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>

typedef struct scrape_s {
    cn_admin_response_t res;
} scrape_t;

/* The feedback join's counters: what happened to each fed item, and how
 * far back the request-id map still reaches. */
static int feedback_exposition(cn_feedback_t *fb, cn_prom_writer_t *w)
{
    cn_feedback_counters_t k;
    cn_feedback_counters(fb, &k);
    cn_prom_family(w, "canary_feedback_items_total", CN_PROM_COUNTER,
                   "feedback items posted to /v1/feedback, by what became of them: "
                   "accepted (joined), unknown (no remembered request has the id), "
                   "expired (older than feedback.ttl), duplicate (every value joined "
                   "before), invalid (a line that did not parse)");
    for (int o = 0; o < CN_FEEDBACK_OUTCOMES; o++) {
        cn_prom_label_t l = {"outcome",
                             cn_feedback_outcome_name((cn_feedback_outcome_t)o)};
        cn_prom_sample_u64(w, NULL, &l, 1, k.items[o]);
    }
    cn_prom_family(w, "canary_feedback_values_dropped_total", CN_PROM_COUNTER,
                   "fed values not kept: duplicate (that metric was joined to the "
                   "request before), unscored (a label for a request with no "
                   "recorded prediction), late (for a step no longer kept)");
    cn_prom_label_t why[3] = {
        {"reason", "duplicate"}, {"reason", "unscored"}, {"reason", "late"}};
    cn_prom_sample_u64(w, NULL, &why[0], 1, k.values_duplicate);
    cn_prom_sample_u64(w, NULL, &why[1], 1, k.labels_unscored);
    cn_prom_sample_u64(w, NULL, &why[2], 1, k.late);
    cn_prom_family(w, "canary_feedback_oldest_joinable_seconds", CN_PROM_GAUGE,
                   "when the oldest request the request-id map still remembers was "
                   "served (Unix seconds, as of the last join): feedback for an older "
                   "request is unknown, whatever feedback.ttl says");
    if (!isnan(k.oldest_joinable_unix_s))
        cn_prom_sample_double(w, NULL, NULL, 0, k.oldest_joinable_unix_s);
    return w->error;
}

static void scrape_work(cn_admin_request_t *req, void *arg)
{
    scrape_t *job = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    cn_prom_writer_t w;
    cn_prom_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
    int rc = 0;
    if (a->ops.snapshot) { /* canary control has no router: its own only */
        cn_router_snapshot_t *s = a->ops.snapshot(
            a->ops.ctx, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS);
        if (!s) {
            cn_prom_dispose(&w);
            cn_admin_response_error(&job->res, 503,
                                    "no snapshot of the router is available");
            return;
        }
        rc = cn_admin_exposition(s, &w);
        a->ops.snapshot_free(a->ops.ctx, s);
    }
    if (!rc && a->feedback)
        rc = feedback_exposition(a->feedback, &w);
    if (!rc)
        rc = cn_admin__lease_exposition(a, &w);
    if (!rc && a->ops.more_metrics)
        rc = a->ops.more_metrics(a->ops.more_ctx, &w);
    if (rc) {
        cn_prom_dispose(&w);
        cn_admin_response_error(&job->res, 500, "metrics: %s", cn_strerror(rc));
        return;
    }
    job->res.status = 200;
    job->res.content_type = CN_ADMIN_PROM_TYPE;
    job->res.body = cn_prom_take(&w, &job->res.body_len);
}

static void scrape_done(cn_admin_request_t *req, void *arg)
{
    scrape_t *job = arg;
    cn_admin_respond(req, &job->res);
    free(job);
}

static void handle_metrics(cn_admin_request_t *req)
{
    scrape_t *job = cn_xcalloc(1, sizeof *job);
    int rc = cn_admin__offload(req, scrape_work, scrape_done, job);
    if (rc) {
        free(job);
        cn_admin__respond_error(req, 503, "metrics: %s", uv_strerror(rc));
    }
}

void cn_admin__metrics_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET, "/metrics", false,
                                           handle_metrics, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
