/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Mann-Whitney U test (src/stats/mwu.c) against
 * scipy.stats.mannwhitneyu of scipy 1.10, on golden vectors covering every
 * method, alternative and continuity setting, and the error contract.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Which golden results a test looks at. */
typedef int (*result_filter_t)(json_t *result);

static cn_mwu_method_t method_of(const char *name)
{
    cn_mwu_method_t m;
    cr_assert_eq(cn_stats_parse_mwu_method(name, &m), 0, "method %s", name);
    return m;
}

static double max_rel_err_u, max_rel_err_p, max_rel_err_z;

static void note_err(double *worst, double got, double want)
{
    if (isfinite(got) && isfinite(want) && got != want)
        *worst = fmax(*worst, fabs(got - want) / fmax(fabs(got), fabs(want)));
}

/*
 * Run cn_stats_mwu on every golden result accepted by `keep` and compare U,
 * the p-value, z and the method used. A null p-value from scipy (nan) must
 * come back as CN_EDEGENERATE. Returns how many results were checked.
 */
static size_t check_against_scipy(result_filter_t keep)
{
    json_t *root = golden_load("mwu");
    json_t *cases = golden_cases(root);
    size_t idx, checked = 0;
    json_t *c;
    json_array_foreach(cases, idx, c)
    {
        const char *name = golden_str(c, "name");
        size_t nx, ny, ridx;
        double *x = golden_doubles(c, "x", &nx);
        double *y = golden_doubles(c, "y", &ny);
        json_t *r;
        json_array_foreach(json_object_get(c, "results"), ridx, r)
        {
            if (!keep(r))
                continue;
            cn_mwu_opts_t opts;
            cn_stats_mwu_opts_init(&opts);
            cr_assert_eq(cn_stats_parse_alternative(golden_str(r, "alternative"),
                                                    &opts.alternative),
                         0);
            opts.method = method_of(golden_str(r, "method"));
            opts.use_continuity = json_is_true(json_object_get(r, "use_continuity"));
#define LABEL                                                                          \
    "%s [%s, %s, continuity %d]", name, golden_str(r, "method"),                       \
        golden_str(r, "alternative"), opts.use_continuity

            cn_mwu_result_t res;
            int rc = cn_stats_mwu(x, nx, y, ny, &opts, &res);
            double want_p = golden_num(r, "pvalue");
            if (isnan(want_p)) {
                cr_assert_eq(rc, CN_EDEGENERATE, LABEL);
                checked++;
                continue;
            }
            cr_assert_eq(rc, 0, LABEL);
            cr_assert_eq(res.method, method_of(golden_str(r, "method_used")), LABEL);
            cr_assert_eq(res.u, golden_num(r, "u"), LABEL);
            assert_golden(res.pvalue, want_p, GOLDEN_REL, LABEL);
            note_err(&max_rel_err_u, res.u, golden_num(r, "u"));
            note_err(&max_rel_err_p, res.pvalue, want_p);
            json_t *z_inf = json_object_get(r, "z_inf");
            double want_z =
                z_inf ? json_integer_value(z_inf) * INFINITY : golden_num(r, "z");
            assert_golden(res.z, want_z, GOLDEN_REL, LABEL);
            note_err(&max_rel_err_z, res.z, want_z);
#undef LABEL
            checked++;
        }
        free(x);
        free(y);
    }
    json_decref(root);
    cr_log_info("mwu vs scipy: %zu results, max relative error U %.3g, p %.3g, z %.3g",
                checked, max_rel_err_u, max_rel_err_p, max_rel_err_z);
    return checked;
}

static int is(json_t *r, const char *key, const char *value)
{
    return strcmp(golden_str(r, key), value) == 0;
}

static int auto_picked_exact(json_t *r)
{
    return is(r, "method", "auto") && is(r, "method_used", "exact");
}

static int auto_picked_asymptotic(json_t *r)
{
    return is(r, "method", "auto") && is(r, "method_used", "asymptotic");
}

static int forced_exact(json_t *r)
{
    return is(r, "method", "exact");
}

static int forced_asymptotic(json_t *r)
{
    return is(r, "method", "asymptotic");
}

Test(mwu, exact_pvalue_matches_scipy_for_small_samples_without_ties)
{
    cr_assert_gt(check_against_scipy(auto_picked_exact), 0);
}

Test(mwu, auto_uses_tie_corrected_normal_approximation_like_scipy)
{
    cr_assert_gt(check_against_scipy(auto_picked_asymptotic), 0);
}

Test(mwu, forced_exact_matches_scipy_even_with_ties)
{
    /* scipy truncates a half-integer U and uses the no-ties distribution */
    cr_assert_gt(check_against_scipy(forced_exact), 0);
}

Test(mwu, forced_asymptotic_matches_scipy_with_and_without_continuity)
{
    cr_assert_gt(check_against_scipy(forced_asymptotic), 0);
}

