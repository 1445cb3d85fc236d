/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Rollouts and their audit trail in the state file (see store.h).
 *
 * A rollout's row is its whole resumable state, in named columns; every
 * change of it is written with the audit entry that says why, in one
 * transaction, so that after kill -9 the row and the trail agree: a
 * decision is either recorded with its effect or not at all.
 *
 * The audit sequence number is the record's version. A writer sends the
 * number it last read; the write is refused (CN_ECONFLICT) when the stored
 * one differs, because then the writer decided on a stale view, or is
 * repeating a decision that was recorded before a crash. This is what
 * keeps a decision from being taken twice, and it needs no lock across
 * calls. The schema keeps the numbers 1, 2, 3, ... without a gap and
 * rollouts.audit_seq equal to the last (core.c, migrate_v3), and the trail
 * append-only.
 */
#include "store/internal.h"
#include "store/store.h"
#include "types/types.h"
#include "util/error.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_QUOTE_MAX 80
#define Q(buf, text) cn_text_quote((text), strlen(text), NAME_QUOTE_MAX, (buf))
#define QBUF CN_TEXT_QUOTE_BUF(NAME_QUOTE_MAX)

/* Most of step_index and analysis_attempts (the schema's CHECK). */
#define SMALL_MAX 65535u

static const char *const state_names[CN_STORE_ROLLOUT_STATE_COUNT] = {
    [CN_STORE_ROLLOUT_PENDING] = "pending",
    [CN_STORE_ROLLOUT_WARMUP] = "warmup",
    [CN_STORE_ROLLOUT_PROGRESSING] = "progressing",
    [CN_STORE_ROLLOUT_PAUSED] = "paused",
    [CN_STORE_ROLLOUT_HOLDING] = "holding",
    [CN_STORE_ROLLOUT_PROMOTING] = "promoting",
    [CN_STORE_ROLLOUT_ROLLING_BACK] = "rolling-back",
    [CN_STORE_ROLLOUT_PROMOTED] = "promoted",
    [CN_STORE_ROLLOUT_ROLLED_BACK] = "rolled-back",
    [CN_STORE_ROLLOUT_ABORTED] = "aborted",
};

static const char *const kind_names[CN_STORE_AUDIT_KIND_COUNT] = {
    [CN_STORE_AUDIT_TRANSITION] = "transition",
    [CN_STORE_AUDIT_ANALYSIS] = "analysis",
    [CN_STORE_AUDIT_TRIGGER] = "trigger",
    [CN_STORE_AUDIT_MANUAL] = "manual",
};

const char *cn_store_rollout_state_name(cn_store_rollout_state_t state)
{
    if (state == CN_STORE_ROLLOUT_NONE)
        return "";
    if ((int)state < 0 || (int)state >= CN_STORE_ROLLOUT_STATE_COUNT)
        return "?";
    return state_names[state];
}

int cn_store_rollout_state_parse(const char *name, cn_store_rollout_state_t *out)
{
    for (int i = 0; name && i < CN_STORE_ROLLOUT_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *out = (cn_store_rollout_state_t)i;
            return 0;
        }
    return CN_EINVAL;
}

bool cn_store_rollout_state_active(cn_store_rollout_state_t state)
{
    return (int)state >= CN_STORE_ROLLOUT_PENDING &&
           (int)state <= CN_STORE_ROLLOUT_ROLLING_BACK;
}

const char *cn_store_audit_kind_name(cn_store_audit_kind_t kind)
{
    if ((int)kind < 0 || (int)kind >= CN_STORE_AUDIT_KIND_COUNT)
        return "?";
    return kind_names[kind];
}

int cn_store_audit_kind_parse(const char *name, cn_store_audit_kind_t *out)
{
    for (int i = 0; name && i < CN_STORE_AUDIT_KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (cn_store_audit_kind_t)i;
            return 0;
        }
    return CN_EINVAL;
}

void cn_store_rollout_init(cn_store_rollout_t *r)
{
    memset(r, 0, sizeof *r);
    r->resume_state = CN_STORE_ROLLOUT_NONE;
}

void cn_store_rollout_dispose(cn_store_rollout_t *r)
{
    if (!r)
        return;
    free(r->strategy);
    free(r->machine);
    cn_store_rollout_init(r);
}

void cn_store_audit_dispose(cn_store_audit_t *e)
{
    if (!e)
        return;
    free(e->payload);
    memset(e, 0, sizeof *e);
}

/* ------------------------------------------------------------- checks */

