/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API: a small HTTP/1.1 server on its own libuv loop and thread,
 * apart from the data plane, through which people and the judge read the
 * measurements and change the traffic split and the version sets.
 *
 *   GET /healthz              200 {"status":"ok"}                    no auth
 *   GET /metrics              Prometheus text format 0.0.4           no auth
 *   GET /v1/traffic           the published traffic config and step
 *   PUT /v1/traffic           change any subset of it (JSON object)
 *   GET /v1/versions          the stable and canary version sets
 *   PUT /v1/versions          replace either set or both
 *   GET /v1/samples?window=   step (default) or all; see api/codec.h
 *   GET /v1/requests/<id>     which version and segment served a request
 *   GET /v1/series            each arm's requests, errors and latency
 *                             quantiles per second (res_series.c)
 *   GET /v1/events            Server-Sent Events for the dashboard
 *   PUT /v1/generation        a controller applies a whole generation
 *   POST /v1/lease            a controller renews its lease
 *   GET /v1/snapshot          the step's measurements, binary, for a
 *                             controller (res_remote.c, engines/wire.h)
 *   GET /, /ui/NAME           the dashboard's files                  no auth
 *
 * The bodies are written and read by the pure codecs of api/codec.h, which
 * a command-line client can link; their shapes are documented there.
 *
 * Routes. Each resource registers {methods, path pattern, token needed,
 * handler} in a route table (cn_admin_add_route); the dispatcher knows no
 * resource. HEAD is answered wherever GET is, with the same headers and no
 * body. Order of checks: a route that needs no token is answered at once
 * (probes, scrapers, static pages); every other path, known or not, needs
 * "Authorization: Bearer <token>" first (compared in constant time), so an
 * unauthenticated client learns nothing, not even which routes exist; then
 * 404 for no route, 405 (with Allow) for a method the route does not take;
 * then the handler. Errors are JSON {"error": "..."} naming what was
 * wrong; 401 carries WWW-Authenticate. Each rejected request (status >=
 * 400) is logged as one line: "admin: 401 PUT /v1/traffic from 127.0.0.1".
 *
 * Handlers may answer later (cn_admin_respond from any thread): the loop
 * never blocks. A snapshot of the router (/metrics, /v1/samples) and a
 * request-id lookup run on libuv's thread pool; a PUT is answered when the
 * controller's reply comes. So /healthz is answered while a snapshot or a
 * store write is in progress.
 *
 * Threads: cn_admin_run runs the loop on the calling thread; handlers and
 * the router ops' completions run there too, the ops themselves on the
 * thread pool. cn_admin_stop may be called from any thread (and from a
 * signal handler: it only does uv_async_send).
 */
#ifndef CN_API_ADMIN_H
#define CN_API_ADMIN_H

#include "controller/controller.h"
#include "http/http.h"
#include "metrics/prom.h"
#include "router/router.h"
#include "store/store.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CN_ADMIN_MAX_HEADER_BYTES ((size_t)64 * 1024)
#define CN_ADMIN_MAX_BODY_BYTES ((size_t)1024 * 1024)
/* Open connections at most. At the limit a new connection evicts the
 * oldest idle one without a valid token (then one still sending its head,
 * then the oldest idle authenticated one), so idle clients cannot lock an
 * operator out (http/server.h, "Limits"). */
#define CN_ADMIN_MAX_CONNECTIONS 64u
#define CN_ADMIN_IDLE_TIMEOUT_MS 60000u /* keep-alive connection idle */
/* A request's head, and then its body, must arrive within this; a client
 * that takes none of its response for as long is cut off. */
#define CN_ADMIN_REQUEST_TIMEOUT_MS 10000u
/* Bound of one response body (/v1/samples is the big one). */
#define CN_ADMIN_MAX_RESPONSE_BYTES ((size_t)512 * 1024 * 1024)
/* Routes at most. */
#define CN_ADMIN_MAX_ROUTES 64u
/* '*' segments in a route pattern, at most. */
#define CN_ADMIN_MAX_PARAMS 4u

typedef struct cn_admin_s cn_admin_t;
typedef struct cn_admin_request_s cn_admin_request_t;

/*
 * How the admin API reads the router. The functions run on libuv's thread
 * pool (they may block, as cn_router_snapshot does), never on the admin
 * loop. All are required.
 */
typedef struct cn_admin_ops_s {
    /* A new snapshot holding at least what mask (CN_ROUTER_SNAP_*) asks
     * for, freed with snapshot_free; NULL if none can be had (503). */
    cn_router_snapshot_t *(*snapshot)(void *ctx, unsigned mask);
    void (*snapshot_free)(void *ctx, cn_router_snapshot_t *s);
    /* cn_router_lookup: 0, or CN_ENOTFOUND (404); other codes are 500. */
    int (*lookup)(void *ctx, const char *id, size_t len, cn_router_lookup_t *out);
    /* cn_router_join; NULL: POST /v1/feedback answers 503. */
    void (*join)(void *ctx, cn_router_join_t *items, size_t n, double not_before,
                 double *oldest);
    void *ctx;
    /* Optional: more families for /metrics (the notifier's counters),
     * written after the router's on the thread pool; 0 or an error code.
     * NULL: none. */
    int (*more_metrics)(void *more_ctx, cn_prom_writer_t *w);
    void *more_ctx;
} cn_admin_ops_t;

