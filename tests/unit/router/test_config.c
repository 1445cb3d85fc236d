/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The serve configuration as `canary serve` reads it (router/config.h, with
 * the admin API's, the store's and the server's tables assembled by
 * server/config.h): every default, the example
 * file read into the right fields, every flag, the documentation of every
 * key in examples/canary.yaml, the exact one-line message for each class of
 * bad input, and the cross-field checks of validate(). The unit binary runs
 * from the repository root, so examples/ is read from there.
 */
#include "router/config.h"
#include "server/config.h"
#include "router/extract.h"
#include "router/shard.h"
#include "router/split.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXAMPLE "examples/canary.yaml"

static int parse(cn_server_config_t *c, const char *yaml, char *err)
{
    return cn_server_config_parse_yaml(c, yaml, strlen(yaml), "c.yaml", err, 512);
}

/* Parse text that must be valid over the defaults. */
static void parse_ok(const char *yaml, cn_server_config_t *c)
{
    char err[512];
    cn_server_config_init(c);
    int rc = parse(c, yaml, err);
    cr_assert_eq(rc, 0, "unexpected error: %s", err);
}

static void flag_ok(cn_server_config_t *c, const char *name, const char *value)
{
    char err[512];
    int rc = cn_server_config_set_flag(c, name, value, err, sizeof err);
    cr_assert_eq(rc, 0, "--%s %s: %s", name, value ? value : "(none)", err);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s (run from the repository root)", path);
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void assert_list(const cn_router_addr_list_t *l, size_t n, const char *a,
                        const char *b)
{
    cr_assert_eq(l->count, n);
    if (n > 0)
        cr_assert_str_eq(l->items[0], a);
    if (n > 1)
        cr_assert_str_eq(l->items[1], b);
}

/* ---------------------------------------------------------- defaults */

Test(serve_config_defaults, init_sets_the_documented_defaults)
{
    cn_server_config_t c;
    memset(&c, 0xAB, sizeof c);
    cn_server_config_init(&c);
    cr_assert_str_eq(c.router.listen, "0.0.0.0:8080");
    cr_assert_str_eq(c.admin.address, "127.0.0.1:8081");
    cr_assert_eq(c.router.stable.count, 0);
    cr_assert_eq(c.router.canary.count, 0);
    cr_assert_str_eq(c.router.stable_version, "stable");
    cr_assert_str_eq(c.router.canary_version, "canary");
    cr_assert_eq(c.router.traffic.canary_weight_bp, 0);
    cr_assert_eq(c.router.traffic.mode, CN_TRAFFIC_MODE_RANDOM);
    cr_assert_eq(c.router.traffic.shadow_bp, 10000);
    cr_assert_eq(c.router.traffic.force_enabled, false);
    cr_assert_null(c.router.sticky_header);
    cr_assert_null(c.router.sticky_cookie);
    cr_assert_str_eq(c.router.force_header, "X-Canary");
    cr_assert_eq(c.router.retry_on_stable, true);
    cr_assert_null(c.router.segment_header);
    cr_assert_eq(c.router.max_segments, 32);
    cr_assert_str_eq(c.router.prediction, "kserve-v2");
    cr_assert_eq(c.router.n_prediction_buckets, 51);
    for (size_t i = 0; i < 51; i++)
        cr_assert_float_eq(c.router.prediction_buckets[i], i / 50.0, 1e-15,
                           "bucket %zu", i);
    cr_assert_eq(c.router.prediction_buckets[50], 1.0);
    cr_assert_eq(c.router.reservoir_size, 10000);
    cr_assert_eq(c.router.request_id_map_size, 100000);
    cr_assert_eq(c.router.workers, 0);
    cr_assert_null(c.store.path);
    cr_assert_null(c.own.token_file);
    cr_assert_str_eq(c.router.health_path, "/healthz");
    cr_assert_eq(c.router.health_interval_ms, 2000);
    cr_assert_eq(c.router.health_timeout_ms, 1000);
    cr_assert_eq(c.router.passive_failures, 3);
    cr_assert_eq(c.router.passive_cooldown_ms, 5000);
    cr_assert_eq(c.router.max_header_bytes, 32 * 1024);
    cr_assert_eq(c.router.max_body_bytes, 16 * 1024 * 1024);
    cr_assert_eq(c.router.header_timeout_ms, 10000);
    cr_assert_eq(c.router.idle_timeout_ms, 60000);
    cr_assert_eq(c.router.connect_timeout_ms, 2000);
    cr_assert_eq(c.router.upstream_timeout_ms, 30000);
    cr_assert_eq(c.router.upstream_idle_ms, 30000);
    cr_assert_eq(c.router.max_connections, 10000);
    cr_assert_eq(c.router.max_idle_upstream, 10000);
    cn_server_config_dispose(&c);
    cr_assert_null(c.router.listen);
    cn_server_config_dispose(&c); /* twice is harmless */
    cn_server_config_dispose(NULL);
}

Test(serve_config_defaults, the_table_is_consistent)
{
    const char *const *keys = cn_router_config_keys();
    size_t n = 0;
    for (; keys[n]; n++) {
        const cn_router_config_key_t *k = cn_router_config_key(n);
        cr_assert_not_null(k);
        cr_assert_str_eq(k->key, keys[n]);
    }
    cr_assert_eq(n, 36, "the router's keys");
    cr_assert_null(cn_router_config_key(n));
    /* Every key of the assembled serve config: a flag, help, a want text,
     * and no two alike across the tables. */
    cn_server_config_t c;
    cn_config_part_t parts[CN_SERVER_CONFIG_PARTS];
    size_t np = cn_server_config_parts(&c, parts), total = 0;
    for (size_t p = 0; p < np; p++) {
        for (size_t i = 0; i < parts[p].table->n_keys; i++, total++) {
            const cn_config_key_t *k = &parts[p].table->keys[i];
            /* a list of records (notifications) or a mapping (feedback.metrics)
             * is a file's, not a flag's */
            cr_assert(k->type == CN_CONFIG_LIST || k->type == CN_CONFIG_MAP ||
                          (k->flag && *k->flag),
                      "%s has a flag", k->key);
            cr_assert(k->help && *k->help, "%s has help", k->key);
            char want[200];
            cr_assert_gt(strlen(cn_config_want(k, want, sizeof want)), 5);
            for (size_t q = 0; q <= p; q++) {
                for (size_t j = 0; j < parts[q].table->n_keys; j++) {
                    const cn_config_key_t *o = &parts[q].table->keys[j];
                    if (o == k)
                        break;
                    cr_assert_str_neq(o->key, k->key);
                    if (o->flag && k->flag)
                        cr_assert_str_neq(o->flag, k->flag);
                }
            }
        }
    }
    cr_assert_eq(total, 46, "every key of the brief is in one of the tables");
    const char *const *sw = cn_router_config_switches();
    cr_assert_str_eq(sw[0], "no-retry");
    cr_assert_null(sw[1]);
}

Test(serve_config_defaults, setting_each_flag_to_its_default_changes_nothing)
{
    /* The defaults are the table's texts, so writing them as flags must
     * give the same config: the table and init cannot disagree. */
    cn_server_config_t a, b;
    cn_server_config_init(&a);
    cn_server_config_init(&b);
    for (size_t i = 0; cn_router_config_key(i); i++) {
        const cn_router_config_key_t *k = cn_router_config_key(i);
        flag_ok(&b, k->flag, k->default_text ? k->default_text : "");
    }
    cr_assert_str_eq(a.router.listen, b.router.listen);
    cr_assert_eq(a.router.traffic.shadow_bp, b.router.traffic.shadow_bp);
    cr_assert_eq(a.router.max_body_bytes, b.router.max_body_bytes);
    cr_assert_eq(a.router.n_prediction_buckets, b.router.n_prediction_buckets);
    cr_assert_eq(a.router.retry_on_stable, b.router.retry_on_stable);
    cr_assert_null(b.store.path);
    cr_assert_str_eq(a.router.health_path, b.router.health_path);
    cn_server_config_dispose(&a);
    cn_server_config_dispose(&b);
}

/* -------------------------------------------------------------- YAML */

Test(serve_config_yaml, the_example_file_parses_and_its_values_land)
{
    size_t len;
    char *text = read_file(EXAMPLE, &len);
    cn_server_config_t c;
    cn_server_config_init(&c);
    char err[512];
    int rc = cn_server_config_parse_yaml(&c, text, len, EXAMPLE, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_str_eq(c.router.listen, "0.0.0.0:8080");
    cr_assert_str_eq(c.admin.address, "127.0.0.1:8081");
    cr_assert_eq(c.router.workers, 0);
    cr_assert_str_eq(c.store.path, "/var/lib/canary/state.db");
    cr_assert_str_eq(c.own.token_file, "/etc/canary/token");
    assert_list(&c.router.stable, 2, "model-v1-a:9000", "model-v1-b:9000");
    assert_list(&c.router.canary, 2, "model-v2:9000", "[::1]:9001");
    cr_assert_str_eq(c.router.stable_version, "v1");
    cr_assert_str_eq(c.router.canary_version, "v2");
    cr_assert_eq(c.router.traffic.canary_weight_bp, 250);
    cr_assert_eq(c.router.traffic.mode, CN_TRAFFIC_MODE_RANDOM);
    cr_assert_eq(c.router.traffic.shadow_bp, 1000);
    cr_assert_eq(c.router.traffic.force_enabled, false);
    cr_assert_str_eq(c.router.force_header, "X-Canary");
    cr_assert_str_eq(c.router.sticky_header, "X-User-Id");
    cr_assert_str_eq(c.router.sticky_cookie, "uid");
    cr_assert_eq(c.router.retry_on_stable, true);
    cr_assert_str_eq(c.router.segment_header, "X-Region");
    cr_assert_eq(c.router.max_segments, 32);
    cr_assert_str_eq(c.router.prediction, "kserve-v2");
    cr_assert_eq(c.router.n_prediction_buckets, 51);
    cr_assert_eq(c.router.reservoir_size, 10000);
    cr_assert_eq(c.router.request_id_map_size, 100000);
    cr_assert_str_eq(c.router.health_path, "/healthz");
    cr_assert_eq(c.router.health_interval_ms, 2000);
    cr_assert_eq(c.router.max_header_bytes, 32768);
    cr_assert_eq(c.router.max_body_bytes, 16777216);
    cr_assert_eq(c.router.max_idle_upstream, 10000);
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), 0, "%s", err);
    cn_server_config_dispose(&c);
    free(text);
}

