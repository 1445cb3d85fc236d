/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the two Kubernetes traffic engines share (gateway_api.h, istio.h):
 * the client of the Kubernetes API and the engine that sets the weights of
 * one routing rule of one object through it.
 *
 * The client reaches the API server the way a pod does (in-cluster
 * config): the URL from KUBERNETES_SERVICE_HOST and _PORT, the service
 * account's token, CA and namespace from
 * /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace};
 * each of them can be given in the config instead (tests, or a controller
 * outside the cluster). The token file is read again before every request:
 * projected service-account tokens are rotated by the kubelet.
 *
 * Writes are JSON Patch (RFC 6902, application/json-patch+json): a `test`
 * of /metadata/resourceVersion against the version just read, then one
 * `replace` (or `add` where the object has no weight yet) per weight, so
 * the server applies the change only to the object the weights were
 * computed from. A failed test is 422 on a real API server (409 for a
 * stale resourceVersion written into the object): the engine reads the
 * object again and retries, at most conflict_retries times. Never a merge
 * patch (it replaces whole arrays: a concurrent edit of another rule or
 * backend would be lost) and never a strategic merge patch (custom
 * resources answer 415 to it).
 *
 * Blocking I/O (libcurl easy); apply and renew run off every event loop,
 * one at a time per engine (controller/engine.h).
 */
#ifndef CN_ENGINES_K8S_H
#define CN_ENGINES_K8S_H

#include "controller/engine.h"
#include "util/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The in-cluster defaults. */
#define CN_K8S_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define CN_K8S_TOKEN_FILE CN_K8S_SA_DIR "/token"
#define CN_K8S_CA_FILE CN_K8S_SA_DIR "/ca.crt"
#define CN_K8S_NAMESPACE_FILE CN_K8S_SA_DIR "/namespace"

/* Gateway API weights are 0 .. 1,000,000 per backendRef, proportional. */
#define CN_K8S_GATEWAY_WEIGHT_MAX 1000000u

/*
 * How one address of a version set (as the registry holds it, "svc:port")
 * maps to a backendRef (Gateway API) or a route destination (Istio).
 * Without an entry, "svc:port" is the backendRef {name: svc, port: port}
 * or the destination {host: svc, port: {number: port}} with no subset.
 */
typedef struct cn_k8s_backend_s {
    char *address; /* as registered, "fraud-v2:8080"; required */
    char *name;    /* backendRef name / destination host; NULL: the address's host */
    uint32_t port; /* 0: the address's port */
    char *subset;  /* Istio only: destination.subset; NULL: none */
    int line;
} cn_k8s_backend_t;

/* The config of either kind (the kind's own table reads it). */
typedef struct cn_k8s_config_s {
    /* reaching the API */
    char *api_server;  /* "https://host:port"; NULL: from KUBERNETES_SERVICE_* */
    char *token_file;  /* bearer token, read before each request */
    char *ca_file;     /* CA bundle of the API server's certificate */
    char *namespace;   /* the object's; NULL: the service account's */
    char *api_version; /* "v1" (HTTPRoute) / "v1beta1" (VirtualService) */
    uint64_t timeout_ms;
    uint32_t conflict_retries;
    /* the object and its rule */
    char *route;     /* the object's name; required */
    uint32_t rule;   /* index in spec.rules / spec.http */
    char *rule_name; /* or the rule's name (overrides the index); NULL: none */
    cn_k8s_backend_t *backends;
    size_t n_backends;
    int line;
} cn_k8s_config_t;

/* The client of the API server. */
typedef struct cn_k8s_client_s cn_k8s_client_t;

/*
 * A client for cfg's api_server (or the in-cluster one), token and CA
 * (cfg is borrowed only during the call). The token and CA files are not
 * read here: a missing token is an error of each request. Returns 0, or
 * CN_EINVAL with one line in err (no api_server and no
 * KUBERNETES_SERVICE_HOST).
 */
int cn_k8s_client_new(const cn_k8s_config_t *cfg, cn_k8s_client_t **out, char *err,
                      size_t errlen);
void cn_k8s_client_free(cn_k8s_client_t *c);

/* The server's base URL ("https://10.0.0.1:443"), borrowed. */
const char *cn_k8s_client_url(const cn_k8s_client_t *c);

/*
 * One request: method "GET" or "PATCH" (body: JSON text, content_type its
 * type) to path ("/apis/..."). Returns 0 when the server answered (any
 * status: *status, and *body the parsed JSON answer or NULL when it was
 * not JSON; the caller decrefs), or CN_EIO with one line in err (no
 * connection, TLS, timeout, the token file unreadable).
 */
int cn_k8s_request(cn_k8s_client_t *c, const char *method, const char *path,
                   const char *content_type, const char *body, long *status,
                   json_t **answer, char *err, size_t errlen);

/*
 * The API's own words for a failed request, from a Status object
 * ({"kind":"Status","reason":"Conflict","message":"..."}): "409 Conflict:
 * MESSAGE", or "STATUS" with the HTTP reason when the body is no Status.
 * Into buf; returns buf.
 */
const char *cn_k8s_status_text(long status, const json_t *answer, char *buf,
                               size_t len);

