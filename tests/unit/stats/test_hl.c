/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Specification of the Hodges-Lehmann estimator (src/stats/hl.c): its exact
 * branch against R's wilcox.test(conf.int = TRUE), its normal branch and the
 * pairwise-difference selection against numpy's brute-force enumeration
 * (tests/golden/hl.json, tools/golden/gen_hl.py), and the selection against
 * plain sorting on many random, heavily tied matrices.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"
#include "util/rand.h"

#include <criterion/criterion.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static double unif(uint64_t *s)
{
    return ((double)(cn_rand_next(s) >> 11) + 0.5) * 0x1.0p-53;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* All n*m differences x_i - y_j, sorted: the definition we must match. */
static double *sorted_differences(const double *x, size_t n, const double *y, size_t m)
{
    double *d = malloc(n * m * sizeof *d);
    cr_assert(d != NULL);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            d[i * m + j] = x[i] - y[j];
    qsort(d, n * m, sizeof *d, cmp_double);
    return d;
}

static void check_golden_cases(int want_exact)
{
    json_t *root = golden_load("hl");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        if ((int)golden_num(c, "exact") != want_exact)
            continue;
        const char *name = golden_str(c, "name");
        size_t n, m;
        double *x = golden_doubles(c, "x", &n);
        double *y = golden_doubles(c, "y", &m);
        cn_hl_result_t r;
        int rc = cn_stats_hl(x, n, y, m, golden_num(c, "confidence"), &r);
        cr_assert_eq(rc, 0, "%s: rc %d", name, rc);
        cr_assert_eq(r.exact, want_exact, "%s: exact flag %d", name, r.exact);
        /* The interval ends are order statistics: bit-identical. */
        cr_assert(r.ci_low == golden_num(c, "ci_low"), "%s: ci_low %.17g want %.17g",
                  name, r.ci_low, golden_num(c, "ci_low"));
        cr_assert(r.ci_high == golden_num(c, "ci_high"), "%s: ci_high %.17g want %.17g",
                  name, r.ci_high, golden_num(c, "ci_high"));
        assert_golden(r.estimate, golden_num(c, "estimate"), GOLDEN_REL,
                      "%s: estimate %.17g want %.17g", name, r.estimate,
                      golden_num(c, "estimate"));
        assert_golden(r.achieved_confidence, golden_num(c, "achieved_confidence"),
                      GOLDEN_REL, "%s: achieved confidence %.17g want %.17g", name,
                      r.achieved_confidence, golden_num(c, "achieved_confidence"));
        free(x);
        free(y);
        checked++;
    }
    cr_assert_gt(checked, 20);
    json_decref(root);
}

Test(hl, exact_interval_and_estimate_match_R_wilcox_test_for_small_untied_samples)
{
    check_golden_cases(1);
}

Test(hl, normal_order_statistic_interval_matches_numpy_for_large_or_tied_samples)
{
    check_golden_cases(0);
}

Test(hl, pairdiff_select_matches_numpy_sorted_differences_up_to_n_1e5)
{
    json_t *root = golden_load("hl");
    json_t *cases = golden_cases(root);
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        json_t *sel = json_object_get(c, "select");
        if (!sel)
            continue;
        size_t n, m;
        double *x = golden_doubles(c, "x", &n);
        double *y = golden_doubles(c, "y", &m);
        cn_stats_sort(x, n);
        cn_stats_sort(y, m);
        size_t t;
        json_t *pair;
        json_array_foreach(sel, t, pair)
        {
            uint64_t k = (uint64_t)json_integer_value(json_array_get(pair, 0));
            double want = json_number_value(json_array_get(pair, 1));
            double got;
            cr_assert_eq(cn_stats_pairdiff_select(x, n, y, m, k, &got), 0);
            cr_assert(got == want, "%s: k=%llu got %.17g want %.17g",
                      golden_str(c, "name"), (unsigned long long)k, got, want);
            checked++;
        }
        free(x);
        free(y);
    }
    cr_assert_gt(checked, 100);
    json_decref(root);
}

/*
 * The property: for random n, m (1 to 300) and data drawn from a handful of
 * values (heavy ties), from a constant, or from a continuous distribution,
 * cn_stats_pairdiff_select returns exactly the k-th element of the sorted
 * differences. Small matrices are checked at every k; larger ones (whose
 * selection runs pivot passes rather than a direct sort) at the extremes,
 * the middle and random ranks.
 */
