/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The prometheus metrics source (engines/prometheus.{c,h}): the series
 * selectors it builds, the answers it parses, a counter's increase, the
 * config table; then against Debian's real Prometheus server, started by
 * the test on a free port with its data in a temporary directory and
 * scraping (every second) an exposition the test serves itself, in
 * canary serve's metric names: the window's counts per version and
 * segment, the latency bins de-cumulated from the `le` buckets, a series
 * born in the window, and no data (a version without series; Prometheus
 * down) ending as nodata rows and a marginal verdict, never a pass or a
 * fail.
 */
#include "promserver.h"
#include "engines/prometheus.h"
#include "judge/judge.h"
#include "util/clock.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------ pure pieces */

Test(prometheus, the_selector_merges_the_version_into_the_series_own_matchers)
{
    char out[256], err[128];
    cr_assert_eq(cn_prometheus_series_selector("canary_requests_total", "",
                                               "{job=\"model\",version=\"%s\"}", "v2",
                                               out, sizeof out, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(out, "canary_requests_total{job=\"model\",version=\"v2\"}");
    cr_assert_eq(cn_prometheus_series_selector("canary_responses_total{class=\"5xx\"}",
                                               "", "{version=\"%s\"}", "v\"2\\", out,
                                               sizeof out, err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(out,
                     "canary_responses_total{class=\"5xx\",version=\"v\\\"2\\\\\"}");
    cr_assert_eq(cn_prometheus_series_selector("lat_seconds", "_bucket",
                                               "{version=\"%s\"}", "v1", out,
                                               sizeof out, err, sizeof err),
                 0);
    cr_assert_str_eq(out, "lat_seconds_bucket{version=\"v1\"}");
    /* refused with a reason */
    cr_assert_eq(cn_prometheus_series_selector("x", "", "{version=\"v1\"}", "v1", out,
                                               sizeof out, err, sizeof err),
                 CN_EINVAL);
    cr_assert(strstr(err, "one %s"), "%s", err);
    cr_assert_eq(cn_prometheus_series_selector("x", "", "{a=\"%s\",b=\"%s\"}", "v1",
                                               out, sizeof out, err, sizeof err),
                 CN_EINVAL);
    cr_assert_eq(cn_prometheus_series_selector("x", "", "version=\"%s\"", "v1", out,
                                               sizeof out, err, sizeof err),
                 CN_EINVAL);
    cr_assert_eq(cn_prometheus_series_selector("rate(x[5m])", "", "{v=\"%s\"}", "v1",
                                               out, sizeof out, err, sizeof err),
                 CN_EINVAL);
    cr_assert_eq(cn_prometheus_series_selector("x", "", "{v=\"%s\"}", "v1", out, 8, err,
                                               sizeof err),
                 CN_ETOOBIG);
}

Test(prometheus, answers_parse_into_series_with_their_le_and_segment)
{
    const char *body =
        "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":["
        "{\"metric\":{\"le\":\"0.005\",\"segment\":\"eu\"},\"values\":[[10,\"3\"],[11,"
        "\"7\"]]},"
        "{\"metric\":{\"le\":\"+Inf\"},\"values\":[[10.5,\"NaN\"],[11.5,\"+Inf\"]]}]}}";
    cn_prometheus_result_t r;
    char err[256];
    cr_assert_eq(
        cn_prometheus_parse(body, strlen(body), "segment", &r, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.series[0].le, "0.005");
    cr_assert_str_eq(r.series[0].segment, "eu");
    cr_assert_eq(r.series[0].n, 2);
    cr_assert_eq(r.series[0].v[1], 7);
    cr_assert_null(r.series[1].segment);
    cr_assert(isnan(r.series[1].v[0]));
    cr_assert(isinf(r.series[1].v[1]));
    cn_prometheus_result_dispose(&r);

    const char *vec = "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                      "\"result\":[]}}";
    cr_assert_eq(cn_prometheus_parse(vec, strlen(vec), NULL, &r, err, sizeof err), 0);
    cr_assert_eq(r.n, 0);
    cn_prometheus_result_dispose(&r);

    const char *e =
        "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse "
        "error at char 3\"}";
    cr_assert_eq(cn_prometheus_parse(e, strlen(e), NULL, &r, err, sizeof err),
                 CN_EINVAL);
    cr_assert(strstr(err, "bad_data: parse error at char 3"), "%s", err);
    const char *bad[] = {"",
                         "{",
                         "[]",
                         "{\"status\":\"success\"}",
                         "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
                         "\"result\":[1,\"2\"]}}",
                         "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                         "\"result\":[{\"metric\":{},\"value\":[1,2]}]}}",
                         "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                         "\"result\":[{\"metric\":{},\"value\":[1,\"2x\"]}]}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        cr_assert_eq(
            cn_prometheus_parse(bad[i], strlen(bad[i]), NULL, &r, err, sizeof err),
            CN_EPARSE, "%s", bad[i]);
        cr_assert(err[0] && !strchr(err, '\n'));
        cr_assert_eq(r.n, 0);
    }
}

Test(prometheus, a_counter_increase_sums_rises_and_counts_a_reset_from_zero)
{
    const double t[] = {0, 1, 2, 3, 4, 5};
    const double v[] = {100, 110, NAN, 130, 5, 9}; /* reset between 130 and 5 */
    cr_assert_eq(cn_prometheus_increase(t, v, 6, 0.5), 30 + 5 + 4);
    /* born after the window's start: its first value counts */
    const double tb[] = {3, 4}, vb[] = {7, 9};
    cr_assert_eq(cn_prometheus_increase(tb, vb, 2, 0.5), 9);
    cr_assert_eq(cn_prometheus_increase(tb, vb, 2, 3.5), 2);
    const double vneg[] = {-1, INFINITY, 4};
    cr_assert_eq(cn_prometheus_increase(t, vneg, 3, -1), 4);
}

Test(prometheus, config_defaults_and_errors_name_the_key)
{
    cn_prometheus_config_t cfg;
    cn_prometheus_config_init(&cfg);
    cr_assert_str_eq(cfg.selector, "{version=\"%s\"}");
    cr_assert_str_eq(cfg.requests, "canary_requests_total");
    cr_assert_eq(cfg.errors.count, 2);
    cr_assert_str_eq(cfg.errors.items[0], "canary_responses_total{class=\"5xx\"}");
    cr_assert_str_eq(cfg.latency, "canary_request_duration_seconds");
    cr_assert_eq(cfg.step_ms, 5000);
    cn_prometheus_t *p;
    char err[512];
    cr_assert_eq(cn_prometheus_new(&cfg, &p, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "url"), "%s", err);
    cfg.url = strdup("http://127.0.0.1:9");
    free(cfg.selector);
    cfg.selector = strdup("{version=\"v1\"}");
    cr_assert_eq(cn_prometheus_new(&cfg, &p, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "selector"), "%s", err);
    cn_prometheus_config_dispose(&cfg);
}

Test(prometheus, the_shipped_recording_rules_pass_promtool)
{
    int st = system("promtool check rules contrib/prometheus/canary-rules.yml "
                    ">/dev/null 2>&1");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "promtool check rules contrib/prometheus/canary-rules.yml failed");
}

Test(prometheus, every_config_key_is_in_the_docs_table)
{
    FILE *f = fopen("docs/SCALE.md", "rb");
    cr_assert_not_null(f, "run from the repository root");
    static char text[262144];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *section = strstr(text, "## Prometheus as the metrics source");
    cr_assert_not_null(section);
    for (size_t i = 0; i < cn_prometheus_config_table.n_keys; i++) {
        char want[80];
        snprintf(want, sizeof want, "| `%s` |", cn_prometheus_config_table.keys[i].key);
        cr_expect_not_null(strstr(section, want), "key '%s' is not in SCALE.md's table",
                           cn_prometheus_config_table.keys[i].key);
    }
}

/* ----------------------------------------- a real Prometheus server */

/* The exposition the test serves, in canary serve's names. */
static pthread_mutex_t expo_mu = PTHREAD_MUTEX_INITIALIZER;
static char expo[8192];

static void set_expo(const char *text)
{
    pthread_mutex_lock(&expo_mu);
    snprintf(expo, sizeof expo, "%s", text);
    pthread_mutex_unlock(&expo_mu);
}

static char *render_expo(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&expo_mu);
    char *t = strdup(expo);
    pthread_mutex_unlock(&expo_mu);
    return t;
}

static const cn_router_cell_t *cell(const cn_router_snapshot_t *s, cn_role_t role,
                                    const char *segment)
{
    for (size_t i = 0; i < s->ncells; i++)
        if (s->cells[i].role == role && strcmp(s->cells[i].segment, segment) == 0)
            return &s->cells[i];
    return NULL;
}

#define EXPO_BEFORE                                                                    \
    "# TYPE canary_requests_total counter\n"                                           \
    "canary_requests_total{version=\"v1\",role=\"stable\",segment=\"eu\"} 100\n"       \
    "canary_requests_total{version=\"v1\",role=\"stable\",segment=\"us\"} 40\n"        \
    "canary_requests_total{version=\"v2\",role=\"canary\",segment=\"eu\"} 3\n"         \
    "# TYPE canary_responses_total counter\n"                                          \
    "canary_responses_total{version=\"v2\",role=\"canary\",segment=\"eu\",code="       \
    "\"503\","                                                                         \
    "class=\"5xx\"} 1\n"                                                               \
    "# TYPE canary_request_duration_seconds histogram\n"                               \
    "canary_request_duration_seconds_bucket{version=\"v2\",segment=\"eu\",le=\"0."     \
    "005\"} "                                                                          \
    "1\n"                                                                              \
    "canary_request_duration_seconds_bucket{version=\"v2\",segment=\"eu\",le=\"0."     \
    "01\"} "                                                                           \
    "2\n"                                                                              \
    "canary_request_duration_seconds_bucket{version=\"v2\",segment=\"eu\",le=\"+"      \
    "Inf\"} "                                                                          \
    "3\n"

/* After: v1 eu +50, v1 us +30; v2 eu +5 requests (+2 errors, its buckets
 * +1 / +4 / +5 cumulative), and v2's us series born with 7 requests. */
#define EXPO_AFTER                                                                     \
    "# TYPE canary_requests_total counter\n"                                           \
    "canary_requests_total{version=\"v1\",role=\"stable\",segment=\"eu\"} 150\n"       \
    "canary_requests_total{version=\"v1\",role=\"stable\",segment=\"us\"} 70\n"        \
    "canary_requests_total{version=\"v2\",role=\"canary\",segment=\"eu\"} 8\n"         \
    "canary_requests_total{version=\"v2\",role=\"canary\",segment=\"us\"} 7\n"         \
    "# TYPE canary_responses_total counter\n"                                          \
    "canary_responses_total{version=\"v2\",role=\"canary\",segment=\"eu\",code="       \
    "\"503\","                                                                         \
    "class=\"5xx\"} 3\n"                                                               \
    "# TYPE canary_request_duration_seconds histogram\n"                               \
    "canary_request_duration_seconds_bucket{version=\"v2\",segment=\"eu\",le=\"0."     \
    "005\"} "                                                                          \
    "2\n"                                                                              \
    "canary_request_duration_seconds_bucket{version=\"v2\",segment=\"eu\",le=\"0."     \
    "01\"} "                                                                           \
    "6\n"                                                                              \
    "canary_request_duration_seconds_bucket{version=\"v2\",segment=\"eu\",le=\"+"      \
    "Inf\"} "                                                                          \
    "8\n"

static void make_source(test_prom_t *prom, cn_prometheus_t **out, int port_override)
{
    cn_prometheus_config_t cfg;
    cn_prometheus_config_init(&cfg);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/",
             port_override ? port_override : prom->port);
    cfg.url = strdup(url);
    cfg.segment_label = strdup("segment");
    cfg.step_ms = 1000;
    cfg.timeout_ms = 2000;
    char err[512];
    cr_assert_eq(cn_prometheus_new(&cfg, out, err, sizeof err), 0, "%s", err);
    cn_prometheus_config_dispose(&cfg);
}

static void open_generation(cn_metrics_source_t *m, uint64_t number, const char *stable,
                            const char *canary, int64_t unix_ms)
{
    cn_generation_t g;
    cn_generation_init(&g);
    g.number = number;
    cn_version_set_dispose(&g.sets[CN_ROLE_STABLE]);
    cn_version_set_dispose(&g.sets[CN_ROLE_CANARY]);
    cn_version_set_init(&g.sets[CN_ROLE_STABLE], stable);
    cn_version_set_init(&g.sets[CN_ROLE_CANARY], canary);
    m->opened(m, &g, unix_ms);
    cn_generation_dispose(&g);
}

Test(prometheus, reads_a_window_from_a_real_prometheus_as_counts_and_bins,
     .timeout = 120)
{
    test_exporter_t e;
    set_expo(EXPO_BEFORE);
    test_exporter_start(&e, render_expo, NULL);
    test_prom_t prom;
    char target[32];
    snprintf(target, sizeof target, "'127.0.0.1:%d'", e.port);
    test_prom_start(&prom, target);
    const char *v1eu =
        "canary_requests_total%7Bversion%3D%22v1%22%2Csegment%3D%22eu%22%7D";
    test_prom_wait_value(&prom, v1eu, "100");

    cn_prometheus_t *src;
    make_source(&prom, &src, 0);
    cn_metrics_source_t *m = cn_prometheus_metrics(src);
    /* the step opens now, after Prometheus has the "before" values */
    int64_t opened_ms = cn_clock_unix_ms();
    open_generation(m, 7, "v1", "v2", opened_ms);
    test_prom_sleep_ms(1100);
    set_expo(EXPO_AFTER);
    test_prom_wait_value(&prom, v1eu, "150");
    const char *v2us =
        "canary_requests_total%7Bversion%3D%22v2%22%2Csegment%3D%22us%22%7D";
    test_prom_wait_value(&prom, v2us, "7");
    const char *v2b =
        "canary_request_duration_seconds_bucket%7Bversion%3D%22v2%22%2Cle%3D%"
        "22%2BInf%22%7D";
    test_prom_wait_value(&prom, v2b, "8");

    /* the shipped recording rules load and record (promtool checks them
     * below): the request rate and the p99 per version */
    test_prom_wait_series(
        &prom, "version_role_segment%3Acanary_requests%3Arate1m%7Bversion%3D%22v2%"
               "22%7D");
    test_prom_wait_series(
        &prom, "version_role_segment%3Acanary_request_duration_seconds%3Ap99_1m");

    cn_metrics_window_t w = {.kind = CN_WINDOW_GENERATION, .generation = 7};
    cn_router_snapshot_t *s;
    char err[512];
    cr_assert_eq(m->read(m, &w, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_SAMPLES, &s,
                         err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(s->generation, 7);
    cr_assert_str_eq(s->version_name[CN_ROLE_STABLE], "v1");
    cr_assert_str_eq(s->version_name[CN_ROLE_CANARY], "v2");
    cr_assert_eq(s->ncells, 4);
    const cn_router_cell_t *c;
    cr_assert_not_null(c = cell(s, CN_ROLE_STABLE, "eu"));
    cr_assert_eq(c->step_requests, 50, "%llu", (unsigned long long)c->step_requests);
    cr_assert_eq(c->requests, 150); /* the cumulative counter, instant query */
    cr_assert_str_eq(c->version, "v1");
    cr_assert_not_null(c = cell(s, CN_ROLE_STABLE, "us"));
    cr_assert_eq(c->step_requests, 30);
    cr_assert_not_null(c = cell(s, CN_ROLE_CANARY, "eu"));
    cr_assert_eq(c->step_requests, 5);
    cr_assert_eq(c->step_errors, 2);
    cr_assert_eq(c->n_step_latency_bins, 3);
    cr_assert_eq(c->step_latency_bounds[0], 5000); /* us */
    cr_assert_eq(c->step_latency_bounds[1], 10000);
    cr_assert_eq(c->step_latency_bins[0], 1);
    cr_assert_eq(c->step_latency_bins[1], 3);
    cr_assert_eq(c->step_latency_bins[2], 1);
    cr_assert_not_null(c = cell(s, CN_ROLE_CANARY, "us"));
    cr_assert_eq(c->step_requests, 7, "a series born in the window counts from 0");
    cr_assert_eq(c->n_step_latency_bins, 0);
    /* health as Prometheus sees it: both versions have fresh series */
    cr_assert_eq(s->nupstreams, 2);
    cr_assert(s->upstreams[CN_ROLE_CANARY].up && s->upstreams[CN_ROLE_CANARY].checked);
    cr_assert_str_eq(s->upstreams[CN_ROLE_CANARY].address, "v2");
    m->release(m, s);

    /* A time window [opened, now): the same counts (its points end at
     * `to` and start up to a step late, before the change here). */
    cn_metrics_window_t tw = {.kind = CN_WINDOW_TIME,
                              .from_unix_ms = opened_ms,
                              .to_unix_ms = cn_clock_unix_ms()};
    cr_assert_eq(m->read(m, &tw, CN_ROUTER_SNAP_COUNTERS, &s, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(cell(s, CN_ROLE_STABLE, "eu")->step_requests, 50);
    cr_assert_eq(cell(s, CN_ROLE_CANARY, "us")->step_requests, 7);
    m->release(m, s);

    /* The trigger's read (counters and histograms): no buckets asked. */
    cr_assert_eq(m->read(m, &w, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS, &s,
                         err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(cell(s, CN_ROLE_CANARY, "eu")->n_step_latency_bins, 0);
    cr_assert_eq(cell(s, CN_ROLE_CANARY, "eu")->step_requests, 5);
    m->release(m, s);

    /* No data: a generation whose canary has no series at all. The judge,
     * given what the driver gives it, finds no latency and no canary
     * requests: nodata rows and a marginal verdict, never pass or fail. */
    open_generation(m, 8, "v1", "v9", cn_clock_unix_ms() - 3000);
    w.generation = 8;
    cr_assert_eq(m->read(m, &w, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_SAMPLES, &s,
                         err, sizeof err),
                 0, "%s", err);
    cr_assert_null(cell(s, CN_ROLE_CANARY, "eu"));
    cr_assert(!s->upstreams[CN_ROLE_CANARY].up, "no series of v9: not up");
    cr_assert(s->upstreams[CN_ROLE_STABLE].up);
    cn_judge_config_t jc;
    test_judge_config(&jc, 5, 0.01);
    cn_judge_result_t res;
    test_judge_snapshot(s, &jc, &res);
    cr_assert_eq(res.verdict, CN_VERDICT_MARGINAL, "%s", res.reason);
    for (size_t i = 0; i < res.n_rows; i++)
        cr_assert_eq(res.rows[i].cls, CN_CLASS_NODATA, "%s: %s", res.rows[i].name,
                     res.rows[i].reason);
    cn_judge_result_dispose(&res);
    cn_judge_config_dispose(&jc);
    m->release(m, s);

    /* A generation never opened here: no window. */
    w.generation = 99;
    cr_assert_eq(m->read(m, &w, CN_ROUTER_SNAP_COUNTERS, &s, err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert(strstr(err, "generation 99"), "%s", err);
    /* A query Prometheus refuses: the read fails with its reason. */
    cn_prometheus_free(src);
    cn_prometheus_config_t cfg;
    cn_prometheus_config_init(&cfg);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", prom.port);
    cfg.url = strdup(url);
    free(cfg.requests);
    cfg.requests = strdup("canary_requests_total{version=~\"(\"}");
    cr_assert_eq(cn_prometheus_new(&cfg, &src, err, sizeof err), 0, "%s", err);
    cn_prometheus_config_dispose(&cfg);
    m = cn_prometheus_metrics(src);
    open_generation(m, 7, "v1", "v2", cn_clock_unix_ms() - 2000);
    w.generation = 7;
    int rc = m->read(m, &w, CN_ROUTER_SNAP_COUNTERS, &s, err, sizeof err);
    cr_assert_neq(rc, 0);
    cr_assert_null(s);
    cr_assert(strstr(err, "prometheus /api/v1/query_range"), "%s", err);
    cr_assert(strstr(err, "bad_data"), "%s", err);
    cn_prometheus_free(src);

    test_prom_stop(&prom);
    /* Prometheus gone: the read fails with the reason, nothing else. */
    make_source(&prom, &src, prom.port);
    m = cn_prometheus_metrics(src);
    open_generation(m, 7, "v1", "v2", cn_clock_unix_ms() - 2000);
    rc = m->read(m, &w, CN_ROUTER_SNAP_COUNTERS, &s, err, sizeof err);
    cr_assert_eq(rc, CN_EIO, "%s", err);
    cr_assert(strstr(err, "prometheus /api/v1/query_range"), "%s", err);
    cn_prometheus_free(src);
    test_exporter_stop(&e);
}
