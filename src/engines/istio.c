/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `istio` engine's key table and constructor (istio.h); the work is
 * k8s_route.c's.
 */
#include "engines/istio.h"
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
    {.key = "host",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .check = cn_k8s__check_name,
     .help = "the destination's host (a short name matches its FQDN too); unset: "
             "the address's host",
     .offset = offsetof(cn_k8s_backend_t, name),
     .width = sizeof(char *)},
    {.key = "port",
     .type = CN_CONFIG_UNSIGNED,
     .opts = CN_CONFIG_ZERO_UNSETS,
     .lo = 1,
     .hi = 65535,
     .help = "the destination's port number; unset: the address's port",
     .offset = offsetof(cn_k8s_backend_t, port),
     .width = sizeof(uint32_t)},
    {.key = "subset",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .check = cn_k8s__check_name,
     .help = "the destination's subset (a DestinationRule's); unset: none",
     .offset = offsetof(cn_k8s_backend_t, subset),
     .width = sizeof(char *)},
};

static const cn_config_table_t backend_table = {
    .keys = backend_keys,
    .n_keys = COUNT(backend_keys),
    .size = sizeof(cn_k8s_backend_t),
    .line_at = CN_CONFIG_AT(cn_k8s_backend_t, line),
    .item_want = "a mapping with address, host, port, subset",
};

static int check(const void *record, char *path, size_t pathlen, int *line, char *what,
                 size_t len)
{
    return cn_k8s__check(&((const cn_istio_config_t *)record)->k8s, path, pathlen, line,
                         what, len);
}

static const cn_config_key_t keys[] = {
    CN_K8S__KEYS(cn_istio_config_t, "virtual_service",
                 "the VirtualService's name (networking.istio.io)", "v1beta1",
                 &backend_table),
};

const cn_config_table_t cn_istio_config_table = {
    .keys = keys,
    .n_keys = COUNT(keys),
    .size = sizeof(cn_istio_config_t),
    .line_at = CN_CONFIG_AT(cn_istio_config_t, k8s.line),
    .check = check,
};

void cn_istio_config_dispose(cn_istio_config_t *c)
{
    cn_config_dispose(&cn_istio_config_table, c);
}

int cn_istio_new(const cn_istio_config_t *cfg, cn_istio_t **out, char *err,
                 size_t errlen)
{
    return cn_k8s_engine_new(CN_K8S_ISTIO, &cfg->k8s, out, err, errlen);
}

void cn_istio_free(cn_istio_t *e)
{
    cn_k8s_engine_free(e);
}
