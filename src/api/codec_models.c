/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The model registry's JSON (codec.h): models and versions as the store
 * holds them, and a version to register, checked field by field. Pure.
 */
#include "api/codec.h"
#include "api/codec_internal.h"
#include "util/addr.h"
#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_text_or_null(cn_jsonw_t *w, const char *key, const char *s)
{
    cn_jsonw_key(w, key);
    if (s && *s)
        cn_jsonw_cstr(w, s);
    else
        cn_jsonw_null(w);
}

void cn_api_model_write_fields(cn_jsonw_t *w, const cn_store_model_t *m)
{
    cn_jsonw_key(w, "name");
    cn_jsonw_cstr(w, m->name);
    cn_jsonw_key(w, "version_count");
    cn_jsonw_u64(w, m->n_versions);
    write_text_or_null(w, "stable", m->stable);
    write_text_or_null(w, "candidate", m->candidate);
    cn_jsonw_key(w, "active_rollout");
    if (m->active_rollout > 0)
        cn_jsonw_u64(w, (uint64_t)m->active_rollout);
    else
        cn_jsonw_null(w);
    cn_jsonw_key(w, "created_unix_ms");
    cn_jsonw_u64(w, m->created_unix_ms > 0 ? (uint64_t)m->created_unix_ms : 0);
    cn_jsonw_key(w, "created_by");
    cn_jsonw_cstr(w, m->created_by);
}

void cn_api_models_write(cn_jsonw_t *w, const cn_store_model_t *models, size_t n)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "models");
    cn_jsonw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        cn_jsonw_object_begin(w);
        cn_api_model_write_fields(w, &models[i]);
        cn_jsonw_object_end(w);
    }
    cn_jsonw_array_end(w);
    cn_jsonw_object_end(w);
}

void cn_api_version_write(cn_jsonw_t *w, const cn_store_version_t *v)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "model");
    cn_jsonw_cstr(w, v->model);
    cn_jsonw_key(w, "version");
    cn_jsonw_cstr(w, v->set.version);
    cn_jsonw_key(w, "addresses");
    cn_jsonw_array_begin(w);
    for (size_t i = 0; i < v->set.count; i++)
        cn_jsonw_cstr(w, v->set.addresses[i]);
    cn_jsonw_array_end(w);
    write_text_or_null(w, "artifact", v->artifact_uri);
    cn_jsonw_key(w, "metadata");
    /* stored as checked JSON object text (the store refuses anything
     * else), so it is written as it is */
    cn_jsonw_raw(w, v->metadata && *v->metadata ? v->metadata : "{}");
    cn_jsonw_key(w, "tags");
    cn_jsonw_array_begin(w);
    if (v->tag != CN_STORE_TAG_NONE)
        cn_jsonw_cstr(w, cn_store_tag_name(v->tag));
    cn_jsonw_array_end(w);
    cn_jsonw_key(w, "created_unix_ms");
    cn_jsonw_u64(w, v->created_unix_ms > 0 ? (uint64_t)v->created_unix_ms : 0);
    cn_jsonw_key(w, "created_by");
    cn_jsonw_cstr(w, v->created_by);
    cn_jsonw_object_end(w);
}

void cn_api_model_write(cn_jsonw_t *w, const cn_store_model_t *m,
                        const cn_store_version_t *versions, size_t n)
{
    cn_jsonw_object_begin(w);
    cn_api_model_write_fields(w, m);
    cn_jsonw_key(w, "versions");
    cn_jsonw_array_begin(w);
    for (size_t i = 0; i < n; i++)
        cn_api_version_write(w, &versions[i]);
    cn_jsonw_array_end(w);
    cn_jsonw_object_end(w);
}

int cn_api_version_parse(const char *body, size_t len, cn_store_version_t *out,
                         char *err, size_t errlen)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    json_error_t je;
    json_t *j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return cn_fail(err, errlen, CN_EINVAL, "body: not JSON: %s (line %d)", je.text,
                       je.line);
    int rc = 0;
    if (!json_is_object(j)) {
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "body: expected an object {\"version\": ..., \"addresses\": "
                     "[...]}, got %s",
                     cn_api__quote_value(j, quoted));
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "version") == 0) {
            if (!json_is_string(v)) {
                rc = cn_fail(err, errlen, CN_EINVAL,
                             "version: expected a string, got %s",
                             cn_api__quote_value(v, quoted));
                goto out;
            }
            cn_version_set_dispose(&out->set);
            cn_version_set_init(&out->set, json_string_value(v));
        } else if (strcmp(key, "addresses") == 0) {
            if (!json_is_array(v)) {
                rc = cn_fail(err, errlen, CN_EINVAL,
                             "addresses: expected a list of \"host:port\", got %s",
                             cn_api__quote_value(v, quoted));
                goto out;
            }
        } else if (strcmp(key, "artifact") == 0) {
            if (!json_is_string(v) && !json_is_null(v)) {
                rc = cn_fail(err, errlen, CN_EINVAL,
                             "artifact: expected a string (a URI), got %s",
                             cn_api__quote_value(v, quoted));
                goto out;
            }
            free(out->artifact_uri);
            out->artifact_uri =
                json_is_string(v) ? cn_xstrdup(json_string_value(v)) : NULL;
        } else if (strcmp(key, "metadata") == 0) {
            if (!json_is_object(v)) {
                rc = cn_fail(err, errlen, CN_EINVAL,
                             "metadata: expected an object, got %s",
                             cn_api__quote_value(v, quoted));
                goto out;
            }
            free(out->metadata);
            out->metadata = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        } else {
            rc = cn_fail(err, errlen, CN_EINVAL,
                         "unknown key \"%s\" (expected version, addresses, artifact, "
                         "metadata)",
                         cn_text_quote(key, strlen(key), 64, quoted));
            goto out;
        }
    }
    if (!json_is_string(json_object_get(j, "version"))) {
        rc = cn_fail(err, errlen, CN_EINVAL, "version: required");
        goto out;
    }
    json_t *addrs = json_object_get(j, "addresses");
    if (json_array_size(addrs) == 0) {
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "addresses: at least one \"host:port\" is required");
        goto out;
    }
    size_t i;
    json_array_foreach(addrs, i, v)
    {
        if (!json_is_string(v)) {
            rc = cn_fail(err, errlen, CN_EINVAL,
                         "addresses[%zu]: expected \"host:port\", got %s", i,
                         cn_api__quote_value(v, quoted));
            goto out;
        }
        const char *text = json_string_value(v);
        if (!cn_addr_upstream_ok(text, 0)) {
            rc = cn_fail(err, errlen, CN_EINVAL,
                         "addresses[%zu]: expected host:port or [ipv6]:port with a "
                         "port in [1, 65535], got '%s'",
                         i, cn_text_quote(text, strlen(text), 64, quoted));
            goto out;
        }
        for (size_t k = 0; k < out->set.count; k++)
            if (strcmp(out->set.addresses[k], text) == 0) {
                rc = cn_fail(err, errlen, CN_EINVAL,
                             "addresses[%zu]: duplicate address '%s'", i,
                             cn_text_quote(text, strlen(text), 64, quoted));
                goto out;
            }
        cn_version_set_add(&out->set, text);
    }
out:
    json_decref(j);
    return rc;
}
