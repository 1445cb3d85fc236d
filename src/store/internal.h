/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the store's files share and nobody else may use: the handle, the
 * one-line error messages, and small SQLite helpers. core.c opens,
 * recognises and migrates the file; traffic.c and versions.c read and
 * write their tables through these. Functions named cn_store__* expect the
 * caller to hold s->lock unless they say otherwise. registry.c (models,
 * versions, tags) and rollouts.c (rollouts and their audit trail) share
 * the tag writer, so that a rollout's state change and the tags it moves
 * are written in one transaction.
 */
#ifndef CN_STORE_INTERNAL_H
#define CN_STORE_INTERNAL_H

#include "store/store.h"
#include "types/types.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cn_store_s {
    sqlite3 *db;
    char *path; /* owned */
    pthread_mutex_t lock;
    char *scope; /* owned; the model whose generation this handle keeps
                    (cn_store_scope_model), or NULL: the file's one */
};

/* A row's columns (weight, mode, shadow, force) from column `first` into
 * *t, checked: 0 or CN_EINVAL naming the column (traffic.c). */
int cn_store__row_traffic(cn_store_t *s, sqlite3_stmt *st, int first, cn_traffic_t *t,
                          char *err, size_t errlen);

/* A scoped handle's generation (scope.c): written in the caller's
 * transaction, numbers growing per model; read into *g with *found. */
int cn_store__scoped_write(cn_store_t *s, const cn_generation_t *g, char *const *json,
                           int64_t now_ms, const char *who, char *err, size_t errlen);
int cn_store__scoped_read(cn_store_t *s, cn_generation_t *g, bool *found, char *err,
                          size_t errlen);

