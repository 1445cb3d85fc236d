/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API: a small HTTP/1.1 server on its own libuv loop and thread,
 * apart from the data plane, through which people and the judge read the
 * measurements and change the traffic split.
 *
 *   GET /healthz              200 {"status":"ok"}                    no auth
 *   GET /metrics              Prometheus text format 0.0.4           no auth
 *   GET /v1/traffic           the published traffic config and step
 *   PUT /v1/traffic           change any subset of it (JSON object)
 *   GET /v1/samples?window=   step (default): this measurement step, with
 *                             raw samples and shadow pairs; all: cumulative
 *                             counters and quantiles, no samples
 *   GET /v1/requests/<id>     which version and segment served a request
 *
 * HEAD is answered wherever GET is, with the same headers and no body.
 * Every route but /healthz and /metrics needs "Authorization: Bearer
 * <token>"; the token is compared in constant time. Errors are JSON
 * {"error": "..."} naming what was wrong; 401 carries WWW-Authenticate,
 * 405 carries Allow. Each rejected request (status >= 400) is logged as one
 * line: "admin: 401 PUT /v1/traffic from 127.0.0.1".
 *
 * PUT /v1/traffic takes {"canary_weight": 2.5, "mode": "random",
 * "shadow_percent": 100, "force_enabled": false}, any subset: percentages
 * are JSON numbers in [0, 100] with at most two decimals, mode is "random",
 * "sticky" or "shadow". An unknown key, a wrong type, an out-of-range value
 * or a duplicate key is a 400 naming the key and the value, and nothing is
 * changed. A PUT that changes nothing publishes nothing (no new step). The
 * answer, like GET's, is the traffic object with "step".
 *
 * GET /v1/samples answers
 *   {"window": "step", "step": N, "step_started": unix_s, "now": unix_s,
 *    "traffic": {...as GET /v1/traffic...},
 *    "versions": {"stable": {"version": "v1", "segments": {"<segment>": {
 *        "requests": n, "errors": n,
 *        "latency_us": {"count": n, "p50": us, "p95": us, "p99": us,
 *                       "sample": [us, ...]},
 *        "predictions": {"seen": n, "sample": [x, ...]}}}},
 *      "canary": {...}},
 *    "shadow_pairs": [{"request_id": "..", "stable": x, "canary": x}]}
 * with quantiles null when count is 0. window=all gives the cumulative
 * counters instead (plus "shadow_requests", "retried_on_stable" and
 * predictions "sum"), quantiles of the cumulative histogram, and no
 * "sample" arrays and no "shadow_pairs".
 *
 * The module reaches the router only through cn_admin_ops_t, so it can be
 * tested against a hand-built snapshot and so the CLI can add persistence
 * around set_traffic. Requests are parsed by cn_http_reader_t
 * (http/http.h) with a 64 KiB header and 1 MiB body limit; connections
 * are kept alive and pipelined requests are answered in order.
 *
 * Threads: cn_admin_run runs the loop on the calling thread; every ops
 * function is called on that thread. cn_admin_stop may be called from any
 * thread (and from a signal handler: it only does uv_async_send).
 */
#ifndef CN_API_ADMIN_H
#define CN_API_ADMIN_H

#include "http/http.h"
#include "router/router.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CN_ADMIN_MAX_HEADER_BYTES ((size_t)64 * 1024)
#define CN_ADMIN_MAX_BODY_BYTES ((size_t)1024 * 1024)
#define CN_ADMIN_MAX_CONNECTIONS 64u
#define CN_ADMIN_IDLE_TIMEOUT_MS 60000u /* keep-alive connection idle */
#define CN_ADMIN_REQUEST_TIMEOUT_MS                                                    \
    10000u /* a request must arrive within,                                            \
              and its response be sent */
/* Bound of one response body (/v1/samples is the big one). */
#define CN_ADMIN_MAX_RESPONSE_BYTES ((size_t)512 * 1024 * 1024)

typedef struct cn_admin_s cn_admin_t;

/*
 * How the admin API reaches the router. Every function is called on the
 * admin thread, with ctx as given. All are required.
 */
typedef struct cn_admin_ops_s {
    /* A new snapshot (cn_router_snapshot), freed with snapshot_free; NULL
     * if none can be had (answered 503). */
    cn_router_snapshot_t *(*snapshot)(void *ctx);
    void (*snapshot_free)(cn_router_snapshot_t *s);
    /* The published traffic config and the current measurement step. */
    void (*get_traffic)(void *ctx, cn_traffic_t *out, uint64_t *step);
    /*
     * Publish (and persist) a new, already validated, traffic config and
     * start a new step. 0, or a negative code with one line in err and
     * nothing changed: CN_EINVAL is answered 400, anything else 500.
     */
    int (*set_traffic)(void *ctx, const cn_traffic_t *t, char *err, size_t errlen);
    /* cn_router_lookup: 0, or CN_ENOTFOUND (404); other codes are 500. */
    int (*lookup)(void *ctx, const char *id, size_t len, cn_router_lookup_t *out);
    void *ctx;
} cn_admin_ops_t;

/* One response, as cn_admin_handle builds it. */
typedef struct cn_admin_response_s {
    unsigned status;
    const char *content_type; /* static string */
    const char *allow;        /* 405: the Allow header value; else NULL */
    bool www_authenticate;    /* 401: send "WWW-Authenticate: Bearer" */
    char *body;               /* owned, NUL-terminated at body_len */
    size_t body_len;
} cn_admin_response_t;

/*
 * Create the server and bind it now (so "address in use" is reported
 * here): listen_addr is "host:port", "[v6addr]:port" or ":port" (all IPv4
 * interfaces); port 0 picks a free port (see cn_admin_address). token must
 * be non-empty: the API has no unauthenticated mode (the CLI generates a
 * token when none is given). token and ops are copied. Returns 0, or
 * CN_EINVAL (bad argument) / CN_EIO (resolve, bind or listen failed) with
 * one line in err; *out is then NULL.
 */
int cn_admin_new(const char *listen_addr, const char *token, const cn_admin_ops_t *ops,
                 cn_admin_t **out, char *err, size_t errlen);

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
 * every connection are closed (responses in flight are abandoned) and this
 * returns 0. CN_EINVAL if called a second time. A stop that came before
 * run makes run return at once.
 */
int cn_admin_run(cn_admin_t *a);

/* Ask cn_admin_run to return. Any thread, any number of times; safe in a
 * signal handler. Not after cn_admin_free. */
void cn_admin_stop(cn_admin_t *a);

/* Free the server: after cn_admin_run has returned, or if it never ran.
 * NULL is a no-op. */
void cn_admin_free(cn_admin_t *a);

/*
 * Answer one request: the whole routing, authentication and validation
 * logic, with no socket (the server calls it for each message; tests call
 * it directly). peer names the client for the log line ("127.0.0.1").
 * *res is filled; free it with cn_admin_response_dispose. Call on the admin
 * thread, or while the server is not running.
 */
void cn_admin_handle(cn_admin_t *a, const cn_http_message_t *req, const char *peer,
                     cn_admin_response_t *res);

void cn_admin_response_dispose(cn_admin_response_t *res);

/*
 * Compare a presented token with the expected one in time that depends only
 * on the two lengths: every byte of the longer is looked at, with no early
 * exit, and a length mismatch still runs the whole loop. True if equal.
 */
bool cn_admin_token_equal(const char *given, size_t given_len, const char *expected,
                          size_t expected_len);

#endif
