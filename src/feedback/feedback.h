/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Delayed feedback: the business and quality metrics that arrive after the
 * response (a click, a conversion, the true label), joined through the
 * router's request-id map to the version and segment that served the
 * request, kept per measurement step, and handed to the judge like the
 * router's own measurements.
 *
 *  - cn_feedback_parse reads a POST /v1/feedback body (one JSON object,
 *    or JSON Lines) into items, with one error per bad line; pure.
 *  - The join itself is the router's (cn_router_join): it says what served
 *    each request, when, and which metrics were joined to it before, so
 *    that no value is counted twice.
 *  - cn_feedback_record keeps a joined item's new values in the cell of
 *    its step, version and segment: counts and sums whole, the values (and
 *    for a label, prediction-label pairs) in a uniform reservoir.
 *  - cn_feedback_add_to_judge gives one step's cells to the judge: a
 *    proportion as counts, a mean as its samples, a label as accuracy
 *    (counts), log_loss and brier (per-request losses) and auc (scores
 *    with labels).
 *
 * Thread-safe: the admin API records from its work threads while the
 * controller's analysis reads from its own (one mutex; neither is on the
 * data plane's hot path).
 */
#ifndef CN_FEEDBACK_FEEDBACK_H
#define CN_FEEDBACK_FEEDBACK_H

#include "feedback/config.h"
#include "judge/judge.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------- parsing */

#define CN_FEEDBACK_ID_MAX 63 /* the router remembers ids up to this long */

typedef struct cn_feedback_item_s {
    char id[CN_FEEDBACK_ID_MAX + 1];
    size_t id_len;
    size_t line;   /* 1-based line of the body */
    uint32_t mask; /* bit i: values[i] was given (config order) */
    double values[CN_FEEDBACK_METRICS_MAX];
} cn_feedback_item_t;

typedef struct cn_feedback_line_error_s {
    size_t line;
    char message[200];
} cn_feedback_line_error_t;

typedef struct cn_feedback_batch_s {
    cn_feedback_item_t *items; /* the valid lines, in order */
    size_t n_items;
    cn_feedback_line_error_t *errors; /* the invalid ones, in order */
    size_t n_errors;
    size_t lines; /* non-blank lines read */
} cn_feedback_batch_t;

/*
 * Parse a body: one JSON object, or JSON Lines (one object per line; blank
 * lines are skipped), each {"request_id": "...", "metrics": {NAME: VALUE,
 * ...}} with every NAME a fed metric and each VALUE of its kind. A bad
 * line becomes an error ("line 3: metrics.clicked: must be 0 or 1, got
 * 2") and the others are still read. Returns 0 (items and errors in out,
 * dispose it), or CN_EINVAL (no line at all) / CN_ETOOBIG (more than
 * cfg->max_lines lines) with one line in err and nothing in out.
 */
int cn_feedback_parse(const cn_feedback_config_t *cfg, const char *body, size_t len,
                      cn_feedback_batch_t *out, char *err, size_t errlen);
void cn_feedback_batch_dispose(cn_feedback_batch_t *b);

/* ------------------------------------------------------- the store */

typedef struct cn_feedback_s cn_feedback_t;

/* What served a request (from cn_router_join). */
typedef struct cn_feedback_served_s {
    cn_role_t role;
    const char *version; /* label */
    const char *segment; /* "" when none */
    uint64_t step;       /* the measurement step it was decided in */
    double prediction;   /* NAN: none recorded */
} cn_feedback_served_t;

/* Outcomes of a fed item, as counted in /metrics. */
typedef enum cn_feedback_outcome_e {
    CN_FEEDBACK_ACCEPTED = 0,  /* joined; at least one new value kept */
    CN_FEEDBACK_UNKNOWN = 1,   /* no remembered request has that id */
    CN_FEEDBACK_EXPIRED = 2,   /* served longer ago than the ttl */
    CN_FEEDBACK_DUPLICATE = 3, /* every value it brings was joined before */
    CN_FEEDBACK_INVALID = 4,   /* a line that did not parse */
} cn_feedback_outcome_t;
#define CN_FEEDBACK_OUTCOMES 5