/* Format "state file 'PATH': WHAT" into err and return rc. Lock not needed. */
int cn_store__failf(const char *path, char *err, size_t errlen, int rc, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

/* "state file 'PATH': WHAT: sqlite's message (errno text)", CN_EIO. */
int cn_store__fail_db(const char *path, sqlite3 *db, char *err, size_t errlen,
                      const char *what);

/* Wall clock in milliseconds since the epoch. */
int64_t cn_store__now_ms(void);

/* Run SQL without results: 0 or an SQLite code. */
int cn_store__exec(sqlite3 *db, const char *sql);

/* The one integer a query returns (0 when it returns no row or NULL):
 * SQLITE_OK or an SQLite code. */
int cn_store__query_int(sqlite3 *db, const char *sql, int64_t *out);

/* Check a `who` (NULL becomes ""), lock not needed: 0 or CN_EINVAL. */
int cn_store__check_who(const cn_store_t *s, const char **who, char *err,
                        size_t errlen);

/* BEGIN IMMEDIATE, so that a second process waits (busy timeout) instead
 * of failing at COMMIT. 0 or CN_EIO naming `what`. */
int cn_store__begin(cn_store_t *s, const char *what, char *err, size_t errlen);

/* COMMIT when rc is 0 (and it succeeds), else ROLLBACK. Returns rc, or
 * CN_EIO naming `what` if the commit failed. */
int cn_store__end(cn_store_t *s, int rc, const char *what, char *err, size_t errlen);

/*
 * traffic.c: the current split and its generation number. *found false
 * when there is no row. 0, or CN_EINVAL for a row out of range (hand
 * edited), or CN_EIO.
 */
int cn_store__traffic_read(cn_store_t *s, cn_traffic_t *t, uint64_t *generation,
                           bool *found, char *err, size_t errlen);

/*
 * traffic.c: inside a transaction, make t the current split with this
 * generation number (or, for generation < 0, the current row's number, 0
 * if none) and append it to traffic_history, trimmed to
 * CN_STORE_HISTORY_MAX rows. SQLITE_OK or an SQLite code (the caller
 * reports it and rolls back).
 */
int cn_store__traffic_write(cn_store_t *s, const cn_traffic_t *t, int64_t generation,
                            int64_t now_ms, const char *who);

/*
 * Prepare sql and bind ?1, ?2, ... from the arguments, one per character
 * of types: 't' a const char * (NULL binds NULL), 'i' an int64_t (pass
 * exactly that type). SQLITE_OK with *st to finalize, or an SQLite code
 * with *st NULL.
 */
int cn_store__prepare(sqlite3 *db, sqlite3_stmt **st, const char *sql,
                      const char *types, ...);

/* As cn_store__prepare, then one step that must end the statement:
 * SQLITE_OK, or an SQLite code (a constraint, an I/O error). */
int cn_store__run(sqlite3 *db, const char *sql, const char *types, ...);

/* A column as text, "" for NULL. */
const char *cn_store__column_text(sqlite3_stmt *st, int col);

/* NULL if text may be stored as a one-line field of at most max bytes
 * (valid UTF-8 without control characters; empty only if may_be_empty),
 * else why not ("is longer than 1000 bytes"). */
const char *cn_store__text_problem(const char *text, size_t max, bool may_be_empty);

/* SQL: 1 when the rollout strategy text `col` is a parity check's spec
 * (an object with a "parity" object: controller/parity.h), else 0. */
#define CN_STORE__PARITY_SQL(col)                                                      \
    "coalesce(json_type(" col ", '$.parity') = 'object', 0)"

/* Whether the SQLite code is a constraint (a rule of the schema said no). */
bool cn_store__is_constraint(int rc);

/* versions.c: NULL if a version label may be saved, else why not. */
const char *cn_store__label_problem(const char *label);

/* versions.c: NULL if an address (len bytes) may be saved, else why not. */
const char *cn_store__address_problem(const char *address, size_t len);

/* versions.c: ["a","b"] for a checked set, to free. */
char *cn_store__addresses_json(const cn_version_set_t *set);

/*
 * versions.c: fill *set (initialised) from a row's label and JSON
 * addresses, checking both as a save would. `where` names the table and
 * row for a message.
 */
int cn_store__read_set(cn_store_t *s, const unsigned char *label, const char *json,
                       cn_version_set_t *set, const char *where, char *err,
                       size_t errlen);

/* versions.c: the checks of cn_store_save_generation that need no file
 * (lock not needed). 0 or CN_EINVAL. */
int cn_store__generation_check(const cn_store_t *s, const cn_generation_t *g, char *err,
                               size_t errlen);

/* versions.c: inside a transaction, save a checked generation as
 * cn_store_save_generation does (its number must be above the last).
 * 0 or a CN_E* code with the message; the caller rolls back. */
int cn_store__generation_write(cn_store_t *s, const cn_generation_t *g, int64_t now_ms,
                               const char *who, char *err, size_t errlen);

/*
 * registry.c: inside a transaction, apply one tag operation to a version
 * of a model (by row ids), with the rules of cn_store_tag_set; the names
 * are for messages. active_ok: a stable move is allowed while the model
 * has an active rollout (the rollout's own promotion). 0 or a CN_E* code
 * with the message; *changed tells whether a row changed, previous (if
 * not NULL, CN_VERSION_LABEL_MAX + 1 bytes) the version that held a
 * moving tag before ("" if none).
 */
int cn_store__tag_write(cn_store_t *s, int64_t model_id, const char *model,
                        int64_t version_id, const char *version, cn_store_tag_t tag,
                        bool set, bool active_ok, int64_t now_ms, const char *who,
                        bool *changed, char *previous, char *err, size_t errlen);

/* registry.c: 0 if text (at most max bytes) is valid JSON, of `type`
 * ("object") unless type is NULL; else CN_EINVAL naming the field. */
int cn_store__json_check(cn_store_t *s, const char *field, const char *text, size_t max,
                         const char *type, char *err, size_t errlen);

/* registry.c: the row id of a model (0 and SQLITE_OK if there is none). */
int cn_store__model_id(cn_store_t *s, const char *model, int64_t *id);

/* registry.c: the row id of a version of a model (0 if there is none). */
int cn_store__version_id(cn_store_t *s, int64_t model_id, const char *version,
                         int64_t *id);

#endif
