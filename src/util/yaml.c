/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading a YAML config with libfyaml; see yaml.h for the contract and for
 * the list of libfyaml's bugs worked around here.
 *
 * Two checks run before libfyaml sees the text, because it hangs or goes
 * quadratic without them: check_utf8() and check_directives(). The rest
 * reads the document through libfyaml's document API, with its
 * diagnostics collected into a private diag object rather than printed.
 * Typing follows the YAML 1.2 core schema as far as a config needs: a
 * quoted or block scalar, or one tagged !!str, is a string; other tags
 * than the core schema's are refused rather than ignored.
 */
#include "util/yaml.h"
#include "util/error.h"
#include "util/text.h"

#include <libfyaml.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define QUOTE_BUF CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)

static const char *quote(const char *s, size_t len, char *buf)
{
    return cn_text_quote(s, len, CN_YAML_QUOTE_MAX, buf);
}

/* ---------------------------------------------------------- messages */

int cn_yaml_vreport(const cn_yaml_t *y, int rc, int line, const char *path,
                    const char *fmt, va_list ap)
{
    char what[512];
    vsnprintf(what, sizeof what, fmt, ap);
    if (!y->err || y->errlen == 0)
        return rc;
    char loc[320];
    if (line > 0)
        snprintf(loc, sizeof loc, "%s:%d: ", y->file, line);
    else
        snprintf(loc, sizeof loc, "%s: ", y->file);
    if (path)
        snprintf(y->err, y->errlen, "%skey '%s%s': %s", loc, y->prefix, path, what);
    else
        snprintf(y->err, y->errlen, "%s%s", loc, what);
    return rc;
}

int cn_yaml_report(const cn_yaml_t *y, int rc, int line, const char *path,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rc = cn_yaml_vreport(y, rc, line, path, fmt, ap);
    va_end(ap);
    return rc;
}

/* ------------------------------------------------------------- nodes */

/* libfyaml 0.7 marks only tokens, so a collection's line is that of its
 * first scalar. */
int cn_yaml_node_line(struct fy_node *n, int fallback)
{
    if (!n)
        return fallback;
    switch (fy_node_get_type(n)) {
    case FYNT_SCALAR: {
        struct fy_token *t = fy_node_get_scalar_token(n);
        const struct fy_mark *mk = t ? fy_token_start_mark(t) : NULL;
        return mk && mk->line >= 0 ? mk->line + 1 : fallback;
    }
    case FYNT_SEQUENCE: {
        void *it = NULL;
        return cn_yaml_node_line(fy_node_sequence_iterate(n, &it), fallback);
    }
    case FYNT_MAPPING: {
        void *it = NULL;
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? cn_yaml_node_line(fy_node_pair_key(p), fallback) : fallback;
    }
    }
    return fallback;
}

int cn_yaml_is_null(struct fy_node *n)
{
    if (!n)
        return 1;
    if (!fy_node_is_scalar(n) || fy_node_is_alias(n) ||
        fy_node_get_style(n) != FYNS_PLAIN || fy_node_get_tag(n, NULL))
        return 0;
    size_t len;
    const char *s = fy_node_get_scalar(n, &len);
    if (!s || len == 0)
        return 1;
    static const char *const nulls[] = {"~", "null", "Null", "NULL"};
    for (size_t i = 0; i < COUNT(nulls); i++)
        if (len == strlen(nulls[i]) && memcmp(s, nulls[i], len) == 0)
            return 1;
    return 0;
}

/*
 * The text of a single-quoted scalar, unescaped from the source: '' is a
 * quote, and line breaks fold as in YAML 1.2 section 7.3.2 (one break is a
 * space, k > 1 breaks are k - 1 newlines, blanks around breaks go).
 */
