/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Private to src/judge/: read access to cn_judge_data_t for judge.c.
 * Segment ids: 0 means "no segment label"; 1..n_segments index the
 * interned labels.
 */
#ifndef CN_JUDGE_DATA_INTERNAL_H
#define CN_JUDGE_DATA_INTERNAL_H

#include "judge/judge.h"

#include <stdbool.h>

/* Counts given whole (cn_judge_data_add_counts), summed per segment id. */
typedef struct {
    uint32_t segment;
    uint64_t successes, trials;
} cn__judge_count_t;

/* Binned counts (cn_judge_data_add_bins) of one segment id: k counts. */
typedef struct {
    uint32_t segment;
    uint64_t *counts; /* the metric's n_bins; owned */
} cn__judge_bins_t;

typedef struct {
    double *values;
    uint32_t *segment; /* segment id of each value */
    uint8_t *label;    /* scored values (cn_judge_data_add_scored): the 0/1
                          label of each; NULL: plain values */
    size_t n, cap;
    cn__judge_count_t *counts; /* one entry per segment id that has counts */
    size_t n_counts, cap_counts;
    cn__judge_bins_t *bins; /* one entry per segment id that has bins */
    size_t n_bin_sets, cap_bin_sets;
} cn__judge_arm_t;

typedef struct {
    char *name;
    cn__judge_arm_t arm[2]; /* indexed by cn_judge_arm_t */
    /* pairs (cn_judge_data_add_pairs): pair i is (pair_s[i], pair_c[i]) */
    double *pair_s, *pair_c;
    size_t n_pairs, cap_pairs;
    /* bins (cn_judge_data_add_bins): the same n_bins for every arm and
     * segment; bin_bounds has n_bins - 1 entries, bin 0 from bin_lowest */
    double *bin_bounds;
    double bin_lowest;
    size_t n_bins;
} cn__judge_metric_data_t;

/* The metric's samples, or NULL if the data has none under that name. */
const cn__judge_metric_data_t *cn__judge_data_metric(const cn_judge_data_t *d,
                                                     const char *name);

/* Number of distinct segment labels, and the label of id 1..n. */
size_t cn__judge_data_n_segments(const cn_judge_data_t *d);
const char *cn__judge_data_segment(const cn_judge_data_t *d, uint32_t id);

/*
 * Copy the values of one arm, all of them (segment == UINT32_MAX) or only
 * those of one segment id, into a fresh array (caller frees; never NULL).
 */
double *cn__judge_arm_values(const cn__judge_arm_t *a, uint32_t segment, size_t *n_out);

/*
 * The scored values of one arm, all segments (UINT32_MAX) or one, split by
 * label into fresh arrays (caller frees both; never NULL). Returns false
 * when the arm's values carry no labels (both arrays empty then).
 */
bool cn__judge_arm_scored(const cn__judge_arm_t *a, uint32_t segment, double **pos,
                          size_t *n_pos, double **neg, size_t *n_neg);

/* Whether cn_judge_data_set_requests was given for the arm, and the
 * request count of one of its segment ids (0: no label); returns 0 when
 * that segment has none. */
int cn__judge_data_has_requests(const cn_judge_data_t *d, cn_judge_arm_t arm);
int cn__judge_data_requests(const cn_judge_data_t *d, cn_judge_arm_t arm, uint32_t seg,
                            uint64_t *requests);

/*
 * The counts of one arm given whole, summed over all segments
 * (segment == UINT32_MAX) or for one segment id. Returns the number of
 * count entries that matched (0: the arm has no counts there).
 */
size_t cn__judge_arm_counts(const cn__judge_arm_t *a, uint32_t segment,
                            uint64_t *successes, uint64_t *trials);

/*
 * The binned counts of one arm, summed over all segments (UINT32_MAX) or
 * for one segment id, into out[0..n_bins) (zeroed first). Returns the
 * number of bin sets that matched (0: none there).
 */
size_t cn__judge_arm_bins(const cn__judge_arm_t *a, uint32_t segment, size_t n_bins,
                          uint64_t *out);

#endif
