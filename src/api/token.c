/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin token of `canary serve` and `canary control` (see
 * cn_admin_load_token, api/admin.h).
 */
#include "api/admin.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Read at most CN_ADMIN_TOKEN_MAX_BYTES + a little: a token file is one
 * short line, and anything bigger is not a token. */
#define READ_MAX (CN_ADMIN_TOKEN_MAX_BYTES + 64u)

static int read_token_file(const char *path, char *token, FILE *warn, char *err,
                           size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "token file '%s': %s", path, strerror(errno));
        return CN_EIO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) && warn)
        fprintf(
            warn,
            "canary: warning: token file '%s' can be read or written by other users "
            "(mode %04o); chmod 600 it\n",
            path, (unsigned)(st.st_mode & 07777));
    char buf[READ_MAX + 1];
    size_t n = fread(buf, 1, READ_MAX, f);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "token file '%s': read error", path);
        return CN_EIO;
    }
    buf[n] = '\0';
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '\t'))
        buf[--n] = '\0';
    if (n == 0 || n > CN_ADMIN_TOKEN_MAX_BYTES || memchr(buf, '\n', n) ||
        memchr(buf, '\0', n)) {
        snprintf(
            err, errlen,
            "token file '%s': the token must be one non-empty line of at most %u bytes",
            path, CN_ADMIN_TOKEN_MAX_BYTES);
        return CN_EINVAL;
    }
    memcpy(token, buf, n + 1);
    return 0;
}

int cn_admin_load_token(const char *token_file, char *token, bool *generated,
                        FILE *warn, char *err, size_t errlen)
{
    *generated = false;
    const char *source = NULL;
    if (token_file) {
        int rc = read_token_file(token_file, token, warn, err, errlen);
        if (rc)
            return rc;
        source = "the token file";
    } else {
        const char *env = getenv("CANARY_TOKEN");
        if (env && env[0]) {
            if (strlen(env) > CN_ADMIN_TOKEN_MAX_BYTES) {
                snprintf(err, errlen, "CANARY_TOKEN: longer than %u bytes",
                         CN_ADMIN_TOKEN_MAX_BYTES);
                return CN_EINVAL;
            }
            strcpy(token, env);
            source = "CANARY_TOKEN";
        }
    }
    if (source) {
        size_t n = strlen(token);
        if (n < CN_ADMIN_TOKEN_MIN_BYTES && warn)
            fprintf(
                warn,
                "canary: warning: the admin token from %s is only %zu byte%s; use at "
                "least %u random bytes (e.g. openssl rand -hex 16)\n",
                source, n, n == 1 ? "" : "s", CN_ADMIN_TOKEN_MIN_BYTES);
        return 0;
    }
    unsigned char raw[CN_ADMIN_TOKEN_MIN_BYTES];
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) {
        if (f)
            fclose(f);
        snprintf(err, errlen, "cannot read /dev/urandom to generate a token");
        return CN_EIO;
    }
    fclose(f);
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(token + 2 * i, 3, "%02x", raw[i]);
    *generated = true;
    return 0;
}
