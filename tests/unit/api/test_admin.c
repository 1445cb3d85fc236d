/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API, one route at a time, through cn_admin_handle (no
 * sockets): the snapshots and lookups from the fake router (known
 * numbers), the traffic and versions through a real controller over a real
 * router (tests/unit/controller/plane.h). Authentication and its
 * constant-time comparison, the route table, every route's answer, PUT
 * validation, the log line for rejected requests. test_admin_server.c does
 * the same over real sockets.
 */
#include "../controller/plane.h"
#include "api/admin.h"
#include "api/admin_internal.h"
#include "api/ui.h"
#include "fake_router.h"
#include "promtool.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN "s3cret-token"
#define AUTH "Bearer " TOKEN

static fake_router_t fake;
static test_plane_t plane;
static cn_admin_t *admin;
static FILE *admin_log;
static cn_admin_response_t res;

static void setup(void)
{
    fake_router_init(&fake);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&fake);
    char err[256];
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &admin, err,
                              sizeof err),
                 0, "%s", err);
    admin_log = tmpfile();
    cn_admin_set_log(admin, admin_log);
    memset(&res, 0, sizeof res);
}

static void teardown(void)
{
    cn_admin_response_dispose(&res);
    cn_admin_free(admin);
    fclose(admin_log);
    test_plane_stop(&plane);
    cr_assert_eq(fake.snapshots_live, 0, "every snapshot was freed");
}

/* What the router runs now, and its step (1 at start). */
static cn_traffic_t live(void)
{
    cn_traffic_t t;
    cn_router_get_traffic(plane.router, &t);
    return t;
}

static uint64_t live_step(void)
{
    return cn_router_step(plane.router);
}

/* Everything the admin log got so far. */
static const char *log_text(void)
{
    static char buf[4096];
    fflush(admin_log);
    rewind(admin_log);
    size_t n = fread(buf, 1, sizeof buf - 1, admin_log);
    buf[n] = '\0';
    return buf;
}

/*
 * Hand one request to cn_admin_handle; the response is left in `res`
 * (disposed by the next call or teardown). auth is the Authorization
 * header value, or NULL for none.
 */
static void call(enum http_method method, const char *url, const char *auth,
                 const char *body)
{
    cn_http_header_t headers[2];
    cn_http_message_t msg;
    memset(&msg, 0, sizeof msg);
    msg.method = method;
    msg.method_name = http_method_str(method);
    msg.url = url;
    msg.url_len = strlen(url);
    msg.http_major = msg.http_minor = 1;
    msg.keep_alive = true;
    msg.headers = headers;
    headers[0] = (cn_http_header_t){"Host", 4, "localhost", 9};
    msg.nheaders = 1;
    if (auth)
        headers[msg.nheaders++] =
            (cn_http_header_t){"Authorization", 13, auth, strlen(auth)};
    msg.body = body ? body : "";
    msg.body_len = body ? strlen(body) : 0;
    cn_admin_response_dispose(&res);
    cn_admin_handle(admin, &msg, "127.0.0.1", &res);
    cr_assert_not_null(res.body);
    cr_assert_eq(strlen(res.body), res.body_len);
}

/* call(), assert the status, and parse the JSON body (decref it). */
static json_t *call_json(enum http_method method, const char *url, const char *auth,
                         const char *body, unsigned status)
{
    call(method, url, auth, body);
    cr_assert_eq(res.status, status, "%s %s: %u %s", http_method_str(method), url,
                 res.status, res.body);
    cr_assert_str_eq(res.content_type, "application/json");
    json_error_t jerr;
    json_t *j = json_loadb(res.body, res.body_len, 0, &jerr);
    cr_assert_not_null(j, "not JSON: %s: %s", jerr.text, res.body);
    return j;
}

static const char *error_of(json_t *j)
{
    const char *e = json_string_value(json_object_get(j, "error"));
    cr_assert_not_null(e, "no error string");
    return e;
}

/* ------------------------------------------------------------ auth */

Test(admin_auth, compares_tokens_over_the_whole_length_of_both)
{
    cr_assert(cn_admin_token_equal("abc", 3, "abc", 3));
    cr_assert_not(cn_admin_token_equal("abd", 3, "abc", 3));
    cr_assert_not(cn_admin_token_equal("xbc", 3, "abc", 3));
    cr_assert_not(cn_admin_token_equal("ab", 2, "abc", 3), "a prefix");
    cr_assert_not(cn_admin_token_equal("abcd", 4, "abc", 3), "a longer token");
    cr_assert_not(cn_admin_token_equal("", 0, "abc", 3));
    /* Trailing NULs cannot stand in for missing bytes. */
    cr_assert_not(cn_admin_token_equal("abc\0", 4, "abc", 3));
    cr_assert(cn_admin_token_equal("", 0, "", 0));
}

Test(admin_auth, refuses_a_request_without_a_token_and_changes_nothing, .init = setup,
     .fini = teardown)
{
    json_t *j =
        call_json(HTTP_PUT, "/v1/traffic", NULL, "{\"canary_weight\": 50}", 401);
    cr_assert_str_eq(error_of(j), "missing or wrong bearer token");
    cr_assert(res.www_authenticate);
    cr_assert_eq(live().canary_weight_bp, 250);
    cr_assert_eq(live_step(), 1);
    json_decref(j);
}

