/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the HTTP/1.1 message reader (http/reader.c).
 *
 * Input: two bytes of settings, then a byte stream. Byte 0 picks the kind
 * (bit 0: request or response), how the stream is cut into reads (bits
 * 1-2: whole, fixed size, pseudo-random sizes, one byte at a time), a HEAD
 * response (bit 3), and the limits (bits 4-5 header, 6-7 body); byte 1
 * seeds the read sizes. The stream is fed in those pieces, message after
 * pipelined message, then closed with cn_http_reader_eof().
 *
 * Invariants: consumed never exceeds what was fed; every feed makes
 * progress or asks for more; a complete message respects the limits, has
 * NUL-terminated strings of the stated lengths, a wire size equal to the
 * bytes consumed for it, no body where none is allowed, and (responses) a
 * final status, never an interim 1xx; errors carry a
 * documented status and a one-line text. Finally the same stream fed in one
 * piece must give the same messages: how reads are cut must not matter.
 */
#include "http/http.h"
#include "util/hash.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DIGESTS 64

typedef struct outcome_s {
    uint64_t digest[MAX_DIGESTS]; /* one per complete message */
    size_t nmessages;
    cn_http_feed_t last; /* ERROR, or what eof() said */
} outcome_t;

static void check_string(const char *s, size_t len)
{
    if (!s || s[len] != '\0' || strlen(s) != len)
        abort();
}

static uint64_t check_message(const cn_http_reader_t *r, cn_http_kind_t kind,
                              const cn_http_limits_t *limits, size_t wire_bytes,
                              bool no_body)
{
    const cn_http_message_t *m = &r->msg;
    if (m->body_len > limits->max_body_bytes || m->body[m->body_len] != '\0')
        abort();
    if (m->nheaders > CN_HTTP_MAX_HEADERS || (m->nheaders && !m->headers))
        abort();
    if (m->wire_bytes != wire_bytes || m->http_major != 1)
        abort();
    check_string(m->url, m->url_len);
    check_string(m->method_name, strlen(m->method_name));
    size_t head = m->url_len;
    for (size_t i = 0; i < m->nheaders; i++) {
        const cn_http_header_t *h = &m->headers[i];
        check_string(h->name, h->name_len);
        check_string(h->value, h->value_len);
        if (h->name_len == 0 || memchr(h->name, ' ', h->name_len))
            abort();
        if (h->value_len && (h->value[0] == ' ' || h->value[h->value_len - 1] == ' '))
            abort();
        head += h->name_len + h->value_len;
        const cn_http_header_t *found = cn_http_find_header(m, h->name);
        if (!found || found > h)
            abort();
        (void)cn_http_is_hop_header(h->name, h->name_len);
        (void)cn_http_connection_lists(m, h->name, h->name_len);
    }
    if (head > limits->max_header_bytes)
        abort();
    const char *cookie;
    size_t cookie_len;
    if (cn_http_find_cookie(m, "session", &cookie, &cookie_len)) {
        const cn_http_header_t *h = cn_http_find_header(m, "cookie");
        if (!h || cookie_len > 65536)
            abort();
    }
    if (kind == CN_HTTP_REQUEST) {
        if (m->status_code != 0 || m->url_len == 0 || m->method == HTTP_CONNECT)
            abort();
    } else {
        unsigned st = m->status_code;
        if (st < 100 || st > 599 || st == 101)
            abort();
        if (st < 200 || ((st == 204 || st == 304 || no_body) && m->body_len))
            abort();
        if (m->url_len != 0)
            abort();
    }

    uint64_t h = CN_HASH_FNV1A64_BASIS;
    h = cn_hash_fnv1a64_more(h, m->method_name, strlen(m->method_name));
    h = cn_hash_fnv1a64_more(h, m->url, m->url_len + 1);
    h = cn_hash_fnv1a64_more(h, &m->status_code, sizeof m->status_code);
    h = cn_hash_fnv1a64_more(h, &m->http_minor, sizeof m->http_minor);
    unsigned char flags = (unsigned char)(m->keep_alive | m->chunked << 1);
    h = cn_hash_fnv1a64_more(h, &flags, 1);
    for (size_t i = 0; i < m->nheaders; i++) {
        h = cn_hash_fnv1a64_more(h, m->headers[i].name, m->headers[i].name_len + 1);
        h = cn_hash_fnv1a64_more(h, m->headers[i].value, m->headers[i].value_len + 1);
    }
    h = cn_hash_fnv1a64_more(h, m->body, m->body_len);
    h = cn_hash_fnv1a64_more(h, &m->wire_bytes, sizeof m->wire_bytes);
    return h;
}

