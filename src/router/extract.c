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
#include <stdbool.h>
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

/* ------------------------------------------------------------ fast path */

/*
 * The common response is small, ASCII, and well formed; building jansson's
 * tree for it (an allocation per value) costs more than the rest of the
 * router's work on the request. The fast path scans the text once, without
 * allocating, validates it, and takes the value the pointer designates.
 *
 * It is deliberately narrower than JSON: it gives up (returns false) on
 * anything it is not certain about -- a string with an escape or a byte
 * outside printable ASCII, a number literal longer than 40 bytes, nesting
 * deeper than 64, a key on the pointer's path that repeats, a target that
 * is missing or of another type, any syntax error -- and the jansson path
 * then decides. So whenever the fast path answers, jansson would have
 * parsed the document and found the same value: everything the fast path
 * accepts is valid JSON that jansson accepts (numbers of at most 40 bytes
 * are finite doubles; no escapes means no UTF-8 or surrogate question), and
 * the value is read with the same strtod. The fuzz target checks this
 * against the jansson path on every input.
 */
#define FAST_MAX_DEPTH 64
#define FAST_MAX_NUMBER 40

typedef struct fast_s {
    const char *s, *end;
    const cn_router_pointer_token_t *tokens;
    size_t ntokens;
    const char *target; /* the designated value's text */
    size_t target_len;
    bool found;
} fast_t;

static void fast_ws(fast_t *f)
{
    while (f->s < f->end &&
           (*f->s == ' ' || *f->s == '\n' || *f->s == '\r' || *f->s == '\t'))
        f->s++;
}

/* A string without escapes, in printable ASCII; *start and *len: its content. */
static bool fast_string(fast_t *f, const char **start, size_t *len)
{
    f->s++; /* '"' */
    const char *b = f->s;
    while (f->s < f->end && *f->s != '"') {
        unsigned char c = (unsigned char)*f->s;
        if (c < 0x20 || c > 0x7e || c == '\\')
            return false;
        f->s++;
    }
    if (f->s == f->end)
        return false;
    *start = b;
    *len = (size_t)(f->s - b);
    f->s++;
    return true;
}

static bool fast_digits(fast_t *f)
{
    const char *b = f->s;
    while (f->s < f->end && *f->s >= '0' && *f->s <= '9')
        f->s++;
    return f->s > b;
}

/* RFC 8259 number grammar, at most FAST_MAX_NUMBER bytes: such a literal
 * cannot overflow a double (|x| < 10^(40+99)), so jansson accepts it. */
static bool fast_number(fast_t *f)
{
    const char *b = f->s;
    if (*f->s == '-')
        f->s++;
    if (f->s < f->end && *f->s == '0')
        f->s++;
    else if (!fast_digits(f))
        return false;
    if (f->s < f->end && *f->s == '.') {
        f->s++;
        if (!fast_digits(f))
            return false;
    }
    if (f->s < f->end && (*f->s == 'e' || *f->s == 'E')) {
        f->s++;
        if (f->s < f->end && (*f->s == '+' || *f->s == '-'))
            f->s++;
        const char *e = f->s;
        if (!fast_digits(f) || f->s - e > 2)
            return false;
    }
    return f->s - b <= FAST_MAX_NUMBER;
}

static bool fast_literal(fast_t *f, const char *word, size_t n)
{
    if ((size_t)(f->end - f->s) < n || memcmp(f->s, word, n) != 0)
        return false;
    f->s += n;
    return true;
}

/* After a member or element: 1 if a ',' follows (another one comes), 0
 * if `close` ends the container, -1 for anything else. */
static int fast_next(fast_t *f, char close)
{
    fast_ws(f);
    if (f->s < f->end && *f->s == ',') {
        f->s++;
        fast_ws(f);
        return 1;
    }
    if (f->s < f->end && *f->s == close) {
        f->s++;
        return 0;
    }
    return -1;
}

/* One value. `path`: this value is the node at pointer depth `depth` (the
 * first `depth` tokens led here). */
