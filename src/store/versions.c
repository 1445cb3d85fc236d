/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The version sets in the state file (see store.h), and whole generations:
 * `versions` holds one current row per role (label, addresses as a JSON
 * array of strings, generation), `versions_history` one row per saved
 * generation with both sets, bounded to CN_STORE_VERSIONS_HISTORY_MAX
 * rows. A generation's split goes through traffic.c in the same
 * transaction, so the split and the sets on disk always belong together.
 *
 * The JSON is written here, not by a JSON library: addresses are checked
 * to be printable ASCII without '"' and '\' before they are saved, so
 * quoting each is enough. It is read back with SQLite's json_each, and
 * every value is checked again, since a hand edit can put anything there.
 */
#include "store/internal.h"
#include "store/store.h"
#include "types/types.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ checks */

const char *cn_store__label_problem(const char *label)
{
    if (!label || !*label)
        return "is empty";
    size_t n = strlen(label);
    if (n > CN_VERSION_LABEL_MAX)
        return "is longer than 63 bytes";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
            return "holds a control character";
    return NULL;
}

const char *cn_store__address_problem(const char *address, size_t len)
{
    if (!address || len == 0)
        return "is empty";
    if (len > CN_STORE_ADDRESS_MAX)
        return "is longer than 255 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)address[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
            return "holds a byte other than printable ASCII without space, '\"' "
                   "and '\\'";
    }
    return NULL;
}

/* 0 if set may be saved, else CN_EINVAL naming the role and the field. */
static int check_set(const cn_store_t *s, cn_role_t role, const cn_version_set_t *set,
                     char *err, size_t errlen)
{
    const char *name = cn_role_name(role), *why = cn_store__label_problem(set->version);
    if (why)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "refusing to save the %s version: its label %s", name,
                               why);
    if (set->count > CN_VERSION_MAX_ADDRESSES)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "refusing to save the %s version: %zu addresses, at "
                               "most %u",
                               name, set->count, CN_VERSION_MAX_ADDRESSES);
    if (set->count && !set->addresses)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL, "bad arguments");
    for (size_t i = 0; i < set->count; i++) {
        const char *a = set->addresses[i];
        if ((why = cn_store__address_problem(a, a ? strlen(a) : 0)))
            return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                   "refusing to save the %s version: address %zu %s",
                                   name, i + 1, why);
    }
    return 0;
}

char *cn_store__addresses_json(const cn_version_set_t *set)
{
    size_t len = 3;
    for (size_t i = 0; i < set->count; i++)
        len += strlen(set->addresses[i]) + 3;
    char *json = cn_xmalloc(len), *p = json;
    *p++ = '[';
    for (size_t i = 0; i < set->count; i++) {
        size_t n = strlen(set->addresses[i]);
        if (i)
            *p++ = ',';
        *p++ = '"';
        memcpy(p, set->addresses[i], n);
        p += n;
        *p++ = '"';
    }
    *p++ = ']';
    *p = '\0';
    return json;
}

int cn_store__read_set(cn_store_t *s, const unsigned char *label, const char *json,
                       cn_version_set_t *set, const char *where, char *err,
                       size_t errlen)
{
    const char *why = cn_store__label_problem((const char *)label);
    if (why)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL, "%s: the label %s",
                               where, why);
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) END", -1,
                           &st, NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, json ? json : "", -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the versions");
        goto out;
    }
    const unsigned char *type = sqlite3_column_text(st, 0);
    if (!type || strcmp((const char *)type, "array") != 0) {
        rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                             "%s: the addresses are not a JSON array", where);
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT type, value FROM json_each(?1)", -1, &st,
                           NULL) != SQLITE_OK ||
        sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC) != SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the versions");
        goto out;
    }
    cn_version_set_t r;
    cn_version_set_init(&r, (const char *)label);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        const char *a = (const char *)sqlite3_column_text(st, 1);
        int len = sqlite3_column_bytes(st, 1);
        if (r.count == CN_VERSION_MAX_ADDRESSES)
            why = "more than 256 addresses";
        else if (!t || strcmp((const char *)t, "text") != 0)
            why = "an address that is not a string";
        else if (cn_store__address_problem(a, (size_t)len) || strlen(a) != (size_t)len)
            why = "an address that is not printable ASCII of 1 to 255 bytes";
        if (why) {
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL, "%s: %s", where, why);
            break;
        }
        cn_version_set_add(&r, a);
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the versions");
    if (rc == 0) {
        cn_version_set_dispose(set);
        *set = r;
    } else {
        cn_version_set_dispose(&r);
    }
