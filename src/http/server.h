/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One HTTP/1.1 server-connection layer for every server in the process (the
 * proxy's workers and the admin API), in the shape of h2o's lib/http1.c:
 * the connection state machine, limits, timeouts, keep-alive, pipelining,
 * half-close, Expect: 100-continue, the error responses, a response-head
 * writer, bounded output with backpressure, deferred responses and routes.
 * Handlers see whole requests (cn_http_reader_t) and answer through the
 * functions below; they never touch a socket.
 *
 * The life of a connection (one request at a time; pipelined requests are
 * read ahead, kept, and answered in order):
 *
 *   IDLE --first byte--> HEAD --head complete--> BODY --complete--> HANDLER
 *     ^   idle_timeout:      header_timeout: 408     body_timeout: 408   |
 *     |   closed quietly                                                 |
 *     +---- response ended and every byte handed to the kernel <---------+
 *           (the next pipelined request is parsed from the kept bytes,
 *            with the header timeout counted from when they arrived)
 *
 * Limits (cn_http_server_limits_t; 0 takes the default shown there):
 *   - max_connections: at the limit a new connection evicts, in this order,
 *     the oldest idle keep-alive connection that is not privileged, the
 *     oldest non-privileged connection still sending a request head, the
 *     oldest idle privileged connection; if none is evictable (all busy),
 *     the new connection is closed at accept. Idle connections therefore
 *     can never lock out a new one: 64 idle keep-alive clients of
 *     /healthz cannot keep an operator's authenticated PUT out. The
 *     embedding layer marks a connection privileged
 *     (cn_http_conn_set_privileged, e.g. after a valid token).
 *   - header/body bytes: see cn_http_limits_t (http.h); 413, 414, 431.
 *   - max_pipelined_bytes: bytes read ahead while a request is handled;
 *     over it the connection stops reading until they are consumed.
 *   - output: the bytes of responses not yet taken by the kernel. A
 *     handler streaming a body is told to pause (cn_http_flow_fn) at
 *     high_water_bytes and to resume at low_water_bytes; a body write that
 *     would take the unsent bytes over max_output_bytes is refused
 *     (CN_ETOOBIG). A whole response handed over at once
 *     (cn_http_respond_take) is sent from the handler's buffer, never
 *     copied. Heads are bounded by CN_HTTP_MAX_RESPONSE_HEAD_BYTES.
 *   - send_timeout: while output is unsent and the kernel has taken none
 *     of it for send_timeout_ms, the client is not reading: the connection
 *     is closed (and a deferred response cancelled). Memory per connection
 *     so stays bounded by the caps above, whatever the client does.
 *
 * Errors the layer answers itself, with a JSON body {"error": "...",
 * "status": N} and Connection: close (then a lingering close: our side is
 * shut down and unread bytes are discarded for up to 2 s, so the client
 * sees the answer rather than a reset): 400 malformed (http.h lists the
 * checks), 404 no route, 405 method not allowed on a route (with Allow),
 * 408 head or body too slow, 413 body too large, 414 target too long, 431
 * header block too large, 501 transfer coding not chunked, 505 HTTP
 * version not 1.x. cn_http_server_set_reject_cb sees each (for counters
 * and logs).
 *
 * Half-close: a client that shuts down its side after sending requests
 * gets every complete request answered, then the connection closes. A
 * reset, or an EOF in the middle of a request, closes at once.
 *
 * Deferred responses: a handler may return without answering and answer
 * later from the same loop (after uv_queue_work, or a uv_async woken by
 * another thread). It must then call cn_http_req_on_cancel before it
 * returns: if the connection closes first (client gone, send timeout,
 * server stopping) the cancel callback runs once, and after it the
 * request pointer is dead and must not be used. A handler that returns
 * without answering and without a cancel callback is a bug: the process
 * aborts with a message (a use-after-free later would be worse).
 *
 * The process must ignore SIGPIPE (canary serve does): a write to a
 * client that reset its connection is an error here, not a signal.
 *
 * Threads: a server lives on the uv_loop_t it is given; every function
 * must be called on that loop's thread. One loop may run several servers.
 * The hot path allocates nothing per request once a connection's buffers
 * have grown (they are kept, up to 16 KiB each, across requests), writes
 * with uv_try_write first (no write request, no epoll_ctl when the socket
 * takes it all), keeps reading across requests (no epoll_ctl per request),
 * and sends a head with the first body bytes in one system call.
 */
#ifndef CN_HTTP_SERVER_H
#define CN_HTTP_SERVER_H

#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct cn_http_server_s cn_http_server_t;
typedef struct cn_http_conn_s cn_http_conn_t;
/* A request being handled. It lives inside its connection: valid from the
 * handler call until the response ends or the cancel callback returns. */
typedef struct cn_http_conn_s cn_http_req_t;

#define CN_HTTP_DEFAULT_MAX_CONNECTIONS 10000u
#define CN_HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000u
#define CN_HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000u
#define CN_HTTP_DEFAULT_BODY_TIMEOUT_MS 30000u
#define CN_HTTP_DEFAULT_SEND_TIMEOUT_MS 30000u
#define CN_HTTP_DEFAULT_MAX_PIPELINED_BYTES ((size_t)256 * 1024)
#define CN_HTTP_DEFAULT_HIGH_WATER_BYTES ((size_t)256 * 1024)
#define CN_HTTP_DEFAULT_LOW_WATER_BYTES ((size_t)64 * 1024)
#define CN_HTTP_DEFAULT_MAX_OUTPUT_BYTES ((size_t)1024 * 1024)
/* The largest response head the writer builds (status line and headers). */
#define CN_HTTP_MAX_RESPONSE_HEAD_BYTES ((size_t)96 * 1024)
/* How long a closing connection waits for the client to close. */
#define CN_HTTP_LINGER_MS 2000u

typedef struct cn_http_server_limits_s {
    cn_http_limits_t request; /* head and body of a request (http.h) */
    unsigned max_connections;
    uint32_t header_timeout_ms; /* first byte of a head to its end */
    uint32_t idle_timeout_ms;   /* keep-alive wait for the next request */
    uint32_t body_timeout_ms;   /* end of the head to the end of the body */
    uint32_t send_timeout_ms;   /* unsent output with no progress */
    size_t max_pipelined_bytes;
    size_t high_water_bytes; /* unsent output at which streaming pauses */
    size_t low_water_bytes;  /* ... and below which it resumes */
    size_t max_output_bytes; /* unsent output a body write may not pass */
} cn_http_server_limits_t;

/* A handler: called with a whole request; answers with the functions
 * below, now or later (see "Deferred responses" above). */
typedef void (*cn_http_handler_fn)(cn_http_req_t *req, void *data);
/* The connection closed before the response ended. */
typedef void (*cn_http_cancel_fn)(cn_http_req_t *req, void *data);
/* Backpressure: paused true when the client's unsent bytes reached the
 * high-water mark (stop producing), false when they fell to the low-water
 * mark (produce again). */
typedef void (*cn_http_flow_fn)(cn_http_req_t *req, bool paused, void *data);

/* Route flags. Bits from CN_HTTP_ROUTE_USER up are the embedding layer's
 * (the admin API marks routes that need a token); the server ignores them. */
#define CN_HTTP_ROUTE_PREFIX 1u /* path is a prefix ("" or "/": every path) */
#define CN_HTTP_ROUTE_USER (1u << 16)

/* A method bit for route masks: CN_HTTP_METHOD(HTTP_GET) | ... */
#define CN_HTTP_METHOD(m) (1ull << (m))
#define CN_HTTP_ANY_METHOD 0ull

typedef struct cn_http_route_s {
    uint64_t methods; /* CN_HTTP_METHOD bits; 0: any. HEAD matches GET. */
    const char *path; /* compared with the target's path (before '?');
                         borrowed: must outlive the server */
    unsigned flags;
    cn_http_handler_fn handler;
    void *data;
} cn_http_route_t;

/* Called for every error response the layer makes itself (400..505) and
 * for each eviction (status 0), for counters and logs. text is one line. */
typedef void (*cn_http_reject_fn)(cn_http_server_t *s, cn_http_conn_t *c,
                                  unsigned status, const char *text, void *data);

/* A server on `loop` (borrowed; must outlive the server). limits NULL:
 * the defaults. Allocation aborts on OOM. */
cn_http_server_t *cn_http_server_new(uv_loop_t *loop,
                                     const cn_http_server_limits_t *limits);

/* Bind to addr (port 0 picks one) and listen. 0, or a negative libuv
 * error (uv_strerror names it). */
int cn_http_server_listen(cn_http_server_t *s, const struct sockaddr *addr,
                          int backlog);
/* Listen on an already bound socket (the proxy's SO_REUSEPORT sockets);
 * the server owns fd after a 0 return. 0, or a negative libuv error. */
int cn_http_server_listen_fd(cn_http_server_t *s, int fd, int backlog);
/* The bound address as "host:port" (after listen), or "". */
const char *cn_http_server_address(const cn_http_server_t *s);

/* New limits (0 fields take the defaults): timeouts apply from the next
 * time a timer is armed, the rest to connections accepted from now. */
void cn_http_server_set_limits(cn_http_server_t *s,
                               const cn_http_server_limits_t *limits);

/* Register a route (copied). Routes are tried in the order added; the
 * first whose path matches and whose methods include the request's wins.
 * A path match with no method match is 405 with Allow; no match is 404. */
void cn_http_server_add_route(cn_http_server_t *s, const cn_http_route_t *route);
void cn_http_server_set_reject_cb(cn_http_server_t *s, cn_http_reject_fn fn,
                                  void *data);
/* Called when a connection is accepted (opened true) and when it closes
 * (false), once each, for connection gauges. */
typedef void (*cn_http_conn_fn)(cn_http_server_t *s, cn_http_conn_t *c, bool opened,
                                void *data);
void cn_http_server_set_conn_cb(cn_http_server_t *s, cn_http_conn_fn fn, void *data);

/* Stop accepting; close idle connections now; busy ones close after their
 * response. The loop ends once they are gone (if nothing else runs). */
void cn_http_server_shutdown(cn_http_server_t *s);
/* Close every connection now (deferred responses are cancelled). */
void cn_http_server_close_all(cn_http_server_t *s);
/* Shut down, close everything, and free the server once its handles have
 * closed (run the loop until then). NULL is a no-op. */
void cn_http_server_free(cn_http_server_t *s);

/* Open connections, and how many were evicted since the start. */
unsigned cn_http_server_connections(const cn_http_server_t *s);
uint64_t cn_http_server_evictions(const cn_http_server_t *s);

/* ------------------------------------------------------------- requests */

/* The request: valid until the response ends or the cancel callback. */
const cn_http_message_t *cn_http_req_message(const cn_http_req_t *req);
/* The route that matched (NULL for none). */
const cn_http_route_t *cn_http_req_route(const cn_http_req_t *req);
/* uv_hrtime() of the request's first byte (for latency). */
uint64_t cn_http_req_start_ns(const cn_http_req_t *req);
/* The connection closes after this response (Connection: close, HTTP/1.0
 * without keep-alive, half-close, or the server shutting down). */
bool cn_http_req_closes(const cn_http_req_t *req);
void cn_http_req_on_cancel(cn_http_req_t *req, cn_http_cancel_fn fn, void *data);
void cn_http_req_on_flow(cn_http_req_t *req, cn_http_flow_fn fn, void *data);
/* Response bytes not yet taken by the kernel (queued here or in libuv). */
size_t cn_http_req_unsent(const cn_http_req_t *req);

/* The peer as "ip:port" ("?" if unknown), formatted on each call into a
 * buffer of the server's: valid until the next call for any connection of
 * the same server (one loop thread). */
const char *cn_http_conn_peer(const cn_http_conn_t *c);
/* Mark the connection privileged (authenticated): evicted last. */
void cn_http_conn_set_privileged(cn_http_conn_t *c);
bool cn_http_conn_privileged(const cn_http_conn_t *c);
/* The connection of a request (the same object today). */
cn_http_conn_t *cn_http_req_conn(cn_http_req_t *req);

/* ------------------------------------------------------------- responses */

/* Body length values for cn_http_response_head_end. */
#define CN_HTTP_BODY_CHUNKED (-1) /* unknown length: chunked encoding */
#define CN_HTTP_BODY_NONE                                                              \
    (-2) /* no body, and no framing header from the layer                              \
            (1xx/204/304, or a response to HEAD whose                                  \
            caller repeats an upstream's Content-Length) */

/* Response-head writer. _begin writes the status line (reason from
 * cn_http_reason), _header one header (name and value as given; the
 * caller keeps CR and LF out of them), _head_end the framing: Content-Length
 * (body_len >= 0) or Transfer-Encoding: chunked, "Connection: close" when
 * the connection closes after, and the empty line. Content-Length,
 * Transfer-Encoding and Connection must not be added with _header. The
 * head is queued, not sent: it goes out with the first body bytes, or at
 * _end, in one write. A response to HEAD keeps its Content-Length and
 * drops body bytes. */
void cn_http_response_begin(cn_http_req_t *req, unsigned status);
void cn_http_response_header(cn_http_req_t *req, const char *name, size_t name_len,
                             const char *value, size_t value_len);
void cn_http_response_header_u64(cn_http_req_t *req, const char *name, size_t name_len,
                                 uint64_t value);
void cn_http_response_head_end(cn_http_req_t *req, int64_t body_len);

/* Body bytes (copied if the socket does not take them at once). 0 (and
 * maybe a flow pause), or CN_ETOOBIG: len is over max_output_bytes, or the
 * unsent bytes would pass it (nothing is written; split the write, or
 * honour the pause), or CN_EIO: the connection failed and is closed; the
 * cancel callback does not run for it, and req is dead. Errors inside the
 * other response functions close the connection the same way, silently:
 * the response was the handler's last word anyway. */
int cn_http_response_write(cn_http_req_t *req, const void *data, size_t len);
/* The response is complete. For chunked, writes the last chunk. After it
 * req is no longer the handler's. */
void cn_http_response_end(cn_http_req_t *req);
/* Give up on a response that has started (the upstream failed midway):
 * the connection is closed, so the client sees a cut response, never a
 * wrong one. No cancel callback runs. After it req is dead. */
void cn_http_response_abort(cn_http_req_t *req);

/* A whole response in one call: status, optional Content-Type, extra
 * header lines (each "Name: value\r\n"; NULL for none), body copied. */
void cn_http_respond(cn_http_req_t *req, unsigned status, const char *content_type,
                     const char *extra_headers, const void *body, size_t body_len);
/* The same, taking `body` (malloc'd; freed by the layer, also on error). */
void cn_http_respond_take(cn_http_req_t *req, unsigned status, const char *content_type,
                          const char *extra_headers, char *body, size_t body_len);
/* A JSON error {"error": text, "status": N}. */
void cn_http_respond_error(cn_http_req_t *req, unsigned status, const char *text);

#endif
