/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Kubernetes traffic engines (engines/k8s.h, gateway_api.h, istio.h):
 * the weights and the JSON Patch they plan from an object (pure), their
 * config tables, and apply / renew against the fake API server of the
 * integration tests (tests/integration/fake_kube_api.py, a real process
 * speaking HTTP): read back weights, conflicts retried, errors in the
 * API's words, drift repaired.
 */
#include "engines/gateway_api.h"
#include "engines/istio.h"
#include "engines/k8s.h"
#include "util/config.h"
#include "util/error.h"
#include "util/yaml.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libfyaml.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------ shares */

Test(k8s_share, gateway_api_is_exact_to_the_basis_point)
{
    uint32_t total = 0;
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_GATEWAY_API, 0, &total), 0);
    cr_assert_eq(total, 1000000);
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_GATEWAY_API, 1, &total), 100);
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_GATEWAY_API, 500, &total), 50000);
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_GATEWAY_API, 1250, &total), 125000);
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_GATEWAY_API, 10000, &total), 1000000);
}

Test(k8s_share, istio_rounds_to_whole_percents_but_keeps_both_sides_alive)
{
    uint32_t total = 0;
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 0, &total), 0);
    cr_assert_eq(total, 100);
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 1, &total), 1);   /* 0.01% -> 1% */
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 25, &total), 1);  /* 0.25% -> 1% */
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 149, &total), 1); /* 1.49% -> 1% */
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 150, &total), 2); /* halves up */
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 500, &total), 5);
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 1250, &total), 13);
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 9960, &total), 99); /* not 100 */
    cr_assert_eq(cn_k8s_canary_share(CN_K8S_ISTIO, 10000, &total), 100);
}

Test(k8s_share, spread_is_even_and_sums_exactly)
{
    uint32_t w[3];
    cn_k8s_spread(100, 3, w);
    cr_assert_eq(w[0], 34);
    cr_assert_eq(w[1], 33);
    cr_assert_eq(w[2], 33);
    cn_k8s_spread(950000, 2, w);
    cr_assert_eq(w[0], 475000);
    cr_assert_eq(w[1], 475000);
    cn_k8s_spread(1, 3, w);
    cr_assert_eq(w[0] + w[1] + w[2], 1);
}

/* -------------------------------------------------------------- plans */

static void gen(cn_generation_t *g, uint64_t number, uint16_t bp, const char *stable,
                const char *canary)
{
    cn_generation_init(g);
    g->number = number;
    g->traffic.canary_weight_bp = bp;
    cn_version_set_dispose(&g->sets[0]);
    cn_version_set_dispose(&g->sets[1]);
    cn_version_set_init(&g->sets[0], "v1");
    cn_version_set_init(&g->sets[1], "v2");
    /* comma-separated address lists */
    const char *lists[2] = {stable, canary};
    for (int r = 0; r < 2; r++) {
        if (!lists[r])
            continue;
        char *copy = strdup(lists[r]), *save = NULL;
        for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save))
            cn_version_set_add(&g->sets[r], a);
        free(copy);
    }
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert(j, "fixture: %s", e.text);
    return j;
}

static void cfg_init(cn_k8s_config_t *c, const char *route)
{
    memset(c, 0, sizeof *c);
    c->route = (char *)route;
    c->conflict_retries = 5;
}

static const char route_json[] =
    "{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\","
    "\"metadata\":{\"name\":\"fraud\",\"namespace\":\"shop\",\"resourceVersion\":"
    "\"77\"},"
    "\"spec\":{\"rules\":[{\"name\":\"health\",\"backendRefs\":[{\"name\":\"h\","
    "\"port\":1}]},"
    "{\"name\":\"main\",\"backendRefs\":["
    "{\"name\":\"fraud-v1\",\"port\":8080,\"weight\":1},"
    "{\"name\":\"fraud-v0\",\"port\":8080,\"weight\":3},"
    "{\"name\":\"fraud-v2\",\"port\":8080}]}]}}";

static char *dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT);
}

