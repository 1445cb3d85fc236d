/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's server: a libuv loop of its own, one listener, keep-alive
 * connections, requests framed by cn_http_reader_t and routed by
 * cn_admin__dispatch (routes.c). See admin.h for the contract. This file
 * is the connection code only; no resource is known here.
 *
 * Answers that come later. A handler may answer after it returns (a
 * snapshot on the thread pool, a change on the control loop). The request
 * then lives on its own (cn_admin_request_t): the connection waits, not
 * reading, and if it is closed meanwhile (timeout, stop) the request is
 * detached and its answer dropped when it comes. Answers from other
 * threads are posted to a queue and delivered by a uv_async on this loop.
 * At stop the loop keeps running until every request is answered, so no
 * thread ever posts to a closed handle.
 *
 * One response in flight per connection. When a request is complete the
 * connection stops reading, writes the response, and only when the write
 * has finished feeds the bytes that came after the request (pipelined
 * requests) or resumes reading. So responses go out in request order, and
 * a client that sends without reading holds at most one read buffer and
 * one response of memory here, not an unbounded queue.
 *
 * Timeouts, one timer per connection: an idle keep-alive connection is
 * closed after idle_timeout_ms; once the first byte of a request has
 * arrived, the whole request must arrive, and later its response be taken,
 * within request_timeout_ms (408 if the request is late), so a slow client
 * cannot hold a connection slot for ever.
 *
 * Closing after a response (Connection: close, or an error such as 413) is
 * a lingering close, as RFC 9112 section 9.6 advises: shut down our side,
 * then read and discard until the client closes (or CN_ADMIN_LINGER_MS).
 * Closing at once with unread request bytes in the kernel's buffer would
 * send a reset, which can destroy the response before the client reads
 * it: exactly the 413 a client sending a too large body needs to see.
 */
#include "api/admin_internal.h"
#include "api/jsonw.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/text.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct cn_admin__conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    cn_admin_t *admin;
    cn_admin__conn_t *prev, *next;
    cn_http_reader_t reader;
    cn_admin_request_t *req; /* being answered; NULL if none */
    char peer[64];
    /* bytes received after a complete request, fed once its response is
     * written; owned */
    char *pending;
    size_t pending_off, pending_len;
    uv_shutdown_t shutdown;
    int handles_open; /* tcp and timer; freed when both are closed */
    bool reading;
    bool busy; /* a response is being written */
    bool closing;
    bool close_after_write;
    bool eof;      /* the client has closed its side */
    bool draining; /* response sent, our side shut: reading to discard */
};

/* Longest a lingering close waits for the client to close. */
#define CN_ADMIN_LINGER_MS 2000u

typedef struct write_req_s {
    uv_write_t req;
    cn_admin__conn_t *conn;
    char *data;
} write_req_t;

/* ------------------------------------------------------------ addresses */

/* Split "host:port", "[v6]:port" or ":port" and resolve it (numeric or by
 * name; the first address wins). */
static int resolve(const char *text, struct sockaddr_storage *out, char *err,
                   size_t errlen)
{
    char why[256];
    int rc = cn_addr_resolve(text, CN_ADDR_LISTEN, out, NULL, why, sizeof why);
    if (rc)
        snprintf(err, errlen, "admin %s", why);
    return rc;
}

/* ------------------------------------------------------------ connections */

static void conn_on_close(uv_handle_t *h)
{
    cn_admin__conn_t *c = h->data;
    if (--c->handles_open > 0)
        return;
    cn_http_reader_dispose(&c->reader);
    free(c->pending);
    free(c);
}

static void conn_close(cn_admin__conn_t *c)
{
    if (c->closing)
        return;
    c->closing = true;
    cn_admin_t *a = c->admin;
    if (c->req) {
        c->req->conn = NULL; /* its answer is dropped when it comes */
        c->req = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        a->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nconns--;
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
    uv_close((uv_handle_t *)&c->timer, conn_on_close);
}

static void conn_on_timer(uv_timer_t *t);

static void conn_arm(cn_admin__conn_t *c, uint32_t ms)
{
    uv_timer_start(&c->timer, conn_on_timer, ms, 0);
}

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    cn_admin__conn_t *c = h->data;
    /* One loop thread, and every read is consumed or copied before the
     * read callback returns: one buffer serves every connection. */
    *buf = uv_buf_init(c->admin->read_buf, sizeof c->admin->read_buf);
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void conn_read_start(cn_admin__conn_t *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) == 0)
        c->reading = true;
    else
        conn_close(c);
}

