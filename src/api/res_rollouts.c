/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /v1/rollouts: start, read and steer rollouts.
 *
 *   GET  /v1/rollouts[?model=M&state=S&latest=1]   rollouts, newest first
 *   POST /v1/rollouts {"model", "version", "dry_run", "reason"}   start one
 *   POST /v1/rollouts {"model", "parity": true, "addresses", "reason"}
 *                                                  start a parity check
 *   GET  /v1/rollouts/{id}                         one rollout, with what the
 *                                                  controller sees now
 *   POST /v1/rollouts/{id}/pause|resume|promote|abort|retry
 *        {"reason": "..", "full": true (promote only), "dry_run" (retry)}
 *   GET  /v1/rollouts/{id}/history                 the audit trail
 *   GET  /v1/rollouts/{id}/analyses                its analyses, each with
 *                                                  the judge's full JSON
 *
 * Reads run on the thread pool (the store does disk I/O); commands go to
 * the control loop (cn_controller_rollout_op) and are answered from its
 * reply, so the admin loop never waits. Answers: 200 (201 for a start),
 * 400 naming the field, 404 for an unknown rollout, 409 when the rollout's
 * state refuses the command (with the machine's reason), 503 without a
 * state file.
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "api/codec_internal.h"
#include "controller/parity.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/text.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ROLLOUTS_PAGE 100

/* ------------------------------------------------------------ rendering */

static void key_i64(cn_jsonw_t *w, const char *k, int64_t v)
{
    cn_jsonw_key(w, k);
    if (v < 0)
        cn_jsonw_double(w, (double)v);
    else
        cn_jsonw_u64(w, (uint64_t)v);
}

static void key_str(cn_jsonw_t *w, const char *k, const char *v)
{
    cn_jsonw_key(w, k);
    cn_jsonw_cstr(w, v);
}

/*
 * One rollout: its stored row, and when the controller has it, its state
 * machine (m) and the live view (live: its id matches).
 */
/* The current step of an active rollout: its kind and, when it has one,
 * the time it ends (a timed pause or shadow step: step_ends_unix_ms) or
 * the latest an analysis may bake before it holds for samples
 * (bake_limit_unix_ms), so that a client can show the time left. */
static void render_step(cn_jsonw_t *w, const cn_strategy_t *s, const cn_rollout_t *m)
{
    if (!s || !cn_rollout_active(m->state) || m->step >= s->n_steps)
        return;
    const cn_strategy_step_t *st = &s->steps[m->step];
    cn_jsonw_key(w, "current_step");
    cn_jsonw_object_begin(w);
    key_str(w, "kind", cn_strategy_step_kind_name((cn_strategy_step_kind_t)st->kind));
    uint64_t ms = st->kind == CN_STRATEGY_SHADOW ? st->shadow.duration_ms
                  : st->kind == CN_STRATEGY_PAUSE && st->pause.has_duration
                      ? st->pause.duration_ms
                      : 0;
    if (ms && m->step_started_ms) {
        cn_jsonw_key(w, "duration_s");
        cn_jsonw_double(w, (double)ms / 1000.0);
        key_i64(w, "step_ends_unix_ms", m->step_started_ms + (int64_t)ms);
    }
    if (st->kind == CN_STRATEGY_ANALYSIS && m->window_started_ms)
        key_i64(w, "bake_limit_unix_ms",
                m->window_started_ms + (int64_t)s->max_bake_ms);
    cn_jsonw_object_end(w);
}

/* The blast radius so far: the user requests the canary answered, how
 * many failed, and their share of all user requests since the rollout
 * began. */
static void render_blast(cn_jsonw_t *w, uint64_t requests, uint64_t failed,
                         uint64_t all)
{
    cn_jsonw_key(w, "blast_radius");
    cn_jsonw_object_begin(w);
    key_i64(w, "canary_requests", (int64_t)requests);
    key_i64(w, "canary_failed", (int64_t)failed);
    cn_jsonw_key(w, "share");
    cn_jsonw_double(w, all ? (double)requests / (double)all : 0.0);
    cn_jsonw_object_end(w);
}

/* The blast radius stored with a rollout's machine (format 5 on; none
 * before, and then nothing is written). */
static void render_stored_blast(cn_jsonw_t *w, const cn_store_rollout_t *r)
{
    json_t *o = r->machine ? json_loads(r->machine, 0, NULL) : NULL;
    json_t *req = json_object_get(o, "blast_requests");
    if (json_is_integer(req))
        render_blast(w, (uint64_t)json_integer_value(req),
                     (uint64_t)json_integer_value(json_object_get(o, "blast_failed")),
                     (uint64_t)json_integer_value(json_object_get(o, "blast_all")));
    json_decref(o);
}

/* What a read says of parity: the spec of a parity check (spec set), or
 * the newest parity check of the model before a rollout (prev set). */
typedef struct parity_view_s {
    bool is_check;
    bool spec_ok;
    cn_parity_spec_t spec;
    bool has_prev;
    cn_store_rollout_t prev;
} parity_view_t;

/* A parity check's own block: its result and spec. */
static void render_parity(cn_jsonw_t *w, const cn_store_rollout_t *r,
                          const parity_view_t *pv)
{
    cn_jsonw_key(w, "parity");
    cn_jsonw_bool(w, true);
    cn_jsonw_key(w, "parity_check");
    cn_jsonw_object_begin(w);
    key_str(w, "result", cn_parity_result(r->state));
    if (pv->spec_ok) {
        key_str(w, "label", pv->spec.canary.version);
        cn_jsonw_key(w, "weight");
        cn_jsonw_double(w, pv->spec.weight_bp / 100.0);
        cn_jsonw_key(w, "duration_s");
        cn_jsonw_double(w, (double)pv->spec.duration_ms / 1000.0);
        cn_jsonw_key(w, "addresses");
        cn_jsonw_array_begin(w);
        for (size_t i = 0; i < pv->spec.canary.count; i++)
            cn_jsonw_cstr(w, pv->spec.canary.addresses[i]);
        cn_jsonw_array_end(w);
    }
    cn_jsonw_object_end(w);
}

/* A rollout's warning that the model's last parity check before it
 * failed: its arms may not be comparable (issue 17). Nothing when that
 * check passed, is running or was inconclusive. */
static void render_parity_warning(cn_jsonw_t *w, const parity_view_t *pv)
{
    if (!pv->has_prev || pv->prev.state != CN_STORE_ROLLOUT_ROLLED_BACK)
        return;
    cn_jsonw_key(w, "parity_warning");
    cn_jsonw_object_begin(w);
    key_i64(w, "parity_check_id", pv->prev.id);
    key_str(w, "result", cn_parity_result(pv->prev.state));
    key_str(w, "reason", pv->prev.reason);
    if (pv->prev.ended_unix_ms)
        key_i64(w, "ended_unix_ms", pv->prev.ended_unix_ms);
    char text[CN_STORE_REASON_MAX + 200];
    snprintf(text, sizeof text,
             "the last parity check of model '%s' (rollout %" PRId64
             ") failed: the arms may not be comparable, so a difference may be the "
             "infrastructure's, not the version's; run `canary rollout start %s "
             "--parity` once it is fixed",
             pv->prev.model, pv->prev.id, pv->prev.model);
    key_str(w, "message", text);
    cn_jsonw_object_end(w);
}

/* Read what a rollout's render says of parity (pv: dispose with
 * parity_view_dispose); without a store (a command's answer, on the
 * control loop, which must not wait for the disk) or on a store error
 * the warning is left out. */
static void parity_view(cn_store_t *store, const cn_store_rollout_t *r,
                        parity_view_t *pv)
{
    memset(pv, 0, sizeof *pv);
    cn_store_rollout_init(&pv->prev);
    char err[256];
    if (r->parity) {
        pv->is_check = true;
        bool is = false;
        /* initialises pv->spec */
        pv->spec_ok =
            cn_parity_spec_parse(r->strategy, &pv->spec, &is, err, sizeof err) == 0 &&
            is;
        return;
    }
    cn_parity_spec_init(&pv->spec);
    bool found = false;
    if (store && cn_store_rollout_parity_before(store, r->model, r->id, &pv->prev,
                                                &found, err, sizeof err) == 0)
        pv->has_prev = found;
}

static void parity_view_dispose(parity_view_t *pv)
{
    cn_parity_spec_dispose(&pv->spec);
    cn_store_rollout_dispose(&pv->prev);
}

static void render_rollout_as(cn_jsonw_t *w, const cn_store_rollout_t *r,
                              const cn_rollout_t *m, const cn_controller_live_t *live,
                              const cn_strategy_t *strategy, int64_t now,
                              const parity_view_t *pv);

/* One rollout as a read shows it: a parity check with the strategy it
 * runs (built from its spec), any other with the configured one and the
 * model's failed parity check before it, if any. */
static void render_rollout(cn_jsonw_t *w, cn_store_t *store,
                           const cn_store_rollout_t *r, const cn_rollout_t *m,
                           const cn_controller_live_t *live,
                           const cn_strategy_t *strategy, int64_t now)
{
    parity_view_t pv;
    parity_view(store, r, &pv);
    cn_strategy_t ps;
    memset(&ps, 0, sizeof ps);
    bool own = pv.is_check && pv.spec_ok && strategy;
    if (own)
        cn_parity_strategy(strategy, &pv.spec, 0, &ps); /* for its steps */
    render_rollout_as(w, r, m, live,
                      own           ? &ps
                      : pv.is_check ? NULL
                                    : strategy,
                      now, &pv);
    if (own)
        cn_parity_strategy_dispose(&ps);
    parity_view_dispose(&pv);
}

static void render_rollout_as(cn_jsonw_t *w, const cn_store_rollout_t *r,
                              const cn_rollout_t *m, const cn_controller_live_t *live,
                              const cn_strategy_t *strategy, int64_t now,
                              const parity_view_t *pv)
{
    size_t n_steps = strategy ? strategy->n_steps : 0;
    cn_jsonw_object_begin(w);
    key_i64(w, "id", r->id);
    key_str(w, "model", r->model);
    key_str(w, "version", r->version);
    key_str(w, "baseline", r->baseline);
    key_str(w, "state", cn_store_rollout_state_name(r->state));
    cn_jsonw_key(w, "dry_run");
    cn_jsonw_bool(w, r->dry_run);
    key_i64(w, "step", r->step_index);
    key_i64(w, "steps", (int64_t)n_steps);
    cn_jsonw_key(w, "weight");
    cn_jsonw_double(w, r->weight_bp / 100.0);
    key_str(w, "reason", r->reason);
    key_i64(w, "analysis_attempts", r->analysis_attempts);
    key_i64(w, "generation", (int64_t)r->generation);
    key_str(w, "created_by", r->created_by);
    key_i64(w, "started_unix_ms", r->started_unix_ms);
    key_i64(w, "updated_unix_ms", r->updated_unix_ms);
    key_i64(w, "step_started_unix_ms", r->step_started_unix_ms);
    if (r->ended_unix_ms)
        key_i64(w, "ended_unix_ms", r->ended_unix_ms);
    if (pv->is_check)
        render_parity(w, r, pv);
    else
        render_parity_warning(w, pv);
    if (m) {
        if (m->state == CN_ROLLOUT_HOLDING)
            key_str(w, "hold", cn_rollout_hold_name(m->hold));
        if (cn_rollout_active(m->state) && m->step_started_ms &&
            now > m->step_started_ms) {
            cn_jsonw_key(w, "time_in_step_s");
            cn_jsonw_double(w, (double)(now - m->step_started_ms) / 1000.0);
        }
        if (m->warmup_ends_ms) {
            key_i64(w, "warmup_ends_unix_ms", m->warmup_ends_ms);
        }
        render_step(w, strategy, m);
    }
    if (!live || live->id != r->id)
        render_stored_blast(w, r);
    if (live && live->id == r->id) {
        cn_jsonw_key(w, "samples");
        cn_jsonw_object_begin(w);
        key_i64(w, "stable", (int64_t)live->stable_requests);
        key_i64(w, "canary", (int64_t)live->canary_requests);
        key_i64(w, "needed", (int64_t)live->machine.samples_need);
        cn_jsonw_key(w, "per_minute");
        cn_jsonw_double(w, live->machine.samples_per_minute);
        cn_jsonw_object_end(w);
        key_i64(w, "canary_served", (int64_t)live->canary_served);
        render_blast(w, live->canary_served, live->blast_failed, live->blast_all);
        if (live->has_verdict) {
            cn_jsonw_key(w, "last_verdict");
            cn_jsonw_object_begin(w);
            key_str(w, "verdict", live->verdict);
            cn_jsonw_key(w, "reasons");
            cn_jsonw_array_begin(w);
            cn_jsonw_cstr(w, live->verdict_reason);
            cn_jsonw_array_end(w);
            key_i64(w, "time_unix_ms", live->verdict_ms);
            cn_jsonw_object_end(w);
        }
        if (live->has_p99[0] || live->has_p99[1]) {
            /* each arm's p99 in the window: a confidence interval */
            cn_jsonw_key(w, "p99_ms");
            cn_jsonw_object_begin(w);
            cn_jsonw_key(w, "level");
            cn_jsonw_double(w, live->p99_level);
            for (int role = 0; role < 2; role++) {
                if (!live->has_p99[role])
                    continue;
                cn_jsonw_key(w, role == CN_ROLE_CANARY ? "canary" : "stable");
                cn_jsonw_array_begin(w);
                cn_jsonw_double(w, live->p99_lo_ms[role]);
                cn_jsonw_double(w, live->p99_hi_ms[role]);
                cn_jsonw_array_end(w);
            }
            cn_jsonw_object_end(w);
        }
        if (live->has_sequential) {
            cn_jsonw_key(w, "sequential");
            cn_jsonw_object_begin(w);
            cn_jsonw_key(w, "alpha");
            cn_jsonw_double(w, live->seq_alpha);
            cn_jsonw_key(w, "threshold");
            cn_jsonw_double(w, live->seq_threshold);
            key_i64(w, "seconds", (int64_t)live->seq_seconds);
            cn_jsonw_key(w, "metrics");
            cn_jsonw_array_begin(w);
            for (size_t i = 0; i < live->n_seq; i++) {
                cn_jsonw_object_begin(w);
                key_str(w, "metric", live->seq[i].metric);
                cn_jsonw_key(w, "started");
                cn_jsonw_bool(w, live->seq[i].started);
                cn_jsonw_key(w, "e_value");
                cn_jsonw_double(w, live->seq[i].e_value);
                cn_jsonw_key(w, "pvalue");
                cn_jsonw_double(w, live->seq[i].pvalue);
                key_i64(w, "canary_requests", (int64_t)live->seq[i].canary_requests);
                cn_jsonw_object_end(w);
            }
            cn_jsonw_array_end(w);
            cn_jsonw_object_end(w);
        }
        if (live->has_triggers) {
            cn_jsonw_key(w, "triggers");
            cn_jsonw_array_begin(w);
            for (int i = 0; i < CN_TRIGGER_CHECKS; i++) {
                const cn_trigger_row_t *t = &live->triggers.rows[i];
                if (!t->configured)
                    continue;
                cn_jsonw_object_begin(w);
                key_str(w, "check", cn_trigger_check_name((cn_trigger_check_t)i));
                cn_jsonw_key(w, "ran");
                cn_jsonw_bool(w, t->ran);
                cn_jsonw_key(w, "fired");
                cn_jsonw_bool(w, t->fired);
                cn_jsonw_key(w, "limit");
                cn_jsonw_double(w, t->limit);
                if (t->ran) {
                    cn_jsonw_key(w, "observed");
                    cn_jsonw_double(w, t->observed);
                    cn_jsonw_key(w, "pvalue");
                    cn_jsonw_double(w, t->pvalue);
                }
                cn_jsonw_object_end(w);
            }
            cn_jsonw_array_end(w);
        }
    }
    cn_jsonw_object_end(w);
}

/* ------------------------------------------------------------ reads */

typedef enum { READ_LIST, READ_ONE, READ_HISTORY, READ_ANALYSES } read_op_t;

typedef struct read_job_s {
    read_op_t op;
    int64_t id;
    char model[CN_STORE_NAME_MAX + 1];
    bool has_model, latest;
    unsigned states;
    cn_admin_response_t res;
} read_job_t;

/* A stored rollout with what its model's controller knows of it now. */
static void render_row(cn_jsonw_t *w, const cn_admin_t *a, cn_store_t *s,
                       const cn_store_rollout_t *r, int64_t now)
{
    cn_controller_live_t *live = cn_xmalloc(sizeof *live);
    cn_admin__live_for(a, r->model, live);
    render_rollout(w, s, r, live->id == r->id ? &live->machine : NULL, live,
                   cn_admin__strategy_for(a, r->model), now);
    free(live);
}

static void read_work(cn_admin_request_t *req, void *arg)
{
    read_job_t *job = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    cn_store_t *s = a->store;
    char err[512];
    int64_t now = cn_clock_unix_ms();
    cn_jsonw_t w;
    cn_jsonw_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
    int rc = 0;
    switch (job->op) {
    case READ_LIST: {
        cn_store_rollout_t *rs = cn_xcalloc(ROLLOUTS_PAGE, sizeof *rs);
        size_t n = 0;
        rc = cn_store_rollout_list(s, job->has_model ? job->model : NULL, job->states,
                                   0, rs, job->latest ? 1 : ROLLOUTS_PAGE, &n, err,
                                   sizeof err);
        if (!rc) {
            cn_jsonw_object_begin(&w);
            cn_jsonw_key(&w, "rollouts");
            cn_jsonw_array_begin(&w);
            for (size_t i = 0; i < n; i++)
                render_row(&w, a, s, &rs[i], now);
            cn_jsonw_array_end(&w);
            cn_jsonw_object_end(&w);
        }
        for (size_t i = 0; i < n; i++)
            cn_store_rollout_dispose(&rs[i]);
        free(rs);
        break;
    }
    case READ_ONE: {
        cn_store_rollout_t r;
        cn_store_rollout_init(&r);
        rc = cn_store_rollout_get(s, job->id, &r, err, sizeof err);
        if (!rc)
            render_row(&w, a, s, &r, now);
        cn_store_rollout_dispose(&r);
        break;
    }
    case READ_HISTORY:
    case READ_ANALYSES: {
        cn_store_audit_t *es = cn_xcalloc(CN_STORE_PAGE_MAX, sizeof *es);
        int64_t after = 0;
        cn_jsonw_object_begin(&w);
        key_i64(&w, "id", job->id);
        cn_jsonw_key(&w, job->op == READ_HISTORY ? "entries" : "analyses");
        cn_jsonw_array_begin(&w);
        for (;;) {
            size_t n = 0;
            rc = cn_store_audit_list(s, job->id, after, es, CN_STORE_PAGE_MAX, &n, err,
                                     sizeof err);
            if (rc)
                break;
            for (size_t i = 0; i < n; i++) {
                const cn_store_audit_t *e = &es[i];
                after = e->seq;
                if (job->op == READ_ANALYSES &&
                    (e->kind != CN_STORE_AUDIT_ANALYSIS || !e->payload))
                    continue;
                cn_jsonw_object_begin(&w);
                key_i64(&w, "seq", e->seq);
                key_i64(&w, "time_unix_ms", e->time_unix_ms);
                key_str(&w, "kind", cn_store_audit_kind_name(e->kind));
                key_str(&w, "actor", e->actor);
                key_str(&w, "reason", e->reason);
                key_str(&w, "state", cn_store_rollout_state_name(e->state));
                key_i64(&w, "step", e->step_index);
                cn_jsonw_key(&w, "weight");
                cn_jsonw_double(&w, e->weight_bp / 100.0);
                if (e->payload) {
                    cn_jsonw_key(&w, job->op == READ_ANALYSES ? "result" : "payload");
                    cn_jsonw_raw(&w, e->payload);
                }
                cn_jsonw_object_end(&w);
            }
            for (size_t i = 0; i < n; i++)
                cn_store_audit_dispose(&es[i]);
            if (n < CN_STORE_PAGE_MAX)
                break;
        }
        free(es);
        cn_jsonw_array_end(&w);
        cn_jsonw_object_end(&w);
        break;
    }
    }
    if (rc) {
        cn_jsonw_dispose(&w);
        cn_admin_response_error(&job->res, cn_admin__status_of(rc), "%s", err);
        return;
    }
    cn_admin__response_json(&job->res, 200, &w);
}

static void read_done(cn_admin_request_t *req, void *arg)
{
    read_job_t *job = arg;
    cn_admin_respond(req, &job->res);
    free(job);
}

static bool need_store(cn_admin_request_t *req)
{
    if (cn_admin_request_server(req)->store)
        return true;
    cn_admin__respond_error(req, 503,
                            "rollouts live in the state file: start canary serve with "
                            "--state PATH");
    return false;
}

static void start_read(cn_admin_request_t *req, read_job_t *job)
{
    int rc = cn_admin__offload(req, read_work, read_done, job);
    if (rc) {
        free(job);
        cn_admin__respond_error(req, 503, "rollouts: %s", uv_strerror(rc));
    }
}

/* The rollout id in path parameter 0: false after answering 400. */
static bool param_id(cn_admin_request_t *req, int64_t *id)
{
    size_t len;
    const char *raw = cn_admin_request_param(req, 0, &len);
    int64_t v = 0;
    bool ok = len > 0 && len <= 18;
    for (size_t i = 0; ok && i < len; i++) {
        ok = raw[i] >= '0' && raw[i] <= '9';
        v = v * 10 + (raw[i] - '0');
    }
    if (!ok || v <= 0) {
        char quoted[CN_TEXT_QUOTE_BUF(64)];
        cn_admin__respond_error(req, 400, "id: must be a rollout number, got '%s'",
                                cn_text_quote(raw, len, 64, quoted));
        return false;
    }
    *id = v;
    return true;
}

/* ?model=M&state=S&latest=1: false after answering 400. */
static bool parse_query(cn_admin_request_t *req, read_job_t *job)
{
    size_t qlen;
    const char *q = cn_admin_request_query(req, &qlen);
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    while (q && qlen) {
        const char *amp = memchr(q, '&', qlen);
        size_t n = amp ? (size_t)(amp - q) : qlen;
        if (n == 0) { /* "?&state=x", "a=1&&b=2": an empty part is nothing */
            if (!amp)
                break;
            qlen -= 1;
            q = amp + 1;
            continue;
        }
        const char *eq = memchr(q, '=', n);
        size_t klen = eq ? (size_t)(eq - q) : n;
        const char *v = eq ? eq + 1 : q + n;
        size_t vlen = eq ? n - klen - 1 : 0;
        char value[CN_STORE_NAME_MAX + 1];
        size_t dlen = 0;
        char *tmp = cn_xmalloc(vlen + 1);
        bool ok = cn_api_percent_decode(v, vlen, true, tmp, &dlen) &&
                  dlen < sizeof value && !memchr(tmp, '\0', dlen);
        if (ok) {
            memcpy(value, tmp, dlen);
            value[dlen] = '\0';
        }
        free(tmp);
        if (!ok) {
            cn_admin__respond_error(req, 400, "query: bad value '%s'",
                                    cn_text_quote(v, vlen, 64, quoted));
            return false;
        }
        if (klen == 5 && memcmp(q, "model", 5) == 0) {
            snprintf(job->model, sizeof job->model, "%s", value);
            job->has_model = true;
        } else if (klen == 5 && memcmp(q, "state", 5) == 0) {
            cn_store_rollout_state_t st;
            if (strcmp(value, "active") == 0) {
                job->states |= CN_STORE_ROLLOUT_ACTIVE_BITS;
            } else if (cn_store_rollout_state_parse(value, &st) == 0 &&
                       st != CN_STORE_ROLLOUT_NONE) {
                job->states |= CN_STORE_ROLLOUT_BIT(st);
            } else {
                cn_admin__respond_error(
                    req, 400,
                    "state: unknown '%s' (expected active or a state: "
                    "pending, warmup, progressing, paused, holding, "
                    "promoting, rolling-back, promoted, rolled-back, "
                    "aborted)",
                    cn_text_quote(value, strlen(value), 64, quoted));
                return false;
            }
        } else if (klen == 6 && memcmp(q, "latest", 6) == 0) {
            job->latest = strcmp(value, "0") != 0;
        } else {
            cn_admin__respond_error(req, 400,
                                    "query: unknown key '%s' (expected model, state or "
                                    "latest)",
                                    cn_text_quote(q, klen, 64, quoted));
            return false;
        }
        if (!amp)
            break;
        qlen -= n + 1;
        q = amp + 1;
    }
    return true;
}

/* ------------------------------------------------------------ commands */

typedef struct pending_s {
    cn_admin_request_t *req;
    const cn_strategy_t *strategy;
    unsigned ok_status;
    cn_admin_response_t pre; /* when pre.body: the answer on success */
} pending_t;

/* On the control loop's thread. */
static void on_op(const cn_controller_op_result_t *r, void *arg)
{
    pending_t *p = arg;
    if (r->rc) {
        cn_admin__respond_error(p->req, cn_admin__status_of(r->rc), "%s",
                                r->error[0] ? r->error : cn_strerror(r->rc));
        cn_admin_response_dispose(&p->pre);
    } else if (p->pre.body) {
        cn_admin_respond(p->req, &p->pre);
    } else if (r->has_row) {
        cn_controller_live_t live;
        memset(&live, 0, sizeof live);
        cn_jsonw_t w;
        cn_jsonw_init(&w, 1024 * 1024);
        render_rollout(&w, NULL, &r->row, &r->machine, &live, p->strategy,
                       cn_clock_unix_ms());
        cn_admin__respond_json(p->req, p->ok_status, &w);
    } else {
        cn_jsonw_t w;
        cn_jsonw_init(&w, 1024);
        cn_jsonw_object_begin(&w);
        key_i64(&w, "id", r->id);
        cn_jsonw_object_end(&w);
        cn_admin__respond_json(p->req, p->ok_status, &w);
    }
    free(p);
}

/* canary control: an op on a rollout by id goes to its model's
 * controller, which the stored row names (read on the thread pool). */
typedef struct routed_op_s {
    cn_controller_op_t op;
    unsigned ok_status;
    cn_admin_response_t pre;
    int rc;
    char err[512];
} routed_op_t;

static void submit_to(cn_admin_request_t *req, cn_controller_t *controller,
                      cn_controller_op_t *op, unsigned ok_status,
                      cn_admin_response_t *pre);

static void route_work(cn_admin_request_t *req, void *arg)
{
    routed_op_t *r = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    cn_store_rollout_t row;
    cn_store_rollout_init(&row);
    r->rc = cn_store_rollout_get(a->store, r->op.id, &row, r->err, sizeof r->err);
    if (!r->rc)
        snprintf(r->op.model, sizeof r->op.model, "%s", row.model);
    cn_store_rollout_dispose(&row);
}

static void route_after(cn_admin_request_t *req, void *arg)
{
    routed_op_t *r = arg;
    cn_admin_t *a = cn_admin_request_server(req);
    cn_controller_t *c = r->rc ? NULL : cn_admin__controller_for(a, r->op.model);
    if (r->rc)
        cn_admin__respond_error(req, cn_admin__status_of(r->rc), "%s", r->err);
    else if (!c)
        cn_admin__respond_error(req, 404,
                                "rollout %" PRId64 ": its model '%s' is not driven by "
                                "this controller (not in its models:)",
                                r->op.id, r->op.model);
    else
        submit_to(req, c, &r->op, r->ok_status, r->pre.body ? &r->pre : NULL);
    cn_admin_response_dispose(&r->pre);
    free(r);
}

static void submit_op(cn_admin_request_t *req, cn_controller_op_t *op,
                      unsigned ok_status, cn_admin_response_t *pre)
{
    cn_admin_t *a = cn_admin_request_server(req);
    char who[CN_ROLLOUT_ACTOR_MAX];
    cn_admin__who(req, who, sizeof who);
    snprintf(op->actor, sizeof op->actor, "%s", who);
    /* a replica a controller manages takes no rollout command of its own
     * but an abort (the way out) */
    if (op->kind != CN_CONTROLLER_OP_ABORT && cn_admin__managed_refuse(req)) {
        if (pre)
            cn_admin_response_dispose(pre);
        return;
    }
    if (!a->nmodels) {
        submit_to(req, a->controller, op, ok_status, pre);
        return;
    }
    if (op->kind == CN_CONTROLLER_OP_START) {
        cn_controller_t *c = cn_admin__controller_for(a, op->model);
        if (!c) {
            if (pre)
                cn_admin_response_dispose(pre);
            cn_admin__respond_error(
                req, 404,
                "model '%s' is not driven by this controller (not in "
                "its models:)",
                op->model);
            return;
        }
        submit_to(req, c, op, ok_status, pre);
        return;
    }
    routed_op_t *r = cn_xcalloc(1, sizeof *r);
    r->op = *op;
    r->ok_status = ok_status;
    if (pre) {
        r->pre = *pre;
        memset(pre, 0, sizeof *pre);
    }
    if (cn_admin__offload(req, route_work, route_after, r)) {
        cn_admin_response_dispose(&r->pre);
        free(r);
        cn_admin__respond_error(req, 503, "the server is stopping");
    }
}

static void submit_to(cn_admin_request_t *req, cn_controller_t *controller,
                      cn_controller_op_t *op, unsigned ok_status,
                      cn_admin_response_t *pre)
{
    cn_admin_t *a = cn_admin_request_server(req);
    pending_t *p = cn_xcalloc(1, sizeof *p);
    p->req = req;
    p->strategy = cn_admin__strategy_for(a, op->model);
    p->ok_status = ok_status;
    if (pre) {
        p->pre = *pre;
        memset(pre, 0, sizeof *pre);
    }
    int rc = cn_controller_rollout_op(controller, op, on_op, p);
    if (rc) {
        cn_admin_response_dispose(&p->pre);
        free(p);
        cn_admin__respond_error(req, 503, "%s",
                                rc == CN_ETOOBIG
                                    ? "too many commands waiting; try again"
                                    : "the controller is stopping");
    }
}

/* Whether a key of a command body takes a string (else a boolean). */
static bool string_key(const char *key)
{
    return strcmp(key, "reason") == 0 || strcmp(key, "model") == 0 ||
           strcmp(key, "version") == 0;
}

/* Whether text holds a control character (it is UTF-8: jansson checked). */
static bool has_control(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* The body of a command: an object with only the keys allowed, each of
 * its type, as the other bodies of the API (api/codec_*.c); false after
 * answering 400 naming the key. */
static bool command_body(cn_admin_request_t *req, const char *const *keys, json_t **out)
{
    const cn_http_message_t *msg = cn_admin_request_message(req);
    char err[256];
    *out = NULL;
    if (!msg->body || msg->body_len == 0) {
        *out = json_object();
        return true;
    }
    json_t *root = cn_api__load_object(msg->body, msg->body_len, err, sizeof err);
    if (!root) {
        cn_admin__respond_error(req, 400, "%s", err);
        return false;
    }
    const char *key;
    json_t *v;
    char quoted[CN_TEXT_QUOTE_BUF(64)], value[CN_TEXT_QUOTE_BUF(64)];
    json_object_foreach(root, key, v)
    {
        bool known = false;
        for (size_t i = 0; keys[i]; i++)
            known = known || strcmp(key, keys[i]) == 0;
        if (!known) {
            /* "unknown key "x" (expected a, b or c)", as the codecs say it */
            char expected[128] = "";
            size_t n = 0;
            while (keys[n])
                n++;
            for (size_t i = 0; i < n; i++)
                snprintf(expected + strlen(expected),
                         sizeof expected - strlen(expected), "%s%s",
                         i == 0       ? ""
                         : i + 1 == n ? " or "
                                      : ", ",
                         keys[i]);
            cn_admin__respond_error(req, 400, "unknown key \"%s\" (expected %s)",
                                    cn_text_quote(key, strlen(key), 64, quoted),
                                    expected);
            json_decref(root);
            return false;
        }
        bool list = strcmp(key, "addresses") == 0;
        bool ok = list              ? json_is_array(v)
                  : string_key(key) ? json_is_string(v)
                                    : json_is_boolean(v);
        if (!ok) {
            cn_admin__respond_error(req, 400, "%s: must be %s, got %s", key,
                                    list              ? "a list of addresses"
                                    : string_key(key) ? "a string"
                                                      : "true or false",
                                    cn_api__quote_value(v, value));
            json_decref(root);
            return false;
        }
    }
    json_t *reason = json_object_get(root, "reason");
    char problem[96] = "";
    if (reason && strlen(json_string_value(reason)) >= CN_ROLLOUT_REASON_MAX)
        snprintf(problem, sizeof problem, "longer than %d bytes",
                 CN_ROLLOUT_REASON_MAX - 1);
    else if (reason && has_control(json_string_value(reason)))
        /* the audit trail keeps one line of text per entry, and the store
         * refuses anything else: refused here, before the rollout moves */
        snprintf(problem, sizeof problem,
                 "must be one line of text without control characters");
    if (problem[0]) {
        cn_admin__respond_error(req, 400, "reason: %s", problem);
        json_decref(root);
        return false;
    }
    *out = root;
    return true;
}

void cn_admin__rollout_start(cn_admin_request_t *req, const char *model,
                             const char *version, cn_admin_response_t *pre)
{
    cn_controller_op_t op;
    memset(&op, 0, sizeof op);
    op.kind = CN_CONTROLLER_OP_START;
    snprintf(op.model, sizeof op.model, "%s", model);
    snprintf(op.version, sizeof op.version, "%s", version);
    snprintf(op.reason, sizeof op.reason, "tagged production-candidate");
    submit_op(req, &op, pre->status, pre);
}

/* POST /v1/rollouts with "parity": true: a parity check of the model's
 * stable version, on "addresses" (a list; none: stable's own). */
static void start_parity(cn_admin_request_t *req, json_t *body)
{
    const char *model = json_string_value(json_object_get(body, "model"));
    json_t *addrs = json_object_get(body, "addresses");
    char err[256], q[CN_TEXT_QUOTE_BUF(80)];
    if (!json_is_true(json_object_get(body, "parity"))) {
        cn_admin__respond_error(req, 400,
                                "addresses: only with \"parity\": true (a candidate's "
                                "addresses are its registered ones)");
        return;
    }
    if (json_object_get(body, "version")) {
        cn_admin__respond_error(req, 400,
                                "version: not with \"parity\": a parity check runs the "
                                "model's stable version against itself");
        return;
    }
    if (!model) {
        cn_admin__respond_error(req, 400, "model: required");
        return;
    }
    if (cn_registry_check_model(model, err, sizeof err)) {
        cn_admin__respond_error(req, 400, "%s", err);
        return;
    }
    cn_controller_op_t *op = cn_xcalloc(1, sizeof *op);
    op->kind = CN_CONTROLLER_OP_START;
    op->parity = true;
    snprintf(op->model, sizeof op->model, "%s", model);
    op->dry_run = json_is_true(json_object_get(body, "dry_run"));
    json_t *reason = json_object_get(body, "reason");
    if (reason)
        snprintf(op->reason, sizeof op->reason, "%s", json_string_value(reason));
    size_t n = json_array_size(addrs);
    if (addrs && n == 0) {
        cn_admin__respond_error(req, 400,
                                "addresses: at least one address (or leave it out: "
                                "stable's own addresses)");
        free(op);
        return;
    }
    if (n > CN_CONTROLLER_PARITY_ADDRESSES_MAX) {
        cn_admin__respond_error(req, 400, "addresses: at most %u addresses, got %zu",
                                CN_CONTROLLER_PARITY_ADDRESSES_MAX, n);
        free(op);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(addrs, i);
        const char *text = json_string_value(v);
        if (!text || strlen(text) > CN_CONTROLLER_ADDRESS_MAX) {
            cn_admin__respond_error(
                req, 400,
                "addresses[%zu]: must be an address host:port of at "
                "most %u bytes, got %s",
                i, CN_CONTROLLER_ADDRESS_MAX,
                text ? cn_text_quote(text, strlen(text), 80, q)
                     : cn_api__quote_value(v, q));
            free(op);
            return;
        }
        snprintf(op->addresses[i], sizeof op->addresses[i], "%s", text);
    }
    op->n_addresses = n;
    submit_op(req, op, 201, NULL);
    free(op);
}

static void handle_rollouts(cn_admin_request_t *req)
{
    if (!need_store(req))
        return;
    const cn_http_message_t *msg = cn_admin_request_message(req);
    if (msg->method != HTTP_POST) {
        read_job_t *job = cn_xcalloc(1, sizeof *job);
        job->op = READ_LIST;
        if (!parse_query(req, job)) {
            free(job);
            return;
        }
        start_read(req, job);
        return;
    }
    static const char *const keys[] = {"model",  "version",   "dry_run", "reason",
                                       "parity", "addresses", NULL};
    json_t *body;
    if (!command_body(req, keys, &body))
        return;
    if (json_is_true(json_object_get(body, "parity")) ||
        json_object_get(body, "addresses")) {
        start_parity(req, body);
        json_decref(body);
        return;
    }
    const char *model = json_string_value(json_object_get(body, "model"));
    const char *version = json_string_value(json_object_get(body, "version"));
    char err[256];
    if (!model || !version) {
        cn_admin__respond_error(req, 400, "%s: required", !model ? "model" : "version");
    } else if (cn_registry_check_model(model, err, sizeof err) ||
               cn_registry_check_version(version, err, sizeof err)) {
        cn_admin__respond_error(req, 400, "%s", err);
    } else {
        cn_controller_op_t op;
        memset(&op, 0, sizeof op);
        op.kind = CN_CONTROLLER_OP_START;
        snprintf(op.model, sizeof op.model, "%s", model);
        snprintf(op.version, sizeof op.version, "%s", version);
        op.dry_run = json_is_true(json_object_get(body, "dry_run"));
        json_t *reason = json_object_get(body, "reason");
        if (reason)
            snprintf(op.reason, sizeof op.reason, "%s", json_string_value(reason));
        submit_op(req, &op, 201, NULL);
    }
    json_decref(body);
}

static void handle_rollout(cn_admin_request_t *req)
{
    if (!need_store(req))
        return;
    read_job_t *job = cn_xcalloc(1, sizeof *job);
    job->op = READ_ONE;
    if (!param_id(req, &job->id)) {
        free(job);
        return;
    }
    start_read(req, job);
}

static void handle_audit(cn_admin_request_t *req, read_op_t op)
{
    if (!need_store(req))
        return;
    read_job_t *job = cn_xcalloc(1, sizeof *job);
    job->op = op;
    if (!param_id(req, &job->id)) {
        free(job);
        return;
    }
    start_read(req, job);
}

static void handle_history(cn_admin_request_t *req)
{
    handle_audit(req, READ_HISTORY);
}

static void handle_analyses(cn_admin_request_t *req)
{
    handle_audit(req, READ_ANALYSES);
}

static void handle_command(cn_admin_request_t *req, cn_controller_op_kind_t kind)
{
    if (!need_store(req))
        return;
    cn_controller_op_t op;
    memset(&op, 0, sizeof op);
    op.kind = kind;
    if (!param_id(req, &op.id))
        return;
    static const char *const plain[] = {"reason", NULL};
    static const char *const promote[] = {"reason", "full", NULL};
    static const char *const retry[] = {"reason", "dry_run", NULL};
    json_t *body;
    if (!command_body(req,
                      kind == CN_CONTROLLER_OP_PROMOTE ? promote
                      : kind == CN_CONTROLLER_OP_RETRY ? retry
                                                       : plain,
                      &body))
        return;
    json_t *reason = json_object_get(body, "reason");
    if (reason)
        snprintf(op.reason, sizeof op.reason, "%s", json_string_value(reason));
    if (kind == CN_CONTROLLER_OP_PROMOTE && json_is_true(json_object_get(body, "full")))
        op.kind = CN_CONTROLLER_OP_PROMOTE_FULL;
    op.dry_run = json_is_true(json_object_get(body, "dry_run"));
    json_decref(body);
    submit_op(req, &op, 200, NULL);
}

static void handle_pause(cn_admin_request_t *req)
{
    handle_command(req, CN_CONTROLLER_OP_PAUSE);
}
static void handle_resume(cn_admin_request_t *req)
{
    handle_command(req, CN_CONTROLLER_OP_RESUME);
}
static void handle_promote(cn_admin_request_t *req)
{
    handle_command(req, CN_CONTROLLER_OP_PROMOTE);
}
static void handle_abort(cn_admin_request_t *req)
{
    handle_command(req, CN_CONTROLLER_OP_ABORT);
}
static void handle_retry(cn_admin_request_t *req)
{
    handle_command(req, CN_CONTROLLER_OP_RETRY);
}

void cn_admin__rollouts_routes(cn_admin_t *a)
{
    static const cn_admin_route_t routes[] = {
        {CN_ADMIN_GET | CN_ADMIN_POST, "/v1/rollouts", true, handle_rollouts, NULL},
        {CN_ADMIN_GET, "/v1/rollouts/*", true, handle_rollout, NULL},
        {CN_ADMIN_GET, "/v1/rollouts/*/history", true, handle_history, NULL},
        {CN_ADMIN_GET, "/v1/rollouts/*/analyses", true, handle_analyses, NULL},
        {CN_ADMIN_POST, "/v1/rollouts/*/pause", true, handle_pause, NULL},
        {CN_ADMIN_POST, "/v1/rollouts/*/resume", true, handle_resume, NULL},
        {CN_ADMIN_POST, "/v1/rollouts/*/promote", true, handle_promote, NULL},
        {CN_ADMIN_POST, "/v1/rollouts/*/abort", true, handle_abort, NULL},
        {CN_ADMIN_POST, "/v1/rollouts/*/retry", true, handle_retry, NULL},
    };
    char err[128];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (cn_admin_add_route(a, &routes[i], err, sizeof err))
            abort();
}