/* ------------------------------------------------------------------ */
/* The weight engine, parameterised by the kind. */

typedef enum cn_k8s_kind_e {
    CN_K8S_GATEWAY_API = 0, /* HTTPRoute spec.rules[i].backendRefs[j].weight */
    CN_K8S_ISTIO = 1,       /* VirtualService spec.http[i].route[j].weight */
} cn_k8s_kind_t;

/* One backend's weight as planned. */
typedef struct cn_k8s_ref_plan_s {
    int role;        /* CN_ROLE_STABLE, CN_ROLE_CANARY, or -1: neither set */
    bool added;      /* not in the object: appended by the patch */
    bool had_weight; /* the object carries a weight member */
    int64_t live;    /* the weight it has (when had_weight) */
    uint32_t weight; /* the weight it gets */
} cn_k8s_ref_plan_t;

/*
 * The weights of one generation for one rule of a live object, and the
 * JSON Patch that sets them. Pure: built from the object's JSON only.
 */
typedef struct cn_k8s_plan_s {
    size_t rule;             /* the rule's index */
    size_t n_refs;           /* existing refs + added ones */
    cn_k8s_ref_plan_t *refs; /* owned */
    uint32_t total;          /* the sum of every weight */
    uint32_t canary_total;   /* the canary refs' sum */
    uint16_t effective_bp;   /* canary_total / total, in basis points */
    json_t *patch;           /* the JSON Patch (NULL: nothing to change) */
    char resource_version[128];
} cn_k8s_plan_t;

void cn_k8s_plan_dispose(cn_k8s_plan_t *p);

/*
 * The canary's share of the kind's weight scale for canary_bp: Gateway
 * API 1,000,000 = 100% (exact: canary_bp x 100); Istio 100 = 100%, the
 * nearest integer percent (halves up), but at least 1 when canary_bp > 0
 * and at most 99 when canary_bp < 10000, so that a step that asks for
 * some canary traffic gets some, and one that keeps some stable keeps
 * some. *total is the scale (1,000,000 or 100).
 */
uint32_t cn_k8s_canary_share(cn_k8s_kind_t kind, uint16_t canary_bp, uint32_t *total);

/*
 * Spread `amount` over n weights as evenly as integers allow: each gets
 * amount / n, and the first amount % n get one more. out[n].
 */
void cn_k8s_spread(uint32_t amount, size_t n, uint32_t *out);

/*
 * Plan generation g on the live object obj (the JSON the API answered)
 * for cfg's rule and backend mapping. Returns 0 with *p filled (dispose
 * it), or CN_EINVAL with one line in err that names `what` (the object,
 * "HTTPRoute shop/fraud") and what is wrong: no such rule, a set without
 * a backend where its share is above 0, a backend in both sets, shadow or
 * sticky mode, a weight out of range.
 */
int cn_k8s_plan(cn_k8s_kind_t kind, const cn_k8s_config_t *cfg, const char *what,
                const json_t *obj, const cn_generation_t *g, cn_k8s_plan_t *p,
                char *err, size_t errlen);

/*
 * A traffic engine over one object (the kind's new() makes it). Embed-
 * safe: `traffic` first.
 */
typedef struct cn_k8s_engine_s {
    cn_traffic_engine_t traffic; /* first */
    /* private */
    cn_k8s_kind_t kind;
    cn_k8s_config_t cfg; /* a deep copy */
    char *namespace;     /* resolved */
    char *path;          /* the object's API path */
    char *what;          /* "HTTPRoute shop/fraud" for messages */
    cn_k8s_client_t *client;
    FILE *log;            /* NULL: stderr */
    bool applied;         /* last holds a generation */
    cn_generation_t last; /* the last generation applied */
    cn_step_t step;       /* the step it opened */
    /* counters, for tests and messages */
    uint64_t n_patches, n_conflicts, n_repairs;
} cn_k8s_engine_t;

/*
 * An engine of kind for cfg (copied). Resolves the namespace (from the
 * service account's file when cfg has none) and the API server. Returns 0,
 * or CN_EINVAL with one line in err.
 */
int cn_k8s_engine_new(cn_k8s_kind_t kind, const cn_k8s_config_t *cfg,
                      cn_k8s_engine_t **out, char *err, size_t errlen);
void cn_k8s_engine_free(cn_k8s_engine_t *e);

/* Where the engine writes its one-line notes (a repaired drift); NULL:
 * stderr. Borrowed. */
void cn_k8s_engine_set_log(cn_k8s_engine_t *e, FILE *log);

/* The object's API path for kind, namespace, version and name, into buf
 * ("/apis/gateway.networking.k8s.io/v1/namespaces/NS/httproutes/NAME");
 * returns buf. */
const char *cn_k8s_object_path(cn_k8s_kind_t kind, const char *api_version,
                               const char *namespace, const char *name, char *buf,
                               size_t len);

/* Whether s is a Kubernetes object name (a DNS-1123 subdomain: lower case
 * letters, digits, '-' and '.', alphanumeric at both ends, at most 253). */
bool cn_k8s_name_ok(const char *s);

/* Free what a cn_k8s_config_t owns (either kind's table). */
void cn_k8s_config_free_fields(cn_k8s_config_t *c);

#endif
