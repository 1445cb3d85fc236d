/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests on binned data (src/stats/binned.c, cn_stats_mwu_binned* in mwu.c,
 * cn_stats_ks2_binned in ks.c): against scipy 1.10 on the same data
 * expanded to one value per count (tests/golden/binned.json, written by
 * tools/golden/gen_binned.py), and the bounds checked against every
 * placement of the values inside their bins on small cases.
 */
#include "golden.h"
#include "stats/stats.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A case's bounds and counts (caller frees). */
static size_t load_bins(json_t *c, double **bounds, uint64_t **x, uint64_t **y)
{
    size_t nb, nx, ny;
    *bounds = golden_doubles(c, "bounds", &nb);
    double *dx = golden_doubles(c, "x", &nx);
    double *dy = golden_doubles(c, "y", &ny);
    cr_assert_eq(nx, nb + 1);
    cr_assert_eq(ny, nb + 1);
    *x = calloc(nx, sizeof **x);
    *y = calloc(ny, sizeof **y);
    for (size_t i = 0; i < nx; i++) {
        (*x)[i] = (uint64_t)dx[i];
        (*y)[i] = (uint64_t)dy[i];
    }
    free(dx);
    free(dy);
    return nx;
}

/* Call check(case, bounds, x, y, k) on each golden case of `kind`;
 * returns how many runs the checks counted. */
typedef size_t (*case_fn)(json_t *c, const double *bounds, const uint64_t *x,
                          const uint64_t *y, size_t k);

static size_t each_case(const char *kind, case_fn check)
{
    json_t *root = golden_load("binned");
    size_t idx, checked = 0;
    json_t *c;
    json_array_foreach(golden_cases(root), idx, c)
    {
        if (strcmp(golden_str(c, "kind"), kind) != 0)
            continue;
        double *bounds;
        uint64_t *x, *y;
        size_t k = load_bins(c, &bounds, &x, &y);
        checked += check(c, bounds, x, y, k);
        free(bounds);
        free(x);
        free(y);
    }
    json_decref(root);
    return checked;
}

static cn_mwu_method_t mwu_method(const char *s)
{
    cn_mwu_method_t m;
    cr_assert_eq(cn_stats_parse_mwu_method(s, &m), 0, "%s", s);
    return m;
}

static size_t check_mwu(json_t *c, const double *bounds, const uint64_t *x,
                        const uint64_t *y, size_t k)
{
    (void)bounds; /* the tests on the table need no edges */
    size_t checked = 0;
    size_t ridx;
    json_t *r;
    json_array_foreach(json_object_get(c, "runs"), ridx, r)
    {
        cn_mwu_opts_t o;
        cn_stats_mwu_opts_init(&o);
        cr_assert_eq(
            cn_stats_parse_alternative(golden_str(r, "alternative"), &o.alternative),
            0);
        o.use_continuity = json_is_true(json_object_get(r, "use_continuity"));
        o.method = mwu_method(golden_str(r, "method"));
        cn_mwu_result_t res;
        int rc = cn_stats_mwu_binned(x, y, k, &o, &res);
        if (isnan(golden_num(r, "pvalue"))) {
            /* scipy: nan (every value tied, no continuity correction) */
            cr_assert_eq(rc, CN_EDEGENERATE, "%s", golden_str(c, "name"));
            checked++;
            continue;
        }
        cr_assert_eq(rc, 0, "%s", golden_str(c, "name"));
        assert_golden(res.u, golden_num(r, "u"), GOLDEN_REL, "%s u",
                      golden_str(c, "name"));
        assert_golden(res.pvalue, golden_num(r, "pvalue"), GOLDEN_REL,
                      "%s [%s %s %d] p %.17g", golden_str(c, "name"),
                      golden_str(r, "alternative"), golden_str(r, "method"),
                      o.use_continuity, res.pvalue);
        checked++;
    }
    return checked;
}

Test(binned, mann_whitney_on_the_ordered_table_matches_scipy_on_the_expanded_data)
{
    cr_assert_gt(each_case("mwu", check_mwu), 100);
}

static size_t check_ks(json_t *c, const double *bounds, const uint64_t *x,
                       const uint64_t *y, size_t k)
{
    (void)bounds; /* the tests on the table need no edges */
    size_t checked = 0;
    size_t ridx;
    json_t *r;
    json_array_foreach(json_object_get(c, "runs"), ridx, r)
    {
        cn_alternative_t alt;
        cn_ks_method_t method;
        cr_assert_eq(cn_stats_parse_alternative(golden_str(r, "alternative"), &alt), 0);
        cr_assert_eq(cn_stats_parse_ks_method(golden_str(r, "method"), &method), 0);
        cn_ks_result_t res;
        cr_assert_eq(cn_stats_ks2_binned(x, y, k, alt, method, &res), 0);
        assert_golden(res.d, golden_num(r, "statistic"), GOLDEN_REL, "%s D",
                      golden_str(c, "name"));
        assert_golden(res.pvalue, golden_num(r, "pvalue"), GOLDEN_REL, "%s [%s %s] p",
                      golden_str(c, "name"), golden_str(r, "alternative"),
                      golden_str(r, "method"));
        checked++;
    }
    return checked;
}

