/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the store's files share and nobody else may use: the handle, the
 * one-line error messages, and small SQLite helpers. core.c opens,
 * recognises and migrates the file; traffic.c and versions.c read and
 * write their tables through these. Functions named cn_store__* expect the
 * caller to hold s->lock unless they say otherwise.
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
};

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

#endif
