/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What a router snapshot costs, at 8 workers x 32 segments with every
 * reservoir full: for a counters-only snapshot (what /metrics needs) and a
 * full one, the time one worker's loop spends in it (the function the
 * worker runs: bring its shard to the step, copy its part), the bytes that
 * copy allocates, and the time the caller waits for the whole snapshot
 * (every worker's part, then the merge), with the bytes it allocates.
 *
 * The shards are filled directly (the router is built, not started), then
 * the workers are started idle, so the caller's wait is the cross-thread
 * call plus the copies plus the merge, and nothing else. Allocations are
 * counted by wrapping malloc, calloc and realloc at link time
 * (-Wl,--wrap=...): the bytes asked for, whatever the allocator does.
 *
 * It builds against the router of this tree and against the router before
 * the snapshot mask (main at e33a031, whose cn_router_snapshot takes no
 * mask and always copies everything): CN_ROUTER_SNAP_ALL tells them apart.
 *
 *   bench-snapshot [RUNS]     prints one Markdown table row per mask:
 *   | code | mask | worker wall us | worker CPU us | worker MiB | caller wait ms
 *   | snapshot MiB | cells |   (medians of RUNS; the MiB are one run's)
 */
#include "router/internal.h"
#include "router/router.h"
#include "router/shard.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WORKERS 8
#define SEGMENTS 32
#define RESERVOIR 10000

/* ---------------------------------------------------- counting allocations */

static _Atomic uint64_t alloc_bytes;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    atomic_fetch_add_explicit(&alloc_bytes, n, memory_order_relaxed);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    atomic_fetch_add_explicit(&alloc_bytes, n * m, memory_order_relaxed);
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&alloc_bytes, n, memory_order_relaxed);
    return __real_realloc(p, n);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return v[n / 2];
}

/* ------------------------------------------------------------ the two APIs */

#ifdef CN_ROUTER_SNAP_ALL
#define HAVE_MASK 1
#define SNAP_COUNTERS CN_ROUTER_SNAP_COUNTERS
#define SNAP_FULL CN_ROUTER_SNAP_ALL
static cn_router_snapshot_t *take(cn_router_t *r, unsigned what)
{
    return cn_router_snapshot(r, what);
}
static void worker_part(cn_router_worker_t *w, unsigned what, uint64_t step,
                        cn_router_shard_part_t *part)
{
    cn_router_shard_sync_step(&w->shard, step);
    cn_router_shard_copy(&w->shard, what, part);
}
#else
#define HAVE_MASK 0
#define SNAP_COUNTERS 1u
#define SNAP_FULL 15u
static cn_router_snapshot_t *take(cn_router_t *r, unsigned what)
{
    (void)what; /* before the mask: always everything */
    return cn_router_snapshot(r);
}
static void worker_part(cn_router_worker_t *w, unsigned what, uint64_t step,
                        cn_router_shard_part_t *part)
{
    (void)what;
    cn_router_shard_sync_step(&w->shard, step);
    cn_router_shard_copy(&w->shard, part);
}
#endif

/* Every cell full: RESERVOIR values in each reservoir of every (segment,
 * role) of every worker, plus shadow pairs. */
