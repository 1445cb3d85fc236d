/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin server over real sockets: the server runs on 127.0.0.1:0 in a
 * thread, and the tests speak HTTP/1.1 to it with plain sockets: headers on
 * the wire, keep-alive, pipelining, limits, timeouts, and stopping from
 * another thread.
 */
#include "../controller/plane.h"
#include "api/admin.h"
#include "api/admin_internal.h"
#include "fake_router.h"
#include "router/internal.h"
#include "router/shard.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TOKEN "s3cret-token"

static fake_router_t fake;
static test_plane_t plane;
static cn_admin_t *server;
static pthread_t server_thread;
static FILE *server_log;
static int server_port;

static void *serve(void *arg)
{
    cn_admin_run(arg);
    return NULL;
}

static void start(uint32_t idle_ms, uint32_t request_ms)
{
    /* as canary serve does (http/server.h): an event stream writes to
     * clients that have gone */
    signal(SIGPIPE, SIG_IGN);
    static const char *const flags[] = {"sticky-header", "X-User", NULL};
    fake_router_init(&fake);
    test_plane_start(&plane, flags, true);
    cn_admin_ops_t ops = fake_router_ops(&fake);
    char err[256];
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &server,
                              err, sizeof err),
                 0, "%s", err);
    server_log = tmpfile();
    cn_admin_set_log(server, server_log);
    cn_admin_set_timeouts(server, idle_ms, request_ms);
    server_port = atoi(strrchr(cn_admin_address(server), ':') + 1);
    cr_assert_eq(pthread_create(&server_thread, NULL, serve, server), 0);
}

static void setup(void)
{
    start(0, 0);
}

static void stop(void)
{
    cn_admin_stop(server);
    pthread_join(server_thread, NULL);
    cn_admin_free(server);
    fclose(server_log);
    test_plane_stop(&plane);
}

static const char *log_text(void)
{
    static char buf[4096];
    fflush(server_log);
    rewind(server_log);
    size_t n = fread(buf, 1, sizeof buf - 1, server_log);
    buf[n] = '\0';
    return buf;
}

/* A client connection with a receive buffer (responses may arrive
 * together). */
typedef struct client_s {
    int fd;
    char buf[256 * 1024];
    size_t len;
} client_t;

typedef struct response_s {
    unsigned status;
    char head[4096];
    char *body;
    size_t body_len;
} response_t;

static client_t *connect_client(void)
{
    client_t *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(c->fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(server_port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s",
                 strerror(errno));
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return c;
}

static void close_client(client_t *c)
{
    close(c->fd);
    free(c);
}

static void send_text(client_t *c, const char *text, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, text + off, len - off, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        off += (size_t)n;
    }
}

static void send_str(client_t *c, const char *text)
{
    send_text(c, text, strlen(text));
}

/* Read more bytes into the buffer; 0 at end of stream. */
static ssize_t fill(client_t *c)
{
    cr_assert_lt(c->len, sizeof c->buf, "response too big for the test buffer");
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    cr_assert_geq(n, 0, "recv: %s", strerror(errno));
    c->len += (size_t)n;
    return n;
}

/* Read one whole response (Content-Length framed); free r->body. */
static void read_response(client_t *c, response_t *r)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        cr_assert_gt(fill(c), 0, "closed before a whole head");
    size_t head_len = (size_t)(end - c->buf) + 4;
    cr_assert_lt(head_len, sizeof r->head);
    memcpy(r->head, c->buf, head_len);
    r->head[head_len] = '\0';
    cr_assert_eq(sscanf(r->head, "HTTP/1.1 %u ", &r->status), 1, "%s", r->head);
    const char *cl = strcasestr(r->head, "\r\nContent-Length: ");
    cr_assert_not_null(cl, "%s", r->head);
    r->body_len = strtoul(cl + 18, NULL, 10);
    while (c->len < head_len + r->body_len)
        cr_assert_gt(fill(c), 0, "closed before a whole body");
    r->body = malloc(r->body_len + 1);
    memcpy(r->body, c->buf + head_len, r->body_len);
    r->body[r->body_len] = '\0';
    memmove(c->buf, c->buf + head_len + r->body_len, c->len - head_len - r->body_len);
    c->len -= head_len + r->body_len;
}