Test(mwu, defaults_are_two_sided_with_continuity_and_auto)
{
    cn_mwu_opts_t opts;
    cn_stats_mwu_opts_init(&opts);
    cr_assert_eq(opts.alternative, CN_ALT_TWO_SIDED);
    cr_assert_eq(opts.use_continuity, 1);
    cr_assert_eq(opts.method, CN_MWU_AUTO);
}

Test(mwu, scipy_docstring_example_with_null_opts)
{
    /* scipy's docstring: males vs females, U = 17, exact p = 1/9 */
    const double males[] = {19, 22, 16, 29, 24};
    const double females[] = {20, 11, 17, 12};
    cn_mwu_result_t r;
    cr_assert_eq(cn_stats_mwu(males, 5, females, 4, NULL, &r), 0);
    cr_assert_eq(r.u, 17);
    cr_assert_eq(r.method, CN_MWU_EXACT);
    assert_golden(r.pvalue, 0.1111111111111111, 1e-15, "p = %.17g", r.pvalue);
    cr_assert(isnan(r.z));
}

Test(mwu, u_counts_half_for_each_tied_pair)
{
    const double x[] = {1, 2, 3};
    const double y[] = {2, 2, 0};
    cn_mwu_result_t r;
    cr_assert_eq(cn_stats_mwu(x, 3, y, 3, NULL, &r), 0);
    /* x=1 beats 0; x=2 beats 0, ties two 2s; x=3 beats all three */
    cr_assert_eq(r.u, 1 + (1 + 0.5 * 2) + 3);
}

Test(mwu, all_tied_samples_give_p_one_or_degenerate)
{
    const double x[] = {5, 5, 5};
    const double y[] = {5, 5, 5, 5};
    cn_mwu_opts_t opts;
    cn_stats_mwu_opts_init(&opts);
    opts.method = CN_MWU_ASYMPTOTIC;
    cn_mwu_result_t r;
    /* zero variance: scipy's z is -0.5/0 = -inf and p clips to 1 ... */
    cr_assert_eq(cn_stats_mwu(x, 3, y, 4, &opts, &r), 0);
    cr_assert_eq(r.pvalue, 1);
    cr_assert(isinf(r.z) && r.z < 0);
    /* ... but without the continuity correction it is 0/0: nan in scipy */
    opts.use_continuity = 0;
    cr_assert_eq(cn_stats_mwu(x, 3, y, 4, &opts, &r), CN_EDEGENERATE);
}

Test(mwu, rejects_empty_samples)
{
    const double x[] = {1, 2};
    cn_mwu_result_t r;
    cr_assert_eq(cn_stats_mwu(x, 2, x, 0, NULL, &r), CN_ETOOFEW);
    cr_assert_eq(cn_stats_mwu(x, 0, x, 2, NULL, &r), CN_ETOOFEW);
}

Test(mwu, rejects_nan_and_infinity)
{
    const double ok[] = {1, 2, 3};
    const double with_nan[] = {1, NAN, 3};
    const double with_inf[] = {1, INFINITY, 3};
    cn_mwu_result_t r;
    cr_assert_eq(cn_stats_mwu(with_nan, 3, ok, 3, NULL, &r), CN_ENONFINITE);
    cr_assert_eq(cn_stats_mwu(ok, 3, with_inf, 3, NULL, &r), CN_ENONFINITE);
}

Test(mwu, rejects_unknown_alternative_or_method)
{
    const double x[] = {1, 2, 3};
    cn_mwu_opts_t opts;
    cn_mwu_result_t r;
    cn_stats_mwu_opts_init(&opts);
    opts.alternative = (cn_alternative_t)7;
    cr_assert_eq(cn_stats_mwu(x, 3, x, 3, &opts, &r), CN_EINVAL);
    cn_stats_mwu_opts_init(&opts);
    opts.method = (cn_mwu_method_t)9;
    cr_assert_eq(cn_stats_mwu(x, 3, x, 3, &opts, &r), CN_EINVAL);
    cr_assert_eq(cn_stats_mwu(x, 3, x, 3, NULL, NULL), CN_EINVAL);
}

static double *ramp(size_t n, double start)
{
    double *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = start + (double)i;
    return v;
}

Test(mwu, forced_exact_beyond_the_wilcox_limits_is_too_big)
{
    cn_mwu_opts_t opts;
    cn_stats_mwu_opts_init(&opts);
    opts.method = CN_MWU_EXACT;
    cn_mwu_result_t r;
    size_t big = CN_WILCOX_MAX_MIN + 1;
    double *x = ramp(big, 0.25), *y = ramp(big, 0);
    cr_assert_eq(cn_stats_mwu(x, big, y, big, &opts, &r), CN_ETOOBIG);
    size_t long_n = CN_WILCOX_MAX_NM / 2 + 1;
    double *yy = ramp(long_n, 0);
    cr_assert_eq(cn_stats_mwu(x, 2, yy, long_n, &opts, &r), CN_ETOOBIG);
    free(x);
    free(y);
    free(yy);
}

