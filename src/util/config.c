/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The config engine (config.h). Every value, whatever its source (YAML, a
 * flag, a default, a field set in code), goes through the same two steps:
 * parse_text() turns text into a value_t, checking the syntax and the
 * bounds of its key, and store() moves it into the field. A field set in
 * code is checked by writing it back as text (format()) and parsing that,
 * so "in range" means the same thing on every path and there is one
 * message per rule.
 *
 * YAML is read with libfyaml's document API through util/yaml.h, which
 * works around libfyaml's bugs, follows aliases without copying and words
 * the messages. Typing follows the YAML 1.2 core schema where it matters:
 * a quoted "3" is a string, so it is refused where an integer, a number or
 * a boolean is expected. Sizes, durations and percentages are accepted
 * quoted or not, since they are strings to YAML anyway ("16MiB") except
 * when they happen to be numbers.
 */
#include "util/config.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/text.h"
#include "util/units.h"
#include "util/yaml.h"

#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key paths and messages are cut to their buffers on purpose (a message
 * is one line of bounded length), so GCC's truncation warning does not
 * apply to this file. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define QUOTE_MAX CN_YAML_QUOTE_MAX
#define QUOTE_BUF CN_TEXT_QUOTE_BUF(QUOTE_MAX)
#define WANT_BUF 256
#define WHAT_BUF 400
#define PATH_BUF 200

/* Longest header or cookie name, URL path and file path; longest label
 * (it must fit cn_router_lookup_t.version[64]). */
#define NAME_MAX_BYTES 128
#define PATH_MAX_BYTES 1024
#define LABEL_MAX 63
/* Integers above this are "unbounded" in messages (">= 1"). */
#define INT_UNBOUNDED ((uint64_t)1 << 53)
/* Most items of a list of records, one-of items or map entries. */
#define ITEMS_MAX 4096

static const char *quote(const char *s, char *buf)
{
    return cn_text_quote(s, strlen(s), QUOTE_MAX, buf);
}

/* One line in what; CN_EINVAL. */
#define failf(what, len, ...) cn_fail(what, len, CN_EINVAL, __VA_ARGS__)

/* ------------------------------------------------------------ fields */

static void *field(void *record, const cn_config_key_t *k)
{
    return (char *)record + k->offset;
}

static const void *cfield(const void *record, const cn_config_key_t *k)
{
    return (const char *)record + k->offset;
}

/* An unsigned field of 1, 2, 4 or 8 bytes (memcpy keeps the access within
 * the field's own type, whatever its declared name). */
static void store_uint(void *p, size_t width, uint64_t v)
{
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;
    switch (width) {
    case 1:
        memcpy(p, &u8, 1);
        break;
    case 2:
        memcpy(p, &u16, 2);
        break;
    case 4:
        memcpy(p, &u32, 4);
        break;
    default:
        memcpy(p, &v, 8);
        break;
    }
}

static uint64_t load_uint(const void *p, size_t width)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (width) {
    case 1:
        memcpy(&u8, p, 1);
        return u8;
    case 2:
        memcpy(&u16, p, 2);
        return u16;
    case 4:
        memcpy(&u32, p, 4);
        return u32;
    default:
        memcpy(&u64, p, 8);
        return u64;
    }
}

static void set_int_at(void *record, size_t at, int v)
{
    if (at)
        memcpy((char *)record + at - 1, &v, sizeof v);
}

static int get_int_at(const void *record, size_t at)
{
    int v = 0;
    if (at)
        memcpy(&v, (const char *)record + at - 1, sizeof v);
    return v;
}

static int key_is_set(const void *record, const cn_config_key_t *k)
{
    return !k->set_at || get_int_at(record, k->set_at);
}

static size_t *count_field(void *record, const cn_config_key_t *k)
{
    return (size_t *)((char *)record + k->count_offset);
}

static size_t ccount(const void *record, const cn_config_key_t *k)
{
    size_t n;
    memcpy(&n, (const char *)record + k->count_offset, sizeof n);
    return n;
}

/* The value of the table's discriminator in record, or -1 without one. */
static int discriminant(const cn_config_table_t *t, const void *record)
{
    if (!t->discriminator)
        return -1;
    for (size_t i = 0; i < t->n_keys; i++)
        if (strcmp(t->keys[i].key, t->discriminator) == 0)
            return (int)load_uint(cfield(record, &t->keys[i]), t->keys[i].width);
    return -1;
}

static int key_used(const cn_config_key_t *k, int disc)
{
    return !k->when || disc < 0 || disc >= 32 || (k->when & (1u << disc));
}

int cn_config_name_value(const cn_config_name_t *names, const char *s, int *out)
{
    for (const cn_config_name_t *n = names; s && n && n->name; n++) {
        if (strcmp(n->name, s) == 0) {
            *out = n->value;
            return 0;
        }
    }
    return CN_EINVAL;
}

const char *cn_config_name_of(const cn_config_name_t *names, int v)
{
    for (const cn_config_name_t *n = names; n && n->name; n++)
        if (n->value == v)
            return n->name;
    return NULL;
}

static const char *enum_name(const cn_config_key_t *k, int v)
{
    return cn_config_name_of(k->names, v);
}

/* ------------------------------------------------------------ strings */

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* RFC 9110 tchar: what a header or cookie name may hold. */
static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit((char)ch) ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Every string must be UTF-8: the effective config is written as YAML,
 * which holds nothing else, and must read back as itself. */
static int utf8_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t l = cn_text_utf8_len(s + i, n - i);
        if (!l)
            return 0;
        i += l;
    }
    return 1;
}

static int check_string(cn_config_kind_t kind, const char *s)
{
    size_t n = strlen(s);
    switch (kind) {
    case CN_CONFIG_ANY:
        return 0;
    case CN_CONFIG_HEADER:
    case CN_CONFIG_COOKIE:
        if (n > NAME_MAX_BYTES)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (!is_tchar((unsigned char)s[i]))
                return CN_EINVAL;
        return 0;
    case CN_CONFIG_LABEL:
        /* It is sent as a header value and quoted as a metric label, so
         * visible ASCII without quotes or backslashes keeps both simple. */
        if (n > LABEL_MAX)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
                return CN_EINVAL;
        return 0;
    case CN_CONFIG_URLPATH:
        if (s[0] != '/' || n > PATH_MAX_BYTES)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (s[i] <= 0x20 || s[i] >= 0x7f)
                return CN_EINVAL;
        return 0;
    case CN_CONFIG_FILE:
        if (n > PATH_MAX_BYTES)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return CN_EINVAL;
        return 0;
    }
    return CN_EINVAL;
}

static const char *kind_want(cn_config_kind_t kind)
{
    switch (kind) {
    case CN_CONFIG_ANY:
        return "a string";
    case CN_CONFIG_HEADER:
        return "an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, at most "
               "128)";
    case CN_CONFIG_COOKIE:
        return "a cookie name (letters, digits and !#$%&'*+-.^_`|~, at most 128)";
    case CN_CONFIG_LABEL:
        return "a label of 1 to 63 visible ASCII characters, no quotes or "
               "backslashes";
    case CN_CONFIG_URLPATH:
        return "a URL path starting with '/', without spaces";
    case CN_CONFIG_FILE:
        return "a file path without control characters";
    }
    return "a string";
}

/* ------------------------------------------------------------ numbers */

/* The shortest text that reads back as exactly d (util/fmt). */
static const char *double_text(double d, char *buf, size_t len)
{
    char t[CN_FMT_DOUBLE_BUF];
    snprintf(buf, len, "%s", cn_fmt_double(d, t, sizeof t));
    return buf;
}

/* "in (0, 1)", "> 0", ">= 0", or "" (any finite number). */
static const char *range_text(const cn_config_key_t *k, char *buf, size_t len)
{
    char a[40], b[40];
    int lo_open = (k->opts & CN_CONFIG_LO_OPEN) != 0;
    int hi_open = (k->opts & CN_CONFIG_HI_OPEN) != 0;
    if (isinf(k->dlo) && isinf(k->dhi))
        snprintf(buf, len, "%s", "");
    else if (isinf(k->dhi))
        snprintf(buf, len, "%s %s",
                 lo_open ? ">" : ">=", double_text(k->dlo, a, sizeof a));
    else if (isinf(k->dlo))
        snprintf(buf, len, "%s %s",
                 hi_open ? "<" : "<=", double_text(k->dhi, b, sizeof b));
    else
        snprintf(buf, len, "in %c%s, %s%c", lo_open ? '(' : '[',
                 double_text(k->dlo, a, sizeof a), double_text(k->dhi, b, sizeof b),
                 hi_open ? ')' : ']');
    return buf;
}

static int in_range(const cn_config_key_t *k, double v)
{
    if (!isfinite(v))
        return 0;
    if (v < k->dlo || ((k->opts & CN_CONFIG_LO_OPEN) && v == k->dlo))
        return 0;
    return !(v > k->dhi || ((k->opts & CN_CONFIG_HI_OPEN) && v == k->dhi));
}

static const char *names_text(const cn_config_key_t *k, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const cn_config_name_t *n = k->names; n && n->name; n++) {
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", n->name);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    return buf;
}

