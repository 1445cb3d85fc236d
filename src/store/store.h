/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state file of `canary serve --state PATH`: a SQLite database that
 * keeps what the router routes with across restarts (the traffic split and
 * the stable and canary version sets, saved together as a generation) and
 * a history of every change (when, what, who, which generation) for the
 * audit trail. This module is the only one that includes sqlite3.h; it
 * takes its plain types from types/types.h.
 *
 * The file. It is opened in WAL mode with synchronous=FULL, so a change
 * that a save reported as saved survives a crash or a power cut, and
 * readers (sqlite3 on the command line) do not block the writer. A busy
 * timeout makes a second process wait for a lock instead of failing at
 * once. A file is recognised as ours by its SQLite application_id ('CNRY')
 * and a schema_version table:
 *  - a path that does not exist is created (0644 less the umask) with the
 *    current schema; so is an empty file: zero bytes, or a SQLite database
 *    with no tables, application_id 0 and user_version 0;
 *  - a file of ours is used; an older schema is migrated in one
 *    transaction (version 1, the traffic split alone, becomes version 2
 *    with its rows kept); a newer one is refused, since this build cannot
 *    know what it means;
 *  - anything else is refused and left untouched: a directory, a file that
 *    is not SQLite or is corrupt, and a SQLite database of another
 *    application (another application_id, a user_version, or tables of
 *    its own), because writing our tables into someone else's database is
 *    never what was meant. The SQLite header is read with plain read(2)
 *    first, so a file refused on it is never opened by SQLite at all;
 *  - a file, or a directory to create it in, that this process may not
 *    write is refused before SQLite opens it (so no -wal or -shm file is
 *    left behind), with the system's reason ("Permission denied").
 * Every refusal is one line naming the path, e.g.
 *     state file '/tmp/x.db': not a canary state file (a SQLite database of
 *     another application: application_id 0, tables: users); refusing to
 *     change it
 *
 * Threads and event loops. A cn_store_t may be used from any thread; its
 * calls are serialised by a mutex. Every call does synchronous disk I/O,
 * and every save ends with an fsync (which can take tens of milliseconds
 * on a busy disk, and up to the busy timeout when another process holds
 * the lock), so callers run them off their event loops: on a writer
 * thread or through uv_queue_work.
 *
 * Errors: 0, or a negative CN_E* code with one line in err[0..errlen):
 * CN_EINVAL for a bad argument or a file that is not ours (or holds values
 * out of range), CN_EIO for a failed read or write.
 */
#ifndef CN_STORE_STORE_H
#define CN_STORE_STORE_H

#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema this build writes. 1: the traffic split and its history.
 * 2: adds the version sets, their history, and generation numbers. */
#define CN_STORE_SCHEMA_VERSION 2

/* SQLite application_id of a canary state file: "CNRY" in ASCII. */
#define CN_STORE_APPLICATION_ID 0x434E5259

/* Longest `who` saved with a change, in bytes. */
#define CN_STORE_WHO_MAX 200

/* Rows of traffic_history kept; older ones are deleted as new ones come. */
#define CN_STORE_HISTORY_MAX 100000

/* Rows of versions_history kept. Fewer than for the traffic, because a row
 * holds both address sets (a few hundred bytes usually, up to ~130 KiB
 * with 256 long addresses per set). */
#define CN_STORE_VERSIONS_HISTORY_MAX 10000

/* Longest address saved, in bytes ("host:port" as written). */
#define CN_STORE_ADDRESS_MAX 255

typedef struct cn_store_s cn_store_t;

/* One change of the traffic split, as kept in traffic_history. */
typedef struct cn_store_change_s {
    int64_t id;           /* increasing with time */
    int64_t time_unix_ms; /* wall clock when it was saved */
    uint64_t generation;  /* 0 for rows saved by schema version 1 */
    cn_traffic_t traffic;
    char who[CN_STORE_WHO_MAX + 1];
} cn_store_change_t;

/* Bits of cn_store_versions_change_t.changed. */
#define CN_STORE_CHANGED_STABLE (1u << CN_ROLE_STABLE)
#define CN_STORE_CHANGED_CANARY (1u << CN_ROLE_CANARY)

