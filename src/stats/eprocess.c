/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Anytime-valid tests of harm beyond a margin, from per-second counts:
 * e-processes built by betting (Waudby-Smith & Ramdas 2023, "Estimating
 * means of bounded random variables by betting", JRSS B 86(1); Shafer &
 * Vovk's game-theoretic testing), with each second's stable requests as
 * that second's reference.
 *
 * The question. Each second t the router answers n canary requests, k of
 * them with an outcome X = 1 (an error; a latency above a threshold; a
 * prediction at or below a threshold), and n_s stable requests, k_s of
 * them with their outcome 1, so stable's share is s = k_s / n_s. With p(t)
 * and q(t) the two arms' probabilities of X = 1 in that second, harm
 * beyond the margin is sign (p - a q) > b for a fixed sign, scale a and
 * margin b:
 *   - an absolute margin m on a rate:  sign +1, a = 1,     b = m;
 *   - a relative margin m on a rate:   sign +1, a = 1 + m, b = 0;
 *   - one side of a KS distance limit L at one threshold: sign +1 or -1,
 *     a = 1, b = L (the CDF at the threshold differs by more than L).
 * The null is composite (q(t) is unknown, and may change every second:
 * time of day, load, weight changes) and the test must hold when it is
 * looked at every second, for as long as the rollout runs.
 *
 * The e-process. For each canary request j of second t let
 *   Z_j = sign (X_j - a s) - b,
 * which under H0 has E[Z_j | s] = sign (p - a s) - b. Bet a fraction
 * lambda_t >= 0 on it, chosen before second t's outcomes are seen:
 *   E_t = E_{t-1} * prod_j (1 + lambda_t Z_j) * exp(-n^2 lambda_t^2 a^2 / (8 n_s)).
 * Why the last factor: given s, prod_j (1 + lambda Z_j) has expectation
 * (1 + lambda (sign (p - a s) - b))^n <= exp(n lambda (d - sign a (s - q)))
 * with d = sign (p - a q) - b <= 0 under H0; s - q is the mean of n_s
 * independent centred outcomes in [0, 1], so by Hoeffding's lemma
 * E[exp(-n lambda sign a (s - q))] <= exp(n^2 lambda^2 a^2 / (8 n_s)).
 * The factor cancels it, so E[E_t | past, counts] <= E_{t-1}: E is a
 * nonnegative supermartingale under every member of the null, whatever
 * q(t) does, and by Ville's inequality P(sup_t E_t >= 1/alpha) <= alpha.
 * Rolling back when E_t >= 1/alpha is a level-alpha test that may look
 * every second, forever; 1 / max_{u<=t} E_u is an anytime-valid p-value.
 * The counts n and n_s are conditioned on (the split decides them, not the
 * outcomes), so weight changes and quantised weights cost nothing, and a
 * second without stable requests is skipped. Sharing one s among the n
 * canary requests of a second is what the Hoeffding factor pays for: at a
 * 1% weight (n = 5, n_s = 495) it is exp(-0.0016) at lambda = 0.5; at 50%
 * the bet shrinks to keep it small (below).
 *
 * Assumptions, stated: within a second, requests are independent given
 * the past (true for a random split; sticky mode sends a user's requests
 * to one arm, which correlates them when users send bursts), and H0 holds
 * for each second's average outcome given that second's counts.
 *
 * Non-inferiority: the same test, reversed. To show that the canary is
 * NOT worse than stable by the margin (sign (p - a q) < b), test the null
 * "harm of at least the margin", sign (p - a q) >= b, which is
 * (-sign) (p - a q) <= -b: the e-process above with sign' = -sign and
 * b' = -b, a margin that is now negative. Nothing in the proof above uses
 * b >= 0: d = sign' (p - a q) - b' <= 0 is H0 whatever b' is, the
 * Hoeffding factor does not involve b', and the only other requirement is
 * that every factor 1 + lambda Z stays >= 0, which needs the largest loss
 * max(-Z) to be positive (below). So any b > -1 is allowed; crossing
 * 1/alpha shows non-inferiority at level alpha, for all time. A canary
 * exactly at the margin is at the null's boundary and shows it at most
 * alpha of the time; a canary as good as stable has E[Z] = |b'| > 0 per
 * request, and the bet grows with it.
 *
 * The bet. lambda must keep every factor 1 + lambda Z >= 0, so it is
 * capped at CAP / max(-Z). With X in {0, 1} and s in [0, 1], sign +1 has
 * Z >= -a - b (X = 0, s = 1) and sign -1 has Z >= -1 - b (X = 1, s = 0), so
 * max(-Z) <= max(a + b, 1 + b), which is > 0 exactly when b > -1 (a > 0):
 * the reason for the bound on b. Within the cap it is the growth-optimal bet for the
 * observed mean and spread (aGRAPA, Waudby-Smith & Ramdas section B.3),
 * with the Hoeffding factor's cost counted as extra variance:
 *   lambda = mu / (sigma^2 + mu^2 + n a^2 / (4 n_s)),   clipped to [0, cap],
 * mu and sigma^2 the running mean and variance of the past Z (with one
 * pseudo-observation of variance 1/4, so that the first bets are small).
 * While the canary looks no worse than the margin, mu <= 0 and the bet is
 * 0: E stays where it is and spends nothing.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <math.h>

/* The largest fraction of the worst case that is ever bet (Waudby-Smith
 * & Ramdas truncate at 1/2 or 3/4). */
#define CAP 0.5

int cn_stats_eproc_init(cn_eproc_t *e, int sign, double a, double b)
{
    /* b > -1 keeps the largest loss max(a + b, 1 + b) positive (above) */
    if (!e || (sign != 1 && sign != -1) || !(a > 0) || !isfinite(a) || !(b > -1) ||
        !isfinite(b))
        return CN_EINVAL;
    *e = (cn_eproc_t){.sign = sign, .a = a, .b = b};
    double worst = a + b > 1 + b ? a + b : 1 + b;
    e->lambda_cap = CAP / worst;
    return 0;
}

double cn_stats_eproc_bet(const cn_eproc_t *e, uint64_t n, uint64_t n_s)
{
    if (!e || n == 0 || n_s == 0)
        return 0;
    double mu = e->sum / (e->n + 1);
    double dev = e->sumsq - 2 * mu * e->sum + e->n * mu * mu; /* sum (Z - mu)^2 */
    double var = (0.25 + (dev > 0 ? dev : 0)) / (e->n + 1);
    if (!(mu > 0))
        return 0;
    double lambda =
        mu / (var + mu * mu + (double)n * e->a * e->a / (4.0 * (double)n_s));
    return lambda < e->lambda_cap ? lambda : e->lambda_cap;
}

int cn_stats_eproc_update(cn_eproc_t *e, uint64_t k, uint64_t n, uint64_t k_s,
                          uint64_t n_s)
{
    if (!e || k > n || k_s > n_s)
        return CN_EINVAL;
    if (n == 0 || n_s == 0)
        return 0; /* nothing to bet on, or no reference this second */
    double lambda = cn_stats_eproc_bet(e, n, n_s);
    double s = (double)k_s / (double)n_s;
    double z1 = e->sign * (1 - e->a * s) - e->b; /* a request with X = 1 */
    double z0 = e->sign * (0 - e->a * s) - e->b; /* X = 0 */
    double dk = (double)k, dn = (double)n;
    if (lambda > 0) {
        double step = dk * log1p(lambda * z1) + (dn - dk) * log1p(lambda * z0) -
                      dn * dn * lambda * lambda * e->a * e->a / (8.0 * (double)n_s);
        e->log_e += step;
        if (e->log_e > e->log_e_max)
            e->log_e_max = e->log_e;
    }
    e->sum += dk * z1 + (dn - dk) * z0;
    e->sumsq += dk * z1 * z1 + (dn - dk) * z0 * z0;
    e->n += dn;
    e->seconds++;
    return 0;
}

double cn_stats_eproc_pvalue(const cn_eproc_t *e)
{
    if (!e || !(e->log_e_max > 0))
        return 1;
    return exp(-e->log_e_max);
}
