/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What gateway_api.c and istio.c share of their key tables: the keys of
 * reaching the API server and of the rule, written once (K8S_KEYS) for a
 * config struct that holds a cn_k8s_config_t named `k8s`. Private to the
 * engines module.
 */
#ifndef CN_ENGINES_K8S_INTERNAL_H
#define CN_ENGINES_K8S_INTERNAL_H

#include "engines/k8s.h"
#include "util/config.h"
#include "util/units.h"

#include <stdbool.h>
#include <stddef.h>

/* "must be an http:// or https:// URL" for api_server. */
int cn_k8s__check_url(const char *text, char *what, size_t len);
/* A Kubernetes object name (DNS-1123 subdomain). */
int cn_k8s__check_name(const char *text, char *what, size_t len);
/* The table check both kinds share: backends' addresses distinct. */
int cn_k8s__check(const cn_k8s_config_t *c, char *path, size_t pathlen, int *line,
                  char *what, size_t len);

#define CN_K8S__FIELD(rec, f)                                                          \
    .offset = offsetof(rec, k8s.f), .width = sizeof(((rec *)0)->k8s.f)

/* The keys every kind has, for config struct `rec`, its object's key
 * `route_key` (help `route_help`), the default API version and the
 * backends' table. */
#define CN_K8S__KEYS(rec, route_key, route_help, version, backend_table)               \
    {.key = "api_server",                                                              \
     .type = CN_CONFIG_STRING,                                                         \
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,                              \
     .check = cn_k8s__check_url,                                                       \
     .help = "the Kubernetes API server's URL; unset: https://$KUBERNETES_SERVICE_"    \
             "HOST:$KUBERNETES_SERVICE_PORT (in a pod)",                               \
     CN_K8S__FIELD(rec, api_server)},                                                  \
        {.key = "token_file",                                                          \
         .type = CN_CONFIG_STRING,                                                     \
         .kind = CN_CONFIG_FILE,                                                       \
         .default_text = CN_K8S_TOKEN_FILE,                                            \
         .help = "the service account's bearer token (read before each request)",      \
         CN_K8S__FIELD(rec, token_file)},                                              \
        {.key = "ca_file",                                                             \
         .type = CN_CONFIG_STRING,                                                     \
         .kind = CN_CONFIG_FILE,                                                       \
         .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,                          \
         .default_text = CN_K8S_CA_FILE,                                               \
         .help = "CA bundle that signed the API server's certificate; unset: the "     \
                 "system's",                                                           \
         CN_K8S__FIELD(rec, ca_file)},                                                 \
        {.key = "namespace",                                                           \
         .type = CN_CONFIG_STRING,                                                     \
         .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,                          \
         .check = cn_k8s__check_name,                                                  \
         .help = "the object's namespace; unset: the service account's",               \
         CN_K8S__FIELD(rec, namespace)},                                               \
        {.key = "api_version",                                                         \
         .type = CN_CONFIG_STRING,                                                     \
         .check = cn_k8s__check_name,                                                  \
         .default_text = version,                                                      \
         .help = "the API version the object is read and patched at",                  \
         CN_K8S__FIELD(rec, api_version)},                                             \
        {.key = route_key,                                                             \
         .type = CN_CONFIG_STRING,                                                     \
         .opts = CN_CONFIG_REQUIRED,                                                   \
         .check = cn_k8s__check_name,                                                  \
         .help = route_help,                                                           \
         CN_K8S__FIELD(rec, route)},                                                   \
        {.key = "rule",                                                                \
         .type = CN_CONFIG_UNSIGNED,                                                   \
         .lo = 0,                                                                      \
         .hi = 1023,                                                                   \
         .default_text = "0",                                                          \
         .help = "the index of the rule whose weights are set",                        \
         CN_K8S__FIELD(rec, rule)},                                                    \
        {.key = "rule_name",                                                           \
         .type = CN_CONFIG_STRING,                                                     \
         .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,                          \
         .help = "or the rule's name (overrides rule)",                                \
         CN_K8S__FIELD(rec, rule_name)},                                               \
        {.key = "backends",                                                            \
         .type = CN_CONFIG_LIST,                                                       \
         .table = backend_table,                                                       \
         .want = "a list of {address, ...} mappings",                                  \
         .help = "how a version's address maps to a backend of the rule; default: "    \
                 "svc:port is the Service svc, port port",                             \
         .offset = offsetof(rec, k8s.backends),                                        \
         .width = sizeof(cn_k8s_backend_t *),                                          \
         .count_offset = offsetof(rec, k8s.n_backends)},                               \
        {.key = "timeout",                                                             \
         .type = CN_CONFIG_DURATION,                                                   \
         .lo = 100,                                                                    \
         .hi = 5 * CN_UNITS_MINUTE_MS,                                                 \
         .default_text = "10s",                                                        \
         .help = "one request to the API server",                                      \
         CN_K8S__FIELD(rec, timeout_ms)},                                              \
    {                                                                                  \
        .key = "conflict_retries", .type = CN_CONFIG_UNSIGNED, .lo = 0, .hi = 100,     \
        .default_text = "5",                                                           \
        .help = "re-reads after a write conflict (another writer) before giving up",   \
        CN_K8S__FIELD(rec, conflict_retries)                                           \
    }

#endif
