/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state file's core (see store.h for the contract): opening,
 * recognising the file, the schema and its migrations, and the helpers
 * that traffic.c and versions.c share (messages, transactions).
 *
 * Recognising the file. Nothing is written, and SQLite does not open the
 * file, before it is known to be ours or empty:
 *  1. stat(2): a directory or a device is refused; a missing path is
 *     created here with open(O_CREAT | O_EXCL), so that a failure is
 *     reported with its real reason (SQLite says "unable to open database
 *     file", and its saved errno can be that of a later probe, e.g. ENOENT
 *     for a read-only directory).
 *  2. The 100-byte SQLite header, read with read(2): not "SQLite format 3"
 *     is refused; so is an application_id other than 0 and ours, or a
 *     user_version other than 0 (we never set one, so another application
 *     did, even if it has no tables yet).
 *  3. The file and its directory must be writable by this process (WAL
 *     needs -wal and -shm files beside it). Checked before SQLite opens
 *     the file: a read-only connection to a WAL database creates -wal and
 *     -shm files that it cannot remove.
 *  4. SQLite opens it and reads the schema: an empty database
 *     (application_id 0, no tables) gets our schema; ours is migrated;
 *     anything else (tables of another application) is refused. Until the
 *     file is known to be ours the connection does not checkpoint on
 *     close, so even a foreign WAL database's main file is not written.
 * Even switching the journal mode to WAL is a write, so it waits until
 * step 4 has decided. Two processes creating the same file at once are
 * serialised by BEGIN IMMEDIATE; the second sees the schema the first made
 * and uses it.
 *
 * Schema. A new file gets version 1 and then every migration, so that a
 * file created today and one migrated from an old release have the same
 * tables, made by the same statements.
 *   version 1:
 *     schema_version(version, applied_unix_ms)   one row per applied version
 *     traffic(id = 1, canary_weight_bp, mode, shadow_bp, force_enabled,
 *             time_unix_ms, who)                 the current split, one row
 *     traffic_history(id, time_unix_ms, canary_weight_bp, mode, shadow_bp,
 *                     force_enabled, who)        every change, oldest first
 *   version 2 adds:
 *     traffic.generation, traffic_history.generation (0 for older rows)
 *     versions(role, version, addresses, generation, time_unix_ms, who)
 *                                                the current sets, one row
 *                                                per role
 *     versions_history(id, time_unix_ms, generation, changed,
 *                      stable_version, stable_addresses, canary_version,
 *                      canary_addresses, who)    every saved generation
 *   version 3 adds the registry and the rollouts (see migrate_v3):
 *     models(id, name, created_unix_ms, created_by)
 *     model_versions(id, model_id, version, addresses, artifact_uri,
 *                    metadata, created_unix_ms, created_by)
 *     tags(version_id, model_id, tag, time_unix_ms, who)
 *     rollouts(id, model_id, version_id, baseline_version_id, state,
 *              resume_state, step_index, weight_bp, dry_run,
 *              analysis_attempts, generation, reason, strategy, machine,
 *              created_by, started_unix_ms, updated_unix_ms,
 *              step_started_unix_ms, ended_unix_ms, audit_seq)
 *     rollout_audit(rollout_id, seq, time_unix_ms, actor, kind, state,
 *                   step_index, weight_bp, reason, payload)
 *   version 4 adds the notification outbox (see migrate_v4):
 *     notify_outbox(id, event_id, target, event, created_unix_ms)
 * Modes and roles are stored by name ("sticky"), addresses as a JSON array
 * of strings, so that the file reads well in the sqlite3 shell; CHECK
 * constraints keep hand edits in range, and a loaded row is checked again
 * anyway.
 *
 * A later schema adds an entry to `migrations`: the SQL that takes version
 * N - 1 to N, run in the same transaction as the schema_version row that
 * records it, and a test that migrates a file of version N - 1.
 */
#include "store/internal.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/text.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a call waits for another process's lock before failing. */
#define BUSY_TIMEOUT_MS 5000

/* Pause between attempts to switch to WAL while another connection holds
 * the lock it needs. */
#define WAL_RETRY_MS 10

/* Longest excerpt of the path quoted in a message. */
#define PATH_QUOTE_MAX 160

/* Mode of a state file this module creates (less the umask), as SQLite's
 * default: the file holds no secret. */