/* One response. */
typedef struct cn_admin_response_s {
    unsigned status;
    const char *content_type; /* static string; NULL: application/json */
    const char *allow;        /* 405: the Allow header value; else NULL */
    bool www_authenticate;    /* 401: send "WWW-Authenticate: Bearer" */
    char *body;               /* owned, NUL-terminated at body_len */
    size_t body_len;
} cn_admin_response_t;

void cn_admin_response_dispose(cn_admin_response_t *res);

/* A JSON error response: {"error": "<formatted message>"}. */
void cn_admin_response_error(cn_admin_response_t *res, unsigned status, const char *fmt,
                             ...) __attribute__((format(printf, 3, 4)));

/* Methods of a route (a bit set). GET implies HEAD. */
#define CN_ADMIN_GET 1u
#define CN_ADMIN_PUT 2u
#define CN_ADMIN_POST 4u
#define CN_ADMIN_DELETE 8u

/*
 * A handler: called on the admin loop for a request whose route, token and
 * method matched. It must call cn_admin_respond exactly once, now or later
 * (from any thread). The request's message is valid only until the handler
 * returns: copy what an answer given later needs.
 */
typedef void (*cn_admin_handler_fn)(cn_admin_request_t *req);

typedef struct cn_admin_route_s {
    unsigned methods; /* CN_ADMIN_GET | ... */
    /* "/v1/traffic" matches exactly; a segment that is a lone '*'
     * ("/v1/models/" '*' "/versions/" '*') matches any one non-empty
     * segment (no '/'), at most CN_ADMIN_MAX_PARAMS of them
     * (cn_admin_request_param). Static. */
    const char *pattern;
    bool token; /* needs the bearer token */
    cn_admin_handler_fn handler;
    const void *data; /* the handler's own (cn_admin_request_route_data) */
} cn_admin_route_t;

/*
 * Add a route (copied; pattern and data are borrowed and must outlive the
 * server). Before cn_admin_run. The built-in routes are added by
 * cn_admin_new. 0, or CN_EINVAL (bad pattern, a pattern already routed, no
 * handler) / CN_ETOOBIG (CN_ADMIN_MAX_ROUTES) with one line in err.
 */
int cn_admin_add_route(cn_admin_t *a, const cn_admin_route_t *route, char *err,
                       size_t errlen);

/*
 * An unauthenticated static resource (GET/HEAD) at path: body (borrowed,
 * must outlive the server) of len bytes with content_type (static). For
 * the dashboard's pages. Errors as cn_admin_add_route.
 */
int cn_admin_add_static(cn_admin_t *a, const char *path, const char *content_type,
                        const char *body, size_t len, char *err, size_t errlen);

/* In a handler (valid until it returns): the parsed request; the segment
 * matched by a '*' pattern (percent-encoded, as sent); the query string
 * after '?' (may be empty); who sent it ("127.0.0.1"). */
const cn_http_message_t *cn_admin_request_message(const cn_admin_request_t *req);
const char *cn_admin_request_wildcard(const cn_admin_request_t *req, size_t *len);
/* The segment matched by the pattern's i-th '*' (0-based; percent-encoded,
 * as sent), or "" with *len 0 if there is none. Valid until the handler
 * returns. cn_admin_request_wildcard is parameter 0. */
const char *cn_admin_request_param(const cn_admin_request_t *req, size_t i,
                                   size_t *len);
const char *cn_admin_request_query(const cn_admin_request_t *req, size_t *len);
/* Valid until the request is answered. */
const char *cn_admin_request_peer(const cn_admin_request_t *req);
const void *cn_admin_request_route_data(const cn_admin_request_t *req);
cn_admin_t *cn_admin_request_server(const cn_admin_request_t *req);

/*
 * Answer a request: takes res's body (res is zeroed). Exactly once per
 * request; any thread. If the client has gone meanwhile, the answer is
 * dropped. After this the request is freed: do not touch it.
 */
void cn_admin_respond(cn_admin_request_t *req, cn_admin_response_t *res);

/*
 * Create the server and bind it now (so "address in use" is reported
 * here): listen_addr is "host:port", "[v6addr]:port" or ":port" (all IPv4
 * interfaces); port 0 picks a free port (see cn_admin_address). token must
 * be non-empty: the API has no unauthenticated mode for its own routes.
 * token and ops are copied; controller is borrowed (PUTs and the current
 * traffic and versions go through it) and must outlive the server. Returns
 * 0, or CN_EINVAL (bad argument) / CN_EIO (resolve, bind or listen failed)
 * with one line in err; *out is then NULL.
 */
int cn_admin_new(const char *listen_addr, const char *token, const cn_admin_ops_t *ops,
                 cn_controller_t *controller, cn_admin_t **out, char *err,
                 size_t errlen);

