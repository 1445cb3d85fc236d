/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `gateway_api` engine's key table and constructor (gateway_api.h);
 * the work is k8s_route.c's.
 */
#include "engines/gateway_api.h"
#include "engines/k8s_internal.h"

#include <stddef.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const cn_config_key_t backend_keys[] = {
    {.key = "address",
     .type = CN_CONFIG_ADDRESS,
     .opts = CN_CONFIG_REQUIRED,
     .help = "a version's address as registered (canary model register --upstream)",
     .offset = offsetof(cn_k8s_backend_t, address),
     .width = sizeof(char *)},
    {.key = "name",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .check = cn_k8s__check_name,
     .help = "the backendRef's name (a Service); unset: the address's host",
     .offset = offsetof(cn_k8s_backend_t, name),
     .width = sizeof(char *)},
    {.key = "port",
     .type = CN_CONFIG_UNSIGNED,
     .opts = CN_CONFIG_ZERO_UNSETS,
     .lo = 1,
     .hi = 65535,
     .help = "the backendRef's port; unset: the address's port",
     .offset = offsetof(cn_k8s_backend_t, port),
     .width = sizeof(uint32_t)},
};

static const cn_config_table_t backend_table = {
    .keys = backend_keys,
    .n_keys = COUNT(backend_keys),
    .size = sizeof(cn_k8s_backend_t),
    .line_at = CN_CONFIG_AT(cn_k8s_backend_t, line),
    .item_want = "a mapping with address, name, port",
};

static int check(const void *record, char *path, size_t pathlen, int *line, char *what,
                 size_t len)
{
    return cn_k8s__check(&((const cn_gateway_api_config_t *)record)->k8s, path, pathlen,
                         line, what, len);
}

static const cn_config_key_t keys[] = {
    CN_K8S__KEYS(cn_gateway_api_config_t, "httproute",
                 "the HTTPRoute's name (gateway.networking.k8s.io)", "v1",
                 &backend_table),
};

const cn_config_table_t cn_gateway_api_config_table = {
    .keys = keys,
    .n_keys = COUNT(keys),
    .size = sizeof(cn_gateway_api_config_t),
    .line_at = CN_CONFIG_AT(cn_gateway_api_config_t, k8s.line),
    .check = check,
};

void cn_gateway_api_config_dispose(cn_gateway_api_config_t *c)
{
    cn_config_dispose(&cn_gateway_api_config_table, c);
}

int cn_gateway_api_new(const cn_gateway_api_config_t *cfg, cn_gateway_api_t **out,
                       char *err, size_t errlen)
{
    return cn_k8s_engine_new(CN_K8S_GATEWAY_API, &cfg->k8s, out, err, errlen);
}

void cn_gateway_api_free(cn_gateway_api_t *e)
{
    cn_k8s_engine_free(e);
}