#define CREATE_MODE 0644

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

/* Version 1 to 2: generation numbers, the version sets and their history.
 * `changed` lists the roles whose set differs from the one saved before,
 * separated by a space ("stable canary"), "" for none. */
static const char migrate_v2[] =
    "ALTER TABLE traffic ADD COLUMN generation INTEGER NOT NULL DEFAULT 0\n"
    "    CHECK (generation >= 0);\n"
    "ALTER TABLE traffic_history ADD COLUMN generation INTEGER NOT NULL\n"
    "    DEFAULT 0;\n"
    "CREATE TABLE versions (\n"
    "    role TEXT PRIMARY KEY CHECK (role IN ('stable', 'canary')),\n"
    "    version TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 63),\n"
    "    addresses TEXT NOT NULL CHECK (json_type(addresses) = 'array'),\n"
    "    generation INTEGER NOT NULL CHECK (generation >= 0),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE versions_history (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    generation INTEGER NOT NULL,\n"
    "    changed TEXT NOT NULL,\n"
    "    stable_version TEXT NOT NULL,\n"
    "    stable_addresses TEXT NOT NULL,\n"
    "    canary_version TEXT NOT NULL,\n"
    "    canary_addresses TEXT NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n";

/*
 * Version 2 to 3: the model registry and the rollout records.
 *
 * A version has at most one tag (its status: a version that is stable is
 * neither a candidate nor rolled back nor retired), so tags is keyed by
 * the version. The rules that involve several rows are enforced here, not
 * only in C, so that no writer (nor a hand edit with foreign keys on)
 * can break them:
 *  - every model that has a version has exactly one stable version: at
 *    most one by a partial unique index; at least one because a model's
 *    first version is made stable by a trigger, and the stable row can
 *    only be moved (an UPDATE of its version_id), never deleted or
 *    re-tagged;
 *  - at most one production candidate per model (partial unique index);
 *  - a tag and a rollout name a version of their own model;
 *  - at most one active rollout per model (partial unique index over the
 *    states that are not final);
 *  - the audit trail is append-only (no UPDATE, no DELETE) and numbered
 *    1, 2, 3, ... per rollout without a gap, and rollouts.audit_seq is
 *    the number of its last entry (a trigger keeps it so).
 * Addresses, metadata, the strategy and audit payloads are JSON text, so
 * the file reads well in the sqlite3 shell.
 */