Test(k8s_plan, gateway_api_sets_both_sets_and_zeroes_the_rest)
{
    cn_k8s_config_t c;
    cfg_init(&c, "fraud");
    c.rule_name = "main";
    cn_generation_t g;
    gen(&g, 4, 500, "fraud-v1:8080", "fraud-v2:8080");
    json_t *obj = load(route_json);
    cn_k8s_plan_t p;
    char err[512] = "";
    cr_assert_eq(cn_k8s_plan(CN_K8S_GATEWAY_API, &c, "HTTPRoute shop/fraud", obj, &g,
                             &p, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(p.rule, 1);
    cr_assert_eq(p.total, 1000000);
    cr_assert_eq(p.canary_total, 50000);
    cr_assert_eq(p.effective_bp, 500);
    char *patch = dump(p.patch);
    /* The test first; replace where the member exists, add where not;
     * v0 (in neither set) goes to 0. */
    cr_assert_str_eq(
        patch,
        "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"77\"},"
        "{\"op\":\"replace\",\"path\":\"/spec/rules/1/backendRefs/0/weight\","
        "\"value\":950000},"
        "{\"op\":\"replace\",\"path\":\"/spec/rules/1/backendRefs/1/weight\","
        "\"value\":0},"
        "{\"op\":\"add\",\"path\":\"/spec/rules/1/backendRefs/2/weight\","
        "\"value\":50000}]");
    free(patch);
    cn_k8s_plan_dispose(&p);
    json_decref(obj);
    cn_generation_dispose(&g);
}

Test(k8s_plan, a_missing_backend_is_appended_and_a_set_spread_over_its_refs)
{
    cn_k8s_config_t c;
    cfg_init(&c, "fraud");
    c.rule = 1;
    cn_generation_t g;
    gen(&g, 5, 1000, "fraud-v1:8080,fraud-v0:8080", "fraud-v3:9090");
    json_t *obj = load(route_json);
    cn_k8s_plan_t p;
    char err[512] = "";
    cr_assert_eq(cn_k8s_plan(CN_K8S_GATEWAY_API, &c, "x", obj, &g, &p, err, sizeof err),
                 0, "%s", err);
    char *patch = dump(p.patch);
    cr_assert_str_eq(
        patch,
        "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"77\"},"
        "{\"op\":\"replace\",\"path\":\"/spec/rules/1/backendRefs/0/weight\","
        "\"value\":450000},"
        "{\"op\":\"replace\",\"path\":\"/spec/rules/1/backendRefs/1/weight\","
        "\"value\":450000},"
        "{\"op\":\"add\",\"path\":\"/spec/rules/1/backendRefs/2/weight\","
        "\"value\":0},"
        "{\"op\":\"add\",\"path\":\"/spec/rules/1/backendRefs/-\","
        "\"value\":{\"name\":\"fraud-v3\",\"port\":9090,\"weight\":100000}}]");
    free(patch);
    cn_k8s_plan_dispose(&p);
    json_decref(obj);
    cn_generation_dispose(&g);
}

Test(k8s_plan, weights_already_there_need_no_patch)
{
    cn_k8s_config_t c;
    cfg_init(&c, "fraud");
    cn_generation_t g;
    gen(&g, 1, 2500, "a:1", "b:1");
    json_t *obj =
        load("{\"metadata\":{\"resourceVersion\":\"9\"},\"spec\":{\"rules\":[{"
             "\"backendRefs\":[{\"name\":\"a\",\"port\":1,\"weight\":750000},"
             "{\"name\":\"b\",\"port\":1,\"weight\":250000}]}]}}");
    cn_k8s_plan_t p;
    char err[512] = "";
    cr_assert_eq(cn_k8s_plan(CN_K8S_GATEWAY_API, &c, "x", obj, &g, &p, err, sizeof err),
                 0);
    cr_assert_null(p.patch);
    cr_assert_eq(p.effective_bp, 2500);
    cn_k8s_plan_dispose(&p);
    json_decref(obj);
    cn_generation_dispose(&g);
}

static const char vs_json[] =
    "{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":\"VirtualService\","
    "\"metadata\":{\"name\":\"fraud\",\"namespace\":\"shop\",\"resourceVersion\":"
    "\"12\"},"
    "\"spec\":{\"hosts\":[\"fraud\"],\"http\":[{\"name\":\"main\",\"route\":["
    "{\"destination\":{\"host\":\"fraud.shop.svc.cluster.local\",\"subset\":\"v1\","
    "\"port\":{\"number\":8080}},\"weight\":100},"
    "{\"destination\":{\"host\":\"fraud\",\"subset\":\"v2\"},\"weight\":0}]}]}}";

Test(k8s_plan, istio_quantises_to_percents_and_maps_subsets)
{
    cn_k8s_config_t c;
    cfg_init(&c, "fraud");
    cn_k8s_backend_t b[2] = {
        {.address = "fraud-v1:8080", .name = "fraud", .subset = "v1"},
        {.address = "fraud-v2:8080", .name = "fraud", .subset = "v2"},
    };
    c.backends = b;
    c.n_backends = 2;
    cn_generation_t g;
    gen(&g, 2, 1250, "fraud-v1:8080", "fraud-v2:8080");
    json_t *obj = load(vs_json);
    cn_k8s_plan_t p;
    char err[512] = "";
    cr_assert_eq(cn_k8s_plan(CN_K8S_ISTIO, &c, "x", obj, &g, &p, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(p.total, 100);
    cr_assert_eq(p.canary_total, 13);
    cr_assert_eq(p.effective_bp, 1300, "12.5%% runs as 13%%");
    char *patch = dump(p.patch);
    cr_assert_str_eq(
        patch,
        "[{\"op\":\"test\",\"path\":\"/metadata/resourceVersion\",\"value\":\"12\"},"
        "{\"op\":\"replace\",\"path\":\"/spec/http/0/route/0/weight\",\"value\":87},"
        "{\"op\":\"replace\",\"path\":\"/spec/http/0/route/1/weight\",\"value\":13}]");
    free(patch);
    cn_k8s_plan_dispose(&p);
    json_decref(obj);
    cn_generation_dispose(&g);
}

static void plan_error(cn_k8s_kind_t kind, const cn_k8s_config_t *c,
                       const char *obj_json, const cn_generation_t *g, const char *want)
{
    json_t *obj = load(obj_json);
    cn_k8s_plan_t p;
    char err[512] = "";
    cr_assert_eq(
        cn_k8s_plan(kind, c, "HTTPRoute shop/fraud", obj, g, &p, err, sizeof err),
        CN_EINVAL, "accepted");
    cr_assert_str_eq(err, want);
    json_decref(obj);
}

Test(k8s_plan, what_cannot_be_planned_is_said_in_one_line)
{
    cn_k8s_config_t c;
    cfg_init(&c, "fraud");
    cn_generation_t g;
    gen(&g, 1, 500, "fraud-v1:8080", "fraud-v2:8080");
    c.rule = 7;
    plan_error(CN_K8S_GATEWAY_API, &c, route_json, &g,
               "HTTPRoute shop/fraud: rule spec.rules[7] does not exist (2 rules)");
    c.rule = 0;
    c.rule_name = "nope";
    plan_error(CN_K8S_GATEWAY_API, &c, route_json, &g,
               "HTTPRoute shop/fraud: no rule spec.rules[] is named 'nope'");
    c.rule_name = NULL;
    plan_error(CN_K8S_GATEWAY_API, &c, "{\"metadata\":{},\"spec\":{}}", &g,
               "HTTPRoute shop/fraud: the object has no metadata.resourceVersion");
    plan_error(
        CN_K8S_GATEWAY_API, &c,
        "{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"rules\":[{}]}}", &g,
        "HTTPRoute shop/fraud: rule spec.rules[0] has no backendRefs list: give it "
        "the stable backend");
    cn_generation_dispose(&g);

    gen(&g, 1, 500, "fraud-v1:8080", "fraud-v1:8080");
    plan_error(
        CN_K8S_GATEWAY_API, &c,
        "{\"metadata\":{\"resourceVersion\":\"1\"},\"spec\":{\"rules\":[{"
        "\"backendRefs\":[{\"name\":\"fraud-v1\",\"port\":8080}]}]}}",
        &g,
        "HTTPRoute shop/fraud: backendRef spec.rules[0].backendRefs[0] (fraud-v1) "
        "serves both stable and canary: the two versions need distinct backends");
    cn_generation_dispose(&g);

    gen(&g, 1, 500, "fraud-v1:8080", NULL);
    plan_error(CN_K8S_GATEWAY_API, &c, route_json, &g,
               "HTTPRoute shop/fraud: canary gets 50000 of 1000000 but has no address "
               "(version 'v2')");
    g.traffic.mode = CN_TRAFFIC_MODE_SHADOW;
    plan_error(CN_K8S_GATEWAY_API, &c, route_json, &g,
               "HTTPRoute shop/fraud: shadow mode is not supported by the gateway_api "
               "engine (it sets weights only)");
    g.traffic.mode = CN_TRAFFIC_MODE_STICKY;
    plan_error(CN_K8S_ISTIO, &c, vs_json, &g,
               "HTTPRoute shop/fraud: sticky mode is not supported by the istio engine "
               "(weights split each request independently)");
    cn_generation_dispose(&g);
}

/* ------------------------------------------------------------- config */

static int parse(const cn_config_table_t *t, void *rec, const char *yaml, char *err,
                 size_t errlen)
{
    cn_config_part_t part = {t, rec};
    cn_config_init(t, rec);
    cn_yaml_t y;
    cn_yaml_init(&y, "c.yaml", err, errlen);
    struct fy_document *doc = NULL;
    int rc = cn_yaml_load(&y, yaml, strlen(yaml), &doc);
    if (!rc)
        rc = cn_config_read(&y, &part, 1, fy_document_root(doc), 1);
    cn_yaml_dispose(&y);
    return rc;
}

Test(k8s_config, gateway_api_keys_and_defaults)
{
    cn_gateway_api_config_t c;
    char err[512] = "";
    cr_assert_eq(
        parse(&cn_gateway_api_config_table, &c,
              "httproute: fraud\nnamespace: shop\nrule_name: main\n"
              "backends:\n  - {address: 'fraud-v2:8080', name: fraud-canary}\n",
              err, sizeof err),
        0, "%s", err);
    cr_assert_str_eq(c.k8s.route, "fraud");
    cr_assert_str_eq(c.k8s.namespace, "shop");
    cr_assert_str_eq(c.k8s.api_version, "v1");
    cr_assert_str_eq(c.k8s.token_file, CN_K8S_TOKEN_FILE);
    cr_assert_str_eq(c.k8s.ca_file, CN_K8S_CA_FILE);
    cr_assert_null(c.k8s.api_server);
    cr_assert_eq(c.k8s.timeout_ms, 10000);
    cr_assert_eq(c.k8s.conflict_retries, 5);
    cr_assert_eq(c.k8s.n_backends, 1);
    cr_assert_str_eq(c.k8s.backends[0].name, "fraud-canary");
    cr_assert_eq(c.k8s.backends[0].port, 0);
    cn_gateway_api_config_dispose(&c);

    cn_istio_config_t i;
    cr_assert_eq(parse(&cn_istio_config_table, &i,
                       "virtual_service: fraud\nbackends:\n"
                       "  - {address: 'fraud-v2:8080', host: fraud, subset: v2}\n",
                       err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(i.k8s.api_version, "v1beta1");
    cr_assert_str_eq(i.k8s.backends[0].subset, "v2");
    cn_istio_config_dispose(&i);
}

static void config_error(const cn_config_table_t *t, const char *yaml, const char *want)
{
    cn_istio_config_t c; /* the same layout as the gateway_api one */
    char err[512] = "";
    cr_assert_eq(parse(t, &c, yaml, err, sizeof err), CN_EINVAL, "accepted: %s", yaml);
    cr_assert_str_eq(err, want, "for %s", yaml);
    cn_config_dispose(t, &c);
}

Test(k8s_config, errors_name_the_file_line_and_key)
{
    config_error(&cn_gateway_api_config_table, "namespace: shop\n",
                 "c.yaml:1: key 'httproute': required: the HTTPRoute's name "
                 "(gateway.networking.k8s.io)");
    config_error(
        &cn_gateway_api_config_table, "httproute: Fraud_1\n",
        "c.yaml:1: key 'httproute': must be a Kubernetes name (lower case letters, "
        "digits, '-' and '.'; at most 253), got 'Fraud_1'");
    config_error(
        &cn_istio_config_table, "virtual_service: f\napi_server: ftp://x\n",
        "c.yaml:2: key 'api_server': must be an https:// (or http://) URL with a "
        "host, got 'ftp://x'");
    config_error(
        &cn_gateway_api_config_table, "httproute: f\nconflict_retries: 1000\n",
        "c.yaml:2: key 'conflict_retries': must be an integer in [0, 100], got "
        "'1000'");
    config_error(
        &cn_gateway_api_config_table,
        "httproute: f\nbackends:\n  - {address: 'a:1'}\n  - {address: 'a:1'}\n",
        "c.yaml:4: key 'backends[1].address': 'a:1' is mapped twice (backends [0] "
        "and [1])");
    config_error(&cn_gateway_api_config_table,
                 "httproute: f\nbackends:\n  - {address: 'a:1', subset: v2}\n",
                 "c.yaml:3: key 'backends[0].subset': unknown key (expected one of "
                 "address, name, port)");
}

/* ------------------------------------------- against the fake API server */

typedef struct fake_s {
    pid_t pid;
    char dir[64];
    char url[160];
    char token_file[128];
    char ca_file[128]; /* "" unless TLS */
} fake_t;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* The script next to the build directory: build/../tests/integration/. */
static void script_path(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    snprintf(out, len, "%.*s/../tests/integration/fake_kube_api.py", (int)(len - 48),
             self);
    cr_assert_eq(access(out, R_OK), 0, "%s: %s", out, strerror(errno));
}

/* A throwaway CA and a certificate for 127.0.0.1 signed by it, in dir
 * (ca.crt, srv.crt, srv.key), and a second CA that signed nothing
 * (other.crt). */
static void make_certs(const char *dir)
{
    char cmd[2048];
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && exec >openssl.log 2>&1 && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout ca.key -out ca.crt -days 2 -subj /CN=canary-test-ca && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout other.key -out other.crt -days 2 -subj /CN=canary-other-ca && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
        "-keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
        "printf 'subjectAltName=IP:127.0.0.1\\n' >ext && "
        "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
        "-out srv.crt -days 2 -extfile ext",
        dir);
    cr_assert_eq(system(cmd), 0, "openssl failed: see %s/openssl.log", dir);
}

static void fake_start_tls(fake_t *f, const char *objects_json, bool tls)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/cn-k8s-XXXXXX");
    cr_assert(mkdtemp(f->dir));
    char objects[128];
    snprintf(f->token_file, sizeof f->token_file, "%s/token", f->dir);
    snprintf(objects, sizeof objects, "%s/objects.json", f->dir);
    write_file(f->token_file, "t0ken-for-tests\n");
    write_file(objects, objects_json);
    char script[PATH_MAX];
    script_path(script, sizeof script);
    char cert[160], key[160];
    f->ca_file[0] = '\0';
    char *argv[12] = {"python3",     script,      "--token-file",
                      f->token_file, "--objects", objects};
    if (tls) {
        make_certs(f->dir);
        snprintf(f->ca_file, sizeof f->ca_file, "%s/ca.crt", f->dir);
        snprintf(cert, sizeof cert, "%s/srv.crt", f->dir);
        snprintf(key, sizeof key, "%s/srv.key", f->dir);
        argv[6] = "--tls-cert";
        argv[7] = cert;
        argv[8] = "--tls-key";
        argv[9] = key;
    }
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    int rc = posix_spawnp(&f->pid, "python3", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    cr_assert_eq(rc, 0, "spawn python3: %s", strerror(rc));
    FILE *out = fdopen(fds[0], "r");
    char line[256], addr[128] = "";
    while (!addr[0] && fgets(line, sizeof line, out))
        if (sscanf(line, "listening on %127s", addr) != 1)
            addr[0] = '\0';
    fclose(out);
    cr_assert(addr[0], "the fake API server printed no address");
    snprintf(f->url, sizeof f->url, "%s://%s", tls ? "https" : "http", addr);
}

static void fake_start(fake_t *f, const char *objects_json)
{
    fake_start_tls(f, objects_json, false);
}

static void fake_stop(fake_t *f)
{
    kill(f->pid, SIGTERM);
    waitpid(f->pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    cr_assert_eq(system(cmd), 0);
}

static const char objects[] =
    "[{\"apiVersion\":\"gateway.networking.k8s.io/v1\",\"kind\":\"HTTPRoute\","
    "\"metadata\":{\"name\":\"fraud\",\"namespace\":\"shop\"},"
    "\"spec\":{\"parentRefs\":[{\"name\":\"gw\"}],\"rules\":[{\"backendRefs\":["
    "{\"name\":\"fraud-v1\",\"port\":8080}]}]}},"
    "{\"apiVersion\":\"networking.istio.io/v1beta1\",\"kind\":\"VirtualService\","
    "\"metadata\":{\"name\":\"fraud\",\"namespace\":\"shop\"},"
    "\"spec\":{\"hosts\":[\"fraud\"],\"http\":[{\"route\":["
    "{\"destination\":{\"host\":\"fraud-v1\",\"port\":{\"number\":8080}},\"weight\":"
    "100},"
    "{\"destination\":{\"host\":\"fraud-v2\",\"port\":{\"number\":8080}},\"weight\":0}"
    "]}]}}]";

static cn_k8s_engine_t *engine(const fake_t *f, cn_k8s_kind_t kind, const char *route)
{
    cn_k8s_config_t c;
    cfg_init(&c, route);
    c.api_server = (char *)f->url;
    c.token_file = (char *)f->token_file;
    c.ca_file = f->ca_file[0] ? (char *)f->ca_file : NULL;
    c.namespace = "shop";
    c.timeout_ms = 30000;
    cn_k8s_engine_t *e = NULL;
    char err[512] = "";
    cr_assert_eq(cn_k8s_engine_new(kind, &c, &e, err, sizeof err), 0, "%s", err);
    return e;
}

/* The live object's weights of rule 0, as "w0,w1,..." ("-" for none). */
static void live_weights(cn_k8s_engine_t *e, char *out, size_t len)
{
    long status = 0;
    json_t *obj = NULL;
    char err[512] = "";
    cr_assert_eq(cn_k8s_request(e->client, "GET", e->path, NULL, NULL, &status, &obj,
                                err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(status, 200);
    const char *rk = e->kind == CN_K8S_GATEWAY_API ? "rules" : "http";
    const char *fk = e->kind == CN_K8S_GATEWAY_API ? "backendRefs" : "route";
    json_t *refs = json_object_get(
        json_array_get(json_object_get(json_object_get(obj, "spec"), rk), 0), fk);
    size_t used = 0;
    out[0] = '\0';
    for (size_t j = 0; j < json_array_size(refs); j++) {
        json_t *w = json_object_get(json_array_get(refs, j), "weight");
        used += (size_t)snprintf(out + used, len - used, "%s%s", j ? "," : "", "");
        if (w)
            used += (size_t)snprintf(out + used, len - used, "%lld",
                                     (long long)json_integer_value(w));
        else
            used += (size_t)snprintf(out + used, len - used, "-");
    }
    json_decref(obj);
}

static void fake_switch(cn_k8s_engine_t *e, const char *path, const char *body)
{
    long status = 0;
    json_t *answer = NULL;
    char err[512] = "";
    cr_assert_eq(cn_k8s_request(e->client, "POST", path, "application/json", body,
                                &status, &answer, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(status, 200);
    json_decref(answer);
}

Test(k8s_live, gateway_api_walks_steps_and_reads_back)
{
    fake_t f;
    fake_start(&f, objects);
    cn_k8s_engine_t *e = engine(&f, CN_K8S_GATEWAY_API, "fraud");
    cn_generation_t g;
    cn_traffic_applied_t applied;
    char err[512] = "", w[128];

    /* Step 1: 5% to a canary the route does not list yet: appended. */
    gen(&g, 2, 500, "fraud-v1:8080", "fraud-v2:8080");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(applied.generation, 2);
    cr_assert_eq(applied.effective_weight_bp, 500);
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "950000,50000");
    cr_assert_eq(e->n_patches, 1);
    /* The same generation again writes nothing. */
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(e->n_patches, 1);
    cn_generation_dispose(&g);

    /* 25%, then promotion: v2 stable alone, v1 left at 0. */
    gen(&g, 3, 2500, "fraud-v1:8080", "fraud-v2:8080");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "750000,250000");
    cn_generation_dispose(&g);
    gen(&g, 4, 0, "fraud-v2:8080", NULL);
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(applied.effective_weight_bp, 0);
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "0,1000000");
    cn_generation_dispose(&g);

    cn_k8s_engine_free(e);
    fake_stop(&f);
}

Test(k8s_live, conflicts_are_read_again_and_retried_then_given_up)
{
    fake_t f;
    fake_start(&f, objects);
    cn_k8s_engine_t *e = engine(&f, CN_K8S_GATEWAY_API, "fraud");
    cn_generation_t g;
    cn_traffic_applied_t applied;
    char err[512] = "", w[128];

    /* Two concurrent writes: the test of resourceVersion fails twice
     * (422, as kube-apiserver answers), the third write lands. */
    fake_switch(e, "/fake/conflicts", "{\"count\":2,\"status\":422}");
    gen(&g, 2, 100, "fraud-v1:8080", "fraud-v2:8080");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(e->n_conflicts, 2);
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "990000,10000");
    cn_generation_dispose(&g);

    /* 409 (an update with a stale resourceVersion) is retried the same. */
    fake_switch(e, "/fake/conflicts", "{\"count\":1,\"status\":409}");
    gen(&g, 3, 200, "fraud-v1:8080", "fraud-v2:8080");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(e->n_conflicts, 3);
    cn_generation_dispose(&g);

    /* More conflicts than conflict_retries (5): one attempt and 5 retries,
     * then a clear error, and the object keeps the weights it had. */
    fake_switch(e, "/fake/conflicts", "{\"count\":50,\"status\":422}");
    gen(&g, 4, 300, "fraud-v1:8080", "fraud-v2:8080");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err),
                 CN_ECONFLICT);
    cr_assert_str_eq(err,
                     "HTTPRoute shop/fraud: the object kept changing under us (6 "
                     "conflicts; last: 422 Invalid: the server rejected our request "
                     "due to an error in our request (testing value "
                     "/metadata/resourceVersion failed: test failed))");
    fake_switch(e, "/fake/conflicts", "{\"count\":0}");
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "980000,20000");
    cn_generation_dispose(&g);

    cn_k8s_engine_free(e);
    fake_stop(&f);
}

Test(k8s_live, istio_sets_percentages_and_renew_repairs_drift)
{
    fake_t f;
    fake_start(&f, objects);
    cn_k8s_engine_t *e = engine(&f, CN_K8S_ISTIO, "fraud");
    char logpath[128];
    snprintf(logpath, sizeof logpath, "%s/log", f.dir);
    FILE *log = fopen(logpath, "w+");
    cn_k8s_engine_set_log(e, log);
    cn_generation_t g;
    cn_traffic_applied_t applied;
    char err[512] = "", w[128];

    gen(&g, 7, 1250, "fraud-v1:8080", "fraud-v2:8080");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(applied.effective_weight_bp, 1300);
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "87,13");
    /* Nothing drifted: renew writes nothing. */
    cr_assert_eq(e->traffic.renew(&e->traffic, err, sizeof err), 0, "%s", err);
    cr_assert_eq(e->n_patches, 1);

    /* Someone sets the canary back to 0 by hand: renew puts 13 back and
     * says so. */
    long status = 0;
    json_t *answer = NULL;
    cr_assert_eq(cn_k8s_request(e->client, "PATCH", e->path,
                                "application/json-patch+json",
                                "[{\"op\":\"replace\",\"path\":\"/spec/http/0/route/0/"
                                "weight\",\"value\":100},{\"op\":\"replace\",\"path\":"
                                "\"/spec/http/0/route/1/weight\",\"value\":0}]",
                                &status, &answer, err, sizeof err),
                 0);
    cr_assert_eq(status, 200);
    json_decref(answer);
    cr_assert_eq(e->traffic.renew(&e->traffic, err, sizeof err), 0, "%s", err);
    cr_assert_eq(e->n_repairs, 1);
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "87,13");
    rewind(log);
    char line[512] = "";
    cr_assert(fgets(line, sizeof line, log));
    cr_assert_str_eq(line,
                     "canary: VirtualService shop/fraud rule 0 drifted from generation "
                     "7: route[0].weight 100 (want 87), route[1].weight 0 (want 13); "
                     "repairing\n");
    fclose(log);
    cn_generation_dispose(&g);
    cn_k8s_engine_free(e);
    fake_stop(&f);
}

Test(k8s_live, errors_carry_the_api_status_and_message)
{
    fake_t f;
    fake_start(&f, objects);
    cn_generation_t g;
    cn_traffic_applied_t applied;
    char err[512] = "";
    gen(&g, 2, 500, "fraud-v1:8080", "fraud-v2:8080");

    cn_k8s_engine_t *e = engine(&f, CN_K8S_GATEWAY_API, "nope");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err),
                 CN_ENOTFOUND);
    cr_assert_str_eq(err, "HTTPRoute shop/nope: GET /apis/gateway.networking.k8s.io/v1/"
                          "namespaces/shop/httproutes/nope answered 404 NotFound: "
                          "httproutes.gateway.networking.k8s.io \"nope\" not found");
    cn_k8s_engine_free(e);

    e = engine(&f, CN_K8S_GATEWAY_API, "fraud");
    fake_switch(e, "/fake/forbid", "{\"verbs\":[\"patch\"]}");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), CN_EIO);
    cr_assert_str_eq(err,
                     "HTTPRoute shop/fraud: PATCH /apis/gateway.networking.k8s.io/v1/"
                     "namespaces/shop/httproutes/fraud answered 403 Forbidden: "
                     "httproutes.gateway.networking.k8s.io \"fraud\" is forbidden: "
                     "User \"system:serviceaccount:shop:canary\" cannot patch resource "
                     "\"httproutes\" in API group \"gateway.networking.k8s.io\" in the "
                     "namespace \"shop\"");
    fake_switch(e, "/fake/forbid", "{\"verbs\":[]}");
    cn_k8s_engine_free(e);

    /* A wrong token: 401. */
    write_file(f.token_file, "stale\n");
    cn_k8s_engine_t *e2 = engine(&f, CN_K8S_GATEWAY_API, "fraud");
    cr_assert_eq(e2->traffic.apply(&e2->traffic, &g, &applied, err, sizeof err),
                 CN_EIO);
    cr_assert_str_eq(err,
                     "HTTPRoute shop/fraud: GET /apis/gateway.networking.k8s.io/v1/"
                     "namespaces/shop/httproutes/fraud answered 401 Unauthorized: "
                     "Unauthorized");
    /* The token is read again before each request: a rotated one works. */
    write_file(f.token_file, "t0ken-for-tests\n");
    cr_assert_eq(e2->traffic.apply(&e2->traffic, &g, &applied, err, sizeof err), 0,
                 "%s", err);
    cn_k8s_engine_free(e2);
    cn_generation_dispose(&g);
    fake_stop(&f);
}

