/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state file's core (store/core.c) on real SQLite files in a fresh
 * mkdtemp directory per test: a new file gets the current schema in WAL
 * mode; a file of schema version 1 is migrated to 2 with its rows kept;
 * and every file that is not ours or not usable (text, a directory,
 * another application's database, a newer schema, a corrupt file, a
 * read-only file or directory) is refused with one line naming the path
 * and left as it was, without -wal or -shm files beside it.
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
#include <sys/stat.h>
#include <unistd.h>

#define dir store_test_dir
#define in_dir store_test_path
#define open_ok store_test_open
#define sql store_test_sql
#define sql_int store_test_sql_int
#define expect_refused store_test_expect_refused

TestSuite(store, .init = store_test_make_dir, .fini = store_test_remove_dir);

/* ------------------------------------------------------------ opening */

Test(store, a_new_path_gets_the_current_schema_in_wal_mode)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cr_assert_str_eq(cn_store_path(s), path);
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "PRAGMA application_id"), CN_STORE_APPLICATION_ID);
    cr_assert_eq(sql_int(path, "PRAGMA user_version"), 0);
    cr_assert_eq(CN_STORE_SCHEMA_VERSION, 5);
    cr_assert_eq(sql_int(path, "SELECT max(version) FROM schema_version"), 5);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM schema_version"), 5,
                 "version 1, then the migrations to 2, 3 and 4");
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic"), 0);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic_history"), 0);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions"), 0);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history"), 0);
    /* WAL is a property of the file, so a later opener sees it. */
    char mode[16];
    store_test_sql_text(path, "PRAGMA journal_mode", mode, sizeof mode);
    cr_assert_str_eq(mode, "wal");
    cn_store_close(NULL); /* harmless */
}

Test(store, a_zero_length_file_is_taken_as_new)
{
    const char *path = in_dir("empty.db");
    store_test_write_file(path, "", 0);
    cn_store_close(open_ok(path));
    cr_assert_eq(sql_int(path, "PRAGMA application_id"), CN_STORE_APPLICATION_ID);
}

Test(store, an_empty_sqlite_database_is_taken_as_new)
{
    const char *path = in_dir("empty.db");
    /* A database with a header but no schema: what `sqlite3 x.db
     * 'PRAGMA page_size = 8192; VACUUM'` leaves. */
    sql(path, "PRAGMA page_size = 8192; VACUUM;");
    cr_assert_gt(sql_int(path, "PRAGMA page_count"), 0);
    cn_store_close(open_ok(path));
    cr_assert_eq(sql_int(path, "PRAGMA application_id"), CN_STORE_APPLICATION_ID);
}

Test(store, reopening_does_not_migrate_again)
{
    const char *path = in_dir("state.db");
    cn_store_close(open_ok(path));
    cn_store_close(open_ok(path));
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM schema_version"), 5);
}

/* ---------------------------------------------------------- migration */

/* The schema of version 1 exactly as canary wrote it (store.c before the
 * version sets), frozen here: the migration must take files that exist. */
static const char v1_ddl[] =
    "CREATE TABLE schema_version (\n"
    "    version INTEGER NOT NULL,\n"
    "    applied_unix_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE traffic (\n"
    "    id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "    canary_weight_bp INTEGER NOT NULL\n"
    "        CHECK (canary_weight_bp BETWEEN 0 AND 10000),\n"
    "    mode TEXT NOT NULL CHECK (mode IN ('random', 'sticky', 'shadow')),\n"
    "    shadow_bp INTEGER NOT NULL CHECK (shadow_bp BETWEEN 0 AND 10000),\n"
    "    force_enabled INTEGER NOT NULL CHECK (force_enabled IN (0, 1)),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE traffic_history (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    canary_weight_bp INTEGER NOT NULL,\n"
    "    mode TEXT NOT NULL,\n"
    "    shadow_bp INTEGER NOT NULL,\n"
    "    force_enabled INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "PRAGMA application_id = 1129206361;\n"
    "PRAGMA journal_mode = WAL;\n"
    "INSERT INTO schema_version VALUES (1, 1700000000000);\n"
    "INSERT INTO traffic_history (time_unix_ms, canary_weight_bp, mode, shadow_bp,\n"
    "    force_enabled, who) VALUES\n"
    "    (1700000001000, 100, 'random', 10000, 0, 'start'),\n"
    "    (1700000002000, 2500, 'sticky', 10000, 1, 'api'),\n"
    "    (1700000003000, 0, 'shadow', 500, 0, 'api');\n"
    "INSERT INTO traffic VALUES (1, 0, 'shadow', 500, 0, 1700000003000, 'api');\n";

