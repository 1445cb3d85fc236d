/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The traffic resource's JSON (see api/codec.h), and what the codecs
 * share: the error object, quoting a JSON value for a message, exact
 * percentages.
 */
#include "api/codec.h"
#include "api/codec_internal.h"
#include "util/error.h"
#include "util/units.h"
#include "util/fmt.h"
#include "util/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_api_error_write(cn_jsonw_t *w, const char *message)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "error");
    cn_jsonw_cstr(w, message);
    cn_jsonw_object_end(w);
}

const char *cn_api__quote_value(const json_t *v, char *buf)
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

json_t *cn_api__load_object(const char *body, size_t len, char *err, size_t errlen)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)];
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "body: not valid JSON: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "body: expected a JSON object, got %s",
                 cn_api__quote_value(root, quoted));
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Basis points as an exact percentage: 250 -> 2.5, 1 -> 0.01, 10000 -> 100. */
static void write_percent(cn_jsonw_t *w, unsigned bp)
{
    char buf[16];
    cn_jsonw_raw(w, cn_units_percent_text(bp, buf, sizeof buf));
}

void cn_api_traffic_write(cn_jsonw_t *w, const cn_traffic_t *t, uint64_t step)
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

int cn_api_traffic_parse(const char *body, size_t len, cn_controller_change_t *change,
                         char *err, size_t errlen)
{
    char quoted[CN_TEXT_QUOTE_BUF(64)], key_quoted[CN_TEXT_QUOTE_BUF(64)];
    json_t *root = cn_api__load_object(body, len, err, errlen);
    if (!root)
        return CN_EINVAL;
    /* Parsed into a copy: a bad key anywhere leaves *change untouched. */
    cn_controller_change_t c = *change;
    int rc = CN_EINVAL;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "canary_weight") == 0) {
            if (!percent_to_bp(v, &c.traffic.canary_weight_bp))
                goto bad_percent;
            c.has_canary_weight = true;
        } else if (strcmp(key, "shadow_percent") == 0) {
            if (!percent_to_bp(v, &c.traffic.shadow_bp))
                goto bad_percent;
            c.has_shadow = true;
        } else if (strcmp(key, "mode") == 0) {
            if (!json_is_string(v) ||
                cn_traffic_mode_parse(json_string_value(v), &c.traffic.mode)) {
                snprintf(err, errlen,
                         "mode: must be \"random\", \"sticky\" or \"shadow\", got %s",
                         cn_api__quote_value(v, quoted));
                goto out;
            }
            c.has_mode = true;
        } else if (strcmp(key, "force_enabled") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "force_enabled: must be true or false, got %s",
                         cn_api__quote_value(v, quoted));
                goto out;
            }
            c.traffic.force_enabled = json_is_true(v);
            c.has_force = true;
        } else if (strcmp(key, "override") == 0) {
            if (!json_is_boolean(v)) {
                snprintf(err, errlen, "override: must be true or false, got %s",
                         cn_api__quote_value(v, quoted));
                goto out;
            }
            c.override = json_is_true(v);
        } else {
            snprintf(
                err, errlen,
                "unknown key \"%s\" (expected canary_weight, mode, shadow_percent, "
                "force_enabled or override)",
                cn_text_quote(key, strlen(key), 64, key_quoted));
            goto out;
        }
        continue;
    bad_percent:
        snprintf(err, errlen,
                 "%s: must be a percentage in [0, 100] with at most 2 decimals, got %s",
                 key, cn_api__quote_value(v, quoted));
        goto out;
    }
    *change = c;
    rc = 0;
out:
    json_decref(root);
    return rc;
}
