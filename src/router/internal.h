/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The router's private structures, shared by router.c (lifecycle, control
 * from other threads, health checks) and worker.c (the event loop of one
 * worker thread). Nothing outside src/router/ includes this.
 */
#ifndef CN_ROUTER_INTERNAL_H
#define CN_ROUTER_INTERNAL_H

#include "http/deadline.h"
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

/* Each worker's listen backlog. A burst of connections (4,096 clients
 * starting at once) must wait in the accept queue, not be dropped: a
 * dropped SYN is retried after 1 s, then 3 s, which a client sees as a
 * stall or a connect timeout. The kernel caps it at net.core.somaxconn
 * (4,096 by default since Linux 5.4); HAProxy asks for its maxconn. */
#define CN_ROUTER_BACKLOG 65535

typedef struct cn_router_worker_s cn_router_worker_t;

/*
 * A generation as the data plane uses it: immutable once published, freed
 * when its last holder lets go. Holders: the router while it is current;
 * each worker that routes with it (one hold per worker, taken once, not
 * per request: see cn_router_wgen_t); the health checker for one round;
 * a snapshot or cn_router_current for the time of the copy.
 */
typedef struct cn_router_gen_s {
    _Atomic uint64_t refs;
    cn_generation_t spec; /* number, traffic, labels and addresses as given */
    cn_router_upstream_t **ups[CN_ROLE_COUNT]; /* one hold each (registry) */
    size_t count[CN_ROLE_COUNT];
} cn_router_gen_t;

/* A worker's pool of idle keep-alive connections to one address. Found
 * by address (the upstream object is the registry's, one per address), so
 * a connection survives a publication that keeps its address. */
typedef struct cn_router_pool_s {
    cn_router_upstream_t *up; /* one hold, released when the pool goes */
    struct upconn_s *idle;
    unsigned nidle;
    unsigned refs; /* worker-local: generation views listing it, and every
                      connection made through it */
    bool live;     /* listed by the worker's current generation */
    struct cn_router_pool_s *next;
} cn_router_pool_t;

/*
 * A worker's view of one generation. Requests and shadow copies count
 * themselves in `inflight` (plain increments: worker-local), so the worker
 * touches the shared generation's reference count only when it adopts a
 * generation and when it lets the last one go: never per request.
 */
typedef struct cn_router_wgen_s {
    cn_router_gen_t *g;
    unsigned inflight;
    int key[CN_ROLE_COUNT];                  /* shard version keys (-1: none) */
    cn_router_pool_t **pools[CN_ROLE_COUNT]; /* parallel to g->ups */
    struct cn_router_wgen_s *next;           /* older views still in use */
} cn_router_wgen_t;

/* A function run on every worker thread by cn_router__call_workers. */
typedef void (*cn_router_call_fn)(cn_router_worker_t *w, void *arg);

struct cn_router_s {
    const cn_router_config_t *cfg;  /* borrowed; outlives the router */
    _Atomic(cn_router_gen_t *) gen; /* the current generation (one hold) */
    pthread_mutex_t gen_mu;         /* taking a hold on `gen` off a worker */
    pthread_mutex_t publish_mu;     /* serialises publishers */
    _Atomic uint64_t step;
    _Atomic uint64_t step_started_ns; /* CLOCK_REALTIME */
    cn_router_pointer_t pointer;

    /* every upstream some generation or pool holds, one per address */
    pthread_mutex_t ups_mu;
    cn_router_upstream_t *ups;

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
    bool health_started;
    pthread_mutex_t health_mu;
    pthread_cond_t health_cv;
    bool health_running;

    bool started, stopped;
    /* Set by join_workers under call_mu, which it holds until it has sent
     * every worker its last wake; read with cn_router__stop_requested. */
    _Atomic bool stopping;
};

struct cn_router_worker_s {
    cn_router_t *router;
    unsigned index;
    pthread_t thread;
    uv_loop_t loop;
    struct cn_http_server_s *http; /* the client side (http/server.h) */
    uv_async_t wake;               /* stop and cross-thread calls */
    bool loop_ok;                  /* uv_loop_init and the handles succeeded */
    bool ran;                      /* the thread ran (and closed the loop) */
    uint64_t call_seen;
    uint64_t rng;
    size_t rr[2];
    uint64_t next_id;
    cn_router_shard_t shard;
    cn_router_wgen_t *cur;    /* the generation new requests use */
    cn_router_wgen_t *old;    /* older ones with requests in flight */
    cn_router_pool_t *pools;  /* every pool, live or draining */
    struct upconn_s *conns;   /* every upstream connection */
    uv_timer_t grace;         /* force-closes what is left at stop */
    cn_deadlines_t deadlines; /* the upstream connections' timeouts */
    char *readbuf;            /* shared read buffer (reads are synchronous) */
    bool stopping;
    /* log rate limit */
    uint64_t log_second;
    unsigned log_count, log_suppressed;
};

/* router.c: generations and upstream holds */
void cn_router__gen_hold(cn_router_gen_t *g);
void cn_router__gen_release(cn_router_t *r, cn_router_gen_t *g);
void cn_router__upstream_hold(cn_router_t *r, cn_router_upstream_t *u);
void cn_router__upstream_release(cn_router_t *r, cn_router_upstream_t *u);

/* router.c, tests only: make the n-th thread cn_router_start creates fail
 * (workers, then the health checker; 1-based). 0: never. */
extern int cn_router__test_fail_thread;
/* router.c, tests only: widen the window of the stop race (see
 * join_workers): a worker waits this long after running a cross-thread
 * call, before it looks at `stopping`, and join_workers waits this long
 * before each wake it sends. 0: never. */
extern unsigned cn_router__test_stop_race_ms;
void cn_router__test_pause(void);

/* router.c: whether cn_router_stop asked the workers to stop. A worker
 * may begin its stop (and close its wake handle) only once this is true:
 * by then it has been sent its last wake. */
bool cn_router__stop_requested(cn_router_t *r);

/* worker.c */
/* NULL with err if the loop or its handles cannot be made. */
cn_router_worker_t *cn_router__worker_new(cn_router_t *r, unsigned index, char *err,
                                          size_t errlen);
/* Take the router's current generation (on the worker's thread, or on the
 * caller's when no worker thread runs); closes idle connections to
 * addresses that left. */
void cn_router__worker_adopt(cn_router_worker_t *w);
void cn_router__worker_free(cn_router_worker_t *w);
void *cn_router__worker_main(void *arg);

/* router.c: run fn(worker, arg) on every worker thread; returns when all
 * have run it. */
void cn_router__call_workers(cn_router_t *r, cn_router_call_fn fn, void *arg);
/* worker.c calls this from its wake callback. */
void cn_router__worker_service_call(cn_router_worker_t *w);

#endif