Test(serve_config_yaml, every_key_is_read_in_the_root_form)
{
    cn_server_config_t c;
    parse_ok("listen: \"[::]:9090\"\n"
             "admin: :9091\n"
             "workers: 4\n"
             "state: /tmp/s.db\n"
             "token_file: /tmp/token\n"
             "stable:\n"
             "  addresses: [http://a:1, \"10.0.0.2:80\"]\n"
             "  version: model-1.2\n"
             "canary:\n"
             "  addresses:\n"
             "    - b_1:2\n"
             "  version: model-1.3\n"
             "traffic:\n"
             "  canary_weight: \"12.34\"\n"
             "  mode: sticky\n"
             "  shadow_percent: 0.5\n"
             "  force_header: X-Force\n"
             "  force_enabled: true\n"
             "  sticky_header: X-User\n"
             "  sticky_cookie: session\n"
             "  retry_on_stable: False\n"
             "measure:\n"
             "  segment_header: X-Tenant\n"
             "  segments: [acme, globex]\n"
             "  max_segments: 5\n"
             "  prediction: /predictions/0/score\n"
             "  prediction_buckets: [-1, 0, 1e3]\n"
             "  reservoir_size: 1\n"
             "  request_id_map_size: 0\n"
             "health:\n"
             "  path: /ready?x=1\n"
             "  interval: 500ms\n"
             "  timeout: 250\n"
             "  passive_failures: 0\n"
             "  passive_cooldown: 1m\n"
             "limits:\n"
             "  max_header_bytes: 1KiB\n"
             "  max_body_bytes: 1GiB\n"
             "  header_timeout: 1h\n"
             "  idle_timeout: 1\n"
             "  connect_timeout: 3s\n"
             "  upstream_timeout: 2m\n"
             "  upstream_idle: 15s\n"
             "  max_connections: 1000000\n"
             "  max_idle_upstream: 0\n",
             &c);
    cr_assert_str_eq(c.router.listen, "[::]:9090");
    cr_assert_str_eq(c.admin.address, ":9091");
    cr_assert_eq(c.router.workers, 4);
    cr_assert_str_eq(c.store.path, "/tmp/s.db");
    cr_assert_str_eq(c.own.token_file, "/tmp/token");
    assert_list(&c.router.stable, 2, "a:1", "10.0.0.2:80");
    cr_assert_str_eq(c.router.stable_version, "model-1.2");
    assert_list(&c.router.canary, 1, "b_1:2", NULL);
    cr_assert_str_eq(c.router.canary_version, "model-1.3");
    cr_assert_eq(c.router.traffic.canary_weight_bp, 1234);
    cr_assert_eq(c.router.traffic.mode, CN_TRAFFIC_MODE_STICKY);
    cr_assert_eq(c.router.traffic.shadow_bp, 50);
    cr_assert_str_eq(c.router.force_header, "X-Force");
    cr_assert_eq(c.router.traffic.force_enabled, true);
    cr_assert_str_eq(c.router.sticky_header, "X-User");
    cr_assert_str_eq(c.router.sticky_cookie, "session");
    cr_assert_eq(c.router.retry_on_stable, false);
    cr_assert_str_eq(c.router.segment_header, "X-Tenant");
    cr_assert_eq(c.router.segments.count, 2);
    cr_assert_str_eq(c.router.segments.items[1], "globex");
    cr_assert_eq(c.router.max_segments, 5);
    cr_assert_str_eq(c.router.prediction, "/predictions/0/score");
    cr_assert_eq(c.router.n_prediction_buckets, 3);
    cr_assert_eq(c.router.prediction_buckets[0], -1);
    cr_assert_eq(c.router.prediction_buckets[1], 0);
    cr_assert_eq(c.router.prediction_buckets[2], 1000);
    cr_assert_eq(c.router.reservoir_size, 1);
    cr_assert_eq(c.router.request_id_map_size, 0);
    cr_assert_str_eq(c.router.health_path, "/ready?x=1");
    cr_assert_eq(c.router.health_interval_ms, 500);
    cr_assert_eq(c.router.health_timeout_ms, 250);
    cr_assert_eq(c.router.passive_failures, 0);
    cr_assert_eq(c.router.passive_cooldown_ms, 60000);
    cr_assert_eq(c.router.max_header_bytes, 1024);
    cr_assert_eq(c.router.max_body_bytes, 1073741824);
    cr_assert_eq(c.router.header_timeout_ms, 3600000);
    cr_assert_eq(c.router.idle_timeout_ms, 1);
    cr_assert_eq(c.router.connect_timeout_ms, 3000);
    cr_assert_eq(c.router.upstream_timeout_ms, 120000);
    cr_assert_eq(c.router.upstream_idle_ms, 15000);
    cr_assert_eq(c.router.max_connections, 1000000);
    cr_assert_eq(c.router.max_idle_upstream, 0);
    char err[512];
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), 0, "%s", err);
    cn_server_config_dispose(&c);
}

