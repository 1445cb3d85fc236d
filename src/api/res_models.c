/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /v1/models: the model registry, over the state file (store/store.h).
 *
 *   GET  /v1/models                                    the models
 *   POST /v1/models {"name": "fraud"}                  register a model
 *   GET  /v1/models/{m}                                one model, its versions
 *   POST /v1/models/{m}/versions {version, addresses,  register a version
 *        artifact, metadata}                           (and the model)
 *   GET  /v1/models/{m}/versions/{v}                   one version
 *   PUT|DELETE /v1/models/{m}/versions/{v}/tags/{tag}  tag, untag
 *
 * Every store call does disk I/O (a write ends with an fsync), so each
 * request runs on the thread pool (cn_admin__offload) and the admin loop
 * never waits. Answers: 200 (201 for a registration), 400 naming the
 * field, 404 for an unknown model or version, 409 when the stored state
 * refuses (a stable tag during an active rollout), 503 without a state
 * file (--state): the registry lives in it.
 *
 * Tags go through the registry's rules (registry/registry.h). On the
 * model this canary serve fronts, a tag acts before it is answered: a
 * stable tag switches the router's stable set through the control loop (a
 * manual cut-over; the answer is the versions then live), and
 * production-candidate starts a rollout (the answer is the rollout).
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "util/error.h"
#include "util/text.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* What one request asks for, decoded on the admin loop. */
typedef enum {
    OP_LIST,
    OP_ADD_MODEL,
    OP_GET_MODEL,
    OP_ADD_VERSION,
    OP_GET_VERSION,
    OP_TAG,
    OP_UNTAG
} op_t;

typedef struct models_job_s {
    op_t op;
    char model[CN_STORE_NAME_MAX + 1];
    char version[CN_VERSION_LABEL_MAX + 1];
    cn_store_tag_t tag;
    char who[CN_STORE_WHO_MAX + 1];
    char *body; /* owned copy (POST) */
    size_t body_len;
    cn_admin_response_t res;
    /* a tag's consequence, on the serve's model */
    bool start_rollout, publish;
    cn_version_set_t sets[CN_ROLE_COUNT];
} models_job_t;

static void answer_version(models_job_t *job, cn_store_t *s, unsigned status)
{
    char err[512];
    cn_store_version_t v;
    cn_store_version_init(&v);
    int rc = cn_store_version_get(s, job->model, job->version, &v, err, sizeof err);
    if (rc) {
        cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
    } else {
        cn_jsonw_t w;
        cn_jsonw_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
        cn_api_version_write(&w, &v);
        cn_admin__response_json(&job->res, status, &w);
    }
    cn_store_version_dispose(&v);
}

static void answer_model(models_job_t *job, cn_store_t *s, unsigned status)
{
    char err[512];
    cn_store_model_t m;
    int rc = cn_store_model_get(s, job->model, &m, err, sizeof err);
    if (rc) {
        cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
        return;
    }
    static const size_t page = CN_STORE_PAGE_MAX;
    cn_store_version_t *vs = cn_xcalloc(page, sizeof *vs);
    size_t n = 0, total = 0;
    rc = cn_store_version_list(s, job->model, 0, vs, page, &n, &total, err, sizeof err);
    if (rc) {
        cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
    } else {
        cn_jsonw_t w;
        cn_jsonw_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
        cn_api_model_write(&w, &m, vs, n);
        cn_admin__response_json(&job->res, status, &w);
    }
    for (size_t i = 0; i < n; i++)
        cn_store_version_dispose(&vs[i]);
    free(vs);
}

