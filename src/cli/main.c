/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * canary: canary deployments for ML models. This is the one binary; each
 * subcommand lives in its own file under src/cli/.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#define CN_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f, "usage: canary COMMAND [ARGS]\n"
               "commands:\n"
               "  analyze ...     judge a canary against stable: pass, marginal\n"
               "                  or fail (canary analyze --help)\n"
               "  config check FILE\n"
               "                  check a config file; print it with every\n"
               "                  default (canary config --help)\n"
               "  control ...     drive many models' rollouts through their own\n"
               "                  engines: replicas, HAProxy, Gateway API, Istio\n"
               "                  (canary control --help)\n"
               "  k8s manifests   the Kubernetes manifests that run canary control\n"
               "                  with Gateway API or Istio (canary k8s --help)\n"
               "  loadgen ...     open-loop HTTP load at a fixed rate, with segments,\n"
               "                  bodies and feedback (canary loadgen --help)\n"
               "  model ...       register model versions and tag them, on a running\n"
               "                  canary serve (canary model --help)\n"
               "  monitor ...     replay a stream through the sequential rollback\n"
               "                  triggers (canary monitor --help)\n"
               "  report ID       one rollout's report as HTML or JSON, for a\n"
               "                  review or an audit (canary report --help)\n"
               "  rollout ...     start, follow and steer rollouts on a running\n"
               "                  canary serve (canary rollout --help)\n"
               "  serve ...       proxy live traffic to stable and canary, measure\n"
               "                  both (canary serve --help)\n"
               "  stat TEST ...   run one statistical test on two samples\n"
               "                  (canary stat --help lists the tests)\n"
               "  version         print the version\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CN_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "stat") == 0)
        return cn_cli_stat(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cn_cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "control") == 0)
        return cn_cli_control(argc - 1, argv + 1);
    if (strcmp(cmd, "analyze") == 0)
        return cn_cli_analyze(argc - 1, argv + 1);
    if (strcmp(cmd, "monitor") == 0)
        return cn_cli_monitor(argc - 1, argv + 1);
    if (strcmp(cmd, "config") == 0)
        return cn_cli_config(argc - 1, argv + 1);
    if (strcmp(cmd, "k8s") == 0)
        return cn_cli_k8s(argc - 1, argv + 1);
    if (strcmp(cmd, "loadgen") == 0)
        return cn_cli_loadgen(argc - 1, argv + 1);
    if (strcmp(cmd, "model") == 0)
        return cn_cli_model(argc - 1, argv + 1);
    if (strcmp(cmd, "rollout") == 0)
        return cn_cli_rollout(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return cn_cli_report(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("canary %s\n", CN_VERSION);
        return CN_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CN_EXIT_OK;
    }
    fprintf(stderr, "canary: unknown command '%s' (try: canary help)\n", cmd);
    return CN_EXIT_USAGE;
}
