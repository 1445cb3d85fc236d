/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One worker thread of the data plane: a libuv loop with its own
 * SO_REUSEPORT listener, its own pool of upstream connections and its own
 * measurement shard. Nothing on the request path takes a lock or writes a
 * cache line another worker reads, except the rare health updates
 * (upstream.h) and the connection counters.
 *
 * The life of a request:
 *
 *   client bytes --feed--> cn_http_reader (whole message, limits)
 *        | COMPLETE: stop reading the client (pipelined bytes wait)
 *        v
 *   dispatch: request id, segment, sticky key, force header, split decision
 *        v
 *   attempt(role): round-robin over usable addresses of the role, pooled
 *        |         keep-alive connection or a new one, send the request
 *        |--- failure before any response byte on a pooled connection:
 *        |      once more on a new connection (the server closed an idle
 *        |      connection; not counted)
 *        |--- canary failure before any response byte: counted against
 *        |      canary, attempted again on stable (retry_on_stable)
 *        |--- stable failure: 502 (504 on timeout) with a JSON body
 *        v
 *   response complete: prediction extracted, response rewritten with
 *   X-Request-Id and X-Model-Version, written to the client; the upstream
 *   connection goes back to the pool
 *        v
 *   write complete: latency (first byte in to last byte out) and the rest
 *   recorded in the shard; next pipelined request, or read again.
 *
 * A shadow copy is a separate attempt on canary with no client: its
 * response is measured and discarded, and its prediction is paired with
 * stable's under the same request id.
 *
 * Memory: every handle is freed in its close callback (libuv's rule); an
 * upstream connection owns one handle (TCP) and is freed when it has
 * closed. Its timeouts are a deadline on the worker's lanes (one uv timer
 * for all of them, http/deadline.h), as the client connections' are on the
 * HTTP layer's.
 */
#include "http/http.h"
#include "http/server.h"
#include "router/internal.h"
#include "util/addr.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/rand.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READBUF_BYTES (64 * 1024)
#define REQUEST_ID_MAX 128
/* Backpressure on a client that reads slowly: the upstream is read no
 * more while this much of the response is unsent, and again below the low
 * mark. One upstream read (READBUF_BYTES) may land past the high mark. */
#define CLIENT_HIGH_WATER_BYTES ((size_t)256 * 1024)
#define CLIENT_LOW_WATER_BYTES ((size_t)64 * 1024)
/* The prefix of a relayed response kept for the prediction extractor: a
 * longer body is counted as too_big. Model answers are far smaller; this
 * bounds what a request holds whatever the upstream sends. */
#define EXTRACT_PREFIX_BYTES ((size_t)64 * 1024)

typedef struct upconn_s upconn_t;

/* Both predictions of a shadowed request; freed by the last holder. */
typedef struct pair_s {
    int refs;
    char id[64];
    bool has[2];
    double value[2];
    uint64_t step;
} pair_t;

typedef struct req_s {
    cn_router_worker_t *w;
    cn_http_req_t *hreq;  /* the client's request (http/server.h); NULL once
                             the client is gone */
    bool streaming;       /* the response head went to the client: no retry,
                             and a failure now cuts the response */
    cn_router_wgen_t *wg; /* the generation it was decided with (a hold) */
    char id[REQUEST_ID_MAX + 1];
    size_t id_len;
    unsigned seg;
    uint64_t step;
    cn_router_decision_t decision;
    cn_role_t role; /* of the current attempt */
    int address;    /* its address's index in the role's set; -1: none */
    bool retried;   /* canary failed; now on stable */
    bool fresh_retry_done;
    bool head;
    char *up_buf; /* the request as sent upstream (owned) */
    size_t up_len;
    size_t request_bytes; /* as received from the client */
    uint64_t start_ns, attempt_ns;
    upconn_t *conn;
    pair_t *pair;
    cn_router_obs_t obs; /* recorded once the response is written */
} req_t;

typedef struct shadow_s {
    cn_router_wgen_t *wg; /* the request's generation (a hold of its own) */
    char *buf;
    size_t len;
    pair_t *pair;
    unsigned seg;
    int address; /* its index in canary's set */
    uint64_t step, start_ns;
    size_t request_bytes;
    bool head;
    bool fresh_retry_done;
} shadow_t;

typedef enum upstate_e { U_CONNECTING, U_WAITING, U_IDLE, U_CLOSING } upstate_t;

struct upconn_s {
    uv_tcp_t tcp;
    cn_deadline_t dl; /* connect, response or pool idle: see conn_timeout */
    uv_connect_t creq;
    uv_write_t wr;
    cn_router_worker_t *w;
    cn_router_pool_t *pool;          /* a hold, released when the handle closed */
    cn_router_upstream_t *up;        /* pool->up */
    upconn_t *prev, *next;           /* w->conns */
    upconn_t *idle_prev, *idle_next; /* pool->idle */
    cn_http_reader_t reader;
    upstate_t state;
    bool reused, got_bytes, writing, close_after_write, reading;
    bool paused; /* not read while the client catches up */
    int handles;
    req_t *req;
    shadow_t *shadow;
};

static void finish(req_t *q);
static void req_free(req_t *q);
static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void conn_timeout(cn_deadline_t *d);
static void conn_close(upconn_t *u);
static void shadow_free(cn_router_worker_t *w, shadow_t *sh);
static upconn_t *conn_start(cn_router_worker_t *w, cn_router_pool_t *pool, req_t *q,
                            shadow_t *sh, bool fresh);
static void attempt_pool(req_t *q, cn_role_t role, cn_router_pool_t *force);
static void wgen_put(cn_router_worker_t *w, cn_router_wgen_t *v);
static void pool_unref(cn_router_worker_t *w, cn_router_pool_t *p);

/* ------------------------------------------------------------- utilities */

static uint64_t now_ns(void)
{
    return uv_hrtime();
}

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* At most 20 lines per second per worker, so an attack cannot flood the
 * log; the count of suppressed lines is reported with the next line. */
static void wlog(cn_router_worker_t *w, const char *fmt, ...)
{
    uint64_t sec = uv_now(&w->loop) / 1000;
    if (sec != w->log_second) {
        if (w->log_suppressed)
            fprintf(stderr, "router[%u]: %u log lines suppressed\n", w->index,
                    w->log_suppressed);
        w->log_second = sec;
        w->log_count = 0;
        w->log_suppressed = 0;
    }
    if (w->log_count++ >= 20) {
        w->log_suppressed++;
        return;
    }
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "router[%u]: %s\n", w->index, line);
}

/*
 * Every message the worker builds goes into util's bounded buffer. The
 * maximum holds the largest message the readers let through (a head within
 * 80 KiB, a body within the larger of max_body_bytes and the extraction
 * limit) and the headers the router adds, twice over: reaching it is a bug,
 * and a cut message is never sent (see response_head).
 */
