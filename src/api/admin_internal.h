/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin server's state, shared by admin.c (sockets, libuv), routes.c
 * (the route table and dispatch), change.c (PUTs to the controller) and the
 * resource files (res_health.c, res_metrics.c, res_traffic.c,
 * res_versions.c, res_samples.c, res_requests.c, res_series.c,
 * res_events.c, res_ui.c; named apart from other modules' objects, which
 * share one archive). Not for other modules: use
 * api/admin.h.
 */
#ifndef CN_API_ADMIN_INTERNAL_H
#define CN_API_ADMIN_INTERNAL_H

#include "api/admin.h"
#include "api/jsonw.h"
#include "http/server.h"

#include <pthread.h>
#include <stdio.h>
#include <uv.h>

typedef struct cn_admin__stream_s cn_admin__stream_t;
typedef struct cn_admin__series_s cn_admin__series_t;
typedef struct cn_admin__lease_s cn_admin__lease_t;

#define CN_ADMIN_JSON_TYPE "application/json"
#define CN_ADMIN_PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct cn_admin_request_s {
    cn_admin_t *admin;
    cn_http_req_t *conn;          /* NULL once the connection is gone, or
                                     for cn_admin_handle */
    const cn_http_message_t *msg; /* during the handler only */
    const cn_admin_route_t *route;
    /* during the handler only: the segments matched by the pattern's
     * '*'s, in order, and the query */
    const char *params[CN_ADMIN_MAX_PARAMS], *query;
    size_t param_len[CN_ADMIN_MAX_PARAMS], nparams, query_len;
    char peer[64];
    char method[16];
    char url[200]; /* for the reject log line, cut */
    size_t url_len;
    bool head_only, keep_alive;
    cn_admin_response_t res;       /* the answer, once given */
    cn_admin_response_t *sync_out; /* cn_admin_handle: where it goes */
    bool answered;
    struct cn_admin_request_s *next; /* answers posted from other threads */
};

/* What a data plane's resource answers in canary control (404). */
#define CN_ADMIN__NO_DATA_PLANE                                                        \
    "canary control has no data plane of its own: ask the data planes (canary "        \
    "serve replicas, HAProxy, the mesh) for traffic, versions and samples, and use "   \
    "/v1/rollouts here"

/* One model a controller drives (canary control). */
typedef struct cn_admin__model_s {
    char name[CN_STORE_NAME_MAX + 1];
    cn_controller_t *controller;   /* borrowed */
    const cn_strategy_t *strategy; /* borrowed */
} cn_admin__model_t;

struct cn_admin_s {
    /* settings */
    char *token; /* owned */
    size_t token_len;
    cn_admin_ops_t ops;
    cn_controller_t *controller;       /* borrowed */
    cn_store_t *store;                 /* borrowed; NULL: no registry (no --state) */
    cn_registry_t *registry;           /* owned; over store */
    const cn_strategy_t *strategy;     /* borrowed; NULL: none configured */
    struct cn_feedback_s *feedback;    /* borrowed; NULL: no /v1/feedback */
    char model[CN_STORE_NAME_MAX + 1]; /* the model this serve fronts; "" none */
    /* canary control: one controller per model (cn_admin_add_model);
     * controller is then NULL and model "". Set before run, then read
     * only. */
    cn_admin__model_t *models;
    size_t nmodels;
    FILE *log;
    uint32_t idle_timeout_ms, request_timeout_ms;
    char address[80];
    cn_admin_route_t routes[CN_ADMIN_MAX_ROUTES];
    size_t nroutes;
    void *owned[CN_ADMIN_MAX_ROUTES]; /* route data the server frees */
    size_t nowned;

    /* loop (admin.c) */
    uv_loop_t loop;
    cn_http_server_t *server; /* the connections (http/server.h) */
    uv_async_t stop_async;
    uv_async_t answer_async; /* answers posted from other threads */
    pthread_t loop_thread;   /* whose thread runs the loop now */
    bool loop_thread_set;
    pthread_mutex_t answer_mu; /* guards answers */
    cn_admin_request_t *answers_head, *answers_tail;
    unsigned outstanding;        /* requests not answered yet; loop thread */
    bool ran;                    /* cn_admin_run was called */
    cn_admin__stream_t *streams; /* open event streams (admin.c); loop thread */
    unsigned nstreams;
    cn_admin__series_t *series; /* the sampler and its ring (series.c) */
    cn_admin__lease_t *lease;   /* the controller's lease (res_remote.c) */
    bool stopping;              /* handles are being closed */
    bool answer_closed;
};

