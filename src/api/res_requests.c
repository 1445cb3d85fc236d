/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /v1/requests/<id>: which version and segment served a request, for
 * joining labels that arrive later. The lookup asks every worker (a
 * cross-thread call that waits), so it runs on libuv's thread pool.
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "util/error.h"
#include "util/text.h"

#include <stdlib.h>
#include <string.h>

typedef struct lookup_job_s {
    char *id; /* decoded, owned */
    size_t id_len;
    cn_admin_response_t res;
} lookup_job_t;

static void lookup_work(cn_admin_request_t *req, void *arg)
{
    lookup_job_t *job = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    if (!a->ops.lookup) {
        cn_admin_response_error(&job->res, 404, "%s", CN_ADMIN__NO_DATA_PLANE);
        return;
    }
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    cn_router_lookup_t found;
    memset(&found, 0, sizeof found);
    int rc = a->ops.lookup(a->ops.ctx, job->id, job->id_len, &found);
    if (rc == CN_ENOTFOUND) {
        cn_admin_response_error(&job->res, 404,
                                "request id '%s' not found (only recent requests are "
                                "remembered)",
                                cn_text_quote(job->id, job->id_len, 64, quoted));
        return;
    }
    if (rc) {
        cn_admin_response_error(&job->res, 500, "lookup: %s", cn_strerror(rc));
        return;
    }
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    cn_api_lookup_write(&w, job->id, job->id_len, &found);
    cn_jsonw_newline(&w);
    job->res.status = 200;
    job->res.content_type = CN_ADMIN_JSON_TYPE;
    job->res.body = cn_jsonw_take(&w, &job->res.body_len);
}

static void lookup_done(cn_admin_request_t *req, void *arg)
{
    lookup_job_t *job = arg;
    cn_admin_respond(req, &job->res);
    free(job->id);
    free(job);
}

static void handle_lookup(cn_admin_request_t *req)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    size_t raw_len;
    const char *raw = cn_admin_request_wildcard(req, &raw_len);
    lookup_job_t *job = cn_xcalloc(1, sizeof *job);
    job->id = cn_xmalloc(raw_len + 1);
    if (!cn_api_percent_decode(raw, raw_len, false, job->id, &job->id_len)) {
        cn_admin__respond_error(req, 400, "request id: bad percent-encoding in '%s'",
                                cn_text_quote(raw, raw_len, 64, quoted));
        free(job->id);
        free(job);
        return;
    }
    int rc = cn_admin__offload(req, lookup_work, lookup_done, job);
    if (rc) {
        free(job->id);
        free(job);
        cn_admin__respond_error(req, 503, "lookup: %s", uv_strerror(rc));
    }
}

void cn_admin__requests_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET, "/v1/requests/*", true,
                                           handle_lookup, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
