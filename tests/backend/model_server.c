/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * model-server: a real HTTP/1.1 model server for the integration tests and
 * the router benchmark. One process, one thread, one libuv event loop; the
 * requests are framed by http-parser (keep-alive, pipelining answered in
 * order, Content-Length and chunked bodies).
 *
 * It answers every request that is not one of its own paths as a model
 * request, in the response format of a common model server (KServe v2,
 * TensorFlow Serving, or plain text), and can be told to misbehave the ways
 * a proxy must survive: slow (--delay-ms), failing (--fail-rate, --status),
 * resetting (--drop), silent (--stall) or crashing (--crash: healthy until
 * its first model request, then the process exits, so every later
 * connection is refused).
 *
 * Its own paths:
 *   GET  /healthz             200 "ok" (503 with --unhealthy)
 *   GET  /stats               {"requests":N,"last_request_unix_ns":T,
 *                              "first_request_unix_ns":T0}
 *   GET  /stats?after_ns=T    the same, plus "requests_after": how many model
 *                             requests arrived after T, and
 *                             "requests_after_exact": false if some of them
 *                             may be older than the last 65536 remembered
 *   GET  /metrics             its own Prometheus exposition, as a model
 *                             server's client library would write it:
 *                             model_requests_total, model_request_errors_total
 *                             (status >= 500) and the histogram
 *                             model_request_duration_milliseconds of each answered
 *                             model request's delay (the time it held the
 *                             answer), all labelled model="NAME"
 *   POST /admin/reset-stats   zeroes the counters above
 *   POST /admin/health        body {"healthy":false} or {"healthy":true}:
 *                             from now on /healthz answers 503 or 200
 *                             (model requests are answered as before); the
 *                             integration tests use it to make a canary
 *                             unhealthy and bring it back without a restart
 *
 * The arrival times in /stats are CLOCK_REALTIME nanoseconds taken when the
 * first byte of the request is parsed, so a benchmark on the same machine
 * can compare them with `date +%s%N` (bench/router.sh measures how soon
 * after a weight change the canary stops receiving requests).
 *
 * Fast enough not to be the bottleneck of a proxy benchmark: no allocation
 * per request on the common path (the read buffer is shared by the whole
 * loop, responses are rendered into a per-connection output buffer that is
 * written once per read), TCP_NODELAY on every connection.
 */
#include "util/fmt.h"

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
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <uv.h>

#define READ_BUFFER_BYTES ((size_t)64 * 1024)
#define MAX_PATH_BYTES 256u
#define MAX_REQUEST_ID_BYTES 1024u
/* Only the "id" of a KServe body is read, so only this much is kept. */
#define MAX_KEPT_BODY_BYTES ((size_t)64 * 1024)
/* Backpressure: a client that pipelines without reading its responses
 * stops being read once this much output or this many answers wait. */
#define MAX_QUEUED_OUTPUT_BYTES ((size_t)4 * 1024 * 1024)
#define MAX_QUEUED_RESPONSES 4096u
#define NEVER_MS UINT64_MAX
/* Arrival times remembered for /stats?after_ns=T. */
#define ARRIVAL_RING_SIZE 65536u

typedef enum format_e {
    FORMAT_KSERVE_V2 = 0,
    FORMAT_TF_SERVING = 1,
    FORMAT_TEXT = 2,
} format_t;

typedef struct options_s {
    const char *listen;
    const char *name;
    char prediction[40]; /* shortest text that reads back as the double */
    const char *echo;    /* the prediction is the request body's number at
                            this top-level key (an "echo model" whose
                            scores the test chooses); NULL: prediction */
    format_t format;
    uint64_t delay_ms;
    double fail_rate;
    unsigned status; /* 0: choose normally */
    bool drop;
    bool stall;
    bool unhealthy;
    bool crash; /* --crash: exit on the first model request */
    uint64_t seed;
    uint64_t pad_bytes; /* --pad-bytes: a "pad" member this long (big bodies) */
} options_t;

typedef struct buf_s {
    char *data;
    size_t len, cap;
} buf_t;

/* A response that may not be written yet: it waits for its delay, or for
 * the responses to earlier pipelined requests. */
typedef struct pending_s {
    struct pending_s *next;
    uint64_t ready_ms; /* loop time it may be written; NEVER_MS: --stall */
    bool close_after;  /* close the connection once it is written */
    size_t len;
    char data[];
} pending_t;

/* Which header value the parser is in the middle of. */
typedef enum header_e {
    HEADER_OTHER = 0,
    HEADER_REQUEST_ID = 1,
    HEADER_EXPECT = 2,
    HEADER_DELAY = 3, /* X-Delay-Ms: this request's extra delay */
} header_t;

