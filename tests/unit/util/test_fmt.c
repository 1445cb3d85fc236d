/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Shortest round-trip reals and basis points. */
#include "util/fmt.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

Test(fmt, doubles_in_the_shortest_form_that_reads_back)
{
    char buf[CN_FMT_DOUBLE_BUF];
    cr_assert_str_eq(cn_fmt_double(0.95, buf, sizeof buf), "0.95");
    cr_assert_str_eq(cn_fmt_double(1, buf, sizeof buf), "1");
    cr_assert_str_eq(cn_fmt_double(-0.0, buf, sizeof buf), "-0");
    cr_assert_str_eq(cn_fmt_double(2.5e-05, buf, sizeof buf), "2.5e-05");
    cr_assert_str_eq(cn_fmt_double(0.0005, buf, sizeof buf), "0.0005");
    cr_assert_str_eq(cn_fmt_double(-0.1, buf, sizeof buf), "-0.1");
    cr_assert_str_eq(cn_fmt_double(0.1 + 0.2, buf, sizeof buf), "0.30000000000000004");
    cr_assert_str_eq(cn_fmt_double(1.0 / 3, buf, sizeof buf), "0.3333333333333333");
    cr_assert_str_eq(cn_fmt_double(NAN, buf, sizeof buf), "NaN");
    cr_assert_str_eq(cn_fmt_double(INFINITY, buf, sizeof buf), "+Inf");
    cr_assert_str_eq(cn_fmt_double(-INFINITY, buf, sizeof buf), "-Inf");
}

Test(fmt, every_double_reads_back_exactly)
{
    /* Values across the range, including the extremes and subnormals. */
    const double v[] = {5e-324,
                        2.2250738585072014e-308,
                        1.7976931348623157e308,
                        123456789012345678.0,
                        9007199254740993.0,
                        1e23,
                        0.1,
                        100};
    char buf[CN_FMT_DOUBLE_BUF];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        cn_fmt_double(v[i], buf, sizeof buf);
        cr_assert_eq(strtod(buf, NULL), v[i], "%s", buf);
        cr_assert_lt(strlen(buf), sizeof buf);
    }
    cr_assert_str_eq(cn_fmt_double(-1.7976931348623157e308, buf, sizeof buf),
                     "-1.7976931348623157e+308");
}

Test(fmt, basis_points_as_a_percentage_with_two_decimals)
{
    char buf[CN_FMT_BP_BUF];
    cr_assert_str_eq(cn_fmt_bp(2000, buf, sizeof buf), "20.00%");
    cr_assert_str_eq(cn_fmt_bp(5, buf, sizeof buf), "0.05%");
    cr_assert_str_eq(cn_fmt_bp(10000, buf, sizeof buf), "100.00%");
    cr_assert_str_eq(cn_fmt_bp(0, buf, sizeof buf), "0.00%");
    cr_assert_str_eq(cn_fmt_bp(1234, buf, sizeof buf), "12.34%");
    cr_assert_str_eq(cn_fmt_bp(UINT32_MAX, buf, sizeof buf), "42949672.95%");
}