typedef cn_buf_t obuf_t;
#define OB_INIT(w)                                                                     \
    CN_BUF_INIT(2 * ((w)->router->cfg->max_body_bytes > CN_ROUTER_EXTRACT_MAX_BYTES    \
                         ? (w)->router->cfg->max_body_bytes                            \
                         : CN_ROUTER_EXTRACT_MAX_BYTES) +                              \
                (size_t)256 * 1024)

static inline void ob_reserve(obuf_t *b, size_t extra)
{
    (void)cn_buf_reserve(b, extra);
}

static inline void ob_add(obuf_t *b, const char *s, size_t n)
{
    (void)cn_buf_add(b, s, n);
}

static inline void ob_str(obuf_t *b, const char *s)
{
    (void)cn_buf_str(b, s);
}

static void ob_fmt(obuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void ob_fmt(obuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)cn_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* Decimal digits of v: the hot path builds every head with ob_add and
 * this, not printf, which costs more than the rest of the formatting. */
static inline void ob_u64(obuf_t *b, uint64_t v)
{
    (void)cn_buf_u64(b, v);
}

static void ob_header(obuf_t *b, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    ob_add(b, name, name_len);
    ob_add(b, ": ", 2);
    ob_add(b, value, value_len);
    ob_add(b, "\r\n", 2);
}

static bool name_is(const cn_http_header_t *h, const char *name)
{
    return strlen(name) == h->name_len && strncasecmp(h->name, name, h->name_len) == 0;
}

static void pair_release(pair_t *p)
{
    if (p && --p->refs == 0)
        free(p);
}

static void pair_set(cn_router_worker_t *w, pair_t *p, cn_role_t role, double v)
{
    if (!p)
        return;
    p->has[role] = true;
    p->value[role] = v;
    if (p->has[0] && p->has[1])
        cn_router_shard_pair(&w->shard, p->id, p->value[0], p->value[1], p->step);
}

static int extract(cn_router_worker_t *w, const cn_http_message_t *m, double *out)
{
    int rc =
        cn_router_extract_prediction(&w->router->pointer, m->body, m->body_len, out);
    switch (rc) {
    case 0:
        return CN_ROUTER_PRED_OK;
    case CN_EPARSE:
        return CN_ROUTER_PRED_NOT_JSON;
    case CN_ENOTFOUND:
        return CN_ROUTER_PRED_MISSING;
    case CN_ENONFINITE:
        return CN_ROUTER_PRED_NON_FINITE;
    case CN_ETOOBIG:
        return CN_ROUTER_PRED_TOO_BIG;
    default:
        return CN_ROUTER_PRED_NOT_NUMBER;
    }
}

static uint64_t step_now(cn_router_worker_t *w)
{
    uint64_t step = atomic_load_explicit(&w->router->step, memory_order_acquire);
    cn_router_shard_sync_step(&w->shard, step);
    return step;
}

/* Whom an observation is about: a role of generation v, its version key,
 * and the index of the address the attempt went to (-1: none). */
static void obs_who(cn_router_obs_t *o, const cn_router_wgen_t *v, cn_role_t role,
                    int address)
{
    o->role = role;
    o->key = (unsigned)v->key[role];
    o->generation = v->g->spec.number;
    o->address = address;
}

/* ------------------------------------------------------ upstream connections */

/* Arm u's one deadline (conn_timeout) ms from now; a closing connection
 * has none (its memory goes with the TCP handle's close). */
static void up_arm(upconn_t *u, uint64_t ms)
{
    if (u->state != U_CLOSING)
        cn_deadline_arm(&u->w->deadlines, &u->dl, ms);
}

static void conn_handle_closed(uv_handle_t *h)
{
    upconn_t *u = h->data;
    if (--u->handles > 0)
        return;
    if (u->shadow) /* abandoned at shutdown */
        shadow_free(u->w, u->shadow);
    cn_http_reader_dispose(&u->reader);
    pool_unref(u->w, u->pool);
    free(u);
}

static void idle_unlink(upconn_t *u)
{
    cn_router_pool_t *p = u->pool;
    if (u->idle_prev)
        u->idle_prev->idle_next = u->idle_next;
    else if (p->idle == u)
        p->idle = u->idle_next;
    else
        return; /* not in the idle list */
    if (u->idle_next)
        u->idle_next->idle_prev = u->idle_prev;
    u->idle_prev = u->idle_next = NULL;
    p->nidle--;
}

static void conn_close(upconn_t *u)
{
    if (u->state == U_CLOSING)
        return;
    if (u->state == U_IDLE)
        idle_unlink(u);
    u->state = U_CLOSING;
    cn_router_worker_t *w = u->w;
    if (u->prev)
        u->prev->next = u->next;
    else
        w->conns = u->next;
    if (u->next)
        u->next->prev = u->prev;
    u->prev = u->next = NULL;
    cn_deadline_disarm(&u->dl);
    uv_close((uv_handle_t *)&u->tcp, conn_handle_closed);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    cn_router_worker_t *w = h->loop->data;
    buf->base = w->readbuf;
    buf->len = READBUF_BYTES;
}

/* Return a connection whose exchange finished to the pool, or close it. */
static void conn_release(upconn_t *u, bool keep)
{
    cn_router_worker_t *w = u->w;
    const cn_router_config_t *cfg = w->router->cfg;
    u->req = NULL;
    u->shadow = NULL;
    cn_router_pool_t *p = u->pool;
    /* an address that left the current generation keeps no connection */
    if (!keep || w->stopping || u->writing || !p->live ||
        p->nidle >= cfg->max_idle_upstream) {
        conn_close(u);
        return;
    }
    cn_http_reader_next(&u->reader);
    u->state = U_IDLE;
    u->reused = true;
    u->got_bytes = false;
    u->idle_next = p->idle;
    u->idle_prev = NULL;
    if (p->idle)
        p->idle->idle_prev = u;
    p->idle = u;
    p->nidle++;
    /* still reading (conn_read): an EOF or a stray byte while idle closes
     * it, with no epoll_ctl per request to stop and restart reading */
    up_arm(u, cfg->upstream_idle_ms);
}

static upconn_t *conn_new(cn_router_worker_t *w, cn_router_pool_t *pool)
{
    upconn_t *u = cn_xcalloc(1, sizeof *u);
    u->w = w;
    u->pool = pool;
    pool->refs++;
    u->up = pool->up;
    cn_http_limits_t lim = {w->router->cfg->max_header_bytes > 64 * 1024
                                ? w->router->cfg->max_header_bytes
                                : 64 * 1024,
                            w->router->cfg->max_body_bytes > CN_ROUTER_EXTRACT_MAX_BYTES
                                ? w->router->cfg->max_body_bytes
                                : CN_ROUTER_EXTRACT_MAX_BYTES};
    if (lim.max_header_bytes > 80 * 1024)
        lim.max_header_bytes = 80 * 1024;
    cn_http_reader_init(&u->reader, CN_HTTP_RESPONSE, &lim);
    uv_tcp_init(&w->loop, &u->tcp);
    cn_deadline_init(&u->dl, conn_timeout);
    u->tcp.data = u;
    u->creq.data = u;
    u->wr.data = u;
    u->handles = 1;
    u->next = w->conns;
    if (w->conns)
        w->conns->prev = u;
    w->conns = u;
    return u;
}

/* ---------------------------------------------------- finishing attempts */

static void shadow_free(cn_router_worker_t *w, shadow_t *sh)
{
    wgen_put(w, sh->wg);
    pair_release(sh->pair);
    free(sh->buf);
    free(sh);
}

static void record_shadow(cn_router_worker_t *w, shadow_t *sh, unsigned status,
                          int failure, const cn_http_message_t *m)
{
    cn_router_obs_t o = {0};
    obs_who(&o, sh->wg, CN_ROLE_CANARY, sh->address);
    o.shadow = true;
    o.status = status;
    o.failure = failure;
    o.prediction = -1;
    o.step = sh->step;
    o.request_bytes = sh->request_bytes;
    if (m) {
        o.has_latency = true;
        o.latency_us = (now_ns() - sh->start_ns) / 1000;
        o.response_bytes = m->wire_bytes;
        if (status >= 200 && status < 300 && !sh->head) {
            o.prediction = extract(w, m, &o.prediction_value);
            if (o.prediction == CN_ROUTER_PRED_OK)
                pair_set(w, sh->pair, CN_ROLE_CANARY, o.prediction_value);
        }
    }
    step_now(w);
    cn_router_shard_record(&w->shard, sh->seg, &o);
}

/* Answer the client with an error of the router's own (502/504). */
static void respond_upstream_error(req_t *q, unsigned status, int failure,
                                   const char *what)
{
    cn_router_worker_t *w = q->w;
    const char *version = q->wg->g->spec.sets[q->role].version;
    obuf_t body = OB_INIT(w);
    ob_fmt(&body, "{\"error\":\"%s\",\"status\":%u,\"request_id\":\"", what, status);
    /* ids are visible ASCII; escape the two JSON specials */
    for (size_t i = 0; i < q->id_len; i++) {
        if (q->id[i] == '"' || q->id[i] == '\\')
            ob_add(&body, "\\", 1);
        ob_add(&body, &q->id[i], 1);
    }
    ob_fmt(&body, "\",\"version\":\"%s\"}\n", version);
    obuf_t extra = OB_INIT(w);
    ob_header(&extra, "X-Request-Id", 12, q->id, q->id_len);
    ob_header(&extra, "X-Model-Version", 15, version, strlen(version));
    /* No response code: the upstream gave none. The failure kind is the
     * record; counting the 502 as well would count one error twice. */
    obs_who(&q->obs, q->wg, q->role, q->address);
    q->obs.status = 0;
    q->obs.failure = failure;
    q->obs.has_latency = true;
    q->obs.prediction = -1;
    wlog(w, "%u for %s %.*s: %s", status, version, (int)q->id_len, q->id, what);
    if (q->hreq) {
        cn_http_req_on_cancel(q->hreq, NULL, NULL);
        cn_http_respond(q->hreq, status, "application/json", extra.data, body.data,
                        body.len);
    }
    cn_buf_dispose(&extra);
    cn_buf_dispose(&body);
    finish(q);
}

static const char *failure_text(int kind)
{
    switch (kind) {
    case CN_ROUTER_FAIL_CONNECT:
        return "upstream connect failed";
    case CN_ROUTER_FAIL_RESET:
        return "upstream closed the connection";
    case CN_ROUTER_FAIL_TIMEOUT:
        return "upstream timed out";
    case CN_ROUTER_FAIL_BAD_RESPONSE:
        return "upstream sent a malformed response";
    default:
        return "no upstream available";
    }
}

/* Canary failed before any response byte: count the failure against
 * canary, then answer the user from stable (once per request). */
static void retry_on_stable(req_t *q, int kind)
{
    cn_router_worker_t *w = q->w;
    cn_router_obs_t o = {0};
    obs_who(&o, q->wg, CN_ROLE_CANARY, q->address);
    o.failure = kind;
    o.retried = true;
    o.prediction = -1;
    o.step = q->step;
    o.request_bytes = q->request_bytes;
    step_now(w);
    cn_router_shard_record(&w->shard, q->seg, &o);
    q->retried = true;
    q->fresh_retry_done = false;
    q->attempt_ns = now_ns();
    attempt_pool(q, CN_ROLE_STABLE, NULL);
}

/* An attempt failed. before_bytes: no byte of a response had arrived. */
static void attempt_failed(upconn_t *u, int kind, bool before_bytes)
{
    cn_router_worker_t *w = u->w;
    const cn_router_config_t *cfg = w->router->cfg;
    cn_router_upstream_t *up = u->up;
    cn_router_pool_t *pool = u->pool; /* alive: u's handles are not closed yet */
    req_t *q = u->req;
    shadow_t *sh = u->shadow;
    bool was_reused = u->reused;
    u->req = NULL;
    u->shadow = NULL;
    conn_close(u);

    /* A pooled connection the server had already closed: the request never
     * reached it. Once more on a fresh connection, not counted. */
    if (was_reused && before_bytes && kind == CN_ROUTER_FAIL_RESET) {
        if (sh && !sh->fresh_retry_done) {
            sh->fresh_retry_done = true;
            conn_start(w, pool, NULL, sh, true);
            return;
        }
        if (q && !q->fresh_retry_done) {
            q->fresh_retry_done = true;
            q->conn = NULL;
            attempt_pool(q, q->role, pool);
            return;
        }
    }
    cn_router_upstream_failure(up, cn_router_now_ms(), cfg->passive_failures,
                               cfg->passive_cooldown_ms);
    if (sh) {
        record_shadow(w, sh, 0, kind, NULL);
        shadow_free(w, sh);
        return;
    }
    if (!q)
        return; /* the client left meanwhile */
    q->conn = NULL;
    if (q->streaming) {
        /* Part of the response is out: the client gets a cut response
         * (its connection closed), never a wrong one. */
        obs_who(&q->obs, q->wg, q->role, q->address);
        q->obs.status = 0;
        q->obs.failure = kind;
        q->obs.has_latency = true;
        q->obs.prediction = -1;
        wlog(w, "response cut for %.*s: %s", (int)q->id_len, q->id, failure_text(kind));
        if (q->hreq) {
            cn_http_req_on_cancel(q->hreq, NULL, NULL);
            cn_http_response_abort(q->hreq);
            q->hreq = NULL;
        }
        finish(q);
        return;
    }
    if (q->role == CN_ROLE_CANARY && cfg->retry_on_stable && !q->retried &&
        before_bytes) {
        retry_on_stable(q, kind);
        return;
    }
    respond_upstream_error(q, kind == CN_ROUTER_FAIL_TIMEOUT ? 504 : 502, kind,
                           failure_text(kind));
}

/* The upstream's head is in: write the client's head (headers rewritten,
 * framing from the upstream's) and stream the body as it comes. */
static void response_head(upconn_t *u)
{
    req_t *q = u->req;
    if (!q || !q->hreq)
        return; /* the client left: relay_body drops the body */
    const cn_http_message_t *m = &u->reader.msg;
    cn_http_req_t *h = q->hreq;
    const char *version = q->wg->g->spec.sets[q->role].version;
    cn_http_response_begin(h, m->status_code);
    const cn_http_header_t *length = NULL;
    for (size_t i = 0; i < m->nheaders; i++) {
        const cn_http_header_t *hh = &m->headers[i];
        if (name_is(hh, "Content-Length"))
            length = hh;
        if (name_is(hh, "X-Request-Id") || name_is(hh, "X-Model-Version") ||
            cn_http_is_hop_header(hh->name, hh->name_len) ||
            cn_http_connection_lists(m, hh->name, hh->name_len))
            continue;
        cn_http_response_header(h, hh->name, hh->name_len, hh->value, hh->value_len);
    }
    cn_http_response_header(h, "X-Request-Id", 12, q->id, q->id_len);
    cn_http_response_header(h, "X-Model-Version", 15, version, strlen(version));
    int64_t body_len = CN_HTTP_BODY_CHUNKED; /* chunked or read to EOF */
    if (q->head || m->status_code == 204 || m->status_code == 304) {
        body_len = CN_HTTP_BODY_NONE;
        if (q->head && length) /* a HEAD answer keeps the length of the GET */
            cn_http_response_header(h, "Content-Length", 14, length->value,
                                    length->value_len);
    } else if (length && !m->chunked) {
        body_len = (int64_t)strtoull(length->value, NULL, 10);
    }
    cn_http_response_head_end(h, body_len);
    q->streaming = true;
}

/* A piece of the upstream's body: to the client (or dropped if it left). */
static int relay_body(void *ctx, const char *data, size_t len)
{
    upconn_t *u = ctx;
    req_t *q = u->req;
    if (!q || !q->hreq)
        return 0;
    int rc = cn_http_response_write(q->hreq, data, len);
    if (rc != 0) {
        /* The client's connection failed (CN_EIO: it is closed and the
         * request is dead), or, a bug, a pause was not honoured
         * (CN_ETOOBIG: the connection is still open, with our cancel
         * callback on it, which would later run on a request freed below:
         * close it now, without the callback). The exchange is abandoned
         * below. */
        if (rc != CN_EIO) {
            cn_http_req_on_cancel(q->hreq, NULL, NULL);
            cn_http_response_abort(q->hreq);
        }
        q->hreq = NULL;
    }
    return 0;
}

/* The client's unsent bytes crossed a water mark: stop or restart reading
 * the upstream, so a client that does not read holds at most the layer's
 * bounded buffers here, and the upstream waits in its own socket. */
static void on_flow(cn_http_req_t *h, bool paused, void *data)
{
    (void)h;
    req_t *q = data;
    upconn_t *u = q->conn;
    if (!u || u->state != U_WAITING)
        return;
    if (paused && !u->paused) {
        u->paused = true;
        if (u->reading)
            uv_read_stop((uv_stream_t *)&u->tcp);
        u->reading = false;
        /* the client's send timeout governs now, not the upstream's */
        cn_deadline_disarm(&u->dl);
    } else if (!paused && u->paused) {
        u->paused = false;
        if (uv_read_start((uv_stream_t *)&u->tcp, alloc_cb, conn_read) == 0)
            u->reading = true;
        up_arm(u, q->w->router->cfg->upstream_timeout_ms);
    }
}

/* The upstream's response is complete: measure it, end the client's. */
static void response_complete(upconn_t *u, bool clean)
{
    cn_router_worker_t *w = u->w;
    const cn_http_message_t *m = &u->reader.msg;
    bool keep = clean && m->keep_alive;
    cn_router_upstream_success(u->up);

    if (u->shadow) {
        shadow_t *sh = u->shadow;
        record_shadow(w, sh, m->status_code, -1, m);
        shadow_free(w, sh);
        conn_release(u, keep);
        return;
    }
    req_t *q = u->req;
    if (!q) {
        conn_release(u, keep);
        return;
    }
    q->conn = NULL;
    obs_who(&q->obs, q->wg, q->role, q->address);
    q->obs.status = m->status_code;
    q->obs.failure = -1;
    q->obs.has_latency = true;
    q->obs.response_bytes = m->wire_bytes;
    q->obs.prediction = -1;
    if (m->status_code >= 200 && m->status_code < 300 && !q->head) {
        /* The body went by; a prefix of it was kept for this. */
        if (m->body_streamed > EXTRACT_PREFIX_BYTES)
            q->obs.prediction = CN_ROUTER_PRED_TOO_BIG;
        else
            q->obs.prediction = extract(w, m, &q->obs.prediction_value);
        if (q->obs.prediction == CN_ROUTER_PRED_OK)
            pair_set(w, q->pair, q->role, q->obs.prediction_value);
    }
    conn_release(u, keep);
    if (q->hreq) {
        cn_http_req_on_cancel(q->hreq, NULL, NULL);
        cn_http_req_on_flow(q->hreq, NULL, NULL);
        cn_http_response_end(q->hreq);
    }
    finish(q);
}

/* -------------------------------------------------- upstream I/O callbacks */

/* A deadline passed: connect, the response, or (U_IDLE) the pool's idle
 * time. */
static void conn_timeout(cn_deadline_t *d)
{
    upconn_t *u = (upconn_t *)((char *)d - offsetof(upconn_t, dl));
    if (u->state == U_CONNECTING)
        attempt_failed(u, CN_ROUTER_FAIL_CONNECT, true);
    else if (u->state == U_WAITING)
        attempt_failed(u, CN_ROUTER_FAIL_TIMEOUT, !u->got_bytes);
    else
        conn_close(u);
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    upconn_t *u = s->data;
    if (u->state == U_IDLE) {
        /* anything from an idle upstream (EOF, reset, stray bytes) ends it */
        if (n != 0)
            conn_close(u);
        return;
    }
    if (u->state != U_WAITING)
        return;
    if (n < 0) {
        if (n == UV_EOF && cn_http_reader_started(&u->reader)) {
            cn_http_feed_t r = cn_http_reader_eof(&u->reader);
            if (r == CN_HTTP_COMPLETE) {
                cn_deadline_disarm(&u->dl);
                response_complete(u, false);
                return;
            }
        }
        attempt_failed(u, CN_ROUTER_FAIL_RESET, !u->got_bytes);
        return;
    }
    if (n == 0)
        return;
    u->got_bytes = true;
    const char *p = buf->base;
    size_t left = (size_t)n;
    while (left > 0) {
        size_t used = 0;
        cn_http_feed_t r = cn_http_reader_feed(&u->reader, p, left, &used);
        p += used;
        left -= used;
        if (r == CN_HTTP_ERROR) {
            wlog(u->w, "bad response from %s: %s", u->up->address,
                 u->reader.error_text);
            attempt_failed(u, CN_ROUTER_FAIL_BAD_RESPONSE, false);
            return;
        }
        if (u->req && u->req->streaming && !u->req->hreq) {
            /* The client's connection failed under a write: nobody to
             * relay to, and the upstream is mid-body: drop both. Not
             * measured, as a client that leaves (on_client_gone): the
             * attempt has no outcome yet (its obs is unset; recorded, it
             * was a connect failure of key 0's version). */
            req_t *q = u->req;
            u->req = NULL;
            q->conn = NULL;
            conn_close(u);
            req_free(q);
            return;
        }
        if (r == CN_HTTP_HEAD) {
            response_head(u);
            continue;
        }
        if (r == CN_HTTP_COMPLETE) {
            cn_deadline_disarm(&u->dl);
            /* Bytes after the response: the server is confused; don't reuse. */
            response_complete(u, left == 0);
            return;
        }
        break;
    }
}

static void conn_written(uv_write_t *wr, int status)
{
    upconn_t *u = wr->data;
    u->writing = false;
    if (u->state == U_CLOSING)
        return;
    if (status < 0 && u->state == U_WAITING && !u->got_bytes)
        attempt_failed(u, CN_ROUTER_FAIL_RESET, true);
}

static void conn_send(upconn_t *u, const char *buf, size_t len, bool head)
{
    cn_router_worker_t *w = u->w;
    u->state = U_WAITING;
    u->got_bytes = false;
    cn_http_reader_next(&u->reader);
    if (head)
        cn_http_reader_expect_no_body(&u->reader);
    /* A client's response is relayed as it comes (bounded memory, whatever
     * its size); a kept prefix feeds the prediction extractor, and one
     * byte more tells a body too big to extract. A shadow's is kept whole
     * (within max_body_bytes): nobody waits for it. */
    if (u->req)
        cn_http_reader_stream(&u->reader, relay_body, u, EXTRACT_PREFIX_BYTES + 1);
    u->paused = false;
    /* uv_try_write first, for the reason given in http/server.c */
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&u->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        attempt_failed(u, CN_ROUTER_FAIL_RESET, true);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    if (done < len) {
        b = uv_buf_init((char *)buf + done, (unsigned)(len - done));
        u->writing = true;
        if (uv_write(&u->wr, (uv_stream_t *)&u->tcp, &b, 1, conn_written) < 0) {
            u->writing = false;
            attempt_failed(u, CN_ROUTER_FAIL_RESET, true);
            return;
        }
    }
    if (!u->reading) {
        int rc = uv_read_start((uv_stream_t *)&u->tcp, alloc_cb, conn_read);
        if (rc < 0) {
            attempt_failed(u, CN_ROUTER_FAIL_RESET, true);
            return;
        }
        u->reading = true;
    }
    up_arm(u, w->router->cfg->upstream_timeout_ms);
}

/* The buffer and HEAD flag of whatever the connection carries. */
static void conn_payload(upconn_t *u, const char **buf, size_t *len, bool *head)
{
    if (u->shadow) {
        *buf = u->shadow->buf;
        *len = u->shadow->len;
        *head = u->shadow->head;
    } else {
        *buf = u->req->up_buf;
        *len = u->req->up_len;
        *head = u->req->head;
    }
}

static void conn_connected(uv_connect_t *cr, int status)
{
    upconn_t *u = cr->data;
    if (u->state == U_CLOSING)
        return;
    cn_deadline_disarm(&u->dl);
    if (status < 0) {
        attempt_failed(u, CN_ROUTER_FAIL_CONNECT, true);
        return;
    }
    uv_tcp_nodelay(&u->tcp, 1);
    const char *buf;
    size_t len;
    bool head;
    conn_payload(u, &buf, &len, &head);
    conn_send(u, buf, len, head);
}

/* Start an exchange on a pooled connection of `pool`, or a new one. */
static upconn_t *conn_start(cn_router_worker_t *w, cn_router_pool_t *pool, req_t *q,
                            shadow_t *sh, bool fresh)
{
    upconn_t *u = fresh ? NULL : pool->idle;
    if (u) {
        idle_unlink(u);
        cn_deadline_disarm(&u->dl);
        u->req = q;
        u->shadow = sh;
        const char *buf;
        size_t len;
        bool head;
        conn_payload(u, &buf, &len, &head);
        conn_send(u, buf, len, head);
        return u;
    }
    u = conn_new(w, pool);
    u->req = q;
    u->shadow = sh;
    u->state = U_CONNECTING;
    int rc = uv_tcp_connect(&u->creq, &u->tcp, (const struct sockaddr *)&u->up->addr,
                            conn_connected);
    if (rc < 0) {
        /* Fail from the loop, not from inside the caller's stack. */
        up_arm(u, 0);
        return u;
    }
    up_arm(u, w->router->cfg->connect_timeout_ms);
    return u;
}

/* Round-robin over the usable addresses of a role in the request's
 * generation: the index of one in the role's set (its pool is
 * v->pools[role][index]), or -1 if none. */
static int pick(cn_router_worker_t *w, cn_router_wgen_t *v, cn_role_t role,
                bool fail_open)
{
    size_t n = v->g->count[role];
    if (n == 0)
        return -1;
    uint64_t now = cn_router_now_ms();
    for (size_t k = 0; k < n; k++) {
        size_t i = w->rr[role]++ % n;
        if (cn_router_upstream_usable(v->g->ups[role][i], now))
            return (int)i;
    }
    /* Every address is marked down. Health is advisory: for stable, try one
     * anyway rather than refuse; a real failure then gives the 502. */
    return fail_open ? (int)(w->rr[role]++ % n) : -1;
}

static void attempt_pool(req_t *q, cn_role_t role, cn_router_pool_t *force)
{
    cn_router_worker_t *w = q->w;
    const cn_router_config_t *cfg = w->router->cfg;
    q->role = role;
    /* forced: the same address again, on a fresh connection */
    if (!force)
        q->address = pick(w, q->wg, role, role == CN_ROLE_STABLE);
    cn_router_pool_t *pool = force;
    if (!pool && q->address >= 0)
        pool = q->wg->pools[role][q->address];
    if (!pool) {
        /* canary has no usable address */
        if (cfg->retry_on_stable && !q->retried) {
            retry_on_stable(q, CN_ROUTER_FAIL_UNAVAILABLE);
            return;
        }
        respond_upstream_error(q, 502, CN_ROUTER_FAIL_UNAVAILABLE,
                               failure_text(CN_ROUTER_FAIL_UNAVAILABLE));
        return;
    }
    q->conn = conn_start(w, pool, q, NULL, force != NULL);
}

static void start_shadow(cn_router_worker_t *w, req_t *q)
{
    int address = pick(w, q->wg, CN_ROLE_CANARY, false);
    if (address < 0) {
        cn_router_obs_t o = {0};
        obs_who(&o, q->wg, CN_ROLE_CANARY, -1);
        o.shadow = true;
        o.failure = CN_ROUTER_FAIL_UNAVAILABLE;
        o.prediction = -1;
        o.step = q->step;
        cn_router_shard_record(&w->shard, q->seg, &o);
        return;
    }
    cn_router_pool_t *pool = q->wg->pools[CN_ROLE_CANARY][address];
    shadow_t *sh = cn_xcalloc(1, sizeof *sh);
    sh->wg = q->wg;
    sh->address = address;
    sh->wg->inflight++;
    sh->buf = cn_xmalloc(q->up_len);
    memcpy(sh->buf, q->up_buf, q->up_len);
    sh->len = q->up_len;
    sh->seg = q->seg;
    sh->step = q->step;
    sh->start_ns = now_ns();
    sh->request_bytes = q->request_bytes;
    sh->head = q->head;
    pair_t *p = cn_xcalloc(1, sizeof *p);
    p->refs = 2;
    size_t n = q->id_len < sizeof p->id - 1 ? q->id_len : sizeof p->id - 1;
    memcpy(p->id, q->id, n);
    p->step = q->step;
    sh->pair = p;
    q->pair = p;
    conn_start(w, pool, NULL, sh, false);
}

/* -------------------------------------------------------------- clients */

static void req_free(req_t *q)
{
    if (!q)
        return;
    if (q->conn) {
        /* the client left while the upstream works: let the exchange
         * finish (the connection then returns to the pool) */
        q->conn->req = NULL;
        q->conn = NULL;
    }
    pair_release(q->pair);
    wgen_put(q->w, q->wg);
    free(q->up_buf);
    free(q);
}

/* The request is over (answered, cut, or its client gone): record it. */
static void finish(req_t *q)
{
    cn_router_worker_t *w = q->w;
    uint64_t from = q->retried ? q->attempt_ns : q->start_ns;
    q->obs.latency_us = (now_ns() - from) / 1000;
    q->obs.request_bytes = q->request_bytes;
    q->obs.step = q->step;
    step_now(w);
    cn_router_shard_record(&w->shard, q->seg, &q->obs);
    cn_router_shard_remember(
        &w->shard, q->id, q->id_len, q->obs.key, q->seg, q->decision.shadow_copy,
        unix_now(),
        q->obs.prediction == CN_ROUTER_PRED_OK ? q->obs.prediction_value : NAN,
        q->step);
    req_free(q);
}

/* The client's connection closed before its response ended. */
static void on_client_gone(cn_http_req_t *h, void *data)
{
    (void)h;
    req_t *q = data;
    q->hreq = NULL;
    if (q->conn && q->streaming) {
        /* mid-body: the upstream connection cannot be reused */
        upconn_t *u = q->conn;
        u->req = NULL;
        q->conn = NULL;
        conn_close(u);
    }
    req_free(q); /* not measured: no response was given */
}

/* The HTTP layer answered an error itself, or made room: count and log. */
static void on_reject(cn_http_server_t *s, cn_http_conn_t *c, unsigned status,
                      const char *text, void *data)
{
    (void)s;
    cn_router_worker_t *w = data;
    int kind = status == 413   ? CN_ROUTER_REJECT_BODY_TOO_BIG
               : status == 431 ? CN_ROUTER_REJECT_HEADER_TOO_BIG
               : status == 408 ? CN_ROUTER_REJECT_TIMEOUT
               : status == 0   ? CN_ROUTER_REJECT_MAX_CONNECTIONS
                               : CN_ROUTER_REJECT_BAD_REQUEST;
    if (status != 0 || strstr(text, "max_connections") || strstr(text, "evicted"))
        atomic_fetch_add_explicit(&w->router->rejects[kind], 1, memory_order_relaxed);
    if (status)
        wlog(w, "%u from %s: %s", status, cn_http_conn_peer(c), text);
    else
        wlog(w, "%s: %s", cn_http_conn_peer(c), text);
}

static void on_conn(cn_http_server_t *s, cn_http_conn_t *c, bool opened, void *data)
{
    (void)s, (void)c;
    cn_router_worker_t *w = data;
    if (opened) {
        atomic_fetch_add_explicit(&w->router->connections_open, 1,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&w->router->connections_total, 1,
                                  memory_order_relaxed);
    } else {
        atomic_fetch_sub_explicit(&w->router->connections_open, 1,
                                  memory_order_relaxed);
    }
}

static bool id_ok(const char *s, size_t n)
{
    if (n == 0 || n > REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    return true;
}

/* A whole request has arrived (the layer's one route): decide, build the
 * upstream request, go. */
static void on_request(cn_http_req_t *hreq, void *data)
{
    cn_router_worker_t *w = data;
    cn_router_t *r = w->router;
    const cn_router_config_t *cfg = r->cfg;
    const cn_http_message_t *m = cn_http_req_message(hreq);

    req_t *q = cn_xcalloc(1, sizeof *q);
    q->w = w;
    q->address = -1;
    q->obs.address = -1;
    q->hreq = hreq;
    q->start_ns = cn_http_req_start_ns(hreq);
    q->attempt_ns = q->start_ns;
    q->request_bytes = m->wire_bytes;
    q->head = m->method == HTTP_HEAD;
    cn_http_req_on_cancel(hreq, on_client_gone, q);
    cn_http_req_on_flow(hreq, on_flow, q);
    const cn_http_header_t *h = cn_http_find_header(m, "X-Request-Id");
    if (h && id_ok(h->value, h->value_len)) {
        memcpy(q->id, h->value, h->value_len);
        q->id_len = h->value_len;
    } else {
        /* 128 random bits: unique without coordination between workers */
        uint64_t a = cn_rand_next(&w->rng);
        uint64_t b = cn_rand_next(&w->rng) ^ w->next_id++;
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 16; i++) {
            q->id[i] = hex[(a >> (60 - 4 * i)) & 15];
            q->id[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
        }
        q->id[32] = '\0';
        q->id_len = 32;
    }
    if (cfg->segment_header) {
        h = cn_http_find_header(m, cfg->segment_header);
        q->seg = h ? cn_router_shard_segment(&w->shard, h->value, h->value_len) : 0;
    }
    cn_router_request_info_t info = {0};
    if (cfg->sticky_header && (h = cn_http_find_header(m, cfg->sticky_header))) {
        info.sticky_key = h->value;
        info.sticky_key_len = h->value_len;
    } else if (cfg->sticky_cookie) {
        cn_http_find_cookie(m, cfg->sticky_cookie, &info.sticky_key,
                            &info.sticky_key_len);
    }
    if (cfg->force_header && (h = cn_http_find_header(m, cfg->force_header))) {
        info.force_value = h->value;
        info.force_value_len = h->value_len;
    }
    /* The step first, then the generation: cn_router_publish stores the
     * generation first and then opens the step, so a request that sees the
     * new step also sees the new generation, and a step's data never holds
     * a decision made with the generation before it. One atomic load per
     * request; the request keeps the generation (split, sets, labels) to
     * its end, retries and shadow copy included. */
    q->step = step_now(w);
    if (atomic_load_explicit(&r->gen, memory_order_acquire) != w->cur->g)
        cn_router__worker_adopt(w);
    q->wg = w->cur;
    q->wg->inflight++;
    cn_router_split_decide(&q->wg->g->spec.traffic, &info, &w->rng, &q->decision);

    /* the request as the upstream sees it: hop-by-hop headers dropped, and
     * Expect too (the whole body is already here and goes with the head) */
    obuf_t b = OB_INIT(w);
    ob_reserve(&b, 256 + m->url_len + m->body_len);
    ob_str(&b, m->method_name);
    ob_add(&b, " ", 1);
    ob_add(&b, m->url, m->url_len);
    ob_add(&b, " HTTP/1.1\r\n", 11);
    for (size_t i = 0; i < m->nheaders; i++) {
        const cn_http_header_t *hh = &m->headers[i];
        if (cn_http_is_hop_header(hh->name, hh->name_len) ||
            cn_http_connection_lists(m, hh->name, hh->name_len) ||
            name_is(hh, "X-Request-Id") || name_is(hh, "Expect"))
            continue;
        ob_header(&b, hh->name, hh->name_len, hh->value, hh->value_len);
    }
    ob_header(&b, "X-Request-Id", 12, q->id, q->id_len);
    if (m->body_len > 0 || m->method == HTTP_POST || m->method == HTTP_PUT ||
        m->method == HTTP_PATCH) {
        ob_add(&b, "Content-Length: ", 16);
        ob_u64(&b, m->body_len);
        ob_add(&b, "\r\n", 2);
    }
    ob_add(&b, "\r\n", 2);
    ob_add(&b, m->body, m->body_len);
    if (b.overflow) {
        /* Cannot happen within the reader's limits (see OB_INIT). */
        fprintf(stderr, "router: internal error: upstream request over %zu bytes\n",
                b.max);
        abort();
    }
    q->up_buf = b.data;
    q->up_len = b.len;

    if (q->decision.shadow_copy)
        start_shadow(w, q);
    attempt_pool(q, q->decision.target, NULL);
}

/* ------------------------------------------------------------- lifecycle */

static void grace_expired(uv_timer_t *t)
{
    cn_router_worker_t *w = t->data;
    cn_http_server_close_all(w->http);
    while (w->conns)
        conn_close(w->conns);
}

/* -------------------------------------------------- generations and pools */

/* Drop one hold on a pool; the last one (no generation view lists it, no
 * connection was made through it) frees it and lets go of its address. */
static void pool_unref(cn_router_worker_t *w, cn_router_pool_t *p)
{
    if (!p || --p->refs > 0)
        return;
    cn_router_pool_t **link = &w->pools;
    while (*link && *link != p)
        link = &(*link)->next;
    if (*link)
        *link = p->next;
    cn_router__upstream_release(w->router, p->up);
    free(p);
}

/* This worker's pool for an address, made on first use (one hold). */
static cn_router_pool_t *pool_get(cn_router_worker_t *w, cn_router_upstream_t *up)
{
    cn_router_pool_t *p = w->pools;
    while (p && p->up != up)
        p = p->next;
    if (!p) {
        p = cn_xcalloc(1, sizeof *p);
        p->up = up;
        cn_router__upstream_hold(w->router, up);
        p->next = w->pools;
        w->pools = p;
    }
    p->refs++;
    return p;
}

static void wgen_free(cn_router_worker_t *w, cn_router_wgen_t *v)
{
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        for (size_t i = 0; i < v->g->count[role]; i++)
            pool_unref(w, v->pools[role][i]);
        free(v->pools[role]);
        if (v->key[role] >= 0)
            cn_router_shard_key_release(&w->shard, (unsigned)v->key[role]);
    }
    cn_router__gen_release(w->router, v->g);
    free(v);
}

/* A request or shadow copy is done with its generation: the last one out
 * of a generation that is no longer current lets it go. */
static void wgen_put(cn_router_worker_t *w, cn_router_wgen_t *v)
{
    if (!v || --v->inflight > 0 || v == w->cur)
        return;
    cn_router_wgen_t **link = &w->old;
    while (*link && *link != v)
        link = &(*link)->next;
    if (*link)
        *link = v->next;
    wgen_free(w, v);
}

void cn_router__worker_adopt(cn_router_worker_t *w)
{
    cn_router_t *r = w->router;
    /* The router holds the current generation until every worker has
     * taken it (cn_router_publish waits for that), so taking our hold
     * after the load is safe. */
    cn_router_gen_t *g = atomic_load_explicit(&r->gen, memory_order_acquire);
    if (w->cur && w->cur->g == g)
        return;
    cn_router_wgen_t *v = cn_xcalloc(1, sizeof *v);
    v->g = g;
    cn_router__gen_hold(g);
    for (cn_router_pool_t *p = w->pools; p; p = p->next)
        p->live = false;
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        v->key[role] =
            cn_router_shard_key(&w->shard, (cn_role_t)role, g->spec.sets[role].version);
        if (v->key[role] < 0)
            wlog(w, "no measurement key left for %s version '%s': not counted",
                 cn_role_name((cn_role_t)role), g->spec.sets[role].version);
        v->pools[role] = cn_xcalloc(g->count[role] + 1, sizeof *v->pools[role]);
        for (size_t i = 0; i < g->count[role]; i++) {
            v->pools[role][i] = pool_get(w, g->ups[role][i]);
            v->pools[role][i]->live = true;
        }
    }
    /* Idle connections to addresses that left go now; busy ones are
     * closed when their exchange ends (conn_release). */
    for (cn_router_pool_t *p = w->pools; p; p = p->next)
        while (!p->live && p->idle)
            conn_close(p->idle);
    cn_router_wgen_t *prev = w->cur;
    w->cur = v;
    if (prev) {
        if (prev->inflight == 0) {
            wgen_free(w, prev);
        } else {
            prev->next = w->old;
            w->old = prev;
        }
    }
}

