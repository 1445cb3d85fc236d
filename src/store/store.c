/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state file (see store.h for the contract): SQLite, WAL,
 * synchronous=FULL.
 *
 * Recognising the file. Before anything is written, the file is read: its
 * application_id (a 32-bit field in the SQLite header, 0 unless someone set
 * it) and the list of its tables. Only two cases lead to writing: an empty
 * database (application_id 0 and no tables; this is also what SQLite makes
 * of a path that did not exist, or of a zero-length file), which gets our
 * schema, and a database with our application_id. Even switching the
 * journal mode to WAL is a write, so it waits until the file is known to be
 * ours. Two processes creating the same file at once are serialised by
 * BEGIN IMMEDIATE, and the one that comes second sees the schema the first
 * made and uses it.
 *
 * Schema, version 1:
 *   schema_version(version, applied_unix_ms)   one row per applied version
 *   traffic(id = 1, canary_weight_bp, mode, shadow_bp, force_enabled,
 *           time_unix_ms, who)                 the current split, one row
 *   traffic_history(id, time_unix_ms, canary_weight_bp, mode, shadow_bp,
 *                   force_enabled, who)        every change, oldest first
 * The mode is stored by name ("sticky") so that the file reads well in the
 * sqlite3 shell; CHECK constraints keep hand edits in range, and a loaded
 * row is checked again anyway.
 *
 * A later schema adds an entry to `migrations`: the SQL that takes version
 * N - 1 to N, run in the same transaction as the schema_version row that
 * records it.
 */
#include "store/store.h"
#include "types/types.h"
#include "util/error.h"
#include "util/text.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* How long a call waits for another process's lock before failing. */
#define BUSY_TIMEOUT_MS 5000

/* Longest excerpt of the path quoted in a message. */
#define PATH_QUOTE_MAX 160

struct cn_store_s {
    sqlite3 *db;
    char *path;
    pthread_mutex_t lock;
};

static const char schema_v1[] =
    "CREATE TABLE schema_version (\n"
    "    version INTEGER NOT NULL,\n"
    "    applied_unix_ms INTEGER NOT NULL\n"
    ");\n"
    "CREATE TABLE traffic (\n"
    "    id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "    canary_weight_bp INTEGER NOT NULL\n"
    "        CHECK (canary_weight_bp BETWEEN 0 AND 10000),\n"
    "    mode TEXT NOT NULL CHECK (mode IN ('random', 'sticky', 'shadow')),\n"
    "    shadow_bp INTEGER NOT NULL CHECK (shadow_bp BETWEEN 0 AND 10000),\n"
    "    force_enabled INTEGER NOT NULL CHECK (force_enabled IN (0, 1)),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE traffic_history (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    canary_weight_bp INTEGER NOT NULL,\n"
    "    mode TEXT NOT NULL,\n"
    "    shadow_bp INTEGER NOT NULL,\n"
    "    force_enabled INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n";

/* migrations[v - 2] takes schema v - 1 to v; none yet. */
static const char *const migrations[] = {NULL};

_Static_assert(CN_STORE_SCHEMA_VERSION == 1, "add the migration to `migrations`");

/* ---------------------------------------------------------- messages */

static int failf(const char *path, char *err, size_t errlen, int rc, const char *fmt,
                 ...)
{
    if (!err || errlen == 0)
        return rc;
    char what[512], q[CN_TEXT_QUOTE_BUF(PATH_QUOTE_MAX)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *p = path ? path : "";
    snprintf(err, errlen, "state file '%s': %s",
             cn_text_quote(p, strlen(p), PATH_QUOTE_MAX, q), what);
    return rc;
}

/* "WHAT: sqlite's message", CN_EIO. */
static int fail_db(const char *path, sqlite3 *db, char *err, size_t errlen,
                   const char *what)
{
    const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
    int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys)
        return failf(path, err, errlen, CN_EIO, "%s: %s (%s)", what, msg,
                     strerror(sys));
    return failf(path, err, errlen, CN_EIO, "%s: %s", what, msg);
}

static int64_t now_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ----------------------------------------------------------- helpers */

