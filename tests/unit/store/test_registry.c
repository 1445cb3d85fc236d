/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The registry's tables in the state file (store/registry.c), on real
 * SQLite files: registering versions (a new model is created, its first
 * version is stable), reading and listing them, the tag rules, each
 * refusal with its message, and that a refused write leaves every row as
 * it was. The rules are also checked in SQL: a hand-written statement
 * that would give a model two stable versions, or none, fails.
 */
#include "store/store.h"
#include "store_test.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define in_dir store_test_path
#define sql_int store_test_sql_int

TestSuite(store_registry, .init = store_test_make_dir, .fini = store_test_remove_dir);

static char err[512];

/* "state file 'PATH': what" for the test's file. */
static void expect_err(const char *path, const char *what)
{
    char want[600];
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

static cn_store_tag_t tag_of(cn_store_t *s, const char *model, const char *version)
{
    cn_store_version_t v;
    cn_store_version_init(&v);
    cr_assert_eq(cn_store_version_get(s, model, version, &v, err, sizeof err), 0, "%s",
                 err);
    cn_store_tag_t t = v.tag;
    cn_store_version_dispose(&v);
    return t;
}

/* -------------------------------------------------------------- names */

Test(store_registry, tag_names_parse_and_print_from_one_table)
{
    const char *names[] = {"stable", "production-candidate", "rolled-back", "retired"};
    for (int i = 0; i < 4; i++) {
        cn_store_tag_t t = CN_STORE_TAG_NONE;
        cr_assert_eq(cn_store_tag_parse(names[i], &t), 0);
        cr_assert_eq(t, (cn_store_tag_t)(i + 1));
        cr_assert_str_eq(cn_store_tag_name(t), names[i]);
    }
    cn_store_tag_t t = CN_STORE_TAG_RETIRED;
    cr_assert_eq(cn_store_tag_parse("Stable", &t), CN_EINVAL);
    cr_assert_eq(cn_store_tag_parse("", &t), CN_EINVAL);
    cr_assert_eq(cn_store_tag_parse(NULL, &t), CN_EINVAL);
    cr_assert_eq(t, CN_STORE_TAG_RETIRED, "untouched");
    cr_assert_str_eq(cn_store_tag_name(CN_STORE_TAG_NONE), "");
    cr_assert_str_eq(cn_store_tag_name((cn_store_tag_t)9), "?");
}

/* ----------------------------------------------------------- versions */

Test(store_registry, a_version_of_an_unknown_model_creates_it_and_is_its_stable)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    int64_t before = store_test_now_ms();
    cn_store_version_t v;
    store_test_version(&v, "fraud", "v1", "127.0.0.1:9001", "[::1]:9002", NULL);
    v.artifact_uri = strdup("s3://models/fraud/v1");
    v.metadata = strdup("{\"auc\": 0.91, \"owner\": \"risk\"}");
    bool created = false;
    cr_assert_eq(cn_store_version_add(s, &v, "alice", &created, err, sizeof err), 0,
                 "%s", err);
    cr_assert(created);
    cn_store_version_dispose(&v);

    cn_store_version_init(&v);
    cr_assert_eq(cn_store_version_get(s, "fraud", "v1", &v, err, sizeof err), 0, "%s",
                 err);
    cr_assert_str_eq(v.model, "fraud");
    cr_assert_str_eq(v.set.version, "v1");
    cr_assert_eq(v.set.count, 2);
    cr_assert_str_eq(v.set.addresses[0], "127.0.0.1:9001");
    cr_assert_str_eq(v.set.addresses[1], "[::1]:9002");
    cr_assert_str_eq(v.artifact_uri, "s3://models/fraud/v1");
    cr_assert_str_eq(v.metadata, "{\"auc\": 0.91, \"owner\": \"risk\"}");
    cr_assert_str_eq(v.created_by, "alice");
    cr_assert_geq(v.created_unix_ms, before);
    cr_assert_leq(v.created_unix_ms, store_test_now_ms());
    cr_assert_eq(v.tag, CN_STORE_TAG_STABLE, "a model's first version is stable");
    cr_assert_eq(v.tag_unix_ms, v.created_unix_ms);
    cn_store_version_dispose(&v);

    /* A second version: no tag, the model not created again. */
    store_test_version(&v, "fraud", "v2", "127.0.0.1:9003", NULL);
    cr_assert_eq(cn_store_version_add(s, &v, "bob", &created, err, sizeof err), 0, "%s",
                 err);
    cr_assert_not(created);
    cn_store_version_dispose(&v);
    cr_assert_eq(tag_of(s, "fraud", "v2"), CN_STORE_TAG_NONE);

    cn_store_model_t m;
    cr_assert_eq(cn_store_model_get(s, "fraud", &m, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(m.name, "fraud");
    cr_assert_str_eq(m.created_by, "alice");
    cr_assert_eq(m.n_versions, 2);
    cr_assert_str_eq(m.stable, "v1");
    cr_assert_str_eq(m.candidate, "");
    cr_assert_eq(m.active_rollout, 0);
    cn_store_close(s);
}

Test(store_registry, metadata_and_artifact_default_to_empty)
{
    cn_store_t *s = store_test_open(in_dir("state.db"));
    add(s, "m", "v1", "127.0.0.1:1");
    cn_store_version_t v;
    cn_store_version_init(&v);
    cr_assert_eq(cn_store_version_get(s, "m", "v1", &v, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(v.artifact_uri, "");
    cr_assert_str_eq(v.metadata, "{}");
    cn_store_version_dispose(&v);
    cn_store_version_dispose(&v); /* twice is harmless */
    cn_store_version_dispose(NULL);
    cn_store_close(s);
}

/* One refused registration: the code, the message, and not a row changed. */
static void expect_add_refused(const char *path, cn_store_t *s, cn_store_version_t *v,
                               const char *who, int rc, const char *what)
{
    char *before = store_test_dump(path);
    bool created = true;
    cr_assert_eq(cn_store_version_add(s, v, who, &created, err, sizeof err), rc, "%s",
                 err);
    cr_assert_not(created);
    expect_err(path, what);
    char *after = store_test_dump(path);
    cr_assert_str_eq(after, before, "a refused write changes nothing");
    free(before);
    free(after);
    cn_store_version_dispose(v);
}

Test(store_registry, each_bad_field_of_a_version_is_refused_by_name)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    add(s, "fraud", "v1", "127.0.0.1:9001");
    cn_store_version_t v;
    char long_name[80];
    memset(long_name, 'n', 64);
    long_name[64] = '\0';

    store_test_version(&v, "fraud", "v1", "127.0.0.1:9009", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL,
                       "model 'fraud': version 'v1' is registered already");
    store_test_version(&v, "", "v9", "127.0.0.1:9009", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL, "model name is empty");
    store_test_version(&v, "bad\tname", "v9", "127.0.0.1:9009", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL,
                       "model name holds a control character");
    store_test_version(&v, "fraud", "", "127.0.0.1:9009", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL, "version is empty");
    store_test_version(&v, "fraud", long_name, "127.0.0.1:9009", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL, "version is longer than 63 bytes");
    store_test_version(&v, "fraud", "v9", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL,
                       "addresses: a version needs at least one");
    store_test_version(&v, "fraud", "v9", "127.0.0.1:9009", "", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL, "address 2 is empty");
    store_test_version(&v, "fraud", "v9", "127.0.0.1:9009", "a b:1", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL,
                       "address 2 holds a byte other than printable ASCII without "
                       "space, '\"' and '\\'");
    store_test_version(&v, "fraud", "v9", "127.0.0.1:9009", NULL);
    v.artifact_uri = strdup("s3://x\ny");
    expect_add_refused(path, s, &v, "t", CN_EINVAL,
                       "artifact_uri holds a control character");
    store_test_version(&v, "fraud", "v9", "127.0.0.1:9009", NULL);
    v.metadata = strdup("[1, 2]");
    expect_add_refused(path, s, &v, "t", CN_EINVAL, "metadata is not a JSON object");
    store_test_version(&v, "fraud", "v9", "127.0.0.1:9009", NULL);
    v.metadata = strdup("{\"a\": ");
    expect_add_refused(path, s, &v, "t", CN_EINVAL, "metadata is not a JSON object");
    store_test_version(&v, "fraud", "v9", "127.0.0.1:9009", NULL);
    v.metadata = malloc(CN_STORE_METADATA_MAX + 16);
    memset(v.metadata, ' ', CN_STORE_METADATA_MAX + 8);
    memcpy(v.metadata, "{}", 2);
    v.metadata[CN_STORE_METADATA_MAX + 8] = '\0';
    expect_add_refused(path, s, &v, "t", CN_EINVAL,
                       "metadata is larger than 65536 bytes");
    char who[CN_STORE_WHO_MAX + 2];
    memset(who, 'w', sizeof who - 1);
    who[sizeof who - 1] = '\0';
    store_test_version(&v, "fraud", "v9", "127.0.0.1:9009", NULL);
    expect_add_refused(path, s, &v, who, CN_EINVAL, "who is longer than 200 bytes");
    /* A refused version of a new model does not create the model. */
    store_test_version(&v, "new", "v1", "", NULL);
    expect_add_refused(path, s, &v, "t", CN_EINVAL, "address 1 is empty");
    cn_store_model_t m;
    cr_assert_eq(cn_store_model_get(s, "new", &m, err, sizeof err), CN_ENOTFOUND);
    expect_err(path, "no model 'new' is registered");
    cn_store_close(s);
}

Test(store_registry, unknown_names_are_not_found_by_name)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    add(s, "fraud", "v1", "127.0.0.1:9001");
    cn_store_version_t v;
    cn_store_version_init(&v);
    cr_assert_eq(cn_store_version_get(s, "fraud", "v7", &v, err, sizeof err),
                 CN_ENOTFOUND);
    expect_err(path, "model 'fraud' has no version 'v7'");
    cr_assert_eq(cn_store_version_get(s, "spam", "v1", &v, err, sizeof err),
                 CN_ENOTFOUND);
    expect_err(path, "no model 'spam' is registered");
    size_t n = 9;
    cr_assert_eq(cn_store_version_list(s, "spam", 0, &v, 1, &n, NULL, err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert_eq(n, 0);
    cr_assert_eq(cn_store_tag_set(s, "fraud", "v7", CN_STORE_TAG_STABLE, true, "t",
                                  NULL, err, sizeof err),
                 CN_ENOTFOUND);
    expect_err(path, "model 'fraud' has no version 'v7'");
    cn_store_version_dispose(&v);
    cn_store_close(s);
}

Test(store_registry, models_register_once_and_list_in_pages)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    cr_assert_eq(cn_store_model_add(s, "churn", "alice", err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(cn_store_model_add(s, "churn", "alice", err, sizeof err), CN_EINVAL);
    expect_err(path, "model 'churn' is registered already");
    cr_assert_eq(cn_store_model_add(s, "", "alice", err, sizeof err), CN_EINVAL);
    expect_err(path, "model name is empty");
    char long_name[80];
    memset(long_name, 'n', 64);
    long_name[64] = '\0';
    cr_assert_eq(cn_store_model_add(s, long_name, "alice", err, sizeof err), CN_EINVAL);
    expect_err(path, "model name is longer than 63 bytes");
    add(s, "fraud", "v1", "127.0.0.1:9001");
    add(s, "ads", "v1", "127.0.0.1:9002");

    cn_store_model_t m[2];
    size_t n = 0;
    cr_assert_eq(cn_store_model_list(s, NULL, m, 2, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(m[0].name, "ads");
    cr_assert_str_eq(m[1].name, "churn");
    cr_assert_eq(m[1].n_versions, 0);
    cr_assert_str_eq(m[1].stable, "", "a model without versions has no stable one");
    cr_assert_eq(cn_store_model_list(s, m[1].name, m, 2, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(m[0].name, "fraud");
    cr_assert_str_eq(m[0].stable, "v1");
    cr_assert_eq(cn_store_model_list(s, "fraud", m, 2, &n, err, sizeof err), 0);
    cr_assert_eq(n, 0);
    /* A model registered alone takes its first version as stable. */
    add(s, "churn", "c1", "127.0.0.1:9005");
    cr_assert_eq(tag_of(s, "churn", "c1"), CN_STORE_TAG_STABLE);
    cn_store_close(s);
}

Test(store_registry, versions_list_in_registration_order_with_a_total)
{
    cn_store_t *s = store_test_open(in_dir("state.db"));
    char name[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(name, sizeof name, "v%d", i);
        add(s, "fraud", name, "127.0.0.1:9001");
    }
    cn_store_version_t v[3];
    size_t n = 0, total = 0;
    cr_assert_eq(
        cn_store_version_list(s, "fraud", 0, v, 3, &n, &total, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_eq(total, 5);
    cr_assert_str_eq(v[0].set.version, "v1");
    cr_assert_eq(v[0].tag, CN_STORE_TAG_STABLE);
    cr_assert_str_eq(v[2].set.version, "v3");
    for (size_t i = 0; i < n; i++)
        cn_store_version_dispose(&v[i]);
    cr_assert_eq(
        cn_store_version_list(s, "fraud", 3, v, 3, &n, &total, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(v[1].set.version, "v5");
    for (size_t i = 0; i < n; i++)
        cn_store_version_dispose(&v[i]);
    cn_store_close(s);
}

/* --------------------------------------------------------------- tags */

static int tag(cn_store_t *s, const char *version, cn_store_tag_t t, bool set,
               cn_store_tag_result_t *res)
{
    return cn_store_tag_set(s, "fraud", version, t, set, "carol", res, err, sizeof err);
}

Test(store_registry, stable_moves_and_says_from_where)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    add(s, "fraud", "v1", "127.0.0.1:9001");
    add(s, "fraud", "v2", "127.0.0.1:9002");
    cn_store_tag_result_t res;
    cr_assert_eq(tag(s, "v2", CN_STORE_TAG_STABLE, true, &res), 0, "%s", err);
    cr_assert(res.changed);
    cr_assert_str_eq(res.previous, "v1");
    cr_assert_eq(res.active_rollout, 0);
    cr_assert_eq(tag_of(s, "fraud", "v1"), CN_STORE_TAG_NONE);
    cr_assert_eq(tag_of(s, "fraud", "v2"), CN_STORE_TAG_STABLE);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM tags WHERE tag = 'stable'"), 1);
    /* Again: nothing to do. */
    cr_assert_eq(tag(s, "v2", CN_STORE_TAG_STABLE, true, &res), 0, "%s", err);
    cr_assert_not(res.changed);
    cr_assert_str_eq(res.previous, "");
    cn_store_close(s);
}

Test(store_registry, the_stable_tag_is_never_removed)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    add(s, "fraud", "v1", "127.0.0.1:9001");
    char *before = store_test_dump(path);
    cr_assert_eq(tag(s, "v1", CN_STORE_TAG_STABLE, false, NULL), CN_EINVAL);
    expect_err(path, "model 'fraud': version 'v1' is its stable version, and a model "
                     "keeps exactly one; tag another version stable instead");
    cr_assert_eq(tag(s, "v1", CN_STORE_TAG_RETIRED, true, NULL), CN_EINVAL);
    expect_err(path, "model 'fraud': version 'v1' is its stable version, so it cannot "
                     "be retired; tag another version stable first");
    cr_assert_eq(tag(s, "v1", CN_STORE_TAG_ROLLED_BACK, true, NULL), CN_EINVAL);
    cr_assert_eq(tag(s, "v1", CN_STORE_TAG_CANDIDATE, true, NULL), CN_EINVAL);
    expect_err(path, "model 'fraud': version 'v1' is its stable version, so it cannot "
                     "be production-candidate; tag another version stable first");
    cr_assert_eq(tag(s, "v1", CN_STORE_TAG_NONE, true, NULL), CN_EINVAL);
    expect_err(path,
               "tag: not one of stable, production-candidate, rolled-back, retired");
    char *after = store_test_dump(path);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    cn_store_close(s);
}

Test(store_registry, a_candidate_moves_and_a_version_holds_one_tag)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    add(s, "fraud", "v1", "127.0.0.1:9001");
    add(s, "fraud", "v2", "127.0.0.1:9002");
    add(s, "fraud", "v3", "127.0.0.1:9003");
    cn_store_tag_result_t res;
    cr_assert_eq(tag(s, "v2", CN_STORE_TAG_CANDIDATE, true, &res), 0, "%s", err);
    cr_assert(res.changed);
    cr_assert_str_eq(res.previous, "");
    cr_assert_eq(tag(s, "v3", CN_STORE_TAG_CANDIDATE, true, &res), 0, "%s", err);
    cr_assert_str_eq(res.previous, "v2");
    cr_assert_eq(tag_of(s, "fraud", "v2"), CN_STORE_TAG_NONE);
    cr_assert_eq(tag_of(s, "fraud", "v3"), CN_STORE_TAG_CANDIDATE);
    /* rolled-back replaces the candidate tag of the same version. */
    cr_assert_eq(tag(s, "v3", CN_STORE_TAG_ROLLED_BACK, true, &res), 0, "%s", err);
    cr_assert_eq(tag_of(s, "fraud", "v3"), CN_STORE_TAG_ROLLED_BACK);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM tags WHERE tag = "
                               "'production-candidate'"),
                 0);
    /* Any number of retired versions. */
    cr_assert_eq(tag(s, "v2", CN_STORE_TAG_RETIRED, true, &res), 0, "%s", err);
    cr_assert_eq(tag(s, "v3", CN_STORE_TAG_RETIRED, true, &res), 0, "%s", err);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM tags WHERE tag = 'retired'"), 2);
    /* Stable on a retired version: it is live again, no longer retired. */
    cr_assert_eq(tag(s, "v3", CN_STORE_TAG_STABLE, true, &res), 0, "%s", err);
    cr_assert_str_eq(res.previous, "v1");
    cr_assert_eq(tag_of(s, "fraud", "v3"), CN_STORE_TAG_STABLE);
    /* Removing a tag the version has not changes nothing. */
    cr_assert_eq(tag(s, "v2", CN_STORE_TAG_CANDIDATE, false, &res), 0, "%s", err);
    cr_assert_not(res.changed);
    cr_assert_eq(tag(s, "v2", CN_STORE_TAG_RETIRED, false, &res), 0, "%s", err);
    cr_assert(res.changed);
    cr_assert_eq(tag_of(s, "fraud", "v2"), CN_STORE_TAG_NONE);
    cn_store_close(s);
}

Test(store_registry, tags_of_one_model_leave_another_alone)
{
    cn_store_t *s = store_test_open(in_dir("state.db"));
    add(s, "fraud", "v1", "127.0.0.1:9001");
    add(s, "fraud", "v2", "127.0.0.1:9002");
    add(s, "ads", "v1", "127.0.0.1:9003");
    add(s, "ads", "v2", "127.0.0.1:9004");
    cr_assert_eq(tag(s, "v2", CN_STORE_TAG_STABLE, true, NULL), 0, "%s", err);
    cr_assert_eq(tag_of(s, "ads", "v1"), CN_STORE_TAG_STABLE);
    cr_assert_eq(tag_of(s, "ads", "v2"), CN_STORE_TAG_NONE);
    cn_store_close(s);
}

/* The schema keeps the rules even against SQL written by hand. */
Test(store_registry, the_schema_refuses_two_stables_or_none)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = store_test_open(path);
    add(s, "fraud", "v1", "127.0.0.1:9001");
    add(s, "fraud", "v2", "127.0.0.1:9002");
    add(s, "ads", "a1", "127.0.0.1:9003");
    cn_store_close(s);
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL),
                 SQLITE_OK);
    const char *refused[] = {
        "INSERT INTO tags VALUES (2, 1, 'stable', 0, 'x')",
        "DELETE FROM tags WHERE tag = 'stable'",
        "UPDATE tags SET tag = 'retired' WHERE version_id = 1",
        /* a1 belongs to ads */
        "INSERT INTO tags VALUES (3, 1, 'retired', 0, 'x')",
        "UPDATE tags SET version_id = 3 WHERE version_id = 1",
        "INSERT INTO tags VALUES (2, 1, 'gold', 0, 'x')",
        "INSERT INTO tags VALUES (99, 1, 'retired', 0, 'x')",
        "INSERT INTO model_versions (model_id, version, addresses, artifact_uri, "
        "metadata, created_unix_ms, created_by) VALUES (1, 'v3', '[]', '', '[]', 0, "
        "'x')",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        int rc = sqlite3_exec(db, refused[i], NULL, NULL, NULL);
        cr_assert_eq(rc & 0xff, SQLITE_CONSTRAINT, "%s: %s", refused[i],
                     sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM tags WHERE tag = 'stable'"), 2);
}
