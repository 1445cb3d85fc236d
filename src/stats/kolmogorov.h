/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to src/stats: the finite-n null distributions of the one-sample
 * Kolmogorov-Smirnov statistics, which the two-sample test (ks.c) uses for
 * its asymptotic p-values. Implemented in kolmogorov.c, where the
 * algorithms and their sources are described.
 */
#ifndef CN_STATS_KOLMOGOROV_H
#define CN_STATS_KOLMOGOROV_H

#include <stdint.h>

/*
 * P(D_n >= d) for the two-sided one-sample statistic D_n with n
 * observations: scipy.stats.kstwo.sf(d, n) (scipy 1.10 _ksstats.kolmogn).
 * n >= 1, else NAN; d outside (0, 1) gives 1 or 0.
 */
double cn__stats_kstwo_sf(int64_t n, double d);

/*
 * P(D+_n >= d) for the one-sided one-sample statistic: scipy.special.smirnov
 * (scipy 1.10 cephes/kolmogorov.c). n >= 1 and 0 <= d <= 1, else NAN.
 */
double cn__stats_smirnov_sf(int64_t n, double d);

#endif
