/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Population stability index of the canary's distribution (x) against the
 * stable version's (y): a drift score for model inputs and outputs, where a
 * hypothesis test would reject any difference at production sample sizes.
 * Rules of thumb (Siddiqi, Credit Risk Scorecards, 2006): < 0.1 no real
 * change, 0.1-0.25 moderate, > 0.25 major shift.
 *
 * Exactly as computed here:
 *
 *  1. Edges. With B bins (10 when 0 is passed), the B - 1 interior edges are
 *     the type-7 quantiles of y at k / B, k = 1..B-1, from
 *     cn_stats_quantile_sorted (numpy's default quantile). Equal edges are
 *     merged, so heavily tied y gives fewer, wider bins; `bins` in the result
 *     is the number left, (distinct edges) + 1.
 *  2. Bins. Bin 0 is (-inf, e_1], bin j is (e_j, e_{j+1}], the last is
 *     (e_last, +inf): right-closed, so a value equal to an edge (common at
 *     ties) falls in the bin below it, and nothing falls outside. The bin of
 *     v is the number of edges strictly below v (numpy's
 *     searchsorted(edges, v, side='left')).
 *  3. Proportions. p_x = count_x / n_x and p_y = count_y / n_y. A bin empty
 *     in one sample only gets half an observation, p = 0.5 / n, instead of 0
 *     (where the log would be infinite). Half a count scales with the
 *     sample: a fixed floor like 1e-4 is coarser than one observation once
 *     n > 10^4 and would rank an empty bin above a bin with one value. The
 *     proportions are not renormalised. A bin empty in both samples adds 0
 *     (it can happen: y = {0, 10} puts its deciles 1..9 between the data).
 *  4. PSI = sum over bins of (p_x - p_y) ln(p_x / p_y). Every term is >= 0.
 *
 * Cost: sorting y (radix, O(n_y)) plus a binary search per x value,
 * O(n_x log B).
 */
#include "stats/stats.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>

#define PSI_DEFAULT_BINS 10
#define PSI_MAX_BINS 10000

int cn_stats_psi(const double *x, size_t nx, const double *y, size_t ny, size_t bins,
                 cn_psi_result_t *out)
{
    if (!x || !y || !out)
        return CN_EINVAL;
    if (bins == 0)
        bins = PSI_DEFAULT_BINS;
    if (bins < 2 || bins > PSI_MAX_BINS)
        return CN_EINVAL;
    if (nx < 1 || ny < 1)
        return CN_ETOOFEW;
    for (size_t i = 0; i < nx; i++)
        if (!isfinite(x[i]))
            return CN_ENONFINITE;
    for (size_t i = 0; i < ny; i++)
        if (!isfinite(y[i]))
            return CN_ENONFINITE;

    double *ys = cn_stats_sorted_copy(y, ny);
    double *edges = cn_xmallocarray(bins - 1, sizeof *edges);
    size_t n_edges = 0;
    for (size_t k = 1; k < bins; k++) {
        double e = cn_stats_quantile_sorted(ys, ny, (double)k / (double)bins);
        if (n_edges == 0 || e > edges[n_edges - 1])
            edges[n_edges++] = e;
    }
    size_t n_bins = n_edges + 1;
    size_t *cx = cn_xcalloc(n_bins, sizeof *cx);
    size_t *cy = cn_xcalloc(n_bins, sizeof *cy);
    /* y is sorted: walk it and the edges together. */
    size_t b = 0;
    for (size_t i = 0; i < ny; i++) {
        while (b < n_edges && edges[b] < ys[i])
            b++;
        cy[b]++;
    }
    for (size_t i = 0; i < nx; i++)
        /* v's bin is the number of edges strictly below it. */
        cx[cn_stats_count_below(edges, n_edges, x[i])]++;

    double psi = 0;
    for (size_t j = 0; j < n_bins; j++) {
        if (cx[j] == 0 && cy[j] == 0)
            continue;
        double px = (cx[j] ? (double)cx[j] : 0.5) / (double)nx;
        double py = (cy[j] ? (double)cy[j] : 0.5) / (double)ny;
        psi += (px - py) * log(px / py);
    }
    out->psi = psi;
    out->bins = n_bins;
    free(cx);
    free(cy);
    free(edges);
    free(ys);
    return 0;
}