const char *cn_config_want(const cn_config_key_t *k, char *buf, size_t len)
{
    char a[CN_UNITS_TEXT_BUF], b[CN_UNITS_TEXT_BUF], r[96], n[WANT_BUF];
    if (k->want) {
        snprintf(buf, len, "%s", k->want);
        return buf;
    }
    switch (k->type) {
    case CN_CONFIG_STRING:
        snprintf(buf, len, "%s", kind_want(k->kind));
        break;
    case CN_CONFIG_ADDRESS:
        if (k->opts & CN_CONFIG_LISTEN)
            snprintf(buf, len,
                     "an address host:port, [ipv6]:port or :port with a port in "
                     "[0, 65535]");
        else
            snprintf(buf, len,
                     "an address host:port or [ipv6]:port with a port in [1, 65535]");
        break;
    case CN_CONFIG_ADDRESS_LIST:
        snprintf(buf, len,
                 "a list of addresses host:port or [ipv6]:port with a port in "
                 "[1, 65535]");
        break;
    case CN_CONFIG_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case CN_CONFIG_PERCENT:
        snprintf(buf, len, "a percentage in [0, 100] with at most 2 decimals");
        break;
    case CN_CONFIG_UNSIGNED:
        if (k->lo == 0 && k->hi == UINT64_MAX)
            snprintf(buf, len, "a non-negative integer");
        else if (k->hi >= INT_UNBOUNDED)
            snprintf(buf, len, "an integer >= %llu", (unsigned long long)k->lo);
        else
            snprintf(buf, len, "an integer in [%llu, %llu]", (unsigned long long)k->lo,
                     (unsigned long long)k->hi);
        break;
    case CN_CONFIG_SIZE:
        snprintf(buf, len, "a size in [%s, %s]", cn_units_size_text(k->lo, a, sizeof a),
                 cn_units_size_text(k->hi, b, sizeof b));
        break;
    case CN_CONFIG_DURATION:
        snprintf(buf, len, "a duration in [%s, %s]",
                 cn_units_duration_text(k->lo, a, sizeof a),
                 cn_units_duration_text(k->hi, b, sizeof b));
        break;
    case CN_CONFIG_DOUBLE:
        range_text(k, r, sizeof r);
        snprintf(buf, len, "a number%s%s", *r ? " " : "", r);
        break;
    case CN_CONFIG_DOUBLE_LIST:
        snprintf(buf, len, "a list of %llu to %llu finite numbers in ascending order",
                 (unsigned long long)k->lo, (unsigned long long)k->hi);
        break;
    case CN_CONFIG_ENUM:
        snprintf(buf, len, "one of %s", names_text(k, n, sizeof n));
        break;
    case CN_CONFIG_CUSTOM:
        snprintf(buf, len, "a value");
        break;
    case CN_CONFIG_RECORD:
    case CN_CONFIG_MAP:
        snprintf(buf, len, "a mapping");
        break;
    case CN_CONFIG_LIST:
    case CN_CONFIG_ONEOF_LIST:
        snprintf(buf, len, "a list");
        break;
    }
    return buf;
}

/* ------------------------------------------------------------- values */

/* A parsed value, before it is stored. */
typedef struct value_s {
    uint64_t u;            /* bool, percent, integers, sizes, ms, enum */
    double d;              /* DOUBLE */
    char *s;               /* strings, owned; NULL: unset */
    cn_config_strv_t list; /* owned */
    double *dv;            /* owned */
    size_t nd;
} value_t;

static void strv_dispose(cn_config_strv_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void value_dispose(value_t *v)
{
    free(v->s);
    strv_dispose(&v->list);
    free(v->dv);
    memset(v, 0, sizeof *v);
}

static int is_string_type(cn_config_type_t t)
{
    return t == CN_CONFIG_STRING || t == CN_CONFIG_ADDRESS;
}

/* Move *v into the field of k, freeing what the field held. */
static void store(void *record, const cn_config_key_t *k, value_t *v)
{
    void *p = field(record, k);
    switch (k->type) {
    case CN_CONFIG_STRING:
    case CN_CONFIG_ADDRESS: {
        char **sp = p;
        free(*sp);
        *sp = v->s;
        v->s = NULL;
        break;
    }
    case CN_CONFIG_ADDRESS_LIST: {
        cn_config_strv_t *l = p;
        strv_dispose(l);
        *l = v->list;
        memset(&v->list, 0, sizeof v->list);
        break;
    }
    case CN_CONFIG_DOUBLE_LIST: {
        double **dp = p;
        free(*dp);
        *dp = v->dv;
        *count_field(record, k) = v->nd;
        v->dv = NULL;
        v->nd = 0;
        break;
    }
    case CN_CONFIG_BOOL:
        if (k->width == sizeof(bool)) {
            bool b = v->u != 0;
            memcpy(p, &b, sizeof b);
        } else {
            store_uint(p, k->width, v->u != 0);
        }
        break;
    case CN_CONFIG_DOUBLE:
        memcpy(p, &v->d, sizeof v->d);
        break;
    case CN_CONFIG_ENUM:
    case CN_CONFIG_PERCENT:
    case CN_CONFIG_UNSIGNED:
    case CN_CONFIG_SIZE:
    case CN_CONFIG_DURATION:
        store_uint(p, k->width, v->u);
        break;
    case CN_CONFIG_CUSTOM:
    case CN_CONFIG_RECORD:
    case CN_CONFIG_LIST:
    case CN_CONFIG_ONEOF_LIST:
    case CN_CONFIG_MAP:
        break; /* written in place by their readers */
    }
    set_int_at(record, k->set_at, 1);
    value_dispose(v);
}

/* Write "must be WANT, got 'TEXT'" into what. */
static int bad_value(const cn_config_key_t *k, const char *text, char *what, size_t len)
{
    char want[WANT_BUF], q[QUOTE_BUF];
    return failf(what, len, "must be %s, got '%s'",
                 cn_config_want(k, want, sizeof want), quote(text, q));
}

/* One address of a list: check it, refuse a duplicate, append it. */
static int list_add_address(const cn_config_key_t *k, value_t *v, const char *text,
                            char *what, size_t len)
{
    size_t skip = 0;
    char q[QUOTE_BUF];
    /* With a check, a list of other strings (the router's segments) */
    const char *noun = k->check ? "value" : "address";
    if (k->check) {
        if (k->check(text, what, len))
            return CN_EINVAL;
    } else if (cn_units_check_address(text, (k->opts & CN_CONFIG_LISTEN) != 0, &skip))
        return failf(what, len,
                     "must be an address host:port or [ipv6]:port with a port in "
                     "[1, 65535], got '%s'",
                     quote(text, q));
    for (size_t i = 0; i < v->list.count; i++)
        if (strcmp(v->list.items[i], text + skip) == 0)
            return failf(what, len, "duplicate %s '%s'", noun, quote(text, q));
    if (v->list.count >= k->hi)
        return failf(what, len, "at most %llu %s, got more", (unsigned long long)k->hi,
                     k->check ? "values" : "addresses");
    v->list.items =
        cn_xrealloc(v->list.items, (v->list.count + 1) * sizeof *v->list.items);
    v->list.items[v->list.count++] = cn_xstrdup(text + skip);
    return 0;
}

/* One bound of a double list: a finite number above the previous one. */
static int list_add_double(const cn_config_key_t *k, value_t *v, const char *text,
                           char *what, size_t len)
{
    double x;
    char q[QUOTE_BUF];
    if (cn_text_to_double(text, &x))
        return failf(what, len, "must be a finite number, got '%s'", quote(text, q));
    if (v->nd > 0 && !(x > v->dv[v->nd - 1]))
        return failf(what, len, "bounds must be strictly ascending, got %g after %g", x,
                     v->dv[v->nd - 1]);
    if (v->nd >= k->hi)
        return failf(what, len, "at most %llu bounds, got more",
                     (unsigned long long)k->hi);
    v->dv = cn_xrealloc(v->dv, (v->nd + 1) * sizeof *v->dv);
    v->dv[v->nd++] = x;
    return 0;
}

static int list_add(const cn_config_key_t *k, value_t *v, const char *text, char *what,
                    size_t len)
{
    return k->type == CN_CONFIG_ADDRESS_LIST ? list_add_address(k, v, text, what, len)
                                             : list_add_double(k, v, text, what, len);
}

static int list_done(const cn_config_key_t *k, const value_t *v, char *what, size_t len)
{
    size_t n = k->type == CN_CONFIG_ADDRESS_LIST ? v->list.count : v->nd;
    char want[WANT_BUF];
    if (n < k->lo)
        return failf(what, len, "must be %s, got an empty list",
                     cn_config_want(k, want, sizeof want));
    return 0;
}

/*
 * Parse the text of a scalar key into *v, checking its syntax and bounds.
 * `is_null` says the text stands for YAML null (or an unset flag).
 * Returns 0, or CN_EINVAL with the reason in what. v is empty on entry
 * and, on error, on return.
 */
static int parse_text(const cn_config_key_t *k, const char *text, int is_null,
                      value_t *v, char *what, size_t len)
{
    char q[QUOTE_BUF], a[CN_UNITS_TEXT_BUF], b[CN_UNITS_TEXT_BUF], r[96];
    uint64_t u;
    uint16_t bp;
    switch (k->type) {
    case CN_CONFIG_STRING:
        if ((k->opts & CN_CONFIG_NULLABLE) && is_null)
            return 0; /* unset */
        if (!*text && (k->opts & CN_CONFIG_EMPTY_UNSETS))
            return 0;
        if (!*text)
            return failf(what, len, "must not be empty");
        if (!utf8_ok(text, strlen(text)))
            return failf(what, len, "must be UTF-8 text, got '%s'", quote(text, q));
        if (check_string(k->kind, text))
            return bad_value(k, text, what, len);
        if (k->check && k->check(text, what, len))
            return CN_EINVAL;
        v->s = cn_xstrdup(text);
        return 0;
    case CN_CONFIG_ADDRESS: {
        size_t skip = 0;
        if ((k->opts & CN_CONFIG_NULLABLE) && (is_null || !*text))
            return 0;
        if (cn_units_check_address(text, (k->opts & CN_CONFIG_LISTEN) != 0, &skip))
            return bad_value(k, text, what, len);
        v->s = cn_xstrdup(text + skip);
        return 0;
    }
    case CN_CONFIG_BOOL:
        if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "TRUE"))
            v->u = 1;
        else if (!strcmp(text, "false") || !strcmp(text, "False") ||
                 !strcmp(text, "FALSE"))
            v->u = 0;
        else
            return bad_value(k, text, what, len);
        return 0;
    case CN_CONFIG_ENUM: {
        int value;
        if (cn_config_name_value(k->names, text, &value))
            return bad_value(k, text, what, len);
        v->u = (uint64_t)value;
        return 0;
    }
    case CN_CONFIG_PERCENT:
        if (cn_units_parse_percent_bp(text, &bp))
            return bad_value(k, text, what, len);
        v->u = bp;
        return 0;
    case CN_CONFIG_UNSIGNED:
        if (cn_units_parse_uint(text, &u) || u < k->lo || u > k->hi)
            return bad_value(k, text, what, len);
        v->u = u;
        return 0;
    case CN_CONFIG_SIZE:
        if (cn_units_parse_size(text, &u))
            return failf(what, len, "must be a size like 16MiB, got '%s'",
                         quote(text, q));
        if (u < k->lo || u > k->hi)
            return failf(what, len, "must be a size in [%s, %s], got '%s'",
                         cn_units_size_text(k->lo, a, sizeof a),
                         cn_units_size_text(k->hi, b, sizeof b), quote(text, q));
        v->u = u;
        return 0;
    case CN_CONFIG_DURATION:
        if (cn_units_parse_duration_ms(text, &u))
            return failf(what, len,
                         "must be a duration like 250ms, 10s or 2m, got '%s'",
                         quote(text, q));
        if (u < k->lo || u > k->hi)
            return failf(what, len, "must be a duration in [%s, %s], got '%s'",
                         cn_units_duration_text(k->lo, a, sizeof a),
                         cn_units_duration_text(k->hi, b, sizeof b), quote(text, q));
        v->u = u;
        return 0;
    case CN_CONFIG_DOUBLE:
        if (cn_text_to_double(text, &v->d))
            return bad_value(k, text, what, len);
        if (!in_range(k, v->d))
            return failf(what, len, "must be %s, got '%s'", range_text(k, r, sizeof r),
                         quote(text, q));
        return 0;
    default:
        break;
    }
    char want[WANT_BUF];
    return failf(what, len, "must be %s", cn_config_want(k, want, sizeof want));
}

