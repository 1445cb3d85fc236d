/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary control --config FILE [--check]`: argument parsing only. The
 * file becomes one cn_control_config_t (control/config.h), which
 * src/control/ (the composition root) runs; --check stops after reading
 * it.
 */
#include "cli/cli.h"
#include "control/config.h"
#include "control/control.h"
#include "util/error.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: canary control --config FILE [--check]\n"
               "Drive the rollouts of many models without a data plane of its own:\n"
               "each model's traffic through its engine (canary serve replicas,\n"
               "HAProxy, Gateway API, Istio), its measurements from its metrics\n"
               "source (the replicas, Prometheus), one admin API, one state file.\n"
               "  --config FILE   the control:, models:, strategy: and analysis:\n"
               "                  sections (docs/SCALE.md)\n"
               "  --check         read and check the file, print nothing, exit 0\n"
               "The CLI's model, rollout and report commands work against its admin\n"
               "API as against canary serve's (CANARY_SERVER, CANARY_TOKEN).\n");
}

/* Config files: a config is small, 16 MiB is far beyond any. */
#define FILE_MAX_BYTES ((size_t)16 << 20)

int cn_cli_control(int argc, char **argv)
{
    const char *path = NULL;
    bool check = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CN_EXIT_OK;
        }
        if (strcmp(a, "--check") == 0) {
            check = true;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        } else {
            fprintf(stderr, "canary control: unexpected argument '%s' (try --help)\n",
                    a);
            return CN_EXIT_USAGE;
        }
    }
    if (!path) {
        fprintf(stderr, "canary control: --config FILE is required (try --help)\n");
        return CN_EXIT_USAGE;
    }
    char err[768] = "", *text = NULL;
    size_t len = 0;
    if (cn_file_read(path, FILE_MAX_BYTES, &text, &len, err, sizeof err)) {
        fprintf(stderr, "canary control: %s\n", err);
        return CN_EXIT_NOINPUT;
    }
    cn_control_config_t cfg;
    cn_control_config_init(&cfg);
    int rc = cn_control_config_parse_yaml(&cfg, text, len, path, err, sizeof err);
    free(text);
    int exit_code = CN_EXIT_OK;
    if (rc) {
        fprintf(stderr, "canary control: %s\n", err);
        exit_code = CN_EXIT_DATAERR;
    } else if (!check) {
        exit_code = cn_control_run(&cfg);
    }
    cn_control_config_dispose(&cfg);
    return exit_code;
}