Test(admin_auth, refuses_wrong_tokens_and_schemes, .init = setup, .fini = teardown)
{
    const char *wrong[] = {"Bearer s3cret-tokeN",
                           "Bearer s3cret-toke",
                           "Bearer s3cret-token2",
                           "Bearer ",
                           "Bearer",
                           "Basic czNjcmV0LXRva2Vu",
                           "s3cret-token",
                           "Bearers3cret-token",
                           "Bearer s3cret token"};
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        json_t *j = call_json(HTTP_PUT, "/v1/traffic", wrong[i],
                              "{\"canary_weight\": 50}", 401);
        cr_assert(res.www_authenticate);
        json_decref(j);
        j = call_json(HTTP_GET, "/v1/samples", wrong[i], NULL, 401);
        json_decref(j);
    }
    cr_assert_eq(live().canary_weight_bp, 250);
    cr_assert_eq(live_step(), 1);
}

Test(admin_auth, accepts_the_scheme_in_any_case_and_extra_spaces, .init = setup,
     .fini = teardown)
{
    const char *right[] = {"Bearer s3cret-token", "bearer s3cret-token",
                           "BEARER   s3cret-token", "Bearer s3cret-token  "};
    for (size_t i = 0; i < sizeof right / sizeof right[0]; i++)
        json_decref(call_json(HTTP_GET, "/v1/traffic", right[i], NULL, 200));
}

Test(admin_auth, hides_which_routes_exist_from_clients_without_a_token, .init = setup,
     .fini = teardown)
{
    json_decref(call_json(HTTP_GET, "/no/such/thing", NULL, NULL, 401));
    json_decref(call_json(HTTP_DELETE, "/v1/traffic", NULL, NULL, 401));
    json_decref(call_json(HTTP_GET, "/no/such/thing", AUTH, NULL, 404));
}

Test(admin_auth, leaves_healthz_and_metrics_open, .init = setup, .fini = teardown)
{
    json_decref(call_json(HTTP_GET, "/healthz", NULL, NULL, 200));
    call(HTTP_GET, "/metrics", NULL, NULL);
    cr_assert_eq(res.status, 200);
}

Test(admin_auth, logs_one_line_per_rejected_request, .init = setup, .fini = teardown)
{
    json_decref(call_json(HTTP_PUT, "/v1/traffic", NULL, "{}", 401));
    json_decref(call_json(HTTP_GET, "/v1/traffic", AUTH, NULL, 200));
    json_decref(call_json(HTTP_GET, "/nope\n", AUTH, NULL, 404));
    cr_assert_str_eq(log_text(), "admin: 401 PUT /v1/traffic from 127.0.0.1\n"
                                 "admin: 404 GET /nope? from 127.0.0.1\n");
}

Test(admin_auth, requires_a_token_to_start)
{
    fake_router_t f;
    fake_router_init(&f);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&f);
    cn_admin_t *a = (cn_admin_t *)&f;
    char err[256];
    cr_assert_eq(
        cn_admin_new("127.0.0.1:0", "", &ops, plane.controller, &a, err, sizeof err),
        CN_EINVAL);
    cr_assert_null(a);
    cr_assert(strstr(err, "token"), "%s", err);
    cr_assert_eq(
        cn_admin_new("127.0.0.1:0", NULL, &ops, plane.controller, &a, err, sizeof err),
        CN_EINVAL);
    test_plane_stop(&plane);
}

/* ------------------------------------------------------------ server setup */

Test(admin_new, binds_port_zero_and_reports_the_port)
{
    fake_router_t f;
    fake_router_init(&f);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&f);
    cn_admin_t *a;
    char err[256];
    cr_assert_eq(
        cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &a, err, sizeof err),
        0, "%s", err);
    const char *addr = cn_admin_address(a);
    cr_assert_eq(strncmp(addr, "127.0.0.1:", 10), 0, "%s", addr);
    cr_assert_gt(atoi(addr + 10), 0, "%s", addr);

    /* The same port again is taken. */
    cn_admin_t *b;
    cr_assert_eq(cn_admin_new(addr, TOKEN, &ops, plane.controller, &b, err, sizeof err),
                 CN_EIO);
    cr_assert_null(b);
    cr_assert(strstr(err, addr), "%s", err);
    cr_assert(strstr(err, "address already in use"), "%s", err);
    cn_admin_free(a);
    cn_admin_free(NULL);
    test_plane_stop(&plane);
}

Test(admin_new, rejects_malformed_addresses_naming_them)
{
    fake_router_t f;
    fake_router_init(&f);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&f);
    cn_admin_t *a;
    char err[256];
    const char *bad[] = {"127.0.0.1",
                         "127.0.0.1:",
                         "127.0.0.1:http",
                         "127.0.0.1:70000",
                         "[::1",
                         "::1:80",
                         ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(
            cn_admin_new(bad[i], TOKEN, &ops, plane.controller, &a, err, sizeof err),
            CN_EINVAL, "%s", bad[i]);
        cr_assert(strstr(err, "expected host:port"), "%s", err);
    }
    cr_assert_eq(
        cn_admin_new("[::1]:0", TOKEN, &ops, plane.controller, &a, err, sizeof err), 0,
        "%s", err);
    cr_assert_eq(strncmp(cn_admin_address(a), "[::1]:", 6), 0, "%s",
                 cn_admin_address(a));
    cn_admin_free(a);
    test_plane_stop(&plane);
}

