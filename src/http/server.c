/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HTTP/1.1 server-connection layer: see server.h for the contract.
 *
 * A connection is one struct with its TCP handle and one deadline, on the
 * server's deadline lanes (deadline.h: one uv timer for every connection).
 * The deadline serves whichever timeout applies in the connection's state
 * (idle, head, body, send, linger) or, at 0 ms, takes the next pipelined
 * request from the loop rather than from the stack of the code that ended
 * a response.
 *
 * Output goes through two buffers: `wq` collects bytes not yet handed to
 * libuv (a head waiting for its body, or what the socket did not take),
 * and `wf` holds the bytes of the one uv_write in flight. Nothing is
 * appended to a buffer libuv is writing from, so each can grow (up to its
 * bound) without moving bytes under libuv. A write first tries the socket
 * directly with uv_try_write, head and body as one vector; only what the
 * kernel does not take is copied.
 */
#include "http/server.h"
#include "http/deadline.h"
#include "util/addr.h"
#include "util/buf.h"
#include "util/error.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUF_BYTES ((size_t)64 * 1024)
#define KEEP_BUFFER_BYTES ((size_t)16 * 1024)
/* conn_io_t kept for reuse per server: each is about 1 KiB plus the
 * buffers it kept (at most KEEP_BUFFER_BYTES each). The cache can never
 * hold more than the connections that were busy at once (only they had
 * one to give back), and the C library would keep that peak in the
 * process anyway, so the bound is the connection limit: a smaller one made
 * each request at 1,024 clients pay for a new reader and buffers, +2,300
 * instructions a request with a cache of 256 (callgrind). An idle
 * connection itself never holds one. */

enum {
    C_READING,  /* reading a request (or waiting for one) */
    C_HANDLING, /* a request is with its handler, or its response goes out */
    C_LINGER,   /* last response sent, our side shut: discarding input */
    C_CLOSING,
};

enum { T_NONE, T_IDLE, T_HEAD, T_BODY, T_SEND, T_LINGER, T_CONTINUE };

/* What a connection needs only while it has a request (its bytes, the
 * reader, the output buffers, the write and shutdown requests): taken when
 * the first byte arrives and given back when the connection is idle again,
 * so an idle keep-alive connection holds only cn_http_conn_t (see
 * conn_io_take). */
typedef struct conn_io_s {
    struct conn_io_s *next_free; /* the server's cache */
    cn_http_reader_t reader;
    /* bytes read ahead while a request is handled (max: see conn_io_take) */
    cn_buf_t pending;
    uint64_t pending_since_ms;
    /* output: wq is queued, wf is in flight (same max; they swap) */
    cn_buf_t wq, wf;
    char *wtake; /* a taken body being written by the uv_write in flight */
    char *wnext; /* a taken body to write once wq is out */
    size_t wnext_len;
    size_t send_mark; /* unsent bytes when the send timer was armed */
    uv_write_t wr;
    uv_shutdown_t shutdown;
    /* the request being handled */
    const cn_http_route_t *route;
    uint64_t start_ns;
    cn_http_cancel_fn cancel;
    void *cancel_data;
    cn_http_flow_fn flow;
    void *flow_data;
} conn_io_t;

struct cn_http_conn_s {
    uv_tcp_t tcp;
    cn_deadline_t dl; /* the one timeout running, of kind timer_kind */
    cn_http_server_t *s;
    conn_io_t *io;                 /* NULL while idle with nothing read */
    cn_http_conn_t *prev, *next;   /* every connection, oldest first */
    cn_http_conn_t *iprev, *inext; /* idle connections, oldest first */
    int handles;
    int state;
    int timer_kind;
    bool in_idle, reading, eof, privileged, in_dispatch, continue_sent;
    bool counted; /* conn_cb was told it opened */
    bool writing;
    bool wq_broken; /* an append to wq was refused (a bug): close */
    int api_depth;  /* inside a response function the handler called */
    bool rejecting; /* answering an error of the layer's: input is discarded */
    /* the request being handled (the rest is in io) */
    bool close_after, head_req, head_open, head_done, chunked, ended, paused;
    /* the peer's address, formatted only for a log line (cn_http_conn_peer) */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
};

struct cn_http_server_s {
    uv_loop_t *loop;
    uv_tcp_t listener;
    cn_http_server_limits_t lim;
    cn_http_route_t *routes;
    size_t nroutes;
    cn_http_reject_fn reject_cb;
    void *reject_data;
    cn_http_conn_fn conn_cb;
    void *conn_data;
    cn_http_conn_t *first, *last;   /* every connection */
    cn_http_conn_t *ifirst, *ilast; /* idle */
    unsigned nconns;                /* allocated, including those still closing */
    unsigned nlive;                 /* open (counted against max_connections) */
    uint64_t evictions;
    bool listening, shutting_down, freeing, listener_closed, deadlines_closing;
    cn_deadlines_t deadlines; /* every connection's timeout */
    conn_io_t *io_free;       /* cached conn_io_t, at most IO_CACHE */
    unsigned nio_free;
    char peerbuf[80]; /* cn_http_conn_peer's answer */
    char address[80];
    char readbuf[READ_BUF_BYTES];
};

static void conn_close(cn_http_conn_t *c, bool cancel);
static void conn_feed_pending(cn_http_conn_t *c);
static void on_timer(cn_deadline_t *d);
static void out_flush(cn_http_conn_t *c, const char *x1, size_t n1, const char *x2,
                      size_t n2);

/* --------------------------------------------------------------- buffers */

/* Queue output. The callers keep within wq's max (the head writer and
 * cn_http_response_write check first); should a bug pass it, the
 * connection is closed rather than a response sent with a hole. */
static void wq_add(cn_http_conn_t *c, const void *p, size_t n)
{
    if (cn_buf_add(&c->io->wq, p, n) != 0)
        c->wq_broken = true;
}

