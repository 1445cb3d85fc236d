/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * haproxy-driver: drives the HAProxy traffic engine (engines/haproxy.h)
 * directly, for the integration test and the benchmark that run it
 * against a real HAProxy (tests/integration/test_haproxy_engine.sh,
 * bench/haproxy.sh), the way the controller does: apply a generation,
 * renew.
 *
 *   haproxy-driver CONFIG.yaml      the file holds `haproxy: {...}`
 *
 * then one command per stdin line, one answer line each on stdout:
 *   apply N BP STABLE_VERSION ADDRS CANARY_VERSION ADDRS
 *        (ADDRS: host:port,host:port or - for none; BP: canary basis points)
 *     -> "applied N effective_bp=E step=S unix_ns=T0 us=D" (T0 the wall
 *        clock when apply started, D how long it took)
 *   renew
 *     -> "renewed reapplied=R deleted=K us=D"
 *   anything failing -> "error: MESSAGE"
 *   quit (or the end of the input): exits 0 (a process started meanwhile
 *   may hold the input pipe open, so the tests say quit).
 */
#include "engines/haproxy.h"
#include "types/types.h"
#include "util/config.h"
#include "util/error.h"
#include "util/file.h"
#include "util/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libfyaml.h>

static int64_t ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int load(const char *path, cn_haproxy_config_t *cfg, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int rc = cn_file_read(path, 1 << 20, &text, &len, err, errlen);
    if (rc)
        return rc;
    cn_config_init(&cn_haproxy_config_table, cfg);
    cn_yaml_t y;
    cn_yaml_init(&y, path, err, errlen);
    struct fy_document *doc = NULL;
    rc = cn_yaml_load(&y, text, len, &doc);
    struct fy_node *sec = NULL;
    int line = 0;
    if (!rc && doc)
        rc = cn_yaml_section(&y, fy_document_root(doc), "haproxy",
                             "socket, backend, ...", &sec, &line);
    if (!rc && !sec)
        rc = cn_fail(err, errlen, CN_EINVAL, "%s: no haproxy: section", path);
    if (!rc) {
        y.prefix = "haproxy.";
        cn_config_part_t part = {&cn_haproxy_config_table, cfg};
        rc = cn_config_read(&y, &part, 1, sec, line);
    }
    cn_yaml_dispose(&y);
    free(text);
    return rc;
}

static void set_of(cn_version_set_t *s, const char *version, char *addrs)
{
    cn_version_set_dispose(s);
    cn_version_set_init(s, version);
    if (strcmp(addrs, "-") == 0)
        return;
    for (char *save = NULL, *a = strtok_r(addrs, ",", &save); a;
         a = strtok_r(NULL, ",", &save))
        cn_version_set_add(s, a);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: haproxy-driver CONFIG.yaml\n");
        return 64;
    }
    char err[1024] = "";
    cn_haproxy_config_t cfg;
    if (load(argv[1], &cfg, err, sizeof err)) {
        fprintf(stderr, "haproxy-driver: %s\n", err);
        cn_haproxy_config_dispose(&cfg);
        return 65;
    }
    cn_haproxy_t *h = NULL;
    if (cn_haproxy_new(&cfg, &h, err, sizeof err)) {
        fprintf(stderr, "haproxy-driver: %s\n", err);
        cn_haproxy_config_dispose(&cfg);
        return 65;
    }
    cn_haproxy_config_dispose(&cfg);
    cn_traffic_engine_t *t = cn_haproxy_traffic(h);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char line[8192];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *f[8];
        int n = 0;
        for (char *save = NULL, *w = strtok_r(line, " ", &save); w && n < 8;
             w = strtok_r(NULL, " ", &save))
            f[n++] = w;
        if (n == 0)
            continue;
        err[0] = '\0';
        if (strcmp(f[0], "apply") == 0 && n == 7) {
            cn_generation_t g;
            cn_generation_init(&g);
            g.number = strtoull(f[1], NULL, 10);
            g.traffic.canary_weight_bp = (uint16_t)strtoul(f[2], NULL, 10);
            set_of(&g.sets[CN_ROLE_STABLE], f[3], f[4]);
            set_of(&g.sets[CN_ROLE_CANARY], f[5], f[6]);
            cn_traffic_applied_t out;
            int64_t wall = ns(CLOCK_REALTIME), t0 = ns(CLOCK_MONOTONIC);
            int rc = t->apply(t, &g, &out, err, sizeof err);
            int64_t us = (ns(CLOCK_MONOTONIC) - t0) / 1000;
            if (rc)
                printf("error: %s\n", err);
            else
                printf("applied %llu effective_bp=%u step=%llu unix_ns=%lld us=%lld\n",
                       (unsigned long long)out.generation,
                       (unsigned)out.effective_weight_bp,
                       (unsigned long long)out.step.number, (long long)wall,
                       (long long)us);
            cn_generation_dispose(&g);
        } else if (strcmp(f[0], "quit") == 0 && n == 1) {
            break;
        } else if (strcmp(f[0], "renew") == 0 && n == 1) {
            int64_t t0 = ns(CLOCK_MONOTONIC);
            int rc = t->renew(t, err, sizeof err);
            int64_t us = (ns(CLOCK_MONOTONIC) - t0) / 1000;
            cn_haproxy_counters_t c;
            cn_haproxy_counters(h, &c);
            if (rc)
                printf("error: %s\n", err);
            else
                printf("renewed reapplied=%llu deleted=%llu us=%lld\n",
                       (unsigned long long)c.reapplied, (unsigned long long)c.deleted,
                       (long long)us);
        } else {
            printf("error: expected 'apply N BP SV ADDRS CV ADDRS' or 'renew'\n");
        }
    }
    cn_haproxy_free(h);
    return 0;
}