typedef struct conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer; /* fires when the first pending response is due */
    int open_handles; /* the conn is freed when both handles are closed */
    http_parser parser;

    /* the request being parsed */
    uint64_t arrival_ns;
    char path[MAX_PATH_BYTES + 1];
    size_t path_len;
    bool path_too_long;
    char field[16];
    size_t field_len;
    bool field_too_long;
    bool in_value; /* the last callback was a header value */
    header_t header;
    char request_id[MAX_REQUEST_ID_BYTES + 1];
    size_t request_id_len;
    bool has_request_id;
    uint64_t extra_delay_ms; /* X-Delay-Ms of the current request */
    bool request_id_too_long;
    char expect[32];
    size_t expect_len;
    buf_t body;

    /* the responses */
    pending_t *head, *tail;
    unsigned npending;
    buf_t out;  /* rendered, in order, not yet handed to the kernel */
    buf_t wbuf; /* handed to uv_write, in flight */
    uv_write_t wreq;
    bool writing;
    bool done_reading;    /* a response will close the connection: read no
                             more requests */
    bool close_when_done; /* that response (or EOF) reached the output: close
                             once the output is written */
    bool reset_now;       /* --drop: reset the connection after parsing */
    bool reading;
    bool closing;
} conn_t;

typedef struct stats_s {
    uint64_t requests;
    uint64_t first_ns;
    uint64_t last_ns;
} stats_t;

static options_t opt;
static stats_t stats;

/* GET /metrics: the model's own counters and latency histogram (ms). */
static const double duration_le_ms[] = {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000};
#define N_DURATION_LE (sizeof duration_le_ms / sizeof duration_le_ms[0])
static struct {
    uint64_t requests, errors;
    uint64_t le[N_DURATION_LE + 1]; /* per bucket (not cumulative); last: +Inf */
    double sum_ms;
} own;

static void own_record(unsigned status, uint64_t delay_ms)
{
    own.requests++;
    own.errors += status >= 500;
    size_t b = 0;
    while (b < N_DURATION_LE && (double)delay_ms > duration_le_ms[b])
        b++;
    own.le[b]++;
    own.sum_ms += (double)delay_ms;
}
static uint64_t arrival_ring[ARRIVAL_RING_SIZE]; /* [(n - 1) % size]: nth */
static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigterm_handle, sigint_handle;
static http_parser_settings settings;
static char read_buffer[READ_BUFFER_BYTES];
static bool read_buffer_busy;
static buf_t scratch;      /* a response is rendered here before it is queued */
static buf_t body_scratch; /* and its body here before that */
static uint64_t rng_state;
static unsigned long accept_errors;