Test(admin_new, requires_every_operation)
{
    fake_router_t f;
    fake_router_init(&f);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&f);
    ops.lookup = NULL;
    cn_admin_t *a;
    char err[256];
    cr_assert_eq(
        cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &a, err, sizeof err),
        CN_EINVAL);
    ops = fake_router_ops(&f);
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, NULL, &a, err, sizeof err),
                 CN_EINVAL, "a controller is required");
    test_plane_stop(&plane);
}

/* ------------------------------------------------------------ routes */

Test(admin, answers_healthz, .init = setup, .fini = teardown)
{
    call(HTTP_GET, "/healthz", NULL, NULL);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(res.body, "{\"status\":\"ok\"}\n");
    cr_assert_str_eq(res.content_type, "application/json");
}

Test(admin, answers_metrics_in_the_prometheus_text_format, .init = setup,
     .fini = teardown)
{
    call(HTTP_GET, "/metrics", NULL, NULL);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(res.content_type, "text/plain; version=0.0.4; charset=utf-8");
    cr_assert(strstr(res.body, "\ncanary_requests_total{version=\"v1\",role=\"stable\","
                               "segment=\"\"} 100\n"));
    char out[8192];
    cr_assert_eq(promtool_check(res.body, out, sizeof out), 0, "%s", out);
}

Test(admin, answers_503_when_no_snapshot_can_be_had, .init = setup, .fini = teardown)
{
    fake.no_snapshot = true;
    json_decref(call_json(HTTP_GET, "/metrics", NULL, NULL, 503));
    json_decref(call_json(HTTP_GET, "/v1/samples", AUTH, NULL, 503));
}

Test(admin, answers_405_with_allow_for_a_wrong_method, .init = setup, .fini = teardown)
{
    json_t *j = call_json(HTTP_POST, "/healthz", NULL, NULL, 405);
    cr_assert_str_eq(res.allow, "GET, HEAD");
    json_decref(j);
    json_decref(call_json(HTTP_PUT, "/metrics", NULL, NULL, 405));
    j = call_json(HTTP_DELETE, "/v1/traffic", AUTH, NULL, 405);
    cr_assert_str_eq(res.allow, "GET, HEAD, PUT");
    cr_assert(strstr(error_of(j), "DELETE"), "%s", error_of(j));
    json_decref(j);
    json_decref(call_json(HTTP_POST, "/v1/samples", AUTH, NULL, 405));
    json_decref(call_json(HTTP_DELETE, "/v1/requests/req-42", AUTH, NULL, 405));
}

Test(admin, answers_404_in_json_for_unknown_paths, .init = setup, .fini = teardown)
{
    const char *paths[] = {"/ui/",       "/v1",           "/v1/traffic/",
                           "/healthz/x", "/v1/requests/", "/v1/requests/a/b",
                           "/V1/traffic"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        json_t *j = call_json(HTTP_GET, paths[i], AUTH, NULL, 404);
        cr_assert_null(res.allow);
        json_decref(j);
    }
}

Test(admin, answers_get_traffic, .init = setup, .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/traffic", AUTH, NULL, 200);
    cr_assert_str_eq(res.body, "{\"canary_weight\":2.5,\"mode\":\"random\","
                               "\"shadow_percent\":100,\"force_enabled\":false,"
                               "\"step\":1}\n");
    json_decref(j);
}

Test(admin, writes_weights_as_exact_percentages, .init = setup, .fini = teardown)
{
    unsigned bps[] = {0, 1, 10, 99, 250, 1234, 9999, 10000};
    const char *want[] = {"0", "0.01", "0.1", "0.99", "2.5", "12.34", "99.99", "100"};
    for (size_t i = 0; i < 8; i++) {
        char body[64];
        snprintf(body, sizeof body, "{\"canary_weight\": %s}", want[i]);
        json_decref(call_json(HTTP_PUT, "/v1/traffic", AUTH, body, 200));
        cr_assert_eq(live().canary_weight_bp, bps[i]);
        call(HTTP_GET, "/v1/traffic", AUTH, NULL);
        char expect[64];
        snprintf(expect, sizeof expect, "{\"canary_weight\":%s,", want[i]);
        cr_assert_eq(strncmp(res.body, expect, strlen(expect)), 0, "%s", res.body);
    }
}

/* ------------------------------------------------------------ PUT traffic */

Test(admin_traffic, changes_only_the_keys_given, .init = setup, .fini = teardown)
{
    json_t *j = call_json(HTTP_PUT, "/v1/traffic", AUTH, "{\"canary_weight\": 5}", 200);
    cr_assert_eq(live().canary_weight_bp, 500);
    cr_assert_eq(live().shadow_bp, 10000);
    cr_assert_eq(live().mode, CN_TRAFFIC_MODE_RANDOM);
    cr_assert_str_eq(res.body,
                     "{\"canary_weight\":5,\"mode\":\"random\","
                     "\"shadow_percent\":100,\"force_enabled\":false,"
                     "\"step\":2}\n",
                     "the new traffic and the new step");
    json_decref(j);

    j = call_json(HTTP_PUT, "/v1/traffic", AUTH,
                  "{\"mode\": \"shadow\", \"shadow_percent\": 12.25, "
                  "\"force_enabled\": true}",
                  200);
    cr_assert_eq(live().canary_weight_bp, 500);
    cr_assert_eq(live().shadow_bp, 1225);
    cr_assert_eq(live().mode, CN_TRAFFIC_MODE_SHADOW);
    cr_assert(live().force_enabled);
    cr_assert_eq(json_integer_value(json_object_get(j, "step")), 3);
    json_decref(j);
}