Test(k8s_live, a_refused_patch_that_is_no_conflict_is_reported_at_once)
{
    /* A rule with 16 backendRefs (the CRD's maximum) and a canary that
     * is not among them: the append is refused with 422 by the schema,
     * the object did not change, so no retry loop. */
    char objs[4096];
    size_t n =
        (size_t)snprintf(objs, sizeof objs,
                         "[{\"apiVersion\":\"gateway.networking.k8s.io/v1\","
                         "\"kind\":\"HTTPRoute\",\"metadata\":{\"name\":\"full\","
                         "\"namespace\":\"shop\"},\"spec\":{\"rules\":[{"
                         "\"backendRefs\":[");
    for (int i = 0; i < 16; i++)
        n += (size_t)snprintf(objs + n, sizeof objs - n,
                              "%s{\"name\":\"old-%d\",\"port\":80}", i ? "," : "", i);
    snprintf(objs + n, sizeof objs - n, "]}]}}]");
    fake_t f;
    fake_start(&f, objs);
    cn_k8s_engine_t *e = engine(&f, CN_K8S_GATEWAY_API, "full");
    cn_generation_t g;
    cn_traffic_applied_t applied;
    char err[512] = "";
    gen(&g, 2, 500, "old-0:80", "new:80");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), CN_EIO);
    cr_assert_eq(e->n_conflicts, 0);
    cr_assert_str_eq(err,
                     "HTTPRoute shop/full: PATCH /apis/gateway.networking.k8s.io/v1/"
                     "namespaces/shop/httproutes/full answered 422 Invalid: "
                     "HTTPRoute.gateway.networking.k8s.io \"full\" is invalid: "
                     "spec.rules[0].backendRefs: Too many: 17: must have at most 16 "
                     "items");
    cn_generation_dispose(&g);
    cn_k8s_engine_free(e);
    fake_stop(&f);
}

