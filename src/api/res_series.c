/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The measurements over time that the dashboard draws, and the sampler
 * that keeps them.
 *
 *   GET /v1/series[?rollout=ID&since=UNIX_MS]
 *
 * The router keeps cumulative counters and per-step figures, not history.
 * Once a second (CN_ADMIN_SERIES_INTERVAL_MS) a timer on the admin loop
 * queues one sample on libuv's thread pool (a router snapshot waits on
 * every worker, so it never runs on the loop; a tick that finds the last
 * sample still running is skipped): a snapshot of counters and latency
 * histograms, summed per arm over the segments of the arm's current
 * version. The difference from the previous sample is one point: each
 * arm's requests, errors (transport failures plus 5xx, as the judge counts
 * them) and the p50 / p95 / p99 of that second's latencies (the difference
 * of two copies of the cumulative histogram, cn_metrics_hist_delta), with
 * the time, the canary weight and the active rollout (0 for none). Points
 * go into a ring of CN_ADMIN_SERIES_POINTS (an hour at one a second,
 * 248 bytes a point, 872 KiB); the oldest is overwritten. An arm whose version changed
 * since the previous sample starts again from that sample (no point for
 * it that second): its cells are a new key, and a version label seen
 * before (a retried rollout) may carry old counts.
 *
 * The sample also keeps each arm's prediction buckets (cumulative counts
 * per configured bound, as /metrics exposes them, for the arm's current
 * version since it was first routed in this process): the dashboard
 * overlays the two distributions.
 *
 * After each sample the loop sends it to the event streams
 * (res_events.c) as an "sample" event, and a "rollout" event when the
 * active rollout changed (another rollout, state, step, weight, verdict).
 *
 * The answer: {"interval_ms": 1000, "points": [{"t": ms, "rollout": id,
 * "weight": pct, "stable": {"version", "requests", "errors", "p50_ms",
 * "p95_ms", "p99_ms"}, "canary": {...}}, ...], "predictions": {"bounds":
 * [...], "stable": {"version", "count", "le": [...]}, "canary": ...}}.
 * An arm with no version has no key; quantiles of an interval without a
 * request are null. ?rollout keeps the points of that rollout, ?since
 * those after a time.
 */
#include "api/admin_internal.h"
#include "metrics/metrics.h"
#include "util/clock.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/text.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define CN_ADMIN_SERIES_INTERVAL_MS 1000u
#define CN_ADMIN_SERIES_POINTS 3600u
#define LABEL_MAX 64

static const char *const arm_names[CN_ROLE_COUNT] = {"stable", "canary"};

typedef struct arm_point_s {
    bool present; /* the arm had a version, seen the sample before too */
    char version[LABEL_MAX];
    uint64_t requests, errors;
    double p50_ms, p95_ms, p99_ms;
} arm_point_t;

typedef struct point_s {
    int64_t t_ms;
    int64_t rollout_id;
    double weight_pct;
    arm_point_t arm[CN_ROLE_COUNT];
} point_t;

/* What one sample read of one arm, summed over its version's segments. */
typedef struct arm_total_s {
    bool have;
    char version[LABEL_MAX];
    uint64_t requests, errors;
    cn_metrics_hist_t *latency; /* cumulative; heap (35 KiB) */
    uint64_t predictions;       /* extracted: the last bucket's count */
    uint64_t *prediction_le;    /* cumulative per bound, then +Inf */
} arm_total_t;

/* The active rollout as the last sample saw it, for "rollout" events. */
typedef struct rollout_mark_s {
    int64_t id;
    uint64_t transitions;
    uint32_t step;
    uint16_t weight_bp;
    int64_t verdict_ms;
    int state;
} rollout_mark_t;

struct cn_admin__series_s {
    cn_admin_t *admin;
    /* loop thread */
    uv_timer_t timer;
    uv_work_t work;
    bool started, busy, timer_closed;
    /* the sampling thread (one sample at a time: busy) */
    arm_total_t prev[CN_ROLE_COUNT];
    bool have_prev;
    point_t fresh; /* the point the last sample made */
    bool fresh_ok;
    rollout_mark_t mark;
    bool rollout_changed;
    /* shared: under mu */
    pthread_mutex_t mu;
    point_t *ring;
    size_t head, n; /* the next slot; points held */
    size_t nbounds;
    double *bounds;
    arm_total_t pred[CN_ROLE_COUNT]; /* prediction buckets only */
};

