/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's request handling: routing, authentication, validation
 * and the JSON bodies. No sockets here: cn_admin_handle maps one parsed
 * request to one response, which is what makes every route testable
 * without a network (admin.c does the I/O).
 *
 * Order of checks, and why:
 *  1. /healthz and /metrics are open (probes and scrapers carry no token);
 *  2. every other path, known or not, needs the token first, so that an
 *     unauthenticated client learns nothing, not even which routes exist;
 *  3. then the route (404) and the method (405 with Allow);
 *  4. then the arguments (400), all checked before anything is changed.
 */
#include "api/admin_internal.h"
#include "api/exposition.h"
#include "api/jsonw.h"
#include "metrics/prom.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/text.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JSON_TYPE "application/json"
#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"

static const char *const role_names[2] = {"stable", "canary"};

/* ------------------------------------------------------------ responses */

void cn_admin_response_dispose(cn_admin_response_t *res)
{
    if (!res)
        return;
    free(res->body);
    memset(res, 0, sizeof *res);
}

/* Take a finished JSON body (with a final newline, for curl users). */
static void respond_json(cn_admin_response_t *res, unsigned status, cn_jsonw_t *w)
{
    if (w->overflow) {
        cn_jsonw_dispose(w);
        cn_jsonw_init(w, 256);
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "error");
        cn_jsonw_cstr(w, "response too large");
        cn_jsonw_object_end(w);
        status = 500;
    }
    cn_jsonw_newline(w);
    res->status = status;
    res->content_type = JSON_TYPE;
    res->body = cn_jsonw_take(w, &res->body_len);
}

static void respond_error(cn_admin_response_t *res, unsigned status, const char *fmt,
                          ...) __attribute__((format(printf, 3, 4)));

static void respond_error(cn_admin_response_t *res, unsigned status, const char *fmt,
                          ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "error");
    cn_jsonw_cstr(&w, message);
    cn_jsonw_object_end(&w);
    respond_json(res, status, &w);
}

static void respond_method(cn_admin_response_t *res, const cn_http_message_t *req,
                           const char *allow)
{
    respond_error(res, 405, "method %s not allowed (allowed: %s)", req->method_name,
                  allow);
    res->allow = allow;
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

/* ------------------------------------------------------------ url */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..len) into out (len + 1 bytes), '+' as a space when
 * plus_is_space (query strings). False on a bad escape. */
static bool percent_decode(const char *s, size_t len, bool plus_is_space, char *out,
                           size_t *out_len)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (len - i < 3)
                return false;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[j++] = plus_is_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[j] = '\0';
    *out_len = j;
    return true;
}

/* ------------------------------------------------------------ traffic */

/* Basis points as an exact percentage: 250 -> 2.5, 1 -> 0.01, 10000 -> 100. */
static void write_percent(cn_jsonw_t *w, unsigned bp)
{
    char buf[16];
    if (bp % 100 == 0)
        snprintf(buf, sizeof buf, "%u", bp / 100);
    else if (bp % 10 == 0)
        snprintf(buf, sizeof buf, "%u.%u", bp / 100, bp % 100 / 10);
    else
        snprintf(buf, sizeof buf, "%u.%02u", bp / 100, bp % 100);
    cn_jsonw_raw(w, buf);
}

static void write_traffic(cn_jsonw_t *w, const cn_traffic_t *t, uint64_t step)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "canary_weight");
    write_percent(w, t->canary_weight_bp);
    cn_jsonw_key(w, "mode");
    cn_jsonw_cstr(w, cn_traffic_mode_name(t->mode));
    cn_jsonw_key(w, "shadow_percent");
    write_percent(w, t->shadow_bp);
    cn_jsonw_key(w, "force_enabled");
    cn_jsonw_bool(w, t->force_enabled);
    cn_jsonw_key(w, "step");
    cn_jsonw_u64(w, step);
    cn_jsonw_object_end(w);
}

static void respond_traffic(cn_admin_t *a, cn_admin_response_t *res)
{
    cn_traffic_t t;
    uint64_t step = 0;
    a->ops.get_traffic(a->ops.ctx, &t, &step);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    write_traffic(&w, &t, step);
    respond_json(res, 200, &w);
}

/* A JSON value quoted for an error message: reals in their shortest form
 * (jansson would print 2.555 as 2.5550000000000002), the rest as jansson
 * encodes it, cut to 64 bytes. */