/* ------------------------------------------------------------- lifecycle */

static void begin_stop(cn_router_worker_t *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    uv_close((uv_handle_t *)&w->wake, NULL);
    /* idle clients and pooled connections go now; busy ones finish */
    cn_http_server_shutdown(w->http);
    for (cn_router_pool_t *p = w->pools; p; p = p->next)
        while (p->idle)
            conn_close(p->idle);
    uv_timer_start(&w->grace, grace_expired, 5000, 0);
    uv_unref((uv_handle_t *)&w->grace);
}

static void on_wake(uv_async_t *a)
{
    cn_router_worker_t *w = a->data;
    cn_router__worker_service_call(w);
    cn_router__test_pause();
    if (cn_router__stop_requested(w->router))
        begin_stop(w);
}

cn_router_worker_t *cn_router__worker_new(cn_router_t *r, unsigned index, char *err,
                                          size_t errlen)
{
    cn_router_worker_t *w = cn_xcalloc(1, sizeof *w);
    w->router = r;
    w->index = index;
    const cn_router_config_t *cfg = r->cfg;
    int rc = uv_loop_init(&w->loop);
    if (rc < 0) {
        snprintf(err, errlen, "worker %u: cannot make an event loop: %s", index,
                 uv_strerror(rc));
        free(w);
        return NULL;
    }
    w->loop.data = w;
    rc = uv_async_init(&w->loop, &w->wake, on_wake);
    if (rc < 0) {
        snprintf(err, errlen, "worker %u: cannot make a wake-up handle: %s", index,
                 uv_strerror(rc));
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        free(w);
        return NULL;
    }
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->grace);
    w->grace.data = w;
    cn_deadlines_init(&w->deadlines, &w->loop);
    w->loop_ok = true;
    w->readbuf = cn_xmalloc(READBUF_BYTES);
    /* The client side: the HTTP layer. max_connections is for all workers
     * together; each worker's share (SO_REUSEPORT spreads them evenly). */
    cn_http_server_limits_t lim = {0};
    lim.request.max_header_bytes = cfg->max_header_bytes;
    lim.request.max_body_bytes = cfg->max_body_bytes;
    lim.max_connections = (cfg->max_connections + r->nworkers - 1) / r->nworkers;
    lim.header_timeout_ms = cfg->header_timeout_ms;
    lim.body_timeout_ms = cfg->header_timeout_ms; /* the whole request, as before */
    lim.idle_timeout_ms = cfg->idle_timeout_ms;
    lim.send_timeout_ms = CN_HTTP_DEFAULT_SEND_TIMEOUT_MS;
    lim.high_water_bytes = CLIENT_HIGH_WATER_BYTES;
    lim.low_water_bytes = CLIENT_LOW_WATER_BYTES;
    lim.max_output_bytes = CLIENT_HIGH_WATER_BYTES + 2 * READBUF_BYTES;
    w->http = cn_http_server_new(&w->loop, &lim);
    cn_http_server_set_reject_cb(w->http, on_reject, w);
    cn_http_server_set_conn_cb(w->http, on_conn, w);
    cn_http_route_t all = {CN_HTTP_ANY_METHOD, "", CN_HTTP_ROUTE_PREFIX, on_request, w};
    cn_http_server_add_route(w->http, &all);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    w->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
             ((uint64_t)(index + 1) * UINT64_C(0x9e3779b97f4a7c15));
    cn_rand_next(&w->rng);
    cn_router_shard_params_t p = {
        .segments = (const char *const *)cfg->segments.items,
        .nsegments = cfg->segments.count,
        .max_segments = cfg->max_segments,
        .reservoir_size = cfg->reservoir_size,
        .request_id_map_size = cfg->request_id_map_size,
        .prediction_bounds = cfg->prediction_buckets,
        .n_prediction_bounds = cfg->n_prediction_buckets,
        .seed = cn_rand_next(&w->rng),
    };
    cn_router_shard_init(&w->shard, &p);
    cn_router__worker_adopt(w);
    return w;
}