static const char migrate_v3[] =
    "CREATE TABLE models (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 63),\n"
    "    created_unix_ms INTEGER NOT NULL,\n"
    "    created_by TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE model_versions (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    model_id INTEGER NOT NULL REFERENCES models (id),\n"
    "    version TEXT NOT NULL CHECK (length(version) BETWEEN 1 AND 63),\n"
    "    addresses TEXT NOT NULL\n"
    "        CHECK (json_valid(addresses) AND json_type(addresses) = 'array'),\n"
    "    artifact_uri TEXT NOT NULL,\n"
    "    metadata TEXT NOT NULL\n"
    "        CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),\n"
    "    created_unix_ms INTEGER NOT NULL,\n"
    "    created_by TEXT NOT NULL,\n"
    "    UNIQUE (model_id, version)\n"
    ");\n"
    "CREATE TABLE tags (\n"
    "    version_id INTEGER PRIMARY KEY REFERENCES model_versions (id),\n"
    "    model_id INTEGER NOT NULL REFERENCES models (id),\n"
    "    tag TEXT NOT NULL CHECK (tag IN ('stable', 'production-candidate',\n"
    "                                     'rolled-back', 'retired')),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n"
    "CREATE UNIQUE INDEX tags_one_stable ON tags (model_id) WHERE tag = 'stable';\n"
    "CREATE UNIQUE INDEX tags_one_candidate ON tags (model_id)\n"
    "    WHERE tag = 'production-candidate';\n"
    "CREATE TRIGGER tags_insert_same_model BEFORE INSERT ON tags\n"
    "    WHEN NEW.model_id IS NOT\n"
    "        (SELECT model_id FROM model_versions WHERE id = NEW.version_id)\n"
    "BEGIN SELECT RAISE(ABORT, 'tags: a tag names a version of its own model'); END;\n"
    "CREATE TRIGGER tags_update_same_model BEFORE UPDATE ON tags\n"
    "    WHEN NEW.model_id IS NOT\n"
    "        (SELECT model_id FROM model_versions WHERE id = NEW.version_id)\n"
    "BEGIN SELECT RAISE(ABORT, 'tags: a tag names a version of its own model'); END;\n"
    "CREATE TRIGGER tags_stable_is_kept BEFORE DELETE ON tags WHEN OLD.tag = 'stable'\n"
    "BEGIN SELECT RAISE(ABORT, 'tags: a model keeps exactly one stable version');\n"
    "END;\n"
    "CREATE TRIGGER tags_stable_stays_stable BEFORE UPDATE OF tag, model_id ON tags\n"
    "    WHEN OLD.tag = 'stable' AND\n"
    "        (NEW.tag IS NOT 'stable' OR NEW.model_id IS NOT OLD.model_id)\n"
    "BEGIN SELECT RAISE(ABORT, 'tags: a model keeps exactly one stable version');\n"
    "END;\n"
    "CREATE TRIGGER model_versions_first_is_stable AFTER INSERT ON model_versions\n"
    "    WHEN NOT EXISTS (SELECT 1 FROM tags WHERE model_id = NEW.model_id\n"
    "                     AND tag = 'stable')\n"
    "BEGIN INSERT INTO tags VALUES (NEW.id, NEW.model_id, 'stable',\n"
    "                               NEW.created_unix_ms, NEW.created_by); END;\n"
    "CREATE TABLE rollouts (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    model_id INTEGER NOT NULL REFERENCES models (id),\n"
    "    version_id INTEGER NOT NULL REFERENCES model_versions (id),\n"
    "    baseline_version_id INTEGER REFERENCES model_versions (id),\n"
    "    state TEXT NOT NULL CHECK (state IN ('pending', 'warmup', 'progressing',\n"
    "        'paused', 'holding', 'promoting', 'promoted', 'rolling-back',\n"
    "        'rolled-back', 'aborted')),\n"
    "    resume_state TEXT CHECK (resume_state IS NULL OR resume_state IN (\n"
    "        'pending', 'warmup', 'progressing', 'paused', 'holding',\n"
    "        'promoting', 'rolling-back')),\n"
    "    step_index INTEGER NOT NULL CHECK (step_index BETWEEN 0 AND 65535),\n"
    "    weight_bp INTEGER NOT NULL CHECK (weight_bp BETWEEN 0 AND 10000),\n"
    "    dry_run INTEGER NOT NULL CHECK (dry_run IN (0, 1)),\n"
    "    analysis_attempts INTEGER NOT NULL\n"
    "        CHECK (analysis_attempts BETWEEN 0 AND 65535),\n"
    "    generation INTEGER NOT NULL CHECK (generation >= 0),\n"
    "    reason TEXT NOT NULL,\n"
    "    strategy TEXT CHECK (strategy IS NULL OR json_valid(strategy)),\n"
    "    machine TEXT CHECK (machine IS NULL OR json_valid(machine)),\n"
    "    created_by TEXT NOT NULL,\n"
    "    started_unix_ms INTEGER NOT NULL,\n"
    "    updated_unix_ms INTEGER NOT NULL,\n"
    "    step_started_unix_ms INTEGER NOT NULL,\n"
    "    ended_unix_ms INTEGER,\n"
    "    audit_seq INTEGER NOT NULL DEFAULT 0 CHECK (audit_seq >= 0),\n"
    "    CHECK ((ended_unix_ms IS NULL) =\n"
    "           (state NOT IN ('promoted', 'rolled-back', 'aborted')))\n"
    ");\n"
    "CREATE UNIQUE INDEX rollouts_one_active ON rollouts (model_id)\n"
    "    WHERE state NOT IN ('promoted', 'rolled-back', 'aborted');\n"
    "CREATE INDEX rollouts_by_model ON rollouts (model_id, id);\n"
    "CREATE TRIGGER rollouts_insert_same_model BEFORE INSERT ON rollouts\n"
    "    WHEN NEW.model_id IS NOT\n"
    "        (SELECT model_id FROM model_versions WHERE id = NEW.version_id)\n"
    "BEGIN SELECT RAISE(ABORT, 'rollouts: a rollout names a version of its model');\n"
    "END;\n"
    "CREATE TRIGGER rollouts_identity_is_fixed BEFORE UPDATE OF model_id, version_id,\n"
    "    baseline_version_id, dry_run, created_by, started_unix_ms ON rollouts\n"
    "    WHEN NEW.model_id IS NOT OLD.model_id OR NEW.version_id IS NOT "
    "OLD.version_id\n"
    "        OR NEW.baseline_version_id IS NOT OLD.baseline_version_id\n"
    "        OR NEW.dry_run IS NOT OLD.dry_run OR NEW.created_by IS NOT "
    "OLD.created_by\n"
    "        OR NEW.started_unix_ms IS NOT OLD.started_unix_ms\n"
    "BEGIN SELECT RAISE(ABORT, 'rollouts: what a rollout rolls out never changes');\n"
    "END;\n"
    "CREATE TABLE rollout_audit (\n"
    "    rollout_id INTEGER NOT NULL REFERENCES rollouts (id),\n"
    "    seq INTEGER NOT NULL CHECK (seq >= 1),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    actor TEXT NOT NULL,\n"
    "    kind TEXT NOT NULL\n"
    "        CHECK (kind IN ('transition', 'analysis', 'trigger', 'manual')),\n"
    "    state TEXT NOT NULL,\n"
    "    step_index INTEGER NOT NULL,\n"
    "    weight_bp INTEGER NOT NULL,\n"
    "    reason TEXT NOT NULL,\n"
    "    payload TEXT CHECK (payload IS NULL OR json_valid(payload)),\n"
    "    PRIMARY KEY (rollout_id, seq)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TRIGGER rollout_audit_in_order BEFORE INSERT ON rollout_audit\n"
    "    WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM rollout_audit\n"
    "                         WHERE rollout_id = NEW.rollout_id)\n"
    "BEGIN SELECT RAISE(ABORT, 'rollout_audit: entries are numbered 1, 2, 3, ... per "
    "rollout');\n"
    "END;\n"
    "CREATE TRIGGER rollout_audit_seq AFTER INSERT ON rollout_audit\n"
    "BEGIN UPDATE rollouts SET audit_seq = NEW.seq WHERE id = NEW.rollout_id; END;\n"
    "CREATE TRIGGER rollout_audit_no_update BEFORE UPDATE ON rollout_audit\n"
    "BEGIN SELECT RAISE(ABORT, 'rollout_audit: the audit trail is append-only'); END;\n"
    "CREATE TRIGGER rollout_audit_no_delete BEFORE DELETE ON rollout_audit\n"
    "BEGIN SELECT RAISE(ABORT, 'rollout_audit: the audit trail is append-only'); END;\n"
    "CREATE TRIGGER rollouts_seq_follows_audit BEFORE UPDATE OF audit_seq ON rollouts\n"
    "    WHEN NEW.audit_seq IS NOT (SELECT coalesce(max(seq), 0) FROM rollout_audit\n"
    "                               WHERE rollout_id = NEW.id)\n"
    "BEGIN SELECT RAISE(ABORT, 'rollouts: audit_seq is the last audit entry'); END;\n";

