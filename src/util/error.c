/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cn_strerror() and the aborting allocation wrappers. See error.h for the
 * error-handling rule every module follows.
 */
#include "util/error.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cn_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *cn_strerror(int code)
{
    switch (code) {
    case CN_OK:
        return "success";
    case CN_EINVAL:
        return "invalid argument";
    case CN_ETOOFEW:
        return "too few values";
    case CN_ENONFINITE:
        return "value is NaN or infinite";
    case CN_EDEGENERATE:
        return "statistic undefined for this data";
    case CN_ETOOBIG:
        return "input too large";
    case CN_EPARSE:
        return "parse error";
    case CN_EIO:
        return "I/O error";
    case CN_ENOTFOUND:
        return "not found";
    case CN_ECONFLICT:
        return "conflict with the current state";
    }
    return "unknown error";
}

static void oom(size_t size)
{
    fprintf(stderr, "canary: out of memory allocating %zu bytes\n", size);
    abort();
}

void *cn_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *cn_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *cn_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        oom(size);
    return p;
}

void *cn_xmallocarray(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    return cn_xmalloc(count * size);
}

char *cn_xstrndup(const char *s, size_t n)
{
    char *d = cn_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *cn_xstrdup(const char *s)
{
    return cn_xstrndup(s, strlen(s));
}