static void assert_closed(client_t *c)
{
    cr_assert_eq(c->len, 0, "unexpected bytes: %.*s", (int)c->len, c->buf);
    char byte;
    ssize_t n = recv(c->fd, &byte, 1, 0);
    cr_assert(n == 0 || (n < 0 && errno == ECONNRESET), "still open: %zd %s", n,
              n < 0 ? strerror(errno) : "");
}

static bool has_header(const response_t *r, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\r\n%s\r\n", line);
    return strcasestr(r->head, want) != NULL;
}

Test(admin_server, answers_healthz_with_complete_headers, .init = setup, .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200, "%s", r.head);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}\n");
    cr_assert(has_header(&r, "Content-Type: application/json"), "%s", r.head);
    cr_assert(has_header(&r, "Content-Length: 16"), "%s", r.head);
    /* HTTP/1.1: kept alive without saying so */
    cr_assert(!has_header(&r, "Connection: close"), "%s", r.head);
    free(r.body);
    close_client(c);
}

Test(admin_server, serves_metrics_with_the_prometheus_content_type, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(has_header(&r, "Content-Type: text/plain; version=0.0.4; charset=utf-8"),
              "%s", r.head);
    cr_assert(strstr(r.body, "# TYPE canary_requests_total counter\n"));
    free(r.body);
    close_client(c);
}

Test(admin_server, answers_pipelined_requests_in_order_on_one_connection, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c,
             "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
             "\r\n\r\n"
             "GET /nope HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n\r\n"
             "PUT /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
             "\r\nContent-Length: 21\r\n\r\n{\"canary_weight\": 10}");
    unsigned want[] = {200, 200, 404, 200};
    for (int i = 0; i < 4; i++) {
        response_t r;
        read_response(c, &r);
        cr_assert_eq(r.status, want[i], "response %d: %s%s", i, r.head, r.body);
        if (i == 1)
            cr_assert(strstr(r.body, "\"canary_weight\":2.5"), "%s", r.body);
        if (i == 3)
            cr_assert(strstr(r.body, "\"canary_weight\":10"), "%s", r.body);
        free(r.body);
    }
    /* Still open afterwards. */
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200);
    free(r.body);
    close_client(c);
}

Test(admin_server, answers_a_request_sent_one_byte_at_a_time, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    const char *req =
        "PUT /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
        "\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\n{\"mod\r\nd\r\ne\": \"sticky\"}\r\n0\r\n\r\n";
    for (size_t i = 0; req[i]; i++)
        send_text(c, req + i, 1);
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200, "%s%s", r.head, r.body);
    cr_assert(strstr(r.body, "\"mode\":\"sticky\""), "%s", r.body);
    free(r.body);
    close_client(c);
}

Test(admin_server, answers_head_with_the_headers_of_get_and_no_body, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    /* The HEAD response: Content-Length of the GET, then directly the next
     * response. */
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        cr_assert_gt(fill(c), 0);
    cr_assert_eq(strncmp(c->buf, "HTTP/1.1 200 ", 13), 0);
    cr_assert_not_null(
        memmem(c->buf, (size_t)(end - c->buf), "Content-Length: 16", 18));
    size_t head_len = (size_t)(end - c->buf) + 4;
    memmove(c->buf, c->buf + head_len, c->len - head_len);
    c->len -= head_len;
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "{\"status\":\"ok\"}\n");
    free(r.body);
    close_client(c);
}