Test(admin_traffic, accepts_percentages_with_up_to_two_decimals, .init = setup,
     .fini = teardown)
{
    const char *bodies[] = {"0",   "0.01",  "2.55",  "2.50", "1e1",
                            "100", "100.0", "99.99", "0.1",  "0.0"};
    unsigned want[] = {0, 1, 255, 250, 1000, 10000, 10000, 9999, 10, 0};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_decref(call_json(HTTP_PUT, "/v1/traffic", AUTH,
                              "{\"canary_weight\": 43.21}", 200));
        char body[64];
        snprintf(body, sizeof body, "{\"canary_weight\": %s}", bodies[i]);
        json_decref(call_json(HTTP_PUT, "/v1/traffic", AUTH, body, 200));
        cr_assert_eq(live().canary_weight_bp, want[i], "%s", body);
    }
}

Test(admin_traffic, does_not_publish_an_unchanged_config, .init = setup,
     .fini = teardown)
{
    json_decref(call_json(HTTP_PUT, "/v1/traffic", AUTH,
                          "{\"canary_weight\": 2.5, \"mode\": \"random\"}", 200));
    json_decref(call_json(HTTP_PUT, "/v1/traffic", AUTH, "{}", 200));
    cr_assert_eq(live_step(), 1, "no new measurement step");
    cr_assert_str_empty(test_plane_log(&plane), "nothing published");
}

Test(admin_traffic, rejects_bad_values_naming_the_key_and_the_value, .init = setup,
     .fini = teardown)
{
    static const struct {
        const char *body, *key, *value;
    } cases[] = {
        {"{\"canary_weight\": 2.555}", "canary_weight", "2.555"},
        {"{\"canary_weight\": 2.5500000001}", "canary_weight", "2.5500000001"},
        {"{\"canary_weight\": 0.001}", "canary_weight", "0.001"},
        {"{\"canary_weight\": 101}", "canary_weight", "101"},
        {"{\"canary_weight\": 100.01}", "canary_weight", "100.01"},
        {"{\"canary_weight\": -1}", "canary_weight", "-1"},
        {"{\"canary_weight\": \"5\"}", "canary_weight", "\"5\""},
        {"{\"canary_weight\": true}", "canary_weight", "true"},
        {"{\"canary_weight\": null}", "canary_weight", "null"},
        {"{\"canary_weight\": [5]}", "canary_weight", "[5]"},
        {"{\"shadow_percent\": 100.5}", "shadow_percent", "100.5"},
        {"{\"mode\": \"fast\"}", "mode", "\"fast\""},
        {"{\"mode\": \"Random\"}", "mode", "\"Random\""},
        {"{\"mode\": 1}", "mode", "1"},
        {"{\"force_enabled\": \"yes\"}", "force_enabled", "\"yes\""},
        {"{\"force_enabled\": 1}", "force_enabled", "1"},
        {"{\"canary_weight\": 5, \"weight\": 5}", "weight", "canary_weight"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = call_json(HTTP_PUT, "/v1/traffic", AUTH, cases[i].body, 400);
        const char *e = error_of(j);
        cr_assert(strstr(e, cases[i].key), "%s: %s", cases[i].body, e);
        cr_assert(strstr(e, cases[i].value), "%s: %s", cases[i].body, e);
        json_decref(j);
    }
    cr_assert_eq(live_step(), 1, "nothing was published");
    cr_assert_eq(live().canary_weight_bp, 250);
    cr_assert_eq(live().mode, CN_TRAFFIC_MODE_RANDOM);
}

Test(admin_traffic, changes_nothing_when_one_of_several_keys_is_bad, .init = setup,
     .fini = teardown)
{
    json_t *j = call_json(HTTP_PUT, "/v1/traffic", AUTH,
                          "{\"canary_weight\": 50, \"mode\": \"sticky\", "
                          "\"force_enabled\": \"on\"}",
                          400);
    cr_assert(strstr(error_of(j), "force_enabled"));
    json_decref(j);
    cr_assert_eq(live_step(), 1);
    cr_assert_eq(live().canary_weight_bp, 250);
    cr_assert_eq(live().mode, CN_TRAFFIC_MODE_RANDOM);
}

Test(admin_traffic, rejects_bodies_that_are_not_one_json_object, .init = setup,
     .fini = teardown)
{
    const char *bodies[] = {"",
                            "canary_weight=5",
                            "[1]",
                            "5",
                            "{\"canary_weight\": 5",
                            "{\"canary_weight\": 5, \"canary_weight\": 6}",
                            "{\"canary_weight\": 5} {}"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        json_t *j = call_json(HTTP_PUT, "/v1/traffic", AUTH, bodies[i], 400);
        cr_assert(strstr(error_of(j), "body"), "%s: %s", bodies[i], error_of(j));
        json_decref(j);
    }
    cr_assert_eq(live_step(), 1);
}

Test(admin_traffic, answers_400_naming_the_field_when_the_controller_refuses,
     .init = setup, .fini = teardown)
{
    /* No sticky key is configured. */
    json_t *j = call_json(HTTP_PUT, "/v1/traffic", AUTH, "{\"mode\": \"sticky\"}", 400);
    cr_assert(strstr(error_of(j), "mode: 'sticky' needs a sticky key"), "%s",
              error_of(j));
    json_decref(j);
    cr_assert_eq(live().mode, CN_TRAFFIC_MODE_RANDOM);
    cr_assert_eq(live_step(), 1);
    cr_assert(strstr(log_text(), "admin: 400 PUT /v1/traffic from 127.0.0.1"), "%s",
              log_text());
}

/* The live bug of issue 13 through the API: with no canary addresses,
 * shadow mode was accepted and stored, and the next start refused the
 * state file. */
Test(admin_traffic, refuses_shadow_mode_without_a_canary)
{
    static const char *const flags[] = {"canary", "", "canary-weight", "0", NULL};
    fake_router_init(&fake);
    test_plane_start(&plane, flags, true);
    cn_admin_ops_t ops = fake_router_ops(&fake);
    char err[256];
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &admin, err,
                              sizeof err),
                 0, "%s", err);
    admin_log = tmpfile();
    cn_admin_set_log(admin, admin_log);
    json_t *j = call_json(HTTP_PUT, "/v1/traffic", AUTH, "{\"mode\": \"shadow\"}", 400);
    cr_assert(strstr(error_of(j), "no canary addresses"), "%s", error_of(j));
    json_decref(j);
    cr_assert_eq(live().mode, CN_TRAFFIC_MODE_RANDOM);
    cn_traffic_t stored;
    bool found = true;
    cr_assert_eq(cn_store_load_traffic(plane.store, &stored, &found, err, sizeof err),
                 0);
    cr_assert_not(found, "nothing was stored");
    teardown();
}

