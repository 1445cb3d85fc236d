/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A replica driven by a controller (`canary control` with a `remote`
 * traffic engine, engines/remote.h): the three routes the engine calls,
 * and the fail-safe lease.
 *
 *   PUT  /v1/generation   apply one whole generation (engines/wire.h's
 *                         JSON) through this replica's own controller:
 *                         a new local generation and step, stored and
 *                         logged as any change, "by controller NAME"
 *   POST /v1/lease        renew the lease: {"controller", "generation"}
 *   GET  /v1/snapshot?generation=G&mask=M
 *                         the router snapshot of the step that the
 *                         controller's generation G opened, binary
 *                         (wire.h), exact
 *
 * Numbering. The replica keeps its own generation numbers (its state file
 * may be ahead of any controller's); the controller (controller.h,
 * remote_generation) remembers which local generation the last remote
 * one opened, so "the step opened by controller generation G" is the
 * current step if G is the last one applied and nothing changed here
 * since; otherwise that step is over (404). The same G again changes
 * nothing; an older G is refused (409).
 *
 * The lease (serve.lease; 0: none). From start and from every apply or
 * renewal by its controller, a replica whose canary weight is above 0
 * and which hears nothing for the lease sets the weight to 0 by itself,
 * through its own controller ("by lease"), logs one line and counts it in
 * /metrics (canary_lease_expired_total; canary_lease_contact_age_seconds
 * says how long ago the controller last spoke). It fires once per silence:
 * a weight a person sets afterwards stays. A timer on the admin loop
 * checks every CHECK_MS, so the fallback comes within lease + CHECK_MS
 * plus one publication.
 *
 * Who may change what. While a controller holds a live lease (it has
 * spoken within the lease), this replica is managed: its own rollout
 * commands and traffic or version changes are refused with 409 naming the
 * controller, except a canary weight of 0 and a rollout's abort (the
 * operator's way out is never refused). Another controller is refused too
 * until the lease runs out; then it takes over and its numbers start over.
 * A renewal for a generation this replica does not run (it restarted, or
 * fell back, or a person set the weight 0) is refused with 409: the
 * controller must apply again, which it does at its next change, and
 * until then its reads of that generation fail, so it holds.
 */
#include "api/admin_internal.h"
#include "engines/wire.h"
#include "metrics/prom.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK_MS 50u