static bool fast_value(fast_t *f, size_t depth, bool path)
{
    if (depth > FAST_MAX_DEPTH || f->s >= f->end)
        return false;
    const char *start = f->s;
    bool ok;
    if (*f->s == '{') {
        f->s++;
        fast_ws(f);
        bool matched = false;
        if (f->s < f->end && *f->s == '}') {
            f->s++;
        } else {
            for (;;) {
                const char *key;
                size_t key_len;
                if (f->s >= f->end || *f->s != '"' || !fast_string(f, &key, &key_len))
                    return false;
                fast_ws(f);
                if (f->s >= f->end || *f->s != ':')
                    return false;
                f->s++;
                fast_ws(f);
                bool on = path && depth < f->ntokens &&
                          key_len == f->tokens[depth].name_len &&
                          memcmp(key, f->tokens[depth].name, key_len) == 0;
                if (on && matched)
                    return false; /* a repeated key: jansson keeps the last */
                matched |= on;
                if (!fast_value(f, depth + 1, on))
                    return false;
                int next = fast_next(f, '}');
                if (next < 0)
                    return false;
                if (next == 0)
                    break;
            }
        }
        ok = true;
    } else if (*f->s == '[') {
        f->s++;
        fast_ws(f);
        if (f->s < f->end && *f->s == ']') {
            f->s++;
        } else {
            for (size_t i = 0;; i++) {
                bool on = path && depth < f->ntokens && f->tokens[depth].index == i;
                if (!fast_value(f, depth + 1, on))
                    return false;
                int next = fast_next(f, ']');
                if (next < 0)
                    return false;
                if (next == 0)
                    break;
            }
        }
        ok = true;
    } else if (*f->s == '"') {
        const char *str;
        size_t n;
        ok = fast_string(f, &str, &n);
    } else if (*f->s == '-' || (*f->s >= '0' && *f->s <= '9')) {
        ok = fast_number(f);
    } else if (*f->s == 't') {
        ok = fast_literal(f, "true", 4);
    } else if (*f->s == 'f') {
        ok = fast_literal(f, "false", 5);
    } else if (*f->s == 'n') {
        ok = fast_literal(f, "null", 4);
    } else {
        return false;
    }
    if (ok && path && depth == f->ntokens) {
        f->target = start;
        f->target_len = (size_t)(f->s - start);
        f->found = true;
    }
    return ok;
}

/* The number (or boolean, or one-number array) in text[0..len). */
static bool fast_read_target(const char *text, size_t len, double *out)
{
    if (len == 4 && memcmp(text, "true", 4) == 0) {
        *out = 1.0;
        return true;
    }
    if (len == 5 && memcmp(text, "false", 5) == 0) {
        *out = 0.0;
        return true;
    }
    if (text[0] == '[') {
        /* exactly one number inside, whitespace around it */
        size_t a = 1, b = len - 1;
        while (a < b && strchr(" \t\r\n", text[a]))
            a++;
        while (b > a && strchr(" \t\r\n", text[b - 1]))
            b--;
        if (a == b || !(text[a] == '-' || (text[a] >= '0' && text[a] <= '9')))
            return false;
        for (size_t i = a; i < b; i++)
            if (text[i] == ',' || text[i] == '[' || text[i] == '{')
                return false;
        text += a;
        len = b - a;
    }
    if (!(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) ||
        len > FAST_MAX_NUMBER)
        return false;
    char buf[FAST_MAX_NUMBER + 1];
    memcpy(buf, text, len);
    buf[len] = '\0';
    char *endp;
    double v = strtod(buf, &endp);
    if (*endp != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool fast_extract(const cn_router_pointer_t *p, const char *body, size_t len,
                         double *out)
{
    fast_t f = {
        .s = body, .end = body + len, .tokens = p->tokens, .ntokens = p->ntokens};
    fast_ws(&f);
    if (!fast_value(&f, 0, true))
        return false;
    fast_ws(&f);
    if (f.s != f.end || !f.found)
        return false;
    return fast_read_target(f.target, f.target_len, out);
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
    if (fast_extract(p, body, len, out))
        return 0;
    return cn_router_extract_prediction_jansson(p, body, len, out);
}

int cn_router_extract_prediction_jansson(const cn_router_pointer_t *p, const char *body,
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
