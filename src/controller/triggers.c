/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The trigger checks (triggers.h) and the exact binomial tail they rest on.
 *
 * The binomial tail. A trigger's p-values are tiny by design (the level is
 * 1e-7), and they are compared with the level, so what matters is relative
 * accuracy deep in the tail. Summing probabilities computed as
 * exp(lgamma(n+1) - lgamma(k+1) - lgamma(n-k+1) + k log p + (n-k) log q)
 * loses digits to cancellation between terms of size n log n; Loader's
 * form (C. Loader, "Fast and accurate computation of binomial
 * probabilities", 2000; also R's dbinom) writes the log-probability as
 * Stirling remainders and deviance terms bd0(x, np) = x log(x/np) + np - x,
 * each computed without cancellation, and keeps full relative accuracy.
 * From the probability of k the tail is the sum of the terms outwards:
 * above the mean each term is the previous times (n-j) p / ((j+1) q) < 1,
 * so the sum converges geometrically and stops when a term no longer
 * changes it. Below the mean the tail is near 1 and computed as one minus
 * the lower tail, summed downwards the same way.
 */
#include "controller/triggers.h"
#include "metrics/metrics.h"
#include "stats/stats.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define LN_SQRT_2PI 0.918938533204672741780329736406 /* log(sqrt(2 pi)) */
#define LN_2PI 1.837877066409345483560659472811      /* log(2 pi) */

const char *cn_trigger_check_name(cn_trigger_check_t c)
{
    switch (c) {
    case CN_TRIGGER_ERROR_MAX:
        return "error_rate.max";
    case CN_TRIGGER_ERROR_RATIO:
        return "error_rate.max_ratio";
    case CN_TRIGGER_P99_MAX:
        return "p99_latency_ms.max";
    case CN_TRIGGER_P99_RATIO:
        return "p99_latency_ms.max_ratio";
    case CN_TRIGGER_PREDICTION_SHIFT:
        return "prediction_shift";
    }
    return "?";
}

/* ----------------------------------------------------- binomial tail */

/* log(n!) - log(sqrt(2 pi n) (n/e)^n), the error of Stirling's formula. */
static double stirlerr(double n)
{
    const double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260, s3 = 1.0 / 1680,
                 s4 = 1.0 / 1188;
    if (n <= 15.0)
        return lgamma(n + 1.0) - (n + 0.5) * log(n) + n - LN_SQRT_2PI;
    double nn = n * n;
    if (n > 500)
        return (s0 - s1 / nn) / n;
    if (n > 80)
        return (s0 - (s1 - s2 / nn) / nn) / n;
    if (n > 35)
        return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n;
    return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n;
}

/* x log(x / np) + np - x, without cancellation when x is near np. */
static double bd0(double x, double np)
{
    if (fabs(x - np) < 0.1 * (x + np)) {
        double v = (x - np) / (x + np), s = (x - np) * v, ej = 2 * x * v;
        v *= v;
        for (int j = 1; j < 1000; j++) {
            ej *= v;
            double s1 = s + ej / (2 * j + 1);
            if (s1 == s)
                return s1;
            s = s1;
        }
    }
    return x * log(x / np) + np - x;
}

/* P(X = x) for X ~ binomial(n, p), q = 1 - p given separately so that a
 * p near 1 keeps its digits. */
static double dbinom(double x, double n, double p, double q)
{
    if (p == 0)
        return x == 0 ? 1 : 0;
    if (q == 0)
        return x == n ? 1 : 0;
    if (x == 0) {
        if (n == 0)
            return 1;
        return exp(p < 0.1 ? -bd0(n, n * q) - n * p : n * log(q));
    }
    if (x == n)
        return exp(q < 0.1 ? -bd0(n, n * p) - n * q : n * log(p));
    double lc =
        stirlerr(n) - stirlerr(x) - stirlerr(n - x) - bd0(x, n * p) - bd0(n - x, n * q);
    double lf = LN_2PI + log(x) + log1p(-x / n);
    return exp(lc - 0.5 * lf);
}

double cn_triggers_binom_sf(uint64_t k, uint64_t n, double p)
{
    if (!(p >= 0 && p <= 1))
        return NAN;
    if (k == 0)
        return 1;
    if (k > n)
        return 0;
    if (p == 0)
        return 0;
    if (p == 1)
        return 1;
    double q = 1 - p, dn = (double)n;
    if ((double)k >= dn * p) {
        /* Above the mean: terms fall from k on. */
        double t = dbinom((double)k, dn, p, q), sum = t;
        for (uint64_t j = k; j < n && t > 0; j++) {
            t *= (double)(n - j) / (double)(j + 1) * (p / q);
            double s1 = sum + t;
            if (s1 == sum)
                break;
            sum = s1;
        }
        return sum > 1 ? 1 : sum;
    }
    /* Below the mean: one minus P(X <= k - 1), terms falling downwards. */
    double t = dbinom((double)(k - 1), dn, p, q), lower = t;
    for (uint64_t j = k - 1; j > 0 && t > 0; j--) {
        t *= (double)j / (double)(n - j + 1) * (q / p);
        double s1 = lower + t;
        if (s1 == lower)
            break;
        lower = s1;
    }
    double sf = 1 - lower;
    return sf < 0 ? 0 : sf;
}

uint64_t cn_triggers_quantile_bound_rank(uint64_t m, double q, double level)
{
    if (m == 0 || !(q > 0 && q < 1) || !(level > 0 && level < 1))
        return 0;
    /* The tail falls with j: bisect for the first j with tail <= level. */
    if (cn_triggers_binom_sf(m, m, q) > level)
        return 0;
    uint64_t lo = 1, hi = m; /* tail(hi) <= level */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (cn_triggers_binom_sf(mid, m, q) <= level)
            hi = mid;
        else
            lo = mid + 1;
    }
    return hi;
}