/* Free a buffer over KEEP_BUFFER_BYTES, so an idle connection holds little. */
static void trim(cn_buf_t *b)
{
    if (b->cap > KEEP_BUFFER_BYTES)
        cn_buf_dispose(b);
    else
        cn_buf_reset(b);
}

/* Output not yet taken by the kernel. */
static size_t unsent(const cn_http_conn_t *c)
{
    size_t n = uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
    return c->io ? n + c->io->wq.len + c->io->wnext_len : n;
}

/* ------------------------------------------------------ per-request state */

static void io_free(conn_io_t *io)
{
    cn_http_reader_dispose(&io->reader);
    cn_buf_dispose(&io->pending);
    cn_buf_dispose(&io->wq);
    cn_buf_dispose(&io->wf);
    free(io->wtake);
    free(io->wnext);
    free(io);
}

/* Give c its per-request state: a cached one (a reader between messages,
 * empty buffers) or a new one. */
static void conn_io_take(cn_http_conn_t *c)
{
    cn_http_server_t *s = c->s;
    if (c->io)
        return;
    conn_io_t *io = s->io_free;
    if (io) {
        s->io_free = io->next_free;
        s->nio_free--;
        io->next_free = NULL;
    } else {
        io = cn_xcalloc(1, sizeof *io);
        cn_http_reader_init(&io->reader, CN_HTTP_REQUEST, &s->lim.request);
        cn_buf_init(&io->pending, s->lim.max_pipelined_bytes + READ_BUF_BYTES);
        cn_buf_init(&io->wq, s->lim.max_output_bytes + CN_HTTP_MAX_RESPONSE_HEAD_BYTES);
        cn_buf_init(&io->wf, s->lim.max_output_bytes + CN_HTTP_MAX_RESPONSE_HEAD_BYTES);
    }
    /* a cached one's handler state was cleared when its request finished */
    io->wr.data = c;
    io->shutdown.data = c;
    c->io = io;
}

/* An idle connection with nothing read, nothing to send and no request in
 * flight gives its per-request state back (to the cache, or freed):
 * 10,000 idle keep-alive clients then hold 10,000 small structs. */
static void conn_io_release(cn_http_conn_t *c)
{
    conn_io_t *io = c->io;
    if (!io || c->writing || io->wq.len || io->pending.len || io->wtake || io->wnext ||
        cn_http_reader_started(&io->reader))
        return;
    c->io = NULL;
    cn_http_server_t *s = c->s;
    if (s->nio_free >= s->lim.max_connections || s->freeing) {
        io_free(io);
        return;
    }
    /* wq and wf were trimmed when its last request finished; pending may
     * have held read-ahead bytes since */
    trim(&io->pending);
    io->next_free = s->io_free;
    s->io_free = io;
    s->nio_free++;
}

static void io_cache_clear(cn_http_server_t *s)
{
    while (s->io_free) {
        conn_io_t *io = s->io_free;
        s->io_free = io->next_free;
        io_free(io);
    }
    s->nio_free = 0;
}

/* ----------------------------------------------------------------- lists */

static void idle_set(cn_http_conn_t *c, bool idle)
{
    cn_http_server_t *s = c->s;
    if (idle == c->in_idle)
        return;
    c->in_idle = idle;
    if (idle) {
        c->iprev = s->ilast;
        c->inext = NULL;
        if (s->ilast)
            s->ilast->inext = c;
        else
            s->ifirst = c;
        s->ilast = c;
        return;
    }
    if (c->iprev)
        c->iprev->inext = c->inext;
    else
        s->ifirst = c->inext;
    if (c->inext)
        c->inext->iprev = c->iprev;
    else
        s->ilast = c->iprev;
    c->iprev = c->inext = NULL;
}

/* ---------------------------------------------------------------- timers */

static void arm(cn_http_conn_t *c, int kind, uint64_t ms)
{
    if (c->state == C_CLOSING)
        return; /* its memory goes with the TCP handle's close */
    c->timer_kind = kind;
    cn_deadline_arm(&c->s->deadlines, &c->dl, ms);
}

static void disarm(cn_http_conn_t *c)
{
    c->timer_kind = T_NONE;
    cn_deadline_disarm(&c->dl);
}

/* --------------------------------------------------------------- closing */

static void deadlines_closed(cn_deadlines_t *ds, void *data)
{
    (void)ds;
    cn_http_server_t *s = data;
    io_cache_clear(s);
    free(s->routes);
    free(s);
}

static void server_maybe_free(cn_http_server_t *s)
{
    /* last: the deadlines' timer, once no connection can arm it */
    if (s->freeing && s->listener_closed && s->nconns == 0 && !s->deadlines_closing) {
        s->deadlines_closing = true;
        cn_deadlines_close(&s->deadlines, deadlines_closed, s);
    }
}

static void conn_handle_closed(uv_handle_t *h)
{
    cn_http_conn_t *c = h->data;
    if (--c->handles > 0)
        return;
    cn_deadline_disarm(&c->dl);
    cn_http_server_t *s = c->s;
    if (c->io)
        io_free(c->io); /* its state is whatever the close left */
    free(c);
    s->nconns--;
    server_maybe_free(s);
}

/* Close now. cancel: run the cancel callback of a response not ended. */
static void conn_close(cn_http_conn_t *c, bool cancel)
{
    if (c->state == C_CLOSING)
        return;
    bool was_handling = c->state == C_HANDLING && !c->ended;
    c->state = C_CLOSING;
    cn_http_server_t *s = c->s;
    s->nlive--;
    idle_set(c, false);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->first = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->last = c->prev;
    c->prev = c->next = NULL;
    if (c->counted && s->conn_cb)
        s->conn_cb(s, c, false, s->conn_data);
    c->counted = false;
    disarm(c);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
    cn_http_cancel_fn fn = NULL;
    void *fn_data = NULL;
    if (c->io) {
        fn = c->io->cancel;
        fn_data = c->io->cancel_data;
        c->io->cancel = NULL;
        c->io->flow = NULL;
    }
    if (cancel && was_handling && fn)
        fn(c, fn_data);
}

