/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CLI JSON output: shortest reals that still round-trip. */
#include "cli/json_out.h"

#include <criterion/criterion.h>
#include <float.h>
#include <stdlib.h>

Test(json_out, prints_the_shortest_real_that_reads_back_exactly)
{
    char buf[40];
    double cases[] = {0.95,    0.1,      1.0 / 3.0,   2.220446049250313e-16,
                      DBL_MAX, 4.9e-324, -123456.789, 0.049534613435626706,
                      1e21};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_json_format_real(cases[i], buf, sizeof buf);
        cr_assert_eq(strtod(buf, NULL), cases[i], "%s", buf);
    }
    cn_json_format_real(0.95, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.95");
    cn_json_format_real(3.0, buf, sizeof buf);
    cr_assert_str_eq(buf, "3.0");
    cn_json_format_real(-0.5, buf, sizeof buf);
    cr_assert_str_eq(buf, "-0.5");
}
