/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HTTP/1.1 message reader: whole messages out of bytes fed in any
 * pieces, pipelining, keep-alive, the limits and their status codes, the
 * checks on top of http-parser, responses (length, chunked, EOF, HEAD, 1xx,
 * 204, 304), reuse, and the header helpers.
 */
#include "http/http.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S(lit) lit, sizeof lit - 1

/* A printable summary of a message, to compare two parses. */
static void describe(const cn_http_message_t *m, char *out, size_t outlen)
{
    size_t n =
        (size_t)snprintf(out, outlen,
                         "%s %s %u.%u status=%u keep_alive=%d chunked=%d "
                         "wire=%zu\n",
                         m->method_name, m->url, m->http_major, m->http_minor,
                         m->status_code, m->keep_alive, m->chunked, m->wire_bytes);
    for (size_t i = 0; i < m->nheaders && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "[%s]=[%s]\n", m->headers[i].name,
                              m->headers[i].value);
    if (n < outlen)
        snprintf(out + n, outlen - n, "body(%zu)=[%s]", m->body_len, m->body);
}

/* The outcome of feeding data in pieces cut at cuts[0..ncuts): one line
 * per message (its description), or "ERROR <status>", then "EOF <state>". */
static void feed_in_pieces(cn_http_kind_t kind, const char *data, size_t len,
                           const size_t *cuts, size_t ncuts, char *out, size_t outlen)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, kind, NULL);
    size_t n = 0, start = 0;
    out[0] = '\0';
    for (size_t c = 0; c <= ncuts; c++) {
        size_t end = c < ncuts ? cuts[c] : len;
        while (start < end) {
            size_t used = 0;
            cn_http_feed_t st =
                cn_http_reader_feed(&r, data + start, end - start, &used);
            cr_assert_leq(used, end - start);
            if (st == CN_HTTP_ERROR) {
                n +=
                    (size_t)snprintf(out + n, outlen - n, "ERROR %u\n", r.error_status);
                cn_http_reader_dispose(&r);
                return;
            }
            start += used;
            if (st == CN_HTTP_NEED_MORE) {
                cr_assert_eq(start, end);
                break;
            }
            describe(&r.msg, out + n, outlen - n);
            n += strlen(out + n);
            n += (size_t)snprintf(out + n, outlen - n, "\n");
            cn_http_reader_next(&r);
        }
    }
    cn_http_feed_t st = cn_http_reader_eof(&r);
    if (st == CN_HTTP_COMPLETE) {
        describe(&r.msg, out + n, outlen - n);
        n += strlen(out + n);
    }
    snprintf(out + n, outlen - n, "EOF %d %u\n", (int)st, r.error_status);
    cn_http_reader_dispose(&r);
}

/* Feed a whole message; it must complete, using every byte. */
static void feed_whole(cn_http_reader_t *r, const char *data, size_t len)
{
    size_t used = 0;
    cn_http_feed_t st = cn_http_reader_feed(r, data, len, &used);
    cr_assert_eq(st, CN_HTTP_COMPLETE, "status %d: %s", (int)st, r->error_text);
    cr_assert_eq(used, len);
}

/* Feed data that must be refused; returns error_status. */
static unsigned feed_error(cn_http_reader_t *r, const char *data, size_t len)
{
    size_t used = 0;
    cn_http_feed_t st = cn_http_reader_feed(r, data, len, &used);
    cr_assert_eq(st, CN_HTTP_ERROR, "expected an error, got %d", (int)st);
    cr_assert_neq(r->error_text[0], '\0');
    cr_assert_null(strchr(r->error_text, '\n'), "error text is one line");
    return r->error_status;
}

static unsigned request_error(const char *data, size_t len, char *text, size_t textlen)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    unsigned status = feed_error(&r, data, len);
    if (text)
        snprintf(text, textlen, "%s", r.error_text);
    cn_http_reader_dispose(&r);
    return status;
}

Test(http, parses_a_simple_get)
{
    static const char req[] = "GET /v2/models/iris/ready?x=1 HTTP/1.1\r\n"
                              "Host: example.com\r\n"
                              "User-Agent: t/1\r\n"
                              "\r\n";
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    cr_assert_not(cn_http_reader_started(&r));
    feed_whole(&r, S(req));
    cr_assert(cn_http_reader_started(&r));
    cr_assert_eq(r.msg.method, HTTP_GET);
    cr_assert_str_eq(r.msg.method_name, "GET");
    cr_assert_str_eq(r.msg.url, "/v2/models/iris/ready?x=1");
    cr_assert_eq(r.msg.url_len, 25);
    cr_assert_eq(r.msg.http_major, 1);
    cr_assert_eq(r.msg.http_minor, 1);
    cr_assert_eq(r.msg.status_code, 0);
    cr_assert(r.msg.keep_alive);
    cr_assert_not(r.msg.chunked);
    cr_assert_eq(r.msg.nheaders, 2);
    cr_assert_str_eq(r.msg.headers[0].name, "Host");
    cr_assert_eq(r.msg.headers[0].name_len, 4);
    cr_assert_str_eq(r.msg.headers[0].value, "example.com");
    cr_assert_eq(r.msg.headers[0].value_len, 11);
    cr_assert_str_eq(r.msg.headers[1].name, "User-Agent");
    cr_assert_str_eq(r.msg.headers[1].value, "t/1");
    cr_assert_str_eq(r.msg.body, "");
    cr_assert_eq(r.msg.body_len, 0);
    cr_assert_eq(r.msg.wire_bytes, sizeof req - 1);
    cn_http_reader_dispose(&r);
}

Test(http, parses_a_post_with_content_length)
{
    static const char req[] = "POST /v2/models/iris/infer HTTP/1.1\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 13\r\n"
                              "\r\n"
                              "{\"inputs\":[]}";
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S(req));
    cr_assert_eq(r.msg.method, HTTP_POST);
    cr_assert_str_eq(r.msg.method_name, "POST");
    cr_assert_eq(r.msg.body_len, 13);
    cr_assert_str_eq(r.msg.body, "{\"inputs\":[]}");
    cr_assert_not(r.msg.chunked);
    cn_http_reader_dispose(&r);
}

Test(http, keeps_nul_bytes_in_the_body_and_terminates_it)
{
    static const char req[] = "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\na\0b";
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S(req));
    cr_assert_eq(r.msg.body_len, 3);
    cr_assert_eq(memcmp(r.msg.body, "a\0b", 4), 0, "three bytes and a NUL");
    cn_http_reader_dispose(&r);
}