uint64_t cn_triggers_quantile_lower_rank(uint64_t m, double q, double level)
{
    if (m == 0 || !(q > 0 && q < 1) || !(level > 0 && level < 1))
        return 0;
    /* P(X <= i - 1) = 1 - P(X >= i) rises with i: bisect for the last i
     * with it at most level (absolute precision ~1e-16, ample at 1e-7) */
    if (1 - cn_triggers_binom_sf(1, m, q) > level)
        return 0;
    uint64_t lo = 1, hi = m; /* cdf(lo - 1) <= level */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (1 - cn_triggers_binom_sf(mid, m, q) <= level)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

/* The bucket of h holding the order statistic of rank j (1-based). */
static bool rank_bucket(const cn_metrics_hist_t *h, uint64_t j, uint64_t *lo,
                        uint64_t *hi)
{
    uint64_t seen = 0;
    for (size_t b = 0; b < CN_METRICS_HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= j) {
            cn_metrics_hist_bucket_bounds(b, lo, hi);
            return true;
        }
    }
    return false;
}

bool cn_triggers_p99_interval(const cn_metrics_hist_t *h, double level, double *lo_ms,
                              double *hi_ms)
{
    if (!h || !(level > 0 && level < 1))
        return false;
    uint64_t m = 0;
    for (size_t b = 0; b < CN_METRICS_HIST_BUCKETS; b++)
        m += h->counts[b];
    uint64_t i = cn_triggers_quantile_lower_rank(m, 0.99, level / 2),
             j = cn_triggers_quantile_bound_rank(m, 0.99, level / 2);
    uint64_t lo_lo, lo_hi, hi_lo, hi_hi;
    if (!i || !j || !rank_bucket(h, i, &lo_lo, &lo_hi) ||
        !rank_bucket(h, j, &hi_lo, &hi_hi))
        return false;
    *lo_ms = (double)lo_lo / 1000.0;
    *hi_ms = (double)hi_hi / 1000.0;
    return true;
}

uint64_t cn_triggers_p99_bound_rank(uint64_t m, double level)
{
    return cn_triggers_quantile_bound_rank(m, 0.99, level / 2);
}

double cn_triggers_ks_excess_p(double d, double max, uint64_t n, uint64_t m)
{
    if (n == 0 || m == 0)
        return 1;
    /* the judge's ks uses the same bound (stats/dkw.c) */
    return cn_stats_dkw_p(d - max, cn_stats_dkw_h((size_t)n, (size_t)m));
}

/* ------------------------------------------------------------ checks */

static void row_start(cn_trigger_row_t *r, bool configured, double limit)
{
    memset(r, 0, sizeof *r);
    r->configured = configured;
    r->limit = limit;
    r->observed = NAN;
    r->pvalue = NAN;
}

static void row_done(cn_trigger_row_t *r, double observed, double pvalue, double level)
{
    r->ran = true;
    r->observed = observed;
    r->pvalue = pvalue;
    r->fired = pvalue < level;
}

