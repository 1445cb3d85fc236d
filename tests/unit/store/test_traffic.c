/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The traffic split in the state file (store/traffic.c): a split survives
 * a save, a reopen and concurrent writers; the history keeps every change
 * in order and stays bounded; a bad split or a hand-edited row is refused.
 */
#include "store/store.h"
#include "store_test.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define in_dir store_test_path
#define open_ok store_test_open
#define sql store_test_sql
#define sql_int store_test_sql_int

TestSuite(store_traffic, .init = store_test_make_dir, .fini = store_test_remove_dir);

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
    if (!expect_found)
        cr_assert_eq(t.canary_weight_bp, 4242, "untouched");
    return t;
}

static void assert_traffic_eq(cn_traffic_t a, cn_traffic_t b)
{
    cr_assert_eq(a.canary_weight_bp, b.canary_weight_bp);
    cr_assert_eq(a.shadow_bp, b.shadow_bp);
    cr_assert_eq(a.mode, b.mode);
    cr_assert_eq(a.force_enabled, b.force_enabled);
}

Test(store_traffic, a_new_file_has_no_split)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    load_ok(s, false);
    cn_store_close(s);
}

Test(store_traffic, a_saved_split_loads_back_in_every_mode)
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

Test(store_traffic, the_split_survives_a_reopen)
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

Test(store_traffic, every_change_is_a_history_row_in_order)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    int64_t before = store_test_now_ms();
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
    int64_t after = store_test_now_ms();

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
        cr_assert_eq(rows[i].generation, 0, "no generation saved yet");
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

/* Filled by hand to the bound, then one save: the oldest row goes. */
Test(store_traffic, the_history_is_bounded)
{
    const char *path = in_dir("state.db");
    cn_store_close(open_ok(path));
    char fill[400];
    snprintf(fill, sizeof fill,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
             "i < %d) INSERT INTO traffic_history (time_unix_ms, canary_weight_bp, "
             "mode, shadow_bp, force_enabled, who) SELECT i, 1, 'random', 0, 0, "
             "'fill' FROM n;",
             CN_STORE_HISTORY_MAX);
    sql(path, fill);
    cn_store_t *s = open_ok(path);
    save_ok(s, (cn_traffic_t){.canary_weight_bp = 9}, "last");
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic_history"),
                 CN_STORE_HISTORY_MAX);
    cr_assert_eq(sql_int(path, "SELECT min(time_unix_ms) FROM traffic_history"), 2,
                 "the oldest row was deleted");
    cr_assert_eq(sql_int(path, "SELECT canary_weight_bp FROM traffic_history WHERE "
                               "id = (SELECT max(id) FROM traffic_history)"),
                 9);
}

Test(store_traffic, a_bad_split_or_who_writes_nothing)
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

Test(store_traffic, bad_arguments)
{
    char err[512];
    bool found;
    cn_traffic_t t = {0};
    size_t n;
    cr_assert_eq(cn_store_load_traffic(NULL, &t, &found, err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_save_traffic(NULL, &t, "x", err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_history(NULL, NULL, 0, &n, err, sizeof err), CN_EINVAL);
    cn_store_t *s = open_ok(in_dir("state.db"));
    cr_assert_eq(cn_store_history(s, NULL, 1, &n, err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_load_traffic(s, &t, NULL, err, sizeof err), CN_EINVAL);
    cn_store_close(s);
}

/* A split edited by hand out of range (CHECKs off) is not loaded. */
Test(store_traffic, a_hand_edited_row_out_of_range_is_an_error)
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

Test(store_traffic, threads_and_a_second_handle_share_the_file)
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