struct cn_admin__lease_s {
    cn_admin_t *admin;
    uint64_t configured_ms; /* serve.lease; 0: the controller's */
    pthread_mutex_t mu;
    uint64_t lease_ms; /* in force: configured, else what the controller
                          announced (0: no fallback); under mu */
    char controller[CN_WIRE_CONTROLLER_MAX + 1]; /* the holder; "" none yet */
    int64_t contact_ms;                          /* monotonic; last apply/renew */
    bool armed;                                  /* a fallback is owed */
    bool firing;                                 /* its change is in flight */
    uint64_t expired_total;
    uv_timer_t timer;
    bool started, closed;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under mu: a controller holds a live lease. Without a lease configured, a
 * controller that spoke holds the replica until another takes over. */
static bool held_locked(const cn_admin__lease_t *l, int64_t now)
{
    if (!l->controller[0])
        return false;
    return l->lease_ms == 0 || now - l->contact_ms < (int64_t)l->lease_ms;
}

cn_admin__lease_t *cn_admin__lease_new(cn_admin_t *a)
{
    cn_admin__lease_t *l = cn_xcalloc(1, sizeof *l);
    l->admin = a;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void cn_admin__lease_free(cn_admin__lease_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

void cn_admin_set_lease(cn_admin_t *a, uint64_t lease_ms)
{
    a->lease->configured_ms = a->lease->lease_ms = lease_ms;
}

/* ------------------------------------------------------------ fallback */

static void on_fallback(const cn_controller_result_t *r, void *arg)
{
    cn_admin__lease_t *l = arg;
    FILE *log = l->admin->log ? l->admin->log : stderr;
    pthread_mutex_lock(&l->mu);
    l->firing = false;
    if (r->rc == 0 && r->changed)
        l->expired_total++;
    char who[CN_WIRE_CONTROLLER_MAX + 1];
    snprintf(who, sizeof who, "%s", l->controller[0] ? l->controller : "(none yet)");
    uint64_t lease_ms = l->lease_ms;
    pthread_mutex_unlock(&l->mu);
    if (r->rc)
        fprintf(log, "canary: lease: the fallback to canary weight 0 failed: %s\n",
                r->error);
    else
        fprintf(log,
                "canary: lease: no word from controller %s for %" PRIu64
                " ms: canary weight set to 0 (generation %" PRIu64 ")\n",
                who, lease_ms, r->generation.number);
    fflush(log);
}

static void on_check(uv_timer_t *t)
{
    cn_admin__lease_t *l = t->data;
    int64_t now = mono_ms();
    pthread_mutex_lock(&l->mu);
    bool due = l->lease_ms && l->armed && !l->firing &&
               now - l->contact_ms >= (int64_t)l->lease_ms;
    pthread_mutex_unlock(&l->mu);
    if (!due)
        return;
    cn_generation_t g;
    cn_generation_init(&g);
    cn_controller_current(l->admin->controller, &g, NULL);
    uint16_t w = g.traffic.canary_weight_bp;
    cn_generation_dispose(&g);
    pthread_mutex_lock(&l->mu);
    l->armed = false; /* once per silence */
    l->firing = w > 0;
    pthread_mutex_unlock(&l->mu);
    if (w == 0)
        return;
    cn_controller_change_t ch;
    cn_controller_change_init(&ch, "lease");
    ch.has_canary_weight = true;
    ch.traffic.canary_weight_bp = 0;
    if (cn_controller_submit(l->admin->controller, &ch, on_fallback, l)) {
        pthread_mutex_lock(&l->mu);
        l->firing = false;
        l->armed = true; /* try again at the next check */
        pthread_mutex_unlock(&l->mu);
    }
    cn_controller_change_dispose(&ch);
}

void cn_admin__lease_start(cn_admin__lease_t *l)
{
    if (l->started)
        return;
    l->started = true;
    pthread_mutex_lock(&l->mu);
    l->contact_ms = mono_ms();
    /* with serve.lease, a restarted replica's stored weight is guarded
     * before any controller speaks */
    l->armed = l->configured_ms > 0;
    pthread_mutex_unlock(&l->mu);
    uv_timer_init(&l->admin->loop, &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, on_check, CHECK_MS, CHECK_MS);
}

void cn_admin__lease_stop(cn_admin__lease_t *l)
{
    if (!l || !l->started || l->closed)
        return;
    l->closed = true;
    uv_close((uv_handle_t *)&l->timer, NULL);
}

int cn_admin__lease_exposition(cn_admin_t *a, cn_prom_writer_t *w)
{
    cn_admin__lease_t *l = a->lease;
    pthread_mutex_lock(&l->mu);
    bool contacted = l->controller[0] != '\0';
    int64_t age = mono_ms() - l->contact_ms;
    uint64_t expired = l->expired_total;
    bool held = held_locked(l, mono_ms());
    uint64_t lease_ms = l->lease_ms;
    pthread_mutex_unlock(&l->mu);
    if (!lease_ms && !contacted)
        return 0;
    cn_prom_family(w, "canary_lease_seconds", CN_PROM_GAUGE,
                   "the fail-safe lease (serve.lease): silence from the controller "
                   "after which a canary weight above 0 drops to 0; 0: none");
    cn_prom_sample_double(w, NULL, NULL, 0, (double)lease_ms / 1000.0);
    cn_prom_family(w, "canary_lease_expired_total", CN_PROM_COUNTER,
                   "times the lease ran out with a canary weight above 0 and this "
                   "replica set the weight to 0 by itself");
    cn_prom_sample_u64(w, NULL, NULL, 0, expired);
    cn_prom_family(w, "canary_lease_contact_age_seconds", CN_PROM_GAUGE,
                   "seconds since the controller last applied a generation or "
                   "renewed the lease (since start when none has yet)");
    cn_prom_sample_double(w, NULL, NULL, 0, (double)age / 1000.0);
    cn_prom_family(w, "canary_lease_managed", CN_PROM_GAUGE,
                   "1 while a controller holds a live lease (this replica's own "
                   "changes are refused)");
    cn_prom_sample_u64(w, NULL, NULL, 0, held ? 1 : 0);
    return w->error;
}

bool cn_admin__managed_refuse(cn_admin_request_t *req)
{
    cn_admin__lease_t *l = req->admin->lease;
    int64_t now = mono_ms();
    pthread_mutex_lock(&l->mu);
    bool held = held_locked(l, now);
    char who[CN_WIRE_CONTROLLER_MAX + 1];
    snprintf(who, sizeof who, "%s", l->controller);
    int64_t age = now - l->contact_ms;
    uint64_t lease_ms = l->lease_ms;
    pthread_mutex_unlock(&l->mu);
    if (!held)
        return false;
    cn_admin__respond_error(req, 409,
                            "this replica is managed by controller %s (last contact "
                            "%" PRId64 " ms ago, lease %" PRIu64
                            " ms): change it through the controller; only a canary "
                            "weight of 0 or a rollout's abort is taken here",
                            who, age, lease_ms);
    return true;
}

/* ------------------------------------------------------------ routes */

/* Under mu: may `name` drive this replica now? 0, or 409 text in err;
 * *takeover when it replaces another (or the first) controller. */
static int may_drive_locked(cn_admin__lease_t *l, const char *name, int64_t now,
                            bool *takeover, char *err, size_t errlen)
{
    *takeover = strcmp(l->controller, name) != 0;
    if (*takeover && held_locked(l, now))
        return cn_fail(err, errlen, CN_ECONFLICT,
                       "this replica is managed by controller %s (last contact %" PRId64
                       " ms ago, lease %" PRIu64 " ms); %s may take over when the "
                       "lease runs out",
                       l->controller, now - l->contact_ms, l->lease_ms, name);
    return 0;
}

/* The controller spoke: it holds the lease, for its lease unless
 * serve.lease says otherwise. */
static void contact(cn_admin__lease_t *l, const char *name, uint64_t announced_ms)
{
    pthread_mutex_lock(&l->mu);
    l->lease_ms = l->configured_ms ? l->configured_ms : announced_ms;
    snprintf(l->controller, sizeof l->controller, "%s", name);
    l->contact_ms = mono_ms();
    l->armed = true;
    pthread_mutex_unlock(&l->mu);
}

typedef struct apply_s {
    cn_admin_request_t *req;
    cn_admin__lease_t *lease;
    char controller[CN_WIRE_CONTROLLER_MAX + 1];
    uint64_t remote, lease_ms;
} apply_t;

/* On the control loop's thread. */
static void on_applied(const cn_controller_result_t *r, void *arg)
{
    apply_t *p = arg;
    cn_admin_t *a = p->lease->admin;
    if (r->rc) {
        cn_admin__respond_error(p->req, cn_admin__status_of(r->rc), "%s",
                                r->error[0] ? r->error : cn_strerror(r->rc));
        free(p);
        return;
    }
    contact(p->lease, p->controller, p->lease_ms);
    uint64_t remote, local;
    cn_step_t step;
    cn_controller_remote(a->controller, &remote, &local, &step);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "generation");
    cn_jsonw_u64(&w, p->remote);
    cn_jsonw_key(&w, "local_generation");
    cn_jsonw_u64(&w, remote == p->remote ? local : 0);
    cn_jsonw_key(&w, "step");
    cn_jsonw_u64(&w, remote == p->remote ? step.number : 0);
    cn_jsonw_key(&w, "changed");
    cn_jsonw_bool(&w, r->changed);
    cn_jsonw_key(&w, "canary_weight_bp");
    cn_jsonw_u64(&w, r->generation.traffic.canary_weight_bp);
    cn_jsonw_key(&w, "effective_weight_bp");
    cn_jsonw_u64(&w, r->changed ? r->effective_weight_bp
                                : r->generation.traffic.canary_weight_bp);
    cn_jsonw_object_end(&w);
    cn_admin__respond_json(p->req, 200, &w);
    free(p);
}

static void handle_generation(cn_admin_request_t *req)
{
    cn_admin_t *a = req->admin;
    if (!a->ops.snapshot) { /* canary control drives; it is driven by none */
        cn_admin__respond_error(req, 404, "%s", CN_ADMIN__NO_DATA_PLANE);
        return;
    }
    const cn_http_message_t *msg = cn_admin_request_message(req);
    char err[512], name[CN_WIRE_CONTROLLER_MAX + 1];
    cn_generation_t g;
    cn_generation_init(&g);
    uint64_t lease_ms;
    if (cn_wire_generation_parse(msg->body, msg->body_len, &g, name, &lease_ms, err,
                                 sizeof err)) {
        cn_generation_dispose(&g);
        cn_admin__respond_error(req, 400, "%s", err);
        return;
    }
    bool takeover;
    pthread_mutex_lock(&a->lease->mu);
    int rc = may_drive_locked(a->lease, name, mono_ms(), &takeover, err, sizeof err);
    pthread_mutex_unlock(&a->lease->mu);
    if (rc) {
        cn_generation_dispose(&g);
        cn_admin__respond_error(req, 409, "%s", err);
        return;
    }
    cn_controller_change_t ch;
    char who[CN_CONTROLLER_WHO_MAX + 1];
    snprintf(who, sizeof who, "controller %s", name);
    cn_controller_change_init(&ch, who);
    ch.has_canary_weight = ch.has_shadow = ch.has_mode = ch.has_force = true;
    ch.traffic = g.traffic;
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        ch.has_set[r] = true;
        cn_version_set_copy(&ch.sets[r], &g.sets[r]);
    }
    ch.remote_generation = g.number;
    ch.remote_takeover = takeover;
    apply_t *p = cn_xcalloc(1, sizeof *p);
    p->req = req;
    p->lease = a->lease;
    p->remote = g.number;
    p->lease_ms = lease_ms;
    snprintf(p->controller, sizeof p->controller, "%s", name);
    rc = cn_controller_submit(a->controller, &ch, on_applied, p);
    if (rc) {
        free(p);
        cn_admin__respond_error(req, 503, "%s",
                                rc == CN_ETOOBIG ? "too many changes waiting; try again"
                                                 : "the controller is stopping");
    }
    cn_controller_change_dispose(&ch);
    cn_generation_dispose(&g);
}

static void handle_lease(cn_admin_request_t *req)
{
    cn_admin_t *a = req->admin;
    if (!a->ops.snapshot) {
        cn_admin__respond_error(req, 404, "%s", CN_ADMIN__NO_DATA_PLANE);
        return;
    }
    const cn_http_message_t *msg = cn_admin_request_message(req);
    char err[512], name[CN_WIRE_CONTROLLER_MAX + 1];
    uint64_t gen, lease_ms;
    if (cn_wire_lease_parse(msg->body, msg->body_len, name, &gen, &lease_ms, err,
                            sizeof err)) {
        cn_admin__respond_error(req, 400, "%s", err);
        return;
    }
    uint64_t remote, local;
    cn_controller_remote(a->controller, &remote, &local, NULL);
    cn_generation_t cur;
    cn_generation_init(&cur);
    cn_controller_current(a->controller, &cur, NULL);
    uint64_t now_local = cur.number;
    cn_generation_dispose(&cur);
    bool takeover;
    pthread_mutex_lock(&a->lease->mu);
    int rc = may_drive_locked(a->lease, name, mono_ms(), &takeover, err, sizeof err);
    pthread_mutex_unlock(&a->lease->mu);
    if (!rc && takeover)
        rc = cn_fail(err, sizeof err, CN_ECONFLICT,
                     "controller %s has applied no generation here: apply one first",
                     name);
    else if (!rc && gen != remote)
        rc = cn_fail(err, sizeof err, CN_ECONFLICT,
                     "this replica runs controller generation %" PRIu64 ", not %" PRIu64
                     ": apply it again",
                     remote, gen);
    else if (!rc && local != now_local)
        rc = cn_fail(err, sizeof err, CN_ECONFLICT,
                     "generation %" PRIu64 " no longer runs here: it changed since "
                     "(by lease or by a person; local generation %" PRIu64
                     " now): apply it again",
                     gen, now_local);
    if (rc) {
        cn_admin__respond_error(req, 409, "%s", err);
        return;
    }
    contact(a->lease, name, lease_ms);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "generation");
    cn_jsonw_u64(&w, gen);
    pthread_mutex_lock(&a->lease->mu);
    lease_ms = a->lease->lease_ms;
    pthread_mutex_unlock(&a->lease->mu);
    cn_jsonw_key(&w, "lease_ms");
    cn_jsonw_u64(&w, lease_ms);
    cn_jsonw_object_end(&w);
    cn_admin__respond_json(req, 200, &w);
}