static int empty_item(const char *text, char *what, size_t len)
{
    char q[QUOTE_BUF];
    return failf(what, len, "must not have an empty item, got '%s'", quote(text, q));
}

/*
 * A list from comma-separated text (flags and defaults): "a:1,b:2" or
 * "0.1, 0.5, 1". Blanks around an item are dropped; "" is the empty list.
 */
static int parse_list_text(const cn_config_key_t *k, const char *text, value_t *v,
                           char *what, size_t len)
{
    const char *s = text;
    int rc = 0;
    while (*s && !rc) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *b = s, *e = s + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char *item = cn_xstrndup(b, (size_t)(e - b));
        rc = *item ? list_add(k, v, item, what, len) : empty_item(text, what, len);
        free(item);
        if (!comma)
            break;
        s = comma + 1;
        if (!*s && !rc)
            rc = empty_item(text, what, len);
    }
    if (!rc)
        rc = list_done(k, v, what, len);
    return rc;
}

/* Text into v for any key that has a text form (not records). */
static int parse_any_text(const cn_config_key_t *k, const char *text, int is_null,
                          value_t *v, char *what, size_t len)
{
    int rc;
    if (k->type == CN_CONFIG_ADDRESS_LIST || k->type == CN_CONFIG_DOUBLE_LIST)
        rc = parse_list_text(k, text, v, what, len);
    else
        rc = parse_text(k, text, is_null, v, what, len);
    if (rc)
        value_dispose(v);
    return rc;
}

static int has_text_form(const cn_config_key_t *k)
{
    return k->type != CN_CONFIG_RECORD && k->type != CN_CONFIG_LIST &&
           k->type != CN_CONFIG_ONEOF_LIST && k->type != CN_CONFIG_MAP;
}

/*
 * Set key k of record from text, all or nothing (a custom parser is
 * trusted to be so too).
 */
static int set_from_text(void *record, const cn_config_key_t *k, const char *text,
                         int is_null, char *what, size_t len)
{
    if (k->type == CN_CONFIG_CUSTOM) {
        int rc = k->custom->parse(k, text, record, what, len);
        if (!rc)
            set_int_at(record, k->set_at, 1);
        return rc;
    }
    value_t v = {0};
    int rc = parse_any_text(k, text, is_null, &v, what, len);
    if (!rc)
        store(record, k, &v);
    return rc;
}

/* ------------------------------------------------------ init, dispose */

void cn_config_init(const cn_config_table_t *t, void *record)
{
    memset(record, 0, t->size);
    for (size_t i = 0; i < t->n_keys; i++) {
        const cn_config_key_t *k = &t->keys[i];
        if (k->type == CN_CONFIG_RECORD) {
            cn_config_init(k->table, field(record, k));
            continue;
        }
        if (!k->default_text)
            continue; /* unset: zero, as memset left it */
        char what[WHAT_BUF];
        if (set_from_text(record, k, k->default_text, 0, what, sizeof what)) {
            /* A broken table is a bug in its module, not a user error. */
            fprintf(stderr, "canary: bad default for %s: %s\n", k->key, what);
            abort();
        }
        /* A default is not "given": set_at marks what the user wrote. */
        set_int_at(record, k->set_at, 0);
    }
}

/* Free the elements of a list, map or one-of list in record. */
static void items_dispose(const cn_config_key_t *k, void *record)
{
    void **pp = field(record, k);
    size_t n = *count_field(record, k);
    char *items = *pp;
    for (size_t i = 0; items && i < n; i++)
        cn_config_dispose(k->table, items + i * k->table->size);
    free(items);
    *pp = NULL;
    *count_field(record, k) = 0;
}

void cn_config_dispose(const cn_config_table_t *t, void *record)
{
    if (!t || !record)
        return;
    if (t->name_at) {
        char *name;
        memcpy(&name, (char *)record + t->name_at - 1, sizeof name);
        free(name);
    }
    for (size_t i = 0; i < t->n_keys; i++) {
        const cn_config_key_t *k = &t->keys[i];
        void *p = field(record, k);
        switch (k->type) {
        case CN_CONFIG_STRING:
        case CN_CONFIG_ADDRESS:
            free(*(char **)p);
            break;
        case CN_CONFIG_ADDRESS_LIST:
            strv_dispose(p);
            break;
        case CN_CONFIG_DOUBLE_LIST:
            free(*(double **)p);
            break;
        case CN_CONFIG_RECORD:
            cn_config_dispose(k->table, p);
            break;
        case CN_CONFIG_LIST:
        case CN_CONFIG_ONEOF_LIST:
        case CN_CONFIG_MAP:
            items_dispose(k, record);
            break;
        default:
            break;
        }
    }
    memset(record, 0, t->size);
}

/* -------------------------------------------------------------- lookup */

const cn_config_key_t *cn_config_find_key(const cn_config_table_t *t, const char *key)
{
    for (size_t i = 0; t && i < t->n_keys; i++)
        if (strcmp(t->keys[i].key, key) == 0)
            return &t->keys[i];
    return NULL;
}

const cn_config_key_t *cn_config_find_flag(const cn_config_table_t *t, const char *flag,
                                           bool *negated)
{
    for (size_t i = 0; t && flag && i < t->n_keys; i++) {
        const cn_config_key_t *k = &t->keys[i];
        *negated = k->negated_flag && strcmp(k->negated_flag, flag) == 0;
        if (*negated || (k->flag && strcmp(k->flag, flag) == 0))
            return k;
    }
    *negated = false;
    return NULL;
}

const char *cn_config_children(const cn_config_part_t *parts, size_t n_parts,
                               const char *prefix, char *buf, size_t len)
{
    size_t plen = strlen(prefix), used = 0;
    const char *last = NULL;
    size_t last_len = 0;
    buf[0] = '\0';
    for (size_t p = 0; p < n_parts; p++) {
        const cn_config_table_t *t = parts[p].table;
        for (size_t i = 0; i < t->n_keys; i++) {
            const char *key = t->keys[i].key;
            if (strncmp(key, prefix, plen) != 0)
                continue;
            const char *child = key + plen;
            size_t n = strcspn(child, ".");
            if (last && n == last_len && memcmp(child, last, n) == 0)
                continue;
            last = child;
            last_len = n;
            int w = snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)n,
                             child);
            if (w < 0 || (size_t)w >= len - used)
                return buf;
            used += (size_t)w;
        }
    }
    return buf;
}

