/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Names of the statistics engine's enumerations, for parsing options from
 * the CLI and configuration files and for printing results. One table per
 * enumeration, so parse and print cannot disagree.
 */
#include "stats/stats.h"
#include "util/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int value;
} name_entry_t;

static int lookup(const name_entry_t *t, size_t n, const char *s, int *out)
{
    if (!s)
        return CN_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, s) == 0) {
            *out = t[i].value;
            return 0;
        }
    }
    return CN_EINVAL;
}

static const char *name_of(const name_entry_t *t, size_t n, int v)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == v)
            return t[i].name;
    return "unknown";
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const name_entry_t alternatives[] = {
    {"two-sided", CN_ALT_TWO_SIDED},
    {"less", CN_ALT_LESS},
    {"greater", CN_ALT_GREATER},
};

static const name_entry_t directions[] = {
    {"lower-is-better", CN_DIR_LOWER_IS_BETTER},
    {"higher-is-better", CN_DIR_HIGHER_IS_BETTER},
};

static const name_entry_t boot_stats[] = {
    {"mean", CN_BOOT_MEAN},
    {"median", CN_BOOT_MEDIAN},
    {"p95", CN_BOOT_P95},
    {"p99", CN_BOOT_P99},
};

static const name_entry_t adjusts[] = {
    {"none", CN_ADJUST_NONE},
    {"bonferroni", CN_ADJUST_BONFERRONI},
    {"holm", CN_ADJUST_HOLM},
    {"bh", CN_ADJUST_BH},
};

static const name_entry_t mwu_methods[] = {
    {"auto", CN_MWU_AUTO},
    {"exact", CN_MWU_EXACT},
    {"asymptotic", CN_MWU_ASYMPTOTIC},
};

static const name_entry_t ks_methods[] = {
    {"auto", CN_KS_AUTO},
    {"exact", CN_KS_EXACT},
    {"asymp", CN_KS_ASYMPTOTIC},
};

int cn_stats_parse_alternative(const char *s, cn_alternative_t *out)
{
    int v, rc = lookup(alternatives, COUNT(alternatives), s, &v);
    if (rc == 0)
        *out = (cn_alternative_t)v;
    return rc;
}

const char *cn_stats_alternative_name(cn_alternative_t alt)
{
    return name_of(alternatives, COUNT(alternatives), (int)alt);
}

int cn_stats_parse_direction(const char *s, cn_direction_t *out)
{
    int v, rc = lookup(directions, COUNT(directions), s, &v);
    if (rc == 0)
        *out = (cn_direction_t)v;
    return rc;
}

int cn_stats_parse_boot_stat(const char *s, cn_boot_stat_t *out)
{
    int v, rc = lookup(boot_stats, COUNT(boot_stats), s, &v);
    if (rc == 0)
        *out = (cn_boot_stat_t)v;
    return rc;
}

const char *cn_stats_boot_stat_name(cn_boot_stat_t s)
{
    return name_of(boot_stats, COUNT(boot_stats), (int)s);
}

int cn_stats_parse_adjust(const char *s, cn_adjust_method_t *out)
{
    int v, rc = lookup(adjusts, COUNT(adjusts), s, &v);
    if (rc == 0)
        *out = (cn_adjust_method_t)v;
    return rc;
}

const char *cn_stats_adjust_name(cn_adjust_method_t m)
{
    return name_of(adjusts, COUNT(adjusts), (int)m);
}

const char *cn_stats_mwu_method_name(cn_mwu_method_t m)
{
    return name_of(mwu_methods, COUNT(mwu_methods), (int)m);
}

const char *cn_stats_ks_method_name(cn_ks_method_t m)
{
    return name_of(ks_methods, COUNT(ks_methods), (int)m);
}

const char *cn_stats_direction_name(cn_direction_t d)
{
    return name_of(directions, COUNT(directions), (int)d);
}

static const name_entry_t ni_tests[] = {
    {"welch", CN_NI_WELCH},
    {"mann-whitney", CN_NI_MWU},
    {"mwu", CN_NI_MWU},
};

int cn_stats_parse_ni_test(const char *s, cn_ni_test_t *out)
{
    int v, rc = lookup(ni_tests, COUNT(ni_tests), s, &v);
    if (rc == 0)
        *out = (cn_ni_test_t)v;
    return rc;
}

int cn_stats_parse_mwu_method(const char *s, cn_mwu_method_t *out)
{
    int v, rc = lookup(mwu_methods, COUNT(mwu_methods), s, &v);
    if (rc == 0)
        *out = (cn_mwu_method_t)v;
    return rc;
}

int cn_stats_parse_ks_method(const char *s, cn_ks_method_t *out)
{
    int v, rc = lookup(ks_methods, COUNT(ks_methods), s, &v);
    if (rc == 0)
        *out = (cn_ks_method_t)v;
    return rc;
}

int cn_stats_parse_margin(const char *s, double *margin, cn_margin_kind_t *kind)
{
    if (!s || !*s)
        return CN_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE || !isfinite(v) || v < 0)
        return CN_EINVAL;
    cn_margin_kind_t k = CN_MARGIN_ABSOLUTE;
    if (*end == '%') {
        k = CN_MARGIN_RELATIVE;
        v /= 100.0;
        end++;
    }
    if (*end != '\0')
        return CN_EINVAL;
    *margin = v;
    *kind = k;
    return 0;
}
