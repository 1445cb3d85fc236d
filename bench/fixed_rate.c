/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * fixed-rate: an open-loop HTTP load generator at a fixed request rate, for
 * the rollout benchmark (bench/rollout.sh). wrk sends as fast as responses
 * come back (a closed loop), so its rate depends on the server; a rollout's
 * detection time depends on the rate, so the benchmark needs a rate that
 * does not. Debian 12 ships no open-loop generator (wrk2 and vegeta are not
 * packaged; httperf's --rate is a rate of new connections).
 *
 *   fixed-rate [--rate R] [--seconds S] [--max-connections C] [--path P]
 *              [--body B] HOST:PORT
 *
 * Request i (from 0) is due at start + i/R, whatever happened to the
 * requests before it. A 1 ms timer sends every due request on an idle
 * keep-alive connection, opening a new one (up to C) when none is idle; one
 * request per connection at a time, no pipelining. A due request that finds
 * all C connections busy waits for the first to free up and is counted as
 * late; its latency is still measured from the time it was due (so a
 * stalled server shows in the latencies instead of lowering the rate
 * silently, the "coordinated omission" of closed-loop tools).
 *
 * It runs S seconds or until SIGTERM/SIGINT, then waits at most 2 s for the
 * requests in flight and prints one line on stdout:
 *
 *   RESULT rate=R seconds=ELAPSED due=N sent=N answered=N achieved_rate=X
 *     s2xx=N s5xx=N sother=N failed=N connections=N late=N max_lag_us=N
 *     p50_us=N p99_us=N max_us=N
 *
 * achieved_rate is sent/ELAPSED: the rate it really offered. failed counts
 * requests whose connection failed (connect error, reset, closed before the
 * whole response); late those sent more than 10 ms after they were due.
 * Exit status 0, or 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <uv.h>

#define MAX_LATENCIES ((size_t)1 << 24) /* 64 MiB at most */
#define LATE_NS 10000000ull
#define DRAIN_MS 2000u

typedef struct conn_s {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    http_parser parser;
    struct conn_s *next_idle;
    bool connected;
    bool busy;       /* a request is in flight (or waits for the connect) */
    bool complete;   /* the parser saw the end of the response */
    uint64_t due_ns; /* when the request in flight was due */
    char rbuf[16384];
} conn_t;

typedef struct options_s {
    double rate;
    double seconds;
    unsigned max_connections;
    const char *path;
    const char *body;
    const char *target;
} options_t;

static options_t opt = {
    .rate = 500,
    .seconds = 10,
    .max_connections = 256,
    .path = "/v2/models/model/infer",
    .body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\","
            "\"data\":[1]}]}",
};

static uv_loop_t *loop;
static uv_timer_t tick, drain_timer;
static uv_signal_t sig_term, sig_int;
static struct sockaddr_storage addr;
static char *request;
static size_t request_len;
static http_parser_settings settings;

static uint64_t start_ns, stop_ns;
static uint64_t due, sent, answered, s2xx, s5xx, sother, failed, late, opened;
static uint64_t backlog; /* due, not yet sent: every connection was busy */
static uint64_t max_lag_ns;
static unsigned nconn, nbusy;
static conn_t *idle;
static uint32_t *latencies; /* microseconds, in the order answered */
static size_t nlat, cap_lat;
static bool stopping;

static void fatal(const char *fmt, ...)
{
    va_list ap;
    fputs("fixed-rate: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void send_on(conn_t *c, uint64_t due_ns);
static void dispatch(void);
static void maybe_done(void);

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The connection failed: its request (if any) is counted failed. */
static void conn_drop(conn_t *c)
{
    if (c->busy) {
        failed++;
        nbusy--;
    }
    /* unlink from the idle list */
    for (conn_t **p = &idle; *p; p = &(*p)->next_idle)
        if (*p == c) {
            *p = c->next_idle;
            break;
        }
    nconn--;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    maybe_done();
}

/* Stop the loop once the last answer is in, after the run. */
static void maybe_done(void)
{
    if (stopping && nbusy == 0)
        uv_stop(loop);
}

/* The connection is free: park it, then serve what is due. */
static void conn_free_up(conn_t *c)
{
    c->busy = false;
    nbusy--;
    c->next_idle = idle;
    idle = c;
    dispatch();
    maybe_done();
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    c->complete = true;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (n == 0)
        return;
    if (n < 0) {
        conn_drop(c);
        return;
    }
    if (!c->busy) {
        conn_drop(c); /* bytes nobody asked for */
        return;
    }
    c->complete = false;
    size_t used = http_parser_execute(&c->parser, &settings, buf->base, (size_t)n);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK || used != (size_t)n) {
        conn_drop(c);
        return;
    }
    if (!c->complete)
        return;
    uint64_t now = uv_hrtime();
    answered++;
    unsigned status = c->parser.status_code;
    if (status >= 200 && status < 300)
        s2xx++;
    else if (status >= 500 && status < 600)
        s5xx++;
    else
        sother++;
    if (nlat < cap_lat) {
        uint64_t us = (now - c->due_ns) / 1000;
        latencies[nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
    }
    bool keep = http_should_keep_alive(&c->parser);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    if (!keep) {
        c->busy = false;
        nbusy--;
        nconn--;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        dispatch();
        maybe_done();
        return;
    }
    conn_free_up(c);
}

static void on_write(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    if (status < 0 && !uv_is_closing((uv_handle_t *)&c->tcp))
        conn_drop(c);
}

static void write_request(conn_t *c)
{
    uv_buf_t b = uv_buf_init(request, (unsigned)request_len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0)
        conn_drop(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (status < 0) {
        conn_drop(c);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_drop(c);
        return;
    }
    write_request(c);
}

static void send_on(conn_t *c, uint64_t due_ns)
{
    uint64_t now = uv_hrtime();
    uint64_t lag = now > due_ns ? now - due_ns : 0;
    if (lag > max_lag_ns)
        max_lag_ns = lag;
    if (lag > LATE_NS)
        late++;
    sent++;
    nbusy++;
    c->busy = true;
    c->due_ns = due_ns;
    if (c->connected)
        write_request(c);
}

/* A new connection, connecting; NULL if the connect failed at once. */
static conn_t *conn_open(void)
{
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        fatal("out of memory");
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c->creq.data = c->wreq.data = c;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    opened++;
    if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&addr, on_connect) <
        0) {
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return NULL;
    }
    nconn++;
    return c;
}

/* Send the requests that are due, oldest first, on idle connections or new
 * ones; what finds every connection busy waits for one to free up. */
static void dispatch(void)
{
    while (backlog > 0 && !stopping) {
        conn_t *c = idle;
        if (c) {
            idle = c->next_idle;
        } else if (nconn < opt.max_connections) {
            c = conn_open();
            if (!c) {
                backlog--;
                sent++;
                failed++;
                continue;
            }
        } else {
            return;
        }
        /* requests go out in order, so the oldest waiting one is number
         * `sent` */
        uint64_t due_ns = start_ns + (uint64_t)((double)sent * 1e9 / opt.rate);
        backlog--;
        send_on(c, due_ns);
    }
}

static void on_drain(uv_timer_t *t)
{
    (void)t;
    uv_stop(loop);
}

static void stop(void)
{
    if (stopping)
        return;
    stopping = true;
    stop_ns = uv_hrtime();
    uv_timer_stop(&tick);
    uv_timer_start(&drain_timer, on_drain, DRAIN_MS, 0);
    maybe_done();
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
    uint64_t now = uv_hrtime();
    double elapsed = (double)(now - start_ns) / 1e9;
    if (elapsed >= opt.seconds) {
        stop();
        return;
    }
    uint64_t want = (uint64_t)(elapsed * opt.rate) + 1; /* request 0 is due at 0 */
    if (want > due) {
        backlog += want - due;
        due = want;
    }
    dispatch();
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    stop();
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t pct(double q)
{
    if (nlat == 0)
        return 0;
    size_t i = (size_t)ceil(q * (double)nlat);
    if (i > 0)
        i--;
    return latencies[i < nlat ? i : nlat - 1];
}

static void print_result(void)
{
    qsort(latencies, nlat, sizeof *latencies, cmp_u32);
    double secs = (double)(stop_ns - start_ns) / 1e9;
    printf("RESULT rate=%g seconds=%.3f due=%" PRIu64 " sent=%" PRIu64
           " answered=%" PRIu64 " achieved_rate=%.1f s2xx=%" PRIu64 " s5xx=%" PRIu64
           " sother=%" PRIu64 " failed=%" PRIu64 " connections=%" PRIu64
           " late=%" PRIu64 " max_lag_us=%" PRIu64 " p50_us=%" PRIu32 " p99_us=%" PRIu32
           " max_us=%" PRIu32 "\n",
           opt.rate, secs, due, sent, answered, secs > 0 ? (double)sent / secs : 0,
           s2xx, s5xx, sother, failed, opened, late, max_lag_ns / 1000, pct(0.5),
           pct(0.99), nlat ? latencies[nlat - 1] : 0);
    fflush(stdout);
}

static void parse_target(const char *text)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        fatal("expected HOST:PORT, got '%s'", text);
    char host[64];
    size_t n = (size_t)(colon - text);
    if (n >= sizeof host)
        fatal("host too long in '%s'", text);
    memcpy(host, text, n);
    host[n] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        fatal("bad port in '%s'", text);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&addr) != 0)
        fatal("'%s' is not a numeric IPv4 address", host);
}