static void check_error(const cn_http_reader_t *r, cn_http_kind_t kind)
{
    unsigned st = r->error_status;
    if (kind == CN_HTTP_REQUEST && st != 400 && st != 413 && st != 414 && st != 431 &&
        st != 501 && st != 505)
        abort();
    if (kind == CN_HTTP_RESPONSE && st != 502)
        abort();
    size_t len = strnlen(r->error_text, sizeof r->error_text);
    if (len == 0 || len == sizeof r->error_text || memchr(r->error_text, '\n', len))
        abort();
}

/* The size of the next read under `pattern`. */
static size_t next_piece(unsigned pattern, uint32_t *seed, size_t left)
{
    size_t n;
    switch (pattern) {
    case 0:
        n = left;
        break;
    case 1:
        n = (*seed % 8) + 1;
        break;
    case 2:
        *seed = *seed * 1103515245u + 12345u;
        n = ((*seed >> 16) % 32) + 1;
        break;
    default:
        n = 1;
        break;
    }
    return n < left ? n : left;
}

static void run(const char *stream, size_t len, cn_http_kind_t kind, unsigned pattern,
                uint32_t seed, bool no_body, const cn_http_limits_t *limits,
                outcome_t *out)
{
    cn_http_reader_t r;
    cn_http_reader_init(&r, kind, limits);
    if (no_body)
        cn_http_reader_expect_no_body(&r);
    memset(out, 0, sizeof *out);
    size_t pos = 0, message_bytes = 0;

    while (pos < len) {
        size_t piece = next_piece(pattern, &seed, len - pos);
        while (piece > 0) {
            size_t used = SIZE_MAX;
            cn_http_feed_t st = cn_http_reader_feed(&r, stream + pos, piece, &used);
            if (used > piece)
                abort();
            if (st == CN_HTTP_ERROR) {
                check_error(&r, kind);
                out->last = CN_HTTP_ERROR;
                cn_http_reader_dispose(&r);
                return;
            }
            pos += used;
            piece -= used;
            message_bytes += used;
            if (st == CN_HTTP_NEED_MORE) {
                if (piece != 0)
                    abort();
                break;
            }
            /* A message needs at least one byte of its own. */
            if (used == 0)
                abort();
            uint64_t d = check_message(&r, kind, limits, message_bytes, no_body);
            if (out->nmessages < MAX_DIGESTS)
                out->digest[out->nmessages] = d;
            out->nmessages++;
            message_bytes = 0;
            no_body = false; /* next() clears the HEAD flag */
            cn_http_reader_next(&r);
        }
    }
    out->last = cn_http_reader_eof(&r);
    if (out->last == CN_HTTP_ERROR) {
        check_error(&r, kind);
    } else if (out->last == CN_HTTP_COMPLETE) {
        uint64_t d = check_message(&r, kind, limits, message_bytes, no_body);
        if (out->nmessages < MAX_DIGESTS)
            out->digest[out->nmessages] = d;
        out->nmessages++;
        if (r.msg.keep_alive || r.msg.chunked)
            abort(); /* only a body read to EOF completes at EOF */
    } else if (cn_http_reader_started(&r)) {
        abort(); /* a started message cannot close cleanly */
    }
    cn_http_reader_dispose(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    static const size_t header_limits[] = {24, 256, CN_HTTP_DEFAULT_MAX_HEADER_BYTES,
                                           CN_HTTP_MAX_HEADER_BYTES_LIMIT};
    static const size_t body_limits[] = {0, 16, 1024, CN_HTTP_DEFAULT_MAX_BODY_BYTES};
    cn_http_kind_t kind = (data[0] & 1) ? CN_HTTP_RESPONSE : CN_HTTP_REQUEST;
    unsigned pattern = (data[0] >> 1) & 3;
    bool no_body = kind == CN_HTTP_RESPONSE && (data[0] & 8);
    const cn_http_limits_t limits = {
        .max_header_bytes = header_limits[(data[0] >> 4) & 3],
        .max_body_bytes = body_limits[(data[0] >> 6) & 3],
    };
    const char *stream = (const char *)data + 2;
    size_t len = size - 2;

    static outcome_t pieces, whole;
    run(stream, len, kind, pattern, data[1], no_body, &limits, &pieces);
    if (pattern == 0)
        return 0;
    run(stream, len, kind, 0, 0, no_body, &limits, &whole);

    /* Which error fires first may depend on where reads end (a limit on a
     * partial value, or a bad byte inside it), but whether the stream is
     * good, and every message before the error, may not. */
    if (pieces.nmessages != whole.nmessages || pieces.last != whole.last)
        abort();
    size_t n = pieces.nmessages < MAX_DIGESTS ? pieces.nmessages : MAX_DIGESTS;
    for (size_t i = 0; i < n; i++)
        if (pieces.digest[i] != whole.digest[i])
            abort();
    return 0;
}