/* ------------------------------------------------------------ sampling */

static void arm_total_init(arm_total_t *t, size_t nbuckets)
{
    memset(t, 0, sizeof *t);
    t->latency = cn_xmalloc(sizeof *t->latency);
    cn_metrics_hist_init(t->latency);
    t->prediction_le = cn_xcalloc(nbuckets ? nbuckets : 1, sizeof *t->prediction_le);
}

static void arm_total_dispose(arm_total_t *t)
{
    free(t->latency);
    free(t->prediction_le);
    memset(t, 0, sizeof *t);
}

/* Sum the cells of role's current version into t. */
static void arm_total_read(arm_total_t *t, const cn_router_snapshot_t *s,
                           cn_role_t role)
{
    const char *label = s->version_name[role];
    size_t nb = s->n_prediction_bounds + 1;
    arm_total_init(t, nb);
    if (!label || !label[0])
        return;
    t->have = true;
    snprintf(t->version, sizeof t->version, "%s", label);
    for (size_t i = 0; i < s->ncells; i++) {
        const cn_router_cell_t *c = &s->cells[i];
        /* a cell without a label is the role's current version, as
         * /metrics reads it (exposition.c) */
        if (c->role != role || (c->version && strcmp(c->version, label) != 0))
            continue;
        t->requests += c->requests;
        t->errors += c->responses_by_class[5];
        for (int k = 0; k < CN_ROUTER_FAIL_COUNT; k++)
            t->errors += c->failures[k];
        if (c->latency)
            cn_metrics_hist_merge(t->latency, c->latency);
        if (c->prediction_le)
            for (size_t b = 0; b < nb; b++)
                t->prediction_le[b] += c->prediction_le[b];
    }
    t->predictions = t->prediction_le[nb - 1];
}

static double quantile_ms(const cn_metrics_hist_t *h, double q)
{
    return (double)cn_metrics_hist_quantile(h, q) / 1000.0;
}

/* One sample: a snapshot, the point it makes with the previous one, the
 * prediction buckets. On the thread pool (or a test's thread). */
static int sample(cn_admin__series_t *se)
{
    cn_admin_t *a = se->admin;
    se->fresh_ok = false;
    cn_router_snapshot_t *s = a->ops.snapshot(
        a->ops.ctx, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS);
    if (!s)
        return CN_EIO;
    cn_controller_live_t live;
    cn_controller_live(a->controller, &live);

    arm_total_t now[CN_ROLE_COUNT];
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        arm_total_read(&now[r], s, (cn_role_t)r);

    point_t *p = &se->fresh;
    memset(p, 0, sizeof *p);
    p->t_ms = cn_clock_unix_ms();
    p->rollout_id = live.id;
    p->weight_pct = s->traffic.canary_weight_bp / 100.0;
    cn_metrics_hist_t *delta = cn_xmalloc(sizeof *delta);
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        const arm_total_t *was = &se->prev[r], *is = &now[r];
        arm_point_t *ap = &p->arm[r];
        if (!is->have || !se->have_prev || !was->have ||
            strcmp(was->version, is->version) != 0 || is->requests < was->requests)
            continue;
        ap->present = true;
        snprintf(ap->version, sizeof ap->version, "%s", is->version);
        ap->requests = is->requests - was->requests;
        ap->errors = is->errors > was->errors ? is->errors - was->errors : 0;
        cn_metrics_hist_delta(delta, is->latency, was->latency);
        ap->p50_ms = quantile_ms(delta, 0.50);
        ap->p95_ms = quantile_ms(delta, 0.95);
        ap->p99_ms = quantile_ms(delta, 0.99);
        if (cn_metrics_hist_count(delta) == 0)
            ap->p50_ms = ap->p95_ms = ap->p99_ms = -1;
    }
    free(delta);
    se->fresh_ok = se->have_prev;

    /* the rollout as seen now: a change is worth an event */
    rollout_mark_t m = {
        .id = live.id,
        .transitions = live.id ? live.machine.transitions : 0,
        .step = live.id ? live.machine.step : 0,
        .weight_bp = live.id ? live.machine.weight_bp : 0,
        .verdict_ms = live.has_verdict ? live.verdict_ms : 0,
        .state = live.id ? (int)live.machine.state : -1,
    };
    se->rollout_changed = memcmp(&m, &se->mark, sizeof m) != 0;
    se->mark = m;

    pthread_mutex_lock(&se->mu);
    if (se->fresh_ok) {
        se->ring[se->head] = *p;
        se->head = (se->head + 1) % CN_ADMIN_SERIES_POINTS;
        if (se->n < CN_ADMIN_SERIES_POINTS)
            se->n++;
    }
    if (se->nbounds != s->n_prediction_bounds) {
        free(se->bounds);
        se->nbounds = s->n_prediction_bounds;
        se->bounds = cn_xcalloc(se->nbounds ? se->nbounds : 1, sizeof *se->bounds);
    }
    if (se->nbounds)
        memcpy(se->bounds, s->prediction_bounds, se->nbounds * sizeof *se->bounds);
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        arm_total_t *pr = &se->pred[r];
        free(pr->prediction_le);
        *pr = (arm_total_t){.have = now[r].have, .predictions = now[r].predictions};
        snprintf(pr->version, sizeof pr->version, "%s", now[r].version);
        pr->prediction_le = cn_xmalloc((se->nbounds + 1) * sizeof *pr->prediction_le);
        memcpy(pr->prediction_le, now[r].prediction_le,
               (se->nbounds + 1) * sizeof *pr->prediction_le);
    }
    pthread_mutex_unlock(&se->mu);

    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        arm_total_dispose(&se->prev[r]);
        se->prev[r] = now[r];
    }
    se->have_prev = true;
    a->ops.snapshot_free(a->ops.ctx, s);
    return 0;
}