/* A write failed: close. Inside a call the handler made, the handler
 * learns it from the return value; the cancel callback is for closes it
 * cannot see (it could not run safely under the handler's own frame). */
static void conn_fail(cn_http_conn_t *c)
{
    conn_close(c, c->api_depth == 0);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    cn_http_conn_t *c = req->data;
    if (c->state != C_LINGER)
        return;
    if (status < 0 || c->eof)
        conn_close(c, false);
}

/* The last response is out: shut our side and discard input until the
 * client closes (RFC 9112 section 9.6), so unread request bytes do not
 * turn our close into a reset that destroys the response. */
static void conn_linger(cn_http_conn_t *c)
{
    c->state = C_LINGER;
    idle_set(c, false);
    conn_io_take(c);
    if (c->eof ||
        uv_shutdown(&c->io->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
        conn_close(c, false);
        return;
    }
    uint32_t ms = c->s->lim.header_timeout_ms;
    arm(c, T_LINGER, ms < CN_HTTP_LINGER_MS ? ms : CN_HTTP_LINGER_MS);
}

/* ------------------------------------------------------------- requests */

static void read_start(cn_http_conn_t *c);

/* The response is ended and every byte of it handed to the kernel: on to
 * the next request, or close. */
static void request_finished(cn_http_conn_t *c)
{
    cn_http_server_t *s = c->s;
    c->io->cancel = NULL;
    c->io->flow = NULL;
    c->io->route = NULL;
    c->paused = false;
    c->ended = false;
    c->head_open = c->head_done = c->chunked = false;
    c->continue_sent = false;
    trim(&c->io->wq);
    trim(&c->io->wf);
    cn_http_reader_next(&c->io->reader);
    if (c->close_after || c->rejecting) {
        conn_linger(c);
        return;
    }
    c->state = C_READING;
    if (c->in_dispatch)
        return; /* conn_feed goes on with the bytes it holds */
    if (c->io->pending.len > 0) {
        arm(c, T_CONTINUE, 0);
        return;
    }
    if (c->eof) {
        conn_close(c, false); /* half-closed: every request is answered */
        return;
    }
    idle_set(c, true);
    arm(c, T_IDLE, s->lim.idle_timeout_ms);
    read_start(c);
    conn_io_release(c); /* trims pending, the one buffer not trimmed above */
}

static void output_drained(cn_http_conn_t *c)
{
    if (c->state == C_HANDLING && c->ended)
        request_finished(c);
}

/* Flow control after output changed. */
static void flow_check(cn_http_conn_t *c)
{
    if (!c->io || !c->io->flow || c->ended)
        return;
    size_t u = unsent(c);
    if (!c->paused && u >= c->s->lim.high_water_bytes) {
        c->paused = true;
        c->io->flow(c, true, c->io->flow_data);
    } else if (c->paused && u <= c->s->lim.low_water_bytes) {
        c->paused = false;
        c->io->flow(c, false, c->io->flow_data);
    }
}

static void start_write(cn_http_conn_t *c);

static void start_write_buf(cn_http_conn_t *c, char *p, size_t n);

static void on_written(uv_write_t *wr, int status)
{
    cn_http_conn_t *c = wr->data;
    c->writing = false;
    cn_buf_reset(&c->io->wf);
    free(c->io->wtake);
    c->io->wtake = NULL;
    if (c->state == C_CLOSING)
        return;
    if (status < 0) {
        conn_close(c, true);
        return;
    }
    if (c->io->wq.len > 0) {
        start_write(c);
        flow_check(c);
        return;
    }
    if (c->io->wnext) {
        c->io->wtake = c->io->wnext;
        c->io->wnext = NULL;
        size_t n = c->io->wnext_len;
        c->io->wnext_len = 0;
        start_write_buf(c, c->io->wtake, n);
        return;
    }
    if (c->timer_kind == T_SEND)
        disarm(c);
    flow_check(c);
    if (c->state == C_HANDLING && !c->writing && c->io->wq.len == 0)
        output_drained(c);
}

/* Hand wq (or a taken body) to uv_write; the send timer watches progress. */
static void start_write_buf(cn_http_conn_t *c, char *p, size_t n)
{
    uv_buf_t b = uv_buf_init(p, (unsigned)n);
    c->writing = true;
    c->io->wr.data = c;
    if (uv_write(&c->io->wr, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        c->writing = false;
        conn_fail(c);
        return;
    }
    if (c->state != C_READING && c->timer_kind != T_SEND) {
        c->io->send_mark = unsent(c);
        arm(c, T_SEND, c->s->lim.send_timeout_ms);
    }
}

static void start_write(cn_http_conn_t *c)
{
    cn_buf_t t = c->io->wq;
    c->io->wq = c->io->wf; /* empty: nothing is in flight */
    c->io->wf = t;
    start_write_buf(c, c->io->wf.data, c->io->wf.len);
}

/*
 * Send wq, then x1 and x2: straight to the socket if nothing is in flight
 * (one uv_try_write for all three), the rest queued. The caller has
 * checked the bounds.
 */
static void out_flush(cn_http_conn_t *c, const char *x1, size_t n1, const char *x2,
                      size_t n2)
{
    if (c->state == C_CLOSING)
        return;
    if (c->writing) {
        wq_add(c, x1, n1);
        wq_add(c, x2, n2);
        if (c->wq_broken)
            conn_fail(c);
        return;
    }
    if (c->wq_broken) {
        conn_fail(c);
        return;
    }
    uv_buf_t b[3];
    unsigned nb = 0;
    if (c->io->wq.len)
        b[nb++] = uv_buf_init(c->io->wq.data, (unsigned)c->io->wq.len);
    if (n1)
        b[nb++] = uv_buf_init((char *)x1, (unsigned)n1);
    if (n2)
        b[nb++] = uv_buf_init((char *)x2, (unsigned)n2);
    if (nb == 0)
        return;
    int rc = uv_try_write((uv_stream_t *)&c->tcp, b, nb);
    if (rc < 0 && rc != UV_EAGAIN) {
        conn_fail(c);
        return;
    }
    size_t done = rc > 0 ? (size_t)rc : 0;
    if (done >= c->io->wq.len) {
        done -= c->io->wq.len;
        cn_buf_reset(&c->io->wq);
    } else {
        memmove(c->io->wq.data, c->io->wq.data + done, c->io->wq.len - done);
        cn_buf_truncate(&c->io->wq, c->io->wq.len - done);
        done = 0;
    }
    if (done >= n1) {
        done -= n1;
    } else {
        wq_add(c, x1 + done, n1 - done);
        done = 0;
    }
    if (done < n2)
        wq_add(c, x2 + done, n2 - done);
    if (c->wq_broken) {
        conn_fail(c);
        return;
    }
    if (c->io->wq.len)
        start_write(c);
}

/* ----------------------------------------------------- response writing */

static void head_add(cn_http_conn_t *c, const char *s, size_t n)
{
    wq_add(c, s, n);
}

static void head_u64(cn_http_conn_t *c, uint64_t v)
{
    if (cn_buf_u64(&c->io->wq, v) != 0)
        c->wq_broken = true;
}

void cn_http_response_begin(cn_http_req_t *c, unsigned status)
{
    if (c->state != C_HANDLING || c->head_open || c->head_done)
        return;
    c->head_open = true;
    head_add(c, "HTTP/1.1 ", 9);
    head_u64(c, status);
    head_add(c, " ", 1);
    const char *reason = cn_http_reason(status);
    head_add(c, reason, strlen(reason));
    head_add(c, "\r\n", 2);
}

void cn_http_response_header(cn_http_req_t *c, const char *name, size_t name_len,
                             const char *value, size_t value_len)
{
    if (!c->head_open ||
        c->io->wq.len + name_len + value_len > CN_HTTP_MAX_RESPONSE_HEAD_BYTES)
        return;
    head_add(c, name, name_len);
    head_add(c, ": ", 2);
    head_add(c, value, value_len);
    head_add(c, "\r\n", 2);
}

void cn_http_response_header_u64(cn_http_req_t *c, const char *name, size_t name_len,
                                 uint64_t value)
{
    if (!c->head_open)
        return;
    head_add(c, name, name_len);
    head_add(c, ": ", 2);
    head_u64(c, value);
    head_add(c, "\r\n", 2);
}

void cn_http_response_head_end(cn_http_req_t *c, int64_t body_len)
{
    if (!c->head_open)
        return;
    const cn_http_message_t *m = &c->io->reader.msg;
    if (body_len >= 0) {
        cn_http_response_header_u64(c, "Content-Length", 14, (uint64_t)body_len);
    } else if (body_len == CN_HTTP_BODY_CHUNKED) {
        if (m->http_minor >= 1) {
            head_add(c, "Transfer-Encoding: chunked\r\n", 28);
            c->chunked = true;
        } else {
            c->close_after = true; /* HTTP/1.0: the close ends the body */
        }
    }
    if (c->close_after)
        head_add(c, "Connection: close\r\n", 19);
    else if (m->http_minor == 0)
        head_add(c, "Connection: keep-alive\r\n", 24);
    head_add(c, "\r\n", 2);
    c->head_open = false;
    c->head_done = true;
}

int cn_http_response_write(cn_http_req_t *c, const void *data, size_t len)
{
    if (c->state != C_HANDLING || c->ended || !c->head_done)
        return CN_EIO;
    if (c->head_req || len == 0)
        return 0;
    size_t cap = c->s->lim.max_output_bytes;
    size_t u = unsent(c);
    if (len > cap || (u > c->io->wq.len && u + len > cap))
        return CN_ETOOBIG;
    c->api_depth++;
    if (c->chunked) {
        char line[24];
        int n = snprintf(line, sizeof line, "%zx\r\n", len);
        wq_add(c, line, (size_t)n);
        out_flush(c, data, len, "\r\n", 2);
    } else {
        out_flush(c, data, len, NULL, 0);
    }
    c->api_depth--;
    if (c->state == C_CLOSING)
        return CN_EIO;
    flow_check(c);
    return 0;
}

void cn_http_response_end(cn_http_req_t *c)
{
    if (c->state != C_HANDLING || c->ended)
        return;
    if (!c->head_done) {
        /* A handler that wrote nothing: an empty 200 rather than silence. */
        cn_http_response_begin(c, 200);
        cn_http_response_head_end(c, 0);
    }
    c->ended = true;
    c->io->flow = NULL;
    if (c->chunked && !c->head_req)
        wq_add(c, "0\r\n\r\n", 5);
    c->api_depth++;
    out_flush(c, NULL, 0, NULL, 0);
    c->api_depth--;
    if (c->state == C_HANDLING && !c->writing && c->io->wq.len == 0)
        output_drained(c);
}

void cn_http_response_abort(cn_http_req_t *c)
{
    c->io->cancel = NULL;
    conn_close(c, false);
}

static void respond_head(cn_http_req_t *c, unsigned status, const char *content_type,
                         const char *extra_headers, size_t body_len)
{
    cn_http_response_begin(c, status);
    if (content_type)
        cn_http_response_header(c, "Content-Type", 12, content_type,
                                strlen(content_type));
    if (extra_headers)
        head_add(c, extra_headers, strlen(extra_headers));
    bool no_body = status < 200 || status == 204 || status == 304;
    cn_http_response_head_end(c, no_body ? CN_HTTP_BODY_NONE : (int64_t)body_len);
}

void cn_http_respond(cn_http_req_t *c, unsigned status, const char *content_type,
                     const char *extra_headers, const void *body, size_t body_len)
{
    if (c->state != C_HANDLING || c->ended || c->head_done)
        return;
    if (body_len > KEEP_BUFFER_BYTES && !c->head_req) {
        /* What the socket does not take is written from one copy of the
         * body, not queued in wq (whose max is for streamed output). */
        char *copy = cn_xmalloc(body_len);
        memcpy(copy, body, body_len);
        cn_http_respond_take(c, status, content_type, extra_headers, copy, body_len);
        return;
    }
    respond_head(c, status, content_type, extra_headers, body_len);
    c->ended = true;
    c->io->flow = NULL;
    if (c->head_req || status == 204 || status == 304)
        body_len = 0;
    c->api_depth++;
    out_flush(c, body, body_len, NULL, 0);
    c->api_depth--;
    if (c->state == C_HANDLING && !c->writing && c->io->wq.len == 0)
        output_drained(c);
}

void cn_http_respond_take(cn_http_req_t *c, unsigned status, const char *content_type,
                          const char *extra_headers, char *body, size_t body_len)
{
    if (c->state != C_HANDLING || c->ended || c->head_done) {
        free(body);
        return;
    }
    respond_head(c, status, content_type, extra_headers, body_len);
    c->ended = true;
    c->io->flow = NULL;
    if (c->head_req || status == 204 || status == 304)
        body_len = 0;
    c->api_depth++;
    if (body_len == 0 || c->state == C_CLOSING) {
        out_flush(c, NULL, 0, NULL, 0);
        free(body);
    } else if (c->writing) {
        /* (an interim 100 Continue still going out) after the head */
        c->io->wnext = body;
        c->io->wnext_len = body_len;
    } else {
        /* Head and body in one try; what is left of the body is written
         * from the handler's buffer, not copied. */
        uv_buf_t b[2] = {uv_buf_init(c->io->wq.data, (unsigned)c->io->wq.len),
                         uv_buf_init(body, (unsigned)body_len)};
        int rc = uv_try_write((uv_stream_t *)&c->tcp, b, 2);
        if (rc < 0 && rc != UV_EAGAIN) {
            free(body);
            conn_fail(c);
            c->api_depth--;
            return;
        }
        size_t done = rc > 0 ? (size_t)rc : 0;
        if (done < c->io->wq.len) {
            /* Not even the head went (rare): the head, then the body. */
            memmove(c->io->wq.data, c->io->wq.data + done, c->io->wq.len - done);
            cn_buf_truncate(&c->io->wq, c->io->wq.len - done);
            c->io->wnext = body;
            c->io->wnext_len = body_len;
            start_write(c);
        } else {
            done -= c->io->wq.len;
            cn_buf_reset(&c->io->wq);
            if (done < body_len) {
                memmove(body, body + done, body_len - done);
                c->io->wtake = body;
                start_write_buf(c, body, body_len - done);
            } else {
                free(body);
            }
        }
    }
    c->api_depth--;
    if (c->state == C_HANDLING && !c->writing && c->io->wq.len == 0)
        output_drained(c);
}

/* JSON string contents of text: quotes and backslashes escaped, control
 * bytes dropped. */
static size_t json_text(const char *text, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; *p && n + 2 < cap; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20)
            continue;
        if (ch == '"' || ch == '\\')
            out[n++] = '\\';
        out[n++] = (char)ch;
    }
    out[n] = '\0';
    return n;
}