Test(http, stores_a_chunked_body_dechunked)
{
    static const char req[] = "POST /infer HTTP/1.1\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "5\r\nhello\r\n"
                              "7;ext=1\r\n, world\r\n"
                              "0\r\n"
                              "X-Trailer: dropped\r\n"
                              "\r\n";
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S(req));
    cr_assert(r.msg.chunked);
    cr_assert_eq(r.msg.body_len, 12);
    cr_assert_str_eq(r.msg.body, "hello, world");
    cr_assert_eq(r.msg.nheaders, 1, "trailers are not headers");
    cr_assert_null(cn_http_find_header(&r.msg, "X-Trailer"));
    cr_assert_eq(r.msg.wire_bytes, sizeof req - 1);
    cn_http_reader_dispose(&r);
}

Test(http, trims_whitespace_around_header_values)
{
    static const char req[] = "GET / HTTP/1.1\r\n"
                              "A:   spaced out \t \r\n"
                              "B:\r\n"
                              "C: \r\n"
                              "\r\n";
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S(req));
    cr_assert_eq(r.msg.nheaders, 3);
    cr_assert_str_eq(r.msg.headers[0].value, "spaced out");
    cr_assert_eq(r.msg.headers[0].value_len, 10);
    cr_assert_str_eq(r.msg.headers[1].value, "");
    cr_assert_eq(r.msg.headers[1].value_len, 0);
    cr_assert_str_eq(r.msg.headers[2].value, "");
    cn_http_reader_dispose(&r);
}

static const char split_messages[] =
    "POST /v2/models/m/infer?trace=1 HTTP/1.1\r\n"
    "Host: upstream:8080\r\n"
    "Cookie: session=abc; canary=stable\r\n"
    "Content-Length: 11\r\n"
    "\r\n"
    "{\"x\":[1,2]}"
    "\r\n" /* an empty line between messages is allowed */
    "PUT /chunked HTTP/1.1\r\n"
    "Transfer-Encoding: chunked\r\n"
    "X-Long-Header-Name: a value long enough to be cut in several places\r\n"
    "\r\n"
    "3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n"
    "GET /last HTTP/1.0\r\n\r\n";

Test(http, gives_the_same_messages_at_every_split_point)
{
    const size_t len = sizeof split_messages - 1;
    static char whole[8192], split[8192];
    feed_in_pieces(CN_HTTP_REQUEST, split_messages, len, NULL, 0, whole, sizeof whole);
    cr_assert_not_null(strstr(whole, "POST /v2/models/m/infer?trace=1 1.1"));
    cr_assert_not_null(strstr(whole, "body(19)=[abc0123456789abcdef]"));
    cr_assert_not_null(strstr(whole, "GET /last 1.0 status=0 keep_alive=0"));
    cr_assert_not_null(strstr(whole, "EOF 0 0"), "%s", whole);

    for (size_t cut = 0; cut <= len; cut++) {
        feed_in_pieces(CN_HTTP_REQUEST, split_messages, len, &cut, 1, split,
                       sizeof split);
        cr_assert_str_eq(split, whole, "split at byte %zu", cut);
    }

    size_t *cuts = malloc(len * sizeof *cuts);
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    feed_in_pieces(CN_HTTP_REQUEST, split_messages, len, cuts, len, split,
                   sizeof split);
    cr_assert_str_eq(split, whole, "one byte at a time");
    free(cuts);
}

Test(http, gives_the_same_response_at_every_split_point)
{
    static const char resp[] = "HTTP/1.1 100 Continue\r\n\r\n"
                               "HTTP/1.1 200 OK\r\n"
                               "Content-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "\r\n"
                               "a\r\n{\"outputs\"\r\n"
                               "5\r\n:[1]}\r\n"
                               "0\r\n\r\n"
                               "HTTP/1.1 200 OK\r\n"
                               "\r\n"
                               "until the end";
    const size_t len = sizeof resp - 1;
    static char whole[4096], split[4096];
    feed_in_pieces(CN_HTTP_RESPONSE, resp, len, NULL, 0, whole, sizeof whole);
    cr_assert_not_null(strstr(whole, "body(15)=[{\"outputs\":[1]}]"), "%s", whole);
    cr_assert_not_null(strstr(whole, "body(13)=[until the end]EOF 1 0"), "%s", whole);
    for (size_t cut = 0; cut <= len; cut++) {
        feed_in_pieces(CN_HTTP_RESPONSE, resp, len, &cut, 1, split, sizeof split);
        cr_assert_str_eq(split, whole, "split at byte %zu", cut);
    }
}

Test(http, answers_pipelined_requests_one_at_a_time_in_order)
{
    static const char reqs[] =
        "GET /a HTTP/1.1\r\n\r\n"                         /* 19 */
        "POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi" /* 41 */
        "GET /c HTTP/1.1\r\nHost: h\r\n\r\n";             /* 28 */
    const char *data = reqs;
    size_t left = sizeof reqs - 1, used = 0;
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);

    cr_assert_eq(cn_http_reader_feed(&r, data, left, &used), CN_HTTP_COMPLETE);
    cr_assert_eq(used, 19);
    cr_assert_str_eq(r.msg.url, "/a");
    cr_assert_eq(r.msg.wire_bytes, 19);
    /* Until next(), the reader holds the message and takes nothing more. */
    cr_assert_eq(cn_http_reader_feed(&r, data + used, left - used, &used),
                 CN_HTTP_COMPLETE);
    cr_assert_eq(used, 0);
    data += 19, left -= 19;
    cn_http_reader_next(&r);

    cr_assert_eq(cn_http_reader_feed(&r, data, left, &used), CN_HTTP_COMPLETE);
    cr_assert_eq(used, 41);
    cr_assert_str_eq(r.msg.url, "/b");
    cr_assert_str_eq(r.msg.body, "hi");
    data += used, left -= used;
    cn_http_reader_next(&r);

    cr_assert_eq(cn_http_reader_feed(&r, data, left, &used), CN_HTTP_COMPLETE);
    cr_assert_eq(used, 28);
    cr_assert_eq(used, left);
    cr_assert_str_eq(r.msg.url, "/c");
    cr_assert_str_eq(cn_http_find_header(&r.msg, "host")->value, "h");
    cn_http_reader_next(&r);
    cr_assert_not(cn_http_reader_started(&r));
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_NEED_MORE, "a clean close");
    cn_http_reader_dispose(&r);
}

static bool keep_alive_of(const char *req)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, req, strlen(req));
    bool keep_alive = r.msg.keep_alive;
    cn_http_reader_dispose(&r);
    return keep_alive;
}

