/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The weight engine over one rule of one Kubernetes object (k8s.h): an
 * HTTPRoute's spec.rules[i].backendRefs (Gateway API) or a
 * VirtualService's spec.http[i].route (Istio).
 *
 * A generation says which addresses serve stable and which canary, and
 * the canary's share. Each address is mapped to a backend of the rule
 * (the config's `backends`, or "svc:port" read as name and port); every
 * backend of the rule that matches a stable address is stable, one that
 * matches a canary address is canary, and one that matches neither gets
 * weight 0 (a rule's backends all share its traffic: an old version left
 * in the rule would otherwise keep a part of it). An address with no
 * backend in the rule is appended to it. Backends are never removed:
 * a weight of 0 is enough, and removing shifts the indices other writers
 * may hold.
 *
 * The shares: Gateway API weights are proportional, so canary gets
 * canary_bp x 100 out of 1,000,000 (exact to the basis point). Istio's are
 * integer percentages that sum to 100, so the share is quantised to whole
 * percents (cn_k8s_canary_share). Within a set, the share is spread over
 * its backends as evenly as integers allow.
 *
 * One write: GET the object, plan, and if any weight differs, PATCH with
 * [test resourceVersion, replace/add weights..., add backends...]. A
 * failed test (422), or a 409, means someone wrote in between: read again
 * and plan again, at most conflict_retries times.
 */
#include "engines/k8s.h"
#include "engines/k8s_internal.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K8S_ERR 512

uint32_t cn_k8s_canary_share(cn_k8s_kind_t kind, uint16_t canary_bp, uint32_t *total)
{
    if (canary_bp > CN_BP_MAX)
        canary_bp = CN_BP_MAX;
    if (kind == CN_K8S_GATEWAY_API) {
        *total = CN_K8S_GATEWAY_WEIGHT_MAX;
        return (uint32_t)canary_bp * (CN_K8S_GATEWAY_WEIGHT_MAX / CN_BP_MAX);
    }
    *total = 100;
    uint32_t pct = ((uint32_t)canary_bp + 50) / 100;
    if (canary_bp > 0 && pct == 0)
        pct = 1;
    if (canary_bp < CN_BP_MAX && pct == 100)
        pct = 99;
    return pct;
}

void cn_k8s_spread(uint32_t amount, size_t n, uint32_t *out)
{
    if (n == 0)
        return;
    uint32_t each = (uint32_t)(amount / n), extra = (uint32_t)(amount % n);
    for (size_t i = 0; i < n; i++)
        out[i] = each + (i < extra ? 1 : 0);
}

void cn_k8s_plan_dispose(cn_k8s_plan_t *p)
{
    free(p->refs);
    json_decref(p->patch);
    memset(p, 0, sizeof *p);
}

/* What an address stands for in the object. */
typedef struct target_s {
    char name[CN_ADDR_HOST_BUF];
    uint32_t port;
    const char *subset; /* borrowed from the config; NULL: none */
} target_t;

static int resolve_target(const cn_k8s_config_t *cfg, const char *address, target_t *t,
                          char *err, size_t errlen)
{
    const cn_k8s_backend_t *b = NULL;
    for (size_t i = 0; i < cfg->n_backends; i++)
        if (strcmp(cfg->backends[i].address, address) == 0) {
            b = &cfg->backends[i];
            break;
        }
    char host[CN_ADDR_HOST_BUF] = "";
    uint16_t port = 0;
    int split = cn_addr_split(address, CN_ADDR_SCHEME, host, &port);
    if (!b && split)
        return cn_fail(err, errlen, CN_EINVAL,
                       "address '%.200s' is not svc:port and has no entry in backends",
                       address);
    snprintf(t->name, sizeof t->name, "%s", b && b->name ? b->name : host);
    t->port = b && b->port ? b->port : port;
    t->subset = b ? b->subset : NULL;
    return 0;
}

/* Whether backend ref (one element of the rule's array) is target. */
static bool ref_matches(cn_k8s_kind_t kind, const json_t *ref, const target_t *t)
{
    if (kind == CN_K8S_GATEWAY_API) {
        const char *name = json_string_value(json_object_get(ref, "name"));
        if (!name || strcmp(name, t->name) != 0)
            return false;
        /* Only Services (the default kind of the core group). */
        const char *k = json_string_value(json_object_get(ref, "kind"));
        const char *g = json_string_value(json_object_get(ref, "group"));
        if ((k && strcmp(k, "Service") != 0) || (g && *g))
            return false;
        json_t *port = json_object_get(ref, "port");
        return !port || !t->port || json_integer_value(port) == (json_int_t)t->port;
    }
    const json_t *d = json_object_get(ref, "destination");
    const char *host = json_string_value(json_object_get(d, "host"));
    if (!host)
        return false;
    size_t n = strlen(t->name);
    /* "reviews" matches "reviews" and "reviews.shop.svc.cluster.local". */
    if (strncmp(host, t->name, n) != 0 || (host[n] != '\0' && host[n] != '.'))
        return false;
    json_t *port = json_object_get(json_object_get(d, "port"), "number");
    if (port && t->port && json_integer_value(port) != (json_int_t)t->port)
        return false;
    const char *subset = json_string_value(json_object_get(d, "subset"));
    if (!t->subset)
        return !subset || !*subset;
    return subset && strcmp(subset, t->subset) == 0;
}

static json_t *new_ref(cn_k8s_kind_t kind, const target_t *t, uint32_t weight)
{
    if (kind == CN_K8S_GATEWAY_API) {
        json_t *r = json_pack("{s:s}", "name", t->name);
        if (t->port)
            json_object_set_new(r, "port", json_integer(t->port));
        json_object_set_new(r, "weight", json_integer(weight));
        return r;
    }
    json_t *d = json_pack("{s:s}", "host", t->name);
    if (t->port)
        json_object_set_new(d, "port",
                            json_pack("{s:I}", "number", (json_int_t)t->port));
    if (t->subset)
        json_object_set_new(d, "subset", json_string(t->subset));
    return json_pack("{s:o,s:I}", "destination", d, "weight", (json_int_t)weight);
}

static const char *rules_key(cn_k8s_kind_t kind)
{
    return kind == CN_K8S_GATEWAY_API ? "rules" : "http";
}

static const char *refs_key(cn_k8s_kind_t kind)
{
    return kind == CN_K8S_GATEWAY_API ? "backendRefs" : "route";
}

static const char *ref_word(cn_k8s_kind_t kind)
{
    return kind == CN_K8S_GATEWAY_API ? "backendRef" : "route destination";
}

static void add_op(json_t *patch, const char *op, const char *path, json_t *value)
{
    json_array_append_new(
        patch, json_pack("{s:s,s:s,s:o}", "op", op, "path", path, "value", value));
}

int cn_k8s_plan(cn_k8s_kind_t kind, const cn_k8s_config_t *cfg, const char *what,
                const json_t *obj, const cn_generation_t *g, cn_k8s_plan_t *p,
                char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (g->traffic.mode == CN_TRAFFIC_MODE_SHADOW)
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s: shadow mode is not supported by the %s engine (it sets "
                       "weights only)",
                       what, kind == CN_K8S_GATEWAY_API ? "gateway_api" : "istio");
    if (g->traffic.mode == CN_TRAFFIC_MODE_STICKY)
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s: sticky mode is not supported by the %s engine (weights "
                       "split each request independently)",
                       what, kind == CN_K8S_GATEWAY_API ? "gateway_api" : "istio");
    const char *rv = json_string_value(
        json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (!rv || !*rv || strlen(rv) >= sizeof p->resource_version)
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s: the object has no metadata.resourceVersion", what);
    json_t *rules = json_object_get(json_object_get(obj, "spec"), rules_key(kind));
    size_t n_rules = json_array_size(rules);
    size_t ri = cfg->rule;
    if (cfg->rule_name) {
        ri = SIZE_MAX;
        for (size_t i = 0; i < n_rules; i++) {
            const char *name =
                json_string_value(json_object_get(json_array_get(rules, i), "name"));
            if (name && strcmp(name, cfg->rule_name) == 0) {
                ri = i;
                break;
            }
        }
        if (ri == SIZE_MAX)
            return cn_fail(err, errlen, CN_EINVAL,
                           "%s: no rule spec.%s[] is named '%.100s'", what,
                           rules_key(kind), cfg->rule_name);
    } else if (ri >= n_rules) {
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s: rule spec.%s[%zu] does not exist (%zu %s)", what,
                       rules_key(kind), ri, n_rules, n_rules == 1 ? "rule" : "rules");
    }
    json_t *refs = json_object_get(json_array_get(rules, ri), refs_key(kind));
    if (!json_is_array(refs))
        return cn_fail(
            err, errlen, CN_EINVAL,
            "%s: rule spec.%s[%zu] has no %s list: give it the stable backend", what,
            rules_key(kind), ri, refs_key(kind));
    size_t n_live = json_array_size(refs);
    size_t n_addr = g->sets[0].count + g->sets[1].count;
    p->rule = ri;
    p->refs = cn_xcalloc(n_live + n_addr + 1, sizeof *p->refs);
    snprintf(p->resource_version, sizeof p->resource_version, "%s", rv);
    for (size_t j = 0; j < n_live; j++) {
        json_t *w = json_object_get(json_array_get(refs, j), "weight");
        p->refs[j].role = -1;
        p->refs[j].had_weight = w != NULL;
        p->refs[j].live = json_is_integer(w) ? (int64_t)json_integer_value(w) : -1;
    }
    p->n_refs = n_live;

    json_t *added = json_array();
    target_t *added_t = cn_xcalloc(n_addr + 1, sizeof *added_t);
    int rc = 0;
    for (int role = 0; role < CN_ROLE_COUNT && !rc; role++) {
        const cn_version_set_t *s = &g->sets[role];
        for (size_t a = 0; a < s->count && !rc; a++) {
            target_t t;
            rc = resolve_target(cfg, s->addresses[a], &t, err, errlen);
            if (rc)
                break;
            bool found = false;
            for (size_t j = 0; j < n_live; j++) {
                if (!ref_matches(kind, json_array_get(refs, j), &t))
                    continue;
                found = true;
                if (p->refs[j].role >= 0 && p->refs[j].role != role)
                    rc = cn_fail(
                        err, errlen, CN_EINVAL,
                        "%s: %s spec.%s[%zu].%s[%zu] (%s) serves both stable and "
                        "canary: the two versions need distinct backends",
                        what, ref_word(kind), rules_key(kind), ri, refs_key(kind), j,
                        t.name);
                p->refs[j].role = role;
            }
            /* An address of this set already appended (a repeat). */
            for (size_t j = n_live; !found && j < p->n_refs; j++)
                if (strcmp(added_t[j - n_live].name, t.name) == 0 &&
                    added_t[j - n_live].port == t.port) {
                    if (p->refs[j].role != role)
                        rc = cn_fail(err, errlen, CN_EINVAL,
                                     "%s: %s serves both stable and canary", what,
                                     t.name);
                    found = true;
                }
            if (!found && !rc) {
                added_t[p->n_refs - n_live] = t;
                p->refs[p->n_refs].role = role;
                p->refs[p->n_refs].added = true;
                p->n_refs++;
            }
        }
    }
    if (rc)
        goto out;

    uint32_t total = 0;
    uint32_t share[CN_ROLE_COUNT];
    share[CN_ROLE_CANARY] =
        cn_k8s_canary_share(kind, g->traffic.canary_weight_bp, &total);
    share[CN_ROLE_STABLE] = total - share[CN_ROLE_CANARY];
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        size_t n = 0;
        for (size_t j = 0; j < p->n_refs; j++)
            n += p->refs[j].role == role;
        if (n == 0 && share[role] > 0) {
            rc = cn_fail(err, errlen, CN_EINVAL,
                         "%s: %s gets %" PRIu32 " of %" PRIu32
                         " but has no address (version '%.63s')",
                         what, cn_role_name((cn_role_t)role), share[role], total,
                         g->sets[role].version);
            goto out;
        }
        uint32_t *w = cn_xcalloc(n + 1, sizeof *w);
        cn_k8s_spread(share[role], n, w);
        size_t k = 0;
        for (size_t j = 0; j < p->n_refs; j++)
            if (p->refs[j].role == role)
                p->refs[j].weight = w[k++];
        free(w);
    }
    p->total = total;
    p->canary_total = share[CN_ROLE_CANARY];
    p->effective_bp =
        (uint16_t)(((uint64_t)p->canary_total * CN_BP_MAX + total / 2) / total);

    json_t *patch = json_array();
    add_op(patch, "test", "/metadata/resourceVersion", json_string(rv));
    char path[160];
    for (size_t j = 0; j < p->n_refs; j++) {
        cn_k8s_ref_plan_t *r = &p->refs[j];
        if (r->added) {
            json_array_append_new(added,
                                  new_ref(kind, &added_t[j - n_live], r->weight));
            continue;
        }
        if (r->had_weight && r->live == (int64_t)r->weight)
            continue;
        snprintf(path, sizeof path, "/spec/%s/%zu/%s/%zu/weight", rules_key(kind), ri,
                 refs_key(kind), j);
        /* RFC 6902: replace needs the member; add sets it either way. */
        add_op(patch, r->had_weight ? "replace" : "add", path, json_integer(r->weight));
    }
    snprintf(path, sizeof path, "/spec/%s/%zu/%s/-", rules_key(kind), ri,
             refs_key(kind));
    for (size_t i = 0; i < json_array_size(added); i++)
        add_op(patch, "add", path, json_incref(json_array_get(added, i)));
    if (json_array_size(patch) > 1)
        p->patch = patch;
    else
        json_decref(patch);
out:
    json_decref(added);
    free(added_t);
    if (rc)
        cn_k8s_plan_dispose(p);
    return rc;
}

