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
 * Memory: every handle is freed in its close callback (libuv's rule); a
 * client or upstream connection owns two handles (TCP and timer) and is
 * freed when both have closed.
 */
#include "http/http.h"
#include "router/internal.h"
#include "util/addr.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/rand.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define READBUF_BYTES (64 * 1024)
#define REQUEST_ID_MAX 128
#define PENDING_MAX_BYTES (256 * 1024) /* pipelined bytes kept per client */

typedef struct upconn_s upconn_t;
typedef struct client_s client_t;

/* Both predictions of a shadowed request; freed by the last holder. */
typedef struct pair_s {
    int refs;
    char id[64];
    bool has[2];
    double value[2];
    uint64_t step;
} pair_t;

typedef struct req_s {
    client_t *client;
    cn_router_wgen_t *wg; /* the generation it was decided with (a hold) */
    char id[REQUEST_ID_MAX + 1];
    size_t id_len;
    unsigned seg;
    uint64_t step;
    cn_router_decision_t decision;
    cn_role_t role; /* of the current attempt */
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
    uint64_t step, start_ns;
    size_t request_bytes;
    bool head;
    bool fresh_retry_done;
} shadow_t;

struct client_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    cn_router_worker_t *w;
    client_t *prev, *next;
    cn_http_reader_t reader;
    char *pending; /* bytes read but not parsed yet (pipelining) */
    size_t pending_len, pending_cap;
    req_t *req;
    uv_write_t wr;
    char *wbuf;
    bool writing, close_after, closing, reading, eof;
    bool continue_sent;    /* 100 Continue written for the current request */
    bool continue_pending; /* client_continue is scheduled (zero timer) */
    uv_write_t wr100;
    int handles;
    uint64_t first_byte_ns;
    unsigned served;
    char peer[64];
};

typedef enum upstate_e { U_CONNECTING, U_WAITING, U_IDLE, U_CLOSING } upstate_t;

struct upconn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wr;
    cn_router_worker_t *w;
    cn_router_pool_t *pool;          /* a hold, released when both handles closed */
    cn_router_upstream_t *up;        /* pool->up */
    upconn_t *prev, *next;           /* w->conns */
    upconn_t *idle_prev, *idle_next; /* pool->idle */
    cn_http_reader_t reader;
    upstate_t state;
    bool reused, got_bytes, writing, close_after_write, reading;
    int handles;
    req_t *req;
    shadow_t *shadow;
};

static void client_close(client_t *c);
static void client_continue(client_t *c);
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
 * and a cut message is never sent (see client_write_response).
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

/* ------------------------------------------------------ upstream connections */

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
    uv_close((uv_handle_t *)&u->tcp, conn_handle_closed);
    uv_close((uv_handle_t *)&u->timer, conn_handle_closed);
}