/* ------------------------------------------------------------ samples */

static json_t *path(json_t *j, const char *p)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *tok = strtok(buf, "/"); tok && j; tok = strtok(NULL, "/"))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(tok))
                             : json_object_get(j, tok);
    cr_assert_not_null(j, "no %s", p);
    return j;
}

static double num(json_t *j, const char *p)
{
    json_t *v = path(j, p);
    cr_assert(json_is_number(v), "%s is not a number", p);
    return json_number_value(v);
}

Test(admin_samples, gives_the_current_step_per_version_and_segment, .init = setup,
     .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/samples?window=step", AUTH, NULL, 200);
    cr_assert_str_eq(json_string_value(path(j, "window")), "step");
    cr_assert_eq(num(j, "step"), 7);
    cr_assert_eq(num(j, "step_started"), 1700000000.5);
    cr_assert_eq(num(j, "now"), 1700000060.25);
    cr_assert_eq(num(j, "traffic/canary_weight"), 2.5);
    cr_assert_str_eq(json_string_value(path(j, "traffic/mode")), "random");
    cr_assert_str_eq(json_string_value(path(j, "versions/stable/version")), "v1");
    cr_assert_str_eq(json_string_value(path(j, "versions/canary/version")), "v2");
    cr_assert_eq(json_object_size(path(j, "versions/stable/segments")), 2);
    cr_assert_eq(json_object_size(path(j, "versions/canary/segments")), 1);

    json_t *seg = json_object_get(path(j, "versions/stable/segments"), "");
    cr_assert_eq(num(seg, "requests"), 40);
    cr_assert_eq(num(seg, "errors"), 2);
    cr_assert_eq(num(seg, "latency_us/count"), 40);
    /* Quantiles are bucket midpoints: 1000 us is in [1000, 1003], 3000 us
     * in [2992, 3007]. */
    cr_assert_eq(num(seg, "latency_us/p50"), 1001);
    cr_assert_eq(num(seg, "latency_us/p95"), 2999);
    cr_assert_eq(num(seg, "latency_us/p99"), 2999);
    cr_assert_eq(json_array_size(path(seg, "latency_us/sample")), 3);
    cr_assert_eq(num(seg, "latency_us/sample/2"), 1200);
    cr_assert_eq(num(seg, "predictions/seen"), 30);
    cr_assert_eq(num(seg, "predictions/sample/0"), 0.1);
    cr_assert_eq(num(seg, "predictions/sample/2"), 0.9);

    json_t *west =
        json_object_get(path(j, "versions/stable/segments"), "eu \"west\"\n");
    cr_assert_not_null(west, "the segment name survives escaping");
    cr_assert_eq(num(west, "requests"), 0);
    cr_assert(json_is_null(path(west, "latency_us/p50")), "no quantile of nothing");
    cr_assert_eq(json_array_size(path(west, "predictions/sample")), 0);

    json_t *canary = json_object_get(path(j, "versions/canary/segments"), "");
    cr_assert_eq(num(canary, "predictions/sample/1"), 0.55);

    json_t *pairs = path(j, "shadow_pairs");
    cr_assert_eq(json_array_size(pairs), 2);
    cr_assert_str_eq(json_string_value(path(pairs, "1/request_id")), "req-2");
    cr_assert_eq(num(pairs, "1/stable"), 0.7);
    cr_assert_eq(num(pairs, "1/canary"), 0.6);
    json_decref(j);
}

Test(admin_samples, prints_reals_in_their_shortest_form, .init = setup,
     .fini = teardown)
{
    call(HTTP_GET, "/v1/samples", AUTH, NULL);
    cr_assert_eq(res.status, 200);
    cr_assert(strstr(res.body, "\"sample\":[0.1,0.5,0.9]"), "%s", res.body);
    cr_assert(strstr(res.body, "\"now\":1700000060.25"), "%s", res.body);
}

Test(admin_samples, defaults_to_the_step_window, .init = setup, .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/samples", AUTH, NULL, 200);
    cr_assert_str_eq(json_string_value(path(j, "window")), "step");
    json_decref(j);
}

