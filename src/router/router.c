/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The router's lifecycle and its control surface for other threads (see
 * router.h): listeners, worker threads, the traffic publication, snapshots
 * and request-id lookups through cross-thread calls, and the active health
 * checker.
 *
 * Listeners. Each worker gets its own socket bound to the same address
 * with SO_REUSEPORT, so the kernel spreads new connections over the
 * workers and no accept lock is shared. SO_REUSEPORT would also let a
 * second canary (or anything of the same user) silently share the port, so
 * the address is first probed with a plain bind: "address in use" is
 * reported instead of half the traffic vanishing into a stale process.
 *
 * Cross-thread calls. A snapshot must read every worker's shard, which
 * only its worker may touch. The caller posts a function, wakes every
 * worker through its uv_async, and waits on a condition variable until
 * all have run it. Workers never block, so this takes about one loop turn;
 * the data plane itself never waits on the caller.
 *
 * Health checks run on their own thread with plain blocking sockets and
 * timeouts: they are a handful of requests every few seconds, nowhere near
 * the data plane.
 */
#include "http/http.h"
#include "router/internal.h"
#include "util/addr.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void set_port(struct sockaddr_storage *ss, unsigned port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static unsigned get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static int bind_socket(struct sockaddr_storage *ss, socklen_t len, bool reuseport,
                       int *out, char *err, size_t errlen, const char *what)
{
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: socket: %s", what, strerror(errno));
        return CN_EIO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        snprintf(err, errlen, "%s: SO_REUSEPORT: %s", what, strerror(errno));
        close(fd);
        return CN_EIO;
    }
    if (bind(fd, (struct sockaddr *)ss, len) < 0) {
        snprintf(err, errlen, "%s: cannot listen: %s", what, strerror(errno));
        close(fd);
        return CN_EIO;
    }
    *out = fd;
    return 0;
}

static int open_listeners(cn_router_t *r, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int rc = cn_router_resolve(r->cfg->listen, &ss, &len, err, errlen);
    if (rc)
        return rc;
    /* probe: a plain bind fails if anyone holds the port, even with
     * SO_REUSEPORT, and resolves port 0 */
    int probe;
    rc = bind_socket(&ss, len, false, &probe, err, errlen, r->cfg->listen);
    if (rc)
        return rc;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(probe, (struct sockaddr *)&bound, &blen);
    close(probe);
    set_port(&ss, get_port(&bound));
    cn_addr_format((struct sockaddr *)&ss, true, r->listen_address,
                   sizeof r->listen_address);
    for (unsigned i = 0; i < r->nworkers; i++) {
        rc =
            bind_socket(&ss, len, true, &r->listen_fds[i], err, errlen, r->cfg->listen);
        if (rc)
            return rc;
        if (listen(r->listen_fds[i], 1024) < 0) {
            snprintf(err, errlen, "%s: listen: %s", r->cfg->listen, strerror(errno));
            return CN_EIO;
        }
    }
    return 0;
}