static void conn_read_stop(cn_admin__conn_t *c)
{
    if (!c->reading)
        return;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

static size_t conn_process(cn_admin__conn_t *c, const char *data, size_t len);

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    cn_admin__conn_t *c = req->data;
    if (c->closing)
        return;
    if (status < 0 || c->eof) {
        conn_close(c);
        return;
    }
    uint32_t ms = c->admin->request_timeout_ms;
    conn_arm(c, ms < CN_ADMIN_LINGER_MS ? ms : CN_ADMIN_LINGER_MS);
    conn_read_start(c);
}

/* The last response is out: shut our side down and drain (see the top of
 * the file), or close at once if the client is gone already. */
static void conn_linger(cn_admin__conn_t *c)
{
    c->draining = true;
    free(c->pending);
    c->pending = NULL;
    c->pending_off = c->pending_len = 0;
    c->shutdown.data = c;
    if (c->eof ||
        uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, conn_on_shutdown) != 0)
        conn_close(c);
}

static void conn_on_write(uv_write_t *req, int status)
{
    write_req_t *w = (write_req_t *)req;
    cn_admin__conn_t *c = w->conn;
    free(w->data);
    free(w);
    if (c->closing)
        return;
    c->busy = false;
    if (status < 0) {
        conn_close(c);
        return;
    }
    if (c->close_after_write) {
        conn_linger(c);
        return;
    }
    conn_arm(c, c->admin->idle_timeout_ms);
    if (c->pending) {
        size_t used = conn_process(c, c->pending + c->pending_off,
                                   c->pending_len - c->pending_off);
        if (c->closing)
            return;
        c->pending_off += used;
        if (c->pending_off == c->pending_len) {
            free(c->pending);
            c->pending = NULL;
            c->pending_off = c->pending_len = 0;
        }
    }
    if (!c->busy && !c->pending) {
        if (c->eof)
            conn_close(c); /* every request the client sent is answered */
        else
            conn_read_start(c);
    }
}

/* Serialise and start writing one response; the connection stops reading
 * until the write is done. */
static void conn_send(cn_admin__conn_t *c, cn_admin_response_t *res, bool keep_alive,
                      bool head_only)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %u %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "%s%s%s"
                     "%s"
                     "Connection: %s\r\n"
                     "\r\n",
                     res->status, cn_http_reason(res->status),
                     res->content_type ? res->content_type : "application/json",
                     res->body_len, res->allow ? "Allow: " : "",
                     res->allow ? res->allow : "", res->allow ? "\r\n" : "",
                     res->www_authenticate ? "WWW-Authenticate: Bearer\r\n" : "",
                     keep_alive ? "keep-alive" : "close");
    size_t head_len = (size_t)n < sizeof head ? (size_t)n : sizeof head - 1;
    size_t body_len = head_only ? 0 : res->body_len;
    write_req_t *w = cn_xmalloc(sizeof *w);
    w->conn = c;
    w->data = cn_xmalloc(head_len + body_len);
    memcpy(w->data, head, head_len);
    if (body_len)
        memcpy(w->data + head_len, res->body, body_len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)(head_len + body_len));

    conn_read_stop(c);
    c->busy = true;
    c->close_after_write = c->close_after_write || !keep_alive;
    conn_arm(c, c->admin->request_timeout_ms);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, conn_on_write) != 0) {
        free(w->data);
        free(w);
        c->busy = false;
        conn_close(c);
    }
}

/* Answer a framing error or a timeout (400, 408, 413, 431) and close. */
static void conn_reject(cn_admin__conn_t *c, unsigned status, const char *text)
{
    cn_admin_t *a = c->admin;
    if (a->log) {
        fprintf(a->log, "admin: %u (%s) from %s\n", status, text, c->peer);
        fflush(a->log);
    }
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "error");
    cn_jsonw_cstr(&w, text);
    cn_jsonw_object_end(&w);
    cn_jsonw_newline(&w);
    cn_admin_response_t res = {.status = status, .content_type = "application/json"};
    res.body = cn_jsonw_take(&w, &res.body_len);
    conn_send(c, &res, false, false);
    cn_admin_response_dispose(&res);
}

/*
 * Feed bytes to the reader and answer every complete request, stopping as
 * soon as a response is in flight (or the connection closes). Returns the
 * bytes used; the caller keeps the rest for after the write.
 */
