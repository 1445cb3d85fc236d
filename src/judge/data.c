/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The samples a judge looks at: per metric, per arm (stable / canary), the
 * observed values with their segment labels. Metrics are few (tens), so
 * they sit in an array searched linearly, with the last hit cached for the
 * common case of adding many rows of one metric in a row; segment labels
 * are interned once and stored per value as a 32-bit id.
 */
#include "judge/data_internal.h"
#include "util/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cn_judge_data_s {
    cn__judge_metric_data_t *metrics;
    size_t n_metrics, cap_metrics;
    size_t last; /* index of the last metric looked up */
    char **segments;
    size_t n_segments, cap_segments;
    /* Requests per arm and segment id (cn_judge_data_set_requests): slot
     * id holds the count, UINT64_MAX when not given. */
    uint64_t *requests[2];
    size_t cap_requests[2];
    int has_requests[2];
};

cn_judge_data_t *cn_judge_data_new(void)
{
    return cn_xcalloc(1, sizeof(cn_judge_data_t));
}

void cn_judge_data_free(cn_judge_data_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_metrics; i++) {
        free(d->metrics[i].name);
        for (int a = 0; a < 2; a++) {
            free(d->metrics[i].arm[a].values);
            free(d->metrics[i].arm[a].segment);
            free(d->metrics[i].arm[a].label);
            free(d->metrics[i].arm[a].counts);
            for (size_t b = 0; b < d->metrics[i].arm[a].n_bin_sets; b++)
                free(d->metrics[i].arm[a].bins[b].counts);
            free(d->metrics[i].arm[a].bins);
        }
        free(d->metrics[i].bin_bounds);
        free(d->metrics[i].pair_s);
        free(d->metrics[i].pair_c);
    }
    for (size_t i = 0; i < d->n_segments; i++)
        free(d->segments[i]);
    free(d->metrics);
    free(d->segments);
    free(d->requests[0]);
    free(d->requests[1]);
    free(d);
}

void cn_judge_data_clear(cn_judge_data_t *d)
{
    for (size_t i = 0; i < d->n_metrics; i++) {
        for (int a = 0; a < 2; a++) {
            d->metrics[i].arm[a].n = 0;
            d->metrics[i].arm[a].n_counts = 0;
            for (size_t b = 0; b < d->metrics[i].arm[a].n_bin_sets; b++)
                free(d->metrics[i].arm[a].bins[b].counts);
            d->metrics[i].arm[a].n_bin_sets = 0;
        }
        free(d->metrics[i].bin_bounds);
        d->metrics[i].bin_bounds = NULL;
        d->metrics[i].n_bins = 0;
        d->metrics[i].n_pairs = 0;
    }
    for (int a = 0; a < 2; a++) {
        d->has_requests[a] = 0;
        for (size_t i = 0; i < d->cap_requests[a]; i++)
            d->requests[a][i] = UINT64_MAX;
    }
}

static size_t find_metric(const cn_judge_data_t *d, const char *name)
{
    if (d->last < d->n_metrics && strcmp(d->metrics[d->last].name, name) == 0)
        return d->last;
    for (size_t i = 0; i < d->n_metrics; i++)
        if (strcmp(d->metrics[i].name, name) == 0)
            return i;
    return SIZE_MAX;
}

static cn__judge_metric_data_t *metric_for_add(cn_judge_data_t *d, const char *name)
{
    size_t i = find_metric(d, name);
    if (i == SIZE_MAX) {
        if (d->n_metrics == d->cap_metrics) {
            d->cap_metrics = d->cap_metrics ? 2 * d->cap_metrics : 8;
            d->metrics = cn_xrealloc(d->metrics, d->cap_metrics * sizeof *d->metrics);
        }
        i = d->n_metrics++;
        memset(&d->metrics[i], 0, sizeof d->metrics[i]);
        d->metrics[i].name = strdup(name);
        if (!d->metrics[i].name)
            abort();
    }
    d->last = i;
    return &d->metrics[i];
}