void cn_http_respond_error(cn_http_req_t *c, unsigned status, const char *text)
{
    char esc[512], body[640];
    json_text(text, esc, sizeof esc);
    int n =
        snprintf(body, sizeof body, "{\"error\":\"%s\",\"status\":%u}\n", esc, status);
    cn_http_respond(c, status, "application/json", NULL, body, (size_t)n);
}

/* ---------------------------------------------------------- the layer's */

/* Answer an error of the layer's own and close after it. */
static void conn_reject(cn_http_conn_t *c, unsigned status, const char *text)
{
    cn_http_server_t *s = c->s;
    if (s->reject_cb)
        s->reject_cb(s, c, status, text, s->reject_data);
    if (c->state == C_CLOSING)
        return;
    disarm(c);
    idle_set(c, false);
    c->state = C_HANDLING;
    c->rejecting = true;
    c->close_after = true;
    c->head_req = false;
    c->head_open = c->head_done = c->chunked = c->ended = false;
    cn_http_respond_error(c, status, text);
}

/* The path of a request target: after scheme://authority, before '?'. */
static void target_path(const cn_http_message_t *m, const char **path, size_t *len)
{
    const char *u = m->url, *end = m->url + m->url_len;
    if (u < end && *u != '/') {
        const char *sep = strstr(u, "://");
        if (sep) {
            u = sep + 3;
            while (u < end && *u != '/' && *u != '?')
                u++;
        }
    }
    const char *q = memchr(u, '?', (size_t)(end - u));
    *path = u;
    *len = (size_t)((q ? q : end) - u);
}

