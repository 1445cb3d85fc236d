/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The uniform reservoir sampler: its bounds, its bookkeeping, determinism
 * for a seed, and that every offered value is kept with the same
 * probability k / n whatever its position in the stream.
 */
#include "metrics/metrics.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(reservoir, zero_capacity_is_rejected)
{
    cn_metrics_reservoir_t r;
    cr_assert_eq(cn_metrics_reservoir_init(&r, 0, 1), CN_EINVAL);
}

Test(reservoir, keeps_the_first_values_until_full_in_order)
{
    cn_metrics_reservoir_t r;
    cr_assert_eq(cn_metrics_reservoir_init(&r, 8, 99), 0);
    cr_assert_eq(cn_metrics_reservoir_size(&r), 0);
    cr_assert_eq(cn_metrics_reservoir_seen(&r), 0);
    for (int i = 0; i < 5; i++)
        cn_metrics_reservoir_add(&r, i * 1.5);
    cr_assert_eq(cn_metrics_reservoir_size(&r), 5);
    cr_assert_eq(cn_metrics_reservoir_seen(&r), 5);
    const double *v = cn_metrics_reservoir_values(&r);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(v[i], i * 1.5);
    cn_metrics_reservoir_dispose(&r);
}

Test(reservoir, size_never_exceeds_capacity_and_seen_counts_every_offer)
{
    const size_t capacities[] = {1, 2, 7, 100, 1000};
    for (size_t c = 0; c < sizeof capacities / sizeof capacities[0]; c++) {
        cn_metrics_reservoir_t r;
        cr_assert_eq(cn_metrics_reservoir_init(&r, capacities[c], c), 0);
        for (uint64_t i = 1; i <= 20000; i++) {
            cn_metrics_reservoir_add(&r, (double)i);
            size_t expect = i < capacities[c] ? (size_t)i : capacities[c];
            cr_assert_eq(cn_metrics_reservoir_size(&r), expect);
            cr_assert_eq(cn_metrics_reservoir_seen(&r), i);
        }
        /* Every held value was offered, and none is held twice. */
        const double *v = cn_metrics_reservoir_values(&r);
        char *held = calloc(20001, 1);
        for (size_t k = 0; k < cn_metrics_reservoir_size(&r); k++) {
            size_t x = (size_t)v[k];
            cr_assert(x >= 1 && x <= 20000 && (double)x == v[k]);
            cr_assert(!held[x], "value %zu held twice", x);
            held[x] = 1;
        }
        free(held);
        cn_metrics_reservoir_dispose(&r);
    }
}

static void fill(cn_metrics_reservoir_t *r, size_t capacity, uint64_t seed, int n)
{
    cr_assert_eq(cn_metrics_reservoir_init(r, capacity, seed), 0);
    for (int i = 0; i < n; i++)
        cn_metrics_reservoir_add(r, (double)i);
}

Test(reservoir, the_same_seed_gives_the_same_sample)
{
    cn_metrics_reservoir_t a, b, c;
    fill(&a, 64, 12345, 100000);
    fill(&b, 64, 12345, 100000);
    fill(&c, 64, 12346, 100000);
    cr_assert(memcmp(cn_metrics_reservoir_values(&a), cn_metrics_reservoir_values(&b),
                     64 * sizeof(double)) == 0);
    cr_assert(memcmp(cn_metrics_reservoir_values(&a), cn_metrics_reservoir_values(&c),
                     64 * sizeof(double)) != 0,
              "a different seed should draw a different sample");
    cn_metrics_reservoir_dispose(&a);
    cn_metrics_reservoir_dispose(&b);
    cn_metrics_reservoir_dispose(&c);
}

Test(reservoir, reset_starts_a_new_window)
{
    cn_metrics_reservoir_t r;
    fill(&r, 10, 5, 1000);
    cn_metrics_reservoir_reset(&r);
    cr_assert_eq(cn_metrics_reservoir_size(&r), 0);
    cr_assert_eq(cn_metrics_reservoir_seen(&r), 0);
    cn_metrics_reservoir_add(&r, -1.0);
    cr_assert_eq(cn_metrics_reservoir_size(&r), 1);
    cr_assert_eq(cn_metrics_reservoir_values(&r)[0], -1.0);
    cn_metrics_reservoir_dispose(&r);
    cn_metrics_reservoir_dispose(&r); /* a second dispose is harmless */
}

/*
 * Offer 0..n-1 to a fresh reservoir of capacity k, `trials` times with
 * seeds 1..trials, and count how often each position ends up held. Each
 * count is Binomial(trials, p = k/n), with the counts tied by their fixed
 * total trials * k; the inclusions of two positions in one trial have
 * covariance -p(1-p)/(n-1). So
 *     X = (n-1)/n * sum_i (O_i - E)^2 / (trials p (1-p))
 * is approximately chi-square with n-1 degrees of freedom. Returns X.
 */
static double inclusion_chi2(size_t n, size_t k, size_t trials, double *max_z)
{
    uint64_t *hits = calloc(n, sizeof *hits);
    cn_metrics_reservoir_t r;
    for (size_t t = 1; t <= trials; t++) {
        cr_assert_eq(cn_metrics_reservoir_init(&r, k, (uint64_t)t), 0);
        for (size_t i = 0; i < n; i++)
            cn_metrics_reservoir_add(&r, (double)i);
        const double *v = cn_metrics_reservoir_values(&r);
        for (size_t j = 0; j < k; j++)
            hits[(size_t)v[j]]++;
        cn_metrics_reservoir_dispose(&r);
    }
    double p = (double)k / (double)n;
    double expect = (double)trials * p;
    double var = (double)trials * p * (1 - p);
    double sum = 0;
    *max_z = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)hits[i] - expect;
        sum += d * d / var;
        double z = fabs(d) / sqrt(var);
        if (z > *max_z)
            *max_z = z;
    }
    free(hits);
    return sum * (double)(n - 1) / (double)n;
}

Test(reservoir, every_position_is_kept_with_probability_k_over_n)
{
    /* chi-square 0.999 quantiles: df 19 -> 43.82, df 99 -> 148.23 (R:
     * qchisq(0.999, c(19, 99))). With fixed seeds the test is
     * deterministic; the bound says a correct sampler passes for all but
     * about 1 in 1000 seed sets. */
    double max_z;
    double x = inclusion_chi2(20, 5, 20000, &max_z);
    fprintf(stderr, "reservoir: n=20 k=5: chi2=%.2f (df 19), max |z|=%.2f\n", x, max_z);
    cr_assert_lt(x, 43.82, "chi-square %g over 19 df", x);
    cr_assert_lt(max_z, 4.5);

    x = inclusion_chi2(100, 10, 10000, &max_z);
    fprintf(stderr, "reservoir: n=100 k=10: chi2=%.2f (df 99), max |z|=%.2f\n", x,
            max_z);
    cr_assert_lt(x, 148.23, "chi-square %g over 99 df", x);
    cr_assert_lt(max_z, 4.5);
}
