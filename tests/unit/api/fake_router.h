/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A stand-in for the router behind the admin API's ops table: a traffic
 * config and step in memory, a hand-built snapshot with known numbers, and
 * one known request id. Lets the admin tests assert exact values without a
 * data plane.
 */
#ifndef CN_TEST_FAKE_ROUTER_H
#define CN_TEST_FAKE_ROUTER_H

#include "api/admin.h"
#include "router/router.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct fake_router_s {
    cn_traffic_t traffic; /* what the snapshot says */
    uint64_t step;
    bool no_snapshot;        /* snapshot returns NULL */
    bool empty_snapshot;     /* snapshot has no cells, pairs or upstreams */
    unsigned snapshots_live; /* taken and not yet freed */
    unsigned last_mask;      /* the mask of the last snapshot asked for */
    /* Traffic since the start, on top of the known numbers: canary
     * requests answered in 9 ms, of which canary_more_errors were 5xx
     * (the dashboard's series takes differences of snapshots). */
    uint64_t canary_more, canary_more_errors;
    /* A gate: while closed, a snapshot waits in the ops function (on the
     * thread pool) until fake_router_open_gate, as a snapshot of full
     * reservoirs would take its time. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_closed;
    unsigned waiting; /* snapshots waiting at the gate */
} fake_router_t;

/* Weight 2.5%, random, shadow 100%, force off, step 7. */
void fake_router_init(fake_router_t *f);

/* Close the gate; wait until n snapshots wait at it; open it. */
void fake_router_close_gate(fake_router_t *f);
void fake_router_wait_at_gate(fake_router_t *f, unsigned n);
void fake_router_open_gate(fake_router_t *f);
/* What a snapshot does at the gate: count itself waiting, and wait while
 * it is closed. Any thread. */
void fake_router_pass_gate(fake_router_t *f);

/* The ops table over f. */
cn_admin_ops_t fake_router_ops(fake_router_t *f);

/*
 * The snapshot every test knows (see fake_router.c for the numbers):
 *  stable "v1": segment "" and segment "eu \"west\"\n";
 *  canary "v2": segment "";
 * prediction bounds 0.25, 0.5, 0.75; two shadow pairs; two upstreams.
 */
cn_router_snapshot_t *fake_router_snapshot(const fake_router_t *f);
void fake_router_snapshot_free(cn_router_snapshot_t *s);

/* The request id the fake's lookup knows. */
#define FAKE_KNOWN_ID "req-42"

#endif
