/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Generations and version sets in the state file (store/versions.c): a
 * saved generation (split and both sets) loads back whole, after a reopen
 * too; a load fills only what the file has; every save is one row of
 * versions_history saying which sets changed; the split and the sets are
 * written in one transaction (a failure at the last write leaves the
 * previous generation whole); bad values and hand-edited rows are refused.
 */
#include "store/store.h"
#include "store_test.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define in_dir store_test_path
#define open_ok store_test_open
#define sql store_test_sql
#define sql_int store_test_sql_int

TestSuite(store_versions, .init = store_test_make_dir, .fini = store_test_remove_dir);

/* A generation to save: number, weight, labels and comma-separated
 * addresses ("" for none). */
static cn_generation_t gen(uint64_t number, uint16_t weight_bp, const char *stable,
                           const char *stable_addrs, const char *canary,
                           const char *canary_addrs)
{
    cn_generation_t g;
    cn_generation_init(&g);
    g.number = number;
    g.traffic = (cn_traffic_t){.canary_weight_bp = weight_bp,
                               .shadow_bp = 10000,
                               .mode = CN_TRAFFIC_MODE_STICKY};
    const char *labels[] = {stable, canary}, *addrs[] = {stable_addrs, canary_addrs};
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        cn_version_set_dispose(&g.sets[r]);
        cn_version_set_init(&g.sets[r], labels[r]);
        char buf[512];
        snprintf(buf, sizeof buf, "%s", addrs[r]);
        for (char *save = NULL, *a = strtok_r(buf, ",", &save); a;
             a = strtok_r(NULL, ",", &save))
            cn_version_set_add(&g.sets[r], a);
    }
    return g;
}

static void save_ok(cn_store_t *s, const cn_generation_t *g, const char *who)
{
    char err[512];
    cr_assert_eq(cn_store_save_generation(s, g, who, err, sizeof err), 0, "%s", err);
}

static void assert_generation_eq(const cn_generation_t *a, const cn_generation_t *b)
{
    cr_assert_eq(a->number, b->number);
    cr_assert(cn_traffic_equal(&a->traffic, &b->traffic));
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cr_assert(cn_version_set_equal(&a->sets[r], &b->sets[r]), "role %d", r);
}

/* Load onto a fresh generation; expect the flags. */
static cn_generation_t load_ok(cn_store_t *s, bool want_traffic, bool want_versions)
{
    cn_generation_t g;
    cn_generation_init(&g);
    bool has_traffic = !want_traffic, has_versions = !want_versions;
    char err[512];
    cr_assert_eq(
        cn_store_load_generation(s, &g, &has_traffic, &has_versions, err, sizeof err),
        0, "%s", err);
    cr_assert_eq(has_traffic, want_traffic);
    cr_assert_eq(has_versions, want_versions);
    return g;
}

Test(store_versions, a_new_file_leaves_the_callers_generation_untouched)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    cn_generation_t from_config = gen(0, 300, "v1", "127.0.0.1:9001", "v2", "");
    cn_generation_t g;
    cn_generation_init(&g);
    cn_generation_copy(&g, &from_config);
    bool has_traffic = true, has_versions = true;
    char err[512];
    cr_assert_eq(
        cn_store_load_generation(s, &g, &has_traffic, &has_versions, err, sizeof err),
        0, "%s", err);
    cr_assert_not(has_traffic);
    cr_assert_not(has_versions);
    assert_generation_eq(&g, &from_config);
    cn_generation_dispose(&g);
    cn_generation_dispose(&from_config);
    cn_store_close(s);
}

Test(store_versions, a_saved_generation_loads_back_whole_after_a_reopen)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cn_generation_t g = gen(7, 2500, "v1", "127.0.0.1:9001,[::1]:9002,model-a:80",
                            "v2-rc.1", "10.0.0.9:8080");
    g.traffic.force_enabled = true;
    save_ok(s, &g, "admin 10.0.0.7");
    cn_generation_t got = load_ok(s, true, true);
    assert_generation_eq(&got, &g);
    cn_generation_dispose(&got);
    cn_store_close(s);

    s = open_ok(path);
    got = load_ok(s, true, true);
    assert_generation_eq(&got, &g);
    cn_generation_dispose(&got);
    cn_store_close(s);
    /* Readable in the sqlite3 shell. */
    char json[128];
    store_test_sql_text(path, "SELECT addresses FROM versions WHERE role = 'stable'",
                        json, sizeof json);
    cr_assert_str_eq(json, "[\"127.0.0.1:9001\",\"[::1]:9002\",\"model-a:80\"]");
    cr_assert_eq(sql_int(path, "SELECT generation FROM traffic"), 7);
    cn_generation_dispose(&g);
}

