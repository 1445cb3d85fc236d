/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Multiple-testing adjustment of p-values. A canary is judged on several
 * metrics at once (latency p50, p99, error rate, ...); testing each at
 * alpha inflates the chance that some healthy metric "fails" by luck. The
 * adjusted p-values can be compared to alpha directly.
 *
 * With p_(1) <= ... <= p_(n) the sorted p-values (i = 1..n):
 *
 *   Bonferroni:          p~_i = min(1, n p_i)
 *   Holm (1979):         p~_(i) = min(1, max_{j <= i} (n - j + 1) p_(j))
 *   Benjamini-Hochberg:  p~_(i) = min(1, min_{j >= i} p_(j) / (j / n))
 *
 * Bonferroni and Holm control the family-wise error rate (Holm is uniformly
 * more powerful); Benjamini & Hochberg (1995) control the false discovery
 * rate under independence or positive dependence. The arithmetic follows
 * statsmodels' multipletests(p, method='bonferroni' | 'holm' | 'fdr_bh')
 * step for step -- (n - j + 1) * p in double, p / (j / n) with j / n
 * rounded first, the running max (Holm) or the running min from the top
 * (BH), then values above 1 set to 1 -- so the results agree to the last
 * bit, and are returned in input order. Tied p-values get equal adjusted
 * values whatever order the sort leaves them in: the running max/min
 * equalises them.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double p;
    size_t index;
} ranked_t;

static int by_p(const void *a, const void *b)
{
    double pa = ((const ranked_t *)a)->p, pb = ((const ranked_t *)b)->p;
    return (pa > pb) - (pa < pb);
}

int cn_stats_adjust(const double *p, size_t n, cn_adjust_method_t method,
                    double *adjusted_out)
{
    if (method != CN_ADJUST_NONE && method != CN_ADJUST_BONFERRONI &&
        method != CN_ADJUST_HOLM && method != CN_ADJUST_BH)
        return CN_EINVAL;
    if (n == 0)
        return CN_ETOOFEW;
    if (!p || !adjusted_out)
        return CN_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= 0 && p[i] <= 1)) /* also rejects NaN */
            return CN_EINVAL;

    double dn = (double)n;
    if (method == CN_ADJUST_NONE || method == CN_ADJUST_BONFERRONI) {
        /* memmove: adjusting in place (adjusted_out == p) is allowed. */
        memmove(adjusted_out, p, n * sizeof *p);
        if (method == CN_ADJUST_BONFERRONI)
            for (size_t i = 0; i < n; i++)
                adjusted_out[i] = fmin(adjusted_out[i] * dn, 1.0);
        return 0;
    }

    ranked_t *r = cn_xmallocarray(n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        r[i].p = p[i];
        r[i].index = i;
    }
    qsort(r, n, sizeof *r, by_p);

    if (method == CN_ADJUST_HOLM) {
        double run = 0;
        for (size_t i = 0; i < n; i++) {
            double raw = r[i].p * (double)(n - i);
            run = raw > run ? raw : run;
            r[i].p = run;
        }
    } else {
        double run = INFINITY;
        for (size_t i = n; i-- > 0;) {
            double ecdf = (double)(i + 1) / dn;
            double raw = r[i].p / ecdf;
            run = raw < run ? raw : run;
            r[i].p = run;
        }
    }
    for (size_t i = 0; i < n; i++)
        adjusted_out[r[i].index] = r[i].p > 1 ? 1.0 : r[i].p;
    free(r);
    return 0;
}