Test(pairdiff, select_equals_brute_force_sort_for_random_matrices_with_heavy_ties)
{
    uint64_t seed = 12345;
    size_t checks = 0;
    for (int it = 0; it < 600; it++) {
        size_t cap = it < 400 ? 12 : 300;
        size_t n = 1 + cn_rand_next(&seed) % cap, m = 1 + cn_rand_next(&seed) % cap;
        int kind = (int)(cn_rand_next(&seed) % 4);
        double *x = malloc(n * sizeof *x), *y = malloc(m * sizeof *y);
        for (size_t i = 0; i < n + m; i++) {
            double v;
            switch (kind) {
            case 0: /* three values: almost everything tied */
                v = (double)(cn_rand_next(&seed) % 3);
                break;
            case 1: /* a coarse grid */
                v = (double)(cn_rand_next(&seed) % 50) / 8.0;
                break;
            case 2: /* constant */
                v = 1.5;
                break;
            default:
                v = exp(3.0 * unif(&seed));
            }
            if (i < n)
                x[i] = v;
            else
                y[i - n] = v;
        }
        cn_stats_sort(x, n);
        cn_stats_sort(y, m);
        double *d = sorted_differences(x, n, y, m);
        uint64_t nm = (uint64_t)n * m;
        size_t nk = nm <= 144 ? nm : 12;
        for (size_t t = 0; t < nk; t++) {
            uint64_t k = nm <= 144 ? t
                         : t == 0  ? 0
                         : t == 1  ? nm - 1
                         : t == 2  ? nm / 2
                                   : cn_rand_next(&seed) % nm;
            double got;
            cr_assert_eq(cn_stats_pairdiff_select(x, n, y, m, k, &got), 0);
            cr_assert(got == d[k], "n=%zu m=%zu kind=%d k=%llu: got %.17g want %.17g",
                      n, m, kind, (unsigned long long)k, got, d[k]);
            checks++;
        }
        free(d);
        free(x);
        free(y);
    }
    cr_assert_gt(checks, 10000);
}

/*
 * The same property for cn_stats_hl as a whole, on the normal branch (n or
 * m >= 50, or ties): the interval is [d_(k+1), d_(nm-k)] with k =
 * floor(nm/2 - z sqrt(nm (n+m+1) / 12)) clamped to [0, (nm-1)/2], and the
 * estimate the mean of the two middle differences.
 */
Test(hl, normal_branch_equals_brute_force_order_statistics_for_random_tied_samples)
{
    uint64_t seed = 2024;
    const double confs[] = {0.5, 0.8, 0.9, 0.95, 0.99, 0.999};
    for (int it = 0; it < 300; it++) {
        size_t n = 1 + cn_rand_next(&seed) % 300, m = 1 + cn_rand_next(&seed) % 300;
        int levels = 1 + (int)(cn_rand_next(&seed) % 40);
        double conf = confs[cn_rand_next(&seed) % 6];
        double *x = malloc(n * sizeof *x), *y = malloc(m * sizeof *y);
        for (size_t i = 0; i < n; i++)
            x[i] = (double)(cn_rand_next(&seed) % (uint64_t)levels) / 4.0;
        for (size_t j = 0; j < m; j++)
            y[j] = (double)(cn_rand_next(&seed) % (uint64_t)levels) / 4.0 - 1.0;
        cn_hl_result_t r;
        cr_assert_eq(cn_stats_hl(x, n, y, m, conf, &r), 0);
        uint64_t nm = (uint64_t)n * m;
        double *d = sorted_differences(x, n, y, m);
        double sigma = sqrt((double)nm * (double)(n + m + 1) / 12.0);
        double t = (double)nm / 2.0 - gsl_cdf_ugaussian_Qinv((1 - conf) / 2) * sigma;
        uint64_t k = t < 0 ? 0 : (uint64_t)floor(t);
        k = k > (nm - 1) / 2 ? (nm - 1) / 2 : k;
        if (r.exact) { /* only without ties and n, m < 50 */
            cr_assert(n < 50 && m < 50);
        } else {
            cr_assert(r.ci_low == d[k] && r.ci_high == d[nm - 1 - k],
                      "n=%zu m=%zu levels=%d conf=%g k=%llu: [%g, %g] want [%g, %g]", n,
                      m, levels, conf, (unsigned long long)k, r.ci_low, r.ci_high, d[k],
                      d[nm - 1 - k]);
        }
        double med = 0.5 * d[(nm - 1) / 2] + 0.5 * d[nm / 2];
        cr_assert(r.estimate == med, "n=%zu m=%zu: estimate %.17g want %.17g", n, m,
                  r.estimate, med);
        free(d);
        free(x);
        free(y);
    }
}

