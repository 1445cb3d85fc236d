/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The engines `canary control` can drive, by the key that names them in a
 * model's `traffic:` or `metrics:` section: one row per kind, each a
 * config table (the kind's own, from engines/<kind>.h) and how to build,
 * reach and free the engine. A new kind is a row in kinds.c and nothing
 * else here.
 */
#ifndef CN_CONTROL_KINDS_H
#define CN_CONTROL_KINDS_H

#include "controller/engine.h"
#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct cn_control_kind_s {
    const char *name; /* "haproxy": the key under traffic: or metrics: */
    bool traffic;     /* may stand under traffic: */
    bool metrics;     /* may stand under metrics: */
    const cn_config_table_t *table;
    size_t config_size; /* sizeof the table's struct */
    /* The kind's own cleanup of a config beyond the table's (NULL: none). */
    void (*config_dispose)(void *cfg);
    /* Build the engine from a read config (borrowed: it outlives the
     * engine). 0, or a code with one line in err. */
    int (*open)(const void *cfg, void **engine, char *err, size_t errlen);
    /* Its tables, NULL when it has none of that side. */
    cn_traffic_engine_t *(*traffic_of)(void *engine);
    cn_metrics_source_t *(*metrics_of)(void *engine);
    void (*close)(void *engine);
} cn_control_kind_t;

/* The kind named name[0..len), or NULL. */
const cn_control_kind_t *cn_control_kind(const char *name, size_t len);

/* "a, b or c": the names of the kinds that may stand on one side, for
 * messages. */
const char *cn_control_kind_names(bool traffic, char *buf, size_t len);

#endif