Test(serve_config_yaml, the_serve_section_is_read_and_other_sections_ignored)
{
    cn_server_config_t c;
    parse_ok("analysis:\n"
             "  alpha: 0.05\n"
             "  metrics: [{name: x, test: ks}]\n"
             "serve:\n"
             "  stable: {addresses: [a:1]}\n"
             "  traffic: {canary_weight: 5}\n"
             "rollout: {steps: [1, 5]}\n",
             &c);
    assert_list(&c.router.stable, 1, "a:1", NULL);
    cr_assert_eq(c.router.traffic.canary_weight_bp, 500);
    cn_server_config_dispose(&c);
}

Test(serve_config_yaml, keys_present_change_and_the_rest_stay)
{
    cn_server_config_t c;
    parse_ok("traffic: {canary_weight: 1, sticky_header: X-A}\nstate: /a\n", &c);
    char err[512];
    /* A second file (an override) changes only what it names; ~ and ""
     * unset a key that may be unset. */
    cr_assert_eq(
        parse(&c, "traffic: {mode: shadow, sticky_header: ~}\nstate: ''\n", err), 0,
        "%s", err);
    cr_assert_eq(c.router.traffic.canary_weight_bp, 100);
    cr_assert_eq(c.router.traffic.mode, CN_TRAFFIC_MODE_SHADOW);
    cr_assert_null(c.router.sticky_header);
    cr_assert_null(c.store.path);
    cr_assert_str_eq(c.router.listen, "0.0.0.0:8080");
    cr_assert_eq(parse(&c, "health: {path: ~}\ncanary: {addresses: ~}\n", err), 0, "%s",
                 err);
    cr_assert_null(c.router.health_path);
    cr_assert_eq(c.router.canary.count, 0);
    cn_server_config_dispose(&c);
}

Test(serve_config_yaml, an_empty_file_sets_nothing)
{
    const char *empties[] = {"", "# only a comment\n", "---\n", "~\n"};
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        cn_server_config_t c;
        parse_ok(empties[i], &c);
        cr_assert_str_eq(c.router.listen, "0.0.0.0:8080");
        cn_server_config_dispose(&c);
    }
    cn_server_config_t c;
    cn_server_config_init(&c);
    char err[64];
    cr_assert_eq(cn_server_config_parse_yaml(&c, NULL, 0, "x", err, sizeof err), 0);
    cn_server_config_dispose(&c);
}

Test(serve_config_yaml, percentages_are_numbers_or_strings)
{
    cn_server_config_t c;
    parse_ok("traffic: {canary_weight: 2.5, shadow_percent: '7.25'}\n", &c);
    cr_assert_eq(c.router.traffic.canary_weight_bp, 250);
    cr_assert_eq(c.router.traffic.shadow_bp, 725);
    cn_server_config_dispose(&c);
    parse_ok("traffic: {canary_weight: 100, shadow_percent: 5%}\n", &c);
    cr_assert_eq(c.router.traffic.canary_weight_bp, 10000);
    cr_assert_eq(c.router.traffic.shadow_bp, 500);
    cn_server_config_dispose(&c);
}

Test(serve_config_yaml, anchors_flow_style_and_crlf_are_yaml_as_usual)
{
    cn_server_config_t c;
    parse_ok("# comment\r\n"
             "stable: {addresses: &s [a:1, b:2]}\r\n"
             "canary: {addresses: *s, version: 'it''s'}\r\n",
             &c);
    assert_list(&c.router.stable, 2, "a:1", "b:2");
    assert_list(&c.router.canary, 2, "a:1", "b:2");
    cr_assert_str_eq(c.router.canary_version, "it's");
    cn_server_config_dispose(&c);
}

Test(serve_config_yaml, the_buffer_need_not_be_nul_terminated)
{
    const char text[] = "workers: 12";
    cn_server_config_t c;
    cn_server_config_init(&c);
    char err[512];
    cr_assert_eq(
        cn_server_config_parse_yaml(&c, text, sizeof text - 2, "c.yaml", err, 512), 0,
        "%s", err);
    cr_assert_eq(c.router.workers, 1);
    cn_server_config_dispose(&c);
}

/* ------------------------------------------------------------- flags */