static void fill(cn_router_t *r)
{
    uint64_t step = cn_router_step(r);
    for (unsigned i = 0; i < r->nworkers; i++) {
        cn_router_shard_t *sh = &r->workers[i]->shard;
        cn_router_shard_sync_step(sh, step);
        char label[16];
        for (unsigned s = 0; s < SEGMENTS; s++) {
            snprintf(label, sizeof label, "s%u", s);
            unsigned seg = cn_router_shard_segment(sh, label, strlen(label));
            for (int role = 0; role < 2; role++)
                for (unsigned k = 0; k < RESERVOIR + 100; k++) {
                    cn_router_obs_t o = {0};
                    o.role = (cn_role_t)role;
#if HAVE_MASK
                    o.key = (unsigned)r->workers[i]->cur->key[role];
#endif
                    o.status = k % 50 ? 200 : 503;
                    o.failure = -1;
                    o.has_latency = true;
                    o.latency_us = 1000 + (k * 7919) % 50000;
                    o.prediction = CN_ROUTER_PRED_OK;
                    o.prediction_value = (double)(k % 1000) / 1000.0;
                    o.step = step;
                    o.request_bytes = 200;
                    o.response_bytes = 300;
                    cn_router_shard_record(sh, seg, &o);
                }
        }
        for (unsigned k = 0; k < RESERVOIR; k++)
            cn_router_shard_pair(sh, "request-id-0123456789", 0.25, 0.75, step);
    }
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 15;
    if (runs < 1)
        runs = 1;
    cn_router_config_t cfg;
    cn_router_config_init(&cfg);
    char err[300];
    char segs[SEGMENTS * 8] = "";
    for (unsigned s = 0; s < SEGMENTS; s++)
        snprintf(segs + strlen(segs), sizeof segs - strlen(segs), "%ss%u", s ? "," : "",
                 s);
    struct {
        const char *flag, *value;
    } flags[] = {
        {"listen", "127.0.0.1:0"},
        {"stable", "127.0.0.1:9"},
        {"canary", "127.0.0.1:10"},
        {"workers", "8"},
        {"segment-header", "X-Region"},
        {"max-segments", "32"},
        {"reservoir-size", "10000"},
        {"health-path", ""},
        {"segments", segs},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (!HAVE_MASK && strcmp(flags[i].flag, "segments") == 0)
            continue; /* before: labels are interned first come */
        if (cn_router_config_set_flag(&cfg, flags[i].flag, flags[i].value, err,
                                      sizeof err)) {
            fprintf(stderr, "bench-snapshot: --%s: %s\n", flags[i].flag, err);
            return 1;
        }
    }
    if (cn_router_config_validate(&cfg, err, sizeof err)) {
        fprintf(stderr, "bench-snapshot: %s\n", err);
        return 1;
    }
    cn_router_t *r;
    if (cn_router_new(&cfg, &r, err, sizeof err)) {
        fprintf(stderr, "bench-snapshot: %s\n", err);
        return 1;
    }
    fill(r);

    struct {
        const char *name;
        unsigned what;
    } masks[] = {{"counters only", SNAP_COUNTERS}, {"full", SNAP_FULL}};
    uint64_t *t = calloc((size_t)runs, sizeof *t);
    uint64_t *cpu = calloc((size_t)runs, sizeof *cpu);
    uint64_t worker_cpu_us[2];
    uint64_t worker_us[2], part_bytes[2] = {0}, wait_us[2], snap_bytes[2] = {0};
    size_t ncells[2] = {0};
    /* one worker's part, on this thread, before the workers run: the same
     * function a worker runs on its loop */
    for (size_t m = 0; m < 2; m++) {
        for (int k = 0; k < runs; k++) {
            cn_router_shard_part_t part;
            uint64_t b0 = atomic_load(&alloc_bytes);
            uint64_t t0 = now_ns(), c0 = cpu_ns();
            worker_part(r->workers[k % WORKERS], masks[m].what, cn_router_step(r),
                        &part);
            t[k] = now_ns() - t0;
            cpu[k] = cpu_ns() - c0;
            part_bytes[m] = atomic_load(&alloc_bytes) - b0;
            cn_router_shard_part_dispose(&part);
        }
        worker_us[m] = median(t, (size_t)runs) / 1000;
        worker_cpu_us[m] = median(cpu, (size_t)runs) / 1000;
    }
    /* the whole snapshot, as a caller waits for it, with idle workers */
    if (cn_router_start(r, err, sizeof err)) {
        fprintf(stderr, "bench-snapshot: %s\n", err);
        return 1;
    }
    for (size_t m = 0; m < 2; m++) {
        for (int k = 0; k < runs; k++) {
            uint64_t b0 = atomic_load(&alloc_bytes);
            uint64_t t0 = now_ns();
            cn_router_snapshot_t *s = take(r, masks[m].what);
            t[k] = now_ns() - t0;
            snap_bytes[m] = atomic_load(&alloc_bytes) - b0;
            ncells[m] = s->ncells;
            cn_router_snapshot_free(s);
        }
        wait_us[m] = median(t, (size_t)runs) / 1000;
    }
    for (size_t m = 0; m < 2; m++)
        printf("| %s | %s | %llu | %llu | %.2f | %.2f | %.2f | %zu |\n",
               HAVE_MASK ? "after" : "before", masks[m].name,
               (unsigned long long)worker_us[m], (unsigned long long)worker_cpu_us[m],
               (double)part_bytes[m] / 1048576.0, (double)wait_us[m] / 1000.0,
               (double)snap_bytes[m] / 1048576.0, ncells[m]);
    free(t);
    free(cpu);
    cn_router_free(r);
    cn_router_config_dispose(&cfg);
    return 0;
}
