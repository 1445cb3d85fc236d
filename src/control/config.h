/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The config of `canary control`: a controller without a data plane of its
 * own, for many models.
 *
 *   control:            # the admin API, the state file, the token, the
 *     admin: ...        # notifications: the same keys as serve's
 *     state: ...
 *     token_file: ...
 *     notifications: [...]
 *   models:             # one controller per model
 *     - name: fraud
 *       traffic: {KIND: {...}}   # exactly one kind (kinds.h)
 *       metrics: {KIND: {...}}   # optional: the traffic kind's own if it
 *                                # has one (remote: the replicas' snapshots)
 *       stable: {version: v1, addresses: [host:port, ...]}
 *                                # optional: the first version, registered
 *                                # when the registry has none
 *   strategy: {...}     # every model's rollouts (as serve's)
 *   analysis: {...}
 *
 * Messages are "FILE:LINE: key 'models[1].traffic.haproxy.socket': ...",
 * as everywhere.
 */
#ifndef CN_CONTROL_CONFIG_H
#define CN_CONTROL_CONFIG_H

#include "api/config.h"
#include "control/kinds.h"
#include "controller/strategy.h"
#include "judge/config.h"
#include "judge/judge.h"
#include "notify/notify.h"
#include "store/config.h"
#include "store/store.h"
#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>

/* Most models one controller drives. */
#define CN_CONTROL_MODELS_MAX 1024u

/* canary control's own keys. */
typedef struct cn_control_own_config_s {
    char *token_file; /* NULL: the token comes from CANARY_TOKEN */
} cn_control_own_config_t;

/* One engine section: its kind and its config (kind->config_size bytes,
 * read with kind->table). */
typedef struct cn_control_engine_config_s {
    const cn_control_kind_t *kind; /* NULL: not given */
    void *config;                  /* owned */
    int line;
} cn_control_engine_config_t;

/* A model's first stable version, registered at start when the registry
 * has none (as serve's --stable fills an empty registry). */
typedef struct cn_control_stable_config_s {
    char *version;              /* owned */
    cn_config_strv_t addresses; /* owned */
} cn_control_stable_config_t;

typedef struct cn_control_model_config_s {
    char name[CN_STORE_NAME_MAX + 1];
    int line;
    bool has_stable;
    cn_control_stable_config_t stable;
    cn_control_engine_config_t traffic;
    cn_control_engine_config_t metrics; /* kind NULL: the traffic kind's */
} cn_control_model_config_t;

typedef struct cn_control_config_s {
    cn_admin_config_t admin;
    cn_store_config_t store;
    cn_control_own_config_t own;
    cn_notify_config_t notify;
    size_t n_models;
    cn_control_model_config_t *models;
    cn_strategy_t strategy;
    bool has_strategy;
    cn_judge_config_t analysis;
    bool has_analysis;
} cn_control_config_t;

void cn_control_config_init(cn_control_config_t *c);
void cn_control_config_dispose(cn_control_config_t *c);

/*
 * Parse the YAML text (from filename, for messages) into c. The state
 * file, a strategy and at least one model are required: a controller
 * with nothing to keep or drive is a mistake. Returns 0, or CN_EPARSE /
 * CN_EINVAL with one line in err.
 */
int cn_control_config_parse_yaml(cn_control_config_t *c, const char *text, size_t len,
                                 const char *filename, char *err, size_t errlen);

#endif
