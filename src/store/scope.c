/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A handle scoped to one model (store.h, cn_store_scope_model): its
 * generation is that model's row of model_generations, so that several
 * controllers in one process (canary control) keep their own splits and
 * sets in one file without overwriting each other's, and each model's
 * numbers grow on their own.
 */
#include "store/internal.h"
#include "store/store.h"
#include "types/types.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cn_store_scope_model(cn_store_t *s, const char *model, char *err, size_t errlen)
{
    size_t len = model ? strlen(model) : 0;
    if (!s || len == 0 || len > CN_STORE_NAME_MAX)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "scope: a model name of 1 to %d bytes is required",
                               CN_STORE_NAME_MAX);
    pthread_mutex_lock(&s->lock);
    free(s->scope);
    s->scope = cn_xstrdup(model);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

int cn_store__scoped_write(cn_store_t *s, const cn_generation_t *g, char *const *json,
                           int64_t now_ms, const char *who, char *err, size_t errlen)
{
    static const char what[] = "cannot save the model's generation";
    int64_t saved = 0;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT generation FROM model_generations WHERE model = ?1", -1, &st,
        NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, s->scope, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            saved = sqlite3_column_int64(st, 0);
        else if (step != SQLITE_DONE)
            rc = step;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (g->number == 0 || (int64_t)g->number <= saved)
        return cn_store__failf(
            s->path, err, errlen, CN_EINVAL,
            "model '%s': refusing to save generation %llu: "
            "generation %lld is saved already, and numbers only grow",
            s->scope, (unsigned long long)g->number, (long long)saved);
    rc = sqlite3_prepare_v2(
        s->db,
        "INSERT OR REPLACE INTO model_generations (model, generation, "
        "canary_weight_bp, mode, shadow_bp, force_enabled, stable_version, "
        "stable_addresses, canary_version, canary_addresses, time_unix_ms, who) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        -1, &st, NULL);
    const cn_traffic_t *t = &g->traffic;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, s->scope, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 2, (int64_t)g->number);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, t->canary_weight_bp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 4, cn_traffic_mode_name(t->mode), -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, t->shadow_bp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 6, t->force_enabled ? 1 : 0);
    for (int r = 0; r < CN_ROLE_COUNT && rc == SQLITE_OK; r++) {
        rc = sqlite3_bind_text(st, 7 + 2 * r, g->sets[r].version, -1, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 8 + 2 * r, json[r], -1, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 11, now_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 12, who ? who : "", -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && sqlite3_step(st) != SQLITE_DONE)
        rc = SQLITE_ERROR;
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, what);
    return 0;
}

int cn_store__scoped_read(cn_store_t *s, cn_generation_t *g, bool *found, char *err,
                          size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    *found = false;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT canary_weight_bp, mode, shadow_bp, force_enabled, "
                           "generation, stable_version, stable_addresses, "
                           "canary_version, canary_addresses FROM model_generations "
                           "WHERE model = ?1",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, s->scope, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen,
                               "cannot read the model's generation");
        goto out;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE)
        goto out;
    if (step != SQLITE_ROW) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen,
                               "cannot read the model's generation");
        goto out;
    }
    cn_traffic_t t;
    if ((rc = cn_store__row_traffic(s, st, 0, &t, err, errlen)))
        goto out;
    int64_t number = sqlite3_column_int64(st, 4);
    if (number < 1) {
        rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                             "table model_generations, model '%s': generation %lld "
                             "is not positive",
                             s->scope, (long long)number);
        goto out;
    }
    cn_version_set_t sets[CN_ROLE_COUNT];
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_init(&sets[r], NULL);
    for (int r = 0; r < CN_ROLE_COUNT && !rc; r++) {
        char where[128];
        snprintf(where, sizeof where, "table model_generations, model '%s', %s",
                 s->scope, cn_role_name((cn_role_t)r));
        rc = cn_store__read_set(s, sqlite3_column_text(st, 5 + 2 * r),
                                (const char *)sqlite3_column_text(st, 6 + 2 * r),
                                &sets[r], where, err, errlen);
    }
    if (!rc) {
        g->traffic = t;
        g->number = (uint64_t)number;
        for (int r = 0; r < CN_ROLE_COUNT; r++) {
            cn_version_set_dispose(&g->sets[r]);
            g->sets[r] = sets[r];
            cn_version_set_init(&sets[r], NULL);
        }
        *found = true;
    }
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_dispose(&sets[r]);
out:
    sqlite3_finalize(st);
    return rc;
}
