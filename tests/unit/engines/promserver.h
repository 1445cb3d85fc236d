/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A real Prometheus for the prometheus source's tests: Debian's
 * /usr/bin/prometheus started on a free port (it cannot listen on port 0)
 * with its data in a temporary directory, scraping every second an
 * exposition the test serves from a thread (what render() returns on each
 * scrape), and loading contrib/prometheus/canary-rules.yml.
 */
#ifndef CN_TEST_PROMSERVER_H
#define CN_TEST_PROMSERVER_H

#include "judge/judge.h"
#include "router/router.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct test_exporter_s {
    int fd, port;
    volatile int stop;
    pthread_t thread;
    char *(*render)(void *ctx); /* a malloc'd exposition, per scrape */
    void *ctx;
} test_exporter_t;

/* Listen on 127.0.0.1:0 and serve render()'s text to every GET. */
void test_exporter_start(test_exporter_t *e, char *(*render)(void *), void *ctx);
void test_exporter_stop(test_exporter_t *e);

typedef struct test_prom_s {
    pid_t pid;
    int port;
    char dir[64];
} test_prom_t;

/* Start Prometheus scraping every second the targets (a YAML flow list's
 * items: "'127.0.0.1:1', '127.0.0.1:2'") as job "model"; skips the test
 * when /usr/bin/prometheus is absent; waits until it is ready. */
void test_prom_start(test_prom_t *p, const char *targets);
void test_prom_stop(test_prom_t *p);

/* GET path from the Prometheus (or any 127.0.0.1 port); 0 on a 200. */
int test_http_get(int port, const char *path, char *out, size_t outlen);

/* Wait until the instant query (URL-encoded) answers a sample `value`. */
void test_prom_wait_value(test_prom_t *p, const char *query_enc, const char *value);

/* Wait until the instant query (URL-encoded) answers at least one series. */
void test_prom_wait_series(test_prom_t *p, const char *query_enc);

void test_prom_sleep_ms(long ms);

/* A judge config with latency_ms (mann-whitney, margin in ms) and, when
 * error_margin > 0, error (proportion). Dispose it. */
void test_judge_config(cn_judge_config_t *jc, double latency_margin_ms,
                       double error_margin);

/* Judge a snapshot's step as the driver would (controller/driver.c's
 * window_data): each cell of the current versions with requests, its
 * latency reservoir or else its bins (us edges in ms), its error counts. */
void test_judge_snapshot(const cn_router_snapshot_t *s, const cn_judge_config_t *jc,
                         cn_judge_result_t *res);

#endif
