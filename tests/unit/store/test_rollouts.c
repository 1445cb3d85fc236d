/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Rollouts and their audit trail in the state file (store/rollouts.c), on
 * real SQLite files: starting (the candidate tag, the baseline, entry 1),
 * superseding, a change with its entry in one transaction, the sequence
 * number as the record's version (a stale or repeated decision is
 * refused and writes nothing), a promotion's tags and generation in the
 * same transaction, reading, listing and paging, a trail without a gap
 * after many writes, the append-only trail in SQL, what survives a reopen,
 * and writers on several threads and handles at once.
 */
#include "store/store.h"
#include "store_test.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define in_dir store_test_path
#define sql_int store_test_sql_int

TestSuite(store_rollouts, .init = store_test_make_dir, .fini = store_test_remove_dir);

static char err[512];

static void expect_err(const char *path, const char *what)
{
    char want[700];
    snprintf(want, sizeof want, "state file '%s': %s", path, what);
    cr_assert_str_eq(err, want);
    cr_assert_null(strchr(err, '\n'));
}

static void add(cn_store_t *s, const char *model, const char *version,
                const char *address)
{
    cn_store_version_t v;
    store_test_version(&v, model, version, address, NULL);
    cr_assert_eq(cn_store_version_add(s, &v, "test", NULL, err, sizeof err), 0, "%s",
                 err);
    cn_store_version_dispose(&v);
}

/* fraud: v1 (stable), v2, v3. */
static cn_store_t *registry(const char *path)
{
    cn_store_t *s = store_test_open(path);
    add(s, "fraud", "v1", "127.0.0.1:9001");
    add(s, "fraud", "v2", "127.0.0.1:9002");
    add(s, "fraud", "v3", "127.0.0.1:9003");
    return s;
}

static cn_store_audit_t entry(cn_store_audit_kind_t kind, const char *actor,
                              const char *reason)
{
    cn_store_audit_t e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    snprintf(e.actor, sizeof e.actor, "%s", actor);
    snprintf(e.reason, sizeof e.reason, "%s", reason);
    return e;
}

/* A pending rollout of fraud/version; the caller disposes *r. */
static void start(cn_store_t *s, cn_store_rollout_t *r, const char *version)
{
    cn_store_rollout_init(r);
    snprintf(r->model, sizeof r->model, "fraud");
    snprintf(r->version, sizeof r->version, "%s", version);
    r->state = CN_STORE_ROLLOUT_PENDING;
    cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "alice", "rollout start");
    cr_assert_eq(cn_store_rollout_start(s, r, &e, 0, NULL, err, sizeof err), 0, "%s",
                 err);
}

static cn_store_tag_t tag_of(cn_store_t *s, const char *version)
{
    cn_store_version_t v;
    cn_store_version_init(&v);
    cr_assert_eq(cn_store_version_get(s, "fraud", version, &v, err, sizeof err), 0,
                 "%s", err);
    cn_store_tag_t t = v.tag;
    cn_store_version_dispose(&v);
    return t;
}

/* -------------------------------------------------------------- names */

Test(store_rollouts, state_and_kind_names_round_trip)
{
    for (int i = 0; i < CN_STORE_ROLLOUT_STATE_COUNT; i++) {
        cn_store_rollout_state_t st = CN_STORE_ROLLOUT_NONE;
        const char *name = cn_store_rollout_state_name((cn_store_rollout_state_t)i);
        cr_assert_eq(cn_store_rollout_state_parse(name, &st), 0, "%s", name);
        cr_assert_eq((int)st, i);
        cr_assert_eq(cn_store_rollout_state_active(st), i <= 6, "%s", name);
        cr_assert(CN_STORE_ROLLOUT_ACTIVE_BITS & CN_STORE_ROLLOUT_BIT(st) ? i <= 6
                                                                          : i > 6);
    }
    cr_assert_str_eq(cn_store_rollout_state_name(CN_STORE_ROLLOUT_ROLLING_BACK),
                     "rolling-back");
    cr_assert_str_eq(cn_store_rollout_state_name(CN_STORE_ROLLOUT_NONE), "");
    cn_store_rollout_state_t st = CN_STORE_ROLLOUT_PAUSED;
    cr_assert_eq(cn_store_rollout_state_parse("done", &st), CN_EINVAL);
    cr_assert_eq(st, CN_STORE_ROLLOUT_PAUSED);
    for (int i = 0; i < CN_STORE_AUDIT_KIND_COUNT; i++) {
        cn_store_audit_kind_t k;
        cr_assert_eq(cn_store_audit_kind_parse(
                         cn_store_audit_kind_name((cn_store_audit_kind_t)i), &k),
                     0);
        cr_assert_eq((int)k, i);
    }
    cr_assert_str_eq(cn_store_audit_kind_name(CN_STORE_AUDIT_TRIGGER), "trigger");
}

/* ----------------------------------------------------------- starting */

