/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the judge's YAML spec parser (judge/config.c): any
 * bytes must give either a config that passes cn_judge_config_validate()
 * and that the judge accepts, or CN_EINVAL / CN_EPARSE with a one-line
 * message naming the file and an empty config. No crash, no leak, and no
 * output from libfyaml.
 */
#include "judge/config.h"
#include "judge/judge.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cn_judge_config_t cfg;
    char err[512];
    int rc = cn_judge_config_parse((const char *)data, size, "fuzz.yaml", &cfg, err,
                                   sizeof err);
    if (rc != 0) {
        if ((rc != CN_EINVAL && rc != CN_EPARSE) || cfg.metrics || cfg.n_metrics ||
            cfg.groups || cfg.n_groups || cfg.segment_by || !err[0] ||
            strchr(err, '\n') || strncmp(err, "fuzz.yaml", 9) != 0)
            abort();
        cn_judge_config_dispose(&cfg);
        return 0;
    }
    char verr[512];
    if (cfg.n_metrics == 0 || !cfg.metrics ||
        cn_judge_config_validate(&cfg, verr, sizeof verr) != 0)
        abort();
    for (size_t i = 0; i < cfg.n_metrics; i++)
        if (!cfg.metrics[i].name ||
            (cfg.metrics[i].test == CN_JTEST_THRESHOLD && !cfg.metrics[i].source))
            abort();
    /* Whatever parses must be usable: judge it on an empty data set (every
     * metric is then nodata, which is cheap). */
    cn_judge_data_t *d = cn_judge_data_new();
    cn_judge_result_t res;
    if (cn_judge_run(&cfg, d, NULL, &res) != 0 || res.n_rows < cfg.n_metrics)
        abort();
    cn_judge_result_dispose(&res);
    cn_judge_data_free(d);
    cn_judge_config_dispose(&cfg);
    return 0;
}