Test(http, keeps_alive_by_version_and_connection_header)
{
    cr_assert(keep_alive_of("GET / HTTP/1.1\r\n\r\n"));
    cr_assert_not(keep_alive_of("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
    cr_assert_not(
        keep_alive_of("GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n"));
    cr_assert(keep_alive_of("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n"));
    cr_assert_not(keep_alive_of("GET / HTTP/1.0\r\n\r\n"));
    cr_assert(keep_alive_of("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
}

/* "GET / HTTP/1.1\r\n" and `n` headers "H<i>: v\r\n", then an empty line. */
static char *request_with_headers(size_t n, size_t *len)
{
    char *buf = malloc(32 + n * 16);
    size_t w = (size_t)sprintf(buf, "GET / HTTP/1.1\r\n");
    for (size_t i = 0; i < n; i++)
        w += (size_t)sprintf(buf + w, "H%zu: v\r\n", i);
    w += (size_t)sprintf(buf + w, "\r\n");
    *len = w;
    return buf;
}

Test(http, refuses_more_than_128_headers_with_431)
{
    size_t len;
    char *req = request_with_headers(CN_HTTP_MAX_HEADERS, &len);
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, req, len);
    cr_assert_eq(r.msg.nheaders, 128);
    cr_assert_str_eq(r.msg.headers[127].name, "H127");
    free(req);

    req = request_with_headers(CN_HTTP_MAX_HEADERS + 1, &len);
    cn_http_reader_reset(&r);
    cr_assert_eq(feed_error(&r, req, len), 431);
    cr_assert_str_eq(r.error_text, "request has more than 128 header fields");
    free(req);
    cn_http_reader_dispose(&r);
}

Test(http, refuses_a_header_block_over_the_limit_with_431)
{
    /* url "/" (1) + name "X" (1) + value: exactly 100 bytes fit. */
    const cn_http_limits_t limits = {.max_header_bytes = 100, .max_body_bytes = 1000};
    char req[512];
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, &limits);
    int len = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX: %098d\r\n\r\n", 0);
    feed_whole(&r, req, (size_t)len);
    cr_assert_eq(r.msg.headers[0].value_len, 98);
    cr_assert_leq(r.head_cap, 100 + 1 + 2 * CN_HTTP_MAX_HEADERS, "bounded buffer");

    cn_http_reader_reset(&r);
    len = snprintf(req, sizeof req, "GET / HTTP/1.1\r\nX: %099d\r\n\r\n", 0);
    cr_assert_eq(feed_error(&r, req, (size_t)len), 431);
    cr_assert_str_eq(r.error_text, "request header block is over 100 bytes");

    /* The default: 32 KiB. */
    cn_http_reader_dispose(&r);
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    size_t big_len = 40 * 1024;
    char *big = malloc(big_len);
    memset(big, 'a', big_len);
    memcpy(big, "GET / HTTP/1.1\r\nCookie: ", 24);
    size_t used;
    cr_assert_eq(cn_http_reader_feed(&r, big, big_len, &used), CN_HTTP_ERROR);
    cr_assert_eq(r.error_status, 431);
    cr_assert_str_eq(r.error_text, "request header block is over 32768 bytes");
    free(big);
    cn_http_reader_dispose(&r);
}

Test(http, refuses_a_request_target_over_the_limit_with_414)
{
    /* The target alone over the header limit is 414, not 431, however
     * the bytes are cut; a target that fits is read. */
    const cn_http_limits_t limits = {.max_header_bytes = 100, .max_body_bytes = 10};
    char req[512];
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, &limits);
    int len = snprintf(req, sizeof req, "GET /%099d HTTP/1.1\r\n\r\n", 0);
    feed_whole(&r, req, (size_t)len);
    cn_http_reader_dispose(&r);
    len = snprintf(req, sizeof req, "GET /%0100d HTTP/1.1\r\n\r\n", 0);
    for (size_t cut = 1; cut < (size_t)len; cut += 7) {
        cn_http_reader_init(&r, CN_HTTP_REQUEST, &limits);
        size_t used;
        cn_http_feed_t st = cn_http_reader_feed(&r, req, cut, &used);
        if (st != CN_HTTP_ERROR)
            st = cn_http_reader_feed(&r, req + cut, (size_t)len - cut, &used);
        cr_assert_eq(st, CN_HTTP_ERROR);
        cr_assert_eq(r.error_status, 414, "cut %zu", cut);
        cr_assert_str_eq(r.error_text, "request target is over 100 bytes");
        cn_http_reader_dispose(&r);
    }
}

Test(http, clamps_the_header_limit_to_80_kib)
{
    const cn_http_limits_t limits = {.max_header_bytes = 1 << 20, .max_body_bytes = 10};
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, &limits);
    cr_assert_eq(r.limits.max_header_bytes, CN_HTTP_MAX_HEADER_BYTES_LIMIT);
    cn_http_reader_dispose(&r);
}

Test(http, refuses_a_content_length_over_the_limit_with_413_before_the_body)
{
    const cn_http_limits_t limits = {.max_header_bytes = 1024, .max_body_bytes = 10};
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, &limits);
    feed_whole(&r, S("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789"));
    cr_assert_eq(r.msg.body_len, 10);
    cr_assert_leq(r.body_cap, 11);

    cn_http_reader_reset(&r);
    /* No body byte has been sent yet: the 413 can go out at once. */
    cr_assert_eq(feed_error(&r, S("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n")),
                 413);
    cr_assert_str_eq(r.error_text,
                     "request body is over 10 bytes (Content-Length: 11)");
    cn_http_reader_dispose(&r);
}

