/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The assembled config of `canary serve` (config.h): the server's own
 * table (the token file) and the composition of the four.
 */
#include "server/config.h"
#include "registry/registry.h"
#include "util/error.h"
#include "util/units.h"
#include "util/yaml.h"

#include <libfyaml.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int check_model(const char *text, char *what, size_t len)
{
    char err[256];
    if (cn_registry_check_model(text, err, sizeof err) == 0)
        return 0;
    /* the registry's line starts with "model: " */
    const char *colon = strstr(err, ": ");
    snprintf(what, len, "%s", colon ? colon + 2 : err);
    return CN_EINVAL;
}

static const cn_config_key_t own_keys[] = {
    {.key = "model",
     .flag = "model",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .check = check_model,
     .help = "the registered model this canary serve fronts (its versions, tags "
             "and rollouts live in the state file); default: the only registered "
             "model, if there is one",
     .offset = offsetof(cn_server_own_config_t, model),
     .width = sizeof(char *)},
    {.key = "token_file",
     .flag = "token-file",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_FILE,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "file holding the admin API token; default $CANARY_TOKEN",
     .offset = offsetof(cn_server_own_config_t, token_file),
     .width = sizeof(char *)},
    {.key = "lease",
     .flag = "lease",
     .type = CN_CONFIG_DURATION,
     .lo = 0,
     .hi = CN_UNITS_HOUR_MS,
     .default_text = "0s",
     .help = "the fail-safe lease when a controller drives this replica "
             "(canary control's remote engine): a canary weight above 0 drops to 0 "
             "by itself after this long without word from the controller (an "
             "apply or a lease renewal), counted from start too; 0: the lease the "
             "controller announces (its remote engine's lease, default 10s)",
     .offset = offsetof(cn_server_own_config_t, lease_ms),
     .width = sizeof(uint64_t)},
};

static const cn_config_table_t own_table = {
    .keys = own_keys,
    .n_keys = sizeof own_keys / sizeof own_keys[0],
    .size = sizeof(cn_server_own_config_t),
};

size_t cn_server_config_parts(cn_server_config_t *c,
                              cn_config_part_t parts[CN_SERVER_CONFIG_PARTS])
{
    parts[0] = (cn_config_part_t){cn_router_config_table(), &c->router};
    parts[1] = (cn_config_part_t){cn_admin_config_table(), &c->admin};
    parts[2] = (cn_config_part_t){cn_store_config_table(), &c->store};
    parts[3] = (cn_config_part_t){&own_table, &c->own};
    parts[4] = (cn_config_part_t){cn_notify_config_table(), &c->notify};
    parts[5] = (cn_config_part_t){cn_feedback_config_table(), &c->feedback};
    return CN_SERVER_CONFIG_PARTS;
}

void cn_server_config_init(cn_server_config_t *c)
{
    cn_config_part_t parts[CN_SERVER_CONFIG_PARTS];
    size_t n = cn_server_config_parts(c, parts);
    for (size_t i = 0; i < n; i++)
        cn_config_init(parts[i].table, parts[i].record);
    cn_strategy_init(&c->strategy);
    c->has_strategy = false;
    cn_judge_config_init(&c->analysis);
    c->has_analysis = false;
}

void cn_server_config_dispose(cn_server_config_t *c)
{
    if (!c)
        return;
    cn_config_part_t parts[CN_SERVER_CONFIG_PARTS];
    size_t n = cn_server_config_parts(c, parts);
    for (size_t i = 0; i < n; i++)
        cn_config_dispose(parts[i].table, parts[i].record);
    cn_strategy_dispose(&c->strategy);
    cn_judge_config_dispose(&c->analysis);
}

int cn_server_config_parse_yaml(cn_server_config_t *c, const char *text, size_t len,
                                const char *filename, char *err, size_t errlen)
{
    cn_config_part_t parts[CN_SERVER_CONFIG_PARTS];
    size_t n = cn_server_config_parts(c, parts);
    cn_yaml_t yaml;
    cn_yaml_init(&yaml, filename, err, errlen);
    struct fy_document *doc;
    int rc = cn_yaml_load(&yaml, text, len, &doc);
    if (!rc)
        rc = cn_router_config_read_section(&yaml, doc, parts, n);
    if (!rc)
        rc = cn_strategy_read_section(&yaml, doc, &c->strategy, &c->has_strategy);
    struct fy_node *root = !rc && doc ? fy_document_root(doc) : NULL;
    if (root && fy_node_is_mapping(root) &&
        fy_node_mapping_lookup_by_string(root, "analysis", FY_NT)) {
        c->has_analysis = true;
        rc = cn_judge_config_read_section(&yaml, doc, &c->analysis);
    }
    if (!rc && c->has_strategy && c->has_analysis)
        rc = cn_strategy_check_analysis(&yaml, doc, &c->strategy, &c->analysis,
                                        &c->feedback);
    cn_yaml_dispose(&yaml);
    return rc;
}

int cn_server_config_set_flag(cn_server_config_t *c, const char *name,
                              const char *value, char *err, size_t errlen)
{
    cn_config_part_t parts[CN_SERVER_CONFIG_PARTS];
    size_t n = cn_server_config_parts(c, parts);
    return cn_config_set_flag(parts, n, name, value, err, errlen);
}

/* One line in err; CN_EINVAL. */
#define fail(err, errlen, ...) cn_fail(err, errlen, CN_EINVAL, __VA_ARGS__)

int cn_server_config_validate(const cn_server_config_t *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!c)
        return fail(err, errlen, "no config");
    /* The parts other than the router's, each against its table. */
    const cn_config_table_t *tables[] = {
        cn_admin_config_table(), cn_store_config_table(), &own_table,
        cn_notify_config_table(), cn_feedback_config_table()};
    const void *records[] = {&c->admin, &c->store, &c->own, &c->notify, &c->feedback};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        cn_config_problem_t p;
        if (cn_config_check(tables[i], records[i], &p)) {
            if (p.key && p.key->flag)
                return fail(err, errlen, "key '%s' (--%s): %s", p.path, p.key->flag,
                            p.what);
            return fail(err, errlen, "key '%s': %s", p.path, p.what);
        }
    }
    int rc = cn_router_config_validate(&c->router, err, errlen);
    if (rc)
        return rc;
    const char *listen = c->router.listen, *admin = c->admin.address;
    if (strcmp(listen, admin) == 0 && strcmp(strrchr(listen, ':'), ":0") != 0)
        return fail(err, errlen,
                    "key 'admin' (--admin): must differ from listen, both are '%s'",
                    admin);
    if (c->own.model && !c->store.path)
        return fail(err, errlen,
                    "key 'model' (--model): the registry lives in the state file, "
                    "so it needs state (--state)");
    if (c->has_strategy) {
        rc = cn_strategy_validate(&c->strategy, err, errlen);
        if (rc)
            return rc;
        if (cn_strategy_analysis_count(&c->strategy) > 0 && !c->has_analysis)
            return fail(err, errlen,
                        "key 'strategy.steps': analysis steps need an analysis: "
                        "section saying what to judge");
    }
    return 0;
}
