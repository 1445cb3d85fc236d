/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Handles scoped to a model (store/scope.c): two models in one file keep
 * their own generations (splits, sets, numbers) through reopens, neither
 * touches the file's one generation that `canary serve` keeps, numbers
 * grow per model, and a bad scope is refused.
 */
#include "store/store.h"
#include "store_test.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <string.h>

TestSuite(store_scope, .init = store_test_make_dir, .fini = store_test_remove_dir);

static void gen(cn_generation_t *g, uint64_t number, uint16_t weight_bp,
                const char *stable, const char *stable_addr, const char *canary,
                const char *canary_addr)
{
    cn_generation_init(g);
    g->number = number;
    g->traffic =
        (cn_traffic_t){.canary_weight_bp = weight_bp, .mode = CN_TRAFFIC_MODE_RANDOM};
    const char *labels[] = {stable, canary}, *addrs[] = {stable_addr, canary_addr};
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        cn_version_set_dispose(&g->sets[r]);
        cn_version_set_init(&g->sets[r], labels[r]);
        if (addrs[r])
            cn_version_set_add(&g->sets[r], addrs[r]);
    }
}

static cn_store_t *open_scoped(const char *path, const char *model)
{
    cn_store_t *s = store_test_open(path);
    char err[256];
    cr_assert_eq(cn_store_scope_model(s, model, err, sizeof err), 0, "%s", err);
    return s;
}

Test(store_scope, two_models_keep_their_own_generations_through_a_reopen)
{
    const char *path = store_test_path("state.db");
    cn_store_t *a = open_scoped(path, "fraud"), *b = open_scoped(path, "ctr");
    char err[256];
    cn_generation_t ga, gb;
    gen(&ga, 7, 500, "v1", "127.0.0.1:9001", "v2", "127.0.0.1:9002");
    gen(&gb, 3, 2500, "c1", "127.0.0.1:9101", "c2", "127.0.0.1:9102");
    cr_assert_eq(cn_store_save_generation(a, &ga, "test", err, sizeof err), 0, "%s",
                 err);
    /* b's numbers are its own: 3 after a's 7 is fine */
    cr_assert_eq(cn_store_save_generation(b, &gb, "test", err, sizeof err), 0, "%s",
                 err);
    cn_store_close(a);
    cn_store_close(b);
    /* the file's one generation was not touched */
    cr_assert_eq(store_test_sql_int(path, "SELECT count(*) FROM traffic"), 0);
    cr_assert_eq(store_test_sql_int(path, "SELECT count(*) FROM versions"), 0);

    const char *models[] = {"fraud", "ctr"};
    const cn_generation_t *want[] = {&ga, &gb};
    for (int m = 0; m < 2; m++) {
        cn_store_t *s = open_scoped(path, models[m]);
        cn_generation_t got;
        cn_generation_init(&got);
        bool ht = false, hv = false;
        cr_assert_eq(cn_store_load_generation(s, &got, &ht, &hv, err, sizeof err), 0,
                     "%s", err);
        cr_assert(ht && hv);
        cr_assert_eq(got.number, want[m]->number);
        cr_assert_eq(got.traffic.canary_weight_bp, want[m]->traffic.canary_weight_bp);
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            cr_assert(cn_version_set_equal(&got.sets[r], &want[m]->sets[r]));
        cn_generation_dispose(&got);
        cn_store_close(s);
    }
    cn_generation_dispose(&ga);
    cn_generation_dispose(&gb);
}

Test(store_scope, a_model_with_nothing_saved_loads_nothing_and_numbers_grow)
{
    const char *path = store_test_path("state.db");
    cn_store_t *s = open_scoped(path, "fraud");
    char err[256];
    cn_generation_t g;
    cn_generation_init(&g);
    bool ht = true, hv = true;
    cr_assert_eq(cn_store_load_generation(s, &g, &ht, &hv, err, sizeof err), 0);
    cr_assert(!ht && !hv);
    cn_generation_dispose(&g);
    gen(&g, 4, 0, "v1", "127.0.0.1:9001", "v2", NULL);
    cr_assert_eq(cn_store_save_generation(s, &g, "t", err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_store_save_generation(s, &g, "t", err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "model 'fraud': refusing to save generation 4"), "%s", err);
    g.number = 5;
    cr_assert_eq(cn_store_save_generation(s, &g, "t", err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_test_sql_int(path, "SELECT generation FROM model_generations "
                                          "WHERE model = 'fraud'"),
                 5);
    cn_generation_dispose(&g);
    cn_store_close(s);
}

Test(store_scope, a_bad_scope_is_refused)
{
    cn_store_t *s = store_test_open(store_test_path("state.db"));
    char err[256], long_name[80];
    memset(long_name, 'm', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    cr_assert_eq(cn_store_scope_model(s, "", err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_store_scope_model(s, long_name, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "1 to 63 bytes"), "%s", err);
    cn_store_close(s);
}
