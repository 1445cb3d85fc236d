/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the samples CSV reader (judge/csv.c): any bytes must
 * give either at least one row, each with a non-empty one-line metric, a
 * finite value and a non-empty segment or none; or CN_EPARSE with a
 * one-line message naming the file. The same bytes then go into a real data
 * set through cn_judge_data_parse_csv(), which must agree.
 */
#include "judge/csv.h"
#include "judge/judge.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check_row(void *ctx, const char *metric, cn_judge_arm_t arm,
                     const char *segment, double value)
{
    size_t *n = ctx;
    if (!metric || !*metric || strchr(metric, '\n') ||
        strlen(metric) > CN_JUDGE_CSV_NAME_MAX || !isfinite(value) ||
        (arm != CN_ARM_STABLE && arm != CN_ARM_CANARY) ||
        (segment && (!*segment || strchr(segment, '\n'))))
        abort();
    (*n)++;
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
    size_t rows = 0;
    int rc =
        cn_judge_csv_parse(text, size, "fuzz.csv", check_row, &rows, err, sizeof err);
    if (rc == 0 && rows == 0)
        abort();
    if (rc != 0)
        check_error(rc, err);

    cn_judge_data_t *d = cn_judge_data_new();
    char err2[512];
    int rc2 = cn_judge_data_parse_csv(text, size, "fuzz.csv", d, err2, sizeof err2);
    if (rc2 != rc || (rc && strcmp(err, err2) != 0))
        abort();
    cn_judge_data_free(d);
    return 0;
}
