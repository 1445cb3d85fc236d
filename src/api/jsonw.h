/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A streaming JSON writer for the admin API's responses: compact output
 * into a growable, bounded buffer, commas handled by the writer, reals in
 * the shortest form that reads back exactly (0.95, not
 * 0.94999999999999996), and strings escaped so that the output is valid
 * UTF-8 whatever bytes came in (segment labels come from request headers).
 *
 * Why not jansson's encoder: /v1/samples carries up to hundreds of
 * thousands of raw values, and building a json_t per value would cost tens
 * of megabytes of small allocations for one response.
 *
 * Misuse (a value where a key is due, too deep a nesting) is a programming
 * error and aborts; running past max_bytes sets `overflow`, after which
 * nothing more is written. Internal to src/api.
 */
#ifndef CN_API_JSONW_H
#define CN_API_JSONW_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_JSONW_MAX_DEPTH 16

typedef struct cn_jsonw_s {
    /* read-only */
    union {
        cn_buf_t out;   /* the text, bounded by max_bytes (util/buf.h) */
        struct {        /* out's first two fields under their old names */
            char *text; /* NUL-terminated; NULL until something is written */
            size_t len;
        };
    };
    bool overflow; /* the text would have passed max_bytes; it is cut */
    /* private */
    unsigned depth;
    bool in_object[CN_JSONW_MAX_DEPTH]; /* per level: object or array */
    bool first[CN_JSONW_MAX_DEPTH];     /* per level: nothing written yet */
    bool after_key;                     /* a key was written, its value is due */
} cn_jsonw_t;

/* An empty writer whose text may grow to max_bytes. */
void cn_jsonw_init(cn_jsonw_t *w, size_t max_bytes);
void cn_jsonw_dispose(cn_jsonw_t *w);

/* Hand the text to the caller (free() it; "" if nothing was written),
 * with its length in *len (may be NULL). The writer is then disposed. */
char *cn_jsonw_take(cn_jsonw_t *w, size_t *len);

void cn_jsonw_object_begin(cn_jsonw_t *w);
void cn_jsonw_object_end(cn_jsonw_t *w);
void cn_jsonw_array_begin(cn_jsonw_t *w);
void cn_jsonw_array_end(cn_jsonw_t *w);

/* A key inside an object; the next call writes its value. */
void cn_jsonw_key(cn_jsonw_t *w, const char *key);

/* A string of len bytes: '"', '\\' and control bytes are escaped, and a
 * byte that is not part of valid UTF-8 becomes U+FFFD. */
void cn_jsonw_string(cn_jsonw_t *w, const char *s, size_t len);
void cn_jsonw_cstr(cn_jsonw_t *w, const char *s); /* NULL: null */

void cn_jsonw_u64(cn_jsonw_t *w, uint64_t value);
/* Shortest round-trip real; NaN and infinities (not JSON) become null. */
void cn_jsonw_double(cn_jsonw_t *w, double value);
void cn_jsonw_bool(cn_jsonw_t *w, bool value);
void cn_jsonw_null(cn_jsonw_t *w);

/* A value already in JSON form (a number formatted by the caller). */
void cn_jsonw_raw(cn_jsonw_t *w, const char *json);

/* End a top-level value with a newline; the next top-level value starts a
 * new line without a comma (JSON Lines). Aborts inside a container. */
void cn_jsonw_newline(cn_jsonw_t *w);

#endif
