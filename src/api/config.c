/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's key table (config.h).
 */
#include "api/config.h"

#include <stddef.h>

static const cn_config_key_t admin_keys[] = {
    {.key = "admin",
     .flag = "admin",
     .type = CN_CONFIG_ADDRESS,
     .opts = CN_CONFIG_LISTEN,
     .default_text = "127.0.0.1:8081",
     .help = "address of the admin API and /metrics",
     .offset = offsetof(cn_admin_config_t, address),
     .width = sizeof(char *)},
};

static const cn_config_table_t admin_table = {
    .keys = admin_keys,
    .n_keys = sizeof admin_keys / sizeof admin_keys[0],
    .size = sizeof(cn_admin_config_t),
};

const cn_config_table_t *cn_admin_config_table(void)
{
    return &admin_table;
}
