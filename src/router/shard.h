/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A worker's measurement shard: everything one worker thread records about
 * the requests it proxies, per version key (a role and a version label)
 * and segment, plus the map from request id to version for joining late
 * labels, and the sample of shadow prediction pairs.
 *
 * Keys. A (role, label) pair is interned into one of CN_ROUTER_SHARD_KEYS
 * slots when a generation that uses it is adopted, and released when the
 * worker no longer holds that generation; a slot nobody holds is reused
 * (oldest first) when all are taken, and its cells go with it (their
 * Prometheus series end). So after a swap, a label's counters never carry
 * another version's history, and memory stays bounded.
 *
 * Segments. Index 0 is "" (no header), 1..n the expected values
 * (measure.segments) in order, and n + 1 "_other", for any other value:
 * a label means the same on every worker and step, and no client can
 * crowd a real value out.
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
 *
 * Addresses: per role and address index of the generation (the order of
 * its sets), the step's requests, errors and latency histogram. A slot is
 * allocated the first time its (role, index) sees an attempt, at most once
 * for the shard's life (no allocation per request), and zeroed, not freed,
 * when a step starts. The slots count one generation's indices: the one
 * of the step's first attempt with an address; an attempt of a newer
 * generation in the same step (a publication between a request's reading
 * the step and the generation) zeroes them for its own, and one of an
 * older generation is not counted.
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
/* Bytes per remembered request id (the entry and its share of the hash
 * buckets, two per entry), for the memory budget; shard.c checks it. */
#define CN_ROUTER_ID_ENTRY_BYTES 128
#define CN_ROUTER_SEGMENT_OTHER "_other"

/* Addresses per role measured one by one (CN_ROUTER_SNAP_ADDRESSES): the
 * first this many of each set. A slot is a 35 KiB histogram, and the
 * memory budget counts every slot a worker may make: 256 per role would
 * add 17.5 MiB per worker (over 1 GiB on 64 CPUs) for what only a parity
 * check reads; 32 per role is 2.2 MiB. An address past them is in its
 * arm's cells but has no entry of its own. */
#define CN_ROUTER_ADDRESS_SLOTS 32u

/* Version keys per shard (see Keys above). */
#define CN_ROUTER_SHARD_KEYS 16u

typedef struct cn_router_shard_params_s {
    const char *const *segments; /* expected segment values (copied), or
                                    NULL */
    size_t nsegments;
    unsigned max_segments; /* unused: the list's length bounds the table */
    size_t reservoir_size;
    size_t request_id_map_size;
    const double *prediction_bounds;
    size_t n_prediction_bounds;
    uint64_t seed;
} cn_router_shard_params_t;

/* What one finished attempt of one version produced. */
typedef struct cn_router_obs_s {
    cn_role_t role;
    unsigned key;     /* the version key (cn_router_shard_key) */
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
    uint64_t step;       /* the step the request was decided in */
    uint64_t generation; /* the generation it was decided with; 0: none
                            (then not counted per address) */
    int address;         /* the index, in the role's set of that
                            generation, of the address the attempt went
                            to; -1: none (no usable address) */
} cn_router_obs_t;

/* One address's step data (see Addresses above). */
typedef struct cn_router_shard_addr_s {
    uint64_t requests, errors;
    cn_metrics_hist_t latency;
} cn_router_shard_addr_t;

typedef struct cn_router_shard_cell_s cn_router_shard_cell_t;

typedef struct cn_router_shard_key_s {
    cn_role_t role;
    char *version;  /* owned; NULL: a free slot */
    unsigned users; /* holders (cn_router_shard_key / _key_release) */
    uint32_t epoch; /* bumped when the slot is reused */
    uint64_t born;  /* interning order, for reuse */
} cn_router_shard_key_t;

typedef struct cn_router_shard_s {
    /* private */
    cn_router_shard_params_t params;
    uint64_t step;
    char **segments;            /* labels; [0] is "" */
    size_t nsegments, max_segs; /* both: the expected values + 2 */
    cn_router_shard_key_t keys[CN_ROUTER_SHARD_KEYS];
    uint64_t keys_born;
    cn_router_shard_cell_t **cells; /* [segment * KEYS + key], lazily made */
    /* request id map: ring of entries plus chained hash index */
    struct cn_router_idmap_entry_s *ids;
    int32_t *id_buckets;
    size_t id_mask, id_next, id_count;
    /* shadow pairs sample (Algorithm R) */
    cn_router_pair_t *pairs;
    size_t npairs;
    uint64_t pairs_seen;
    uint64_t rng;
    /* per address: [role][index], made on first use; the generation their
     * indices are of (0: none this step); per role, 1 + the highest index
     * counted this step (what a reset or a copy visits) */
    cn_router_shard_addr_t *addrs[CN_ROLE_COUNT][CN_ROUTER_ADDRESS_SLOTS];
    uint64_t addrs_generation;
    size_t addrs_used[CN_ROLE_COUNT];
} cn_router_shard_t;

/* A copy of one shard, for merging: cells in the public snapshot form,
 * holding only what the mask asked for. The cells' labels are borrowed
 * (from the part's own copies and the shard's segment table, which lives
 * as long as the shard). */
typedef struct cn_router_shard_part_s {
    unsigned what;
    cn_router_cell_t *cells;
    size_t ncells;
    char *versions[CN_ROUTER_SHARD_KEYS]; /* owned copies of the key labels */
    cn_router_code_count_t *codes;        /* every cell's codes, one array */
    cn_router_pair_t *pairs;
    size_t npairs;
    uint64_t pairs_seen;
    /* ADDRESSES: the step's per-address data of generation
     * addrs_generation (0: none), naddrs[role] entries per role by index
     * (address NULL; latency NULL where the slot saw nothing) */
    uint64_t addrs_generation;
    cn_router_address_stat_t *addrs[CN_ROLE_COUNT];
    size_t naddrs[CN_ROLE_COUNT];
} cn_router_shard_part_t;