/* Version 3 to 4: the notification outbox (store.h, "outbox"). One row
 * per event and target, written in the transaction of the audit entry of
 * the change that caused it and deleted when the target took it, so an
 * event not yet delivered survives a crash. The ids only grow
 * (AUTOINCREMENT): the delivery thread reads the rows after the last one
 * it has. event_id is the same for every target of one event. */
static const char migrate_v4[] =
    "CREATE TABLE notify_outbox (\n"
    "    id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "    event_id TEXT NOT NULL,\n"
    "    target TEXT NOT NULL CHECK (length(target) BETWEEN 1 AND 200),\n"
    "    event TEXT NOT NULL\n"
    "        CHECK (json_valid(event) AND json_type(event) = 'object'),\n"
    "    created_unix_ms INTEGER NOT NULL,\n"
    "    UNIQUE (event_id, target)\n"
    ");\n";

/* migrations[v - 2] takes schema v - 1 to v. */
/* Version 4 to 5: each model's own generation (store.h,
 * cn_store_scope_model), for a controller that drives several models
 * (canary control): the split and both sets of one model per row, the
 * numbers growing per model. The file's one generation (traffic,
 * versions) stays what `canary serve` keeps. */
static const char migrate_v5[] =
    "CREATE TABLE model_generations (\n"
    "    model TEXT PRIMARY KEY CHECK (length(model) BETWEEN 1 AND 63),\n"
    "    generation INTEGER NOT NULL CHECK (generation >= 1),\n"
    "    canary_weight_bp INTEGER NOT NULL\n"
    "        CHECK (canary_weight_bp BETWEEN 0 AND 10000),\n"
    "    mode TEXT NOT NULL CHECK (mode IN ('random', 'sticky', 'shadow')),\n"
    "    shadow_bp INTEGER NOT NULL CHECK (shadow_bp BETWEEN 0 AND 10000),\n"
    "    force_enabled INTEGER NOT NULL CHECK (force_enabled IN (0, 1)),\n"
    "    stable_version TEXT NOT NULL,\n"
    "    stable_addresses TEXT NOT NULL CHECK (json_type(stable_addresses) = "
    "'array'),\n"
    "    canary_version TEXT NOT NULL,\n"
    "    canary_addresses TEXT NOT NULL CHECK (json_type(canary_addresses) = "
    "'array'),\n"
    "    time_unix_ms INTEGER NOT NULL,\n"
    "    who TEXT NOT NULL\n"
    ");\n";

