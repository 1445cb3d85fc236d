/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading a YAML config with libfyaml, for the parsers that turn one into
 * a struct (judge/config.c, the analysis spec; router/config.c, the serve
 * config). It loads the text into a document and gives the parsers what
 * they all need to walk it and to word their messages the same way: the
 * line of a node, null and scalar tests of the YAML 1.2 core schema, key
 * and value reading, alias following, and one message format,
 *
 *     FILE:LINE: key 'PATH': what
 *
 * where PATH starts with the prefix of the section being read ("serve.").
 *
 * This is the one place that works around libfyaml's bugs (as found in
 * 0.7.12), so a parser must get its document and its scalars' text from
 * here, never from libfyaml directly:
 *  - "%TAG" followed by a byte that is not UTF-8 sends libfyaml into an
 *    endless loop, so the text must be UTF-8 (and hold no NUL) before it
 *    is handed over;
 *  - it scans a directive line in time quadratic in its length, so only
 *    %YAML and %TAG lines, and only short ones, are let through;
 *  - it leaks a buffer for a single-quoted scalar with four or more ''
 *    escapes, so single-quoted text is unescaped here from the source;
 *  - its diagnostics go to stderr unless collected; here they are
 *    collected and the first error becomes the one-line message;
 *  - it marks only tokens, so the line of a collection is taken from its
 *    first scalar, and an error at the end of input is moved back from the
 *    line after the last one.
 *
 * util/yaml depends on libfyaml; it is the only part of util/ that does.
 */
#ifndef CN_UTIL_YAML_H
#define CN_UTIL_YAML_H

#include "util/text.h"

#include <stdarg.h>
#include <stddef.h>

struct fy_diag;
struct fy_document;
struct fy_node;
struct fy_node_pair;
struct fy_parser;

/* Longest excerpt of a value or key quoted back in a message. */
#define CN_YAML_QUOTE_MAX 40
/* Bytes of buffer cn_yaml_describe() needs. */
#define CN_YAML_DESCRIBE_BUF (CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX) + 24)

/* Longest directive line (%YAML, %TAG) passed to libfyaml. */
#define CN_YAML_DIRECTIVE_MAX 128

/*
 * One YAML text being read, from cn_yaml_init() to cn_yaml_dispose(). The
 * caller allocates it; everything it points to that is not borrowed is
 * freed by cn_yaml_dispose().
 */
typedef struct cn_yaml_s {
    /* public: set by cn_yaml_init(), may be changed at any time */
    const char *file;   /* borrowed; the FILE of every message */
    const char *prefix; /* borrowed; put before every key path: "" or
                           "serve." once a parser is inside a section */
    /* private */
    char *err; /* borrowed; the message goes to err[0..errlen) */
    size_t errlen;
    char *src; /* owned, NUL-terminated copy of the text that libfyaml reads */
    size_t src_len;
    char **pool; /* owned: unescaped scalar texts handed out, freed together */
    size_t n_pool;
    struct fy_diag *diag;
    struct fy_parser *parser;
    struct fy_document *doc;
} cn_yaml_t;

/*
 * Start reading a text named `file` (NULL: "<config>") whose messages go to
 * err[0..errlen) (err may be NULL or errlen 0: no message). Clears err.
 * The prefix starts as "". Cannot fail.
 */
void cn_yaml_init(cn_yaml_t *y, const char *file, char *err, size_t errlen);

/*
 * Load the one document of text[0..len) (no NUL terminator needed; text
 * may be NULL when len is 0, or is then read as empty). The text is copied;
 * the caller's buffer may go at once.
 *
 * Returns 0 with *doc set to the document, owned by y and valid until
 * cn_yaml_dispose(); or 0 with *doc NULL when the text holds no document at
 * all (empty, or only comments), which the caller may treat as an empty
 * config or as an error. On failure returns CN_EPARSE with the message
 * written and *doc NULL:
 *  - "FILE:LINE: invalid YAML: not UTF-8 (byte 0xC3)", "...: NUL byte";
 *  - "FILE:LINE: invalid YAML: unsupported directive '%FOO' (only %YAML
 *    and %TAG)", "...: directive line longer than 128 bytes";
 *  - "FILE:LINE: invalid YAML: MSG", libfyaml's first error, with control
 *    characters made spaces;
 *  - "FILE:LINE: more than one YAML document ('---'); expected one";
 *  - "FILE: cannot start the YAML parser".
 * Call at most once per cn_yaml_init(); call cn_yaml_dispose() after it,
 * whatever it returned.
 */
int cn_yaml_load(cn_yaml_t *y, const char *text, size_t len, struct fy_document **doc);

/* Free the document, the parser and every string handed out. y may be
 * disposed without a load; it must be initialised again to be reused. */
void cn_yaml_dispose(cn_yaml_t *y);

