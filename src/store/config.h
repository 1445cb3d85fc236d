/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The store's own keys in the serve config: the state file. The
 * composition root (server/config.h) reads this table next to the
 * router's and the admin API's under `serve:`, so the key keeps its path
 * (`serve.state`) and its flag (--state).
 */
#ifndef CN_STORE_CONFIG_H
#define CN_STORE_CONFIG_H

#include "util/config.h"

typedef struct cn_store_config_s {
    char *path; /* the SQLite state file; NULL: no persistence. Owned. */
} cn_store_config_t;

/* The table (util/config.h): key `state`, flag --state, a file path that
 * ~ or "" unsets. Static. */
const cn_config_table_t *cn_store_config_table(void);

#endif
