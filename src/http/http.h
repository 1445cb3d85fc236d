/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * HTTP/1.1 message framing for the data plane and the admin API: an
 * incremental reader over http-parser that turns bytes off a socket into
 * whole messages (request or response line, headers, de-chunked body), with
 * limits that map to the right status codes.
 *
 * The reader buffers a whole message. That is deliberate: the router needs
 * the whole request body to retry it on stable and to copy it to the shadow,
 * and the whole response body to read the model's prediction. Model
 * requests and responses are small; the body limit (default 16 MiB) bounds
 * the memory one connection can take.
 *
 * Pipelining: cn_http_reader_feed() stops at the end of the first complete
 * message and reports how many bytes it consumed; the caller handles the
 * message, calls cn_http_reader_next(), and feeds the rest. So pipelined
 * requests are answered one at a time, in order.
 *
 * Stricter than http-parser: Debian builds libhttp_parser without
 * HTTP_PARSER_STRICT, so on top of it the reader refuses whitespace inside
 * a header name ("Transfer-Encoding : chunked"), obsolete line folding
 * (also when its first line is empty, "X:\r\n folded", which http-parser
 * takes for leading whitespace), control bytes in the request target or in
 * a header value (http-parser lets one through as a value's first byte),
 * HTTP versions other than 1.x (505 for a request), transfer codings other
 * than a single "chunked", and (responses) status codes outside 100..599
 * and 101 Switching Protocols. Framing is checked byte by byte beside
 * http-parser (RFC 9112 sections 2.2 and 7.1): a CR anywhere in the head
 * or the chunk framing must be followed by LF, the chunk data must be
 * followed by exactly CRLF (http-parser takes any two bytes), and a chunk
 * extension may not hold a bare LF or another control byte. A request
 * with more than one Host header, or in absolute form ("GET http://a/ ...")
 * with a Host header naming another authority, is refused with 400:
 * the proxy and the upstream could read different targets (HAProxy 2.6
 * answers 400 to both). It ignores any body
 * a 1xx, 204 or 304 response claims to have (RFC 9112 section 6.3), and
 * skips 1xx interim responses.
 *
 * Pure: no I/O, no locks; one reader per connection. The one piece of
 * global state is http-parser's own, process-wide cap on the raw bytes of a
 * message head: the first cn_http_reader_init() sets it, once, to
 * CN_HTTP_MAX_HEADER_BYTES_LIMIT plus 8 KiB of framing, so that the limit
 * in cn_http_limits_t is the one that fires. Nothing else in the process
 * should call http_parser_set_max_header_size().
 */
#ifndef CN_HTTP_HTTP_H
#define CN_HTTP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

#define CN_HTTP_DEFAULT_MAX_HEADER_BYTES ((size_t)32 * 1024)
#define CN_HTTP_DEFAULT_MAX_BODY_BYTES ((size_t)16 * 1024 * 1024)
#define CN_HTTP_MAX_HEADERS 128u
/* The largest max_header_bytes accepted; larger values are clamped to it. */
#define CN_HTTP_MAX_HEADER_BYTES_LIMIT ((size_t)80 * 1024)

typedef enum cn_http_kind_e {
    CN_HTTP_REQUEST = 0,
    CN_HTTP_RESPONSE = 1,
} cn_http_kind_t;

typedef struct cn_http_limits_s {
    /* Request target (or status reason phrase) plus every header name and
     * value, in bytes, and at most CN_HTTP_MAX_HEADERS headers. Over:
     * CN_HTTP_ERROR with status 431 (request) or 502 (response). At most
     * CN_HTTP_MAX_HEADER_BYTES_LIMIT; more is clamped to it. */
    size_t max_header_bytes;
    /* De-chunked body bytes. Over: 413 (request) or 502 (response). A
     * Content-Length over it fails as soon as the headers are in. Memory
     * follows the bytes received, never the length a peer claims. */
    size_t max_body_bytes;
} cn_http_limits_t;

typedef struct cn_http_header_s {
    const char *name; /* as sent (case kept); NUL-terminated at name_len */
    size_t name_len;
    const char *value; /* without leading/trailing OWS; NUL-terminated */
    size_t value_len;
} cn_http_header_t;

typedef enum cn_http_feed_e {
    CN_HTTP_NEED_MORE = 0, /* every byte consumed, the message is not complete */
    CN_HTTP_COMPLETE = 1,  /* a whole message is ready in reader->msg */
    CN_HTTP_ERROR = 2,     /* malformed or over a limit: see error_status */
    CN_HTTP_HEAD = 3,      /* a streamed message's head is in reader->msg (no
                              body yet): feed the rest (cn_http_reader_stream) */
} cn_http_feed_t;

/* A whole message. Every pointer points into the reader's buffers (or to a
 * static "") and is valid until cn_http_reader_next, _reset or _dispose.
 * Names, values, url and body are NUL-terminated at [len] as a convenience;
 * the body may hold NUL bytes of its own, so body_len is what counts. */
typedef struct cn_http_message_s {
    /* request (in a response: method 0, method_name "", url "") */
    enum http_method method;
    const char *method_name; /* "GET", "POST", ... (static string) */
    const char *url;         /* request target as sent, NUL-terminated */
    size_t url_len;
    /* response (0 in a request) */
    unsigned status_code;
    /* both */
    unsigned http_major, http_minor;
    bool keep_alive;           /* http_should_keep_alive(): 1.1 without "close", or
                                  1.0 with "keep-alive"; and never for a response
                                  whose body ended at EOF */
    bool chunked;              /* the body arrived chunked (it is stored de-chunked) */
    cn_http_header_t *headers; /* in order; trailers are dropped */
    size_t nheaders;
    const char *body; /* de-chunked; NUL-terminated at body_len; "" if none */
    size_t body_len;
    size_t wire_bytes;      /* bytes of this message as received, head + body,
                           including empty lines and (for a response) any
                           1xx interim responses before it */
    uint64_t body_streamed; /* streamed (cn_http_reader_stream): every body
                               byte given to the sink; body holds a prefix */
} cn_http_message_t;

/* Private layout; use the functions below. Callers embed it; it holds no
 * pointer to itself, so it may be moved between calls. */
typedef struct cn_http_reader_s {
    /* read-only */
    cn_http_message_t msg;
    unsigned error_status; /* on CN_HTTP_ERROR: 400, 413, 414, 431, 501 or
                              505 for a request (501: a transfer coding other
                              than chunked; 505: an HTTP version other
                              than 1.x); 502 for any bad response */
    char error_text[160];  /* on CN_HTTP_ERROR: one line, what and where */
    /* private */
    http_parser parser;
    cn_http_kind_t kind;
    cn_http_limits_t limits;
    char *head; /* url, then each header's name and value, NUL-terminated */
    size_t head_len, head_cap;
    size_t head_bytes;      /* counted against max_header_bytes */
    cn_http_header_t *hdrs; /* lengths while parsing; pointers at the end */
    size_t *hoff;           /* per header: name offset, value offset */
    size_t nhdr, hdr_cap;
    int last_cb; /* the string being received: none, url, name or value */
    char *body;
    size_t body_len, body_cap;
    size_t body_max_cap; /* Content-Length + 1, or max_body_bytes + 1 */
    size_t wire_bytes;
    const char *feed_start; /* the buffer being fed, for error offsets */
    const char *value_end;  /* where the last value piece ended */
    bool value_open;        /* ... which was the end of the last buffer */
    bool started;           /* the current message has begun */
    bool headers_done;      /* later name/value callbacks are trailers */
    bool complete;
    bool eof_complete; /* completed by cn_http_reader_eof() */
    bool skip_body;    /* response to HEAD: no body expected */
    bool body_skipped; /* headers_complete told http-parser "no body" */
    /* read-only: the current request's head is complete and carries
     * "Expect: 100-continue" (HTTP/1.1): the client may wait for an
     * interim 100 Continue before sending its body. */
    bool expect_continue;
    unsigned fail_status; /* set by a callback that refused the message */
    /* streaming (cn_http_reader_stream) */
    int (*body_fn)(void *ctx, const char *data, size_t len);
    void *body_ctx;
    size_t body_keep;
    bool head_ready; /* the head is in msg; feed returns CN_HTTP_HEAD once */
    /* The framing scanner (reader.c, scan_framing) that runs over the
     * bytes http-parser consumed, for the checks it leaves out. */
    unsigned char scan_state;
    bool chunked_body;      /* the current message's body is chunked */
    unsigned interim_heads; /* 1xx heads parsed but not yet scanned */
    uint64_t scan_count;    /* chunk size being read, or data bytes left */
} cn_http_reader_t;

/* Prepare r. limits NULL: the defaults above. Allocation aborts on OOM. */
void cn_http_reader_init(cn_http_reader_t *r, cn_http_kind_t kind,
                         const cn_http_limits_t *limits);
/* Free r's buffers. r may be disposed twice, or re-initialised after. */
void cn_http_reader_dispose(cn_http_reader_t *r);

/*
 * Parse up to len bytes of data (borrowed; only read during the call).
 * *consumed gets the number of bytes used: all of them on NEED_MORE; on
 * COMPLETE possibly fewer (the rest belongs to the next, pipelined,
 * message; feed it after cn_http_reader_next); on ERROR the offset of the
 * offending byte, roughly. On ERROR the reader is unusable until
 * cn_http_reader_reset; the connection should answer error_status
 * (requests) and close.
 * A request that asks to switch protocols (Upgrade with "Connection:
 * upgrade") or uses CONNECT is refused with 400: they are not proxied. A
 * lone Upgrade header without the Connection option is no upgrade (RFC 9110
 * section 7.8); it is hop-by-hop and simply not forwarded.
 * len 0 is a no-op (NEED_MORE); the end of the stream is cn_http_reader_eof.
 * Feeding a reader that holds a COMPLETE message returns COMPLETE again,
 * consuming nothing, until cn_http_reader_next.
 * A response reader skips 1xx interim responses (100 Continue, 103 Early
 * Hints) by itself: msg is always a final response.
 */
cn_http_feed_t cn_http_reader_feed(cn_http_reader_t *r, const char *data, size_t len,
                                   size_t *consumed);

/*
 * The peer closed its side. For a response delimited by EOF (no length,
 * not chunked) this completes the message: returns COMPLETE. Otherwise
 * returns NEED_MORE if nothing of a message had arrived (a clean close), or
 * ERROR (400/502) if a message was cut short. On a reader that already
 * holds a COMPLETE message or an ERROR, returns that again.
 */
cn_http_feed_t cn_http_reader_eof(cn_http_reader_t *r);

/* The next message is the response to a HEAD request: no body, whatever
 * its headers say. Call after init, _next or _reset and before feeding the
 * message's first byte (response readers only); _next and _reset clear it. */
void cn_http_reader_expect_no_body(cn_http_reader_t *r);

/*
 * Stream the next message's body instead of keeping it (the proxy relays
 * responses it must not hold whole). Call after init, _next or _reset and
 * before the message's first byte; _next and _reset end it.
 *
 * cn_http_reader_feed then returns CN_HTTP_HEAD once, as soon as the head
 * of the final response (or the request) is complete: msg has the start
 * line and headers, body_len 0. Feed the rest as usual. Each piece of the
 * de-chunked body goes to fn(ctx, data, len) (data borrowed for the call)
 * as it arrives; a non-zero return stops the reader (CN_HTTP_ERROR, 502 or
 * 400, "the body's consumer stopped"). msg.body keeps only the first
 * keep_bytes of the body (for a prediction extractor), msg.body_streamed
 * counts all of it. max_body_bytes no longer applies: memory does not grow
 * with the body. COMPLETE is returned at the end as before.
 */
void cn_http_reader_stream(cn_http_reader_t *r,
                           int (*fn)(void *ctx, const char *data, size_t len),
                           void *ctx, size_t keep_bytes);

/* True once the first byte of the current message (not counting empty
 * lines before it) has been fed: a close before that is a clean one. */
bool cn_http_reader_started(const cn_http_reader_t *r);

/* True once the head of the current message is complete (its body may
 * still be arriving): a server's body timeout starts here. */
bool cn_http_reader_head_done(const cn_http_reader_t *r);

/* Get ready for the next message on the same connection (after COMPLETE).
 * Keeps buffers of up to 16 KiB each for reuse and frees larger ones, so an
 * idle keep-alive connection holds little memory. */
void cn_http_reader_next(cn_http_reader_t *r);

/* Forget everything, as after init (after an ERROR, or to reuse r on a new
 * connection). Keeps the same limits, and small buffers as _next does. */
void cn_http_reader_reset(cn_http_reader_t *r);

/* The first header named `name` (ASCII case-insensitive), or NULL. */
const cn_http_header_t *cn_http_find_header(const cn_http_message_t *m,
                                            const char *name);

/*
 * The value of cookie `name` in the message's Cookie header(s), per RFC
 * 6265 "name=value; name2=value2": every Cookie header is searched in
 * order, names match exactly (case-sensitive), and whitespace around names
 * and values is trimmed; a quoted value is returned with its quotes.
 * Returns true and sets *value and *len (borrowed, not NUL-terminated) to the
 * first match.
 */
bool cn_http_find_cookie(const cn_http_message_t *m, const char *name,
                         const char **value, size_t *len);

/*
 * True for the hop-by-hop headers a proxy must not forward (RFC 9110
 * 7.6.1): Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
 * Transfer-Encoding, Upgrade; plus Content-Length, which the proxy
 * rewrites because it forwards bodies de-chunked. ASCII case-insensitive.
 * The headers a Connection header names are hop-by-hop too: see
 * cn_http_connection_lists.
 */
bool cn_http_is_hop_header(const char *name, size_t len);

/* True if a Connection header of m lists the option `name` (ASCII
 * case-insensitive), as "Connection: close, X-Trace" lists "x-trace":
 * RFC 9110 7.6.1 makes a header so named hop-by-hop, so a proxy drops it. */
bool cn_http_connection_lists(const cn_http_message_t *m, const char *name, size_t len);

/* The reason phrase of a status code ("OK", "Bad Gateway"; "Unknown"). */
const char *cn_http_reason(unsigned status);

#endif
