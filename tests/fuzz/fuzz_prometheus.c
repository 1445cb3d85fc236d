/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the prometheus source's answer parser
 * (engines/prometheus_parse.c): any bytes must give either an error code
 * with one line and no series, or series whose points were all read, and
 * every series' increase must be >= 0 (it skips what is not a counter's
 * value).
 */
#include "engines/prometheus.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_prometheus_result_t r;
    char err[256] = "";
    int rc =
        cn_prometheus_parse((const char *)data, size, "segment", &r, err, sizeof err);
    if (rc) {
        if ((rc != CN_EPARSE && rc != CN_EINVAL) || !err[0] || strchr(err, '\n') ||
            r.n || r.series)
            abort();
        return 0;
    }
    for (size_t i = 0; i < r.n; i++) {
        const cn_prometheus_series_t *s = &r.series[i];
        double inc = cn_prometheus_increase(s->t, s->v, s->n, 0);
        if (!(inc >= 0))
            abort();
    }
    cn_prometheus_result_dispose(&r);
    return 0;
}
