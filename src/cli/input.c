/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Whole-file input for the subcommands; see input.h. Every input has a
 * size limit, so a mistaken path to a huge file fails cleanly instead of
 * exhausting memory.
 */
#include "cli/input.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cn_cli_input_name(const char *p)
{
    return strcmp(p, "-") == 0 ? "<stdin>" : p;
}

int cn_cli_read_input(const char *path, size_t max, char **data, size_t *len, char *err,
                      size_t errlen)
{
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = cn_cli_input_name(path);
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", name, strerror(errno));
        return CN_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = cn_xmalloc(cap);
    int rc = 0;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                snprintf(err, errlen, "%s: larger than the limit of %zu MiB", name,
                         max >> 20);
                rc = CN_ETOOBIG;
                break;
            }
            cap *= 2;
            buf = cn_xrealloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                /* A directory opens but fails to read with EISDIR. */
                snprintf(err, errlen, "%s: %s", name, strerror(errno));
                rc = CN_EIO;
            }
            break;
        }
    }
    if (!rc && n > max) {
        snprintf(err, errlen, "%s: larger than the limit of %zu MiB", name, max >> 20);
        rc = CN_ETOOBIG;
    }
    if (!from_stdin)
        fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    *data = buf;
    *len = n;
    return 0;
}