Test(serve_config_flags, every_flag_sets_its_field)
{
    cn_server_config_t c;
    cn_server_config_init(&c);
    flag_ok(&c, "listen", "127.0.0.1:0");
    flag_ok(&c, "admin", "http://[::1]:9");
    flag_ok(&c, "stable", "a:1, b:2");
    flag_ok(&c, "canary", "c:3");
    flag_ok(&c, "canary-weight", "0.01");
    flag_ok(&c, "mode", "shadow");
    flag_ok(&c, "workers", "256");
    flag_ok(&c, "state", "s.db");
    flag_ok(&c, "token-file", "t");
    flag_ok(&c, "stable-version", "v1");
    flag_ok(&c, "canary-version", "v2");
    flag_ok(&c, "shadow-percent", "33.3");
    flag_ok(&c, "force-header", "X-F");
    flag_ok(&c, "force", "true");
    flag_ok(&c, "sticky-header", "X-U");
    flag_ok(&c, "sticky-cookie", "u");
    flag_ok(&c, "no-retry", NULL);
    flag_ok(&c, "segment-header", "X-R");
    flag_ok(&c, "segments", "eu,us");
    flag_ok(&c, "max-segments", "1024");
    flag_ok(&c, "prediction", "tf-serving");
    flag_ok(&c, "prediction-buckets", "0.5,1,2.5");
    flag_ok(&c, "reservoir-size", "10000000");
    flag_ok(&c, "request-id-map-size", "100000000");
    flag_ok(&c, "health-path", "/up");
    flag_ok(&c, "health-interval", "10ms");
    flag_ok(&c, "health-timeout", "10");
    flag_ok(&c, "passive-failures", "1000");
    flag_ok(&c, "passive-cooldown", "1h");
    flag_ok(&c, "max-header-bytes", "80KiB");
    flag_ok(&c, "max-body-bytes", "1");
    flag_ok(&c, "header-timeout", "1s");
    flag_ok(&c, "idle-timeout", "2s");
    flag_ok(&c, "connect-timeout", "3s");
    flag_ok(&c, "upstream-timeout", "4s");
    flag_ok(&c, "upstream-idle", "5s");
    flag_ok(&c, "max-connections", "1");
    flag_ok(&c, "max-idle-upstream", "100000");
    flag_ok(&c, "memory-budget", "1024GiB");

    cr_assert_str_eq(c.router.listen, "127.0.0.1:0");
    cr_assert_str_eq(c.admin.address, "[::1]:9", "http:// is dropped");
    assert_list(&c.router.stable, 2, "a:1", "b:2");
    assert_list(&c.router.canary, 1, "c:3", NULL);
    cr_assert_eq(c.router.traffic.canary_weight_bp, 1);
    cr_assert_eq(c.router.traffic.mode, CN_TRAFFIC_MODE_SHADOW);
    cr_assert_eq(c.router.workers, 256);
    cr_assert_str_eq(c.store.path, "s.db");
    cr_assert_str_eq(c.own.token_file, "t");
    cr_assert_str_eq(c.router.stable_version, "v1");
    cr_assert_str_eq(c.router.canary_version, "v2");
    cr_assert_eq(c.router.traffic.shadow_bp, 3330);
    cr_assert_str_eq(c.router.force_header, "X-F");
    cr_assert_eq(c.router.traffic.force_enabled, true);
    cr_assert_str_eq(c.router.sticky_header, "X-U");
    cr_assert_str_eq(c.router.sticky_cookie, "u");
    cr_assert_eq(c.router.retry_on_stable, false);
    cr_assert_str_eq(c.router.segment_header, "X-R");
    cr_assert_eq(c.router.segments.count, 2);
    cr_assert_eq(c.router.max_segments, 1024);
    cr_assert_str_eq(c.router.prediction, "tf-serving");
    cr_assert_eq(c.router.n_prediction_buckets, 3);
    cr_assert_eq(c.router.prediction_buckets[2], 2.5);
    cr_assert_eq(c.router.reservoir_size, 10000000);
    cr_assert_eq(c.router.request_id_map_size, 100000000);
    cr_assert_str_eq(c.router.health_path, "/up");
    cr_assert_eq(c.router.health_interval_ms, 10);
    cr_assert_eq(c.router.health_timeout_ms, 10);
    cr_assert_eq(c.router.passive_failures, 1000);
    cr_assert_eq(c.router.passive_cooldown_ms, 3600000);
    cr_assert_eq(c.router.max_header_bytes, 81920);
    cr_assert_eq(c.router.max_body_bytes, 1);
    cr_assert_eq(c.router.header_timeout_ms, 1000);
    cr_assert_eq(c.router.idle_timeout_ms, 2000);
    cr_assert_eq(c.router.connect_timeout_ms, 3000);
    cr_assert_eq(c.router.upstream_timeout_ms, 4000);
    cr_assert_eq(c.router.upstream_idle_ms, 5000);
    cr_assert_eq(c.router.max_connections, 1);
    cr_assert_eq(c.router.max_idle_upstream, 100000);
    cr_assert_eq(c.router.memory_budget_bytes, (uint64_t)1 << 40);
    char err[512];
    /* Every maximum at once is far beyond any memory budget. */
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "key 'limits.memory_budget' (--memory-budget): ") == err,
              "%s", err);
    flag_ok(&c, "workers", "1");
    flag_ok(&c, "request-id-map-size", "1000");
    flag_ok(&c, "reservoir-size", "1000");
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), 0, "%s", err);
    cn_server_config_dispose(&c);
}

Test(serve_config_flags, booleans_switches_and_unsetting)
{
    cn_server_config_t c;
    cn_server_config_init(&c);
    flag_ok(&c, "force", NULL);
    cr_assert_eq(c.router.traffic.force_enabled, true,
                 "a bare boolean flag means true");
    flag_ok(&c, "force", "false");
    cr_assert_eq(c.router.traffic.force_enabled, false);
    flag_ok(&c, "no-retry", NULL);
    cr_assert_eq(c.router.retry_on_stable, false);
    flag_ok(&c, "retry-on-stable", "true");
    cr_assert_eq(c.router.retry_on_stable, true);
    flag_ok(&c, "retry-on-stable", NULL);
    cr_assert_eq(c.router.retry_on_stable, true);
    flag_ok(&c, "state", "x.db");
    flag_ok(&c, "state", "");
    cr_assert_null(c.store.path, "'' unsets");
    flag_ok(&c, "health-path", "");
    cr_assert_null(c.router.health_path);
    flag_ok(&c, "stable", "a:1");
    flag_ok(&c, "stable", "");
    cr_assert_eq(c.router.stable.count, 0, "'' is the empty list");
    cn_server_config_dispose(&c);
}

Test(serve_config_flags, flags_override_the_file)
{
    cn_server_config_t c;
    parse_ok("traffic: {canary_weight: 5, mode: sticky}\nstable: {addresses: [a:1]}\n",
             &c);
    flag_ok(&c, "canary-weight", "7.5");
    flag_ok(&c, "stable", "b:2,c:3");
    cr_assert_eq(c.router.traffic.canary_weight_bp, 750);
    cr_assert_eq(c.router.traffic.mode, CN_TRAFFIC_MODE_STICKY);
    assert_list(&c.router.stable, 2, "b:2", "c:3");
    cn_server_config_dispose(&c);
}