Test(http, takes_memory_for_body_bytes_received_not_claimed)
{
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    cr_assert_eq(cn_http_reader_feed(&r,
                                     S("POST / HTTP/1.1\r\nContent-Length: 16000000\r\n"
                                       "\r\nabc"),
                                     &used),
                 CN_HTTP_NEED_MORE);
    cr_assert_leq(r.body_cap, 1024, "%zu bytes for 3", r.body_cap);
    cn_http_reader_dispose(&r);

    /* Nothing for the headers alone; then doubling stops at the exact size. */
    char req[2048];
    int head = sprintf(req, "POST / HTTP/1.1\r\nContent-Length: 1500\r\n\r\n");
    memset(req + head, 'x', 1500);
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    cr_assert_eq(cn_http_reader_feed(&r, req, (size_t)head, &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(r.body_cap, 0);
    cr_assert_eq(cn_http_reader_feed(&r, req + head, 700, &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(r.body_cap, 1024);
    cr_assert_eq(cn_http_reader_feed(&r, req + head + 700, 800, &used),
                 CN_HTTP_COMPLETE);
    cr_assert_eq(r.body_cap, 1501);
    cn_http_reader_dispose(&r);
}

Test(http, refuses_a_chunked_body_over_the_limit_with_413)
{
    const cn_http_limits_t limits = {.max_header_bytes = 1024, .max_body_bytes = 10};
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, &limits);
    feed_whole(&r, S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n"));
    cr_assert_str_eq(r.msg.body, "0123456789");

    cn_http_reader_reset(&r);
    cr_assert_eq(
        feed_error(&r, S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "6\r\n012345\r\n5\r\n")),
        413, "a chunk that cannot fit is refused before its data");
    cr_assert_str_eq(r.error_text, "request body is over 10 bytes");
    cn_http_reader_dispose(&r);
}

Test(http, refuses_garbage_with_400_naming_the_parser_error_and_offset)
{
    char text[160];
    cr_assert_eq(request_error(S("\x16\x03\x01\x02\x00"), text, sizeof text), 400);
    cr_assert_str_eq(text, "malformed request at byte 0: invalid HTTP method "
                           "(HPE_INVALID_METHOD)");
    cr_assert_eq(
        request_error(S("GET / HTTP/1.1\r\nX\x01: a\r\n\r\n"), text, sizeof text), 400);
    cr_assert_str_eq(text, "malformed request at byte 17: invalid character in header "
                           "(HPE_INVALID_HEADER_TOKEN)");
    cr_assert_eq(request_error(S("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), text,
                               sizeof text),
                 400);
    cr_assert_not_null(strstr(text, "(HPE_INVALID_CONTENT_LENGTH)"), "%s", text);
    cr_assert_eq(request_error(S("GET / HTTP/1.1\r\nContent-Length: 1\r\n"
                                 "Content-Length: 1\r\n\r\nx"),
                               text, sizeof text),
                 400, "duplicate Content-Length");
}

Test(http, counts_the_error_offset_from_the_start_of_the_message)
{
    /* Byte 17 of the second message, fed after the first. */
    static const char reqs[] = "GET /a HTTP/1.1\r\n\r\n"
                               "GET / HTTP/1.1\r\nX\x01: a\r\n\r\n";
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    cr_assert_eq(cn_http_reader_feed(&r, S(reqs), &used), CN_HTTP_COMPLETE);
    cn_http_reader_next(&r);
    cr_assert_eq(cn_http_reader_feed(&r, reqs + used, 10, &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(feed_error(&r, reqs + 19 + 10, sizeof reqs - 1 - 29), 400);
    cr_assert_not_null(strstr(r.error_text, "at byte 17:"), "%s", r.error_text);
    cn_http_reader_dispose(&r);
}

Test(http, refuses_bad_chunk_sizes_with_400)
{
    char text[160];
    cr_assert_eq(request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "zz\r\n"),
                               text, sizeof text),
                 400);
    cr_assert_not_null(strstr(text, "(HPE_INVALID_CHUNK_SIZE)"), "%s", text);
    cr_assert_eq(request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "-1\r\n"),
                               NULL, 0),
                 400);
    cr_assert_eq(request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 "fffffffffffffffffff\r\n"),
                               text, sizeof text),
                 400, "a size that overflows 64 bits");
}

Test(http, refuses_upgrade_and_connect_with_400)
{
    char text[160];
    cr_assert_eq(request_error(S("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
                                 "Upgrade: websocket\r\n\r\n"),
                               text, sizeof text),
                 400);
    cr_assert_str_eq(text, "request asks to switch protocols (Upgrade); only HTTP/1.1 "
                           "is supported");
    cr_assert_eq(
        request_error(S("GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n"
                        "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n"),
                      NULL, 0),
        400);
    cr_assert_eq(
        request_error(S("CONNECT example.com:443 HTTP/1.1\r\n\r\n"), text, sizeof text),
        400);
    cr_assert_str_eq(text, "CONNECT requests are not supported");

    /* Without the Connection option, Upgrade is just a hop-by-hop header. */
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S("GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"));
    cr_assert_str_eq(cn_http_find_header(&r.msg, "upgrade")->value, "websocket");
    cn_http_reader_dispose(&r);
}

Test(http, refuses_what_non_strict_http_parser_lets_through)
{
    char text[160];
    cr_assert_eq(
        request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n"
                        "0\r\n\r\n"),
                      text, sizeof text),
        400);
    cr_assert_str_eq(text, "malformed request at byte 34: whitespace in a header name");
    cr_assert_eq(
        request_error(S("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), text, sizeof text),
        400);
    cr_assert_not_null(strstr(text, "obsolete line folding"), "%s", text);
    cr_assert_eq(request_error(S("GET /a\tb HTTP/1.1\r\n\r\n"), text, sizeof text),
                 400);
    cr_assert_str_eq(text, "malformed request at byte 6: control character 0x09 in the "
                           "request target");
    /* http-parser checks each byte of a value but the first. */
    cr_assert_eq(
        request_error(S("GET / HTTP/1.1\r\nX:\0abc\r\n\r\n"), text, sizeof text), 400);
    cr_assert_str_eq(text, "malformed request at byte 18: control character 0x00 in a "
                           "header value");
    cr_assert_eq(
        request_error(S("GET / HTTP/1.1\r\nConnection: \x01close\r\n\r\n"), NULL, 0),
        400);
    cr_assert_eq(request_error(S("GET / HTTP/2.0\r\n\r\n"), text, sizeof text), 505);
    cr_assert_str_eq(text, "request has unsupported HTTP version 2.0");
    cr_assert_eq(request_error(S("GET /\r\n\r\n"), NULL, 0), 505, "HTTP/0.9");
}

/* The request fails with 400 and a text containing `want`, however the
 * bytes are cut into reads: whole, in two pieces at every offset, and one
 * byte at a time. */
static void assert_refused_in_any_pieces(const char *data, size_t len, const char *want)
{
    char out[4096];
    for (size_t cut = 0; cut <= len + 1; cut++) {
        cn_http_reader_t r;
        cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
        size_t start = 0;
        cn_http_feed_t st = CN_HTTP_NEED_MORE;
        while (start < len && st != CN_HTTP_ERROR) {
            /* cut == len + 1: one byte at a time */
            size_t end = cut == len + 1 ? start + 1 : start < cut ? cut : len;
            size_t used = 0;
            st = cn_http_reader_feed(&r, data + start, end - start, &used);
            cr_assert_neq(st, CN_HTTP_COMPLETE, "cut %zu: accepted", cut);
            start = end;
        }
        cr_assert_eq(st, CN_HTTP_ERROR, "cut %zu: not refused", cut);
        cr_assert_eq(r.error_status, 400, "cut %zu", cut);
        cr_assert_not_null(strstr(r.error_text, want), "cut %zu: %s", cut,
                           r.error_text);
        cn_http_reader_dispose(&r);
    }
    (void)out;
}

Test(http, chunk_data_must_be_followed_by_exactly_crlf)
{
    assert_refused_in_any_pieces(
        S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabcXX0\r\n\r\n"),
        "byte 53: chunk data not followed by CRLF");
    assert_refused_in_any_pieces(
        S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\rX0\r\n\r\n"),
        "byte 54: CR not followed by LF");
    assert_refused_in_any_pieces(
        S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\n0\r\n\r\n"),
        "chunk data not followed by CRLF");
    /* the CR of a chunk-size line, too */
    assert_refused_in_any_pieces(
        S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\rXabc\r\n0\r\n\r\n"),
        "byte 49: CR not followed by LF");
}

Test(http, chunk_extension_with_a_bare_lf_is_refused)
{
    assert_refused_in_any_pieces(
        S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3;a\nb\r\nabc\r\n0\r\n\r\n"),
        "byte 50: bare LF in a chunk extension");
    assert_refused_in_any_pieces(
        S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3;a=\x01\r\nabc\r\n0\r\n\r\n"),
        "control character in a chunk extension");
    /* A well-formed extension is still read, and ignored. */
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3;name=\"v al\"\t\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n"));
    cr_assert_str_eq(r.msg.body, "abc");
    cn_http_reader_dispose(&r);
}