/* The checks of a rollout's changeable fields that need no file. */
static int check_rollout(const cn_store_t *s, const cn_store_rollout_t *r, char *err,
                         size_t errlen)
{
    const char *path = s->path;
    if ((int)r->state < 0 || (int)r->state >= CN_STORE_ROLLOUT_STATE_COUNT)
        return cn_store__failf(path, err, errlen, CN_EINVAL,
                               "rollout state: %d is not a state", (int)r->state);
    if (r->resume_state != CN_STORE_ROLLOUT_NONE) {
        if (r->state != CN_STORE_ROLLOUT_PAUSED && r->state != CN_STORE_ROLLOUT_HOLDING)
            return cn_store__failf(path, err, errlen, CN_EINVAL,
                                   "rollout resume_state: only a paused or holding "
                                   "rollout has one, not a %s one",
                                   state_names[r->state]);
        if (!cn_store_rollout_state_active(r->resume_state))
            return cn_store__failf(path, err, errlen, CN_EINVAL,
                                   "rollout resume_state: must be an active state");
    }
    if (r->step_index > SMALL_MAX)
        return cn_store__failf(path, err, errlen, CN_EINVAL,
                               "rollout step_index: %u is above %u", r->step_index,
                               SMALL_MAX);
    if (r->weight_bp > CN_BP_MAX)
        return cn_store__failf(path, err, errlen, CN_EINVAL,
                               "rollout weight_bp: %u is above %u",
                               (unsigned)r->weight_bp, CN_BP_MAX);
    if (r->analysis_attempts > SMALL_MAX)
        return cn_store__failf(path, err, errlen, CN_EINVAL,
                               "rollout analysis_attempts: %u is above %u",
                               r->analysis_attempts, SMALL_MAX);
    if (r->generation > INT64_MAX)
        return cn_store__failf(path, err, errlen, CN_EINVAL,
                               "rollout generation: above 2^63 - 1");
    const char *why = cn_store__text_problem(r->reason, CN_STORE_REASON_MAX, true);
    if (why)
        return cn_store__failf(path, err, errlen, CN_EINVAL, "rollout reason %s", why);
    return 0;
}

/* The checks of an audit entry that need no file. */
static int check_entry(const cn_store_t *s, const cn_store_audit_t *e, char *err,
                       size_t errlen)
{
    const char *path = s->path;
    if ((int)e->kind < 0 || (int)e->kind >= CN_STORE_AUDIT_KIND_COUNT)
        return cn_store__failf(path, err, errlen, CN_EINVAL,
                               "audit kind: %d is not one of transition, analysis, "
                               "trigger, manual",
                               (int)e->kind);
    const char *why = cn_store__text_problem(e->actor, CN_STORE_WHO_MAX, false);
    if (why)
        return cn_store__failf(path, err, errlen, CN_EINVAL, "audit actor %s", why);
    if ((why = cn_store__text_problem(e->reason, CN_STORE_REASON_MAX, true)))
        return cn_store__failf(path, err, errlen, CN_EINVAL, "audit reason %s", why);
    return 0;
}

/* The checks that need SQLite's JSON (lock held). */
static int check_json(cn_store_t *s, const cn_store_rollout_t *r,
                      const cn_store_audit_t *e, char *err, size_t errlen)
{
    int rc = 0;
    if (r->strategy)
        rc = cn_store__json_check(s, "rollout strategy", r->strategy,
                                  CN_STORE_STRATEGY_MAX, "object", err, errlen);
    if (rc == 0 && r->machine)
        rc = cn_store__json_check(s, "rollout machine", r->machine,
                                  CN_STORE_STRATEGY_MAX, "object", err, errlen);
    if (rc == 0 && e->payload)
        rc = cn_store__json_check(s, "audit payload", e->payload, CN_STORE_PAYLOAD_MAX,
                                  NULL, err, errlen);
    return rc;
}

static int check_also(const cn_store_t *s, const cn_store_rollout_also_t *also,
                      char *err, size_t errlen)
{
    if (!also)
        return 0;
    if (also->n_tags && !also->tags)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL, "bad arguments");
    for (size_t i = 0; i < also->n_tags; i++) {
        const cn_store_tag_op_t *op = &also->tags[i];
        if (!op->version)
            return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                   "tag change %zu: no version", i + 1);
        if ((int)op->tag <= CN_STORE_TAG_NONE || (int)op->tag >= CN_STORE_TAG_COUNT)
            return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                   "tag change %zu: not one of stable, "
                                   "production-candidate, rolled-back, retired",
                                   i + 1);
    }
    if (also->generation)
        return cn_store__generation_check(s, also->generation, err, errlen);
    return 0;
}

/* -------------------------------------------------------------- rows */

static const char rollout_columns[] =
    "SELECT r.id, m.name, v.version, b.version, r.state, r.resume_state,"
    " r.step_index, r.weight_bp, r.dry_run, r.analysis_attempts, r.generation,"
    " r.reason, r.strategy, r.created_by, r.started_unix_ms, r.updated_unix_ms,"
    " r.step_started_unix_ms, r.ended_unix_ms, r.audit_seq, r.machine,"
    " " CN_STORE__PARITY_SQL(
        "r.strategy") " FROM rollouts r JOIN models m ON m.id = r.model_id"
                      " JOIN model_versions v ON v.id = r.version_id"
                      " LEFT JOIN model_versions b ON b.id = r.baseline_version_id ";

/* A row of rollout_columns into *out (initialised; replaced on success),
 * checked as a write would check it. */
