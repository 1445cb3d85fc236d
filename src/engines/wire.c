/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The controller-to-replica codecs (wire.h).
 *
 * The snapshot layout, in order (u8/u16/u32/u64 little-endian, f64 the
 * IEEE bits as a u64, str a u32 length then the bytes, hist below):
 *
 *   "CNSNAP01"                                magic and version, 8 bytes
 *   u32 what; u64 generation
 *   u16 canary_weight_bp; u16 shadow_bp; u8 mode; u8 force
 *   u64 step; f64 step_started_unix_s; f64 now_unix_s
 *   str version_name[stable]; str version_name[canary]
 *   u32 workers; u64 connections_open; u64 connections_total
 *   u64 rejects[CN_ROUTER_REJECT_COUNT]
 *   u32 n_prediction_bounds; f64 bounds[n]
 *   u32 ncells; cell[ncells]
 *   u32 npairs; {str request_id; f64 stable; f64 canary}[npairs]
 *   u32 nupstreams; {str address; u8 role; u8 up; u8 checked;
 *                    u64 failures}[nupstreams]
 *   u32 naddresses; {str address; u8 role; u64 requests; u64 errors;
 *                    hist latency}[naddresses]
 *
 *   cell: str segment; u8 role; str version;
 *         u64 requests, shadow_requests, responses_by_class[6];
 *         u32 ncodes; {u16 code; u64 count}[ncodes];
 *         u64 failures[CN_ROUTER_FAIL_COUNT]; u64 retried_on_stable;
 *         u64 request_bytes, response_bytes;
 *         u64 predictions[CN_ROUTER_PRED_COUNT]; f64 prediction_sum;
 *         u32 n_le; u64 prediction_le[n_le]   (n_le 0: NULL)
 *         u64 step_requests, step_errors, step_latency_seen,
 *             step_predictions_seen;
 *         u8 has; hist latency        (has 0: NULL)
 *         u8 has; hist step_latency
 *         u32 n; f64 step_latency_us[n]; u32 n; f64 step_predictions[n]
 *             (n 0 with the SAMPLES bit: an empty array, not NULL)
 *         u32 nbins; f64 bounds[nbins - 1]; u64 bins[nbins]  (0: none)
 *
 *   hist: u64 count; u64 sum_us; u64 clamped; u32 nz;
 *         {u32 index; u64 count}[nz], indices strictly ascending.
 *
 * Why binary and sparse: 10^5 latencies as JSON text are about 2 MB and
 * cost a parser tens of milliseconds and a rounding question each; here
 * they are 800 kB of memcpy-speed reads, exact. A histogram is 4,352
 * buckets of which a step uses a few hundred.
 */
#include "engines/wire.h"
#include "util/error.h"
#include "util/text.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "CNSNAP01"

/* ------------------------------------------------------------ JSON */

static bool visible_ascii(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

static json_t *set_json(const cn_version_set_t *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->count; i++)
        json_array_append_new(a, json_string(s->addresses[i]));
    return json_pack("{s:s, s:o}", "version", s->version, "addresses", a);
}

static int dump(cn_buf_t *out, json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return CN_EINVAL;
    int rc = cn_buf_str(out, text);
    if (!rc)
        rc = cn_buf_byte(out, '\n');
    free(text);
    return rc;
}

int cn_wire_generation_render(cn_buf_t *out, const char *controller,
                              const cn_generation_t *g, uint64_t lease_ms)
{
    const cn_traffic_t *t = &g->traffic;
    json_t *o = json_pack(
        "{s:s, s:I, s:{s:i, s:i, s:s, s:b}, s:o, s:o, s:I}", "controller", controller,
        "generation", (json_int_t)g->number, "traffic", "canary_weight_bp",
        (int)t->canary_weight_bp, "shadow_bp", (int)t->shadow_bp, "mode",
        cn_traffic_mode_name(t->mode), "force", (int)t->force_enabled, "stable",
        set_json(&g->sets[CN_ROLE_STABLE]), "canary",
        set_json(&g->sets[CN_ROLE_CANARY]), "lease_ms", (json_int_t)lease_ms);
    return dump(out, o);
}