/* The outcome's name in /metrics and in answers ("accepted", ...). */
const char *cn_feedback_outcome_name(cn_feedback_outcome_t o);

/* Steps kept: feedback for an older step is counted, then dropped (late). */
#define CN_FEEDBACK_STEPS 4

/* A new store over cfg (borrowed: it must outlive the store), keeping up
 * to `reservoir` values per cell and metric (the router's
 * measure.reservoir_size), drawn with seed. */
cn_feedback_t *cn_feedback_new(const cn_feedback_config_t *cfg, size_t reservoir,
                               uint64_t seed);
void cn_feedback_free(cn_feedback_t *fb);
const cn_feedback_config_t *cn_feedback_config(const cn_feedback_t *fb);

/* Keep the values of item whose bits are in `fresh` (the ones not joined
 * before) in the cell of s. */
void cn_feedback_record(cn_feedback_t *fb, const cn_feedback_served_t *s,
                        const cn_feedback_item_t *item, uint32_t fresh);

/* Add n to an outcome's count. */
void cn_feedback_count(cn_feedback_t *fb, cn_feedback_outcome_t o, uint64_t n);

typedef struct cn_feedback_counters_s {
    uint64_t items[CN_FEEDBACK_OUTCOMES];
    uint64_t values_duplicate;     /* values dropped from accepted items: joined
                                      before */
    uint64_t labels_unscored;      /* labels for requests with no prediction */
    uint64_t late;                 /* values for a step no longer kept */
    double oldest_joinable_unix_s; /* the last join's oldest remembered
                                      request; NAN: none yet */
} cn_feedback_counters_t;

void cn_feedback_counters(cn_feedback_t *fb, cn_feedback_counters_t *out);
void cn_feedback_note_oldest(cn_feedback_t *fb, double unix_s);

/*
 * Add step's fed values to data, for the versions labels[CN_ROLE_STABLE]
 * and labels[CN_ROLE_CANARY] (a cell of a version no longer in its role is
 * left out), for the judge metrics cfg names (by name or source):
 *  - proportion NAME: counts (cn_judge_data_add_counts);
 *  - mean NAME: its reservoir (cn_judge_data_add_many);
 *  - a label's accuracy: counts of correct classes among scored labels;
 *    log_loss and brier: the per-request losses of the pairs kept (log
 *    loss with the prediction clipped to [1e-15, 1 - 1e-15], as
 *    scikit-learn); auc: the pairs as scores with labels.
 * Returns 0 or the judge's error code.
 */
int cn_feedback_add_to_judge(cn_feedback_t *fb, uint64_t step,
                             const char *const labels[CN_ROLE_COUNT],
                             const cn_judge_config_t *cfg, cn_judge_data_t *data);

/* ----------------------------------------------------- the summary */

/* One estimate with its 95% interval; n 0 and NANs when there is none. */
typedef struct cn_feedback_estimate_s {
    uint64_t n;
    double value, low, high;
} cn_feedback_estimate_t;

typedef struct cn_feedback_cell_summary_s {
    cn_role_t role;
    char version[64];
    char segment[128];
    /* per fed metric (config order): a proportion's rate (Wilson
     * interval), a mean's mean (t interval); for the label metric its
     * count of labels, with label[] below */
    cn_feedback_estimate_t metric[CN_FEEDBACK_METRICS_MAX];
    /* the label metric's accuracy (Wilson), log_loss and brier (means, t
     * intervals), auc (DeLong) */
    cn_feedback_estimate_t label[CN_FEEDBACK_DERIVED];
} cn_feedback_cell_summary_t;

/*
 * The cells of the newest step with feedback (or of `step`, if not 0),
 * sorted by role, version and segment; *n cells in a fresh array (caller
 * frees), *step_out the step. NULL with *n 0 when there is none.
 */
cn_feedback_cell_summary_t *cn_feedback_summary(cn_feedback_t *fb, uint64_t step,
                                                size_t *n, uint64_t *step_out);

#endif