static uint32_t segment_id(cn_judge_data_t *d, const char *segment)
{
    if (!segment)
        return 0;
    for (size_t i = 0; i < d->n_segments; i++)
        if (strcmp(d->segments[i], segment) == 0)
            return (uint32_t)(i + 1);
    if (d->n_segments == d->cap_segments) {
        d->cap_segments = d->cap_segments ? 2 * d->cap_segments : 8;
        d->segments = cn_xrealloc(d->segments, d->cap_segments * sizeof *d->segments);
    }
    d->segments[d->n_segments] = strdup(segment);
    if (!d->segments[d->n_segments])
        abort();
    return (uint32_t)++d->n_segments;
}

/* Room for n more values (and labels, if the arm keeps them). */
static void arm_reserve(cn__judge_arm_t *a, size_t n)
{
    if (a->n + n <= a->cap)
        return;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < a->n + n)
        cap *= 2;
    a->values = cn_xrealloc(a->values, cap * sizeof *a->values);
    a->segment = cn_xrealloc(a->segment, cap * sizeof *a->segment);
    if (a->label)
        a->label = cn_xrealloc(a->label, cap * sizeof *a->label);
    a->cap = cap;
}

int cn_judge_data_add_many(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                           const char *segment, const double *values, size_t n)
{
    if (!d || !metric || (arm != CN_ARM_STABLE && arm != CN_ARM_CANARY))
        return CN_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i]))
            return CN_ENONFINITE;
    cn__judge_arm_t *a = &metric_for_add(d, metric)->arm[arm];
    if (a->label && n)
        return CN_EINVAL; /* the metric's values are scored */
    uint32_t seg = segment_id(d, segment);
    arm_reserve(a, n);
    memcpy(a->values + a->n, values, n * sizeof *values);
    for (size_t i = 0; i < n; i++)
        a->segment[a->n + i] = seg;
    a->n += n;
    return 0;
}

int cn_judge_data_add_scored(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                             const char *segment, const double *scores,
                             const uint8_t *labels, size_t n)
{
    if (!d || !metric || (arm != CN_ARM_STABLE && arm != CN_ARM_CANARY) ||
        (n && (!scores || !labels)))
        return CN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(scores[i]))
            return CN_ENONFINITE;
        if (labels[i] > 1)
            return CN_EINVAL;
    }
    cn__judge_arm_t *a = &metric_for_add(d, metric)->arm[arm];
    if (!a->label) {
        if (a->n)
            return CN_EINVAL; /* plain values already */
        a->label = cn_xmallocarray(a->cap ? a->cap : 1, sizeof *a->label);
    }
    uint32_t seg = segment_id(d, segment);
    arm_reserve(a, n);
    memcpy(a->values + a->n, scores, n * sizeof *scores);
    memcpy(a->label + a->n, labels, n * sizeof *labels);
    for (size_t i = 0; i < n; i++)
        a->segment[a->n + i] = seg;
    a->n += n;
    return 0;
}

bool cn__judge_arm_scored(const cn__judge_arm_t *a, uint32_t segment, double **pos,
                          size_t *n_pos, double **neg, size_t *n_neg)
{
    *pos = cn_xmallocarray(a->n ? a->n : 1, sizeof **pos);
    *neg = cn_xmallocarray(a->n ? a->n : 1, sizeof **neg);
    *n_pos = *n_neg = 0;
    if (!a->label)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (segment != UINT32_MAX && a->segment[i] != segment)
            continue;
        if (a->label[i])
            (*pos)[(*n_pos)++] = a->values[i];
        else
            (*neg)[(*n_neg)++] = a->values[i];
    }
    return true;
}

int cn_judge_data_add(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                      const char *segment, double value)
{
    return cn_judge_data_add_many(d, metric, arm, segment, &value, 1);
}