/* "generation=7&mask=5": both required, decimal. 0, or 400 text in err. */
static int snapshot_query(const char *q, size_t len, uint64_t *gen, unsigned *mask,
                          char *err, size_t errlen)
{
    bool has_gen = false, has_mask = false;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && q[end] != '&')
            end++;
        const char *eq = memchr(q + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (q + i)) : end - i;
        uint64_t v = 0;
        bool num = eq && (size_t)(q + end - (eq + 1)) > 0 &&
                   (size_t)(q + end - (eq + 1)) <= 19;
        for (const char *p = eq ? eq + 1 : q + end; num && p < q + end; p++) {
            if (*p < '0' || *p > '9')
                num = false;
            else
                v = v * 10 + (uint64_t)(*p - '0');
        }
        if (klen == 10 && memcmp(q + i, "generation", 10) == 0) {
            if (!num || v == 0)
                return cn_fail(err, errlen, CN_EINVAL,
                               "generation: must be an integer >= 1");
            *gen = v;
            has_gen = true;
        } else if (klen == 4 && memcmp(q + i, "mask", 4) == 0) {
            if (!num || v > CN_ROUTER_SNAP_ALL)
                return cn_fail(err, errlen, CN_EINVAL,
                               "mask: must be an integer in [0, %u] (CN_ROUTER_SNAP_*)",
                               CN_ROUTER_SNAP_ALL);
            *mask = (unsigned)v;
            has_mask = true;
        } else {
            return cn_fail(err, errlen, CN_EINVAL,
                           "unknown parameter: only generation and mask");
        }
        i = end + 1;
    }
    if (!has_gen || !has_mask)
        return cn_fail(err, errlen, CN_EINVAL, "%s: required",
                       has_gen ? "mask" : "generation");
    return 0;
}