Test(store_versions, an_empty_canary_set_round_trips)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    cn_generation_t g = gen(1, 0, "v1", "127.0.0.1:9001", "none", "");
    save_ok(s, &g, "start");
    cn_generation_t got = load_ok(s, true, true);
    cr_assert_eq(got.sets[CN_ROLE_CANARY].count, 0);
    assert_generation_eq(&got, &g);
    cn_generation_dispose(&got);
    cn_generation_dispose(&g);
    cn_store_close(s);
}

Test(store_versions, every_save_is_a_history_row_saying_what_changed)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    int64_t before = store_test_now_ms();
    cn_generation_t g[] = {
        gen(1, 0, "v1", "127.0.0.1:9001", "v2", ""),                 /* first */
        gen(2, 0, "v1", "127.0.0.1:9001", "v2", "127.0.0.1:9002"),   /* canary */
        gen(3, 500, "v1", "127.0.0.1:9001", "v2", "127.0.0.1:9002"), /* none */
        gen(5, 500, "v2", "127.0.0.1:9002", "v2", ""), /* both: promotion */
        gen(6, 500, "v2", "127.0.0.1:9002", "v3", ""), /* canary label */
    };
    const unsigned want_changed[] = {
        CN_STORE_CHANGED_STABLE | CN_STORE_CHANGED_CANARY, CN_STORE_CHANGED_CANARY, 0,
        CN_STORE_CHANGED_STABLE | CN_STORE_CHANGED_CANARY, CN_STORE_CHANGED_CANARY};
    const char *who[] = {"start", "api", "api", NULL, "controller"};
    size_t count = sizeof g / sizeof g[0];
    for (size_t i = 0; i < count; i++)
        save_ok(s, &g[i], who[i]);
    int64_t after = store_test_now_ms();

    cn_store_versions_change_t rows[8];
    size_t n = 99;
    char err[512];
    cr_assert_eq(cn_store_versions_history(s, rows, 8, &n, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(n, count);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(rows[i].generation, g[i].number);
        cr_assert_eq(rows[i].changed, want_changed[i], "row %zu", i);
        cr_assert_str_eq(rows[i].who, who[i] ? who[i] : "");
        cr_assert_geq(rows[i].time_unix_ms, before);
        cr_assert_leq(rows[i].time_unix_ms, after);
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            cr_assert(cn_version_set_equal(&rows[i].sets[r], &g[i].sets[r]));
        if (i)
            cr_assert_gt(rows[i].id, rows[i - 1].id, "oldest first");
        cn_store_versions_change_dispose(&rows[i]);
        cn_store_versions_change_dispose(&rows[i]); /* twice is harmless */
    }
    /* The most recent two, oldest first; max 0 reads nothing. */
    cr_assert_eq(cn_store_versions_history(s, rows, 2, &n, err, sizeof err), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(rows[0].generation, 5);
    cr_assert_eq(rows[1].generation, 6);
    for (size_t i = 0; i < n; i++)
        cn_store_versions_change_dispose(&rows[i]);
    cr_assert_eq(cn_store_versions_history(s, NULL, 0, &n, err, sizeof err), 0);
    cr_assert_eq(n, 0);

    /* The split's history carries the same generation numbers. */
    cn_store_change_t t[8];
    cr_assert_eq(cn_store_history(s, t, 8, &n, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, count);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(t[i].generation, g[i].number);
        cr_assert_eq(t[i].traffic.canary_weight_bp, g[i].traffic.canary_weight_bp);
    }
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history WHERE "
                               "changed = 'stable canary'"),
                 2);
    for (size_t i = 0; i < count; i++)
        cn_generation_dispose(&g[i]);
}

Test(store_versions, the_history_is_bounded)
{
    const char *path = in_dir("state.db");
    cn_store_close(open_ok(path));
    char fill[512];
    snprintf(fill, sizeof fill,
             "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE "
             "i < %d) INSERT INTO versions_history (time_unix_ms, generation, "
             "changed, stable_version, stable_addresses, canary_version, "
             "canary_addresses, who) SELECT i, 0, '', 'a', '[]', 'b', '[]', 'fill' "
             "FROM n;",
             CN_STORE_VERSIONS_HISTORY_MAX);
    sql(path, fill);
    cn_store_t *s = open_ok(path);
    cn_generation_t g = gen(1, 0, "v1", "127.0.0.1:9001", "v2", "");
    save_ok(s, &g, "last");
    cn_store_close(s);
    cn_generation_dispose(&g);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history"),
                 CN_STORE_VERSIONS_HISTORY_MAX);
    cr_assert_eq(sql_int(path, "SELECT min(time_unix_ms) FROM versions_history"), 2);
    cr_assert_eq(sql_int(path, "SELECT generation FROM versions_history WHERE id = "
                               "(SELECT max(id) FROM versions_history)"),
                 1);
}