static const char *quote_value(const json_t *v, char *buf)
{
    char text[CN_FMT_DOUBLE_BUF];
    if (json_is_real(v)) {
        cn_fmt_double(json_real_value(v), text, sizeof text);
        return cn_text_quote(text, strlen(text), 64, buf);
    }
    char *dumped = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!dumped)
        return cn_text_quote("?", 1, 64, buf);
    cn_text_quote(dumped, strlen(dumped), 64, buf);
    free(dumped);
    return buf;
}

/*
 * A percentage with at most two decimals, as a JSON integer or real, to
 * basis points. A real is judged by its shortest round-trip form, which is
 * the decimal the client wrote whenever that had 15 significant digits or
 * fewer: 2.55 passes (although 2.55 * 100 is 254.99999999999997 in binary),
 * 2.555 and 2.5500000001 do not.
 */
static bool percent_to_bp(const json_t *v, uint16_t *bp)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > 100)
            return false;
        *bp = (uint16_t)(i * 100);
        return true;
    }
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    if (!(d >= 0 && d <= 100))
        return false;
    char text[CN_FMT_DOUBLE_BUF];
    cn_fmt_double(d, text, sizeof text);
    if (strpbrk(text, "eE"))
        return false; /* only below 1e-4 in this range: too many decimals */
    const char *dot = strchr(text, '.');
    if (dot && strlen(dot + 1) > 2)
        return false;
    *bp = (uint16_t)llround(d * 100);
    return true;
}

static void handle_put_traffic(cn_admin_t *a, const cn_http_message_t *req,
                               cn_admin_response_t *res)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)], key_quoted[CN_TEXT_QUOTE_BUF(64)];
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        respond_error(res, 400, "body: not valid JSON: %s (line %d, column %d)",
                      jerr.text, jerr.line, jerr.column);
        return;
    }
    if (!json_is_object(body)) {
        respond_error(res, 400, "body: expected a JSON object, got %s",
                      quote_value(body, quoted));
        json_decref(body);
        return;
    }

    cn_traffic_t cur, t;
    uint64_t step = 0;
    a->ops.get_traffic(a->ops.ctx, &cur, &step);
    t = cur;
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "canary_weight") == 0) {
            if (!percent_to_bp(v, &t.canary_weight_bp))
                goto bad_percent;
        } else if (strcmp(key, "shadow_percent") == 0) {
            if (!percent_to_bp(v, &t.shadow_bp))
                goto bad_percent;
        } else if (strcmp(key, "mode") == 0) {
            if (!json_is_string(v) ||
                cn_traffic_mode_parse(json_string_value(v), &t.mode)) {
                respond_error(res, 400,
                              "mode: must be \"random\", \"sticky\" or \"shadow\", "
                              "got %s",
                              quote_value(v, quoted));
                goto out;
            }
        } else if (strcmp(key, "force_enabled") == 0) {
            if (!json_is_boolean(v)) {
                respond_error(res, 400, "force_enabled: must be true or false, got %s",
                              quote_value(v, quoted));
                goto out;
            }
            t.force_enabled = json_is_true(v);
        } else {
            respond_error(res, 400,
                          "unknown key \"%s\" (expected canary_weight, mode, "
                          "shadow_percent or force_enabled)",
                          cn_text_quote(key, strlen(key), 64, key_quoted));
            goto out;
        }
        continue;
    bad_percent:
        respond_error(res, 400,
                      "%s: must be a percentage in [0, 100] with at most 2 "
                      "decimals, got %s",
                      key, quote_value(v, quoted));
        goto out;
    }

    if (cn_traffic_validate(&t)) {
        respond_error(res, 400, "traffic: out of range");
        goto out;
    }
    /* An unchanged config is not published: PUT is idempotent, and
     * publishing would start a new measurement step for nothing. */
    if (t.canary_weight_bp != cur.canary_weight_bp || t.shadow_bp != cur.shadow_bp ||
        t.mode != cur.mode || t.force_enabled != cur.force_enabled) {
        char err[256] = "";
        int rc = a->ops.set_traffic(a->ops.ctx, &t, err, sizeof err);
        if (rc) {
            respond_error(res, rc == CN_EINVAL ? 400 : 500, "traffic: %s",
                          err[0] ? err : cn_strerror(rc));
            goto out;
        }
    }
    respond_traffic(a, res);
