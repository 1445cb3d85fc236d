/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The versions resource's JSON (see api/codec.h): the two version sets,
 * each a label and its addresses. The parser checks the shape only; what
 * the values mean against the running state (address syntax, duplicates,
 * a label clash, a weight with no canary) is checked once, by the
 * controller, for every way a change can come in.
 */
#include "api/codec.h"
#include "api/codec_internal.h"
#include "util/error.h"
#include "util/text.h"

#include <stdio.h>
#include <string.h>

static void write_set(cn_jsonw_t *w, const cn_version_set_t *s)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "version");
    cn_jsonw_cstr(w, s->version);
    cn_jsonw_key(w, "addresses");
    cn_jsonw_array_begin(w);
    for (size_t i = 0; i < s->count; i++)
        cn_jsonw_cstr(w, s->addresses[i]);
    cn_jsonw_array_end(w);
    cn_jsonw_object_end(w);
}

void cn_api_versions_write(cn_jsonw_t *w, const cn_generation_t *g, uint64_t step)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "stable");
    write_set(w, &g->sets[CN_ROLE_STABLE]);
    cn_jsonw_key(w, "canary");
    write_set(w, &g->sets[CN_ROLE_CANARY]);
    cn_jsonw_key(w, "generation");
    cn_jsonw_u64(w, g->number);
    cn_jsonw_key(w, "step");
    cn_jsonw_u64(w, step);
    cn_jsonw_object_end(w);
}

/* Longest address accepted here, in bytes ("[v6]:port" is at most 47; a
 * host name at most 253 plus the port). */
#define ADDRESS_MAX 300u

static int parse_set(const char *role, json_t *obj, cn_version_set_t *out, char *err,
                     size_t errlen)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    if (!json_is_object(obj)) {
        snprintf(
            err, errlen,
            "%s: expected an object {\"version\": ..., \"addresses\": [...]}, got %s",
            role, cn_api__quote_value(obj, quoted));
        return CN_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (strcmp(key, "version") != 0 && strcmp(key, "addresses") != 0) {
            snprintf(err, errlen,
                     "%s: unknown key \"%s\" (expected version and addresses)", role,
                     cn_text_quote(key, strlen(key), 64, quoted));
            return CN_EINVAL;
        }
    }
    json_t *version = json_object_get(obj, "version");
    json_t *addresses = json_object_get(obj, "addresses");
    if (!version || !addresses) {
        snprintf(err, errlen, "%s.%s: missing (a set needs both version and addresses)",
                 role, version ? "addresses" : "version");
        return CN_EINVAL;
    }
    if (!json_is_string(version) || json_string_length(version) == 0 ||
        json_string_length(version) > CN_VERSION_LABEL_MAX ||
        strlen(json_string_value(version)) != json_string_length(version)) {
        snprintf(err, errlen, "%s.version: must be a string of 1 to %u bytes, got %s",
                 role, CN_VERSION_LABEL_MAX, cn_api__quote_value(version, quoted));
        return CN_EINVAL;
    }
    if (!json_is_array(addresses)) {
        snprintf(err, errlen, "%s.addresses: must be an array of \"host:port\", got %s",
                 role, cn_api__quote_value(addresses, quoted));
        return CN_EINVAL;
    }
    if (json_array_size(addresses) > CN_VERSION_MAX_ADDRESSES) {
        snprintf(err, errlen, "%s.addresses: at most %u addresses, got %zu", role,
                 CN_VERSION_MAX_ADDRESSES, json_array_size(addresses));
        return CN_EINVAL;
    }
    cn_version_set_init(out, json_string_value(version));
    size_t i;
    json_t *a;
    json_array_foreach(addresses, i, a)
    {
        if (!json_is_string(a) || json_string_length(a) == 0 ||
            json_string_length(a) > ADDRESS_MAX ||
            strlen(json_string_value(a)) != json_string_length(a)) {
            snprintf(err, errlen,
                     "%s.addresses[%zu]: must be an address host:port or [ipv6]:port, "
                     "got %s",
                     role, i, cn_api__quote_value(a, quoted));
            cn_version_set_dispose(out);
            return CN_EINVAL;
        }
        /* "http://host:port" is accepted as in the config, and kept without
         * the scheme. */
        const char *text = json_string_value(a);
        if (strncmp(text, "http://", 7) == 0)
            text += 7;
        cn_version_set_add(out, text);
    }
    return 0;
}

int cn_api_versions_parse(const char *body, size_t len, cn_controller_change_t *change,
                          char *err, size_t errlen)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    static const char *const roles[CN_ROLE_COUNT] = {"stable", "canary"};
    json_t *root = cn_api__load_object(body, len, err, errlen);
    if (!root)
        return CN_EINVAL;
    int rc = CN_EINVAL;
    cn_version_set_t sets[CN_ROLE_COUNT];
    bool has[CN_ROLE_COUNT] = {false, false};
    memset(sets, 0, sizeof sets);
    const char *key;
    json_t *v;
    bool override = false;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "override") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "override: must be true or false");
                goto out;
            }
            override = json_is_true(v);
            continue;
        }
        if (strcmp(key, "stable") != 0 && strcmp(key, "canary") != 0) {
            snprintf(err, errlen,
                     "unknown key \"%s\" (expected stable, canary, both, and "
                     "override)",
                     cn_text_quote(key, strlen(key), 64, quoted));
            goto out;
        }
    }
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        json_t *obj = json_object_get(root, roles[r]);
        if (!obj)
            continue;
        if (parse_set(roles[r], obj, &sets[r], err, errlen))
            goto out;
        has[r] = true;
    }
    if (!has[CN_ROLE_STABLE] && !has[CN_ROLE_CANARY]) {
        snprintf(err, errlen, "body: expected \"stable\", \"canary\" or both");
        goto out;
    }
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        if (!has[r])
            continue;
        cn_version_set_dispose(&change->sets[r]);
        change->sets[r] = sets[r];
        memset(&sets[r], 0, sizeof sets[r]);
        change->has_set[r] = true;
    }
    change->override = override;
    rc = 0;
out:
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        if (has[r])
            cn_version_set_dispose(&sets[r]);
    json_decref(root);
    return rc;
}
