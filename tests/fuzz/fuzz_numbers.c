/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the sample-file parser (cli/numbers.c): any bytes
 * must give either values that are all finite, or CN_EPARSE with a
 * one-line, NUL-terminated message and no values.
 */
#include "cli/numbers.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_numbers_t v;
    char err[256];
    int rc = cn_numbers_parse((const char *)data, size, "fuzz", &v, err, sizeof err);
    if (rc == 0) {
        if (v.n == 0)
            abort();
        for (size_t i = 0; i < v.n; i++)
            if (!isfinite(v.values[i]))
                abort();
        cn_numbers_dispose(&v);
    } else {
        if (rc != CN_EPARSE || v.values || v.n || strchr(err, '\n'))
            abort();
    }
    return 0;
}