static int row_rollout(cn_store_t *s, sqlite3_stmt *st, cn_store_rollout_t *out,
                       char *err, size_t errlen)
{
    cn_store_rollout_t r;
    cn_store_rollout_init(&r);
    r.id = sqlite3_column_int64(st, 0);
    snprintf(r.model, sizeof r.model, "%s", cn_store__column_text(st, 1));
    snprintf(r.version, sizeof r.version, "%s", cn_store__column_text(st, 2));
    snprintf(r.baseline, sizeof r.baseline, "%s", cn_store__column_text(st, 3));
    const char *bad = NULL;
    if (cn_store_rollout_state_parse(cn_store__column_text(st, 4), &r.state))
        bad = "state";
    const char *resume = cn_store__column_text(st, 5);
    if (*resume && cn_store_rollout_state_parse(resume, &r.resume_state))
        bad = "resume_state";
    int64_t step = sqlite3_column_int64(st, 6), weight = sqlite3_column_int64(st, 7),
            dry = sqlite3_column_int64(st, 8), attempts = sqlite3_column_int64(st, 9),
            generation = sqlite3_column_int64(st, 10);
    if (step < 0 || step > SMALL_MAX)
        bad = "step_index";
    if (weight < 0 || weight > CN_BP_MAX)
        bad = "weight_bp";
    if (dry != 0 && dry != 1)
        bad = "dry_run";
    if (attempts < 0 || attempts > SMALL_MAX)
        bad = "analysis_attempts";
    if (generation < 0)
        bad = "generation";
    if (bad)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "table rollouts, id %lld: column %s is out of range",
                               (long long)r.id, bad);
    r.step_index = (uint32_t)step;
    r.weight_bp = (uint16_t)weight;
    r.dry_run = dry == 1;
    r.analysis_attempts = (uint32_t)attempts;
    r.generation = (uint64_t)generation;
    snprintf(r.reason, sizeof r.reason, "%s", cn_store__column_text(st, 11));
    if (sqlite3_column_type(st, 12) != SQLITE_NULL)
        r.strategy = cn_xstrdup(cn_store__column_text(st, 12));
    snprintf(r.created_by, sizeof r.created_by, "%s", cn_store__column_text(st, 13));
    r.started_unix_ms = sqlite3_column_int64(st, 14);
    r.updated_unix_ms = sqlite3_column_int64(st, 15);
    r.step_started_unix_ms = sqlite3_column_int64(st, 16);
    r.ended_unix_ms = sqlite3_column_int64(st, 17);
    r.audit_seq = sqlite3_column_int64(st, 18);
    if (sqlite3_column_type(st, 19) != SQLITE_NULL)
        r.machine = cn_xstrdup(cn_store__column_text(st, 19));
    r.parity = sqlite3_column_int64(st, 20) == 1;
    cn_store_rollout_dispose(out);
    *out = r;
    return 0;
}

/* Rollout `id` into *out (lock held). CN_ENOTFOUND if none. */
static int read_rollout(cn_store_t *s, int64_t id, cn_store_rollout_t *out, char *err,
                        size_t errlen)
{
    char sql[sizeof rollout_columns + 32];
    snprintf(sql, sizeof sql, "%sWHERE r.id = ?1", rollout_columns);
    sqlite3_stmt *st;
    int rc = 0;
    if (cn_store__prepare(s->db, &st, sql, "i", id) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen,
                                 "cannot read the rollouts");
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = row_rollout(s, st, out, err, errlen);
    else if (step == SQLITE_DONE)
        rc = cn_store__failf(s->path, err, errlen, CN_ENOTFOUND, "no rollout %lld",
                             (long long)id);
    else
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the rollouts");
    sqlite3_finalize(st);
    return rc;
}

/* Append entry seq of rollout id, with the rollout's state as written. */
static int insert_entry(cn_store_t *s, int64_t id, int64_t seq, int64_t now_ms,
                        const cn_store_audit_t *e, const char *reason,
                        cn_store_rollout_state_t state, uint32_t step, uint16_t weight)
{
    int rc = cn_store__run(
        s->db,
        "INSERT INTO rollout_audit (rollout_id, seq, time_unix_ms, "
        "actor, kind, state, step_index, weight_bp, reason, payload) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        "iiitttiitt", id, seq, now_ms, e->actor, kind_names[e->kind],
        state_names[state], (int64_t)step, (int64_t)weight, reason, e->payload);
    /* the notifications of this change, in its transaction (outbox) */
    for (size_t i = 0; rc == SQLITE_OK && i < e->n_notes; i++) {
        char event_id[64];
        snprintf(event_id, sizeof event_id, "%lld-%lld-%u", (long long)id,
                 (long long)seq, e->notes[i].index);
        rc = cn_store__run(s->db,
                           "INSERT INTO notify_outbox (event_id, target, event, "
                           "created_unix_ms) VALUES (?1, ?2, ?3, ?4)",
                           "ttti", event_id, e->notes[i].target, e->notes[i].event,
                           now_ms);
    }
    return rc;
}

