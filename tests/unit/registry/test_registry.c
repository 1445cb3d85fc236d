/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The model registry (src/registry/) over a real state file: the syntax
 * checks and their messages, registering (a model created, its first
 * version stable, a duplicate refused with nothing changed), the tag
 * rules and what each answer tells the controller (publish, start a
 * rollout, supersede one), the version sets a model implies, the
 * controller's promotion and rollback in one transaction each, and
 * registrations and tags from several threads at once.
 */
#include "registry/registry.h"
#include "store/store.h"
#include "store/store_test.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TestSuite(registry, .init = store_test_make_dir, .fini = store_test_remove_dir);

static char err[512];

struct fixture {
    const char *path;
    cn_store_t *store;
    cn_registry_t *reg;
};

static struct fixture open_registry(void)
{
    struct fixture f;
    f.path = store_test_path("state.db");
    f.store = store_test_open(f.path);
    f.reg = cn_registry_new(f.store);
    return f;
}

static void close_registry(struct fixture *f)
{
    cn_registry_free(f->reg);
    cn_store_close(f->store);
}

static int reg_version(struct fixture *f, const char *model, const char *version,
                       const char *address)
{
    const char *addrs[] = {address};
    cn_registry_version_spec_t spec = {
        .model = model, .version = version, .addresses = addrs, .n_addresses = 1};
    return cn_registry_register(f->reg, &spec, "alice", NULL, err, sizeof err);
}

static cn_store_tag_t tag_of(struct fixture *f, const char *model, const char *version)
{
    cn_store_version_t v;
    cn_store_version_init(&v);
    cr_assert_eq(cn_registry_get_version(f->reg, model, version, &v, err, sizeof err),
                 0, "%s", err);
    cn_store_tag_t t = v.tag;
    cn_store_version_dispose(&v);
    return t;
}

/* A started rollout of fraud/version (as the controller would start it). */
static void start_rollout(struct fixture *f, cn_store_rollout_t *r, const char *version,
                          int64_t supersede)
{
    cn_store_rollout_init(r);
    snprintf(r->model, sizeof r->model, "fraud");
    snprintf(r->version, sizeof r->version, "%s", version);
    r->state = CN_STORE_ROLLOUT_PENDING;
    cn_store_audit_t e = {.kind = CN_STORE_AUDIT_TRANSITION};
    snprintf(e.actor, sizeof e.actor, "controller");
    cr_assert_eq(
        cn_store_rollout_start(f->store, r, &e, supersede, NULL, err, sizeof err), 0,
        "%s", err);
}

/* ------------------------------------------------------------- checks */

