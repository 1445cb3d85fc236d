/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The model registry's tables (see store.h): models, model_versions and
 * tags. This file checks what it is given as a store checks anything
 * (lengths, one line of UTF-8, JSON, the rules of the tags against what is
 * stored, in the same transaction as the write); the narrower rules for
 * people's input (the syntax of names and addresses) are the registry
 * module's (src/registry/).
 *
 * The tag rules are written twice on purpose: here in C, to refuse with a
 * message that names the model, the version and the rule, and in the
 * schema (core.c, migrate_v3), so that a bug here cannot leave a model
 * with two stable versions or none.
 */
#include "store/internal.h"
#include "store/store.h"
#include "types/types.h"
#include "util/error.h"
#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest excerpt of a name quoted in a message. */
#define NAME_QUOTE_MAX 80

static const char *const tag_names[CN_STORE_TAG_COUNT] = {
    [CN_STORE_TAG_NONE] = "",
    [CN_STORE_TAG_STABLE] = "stable",
    [CN_STORE_TAG_CANDIDATE] = "production-candidate",
    [CN_STORE_TAG_ROLLED_BACK] = "rolled-back",
    [CN_STORE_TAG_RETIRED] = "retired",
};

const char *cn_store_tag_name(cn_store_tag_t tag)
{
    if ((int)tag < 0 || (int)tag >= CN_STORE_TAG_COUNT)
        return "?";
    return tag_names[tag];
}

int cn_store_tag_parse(const char *name, cn_store_tag_t *out)
{
    if (!name || !*name)
        return CN_EINVAL;
    for (int i = 1; i < CN_STORE_TAG_COUNT; i++)
        if (strcmp(name, tag_names[i]) == 0) {
            *out = (cn_store_tag_t)i;
            return 0;
        }
    return CN_EINVAL;
}

void cn_store_version_init(cn_store_version_t *v)
{
    memset(v, 0, sizeof *v);
    cn_version_set_init(&v->set, "");
}

void cn_store_version_dispose(cn_store_version_t *v)
{
    if (!v)
        return;
    cn_version_set_dispose(&v->set);
    free(v->artifact_uri);
    free(v->metadata);
    memset(v, 0, sizeof *v);
}

/* A name or a version quoted for a message (one line, bounded). */
#define Q(buf, text) cn_text_quote((text), strlen(text), NAME_QUOTE_MAX, (buf))
#define QBUF CN_TEXT_QUOTE_BUF(NAME_QUOTE_MAX)

/* ------------------------------------------------------------ lookups */

