/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the judge's YAML spec parser (judge/config.c): any
 * bytes must give either a config that passes cn_judge_config_validate()
 * and that the judge accepts, or CN_EINVAL / CN_EPARSE with a one-line
 * message naming the file and an empty config. No crash, no leak, and no
 * output from libfyaml. A config that parsed is written back as the
 * effective configuration (YAML), which must read back to a config that
 * is written the same way, byte for byte.
 */
#include "judge/config.h"
#include "judge/judge.h"
#include "util/config.h"
#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *emit(cn_judge_config_t *cfg, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        abort();
    cn_config_part_t part = {cn_judge_config_table(), cfg};
    cn_config_section_t section = {"analysis", &part, 1};
    if (cn_config_emit(f, CN_CONFIG_YAML, &section, 1) != 0)
        abort();
    fclose(f);
    return buf;
}

static void round_trip(cn_judge_config_t *cfg)
{
    size_t len1, len2;
    char *one = emit(cfg, &len1);
    cn_judge_config_t back;
    char err[512];
    if (cn_judge_config_parse(one, len1, "out.yaml", &back, err, sizeof err) != 0)
        abort();
    char *two = emit(&back, &len2);
    if (len1 != len2 || memcmp(one, two, len1) != 0)
        abort();
    free(one);
    free(two);
    cn_judge_config_dispose(&back);
}

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
    round_trip(&cfg);
    cn_judge_config_dispose(&cfg);
    return 0;
}
