/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The data plane: N worker threads, each with its own libuv loop and its
 * own SO_REUSEPORT listener, proxying HTTP/1.1 requests to the stable or the
 * canary upstreams as the published generation decides, and measuring
 * every request into the worker's own shard (no lock on the hot path).
 *
 * Control from other threads (the control loop, the admin API) goes
 * through this header:
 *  - cn_router_publish replaces the generation (the traffic split and both
 *    version sets, as one immutable whole) and starts a new measurement
 *    step;
 *  - cn_router_current reads the generation and the step;
 *  - cn_router_snapshot asks every worker (through a uv_async) to copy what
 *    the caller asks for (a mask) from its shard, and merges the copies;
 *  - cn_router_lookup finds the version and segment that served a request
 *    id, for joining late labels.
 *
 * Measurements are kept twice: cumulative since start (for Prometheus
 * counters, which must never go down) and per step (for the judge; reset
 * whenever the generation changes, so a look compares canary and stable
 * over the same period with the same split and the same versions). Cells
 * are keyed by (role, version label, segment): after a swap, a version's
 * counters never carry another version's history.
 */
#ifndef CN_ROUTER_ROUTER_H
#define CN_ROUTER_ROUTER_H

#include "metrics/metrics.h"
#include "router/config.h"
#include "router/split.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cn_router_s cn_router_t;

/* Why a request got no usable upstream response. */
typedef enum cn_router_failure_e {
    CN_ROUTER_FAIL_CONNECT = 0,      /* refused, unreachable, connect timeout */
    CN_ROUTER_FAIL_RESET = 1,        /* reset or closed before a whole response */
    CN_ROUTER_FAIL_TIMEOUT = 2,      /* no response within upstream_timeout */
    CN_ROUTER_FAIL_BAD_RESPONSE = 3, /* unparseable or over the limits */
    CN_ROUTER_FAIL_UNAVAILABLE = 4,  /* no healthy address to try */
} cn_router_failure_t;
#define CN_ROUTER_FAIL_COUNT 5

/* Prediction extraction outcomes: 0 ok, then the extract error kinds. */
typedef enum cn_router_pred_e {
    CN_ROUTER_PRED_OK = 0,
    CN_ROUTER_PRED_NOT_JSON = 1,
    CN_ROUTER_PRED_MISSING = 2,
    CN_ROUTER_PRED_NOT_NUMBER = 3,
    CN_ROUTER_PRED_NON_FINITE = 4,
    CN_ROUTER_PRED_TOO_BIG = 5,
} cn_router_pred_t;
#define CN_ROUTER_PRED_COUNT 6

/* Client-side rejections. */
typedef enum cn_router_reject_e {
    CN_ROUTER_REJECT_BAD_REQUEST = 0,     /* 400 */
    CN_ROUTER_REJECT_TIMEOUT = 1,         /* 408 */
    CN_ROUTER_REJECT_BODY_TOO_BIG = 2,    /* 413 */
    CN_ROUTER_REJECT_HEADER_TOO_BIG = 3,  /* 431 */
    CN_ROUTER_REJECT_MAX_CONNECTIONS = 4, /* closed at accept */
} cn_router_reject_t;
#define CN_ROUTER_REJECT_COUNT 5

/* What cn_router_snapshot copies (a mask). Counters are cheap: O(cells)
 * on each worker, no histogram, no sample. */
#define CN_ROUTER_SNAP_COUNTERS                                                        \
    1u                               /* every counter, per-code counts, the            \
                                        prediction buckets (Prometheus) */
#define CN_ROUTER_SNAP_HISTOGRAMS 2u /* latency histograms (cumulative, step) */
#define CN_ROUTER_SNAP_SAMPLES 4u    /* the step's reservoirs (the judge) */
#define CN_ROUTER_SNAP_PAIRS 8u      /* the step's shadow prediction pairs */
#define CN_ROUTER_SNAP_ADDRESSES 16u /* the step's measurements per address */
#define CN_ROUTER_SNAP_ALL 31u

/* One status code's count (codes are few: kept sparse). */
typedef struct cn_router_code_count_s {
    unsigned code; /* 100..599 */
    uint64_t count;
} cn_router_code_count_t;