/* On the thread pool. */
static void models_work(cn_admin_request_t *req, void *arg)
{
    models_job_t *job = arg;
    cn_store_t *s = cn_admin_request_server(req)->store;
    char err[512];
    int rc;
    switch (job->op) {
    case OP_LIST: {
        static const size_t page = CN_STORE_PAGE_MAX;
        cn_store_model_t *ms = cn_xcalloc(page, sizeof *ms);
        size_t n = 0;
        rc = cn_store_model_list(s, NULL, ms, page, &n, err, sizeof err);
        if (rc) {
            cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
        } else {
            cn_jsonw_t w;
            cn_jsonw_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
            cn_api_models_write(&w, ms, n);
            cn_admin__response_json(&job->res, 200, &w);
        }
        free(ms);
        return;
    }
    case OP_ADD_MODEL:
        rc = cn_store_model_add(s, job->model, job->who, err, sizeof err);
        if (rc)
            cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
        else
            answer_model(job, s, 201);
        return;
    case OP_GET_MODEL:
        answer_model(job, s, 200);
        return;
    case OP_ADD_VERSION: {
        cn_store_version_t v;
        cn_store_version_init(&v);
        snprintf(v.model, sizeof v.model, "%s", job->model);
        rc = cn_api_version_parse(job->body, job->body_len, &v, err, sizeof err);
        if (!rc)
            rc = cn_store_version_add(s, &v, job->who, NULL, err, sizeof err);
        if (!rc)
            snprintf(job->version, sizeof job->version, "%s", v.set.version);
        cn_store_version_dispose(&v);
        if (rc)
            cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
        else
            answer_version(job, s, 201);
        return;
    }
    case OP_GET_VERSION:
        answer_version(job, s, 200);
        return;
    case OP_TAG:
    case OP_UNTAG: {
        cn_admin_t *a = cn_admin_request_server(req);
        cn_registry_tag_result_t tr;
        memset(&tr, 0, sizeof tr);
        rc = job->op == OP_TAG
                 ? cn_registry_tag(a->registry, job->model, job->version,
                                   cn_store_tag_name(job->tag), job->who, &tr, err,
                                   sizeof err)
                 : cn_registry_untag(a->registry, job->model, job->version,
                                     cn_store_tag_name(job->tag), job->who, &tr, err,
                                     sizeof err);
        if (rc) {
            cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
            return;
        }
        bool ours = cn_admin__drives(a, job->model);
        if (ours && job->op == OP_TAG && tr.start_rollout) {
            job->start_rollout = true;
            answer_version(job, s, 200); /* the answer once it started */
            return;
        }
        if (ours && tr.publish) {
            for (int r = 0; r < CN_ROLE_COUNT; r++)
                cn_version_set_init(&job->sets[r], "");
            if (cn_registry_sets(a->registry, job->model, job->sets, NULL, err,
                                 sizeof err) == 0) {
                job->publish = true;
                return;
            }
            for (int r = 0; r < CN_ROLE_COUNT; r++)
                cn_version_set_dispose(&job->sets[r]);
            cn_admin_response_error(&job->res, 500, "tagged, but not applied: %s", err);
            return;
        }
        answer_version(job, s, 200);
        return;
    }
    }
}

static void models_done(cn_admin_request_t *req, void *arg)
{
    models_job_t *job = arg;
    if (job->start_rollout && job->res.status == 200) {
        cn_admin__rollout_start(req, job->model, job->version, &job->res);
    } else if (job->publish) {
        /* the registry's stable moved: the router follows (a cut-over) */
        cn_controller_change_t change;
        cn_controller_change_init(&change, job->who);
        for (int r = 0; r < CN_ROLE_COUNT; r++) {
            change.has_set[r] = true;
            cn_version_set_copy(&change.sets[r], &job->sets[r]);
            cn_version_set_dispose(&job->sets[r]);
        }
        cn_admin__submit_to(req, cn_admin__controller_for(req->admin, job->model),
                            &change, cn_api_versions_write);
        cn_controller_change_dispose(&change);
    } else {
        cn_admin_respond(req, &job->res);
    }
    free(job->body);
    free(job);
}

/* Path parameter i, percent-decoded into out (size len, NUL-terminated);
 * false after answering 400 naming `what`. */
static bool param(cn_admin_request_t *req, size_t i, const char *what, char *out,
                  size_t len)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    size_t raw_len, n = 0;
    const char *raw = cn_admin_request_param(req, i, &raw_len);
    char *tmp = cn_xmalloc(raw_len + 1);
    bool ok = cn_api_percent_decode(raw, raw_len, false, tmp, &n) && n < len &&
              !memchr(tmp, '\0', n);
    if (ok) {
        memcpy(out, tmp, n);
        out[n] = '\0';
    } else {
        cn_admin__respond_error(
            req, 400, "%s: bad percent-encoding, or longer than %zu bytes: '%s'", what,
            len - 1, cn_text_quote(raw, raw_len, 64, quoted));
    }
    free(tmp);
    return ok;
}

static void start(cn_admin_request_t *req, models_job_t *job)
{
    cn_admin_t *a = cn_admin_request_server(req);
    if (!a->store) {
        cn_admin__respond_error(req, 503,
                                "the model registry lives in the state file: start "
                                "canary serve with --state PATH");
        free(job->body);
        free(job);
        return;
    }
    char who[CN_CONTROLLER_WHO_MAX + 1];
    cn_admin__who(req, who, sizeof who);
    snprintf(job->who, sizeof job->who, "%s", who);
    int rc = cn_admin__offload(req, models_work, models_done, job);
    if (rc) {
        free(job->body);
        free(job);
        cn_admin__respond_error(req, 503, "registry: %s", uv_strerror(rc));
    }
}