out:
    json_decref(body);
}

/* ------------------------------------------------------------ samples */

static void write_quantiles(cn_jsonw_t *w, const cn_metrics_hist_t *h)
{
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50", 0.5}, {"p95", 0.95}, {"p99", 0.99}};
    uint64_t n = h ? cn_metrics_hist_count(h) : 0; /* NULL: not asked for */
    cn_jsonw_key(w, "count");
    cn_jsonw_u64(w, n);
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        cn_jsonw_key(w, qs[i].name);
        if (n)
            cn_jsonw_u64(w, cn_metrics_hist_quantile(h, qs[i].q));
        else
            cn_jsonw_null(w);
    }
}

static void write_sample(cn_jsonw_t *w, const double *values, size_t n)
{
    cn_jsonw_key(w, "sample");
    cn_jsonw_array_begin(w);
    for (size_t i = 0; i < n && values; i++)
        cn_jsonw_double(w, values[i]);
    cn_jsonw_array_end(w);
}

static void write_cell(cn_jsonw_t *w, const cn_router_cell_t *c, bool all)
{
    cn_jsonw_object_begin(w);
    if (all) {
        uint64_t errors = c->responses_by_class[5];
        for (int k = 0; k < CN_ROUTER_FAIL_COUNT; k++)
            errors += c->failures[k];
        cn_jsonw_key(w, "requests");
        cn_jsonw_u64(w, c->requests);
        cn_jsonw_key(w, "shadow_requests");
        cn_jsonw_u64(w, c->shadow_requests);
        cn_jsonw_key(w, "errors");
        cn_jsonw_u64(w, errors);
        cn_jsonw_key(w, "retried_on_stable");
        cn_jsonw_u64(w, c->retried_on_stable);
        cn_jsonw_key(w, "latency_us");
        cn_jsonw_object_begin(w);
        write_quantiles(w, c->latency);
        cn_jsonw_object_end(w);
        cn_jsonw_key(w, "predictions");
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "seen");
        cn_jsonw_u64(w, c->predictions[CN_ROUTER_PRED_OK]);
        cn_jsonw_key(w, "sum");
        cn_jsonw_double(w, c->prediction_sum);
        cn_jsonw_object_end(w);
    } else {
        cn_jsonw_key(w, "requests");
        cn_jsonw_u64(w, c->step_requests);
        cn_jsonw_key(w, "errors");
        cn_jsonw_u64(w, c->step_errors);
        cn_jsonw_key(w, "latency_us");
        cn_jsonw_object_begin(w);
        write_quantiles(w, c->step_latency);
        write_sample(w, c->step_latency_us, c->n_step_latency);
        cn_jsonw_object_end(w);
        cn_jsonw_key(w, "predictions");
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "seen");
        cn_jsonw_u64(w, c->step_predictions_seen);
        write_sample(w, c->step_predictions, c->n_step_predictions);
        cn_jsonw_object_end(w);
    }
    cn_jsonw_object_end(w);
}