Test(admin_server, sends_www_authenticate_and_allow_headers, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "PUT /v1/traffic HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                "DELETE /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 401);
    cr_assert(has_header(&r, "WWW-Authenticate: Bearer"), "%s", r.head);
    cr_assert(strstr(r.body, "missing or wrong bearer token"));
    free(r.body);
    read_response(c, &r);
    cr_assert_eq(r.status, 405);
    cr_assert(has_header(&r, "Allow: GET, HEAD, PUT"), "%s", r.head);
    free(r.body);
    close_client(c);
    cr_assert(strstr(log_text(), "admin: 401 PUT /v1/traffic from 127.0.0.1\n"), "%s",
              log_text());
}

Test(admin_server, closes_after_connection_close_and_http_1_0, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(has_header(&r, "Connection: close"), "%s", r.head);
    free(r.body);
    assert_closed(c);
    close_client(c);

    c = connect_client();
    send_str(c, "GET /healthz HTTP/1.0\r\n\r\n");
    read_response(c, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(has_header(&r, "Connection: close"), "%s", r.head);
    free(r.body);
    assert_closed(c);
    close_client(c);
}

Test(admin_server, answers_a_client_that_half_closes_after_its_request, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    response_t r;
    for (int i = 0; i < 2; i++) {
        read_response(c, &r);
        cr_assert_eq(r.status, 200);
        free(r.body);
    }
    assert_closed(c);
    close_client(c);
}

Test(admin_server, refuses_a_body_over_1_mib_with_413, .init = setup, .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "PUT /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\nContent-Length: 2000000\r\n\r\n");
    /* Send the body until the server answers (it may answer as soon as the
     * head shows the length, or once 1 MiB has arrived). */
    static char chunk[64 * 1024];
    memset(chunk, ' ', sizeof chunk);
    for (size_t sent = 0; sent < 2000000;) {
        struct pollfd p = {c->fd, POLLIN, 0};
        if (poll(&p, 1, 0) > 0)
            break;
        ssize_t n = send(c->fd, chunk, sizeof chunk, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 413, "%s%s", r.head, r.body);
    cr_assert(has_header(&r, "Connection: close"), "%s", r.head);
    free(r.body);
    close_client(c);
    cr_assert_eq(cn_router_step(plane.router), 1, "nothing was published");
}

Test(admin_server, refuses_a_head_over_64_kib_with_431, .init = setup, .fini = stop)
{
    client_t *c = connect_client();
    size_t big = 70 * 1024;
    char *req = malloc(big + 128);
    int n = sprintf(req, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    strcpy(req + n + big, "\r\n\r\n");
    send_text(c, req, strlen(req));
    free(req);
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 431, "%s%s", r.head, r.body);
    free(r.body);
    close_client(c);
}

Test(admin_server, answers_garbage_with_400_and_closes, .init = setup, .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "HELLO\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 400, "%s%s", r.head, r.body);
    cr_assert(strstr(r.body, "\"error\""), "%s", r.body);
    free(r.body);
    assert_closed(c);
    close_client(c);
    cr_assert(strstr(log_text(), "admin: 400 ("), "%s", log_text());
}

static void setup_short_timeouts(void)
{
    start(150, 300);
}

Test(admin_server, answers_408_when_a_request_is_not_finished_in_time,
     .init = setup_short_timeouts, .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    response_t r;
    read_response(c, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(r.status, 408, "%s%s", r.head, r.body);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_assert(waited > 0.2 && waited < 3, "%f s", waited);
    free(r.body);
    assert_closed(c);
    close_client(c);
}

Test(admin_server, closes_an_idle_keep_alive_connection, .init = setup_short_timeouts,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    free(r.body);
    assert_closed(c); /* within the 5 s receive timeout; idle is 150 ms */
    close_client(c);
}

Test(admin_server, stops_from_another_thread_with_connections_open)
{
    start(0, 0);
    client_t *idle = connect_client();
    client_t *partial = connect_client();
    send_str(partial, "GET /heal");
    /* Let the server accept both before stopping. */
    client_t *c = connect_client();
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    free(r.body);
    stop();
    assert_closed(idle);
    assert_closed(partial);
    close_client(idle);
    close_client(partial);
    close_client(c);
}

Test(admin_server, a_stop_before_run_makes_run_return_at_once)
{
    fake_router_init(&fake);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&fake);
    cn_admin_t *a;
    char err[256];
    cr_assert_eq(
        cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &a, err, sizeof err),
        0);
    cn_admin_stop(a);
    cn_admin_stop(a);
    cr_assert_eq(cn_admin_run(a), 0);
    cr_assert_eq(cn_admin_run(a), CN_EINVAL, "only once");
    cn_admin_free(a);
    test_plane_stop(&plane);
}