Test(store, a_version_1_file_is_migrated_to_the_current_schema_with_its_rows)
{
    const char *path = in_dir("v1.db");
    sql(path, v1_ddl);
    cr_assert_eq(sql_int(path, "SELECT max(version) FROM schema_version"), 1);

    cn_store_t *s = open_ok(path);
    cr_assert_eq(sql_int(path, "SELECT max(version) FROM schema_version"), 5);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM schema_version"), 5);

    /* The split and its history, as they were; generation 0. */
    char err[512];
    bool found = false;
    cn_traffic_t t = {0};
    cr_assert_eq(cn_store_load_traffic(s, &t, &found, err, sizeof err), 0, "%s", err);
    cr_assert(found);
    cr_assert_eq(t.mode, CN_TRAFFIC_MODE_SHADOW);
    cr_assert_eq(t.shadow_bp, 500);
    cn_store_change_t rows[4];
    size_t n = 0;
    cr_assert_eq(cn_store_history(s, rows, 4, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_eq(rows[0].time_unix_ms, 1700000001000);
    cr_assert_str_eq(rows[0].who, "start");
    cr_assert_eq(rows[1].traffic.canary_weight_bp, 2500);
    cr_assert_eq(rows[1].traffic.mode, CN_TRAFFIC_MODE_STICKY);
    cr_assert(rows[1].traffic.force_enabled);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rows[i].generation, 0);

    /* What a caller starting on it sees: the split, no versions yet. */
    cn_generation_t g;
    cn_generation_init(&g);
    bool has_traffic = false, has_versions = true;
    cr_assert_eq(
        cn_store_load_generation(s, &g, &has_traffic, &has_versions, err, sizeof err),
        0, "%s", err);
    cr_assert(has_traffic);
    cr_assert_not(has_versions);
    cr_assert_eq(g.number, 0);
    cr_assert_eq(g.traffic.mode, CN_TRAFFIC_MODE_SHADOW);
    cr_assert_str_eq(g.sets[CN_ROLE_STABLE].version, "stable", "config's, kept");

    /* And the first generation it saves goes on from there. */
    g.number = 1;
    cn_version_set_add(&g.sets[CN_ROLE_STABLE], "127.0.0.1:9001");
    cr_assert_eq(cn_store_save_generation(s, &g, "start", err, sizeof err), 0, "%s",
                 err);
    cn_store_close(s);
    cn_generation_dispose(&g);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic_history"), 4);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history"), 1);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM schema_version"), 5);
}

/* A file of schema version 2 exactly as canary wrote it (version 1's
 * tables, then the migration to 2, before the registry), frozen here with
 * rows in every table: the migration to 3 must keep them. */
