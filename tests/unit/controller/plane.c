/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A real control plane for the tests; see plane.h. */
#include "plane.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void set(test_plane_t *p, const char *name, const char *value)
{
    char err[256];
    cr_assert_eq(cn_router_config_set_flag(&p->cfg, name, value, err, sizeof err), 0,
                 "--%s %s: %s", name, value, err);
}

void test_plane_start(test_plane_t *p, const char *const *flags, bool with_store)
{
    test_plane_start_engine(p, flags, with_store, NULL);
}

void test_plane_start_engine(test_plane_t *p, const char *const *flags, bool with_store,
                             cn_traffic_engine_t *engine)
{
    memset(p, 0, sizeof *p);
    cn_router_config_init(&p->cfg);
    set(p, "listen", "127.0.0.1:0");
    set(p, "stable", "127.0.0.1:1");
    set(p, "canary", "127.0.0.1:2");
    set(p, "stable-version", "v1");
    set(p, "canary-version", "v2");
    set(p, "canary-weight", "2.5");
    set(p, "shadow-percent", "100");
    set(p, "workers", "1");
    for (size_t i = 0; flags && flags[i]; i += 2)
        set(p, flags[i], flags[i + 1]);
    char err[512];
    cr_assert_eq(cn_router_config_validate(&p->cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_new(&p->cfg, &p->router, err, sizeof err), 0, "%s", err);
    if (with_store) {
        snprintf(p->dir, sizeof p->dir, "/tmp/cn-plane-XXXXXX");
        cr_assert_not_null(mkdtemp(p->dir));
        snprintf(p->state_path, sizeof p->state_path, "%s/state.db", p->dir);
        cr_assert_eq(cn_store_open(p->state_path, &p->store, err, sizeof err), 0, "%s",
                     err);
    }
    cn_generation_t g;
    cn_generation_init(&g);
    g.number = 1;
    g.traffic = p->cfg.traffic;
    const cn_router_addr_list_t *lists[2] = {&p->cfg.stable, &p->cfg.canary};
    const char *labels[2] = {p->cfg.stable_version, p->cfg.canary_version};
    for (int r = 0; r < 2; r++) {
        cn_version_set_dispose(&g.sets[r]);
        cn_version_set_init(&g.sets[r], labels[r]);
        for (size_t i = 0; i < lists[r]->count; i++)
            cn_version_set_add(&g.sets[r], lists[r]->items[i]);
    }
    p->log = tmpfile();
    cn_controller_config_t cc = {
        .router = p->router,
        .engine = engine,
        .store = p->store,
        .limits = {.sticky_key = p->cfg.sticky_header || p->cfg.sticky_cookie},
        .initial = &g,
        .log = p->log,
    };
    cr_assert_eq(cn_controller_new(&cc, &p->controller, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
}

void test_plane_stop(test_plane_t *p)
{
    cn_controller_free(p->controller);
    cn_router_free(p->router);
    cn_store_close(p->store);
    if (p->dir[0]) {
        char path[256];
        const char *suffixes[] = {"", "-wal", "-shm"};
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s%s", p->state_path, suffixes[i]);
            unlink(path);
        }
        rmdir(p->dir);
    }
    cn_router_config_dispose(&p->cfg);
    if (p->log)
        fclose(p->log);
    memset(p, 0, sizeof *p);
}

const char *test_plane_log(test_plane_t *p)
{
    static char buf[16384];
    fflush(p->log);
    rewind(p->log);
    size_t n = fread(buf, 1, sizeof buf - 1, p->log);
    buf[n] = '\0';
    return buf;
}

typedef struct waiter_s {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    cn_controller_result_t *out;
} waiter_t;

static void on_done(const cn_controller_result_t *r, void *arg)
{
    waiter_t *w = arg;
    pthread_mutex_lock(&w->mu);
    *w->out = *r;
    cn_generation_init(&w->out->generation);
    cn_generation_copy(&w->out->generation, &r->generation);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int test_plane_apply(test_plane_t *p, const cn_controller_change_t *change,
                     cn_controller_result_t *out)
{
    waiter_t w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, out};
    int rc = cn_controller_submit(p->controller, change, on_done, &w);
    if (rc)
        return rc;
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    return 0;
}
