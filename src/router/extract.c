/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON Pointer compilation (RFC 6901) and prediction extraction from model
 * server responses. See extract.h for the contract.
 *
 * A compiled pointer keeps every token unescaped and NUL-terminated in one
 * buffer, with its array index decoded in advance, so that the per-request
 * walk does no string work beyond the object lookups themselves.
 */
#include "router/extract.h"
#include "util/error.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    const char *pointer;
} presets[] = {
    {"kserve-v2", "/outputs/0/data/0"},
    {"open-inference", "/outputs/0/data/0"},
    {"tf-serving", "/predictions/0"},
};

/* Copy at most 64 bytes of a pointer into dst for an error message, with
 * control bytes shown as '?' so that the message stays on one line. */
static void quote_pointer(const char *text, char *dst, size_t dstlen)
{
    size_t n = 0;
    for (const char *s = text; *s && n + 4 < dstlen; s++) {
        if (n == 64) {
            memcpy(dst + n, "...", 3);
            n += 3;
            break;
        }
        unsigned char c = (unsigned char)*s;
        dst[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[n] = '\0';
}

/* RFC 6901 section 4: an index is "0" or digits with no leading zero. One
 * that does not fit a size_t could not index any array, so it is no index. */
static size_t parse_index(const char *token, size_t len)
{
    if (len == 0 || (len > 1 && token[0] == '0'))
        return SIZE_MAX;
    size_t index = 0;
    for (size_t i = 0; i < len; i++) {
        if (token[i] < '0' || token[i] > '9')
            return SIZE_MAX;
        size_t digit = (size_t)(token[i] - '0');
        if (index > (SIZE_MAX - 1 - digit) / 10)
            return SIZE_MAX;
        index = index * 10 + digit;
    }
    return index;
}

int cn_router_pointer_compile(const char *text, cn_router_pointer_t *out, char *err,
                              size_t errlen)
{
    char quoted[72];

    if (out)
        memset(out, 0, sizeof *out);
    if (!text || !out) {
        snprintf(err, errlen, "JSON pointer: no pointer given");
        return CN_EINVAL;
    }
    size_t len = strlen(text);
    if (len == 0)
        return 0;
    if (text[0] != '/') {
        quote_pointer(text, quoted, sizeof quoted);
        snprintf(err, errlen, "JSON pointer '%s': must be empty or start with '/'",
                 quoted);
        return CN_EPARSE;
    }

    size_t ntokens = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '/')
            ntokens++;
        else if (text[i] == '~' && text[i + 1] != '0' && text[i + 1] != '1') {
            quote_pointer(text, quoted, sizeof quoted);
            snprintf(err, errlen,
                     "JSON pointer '%s': '~' at offset %zu must be followed by "
                     "'0' or '1'",
                     quoted, i);
            return CN_EPARSE;
        }
    }

    /* Unescaping only shrinks a token, and each '/' becomes a NUL, so the
     * storage needs len bytes (the leading '/' pays for the last NUL). */
    char *storage = cn_xmalloc(len);
    cn_router_pointer_token_t *tokens = cn_xmallocarray(ntokens, sizeof *tokens);
    size_t t = 0, w = 0;
    for (size_t i = 1; i <= len; t++) {
        size_t start = w;
        for (; i < len && text[i] != '/'; i++) {
            if (text[i] == '~') {
                /* Each escape is consumed whole, so "~01" reads as "~1"
                 * literally, as RFC 6901 section 4 requires. */
                storage[w++] = text[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                storage[w++] = text[i];
            }
        }
        storage[w++] = '\0';
        tokens[t].name = storage + start;
        tokens[t].name_len = w - 1 - start;
        tokens[t].index = parse_index(storage + start, w - 1 - start);
        i++; /* past the '/' (or past the end) */
    }
    out->tokens = tokens;
    out->storage = storage;
    out->ntokens = ntokens;
    return 0;
}

const char *cn_router_pointer_preset_text(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (strcmp(presets[i].name, name) == 0)
            return presets[i].pointer;
    return NULL;
}

int cn_router_pointer_preset(const char *name, cn_router_pointer_t *out, char *err,
                             size_t errlen)
{
    const char *text = cn_router_pointer_preset_text(name);
    if (!text) {
        char quoted[72];
        quote_pointer(name ? name : "", quoted, sizeof quoted);
        if (out)
            memset(out, 0, sizeof *out);
        snprintf(err, errlen,
                 "unknown prediction preset '%s' (expected kserve-v2, "
                 "open-inference or tf-serving)",
                 quoted);
        return CN_ENOTFOUND;
    }
    return cn_router_pointer_compile(text, out, err, errlen);
}

void cn_router_pointer_dispose(cn_router_pointer_t *p)
{
    if (!p)
        return;
    free(p->tokens);
    free(p->storage);
    memset(p, 0, sizeof *p);
}

/* Read a number or boolean; CN_EINVAL for any other type. */
static int scalar_value(const json_t *v, double *out)
{
    if (json_is_number(v))
        *out = json_number_value(v);
    else if (json_is_true(v))
        *out = 1.0;
    else if (json_is_false(v))
        *out = 0.0;
    else
        return CN_EINVAL;
    return 0;
}

int cn_router_extract_prediction(const cn_router_pointer_t *p, const char *body,
                                 size_t len, double *out)
{
    if (!p || (!body && len) || !out || (p->ntokens && !p->tokens))
        return CN_EINVAL;
    if (len > CN_ROUTER_EXTRACT_MAX_BYTES)
        return CN_ETOOBIG;
    if (len == 0)
        return CN_EPARSE;

    /* DECODE_ANY: a bare number is a whole-document prediction. INT_AS_REAL:
     * integers beyond int64 are still finite doubles, so they must not fail
     * the parse as "too big integer". ALLOW_NUL: "\u0000" is valid JSON. */
    json_error_t jerr;
    json_t *root = json_loadb(
        body, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        switch (json_error_code(&jerr)) {
        case json_error_numeric_overflow:
            return CN_ENONFINITE;
        case json_error_stack_overflow:
            return CN_ETOOBIG;
        case json_error_out_of_memory:
            /* Our allocators abort; jansson's malloc failing is the same. */
            fprintf(stderr, "canary: out of memory parsing a response body\n");
            abort();
        default:
            return CN_EPARSE;
        }
    }

    int rc = 0;
    const json_t *node = root;
    for (size_t i = 0; i < p->ntokens && node; i++) {
        const cn_router_pointer_token_t *tok = &p->tokens[i];
        if (json_is_object(node))
            node = json_object_getn(node, tok->name, tok->name_len);
        else if (json_is_array(node))
            node = tok->index == SIZE_MAX ? NULL : json_array_get(node, tok->index);
        else
            node = NULL;
    }

    double value = 0.0;
    if (!node)
        rc = CN_ENOTFOUND;
    else if (json_is_array(node))
        rc = json_array_size(node) == 1 && json_is_number(json_array_get(node, 0))
                 ? scalar_value(json_array_get(node, 0), &value)
                 : CN_EINVAL;
    else
        rc = scalar_value(node, &value);
    /* jansson never yields NaN or infinity, but the contract promises a
     * finite value, so it is checked rather than assumed. */
    if (rc == 0 && !isfinite(value))
        rc = CN_ENONFINITE;
    if (rc == 0)
        *out = value;
    json_decref(root);
    return rc;
}