bool cn_config_has_name(const cn_config_part_t *parts, size_t n_parts, const char *name)
{
    size_t n = strlen(name);
    for (size_t p = 0; p < n_parts; p++) {
        const cn_config_table_t *t = parts[p].table;
        for (size_t i = 0; i < t->n_keys; i++)
            if (strncmp(t->keys[i].key, name, n) == 0 &&
                (t->keys[i].key[n] == '\0' || t->keys[i].key[n] == '.'))
                return true;
    }
    return false;
}

/* -------------------------------------------------------------- format */

const char *cn_config_format(const cn_config_key_t *k, const void *record, char *buf,
                             size_t len)
{
    const void *p = cfield(record, k);
    buf[0] = '\0';
    switch (k->type) {
    case CN_CONFIG_STRING:
    case CN_CONFIG_ADDRESS: {
        const char *s = *(char *const *)p;
        snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    case CN_CONFIG_ADDRESS_LIST: {
        const cn_config_strv_t *l = p;
        size_t used = 0;
        for (size_t i = 0; i < l->count && l->items; i++) {
            int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                             l->items[i] ? l->items[i] : "");
            if (w < 0 || (size_t)w >= len - used)
                break;
            used += (size_t)w;
        }
        break;
    }
    case CN_CONFIG_DOUBLE_LIST: {
        const double *d = *(double *const *)p;
        size_t n = ccount(record, k), used = 0;
        char one[40];
        for (size_t i = 0; i < n && d; i++) {
            int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                             double_text(d[i], one, sizeof one));
            if (w < 0 || (size_t)w >= len - used)
                break;
            used += (size_t)w;
        }
        break;
    }
    case CN_CONFIG_BOOL:
        if (k->width == sizeof(bool)) {
            bool b;
            memcpy(&b, p, sizeof b);
            snprintf(buf, len, "%s", b ? "true" : "false");
        } else {
            snprintf(buf, len, "%s", load_uint(p, k->width) ? "true" : "false");
        }
        break;
    case CN_CONFIG_PERCENT:
        cn_units_percent_text((unsigned)load_uint(p, k->width), buf, len);
        break;
    case CN_CONFIG_UNSIGNED:
        snprintf(buf, len, "%llu", (unsigned long long)load_uint(p, k->width));
        break;
    case CN_CONFIG_SIZE:
        cn_units_size_text(load_uint(p, k->width), buf, len);
        break;
    case CN_CONFIG_DURATION:
        cn_units_duration_text(load_uint(p, k->width), buf, len);
        break;
    case CN_CONFIG_DOUBLE: {
        double d;
        memcpy(&d, p, sizeof d);
        double_text(d, buf, len);
        break;
    }
    case CN_CONFIG_ENUM: {
        int v = (int)load_uint(p, k->width);
        const char *name = enum_name(k, v);
        if (name)
            snprintf(buf, len, "%s", name);
        else
            snprintf(buf, len, "%d", v);
        break;
    }
    case CN_CONFIG_CUSTOM:
        k->custom->format(k, record, buf, len);
        break;
    default:
        break;
    }
    return buf;
}

/* Whether a string-valued key of record is unset (NULL). */
static int is_unset(const cn_config_key_t *k, const void *record)
{
    return is_string_type(k->type) && !*(char *const *)cfield(record, k);
}

/* --------------------------------------------------------------- check */

static int check_table(const cn_config_table_t *t, const void *record,
                       const char *prefix, cn_config_problem_t *pr);

/* prefix ("" or "metrics[2].") joined with path; an empty path names the
 * item itself ("metrics[2]"). */
static void join_path(char *buf, size_t len, const char *prefix, const char *path)
{
    snprintf(buf, len, "%s%s", prefix, path);
    size_t n = strlen(buf);
    if (!*path && n && buf[n - 1] == '.')
        buf[n - 1] = '\0';
}

static int problem(cn_config_problem_t *pr, const cn_config_key_t *k,
                   const char *prefix, const char *path, int line)
{
    pr->key = k;
    join_path(pr->path, sizeof pr->path, prefix, path);
    pr->line = line;
    return CN_EINVAL;
}

/* Check the elements of a list, one-of list or map. */
static int check_items(const cn_config_key_t *k, const void *record, const char *prefix,
                       cn_config_problem_t *pr)
{
    const char *items = *(char *const *)cfield(record, k);
    size_t n = ccount(record, k);
    if (n && !items) {
        failf(pr->what, sizeof pr->what, "%zu items but no array", n);
        return problem(pr, k, prefix, k->key, 0);
    }
    const cn_config_table_t *t = k->table;
    for (size_t i = 0; i < n; i++) {
        const char *item = items + i * t->size;
        char sub[PATH_BUF];
        if (k->type == CN_CONFIG_MAP) {
            const char *name;
            memcpy(&name, item + t->name_at - 1, sizeof name);
            char q[QUOTE_BUF];
            if (!name || !*name) {
                failf(pr->what, sizeof pr->what, "item %zu has no name", i);
                return problem(pr, k, prefix, k->key, 0);
            }
            snprintf(sub, sizeof sub, "%s%s.%s", prefix, k->key, quote(name, q));
            const cn_config_key_t *vk = &t->keys[0];
            char text[WHAT_BUF];
            value_t v = {0};
            cn_config_format(vk, item, text, sizeof text);
            if (parse_any_text(vk, text, 0, &v, pr->what, sizeof pr->what))
                return problem(pr, vk, sub, "", 0);
            value_dispose(&v);
            for (size_t j = 0; j < i; j++) {
                const char *other;
                memcpy(&other, items + j * t->size + t->name_at - 1, sizeof other);
                if (other && strcmp(other, name) == 0) {
                    failf(pr->what, sizeof pr->what, "duplicate name");
                    return problem(pr, vk, sub, "", 0);
                }
            }
            continue;
        }
        snprintf(sub, sizeof sub, "%s%s[%zu].", prefix, k->key, i);
        if (k->type == CN_CONFIG_ONEOF_LIST) {
            int tag = get_int_at(item, t->tag_at);
            const cn_config_key_t *chosen = NULL;
            for (size_t j = 0; j < t->n_keys && !chosen; j++)
                if (t->keys[j].tag == tag)
                    chosen = &t->keys[j];
            if (!chosen) {
                failf(pr->what, sizeof pr->what, "unknown item kind %d", tag);
                sub[strlen(sub) - 1] = '\0';
                return problem(pr, k, sub, "", 0);
            }
            cn_config_table_t one = *t;
            one.keys = chosen;
            one.n_keys = 1;
            one.check = NULL;
            if (check_table(&one, item, sub, pr))
                return CN_EINVAL;
            if (t->check) {
                int line = 0;
                if (t->check(item, pr->path, sizeof pr->path, &line, pr->what,
                             sizeof pr->what)) {
                    char rel[PATH_BUF];
                    snprintf(rel, sizeof rel, "%s", pr->path);
                    return problem(pr, NULL, sub, rel, line);
                }
            }
            continue;
        }
        if (check_table(t, item, sub, pr)) {
            if (!pr->line)
                pr->line = get_int_at(item, t->line_at);
            return CN_EINVAL;
        }
    }
    return 0;
}

static int check_key(const cn_config_table_t *t, const cn_config_key_t *k,
                     const void *record, const char *prefix, cn_config_problem_t *pr)
{
    char text[2048];
    value_t v = {0};
    int rc = 0;
    switch (k->type) {
    case CN_CONFIG_RECORD: {
        char sub[PATH_BUF];
        snprintf(sub, sizeof sub, "%s%s.", prefix, k->key);
        return check_table(k->table, cfield(record, k), sub, pr);
    }
    case CN_CONFIG_LIST:
    case CN_CONFIG_ONEOF_LIST:
    case CN_CONFIG_MAP:
        return check_items(k, record, prefix, pr);
    case CN_CONFIG_STRING:
    case CN_CONFIG_ADDRESS:
        if (is_unset(k, record)) {
            /* Unset is fine for a key that may be unset: nullable, or
             * optional (no default). A key with a default was cleared. */
            if (k->opts & CN_CONFIG_REQUIRED)
                rc = failf(pr->what, sizeof pr->what, "required: %s", k->help);
            else if (!(k->opts & CN_CONFIG_NULLABLE) && k->default_text)
                rc = failf(pr->what, sizeof pr->what, "must be set");
            break;
        }
        cn_config_format(k, record, text, sizeof text);
        rc = parse_any_text(k, text, 0, &v, pr->what, sizeof pr->what);
        break;
    case CN_CONFIG_ADDRESS_LIST: {
        const cn_config_strv_t *l = cfield(record, k);
        if (l->count && !l->items) {
            rc = failf(pr->what, sizeof pr->what, "%zu addresses but no items",
                       l->count);
            break;
        }
        for (size_t i = 0; i < l->count && !rc; i++)
            rc = l->items[i]
                     ? list_add(k, &v, l->items[i], pr->what, sizeof pr->what)
                     : failf(pr->what, sizeof pr->what, "address %zu is NULL", i);
        if (!rc)
            rc = list_done(k, &v, pr->what, sizeof pr->what);
        break;
    }
    case CN_CONFIG_DOUBLE_LIST: {
        const double *d = *(double *const *)cfield(record, k);
        size_t n = ccount(record, k);
        char one[40];
        if (n && !d) {
            rc = failf(pr->what, sizeof pr->what, "%zu bounds but no array", n);
            break;
        }
        for (size_t i = 0; i < n && !rc; i++)
            rc = isfinite(d[i]) ? list_add(k, &v, double_text(d[i], one, sizeof one),
                                           pr->what, sizeof pr->what)
                                : failf(pr->what, sizeof pr->what,
                                        "bounds must be finite, got %g", d[i]);
        if (!rc)
            rc = list_done(k, &v, pr->what, sizeof pr->what);
        break;
    }
    case CN_CONFIG_CUSTOM: {
        /* Parse into a shallow scratch copy: a custom parser writes plain
         * fields only (config.h), so the copy needs no dispose. */
        cn_config_format(k, record, text, sizeof text);
        void *scratch = cn_xmalloc(t->size);
        memcpy(scratch, record, t->size);
        rc = k->custom->parse(k, text, scratch, pr->what, sizeof pr->what);
        free(scratch);
        break;
    }
    case CN_CONFIG_ENUM:
        if (!enum_name(k, (int)load_uint(cfield(record, k), k->width))) {
            char want[WANT_BUF];
            rc = failf(pr->what, sizeof pr->what, "must be %s, got %d",
                       cn_config_want(k, want, sizeof want),
                       (int)load_uint(cfield(record, k), k->width));
            break;
        }
        return 0;
    default:
        cn_config_format(k, record, text, sizeof text);
        rc = parse_any_text(k, text, 0, &v, pr->what, sizeof pr->what);
        break;
    }
    value_dispose(&v);
    return rc ? problem(pr, k, prefix, k->key, 0) : 0;
}