static void conn_idle_timeout(uv_timer_t *t)
{
    conn_close(t->data);
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
    uv_timer_start(&u->timer, conn_idle_timeout, cfg->upstream_idle_ms, 0);
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
    uv_timer_init(&w->loop, &u->timer);
    u->tcp.data = u;
    u->timer.data = u;
    u->creq.data = u;
    u->wr.data = u;
    u->handles = 2;
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
    o.role = CN_ROLE_CANARY;
    o.key = (unsigned)sh->wg->key[CN_ROLE_CANARY];
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

static void client_write_response(client_t *c, obuf_t *b);

/* Answer the client with an error of the router's own (502/504). */
static void respond_upstream_error(req_t *q, unsigned status, int failure,
                                   const char *what)
{
    client_t *c = q->client;
    cn_router_worker_t *w = c->w;
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
    obuf_t b = OB_INIT(w);
    ob_fmt(&b,
           "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
           "X-Request-Id: %.*s\r\nX-Model-Version: %s\r\n",
           status, cn_http_reason(status), body.len, (int)q->id_len, q->id, version);
    if (c->close_after)
        ob_str(&b, "Connection: close\r\n");
    ob_str(&b, "\r\n");
    ob_add(&b, body.data, body.len);
    cn_buf_dispose(&body);
    /* No response code: the upstream gave none. The failure kind is the
     * record; counting the 502 as well would count one error twice. */
    q->obs.role = q->role;
    q->obs.key = (unsigned)q->wg->key[q->role];
    q->obs.status = 0;
    q->obs.failure = failure;
    q->obs.has_latency = true;
    q->obs.prediction = -1;
    wlog(w, "%u for %s %.*s: %s", status, version, (int)q->id_len, q->id, what);
    client_write_response(c, &b);
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
    cn_router_worker_t *w = q->client->w;
    cn_router_obs_t o = {0};
    o.role = CN_ROLE_CANARY;
    o.key = (unsigned)q->wg->key[CN_ROLE_CANARY];
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
    if (q->role == CN_ROLE_CANARY && cfg->retry_on_stable && !q->retried &&
        before_bytes) {
        retry_on_stable(q, kind);
        return;
    }
    respond_upstream_error(q, kind == CN_ROUTER_FAIL_TIMEOUT ? 504 : 502, kind,
                           failure_text(kind));
}

/* Build the client's response from the upstream's and send it. */
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
    client_t *c = q->client;
    const char *version = q->wg->g->spec.sets[q->role].version;

    q->obs.role = q->role;
    q->obs.key = (unsigned)q->wg->key[q->role];
    q->obs.status = m->status_code;
    q->obs.failure = -1;
    q->obs.has_latency = true;
    q->obs.response_bytes = m->wire_bytes;
    q->obs.prediction = -1;
    if (m->status_code >= 200 && m->status_code < 300 && !q->head) {
        q->obs.prediction = extract(w, m, &q->obs.prediction_value);
        if (q->obs.prediction == CN_ROUTER_PRED_OK)
            pair_set(w, q->pair, q->role, q->obs.prediction_value);
    }

    obuf_t b = OB_INIT(w);
    ob_reserve(&b, 256 + m->body_len);
    ob_add(&b, "HTTP/1.1 ", 9);
    ob_u64(&b, m->status_code);
    ob_add(&b, " ", 1);
    ob_str(&b, cn_http_reason(m->status_code));
    ob_add(&b, "\r\n", 2);
    for (size_t i = 0; i < m->nheaders; i++) {
        const cn_http_header_t *h = &m->headers[i];
        if (name_is(h, "X-Request-Id") || name_is(h, "X-Model-Version"))
            continue;
        if (cn_http_is_hop_header(h->name, h->name_len) &&
            !(q->head && name_is(h, "Content-Length")))
            continue;
        if (cn_http_connection_lists(m, h->name, h->name_len))
            continue;
        ob_header(&b, h->name, h->name_len, h->value, h->value_len);
    }
    ob_header(&b, "X-Request-Id", 12, q->id, q->id_len);
    ob_header(&b, "X-Model-Version", 15, version, strlen(version));
    bool no_body = q->head || m->status_code == 204 || m->status_code == 304;
    if (!no_body) {
        ob_add(&b, "Content-Length: ", 16);
        ob_u64(&b, m->body_len);
        ob_add(&b, "\r\n", 2);
    }
    if (c->close_after)
        ob_str(&b, "Connection: close\r\n");
    ob_add(&b, "\r\n", 2);
    if (!no_body)
        ob_add(&b, m->body, m->body_len);
    conn_release(u, keep);
    if (b.overflow) {
        cn_buf_dispose(&b);
        respond_upstream_error(q, 502, CN_ROUTER_FAIL_BAD_RESPONSE,
                               "upstream response too large to forward");
        return;
    }
    client_write_response(c, &b);
}

/* -------------------------------------------------- upstream I/O callbacks */

