/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A growable byte buffer with a maximum size: the one buffer that the
 * writers (Prometheus text, JSON, HTTP heads and bodies) build their output
 * in. Every buffer has a maximum (curl's rule), so that no input or peer
 * can make the process grow without bound: an append that would pass it is
 * refused with CN_ETOOBIG and sets `overflow`, which stays set (the text
 * is then a clean prefix of what was asked, never text with a hole) until
 * cn_buf_reset or cn_buf_truncate. Out of memory aborts (cn_xrealloc).
 *
 * The text is kept NUL-terminated once anything was appended, so that it
 * can be passed to functions that want a C string. The appenders are
 * static inline with an out-of-line slow path: the router builds every
 * response head here.
 *
 * Usage:
 *     cn_buf_t b;
 *     cn_buf_init(&b, 1 << 20);
 *     cn_buf_str(&b, "HTTP/1.1 ");
 *     cn_buf_u64(&b, 200);
 *     if (b.overflow) ...;
 *     cn_buf_dispose(&b);
 */
#ifndef CN_UTIL_BUF_H
#define CN_UTIL_BUF_H

#include "util/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct cn_buf_s {
    /* read-only */
    char *data;    /* the bytes; NULL until the first append */
    size_t len;    /* bytes held, without the NUL */
    size_t cap;    /* bytes allocated, with room for the NUL */
    size_t max;    /* len never passes this */
    bool overflow; /* an append was refused: the text is cut */
} cn_buf_t;

/* The largest max: sizes stay far from overflow. */
#define CN_BUF_MAX_MAX (SIZE_MAX / 2)

/* An empty buffer whose text may grow to max bytes (at most
 * CN_BUF_MAX_MAX); allocates nothing. */
#define CN_BUF_INIT(max_bytes)                                                         \
    {                                                                                  \
        NULL, 0, 0,                                                                    \
            (max_bytes) < CN_BUF_MAX_MAX ? (size_t)(max_bytes) : CN_BUF_MAX_MAX, false \
    }

/* Make b an empty buffer whose text may grow to max bytes. Allocates
 * nothing until the first append. */
void cn_buf_init(cn_buf_t *b, size_t max);

/* Free b's memory; b is then empty (with the same max) and may be reused. */
void cn_buf_dispose(cn_buf_t *b);

/* Empty b and clear overflow, keeping its memory for reuse. */
void cn_buf_reset(cn_buf_t *b);

/* Cut b back to its first len bytes (len <= b->len: a length read earlier,
 * to undo a partial append) and clear overflow. */
void cn_buf_truncate(cn_buf_t *b, size_t len);

/*
 * Hand b's text to the caller (free() it): a NUL-terminated string, never
 * NULL ("" when empty), its length in *len (may be NULL). b is then empty
 * and unallocated, with the same max.
 */
char *cn_buf_take(cn_buf_t *b, size_t *len);

/* The slow path of cn_buf_reserve. */
int cn_buf_grow(cn_buf_t *b, size_t extra);

/*
 * Make room for extra more bytes (and the NUL) without appending them.
 * Returns 0, or CN_ETOOBIG (setting overflow, nothing changed) if
 * len + extra would pass max or an earlier append overflowed.
 */
static inline int cn_buf_reserve(cn_buf_t *b, size_t extra)
{
    /* cap > len whenever cap > 0, so this never wraps. */
    if (b->cap - b->len > extra && !b->overflow)
        return 0;
    return cn_buf_grow(b, extra);
}

/* Append n bytes. Returns 0 or CN_ETOOBIG (see cn_buf_reserve). */
static inline int cn_buf_add(cn_buf_t *b, const void *p, size_t n)
{
    if (cn_buf_reserve(b, n))
        return CN_ETOOBIG;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Append a C string (without its NUL). */
static inline int cn_buf_str(cn_buf_t *b, const char *s)
{
    return cn_buf_add(b, s, strlen(s));
}

/* Append one byte. */
static inline int cn_buf_byte(cn_buf_t *b, char c)
{
    return cn_buf_add(b, &c, 1);
}

/* Append v in decimal: cheaper than printf on a hot path. */
int cn_buf_u64(cn_buf_t *b, uint64_t v);

/* Append printf-style text. Returns 0 or CN_ETOOBIG (nothing appended). */
int cn_buf_printf(cn_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The same with a va_list (for writers with their own printf-style calls). */
int cn_buf_vprintf(cn_buf_t *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
