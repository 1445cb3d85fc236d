/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's client (cli/client.h) against a real admin server on
 * 127.0.0.1:0 (a fake router behind it, a real controller): the answers,
 * the token from the environment and from a file, and the exit code and
 * message of each failure a script must tell apart.
 */
#include "../api/fake_router.h"
#include "../controller/plane.h"
#include "api/admin.h"
#include "cli/client.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOKEN "client-test-token-0123456789"

static fake_router_t fake;
static test_plane_t plane;
static cn_admin_t *server;
static pthread_t server_thread;
static char url[64];

static void *serve(void *arg)
{
    cn_admin_run(arg);
    return NULL;
}

static void setup(void)
{
    fake_router_init(&fake);
    test_plane_start(&plane, NULL, false);
    cn_admin_ops_t ops = fake_router_ops(&fake);
    char err[256];
    cr_assert_eq(cn_admin_new("127.0.0.1:0", TOKEN, &ops, plane.controller, &server,
                              err, sizeof err),
                 0, "%s", err);
    cn_admin_set_log(server, NULL);
    snprintf(url, sizeof url, "http://%s", cn_admin_address(server));
    cr_assert_eq(pthread_create(&server_thread, NULL, serve, server), 0);
    unsetenv("CANARY_SERVER");
    unsetenv("CANARY_TOKEN");
}

static void teardown(void)
{
    cn_admin_stop(server);
    pthread_join(server_thread, NULL);
    cn_admin_free(server);
    test_plane_stop(&plane);
}

static cn_client_t *client(const char *server_url, const char *token_file)
{
    cn_client_t *c;
    char err[256];
    cr_assert_eq(cn_client_new(server_url, token_file, &c, err, sizeof err), 0, "%s",
                 err);
    return c;
}

Test(client, reads_answers_with_the_token_from_the_environment, .init = setup,
     .fini = teardown)
{
    setenv("CANARY_TOKEN", TOKEN, 1);
    setenv("CANARY_SERVER", url, 1);
    cn_client_t *c = client(NULL, NULL);
    cr_assert_str_eq(cn_client_server(c), url);
    cn_client_response_t r;
    char err[256];
    cr_assert_eq(cn_client_call(c, "GET", "/v1/traffic", NULL, &r, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"canary_weight\""), "%s", r.body);
    cr_assert_eq(cn_client_report(c, "test", 0, "", &r), 0);
    cn_client_response_dispose(&r);

    /* a body goes with the request; the same connection is reused */
    cr_assert_eq(cn_client_call(c, "PUT", "/v1/traffic", "{\"canary_weight\": 7}", &r,
                                err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(strstr(r.body, "\"canary_weight\":7"), "%s", r.body);
    cn_client_response_dispose(&r);
    cn_client_free(c);
}

Test(client, reads_the_token_from_a_file, .init = setup, .fini = teardown)
{
    char path[] = "/tmp/cn-client-token-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, TOKEN "\n", strlen(TOKEN) + 1), (ssize_t)strlen(TOKEN) + 1);
    close(fd);
    setenv("CANARY_TOKEN", "not-this-one", 1);
    cn_client_t *c = client(url, path);
    cn_client_response_t r;
    char err[256];
    cr_assert_eq(cn_client_call(c, "GET", "/v1/versions", NULL, &r, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(r.status, 200, "the file wins over the environment: %s", r.body);
    cn_client_response_dispose(&r);
    cn_client_free(c);
    unlink(path);
}

Test(client, a_refused_token_is_77_with_what_to_do, .init = setup, .fini = teardown)
{
    cr_redirect_stderr();
    setenv("CANARY_TOKEN", "wrong", 1);
    cn_client_t *c = client(url, NULL);
    cn_client_response_t r;
    char err[256];
    cr_assert_eq(cn_client_call(c, "GET", "/v1/traffic", NULL, &r, err, sizeof err), 0);
    cr_assert_eq(r.status, 401);
    cr_assert_eq(cn_client_report(c, "rollout", 0, "", &r), CN_CLIENT_EXIT_NOPERM);
    cn_client_response_dispose(&r);
    cn_client_free(c);
    fflush(stderr);
    char want[256];
    snprintf(want, sizeof want,
             "canary rollout: %s refused the token (HTTP 401): set CANARY_TOKEN or "
             "--token-file to the token canary serve uses\n",
             url);
    cr_assert_stderr_eq_str(want);
}

Test(client, a_bad_request_is_65_with_the_servers_reason, .init = setup,
     .fini = teardown)
{
    cr_redirect_stderr();
    setenv("CANARY_TOKEN", TOKEN, 1);
    cn_client_t *c = client(url, NULL);
    cn_client_response_t r;
    char err[256];
    cr_assert_eq(cn_client_call(c, "PUT", "/v1/traffic", "{\"canary_weight\": 101}", &r,
                                err, sizeof err),
                 0);
    cr_assert_eq(r.status, 400);
    cr_assert_eq(cn_client_report(c, "model", 0, "", &r), 65);
    cn_client_response_dispose(&r);
    cn_client_free(c);
    fflush(stderr);
    cr_assert_stderr_eq_str(
        "canary model: HTTP 400: canary_weight: must be a "
        "percentage in [0, 100] with at most 2 decimals, got 101\n");
}

Test(client, an_unreachable_server_is_69_naming_it)
{
    cr_redirect_stderr();
    /* port 1 (tcpmux): nothing listens there on a test machine */
    cn_client_t *c = client("http://127.0.0.1:1", NULL);
    cn_client_response_t r;
    char err[256];
    int rc = cn_client_call(c, "GET", "/healthz", NULL, &r, err, sizeof err);
    cr_assert_eq(rc, CN_EIO);
    cr_assert(strstr(err, "cannot reach the canary server at http://127.0.0.1:1: "),
              "%s", err);
    cr_assert_eq(cn_client_report(c, "rollout", rc, err, &r),
                 CN_CLIENT_EXIT_UNAVAILABLE);
    cn_client_response_dispose(&r);
    cn_client_free(c);
}

Test(client, refuses_a_server_that_is_not_an_http_base_url)
{
    static const char *const bad[] = {"127.0.0.1:8081", "https://x:1", "http://",
                                      "http:///x", "http://x:1/v1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cn_client_t *c = NULL;
        char err[256] = "";
        cr_assert_eq(cn_client_new(bad[i], NULL, &c, err, sizeof err), CN_EINVAL, "%s",
                     bad[i]);
        cr_assert_null(c);
        cr_assert(strstr(err, bad[i]) == err + strlen("server '"), "%s", err);
    }
    cn_client_t *c = client("http://127.0.0.1:8081/", NULL);
    cr_assert_str_eq(cn_client_server(c), "http://127.0.0.1:8081");
    cn_client_free(c);
}