Test(serve_config_flags, bad_values_give_one_line_and_change_nothing)
{
    static const struct {
        const char *name, *value;
        int rc;
        const char *message;
    } cases[] = {
        {"canary-weight", "150", CN_EINVAL,
         "--canary-weight: must be a percentage in [0, 100] with at most 2 decimals, "
         "got '150'"},
        {"canary-weight", "2.555", CN_EINVAL,
         "--canary-weight: must be a percentage in [0, 100] with at most 2 decimals, "
         "got '2.555'"},
        {"bogus", "1", CN_ENOTFOUND, "--bogus: unknown option"},
        {"listen", NULL, CN_EINVAL, "--listen: needs a value"},
        {"stable", "a:1,a:1", CN_EINVAL, "--stable: duplicate address 'a:1'"},
        {"stable", "a:1,,b:2", CN_EINVAL,
         "--stable: must not have an empty item, got 'a:1,,b:2'"},
        {"stable", "a:1,", CN_EINVAL,
         "--stable: must not have an empty item, got 'a:1,'"},
        {"stable", "a:0", CN_EINVAL,
         "--stable: must be an address host:port or [ipv6]:port with a port in [1, "
         "65535], got 'a:0'"},
        {"canary", "https://b:1", CN_EINVAL,
         "--canary: must be an address host:port or [ipv6]:port with a port in [1, "
         "65535], got 'https://b:1'"},
        {"listen", "0.0.0.0", CN_EINVAL,
         "--listen: must be an address host:port, [ipv6]:port or :port with a port in "
         "[0, 65535], got '0.0.0.0'"},
        {"mode", "canary", CN_EINVAL,
         "--mode: must be one of random, sticky, shadow, got 'canary'"},
        {"workers", "257", CN_EINVAL,
         "--workers: must be an integer in [0, 256], got '257'"},
        {"force", "yes", CN_EINVAL, "--force: must be true or false, got 'yes'"},
        {"no-retry", "maybe", CN_EINVAL,
         "--no-retry: must be true or false, got 'maybe'"},
        {"max-header-bytes", "81KiB", CN_EINVAL,
         "--max-header-bytes: must be a size in [1KiB, 80KiB], got '81KiB'"},
        {"max-body-bytes", "lots", CN_EINVAL,
         "--max-body-bytes: must be a size like 16MiB, got 'lots'"},
        {"health-interval", "1ms", CN_EINVAL,
         "--health-interval: must be a duration in [10ms, 1h], got '1ms'"},
        {"idle-timeout", "soon", CN_EINVAL,
         "--idle-timeout: must be a duration like 250ms, 10s or 2m, got 'soon'"},
        {"prediction-buckets", "1,0.5", CN_EINVAL,
         "--prediction-buckets: bounds must be strictly ascending, got 0.5 after 1"},
        {"prediction-buckets", "", CN_EINVAL,
         "--prediction-buckets: must be a list of 1 to 1024 finite numbers in "
         "ascending "
         "order, got an empty list"},
        {"prediction-buckets", "0,nan", CN_EINVAL,
         "--prediction-buckets: must be a finite number, got 'nan'"},
        {"prediction", "kserve", CN_EINVAL,
         "--prediction: must be a preset (kserve-v2, open-inference, tf-serving) or a "
         "JSON pointer starting with '/', got 'kserve'"},
        {"sticky-header", "X User", CN_EINVAL,
         "--sticky-header: must be an HTTP header name (letters, digits and "
         "!#$%&'*+-.^_`|~, at most 128), got 'X User'"},
        {"stable-version", "", CN_EINVAL, "--stable-version: must not be empty"},
        {"canary-version", "a\"b", CN_EINVAL,
         "--canary-version: must be a label of 1 to 63 visible ASCII characters, no "
         "quotes or backslashes, got 'a\"b'"},
        {"health-path", "healthz", CN_EINVAL,
         "--health-path: must be a URL path starting with '/', without spaces, got "
         "'healthz'"},
        /* Not UTF-8: the effective YAML could not hold it (found by fuzzing). */
        {"state", "\x8a\xff.db", CN_EINVAL, "--state: must be UTF-8 text, got '??.db'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_server_config_t c;
        cn_server_config_init(&c);
        char err[512];
        int rc = cn_server_config_set_flag(&c, cases[i].name, cases[i].value, err,
                                           sizeof err);
        cr_assert_eq(rc, cases[i].rc, "--%s: rc %d", cases[i].name, rc);
        cr_assert_str_eq(err, cases[i].message);
        cr_assert_eq(c.router.stable.count, 0, "unchanged");
        cr_assert_eq(c.router.traffic.canary_weight_bp, 0);
        cr_assert_eq(c.router.n_prediction_buckets, 51);
        cr_assert_str_eq(c.router.prediction, "kserve-v2");
        cn_server_config_dispose(&c);
    }
}

/* ------------------------------------------------------ documentation */

/*
 * Is `key` ("traffic.canary_weight") written as a key in the example: its
 * section at two spaces under serve:, then the key at four spaces, before
 * the next section? Top-level keys sit at two spaces.
 */
static int documented(const char *text, const char *key)
{
    char line[160];
    const char *dot = strchr(key, '.');
    if (!dot) {
        snprintf(line, sizeof line, "\n  %s:", key);
        return strstr(text, line) != NULL;
    }
    snprintf(line, sizeof line, "\n  %.*s:\n", (int)(dot - key), key);
    const char *section = strstr(text, line);
    if (!section)
        return 0;
    section += strlen(line) - 1;
    /* The section ends at the next line with at most two spaces of indent
     * that is not a comment. */
    const char *end = section;
    while ((end = strchr(end + 1, '\n')) != NULL)
        if (end[1] != '\n' && strncmp(end + 1, "   ", 3) != 0 &&
            strncmp(end + 1, "  #", 3) != 0)
            break;
    snprintf(line, sizeof line, "\n    %s:", dot + 1);
    const char *at = strstr(section, line);
    return at && (!end || at < end);
}

Test(serve_config_docs, every_key_and_flag_is_in_the_example)
{
    size_t len;
    char *text = read_file(EXAMPLE, &len);
    cn_server_config_t c;
    cn_config_part_t parts[CN_SERVER_CONFIG_PARTS];
    size_t np = cn_server_config_parts(&c, parts), n = 0;
    for (size_t p = 0; p < np; p++) {
        for (size_t i = 0; i < parts[p].table->n_keys; i++, n++) {
            const cn_config_key_t *k = &parts[p].table->keys[i];
            cr_expect(documented(text, k->key), "key '%s' is not in %s", k->key,
                      EXAMPLE);
            char flag[80];
            snprintf(flag, sizeof flag, "--%s", k->flag ? k->flag : "");
            cr_expect(!k->flag || strstr(text, flag) != NULL, "flag %s is not in %s",
                      flag, EXAMPLE);
            if (k->negated_flag) {
                snprintf(flag, sizeof flag, "--%s", k->negated_flag);
                cr_expect(strstr(text, flag) != NULL, "flag %s is not in %s", flag,
                          EXAMPLE);
            }
        }
    }
    cr_assert_eq(n, 46);
    /* The check itself can fail. */
    cr_assert(!documented(text, "traffic.listen"));
    cr_assert(!documented(text, "limits.canary_weight"));
    cr_assert(!documented(text, "nowhere"));
    free(text);
}

/* ------------------------------------------------------------ errors */

struct bad_case {
    const char *yaml;
    int rc;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    /* YAML itself */
    {"stable: [\n", CN_EPARSE,
     "c.yaml:1: invalid YAML: flow sequence without a closing bracket"},
    {"workers: 1\nworkers: 2\n", CN_EPARSE, "c.yaml:2: invalid YAML: duplicate key"},
    {"workers: 1\n---\nworkers: 2\n", CN_EPARSE,
     "c.yaml:3: more than one YAML document ('---'); expected one"},
    {"workers: 1\nstate: \xff\n", CN_EPARSE,
     "c.yaml:2: invalid YAML: not UTF-8 (byte 0xFF)"},
    {"%FOO bar\nworkers: 1\n", CN_EPARSE,
     "c.yaml:1: invalid YAML: unsupported directive '%FOO bar' (only %YAML and %TAG)"},
    {"- a\n- b\n", CN_EINVAL,
     "c.yaml:1: the config must be a mapping of keys (listen, workers, stable, canary, "
     "traffic, measure, health, limits, admin, state, model, token_file, "
     "lease, notifications, feedback), got a list"},
    /* unknown keys */
    {"listen: :80\nwrokers: 2\n", CN_EINVAL,
     "c.yaml:2: key 'wrokers': unknown key (expected one of listen, workers, stable, "
     "canary, traffic, measure, health, limits, admin, state, model, token_file, "
     "lease, notifications, feedback)"},
    {"traffic:\n  mode: random\n  weight: 5\n", CN_EINVAL,
     "c.yaml:3: key 'traffic.weight': unknown key (expected one of canary_weight, "
     "mode, shadow_percent, force_header, force_enabled, sticky_header, "
     "sticky_cookie, retry_on_stable)"},
    {"serve:\n  limits:\n    max_body: 1\n", CN_EINVAL,
     "c.yaml:3: key 'serve.limits.max_body': unknown key (expected one of "
     "max_header_bytes, max_body_bytes, header_timeout, idle_timeout, "
     "connect_timeout, upstream_timeout, upstream_idle, max_connections, "
     "max_idle_upstream, memory_budget)"},
    {"stable:\n  addresses: [a:1]\n  version: v1\n  weight: 5\n", CN_EINVAL,
     "c.yaml:4: key 'stable.weight': unknown key (expected one of addresses, "
     "version)"},
    {"listen: :80\nanalysis: {alpha: 0.05}\n", CN_EINVAL,
     "c.yaml:2: key 'analysis': unknown key; to keep the judge's section in this "
     "file, put the serve keys under 'serve:'"},
    {"traffic.mode: random\n", CN_EINVAL,
     "c.yaml:1: key 'traffic.mode': unknown key (expected one of listen, workers, "
     "stable, canary, traffic, measure, health, limits, admin, state, model, "
     "token_file, lease, notifications, feedback)"},
    {"[a]: 1\n", CN_EINVAL, "c.yaml:1: keys must be plain strings, got a list"},
    {"health:\n  ? [a]\n  : 1\n", CN_EINVAL,
     "c.yaml:2: key 'health': keys must be plain strings, got a list"},
    /* bad percentages */
    {"traffic:\n  canary_weight: 2.555\n", CN_EINVAL,
     "c.yaml:2: key 'traffic.canary_weight': must be a percentage in [0, 100] with "
     "at most 2 decimals, got '2.555'"},
    {"traffic:\n  canary_weight: 150\n", CN_EINVAL,
     "c.yaml:2: key 'traffic.canary_weight': must be a percentage in [0, 100] with "
     "at most 2 decimals, got '150'"},
    {"traffic:\n  shadow_percent: -1\n", CN_EINVAL,
     "c.yaml:2: key 'traffic.shadow_percent': must be a percentage in [0, 100] with "
     "at most 2 decimals, got '-1'"},
    {"traffic: {canary_weight: ten}\n", CN_EINVAL,
     "c.yaml:1: key 'traffic.canary_weight': must be a percentage in [0, 100] with "
     "at most 2 decimals, got 'ten'"},
    /* bad durations */
    {"health:\n  interval: soon\n", CN_EINVAL,
     "c.yaml:2: key 'health.interval': must be a duration like 250ms, 10s or 2m, got "
     "'soon'"},
    {"health:\n  interval: 1.5s\n", CN_EINVAL,
     "c.yaml:2: key 'health.interval': must be a duration like 250ms, 10s or 2m, got "
     "'1.5s'"},
    {"limits:\n  upstream_timeout: 2h\n", CN_EINVAL,
     "c.yaml:2: key 'limits.upstream_timeout': must be a duration in [1ms, 1h], got "
     "'2h'"},
    {"limits:\n  connect_timeout: 0\n", CN_EINVAL,
     "c.yaml:2: key 'limits.connect_timeout': must be a duration in [1ms, 1h], got "
     "'0'"},
    /* bad sizes */
    {"limits:\n  max_body_bytes: lots\n", CN_EINVAL,
     "c.yaml:2: key 'limits.max_body_bytes': must be a size like 16MiB, got 'lots'"},
    {"limits:\n  max_body_bytes: 0\n", CN_EINVAL,
     "c.yaml:2: key 'limits.max_body_bytes': must be a size in [1, 1GiB], got '0'"},
    {"limits:\n  max_header_bytes: 100KiB\n", CN_EINVAL,
     "c.yaml:2: key 'limits.max_header_bytes': must be a size in [1KiB, 80KiB], got "
     "'100KiB'"},
    {"limits:\n  max_header_bytes: 512\n", CN_EINVAL,
     "c.yaml:2: key 'limits.max_header_bytes': must be a size in [1KiB, 80KiB], got "
     "'512'"},
    {"limits:\n  max_body_bytes: 16MB\n", CN_EINVAL,
     "c.yaml:2: key 'limits.max_body_bytes': must be a size like 16MiB, got '16MB'"},
    /* bad addresses */
    {"listen: 8080\n", CN_EINVAL,
     "c.yaml:1: key 'listen': must be an address host:port, [ipv6]:port or :port with "
     "a port in [0, 65535], got '8080'"},
    {"admin: 127.0.0.1:65536\n", CN_EINVAL,
     "c.yaml:1: key 'admin': must be an address host:port, [ipv6]:port or :port with "
     "a port in [0, 65535], got '127.0.0.1:65536'"},
    {"stable:\n  addresses:\n    - a:1\n    - b:99999\n", CN_EINVAL,
     "c.yaml:4: key 'stable.addresses[1]': must be an address host:port or "
     "[ipv6]:port with a port in [1, 65535], got 'b:99999'"},
    {"canary: {addresses: [\"[::g]:80\"]}\n", CN_EINVAL,
     "c.yaml:1: key 'canary.addresses[0]': must be an address host:port or "
     "[ipv6]:port with a port in [1, 65535], got '[::g]:80'"},
    {"canary: {addresses: [\"999.0.0.1:80\"]}\n", CN_EINVAL,
     "c.yaml:1: key 'canary.addresses[0]': must be an address host:port or "
     "[ipv6]:port with a port in [1, 65535], got '999.0.0.1:80'"},
    {"canary: {addresses: [\"a b:80\"]}\n", CN_EINVAL,
     "c.yaml:1: key 'canary.addresses[0]': must be an address host:port or "
     "[ipv6]:port with a port in [1, 65535], got 'a b:80'"},
    {"canary: {addresses: [\":80\"]}\n", CN_EINVAL,
     "c.yaml:1: key 'canary.addresses[0]': must be an address host:port or "
     "[ipv6]:port with a port in [1, 65535], got ':80'"},
    {"stable:\n  addresses: [a:1, b:2, http://a:1]\n", CN_EINVAL,
     "c.yaml:2: key 'stable.addresses[2]': duplicate address 'http://a:1'"},
    /* wrong types */
    {"stable:\n  addresses: a:1\n", CN_EINVAL,
     "c.yaml:2: key 'stable.addresses': must be a list of addresses host:port or "
     "[ipv6]:port with a port in [1, 65535], got 'a:1'"},
    {"stable:\n  addresses: [[a:1]]\n", CN_EINVAL,
     "c.yaml:2: key 'stable.addresses[0]': must be an address host:port, got a list"},
    {"stable: [a:1]\n", CN_EINVAL,
     "c.yaml:1: key 'stable': must be a mapping of keys (addresses, version), got a "
     "list"},
    {"traffic: ~\n", CN_EINVAL,
     "c.yaml:1: key 'traffic': must be a mapping of keys (canary_weight, mode, "
     "shadow_percent, force_header, force_enabled, sticky_header, sticky_cookie, "
     "retry_on_stable), got null"},
    {"serve: 3\n", CN_EINVAL,
     "c.yaml:1: key 'serve': must be a mapping of keys (listen, workers, stable, "
     "canary, traffic, measure, health, limits, admin, state, model, token_file, "
     "lease, notifications, feedback), got "
     "'3'"},
    {"workers: \"4\"\n", CN_EINVAL,
     "c.yaml:1: key 'workers': must be an integer in [0, 256], got the string '4'"},
    {"workers: 4.5\n", CN_EINVAL,
     "c.yaml:1: key 'workers': must be an integer in [0, 256], got '4.5'"},
    {"workers: -1\n", CN_EINVAL,
     "c.yaml:1: key 'workers': must be an integer in [0, 256], got '-1'"},
    {"workers:\n", CN_EINVAL,
     "c.yaml:1: key 'workers': must be an integer in [0, 256], got null"},
    {"workers: [4]\n", CN_EINVAL,
     "c.yaml:1: key 'workers': must be an integer in [0, 256], got a list"},
    {"traffic: {force_enabled: yes}\n", CN_EINVAL,
     "c.yaml:1: key 'traffic.force_enabled': must be true or false, got 'yes'"},
    {"traffic: {force_enabled: 'true'}\n", CN_EINVAL,
     "c.yaml:1: key 'traffic.force_enabled': must be true or false, got the string "
     "'true'"},
    {"traffic: {mode: canary}\n", CN_EINVAL,
     "c.yaml:1: key 'traffic.mode': must be one of random, sticky, shadow, got "
     "'canary'"},
    {"traffic: {force_header: ~}\n", CN_EINVAL,
     "c.yaml:1: key 'traffic.force_header': must be an HTTP header name (letters, "
     "digits and !#$%&'*+-.^_`|~, at most 128), got null"},
    {"traffic: {sticky_cookie: 'a=b'}\n", CN_EINVAL,
     "c.yaml:1: key 'traffic.sticky_cookie': must be a cookie name (letters, digits "
     "and !#$%&'*+-.^_`|~, at most 128), got 'a=b'"},
    {"stable: {version: ''}\n", CN_EINVAL,
     "c.yaml:1: key 'stable.version': must not be empty"},
    {"stable: {version: !custom v1}\n", CN_EINVAL,
     "c.yaml:1: key 'stable.version': unsupported YAML tag '!custom'"},
    {"state: *nowhere\n", CN_EINVAL,
     "c.yaml:1: key 'state': alias '*nowhere' refers to no anchor"},
    {"measure:\n  prediction: kserve\n", CN_EINVAL,
     "c.yaml:2: key 'measure.prediction': must be a preset (kserve-v2, "
     "open-inference, tf-serving) or a JSON pointer starting with '/', got 'kserve'"},
    {"measure:\n  prediction: /a~2\n", CN_EINVAL,
     "c.yaml:2: key 'measure.prediction': JSON pointer '/a~2': '~' at offset 2 must "
     "be followed by '0' or '1'"},
    {"measure:\n  prediction_buckets: [0.1, 0.1]\n", CN_EINVAL,
     "c.yaml:2: key 'measure.prediction_buckets[1]': bounds must be strictly "
     "ascending, got 0.1 after 0.1"},
    {"measure:\n  prediction_buckets: []\n", CN_EINVAL,
     "c.yaml:2: key 'measure.prediction_buckets': must be a list of 1 to 1024 finite "
     "numbers in ascending order, got an empty list"},
    {"measure:\n  prediction_buckets: [0, .inf]\n", CN_EINVAL,
     "c.yaml:2: key 'measure.prediction_buckets[1]': must be a finite number, got "
     "'.inf'"},
    {"measure:\n  prediction_buckets: [0, '1']\n", CN_EINVAL,
     "c.yaml:2: key 'measure.prediction_buckets[1]': must be a finite number, got the "
     "string '1'"},
    {"measure: {segments: [eu, eu]}\n", CN_EINVAL,
     "c.yaml:1: key 'measure.segments[1]': duplicate value 'eu'"},
    {"measure: {segments: [_other]}\n", CN_EINVAL,
     "c.yaml:1: key 'measure.segments[0]': must be a segment value of 1 to 64 visible "
     "ASCII characters, no quotes or backslashes, not _other, got '_other'"},
    {"measure: {max_segments: 0}\n", CN_EINVAL,
     "c.yaml:1: key 'measure.max_segments': must be an integer in [1, 1024], got '0'"},
    {"measure: {reservoir_size: 10000001}\n", CN_EINVAL,
     "c.yaml:1: key 'measure.reservoir_size': must be an integer in [1, 10000000], "
     "got '10000001'"},
    {"health: {path: healthz}\n", CN_EINVAL,
     "c.yaml:1: key 'health.path': must be a URL path starting with '/', without "
     "spaces, got 'healthz'"},
    {"serve:\n  listen: :80\nlimits:\n  max_body_bytes: 1MiB\n", CN_EINVAL,
     "c.yaml:3: key 'limits': a serve key outside the 'serve:' section; indent it "
     "under 'serve:'"},
    /* the section form names its keys under serve. */
    {"analysis: {}\nserve:\n  traffic:\n    canary_weight: 2.555\n", CN_EINVAL,
     "c.yaml:4: key 'serve.traffic.canary_weight': must be a percentage in [0, 100] "
     "with at most 2 decimals, got '2.555'"},
};

Test(serve_config_errors, each_bad_input_gives_one_exact_line)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *b = &bad_cases[i];
        cn_server_config_t c;
        cn_server_config_init(&c);
        char err[512];
        int rc = parse(&c, b->yaml, err);
        cr_expect_eq(rc, b->rc, "case %zu: rc %d for:\n%s", i, rc, b->yaml);
        cr_expect_str_eq(err, b->message, "case %zu: %s", i, err);
        cr_expect_null(strchr(err, '\n'), "one line");
        cn_server_config_dispose(&c);
    }
}

