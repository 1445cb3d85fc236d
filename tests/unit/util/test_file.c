/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Whole-file reading: contents, the limit at its edge, unreadable paths. */
#include "util/error.h"
#include "util/file.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A temporary file of n bytes of a repeating pattern; the caller unlinks. */
static char *temp_file(size_t n)
{
    char *path = strdup("/tmp/canary-file-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    for (size_t i = 0; i < n; i++) {
        char c = (char)('a' + i % 26);
        cr_assert_eq(write(fd, &c, 1), 1);
    }
    close(fd);
    return path;
}

Test(file, reads_files_up_to_exactly_the_limit)
{
    /* Sizes around the internal growth steps, each at its own limit. */
    const size_t sizes[] = {0, 1, 255, 65535, 65536, 65537, 200000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        char *path = temp_file(n), *data = NULL, err[256];
        size_t len = 99;
        cr_assert_eq(cn_file_read(path, n, &data, &len, err, sizeof err), 0, "%zu: %s",
                     n, err);
        cr_assert_eq(len, n);
        cr_assert_eq(data[n], '\0', "the text is NUL-terminated");
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(data[i], (char)('a' + i % 26), "%zu: byte %zu", n, i);
        free(data);
        /* One byte over the limit is refused, naming the file. */
        if (n > 0) {
            data = NULL;
            cr_assert_eq(cn_file_read(path, n - 1, &data, &len, err, sizeof err),
                         CN_ETOOBIG, "%zu", n);
            cr_assert_null(data);
            cr_assert(strncmp(err, path, strlen(path)) == 0, "%s", err);
        }
        unlink(path);
        free(path);
    }
}

Test(file, the_limit_is_written_the_way_a_person_reads_it)
{
    char *path = temp_file(3 << 20), *data, err[256], want[300];
    size_t len;
    cr_assert_eq(cn_file_read(path, 2 << 20, &data, &len, err, sizeof err), CN_ETOOBIG);
    snprintf(want, sizeof want, "%s: larger than the limit of 2 MiB", path);
    cr_assert_str_eq(err, want);
    cr_assert_eq(cn_file_read(path, 5, &data, &len, err, sizeof err), CN_ETOOBIG);
    snprintf(want, sizeof want, "%s: larger than the limit of 5 bytes", path);
    cr_assert_str_eq(err, want);
    cr_assert_eq(cn_file_read(path, 64 << 10, &data, &len, err, sizeof err),
                 CN_ETOOBIG);
    snprintf(want, sizeof want, "%s: larger than the limit of 64 KiB", path);
    cr_assert_str_eq(err, want);
    unlink(path);
    free(path);
}

Test(file, missing_files_and_directories_are_io_errors)
{
    char *data, err[256];
    size_t len;
    cr_assert_eq(cn_file_read("/nonexistent/x", 100, &data, &len, err, sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err, "/nonexistent/x: No such file or directory");
    cr_assert_eq(cn_file_read("/", 100, &data, &len, err, sizeof err), CN_EIO);
    cr_assert_str_eq(err, "/: Is a directory");
}

Test(file, reads_a_stream_under_its_name)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    fputs("hello\n", f);
    rewind(f);
    char *data, err[256];
    size_t len;
    cr_assert_eq(cn_file_read_stream(f, "<stdin>", 100, &data, &len, err, sizeof err),
                 0);
    cr_assert_eq(len, 6);
    cr_assert_str_eq(data, "hello\n");
    free(data);
    rewind(f);
    cr_assert_eq(cn_file_read_stream(f, "<stdin>", 2, &data, &len, err, sizeof err),
                 CN_ETOOBIG);
    cr_assert_str_eq(err, "<stdin>: larger than the limit of 2 bytes");
    fclose(f);
}
