/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The area under the ROC curve of two samples of scores (the positives'
 * and the negatives'), as the Mann-Whitney probability P(pos > neg) +
 * P(pos = neg) / 2, with DeLong, DeLong and Clarke-Pearson's (1988)
 * variance from the structural components:
 *   V10_i = (1/n_neg) sum_j psi(pos_i, neg_j),  V01_j = (1/n_pos) sum_i psi,
 *   var = S10 / n_pos + S01 / n_neg  (S: sample variances, n - 1),
 * with psi(x, y) = 1 if x > y, 1/2 if equal, 0 otherwise. Each component
 * is a count in the other sorted sample (two binary searches), so the
 * whole is O((m + n) log(m + n)) instead of the definition's O(m n).
 */
#include "stats/stats.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Values of sorted[0..n) below v, and equal to v. */
static void count_around(const double *sorted, size_t n, double v, size_t *below,
                         size_t *equal)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t first = lo;
    hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    *below = first;
    *equal = lo - first;
}

/* Sample variance of v[0..n) (n - 1); 0 for n < 2. */
static double variance(const double *v, size_t n)
{
    if (n < 2)
        return 0;
    long double mean = 0;
    for (size_t i = 0; i < n; i++)
        mean += v[i];
    mean /= (long double)n;
    long double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    return (double)(ss / (long double)(n - 1));
}

int cn_stats_auc(const double *pos, size_t n_pos, const double *neg, size_t n_neg,
                 cn_auc_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->auc = out->variance = NAN;
    if ((n_pos && !pos) || (n_neg && !neg))
        return CN_EINVAL;
    for (size_t i = 0; i < n_pos; i++)
        if (!isfinite(pos[i]))
            return CN_ENONFINITE;
    for (size_t j = 0; j < n_neg; j++)
        if (!isfinite(neg[j]))
            return CN_ENONFINITE;
    out->n_pos = n_pos;
    out->n_neg = n_neg;
    if (n_pos == 0 || n_neg == 0)
        return CN_ETOOFEW;
    double *sp = cn_xmallocarray(n_pos, sizeof *sp);
    double *sn = cn_xmallocarray(n_neg, sizeof *sn);
    memcpy(sp, pos, n_pos * sizeof *sp);
    memcpy(sn, neg, n_neg * sizeof *sn);
    cn_stats_sort(sp, n_pos);
    cn_stats_sort(sn, n_neg);
    double *v10 = cn_xmallocarray(n_pos, sizeof *v10);
    double *v01 = cn_xmallocarray(n_neg, sizeof *v01);
    long double sum = 0;
    for (size_t i = 0; i < n_pos; i++) {
        size_t below, equal;
        count_around(sn, n_neg, sp[i], &below, &equal);
        v10[i] = ((double)below + 0.5 * (double)equal) / (double)n_neg;
        sum += v10[i];
    }
    for (size_t j = 0; j < n_neg; j++) {
        size_t below, equal;
        count_around(sp, n_pos, sn[j], &below, &equal);
        /* positives above neg_j, ties half */
        v01[j] =
            ((double)(n_pos - below - equal) + 0.5 * (double)equal) / (double)n_pos;
    }
    out->auc = (double)(sum / (long double)n_pos);
    out->variance =
        variance(v10, n_pos) / (double)n_pos + variance(v01, n_neg) / (double)n_neg;
    free(sp);
    free(sn);
    free(v10);
    free(v01);
    return 0;
}