Test(http, obs_fold_with_an_empty_first_line_is_refused)
{
    assert_refused_in_any_pieces(
        S("GET / HTTP/1.1\r\nHost: a\r\nX-A:\r\n  folded\r\n\r\n"),
        "byte 31: header value continued on the next line");
    assert_refused_in_any_pieces(S("GET / HTTP/1.1\r\nX-A:\r\n\tfolded\r\n\r\n"),
                                 "obsolete line folding");
    /* in trailers as well */
    assert_refused_in_any_pieces(
        S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0\r\nX-T:\r\n folded\r\n\r\n"),
        "obsolete line folding");
    /* and a head whose final CR is not followed by LF */
    assert_refused_in_any_pieces(S("GET / HTTP/1.1\r\nHost: a\r\n\rX"),
                                 "byte 26: CR not followed by LF");
}

Test(http, two_host_headers_are_refused)
{
    assert_refused_in_any_pieces(S("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
                                 "2 Host headers");
    assert_refused_in_any_pieces(S("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
                                 "2 Host headers");
}

Test(http, absolute_form_target_must_match_host)
{
    assert_refused_in_any_pieces(S("GET http://b/x HTTP/1.1\r\nHost: a\r\n\r\n"),
                                 "Host header does not match the authority");
    assert_refused_in_any_pieces(S("GET http://a:8080/x HTTP/1.1\r\nHost: a\r\n\r\n"),
                                 "Host header does not match the authority");
    assert_refused_in_any_pieces(S("GET https://a/x HTTP/1.1\r\nHost: a:80\r\n\r\n"),
                                 "Host header does not match the authority");
    assert_refused_in_any_pieces(S("GET http://a/x HTTP/1.1\r\nHost:\r\n\r\n"),
                                 "Host header does not match the authority");
    /* The same authority, spelled differently, is one target. */
    static const char *const same[] = {
        "GET http://A/x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a:80/x HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://a/x HTTP/1.1\r\nHost: a:80\r\n\r\n",
        "GET https://a/x HTTP/1.1\r\nHost: a:443\r\n\r\n",
        "GET http://[::1]:8080/ HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
        "GET http://a/x HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        cn_http_reader_t r;
        cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
        feed_whole(&r, same[i], strlen(same[i]));
        cn_http_reader_dispose(&r);
    }
}

Test(http, strict_framing_keeps_chunked_responses_and_interim_heads)
{
    /* A 100 Continue, then a chunked response with a trailer, fed at
     * every cut: one final response, de-chunked. */
    static const char resp[] = "HTTP/1.1 100 Continue\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\n1;x=y\r\n!\r\n0\r\nT: v\r\n\r\n";
    char whole[2048], cut[2048];
    feed_in_pieces(CN_HTTP_RESPONSE, resp, sizeof resp - 1, NULL, 0, whole,
                   sizeof whole);
    cr_assert_not_null(strstr(whole, "body(6)=[hello!]"), "%s", whole);
    for (size_t c = 1; c < sizeof resp - 1; c++) {
        size_t cuts[1] = {c};
        feed_in_pieces(CN_HTTP_RESPONSE, resp, sizeof resp - 1, cuts, 1, cut,
                       sizeof cut);
        cr_assert_str_eq(cut, whole, "cut at %zu", c);
    }
    /* The response reader refuses bad framing with 502. */
    static const char bad[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhelloXY0\r\n\r\n";
    feed_in_pieces(CN_HTTP_RESPONSE, bad, sizeof bad - 1, NULL, 0, whole, sizeof whole);
    cr_assert_str_eq(whole, "ERROR 502\n");
}

Test(http, refuses_transfer_codings_other_than_chunked_with_501)
{
    char text[160];
    cr_assert_eq(request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
                               text, sizeof text),
                 501);
    cr_assert_str_eq(text, "request uses a transfer coding other than chunked");
    cr_assert_eq(request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                               NULL, 0),
                 501);
    cr_assert_eq(
        request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n"
                        "\r\n0\r\n\r\n"),
                      NULL, 0),
        400);
    cr_assert_eq(request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                 "Content-Length: 5\r\n\r\n0\r\n\r\n"),
                               text, sizeof text),
                 400);
    cr_assert_not_null(strstr(text, "(HPE_UNEXPECTED_CONTENT_LENGTH)"), "%s", text);

    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked \r\n\r\n"
                     "1\r\nx\r\n0\r\n\r\n"));
    cr_assert(r.msg.chunked);
    cn_http_reader_dispose(&r);
    /* A list http-parser does not read as chunked is refused, not guessed. */
    cr_assert_eq(request_error(S("POST / HTTP/1.1\r\nTransfer-Encoding: , chunked\r\n"
                                 "\r\n0\r\n\r\n"),
                               NULL, 0),
                 400);
}

static void response(cn_http_reader_t *r, const char *data, size_t len)
{
    cn_http_reader_init(r, CN_HTTP_RESPONSE, NULL);
    feed_whole(r, data, len);
}

Test(http, reads_a_response_with_content_length)
{
    cn_http_reader_t r;
    response(&r, S("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n0.73"));
    cr_assert_eq(r.msg.status_code, 200);
    cr_assert_str_eq(r.msg.method_name, "");
    cr_assert_str_eq(r.msg.url, "");
    cr_assert_str_eq(r.msg.body, "0.73");
    cr_assert(r.msg.keep_alive);
    cn_http_reader_dispose(&r);
}

Test(http, reads_a_chunked_response)
{
    cn_http_reader_t r;
    response(&r,
             S("HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n"
               "2\r\nno\r\n0\r\n\r\n"));
    cr_assert_eq(r.msg.status_code, 503);
    cr_assert(r.msg.chunked);
    cr_assert_str_eq(r.msg.body, "no");
    cn_http_reader_dispose(&r);
}

Test(http, completes_a_response_without_length_at_eof)
{
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, NULL);
    cr_assert_eq(cn_http_reader_feed(&r, S("HTTP/1.1 200 OK\r\n\r\n{\"a\":"), &used),
                 CN_HTTP_NEED_MORE);
    cr_assert_eq(cn_http_reader_feed(&r, S("1}"), &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_COMPLETE);
    cr_assert_str_eq(r.msg.body, "{\"a\":1}");
    cr_assert_not(r.msg.keep_alive);
    cr_assert_eq(r.msg.wire_bytes, 26);
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_COMPLETE, "still there until next()");
    cn_http_reader_next(&r);
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_NEED_MORE);
    cn_http_reader_dispose(&r);
}

