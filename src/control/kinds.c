/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The kinds `canary control` drives (kinds.h). The built-in `none`
 * metrics source answers every window with an empty snapshot: a rollout
 * through an engine with no metrics source walks its set_weight and pause
 * steps, its triggers see nothing and its analyses are marginal for lack
 * of data (never a pass).
 */
#include "control/kinds.h"
#include "engines/gateway_api.h"
#include "engines/haproxy.h"
#include "engines/istio.h"
#include "engines/prometheus.h"
#include "engines/remote.h"
#include "router/router.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ none */

typedef struct none_config_s {
    int unused;
} none_config_t;

static const cn_config_table_t none_table = {
    .keys = NULL,
    .n_keys = 0,
    .size = sizeof(none_config_t),
};

typedef struct none_source_s {
    cn_metrics_source_t metrics;
} none_source_t;

static int none_read(cn_metrics_source_t *self, const cn_metrics_window_t *w,
                     unsigned mask, cn_router_snapshot_t **out, char *err,
                     size_t errlen)
{
    (void)self;
    (void)err;
    (void)errlen;
    cn_router_snapshot_t *s = cn_xcalloc(1, sizeof *s);
    s->what = mask;
    s->generation = w->kind == CN_WINDOW_GENERATION ? w->generation : 0;
    s->unmeasured = true;
    *out = s;
    return 0;
}

static void none_release(cn_metrics_source_t *self, cn_router_snapshot_t *s)
{
    (void)self;
    cn_router_snapshot_free(s);
}

static int none_open(const void *cfg, void **engine, char *err, size_t errlen)
{
    (void)cfg;
    (void)err;
    (void)errlen;
    none_source_t *n = cn_xcalloc(1, sizeof *n);
    n->metrics = (cn_metrics_source_t){"none", none_read, none_release, NULL};
    *engine = n;
    return 0;
}

static cn_metrics_source_t *none_metrics(void *engine)
{
    return &((none_source_t *)engine)->metrics;
}

static void none_close(void *engine)
{
    free(engine);
}

/* ------------------------------------------------ gateway_api, istio */

static int gateway_api_open(const void *cfg, void **engine, char *err, size_t errlen)
{
    cn_gateway_api_t *e = NULL;
    int rc = cn_gateway_api_new(cfg, &e, err, errlen);
    *engine = e;
    return rc;
}

static int istio_open(const void *cfg, void **engine, char *err, size_t errlen)
{
    cn_istio_t *e = NULL;
    int rc = cn_istio_new(cfg, &e, err, errlen);
    *engine = e;
    return rc;
}

static cn_traffic_engine_t *k8s_traffic(void *engine)
{
    return &((cn_k8s_engine_t *)engine)->traffic;
}

static void k8s_close(void *engine)
{
    cn_k8s_engine_free(engine);
}

/* ------------------------------------------------------------ prometheus */

static int prometheus_open(const void *cfg, void **engine, char *err, size_t errlen)
{
    return cn_prometheus_new(cfg, (cn_prometheus_t **)engine, err, errlen);
}

static cn_metrics_source_t *prometheus_metrics(void *engine)
{
    return cn_prometheus_metrics(engine);
}

static void prometheus_close(void *engine)
{
    cn_prometheus_free(engine);
}

/* ------------------------------------------------------------ haproxy */

static int haproxy_open(const void *cfg, void **engine, char *err, size_t errlen)
{
    return cn_haproxy_new(cfg, (cn_haproxy_t **)engine, err, errlen);
}

static cn_traffic_engine_t *haproxy_traffic(void *engine)
{
    return cn_haproxy_traffic(engine);
}

static void haproxy_close(void *engine)
{
    cn_haproxy_free(engine);
}

/* ------------------------------------------------------------ remote */

static int remote_open(const void *cfg, void **engine, char *err, size_t errlen)
{
    return cn_remote_new(cfg, (cn_remote_t **)engine, err, errlen);
}

static cn_traffic_engine_t *remote_traffic(void *engine)
{
    return &((cn_remote_t *)engine)->traffic;
}

static cn_metrics_source_t *remote_metrics(void *engine)
{
    return &((cn_remote_t *)engine)->metrics;
}

static void remote_close(void *engine)
{
    cn_remote_free(engine);
}

/* ------------------------------------------------------------ the table */

static const cn_control_kind_t kinds[] = {
    {.name = "none",
     .metrics = true,
     .table = &none_table,
     .config_size = sizeof(none_config_t),
     .open = none_open,
     .metrics_of = none_metrics,
     .close = none_close},
    {.name = "gateway_api",
     .traffic = true,
     .table = &cn_gateway_api_config_table,
     .config_size = sizeof(cn_gateway_api_config_t),
     .open = gateway_api_open,
     .traffic_of = k8s_traffic,
     .close = k8s_close},
    {.name = "istio",
     .traffic = true,
     .table = &cn_istio_config_table,
     .config_size = sizeof(cn_istio_config_t),
     .open = istio_open,
     .traffic_of = k8s_traffic,
     .close = k8s_close},
    {.name = "prometheus",
     .metrics = true,
     .table = &cn_prometheus_config_table,
     .config_size = sizeof(cn_prometheus_config_t),
     .open = prometheus_open,
     .metrics_of = prometheus_metrics,
     .close = prometheus_close},
    {.name = "haproxy",
     .traffic = true,
     .table = &cn_haproxy_config_table,
     .config_size = sizeof(cn_haproxy_config_t),
     .open = haproxy_open,
     .traffic_of = haproxy_traffic,
     .close = haproxy_close},
    {.name = "remote",
     .traffic = true,
     .table = &cn_remote_config_table,
     .config_size = sizeof(cn_remote_config_t),
     .open = remote_open,
     .traffic_of = remote_traffic,
     .metrics_of = remote_metrics,
     .close = remote_close},
};

const cn_control_kind_t *cn_control_kind(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strlen(kinds[i].name) == len && memcmp(kinds[i].name, name, len) == 0)
            return &kinds[i];
    return NULL;
}

const char *cn_control_kind_names(bool traffic, char *buf, size_t len)
{
    size_t n = 0, count = 0, total = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        total += traffic ? kinds[i].traffic : kinds[i].metrics;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && n < len; i++) {
        if (!(traffic ? kinds[i].traffic : kinds[i].metrics))
            continue;
        count++;
        const char *sep = count == 1 ? "" : count == total ? " or " : ", ";
        n += (size_t)snprintf(buf + n, len - n, "%s%s", sep, kinds[i].name);
    }
    if (!total)
        snprintf(buf, len, "(none built in)");
    return buf;
}