out:
    sqlite3_finalize(st);
    return rc;
}

/* "stable canary" and so on, into CN_STORE_CHANGED_* bits; -1 if bad. */
static int parse_changed(const char *text)
{
    int bits = 0;
    const char *p = text ? text : "";
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == 6 && strncmp(p, "stable", 6) == 0)
            bits |= CN_STORE_CHANGED_STABLE;
        else if (n == 6 && strncmp(p, "canary", 6) == 0)
            bits |= CN_STORE_CHANGED_CANARY;
        else if (n)
            return -1;
        p += n + (p[n] == ' ');
    }
    return bits;
}

/* ------------------------------------------------------------ saving */

/* The last generation saved: the largest number in traffic and versions. */
static int saved_generation(cn_store_t *s, int64_t *out)
{
    return cn_store__query_int(
        s->db,
        "SELECT max(g) FROM (SELECT generation AS g FROM traffic UNION ALL "
        "SELECT generation FROM versions)",
        out);
}

/* Whether role's current row differs from (label, json); a role with no row
 * differs. SQLite code in *rc. */
static bool set_differs(cn_store_t *s, cn_role_t role, const char *label,
                        const char *json, int *rc)
{
    sqlite3_stmt *st = NULL;
    bool differs = true;
    *rc = sqlite3_prepare_v2(s->db,
                             "SELECT version = ?2 AND addresses = ?3 FROM versions "
                             "WHERE role = ?1",
                             -1, &st, NULL);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_text(st, 1, cn_role_name(role), -1, SQLITE_STATIC);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_text(st, 2, label, -1, SQLITE_STATIC);
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
    if (*rc == SQLITE_OK) {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            differs = sqlite3_column_int(st, 0) == 0;
        else if (step != SQLITE_DONE)
            *rc = step;
    }
    sqlite3_finalize(st);
    return differs;
}

/* Run one statement with text and integer parameters: texts bind to ?1..,
 * then ints follow. SQLITE_OK or an SQLite code. */