static void conn_timeout(uv_timer_t *t)
{
    upconn_t *u = t->data;
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
                uv_timer_stop(&u->timer);
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
    size_t used = 0;
    cn_http_feed_t r = cn_http_reader_feed(&u->reader, buf->base, (size_t)n, &used);
    if (r == CN_HTTP_ERROR) {
        wlog(u->w, "bad response from %s: %s", u->up->address, u->reader.error_text);
        attempt_failed(u, CN_ROUTER_FAIL_BAD_RESPONSE, false);
        return;
    }
    if (r == CN_HTTP_COMPLETE) {
        uv_timer_stop(&u->timer);
        /* Bytes after the response: the server is confused; don't reuse. */
        response_complete(u, used == (size_t)n);
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
    /* uv_try_write first, for the reason given at client_write_response */
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
    uv_timer_start(&u->timer, conn_timeout, w->router->cfg->upstream_timeout_ms, 0);
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
    uv_timer_stop(&u->timer);
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
        uv_timer_stop(&u->timer);
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
        uv_timer_start(&u->timer, conn_timeout, 0, 0);
        return u;
    }
    uv_timer_start(&u->timer, conn_timeout, w->router->cfg->connect_timeout_ms, 0);
    return u;
}

/* Round-robin over the usable addresses of a role in the request's
 * generation; NULL if none. */
static cn_router_pool_t *pick(cn_router_worker_t *w, cn_router_wgen_t *v,
                              cn_role_t role, bool fail_open)
{
    size_t n = v->g->count[role];
    if (n == 0)
        return NULL;
    uint64_t now = cn_router_now_ms();
    for (size_t k = 0; k < n; k++) {
        size_t i = w->rr[role]++ % n;
        if (cn_router_upstream_usable(v->g->ups[role][i], now))
            return v->pools[role][i];
    }
    /* Every address is marked down. Health is advisory: for stable, try one
     * anyway rather than refuse; a real failure then gives the 502. */
    return fail_open ? v->pools[role][w->rr[role]++ % n] : NULL;
}

static void attempt_pool(req_t *q, cn_role_t role, cn_router_pool_t *force)
{
    cn_router_worker_t *w = q->client->w;
    const cn_router_config_t *cfg = w->router->cfg;
    q->role = role;
    cn_router_pool_t *pool =
        force ? force : pick(w, q->wg, role, role == CN_ROLE_STABLE);
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
    cn_router_pool_t *pool = pick(w, q->wg, CN_ROLE_CANARY, false);
    if (!pool) {
        cn_router_obs_t o = {0};
        o.role = CN_ROLE_CANARY;
        o.key = (unsigned)q->wg->key[CN_ROLE_CANARY];
        o.shadow = true;
        o.failure = CN_ROUTER_FAIL_UNAVAILABLE;
        o.prediction = -1;
        o.step = q->step;
        cn_router_shard_record(&w->shard, q->seg, &o);
        return;
    }
    shadow_t *sh = cn_xcalloc(1, sizeof *sh);
    sh->wg = q->wg;
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
    wgen_put(q->client->w, q->wg);
    free(q->up_buf);
    free(q);
}

static void client_handle_closed(uv_handle_t *h)
{
    client_t *c = h->data;
    if (--c->handles > 0)
        return;
    cn_http_reader_dispose(&c->reader);
    free(c->pending);
    free(c->wbuf);
    free(c);
}

static void client_close(client_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    cn_router_worker_t *w = c->w;
    req_free(c->req);
    c->req = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_fetch_sub_explicit(&w->router->connections_open, 1, memory_order_relaxed);
    uv_close((uv_handle_t *)&c->tcp, client_handle_closed);
    uv_close((uv_handle_t *)&c->timer, client_handle_closed);
}

static void client_timeout(uv_timer_t *t)
{
    client_t *c = t->data;
    if (c->req || c->writing || c->continue_pending)
        return; /* the upstream's own timeout governs in-flight requests */
    if (!cn_http_reader_started(&c->reader)) {
        client_close(c); /* idle: close quietly */
        return;
    }
    cn_router_worker_t *w = c->w;
    atomic_fetch_add_explicit(&w->router->rejects[CN_ROUTER_REJECT_TIMEOUT], 1,
                              memory_order_relaxed);
    wlog(w, "408 from %s: request not complete within %" PRIu32 " ms", c->peer,
         w->router->cfg->header_timeout_ms);
    obuf_t b = OB_INIT(w);
    const char *body = "{\"error\":\"request not received in time\",\"status\":408}\n";
    ob_fmt(&b,
           "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
           strlen(body), body);
    c->close_after = true;
    client_write_response(c, &b);
}