Test(store_rollouts, a_start_records_the_rollout_its_first_entry_and_the_candidate)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    int64_t before = store_test_now_ms();
    cn_store_rollout_t r;
    cn_store_rollout_init(&r);
    snprintf(r.model, sizeof r.model, "fraud");
    snprintf(r.version, sizeof r.version, "v2");
    r.state = CN_STORE_ROLLOUT_PENDING;
    r.dry_run = true;
    r.strategy = strdup("{\"steps\":[{\"set_weight\":1}]}");
    snprintf(r.reason, sizeof r.reason, "tagged production-candidate");
    cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "alice", "rollout start");
    e.payload = "{\"dry_run\":true}";
    cr_assert_eq(cn_store_rollout_start(s, &r, &e, 0, NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_gt(r.id, 0);
    cr_assert_eq(r.audit_seq, 1);
    cr_assert_str_eq(r.baseline, "v1", "the stable version when it started");
    cr_assert_str_eq(r.created_by, "alice");
    cr_assert_geq(r.started_unix_ms, before);
    cr_assert_eq(r.updated_unix_ms, r.started_unix_ms);
    cr_assert_eq(r.step_started_unix_ms, r.started_unix_ms);
    cr_assert_eq(r.ended_unix_ms, 0);
    cr_assert(r.dry_run);
    cr_assert_str_eq(r.strategy, "{\"steps\":[{\"set_weight\":1}]}");
    cr_assert_eq(tag_of(s, "v2"), CN_STORE_TAG_CANDIDATE);

    cn_store_audit_t a[4];
    size_t n = 0;
    cr_assert_eq(cn_store_audit_list(s, r.id, 0, a, 4, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].seq, 1);
    cr_assert_eq(a[0].rollout_id, r.id);
    cr_assert_eq(a[0].kind, CN_STORE_AUDIT_MANUAL);
    cr_assert_str_eq(a[0].actor, "alice");
    cr_assert_str_eq(a[0].reason, "rollout start");
    cr_assert_eq(a[0].state, CN_STORE_ROLLOUT_PENDING);
    cr_assert_str_eq(a[0].payload, "{\"dry_run\":true}");
    cr_assert_eq(a[0].time_unix_ms, r.started_unix_ms);
    cn_store_audit_dispose(&a[0]);
    cn_store_audit_dispose(&a[0]);

    cn_store_model_t m;
    cr_assert_eq(cn_store_model_get(s, "fraud", &m, err, sizeof err), 0, "%s", err);
    cr_assert_eq(m.active_rollout, r.id);
    cr_assert_str_eq(m.candidate, "v2");
    cn_store_rollout_dispose(&r);
    cn_store_rollout_dispose(&r);
    cn_store_rollout_dispose(NULL);
    cn_store_close(s);
}

Test(store_rollouts, one_active_rollout_per_model_unless_superseded)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r2, r3;
    start(s, &r2, "v2");

    cn_store_rollout_init(&r3);
    snprintf(r3.model, sizeof r3.model, "fraud");
    snprintf(r3.version, sizeof r3.version, "v3");
    r3.state = CN_STORE_ROLLOUT_PENDING;
    cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "bob", "tagged");
    char *before = store_test_dump(path);
    cr_assert_eq(cn_store_rollout_start(s, &r3, &e, 0, NULL, err, sizeof err),
                 CN_ECONFLICT);
    char want[200];
    snprintf(want, sizeof want,
             "model 'fraud' has an active rollout %lld of version 'v2' (pending); "
             "supersede or end it first",
             (long long)r2.id);
    expect_err(path, want);
    cr_assert_eq(cn_store_rollout_start(s, &r3, &e, r2.id + 50, NULL, err, sizeof err),
                 CN_ECONFLICT);
    snprintf(want, sizeof want,
             "model 'fraud' has an active rollout %lld of version 'v2' (pending); "
             "supersede or end it first",
             (long long)r2.id);
    expect_err(path, want);
    char *after = store_test_dump(path);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);

    /* Superseding: one transaction ends v2's and starts v3's. */
    cr_assert_eq(cn_store_rollout_start(s, &r3, &e, r2.id, NULL, err, sizeof err), 0,
                 "%s", err);
    cn_store_rollout_t old;
    cn_store_rollout_init(&old);
    cr_assert_eq(cn_store_rollout_get(s, r2.id, &old, err, sizeof err), 0, "%s", err);
    cr_assert_eq(old.state, CN_STORE_ROLLOUT_ABORTED);
    cr_assert_str_eq(old.reason, "superseded by v3");
    cr_assert_gt(old.ended_unix_ms, 0);
    cr_assert_eq(old.audit_seq, 2);
    cn_store_audit_t a[3];
    size_t n;
    cr_assert_eq(cn_store_audit_list(s, r2.id, 1, a, 3, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].seq, 2);
    cr_assert_eq(a[0].kind, CN_STORE_AUDIT_TRANSITION);
    cr_assert_eq(a[0].state, CN_STORE_ROLLOUT_ABORTED);
    cr_assert_str_eq(a[0].reason, "superseded by v3");
    cr_assert_str_eq(a[0].actor, "bob");
    cn_store_audit_dispose(&a[0]);
    cr_assert_eq(tag_of(s, "v2"), CN_STORE_TAG_NONE, "the candidate tag moved");
    cr_assert_eq(tag_of(s, "v3"), CN_STORE_TAG_CANDIDATE);

    /* Superseding one that is no longer active is a conflict. */
    cn_store_rollout_t r4;
    cn_store_rollout_init(&r4);
    snprintf(r4.model, sizeof r4.model, "fraud");
    snprintf(r4.version, sizeof r4.version, "v2");
    cr_assert_eq(cn_store_rollout_start(s, &r4, &e, r2.id, NULL, err, sizeof err),
                 CN_ECONFLICT);
    cn_store_rollout_dispose(&old);
    cn_store_rollout_dispose(&r2);
    cn_store_rollout_dispose(&r3);
    cn_store_rollout_dispose(&r4);
    cn_store_close(s);
}

Test(store_rollouts, a_start_is_refused_for_unknown_or_stable_versions)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    cn_store_rollout_init(&r);
    cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "alice", "");
    snprintf(r.model, sizeof r.model, "fraud");
    snprintf(r.version, sizeof r.version, "v1");
    cr_assert_eq(cn_store_rollout_start(s, &r, &e, 0, NULL, err, sizeof err),
                 CN_EINVAL);
    expect_err(path, "model 'fraud': version 'v1' is its stable version; a rollout "
                     "rolls out another one");
    snprintf(r.version, sizeof r.version, "v9");
    cr_assert_eq(cn_store_rollout_start(s, &r, &e, 0, NULL, err, sizeof err),
                 CN_ENOTFOUND);
    expect_err(path, "model 'fraud' has no version 'v9'");
    snprintf(r.model, sizeof r.model, "spam");
    cr_assert_eq(cn_store_rollout_start(s, &r, &e, 0, NULL, err, sizeof err),
                 CN_ENOTFOUND);
    expect_err(path, "no model 'spam' is registered");
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM rollouts"), 0);
    cn_store_close(s);
}

