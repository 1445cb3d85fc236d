/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A real Prometheus for the prometheus source's tests; see promserver.h. */
#include "promserver.h"
#include "judge/judge.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *exporter_main(void *arg)
{
    test_exporter_t *e = arg;
    while (!e->stop) {
        struct pollfd pfd = {e->fd, POLLIN, 0};
        if (poll(&pfd, 1, 100) <= 0)
            continue;
        int c = accept(e->fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[4096];
        size_t got = 0;
        while (got < sizeof req - 1) {
            ssize_t n = recv(c, req + got, sizeof req - 1 - got, 0);
            if (n <= 0)
                break;
            got += (size_t)n;
            req[got] = 0;
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        char *text = e->render(e->ctx);
        size_t cap = strlen(text) + 256;
        char *resp = malloc(cap);
        int len =
            snprintf(resp, cap,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(text), text);
        free(text);
        for (int off = 0; off < len;) {
            ssize_t n = send(c, resp + off, (size_t)(len - off), MSG_NOSIGNAL);
            if (n <= 0)
                break;
            off += (int)n;
        }
        free(resp);
        close(c);
    }
    return NULL;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port free right now (Prometheus cannot listen on port 0). */
static int free_port(void)
{
    int port;
    int fd = listen_any(&port);
    close(fd);
    return port;
}

void test_prom_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* GET a URL with curl(1)'s library through the source's own parser is
 * overkill here: /-/ready and the instant value use a raw socket. */
int test_http_get(int port, const char *path, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                     path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got < outlen - 1 && (r = recv(fd, out + got, outlen - 1 - got, 0)) > 0)
        got += (size_t)r;
    out[got] = 0;
    close(fd);
    return strncmp(out, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

void test_prom_start(test_prom_t *p, const char *targets)
{
    if (access("/usr/bin/prometheus", X_OK) != 0)
        cr_skip_test("Debian's prometheus is not installed (scripts/deps.sh --test)");
    snprintf(p->dir, sizeof p->dir, "/tmp/cn-prom-XXXXXX");
    cr_assert_not_null(mkdtemp(p->dir));
    char cfgpath[128], data[128];
    snprintf(cfgpath, sizeof cfgpath, "%s/prometheus.yml", p->dir);
    snprintf(data, sizeof data, "%s/data", p->dir);
    FILE *f = fopen(cfgpath, "w");
    char rules[PATH_MAX];
    cr_assert_not_null(realpath("contrib/prometheus/canary-rules.yml", rules));
    fprintf(f,
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "rule_files: ['%s']\n"
            "scrape_configs:\n"
            "  - job_name: model\n"
            "    static_configs: [{targets: [%s]}]\n",
            rules, targets);
    fclose(f);
    /* a free port can be taken before Prometheus binds it: try a few */
    for (int attempt = 0; attempt < 5; attempt++) {
        p->port = free_port();
        char cfgarg[160], dataarg[160], listen[64];
        snprintf(cfgarg, sizeof cfgarg, "--config.file=%s", cfgpath);
        snprintf(dataarg, sizeof dataarg, "--storage.tsdb.path=%s", data);
        snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", p->port);
        p->pid = fork();
        cr_assert_geq(p->pid, 0);
        if (p->pid == 0) {
            /* dies with the test: a failed assertion ends the test's
             * process before its stop, and Prometheus must not outlive it */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
            dup2(null, 2);
            execl("/usr/bin/prometheus", "prometheus", cfgarg, dataarg, listen,
                  "--log.level=error", (char *)NULL);
            _exit(127);
        }
        char buf[4096];
        for (int i = 0; i < 600; i++) { /* 30 s at most for a slow machine */
            if (test_http_get(p->port, "/-/ready", buf, sizeof buf) == 0)
                return;
            int st;
            if (waitpid(p->pid, &st, WNOHANG) == p->pid)
                break; /* it exited: the port was taken; another */
            test_prom_sleep_ms(50);
        }
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
    }
    cr_assert_fail("prometheus did not become ready");
}

void test_prom_stop(test_prom_t *p)
{
    kill(p->pid, SIGTERM);
    waitpid(p->pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", p->dir);
    cr_assert_eq(system(cmd), 0);
}

/* Wait until Prometheus's latest sample of `series` is `value` (it has
 * scraped the exposition's current text). */
void test_prom_wait_value(test_prom_t *p, const char *series_enc, const char *value)
{
    char path[512], buf[16384], want[64];
    snprintf(path, sizeof path, "/api/v1/query?query=%s", series_enc);
    snprintf(want, sizeof want, "\"%s\"]", value);
    for (int i = 0; i < 400; i++) {
        if (test_http_get(p->port, path, buf, sizeof buf) == 0 && strstr(buf, want))
            return;
        test_prom_sleep_ms(50);
    }
    cr_assert_fail("prometheus never saw %s = %s: %s", series_enc, value, buf);
}

/* Wait until `query` has an answer with at least one series. */
void test_prom_wait_series(test_prom_t *p, const char *query_enc)
{
    char path[512], buf[16384];
    snprintf(path, sizeof path, "/api/v1/query?query=%s", query_enc);
    for (int i = 0; i < 400; i++) {
        if (test_http_get(p->port, path, buf, sizeof buf) == 0 &&
            strstr(buf, "\"value\""))
            return;
        test_prom_sleep_ms(50);
    }
    cr_assert_fail("prometheus never answered %s: %s", query_enc, buf);
}

void test_exporter_start(test_exporter_t *e, char *(*render)(void *), void *ctx)
{
    memset(e, 0, sizeof *e);
    e->render = render;
    e->ctx = ctx;
    e->fd = listen_any(&e->port);
    cr_assert_eq(listen(e->fd, 16), 0);
    pthread_create(&e->thread, NULL, exporter_main, e);
}

void test_exporter_stop(test_exporter_t *e)
{
    if (!e->render)
        return;
    e->stop = 1;
    pthread_join(e->thread, NULL);
    close(e->fd);
    e->render = NULL;
}

/* The judge's data from a snapshot, as the driver builds it (window_data
 * in controller/driver.c): the reservoir when a cell has one, else its
 * bins; each arm's requests; the error counts when an error metric is
 * configured. */
void test_judge_snapshot(const cn_router_snapshot_t *s, const cn_judge_config_t *jc,
                         cn_judge_result_t *res)
{
    cn_judge_data_t *d = cn_judge_data_new();
    for (size_t i = 0; i < s->ncells; i++) {
        const cn_router_cell_t *c = &s->cells[i];
        if (strcmp(c->version, s->version_name[c->role]) != 0 || !c->step_requests)
            continue;
        cn_judge_arm_t arm = c->role == CN_ROLE_CANARY ? CN_ARM_CANARY : CN_ARM_STABLE;
        cr_assert_eq(cn_judge_data_set_requests(d, arm, NULL, c->step_requests), 0);
        if (cn_judge_config_wants(jc, "error"))
            cr_assert_eq(cn_judge_data_add_counts(d, "error", arm, NULL,
                                                  c->step_errors < c->step_requests
                                                      ? c->step_errors
                                                      : c->step_requests,
                                                  c->step_requests),
                         0);
        if (c->n_step_latency) {
            for (size_t k = 0; k < c->n_step_latency; k++)
                cr_assert_eq(cn_judge_data_add(d, "latency_ms", arm, NULL,
                                               c->step_latency_us[k] / 1000.0),
                             0);
        } else if (c->n_step_latency_bins) {
            double ms[64];
            cr_assert_leq(c->n_step_latency_bins, 64);
            for (size_t k = 0; k + 1 < c->n_step_latency_bins; k++)
                ms[k] = c->step_latency_bounds[k] / 1000.0;
            cr_assert_eq(cn_judge_data_add_bins(d, "latency_ms", arm, NULL, ms, 0,
                                                c->step_latency_bins,
                                                c->n_step_latency_bins),
                         0);
        }
    }
    cr_assert_eq(cn_judge_run(jc, d, NULL, res), 0);
    cn_judge_data_free(d);
}

void test_judge_config(cn_judge_config_t *jc, double latency_margin_ms,
                       double error_margin)
{
    cn_judge_config_init(jc);
    cn_judge_metric_t m;
    cn_judge_metric_init(&m);
    m.name = strdup("latency_ms");
    m.test = CN_JTEST_MWU;
    m.margin = latency_margin_ms;
    m.has_margin = 1;
    cn_judge_config_add_metric(jc, &m);
    if (error_margin > 0) {
        cn_judge_metric_init(&m);
        m.name = strdup("error");
        m.test = CN_JTEST_PROPORTION;
        m.margin = error_margin;
        m.has_margin = 1;
        cn_judge_config_add_metric(jc, &m);
    }
}