static void client_reject(client_t *c, unsigned status, const char *text)
{
    cn_router_worker_t *w = c->w;
    int kind = status == 413   ? CN_ROUTER_REJECT_BODY_TOO_BIG
               : status == 431 ? CN_ROUTER_REJECT_HEADER_TOO_BIG
                               : CN_ROUTER_REJECT_BAD_REQUEST;
    atomic_fetch_add_explicit(&w->router->rejects[kind], 1, memory_order_relaxed);
    wlog(w, "%u from %s: %s", status, c->peer, text);
    obuf_t body = OB_INIT(w);
    ob_fmt(&body, "{\"error\":\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            ob_add(&body, "\\", 1);
        if ((unsigned char)*p >= 0x20)
            ob_add(&body, p, 1);
    }
    ob_fmt(&body, "\",\"status\":%u}\n", status);
    obuf_t b = OB_INIT(w);
    ob_fmt(&b,
           "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
           "Connection: close\r\n\r\n",
           status, cn_http_reason(status), body.len);
    ob_add(&b, body.data, body.len);
    cn_buf_dispose(&body);
    c->close_after = true;
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
    client_write_response(c, &b);
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

/* A whole request has arrived: decide, build the upstream request, go. */
static void dispatch(client_t *c)
{
    cn_router_worker_t *w = c->w;
    cn_router_t *r = w->router;
    const cn_router_config_t *cfg = r->cfg;
    const cn_http_message_t *m = &c->reader.msg;

    req_t *q = cn_xcalloc(1, sizeof *q);
    q->client = c;
    q->start_ns = c->first_byte_ns;
    q->attempt_ns = q->start_ns;
    q->request_bytes = m->wire_bytes;
    q->head = m->method == HTTP_HEAD;
    c->req = q;
    if (!m->keep_alive || w->stopping)
        c->close_after = true;

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

/* Parse what we have; dispatch a complete request. */
static void client_parse(client_t *c, const char *data, size_t n)
{
    cn_router_worker_t *w = c->w;
    while (n > 0 && !c->req && !c->writing && !c->closing) {
        if (!cn_http_reader_started(&c->reader)) {
            c->first_byte_ns = now_ns();
            uv_timer_start(&c->timer, client_timeout, w->router->cfg->header_timeout_ms,
                           0);
        }
        size_t used = 0;
        cn_http_feed_t r = cn_http_reader_feed(&c->reader, data, n, &used);
        data += used;
        n -= used;
        if (r == CN_HTTP_ERROR) {
            client_reject(c, c->reader.error_status, c->reader.error_text);
            return;
        }
        if (r == CN_HTTP_NEED_MORE && c->reader.expect_continue && !c->continue_sent) {
            /* The head asked for it and passed the limits: invite the
             * body (RFC 9110 10.1.1) rather than let the client wait. */
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t ub = uv_buf_init((char *)cont, sizeof cont - 1);
            c->continue_sent = true;
            if (uv_write(&c->wr100, (uv_stream_t *)&c->tcp, &ub, 1, NULL) < 0) {
                client_close(c);
                return;
            }
        }
        if (r == CN_HTTP_COMPLETE) {
            uv_timer_stop(&c->timer);
            /* Keep reading (no epoll_ctl per request): bytes that arrive
             * meanwhile are pipelined requests, kept in `pending`, and an
             * EOF or reset is noticed at once. Keep the rest for later. */
            if (n > 0) {
                if (c->pending_cap < n) {
                    c->pending = cn_xrealloc(c->pending, n);
                    c->pending_cap = n;
                }
                memmove(c->pending, data, n);
            }
            c->pending_len = n;
            dispatch(c);
            return;
        }
    }
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    client_t *c = s->data;
    bool busy = c->req || c->writing || c->continue_pending;
    if (n < 0) {
        if (busy && n == UV_EOF) {
            /* A half-close after a whole request: answer it, then close. */
            c->close_after = true;
            c->eof = true;
            uv_read_stop(s);
            c->reading = false;
            return;
        }
        /* Idle, a request cut short, or a reset: the peer is gone. */
        client_close(c);
        return;
    }
    if (n == 0)
        return;
    if (busy) {
        /* Pipelined bytes while a request is in flight: keep them; stop
         * reading once a whole body's worth is waiting. */
        size_t need = c->pending_len + (size_t)n;
        if (c->pending_cap < need) {
            c->pending_cap = need;
            c->pending = cn_xrealloc(c->pending, need);
        }
        memcpy(c->pending + c->pending_len, buf->base, (size_t)n);
        c->pending_len = need;
        if (c->pending_len > PENDING_MAX_BYTES) {
            uv_read_stop(s);
            c->reading = false;
        }
        return;
    }
    client_parse(c, buf->base, (size_t)n);
}

static void client_continue_cb(uv_timer_t *t)
{
    client_continue(t->data);
}

/*
 * The response is out: measure the request, then close or take the next
 * one. sync: the write finished inside the code that produced the
 * response, so the next pipelined request is taken from the loop (a zero
 * timer), not from this stack, which could otherwise grow with every
 * pipelined request answered synchronously.
 */
static void client_response_sent(client_t *c, int status, bool sync)
{
    cn_router_worker_t *w = c->w;
    req_t *q = c->req;
    if (q) {
        uint64_t end = now_ns();
        uint64_t from = q->retried ? q->attempt_ns : q->start_ns;
        q->obs.latency_us = (end - from) / 1000;
        q->obs.request_bytes = q->request_bytes;
        q->obs.step = q->step;
        step_now(w);
        cn_router_shard_record(&w->shard, q->seg, &q->obs);
        cn_router_shard_remember(&w->shard, q->id, q->id_len, q->obs.key, q->seg,
                                 q->decision.shadow_copy, unix_now());
        req_free(q);
        c->req = NULL;
        c->served++;
    }
    if (status < 0 || c->close_after || c->closing) {
        client_close(c);
        return;
    }
    if (sync) {
        c->continue_pending = true;
        uv_timer_start(&c->timer, client_continue_cb, 0, 0);
        return;
    }
    client_continue(c);
}

static void client_written(uv_write_t *wr, int status)
{
    client_t *c = wr->data;
    c->writing = false;
    free(c->wbuf);
    c->wbuf = NULL;
    client_response_sent(c, status, false);
}

/*
 * Send a response (takes b->data; a cut one is not sent: the connection is
 * closed). uv_try_write first: a response that fits
 * the socket buffer (nearly all) is written at once, with no write request
 * and so no epoll_ctl to arm and disarm POLLOUT (libuv re-arms the watcher
 * after every queued write). The rest, if any, goes through uv_write.
 */
static void client_write_response(client_t *c, obuf_t *b)
{
    if (c->closing) {
        cn_buf_dispose(b);
        return;
    }
    if (b->overflow) {
        wlog(c->w, "internal error: response to %s over %zu bytes; closing", c->peer,
             b->max);
        cn_buf_dispose(b);
        client_close(c);
        return;
    }
    uv_buf_t ub = uv_buf_init(b->data, (unsigned)b->len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &ub, 1);
    if (n >= 0 && (size_t)n == b->len) {
        cn_buf_dispose(b);
        client_response_sent(c, 0, true);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        cn_buf_dispose(b);
        client_response_sent(c, n, true);
        return;
    }
    size_t done = n > 0 ? (size_t)n : 0;
    c->wbuf = b->data;
    c->writing = true;
    ub = uv_buf_init(b->data + done, (unsigned)(b->len - done));
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &ub, 1, client_written) < 0) {
        c->writing = false;
        client_close(c);
    }
}

