/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The same window judged from Prometheus and from the router's own
 * snapshot reaches the same verdict. A real router (two workers) splits
 * requests 50/50 between two real model servers (build/model-server), each
 * request with its own delay (X-Delay-Ms, 2 to 12 ms); the router's
 * /metrics exposition (api/exposition.c, canary serve's text) is served to
 * Debian's real Prometheus, scraping every second; the prometheus source
 * reads the step's window from it. The router's snapshot gives the judge
 * per-request latencies (a reservoir), Prometheus gives buckets
 * (canary serve's: 0.5, 1, 2.5, 5, 10, 25, 50, 100 ms ...): the counts
 * must agree exactly, the verdicts must agree, and the differences in the
 * statistics are the binning's (both rows are printed). The last test
 * has Prometheus scrape the model servers' own /metrics instead (their
 * names, a histogram in ms: the source's selector, metric names and
 * latency_unit configured for them).
 */
#include "promserver.h"
#include "api/exposition.h"
#include "engines/prometheus.h"
#include "judge/judge.h"
#include "router/backend.h"
#include "router/router.h"
#include "util/clock.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static test_backend_t stable_b, canary_b;
static cn_router_config_t cfg;
static bool cfg_ready;
static cn_router_t *router;
static test_exporter_t exporter;
static test_prom_t prom;
static bool prom_up;

static void teardown(void)
{
    test_exporter_stop(&exporter);
    if (prom_up)
        test_prom_stop(&prom);
    prom_up = false;
    cn_router_free(router);
    router = NULL;
    if (cfg_ready)
        cn_router_config_dispose(&cfg);
    cfg_ready = false;
    test_backend_stop(&stable_b);
    test_backend_stop(&canary_b);
}

TestSuite(prometheus_router, .fini = teardown, .timeout = 180);

/* What GET /metrics of canary serve would answer now. */
static char *render_router(void *ctx)
{
    (void)ctx;
    cn_router_snapshot_t *s =
        cn_router_snapshot(router, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS);
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    if (s)
        cn_admin_exposition(s, &w);
    cn_router_snapshot_free(s);
    return cn_prom_take(&w, NULL);
}

/* Model servers named after their versions (their own metrics carry
 * model="v1" / "v2"), the router, and Prometheus scraping the router's
 * exposition or, with model_metrics, the model servers' own. */
static void start_all(const char *const *canary_args, bool model_metrics)
{
    signal(SIGPIPE, SIG_IGN);
    test_backend_start(&stable_b, "v1", NULL);
    test_backend_start(&canary_b, "v2", canary_args);
    cn_router_config_init(&cfg);
    cfg_ready = true;
    char err[300];
    const char *flags[] = {"listen",
                           "127.0.0.1:0",
                           "workers",
                           "2",
                           "stable",
                           stable_b.address,
                           "canary",
                           canary_b.address,
                           "stable-version",
                           "v1",
                           "canary-version",
                           "v2",
                           "canary-weight",
                           "50",
                           NULL};
    for (const char *const *f = flags; *f; f += 2)
        cr_assert_eq(cn_router_config_set_flag(&cfg, f[0], f[1], err, sizeof err), 0,
                     "%s", err);
    cr_assert_eq(cn_router_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_new(&cfg, &router, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_start(router, err, sizeof err), 0, "%s", err);
    char targets[160];
    if (model_metrics) {
        /* the model servers' own /metrics, not the router's */
        snprintf(targets, sizeof targets, "'%s', '%s'", stable_b.address,
                 canary_b.address);
    } else {
        test_exporter_start(&exporter, render_router, NULL);
        snprintf(targets, sizeof targets, "'127.0.0.1:%d'", exporter.port);
    }
    test_prom_start(&prom, targets);
    prom_up = true;
    test_prom_wait_value(&prom, "up", "1");
}

/* Requests through the router from a few client threads, request i with
 * a delay of 2 + (7 i mod 11) ms at the model server. */
#define CLIENTS 4
#define PER_CLIENT 80

static void *client_main(void *arg)
{
    size_t id = (size_t)arg;
    int fd = test_connect(cn_router_listen_address(router));
    if (fd < 0)
        return (void *)1;
    const char *body = strstr(test_model_request, "\r\n\r\n") + 4;
    size_t head_len = (size_t)(body - test_model_request) - 2; /* keep one CRLF */
    for (size_t i = 0; i < PER_CLIENT; i++) {
        char req[1024], resp[256];
        unsigned delay = 2 + (unsigned)((7 * (id * PER_CLIENT + i)) % 11);
        snprintf(req, sizeof req, "%.*sX-Delay-Ms: %u\r\n\r\n%s", (int)head_len,
                 test_model_request, delay, body);
        if (test_exchange(fd, req, resp, sizeof resp) != 200) {
            close(fd);
            return (void *)1;
        }
    }
    close(fd);
    return NULL;
}

static void send_load(void)
{
    pthread_t t[CLIENTS];
    for (size_t i = 0; i < CLIENTS; i++)
        pthread_create(&t[i], NULL, client_main, (void *)i);
    for (size_t i = 0; i < CLIENTS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        cr_assert_null(rc, "client %zu: a request failed", i);
    }
}

static uint64_t requests_of(const cn_router_snapshot_t *s, cn_role_t role)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->ncells; i++)
        if (s->cells[i].role == role)
            n += s->cells[i].step_requests;
    return n;
}

