/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A small option parser shared by the subcommands.
 *
 * Options are `--name value`, `--name=value`, or a bare `--flag` for the
 * names a command declares as flags; everything else is a positional
 * argument ("-" alone is positional: stdin). A command asks for the
 * options it understands; cn_args_finish() then reports any option the
 * command never asked for, so a typo is an error rather than silently
 * ignored. Strings are borrowed from argv.
 */
#ifndef CN_CLI_ARGS_H
#define CN_CLI_ARGS_H

#include <stddef.h>

#define CN_ARGS_MAX 64

typedef struct {
    const char *name;  /* without the leading "--" */
    const char *value; /* NULL for a flag */
    int used;
} cn_arg_opt_t;

typedef struct {
    const char *cmd; /* e.g. "stat mwu", for messages */
    cn_arg_opt_t opts[CN_ARGS_MAX];
    size_t nopts;
    const char *pos[CN_ARGS_MAX];
    size_t npos;
} cn_args_t;

/*
 * Split argv into options and positionals. `flags` is a NULL-terminated
 * list of option names that take no value. Returns 0, or -1 after printing
 * a one-line error to stderr.
 */
int cn_args_parse(cn_args_t *a, const char *cmd, int argc, char **argv,
                  const char *const *flags);

/* The same, where the options named in `repeatable` (NULL-terminated; NULL
 * for none) may be given more than once: each is its own entry of
 * a->opts, in order (cn_args_str returns the first). */
int cn_args_parse_repeat(cn_args_t *a, const char *cmd, int argc, char **argv,
                         const char *const *flags, const char *const *repeatable);

/* Is the flag present? Marks it used. */
int cn_args_flag(cn_args_t *a, const char *name);

/* The option's value, or def when absent. Marks it used. */
const char *cn_args_str(cn_args_t *a, const char *name, const char *def);

/*
 * A finite number in [lo, hi] (open ends when the *_open flag is set).
 * Returns 0, or -1 after printing "canary CMD: --NAME must be ..., got ...".
 */
int cn_args_num(cn_args_t *a, const char *name, double def, double lo, int lo_open,
                double hi, int hi_open, double *out);

/* A non-negative integer below 2^53. Same error behaviour. */
int cn_args_uint(cn_args_t *a, const char *name, unsigned long long def,
                 unsigned long long lo, unsigned long long hi, unsigned long long *out);

/* Report the first option nobody asked for. Returns 0 or -1. */
int cn_args_finish(cn_args_t *a);

#endif
