/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Helpers that the store's test files share: a fresh mkdtemp directory
 * per test, plain-SQLite access to the files (to build fixtures and look
 * at what the store wrote), and opening a file as an unprivileged user,
 * because root ignores permission bits.
 */
#ifndef CN_TESTS_STORE_TEST_H
#define CN_TESTS_STORE_TEST_H

#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern char store_test_dir[64];

/* Suite fixtures: make and remove store_test_dir. */
void store_test_make_dir(void);
void store_test_remove_dir(void);

/* store_test_dir/name (two results may be live at once). */
const char *store_test_path(const char *name);

/* cn_store_open that must succeed. */
cn_store_t *store_test_open(const char *path);

/* Expect cn_store_open(path) to fail with rc and exactly
 * "state file 'PATH': what", leaving *out NULL. */
void store_test_expect_refused(const char *path, int rc, const char *what);

/* Run SQL on a file with plain SQLite; the integer or text of a query. */
void store_test_sql(const char *path, const char *text);
long long store_test_sql_int(const char *path, const char *query);
/* Copied into buf (len bytes); "NULL" for NULL. */
void store_test_sql_text(const char *path, const char *query, char *buf, size_t len);

/* Every row of every table of the file, as text (to free): what a refused
 * write must leave as it was. */
char *store_test_dump(const char *path);

/* A version of model with one address per address argument (NULL ends
 * them), for cn_store_version_add; dispose it. */
void store_test_version(cn_store_version_t *v, const char *model, const char *version,
                        ...);

/* Whole-file helpers. */
void store_test_write_file(const char *path, const void *data, size_t len);
char *store_test_read_all(const char *path, size_t *len); /* to free */
bool store_test_exists(const char *path);

int64_t store_test_now_ms(void);

/* The uid and gid store_test_open_unprivileged runs as when root. */
#define STORE_TEST_NOBODY 65534

/*
 * cn_store_open(path) as an unprivileged user: in a child process that
 * drops to STORE_TEST_NOBODY when the tests run as root, else in this
 * process. Closes the store if it opened. Returns the open's rc, its
 * message in err.
 */
int store_test_open_unprivileged(const char *path, char *err, size_t errlen);

#endif
