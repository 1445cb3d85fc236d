/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary serve` assembled (see server.h): the router, the state store,
 * the controller and the admin API wired together, the signals, one exit
 * that frees whatever was built.
 *
 * Threads: this (main) thread runs the admin API's loop; the controller
 * has its own thread and loop; the router has its workers and its health
 * thread; libuv's thread pool takes the admin API's snapshots and the
 * controller's publications and store writes.
 */
#include "server/server.h"
#include "api/admin.h"
#include "controller/controller.h"
#include "feedback/feedback.h"
#include "metrics/prom.h"
#include "notify/notify.h"
#include "registry/registry.h"
#include "router/router.h"
#include "store/store.h"
#include "util/error.h"
#include "util/fmt.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

static cn_admin_t *g_admin; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    if (g_admin)
        cn_admin_stop(g_admin);
}

/* ------------------------------------------------------------ admin ops */

static cn_router_snapshot_t *ops_snapshot(void *ctx, unsigned mask)
{
    return cn_router_snapshot(ctx, mask);
}

static void ops_snapshot_free(void *ctx, cn_router_snapshot_t *s)
{
    (void)ctx;
    cn_router_snapshot_free(s);
}

static int ops_lookup(void *ctx, const char *id, size_t len, cn_router_lookup_t *out)
{
    return cn_router_lookup(ctx, id, len, out);
}

static void ops_join(void *ctx, cn_router_join_t *items, size_t n, double not_before,
                     double *oldest)
{
    cn_router_join(ctx, items, n, not_before, oldest);
}

/* ------------------------------------------------------------ state */

/* The generation the config describes (g initialised). */
static void config_generation(const cn_router_config_t *cfg, cn_generation_t *g)
{
    g->number = 1;
    g->traffic = cfg->traffic;
    const cn_router_addr_list_t *lists[CN_ROLE_COUNT] = {&cfg->stable, &cfg->canary};
    const char *labels[CN_ROLE_COUNT] = {cfg->stable_version, cfg->canary_version};
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        cn_version_set_dispose(&g->sets[r]);
        cn_version_set_init(&g->sets[r], labels[r]);
        for (size_t i = 0; i < lists[r]->count; i++)
            cn_version_set_add(&g->sets[r], lists[r]->items[i]);
    }
}

/* "a:1,b:2": a list as the config's flags take it. */
static char *join_addresses(const cn_version_set_t *set)
{
    size_t len = 1;
    for (size_t i = 0; i < set->count; i++)
        len += strlen(set->addresses[i]) + 1;
    char *text = cn_xmalloc(len);
    text[0] = '\0';
    for (size_t i = 0; i < set->count; i++) {
        if (i)
            strcat(text, ",");
        strcat(text, set->addresses[i]);
    }
    return text;
}

/* Put the stored sets into the config, through its own flags (so they
 * are checked as a flag would be). */
static int sets_into_config(cn_router_config_t *cfg, const cn_generation_t *g,
                            char *err, size_t errlen)
{
    static const char *const list_flag[CN_ROLE_COUNT] = {"stable", "canary"};
    static const char *const label_flag[CN_ROLE_COUNT] = {"stable-version",
                                                          "canary-version"};
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        char *list = join_addresses(&g->sets[r]);
        int rc = cn_router_config_set_flag(cfg, list_flag[r], list, err, errlen);
        free(list);
        if (!rc)
            rc = cn_router_config_set_flag(cfg, label_flag[r], g->sets[r].version, err,
                                           errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * The rule at start: what the state file holds wins over the config file
 * and the flags, for the split and for the version sets alike. A restart
 * must come back to what was last published (after a rollback, the split;
 * after a swap or a promotion, the sets), not to what the config said
 * before the run. A file with nothing saved gets the configured generation,
 * so that from then on it holds the truth. Returns a sysexits code; fills
 * *g with the generation to start with.
 */
static int restore_state(cn_store_t *store, const char *path, cn_router_config_t *cfg,
                         cn_generation_t *g, char *err, size_t errlen)
{
    char serr[512];
    bool has_traffic = false, has_versions = false;
    config_generation(cfg, g);
    cn_generation_t configured;
    cn_generation_init(&configured);
    cn_generation_copy(&configured, g);
    int code = 0;
    if (cn_store_load_generation(store, g, &has_traffic, &has_versions, serr,
                                 sizeof serr)) {
        snprintf(err, errlen, "%s", serr);
        code = EX_DATAERR;
        goto out;
    }
    if (!has_traffic && !has_versions) {
        g->number = 1;
        if (cn_store_save_generation(store, g, "start", serr, sizeof serr)) {
            snprintf(err, errlen, "%s", serr);
            code = EX_NOINPUT;
        }
        goto out;
    }
    cfg->traffic = g->traffic;
    if ((has_versions && sets_into_config(cfg, g, serr, sizeof serr)) ||
        cn_router_config_validate(cfg, serr, sizeof serr)) {
        snprintf(err, errlen, "the state stored in %s does not fit this config: %s",
                 path, serr);
        code = EX_DATAERR;
        goto out;
    }
    const cn_traffic_t *t = &g->traffic;
    char weight[CN_FMT_BP_BUF];
    fprintf(stderr, "canary: traffic restored from %s: canary %s, mode %s\n", path,
            cn_fmt_bp(t->canary_weight_bp, weight, sizeof weight),
            cn_traffic_mode_name(t->mode));
    if (has_versions) {
        bool differ = false;
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            differ = differ || !cn_version_set_equal(&g->sets[r], &configured.sets[r]);
        fprintf(stderr,
                "canary: versions restored from %s (generation %llu): stable %s (%zu "
                "addresses), canary %s (%zu addresses)%s\n",
                path, (unsigned long long)g->number, g->sets[CN_ROLE_STABLE].version,
                g->sets[CN_ROLE_STABLE].count, g->sets[CN_ROLE_CANARY].version,
                g->sets[CN_ROLE_CANARY].count,
                differ ? "; the config's differ, and the state wins" : "");
    }
out:
    cn_generation_dispose(&configured);
    return code;
}

/* ------------------------------------------------------------ registry */

/*
 * Which model this serve fronts: the configured one, or the only
 * registered model. *model is "" when there is none to front (no model
 * configured and zero or several registered): rollouts are then off.
 */
static int pick_model(cn_registry_t *reg, const char *configured, char *model,
                      size_t len, char *err, size_t errlen)
{
    model[0] = '\0';
    if (configured) {
        snprintf(model, len, "%s", configured);
        return 0;
    }
    cn_store_model_t ms[2];
    size_t n = 0;
    char serr[512];
    if (cn_registry_list_models(reg, NULL, ms, 2, &n, serr, sizeof serr)) {
        snprintf(err, errlen, "%s", serr);
        return EX_DATAERR;
    }
    if (n == 1)
        snprintf(model, len, "%s", ms[0].name);
    else if (n > 1)
        fprintf(stderr, "canary: the registry holds several models and no model is "
                        "configured (--model): rollouts are off\n");
    return 0;
}

/*
 * The registry owns the version sets of the model this serve fronts: its
 * stable version (and the candidate of its active rollout) are what the
 * router runs, whatever the config or the flags say. A model with no
 * version yet gets the configured stable set as its first version, tagged
 * stable (the flags fill an empty registry). Returns a sysexits code.
 */
static int registry_generation(cn_registry_t *reg, const char *model,
                               cn_router_config_t *cfg, cn_generation_t *g, char *err,
                               size_t errlen)
{
    char serr[512];
    cn_version_set_t sets[CN_ROLE_COUNT];
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_init(&sets[r], "");
    int rc = cn_registry_sets(reg, model, sets, NULL, serr, sizeof serr);
    if (rc == CN_ENOTFOUND || rc == CN_EINVAL) {
        /* an unknown model, or one with no version: fill it from the config */
        const cn_version_set_t *st = &g->sets[CN_ROLE_STABLE];
        cn_registry_version_spec_t spec = {
            .model = model,
            .version = st->version,
            .addresses = (const char *const *)st->addresses,
            .n_addresses = st->count,
        };
        rc = cn_registry_first_stable(reg, &spec, "start", serr, sizeof serr);
        if (rc) {
            snprintf(err, errlen,
                     "model '%s': the config's stable set cannot be "
                     "registered: %s",
                     model, serr);
            rc = EX_DATAERR;
        } else {
            fprintf(stderr,
                    "canary: model '%s' registered with its first version '%s' "
                    "(stable, %zu addresses) from the config\n",
                    model, st->version, st->count);
        }
        goto out;
    }
    if (rc) {
        snprintf(err, errlen, "%s", serr);
        rc = EX_DATAERR;
        goto out;
    }
    bool differ = false;
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        if (r == CN_ROLE_CANARY && sets[r].count == 0)
            continue; /* no active rollout: the canary set stays as it is */
        if (!cn_version_set_equal(&sets[r], &g->sets[r])) {
            differ = true;
            cn_version_set_copy(&g->sets[r], &sets[r]);
        }
    }
    if (differ) {
        if (sets_into_config(cfg, g, serr, sizeof serr) ||
            cn_router_config_validate(cfg, serr, sizeof serr)) {
            snprintf(err, errlen,
                     "model '%s': the registry's versions do not fit this "
                     "config: %s",
                     model, serr);
            rc = EX_DATAERR;
            goto out;
        }
        fprintf(stderr,
                "canary: model '%s': the registry's versions win: stable %s (%zu "
                "addresses)%s%s\n",
                model, g->sets[CN_ROLE_STABLE].version, g->sets[CN_ROLE_STABLE].count,
                sets[CN_ROLE_CANARY].count ? ", canary " : "",
                sets[CN_ROLE_CANARY].count ? sets[CN_ROLE_CANARY].version : "");
    }
    rc = 0;
out:
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_dispose(&sets[r]);
    return rc;
}

/* The notifier's counters, per target, for /metrics. */
static int ops_notify_metrics(void *ctx, cn_prom_writer_t *w)
{
    return cn_notify_write_metrics(ctx, w);
}

/* ------------------------------------------------------------ run */

int cn_server_run(cn_server_config_t *scfg)
{
    char err[768] = "";
    int exit_code = 0;
    cn_store_t *store = NULL;
    cn_router_t *router = NULL;
    cn_feedback_t *feedback = NULL;
    cn_controller_t *controller = NULL;
    cn_admin_t *admin = NULL;
    cn_registry_t *registry = NULL;
    cn_notify_t *notify = NULL;
    char model[CN_STORE_NAME_MAX + 1] = "";
    cn_generation_t initial;
    cn_generation_init(&initial);
    char token[CN_ADMIN_TOKEN_MAX_BYTES + 1];
    bool generated = false;
    cn_router_config_t *cfg = &scfg->router;

    int rc = cn_admin_load_token(scfg->own.token_file, token, &generated, stderr, err,
                                 sizeof err);
    if (rc) {
        exit_code = rc == CN_EIO ? EX_NOINPUT : EX_DATAERR;
        goto out;
    }
    if (scfg->store.path) {
        if (cn_store_open(scfg->store.path, &store, err, sizeof err)) {
            exit_code = EX_NOINPUT;
            goto out;
        }
        exit_code =
            restore_state(store, scfg->store.path, cfg, &initial, err, sizeof err);
        if (exit_code)
            goto out;
        registry = cn_registry_new(store);
        exit_code =
            pick_model(registry, scfg->own.model, model, sizeof model, err, sizeof err);
        if (!exit_code && model[0])
            exit_code =
                registry_generation(registry, model, cfg, &initial, err, sizeof err);
        if (exit_code)
            goto out;
    } else {
        config_generation(cfg, &initial);
    }

    rc = cn_router_new(cfg, &router, err, sizeof err);
    if (rc) {
        exit_code = rc == CN_EIO ? EX_UNAVAILABLE : EX_USAGE;
        goto out;
    }
    feedback = cn_feedback_new(&scfg->feedback, cfg->reservoir_size, 0x5eedfeedULL);
    const cn_strategy_gates_t *gates = &scfg->strategy.gates;
    if (scfg->notify.n_targets ||
        (scfg->has_strategy && (gates->has_traffic || gates->has_promotion))) {
        if (cn_notify_config_load_secrets(&scfg->notify, err, sizeof err)) {
            exit_code = EX_NOINPUT;
            goto out;
        }
        if (scfg->notify.n_targets && !store)
            fprintf(stderr, "canary: notifications: no state file (--state), so no "
                            "rollouts and no events to send\n");
        if (cn_notify_new(&scfg->notify, store, stderr, &notify, err, sizeof err)) {
            exit_code = EX_UNAVAILABLE;
            goto out;
        }
    }
    cn_controller_config_t ccfg = {
        .router = router,
        .store = store,
        .limits = {.sticky_key = cfg->sticky_header || cfg->sticky_cookie},
        .initial = &initial,
        .log = stderr,
        .registry = registry,
        .model = model[0] ? model : NULL,
        .strategy = scfg->has_strategy ? &scfg->strategy : NULL,
        .analysis = &scfg->analysis,
        .feedback = feedback,
        .notify = notify,
    };
    if (model[0] && !scfg->has_strategy)
        fprintf(stderr,
                "canary: model '%s': no strategy: section, so no rollouts "
                "(the registry and manual changes work)\n",
                model);
    if (cn_controller_new(&ccfg, &controller, err, sizeof err)) {
        exit_code = EX_DATAERR;
        goto out;
    }
    cn_admin_ops_t ops = {
        .snapshot = ops_snapshot,
        .snapshot_free = ops_snapshot_free,
        .lookup = ops_lookup,
        .join = ops_join,
        .ctx = router,
        .more_metrics = notify ? ops_notify_metrics : NULL,
        .more_ctx = notify,
    };
    rc = cn_admin_new(scfg->admin.address, token, &ops, controller, &admin, err,
                      sizeof err);
    if (rc) {
        exit_code = rc == CN_EIO ? EX_UNAVAILABLE : EX_USAGE;
        goto out;
    }
    cn_admin_set_store(admin, store);
    cn_admin_set_feedback(admin, feedback);
    cn_admin_set_lease(admin, scfg->own.lease_ms);
    cn_admin_set_rollouts(admin, model[0] ? model : NULL,
                          scfg->has_strategy ? &scfg->strategy : NULL);

    signal(SIGPIPE, SIG_IGN);
    g_admin = admin;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (cn_router_start(router, err, sizeof err)) {
        exit_code = EX_SOFTWARE;
        goto out;
    }
    const cn_traffic_t *t = &initial.traffic;
    char weight[CN_FMT_BP_BUF];
    printf("listening on %s\nadmin on %s\n", cn_router_listen_address(router),
           cn_admin_address(admin));
    fflush(stdout);
    fprintf(stderr,
            "canary: serving on %s with %u workers; admin on %s; canary %s, mode %s\n",
            cn_router_listen_address(router), cn_router_workers(router),
            cn_admin_address(admin),
            cn_fmt_bp(t->canary_weight_bp, weight, sizeof weight),
            cn_traffic_mode_name(t->mode));
    if (generated)
        fprintf(
            stderr,
            "canary: no CANARY_TOKEN or --token-file; admin token for this run: %s\n",
            token);
    cn_admin_run(admin);
    fprintf(stderr, "canary: stopping\n");

out:
    if (exit_code)
        fprintf(stderr, "canary serve: %s\n", err);
    g_admin = NULL;
    /* Reverse order of building: the admin API owes no answer once it has
     * returned from run (or never ran); the controller finishes what it
     * has; then the data plane drains. */
    cn_admin_free(admin);
    /* the notifier answers its gates in flight into the controller's
     * queue, which refuses them once stopped: stop, then free it */
    if (controller)
        cn_controller_stop(controller);
    cn_notify_free(notify);
    cn_controller_free(controller);
    cn_router_free(router);
    cn_feedback_free(feedback);
    cn_registry_free(registry);
    cn_store_close(store);
    cn_generation_dispose(&initial);
    memset(token, 0, sizeof token);
    return exit_code;
}