static int run(sqlite3 *db, const char *sql, const char *const *texts, int ntexts,
               const int64_t *ints, int nints)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < ntexts; i++)
        rc = sqlite3_bind_text(st, i + 1, texts[i], -1, SQLITE_STATIC);
    for (int i = 0; rc == SQLITE_OK && i < nints; i++)
        rc = sqlite3_bind_int64(st, ntexts + i + 1, ints[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

/* The writes of one generation, inside the transaction. */
static int write_generation(cn_store_t *s, const cn_generation_t *g, char *const *json,
                            int64_t now_ms, const char *who, char *err, size_t errlen)
{
    static const char what[] = "cannot save the generation";
    if (s->scope)
        return cn_store__scoped_write(s, g, json, now_ms, who, err, errlen);
    int64_t saved, number = (int64_t)g->number;
    if (saved_generation(s, &saved) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (number == 0)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "refusing to save generation 0: numbers start at 1");
    if (number <= saved)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "refusing to save generation %llu: generation %lld "
                               "is saved already, and numbers only grow",
                               (unsigned long long)g->number, (long long)saved);
    int rc = SQLITE_OK;
    const char *changed[CN_ROLE_COUNT] = {"", ""};
    for (int r = 0; r < CN_ROLE_COUNT && rc == SQLITE_OK; r++)
        if (set_differs(s, (cn_role_t)r, g->sets[r].version, json[r], &rc))
            changed[r] = cn_role_name((cn_role_t)r);
    char changed_text[32];
    snprintf(changed_text, sizeof changed_text, "%s%s%s", changed[0],
             *changed[0] && *changed[1] ? " " : "", changed[1]);
    for (int r = 0; r < CN_ROLE_COUNT && rc == SQLITE_OK; r++) {
        const char *texts[] = {cn_role_name((cn_role_t)r), g->sets[r].version, json[r],
                               who};
        const int64_t ints[] = {number, now_ms};
        rc = run(s->db,
                 "INSERT OR REPLACE INTO versions (role, version, addresses, who, "
                 "generation, time_unix_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                 texts, 4, ints, 2);
    }
    if (rc == SQLITE_OK) {
        const char *texts[] = {changed_text,         g->sets[CN_ROLE_STABLE].version,
                               json[CN_ROLE_STABLE], g->sets[CN_ROLE_CANARY].version,
                               json[CN_ROLE_CANARY], who};
        const int64_t ints[] = {number, now_ms};
        rc = run(s->db,
                 "INSERT INTO versions_history (changed, stable_version, "
                 "stable_addresses, canary_version, canary_addresses, who, "
                 "generation, time_unix_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                 texts, 6, ints, 2);
    }
    if (rc == SQLITE_OK) {
        char trim[128];
        snprintf(trim, sizeof trim,
                 "DELETE FROM versions_history WHERE id <= "
                 "(SELECT max(id) FROM versions_history) - %d",
                 CN_STORE_VERSIONS_HISTORY_MAX);
        rc = cn_store__exec(s->db, trim);
    }
    if (rc == SQLITE_OK)
        rc = cn_store__traffic_write(s, &g->traffic, number, now_ms, who);
    if (rc != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, what);
    return 0;
}

int cn_store__generation_check(const cn_store_t *s, const cn_generation_t *g, char *err,
                               size_t errlen)
{
    if (cn_traffic_validate(&g->traffic))
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "refusing to save an out-of-range traffic split "
                               "(weight %u bp, shadow %u bp, mode %d)",
                               (unsigned)g->traffic.canary_weight_bp,
                               (unsigned)g->traffic.shadow_bp, (int)g->traffic.mode);
    if (g->number > INT64_MAX)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "refusing to save generation %llu: above 2^63 - 1",
                               (unsigned long long)g->number);
    int rc;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        if ((rc = check_set(s, (cn_role_t)r, &g->sets[r], err, errlen)))
            return rc;
    return 0;
}

int cn_store__generation_write(cn_store_t *s, const cn_generation_t *g, int64_t now_ms,
                               const char *who, char *err, size_t errlen)
{
    char *json[CN_ROLE_COUNT];
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        json[r] = cn_store__addresses_json(&g->sets[r]);
    int rc = write_generation(s, g, json, now_ms, who, err, errlen);
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        free(json[r]);
    return rc;
}

int cn_store_save_generation(cn_store_t *s, const cn_generation_t *g, const char *who,
                             char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !g)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    int rc = cn_store__generation_check(s, g, err, errlen);
    if (rc == 0)
        rc = cn_store__check_who(s, &who, err, errlen);
    if (rc)
        return rc;
    int64_t now_ms = cn_store__now_ms();
    pthread_mutex_lock(&s->lock);
    if ((rc = cn_store__begin(s, "cannot save the generation", err, errlen)) == 0) {
        rc = cn_store__generation_write(s, g, now_ms, who, err, errlen);
        rc = cn_store__end(s, rc, "cannot save the generation", err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* ----------------------------------------------------------- loading */

/* The current sets into sets[] (initialised), *found if both rows exist. */
static int read_versions(cn_store_t *s, cn_version_set_t *sets, uint64_t *generation,
                         bool *found, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    bool seen[CN_ROLE_COUNT] = {false, false};
    int64_t max_generation = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT role, version, addresses, generation FROM versions",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the versions");
        goto out;
    }
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *role = (const char *)sqlite3_column_text(st, 0);
        int r = role && strcmp(role, "stable") == 0   ? CN_ROLE_STABLE
                : role && strcmp(role, "canary") == 0 ? CN_ROLE_CANARY
                                                      : -1;
        int64_t g = sqlite3_column_int64(st, 3);
        if (r < 0) {
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "table versions, column role: not stable or canary");
            break;
        }
        char where[64];
        snprintf(where, sizeof where, "table versions, role %s", role);
        if (g < 0) {
            rc =
                cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                "%s: generation %lld is negative", where, (long long)g);
            break;
        }
        rc = cn_store__read_set(s, sqlite3_column_text(st, 1),
                                (const char *)sqlite3_column_text(st, 2), &sets[r],
                                where, err, errlen);
        seen[r] = true;
        if (g > max_generation)
            max_generation = g;
    }
    if (rc == 0 && step != SQLITE_DONE)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the versions");
    if (rc == 0 && seen[CN_ROLE_STABLE] != seen[CN_ROLE_CANARY])
        rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                             "table versions: no row for the %s role",
                             seen[CN_ROLE_STABLE] ? "canary" : "stable");
    if (rc == 0) {
        *found = seen[CN_ROLE_STABLE];
        *generation = (uint64_t)max_generation;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int cn_store_load_generation(cn_store_t *s, cn_generation_t *out, bool *has_traffic,
                             bool *has_versions, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !out || !has_traffic || !has_versions)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    cn_traffic_t t;
    cn_version_set_t sets[CN_ROLE_COUNT];
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_init(&sets[r], NULL);
    uint64_t traffic_generation = 0, versions_generation = 0;
    bool got_traffic = false, got_versions = false;
    pthread_mutex_lock(&s->lock);
    /* One read transaction: both tables from the same commit, even while
     * another process saves. */
    int rc = cn_store__exec(s->db, "BEGIN") == SQLITE_OK
                 ? 0
                 : cn_store__fail_db(s->path, s->db, err, errlen,
                                     "cannot read the generation");
    if (rc == 0 && s->scope) {
        bool found = false;
        rc = cn_store__scoped_read(s, out, &found, err, errlen);
        cn_store__exec(s->db, "COMMIT");
        pthread_mutex_unlock(&s->lock);
        *has_traffic = *has_versions = rc == 0 && found;
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            cn_version_set_dispose(&sets[r]);
        return rc;
    }
    if (rc == 0) {
        rc = cn_store__traffic_read(s, &t, &traffic_generation, &got_traffic, err,
                                    errlen);
        if (rc == 0)
            rc = read_versions(s, sets, &versions_generation, &got_versions, err,
                               errlen);
        cn_store__exec(s->db, "COMMIT");
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == 0) {
        *has_traffic = got_traffic;
        *has_versions = got_versions;
        if (got_traffic)
            out->traffic = t;
        if (got_versions)
            for (int r = 0; r < CN_ROLE_COUNT; r++) {
                cn_version_set_dispose(&out->sets[r]);
                out->sets[r] = sets[r];
                cn_version_set_init(&sets[r], NULL);
            }
        if (got_traffic || got_versions)
            out->number = traffic_generation > versions_generation
                              ? traffic_generation
                              : versions_generation;
    }
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_dispose(&sets[r]);
    return rc;
}

