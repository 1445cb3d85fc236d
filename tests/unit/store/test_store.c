/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state file (store/store.h) on real SQLite files in a fresh mkdtemp
 * directory per test: a split survives a save, a reopen and concurrent
 * writers; the history keeps every change in order; and every file that is
 * not ours (text, a directory, another application's database, a newer
 * schema) is refused with one line naming the path and left as it was.
 *
 * The test includes sqlite3.h only to build those foreign files and to look
 * at what the store wrote; the code under test is the only module of src/
 * that does.
 */
#include "router/split.h"
#include "store/store.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/canary-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void remove_dir(void)
{
    nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(store, .init = make_dir, .fini = remove_dir);

static const char *in_dir(const char *name)
{
    static char path[2][128];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", dir, name);
    return path[which];
}

static cn_store_t *open_ok(const char *path)
{
    cn_store_t *s = NULL;
    char err[512];
    int rc = cn_store_open(path, &s, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_not_null(s);
    return s;
}

static void save_ok(cn_store_t *s, cn_traffic_t t, const char *who)
{
    char err[512];
    cr_assert_eq(cn_store_save_traffic(s, &t, who, err, sizeof err), 0, "%s", err);
}

static cn_traffic_t load_ok(cn_store_t *s, bool expect_found)
{
    cn_traffic_t t = {.canary_weight_bp = 4242};
    bool found = !expect_found;
    char err[512];
    cr_assert_eq(cn_store_load_traffic(s, &t, &found, err, sizeof err), 0, "%s", err);
    cr_assert_eq(found, expect_found);
    return t;
}

static void assert_traffic_eq(cn_traffic_t a, cn_traffic_t b)
{
    cr_assert_eq(a.canary_weight_bp, b.canary_weight_bp);
    cr_assert_eq(a.shadow_bp, b.shadow_bp);
    cr_assert_eq(a.mode, b.mode);
    cr_assert_eq(a.force_enabled, b.force_enabled);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Run SQL on a file with plain SQLite (fixtures and inspection). */
static void sql(const char *path, const char *text)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, text, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", text, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
}

static long long sql_int(const char *path, const char *query)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK, "%s",
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", query);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void expect_refused(const char *path, int rc_expected, const char *what)
{
    cn_store_t *s = (cn_store_t *)1;
    char err[512], want[512];
    int rc = cn_store_open(path, &s, err, sizeof err);
    cr_assert_eq(rc, rc_expected, "rc %d: %s", rc, err);
    cr_assert_null(s, "*out is NULL on error");
    snprintf(want, sizeof want, "state file '%s': %s", path, what);
    cr_assert_str_eq(err, want);
    cr_assert_null(strchr(err, '\n'));
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ opening */

Test(store, a_new_path_gets_the_schema_in_wal_mode_and_no_split)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cr_assert_str_eq(cn_store_path(s), path);
    load_ok(s, false);
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "PRAGMA application_id"), CN_STORE_APPLICATION_ID);
    cr_assert_eq(sql_int(path, "SELECT max(version) FROM schema_version"), 1);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic"), 0);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic_history"), 0);
    /* WAL is a property of the file, so a later opener sees it. */
    sqlite3 *db;
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL),
                 SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    cn_store_close(NULL); /* harmless */
}

Test(store, a_zero_length_file_is_taken_as_new)
{
    const char *path = in_dir("empty.db");
    write_file(path, "", 0);
    cn_store_t *s = open_ok(path);
    load_ok(s, false);
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "PRAGMA application_id"), CN_STORE_APPLICATION_ID);
}

/* ---------------------------------------------------------- round trip */

Test(store, a_saved_split_loads_back_in_every_mode)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    const cn_traffic_t cases[] = {
        {.canary_weight_bp = 250, .shadow_bp = 10000, .mode = CN_TRAFFIC_MODE_RANDOM},
        {.canary_weight_bp = 10000,
         .shadow_bp = 0,
         .mode = CN_TRAFFIC_MODE_STICKY,
         .force_enabled = true},
        {.canary_weight_bp = 1, .shadow_bp = 1234, .mode = CN_TRAFFIC_MODE_SHADOW},
        {.canary_weight_bp = 0, .shadow_bp = 0, .mode = CN_TRAFFIC_MODE_RANDOM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        save_ok(s, cases[i], "test");
        assert_traffic_eq(load_ok(s, true), cases[i]);
    }
    cr_assert_eq(sql_int(in_dir("state.db"), "SELECT count(*) FROM traffic"), 1,
                 "one current row");
    cn_store_close(s);
}