Test(serve_config_errors, a_long_value_is_cut_in_the_message)
{
    char yaml[400];
    snprintf(yaml, sizeof yaml, "limits: {max_body_bytes: lots%0300d}\n", 7);
    cn_server_config_t c;
    cn_server_config_init(&c);
    char err[512];
    cr_assert_eq(parse(&c, yaml, err), CN_EINVAL);
    cr_assert(strstr(err, "...'") != NULL, "%s", err);
    cr_assert_lt(strlen(err), 160);
    cn_server_config_dispose(&c);
}

/* ---------------------------------------------------------- validate */

static void valid_base(cn_server_config_t *c)
{
    cn_server_config_init(c);
    flag_ok(c, "stable", "s:1");
}

static void expect_invalid(cn_server_config_t *c, const char *message)
{
    char err[512];
    cr_assert_eq(cn_server_config_validate(c, err, sizeof err), CN_EINVAL, "%s",
                 message);
    cr_assert_str_eq(err, message);
    cn_server_config_dispose(c);
}

Test(serve_config_validate, a_stable_address_is_enough)
{
    cn_server_config_t c;
    valid_base(&c);
    char err[512];
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), 0, "%s", err);
    cn_server_config_dispose(&c);
}

/* A state file saved during a parity check holds stable's servers in
 * both sets, the canary's under the parity label: it must start again. */
