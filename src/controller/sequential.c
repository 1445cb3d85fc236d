/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The anytime-valid sequential triggers: sequential.h says what each
 * metric tests and why the whole family keeps its alpha; eprocess.c has
 * the e-process and its proof. This file chooses the thresholds, turns a
 * second's counts into each test's 0/1 counts, combines a metric's tests,
 * says what fired in words, and saves and restores the state.
 */
#include "controller/sequential.h"
#include "util/error.h"
#include "util/fmt.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* stable's quantiles at which latency is compared (the tail matters most:
 * a p99 regression is a stochastic-order violation at y = stable's p99) */
static const double latency_q[CN_SEQ_LATENCY_THRESHOLDS] = {0.5,  0.75, 0.9,   0.95,
                                                            0.98, 0.99, 0.995, 0.999};
/* stable's CDF levels at which predictions are compared */
static const double prediction_q[CN_SEQ_PREDICTION_THRESHOLDS] = {
    0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95};
/* the error rate's confidence sequence: absolute differences, or ratios */
static const double grid_abs[CN_SEQ_GRID] = {0,    0.001, 0.002, 0.005, 0.01, 0.02,
                                             0.03, 0.05,  0.1,   0.2,   0.3,  0.5};
static const double grid_rel[CN_SEQ_GRID] = {1, 1.1, 1.25, 1.5, 2,  3,
                                             4, 5,   7.5,  10,  20, 50};

static const char *const kind_names[] = {"error", "latency_ms", "prediction"};

