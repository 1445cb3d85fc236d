/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The admin API's streaming JSON writer; see jsonw.h. */
#include "api/jsonw.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/text.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cn_jsonw_init(cn_jsonw_t *w, size_t max_bytes)
{
    memset(w, 0, sizeof *w);
    cn_buf_init(&w->out, max_bytes);
    w->first[0] = true;
}

void cn_jsonw_dispose(cn_jsonw_t *w)
{
    cn_buf_dispose(&w->out);
    memset(w, 0, sizeof *w);
}

char *cn_jsonw_take(cn_jsonw_t *w, size_t *len)
{
    char *text = cn_buf_take(&w->out, len);
    cn_jsonw_dispose(w);
    return text;
}

/* The buffer's overflow is sticky: once set, nothing more is appended, so
 * the text is a clean prefix. */
static void append(cn_jsonw_t *w, const char *s, size_t n)
{
    if (cn_buf_add(&w->out, s, n))
        w->overflow = true;
}

static void misuse(const char *what)
{
    fprintf(stderr, "cn_jsonw: %s\n", what);
    abort();
}

/* Before any value: the comma between siblings, and the check that an
 * object member has its key. */
static void before_value(cn_jsonw_t *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0 && w->in_object[w->depth])
        misuse("value without a key inside an object");
    if (!w->first[w->depth])
        append(w, ",", 1);
    w->first[w->depth] = false;
}

static void open_container(cn_jsonw_t *w, bool object)
{
    before_value(w);
    if (w->depth + 1 >= CN_JSONW_MAX_DEPTH)
        misuse("nesting too deep");
    w->depth++;
    w->in_object[w->depth] = object;
    w->first[w->depth] = true;
    append(w, object ? "{" : "[", 1);
}

static void close_container(cn_jsonw_t *w, bool object)
{
    if (w->depth == 0 || w->in_object[w->depth] != object || w->after_key)
        misuse("unbalanced close");
    w->depth--;
    append(w, object ? "}" : "]", 1);
}

void cn_jsonw_object_begin(cn_jsonw_t *w)
{
    open_container(w, true);
}

void cn_jsonw_object_end(cn_jsonw_t *w)
{
    close_container(w, true);
}

void cn_jsonw_array_begin(cn_jsonw_t *w)
{
    open_container(w, false);
}

void cn_jsonw_array_end(cn_jsonw_t *w)
{
    close_container(w, false);
}

/* The quoted, escaped string, with no comma logic (keys and values). */
static void write_string(cn_jsonw_t *w, const char *s, size_t len)
{
    append(w, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0; /* start of the bytes copied as they are */
    for (size_t i = 0; i < len;) {
        char esc[8];
        const char *rep = NULL;
        size_t step = 1;
        unsigned char c = p[i];
        if (c == '"')
            rep = "\\\"";
        else if (c == '\\')
            rep = "\\\\";
        else if (c == '\n')
            rep = "\\n";
        else if (c == '\r')
            rep = "\\r";
        else if (c == '\t')
            rep = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            rep = esc;
        } else if (c >= 0x80) {
            step = cn_text_utf8_len(s + i, len - i);
            if (step == 0) {
                rep = "\\ufffd";
                step = 1;
            }
        }
        if (rep) {
            append(w, s + run, i - run);
            append(w, rep, strlen(rep));
            run = i + step;
        }
        i += step;
    }
    append(w, s + run, len - run);
    append(w, "\"", 1);
}

void cn_jsonw_string(cn_jsonw_t *w, const char *s, size_t len)
{
    before_value(w);
    write_string(w, s, len);
}

void cn_jsonw_key(cn_jsonw_t *w, const char *key)
{
    if (w->depth == 0 || !w->in_object[w->depth] || w->after_key)
        misuse("key outside an object");
    if (!w->first[w->depth])
        append(w, ",", 1);
    w->first[w->depth] = false;
    write_string(w, key, strlen(key));
    append(w, ":", 1);
    w->after_key = true;
}

void cn_jsonw_cstr(cn_jsonw_t *w, const char *s)
{
    if (s)
        cn_jsonw_string(w, s, strlen(s));
    else
        cn_jsonw_null(w);
}

void cn_jsonw_raw(cn_jsonw_t *w, const char *json)
{
    before_value(w);
    append(w, json, strlen(json));
}

void cn_jsonw_u64(cn_jsonw_t *w, uint64_t value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, value);
    cn_jsonw_raw(w, buf);
}

void cn_jsonw_double(cn_jsonw_t *w, double value)
{
    char buf[CN_FMT_DOUBLE_BUF];
    if (!isfinite(value))
        cn_jsonw_raw(w, "null");
    else
        cn_jsonw_raw(w, cn_fmt_double(value, buf, sizeof buf));
}

void cn_jsonw_bool(cn_jsonw_t *w, bool value)
{
    cn_jsonw_raw(w, value ? "true" : "false");
}

void cn_jsonw_null(cn_jsonw_t *w)
{
    cn_jsonw_raw(w, "null");
}

void cn_jsonw_newline(cn_jsonw_t *w)
{
    if (w->depth != 0 || w->after_key)
        misuse("newline inside a container");
    append(w, "\n", 1);
    w->first[0] = true;
}