static models_job_t *job_new(op_t op)
{
    models_job_t *job = cn_xcalloc(1, sizeof *job);
    job->op = op;
    return job;
}

static void handle_models(cn_admin_request_t *req)
{
    const cn_http_message_t *msg = cn_admin_request_message(req);
    if (msg->method != HTTP_POST) {
        start(req, job_new(OP_LIST));
        return;
    }
    /* POST {"name": "fraud"} */
    json_error_t je;
    json_t *j = json_loadb(msg->body ? msg->body : "", msg->body_len, 0, &je);
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!json_is_object(j) || !name || json_object_size(j) != 1) {
        cn_admin__respond_error(req, 400, "body: expected {\"name\": \"MODEL\"}");
        json_decref(j);
        return;
    }
    if (strlen(name) > CN_STORE_NAME_MAX) {
        cn_admin__respond_error(req, 400, "name: longer than %d bytes",
                                CN_STORE_NAME_MAX);
        json_decref(j);
        return;
    }
    models_job_t *job = job_new(OP_ADD_MODEL);
    snprintf(job->model, sizeof job->model, "%s", name);
    json_decref(j);
    start(req, job);
}

static void handle_model(cn_admin_request_t *req)
{
    models_job_t *job = job_new(OP_GET_MODEL);
    if (!param(req, 0, "model", job->model, sizeof job->model)) {
        free(job);
        return;
    }
    start(req, job);
}

static void handle_versions(cn_admin_request_t *req)
{
    const cn_http_message_t *msg = cn_admin_request_message(req);
    models_job_t *job = job_new(OP_ADD_VERSION);
    if (!param(req, 0, "model", job->model, sizeof job->model)) {
        free(job);
        return;
    }
    job->body = cn_xmalloc(msg->body_len + 1);
    memcpy(job->body, msg->body ? msg->body : "", msg->body_len);
    job->body[msg->body_len] = '\0';
    job->body_len = msg->body_len;
    start(req, job);
}

static void handle_version(cn_admin_request_t *req)
{
    models_job_t *job = job_new(OP_GET_VERSION);
    if (!param(req, 0, "model", job->model, sizeof job->model) ||
        !param(req, 1, "version", job->version, sizeof job->version)) {
        free(job);
        return;
    }
    start(req, job);
}

static void handle_tag(cn_admin_request_t *req)
{
    /* a tag moves traffic or starts a rollout: on a replica a controller
     * manages, the controller's registry holds the tags */
    if (cn_admin__managed_refuse(req))
        return;
    const cn_http_message_t *msg = cn_admin_request_message(req);
    models_job_t *job = job_new(msg->method == HTTP_DELETE ? OP_UNTAG : OP_TAG);
    char tag[64];
    if (!param(req, 0, "model", job->model, sizeof job->model) ||
        !param(req, 1, "version", job->version, sizeof job->version) ||
        !param(req, 2, "tag", tag, sizeof tag)) {
        free(job);
        return;
    }
    if (cn_store_tag_parse(tag, &job->tag)) {
        char quoted[CN_TEXT_QUOTE_BUF(64)];
        cn_admin__respond_error(req, 400,
                                "tag: unknown '%s' (expected stable, "
                                "production-candidate, rolled-back or retired)",
                                cn_text_quote(tag, strlen(tag), 64, quoted));
        free(job);
        return;
    }
    if (job->tag == CN_STORE_TAG_ROLLED_BACK || job->tag == CN_STORE_TAG_RETIRED) {
        cn_admin__respond_error(
            req, 400,
            "tag: '%s' is set by the rollout controller, not by hand "
            "(people set stable and production-candidate)",
            cn_store_tag_name(job->tag));
        free(job);
        return;
    }
    start(req, job);
}

void cn_admin__models_routes(cn_admin_t *a)
{
    static const cn_admin_route_t routes[] = {
        {CN_ADMIN_GET | CN_ADMIN_POST, "/v1/models", true, handle_models, NULL},
        {CN_ADMIN_GET, "/v1/models/*", true, handle_model, NULL},
        {CN_ADMIN_POST, "/v1/models/*/versions", true, handle_versions, NULL},
        {CN_ADMIN_GET, "/v1/models/*/versions/*", true, handle_version, NULL},
        {CN_ADMIN_PUT | CN_ADMIN_DELETE, "/v1/models/*/versions/*/tags/*", true,
         handle_tag, NULL},
    };
    char err[128];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (cn_admin_add_route(a, &routes[i], err, sizeof err))
            abort();
}