Test(http, limits_a_response_body_read_until_eof_with_502)
{
    const cn_http_limits_t limits = {.max_header_bytes = 1024, .max_body_bytes = 4};
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, &limits);
    cr_assert_eq(cn_http_reader_feed(&r, S("HTTP/1.1 200 OK\r\n\r\n1234"), &used),
                 CN_HTTP_NEED_MORE);
    cr_assert_eq(feed_error(&r, S("5")), 502);
    cr_assert_str_eq(r.error_text, "response body is over 4 bytes");
    cn_http_reader_dispose(&r);
}

Test(http, reads_no_body_in_the_response_to_head)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
                               "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, NULL);
    cn_http_reader_expect_no_body(&r);
    cr_assert_eq(cn_http_reader_feed(&r, S(resp), &used), CN_HTTP_COMPLETE);
    cr_assert_eq(used, 41);
    cr_assert_eq(r.msg.body_len, 0);
    cr_assert(r.msg.keep_alive);
    cr_assert_str_eq(cn_http_find_header(&r.msg, "content-length")->value, "1000");
    cn_http_reader_next(&r);
    cr_assert_eq(cn_http_reader_feed(&r, resp + used, sizeof resp - 1 - used, &used),
                 CN_HTTP_COMPLETE);
    cr_assert_str_eq(r.msg.body, "ok", "the flag lasts one response");
    cn_http_reader_dispose(&r);
}

Test(http, skips_interim_responses_to_the_final_one)
{
    static const char resp[] =
        "HTTP/1.1 100 Continue\r\n\r\n"                      /* 25 */
        "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" /* 44 */
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";      /* 38 */
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, NULL);
    cn_http_reader_expect_no_body(&r); /* it outlives the interim responses */
    cr_assert_eq(cn_http_reader_feed(&r, S(resp), &used), CN_HTTP_COMPLETE);
    cr_assert_eq(used, sizeof resp - 1);
    cr_assert_eq(r.msg.status_code, 200);
    cr_assert_eq(r.msg.body_len, 0);
    cr_assert_eq(r.msg.nheaders, 1, "no header of the 103");
    cr_assert_str_eq(r.msg.headers[0].name, "Content-Length");
    cr_assert_eq(r.msg.wire_bytes, 25 + 44 + 38);

    /* A close after an interim response is no clean close. */
    cn_http_reader_next(&r);
    cr_assert_eq(cn_http_reader_feed(&r, S("HTTP/1.1 100 Continue\r\n\r\n"), &used),
                 CN_HTTP_NEED_MORE);
    cr_assert(cn_http_reader_started(&r));
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_ERROR);
    cr_assert_eq(r.error_status, 502);
    cr_assert_str_eq(r.error_text,
                     "response cut short at byte 25: the connection closed "
                     "after an interim (1xx) response");
    cn_http_reader_dispose(&r);
}

Test(http, reads_no_body_after_204_and_304_whatever_the_headers_say)
{
    static const char resp[] =
        "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
        "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
        "\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    static char out[4096];
    feed_in_pieces(CN_HTTP_RESPONSE, S(resp), NULL, 0, out, sizeof out);
    cr_assert_str_eq(out, "  1.1 status=204 keep_alive=1 chunked=0 wire=46\n"
                          "[Content-Length]=[5]\n"
                          "body(0)=[]\n"
                          "  1.1 status=304 keep_alive=1 chunked=0 wire=57\n"
                          "[Transfer-Encoding]=[chunked]\n"
                          "body(0)=[]\n"
                          "  1.1 status=200 keep_alive=1 chunked=0 wire=43\n"
                          "[Content-Length]=[5]\n"
                          "body(5)=[hello]\n"
                          "EOF 0 0\n");
}

Test(http, refuses_bad_responses_with_502)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, NULL);
    cr_assert_eq(feed_error(&r, S("SSH-2.0-OpenSSH\r\n")), 502);
    cr_assert_str_eq(r.error_text,
                     "malformed response at byte 0: invalid constant string "
                     "(HPE_INVALID_CONSTANT)");
    cn_http_reader_reset(&r);
    cr_assert_eq(feed_error(&r, S("HTTP/1.1 101 Switching Protocols\r\n"
                                  "Connection: upgrade\r\nUpgrade: websocket\r\n\r\n")),
                 502);
    cn_http_reader_reset(&r);
    cr_assert_eq(feed_error(&r, S("HTTP/1.1 099 Odd\r\n\r\n")), 502);
    cr_assert_str_eq(r.error_text, "response has invalid status code 99");
    cn_http_reader_reset(&r);
    cr_assert_eq(
        feed_error(&r, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")), 502);
    cn_http_reader_reset(&r);
    char big[300];
    memset(big, 'x', sizeof big);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    cn_http_reader_dispose(&r);
    const cn_http_limits_t limits = {.max_header_bytes = 200, .max_body_bytes = 10};
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, &limits);
    cr_assert_eq(feed_error(&r, big, sizeof big), 502);
    cr_assert_str_eq(r.error_text, "response header block is over 200 bytes");
    cn_http_reader_reset(&r);
    cr_assert_eq(feed_error(&r, S("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")),
                 502);
    cn_http_reader_dispose(&r);
}

Test(http, reports_a_message_cut_short_at_eof)
{
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    cr_assert_eq(cn_http_reader_feed(
                     &r, S("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), &used),
                 CN_HTTP_NEED_MORE);
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_ERROR);
    cr_assert_eq(r.error_status, 400);
    cr_assert_str_eq(r.error_text, "request cut short at byte 40: stream ended at an "
                                   "unexpected time (HPE_INVALID_EOF_STATE)");
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_ERROR);
    cr_assert_eq(cn_http_reader_feed(&r, S("x"), &used), CN_HTTP_ERROR);
    cr_assert_eq(used, 0);
    cn_http_reader_dispose(&r);

    cn_http_reader_init(&r, CN_HTTP_RESPONSE, NULL);
    cr_assert_eq(cn_http_reader_feed(&r, S("HTTP/1.1 200 OK\r\nContent-"), &used),
                 CN_HTTP_NEED_MORE);
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_ERROR);
    cr_assert_eq(r.error_status, 502);
    cn_http_reader_dispose(&r);
}

