/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The model registry's rules over the store (see registry.h). Each public
 * call checks its input here (pure), then makes one store call, whose
 * transaction checks the rules that involve stored rows, so no rule is
 * checked against a snapshot another caller is changing.
 *
 * The store's messages start with "state file 'PATH': ". A refusal of a
 * person's input is theirs to read and the path is the operator's
 * business, so that prefix is dropped from every message but an I/O
 * error's.
 */
#include "registry/registry.h"
#include "store/store.h"
#include "types/types.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest excerpt of a value quoted in a message. */
#define QUOTE_MAX 80
#define QBUF CN_TEXT_QUOTE_BUF(QUOTE_MAX)

/* Longest path excerpt the store quotes (store/core.c's PATH_QUOTE_MAX). */
#define STORE_PATH_QUOTE_MAX 160

struct cn_registry_s {
    cn_store_t *store; /* borrowed */
};

cn_registry_t *cn_registry_new(cn_store_t *store)
{
    cn_registry_t *reg = cn_xcalloc(1, sizeof *reg);
    reg->store = store;
    return reg;
}

void cn_registry_free(cn_registry_t *reg)
{
    free(reg);
}

static const char *quote(const char *s, char *buf)
{
    return cn_text_quote(s ? s : "", s ? strlen(s) : 0, QUOTE_MAX, buf);
}

/* A store call's result into err: the path prefix dropped unless CN_EIO. */
static int from_store(const cn_registry_t *reg, int rc, const char *store_err,
                      char *err, size_t errlen)
{
    if (rc == 0 || !err || !errlen)
        return rc;
    const char *msg = store_err;
    if (rc != CN_EIO) {
        const char *path = cn_store_path(reg->store);
        char q[CN_TEXT_QUOTE_BUF(STORE_PATH_QUOTE_MAX)], prefix[sizeof q + 32];
        snprintf(prefix, sizeof prefix, "state file '%s': ",
                 cn_text_quote(path ? path : "", path ? strlen(path) : 0,
                               STORE_PATH_QUOTE_MAX, q));
        if (strncmp(store_err, prefix, strlen(prefix)) == 0)
            msg = store_err + strlen(prefix);
    }
    snprintf(err, errlen, "%s", msg);
    return rc;
}

/* ------------------------------------------------------------- checks */

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* 1 to 63 characters of [A-Za-z0-9] and `extra`, the first alphanumeric. */
static bool name_ok(const char *s, const char *extra)
{
    if (!s || !is_alnum(s[0]))
        return false;
    size_t n = strlen(s);
    if (n > CN_STORE_NAME_MAX)
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(s[i]) && !strchr(extra, s[i]))
            return false;
    return true;
}

int cn_registry_check_model(const char *name, char *err, size_t errlen)
{
    char q[QBUF];
    if (!name_ok(name, "._-"))
        return cn_fail(err, errlen, CN_EINVAL,
                       "model: must be 1 to 63 letters, digits, '.', '_' or '-', "
                       "starting with a letter or a digit, got '%s'",
                       quote(name, q));
    return 0;
}

int cn_registry_check_version(const char *version, char *err, size_t errlen)
{
    char q[QBUF];
    if (!name_ok(version, "._+-"))
        return cn_fail(err, errlen, CN_EINVAL,
                       "version: must be 1 to 63 letters, digits, '.', '_', '+' or "
                       "'-', starting with a letter or a digit, got '%s'",
                       quote(version, q));
    return 0;
}

int cn_registry_check_addresses(const char *const *addresses, size_t n, char *err,
                                size_t errlen)
{
    char q[QBUF];
    if (n == 0)
        return cn_fail(err, errlen, CN_EINVAL,
                       "addresses: a version needs at least one upstream address");
    if (n > CN_VERSION_MAX_ADDRESSES)
        return cn_fail(err, errlen, CN_EINVAL, "addresses: %zu, at most %u", n,
                       CN_VERSION_MAX_ADDRESSES);
    if (!addresses)
        return cn_fail(err, errlen, CN_EINVAL, "addresses: missing");
    for (size_t i = 0; i < n; i++) {
        if (strlen(addresses[i]) > CN_STORE_ADDRESS_MAX ||
            !cn_addr_upstream_ok(addresses[i], 0))
            return cn_fail(err, errlen, CN_EINVAL,
                           "addresses[%zu]: must be host:port or [ipv6]:port (port "
                           "1..65535), got '%s'",
                           i, quote(addresses[i], q));
        for (size_t j = 0; j < i; j++)
            if (strcmp(addresses[i], addresses[j]) == 0)
                return cn_fail(err, errlen, CN_EINVAL,
                               "addresses[%zu]: duplicate of addresses[%zu] '%s'", i, j,
                               quote(addresses[i], q));
    }
    return 0;
}