static bool path_matches(const cn_http_route_t *r, const char *path, size_t len)
{
    size_t rlen = strlen(r->path);
    if (r->flags & CN_HTTP_ROUTE_PREFIX)
        return rlen <= len && memcmp(r->path, path, rlen) == 0;
    return rlen == len && memcmp(r->path, path, len) == 0;
}

static bool method_matches(const cn_http_route_t *r, enum http_method m)
{
    if (r->methods == CN_HTTP_ANY_METHOD || (r->methods & CN_HTTP_METHOD(m)))
        return true;
    return m == HTTP_HEAD && (r->methods & CN_HTTP_METHOD(HTTP_GET));
}

static void dispatch(cn_http_conn_t *c)
{
    cn_http_server_t *s = c->s;
    const cn_http_message_t *m = &c->io->reader.msg;
    disarm(c);
    c->state = C_HANDLING;
    c->ended = false;
    c->close_after = !m->keep_alive || s->shutting_down;
    c->head_req = m->method == HTTP_HEAD;
    const char *path;
    size_t plen;
    target_path(m, &path, &plen);
    const cn_http_route_t *route = NULL;
    bool path_seen = false;
    for (size_t i = 0; i < s->nroutes && !route; i++) {
        if (!path_matches(&s->routes[i], path, plen))
            continue;
        path_seen = true;
        if (method_matches(&s->routes[i], m->method))
            route = &s->routes[i];
    }
    if (!route) {
        if (!path_seen) {
            cn_http_respond_error(c, 404, "no such resource");
            return;
        }
        char allow[256] = "Allow: ";
        size_t n = strlen(allow);
        uint64_t bits = 0;
        for (size_t i = 0; i < s->nroutes; i++)
            if (path_matches(&s->routes[i], path, plen))
                bits |= s->routes[i].methods;
        if (bits & CN_HTTP_METHOD(HTTP_GET))
            bits |= CN_HTTP_METHOD(HTTP_HEAD);
        for (unsigned b = 0; b < 64 && n + 16 < sizeof allow; b++)
            if (bits & (1ull << b))
                n += (size_t)snprintf(allow + n, sizeof allow - n, "%s%s",
                                      n > 7 ? ", " : "",
                                      http_method_str((enum http_method)b));
        snprintf(allow + n, sizeof allow - n, "\r\n");
        char text[128];
        snprintf(text, sizeof text, "method %s not allowed here", m->method_name);
        char esc[160], body[256];
        json_text(text, esc, sizeof esc);
        int bn =
            snprintf(body, sizeof body, "{\"error\":\"%s\",\"status\":405}\n", esc);
        cn_http_respond(c, 405, "application/json", allow, body, (size_t)bn);
        return;
    }
    c->io->route = route;
    route->handler(c, route->data);
    if (c->state == C_HANDLING && !c->ended && !c->io->cancel) {
        fprintf(stderr,
                "http: the handler of %s %.*s returned without answering and "
                "without cn_http_req_on_cancel (see server.h)\n",
                m->method_name, (int)plen, path);
        abort();
    }
}