Test(admin_samples, gives_cumulative_counts_without_samples_for_all, .init = setup,
     .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/samples?window=all", AUTH, NULL, 200);
    cr_assert_str_eq(json_string_value(path(j, "window")), "all");
    json_t *seg = json_object_get(path(j, "versions/stable/segments"), "");
    cr_assert_eq(num(seg, "requests"), 100);
    cr_assert_eq(num(seg, "errors"), 5, "3 5xx + 2 failures");
    cr_assert_eq(num(seg, "latency_us/count"), 98);
    cr_assert_eq(num(seg, "latency_us/p50"), 1001);
    cr_assert_eq(num(seg, "predictions/seen"), 90);
    cr_assert_null(json_object_get(path(seg, "latency_us"), "sample"));
    cr_assert_null(json_object_get(path(seg, "predictions"), "sample"));
    cr_assert_null(json_object_get(j, "shadow_pairs"));
    json_t *canary = json_object_get(path(j, "versions/canary/segments"), "");
    cr_assert_eq(num(canary, "shadow_requests"), 15);
    cr_assert_eq(num(canary, "retried_on_stable"), 1);
    cr_assert_eq(num(canary, "errors"), 2);
    json_decref(j);
}

Test(admin_samples, rejects_other_windows_and_parameters, .init = setup,
     .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/samples?window=60s", AUTH, NULL, 400);
    const char *e = error_of(j);
    cr_assert(strstr(e, "'step' or 'all'") && strstr(e, "60s"), "%s", e);
    json_decref(j);
    j = call_json(HTTP_GET, "/v1/samples?windows=step", AUTH, NULL, 400);
    cr_assert(strstr(error_of(j), "windows"), "%s", error_of(j));
    json_decref(j);
    json_decref(call_json(HTTP_GET, "/v1/samples?window=", AUTH, NULL, 400));
    json_decref(call_json(HTTP_GET, "/v1/samples?window=%zz", AUTH, NULL, 400));
    json_decref(call_json(HTTP_GET, "/v1/samples?window=%61ll", AUTH, NULL, 200));
}

/* ------------------------------------------------------------ lookup */

Test(admin_lookup, finds_a_known_request, .init = setup, .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/requests/" FAKE_KNOWN_ID, AUTH, NULL, 200);
    cr_assert_str_eq(json_string_value(path(j, "request_id")), FAKE_KNOWN_ID);
    cr_assert_str_eq(json_string_value(path(j, "version")), "v2");
    cr_assert_str_eq(json_string_value(path(j, "role")), "canary");
    cr_assert_str_eq(json_string_value(path(j, "segment")), "eu");
    cr_assert_eq(num(j, "time"), 1700000001.25);
    cr_assert(json_is_false(path(j, "shadowed")));
    json_decref(j);
}

Test(admin_lookup, decodes_percent_escapes_in_the_id, .init = setup, .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/requests/a%20b%2Fc", AUTH, NULL, 200);
    cr_assert_str_eq(json_string_value(path(j, "request_id")), "a b/c");
    json_decref(j);
    json_decref(call_json(HTTP_GET, "/v1/requests/a%2", AUTH, NULL, 400));
}

Test(admin_lookup, answers_404_for_an_unknown_id, .init = setup, .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/requests/nope", AUTH, NULL, 404);
    cr_assert(strstr(error_of(j), "'nope'"), "%s", error_of(j));
    json_decref(j);
}

/* ------------------------------------------------------------ versions */

Test(admin_versions, answers_get_with_both_sets, .init = setup, .fini = teardown)
{
    call(HTTP_GET, "/v1/versions", AUTH, NULL);
    cr_assert_eq(res.status, 200, "%s", res.body);
    cr_assert_str_eq(res.body,
                     "{\"stable\":{\"version\":\"v1\",\"addresses\":[\"127.0.0.1:1\"]},"
                     "\"canary\":{\"version\":\"v2\",\"addresses\":[\"127.0.0.1:2\"]},"
                     "\"generation\":1,\"step\":1}\n");
    json_decref(call_json(HTTP_GET, "/v1/versions", NULL, NULL, 401));
    json_decref(call_json(HTTP_DELETE, "/v1/versions", AUTH, NULL, 405));
}