/* The measurements of one version (role and label) in one segment. The
 * fields under a mask are zero/NULL when the snapshot did not ask for it. */
typedef struct cn_router_cell_s {
    char *segment;  /* label (owned); "" when no segment header */
    cn_role_t role; /* stable or canary */
    char *version;  /* the version label (owned): cells of two versions of
                       a role are never merged */
    /* COUNTERS: cumulative since start */
    uint64_t requests;              /* requests this version was asked to
                                       answer (primary and shadow) */
    uint64_t shadow_requests;       /* of which shadow copies */
    uint64_t responses_by_class[6]; /* [1]..[5]: 1xx..5xx; [0] unused */
    cn_router_code_count_t *codes;  /* owned; ascending code, nonzero only */
    size_t ncodes;
    uint64_t failures[CN_ROUTER_FAIL_COUNT];
    uint64_t retried_on_stable; /* canary failures answered by stable */
    uint64_t request_bytes, response_bytes;
    uint64_t predictions[CN_ROUTER_PRED_COUNT];
    double prediction_sum;
    uint64_t *prediction_le; /* owned; cumulative-count buckets, one per
                                config bound, then +Inf */
    /* COUNTERS: this step only */
    uint64_t step_requests;
    uint64_t step_errors;       /* failures plus 5xx */
    uint64_t step_latency_seen; /* values offered to the latency sample */
    uint64_t step_predictions_seen;
    /* HISTOGRAMS (owned, NULL if not asked) */
    cn_metrics_hist_t *latency; /* us, first byte in to last byte out */
    cn_metrics_hist_t *step_latency;
    /* SAMPLES (owned, NULL if not asked) */
    double *step_latency_us; /* reservoir sample (uniform) */
    size_t n_step_latency;
    double *step_predictions; /* reservoir sample */
    size_t n_step_predictions;
    /*
     * The step's latency as bins, from a metrics source that has only
     * histograms (Prometheus's classic `_bucket` series): bin i counts the
     * values in (bounds[i-1], bounds[i]] in us, bin 0 from 0, the last bin
     * (n_step_latency_bins - 1) above the last bound (+Inf); bounds has
     * n_step_latency_bins - 1 entries, strictly ascending. Owned; NULL and
     * 0 from the built-in router, which has the reservoir instead. The
     * judge tests binned data exactly (ties within a bin).
     */
    double *step_latency_bounds;
    uint64_t *step_latency_bins;
    size_t n_step_latency_bins;
} cn_router_cell_t;

/* One stable/canary prediction pair from a shadow copy. */
typedef struct cn_router_pair_s {
    char request_id[64];
    double stable, canary;
} cn_router_pair_t;

/*
 * One address of one role in the current step (CN_ROUTER_SNAP_ADDRESSES):
 * what the role's attempts sent to that address gave, so an arm with
 * several addresses can be told apart address by address (the parity
 * check's per-address latency). An address that a parity generation lists
 * in both sets has one entry per role, each counting only its own role's
 * attempts. Counted by the cells' rule for their step fields: only
 * requests decided in this step (with this generation); an attempt that
 * found no usable address is in the cells' step_requests but at no
 * address, so otherwise the requests of a role's entries add up to the
 * step_requests of its cells.
 */
typedef struct cn_router_address_stat_s {
    char *address;              /* as the generation lists it (owned) */
    cn_role_t role;             /* stable or canary */
    uint64_t requests;          /* attempts this role sent to this address: each
                                   request's last attempt (answered, failed or
                                   cut), a canary attempt that failed before the
                                   request's retry on stable, and canary's shadow
                                   copies (included) */
    uint64_t errors;            /* of which failures plus 5xx (as step_errors) */
    cn_metrics_hist_t *latency; /* owned, never NULL: us, what the cell's
                                   step_latency records for the same
                                   attempts (a failure retried on stable
                                   records none) */
} cn_router_address_stat_t;

typedef struct cn_router_upstream_state_s {
    char *address; /* owned */
    cn_role_t role;
    bool up;
    bool checked;      /* an active health check has passed at least once
                          (up alone is also true before the first check) */
    uint64_t failures; /* cumulative passive failures */
} cn_router_upstream_state_t;

