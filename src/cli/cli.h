/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The canary command line: one binary, one function per subcommand.
 *
 * Exit codes follow sysexits(3) so that scripts can tell a usage error
 * from bad data from a missing file. Subcommands with a verdict (analyze)
 * reserve 0-2 for it; every error is 64 or above.
 */
#ifndef CN_CLI_CLI_H
#define CN_CLI_CLI_H

enum {
    CN_EXIT_OK = 0,
    CN_EXIT_USAGE = 64,       /* EX_USAGE: bad flags or arguments */
    CN_EXIT_DATAERR = 65,     /* EX_DATAERR: input that does not parse or fit */
    CN_EXIT_NOINPUT = 66,     /* EX_NOINPUT: a file that cannot be read */
    CN_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: cannot listen (address in use,
                                 no permission) */
    CN_EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: an internal error */
    CN_EXIT_CANTCREAT = 73,   /* EX_CANTCREAT: an output file that cannot be
                                 written */
    CN_EXIT_IOERR = 74        /* EX_IOERR: an output stream that fails */
};

/* `canary stat TEST ...`; argv[0] is "stat". Returns an exit code. */
int cn_cli_stat(int argc, char **argv);

/* `canary analyze --config FILE --data FILE ...`; argv[0] is "analyze".
 * Returns the verdict (0 pass, 1 fail, 2 marginal) or an error code. */
int cn_cli_analyze(int argc, char **argv);

/* `canary monitor --config FILE --data FILE [--every D] [--json]`; argv[0]
 * is "monitor". Returns 1 when a sequential trigger fired, 0 when none
 * did, or an error code. */
int cn_cli_monitor(int argc, char **argv);

/* `canary serve [--config FILE] [FLAGS]`; argv[0] is "serve". Runs until
 * SIGINT or SIGTERM; returns an exit code. */
int cn_cli_serve(int argc, char **argv);
/* canary control (cli/control.c). */
int cn_cli_control(int argc, char **argv);

/* `canary config check FILE [--json]`; argv[0] is "config". Returns 0
 * (valid; the effective configuration is printed), 65, 66 or 64. */
int cn_cli_config(int argc, char **argv);

/* `canary model register|tag|untag|list ...`; argv[0] is "model". Talks
 * to a running canary serve (cli/client.h); returns 0 or an exit code. */
int cn_cli_model(int argc, char **argv);

/* `canary rollout start|status|list|history|pause|resume|promote|abort|
 * retry ...`; argv[0] is "rollout". `status` returns 0 promoted, 1 rolled
 * back or aborted, 2 holding or paused, 3 in progress; every command the
 * client's codes on a failed call. */
int cn_cli_rollout(int argc, char **argv);

/* `canary report ID [-o FILE] [--format html|json]`; argv[0] is "report".
 * Writes one rollout's report (cli/report.h); returns 0, 64, the
 * client's codes for a failed call, 73 or 74 (see report.c). */
int cn_cli_report(int argc, char **argv);

/* `canary loadgen --target URL --rps N --duration D ...`; argv[0] is
 * "loadgen". Open-loop HTTP load at a fixed rate; prints what it achieved
 * and saw. Returns 0 after a run (whatever the target answered), or an
 * error code. */
int cn_cli_loadgen(int argc, char **argv);

/* `canary k8s manifests [--namespace NS] [--name NAME] [--image IMG]
 * [--route ROUTE] [--mesh gateway-api|istio]`; argv[0] is "k8s". Prints
 * the manifests as YAML; returns 0, 64 or 74. */
int cn_cli_k8s(int argc, char **argv);

#endif