static double parse_positive(const char *flag, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v <= 0)
        fatal("%s: expected a positive number, got '%s'", flag, text);
    return v;
}

static void usage(FILE *out)
{
    fputs("usage: fixed-rate [--rate R] [--seconds S] [--max-connections C]\n"
          "                  [--path P] [--body B] HOST:PORT\n"
          "  open-loop POSTs at R requests/s (default 500) for S seconds (10),\n"
          "  on at most C keep-alive connections (256); prints one RESULT line\n",
          out);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rate", required_argument, NULL, 'r'},
        {"seconds", required_argument, NULL, 's'},
        {"max-connections", required_argument, NULL, 'c'},
        {"path", required_argument, NULL, 'p'},
        {"body", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            opt.rate = parse_positive("--rate", optarg);
            break;
        case 's':
            opt.seconds = parse_positive("--seconds", optarg);
            break;
        case 'c':
            opt.max_connections = (unsigned)parse_positive("--max-connections", optarg);
            break;
        case 'p':
            opt.path = optarg;
            break;
        case 'b':
            opt.body = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    opt.target = argv[optind];
    parse_target(opt.target);
    if (opt.rate > 1e6)
        fatal("--rate: at most 1000000");

    int n =
        snprintf(NULL, 0,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n\r\n%s",
                 opt.path, opt.target, strlen(opt.body), opt.body);
    request = malloc((size_t)n + 1);
    if (!request)
        fatal("out of memory");
    snprintf(request, (size_t)n + 1,
             "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             opt.path, opt.target, strlen(opt.body), opt.body);
    request_len = (size_t)n;

    double expect = opt.rate * opt.seconds + 16;
    cap_lat = expect < (double)MAX_LATENCIES ? (size_t)expect : MAX_LATENCIES;
    latencies = malloc(cap_lat * sizeof *latencies);
    if (!latencies)
        fatal("out of memory");

    settings.on_message_complete = on_message_complete;
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    uv_timer_init(loop, &tick);
    uv_timer_init(loop, &drain_timer);
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    start_ns = uv_hrtime();
    uv_timer_start(&tick, on_tick, 0, 1);
    uv_run(loop, UV_RUN_DEFAULT);
    print_result();
    return 0;
}