static size_t conn_process(cn_admin__conn_t *c, const char *data, size_t len)
{
    cn_admin_t *a = c->admin;
    size_t off = 0;
    while (off < len && !c->busy && !c->closing) {
        bool was_started = cn_http_reader_started(&c->reader);
        size_t used = 0;
        cn_http_feed_t st =
            cn_http_reader_feed(&c->reader, data + off, len - off, &used);
        off += used;
        if (!was_started && cn_http_reader_started(&c->reader))
            conn_arm(c, a->request_timeout_ms);
        if (st == CN_HTTP_ERROR) {
            conn_reject(c, c->reader.error_status ? c->reader.error_status : 400,
                        c->reader.error_text);
            break;
        }
        if (st == CN_HTTP_NEED_MORE) {
            if (used == 0)
                break;
            continue;
        }
        cn_admin_request_t *req = cn_admin__request_new(a, &c->reader.msg, c->peer);
        req->conn = c;
        req->keep_alive = c->reader.msg.keep_alive && !a->stopping;
        c->req = req;
        /* Busy from here until the answer is written: nothing more is read
         * or fed, so answers go out in request order. */
        c->busy = true;
        conn_read_stop(c);
        conn_arm(c, a->request_timeout_ms);
        cn_admin__dispatch(req); /* may answer at once (conn_send) */
        cn_http_reader_next(&c->reader);
    }
    return off;
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    cn_admin__conn_t *c = s->data;
    if (nread == 0 || c->closing)
        return;
    if (c->draining) {
        if (nread < 0)
            conn_close(c);
        return;
    }
    if (nread < 0) {
        c->eof = true;
        /* The client is done sending. A response being written still goes
         * out, and pipelined requests already received are still answered
         * (a client may half-close after its requests); a request cut short
         * has no one to answer to. */
        conn_read_stop(c);
        if (!c->busy)
            conn_close(c);
        return;
    }
    size_t used = conn_process(c, buf->base, (size_t)nread);
    if (used < (size_t)nread && !c->closing) {
        c->pending_len = (size_t)nread - used;
        c->pending_off = 0;
        c->pending = cn_xmalloc(c->pending_len);
        memcpy(c->pending, buf->base + used, c->pending_len);
    }
}

static void conn_on_timer(uv_timer_t *t)
{
    cn_admin__conn_t *c = t->data;
    if (c->closing)
        return;
    if (c->busy || c->draining) {
        conn_close(c); /* the client does not take its response */
        return;
    }
    if (cn_http_reader_started(&c->reader)) {
        char text[96];
        snprintf(text, sizeof text, "request not received within %u ms",
                 (unsigned)c->admin->request_timeout_ms);
        conn_reject(c, 408, text);
        return;
    }
    conn_close(c); /* idle keep-alive connection */
}

static void on_connection(uv_stream_t *server, int status)
{
    cn_admin_t *a = server->data;
    if (status < 0)
        return;
    cn_admin__conn_t *c = cn_xcalloc(1, sizeof *c);
    c->admin = a;
    uv_tcp_init(&a->loop, &c->tcp);
    uv_timer_init(&a->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    cn_http_limits_t limits = {CN_ADMIN_MAX_HEADER_BYTES, CN_ADMIN_MAX_BODY_BYTES};
    cn_http_reader_init(&c->reader, CN_HTTP_REQUEST, &limits);
    snprintf(c->peer, sizeof c->peer, "?");

    /* Linked first, so that conn_close can always unlink. */
    c->next = a->conns;
    if (a->conns)
        a->conns->prev = c;
    a->conns = c;
    a->nconns++;

    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || a->stopping) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage peer;
    int peer_len = sizeof peer;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&peer, &peer_len) == 0)
        cn_addr_format((struct sockaddr *)&peer, false, c->peer, sizeof c->peer);
    if (a->nconns > CN_ADMIN_MAX_CONNECTIONS) {
        if (a->log) {
            fprintf(a->log, "admin: refused connection from %s (%u open)\n", c->peer,
                    CN_ADMIN_MAX_CONNECTIONS);
            fflush(a->log);
        }
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_arm(c, a->idle_timeout_ms);
    conn_read_start(c);
}

/* ------------------------------------------------------------ answers */

static bool on_loop_thread(const cn_admin_t *a)
{
    return a->loop_thread_set && pthread_equal(pthread_self(), a->loop_thread);
}

static void maybe_close_answers(cn_admin_t *a)
{
    if (a->stopping && a->outstanding == 0 && !a->answer_closed) {
        a->answer_closed = true;
        uv_close((uv_handle_t *)&a->answer_async, NULL);
    }
}