int cn_store__model_id(cn_store_t *s, const char *model, int64_t *id)
{
    sqlite3_stmt *st;
    int rc = cn_store__prepare(s->db, &st, "SELECT id FROM models WHERE name = ?1", "t",
                               model);
    *id = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *id = sqlite3_column_int64(st, 0);
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

int cn_store__version_id(cn_store_t *s, int64_t model_id, const char *version,
                         int64_t *id)
{
    sqlite3_stmt *st;
    int rc = cn_store__prepare(
        s->db, &st,
        "SELECT id FROM model_versions WHERE model_id = ?1 AND version = ?2", "it",
        model_id, version);
    *id = 0;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            *id = sqlite3_column_int64(st, 0);
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Model and version ids by name, or CN_ENOTFOUND naming the missing one.
 * version may be NULL (only the model). */
static int find(cn_store_t *s, const char *model, const char *version,
                int64_t *model_id, int64_t *version_id, char *err, size_t errlen)
{
    char q1[QBUF], q2[QBUF];
    if (cn_store__model_id(s, model, model_id) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the models");
    if (!*model_id)
        return cn_store__failf(s->path, err, errlen, CN_ENOTFOUND,
                               "no model '%s' is registered", Q(q1, model));
    if (!version)
        return 0;
    if (cn_store__version_id(s, *model_id, version, version_id) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen,
                                 "cannot read the versions");
    if (!*version_id)
        return cn_store__failf(s->path, err, errlen, CN_ENOTFOUND,
                               "model '%s' has no version '%s'", Q(q1, model),
                               Q(q2, version));
    return 0;
}

/* The name check shared by models and versions' model field. */
static int check_model_name(const cn_store_t *s, const char *name, char *err,
                            size_t errlen)
{
    const char *why = cn_store__text_problem(name, CN_STORE_NAME_MAX, false);
    if (why)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL, "model name %s", why);
    return 0;
}

/* ------------------------------------------------------------- models */

int cn_store_model_add(cn_store_t *s, const char *name, const char *who, char *err,
                       size_t errlen)
{
    static const char what[] = "cannot register the model";
    if (err && errlen)
        err[0] = '\0';
    if (!s)
        return cn_store__failf(NULL, err, errlen, CN_EINVAL, "bad arguments");
    int rc = check_model_name(s, name, err, errlen);
    if (rc == 0)
        rc = cn_store__check_who(s, &who, err, errlen);
    if (rc)
        return rc;
    int64_t now_ms = cn_store__now_ms(), id = 0;
    pthread_mutex_lock(&s->lock);
    if ((rc = cn_store__begin(s, what, err, errlen)) == 0) {
        char q[QBUF];
        if (cn_store__model_id(s, name, &id) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        else if (id)
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "model '%s' is registered already", Q(q, name));
        else if (cn_store__run(s->db,
                               "INSERT INTO models (name, created_unix_ms, created_by) "
                               "VALUES (?1, ?2, ?3)",
                               "tit", name, now_ms, who) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        rc = cn_store__end(s, rc, what, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static const char model_columns[] =
    "SELECT m.name, m.created_unix_ms, m.created_by,"
    " (SELECT count(*) FROM model_versions v WHERE v.model_id = m.id),"
    " (SELECT v.version FROM tags t JOIN model_versions v ON v.id = t.version_id"
    "  WHERE t.model_id = m.id AND t.tag = 'stable'),"
    " (SELECT v.version FROM tags t JOIN model_versions v ON v.id = t.version_id"
    "  WHERE t.model_id = m.id AND t.tag = 'production-candidate'),"
    " (SELECT r.id FROM rollouts r WHERE r.model_id = m.id"
    "  AND r.state NOT IN ('promoted', 'rolled-back', 'aborted'))"
    " FROM models m ";

static void row_model(sqlite3_stmt *st, cn_store_model_t *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", cn_store__column_text(st, 0));
    m->created_unix_ms = sqlite3_column_int64(st, 1);
    snprintf(m->created_by, sizeof m->created_by, "%s", cn_store__column_text(st, 2));
    int64_t n = sqlite3_column_int64(st, 3);
    m->n_versions = n > 0 ? (size_t)n : 0;
    snprintf(m->stable, sizeof m->stable, "%s", cn_store__column_text(st, 4));
    snprintf(m->candidate, sizeof m->candidate, "%s", cn_store__column_text(st, 5));
    m->active_rollout = sqlite3_column_int64(st, 6);
}

int cn_store_model_get(cn_store_t *s, const char *name, cn_store_model_t *out,
                       char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !name || !out)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    char sql[sizeof model_columns + 64], q[QBUF];
    snprintf(sql, sizeof sql, "%sWHERE m.name = ?1", model_columns);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int rc = 0;
    if (cn_store__prepare(s->db, &st, sql, "t", name) != SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the models");
    } else {
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_model(st, out);
        else if (step == SQLITE_DONE)
            rc = cn_store__failf(s->path, err, errlen, CN_ENOTFOUND,
                                 "no model '%s' is registered", Q(q, name));
        else
            rc = cn_store__fail_db(s->path, s->db, err, errlen,
                                   "cannot read the models");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cn_store_model_list(cn_store_t *s, const char *after, cn_store_model_t *out,
                        size_t max, size_t *n, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !n || (max && !out))
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    *n = 0;
    if (max > CN_STORE_PAGE_MAX)
        max = CN_STORE_PAGE_MAX;
    char sql[sizeof model_columns + 64];
    snprintf(sql, sizeof sql, "%sWHERE m.name > ?1 ORDER BY m.name LIMIT ?2",
             model_columns);
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st;
    int rc = 0, step = SQLITE_DONE;
    size_t got = 0;
    if (cn_store__prepare(s->db, &st, sql, "ti", after ? after : "", (int64_t)max) !=
        SQLITE_OK) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the models");
    } else {
        while (got < max && (step = sqlite3_step(st)) == SQLITE_ROW)
            row_model(st, &out[got++]);
        if (got < max && step != SQLITE_DONE) {
            rc = cn_store__fail_db(s->path, s->db, err, errlen,
                                   "cannot read the models");
            got = 0;
        }
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    *n = got;
    return rc;
}

/* ----------------------------------------------------------- versions */

/* Whether text is valid JSON of the given type ("object"); lock held. */
static int json_is(cn_store_t *s, const char *text, const char *type, bool *is)
{
    sqlite3_stmt *st;
    int rc = cn_store__prepare(s->db, &st,
                               "SELECT CASE WHEN json_valid(?1) THEN json_type(?1) END",
                               "t", text);
    *is = false;
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        *is = t && (!type || strcmp((const char *)t, type) == 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

int cn_store__json_check(cn_store_t *s, const char *field, const char *text, size_t max,
                         const char *type, char *err, size_t errlen)
{
    if (strlen(text) > max)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "%s is larger than %zu bytes", field, max);
    bool is;
    if (json_is(s, text, type, &is) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, "cannot check JSON");
    if (!is)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL, "%s is not %s", field,
                               type && strcmp(type, "object") == 0 ? "a JSON object"
                                                                   : "JSON");
    return 0;
}

/* The checks of a version that need no file. */
static int check_version(const cn_store_t *s, const cn_store_version_t *v, char *err,
                         size_t errlen)
{
    int rc = check_model_name(s, v->model, err, errlen);
    if (rc)
        return rc;
    const char *why = cn_store__label_problem(v->set.version);
    if (why)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL, "version %s", why);
    if (v->set.count == 0)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "addresses: a version needs at least one");
    if (v->set.count > CN_VERSION_MAX_ADDRESSES)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "addresses: %zu, at most %u", v->set.count,
                               CN_VERSION_MAX_ADDRESSES);
    for (size_t i = 0; i < v->set.count; i++) {
        const char *a = v->set.addresses[i];
        if ((why = cn_store__address_problem(a, a ? strlen(a) : 0)))
            return cn_store__failf(s->path, err, errlen, CN_EINVAL, "address %zu %s",
                                   i + 1, why);
    }
    if ((why = cn_store__text_problem(v->artifact_uri, CN_STORE_ARTIFACT_MAX, true)))
        return cn_store__failf(s->path, err, errlen, CN_EINVAL, "artifact_uri %s", why);
    return 0;
}

int cn_store_version_add(cn_store_t *s, const cn_store_version_t *v, const char *who,
                         bool *created_model, char *err, size_t errlen)
{
    static const char what[] = "cannot register the version";
    if (err && errlen)
        err[0] = '\0';
    if (created_model)
        *created_model = false;
    if (!s || !v)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    int rc = check_version(s, v, err, errlen);
    if (rc == 0)
        rc = cn_store__check_who(s, &who, err, errlen);
    if (rc)
        return rc;
    const char *metadata = v->metadata ? v->metadata : "{}";
    char *json = cn_store__addresses_json(&v->set);
    int64_t now_ms = cn_store__now_ms(), model_id = 0, version_id = 0;
    bool created = false;
    pthread_mutex_lock(&s->lock);
    rc = cn_store__json_check(s, "metadata", metadata, CN_STORE_METADATA_MAX, "object",
                              err, errlen);
    if (rc == 0 && (rc = cn_store__begin(s, what, err, errlen)) == 0) {
        char q1[QBUF], q2[QBUF];
        if (cn_store__model_id(s, v->model, &model_id) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0 && !model_id) {
            if (cn_store__run(s->db,
                              "INSERT INTO models (name, created_unix_ms, created_by) "
                              "VALUES (?1, ?2, ?3)",
                              "tit", v->model, now_ms, who) != SQLITE_OK)
                rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
            model_id = sqlite3_last_insert_rowid(s->db);
            created = true;
        }
        if (rc == 0 &&
            cn_store__version_id(s, model_id, v->set.version, &version_id) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        if (rc == 0 && version_id)
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "model '%s': version '%s' is registered already",
                                 Q(q1, v->model), Q(q2, v->set.version));
        /* The schema's trigger makes a model's first version stable. */
        if (rc == 0 &&
            cn_store__run(s->db,
                          "INSERT INTO model_versions (model_id, version, addresses, "
                          "artifact_uri, metadata, created_unix_ms, created_by) VALUES "
                          "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                          "ittttit", model_id, v->set.version, json,
                          v->artifact_uri ? v->artifact_uri : "", metadata, now_ms,
                          who) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        rc = cn_store__end(s, rc, what, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    free(json);
    if (rc == 0 && created_model)
        *created_model = created;
    return rc;
}

static const char version_columns[] =
    "SELECT m.name, v.version, v.addresses, v.artifact_uri, v.metadata,"
    " v.created_unix_ms, v.created_by, t.tag, t.time_unix_ms"
    " FROM model_versions v JOIN models m ON m.id = v.model_id"
    " LEFT JOIN tags t ON t.version_id = v.id ";

/* A row of version_columns into *v (initialised), checked as a save would
 * check it (a hand edit can put anything there). */
static int row_version(cn_store_t *s, sqlite3_stmt *st, cn_store_version_t *v,
                       char *err, size_t errlen)
{
    char where[200], q1[QBUF], q2[QBUF];
    const char *model = cn_store__column_text(st, 0);
    const char *version = cn_store__column_text(st, 1);
    snprintf(where, sizeof where, "table model_versions, model '%s' version '%s'",
             Q(q1, model), Q(q2, version));
    cn_store_version_t r;
    cn_store_version_init(&r);
    snprintf(r.model, sizeof r.model, "%s", model);
    int rc =
        cn_store__read_set(s, sqlite3_column_text(st, 1), cn_store__column_text(st, 2),
                           &r.set, where, err, errlen);
    if (rc == 0) {
        r.artifact_uri = cn_xstrdup(cn_store__column_text(st, 3));
        r.metadata = cn_xstrdup(cn_store__column_text(st, 4));
        r.created_unix_ms = sqlite3_column_int64(st, 5);
        snprintf(r.created_by, sizeof r.created_by, "%s", cn_store__column_text(st, 6));
        const char *tag = cn_store__column_text(st, 7);
        if (*tag && cn_store_tag_parse(tag, &r.tag))
            rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                                 "%s: its tag is not one of stable, "
                                 "production-candidate, rolled-back, retired",
                                 where);
        r.tag_unix_ms = *tag ? sqlite3_column_int64(st, 8) : 0;
    }
    if (rc == 0) {
        cn_store_version_dispose(v);
        *v = r;
    } else {
        cn_store_version_dispose(&r);
    }
    return rc;
}

int cn_store_version_get(cn_store_t *s, const char *model, const char *version,
                         cn_store_version_t *out, char *err, size_t errlen)
{
    static const char what[] = "cannot read the versions";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !model || !version || !out)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    char sql[sizeof version_columns + 64];
    snprintf(sql, sizeof sql, "%sWHERE m.name = ?1 AND v.version = ?2",
             version_columns);
    pthread_mutex_lock(&s->lock);
    int64_t model_id, version_id;
    sqlite3_stmt *st = NULL;
    int rc = cn_store__exec(s->db, "BEGIN") == SQLITE_OK
                 ? 0
                 : cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        rc = find(s, model, version, &model_id, &version_id, err, errlen);
    if (rc == 0) {
        if (cn_store__prepare(s->db, &st, sql, "tt", model, version) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        else
            rc = row_version(s, st, out, err, errlen);
    }
    sqlite3_finalize(st);
    if (!sqlite3_get_autocommit(s->db))
        cn_store__exec(s->db, "COMMIT");
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cn_store_version_list(cn_store_t *s, const char *model, size_t offset,
                          cn_store_version_t *out, size_t max, size_t *n, size_t *total,
                          char *err, size_t errlen)
{
    static const char what[] = "cannot read the versions";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !model || !n || (max && !out))
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    *n = 0;
    if (max > CN_STORE_PAGE_MAX)
        max = CN_STORE_PAGE_MAX;
    if (offset > INT32_MAX)
        offset = INT32_MAX;
    char sql[sizeof version_columns + 80];
    snprintf(sql, sizeof sql,
             "%sWHERE v.model_id = ?1 ORDER BY v.id LIMIT ?2 OFFSET ?3",
             version_columns);
    pthread_mutex_lock(&s->lock);
    int64_t model_id, count = 0;
    sqlite3_stmt *st = NULL;
    size_t got = 0;
    int step = SQLITE_DONE;
    int rc = cn_store__exec(s->db, "BEGIN") == SQLITE_OK
                 ? 0
                 : cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        rc = find(s, model, NULL, &model_id, NULL, err, errlen);
    if (rc == 0 && (cn_store__prepare(s->db, &st,
                                      "SELECT count(*) FROM model_versions WHERE "
                                      "model_id = ?1",
                                      "i", model_id) != SQLITE_OK ||
                    sqlite3_step(st) != SQLITE_ROW))
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        count = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == 0 && cn_store__prepare(s->db, &st, sql, "iii", model_id, (int64_t)max,
                                     (int64_t)offset) != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    while (rc == 0 && got < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cn_store_version_init(&out[got]);
        rc = row_version(s, st, &out[got], err, errlen);
        got++; /* disposed below on an error */
    }
    if (rc == 0 && got < max && step != SQLITE_DONE)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    sqlite3_finalize(st);
    if (!sqlite3_get_autocommit(s->db))
        cn_store__exec(s->db, "COMMIT");
    pthread_mutex_unlock(&s->lock);
    if (rc) {
        for (size_t i = 0; i < got; i++)
            cn_store_version_dispose(&out[i]);
        got = 0;
    }
    *n = got;
    if (total)
        *total = rc == 0 && count > 0 ? (size_t)count : 0;
    return rc;
}

static int active_of(cn_store_t *s, int64_t model_id, int64_t *id, int64_t *version_id,
                     char *version, size_t vlen, char *state, size_t slen);

/* The label and addresses of version_id into *set (initialised). */
static int read_version_set(cn_store_t *s, int64_t version_id, cn_version_set_t *set,
                            char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int rc = 0;
    if (cn_store__prepare(s->db, &st,
                          "SELECT version, addresses FROM model_versions WHERE id = ?1",
                          "i", version_id) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read the versions");
    } else {
        char where[120];
        snprintf(where, sizeof where, "table model_versions, id %lld",
                 (long long)version_id);
        rc = cn_store__read_set(s, sqlite3_column_text(st, 0),
                                cn_store__column_text(st, 1), set, where, err, errlen);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Whether rollout id is a parity check (its strategy a parity spec). */
static bool parity_check(cn_store_t *s, int64_t id)
{
    sqlite3_stmt *st;
    bool is = false;
    if (cn_store__prepare(
            s->db, &st,
            "SELECT " CN_STORE__PARITY_SQL("strategy") " FROM rollouts WHERE id = ?1",
            "i", id) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        is = sqlite3_column_int64(st, 0) == 1;
    sqlite3_finalize(st);
    return is;
}

int cn_store_model_sets(cn_store_t *s, const char *model,
                        cn_version_set_t sets[CN_ROLE_COUNT], int64_t *rollout,
                        char *err, size_t errlen)
{
    static const char what[] = "cannot read the versions";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !model || !sets)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    cn_version_set_t got[CN_ROLE_COUNT];
    cn_version_set_init(&got[CN_ROLE_STABLE], "");
    cn_version_set_init(&got[CN_ROLE_CANARY], "canary");
    int64_t model_id = 0, stable_id = 0, active = 0, active_version_id = 0;
    char active_version[CN_VERSION_LABEL_MAX + 1], state[16], q[QBUF];
    sqlite3_stmt *st = NULL;
    pthread_mutex_lock(&s->lock);
    int rc = cn_store__exec(s->db, "BEGIN") == SQLITE_OK
                 ? 0
                 : cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        rc = find(s, model, NULL, &model_id, NULL, err, errlen);
    if (rc == 0 && (cn_store__prepare(s->db, &st,
                                      "SELECT version_id FROM tags WHERE model_id = ?1 "
                                      "AND tag = 'stable'",
                                      "i", model_id) != SQLITE_OK ||
                    sqlite3_step(st) == SQLITE_ERROR))
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc == 0)
        stable_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == 0 && !stable_id)
        rc = cn_store__failf(s->path, err, errlen, CN_EINVAL,
                             "model '%s' has no version yet", Q(q, model));
    if (rc == 0)
        rc = read_version_set(s, stable_id, &got[CN_ROLE_STABLE], err, errlen);
    if (rc == 0 && active_of(s, model_id, &active, &active_version_id, active_version,
                             sizeof active_version, state, sizeof state) != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    /* a parity check's arm is not a registered version's set: it is the
     * controller's, from the check's spec (and the state file's
     * generation); the canary set stays as it is */
    if (rc == 0 && active && !parity_check(s, active))
        rc = read_version_set(s, active_version_id, &got[CN_ROLE_CANARY], err, errlen);
    if (!sqlite3_get_autocommit(s->db))
        cn_store__exec(s->db, "COMMIT");
    pthread_mutex_unlock(&s->lock);
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        if (rc == 0) {
            cn_version_set_dispose(&sets[r]);
            sets[r] = got[r];
        } else {
            cn_version_set_dispose(&got[r]);
        }
    }
    if (rc == 0 && rollout)
        *rollout = active;
    return rc;
}

/* --------------------------------------------------------------- tags */

/* The tag a version holds (NONE), or -1 on an SQLite error. */
static int tag_of(cn_store_t *s, int64_t version_id)
{
    sqlite3_stmt *st;
    int tag = CN_STORE_TAG_NONE;
    if (cn_store__prepare(s->db, &st, "SELECT tag FROM tags WHERE version_id = ?1", "i",
                          version_id) != SQLITE_OK)
        return -1;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        cn_store_tag_t t;
        tag = cn_store_tag_parse(cn_store__column_text(st, 0), &t) ? CN_STORE_TAG_NONE
                                                                   : (int)t;
    } else if (step != SQLITE_DONE) {
        tag = -1;
    }
    sqlite3_finalize(st);
    return tag;
}

/* The version holding a moving tag of a model into buf ("" if none). */
static int holder(cn_store_t *s, int64_t model_id, cn_store_tag_t tag, char *buf,
                  size_t len)
{
    sqlite3_stmt *st;
    int rc =
        cn_store__prepare(s->db, &st,
                          "SELECT v.version FROM tags t JOIN model_versions v ON "
                          "v.id = t.version_id WHERE t.model_id = ?1 AND t.tag = ?2",
                          "it", model_id, cn_store_tag_name(tag));
    buf[0] = '\0';
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            snprintf(buf, len, "%s", cn_store__column_text(st, 0));
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The model's active rollout: id (0 if none), its version id, version and
 * state. */
static int active_of(cn_store_t *s, int64_t model_id, int64_t *id, int64_t *version_id,
                     char *version, size_t vlen, char *state, size_t slen)
{
    sqlite3_stmt *st;
    int rc = cn_store__prepare(
        s->db, &st,
        "SELECT r.id, r.version_id, v.version, r.state FROM rollouts r JOIN "
        "model_versions v ON v.id = r.version_id WHERE r.model_id = ?1 AND r.state NOT "
        "IN ('promoted', 'rolled-back', 'aborted')",
        "i", model_id);
    *id = *version_id = 0;
    version[0] = state[0] = '\0';
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *id = sqlite3_column_int64(st, 0);
            *version_id = sqlite3_column_int64(st, 1);
            snprintf(version, vlen, "%s", cn_store__column_text(st, 2));
            snprintf(state, slen, "%s", cn_store__column_text(st, 3));
        }
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

int cn_store__tag_write(cn_store_t *s, int64_t model_id, const char *model,
                        int64_t version_id, const char *version, cn_store_tag_t tag,
                        bool set, bool active_ok, int64_t now_ms, const char *who,
                        bool *changed, char *previous, char *err, size_t errlen)
{
    static const char what[] = "cannot write the tag";
    char q1[QBUF], q2[QBUF], active_version[CN_VERSION_LABEL_MAX + 1], state[16];
    char prev[CN_VERSION_LABEL_MAX + 1] = "";
    int64_t active = 0, active_version_id = 0;
    *changed = false;
    if (previous)
        previous[0] = '\0';
    if ((int)tag <= CN_STORE_TAG_NONE || (int)tag >= CN_STORE_TAG_COUNT)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "tag: not one of stable, production-candidate, "
                               "rolled-back, retired");
    int current = tag_of(s, version_id);
    if (current < 0 ||
        active_of(s, model_id, &active, &active_version_id, active_version,
                  sizeof active_version, state, sizeof state) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (set ? current == (int)tag : current != (int)tag)
        return 0; /* nothing to do: a repeated PUT or DELETE */
    const char *name = cn_store_tag_name(tag);
    if (!active_ok && active &&
        (tag == CN_STORE_TAG_STABLE || version_id == active_version_id))
        return cn_store__failf(
            s->path, err, errlen, CN_ECONFLICT,
            "model '%s' has an active rollout %lld of version '%s' (%s): %s",
            Q(q1, model), (long long)active, Q(q2, active_version), state,
            tag == CN_STORE_TAG_STABLE
                ? "stable moves when it is promoted, or once it has ended"
                : "the tags of its version change with it; abort it first");
    if (!set && tag == CN_STORE_TAG_STABLE)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "model '%s': version '%s' is its stable version, and a "
                               "model keeps exactly one; tag another version stable "
                               "instead",
                               Q(q1, model), Q(q2, version));
    if (set && tag != CN_STORE_TAG_STABLE && current == CN_STORE_TAG_STABLE)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "model '%s': version '%s' is its stable version, so it "
                               "cannot be %s; tag another version stable first",
                               Q(q1, model), Q(q2, version), name);
    int rc = SQLITE_OK;
    if (!set) {
        rc = cn_store__run(s->db, "DELETE FROM tags WHERE version_id = ?1", "i",
                           version_id);
    } else if (tag == CN_STORE_TAG_STABLE || tag == CN_STORE_TAG_CANDIDATE) {
        rc = holder(s, model_id, tag, prev, sizeof prev);
        /* The version's own tag (a candidate's, a retired one's) gives way. */
        if (rc == SQLITE_OK)
            rc = cn_store__run(s->db, "DELETE FROM tags WHERE version_id = ?1", "i",
                               version_id);
        /* Stable moves by an update: its row may never be deleted. */
        if (rc == SQLITE_OK && tag == CN_STORE_TAG_STABLE && *prev)
            rc =
                cn_store__run(s->db,
                              "UPDATE tags SET version_id = ?1, time_unix_ms = ?2, who "
                              "= ?3 WHERE model_id = ?4 AND tag = 'stable'",
                              "iiti", version_id, now_ms, who, model_id);
        else if (rc == SQLITE_OK && tag == CN_STORE_TAG_CANDIDATE)
            rc = cn_store__run(s->db,
                               "DELETE FROM tags WHERE model_id = ?1 AND tag = "
                               "'production-candidate'",
                               "i", model_id);
        if (rc == SQLITE_OK && !(tag == CN_STORE_TAG_STABLE && *prev))
            rc = cn_store__run(s->db,
                               "INSERT INTO tags (version_id, model_id, tag, "
                               "time_unix_ms, who) VALUES (?1, ?2, ?3, ?4, ?5)",
                               "iitit", version_id, model_id, name, now_ms, who);
    } else {
        rc = cn_store__run(s->db, "DELETE FROM tags WHERE version_id = ?1", "i",
                           version_id);
        if (rc == SQLITE_OK)
            rc = cn_store__run(s->db,
                               "INSERT INTO tags (version_id, model_id, tag, "
                               "time_unix_ms, who) VALUES (?1, ?2, ?3, ?4, ?5)",
                               "iitit", version_id, model_id, name, now_ms, who);
    }
    if (rc != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, what);
    *changed = true;
    if (previous)
        snprintf(previous, CN_VERSION_LABEL_MAX + 1, "%s", prev);
    return 0;
}

int cn_store_tag_set(cn_store_t *s, const char *model, const char *version,
                     cn_store_tag_t tag, bool set, const char *who,
                     cn_store_tag_result_t *result, char *err, size_t errlen)
{
    static const char what[] = "cannot write the tag";
    if (err && errlen)
        err[0] = '\0';
    if (!s || !model || !version)
        return cn_store__failf(s ? s->path : NULL, err, errlen, CN_EINVAL,
                               "bad arguments");
    int rc = cn_store__check_who(s, &who, err, errlen);
    if (rc)
        return rc;
    cn_store_tag_result_t r;
    memset(&r, 0, sizeof r);
    int64_t now_ms = cn_store__now_ms(), model_id, version_id, active_version_id;
    pthread_mutex_lock(&s->lock);
    if ((rc = cn_store__begin(s, what, err, errlen)) == 0) {
        rc = find(s, model, version, &model_id, &version_id, err, errlen);
        if (rc == 0)
            rc = cn_store__tag_write(s, model_id, model, version_id, version, tag, set,
                                     false, now_ms, who, &r.changed, r.previous, err,
                                     errlen);
        if (rc == 0 && active_of(s, model_id, &r.active_rollout, &active_version_id,
                                 r.active_version, sizeof r.active_version,
                                 r.active_state, sizeof r.active_state) != SQLITE_OK)
            rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
        rc = cn_store__end(s, rc, what, err, errlen);
    }
    pthread_mutex_unlock(&s->lock);
    if (rc == 0 && result)
        *result = r;
    return rc;
}
