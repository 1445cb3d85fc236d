/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the POST /v1/feedback body parser (feedback/parse.c):
 * any bytes must give either CN_EINVAL / CN_ETOOBIG with one line and
 * nothing in the batch, or items and errors that account for the lines:
 * each item with a 1-63 byte id, a non-empty mask of fed metrics and values
 * of their kinds; each error one line that names its line number.
 */
#include "feedback/feedback.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cn_feedback_metric_t metrics[] = {
    {"clicked", CN_FEEDBACK_PROPORTION},
    {"revenue", CN_FEEDBACK_MEAN},
    {"label", CN_FEEDBACK_LABEL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_feedback_config_t cfg = {.ttl_ms = 1000,
                                .threshold = 0.5,
                                .max_lines = 64,
                                .metrics = metrics,
                                .n_metrics = 3};
    cn_feedback_batch_t b;
    char err[256];
    int rc = cn_feedback_parse(&cfg, (const char *)data, size, &b, err, sizeof err);
    if (rc) {
        if ((rc != CN_EINVAL && rc != CN_ETOOBIG) || !err[0] || strchr(err, '\n') ||
            b.n_items || b.n_errors)
            abort();
        return 0;
    }
    if (b.n_items + b.n_errors != b.lines && b.lines != 1)
        abort();
    for (size_t i = 0; i < b.n_items; i++) {
        const cn_feedback_item_t *it = &b.items[i];
        if (it->id_len == 0 || it->id_len > CN_FEEDBACK_ID_MAX || !it->mask ||
            it->mask >> 3 || strlen(it->id) > it->id_len)
            abort();
        for (int k = 0; k < 3; k++) {
            if (!(it->mask & (1u << k)))
                continue;
            double v = it->values[k];
            if (!isfinite(v) || (k != 1 && v != 0 && v != 1))
                abort();
        }
    }
    for (size_t i = 0; i < b.n_errors; i++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "line %zu: ", b.errors[i].line);
        if (strncmp(b.errors[i].message, prefix, strlen(prefix)) != 0 ||
            strchr(b.errors[i].message, '\n'))
            abort();
    }
    cn_feedback_batch_dispose(&b);
    return 0;
}