static void write_samples(cn_jsonw_t *w, const cn_router_snapshot_t *s, bool all)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "window");
    cn_jsonw_cstr(w, all ? "all" : "step");
    cn_jsonw_key(w, "step");
    cn_jsonw_u64(w, s->step);
    cn_jsonw_key(w, "step_started");
    cn_jsonw_double(w, s->step_started_unix_s);
    cn_jsonw_key(w, "now");
    cn_jsonw_double(w, s->now_unix_s);
    cn_jsonw_key(w, "traffic");
    write_traffic(w, &s->traffic, s->step);
    cn_jsonw_key(w, "versions");
    cn_jsonw_object_begin(w);
    for (int role = 0; role < 2; role++) {
        cn_jsonw_key(w, role_names[role]);
        cn_jsonw_object_begin(w);
        cn_jsonw_key(w, "version");
        cn_jsonw_cstr(w,
                      s->version_name[role] ? s->version_name[role] : role_names[role]);
        cn_jsonw_key(w, "segments");
        cn_jsonw_object_begin(w);
        for (size_t i = 0; i < s->ncells; i++) {
            const cn_router_cell_t *c = &s->cells[i];
            /* the current version's cells only: a role's older versions
             * are in /metrics until their series end */
            if ((int)c->role != role ||
                (c->version && s->version_name[role] &&
                 strcmp(c->version, s->version_name[role]) != 0))
                continue;
            cn_jsonw_key(w, c->segment ? c->segment : "");
            write_cell(w, c, all);
        }
        cn_jsonw_object_end(w);
        cn_jsonw_object_end(w);
    }
    cn_jsonw_object_end(w);
    if (!all) {
        cn_jsonw_key(w, "shadow_pairs");
        cn_jsonw_array_begin(w);
        for (size_t i = 0; i < s->npairs; i++) {
            const cn_router_pair_t *p = &s->pairs[i];
            cn_jsonw_object_begin(w);
            cn_jsonw_key(w, "request_id");
            cn_jsonw_string(w, p->request_id,
                            strnlen(p->request_id, sizeof p->request_id));
            cn_jsonw_key(w, "stable");
            cn_jsonw_double(w, p->stable);
            cn_jsonw_key(w, "canary");
            cn_jsonw_double(w, p->canary);
            cn_jsonw_object_end(w);
        }
        cn_jsonw_array_end(w);
    }
    cn_jsonw_object_end(w);
}

static void handle_samples(cn_admin_t *a, const char *query, size_t query_len,
                           cn_admin_response_t *res)
{
    bool all = false;
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    /* Each parameter is decoded into a buffer as long as the query. */
    char *name = cn_xmalloc(query_len + 1), *value = cn_xmalloc(query_len + 1);
    const char *p = query, *end = query + query_len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *vstart = eq ? eq + 1 : stop;
        size_t name_len, value_len;
        if (stop == p) {
            p = stop + 1;
            continue;
        }
        if (!percent_decode(p, (size_t)((eq ? eq : stop) - p), true, name, &name_len) ||
            !percent_decode(vstart, (size_t)(stop - vstart), true, value, &value_len)) {
            respond_error(res, 400, "query: bad percent-encoding in '%s'",
                          cn_text_quote(p, (size_t)(stop - p), 64, quoted));
            goto out;
        }
        if (strcmp(name, "window") != 0) {
            respond_error(res, 400, "query: unknown parameter '%s' (expected window)",
                          cn_text_quote(name, name_len, 64, quoted));
            goto out;
        }
        if (strcmp(value, "step") == 0)
            all = false;
        else if (strcmp(value, "all") == 0)
            all = true;
        else {
            respond_error(res, 400,
                          "window: must be 'step' or 'all', got '%s' (durations "
                          "are not supported)",
                          cn_text_quote(value, value_len, 64, quoted));
            goto out;
        }
        p = stop + 1;
    }

    cn_router_snapshot_t *s = a->ops.snapshot(a->ops.ctx);
    if (!s) {
        respond_error(res, 503, "no snapshot of the router is available");
        goto out;
    }
    cn_jsonw_t w;
    cn_jsonw_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
    write_samples(&w, s, all);
    a->ops.snapshot_free(s);
    respond_json(res, 200, &w);
out:
    free(name);
    free(value);
}

/* ------------------------------------------------------------ others */

static void handle_metrics(cn_admin_t *a, cn_admin_response_t *res)
{
    cn_router_snapshot_t *s = a->ops.snapshot(a->ops.ctx);
    if (!s) {
        respond_error(res, 503, "no snapshot of the router is available");
        return;
    }
    cn_prom_writer_t w;
    cn_prom_init(&w, CN_ADMIN_MAX_RESPONSE_BYTES);
    int rc = cn_admin_exposition(s, &w);
    a->ops.snapshot_free(s);
    if (rc) {
        cn_prom_dispose(&w);
        respond_error(res, 500, "metrics: %s", cn_strerror(rc));
        return;
    }
    res->status = 200;
    res->content_type = PROM_TYPE;
    res->body = cn_prom_take(&w, &res->body_len);
}

