/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HTTP/1.1 server-connection layer over real sockets: a server on
 * 127.0.0.1:0 runs on a libuv loop in a thread, and the tests are clients
 * written with plain blocking sockets (responses parsed by the response
 * reader). Pipelining, the timeouts (header, with a partial request behind
 * a complete one; idle; body; send with a client that never reads),
 * backpressure, half-close, 100-continue, every error status, malformed
 * input, deferred responses whose client leaves first, and the admission
 * policy that idle connections cannot starve.
 *
 * Timeouts are short (a few hundred ms) so the tests run fast; nothing
 * asserts how long anything took. Each socket has a 10 s receive timeout
 * only so that a bug fails a test instead of hanging it.
 */
#include "http/server.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ------------------------------------------------------------ the server */

typedef struct fixture_s {
    uv_loop_t loop;
    uv_async_t wake;
    cn_http_server_t *server;
    pthread_t thread;
    int port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*call)(void *);
    void *call_arg;
    bool call_done, stop;
} fixture_t;

static fixture_t fx;

/* What the handlers saw, read by the tests (after a round trip). */
static atomic_int cancels, pauses, resumes, deferred_answered, deferred_started;
static atomic_size_t max_unsent;
static atomic_int rejects[600];

static void on_wake(uv_async_t *a)
{
    (void)a;
    pthread_mutex_lock(&fx.mu);
    if (fx.call) {
        fx.call(fx.call_arg);
        fx.call = NULL;
        fx.call_done = true;
        pthread_cond_broadcast(&fx.cv);
    }
    bool stop = fx.stop;
    pthread_mutex_unlock(&fx.mu);
    if (stop) {
        cn_http_server_free(fx.server);
        uv_close((uv_handle_t *)&fx.wake, NULL);
    }
}

/* Run fn(arg) on the loop thread and wait for it. */
static void on_loop(void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&fx.mu);
    fx.call = fn;
    fx.call_arg = arg;
    fx.call_done = false;
    uv_async_send(&fx.wake);
    while (!fx.call_done)
        pthread_cond_wait(&fx.cv, &fx.mu);
    pthread_mutex_unlock(&fx.mu);
}

static void *loop_main(void *arg)
{
    (void)arg;
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_reject(cn_http_server_t *s, cn_http_conn_t *c, unsigned status,
                      const char *text, void *data)
{
    (void)s, (void)c, (void)text, (void)data;
    if (status < 600)
        atomic_fetch_add(&rejects[status], 1);
}

static void add_routes(cn_http_server_t *s);

static void start(const cn_http_server_limits_t *lim)
{
    signal(SIGPIPE, SIG_IGN); /* as canary serve does (server.h) */
    memset(&fx, 0, sizeof fx);
    atomic_store(&cancels, 0);
    atomic_store(&pauses, 0);
    atomic_store(&resumes, 0);
    atomic_store(&deferred_answered, 0);
    atomic_store(&deferred_started, 0);
    atomic_store(&max_unsent, 0);
    for (int i = 0; i < 600; i++)
        atomic_store(&rejects[i], 0);
    pthread_mutex_init(&fx.mu, NULL);
    pthread_cond_init(&fx.cv, NULL);
    cr_assert_eq(uv_loop_init(&fx.loop), 0);
    uv_async_init(&fx.loop, &fx.wake, on_wake);
    fx.server = cn_http_server_new(&fx.loop, lim);
    cn_http_server_set_reject_cb(fx.server, on_reject, NULL);
    add_routes(fx.server);
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", 0, &sa);
    cr_assert_eq(cn_http_server_listen(fx.server, (struct sockaddr *)&sa, 128), 0);
    fx.port = atoi(strrchr(cn_http_server_address(fx.server), ':') + 1);
    cr_assert_gt(fx.port, 0);
    cr_assert_eq(pthread_create(&fx.thread, NULL, loop_main, NULL), 0);
}

static void stop(void)
{
    pthread_mutex_lock(&fx.mu);
    fx.stop = true;
    pthread_mutex_unlock(&fx.mu);
    uv_async_send(&fx.wake);
    pthread_join(fx.thread, NULL);
    cr_assert_eq(uv_loop_close(&fx.loop), 0, "every handle closed");
}

static cn_http_server_limits_t short_limits(void)
{
    cn_http_server_limits_t l = {0};
    l.request.max_header_bytes = 1024;
    l.request.max_body_bytes = 4096;
    l.header_timeout_ms = 300;
    l.body_timeout_ms = 300;
    l.idle_timeout_ms = 300;
    l.send_timeout_ms = 300;
    return l;
}

/* ----------------------------------------------------------- the clients */

typedef struct client_s {
    int fd;
    char buf[1 << 16];
    size_t len;
    cn_http_reader_t reader;
} client_t;

static void client_open(client_t *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(c->fd, 0);
    struct timeval tv = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s",
                 strerror(errno));
    cn_http_limits_t lim = {64 * 1024, 64 * 1024 * 1024};
    cn_http_reader_init(&c->reader, CN_HTTP_RESPONSE, &lim);
}

