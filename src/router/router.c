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

#include <errno.h>
#include <inttypes.h>
#include <math.h>
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
    if (getsockname(probe, (struct sockaddr *)&bound, &blen) < 0) {
        snprintf(err, errlen, "%s: getsockname: %s", r->cfg->listen, strerror(errno));
        close(probe);
        return CN_EIO;
    }
    close(probe);
    set_port(&ss, get_port(&bound));
    cn_addr_format((struct sockaddr *)&ss, true, r->listen_address,
                   sizeof r->listen_address);
    for (unsigned i = 0; i < r->nworkers; i++) {
        rc =
            bind_socket(&ss, len, true, &r->listen_fds[i], err, errlen, r->cfg->listen);
        if (rc)
            return rc;
        if (listen(r->listen_fds[i], CN_ROUTER_BACKLOG) < 0) {
            snprintf(err, errlen, "%s: listen: %s", r->cfg->listen, strerror(errno));
            return CN_EIO;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ generations */

void cn_router__gen_hold(cn_router_gen_t *g)
{
    atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void cn_router__upstream_hold(cn_router_t *r, cn_router_upstream_t *u)
{
    pthread_mutex_lock(&r->ups_mu);
    u->refs++;
    pthread_mutex_unlock(&r->ups_mu);
}

void cn_router__upstream_release(cn_router_t *r, cn_router_upstream_t *u)
{
    pthread_mutex_lock(&r->ups_mu);
    bool last = --u->refs == 0;
    if (last) {
        cn_router_upstream_t **p = &r->ups;
        while (*p && *p != u)
            p = &(*p)->next;
        if (*p)
            *p = u->next;
    }
    pthread_mutex_unlock(&r->ups_mu);
    if (last) {
        cn_router_upstream_dispose(u);
        free(u);
    }
}

static void gen_free(cn_router_t *r, cn_router_gen_t *g)
{
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        for (size_t i = 0; i < g->count[role]; i++)
            if (g->ups[role][i])
                cn_router__upstream_release(r, g->ups[role][i]);
        free(g->ups[role]);
    }
    cn_generation_dispose(&g->spec);
    free(g);
}

void cn_router__gen_release(cn_router_t *r, cn_router_gen_t *g)
{
    /* acq_rel: the last holder sees every other holder's reads done */
    if (g && atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
        gen_free(r, g);
}

/* A hold on the current generation, from any thread but a worker. */
static cn_router_gen_t *gen_current(cn_router_t *r)
{
    pthread_mutex_lock(&r->gen_mu);
    cn_router_gen_t *g = atomic_load(&r->gen);
    cn_router__gen_hold(g);
    pthread_mutex_unlock(&r->gen_mu);
    return g;
}

static const char *role_key(int role)
{
    return role == CN_ROLE_CANARY ? "canary" : "stable";
}

static bool label_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > CN_VERSION_LABEL_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || s[i] == '"' ||
            s[i] == '\\')
            return false;
    return true;
}

/*
 * Whether g is a parity (A/A) generation: the canary label is the parity
 * label of the stable one (types.h), so the two sets may share addresses
 * (the same servers measured as two arms). Any other generation keeps its
 * sets apart.
 */
static bool gen_is_parity(const cn_generation_t *g)
{
    return cn_version_is_parity(g->sets[CN_ROLE_STABLE].version,
                                g->sets[CN_ROLE_CANARY].version);
}

/* The structural checks of cn_router_publish (no DNS). */
static int validate_generation(const cn_generation_t *g, char *err, size_t errlen)
{
    bool parity = gen_is_parity(g);
    if (cn_traffic_validate(&g->traffic)) {
        snprintf(err, errlen,
                 "traffic: out of range (weight and shadow share are "
                 "0..10000 basis points, mode random|sticky|shadow)");
        return CN_EINVAL;
    }
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        const cn_version_set_t *vs = &g->sets[role];
        if (!label_ok(vs->version)) {
            snprintf(err, errlen,
                     "%s.version: must be 1 to %u visible ASCII characters without "
                     "quotes or backslashes",
                     role_key(role), CN_VERSION_LABEL_MAX);
            return CN_EINVAL;
        }
        if (vs->count > CN_VERSION_MAX_ADDRESSES) {
            snprintf(err, errlen, "%s.addresses: at most %u addresses, got %zu",
                     role_key(role), CN_VERSION_MAX_ADDRESSES, vs->count);
            return CN_EINVAL;
        }
        for (size_t i = 0; i < vs->count; i++) {
            const char *a = vs->addresses[i];
            if (!cn_addr_upstream_ok(a, CN_ADDR_SCHEME)) {
                snprintf(err, errlen,
                         "%s.addresses[%zu]: must be host:port or [ipv6]:port with a "
                         "port in [1, 65535], got '%.80s'",
                         role_key(role), i, a ? a : "(null)");
                return CN_EINVAL;
            }
            /* the same address earlier, in this set or (unless parity)
             * in stable's */
            for (int r2 = parity ? role : 0; r2 <= role; r2++)
                for (size_t j = 0; j < (r2 == role ? i : g->sets[r2].count); j++)
                    if (strcmp(g->sets[r2].addresses[j], a) == 0) {
                        snprintf(err, errlen,
                                 "%s.addresses[%zu]: duplicate of %s.addresses[%zu] "
                                 "'%.80s'",
                                 role_key(role), i, role_key(r2), j, a);
                        return CN_EINVAL;
                    }
        }
    }
    if (strcmp(g->sets[CN_ROLE_STABLE].version, g->sets[CN_ROLE_CANARY].version) == 0) {
        snprintf(err, errlen,
                 "canary.version: must differ from stable.version, both "
                 "are '%s'",
                 g->sets[CN_ROLE_CANARY].version);
        return CN_EINVAL;
    }
    if (g->sets[CN_ROLE_STABLE].count == 0) {
        snprintf(err, errlen, "stable.addresses: at least one address is required");
        return CN_EINVAL;
    }
    if (g->traffic.canary_weight_bp > 0 && g->sets[CN_ROLE_CANARY].count == 0) {
        snprintf(err, errlen,
                 "traffic.canary_weight: must be 0 while the canary set "
                 "has no addresses");
        return CN_EINVAL;
    }
    return 0;
}

