/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Whole-file input for the subcommands; see input.h. Every input has a
 * size limit, so a mistaken path to a huge file fails cleanly instead of
 * exhausting memory.
 */
#include "cli/input.h"
#include "util/error.h"
#include "util/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cn_cli_input_name(const char *p)
{
    return strcmp(p, "-") == 0 ? "<stdin>" : p;
}

int cn_cli_read_input(const char *path, size_t max, char **data, size_t *len, char *err,
                      size_t errlen)
{
    if (strcmp(path, "-") == 0)
        return cn_file_read_stream(stdin, cn_cli_input_name(path), max, data, len, err,
                                   errlen);
    return cn_file_read(path, max, data, len, err, errlen);
}