static void client_close(client_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    cn_http_reader_dispose(&c->reader);
}

static void client_send(client_t *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

static void client_sends(client_t *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Read one whole response into c->reader.msg. false: the connection
 * closed (or reset) before one arrived. */
static bool client_response(client_t *c, bool head)
{
    cn_http_reader_next(&c->reader);
    if (head)
        cn_http_reader_expect_no_body(&c->reader);
    for (;;) {
        if (c->len > 0) {
            size_t used = 0;
            cn_http_feed_t st = cn_http_reader_feed(&c->reader, c->buf, c->len, &used);
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            cr_assert_neq(st, CN_HTTP_ERROR, "bad response: %s", c->reader.error_text);
            if (st == CN_HTTP_COMPLETE)
                return true;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        cr_assert(n >= 0 || errno == ECONNRESET, "recv: %s (hang guard)",
                  strerror(errno));
        if (n <= 0)
            return cn_http_reader_eof(&c->reader) == CN_HTTP_COMPLETE;
        c->len += (size_t)n;
    }
}

/* The server closes the connection (EOF or reset) with no more bytes. */
static void client_expect_closed(client_t *c)
{
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    cr_assert(n == 0 || (n < 0 && errno == ECONNRESET),
              "expected a close, got %zd (%s)", n, n < 0 ? strerror(errno) : "bytes");
}

static const char *header(const client_t *c, const char *name)
{
    const cn_http_header_t *h = cn_http_find_header(&c->reader.msg, name);
    return h ? h->value : NULL;
}

/* ---------------------------------------------------------- the handlers */

/* Echo: the path and the body. */
static void h_echo(cn_http_req_t *req, void *data)
{
    (void)data;
    const cn_http_message_t *m = cn_http_req_message(req);
    char body[8192];
    int n = snprintf(body, sizeof body, "%s %.*s|%.*s", m->method_name, (int)m->url_len,
                     m->url, (int)m->body_len, m->body);
    cn_http_respond(req, 200, "text/plain", NULL, body, (size_t)n);
}

/* A response answered later, from a timer on the loop. */
typedef struct later_s {
    uv_timer_t timer;
    cn_http_req_t *req;
    char path[64];
} later_t;

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void later_fire(uv_timer_t *t)
{
    later_t *l = t->data;
    if (l->req) {
        atomic_fetch_add(&deferred_answered, 1);
        cn_http_respond(l->req, 200, "text/plain", NULL, l->path, strlen(l->path));
    }
    uv_close((uv_handle_t *)&l->timer, later_closed);
}

static void later_cancel(cn_http_req_t *req, void *data)
{
    (void)req;
    later_t *l = data;
    atomic_fetch_add(&cancels, 1);
    l->req = NULL; /* the timer still fires, and must not touch req */
}

static void h_later(cn_http_req_t *req, void *data)
{
    (void)data;
    const cn_http_message_t *m = cn_http_req_message(req);
    later_t *l = cn_xcalloc(1, sizeof *l);
    l->req = req;
    snprintf(l->path, sizeof l->path, "later %.*s", (int)m->url_len, m->url);
    uv_timer_init(&fx.loop, &l->timer);
    l->timer.data = l;
    cn_http_req_on_cancel(req, later_cancel, l);
    uv_timer_start(&l->timer, later_fire, 100, 0);
    atomic_fetch_add(&deferred_started, 1);
}

/* A response computed on the thread pool (uv_queue_work), as the admin
 * API answers after a store write. */
typedef struct work_s {
    uv_work_t work;
    cn_http_req_t *req;
    unsigned long sum;
} work_t;

static void work_run(uv_work_t *w)
{
    work_t *k = w->data;
    usleep(50 * 1000);
    for (unsigned long i = 0; i < 1000; i++)
        k->sum += i;
}

static void work_done(uv_work_t *w, int status)
{
    (void)status;
    work_t *k = w->data;
    if (k->req) {
        atomic_fetch_add(&deferred_answered, 1);
        char body[32];
        int n = snprintf(body, sizeof body, "%lu", k->sum);
        cn_http_respond(k->req, 200, "text/plain", NULL, body, (size_t)n);
    }
    free(k);
}

static void work_cancel(cn_http_req_t *req, void *data)
{
    (void)req;
    work_t *k = data;
    atomic_fetch_add(&cancels, 1);
    k->req = NULL;
}

static void h_work(cn_http_req_t *req, void *data)
{
    (void)data;
    work_t *k = cn_xcalloc(1, sizeof *k);
    k->req = req;
    k->work.data = k;
    cn_http_req_on_cancel(req, work_cancel, k);
    uv_queue_work(&fx.loop, &k->work, work_run, work_done);
    atomic_fetch_add(&deferred_started, 1);
}

/* A streamed body of `total` bytes in 16 KiB pieces (byte i is i % 251),
 * produced from an idle handle while not paused: the shape of the proxy
 * relaying an upstream. */
typedef struct stream_s {
    uv_idle_t idle;
    cn_http_req_t *req;
    size_t total, sent;
    bool paused;
} stream_t;

static void stream_closed(uv_handle_t *h)
{
    free(h->data);
}

static void stream_stop(stream_t *st)
{
    st->req = NULL;
    uv_idle_stop(&st->idle);
    uv_close((uv_handle_t *)&st->idle, stream_closed);
}

static void stream_pump(uv_idle_t *h)
{
    stream_t *st = h->data;
    char piece[16384];
    while (st->req && !st->paused && st->sent < st->total) {
        size_t n =
            st->total - st->sent < sizeof piece ? st->total - st->sent : sizeof piece;
        for (size_t i = 0; i < n; i++)
            piece[i] = (char)((st->sent + i) % 251);
        int rc = cn_http_response_write(st->req, piece, n);
        cr_assert_eq(rc, 0, "write: %d", rc);
        st->sent += n;
        size_t u = cn_http_req_unsent(st->req);
        size_t seen = atomic_load(&max_unsent);
        while (u > seen && !atomic_compare_exchange_weak(&max_unsent, &seen, u))
            ;
    }
    if (st->req && st->sent == st->total) {
        cn_http_response_end(st->req);
        stream_stop(st);
    } else if (st->paused) {
        uv_idle_stop(&st->idle);
    }
}

static void stream_flow(cn_http_req_t *req, bool paused, void *data)
{
    (void)req;
    stream_t *st = data;
    st->paused = paused;
    atomic_fetch_add(paused ? &pauses : &resumes, 1);
    if (!paused)
        uv_idle_start(&st->idle, stream_pump);
}

static void stream_cancel(cn_http_req_t *req, void *data)
{
    (void)req;
    atomic_fetch_add(&cancels, 1);
    stream_stop(data);
}

static void h_stream(cn_http_req_t *req, void *data)
{
    (void)data;
    const cn_http_message_t *m = cn_http_req_message(req);
    stream_t *st = cn_xcalloc(1, sizeof *st);
    st->req = req;
    st->total = strtoul(strrchr(m->url, '/') + 1, NULL, 10);
    uv_idle_init(&fx.loop, &st->idle);
    st->idle.data = st;
    cn_http_req_on_cancel(req, stream_cancel, st);
    cn_http_req_on_flow(req, stream_flow, st);
    cn_http_response_begin(req, 200);
    cn_http_response_header(req, "Content-Type", 12, "application/octet-stream", 24);
    cn_http_response_head_end(req, strstr(m->url, "chunked") ? CN_HTTP_BODY_CHUNKED
                                                             : (int64_t)st->total);
    uv_idle_start(&st->idle, stream_pump);
}

/* A big whole response handed over (not copied). */
static void h_big(cn_http_req_t *req, void *data)
{
    (void)data;
    size_t n = 8u << 20;
    char *body = cn_xmalloc(n);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)(i % 251);
    cn_http_respond_take(req, 200, "application/octet-stream", NULL, body, n);
}

static void h_auth(cn_http_req_t *req, void *data)
{
    (void)data;
    cn_http_conn_set_privileged(cn_http_req_conn(req));
    cn_http_respond(req, 200, "text/plain", NULL, "ok", 2);
}

static void add_routes(cn_http_server_t *s)
{
    const cn_http_route_t routes[] = {
        {CN_HTTP_METHOD(HTTP_GET), "/healthz", 0, h_echo, NULL},
        {CN_HTTP_METHOD(HTTP_PUT) | CN_HTTP_METHOD(HTTP_POST), "/echo", 0, h_echo,
         NULL},
        {CN_HTTP_METHOD(HTTP_GET), "/echo", 0, h_echo, NULL},
        {CN_HTTP_ANY_METHOD, "/later/", CN_HTTP_ROUTE_PREFIX, h_later, NULL},
        {CN_HTTP_METHOD(HTTP_GET), "/work", 0, h_work, NULL},
        {CN_HTTP_METHOD(HTTP_GET), "/stream/", CN_HTTP_ROUTE_PREFIX, h_stream, NULL},
        {CN_HTTP_METHOD(HTTP_GET), "/big", 0, h_big, NULL},
        {CN_HTTP_METHOD(HTTP_POST), "/auth", 0, h_auth, NULL},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        cn_http_server_add_route(s, &routes[i]);
}

/* ---------------------------------------------------------------- tests */

/* Most tests are not about timeouts: they get long ones, so that a loaded
 * machine that deschedules the test's client for a moment cannot close a
 * connection under it. The timeout tests use setup_short. */
static void setup(void)
{
    cn_http_server_limits_t l = short_limits();
    l.header_timeout_ms = 10000;
    l.body_timeout_ms = 10000;
    l.idle_timeout_ms = 10000;
    l.send_timeout_ms = 10000;
    start(&l);
}

static void setup_short(void)
{
    cn_http_server_limits_t l = short_limits();
    start(&l);
}

TestSuite(http_server, .fini = stop);

Test(http_server, answers_pipelined_requests_in_order, .init = setup)
{
    client_t c;
    client_open(&c);
    /* the second is answered later than the third could be: order holds */
    client_sends(&c, "GET /echo?1 HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /later/2 HTTP/1.1\r\nHost: a\r\n\r\n"
                     "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                     "GET /work HTTP/1.1\r\nHost: a\r\n\r\n");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "GET /echo?1|");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "later /later/2");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "POST /echo|abc");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "499500");
    cr_assert_null(header(&c, "Connection"), "kept alive");
    /* and the connection still serves */
    client_sends(&c, "GET /healthz HTTP/1.1\r\n\r\n");
    cr_assert(client_response(&c, false));
    cr_assert_eq(c.reader.msg.status_code, 200);
    client_close(&c);
}

Test(http_server, partial_request_behind_a_complete_one_gets_the_header_timeout)
{
    /* A long idle timeout: if the partial head got it, the hang guard
     * (10 s) would fail the test. */
    cn_http_server_limits_t l = short_limits();
    l.idle_timeout_ms = 60000;
    start(&l);
    client_t c;
    client_open(&c);
    client_sends(&c, "GET /later/a HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\nHos");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "later /later/a");
    cr_assert(client_response(&c, false));
    cr_assert_eq(c.reader.msg.status_code, 408);
    cr_assert_str_eq(header(&c, "Connection"), "close");
    cr_assert_not_null(
        strstr(c.reader.msg.body, "request head not received within 300 ms"));
    client_expect_closed(&c);
    client_close(&c);
    cr_assert_eq(atomic_load(&rejects[408]), 1);
}

Test(http_server, idle_keep_alive_connection_is_closed_quietly, .init = setup_short)
{
    client_t c;
    client_open(&c);
    client_sends(&c, "GET /healthz HTTP/1.1\r\n\r\n");
    cr_assert(client_response(&c, false));
    client_expect_closed(&c); /* no 408: nothing was asked */
    client_close(&c);
    /* A connection that never sends a byte, too. */
    client_open(&c);
    client_expect_closed(&c);
    client_close(&c);
    cr_assert_eq(atomic_load(&rejects[408]), 0);
}

Test(http_server, slow_body_gets_408, .init = setup_short)
{
    client_t c;
    client_open(&c);
    client_sends(&c, "POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    cr_assert(client_response(&c, false));
    cr_assert_eq(c.reader.msg.status_code, 408);
    cr_assert_not_null(
        strstr(c.reader.msg.body, "request body not received within 300 ms"));
    client_expect_closed(&c);
    client_close(&c);
}

/* A client with a small receive buffer that does not read. */
static void client_open_small(client_t *c)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct timeval tv = {10, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)fx.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    cn_http_limits_t lim = {64 * 1024, 256 * 1024 * 1024};
    cn_http_reader_init(&c->reader, CN_HTTP_RESPONSE, &lim);
}

static void read_counts(void *arg)
{
    unsigned *n = arg;
    *n = cn_http_server_connections(fx.server);
}

Test(http_server, client_that_never_reads_is_closed_with_bounded_output)
{
    cn_http_server_limits_t l = short_limits();
    l.high_water_bytes = 128 * 1024;
    l.low_water_bytes = 32 * 1024;
    l.max_output_bytes = 256 * 1024;
    start(&l);
    client_t c;
    client_open_small(&c);
    /* 64 MiB asked, never read. */
    client_sends(&c, "GET /stream/67108864 HTTP/1.1\r\n\r\n");
    /* The server gives up on us: the stream is cancelled, and the
     * connection is gone on the server's side. */
    unsigned open = 1;
    while (atomic_load(&cancels) == 0)
        usleep(10 * 1000);
    on_loop(read_counts, &open);
    cr_assert_eq(open, 0);
    cr_assert_geq(atomic_load(&pauses), 1, "the handler was told to pause");
    cr_assert_leq(atomic_load(&max_unsent), l.max_output_bytes,
                  "unsent output %zu stayed under the cap", atomic_load(&max_unsent));
    client_close(&c);
}

Test(http_server, streaming_pauses_and_resumes_with_a_slow_reader)
{
    cn_http_server_limits_t l = short_limits();
    l.send_timeout_ms = 5000;
    l.high_water_bytes = 128 * 1024;
    l.low_water_bytes = 32 * 1024;
    l.max_output_bytes = 256 * 1024;
    start(&l);
    static const char *const urls[] = {"/stream/8388608", "/stream/chunked/8388608"};
    for (int k = 0; k < 2; k++) {
        atomic_store(&pauses, 0);
        atomic_store(&resumes, 0);
        client_t c;
        client_open_small(&c);
        char req[128];
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\n\r\n", urls[k]);
        client_sends(&c, req);
        while (atomic_load(&pauses) == 0)
            usleep(1000);
        /* now read it all: it resumes, and every byte is right */
        cr_assert(client_response(&c, false));
        cr_assert_eq(c.reader.msg.body_len, 8388608);
        cr_assert_eq(c.reader.msg.chunked, k == 1);
        for (size_t i = 0; i < c.reader.msg.body_len; i++)
            if (c.reader.msg.body[i] != (char)(i % 251))
                cr_assert_fail("byte %zu", i);
        cr_assert_geq(atomic_load(&resumes), 1);
        cr_assert_leq(atomic_load(&max_unsent), l.max_output_bytes);
        client_close(&c);
    }
    cr_assert_eq(atomic_load(&cancels), 0);
}

Test(http_server, whole_response_handed_over_arrives_intact, .init = setup)
{
    client_t c;
    client_open(&c);
    client_sends(&c, "GET /big HTTP/1.1\r\n\r\nHEAD /big HTTP/1.1\r\n\r\n");
    cr_assert(client_response(&c, false));
    cr_assert_eq(c.reader.msg.body_len, 8u << 20);
    for (size_t i = 0; i < c.reader.msg.body_len; i++)
        if (c.reader.msg.body[i] != (char)(i % 251))
            cr_assert_fail("byte %zu", i);
    /* HEAD: the same length, no body */
    cr_assert(client_response(&c, true));
    cr_assert_str_eq(header(&c, "Content-Length"), "8388608");
    client_sends(&c, "GET /healthz HTTP/1.1\r\n\r\n");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "GET /healthz|");
    client_close(&c);
}

Test(http_server, half_close_gets_every_request_answered, .init = setup)
{
    client_t c;
    client_open(&c);
    client_sends(&c, "GET /later/1 HTTP/1.1\r\n\r\nGET /echo?2 HTTP/1.1\r\n\r\n");
    shutdown(c.fd, SHUT_WR);
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "later /later/1");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "GET /echo?2|");
    client_expect_closed(&c);
    client_close(&c);
    /* A half-close in the middle of a request: closed, no answer. */
    client_open(&c);
    client_sends(&c, "GET /echo HTTP/1.1\r\nHost");
    shutdown(c.fd, SHUT_WR);
    client_expect_closed(&c);
    client_close(&c);
}