/* Feed bytes to the reader and dispatch every complete request, while the
 * connection is reading. Returns the bytes used; from_pending: the bytes
 * are read-ahead ones, whose head time started when they arrived. */
static size_t conn_feed(cn_http_conn_t *c, const char *data, size_t n,
                        bool from_pending)
{
    cn_http_server_t *s = c->s;
    size_t off = 0;
    c->in_dispatch = true;
    while (c->state == C_READING && off < n) {
        bool was_started = cn_http_reader_started(&c->io->reader);
        bool was_head = cn_http_reader_head_done(&c->io->reader);
        size_t used = 0;
        cn_http_feed_t st =
            cn_http_reader_feed(&c->io->reader, data + off, n - off, &used);
        off += used;
        if (!was_started && cn_http_reader_started(&c->io->reader)) {
            idle_set(c, false);
            uint64_t now = uv_now(s->loop);
            uint64_t since =
                from_pending && c->io->pending_since_ms ? c->io->pending_since_ms : now;
            uint64_t spent = now - since;
            c->io->start_ns = uv_hrtime() - spent * 1000000u;
            uint64_t ms = s->lim.header_timeout_ms;
            arm(c, T_HEAD, spent < ms ? ms - spent : 0);
        }
        if (st == CN_HTTP_ERROR) {
            conn_reject(c, c->io->reader.error_status, c->io->reader.error_text);
            break;
        }
        if (st == CN_HTTP_NEED_MORE) {
            if (!was_head && cn_http_reader_head_done(&c->io->reader)) {
                arm(c, T_BODY, s->lim.body_timeout_ms);
                if (c->io->reader.expect_continue && !c->continue_sent) {
                    /* RFC 9110 10.1.1: the head passed the limits; invite
                     * the body rather than let the client wait. */
                    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                    c->continue_sent = true;
                    out_flush(c, cont, sizeof cont - 1, NULL, 0);
                }
            }
            break;
        }
        dispatch(c);
    }
    c->in_dispatch = false;
    return off;
}

/* Keep bytes that arrived while a request is handled; stop reading past
 * the bound. */
static void pending_add(cn_http_conn_t *c, const char *p, size_t n)
{
    if (c->io->pending.len == 0)
        c->io->pending_since_ms = uv_now(c->s->loop);
    /* max: max_pipelined_bytes plus one read; reading stops at the first */
    if (cn_buf_add(&c->io->pending, p, n) != 0) {
        conn_close(c, true);
        return;
    }
    if (c->io->pending.len >= c->s->lim.max_pipelined_bytes && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

/* After a state change back to reading: what is left once conn_feed stops. */
static void after_feed(cn_http_conn_t *c)
{
    if (c->state != C_READING)
        return;
    if (c->eof) {
        /* Half-closed: a request cut short has no one to answer. */
        conn_close(c, false);
        return;
    }
    bool idle = !cn_http_reader_started(&c->io->reader);
    if (idle) {
        idle_set(c, true);
        if (c->timer_kind != T_IDLE)
            arm(c, T_IDLE, c->s->lim.idle_timeout_ms);
    }
    read_start(c);
    if (idle)
        conn_io_release(c);
}

/* Parse the read-ahead bytes (from the loop, see request_finished). */
static void conn_feed_pending(cn_http_conn_t *c)
{
    if (!c->io)
        return;
    size_t used = conn_feed(c, c->io->pending.data, c->io->pending.len, true);
    if (c->state == C_CLOSING)
        return;
    if (c->state == C_LINGER || c->rejecting) {
        cn_buf_reset(&c->io->pending);
        return;
    }
    memmove(c->io->pending.data, c->io->pending.data + used, c->io->pending.len - used);
    cn_buf_truncate(&c->io->pending, c->io->pending.len - used);
    if (c->io->pending.len == 0)
        c->io->pending_since_ms = 0;
    after_feed(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    cn_http_conn_t *c = h->data;
    /* One loop thread, and every read is used or copied before the read
     * callback returns: one buffer serves every connection. */
    *buf = uv_buf_init(c->s->readbuf, sizeof c->s->readbuf);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    cn_http_conn_t *c = st->data;
    if (nread == 0 || c->state == C_CLOSING)
        return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            conn_close(c, true); /* reset: the client is gone */
            return;
        }
        c->eof = true;
        uv_read_stop(st);
        c->reading = false;
        if (c->state == C_LINGER || c->state == C_READING) {
            conn_close(c, false); /* idle, or a request cut short */
            return;
        }
        /* C_HANDLING: answer what was sent, then close. */
        return;
    }
    size_t n = (size_t)nread;
    if (c->state == C_LINGER || c->rejecting)
        return;      /* discarded */
    conn_io_take(c); /* the first byte of a request */
    if (c->state == C_HANDLING || c->io->pending.len > 0) {
        pending_add(c, buf->base, n);
        return;
    }
    size_t used = conn_feed(c, buf->base, n, false);
    if (c->state == C_CLOSING || c->state == C_LINGER || c->rejecting)
        return;
    if (used < n)
        pending_add(c, buf->base + used, n - used);
    if (c->state == C_READING)
        after_feed(c);
}

static void read_start(cn_http_conn_t *c)
{
    if (c->reading || c->eof || c->state == C_CLOSING)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0)
        c->reading = true;
    else
        conn_close(c, true);
}