Test(admin_versions, refuses_bad_sets_naming_the_field_and_changes_nothing,
     .init = setup, .fini = teardown)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"canary\": {\"version\": \"v3\", \"addresses\": [\"127.0.0.1:9\", "
         "\"127.0.0.1:9\"]}}",
         "canary.addresses[1]: duplicate address '127.0.0.1:9'"},
        {"{\"canary\": {\"version\": \"v3\", \"addresses\": [\"127.0.0.1:70000\"]}}",
         "canary.addresses[0]"},
        {"{\"stable\": {\"version\": \"v1\", \"addresses\": [\"127.0.0.1\"]}}",
         "stable.addresses[0]"},
        {"{\"canary\": {\"version\": \"v1\", \"addresses\": [\"127.0.0.1:9\"]}}",
         "canary.version: must differ from stable.version"},
        {"{\"stable\": {\"version\": \"v2\", \"addresses\": [\"127.0.0.1:9\"]}}",
         "canary.version: must differ from stable.version"},
        {"{\"canary\": {\"version\": \"v3\", \"addresses\": []}}",
         "canary_weight: must stay 0"},
        {"{\"stable\": {\"version\": \"v1\", \"addresses\": []}}", "stable.addresses"},
        {"{\"canary\": {\"addresses\": [\"127.0.0.1:9\"]}}", "canary.version: missing"},
        {"{\"canary\": {\"version\": \"v3\"}}", "canary.addresses: missing"},
        {"{\"canary\": {\"version\": \"v3\", \"addresses\": \"127.0.0.1:9\"}}",
         "canary.addresses: must be an array"},
        {"{\"canary\": {\"version\": \"v3\", \"addresses\": [9]}}",
         "canary.addresses[0]"},
        {"{\"canary\": {\"version\": 3, \"addresses\": []}}", "canary.version"},
        {"{\"canary\": {\"version\": \"v3\", \"addresses\": [], \"weight\": 1}}",
         "canary: unknown key \"weight\""},
        {"{\"canary\": [\"127.0.0.1:9\"]}", "canary: expected an object"},
        {"{\"shadow\": {}}", "unknown key \"shadow\""},
        {"{}", "body: expected \"stable\", \"canary\" or both"},
        {"[]", "body: expected a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = call_json(HTTP_PUT, "/v1/versions", AUTH, cases[i].body, 400);
        cr_assert(strstr(error_of(j), cases[i].field), "%s: %s", cases[i].body,
                  error_of(j));
        json_decref(j);
    }
    cr_assert_eq(live_step(), 1, "nothing was published");
    call(HTTP_GET, "/v1/versions", AUTH, NULL);
    cr_assert(strstr(res.body, "\"generation\":1"), "%s", res.body);
}

/* A handler that answers with the segments its pattern's '*'s matched. */
static void echo_params(cn_admin_request_t *req)
{
    char text[256] = "";
    for (size_t i = 0; i < CN_ADMIN_MAX_PARAMS + 1; i++) {
        size_t len;
        const char *p = cn_admin_request_param(req, i, &len);
        snprintf(text + strlen(text), sizeof text - strlen(text), "[%.*s]", (int)len,
                 p);
    }
    cn_admin_response_t r = {.status = 200, .content_type = "text/plain"};
    r.body = cn_xstrdup(text);
    r.body_len = strlen(text);
    cn_admin_respond(req, &r);
}

Test(admin_routes, a_star_stands_for_one_whole_segment_anywhere, .init = setup,
     .fini = teardown)
{
    char err[256];
    cn_admin_route_t r = {CN_ADMIN_GET, "/t/*/x/*", false, echo_params, NULL};
    cr_assert_eq(cn_admin_add_route(admin, &r, err, sizeof err), 0, "%s", err);
    cn_admin_route_t r2 = {CN_ADMIN_GET, "/t/*", false, echo_params, NULL};
    cr_assert_eq(cn_admin_add_route(admin, &r2, err, sizeof err), 0, "%s", err);

    call(HTTP_GET, "/t/a%20b/x/v2?q=1", NULL, NULL);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(res.body, "[a%20b][v2][][][]");
    call(HTTP_GET, "/t/m", NULL, NULL);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(res.body, "[m][][][][]");
    static const char *const no[] = {"/t//x/b",  "/t/a/x", "/t/a/x/", "/t/a/x/b/c",
                                     "/t/a/y/b", "/t/",    "/tt/a"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        call(HTTP_GET, no[i], "Bearer " TOKEN, NULL);
        cr_assert_eq(res.status, 404, "%s: %ld", no[i], (long)res.status);
    }
    static const char *const bad[] = {"/t/a*",      "/t/*x", "t/*",
                                      "/*/*/*/*/*", "/a?b",  "/a//b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_admin_route_t b = {CN_ADMIN_GET, bad[i], false, echo_params, NULL};
        cr_assert_eq(cn_admin_add_route(admin, &b, err, sizeof err), CN_EINVAL, "%s",
                     bad[i]);
        cr_assert(strstr(err, "a '*' may stand for whole segments"), "%s", err);
    }
}

/* ------------------------------------------------------------ dashboard */

Test(admin_dashboard, serves_its_files_without_a_token_and_its_data_with_one,
     .init = setup, .fini = teardown)
{
    call(HTTP_GET, "/", NULL, NULL);
    cr_assert_eq(res.status, 200);
    cr_assert_str_eq(res.content_type, "text/html; charset=utf-8");
    cr_assert(strstr(res.body, "<script src=\"/ui/app.js\"></script>"), "%s", res.body);
    const char *files[][2] = {{"/ui/app.js", "text/javascript; charset=utf-8"},
                              {"/ui/chart.js", "text/javascript; charset=utf-8"},
                              {"/ui/style.css", "text/css; charset=utf-8"}};
    for (size_t i = 0; i < 3; i++) {
        call(HTTP_GET, files[i][0], NULL, NULL);
        cr_assert_eq(res.status, 200, "%s: %u", files[i][0], res.status);
        cr_assert_str_eq(res.content_type, files[i][1]);
        /* the bytes of the file in src/api/ui, as built in */
        const char *name = strrchr(files[i][0], '/') + 1;
        bool found = false;
        for (size_t k = 0; k < cn_admin__ui_nassets; k++)
            if (strcmp(cn_admin__ui_assets[k].name, name) == 0) {
                found = true;
                cr_assert_eq(res.body_len, cn_admin__ui_assets[k].len);
                cr_assert(memcmp(res.body, cn_admin__ui_assets[k].data, res.body_len) ==
                          0);
            }
        cr_assert(found, "%s is not among the built-in files", name);
    }
    json_decref(call_json(HTTP_GET, "/v1/series", NULL, NULL, 401));
    json_decref(call_json(HTTP_GET, "/v1/events", NULL, NULL, 401));
    json_decref(call_json(HTTP_GET, "/ui/nothing.js", NULL, NULL, 401));
    json_decref(call_json(HTTP_GET, "/ui/nothing.js", AUTH, NULL, 404));
}