/* ------------------------------------------------------------------ */

static int engine_apply(cn_traffic_engine_t *self, const cn_generation_t *desired,
                        cn_traffic_applied_t *out, char *err, size_t errlen);
static int engine_renew(cn_traffic_engine_t *self, char *err, size_t errlen);

static char *dup_or_null(const char *s)
{
    return s ? cn_xstrdup(s) : NULL;
}

static void copy_config(cn_k8s_config_t *dst, const cn_k8s_config_t *src)
{
    *dst = *src;
    dst->api_server = dup_or_null(src->api_server);
    dst->token_file = dup_or_null(src->token_file);
    dst->ca_file = dup_or_null(src->ca_file);
    dst->namespace = dup_or_null(src->namespace);
    dst->api_version = dup_or_null(src->api_version);
    dst->route = dup_or_null(src->route);
    dst->rule_name = dup_or_null(src->rule_name);
    dst->backends = cn_xcalloc(src->n_backends + 1, sizeof *dst->backends);
    for (size_t i = 0; i < src->n_backends; i++) {
        dst->backends[i] = src->backends[i];
        dst->backends[i].address = dup_or_null(src->backends[i].address);
        dst->backends[i].name = dup_or_null(src->backends[i].name);
        dst->backends[i].subset = dup_or_null(src->backends[i].subset);
    }
}