/* Number of pairs with x_i - y_j < v (strict) or <= v, by a two-pointer
 * sweep over the sorted samples. */
static uint64_t count_diffs(const double *x, size_t n, const double *y, size_t m,
                            double v, int strict)
{
    uint64_t cnt = 0;
    size_t j = m; /* y[j..m) are the y with x_i - y <= v (or < v) */
    for (size_t i = n; i-- > 0;) {
        while (j > 0 && (strict ? x[i] - y[j - 1] < v : x[i] - y[j - 1] <= v))
            j--;
        cnt += m - j;
    }
    return cnt;
}

/* Beyond brute force: at n = m = 2 * 10^5 (4e10 differences, ranks past
 * 2^32) the selected value v must satisfy #{d < v} <= k < #{d <= v}. */
Test(pairdiff, select_rank_invariant_holds_for_4e10_differences)
{
    size_t n = 200000, m = 200000;
    uint64_t seed = 99;
    double *x = malloc(n * sizeof *x), *y = malloc(m * sizeof *y);
    for (size_t i = 0; i < n; i++)
        x[i] = exp(0.1 +
                   sqrt(-2 * log(unif(&seed))) * cos(6.283185307179586 * unif(&seed)));
    for (size_t j = 0; j < m; j++)
        y[j] = exp(sqrt(-2 * log(unif(&seed))) * cos(6.283185307179586 * unif(&seed)));
    cn_stats_sort(x, n);
    cn_stats_sort(y, m);
    uint64_t nm = (uint64_t)n * m;
    uint64_t ks[] = {0,      1,      4294967296ull, nm / 2 - 1,
                     nm / 2, nm - 2, nm - 1,        cn_rand_next(&seed) % nm};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        double v;
        cr_assert_eq(cn_stats_pairdiff_select(x, n, y, m, ks[t], &v), 0);
        uint64_t lt = count_diffs(x, n, y, m, v, 1);
        uint64_t le = count_diffs(x, n, y, m, v, 0);
        cr_assert(lt <= ks[t] && ks[t] < le, "k=%llu v=%.17g: #< %llu #<= %llu",
                  (unsigned long long)ks[t], v, (unsigned long long)lt,
                  (unsigned long long)le);
    }
    double v;
    cr_assert_eq(cn_stats_pairdiff_select(x, n, y, m, 0, &v), 0);
    cr_assert(v == x[0] - y[m - 1], "the smallest difference is min x - max y");
    cr_assert_eq(cn_stats_pairdiff_select(x, n, y, m, nm - 1, &v), 0);
    cr_assert(v == x[n - 1] - y[0], "the largest difference is max x - min y");
    free(x);
    free(y);
}

Test(hl, swapping_the_samples_negates_the_estimate_and_mirrors_the_interval)
{
    double x[] = {3.1, 0.4, 7.7, 2.2, 9.0, 5.5, 1.3};
    double y[] = {2.0, 8.1, 0.9, 4.4, 6.6};
    cn_hl_result_t xy, yx;
    cr_assert_eq(cn_stats_hl(x, 7, y, 5, 0.9, &xy), 0);
    cr_assert_eq(cn_stats_hl(y, 5, x, 7, 0.9, &yx), 0);
    cr_assert(yx.estimate == -xy.estimate);
    cr_assert(yx.ci_low == -xy.ci_high);
    cr_assert(yx.ci_high == -xy.ci_low);
    cr_assert(yx.achieved_confidence == xy.achieved_confidence);
    cr_assert_eq(xy.exact, 1);
}

