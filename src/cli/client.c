/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's client over libcurl (see client.h): one easy handle per
 * client, so consecutive calls reuse the connection.
 */
#include "cli/client.h"
#include "cli/cli.h"
#include "api/admin.h"
#include "util/error.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cn_client_s {
    CURL *curl;
    char *server; /* "http://host:port", no trailing slash */
    char *auth;   /* "Authorization: Bearer ..." or NULL */
};

typedef struct sink_s {
    char *data;
    size_t len, cap;
    bool too_big;
} sink_t;

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
    sink_t *s = arg;
    size_t n = size * nmemb;
    if (s->len + n > CN_CLIENT_MAX_RESPONSE_BYTES) {
        s->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1)
            cap *= 2;
        s->data = cn_xrealloc(s->data, cap);
        s->cap = cap;
    }
    memcpy(s->data + s->len, ptr, n);
    s->len += n;
    s->data[s->len] = '\0';
    return n;
}

void cn_client_response_dispose(cn_client_response_t *r)
{
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* An http:// URL with a host and nothing after the port but one '/'. */
static int check_server(const char *url, char *err, size_t errlen)
{
    const char *rest = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!rest || !*rest || *rest == '/')
        return cn_fail(err, errlen, CN_EINVAL,
                       "server '%.200s': expected http://HOST:PORT (the admin API "
                       "address of canary serve)",
                       url);
    const char *slash = strchr(rest, '/');
    if (slash && slash[1] != '\0')
        return cn_fail(err, errlen, CN_EINVAL,
                       "server '%.200s': no path expected after HOST:PORT", url);
    return 0;
}

int cn_client_new(const char *server, const char *token_file, cn_client_t **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    if (!server || !*server)
        server = getenv("CANARY_SERVER");
    if (!server || !*server)
        server = CN_CLIENT_DEFAULT_SERVER;
    int rc = check_server(server, err, errlen);
    if (rc)
        return rc;
    char token[CN_ADMIN_TOKEN_MAX_BYTES + 1] = "";
    if (token_file) {
        bool generated;
        rc = cn_admin_load_token(token_file, token, &generated, NULL, err, errlen);
        if (rc)
            return rc;
    } else {
        const char *env = getenv("CANARY_TOKEN");
        if (env && *env) {
            if (strlen(env) > CN_ADMIN_TOKEN_MAX_BYTES)
                return cn_fail(err, errlen, CN_EINVAL,
                               "CANARY_TOKEN: longer than %u bytes",
                               CN_ADMIN_TOKEN_MAX_BYTES);
            strcpy(token, env);
        }
    }
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
            return cn_fail(err, errlen, CN_EIO, "libcurl failed to initialise");
        curl_ready = true;
    }
    cn_client_t *c = cn_xcalloc(1, sizeof *c);
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return cn_fail(err, errlen, CN_EIO, "libcurl failed to initialise");
    }
    size_t n = strlen(server);
    c->server = cn_xstrndup(server, n && server[n - 1] == '/' ? n - 1 : n);
    if (token[0]) {
        size_t len = strlen(token) + 32;
        c->auth = cn_xmalloc(len);
        snprintf(c->auth, len, "Authorization: Bearer %s", token);
    }
    *out = c;
    return 0;
}

void cn_client_free(cn_client_t *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c->server);
    free(c->auth);
    free(c);
}

char *cn_client_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = cn_xmallocarray(strlen(s) + 1, 3);
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
            *p == '~') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return out;
}

const char *cn_client_server(const cn_client_t *c)
{
    return c->server;
}