int cn_wire_lease_render(cn_buf_t *out, const char *controller, uint64_t generation,
                         uint64_t lease_ms)
{
    return dump(out,
                json_pack("{s:s, s:I, s:I}", "controller", controller, "generation",
                          (json_int_t)generation, "lease_ms", (json_int_t)lease_ms));
}

static int get_lease(json_t *o, uint64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, "lease_ms");
    *out = 0;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > CN_WIRE_LEASE_MAX_MS)
        return cn_fail(err, errlen, CN_EINVAL,
                       "lease_ms: must be an integer in [0, %u]", CN_WIRE_LEASE_MAX_MS);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static json_t *load_object(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        /* jansson's text may quote the input, control characters and all */
        char q[CN_TEXT_QUOTE_BUF(160)];
        cn_fail(err, errlen, CN_EPARSE, "body: not JSON: %s (at %d)",
                cn_text_quote(je.text, strlen(je.text), 160, q), je.position);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        cn_fail(err, errlen, CN_EPARSE, "body: must be a JSON object");
        return NULL;
    }
    return o;
}

static int get_controller(json_t *o, char *controller, char *err, size_t errlen)
{
    json_t *c = json_object_get(o, "controller");
    if (!json_is_string(c) ||
        !visible_ascii(json_string_value(c), json_string_length(c),
                       CN_WIRE_CONTROLLER_MAX))
        return cn_fail(err, errlen, CN_EINVAL,
                       "controller: must be a name of 1 to %u visible ASCII "
                       "characters",
                       CN_WIRE_CONTROLLER_MAX);
    memcpy(controller, json_string_value(c), json_string_length(c) + 1);
    return 0;
}

static int get_generation(json_t *o, uint64_t min, uint64_t *out, char *err,
                          size_t errlen)
{
    json_t *n = json_object_get(o, "generation");
    if (!json_is_integer(n) || json_integer_value(n) < (json_int_t)min)
        return cn_fail(err, errlen, CN_EINVAL, "generation: must be an integer >= %llu",
                       (unsigned long long)min);
    *out = (uint64_t)json_integer_value(n);
    return 0;
}

static int get_bp(json_t *t, const char *key, uint16_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(t, key);
    if (!v) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > CN_BP_MAX)
        return cn_fail(err, errlen, CN_EINVAL,
                       "traffic.%s: must be an integer in [0, %u] (basis points)", key,
                       CN_BP_MAX);
    *out = (uint16_t)json_integer_value(v);
    return 0;
}

static int get_set(json_t *o, const char *role, cn_version_set_t *s, char *err,
                   size_t errlen)
{
    json_t *j = json_object_get(o, role);
    if (!json_is_object(j))
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s: must be an object with version "
                       "and addresses",
                       role);
    json_t *v = json_object_get(j, "version");
    if (!json_is_string(v) ||
        !visible_ascii(json_string_value(v), json_string_length(v),
                       CN_VERSION_LABEL_MAX))
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s.version: must be a label of 1 to %u visible ASCII "
                       "characters",
                       role, CN_VERSION_LABEL_MAX);
    json_t *a = json_object_get(j, "addresses");
    if (!json_is_array(a) || json_array_size(a) > CN_VERSION_MAX_ADDRESSES)
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s.addresses: must be a list of at most %u addresses", role,
                       CN_VERSION_MAX_ADDRESSES);
    cn_version_set_dispose(s);
    cn_version_set_init(s, json_string_value(v));
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_string(e) ||
            !visible_ascii(json_string_value(e), json_string_length(e), 255))
            return cn_fail(err, errlen, CN_EINVAL,
                           "%s.addresses[%zu]: must be an address \"host:port\"", role,
                           i);
        cn_version_set_add(s, json_string_value(e));
    }
    return 0;
}