/* True if no byte has arrived on c (without waiting). */
static bool nothing_arrived(client_t *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return c->len == 0 && poll(&p, 1, 0) == 0;
}

/*
 * /healthz is answered while a snapshot is in progress. The snapshot is
 * held at a gate in the router's ops (on the thread pool) until the test
 * has its /healthz answer: the order of events, not a clock, is asserted.
 */
Test(admin_server, answers_healthz_while_a_snapshot_is_in_progress, .init = setup,
     .fini = stop)
{
    fake_router_close_gate(&fake);
    client_t *scrape = connect_client();
    client_t *samples = connect_client();
    send_str(scrape, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    send_str(samples,
             "GET /v1/samples HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
             "\r\n\r\n");
    fake_router_wait_at_gate(&fake, 2);

    client_t *probe = connect_client();
    for (int i = 0; i < 3; i++) {
        send_str(probe, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        response_t r;
        read_response(probe, &r);
        cr_assert_eq(r.status, 200);
        free(r.body);
    }
    /* and the traffic, which the controller answers from its copy */
    send_str(probe,
             "GET /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
             "\r\n\r\n");
    response_t t;
    read_response(probe, &t);
    cr_assert_eq(t.status, 200);
    free(t.body);
    cr_assert(nothing_arrived(scrape), "the scrape waits for its snapshot");
    cr_assert(nothing_arrived(samples), "so do the samples");

    fake_router_open_gate(&fake);
    response_t r;
    read_response(scrape, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "canary_requests_total"));
    free(r.body);
    read_response(samples, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(strstr(r.body, "\"shadow_pairs\""));
    free(r.body);
    close_client(scrape);
    close_client(samples);
    close_client(probe);
}

/* ------------------------------------------------------------ a live router */

#define LIVE_RESERVOIR 1000u

/* Every reservoir of the plane's real router full: LIVE_RESERVOIR + 100
 * observations in each (segment, role), written into the shards before
 * the workers start (nothing else touches them then). */
static void fill_live(cn_router_t *r)
{
    uint64_t step = cn_router_step(r);
    static const char *const labels[] = {"eu", "us"};
    for (unsigned i = 0; i < r->nworkers; i++) {
        cn_router_shard_t *sh = &r->workers[i]->shard;
        cn_router_shard_sync_step(sh, step);
        for (size_t l = 0; l < 2; l++) {
            unsigned seg = cn_router_shard_segment(sh, labels[l], strlen(labels[l]));
            for (int role = 0; role < 2; role++)
                for (unsigned k = 0; k < LIVE_RESERVOIR + 100; k++) {
                    cn_router_obs_t o = {0};
                    o.role = (cn_role_t)role;
                    o.key = (unsigned)r->workers[i]->cur->key[role];
                    o.status = 200;
                    o.failure = -1;
                    o.has_latency = true;
                    o.latency_us = 1000 + (k * 7919) % 50000;
                    o.prediction = CN_ROUTER_PRED_OK;
                    o.prediction_value = (double)(k % 1000) / 1000.0;
                    o.step = step;
                    cn_router_shard_record(sh, seg, &o);
                }
        }
    }
}

/* The real router's snapshot, then the gate: the admin API's snapshot job
 * stays in progress on the thread pool, holding a snapshot of full
 * reservoirs, until the test opens the gate. */
static cn_router_snapshot_t *live_snapshot(void *ctx, unsigned mask)
{
    cn_router_snapshot_t *s = cn_router_snapshot(ctx, mask);
    fake_router_pass_gate(&fake);
    return s;
}

static void live_snapshot_free(void *ctx, cn_router_snapshot_t *s)
{
    (void)ctx;
    cn_router_snapshot_free(s);
}

static int live_lookup(void *ctx, const char *id, size_t len, cn_router_lookup_t *out)
{
    return cn_router_lookup(ctx, id, len, out);
}

static void setup_live(void)
{
    static const char *const flags[] = {
        "segment-header", "X-Region",    "segments", "eu,us", "reservoir-size",
        "1000",           "health-path", "",         NULL};
    fake_router_init(&fake);
    test_plane_start(&plane, flags, false);
    fill_live(plane.router);
    char err[256];
    cr_assert_eq(cn_router_start(plane.router, err, sizeof err), 0, "%s", err);
    cn_admin_ops_t ops = {.snapshot = live_snapshot,
                          .snapshot_free = live_snapshot_free,
                          .lookup = live_lookup,
                          .ctx = plane.router};
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &server,
                              err, sizeof err),
                 0, "%s", err);
    server_log = tmpfile();
    cn_admin_set_log(server, server_log);
    server_port = atoi(strrchr(cn_admin_address(server), ':') + 1);
    cr_assert_eq(pthread_create(&server_thread, NULL, serve, server), 0);
}

