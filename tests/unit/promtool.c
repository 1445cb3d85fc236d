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
    char path[] = "/tmp/cn-test-prom-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, outlen - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    unlink(path);
    /* 127: the shell found no promtool on PATH. */
    cr_assert(!(WIFEXITED(status) && WEXITSTATUS(status) == 127),
              "promtool is not on PATH: run scripts/deps.sh --test (%s)", out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