/* Run SQL without results. 0 or an SQLite code. */
static int exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The one integer a query returns (0 when it returns no row). */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        rc = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Up to three table names, for the refusal of a foreign database. */
static void table_names(sqlite3 *db, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    size_t used = 0;
    buf[0] = '\0';
    if (sqlite3_prepare_v2(db,
                           "SELECT name FROM sqlite_master WHERE type = 'table' "
                           "ORDER BY name LIMIT 4",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    for (int i = 0; sqlite3_step(st) == SQLITE_ROW; i++) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        char q[CN_TEXT_QUOTE_BUF(40)];
        const char *s = name ? (const char *)name : "";
        int w = i == 3 ? snprintf(buf + used, len - used, ", ...")
                       : snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                                  cn_text_quote(s, strlen(s), 40, q));
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    sqlite3_finalize(st);
}

static int set_wal(cn_store_t *s, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return fail_db(s->path, s->db, err, errlen, "cannot set WAL mode");
    rc = sqlite3_step(st);
    const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    int wal = mode && strcmp((const char *)mode, "wal") == 0;
    char got[32];
    snprintf(got, sizeof got, "%s", mode ? (const char *)mode : "");
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return fail_db(s->path, s->db, err, errlen, "cannot set WAL mode");
    if (!wal)
        return failf(s->path, err, errlen, CN_EIO,
                     "cannot use WAL mode (the file system gave journal mode '%s')",
                     got);
    return 0;
}

/* ----------------------------------------------------------- opening */

/* Create schema version 1 in an empty database (in a transaction). */
static int create_schema(cn_store_t *s, char *err, size_t errlen)
{
    char sql[160];
    if (exec(s->db, schema_v1) != SQLITE_OK)
        return fail_db(s->path, s->db, err, errlen, "cannot create the schema");
    snprintf(sql, sizeof sql,
             "PRAGMA application_id = %d;"
             "INSERT INTO schema_version VALUES (%d, %lld);",
             CN_STORE_APPLICATION_ID, CN_STORE_SCHEMA_VERSION,
             (long long)now_unix_ms());
    if (exec(s->db, sql) != SQLITE_OK)
        return fail_db(s->path, s->db, err, errlen, "cannot create the schema");
    return 0;
}

/* Bring a file of ours to the current schema (in a transaction). */
static int migrate(cn_store_t *s, char *err, size_t errlen)
{
    int64_t version;
    if (query_int(s->db, "SELECT max(version) FROM schema_version", &version) !=
        SQLITE_OK)
        return failf(s->path, err, errlen, CN_EINVAL,
                     "not a canary state file (canary's application_id, but no "
                     "schema_version table: %s)",
                     sqlite3_errmsg(s->db));
    if (version > CN_STORE_SCHEMA_VERSION)
        return failf(s->path, err, errlen, CN_EINVAL,
                     "written by a newer canary (schema version %lld; this build "
                     "knows up to %d)",
                     (long long)version, CN_STORE_SCHEMA_VERSION);
    if (version < 1)
        return failf(s->path, err, errlen, CN_EINVAL,
                     "not a canary state file (schema version %lld)",
                     (long long)version);
    for (int64_t v = version + 1; v <= CN_STORE_SCHEMA_VERSION; v++) {
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%lld, %lld);",
                 (long long)v, (long long)now_unix_ms());
        if (exec(s->db, migrations[v - 2]) != SQLITE_OK ||
            exec(s->db, sql) != SQLITE_OK)
            return fail_db(s->path, s->db, err, errlen, "cannot migrate the schema");
    }
    return 0;
}

/*
 * Recognise the file and, if it is empty or ours, bring it to the current
 * schema. Nothing is written before the file is known to be one of these.
 */
static int prepare_file(cn_store_t *s, char *err, size_t errlen)
{
    int64_t app_id, ntables;
    int rc = query_int(s->db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK)
        rc = query_int(s->db, "SELECT count(*) FROM sqlite_master", &ntables);
    if (rc == SQLITE_NOTADB)
        return failf(s->path, err, errlen, CN_EINVAL,
                     "not a canary state file (not a SQLite database)");
    if (rc != SQLITE_OK)
        return fail_db(s->path, s->db, err, errlen, "cannot read");
    int empty = app_id == 0 && ntables == 0;
    if (!empty && app_id != CN_STORE_APPLICATION_ID) {
        char tables[200];
        table_names(s->db, tables, sizeof tables);
        return failf(s->path, err, errlen, CN_EINVAL,
                     "not a canary state file (a SQLite database of another "
                     "application: application_id %lld, tables: %s); refusing to "
                     "change it",
                     (long long)app_id, *tables ? tables : "none");
    }
    if (sqlite3_db_readonly(s->db, "main") == 1)
        return failf(s->path, err, errlen, CN_EIO,
                     "cannot write: the file is read-only");
    if ((rc = set_wal(s, err, errlen)))
        return rc;
    if (exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK)
        return fail_db(s->path, s->db, err, errlen, "cannot lock");
    /* Another process may have made the schema since the first look. */
    rc = query_int(s->db, "SELECT count(*) FROM sqlite_master", &ntables);
    if (rc != SQLITE_OK)
        rc = fail_db(s->path, s->db, err, errlen, "cannot read");
    else if (ntables == 0)
        rc = create_schema(s, err, errlen);
    else
        rc = migrate(s, err, errlen);
    if (rc == 0 && exec(s->db, "COMMIT") != SQLITE_OK)
        rc = fail_db(s->path, s->db, err, errlen, "cannot commit the schema");
    if (rc)
        exec(s->db, "ROLLBACK");
    return rc;
}