void cn_k8s_config_free_fields(cn_k8s_config_t *c)
{
    free(c->api_server);
    free(c->token_file);
    free(c->ca_file);
    free(c->namespace);
    free(c->api_version);
    free(c->route);
    free(c->rule_name);
    for (size_t i = 0; i < c->n_backends; i++) {
        free(c->backends[i].address);
        free(c->backends[i].name);
        free(c->backends[i].subset);
    }
    free(c->backends);
    memset(c, 0, sizeof *c);
}

int cn_k8s_engine_new(cn_k8s_kind_t kind, const cn_k8s_config_t *cfg,
                      cn_k8s_engine_t **out, char *err, size_t errlen)
{
    const char *word = kind == CN_K8S_GATEWAY_API ? "HTTPRoute" : "VirtualService";
    if (!cfg->route || !cn_k8s_name_ok(cfg->route))
        return cn_fail(err, errlen, CN_EINVAL,
                       "route: must be a Kubernetes object name (lower case letters, "
                       "digits, '-' and '.'), got '%.100s'",
                       cfg->route ? cfg->route : "");
    char *ns = NULL;
    if (cfg->namespace) {
        ns = cn_xstrdup(cfg->namespace);
    } else {
        char *data = NULL;
        size_t len = 0;
        char why[400];
        if (cn_file_read(CN_K8S_NAMESPACE_FILE, 256, &data, &len, why, sizeof why))
            return cn_fail(err, errlen, CN_EINVAL,
                           "namespace: not given, and the service account's is "
                           "unreadable (%s)",
                           why);
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == ' '))
            data[--len] = '\0';
        ns = data;
    }
    if (!cn_k8s_name_ok(ns)) {
        int rc = cn_fail(err, errlen, CN_EINVAL,
                         "namespace: must be a Kubernetes name, got '%.100s'", ns);
        free(ns);
        return rc;
    }
    cn_k8s_client_t *client = NULL;
    int rc = cn_k8s_client_new(cfg, &client, err, errlen);
    if (rc) {
        free(ns);
        return rc;
    }
    cn_k8s_engine_t *e = cn_xcalloc(1, sizeof *e);
    e->traffic =
        (cn_traffic_engine_t){kind == CN_K8S_GATEWAY_API ? "gateway_api" : "istio",
                              engine_apply, engine_renew};
    e->kind = kind;
    copy_config(&e->cfg, cfg);
    if (!e->cfg.api_version)
        e->cfg.api_version = cn_xstrdup(kind == CN_K8S_GATEWAY_API ? "v1" : "v1beta1");
    e->namespace = ns;
    char path[768];
    cn_k8s_object_path(kind, e->cfg.api_version, ns, e->cfg.route, path, sizeof path);
    e->path = cn_xstrdup(path);
    size_t wl = strlen(word) + strlen(ns) + strlen(e->cfg.route) + 3;
    e->what = cn_xmalloc(wl);
    snprintf(e->what, wl, "%s %s/%s", word, ns, e->cfg.route);
    e->client = client;
    cn_generation_init(&e->last);
    *out = e;
    return 0;
}