/* ------------------------------------------------------------ rendering */

static void render_ms(cn_jsonw_t *w, const char *key, double ms)
{
    cn_jsonw_key(w, key);
    if (ms < 0)
        cn_jsonw_null(w);
    else
        cn_jsonw_double(w, ms);
}

static void render_point(cn_jsonw_t *w, const point_t *p)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "t");
    cn_jsonw_u64(w, (uint64_t)p->t_ms);
    cn_jsonw_key(w, "rollout");
    cn_jsonw_u64(w, (uint64_t)p->rollout_id);
    cn_jsonw_key(w, "weight");
    cn_jsonw_double(w, p->weight_pct);
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        const arm_point_t *ap = &p->arm[r];
        if (!ap->present)
            continue;
        cn_jsonw_key(w, arm_names[r]);
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "version");
        cn_jsonw_cstr(w, ap->version);
        cn_jsonw_key(w, "requests");
        cn_jsonw_u64(w, ap->requests);
        cn_jsonw_key(w, "errors");
        cn_jsonw_u64(w, ap->errors);
        render_ms(w, "p50_ms", ap->p50_ms);
        render_ms(w, "p95_ms", ap->p95_ms);
        render_ms(w, "p99_ms", ap->p99_ms);
        cn_jsonw_object_end(w);
    }
    cn_jsonw_object_end(w);
}

typedef struct series_job_s {
    int64_t rollout, since_ms;
    bool has_rollout;
    cn_admin_response_t res;
} series_job_t;

