/* SPDX-License-Identifier: GPL-3.0-or-later */
/* See promtool.h. */
#include "promtool.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int promtool_check(const char *text, char *out, size_t outlen)
{
    cr_assert_eq(access(PROMTOOL, X_OK), 0,
                 PROMTOOL " is missing: run scripts/deps.sh (package prometheus)");
    char path[] = "/tmp/cn-test-prom-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