void cn_k8s_engine_free(cn_k8s_engine_t *e)
{
    if (!e)
        return;
    cn_k8s_client_free(e->client);
    cn_k8s_config_free_fields(&e->cfg);
    cn_generation_dispose(&e->last);
    free(e->namespace);
    free(e->path);
    free(e->what);
    free(e);
}

void cn_k8s_engine_set_log(cn_k8s_engine_t *e, FILE *log)
{
    e->log = log;
}

static int get_object(cn_k8s_engine_t *e, json_t **obj, char *err, size_t errlen)
{
    long status = 0;
    json_t *answer = NULL;
    char why[K8S_ERR];
    int rc = cn_k8s_request(e->client, "GET", e->path, NULL, NULL, &status, &answer,
                            why, sizeof why);
    if (rc)
        return cn_fail(err, errlen, rc, "%s: %s", e->what, why);
    if (status != 200 || !json_is_object(answer)) {
        char st[400];
        cn_k8s_status_text(status, answer, st, sizeof st);
        json_decref(answer);
        return cn_fail(err, errlen, status == 404 ? CN_ENOTFOUND : CN_EIO,
                       "%s: GET %s answered %s", e->what, e->path, st);
    }
    *obj = answer;
    return 0;
}

/* One line about each weight the object had wrong, for the drift note. */
static void describe_drift(const cn_k8s_engine_t *e, const cn_k8s_plan_t *p, char *buf,
                           size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t j = 0; j < p->n_refs && used + 1 < len; j++) {
        const cn_k8s_ref_plan_t *r = &p->refs[j];
        int w;
        if (r->added)
            w = snprintf(buf + used, len - used,
                         "%s%s missing (want weight %" PRIu32 ")", used ? ", " : "",
                         ref_word(e->kind), r->weight);
        else if (!r->had_weight || r->live != (int64_t)r->weight)
            w = snprintf(
                buf + used, len - used,
                "%s%s[%zu].weight %s%" PRId64 " (want %" PRIu32 ")", used ? ", " : "",
                refs_key(e->kind), j, r->had_weight ? "" : "unset, default ",
                r->had_weight
                    ? r->live
                    : (e->kind == CN_K8S_GATEWAY_API ? INT64_C(1) : INT64_C(0)),
                r->weight);
        else
            continue;
        if (w < 0)
            break;
        used += (size_t)w < len - used ? (size_t)w : len - used - 1;
    }
}

