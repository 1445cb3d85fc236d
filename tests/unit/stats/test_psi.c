/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Population stability index against an independent numpy implementation
 * of the documented formula (tests/golden/psi.json from
 * tools/golden/gen_psi.py), plus the properties the definition promises.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

Test(psi, matches_the_numpy_implementation_of_the_documented_formula)
{
    json_t *root = golden_load("psi");
    json_t *c;
    size_t i;
    json_array_foreach(golden_cases(root), i, c)
    {
        const char *name = golden_str(c, "name");
        size_t nx, ny;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        cn_psi_result_t r;
        cr_assert_eq(cn_stats_psi(x, nx, y, ny, (size_t)golden_num(c, "bins"), &r), 0,
                     "%s", name);
        cr_assert_eq(r.bins, (size_t)golden_num(c, "bins_used"), "%s: bins %zu", name,
                     r.bins);
        assert_golden(r.psi, golden_num(c, "psi"), GOLDEN_REL,
                      "%s: psi %.17g want %.17g", name, r.psi, golden_num(c, "psi"));
        free(x);
        free(y);
    }
    json_decref(root);
}

Test(psi, identical_samples_score_zero)
{
    double v[] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4};
    cn_psi_result_t r;
    cr_assert_eq(cn_stats_psi(v, 20, v, 20, 0, &r), 0);
    cr_assert_eq(r.psi, 0.0);
}

Test(psi, default_is_ten_equal_mass_bins)
{
    double y[100], x[100];
    for (int i = 0; i < 100; i++) {
        y[i] = i;
        x[i] = i + 0.5;
    }
    cn_psi_result_t r;
    cr_assert_eq(cn_stats_psi(x, 100, y, 100, 0, &r), 0);
    cr_assert_eq(r.bins, 10);
}

Test(psi, duplicate_edges_are_merged)
{
    /* Half the stable values are 0, then 10..19. The deciles (h = 19 q)
     * are 0, 0, 0, 0, 5, 11.4, 13.3, 15.2, 17.1: the four zeros merge into
     * one edge, leaving 6 edges and 7 bins. */
    double y[20] = {0};
    for (int i = 10; i < 20; i++)
        y[i] = i;
    double x[] = {0, 0, 15, 19};
    cn_psi_result_t r;
    cr_assert_eq(cn_stats_psi(x, 4, y, 20, 10, &r), 0);
    cr_assert_eq(r.bins, 7, "got %zu", r.bins);
}

Test(psi, an_empty_bin_counts_as_half_an_observation)
{
    /* y = {0, 1}, 2 bins: edge at 0.5. x all above: bin 0 empty in x. */
    double y[] = {0, 1};
    double x[] = {2, 3, 4, 5};
    cn_psi_result_t r;
    cr_assert_eq(cn_stats_psi(x, 4, y, 2, 2, &r), 0);
    double px0 = 0.5 / 4, py0 = 0.5, px1 = 1.0, py1 = 0.5;
    double want = (px0 - py0) * log(px0 / py0) + (px1 - py1) * log(px1 / py1);
    cr_assert_float_eq(r.psi, want, 1e-15);
}

Test(psi, a_bigger_shift_scores_higher)
{
    double y[200], a[200], b[200];
    for (int i = 0; i < 200; i++) {
        y[i] = i;
        a[i] = i + 10;
        b[i] = i + 60;
    }
    cn_psi_result_t ra, rb;
    cr_assert_eq(cn_stats_psi(a, 200, y, 200, 0, &ra), 0);
    cr_assert_eq(cn_stats_psi(b, 200, y, 200, 0, &rb), 0);
    cr_assert_gt(ra.psi, 0.0);
    cr_assert_gt(rb.psi, ra.psi);
}

Test(psi, bad_input_is_rejected)
{
    double v[] = {1, 2, 3};
    double bad[] = {1, NAN, 3};
    double inf[] = {1, -INFINITY, 3};
    cn_psi_result_t r;
    cr_assert_eq(cn_stats_psi(v, 0, v, 3, 0, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_psi(v, 3, v, 0, 0, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_psi(bad, 3, v, 3, 0, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_psi(v, 3, inf, 3, 0, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_psi(v, 3, v, 3, 1, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_psi(v, 3, v, 3, 10001, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_psi(NULL, 3, v, 3, 0, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_psi(v, 3, v, 3, 0, NULL), CN_EINVAL);
}