typedef struct snap_job_s {
    uint64_t generation;
    unsigned mask;
    cn_admin_response_t res;
} snap_job_t;

/* On the thread pool. */
static void snapshot_work(cn_admin_request_t *req, void *arg)
{
    snap_job_t *job = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    uint64_t remote, local;
    cn_controller_remote(a->controller, &remote, &local, NULL);
    if (remote != job->generation) {
        cn_admin_response_error(&job->res, 404,
                                "controller generation %" PRIu64
                                " is not applied here (the last applied is %" PRIu64
                                ")",
                                job->generation, remote);
        return;
    }
    cn_router_snapshot_t *s = a->ops.snapshot(a->ops.ctx, job->mask);
    if (!s) {
        cn_admin_response_error(&job->res, 503, "no snapshot of the router");
        return;
    }
    /* The snapshot says which generation it measured: checked after taking
     * it, so a change in between cannot slip through. */
    if (s->generation != local) {
        cn_admin_response_error(&job->res, 404,
                                "controller generation %" PRIu64
                                " no longer runs here: its step is over (local "
                                "generation %" PRIu64 " now, %" PRIu64 " then)",
                                job->generation, s->generation, local);
        a->ops.snapshot_free(a->ops.ctx, s);
        return;
    }
    s->generation = job->generation; /* in the controller's numbers */
    cn_buf_t b;
    cn_buf_init(&b, CN_ADMIN_MAX_RESPONSE_BYTES);
    int rc = cn_wire_snapshot_render(&b, s);
    a->ops.snapshot_free(a->ops.ctx, s);
    if (rc) {
        cn_buf_dispose(&b);
        cn_admin_response_error(&job->res, 500, "snapshot: %s", cn_strerror(rc));
        return;
    }
    job->res.status = 200;
    job->res.content_type = CN_WIRE_SNAPSHOT_TYPE;
    job->res.body = cn_buf_take(&b, &job->res.body_len);
}