/*
 * One saved generation's version sets, as kept in versions_history: both
 * sets as they were after the save, and which of them differed from the
 * sets saved before (both, for the first save in a file). The sets are
 * owned: release each filled entry with cn_store_versions_change_dispose().
 */
typedef struct cn_store_versions_change_s {
    int64_t id;           /* increasing with time */
    int64_t time_unix_ms; /* wall clock when it was saved */
    uint64_t generation;
    unsigned changed; /* CN_STORE_CHANGED_* bits */
    cn_version_set_t sets[CN_ROLE_COUNT];
    char who[CN_STORE_WHO_MAX + 1];
} cn_store_versions_change_t;

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

/* ------------------------------------------------------- generations */

/*
 * Save g as what the router routes with: the traffic split and both
 * version sets become current, the split is appended to traffic_history
 * and the sets to versions_history (with `who`, the time and g->number),
 * all in one transaction that is durable (fsynced) when this returns 0.
 * `who` is borrowed; NULL is ""; at most CN_STORE_WHO_MAX bytes (e.g.
 * "admin 10.0.0.7").
 *
 * Refused with CN_EINVAL, writing nothing:
 *  - a split out of range (cn_traffic_validate);
 *  - a version label that is empty, longer than CN_VERSION_LABEL_MAX
 *    bytes, or holds a control character;
 *  - more than CN_VERSION_MAX_ADDRESSES addresses in a set, or an address
 *    that is empty, longer than CN_STORE_ADDRESS_MAX bytes, or holds
 *    anything but printable ASCII without space, '"' and '\' (what an
 *    address as written never holds; this keeps the stored JSON plain);
 *  - g->number 0, not greater than the generation saved last (numbers
 *    only grow, so the history is in publication order), or above
 *    INT64_MAX. A caller loads the last number at start and counts on.
 * Whether the values suit the running process (a canary weight with no
 * canary address, duplicate addresses) is the caller's check.
 */
int cn_store_save_generation(cn_store_t *s, const cn_generation_t *g, const char *who,
                             char *err, size_t errlen);

/*
 * Read what was saved, onto *out, which the caller has initialised
 * (cn_generation_init, or the values from the config): what the file
 * holds replaces the matching parts of *out, and the rest is left as it
 * was, so a caller gets "the file, else the config" in one call.
 *  - *has_traffic: a current split was saved (by either save); it is in
 *    out->traffic.
 *  - *has_versions: version sets were saved (by cn_store_save_generation);
 *    they replace out->sets. False in a new file and in a file migrated
 *    from schema version 1 that has not saved a generation since.
 *  - out->number is the last generation saved (0 if the split came from
 *    schema version 1), set when either flag is true.
 * Both false (a new file): *out is untouched. On an error (a row edited
 * out of range by hand is CN_EINVAL, naming the table and the column),
 * *out is untouched too.
 */
int cn_store_load_generation(cn_store_t *s, cn_generation_t *out, bool *has_traffic,
                             bool *has_versions, char *err, size_t errlen);

/*
 * The most recent entries of versions_history, oldest first: up to max of
 * them into out[] (the caller's array; its entries need no initialising),
 * their number in *n. The caller disposes each of the *n entries. On an
 * error nothing is left to dispose and *n is 0.
 */
int cn_store_versions_history(cn_store_t *s, cn_store_versions_change_t *out,
                              size_t max, size_t *n, char *err, size_t errlen);

/* Free the sets of an entry filled by cn_store_versions_history() and zero
 * it. Twice is harmless. */
void cn_store_versions_change_dispose(cn_store_versions_change_t *c);

/* ----------------------------------------------------------- traffic */

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
 * time and `who` (as for cn_store_save_generation), in one durable
 * transaction. The version sets are not touched, and the generation number
 * stays the one saved last (so a load afterwards sees the new split with
 * the sets of that generation). t out of range is CN_EINVAL, and nothing
 * is written. New callers save whole generations instead.
 */
int cn_store_save_traffic(cn_store_t *s, const cn_traffic_t *t, const char *who,
                          char *err, size_t errlen);

/*
 * The most recent changes of the split, oldest first: up to max of them
 * into out[] (the caller's array), their number in *n. Returns 0 or an
 * error.
 */
int cn_store_history(cn_store_t *s, cn_store_change_t *out, size_t max, size_t *n,
                     char *err, size_t errlen);

#endif
