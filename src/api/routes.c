/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's route table and dispatcher: which handler answers which
 * method and path, and who may ask. The table replaces an if/else chain so
 * that each resource (one file each) and, later, the dashboard's static
 * pages add routes without touching the connection code or each other.
 *
 * Order of checks, and why:
 *  1. a route that needs no token is answered at once (probes, scrapers and
 *     static pages carry no token);
 *  2. every other path, known or not, needs the token first, so that an
 *     unauthenticated client learns nothing, not even which routes exist;
 *  3. then the route (404) and the method (405 with Allow);
 *  4. then the handler, which checks its arguments (400) before anything
 *     is changed.
 */
#include "api/admin_internal.h"
#include "util/error.h"
#include "util/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ responses */

void cn_admin_response_dispose(cn_admin_response_t *res)
{
    if (!res)
        return;
    free(res->body);
    memset(res, 0, sizeof *res);
}

static void error_body(cn_admin_response_t *res, unsigned status, const char *message)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "error");
    cn_jsonw_cstr(&w, message);
    cn_jsonw_object_end(&w);
    cn_jsonw_newline(&w);
    memset(res, 0, sizeof *res);
    res->status = status;
    res->content_type = CN_ADMIN_JSON_TYPE;
    res->body = cn_jsonw_take(&w, &res->body_len);
}

void cn_admin_response_error(cn_admin_response_t *res, unsigned status, const char *fmt,
                             ...)
{
    char message[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    error_body(res, status, message);
}

void cn_admin__respond_error(cn_admin_request_t *req, unsigned status, const char *fmt,
                             ...)
{
    char message[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    cn_admin_response_t res;
    error_body(&res, status, message);
    cn_admin_respond(req, &res);
}

void cn_admin__response_json(cn_admin_response_t *res, unsigned status, cn_jsonw_t *w)
{
    if (w->overflow) {
        cn_jsonw_dispose(w);
        cn_admin_response_error(res, 500, "response too large");
        return;
    }
    cn_jsonw_newline(w);
    res->status = status;
    res->content_type = CN_ADMIN_JSON_TYPE;
    res->body = cn_jsonw_take(w, &res->body_len);
}

void cn_admin__respond_json(cn_admin_request_t *req, unsigned status, cn_jsonw_t *w)
{
    cn_admin_response_t res = {0};
    cn_admin__response_json(&res, status, w);
    cn_admin_respond(req, &res);
}

unsigned cn_admin__status_of(int rc)
{
    switch (rc) {
    case CN_EINVAL:
        return 400;
    case CN_ENOTFOUND:
        return 404;
    case CN_ECONFLICT:
        return 409;
    default:
        return 500;
    }
}

void cn_admin__log_reject(cn_admin_t *a, unsigned status, const char *method,
                          const char *url, size_t url_len, const char *peer)
{
    if (!a->log)
        return;
    char quoted[CN_TEXT_QUOTE_BUF(200)];
    fprintf(a->log, "admin: %u %s %s from %s\n", status, method ? method : "-",
            url ? cn_text_quote(url, url_len, 200, quoted) : "-", peer ? peer : "?");
    fflush(a->log);
}

/* ------------------------------------------------------------ auth */

bool cn_admin_token_equal(const char *given, size_t given_len, const char *expected,
                          size_t expected_len)
{
    /* Every byte of the longer string is read and folded into diff; no
     * branch depends on a byte's value, and the loop always runs to the
     * end. The volatile keeps the compiler from turning the fold into an
     * early exit. The lengths themselves are not secret enough to hide. */
    size_t n = given_len > expected_len ? given_len : expected_len;
    volatile unsigned char diff = given_len != expected_len;
    for (size_t i = 0; i < n; i++) {
        unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
        unsigned char e = i < expected_len ? (unsigned char)expected[i] : 0;
        diff = (unsigned char)(diff | (g ^ e));
    }
    return diff == 0;
}

/* "Authorization: Bearer <token>": the scheme is case-insensitive (RFC
 * 9110 11.1), then one or more spaces, then the token. */
static bool authorized(const cn_admin_t *a, const cn_http_message_t *req)
{
    const cn_http_header_t *h = cn_http_find_header(req, "Authorization");
    if (!h || h->value_len < 7 || strncasecmp(h->value, "bearer", 6) != 0 ||
        (h->value[6] != ' ' && h->value[6] != '\t'))
        return false;
    const char *token = h->value + 6;
    size_t len = h->value_len - 6;
    while (len && (*token == ' ' || *token == '\t')) {
        token++;
        len--;
    }
    while (len && (token[len - 1] == ' ' || token[len - 1] == '\t'))
        len--;
    return cn_admin_token_equal(token, len, a->token, a->token_len);
}

/* ------------------------------------------------------------ the table */

/* A pattern is "/..." with no '?' and no "//"; a '*' only as a whole
 * segment, at most CN_ADMIN_MAX_PARAMS of them. */
static bool pattern_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || p[0] != '/' || strchr(p, '?') || strstr(p, "//"))
        return false;
    size_t stars = 0;
    for (const char *s = strchr(p, '*'); s; s = strchr(s + 1, '*')) {
        if (s[-1] != '/' || (s[1] != '\0' && s[1] != '/'))
            return false;
        stars++;
    }
    return stars <= CN_ADMIN_MAX_PARAMS;
}

