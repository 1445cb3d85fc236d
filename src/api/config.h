/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's own keys in the serve config: where it listens. The
 * composition root (server/config.h) reads this table next to the router's
 * and the store's under `serve:`, so the key keeps its path
 * (`serve.admin`) and its flag (--admin).
 */
#ifndef CN_API_CONFIG_H
#define CN_API_CONFIG_H

#include "util/config.h"

typedef struct cn_admin_config_s {
    char *address; /* "127.0.0.1:8081"; owned */
} cn_admin_config_t;

/* The table (util/config.h): key `admin`, flag --admin, an address to
 * listen on, default 127.0.0.1:8081. Static. */
const cn_config_table_t *cn_admin_config_table(void);

#endif
