/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The traffic and metrics interfaces (engine.h) over the built-in router:
 * apply is cn_router_publish (every worker has the generation when it
 * returns, so the effective weight is the desired one), read is a snapshot
 * of the current step.
 */
#include "controller/engine.h"
#include "util/error.h"

#include <stdio.h>

static int router_apply(cn_traffic_engine_t *self, const cn_generation_t *desired,
                        cn_traffic_applied_t *out, char *err, size_t errlen)
{
    cn_engine_router_t *e = (cn_engine_router_t *)self;
    cn_generation_t live;
    cn_generation_init(&live);
    cn_router_current(e->router, &live, &out->step);
    int rc = 0;
    /* Idempotent: the generation the router already runs changes nothing
     * (a restart re-applies what the state file holds). */
    if (live.number != desired->number)
        rc = cn_router_publish(e->router, desired, err, errlen);
    cn_generation_dispose(&live);
    if (rc)
        return rc;
    cn_generation_init(&live);
    cn_router_current(e->router, &live, &out->step);
    out->generation = live.number;
    out->effective_weight_bp = live.traffic.canary_weight_bp;
    cn_generation_dispose(&live);
    return 0;
}

static int router_renew(cn_traffic_engine_t *self, char *err, size_t errlen)
{
    (void)self;
    (void)err;
    (void)errlen;
    return 0; /* in-process: no lease */
}

static int router_read(cn_metrics_source_t *self, const cn_metrics_window_t *w,
                       unsigned mask, cn_router_snapshot_t **out, char *err,
                       size_t errlen)
{
    cn_engine_router_t *e =
        (cn_engine_router_t *)((char *)self - offsetof(cn_engine_router_t, metrics));
    *out = NULL;
    if (w->kind != CN_WINDOW_GENERATION)
        return cn_fail(err, errlen, CN_EINVAL,
                       "the built-in router keeps no time windows, only the "
                       "current generation's step");
    cn_router_snapshot_t *s = cn_router_snapshot(e->router, mask);
    if (!s)
        return cn_fail(err, errlen, CN_EIO, "the router is stopping");
    /* The snapshot says which generation it measured: checking after
     * taking it leaves no race with a publication in between. */
    if (s->generation != w->generation) {
        uint64_t now = s->generation;
        cn_router_snapshot_free(s);
        return cn_fail(err, errlen, CN_ENOTFOUND,
                       "generation %llu is no longer measured (the router runs "
                       "generation %llu; a step's samples live until the next)",
                       (unsigned long long)w->generation, (unsigned long long)now);
    }
    *out = s;
    return 0;
}

static void router_release(cn_metrics_source_t *self, cn_router_snapshot_t *s)
{
    (void)self;
    cn_router_snapshot_free(s);
}

void cn_engine_router_init(cn_engine_router_t *e, cn_router_t *router)
{
    e->traffic = (cn_traffic_engine_t){"router", router_apply, router_renew};
    e->metrics = (cn_metrics_source_t){"router", router_read, router_release, NULL};
    e->router = router;
}