static void on_timer(cn_deadline_t *d)
{
    cn_http_conn_t *c = (cn_http_conn_t *)((char *)d - offsetof(cn_http_conn_t, dl));
    cn_http_server_t *s = c->s;
    int kind = c->timer_kind;
    c->timer_kind = T_NONE;
    char text[96];
    switch (kind) {
    case T_IDLE:
    case T_LINGER:
        conn_close(c, false);
        break;
    case T_HEAD:
        snprintf(text, sizeof text, "request head not received within %" PRIu32 " ms",
                 s->lim.header_timeout_ms);
        conn_reject(c, 408, text);
        break;
    case T_BODY:
        snprintf(text, sizeof text, "request body not received within %" PRIu32 " ms",
                 s->lim.body_timeout_ms);
        conn_reject(c, 408, text);
        break;
    case T_SEND: {
        size_t u = unsent(c);
        if (u > 0 && u < c->io->send_mark) {
            c->io->send_mark = u; /* progress: the client reads, slowly */
            arm(c, T_SEND, s->lim.send_timeout_ms);
        } else if (u > 0) {
            if (s->reject_cb)
                s->reject_cb(s, c, 0, "send timeout: the client is not reading",
                             s->reject_data);
            conn_close(c, true);
        }
        break;
    }
    case T_CONTINUE:
        if (c->state == C_READING)
            conn_feed_pending(c);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------ admission */

/* The connection to give way at max_connections (see server.h), or NULL. */
static cn_http_conn_t *pick_victim(cn_http_server_t *s)
{
    for (cn_http_conn_t *c = s->ifirst; c; c = c->inext)
        if (!c->privileged)
            return c;
    for (cn_http_conn_t *c = s->first; c; c = c->next)
        if (!c->privileged && c->state == C_READING && c->io &&
            cn_http_reader_started(&c->io->reader))
            return c;
    return s->ifirst;
}

/* Keep the peer's address (28 bytes), not its text: it is formatted only
 * for a log line. Taken at accept, since a reset peer has none later. */
static void keep_peer(cn_http_conn_t *c)
{
    int len = sizeof c->peer;
    if (uv_tcp_getpeername(&c->tcp, &c->peer.sa, &len) != 0)
        c->peer.sa.sa_family = AF_UNSPEC;
}

static void on_connection(uv_stream_t *server, int status)
{
    cn_http_server_t *s = server->data;
    if (status < 0 || s->shutting_down)
        return;
    cn_http_conn_t *c = cn_xcalloc(1, sizeof *c);
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    cn_deadline_init(&c->dl, on_timer);
    c->tcp.data = c;
    c->handles = 1;
    c->state = C_READING;
    s->nconns++;
    s->nlive++;
    c->prev = s->last;
    if (s->last)
        s->last->next = c;
    else
        s->first = c;
    s->last = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c, false);
        return;
    }
    keep_peer(c);
    if (s->conn_cb) {
        c->counted = true;
        s->conn_cb(s, c, true, s->conn_data);
    }
    if (s->nlive > s->lim.max_connections) {
        cn_http_conn_t *victim = pick_victim(s);
        if (!victim || victim == c) {
            if (s->reject_cb)
                s->reject_cb(s, c, 0,
                             "max_connections reached; every connection is busy",
                             s->reject_data);
            conn_close(c, false);
            return;
        }
        s->evictions++;
        if (s->reject_cb)
            s->reject_cb(s, victim, 0, "evicted to make room for a new connection",
                         s->reject_data);
        conn_close(victim, true);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    idle_set(c, true);
    /* The first request must start within the header timeout. */
    arm(c, T_IDLE, s->lim.header_timeout_ms);
    read_start(c);
}

/* --------------------------------------------------------------- server */

static void listener_closed(uv_handle_t *h)
{
    cn_http_server_t *s = h->data;
    s->listener_closed = true;
    server_maybe_free(s);
}

cn_http_server_t *cn_http_server_new(uv_loop_t *loop,
                                     const cn_http_server_limits_t *limits)
{
    cn_http_server_t *s = cn_xcalloc(1, sizeof *s);
    s->loop = loop;
    cn_http_server_set_limits(s, limits);
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    cn_deadlines_init(&s->deadlines, loop);
    return s;
}

void cn_http_server_set_limits(cn_http_server_t *s,
                               const cn_http_server_limits_t *limits)
{
    /* cached per-request state was made for the old limits */
    io_cache_clear(s);
    memset(&s->lim, 0, sizeof s->lim);
    if (limits)
        s->lim = *limits;
    cn_http_server_limits_t *l = &s->lim;
    if (!l->request.max_header_bytes)
        l->request.max_header_bytes = CN_HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (!l->request.max_body_bytes)
        l->request.max_body_bytes = CN_HTTP_DEFAULT_MAX_BODY_BYTES;
    if (!l->max_connections)
        l->max_connections = CN_HTTP_DEFAULT_MAX_CONNECTIONS;
    if (!l->header_timeout_ms)
        l->header_timeout_ms = CN_HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    if (!l->idle_timeout_ms)
        l->idle_timeout_ms = CN_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    if (!l->body_timeout_ms)
        l->body_timeout_ms = CN_HTTP_DEFAULT_BODY_TIMEOUT_MS;
    if (!l->send_timeout_ms)
        l->send_timeout_ms = CN_HTTP_DEFAULT_SEND_TIMEOUT_MS;
    if (!l->max_pipelined_bytes)
        l->max_pipelined_bytes = CN_HTTP_DEFAULT_MAX_PIPELINED_BYTES;
    if (!l->high_water_bytes)
        l->high_water_bytes = CN_HTTP_DEFAULT_HIGH_WATER_BYTES;
    if (!l->low_water_bytes)
        l->low_water_bytes = CN_HTTP_DEFAULT_LOW_WATER_BYTES;
    if (!l->max_output_bytes)
        l->max_output_bytes = CN_HTTP_DEFAULT_MAX_OUTPUT_BYTES;
    if (l->low_water_bytes > l->high_water_bytes)
        l->low_water_bytes = l->high_water_bytes;
    if (l->max_output_bytes < l->high_water_bytes)
        l->max_output_bytes = l->high_water_bytes;
    /* room for a small whole response (see cn_http_respond) */
    if (l->max_output_bytes < 2 * KEEP_BUFFER_BYTES)
        l->max_output_bytes = 2 * KEEP_BUFFER_BYTES;
}

static int start_listening(cn_http_server_t *s, int backlog)
{
    int rc = uv_listen((uv_stream_t *)&s->listener, backlog, on_connection);
    if (rc < 0)
        return rc;
    s->listening = true;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
    if (rc < 0)
        return rc;
    cn_addr_format((struct sockaddr *)&ss, true, s->address, sizeof s->address);
    return 0;
}

int cn_http_server_listen(cn_http_server_t *s, const struct sockaddr *addr, int backlog)
{
    int rc = uv_tcp_bind(&s->listener, addr, 0);
    if (rc < 0)
        return rc;
    return start_listening(s, backlog);
}

int cn_http_server_listen_fd(cn_http_server_t *s, int fd, int backlog)
{
    int rc = uv_tcp_open(&s->listener, fd);
    if (rc < 0)
        return rc;
    return start_listening(s, backlog);
}

const char *cn_http_server_address(const cn_http_server_t *s)
{
    return s->address;
}

void cn_http_server_add_route(cn_http_server_t *s, const cn_http_route_t *route)
{
    s->routes = cn_xrealloc(s->routes, (s->nroutes + 1) * sizeof *s->routes);
    s->routes[s->nroutes++] = *route;
}

void cn_http_server_set_reject_cb(cn_http_server_t *s, cn_http_reject_fn fn, void *data)
{
    s->reject_cb = fn;
    s->reject_data = data;
}

void cn_http_server_set_conn_cb(cn_http_server_t *s, cn_http_conn_fn fn, void *data)
{
    s->conn_cb = fn;
    s->conn_data = data;
}

void cn_http_server_shutdown(cn_http_server_t *s)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    uv_close((uv_handle_t *)&s->listener, listener_closed);
    cn_http_conn_t *c = s->first;
    while (c) {
        cn_http_conn_t *next = c->next;
        if (c->state == C_READING &&
            (!c->io ||
             (!cn_http_reader_started(&c->io->reader) && c->io->pending.len == 0)))
            conn_close(c, false);
        else
            c->close_after = true;
        c = next;
    }
}