int cn_router_new(const cn_router_config_t *cfg, cn_router_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    if (cn_traffic_validate(&cfg->traffic)) {
        snprintf(err, errlen, "traffic config out of range");
        return CN_EINVAL;
    }
    cn_router_t *r = cn_xcalloc(1, sizeof *r);
    r->cfg = cfg;
    cn_router_traffic_slot_init(&r->traffic, &cfg->traffic);
    atomic_init(&r->step, 1);
    atomic_init(&r->step_started_ns, realtime_ns());
    atomic_init(&r->stopping, false);
    pthread_mutex_init(&r->call_lock, NULL);
    pthread_mutex_init(&r->call_mu, NULL);
    pthread_cond_init(&r->call_cv, NULL);
    pthread_mutex_init(&r->health_mu, NULL);
    pthread_cond_init(&r->health_cv, NULL);

    unsigned n = cfg->workers;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (unsigned)cpus : 1;
    }
    r->nworkers = n;
    r->listen_fds = cn_xmallocarray(n, sizeof *r->listen_fds);
    for (unsigned i = 0; i < n; i++)
        r->listen_fds[i] = -1;

    int rc = 0;
    const char *pred = cfg->prediction ? cfg->prediction : "kserve-v2";
    if (pred[0] == '/' || pred[0] == '\0')
        rc = cn_router_pointer_compile(pred, &r->pointer, err, errlen);
    else
        rc = cn_router_pointer_preset(pred, &r->pointer, err, errlen);
    if (rc)
        goto fail;

    r->nupstreams = cfg->stable.count + cfg->canary.count;
    r->upstreams = cn_xcalloc(r->nupstreams + 1, sizeof *r->upstreams);
    r->first[CN_ROLE_STABLE] = 0;
    r->count[CN_ROLE_STABLE] = cfg->stable.count;
    r->first[CN_ROLE_CANARY] = cfg->stable.count;
    r->count[CN_ROLE_CANARY] = cfg->canary.count;
    for (size_t i = 0; i < r->nupstreams; i++) {
        bool canary = i >= cfg->stable.count;
        const char *a =
            canary ? cfg->canary.items[i - cfg->stable.count] : cfg->stable.items[i];
        rc = cn_router_upstream_init(&r->upstreams[i], a,
                                     canary ? CN_ROLE_CANARY : CN_ROLE_STABLE, i, err,
                                     errlen);
        if (rc)
            goto fail;
    }
    rc = open_listeners(r, err, errlen);
    if (rc)
        goto fail;
    r->workers = cn_xcalloc(n, sizeof *r->workers);
    for (unsigned i = 0; i < n; i++)
        r->workers[i] = cn_router__worker_new(r, i);
    *out = r;
    return 0;
fail:
    cn_router_free(r);
    return rc;
}

/* ------------------------------------------------------------ health checks */

/* One probe: 0 if the address answered 2xx/3xx, else -1 with a reason. */
static int probe(const cn_router_upstream_t *u, const char *path, uint32_t timeout_ms,
                 char *why, size_t whylen)
{
    int fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whylen, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = -1;
    uint64_t deadline = cn_router_now_ms() + timeout_ms;
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    if (connect(fd, (const struct sockaddr *)&u->addr, u->addr_len) < 0 &&
        errno != EINPROGRESS) {
        snprintf(why, whylen, "connect: %s", strerror(errno));
        goto out;
    }
    if (poll(&pfd, 1, (int)timeout_ms) <= 0) {
        snprintf(why, whylen, "connect: timed out");
        goto out;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        snprintf(why, whylen, "connect: %s", strerror(soerr));
        goto out;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: canary-health\r\n"
                     "Connection: close\r\n\r\n",
                     path, u->address);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(why, whylen, "send: %s", strerror(errno));
        goto out;
    }
    char buf[256];
    size_t got = 0;
    while (got < 12) {
        uint64_t now = cn_router_now_ms();
        if (now >= deadline) {
            snprintf(why, whylen, "no answer within %u ms", timeout_ms);
            goto out;
        }
        pfd.events = POLLIN;
        if (poll(&pfd, 1, (int)(deadline - now)) <= 0) {
            snprintf(why, whylen, "no answer within %u ms", timeout_ms);
            goto out;
        }
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (k <= 0) {
            snprintf(why, whylen, "closed before answering");
            goto out;
        }
        got += (size_t)k;
    }
    buf[got] = '\0';
    unsigned status = 0;
    if (sscanf(buf, "HTTP/1.%*d %u", &status) != 1) {
        snprintf(why, whylen, "not an HTTP response");
        goto out;
    }
    if (status >= 200 && status < 400)
        rc = 0;
    else
        snprintf(why, whylen, "%s answered %u", path, status);
out:
    close(fd);
    return rc;
}

