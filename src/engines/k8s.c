/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Kubernetes API client (k8s.h): one libcurl easy handle per client,
 * kept between requests (a keep-alive connection to the API server), the
 * bearer token read from its file before each request, the API server's
 * CA from the service account's ca.crt (or the configured file), and the
 * answers parsed as JSON with a size limit.
 */
#include "engines/k8s.h"
#include "engines/k8s_internal.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/file.h"
#include "util/text.h"
#include "util/yaml.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An object of ours (one HTTPRoute, one VirtualService) is a few KiB; a
 * server that answers more than this is not the API server we want. */
#define ANSWER_MAX ((size_t)4 << 20)
#define TOKEN_MAX ((size_t)64 << 10)

struct cn_k8s_client_s {
    CURL *easy;
    char *url;        /* "https://host:port", no trailing slash */
    char *token_file; /* owned */
    char *ca_file;    /* owned; NULL: curl's default bundle */
    long timeout_ms;
    cn_buf_t answer;
};

static char *dup_or_null(const char *s)
{
    return s ? cn_xstrdup(s) : NULL;
}

int cn_k8s_client_new(const cn_k8s_config_t *cfg, cn_k8s_client_t **out, char *err,
                      size_t errlen)
{
    char url[512];
    if (cfg->api_server) {
        size_t n = strlen(cfg->api_server);
        while (n > 0 && cfg->api_server[n - 1] == '/')
            n--;
        if (n >= sizeof url)
            return cn_fail(err, errlen, CN_EINVAL, "api_server: longer than %zu bytes",
                           sizeof url - 1);
        memcpy(url, cfg->api_server, n);
        url[n] = '\0';
    } else {
        /* What client-go's InClusterConfig reads. */
        const char *host = getenv("KUBERNETES_SERVICE_HOST");
        const char *port = getenv("KUBERNETES_SERVICE_PORT");
        if (!host || !*host || !port || !*port)
            return cn_fail(err, errlen, CN_EINVAL,
                           "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST "
                           "and KUBERNETES_SERVICE_PORT are not set): give api_server");
        bool v6 = strchr(host, ':') != NULL;
        int w = snprintf(url, sizeof url, "https://%s%s%s:%s", v6 ? "[" : "", host,
                         v6 ? "]" : "", port);
        if (w < 0 || (size_t)w >= sizeof url)
            return cn_fail(err, errlen, CN_EINVAL,
                           "KUBERNETES_SERVICE_HOST is too long");
    }
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return cn_fail(err, errlen, CN_EINVAL,
                       "api_server: must be an https:// (or http://) URL, got '%.200s'",
                       url);
    CURL *easy = curl_easy_init();
    if (!easy)
        return cn_fail(err, errlen, CN_EIO, "libcurl: cannot make a handle");
    cn_k8s_client_t *c = cn_xcalloc(1, sizeof *c);
    c->easy = easy;
    c->url = cn_xstrdup(url);
    c->token_file = dup_or_null(cfg->token_file ? cfg->token_file : CN_K8S_TOKEN_FILE);
    c->ca_file = dup_or_null(cfg->ca_file);
    c->timeout_ms = (long)(cfg->timeout_ms ? cfg->timeout_ms : 10000);
    cn_buf_init(&c->answer, ANSWER_MAX);
    *out = c;
    return 0;
}

void cn_k8s_client_free(cn_k8s_client_t *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->easy);
    free(c->url);
    free(c->token_file);
    free(c->ca_file);
    cn_buf_dispose(&c->answer);
    free(c);
}

const char *cn_k8s_client_url(const cn_k8s_client_t *c)
{
    return c->url;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    cn_buf_t *b = arg;
    /* A refused append (past ANSWER_MAX) ends the transfer: curl reports
     * a write error. */
    return cn_buf_add(b, p, size * n) == 0 ? size * n : 0;
}

/* The token without surrounding white space, for the caller to free. */
static int read_token(const char *path, char **out, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    char why[512];
    if (cn_file_read(path, TOKEN_MAX, &data, &len, why, sizeof why))
        return cn_fail(err, errlen, CN_EIO, "service-account token: %s", why);
    char *s = data;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n'))
        n--;
    if (n == 0 || memchr(s, '\n', n) || memchr(s, '\r', n)) {
        free(data);
        return cn_fail(err, errlen, CN_EIO,
                       "service-account token %s: empty or more than one line", path);
    }
    *out = cn_xstrndup(s, n);
    free(data);
    return 0;
}

