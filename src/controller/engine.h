/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the controller drives and what it reads, as two small interfaces,
 * so that engines other than the built-in router can be driven later (the
 * scale-out work adds remote replicas, HAProxy, Gateway API and Istio for
 * traffic, Prometheus for metrics). A function table with the object's
 * own state behind `self`, in the manner of h2o's balancers.
 *
 * Traffic: apply(desired) publishes one generation (the split and both
 * version sets) and answers what the engine really runs: its generation
 * and the effective weight (an engine may quantise: HAProxy's server
 * weights are 0-256, so 1.00% may become 1.17%). apply is idempotent (the
 * same generation again changes nothing) and may block: the controller
 * calls it off every event loop, one call at a time. renew() is a
 * heartbeat for engines that hold a lease (a no-op for the router).
 *
 * Metrics: read(window, mask) answers counts, histograms and samples per
 * version and segment, as a router snapshot (router/router.h), for a
 * window: a generation (the measurement step it opened) or a time range.
 * An engine that cannot serve a window answers CN_ENOTFOUND (the built-in
 * router keeps only the current step's samples: an older generation is
 * gone) or CN_EINVAL (a kind it does not have).
 *
 * cn_engine_router_* implement both over the built-in router.
 */
#ifndef CN_CONTROLLER_ENGINE_H
#define CN_CONTROLLER_ENGINE_H

#include "router/router.h"
#include "types/types.h"

#include <stddef.h>
#include <stdint.h>

/* What an engine runs after apply. */
typedef struct cn_traffic_applied_s {
    uint64_t generation;
    uint16_t effective_weight_bp; /* the canary weight it really applies */
    cn_step_t step;               /* the measurement step it opened */
} cn_traffic_applied_t;

typedef struct cn_traffic_engine_s cn_traffic_engine_t;
struct cn_traffic_engine_s {
    const char *name; /* "router", for messages */
    /* 0, or CN_EINVAL (the engine refuses the generation: nothing changed)
     * / another code (it failed) with one line in err. */
    int (*apply)(cn_traffic_engine_t *self, const cn_generation_t *desired,
                 cn_traffic_applied_t *out, char *err, size_t errlen);
    int (*renew)(cn_traffic_engine_t *self, char *err, size_t errlen);
};

typedef enum cn_metrics_window_kind_e {
    CN_WINDOW_GENERATION, /* the step a generation opened */
    CN_WINDOW_TIME,       /* [from, to) in Unix ms */
} cn_metrics_window_kind_t;

typedef struct cn_metrics_window_s {
    cn_metrics_window_kind_t kind;
    uint64_t generation;
    int64_t from_unix_ms, to_unix_ms;
} cn_metrics_window_t;

typedef struct cn_metrics_source_s cn_metrics_source_t;
struct cn_metrics_source_s {
    const char *name;
    /* *out is the engine's (release it with release()); 0, or CN_ENOTFOUND
     * / CN_EINVAL / CN_EIO with one line in err. mask: CN_ROUTER_SNAP_*. */
    int (*read)(cn_metrics_source_t *self, const cn_metrics_window_t *window,
                unsigned mask, cn_router_snapshot_t **out, char *err, size_t errlen);
    void (*release)(cn_metrics_source_t *self, cn_router_snapshot_t *s);
    /* Optional (NULL: not needed): told, right after each successful
     * apply and on the thread that applied (off every event loop, one
     * apply at a time), that generation g (borrowed: its labels and sets)
     * opened its measurement step at unix_ms, so that a source that
     * measures by time (Prometheus) can answer a CN_WINDOW_GENERATION
     * window as the time range from then. Should not block. */
    void (*opened)(cn_metrics_source_t *self, const cn_generation_t *g,
                   int64_t unix_ms);
};

/* Both interfaces over the built-in router (borrowed; it must outlive
 * the engine). Embed it; the first members are the tables. */
typedef struct cn_engine_router_s {
    cn_traffic_engine_t traffic; /* first: (cn_traffic_engine_t *)&e works */
    cn_metrics_source_t metrics;
    cn_router_t *router;
} cn_engine_router_t;

void cn_engine_router_init(cn_engine_router_t *e, cn_router_t *router);

#endif