void cn_router__worker_free(cn_router_worker_t *w)
{
    if (!w)
        return;
    if (w->loop_ok && !w->ran) {
        /* never ran: close the handles made in worker_new (a worker that
         * ran closed its own loop, and must not be closed twice) */
        cn_http_server_free(w->http);
        uv_close((uv_handle_t *)&w->wake, NULL);
        uv_close((uv_handle_t *)&w->grace, NULL);
        cn_deadlines_close(&w->deadlines, NULL, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
    }
    /* Every request has ended with the loop: let go of the generations,
     * then of the pools they listed. */
    while (w->old) {
        cn_router_wgen_t *v = w->old;
        w->old = v->next;
        wgen_free(w, v);
    }
    if (w->cur)
        wgen_free(w, w->cur);
    w->cur = NULL;
    cn_router_shard_dispose(&w->shard);
    free(w->readbuf);
    free(w);
}

void *cn_router__worker_main(void *arg)
{
    cn_router_worker_t *w = arg;
    cn_router_t *r = w->router;
    int rc =
        cn_http_server_listen_fd(w->http, r->listen_fds[w->index], CN_ROUTER_BACKLOG);
    if (rc < 0)
        fprintf(stderr, "router[%u]: listen: %s\n", w->index, uv_strerror(rc));
    r->listen_fds[w->index] = -1; /* owned by the loop now */
    /* a stop requested before the loop ran */
    if (cn_router__stop_requested(r))
        begin_stop(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* close whatever is left (the unref'd grace timer) and drain */
    if (!uv_is_closing((uv_handle_t *)&w->grace))
        uv_close((uv_handle_t *)&w->grace, NULL);
    cn_http_server_free(w->http); /* freed once its handles close, below */
    w->http = NULL;
    /* every upstream connection is closed: nothing can arm a deadline */
    cn_deadlines_close(&w->deadlines, NULL, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    return NULL;
}
