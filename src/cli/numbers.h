/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading samples for the CLI: a file (or stdin, "-") with one number per
 * line.
 *
 * Accepted: decimal or exponent notation as strtod(3) reads it, surrounding
 * blanks, CRLF line ends, blank lines and lines starting with '#' (skipped).
 * Rejected, with a one-line message naming the file and line: text that is
 * not a number, two numbers on one line, NaN, infinities, values that
 * overflow a double, NUL bytes, and a file with no values at all.
 * On error nothing is returned: the caller never sees a partial sample.
 */
#ifndef CN_CLI_NUMBERS_H
#define CN_CLI_NUMBERS_H

#include <stddef.h>

typedef struct {
    double *values; /* owned; free with cn_numbers_dispose() */
    size_t n;
} cn_numbers_t;

/*
 * Parse `len` bytes of text. `name` is used only in error messages. Returns
 * 0, or CN_EPARSE with a message ("NAME:LINE: what") in err[0..errlen).
 * On error *out is left empty.
 */
int cn_numbers_parse(const char *text, size_t len, const char *name, cn_numbers_t *out,
                     char *err, size_t errlen);

/* Largest sample file read: 1 GiB of text. */
#define CN_NUMBERS_MAX_BYTES ((size_t)1 << 30)

/* Read and parse a whole file, or stdin when path is "-". Errors as above,
 * plus CN_EIO ("NAME: strerror") when the file cannot be read and
 * CN_ETOOBIG beyond CN_NUMBERS_MAX_BYTES. */
int cn_numbers_load(const char *path, cn_numbers_t *out, char *err, size_t errlen);

void cn_numbers_dispose(cn_numbers_t *nums);

#endif