static const char v2_ddl[] =
    "CREATE TABLE schema_version (\n"
    "    version INTEGER NOT NULL,\n"
    "    applied_unix_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE traffic (\n"
    "    id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "    canary_weight_bp INTEGER NOT NULL\n"
    "        CHECK (canary_weight_bp BETWEEN 0 AND 10000),\n"
    "    mode TEXT NOT NULL CHECK (mode IN ('random', 'sticky', 'shadow')),\n"
    "    shadow_bp INTEGER NOT NULL CHECK (shadow_bp BETWEEN 0 AND 10000),\n"
    "    force_enabled INTEGER NOT NULL CHECK (force_enabled IN (0, 1)),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE traffic_history (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    canary_weight_bp INTEGER NOT NULL,\n"
    "    mode TEXT NOT NULL,\n"
    "    shadow_bp INTEGER NOT NULL,\n"
    "    force_enabled INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "ALTER TABLE traffic ADD COLUMN generation INTEGER NOT NULL DEFAULT 0\n"
    "    CHECK (generation >= 0);\n"
    "ALTER TABLE traffic_history ADD COLUMN generation INTEGER NOT NULL\n"
    "    DEFAULT 0;\n"
    "CREATE TABLE versions (\n"
    "    role TEXT PRIMARY KEY CHECK (role IN ('stable', 'canary')),\n"
    "    version TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 63),\n"
    "    addresses TEXT NOT NULL CHECK (json_type(addresses) = 'array'),\n"
    "    generation INTEGER NOT NULL CHECK (generation >= 0),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE versions_history (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    generation INTEGER NOT NULL,\n"
    "    changed TEXT NOT NULL,\n"
    "    stable_version TEXT NOT NULL,\n"
    "    stable_addresses TEXT NOT NULL,\n"
    "    canary_version TEXT NOT NULL,\n"
    "    canary_addresses TEXT NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "PRAGMA application_id = 1129206361;\n"
    "PRAGMA journal_mode = WAL;\n"
    "INSERT INTO schema_version VALUES (1, 1700000000000), (2, 1700000000500);\n"
    "INSERT INTO traffic_history (time_unix_ms, canary_weight_bp, mode, shadow_bp,\n"
    "    force_enabled, who, generation) VALUES\n"
    "    (1700000001000, 0, 'random', 10000, 0, 'start', 1),\n"
    "    (1700000002000, 500, 'random', 10000, 0, 'api', 2);\n"
    "INSERT INTO traffic VALUES (1, 500, 'random', 10000, 0, 1700000002000, 'api',\n"
    "    2);\n"
    "INSERT INTO versions VALUES\n"
    "    ('stable', 'v1', '[\"127.0.0.1:9001\",\"127.0.0.1:9002\"]', 2,\n"
    "     1700000002000, 'api'),\n"
    "    ('canary', 'v2', '[\"127.0.0.1:9003\"]', 2, 1700000002000, 'api');\n"
    "INSERT INTO versions_history (time_unix_ms, generation, changed,\n"
    "    stable_version, stable_addresses, canary_version, canary_addresses, who)\n"
    "    VALUES\n"
    "    (1700000001000, 1, 'stable canary', 'v1', '[\"127.0.0.1:9001\"]',\n"
    "     'canary', '[]', 'start'),\n"
    "    (1700000002000, 2, 'stable canary', 'v1',\n"
    "     '[\"127.0.0.1:9001\",\"127.0.0.1:9002\"]', 'v2', '[\"127.0.0.1:9003\"]',\n"
    "     'api');\n";

Test(store, a_version_2_file_is_migrated_to_3_with_its_rows)
{
    const char *path = in_dir("v2.db");
    sql(path, v2_ddl);
    cr_assert_eq(sql_int(path, "SELECT max(version) FROM schema_version"), 2);

    cn_store_t *s = open_ok(path);
    cr_assert_eq(sql_int(path, "SELECT max(version) FROM schema_version"), 5);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM schema_version"), 5);

    /* The generation, as it was. */
    char err[512];
    cn_generation_t g;
    cn_generation_init(&g);
    bool has_traffic = false, has_versions = false;
    cr_assert_eq(
        cn_store_load_generation(s, &g, &has_traffic, &has_versions, err, sizeof err),
        0, "%s", err);
    cr_assert(has_traffic && has_versions);
    cr_assert_eq(g.number, 2);
    cr_assert_eq(g.traffic.canary_weight_bp, 500);
    cr_assert_str_eq(g.sets[CN_ROLE_STABLE].version, "v1");
    cr_assert_eq(g.sets[CN_ROLE_STABLE].count, 2);
    cr_assert_str_eq(g.sets[CN_ROLE_STABLE].addresses[1], "127.0.0.1:9002");
    cr_assert_str_eq(g.sets[CN_ROLE_CANARY].version, "v2");
    cr_assert_eq(g.sets[CN_ROLE_CANARY].count, 1);

    /* Both histories, as they were. */
    cn_store_change_t rows[4];
    size_t n = 0;
    cr_assert_eq(cn_store_history(s, rows, 4, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_eq(rows[1].generation, 2);
    cr_assert_str_eq(rows[1].who, "api");
    cn_store_versions_change_t vh[4];
    cr_assert_eq(cn_store_versions_history(s, vh, 4, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, 2);
    cr_assert_eq(vh[0].changed, CN_STORE_CHANGED_STABLE | CN_STORE_CHANGED_CANARY);
    cr_assert_str_eq(vh[1].sets[CN_ROLE_CANARY].addresses[0], "127.0.0.1:9003");
    for (size_t i = 0; i < n; i++)
        cn_store_versions_change_dispose(&vh[i]);

    /* The registry starts empty and works. */
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM models"), 0);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM rollouts"), 0);
    cn_store_version_t v;
    cn_store_version_init(&v);
    snprintf(v.model, sizeof v.model, "fraud");
    cn_version_set_dispose(&v.set);
    cn_version_set_init(&v.set, "v1");
    cn_version_set_add(&v.set, "127.0.0.1:9001");
    cr_assert_eq(cn_store_version_add(s, &v, "test", NULL, err, sizeof err), 0, "%s",
                 err);
    cn_store_version_dispose(&v);

    /* And the next generation goes on from 2. */
    g.number = 3;
    cr_assert_eq(cn_store_save_generation(s, &g, "api", err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic_history"), 3);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history"), 3);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM model_versions"), 1);
}

/* Reopening a migrated file runs no migration again (it would fail on the
 * tables that exist). */
Test(store, a_version_2_file_is_migrated_only_once_when_reopened)
{
    const char *path = in_dir("v2.db");
    sql(path, v2_ddl);
    cn_store_close(open_ok(path));
    cn_store_close(open_ok(path));
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM schema_version"), 5);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name = "
                               "'rollout_audit'"),
                 1);
}