Test(registry, names_follow_the_url_and_label_syntax)
{
    const char *good_models[] = {"fraud", "fraud-v2", "a", "Risk.Model_3", "9lives"};
    for (size_t i = 0; i < sizeof good_models / sizeof *good_models; i++)
        cr_assert_eq(cn_registry_check_model(good_models[i], err, sizeof err), 0, "%s",
                     good_models[i]);
    const char *bad_models[] = {"", "-x", ".x", "a/b", "a b", "a+b", "a?b", "é"};
    for (size_t i = 0; i < sizeof bad_models / sizeof *bad_models; i++)
        cr_assert_eq(cn_registry_check_model(bad_models[i], err, sizeof err), CN_EINVAL,
                     "%s", bad_models[i]);
    cr_assert_eq(cn_registry_check_model("a/b", err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "model: must be 1 to 63 letters, digits, '.', '_' or '-', "
                          "starting with a letter or a digit, got 'a/b'");
    char long_name[80];
    memset(long_name, 'm', 64);
    long_name[64] = '\0';
    cr_assert_eq(cn_registry_check_model(long_name, err, sizeof err), CN_EINVAL);
    long_name[63] = '\0';
    cr_assert_eq(cn_registry_check_model(long_name, err, sizeof err), 0);
    cr_assert_eq(cn_registry_check_model(NULL, err, sizeof err), CN_EINVAL);

    cr_assert_eq(cn_registry_check_version("1.2.3-rc.1+build5", err, sizeof err), 0);
    cr_assert_eq(cn_registry_check_version("v1", err, sizeof err), 0);
    cr_assert_eq(cn_registry_check_version("v1\n", err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "version: must be 1 to 63 letters, digits, '.', '_', '+' or "
                          "'-', starting with a letter or a digit, got 'v1?'");
    cr_assert_eq(cn_registry_check_version("", err, sizeof err), CN_EINVAL);
}

Test(registry, addresses_are_checked_one_by_one_naming_the_index)
{
    const char *good[] = {"127.0.0.1:9001", "[::1]:9002", "model-a.svc_1:80",
                          "localhost:65535"};
    cr_assert_eq(cn_registry_check_addresses(good, 4, err, sizeof err), 0, "%s", err);
    struct {
        const char *address;
        const char *message;
    } bad[] = {
        {"127.0.0.1", "addresses[1]: must be host:port or [ipv6]:port (port 1..65535), "
                      "got '127.0.0.1'"},
        {"host:0",
         "addresses[1]: must be host:port or [ipv6]:port (port 1..65535), got "
         "'host:0'"},
        {":8080", "addresses[1]: must be host:port or [ipv6]:port (port 1..65535), got "
                  "':8080'"},
        {"[zz]:80",
         "addresses[1]: must be host:port or [ipv6]:port (port 1..65535), got "
         "'[zz]:80'"},
        {"999.1.1.1:80", "addresses[1]: must be host:port or [ipv6]:port (port "
                         "1..65535), got '999.1.1.1:80'"},
        {"a/b:80",
         "addresses[1]: must be host:port or [ipv6]:port (port 1..65535), got "
         "'a/b:80'"},
        {"http://a:80", "addresses[1]: must be host:port or [ipv6]:port (port "
                        "1..65535), got 'http://a:80'"},
        {"127.0.0.1:9001", "addresses[1]: duplicate of addresses[0] '127.0.0.1:9001'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *two[] = {"127.0.0.1:9001", bad[i].address};
        cr_assert_eq(cn_registry_check_addresses(two, 2, err, sizeof err), CN_EINVAL,
                     "%s", bad[i].address);
        cr_assert_str_eq(err, bad[i].message);
    }
    cr_assert_eq(cn_registry_check_addresses(good, 0, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "addresses: a version needs at least one upstream address");
}

Test(registry, metadata_must_be_a_json_object)
{
    cr_assert_eq(cn_registry_check_metadata("{\"auc\": 0.91}", err, sizeof err), 0);
    cr_assert_eq(cn_registry_check_metadata(NULL, err, sizeof err), 0, "none is {}");
    cr_assert_eq(cn_registry_check_metadata("[1]", err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "metadata: not a JSON object");
    cr_assert_eq(cn_registry_check_metadata("{\"a\": }", err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "metadata: not JSON (line 1, column 7: unexpected token near "
                          "'}')");
    cr_assert_eq(cn_registry_check_metadata("{\"a\": 1, \"a\": 2}", err, sizeof err),
                 CN_EINVAL);
    cr_assert_eq(strncmp(err, "metadata: not JSON (line 1, column ", 35), 0, "%s", err);
}

Test(registry, an_unknown_tag_is_named)
{
    cn_store_tag_t t = CN_STORE_TAG_NONE;
    cr_assert_eq(cn_registry_parse_tag("production-candidate", &t, err, sizeof err), 0);
    cr_assert_eq(t, CN_STORE_TAG_CANDIDATE);
    cr_assert_eq(cn_registry_parse_tag("gold", &t, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "tag 'gold': expected one of stable, production-candidate, "
                          "rolled-back, retired");
}

/* ----------------------------------------------------------- register */

Test(registry, registering_creates_the_model_and_refuses_a_duplicate)
{
    struct fixture f = open_registry();
    const char *addrs[] = {"127.0.0.1:9001", "127.0.0.1:9002"};
    cn_registry_version_spec_t spec = {.model = "fraud",
                                       .version = "v1",
                                       .addresses = addrs,
                                       .n_addresses = 2,
                                       .artifact_uri = "s3://m/fraud/v1",
                                       .metadata =
                                           "{ \"owner\" : \"risk\", \"auc\": 0.9 }"};
    bool created = false;
    cr_assert_eq(cn_registry_register(f.reg, &spec, "alice", &created, err, sizeof err),
                 0, "%s", err);
    cr_assert(created);
    cn_store_version_t v;
    cn_store_version_init(&v);
    cr_assert_eq(cn_registry_get_version(f.reg, "fraud", "v1", &v, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(v.metadata, "{ \"owner\" : \"risk\", \"auc\": 0.9 }",
                     "as written");
    cr_assert_str_eq(v.artifact_uri, "s3://m/fraud/v1");
    cr_assert_eq(v.set.count, 2);
    cr_assert_eq(v.tag, CN_STORE_TAG_STABLE);
    cr_assert_str_eq(v.created_by, "alice");
    cn_store_version_dispose(&v);

    char *before = store_test_dump(f.path);
    cr_assert_eq(cn_registry_register(f.reg, &spec, "bob", &created, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "model 'fraud': version 'v1' is registered already",
                     "no file path in a person's error");
    cr_assert_not(created);
    const char *bad_addrs[] = {"127.0.0.1:9003", "nohost"};
    spec.version = "v2";
    spec.addresses = bad_addrs;
    cr_assert_eq(cn_registry_register(f.reg, &spec, "bob", NULL, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "addresses[1]: must be host:port or [ipv6]:port (port "
                          "1..65535), got 'nohost'");
    spec.addresses = addrs;
    spec.metadata = "\"text\"";
    cr_assert_eq(cn_registry_register(f.reg, &spec, "bob", NULL, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "metadata: not a JSON object");
    spec.metadata = NULL;
    spec.artifact_uri = "s3://a b";
    cr_assert_eq(cn_registry_register(f.reg, &spec, "bob", NULL, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "artifact_uri: must be a URI (printable ASCII without "
                          "spaces), got 's3://a b'");
    spec.artifact_uri = NULL;
    spec.model = "bad model";
    cr_assert_eq(cn_registry_register(f.reg, &spec, "bob", NULL, err, sizeof err),
                 CN_EINVAL);
    char *after = store_test_dump(f.path);
    cr_assert_str_eq(after, before, "refused registrations change nothing");
    free(before);
    free(after);

    cr_assert_eq(cn_registry_add_model(f.reg, "fraud", "bob", err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "model 'fraud' is registered already");
    cr_assert_eq(cn_registry_add_model(f.reg, "churn", "bob", err, sizeof err), 0, "%s",
                 err);
    close_registry(&f);
}

Test(registry, a_model_reads_with_its_versions_and_tags)
{
    struct fixture f = open_registry();
    cr_assert_eq(reg_version(&f, "fraud", "v1", "127.0.0.1:9001"), 0, "%s", err);
    cr_assert_eq(reg_version(&f, "fraud", "v2", "127.0.0.1:9002"), 0, "%s", err);
    cr_assert_eq(reg_version(&f, "ads", "a1", "127.0.0.1:9101"), 0, "%s", err);
    cr_assert_eq(cn_registry_tag(f.reg, "fraud", "v2", "production-candidate", "bob",
                                 NULL, err, sizeof err),
                 0, "%s", err);
    cn_registry_model_t m;
    cr_assert_eq(cn_registry_get_model(f.reg, "fraud", &m, err, sizeof err), 0, "%s",
                 err);
    cr_assert_str_eq(m.model.name, "fraud");
    cr_assert_str_eq(m.model.stable, "v1");
    cr_assert_str_eq(m.model.candidate, "v2");
    cr_assert_eq(m.n_versions, 2);
    cr_assert_eq(m.total_versions, 2);
    cr_assert_str_eq(m.versions[0].set.version, "v1");
    cr_assert_eq(m.versions[0].tag, CN_STORE_TAG_STABLE);
    cr_assert_eq(m.versions[1].tag, CN_STORE_TAG_CANDIDATE);
    cn_registry_model_dispose(&m);
    cn_registry_model_dispose(&m);
    cr_assert_eq(cn_registry_get_model(f.reg, "nope", &m, err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert_str_eq(err, "no model 'nope' is registered");
    cn_store_model_t list[4];
    size_t n = 0;
    cr_assert_eq(cn_registry_list_models(f.reg, NULL, list, 4, &n, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(list[0].name, "ads");
    cn_store_version_t v;
    cn_store_version_init(&v);
    cr_assert_eq(cn_registry_get_version(f.reg, "fraud", "v9", &v, err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert_str_eq(err, "model 'fraud' has no version 'v9'");
    cn_store_version_dispose(&v);
    close_registry(&f);
}

/* --------------------------------------------------------------- tags */

Test(registry, stable_moves_and_asks_for_a_publication)
{
    struct fixture f = open_registry();
    reg_version(&f, "fraud", "v1", "127.0.0.1:9001");
    reg_version(&f, "fraud", "v2", "127.0.0.1:9002");
    cn_registry_tag_result_t res;
    cr_assert_eq(
        cn_registry_tag(f.reg, "fraud", "v2", "stable", "bob", &res, err, sizeof err),
        0, "%s", err);
    cr_assert(res.changed);
    cr_assert(res.publish, "a manual cut-over");
    cr_assert_str_eq(res.previous, "v1");
    cr_assert_not(res.start_rollout);
    cn_version_set_t sets[CN_ROLE_COUNT];
    cn_version_set_init(&sets[0], NULL);
    cn_version_set_init(&sets[1], NULL);
    int64_t rollout = -1;
    cr_assert_eq(cn_registry_sets(f.reg, "fraud", sets, &rollout, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(sets[CN_ROLE_STABLE].version, "v2");
    cr_assert_str_eq(sets[CN_ROLE_STABLE].addresses[0], "127.0.0.1:9002");
    cr_assert_str_eq(sets[CN_ROLE_CANARY].version, "canary");
    cr_assert_eq(sets[CN_ROLE_CANARY].count, 0);
    cr_assert_eq(rollout, 0);
    cn_version_set_dispose(&sets[0]);
    cn_version_set_dispose(&sets[1]);

    cr_assert_eq(
        cn_registry_tag(f.reg, "fraud", "v2", "stable", "bob", &res, err, sizeof err),
        0, "%s", err);
    cr_assert_not(res.changed);
    cr_assert_not(res.publish, "nothing moved");
    cr_assert_eq(
        cn_registry_untag(f.reg, "fraud", "v2", "stable", "bob", &res, err, sizeof err),
        CN_EINVAL);
    cr_assert_str_eq(err,
                     "model 'fraud': version 'v2' is its stable version, and a "
                     "model keeps exactly one; tag another version stable instead");
    cr_assert_eq(
        cn_registry_tag(f.reg, "fraud", "v2", "gold", "bob", &res, err, sizeof err),
        CN_EINVAL);
    cr_assert_str_eq(err, "tag 'gold': expected one of stable, production-candidate, "
                          "rolled-back, retired");
    close_registry(&f);
}

Test(registry, a_candidate_asks_for_a_rollout_and_names_the_one_to_supersede)
{
    struct fixture f = open_registry();
    reg_version(&f, "fraud", "v1", "127.0.0.1:9001");
    reg_version(&f, "fraud", "v2", "127.0.0.1:9002");
    reg_version(&f, "fraud", "v3", "127.0.0.1:9003");
    cn_registry_tag_result_t res;
    cr_assert_eq(cn_registry_tag(f.reg, "fraud", "v2", "production-candidate", "bob",
                                 &res, err, sizeof err),
                 0, "%s", err);
    cr_assert(res.changed);
    cr_assert(res.start_rollout);
    cr_assert_eq(res.supersede, 0);
    cr_assert_not(res.publish);
    /* Tagged again before its rollout started (a crash in between): the
     * answer still asks for the rollout. */
    cr_assert_eq(cn_registry_tag(f.reg, "fraud", "v2", "production-candidate", "bob",
                                 &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_not(res.changed);
    cr_assert(res.start_rollout);

    cn_store_rollout_t r2;
    start_rollout(&f, &r2, "v2", 0);
    cr_assert_eq(cn_registry_tag(f.reg, "fraud", "v2", "production-candidate", "bob",
                                 &res, err, sizeof err),
                 0, "%s", err);
    cr_assert_not(res.start_rollout, "its rollout runs");

    /* While it runs: the sets include it; stable may not move. */
    cn_version_set_t sets[CN_ROLE_COUNT];
    cn_version_set_init(&sets[0], NULL);
    cn_version_set_init(&sets[1], NULL);
    int64_t rollout = 0;
    cr_assert_eq(cn_registry_sets(f.reg, "fraud", sets, &rollout, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(sets[CN_ROLE_STABLE].version, "v1");
    cr_assert_str_eq(sets[CN_ROLE_CANARY].version, "v2");
    cr_assert_str_eq(sets[CN_ROLE_CANARY].addresses[0], "127.0.0.1:9002");
    cr_assert_eq(rollout, r2.id);
    cn_version_set_dispose(&sets[0]);
    cn_version_set_dispose(&sets[1]);
    cr_assert_eq(
        cn_registry_tag(f.reg, "fraud", "v3", "stable", "bob", &res, err, sizeof err),
        CN_ECONFLICT);
    char want[300];
    snprintf(
        want, sizeof want,
        "model 'fraud' has an active rollout %lld of version 'v2' (pending): stable "
        "moves when it is promoted, or once it has ended",
        (long long)r2.id);
    cr_assert_str_eq(err, want);
    cr_assert_eq(cn_registry_untag(f.reg, "fraud", "v2", "production-candidate", "bob",
                                   &res, err, sizeof err),
                 CN_ECONFLICT);

    /* A newer candidate: start it, superseding v2's rollout. */
    cr_assert_eq(cn_registry_tag(f.reg, "fraud", "v3", "production-candidate", "bob",
                                 &res, err, sizeof err),
                 0, "%s", err);
    cr_assert(res.start_rollout);
    cr_assert_eq(res.supersede, r2.id);
    cr_assert_str_eq(res.supersede_version, "v2");
    cr_assert_str_eq(res.previous, "v2");
    cn_store_rollout_t r3;
    start_rollout(&f, &r3, "v3", res.supersede);
    cn_store_rollout_t old;
    cn_store_rollout_init(&old);
    cr_assert_eq(cn_store_rollout_get(f.store, r2.id, &old, err, sizeof err), 0);
    cr_assert_eq(old.state, CN_STORE_ROLLOUT_ABORTED);
    cr_assert_str_eq(old.reason, "superseded by v3");
    cn_store_rollout_dispose(&old);
    cn_store_rollout_dispose(&r2);
    cn_store_rollout_dispose(&r3);
    close_registry(&f);
}

Test(registry, sets_need_a_known_model_with_a_version)
{
    struct fixture f = open_registry();
    cn_version_set_t sets[CN_ROLE_COUNT];
    cn_version_set_init(&sets[0], "keep");
    cn_version_set_init(&sets[1], "keep");
    cr_assert_eq(cn_registry_sets(f.reg, "fraud", sets, NULL, err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert_str_eq(err, "no model 'fraud' is registered");
    cr_assert_eq(cn_registry_add_model(f.reg, "fraud", "bob", err, sizeof err), 0);
    cr_assert_eq(cn_registry_sets(f.reg, "fraud", sets, NULL, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "model 'fraud' has no version yet");
    cr_assert_str_eq(sets[0].version, "keep", "untouched on an error");
    cn_version_set_dispose(&sets[0]);
    cn_version_set_dispose(&sets[1]);
    close_registry(&f);
}

/* ------------------------------------------- the controller's changes */

Test(registry, a_promotion_moves_stable_and_retires_the_old_in_one_transaction)
{
    struct fixture f = open_registry();
    reg_version(&f, "fraud", "v1", "127.0.0.1:9001");
    reg_version(&f, "fraud", "v2", "127.0.0.1:9002");
    cn_store_rollout_t r;
    start_rollout(&f, &r, "v2", 0);
    cn_generation_t g;
    cn_generation_init(&g);
    g.number = 1;
    cn_version_set_dispose(&g.sets[CN_ROLE_STABLE]);
    cn_version_set_init(&g.sets[CN_ROLE_STABLE], "v2");
    cn_version_set_add(&g.sets[CN_ROLE_STABLE], "127.0.0.1:9002");
    cn_store_audit_t e = {.kind = CN_STORE_AUDIT_TRANSITION};
    snprintf(e.actor, sizeof e.actor, "controller");
    snprintf(e.reason, sizeof e.reason, "promoted after 6 steps");

    cn_store_rollout_t stale;
    cn_store_rollout_init(&stale);
    cr_assert_eq(cn_store_rollout_get(f.store, r.id, &stale, err, sizeof err), 0);
    cr_assert_eq(cn_registry_promote(f.reg, &r, &e, &g, err, sizeof err), 0, "%s", err);
    cr_assert_eq(r.state, CN_STORE_ROLLOUT_PROMOTED);
    cr_assert_eq(tag_of(&f, "fraud", "v2"), CN_STORE_TAG_STABLE);
    cr_assert_eq(tag_of(&f, "fraud", "v1"), CN_STORE_TAG_RETIRED);
    cn_version_set_t sets[CN_ROLE_COUNT];
    cn_version_set_init(&sets[0], NULL);
    cn_version_set_init(&sets[1], NULL);
    cr_assert_eq(cn_registry_sets(f.reg, "fraud", sets, NULL, err, sizeof err), 0);
    cr_assert_str_eq(sets[CN_ROLE_STABLE].version, "v2");
    cr_assert_eq(sets[CN_ROLE_CANARY].count, 0);
    cn_version_set_dispose(&sets[0]);
    cn_version_set_dispose(&sets[1]);
    cr_assert_eq(store_test_sql_int(f.path, "SELECT generation FROM traffic"), 1);

    /* The same promotion again (a repeated decision): refused, nothing
     * changes, and the caller's record is left as it was. */
    char *before = store_test_dump(f.path);
    cr_assert_eq(cn_registry_promote(f.reg, &stale, &e, NULL, err, sizeof err),
                 CN_ECONFLICT);
    cr_assert_eq(stale.state, CN_STORE_ROLLOUT_PENDING);
    char *after = store_test_dump(f.path);
    cr_assert_str_eq(after, before);
    free(before);
    free(after);
    cn_store_rollout_dispose(&stale);
    cn_store_rollout_dispose(&r);
    cn_generation_dispose(&g);
    close_registry(&f);
}

Test(registry, a_rollback_tags_the_version_and_leaves_stable)
{
    struct fixture f = open_registry();
    reg_version(&f, "fraud", "v1", "127.0.0.1:9001");
    reg_version(&f, "fraud", "v2", "127.0.0.1:9002");
    cn_store_rollout_t r;
    start_rollout(&f, &r, "v2", 0);
    cn_store_audit_t e = {.kind = CN_STORE_AUDIT_TRIGGER};
    snprintf(e.actor, sizeof e.actor, "controller");
    snprintf(e.reason, sizeof e.reason, "error_rate: 6 of 6 failed, p = 1.6e-08");
    e.payload = "{\"trigger\":\"error_rate\",\"p\":1.6e-08}";
    cr_assert_eq(cn_registry_roll_back(f.reg, &r, CN_STORE_ROLLOUT_PROMOTED, &e, err,
                                       sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "state: a rollback ends in rolled-back or aborted, not "
                          "promoted");
    cr_assert_eq(cn_registry_roll_back(f.reg, &r, CN_STORE_ROLLOUT_ROLLED_BACK, &e, err,
                                       sizeof err),
                 0, "%s", err);
    cr_assert_eq(r.state, CN_STORE_ROLLOUT_ROLLED_BACK);
    cr_assert_eq(tag_of(&f, "fraud", "v2"), CN_STORE_TAG_ROLLED_BACK);
    cr_assert_eq(tag_of(&f, "fraud", "v1"), CN_STORE_TAG_STABLE);
    cn_store_audit_t a[2];
    size_t n;
    cr_assert_eq(cn_store_audit_list(f.store, r.id, 1, a, 2, &n, err, sizeof err), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(a[0].kind, CN_STORE_AUDIT_TRIGGER);
    cr_assert_str_eq(a[0].payload, "{\"trigger\":\"error_rate\",\"p\":1.6e-08}");
    cn_store_audit_dispose(&a[0]);
    cn_store_rollout_dispose(&r);
    close_registry(&f);
}

/* ------------------------------------------------------------- threads */

enum { THREADS = 4, VERSIONS = 20 };

struct worker {
    cn_registry_t *reg;
    int id;
    int failed;
    int candidates; /* answers that asked for a rollout */
    char err[512];
};

/* Each thread registers versions of its own model and of a shared one,
 * and tags the shared ones stable and candidate, all at once. */
static void *work(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < VERSIONS && !w->failed; i++) {
        char model[32], version[32], address[32];
        snprintf(model, sizeof model, "m%d", w->id);
        snprintf(version, sizeof version, "t%d.%d", w->id, i);
        snprintf(address, sizeof address, "127.0.0.1:%d", 10000 + w->id * 100 + i);
        const char *addrs[] = {address};
        cn_registry_version_spec_t spec = {
            .model = model, .version = version, .addresses = addrs, .n_addresses = 1};
        cn_registry_tag_result_t res;
        if (cn_registry_register(w->reg, &spec, "t", NULL, w->err, sizeof w->err))
            w->failed = 1;
        spec.model = "shared";
        if (!w->failed &&
            cn_registry_register(w->reg, &spec, "t", NULL, w->err, sizeof w->err))
            w->failed = 1;
        if (!w->failed && cn_registry_tag(w->reg, "shared", version,
                                          i % 2 ? "stable" : "production-candidate",
                                          "t", &res, w->err, sizeof w->err))
            w->failed = 1;
        if (!w->failed && res.start_rollout)
            w->candidates++;
    }
    return NULL;
}

Test(registry, registrations_and_tags_from_several_threads_keep_the_rules)
{
    struct fixture f = open_registry();
    cr_assert_eq(reg_version(&f, "shared", "base", "127.0.0.1:9000"), 0, "%s", err);
    struct worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.reg = f.reg, .id = i};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    int candidates = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(w[i].failed, 0, "thread %d: %s", i, w[i].err);
        candidates += w[i].candidates;
    }
    cr_assert_eq(candidates, THREADS * VERSIONS / 2, "every candidate asked for one");
    cn_registry_model_t m;
    cr_assert_eq(cn_registry_get_model(f.reg, "shared", &m, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(m.n_versions, 1 + THREADS * VERSIONS);
    int stable = 0, candidate = 0;
    for (size_t i = 0; i < m.n_versions; i++) {
        stable += m.versions[i].tag == CN_STORE_TAG_STABLE;
        candidate += m.versions[i].tag == CN_STORE_TAG_CANDIDATE;
    }
    cr_assert_eq(stable, 1, "exactly one stable");
    cr_assert_eq(candidate, 1, "one candidate: the last one tagged");
    cn_registry_model_dispose(&m);
    for (int i = 0; i < THREADS; i++) {
        char model[32];
        snprintf(model, sizeof model, "m%d", i);
        cr_assert_eq(cn_registry_get_model(f.reg, model, &m, err, sizeof err), 0);
        cr_assert_eq(m.n_versions, VERSIONS);
        cr_assert_eq(m.versions[0].tag, CN_STORE_TAG_STABLE);
        cn_registry_model_dispose(&m);
    }
    close_registry(&f);
}

Test(registry, a_first_stable_version_is_registered_and_tagged_and_a_bad_one_named)
{
    struct fixture f = open_registry();
    const char *addrs[] = {"127.0.0.1:9001"};
    cn_registry_version_spec_t spec = {
        .model = "fraud", .version = "v1", .addresses = addrs, .n_addresses = 1};
    cr_assert_eq(cn_registry_first_stable(f.reg, &spec, "start", err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(tag_of(&f, "fraud", "v1"), CN_STORE_TAG_STABLE);
    /* again: registered already, named, and stable stays */
    cr_assert_eq(cn_registry_first_stable(f.reg, &spec, "start", err, sizeof err),
                 CN_EINVAL);
    cr_assert(strstr(err, "registered already"), "%s", err);
    const char *bad[] = {"no-port"};
    cn_registry_version_spec_t b = {
        .model = "fraud", .version = "v2", .addresses = bad, .n_addresses = 1};
    cr_assert_eq(cn_registry_first_stable(f.reg, &b, "start", err, sizeof err),
                 CN_EINVAL);
    cr_assert(strstr(err, "addresses[0]"), "%s", err);
    cr_assert_eq(tag_of(&f, "fraud", "v1"), CN_STORE_TAG_STABLE);
    close_registry(&f);
}