Test(hl, shifting_x_by_a_constant_shifts_estimate_and_interval_by_it)
{
    /* Integer data, so the shifted differences are exact. */
    double x[60], xs[60], y[70];
    uint64_t seed = 5;
    for (int i = 0; i < 60; i++) {
        x[i] = (double)(cn_rand_next(&seed) % 1000);
        xs[i] = x[i] + 250;
    }
    for (int j = 0; j < 70; j++)
        y[j] = (double)(cn_rand_next(&seed) % 1000);
    cn_hl_result_t a, b;
    cr_assert_eq(cn_stats_hl(x, 60, y, 70, 0.95, &a), 0);
    cr_assert_eq(cn_stats_hl(xs, 60, y, 70, 0.95, &b), 0);
    cr_assert(b.estimate == a.estimate + 250);
    cr_assert(b.ci_low == a.ci_low + 250);
    cr_assert(b.ci_high == a.ci_high + 250);
    cr_assert(a.ci_low <= a.estimate && a.estimate <= a.ci_high);
}

Test(hl, interval_ends_are_pairwise_differences_and_estimate_the_middle_mean)
{
    /* 4 x 3 = 12 differences, 20 - 1, 20 - 2, ..., 1 - 10: even count. */
    double x[] = {1, 5, 12, 20};
    double y[] = {10, 2, 1};
    double d[12];
    size_t t = 0;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            d[t++] = x[i] - y[j];
    qsort(d, 12, sizeof d[0], cmp_double);
    cn_hl_result_t r;
    /* Ties (1 in both samples) force the normal branch: k = floor(6 - 1.96
     * * sqrt(12 * 8 / 12)) = floor(0.456) = 0, the full range. */
    cr_assert_eq(cn_stats_hl(x, 4, y, 3, 0.95, &r), 0);
    cr_assert_eq(r.exact, 0);
    cr_assert(r.estimate == (d[5] + d[6]) / 2);
    cr_assert(r.ci_low == d[0] && r.ci_high == d[11]);
}

/*
 * x = 0 (half) or 1 (half), y = 0: the differences are two tie groups of
 * equal size, so the middle pair straddles them and the estimate is 1/2.
 * With groups this large the pivots are tie values that separate the two
 * middle ranks (and, at 300 x 300, the two interval ends), which the
 * selection must survive.
 */
Test(hl, median_between_two_large_tie_groups_is_their_midpoint)
{
    const size_t sizes[] = {50, 300};
    for (size_t s = 0; s < 2; s++) {
        size_t n = 2 * sizes[s], m = sizes[s];
        double *x = malloc(n * sizeof *x), *y = calloc(m, sizeof *y);
        for (size_t i = 0; i < n; i++)
            x[i] = i % 2;
        cn_hl_result_t r;
        cr_assert_eq(cn_stats_hl(x, n, y, m, 0.95, &r), 0);
        cr_assert_eq(r.exact, 0);
        cr_assert(r.estimate == 0.5, "estimate %g", r.estimate);
        cr_assert(r.ci_low == 0 && r.ci_high == 1, "[%g, %g]", r.ci_low, r.ci_high);
        free(x);
        free(y);
    }
}