/* ------------------------------------------------------------ refusals */

Test(store, a_file_that_is_not_sqlite_is_refused_and_kept)
{
    const char *path = in_dir("notes.txt");
    const char text[] = "these are my notes, not a database\n"
                        "and they are long enough to fill a header page......\n"
                        "...................................................\n";
    store_test_write_file(path, text, sizeof text - 1);
    expect_refused(path, CN_EINVAL, "not a canary state file (not a SQLite database)");
    size_t len;
    char *after = store_test_read_all(path, &len);
    cr_assert_eq(len, sizeof text - 1);
    cr_assert_eq(memcmp(after, text, len), 0, "unchanged");
    free(after);
}

Test(store, a_short_file_is_refused)
{
    const char *path = in_dir("short");
    store_test_write_file(path, "SQLite format 3", 16);
    expect_refused(path, CN_EINVAL, "not a canary state file (not a SQLite database)");
}

Test(store, a_directory_is_refused)
{
    expect_refused(dir, CN_EINVAL,
                   "is a directory; expected a file (it is created if absent)");
}

Test(store, a_missing_directory_is_reported_as_such)
{
    expect_refused(in_dir("no/such/dir/state.db"), CN_EIO,
                   "cannot create: No such file or directory");
}

Test(store, a_device_is_refused)
{
    expect_refused("/dev/null", CN_EINVAL, "is not a regular file");
}

Test(store, bad_arguments)
{
    cn_store_t *s = (cn_store_t *)1;
    char err[512];
    cr_assert_eq(cn_store_open("", &s, err, sizeof err), CN_EINVAL);
    cr_assert_null(s);
    cr_assert_str_eq(err, "state file '': no path given");
    cr_assert_eq(cn_store_open(NULL, &s, err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_open("x", NULL, err, sizeof err), CN_EINVAL);
}

/* Both the bytes and the absence of WAL files: a refusal writes nothing. */
static void expect_unchanged(const char *path, const char *before, size_t len_before)
{
    size_t len_after;
    char *after = store_test_read_all(path, &len_after);
    cr_assert_eq(len_after, len_before);
    cr_assert_eq(memcmp(before, after, len_before), 0, "not a byte changed");
    free(after);
    char side[200];
    snprintf(side, sizeof side, "%s-wal", path);
    cr_assert_not(store_test_exists(side), "no %s", side);
    snprintf(side, sizeof side, "%s-shm", path);
    cr_assert_not(store_test_exists(side), "no %s", side);
}

/*
 * Chosen behaviour: another application's SQLite database is refused, not
 * migrated. Adding our tables to it would change a file nobody meant to
 * give us; even switching it to WAL would.
 */
Test(store, another_applications_database_is_refused_and_kept)
{
    const char *path = in_dir("app.db");
    sql(path, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT);"
              "CREATE TABLE orders (id INTEGER PRIMARY KEY);"
              "INSERT INTO users VALUES (1, 'ada');");
    size_t len;
    char *before = store_test_read_all(path, &len);
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (a SQLite database of another "
                   "application: application_id 0, tables: orders, users); refusing "
                   "to change it");
    expect_unchanged(path, before, len);
    free(before);
}