/* Parse metadata: a JSON object (to json_decref) or NULL with the reason. */
static json_t *parse_metadata(const char *text, char *err, size_t errlen)
{
    if (strlen(text) > CN_STORE_METADATA_MAX) {
        cn_fail(err, errlen, CN_EINVAL, "metadata: larger than %d bytes",
                CN_STORE_METADATA_MAX);
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!j) {
        char q[QBUF];
        cn_fail(err, errlen, CN_EINVAL, "metadata: not JSON (line %d, column %d: %s)",
                je.line, je.column, quote(je.text, q));
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        cn_fail(err, errlen, CN_EINVAL, "metadata: not a JSON object");
        return NULL;
    }
    return j;
}

int cn_registry_check_metadata(const char *json, char *err, size_t errlen)
{
    json_t *j = parse_metadata(json ? json : "{}", err, errlen);
    if (!j)
        return CN_EINVAL;
    json_decref(j);
    return 0;
}

int cn_registry_parse_tag(const char *name, cn_store_tag_t *out, char *err,
                          size_t errlen)
{
    char q[QBUF];
    if (cn_store_tag_parse(name, out))
        return cn_fail(err, errlen, CN_EINVAL,
                       "tag '%s': expected one of stable, production-candidate, "
                       "rolled-back, retired",
                       quote(name, q));
    return 0;
}

/* An artifact URI: printable ASCII without space (a URI), bounded. */
static int check_artifact(const char *uri, char *err, size_t errlen)
{
    if (!uri)
        return 0;
    size_t n = strlen(uri);
    if (n > CN_STORE_ARTIFACT_MAX)
        return cn_fail(err, errlen, CN_EINVAL, "artifact_uri: longer than %d bytes",
                       CN_STORE_ARTIFACT_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)uri[i] <= 0x20 || (unsigned char)uri[i] >= 0x7f) {
            char q[QBUF];
            return cn_fail(err, errlen, CN_EINVAL,
                           "artifact_uri: must be a URI (printable ASCII without "
                           "spaces), got '%s'",
                           quote(uri, q));
        }
    return 0;
}

/* `who` as the store takes it. */
static int check_who(const char *who, char *err, size_t errlen)
{
    if (who && strlen(who) > CN_STORE_WHO_MAX)
        return cn_fail(err, errlen, CN_EINVAL, "who: longer than %d bytes",
                       CN_STORE_WHO_MAX);
    return 0;
}

/* ----------------------------------------------------------- register */

int cn_registry_register(cn_registry_t *reg, const cn_registry_version_spec_t *spec,
                         const char *who, bool *created_model, char *err, size_t errlen)
{
    if (created_model)
        *created_model = false;
    if (!reg || !spec)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    int rc = cn_registry_check_model(spec->model, err, errlen);
    if (rc == 0)
        rc = cn_registry_check_version(spec->version, err, errlen);
    if (rc == 0)
        rc = cn_registry_check_addresses(spec->addresses, spec->n_addresses, err,
                                         errlen);
    if (rc == 0)
        rc = check_artifact(spec->artifact_uri, err, errlen);
    if (rc == 0)
        rc = check_who(who, err, errlen);
    if (rc)
        return rc;
    json_t *meta = parse_metadata(spec->metadata ? spec->metadata : "{}", err, errlen);
    if (!meta)
        return CN_EINVAL;
    cn_store_version_t v;
    cn_store_version_init(&v);
    snprintf(v.model, sizeof v.model, "%s", spec->model);
    cn_version_set_dispose(&v.set);
    cn_version_set_init(&v.set, spec->version);
    for (size_t i = 0; i < spec->n_addresses; i++)
        cn_version_set_add(&v.set, spec->addresses[i]);
    v.artifact_uri = cn_xstrdup(spec->artifact_uri ? spec->artifact_uri : "");
    /* Kept as written: a re-dump would print 0.9 as 0.90000000000000002. */
    json_decref(meta);
    v.metadata = cn_xstrdup(spec->metadata ? spec->metadata : "{}");
    char serr[512];
    rc = cn_store_version_add(reg->store, &v, who, created_model, serr, sizeof serr);
    cn_store_version_dispose(&v);
    return from_store(reg, rc, serr, err, errlen);
}