int cn_store_open(const char *path, cn_store_t **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return failf(path, err, errlen, CN_EINVAL, "no handle to open into");
    *out = NULL;
    if (!path || !*path)
        return failf(path, err, errlen, CN_EINVAL, "no path given");

    /* SQLite's own messages for these ("unable to open database file",
     * "disk I/O error") do not say what is wrong. */
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return failf(path, err, errlen, CN_EINVAL,
                         "is a directory; expected a file (it is created if absent)");
        if (!S_ISREG(st.st_mode))
            return failf(path, err, errlen, CN_EINVAL, "is not a regular file");
    } else if (errno != ENOENT) {
        return failf(path, err, errlen, CN_EIO, "cannot access: %s", strerror(errno));
    }

    cn_store_t *s = cn_xcalloc(1, sizeof *s);
    size_t n = strlen(path);
    s->path = cn_xmalloc(n + 1);
    memcpy(s->path, path, n + 1);
    pthread_mutex_init(&s->lock, NULL);
    /* NOMUTEX: the store's own mutex serialises every use of the
     * connection, so SQLite's would be a second lock for nothing. */
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
        NULL);
    if (rc != SQLITE_OK) {
        rc = fail_db(path, s->db, err, errlen, "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if ((rc = prepare_file(s, err, errlen)))
        goto fail;
    /* Per connection, not stored in the file: every commit is fsynced,
     * and so is the WAL at checkpoints. */
    if (exec(s->db, "PRAGMA synchronous = FULL") != SQLITE_OK) {
        rc = fail_db(path, s->db, err, errlen, "cannot set synchronous=FULL");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    cn_store_close(s);
    return rc;
}

void cn_store_close(cn_store_t *s)
{
    if (!s)
        return;
    sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s->path);
    free(s);
}

const char *cn_store_path(const cn_store_t *s)
{
    return s ? s->path : NULL;
}

/* ----------------------------------------------------------- traffic */

/* A row's columns (weight, mode, shadow, force) into *t, checked. */
static int row_traffic(cn_store_t *s, sqlite3_stmt *st, int first, cn_traffic_t *t,
                       char *err, size_t errlen)
{
    int64_t weight = sqlite3_column_int64(st, first);
    const unsigned char *mode = sqlite3_column_text(st, first + 1);
    int64_t shadow = sqlite3_column_int64(st, first + 2);
    int64_t force = sqlite3_column_int64(st, first + 3);
    cn_traffic_t r = {0};
    if (weight < 0 || weight > CN_BP_MAX)
        return failf(s->path, err, errlen, CN_EINVAL,
                     "column canary_weight_bp: %lld is out of [0, 10000]",
                     (long long)weight);
    if (shadow < 0 || shadow > CN_BP_MAX)
        return failf(s->path, err, errlen, CN_EINVAL,
                     "column shadow_bp: %lld is out of [0, 10000]", (long long)shadow);
    if (!mode || cn_traffic_mode_parse((const char *)mode, &r.mode))
        return failf(s->path, err, errlen, CN_EINVAL,
                     "column mode: not one of random, sticky, shadow");
    if (force != 0 && force != 1)
        return failf(s->path, err, errlen, CN_EINVAL,
                     "column force_enabled: %lld is not 0 or 1", (long long)force);
    r.canary_weight_bp = (uint16_t)weight;
    r.shadow_bp = (uint16_t)shadow;
    r.force_enabled = force == 1;
    *t = r;
    return 0;
}

int cn_store_load_traffic(cn_store_t *s, cn_traffic_t *out, bool *found, char *err,
                          size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !out || !found)
        return failf(s ? s->path : NULL, err, errlen, CN_EINVAL, "bad arguments");
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT canary_weight_bp, mode, shadow_bp, force_enabled "
                           "FROM traffic WHERE id = 1",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = fail_db(s->path, s->db, err, errlen, "cannot read the traffic split");
        goto out;
    }
    int step = sqlite3_step(st);
    if (step == SQLITE_DONE) {
        *found = false;
    } else if (step != SQLITE_ROW) {
        rc = fail_db(s->path, s->db, err, errlen, "cannot read the traffic split");
    } else {
        cn_traffic_t t;
        if ((rc = row_traffic(s, st, 0, &t, err, errlen)) == 0) {
            *out = t;
            *found = true;
        }
    }
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Bind weight, mode, shadow, force, time and who from position first. */
static int bind_change(sqlite3_stmt *st, int first, const cn_traffic_t *t,
                       int64_t now_ms, const char *who)
{
    int rc = sqlite3_bind_int64(st, first, t->canary_weight_bp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, first + 1, cn_traffic_mode_name(t->mode), -1,
                               SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, first + 2, t->shadow_bp);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, first + 3, t->force_enabled ? 1 : 0);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_int64(st, first + 4, now_ms);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, first + 5, who, -1, SQLITE_TRANSIENT);
    return rc;
}