int cn_wire_generation_parse(const char *body, size_t len, cn_generation_t *g,
                             char *controller, uint64_t *lease_ms, char *err,
                             size_t errlen)
{
    json_t *o = load_object(body, len, err, errlen);
    if (!o)
        return CN_EPARSE;
    cn_generation_dispose(g);
    cn_generation_init(g);
    int rc = get_controller(o, controller, err, errlen);
    if (!rc)
        rc = get_generation(o, 1, &g->number, err, errlen);
    json_t *t = json_object_get(o, "traffic");
    if (!rc && !json_is_object(t))
        rc = cn_fail(err, errlen, CN_EINVAL, "traffic: must be an object");
    if (!rc)
        rc = get_bp(t, "canary_weight_bp", &g->traffic.canary_weight_bp, err, errlen);
    if (!rc)
        rc = get_bp(t, "shadow_bp", &g->traffic.shadow_bp, err, errlen);
    if (!rc) {
        json_t *m = json_object_get(t, "mode");
        g->traffic.mode = CN_TRAFFIC_MODE_RANDOM;
        if (m && (!json_is_string(m) ||
                  cn_traffic_mode_parse(json_string_value(m), &g->traffic.mode)))
            rc = cn_fail(err, errlen, CN_EINVAL,
                         "traffic.mode: must be random, sticky or shadow");
    }
    if (!rc) {
        json_t *f = json_object_get(t, "force");
        if (f && !json_is_boolean(f))
            rc = cn_fail(err, errlen, CN_EINVAL, "traffic.force: must be a boolean");
        g->traffic.force_enabled = json_is_true(f);
    }
    if (!rc)
        rc = get_set(o, "stable", &g->sets[CN_ROLE_STABLE], err, errlen);
    if (!rc)
        rc = get_set(o, "canary", &g->sets[CN_ROLE_CANARY], err, errlen);
    if (!rc)
        rc = get_lease(o, lease_ms, err, errlen);
    json_decref(o);
    return rc;
}

int cn_wire_lease_parse(const char *body, size_t len, char *controller,
                        uint64_t *generation, uint64_t *lease_ms, char *err,
                        size_t errlen)
{
    json_t *o = load_object(body, len, err, errlen);
    if (!o)
        return CN_EPARSE;
    int rc = get_controller(o, controller, err, errlen);
    if (!rc)
        rc = get_generation(o, 0, generation, err, errlen);
    if (!rc)
        rc = get_lease(o, lease_ms, err, errlen);
    json_decref(o);
    return rc;
}

/* ------------------------------------------------------------ binary out */

static int put(cn_buf_t *b, uint64_t v, unsigned bytes)
{
    unsigned char x[8];
    for (unsigned i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    return cn_buf_add(b, x, bytes);
}

#define U8(b, v) put(b, (uint64_t)(v), 1)
#define U16(b, v) put(b, (uint64_t)(v), 2)
#define U32(b, v) put(b, (uint64_t)(v), 4)
#define U64(b, v) put(b, (uint64_t)(v), 8)

static int f64(cn_buf_t *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    return U64(b, v);
}

static int f64s(cn_buf_t *b, const double *d, size_t n)
{
    if (cn_buf_reserve(b, n * 8))
        return CN_ETOOBIG;
    for (size_t i = 0; i < n; i++)
        f64(b, d[i]);
    return 0;
}

static int str(cn_buf_t *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    U32(b, n);
    return cn_buf_add(b, s ? s : "", n);
}

static int hist(cn_buf_t *b, const cn_metrics_hist_t *h)
{
    U64(b, h->count);
    U64(b, h->sum_us);
    U64(b, h->clamped);
    uint32_t nz = 0;
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++)
        nz += h->counts[i] != 0;
    U32(b, nz);
    for (size_t i = 0; i < CN_METRICS_HIST_BUCKETS; i++)
        if (h->counts[i]) {
            U32(b, i);
            U64(b, h->counts[i]);
        }
    return b->overflow ? CN_ETOOBIG : 0;
}

