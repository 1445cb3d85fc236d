/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `remote` engine: several `canary serve` replicas, driven through
 * their admin API (api/res_remote.c), as one traffic engine and one
 * metrics source (controller/engine.h).
 *
 *   traffic:
 *     remote:
 *       replicas:
 *         - {url: http://10.0.0.1:8081, token_file: /etc/canary/r1.token}
 *         - {url: http://10.0.0.2:8081, token_file: /etc/canary/r2.token}
 *       lease: 10s            # the replicas' fail-safe lease
 *       renew_every: 2s       # the heartbeat
 *       timeout: 2s           # one request
 *       connect_timeout: 500ms
 *       rollback_retry: 0s    # 0: lease + 1s
 *       controller: ctl-a     # the name the replicas see; default hostname
 *
 * apply: PUT /v1/generation to every replica at once (one libcurl multi
 * handle, one easy handle per replica kept across calls, so connections
 * are reused); it succeeds only when every replica confirmed generation
 * G. A generation whose canary weight is 0 (a rollback, an abort, the
 * end of a promotion) is the way out: the replicas that did not confirm
 * are asked again, with a backoff from 20 ms doubling to 500 ms, until
 * each has confirmed or rollback_retry has passed (default lease + 1 s:
 * by then every replica that has not heard from this controller has
 * fallen back to weight 0 by its own lease, reachable or not); then apply
 * fails naming the replicas that never confirmed.
 *
 * renew: POST /v1/lease to every replica with the last generation sent;
 * a heartbeat thread calls it every renew_every, and the controller may
 * call it too. A replica that does not run that generation (it restarted,
 * or it fell back) refuses, and is left to its lease: it is not sent the
 * generation again until the next apply.
 *
 * read: GET /v1/snapshot of generation G from every replica at once; the
 * snapshots are merged (cn_remote_merge) into one. A replica that cannot
 * be reached, or that does not run G, fails the read with one line
 * naming it: the controller never judges a part of the fleet as if it
 * were the whole.
 *
 * Threads: apply, read and renew may run on different threads at once
 * (each has its own handles and lock); each call blocks until it is done.
 */
#ifndef CN_ENGINES_REMOTE_H
#define CN_ENGINES_REMOTE_H

#include "controller/engine.h"
#include "router/router.h"
#include "util/config.h"

#include <stddef.h>
#include <stdint.h>

/* Replicas at most. */
#define CN_REMOTE_MAX_REPLICAS 64u
/* The largest snapshot body taken from one replica. */
#define CN_REMOTE_MAX_SNAPSHOT_BYTES ((size_t)512 * 1024 * 1024)

typedef struct cn_remote_replica_s {
    char *url;        /* "http://host:port": the replica's admin API */
    char *token_file; /* NULL: $CANARY_TOKEN */
    int line;         /* where it was configured (0: in code) */
} cn_remote_replica_t;

typedef struct cn_remote_config_s {
    cn_remote_replica_t *replicas;
    size_t n_replicas;
    uint64_t lease_ms;           /* default 10 s */
    uint64_t renew_every_ms;     /* default 2 s; below lease / 2 */
    uint64_t timeout_ms;         /* default 2 s */
    uint64_t connect_timeout_ms; /* default 500 ms */
    uint64_t rollback_retry_ms;  /* 0: lease + 1 s */
    char *controller;            /* NULL: the host name */
} cn_remote_config_t;

extern const cn_config_table_t cn_remote_config_table;

/* Free what the config owns and zero it. */
void cn_remote_config_dispose(cn_remote_config_t *c);

typedef struct cn_remote_s cn_remote_t;

/* Both tables, first; the rest is private (remote.c). */
struct cn_remote_s {
    cn_traffic_engine_t traffic;
    cn_metrics_source_t metrics;
};

/*
 * Build the engine from a checked config (copied: cfg may go): read the
 * token files, make the handles, start the heartbeat thread. Nothing is
 * sent until the first apply. 0, or CN_EINVAL / CN_EIO with one line in
 * err naming the key (a token file that cannot be read, an empty token);
 * *out is then NULL.
 */
int cn_remote_new(const cn_remote_config_t *cfg, cn_remote_t **out, char *err,
                  size_t errlen);

/* Stop the heartbeat and free. NULL is a no-op. */
void cn_remote_free(cn_remote_t *e);

/*
 * Merge the snapshots of one generation taken at several replicas into a
 * new one (free it with cn_wire_snapshot_free). Cells are matched by
 * (role, version, segment), addresses and upstreams by (address, role).
 * Counters add, histograms add bucket by bucket, shadow pairs are
 * concatenated. Reservoirs merge by weighted sampling: replica j's sample
 * of k_j values stands for the n_j values it saw (step_latency_seen,
 * step_predictions_seen); the merged sample takes
 *     K = min(sum k_j, min_j floor(k_j N / n_j)),   N = sum n_j,
 * values, m_j of them drawn without replacement from replica j's sample,
 * m_j = K n_j / N rounded down or up at random so that its mean is exact.
 * Then every value of the union has the same probability K / N of being
 * in the merged sample (k_j / n_j to be in j's reservoir, times
 * E[m_j] / k_j): a uniform sample of the union, with each replica's share
 * fixed at its share of the traffic (a proportionally stratified sample,
 * whose estimates vary no more than a simple one's). When no replica's
 * reservoir is full (k_j = n_j for all), the merged sample is all of them.
 * *rng (splitmix64) drives the draws.
 *
 * 0, or CN_EINVAL with one line in err when the parts disagree on what
 * must be equal (the generation, the version labels, the prediction
 * bounds); *out is then NULL.
 */
int cn_remote_merge(cn_router_snapshot_t *const *parts, size_t n, uint64_t *rng,
                    cn_router_snapshot_t **out, char *err, size_t errlen);

#endif