static const char *const migrations[] = {migrate_v2, migrate_v3, migrate_v4,
                                         migrate_v5};

_Static_assert(sizeof migrations / sizeof migrations[0] == CN_STORE_SCHEMA_VERSION - 1,
               "one migration per schema version after the first");

/* ---------------------------------------------------------- messages */

int cn_store__failf(const char *path, char *err, size_t errlen, int rc, const char *fmt,
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

int cn_store__fail_db(const char *path, sqlite3 *db, char *err, size_t errlen,
                      const char *what)
{
    const char *msg = db ? sqlite3_errmsg(db) : "out of memory";
    int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys)
        return cn_store__failf(path, err, errlen, CN_EIO, "%s: %s (%s)", what, msg,
                               strerror(sys));
    return cn_store__failf(path, err, errlen, CN_EIO, "%s: %s", what, msg);
}

int64_t cn_store__now_ms(void)
{
    return cn_clock_unix_ms();
}

/* ----------------------------------------------------------- helpers */

int cn_store__exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

int cn_store__query_int(sqlite3 *db, const char *sql, int64_t *out)
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

int cn_store__check_who(const cn_store_t *s, const char **who, char *err, size_t errlen)
{
    if (!*who)
        *who = "";
    if (strlen(*who) > CN_STORE_WHO_MAX)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "who is longer than %d bytes", CN_STORE_WHO_MAX);
    return 0;
}

int cn_store__begin(cn_store_t *s, const char *what, char *err, size_t errlen)
{
    if (cn_store__exec(s->db, "BEGIN IMMEDIATE") != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, what);
    return 0;
}

int cn_store__end(cn_store_t *s, int rc, const char *what, char *err, size_t errlen)
{
    if (rc == 0 && cn_store__exec(s->db, "COMMIT") != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, what);
    if (rc)
        cn_store__exec(s->db, "ROLLBACK");
    return rc;
}

static int bind_all(sqlite3_stmt *st, const char *types, va_list ap)
{
    int rc = SQLITE_OK;
    for (int i = 0; rc == SQLITE_OK && types[i]; i++) {
        if (types[i] == 't') {
            const char *text = va_arg(ap, const char *);
            rc = text ? sqlite3_bind_text(st, i + 1, text, -1, SQLITE_TRANSIENT)
                      : sqlite3_bind_null(st, i + 1);
        } else {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        }
    }
    return rc;
}

int cn_store__prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql,
                      const char *types, ...)
{
    *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    if (rc == SQLITE_OK) {
        va_list ap;
        va_start(ap, types);
        rc = bind_all(*st, types, ap);
        va_end(ap);
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return rc;
}

int cn_store__run(sqlite3 *db, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        va_list ap;
        va_start(ap, types);
        rc = bind_all(st, types, ap);
        va_end(ap);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : sqlite3_errcode(db);
    }
    sqlite3_finalize(st);
    return rc;
}

const char *cn_store__column_text(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? (const char *)t : "";
}

