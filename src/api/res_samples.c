/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /v1/samples: the measurements the judge reads (see cn_api_samples_write
 * in api/codec.h). The snapshot and the rendering, which for full
 * reservoirs is the heaviest thing the API does, run on libuv's thread
 * pool. The step window asks for everything; window=all for counters and
 * histograms only.
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "util/error.h"

#include <stdlib.h>

typedef struct samples_job_s {
    bool all;
    cn_admin_response_t res;
} samples_job_t;

static void samples_work(cn_admin_request_t *req, void *arg)
{
    samples_job_t *job = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    if (!a->ops.snapshot) {
        cn_admin_response_error(&job->res, 404, "%s", CN_ADMIN__NO_DATA_PLANE);
        return;
    }
    unsigned mask = job->all ? CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS
                             : CN_ROUTER_SNAP_ALL;
    cn_router_snapshot_t *s = a->ops.snapshot(a->ops.ctx, mask);
    if (!s) {
        cn_admin_response_error(&job->res, 503,
                                "no snapshot of the router is available");
        return;
    }
    cn_jsonw_t w;
    cn_jsonw_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
    cn_api_samples_write(&w, s, job->all);
    a->ops.snapshot_free(a->ops.ctx, s);
    cn_admin__response_json(&job->res, 200, &w);
}

static void samples_done(cn_admin_request_t *req, void *arg)
{
    samples_job_t *job = arg;
    cn_admin_respond(req, &job->res);
    free(job);
}

static void handle_samples(cn_admin_request_t *req)
{
    size_t qlen;
    const char *query = cn_admin_request_query(req, &qlen);
    char err[256];
    bool all;
    if (cn_api_samples_query_parse(query, qlen, &all, err, sizeof err)) {
        cn_admin__respond_error(req, 400, "%s", err);
        return;
    }
    samples_job_t *job = cn_xcalloc(1, sizeof *job);
    job->all = all;
    int rc = cn_admin__offload(req, samples_work, samples_done, job);
    if (rc) {
        free(job);
        cn_admin__respond_error(req, 503, "samples: %s", uv_strerror(rc));
    }
}

void cn_admin__samples_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET, "/v1/samples", true,
                                           handle_samples, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