Test(serve_config_validate, a_parity_arm_may_share_stable_addresses)
{
    cn_server_config_t c;
    valid_base(&c);
    flag_ok(&c, "stable-version", "v1");
    flag_ok(&c, "canary-version", "v1+parity");
    flag_ok(&c, "canary", "s:1");
    char err[512];
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), 0, "%s", err);
    cn_server_config_dispose(&c);
    valid_base(&c);
    flag_ok(&c, "stable-version", "v1");
    flag_ok(&c, "canary-version", "v2+parity");
    flag_ok(&c, "canary", "s:1");
    expect_invalid(&c, "key 'canary.addresses' (--canary): 's:1' is also a stable "
                       "address; one server cannot be measured as two versions");
}

Test(serve_config_validate, cross_field_failures)
{
    cn_server_config_t c;
    cn_server_config_init(&c);
    expect_invalid(&c, "key 'stable.addresses' (--stable): at least one stable "
                       "address is required");

    valid_base(&c);
    flag_ok(&c, "canary-weight", "0.01");
    expect_invalid(&c, "key 'canary.addresses' (--canary): required when the canary "
                       "weight is above 0 or the mode is shadow");

    valid_base(&c);
    flag_ok(&c, "mode", "shadow");
    expect_invalid(&c, "key 'canary.addresses' (--canary): required when the canary "
                       "weight is above 0 or the mode is shadow");

    valid_base(&c);
    flag_ok(&c, "mode", "sticky");
    expect_invalid(&c, "key 'traffic.mode' (--mode): sticky mode needs "
                       "traffic.sticky_header (--sticky-header) or "
                       "traffic.sticky_cookie (--sticky-cookie)");

    valid_base(&c);
    flag_ok(&c, "canary-version", "stable");
    expect_invalid(&c, "key 'canary.version' (--canary-version): must differ from "
                       "stable.version, both are 'stable'");

    valid_base(&c);
    flag_ok(&c, "canary", "c:2,s:1");
    expect_invalid(&c, "key 'canary.addresses' (--canary): 's:1' is also a stable "
                       "address; one server cannot be measured as two versions");

    valid_base(&c);
    flag_ok(&c, "admin", "0.0.0.0:8080");
    expect_invalid(&c, "key 'admin' (--admin): must differ from listen, both are "
                       "'0.0.0.0:8080'");

    valid_base(&c);
    flag_ok(&c, "health-timeout", "3s");
    expect_invalid(&c, "key 'health.timeout' (--health-timeout): must be at most "
                       "health.interval (2000ms), got 3000ms");
}

