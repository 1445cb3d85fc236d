/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The store's key table (config.h).
 */
#include "store/config.h"

#include <stddef.h>

static const cn_config_key_t store_keys[] = {
    {.key = "state",
     .flag = "state",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_FILE,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "SQLite file keeping the traffic split across restarts",
     .offset = offsetof(cn_store_config_t, path),
     .width = sizeof(char *)},
};

static const cn_config_table_t store_table = {
    .keys = store_keys,
    .n_keys = sizeof store_keys / sizeof store_keys[0],
    .size = sizeof(cn_store_config_t),
};

const cn_config_table_t *cn_store_config_table(void)
{
    return &store_table;
}
