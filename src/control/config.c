/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The config of `canary control` (config.h): the `control:` section read
 * by the admin API's, the store's, the notifier's and its own key tables
 * as one (util/config.h), the `models:` list walked here (each engine
 * section read with its kind's own table), and the `strategy:` and
 * `analysis:` sections as serve reads them.
 */
#include "control/config.h"
#include "registry/registry.h"
#include "util/error.h"
#include "util/yaml.h"

#include <libfyaml.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTS 4

static const cn_config_key_t own_keys[] = {
    {.key = "token_file",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_FILE,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "file holding the admin API token; default $CANARY_TOKEN",
     .offset = offsetof(cn_control_own_config_t, token_file),
     .width = sizeof(char *)},
};

static const cn_config_table_t own_table = {
    .keys = own_keys,
    .n_keys = sizeof own_keys / sizeof own_keys[0],
    .size = sizeof(cn_control_own_config_t),
};

static const cn_config_key_t stable_keys[] = {
    {.key = "version",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_LABEL,
     .opts = CN_CONFIG_REQUIRED,
     .help = "the label of the model's first stable version",
     .offset = offsetof(cn_control_stable_config_t, version),
     .width = sizeof(char *)},
    {.key = "addresses",
     .type = CN_CONFIG_ADDRESS_LIST,
     .opts = CN_CONFIG_REQUIRED,
     .lo = 1,
     .hi = CN_VERSION_MAX_ADDRESSES,
     .help = "its servers (host:port), as the engine names them",
     .offset = offsetof(cn_control_stable_config_t, addresses),
     .width = sizeof(cn_config_strv_t)},
};

static const cn_config_table_t stable_table = {
    .keys = stable_keys,
    .n_keys = sizeof stable_keys / sizeof stable_keys[0],
    .size = sizeof(cn_control_stable_config_t),
};

static size_t parts_of(cn_control_config_t *c, cn_config_part_t parts[PARTS])
{
    parts[0] = (cn_config_part_t){cn_admin_config_table(), &c->admin};
    parts[1] = (cn_config_part_t){cn_store_config_table(), &c->store};
    parts[2] = (cn_config_part_t){&own_table, &c->own};
    parts[3] = (cn_config_part_t){cn_notify_config_table(), &c->notify};
    return PARTS;
}

void cn_control_config_init(cn_control_config_t *c)
{
    memset(c, 0, sizeof *c);
    cn_config_part_t parts[PARTS];
    size_t n = parts_of(c, parts);
    for (size_t i = 0; i < n; i++)
        cn_config_init(parts[i].table, parts[i].record);
    cn_strategy_init(&c->strategy);
    cn_judge_config_init(&c->analysis);
}

static void engine_dispose(cn_control_engine_config_t *e)
{
    if (e->kind && e->config) {
        if (e->kind->config_dispose)
            e->kind->config_dispose(e->config);
        cn_config_dispose(e->kind->table, e->config);
    }
    free(e->config);
    memset(e, 0, sizeof *e);
}

void cn_control_config_dispose(cn_control_config_t *c)
{
    if (!c)
        return;
    cn_config_part_t parts[PARTS];
    size_t n = parts_of(c, parts);
    for (size_t i = 0; i < n; i++)
        cn_config_dispose(parts[i].table, parts[i].record);
    for (size_t i = 0; i < c->n_models; i++) {
        cn_config_dispose(&stable_table, &c->models[i].stable);
        engine_dispose(&c->models[i].traffic);
        engine_dispose(&c->models[i].metrics);
    }
    free(c->models);
    c->models = NULL;
    c->n_models = 0;
    cn_strategy_dispose(&c->strategy);
    cn_judge_config_dispose(&c->analysis);
}

/* ------------------------------------------------------------ models */

/* One engine section `side` (traffic or metrics) of models[i]: a mapping
 * of exactly one kind to its config. */
static int read_engine(cn_yaml_t *y, struct fy_node *node, int line, size_t i,
                       bool traffic, cn_control_engine_config_t *out)
{
    const char *side = traffic ? "traffic" : "metrics";
    char path[64], names[256], d[CN_YAML_DESCRIBE_BUF];
    snprintf(path, sizeof path, "models[%zu].%s", i, side);
    cn_control_kind_names(traffic, names, sizeof names);
    if (!fy_node_is_mapping(node) || fy_node_mapping_item_count(node) != 1)
        return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(node, line), path,
                              "must be a mapping of one engine (%s) to its settings, "
                              "got %s",
                              names, cn_yaml_describe(y, node, d));
    void *it = NULL;
    struct fy_node_pair *p = fy_node_mapping_iterate(node, &it);
    struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
    size_t klen = 0;
    const char *key =
        k && fy_node_is_scalar(k) ? cn_yaml_scalar_text(y, k, &klen) : NULL;
    int kline = cn_yaml_node_line(k, line);
    const cn_control_kind_t *kind = key ? cn_control_kind(key, klen) : NULL;
    if (!kind || !(traffic ? kind->traffic : kind->metrics))
        return cn_yaml_report(y, CN_EINVAL, kline, path,
                              "unknown engine '%.*s': must be one of %s", (int)klen,
                              key ? key : "", names);
    out->kind = kind;
    out->line = kline;
    out->config = cn_xcalloc(1, kind->config_size);
    cn_config_init(kind->table, out->config);
    if (v && cn_yaml_is_null(v))
        return 0; /* `none:` alone: the defaults */
    if (!v || !fy_node_is_mapping(v))
        return cn_yaml_report(y, CN_EINVAL, kline, path,
                              "'%s' must be a mapping of its settings, got %s",
                              kind->name, cn_yaml_describe(y, v, d));
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s.%s.", path, kind->name);
    const char *saved = y->prefix;
    y->prefix = prefix;
    cn_config_part_t part = {kind->table, out->config};
    int rc = cn_config_read(y, &part, 1, v, kline);
    y->prefix = saved;
    return rc;
}