static int check_table(const cn_config_table_t *t, const void *record,
                       const char *prefix, cn_config_problem_t *pr)
{
    int disc = discriminant(t, record);
    for (size_t i = 0; i < t->n_keys; i++) {
        const cn_config_key_t *k = &t->keys[i];
        if (!key_used(k, disc) || !key_is_set(record, k))
            continue;
        if ((k->opts & CN_CONFIG_ZERO_UNSETS) &&
            !load_uint(cfield(record, k), k->width))
            continue;
        if (check_key(t, k, record, prefix, pr)) {
            if (!pr->line)
                pr->line = get_int_at(record, t->line_at);
            return CN_EINVAL;
        }
    }
    if (t->check) {
        int line = 0;
        char rel[PATH_BUF];
        if (t->check(record, rel, sizeof rel, &line, pr->what, sizeof pr->what))
            return problem(pr, NULL, prefix, rel,
                           line ? line : get_int_at(record, t->line_at));
    }
    return 0;
}

int cn_config_check(const cn_config_table_t *t, const void *record,
                    cn_config_problem_t *p)
{
    memset(p, 0, sizeof *p);
    return check_table(t, record, "", p);
}

/* ------------------------------------------------------------- flags */

int cn_config_set_flag(const cn_config_part_t *parts, size_t n_parts, const char *name,
                       const char *value, char *err, size_t errlen)
{
    char q[QUOTE_BUF], what[WHAT_BUF];
    if (err && errlen)
        err[0] = '\0';
    bool negated = false;
    const cn_config_key_t *k = NULL;
    void *record = NULL;
    for (size_t p = 0; p < n_parts && !k; p++) {
        k = cn_config_find_flag(parts[p].table, name, &negated);
        record = parts[p].record;
    }
    if (!k || !has_text_form(k)) {
        if (err && errlen)
            snprintf(err, errlen, "--%s: unknown option", quote(name ? name : "", q));
        return CN_ENOTFOUND;
    }
    const char *flag = negated ? k->negated_flag : k->flag;
    int rc;
    if (!value && k->type != CN_CONFIG_BOOL) {
        rc = failf(what, sizeof what, "needs a value");
    } else if (k->type == CN_CONFIG_BOOL) {
        value_t v = {0};
        rc = value ? parse_text(k, value, 0, &v, what, sizeof what) : (v.u = 1, 0);
        if (!rc) {
            if (negated)
                v.u = !v.u;
            store(record, k, &v);
        }
    } else {
        /* "" unsets a key that may be unset, as ~ does in YAML. */
        int is_null = !*value && (k->opts & CN_CONFIG_NULLABLE);
        rc = set_from_text(record, k, value, is_null, what, sizeof what);
    }
    if (rc && err && errlen)
        snprintf(err, errlen, "--%s: %s", flag, what);
    return rc;
}

/* -------------------------------------------------------------- YAML */

/* Where keys and sections of the mapping being read were seen, so that a
 * cross-field check can be reported at the line of the key it blames. */
typedef struct seen_s {
    const char *name; /* a key of a table, or its prefix (a section) */
    size_t len;
    int line;
} seen_t;

#define SEEN_MAX 128

typedef struct walk_s {
    cn_yaml_t *y;
    const cn_config_part_t *parts;
    size_t n_parts;
    const char *path; /* prefix of paths in messages: "" or "metrics[2]." */
    int line;         /* the mapping's line */
    uint64_t given[CN_CONFIG_PARTS_MAX];
    seen_t seen[SEEN_MAX];
    size_t n_seen;
} walk_t;

static void saw(walk_t *w, const char *name, size_t len, int line)
{
    if (w->n_seen < SEEN_MAX)
        w->seen[w->n_seen++] = (seen_t){name, len, line};
}

static int seen_line(const walk_t *w, const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < w->n_seen; i++)
        if (w->seen[i].len == n && memcmp(w->seen[i].name, path, n) == 0)
            return w->seen[i].line;
    return w->line;
}

static int read_value(cn_yaml_t *y, const cn_config_key_t *k, void *record,
                      struct fy_node *n, int line, const char *path);
static int read_table(cn_yaml_t *y, const cn_config_table_t *t, void *record,
                      struct fy_node *n, int line, const char *path);

/* Keys whose values must be plain YAML (a quoted "3" is not an integer). */
static int wants_plain(const cn_config_key_t *k)
{
    return k->type == CN_CONFIG_UNSIGNED || k->type == CN_CONFIG_BOOL ||
           k->type == CN_CONFIG_DOUBLE || k->type == CN_CONFIG_DOUBLE_LIST ||
           (k->type == CN_CONFIG_CUSTOM && k->custom->numeric);
}

/* A list of scalars: a YAML sequence, each item checked with its line. */
static int read_scalar_list(cn_yaml_t *y, const cn_config_key_t *k, void *record,
                            struct fy_node *n, int line, const char *path)
{
    char want[WANT_BUF], d[CN_YAML_DESCRIBE_BUF], what[WHAT_BUF], ipath[PATH_BUF];
    char q[QUOTE_BUF];
    int rc = 0;
    line = cn_yaml_node_line(n, line);
    n = cn_yaml_deref(y, n, line, path, &rc);
    if (rc)
        return rc;
    if (!cn_yaml_is_null(n) && !fy_node_is_sequence(n))
        return cn_yaml_report(y, CN_EINVAL, line, path, "must be %s, got %s",
                              cn_config_want(k, want, sizeof want),
                              cn_yaml_describe(y, n, d));
    value_t v = {0};
    void *it = NULL;
    struct fy_node *item;
    size_t idx = 0;
    const char *iwant = k->type != CN_CONFIG_ADDRESS_LIST ? "a finite number"
                        : k->check                        ? "a string"
                                                          : "an address host:port";
    while (!rc && !cn_yaml_is_null(n) && (item = fy_node_sequence_iterate(n, &it))) {
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, idx++);
        cn_yaml_scalar_t s;
        if ((rc = cn_yaml_get_scalar(y, item, line, ipath, iwant, 0, &s)))
            break;
        if (wants_plain(k) && s.is_string)
            rc = cn_yaml_report(y, CN_EINVAL, s.line, ipath,
                                "must be %s, got the string '%s'", iwant,
                                quote(s.text, q));
        else if (list_add(k, &v, s.text, what, sizeof what))
            rc = cn_yaml_report(y, CN_EINVAL, s.line, ipath, "%s", what);
        free(s.text);
    }
    if (!rc && list_done(k, &v, what, sizeof what))
        rc = cn_yaml_report(y, CN_EINVAL, line, path, "%s", what);
    if (rc) {
        value_dispose(&v);
        return rc;
    }
    store(record, k, &v);
    return 0;
}

static int read_scalar(cn_yaml_t *y, const cn_config_key_t *k, void *record,
                       struct fy_node *n, int line, const char *path)
{
    char want[WANT_BUF], what[WHAT_BUF], q[QUOTE_BUF];
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(y, n, line, path, cn_config_want(k, want, sizeof want),
                                (k->opts & CN_CONFIG_NULLABLE) != 0, &s);
    if (rc)
        return rc;
    int is_null = !s.is_string && !*s.text;
    if (wants_plain(k) && s.is_string)
        rc = cn_yaml_report(y, CN_EINVAL, s.line, path,
                            "must be %s, got the string '%s'", want, quote(s.text, q));
    else if (set_from_text(record, k, s.text, is_null, what, sizeof what))
        rc = cn_yaml_report(y, CN_EINVAL, s.line, path, "%s", what);
    free(s.text);
    return rc;
}

/* Grow an array of items by one element, initialised by the table. */
static char *items_push(const cn_config_table_t *t, char **items, size_t *n)
{
    *items = cn_xrealloc(*items, (*n + 1) * t->size);
    char *item = *items + *n * t->size;
    cn_config_init(t, item);
    (*n)++;
    return item;
}

static void items_free(const cn_config_table_t *t, char *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cn_config_dispose(t, items + i * t->size);
    free(items);
}