/* The state file that holds the model registry (borrowed; it must outlive
 * the server). Without one, /v1/models answers 503. Before cn_admin_run. */
void cn_admin_set_store(cn_admin_t *a, cn_store_t *store);

/* The model this canary serve fronts (NULL: none; a tag on another
 * model's version changes no traffic) and its rollout strategy (borrowed;
 * NULL: none), for /v1/rollouts and the registry's tags. Before
 * cn_admin_run. */
void cn_admin_set_rollouts(cn_admin_t *a, const char *model,
                           const cn_strategy_t *strategy);

/*
 * canary control: model is driven by controller (borrowed), its rollouts
 * run strategy (borrowed). cn_admin_new's controller is then NULL: the
 * resources of a data plane (traffic, versions, samples, requests,
 * feedback, series) answer 404 saying that this server has none, and the
 * rollouts, models and tags go to the model's controller. Before
 * cn_admin_run. 0, or CN_EINVAL (a model twice).
 */
int cn_admin_add_model(cn_admin_t *a, const char *model, cn_controller_t *controller,
                       const cn_strategy_t *strategy);

/* Where POST /v1/feedback keeps the fed values it joins, and GET reads
 * them (borrowed; NULL: the resource answers 503). Before cn_admin_run. */
struct cn_feedback_s;
void cn_admin_set_feedback(cn_admin_t *a, struct cn_feedback_s *fb);

/* The fail-safe lease (serve.lease, in ms; 0: none): a canary weight
 * above 0 drops to 0 when no controller has applied a generation or
 * renewed the lease for this long (res_remote.c). Before cn_admin_run. */
void cn_admin_set_lease(cn_admin_t *a, uint64_t lease_ms);

/* The bound address, e.g. "127.0.0.1:41234" or "[::1]:8081". Borrowed,
 * valid until cn_admin_free. */
const char *cn_admin_address(const cn_admin_t *a);

/* Where rejected requests are logged (default stderr; NULL: nowhere). Call
 * before cn_admin_run. */
void cn_admin_set_log(cn_admin_t *a, FILE *log);

/* Change the connection timeouts (milliseconds, > 0; 0 keeps the current
 * value), e.g. to test them. Call before cn_admin_run. */
void cn_admin_set_timeouts(cn_admin_t *a, uint32_t idle_ms, uint32_t request_ms);

/*
 * Serve on the calling thread until cn_admin_stop: then the listener and
 * every connection are closed (responses in flight are abandoned), the
 * answers still owed by the controller and the thread pool are awaited and
 * dropped, and this returns 0. CN_EINVAL if called a second time. A stop
 * that came before run makes run return at once.
 */
int cn_admin_run(cn_admin_t *a);

/* Ask cn_admin_run to return. Any thread, any number of times; safe in a
 * signal handler. Not after cn_admin_free. */
void cn_admin_stop(cn_admin_t *a);

/* Free the server: after cn_admin_run has returned, or if it never ran.
 * NULL is a no-op. */
void cn_admin_free(cn_admin_t *a);

/*
 * Answer one request without a socket, for tests: routes it as the server
 * would and, if the handler answers later, runs the server's loop on the
 * calling thread until it does. peer names the client for the log line.
 * *res is filled; free it with cn_admin_response_dispose. Only while the
 * server is not running on another thread.
 */
void cn_admin_handle(cn_admin_t *a, const cn_http_message_t *req, const char *peer,
                     cn_admin_response_t *res);

/*
 * Compare a presented token with the expected one in time that depends only
 * on the two lengths: every byte of the longer is looked at, with no early
 * exit, and a length mismatch still runs the whole loop. True if equal.
 */
bool cn_admin_token_equal(const char *given, size_t given_len, const char *expected,
                          size_t expected_len);

/* ------------------------------------------------------------ token */

/* Shortest token that is not warned about, in bytes. */
#define CN_ADMIN_TOKEN_MIN_BYTES 16u
/* Longest token accepted, in bytes. */
#define CN_ADMIN_TOKEN_MAX_BYTES 255u

/*
 * The admin token: read from token_file (one non-empty line; trailing
 * whitespace dropped) if given, else the environment's CANARY_TOKEN if set
 * and non-empty, else CN_ADMIN_TOKEN_MIN_BYTES*2 hex characters from
 * /dev/urandom (*generated is then true). token holds
 * CN_ADMIN_TOKEN_MAX_BYTES + 1 bytes.
 *
 * Warnings, one line each on warn (NULL: none), for a token that works but
 * should not be trusted: shorter than CN_ADMIN_TOKEN_MIN_BYTES, and a
 * token file that users other than its owner can read or write. Neither is
 * refused: the admin API listens on loopback by default, and refusing
 * would turn a weak but working setup into an outage at upgrade; the
 * warning says what to do instead.
 *
 * Returns 0, CN_EIO (unreadable file, no /dev/urandom) or CN_EINVAL (empty,
 * several lines, too long) with one line in err naming the file or the
 * variable.
 */
int cn_admin_load_token(const char *token_file, char *token, bool *generated,
                        FILE *warn, char *err, size_t errlen);

#endif
