/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Pretty JSON with shortest round-trip reals; see json_out.h. Containers
 * are walked here; strings, integers and literals are encoded by jansson
 * itself (JSON_ENCODE_ANY), so escaping stays jansson's.
 */
#include "cli/json_out.h"
#include "util/fmt.h"

#include <stdlib.h>
#include <string.h>

void cn_json_format_real(double d, char *buf, size_t len)
{
    cn_fmt_double(d, buf, len);
    if (!strpbrk(buf, ".eEnN")) /* "1" -> "1.0": keep it a real */
        strncat(buf, ".0", len - strlen(buf) - 1);
}

static int indent(FILE *f, int depth)
{
    return fprintf(f, "%*s", depth * 2, "") < 0 ? -1 : 0;
}

static int emit(FILE *f, const json_t *v, int depth)
{
    if (json_is_real(v)) {
        char buf[40];
        cn_json_format_real(json_real_value(v), buf, sizeof buf);
        return fputs(buf, f) < 0 ? -1 : 0;
    }
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (n == 0)
            return fputs("[]", f) < 0 ? -1 : 0;
        fputs("[\n", f);
        for (size_t i = 0; i < n; i++) {
            if (indent(f, depth + 1) || emit(f, json_array_get(v, i), depth + 1))
                return -1;
            fputs(i + 1 < n ? ",\n" : "\n", f);
        }
        indent(f, depth);
        return fputc(']', f) == EOF ? -1 : 0;
    }
    if (json_is_object(v)) {
        if (json_object_size(v) == 0)
            return fputs("{}", f) < 0 ? -1 : 0;
        fputs("{\n", f);
        const char *key;
        json_t *val;
        size_t i = 0, n = json_object_size(v);
        /* jansson keeps insertion order (2.8+), so output follows the code. */
        json_object_foreach((json_t *)v, key, val)
        {
            json_t *k = json_string(key);
            char *ks = json_dumps(k, JSON_ENCODE_ANY);
            json_decref(k);
            if (!ks)
                return -1;
            indent(f, depth + 1);
            fprintf(f, "%s: ", ks);
            free(ks);
            if (emit(f, val, depth + 1))
                return -1;
            fputs(++i < n ? ",\n" : "\n", f);
        }
        indent(f, depth);
        return fputc('}', f) == EOF ? -1 : 0;
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY);
    if (!s)
        return -1;
    int rc = fputs(s, f) < 0 ? -1 : 0;
    free(s);
    return rc;
}

int cn_json_print(FILE *f, const json_t *value)
{
    if (emit(f, value, 0) || fputc('\n', f) == EOF || fflush(f))
        return -1;
    return 0;
}