/* A parity check (its strategy a parity spec) is the one rollout of the
 * stable version; it moves no tag, and is read back as a parity check. */
Test(store_rollouts, a_parity_check_runs_the_stable_version_and_moves_no_tag)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    cn_store_rollout_init(&r);
    cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "alice", "parity check");
    snprintf(r.model, sizeof r.model, "fraud");
    snprintf(r.version, sizeof r.version, "v2");
    r.state = CN_STORE_ROLLOUT_PENDING;
    r.strategy = strdup("{\"parity\":{\"weight_bp\":5000}}");
    cr_assert_eq(cn_store_rollout_start(s, &r, &e, 0, NULL, err, sizeof err),
                 CN_EINVAL);
    expect_err(path, "model 'fraud': version 'v2' is not its stable version; a "
                     "parity check runs the stable version against itself");
    snprintf(r.version, sizeof r.version, "v1");
    cr_assert_eq(cn_store_rollout_start(s, &r, &e, 0, NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert(r.parity);
    cr_assert_str_eq(r.baseline, "v1");
    cr_assert_eq(tag_of(s, "v1"), CN_STORE_TAG_STABLE, "stable stays stable");
    cn_store_rollout_t back;
    cn_store_rollout_init(&back);
    cr_assert_eq(cn_store_rollout_get(s, r.id, &back, err, sizeof err), 0, "%s", err);
    cr_assert(back.parity);
    cn_store_rollout_dispose(&back);
    /* a rollout of a candidate reads as none */
    cn_store_rollout_t c;
    cn_store_rollout_init(&c);
    snprintf(c.model, sizeof c.model, "fraud");
    snprintf(c.version, sizeof c.version, "v2");
    c.state = CN_STORE_ROLLOUT_PENDING;
    c.strategy = strdup("{\"steps\":[]}");
    cr_assert_eq(cn_store_rollout_start(s, &c, &e, r.id, NULL, err, sizeof err), 0,
                 "%s", err);
    cr_assert_not(c.parity);
    cr_assert_eq(tag_of(s, "v2"), CN_STORE_TAG_CANDIDATE);
    /* the newest parity check before a rollout, and none before it */
    bool found = false;
    cn_store_rollout_t p;
    cn_store_rollout_init(&p);
    cr_assert_eq(
        cn_store_rollout_parity_before(s, "fraud", c.id, &p, &found, err, sizeof err),
        0, "%s", err);
    cr_assert(found);
    cr_assert_eq(p.id, r.id);
    cr_assert(p.parity);
    cr_assert_eq(
        cn_store_rollout_parity_before(s, "fraud", r.id, &p, &found, err, sizeof err),
        0, "%s", err);
    cr_assert_not(found);
    cn_store_rollout_dispose(&p);
    cn_store_rollout_dispose(&c);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

/* The bad fields of each_bad_field_is_refused_by_name: case i spoils x or
 * y and returns the message expected (%lld: the rollout's id). */
static const char *spoil(int i, cn_store_rollout_t *x, cn_store_audit_t *y)
{
    switch (i) {
    case 0:
        x->weight_bp = 10001;
        return "rollout weight_bp: 10001 is above 10000";
    case 1:
        x->step_index = 70000;
        return "rollout step_index: 70000 is above 65535";
    case 2:
        x->analysis_attempts = 65536;
        return "rollout analysis_attempts: 65536 is above 65535";
    case 3:
        x->state = (cn_store_rollout_state_t)12;
        return "rollout state: 12 is not a state";
    case 4:
        x->resume_state = CN_STORE_ROLLOUT_PROGRESSING;
        return "rollout resume_state: only a paused or holding rollout has one, not "
               "a pending one";
    case 5:
        x->state = CN_STORE_ROLLOUT_PAUSED;
        x->resume_state = CN_STORE_ROLLOUT_ABORTED;
        return "rollout resume_state: must be an active state";
    case 6:
        snprintf(x->reason, sizeof x->reason, "two\nlines");
        return "rollout reason holds a control character";
    case 7:
        x->reason[0] = (char)0xff;
        return "rollout reason is not valid UTF-8";
    case 8:
        y->actor[0] = '\0';
        return "audit actor is empty";
    case 9:
        y->kind = (cn_store_audit_kind_t)7;
        return "audit kind: 7 is not one of transition, analysis, trigger, manual";
    case 10:
        snprintf(y->reason, sizeof y->reason, "a\x01");
        return "audit reason holds a control character";
    case 11:
        y->payload = "{\"verdict\": ";
        return "audit payload is not JSON";
    case 12:
        x->strategy = strdup("[1]");
        return "rollout strategy is not a JSON object";
    case 13:
        x->audit_seq = 0;
        return "rollout %lld: its audit trail has entry 1 already, and this change "
               "was decided on entry 0 (a stale or repeated decision); read it again";
    case 14:
        x->id = 999;
        return "no rollout 999";
    case 15:
        y->payload = malloc(CN_STORE_PAYLOAD_MAX + 2);
        memset(y->payload, '1', CN_STORE_PAYLOAD_MAX + 1);
        y->payload[CN_STORE_PAYLOAD_MAX + 1] = '\0';
        return "audit payload is larger than 1048576 bytes";
    }
    return NULL;
}

/* Each bad field: CN_EINVAL (or the conflict, or not found) naming it,
 * and not a row changed. */
Test(store_rollouts, each_bad_field_is_refused_by_name)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    char *before = store_test_dump(path);
    for (int i = 0;; i++) {
        cn_store_rollout_t x;
        cn_store_rollout_init(&x);
        cr_assert_eq(cn_store_rollout_get(s, r.id, &x, err, sizeof err), 0, "%s", err);
        cn_store_audit_t y = entry(CN_STORE_AUDIT_TRANSITION, "controller", "next");
        const char *what = spoil(i, &x, &y);
        if (!what) {
            cn_store_rollout_dispose(&x);
            break;
        }
        int rc = cn_store_rollout_update(s, &x, &y, NULL, err, sizeof err);
        char want[400];
        snprintf(want, sizeof want, what, (long long)r.id);
        cr_assert_eq(rc,
                     i == 13   ? CN_ECONFLICT
                     : i == 14 ? CN_ENOTFOUND
                               : CN_EINVAL,
                     "case %d: %s", i, err);
        expect_err(path, want);
        if (i == 15)
            free(y.payload);
        cn_store_rollout_dispose(&x);
    }
    char *after = store_test_dump(path);
    cr_assert_str_eq(after, before, "no refused write changed a row");
    free(before);
    free(after);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

/* -------------------------------------------------------------- updates */

Test(store_rollouts, a_change_and_its_entry_are_written_together)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    int64_t step0 = r.step_started_unix_ms;
    r.state = CN_STORE_ROLLOUT_PROGRESSING;
    r.step_index = 1;
    r.weight_bp = 100;
    r.generation = 7;
    snprintf(r.reason, sizeof r.reason, "set_weight 1%%");
    cn_store_audit_t e = entry(CN_STORE_AUDIT_TRANSITION, "controller", "step 1");
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(r.audit_seq, 2);
    cr_assert_geq(r.step_started_unix_ms, step0, "a new step starts now");
    cr_assert_eq(r.step_started_unix_ms, r.updated_unix_ms);

    /* An analysis that spends an attempt: same step, its time kept. */
    int64_t step1 = r.step_started_unix_ms;
    r.analysis_attempts = 1;
    e = entry(CN_STORE_AUDIT_ANALYSIS, "controller", "marginal: latency_ms");
    e.payload = "{\"verdict\":\"marginal\",\"metrics\":[{\"name\":\"latency_ms\"}]}";
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(r.audit_seq, 3);
    cr_assert_eq(r.step_started_unix_ms, step1);

    /* A hold, with the state to resume into. */
    r.state = CN_STORE_ROLLOUT_HOLDING;
    r.resume_state = CN_STORE_ROLLOUT_PROGRESSING;
    snprintf(r.reason, sizeof r.reason, "n=120 of 400 needed, at 30 per minute");
    e = entry(CN_STORE_AUDIT_TRANSITION, "controller", r.reason);
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0, "%s",
                 err);

    /* Read back after a reopen (what a restart after kill -9 sees). */
    int64_t id = r.id;
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
    s = store_test_open(path);
    cn_store_rollout_init(&r);
    bool found = false;
    cr_assert_eq(cn_store_rollout_active(s, "fraud", &r, &found, err, sizeof err), 0,
                 "%s", err);
    cr_assert(found);
    cr_assert_eq(r.id, id);
    cr_assert_eq(r.state, CN_STORE_ROLLOUT_HOLDING);
    cr_assert_eq(r.resume_state, CN_STORE_ROLLOUT_PROGRESSING);
    cr_assert_eq(r.step_index, 1);
    cr_assert_eq(r.weight_bp, 100);
    cr_assert_eq(r.analysis_attempts, 1);
    cr_assert_eq(r.generation, 7);
    cr_assert_eq(r.audit_seq, 4);
    cr_assert_eq(r.step_started_unix_ms, step1);
    cr_assert_str_eq(r.reason, "n=120 of 400 needed, at 30 per minute");
    cr_assert_str_eq(r.baseline, "v1");

    cn_store_audit_t a[8];
    size_t n;
    cr_assert_eq(cn_store_audit_list(s, id, 0, a, 8, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, 4);
    cr_assert_eq(a[2].kind, CN_STORE_AUDIT_ANALYSIS);
    cr_assert_str_eq(
        a[2].payload,
        "{\"verdict\":\"marginal\",\"metrics\":[{\"name\":\"latency_ms\"}]}");
    cr_assert_eq(a[1].weight_bp, 100);
    cr_assert_eq(a[1].step_index, 1);
    cr_assert_null(a[1].payload);
    cr_assert_eq(a[3].state, CN_STORE_ROLLOUT_HOLDING);
    for (size_t i = 0; i < n; i++)
        cn_store_audit_dispose(&a[i]);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

/* The same decision sent twice (a retry after a crash, or two writers on
 * one view): the second is refused and writes nothing. */
Test(store_rollouts, a_repeated_or_stale_decision_is_refused)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r, copy;
    start(s, &r, "v2");
    cn_store_rollout_init(&copy);
    cr_assert_eq(cn_store_rollout_get(s, r.id, &copy, err, sizeof err), 0, "%s", err);
    r.state = CN_STORE_ROLLOUT_ROLLING_BACK;
    cn_store_audit_t e = entry(CN_STORE_AUDIT_TRIGGER, "controller", "error_rate");
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0, "%s",
                 err);
    char *before = store_test_dump(path);
    copy.state = CN_STORE_ROLLOUT_ROLLING_BACK;
    cr_assert_eq(cn_store_rollout_update(s, &copy, &e, NULL, err, sizeof err),
                 CN_ECONFLICT);
    char want[300];
    snprintf(want, sizeof want,
             "rollout %lld: its audit trail has entry 2 already, and this change was "
             "decided on entry 1 (a stale or repeated decision); read it again",
             (long long)r.id);
    expect_err(path, want);
    char *after = store_test_dump(path);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    cn_store_rollout_dispose(&copy);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

/* The machine alone (no entry): only over the latest decision, only while
 * active, only a JSON object. */
Test(store_rollouts, the_machine_is_saved_alone_only_over_the_latest_decision)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r, back;
    start(s, &r, "v2");
    cn_store_rollout_init(&back);
    cr_assert_eq(cn_store_rollout_save_machine(s, r.id, r.audit_seq, "{\"seq\": 1}",
                                               err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cn_store_rollout_get(s, r.id, &back, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(back.machine, "{\"seq\": 1}");
    cr_assert_eq(back.audit_seq, r.audit_seq, "no audit entry was added");
    char *before = store_test_dump(path);
    cr_assert_eq(
        cn_store_rollout_save_machine(s, r.id, r.audit_seq + 1, "{}", err, sizeof err),
        CN_ECONFLICT);
    cr_assert(strstr(err, "not saved over a newer decision") != NULL, "%s", err);
    cr_assert_eq(
        cn_store_rollout_save_machine(s, r.id, r.audit_seq, "[1]", err, sizeof err),
        CN_EINVAL);
    cr_assert_eq(cn_store_rollout_save_machine(s, r.id + 100, 1, "{}", err, sizeof err),
                 CN_ENOTFOUND);
    char *after = store_test_dump(path);
    cr_assert_str_eq(after, before);
    r.state = CN_STORE_ROLLOUT_ABORTED;
    cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "alice", "abort");
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(
        cn_store_rollout_save_machine(s, r.id, r.audit_seq, "{}", err, sizeof err),
        CN_ECONFLICT);
    cr_assert(strstr(err, "has ended (aborted)") != NULL, "%s", err);
    free(before);
    free(after);
    cn_store_rollout_dispose(&back);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

/* Promotion: the final state, the tags and the generation in one go. */
Test(store_rollouts, a_promotion_moves_stable_retires_the_old_and_saves_the_generation)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    cn_generation_t g;
    cn_generation_init(&g);
    g.number = 4;
    cn_version_set_dispose(&g.sets[CN_ROLE_STABLE]);
    cn_version_set_init(&g.sets[CN_ROLE_STABLE], "v2");
    cn_version_set_add(&g.sets[CN_ROLE_STABLE], "127.0.0.1:9002");
    cn_store_tag_op_t ops[] = {{"v2", CN_STORE_TAG_STABLE, true},
                               {"v1", CN_STORE_TAG_RETIRED, true}};
    cn_store_rollout_also_t also = {.tags = ops, .n_tags = 2, .generation = &g};
    r.state = CN_STORE_ROLLOUT_PROMOTED;
    r.weight_bp = 0;
    r.generation = 4;
    snprintf(r.reason, sizeof r.reason, "all steps passed");
    cn_store_audit_t e = entry(CN_STORE_AUDIT_TRANSITION, "controller", "promoted");
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, &also, err, sizeof err), 0, "%s",
                 err);
    cr_assert_gt(r.ended_unix_ms, 0);
    cr_assert_eq(tag_of(s, "v2"), CN_STORE_TAG_STABLE);
    cr_assert_eq(tag_of(s, "v1"), CN_STORE_TAG_RETIRED);
    cn_generation_t back;
    cn_generation_init(&back);
    bool ht, hv;
    cr_assert_eq(cn_store_load_generation(s, &back, &ht, &hv, err, sizeof err), 0, "%s",
                 err);
    cr_assert(hv);
    cr_assert_eq(back.number, 4);
    cr_assert_str_eq(back.sets[CN_ROLE_STABLE].version, "v2");
    cn_generation_dispose(&back);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history WHERE who = "
                               "'controller'"),
                 1);
    bool found = true;
    cn_store_rollout_t active;
    cn_store_rollout_init(&active);
    cr_assert_eq(cn_store_rollout_active(s, "fraud", &active, &found, err, sizeof err),
                 0);
    cr_assert_not(found);
    cn_store_rollout_dispose(&active);
    cn_store_rollout_dispose(&r);
    cn_generation_dispose(&g);
    cn_store_close(s);
}