/* The controller that drives model (NULL: the only one, canary serve's):
 * canary serve's whatever the name (it answers for another model itself);
 * in canary control the model's, or NULL when no controller drives it.
 * Any thread (read only after start). */
cn_controller_t *cn_admin__controller_for(const cn_admin_t *a, const char *model);
/* The strategy rollouts of model run (NULL: none configured). */
const cn_strategy_t *cn_admin__strategy_for(const cn_admin_t *a, const char *model);
/* Whether this server drives model: canary serve's own model, or one of
 * canary control's. */
bool cn_admin__drives(const cn_admin_t *a, const char *model);
/* The live view of model's active rollout (zeroed when none). */
void cn_admin__live_for(const cn_admin_t *a, const char *model,
                        cn_controller_live_t *out);

/* Log one rejected request ("admin: 401 PUT /v1/traffic from 1.2.3.4"). */
void cn_admin__log_reject(cn_admin_t *a, unsigned status, const char *method,
                          const char *url, size_t url_len, const char *peer);

/* A new request for msg (routes.c fills the route part); counted as
 * outstanding until answered. Loop thread. */
cn_admin_request_t *cn_admin__request_new(cn_admin_t *a, const cn_http_message_t *msg,
                                          const char *peer);

/* The request carried a valid token: its connection is privileged (evicted
 * last at the connection limit). Loop thread. */
void cn_admin__authenticated(cn_admin_request_t *req);

/* Route and run the handler (routes.c). Loop thread. */
void cn_admin__dispatch(cn_admin_request_t *req);

/* Deliver an answer on the loop thread: to the connection, or to
 * cn_admin_handle's caller (admin.c). Frees the request. */
void cn_admin__deliver(cn_admin_request_t *req);

/* Register the built-in routes (routes.c). */
void cn_admin__add_builtin_routes(cn_admin_t *a);

/*
 * Run fn(req, arg) on libuv's thread pool, then after(req, arg) on the
 * admin loop. For the router ops, which block. 0, or a libuv error (then
 * neither runs).
 */
typedef void (*cn_admin__work_fn)(cn_admin_request_t *req, void *arg);
int cn_admin__offload(cn_admin_request_t *req, cn_admin__work_fn fn,
                      cn_admin__work_fn after, void *arg);

/* Take a finished JSON body (with a final newline, for curl users); an
 * overflowed writer becomes a 500. */
void cn_admin__respond_json(cn_admin_request_t *req, unsigned status, cn_jsonw_t *w);
/* The same into *res (for work on the thread pool, answered later). */
void cn_admin__response_json(cn_admin_response_t *res, unsigned status, cn_jsonw_t *w);
/* A module's error code as an HTTP status: CN_EINVAL 400, CN_ENOTFOUND
 * 404, CN_ECONFLICT 409, anything else 500. */
unsigned cn_admin__status_of(int rc);
/* Answer an error {"error": "..."}. */
void cn_admin__respond_error(cn_admin_request_t *req, unsigned status, const char *fmt,
                             ...) __attribute__((format(printf, 3, 4)));

/* How a resource renders the state after a change (change.c). */
typedef void (*cn_admin__render_fn)(cn_jsonw_t *w, const cn_generation_t *g,
                                    uint64_t step);

/* Send change (copied) to the controller; answer req with render's body
 * when it is applied, 400 when refused, 500 when it failed, 503 when the
 * controller takes no more (change.c). Loop thread. */
void cn_admin__submit_to(cn_admin_request_t *req, cn_controller_t *controller,
                         const cn_controller_change_t *change,
                         cn_admin__render_fn render);
void cn_admin__submit(cn_admin_request_t *req, const cn_controller_change_t *change,
                      cn_admin__render_fn render);