typedef struct cn_router_snapshot_s {
    unsigned what;       /* the mask asked for */
    uint64_t generation; /* the generation current when it was taken */
    cn_traffic_t traffic;
    uint64_t step;              /* increments on every publication */
    double step_started_unix_s; /* wall clock */
    double now_unix_s;
    const char *version_name[2]; /* the current labels, owned by the
                                    snapshot (freed by _snapshot_free) */
    unsigned workers;
    uint64_t connections_open;
    uint64_t connections_total;
    uint64_t rejects[CN_ROUTER_REJECT_COUNT];
    size_t ncells;
    cn_router_cell_t *cells; /* sorted by role, version, then segment;
                                always present (COUNTERS or not: the
                                labels); the fields follow the mask */
    size_t npairs;
    cn_router_pair_t *pairs; /* PAIRS: shadow pairs of this step (bounded
                                by reservoir_size, uniformly sampled) */
    size_t nupstreams;
    cn_router_upstream_state_t *upstreams; /* the current generation's */
    size_t naddresses;                     /* ADDRESSES; else 0 */
    cn_router_address_stat_t *addresses;   /* ADDRESSES: the first
                                              CN_ROUTER_ADDRESS_SLOTS (32)
                                              addresses of each set of the
                                              generation, stable's set then
                                              canary's, each in the
                                              generation's order (NULL if
                                              not asked for) */
    const double *prediction_bounds;       /* borrowed from config */
    size_t n_prediction_bounds;
    /* Set by a metrics source that measures nothing (canary control's
     * `none`): a rollout's warmup does not wait for a first canary
     * request or a health check it will never see. */
    bool unmeasured;
} cn_router_snapshot_t;

typedef struct cn_router_lookup_s {
    cn_role_t role;
    char version[64]; /* the label the request was served under */
    char segment[128];
    double unix_s;     /* when the response was sent */
    bool shadowed;     /* a shadow copy also went to canary */
    double prediction; /* the prediction extracted from the answer that
                          reached the client; NAN: none */
    uint64_t step;     /* the measurement step the request was decided in */
    uint32_t fed;      /* feedback metrics joined before (bit per metric) */
} cn_router_lookup_t;

/* One item of a feedback join (cn_router_join). */
typedef struct cn_router_join_s {
    const char *id; /* borrowed */
    size_t len;
    uint32_t mark; /* metrics this feedback brings (bit per metric) */
    bool found;
    cn_router_lookup_t result; /* if found; result.fed: joined before */
} cn_router_join_t;

/*
 * Build a router from a validated config (borrowed: it must outlive the
 * router): resolve every address, bind the listeners (so "address in use"
 * is reported here), compile the prediction pointer. The config's sets,
 * labels and traffic become generation number 1. Nothing runs until
 * cn_router_start. Returns 0, or a negative code with one line in err;
 * *out is then NULL.
 */
int cn_router_new(const cn_router_config_t *cfg, cn_router_t **out, char *err,
                  size_t errlen);

/* Start the worker threads and the health checker. 0 or CN_EIO with one
 * line in err. The process must ignore SIGPIPE (canary serve does): a
 * write to a connection the peer has closed would otherwise kill it. */
int cn_router_start(cn_router_t *r, char *err, size_t errlen);

/* Close the listeners, finish or abort in-flight requests, join the
 * threads. Idempotent. */
void cn_router_stop(cn_router_t *r);

/* Stop if needed and free everything. NULL is a no-op. */
void cn_router_free(cn_router_t *r);

