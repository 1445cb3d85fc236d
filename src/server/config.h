/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The config of `canary serve`, assembled: the composition root reads the
 * router's key table, the admin API's, the store's and its own (the token
 * file) as one `serve:` section (util/config.h), in the manner of HAProxy's
 * registered keyword lists: no module knows another's keys, and every key
 * keeps its path in the file (`serve.admin`, `serve.state`,
 * `serve.token_file`) and its flag (--admin, --state, --token-file).
 */
#ifndef CN_SERVER_CONFIG_H
#define CN_SERVER_CONFIG_H

#include "api/config.h"
#include "controller/strategy.h"
#include "feedback/config.h"
#include "judge/config.h"
#include "judge/judge.h"
#include "notify/notify.h"
#include "router/config.h"
#include "store/config.h"
#include "util/config.h"

#include <stddef.h>

/* The server's own keys. */
typedef struct cn_server_own_config_s {
    char *model;       /* NULL: the only registered model, if any */
    char *token_file;  /* NULL: the token comes from CANARY_TOKEN */
    uint64_t lease_ms; /* the controller's fail-safe lease; 0: none */
} cn_server_own_config_t;

typedef struct cn_server_config_s {
    cn_router_config_t router;
    cn_admin_config_t admin;
    cn_store_config_t store;
    cn_server_own_config_t own;
    cn_notify_config_t notify; /* `notifications:` */
    cn_feedback_config_t feedback;
    /* The file's other sections that serve uses (from a file only; no
     * flags): the rollout strategy and the analysis it judges with. */
    cn_strategy_t strategy;
    bool has_strategy;
    cn_judge_config_t analysis;
    bool has_analysis;
} cn_server_config_t;

/* Tables read as the `serve:` section. */
#define CN_SERVER_CONFIG_PARTS 6

/* Every part at its defaults. */
void cn_server_config_init(cn_server_config_t *c);

/* Free what every part owns and zero it. Twice is harmless. */
void cn_server_config_dispose(cn_server_config_t *c);

/* The parts of c in the order their keys are listed (router, admin API,
 * store, server, notifications): for reading a file, applying flags and writing the
 * effective configuration. Returns the count (CN_SERVER_CONFIG_PARTS). */
size_t cn_server_config_parts(cn_server_config_t *c,
                              cn_config_part_t parts[CN_SERVER_CONFIG_PARTS]);

/*
 * Parse YAML text over c, as cn_router_config_parse_yaml() does for the
 * router alone (the `serve:` section or the root mapping; messages
 * "FILE:LINE: key 'serve.limits.max_body_bytes': ..."), for every part;
 * then the `strategy:` and `analysis:` sections when the file has them,
 * checked against each other (cn_strategy_check_analysis).
 * Returns 0, CN_EPARSE or CN_EINVAL with one line in err.
 */
int cn_server_config_parse_yaml(cn_server_config_t *c, const char *text, size_t len,
                                const char *filename, char *err, size_t errlen);

/* One flag for whichever part has it (util/config.h's rules). Returns 0,
 * CN_ENOTFOUND or CN_EINVAL with one line in err. */
int cn_server_config_set_flag(cn_server_config_t *c, const char *name,
                              const char *value, char *err, size_t errlen);

/*
 * What `canary serve` checks once the file and the flags are in: each
 * part against its table, the router's cross-field rules and memory budget
 * (cn_router_config_validate), and across parts: the admin API and the
 * proxy do not listen on the same address (unless port 0). Returns 0 or
 * CN_EINVAL with one line naming the key and its flag:
 *     key 'admin' (--admin): must differ from listen, both are '...'
 */
int cn_server_config_validate(const cn_server_config_t *c, char *err, size_t errlen);

#endif