static void series_work(cn_admin_request_t *req, void *arg)
{
    series_job_t *job = arg;
    cn_admin__series_t *se = cn_admin_request_server(req)->series;
    cn_jsonw_t w;
    cn_jsonw_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "interval_ms");
    cn_jsonw_u64(&w, CN_ADMIN_SERIES_INTERVAL_MS);
    cn_jsonw_key(&w, "points");
    cn_jsonw_array_begin(&w);
    /* copied under the lock, rendered outside it: the sampler never waits
     * on a reader's rendering */
    pthread_mutex_lock(&se->mu);
    size_t n = se->n,
           first = (se->head + CN_ADMIN_SERIES_POINTS - n) % CN_ADMIN_SERIES_POINTS;
    point_t *copy = cn_xmalloc((n ? n : 1) * sizeof *copy);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const point_t *p = &se->ring[(first + i) % CN_ADMIN_SERIES_POINTS];
        if ((job->has_rollout && p->rollout_id != job->rollout) ||
            p->t_ms <= job->since_ms)
            continue;
        copy[kept++] = *p;
    }
    size_t nb = se->nbounds;
    double *bounds = cn_xmalloc((nb + 1) * sizeof *bounds);
    if (nb)
        memcpy(bounds, se->bounds, nb * sizeof *bounds);
    arm_total_t pred[CN_ROLE_COUNT];
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        pred[r] = se->pred[r];
        pred[r].latency = NULL;
        pred[r].prediction_le = cn_xcalloc(nb + 1, sizeof(uint64_t));
        if (se->pred[r].prediction_le)
            memcpy(pred[r].prediction_le, se->pred[r].prediction_le,
                   (nb + 1) * sizeof(uint64_t));
    }
    pthread_mutex_unlock(&se->mu);

    for (size_t i = 0; i < kept; i++)
        render_point(&w, &copy[i]);
    free(copy);
    cn_jsonw_array_end(&w);
    cn_jsonw_key(&w, "predictions");
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "bounds");
    cn_jsonw_array_begin(&w);
    for (size_t b = 0; b < nb; b++)
        cn_jsonw_double(&w, bounds[b]);
    cn_jsonw_array_end(&w);
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        if (!pred[r].have)
            continue;
        cn_jsonw_key(&w, arm_names[r]);
        cn_jsonw_object_begin(&w);
        cn_jsonw_key(&w, "version");
        cn_jsonw_cstr(&w, pred[r].version);
        cn_jsonw_key(&w, "count");
        cn_jsonw_u64(&w, pred[r].predictions);
        cn_jsonw_key(&w, "le");
        cn_jsonw_array_begin(&w);
        for (size_t b = 0; b <= nb; b++)
            cn_jsonw_u64(&w, pred[r].prediction_le[b]);
        cn_jsonw_array_end(&w);
        cn_jsonw_object_end(&w);
    }
    cn_jsonw_object_end(&w);
    cn_jsonw_object_end(&w);
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        free(pred[r].prediction_le);
    free(bounds);
    cn_admin__response_json(&job->res, 200, &w);
}

static void series_done(cn_admin_request_t *req, void *arg)
{
    series_job_t *job = arg;
    cn_admin_respond(req, &job->res);
    free(job);
}

