/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The fed values (feedback.h): per measurement step, per (role, version,
 * segment) cell, per fed metric. Counts and sums are kept whole; values
 * (and a label's prediction-label pairs) in a uniform reservoir
 * (Algorithm R) of the router's reservoir size, so a busy step costs
 * bounded memory and the judge sees a uniform sample.
 */
#include "feedback/feedback.h"
#include "stats/stats.h"
#include "util/error.h"
#include "util/rand.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Z95 1.959963984540054
#define LOG_LOSS_EPS 1e-15

typedef struct value_acc_s {
    uint64_t n;
    long double sum, sumsq;
    double *res; /* reservoir */
    size_t res_n, res_cap;
    uint64_t seen;
} value_acc_t;

typedef struct label_acc_s {
    uint64_t n, scored, correct;
    long double loss, loss_sq, brier, brier_sq;
    double *pred; /* reservoir of scored pairs */
    uint8_t *lab;
    size_t res_n, res_cap;
    uint64_t seen;
} label_acc_t;

typedef struct cell_s {
    cn_role_t role;
    char version[64];
    char segment[128];
    value_acc_t v[CN_FEEDBACK_METRICS_MAX];
    label_acc_t label;
} cell_t;

typedef struct step_s {
    uint64_t step; /* 0: an empty slot */
    cell_t **cells;
    size_t n, cap;
} step_t;

struct cn_feedback_s {
    pthread_mutex_t mu;
    const cn_feedback_config_t *cfg;
    size_t reservoir;
    uint64_t rng;
    step_t steps[CN_FEEDBACK_STEPS];
    cn_feedback_counters_t counters;
};

static const char *const outcome_names[CN_FEEDBACK_OUTCOMES] = {
    "accepted", "unknown", "expired", "duplicate", "invalid"};

const char *cn_feedback_outcome_name(cn_feedback_outcome_t o)
{
    return (unsigned)o < CN_FEEDBACK_OUTCOMES ? outcome_names[o] : "?";
}

cn_feedback_t *cn_feedback_new(const cn_feedback_config_t *cfg, size_t reservoir,
                               uint64_t seed)
{
    cn_feedback_t *fb = cn_xcalloc(1, sizeof *fb);
    pthread_mutex_init(&fb->mu, NULL);
    fb->cfg = cfg;
    fb->reservoir = reservoir ? reservoir : 1;
    fb->rng = seed;
    fb->counters.oldest_joinable_unix_s = NAN;
    return fb;
}

static void cell_free(cell_t *c)
{
    for (size_t i = 0; i < CN_FEEDBACK_METRICS_MAX; i++)
        free(c->v[i].res);
    free(c->label.pred);
    free(c->label.lab);
    free(c);
}

static void step_clear(step_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        cell_free(s->cells[i]);
    free(s->cells);
    memset(s, 0, sizeof *s);
}

void cn_feedback_free(cn_feedback_t *fb)
{
    if (!fb)
        return;
    for (size_t i = 0; i < CN_FEEDBACK_STEPS; i++)
        step_clear(&fb->steps[i]);
    pthread_mutex_destroy(&fb->mu);
    free(fb);
}

const cn_feedback_config_t *cn_feedback_config(const cn_feedback_t *fb)
{
    return fb->cfg;
}

/* The slot of step s, made if s is newer than the oldest kept; NULL: s is
 * older than every step kept (late). */
static step_t *step_slot(cn_feedback_t *fb, uint64_t s)
{
    step_t *oldest = NULL;
    for (size_t i = 0; i < CN_FEEDBACK_STEPS; i++) {
        step_t *t = &fb->steps[i];
        if (t->step == s)
            return t;
        if (!oldest || t->step < oldest->step)
            oldest = t;
    }
    if (oldest->step > s)
        return NULL;
    step_clear(oldest);
    oldest->step = s;
    return oldest;
}

static cell_t *cell_for(step_t *t, const cn_feedback_served_t *s)
{
    for (size_t i = 0; i < t->n; i++) {
        cell_t *c = t->cells[i];
        if (c->role == s->role && strcmp(c->version, s->version) == 0 &&
            strcmp(c->segment, s->segment) == 0)
            return c;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 8;
        t->cells = cn_xrealloc(t->cells, t->cap * sizeof *t->cells);
    }
    cell_t *c = cn_xcalloc(1, sizeof *c);
    c->role = s->role;
    snprintf(c->version, sizeof c->version, "%s", s->version);
    snprintf(c->segment, sizeof c->segment, "%s", s->segment);
    t->cells[t->n++] = c;
    return c;
}

/* Algorithm R: the slot for the seen-th value, or SIZE_MAX to drop it. */
static size_t reservoir_slot(cn_feedback_t *fb, size_t *res_n, size_t *res_cap,
                             uint64_t seen, void **a, size_t sa, void **b, size_t sb)
{
    if (*res_n < fb->reservoir) {
        if (*res_n == *res_cap) {
            size_t cap = *res_cap ? 2 * *res_cap : 64;
            if (cap > fb->reservoir)
                cap = fb->reservoir;
            *a = cn_xrealloc(*a, cap * sa);
            if (b)
                *b = cn_xrealloc(*b, cap * sb);
            *res_cap = cap;
        }
        return (*res_n)++;
    }
    uint64_t j = cn_rand_below(&fb->rng, seen);
    return j < fb->reservoir ? (size_t)j : SIZE_MAX;
}

static void add_value(cn_feedback_t *fb, value_acc_t *v, double x)
{
    v->n++;
    v->sum += x;
    v->sumsq += (long double)x * x;
    v->seen++;
    size_t at = reservoir_slot(fb, &v->res_n, &v->res_cap, v->seen, (void **)&v->res,
                               sizeof *v->res, NULL, 0);
    if (at != SIZE_MAX)
        v->res[at] = x;
}

static double log_loss(double p, uint8_t y)
{
    double q = p < LOG_LOSS_EPS       ? LOG_LOSS_EPS
               : p > 1 - LOG_LOSS_EPS ? 1 - LOG_LOSS_EPS
                                      : p;
    return y ? -log(q) : -log1p(-q);
}

static void add_label(cn_feedback_t *fb, label_acc_t *l, double prediction, uint8_t y)
{
    l->n++;
    if (isnan(prediction)) {
        fb->counters.labels_unscored++;
        return;
    }
    l->scored++;
    l->correct += (prediction >= fb->cfg->threshold) == (y == 1);
    double ll = log_loss(prediction, y), br = (prediction - y) * (prediction - y);
    l->loss += ll;
    l->loss_sq += (long double)ll * ll;
    l->brier += br;
    l->brier_sq += (long double)br * br;
    l->seen++;
    size_t at = reservoir_slot(fb, &l->res_n, &l->res_cap, l->seen, (void **)&l->pred,
                               sizeof *l->pred, (void **)&l->lab, sizeof *l->lab);
    if (at != SIZE_MAX) {
        l->pred[at] = prediction;
        l->lab[at] = y;
    }
}

void cn_feedback_record(cn_feedback_t *fb, const cn_feedback_served_t *s,
                        const cn_feedback_item_t *item, uint32_t fresh)
{
    pthread_mutex_lock(&fb->mu);
    fb->counters.values_duplicate += (uint64_t)__builtin_popcount(item->mask & ~fresh);
    step_t *t = step_slot(fb, s->step);
    if (!t) {
        fb->counters.late += (uint64_t)__builtin_popcount(fresh);
        pthread_mutex_unlock(&fb->mu);
        return;
    }
    cell_t *c = cell_for(t, s);
    for (size_t k = 0; k < fb->cfg->n_metrics; k++) {
        if (!(fresh & (1u << k)))
            continue;
        if (fb->cfg->metrics[k].kind == CN_FEEDBACK_LABEL)
            add_label(fb, &c->label, s->prediction, (uint8_t)item->values[k]);
        else
            add_value(fb, &c->v[k], item->values[k]);
    }
    pthread_mutex_unlock(&fb->mu);
}

void cn_feedback_count(cn_feedback_t *fb, cn_feedback_outcome_t o, uint64_t n)
{
    if ((unsigned)o >= CN_FEEDBACK_OUTCOMES)
        return;
    pthread_mutex_lock(&fb->mu);
    fb->counters.items[o] += n;
    pthread_mutex_unlock(&fb->mu);
}

void cn_feedback_note_oldest(cn_feedback_t *fb, double unix_s)
{
    pthread_mutex_lock(&fb->mu);
    fb->counters.oldest_joinable_unix_s = unix_s;
    pthread_mutex_unlock(&fb->mu);
}

void cn_feedback_counters(cn_feedback_t *fb, cn_feedback_counters_t *out)
{
    pthread_mutex_lock(&fb->mu);
    *out = fb->counters;
    pthread_mutex_unlock(&fb->mu);
}

/* ------------------------------------------------------------ judge */

static int label_to_judge(const label_acc_t *l, const bool want[CN_FEEDBACK_DERIVED],
                          cn_judge_arm_t arm, const char *seg, cn_judge_data_t *data)
{
    int rc = 0;
    if (want[0] && l->scored)
        rc = cn_judge_data_add_counts(data, cn_feedback_derived[0], arm, seg,
                                      l->correct, l->scored);
    if (!rc && (want[1] || want[2]) && l->res_n) {
        double *buf = cn_xmallocarray(l->res_n, sizeof *buf);
        for (int which = 1; which <= 2 && !rc; which++) {
            if (!want[which])
                continue;
            for (size_t i = 0; i < l->res_n; i++)
                buf[i] = which == 1
                             ? log_loss(l->pred[i], l->lab[i])
                             : (l->pred[i] - l->lab[i]) * (l->pred[i] - l->lab[i]);
            rc = cn_judge_data_add_many(data, cn_feedback_derived[which], arm, seg, buf,
                                        l->res_n);
        }
        free(buf);
    }
    if (!rc && want[3] && l->res_n)
        rc = cn_judge_data_add_scored(data, cn_feedback_derived[3], arm, seg, l->pred,
                                      l->lab, l->res_n);
    return rc;
}

int cn_feedback_add_to_judge(cn_feedback_t *fb, uint64_t step,
                             const char *const labels[CN_ROLE_COUNT],
                             const cn_judge_config_t *cfg, cn_judge_data_t *data)
{
    bool want_label[CN_FEEDBACK_DERIVED];
    for (int k = 0; k < CN_FEEDBACK_DERIVED; k++)
        want_label[k] = cn_judge_config_wants(cfg, cn_feedback_derived[k]);
    int rc = 0;
    pthread_mutex_lock(&fb->mu);
    const step_t *t = NULL;
    for (size_t i = 0; i < CN_FEEDBACK_STEPS && step; i++)
        if (fb->steps[i].step == step)
            t = &fb->steps[i];
    for (size_t i = 0; t && i < t->n && !rc; i++) {
        const cell_t *c = t->cells[i];
        const char *label = labels[c->role];
        if (!label || strcmp(c->version, label) != 0)
            continue; /* a version that left its role */
        cn_judge_arm_t arm = c->role == CN_ROLE_CANARY ? CN_ARM_CANARY : CN_ARM_STABLE;
        const char *seg = c->segment[0] ? c->segment : NULL;
        for (size_t k = 0; k < fb->cfg->n_metrics && !rc; k++) {
            const cn_feedback_metric_t *m = &fb->cfg->metrics[k];
            const value_acc_t *v = &c->v[k];
            if (m->kind == CN_FEEDBACK_LABEL)
                rc = label_to_judge(&c->label, want_label, arm, seg, data);
            else if (!cn_judge_config_wants(cfg, m->name) || !v->n)
                continue;
            else if (m->kind == CN_FEEDBACK_PROPORTION)
                rc = cn_judge_data_add_counts(data, m->name, arm, seg,
                                              (uint64_t)llroundl(v->sum), v->n);
            else
                rc = cn_judge_data_add_many(data, m->name, arm, seg, v->res, v->res_n);
        }
    }
    pthread_mutex_unlock(&fb->mu);
    return rc;
}

/* ---------------------------------------------------------- summary */

static cn_feedback_estimate_t none(void)
{
    return (cn_feedback_estimate_t){0, NAN, NAN, NAN};
}

static cn_feedback_estimate_t wilson(uint64_t k, uint64_t n)
{
    if (!n)
        return none();
    double p = (double)k / (double)n, z2 = Z95 * Z95, nn = (double)n;
    double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
    double half = Z95 * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
    return (cn_feedback_estimate_t){n, p, centre - half, centre + half};
}

static cn_feedback_estimate_t mean_t(uint64_t n, long double sum, long double sumsq)
{
    if (!n)
        return none();
    double mean = (double)(sum / n);
    if (n < 2)
        return (cn_feedback_estimate_t){n, mean, NAN, NAN};
    long double var = (sumsq - sum * sum / n) / (n - 1);
    double sd = var > 0 ? sqrt((double)var) : 0;
    double half = gsl_cdf_tdist_Pinv(0.975, (double)(n - 1)) * sd / sqrt((double)n);
    return (cn_feedback_estimate_t){n, mean, mean - half, mean + half};
}

static cn_feedback_estimate_t auc_of(const label_acc_t *l)
{
    size_t np = 0;
    for (size_t i = 0; i < l->res_n; i++)
        np += l->lab[i];
    double *pos = cn_xmallocarray(np ? np : 1, sizeof *pos);
    double *neg = cn_xmallocarray(l->res_n - np ? l->res_n - np : 1, sizeof *neg);
    size_t a = 0, b = 0;
    for (size_t i = 0; i < l->res_n; i++) {
        if (l->lab[i])
            pos[a++] = l->pred[i];
        else
            neg[b++] = l->pred[i];
    }
    cn_auc_result_t r;
    cn_feedback_estimate_t e = none();
    if (cn_stats_auc(pos, a, neg, b, &r) == 0) {
        double half = Z95 * sqrt(r.variance);
        e = (cn_feedback_estimate_t){l->res_n, r.auc, fmax(0, r.auc - half),
                                     fmin(1, r.auc + half)};
    }
    free(pos);
    free(neg);
    return e;
}

static int cell_order(const void *x, const void *y)
{
    const cn_feedback_cell_summary_t *a = x, *b = y;
    if (a->role != b->role)
        return (int)a->role - (int)b->role;
    int c = strcmp(a->version, b->version);
    return c ? c : strcmp(a->segment, b->segment);
}

cn_feedback_cell_summary_t *cn_feedback_summary(cn_feedback_t *fb, uint64_t step,
                                                size_t *n, uint64_t *step_out)
{
    *n = 0;
    *step_out = 0;
    pthread_mutex_lock(&fb->mu);
    const step_t *t = NULL;
    for (size_t i = 0; i < CN_FEEDBACK_STEPS; i++) {
        const step_t *s = &fb->steps[i];
        if (!s->step || !s->n)
            continue;
        if (step ? s->step == step : (!t || s->step > t->step))
            t = s;
    }
    cn_feedback_cell_summary_t *out = NULL;
    if (t) {
        out = cn_xcalloc(t->n, sizeof *out);
        for (size_t i = 0; i < t->n; i++) {
            const cell_t *c = t->cells[i];
            cn_feedback_cell_summary_t *o = &out[i];
            o->role = c->role;
            memcpy(o->version, c->version, sizeof o->version);
            memcpy(o->segment, c->segment, sizeof o->segment);
            for (size_t k = 0; k < CN_FEEDBACK_METRICS_MAX; k++)
                o->metric[k] = none();
            for (size_t k = 0; k < fb->cfg->n_metrics; k++) {
                const value_acc_t *v = &c->v[k];
                switch (fb->cfg->metrics[k].kind) {
                case CN_FEEDBACK_PROPORTION:
                    o->metric[k] = wilson((uint64_t)llroundl(v->sum), v->n);
                    break;
                case CN_FEEDBACK_MEAN:
                    o->metric[k] = mean_t(v->n, v->sum, v->sumsq);
                    break;
                default:
                    o->metric[k] = (cn_feedback_estimate_t){c->label.n, NAN, NAN, NAN};
                    break;
                }
            }
            const label_acc_t *l = &c->label;
            o->label[0] = wilson(l->correct, l->scored);
            o->label[1] = mean_t(l->scored, l->loss, l->loss_sq);
            o->label[2] = mean_t(l->scored, l->brier, l->brier_sq);
            o->label[3] = auc_of(l);
        }
        *n = t->n;
        *step_out = t->step;
    }
    pthread_mutex_unlock(&fb->mu);
    if (out)
        qsort(out, *n, sizeof *out, cell_order);
    return out;
}
