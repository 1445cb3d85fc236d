/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * remote-drive: the remote engine (engines/remote.h) driven from the
 * command line, as a controller would drive it: for the integration test
 * (tests/integration/test_remote.sh) and the rollback benchmark
 * (bench/remote.sh), where `canary control` is more than is needed.
 *
 *   remote-drive --replica URL [--replica URL]... [--lease D]
 *                [--renew-every D] [--controller NAME]
 *                --stable LABEL=ADDR[,ADDR...] --canary LABEL=ADDR[,ADDR...]
 *                COMMAND...
 *
 * Commands, run in order (the admin token is $CANARY_TOKEN):
 *   apply G W   apply generation G with canary weight W (basis points);
 *               prints "applied G START_NS END_NS" (CLOCK_REALTIME around
 *               the call) or "apply failed: ..." and exits 1
 *   read G      prints "read G STABLE CANARY NLAT" (the merged step's
 *               requests per role, and the canary's merged latency sample)
 *   renew       one renewal of every replica's lease
 *   sleep MS    wait
 *   hold        wait until killed (the heartbeat keeps the lease)
 */
#include "engines/remote.h"
#include "util/config.h"
#include "util/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "remote-drive: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(64);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* "v1=a:1,b:2" into s. */
static void parse_set(const char *text, cn_version_set_t *s)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text)
        fail("a set is LABEL=ADDR[,ADDR...], got '%s'", text);
    char label[CN_VERSION_LABEL_MAX + 1];
    snprintf(label, sizeof label, "%.*s", (int)(eq - text), text);
    cn_version_set_dispose(s);
    cn_version_set_init(s, label);
    char *list = strdup(eq + 1), *save = NULL;
    for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save))
        cn_version_set_add(s, a);
    free(list);
}

static uint64_t duration_ms(const char *text)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || v < 0)
        fail("a duration is N, Nms or Ns, got '%s'", text);
    return strcmp(end, "s") == 0 ? (uint64_t)(v * 1000) : (uint64_t)v;
}

static char *copy(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

int main(int argc, char **argv)
{
    cn_remote_config_t cfg;
    cn_config_init(&cn_remote_config_table, &cfg);
    cn_generation_t g;
    cn_generation_init(&g);
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *o = argv[i], *v = argv[i + 1];
        if (strcmp(o, "--replica") == 0) {
            cfg.replicas =
                realloc(cfg.replicas, (cfg.n_replicas + 1) * sizeof *cfg.replicas);
            memset(&cfg.replicas[cfg.n_replicas], 0, sizeof *cfg.replicas);
            cfg.replicas[cfg.n_replicas++].url = copy(v);
        } else if (strcmp(o, "--lease") == 0) {
            cfg.lease_ms = duration_ms(v);
        } else if (strcmp(o, "--renew-every") == 0) {
            cfg.renew_every_ms = duration_ms(v);
        } else if (strcmp(o, "--controller") == 0) {
            cfg.controller = copy(v);
        } else if (strcmp(o, "--stable") == 0) {
            parse_set(v, &g.sets[CN_ROLE_STABLE]);
        } else if (strcmp(o, "--canary") == 0) {
            parse_set(v, &g.sets[CN_ROLE_CANARY]);
        } else {
            fail("unknown option '%s'", o);
        }
    }
    char err[1024];
    cn_remote_t *e;
    if (cn_remote_new(&cfg, &e, err, sizeof err))
        fail("%s", err);
    int code = 0;
    for (; i < argc && !code; i++) {
        const char *c = argv[i];
        if (strcmp(c, "apply") == 0 && i + 2 < argc) {
            g.number = strtoull(argv[++i], NULL, 10);
            g.traffic.canary_weight_bp = (uint16_t)atoi(argv[++i]);
            cn_traffic_applied_t applied;
            uint64_t t0 = now_ns();
            int rc = e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err);
            uint64_t t1 = now_ns();
            if (rc) {
                printf("apply failed: %s\n", err);
                code = 1;
            } else {
                printf("applied %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", g.number, t0,
                       t1);
            }
        } else if (strcmp(c, "read") == 0 && i + 1 < argc) {
            cn_metrics_window_t w = {.kind = CN_WINDOW_GENERATION,
                                     .generation = strtoull(argv[++i], NULL, 10)};
            cn_router_snapshot_t *s;
            if (e->metrics.read(&e->metrics, &w,
                                CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_SAMPLES, &s,
                                err, sizeof err)) {
                printf("read failed: %s\n", err);
                code = 1;
                continue;
            }
            uint64_t req[2] = {0, 0};
            size_t nlat = 0;
            for (size_t k = 0; k < s->ncells; k++) {
                req[s->cells[k].role] += s->cells[k].step_requests;
                if (s->cells[k].role == CN_ROLE_CANARY)
                    nlat += s->cells[k].n_step_latency;
            }
            printf("read %" PRIu64 " %" PRIu64 " %" PRIu64 " %zu\n", w.generation,
                   req[0], req[1], nlat);
            e->metrics.release(&e->metrics, s);
        } else if (strcmp(c, "renew") == 0) {
            if (e->traffic.renew(&e->traffic, err, sizeof err)) {
                printf("renew failed: %s\n", err);
                code = 1;
            } else {
                printf("renewed\n");
            }
        } else if (strcmp(c, "sleep") == 0 && i + 1 < argc) {
            uint64_t ms = strtoull(argv[++i], NULL, 10);
            struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
            nanosleep(&ts, NULL);
        } else if (strcmp(c, "hold") == 0) {
            fflush(stdout);
            for (;;)
                pause();
        } else {
            fail("unknown command '%s' (apply G W, read G, renew, sleep MS, hold)", c);
        }
        fflush(stdout);
    }
    cn_remote_free(e);
    cn_remote_config_dispose(&cfg);
    cn_generation_dispose(&g);
    return code;
}
