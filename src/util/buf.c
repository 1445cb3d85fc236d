/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bounded growable buffer (see buf.h): growth, taking, formatting.
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* The first allocation: small, since most buffers hold a head or a line. */
#define FIRST_CAP 256

void cn_buf_init(cn_buf_t *b, size_t max)
{
    *b = (cn_buf_t)CN_BUF_INIT(max);
}

void cn_buf_dispose(cn_buf_t *b)
{
    free(b->data);
    cn_buf_init(b, b->max);
}

void cn_buf_reset(cn_buf_t *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->data)
        b->data[0] = '\0';
}

void cn_buf_truncate(cn_buf_t *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
    b->overflow = false;
}

char *cn_buf_take(cn_buf_t *b, size_t *len)
{
    char *text = b->data ? b->data : cn_xcalloc(1, 1);
    if (len)
        *len = b->len;
    cn_buf_init(b, b->max);
    return text;
}

int cn_buf_grow(cn_buf_t *b, size_t extra)
{
    if (b->overflow || extra > b->max || b->len > b->max - extra) {
        b->overflow = true;
        return CN_ETOOBIG;
    }
    size_t need = b->len + extra + 1; /* <= max + 1 */
    if (need <= b->cap)
        return 0;
    /* Double (amortised O(1) appends), but never past max + 1. */
    size_t cap = b->cap ? b->cap : FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap - 1 > b->max)
        cap = b->max + 1;
    b->data = cn_xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int cn_buf_u64(cn_buf_t *b, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof d - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return cn_buf_add(b, d + sizeof d - n, n);
}

int cn_buf_vprintf(cn_buf_t *b, const char *fmt, va_list ap)
{
    /* Short text (nearly all) is formatted once, into the stack. */
    char small[128];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0)
        abort(); /* an invalid format: a programming error */
    int rc;
    if ((size_t)n < sizeof small) {
        rc = cn_buf_add(b, small, (size_t)n);
    } else if ((rc = cn_buf_reserve(b, (size_t)n)) == 0) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return rc;
}

int cn_buf_printf(cn_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = cn_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}