Test(binned, ks_distance_and_p_value_on_bins_match_scipy_on_the_expanded_data)
{
    cr_assert_gt(each_case("ks", check_ks), 50);
}

static size_t check_quantile(json_t *c, const double *bounds, const uint64_t *x,
                             const uint64_t *y, size_t k)
{
    size_t checked = 0;
    const uint64_t *counts = strcmp(golden_str(c, "sample"), "x") == 0 ? x : y;
    size_t ridx;
    json_t *r;
    json_array_foreach(json_object_get(c, "runs"), ridx, r)
    {
        cn_quantile_ci_t ci;
        double q = golden_num(r, "q"), conf = golden_num(r, "confidence");
        cr_assert_eq(cn_stats_quantile_ci_binned(bounds, counts, k, 0, q, conf, &ci),
                     0);
        cr_assert_eq(ci.rank_low, (uint64_t)golden_num(r, "rank_low"), "%s q=%g c=%g",
                     golden_str(c, "name"), q, conf);
        cr_assert_eq(ci.rank_high, (uint64_t)golden_num(r, "rank_high"), "%s q=%g c=%g",
                     golden_str(c, "name"), q, conf);
        cr_assert_eq(ci.bin_low, (size_t)golden_num(r, "bin_low"));
        cr_assert_eq(ci.bin_high, (size_t)golden_num(r, "bin_high"));
        cr_assert_eq(ci.low, golden_num(r, "low"));
        double high = golden_num(r, "high"); /* null: +inf */
        cr_assert_eq(ci.high, isnan(high) ? INFINITY : high);
        assert_golden(ci.coverage, golden_num(r, "coverage"), GOLDEN_REL, "%s",
                      golden_str(c, "name"));
        cr_assert_geq(ci.coverage, conf - 1e-12);
        checked++;
    }
    return checked;
}

Test(binned, quantile_interval_is_bounded_by_the_edges_of_the_order_statistics_bins)
{
    cr_assert_gt(each_case("quantile", check_quantile), 100);
}

/*
 * The bounds hold for every placement: on small histograms, place the
 * values at a grid of points inside their bins (just above the lower
 * edge, at the upper edge, spread over the bin), and check that the
 * bound's p-value is at least the per-value test's and the HL interval
 * contains the per-value one.
 */
static void placements(const double *bounds, const uint64_t *counts, size_t k,
                       int where, double *out)
{
    size_t w = 0;
    for (size_t i = 0; i < k; i++) {
        double lo = i ? bounds[i - 1] : 0, hi = i + 1 < k ? bounds[i] : lo + 5;
        for (uint64_t c = 0; c < counts[i]; c++) {
            /* where: 0 just above lo, 1 at hi, 2 spread over the bin */
            double f = where == 0   ? 1e-9
                       : where == 1 ? 1
                                    : (double)(c + 1) / (double)(counts[i] + 1);
            out[w++] = lo + f * (hi - lo);
        }
    }
}

Test(binned, the_shift_bounds_hold_for_every_placement_of_the_values_in_their_bins)
{
    const double bounds[] = {1, 2, 4, 8};
    const uint64_t x[] = {3, 9, 14, 6, 2}, y[] = {10, 12, 9, 4, 1};
    const size_t k = 5;
    double xv[34], yv[36];
    for (double shift = -3; shift <= 3; shift += 0.5) {
        cn_mwu_result_t lb, gb;
        cr_assert_eq(
            cn_stats_mwu_binned_bound(bounds, x, y, k, 0, shift, CN_ALT_LESS, &lb), 0);
        cr_assert_eq(
            cn_stats_mwu_binned_bound(bounds, x, y, k, 0, shift, CN_ALT_GREATER, &gb),
            0);
        for (int wx = 0; wx < 3; wx++)
            for (int wy = 0; wy < 3; wy++) {
                placements(bounds, x, k, wx, xv);
                placements(bounds, y, k, wy, yv);
                for (size_t i = 0; i < 34; i++)
                    xv[i] += shift;
                cn_mwu_opts_t o;
                cn_stats_mwu_opts_init(&o);
                o.method = CN_MWU_ASYMPTOTIC;
                cn_mwu_result_t r;
                o.alternative = CN_ALT_LESS;
                cr_assert_eq(cn_stats_mwu(xv, 34, yv, 36, &o, &r), 0);
                if (lb.pvalue < 0.5)
                    cr_assert_geq(lb.pvalue, r.pvalue, "less shift %g", shift);
                o.alternative = CN_ALT_GREATER;
                cr_assert_eq(cn_stats_mwu(xv, 34, yv, 36, &o, &r), 0);
                if (gb.pvalue < 0.5)
                    cr_assert_geq(gb.pvalue, r.pvalue, "greater shift %g", shift);
            }
    }
    /* Far enough apart, the bound still rejects: x's values all in bin 0,
     * y's in bin 3, shift 0. */
    const uint64_t lo_x[] = {40, 0, 0, 0, 0}, hi_y[] = {0, 0, 0, 40, 0};
    cn_mwu_result_t r;
    cr_assert_eq(
        cn_stats_mwu_binned_bound(bounds, lo_x, hi_y, k, 0, 0, CN_ALT_LESS, &r), 0);
    cr_assert_lt(r.pvalue, 1e-10);
    /* In the same bin nothing can be shown either way. */
    cr_assert_eq(
        cn_stats_mwu_binned_bound(bounds, lo_x, lo_x, k, 0, 0, CN_ALT_LESS, &r), 0);
    cr_assert_gt(r.pvalue, 0.5);
    cr_assert_eq(
        cn_stats_mwu_binned_bound(bounds, lo_x, lo_x, k, 0, 0, CN_ALT_GREATER, &r), 0);
    cr_assert_gt(r.pvalue, 0.5);
}