/*
 * Publish g (copied; the caller keeps it) as the new generation: the
 * traffic split and both version sets together, as one immutable whole,
 * so that no request is routed with one generation's split and another's
 * addresses. Starts a new measurement step.
 *
 * Checks structure and ranges only (what a value means for the deployment
 * is the caller's business): g->number above the current one; the traffic
 * in range; a canary weight above 0 needs a canary address; at least one
 * stable address; both labels 1 to 63 visible ASCII characters without
 * quotes or backslashes, and different; at most CN_VERSION_MAX_ADDRESSES
 * addresses per set, each "host:port" or "[v6]:port" with a port in
 * [1, 65535], none twice (in either set, as written or as resolved).
 * One exception: in a parity (A/A) generation, whose canary label is the
 * parity label of the stable one (cn_version_is_parity: "<stable>+parity"),
 * an address may be in both sets (the same servers measured as two arms;
 * still never twice within one set). Such an address is one upstream,
 * listed in both roles: one health state (a failure seen by either arm
 * counts for both; the health checker probes it once per round), one
 * pool of connections per worker that both arms draw from, and one entry
 * per role in the snapshot's `upstreams`. The next non-parity generation
 * must keep the sets apart again.
 * Then resolves every address with getaddrinfo, which may block on DNS:
 * call it off every event loop (the control loop uses a work thread).
 * On a refusal: CN_EINVAL with one line in err naming the field, e.g.
 *     canary.addresses[1]: duplicate of stable.addresses[0] '127.0.0.1:9001'
 * and nothing changes.
 *
 * On success (0) it returns only after every worker has taken the new
 * generation: no request decided after the return uses the old sets or
 * split (requests decided before finish on theirs, retries and shadow
 * copies included). Idle pooled connections to addresses that left are
 * closed; an address kept across generations keeps its health state and
 * its pooled connections. Any thread except a worker; publishers are
 * serialised. Works before cn_router_start and after cn_router_stop too.
 */
int cn_router_publish(cn_router_t *r, const cn_generation_t *g, char *err,
                      size_t errlen);

/*
 * A deep copy of the current generation into *out (initialised or zeroed;
 * disposed first if it held anything; the caller disposes it) and, if
 * step is not NULL, the current step. Any thread; never waits on a worker.
 */
void cn_router_current(cn_router_t *r, cn_generation_t *out, cn_step_t *step);

/*
 * Replace only the traffic split: a publication of the current sets with
 * t and the next generation number (see cn_router_publish; the same
 * guarantee). CN_EINVAL if out of range or if it would send traffic to an
 * empty canary set. Kept for the callers of the old API.
 */
int cn_router_set_traffic(cn_router_t *r, const cn_traffic_t *t);
void cn_router_get_traffic(cn_router_t *r, cn_traffic_t *out);

/* Start a new measurement step without changing the generation. */
void cn_router_new_step(cn_router_t *r);

/* The current measurement step number (1 at start). */
uint64_t cn_router_step(cn_router_t *r);

/* The number of worker threads. */
unsigned cn_router_workers(const cn_router_t *r);

/*
 * Copy what `what` asks for (CN_ROUTER_SNAP_* bits; 0 gives the cell
 * labels and the process-wide figures only) from every worker's shard and
 * merge it into a new snapshot. Blocks until every worker has copied its
 * part (workers never block, so this takes about one event loop turn; a
 * counters-only copy costs a worker O(cells) and copies no histogram or
 * sample). Any thread except a worker. Free with cn_router_snapshot_free.
 */
cn_router_snapshot_t *cn_router_snapshot(cn_router_t *r, unsigned what);
void cn_router_snapshot_free(cn_router_snapshot_t *s);

/* Find a request id among the last request_id_map_size requests of each
 * worker. 0, or CN_ENOTFOUND. Any thread except a worker. */
int cn_router_lookup(cn_router_t *r, const char *request_id, size_t len,
                     cn_router_lookup_t *out);

/*
 * Join a batch of feedback items to the requests they are about, in one
 * cross-thread call: each item's id is looked up as cn_router_lookup does
 * (the newest request with that id), its result says what served it and
 * which metrics were joined to it before, and the item's `mark` is added
 * to the request's joined metrics unless the request was served before
 * not_before (Unix seconds; an expired request is reported, not marked).
 * *oldest (may be NULL) is when the oldest request any worker still
 * remembers was served (NAN: none). Any thread except a worker.
 */
void cn_router_join(cn_router_t *r, cn_router_join_t *items, size_t n,
                    double not_before, double *oldest);

/* The bound listen address (after port 0 is resolved), e.g.
 * "127.0.0.1:41234". */
const char *cn_router_listen_address(const cn_router_t *r);

#endif