cn_admin_request_t *cn_admin__request_new(cn_admin_t *a, const cn_http_message_t *msg,
                                          const char *peer)
{
    cn_admin_request_t *req = cn_xcalloc(1, sizeof *req);
    req->admin = a;
    req->msg = msg;
    snprintf(req->peer, sizeof req->peer, "%s", peer ? peer : "?");
    snprintf(req->method, sizeof req->method, "%s",
             msg->method_name ? msg->method_name : "-");
    size_t n = msg->url ? msg->url_len : 0;
    if (n > sizeof req->url)
        n = sizeof req->url;
    if (n)
        memcpy(req->url, msg->url, n);
    req->url_len = n;
    /* A response to HEAD has the headers of the GET but no body. */
    req->head_only = msg->method == HTTP_HEAD;
    a->outstanding++;
    return req;
}

void cn_admin__deliver(cn_admin_request_t *req)
{
    cn_admin_t *a = req->admin;
    if (req->res.status >= 400)
        cn_admin__log_reject(a, req->res.status, req->method, req->url, req->url_len,
                             req->peer);
    if (req->sync_out) {
        *req->sync_out = req->res;
        memset(&req->res, 0, sizeof req->res);
    } else if (req->conn) {
        cn_admin__conn_t *c = req->conn;
        c->req = NULL;
        conn_send(c, &req->res, req->keep_alive && !a->stopping, req->head_only);
    }
    cn_admin_response_dispose(&req->res);
    free(req);
    a->outstanding--;
    maybe_close_answers(a);
}

void cn_admin_respond(cn_admin_request_t *req, cn_admin_response_t *res)
{
    cn_admin_t *a = req->admin;
    req->res = *res;
    memset(res, 0, sizeof *res);
    if (!req->res.content_type)
        req->res.content_type = CN_ADMIN_JSON_TYPE;
    if (req->res.status == 0)
        req->res.status = 500; /* a handler's bug; never "no answer" */
    req->answered = true;
    if (on_loop_thread(a)) {
        cn_admin__deliver(req);
        return;
    }
    pthread_mutex_lock(&a->answer_mu);
    req->next = NULL;
    if (a->answers_tail)
        a->answers_tail->next = req;
    else
        a->answers_head = req;
    a->answers_tail = req;
    /* the handle stays open while this request is outstanding */
    uv_async_send(&a->answer_async);
    pthread_mutex_unlock(&a->answer_mu);
}

static void on_answers(uv_async_t *h)
{
    cn_admin_t *a = h->data;
    pthread_mutex_lock(&a->answer_mu);
    cn_admin_request_t *list = a->answers_head;
    a->answers_head = a->answers_tail = NULL;
    pthread_mutex_unlock(&a->answer_mu);
    while (list) {
        cn_admin_request_t *next = list->next;
        cn_admin__deliver(list);
        list = next;
    }
}

typedef struct offload_s {
    uv_work_t work;
    cn_admin_request_t *req;
    cn_admin__work_fn fn, after;
    void *arg;
} offload_t;

static void offload_work(uv_work_t *w)
{
    offload_t *o = w->data;
    o->fn(o->req, o->arg);
}

static void offload_after(uv_work_t *w, int status)
{
    offload_t *o = w->data;
    (void)status; /* never cancelled */
    o->after(o->req, o->arg);
    free(o);
}

int cn_admin__offload(cn_admin_request_t *req, cn_admin__work_fn fn,
                      cn_admin__work_fn after, void *arg)
{
    offload_t *o = cn_xcalloc(1, sizeof *o);
    o->req = req;
    o->fn = fn;
    o->after = after;
    o->arg = arg;
    o->work.data = o;
    int rc = uv_queue_work(&req->admin->loop, &o->work, offload_work, offload_after);
    if (rc)
        free(o);
    return rc;
}

void cn_admin_handle(cn_admin_t *a, const cn_http_message_t *msg, const char *peer,
                     cn_admin_response_t *res)
{
    memset(res, 0, sizeof *res);
    a->loop_thread = pthread_self();
    a->loop_thread_set = true;
    cn_admin_request_t *req = cn_admin__request_new(a, msg, peer);
    req->sync_out = res;
    /* deliver() frees req: watch for the answer through res->status, which
     * every answer has (cn_admin_respond makes a 0 a 500). */
    cn_admin__dispatch(req);
    while (res->status == 0)
        uv_run(&a->loop, UV_RUN_ONCE);
}

/* ------------------------------------------------------------ server */

/* Close the listener, the stop handle and every connection; the loop then
 * runs out of handles and uv_run returns. */
static void close_all(cn_admin_t *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    uv_close((uv_handle_t *)&a->listener, NULL);
    uv_close((uv_handle_t *)&a->stop_async, NULL);
    while (a->conns)
        conn_close(a->conns);
    maybe_close_answers(a);
}

static void on_stop(uv_async_t *h)
{
    close_all(h->data);
}