/* The `also` part of a write (lock held, in the transaction). */
static int write_also(cn_store_t *s, int64_t model_id, const char *model,
                      const cn_store_rollout_also_t *also, int64_t now_ms,
                      const char *who, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; also && rc == 0 && i < also->n_tags; i++) {
        const cn_store_tag_op_t *op = &also->tags[i];
        int64_t version_id;
        char q1[QBUF], q2[QBUF];
        bool changed;
        if (cn_store__version_id(s, model_id, op->version, &version_id) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot write the tag");
        else if (!version_id)
            rc = cn_store__failf(s->path, err, errlen, CN_ENOTFOUND,
                                 "model '%s' has no version '%s'", Q(q1, model),
                                 Q(q2, op->version));
        else
            rc = cn_store__tag_write(s, model_id, model, version_id, op->version,
                                     op->tag, op->set, true, now_ms, who, &changed,
                                     NULL, err, errlen);
    }
    if (rc == 0 && also && also->generation)
        rc = cn_store__generation_write(s, also->generation, now_ms, who, err, errlen);
    return rc;
}

/* ------------------------------------------------------------- writes */

/* Inside start's transaction: end the active rollout `id` of model_id as
 * superseded by `version`. */
static int supersede_one(cn_store_t *s, int64_t id, const char *version,
                         const cn_store_audit_t *entry, int64_t now_ms, char *err,
                         size_t errlen)
{
    cn_store_rollout_t old;
    cn_store_rollout_init(&old);
    int rc = read_rollout(s, id, &old, err, errlen);
    if (rc == 0) {
        /* Recorded as the new rollout's actor's decision. */
        cn_store_audit_t e = {.kind = CN_STORE_AUDIT_TRANSITION};
        snprintf(e.actor, sizeof e.actor, "%s", entry->actor);
        char reason[CN_STORE_REASON_MAX + 1];
        snprintf(reason, sizeof reason, "superseded by %s", version);
        if (cn_store__run(s->db,
                          "UPDATE rollouts SET state = 'aborted', resume_state = NULL, "
                          "reason = ?1, updated_unix_ms = ?2, ended_unix_ms = ?2 WHERE "
                          "id = ?3",
                          "tii", reason, now_ms, id) != SQLITE_OK ||
            insert_entry(s, id, old.audit_seq + 1, now_ms, &e, reason,
                         CN_STORE_ROLLOUT_ABORTED, old.step_index,
                         old.weight_bp) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen,
                                   "cannot end the superseded rollout");
    }
    cn_store_rollout_dispose(&old);
    return rc;
}