Test(http, treats_empty_lines_before_a_request_as_no_message)
{
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    cr_assert_eq(cn_http_reader_feed(&r, S("\r\n\r\n"), &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(used, 4);
    cr_assert_not(cn_http_reader_started(&r));
    cr_assert_eq(cn_http_reader_feed(&r, "G", 1, &used), CN_HTTP_NEED_MORE);
    cr_assert(cn_http_reader_started(&r));
    cn_http_reader_reset(&r);
    cr_assert_eq(cn_http_reader_feed(&r, S("\r\n"), &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_NEED_MORE, "a clean close");
    cn_http_reader_dispose(&r);
}

Test(http, takes_an_empty_feed_as_a_no_op)
{
    cn_http_reader_t r;
    size_t used = 99;
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, NULL);
    cr_assert_eq(cn_http_reader_feed(&r, S("HTTP/1.1 200 OK\r\n\r\nab"), &used),
                 CN_HTTP_NEED_MORE);
    /* To http-parser a zero length means EOF, which would end this body. */
    cr_assert_eq(cn_http_reader_feed(&r, "", 0, &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(used, 0);
    cr_assert_eq(cn_http_reader_feed(&r, S("c"), &used), CN_HTTP_NEED_MORE);
    cr_assert_eq(cn_http_reader_eof(&r), CN_HTTP_COMPLETE);
    cr_assert_str_eq(r.msg.body, "abc");
    cn_http_reader_dispose(&r);
}

Test(http, is_reusable_after_next_and_after_reset)
{
    const cn_http_limits_t limits = {.max_header_bytes = 1024, .max_body_bytes = 65536};
    cn_http_reader_t r;
    size_t used;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, &limits);

    /* A 40 KiB body, then a small one: the big buffer is not kept. */
    size_t big_len = 40 * 1024;
    char *big = malloc(big_len + 64);
    int head =
        sprintf(big, "POST /big HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", big_len);
    memset(big + head, 'b', big_len);
    feed_whole(&r, big, (size_t)head + big_len);
    cr_assert_eq(r.msg.body_len, big_len);
    cr_assert_eq(r.body_cap, big_len + 1);
    cn_http_reader_next(&r);
    cr_assert_eq(r.body_cap, 0, "buffers over 16 KiB are freed");
    free(big);

    feed_whole(&r, S("POST /small HTTP/1.1\r\nContent-Length: 2\r\n\r\nok"));
    cr_assert_str_eq(r.msg.url, "/small");
    cr_assert_str_eq(r.msg.body, "ok");
    cn_http_reader_next(&r);
    cr_assert_gt(r.body_cap, 0, "small buffers are kept");
    feed_whole(&r, S("GET /empty HTTP/1.1\r\n\r\n"));
    cr_assert_str_eq(r.msg.body, "", "no stale body");
    cr_assert_eq(r.msg.nheaders, 0, "no stale headers");

    /* After an error, reset makes it new. */
    cn_http_reader_next(&r);
    cr_assert_eq(feed_error(&r, S("BAD\x01")), 400);
    cr_assert_eq(cn_http_reader_feed(&r, S("GET / HTTP/1.1\r\n\r\n"), &used),
                 CN_HTTP_ERROR);
    cn_http_reader_reset(&r);
    cr_assert_eq(r.error_status, 0);
    cr_assert_str_eq(r.error_text, "");
    feed_whole(&r, S("GET /again HTTP/1.1\r\nA: 1\r\n\r\n"));
    cr_assert_str_eq(r.msg.url, "/again");
    cr_assert_eq(r.limits.max_body_bytes, 65536, "limits survive reset");

    /* Half a message, then reset: the rest of it is garbage to a new one. */
    cn_http_reader_reset(&r);
    cr_assert_eq(cn_http_reader_feed(
                     &r, S("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\n"), &used),
                 CN_HTTP_NEED_MORE);
    cn_http_reader_reset(&r);
    cr_assert_not(cn_http_reader_started(&r));
    feed_whole(&r, S("GET /fresh HTTP/1.1\r\n\r\n"));
    cr_assert_str_eq(r.msg.url, "/fresh");
    cn_http_reader_dispose(&r);
    cn_http_reader_dispose(&r);
}

Test(http, finds_headers_ignoring_ascii_case)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S("GET / HTTP/1.1\r\nX-Canary-Version: a\r\nx-canary-version: b\r\n"
                     "X-Other: c\r\n\r\n"));
    const cn_http_header_t *h = cn_http_find_header(&r.msg, "X-CANARY-VERSION");
    cr_assert_not_null(h);
    cr_assert_str_eq(h->value, "a", "the first one");
    cr_assert_null(cn_http_find_header(&r.msg, "X-Canary"));
    cr_assert_null(cn_http_find_header(&r.msg, "X-Canary-Version-2"));
    cn_http_reader_dispose(&r);
}

static bool cookie(const cn_http_message_t *m, const char *name, const char *want)
{
    const char *value = NULL;
    size_t len = 0;
    if (!cn_http_find_cookie(m, name, &value, &len))
        return want == NULL;
    return want && len == strlen(want) && memcmp(value, want, len) == 0;
}

Test(http, finds_cookies_in_every_cookie_header)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S("GET / HTTP/1.1\r\n"
                     "Cookie: a=1; canary = green ;empty=; q=\"x y\"\r\n"
                     "Accept: */*\r\n"
                     "cookie: b=2;noequals; a=shadowed; c==3\r\n"
                     "\r\n"));
    cr_assert(cookie(&r.msg, "a", "1"));
    cr_assert(cookie(&r.msg, "canary", "green"), "whitespace trimmed");
    cr_assert(cookie(&r.msg, "empty", ""));
    cr_assert(cookie(&r.msg, "q", "\"x y\""), "quotes kept");
    cr_assert(cookie(&r.msg, "b", "2"), "the second Cookie header");
    cr_assert(cookie(&r.msg, "c", "=3"));
    cr_assert(cookie(&r.msg, "noequals", NULL));
    cr_assert(cookie(&r.msg, "A", NULL), "names are case-sensitive");
    cr_assert(cookie(&r.msg, "canar", NULL), "exact names only");
    cr_assert(cookie(&r.msg, "Accept", NULL));
    cn_http_reader_dispose(&r);
}

Test(http, knows_the_hop_by_hop_headers)
{
    static const char *const hop[] = {
        "Connection", "keep-alive",        "Proxy-Connection", "TE",
        "Trailer",    "TRANSFER-ENCODING", "Upgrade",          "Content-Length"};
    for (size_t i = 0; i < sizeof hop / sizeof hop[0]; i++)
        cr_assert(cn_http_is_hop_header(hop[i], strlen(hop[i])), "%s", hop[i]);
    static const char *const end_to_end[] = {
        "Content-Type", "Host", "Cookie", "Trailers", "T", "Connectio", ""};
    for (size_t i = 0; i < sizeof end_to_end / sizeof end_to_end[0]; i++)
        cr_assert_not(cn_http_is_hop_header(end_to_end[i], strlen(end_to_end[i])), "%s",
                      end_to_end[i]);
    cr_assert(cn_http_is_hop_header("TEXT", 2), "the length counts, not the NUL");
}