int cn_admin_add_route(cn_admin_t *a, const cn_admin_route_t *route, char *err,
                       size_t errlen)
{
    if (!route || !route->handler || !route->pattern || !pattern_ok(route->pattern) ||
        !route->methods) {
        snprintf(err, errlen,
                 "admin route '%s': needs a pattern \"/path\" (a '*' may stand "
                 "for whole segments, at most %u), methods and a handler",
                 route && route->pattern ? route->pattern : "", CN_ADMIN_MAX_PARAMS);
        return CN_EINVAL;
    }
    for (size_t i = 0; i < a->nroutes; i++) {
        if (strcmp(a->routes[i].pattern, route->pattern) == 0) {
            snprintf(err, errlen, "admin route '%s': already routed", route->pattern);
            return CN_EINVAL;
        }
    }
    if (a->nroutes >= CN_ADMIN_MAX_ROUTES) {
        snprintf(err, errlen, "admin route '%s': at most %u routes", route->pattern,
                 CN_ADMIN_MAX_ROUTES);
        return CN_ETOOBIG;
    }
    a->routes[a->nroutes++] = *route;
    return 0;
}

typedef struct static_page_s {
    const char *content_type;
    const char *body;
    size_t len;
} static_page_t;

static void handle_static(cn_admin_request_t *req)
{
    const static_page_t *page = cn_admin_request_route_data(req);
    cn_admin_response_t res = {.status = 200, .content_type = page->content_type};
    res.body = cn_xmalloc(page->len + 1);
    memcpy(res.body, page->body, page->len);
    res.body[page->len] = '\0';
    res.body_len = page->len;
    cn_admin_respond(req, &res);
}

/* The page's description is owned by the server (freed with it). */
int cn_admin_add_static(cn_admin_t *a, const char *path, const char *content_type,
                        const char *body, size_t len, char *err, size_t errlen)
{
    static_page_t *page = cn_xmalloc(sizeof *page);
    page->content_type = content_type;
    page->body = body;
    page->len = len;
    cn_admin_route_t r = {CN_ADMIN_GET, path, false, handle_static, page};
    int rc = cn_admin_add_route(a, &r, err, errlen);
    if (rc)
        free(page);
    else
        a->owned[a->nowned++] = page; /* one per route: never more than routes */
    return rc;
}

/* Does path[0..len) match the pattern? Sets the segments matched by its
 * '*'s. */
static bool match(const char *pattern, const char *path, size_t len,
                  cn_admin_request_t *req)
{
    const char *p = pattern, *u = path, *end = path + len;
    size_t np = 0;
    while (*p) {
        if (*p == '*') {
            const char *seg_end = memchr(u, '/', (size_t)(end - u));
            if (!seg_end)
                seg_end = end;
            if (seg_end == u)
                return false; /* an empty segment */
            req->params[np] = u;
            req->param_len[np++] = (size_t)(seg_end - u);
            u = seg_end;
            p++;
            continue;
        }
        if (u == end || *u != *p)
            return false;
        u++;
        p++;
    }
    if (u != end)
        return false;
    req->nparams = np;
    return true;
}

