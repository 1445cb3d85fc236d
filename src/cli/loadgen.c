/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary loadgen --target URL --rps N --duration D`: an open-loop HTTP load
 * generator at a fixed rate (docs/CLI.md). Users warm up or probe a
 * low-traffic service with it, so that a canary's analysis has values to
 * judge; the demo, the integration tests and bench/rollout.sh use it.
 *
 * Open loop. Request i is intended to go out at t0 + i/N, whatever the
 * answers to the requests before it do. A closed-loop tool (wrk, ab) sends
 * the next request when an answer comes back, so a stalled server is sent
 * fewer requests during the stall and the latencies it would have had are
 * never measured ("coordinated omission", Gil Tene). Here a 1 ms timer
 * sends every request that is due on an idle keep-alive connection,
 * opening a new one (up to --connections) when none is idle; one request
 * per connection at a time, no pipelining. A request that finds every
 * connection busy waits for the first to free up: the target is falling
 * behind, and the report says so.
 *
 * Two latencies per answer: from the intended send time (corrected for
 * coordinated omission: what a client arriving on schedule would have
 * waited) and from the moment the request was really written (the service
 * time). The difference is time spent waiting for a connection, plus the
 * generator's own lag behind its schedule, which the report gives apart
 * (send lag) so that a generator short of CPU is not mistaken for a slow
 * target. Latencies go into the project's log-linear histogram
 * (metrics.h: within 0.39%, fixed memory for any duration); the maximum
 * is kept exactly.
 *
 * The HTTP side is libuv and the project's response reader (http/http.h).
 * libcurl's multi interface was the other candidate; one easy handle per
 * request and its own connection cache cost more per request than writing
 * a prepared head on a connection we own, and would hide the pool's
 * exhaustion, which this tool must report.
 *
 * Feedback (--feedback ADMIN_URL) is posted by a thread of its own
 * (loadgen_feedback.c), so the loop never waits for the admin API.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/input.h"
#include "cli/json_out.h"
#include "cli/loadgen.h"
#include "http/http.h"
#include "metrics/metrics.h"
#include "util/addr.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/rand.h"
#include "util/units.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <uv.h>

#define DEFAULT_CONNECTIONS 256ull
#define MAX_CONNECTIONS 60000ull
#define DEFAULT_TIMEOUT_MS 10000ull
#define MAX_SIMULATED 16
#define MAX_VERSIONS 32
#define BODIES_MAX_BYTES ((size_t)256 << 20)
#define READ_BUFFER_BYTES ((size_t)64 * 1024)
/* A response body is read whole by the reader: keep it modest. */
#define MAX_RESPONSE_BODY_BYTES ((size_t)16 << 20)

typedef struct lg_s lg_t;

typedef enum err_kind_e {
    ERR_CONNECT = 0, /* the connection could not be made */
    ERR_TIMEOUT,     /* no whole answer within --timeout */
    ERR_CLOSED,      /* the connection broke before the whole answer */
    ERR_BAD_RESPONSE /* the answer did not parse */
} err_kind_t;
static const char *const err_names[] = {"connect", "timeout", "closed", "bad_response"};
#define NERR 4

typedef struct conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    lg_t *lg;
    struct conn_s *next_idle;
    cn_http_reader_t reader;
    int open_handles; /* freed when both handles are closed */
    bool connected, busy, dead;
    /* the request in flight */
    uint64_t index;
    uint64_t intended_ns; /* absolute, uv_hrtime's clock */
    uint64_t sent_ns;
    int segment; /* index into lg->seg_names, or -1 */
    cn_buf_t head;
} conn_t;

typedef struct opts_s {
    cn_lg_target_t target;
    double rps;
    uint64_t duration_ms;
    uint64_t max_connections;
    uint64_t timeout_ms;
    uint64_t seed;
    const char *method;
    const char *body; /* --body, or NULL */
    const char *content_type;
    const char *segment_header;
    bool have_segments;
    cn_lg_segments_t segments;
    cn_lg_bodies_t bodies;
    cn_lg_sim_t sims[MAX_SIMULATED];
    size_t nsims;
    uint64_t feedback_delay_ms;
    bool request_ids;
    bool json;
} opts_t;

struct lg_s {
    opts_t *o;
    uv_loop_t loop;
    uv_poll_t tick; /* on tick_fd */
    int tick_fd;    /* a timerfd armed at the next intended send time */
    uv_signal_t sigint, sigterm;
    struct sockaddr_storage addr;
    char host_header[320];
    char rbuf[READ_BUFFER_BYTES];
    cn_lg_fb_t *fb;

    uint64_t t0_ns, total, due, sent, finished;
    uint64_t first_sent_ns, last_sent_ns, end_ns;
    bool stopping, interrupted;
    bool dispatching;   /* inside dispatch() */
    uint64_t abandoned; /* in flight at a second signal */
    uint64_t segment_rng;
    /* segment names: --segments first, then those of the bodies file */
    size_t nseg;
    const char *seg_names[CN_LG_MAX_SEGMENTS * 2];
    int *line_segment; /* per bodies line: index, or -1 */
    uint64_t seg_sent[CN_LG_MAX_SEGMENTS * 2];

    /* the pool */
    conn_t *idle;
    uint64_t nconn, nbusy, opened, peak_conn;
    uint64_t waited; /* requests that found every connection busy */
    uint64_t waited_max_ns;

    /* answers */
    uint64_t status[6]; /* [1..5]: 1xx..5xx */
    uint64_t errors[NERR];
    cn_metrics_hist_t *latency, *service, *lag;
    uint64_t latency_max_ns, service_max_ns, lag_max_ns;
    char versions[MAX_VERSIONS][CN_LG_NAME_MAX_BYTES + 1];
    uint64_t version_count[MAX_VERSIONS];
    size_t nversions;
    uint64_t version_other; /* more distinct versions than MAX_VERSIONS */

    /* feedback */
    uint64_t fb_no_id;          /* answers to be fed back without an X-Request-Id */
    uint64_t fb_skipped_status; /* non-2xx answers: nothing to feed back */
};

static void dispatch(lg_t *lg, bool from_release);
static void maybe_done(lg_t *lg);

/* ------------------------------------------------------------ connections */

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles == 0) {
        cn_http_reader_dispose(&c->reader);
        cn_buf_dispose(&c->head);
        free(c);
    }
}

static void idle_unlink(lg_t *lg, conn_t *c)
{
    for (conn_t **p = &lg->idle; *p; p = &(*p)->next_idle)
        if (*p == c) {
            *p = c->next_idle;
            return;
        }
}

/* Close c; its request in flight, if any, failed with `kind`. */
static void conn_close(conn_t *c, int kind)
{
    lg_t *lg = c->lg;
    if (c->dead)
        return;
    c->dead = true;
    if (c->busy) {
        c->busy = false;
        lg->nbusy--;
        lg->finished++;
        if (kind >= 0)
            lg->errors[kind]++;
    } else {
        idle_unlink(lg, c);
    }
    lg->nconn--;
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    dispatch(lg, true);
    maybe_done(lg);
}

static void on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    conn_close(c, c->connected ? ERR_TIMEOUT : ERR_CONNECT);
}

static void record_version(lg_t *lg, const cn_http_header_t *h)
{
    if (!h || h->value_len == 0 || h->value_len > CN_LG_NAME_MAX_BYTES)
        return;
    for (size_t i = 0; i < lg->nversions; i++)
        if (strcmp(lg->versions[i], h->value) == 0) {
            lg->version_count[i]++;
            return;
        }
    if (lg->nversions == MAX_VERSIONS) {
        lg->version_other++;
        return;
    }
    memcpy(lg->versions[lg->nversions], h->value, h->value_len + 1);
    lg->version_count[lg->nversions++] = 1;
}

/* The feedback for a 2xx answer: the line's recorded metrics and the
 * simulated ones, joined by the answer's request id. */
static void feed_back(lg_t *lg, conn_t *c, const cn_http_message_t *m, uint64_t now)
{
    const opts_t *o = lg->o;
    const cn_lg_line_t *line =
        o->bodies.count ? &o->bodies.lines[c->index % o->bodies.count] : NULL;
    if (o->nsims == 0 && !(line && line->feedback))
        return;
    if (m->status_code < 200 || m->status_code > 299) {
        lg->fb_skipped_status++;
        return;
    }
    const cn_http_header_t *id = cn_http_find_header(m, "X-Request-Id");
    if (!id || id->value_len == 0) {
        lg->fb_no_id++;
        return;
    }
    const cn_http_header_t *ver = cn_http_find_header(m, "X-Model-Version");
    json_t *metrics =
        line && line->feedback ? json_loads(line->feedback, 0, NULL) : json_object();
    for (size_t i = 0; i < o->nsims; i++) {
        double p;
        if (json_object_get(metrics, o->sims[i].metric) ||
            !cn_lg_sim_p(&o->sims[i], ver ? ver->value : NULL, &p))
            continue; /* a recorded value wins; no probability: no value */
        json_object_set_new(
            metrics, o->sims[i].metric,
            json_integer(cn_lg_sim_draw(o->seed, c->index, (unsigned)i, p)));
    }
    if (json_object_size(metrics) == 0) {
        json_decref(metrics);
        return;
    }
    json_t *item = json_pack("{s:s%, s:o}", "request_id", id->value, id->value_len,
                             "metrics", metrics);
    cn_lg_fb_push(lg->fb, now + o->feedback_delay_ms * 1000000u,
                  json_dumps(item, JSON_COMPACT));
    json_decref(item);
}

static void record_latency(cn_metrics_hist_t *h, uint64_t *max, uint64_t ns)
{
    cn_metrics_hist_record(h, ns / 1000);
    if (ns > *max)
        *max = ns;
}

/* A whole answer to c's request. */
static void answered(conn_t *c)
{
    lg_t *lg = c->lg;
    uint64_t now = uv_hrtime();
    const cn_http_message_t *m = &c->reader.msg;
    uv_timer_stop(&c->timer);
    lg->status[m->status_code / 100 < 6 ? m->status_code / 100 : 0]++;
    record_latency(lg->latency, &lg->latency_max_ns,
                   now > c->intended_ns ? now - c->intended_ns : 0);
    record_latency(lg->service, &lg->service_max_ns, now - c->sent_ns);
    record_version(lg, cn_http_find_header(m, "X-Model-Version"));
    if (lg->fb)
        feed_back(lg, c, m, now);
    c->busy = false;
    lg->nbusy--;
    lg->finished++;
    if (!m->keep_alive) {
        conn_close(c, -1);
        return;
    }
    cn_http_reader_next(&c->reader);
    c->next_idle = lg->idle;
    lg->idle = c;
    dispatch(lg, true);
    maybe_done(lg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    *buf = uv_buf_init(c->lg->rbuf, sizeof c->lg->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (c->dead || n == 0)
        return;
    if (n < 0) {
        if (n == UV_EOF && c->busy &&
            cn_http_reader_eof(&c->reader) == CN_HTTP_COMPLETE) {
            answered(c); /* an answer delimited by the close */
            return;
        }
        conn_close(c, ERR_CLOSED);
        return;
    }
    if (!c->busy) {
        conn_close(c, -1); /* bytes nobody asked for */
        return;
    }
    size_t consumed;
    cn_http_feed_t r = cn_http_reader_feed(&c->reader, buf->base, (size_t)n, &consumed);
    if (r == CN_HTTP_ERROR || (r == CN_HTTP_COMPLETE && consumed != (size_t)n)) {
        conn_close(c, ERR_BAD_RESPONSE);
        return;
    }
    if (r == CN_HTTP_COMPLETE)
        answered(c);
}

static void on_write(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    if (status < 0)
        conn_close(c, ERR_CLOSED);
}

static void write_request(conn_t *c)
{
    const opts_t *o = c->lg->o;
    uv_buf_t b[2];
    b[0] = uv_buf_init(c->head.data, (unsigned)c->head.len);
    unsigned nb = 1;
    if (o->bodies.count) {
        const cn_lg_line_t *l = &o->bodies.lines[c->index % o->bodies.count];
        b[nb++] = uv_buf_init(l->body, (unsigned)l->body_len);
    } else if (o->body) {
        b[nb++] = uv_buf_init((char *)o->body, (unsigned)strlen(o->body));
    }
    c->sent_ns = uv_hrtime();
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, b, nb, on_write) < 0)
        conn_close(c, ERR_CLOSED);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    if (c->dead)
        return;
    if (status < 0) {
        conn_close(c, ERR_CONNECT);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
        conn_close(c, ERR_CONNECT);
        return;
    }
    write_request(c);
}

/* A new connection, connecting. */
static conn_t *conn_open(lg_t *lg)
{
    conn_t *c = cn_xcalloc(1, sizeof *c);
    c->lg = lg;
    uv_tcp_init(&lg->loop, &c->tcp);
    uv_timer_init(&lg->loop, &c->timer);
    c->open_handles = 2;
    c->tcp.data = c->timer.data = c->creq.data = c->wreq.data = c;
    cn_http_limits_t lim = {CN_HTTP_DEFAULT_MAX_HEADER_BYTES, MAX_RESPONSE_BODY_BYTES};
    cn_http_reader_init(&c->reader, CN_HTTP_RESPONSE, &lim);
    cn_buf_init(&c->head, 64 * 1024);
    lg->nconn++;
    lg->opened++;
    if (lg->nconn > lg->peak_conn)
        lg->peak_conn = lg->nconn;
    return c;
}

/* The head of request number i (its body is written from where it lies). */
static void build_head(lg_t *lg, conn_t *c)
{
    const opts_t *o = lg->o;
    cn_buf_t *h = &c->head;
    cn_buf_reset(h);
    cn_buf_printf(h, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: canary-loadgen\r\n",
                  o->method, o->target.path, lg->host_header);
    size_t body_len = 0;
    bool has_body = false;
    if (o->bodies.count) {
        body_len = o->bodies.lines[c->index % o->bodies.count].body_len;
        has_body = true;
    } else if (o->body) {
        body_len = strlen(o->body);
        has_body = true;
    }
    if (has_body)
        cn_buf_printf(h, "Content-Type: %s\r\nContent-Length: %zu\r\n", o->content_type,
                      body_len);
    if (c->segment >= 0)
        cn_buf_printf(h, "%s: %s\r\n", o->segment_header, lg->seg_names[c->segment]);
    if (o->request_ids)
        cn_buf_printf(h, "X-Request-Id: lg-%016llx-%llu\r\n",
                      (unsigned long long)(lg->t0_ns ^ o->seed),
                      (unsigned long long)c->index);
    cn_buf_str(h, "\r\n");
}

/* Send request number lg->sent on c (busy from now on). */
static void send_on(lg_t *lg, conn_t *c, bool waited)
{
    const opts_t *o = lg->o;
    uint64_t now = uv_hrtime();
    c->index = lg->sent++;
    c->intended_ns = lg->t0_ns + cn_lg_intended_ns(c->index, o->rps);
    uint64_t lag = now > c->intended_ns ? now - c->intended_ns : 0;
    if (waited) {
        lg->waited++;
        if (lag > lg->waited_max_ns)
            lg->waited_max_ns = lag;
    } else {
        record_latency(lg->lag, &lg->lag_max_ns, lag);
    }
    if (c->index == 0)
        lg->first_sent_ns = now;
    lg->last_sent_ns = now;
    /* the segment: the line's own, else a draw (in request order, so the
     * seed fixes the sequence) */
    c->segment = -1;
    if (lg->line_segment)
        c->segment = lg->line_segment[c->index % o->bodies.count];
    if (c->segment < 0 && o->have_segments)
        c->segment = (int)cn_lg_segments_draw(&o->segments, &lg->segment_rng);
    if (c->segment >= 0)
        lg->seg_sent[c->segment]++;
    build_head(lg, c);
    c->busy = true;
    lg->nbusy++;
    uv_timer_start(&c->timer, on_timeout, o->timeout_ms, 0);
    if (c->connected) {
        write_request(c);
    } else if (uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&lg->addr,
                              on_connect) < 0) {
        conn_close(c, ERR_CONNECT);
    }
}

/* Send what is due, oldest first, on idle connections or new ones. What
 * finds every connection busy waits for one to free up (from_release:
 * this call comes from a connection that just did). */
static void dispatch(lg_t *lg, bool from_release)
{
    /* Not re-entered: a request that fails at once (a connect refused
     * synchronously, as with no file descriptor left) closes its
     * connection, and that close would dispatch again from inside this
     * loop, one stack frame deeper per request. The loop goes on with the
     * next request instead. */
    if (lg->dispatching)
        return;
    lg->dispatching = true;
    while (lg->sent < lg->due && !lg->interrupted) {
        conn_t *c = lg->idle;
        if (c)
            lg->idle = c->next_idle;
        else if (lg->nconn < lg->o->max_connections)
            c = conn_open(lg);
        else
            break;
        send_on(lg, c, from_release);
    }
    lg->dispatching = false;
}

/* ------------------------------------------------------------ the run */

static void stop_loop(lg_t *lg)
{
    if (!lg->end_ns)
        lg->end_ns = uv_hrtime();
    uv_poll_stop(&lg->tick);
    uv_close((uv_handle_t *)&lg->tick, NULL);
    uv_close((uv_handle_t *)&lg->sigint, NULL);
    uv_close((uv_handle_t *)&lg->sigterm, NULL);
    /* idle connections: nothing more to send on them */
    while (lg->idle)
        conn_close(lg->idle, -1);
}

/* Once everything was sent (or the run was interrupted) and every request
 * in flight ended, the loop is done. */
static void maybe_done(lg_t *lg)
{
    if (lg->stopping && lg->nbusy == 0 && (lg->sent == lg->due || lg->interrupted) &&
        !uv_is_closing((uv_handle_t *)&lg->tick))
        stop_loop(lg);
}

/* Arm the timerfd at the intended time of the next request not yet due.
 * A timerfd, not a uv_timer: libuv's timers have a resolution of 1 ms, and
 * a request sent up to 1 ms late would add that to every latency measured
 * from its intended time. */
static void arm(lg_t *lg)
{
    uint64_t at = lg->t0_ns + cn_lg_intended_ns(lg->due, lg->o->rps);
    struct itimerspec its = {{0, 0},
                             {(time_t)(at / 1000000000u), (long)(at % 1000000000u)}};
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1; /* zero would disarm it */
    timerfd_settime(lg->tick_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void on_tick(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    lg_t *lg = p->data;
    uint64_t expirations;
    if (read(lg->tick_fd, &expirations, sizeof expirations) < 0 && errno == EAGAIN)
        return; /* not yet: the poll woke early */
    uint64_t now = uv_hrtime();
    uint64_t due = cn_lg_due_by(now - lg->t0_ns, lg->o->rps, lg->total);
    if (due > lg->due)
        lg->due = due;
    dispatch(lg, false);
    if (lg->due == lg->total) {
        lg->stopping = true;
        uv_poll_stop(&lg->tick);
        maybe_done(lg);
        return;
    }
    arm(lg);
}

/* A second signal: the requests in flight are abandoned. */
static void abandon(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (h->type != UV_TCP || uv_is_closing(h))
        return;
    conn_t *c = h->data;
    if (c->busy) {
        c->lg->abandoned++;
        conn_close(c, -1);
    }
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    lg_t *lg = s->data;
    if (lg->interrupted) {
        uv_walk(&lg->loop, abandon, NULL);
        return;
    }
    lg->interrupted = true;
    lg->stopping = true;
    uv_poll_stop(&lg->tick);
    /* what is in flight ends by its answer or its timeout (or a second
     * signal) */
    maybe_done(lg);
}

/* ------------------------------------------------------------ the report */

static double ms_of(uint64_t us)
{
    return (double)us / 1000.0;
}

static json_t *dist_json(const cn_metrics_hist_t *h, uint64_t max_ns)
{
    json_t *o = json_object();
    uint64_t n = cn_metrics_hist_count(h);
    json_object_set_new(o, "count", json_integer((json_int_t)n));
    static const struct {
        const char *key;
        double q;
    } qs[] = {{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99_9", 0.999}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        /* a bucket's midpoint may lie above the largest value in it */
        uint64_t us = cn_metrics_hist_quantile(h, qs[i].q);
        if (us > max_ns / 1000)
            us = max_ns / 1000;
        json_object_set_new(o, qs[i].key, n ? json_real(ms_of(us)) : json_null());
    }
    json_object_set_new(o, "max", n ? json_real((double)max_ns / 1e6) : json_null());
    json_object_set_new(o, "mean",
                        n ? json_real(ms_of(cn_metrics_hist_sum(h)) / (double)n)
                          : json_null());
    return o;
}

static double achieved_rps(const lg_t *lg)
{
    if (lg->sent < 2 || lg->last_sent_ns <= lg->first_sent_ns)
        return 0;
    /* the rate between the first and the last send: n - 1 intervals */
    return (double)(lg->sent - 1) * 1e9 /
           (double)(lg->last_sent_ns - lg->first_sent_ns);
}

static json_t *report_json(const lg_t *lg, const cn_lg_fb_counts_t *fb)
{
    const opts_t *o = lg->o;
    json_t *r = json_object();
    char url[2400];
    snprintf(url, sizeof url, "http://%s%s", o->target.hostport, o->target.path);
    json_object_set_new(r, "target", json_string(url));
    json_object_set_new(r, "rps", json_real(o->rps));
    json_object_set_new(r, "duration_s", json_real((double)o->duration_ms / 1000.0));
    json_object_set_new(r, "interrupted", json_boolean(lg->interrupted));
    json_object_set_new(r, "abandoned", json_integer((json_int_t)lg->abandoned));
    json_object_set_new(r, "scheduled", json_integer((json_int_t)lg->total));
    json_object_set_new(r, "sent", json_integer((json_int_t)lg->sent));
    json_object_set_new(
        r, "answered",
        json_integer((json_int_t)(lg->status[1] + lg->status[2] + lg->status[3] +
                                  lg->status[4] + lg->status[5])));
    double a = achieved_rps(lg);
    json_object_set_new(r, "achieved_rps", json_real(a));
    json_object_set_new(r, "rate_error", json_real(a > 0 ? a / o->rps - 1 : -1));
    json_object_set_new(r, "elapsed_s",
                        json_real((double)(lg->end_ns - lg->t0_ns) / 1e9));
    json_t *st = json_object();
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 1; i < 6; i++)
        json_object_set_new(st, cls[i], json_integer((json_int_t)lg->status[i]));
    json_object_set_new(r, "status", st);
    json_t *er = json_object();
    for (int i = 0; i < NERR; i++)
        json_object_set_new(er, err_names[i], json_integer((json_int_t)lg->errors[i]));
    json_object_set_new(r, "errors", er);
    json_object_set_new(r, "latency_ms", dist_json(lg->latency, lg->latency_max_ns));
    json_object_set_new(r, "service_ms", dist_json(lg->service, lg->service_max_ns));
    json_object_set_new(r, "send_lag_ms", dist_json(lg->lag, lg->lag_max_ns));
    json_object_set_new(
        r, "connections",
        json_pack("{s:I, s:I, s:I, s:I, s:f, s:b}", "opened", (json_int_t)lg->opened,
                  "max", (json_int_t)o->max_connections, "peak",
                  (json_int_t)lg->peak_conn, "waited", (json_int_t)lg->waited,
                  "waited_max_ms", (double)lg->waited_max_ns / 1e6, "exhausted",
                  lg->waited > 0));
    if (lg->nseg) {
        json_t *sg = json_object();
        for (size_t i = 0; i < lg->nseg; i++)
            json_object_set_new(sg, lg->seg_names[i],
                                json_integer((json_int_t)lg->seg_sent[i]));
        json_object_set_new(r, "segments", sg);
    }
    json_t *vs = json_object();
    for (size_t i = 0; i < lg->nversions; i++)
        json_object_set_new(vs, lg->versions[i],
                            json_integer((json_int_t)lg->version_count[i]));
    json_object_set_new(r, "versions", vs);
    if (fb) {
        json_t *f = json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "queued",
            (json_int_t)fb->queued, "posted", (json_int_t)fb->posted, "batches",
            (json_int_t)fb->batches, "failed_batches", (json_int_t)fb->failed_batches,
            "lost", (json_int_t)fb->lost, "no_request_id", (json_int_t)lg->fb_no_id,
            "not_2xx", (json_int_t)lg->fb_skipped_status, "accepted",
            (json_int_t)fb->accepted, "unknown", (json_int_t)fb->unknown, "expired",
            (json_int_t)fb->expired, "duplicate", (json_int_t)fb->duplicate, "invalid",
            (json_int_t)fb->invalid);
        json_object_set_new(f, "first_error",
                            fb->first_error[0] ? json_string(fb->first_error)
                                               : json_null());
        json_object_set_new(r, "feedback", f);
    }
    return r;
}

static void print_dist(const char *label, json_t *d)
{
    if (json_integer_value(json_object_get(d, "count")) == 0) {
        printf("%-9s none\n", label);
        return;
    }
    printf("%-9s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f ms\n",
           label, json_real_value(json_object_get(d, "p50")),
           json_real_value(json_object_get(d, "p90")),
           json_real_value(json_object_get(d, "p99")),
           json_real_value(json_object_get(d, "p99_9")),
           json_real_value(json_object_get(d, "max")),
           json_real_value(json_object_get(d, "mean")));
}

static long long jint(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void print_report(json_t *r)
{
    printf("target    %s at %g requests/s for %g s%s\n",
           json_string_value(json_object_get(r, "target")),
           json_real_value(json_object_get(r, "rps")),
           json_real_value(json_object_get(r, "duration_s")),
           json_is_true(json_object_get(r, "interrupted")) ? " (interrupted)" : "");
    double a = json_real_value(json_object_get(r, "achieved_rps"));
    printf("sent      %lld of %lld scheduled: %.1f requests/s achieved (%+.2f%%)\n",
           jint(r, "sent"), jint(r, "scheduled"), a,
           100 * json_real_value(json_object_get(r, "rate_error")));
    json_t *st = json_object_get(r, "status");
    printf("answered  %lld: 2xx %lld, 3xx %lld, 4xx %lld, 5xx %lld\n",
           jint(r, "answered"), jint(st, "2xx"), jint(st, "3xx"), jint(st, "4xx"),
           jint(st, "5xx"));
    json_t *er = json_object_get(r, "errors");
    printf("errors    connect %lld, timeout %lld, closed %lld, bad response %lld\n",
           jint(er, "connect"), jint(er, "timeout"), jint(er, "closed"),
           jint(er, "bad_response"));
    printf(
        "latency from the intended send time (corrected for coordinated omission):\n");
    print_dist("          ", json_object_get(r, "latency_ms"));
    printf("service time, from the actual send:\n");
    print_dist("          ", json_object_get(r, "service_ms"));
    json_t *lag = json_object_get(r, "send_lag_ms");
    printf("send lag  p99 %.3f ms, max %.3f ms (the generator behind its schedule)\n",
           json_real_value(json_object_get(lag, "p99")),
           json_real_value(json_object_get(lag, "max")));
    json_t *cn = json_object_get(r, "connections");
    printf("pool      %lld connections opened, at most %lld open (limit %lld)\n",
           jint(cn, "opened"), jint(cn, "peak"), jint(cn, "max"));
    if (json_is_true(json_object_get(cn, "exhausted")))
        printf("          pool exhausted: %lld requests waited for a connection (up to "
               "%.1f ms) because all %lld were busy: the target fell behind the rate, "
               "not the generator\n",
               jint(cn, "waited"),
               json_real_value(json_object_get(cn, "waited_max_ms")), jint(cn, "max"));
    json_t *sg = json_object_get(r, "segments");
    if (sg) {
        long long sent = jint(r, "sent");
        printf("segments ");
        const char *k;
        json_t *v;
        int i = 0;
        json_object_foreach(sg, k, v)
        {
            printf("%s %s %lld (%.2f%%)", i++ ? "," : "", k,
                   (long long)json_integer_value(v),
                   sent ? 100.0 * (double)json_integer_value(v) / (double)sent : 0.0);
        }
        printf("\n");
    }
    json_t *vs = json_object_get(r, "versions");
    if (json_object_size(vs)) {
        printf("versions ");
        const char *k;
        json_t *v;
        int i = 0;
        json_object_foreach(vs, k, v)
            printf("%s %s %lld", i++ ? "," : "", k, (long long)json_integer_value(v));
        printf(" (X-Model-Version)\n");
    }
    json_t *f = json_object_get(r, "feedback");
    if (f) {
        printf("feedback  %lld queued, %lld posted in %lld batches (%lld failed, %lld "
               "items lost); server: accepted %lld, unknown %lld, expired %lld, "
               "duplicate %lld, invalid %lld\n",
               jint(f, "queued"), jint(f, "posted"), jint(f, "batches"),
               jint(f, "failed_batches"), jint(f, "lost"), jint(f, "accepted"),
               jint(f, "unknown"), jint(f, "expired"), jint(f, "duplicate"),
               jint(f, "invalid"));
        if (jint(f, "no_request_id"))
            printf("          %lld answers had no X-Request-Id: no feedback for them\n",
                   jint(f, "no_request_id"));
        if (json_string_value(json_object_get(f, "first_error")))
            printf("          first error: %s\n",
                   json_string_value(json_object_get(f, "first_error")));
    }
}

/* ------------------------------------------------------------ the command */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: canary loadgen --target URL --rps N --duration D [OPTIONS]\n"
        "Open-loop HTTP load at a fixed rate: request i goes out at i/N s, whatever\n"
        "the answers; latency is measured from that intended time.\n"
        "  --target URL            http://HOST:PORT[/PATH]\n"
        "  --rps N                 requests per second (> 0, at most 1000000)\n"
        "  --duration D            10s, 2m, 1h, or milliseconds\n"
        "  --connections N         keep-alive connections at most (%llu)\n"
        "  --timeout D             per request, from its send (%llus)\n"
        "  --method M              default POST with a body, GET without\n"
        "  --body TEXT             the same body for every request\n"
        "  --bodies FILE           JSON Lines, cycled (docs/CLI.md: a line may carry\n"
        "                          its segment and recorded feedback)\n"
        "  --content-type T        of the body (application/json)\n"
        "  --segments S=P,...      segment values in proportions (sum 1)\n"
        "  --segment-header NAME   the header that carries the segment\n"
        "  --seed N                for the segment and simulated draws (1)\n"
        "  --request-ids           send an X-Request-Id of our own\n"
        "  --feedback ADMIN_URL    post feedback to POST /v1/feedback there\n"
        "  --token-file PATH       the admin token (else $CANARY_TOKEN)\n"
        "  --simulate SPEC         simulated 0/1 feedback: clicked=0.1 or\n"
        "                          clicked:v1=0.1,v2=0.08 (by X-Model-Version);\n"
        "                          repeatable\n"
        "  --feedback-delay D      hold each feedback item back this long (0)\n"
        "  --json                  the report as JSON\n",
        DEFAULT_CONNECTIONS, DEFAULT_TIMEOUT_MS / 1000);
}

/* A duration option: "10s", "250ms", bare ms. */
static int duration_opt(cn_args_t *a, const char *name, uint64_t def, uint64_t min_ms,
                        uint64_t *out)
{
    const char *s = cn_args_str(a, name, NULL);
    if (!s) {
        *out = def;
        return 0;
    }
    if (cn_units_parse_duration_ms(s, out) != 0 || *out < min_ms ||
        *out > UINT64_C(1) << 40) {
        fprintf(
            stderr,
            "canary loadgen: --%s must be a duration such as 10s, 250ms or 2m%s, got "
            "'%.80s'\n",
            name, min_ms ? " (at least 1ms)" : "", s);
        return -1;
    }
    return 0;
}

/* Read every option into o. Returns 0 or an exit code (after one line on
 * stderr). */
static int parse_opts(int argc, char **argv, opts_t *o, const char **feedback_url,
                      const char **token_file)
{
    static const char *const flags[] = {"json", "request-ids", NULL};
    static const char *const repeatable[] = {"simulate", NULL};
    cn_args_t a;
    char err[600];
    if (cn_args_parse_repeat(&a, "loadgen", argc - 1, argv + 1, flags, repeatable))
        return CN_EXIT_USAGE;
    if (a.npos) {
        fprintf(stderr, "canary loadgen: unexpected argument '%.80s' (try --help)\n",
                a.pos[0]);
        return CN_EXIT_USAGE;
    }
    o->json = cn_args_flag(&a, "json");
    o->request_ids = cn_args_flag(&a, "request-ids");
    const char *target = cn_args_str(&a, "target", NULL);
    const char *rps = cn_args_str(&a, "rps", NULL);
    const char *dur = cn_args_str(&a, "duration", NULL);
    if (!target || !rps || !dur) {
        cn_args_finish(&a); /* an unknown option is the likelier mistake */
        fprintf(stderr, "canary loadgen: needs --target, --rps and --duration (try "
                        "--help)\n");
        return CN_EXIT_USAGE;
    }
    if (cn_lg_target_parse(target, &o->target, err, sizeof err)) {
        fprintf(stderr, "canary loadgen: %s\n", err);
        return CN_EXIT_USAGE;
    }
    unsigned long long u;
    if (cn_args_num(&a, "rps", 0, 0, 1, CN_LG_MAX_RPS, 0, &o->rps) ||
        duration_opt(&a, "duration", 0, 1, &o->duration_ms) ||
        duration_opt(&a, "timeout", DEFAULT_TIMEOUT_MS, 1, &o->timeout_ms) ||
        duration_opt(&a, "feedback-delay", 0, 0, &o->feedback_delay_ms) ||
        cn_args_uint(&a, "connections", DEFAULT_CONNECTIONS, 1, MAX_CONNECTIONS, &u))
        return CN_EXIT_USAGE;
    o->max_connections = u;
    if (cn_args_uint(&a, "seed", 1, 0, (1ull << 53) - 1, &u))
        return CN_EXIT_USAGE;
    o->seed = u;
    o->body = cn_args_str(&a, "body", NULL);
    const char *bodies = cn_args_str(&a, "bodies", NULL);
    o->content_type = cn_args_str(&a, "content-type", "application/json");
    o->method = cn_args_str(&a, "method", NULL);
    const char *segs = cn_args_str(&a, "segments", NULL);
    o->segment_header = cn_args_str(&a, "segment-header", NULL);
    *feedback_url = cn_args_str(&a, "feedback", NULL);
    *token_file = cn_args_str(&a, "token-file", NULL);
    for (size_t i = 0; i < a.nopts; i++) {
        if (strcmp(a.opts[i].name, "simulate") != 0)
            continue;
        a.opts[i].used = 1;
        if (o->nsims == MAX_SIMULATED) {
            fprintf(stderr, "canary loadgen: --simulate given more than %d times\n",
                    MAX_SIMULATED);
            return CN_EXIT_USAGE;
        }
        if (cn_lg_sim_parse(a.opts[i].value, &o->sims[o->nsims], err, sizeof err)) {
            fprintf(stderr, "canary loadgen: --simulate: %s\n", err);
            return CN_EXIT_USAGE;
        }
        for (size_t j = 0; j < o->nsims; j++)
            if (strcmp(o->sims[j].metric, o->sims[o->nsims].metric) == 0) {
                fprintf(stderr, "canary loadgen: --simulate: metric '%s' given twice\n",
                        o->sims[j].metric);
                return CN_EXIT_USAGE;
            }
        o->nsims++;
    }
    if (cn_args_finish(&a))
        return CN_EXIT_USAGE;
    if (o->body && bodies) {
        fprintf(stderr, "canary loadgen: --body and --bodies: give one of them\n");
        return CN_EXIT_USAGE;
    }
    if (o->method) {
        for (const char *c = o->method; *c; c++)
            if (*c < 'A' || *c > 'Z') {
                fprintf(stderr,
                        "canary loadgen: --method must be upper-case letters, "
                        "such as POST, got '%.40s'\n",
                        o->method);
                return CN_EXIT_USAGE;
            }
        if (!*o->method) {
            fprintf(stderr, "canary loadgen: --method is empty\n");
            return CN_EXIT_USAGE;
        }
    } else {
        o->method = o->body || bodies ? "POST" : "GET";
    }
    for (const char *c = o->content_type; *c; c++)
        if ((unsigned char)*c < ' ' || *c == 127) {
            fprintf(stderr,
                    "canary loadgen: --content-type holds a control character\n");
            return CN_EXIT_USAGE;
        }
    if (segs) {
        if (cn_lg_segments_parse(segs, &o->segments, err, sizeof err)) {
            fprintf(stderr, "canary loadgen: --segments: %s\n", err);
            return CN_EXIT_USAGE;
        }
        o->have_segments = true;
    }
    if (o->segment_header) {
        size_t n = strlen(o->segment_header);
        bool ok = n > 0 && n <= 128;
        for (size_t i = 0; i < n && ok; i++) {
            char c = o->segment_header[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '-' || c == '_';
        }
        if (!ok) {
            fprintf(stderr, "canary loadgen: --segment-header must be a header name "
                            "(letters, digits, '-', '_')\n");
            return CN_EXIT_USAGE;
        }
    }
    if (o->have_segments && !o->segment_header) {
        fprintf(stderr, "canary loadgen: --segments needs --segment-header NAME (the "
                        "header canary serve's measure.segment_header names)\n");
        return CN_EXIT_USAGE;
    }
    if ((o->nsims || o->feedback_delay_ms) && !*feedback_url) {
        fprintf(stderr, "canary loadgen: --simulate and --feedback-delay need "
                        "--feedback ADMIN_URL\n");
        return CN_EXIT_USAGE;
    }
    if (*token_file && !*feedback_url) {
        fprintf(stderr, "canary loadgen: --token-file is for --feedback ADMIN_URL\n");
        return CN_EXIT_USAGE;
    }
    if (bodies) {
        char *data;
        size_t len;
        if (cn_cli_read_input(bodies, BODIES_MAX_BYTES, &data, &len, err, sizeof err)) {
            fprintf(stderr, "canary loadgen: --bodies: %s\n", err);
            return CN_EXIT_NOINPUT;
        }
        int rc = cn_lg_bodies_parse(data, len, bodies, &o->bodies, err, sizeof err);
        free(data);
        if (rc) {
            fprintf(stderr, "canary loadgen: --bodies: %s\n", err);
            return CN_EXIT_DATAERR;
        }
        bool any_segment = false, any_feedback = false;
        for (size_t i = 0; i < o->bodies.count; i++) {
            any_segment = any_segment || o->bodies.lines[i].segment;
            any_feedback = any_feedback || o->bodies.lines[i].feedback;
        }
        if (any_segment && !o->segment_header) {
            fprintf(stderr,
                    "canary loadgen: --bodies: %s has lines with a segment: give "
                    "--segment-header NAME\n",
                    bodies);
            return CN_EXIT_USAGE;
        }
        (void)any_feedback;
    }
    return 0;
}

/* The segment names (--segments, then the bodies' own) and each line's
 * index among them. Returns 0, or -1 after one line on stderr. */
static int intern_segments(lg_t *lg)
{
    const opts_t *o = lg->o;
    for (size_t i = 0; i < o->segments.count; i++)
        lg->seg_names[lg->nseg++] = o->segments.names[i];
    bool any = false;
    for (size_t i = 0; i < o->bodies.count; i++)
        any = any || o->bodies.lines[i].segment;
    if (!any)
        return 0;
    lg->line_segment = cn_xmallocarray(o->bodies.count, sizeof *lg->line_segment);
    for (size_t i = 0; i < o->bodies.count; i++) {
        const char *s = o->bodies.lines[i].segment;
        lg->line_segment[i] = -1;
        if (!s)
            continue;
        size_t j = 0;
        while (j < lg->nseg && strcmp(lg->seg_names[j], s) != 0)
            j++;
        if (j == lg->nseg) {
            if (lg->nseg == sizeof lg->seg_names / sizeof lg->seg_names[0]) {
                fprintf(stderr,
                        "canary loadgen: --bodies: more than %zu distinct "
                        "segments\n",
                        sizeof lg->seg_names / sizeof lg->seg_names[0]);
                return -1;
            }
            lg->seg_names[lg->nseg++] = s;
        }
        lg->line_segment[i] = (int)j;
    }
    return 0;
}

int cn_cli_loadgen(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CN_EXIT_OK;
        }
    opts_t *o = cn_xcalloc(1, sizeof *o);
    lg_t *lg = cn_xcalloc(1, sizeof *lg);
    const char *feedback_url = NULL, *token_file = NULL;
    int code = parse_opts(argc, argv, o, &feedback_url, &token_file);
    char err[600];
    if (code)
        goto out;
    lg->o = o;
    if (intern_segments(lg)) {
        code = CN_EXIT_USAGE;
        goto out;
    }
    if (cn_addr_resolve(o->target.hostport, 0, &lg->addr, NULL, err, sizeof err)) {
        fprintf(stderr, "canary loadgen: --target: %s\n", err);
        code = CN_EXIT_USAGE;
        goto out;
    }
    snprintf(lg->host_header, sizeof lg->host_header, "%s", o->target.hostport);
    lg->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (lg->tick_fd < 0) {
        fprintf(stderr, "canary loadgen: timerfd_create: %s\n", strerror(errno));
        code = CN_EXIT_SOFTWARE;
        goto out;
    }
    if (feedback_url) {
        cn_client_t *c = cn_client_for(feedback_url, token_file, "loadgen", &code);
        if (!c) {
            close(lg->tick_fd);
            goto out;
        }
        lg->fb = cn_lg_fb_start(c);
    }
    lg->total = cn_lg_scheduled(o->rps, o->duration_ms);
    lg->segment_rng = cn_rand_mix(o->seed);
    lg->latency = cn_xmalloc(sizeof *lg->latency);
    lg->service = cn_xmalloc(sizeof *lg->service);
    lg->lag = cn_xmalloc(sizeof *lg->lag);
    cn_metrics_hist_init(lg->latency);
    cn_metrics_hist_init(lg->service);
    cn_metrics_hist_init(lg->lag);

    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&lg->loop);
    uv_poll_init(&lg->loop, &lg->tick, lg->tick_fd);
    uv_signal_init(&lg->loop, &lg->sigint);
    uv_signal_init(&lg->loop, &lg->sigterm);
    lg->tick.data = lg->sigint.data = lg->sigterm.data = lg;
    uv_signal_start(&lg->sigint, on_signal, SIGINT);
    uv_signal_start(&lg->sigterm, on_signal, SIGTERM);
    lg->t0_ns = uv_hrtime();
    uv_poll_start(&lg->tick, UV_READABLE, on_tick);
    arm(lg);
    uv_run(&lg->loop, UV_RUN_DEFAULT);
    uv_loop_close(&lg->loop);
    close(lg->tick_fd);

    cn_lg_fb_counts_t fb;
    if (lg->fb)
        cn_lg_fb_finish(lg->fb, &fb);
    json_t *r = report_json(lg, lg->fb ? &fb : NULL);
    if (o->json)
        cn_json_print(stdout, r);
    else
        print_report(r);
    json_decref(r);
    fflush(stdout);
    code = CN_EXIT_OK;
out:
    free(lg->latency);
    free(lg->service);
    free(lg->lag);
    free(lg->line_segment);
    cn_lg_bodies_dispose(&o->bodies);
    free(lg);
    free(o);
    return code;
}