static void opt_hist(cn_buf_t *b, const cn_metrics_hist_t *h)
{
    U8(b, h != NULL);
    if (h)
        hist(b, h);
}

static void cell_out(cn_buf_t *b, const cn_router_cell_t *c, size_t n_le)
{
    str(b, c->segment);
    U8(b, c->role);
    str(b, c->version);
    U64(b, c->requests);
    U64(b, c->shadow_requests);
    for (int i = 0; i < 6; i++)
        U64(b, c->responses_by_class[i]);
    U32(b, c->ncodes);
    for (size_t i = 0; i < c->ncodes; i++) {
        U16(b, c->codes[i].code);
        U64(b, c->codes[i].count);
    }
    for (int i = 0; i < CN_ROUTER_FAIL_COUNT; i++)
        U64(b, c->failures[i]);
    U64(b, c->retried_on_stable);
    U64(b, c->request_bytes);
    U64(b, c->response_bytes);
    for (int i = 0; i < CN_ROUTER_PRED_COUNT; i++)
        U64(b, c->predictions[i]);
    f64(b, c->prediction_sum);
    U32(b, c->prediction_le ? n_le : 0);
    for (size_t i = 0; c->prediction_le && i < n_le; i++)
        U64(b, c->prediction_le[i]);
    U64(b, c->step_requests);
    U64(b, c->step_errors);
    U64(b, c->step_latency_seen);
    U64(b, c->step_predictions_seen);
    opt_hist(b, c->latency);
    opt_hist(b, c->step_latency);
    U32(b, c->n_step_latency);
    f64s(b, c->step_latency_us, c->n_step_latency);
    U32(b, c->n_step_predictions);
    f64s(b, c->step_predictions, c->n_step_predictions);
    size_t nbins = c->step_latency_bins ? c->n_step_latency_bins : 0;
    U32(b, nbins);
    if (nbins) {
        f64s(b, c->step_latency_bounds, nbins - 1);
        for (size_t i = 0; i < nbins; i++)
            U64(b, c->step_latency_bins[i]);
    }
}

int cn_wire_snapshot_render(cn_buf_t *b, const cn_router_snapshot_t *s)
{
    cn_buf_add(b, MAGIC, 8);
    U32(b, s->what);
    U64(b, s->generation);
    U16(b, s->traffic.canary_weight_bp);
    U16(b, s->traffic.shadow_bp);
    U8(b, s->traffic.mode);
    U8(b, s->traffic.force_enabled);
    U64(b, s->step);
    f64(b, s->step_started_unix_s);
    f64(b, s->now_unix_s);
    str(b, s->version_name[CN_ROLE_STABLE]);
    str(b, s->version_name[CN_ROLE_CANARY]);
    U32(b, s->workers);
    U64(b, s->connections_open);
    U64(b, s->connections_total);
    for (int i = 0; i < CN_ROUTER_REJECT_COUNT; i++)
        U64(b, s->rejects[i]);
    U32(b, s->n_prediction_bounds);
    f64s(b, s->prediction_bounds, s->n_prediction_bounds);
    U32(b, s->ncells);
    for (size_t i = 0; i < s->ncells; i++)
        cell_out(b, &s->cells[i], s->n_prediction_bounds + 1);
    U32(b, s->npairs);
    for (size_t i = 0; i < s->npairs; i++) {
        str(b, s->pairs[i].request_id);
        f64(b, s->pairs[i].stable);
        f64(b, s->pairs[i].canary);
    }
    U32(b, s->nupstreams);
    for (size_t i = 0; i < s->nupstreams; i++) {
        const cn_router_upstream_state_t *u = &s->upstreams[i];
        str(b, u->address);
        U8(b, u->role);
        U8(b, u->up);
        U8(b, u->checked);
        U64(b, u->failures);
    }
    U32(b, s->naddresses);
    for (size_t i = 0; i < s->naddresses; i++) {
        const cn_router_address_stat_t *a = &s->addresses[i];
        str(b, a->address);
        U8(b, a->role);
        U64(b, a->requests);
        U64(b, a->errors);
        hist(b, a->latency);
    }
    return b->overflow ? CN_ETOOBIG : 0;
}