Test(k8s_live, the_fake_refuses_strategic_merge_patch_like_the_real_one)
{
    /* The engine never sends one; this pins the fake's behaviour the docs
     * rely on (custom resources answer 415 to strategic merge). */
    fake_t f;
    fake_start(&f, objects);
    cn_k8s_engine_t *e = engine(&f, CN_K8S_GATEWAY_API, "fraud");
    long status = 0;
    json_t *answer = NULL;
    char err[512] = "", st[512];
    cr_assert_eq(cn_k8s_request(e->client, "PATCH", e->path,
                                "application/strategic-merge-patch+json", "{}", &status,
                                &answer, err, sizeof err),
                 0);
    cr_assert_str_eq(
        cn_k8s_status_text(status, answer, st, sizeof st),
        "415 UnsupportedMediaType: the body of the request was in an unknown "
        "format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml");
    json_decref(answer);
    cn_k8s_engine_free(e);
    fake_stop(&f);
}

Test(k8s_live, https_with_the_service_account_ca)
{
    fake_t f;
    fake_start_tls(&f, objects, true);
    cr_assert(strncmp(f.url, "https://", 8) == 0);
    cn_k8s_engine_t *e = engine(&f, CN_K8S_GATEWAY_API, "fraud");
    cn_generation_t g;
    cn_traffic_applied_t applied;
    char err[512] = "", w[128];
    gen(&g, 2, 500, "fraud-v1:8080", "fraud-v2:8080");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), 0, "%s",
                 err);
    live_weights(e, w, sizeof w);
    cr_assert_str_eq(w, "950000,50000");
    cn_k8s_engine_free(e);

    /* A CA that did not sign the server's certificate: refused, and said. */
    snprintf(f.ca_file, sizeof f.ca_file, "%s/other.crt", f.dir);
    e = engine(&f, CN_K8S_GATEWAY_API, "fraud");
    cr_assert_eq(e->traffic.apply(&e->traffic, &g, &applied, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "HTTPRoute shop/fraud: GET https://127.0.0.1:") == err, "%s",
              err);
    cr_assert(strstr(err, "certificate"), "%s", err);
    cn_k8s_engine_free(e);
    cn_generation_dispose(&g);
    fake_stop(&f);
}

Test(k8s_live, no_cluster_and_no_api_server_is_an_error)
{
    cn_k8s_config_t c;
    cfg_init(&c, "fraud");
    c.namespace = "shop";
    unsetenv("KUBERNETES_SERVICE_HOST");
    cn_k8s_engine_t *e = NULL;
    char err[512] = "";
    cr_assert_eq(cn_k8s_engine_new(CN_K8S_GATEWAY_API, &c, &e, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err,
                     "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST and "
                     "KUBERNETES_SERVICE_PORT are not set): give api_server");
    setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    cr_assert_eq(cn_k8s_engine_new(CN_K8S_GATEWAY_API, &c, &e, err, sizeof err), 0,
                 "%s", err);
    cr_assert_str_eq(cn_k8s_client_url(e->client), "https://10.0.0.1:443");
    cr_assert_str_eq(
        e->path, "/apis/gateway.networking.k8s.io/v1/namespaces/shop/httproutes/fraud");
    cn_k8s_engine_free(e);
}