const char *cn_store__text_problem(const char *text, size_t max, bool may_be_empty)
{
    if (!text || !*text)
        return may_be_empty ? NULL : "is empty";
    size_t n = strlen(text);
    if (n > max) {
        /* The limits are the store's constants; name the one that applies. */
        return max == CN_STORE_REASON_MAX     ? "is longer than 1000 bytes"
               : max == CN_STORE_ARTIFACT_MAX ? "is longer than 1024 bytes"
               : max == CN_STORE_NAME_MAX     ? "is longer than 63 bytes"
               : max == CN_STORE_WHO_MAX      ? "is longer than 200 bytes"
                                              : "is too long";
    }
    for (size_t i = 0; i < n;) {
        size_t len = cn_text_utf8_len(text + i, n - i);
        if (len == 0)
            return "is not valid UTF-8";
        if (len == 1 && ((unsigned char)text[i] < 0x20 || text[i] == 0x7f))
            return "holds a control character";
        i += len;
    }
    return NULL;
}

bool cn_store__is_constraint(int rc)
{
    return (rc & 0xff) == SQLITE_CONSTRAINT;
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
        return cn_store__fail_db(s->path, s->db, err, errlen, "cannot set WAL mode");
    /* While another connection switches the file to WAL, this can be
     * SQLITE_BUSY without the busy handler being asked (SQLite does not
     * wait where waiting could deadlock), so wait here, as long as the
     * busy timeout would. */
    for (int waited_ms = 0;; waited_ms += WAL_RETRY_MS) {
        rc = sqlite3_step(st);
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
            break;
        sqlite3_reset(st);
        sqlite3_sleep(WAL_RETRY_MS);
    }
    const unsigned char *mode = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
    int wal = mode && strcmp((const char *)mode, "wal") == 0;
    char got[32];
    snprintf(got, sizeof got, "%s", mode ? (const char *)mode : "");
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return cn_store__fail_db(s->path, s->db, err, errlen, "cannot set WAL mode");
    if (!wal)
        return cn_store__failf(
            s->path, err, errlen, CN_EIO,
            "cannot use WAL mode (the file system gave journal mode '%s')", got);
    return 0;
}

/* ------------------------------------------------------ before SQLite */

/* Big-endian 32-bit field of the SQLite header. */
static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Steps 1 to 3 of the recognition (see the top of the file). Returns 0
 * when SQLite may open path, or a refusal.
 */
static int check_path(const char *path, bool *had_wal, char *err, size_t errlen)
{
    struct stat st;
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    *had_wal = lstat(wal, &st) == 0;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT)
            return cn_store__failf(path, err, errlen, CN_EIO, "cannot access: %s",
                                   strerror(errno));
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, CREATE_MODE);
        if (fd < 0 && errno != EEXIST) /* EEXIST: another process was first */
            return cn_store__failf(path, err, errlen, CN_EIO, "cannot create: %s",
                                   strerror(errno));
        if (fd >= 0)
            close(fd);
        if (stat(path, &st) != 0)
            return cn_store__failf(path, err, errlen, CN_EIO, "cannot access: %s",
                                   strerror(errno));
    }
    if (S_ISDIR(st.st_mode))
        return cn_store__failf(
            path, err, errlen, CN_EINVAL,
            "is a directory; expected a file (it is created if absent)");
    if (!S_ISREG(st.st_mode))
        return cn_store__failf(path, err, errlen, CN_EINVAL, "is not a regular file");

    unsigned char h[100];
    ssize_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cn_store__failf(path, err, errlen, CN_EIO, "cannot read: %s",
                               strerror(errno));
    while ((size_t)got < sizeof h) {
        ssize_t r = read(fd, h + got, sizeof h - (size_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            return cn_store__failf(path, err, errlen, CN_EIO, "cannot read: %s",
                                   strerror(e));
        }
        if (r == 0)
            break;
        got += r;
    }
    close(fd);
    if (got > 0) {
        if ((size_t)got < sizeof h || memcmp(h, "SQLite format 3", 16) != 0)
            return cn_store__failf(path, err, errlen, CN_EINVAL,
                                   "not a canary state file (not a SQLite database)");
        uint32_t user_version = be32(h + 60), app_id = be32(h + 68);
        if (app_id != 0 && app_id != CN_STORE_APPLICATION_ID)
            return cn_store__failf(path, err, errlen, CN_EINVAL,
                                   "not a canary state file (a SQLite database of "
                                   "another application: application_id %ld); "
                                   "refusing to change it",
                                   (long)(int32_t)app_id);
        if (user_version != 0 && app_id != CN_STORE_APPLICATION_ID)
            return cn_store__failf(path, err, errlen, CN_EINVAL,
                                   "not a canary state file (a SQLite database of "
                                   "another application: user_version %ld); "
                                   "refusing to change it",
                                   (long)(int32_t)user_version);
    }

    /* Effective IDs: what open(2) will check. */
    if (faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) != 0)
        return cn_store__failf(path, err, errlen, CN_EIO,
                               "cannot write: %s (the state file must be writable)",
                               strerror(errno));
    char *copy = cn_xstrdup(path);
    const char *dir = dirname(copy);
    int rc = 0;
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0) {
        char q[CN_TEXT_QUOTE_BUF(PATH_QUOTE_MAX)];
        rc = cn_store__failf(path, err, errlen, CN_EIO,
                             "cannot write in the directory '%s': %s (its -wal and "
                             "-shm files are made beside it)",
                             cn_text_quote(dir, strlen(dir), PATH_QUOTE_MAX, q),
                             strerror(errno));
    }
    free(copy);
    return rc;
}