static void *health_main(void *arg)
{
    cn_router_t *r = arg;
    const cn_router_config_t *cfg = r->cfg;
    pthread_mutex_lock(&r->health_mu);
    while (r->health_running) {
        pthread_mutex_unlock(&r->health_mu);
        for (size_t i = 0; i < r->nupstreams; i++) {
            cn_router_upstream_t *u = &r->upstreams[i];
            char why[160] = "";
            bool down = probe(u, cfg->health_path, cfg->health_timeout_ms, why,
                              sizeof why) != 0;
            bool was = atomic_exchange(&u->active_down, down);
            const char *role = u->role == CN_ROLE_CANARY ? "canary" : "stable";
            if (down && !was)
                fprintf(stderr, "health: %s upstream %s is down: %s\n", role,
                        u->address, why);
            else if (!down && was)
                fprintf(stderr, "health: %s upstream %s is up again\n", role,
                        u->address);
        }
        pthread_mutex_lock(&r->health_mu);
        if (!r->health_running)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns =
            (uint64_t)ts.tv_nsec + (uint64_t)cfg->health_interval_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&r->health_cv, &r->health_mu, &ts);
    }
    pthread_mutex_unlock(&r->health_mu);
    return NULL;
}

/* ------------------------------------------------------------- lifecycle */

int cn_router_start(cn_router_t *r, char *err, size_t errlen)
{
    if (r->started) {
        snprintf(err, errlen, "router already started");
        return CN_EINVAL;
    }
    for (unsigned i = 0; i < r->nworkers; i++) {
        int rc = pthread_create(&r->workers[i]->thread, NULL, cn_router__worker_main,
                                r->workers[i]);
        if (rc) {
            snprintf(err, errlen, "cannot start worker thread: %s", strerror(rc));
            /* stop the ones already running */
            atomic_store(&r->stopping, true);
            for (unsigned j = 0; j < i; j++) {
                uv_async_send(&r->workers[j]->wake);
                pthread_join(r->workers[j]->thread, NULL);
            }
            r->stopped = true;
            return CN_EIO;
        }
    }
    r->started = true;
    if (r->cfg->health_path && r->cfg->health_path[0] && r->cfg->health_interval_ms) {
        r->health_running = true;
        if (pthread_create(&r->health_thread, NULL, health_main, r) != 0)
            r->health_running = false;
    }
    return 0;
}

void cn_router_stop(cn_router_t *r)
{
    if (!r || !r->started || r->stopped)
        return;
    pthread_mutex_lock(&r->call_lock); /* no call is in flight */
    atomic_store(&r->stopping, true);
    for (unsigned i = 0; i < r->nworkers; i++)
        uv_async_send(&r->workers[i]->wake);
    pthread_mutex_unlock(&r->call_lock);
    for (unsigned i = 0; i < r->nworkers; i++)
        pthread_join(r->workers[i]->thread, NULL);
    pthread_mutex_lock(&r->health_mu);
    bool health = r->health_running;
    r->health_running = false;
    pthread_cond_signal(&r->health_cv);
    pthread_mutex_unlock(&r->health_mu);
    if (health)
        pthread_join(r->health_thread, NULL);
    r->stopped = true;
}

void cn_router_free(cn_router_t *r)
{
    if (!r)
        return;
    cn_router_stop(r);
    if (r->workers) {
        for (unsigned i = 0; i < r->nworkers; i++) {
            cn_router_worker_t *w = r->workers[i];
            if (w && !r->started) {
                /* never ran: close the handles made in worker_new */
                uv_close((uv_handle_t *)&w->listener, NULL);
                uv_close((uv_handle_t *)&w->wake, NULL);
                uv_close((uv_handle_t *)&w->grace, NULL);
                uv_run(&w->loop, UV_RUN_DEFAULT);
                uv_loop_close(&w->loop);
            }
            cn_router__worker_free(w);
        }
        free(r->workers);
    }
    if (r->listen_fds) {
        for (unsigned i = 0; i < r->nworkers; i++)
            if (r->listen_fds[i] >= 0)
                close(r->listen_fds[i]);
        free(r->listen_fds);
    }
    for (size_t i = 0; i < r->nupstreams; i++)
        cn_router_upstream_dispose(&r->upstreams[i]);
    free(r->upstreams);
    cn_router_pointer_dispose(&r->pointer);
    pthread_mutex_destroy(&r->call_lock);
    pthread_mutex_destroy(&r->call_mu);
    pthread_cond_destroy(&r->call_cv);
    pthread_mutex_destroy(&r->health_mu);
    pthread_cond_destroy(&r->health_cv);
    free(r);
}