/*
 * Write the message "FILE:LINE: key 'PREFIXPATH': what" (line <= 0: no
 * LINE; path NULL: no key part, "FILE:LINE: what"), what being fmt
 * formatted and cut to 511 bytes, and the whole cut to errlen; nothing is
 * written when err is NULL. The caller's format keeps it to one line.
 * Returns rc, so that a parser can write `return cn_yaml_report(y, ...)`.
 */
int cn_yaml_report(const cn_yaml_t *y, int rc, int line, const char *path,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int cn_yaml_vreport(const cn_yaml_t *y, int rc, int line, const char *path,
                    const char *fmt, va_list ap) __attribute__((format(printf, 5, 0)));

/*
 * The line (1-based) where node n starts, or fallback when libfyaml has no
 * mark for it (n NULL, an empty value, an empty collection).
 */
int cn_yaml_node_line(struct fy_node *n, int fallback);

/* Whether n is null in the YAML core schema: NULL, or a plain untagged
 * scalar that is empty, "~", "null", "Null" or "NULL". */
int cn_yaml_is_null(struct fy_node *n);

/*
 * The text of scalar n, not NUL-terminated and possibly holding NULs (from
 * escapes), length in *len. A single-quoted scalar is unescaped from the
 * source ('' is a quote, line breaks fold as in YAML 1.2 section 7.3.2);
 * that copy belongs to y. Either way the text is valid until
 * cn_yaml_dispose(). Never NULL ("" when there is none).
 */
const char *cn_yaml_scalar_text(cn_yaml_t *y, struct fy_node *n, size_t *len);

/*
 * n for a message: "null", "a list", "a mapping", or the scalar quoted
 * ("'abc'", cut to CN_YAML_QUOTE_MAX bytes, unprintable bytes as '?').
 * buf must hold CN_YAML_DESCRIBE_BUF bytes; the result is buf or a static
 * string.
 */
const char *cn_yaml_describe(cn_yaml_t *y, struct fy_node *n, char *buf);

/*
 * Follow n to its anchor if it is an alias (without copying, so no alias
 * bomb can blow up). Returns n itself when it is not an alias (NULL
 * included); on a dangling alias reports "alias '*x' refers to no anchor"
 * for `path` at n's line (or `line`), sets *rc to CN_EINVAL and returns
 * NULL. *rc is untouched otherwise.
 */
struct fy_node *cn_yaml_deref(const cn_yaml_t *y, struct fy_node *n, int line,
                              const char *path, int *rc);

/* A scalar value read by cn_yaml_get_scalar(). */
typedef struct cn_yaml_scalar_s {
    char *text;    /* NUL-terminated copy, owned by the caller */
    int is_string; /* quoted, block or !!str: never a number or boolean */
    int line;
} cn_yaml_scalar_t;

/*
 * Read the value n of key `path` (found at `line`) as a scalar; `want`
 * names what was expected ("a number", "true or false") for the messages.
 * Aliases are followed. Null is refused unless allow_null, which gives the
 * text "" (not a string). Tags other than the core schema's are refused,
 * and !!str makes the value a string.
 *
 * Returns 0 with s->text for the caller to free. On failure returns
 * CN_EINVAL after reporting ("must be WANT, got a list", "unsupported YAML
 * tag '!x'", "contains a NUL byte", or a dangling alias), with s->text
 * NULL.
 */
int cn_yaml_get_scalar(cn_yaml_t *y, struct fy_node *n, int line, const char *path,
                       const char *want, int allow_null, cn_yaml_scalar_t *s);

/*
 * The key of mapping pair p, in the mapping at `parent` ("" or NULL at the
 * top) found at `line`. Returns 0 with the key's text (as
 * cn_yaml_scalar_text()) and its line; on a key that is not a plain string
 * (null, a collection, an alias) returns CN_EINVAL after reporting "keys
 * must be plain strings, got ..." for `parent`, with *key_line set.
 */
int cn_yaml_get_key(cn_yaml_t *y, struct fy_node_pair *p, int line, const char *parent,
                    const char **key, size_t *len, int *key_line);

/* Whether key[0..len) is name. */
int cn_yaml_key_is(const char *key, size_t len, const char *name);

/*
 * Find the section `name` (such as "serve") among the keys of the mapping
 * root: the first key that is that plain string. Returns 0 with *section
 * set to its mapping (aliases followed) and *line to the key's line, or 0
 * with *section NULL when root has no such key. A section that is not a
 * mapping is CN_EINVAL, reported as "must be a mapping of keys (KEYS), got
 * ..." for key `name`, as is a dangling alias.
 *
 * The prefix is not changed: the caller sets it, once it has checked what
 * it wants to check outside the section.
 */
int cn_yaml_section(cn_yaml_t *y, struct fy_node *root, const char *name,
                    const char *keys, struct fy_node **section, int *line);

#endif