Test(http, knows_the_options_a_connection_header_lists)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    feed_whole(&r, S("GET / HTTP/1.1\r\nConnection: keep-alive , X-Trace\r\n"
                     "Connection: ,,x-debug\r\n\r\n"));
    cr_assert(cn_http_connection_lists(&r.msg, S("x-trace")));
    cr_assert(cn_http_connection_lists(&r.msg, S("Keep-Alive")));
    cr_assert(cn_http_connection_lists(&r.msg, S("X-Debug")));
    cr_assert_not(cn_http_connection_lists(&r.msg, S("X-Tra")));
    cr_assert_not(cn_http_connection_lists(&r.msg, S("close")));
    cn_http_reader_dispose(&r);
}

Test(http, names_the_common_status_codes)
{
    static const struct {
        unsigned status;
        const char *reason;
    } table[] = {
        {200, "OK"},
        {201, "Created"},
        {204, "No Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {304, "Not Modified"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {0, "Unknown"},
        {299, "Unknown"},
        {1000, "Unknown"},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        cr_assert_str_eq(cn_http_reason(table[i].status), table[i].reason, "%u",
                         table[i].status);
}

Test(http, flags_expect_100_continue_once_the_head_is_complete)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_REQUEST, NULL);
    const char *head = "POST /p HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n"
                       "Content-Length: 2\r\n";
    size_t used = 0;
    cr_assert_eq(cn_http_reader_feed(&r, head, strlen(head), &used), CN_HTTP_NEED_MORE);
    cr_assert_not(r.expect_continue, "not before the head is complete");
    cr_assert_eq(cn_http_reader_feed(&r, "\r\n", 2, &used), CN_HTTP_NEED_MORE);
    cr_assert(r.expect_continue);
    cr_assert_eq(cn_http_reader_feed(&r, "{}", 2, &used), CN_HTTP_COMPLETE);
    cn_http_reader_next(&r);
    cr_assert_not(r.expect_continue, "cleared for the next message");
    /* HTTP/1.0 has no interim responses */
    const char *old =
        "POST /p HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    cn_http_reader_reset(&r);
    cr_assert_eq(cn_http_reader_feed(&r, old, strlen(old), &used), CN_HTTP_NEED_MORE);
    cr_assert_not(r.expect_continue);
    cn_http_reader_dispose(&r);
}

/* A sink that keeps what it is given. */
typedef struct sink_s {
    char data[4096];
    size_t len;
    int calls;
    bool stop;
} sink_t;

static int sink_add(void *ctx, const char *data, size_t len)
{
    sink_t *s = ctx;
    cr_assert_leq(s->len + len, sizeof s->data);
    memcpy(s->data + s->len, data, len);
    s->len += len;
    s->calls++;
    return s->stop ? -1 : 0;
}

/* Feed resp cut at `cut` into a streaming response reader; the head must
 * come first, once, then the body through the sink. */
static void stream_in_two(const char *resp, size_t len, size_t cut, size_t keep,
                          bool no_body, sink_t *sink, cn_http_reader_t *r,
                          cn_http_limits_t *lim)
{
    cn_http_reader_init(r, CN_HTTP_RESPONSE, lim);
    if (no_body)
        cn_http_reader_expect_no_body(r);
    cn_http_reader_stream(r, sink_add, sink, keep);
    memset(sink, 0, sizeof *sink);
    size_t pos = 0;
    int heads = 0;
    bool complete = false;
    while (pos < len && !complete) {
        size_t end = pos < cut ? cut : len;
        size_t used = 0;
        cn_http_feed_t st = cn_http_reader_feed(r, resp + pos, end - pos, &used);
        cr_assert_neq(st, CN_HTTP_ERROR, "cut %zu: %s", cut, r->error_text);
        pos += used;
        if (st == CN_HTTP_HEAD) {
            heads++;
            cr_assert_eq(sink->len, 0, "cut %zu: head before any body byte", cut);
            cr_assert_eq(r->msg.status_code, 200);
            cr_assert_str_eq(cn_http_find_header(&r->msg, "X-A")->value, "b");
        }
        complete = st == CN_HTTP_COMPLETE;
    }
    cr_assert(complete, "cut %zu", cut);
    cr_assert_eq(pos, len, "cut %zu", cut);
    cr_assert_eq(heads, 1, "cut %zu: one head", cut);
}

Test(http, streams_a_response_body_through_a_sink_keeping_a_prefix)
{
    static const char resp[] =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nX-A: b\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
    /* A body over max_body_bytes: the limit does not apply to a stream. */
    cn_http_limits_t lim = {1024, 4};
    for (size_t cut = 1; cut < sizeof resp - 1; cut++) {
        cn_http_reader_t r;
        sink_t sink;
        stream_in_two(resp, sizeof resp - 1, cut, 4, false, &sink, &r, &lim);
        cr_assert_eq(sink.len, 12);
        cr_assert(memcmp(sink.data, "hello, world", 12) == 0);
        cr_assert_eq(r.msg.body_len, 4, "the prefix kept");
        cr_assert_str_eq(r.msg.body, "hell");
        cr_assert_eq(r.msg.body_streamed, 12);
        cr_assert_eq(r.msg.wire_bytes, sizeof resp - 1);
        cr_assert(r.msg.chunked);
        cn_http_reader_dispose(&r);
    }
    /* A response to HEAD: the head, then complete with no body. */
    static const char head[] =
        "HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 99\r\n\r\n";
    for (size_t cut = 1; cut < sizeof head - 1; cut++) {
        cn_http_reader_t r;
        sink_t sink;
        stream_in_two(head, sizeof head - 1, cut, 4, true, &sink, &r, &lim);
        cr_assert_eq(sink.len, 0);
        cr_assert_eq(r.msg.body_streamed, 0);
        cn_http_reader_dispose(&r);
    }
}

Test(http, a_sink_that_stops_fails_the_stream)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    cn_http_reader_t r;
    cn_http_reader_init(&r, CN_HTTP_RESPONSE, NULL);
    sink_t sink = {.stop = true};
    cn_http_reader_stream(&r, sink_add, &sink, 0);
    size_t used;
    cr_assert_eq(cn_http_reader_feed(&r, resp, sizeof resp - 1, &used), CN_HTTP_HEAD);
    cr_assert_eq(cn_http_reader_feed(&r, resp + used, sizeof resp - 1 - used, &used),
                 CN_HTTP_ERROR);
    cr_assert_eq(r.error_status, 502);
    cr_assert_str_eq(r.error_text, "the response body's consumer stopped");
    /* _next ends streaming: the next message is kept whole. */
    cn_http_reader_reset(&r);
    cr_assert_eq(cn_http_reader_feed(&r, resp, sizeof resp - 1, &used),
                 CN_HTTP_COMPLETE);
    cr_assert_str_eq(r.msg.body, "hello");
    cn_http_reader_dispose(&r);
}