/* ------------------------------------------------------- one transaction */

/*
 * The last write of a save (the split's history row) fails, by a trigger:
 * the sets written before it in the same save are rolled back, and the
 * file still holds the previous generation whole.
 */
Test(store_versions, a_save_that_fails_at_its_last_write_changes_nothing)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cn_generation_t g1 = gen(1, 100, "v1", "127.0.0.1:9001", "v2", "127.0.0.1:9002");
    save_ok(s, &g1, "start");
    sql(path, "CREATE TRIGGER fail BEFORE INSERT ON traffic_history "
              "BEGIN SELECT RAISE(ABORT, 'disk says no'); END;");
    cn_generation_t g2 = gen(2, 900, "v3", "127.0.0.1:9003", "v4", "");
    char err[512];
    cr_assert_eq(cn_store_save_generation(s, &g2, "api", err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "cannot save the generation: disk says no"), "%s", err);
    cn_generation_t got = load_ok(s, true, true);
    assert_generation_eq(&got, &g1);
    cn_generation_dispose(&got);
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history"), 1);
    cn_generation_dispose(&g1);
    cn_generation_dispose(&g2);
}

/* A split saved alone keeps the sets and the generation number. */
Test(store_versions, save_traffic_after_a_generation_keeps_its_sets_and_number)
{
    cn_store_t *s = open_ok(in_dir("state.db"));
    cn_generation_t g = gen(4, 100, "v1", "127.0.0.1:9001", "v2", "127.0.0.1:9002");
    save_ok(s, &g, "start");
    char err[512];
    cn_traffic_t t = {.canary_weight_bp = 4000, .mode = CN_TRAFFIC_MODE_RANDOM};
    cr_assert_eq(cn_store_save_traffic(s, &t, "api", err, sizeof err), 0, "%s", err);
    cn_generation_t got = load_ok(s, true, true);
    cr_assert_eq(got.number, 4);
    cr_assert(cn_traffic_equal(&got.traffic, &t));
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cr_assert(cn_version_set_equal(&got.sets[r], &g.sets[r]));
    cn_generation_dispose(&got);
    /* And the next generation must still be after 4. */
    g.number = 4;
    cr_assert_eq(cn_store_save_generation(s, &g, "api", err, sizeof err), CN_EINVAL);
    g.number = 5;
    save_ok(s, &g, "api");
    cn_generation_dispose(&g);
    cn_store_close(s);
}

/* ------------------------------------------------------------ refusals */

/* Expect a refusal naming `what`, and the file to hold `count` saves. */
static void expect_refused_save(cn_store_t *s, const cn_generation_t *g,
                                const char *who, const char *what)
{
    char err[512], want[512];
    cr_assert_eq(cn_store_save_generation(s, g, who, err, sizeof err), CN_EINVAL, "%s",
                 err);
    snprintf(want, sizeof want, "state file '%s': %s", cn_store_path(s), what);
    cr_assert_str_eq(err, want);
}

Test(store_versions, generation_numbers_only_grow)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cn_generation_t g = gen(0, 0, "v1", "127.0.0.1:9001", "v2", "");
    expect_refused_save(s, &g, "x",
                        "refusing to save generation 0: numbers start at 1");
    g.number = 3;
    save_ok(s, &g, "x");
    expect_refused_save(s, &g, "x",
                        "refusing to save generation 3: generation 3 is saved "
                        "already, and numbers only grow");
    g.number = 2;
    expect_refused_save(s, &g, "x",
                        "refusing to save generation 2: generation 3 is saved "
                        "already, and numbers only grow");
    g.number = (uint64_t)INT64_MAX + 1;
    expect_refused_save(s, &g, "x",
                        "refusing to save generation 9223372036854775808: above "
                        "2^63 - 1");
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history"), 1);
    cn_generation_dispose(&g);
}