int cn_client_call(cn_client_t *c, const char *method, const char *path,
                   const char *json_body, cn_client_response_t *res, char *err,
                   size_t errlen)
{
    memset(res, 0, sizeof *res);
    size_t ulen = strlen(c->server) + strlen(path) + 1;
    char *url = cn_xmalloc(ulen);
    snprintf(url, ulen, "%s%s", c->server, path);
    sink_t sink = {0};
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    if (c->auth)
        headers = curl_slist_append(headers, c->auth);
    if (json_body)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue wait */

    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, CN_CLIENT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CN_CLIENT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (json_body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json_body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(json_body));
    }
    CURLcode cc = curl_easy_perform(h);
    curl_slist_free_all(headers);
    int rc = 0;
    if (sink.too_big) {
        rc = cn_fail(err, errlen, CN_ETOOBIG, "%s %s: the answer is over %zu bytes",
                     method, url, CN_CLIENT_MAX_RESPONSE_BYTES);
    } else if (cc != CURLE_OK) {
        rc = cn_fail(err, errlen, CN_EIO, "cannot reach the canary server at %s: %s",
                     c->server, curl_err[0] ? curl_err : curl_easy_strerror(cc));
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
        res->body = sink.data ? sink.data : cn_xstrdup("");
        res->body_len = sink.len;
        sink.data = NULL;
    }
    free(sink.data);
    free(url);
    return rc;
}

int cn_client_report(const cn_client_t *c, const char *prog, int call_rc,
                     const char *call_err, const cn_client_response_t *res)
{
    if (call_rc) {
        fprintf(stderr, "canary %s: %s%s\n", prog, call_err,
                call_rc == CN_EIO ? " (is canary serve running? set --server or "
                                    "CANARY_SERVER)"
                                  : "");
        return call_rc == CN_EIO ? CN_CLIENT_EXIT_UNAVAILABLE : CN_EXIT_SOFTWARE;
    }
    if (res->status >= 200 && res->status < 300)
        return 0;
    /* the server's own words, when it sent {"error": "..."} */
    char message[600];
    json_t *j = json_loadb(res->body ? res->body : "", res->body_len, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "error"));
    snprintf(message, sizeof message, "%s", e ? e : "");
    json_decref(j);
    if (res->status == 401) {
        fprintf(stderr,
                "canary %s: %s refused the token (HTTP 401): set CANARY_TOKEN or "
                "--token-file to the token canary serve uses\n",
                prog, c->server);
        return CN_CLIENT_EXIT_NOPERM;
    }
    if (res->status == 409) {
        fprintf(stderr, "canary %s: conflict (HTTP 409): %s\n", prog,
                message[0] ? message : "the server refused the change");
        return CN_CLIENT_EXIT_TEMPFAIL;
    }
    fprintf(stderr, "canary %s: HTTP %ld: %s\n", prog, res->status,
            message[0] ? message : "the server gave no reason");
    return res->status >= 500 ? CN_EXIT_SOFTWARE : CN_EXIT_DATAERR;
}

cn_client_t *cn_client_for(const char *server, const char *token_file, const char *prog,
                           int *code)
{
    char err[512];
    cn_client_t *c;
    int rc = cn_client_new(server, token_file, &c, err, sizeof err);
    if (rc) {
        fprintf(stderr, "canary %s: %s\n", prog, err);
        *code = rc == CN_EIO ? CN_EXIT_NOINPUT : CN_EXIT_USAGE;
        return NULL;
    }
    return c;
}

int cn_client_exchange(cn_client_t *c, const char *prog, const char *method,
                       const char *path, const json_t *body, bool print_raw,
                       json_t **answer)
{
    char err[512];
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    cn_client_response_t res;
    int rc = cn_client_call(c, method, path, text, &res, err, sizeof err);
    free(text);
    int code = cn_client_report(c, prog, rc, err, &res);
    *answer = NULL;
    if (code == 0) {
        *answer = json_loadb(res.body, res.body_len, 0, NULL);
        if (print_raw || !*answer)
            printf("%s%s", res.body,
                   res.body_len && res.body[res.body_len - 1] == '\n' ? "" : "\n");
    }
    cn_client_response_dispose(&res);
    return code;
}