/*
 * Make the object carry g's weights: read, plan, patch; on a conflict
 * read again. *effective_bp is the canary share it carries after.
 * repairing: called by renew (a difference is drift, and is logged).
 */
static int write_weights(cn_k8s_engine_t *e, const cn_generation_t *g, bool repairing,
                         uint16_t *effective_bp, char *err, size_t errlen)
{
    /* A 409 or 422 to the last PATCH, judged after the next read: a 409 is
     * a conflict whatever the object; a 422 is one only if the object
     * changed since (our test of resourceVersion failed), else the server
     * refused the patch itself (its schema, a webhook) and retrying the
     * same patch would not help. */
    char refused[400] = "", refused_rv[128] = "";
    bool refused_409 = false;
    uint32_t conflicts = 0;
    for (;;) {
        json_t *obj = NULL;
        int rc = get_object(e, &obj, err, errlen);
        if (rc)
            return rc;
        cn_k8s_plan_t plan;
        rc = cn_k8s_plan(e->kind, &e->cfg, e->what, obj, g, &plan, err, errlen);
        json_decref(obj);
        if (rc)
            return rc;
        if (refused[0]) {
            if (!refused_409 && strcmp(refused_rv, plan.resource_version) == 0) {
                cn_k8s_plan_dispose(&plan);
                return cn_fail(err, errlen, CN_EIO, "%s: PATCH %s answered %s", e->what,
                               e->path, refused);
            }
            conflicts++;
            e->n_conflicts++;
            if (conflicts > e->cfg.conflict_retries) {
                cn_k8s_plan_dispose(&plan);
                return cn_fail(err, errlen, CN_ECONFLICT,
                               "%s: the object kept changing under us (%" PRIu32
                               " conflict%s; last: %s)",
                               e->what, conflicts, conflicts == 1 ? "" : "s", refused);
            }
            refused[0] = '\0';
        }
        *effective_bp = plan.effective_bp;
        if (!plan.patch) {
            cn_k8s_plan_dispose(&plan);
            return 0;
        }
        if (repairing) {
            char d[600];
            describe_drift(e, &plan, d, sizeof d);
            fprintf(e->log ? e->log : stderr,
                    "canary: %s rule %zu drifted from generation %" PRIu64
                    ": %s; repairing\n",
                    e->what, plan.rule, g->number, d);
            fflush(e->log ? e->log : stderr);
            e->n_repairs++;
        }
        char *body = json_dumps(plan.patch, JSON_COMPACT);
        snprintf(refused_rv, sizeof refused_rv, "%s", plan.resource_version);
        cn_k8s_plan_dispose(&plan);
        long status = 0;
        json_t *answer = NULL;
        char why[K8S_ERR];
        rc = cn_k8s_request(e->client, "PATCH", e->path, "application/json-patch+json",
                            body, &status, &answer, why, sizeof why);
        free(body);
        if (rc)
            return cn_fail(err, errlen, rc, "%s: %s", e->what, why);
        char st[400];
        cn_k8s_status_text(status, answer, st, sizeof st);
        json_decref(answer);
        if (status == 200) {
            e->n_patches++;
            return 0;
        }
        if (status != 409 && status != 422)
            return cn_fail(err, errlen, CN_EIO, "%s: PATCH %s answered %s", e->what,
                           e->path, st);
        snprintf(refused, sizeof refused, "%s", st);
        refused_409 = status == 409;
    }
}

static int engine_apply(cn_traffic_engine_t *self, const cn_generation_t *desired,
                        cn_traffic_applied_t *out, char *err, size_t errlen)
{
    cn_k8s_engine_t *e = (cn_k8s_engine_t *)self;
    uint16_t effective = 0;
    int rc = write_weights(e, desired, false, &effective, err, errlen);
    if (rc)
        return rc;
    bool same = e->applied && e->last.number == desired->number;
    if (!same) {
        cn_generation_copy(&e->last, desired);
        e->applied = true;
        /* The object carries no step of its own: a step is a generation,
         * and starts when its weights are written. */
        e->step.number = desired->number;
        e->step.generation = desired->number;
        e->step.started_unix_s = (double)cn_clock_unix_ms() / 1000.0;
    }
    out->generation = desired->number;
    out->effective_weight_bp = effective;
    out->step = e->step;
    return 0;
}

static int engine_renew(cn_traffic_engine_t *self, char *err, size_t errlen)
{
    cn_k8s_engine_t *e = (cn_k8s_engine_t *)self;
    if (!e->applied)
        return 0;
    uint16_t effective = 0;
    return write_weights(e, &e->last, true, &effective, err, errlen);
}