static void handle_lookup(cn_admin_t *a, const char *id_raw, size_t id_raw_len,
                          cn_admin_response_t *res)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    char *id = cn_xmalloc(id_raw_len + 1);
    size_t id_len;
    if (!percent_decode(id_raw, id_raw_len, false, id, &id_len)) {
        respond_error(res, 400, "request id: bad percent-encoding in '%s'",
                      cn_text_quote(id_raw, id_raw_len, 64, quoted));
        goto out;
    }
    cn_router_lookup_t found;
    memset(&found, 0, sizeof found);
    int rc = a->ops.lookup(a->ops.ctx, id, id_len, &found);
    if (rc == CN_ENOTFOUND) {
        respond_error(res, 404,
                      "request id '%s' not found (only recent requests are "
                      "remembered)",
                      cn_text_quote(id, id_len, 64, quoted));
        goto out;
    }
    if (rc) {
        respond_error(res, 500, "lookup: %s", cn_strerror(rc));
        goto out;
    }
    cn_jsonw_t w;
    cn_jsonw_init(&w, 4096);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "request_id");
    cn_jsonw_string(&w, id, id_len);
    cn_jsonw_key(&w, "version");
    cn_jsonw_string(&w, found.version, strnlen(found.version, sizeof found.version));
    cn_jsonw_key(&w, "role");
    cn_jsonw_cstr(&w, found.role == CN_ROLE_CANARY ? "canary" : "stable");
    cn_jsonw_key(&w, "segment");
    cn_jsonw_string(&w, found.segment, strnlen(found.segment, sizeof found.segment));
    cn_jsonw_key(&w, "time");
    cn_jsonw_double(&w, found.unix_s);
    cn_jsonw_key(&w, "shadowed");
    cn_jsonw_bool(&w, found.shadowed);
    cn_jsonw_object_end(&w);
    respond_json(res, 200, &w);
out:
    free(id);
}

static bool path_is(const char *path, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(path, want, len) == 0;
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

static void route(cn_admin_t *a, const cn_http_message_t *req, cn_admin_response_t *res)
{
    const char *url = req->url ? req->url : "";
    size_t url_len = req->url ? req->url_len : 0;
    const char *q = memchr(url, '?', url_len);
    size_t path_len = q ? (size_t)(q - url) : url_len;
    const char *query = q ? q + 1 : url + url_len;
    size_t query_len = url_len - path_len - (q != NULL);
    /* HEAD is GET without the body (admin.c drops it). */
    bool get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    char quoted[CN_TEXT_QUOTE_BUF(64)];

    if (path_is(url, path_len, "/healthz")) {
        if (!get) {
            respond_method(res, req, "GET, HEAD");
            return;
        }
        static const char ok[] = "{\"status\":\"ok\"}\n";
        res->status = 200;
        res->content_type = JSON_TYPE;
        res->body = cn_xmalloc(sizeof ok);
        memcpy(res->body, ok, sizeof ok);
        res->body_len = sizeof ok - 1;
        return;
    }
    if (path_is(url, path_len, "/metrics")) {
        if (get)
            handle_metrics(a, res);
        else
            respond_method(res, req, "GET, HEAD");
        return;
    }

    if (!authorized(a, req)) {
        respond_error(res, 401, "missing or wrong bearer token");
        res->www_authenticate = true;
        return;
    }

    static const char prefix[] = "/v1/requests/";
    size_t prefix_len = sizeof prefix - 1;
    if (path_is(url, path_len, "/v1/traffic")) {
        if (get)
            respond_traffic(a, res);
        else if (req->method == HTTP_PUT)
            handle_put_traffic(a, req, res);
        else
            respond_method(res, req, "GET, HEAD, PUT");
    } else if (path_is(url, path_len, "/v1/samples")) {
        if (get)
            handle_samples(a, query, query_len, res);
        else
            respond_method(res, req, "GET, HEAD");
    } else if (path_len > prefix_len && memcmp(url, prefix, prefix_len) == 0 &&
               !memchr(url + prefix_len, '/', path_len - prefix_len)) {
        if (get)
            handle_lookup(a, url + prefix_len, path_len - prefix_len, res);
        else
            respond_method(res, req, "GET, HEAD");
    } else {
        respond_error(res, 404, "no such resource: %s",
                      cn_text_quote(url, path_len, 64, quoted));
    }
}

void cn_admin_handle(cn_admin_t *a, const cn_http_message_t *req, const char *peer,
                     cn_admin_response_t *res)
{
    memset(res, 0, sizeof *res);
    route(a, req, res);
    if (res->status >= 400)
        cn_admin__log_reject(a, res->status, req->method_name, req->url, req->url_len,
                             peer);
}
