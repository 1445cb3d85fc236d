/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state file of `canary serve --state PATH`: a SQLite database that
 * keeps the traffic split across restarts, and a history of every change
 * (when, what, who) for the audit trail. This module is the only one that
 * includes sqlite3.h; it takes its plain types from types/types.h.
 *
 * The file. It is opened in WAL mode with synchronous=FULL, so a change
 * that cn_store_save_traffic() reported as saved survives a crash or a
 * power cut, and readers (sqlite3 on the command line) do not block the
 * router. A busy timeout makes a second process wait for a lock instead of
 * failing at once. A file is recognised as ours by its SQLite
 * application_id ('CNRY') and a schema_version table:
 *  - a path that does not exist, or an empty file, is created with the
 *    current schema;
 *  - a file of ours is used; an older schema would be migrated in one
 *    transaction (there is only version 1 so far); a newer one is refused,
 *    since this build cannot know what it means;
 *  - anything else is refused and left untouched: a directory, a file that
 *    is not SQLite, and a SQLite database of another application (another
 *    application_id, or tables of its own), because writing our tables
 *    into someone else's database is never what was meant.
 * Every refusal is one line naming the path, e.g.
 *     state file '/tmp/x.db': not a canary state file (a SQLite database of
 *     another application: application_id 0, tables: users)
 *
 * Threads. A cn_store_t may be used from any thread; its calls are
 * serialised by a mutex. Each call does synchronous disk I/O (an fsync
 * per save), so the router calls it off its event loops.
 *
 * Errors: 0, or a negative CN_E* code with one line in err[0..errlen):
 * CN_EINVAL for a bad argument or a file that is not ours, CN_EIO for a
 * failed read or write.
 */
#ifndef CN_STORE_STORE_H
#define CN_STORE_STORE_H

#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema this build writes. */
#define CN_STORE_SCHEMA_VERSION 1

/* SQLite application_id of a canary state file: "CNRY" in ASCII. */
#define CN_STORE_APPLICATION_ID 0x434E5259

/* Longest `who` saved with a change, in bytes. */
#define CN_STORE_WHO_MAX 200

/* Rows of traffic_history kept; older ones are deleted as new ones come. */
#define CN_STORE_HISTORY_MAX 100000

typedef struct cn_store_s cn_store_t;

/* One change of the traffic split, as kept in the history. */
typedef struct cn_store_change_s {
    int64_t id;           /* increasing with time */
    int64_t time_unix_ms; /* wall clock when it was saved */
    cn_traffic_t traffic;
    char who[CN_STORE_WHO_MAX + 1];
} cn_store_change_t;

/*
 * Open (or create) the state file at path (borrowed), as described above.
 * Returns 0 with a handle in *out, to be closed with cn_store_close(), or
 * an error with *out set to NULL.
 */
int cn_store_open(const char *path, cn_store_t **out, char *err, size_t errlen);

/* Close the file. NULL is a no-op. */
void cn_store_close(cn_store_t *s);

/* The path given to cn_store_open(), owned by the store. */
const char *cn_store_path(const cn_store_t *s);

/*
 * Read the saved traffic split. Returns 0 with *found false and *out
 * untouched if nothing was ever saved, or with *found true and *out set.
 * A saved row that is out of range (edited by hand) is CN_EINVAL, naming
 * the file and the column.
 */
int cn_store_load_traffic(cn_store_t *s, cn_traffic_t *out, bool *found, char *err,
                          size_t errlen);

/*
 * Save t as the current split and append it to traffic_history with the
 * time and `who` (borrowed; NULL is ""; at most CN_STORE_WHO_MAX bytes, e.g.
 * "admin 10.0.0.7" or "startup"), in one transaction that is durable when
 * this returns 0. The history keeps the last CN_STORE_HISTORY_MAX changes.
 * t out of range (cn_traffic_validate) is CN_EINVAL, and nothing is
 * written.
 */
int cn_store_save_traffic(cn_store_t *s, const cn_traffic_t *t, const char *who,
                          char *err, size_t errlen);

/*
 * The most recent changes, oldest first: up to max of them into out[] (the
 * caller's array), their number in *n. Returns 0 or an error.
 */
int cn_store_history(cn_store_t *s, cn_store_change_t *out, size_t max, size_t *n,
                     char *err, size_t errlen);

#endif