int cn_registry_add_model(cn_registry_t *reg, const char *name, const char *who,
                          char *err, size_t errlen)
{
    if (!reg)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    int rc = cn_registry_check_model(name, err, errlen);
    if (rc == 0)
        rc = check_who(who, err, errlen);
    if (rc)
        return rc;
    char serr[512];
    rc = cn_store_model_add(reg->store, name, who, serr, sizeof serr);
    return from_store(reg, rc, serr, err, errlen);
}

/* --------------------------------------------------------------- tags */

static int tag_change(cn_registry_t *reg, const char *model, const char *version,
                      const char *tag, bool set, const char *who,
                      cn_registry_tag_result_t *result, char *err, size_t errlen)
{
    if (!reg)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    cn_store_tag_t t;
    int rc = cn_registry_check_model(model, err, errlen);
    if (rc == 0)
        rc = cn_registry_check_version(version, err, errlen);
    if (rc == 0)
        rc = cn_registry_parse_tag(tag, &t, err, errlen);
    if (rc == 0)
        rc = check_who(who, err, errlen);
    if (rc)
        return rc;
    cn_store_tag_result_t sr;
    char serr[512];
    rc = cn_store_tag_set(reg->store, model, version, t, set, who, &sr, serr,
                          sizeof serr);
    if (rc)
        return from_store(reg, rc, serr, err, errlen);
    if (!result)
        return 0;
    memset(result, 0, sizeof *result);
    result->changed = sr.changed;
    snprintf(result->previous, sizeof result->previous, "%s", sr.previous);
    result->publish = set && t == CN_STORE_TAG_STABLE && sr.changed;
    if (set && t == CN_STORE_TAG_CANDIDATE) {
        bool own = sr.active_rollout && strcmp(sr.active_version, version) == 0;
        result->start_rollout = !own;
        if (!own && sr.active_rollout) {
            result->supersede = sr.active_rollout;
            snprintf(result->supersede_version, sizeof result->supersede_version, "%s",
                     sr.active_version);
        }
    }
    return 0;
}

int cn_registry_tag(cn_registry_t *reg, const char *model, const char *version,
                    const char *tag, const char *who, cn_registry_tag_result_t *result,
                    char *err, size_t errlen)
{
    return tag_change(reg, model, version, tag, true, who, result, err, errlen);
}

int cn_registry_untag(cn_registry_t *reg, const char *model, const char *version,
                      const char *tag, const char *who,
                      cn_registry_tag_result_t *result, char *err, size_t errlen)
{
    return tag_change(reg, model, version, tag, false, who, result, err, errlen);
}

/* -------------------------------------------------------------- reads */

int cn_registry_list_models(cn_registry_t *reg, const char *after,
                            cn_store_model_t *out, size_t max, size_t *n, char *err,
                            size_t errlen)
{
    if (!reg)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    char serr[512];
    int rc = cn_store_model_list(reg->store, after, out, max, n, serr, sizeof serr);
    return from_store(reg, rc, serr, err, errlen);
}

void cn_registry_model_dispose(cn_registry_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_versions; i++)
        cn_store_version_dispose(&m->versions[i]);
    free(m->versions);
    memset(m, 0, sizeof *m);
}

int cn_registry_get_model(cn_registry_t *reg, const char *name,
                          cn_registry_model_t *out, char *err, size_t errlen)
{
    if (!reg || !out)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    memset(out, 0, sizeof *out);
    int rc = cn_registry_check_model(name, err, errlen);
    if (rc)
        return rc;
    char serr[512];
    rc = cn_store_model_get(reg->store, name, &out->model, serr, sizeof serr);
    if (rc)
        return from_store(reg, rc, serr, err, errlen);
    size_t want = out->model.n_versions < CN_REGISTRY_MODEL_VERSIONS_MAX
                      ? out->model.n_versions
                      : CN_REGISTRY_MODEL_VERSIONS_MAX;
    /* A version registered since the model was read is left for the
     * next read: the list is asked for at most the count read. */
    out->versions = cn_xcalloc(want ? want : 1, sizeof *out->versions);
    rc = cn_store_version_list(reg->store, name, 0, out->versions, want,
                               &out->n_versions, &out->total_versions, serr,
                               sizeof serr);
    if (rc) {
        cn_registry_model_dispose(out);
        return from_store(reg, rc, serr, err, errlen);
    }
    return 0;
}