Test(store_versions, bad_labels_addresses_splits_and_whos_write_nothing)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cn_generation_t g = gen(1, 0, "", "127.0.0.1:9001", "v2", "");
    expect_refused_save(s, &g, "x",
                        "refusing to save the stable version: its label "
                        "is empty");
    cn_generation_dispose(&g);

    char long_label[CN_VERSION_LABEL_MAX + 2];
    memset(long_label, 'v', sizeof long_label - 1);
    long_label[sizeof long_label - 1] = '\0';
    g = gen(1, 0, "v1", "", long_label, "");
    expect_refused_save(s, &g, "x",
                        "refusing to save the canary version: its label "
                        "is longer than 63 bytes");
    cn_generation_dispose(&g);
    long_label[CN_VERSION_LABEL_MAX] = '\0'; /* exactly 63 is fine, below */

    g = gen(1, 0, "v1\n", "", "v2", "");
    expect_refused_save(s, &g, "x",
                        "refusing to save the stable version: its label "
                        "holds a control character");
    cn_generation_dispose(&g);

    const char *bad_addresses[] = {"a b:1", "\"x\":1", "x\\:1", "caf\xc3\xa9:1"};
    for (size_t i = 0; i < sizeof bad_addresses / sizeof bad_addresses[0]; i++) {
        g = gen(1, 0, "v1", "127.0.0.1:9001", "v2", "");
        cn_version_set_add(&g.sets[CN_ROLE_STABLE], bad_addresses[i]);
        expect_refused_save(s, &g, "x",
                            "refusing to save the stable version: address 2 holds a "
                            "byte other than printable ASCII without space, '\"' "
                            "and '\\'");
        cn_generation_dispose(&g);
    }
    g = gen(1, 0, "v1", "", "v2", "");
    cn_version_set_add(&g.sets[CN_ROLE_CANARY], "");
    expect_refused_save(s, &g, "x",
                        "refusing to save the canary version: address 1 is empty");
    cn_generation_dispose(&g);

    char long_address[CN_STORE_ADDRESS_MAX + 2];
    memset(long_address, 'h', sizeof long_address - 1);
    long_address[sizeof long_address - 1] = '\0';
    g = gen(1, 0, "v1", "", "v2", "");
    cn_version_set_add(&g.sets[CN_ROLE_CANARY], long_address);
    expect_refused_save(s, &g, "x",
                        "refusing to save the canary version: address 1 is longer "
                        "than 255 bytes");
    cn_generation_dispose(&g);

    g = gen(1, 0, "v1", "", "v2", "");
    for (unsigned i = 0; i <= CN_VERSION_MAX_ADDRESSES; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.0.%u.%u:80", i / 256, i % 256);
        cn_version_set_add(&g.sets[CN_ROLE_STABLE], a);
    }
    expect_refused_save(s, &g, "x",
                        "refusing to save the stable version: 257 addresses, at most "
                        "256");
    cn_generation_dispose(&g);

    g = gen(1, 0, "v1", "", "v2", "");
    g.traffic.canary_weight_bp = 10001;
    expect_refused_save(s, &g, "x",
                        "refusing to save an out-of-range traffic split (weight "
                        "10001 bp, shadow 10000 bp, mode 1)");
    g.traffic.canary_weight_bp = 0;
    char who[CN_STORE_WHO_MAX + 2];
    memset(who, 'w', sizeof who - 1);
    who[sizeof who - 1] = '\0';
    expect_refused_save(s, &g, who, "who is longer than 200 bytes");
    cn_generation_dispose(&g);

    /* The limits themselves are fine. */
    long_address[CN_STORE_ADDRESS_MAX] = '\0';
    g = gen(1, 0, "v1", "", long_label, "");
    cn_version_set_add(&g.sets[CN_ROLE_CANARY], long_address);
    for (unsigned i = 0; i < CN_VERSION_MAX_ADDRESSES; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.0.%u.%u:80", i / 256, i % 256);
        cn_version_set_add(&g.sets[CN_ROLE_STABLE], a);
    }
    save_ok(s, &g, NULL);
    cn_generation_t got = load_ok(s, true, true);
    assert_generation_eq(&got, &g);
    cn_generation_dispose(&got);
    cn_generation_dispose(&g);
    cn_store_close(s);
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM versions_history"), 1,
                 "only the good save");
    cr_assert_eq(sql_int(path, "SELECT count(*) FROM traffic_history"), 1);
}

