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
 * The connections themselves are the HTTP layer's (http/server.h): limits,
 * timeouts, keep-alive, pipelining answered in order, half-close, the
 * error responses, a lingering close after the last response, and the
 * admission policy. Every request reaches one catch-all route here, which
 * hands it to cn_admin__dispatch. A request answered later keeps its
 * connection waiting; if the connection goes first, the layer's cancel
 * callback detaches the request, and its answer is dropped when it comes.
 *
 * Admission: at CN_ADMIN_MAX_CONNECTIONS a new connection evicts the
 * oldest idle one, unauthenticated first (then one still sending a head,
 * then an idle authenticated one). A request with a valid token marks its
 * connection privileged (cn_admin__authenticated). So idle connections
 * kept alive with /healthz, however many, cannot lock an operator out.
 */
#include "api/admin_internal.h"
#include "api/jsonw.h"
#include "http/server.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/text.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* The layer gave up on the connection (client gone, send timeout, stop):
 * the request lives on until answered, with nowhere to send the answer. */
static void on_cancel(cn_http_req_t *hreq, void *data)
{
    (void)hreq;
    cn_admin_request_t *req = data;
    req->conn = NULL;
}

/* The one route of the layer: every request goes to the route table. */
static void on_request(cn_http_req_t *hreq, void *data)
{
    cn_admin_t *a = data;
    cn_http_conn_t *hc = cn_http_req_conn(hreq);
    char peer[64];
    snprintf(peer, sizeof peer, "%s", cn_http_conn_peer(hc));
    /* the log names the client by address, not port */
    char *colon = strrchr(peer, ':');
    if (colon && (peer[0] != '[' || colon[-1] == ']'))
        *colon = '\0';
    if (peer[0] == '[' && colon && colon[-1] == ']') {
        colon[-1] = '\0';
        memmove(peer, peer + 1, strlen(peer));
    }
    cn_admin_request_t *req = cn_admin__request_new(a, cn_http_req_message(hreq), peer);
    req->conn = hreq;
    req->keep_alive = !cn_http_req_closes(hreq) && !a->stopping;
    cn_http_req_on_cancel(hreq, on_cancel, req);
    cn_admin__dispatch(req); /* may answer at once */
}

/* Errors the layer answers itself (400, 408, 413, ...) and evictions. */
static void on_reject(cn_http_server_t *s, cn_http_conn_t *c, unsigned status,
                      const char *text, void *data)
{
    (void)s;
    cn_admin_t *a = data;
    if (!a->log)
        return;
    if (status)
        fprintf(a->log, "admin: %u (%s) from %s\n", status, text, cn_http_conn_peer(c));
    else
        fprintf(a->log, "admin: %s: %s\n", cn_http_conn_peer(c), text);
    fflush(a->log);
}

void cn_admin__authenticated(cn_admin_request_t *req)
{
    if (req->conn)
        cn_http_conn_set_privileged(cn_http_req_conn(req->conn));
}