int cn_judge_data_add_counts(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                             const char *segment, uint64_t successes, uint64_t trials)
{
    if (!d || !metric || (arm != CN_ARM_STABLE && arm != CN_ARM_CANARY))
        return CN_EINVAL;
    if (successes > trials)
        return CN_EINVAL;
    cn__judge_arm_t *a = &metric_for_add(d, metric)->arm[arm];
    uint32_t seg = segment_id(d, segment);
    size_t i = 0;
    while (i < a->n_counts && a->counts[i].segment != seg)
        i++;
    if (i == a->n_counts) {
        if (a->n_counts == a->cap_counts) {
            a->cap_counts = a->cap_counts ? 2 * a->cap_counts : 4;
            a->counts = cn_xrealloc(a->counts, a->cap_counts * sizeof *a->counts);
        }
        a->counts[a->n_counts++] = (cn__judge_count_t){seg, 0, 0};
    }
    cn__judge_count_t *c = &a->counts[i];
    /* Sums past 2^53 would no longer be exact in the tests' doubles. */
    if (trials > (UINT64_C(1) << 53) - c->trials)
        return CN_ETOOBIG;
    c->successes += successes;
    c->trials += trials;
    return 0;
}

int cn_judge_data_add_bins(cn_judge_data_t *d, const char *metric, cn_judge_arm_t arm,
                           const char *segment, const double *bounds, double lowest,
                           const uint64_t *counts, size_t n_bins)
{
    if (!d || !metric || (arm != CN_ARM_STABLE && arm != CN_ARM_CANARY) ||
        n_bins == 0 || !counts || (n_bins > 1 && !bounds))
        return CN_EINVAL;
    if (isnan(lowest) || lowest == INFINITY)
        return CN_ENONFINITE;
    for (size_t i = 0; i + 1 < n_bins; i++) {
        if (!isfinite(bounds[i]))
            return CN_ENONFINITE;
        if (bounds[i] <= (i ? bounds[i - 1] : lowest))
            return CN_EINVAL;
    }
    cn__judge_metric_data_t *m = metric_for_add(d, metric);
    if (m->n_bins) {
        /* one set of edges per metric: the bins of both arms must line up */
        if (m->n_bins != n_bins || m->bin_lowest != lowest ||
            (n_bins > 1 &&
             memcmp(m->bin_bounds, bounds, (n_bins - 1) * sizeof *bounds) != 0))
            return CN_EINVAL;
    } else {
        m->n_bins = n_bins;
        m->bin_lowest = lowest;
        m->bin_bounds = cn_xmallocarray(n_bins, sizeof *m->bin_bounds);
        if (n_bins > 1)
            memcpy(m->bin_bounds, bounds, (n_bins - 1) * sizeof *bounds);
    }
    cn__judge_arm_t *a = &m->arm[arm];
    uint32_t seg = segment_id(d, segment);
    size_t i = 0;
    while (i < a->n_bin_sets && a->bins[i].segment != seg)
        i++;
    if (i == a->n_bin_sets) {
        if (a->n_bin_sets == a->cap_bin_sets) {
            a->cap_bin_sets = a->cap_bin_sets ? 2 * a->cap_bin_sets : 4;
            a->bins = cn_xrealloc(a->bins, a->cap_bin_sets * sizeof *a->bins);
        }
        a->bins[a->n_bin_sets++] =
            (cn__judge_bins_t){seg, cn_xcalloc(n_bins, sizeof(uint64_t))};
    }
    uint64_t *into = a->bins[i].counts;
    for (size_t b = 0; b < n_bins; b++)
        if (counts[b] > (UINT64_C(1) << 53) - into[b])
            return CN_ETOOBIG;
    for (size_t b = 0; b < n_bins; b++)
        into[b] += counts[b];
    return 0;
}

size_t cn__judge_arm_bins(const cn__judge_arm_t *a, uint32_t segment, size_t n_bins,
                          uint64_t *out)
{
    size_t matched = 0;
    memset(out, 0, n_bins * sizeof *out);
    for (size_t i = 0; i < a->n_bin_sets; i++)
        if (segment == UINT32_MAX || a->bins[i].segment == segment) {
            for (size_t b = 0; b < n_bins; b++)
                out[b] += a->bins[i].counts[b];
            matched++;
        }
    return matched;
}

