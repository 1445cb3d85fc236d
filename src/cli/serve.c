/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary serve`: argument parsing only. The config file and the flags
 * become one validated cn_server_config_t (server/config.h), which src/server/ (the
 * composition root) runs.
 *
 * Configuration: --config FILE is read first, then every other flag is
 * applied over it in order, so flags override the file and flags alone are
 * enough. The token, the state file and the wiring are the server's
 * (server/server.h).
 */
#include "cli/cli.h"
#include "server/config.h"
#include "server/server.h"
#include "util/error.h"
#include "util/file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(
        f, "usage: canary serve [--config FILE] [FLAGS]\n"
           "Proxy live inference traffic to a stable and a canary model version,\n"
           "and measure both. Flags override the file; see examples/canary.yaml\n"
           "for every key. The common ones:\n"
           "  --listen ADDR          data plane address (0.0.0.0:8080)\n"
           "  --admin ADDR           admin API address (127.0.0.1:8081)\n"
           "  --stable ADDR[,ADDR]   stable model servers (required)\n"
           "  --canary ADDR[,ADDR]   canary model servers\n"
           "  --canary-weight PCT    share of requests to canary (0..100, 0.01 steps)\n"
           "  --mode MODE            random | sticky | shadow\n"
           "  --workers N            worker threads (default: one per CPU)\n"
           "  --state PATH           keep the traffic config in this SQLite file\n"
           "  --token-file PATH      admin bearer token (else $CANARY_TOKEN)\n"
           "Every other key of examples/canary.yaml is a flag too, with dashes:\n"
           "  measure.segment_header -> --segment-header, limits.max_body_bytes ->\n"
           "  --max-body-bytes, and so on.\n");
}

/* Config files: a config is small, 16 MiB is far beyond any. */
#define FILE_MAX_BYTES ((size_t)16 << 20)

static int read_file(const char *path, char **out, size_t *len, char *err,
                     size_t errlen)
{
    return cn_file_read(path, FILE_MAX_BYTES, out, len, err, errlen);
}

int cn_cli_serve(int argc, char **argv)
{
    cn_server_config_t cfg;
    cn_server_config_init(&cfg);
    char err[512] = "";
    int exit_code = CN_EXIT_OK;

    /* --config first, wherever it is, so the flags override it */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            cn_server_config_dispose(&cfg);
            return CN_EXIT_OK;
        }
        const char *path = NULL;
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "canary serve: --config needs a FILE\n");
                cn_server_config_dispose(&cfg);
                return CN_EXIT_USAGE;
            }
            path = argv[i + 1];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        }
        if (!path)
            continue;
        char *text;
        size_t len;
        if (read_file(path, &text, &len, err, sizeof err)) {
            fprintf(stderr, "canary serve: %s\n", err);
            cn_server_config_dispose(&cfg);
            return CN_EXIT_NOINPUT;
        }
        int rc = cn_server_config_parse_yaml(&cfg, text, len, path, err, sizeof err);
        free(text);
        if (rc) {
            fprintf(stderr, "canary serve: %s\n", err);
            cn_server_config_dispose(&cfg);
            return CN_EXIT_DATAERR;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "canary serve: unexpected argument '%s' (try --help)\n", a);
            exit_code = CN_EXIT_USAGE;
            goto out;
        }
        char name[64];
        const char *value;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a + 2);
            /* a flag without a value (--no-retry) is a boolean switch */
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                value = argv[++i];
            else
                value = "true";
        }
        if (strcmp(name, "config") == 0)
            continue;
        int rc = cn_server_config_set_flag(&cfg, name, value, err, sizeof err);
        if (rc == CN_ENOTFOUND) {
            fprintf(stderr, "canary serve: unknown flag '--%s' (try --help)\n", name);
            exit_code = CN_EXIT_USAGE;
            goto out;
        }
        if (rc) {
            fprintf(stderr, "canary serve: %s\n", err);
            exit_code = CN_EXIT_USAGE;
            goto out;
        }
    }

    if (cn_server_config_validate(&cfg, err, sizeof err)) {
        fprintf(stderr, "canary serve: %s\n", err);
        exit_code = CN_EXIT_USAGE;
        goto out;
    }
    exit_code = cn_server_run(&cfg);
out:
    cn_server_config_dispose(&cfg);
    return exit_code;
}