static bool same_sockaddr(const struct sockaddr_storage *a, socklen_t alen,
                          const struct sockaddr_storage *b, socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * Build the data plane's form of g: every address resolved (an address
 * some generation or pool already holds is taken as it is, with its health
 * state, and not resolved again), none twice once resolved: not within a
 * set, nor across the sets unless g is a parity generation. There an
 * address in both sets is one upstream object listed in both roles (two
 * holds), so both arms share its health state and each worker's one pool
 * for it. 0, or CN_EINVAL with err naming the field.
 */
static int gen_build(cn_router_t *r, const cn_generation_t *spec, cn_router_gen_t **out,
                     char *err, size_t errlen)
{
    *out = NULL;
    int rc = validate_generation(spec, err, errlen);
    if (rc)
        return rc;
    bool parity = gen_is_parity(spec);
    cn_router_gen_t *g = cn_xcalloc(1, sizeof *g);
    atomic_init(&g->refs, 1);
    cn_generation_init(&g->spec);
    cn_generation_copy(&g->spec, spec);
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        size_t n = spec->sets[role].count;
        g->count[role] = n;
        g->ups[role] = cn_xcalloc(n + 1, sizeof *g->ups[role]);
        for (size_t i = 0; i < n; i++) {
            const char *a = spec->sets[role].addresses[i];
            pthread_mutex_lock(&r->ups_mu);
            cn_router_upstream_t *u = r->ups;
            while (u && strcmp(u->address, a) != 0)
                u = u->next;
            if (u)
                u->refs++;
            pthread_mutex_unlock(&r->ups_mu);
            if (!u) {
                /* resolve outside the lock: DNS may take a while */
                u = cn_xcalloc(1, sizeof *u);
                char why[200];
                if (cn_router_upstream_init(u, a, why, sizeof why)) {
                    free(u);
                    snprintf(err, errlen, "%s.addresses[%zu]: %s", role_key(role), i,
                             why);
                    rc = CN_EINVAL;
                    goto fail;
                }
                u->refs = 1;
                pthread_mutex_lock(&r->ups_mu);
                u->next = r->ups;
                r->ups = u;
                pthread_mutex_unlock(&r->ups_mu);
            }
            g->ups[role][i] = u;
            for (int r2 = parity ? role : 0; r2 <= role; r2++)
                for (size_t j = 0; j < (r2 == role ? i : g->count[r2]); j++)
                    if (same_sockaddr(&g->ups[r2][j]->addr, g->ups[r2][j]->addr_len,
                                      &u->addr, u->addr_len)) {
                        snprintf(err, errlen,
                                 "%s.addresses[%zu]: '%s' is the same address as "
                                 "%s.addresses[%zu] '%s'",
                                 role_key(role), i, a, role_key(r2), j,
                                 g->ups[r2][j]->address);
                        rc = CN_EINVAL;
                        goto fail;
                    }
        }
    }
    *out = g;
    return 0;