void cn_http_server_close_all(cn_http_server_t *s)
{
    while (s->first)
        conn_close(s->first, true);
}

void cn_http_server_free(cn_http_server_t *s)
{
    if (!s)
        return;
    cn_http_server_shutdown(s);
    cn_http_server_close_all(s);
    s->freeing = true;
    server_maybe_free(s);
}

unsigned cn_http_server_connections(const cn_http_server_t *s)
{
    return s->nlive;
}

uint64_t cn_http_server_evictions(const cn_http_server_t *s)
{
    return s->evictions;
}

/* ------------------------------------------------------------- accessors */

const cn_http_message_t *cn_http_req_message(const cn_http_req_t *req)
{
    /* between requests (nothing read yet) there is no message: an empty one */
    static const cn_http_message_t none = {.method_name = "", .url = "", .body = ""};
    return req->io ? &req->io->reader.msg : &none;
}

const cn_http_route_t *cn_http_req_route(const cn_http_req_t *req)
{
    return req->io ? req->io->route : NULL;
}

uint64_t cn_http_req_start_ns(const cn_http_req_t *req)
{
    return req->io ? req->io->start_ns : 0;
}

bool cn_http_req_closes(const cn_http_req_t *req)
{
    return req->close_after || req->eof;
}

void cn_http_req_on_cancel(cn_http_req_t *req, cn_http_cancel_fn fn, void *data)
{
    if (!req->io)
        return; /* no request */
    req->io->cancel = fn;
    req->io->cancel_data = data;
}

void cn_http_req_on_flow(cn_http_req_t *req, cn_http_flow_fn fn, void *data)
{
    if (!req->io)
        return;
    req->io->flow = fn;
    req->io->flow_data = data;
}

size_t cn_http_req_unsent(const cn_http_req_t *req)
{
    return unsent(req);
}

const char *cn_http_conn_peer(const cn_http_conn_t *c)
{
    char *out = c->s->peerbuf;
    if (c->peer.sa.sa_family == AF_INET || c->peer.sa.sa_family == AF_INET6)
        cn_addr_format(&c->peer.sa, true, out, sizeof c->s->peerbuf);
    else
        snprintf(out, sizeof c->s->peerbuf, "?");
    return out;
}

void cn_http_conn_set_privileged(cn_http_conn_t *c)
{
    c->privileged = true;
}

bool cn_http_conn_privileged(const cn_http_conn_t *c)
{
    return c->privileged;
}

cn_http_conn_t *cn_http_req_conn(cn_http_req_t *req)
{
    return req;
}