/* How a resource reads a PUT body into a change (api/codec.h). */
typedef int (*cn_admin__parse_fn)(const char *body, size_t len,
                                  cn_controller_change_t *change, char *err,
                                  size_t errlen);

/* A resource that is a view of the current generation: GET answers
 * render's body of the controller's current state; PUT parses the body
 * with parse (400 naming the field on error) and submits the change as
 * cn_admin__submit does (change.c). */
void cn_admin__generation_resource(cn_admin_request_t *req, cn_admin__parse_fn parse,
                                   cn_admin__render_fn render);

/* "admin <peer>" into buf (change.c). */
void cn_admin__who(const cn_admin_request_t *req, char *buf, size_t len);

/*
 * Long-lived streamed responses (Server-Sent Events; admin.c). Open turns
 * req into a stream: the head (200, content_type, chunked) is sent now,
 * req is answered and freed, and the connection stays with the stream
 * until the client goes or the server stops (the stream is then freed; a
 * caller keeps no pointer to it). 0, or CN_ETOOBIG (CN_ADMIN_MAX_STREAMS
 * open: 503 answered) / CN_EINVAL (no connection, as in cn_admin_handle,
 * or a HEAD request: answered with the head alone). Loop thread.
 */
#define CN_ADMIN_MAX_STREAMS 16u
int cn_admin__stream_open(cn_admin_request_t *req, const char *content_type,
                          const char *first, size_t first_len);
/* Write data to every open stream. A stream whose client is not reading
 * (over the high-water mark) skips it; a stream whose connection failed is
 * closed. Loop thread. */
void cn_admin__streams_send(cn_admin_t *a, const char *data, size_t len);

/* The sampler (res_series.c): created by cn_admin_new, run by cn_admin_run
 * (a timer on the loop, the snapshot on the thread pool), stopped and
 * freed with the server. */
cn_admin__series_t *cn_admin__series_new(cn_admin_t *a);
void cn_admin__series_start(cn_admin__series_t *s);
void cn_admin__series_stop(cn_admin__series_t *s);
void cn_admin__series_free(cn_admin__series_t *s);
/* Take one sample now on the calling thread (blocks on the snapshot; for
 * tests, with the server not running). 0, or CN_EIO (no snapshot). */
int cn_admin__series_sample(cn_admin__series_t *s);

/* The resources' routes (one file each). */
void cn_admin__health_routes(cn_admin_t *a);
void cn_admin__metrics_routes(cn_admin_t *a);
void cn_admin__traffic_routes(cn_admin_t *a);
void cn_admin__versions_routes(cn_admin_t *a);
void cn_admin__models_routes(cn_admin_t *a);
void cn_admin__rollouts_routes(cn_admin_t *a);
/* Start a rollout of model/version for req (the registry's
 * production-candidate tag did it) and answer req with *pre (taken) once
 * it started, or with the error that stopped it (res_rollouts.c). */
void cn_admin__rollout_start(cn_admin_request_t *req, const char *model,
                             const char *version, cn_admin_response_t *pre);
void cn_admin__samples_routes(cn_admin_t *a);
void cn_admin__requests_routes(cn_admin_t *a);
void cn_admin__feedback_routes(cn_admin_t *a);
void cn_admin__series_routes(cn_admin_t *a);
void cn_admin__events_routes(cn_admin_t *a);
void cn_admin__ui_routes(cn_admin_t *a);
void cn_admin__remote_routes(cn_admin_t *a);

/* The controller's lease (res_remote.c): created by cn_admin_new, its
 * timer started by cn_admin_run when serve.lease is set, closed with the
 * server. */
cn_admin__lease_t *cn_admin__lease_new(cn_admin_t *a);
void cn_admin__lease_start(cn_admin__lease_t *l);
void cn_admin__lease_stop(cn_admin__lease_t *l);
void cn_admin__lease_free(cn_admin__lease_t *l);
/* The lease's families for /metrics (none when no lease is configured and
 * no controller has spoken). 0 or the writer's error. Any thread. */
int cn_admin__lease_exposition(cn_admin_t *a, cn_prom_writer_t *w);
/* While a controller holds a live lease: answer req 409 naming it and
 * return true; else false (req untouched). Loop thread. */
bool cn_admin__managed_refuse(cn_admin_request_t *req);

#endif