const char *cn_router_listen_address(const cn_router_t *r)
{
    return r->listen_address;
}

/* ------------------------------------------------------------- control */

int cn_router_set_traffic(cn_router_t *r, const cn_traffic_t *t)
{
    /* Publish first, then open the new step; the workers read the step
     * before the traffic. So a request counted in the new step was decided
     * under the new config (the reverse can happen: a request decided under
     * the new config in the instant between the two stores is tagged with
     * the old step; it then lands in the old step's data if that step is
     * still the shard's current one, else in the cumulative data only). Hence, after
     * the weight is set to 0, the new step's canary request count is exactly 0: a check
     * the tests and the benchmark read from /v1/samples. */
    int rc = cn_router_traffic_publish(&r->traffic, t);
    if (rc)
        return rc;
    cn_router_new_step(r);
    return 0;
}

void cn_router_get_traffic(cn_router_t *r, cn_traffic_t *out)
{
    cn_router_traffic_acquire(&r->traffic, out);
}

void cn_router_new_step(cn_router_t *r)
{
    atomic_store(&r->step_started_ns, realtime_ns());
    atomic_fetch_add(&r->step, 1);
}

uint64_t cn_router_step(cn_router_t *r)
{
    return atomic_load(&r->step);
}

unsigned cn_router_workers(const cn_router_t *r)
{
    return r->nworkers;
}

void cn_router__worker_service_call(cn_router_worker_t *w)
{
    cn_router_t *r = w->router;
    pthread_mutex_lock(&r->call_mu);
    if (!r->call_fn || w->call_seen == r->call_seq) {
        pthread_mutex_unlock(&r->call_mu);
        return;
    }
    cn_router_call_fn fn = r->call_fn;
    void *arg = r->call_arg;
    w->call_seen = r->call_seq;
    pthread_mutex_unlock(&r->call_mu);
    fn(w, arg);
    pthread_mutex_lock(&r->call_mu);
    if (--r->call_pending == 0)
        pthread_cond_broadcast(&r->call_cv);
    pthread_mutex_unlock(&r->call_mu);
}

void cn_router__call_workers(cn_router_t *r, cn_router_call_fn fn, void *arg)
{
    pthread_mutex_lock(&r->call_lock);
    if (!r->started || r->stopped || atomic_load(&r->stopping)) {
        /* no worker thread runs: the shards are ours to read */
        for (unsigned i = 0; i < r->nworkers; i++)
            fn(r->workers[i], arg);
        pthread_mutex_unlock(&r->call_lock);
        return;
    }
    pthread_mutex_lock(&r->call_mu);
    r->call_fn = fn;
    r->call_arg = arg;
    r->call_pending = r->nworkers;
    r->call_seq++;
    pthread_mutex_unlock(&r->call_mu);
    for (unsigned i = 0; i < r->nworkers; i++)
        uv_async_send(&r->workers[i]->wake);
    pthread_mutex_lock(&r->call_mu);
    while (r->call_pending)
        pthread_cond_wait(&r->call_cv, &r->call_mu);
    r->call_fn = NULL;
    r->call_arg = NULL;
    pthread_mutex_unlock(&r->call_mu);
    pthread_mutex_unlock(&r->call_lock);
}

typedef struct snap_job_s {
    cn_router_shard_part_t *parts;
    uint64_t step;
} snap_job_t;