/* ----------------------------------------------------------- opening */

/* Create schema version 1 in an empty database (in a transaction). */
static int create_schema(cn_store_t *s, char *err, size_t errlen)
{
    char sql[160];
    if (cn_store__exec(s->db, schema_v1) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen,
                                 "cannot create the schema");
    snprintf(sql, sizeof sql,
             "PRAGMA application_id = %d;"
             "INSERT INTO schema_version VALUES (1, %lld);",
             CN_STORE_APPLICATION_ID, (long long)cn_store__now_ms());
    if (cn_store__exec(s->db, sql) != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen,
                                 "cannot create the schema");
    return 0;
}

/* Bring a file of ours to the current schema (in a transaction). */
static int migrate(cn_store_t *s, char *err, size_t errlen)
{
    int64_t version;
    if (cn_store__query_int(s->db, "SELECT max(version) FROM schema_version",
                            &version) != SQLITE_OK)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "not a canary state file (canary's application_id, "
                               "but no schema_version table: %s)",
                               sqlite3_errmsg(s->db));
    if (version > CN_STORE_SCHEMA_VERSION)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "written by a newer canary (schema version %lld; this "
                               "build knows up to %d)",
                               (long long)version, CN_STORE_SCHEMA_VERSION);
    if (version < 1)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "not a canary state file (schema version %lld)",
                               (long long)version);
    for (int64_t v = version + 1; v <= CN_STORE_SCHEMA_VERSION; v++) {
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO schema_version VALUES (%lld, %lld);",
                 (long long)v, (long long)cn_store__now_ms());
        if (cn_store__exec(s->db, migrations[v - 2]) != SQLITE_OK ||
            cn_store__exec(s->db, sql) != SQLITE_OK) {
            char what[64];
            snprintf(what, sizeof what, "cannot migrate the schema to version %lld",
                     (long long)v);
            return cn_store__fail_db(s->path, s->db, err, errlen, what);
        }
    }
    return 0;
}

/*
 * Step 4 of the recognition: if the database is empty or ours, bring it to
 * the current schema.
 */
