/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shared plain types (see types.h): range checks, names, and the deep
 * copies of version sets and generations.
 */
#include "types/types.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

static const char *const mode_names[CN_TRAFFIC_MODE_COUNT] = {
    [CN_TRAFFIC_MODE_RANDOM] = "random",
    [CN_TRAFFIC_MODE_STICKY] = "sticky",
    [CN_TRAFFIC_MODE_SHADOW] = "shadow",
};

int cn_traffic_validate(const cn_traffic_t *t)
{
    if (t == NULL || t->canary_weight_bp > CN_BP_MAX || t->shadow_bp > CN_BP_MAX ||
        (unsigned)t->mode >= CN_TRAFFIC_MODE_COUNT)
        return CN_EINVAL;
    return CN_OK;
}

bool cn_traffic_equal(const cn_traffic_t *a, const cn_traffic_t *b)
{
    return a->canary_weight_bp == b->canary_weight_bp && a->shadow_bp == b->shadow_bp &&
           a->mode == b->mode && a->force_enabled == b->force_enabled;
}

const char *cn_traffic_mode_name(cn_traffic_mode_t mode)
{
    if ((unsigned)mode >= CN_TRAFFIC_MODE_COUNT)
        return "?";
    return mode_names[mode];
}

int cn_traffic_mode_parse(const char *name, cn_traffic_mode_t *out)
{
    if (name == NULL)
        return CN_EINVAL;
    for (unsigned m = 0; m < CN_TRAFFIC_MODE_COUNT; m++) {
        if (strcmp(name, mode_names[m]) == 0) {
            *out = (cn_traffic_mode_t)m;
            return CN_OK;
        }
    }
    return CN_EINVAL;
}

const char *cn_role_name(cn_role_t role)
{
    switch (role) {
    case CN_ROLE_STABLE:
        return "stable";
    case CN_ROLE_CANARY:
        return "canary";
    }
    return "?";
}

void cn_version_set_init(cn_version_set_t *s, const char *version)
{
    s->version = cn_xstrdup(version ? version : "");
    s->count = 0;
    s->addresses = NULL;
}

void cn_version_set_dispose(cn_version_set_t *s)
{
    for (size_t i = 0; i < s->count; i++)
        free(s->addresses[i]);
    free(s->addresses);
    free(s->version);
    memset(s, 0, sizeof *s);
}

void cn_version_set_add(cn_version_set_t *s, const char *address)
{
    s->addresses = cn_xrealloc(s->addresses, (s->count + 1) * sizeof *s->addresses);
    s->addresses[s->count++] = cn_xstrdup(address);
}

void cn_version_set_copy(cn_version_set_t *dst, const cn_version_set_t *src)
{
    if (dst == src)
        return;
    cn_version_set_dispose(dst);
    cn_version_set_init(dst, src->version);
    for (size_t i = 0; i < src->count; i++)
        cn_version_set_add(dst, src->addresses[i]);
}

bool cn_version_set_equal(const cn_version_set_t *a, const cn_version_set_t *b)
{
    if (strcmp(a->version ? a->version : "", b->version ? b->version : "") != 0 ||
        a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->addresses[i], b->addresses[i]) != 0)
            return false;
    return true;
}

void cn_generation_init(cn_generation_t *g)
{
    memset(g, 0, sizeof *g);
    cn_version_set_init(&g->sets[CN_ROLE_STABLE], "stable");
    cn_version_set_init(&g->sets[CN_ROLE_CANARY], "canary");
}

void cn_generation_dispose(cn_generation_t *g)
{
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_dispose(&g->sets[r]);
    memset(g, 0, sizeof *g);
}

void cn_generation_copy(cn_generation_t *dst, const cn_generation_t *src)
{
    if (dst == src)
        return;
    dst->number = src->number;
    dst->traffic = src->traffic;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_copy(&dst->sets[r], &src->sets[r]);
}

void cn_version_parity_label(const char *stable, char *out)
{
    size_t suffix = sizeof CN_VERSION_PARITY_SUFFIX - 1;
    size_t n = stable ? strlen(stable) : 0;
    if (n > CN_VERSION_LABEL_MAX - suffix)
        n = CN_VERSION_LABEL_MAX - suffix;
    memcpy(out, stable ? stable : "", n);
    memcpy(out + n, CN_VERSION_PARITY_SUFFIX, suffix + 1);
}

bool cn_version_is_parity(const char *stable, const char *canary)
{
    char want[CN_VERSION_LABEL_MAX + 1];
    cn_version_parity_label(stable, want);
    return canary && strcmp(canary, want) == 0;
}