/* Prepare, bind and run one statement of the save transaction. */
static int run_change(sqlite3 *db, const char *sql, const cn_traffic_t *t,
                      int64_t now_ms, const char *who)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = bind_change(st, 1, t, now_ms, who);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

int cn_store_save_traffic(cn_store_t *s, const cn_traffic_t *t, const char *who,
                          char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !t)
        return failf(s ? s->path : NULL, err, errlen, CN_EINVAL, "bad arguments");
    if (cn_traffic_validate(t))
        return failf(s->path, err, errlen, CN_EINVAL,
                     "refusing to save an out-of-range traffic split (weight %u bp, "
                     "shadow %u bp, mode %d)",
                     (unsigned)t->canary_weight_bp, (unsigned)t->shadow_bp,
                     (int)t->mode);
    if (!who)
        who = "";
    if (strlen(who) > CN_STORE_WHO_MAX)
        return failf(s->path, err, errlen, CN_EINVAL, "who is longer than %d bytes",
                     CN_STORE_WHO_MAX);
    char trim[96];
    snprintf(trim, sizeof trim,
             "DELETE FROM traffic_history WHERE id <= "
             "(SELECT max(id) FROM traffic_history) - %d",
             CN_STORE_HISTORY_MAX);
    int64_t now_ms = now_unix_ms();
    pthread_mutex_lock(&s->lock);
    int rc = 0;
    if (exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK) {
        rc = fail_db(s->path, s->db, err, errlen, "cannot save the traffic split");
        goto out;
    }
    if (run_change(s->db,
                   "INSERT OR REPLACE INTO traffic (id, canary_weight_bp, mode, "
                   "shadow_bp, force_enabled, time_unix_ms, who) "
                   "VALUES (1, ?, ?, ?, ?, ?, ?)",
                   t, now_ms, who) != SQLITE_OK ||
        run_change(s->db,
                   "INSERT INTO traffic_history (canary_weight_bp, mode, shadow_bp, "
                   "force_enabled, time_unix_ms, who) VALUES (?, ?, ?, ?, ?, ?)",
                   t, now_ms, who) != SQLITE_OK ||
        exec(s->db, trim) != SQLITE_OK || exec(s->db, "COMMIT") != SQLITE_OK) {
        rc = fail_db(s->path, s->db, err, errlen, "cannot save the traffic split");
        exec(s->db, "ROLLBACK");
    }
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int cn_store_history(cn_store_t *s, cn_store_change_t *out, size_t max, size_t *n,
                     char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !n || (max && !out))
        return failf(s ? s->path : NULL, err, errlen, CN_EINVAL, "bad arguments");
    *n = 0;
    if (max > INT32_MAX)
        max = INT32_MAX;
    pthread_mutex_lock(&s->lock);
    sqlite3_stmt *st = NULL;
    int rc = 0, step;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, time_unix_ms, canary_weight_bp, mode, "
                           "shadow_bp, force_enabled, who FROM ("
                           "SELECT * FROM traffic_history ORDER BY id DESC LIMIT ?)"
                           " ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK ||
        sqlite3_bind_int64(st, 1, (sqlite3_int64)max) != SQLITE_OK) {
        rc = fail_db(s->path, s->db, err, errlen, "cannot read the history");
        goto out;
    }
    size_t got = 0;
    while (got < max && (step = sqlite3_step(st)) == SQLITE_ROW) {
        cn_store_change_t *c = &out[got];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        c->time_unix_ms = sqlite3_column_int64(st, 1);
        if ((rc = row_traffic(s, st, 2, &c->traffic, err, errlen)))
            goto out;
        const unsigned char *who = sqlite3_column_text(st, 6);
        snprintf(c->who, sizeof c->who, "%s", who ? (const char *)who : "");
        got++;
    }
    if (got < max && step != SQLITE_DONE) {
        rc = fail_db(s->path, s->db, err, errlen, "cannot read the history");
        goto out;
    }
    *n = got;
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}