/* The same with the real router: /healthz is answered while the snapshot
 * job of /v1/samples, over full reservoirs, is in progress; the samples
 * then come out whole (every reservoir at its size). */
Test(admin_server, answers_healthz_while_a_real_full_snapshot_is_in_progress,
     .init = setup_live, .fini = stop)
{
    fake_router_close_gate(&fake);
    client_t *samples = connect_client();
    send_str(samples,
             "GET /v1/samples HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
             "\r\n\r\n");
    fake_router_wait_at_gate(&fake, 1);
    client_t *probe = connect_client();
    for (int i = 0; i < 3; i++) {
        send_str(probe, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        response_t r;
        read_response(probe, &r);
        cr_assert_eq(r.status, 200);
        free(r.body);
    }
    cr_assert(nothing_arrived(samples), "the samples wait for their snapshot");
    fake_router_open_gate(&fake);

    response_t r;
    read_response(samples, &r);
    cr_assert_eq(r.status, 200, "%s", r.head);
    json_error_t je;
    json_t *j = json_loads(r.body, 0, &je);
    cr_assert_not_null(j, "%s", je.text);
    static const char *const roles[] = {"stable", "canary"};
    static const char *const segs[] = {"eu", "us"};
    for (int role = 0; role < 2; role++)
        for (int sg = 0; sg < 2; sg++) {
            json_t *cell = json_object_get(
                json_object_get(
                    json_object_get(json_object_get(j, "versions"), roles[role]),
                    "segments"),
                segs[sg]);
            cr_assert_not_null(cell, "no cell %s/%s in %.300s", roles[role], segs[sg],
                               r.body);
            json_t *lat =
                json_object_get(json_object_get(cell, "latency_us"), "sample");
            cr_assert_eq(json_array_size(lat), LIVE_RESERVOIR, "%s/%s: %zu values",
                         roles[role], segs[sg], json_array_size(lat));
        }
    json_decref(j);
    free(r.body);
    close_client(samples);
    close_client(probe);
}

Test(admin_server, metrics_asks_only_for_counters_and_histograms, .init = setup,
     .fini = stop)
{
    client_t *c = connect_client();
    send_str(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    free(r.body);
    cr_assert_eq(fake.last_mask, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS);
    send_str(
        c,
        "GET /v1/samples?window=all HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
        "\r\n\r\n");
    read_response(c, &r);
    free(r.body);
    cr_assert_eq(fake.last_mask, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS);
    send_str(c, "GET /v1/samples HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\n\r\n");
    read_response(c, &r);
    free(r.body);
    cr_assert_eq(fake.last_mask, CN_ROUTER_SNAP_ALL,
                 "the step window needs the samples");
    close_client(c);
}

/*
 * /healthz is answered while a change is being written. Another connection
 * to the state file holds its write lock, so the controller's store write
 * (after the publication) waits on SQLite's busy timeout; the test sees the
 * publication in the router, asks /healthz, and only then releases the
 * lock.
 */
Test(admin_server, answers_healthz_while_a_state_write_is_in_progress, .init = setup,
     .fini = stop)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(plane.state_path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db));

    client_t *put = connect_client();
    send_str(put, "PUT /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                  "\r\nContent-Length: 21\r\n\r\n{\"canary_weight\": 10}");
    /* The publication comes first, then the write, which now waits. */
    cn_traffic_t t;
    do {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        cn_router_get_traffic(plane.router, &t);
    } while (t.canary_weight_bp != 1000);

    client_t *probe = connect_client();
    send_str(probe, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(probe, &r);
    cr_assert_eq(r.status, 200);
    free(r.body);
    cr_assert(nothing_arrived(put), "the PUT is answered only once it is stored");

    cr_assert_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    read_response(put, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"canary_weight\":10"), "%s", r.body);
    free(r.body);
    close_client(put);
    close_client(probe);
}

static const char page[] = "<!doctype html><title>canary</title>";

Test(admin_server, serves_static_routes_without_a_token)
{
    start(0, 0);
    /* Routes are added before run; start() runs the server already, so
     * this test builds its own. */
    stop();
    fake_router_init(&fake);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&fake);
    char err[256];
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &server,
                              err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cn_admin_add_static(server, "/ui/index.html", "text/html", page,
                                     sizeof page - 1, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cn_admin_add_static(server, "/ui/index.html", "text/html", page,
                                     sizeof page - 1, err, sizeof err),
                 CN_EINVAL, "a path is routed once");
    cr_assert(strstr(err, "already routed"), "%s", err);
    cn_admin_route_t bad = {CN_ADMIN_GET, "ui", false, NULL, NULL};
    cr_assert_eq(cn_admin_add_route(server, &bad, err, sizeof err), CN_EINVAL);
    server_log = tmpfile();
    cn_admin_set_log(server, server_log);
    server_port = atoi(strrchr(cn_admin_address(server), ':') + 1);
    cr_assert_eq(pthread_create(&server_thread, NULL, serve, server), 0);

    client_t *c = connect_client();
    send_str(c, "GET /ui/index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(has_header(&r, "Content-Type: text/html"), "%s", r.head);
    cr_assert_str_eq(r.body, page);
    free(r.body);
    send_str(c, "PUT /ui/index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    read_response(c, &r);
    cr_assert_eq(r.status, 405);
    free(r.body);
    close_client(c);
    stop();
}

/* Regression (issue 13): 64 idle connections kept alive with /healthz, and
 * no token, used to make every authenticated PUT fail for minutes. Now the
 * oldest idle connection gives way, and an authenticated one is kept. */
Test(admin_server, idle_connections_cannot_lock_out_an_authenticated_put, .init = setup,
     .fini = stop)
{
    client_t *idle[CN_ADMIN_MAX_CONNECTIONS];
    for (unsigned i = 0; i < CN_ADMIN_MAX_CONNECTIONS; i++) {
        idle[i] = connect_client();
        send_str(idle[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        response_t r;
        read_response(idle[i], &r);
        cr_assert_eq(r.status, 200);
        free(r.body);
    }
    client_t *op = connect_client();
    send_str(op, "PUT /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                 "\r\nContent-Length: 20\r\n\r\n{\"canary_weight\": 0}");
    response_t r;
    read_response(op, &r);
    cr_assert_eq(r.status, 200, "%s%s", r.head, r.body);
    free(r.body);
    assert_closed(idle[0]); /* the oldest idle one made room */
    /* More unauthenticated newcomers never push the operator out. */
    client_t *more[CN_ADMIN_MAX_CONNECTIONS];
    for (unsigned i = 0; i < CN_ADMIN_MAX_CONNECTIONS; i++) {
        more[i] = connect_client();
        send_str(more[i], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        read_response(more[i], &r);
        free(r.body);
    }
    send_str(op, "GET /v1/traffic HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                 "\r\n\r\n");
    read_response(op, &r);
    cr_assert_eq(r.status, 200);
    free(r.body);
    for (unsigned i = 0; i < CN_ADMIN_MAX_CONNECTIONS; i++) {
        close_client(idle[i]);
        close_client(more[i]);
    }
    close_client(op);
}

/* ------------------------------------------------------------ event streams */

/* Read until text arrives (each recv waits at most the client's 5 s). */
static void read_until(client_t *c, const char *text)
{
    while (!memmem(c->buf, c->len, text, strlen(text)))
        cr_assert_gt(fill(c), 0, "closed before '%s': %.*s", text, (int)c->len, c->buf);
}

static void open_events(client_t *c)
{
    send_str(c, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\n\r\n");
    read_until(c, "\r\n\r\n");
    cr_assert(memmem(c->buf, c->len, "HTTP/1.1 200 OK\r\n", 17), "%.*s", (int)c->len,
              c->buf);
    cr_assert(
        strcasestr(c->buf, "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
    cr_assert(strcasestr(c->buf, "\r\nTransfer-Encoding: chunked\r\n"));
    read_until(c, "retry: 2000\n");
}

/*
 * A stream stays open and gets the sampler's points as "sample" events
 * (the fake's numbers do not move: zero requests a second); a second
 * stream gets them too; a client that leaves frees its stream while the
 * other goes on; the server stops with a stream open.
 */
Test(admin_server, streams_samples_as_server_sent_events, .init = setup, .fini = stop)
{
    client_t *a = connect_client(), *b = connect_client();
    open_events(a);
    open_events(b);
    read_until(a, "event: sample\ndata: {\"t\":");
    read_until(a, "\"canary\":{\"version\":\"v2\",\"requests\":0,");
    close_client(a);
    b->len = 0;
    read_until(b, "event: sample\n");
    b->len = 0;
    read_until(b, "event: sample\n"); /* a later one: the stream lives on */
    /* the API still answers on another connection meanwhile */
    client_t *c = connect_client();
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 200);
    free(r.body);
    close_client(c);
    close_client(b);
}

Test(admin_server, stops_with_an_event_stream_open, .init = setup)
{
    client_t *a = connect_client();
    open_events(a);
    stop(); /* returns: the stream is closed with the connection */
    char buf[4096];
    while (recv(a->fd, buf, sizeof buf, 0) > 0) /* the end (or a reset), no hang */
        ;
    close_client(a);
}

Test(admin_server, refuses_a_stream_over_the_limit_with_503, .init = setup,
     .fini = stop)
{
    client_t *streams[CN_ADMIN_MAX_STREAMS];
    for (unsigned i = 0; i < CN_ADMIN_MAX_STREAMS; i++) {
        streams[i] = connect_client();
        open_events(streams[i]);
    }
    client_t *c = connect_client();
    send_str(c, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
                "\r\n\r\n");
    response_t r;
    read_response(c, &r);
    cr_assert_eq(r.status, 503);
    cr_assert(strstr(r.body, "at most 16 event streams are open"), "%s", r.body);
    free(r.body);
    /* one leaves: once the server has written to it twice (the first
     * write brings the reset, the second fails), its place is free. Each
     * sample is written to every stream in one turn of the loop, so when
     * another stream has the second sample after the close (the third
     * read: the first may have been sent before it), the server has tried
     * the closed one twice too. */
    close_client(streams[0]);
    for (int k = 0; k < 3; k++) {
        streams[1]->len = 0;
        read_until(streams[1], "event: sample\n");
    }
    client_t *d = connect_client();
    open_events(d);
    close_client(d);
    close_client(c);
    for (unsigned i = 1; i < CN_ADMIN_MAX_STREAMS; i++)
        close_client(streams[i]);
}