/* Send an answer on its connection: the head from res, the body taken. */
static void conn_send(cn_http_req_t *hreq, cn_admin_response_t *res)
{
    char extra[256];
    snprintf(extra, sizeof extra, "Cache-Control: no-store\r\n%s%s%s%s",
             res->allow ? "Allow: " : "", res->allow ? res->allow : "",
             res->allow ? "\r\n" : "",
             res->www_authenticate ? "WWW-Authenticate: Bearer\r\n" : "");
    char *body = res->body;
    size_t body_len = res->body_len;
    res->body = NULL;
    res->body_len = 0;
    if (!body)
        body = cn_xcalloc(1, 1);
    cn_http_respond_take(hreq, res->status,
                         res->content_type ? res->content_type : CN_ADMIN_JSON_TYPE,
                         extra, body, body_len);
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
        cn_http_req_on_cancel(req->conn, NULL, NULL);
        conn_send(req->conn, &req->res);
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

/* ------------------------------------------------------------ streams */

/*
 * An event stream owns its connection's request from open to close: the
 * layer's cancel callback (client gone, send timeout, server stopping)
 * frees it. Writes that find the client behind (a flow pause) are skipped:
 * an event stream carries the latest state, so a slow reader loses old
 * events rather than holding memory for them.
 */
struct cn_admin__stream_s {
    cn_admin_t *admin;
    cn_http_req_t *conn;
    bool paused;
    cn_admin__stream_t *prev, *next;
};

static void stream_unlink(cn_admin__stream_t *st)
{
    cn_admin_t *a = st->admin;
    if (st->prev)
        st->prev->next = st->next;
    else
        a->streams = st->next;
    if (st->next)
        st->next->prev = st->prev;
    a->nstreams--;
    free(st);
}

static void stream_cancel(cn_http_req_t *hreq, void *data)
{
    (void)hreq;
    stream_unlink(data);
}

static void stream_flow(cn_http_req_t *hreq, bool paused, void *data)
{
    (void)hreq;
    cn_admin__stream_t *st = data;
    st->paused = paused;
}

/* The request is done with (answered by the stream): free it as deliver
 * does, without sending anything. */
static void request_release(cn_admin_request_t *req)
{
    cn_admin_t *a = req->admin;
    cn_admin_response_dispose(&req->res);
    free(req);
    a->outstanding--;
    maybe_close_answers(a);
}

int cn_admin__stream_open(cn_admin_request_t *req, const char *content_type,
                          const char *first, size_t first_len)
{
    cn_admin_t *a = req->admin;
    if (!req->conn || req->head_only || a->stopping) {
        cn_admin_response_t res = {0};
        if (!req->conn && !req->head_only) {
            cn_admin_response_error(&res, 400, "an event stream needs a connection");
        } else { /* HEAD (or a stop): the head of a stream, and no body */
            res.status = 200;
            res.content_type = content_type;
            res.body = cn_xcalloc(1, 1);
        }
        cn_admin_respond(req, &res);
        return CN_EINVAL;
    }
    if (a->nstreams >= CN_ADMIN_MAX_STREAMS) {
        cn_admin__respond_error(req, 503, "at most %u event streams are open",
                                CN_ADMIN_MAX_STREAMS);
        return CN_ETOOBIG;
    }
    cn_http_req_t *hreq = req->conn;
    cn_admin__stream_t *st = cn_xcalloc(1, sizeof *st);
    st->admin = a;
    st->conn = hreq;
    st->next = a->streams;
    if (a->streams)
        a->streams->prev = st;
    a->streams = st;
    a->nstreams++;
    cn_http_req_on_cancel(hreq, stream_cancel, st);
    cn_http_req_on_flow(hreq, stream_flow, st);
    request_release(req);
    cn_http_response_begin(hreq, 200);
    cn_http_response_header(hreq, "Content-Type", 12, content_type,
                            strlen(content_type));
    cn_http_response_header(hreq, "Cache-Control", 13, "no-store", 8);
    /* proxies in front must pass each event on at once */
    cn_http_response_header(hreq, "X-Accel-Buffering", 17, "no", 2);
    cn_http_response_head_end(hreq, CN_HTTP_BODY_CHUNKED);
    /* the head goes out with the first bytes: send them now */
    if (cn_http_response_write(hreq, first, first_len) == CN_EIO)
        stream_unlink(st);
    return 0;
}

void cn_admin__streams_send(cn_admin_t *a, const char *data, size_t len)
{
    cn_admin__stream_t *st = a->streams;
    while (st) {
        cn_admin__stream_t *next = st->next;
        if (!st->paused && cn_http_response_write(st->conn, data, len) == CN_EIO)
            stream_unlink(st); /* the layer closed it; no cancel comes */
        st = next;
    }
}

/* ------------------------------------------------------------ server */

/* Close the listener, the stop handle and every connection; the loop then
 * runs out of handles and uv_run returns. */
static void close_all(cn_admin_t *a)
{
    if (a->stopping)
        return;
    a->stopping = true;
    cn_http_server_free(a->server); /* its handles close on this loop */
    a->server = NULL;
    uv_close((uv_handle_t *)&a->stop_async, NULL);
    cn_admin__series_stop(a->series);
    cn_admin__lease_stop(a->lease);
    maybe_close_answers(a);
}

static void on_stop(uv_async_t *h)
{
    close_all(h->data);
}

/* The layer's limits from the admin API's: a request (head and body)
 * within request_timeout_ms, and a client that takes no bytes of its
 * answer for as long is cut off. */
static void apply_limits(cn_admin_t *a)
{
    cn_http_server_limits_t l = {0};
    l.request.max_header_bytes = CN_ADMIN_MAX_HEADER_BYTES;
    l.request.max_body_bytes = CN_ADMIN_MAX_BODY_BYTES;
    l.max_connections = CN_ADMIN_MAX_CONNECTIONS;
    l.header_timeout_ms = a->request_timeout_ms;
    l.body_timeout_ms = a->request_timeout_ms;
    l.send_timeout_ms = a->request_timeout_ms;
    l.idle_timeout_ms = a->idle_timeout_ms;
    if (a->server)
        cn_http_server_set_limits(a->server, &l);
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
    /* canary control: no controller of its own (cn_admin_add_model) and
     * no router to read */
    if (!ops ||
        (controller && (!ops->snapshot || !ops->snapshot_free || !ops->lookup))) {
        snprintf(err, errlen, "admin: every operation of the ops table is required");
        return CN_EINVAL;
    }
    if (!controller && ops->snapshot) {
        snprintf(err, errlen, "admin: a controller is required with a router");
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
    uv_async_init(&a->loop, &a->stop_async, on_stop);
    uv_async_init(&a->loop, &a->answer_async, on_answers);
    a->stop_async.data = a->answer_async.data = a;
    a->lease = cn_admin__lease_new(a);
    cn_admin__add_builtin_routes(a);
    a->series = cn_admin__series_new(a);

    a->server = cn_http_server_new(&a->loop, NULL);
    apply_limits(a);
    cn_http_server_set_reject_cb(a->server, on_reject, a);
    cn_http_route_t all = {CN_HTTP_ANY_METHOD, "", CN_HTTP_ROUTE_PREFIX, on_request, a};
    cn_http_server_add_route(a->server, &all);
    /* EADDRINUSE often shows only at listen, which this includes. */
    uvrc = cn_http_server_listen(a->server, (const struct sockaddr *)&sa, 128);
    if (uvrc) {
        char quoted[CN_TEXT_QUOTE_BUF(80)];
        snprintf(err, errlen, "admin address '%s': %s",
                 cn_text_quote(listen_addr, strlen(listen_addr), 80, quoted),
                 uv_strerror(uvrc));
        cn_admin_free(a);
        return CN_EIO;
    }
    snprintf(a->address, sizeof a->address, "%s", cn_http_server_address(a->server));
    *out = a;
    return 0;
}

void cn_admin_set_store(cn_admin_t *a, cn_store_t *store)
{
    a->store = store;
    cn_registry_free(a->registry);
    a->registry = store ? cn_registry_new(store) : NULL;
}

void cn_admin_set_feedback(cn_admin_t *a, struct cn_feedback_s *fb)
{
    a->feedback = fb;
}

void cn_admin_set_rollouts(cn_admin_t *a, const char *model,
                           const cn_strategy_t *strategy)
{
    snprintf(a->model, sizeof a->model, "%s", model ? model : "");
    a->strategy = strategy;
}

int cn_admin_add_model(cn_admin_t *a, const char *model, cn_controller_t *controller,
                       const cn_strategy_t *strategy)
{
    for (size_t i = 0; i < a->nmodels; i++)
        if (strcmp(a->models[i].name, model) == 0)
            return CN_EINVAL;
    a->models = cn_xrealloc(a->models, (a->nmodels + 1) * sizeof *a->models);
    cn_admin__model_t *m = &a->models[a->nmodels++];
    snprintf(m->name, sizeof m->name, "%s", model);
    m->controller = controller;
    m->strategy = strategy;
    return 0;
}

static const cn_admin__model_t *find_model(const cn_admin_t *a, const char *model)
{
    for (size_t i = 0; model && i < a->nmodels; i++)
        if (strcmp(a->models[i].name, model) == 0)
            return &a->models[i];
    return NULL;
}

cn_controller_t *cn_admin__controller_for(const cn_admin_t *a, const char *model)
{
    if (!a->nmodels)
        return a->controller;
    const cn_admin__model_t *m = find_model(a, model);
    return m ? m->controller : NULL;
}

const cn_strategy_t *cn_admin__strategy_for(const cn_admin_t *a, const char *model)
{
    if (!a->nmodels)
        return a->strategy;
    const cn_admin__model_t *m = find_model(a, model);
    return m ? m->strategy : NULL;
}

bool cn_admin__drives(const cn_admin_t *a, const char *model)
{
    if (!a->nmodels)
        return a->model[0] && model && strcmp(a->model, model) == 0;
    return find_model(a, model) != NULL;
}

void cn_admin__live_for(const cn_admin_t *a, const char *model,
                        cn_controller_live_t *out)
{
    cn_controller_t *c = cn_admin__controller_for(a, model);
    if (c)
        cn_controller_live(c, out);
    else
        memset(out, 0, sizeof *out);
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
    apply_limits(a);
}

int cn_admin_run(cn_admin_t *a)
{
    if (a->ran)
        return CN_EINVAL;
    a->ran = true;
    a->loop_thread = pthread_self();
    a->loop_thread_set = true;
    if (!a->stopping)
        cn_admin__series_start(a->series);
    if (!a->stopping)
        cn_admin__lease_start(a->lease);
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
    cn_registry_free(a->registry);
    cn_admin__series_free(a->series);
    cn_admin__lease_free(a->lease);
    free(a->token);
    free(a->models);
    free(a);
}
