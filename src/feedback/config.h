/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The feedback module's keys in the serve config (`serve.feedback`): which
 * metrics arrive after the response (POST /v1/feedback) and of what kind,
 * how long a request can still be joined, the class threshold for labels.
 * The composition root reads this table next to the router's, the admin
 * API's and the store's under `serve:`.
 *
 *     feedback:
 *       ttl: 1h
 *       metrics:
 *         clicked: proportion   # 0/1 per request: judged as a rate
 *         revenue: mean         # any finite number: judged by its samples
 *         label: label          # the true class (0/1) of a binary model
 *
 * A `label` metric compares the true class with the prediction the router
 * recorded for the request and yields four judge metrics: accuracy (a
 * rate), log_loss and brier (per-request losses), auc (scores against
 * labels). At most one metric is a label.
 */
#ifndef CN_FEEDBACK_CONFIG_H
#define CN_FEEDBACK_CONFIG_H

#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fed metrics per config: one bit each in the router's request-id map. */
#define CN_FEEDBACK_METRICS_MAX 32

typedef enum cn_feedback_kind_e {
    CN_FEEDBACK_PROPORTION = 0, /* 0 or 1 (or false / true) */
    CN_FEEDBACK_MEAN = 1,       /* a finite number */
    CN_FEEDBACK_LABEL = 2,      /* the true class, 0 or 1 */
} cn_feedback_kind_t;

typedef struct cn_feedback_metric_s {
    char *name; /* owned */
    int kind;   /* cn_feedback_kind_t */
} cn_feedback_metric_t;

typedef struct cn_feedback_config_s {
    uint32_t ttl_ms;    /* feedback for a request older than this: expired */
    double threshold;   /* label metrics: a prediction >= this is class 1 */
    uint32_t max_lines; /* lines per POST /v1/feedback */
    cn_feedback_metric_t *metrics;
    size_t n_metrics;
} cn_feedback_config_t;

/* The table (util/config.h): `feedback.ttl`, `feedback.threshold`,
 * `feedback.max_lines`, `feedback.metrics`. Static. */
const cn_config_table_t *cn_feedback_config_table(void);

/* The judge metrics a label metric yields, in this order. */
#define CN_FEEDBACK_DERIVED 4
extern const char *const cn_feedback_derived[CN_FEEDBACK_DERIVED];

/*
 * What the fed metrics give the judge under `name`: true if name is a fed
 * metric or one a label metric yields; *kind is the fed metric's kind
 * (CN_FEEDBACK_LABEL for the derived ones) and *derived (may be NULL) the
 * index in cn_feedback_derived, or -1. cfg may be NULL (nothing is fed).
 */
bool cn_feedback_config_provides(const cn_feedback_config_t *cfg, const char *name,
                                 int *kind, int *derived);

/* The index of the fed metric called name (len bytes), or -1. */
int cn_feedback_config_index(const cn_feedback_config_t *cfg, const char *name,
                             size_t len);

#endif
