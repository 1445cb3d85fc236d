/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Option parsing shared by the subcommands; see args.h. */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_flag(const char *name, size_t len, const char *const *flags)
{
    for (; flags && *flags; flags++)
        if (strlen(*flags) == len && strncmp(*flags, name, len) == 0)
            return 1;
    return 0;
}

int cn_args_parse(cn_args_t *a, const char *cmd, int argc, char **argv,
                  const char *const *flags)
{
    return cn_args_parse_repeat(a, cmd, argc, argv, flags, NULL);
}

int cn_args_parse_repeat(cn_args_t *a, const char *cmd, int argc, char **argv,
                         const char *const *flags, const char *const *repeatable)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strncmp(s, "--", 2) != 0 || s[2] == '\0') {
            if (a->npos == CN_ARGS_MAX) {
                fprintf(stderr, "canary %s: too many arguments (max %d)\n", cmd,
                        CN_ARGS_MAX);
                return -1;
            }
            a->pos[a->npos++] = s;
            continue;
        }
        if (a->nopts == CN_ARGS_MAX) {
            fprintf(stderr, "canary %s: too many options\n", cmd);
            return -1;
        }
        const char *name = s + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cn_arg_opt_t *o = &a->opts[a->nopts];
        for (size_t j = 0; j < a->nopts && !is_flag(name, len, repeatable); j++) {
            if (strlen(a->opts[j].name) == len &&
                strncmp(a->opts[j].name, name, len) == 0) {
                fprintf(stderr, "canary %s: option --%.*s given twice\n", cmd, (int)len,
                        name);
                return -1;
            }
        }
        if (is_flag(name, len, flags)) {
            if (eq) {
                fprintf(stderr, "canary %s: --%.*s takes no value\n", cmd, (int)len,
                        name);
                return -1;
            }
            o->name = name;
            o->value = NULL;
        } else if (eq) {
            /* Keep the name NUL-terminated by pointing into a copy-free
             * form: argv strings are writable per C11 5.1.2.2.1. */
            argv[i][2 + len] = '\0';
            o->name = name;
            o->value = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "canary %s: option --%s needs a value\n", cmd, name);
                return -1;
            }
            o->name = name;
            o->value = argv[++i];
        }
        a->nopts++;
    }
    return 0;
}

static cn_arg_opt_t *find(cn_args_t *a, const char *name)
{
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, name) == 0) {
            a->opts[i].used = 1;
            return &a->opts[i];
        }
    }
    return NULL;
}

int cn_args_flag(cn_args_t *a, const char *name)
{
    return find(a, name) != NULL;
}

const char *cn_args_str(cn_args_t *a, const char *name, const char *def)
{
    cn_arg_opt_t *o = find(a, name);
    return o ? o->value : def;
}

static void range_text(char *buf, size_t len, double lo, int lo_open, double hi,
                       int hi_open)
{
    if (isinf(hi))
        snprintf(buf, len, "%s %g", lo_open ? ">" : ">=", lo);
    else
        snprintf(buf, len, "in %c%g, %g%c", lo_open ? '(' : '[', lo, hi,
                 hi_open ? ')' : ']');
}

int cn_args_num(cn_args_t *a, const char *name, double def, double lo, int lo_open,
                double hi, int hi_open, double *out)
{
    cn_arg_opt_t *o = find(a, name);
    if (!o) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(o->value, &end);
    char range[96];
    range_text(range, sizeof range, lo, lo_open, hi, hi_open);
    if (end == o->value || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        fprintf(stderr, "canary %s: --%s must be a number %s, got '%s'\n", a->cmd, name,
                range, o->value);
        return -1;
    }
    if (v < lo || (lo_open && v == lo) || v > hi || (hi_open && v == hi)) {
        fprintf(stderr, "canary %s: --%s must be %s, got %s\n", a->cmd, name, range,
                o->value);
        return -1;
    }
    *out = v;
    return 0;
}

int cn_args_uint(cn_args_t *a, const char *name, unsigned long long def,
                 unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    cn_arg_opt_t *o = find(a, name);
    if (!o) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    const char *s = o->value;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s < '0' || *s > '9' || end == s || *end != '\0' || errno == ERANGE || v < lo ||
        v > hi) {
        fprintf(stderr,
                "canary %s: --%s must be an integer in [%llu, %llu], got '%s'\n",
                a->cmd, name, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cn_args_finish(cn_args_t *a)
{
    for (size_t i = 0; i < a->nopts; i++) {
        if (!a->opts[i].used) {
            fprintf(stderr, "canary %s: unknown option --%s\n", a->cmd,
                    a->opts[i].name);
            return -1;
        }
    }
    return 0;
}
