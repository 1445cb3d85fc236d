/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Whole-file input: contents, the size limit, and unreadable paths. */
#include "cli/input.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/canary-input-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

Test(input, reads_a_whole_file_within_the_limit)
{
    char *path = temp_file("1\n2\n3\n");
    char *data, err[256];
    size_t len;
    cr_assert_eq(cn_cli_read_input(path, 6, &data, &len, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(len, 6);
    cr_assert_eq(memcmp(data, "1\n2\n3\n", 6), 0);
    free(data);
    unlink(path);
    free(path);
}

Test(input, refuses_a_file_over_the_limit_naming_it)
{
    char *path = temp_file("1\n2\n3\n");
    char *data = NULL, err[256], want[300];
    size_t len;
    cr_assert_eq(cn_cli_read_input(path, 5, &data, &len, err, sizeof err), CN_ETOOBIG);
    snprintf(want, sizeof want, "%s: larger than the limit of 5 bytes", path);
    cr_assert_str_eq(err, want);
    cr_assert_null(data);
    unlink(path);
    free(path);
}

Test(input, missing_files_and_directories_are_io_errors)
{
    char *data, err[256];
    size_t len;
    cr_assert_eq(cn_cli_read_input("/nonexistent/x", 100, &data, &len, err, sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err, "/nonexistent/x: No such file or directory");
    cr_assert_eq(cn_cli_read_input("/", 100, &data, &len, err, sizeof err), CN_EIO);
    cr_assert_str_eq(err, "/: Is a directory");
    cr_assert_str_eq(cn_cli_input_name("-"), "<stdin>");
    cr_assert_str_eq(cn_cli_input_name("a.csv"), "a.csv");
}