int cn_store_rollout_start(cn_store_t *s, cn_store_rollout_t *r,
                           const cn_store_audit_t *entry, int64_t supersede,
                           const cn_store_rollout_also_t *also, char *err,
                           size_t errlen)
{
    static const char what[] = "cannot start the rollout";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !r || !entry)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    int rc = check_rollout(s, r, err, errlen);
    if (rc == 0 && !cn_store_rollout_state_active(r->state))
        rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                             "rollout state: a rollout starts in an active state, not "
                             "%s",
                             state_names[r->state]);
    if (rc == 0)
        rc = check_entry(s, entry, err, errlen);
    if (rc == 0)
        rc = check_also(s, also, err, errlen);
    if (rc)
        return rc;
    int64_t now_ms = cn_store__now_ms(), model_id = 0, version_id = 0, id = 0;
    int64_t active = 0, active_version_id = 0, baseline_id = 0;
    char active_version[CN_VERSION_LABEL_MAX + 1], q1[QBUF], q2[QBUF];
    cn_store_rollout_t stored;
    cn_store_rollout_init(&stored);
    pthread_mutex_lock(&s->lock);
    rc = check_json(s, r, entry, err, errlen);
    if (rc == 0 && (rc = cn_store__begin(s, what, err, errlen)) == 0) {
        sqlite3_stmt *st = NULL;
        rc = cn_store__model_id(s, r->model, &model_id) == SQLITE_OK
                 ? 0
                 : cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0 && !model_id)
            rc = cn_store__failf(s->path, err, errlen, CN_ENOTFOUND,
                                 "no model '%s' is registered", Q(q1, r->model));
        if (rc == 0 &&
            cn_store__version_id(s, model_id, r->version, &version_id) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0 && !version_id)
            rc = cn_store__failf(s->path, err, errlen, CN_ENOTFOUND,
                                 "model '%s' has no version '%s'", Q(q1, r->model),
                                 Q(q2, r->version));
        if (rc == 0 && (cn_store__prepare(s->db, &st,
                                          "SELECT version_id FROM tags WHERE model_id "
                                          "= ?1 AND tag = 'stable'",
                                          "i", model_id) != SQLITE_OK ||
                        sqlite3_step(st) == SQLITE_ERROR))
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0 && st)
            baseline_id = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        /* a parity check (its strategy a parity spec) runs the stable
         * version against itself; any other rollout another version */
        bool parity = false;
        if (rc == 0 && r->strategy) {
            int64_t is = 0;
            if (cn_store__prepare(s->db, &st, "SELECT " CN_STORE__PARITY_SQL("?1"), "t",
                                  r->strategy) != SQLITE_OK ||
                sqlite3_step(st) != SQLITE_ROW)
                rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
            else
                is = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
            st = NULL;
            parity = is == 1;
        }
        if (rc == 0 && parity && baseline_id != version_id)
            rc =
                cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                "model '%s': version '%s' is not its stable version; "
                                "a parity check runs the stable version against itself",
                                Q(q1, r->model), Q(q2, r->version));
        if (rc == 0 && !parity && baseline_id == version_id)
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "model '%s': version '%s' is its stable version; a "
                                 "rollout rolls out another one",
                                 Q(q1, r->model), Q(q2, r->version));
        if (rc == 0) {
            char state[16];
            sqlite3_stmt *a = NULL;
            if (cn_store__prepare(s->db, &a,
                                  "SELECT r.id, r.version_id, v.version, r.state FROM "
                                  "rollouts r JOIN model_versions v ON v.id = "
                                  "r.version_id WHERE r.model_id = ?1 AND r.state NOT "
                                  "IN ('promoted', 'rolled-back', 'aborted')",
                                  "i", model_id) != SQLITE_OK)
                rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
            else if (sqlite3_step(a) == SQLITE_ROW) {
                active = sqlite3_column_int64(a, 0);
                active_version_id = sqlite3_column_int64(a, 1);
                snprintf(active_version, sizeof active_version, "%s",
                         cn_store__column_text(a, 2));
                snprintf(state, sizeof state, "%s", cn_store__column_text(a, 3));
            }
            sqlite3_finalize(a);
            if (rc == 0 && active && active != supersede)
                rc = cn_store__failf(s->path, err, errlen, CN_ECONFLICT,
                                     "model '%s' has an active rollout %lld of version "
                                     "'%s' (%s); supersede or end it first",
                                     Q(q1, r->model), (long long)active,
                                     Q(q2, active_version), state);
            else if (rc == 0 && supersede && active != supersede)
                rc = cn_store__failf(s->path, err, errlen, CN_ECONFLICT,
                                     "rollout %lld is not the active rollout of model "
                                     "'%s', so it cannot be superseded",
                                     (long long)supersede, Q(q1, r->model));
        }
        (void)active_version_id;
        if (rc == 0 && supersede)
            rc = supersede_one(s, supersede, r->version, entry, now_ms, err, errlen);
        if (rc == 0 &&
            cn_store__run(
                s->db,
                "INSERT INTO rollouts (model_id, version_id, baseline_version_id, "
                "state, resume_state, step_index, weight_bp, dry_run, "
                "analysis_attempts, generation, reason, strategy, created_by, "
                "started_unix_ms, updated_unix_ms, step_started_unix_ms, machine) "
                "VALUES (?1, ?2, nullif(?3, 0), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                "?13, ?14, ?14, ?15, ?16)",
                "iiittiiiiitttiit", model_id, version_id, baseline_id,
                state_names[r->state],
                r->resume_state == CN_STORE_ROLLOUT_NONE ? NULL
                                                         : state_names[r->resume_state],
                (int64_t)r->step_index, (int64_t)r->weight_bp, (int64_t)r->dry_run,
                (int64_t)r->analysis_attempts, (int64_t)r->generation, r->reason,
                r->strategy, entry->actor, now_ms, now_ms, r->machine) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0) {
            id = sqlite3_last_insert_rowid(s->db);
            if (insert_entry(s, id, 1, now_ms, entry, entry->reason, r->state,
                             r->step_index, r->weight_bp) != SQLITE_OK)
                rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        }
        if (rc == 0 && !parity) {
            bool changed;
            rc = cn_store__tag_write(s, model_id, r->model, version_id, r->version,
                                     CN_STORE_TAG_CANDIDATE, true, true, now_ms,
                                     entry->actor, &changed, NULL, err, errlen);
        }
        if (rc == 0)
            rc = write_also(s, model_id, r->model, also, now_ms, entry->actor, err,
                            errlen);
        if (rc == 0)
            rc = read_rollout(s, id, &stored, err, errlen);
        rc = cn_store__end(s, rc, what, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == 0) {
        cn_store_rollout_dispose(r);
        *r = stored;
    } else {
        cn_store_rollout_dispose(&stored);
    }
    return rc;
}