/* Replace the elements of list key k in record by items[0..n). */
static void items_store(const cn_config_key_t *k, void *record, char *items, size_t n)
{
    items_dispose(k, record);
    memcpy(field(record, k), &items, sizeof items);
    *count_field(record, k) = n;
    set_int_at(record, k->set_at, 1);
}

/* The one key of a one-of item. */
static int read_oneof_item(cn_yaml_t *y, const cn_config_key_t *k, struct fy_node *n,
                           int line, const char *path, void *item)
{
    const cn_config_table_t *t = k->table;
    char d[CN_YAML_DESCRIBE_BUF], expected[WANT_BUF * 2], q[QUOTE_BUF], sub[PATH_BUF];
    cn_config_part_t part = {t, item};
    cn_config_children(&part, 1, "", expected, sizeof expected);
    if (!n || !fy_node_is_mapping(n) || fy_node_mapping_item_count(n) != 1)
        return cn_yaml_report(
            y, CN_EINVAL, cn_yaml_node_line(n, line), path,
            "must be a mapping of exactly one of %s, got %s", expected,
            n && fy_node_is_mapping(n) && fy_node_mapping_item_count(n) > 1
                ? "several keys"
                : cn_yaml_describe(y, n, d));
    void *it = NULL;
    struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
    const char *key;
    size_t klen;
    int kline;
    int rc = cn_yaml_get_key(y, p, line, path, &key, &klen, &kline);
    if (rc)
        return rc;
    const cn_config_key_t *chosen = NULL;
    for (size_t i = 0; i < t->n_keys && !chosen; i++)
        if (cn_yaml_key_is(key, klen, t->keys[i].key))
            chosen = &t->keys[i];
    cn_text_quote(key, klen, QUOTE_MAX, q);
    snprintf(sub, sizeof sub, "%s.%s", path, q);
    if (!chosen)
        return cn_yaml_report(y, CN_EINVAL, kline, sub,
                              "unknown key (expected one of %s)", expected);
    set_int_at(item, t->tag_at, chosen->tag);
    set_int_at(item, t->line_at, kline);
    if ((rc = read_value(y, chosen, item, fy_node_pair_value(p), kline, sub)))
        return rc;
    if (t->check) {
        char rel[PATH_BUF], what[WHAT_BUF];
        int cline = 0;
        if (t->check(item, rel, sizeof rel, &cline, what, sizeof what)) {
            snprintf(sub, sizeof sub, "%s.%s", path, rel);
            return cn_yaml_report(y, CN_EINVAL, cline ? cline : kline, sub, "%s", what);
        }
    }
    return 0;
}

/* A list of records or of one-of items. */
static int read_items(cn_yaml_t *y, const cn_config_key_t *k, void *record,
                      struct fy_node *n, int line, const char *path)
{
    char want[WANT_BUF], d[CN_YAML_DESCRIBE_BUF], ipath[PATH_BUF];
    int rc = 0;
    line = cn_yaml_node_line(n, line);
    n = cn_yaml_deref(y, n, line, path, &rc);
    if (rc)
        return rc;
    if (!cn_yaml_is_null(n) && !fy_node_is_sequence(n))
        return cn_yaml_report(y, CN_EINVAL, line, path, "must be %s, got %s",
                              cn_config_want(k, want, sizeof want),
                              cn_yaml_describe(y, n, d));
    char *items = NULL;
    size_t count = 0;
    void *it = NULL;
    struct fy_node *in;
    while (!rc && !cn_yaml_is_null(n) && (in = fy_node_sequence_iterate(n, &it))) {
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, count);
        if (count >= ITEMS_MAX) {
            rc = cn_yaml_report(y, CN_EINVAL, line, path, "at most %d items, got more",
                                ITEMS_MAX);
            break;
        }
        int iline = cn_yaml_node_line(in, line);
        struct fy_node *item_node = cn_yaml_deref(y, in, iline, ipath, &rc);
        if (rc)
            break;
        char *item = items_push(k->table, &items, &count);
        if (k->type == CN_CONFIG_ONEOF_LIST)
            rc = read_oneof_item(y, k, item_node, iline, ipath, item);
        else
            rc = read_table(y, k->table, item, item_node, iline, ipath);
    }
    if (!rc && count < k->lo)
        rc = cn_yaml_report(y, CN_EINVAL, line, path, "at least %llu %s required",
                            (unsigned long long)k->lo,
                            k->lo == 1 ? "item is" : "items are");
    if (rc) {
        items_free(k->table, items, count);
        return rc;
    }
    items_store(k, record, items, count);
    return 0;
}

/* A mapping of free names to values of one type. */
static int read_map(cn_yaml_t *y, const cn_config_key_t *k, void *record,
                    struct fy_node *n, int line, const char *path)
{
    char want[WANT_BUF], d[CN_YAML_DESCRIBE_BUF], q[QUOTE_BUF], sub[PATH_BUF];
    int rc = 0;
    const cn_config_table_t *t = k->table;
    n = cn_yaml_deref(y, n, line, path, &rc);
    if (rc)
        return rc;
    if (!n || !fy_node_is_mapping(n))
        return cn_yaml_report(
            y, CN_EINVAL, cn_yaml_node_line(n, line), path, "must be %s, got %s",
            cn_config_want(k, want, sizeof want), cn_yaml_describe(y, n, d));
    char *items = NULL;
    size_t count = 0;
    void *it = NULL;
    struct fy_node_pair *p;
    while (!rc && (p = fy_node_mapping_iterate(n, &it))) {
        const char *key;
        size_t klen;
        int kline;
        if ((rc = cn_yaml_get_key(y, p, line, path, &key, &klen, &kline)))
            break;
        snprintf(sub, sizeof sub, "%s.%s", path,
                 cn_text_quote(key, klen, QUOTE_MAX, q));
        if (klen == 0 || memchr(key, '\0', klen)) {
            rc = cn_yaml_report(y, CN_EINVAL, kline, sub,
                                "a name must be a non-empty string");
            break;
        }
        if (count >= ITEMS_MAX) {
            rc = cn_yaml_report(y, CN_EINVAL, kline, path, "at most %d names, got more",
                                ITEMS_MAX);
            break;
        }
        char *item = items_push(t, &items, &count);
        char *name = cn_xstrndup(key, klen);
        memcpy(item + t->name_at - 1, &name, sizeof name);
        set_int_at(item, t->line_at, kline);
        rc = read_value(y, &t->keys[0], item, fy_node_pair_value(p), kline, sub);
    }
    if (rc) {
        items_free(t, items, count);
        return rc;
    }
    items_store(k, record, items, count);
    return 0;
}

static int read_value(cn_yaml_t *y, const cn_config_key_t *k, void *record,
                      struct fy_node *n, int line, const char *path)
{
    switch (k->type) {
    case CN_CONFIG_ADDRESS_LIST:
    case CN_CONFIG_DOUBLE_LIST:
        return read_scalar_list(y, k, record, n, line, path);
    case CN_CONFIG_RECORD: {
        int rc = read_table(y, k->table, field(record, k), n, line, path);
        if (!rc)
            set_int_at(record, k->set_at, 1);
        return rc;
    }
    case CN_CONFIG_LIST:
    case CN_CONFIG_ONEOF_LIST:
        return read_items(y, k, record, n, line, path);
    case CN_CONFIG_MAP:
        return read_map(y, k, record, n, line, path);
    default:
        return read_scalar(y, k, record, n, line, path);
    }
}

/* The key named prefix + key[0..klen) among the parts. */
static const cn_config_key_t *find_in_parts(const cn_config_part_t *parts,
                                            size_t n_parts, const char *full,
                                            size_t *part, size_t *index)
{
    for (size_t p = 0; p < n_parts; p++) {
        const cn_config_table_t *t = parts[p].table;
        for (size_t i = 0; i < t->n_keys; i++) {
            if (strcmp(t->keys[i].key, full) == 0) {
                *part = p;
                *index = i;
                return &t->keys[i];
            }
        }
    }
    return NULL;
}

