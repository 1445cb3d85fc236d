/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The traffic split in the state file (see store.h): the `traffic` table's
 * one current row and `traffic_history`, one row per change, bounded to
 * CN_STORE_HISTORY_MAX rows. versions.c writes the split of a generation
 * through cn_store__traffic_write(), in its own transaction.
 */
#include "store/internal.h"
#include "store/store.h"
#include "types/types.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

/* A row's columns (weight, mode, shadow, force) into *t, checked. */
int cn_store__row_traffic(cn_store_t *s, sqlite3_stmt *st, int first, cn_traffic_t *t,
                          char *err, size_t errlen)
{
    int64_t weight = sqlite3_column_int64(st, first);
    const unsigned char *mode = sqlite3_column_text(st, first + 1);
    int64_t shadow = sqlite3_column_int64(st, first + 2);
    int64_t force = sqlite3_column_int64(st, first + 3);
    cn_traffic_t r = {0};
    if (weight < 0 || weight > CN_BP_MAX)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "column canary_weight_bp: %lld is out of [0, 10000]",
                               (long long)weight);
    if (shadow < 0 || shadow > CN_BP_MAX)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "column shadow_bp: %lld is out of [0, 10000]",
                               (long long)shadow);
    if (!mode || cn_traffic_mode_parse((const char *)mode, &r.mode))
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "column mode: not one of random, sticky, shadow");
    if (force != 0 && force != 1)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "column force_enabled: %lld is not 0 or 1",
                               (long long)force);
    r.canary_weight_bp = (uint16_t)weight;
    r.shadow_bp = (uint16_t)shadow;
    r.force_enabled = force == 1;
    *t = r;
    return 0;
}

int cn_store__traffic_read(cn_store_t *s, cn_traffic_t *t, uint64_t *generation,
                           bool *found, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT canary_weight_bp, mode, shadow_bp, force_enabled, "
                           "generation FROM traffic WHERE id = 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen,
                               "cannot read the traffic split");
        goto out;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        *found = false;
    } else if (step != SQLITE_ROW) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen,
                               "cannot read the traffic split");
    } else {
        int64_t g = sqlite3_column_int64(st, 4);
        if ((rc = cn_store__row_traffic(s, st, 0, t, err, errlen)) == 0 && g < 0)
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "table traffic, column generation: %lld is "
                                 "negative",
                                 (long long)g);
        if (rc == 0) {
            *generation = (uint64_t)g;
            *found = true;
        }
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int cn_store_load_traffic(cn_store_t *s, cn_traffic_t *out, bool *found, char *err,
                          size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !out || !found)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    cn_traffic_t t;
    uint64_t generation;
    bool got = false;
    pthread_mutex_lock(&s->lock);
    int rc = cn_store__traffic_read(s, &t, &generation, &got, err, errlen);
    pthread_mutex_unlock(&s->lock);
    if (rc == 0) {
        *found = got;
        if (got)
            *out = t;
    }
    return rc;
}

/* Bind weight, mode, shadow, force, time and who from position 1. */
static int bind_change(sqlite3_stmt *st, const cn_traffic_t *t, int64_t now_ms,
                       const char *who)
{
    int rc = sqlite3_bind_int64(st, 1, t->canary_weight_bp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 2, cn_traffic_mode_name(t->mode), -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 3, t->shadow_bp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 4, t->force_enabled ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, 5, now_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 6, who, -1, SQLITE_TRANSIENT);
    return rc;
}

int cn_store__traffic_write(cn_store_t *s, const cn_traffic_t *t, int64_t generation,
                            int64_t now_ms, const char *who)
{
    static const char *const sql[] = {
        /* ?7 < 0 keeps the current row's number. */
        "INSERT OR REPLACE INTO traffic (id, canary_weight_bp, mode, shadow_bp, "
        "force_enabled, time_unix_ms, who, generation) VALUES (1, ?1, ?2, ?3, ?4, "
        "?5, ?6, CASE WHEN ?7 >= 0 THEN ?7 ELSE "
        "coalesce((SELECT generation FROM traffic WHERE id = 1), 0) END)",
        "INSERT INTO traffic_history (canary_weight_bp, mode, shadow_bp, "
        "force_enabled, time_unix_ms, who, generation) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, (SELECT generation FROM traffic WHERE id = 1))",
    };
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *st = NULL;
        rc = sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = bind_change(st, t, now_ms, who);
        if (rc == SQLITE_OK && i == 0)
            rc = sqlite3_bind_int64(st, 7, generation);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(s->db);
        sqlite3_finalize(st);
    }
    if (rc == SQLITE_OK) {
        char trim[128];
        snprintf(trim, sizeof trim,
                 "DELETE FROM traffic_history WHERE id <= "
                 "(SELECT max(id) FROM traffic_history) - %d",
                 CN_STORE_HISTORY_MAX);
        rc = cn_store__exec(s->db, trim);
    }
    return rc;
}

int cn_store_save_traffic(cn_store_t *s, const cn_traffic_t *t, const char *who,
                          char *err, size_t errlen)
{
    static const char what[] = "cannot save the traffic split";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !t)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    if (cn_traffic_validate(t))
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "refusing to save an out-of-range traffic split "
                               "(weight %u bp, shadow %u bp, mode %d)",
                               (unsigned)t->canary_weight_bp, (unsigned)t->shadow_bp,
                               (int)t->mode);
    int rc = cn_store__check_who(s, &who, err, errlen);
    if (rc)
        return rc;
    int64_t now_ms = cn_store__now_ms();
    pthread_mutex_lock(&s->lock);
    if ((rc = cn_store__begin(s, what, err, errlen)) == 0) {
        if (cn_store__traffic_write(s, t, -1, now_ms, who) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        rc = cn_store__end(s, rc, what, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cn_store_history(cn_store_t *s, cn_store_change_t *out, size_t max, size_t *n,
                     char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !n || (max && !out))
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    *n = 0;
    if (max > INT32_MAX)
        max = INT32_MAX;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = NULL;
    int rc = 0, step = SQLITE_DONE;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, time_unix_ms, canary_weight_bp, mode, "
                           "shadow_bp, force_enabled, who, generation FROM ("
                           "SELECT * FROM traffic_history ORDER BY id DESC LIMIT ?)"
                           " ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, (sqlite3_int64)max) != SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the history");
        goto out;
    }
    size_t got = 0;
    while (got < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cn_store_change_t *c = &out[got];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        c->time_unix_ms = sqlite3_column_int64(st, 1);
        if ((rc = cn_store__row_traffic(s, st, 2, &c->traffic, err, errlen)))
            goto out;
        const unsigned char *who = sqlite3_column_text(st, 6);
        snprintf(c->who, sizeof c->who, "%s", who ? (const char *)who : "");
        int64_t g = sqlite3_column_int64(st, 7);
        c->generation = g > 0 ? (uint64_t)g : 0;
        got++;
    }
    if (got < max && step != SQLITE_DONE) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the history");
        goto out;
    }
    *n = got;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