/* A part of a change that fails (here the generation's number does not
 * grow) undoes the rest: state, entry and tags. */
Test(store_rollouts, a_change_whose_generation_is_refused_writes_nothing)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    cn_generation_t g;
    cn_generation_init(&g);
    g.number = 5;
    cn_version_set_add(&g.sets[CN_ROLE_STABLE], "127.0.0.1:9001");
    cr_assert_eq(cn_store_save_generation(s, &g, "start", err, sizeof err), 0, "%s",
                 err);
    char *before = store_test_dump(path);
    cn_store_tag_op_t ops[] = {{"v2", CN_STORE_TAG_STABLE, true}};
    cn_store_rollout_also_t also = {.tags = ops, .n_tags = 1, .generation = &g};
    r.state = CN_STORE_ROLLOUT_PROMOTED;
    cn_store_audit_t e = entry(CN_STORE_AUDIT_TRANSITION, "controller", "promoted");
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, &also, err, sizeof err), CN_EINVAL);
    expect_err(path, "refusing to save generation 5: generation 5 is saved already, "
                     "and numbers only grow");
    char *after = store_test_dump(path);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    /* An unknown version in the tag changes: not found, nothing written. */
    ops[0].version = "v8";
    also.generation = NULL;
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, &also, err, sizeof err),
                 CN_ENOTFOUND);
    expect_err(path, "model 'fraud' has no version 'v8'");
    cn_generation_dispose(&g);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

