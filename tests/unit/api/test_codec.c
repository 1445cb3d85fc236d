/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The resources' codecs on their own, as a command-line client would link
 * them: no server, no loop.
 */
#include "api/codec.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(codec, parses_a_traffic_body_into_a_partial_change)
{
    cn_controller_change_t c;
    cn_controller_change_init(&c, "cli");
    char err[256];
    const char *body = "{\"canary_weight\": 12.5, \"force_enabled\": true}";
    cr_assert_eq(cn_api_traffic_parse(body, strlen(body), &c, err, sizeof err), 0, "%s",
                 err);
    cr_assert(c.has_canary_weight && c.has_force);
    cr_assert_not(c.has_mode || c.has_shadow || c.has_set[0] || c.has_set[1]);
    cr_assert_eq(c.traffic.canary_weight_bp, 1250);
    cr_assert(c.traffic.force_enabled);
    cn_controller_change_dispose(&c);
}

Test(codec, leaves_the_change_as_it_was_on_an_error)
{
    cn_controller_change_t c;
    cn_controller_change_init(&c, "cli");
    char err[256];
    const char *body = "{\"canary_weight\": 12.5, \"mode\": \"fast\"}";
    cr_assert_eq(cn_api_traffic_parse(body, strlen(body), &c, err, sizeof err),
                 CN_EINVAL);
    cr_assert_not(c.has_canary_weight);
    cr_assert(strstr(err, "mode") && strstr(err, "fast"), "%s", err);
    body =
        "{\"canary\": {\"version\": \"v3\", \"addresses\": [\"a:1\"]}, \"stable\": 1}";
    cr_assert_eq(cn_api_versions_parse(body, strlen(body), &c, err, sizeof err),
                 CN_EINVAL);
    cr_assert_not(c.has_set[0] || c.has_set[1]);
    cr_assert_eq(c.sets[1].count, 0);
    cn_controller_change_dispose(&c);
}

Test(codec, parses_versions_and_drops_the_http_scheme)
{
    cn_controller_change_t c;
    cn_controller_change_init(&c, "cli");
    char err[256];
    const char *body = "{\"canary\": {\"version\": \"v3\", \"addresses\": "
                       "[\"http://10.0.0.1:80\", \"[::1]:9\"]}}";
    cr_assert_eq(cn_api_versions_parse(body, strlen(body), &c, err, sizeof err), 0,
                 "%s", err);
    cr_assert_not(c.has_set[CN_ROLE_STABLE]);
    cr_assert(c.has_set[CN_ROLE_CANARY]);
    cr_assert_str_eq(c.sets[1].version, "v3");
    cr_assert_eq(c.sets[1].count, 2);
    cr_assert_str_eq(c.sets[1].addresses[0], "10.0.0.1:80");
    cr_assert_str_eq(c.sets[1].addresses[1], "[::1]:9");
    cn_controller_change_dispose(&c);
}

Test(codec, writes_versions_and_reads_them_back)
{
    cn_generation_t g;
    cn_generation_init(&g);
    g.number = 9;
    cn_version_set_add(&g.sets[0], "127.0.0.1:1");
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    cn_api_versions_write(&w, &g, 4);
    size_t len;
    char *text = cn_jsonw_take(&w, &len);
    cr_assert_str_eq(
        text, "{\"stable\":{\"version\":\"stable\",\"addresses\":[\"127.0.0.1:1\"]},"
              "\"canary\":{\"version\":\"canary\",\"addresses\":[]},"
              "\"generation\":9,\"step\":4}");
    cn_controller_change_t c;
    cn_controller_change_init(&c, "cli");
    char err[256];
    /* The GET body is not a PUT body: generation and step are not keys of
     * a change. */
    cr_assert_eq(cn_api_versions_parse(text, len, &c, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "generation"), "%s", err);
    free(text);
    cn_controller_change_dispose(&c);
    cn_generation_dispose(&g);
}

/* A version to register: the shape is checked here, field by field, and
 * a refused body leaves nothing half-read for the caller to store. */
Test(codec, parses_a_version_to_register_and_names_each_bad_field)
{
    cn_store_version_t v;
    cn_store_version_init(&v);
    char err[256];
    const char *good = "{\"version\": \"v2\", \"addresses\": [\"10.0.0.1:80\", "
                       "\"[::1]:9001\"], \"artifact\": \"s3://b/m\", "
                       "\"metadata\": {\"b\": 1, \"a\": [true]}}";
    cr_assert_eq(cn_api_version_parse(good, strlen(good), &v, err, sizeof err), 0, "%s",
                 err);
    cr_assert_str_eq(v.set.version, "v2");
    cr_assert_eq(v.set.count, 2);
    cr_assert_str_eq(v.set.addresses[1], "[::1]:9001");
    cr_assert_str_eq(v.artifact_uri, "s3://b/m");
    cr_assert_str_eq(v.metadata, "{\"a\":[true],\"b\":1}");
    cn_store_version_dispose(&v);

    static const struct {
        const char *body, *want;
    } bad[] = {
        {"[]", "body: expected an object"},
        {"{\"version\": \"v\"}", "addresses: at least one"},
        {"{\"addresses\": [\"a:1\"]}", "version: required"},
        {"{\"version\": 2, \"addresses\": [\"a:1\"]}", "version: expected a string"},
        {"{\"version\": \"v\", \"addresses\": [\"a:1\", \"a\"]}",
         "addresses[1]: expected host:port"},
        {"{\"version\": \"v\", \"addresses\": [\"a:0\"]}", "addresses[0]: expected"},
        {"{\"version\": \"v\", \"addresses\": [\"a:1\", \"a:1\"]}",
         "addresses[1]: duplicate address 'a:1'"},
        {"{\"version\": \"v\", \"addresses\": [\"a:1\"], \"metadata\": [1]}",
         "metadata: expected an object"},
        {"{\"version\": \"v\", \"addresses\": [\"a:1\"], \"tags\": []}",
         "unknown key \"tags\""},
        {"{\"version\": \"v\", \"version\": \"w\", \"addresses\": [\"a:1\"]}",
         "body: not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_store_version_init(&v);
        cr_assert_eq(
            cn_api_version_parse(bad[i].body, strlen(bad[i].body), &v, err, sizeof err),
            CN_EINVAL, "%s", bad[i].body);
        cr_assert(strstr(err, bad[i].want), "%s: %s", bad[i].body, err);
        cn_store_version_dispose(&v);
    }
}
