/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin token of `canary serve`: where it comes from, what is refused,
 * and the one-line warnings for a short token and a token file others can
 * read.
 */
#include "api/admin.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], path[128], token[CN_ADMIN_TOKEN_MAX_BYTES + 1], err[512];
static FILE *warn;

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/cn-token-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token", dir);
    warn = tmpfile();
    unsetenv("CANARY_TOKEN");
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
    fclose(warn);
}

static void write_token(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static const char *warnings(void)
{
    static char buf[2048];
    fflush(warn);
    rewind(warn);
    size_t n = fread(buf, 1, sizeof buf - 1, warn);
    buf[n] = '\0';
    return buf;
}

static unsigned lines(const char *s)
{
    unsigned n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(server_token, reads_a_private_token_file_without_a_warning, .init = setup,
     .fini = teardown)
{
    write_token("0123456789abcdef0123\n", 0600);
    bool generated = true;
    cr_assert_eq(cn_admin_load_token(path, token, &generated, warn, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(token, "0123456789abcdef0123");
    cr_assert_not(generated);
    cr_assert_str_empty(warnings());
}

Test(server_token, warns_in_one_line_about_a_file_others_can_read, .init = setup,
     .fini = teardown)
{
    write_token("0123456789abcdef0123\n", 0644);
    bool generated;
    cr_assert_eq(cn_admin_load_token(path, token, &generated, warn, err, sizeof err),
                 0);
    const char *w = warnings();
    cr_assert_eq(lines(w), 1, "%s", w);
    cr_assert(strstr(w, path) && strstr(w, "0644") && strstr(w, "chmod 600"), "%s", w);
}

Test(server_token, warns_in_one_line_about_a_one_character_token, .init = setup,
     .fini = teardown)
{
    write_token("x", 0600);
    bool generated;
    cr_assert_eq(cn_admin_load_token(path, token, &generated, warn, err, sizeof err),
                 0);
    cr_assert_str_eq(token, "x");
    const char *w = warnings();
    cr_assert_eq(lines(w), 1, "%s", w);
    cr_assert(strstr(w, "only 1 byte;"), "%s", w);

    setenv("CANARY_TOKEN", "short", 1);
    cr_assert_eq(cn_admin_load_token(NULL, token, &generated, warn, err, sizeof err),
                 0);
    cr_assert_str_eq(token, "short");
    cr_assert_eq(lines(warnings()), 2, "%s", warnings());
    cr_assert(strstr(warnings(), "CANARY_TOKEN is only 5 bytes"), "%s", warnings());
    unsetenv("CANARY_TOKEN");
}

Test(server_token, refuses_an_empty_or_multi_line_or_missing_file, .init = setup,
     .fini = teardown)
{
    bool generated;
    const char *bad[] = {"", "\n\n", "a\nb\n"};
    for (size_t i = 0; i < 3; i++) {
        write_token(bad[i], 0600);
        cr_assert_eq(
            cn_admin_load_token(path, token, &generated, warn, err, sizeof err),
            CN_EINVAL, "'%s'", bad[i]);
        cr_assert(strstr(err, path), "%s", err);
    }
    unlink(path);
    cr_assert_eq(cn_admin_load_token(path, token, &generated, warn, err, sizeof err),
                 CN_EIO);
    cr_assert(strstr(err, "No such file"), "%s", err);
}

Test(server_token, generates_a_random_token_when_none_is_given, .init = setup,
     .fini = teardown)
{
    bool generated = false;
    cr_assert_eq(cn_admin_load_token(NULL, token, &generated, warn, err, sizeof err),
                 0);
    cr_assert(generated);
    cr_assert_eq(strlen(token), 2 * CN_ADMIN_TOKEN_MIN_BYTES);
    cr_assert_eq(strspn(token, "0123456789abcdef"), strlen(token));
    char first[64];
    strcpy(first, token);
    cr_assert_eq(cn_admin_load_token(NULL, token, &generated, warn, err, sizeof err),
                 0);
    cr_assert_str_neq(token, first);
    cr_assert_str_empty(warnings());
}