Test(mwu, auto_falls_back_to_asymptotic_when_exact_would_be_too_big)
{
    /* scipy's rule says exact (min size 2, no ties), but 2 * ny is past
     * CN_WILCOX_MAX_NM: auto reports and uses the normal approximation. */
    size_t ny = CN_WILCOX_MAX_NM / 2 + 1;
    double x[] = {0.5, 1000.5};
    double *y = ramp(ny, 0);
    cn_mwu_result_t r_auto, r_asym;
    cn_mwu_opts_t opts;
    cn_stats_mwu_opts_init(&opts);
    cr_assert_eq(cn_stats_mwu(x, 2, y, ny, &opts, &r_auto), 0);
    cr_assert_eq(r_auto.method, CN_MWU_ASYMPTOTIC);
    opts.method = CN_MWU_ASYMPTOTIC;
    cr_assert_eq(cn_stats_mwu(x, 2, y, ny, &opts, &r_asym), 0);
    cr_assert_eq(r_auto.pvalue, r_asym.pvalue);
    cr_assert_eq(r_auto.u, 1 + 1001);
    free(y);
}

Test(mwu, swapping_samples_mirrors_u_and_the_one_sided_alternatives)
{
    const double x[] = {1.2, 3.4, 0.7, 8.8, 2.5, 6.1, 4.4, 9.9, 5.0, 7.3};
    const double y[] = {0.1, 2.2, 1.9, 3.3, 0.8, 4.1, 2.7, 1.1, 3.9};
    cn_mwu_opts_t opts;
    cn_stats_mwu_opts_init(&opts);
    cn_mwu_result_t xy, yx;
    opts.alternative = CN_ALT_GREATER;
    cr_assert_eq(cn_stats_mwu(x, 10, y, 9, &opts, &xy), 0);
    opts.alternative = CN_ALT_LESS;
    cr_assert_eq(cn_stats_mwu(y, 9, x, 10, &opts, &yx), 0);
    cr_assert_eq(xy.u + yx.u, 90);
    cr_assert_eq(xy.pvalue, yx.pvalue);
}

/*
 * The tie term T = sum of t^3 - t beyond 2642245 values, where it no
 * longer fits in 64 bits (a regression test: a 64-bit T wraps silently and
 * no smaller sample notices). 0/1 data, 1.5 million values per sample, so
 * one tie group holds 2779100 values and t^3 alone exceeds 2^64. For two
 * tie groups t0 + t1 = N, T = N^3 - N - 3 t0 t1 N, and the tie-corrected
 * variance nm/12 ((N + 1) - T / (N (N - 1))) reduces to
 *     nm t0 t1 / (4 (N - 1)),
 * a closed form with no cube in it, so the p-value is checked against an
 * independent computation: z = (U - nm/2 - 1/2) / s, p = 2 Q(z).
 */
Test(mwu, tie_term_beyond_2642245_values_matches_the_closed_form)
{
    const size_t n = 1500000, x_ones = 110000, y_ones = 110900;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    cr_assert(x && y);
    for (size_t i = 0; i < n; i++) {
        x[i] = i < x_ones ? 1 : 0;
        y[i] = i < y_ones ? 1 : 0;
    }
    cn_mwu_result_t r;
    cr_assert_eq(cn_stats_mwu(x, n, y, n, NULL, &r), 0);
    cr_assert_eq(r.method, CN_MWU_ASYMPTOTIC);

    double nm = (double)n * (double)n, big_n = 2.0 * (double)n;
    double t1 = (double)(x_ones + y_ones), t0 = big_n - t1;
    /* U1 = #{x > y} + 1/2 #{x == y}: x's ones beat y's zeros. */
    double u1 = (double)x_ones * (double)(n - y_ones) +
                0.5 * ((double)(n - x_ones) * (double)(n - y_ones) +
                       (double)x_ones * (double)y_ones);
    cr_assert_eq(r.u, u1);
    double s = sqrt(nm * t0 * t1 / (4 * (big_n - 1)));
    double u = fmax(u1, nm - u1);
    double z = (u - nm / 2 - 0.5) / s;
    double p = erfc(z / M_SQRT2);
    cr_assert_float_eq(r.z, z, 1e-9 * fabs(z), "z = %.17g, closed form %.17g", r.z, z);
    cr_assert_float_eq(r.pvalue, p, 1e-8 * p, "p = %.17g, closed form %.17g", r.pvalue,
                       p);
    /* The numbers themselves, so a wrong closed form cannot hide: 900
     * more ones in y is a shift of 1.96 standard errors. */
    cr_assert(r.pvalue > 0.04 && r.pvalue < 0.06, "p = %g", r.pvalue);
    free(x);
    free(y);
}
