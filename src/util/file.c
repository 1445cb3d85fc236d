/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Whole-file reading with a size limit (see file.h).
 */
#include "util/file.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A limit the way a person reads it: "16 MiB", "64 KiB", "5 bytes". */
static void limit_text(size_t max, char *buf, size_t len)
{
    if (max >= (1u << 20) && max % (1u << 20) == 0)
        snprintf(buf, len, "%zu MiB", max >> 20);
    else if (max >= 1024 && max % 1024 == 0)
        snprintf(buf, len, "%zu KiB", max >> 10);
    else
        snprintf(buf, len, "%zu bytes", max);
}

int cn_file_read_stream(FILE *f, const char *name, size_t max, char **data, size_t *len,
                        char *err, size_t errlen)
{
    /* Read one byte past max, so that a file of exactly max bytes passes
     * and a bigger one is noticed without reading it all. */
    size_t cap = max < 65536 ? max + 2 : 65536, n = 0;
    char *buf = cn_xmalloc(cap);
    for (;;) {
        if (n == cap - 1) {
            if (n > max)
                break;
            cap = cap - 1 > max / 2 ? max + 2 : cap * 2;
            buf = cn_xrealloc(buf, cap);
        }
        size_t want = cap - 1 - n;
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (got < want) {
            if (ferror(f)) {
                /* A directory opens but fails to read with EISDIR. */
                snprintf(err, errlen, "%s: %s", name, strerror(errno ? errno : EIO));
                free(buf);
                return CN_EIO;
            }
            break;
        }
    }
    if (n > max) {
        char limit[32];
        limit_text(max, limit, sizeof limit);
        snprintf(err, errlen, "%s: larger than the limit of %s", name, limit);
        free(buf);
        return CN_ETOOBIG;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int cn_file_read(const char *path, size_t max, char **data, size_t *len, char *err,
                 size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CN_EIO;
    }
    int rc = cn_file_read_stream(f, path, max, data, len, err, errlen);
    fclose(f);
    return rc;
}