static char *unquote_single(const char *s, size_t n, size_t *out_len)
{
    char *o = cn_xmalloc(n + 1);
    size_t j = 0, trail = 0;
    for (size_t i = 0; i < n;) {
        char ch = s[i];
        if (ch == '\'' && i + 1 < n && s[i + 1] == '\'') {
            o[j++] = '\'';
            i += 2;
            trail = 0;
        } else if (ch == '\n' || ch == '\r') {
            j -= trail;
            trail = 0;
            size_t breaks = 0;
            while (i < n && s[i] && strchr("\n\r \t", s[i])) {
                if (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')
                    i++;
                breaks += s[i] == '\n' || s[i] == '\r';
                i++;
            }
            if (breaks == 1)
                o[j++] = ' ';
            for (size_t k = 1; k < breaks; k++)
                o[j++] = '\n';
        } else {
            o[j++] = ch;
            trail = (ch == ' ' || ch == '\t') ? trail + 1 : 0;
            i++;
        }
    }
    o[j] = '\0';
    *out_len = j;
    return o;
}

/*
 * For a single-quoted scalar the text is unescaped here from the source
 * rather than by libfyaml: libfyaml 0.7 leaks a buffer for every
 * single-quoted scalar with four or more '' escapes. The copy lives in the
 * pool until cn_yaml_dispose().
 */
const char *cn_yaml_scalar_text(cn_yaml_t *y, struct fy_node *n, size_t *len)
{
    *len = 0;
    if (fy_node_get_style(n) != FYNS_SINGLE_QUOTED || !y->src) {
        const char *s = fy_node_get_scalar(n, len);
        return s ? s : "";
    }
    struct fy_token *t = fy_node_get_scalar_token(n);
    const struct fy_mark *a = t ? fy_token_start_mark(t) : NULL;
    const struct fy_mark *b = t ? fy_token_end_mark(t) : NULL;
    if (!a || !b || a->input_pos > b->input_pos || b->input_pos > y->src_len)
        return "";
    char *o = unquote_single(y->src + a->input_pos, b->input_pos - a->input_pos, len);
    y->pool = cn_xrealloc(y->pool, (y->n_pool + 1) * sizeof *y->pool);
    y->pool[y->n_pool++] = o;
    return o;
}

const char *cn_yaml_describe(cn_yaml_t *y, struct fy_node *n, char *buf)
{
    if (cn_yaml_is_null(n))
        return "null";
    if (fy_node_is_sequence(n))
        return "a list";
    if (fy_node_is_mapping(n))
        return "a mapping";
    size_t len = 0;
    const char *s = cn_yaml_scalar_text(y, n, &len);
    char q[QUOTE_BUF];
    quote(s, len, q);
    snprintf(buf, CN_YAML_DESCRIBE_BUF, "'%s'", q);
    return buf;
}

struct fy_node *cn_yaml_deref(const cn_yaml_t *y, struct fy_node *n, int line,
                              const char *path, int *rc)
{
    if (!n || !fy_node_is_alias(n))
        return n;
    struct fy_node *r = fy_node_resolve_alias(n);
    if (!r) {
        size_t len = 0;
        const char *s = fy_node_get_scalar(n, &len);
        char q[QUOTE_BUF];
        *rc = cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(n, line), path,
                             "alias '*%s' refers to no anchor",
                             quote(s ? s : "", len, q));
    }
    return r;
}

/* The tags of the core schema other than !!str, which makes a string. */
static const char *const core_tags[] = {
    "tag:yaml.org,2002:int",  "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:map",   "tag:yaml.org,2002:seq",
};

int cn_yaml_get_scalar(cn_yaml_t *y, struct fy_node *n, int line, const char *path,
                       const char *want, int allow_null, cn_yaml_scalar_t *s)
{
    int rc = 0;
    s->text = NULL;
    s->is_string = 0;
    s->line = cn_yaml_node_line(n, line);
    n = cn_yaml_deref(y, n, line, path, &rc);
    if (rc)
        return rc;
    char d[CN_YAML_DESCRIBE_BUF];
    if (allow_null && cn_yaml_is_null(n)) {
        s->text = cn_xstrndup("", 0);
        return 0;
    }
    if (cn_yaml_is_null(n) || !fy_node_is_scalar(n))
        return cn_yaml_report(y, CN_EINVAL, s->line, path, "must be %s, got %s", want,
                              cn_yaml_describe(y, n, d));
    size_t tlen = 0;
    const char *tag = fy_node_get_tag(n, &tlen);
    s->is_string = fy_node_get_style(n) != FYNS_PLAIN;
    if (tag) {
        int core = 0;
        for (size_t i = 0; i < COUNT(core_tags) && !core; i++)
            core = cn_yaml_key_is(tag, tlen, core_tags[i]);
        if (cn_yaml_key_is(tag, tlen, "tag:yaml.org,2002:str"))
            s->is_string = 1;
        else if (!core) {
            char q[QUOTE_BUF];
            return cn_yaml_report(y, CN_EINVAL, s->line, path,
                                  "unsupported YAML tag '%s'", quote(tag, tlen, q));
        }
    }
    size_t len = 0;
    const char *text = cn_yaml_scalar_text(y, n, &len);
    if (memchr(text, '\0', len))
        return cn_yaml_report(y, CN_EINVAL, s->line, path, "contains a NUL byte");
    s->text = cn_xstrndup(text, len);
    return 0;
}