int cn_registry_get_version(cn_registry_t *reg, const char *model, const char *version,
                            cn_store_version_t *out, char *err, size_t errlen)
{
    if (!reg || !out)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    int rc = cn_registry_check_model(model, err, errlen);
    if (rc == 0)
        rc = cn_registry_check_version(version, err, errlen);
    if (rc)
        return rc;
    char serr[512];
    rc = cn_store_version_get(reg->store, model, version, out, serr, sizeof serr);
    return from_store(reg, rc, serr, err, errlen);
}

int cn_registry_sets(cn_registry_t *reg, const char *model,
                     cn_version_set_t sets[CN_ROLE_COUNT], int64_t *rollout, char *err,
                     size_t errlen)
{
    if (!reg || !sets)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    int rc = cn_registry_check_model(model, err, errlen);
    if (rc)
        return rc;
    char serr[512];
    rc = cn_store_model_sets(reg->store, model, sets, rollout, serr, sizeof serr);
    return from_store(reg, rc, serr, err, errlen);
}

/* ------------------------------------------- the controller's changes */

/* A final state with its tag changes; *r untouched on an error. */
static int update(cn_registry_t *reg, cn_store_rollout_t *r,
                  cn_store_rollout_state_t state, const cn_store_audit_t *entry,
                  const cn_store_rollout_also_t *also, char *err, size_t errlen)
{
    cn_store_rollout_state_t old_state = r->state, old_resume = r->resume_state;
    r->state = state;
    r->resume_state = CN_STORE_ROLLOUT_NONE;
    char serr[512];
    int rc = cn_store_rollout_update(reg->store, r, entry, also, serr, sizeof serr);
    if (rc) {
        r->state = old_state;
        r->resume_state = old_resume;
    }
    return from_store(reg, rc, serr, err, errlen);
}

int cn_registry_promote(cn_registry_t *reg, cn_store_rollout_t *r,
                        const cn_store_audit_t *entry,
                        const cn_generation_t *generation, char *err, size_t errlen)
{
    if (!reg || !r || !entry)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    char serr[512];
    cn_store_model_t m;
    int rc = cn_store_model_get(reg->store, r->model, &m, serr, sizeof serr);
    if (rc)
        return from_store(reg, rc, serr, err, errlen);
    /* Stable cannot move while the rollout is active, so the stable
     * version read here is the one the promotion retires; the store
     * re-checks every tag in the transaction. */
    cn_store_tag_op_t ops[2] = {{r->version, CN_STORE_TAG_STABLE, true},
                                {m.stable, CN_STORE_TAG_RETIRED, true}};
    cn_store_rollout_also_t also = {
        .tags = ops, .n_tags = m.stable[0] ? 2 : 1, .generation = generation};
    return update(reg, r, CN_STORE_ROLLOUT_PROMOTED, entry, &also, err, errlen);
}

int cn_registry_roll_back(cn_registry_t *reg, cn_store_rollout_t *r,
                          cn_store_rollout_state_t state, const cn_store_audit_t *entry,
                          char *err, size_t errlen)
{
    if (!reg || !r || !entry)
        return cn_fail(err, errlen, CN_EINVAL, "bad arguments");
    if (state != CN_STORE_ROLLOUT_ROLLED_BACK && state != CN_STORE_ROLLOUT_ABORTED)
        return cn_fail(err, errlen, CN_EINVAL,
                       "state: a rollback ends in rolled-back or aborted, not %s",
                       cn_store_rollout_state_name(state));
    cn_store_tag_op_t op = {r->version, CN_STORE_TAG_ROLLED_BACK, true};
    cn_store_rollout_also_t also = {.tags = &op, .n_tags = 1};
    return update(reg, r, state, entry, &also, err, errlen);
}

int cn_registry_first_stable(cn_registry_t *reg, const cn_registry_version_spec_t *spec,
                             const char *who, char *err, size_t errlen)
{
    int rc = cn_registry_register(reg, spec, who, NULL, err, errlen);
    if (!rc)
        rc = cn_registry_tag(reg, spec->model, spec->version, "stable", who, NULL, err,
                             errlen);
    return rc;
}
