/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sample-file parsing: what is accepted, and the message for what is not. */
#include "cli/numbers.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <string.h>

static int parse(const char *text, cn_numbers_t *out, char *err)
{
    return cn_numbers_parse(text, strlen(text), "f.txt", out, err, 256);
}

Test(numbers, accepts_blanks_comments_crlf_and_exponents)
{
    cn_numbers_t v;
    char err[256];
    cr_assert_eq(parse("# latency\n 1.5 \r\n\n-2e3\n\t+0.25\n4", &v, err), 0, "%s",
                 err);
    cr_assert_eq(v.n, 4);
    cr_assert_eq(v.values[0], 1.5);
    cr_assert_eq(v.values[1], -2000.0);
    cr_assert_eq(v.values[2], 0.25);
    cr_assert_eq(v.values[3], 4.0);
    cn_numbers_dispose(&v);
}

Test(numbers, keeps_underflowing_values_as_the_nearest_double)
{
    cn_numbers_t v;
    char err[256];
    cr_assert_eq(parse("1e-400\n", &v, err), 0, "%s", err);
    cr_assert_eq(v.values[0], 0.0);
    cn_numbers_dispose(&v);
}

struct bad_case {
    const char *text;
    const char *message;
};

Test(numbers, rejects_bad_lines_naming_file_and_line)
{
    struct bad_case cases[] = {
        {"", "f.txt: no values (empty file)"},
        {"\n# only a comment\n", "f.txt: no values (only blank or comment lines)"},
        {"1\n2\nabc\n", "f.txt:3: 'abc' is not a number"},
        {"1\n2x\n", "f.txt:2: '2x' is not a number"},
        {"1 2\n", "f.txt:1: '1 2' is not a number"},
        {"1,5\n", "f.txt:1: '1,5' is not a number"},
        {"nan\n", "f.txt:1: 'nan' is not finite (NaN/Inf)"},
        {"3\n-Infinity\n", "f.txt:2: '-Infinity' is not finite (NaN/Inf)"},
        {"1e309\n", "f.txt:1: '1e309' overflows a double"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_numbers_t v;
        char err[256];
        cr_assert_eq(parse(cases[i].text, &v, err), CN_EPARSE, "case %zu", i);
        cr_assert_str_eq(err, cases[i].message);
        cr_assert_null(v.values, "no partial result on error");
        cr_assert_eq(v.n, 0);
    }
}

Test(numbers, rejects_an_embedded_nul_byte)
{
    cn_numbers_t v;
    char err[256];
    const char text[] = "1\n2\0\n3\n";
    cr_assert_eq(cn_numbers_parse(text, sizeof text - 1, "f.txt", &v, err, 256),
                 CN_EPARSE);
    cr_assert_str_eq(err, "f.txt:2: unexpected NUL byte");
}

Test(numbers, quotes_long_bad_lines_shortened)
{
    cn_numbers_t v;
    char err[256];
    char text[300];
    memset(text, 'z', 299);
    text[299] = '\0';
    cr_assert_eq(parse(text, &v, err), CN_EPARSE);
    cr_assert(strstr(err, "...' is not a number") != NULL, "%s", err);
    cr_assert(strlen(err) < 80, "%s", err);
}

Test(numbers, missing_file_is_an_io_error_with_the_path)
{
    cn_numbers_t v;
    char err[256];
    cr_assert_eq(cn_numbers_load("/nonexistent/x.txt", &v, err, sizeof err), CN_EIO);
    cr_assert_str_eq(err, "/nonexistent/x.txt: No such file or directory");
}

Test(numbers, a_directory_is_an_io_error)
{
    cn_numbers_t v;
    char err[256];
    cr_assert_eq(cn_numbers_load("/", &v, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "/: Is a directory") != NULL, "%s", err);
}