/* ----------------------------------------------------------- history */

void cn_store_versions_change_dispose(cn_store_versions_change_t *c)
{
    if (!c)
        return;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        cn_version_set_dispose(&c->sets[r]);
    memset(c, 0, sizeof *c);
}

int cn_store_versions_history(cn_store_t *s, cn_store_versions_change_t *out,
                              size_t max, size_t *n, char *err, size_t errlen)
{
    static const char what[] = "cannot read the versions history";
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
    size_t got = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, time_unix_ms, generation, changed, "
                           "stable_version, stable_addresses, canary_version, "
                           "canary_addresses, who FROM (SELECT * FROM "
                           "versions_history ORDER BY id DESC LIMIT ?) ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, (sqlite3_int64)max) != SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        goto out;
    }
    while (rc == 0 && got < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cn_store_versions_change_t *c = &out[got];
        memset(c, 0, sizeof *c);
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            cn_version_set_init(&c->sets[r], NULL);
        got++; /* from here on, c is disposed on an error */
        c->id = sqlite3_column_int64(st, 0);
        c->time_unix_ms = sqlite3_column_int64(st, 1);
        int64_t g = sqlite3_column_int64(st, 2);
        int changed = parse_changed((const char *)sqlite3_column_text(st, 3));
        char where[80];
        snprintf(where, sizeof where, "table versions_history, id %lld",
                 (long long)c->id);
        if (g < 0 || changed < 0) {
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "%s: column %s is out of range", where,
                                 g < 0 ? "generation" : "changed");
            break;
        }
        c->generation = (uint64_t)g;
        c->changed = (unsigned)changed;
        for (int r = 0; r < CN_ROLE_COUNT && rc == 0; r++) {
            char role_where[100];
            snprintf(role_where, sizeof role_where, "%s, %s", where,
                     cn_role_name((cn_role_t)r));
            rc = cn_store__read_set(s, sqlite3_column_text(st, 4 + 2 * r),
                                    (const char *)sqlite3_column_text(st, 5 + 2 * r),
                                    &c->sets[r], role_where, err, errlen);
        }
        const unsigned char *who = sqlite3_column_text(st, 8);
        snprintf(c->who, sizeof c->who, "%s", who ? (const char *)who : "");
    }
    if (rc == 0 && got < max && step != SQLITE_DONE)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        for (size_t i = 0; i < got; i++)
            cn_store_versions_change_dispose(&out[i]);
        got = 0;
    }
    *n = got;
    return rc;
}