static void snapshot_done(cn_admin_request_t *req, void *arg)
{
    snap_job_t *job = arg;
    cn_admin_respond(req, &job->res);
    free(job);
}

static void handle_snapshot(cn_admin_request_t *req)
{
    if (!req->admin->ops.snapshot) {
        cn_admin__respond_error(req, 404, "%s", CN_ADMIN__NO_DATA_PLANE);
        return;
    }
    size_t qlen;
    const char *q = cn_admin_request_query(req, &qlen);
    char err[256];
    snap_job_t *job = cn_xcalloc(1, sizeof *job);
    if (snapshot_query(q, qlen, &job->generation, &job->mask, err, sizeof err)) {
        free(job);
        cn_admin__respond_error(req, 400, "%s", err);
        return;
    }
    int rc = cn_admin__offload(req, snapshot_work, snapshot_done, job);
    if (rc) {
        free(job);
        cn_admin__respond_error(req, 503, "snapshot: %s", uv_strerror(rc));
    }
}

void cn_admin__remote_routes(cn_admin_t *a)
{
    static const cn_admin_route_t routes[] = {
        {CN_ADMIN_PUT, "/v1/generation", true, handle_generation, NULL},
        {CN_ADMIN_POST, "/v1/lease", true, handle_lease, NULL},
        {CN_ADMIN_GET, "/v1/snapshot", true, handle_snapshot, NULL},
    };
    char err[128];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (cn_admin_add_route(a, &routes[i], err, sizeof err))
            abort();
}
