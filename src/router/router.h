/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The data plane: N worker threads, each with its own libuv loop and its
 * own SO_REUSEPORT listener, proxying HTTP/1.1 requests to the stable or the
 * canary upstreams as the published traffic config decides, and measuring
 * every request into the worker's own shard (no lock on the hot path).
 *
 * Control from other threads (the admin API) goes through this header:
 *  - cn_router_set_traffic publishes a new split atomically and starts a new
 *    measurement step;
 *  - cn_router_snapshot asks every worker (through a uv_async) to merge its
 *    shard into one snapshot and waits for all of them;
 *  - cn_router_lookup finds the version and segment that served a request
 *    id, for joining late labels.
 *
 * Measurements are kept twice: cumulative since start (for Prometheus
 * counters, which must never go down) and per step (for the judge; reset
 * whenever the traffic config changes, so a look compares canary and stable
 * over the same period at the same weight).
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

/* The measurements of one version (role) in one segment. */
typedef struct cn_router_cell_s {
    char *segment;  /* label; "" when no segment header */
    cn_role_t role; /* stable or canary */
    /* cumulative since start */
    uint64_t requests;               /* requests this version was asked to
                                        answer (primary and shadow) */
    uint64_t shadow_requests;        /* of which shadow copies */
    uint64_t responses_by_class[6];  /* [1]..[5]: 1xx..5xx; [0] unused */
    uint64_t responses_by_code[600]; /* 100..599 */
    uint64_t failures[CN_ROUTER_FAIL_COUNT];
    uint64_t retried_on_stable; /* canary failures answered by stable */
    uint64_t request_bytes, response_bytes;
    uint64_t predictions[CN_ROUTER_PRED_COUNT];
    double prediction_sum;
    uint64_t *prediction_le;   /* cumulative-count buckets, one per
                                  config bound, then +Inf */
    cn_metrics_hist_t latency; /* us, first byte in to last byte out */
    /* this step only */
    uint64_t step_requests;
    uint64_t step_errors; /* failures plus 5xx */
    cn_metrics_hist_t step_latency;
    double *step_latency_us; /* reservoir sample (uniform), owned */
    size_t n_step_latency;
    uint64_t step_latency_seen; /* values offered to the latency sample */
    double *step_predictions;   /* reservoir sample, owned */
    size_t n_step_predictions;
    uint64_t step_predictions_seen;
} cn_router_cell_t;

/* One stable/canary prediction pair from a shadow copy. */
typedef struct cn_router_pair_s {
    char request_id[64];
    double stable, canary;
} cn_router_pair_t;

typedef struct cn_router_upstream_state_s {
    char *address;
    cn_role_t role;
    bool up;
    uint64_t failures; /* cumulative passive failures */
} cn_router_upstream_state_t;

typedef struct cn_router_snapshot_s {
    cn_traffic_t traffic;
    uint64_t step;              /* increments on every traffic change */
    double step_started_unix_s; /* wall clock */
    double now_unix_s;
    const char *version_name[2]; /* borrowed from the router's config */
    unsigned workers;
    uint64_t connections_open;
    uint64_t connections_total;
    uint64_t rejects[CN_ROUTER_REJECT_COUNT];
    size_t ncells;
    cn_router_cell_t *cells; /* sorted by role, then segment */
    size_t npairs;
    cn_router_pair_t *pairs; /* shadow pairs of this step (bounded by
                                reservoir_size, uniformly sampled) */
    size_t nupstreams;
    cn_router_upstream_state_t *upstreams;
    const double *prediction_bounds; /* borrowed from config */
    size_t n_prediction_bounds;
} cn_router_snapshot_t;

typedef struct cn_router_lookup_s {
    cn_role_t role;
    char version[64];
    char segment[128];
    double unix_s; /* when the response was sent */
    bool shadowed; /* a shadow copy also went to canary */
} cn_router_lookup_t;

/*
 * Build a router from a validated config: resolve every address, bind the
 * listeners (so "address in use" is reported here), compile the prediction
 * pointer. Nothing runs until cn_router_start. Returns 0, or a negative
 * code with one line in err; *out is then NULL.
 */
int cn_router_new(const cn_router_config_t *cfg, cn_router_t **out, char *err,
                  size_t errlen);

/* Start the worker threads and the health checker. 0 or CN_EIO. */
int cn_router_start(cn_router_t *r, char *err, size_t errlen);

/* Close the listeners, finish or abort in-flight requests, join the
 * threads. Idempotent. */
void cn_router_stop(cn_router_t *r);

/* Stop if needed and free everything. NULL is a no-op. */
void cn_router_free(cn_router_t *r);

/*
 * Publish a new traffic config (see cn_router_traffic_publish for the
 * guarantee: once this returns, no new request goes to a version at weight
 * 0) and start a new measurement step. CN_EINVAL if out of range. Any
 * thread.
 */
int cn_router_set_traffic(cn_router_t *r, const cn_traffic_t *t);
void cn_router_get_traffic(cn_router_t *r, cn_traffic_t *out);

/* Start a new measurement step without changing the traffic. */
void cn_router_new_step(cn_router_t *r);

/* The current measurement step number (1 at start). */
uint64_t cn_router_step(cn_router_t *r);

/* The number of worker threads. */
unsigned cn_router_workers(const cn_router_t *r);

/*
 * Merge every worker's shard into a new snapshot (blocks until every
 * worker has answered; workers never block, so this takes about one event
 * loop turn). Any thread except a worker. Free with
 * cn_router_snapshot_free.
 */
cn_router_snapshot_t *cn_router_snapshot(cn_router_t *r);
void cn_router_snapshot_free(cn_router_snapshot_t *s);

/* Find a request id among the last request_id_map_size requests of each
 * worker. 0, or CN_ENOTFOUND. Any thread except a worker. */
int cn_router_lookup(cn_router_t *r, const char *request_id, size_t len,
                     cn_router_lookup_t *out);

/* The bound listen address (after port 0 is resolved), e.g.
 * "127.0.0.1:41234". */
const char *cn_router_listen_address(const cn_router_t *r);

#endif