Test(store, a_database_with_another_application_id_is_refused_and_kept)
{
    const char *path = in_dir("other.db");
    sql(path, "PRAGMA application_id = 1234;");
    size_t len;
    char *before = store_test_read_all(path, &len);
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (a SQLite database of another "
                   "application: application_id 1234); refusing to change it");
    expect_unchanged(path, before, len);
    free(before);
}

/* The probe's case: no tables, but user_version set. Some application made
 * it, and may fill it later; it is not empty in the sense that matters. */
Test(store, a_database_with_no_tables_but_a_user_version_is_refused_and_kept)
{
    const char *path = in_dir("uv.db");
    sql(path, "PRAGMA user_version = 7;");
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM sqlite_master"), 0);
    size_t len;
    char *before = store_test_read_all(path, &len);
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (a SQLite database of another "
                   "application: user_version 7); refusing to change it");
    expect_unchanged(path, before, len);
    free(before);
    cr_assert_eq(sql_int(path, "PRAGMA application_id"), 0);
}

/* A foreign WAL database whose header is not yet up to date: the tables
 * are only in its -wal, so the refusal comes from SQLite's view, and the
 * main file is not checkpointed into. */
Test(store, a_foreign_wal_database_is_not_checkpointed_into)
{
    const char *path = in_dir("walapp.db");
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db,
                              "PRAGMA journal_mode = WAL;"
                              "PRAGMA wal_autocheckpoint = 0;"
                              "CREATE TABLE notes (x);",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    /* The other application keeps its connection open. */
    size_t len;
    char *before = store_test_read_all(path, &len);
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (a SQLite database of another "
                   "application: application_id 0, tables: notes); refusing to "
                   "change it");
    size_t len_after;
    char *after = store_test_read_all(path, &len_after);
    cr_assert_eq(len_after, len);
    cr_assert_eq(memcmp(before, after, len), 0, "main file not written");
    free(before);
    free(after);
    sqlite3_close(db);
}

Test(store, a_newer_schema_is_refused)
{
    const char *path = in_dir("state.db");
    cn_store_close(open_ok(path));
    sql(path, "INSERT INTO schema_version VALUES (6, 0);");
    size_t len;
    char *before = store_test_read_all(path, &len);
    expect_refused(path, CN_EINVAL,
                   "written by a newer canary (schema version 6; this build knows "
                   "up to 5)");
    cr_assert_eq(sql_int(path, "SELECT max(version) FROM schema_version"), 6);
    size_t len_after;
    char *after = store_test_read_all(path, &len_after);
    cr_assert_eq(len_after, len);
    cr_assert_eq(memcmp(before, after, len), 0, "not a byte changed");
    free(before);
    free(after);
}

Test(store, our_id_without_a_schema_version_table_is_refused)
{
    const char *path = in_dir("state.db");
    sql(path, "PRAGMA application_id = 1129206361; CREATE TABLE t (x);");
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (canary's application_id, but no "
                   "schema_version table: no such table: schema_version)");
}

/* Page 1 (the schema) overwritten behind the header. */
Test(store, a_corrupt_file_is_refused_and_kept)
{
    const char *path = in_dir("state.db");
    cn_store_close(open_ok(path));
    size_t len;
    char *bytes = store_test_read_all(path, &len);
    cr_assert_gt(len, 400);
    memset(bytes + 100, 0xa5, 300);
    store_test_write_file(path, bytes, len);
    expect_refused(path, CN_EINVAL,
                   "not a usable state file (database disk image is malformed); "
                   "refusing to change it");
    expect_unchanged(path, bytes, len);
    free(bytes);
}

/* ------------------------------------------------- permissions (as nobody) */

/* Let an unprivileged user into the test directory. */
static void open_dir_to_all(void)
{
    cr_assert_eq(chmod(dir, 0777), 0);
}

