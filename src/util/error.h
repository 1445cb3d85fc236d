/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Error codes shared by every module.
 *
 * The rule, stated once: a function that can fail returns int, 0 on success
 * and one of the negative CN_E* codes below on failure. On failure it writes
 * nothing to its output arguments that the caller may rely on. Out-of-memory
 * is not an error code: cn_xmalloc() and friends abort with a message, so
 * callers never check allocations.
 */
#ifndef CN_UTIL_ERROR_H
#define CN_UTIL_ERROR_H

#include <stddef.h>

enum {
    CN_OK = 0,
    CN_EINVAL = -1,      /* an argument is out of its documented range */
    CN_ETOOFEW = -2,     /* too few observations for the requested test */
    CN_ENONFINITE = -3,  /* an input value is NaN or infinite */
    CN_EDEGENERATE = -4, /* the statistic is undefined for this data,
                            e.g. zero variance in both samples */
    CN_ETOOBIG = -5,     /* the input exceeds a documented size limit */
    CN_EPARSE = -6,      /* text that does not parse */
    CN_EIO = -7,         /* a read or write failed; see errno */
    CN_ENOTFOUND = -8,   /* a named thing does not exist */
    CN_ECONFLICT = -9,   /* refused by the current state (another active
                            rollout, a stale or repeated decision): the
                            409 of the admin API */
};

/* A static, human-readable description of an error code. Never NULL. */
const char *cn_strerror(int code);

/* Write the formatted one-line message into err (if err and errlen) and
 * return code: `return cn_fail(err, errlen, CN_EINVAL, "key '%s': ...", k);` */
int cn_fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Allocation wrappers: never return NULL; abort with a message instead. */
void *cn_xmalloc(size_t size);
void *cn_xcalloc(size_t count, size_t size);
void *cn_xrealloc(void *ptr, size_t size);
/* Overflow-checked count * size allocation. */
void *cn_xmallocarray(size_t count, size_t size);
/* A NUL-terminated copy of exactly the n bytes at s (which may hold NULs),
 * for the caller to free. */
char *cn_xstrndup(const char *s, size_t n);
/* A copy of the NUL-terminated string s, for the caller to free. */
char *cn_xstrdup(const char *s);

#endif