static void snap_copy(cn_router_worker_t *w, void *arg)
{
    snap_job_t *job = arg;
    cn_router_shard_sync_step(&w->shard, job->step);
    cn_router_shard_copy(&w->shard, &job->parts[w->index]);
}

cn_router_snapshot_t *cn_router_snapshot(cn_router_t *r)
{
    cn_router_snapshot_t *s = cn_xcalloc(1, sizeof *s);
    snap_job_t job;
    job.parts = cn_xcalloc(r->nworkers, sizeof *job.parts);
    /* read the step before the traffic: a change in between shows as an
     * older step with newer traffic, never the reverse */
    job.step = atomic_load(&r->step);
    s->step_started_unix_s = (double)atomic_load(&r->step_started_ns) * 1e-9;
    cn_router_traffic_acquire(&r->traffic, &s->traffic);
    cn_router__call_workers(r, snap_copy, &job);
    const cn_router_config_t *cfg = r->cfg;
    cn_router_shard_merge(job.parts, r->nworkers, cfg->reservoir_size,
                          cfg->n_prediction_buckets, realtime_ns(), s);
    for (unsigned i = 0; i < r->nworkers; i++)
        cn_router_shard_part_dispose(&job.parts[i]);
    free(job.parts);
    s->step = job.step;
    s->now_unix_s = (double)realtime_ns() * 1e-9;
    s->version_name[CN_ROLE_STABLE] = cfg->stable_version;
    s->version_name[CN_ROLE_CANARY] = cfg->canary_version;
    s->workers = r->nworkers;
    s->connections_open = atomic_load(&r->connections_open);
    s->connections_total = atomic_load(&r->connections_total);
    for (int i = 0; i < CN_ROUTER_REJECT_COUNT; i++)
        s->rejects[i] = atomic_load(&r->rejects[i]);
    s->nupstreams = r->nupstreams;
    s->upstreams = cn_xcalloc(r->nupstreams + 1, sizeof *s->upstreams);
    uint64_t now = cn_router_now_ms();
    for (size_t i = 0; i < r->nupstreams; i++) {
        cn_router_upstream_t *u = &r->upstreams[i];
        s->upstreams[i].address = u->address;
        s->upstreams[i].role = u->role;
        s->upstreams[i].up = cn_router_upstream_usable(u, now);
        s->upstreams[i].failures = atomic_load(&u->failures_total);
    }
    s->prediction_bounds = cfg->prediction_buckets;
    s->n_prediction_bounds = cfg->n_prediction_buckets;
    return s;
}

void cn_router_snapshot_free(cn_router_snapshot_t *s)
{
    if (!s)
        return;
    cn_router_cells_free(s->cells, s->ncells);
    free(s->pairs);
    free(s->upstreams); /* addresses are borrowed */
    free(s);
}

typedef struct lookup_job_s {
    pthread_mutex_t mu;
    const char *id;
    size_t len;
    bool found;
    cn_router_lookup_t result;
} lookup_job_t;

static void lookup_one(cn_router_worker_t *w, void *arg)
{
    lookup_job_t *job = arg;
    cn_router_lookup_t l;
    if (!cn_router_shard_find(&w->shard, job->id, job->len, &l))
        return;
    pthread_mutex_lock(&job->mu);
    if (!job->found || l.unix_s > job->result.unix_s) {
        job->result = l;
        job->found = true;
    }
    pthread_mutex_unlock(&job->mu);
}

int cn_router_lookup(cn_router_t *r, const char *request_id, size_t len,
                     cn_router_lookup_t *out)
{
    lookup_job_t job = {.id = request_id, .len = len};
    pthread_mutex_init(&job.mu, NULL);
    cn_router__call_workers(r, lookup_one, &job);
    pthread_mutex_destroy(&job.mu);
    if (!job.found)
        return CN_ENOTFOUND;
    *out = job.result;
    const char *v =
        out->role == CN_ROLE_CANARY ? r->cfg->canary_version : r->cfg->stable_version;
    snprintf(out->version, sizeof out->version, "%s", v ? v : "");
    return 0;
}
