/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the stream CSV of `canary monitor` (cli/stream.c):
 * any bytes must give either at least one row, each as stream.h promises
 * (t finite in [0, CN_STREAM_T_MAX] and never below the row before, a
 * known version and metric, a finite value that is 0 or 1 for an error
 * and >= 0 for a latency, a segment that is NULL or a non-empty bounded
 * line without control characters, lines increasing); or CN_EPARSE with
 * one line naming the file. A callback error must stop the parse at once
 * and be passed on.
 */
#include "cli/stream.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    size_t rows, stop_at;
    double last_t;
    size_t last_line;
} state_t;

static int check_row(void *ctx, const cn_stream_row_t *row)
{
    state_t *s = ctx;
    if (!isfinite(row->t) || row->t < 0 || row->t > CN_STREAM_T_MAX ||
        !isfinite(row->value))
        abort();
    if (s->rows && (row->t < s->last_t || row->line <= s->last_line))
        abort();
    if (row->line < 2)
        abort(); /* the header comes first */
    if (row->version != CN_ROLE_STABLE && row->version != CN_ROLE_CANARY)
        abort();
    switch (row->metric) {
    case CN_SEQ_ERROR:
        if (row->value != 0 && row->value != 1)
            abort();
        break;
    case CN_SEQ_LATENCY:
        if (row->value < 0)
            abort();
        break;
    case CN_SEQ_PREDICTION:
        break;
    default:
        abort();
    }
    if (row->segment) {
        size_t n = strlen(row->segment);
        if (n == 0 || n > CN_STREAM_NAME_MAX)
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)row->segment[i] < 0x20 || row->segment[i] == 0x7f)
                abort();
    }
    s->rows++;
    s->last_t = row->t;
    s->last_line = row->line;
    if (s->stop_at && s->rows == s->stop_at)
        return CN_ETOOBIG;
    return 0;
}

static void check_error(int rc, const char *err)
{
    if (rc != CN_EPARSE || !err[0] || strchr(err, '\n') ||
        strncmp(err, "fuzz.csv", 8) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[512];
    state_t s = {0};
    int rc = cn_stream_parse(text, size, "fuzz.csv", check_row, &s, err, sizeof err);
    if (rc == 0 && s.rows == 0)
        abort();
    if (rc != 0)
        check_error(rc, err);

    /* The same bytes, stopped by the callback at the first row: the
     * callback's code comes back, naming the row's line. */
    if (rc == 0) {
        state_t t = {.stop_at = 1};
        int rc2 =
            cn_stream_parse(text, size, "fuzz.csv", check_row, &t, err, sizeof err);
        if (rc2 != CN_ETOOBIG || t.rows != 1 || strncmp(err, "fuzz.csv:", 9) != 0 ||
            strchr(err, '\n'))
            abort();
    }
    return 0;
}
