/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * bench-stats: time the rank tests in-process on lognormal data.
 *
 *   bench-stats --n N [--reps R] [--seed S] [--write-data FILE] [--json]
 *
 * Draws x, y ~ lognormal(0, 1) (y shifted by 1%), n = m = N, with GSL's
 * MT19937, and times Mann-Whitney (asymptotic), two-sample KS (auto: the
 * asymptotic path at N > 10000), and Hodges-Lehmann with its 95% CI. Each
 * timing is the minimum over R repetitions of the whole call on unsorted
 * input, so the sort inside each test is counted; the first repetition is
 * also reported on its own (*_first_ms), since a cold call pays the page
 * faults of its fresh buffers. --write-data dumps x then
 * y as raw little-endian float64, so the scipy side (bench/scipy_bench.py)
 * runs on exactly the same numbers.
 */
#include "stats/stats.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench-stats --n N [--reps R] [--seed S] "
                    "[--write-data FILE] [--json]\n");
}

int main(int argc, char **argv)
{
    long n = 0, reps = 3;
    unsigned long seed = 42;
    const char *dump = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--write-data") == 0 && i + 1 < argc)
            dump = argv[++i];
        else {
            usage();
            return 64;
        }
    }
    if (n < 1 || reps < 1) {
        usage();
        return 64;
    }
    size_t N = (size_t)n;
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    if (!x || !y) {
        fprintf(stderr, "bench-stats: out of memory\n");
        return 70;
    }
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    for (size_t i = 0; i < N; i++)
        x[i] = gsl_ran_lognormal(rng, 0.0, 1.0);
    for (size_t i = 0; i < N; i++)
        y[i] = gsl_ran_lognormal(rng, 0.01, 1.0);
    gsl_rng_free(rng);
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(x, sizeof *x, N, f) != N || fwrite(y, sizeof *y, N, f) != N ||
            fclose(f) != 0) {
            fprintf(stderr, "bench-stats: cannot write %s\n", dump);
            return 73;
        }
    }

    double best_mwu = 1e300, best_ks = 1e300, best_hl = 1e300;
    double first_mwu = 0, first_ks = 0, first_hl = 0;
    cn_mwu_opts_t mo;
    cn_stats_mwu_opts_init(&mo);
    cn_mwu_result_t mr;
    cn_ks_result_t kr;
    cn_hl_result_t hr;
    for (long r = 0; r < reps; r++) {
        double t0 = now_ms();
        if (cn_stats_mwu(x, N, y, N, &mo, &mr))
            return 70;
        double t1 = now_ms();
        if (cn_stats_ks2(x, N, y, N, CN_ALT_TWO_SIDED, CN_KS_AUTO, &kr))
            return 70;
        double t2 = now_ms();
        if (cn_stats_hl(x, N, y, N, 0.95, &hr))
            return 70;
        double t3 = now_ms();
        if (r == 0) {
            first_mwu = t1 - t0;
            first_ks = t2 - t1;
            first_hl = t3 - t2;
        }
        if (t1 - t0 < best_mwu)
            best_mwu = t1 - t0;
        if (t2 - t1 < best_ks)
            best_ks = t2 - t1;
        if (t3 - t2 < best_hl)
            best_hl = t3 - t2;
    }
    if (json) {
        printf("{\"n\": %zu, \"reps\": %ld, \"mwu_ms\": %.3f, \"ks_ms\": %.3f, "
               "\"hl_ms\": %.3f, \"mwu_first_ms\": %.3f, \"ks_first_ms\": %.3f, "
               "\"hl_first_ms\": %.3f, \"mwu_u\": %.17g, \"mwu_p\": %.17g, "
               "\"ks_d\": %.17g, \"ks_p\": %.17g, \"hl_estimate\": %.17g, "
               "\"hl_ci\": [%.17g, %.17g]}\n",
               N, reps, best_mwu, best_ks, best_hl, first_mwu, first_ks, first_hl, mr.u,
               mr.pvalue, kr.d, kr.pvalue, hr.estimate, hr.ci_low, hr.ci_high);
    } else {
        printf("n = m = %zu, best of %ld\n", N, reps);
        printf("  Mann-Whitney        %9.2f ms   U = %.17g  p = %.6g\n", best_mwu, mr.u,
               mr.pvalue);
        printf("  Kolmogorov-Smirnov  %9.2f ms   D = %.6g  p = %.6g\n", best_ks, kr.d,
               kr.pvalue);
        printf("  Hodges-Lehmann + CI %9.2f ms   %.6g [%.6g, %.6g]\n", best_hl,
               hr.estimate, hr.ci_low, hr.ci_high);
    }
    free(x);
    free(y);
    return 0;
}