Test(hl, achieved_confidence_is_exact_coverage_in_the_exact_branch)
{
    /* n = m = 5, 95%: qwilcox(0.025, 5, 5) = 3, so the interval is
     * [d_(3), d_(23)] with coverage 1 - 2 P(U <= 2) = 1 - 2 * 4/252. */
    double x[] = {1.1, 2.3, 3.7, 4.2, 5.9};
    double y[] = {0.5, 1.6, 2.8, 3.3, 4.8};
    cn_hl_result_t r;
    cr_assert_eq(cn_stats_hl(x, 5, y, 5, 0.95, &r), 0);
    cr_assert_eq(r.exact, 1);
    assert_golden(r.achieved_confidence, 1 - 8.0 / 252, GOLDEN_REL, "coverage %.17g",
                  r.achieved_confidence);
    double d[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            d[i * 5 + j] = x[i] - y[j];
    qsort(d, 25, sizeof d[0], cmp_double);
    cr_assert(r.ci_low == d[2] && r.ci_high == d[22]);
    cr_assert(r.estimate == d[12]);
}

Test(hl, does_not_modify_its_inputs_and_is_deterministic)
{
    double x[200], y[150], x0[200], y0[150];
    uint64_t seed = 77;
    for (int i = 0; i < 200; i++)
        x[i] = x0[i] = unif(&seed);
    for (int j = 0; j < 150; j++)
        y[j] = y0[j] = unif(&seed);
    cn_hl_result_t a, b;
    cr_assert_eq(cn_stats_hl(x, 200, y, 150, 0.95, &a), 0);
    cr_assert_eq(cn_stats_hl(x, 200, y, 150, 0.95, &b), 0);
    cr_assert(memcmp(x, x0, sizeof x) == 0 && memcmp(y, y0, sizeof y) == 0);
    cr_assert(a.estimate == b.estimate && a.ci_low == b.ci_low &&
              a.ci_high == b.ci_high &&
              a.achieved_confidence == b.achieved_confidence && a.exact == b.exact);
}

Test(hl, rejects_empty_samples_with_etoofew)
{
    double x[] = {1, 2, 3};
    cn_hl_result_t r;
    cr_assert_eq(cn_stats_hl(x, 0, x, 3, 0.95, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_hl(x, 3, x, 0, 0.95, &r), CN_ETOOFEW);
}

Test(hl, rejects_nan_and_infinite_values_with_enonfinite)
{
    double ok[] = {1, 2, 3};
    double nan_x[] = {1, NAN, 3};
    double inf_y[] = {1, 2, INFINITY};
    double minf[] = {-INFINITY, 2, 3};
    cn_hl_result_t r;
    cr_assert_eq(cn_stats_hl(nan_x, 3, ok, 3, 0.95, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_hl(ok, 3, inf_y, 3, 0.95, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_hl(minf, 3, ok, 3, 0.95, &r), CN_ENONFINITE);
}

Test(hl, rejects_confidence_outside_the_open_unit_interval_with_einval)
{
    double x[] = {1, 2, 3}, y[] = {1.5, 2.5};
    double bad[] = {0.0, 1.0, -0.5, 1.5, NAN, INFINITY};
    cn_hl_result_t r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(cn_stats_hl(x, 3, y, 2, bad[i], &r), CN_EINVAL,
                     "confidence %g accepted", bad[i]);
}

Test(hl, rejects_differences_beyond_double_range_with_etoobig)
{
    double x[] = {1e308, 0}, y[] = {-1e308, 1};
    cn_hl_result_t r;
    cr_assert_eq(cn_stats_hl(x, 2, y, 2, 0.95, &r), CN_ETOOBIG);
}

Test(hl, rejects_samples_beyond_uint32_max_with_etoobig)
{
    /* Checked before any element is read. */
    double x[] = {1, 2}, y[] = {3, 4};
    size_t huge = (size_t)UINT32_MAX + 1;
    cn_hl_result_t r;
    double v;
    cr_assert_eq(cn_stats_hl(x, huge, y, 2, 0.95, &r), CN_ETOOBIG);
    cr_assert_eq(cn_stats_pairdiff_select(x, 2, y, huge, 0, &v), CN_ETOOBIG);
}

Test(pairdiff, rejects_bad_input)
{
    double xs[] = {1, 2, 3}, ys[] = {0, 4};
    double unsorted[] = {3, 1, 2};
    double with_nan[] = {1, NAN};
    double v;
    cr_assert_eq(cn_stats_pairdiff_select(xs, 0, ys, 2, 0, &v), CN_ETOOFEW);
    cr_assert_eq(cn_stats_pairdiff_select(xs, 3, ys, 0, 0, &v), CN_ETOOFEW);
    cr_assert_eq(cn_stats_pairdiff_select(xs, 3, ys, 2, 6, &v), CN_EINVAL,
                 "k must be below n*m");
    cr_assert_eq(cn_stats_pairdiff_select(unsorted, 3, ys, 2, 0, &v), CN_EINVAL,
                 "samples must be sorted");
    cr_assert_eq(cn_stats_pairdiff_select(xs, 3, with_nan, 2, 0, &v), CN_ENONFINITE);
    cr_assert_eq(cn_stats_pairdiff_select(xs, 3, ys, 2, 5, &v), 0);
    cr_assert(v == 3.0, "largest difference 3 - 0");
}