static unsigned method_bit(const cn_http_message_t *m)
{
    switch (m->method) {
    case HTTP_GET:
    case HTTP_HEAD:
        return CN_ADMIN_GET;
    case HTTP_PUT:
        return CN_ADMIN_PUT;
    case HTTP_POST:
        return CN_ADMIN_POST;
    case HTTP_DELETE:
        return CN_ADMIN_DELETE;
    default:
        return 0;
    }
}

/* The Allow header of a method set: static strings, one per set. */
static const char *allow_text(unsigned methods)
{
    static const char *const texts[16] = {
        "",
        "GET, HEAD",
        "PUT",
        "GET, HEAD, PUT",
        "POST",
        "GET, HEAD, POST",
        "PUT, POST",
        "GET, HEAD, PUT, POST",
        "DELETE",
        "GET, HEAD, DELETE",
        "PUT, DELETE",
        "GET, HEAD, PUT, DELETE",
        "POST, DELETE",
        "GET, HEAD, POST, DELETE",
        "PUT, POST, DELETE",
        "GET, HEAD, PUT, POST, DELETE",
    };
    return texts[methods & 15u];
}

void cn_admin__dispatch(cn_admin_request_t *req)
{
    cn_admin_t *a = req->admin;
    const cn_http_message_t *msg = req->msg;
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    const char *url = msg->url ? msg->url : "";
    size_t url_len = msg->url ? msg->url_len : 0;
    const char *q = memchr(url, '?', url_len);
    size_t path_len = q ? (size_t)(q - url) : url_len;
    req->query = q ? q + 1 : url + url_len;
    req->query_len = url_len - path_len - (q != NULL);

    const cn_admin_route_t *route = NULL;
    for (size_t i = 0; i < a->nroutes && !route; i++)
        if (match(a->routes[i].pattern, url, path_len, req))
            route = &a->routes[i];
    req->route = route;

    if (!route || route->token) {
        if (!authorized(a, msg)) {
            cn_admin_response_t res;
            error_body(&res, 401, "missing or wrong bearer token");
            res.www_authenticate = true;
            cn_admin_respond(req, &res);
            return;
        }
        cn_admin__authenticated(req);
    }
    if (!route) {
        cn_admin__respond_error(req, 404, "no such resource: %s",
                                cn_text_quote(url, path_len, 64, quoted));
        return;
    }
    if (!(method_bit(msg) & route->methods)) {
        cn_admin_response_t res;
        cn_admin_response_error(&res, 405, "method %s not allowed (allowed: %s)",
                                msg->method_name ? msg->method_name : "?",
                                allow_text(route->methods));
        res.allow = allow_text(route->methods);
        cn_admin_respond(req, &res);
        return;
    }
    route->handler(req);
}

void cn_admin__add_builtin_routes(cn_admin_t *a)
{
    cn_admin__health_routes(a);
    cn_admin__metrics_routes(a);
    cn_admin__traffic_routes(a);
    cn_admin__versions_routes(a);
    cn_admin__models_routes(a);
    cn_admin__rollouts_routes(a);
    cn_admin__samples_routes(a);
    cn_admin__requests_routes(a);
    cn_admin__feedback_routes(a);
    cn_admin__series_routes(a);
    cn_admin__events_routes(a);
    cn_admin__ui_routes(a);
    cn_admin__remote_routes(a);
}

/* ------------------------------------------------------------ accessors */

const cn_http_message_t *cn_admin_request_message(const cn_admin_request_t *req)
{
    return req->msg;
}

const char *cn_admin_request_param(const cn_admin_request_t *req, size_t i, size_t *len)
{
    if (i >= req->nparams) {
        *len = 0;
        return "";
    }
    *len = req->param_len[i];
    return req->params[i];
}

const char *cn_admin_request_wildcard(const cn_admin_request_t *req, size_t *len)
{
    return cn_admin_request_param(req, 0, len);
}

const char *cn_admin_request_query(const cn_admin_request_t *req, size_t *len)
{
    *len = req->query_len;
    return req->query ? req->query : "";
}

const char *cn_admin_request_peer(const cn_admin_request_t *req)
{
    return req->peer;
}

const void *cn_admin_request_route_data(const cn_admin_request_t *req)
{
    return req->route ? req->route->data : NULL;
}

cn_admin_t *cn_admin_request_server(const cn_admin_request_t *req)
{
    return req->admin;
}