int cn_seq_kind_of(const char *name)
{
    for (size_t i = 0; name && i < COUNT(kind_names); i++)
        if (strcmp(name, kind_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *cn_seq_kind_name(cn_seq_kind_t k)
{
    return (unsigned)k < COUNT(kind_names) ? kind_names[k] : "?";
}

int cn_seq_config_check(const cn_seq_config_t *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return cn_fail(err, errlen, CN_EINVAL, "no sequential config");
    if (!(cfg->alpha > 0 && cfg->alpha <= 0.5))
        return cn_fail(err, errlen, CN_EINVAL, "alpha must be in (0, 0.5], got %g",
                       cfg->alpha);
    if (cfg->n_metrics < 1 || cfg->n_metrics > CN_SEQ_METRICS_MAX)
        return cn_fail(err, errlen, CN_EINVAL, "1 to %d metrics, got %zu",
                       CN_SEQ_METRICS_MAX, cfg->n_metrics);
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        const cn_seq_metric_config_t *m = &cfg->metrics[i];
        if ((unsigned)m->kind >= COUNT(kind_names))
            return cn_fail(err, errlen, CN_EINVAL, "metric %zu: unknown kind", i);
        for (size_t j = 0; j < i; j++)
            if (cfg->metrics[j].kind == m->kind)
                return cn_fail(err, errlen, CN_EINVAL, "metric '%s' is named twice",
                               cn_seq_kind_name(m->kind));
        if (m->kind == CN_SEQ_PREDICTION) {
            if (!(m->max_statistic > 0 && m->max_statistic < 1))
                return cn_fail(err, errlen, CN_EINVAL,
                               "prediction: max_statistic must be in (0, 1), got %g",
                               m->max_statistic);
        } else if (!(m->margin >= 0) || !isfinite(m->margin) ||
                   (m->margin_kind != CN_MARGIN_ABSOLUTE &&
                    m->margin_kind != CN_MARGIN_RELATIVE)) {
            return cn_fail(err, errlen, CN_EINVAL,
                           "%s: the margin must be a finite number >= 0, got %g",
                           cn_seq_kind_name(m->kind), m->margin);
        }
    }
    return 0;
}

/*
 * One test in the family's direction: harm is (sign, a, b) as documented
 * in sequential.h; non-inferiority is the reversed test (-sign, a, -b),
 * whose null is harm of at least the margin (eprocess.c proves it). b > -1
 * holds: margins of rates and max_statistic are below 1 (checked).
 */
static void test_init(const cn_seq_metric_t *m, cn_eproc_t *e, int sign, double a,
                      double b)
{
    if (m->ni)
        cn_stats_eproc_init(e, -sign, a, -b);
    else
        cn_stats_eproc_init(e, sign, a, b);
}

static int start(cn_seq_t *q, const cn_seq_config_t *cfg, bool ni)
{
    if (!q || cn_seq_config_check(cfg, NULL, 0))
        return CN_EINVAL;
    for (size_t i = 0; ni && i < cfg->n_metrics; i++)
        if (cfg->metrics[i].kind == CN_SEQ_ERROR &&
            cfg->metrics[i].margin_kind == CN_MARGIN_ABSOLUTE &&
            !(cfg->metrics[i].margin < 1))
            return CN_EINVAL; /* a rate's margin of 1 or more shows nothing */
    memset(q, 0, sizeof *q);
    q->cfg = *cfg;
    q->ni = ni;
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        cn_seq_metric_t *m = &q->m[i];
        m->cfg = cfg->metrics[i];
        m->ni = ni;
        if (m->cfg.kind != CN_SEQ_ERROR)
            continue;
        /* the error rate needs no reference to start */
        bool rel = m->cfg.margin_kind == CN_MARGIN_RELATIVE;
        test_init(m, &m->tests[0], 1, rel ? 1 + m->cfg.margin : 1,
                  rel ? 0 : m->cfg.margin);
        m->n_tests = 1;
        /* the confidence sequence (harm only: it says how much worse) */
        for (size_t g = 0; !ni && g < CN_SEQ_GRID; g++)
            cn_stats_eproc_init(&m->grid[g], 1, rel ? grid_rel[g] : 1,
                                rel ? 0 : grid_abs[g]);
        m->started = true;
    }
    return 0;
}

int cn_seq_init(cn_seq_t *q, const cn_seq_config_t *cfg)
{
    return start(q, cfg, false);
}

int cn_seq_ni_init(cn_seq_t *q, const cn_seq_config_t *cfg)
{
    return start(q, cfg, true);
}

double cn_seq_threshold(const cn_seq_t *q)
{
    /* intersection-union: every test must be shown, no correction */
    if (q->ni)
        return 1 / q->cfg.alpha;
    return (double)q->cfg.n_metrics / q->cfg.alpha;
}

double cn_seq_pvalue(const cn_seq_metric_t *m)
{
    return m->log_e_max > 0 ? exp(-m->log_e_max) : 1;
}

/* ------------------------------------------------------------ thresholds */

/* The values at or above bucket at[t] for each of n ascending indexes,
 * in one pass up to the last of them. */
static void at_or_above(const cn_metrics_hist_t *h, const uint32_t *at, size_t n,
                        uint64_t *out)
{
    uint64_t below = 0;
    size_t b = 0;
    for (size_t t = 0; t < n; t++) {
        for (; b < at[t]; b++)
            below += h->counts[b];
        uint64_t total = cn_metrics_hist_count(h);
        out[t] = total > below ? total - below : 0;
    }
}

static uint64_t bucket_lower(size_t b)
{
    uint64_t lo = 0, hi = 0;
    cn_metrics_hist_bucket_bounds(b, &lo, &hi);
    return lo;
}

/*
 * Latency: stable's threshold at bucket i_s (values at or above its lower
 * edge y), the canary's at the first bucket whose lower edge is at least
 * (1 + m) y (or y + m ms): so the canary's indicator implies "at or above
 * the margin's image of y" and H0 keeps its share at most stable's.
 * Non-inferiority shows the canary's share at or above the image below
 * stable's share at or above y, rounding the image down (below).
 */
static void start_latency(cn_seq_metric_t *m, const cn_metrics_hist_t *total)
{
    uint64_t n = cn_metrics_hist_count(total);
    size_t k = 0;
    for (size_t i = 0; i < CN_SEQ_LATENCY_THRESHOLDS; i++) {
        /* non-inferiority up to stable's p99: beyond it a good canary's
         * advantage (the margin's worth of tail) needs far more data */
        if (m->ni && latency_q[i] > CN_SEQ_NI_LATENCY_Q)
            break;
        uint64_t want = (uint64_t)ceil(latency_q[i] * (double)n), seen = 0;
        size_t b = 0;
        for (; b < CN_METRICS_HIST_BUCKETS; b++) {
            seen += total->counts[b];
            if (seen >= want && seen > 0)
                break;
        }
        if (b >= CN_METRICS_HIST_BUCKETS)
            continue;
        if (k > 0 && m->stable_at[k - 1] == b)
            continue;
        double y = (double)bucket_lower(b);
        double target = m->cfg.margin_kind == CN_MARGIN_RELATIVE
                            ? (1 + m->cfg.margin) * y
                            : y + m->cfg.margin * 1000.0;
        size_t c = b;
        while (c < CN_METRICS_HIST_BUCKETS && (double)bucket_lower(c) < target)
            c++;
        if (c >= CN_METRICS_HIST_BUCKETS)
            continue;
        if (m->ni) {
            /* non-inferiority rounds the other way: the canary's indicator
             * must be implied BY "at or above the margin's image of y", so
             * its threshold is the last lower edge at or below it; equal to
             * stable's (a margin below the bucket width) it cannot show
             * anything and is left out */
            if ((double)bucket_lower(c) > target)
                c--;
            if (c == b)
                continue;
        }
        m->stable_at[k] = (uint32_t)b;
        m->canary_at[k] = (uint32_t)c;
        test_init(m, &m->tests[k], 1, 1, 0);
        k++;
    }
    m->n_tests = k;
    m->started = k > 0;
}

static void start_prediction(cn_seq_metric_t *m, const uint64_t *total, size_t nb)
{
    uint64_t n = 0;
    for (size_t j = 0; j <= nb; j++)
        n += total[j];
    size_t k = 0;
    for (size_t i = 0; i < CN_SEQ_PREDICTION_THRESHOLDS && n; i++) {
        /* the bound whose CDF level is nearest the wanted one */
        size_t best = 0;
        double best_gap = INFINITY;
        uint64_t cum = 0;
        for (size_t j = 0; j < nb; j++) {
            cum += total[j];
            double gap = fabs((double)cum / (double)n - prediction_q[i]);
            if (gap < best_gap) {
                best_gap = gap;
                best = j;
            }
        }
        if (best_gap == INFINITY)
            break;
        bool dup = false;
        for (size_t t = 0; t < k && !dup; t += 2)
            dup = m->stable_at[t] == best;
        if (dup)
            continue;
        for (int side = 0; side < 2; side++) {
            m->stable_at[k] = m->canary_at[k] = (uint32_t)best;
            test_init(m, &m->tests[k], side ? -1 : 1, 1, m->cfg.max_statistic);
            k++;
        }
    }
    m->n_tests = k;
    m->started = k > 0;
}

/* ------------------------------------------------------------ update */

static uint64_t le_count(const uint64_t *buckets, uint32_t j)
{
    uint64_t n = 0;
    for (uint32_t b = 0; b <= j; b++)
        n += buckets[b];
    return n;
}

/*
 * Non-inferiority: every test must have shown it at some time (each is
 * anytime-valid, so "ever crossed" keeps its level), so the metric's
 * evidence is its weakest test's best: the minimum over tests of their
 * running maxima (nondecreasing). `best` is that weakest test.
 */
static void combine_ni(cn_seq_metric_t *m)
{
    double mn = INFINITY;
    for (size_t t = 0; t < m->n_tests; t++)
        if (m->tests[t].log_e_max < mn) {
            mn = m->tests[t].log_e_max;
            m->best = t;
        }
    if (!m->n_tests)
        return;
    m->log_e = m->log_e_max = mn;
}

static void combine(cn_seq_metric_t *m)
{
    if (m->ni) {
        combine_ni(m);
        return;
    }
    double mx = -INFINITY;
    for (size_t t = 0; t < m->n_tests; t++)
        if (m->tests[t].log_e > mx) {
            mx = m->tests[t].log_e;
            m->best = t;
        }
    if (!m->n_tests)
        return;
    double sum = 0;
    for (size_t t = 0; t < m->n_tests; t++)
        sum += exp(m->tests[t].log_e - mx);
    m->log_e = mx + log(sum / (double)m->n_tests);
    if (m->log_e > m->log_e_max)
        m->log_e_max = m->log_e;
}

static void feed(cn_seq_metric_t *m, const cn_seq_second_t *in)
{
    const cn_seq_arm_t *c = &in->canary, *s = &in->stable;
    switch (m->cfg.kind) {
    case CN_SEQ_ERROR:
        if (c->errors > c->requests || s->errors > s->requests)
            return;
        cn_stats_eproc_update(&m->tests[0], c->errors, c->requests, s->errors,
                              s->requests);
        for (size_t g = 0; !m->ni && g < CN_SEQ_GRID; g++)
            cn_stats_eproc_update(&m->grid[g], c->errors, c->requests, s->errors,
                                  s->requests);
        if (c->requests && s->requests) {
            m->canary_n += c->requests;
            m->stable_n += s->requests;
            m->shown_canary += (double)c->errors;
            m->shown_stable += (double)s->errors;
        }
        break;
    case CN_SEQ_LATENCY: {
        if (!c->latency || !s->latency)
            return;
        uint64_t nc = cn_metrics_hist_count(c->latency),
                 ns = cn_metrics_hist_count(s->latency);
        if (!nc || !ns)
            return;
        uint64_t kc[CN_SEQ_TESTS_MAX], ks[CN_SEQ_TESTS_MAX];
        at_or_above(c->latency, m->canary_at, m->n_tests, kc);
        at_or_above(s->latency, m->stable_at, m->n_tests, ks);
        for (size_t t = 0; t < m->n_tests; t++)
            cn_stats_eproc_update(&m->tests[t], kc[t], nc, ks[t], ns);
        m->canary_n += nc;
        m->stable_n += ns;
        break;
    }
    case CN_SEQ_PREDICTION: {
        if (!c->predictions || !s->predictions)
            return;
        uint64_t nc = le_count(c->predictions, (uint32_t)in->n_prediction_bounds),
                 ns = le_count(s->predictions, (uint32_t)in->n_prediction_bounds);
        if (!nc || !ns)
            return;
        for (size_t t = 0; t < m->n_tests; t++)
            cn_stats_eproc_update(&m->tests[t],
                                  le_count(c->predictions, m->canary_at[t]), nc,
                                  le_count(s->predictions, m->stable_at[t]), ns);
        m->canary_n += nc;
        m->stable_n += ns;
        break;
    }
    }
    combine(m);
}

bool cn_seq_update(cn_seq_t *q, const cn_seq_second_t *in)
{
    if (q->fired)
        return true;
    q->seconds++;
    for (size_t i = 0; i < q->cfg.n_metrics; i++) {
        cn_seq_metric_t *m = &q->m[i];
        if (!m->started) {
            if (in->warmup)
                continue;
            if (m->cfg.kind == CN_SEQ_LATENCY && in->stable_latency_total &&
                cn_metrics_hist_count(in->stable_latency_total) >= CN_SEQ_MIN_REFERENCE)
                start_latency(m, in->stable_latency_total);
            else if (m->cfg.kind == CN_SEQ_PREDICTION && in->stable_predictions_total &&
                     in->n_prediction_bounds > 0 &&
                     le_count(in->stable_predictions_total,
                              (uint32_t)in->n_prediction_bounds) >=
                         CN_SEQ_MIN_REFERENCE)
                start_prediction(m, in->stable_predictions_total,
                                 in->n_prediction_bounds);
            continue; /* fed from the next second on: thresholds come first */
        }
        if (in->warmup && m->cfg.kind != CN_SEQ_ERROR)
            continue;
        feed(m, in);
        if (!q->ni && !q->fired && m->log_e >= log(cn_seq_threshold(q))) {
            q->fired = true;
            q->fired_metric = i;
        }
    }
    if (q->ni) {
        /* shown when every metric's every test is (intersection-union) */
        bool all = true;
        for (size_t i = 0; i < q->cfg.n_metrics && all; i++)
            all = q->m[i].started && q->m[i].n_tests > 0 &&
                  q->m[i].log_e >= log(cn_seq_threshold(q));
        q->fired = all;
    }
    return q->fired;
}

/* ------------------------------------------------------------ words */

/* "6,210" */
static void thousands(uint64_t v, char *buf, size_t len)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%llu", (unsigned long long)v);
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n && o + 2 < len; i++) {
        if (i && (n - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
}

/* the error rate's lower confidence bound: the largest grid value shown */
static bool error_lcb(const cn_seq_t *q, const cn_seq_metric_t *m, double *out)
{
    double level = log(cn_seq_threshold(q));
    bool any = false;
    for (size_t g = 0; g < CN_SEQ_GRID; g++)
        if (m->grid[g].log_e_max >= level) {
            *out = m->cfg.margin_kind == CN_MARGIN_RELATIVE ? grid_rel[g] : grid_abs[g];
            any = true;
        }
    return any;
}

void cn_seq_reason(const cn_seq_t *q, size_t i, char *buf, size_t len)
{
    const cn_seq_metric_t *m = &q->m[i];
    char n[32], p[32];
    thousands(m->canary_n, n, sizeof n);
    snprintf(p, sizeof p, "%.2g", cn_seq_pvalue(m));
    bool rel = m->cfg.margin_kind == CN_MARGIN_RELATIVE;
    switch (m->cfg.kind) {
    case CN_SEQ_ERROR: {
        char margin[48], cs[96] = "";
        if (rel)
            snprintf(margin, sizeof margin, "the %g%% margin", m->cfg.margin * 100);
        else
            snprintf(margin, sizeof margin, "the %g-point margin", m->cfg.margin * 100);
        double lcb;
        if (error_lcb(q, m, &lcb))
            snprintf(cs, sizeof cs,
                     rel ? "; canary / stable >= %g" : "; canary - stable >= %g points",
                     rel ? lcb : lcb * 100);
        double rc = m->canary_n ? m->shown_canary / (double)m->canary_n : 0,
               rs = m->stable_n ? m->shown_stable / (double)m->stable_n : 0;
        snprintf(buf, len,
                 "error rate: canary worse than stable by more than %s, anytime-valid "
                 "p = %s after %s canary requests (%.3g%% against %.3g%%%s)",
                 margin, p, n, rc * 100, rs * 100, cs);
        break;
    }
    case CN_SEQ_LATENCY: {
        size_t t = m->best;
        double ys = (double)bucket_lower(m->stable_at[t]) / 1000.0,
               yc = (double)bucket_lower(m->canary_at[t]) / 1000.0;
        char margin[48];
        if (rel)
            snprintf(margin, sizeof margin, "the %g%% margin", m->cfg.margin * 100);
        else
            snprintf(margin, sizeof margin, "the %g ms margin", m->cfg.margin);
        snprintf(buf, len,
                 "latency_ms: canary slower than stable by more than %s (more canary "
                 "requests at or above %.4g ms than stable requests at or above %.4g "
                 "ms), anytime-valid p = %s after %s canary requests",
                 margin, yc, ys, p, n);
        break;
    }
    case CN_SEQ_PREDICTION: {
        size_t t = m->best;
        snprintf(buf, len,
                 "prediction: the canary's and stable's distributions differ by more "
                 "than max_statistic %g (at bound %zu, the canary's CDF %s stable's), "
                 "anytime-valid p = %s after %s canary predictions",
                 m->cfg.max_statistic, (size_t)m->stable_at[t],
                 m->tests[t].sign > 0 ? "above" : "below", p, n);
        break;
    }
    }
}

/* "the 0.5-point margin", "the 5% margin", "the 20 ms margin",
 * "max_statistic 0.05" */
static void margin_words(const cn_seq_metric_t *m, char *buf, size_t len)
{
    bool rel = m->cfg.margin_kind == CN_MARGIN_RELATIVE;
    if (m->cfg.kind == CN_SEQ_PREDICTION)
        snprintf(buf, len, "max_statistic %g", m->cfg.max_statistic);
    else if (rel)
        snprintf(buf, len, "the %g%% margin", m->cfg.margin * 100);
    else if (m->cfg.kind == CN_SEQ_ERROR)
        snprintf(buf, len, "the %g-point margin", m->cfg.margin * 100);
    else
        snprintf(buf, len, "the %g ms margin", m->cfg.margin);
}

void cn_seq_ni_reason(const cn_seq_t *q, char *buf, size_t len)
{
    size_t o = 0;
    double weakest = INFINITY;
    size_t w = 0;
    uint64_t n_max = 0;
    for (size_t i = 0; i < q->cfg.n_metrics; i++) {
        const cn_seq_metric_t *m = &q->m[i];
        double le = m->started && m->n_tests ? m->log_e : 0;
        if (le < weakest) {
            weakest = le;
            w = i;
        }
        if (m->canary_n > n_max)
            n_max = m->canary_n;
    }
    char n[32];
    thousands(n_max, n, sizeof n);
    if (q->fired) {
        o += (size_t)snprintf(buf, len, "non-inferiority shown:");
        for (size_t i = 0; i < q->cfg.n_metrics && o < len; i++) {
            char mw[48];
            margin_words(&q->m[i], mw, sizeof mw);
            o += (size_t)snprintf(buf + o, len - o, "%s %s within %s",
                                  i ? (i + 1 == q->cfg.n_metrics ? " and" : ",") : "",
                                  cn_seq_kind_name(q->m[i].cfg.kind), mw);
        }
        if (o < len)
            snprintf(buf + o, len - o,
                     ", anytime-valid p <= %.2g (every test) after %s canary requests",
                     exp(-weakest), n);
        return;
    }
    const cn_seq_metric_t *m = &q->m[w];
    char mw[48];
    margin_words(m, mw, sizeof mw);
    if (!m->started || !m->n_tests)
        snprintf(buf, len,
                 "non-inferiority not shown after %s canary requests (%s has not "
                 "started: stable has too few requests to fix its thresholds)",
                 n, cn_seq_kind_name(m->cfg.kind));
    else
        snprintf(buf, len,
                 "non-inferiority not shown after %s canary requests (weakest: %s "
                 "within %s, anytime-valid p = %.2g, needs %.2g)",
                 n, cn_seq_kind_name(m->cfg.kind), mw, exp(-weakest), q->cfg.alpha);
}

/* ------------------------------------------------------------ JSON */

static json_t *eproc_json(const cn_eproc_t *e)
{
    return json_pack("[i,f,f,f,f,f,f,f,f,I]", e->sign, e->a, e->b, e->lambda_cap,
                     e->log_e, e->log_e_max, e->n, e->sum, e->sumsq,
                     (json_int_t)e->seconds);
}

static int eproc_from(const json_t *j, cn_eproc_t *e)
{
    json_int_t sec;
    int sign;
    if (!json_is_array(j) || json_array_size(j) != 10 ||
        json_unpack((json_t *)j, "[i,F,F,F,F,F,F,F,F,I]", &sign, &e->a, &e->b,
                    &e->lambda_cap, &e->log_e, &e->log_e_max, &e->n, &e->sum, &e->sumsq,
                    &sec) ||
        (sign != 1 && sign != -1) || sec < 0 || !isfinite(e->log_e) || !(e->n >= 0))
        return CN_EINVAL;
    e->sign = sign;
    e->seconds = (uint64_t)sec;
    return 0;
}

json_t *cn_seq_to_json(const cn_seq_t *q)
{
    json_t *ms = json_array();
    for (size_t i = 0; i < q->cfg.n_metrics; i++) {
        const cn_seq_metric_t *m = &q->m[i];
        json_t *tests = json_array(), *grid = json_array(), *sa = json_array(),
               *ca = json_array();
        for (size_t t = 0; t < m->n_tests; t++) {
            json_array_append_new(tests, eproc_json(&m->tests[t]));
            json_array_append_new(sa, json_integer(m->stable_at[t]));
            json_array_append_new(ca, json_integer(m->canary_at[t]));
        }
        if (m->cfg.kind == CN_SEQ_ERROR)
            for (size_t g = 0; g < CN_SEQ_GRID; g++)
                json_array_append_new(grid, eproc_json(&m->grid[g]));
        json_array_append_new(
            ms, json_pack("{s:s,s:b,s:o,s:o,s:o,s:o,s:f,s:f,s:I,s:I,s:f,s:f}", "metric",
                          cn_seq_kind_name(m->cfg.kind), "started", m->started, "tests",
                          tests, "stable_at", sa, "canary_at", ca, "grid", grid,
                          "log_e", m->log_e, "log_e_max", m->log_e_max, "canary_n",
                          (json_int_t)m->canary_n, "stable_n", (json_int_t)m->stable_n,
                          "shown_canary", m->shown_canary, "shown_stable",
                          m->shown_stable));
    }
    json_t *j =
        json_pack("{s:i,s:f,s:I,s:b,s:I,s:o}", "version", 1, "alpha", q->cfg.alpha,
                  "seconds", (json_int_t)q->seconds, "fired", q->fired, "fired_metric",
                  (json_int_t)q->fired_metric, "metrics", ms);
    /* only non-inferiority says so: harm states stay as they were stored */
    if (q->ni)
        json_object_set_new(j, "direction", json_string("noninferiority"));
    return j;
}

static int from_json(cn_seq_t *q, const cn_seq_config_t *cfg, const json_t *j, bool ni,
                     char *err, size_t errlen)
{
    cn_seq_t r;
    if (start(&r, cfg, ni))
        return cn_fail(err, errlen, CN_EINVAL, "the sequential config is not valid");
    const char *dir = json_string_value(json_object_get(j, "direction"));
    if ((dir != NULL) != ni || (dir && strcmp(dir, "noninferiority") != 0))
        return cn_fail(err, errlen, CN_EINVAL,
                       "the stored sequential state tests %s, not %s",
                       dir ? dir : "harm", ni ? "noninferiority" : "harm");
    int version, fired;
    double alpha;
    json_int_t seconds, fired_metric;
    json_t *ms;
    if (json_unpack((json_t *)j, "{s:i,s:F,s:I,s:b,s:I,s:o}", "version", &version,
                    "alpha", &alpha, "seconds", &seconds, "fired", &fired,
                    "fired_metric", &fired_metric, "metrics", &ms) ||
        version != 1 || !json_is_array(ms) || seconds < 0)
        return cn_fail(err, errlen, CN_EINVAL,
                       "the stored sequential state is not one this canary writes");
    if (alpha != cfg->alpha || json_array_size(ms) != cfg->n_metrics)
        return cn_fail(err, errlen, CN_EINVAL,
                       "the stored sequential state was made for another config "
                       "(alpha %g, %zu metrics; now %g, %zu)",
                       alpha, json_array_size(ms), cfg->alpha, cfg->n_metrics);
    for (size_t i = 0; i < cfg->n_metrics; i++) {
        cn_seq_metric_t *m = &r.m[i];
        json_t *o = json_array_get(ms, i), *tests, *grid, *sa, *ca;
        const char *metric;
        int started;
        json_int_t cn, sn;
        if (json_unpack(o, "{s:s,s:b,s:o,s:o,s:o,s:o,s:F,s:F,s:I,s:I,s:F,s:F}",
                        "metric", &metric, "started", &started, "tests", &tests,
                        "stable_at", &sa, "canary_at", &ca, "grid", &grid, "log_e",
                        &m->log_e, "log_e_max", &m->log_e_max, "canary_n", &cn,
                        "stable_n", &sn, "shown_canary", &m->shown_canary,
                        "shown_stable", &m->shown_stable) ||
            cn_seq_kind_of(metric) != (int)m->cfg.kind || cn < 0 || sn < 0 ||
            !json_is_array(tests) || json_array_size(tests) > CN_SEQ_TESTS_MAX ||
            json_array_size(sa) != json_array_size(tests) ||
            json_array_size(ca) != json_array_size(tests))
            return cn_fail(err, errlen, CN_EINVAL,
                           "the stored sequential state of metric %zu does not match "
                           "the config (%s)",
                           i, cn_seq_kind_name(m->cfg.kind));
        m->started = started;
        m->canary_n = (uint64_t)cn;
        m->stable_n = (uint64_t)sn;
        m->n_tests = json_array_size(tests);
        for (size_t t = 0; t < m->n_tests; t++) {
            json_int_t s = json_integer_value(json_array_get(sa, t)),
                       c = json_integer_value(json_array_get(ca, t));
            if (eproc_from(json_array_get(tests, t), &m->tests[t]) || s < 0 || c < 0 ||
                s >= (json_int_t)CN_METRICS_HIST_BUCKETS ||
                c >= (json_int_t)CN_METRICS_HIST_BUCKETS)
                return cn_fail(err, errlen, CN_EINVAL,
                               "the stored sequential state of %s: test %zu is damaged",
                               cn_seq_kind_name(m->cfg.kind), t);
            m->stable_at[t] = (uint32_t)s;
            m->canary_at[t] = (uint32_t)c;
        }
        if (m->cfg.kind == CN_SEQ_ERROR && !ni) {
            if (json_array_size(grid) != CN_SEQ_GRID)
                return cn_fail(
                    err, errlen, CN_EINVAL,
                    "the stored sequential state of error: its grid is damaged");
            for (size_t g = 0; g < CN_SEQ_GRID; g++)
                if (eproc_from(json_array_get(grid, g), &m->grid[g]))
                    return cn_fail(err, errlen, CN_EINVAL,
                                   "the stored sequential state of error: grid %zu is "
                                   "damaged",
                                   g);
        }
        combine(m);
        m->log_e_max = m->log_e_max > m->log_e ? m->log_e_max : m->log_e;
    }
    r.seconds = (uint64_t)seconds;
    r.fired = fired;
    r.fired_metric = fired_metric >= 0 && (size_t)fired_metric < cfg->n_metrics
                         ? (size_t)fired_metric
                         : 0;
    *q = r;
    return 0;
}

int cn_seq_from_json(cn_seq_t *q, const cn_seq_config_t *cfg, const json_t *j,
                     char *err, size_t errlen)
{
    return from_json(q, cfg, j, false, err, errlen);
}

int cn_seq_ni_from_json(cn_seq_t *q, const cn_seq_config_t *cfg, const json_t *j,
                        char *err, size_t errlen)
{
    return from_json(q, cfg, j, true, err, errlen);
}

/* An e-value as JSON can hold it: one beyond a double (a gross failure
 * on a busy second) is DBL_MAX, with log_e_value exact next to it;
 * json_pack refuses inf, and the metric would be lost from the evidence. */
static double finite_e(double log_e)
{
    double e = exp(log_e);
    return isfinite(e) ? e : DBL_MAX;
}

json_t *cn_seq_evidence_json(const cn_seq_t *q)
{
    json_t *ms = json_array();
    for (size_t i = 0; i < q->cfg.n_metrics; i++) {
        const cn_seq_metric_t *m = &q->m[i];
        json_t *o = json_pack(
            "{s:s,s:f,s:f,s:f,s:I,s:I,s:b}", "metric", cn_seq_kind_name(m->cfg.kind),
            "e_value", finite_e(m->log_e), "log_e_value", m->log_e, "pvalue",
            cn_seq_pvalue(m), "canary_n", (json_int_t)m->canary_n, "stable_n",
            (json_int_t)m->stable_n, "started", m->started);
        double lcb;
        if (m->cfg.kind == CN_SEQ_ERROR && error_lcb(q, m, &lcb))
            json_object_set_new(o,
                                m->cfg.margin_kind == CN_MARGIN_RELATIVE
                                    ? "ratio_lower_bound"
                                    : "difference_lower_bound",
                                json_real(lcb));
        char why[400];
        cn_seq_reason(q, i, why, sizeof why);
        json_object_set_new(o, "reason", json_string(why));
        json_array_append_new(ms, o);
    }
    return json_pack("{s:f,s:f,s:I,s:o}", "alpha", q->cfg.alpha, "threshold",
                     cn_seq_threshold(q), "seconds", (json_int_t)q->seconds, "metrics",
                     ms);
}