static void log_row(const char *source, const cn_judge_result_t *r)
{
    const cn_judge_row_t *w = &r->rows[0];
    cr_log_info("%-10s verdict %-8s n=%zu/%zu median %.4g/%.4g ms, effect %+.4g "
                "[%+.4g, %+.4g] ms, p_noninf %.3g, p_harm %.3g: %s",
                source, cn_judge_verdict_name(r->verdict), w->canary.n, w->stable.n,
                w->canary.median, w->stable.median, w->effect, w->ci_low, w->ci_high,
                w->p_noninf, w->p_harm, w->reason);
    printf("%-10s verdict %s; %s\n", source, cn_judge_verdict_name(r->verdict),
           w->reason);
}

/* Run one window and compare; returns the common verdict. */
static cn_verdict_t same_window(bool model_metrics)
{
    cn_prometheus_config_t pc;
    cn_prometheus_config_init(&pc);
    if (model_metrics) {
        /* a model server's own names, in ms */
        free(pc.selector);
        pc.selector = strdup("{job=\"model\",model=\"%s\"}");
        free(pc.requests);
        pc.requests = strdup("model_requests_total");
        for (size_t i = 0; i < pc.errors.count; i++)
            free(pc.errors.items[i]);
        pc.errors.count = 1;
        pc.errors.items[0] = strdup("model_request_errors_total");
        free(pc.latency);
        pc.latency = strdup("model_request_duration_milliseconds");
        pc.latency_unit_s = 0.001;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", prom.port);
    pc.url = strdup(url);
    pc.step_ms = 1000;
    cn_prometheus_t *src;
    char err[512];
    cr_assert_eq(cn_prometheus_new(&pc, &src, err, sizeof err), 0, "%s", err);
    cn_prometheus_config_dispose(&pc);
    cn_metrics_source_t *m = cn_prometheus_metrics(src);
    /* the step opens after Prometheus has seen the router with no
     * requests, and the controller tells the source so */
    cn_generation_t g;
    cn_generation_init(&g);
    cn_router_current(router, &g, NULL);
    m->opened(m, &g, cn_clock_unix_ms());
    test_prom_sleep_ms(1100);

    send_load();
    cn_router_snapshot_t *own = cn_router_snapshot(router, CN_ROUTER_SNAP_ALL);
    char v1[32], v2[32];
    snprintf(v1, sizeof v1, "%llu",
             (unsigned long long)requests_of(own, CN_ROLE_STABLE));
    snprintf(v2, sizeof v2, "%llu",
             (unsigned long long)requests_of(own, CN_ROLE_CANARY));
    const char *q1 = model_metrics
                         ? "sum(model_requests_total%7Bmodel%3D%22v1%22%7D)"
                         : "sum(canary_requests_total%7Bversion%3D%22v1%22%7D)";
    const char *q2 = model_metrics
                         ? "sum(model_requests_total%7Bmodel%3D%22v2%22%7D)"
                         : "sum(canary_requests_total%7Bversion%3D%22v2%22%7D)";
    test_prom_wait_value(&prom, q1, v1);
    test_prom_wait_value(&prom, q2, v2);

    cn_metrics_window_t w = {.kind = CN_WINDOW_GENERATION, .generation = g.number};
    cn_router_snapshot_t *ps;
    cr_assert_eq(m->read(m, &w, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_SAMPLES, &ps,
                         err, sizeof err),
                 0, "%s", err);
    /* the counts agree exactly, the latency's total too */
    for (int role = 0; role < 2; role++) {
        cr_assert_eq(requests_of(ps, (cn_role_t)role),
                     requests_of(own, (cn_role_t)role), "role %d", role);
        uint64_t binned = 0;
        for (size_t i = 0; i < ps->ncells; i++)
            if (ps->cells[i].role == (cn_role_t)role)
                for (size_t k = 0; k < ps->cells[i].n_step_latency_bins; k++)
                    binned += ps->cells[i].step_latency_bins[k];
        cr_assert_eq(binned, requests_of(own, (cn_role_t)role), "role %d", role);
    }

    cn_judge_config_t jc;
    test_judge_config(&jc, 20, 0);
    cn_judge_result_t r_own, r_prom;
    test_judge_snapshot(own, &jc, &r_own);
    test_judge_snapshot(ps, &jc, &r_prom);
    log_row("replicas", &r_own);
    log_row("prometheus", &r_prom);
    cr_assert(strstr(r_prom.rows[0].reason, "binned"), "%s", r_prom.rows[0].reason);
    /* the binned interval holds the per-request one's effect */
    cr_assert_leq(r_prom.rows[0].ci_low, r_own.rows[0].effect);
    cr_assert_geq(r_prom.rows[0].ci_high, r_own.rows[0].effect);
    cr_assert_eq(r_prom.verdict, r_own.verdict, "replicas: %s; prometheus: %s",
                 r_own.rows[0].reason, r_prom.rows[0].reason);
    cn_verdict_t v = r_own.verdict;
    cn_judge_result_dispose(&r_own);
    cn_judge_result_dispose(&r_prom);
    cn_judge_config_dispose(&jc);
    m->release(m, ps);
    cn_router_snapshot_free(own);
    cn_generation_dispose(&g);
    cn_prometheus_free(src);
    return v;
}

Test(prometheus_router, an_identical_canary_passes_from_both_sources)
{
    start_all(NULL, false);
    cr_assert_eq(same_window(false), CN_VERDICT_PASS);
}

Test(prometheus_router, a_canary_60_ms_slower_fails_from_both_sources)
{
    const char *slow[] = {"--delay-ms", "60", NULL};
    start_all(slow, false);
    cr_assert_eq(same_window(false), CN_VERDICT_FAIL);
}

Test(prometheus_router, from_the_model_servers_own_histograms_in_ms_the_same_verdicts)
{
    const char *slow[] = {"--delay-ms", "60", NULL};
    start_all(slow, true);
    cr_assert_eq(same_window(true), CN_VERDICT_FAIL);
}
