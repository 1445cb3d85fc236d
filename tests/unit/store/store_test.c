/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Helpers for the store's tests (see store_test.h). They include sqlite3.h
 * to build fixtures and inspect files; the code under test is the only
 * module of src/ that does.
 */
#include "store_test.h"
#include "util/file.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdarg.h>
#include <grp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char store_test_dir[64];

void store_test_make_dir(void)
{
    snprintf(store_test_dir, sizeof store_test_dir, "/tmp/canary-store-XXXXXX");
    cr_assert_not_null(mkdtemp(store_test_dir));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

void store_test_remove_dir(void)
{
    nftw(store_test_dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
}

const char *store_test_path(const char *name)
{
    static char path[2][160];
    static int which;
    which ^= 1;
    snprintf(path[which], sizeof path[which], "%s/%s", store_test_dir, name);
    return path[which];
}

cn_store_t *store_test_open(const char *path)
{
    cn_store_t *s = NULL;
    char err[512];
    int rc = cn_store_open(path, &s, err, sizeof err);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_not_null(s);
    return s;
}

void store_test_expect_refused(const char *path, int rc_expected, const char *what)
{
    cn_store_t *s = (cn_store_t *)1;
    char err[512], want[512];
    int rc = cn_store_open(path, &s, err, sizeof err);
    cr_assert_eq(rc, rc_expected, "rc %d: %s", rc, err);
    cr_assert_null(s, "*out is NULL on error");
    snprintf(want, sizeof want, "state file '%s': %s", path, what);
    cr_assert_str_eq(err, want);
    cr_assert_null(strchr(err, '\n'));
}

void store_test_sql(const char *path, const char *text)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, text, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", text, msg ? msg : "");
    sqlite3_free(msg);
    sqlite3_close(db);
}

static sqlite3_stmt *query(const char *path, const char *sql, sqlite3 **db)
{
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open(path, db), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(*db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(*db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sql);
    return st;
}

long long store_test_sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = query(path, sql, &db);
    long long v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

void store_test_sql_text(const char *path, const char *sql, char *buf, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = query(path, sql, &db);
    const unsigned char *t = sqlite3_column_text(st, 0);
    snprintf(buf, len, "%s", t ? (const char *)t : "NULL");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

char *store_test_dump(const char *path)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *tables = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db,
                                    "SELECT name FROM sqlite_master WHERE type = "
                                    "'table' ORDER BY name",
                                    -1, &tables, NULL),
                 SQLITE_OK);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    while (sqlite3_step(tables) == SQLITE_ROW) {
        char sql[200];
        snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"",
                 sqlite3_column_text(tables, 0));
        sqlite3_stmt *rows = NULL;
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
        while (sqlite3_step(rows) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(rows); c++) {
                const unsigned char *v = sqlite3_column_text(rows, c);
                size_t need = len + (v ? strlen((const char *)v) : 4) + 64;
                if (need > cap) {
                    cap = need * 2;
                    out = realloc(out, cap);
                }
                len += (size_t)snprintf(
                    out + len, cap - len, "%s%s|",
                    c ? "" : (const char *)sqlite3_column_text(tables, 0),
                    v ? (const char *)v : "NULL");
            }
            out[len++] = '\n';
            out[len] = '\0';
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    return out;
}

void store_test_version(cn_store_version_t *v, const char *model, const char *version,
                        ...)
{
    cn_store_version_init(v);
    snprintf(v->model, sizeof v->model, "%s", model);
    cn_version_set_dispose(&v->set);
    cn_version_set_init(&v->set, version);
    va_list ap;
    va_start(ap, version);
    for (const char *a; (a = va_arg(ap, const char *));)
        cn_version_set_add(&v->set, a);
    va_end(ap);
}

void store_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

char *store_test_read_all(const char *path, size_t *len)
{
    char *data = NULL, err[512];
    cr_assert_eq(cn_file_read(path, 64u << 20, &data, len, err, sizeof err), 0, "%s",
                 err);
    return data;
}

bool store_test_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

int64_t store_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_test_open_unprivileged(const char *path, char *err, size_t errlen)
{
    cn_store_t *s = NULL;
    if (geteuid() != 0) {
        int rc = cn_store_open(path, &s, err, errlen);
        cn_store_close(s);
        return rc;
    }
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        char msg[512] = "";
        int rc = -1000;
        if (setgroups(0, NULL) == 0 && setgid(STORE_TEST_NOBODY) == 0 &&
            setuid(STORE_TEST_NOBODY) == 0) {
            rc = cn_store_open(path, &s, msg, sizeof msg);
            cn_store_close(s);
        }
        if (write(fds[1], &rc, sizeof rc) != (ssize_t)sizeof rc ||
            write(fds[1], msg, sizeof msg) != (ssize_t)sizeof msg)
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    int rc = 0, status = 0;
    char msg[512];
    cr_assert_eq(read(fds[0], &rc, sizeof rc), (ssize_t)sizeof rc);
    cr_assert_eq(read(fds[0], msg, sizeof msg), (ssize_t)sizeof msg);
    close(fds[0]);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_neq(rc, -1000, "could not drop privileges");
    snprintf(err, errlen, "%s", msg);
    return rc;
}