int cn_judge_data_add_pairs(cn_judge_data_t *d, const char *metric,
                            const double *stable, const double *canary, size_t n)
{
    if (!d || !metric || (n && (!stable || !canary)))
        return CN_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(stable[i]) || !isfinite(canary[i]))
            return CN_ENONFINITE;
    cn__judge_metric_data_t *m = metric_for_add(d, metric);
    if (n > SIZE_MAX / 2 / sizeof(double) - m->n_pairs)
        return CN_ETOOBIG;
    if (m->n_pairs + n > m->cap_pairs) {
        size_t cap = m->cap_pairs ? m->cap_pairs : 64;
        while (cap < m->n_pairs + n)
            cap *= 2;
        m->pair_s = cn_xrealloc(m->pair_s, cap * sizeof *m->pair_s);
        m->pair_c = cn_xrealloc(m->pair_c, cap * sizeof *m->pair_c);
        m->cap_pairs = cap;
    }
    if (n) {
        memcpy(m->pair_s + m->n_pairs, stable, n * sizeof *stable);
        memcpy(m->pair_c + m->n_pairs, canary, n * sizeof *canary);
    }
    m->n_pairs += n;
    return 0;
}

int cn_judge_data_set_requests(cn_judge_data_t *d, cn_judge_arm_t arm,
                               const char *segment, uint64_t requests)
{
    if (!d || (arm != CN_ARM_STABLE && arm != CN_ARM_CANARY) || requests == UINT64_MAX)
        return CN_EINVAL;
    uint32_t seg = segment_id(d, segment);
    if (seg >= d->cap_requests[arm]) {
        size_t cap = d->cap_requests[arm] ? d->cap_requests[arm] : 8;
        while (cap <= seg)
            cap *= 2;
        d->requests[arm] =
            cn_xrealloc(d->requests[arm], cap * sizeof *d->requests[arm]);
        for (size_t i = d->cap_requests[arm]; i < cap; i++)
            d->requests[arm][i] = UINT64_MAX;
        d->cap_requests[arm] = cap;
    }
    d->requests[arm][seg] = requests;
    d->has_requests[arm] = 1;
    return 0;
}

int cn__judge_data_requests(const cn_judge_data_t *d, cn_judge_arm_t arm, uint32_t seg,
                            uint64_t *requests)
{
    if (!d->has_requests[arm] || seg >= d->cap_requests[arm] ||
        d->requests[arm][seg] == UINT64_MAX)
        return 0;
    *requests = d->requests[arm][seg];
    return 1;
}

int cn__judge_data_has_requests(const cn_judge_data_t *d, cn_judge_arm_t arm)
{
    return d->has_requests[arm];
}

size_t cn__judge_arm_counts(const cn__judge_arm_t *a, uint32_t segment,
                            uint64_t *successes, uint64_t *trials)
{
    size_t matched = 0;
    *successes = *trials = 0;
    for (size_t i = 0; i < a->n_counts; i++)
        if (segment == UINT32_MAX || a->counts[i].segment == segment) {
            *successes += a->counts[i].successes;
            *trials += a->counts[i].trials;
            matched++;
        }
    return matched;
}

const cn__judge_metric_data_t *cn__judge_data_metric(const cn_judge_data_t *d,
                                                     const char *name)
{
    size_t i = find_metric(d, name);
    return i == SIZE_MAX ? NULL : &d->metrics[i];
}

size_t cn__judge_data_n_segments(const cn_judge_data_t *d)
{
    return d->n_segments;
}

const char *cn__judge_data_segment(const cn_judge_data_t *d, uint32_t id)
{
    return (id >= 1 && id <= d->n_segments) ? d->segments[id - 1] : NULL;
}

double *cn__judge_arm_values(const cn__judge_arm_t *a, uint32_t segment, size_t *n_out)
{
    double *v = cn_xmallocarray(a->n ? a->n : 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < a->n; i++)
        if (segment == UINT32_MAX || a->segment[i] == segment)
            v[k++] = a->values[i];
    *n_out = k;
    return v;
}