/* ------------------------------------------------------------ binary in */

typedef struct rd_s {
    const unsigned char *p, *end;
    int rc;         /* sticky: the first error */
    char what[160]; /* where it happened */
} rd_t;

static void bad(rd_t *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void bad(rd_t *r, int rc, const char *fmt, ...)
{
    if (r->rc)
        return;
    r->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof r->what, fmt, ap);
    va_end(ap);
    r->p = r->end;
}

static bool need(rd_t *r, size_t n)
{
    if (r->rc)
        return false;
    if ((size_t)(r->end - r->p) < n) {
        bad(r, CN_EPARSE, "truncated");
        return false;
    }
    return true;
}

static uint64_t get(rd_t *r, unsigned bytes)
{
    if (!need(r, bytes))
        return 0;
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

#define G8(r) ((uint8_t)get(r, 1))
#define G16(r) ((uint16_t)get(r, 2))
#define G32(r) ((uint32_t)get(r, 4))
#define G64(r) get(r, 8)

static double gf64(rd_t *r)
{
    uint64_t v = G64(r);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* A count of items of at least `each` bytes: bounded by what is left, so
 * no input allocates more than a multiple of its own size. */
static size_t gcount(rd_t *r, size_t each, size_t max, const char *what)
{
    uint32_t n = G32(r);
    if (r->rc)
        return 0;
    if (n > max || (size_t)(r->end - r->p) / each < n) {
        bad(r, n > max ? CN_ETOOBIG : CN_EPARSE, "%s: %u items do not fit", what,
            (unsigned)n);
        return 0;
    }
    return n;
}

static char *gstr(rd_t *r)
{
    size_t n = gcount(r, 1, CN_WIRE_MAX_STRING, "string");
    if (r->rc)
        return NULL;
    if (memchr(r->p, '\0', n)) {
        bad(r, CN_EPARSE, "a string holds a NUL byte");
        return NULL;
    }
    char *s = cn_xmalloc(n + 1);
    memcpy(s, r->p, n);
    s[n] = '\0';
    r->p += n;
    return s;
}

static double *gf64s(rd_t *r, size_t n)
{
    if (!need(r, n * 8))
        return NULL;
    double *d = cn_xmalloc(n ? n * sizeof *d : 1);
    for (size_t i = 0; i < n; i++)
        d[i] = gf64(r);
    return d;
}

static cn_role_t grole(rd_t *r)
{
    uint8_t v = G8(r);
    if (v >= CN_ROLE_COUNT)
        bad(r, CN_EPARSE, "role %u out of range", (unsigned)v);
    return (cn_role_t)(v < CN_ROLE_COUNT ? v : 0);
}

static bool gbool(rd_t *r)
{
    uint8_t v = G8(r);
    if (v > 1)
        bad(r, CN_EPARSE, "boolean %u out of range", (unsigned)v);
    return v == 1;
}

static cn_metrics_hist_t *ghist(rd_t *r)
{
    cn_metrics_hist_t *h = cn_xmalloc(sizeof *h);
    cn_metrics_hist_init(h);
    h->count = G64(r);
    h->sum_us = G64(r);
    h->clamped = G64(r);
    size_t nz = gcount(r, 12, CN_METRICS_HIST_BUCKETS, "histogram");
    uint64_t last = 0;
    for (size_t i = 0; i < nz && !r->rc; i++) {
        uint32_t idx = G32(r);
        uint64_t n = G64(r);
        if (idx >= CN_METRICS_HIST_BUCKETS || (i && idx <= last) || n == 0)
            bad(r, CN_EPARSE, "histogram: bucket %u out of order or range, or empty",
                (unsigned)idx);
        else
            h->counts[idx] = n;
        last = idx;
    }
    return h;
}

static cn_metrics_hist_t *opt_ghist(rd_t *r)
{
    return gbool(r) ? ghist(r) : NULL;
}

static void cell_in(rd_t *r, cn_router_cell_t *c, size_t n_le, bool samples)
{
    c->segment = gstr(r);
    c->role = grole(r);
    c->version = gstr(r);
    c->requests = G64(r);
    c->shadow_requests = G64(r);
    for (int i = 0; i < 6; i++)
        c->responses_by_class[i] = G64(r);
    c->ncodes = gcount(r, 10, 500, "codes");
    if (c->ncodes) {
        c->codes = cn_xcalloc(c->ncodes, sizeof *c->codes);
        for (size_t i = 0; i < c->ncodes; i++) {
            c->codes[i].code = G16(r);
            c->codes[i].count = G64(r);
        }
    }
    for (int i = 0; i < CN_ROUTER_FAIL_COUNT; i++)
        c->failures[i] = G64(r);
    c->retried_on_stable = G64(r);
    c->request_bytes = G64(r);
    c->response_bytes = G64(r);
    for (int i = 0; i < CN_ROUTER_PRED_COUNT; i++)
        c->predictions[i] = G64(r);
    c->prediction_sum = gf64(r);
    size_t nle = gcount(r, 8, n_le, "prediction buckets");
    if (nle && nle != n_le)
        bad(r, CN_EPARSE, "prediction buckets: %zu, expected %zu", nle, n_le);
    if (nle && !r->rc) {
        c->prediction_le = cn_xcalloc(nle, sizeof *c->prediction_le);
        for (size_t i = 0; i < nle; i++)
            c->prediction_le[i] = G64(r);
    }
    c->step_requests = G64(r);
    c->step_errors = G64(r);
    c->step_latency_seen = G64(r);
    c->step_predictions_seen = G64(r);
    c->latency = opt_ghist(r);
    c->step_latency = opt_ghist(r);
    c->n_step_latency = gcount(r, 8, UINT32_MAX, "latency sample");
    double *d = gf64s(r, c->n_step_latency);
    if (samples || c->n_step_latency)
        c->step_latency_us = d;
    else
        free(d);
    c->n_step_predictions = gcount(r, 8, UINT32_MAX, "prediction sample");
    d = gf64s(r, c->n_step_predictions);
    if (samples || c->n_step_predictions)
        c->step_predictions = d;
    else
        free(d);
    size_t nbins = gcount(r, 8, 1u << 16, "latency bins");
    if (nbins && !r->rc) {
        c->n_step_latency_bins = nbins;
        c->step_latency_bounds = gf64s(r, nbins - 1);
        c->step_latency_bins = cn_xcalloc(nbins, sizeof *c->step_latency_bins);
        for (size_t i = 0; i < nbins; i++)
            c->step_latency_bins[i] = G64(r);
    }
}

int cn_wire_snapshot_parse(const void *data, size_t len, cn_router_snapshot_t **out,
                           char *err, size_t errlen)
{
    *out = NULL;
    rd_t r = {.p = data, .end = (const unsigned char *)data + len};
    if (len < 8 || memcmp(data, MAGIC, 8) != 0)
        return cn_fail(err, errlen, CN_EPARSE,
                       "snapshot: not a canary snapshot (bad magic or version)");
    r.p += 8;
    cn_router_snapshot_t *s = cn_xcalloc(1, sizeof *s);
    s->what = G32(&r);
    s->generation = G64(&r);
    s->traffic.canary_weight_bp = G16(&r);
    s->traffic.shadow_bp = G16(&r);
    uint8_t mode = G8(&r);
    if (mode >= CN_TRAFFIC_MODE_COUNT)
        bad(&r, CN_EPARSE, "traffic mode %u out of range", (unsigned)mode);
    s->traffic.mode = (cn_traffic_mode_t)(mode < CN_TRAFFIC_MODE_COUNT ? mode : 0);
    s->traffic.force_enabled = gbool(&r);
    if (!r.rc && cn_traffic_validate(&s->traffic))
        bad(&r, CN_EPARSE, "traffic out of range");
    s->step = G64(&r);
    s->step_started_unix_s = gf64(&r);
    s->now_unix_s = gf64(&r);
    s->version_name[CN_ROLE_STABLE] = gstr(&r);
    s->version_name[CN_ROLE_CANARY] = gstr(&r);
    s->workers = G32(&r);
    s->connections_open = G64(&r);
    s->connections_total = G64(&r);
    for (int i = 0; i < CN_ROUTER_REJECT_COUNT; i++)
        s->rejects[i] = G64(&r);
    s->n_prediction_bounds = gcount(&r, 8, 4096, "prediction bounds");
    s->prediction_bounds = gf64s(&r, s->n_prediction_bounds);
    /* a cell is at least 200 bytes: the bound keeps a tiny input from
     * allocating CN_WIRE_MAX_CELLS cells */
    size_t ncells = gcount(&r, 200, CN_WIRE_MAX_CELLS, "cells");
    if (ncells)
        s->cells = cn_xcalloc(ncells, sizeof *s->cells);
    bool samples = (s->what & CN_ROUTER_SNAP_SAMPLES) != 0;
    for (size_t i = 0; i < ncells && !r.rc; i++) {
        s->ncells = i + 1;
        cell_in(&r, &s->cells[i], s->n_prediction_bounds + 1, samples);
        if (r.rc) {
            char w[sizeof r.what];
            snprintf(w, sizeof w, "%s", r.what);
            snprintf(r.what, sizeof r.what, "cell %zu: %.120s", i, w);
        }
    }
    s->npairs = gcount(&r, 20, UINT32_MAX, "pairs");
    if (s->npairs)
        s->pairs = cn_xcalloc(s->npairs, sizeof *s->pairs);
    for (size_t i = 0; i < s->npairs && !r.rc; i++) {
        char *id = gstr(&r);
        if (id && strlen(id) >= sizeof s->pairs[i].request_id)
            bad(&r, CN_EPARSE, "pair %zu: request id too long", i);
        else if (id)
            memcpy(s->pairs[i].request_id, id, strlen(id) + 1);
        free(id);
        s->pairs[i].stable = gf64(&r);
        s->pairs[i].canary = gf64(&r);
    }
    size_t nup = gcount(&r, 15, 65536, "upstreams");
    if (nup)
        s->upstreams = cn_xcalloc(nup, sizeof *s->upstreams);
    for (size_t i = 0; i < nup && !r.rc; i++) {
        cn_router_upstream_state_t *u = &s->upstreams[i];
        s->nupstreams = i + 1;
        u->address = gstr(&r);
        u->role = grole(&r);
        u->up = gbool(&r);
        u->checked = gbool(&r);
        u->failures = G64(&r);
    }
    size_t naddr = gcount(&r, 49, 65536, "addresses");
    if (naddr)
        s->addresses = cn_xcalloc(naddr, sizeof *s->addresses);
    for (size_t i = 0; i < naddr && !r.rc; i++) {
        cn_router_address_stat_t *a = &s->addresses[i];
        s->naddresses = i + 1;
        a->address = gstr(&r);
        a->role = grole(&r);
        a->requests = G64(&r);
        a->errors = G64(&r);
        a->latency = ghist(&r);
    }
    if (!r.rc && r.p != r.end)
        bad(&r, CN_EPARSE, "%zu bytes after the end", (size_t)(r.end - r.p));
    if (r.rc) {
        cn_wire_snapshot_free(s);
        return cn_fail(err, errlen, r.rc, "snapshot: %s", r.what);
    }
    *out = s;
    return 0;
}

void cn_wire_snapshot_free(cn_router_snapshot_t *s)
{
    if (!s)
        return;
    free((void *)s->prediction_bounds);
    s->prediction_bounds = NULL;
    cn_router_snapshot_free(s);
}