static int read_model(cn_yaml_t *y, struct fy_node *item, size_t i,
                      cn_control_model_config_t *m)
{
    char path[64], d[CN_YAML_DESCRIBE_BUF];
    snprintf(path, sizeof path, "models[%zu]", i);
    int line = cn_yaml_node_line(item, 1);
    m->line = line;
    if (!fy_node_is_mapping(item))
        return cn_yaml_report(
            y, CN_EINVAL, line, path,
            "must be a mapping with name, traffic and metrics, got %s",
            cn_yaml_describe(y, item, d));
    struct fy_node *traffic = NULL, *metrics = NULL;
    int tline = line, mline = line;
    bool named = false;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(item, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        size_t klen = 0;
        const char *key =
            k && fy_node_is_scalar(k) ? cn_yaml_scalar_text(y, k, &klen) : NULL;
        int kline = cn_yaml_node_line(k, line);
        if (key && cn_yaml_key_is(key, klen, "name")) {
            char npath[80];
            snprintf(npath, sizeof npath, "%s.name", path);
            cn_yaml_scalar_t sc;
            int rc = cn_yaml_get_scalar(y, v, kline, npath, "a model name", 0, &sc);
            if (rc)
                return rc;
            char err[256];
            if (cn_registry_check_model(sc.text, err, sizeof err)) {
                const char *colon = strstr(err, ": ");
                rc = cn_yaml_report(y, CN_EINVAL, kline, npath, "%s",
                                    colon ? colon + 2 : err);
                free(sc.text);
                return rc;
            }
            snprintf(m->name, sizeof m->name, "%s", sc.text);
            free(sc.text);
            named = true;
        } else if (key && cn_yaml_key_is(key, klen, "traffic")) {
            traffic = v;
            tline = kline;
        } else if (key && cn_yaml_key_is(key, klen, "metrics")) {
            metrics = v;
            mline = kline;
        } else if (key && cn_yaml_key_is(key, klen, "stable")) {
            char prefix[80];
            snprintf(prefix, sizeof prefix, "%s.stable.", path);
            const char *saved = y->prefix;
            y->prefix = prefix;
            cn_config_init(&stable_table, &m->stable);
            m->has_stable = true;
            cn_config_part_t part = {&stable_table, &m->stable};
            int rc = v && fy_node_is_mapping(v)
                         ? cn_config_read(y, &part, 1, v, kline)
                         : cn_yaml_report(y, CN_EINVAL, kline, NULL,
                                          "must be a mapping of version and addresses, "
                                          "got %s",
                                          cn_yaml_describe(y, v, d));
            y->prefix = saved;
            if (rc)
                return rc;
        } else {
            return cn_yaml_report(y, CN_EINVAL, kline, path,
                                  "unknown key '%.*s': a model has name, traffic, "
                                  "metrics and stable",
                                  (int)klen, key ? key : "");
        }
    }
    if (!named)
        return cn_yaml_report(y, CN_EINVAL, line, path, "name: required");
    if (!traffic)
        return cn_yaml_report(y, CN_EINVAL, line, path,
                              "traffic: required (the engine that splits model '%s')",
                              m->name);
    int rc = read_engine(y, traffic, tline, i, true, &m->traffic);
    if (!rc && metrics)
        rc = read_engine(y, metrics, mline, i, false, &m->metrics);
    if (!rc && !metrics && !m->traffic.kind->metrics_of)
        rc = cn_yaml_report(y, CN_EINVAL, line, path,
                            "metrics: required: the %s engine measures nothing "
                            "itself (add metrics: {prometheus: {...}}, or "
                            "metrics: {none: {}} to walk the steps unmeasured)",
                            m->traffic.kind->name);
    return rc;
}