static void fatal(const char *fmt, ...)
{
    va_list ap;
    fputs("model-server: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static void buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 512;
    while (cap < b->len + extra)
        cap *= 2;
    char *data = realloc(b->data, cap);
    if (!data)
        fatal("out of memory (%zu bytes)", cap);
    b->data = data;
    b->cap = cap;
}

static void buf_append(buf_t *b, const char *data, size_t len)
{
    buf_reserve(b, len);
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void buf_puts(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

static void buf_printf(buf_t *b, const char *fmt, ...)
{
    /* One pass in the common case: the output fits the spare room. */
    buf_reserve(b, 256);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatal("vsnprintf failed");
    if ((size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* A JSON string literal, quotes included. Bytes >= 0x80 pass through (the
 * request id is echoed as it came). */
static void buf_json_string(buf_t *b, const char *s, size_t len)
{
    buf_append(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            buf_append(b, esc, 2);
        } else if (ch < 0x20 || ch == 0x7f) {
            buf_printf(b, "\\u%04x", ch);
        } else {
            buf_append(b, (const char *)&ch, 1);
        }
    }
    buf_append(b, "\"", 1);
}

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: enough for deciding which requests fail. */
static double random_unit(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static const char *reason(unsigned status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}

/* ---- connections ------------------------------------------------------ */

static void on_handle_closed(uv_handle_t *handle)
{
    conn_t *c = handle->data;
    if (--c->open_handles > 0)
        return;
    for (pending_t *p = c->head, *next; p; p = next) {
        next = p->next;
        free(p);
    }
    buf_free(&c->body);
    buf_free(&c->out);
    buf_free(&c->wbuf);
    free(c);
}

/* Close both handles; the conn is freed when the second one has closed.
 * reset: send RST instead of FIN (--drop). */
static void conn_close(conn_t *c, bool reset)
{
    if (c->closing)
        return;
    c->closing = true;
    if (reset && uv_tcp_close_reset(&c->tcp, on_handle_closed) == 0) {
        /* closed by uv_tcp_close_reset */
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    }
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    (void)suggested;
    /* One buffer for the whole loop: every read is parsed to the end in its
     * callback, so nothing holds on to it. */
    if (read_buffer_busy) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    read_buffer_busy = true;
    *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void on_write(uv_write_t *req, int status);

static void update_reading(conn_t *c)
{
    if (c->closing)
        return;
    bool want = !c->done_reading && !c->reset_now &&
                c->out.len + c->wbuf.len < MAX_QUEUED_OUTPUT_BYTES &&
                c->npending < MAX_QUEUED_RESPONSES;
    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = true;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* Hand what is rendered to the kernel, one write at a time; close once the
 * last response is out if the connection is to be closed. */
static void flush(conn_t *c)
{
    if (c->closing || c->writing)
        return;
    if (c->out.len == 0) {
        if (c->close_when_done && !c->head)
            conn_close(c, false);
        return;
    }
    buf_t t = c->wbuf;
    c->wbuf = c->out;
    c->out = t;
    c->out.len = 0;
    uv_buf_t b = uv_buf_init(c->wbuf.data, (unsigned)c->wbuf.len);
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) < 0) {
        conn_close(c, false);
        return;
    }
    c->writing = true;
}

static void on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->writing = false;
    c->wbuf.len = 0;
    if (status < 0) {
        conn_close(c, false);
        return;
    }
    flush(c);
    update_reading(c);
}

static void drain(conn_t *c);

static void on_timer(uv_timer_t *timer)
{
    drain(timer->data);
}

/* Move every due response at the head of the queue to the output, arm the
 * timer for the next one, and write. */
static void drain(conn_t *c)
{
    if (c->closing)
        return;
    uint64_t now = uv_now(loop);
    while (c->head && c->head->ready_ms <= now) {
        pending_t *p = c->head;
        buf_append(&c->out, p->data, p->len);
        if (p->close_after)
            c->close_when_done = true;
        c->head = p->next;
        if (!c->head)
            c->tail = NULL;
        c->npending--;
        free(p);
    }
    if (c->head && c->head->ready_ms != NEVER_MS)
        uv_timer_start(&c->timer, on_timer, c->head->ready_ms - now, 0);
    flush(c);
    update_reading(c);
}

/* Queue the response in scratch, due at ready_ms (0: now). */
static void emit(conn_t *c, uint64_t ready_ms, bool close_after)
{
    if (close_after)
        c->done_reading = true;
    if (!c->head && ready_ms == 0) {
        buf_append(&c->out, scratch.data, scratch.len);
        if (close_after)
            c->close_when_done = true;
        return;
    }
    pending_t *p = malloc(sizeof *p + scratch.len);
    if (!p)
        fatal("out of memory");
    p->next = NULL;
    p->ready_ms = ready_ms;
    p->close_after = close_after;
    p->len = scratch.len;
    memcpy(p->data, scratch.data, scratch.len);
    if (c->tail)
        c->tail->next = p;
    else
        c->head = p;
    c->tail = p;
    c->npending++;
}

/* Render a whole response into scratch. */
static void render(const conn_t *c, unsigned status, const char *content_type,
                   const char *body, size_t body_len, bool head_only, bool close)
{
    scratch.len = 0;
    buf_printf(&scratch,
               "HTTP/1.1 %u %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "X-Served-By: %s\r\n",
               status, reason(status), content_type, body_len, opt.name);
    if (c->has_request_id && !c->request_id_too_long) {
        buf_puts(&scratch, "X-Seen-Request-Id: ");
        buf_append(&scratch, c->request_id, c->request_id_len);
        buf_puts(&scratch, "\r\n");
    }
    if (close)
        buf_puts(&scratch, "Connection: close\r\n");
    buf_puts(&scratch, "\r\n");
    if (!head_only)
        buf_append(&scratch, body, body_len);
}

/* The "id" member of a KServe v2 request body, if it is a string. */
static bool body_request_id(const conn_t *c, buf_t *out)
{
    if (c->body.len == 0 || c->body.len >= MAX_KEPT_BODY_BYTES)
        return false;
    json_t *root = json_loadb(c->body.data, c->body.len, 0, NULL);
    if (!root)
        return false;
    json_t *id = json_object_get(root, "id");
    bool found = json_is_string(id);
    if (found)
        buf_json_string(out, json_string_value(id), json_string_length(id));
    json_decref(root);
    return found;
}

/* --echo: the request body's number at opt.echo, formatted into out;
 * false if there is none (the fixed prediction is used). */
static bool echo_prediction(const conn_t *c, char *out, size_t len)
{
    if (!opt.echo || c->body.len == 0 || c->body.len >= MAX_KEPT_BODY_BYTES)
        return false;
    json_t *root = json_loadb(c->body.data, c->body.len, 0, NULL);
    json_t *v = root ? json_object_get(root, opt.echo) : NULL;
    bool ok = json_is_number(v);
    if (ok)
        cn_fmt_double(json_number_value(v), out, len);
    json_decref(root);
    return ok;
}

/* The body of a model response. */
static void model_body(const conn_t *c, unsigned status, buf_t *body,
                       const char **content_type)
{
    body->len = 0;
    if (opt.format == FORMAT_TEXT) {
        *content_type = "text/plain";
        buf_puts(body, status < 300 ? "ok\n" : "error\n");
        return;
    }
    *content_type = "application/json";
    if (status >= 300) {
        buf_printf(body, "{\"error\":\"model-server answered %u\"}", status);
        return;
    }
    if (opt.format == FORMAT_TF_SERVING) {
        buf_printf(body, "{\"predictions\":[%s]}", opt.prediction);
        return;
    }
    buf_puts(body, "{\"model_name\":");
    buf_json_string(body, opt.name, strlen(opt.name));
    if (c->has_request_id && !c->request_id_too_long) {
        buf_puts(body, ",\"id\":");
        buf_json_string(body, c->request_id, c->request_id_len);
    } else {
        size_t mark = body->len;
        buf_puts(body, ",\"id\":");
        if (!body_request_id(c, body))
            body->len = mark; /* no id anywhere: the member is optional */
    }
    char echoed[40];
    buf_printf(body,
               ",\"outputs\":[{\"name\":\"score\",\"datatype\":\"FP64\","
               "\"shape\":[1],\"data\":[%s]}]",
               echo_prediction(c, echoed, sizeof echoed) ? echoed : opt.prediction);
    if (opt.pad_bytes) {
        buf_puts(body, ",\"pad\":\"");
        buf_reserve(body, opt.pad_bytes + 2);
        memset(body->data + body->len, 'x', opt.pad_bytes);
        body->len += opt.pad_bytes;
        buf_puts(body, "\"");
    }
    buf_puts(body, "}");
}

static void reset_request(conn_t *c)
{
    c->path_len = 0;
    c->path_too_long = false;
    c->field_len = 0;
    c->field_too_long = false;
    c->in_value = false;
    c->header = HEADER_OTHER;
    c->request_id_len = 0;
    c->has_request_id = false;
    c->extra_delay_ms = 0;
    c->request_id_too_long = false;
    c->expect_len = 0;
    c->body.len = 0;
}

/* ---- http-parser callbacks --------------------------------------------- */

static int on_message_begin(http_parser *p)
{
    conn_t *c = p->data;
    reset_request(c);
    c->arrival_ns = realtime_ns();
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (c->path_len + len > MAX_PATH_BYTES) {
        c->path_too_long = true; /* never one of our own paths */
        return 0;
    }
    memcpy(c->path + c->path_len, at, len);
    c->path_len += len;
    c->path[c->path_len] = '\0';
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (c->in_value) {
        c->in_value = false;
        c->field_len = 0;
        c->field_too_long = false;
    }
    if (c->field_len + len >= sizeof c->field) {
        c->field_too_long = true;
    } else {
        memcpy(c->field + c->field_len, at, len);
        c->field_len += len;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    if (!c->in_value) {
        c->in_value = true;
        c->header = HEADER_OTHER;
        if (!c->field_too_long) {
            c->field[c->field_len] = '\0';
            if (strcasecmp(c->field, "x-request-id") == 0 && !c->has_request_id) {
                c->header = HEADER_REQUEST_ID;
                c->has_request_id = true;
            } else if (strcasecmp(c->field, "expect") == 0) {
                c->header = HEADER_EXPECT;
                c->expect_len = 0;
            } else if (strcasecmp(c->field, "x-delay-ms") == 0) {
                c->header = HEADER_DELAY;
            }
        }
    }
    if (c->header == HEADER_REQUEST_ID) {
        if (c->request_id_len + len > MAX_REQUEST_ID_BYTES) {
            c->request_id_too_long = true;
        } else {
            memcpy(c->request_id + c->request_id_len, at, len);
            c->request_id_len += len;
        }
    } else if (c->header == HEADER_DELAY) {
        /* digits only, capped at a minute; anything else is ignored */
        for (size_t i = 0; i < len && at[i] >= '0' && at[i] <= '9'; i++)
            if (c->extra_delay_ms < 60000)
                c->extra_delay_ms = c->extra_delay_ms * 10 + (uint64_t)(at[i] - '0');
    } else if (c->header == HEADER_EXPECT) {
        if (c->expect_len + len < sizeof c->expect) {
            memcpy(c->expect + c->expect_len, at, len);
            c->expect_len += len;
        }
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    conn_t *c = p->data;
    c->expect[c->expect_len] = '\0';
    /* Answer "Expect: 100-continue" only when nothing is queued ahead of
     * it; otherwise the client sends the body after its own timeout. */
    if (p->http_major == 1 && p->http_minor == 1 && c->expect_len > 0 &&
        strcasecmp(c->expect, "100-continue") == 0 && !c->head)
        buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    conn_t *c = p->data;
    /* Only small bodies are kept, for their "id"; the rest is counted out. */
    if (c->body.len + len < MAX_KEPT_BODY_BYTES)
        buf_append(&c->body, at, len);
    else
        c->body.len = MAX_KEPT_BODY_BYTES;
    return 0;
}

static bool path_is(const conn_t *c, const char *path)
{
    if (c->path_too_long)
        return false;
    size_t n = strlen(path);
    return c->path_len >= n && memcmp(c->path, path, n) == 0 &&
           (c->path_len == n || c->path[n] == '?');
}

/* How many remembered model requests arrived after after_ns; *exact is
 * false when the ring has wrapped and every remembered one is later. */
static uint64_t requests_after(uint64_t after_ns, bool *exact)
{
    uint64_t kept =
        stats.requests < ARRIVAL_RING_SIZE ? stats.requests : ARRIVAL_RING_SIZE;
    uint64_t count = 0;
    for (uint64_t i = 0; i < kept; i++)
        count += arrival_ring[i] > after_ns;
    *exact = stats.requests <= ARRIVAL_RING_SIZE || count < kept;
    return count;
}

static void answer_stats(conn_t *c, bool head_only, bool close)
{
    buf_t *body = &body_scratch;
    body->len = 0;
    buf_printf(body,
               "{\"requests\":%" PRIu64 ",\"last_request_unix_ns\":%" PRIu64
               ",\"first_request_unix_ns\":%" PRIu64,
               stats.requests, stats.last_ns, stats.first_ns);
    const char *query = memchr(c->path, '?', c->path_len);
    const char *arg = query ? strstr(query, "after_ns=") : NULL;
    if (arg) {
        char *end;
        errno = 0;
        unsigned long long after_ns = strtoull(arg + 9, &end, 10);
        if (errno || end == arg + 9 || (*end && *end != '&')) {
            const char msg[] = "after_ns: expected unix nanoseconds\n";
            render(c, 400, "text/plain", msg, sizeof msg - 1, head_only, close);
            return;
        }
        bool exact;
        uint64_t n = requests_after(after_ns, &exact);
        buf_printf(body, ",\"requests_after\":%" PRIu64 ",\"requests_after_exact\":%s",
                   n, exact ? "true" : "false");
    }
    buf_puts(body, "}\n");
    render(c, 200, "application/json", body->data, body->len, head_only, close);
}

/* GET /metrics: the Prometheus text of the model's own measurements. */
static void answer_metrics(conn_t *c, bool head_only, bool close)
{
    buf_t *body = &body_scratch;
    body->len = 0;
    buf_printf(body,
               "# HELP model_requests_total Model requests answered.\n"
               "# TYPE model_requests_total counter\n"
               "model_requests_total{model=\"%s\"} %" PRIu64 "\n"
               "# HELP model_request_errors_total Model requests answered >= 500.\n"
               "# TYPE model_request_errors_total counter\n"
               "model_request_errors_total{model=\"%s\"} %" PRIu64 "\n"
               "# HELP model_request_duration_milliseconds How long the model held an "
               "answer.\n"
               "# TYPE model_request_duration_milliseconds histogram\n",
               opt.name, own.requests, opt.name, own.errors);
    uint64_t cum = 0;
    for (size_t b = 0; b <= N_DURATION_LE; b++) {
        cum += own.le[b];
        char le[32];
        if (b < N_DURATION_LE)
            snprintf(le, sizeof le, "%g", duration_le_ms[b]);
        else
            snprintf(le, sizeof le, "+Inf");
        buf_printf(body,
                   "model_request_duration_milliseconds_bucket{model=\"%s\",le=\"%s\"} "
                   "%" PRIu64 "\n",
                   opt.name, le, cum);
    }
    buf_printf(body,
               "model_request_duration_milliseconds_sum{model=\"%s\"} %.17g\n"
               "model_request_duration_milliseconds_count{model=\"%s\"} %" PRIu64 "\n",
               opt.name, own.sum_ms, opt.name, own.requests);
    render(c, 200, "text/plain; version=0.0.4", body->data, body->len, head_only,
           close);
}

/* POST /admin/health: {"healthy": BOOL} switches what /healthz answers.
 * Anything else is a 400 and changes nothing. */
static void answer_set_health(conn_t *c, bool close)
{
    json_t *root = NULL;
    if (c->body.len > 0 && c->body.len < MAX_KEPT_BODY_BYTES)
        root = json_loadb(c->body.data, c->body.len, 0, NULL);
    json_t *healthy = root ? json_object_get(root, "healthy") : NULL;
    if (!json_is_boolean(healthy)) {
        const char msg[] = "expected {\"healthy\": true|false}\n";
        render(c, 400, "text/plain", msg, sizeof msg - 1, false, close);
    } else {
        opt.unhealthy = !json_is_true(healthy);
        const char *body =
            opt.unhealthy ? "{\"healthy\":false}\n" : "{\"healthy\":true}\n";
        render(c, 200, "application/json", body, strlen(body), false, close);
    }
    json_decref(root);
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    bool close = !http_should_keep_alive(p);
    bool head_only = p->method == HTTP_HEAD;
    bool get = p->method == HTTP_GET || head_only;

    if (p->upgrade)
        return 0; /* refused with 400 once the parser returns */

    if (c->request_id_too_long) {
        const char msg[] = "X-Request-Id is longer than 1024 bytes\n";
        render(c, 431, "text/plain", msg, sizeof msg - 1, head_only, true);
        emit(c, 0, true);
        http_parser_pause(p, 1);
        return 0;
    }

    if (path_is(c, "/healthz")) {
        unsigned status = opt.unhealthy ? 503 : 200;
        const char *body = opt.unhealthy ? "unhealthy\n" : "ok\n";
        if (!get)
            render(c, 405, "text/plain", "use GET\n", 8, head_only, close);
        else
            render(c, status, "text/plain", body, strlen(body), head_only, close);
        emit(c, 0, close);
    } else if (path_is(c, "/stats")) {
        if (!get)
            render(c, 405, "text/plain", "use GET\n", 8, head_only, close);
        else
            answer_stats(c, head_only, close);
        emit(c, 0, close);
    } else if (path_is(c, "/metrics")) {
        if (!get)
            render(c, 405, "text/plain", "use GET\n", 8, head_only, close);
        else
            answer_metrics(c, head_only, close);
        emit(c, 0, close);
    } else if (path_is(c, "/admin/health")) {
        if (p->method != HTTP_POST)
            render(c, 405, "text/plain", "use POST\n", 9, head_only, close);
        else
            answer_set_health(c, close);
        emit(c, 0, close);
    } else if (path_is(c, "/admin/reset-stats")) {
        if (p->method != HTTP_POST) {
            render(c, 405, "text/plain", "use POST\n", 9, head_only, close);
        } else {
            memset(&stats, 0, sizeof stats);
            render(c, 200, "application/json", "{\"ok\":true}\n", 12, false, close);
        }
        emit(c, 0, close);
    } else {
        /* A model request. */
        stats.requests++;
        arrival_ring[(stats.requests - 1) % ARRIVAL_RING_SIZE] = c->arrival_ns;
        if (stats.first_ns == 0)
            stats.first_ns = c->arrival_ns;
        if (c->arrival_ns > stats.last_ns)
            stats.last_ns = c->arrival_ns;
        if (opt.crash) {
            /* A model that passes its health checks and dies on real input
             * (a bad artifact, an out-of-memory kill): say when, then exit
             * without answering; the kernel closes every socket. */
            printf("crashed on a model request at %" PRIu64 "\n", c->arrival_ns);
            fflush(stdout);
            _exit(3);
        }
        if (opt.drop) {
            c->reset_now = true;
            http_parser_pause(p, 1);
            return 0;
        }
        if (opt.stall) {
            /* A response that never comes; what follows waits behind it. */
            scratch.len = 0;
            emit(c, NEVER_MS, close);
        } else {
            unsigned status = 200;
            if (opt.status)
                status = opt.status;
            else if (opt.fail_rate > 0 && random_unit() < opt.fail_rate)
                status = 500;
            const char *content_type;
            model_body(c, status, &body_scratch, &content_type);
            render(c, status, content_type, body_scratch.data, body_scratch.len,
                   head_only, close);
            uint64_t delay = opt.delay_ms + c->extra_delay_ms;
            own_record(status, delay);
            emit(c, delay ? uv_now(loop) + delay : 0, close);
        }
    }
    if (close)
        http_parser_pause(p, 1); /* nothing after it is read */
    return 0;
}

/* ---- reading --------------------------------------------------------- */

static void bad_request(conn_t *c, const char *what)
{
    char body[200];
    int n = snprintf(body, sizeof body, "bad request: %s\n", what);
    reset_request(c);
    render(c, 400, "text/plain", body, (size_t)n, false, true);
    emit(c, 0, true);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = stream->data;
    if (buf->base == read_buffer)
        read_buffer_busy = false;
    if (nread == 0)
        return;
    if (nread < 0) {
        uv_read_stop(stream);
        c->reading = false;
        if (nread == UV_EOF && !c->reset_now) {
            /* Half-closed: answer what was asked, then close. */
            c->done_reading = true;
            c->close_when_done = true;
            drain(c);
        } else {
            conn_close(c, false);
        }
        return;
    }
    if (c->done_reading || c->closing)
        return;
    size_t used = http_parser_execute(&c->parser, &settings, buf->base, (size_t)nread);
    enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
    if (c->reset_now) {
        conn_close(c, true);
        return;
    }
    if (err != HPE_OK && err != HPE_PAUSED)
        bad_request(c, http_errno_description(err));
    else if (err == HPE_OK && c->parser.upgrade)
        bad_request(c, "upgrade and CONNECT are not supported");
    (void)used;
    drain(c);
}

static void on_connection(uv_stream_t *listener, int status)
{
    if (status < 0) {
        /* EMFILE and friends: libuv has already shed the pending connection
         * (it keeps a spare descriptor for that); keep accepting later. */
        if (accept_errors++ % 1000 == 0)
            fprintf(stderr, "model-server: accept: %s (%lu so far)\n",
                    uv_strerror(status), accept_errors);
        return;
    }
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        fatal("out of memory");
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c->wreq.data = c;
    c->open_handles = 2;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c, false);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    update_reading(c);
}

/* ---- startup and shutdown -------------------------------------------- */

static void close_any(uv_handle_t *handle, void *arg)
{
    (void)arg;
    if (uv_is_closing(handle))
        return;
    if (handle->type == UV_TCP && handle != (uv_handle_t *)&server) {
        conn_close(handle->data, false);
    } else if (handle->type == UV_TIMER) {
        /* closed with its connection */
    } else {
        uv_close(handle, NULL);
    }
}

static void on_signal(uv_signal_t *handle, int signum)
{
    (void)handle;
    (void)signum;
    uv_walk(loop, close_any, NULL);
}

static void usage(FILE *out)
{
    fputs(
        "usage: model-server [options]\n"
        "  --listen HOST:PORT    address to listen on (port 0: any free port);\n"
        "                        prints \"listening on HOST:PORT\" (default "
        "127.0.0.1:0)\n"
        "  --name NAME           model name, in X-Served-By and the body "
        "(default model)\n"
        "  --prediction X        the score in every response (default 0.5)\n"
        "  --echo KEY            kserve-v2: the score is the request body's number\n"
        "                        at top-level KEY (else --prediction)\n"
        "  --format F            kserve-v2 (default), tf-serving or text\n"
        "  --delay-ms N          answer each model request N ms after it "
        "arrives\n"
        "                        (plus X-Delay-Ms of the request, for\n"
        "                        latencies that differ by segment)\n"
        "  --fail-rate P         answer 500 with probability P\n"
        "  --status N            answer every model request with status N\n"
        "  --drop                reset the connection on a model request, "
        "unanswered\n"
        "  --stall               read model requests, never answer them\n"
        "  --crash               exit (status 3) on the first model request,\n"
        "                        unanswered, after printing its arrival:\n"
        "                        \"crashed on a model request at NS\"\n"
        "  --unhealthy           GET /healthz answers 503 (until POST "
        "/admin/health\n"
        "                        {\"healthy\":true})\n"
        "  --pad-bytes N         add a \"pad\" member of N bytes to every "
        "model answer\n"
        "  --seed N              seed of --fail-rate's generator (default: "
        "time)\n"
        "Own paths: GET /healthz, GET /stats, GET /metrics, POST /admin/reset-stats,\n"
        "POST /admin/health {\"healthy\":BOOL}.\n",
        out);
}

static uint64_t parse_uint(const char *flag, const char *text, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v > max)
        fatal("%s: expected a whole number from 0 to %" PRIu64 ", got '%s'", flag, max,
              text);
    return v;
}

static double parse_double(const char *flag, const char *text)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        fatal("%s: expected a finite number, got '%s'", flag, text);
    return v;
}

static void parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"name", required_argument, NULL, 'n'},
        {"prediction", required_argument, NULL, 'p'},
        {"echo", required_argument, NULL, 'E'},
        {"format", required_argument, NULL, 'f'},
        {"delay-ms", required_argument, NULL, 'd'},
        {"fail-rate", required_argument, NULL, 'r'},
        {"status", required_argument, NULL, 's'},
        {"drop", no_argument, NULL, 'D'},
        {"stall", no_argument, NULL, 'S'},
        {"crash", no_argument, NULL, 'C'},
        {"unhealthy", no_argument, NULL, 'U'},
        {"seed", required_argument, NULL, 'e'},
        {"pad-bytes", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double prediction = 0.5;
    bool seeded = false;
    opt.listen = "127.0.0.1:0";
    opt.name = "model";
    opt.format = FORMAT_KSERVE_V2;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'l':
            opt.listen = optarg;
            break;
        case 'n':
            opt.name = optarg;
            break;
        case 'p':
            prediction = parse_double("--prediction", optarg);
            break;
        case 'E':
            opt.echo = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "kserve-v2") == 0)
                opt.format = FORMAT_KSERVE_V2;
            else if (strcmp(optarg, "tf-serving") == 0)
                opt.format = FORMAT_TF_SERVING;
            else if (strcmp(optarg, "text") == 0)
                opt.format = FORMAT_TEXT;
            else
                fatal("--format: expected kserve-v2, tf-serving or text, got '%s'",
                      optarg);
            break;
        case 'd':
            opt.delay_ms = parse_uint("--delay-ms", optarg, 86400000);
            break;
        case 'r':
            opt.fail_rate = parse_double("--fail-rate", optarg);
            if (opt.fail_rate < 0 || opt.fail_rate > 1)
                fatal("--fail-rate: expected a probability from 0 to 1, got '%s'",
                      optarg);
            break;
        case 's':
            opt.status = (unsigned)parse_uint("--status", optarg, 599);
            if (opt.status < 200)
                fatal("--status: expected a final status from 200 to 599, got '%s'",
                      optarg);
            break;
        case 'D':
            opt.drop = true;
            break;
        case 'S':
            opt.stall = true;
            break;
        case 'C':
            opt.crash = true;
            break;
        case 'U':
            opt.unhealthy = true;
            break;
        case 'e':
            opt.seed = parse_uint("--seed", optarg, UINT64_MAX);
            seeded = true;
            break;
        case 'P':
            opt.pad_bytes = parse_uint("--pad-bytes", optarg, (uint64_t)1 << 30);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind < argc)
        fatal("unexpected argument '%s' (see --help)", argv[optind]);
    for (const char *s = opt.name; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            fatal("--name: control characters are not allowed in a header");
    if (!*opt.name)
        fatal("--name: expected a non-empty name");
    /* The shortest decimal that reads back as the same double. */
    cn_fmt_double(prediction, opt.prediction, sizeof opt.prediction);
    if (!seeded)
        opt.seed = realtime_ns() ^ ((uint64_t)getpid() << 32);
    rng_state = opt.seed ? opt.seed : 0x9e3779b97f4a7c15ull;
}

/* HOST:PORT or [V6]:PORT into a socket address. */
static void parse_listen(const char *text, struct sockaddr_storage *addr)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        fatal("--listen: expected HOST:PORT, got '%s'", text);
    char host[256];
    size_t host_len = (size_t)(colon - text);
    const char *h = text;
    if (text[0] == '[' && colon[-1] == ']') {
        h = text + 1;
        host_len -= 2;
    }
    if (host_len >= sizeof host)
        fatal("--listen: host too long in '%s'", text);
    memcpy(host, h, host_len);
    host[host_len] = '\0';
    int port = (int)parse_uint("--listen port", colon + 1, 65535);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr) != 0)
        fatal("--listen: '%s' is not a numeric IPv4 or IPv6 address", host);
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();

    settings.on_message_begin = on_message_begin;
    settings.on_url = on_url;
    settings.on_header_field = on_header_field;
    settings.on_header_value = on_header_value;
    settings.on_headers_complete = on_headers_complete;
    settings.on_body = on_body;
    settings.on_message_complete = on_message_complete;

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    parse_listen(opt.listen, &addr);
    uv_tcp_init(loop, &server);
    int err = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (err)
        fatal("--listen %s: %s", opt.listen, uv_strerror(err));

    struct sockaddr_storage bound;
    int bound_len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &bound_len);
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        printf("listening on [%s]:%d\n", ip, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        printf("listening on %s:%d\n", ip, port);
    }
    fflush(stdout);

    uv_signal_init(loop, &sigterm_handle);
    uv_signal_start(&sigterm_handle, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint_handle);
    uv_signal_start(&sigint_handle, on_signal, SIGINT);

    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    buf_free(&scratch);
    buf_free(&body_scratch);
    return 0;
}