/* The keys of mapping `map` at section `section` ("" or "traffic."). */
static int walk_mapping(walk_t *w, struct fy_node *map, int line, const char *section,
                        int disc, const char *skip_key)
{
    cn_yaml_t *y = w->y;
    void *it = NULL;
    struct fy_node_pair *p;
    char expected[WANT_BUF * 2], d[CN_YAML_DESCRIBE_BUF], q[QUOTE_BUF];
    char full[PATH_BUF], path[PATH_BUF * 2], parent[PATH_BUF * 2];
    snprintf(parent, sizeof parent, "%s%s", w->path, section);
    if (*parent && parent[strlen(parent) - 1] == '.')
        parent[strlen(parent) - 1] = '\0';
    while ((p = fy_node_mapping_iterate(map, &it))) {
        const char *key;
        size_t klen;
        int kline;
        int rc = cn_yaml_get_key(y, p, line, parent, &key, &klen, &kline);
        if (rc)
            return rc;
        cn_text_quote(key, klen, QUOTE_MAX, q);
        snprintf(full, sizeof full, "%s%s", section, q);
        snprintf(path, sizeof path, "%s%s", w->path, full);
        /* A key is one name: "traffic.mode" at the top is not traffic's
         * mode, and a quoted excerpt (cut or with '?') matches nothing. */
        int exact =
            klen == strlen(q) && memcmp(key, q, klen) == 0 && !memchr(key, '.', klen);
        size_t part = 0, index = 0;
        const cn_config_key_t *k =
            exact ? find_in_parts(w->parts, w->n_parts, full, &part, &index) : NULL;
        struct fy_node *v = fy_node_pair_value(p);
        if (k) {
            if (skip_key && k->key == skip_key)
                continue;
            if (!key_used(k, disc)) {
                const cn_config_table_t *t = w->parts[part].table;
                const cn_config_key_t *dk = cn_config_find_key(t, t->discriminator);
                char only[WANT_BUF];
                size_t used = 0;
                only[0] = '\0';
                for (const cn_config_name_t *nm = dk->names; nm && nm->name; nm++) {
                    if (!(k->when & (1u << nm->value)))
                        continue;
                    int wr = snprintf(only + used, sizeof only - used, "%s%s",
                                      used ? ", " : "", nm->name);
                    if (wr < 0 || (size_t)wr >= sizeof only - used)
                        break;
                    used += (size_t)wr;
                }
                return cn_yaml_report(y, CN_EINVAL, kline, path,
                                      "not used by %s '%s' (only by %s)", dk->key,
                                      enum_name(dk, disc), only);
            }
            w->given[part] |= (uint64_t)1 << index;
            saw(w, k->key, strlen(k->key), kline);
            rc = read_value(y, k, w->parts[part].record, v, kline, path);
        } else if (exact && cn_config_has_name(w->parts, w->n_parts, full)) {
            char sub[PATH_BUF + 1];
            snprintf(sub, sizeof sub, "%s.", full);
            v = cn_yaml_deref(y, v, kline, path, &rc);
            if (rc)
                return rc;
            if (!v || !fy_node_is_mapping(v))
                return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(v, kline), path,
                                      "must be a mapping of keys (%s), got %s",
                                      cn_config_children(w->parts, w->n_parts, sub,
                                                         expected, sizeof expected),
                                      cn_yaml_describe(y, v, d));
            /* The section's name, as a prefix of its first key (names stay
             * valid: they point into the tables). */
            for (size_t pp = 0; pp < w->n_parts; pp++) {
                const cn_config_table_t *t = w->parts[pp].table;
                for (size_t i = 0; i < t->n_keys; i++)
                    if (strncmp(t->keys[i].key, sub, strlen(sub)) == 0) {
                        saw(w, t->keys[i].key, strlen(full), kline);
                        pp = w->n_parts - 1;
                        break;
                    }
            }
            rc = walk_mapping(w, v, kline, sub, disc, skip_key);
        } else {
            rc = cn_yaml_report(y, CN_EINVAL, kline, path,
                                "unknown key (expected one of %s)",
                                cn_config_children(w->parts, w->n_parts, section,
                                                   expected, sizeof expected));
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* After a walk: required keys and the tables' cross-field checks. */
static int finish_walk(walk_t *w)
{
    cn_yaml_t *y = w->y;
    char path[PATH_BUF * 2], what[WHAT_BUF], rel[PATH_BUF], want[WANT_BUF];
    for (size_t p = 0; p < w->n_parts; p++) {
        const cn_config_table_t *t = w->parts[p].table;
        int disc = discriminant(t, w->parts[p].record);
        for (size_t i = 0; i < t->n_keys; i++) {
            const cn_config_key_t *k = &t->keys[i];
            if (!(k->opts & CN_CONFIG_REQUIRED) || (w->given[p] & ((uint64_t)1 << i)) ||
                !key_used(k, disc))
                continue;
            snprintf(path, sizeof path, "%s%s", w->path, k->key);
            if (k->type == CN_CONFIG_ENUM)
                return cn_yaml_report(y, CN_EINVAL, w->line, path, "required: %s",
                                      cn_config_want(k, want, sizeof want));
            return cn_yaml_report(y, CN_EINVAL, w->line, path, "required: %s", k->help);
        }
    }
    for (size_t p = 0; p < w->n_parts; p++) {
        const cn_config_table_t *t = w->parts[p].table;
        int line = 0;
        if (t->check &&
            t->check(w->parts[p].record, rel, sizeof rel, &line, what, sizeof what)) {
            join_path(path, sizeof path, w->path, rel);
            return cn_yaml_report(y, CN_EINVAL, line ? line : seen_line(w, rel), path,
                                  "%s", what);
        }
    }
    return 0;
}

/* Read a mapping with one table into record (a record or a list item). */
static int read_table(cn_yaml_t *y, const cn_config_table_t *t, void *record,
                      struct fy_node *n, int line, const char *path)
{
    char d[CN_YAML_DESCRIBE_BUF], expected[WANT_BUF * 2], sub[PATH_BUF + 1];
    int rc = 0;
    line = cn_yaml_node_line(n, line);
    n = cn_yaml_deref(y, n, line, path, &rc);
    if (rc)
        return rc;
    cn_config_part_t part = {t, record};
    if (!n || !fy_node_is_mapping(n)) {
        if (t->item_want)
            return cn_yaml_report(y, CN_EINVAL, line, path, "must be %s, got %s",
                                  t->item_want, cn_yaml_describe(y, n, d));
        return cn_yaml_report(
            y, CN_EINVAL, line, path, "must be a mapping of keys (%s), got %s",
            cn_config_children(&part, 1, "", expected, sizeof expected),
            cn_yaml_describe(y, n, d));
    }
    set_int_at(record, t->line_at, line);
    snprintf(sub, sizeof sub, "%s.", path);
    walk_t w = {.y = y, .parts = &part, .n_parts = 1, .path = sub, .line = line};
    int disc = -1;
    const char *skip = NULL;
    if (t->discriminator) {
        /* The discriminator first, wherever it is: it decides which other
         * keys are allowed. */
        size_t di = 0;
        const cn_config_key_t *dk = NULL;
        for (size_t i = 0; i < t->n_keys && !dk; i++)
            if (strcmp(t->keys[i].key, t->discriminator) == 0)
                dk = &t->keys[(di = i)];
        void *it = NULL;
        struct fy_node_pair *p;
        while (dk && (p = fy_node_mapping_iterate(n, &it))) {
            const char *key;
            size_t klen;
            int kline;
            if ((rc = cn_yaml_get_key(y, p, line, path, &key, &klen, &kline)))
                return rc;
            if (!cn_yaml_key_is(key, klen, dk->key))
                continue;
            char dpath[PATH_BUF * 2];
            snprintf(dpath, sizeof dpath, "%s%s", sub, dk->key);
            if ((rc = read_value(y, dk, record, fy_node_pair_value(p), kline, dpath)))
                return rc;
            w.given[0] |= (uint64_t)1 << di;
            saw(&w, dk->key, strlen(dk->key), kline);
            break;
        }
        if (dk && !(w.given[0] & ((uint64_t)1 << di)) &&
            (dk->opts & CN_CONFIG_REQUIRED)) {
            char dpath[PATH_BUF * 2], want[WANT_BUF];
            snprintf(dpath, sizeof dpath, "%s%s", sub, dk->key);
            return cn_yaml_report(y, CN_EINVAL, line, dpath, "required: %s",
                                  cn_config_want(dk, want, sizeof want));
        }
        disc = discriminant(t, record);
        skip = dk ? dk->key : NULL;
    }
    if ((rc = walk_mapping(&w, n, line, "", disc, skip)))
        return rc;
    return finish_walk(&w);
}

int cn_config_read(cn_yaml_t *y, const cn_config_part_t *parts, size_t n_parts,
                   struct fy_node *map, int line)
{
    if (n_parts > CN_CONFIG_PARTS_MAX)
        return cn_yaml_report(y, CN_EINVAL, line, NULL, "too many config tables");
    walk_t w = {.y = y, .parts = parts, .n_parts = n_parts, .path = "", .line = line};
    int rc = walk_mapping(&w, map, line, "", -1, NULL);
    return rc ? rc : finish_walk(&w);
}

/* -------------------------------------------------------------- emit */

typedef struct emit_s {
    FILE *out;
    cn_config_style_t style;
    int depth;     /* YAML: indentation level */
    int first[32]; /* JSON: no member written yet at this depth */
    int dash;      /* YAML: the next key opens a list item */
} emit_t;

static void indent(emit_t *e)
{
    for (int i = 0; i < e->depth; i++)
        fputs("  ", e->out);
}

/* Write s as a JSON string (also a YAML double-quoted scalar). Bytes that
 * are not UTF-8 become U+FFFD; control characters, C1 controls and the
 * byte order mark are escaped, since YAML does not take them raw. */
static void put_string(FILE *out, const char *s)
{
    size_t n = strlen(s);
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = cn_text_utf8_len(s + i, n - i);
        if (l == 0) {
            fputs("\\ufffd", out);
            i++;
            continue;
        }
        unsigned cp = c;
        if (l == 2)
            cp = ((c & 0x1fu) << 6) | ((unsigned char)s[i + 1] & 0x3fu);
        else if (l == 3)
            cp = ((c & 0x0fu) << 12) | (((unsigned char)s[i + 1] & 0x3fu) << 6) |
                 ((unsigned char)s[i + 2] & 0x3fu);
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0xfeff ||
                 cp == 0xfffe || cp == 0xffff)
            fprintf(out, "\\u%04x", cp);
        else
            fwrite(s + i, 1, l, out);
        i += l;
    }
    fputc('"', out);
}