Test(store_rollouts, tags_of_an_active_rollouts_version_change_only_with_it)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    char want[300];
    cr_assert_eq(cn_store_tag_set(s, "fraud", "v3", CN_STORE_TAG_STABLE, true, "bob",
                                  NULL, err, sizeof err),
                 CN_ECONFLICT);
    snprintf(want, sizeof want,
             "model 'fraud' has an active rollout %lld of version 'v2' (pending): "
             "stable moves when it is promoted, or once it has ended",
             (long long)r.id);
    expect_err(path, want);
    cr_assert_eq(cn_store_tag_set(s, "fraud", "v2", CN_STORE_TAG_CANDIDATE, false,
                                  "bob", NULL, err, sizeof err),
                 CN_ECONFLICT);
    snprintf(want, sizeof want,
             "model 'fraud' has an active rollout %lld of version 'v2' (pending): the "
             "tags of its version change with it; abort it first",
             (long long)r.id);
    expect_err(path, want);
    /* Another candidate is allowed: the caller supersedes (registry.h). */
    cn_store_tag_result_t res;
    cr_assert_eq(cn_store_tag_set(s, "fraud", "v3", CN_STORE_TAG_CANDIDATE, true, "bob",
                                  &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(res.previous, "v2");
    cr_assert_eq(res.active_rollout, r.id);
    cr_assert_str_eq(res.active_version, "v2");
    cr_assert_str_eq(res.active_state, "pending");
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

Test(store_rollouts, a_retry_restarts_an_ended_rollout_unless_another_is_active)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r, r3;
    start(s, &r, "v2");
    r.state = CN_STORE_ROLLOUT_ROLLED_BACK;
    r.step_index = 3;
    cn_store_tag_op_t rb[] = {{"v2", CN_STORE_TAG_ROLLED_BACK, true}};
    cn_store_rollout_also_t also = {.tags = rb, .n_tags = 1};
    cn_store_audit_t e = entry(CN_STORE_AUDIT_TRIGGER, "controller", "error_rate");
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, &also, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(tag_of(s, "v2"), CN_STORE_TAG_ROLLED_BACK);
    int64_t ended = r.ended_unix_ms;
    cr_assert_gt(ended, 0);

    /* Another rollout now runs: the retry must wait. */
    start(s, &r3, "v3");
    r.state = CN_STORE_ROLLOUT_PENDING;
    r.step_index = 0;
    cn_store_tag_op_t cand[] = {{"v2", CN_STORE_TAG_CANDIDATE, true}};
    also.tags = cand;
    e = entry(CN_STORE_AUDIT_MANUAL, "alice", "retry");
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, &also, err, sizeof err),
                 CN_ECONFLICT);
    char want[300];
    snprintf(want, sizeof want,
             "model 'fraud' has an active rollout %lld of version 'v3' (pending); "
             "rollout %lld cannot restart beside it",
             (long long)r3.id, (long long)r.id);
    expect_err(path, want);

    r3.state = CN_STORE_ROLLOUT_ABORTED;
    cn_store_audit_t abort_e = entry(CN_STORE_AUDIT_MANUAL, "alice", "abort");
    cr_assert_eq(cn_store_rollout_update(s, &r3, &abort_e, NULL, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, &also, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(r.ended_unix_ms, 0, "active again");
    cr_assert_eq(r.state, CN_STORE_ROLLOUT_PENDING);
    cr_assert_eq(r.audit_seq, 3);
    cr_assert_eq(tag_of(s, "v2"), CN_STORE_TAG_CANDIDATE);
    cn_store_rollout_dispose(&r);
    cn_store_rollout_dispose(&r3);
    cn_store_close(s);
}

/* -------------------------------------------------------------- reads */

Test(store_rollouts, lists_filter_by_model_and_state_and_page_newest_first)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    add(s, "ads", "a1", "127.0.0.1:9101");
    add(s, "ads", "a2", "127.0.0.1:9102");
    int64_t ids[6];
    for (int i = 0; i < 5; i++) {
        cn_store_rollout_t r;
        start(s, &r, i % 2 ? "v3" : "v2");
        ids[i] = r.id;
        r.state = CN_STORE_ROLLOUT_ABORTED;
        cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "alice", "abort");
        cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0, "%s",
                     err);
        cn_store_rollout_dispose(&r);
    }
    cn_store_rollout_t r;
    start(s, &r, "v2");
    ids[5] = r.id;
    cn_store_rollout_dispose(&r);
    cn_store_rollout_t ra;
    cn_store_rollout_init(&ra);
    snprintf(ra.model, sizeof ra.model, "ads");
    snprintf(ra.version, sizeof ra.version, "a2");
    cn_store_audit_t e = entry(CN_STORE_AUDIT_MANUAL, "alice", "start");
    cr_assert_eq(cn_store_rollout_start(s, &ra, &e, 0, NULL, err, sizeof err), 0, "%s",
                 err);

    cn_store_rollout_t out[4];
    size_t n = 0;
    cr_assert_eq(cn_store_rollout_list(s, NULL, 0, 0, out, 4, &n, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(n, 4);
    cr_assert_eq(out[0].id, ra.id, "newest first");
    cr_assert_eq(out[1].id, ids[5]);
    int64_t last = out[3].id;
    for (size_t i = 0; i < n; i++)
        cn_store_rollout_dispose(&out[i]);
    cr_assert_eq(cn_store_rollout_list(s, NULL, 0, last, out, 4, &n, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(n, 3, "the rest, after the page");
    cr_assert_eq(out[2].id, ids[0]);
    for (size_t i = 0; i < n; i++)
        cn_store_rollout_dispose(&out[i]);

    cr_assert_eq(cn_store_rollout_list(s, "fraud", CN_STORE_ROLLOUT_ACTIVE_BITS, 0, out,
                                       4, &n, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0].id, ids[5]);
    cr_assert_str_eq(out[0].model, "fraud");
    cn_store_rollout_dispose(&out[0]);
    cr_assert_eq(cn_store_rollout_list(s, "fraud",
                                       CN_STORE_ROLLOUT_BIT(CN_STORE_ROLLOUT_ABORTED),
                                       0, out, 4, &n, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(n, 4);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(out[i].state, CN_STORE_ROLLOUT_ABORTED);
        cn_store_rollout_dispose(&out[i]);
    }
    cr_assert_eq(cn_store_rollout_list(s, "nobody", 0, 0, out, 4, &n, err, sizeof err),
                 0);
    cr_assert_eq(n, 0);

    cn_store_rollout_t one;
    cn_store_rollout_init(&one);
    cr_assert_eq(cn_store_rollout_get(s, 12345, &one, err, sizeof err), CN_ENOTFOUND);
    expect_err(path, "no rollout 12345");
    bool found = true;
    cr_assert_eq(cn_store_rollout_active(s, "nobody", &one, &found, err, sizeof err),
                 CN_ENOTFOUND);
    expect_err(path, "no model 'nobody' is registered");
    cn_store_audit_t a;
    cr_assert_eq(cn_store_audit_list(s, 12345, 0, &a, 1, &n, err, sizeof err),
                 CN_ENOTFOUND);
    cn_store_rollout_dispose(&ra);
    cn_store_close(s);
}

/* Many writes: the trail is 1..N without a gap, paged in order. */
Test(store_rollouts, the_audit_trail_has_no_gap_after_many_writes)
{
    enum { WRITES = 600, PAGE = 128 };
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    for (int i = 0; i < WRITES; i++) {
        r.state = i % 3 ? CN_STORE_ROLLOUT_PROGRESSING : CN_STORE_ROLLOUT_HOLDING;
        r.resume_state = r.state == CN_STORE_ROLLOUT_HOLDING
                             ? CN_STORE_ROLLOUT_PROGRESSING
                             : CN_STORE_ROLLOUT_NONE;
        r.step_index = (uint32_t)(i / 10);
        r.analysis_attempts = (uint32_t)(i % 10);
        cn_store_audit_t e =
            entry(i % 2 ? CN_STORE_AUDIT_ANALYSIS : CN_STORE_AUDIT_TRANSITION,
                  "controller", "");
        snprintf(e.reason, sizeof e.reason, "write %d", i);
        cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0,
                     "%d: %s", i, err);
    }
    cr_assert_eq(r.audit_seq, WRITES + 1);
    cn_store_audit_t *a = calloc(PAGE, sizeof *a);
    int64_t after = 0, expect = 1;
    size_t n;
    do {
        cr_assert_eq(cn_store_audit_list(s, r.id, after, a, PAGE, &n, err, sizeof err),
                     0, "%s", err);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(a[i].seq, expect, "no gap, no duplicate");
            if (expect > 1) {
                char want[32];
                snprintf(want, sizeof want, "write %lld", (long long)(expect - 2));
                cr_assert_str_eq(a[i].reason, want);
            }
            expect++;
            after = a[i].seq;
            cn_store_audit_dispose(&a[i]);
        }
    } while (n == PAGE);
    cr_assert_eq(expect, WRITES + 2);
    free(a);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM rollout_audit"), WRITES + 1);
    cr_assert_eq(sql_int(path, "SELECT max(seq) - min(seq) + 1 - count(*) FROM "
                               "rollout_audit"),
                 0);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

Test(store_rollouts, the_schema_keeps_the_trail_append_only_and_in_order)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    int64_t id = r.id;
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char sql[6][400];
    snprintf(sql[0], sizeof sql[0], "UPDATE rollout_audit SET reason = 'x'");
    snprintf(sql[1], sizeof sql[1], "DELETE FROM rollout_audit");
    snprintf(sql[2], sizeof sql[2],
             "INSERT INTO rollout_audit VALUES (%lld, 3, 0, 'x', 'manual', 'pending', "
             "0, 0, '', NULL)",
             (long long)id);
    snprintf(sql[3], sizeof sql[3],
             "INSERT INTO rollout_audit VALUES (%lld, 1, 0, 'x', 'manual', 'pending', "
             "0, 0, '', NULL)",
             (long long)id);
    snprintf(sql[4], sizeof sql[4], "UPDATE rollouts SET audit_seq = 5");
    snprintf(sql[5], sizeof sql[5],
             "INSERT INTO rollouts (model_id, version_id, state, step_index, "
             "weight_bp, dry_run, analysis_attempts, generation, reason, created_by, "
             "started_unix_ms, updated_unix_ms, step_started_unix_ms) VALUES (1, 3, "
             "'warmup', 0, 0, 0, 0, 0, '', 'x', 0, 0, 0)");
    for (int i = 0; i < 6; i++) {
        int rc = sqlite3_exec(db, sql[i], NULL, NULL, NULL);
        cr_assert_eq(rc & 0xff, SQLITE_CONSTRAINT, "%s: %s", sql[i],
                     sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM rollout_audit"), 1);
}

/* ------------------------------------------------------------- threads */

enum { THREADS = 4, PER_THREAD = 40 };

struct racer {
    cn_store_t *s; /* shared handle, or NULL: open its own */
    const char *path;
    int64_t id;
    pthread_barrier_t *go;
    int won, lost, failed;
    char err[512];
};

/* Every thread reads the rollout and tries to write the next step: the
 * sequence number lets exactly one writer win each round. */
static void *race(void *arg)
{
    struct racer *x = arg;
    cn_store_t *s = x->s;
    if (!s && cn_store_open(x->path, &s, x->err, sizeof x->err)) {
        x->failed++;
        pthread_barrier_wait(x->go);
        return NULL;
    }
    pthread_barrier_wait(x->go);
    for (int i = 0; i < PER_THREAD; i++) {
        cn_store_rollout_t r;
        cn_store_rollout_init(&r);
        if (cn_store_rollout_get(s, x->id, &r, x->err, sizeof x->err)) {
            x->failed++;
            break;
        }
        r.step_index = (r.step_index + 1) % 1000;
        r.state = CN_STORE_ROLLOUT_PROGRESSING;
        cn_store_audit_t e = entry(CN_STORE_AUDIT_TRANSITION, "racer", "step");
        int rc = cn_store_rollout_update(s, &r, &e, NULL, x->err, sizeof x->err);
        if (rc == 0)
            x->won++;
        else if (rc == CN_ECONFLICT)
            x->lost++;
        else
            x->failed++;
        cn_store_rollout_dispose(&r);
    }
    if (!x->s)
        cn_store_close(s);
    return NULL;
}

static void run_race(bool own_handles)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS);
    struct racer x[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        x[i] = (struct racer){
            .s = own_handles ? NULL : s, .path = path, .id = r.id, .go = &go};
        pthread_create(&th[i], NULL, race, &x[i]);
    }
    int won = 0, lost = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(x[i].failed, 0, "thread %d: %s", i, x[i].err);
        won += x[i].won;
        lost += x[i].lost;
    }
    pthread_barrier_destroy(&go);
    cr_assert_eq(won + lost, THREADS * PER_THREAD);
    cr_assert_geq(won, PER_THREAD, "at least one writer's worth");
    cn_store_rollout_t back;
    cn_store_rollout_init(&back);
    cr_assert_eq(cn_store_rollout_get(s, r.id, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.audit_seq, 1 + won, "every win recorded once, no loss counted");
    cr_assert_eq(back.step_index, (uint32_t)won % 1000,
                 "each win advanced the step it read");
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM rollout_audit"), 1 + won);
    cr_assert_eq(sql_int(path, "SELECT max(seq) FROM rollout_audit"), 1 + won);
    cn_store_rollout_dispose(&back);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);
}

Test(store_rollouts, writers_on_several_threads_lose_no_decision_and_take_none_twice)
{
    run_race(false);
}

Test(store_rollouts, writers_on_several_handles_lose_no_decision_and_take_none_twice)
{
    run_race(true);
}

struct registrar {
    cn_store_t *s;
    int thread;
    int failed;
    char err[512];
};

/* Threads registering versions of one model and tagging them at once. */
static void *register_many(void *arg)
{
    struct registrar *x = arg;
    for (int i = 0; i < 25 && !x->failed; i++) {
        cn_store_version_t v;
        char name[32];
        snprintf(name, sizeof name, "t%d-%d", x->thread, i);
        store_test_version(&v, "shared", name, "127.0.0.1:9001", NULL);
        if (cn_store_version_add(x->s, &v, "t", NULL, x->err, sizeof x->err))
            x->failed = 1;
        cn_store_version_dispose(&v);
        if (!x->failed &&
            cn_store_tag_set(x->s, "shared", name,
                             i % 2 ? CN_STORE_TAG_STABLE : CN_STORE_TAG_CANDIDATE, true,
                             "t", NULL, x->err, sizeof x->err))
            x->failed = 1;
    }
    return NULL;
}

Test(store_rollouts, registrations_from_several_threads_keep_one_stable)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    add(s, "shared", "base", "127.0.0.1:9000"); /* the first: stable */
    struct registrar x[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        x[i] = (struct registrar){.s = s, .thread = i};
        pthread_create(&th[i], NULL, register_many, &x[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(x[i].failed, 0, "thread %d: %s", i, x[i].err);
    }
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM model_versions"),
                 1 + THREADS * 25);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM tags WHERE tag = 'stable'"), 1);
    cr_assert_leq(sql_int(path, "SELECT count(*) FROM tags WHERE tag = "
                                "'production-candidate'"),
                  1);
}

/* -------------------------------------------------------------- outbox */

/* Notifications ride with the audit entry of the change that caused them:
 * one transaction, ids "ROLLOUT-SEQ-INDEX" shared by the targets of one
 * event; a refused write (stale, or a bad event) writes neither; rows are
 * read in order after an id, survive a reopen, and are deleted one by one. */
Test(store_rollouts, notifications_are_written_with_their_entry)
{
    const char *path = in_dir("outbox.db");
    cn_store_t *s = registry(path);
    cn_store_rollout_t r;
    start(s, &r, "v2");
    r.state = CN_STORE_ROLLOUT_PROGRESSING;
    cn_store_audit_t e = entry(CN_STORE_AUDIT_TRANSITION, "controller", "started");
    const cn_store_note_t notes[] = {
        {0, "ops", "{\"event\":\"started\"}"},
        {0, "chat", "{\"event\":\"started\"}"},
        {1, "ops", "{\"event\":\"step\"}"},
    };
    e.notes = notes;
    e.n_notes = 3;
    int64_t seq = r.audit_seq;
    cr_assert_eq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(r.audit_seq, seq + 1);
    /* a stale write: no entry, no notification */
    cn_store_rollout_t stale = r;
    stale.strategy = stale.machine = NULL;
    stale.audit_seq = seq;
    cr_assert_eq(cn_store_rollout_update(s, &stale, &e, NULL, err, sizeof err),
                 CN_ECONFLICT);
    /* a bad event refuses the whole change */
    const cn_store_note_t bad[] = {{0, "ops", "not json"}};
    e.notes = bad;
    e.n_notes = 1;
    cr_assert_neq(cn_store_rollout_update(s, &r, &e, NULL, err, sizeof err), 0);
    cr_assert_eq(sql_int(path, "SELECT audit_seq FROM rollouts WHERE id = 1"), seq + 1);
    cn_store_rollout_dispose(&r);
    cn_store_close(s);

    s = store_test_open(path);
    cn_store_outbox_t rows[4];
    size_t n = 0;
    cr_assert_eq(cn_store_outbox_list(s, 0, rows, 4, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, 3);
    char want[32];
    snprintf(want, sizeof want, "1-%lld-0", (long long)(seq + 1));
    cr_assert_str_eq(rows[0].event_id, want);
    cr_assert_str_eq(rows[1].event_id, want, "one event, two targets, one id");
    cr_assert_str_eq(rows[0].target, "ops");
    cr_assert_str_eq(rows[1].target, "chat");
    snprintf(want, sizeof want, "1-%lld-1", (long long)(seq + 1));
    cr_assert_str_eq(rows[2].event_id, want);
    cr_assert_str_eq(rows[2].event, "{\"event\":\"step\"}");
    cr_assert(rows[0].id < rows[1].id && rows[1].id < rows[2].id);
    cr_assert_gt(rows[0].created_unix_ms, 0);
    int64_t first = rows[0].id;
    cr_assert_eq(cn_store_outbox_delete(s, first, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_store_outbox_delete(s, first, err, sizeof err), 0, "twice is fine");
    for (size_t i = 0; i < n; i++)
        cn_store_outbox_dispose(&rows[i]);
    cr_assert_eq(cn_store_outbox_list(s, first, rows, 4, &n, err, sizeof err), 0);
    cr_assert_eq(n, 2, "after an id");
    for (size_t i = 0; i < n; i++)
        cn_store_outbox_dispose(&rows[i]);
    cr_assert_eq(cn_store_outbox_list(s, 0, rows, 4, &n, err, sizeof err), 0);
    cr_assert_eq(n, 2, "the deleted row is gone");
    cn_store_outbox_dispose(&rows[0]);
    cn_store_outbox_dispose(&rows[0]);
    cn_store_outbox_dispose(&rows[1]);
    cn_store_close(s);
}