fail:
    gen_free(r, g);
    return rc;
}

/* The config's sets, labels and traffic as generation 1. */
static void gen_from_config(const cn_router_config_t *cfg, cn_generation_t *g)
{
    cn_generation_init(g);
    g->number = 1;
    g->traffic = cfg->traffic;
    const cn_router_addr_list_t *lists[CN_ROLE_COUNT] = {&cfg->stable, &cfg->canary};
    const char *labels[CN_ROLE_COUNT] = {cfg->stable_version, cfg->canary_version};
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        cn_version_set_dispose(&g->sets[role]);
        cn_version_set_init(&g->sets[role],
                            labels[role] ? labels[role] : role_key(role));
        for (size_t i = 0; i < lists[role]->count; i++)
            cn_version_set_add(&g->sets[role], lists[role]->items[i]);
    }
}

int cn_router_new(const cn_router_config_t *cfg, cn_router_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    cn_router_t *r = cn_xcalloc(1, sizeof *r);
    r->cfg = cfg;
    atomic_init(&r->step, 1);
    atomic_init(&r->step_started_ns, realtime_ns());
    atomic_init(&r->stopping, false);
    pthread_mutex_init(&r->call_lock, NULL);
    pthread_mutex_init(&r->call_mu, NULL);
    pthread_cond_init(&r->call_cv, NULL);
    pthread_mutex_init(&r->health_mu, NULL);
    pthread_cond_init(&r->health_cv, NULL);
    pthread_mutex_init(&r->gen_mu, NULL);
    pthread_mutex_init(&r->publish_mu, NULL);
    pthread_mutex_init(&r->ups_mu, NULL);

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

    cn_generation_t first;
    gen_from_config(cfg, &first);
    cn_router_gen_t *g = NULL;
    rc = gen_build(r, &first, &g, err, errlen);
    cn_generation_dispose(&first);
    if (rc)
        goto fail;
    atomic_store(&r->gen, g);
    rc = open_listeners(r, err, errlen);
    if (rc)
        goto fail;
    r->workers = cn_xcalloc(n, sizeof *r->workers);
    for (unsigned i = 0; i < n; i++) {
        r->workers[i] = cn_router__worker_new(r, i, err, errlen);
        if (!r->workers[i]) {
            rc = CN_EIO;
            goto fail;
        }
    }
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

/* Whether u is listed in role's set of g (a parity generation lists an
 * address in both). */
static bool gen_lists(const cn_router_gen_t *g, int role, const cn_router_upstream_t *u)
{
    for (size_t i = 0; i < g->count[role]; i++)
        if (g->ups[role][i] == u)
            return true;
    return false;
}

static void *health_main(void *arg)
{
    cn_router_t *r = arg;
    const cn_router_config_t *cfg = r->cfg;
    pthread_mutex_lock(&r->health_mu);
    while (r->health_running) {
        pthread_mutex_unlock(&r->health_mu);
        /* Follow the current generation, one round at a time: an address
         * kept across generations is the same object, with its state. */
        cn_router_gen_t *g = gen_current(r);
        for (int role = 0; role < CN_ROLE_COUNT; role++)
            for (size_t i = 0; i < g->count[role]; i++) {
                cn_router_upstream_t *u = g->ups[role][i];
                /* one probe per address and round: an address in both
                 * sets (parity) is one object, probed as stable's */
                if (role == CN_ROLE_CANARY && gen_lists(g, CN_ROLE_STABLE, u))
                    continue;
                bool both = role == CN_ROLE_STABLE && gen_lists(g, CN_ROLE_CANARY, u);
                const char *roles = both ? "stable and canary" : role_key(role);
                char why[160] = "";
                bool down = probe(u, cfg->health_path, cfg->health_timeout_ms, why,
                                  sizeof why) != 0;
                bool was = atomic_exchange(&u->active_down, down);
                if (!down)
                    atomic_store(&u->probed_ok, true);
                if (down && !was)
                    fprintf(stderr, "health: %s upstream %s is down: %s\n", roles,
                            u->address, why);
                else if (!down && was)
                    fprintf(stderr, "health: %s upstream %s is up again\n", roles,
                            u->address);
            }
        cn_router__gen_release(r, g);
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

/* Tests only (internal.h): make the n-th thread cn_router_start creates
 * (workers first, then the health checker; 1-based) fail. 0: never. */
int cn_router__test_fail_thread = 0;

static int thread_create(pthread_t *t, void *(*fn)(void *), void *arg, int *count)
{
    if (cn_router__test_fail_thread && ++*count == cn_router__test_fail_thread)
        return EAGAIN;
    return pthread_create(t, NULL, fn, arg);
}

unsigned cn_router__test_stop_race_ms = 0;

void cn_router__test_pause(void)
{
    if (!cn_router__test_stop_race_ms)
        return;
    struct timespec ts = {cn_router__test_stop_race_ms / 1000,
                          (long)(cn_router__test_stop_race_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

bool cn_router__stop_requested(cn_router_t *r)
{
    pthread_mutex_lock(&r->call_mu);
    bool stop = atomic_load(&r->stopping);
    pthread_mutex_unlock(&r->call_mu);
    return stop;
}

/*
 * Stop and join the first n workers (they close their own loops).
 *
 * `stopping` is set and every wake sent under call_mu. A worker checks it
 * on every wake, also one left over from an earlier call (a snapshot just
 * before cn_router_free), and stops at once: it closes its wake handle,
 * and its loop, with the eventfd that uv_async_send writes to. Seen
 * without the lock, a worker could do all that between the store and our
 * send to it, and the send would write to a closed descriptor, which
 * libuv answers with abort() (SIGABRT, no sanitizer report: the
 * swap test's rare crash in cn_router_free). Under the lock, a worker
 * sees `stopping` only once its last wake has been sent.
 */
static void join_workers(cn_router_t *r, unsigned n)
{
    pthread_mutex_lock(&r->call_lock); /* no call is in flight */
    pthread_mutex_lock(&r->call_mu);
    atomic_store(&r->stopping, true);
    for (unsigned i = 0; i < n; i++) {
        cn_router__test_pause();
        uv_async_send(&r->workers[i]->wake);
    }
    pthread_mutex_unlock(&r->call_mu);
    for (unsigned i = 0; i < n; i++)
        pthread_join(r->workers[i]->thread, NULL);
    /* Set before letting callers in: a snapshot or publication now runs on
     * the caller's thread, and no worker still drains. */
    r->stopped = true;
    pthread_mutex_unlock(&r->call_lock);
}

int cn_router_start(cn_router_t *r, char *err, size_t errlen)
{
    if (r->started || r->stopped) {
        snprintf(err, errlen, "router already started");
        return CN_EINVAL;
    }
    int created = 0;
    for (unsigned i = 0; i < r->nworkers; i++) {
        int rc = thread_create(&r->workers[i]->thread, cn_router__worker_main,
                               r->workers[i], &created);
        if (rc) {
            snprintf(err, errlen, "cannot start worker thread: %s", strerror(rc));
            join_workers(r, i);
            return CN_EIO;
        }
        r->workers[i]->ran = true;
    }
    r->started = true;
    if (r->cfg->health_path && r->cfg->health_path[0] && r->cfg->health_interval_ms) {
        r->health_running = true;
        int rc = thread_create(&r->health_thread, health_main, r, &created);
        if (rc) {
            r->health_running = false;
            snprintf(err, errlen, "cannot start the health checker thread: %s",
                     strerror(rc));
            join_workers(r, r->nworkers);
            return CN_EIO;
        }
        r->health_started = true;
    }
    return 0;
}

void cn_router_stop(cn_router_t *r)
{
    if (!r || !r->started || r->stopped)
        return;
    join_workers(r, r->nworkers);
    pthread_mutex_lock(&r->health_mu);
    r->health_running = false;
    pthread_cond_signal(&r->health_cv);
    pthread_mutex_unlock(&r->health_mu);
    if (r->health_started)
        pthread_join(r->health_thread, NULL);
    r->health_started = false;
}

void cn_router_free(cn_router_t *r)
{
    if (!r)
        return;
    cn_router_stop(r);
    if (r->workers) {
        for (unsigned i = 0; i < r->nworkers; i++)
            cn_router__worker_free(r->workers[i]);
        free(r->workers);
    }
    if (r->listen_fds) {
        for (unsigned i = 0; i < r->nworkers; i++)
            if (r->listen_fds[i] >= 0)
                close(r->listen_fds[i]);
        free(r->listen_fds);
    }
    cn_router__gen_release(r, atomic_load(&r->gen));
    cn_router_pointer_dispose(&r->pointer);
    pthread_mutex_destroy(&r->call_lock);
    pthread_mutex_destroy(&r->call_mu);
    pthread_cond_destroy(&r->call_cv);
    pthread_mutex_destroy(&r->health_mu);
    pthread_cond_destroy(&r->health_cv);
    pthread_mutex_destroy(&r->gen_mu);
    pthread_mutex_destroy(&r->publish_mu);
    pthread_mutex_destroy(&r->ups_mu);
    free(r);
}

const char *cn_router_listen_address(const cn_router_t *r)
{
    return r->listen_address;
}

/* ------------------------------------------------------------- control */

static void adopt_call(cn_router_worker_t *w, void *arg)
{
    (void)arg;
    cn_router__worker_adopt(w);
}

/* cn_router_publish with publish_mu held. */
static int publish_locked(cn_router_t *r, const cn_generation_t *spec, char *err,
                          size_t errlen)
{
    cn_router_gen_t *old = atomic_load(&r->gen);
    if (spec->number <= old->spec.number) {
        snprintf(err, errlen,
                 "number: must be above the current generation's %" PRIu64
                 ", got %" PRIu64,
                 old->spec.number, spec->number);
        return CN_EINVAL;
    }
    cn_router_gen_t *g;
    int rc = gen_build(r, spec, &g, err, errlen);
    if (rc)
        return rc;
    /* The generation first, then the step: a worker reads the step before
     * the generation, so a request counted in the new step was decided
     * with the new generation (see dispatch in worker.c). */
    pthread_mutex_lock(&r->gen_mu);
    atomic_store(&r->gen, g);
    pthread_mutex_unlock(&r->gen_mu);
    cn_router_new_step(r);
    /* Every worker takes it (and closes idle connections to addresses
     * that left) before we return; only then may the router let go of the
     * old one, since a worker may have loaded the pointer just before the
     * store and not yet taken its hold. */
    cn_router__call_workers(r, adopt_call, NULL);
    cn_router__gen_release(r, old);
    return 0;
}

int cn_router_publish(cn_router_t *r, const cn_generation_t *g, char *err,
                      size_t errlen)
{
    pthread_mutex_lock(&r->publish_mu);
    int rc = publish_locked(r, g, err, errlen);
    pthread_mutex_unlock(&r->publish_mu);
    return rc;
}

void cn_router_current(cn_router_t *r, cn_generation_t *out, cn_step_t *step)
{
    if (step) {
        step->number = atomic_load(&r->step);
        step->started_unix_s = (double)atomic_load(&r->step_started_ns) * 1e-9;
    }
    cn_router_gen_t *g = gen_current(r);
    cn_generation_copy(out, &g->spec);
    if (step)
        step->generation = g->spec.number;
    cn_router__gen_release(r, g);
}

int cn_router_set_traffic(cn_router_t *r, const cn_traffic_t *t)
{
    if (cn_traffic_validate(t))
        return CN_EINVAL;
    pthread_mutex_lock(&r->publish_mu);
    cn_router_gen_t *cur = atomic_load(&r->gen); /* stable under publish_mu */
    cn_generation_t next;
    cn_generation_init(&next);
    cn_generation_copy(&next, &cur->spec);
    next.number = cur->spec.number + 1;
    next.traffic = *t;
    char err[256];
    int rc = publish_locked(r, &next, err, sizeof err);
    pthread_mutex_unlock(&r->publish_mu);
    cn_generation_dispose(&next);
    return rc;
}

void cn_router_get_traffic(cn_router_t *r, cn_traffic_t *out)
{
    cn_router_gen_t *g = gen_current(r);
    *out = g->spec.traffic;
    cn_router__gen_release(r, g);
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
    if (!r->started || r->stopped) {
        /* No worker thread runs (cn_router_stop sets `stopped` only once
         * every worker has been joined, under this lock): the shards are
         * ours to read. */
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
    unsigned what;
} snap_job_t;

static void snap_copy(cn_router_worker_t *w, void *arg)
{
    snap_job_t *job = arg;
    cn_router_shard_sync_step(&w->shard, job->step);
    cn_router_shard_copy(&w->shard, job->what, &job->parts[w->index]);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = cn_xmalloc(n + 1);
    memcpy(d, s, n + 1);
    return d;
}

cn_router_snapshot_t *cn_router_snapshot(cn_router_t *r, unsigned what)
{
    cn_router_snapshot_t *s = cn_xcalloc(1, sizeof *s);
    what &= CN_ROUTER_SNAP_ALL;
    s->what = what;
    snap_job_t job;
    job.parts = cn_xcalloc(r->nworkers, sizeof *job.parts);
    job.what = what;
    /* read the step before the generation: a change in between shows as
     * an older step with a newer generation, never the reverse */
    job.step = atomic_load(&r->step);
    s->step_started_unix_s = (double)atomic_load(&r->step_started_ns) * 1e-9;
    cn_router_gen_t *g = gen_current(r);
    cn_router__call_workers(r, snap_copy, &job);
    const cn_router_config_t *cfg = r->cfg;
    cn_router_shard_merge(job.parts, r->nworkers, cfg->reservoir_size,
                          cfg->n_prediction_buckets, realtime_ns(), s);
    if (what & CN_ROUTER_SNAP_ADDRESSES)
        cn_router_shard_merge_addresses(job.parts, r->nworkers, &g->spec, s);
    for (unsigned i = 0; i < r->nworkers; i++)
        cn_router_shard_part_dispose(&job.parts[i]);
    free(job.parts);
    s->step = job.step;
    s->now_unix_s = (double)realtime_ns() * 1e-9;
    s->generation = g->spec.number;
    s->traffic = g->spec.traffic;
    for (int role = 0; role < CN_ROLE_COUNT; role++)
        s->version_name[role] = dup_str(g->spec.sets[role].version);
    s->workers = r->nworkers;
    s->connections_open = atomic_load(&r->connections_open);
    s->connections_total = atomic_load(&r->connections_total);
    for (int i = 0; i < CN_ROUTER_REJECT_COUNT; i++)
        s->rejects[i] = atomic_load(&r->rejects[i]);
    s->nupstreams = g->count[CN_ROLE_STABLE] + g->count[CN_ROLE_CANARY];
    s->upstreams = cn_xcalloc(s->nupstreams + 1, sizeof *s->upstreams);
    uint64_t now = cn_router_now_ms();
    size_t k = 0;
    for (int role = 0; role < CN_ROLE_COUNT; role++)
        for (size_t i = 0; i < g->count[role]; i++, k++) {
            cn_router_upstream_t *u = g->ups[role][i];
            s->upstreams[k].address = dup_str(u->address);
            s->upstreams[k].role = (cn_role_t)role;
            s->upstreams[k].up = cn_router_upstream_usable(u, now);
            s->upstreams[k].checked = atomic_load(&u->probed_ok);
            s->upstreams[k].failures = atomic_load(&u->failures_total);
        }
    cn_router__gen_release(r, g);
    s->prediction_bounds = cfg->prediction_buckets;
    s->n_prediction_bounds = cfg->n_prediction_buckets;
    return s;
}

void cn_router_snapshot_free(cn_router_snapshot_t *s)
{
    if (!s)
        return;
    cn_router_cells_free(s->cells, s->ncells);
    cn_router_addresses_free(s->addresses, s->naddresses);
    free(s->pairs);
    for (size_t i = 0; i < s->nupstreams; i++)
        free(s->upstreams[i].address);
    free(s->upstreams);
    for (int role = 0; role < CN_ROLE_COUNT; role++)
        free((char *)s->version_name[role]);
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
    return 0;
}
typedef struct join_job_s {
    cn_router_join_t *items;
    size_t n;
    double not_before;
    cn_router_lookup_t *found; /* [worker * n + i]; unix_s < 0: not found */
    double *oldest;            /* [worker] */
} join_job_t;

static void join_one(cn_router_worker_t *w, void *arg)
{
    join_job_t *job = arg;
    cn_router_lookup_t *mine = job->found + (size_t)w->index * job->n;
    for (size_t i = 0; i < job->n; i++) {
        const cn_router_join_t *it = &job->items[i];
        if (!cn_router_shard_join(&w->shard, it->id, it->len, it->mark, job->not_before,
                                  &mine[i]))
            mine[i].unix_s = -1;
    }
    job->oldest[w->index] = cn_router_shard_oldest_id(&w->shard);
}

void cn_router_join(cn_router_t *r, cn_router_join_t *items, size_t n,
                    double not_before, double *oldest)
{
    unsigned nw = cn_router_workers(r);
    join_job_t job = {.items = items, .n = n, .not_before = not_before};
    job.found = cn_xcalloc((size_t)nw * (n ? n : 1), sizeof *job.found);
    job.oldest = cn_xcalloc(nw, sizeof *job.oldest);
    cn_router__call_workers(r, join_one, &job);
    /* Each worker wrote only its own slice; the newest request wins (an id
     * reused by a client resolves to its latest request, as a lookup). */
    for (size_t i = 0; i < n; i++) {
        items[i].found = false;
        for (unsigned k = 0; k < nw; k++) {
            const cn_router_lookup_t *l = &job.found[(size_t)k * n + i];
            if (l->unix_s >= 0 &&
                (!items[i].found || l->unix_s > items[i].result.unix_s)) {
                items[i].result = *l;
                items[i].found = true;
            }
        }
    }
    double o = NAN;
    for (unsigned k = 0; k < nw; k++)
        if (!isnan(job.oldest[k]) && (isnan(o) || job.oldest[k] < o))
            o = job.oldest[k];
    if (oldest)
        *oldest = o;
    free(job.found);
    free(job.oldest);
}
