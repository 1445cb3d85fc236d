/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading whole input files for the subcommands: a path, or stdin for "-".
 */
#ifndef CN_CLI_INPUT_H
#define CN_CLI_INPUT_H

#include <stddef.h>

/* The name to use in messages: "<stdin>" for "-", else the path. */
const char *cn_cli_input_name(const char *path);

/*
 * Read a whole file (or stdin for "-") of at most max bytes. Returns 0
 * with *data (caller frees) and *len, or CN_EIO / CN_ETOOBIG with
 * "NAME: what" in err[0..errlen). A directory is CN_EIO ("Is a directory").
 */
int cn_cli_read_input(const char *path, size_t max, char **data, size_t *len, char *err,
                      size_t errlen);

#endif