Test(store_versions, bad_arguments)
{
    char err[512];
    bool a, b;
    size_t n;
    cn_generation_t g;
    cn_generation_init(&g);
    cr_assert_eq(cn_store_save_generation(NULL, &g, "x", err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_load_generation(NULL, &g, &a, &b, err, sizeof err),
                 CN_EINVAL);
    cr_assert_eq(cn_store_versions_history(NULL, NULL, 0, &n, err, sizeof err),
                 CN_EINVAL);
    cn_store_t *s = open_ok(in_dir("state.db"));
    cr_assert_eq(cn_store_save_generation(s, NULL, "x", err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_load_generation(s, &g, &a, NULL, err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_versions_history(s, NULL, 1, &n, err, sizeof err), CN_EINVAL);
    cn_store_versions_change_dispose(NULL);
    cn_store_close(s);
    cn_generation_dispose(&g);
}

/* ------------------------------------------------- rows edited by hand */

/* Save one generation, run `edit` with CHECKs off, expect the load to fail
 * with `what` and leave the caller's generation untouched. */
static void expect_bad_row(const char *edit, const char *what)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cn_generation_t g = gen(1, 100, "v1", "127.0.0.1:9001", "v2", "127.0.0.1:9002");
    save_ok(s, &g, "start");
    cn_store_close(s);
    char text[512];
    snprintf(text, sizeof text, "PRAGMA ignore_check_constraints = ON; %s", edit);
    sql(path, text);
    s = open_ok(path);
    cn_generation_t out = gen(0, 5, "mine", "", "yours", "");
    bool has_traffic = false, has_versions = false;
    char err[512], want[512];
    cr_assert_eq(
        cn_store_load_generation(s, &out, &has_traffic, &has_versions, err, sizeof err),
        CN_EINVAL, "%s", err);
    snprintf(want, sizeof want, "state file '%s': %s", path, what);
    cr_assert_str_eq(err, want);
    cr_assert_eq(out.traffic.canary_weight_bp, 5, "untouched");
    cr_assert_str_eq(out.sets[CN_ROLE_STABLE].version, "mine", "untouched");
    cn_generation_dispose(&out);
    cn_generation_dispose(&g);
    cn_store_close(s);
}

Test(store_versions, addresses_that_are_not_a_json_array_are_an_error)
{
    expect_bad_row("UPDATE versions SET addresses = '{\"a\": 1}' WHERE role = "
                   "'canary';",
                   "table versions, role canary: the addresses are not a JSON array");
}

Test(store_versions, malformed_json_is_an_error)
{
    expect_bad_row("UPDATE versions SET addresses = '[\"a:1\"' WHERE role = "
                   "'stable';",
                   "table versions, role stable: the addresses are not a JSON array");
}

Test(store_versions, an_address_that_is_not_a_string_is_an_error)
{
    expect_bad_row("UPDATE versions SET addresses = '[\"a:1\", 80]' WHERE role = "
                   "'stable';",
                   "table versions, role stable: an address that is not a string");
}

Test(store_versions, an_address_with_a_space_is_an_error)
{
    expect_bad_row("UPDATE versions SET addresses = '[\"a 1:80\"]' WHERE role = "
                   "'stable';",
                   "table versions, role stable: an address that is not printable "
                   "ASCII of 1 to 255 bytes");
}

Test(store_versions, an_empty_label_is_an_error)
{
    expect_bad_row("UPDATE versions SET version = '' WHERE role = 'canary';",
                   "table versions, role canary: the label is empty");
}

Test(store_versions, a_missing_role_is_an_error)
{
    expect_bad_row("DELETE FROM versions WHERE role = 'canary';",
                   "table versions: no row for the canary role");
}

Test(store_versions, an_unknown_role_is_an_error)
{
    expect_bad_row("UPDATE versions SET role = 'blue' WHERE role = 'canary';",
                   "table versions, column role: not stable or canary");
}

Test(store_versions, a_bad_history_row_is_an_error_and_nothing_is_left_to_free)
{
    const char *path = in_dir("state.db");
    cn_store_t *s = open_ok(path);
    cn_generation_t g = gen(1, 100, "v1", "127.0.0.1:9001", "v2", "");
    save_ok(s, &g, "a");
    g.number = 2;
    save_ok(s, &g, "b");
    sql(path, "UPDATE versions_history SET changed = 'stable blue' WHERE "
              "generation = 2;");
    cn_store_versions_change_t rows[4];
    size_t n = 99;
    char err[512];
    cr_assert_eq(cn_store_versions_history(s, rows, 4, &n, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "column changed is out of range"), "%s", err);
    cr_assert_eq(n, 0);
    cn_generation_dispose(&g);
    cn_store_close(s);
}