/* After a response: the next pipelined request, or wait for more. */
static void client_continue(client_t *c)
{
    cn_router_worker_t *w = c->w;
    c->continue_pending = false;
    cn_http_reader_next(&c->reader);
    c->continue_sent = false;
    if (w->stopping) {
        client_close(c);
        return;
    }
    if (c->pending_len > 0) {
        /* Parse from a private copy: client_parse may refill pending. */
        size_t n = c->pending_len;
        char *copy = cn_xmalloc(n);
        memcpy(copy, c->pending, n);
        c->pending_len = 0;
        client_parse(c, copy, n);
        free(copy);
        if (c->req || c->writing || c->closing)
            return;
    }
    uv_timer_start(&c->timer, client_timeout, w->router->cfg->idle_timeout_ms, 0);
    if (!c->reading && !c->eof) {
        int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, client_read);
        if (rc < 0) {
            wlog(w, "reading from %s: %s", c->peer, uv_strerror(rc));
            client_close(c);
            return;
        }
        c->reading = true;
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    cn_router_worker_t *w = server->data;
    cn_router_t *r = w->router;
    if (status < 0) {
        wlog(w, "accept: %s", uv_strerror(status));
        return;
    }
    client_t *c = cn_xcalloc(1, sizeof *c);
    c->w = w;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->wr.data = c;
    c->handles = 2;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, client_handle_closed);
        uv_close((uv_handle_t *)&c->timer, client_handle_closed);
        return;
    }
    uint64_t open =
        atomic_fetch_add_explicit(&r->connections_open, 1, memory_order_relaxed) + 1;
    atomic_fetch_add_explicit(&r->connections_total, 1, memory_order_relaxed);
    c->next = w->clients;
    if (w->clients)
        w->clients->prev = c;
    w->clients = c;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
        cn_addr_format((struct sockaddr *)&ss, true, c->peer, sizeof c->peer);
    if (open > r->cfg->max_connections || w->stopping) {
        atomic_fetch_add_explicit(&r->rejects[CN_ROUTER_REJECT_MAX_CONNECTIONS], 1,
                                  memory_order_relaxed);
        wlog(w, "closing %s: %" PRIu64 " connections open, max_connections is %u",
             c->peer, open - 1, r->cfg->max_connections);
        client_close(c);
        return;
    }
    cn_http_limits_t lim = {r->cfg->max_header_bytes, r->cfg->max_body_bytes};
    cn_http_reader_init(&c->reader, CN_HTTP_REQUEST, &lim);
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, client_read);
    if (rc < 0) {
        wlog(w, "reading from %s: %s", c->peer, uv_strerror(rc));
        client_close(c);
        return;
    }
    c->reading = true;
    /* The first request must arrive within header_timeout. */
    uv_timer_start(&c->timer, client_timeout, r->cfg->header_timeout_ms, 0);
}