int cn_triggers_check(const cn_strategy_triggers_t *t, const cn_trigger_input_t *in,
                      cn_trigger_result_t *out)
{
    memset(out, 0, sizeof *out);
    out->fired = -1;
    const cn_trigger_arm_t *c = &in->canary, *s = &in->stable;
    if (c->errors > c->requests || s->errors > s->requests ||
        in->canary_slower_than_max > c->requests ||
        (in->has_p99_bound && in->canary_slower_than_bound > c->requests) ||
        (in->has_ks && !(in->ks_distance >= 0 && in->ks_distance <= 1)) ||
        !(t->level > 0 && t->level < 1) || in->phase > CN_TRIGGER_PHASE_FULL)
        return CN_EINVAL;
    double level = t->level;
    bool full = in->phase == CN_TRIGGER_PHASE_FULL;
    bool warmup = in->phase == CN_TRIGGER_PHASE_WARMUP;
    double rate_c = c->requests ? (double)c->errors / (double)c->requests : NAN;

    /* error_rate.max */
    cn_trigger_row_t *r = &out->rows[CN_TRIGGER_ERROR_MAX];
    row_start(r, t->has_error_rate && t->error_rate.has_max, t->error_rate.max);
    if (r->configured && c->requests > 0) {
        double p = cn_triggers_binom_sf(c->errors, c->requests, t->error_rate.max);
        row_done(r, rate_c, p, level);
        snprintf(r->reason, sizeof r->reason,
                 "canary errors %llu of %llu (%.4g), max %g: p = %.3g",
                 (unsigned long long)c->errors, (unsigned long long)c->requests, rate_c,
                 t->error_rate.max, p);
    }

    /* error_rate.max_ratio: conditional binomial, and above min_rate */
    r = &out->rows[CN_TRIGGER_ERROR_RATIO];
    row_start(r, t->has_error_rate && t->error_rate.has_max_ratio,
              t->error_rate.max_ratio);
    if (r->configured && !full && c->requests > 0 && s->requests > 0) {
        double ratio = t->error_rate.max_ratio;
        double nc = (double)c->requests, ns = (double)s->requests;
        double p0 = ratio * nc / (ratio * nc + ns);
        uint64_t total = c->errors + s->errors;
        double p_ratio = cn_triggers_binom_sf(c->errors, total, p0);
        double p_min =
            cn_triggers_binom_sf(c->errors, c->requests, t->error_rate.min_rate);
        double rate_s = (double)s->errors / ns;
        double observed = rate_s > 0 ? rate_c / rate_s : (c->errors ? INFINITY : NAN);
        row_done(r, observed, p_ratio > p_min ? p_ratio : p_min, level);
        snprintf(r->reason, sizeof r->reason,
                 "canary errors %llu of %llu, stable %llu of %llu (ratio %.3g), "
                 "max_ratio %g: p = %.3g, above min_rate %g: p = %.3g",
                 (unsigned long long)c->errors, (unsigned long long)c->requests,
                 (unsigned long long)s->errors, (unsigned long long)s->requests,
                 observed, ratio, p_ratio, t->error_rate.min_rate, p_min);
    }

    /* p99_latency_ms.max: more than 1% slower than max */
    r = &out->rows[CN_TRIGGER_P99_MAX];
    row_start(r, t->has_p99_latency && t->p99_latency.has_max, t->p99_latency.max);
    if (r->configured && c->requests > 0) {
        double share = (double)in->canary_slower_than_max / (double)c->requests;
        double p = cn_triggers_binom_sf(in->canary_slower_than_max, c->requests, 0.01);
        row_done(r, share, p, level);
        snprintf(r->reason, sizeof r->reason,
                 "canary requests slower than %g ms: %llu of %llu (%.3g%%, p99 limit "
                 "1%%): p = %.3g",
                 t->p99_latency.max, (unsigned long long)in->canary_slower_than_max,
                 (unsigned long long)c->requests, 100 * share, p);
    }

    /* p99_latency_ms.max_ratio: against stable's p99 bound, at level / 2 */
    r = &out->rows[CN_TRIGGER_P99_RATIO];
    row_start(r, t->has_p99_latency && t->p99_latency.has_max_ratio,
              t->p99_latency.max_ratio);
    if (r->configured && !full && !warmup && in->has_p99_bound && c->requests > 0) {
        double share = (double)in->canary_slower_than_bound / (double)c->requests;
        double p =
            cn_triggers_binom_sf(in->canary_slower_than_bound, c->requests, 0.01);
        row_done(r, share, p, level / 2);
        snprintf(r->reason, sizeof r->reason,
                 "canary requests slower than %g x stable's p99 bound: %llu of %llu "
                 "(%.3g%%, limit 1%%): p = %.3g",
                 t->p99_latency.max_ratio,
                 (unsigned long long)in->canary_slower_than_bound,
                 (unsigned long long)c->requests, 100 * share, p);
    }

    /* prediction_shift */
    r = &out->rows[CN_TRIGGER_PREDICTION_SHIFT];
    row_start(r, t->has_prediction_shift, t->prediction_shift.max_statistic);
    if (r->configured && !full && !warmup && in->has_ks && in->ks_n_canary > 0 &&
        in->ks_n_stable > 0) {
        double p =
            cn_triggers_ks_excess_p(in->ks_distance, t->prediction_shift.max_statistic,
                                    in->ks_n_canary, in->ks_n_stable);
        row_done(r, in->ks_distance, p, level);
        snprintf(r->reason, sizeof r->reason,
                 "prediction KS distance %.3g (n = %llu canary, %llu stable), max %g: "
                 "p = %.3g",
                 in->ks_distance, (unsigned long long)in->ks_n_canary,
                 (unsigned long long)in->ks_n_stable, t->prediction_shift.max_statistic,
                 p);
    }

    for (int i = 0; i < CN_TRIGGER_CHECKS && out->fired < 0; i++)
        if (out->rows[i].fired)
            out->fired = i;
    return 0;
}