static int read_models(cn_yaml_t *y, struct fy_node *list, int line,
                       cn_control_config_t *c)
{
    char d[CN_YAML_DESCRIBE_BUF];
    if (!fy_node_is_sequence(list) || fy_node_sequence_item_count(list) == 0)
        return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(list, line), "models",
                              "must be a list of at least one model, got %s",
                              cn_yaml_describe(y, list, d));
    size_t n = (size_t)fy_node_sequence_item_count(list);
    if (n > CN_CONTROL_MODELS_MAX)
        return cn_yaml_report(y, CN_EINVAL, line, "models",
                              "%zu models: at most %u per controller", n,
                              CN_CONTROL_MODELS_MAX);
    c->models = cn_xcalloc(n, sizeof *c->models);
    void *it = NULL;
    struct fy_node *item;
    int rc = 0;
    while (!rc && (item = fy_node_sequence_iterate(list, &it))) {
        size_t i = c->n_models++;
        rc = read_model(y, item, i, &c->models[i]);
        for (size_t j = 0; !rc && j < i; j++)
            if (strcmp(c->models[j].name, c->models[i].name) == 0) {
                char path[64];
                snprintf(path, sizeof path, "models[%zu].name", i);
                rc = cn_yaml_report(y, CN_EINVAL, c->models[i].line, path,
                                    "model '%s' is models[%zu] already",
                                    c->models[i].name, j);
            }
    }
    return rc;
}

/* ------------------------------------------------------------ file */

int cn_control_config_parse_yaml(cn_control_config_t *c, const char *text, size_t len,
                                 const char *filename, char *err, size_t errlen)
{
    cn_config_part_t parts[PARTS];
    size_t n = parts_of(c, parts);
    cn_yaml_t yaml;
    cn_yaml_init(&yaml, filename, err, errlen);
    struct fy_document *doc = NULL;
    int rc = cn_yaml_load(&yaml, text, len, &doc);
    struct fy_node *root = !rc && doc ? fy_document_root(doc) : NULL;
    char d[CN_YAML_DESCRIBE_BUF], expected[600];
    if (!rc && (!root || !fy_node_is_mapping(root)))
        rc = cn_yaml_report(&yaml, CN_EINVAL, root ? cn_yaml_node_line(root, 1) : 1,
                            NULL,
                            "the config must be a mapping of control, models, "
                            "strategy and analysis, got %s",
                            root ? cn_yaml_describe(&yaml, root, d) : "nothing");
    /* the top level: only the four sections */
    void *it = NULL;
    struct fy_node_pair *p;
    struct fy_node *models = NULL;
    int mline = 1;
    while (!rc && (p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t klen = 0;
        const char *key =
            k && fy_node_is_scalar(k) ? cn_yaml_scalar_text(&yaml, k, &klen) : NULL;
        if (key && cn_yaml_key_is(key, klen, "models")) {
            models = fy_node_pair_value(p);
            mline = cn_yaml_node_line(k, 1);
        } else if (!key || !(cn_yaml_key_is(key, klen, "control") ||
                             cn_yaml_key_is(key, klen, "strategy") ||
                             cn_yaml_key_is(key, klen, "analysis"))) {
            rc = cn_yaml_report(&yaml, CN_EINVAL, cn_yaml_node_line(k, 1), NULL,
                                "unknown key '%.*s': canary control's config has "
                                "control, models, strategy and analysis",
                                (int)klen, key ? key : "");
        }
    }
    struct fy_node *section = NULL;
    int sline = 0;
    if (!rc) {
        cn_config_children(parts, n, "", expected, sizeof expected);
        rc = cn_yaml_section(&yaml, root, "control", expected, &section, &sline);
    }
    if (!rc && section) {
        yaml.prefix = "control.";
        rc = cn_config_read(&yaml, parts, n, section, sline);
        yaml.prefix = "";
    }
    if (!rc && !c->store.path)
        rc = cn_yaml_report(&yaml, CN_EINVAL, section ? sline : 1, "control.state",
                            "required: a controller keeps every model's versions, "
                            "rollouts and audit trail in its state file");
    if (!rc && !models)
        rc = cn_yaml_report(&yaml, CN_EINVAL, 1, "models",
                            "required: the models this controller drives");
    if (!rc)
        rc = read_models(&yaml, models, mline, c);
    if (!rc)
        rc = cn_strategy_read_section(&yaml, doc, &c->strategy, &c->has_strategy);
    if (!rc && !c->has_strategy)
        rc = cn_yaml_report(&yaml, CN_EINVAL, 1, "strategy",
                            "required: the steps every model's rollouts walk");
    if (!rc && fy_node_mapping_lookup_by_string(root, "analysis", FY_NT)) {
        c->has_analysis = true;
        rc = cn_judge_config_read_section(&yaml, doc, &c->analysis);
    }
    if (!rc && c->has_analysis)
        rc = cn_strategy_check_analysis(&yaml, doc, &c->strategy, &c->analysis, NULL);
    cn_yaml_dispose(&yaml);
    return rc;
}