/* ------------------------------------------------------------- lifecycle */

static void grace_expired(uv_timer_t *t)
{
    cn_router_worker_t *w = t->data;
    while (w->clients)
        client_close(w->clients);
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
    uv_close((uv_handle_t *)&w->listener, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    /* idle clients and pooled connections go now; busy ones finish */
    client_t *c = w->clients;
    while (c) {
        client_t *next = c->next;
        if (!c->req && !c->writing)
            client_close(c);
        else
            c->close_after = true;
        c = next;
    }
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
    if (atomic_load(&w->router->stopping))
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
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    rc = uv_async_init(&w->loop, &w->wake, on_wake);
    if (rc < 0) {
        snprintf(err, errlen, "worker %u: cannot make a wake-up handle: %s", index,
                 uv_strerror(rc));
        uv_close((uv_handle_t *)&w->listener, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        free(w);
        return NULL;
    }
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->grace);
    w->grace.data = w;
    w->loop_ok = true;
    w->readbuf = cn_xmalloc(READBUF_BYTES);
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
        uv_close((uv_handle_t *)&w->listener, NULL);
        uv_close((uv_handle_t *)&w->wake, NULL);
        uv_close((uv_handle_t *)&w->grace, NULL);
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
    int rc = uv_tcp_open(&w->listener, r->listen_fds[w->index]);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, 1024, on_connection);
    if (rc < 0)
        fprintf(stderr, "router[%u]: listen: %s\n", w->index, uv_strerror(rc));
    r->listen_fds[w->index] = -1; /* owned by the loop now */
    /* a stop requested before the loop ran */
    if (atomic_load(&r->stopping))
        begin_stop(w);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    /* close whatever is left (the unref'd grace timer) and drain */
    if (!uv_is_closing((uv_handle_t *)&w->grace))
        uv_close((uv_handle_t *)&w->grace, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    return NULL;
}