/* A whole decimal number of at most 18 digits. */
static bool parse_num(const char *v, size_t len, int64_t *out)
{
    int64_t x = 0;
    if (len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return true;
}

static void handle_series(cn_admin_request_t *req)
{
    series_job_t *job = cn_xcalloc(1, sizeof *job);
    size_t qlen;
    const char *q = cn_admin_request_query(req, &qlen);
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    while (qlen) {
        const char *amp = memchr(q, '&', qlen);
        size_t n = amp ? (size_t)(amp - q) : qlen;
        const char *eq = memchr(q, '=', n);
        size_t klen = eq ? (size_t)(eq - q) : n;
        const char *v = eq ? eq + 1 : q + n;
        size_t vlen = eq ? n - klen - 1 : 0;
        bool ok = true;
        if (n == 0) {
            /* an empty part is nothing */
        } else if (klen == 7 && memcmp(q, "rollout", 7) == 0) {
            ok = parse_num(v, vlen, &job->rollout);
            job->has_rollout = true;
        } else if (klen == 5 && memcmp(q, "since", 5) == 0) {
            ok = parse_num(v, vlen, &job->since_ms);
        } else {
            free(job);
            cn_admin__respond_error(
                req, 400, "query: unknown key '%s' (expected rollout or since)",
                cn_text_quote(q, klen, 64, quoted));
            return;
        }
        if (!ok) {
            free(job);
            cn_admin__respond_error(req, 400, "%.*s: must be a whole number, got '%s'",
                                    (int)klen, q, cn_text_quote(v, vlen, 64, quoted));
            return;
        }
        if (!amp)
            break;
        qlen -= n + 1;
        q = amp + 1;
    }
    int rc = cn_admin__offload(req, series_work, series_done, job);
    if (rc) {
        free(job);
        cn_admin__respond_error(req, 503, "series: %s", uv_strerror(rc));
    }
}

/* ------------------------------------------------------------ the timer */

static void sample_work(uv_work_t *w)
{
    cn_admin__series_t *se = w->data;
    sample(se);
}

/* One SSE event: "event: NAME", the JSON of w as its one data line. */
static void sse_event(cn_buf_t *out, const char *name, cn_jsonw_t *w)
{
    size_t len;
    char *json = cn_jsonw_take(w, &len);
    if (!json)
        return;
    cn_buf_printf(out, "event: %s\ndata: ", name);
    cn_buf_add(out, json, len);
    cn_buf_str(out, "\n\n");
    free(json);
}

/* On the loop: hand the new point to the event streams. */
static void sample_after(uv_work_t *w, int status)
{
    (void)status;
    cn_admin__series_t *se = w->data;
    cn_admin_t *a = se->admin;
    se->busy = false;
    if (a->stopping || !a->streams)
        return;
    cn_buf_t out;
    cn_buf_init(&out, 64 * 1024);
    cn_jsonw_t jw;
    if (se->rollout_changed) {
        cn_jsonw_init(&jw, 4096);
        cn_jsonw_object_begin(&jw);
        cn_jsonw_key(&jw, "id");
        cn_jsonw_u64(&jw, (uint64_t)se->mark.id);
        cn_jsonw_key(&jw, "step");
        cn_jsonw_u64(&jw, se->mark.step);
        cn_jsonw_key(&jw, "weight");
        cn_jsonw_double(&jw, se->mark.weight_bp / 100.0);
        cn_jsonw_key(&jw, "transitions");
        cn_jsonw_u64(&jw, se->mark.transitions);
        cn_jsonw_object_end(&jw);
        sse_event(&out, "rollout", &jw);
    }
    if (se->fresh_ok) {
        cn_jsonw_init(&jw, 4096);
        render_point(&jw, &se->fresh);
        sse_event(&out, "sample", &jw);
    } else {
        cn_buf_str(&out, ": no sample\n\n"); /* a comment keeps the stream alive */
    }
    if (!out.overflow)
        cn_admin__streams_send(a, out.data, out.len);
    cn_buf_dispose(&out);
}

static void on_tick(uv_timer_t *t)
{
    cn_admin__series_t *se = t->data;
    if (se->busy || se->admin->stopping)
        return; /* the last sample is still running: skip this one */
    se->work.data = se;
    if (uv_queue_work(t->loop, &se->work, sample_work, sample_after) == 0)
        se->busy = true;
}

cn_admin__series_t *cn_admin__series_new(cn_admin_t *a)
{
    cn_admin__series_t *se = cn_xcalloc(1, sizeof *se);
    se->admin = a;
    se->ring = cn_xcalloc(CN_ADMIN_SERIES_POINTS, sizeof *se->ring);
    se->mark.state = -1;
    pthread_mutex_init(&se->mu, NULL);
    return se;
}

void cn_admin__series_start(cn_admin__series_t *se)
{
    if (se->started || !se->admin->ops.snapshot)
        return; /* canary control: no router to sample */
    se->started = true;
    uv_timer_init(&se->admin->loop, &se->timer);
    se->timer.data = se;
    uv_timer_start(&se->timer, on_tick, CN_ADMIN_SERIES_INTERVAL_MS,
                   CN_ADMIN_SERIES_INTERVAL_MS);
}

void cn_admin__series_stop(cn_admin__series_t *se)
{
    if (!se || !se->started || se->timer_closed)
        return;
    se->timer_closed = true;
    uv_close((uv_handle_t *)&se->timer, NULL);
}

int cn_admin__series_sample(cn_admin__series_t *se)
{
    return sample(se);
}

void cn_admin__series_free(cn_admin__series_t *se)
{
    if (!se)
        return;
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        arm_total_dispose(&se->prev[r]);
        free(se->pred[r].prediction_le);
    }
    free(se->bounds);
    free(se->ring);
    pthread_mutex_destroy(&se->mu);
    free(se);
}

void cn_admin__series_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET, "/v1/series", true,
                                           handle_series, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
