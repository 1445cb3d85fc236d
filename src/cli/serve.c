/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary serve`: the router (data plane, worker threads) plus the admin
 * API (its own thread: this one), wired together with the state store.
 *
 * Configuration: --config FILE is read first, then every other flag is
 * applied over it in order, so flags override the file and flags alone are
 * enough. The admin token comes from CANARY_TOKEN, or the file named by
 * --token-file; without either a random token is generated and printed
 * once, because the admin API has no unauthenticated mode.
 *
 * State: with --state PATH the traffic config is kept in SQLite. On start
 * a stored config wins over the file and the flags: a restart after a
 * rollback must not send traffic to the canary again because the config
 * file still says 5%. Every change through the API is stored; the change is
 * published to the data plane first and stored second, so a slow or full
 * disk never delays a rollback (a failed store is reported as an error).
 */
#include "api/admin.h"
#include "cli/cli.h"
#include "router/config.h"
#include "server/config.h"
#include "router/router.h"
#include "store/store.h"
#include "util/error.h"
#include "util/file.h"
#include "util/fmt.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cn_admin_t *g_admin; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    if (g_admin)
        cn_admin_stop(g_admin);
}

typedef struct serve_ctx_s {
    cn_router_t *router;
    cn_store_t *store;
    const cn_router_config_t *cfg;
} serve_ctx_t;

static cn_router_snapshot_t *ops_snapshot(void *ctx)
{
    return cn_router_snapshot(((serve_ctx_t *)ctx)->router, CN_ROUTER_SNAP_ALL);
}

static void ops_get_traffic(void *ctx, cn_traffic_t *out, uint64_t *step)
{
    serve_ctx_t *s = ctx;
    cn_router_get_traffic(s->router, out);
    *step = cn_router_step(s->router);
}

static int ops_set_traffic(void *ctx, const cn_traffic_t *t, char *err, size_t errlen)
{
    serve_ctx_t *s = ctx;
    if (t->canary_weight_bp > 0 && s->cfg->canary.count == 0) {
        snprintf(err, errlen,
                 "canary_weight must stay 0: no canary addresses are configured "
                 "(canary.addresses, --canary)");
        return CN_EINVAL;
    }
    if (t->mode == CN_TRAFFIC_MODE_STICKY && !s->cfg->sticky_header &&
        !s->cfg->sticky_cookie) {
        snprintf(err, errlen,
                 "mode 'sticky' needs a sticky key: set traffic.sticky_header or "
                 "traffic.sticky_cookie (--sticky-header, --sticky-cookie) at start");
        return CN_EINVAL;
    }
    int rc = cn_router_set_traffic(s->router, t);
    if (rc) {
        snprintf(err, errlen, "traffic config out of range");
        return rc;
    }
    char weight[CN_FMT_BP_BUF], shadow[CN_FMT_BP_BUF];
    fprintf(stderr, "canary: traffic set: canary %s, mode %s, shadow %s, force %s\n",
            cn_fmt_bp(t->canary_weight_bp, weight, sizeof weight),
            cn_traffic_mode_name(t->mode),
            cn_fmt_bp(t->shadow_bp, shadow, sizeof shadow),
            t->force_enabled ? "on" : "off");
    if (s->store) {
        char serr[256];
        rc = cn_store_save_traffic(s->store, t, "api", serr, sizeof serr);
        if (rc) {
            snprintf(err, errlen, "published, but not stored: %s", serr);
            fprintf(stderr, "canary: %s\n", err);
            return CN_EIO;
        }
    }
    return 0;
}

static int ops_lookup(void *ctx, const char *id, size_t len, cn_router_lookup_t *out)
{
    return cn_router_lookup(((serve_ctx_t *)ctx)->router, id, len, out);
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: canary serve [--config FILE] [FLAGS]\n"
           "Proxy live inference traffic to a stable and a canary model version,\n"
           "and measure both. Flags override the file; see examples/canary.yaml\n"
           "for every key. The common ones:\n"
           "  --listen ADDR          data plane address (0.0.0.0:8080)\n"
           "  --admin ADDR           admin API address (127.0.0.1:8081)\n"
           "  --stable ADDR[,ADDR]   stable model servers (required)\n"
           "  --canary ADDR[,ADDR]   canary model servers\n"
           "  --canary-weight PCT    share of requests to canary (0..100, 0.01 steps)\n"
           "  --mode MODE            random | sticky | shadow\n"
           "  --workers N            worker threads (default: one per CPU)\n"
           "  --state PATH           keep the traffic config in this SQLite file\n"
           "  --token-file PATH      admin bearer token (else $CANARY_TOKEN)\n"
           "Every other key of examples/canary.yaml is a flag too, with dashes:\n"
           "  measure.segment_header -> --segment-header, limits.max_body_bytes ->\n"
           "  --max-body-bytes, and so on.\n");
}

/* Config and token files: a config is small, 16 MiB is far beyond any. */
#define FILE_MAX_BYTES ((size_t)16 << 20)

static int read_file(const char *path, char **out, size_t *len, char *err,
                     size_t errlen)
{
    return cn_file_read(path, FILE_MAX_BYTES, out, len, err, errlen);
}

/* The admin token: CANARY_TOKEN, --token-file, or a generated one. */
static int load_token(const cn_server_config_t *cfg, char *token, size_t toklen,
                      bool *generated, char *err, size_t errlen)
{
    *generated = false;
    if (cfg->own.token_file) {
        char *text;
        size_t n;
        int rc = read_file(cfg->own.token_file, &text, &n, err, errlen);
        if (rc)
            return rc;
        while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' ||
                         text[n - 1] == ' ' || text[n - 1] == '\t'))
            text[--n] = '\0';
        if (n == 0 || n >= toklen || strchr(text, '\n')) {
            snprintf(err, errlen,
                     "%s: the token must be one non-empty line of < %zu bytes",
                     cfg->own.token_file, toklen);
            free(text);
            return CN_EINVAL;
        }
        memcpy(token, text, n + 1);
        free(text);
        return 0;
    }
    const char *env = getenv("CANARY_TOKEN");
    if (env && env[0]) {
        if (strlen(env) >= toklen) {
            snprintf(err, errlen, "CANARY_TOKEN: longer than %zu bytes", toklen - 1);
            return CN_EINVAL;
        }
        strcpy(token, env);
        return 0;
    }
    unsigned char raw[16];
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

int cn_cli_serve(int argc, char **argv)
{
    cn_server_config_t cfg;
    cn_server_config_init(&cfg);
    char err[512] = "";
    int exit_code = CN_EXIT_OK;
    cn_router_t *router = NULL;
    cn_admin_t *admin = NULL;
    serve_ctx_t ctx = {0};

    /* --config first, wherever it is, so the flags override it */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            cn_server_config_dispose(&cfg);
            return CN_EXIT_OK;
        }
        const char *path = NULL;
        if (strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "canary serve: --config needs a FILE\n");
                cn_server_config_dispose(&cfg);
                return CN_EXIT_USAGE;
            }
            path = argv[i + 1];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        }
        if (!path)
            continue;
        char *text;
        size_t len;
        if (read_file(path, &text, &len, err, sizeof err)) {
            fprintf(stderr, "canary serve: %s\n", err);
            cn_server_config_dispose(&cfg);
            return CN_EXIT_NOINPUT;
        }
        int rc = cn_server_config_parse_yaml(&cfg, text, len, path, err, sizeof err);
        free(text);
        if (rc) {
            fprintf(stderr, "canary serve: %s\n", err);
            cn_server_config_dispose(&cfg);
            return CN_EXIT_DATAERR;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "canary serve: unexpected argument '%s' (try --help)\n", a);
            exit_code = CN_EXIT_USAGE;
            goto out;
        }
        char name[64];
        const char *value;
        const char *eq = strchr(a, '=');
        if (eq) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a - 2), a + 2);
            value = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a + 2);
            /* a flag without a value (--no-retry) is a boolean switch */
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                value = argv[++i];
            else
                value = "true";
        }
        if (strcmp(name, "config") == 0)
            continue;
        int rc = cn_server_config_set_flag(&cfg, name, value, err, sizeof err);
        if (rc == CN_ENOTFOUND) {
            fprintf(stderr, "canary serve: unknown flag '--%s' (try --help)\n", name);
            exit_code = CN_EXIT_USAGE;
            goto out;
        }
        if (rc) {
            fprintf(stderr, "canary serve: %s\n", err);
            exit_code = CN_EXIT_USAGE;
            goto out;
        }
    }

    if (cn_server_config_validate(&cfg, err, sizeof err)) {
        fprintf(stderr, "canary serve: %s\n", err);
        exit_code = CN_EXIT_USAGE;
        goto out;
    }
    char token[256];
    bool generated;
    int rc = load_token(&cfg, token, sizeof token, &generated, err, sizeof err);
    if (rc) {
        fprintf(stderr, "canary serve: %s\n", err);
        exit_code = rc == CN_EIO ? CN_EXIT_NOINPUT : CN_EXIT_DATAERR;
        goto out;
    }

    if (cfg.store.path) {
        if (cn_store_open(cfg.store.path, &ctx.store, err, sizeof err)) {
            fprintf(stderr, "canary serve: %s\n", err);
            exit_code = CN_EXIT_NOINPUT;
            goto out;
        }
        cn_traffic_t t;
        bool found = false;
        if (cn_store_load_traffic(ctx.store, &t, &found, err, sizeof err)) {
            fprintf(stderr, "canary serve: %s\n", err);
            exit_code = CN_EXIT_DATAERR;
            goto out;
        }
        if (found) {
            cn_traffic_t configured = cfg.router.traffic;
            cfg.router.traffic = t;
            if (cn_server_config_validate(&cfg, err, sizeof err)) {
                fprintf(stderr,
                        "canary serve: the traffic stored in %s does not fit this "
                        "config: %s\n",
                        cfg.store.path, err);
                cfg.router.traffic = configured;
                exit_code = CN_EXIT_DATAERR;
                goto out;
            }
            char weight[CN_FMT_BP_BUF];
            fprintf(stderr, "canary: traffic restored from %s: canary %s, mode %s\n",
                    cfg.store.path,
                    cn_fmt_bp(t.canary_weight_bp, weight, sizeof weight),
                    cn_traffic_mode_name(t.mode));
        } else if (cn_store_save_traffic(ctx.store, &cfg.router.traffic, "start", err,
                                         sizeof err)) {
            fprintf(stderr, "canary serve: %s\n", err);
            exit_code = CN_EXIT_NOINPUT;
            goto out;
        }
    }

    rc = cn_router_new(&cfg.router, &router, err, sizeof err);
    if (rc) {
        fprintf(stderr, "canary serve: %s\n", err);
        exit_code = rc == CN_EIO ? CN_EXIT_UNAVAILABLE : CN_EXIT_USAGE;
        goto out;
    }
    ctx.router = router;
    ctx.cfg = &cfg.router;
    cn_admin_ops_t ops = {
        .snapshot = ops_snapshot,
        .snapshot_free = cn_router_snapshot_free,
        .get_traffic = ops_get_traffic,
        .set_traffic = ops_set_traffic,
        .lookup = ops_lookup,
        .ctx = &ctx,
    };
    rc = cn_admin_new(cfg.admin.address, token, &ops, &admin, err, sizeof err);
    if (rc) {
        fprintf(stderr, "canary serve: %s\n", err);
        exit_code = rc == CN_EIO ? CN_EXIT_UNAVAILABLE : CN_EXIT_USAGE;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    g_admin = admin;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (cn_router_start(router, err, sizeof err)) {
        fprintf(stderr, "canary serve: %s\n", err);
        exit_code = CN_EXIT_SOFTWARE;
        goto out;
    }
    cn_traffic_t t;
    cn_router_get_traffic(router, &t);
    printf("listening on %s\nadmin on %s\n", cn_router_listen_address(router),
           cn_admin_address(admin));
    fflush(stdout);
    char weight[CN_FMT_BP_BUF];
    fprintf(stderr,
            "canary: serving on %s with %u workers; admin on %s; canary %s, mode %s\n",
            cn_router_listen_address(router), cn_router_workers(router),
            cn_admin_address(admin),
            cn_fmt_bp(t.canary_weight_bp, weight, sizeof weight),
            cn_traffic_mode_name(t.mode));
    if (generated)
        fprintf(
            stderr,
            "canary: no CANARY_TOKEN or --token-file; admin token for this run: %s\n",
            token);
    cn_admin_run(admin);
    fprintf(stderr, "canary: stopping\n");
    cn_router_stop(router);
out:
    g_admin = NULL;
    cn_admin_free(admin);
    cn_router_free(router);
    if (ctx.store)
        cn_store_close(ctx.store);
    cn_server_config_dispose(&cfg);
    return exit_code;
}
