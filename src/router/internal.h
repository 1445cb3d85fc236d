/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The router's private structures, shared by router.c (lifecycle, control
 * from other threads, health checks) and worker.c (the event loop of one
 * worker thread). Nothing outside src/router/ includes this.
 */
#ifndef CN_ROUTER_INTERNAL_H
#define CN_ROUTER_INTERNAL_H

#include "router/config.h"
#include "router/extract.h"
#include "router/router.h"
#include "router/shard.h"
#include "router/split.h"
#include "router/upstream.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct cn_router_worker_s cn_router_worker_t;

/* A function run on every worker thread by cn_router__call_workers. */
typedef void (*cn_router_call_fn)(cn_router_worker_t *w, void *arg);

struct cn_router_s {
    const cn_router_config_t *cfg; /* borrowed; outlives the router */
    cn_router_traffic_slot_t traffic;
    _Atomic uint64_t step;
    _Atomic uint64_t step_started_ns; /* CLOCK_REALTIME */
    cn_router_pointer_t pointer;

    cn_router_upstream_t *upstreams; /* stable ones first, then canary */
    size_t nupstreams;
    size_t first[2], count[2]; /* per role: range in upstreams[] */

    cn_router_worker_t **workers;
    unsigned nworkers;
    int *listen_fds; /* one SO_REUSEPORT socket per worker, bound in _new */
    char listen_address[80];

    _Atomic uint64_t connections_open;
    _Atomic uint64_t connections_total;
    _Atomic uint64_t rejects[CN_ROUTER_REJECT_COUNT];

    /* cross-thread calls (snapshot, lookup): one at a time */
    pthread_mutex_t call_lock; /* serialises callers */
    pthread_mutex_t call_mu;
    pthread_cond_t call_cv;
    cn_router_call_fn call_fn;
    void *call_arg;
    unsigned call_pending;
    uint64_t call_seq;

    /* health checker */
    pthread_t health_thread;
    pthread_mutex_t health_mu;
    pthread_cond_t health_cv;
    bool health_running;

    bool started, stopped;
    _Atomic bool stopping;
};

struct cn_router_worker_s {
    cn_router_t *router;
    unsigned index;
    pthread_t thread;
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake; /* stop and cross-thread calls */
    uint64_t call_seen;
    uint64_t rng;
    size_t rr[2];
    uint64_t next_id;
    cn_router_shard_t shard;
    struct upconn_s **idle; /* per upstream: idle pooled connections */
    unsigned *nidle;
    struct client_s *clients; /* every open client connection */
    struct upconn_s *conns;   /* every upstream connection */
    uv_timer_t grace;         /* force-closes what is left at stop */
    char *readbuf;            /* shared read buffer (reads are synchronous) */
    bool stopping;
    /* log rate limit */
    uint64_t log_second;
    unsigned log_count, log_suppressed;
};

/* worker.c */
cn_router_worker_t *cn_router__worker_new(cn_router_t *r, unsigned index);
void cn_router__worker_free(cn_router_worker_t *w);
void *cn_router__worker_main(void *arg);

/* router.c: run fn(worker, arg) on every worker thread; returns when all
 * have run it. */
void cn_router__call_workers(cn_router_t *r, cn_router_call_fn fn, void *arg);
/* worker.c calls this from its wake callback. */
void cn_router__worker_service_call(cn_router_worker_t *w);

#endif