Test(store, the_split_survives_a_reopen)
{
    const char *path = in_dir("state.db");
    const cn_traffic_t t = {.canary_weight_bp = 750,
                            .shadow_bp = 500,
                            .mode = CN_TRAFFIC_MODE_STICKY,
                            .force_enabled = true};
    cn_store_t *s = open_ok(path);
    save_ok(s, t, "admin 10.0.0.7");
    cn_store_close(s);
    s = open_ok(path);
    assert_traffic_eq(load_ok(s, true), t);
    cn_store_close(s);
}

/* ------------------------------------------------------------ history */

Test(store, every_change_is_a_history_row_in_order)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    int64_t before = now_ms();
    const cn_traffic_t steps[] = {
        {.canary_weight_bp = 100, .shadow_bp = 10000},
        {.canary_weight_bp = 500, .shadow_bp = 10000},
        {.canary_weight_bp = 0,
         .shadow_bp = 2000,
         .mode = CN_TRAFFIC_MODE_SHADOW,
         .force_enabled = true},
    };
    const char *who[] = {"startup", "admin 127.0.0.1", NULL};
    for (size_t i = 0; i < 3; i++)
        save_ok(s, steps[i], who[i]);
    int64_t after = now_ms();

    cn_store_change_t rows[5];
    size_t n = 99;
    char err[512];
    cr_assert_eq(cn_store_history(s, rows, 5, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_traffic_eq(rows[i].traffic, steps[i]);
        cr_assert_str_eq(rows[i].who, who[i] ? who[i] : "", "NULL is saved as ''");
        cr_assert_geq(rows[i].time_unix_ms, before);
        cr_assert_leq(rows[i].time_unix_ms, after);
        if (i)
            cr_assert_gt(rows[i].id, rows[i - 1].id, "oldest first");
    }
    /* The most recent two, still oldest first. */
    cr_assert_eq(cn_store_history(s, rows, 2, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_eq(rows[0].traffic.canary_weight_bp, 500);
    cr_assert_eq(rows[1].traffic.mode, CN_TRAFFIC_MODE_SHADOW);
    cr_assert_eq(cn_store_history(s, NULL, 0, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 0);
    cn_store_close(s);
    cr_assert_eq(sql_int(in_dir("state.db"),
                         "SELECT count(*) FROM traffic_history WHERE mode = 'shadow' "
                         "AND force_enabled = 1 AND shadow_bp = 2000"),
                 1);
}

Test(store, a_bad_split_or_who_writes_nothing)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    char err[512];
    cn_traffic_t t = {.canary_weight_bp = 10001};
    cr_assert_eq(cn_store_save_traffic(s, &t, "x", err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "refusing to save an out-of-range traffic split"), "%s", err);
    t = (cn_traffic_t){.mode = (cn_traffic_mode_t)9};
    cr_assert_eq(cn_store_save_traffic(s, &t, "x", err, sizeof err), CN_EINVAL);
    char who[CN_STORE_WHO_MAX + 2];
    memset(who, 'w', sizeof who - 1);
    who[sizeof who - 1] = '\0';
    t = (cn_traffic_t){.canary_weight_bp = 1};
    cr_assert_eq(cn_store_save_traffic(s, &t, who, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "who is longer than 200 bytes"), "%s", err);
    who[CN_STORE_WHO_MAX] = '\0';
    save_ok(s, t, who); /* exactly the limit is fine */
    cn_store_change_t row;
    size_t n;
    cr_assert_eq(cn_store_history(s, &row, 1, &n, err, sizeof err), 0);
    cr_assert_eq(n, 1, "only the good save is in the history");
    cr_assert_eq(strlen(row.who), CN_STORE_WHO_MAX);
    cn_store_close(s);
}

/* A split edited by hand out of range (CHECKs off) is not loaded. */
Test(store, a_hand_edited_row_out_of_range_is_an_error)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    save_ok(s, (cn_traffic_t){.canary_weight_bp = 5}, "t");
    cn_store_close(s);
    sql(path, "PRAGMA ignore_check_constraints = ON;"
              "UPDATE traffic SET canary_weight_bp = 20000;");
    s = open_ok(path);
    cn_traffic_t t = {.canary_weight_bp = 77};
    bool found = false;
    char err[512], want[512];
    cr_assert_eq(cn_store_load_traffic(s, &t, &found, err, sizeof err), CN_EINVAL);
    snprintf(want, sizeof want,
             "state file '%s': column canary_weight_bp: 20000 is out of [0, 10000]",
             path);
    cr_assert_str_eq(err, want);
    cr_assert_eq(t.canary_weight_bp, 77, "untouched");
    cn_store_close(s);
}

/* --------------------------------------------------------- concurrency */

struct writer {
    cn_store_t *s;
    int id;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    char who[32], err[512];
    for (int i = 0; i < 20; i++) {
        cn_traffic_t t = {.canary_weight_bp = (uint16_t)(w->id * 100 + i)};
        snprintf(who, sizeof who, "thread %d", w->id);
        if (cn_store_save_traffic(w->s, &t, who, err, sizeof err) != 0)
            return (void *)1;
    }
    return NULL;
}

Test(store, threads_and_a_second_handle_share_the_file)
{
    const char *path = in_dir("state.db");
    cn_store_t *a = open_ok(path), *b = open_ok(path);
    struct writer w[4] = {{a, 1}, {a, 2}, {b, 3}, {b, 4}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, write_many, &w[i]);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        cr_assert_null(r, "writer %d failed", i);
    }
    cn_store_change_t rows[100];
    size_t n;
    char err[512];
    cr_assert_eq(cn_store_history(b, rows, 100, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 80);
    /* The current row is the last change, whichever handle made it. */
    cn_traffic_t cur = load_ok(a, true);
    cr_assert_eq(cur.canary_weight_bp, rows[79].traffic.canary_weight_bp);
    cn_store_close(a);
    cn_store_close(b);
}

/* ------------------------------------------------------------ refusals */

Test(store, a_file_that_is_not_sqlite_is_refused_and_kept)
{
    const char *path = in_dir("notes.txt");
    const char text[] = "these are my notes, not a database\n"
                        "and they are long enough to fill a header page......\n"
                        "...................................................\n";
    write_file(path, text, sizeof text - 1);
    expect_refused(path, CN_EINVAL, "not a canary state file (not a SQLite database)");
    size_t len;
    char *after = read_all(path, &len);
    cr_assert_eq(len, sizeof text - 1);
    cr_assert_eq(memcmp(after, text, len), 0, "unchanged");
    free(after);
}

Test(store, a_directory_is_refused)
{
    expect_refused(dir, CN_EINVAL,
                   "is a directory; expected a file (it is created if absent)");
}

Test(store, a_missing_directory_is_an_io_error)
{
    const char *path = in_dir("no/such/dir/state.db");
    cn_store_t *s = NULL;
    char err[512];
    cr_assert_eq(cn_store_open(path, &s, err, sizeof err), CN_EIO);
    cr_assert_null(s);
    cr_assert(strstr(err, "cannot open: unable to open database file"), "%s", err);
    cr_assert(strncmp(err, "state file '", 12) == 0, "%s", err);
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
    bool found;
    cn_traffic_t t;
    cr_assert_eq(cn_store_load_traffic(NULL, &t, &found, err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_save_traffic(NULL, &t, "x", err, sizeof err), CN_EINVAL);
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
    size_t len_before, len_after;
    char *before = read_all(path, &len_before);
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (a SQLite database of another "
                   "application: application_id 0, tables: orders, users); refusing "
                   "to change it");
    char *after = read_all(path, &len_after);
    cr_assert_eq(len_after, len_before);
    cr_assert_eq(memcmp(before, after, len_before), 0, "not a byte changed");
    cr_assert_eq(access(in_dir("app.db-wal"), F_OK), -1, "not switched to WAL");
    free(before);
    free(after);
}

Test(store, a_database_with_another_application_id_is_refused)
{
    const char *path = in_dir("other.db");
    sql(path, "PRAGMA application_id = 1234;");
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (a SQLite database of another "
                   "application: application_id 1234, tables: none); refusing to "
                   "change it");
}

Test(store, a_newer_schema_is_refused)
{
    const char *path = in_dir("state.db");
    cn_store_close(open_ok(path));
    sql(path, "INSERT INTO schema_version VALUES (2, 0);");
    expect_refused(path, CN_EINVAL,
                   "written by a newer canary (schema version 2; this build knows "
                   "up to 1)");
}

Test(store, our_id_without_a_schema_version_table_is_refused)
{
    const char *path = in_dir("state.db");
    sql(path, "PRAGMA application_id = 1129206361; CREATE TABLE t (x);");
    expect_refused(path, CN_EINVAL,
                   "not a canary state file (canary's application_id, but no "
                   "schema_version table: no such table: schema_version)");
}