int cn_yaml_get_key(cn_yaml_t *y, struct fy_node_pair *p, int line, const char *parent,
                    const char **key, size_t *len, int *key_line)
{
    struct fy_node *k = fy_node_pair_key(p);
    *key_line = cn_yaml_node_line(k, line);
    if (!k || cn_yaml_is_null(k) || !fy_node_is_scalar(k) || fy_node_is_alias(k)) {
        char d[CN_YAML_DESCRIBE_BUF];
        return cn_yaml_report(
            y, CN_EINVAL, *key_line, parent && *parent ? parent : NULL,
            "keys must be plain strings, got %s", cn_yaml_describe(y, k, d));
    }
    *key = cn_yaml_scalar_text(y, k, len);
    return 0;
}

int cn_yaml_key_is(const char *key, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(key, name, len) == 0;
}

int cn_yaml_section(cn_yaml_t *y, struct fy_node *root, const char *name,
                    const char *keys, struct fy_node **section, int *line)
{
    *section = NULL;
    *line = 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t klen = 0;
        const char *key = k && fy_node_is_scalar(k) && !fy_node_is_alias(k)
                              ? cn_yaml_scalar_text(y, k, &klen)
                              : NULL;
        if (!key || !cn_yaml_key_is(key, klen, name))
            continue;
        int rc = 0, kline = cn_yaml_node_line(k, 1);
        struct fy_node *v = cn_yaml_deref(y, fy_node_pair_value(p), kline, name, &rc);
        if (rc)
            return rc;
        if (!v || !fy_node_is_mapping(v)) {
            char d[CN_YAML_DESCRIBE_BUF];
            return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(v, kline), name,
                                  "must be a mapping of keys (%s), got %s", keys,
                                  cn_yaml_describe(y, v, d));
        }
        *section = v;
        *line = kline;
        return 0;
    }
    return 0;
}

/* --------------------------------------------------------- documents */

/*
 * YAML is Unicode, and libfyaml 0.7 is lax about it in ways that matter:
 * "%TAG" followed by a byte that is not UTF-8 sends it into an endless
 * loop. So the text is checked first, and a bad byte is reported by line.
 * YAML allows no NUL byte either.
 */
static int check_utf8(const cn_yaml_t *y, const char *text, size_t len)
{
    int line = 1;
    for (size_t i = 0; i < len;) {
        unsigned char b = (unsigned char)text[i];
        size_t n = b ? cn_text_utf8_len(text + i, len - i) : 0;
        if (n == 0 && b == 0)
            return cn_yaml_report(y, CN_EPARSE, line, NULL, "invalid YAML: NUL byte");
        if (n == 0)
            return cn_yaml_report(y, CN_EPARSE, line, NULL,
                                  "invalid YAML: not UTF-8 (byte 0x%02X)", b);
        line += b == '\n';
        i += n;
    }
    return 0;
}

/*
 * libfyaml 0.7 scans a directive line in time quadratic in its length (a
 * 6 kB "%FOO ..." line takes 60 ms, a megabyte would hang), so directives
 * are vetted before the parser sees them: only %YAML and %TAG, and only
 * short lines. A config has no use for anything else. A '%' at the start
 * of a line is taken as a directive even where YAML would read it as part
 * of a multi-line quoted string; such a config is not worth the risk.
 */
static int check_directives(const cn_yaml_t *y, const char *text, size_t len)
{
    int line = 1;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
        if (n && text[i] == '%') {
            char q[QUOTE_BUF];
            int known = (n >= 5 && memcmp(text + i, "%YAML", 5) == 0) ||
                        (n >= 4 && memcmp(text + i, "%TAG", 4) == 0);
            if (!known)
                return cn_yaml_report(y, CN_EPARSE, line, NULL,
                                      "invalid YAML: unsupported directive '%s' (only "
                                      "%%YAML and %%TAG)",
                                      quote(text + i, n, q));
            if (n > CN_YAML_DIRECTIVE_MAX)
                return cn_yaml_report(
                    y, CN_EPARSE, line, NULL,
                    "invalid YAML: directive line longer than %d bytes",
                    CN_YAML_DIRECTIVE_MAX);
        }
        i += n + 1;
        line++;
    }
    return 0;
}