Test(http_server, expect_100_continue_invites_the_body, .init = setup)
{
    client_t c;
    client_open(&c);
    client_sends(
        &c, "PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    char b[64];
    ssize_t n = recv(c.fd, b, sizeof b - 1, 0);
    cr_assert_gt(n, 0);
    b[n] = '\0';
    cr_assert_str_eq(b, "HTTP/1.1 100 Continue\r\n\r\n");
    client_sends(&c, "hello");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(c.reader.msg.body, "PUT /echo|hello");
    /* A body that came with the head needs no invitation. */
    client_sends(&c,
                 "PUT /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                 "\r\nhi");
    cr_assert(client_response(&c, false));
    cr_assert_eq(c.reader.msg.status_code, 200);
    client_close(&c);
}

/* Send raw bytes on a new connection; the response (status, body) and
 * whether the server then closed. */
static unsigned exchange(const char *raw, size_t len, char *body, size_t body_cap,
                         bool *closed)
{
    client_t c;
    client_open(&c);
    client_send(&c, raw, len);
    bool got = client_response(&c, false);
    cr_assert(got, "a response to %.40s", raw);
    unsigned status = c.reader.msg.status_code;
    if (body)
        snprintf(body, body_cap, "%s", c.reader.msg.body);
    if (closed) {
        const char *conn = header(&c, "Connection");
        *closed = conn && strcmp(conn, "close") == 0;
        if (*closed)
            client_expect_closed(&c);
    }
    client_close(&c);
    return status;
}

#define EXCHANGE(lit, body, closed)                                                    \
    exchange(lit, sizeof lit - 1, body, sizeof body, closed)

Test(http_server, answers_every_error_status, .init = setup)
{
    char body[512];
    bool closed;
    cr_assert_eq(EXCHANGE("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", body, &closed), 400);
    cr_assert(closed);
    cr_assert_not_null(strstr(body, "\"status\":400"), "%s", body);
    cr_assert_eq(EXCHANGE("GET /nothing HTTP/1.1\r\n\r\n", body, &closed), 404);
    cr_assert_not(closed, "a 404 keeps the connection");
    {
        client_t c;
        client_open(&c);
        client_sends(&c, "DELETE /echo HTTP/1.1\r\n\r\n");
        cr_assert(client_response(&c, false));
        cr_assert_eq(c.reader.msg.status_code, 405);
        cr_assert_str_eq(header(&c, "Allow"), "GET, HEAD, POST, PUT");
        client_close(&c);
    }
    cr_assert_eq(EXCHANGE("GET /echo HTTP/1.1\r\nHost: a", body, &closed), 408);
    cr_assert(closed);
    cr_assert_eq(
        EXCHANGE("POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", body, &closed),
        413);
    cr_assert(closed);
    char big[2048];
    int n = snprintf(big, sizeof big, "GET /%01100d HTTP/1.1\r\n\r\n", 0);
    cr_assert_eq(exchange(big, (size_t)n, body, sizeof body, &closed), 414);
    n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %01100d\r\n\r\n", 0);
    cr_assert_eq(exchange(big, (size_t)n, body, sizeof body, &closed), 431);
    cr_assert_eq(EXCHANGE("POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                          body, &closed),
                 501);
    cr_assert_eq(EXCHANGE("GET /echo HTTP/2.0\r\n\r\n", body, &closed), 505);
    cr_assert(closed);
    cr_assert_eq(atomic_load(&rejects[400]), 1);
    cr_assert_eq(atomic_load(&rejects[413]), 1);
    cr_assert_eq(atomic_load(&rejects[505]), 1);
}

Test(http_server, refuses_malformed_input_and_stays_up, .init = setup)
{
    static const char *const bad[] = {
        "\x01\x02\x03\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "GET http://b/ HTTP/1.1\r\nHost: a\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nTransfer-Encoding: "
        "chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nX:\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET /\x7f HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool closed;
        char body[512];
        cr_assert_eq(exchange(bad[i], strlen(bad[i]), body, sizeof body, &closed), 400,
                     "input %zu", i);
        cr_assert(closed, "input %zu", i);
    }
    char body[64];
    cr_assert_eq(EXCHANGE("GET /healthz HTTP/1.1\r\n\r\n", body, NULL), 200);
}

Test(http_server, deferred_response_survives_the_client_leaving_first, .init = setup)
{
    for (int i = 0; i < 20; i++) {
        client_t c;
        client_open(&c);
        client_sends(&c, i % 2 ? "GET /later/x HTTP/1.1\r\n\r\n"
                               : "GET /work HTTP/1.1\r\n\r\n");
        while (atomic_load(&deferred_started) < i + 1)
            usleep(1000);
        /* a reset, not a FIN: the server notices at once */
        struct linger lg = {1, 0};
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        client_close(&c);
    }
    while (atomic_load(&cancels) < 20)
        usleep(10 * 1000);
    usleep(300 * 1000); /* let the timers and the work items end: ASan watches */
    cr_assert_eq(atomic_load(&cancels), 20);
    cr_assert_eq(atomic_load(&deferred_answered), 0);
}

Test(http_server, http_1_0_and_connection_close)
{
    cn_http_server_limits_t l = short_limits();
    start(&l);
    char body[128];
    bool closed;
    cr_assert_eq(EXCHANGE("GET /echo HTTP/1.0\r\n\r\n", body, &closed), 200);
    cr_assert(closed);
    cr_assert_eq(
        EXCHANGE("GET /echo HTTP/1.1\r\nConnection: close\r\n\r\n", body, &closed),
        200);
    cr_assert(closed);
    client_t c;
    client_open(&c);
    client_sends(&c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert(client_response(&c, false));
    cr_assert_str_eq(header(&c, "Connection"), "keep-alive");
    client_sends(&c,
                 "GET /stream/chunked/100 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert(client_response(&c, false));
    cr_assert_eq(c.reader.msg.body_len, 100, "1.0: the close delimits the body");
    cr_assert_not(c.reader.msg.chunked);
    client_close(&c);
}

static void count_evictions(void *arg)
{
    uint64_t *n = arg;
    *n = cn_http_server_evictions(fx.server);
}

Test(http_server, idle_connections_give_way_to_new_ones)
{
    cn_http_server_limits_t l = short_limits();
    l.max_connections = 64;
    l.idle_timeout_ms = 60000;
    l.header_timeout_ms = 60000;
    start(&l);
    /* 64 idle keep-alive clients of /healthz fill the server. */
    static client_t idle[64];
    for (int i = 0; i < 64; i++) {
        client_open(&idle[i]);
        client_sends(&idle[i], "GET /healthz HTTP/1.1\r\n\r\n");
        cr_assert(client_response(&idle[i], false));
    }
    /* An operator still gets in, authenticates, and is served. */
    client_t op;
    client_open(&op);
    client_sends(&op, "POST /auth HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    cr_assert(client_response(&op, false));
    cr_assert_eq(op.reader.msg.status_code, 200);
    /* The oldest idle one made room. */
    client_expect_closed(&idle[0]);
    /* 63 more newcomers evict the idle ones, never the privileged one. */
    static client_t more[63];
    for (int i = 0; i < 63; i++) {
        client_open(&more[i]);
        client_sends(&more[i], "GET /healthz HTTP/1.1\r\n\r\n");
        cr_assert(client_response(&more[i], false), "newcomer %d", i);
    }
    client_sends(&op, "PUT /echo HTTP/1.1\r\nContent-Length: 8\r\n\r\nrollback");
    cr_assert(client_response(&op, false));
    cr_assert_str_eq(op.reader.msg.body, "PUT /echo|rollback");
    uint64_t ev = 0;
    on_loop(count_evictions, &ev);
    cr_assert_eq(ev, 64);
    unsigned open = 0;
    on_loop(read_counts, &open);
    cr_assert_eq(open, 64);
    for (int i = 0; i < 64; i++)
        client_close(&idle[i]);
    for (int i = 0; i < 63; i++)
        client_close(&more[i]);
    client_close(&op);
}

Test(http_server, a_connection_sending_a_head_slowly_gives_way_too)
{
    cn_http_server_limits_t l = short_limits();
    l.max_connections = 2;
    l.header_timeout_ms = 60000;
    l.idle_timeout_ms = 60000;
    start(&l);
    client_t a, b, c;
    client_open(&a);
    client_sends(&a, "POST /auth HTTP/1.1\r\n\r\n");
    cr_assert(client_response(&a, false)); /* privileged, idle */
    client_open(&b);
    client_sends(&b, "GET /healthz HTTP/1.1\r\nHo"); /* slow head */
    usleep(50 * 1000);
    client_open(&c);
    client_sends(&c, "GET /healthz HTTP/1.1\r\n\r\n");
    cr_assert(client_response(&c, false));
    client_expect_closed(&b);
    client_sends(&a, "GET /healthz HTTP/1.1\r\n\r\n");
    cr_assert(client_response(&a, false), "the privileged connection stayed");
    client_close(&a);
    client_close(&b);
    client_close(&c);
}