Test(binned, the_hl_bounds_contain_the_hl_of_every_placement)
{
    const double bounds[] = {1, 2, 4, 8};
    const uint64_t x[] = {3, 9, 14, 6, 2}, y[] = {10, 12, 9, 4, 1};
    const size_t k = 5;
    cn_hl_binned_t b;
    cr_assert_eq(cn_stats_hl_binned(bounds, x, y, k, 0, 0.95, &b), 0);
    cr_assert_leq(b.est_low, b.est_high);
    cr_assert_leq(b.ci_low, b.est_low);
    cr_assert_geq(b.ci_high, b.est_high);
    /* The last bin is open: its upper ends are +inf. */
    cr_assert(isfinite(b.ci_low));
    double xv[34], yv[36];
    for (int wx = 0; wx < 3; wx++)
        for (int wy = 0; wy < 3; wy++) {
            placements(bounds, x, k, wx, xv);
            placements(bounds, y, k, wy, yv);
            cn_hl_result_t h;
            cr_assert_eq(cn_stats_hl(xv, 34, yv, 36, 0.95, &h), 0);
            cr_assert_geq(h.estimate, b.est_low);
            cr_assert_leq(h.estimate, b.est_high);
            if (!h.exact) {
                cr_assert_geq(h.ci_low, b.ci_low);
                cr_assert_leq(h.ci_high, b.ci_high);
            }
        }
}

Test(binned, bad_input_is_refused_with_the_documented_codes)
{
    const double bounds[] = {1, 2}, bad_bounds[] = {2, 1}, nan_bounds[] = {1, NAN};
    const uint64_t x[] = {1, 2, 3}, none[] = {0, 0, 0};
    cn_mwu_result_t m;
    cn_ks_result_t ks;
    cn_quantile_ci_t q;
    cn_hl_binned_t h;
    cr_assert_eq(cn_stats_mwu_binned(x, none, 3, NULL, &m), CN_ETOOFEW);
    cr_assert_eq(cn_stats_mwu_binned(NULL, x, 3, NULL, &m), CN_EINVAL);
    cr_assert_eq(cn_stats_ks2_binned(none, x, 3, CN_ALT_TWO_SIDED, CN_KS_AUTO, &ks),
                 CN_ETOOFEW);
    cr_assert_eq(cn_stats_mwu_binned_bound(bad_bounds, x, x, 3, 0, 0, CN_ALT_LESS, &m),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_mwu_binned_bound(bounds, x, x, 3, 0, 0, CN_ALT_TWO_SIDED, &m),
                 CN_EINVAL);
    cr_assert_eq(cn_stats_mwu_binned_bound(bounds, x, x, 3, 0, NAN, CN_ALT_LESS, &m),
                 CN_ENONFINITE);
    cr_assert_eq(cn_stats_quantile_ci_binned(nan_bounds, x, 3, 0, 0.5, 0.95, &q),
                 CN_ENONFINITE);
    cr_assert_eq(cn_stats_quantile_ci_binned(bounds, none, 3, 0, 0.5, 0.95, &q),
                 CN_ETOOFEW);
    cr_assert_eq(cn_stats_quantile_ci_binned(bounds, x, 3, 0, 1, 0.95, &q), CN_EINVAL);
    cr_assert_eq(cn_stats_quantile_ci_binned(bounds, x, 3, 0, 0.5, 1, &q), CN_EINVAL);
    cr_assert_eq(cn_stats_hl_binned(bounds, x, none, 3, 0, 0.95, &h), CN_ETOOFEW);
    cr_assert_eq(cn_stats_quantile_ci_binned(bounds, x, 3, 1.5, 0.5, 0.95, &q),
                 CN_EINVAL);
}