Test(store, a_read_only_directory_is_permission_denied)
{
    open_dir_to_all();
    const char *sub = in_dir("ro");
    cr_assert_eq(mkdir(sub, 0555), 0);
    const char *path = in_dir("ro/state.db");
    char err[512], want[512];
    int rc = store_test_open_unprivileged(path, err, sizeof err);
    cr_assert_eq(rc, CN_EIO, "%s", err);
    snprintf(want, sizeof want, "state file '%s': cannot create: Permission denied",
             path);
    cr_assert_str_eq(err, want);
    cr_assert_not(store_test_exists(path));
}

/* The probe's case: a read-only state file of ours (in WAL mode) left
 * -wal and -shm files behind when it was refused. */
Test(store, a_read_only_file_is_refused_without_leaving_wal_files)
{
    open_dir_to_all();
    const char *path = in_dir("state.db");
    cn_store_close(open_ok(path));
    cr_assert_eq(chmod(path, 0444), 0);
    size_t len;
    char *before = store_test_read_all(path, &len);
    char err[512], want[512];
    int rc = store_test_open_unprivileged(path, err, sizeof err);
    cr_assert_eq(rc, CN_EIO, "%s", err);
    snprintf(want, sizeof want,
             "state file '%s': cannot write: Permission denied (the state file "
             "must be writable)",
             path);
    cr_assert_str_eq(err, want);
    expect_unchanged(path, before, len);
    free(before);
}

Test(store, a_writable_file_in_a_read_only_directory_is_refused)
{
    open_dir_to_all();
    const char *sub = in_dir("ro");
    cr_assert_eq(mkdir(sub, 0777), 0);
    const char *path = in_dir("ro/state.db");
    cn_store_close(open_ok(path));
    cr_assert_eq(chmod(path, 0666), 0);
    cr_assert_eq(chmod(sub, 0555), 0);
    char err[512], want[512];
    int rc = store_test_open_unprivileged(path, err, sizeof err);
    cr_assert_eq(rc, CN_EIO, "%s", err);
    snprintf(want, sizeof want,
             "state file '%s': cannot write in the directory '%s': Permission "
             "denied (its -wal and -shm files are made beside it)",
             path, sub);
    cr_assert_str_eq(err, want);
    cr_assert_eq(chmod(sub, 0755), 0);
    cr_assert_not(store_test_exists(in_dir("ro/state.db-wal")));
}

Test(store, an_unprivileged_user_can_use_a_file_it_may_write)
{
    open_dir_to_all();
    char err[512];
    const char *path = in_dir("state.db");
    int rc = store_test_open_unprivileged(path, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_eq(sql_int(path, "PRAGMA application_id"), CN_STORE_APPLICATION_ID);
}

/* ----------------------------------------------------------- creation */

struct opener {
    const char *path;
    pthread_barrier_t *start;
    int rc;
    char err[512];
};

static void *open_at_once(void *arg)
{
    struct opener *o = arg;
    cn_store_t *s = NULL;
    pthread_barrier_wait(o->start);
    o->rc = cn_store_open(o->path, &s, o->err, sizeof o->err);
    cn_store_close(s);
    return NULL;
}

/*
 * Handles racing to create the same new file: one creates the schema, the
 * others wait for its lock and use it; none takes the half-made file for
 * another application's.
 */
Test(store, handles_creating_one_file_at_once_all_succeed)
{
    enum { ROUNDS = 20, THREADS = 6 };
    for (int round = 0; round < ROUNDS; round++) {
        char name[32];
        snprintf(name, sizeof name, "race-%d.db", round);
        const char *path = in_dir(name);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, THREADS);
        struct opener o[THREADS];
        pthread_t th[THREADS];
        for (int i = 0; i < THREADS; i++) {
            o[i] = (struct opener){.path = path, .start = &start};
            pthread_create(&th[i], NULL, open_at_once, &o[i]);
        }
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&start);
        for (int i = 0; i < THREADS; i++)
            cr_assert_eq(o[i].rc, 0, "round %d, handle %d: %s", round, i, o[i].err);
        cr_assert_eq(sql_int(path, "SELECT count(*) FROM schema_version"), 5,
                     "the schema was made once");
    }
}