Test(admin_dashboard, an_event_stream_needs_a_connection, .init = setup,
     .fini = teardown)
{
    call(HTTP_HEAD, "/v1/events", AUTH, NULL);
    cr_assert_eq(res.status, 200, "HEAD: the head of the stream, no body");
    cr_assert_str_eq(res.content_type, "text/event-stream; charset=utf-8");
    cr_assert_eq(res.body_len, 0);
    json_t *j = call_json(HTTP_GET, "/v1/events", AUTH, NULL, 400);
    cr_assert_str_eq(error_of(j), "an event stream needs a connection");
    json_decref(j);
}

/* The series is the difference of two snapshots: 10 canary requests in
 * 9 ms, 2 of them 5xx, between two samples, and nothing from stable. */
Test(admin_dashboard, a_point_is_the_difference_between_two_samples, .init = setup,
     .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/series", AUTH, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "points")), 0);
    json_decref(j);

    cr_assert_eq(cn_admin__series_sample(admin->series), 0);
    fake.canary_more = 10;
    fake.canary_more_errors = 2;
    cr_assert_eq(cn_admin__series_sample(admin->series), 0);
    cr_assert_eq(fake.last_mask, CN_ROUTER_SNAP_COUNTERS | CN_ROUTER_SNAP_HISTOGRAMS,
                 "the sampler asks for counters and histograms, never samples");

    j = call_json(HTTP_GET, "/v1/series", AUTH, NULL, 200);
    json_t *points = json_object_get(j, "points");
    cr_assert_eq(json_array_size(points), 1, "%s", res.body);
    json_t *p = json_array_get(points, 0);
    cr_assert_eq(json_integer_value(json_object_get(p, "rollout")), 0);
    cr_assert_float_eq(json_number_value(json_object_get(p, "weight")), 2.5, 1e-12);
    json_t *canary = json_object_get(p, "canary"),
           *stable = json_object_get(p, "stable");
    cr_assert_str_eq(json_string_value(json_object_get(canary, "version")), "v2");
    cr_assert_eq(json_integer_value(json_object_get(canary, "requests")), 10, "%s",
                 res.body);
    cr_assert_eq(json_integer_value(json_object_get(canary, "errors")), 2);
    /* 9000 us lies in a bucket 64 us wide: its midpoint */
    double p50 = json_number_value(json_object_get(canary, "p50_ms"));
    cr_assert(p50 > 8.96 && p50 < 9.04, "p50 %g", p50);
    cr_assert_float_eq(json_number_value(json_object_get(canary, "p99_ms")), p50,
                       1e-12);
    cr_assert_str_eq(json_string_value(json_object_get(stable, "version")), "v1");
    cr_assert_eq(json_integer_value(json_object_get(stable, "requests")), 0);
    cr_assert(json_is_null(json_object_get(stable, "p50_ms")),
              "no request, no quantile");
    /* the prediction buckets: the bounds, then each arm's cumulative counts */
    json_t *pred = json_object_get(j, "predictions");
    cr_assert_eq(json_array_size(json_object_get(pred, "bounds")), 3);
    json_t *le = json_object_get(json_object_get(pred, "canary"), "le");
    cr_assert_eq(json_array_size(le), 4);
    cr_assert_eq(json_integer_value(json_array_get(le, 3)), 19);
    long long t = (long long)json_integer_value(json_object_get(p, "t"));
    json_decref(j);

    /* ?since after the point and ?rollout of another rollout keep none */
    char url[96];
    snprintf(url, sizeof url, "/v1/series?since=%lld", t);
    j = call_json(HTTP_GET, url, AUTH, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "points")), 0);
    json_decref(j);
    j = call_json(HTTP_GET, "/v1/series?rollout=3", AUTH, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "points")), 0);
    json_decref(j);
    j = call_json(HTTP_GET, "/v1/series?rollout=0&since=0", AUTH, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "points")), 1);
    json_decref(j);
}

Test(admin_dashboard, refuses_a_bad_series_query_naming_it, .init = setup,
     .fini = teardown)
{
    json_t *j = call_json(HTTP_GET, "/v1/series?since=-5", AUTH, NULL, 400);
    cr_assert_str_eq(error_of(j), "since: must be a whole number, got '-5'");
    json_decref(j);
    j = call_json(HTTP_GET, "/v1/series?window=all", AUTH, NULL, 400);
    cr_assert_str_eq(error_of(j),
                     "query: unknown key 'window' (expected rollout or since)");
    json_decref(j);
}

Test(admin_dashboard, a_sample_without_a_snapshot_makes_no_point, .init = setup,
     .fini = teardown)
{
    fake.no_snapshot = true;
    cr_assert_eq(cn_admin__series_sample(admin->series), CN_EIO);
    cr_assert_eq(cn_admin__series_sample(admin->series), CN_EIO);
    fake.no_snapshot = false;
    json_t *j = call_json(HTTP_GET, "/v1/series", AUTH, NULL, 200);
    cr_assert_eq(json_array_size(json_object_get(j, "points")), 0);
    json_decref(j);
}
