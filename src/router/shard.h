/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A worker's measurement shard: everything one worker thread records about
 * the requests it proxies, per version (role) and segment, plus the map
 * from request id to version for joining late labels, and the sample of
 * shadow prediction pairs.
 *
 * One writer: the owning worker. Readers never touch a live shard; they
 * ask the worker (through the router's cross-thread call) to copy it into
 * a cn_router_shard_part_t, and merge the parts of every worker into a
 * snapshot with cn_router_shard_merge. So nothing here is atomic or locked.
 *
 * Steps: the router numbers measurement steps (a new one on every traffic
 * change). A shard resets its per-step data lazily, the first time it sees
 * a new step number; a request decided in an older step is recorded in the
 * cumulative counters only, so a step never mixes two traffic configs.
 */
#ifndef CN_ROUTER_SHARD_H
#define CN_ROUTER_SHARD_H

#include "metrics/metrics.h"
#include "router/router.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_ROUTER_SEGMENT_MAX_LEN 64    /* longer labels are truncated */
#define CN_ROUTER_REQUEST_ID_MAX_LEN 63 /* longer ids are not remembered */
#define CN_ROUTER_SEGMENT_OTHER "_other"

typedef struct cn_router_shard_params_s {
    unsigned max_segments;
    size_t reservoir_size;
    size_t request_id_map_size;
    const double *prediction_bounds;
    size_t n_prediction_bounds;
    uint64_t seed;
} cn_router_shard_params_t;

/* What one finished attempt of one version produced. */
typedef struct cn_router_obs_s {
    cn_role_t role;
    bool shadow;      /* a shadow copy (canary only) */
    unsigned status;  /* HTTP status the version answered (or the 502/504
                         the router answered for it); 0: none */
    int failure;      /* -1, or a cn_router_failure_t */
    bool retried;     /* a canary failure answered by stable */
    bool has_latency; /* latency_us is meaningful */
    uint64_t latency_us;
    uint64_t request_bytes, response_bytes;
    int prediction; /* -1: not attempted, else a cn_router_pred_t */
    double prediction_value;
    uint64_t step; /* the step the request was decided in */
} cn_router_obs_t;

typedef struct cn_router_shard_cell_s cn_router_shard_cell_t;

typedef struct cn_router_shard_s {
    /* private */
    cn_router_shard_params_t params;
    uint64_t step;
    char **segments; /* interned labels; [0] is "" */
    size_t nsegments;
    cn_router_shard_cell_t **cells; /* [segment * 2 + role], lazily made */
    /* request id map: ring of entries plus chained hash index */
    struct cn_router_idmap_entry_s *ids;
    int32_t *id_buckets;
    size_t id_mask, id_next, id_count;
    /* shadow pairs sample (Algorithm R) */
    cn_router_pair_t *pairs;
    size_t npairs;
    uint64_t pairs_seen;
    uint64_t rng;
} cn_router_shard_t;

/* A copy of one shard, for merging: cells in the public snapshot form. */
typedef struct cn_router_shard_part_s {
    cn_router_cell_t *cells;
    size_t ncells;
    cn_router_pair_t *pairs;
    size_t npairs;
    uint64_t pairs_seen;
} cn_router_shard_part_t;

void cn_router_shard_init(cn_router_shard_t *s, const cn_router_shard_params_t *p);
void cn_router_shard_dispose(cn_router_shard_t *s);

/* Start per-step data afresh if `step` is newer than the shard's. */
void cn_router_shard_sync_step(cn_router_shard_t *s, uint64_t step);

/* The index of a segment label (interned on first sight; labels beyond
 * max_segments map to "_other"; NULL or empty maps to ""). */
unsigned cn_router_shard_segment(cn_router_shard_t *s, const char *label, size_t len);
const char *cn_router_shard_segment_name(const cn_router_shard_t *s, unsigned seg);

/* Record one attempt in (segment, obs->role). */
void cn_router_shard_record(cn_router_shard_t *s, unsigned seg,
                            const cn_router_obs_t *obs);

/* Offer a shadow pair to this step's sample. */
void cn_router_shard_pair(cn_router_shard_t *s, const char *request_id, double stable,
                          double canary, uint64_t step);

/* Remember which version served a request id (ids longer than
 * CN_ROUTER_REQUEST_ID_MAX_LEN are skipped). */
void cn_router_shard_remember(cn_router_shard_t *s, const char *id, size_t len,
                              cn_role_t role, unsigned seg, bool shadowed,
                              double unix_s);

/* Look an id up: true and *out filled (version names not set) if found. */
bool cn_router_shard_find(const cn_router_shard_t *s, const char *id, size_t len,
                          cn_router_lookup_t *out);

/* Deep-copy the shard into *part (owned; free with _part_dispose). */
void cn_router_shard_copy(const cn_router_shard_t *s, cn_router_shard_part_t *part);
void cn_router_shard_part_dispose(cn_router_shard_part_t *part);

/*
 * Merge parts into snap->cells/pairs (which must be empty): counters and
 * histograms add; the per-step samples are combined by proportional
 * allocation (each part contributes in proportion to the values it saw,
 * each drawn uniformly from its sample), so the result is a stratified
 * uniform sample of at most reservoir_size values. Cells are sorted by
 * role, then segment.
 */
void cn_router_shard_merge(cn_router_shard_part_t *parts, size_t nparts,
                           size_t reservoir_size, size_t n_prediction_bounds,
                           uint64_t seed, cn_router_snapshot_t *snap);

/* Free the cells and pairs of a snapshot (not the snapshot itself). */
void cn_router_cells_free(cn_router_cell_t *cells, size_t ncells);

#endif