/*
 * Memory bounds, for the config's budget. A cell (counters, status codes,
 * the cumulative latency histogram) is made on the first request of its
 * (key, segment) and lives as long as its key slot: at most
 * CN_ROUTER_SHARD_KEYS x (segments + 2) of them per shard, of at most
 * cn_router_shard_cell_bytes() each. Its step data (the step's histogram
 * and two reservoirs) exists only for the keys of the current step, two:
 * at most 2 x (segments + 2) of cn_router_shard_step_bytes() each.
 */
size_t cn_router_shard_cell_bytes(size_t n_prediction_bounds);
size_t cn_router_shard_step_bytes(size_t reservoir_size);
/* The per-address data at most: a slot per role and index that some step
 * counted, CN_ROLE_COUNT x CN_ROUTER_ADDRESS_SLOTS of these bytes. */
size_t cn_router_shard_address_bytes(void);

void cn_router_shard_init(cn_router_shard_t *s, const cn_router_shard_params_t *p);
void cn_router_shard_dispose(cn_router_shard_t *s);

/* Start per-step data afresh if `step` is newer than the shard's. */
void cn_router_shard_sync_step(cn_router_shard_t *s, uint64_t step);

/* The index of a segment label: its place among the expected values,
 * else "_other"; NULL or empty is "" (index 0). */
unsigned cn_router_shard_segment(cn_router_shard_t *s, const char *label, size_t len);
const char *cn_router_shard_segment_name(const cn_router_shard_t *s, unsigned seg);

/*
 * The key of (role, version): an existing slot, or a free one, or the
 * oldest slot nobody holds (its cells are dropped). Counts one holder.
 * Returns the index, or -1 if all CN_ROUTER_SHARD_KEYS slots are held
 * (nothing is then recorded for it).
 */
int cn_router_shard_key(cn_router_shard_t *s, cn_role_t role, const char *version);
/* Drop one holder of key k. */
void cn_router_shard_key_release(cn_router_shard_t *s, unsigned k);

/* Record one attempt in (segment, obs->key); obs->role must be the key's. */
void cn_router_shard_record(cn_router_shard_t *s, unsigned seg,
                            const cn_router_obs_t *obs);

/* Offer a shadow pair to this step's sample. */
void cn_router_shard_pair(cn_router_shard_t *s, const char *request_id, double stable,
                          double canary, uint64_t step);

/* Remember which version (key) served a request id (ids longer than
 * CN_ROUTER_REQUEST_ID_MAX_LEN are skipped). */
void cn_router_shard_remember(cn_router_shard_t *s, const char *id, size_t len,
                              unsigned key, unsigned seg, bool shadowed, double unix_s,
                              double prediction, uint64_t step);

/* Look an id up: true and *out filled if found (version "" if its key
 * has been reused since). */
bool cn_router_shard_find(const cn_router_shard_t *s, const char *id, size_t len,
                          cn_router_lookup_t *out);

/* Look an id up for a feedback join: as _find (out->fed is the metrics
 * joined before this call), then add `mark` to the entry's joined metrics
 * unless it was served before not_before (Unix seconds: expired). */
bool cn_router_shard_join(cn_router_shard_t *s, const char *id, size_t len,
                          uint32_t mark, double not_before, cn_router_lookup_t *out);

/* When the oldest remembered request was served (Unix seconds), NAN if
 * none: how far back feedback can still be joined. */
double cn_router_shard_oldest_id(const cn_router_shard_t *s);

/*
 * Copy what `what` (CN_ROUTER_SNAP_*) asks for into *part (free with
 * _part_dispose). Without HISTOGRAMS and SAMPLES this is O(cells) with
 * small constants: the counters, the codes seen and the prediction
 * buckets of each cell, no histogram, no reservoir.
 */
void cn_router_shard_copy(const cn_router_shard_t *s, unsigned what,
                          cn_router_shard_part_t *part);
void cn_router_shard_part_dispose(cn_router_shard_part_t *part);

/*
 * Merge parts into snap->cells/pairs (which must be empty): counters and
 * histograms add; the per-step samples are combined by proportional
 * allocation (each part contributes in proportion to the values it saw,
 * each drawn uniformly from its sample), so the result is a stratified
 * uniform sample of at most reservoir_size values. Cells are sorted by
 * role, version, then segment, and own their labels.
 */
void cn_router_shard_merge(cn_router_shard_part_t *parts, size_t nparts,
                           size_t reservoir_size, size_t n_prediction_bounds,
                           uint64_t seed, cn_router_snapshot_t *snap);

/*
 * Merge the parts' per-address data into snap->addresses (which must be
 * empty): one entry per address of g, stable's set then canary's, each in
 * g's order, adding the parts whose data is of generation g->number (a
 * part of another generation counted other indices: left out). Every
 * entry owns its address and a latency histogram (empty if nothing).
 */
void cn_router_shard_merge_addresses(const cn_router_shard_part_t *parts, size_t nparts,
                                     const cn_generation_t *g,
                                     cn_router_snapshot_t *snap);

/* Free the cells and pairs of a snapshot (not the snapshot itself). */
void cn_router_cells_free(cn_router_cell_t *cells, size_t ncells);

/* Free a snapshot's per-address entries. */
void cn_router_addresses_free(cn_router_address_stat_t *a, size_t n);

#endif