int cn_store_rollout_update(cn_store_t *s, cn_store_rollout_t *r,
                            const cn_store_audit_t *entry,
                            const cn_store_rollout_also_t *also, char *err,
                            size_t errlen)
{
    static const char what[] = "cannot save the rollout";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !r || !entry)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    int rc = check_rollout(s, r, err, errlen);
    if (rc == 0)
        rc = check_entry(s, entry, err, errlen);
    if (rc == 0)
        rc = check_also(s, also, err, errlen);
    if (rc)
        return rc;
    int64_t now_ms = cn_store__now_ms(), model_id = 0;
    char q1[QBUF], q2[QBUF];
    cn_store_rollout_t old, stored;
    cn_store_rollout_init(&old);
    cn_store_rollout_init(&stored);
    pthread_mutex_lock(&s->lock);
    rc = check_json(s, r, entry, err, errlen);
    if (rc == 0 && (rc = cn_store__begin(s, what, err, errlen)) == 0) {
        rc = read_rollout(s, r->id, &old, err, errlen);
        if (rc == 0 && old.audit_seq != r->audit_seq)
            rc = cn_store__failf(s->path, err, errlen, CN_ECONFLICT,
                                 "rollout %lld: its audit trail has entry %lld "
                                 "already, and this change was decided on entry %lld "
                                 "(a stale or repeated decision); read it again",
                                 (long long)r->id, (long long)old.audit_seq,
                                 (long long)r->audit_seq);
        if (rc == 0 && cn_store__model_id(s, old.model, &model_id) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        bool active = cn_store_rollout_state_active(r->state);
        if (rc == 0 && active && !cn_store_rollout_state_active(old.state)) {
            /* A retry: the model may have started another rollout since. */
            sqlite3_stmt *st = NULL;
            if (cn_store__prepare(s->db, &st,
                                  "SELECT r.id, v.version, r.state FROM rollouts r "
                                  "JOIN model_versions v ON v.id = r.version_id WHERE "
                                  "r.model_id = ?1 AND r.id <> ?2 AND r.state NOT IN "
                                  "('promoted', 'rolled-back', 'aborted')",
                                  "ii", model_id, r->id) != SQLITE_OK)
                rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
            else if (sqlite3_step(st) == SQLITE_ROW)
                rc = cn_store__failf(s->path, err, errlen, CN_ECONFLICT,
                                     "model '%s' has an active rollout %lld of version "
                                     "'%s' (%s); rollout %lld cannot restart beside it",
                                     Q(q1, old.model),
                                     (long long)sqlite3_column_int64(st, 0),
                                     Q(q2, cn_store__column_text(st, 1)),
                                     cn_store__column_text(st, 2), (long long)r->id);
            sqlite3_finalize(st);
        }
        bool restarted = active && !cn_store_rollout_state_active(old.state);
        int64_t step_started = r->step_index != old.step_index || restarted
                                   ? now_ms
                                   : old.step_started_unix_ms;
        int64_t ended = active ? 0 : old.ended_unix_ms > 0 ? old.ended_unix_ms : now_ms;
        if (rc == 0 &&
            cn_store__run(
                s->db,
                "UPDATE rollouts SET state = ?1, resume_state = ?2, step_index = ?3, "
                "weight_bp = ?4, analysis_attempts = ?5, generation = ?6, reason = ?7, "
                "strategy = coalesce(?8, strategy), updated_unix_ms = ?9, "
                "step_started_unix_ms = ?10, ended_unix_ms = nullif(?11, 0), "
                "machine = coalesce(?13, machine) WHERE id = ?12",
                "ttiiiittiiiit", state_names[r->state],
                r->resume_state == CN_STORE_ROLLOUT_NONE ? NULL
                                                         : state_names[r->resume_state],
                (int64_t)r->step_index, (int64_t)r->weight_bp,
                (int64_t)r->analysis_attempts, (int64_t)r->generation, r->reason,
                r->strategy, now_ms, step_started, ended, r->id,
                r->machine) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0 &&
            insert_entry(s, r->id, old.audit_seq + 1, now_ms, entry, entry->reason,
                         r->state, r->step_index, r->weight_bp) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0)
            rc = write_also(s, model_id, old.model, also, now_ms, entry->actor, err,
                            errlen);
        if (rc == 0)
            rc = read_rollout(s, r->id, &stored, err, errlen);
        rc = cn_store__end(s, rc, what, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    cn_store_rollout_dispose(&old);
    if (rc == 0) {
        cn_store_rollout_dispose(r);
        *r = stored;
    } else {
        cn_store_rollout_dispose(&stored);
    }
    return rc;
}

int cn_store_rollout_save_machine(cn_store_t *s, int64_t id, int64_t audit_seq,
                                  const char *machine, char *err, size_t errlen)
{
    static const char what[] = "cannot save the rollout's machine";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !machine)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    cn_store_rollout_t old;
    cn_store_rollout_init(&old);
    pthread_mutex_lock(&s->lock);
    int rc = cn_store__json_check(s, "rollout machine", machine, CN_STORE_STRATEGY_MAX,
                                  "object", err, errlen);
    if (rc == 0 && (rc = cn_store__begin(s, what, err, errlen)) == 0) {
        rc = read_rollout(s, id, &old, err, errlen);
        if (rc == 0 && old.audit_seq != audit_seq)
            rc = cn_store__failf(s->path, err, errlen, CN_ECONFLICT,
                                 "rollout %lld: its audit trail has entry %lld, not "
                                 "%lld; the machine is not saved over a newer decision",
                                 (long long)id, (long long)old.audit_seq,
                                 (long long)audit_seq);
        if (rc == 0 && !cn_store_rollout_state_active(old.state))
            rc = cn_store__failf(s->path, err, errlen, CN_ECONFLICT,
                                 "rollout %lld has ended (%s)", (long long)id,
                                 state_names[old.state]);
        if (rc == 0 &&
            cn_store__run(s->db, "UPDATE rollouts SET machine = ?1 WHERE id = ?2", "ti",
                          machine, id) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        rc = cn_store__end(s, rc, what, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    cn_store_rollout_dispose(&old);
    return rc;
}

/* -------------------------------------------------------------- reads */

int cn_store_rollout_get(cn_store_t *s, int64_t id, cn_store_rollout_t *out, char *err,
                         size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !out)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    pthread_mutex_lock(&s->lock);
    int rc = read_rollout(s, id, out, err, errlen);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* The one row a prepared query of rollout_columns gives, if any, into
 * *out (*found says whether there was one). */
static int step_one(cn_store_t *s, sqlite3_stmt *st, cn_store_rollout_t *out,
                    bool *found, const char *what, char *err, size_t errlen)
{
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        int rc = row_rollout(s, st, out, err, errlen);
        *found = rc == 0;
        return rc;
    }
    return step == SQLITE_DONE ? 0
                               : cn_store__fail_db(s->path, s->db, err, errlen, what);
}

int cn_store_rollout_active(cn_store_t *s, const char *model, cn_store_rollout_t *out,
                            bool *found, char *err, size_t errlen)
{
    static const char what[] = "cannot read the rollouts";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !model || !out || !found)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    char sql[sizeof rollout_columns + 128], q[QBUF];
    snprintf(sql, sizeof sql,
             "%sWHERE m.name = ?1 AND r.state NOT IN ('promoted', 'rolled-back', "
             "'aborted')",
             rollout_columns);
    *found = false;
    pthread_mutex_lock(&s->lock);
    int64_t model_id = 0;
    sqlite3_stmt *st = NULL;
    int rc = cn_store__exec(s->db, "BEGIN") == SQLITE_OK
                 ? 0
                 : cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0 && cn_store__model_id(s, model, &model_id) != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0 && !model_id)
        rc = cn_store__failf(s->path, err, errlen, CN_ENOTFOUND,
                             "no model '%s' is registered", Q(q, model));
    if (rc == 0 && cn_store__prepare(s->db, &st, sql, "t", model) != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        rc = step_one(s, st, out, found, what, err, errlen);
    sqlite3_finalize(st);
    if (!sqlite3_get_autocommit(s->db))
        cn_store__exec(s->db, "COMMIT");
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cn_store_rollout_parity_before(cn_store_t *s, const char *model, int64_t before,
                                   cn_store_rollout_t *out, bool *found, char *err,
                                   size_t errlen)
{
    static const char what[] = "cannot read the parity checks";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !model || !out || !found)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    *found = false;
    char sql[sizeof rollout_columns + 256];
    snprintf(sql, sizeof sql,
             "%sWHERE m.name = ?1 AND (?2 = 0 OR r.id < ?2) AND " CN_STORE__PARITY_SQL(
                 "r.strategy") " = 1 "
                               "ORDER BY r.id DESC LIMIT 1",
             rollout_columns);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (cn_store__prepare(s->db, &st, sql, "ti", model, before > 0 ? before : 0) !=
        SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        rc = step_one(s, st, out, found, what, err, errlen);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cn_store_rollout_list(cn_store_t *s, const char *model, unsigned states,
                          int64_t before, cn_store_rollout_t *out, size_t max,
                          size_t *n, char *err, size_t errlen)
{
    static const char what[] = "cannot read the rollouts";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !n || (max && !out))
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    *n = 0;
    if (max > CN_STORE_PAGE_MAX)
        max = CN_STORE_PAGE_MAX;
    /* The state filter as SQL: the bit of each row's state in ?3. */
    char sql[sizeof rollout_columns + 1024];
    int len = snprintf(sql, sizeof sql,
                       "%sWHERE (?1 IS NULL OR m.name = ?1) AND (?2 = 0 OR r.id < ?2) "
                       "AND (?3 = 0 OR (?3 >> CASE r.state",
                       rollout_columns);
    for (int i = 0; i < CN_STORE_ROLLOUT_STATE_COUNT; i++)
        len += snprintf(sql + len, sizeof sql - (size_t)len, " WHEN '%s' THEN %d",
                        state_names[i], i);
    snprintf(sql + len, sizeof sql - (size_t)len,
             " ELSE 31 END) & 1) ORDER BY r.id DESC LIMIT ?4");
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = NULL;
    size_t got = 0;
    int rc = 0, step = SQLITE_DONE;
    if (cn_store__prepare(s->db, &st, sql, "tiii", model, before > 0 ? before : 0,
                          (int64_t)(states & 0x3FFu), (int64_t)max) != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    while (rc == 0 && got < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cn_store_rollout_init(&out[got]);
        rc = row_rollout(s, st, &out[got], err, errlen);
        got++;
    }
    if (rc == 0 && got < max && step != SQLITE_DONE)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        for (size_t i = 0; i < got; i++)
            cn_store_rollout_dispose(&out[i]);
        got = 0;
    }
    *n = got;
    return rc;
}

int cn_store_audit_list(cn_store_t *s, int64_t rollout_id, int64_t after_seq,
                        cn_store_audit_t *out, size_t max, size_t *n, char *err,
                        size_t errlen)
{
    static const char what[] = "cannot read the audit trail";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !n || (max && !out))
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    *n = 0;
    if (max > CN_STORE_PAGE_MAX)
        max = CN_STORE_PAGE_MAX;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = NULL;
    size_t got = 0;
    int step = SQLITE_DONE;
    int64_t exists = 0;
    int rc = cn_store__exec(s->db, "BEGIN") == SQLITE_OK
                 ? 0
                 : cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0 &&
        (cn_store__prepare(s->db, &st, "SELECT count(*) FROM rollouts WHERE id = ?1",
                           "i", rollout_id) != SQLITE_OK ||
         sqlite3_step(st) != SQLITE_ROW))
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        exists = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0 && !exists)
        rc = cn_store__failf(s->path, err, errlen, CN_ENOTFOUND, "no rollout %lld",
                             (long long)rollout_id);
    if (rc == 0 && cn_store__prepare(s->db, &st,
                                     "SELECT seq, time_unix_ms, actor, kind, state, "
                                     "step_index, weight_bp, reason, payload FROM "
                                     "rollout_audit WHERE rollout_id = ?1 AND seq > ?2 "
                                     "ORDER BY seq LIMIT ?3",
                                     "iii", rollout_id, after_seq > 0 ? after_seq : 0,
                                     (int64_t)max) != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    while (rc == 0 && got < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cn_store_audit_t *e = &out[got++];
        memset(e, 0, sizeof *e);
        e->rollout_id = rollout_id;
        e->seq = sqlite3_column_int64(st, 0);
        e->time_unix_ms = sqlite3_column_int64(st, 1);
        snprintf(e->actor, sizeof e->actor, "%s", cn_store__column_text(st, 2));
        int64_t step_index = sqlite3_column_int64(st, 5),
                weight = sqlite3_column_int64(st, 6);
        if (cn_store_audit_kind_parse(cn_store__column_text(st, 3), &e->kind) ||
            cn_store_rollout_state_parse(cn_store__column_text(st, 4), &e->state) ||
            step_index < 0 || step_index > SMALL_MAX || weight < 0 ||
            weight > CN_BP_MAX) {
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "table rollout_audit, rollout %lld entry %lld: a "
                                 "column is out of range",
                                 (long long)rollout_id, (long long)e->seq);
            break;
        }
        e->step_index = (uint32_t)step_index;
        e->weight_bp = (uint16_t)weight;
        snprintf(e->reason, sizeof e->reason, "%s", cn_store__column_text(st, 7));
        if (sqlite3_column_type(st, 8) != SQLITE_NULL)
            e->payload = cn_xstrdup(cn_store__column_text(st, 8));
    }
    if (rc == 0 && got < max && step != SQLITE_DONE)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    sqlite3_finalize(st);
    if (!sqlite3_get_autocommit(s->db))
        cn_store__exec(s->db, "COMMIT");
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        for (size_t i = 0; i < got; i++)
            cn_store_audit_dispose(&out[i]);
        got = 0;
    }
    *n = got;
    return rc;
}