int cn_admin_new(const char *listen_addr, const char *token, const cn_admin_ops_t *ops,
                 cn_controller_t *controller, cn_admin_t **out, char *err,
                 size_t errlen)
{
    if (out)
        *out = NULL;
    if (!out || !listen_addr) {
        snprintf(err, errlen, "admin: no address given");
        return CN_EINVAL;
    }
    if (!token || !token[0]) {
        snprintf(err, errlen,
                 "admin token: must not be empty (the admin API always "
                 "requires a bearer token)");
        return CN_EINVAL;
    }
    if (!ops || !ops->snapshot || !ops->snapshot_free || !ops->lookup) {
        snprintf(err, errlen, "admin: every operation of the ops table is required");
        return CN_EINVAL;
    }
    if (!controller) {
        snprintf(err, errlen, "admin: a controller is required");
        return CN_EINVAL;
    }
    struct sockaddr_storage sa;
    int rc = resolve(listen_addr, &sa, err, errlen);
    if (rc)
        return rc;

    cn_admin_t *a = cn_xcalloc(1, sizeof *a);
    a->token_len = strlen(token);
    a->token = cn_xmalloc(a->token_len + 1);
    memcpy(a->token, token, a->token_len + 1);
    a->ops = *ops;
    a->controller = controller;
    a->log = stderr;
    a->idle_timeout_ms = CN_ADMIN_IDLE_TIMEOUT_MS;
    a->request_timeout_ms = CN_ADMIN_REQUEST_TIMEOUT_MS;

    int uvrc = uv_loop_init(&a->loop);
    if (uvrc) {
        snprintf(err, errlen, "admin: event loop: %s", uv_strerror(uvrc));
        free(a->token);
        free(a);
        return CN_EIO;
    }
    pthread_mutex_init(&a->answer_mu, NULL);
    uv_tcp_init(&a->loop, &a->listener);
    uv_async_init(&a->loop, &a->stop_async, on_stop);
    uv_async_init(&a->loop, &a->answer_async, on_answers);
    a->listener.data = a->stop_async.data = a->answer_async.data = a;
    cn_admin__add_builtin_routes(a);

    const char *what = "bind";
    uvrc = uv_tcp_bind(&a->listener, (const struct sockaddr *)&sa, 0);
    if (!uvrc) {
        what = "listen";
        /* EADDRINUSE often shows only here. */
        uvrc = uv_listen((uv_stream_t *)&a->listener, 128, on_connection);
    }
    if (!uvrc) {
        struct sockaddr_storage bound;
        int bound_len = sizeof bound;
        what = "getsockname";
        uvrc = uv_tcp_getsockname(&a->listener, (struct sockaddr *)&bound, &bound_len);
        if (!uvrc)
            cn_addr_format((struct sockaddr *)&bound, true, a->address,
                           sizeof a->address);
    }
    if (uvrc) {
        char quoted[CN_TEXT_QUOTE_BUF(80)];
        snprintf(err, errlen, "admin address '%s': %s: %s",
                 cn_text_quote(listen_addr, strlen(listen_addr), 80, quoted), what,
                 uv_strerror(uvrc));
        cn_admin_free(a);
        return CN_EIO;
    }
    *out = a;
    return 0;
}

const char *cn_admin_address(const cn_admin_t *a)
{
    return a->address;
}

void cn_admin_set_log(cn_admin_t *a, FILE *log)
{
    a->log = log;
}

void cn_admin_set_timeouts(cn_admin_t *a, uint32_t idle_ms, uint32_t request_ms)
{
    if (idle_ms)
        a->idle_timeout_ms = idle_ms;
    if (request_ms)
        a->request_timeout_ms = request_ms;
}

int cn_admin_run(cn_admin_t *a)
{
    if (a->ran)
        return CN_EINVAL;
    a->ran = true;
    a->loop_thread = pthread_self();
    a->loop_thread_set = true;
    uv_run(&a->loop, UV_RUN_DEFAULT);
    return 0;
}

void cn_admin_stop(cn_admin_t *a)
{
    /* uv_async_send is async-signal-safe and coalesces repeated sends. */
    uv_async_send(&a->stop_async);
}

void cn_admin_free(cn_admin_t *a)
{
    if (!a)
        return;
    close_all(a);
    /* Run the close callbacks (all that is left when run never ran or has
     * returned). */
    uv_run(&a->loop, UV_RUN_DEFAULT);
    uv_loop_close(&a->loop);
    pthread_mutex_destroy(&a->answer_mu);
    for (size_t i = 0; i < a->nowned; i++)
        free(a->owned[i]);
    free(a->token);
    free(a);
}
