/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary control` assembled (control.h): per model a scoped store handle,
 * a registry over it, its engines and its controller; one admin API in
 * front of them; the notifier; the signals; one exit that frees whatever
 * was built.
 *
 * Threads: this (main) thread runs the admin API's loop; each controller
 * has its own thread and loop; libuv's thread pool runs the engines'
 * blocking calls (apply, renew, read), the analyses and the store writes.
 */
#include "control/control.h"
#include "api/admin.h"
#include "controller/controller.h"
#include "metrics/prom.h"
#include "notify/notify.h"
#include "registry/registry.h"
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

/* One model's pieces, freed in reverse. */
typedef struct model_s {
    const cn_control_model_config_t *cfg;
    cn_store_t *store; /* scoped to the model */
    cn_registry_t *registry;
    void *traffic_engine, *metrics_engine; /* the kinds' objects */
    cn_traffic_engine_t *traffic;
    cn_metrics_source_t *metrics;
    cn_generation_t initial;
    cn_controller_t *controller;
} model_t;

/*
 * The generation a model starts with: what its row of the state file
 * holds (the split and the sets last applied), with the registry's sets
 * winning (its stable, and the candidate of its active rollout); a model
 * with no version yet gets the configured first stable version. Returns a
 * sysexits code.
 */
static int initial_generation(model_t *m, char *err, size_t errlen)
{
    char serr[512];
    const char *name = m->cfg->name;
    cn_generation_t *g = &m->initial;
    bool ht = false, hv = false;
    if (cn_store_load_generation(m->store, g, &ht, &hv, serr, sizeof serr)) {
        snprintf(err, errlen, "model '%s': %s", name, serr);
        return EX_DATAERR;
    }
    cn_version_set_t sets[CN_ROLE_COUNT];
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_init(&sets[r], "");
    int rc = cn_registry_sets(m->registry, name, sets, NULL, serr, sizeof serr);
    if ((rc == CN_ENOTFOUND || rc == CN_EINVAL) && m->cfg->has_stable) {
        const cn_control_stable_config_t *st = &m->cfg->stable;
        cn_registry_version_spec_t spec = {
            .model = name,
            .version = st->version,
            .addresses = (const char *const *)st->addresses.items,
            .n_addresses = st->addresses.count,
        };
        rc = cn_registry_first_stable(m->registry, &spec, "start", serr, sizeof serr);
        if (!rc) {
            fprintf(stderr,
                    "canary: model '%s' registered with its first version '%s' "
                    "(stable, %zu addresses) from the config\n",
                    name, st->version, st->addresses.count);
            rc = cn_registry_sets(m->registry, name, sets, NULL, serr, sizeof serr);
        }
    } else if (rc == CN_ENOTFOUND || rc == CN_EINVAL) {
        snprintf(serr, sizeof serr,
                 "no stable version in the registry, and none configured "
                 "(models[].stable: {version, addresses})");
    }
    if (rc) {
        snprintf(err, errlen, "model '%s': %s", name, serr);
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            cn_version_set_dispose(&sets[r]);
        return EX_DATAERR;
    }
    cn_version_set_copy(&g->sets[CN_ROLE_STABLE], &sets[CN_ROLE_STABLE]);
    if (sets[CN_ROLE_CANARY].count || !hv)
        cn_version_set_copy(&g->sets[CN_ROLE_CANARY], &sets[CN_ROLE_CANARY]);
    if (!hv && !ht)
        g->traffic.canary_weight_bp = 0;
    if (g->sets[CN_ROLE_CANARY].count == 0)
        g->traffic.canary_weight_bp = 0;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_dispose(&sets[r]);
    char weight[CN_FMT_BP_BUF];
    fprintf(stderr,
            "canary: model '%s': %s generation %llu: stable %s (%zu addresses), "
            "canary %s (%zu addresses) at %s\n",
            name, ht || hv ? "stored" : "new", (unsigned long long)g->number,
            g->sets[CN_ROLE_STABLE].version, g->sets[CN_ROLE_STABLE].count,
            g->sets[CN_ROLE_CANARY].version, g->sets[CN_ROLE_CANARY].count,
            cn_fmt_bp(g->traffic.canary_weight_bp, weight, sizeof weight));
    return 0;
}

static int open_engines(model_t *m, char *err, size_t errlen)
{
    const cn_control_engine_config_t *t = &m->cfg->traffic, *x = &m->cfg->metrics;
    char eerr[512];
    if (t->kind->open(t->config, &m->traffic_engine, eerr, sizeof eerr)) {
        snprintf(err, errlen, "model '%s': traffic engine %s: %s", m->cfg->name,
                 t->kind->name, eerr);
        return EX_USAGE;
    }
    m->traffic = t->kind->traffic_of(m->traffic_engine);
    if (!x->kind) {
        m->metrics = t->kind->metrics_of(m->traffic_engine);
        return 0;
    }
    if (x->kind->open(x->config, &m->metrics_engine, eerr, sizeof eerr)) {
        snprintf(err, errlen, "model '%s': metrics source %s: %s", m->cfg->name,
                 x->kind->name, eerr);
        return EX_USAGE;
    }
    m->metrics = x->kind->metrics_of(m->metrics_engine);
    return 0;
}

static void model_free(model_t *m)
{
    cn_controller_free(m->controller);
    if (m->metrics_engine)
        m->cfg->metrics.kind->close(m->metrics_engine);
    if (m->traffic_engine)
        m->cfg->traffic.kind->close(m->traffic_engine);
    cn_registry_free(m->registry);
    cn_store_close(m->store);
    cn_generation_dispose(&m->initial);
}

/* The notifier's counters, per target, for /metrics. */
static int ops_notify_metrics(void *ctx, cn_prom_writer_t *w)
{
    return cn_notify_write_metrics(ctx, w);
}

int cn_control_run(cn_control_config_t *cfg)
{
    char err[768] = "";
    int exit_code = 0;
    cn_store_t *store = NULL;
    cn_notify_t *notify = NULL;
    cn_admin_t *admin = NULL;
    model_t *models = cn_xcalloc(cfg->n_models, sizeof *models);
    char token[CN_ADMIN_TOKEN_MAX_BYTES + 1];
    bool generated = false;

    int rc = cn_admin_load_token(cfg->own.token_file, token, &generated, stderr, err,
                                 sizeof err);
    if (rc) {
        exit_code = rc == CN_EIO ? EX_NOINPUT : EX_DATAERR;
        goto out;
    }
    if (cn_store_open(cfg->store.path, &store, err, sizeof err)) {
        exit_code = EX_NOINPUT;
        goto out;
    }
    const cn_strategy_gates_t *gates = &cfg->strategy.gates;
    if (cfg->notify.n_targets || gates->has_traffic || gates->has_promotion) {
        if (cn_notify_config_load_secrets(&cfg->notify, err, sizeof err)) {
            exit_code = EX_NOINPUT;
            goto out;
        }
        if (cn_notify_new(&cfg->notify, store, stderr, &notify, err, sizeof err)) {
            exit_code = EX_UNAVAILABLE;
            goto out;
        }
    }
    cn_admin_ops_t ops = {
        .more_metrics = notify ? ops_notify_metrics : NULL,
        .more_ctx = notify,
    };
    rc = cn_admin_new(cfg->admin.address, token, &ops, NULL, &admin, err, sizeof err);
    if (rc) {
        exit_code = rc == CN_EIO ? EX_UNAVAILABLE : EX_USAGE;
        goto out;
    }
    cn_admin_set_store(admin, store);

    for (size_t i = 0; i < cfg->n_models; i++) {
        model_t *m = &models[i];
        m->cfg = &cfg->models[i];
        cn_generation_init(&m->initial);
        if (cn_store_open(cfg->store.path, &m->store, err, sizeof err) ||
            cn_store_scope_model(m->store, m->cfg->name, err, sizeof err)) {
            exit_code = EX_NOINPUT;
            goto out;
        }
        m->registry = cn_registry_new(m->store);
        if ((exit_code = initial_generation(m, err, sizeof err)) ||
            (exit_code = open_engines(m, err, sizeof err)))
            goto out;
        cn_controller_config_t ccfg = {
            .engine = m->traffic,
            .metrics = m->metrics,
            .store = m->store,
            .initial = &m->initial,
            .log = stderr,
            .registry = m->registry,
            .model = m->cfg->name,
            .strategy = &cfg->strategy,
            .analysis = &cfg->analysis,
            .notify = notify,
        };
        char cerr[512];
        if (cn_controller_new(&ccfg, &m->controller, cerr, sizeof cerr)) {
            snprintf(err, sizeof err, "model '%s': %s", m->cfg->name, cerr);
            exit_code = EX_DATAERR;
            goto out;
        }
        cn_admin_add_model(admin, m->cfg->name, m->controller, &cfg->strategy);
    }

    signal(SIGPIPE, SIG_IGN);
    g_admin = admin;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("admin on %s\n", cn_admin_address(admin));
    fflush(stdout);
    fprintf(stderr, "canary: controlling %zu model%s; admin on %s\n", cfg->n_models,
            cfg->n_models == 1 ? "" : "s", cn_admin_address(admin));
    if (generated)
        fprintf(stderr,
                "canary: no CANARY_TOKEN or token_file; admin token for this run: %s\n",
                token);
    cn_admin_run(admin);
    fprintf(stderr, "canary: stopping\n");

out:
    if (exit_code)
        fprintf(stderr, "canary control: %s\n", err);
    g_admin = NULL;
    cn_admin_free(admin);
    for (size_t i = 0; i < cfg->n_models; i++)
        if (models[i].controller)
            cn_controller_stop(models[i].controller);
    cn_notify_free(notify);
    for (size_t i = cfg->n_models; i-- > 0;)
        if (models[i].cfg)
            model_free(&models[i]);
    free(models);
    cn_store_close(store);
    memset(token, 0, sizeof token);
    return exit_code;
}