/* ------------------------------------------------------------- outbox */

void cn_store_outbox_dispose(cn_store_outbox_t *o)
{
    if (!o)
        return;
    free(o->target);
    free(o->event);
    memset(o, 0, sizeof *o);
}

int cn_store_outbox_list(cn_store_t *s, int64_t after_id, cn_store_outbox_t *out,
                         size_t max, size_t *n, char *err, size_t errlen)
{
    static const char what[] = "cannot read the notification outbox";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !n || (max && !out))
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    *n = 0;
    if (max > CN_STORE_PAGE_MAX)
        max = CN_STORE_PAGE_MAX;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = NULL;
    size_t got = 0;
    int step = SQLITE_DONE, rc = 0;
    if (cn_store__prepare(s->db, &st,
                          "SELECT id, event_id, target, event, created_unix_ms FROM "
                          "notify_outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
                          "ii", after_id, (int64_t)max) != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    while (rc == 0 && got < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cn_store_outbox_t *o = &out[got++];
        memset(o, 0, sizeof *o);
        o->id = sqlite3_column_int64(st, 0);
        snprintf(o->event_id, sizeof o->event_id, "%s", cn_store__column_text(st, 1));
        o->target = cn_xstrdup(cn_store__column_text(st, 2));
        o->event = cn_xstrdup(cn_store__column_text(st, 3));
        o->created_unix_ms = sqlite3_column_int64(st, 4);
    }
    if (rc == 0 && got < max && step != SQLITE_DONE)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        for (size_t i = 0; i < got; i++)
            cn_store_outbox_dispose(&out[i]);
        got = 0;
    }
    *n = got;
    return rc;
}

int cn_store_outbox_delete(cn_store_t *s, int64_t id, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s)
        return cn_store__failf(NULL, err, errlen, CN_EINVAL, "bad arguments");
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (cn_store__run(s->db, "DELETE FROM notify_outbox WHERE id = ?1", "i", id) !=
        SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen,
                               "cannot delete from the notification outbox");
    pthread_mutex_unlock(&s->lock);
    return rc;
}