Test(serve_config_validate, what_passes_the_cross_field_checks)
{
    cn_server_config_t c;
    char err[512];
    valid_base(&c);
    flag_ok(&c, "mode", "sticky");
    flag_ok(&c, "sticky-cookie", "uid");
    flag_ok(&c, "listen", "127.0.0.1:0");
    flag_ok(&c, "admin", "127.0.0.1:0");
    flag_ok(&c, "health-path", "");
    flag_ok(&c, "health-timeout", "1h"); /* no active checks: no constraint */
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), 0, "%s", err);
    cn_server_config_dispose(&c);

    valid_base(&c);
    flag_ok(&c, "canary", "c:1");
    flag_ok(&c, "canary-weight", "100");
    cr_assert_eq(cn_server_config_validate(&c, err, sizeof err), 0, "%s", err);
    cn_server_config_dispose(&c);
}

Test(serve_config_validate, a_config_built_in_code_meets_the_same_bounds)
{
    cn_server_config_t c;

    valid_base(&c);
    c.router.prediction_buckets[3] = c.router.prediction_buckets[2];
    expect_invalid(&c, "key 'measure.prediction_buckets' (--prediction-buckets): "
                       "bounds must be strictly ascending, got 0.04 after 0.04");

    valid_base(&c);
    c.router.prediction_buckets[10] = NAN;
    expect_invalid(&c, "key 'measure.prediction_buckets' (--prediction-buckets): "
                       "bounds must be finite, got nan");

    valid_base(&c);
    c.router.n_prediction_buckets = 0;
    expect_invalid(&c, "key 'measure.prediction_buckets' (--prediction-buckets): "
                       "must be a list of 1 to 1024 finite numbers in ascending "
                       "order, got an empty list");

    valid_base(&c);
    free(c.router.prediction);
    c.router.prediction = strdup("/a~");
    expect_invalid(&c, "key 'measure.prediction' (--prediction): JSON pointer "
                       "'/a~': '~' at offset 2 must be followed by '0' or '1'");

    valid_base(&c);
    c.router.max_header_bytes = 100 * 1024;
    expect_invalid(&c, "key 'limits.max_header_bytes' (--max-header-bytes): must be "
                       "a size in [1KiB, 80KiB], got '100KiB'");

    valid_base(&c);
    c.router.traffic.canary_weight_bp = 10001;
    expect_invalid(&c, "key 'traffic.canary_weight' (--canary-weight): must be a "
                       "percentage in [0, 100] with at most 2 decimals, got "
                       "'100.01'");

    valid_base(&c);
    c.router.traffic.mode = (cn_traffic_mode_t)7;
    expect_invalid(&c, "key 'traffic.mode' (--mode): must be one of random, sticky, "
                       "shadow, got 7");

    valid_base(&c);
    c.router.workers = 1000;
    expect_invalid(&c, "key 'workers' (--workers): must be an integer in [0, 256], got "
                       "'1000'");

    valid_base(&c);
    free(c.router.listen);
    c.router.listen = NULL;
    expect_invalid(&c, "key 'listen' (--listen): must be set");

    valid_base(&c);
    free(c.router.stable.items[0]);
    c.router.stable.items[0] = strdup("nope");
    expect_invalid(&c, "key 'stable.addresses' (--stable): must be an address "
                       "host:port or [ipv6]:port with a port in [1, 65535], got "
                       "'nope'");
}

Test(serve_config_validate, the_prediction_compiles_from_a_preset_or_a_pointer)
{
    cn_server_config_t c;
    cn_server_config_init(&c);
    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_config_prediction(&c.router, &p, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(p.ntokens, 4, "kserve-v2 is /outputs/0/data/0");
    cn_router_pointer_dispose(&p);
    flag_ok(&c, "prediction", "/score");
    cr_assert_eq(cn_router_config_prediction(&c.router, &p, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(p.ntokens, 1);
    cr_assert_str_eq(p.tokens[0].name, "score");
    cn_router_pointer_dispose(&p);
    cn_server_config_dispose(&c);
}

/* The budget counts the cells of all 16 version key slots (a swapped-out
 * version keeps its cells until its slot is reused), not just the two
 * versions of the moment: one more segment costs 16 cells and 2 step
 * cells per worker. */
Test(serve_config_budget, counts_every_version_key_slot)
{
    cn_server_config_t c;
    cn_server_config_init(&c);
    flag_ok(&c, "stable", "s:1");
    flag_ok(&c, "workers", "3");
    flag_ok(&c, "max-segments", "4");
    uint64_t four = cn_router_config_memory_bytes(&c.router);
    flag_ok(&c, "max-segments", "5");
    uint64_t five = cn_router_config_memory_bytes(&c.router);
    uint64_t per_segment = CN_ROUTER_SHARD_KEYS * cn_router_shard_cell_bytes(
                                                      c.router.n_prediction_buckets) +
                           2 * cn_router_shard_step_bytes(10000);
    cr_assert_eq(five - four, 3 * per_segment, "%llu",
                 (unsigned long long)(five - four));
    cr_assert_gt(cn_router_shard_cell_bytes(0), 32 * 1024,
                 "a histogram is in each cell");
    cn_server_config_dispose(&c);
}
