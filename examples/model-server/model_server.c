/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * example-model-server: serves one exported model (model.h) with the Open
 * Inference Protocol's JSON (KServe v2), over the project's own HTTP/1.1
 * server layer (src/http/server.h: limits, timeouts, keep-alive,
 * pipelining, and the 400/404/405/408/413 answers of malformed requests).
 * The demo runs one per model version behind `canary serve`.
 *
 *   example-model-server --model FILE [--listen HOST:PORT] [--max-body-bytes N]
 *
 * It prints "listening on HOST:PORT" once it accepts connections (port 0
 * picks a free one), and stops cleanly on SIGINT or SIGTERM (exit 0).
 *
 * Paths (NAME is the model's name, VERSION its version):
 *   POST /v2/models/NAME[/versions/VERSION]/infer   a prediction (model.h)
 *   GET  /v2/models/NAME[/versions/VERSION]         the model's metadata
 *   GET  /v2/models/NAME[/versions/VERSION]/ready   {"name", "ready": true}
 *   GET  /v2/health/ready, /v2/health/live          {"ready"|"live": true}
 *   GET  /v2                                        the server's metadata
 *   GET  /healthz                                   "ok"
 * A request the model cannot answer gets 400 and {"error": "one line",
 * "status": 400}; another model's name or version gets 404.
 */
#include "model.h"

#include "http/server.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/file.h"
#include "util/text.h"

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define MAX_MODEL_FILE_BYTES ((size_t)64 * 1024 * 1024)
#define DEFAULT_MAX_BODY_BYTES ((size_t)1024 * 1024)
#define JSON_TYPE "application/json"

typedef struct server_s {
    ms_model_t *model;
    uv_loop_t loop;
    cn_http_server_t *http;
    uv_signal_t sigint, sigterm;
} server_t;

static void respond_json(cn_http_req_t *req, unsigned status, char *body, size_t len)
{
    cn_http_respond_take(req, status, JSON_TYPE, NULL, body, len);
}

static void respond_text(cn_http_req_t *req, const char *text)
{
    cn_http_respond(req, 200, JSON_TYPE, NULL, text, strlen(text));
}

static bool is_get(const cn_http_message_t *msg)
{
    return msg->method == HTTP_GET || msg->method == HTTP_HEAD;
}

/* The path of the request target, without its query. */
static size_t path_len(const cn_http_message_t *msg)
{
    const char *q = memchr(msg->url, '?', msg->url_len);
    return q ? (size_t)(q - msg->url) : msg->url_len;
}

/* Does p[0..len) start with s? Then *rest is what follows. */
static bool eat(const char *p, size_t len, const char *s, const char **rest,
                size_t *rest_len)
{
    size_t n = strlen(s);
    if (len < n || memcmp(p, s, n) != 0)
        return false;
    *rest = p + n;
    *rest_len = len - n;
    return true;
}

static void method_not_allowed(cn_http_req_t *req, const char *allow)
{
    char hdr[64];
    snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
    const char *body = "{\"error\":\"method not allowed\",\"status\":405}";
    cn_http_respond(req, 405, JSON_TYPE, hdr, body, strlen(body));
}

static void infer(server_t *s, cn_http_req_t *req, const cn_http_message_t *msg)
{
    char err[512];
    char *out = NULL;
    size_t out_len = 0;
    if (ms_model_infer(s->model, msg->body, msg->body_len, &out, &out_len, err,
                       sizeof err))
        cn_http_respond_error(req, 400, err);
    else
        respond_json(req, 200, out, out_len);
}

/*
 * /v2/models/NAME[/versions/VERSION][/infer|/ready]: the part after
 * "/v2/models/" is p[0..len).
 */
static void on_model(server_t *s, cn_http_req_t *req, const cn_http_message_t *msg,
                     const char *p, size_t len)
{
    const char *name = ms_model_name(s->model);
    const char *version = ms_model_version(s->model);
    const char *rest;
    size_t rest_len;
    char q[CN_TEXT_QUOTE_BUF(64)], err[256];
    if (!eat(p, len, name, &rest, &rest_len) || (rest_len && rest[0] != '/')) {
        const char *slash = memchr(p, '/', len);
        size_t n = slash ? (size_t)(slash - p) : len;
        snprintf(err, sizeof err,
                 "model '%s' is not served here (this server serves '%s')",
                 cn_text_quote(p, n, 64, q), name);
        cn_http_respond_error(req, 404, err);
        return;
    }
    const char *v;
    size_t v_len;
    if (eat(rest, rest_len, "/versions/", &v, &v_len)) {
        const char *slash = memchr(v, '/', v_len);
        size_t n = slash ? (size_t)(slash - v) : v_len;
        if (n != strlen(version) || memcmp(v, version, n) != 0) {
            snprintf(
                err, sizeof err,
                "version '%s' of model '%s' is not served here (this server serves "
                "version '%s')",
                cn_text_quote(v, n, 64, q), name, version);
            cn_http_respond_error(req, 404, err);
            return;
        }
        rest = v + n;
        rest_len = v_len - n;
    }
    if (rest_len == 0) {
        if (!is_get(msg))
            return method_not_allowed(req, "GET, HEAD");
        size_t n = 0;
        char *meta = ms_model_metadata(s->model, &n);
        respond_json(req, 200, meta, n);
    } else if (rest_len == 6 && memcmp(rest, "/infer", 6) == 0) {
        if (msg->method != HTTP_POST)
            return method_not_allowed(req, "POST");
        infer(s, req, msg);
    } else if (rest_len == 6 && memcmp(rest, "/ready", 6) == 0) {
        if (!is_get(msg))
            return method_not_allowed(req, "GET, HEAD");
        char body[128];
        int n = snprintf(body, sizeof body, "{\"name\":\"%s\",\"ready\":true}", name);
        cn_http_respond(req, 200, JSON_TYPE, NULL, body, (size_t)n);
    } else {
        cn_http_respond_error(req, 404,
                              "no such path (expected .../infer or .../ready)");
    }
}

static void on_request(cn_http_req_t *req, void *data)
{
    server_t *s = data;
    const cn_http_message_t *msg = cn_http_req_message(req);
    size_t len = path_len(msg);
    const char *rest;
    size_t rest_len;
    if (eat(msg->url, len, "/v2/models/", &rest, &rest_len))
        return on_model(s, req, msg, rest, rest_len);
    struct {
        const char *path, *body;
    } fixed[] = {
        {"/v2/health/ready", "{\"ready\":true}"},
        {"/v2/health/live", "{\"live\":true}"},
        {"/v2", "{\"name\":\"canary-example-model-server\",\"version\":\"1\","
                "\"extensions\":[]}"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (len == strlen(fixed[i].path) && memcmp(msg->url, fixed[i].path, len) == 0) {
            if (!is_get(msg))
                return method_not_allowed(req, "GET, HEAD");
            return respond_text(req, fixed[i].body);
        }
    if (len == 8 && memcmp(msg->url, "/healthz", 8) == 0) {
        if (!is_get(msg))
            return method_not_allowed(req, "GET, HEAD");
        cn_http_respond(req, 200, "text/plain", NULL, "ok\n", 3);
        return;
    }
    cn_http_respond_error(req, 404, "no such path (expected /v2/models/NAME/infer)");
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    server_t *s = h->data;
    cn_http_server_shutdown(s->http);
    cn_http_server_close_all(s->http);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}

#define USAGE                                                                          \
    "example-model-server --model FILE [--listen HOST:PORT] [--max-body-bytes N]"

/* A usage error: one line on stderr, exit 2. */
static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "example-model-server: %s%s%s%s (usage: " USAGE ")\n", what,
            arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
    return 2;
}

static int load_model(const char *path, ms_model_t **out)
{
    char err[512];
    char *text = NULL;
    size_t len = 0;
    if (cn_file_read(path, MAX_MODEL_FILE_BYTES, &text, &len, err, sizeof err)) {
        fprintf(stderr, "example-model-server: %s\n", err);
        return -1;
    }
    int rc = ms_model_parse(text, len, out, err, sizeof err);
    free(text);
    if (rc) {
        fprintf(stderr, "example-model-server: %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL;
    const char *listen_addr = "127.0.0.1:0";
    size_t max_body = DEFAULT_MAX_BODY_BYTES;
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},
        {"listen", required_argument, NULL, 'l'},
        {"max-body-bytes", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            model_path = optarg;
            break;
        case 'l':
            listen_addr = optarg;
            break;
        case 'b': {
            char *end;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (*optarg < '0' || *optarg > '9' || *end || v < 1 ||
                v > CN_HTTP_DEFAULT_MAX_BODY_BYTES) {
                fprintf(
                    stderr,
                    "example-model-server: --max-body-bytes: expected 1 to %zu, got "
                    "'%s'\n",
                    CN_HTTP_DEFAULT_MAX_BODY_BYTES, optarg);
                return 2;
            }
            max_body = (size_t)v;
            break;
        }
        case 'h':
            printf("usage: " USAGE "\n");
            return 0;
        default:
            return usage_error("unknown option or missing value:", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    if (!model_path)
        return usage_error("--model FILE is required", NULL);

    char err[512];
    struct sockaddr_storage sa;
    if (cn_addr_resolve(listen_addr, CN_ADDR_LISTEN, &sa, NULL, err, sizeof err)) {
        fprintf(stderr, "example-model-server: --listen: %s\n", err);
        return 2;
    }
    server_t s = {0};
    if (load_model(model_path, &s.model))
        return 1;

    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&s.loop);
    cn_http_server_limits_t limits = {0};
    limits.request.max_body_bytes = max_body;
    s.http = cn_http_server_new(&s.loop, &limits);
    cn_http_route_t all = {CN_HTTP_ANY_METHOD, "", CN_HTTP_ROUTE_PREFIX, on_request,
                           &s};
    cn_http_server_add_route(s.http, &all);
    int rc = cn_http_server_listen(s.http, (const struct sockaddr *)&sa, 511);
    if (rc) {
        fprintf(stderr, "example-model-server: --listen %s: %s\n", listen_addr,
                uv_strerror(rc));
        cn_http_server_free(s.http);
        uv_run(&s.loop, UV_RUN_DEFAULT);
        uv_loop_close(&s.loop);
        ms_model_free(s.model);
        return 1;
    }
    uv_signal_init(&s.loop, &s.sigint);
    uv_signal_init(&s.loop, &s.sigterm);
    s.sigint.data = s.sigterm.data = &s;
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);

    printf("model %s version %s\n", ms_model_name(s.model), ms_model_version(s.model));
    printf("listening on %s\n", cn_http_server_address(s.http));
    fflush(stdout);
    uv_run(&s.loop, UV_RUN_DEFAULT);

    cn_http_server_free(s.http);
    uv_run(&s.loop, UV_RUN_DEFAULT);
    uv_loop_close(&s.loop);
    ms_model_free(s.model);
    return 0;
}