int cn_k8s_request(cn_k8s_client_t *c, const char *method, const char *path,
                   const char *content_type, const char *body, long *status,
                   json_t **answer, char *err, size_t errlen)
{
    *answer = NULL;
    *status = 0;
    char *token = NULL;
    int rc = read_token(c->token_file, &token, err, errlen);
    if (rc)
        return rc;
    size_t hlen = strlen(token) + 32;
    char *auth = cn_xmalloc(hlen);
    snprintf(auth, hlen, "Authorization: Bearer %s", token);
    free(token);
    char ctype[128];
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Accept: application/json");
    if (content_type) {
        snprintf(ctype, sizeof ctype, "Content-Type: %s", content_type);
        h = curl_slist_append(h, ctype);
    }
    size_t ulen = strlen(c->url) + strlen(path) + 1;
    char *url = cn_xmalloc(ulen);
    snprintf(url, ulen, "%s%s", c->url, path);

    CURL *e = c->easy;
    curl_easy_reset(e);
    cn_buf_reset(&c->answer);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->answer);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, curl_err);
    CURLcode cc = curl_easy_perform(e);
    if (cc != CURLE_OK) {
        rc = cn_fail(err, errlen, CN_EIO, "%s %s: %s", method, url,
                     curl_err[0] ? curl_err : curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    if (c->answer.len > 0)
        *answer = json_loadb(c->answer.data, c->answer.len, 0, NULL);
out:
    /* The handle keeps pointers to these until the next reset. */
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(h);
    /* The token is in the header list just freed; clear our copy. */
    memset(auth, 0, strlen(auth));
    free(auth);
    free(url);
    return rc;
}

static const char *http_reason(long status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

const char *cn_k8s_status_text(long status, const json_t *answer, char *buf, size_t len)
{
    const char *reason = NULL, *message = NULL;
    if (json_is_object(answer)) {
        reason = json_string_value(json_object_get(answer, "reason"));
        message = json_string_value(json_object_get(answer, "message"));
    }
    /* A 422 says "the server rejected our request" and puts the reason
     * (the failed test, the field) in details.causes. */
    const char *cause = json_string_value(json_object_get(
        json_array_get(json_object_get(json_object_get(answer, "details"), "causes"),
                       0),
        "message"));
    if (!reason || !*reason)
        reason = http_reason(status);
    if (message && *message && cause && *cause)
        snprintf(buf, len, "%ld %s: %.200s (%.200s)", status, reason, message, cause);
    else if (message && *message)
        snprintf(buf, len, "%ld %s: %.300s", status, reason, message);
    else
        snprintf(buf, len, "%ld %s", status, reason);
    /* Keep it one line: a message may hold newlines. */
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return buf;
}

const char *cn_k8s_object_path(cn_k8s_kind_t kind, const char *api_version,
                               const char *namespace, const char *name, char *buf,
                               size_t len)
{
    if (kind == CN_K8S_GATEWAY_API)
        snprintf(buf, len,
                 "/apis/gateway.networking.k8s.io/%s/namespaces/%s/httproutes/%s",
                 api_version, namespace, name);
    else
        snprintf(buf, len,
                 "/apis/networking.istio.io/%s/namespaces/%s/virtualservices/%s",
                 api_version, namespace, name);
    return buf;
}

bool cn_k8s_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && !((c == '-' || c == '.') && i > 0 && i + 1 < n))
            return false;
    }
    return true;
}

int cn_k8s__check_name(const char *text, char *what, size_t len)
{
    if (cn_k8s_name_ok(text))
        return 0;
    char q[CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)];
    snprintf(what, len,
             "must be a Kubernetes name (lower case letters, digits, '-' and '.'; at "
             "most 253), got '%s'",
             cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

int cn_k8s__check_url(const char *text, char *what, size_t len)
{
    const char *rest = NULL;
    if (strncmp(text, "https://", 8) == 0)
        rest = text + 8;
    else if (strncmp(text, "http://", 7) == 0)
        rest = text + 7;
    if (rest && *rest && *rest != '/' && !strpbrk(text, " \t\r\n"))
        return 0;
    char q[CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)];
    snprintf(what, len, "must be an https:// (or http://) URL with a host, got '%s'",
             cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

int cn_k8s__check(const cn_k8s_config_t *c, char *path, size_t pathlen, int *line,
                  char *what, size_t len)
{
    for (size_t i = 0; i < c->n_backends; i++)
        for (size_t j = 0; j < i; j++)
            if (c->backends[i].address && c->backends[j].address &&
                strcmp(c->backends[i].address, c->backends[j].address) == 0) {
                snprintf(path, pathlen, "backends[%zu].address", i);
                *line = c->backends[i].line;
                snprintf(what, len,
                         "'%.200s' is mapped twice (backends [%zu] and [%zu])",
                         c->backends[i].address, j, i);
                return CN_EINVAL;
            }
    return 0;
}
