/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Mid-ranks and the tie term (src/stats/rank.c) against
 * scipy.stats.rankdata(method='average') and scipy.stats.tiecorrect.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

Test(rank, average_ranks_and_tie_term_match_scipy_exactly)
{
    json_t *root = golden_load("rank");
    json_t *cases = golden_cases(root);
    size_t idx;
    json_t *c;
    json_array_foreach(cases, idx, c)
    {
        const char *name = golden_str(c, "name");
        size_t n, nr;
        double *x = golden_doubles(c, "x", &n);
        double *want = golden_doubles(c, "ranks", &nr);
        cr_assert_eq(n, nr);
        double *ranks = malloc(n * sizeof *ranks);
        double tie_term = -1;
        cr_assert_eq(cn_stats_rank(x, n, ranks, &tie_term), 0, "%s", name);
        /* Mid-ranks are multiples of 1/2: exact, not merely close. */
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(ranks[i], want[i], "%s: rank[%zu] = %g, scipy %g", name, i,
                         ranks[i], want[i]);
        cr_assert_eq(tie_term, golden_num(c, "tie_term"), "%s: tie term %.17g", name,
                     tie_term);
        free(x);
        free(want);
        free(ranks);
    }
    json_decref(root);
}

Test(rank, tie_term_gives_scipys_tiecorrect)
{
    json_t *root = golden_load("rank");
    json_t *cases = golden_cases(root);
    size_t idx;
    json_t *c;
    json_array_foreach(cases, idx, c)
    {
        size_t n;
        double *x = golden_doubles(c, "x", &n);
        double *ranks = malloc(n * sizeof *ranks);
        double tie_term;
        cr_assert_eq(cn_stats_rank(x, n, ranks, &tie_term), 0);
        double dn = (double)n;
        /* scipy.stats.tiecorrect returns 1 for n < 2 */
        double tiecorrect = n < 2 ? 1.0 : 1.0 - tie_term / (dn * dn * dn - dn);
        assert_golden(tiecorrect, golden_num(c, "tiecorrect"), GOLDEN_REL, "%s",
                      golden_str(c, "name"));
        free(x);
        free(ranks);
    }
    json_decref(root);
}

Test(rank, ties_share_the_average_of_their_positions)
{
    const double x[] = {10, 20, 10, 30, 10, 20};
    const double want[] = {2, 4.5, 2, 6, 2, 4.5};
    double ranks[6], tie_term;
    cr_assert_eq(cn_stats_rank(x, 6, ranks, &tie_term), 0);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(ranks[i], want[i], "rank of x[%d]", i);
    cr_assert_eq(tie_term, (27 - 3) + (8 - 2)); /* groups of 3 and 2 */
}

Test(rank, negative_zero_ties_with_positive_zero)
{
    const double x[] = {0.0, -0.0, -1.0};
    double ranks[3], tie_term;
    cr_assert_eq(cn_stats_rank(x, 3, ranks, &tie_term), 0);
    cr_assert_eq(ranks[0], 2.5);
    cr_assert_eq(ranks[1], 2.5);
    cr_assert_eq(ranks[2], 1);
    cr_assert_eq(tie_term, 6);
}

Test(rank, tie_term_output_is_optional)
{
    const double x[] = {3, 1, 2};
    double ranks[3];
    cr_assert_eq(cn_stats_rank(x, 3, ranks, NULL), 0);
    cr_assert_eq(ranks[0], 3);
    cr_assert_eq(ranks[1], 1);
    cr_assert_eq(ranks[2], 2);
}

Test(rank, rejects_an_empty_sample)
{
    double ranks[1], tie_term;
    cr_assert_eq(cn_stats_rank(NULL, 0, ranks, &tie_term), CN_ETOOFEW);
}

Test(rank, rejects_nan_and_infinity)
{
    double ranks[3], tie_term;
    const double with_nan[] = {1, NAN, 2};
    const double with_inf[] = {1, 2, -INFINITY};
    cr_assert_eq(cn_stats_rank(with_nan, 3, ranks, &tie_term), CN_ENONFINITE);
    cr_assert_eq(cn_stats_rank(with_inf, 3, ranks, &tie_term), CN_ENONFINITE);
}

/*
 * The tie term beyond 2642245 values (a regression test: in 64 bits it
 * wraps). Three million values, 2779100 of them equal (t^3 > 2^64) and
 * the rest equal to another value: T = N^3 - N - 3 t0 t1 N for two tie
 * groups, with no cube of a group in it.
 */
Test(rank, tie_term_beyond_2642245_values_matches_the_closed_form)
{
    const size_t n = 3000000, ones = 220900;
    double *v = malloc(n * sizeof *v), *ranks = malloc(n * sizeof *ranks);
    cr_assert(v && ranks);
    for (size_t i = 0; i < n; i++)
        v[i] = i % 13 == 0 && i / 13 < ones ? 1 : 0;
    double tie_term;
    cr_assert_eq(cn_stats_rank(v, n, ranks, &tie_term), 0);
    long double big_n = n, t1 = ones, t0 = big_n - t1;
    double want = (double)(big_n * big_n * big_n - big_n - 3 * t0 * t1 * big_n);
    cr_assert_float_eq(tie_term, want, 1e-15 * want, "T = %.17g, closed form %.17g",
                       tie_term, want);
    /* The zeros share rank (t0 + 1) / 2, the ones t0 + (t1 + 1) / 2. */
    cr_assert_eq(ranks[1], ((double)t0 + 1) / 2);
    cr_assert_eq(ranks[0], (double)t0 + ((double)t1 + 1) / 2);
    free(v);
    free(ranks);
}