static int prepare_file(cn_store_t *s, char *err, size_t errlen)
{
    int64_t app_id = 0, user_version = 0, ntables = 0;
    /* One read transaction: a process creating the file at the same time
     * commits the application_id and the tables together, and reading
     * them from two snapshots could see its tables without its id. */
    int rc = cn_store__exec(s->db, "BEGIN");
    if (rc == SQLITE_OK)
        rc = cn_store__query_int(s->db, "PRAGMA application_id", &app_id);
    if (rc == SQLITE_OK)
        rc = cn_store__query_int(s->db, "PRAGMA user_version", &user_version);
    if (rc == SQLITE_OK)
        rc = cn_store__query_int(s->db, "SELECT count(*) FROM sqlite_master", &ntables);
    if (!sqlite3_get_autocommit(s->db))
        cn_store__exec(s->db, "COMMIT");
    if ((rc & 0xff) == SQLITE_NOTADB)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "not a canary state file (not a SQLite database)");
    if ((rc & 0xff) == SQLITE_CORRUPT)
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "not a usable state file (%s); refusing to change it",
                               sqlite3_errmsg(s->db));
    if (rc != SQLITE_OK)
        return cn_store__fail_db(s->path, s->db, err, errlen, "cannot read");
    /* The header was checked before; these see a WAL's newer values. */
    if (app_id != CN_STORE_APPLICATION_ID && (app_id != 0 || user_version != 0)) {
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "not a canary state file (a SQLite database of "
                               "another application: application_id %lld, "
                               "user_version %lld); refusing to change it",
                               (long long)app_id, (long long)user_version);
    }
    if (app_id != CN_STORE_APPLICATION_ID && ntables != 0) {
        char tables[200];
        table_names(s->db, tables, sizeof tables);
        return cn_store__failf(s->path, err, errlen, CN_EINVAL,
                               "not a canary state file (a SQLite database of "
                               "another application: application_id %lld, tables: "
                               "%s); refusing to change it",
                               (long long)app_id, *tables ? tables : "none");
    }
    if ((rc = set_wal(s, err, errlen)))
        return rc;
    if ((rc = cn_store__begin(s, "cannot lock", err, errlen)))
        return rc;
    /* Another process may have made the schema since the first look. */
    rc = cn_store__query_int(s->db, "SELECT count(*) FROM sqlite_master", &ntables);
    if (rc != SQLITE_OK)
        rc = cn_store__fail_db(s->path, s->db, err, errlen, "cannot read");
    else if (ntables == 0)
        rc = create_schema(s, err, errlen);
    if (rc == 0)
        rc = migrate(s, err, errlen);
    return cn_store__end(s, rc, "cannot commit the schema", err, errlen);
}

int cn_store_open(const char *path, cn_store_t **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return cn_store__failf(path, err, errlen, CN_EINVAL, "no handle to open into");
    *out = NULL;
    if (!path || !*path)
        return cn_store__failf(path, err, errlen, CN_EINVAL, "no path given");
    bool had_wal = false;
    int rc = check_path(path, &had_wal, err, errlen);
    if (rc)
        return rc;

    cn_store_t *s = cn_xcalloc(1, sizeof *s);
    s->path = cn_xstrdup(path);
    pthread_mutex_init(&s->lock, NULL);
    /* NOMUTEX: the store's own mutex serialises every use of the
     * connection, so SQLite's would be a second lock for nothing. Without
     * CREATE: check_path made the file, and a path that vanished since is
     * an error, not a new file. */
    rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                         NULL);
    if (rc != SQLITE_OK) {
        rc = cn_store__fail_db(path, s->db, err, errlen, "cannot open");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* SQLite falls back to read-only when it cannot open for writing (a
     * read-only mount). Refuse before the first read, which would make
     * -wal and -shm files it could not remove. */
    if (sqlite3_db_readonly(s->db, "main") == 1) {
        rc = cn_store__failf(path, err, errlen, CN_EIO,
                             "cannot write: the file is read-only");
        goto fail;
    }
    /* Not until the file is known to be ours: closing would checkpoint,
     * which writes the main file of a foreign WAL database. */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    if ((rc = prepare_file(s, err, errlen)))
        goto fail;
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
    /* Per connection, not stored in the file: every commit is fsynced,
     * and so is the WAL at checkpoints; the registry's references (a tag,
     * a rollout, an audit entry naming a row that exists) are checked. */
    if (cn_store__exec(s->db, "PRAGMA synchronous = FULL") != SQLITE_OK) {
        rc = cn_store__fail_db(path, s->db, err, errlen, "cannot set synchronous=FULL");
        goto fail;
    }
    if (cn_store__exec(s->db, "PRAGMA foreign_keys = ON") != SQLITE_OK) {
        rc = cn_store__fail_db(path, s->db, err, errlen, "cannot set foreign_keys=ON");
        goto fail;
    }
    *out = s;
    return 0;
fail:
    /* A refused file is left as it was found. With no -wal before us, the
     * WAL holds nothing of anyone's (another process would hold its own
     * connection, and then this close checkpoints nothing), so let the
     * close remove the -wal and -shm files that our reads made. */
    if (s->db && !had_wal)
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
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
    free(s->scope);
    free(s);
}

const char *cn_store_path(const cn_store_t *s)
{
    return s ? s->path : NULL;
}