/* libfyaml reports an error at the end of input on the line after the
 * last one; point at the last line that exists instead. */
static int clamp_line(const char *text, size_t len, int line)
{
    int lines = 1;
    for (size_t i = 0; i + 1 < len; i++)
        lines += text[i] == '\n';
    return line < 1 ? 1 : line > lines ? lines : line;
}

/* The first error libfyaml collected, as "FILE:LINE: invalid YAML: msg". */
static int yaml_error(const cn_yaml_t *y)
{
    void *it = NULL;
    struct fy_diag_error *e;
    while ((e = fy_diag_errors_iterate(y->diag, &it))) {
        if (e->type < FYET_ERROR)
            continue;
        char msg[160];
        size_t j = 0;
        for (const char *s = e->msg ? e->msg : ""; *s && j + 1 < sizeof msg; s++)
            msg[j++] = ((unsigned char)*s >= 0x20 && *s != 0x7f) ? *s : ' ';
        msg[j] = '\0';
        return cn_yaml_report(y, CN_EPARSE, clamp_line(y->src, y->src_len, e->line),
                              NULL, "invalid YAML: %s", msg);
    }
    return cn_yaml_report(y, CN_EPARSE, 1, NULL, "invalid YAML");
}

void cn_yaml_init(cn_yaml_t *y, const char *file, char *err, size_t errlen)
{
    memset(y, 0, sizeof *y);
    y->file = file ? file : "<config>";
    y->prefix = "";
    y->err = err;
    y->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
}

int cn_yaml_load(cn_yaml_t *y, const char *text, size_t len, struct fy_document **doc)
{
    *doc = NULL;
    if (!text)
        len = 0;
    /* libfyaml reads a NUL-terminated copy that outlives the document. */
    y->src = cn_xstrndup(text ? text : "", len);
    y->src_len = len;
    int rc = check_utf8(y, y->src, len);
    if (!rc)
        rc = check_directives(y, y->src, len);
    if (rc)
        return rc;
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.colorize = false;
    y->diag = fy_diag_create(&dcfg);
    if (!y->diag)
        return cn_yaml_report(y, CN_EPARSE, 0, NULL, "cannot start the YAML parser");
    fy_diag_set_collect_errors(y->diag, true);
    struct fy_parse_cfg pcfg = {
        .search_path = "",
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG,
        .userdata = NULL,
        .diag = y->diag,
    };
    y->parser = fy_parser_create(&pcfg);
    if (!y->parser || fy_parser_set_string(y->parser, y->src, len) != 0)
        return cn_yaml_report(y, CN_EPARSE, 0, NULL, "cannot start the YAML parser");
    y->doc = fy_parse_load_document(y->parser);
    if (!y->doc) {
        if (fy_parser_get_stream_error(y->parser) || fy_diag_got_error(y->diag))
            return yaml_error(y);
        return 0; /* no document at all */
    }
    /* A second document would be silently ignored; say so instead. */
    struct fy_document *extra = fy_parse_load_document(y->parser);
    if (extra) {
        int line = cn_yaml_node_line(fy_document_root(extra), 1);
        fy_parse_document_destroy(y->parser, extra);
        return cn_yaml_report(y, CN_EPARSE, line, NULL,
                              "more than one YAML document ('---'); expected one");
    }
    if (fy_parser_get_stream_error(y->parser) || fy_diag_got_error(y->diag))
        return yaml_error(y);
    *doc = y->doc;
    return 0;
}

void cn_yaml_dispose(cn_yaml_t *y)
{
    if (y->doc)
        fy_parse_document_destroy(y->parser, y->doc);
    if (y->parser)
        fy_parser_destroy(y->parser);
    if (y->diag)
        fy_diag_destroy(y->diag);
    for (size_t i = 0; i < y->n_pool; i++)
        free(y->pool[i]);
    free(y->pool);
    free(y->src);
    memset(y, 0, sizeof *y);
}