/* Open a member named `name` (NULL: a list element). */
static void member(emit_t *e, const char *name)
{
    if (e->style == CN_CONFIG_JSON) {
        if (!e->first[e->depth])
            fputc(',', e->out);
        e->first[e->depth] = 0;
        if (name) {
            put_string(e->out, name);
            fputc(':', e->out);
        }
        return;
    }
    if (e->dash) {
        indent(e);
        fputs("- ", e->out);
        e->dash = 0;
        e->depth++; /* the item's other keys line up after "- " */
        fprintf(e->out, "%s:", name);
        return;
    }
    indent(e);
    if (name)
        fprintf(e->out, "%s:", name);
}

static void open_map(emit_t *e, const char *name)
{
    member(e, name);
    if (e->style == CN_CONFIG_JSON)
        fputc('{', e->out);
    else
        fputc('\n', e->out);
    e->depth++;
    e->first[e->depth] = 1;
}

static void close_map(emit_t *e)
{
    e->depth--;
    if (e->style == CN_CONFIG_JSON)
        fputc('}', e->out);
}

static void scalar(emit_t *e, const char *name, const char *text, int raw)
{
    member(e, name);
    if (e->style == CN_CONFIG_YAML)
        fputc(' ', e->out);
    if (raw)
        fputs(text, e->out);
    else
        put_string(e->out, text);
    if (e->style == CN_CONFIG_YAML)
        fputc('\n', e->out);
}

static void emit_table(emit_t *e, const cn_config_table_t *t, const void *record,
                       const char *only_key);

/* A list of scalar texts in flow style (the same in JSON and YAML). */
static void flow_list(emit_t *e, const char *name, const cn_config_key_t *k,
                      const void *record)
{
    member(e, name);
    if (e->style == CN_CONFIG_YAML)
        fputc(' ', e->out);
    fputc('[', e->out);
    if (k->type == CN_CONFIG_ADDRESS_LIST) {
        const cn_config_strv_t *l = cfield(record, k);
        for (size_t i = 0; i < l->count; i++) {
            fputs(i ? ", " : "", e->out);
            put_string(e->out, l->items[i] ? l->items[i] : "");
        }
    } else {
        const double *d = *(double *const *)cfield(record, k);
        char one[40];
        for (size_t i = 0; i < ccount(record, k) && d; i++)
            fprintf(e->out, "%s%s", i ? ", " : "", double_text(d[i], one, sizeof one));
    }
    fputc(']', e->out);
    if (e->style == CN_CONFIG_YAML)
        fputc('\n', e->out);
}

static void emit_items(emit_t *e, const char *name, const cn_config_key_t *k,
                       const void *record)
{
    const char *items = *(char *const *)cfield(record, k);
    size_t n = ccount(record, k);
    const cn_config_table_t *t = k->table;
    if (n == 0) {
        /* An empty block collection cannot be written in YAML: flow style,
         * which is also JSON. */
        scalar(e, name, k->type == CN_CONFIG_MAP ? "{}" : "[]", 1);
        return;
    }
    if (k->type == CN_CONFIG_MAP) {
        open_map(e, name);
        for (size_t i = 0; i < n; i++) {
            const char *item = items + i * t->size, *iname;
            memcpy(&iname, item + t->name_at - 1, sizeof iname);
            char text[WHAT_BUF];
            const cn_config_key_t *vk = &t->keys[0];
            cn_config_format(vk, item, text, sizeof text);
            scalar(e, iname ? iname : "", text,
                   vk->type == CN_CONFIG_DOUBLE || vk->type == CN_CONFIG_UNSIGNED ||
                       vk->type == CN_CONFIG_PERCENT || vk->type == CN_CONFIG_BOOL);
        }
        close_map(e);
        return;
    }
    member(e, name);
    fputc(e->style == CN_CONFIG_JSON ? '[' : '\n', e->out);
    e->depth++;
    e->first[e->depth] = 1;
    for (size_t i = 0; i < n; i++) {
        const char *item = items + i * t->size;
        if (e->style == CN_CONFIG_JSON) {
            member(e, NULL);
            fputc('{', e->out);
            e->depth++;
            e->first[e->depth] = 1;
        } else {
            e->dash = 1;
        }
        int depth = e->depth;
        const char *only = NULL;
        if (k->type == CN_CONFIG_ONEOF_LIST) {
            int tag = get_int_at(item, t->tag_at);
            for (size_t j = 0; j < t->n_keys && !only; j++)
                if (t->keys[j].tag == tag)
                    only = t->keys[j].key;
        }
        emit_table(e, t, item, only);
        if (e->style == CN_CONFIG_JSON) {
            e->depth--;
            fputc('}', e->out);
        } else {
            e->depth = depth;
            e->dash = 0;
        }
    }
    e->depth--;
    if (e->style == CN_CONFIG_JSON)
        fputc(']', e->out);
}

/* Whether emit_table() writes any key of record (a record whose keys are
 * all optional and unset, as `pause: {}`, writes none). */
static int table_has_output(const cn_config_table_t *t, const void *record)
{
    int disc = discriminant(t, record);
    for (size_t i = 0; i < t->n_keys; i++) {
        const cn_config_key_t *k = &t->keys[i];
        if (!key_used(k, disc) || !key_is_set(record, k))
            continue;
        if ((k->opts & CN_CONFIG_ZERO_UNSETS) &&
            !load_uint(cfield(record, k), k->width))
            continue;
        if (is_unset(k, record) && !(k->opts & CN_CONFIG_NULLABLE))
            continue;
        return 1;
    }
    return 0;
}

static void emit_key(emit_t *e, const char *name, const cn_config_key_t *k,
                     const void *record)
{
    char text[4096];
    switch (k->type) {
    case CN_CONFIG_RECORD:
        /* An empty block mapping would read back as null: flow style. */
        if (!table_has_output(k->table, cfield(record, k))) {
            scalar(e, name, "{}", 1);
            return;
        }
        open_map(e, name);
        emit_table(e, k->table, cfield(record, k), NULL);
        close_map(e);
        return;
    case CN_CONFIG_LIST:
    case CN_CONFIG_ONEOF_LIST:
    case CN_CONFIG_MAP:
        emit_items(e, name, k, record);
        return;
    case CN_CONFIG_ADDRESS_LIST:
    case CN_CONFIG_DOUBLE_LIST:
        flow_list(e, name, k, record);
        return;
    case CN_CONFIG_BOOL:
    case CN_CONFIG_UNSIGNED:
    case CN_CONFIG_PERCENT:
    case CN_CONFIG_DOUBLE:
        scalar(e, name, cn_config_format(k, record, text, sizeof text), 1);
        return;
    case CN_CONFIG_CUSTOM:
        scalar(e, name, cn_config_format(k, record, text, sizeof text),
               k->custom->numeric);
        return;
    default:
        /* Unset: null where null may be written back; an optional key
         * that cannot be null is left out, as the user would. */
        if (is_unset(k, record) && (k->opts & CN_CONFIG_NULLABLE))
            scalar(e, name, "null", 1);
        else if (is_unset(k, record))
            return;
        else
            scalar(e, name, cn_config_format(k, record, text, sizeof text), 0);
        return;
    }
}

/* Number of dotted segments two keys share ("a.b.c" and "a.b.d": 2). */
static size_t shared_segments(const char *a, const char *b)
{
    size_t n = 0;
    for (;;) {
        const char *da = strchr(a, '.'), *db = strchr(b, '.');
        if (!da || !db || da - a != db - b || memcmp(a, b, (size_t)(da - a)) != 0)
            return n;
        n++;
        a = da + 1;
        b = db + 1;
    }
}

static size_t segments(const char *a)
{
    size_t n = 0;
    for (; (a = strchr(a, '.')); a++)
        n++;
    return n;
}

static void emit_table(emit_t *e, const cn_config_table_t *t, const void *record,
                       const char *only_key)
{
    int disc = discriminant(t, record);
    const char *prev = "";
    size_t open = 0; /* sections open */
    for (size_t i = 0; i < t->n_keys; i++) {
        const cn_config_key_t *k = &t->keys[i];
        if (only_key ? k->key != only_key
                     : (!key_used(k, disc) || !key_is_set(record, k)))
            continue;
        if ((k->opts & CN_CONFIG_ZERO_UNSETS) &&
            !load_uint(cfield(record, k), k->width))
            continue;
        size_t keep = shared_segments(prev, k->key);
        if (keep > open)
            keep = open;
        while (open > keep) {
            close_map(e);
            open--;
        }
        /* Open the sections of this key below what is shared. */
        const char *s = k->key;
        for (size_t j = 0; j < keep; j++)
            s = strchr(s, '.') + 1;
        for (size_t want = segments(k->key); open < want; open++) {
            const char *dot = strchr(s, '.');
            char sec[PATH_BUF];
            snprintf(sec, sizeof sec, "%.*s", (int)(dot - s), s);
            open_map(e, sec);
            s = dot + 1;
        }
        emit_key(e, s, k, record);
        prev = k->key;
    }
    while (open-- > 0)
        close_map(e);
}

int cn_config_emit(FILE *out, cn_config_style_t style,
                   const cn_config_section_t *sections, size_t n_sections)
{
    emit_t e = {.out = out, .style = style};
    e.first[0] = 1;
    if (style == CN_CONFIG_JSON)
        fputc('{', out);
    for (size_t s = 0; s < n_sections; s++) {
        open_map(&e, sections[s].name);
        for (size_t p = 0; p < sections[s].n_parts; p++)
            emit_table(&e, sections[s].parts[p].table, sections[s].parts[p].record,
                       NULL);
        close_map(&e);
    }
    if (style == CN_CONFIG_JSON)
        fputs("}\n", out);
    return ferror(out) ? CN_EIO : 0;
}
