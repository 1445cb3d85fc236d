/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary model register|tag|untag|list`: the model registry of a running
 * `canary serve`, through its admin API (cli/client.h; docs/CLI.md). Each
 * command prints a short readable answer, or with --json the server's JSON
 * as it came (the same keys as the API). Exit codes: 0, 64 for a usage
 * error, and the client's codes for a failed call (69 unreachable, 77
 * refused token, 75 conflict, 65 refused request, 70 server error).
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: canary model COMMAND [ARGS] [--server URL] [--token-file PATH] "
            "[--json]\n"
            "The model registry of a running canary serve (its admin API).\n"
            "  register MODEL VERSION --upstream ADDR[,ADDR] [--artifact URI]\n"
            "           [--meta KEY=VALUE ...]   register a version (and the model)\n"
            "  tag MODEL VERSION TAG             tag a version: stable (a manual\n"
            "                                    cut-over), production-candidate\n"
            "                                    (starts a rollout)\n"
            "  untag MODEL VERSION TAG           remove a tag\n"
            "  list [MODEL]                      the models, or one model's versions\n"
            "The server is --server or $CANARY_SERVER (default %s); the token\n"
            "is --token-file or $CANARY_TOKEN.\n",
            CN_CLIENT_DEFAULT_SERVER);
}

/* fmt with up to three escaped segments, for the caller to free. */
static char *path_of(const char *fmt, const char *a, const char *b, const char *c)
{
    size_t len = strlen(fmt) + strlen(a) + (b ? strlen(b) : 0) + (c ? strlen(c) : 0);
    char *out = cn_xmalloc(len + 1);
    snprintf(out, len + 1, fmt, a, b ? b : "", c ? c : "");
    return out;
}

/* Run one call and print the answer: JSON as is, or the readable form. */
static int call(cn_args_t *a, const char *prog, const char *method, const char *path,
                json_t *body, void (*readable)(json_t *answer))
{
    bool json_out = cn_args_flag(a, "json");
    const char *server = cn_args_str(a, "server", NULL);
    const char *token_file = cn_args_str(a, "token-file", NULL);
    if (cn_args_finish(a))
        return CN_EXIT_USAGE;
    int code = 0;
    cn_client_t *c = cn_client_for(server, token_file, prog, &code);
    if (!c)
        return code;
    json_t *answer;
    code = cn_client_exchange(c, prog, method, path, body, json_out, &answer);
    if (code == 0 && answer && !json_out)
        readable(answer);
    json_decref(answer);
    cn_client_free(c);
    return code;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static void print_version(json_t *v)
{
    printf("%s %s", str(v, "model"), str(v, "version"));
    json_t *tags = json_object_get(v, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t)
        printf("%s%s", i ? ", " : " [", json_string_value(t));
    if (json_array_size(tags))
        printf("]");
    printf("\n  upstreams:");
    json_array_foreach(json_object_get(v, "addresses"), i, t)
        printf(" %s", json_string_value(t));
    if (*str(v, "artifact"))
        printf("\n  artifact:  %s", str(v, "artifact"));
    printf("\n  created by %s\n", *str(v, "created_by") ? str(v, "created_by") : "?");
}

static void print_model(json_t *m)
{
    printf("%s: %zu versions\n", str(m, "name"),
           json_array_size(json_object_get(m, "versions")));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(m, "versions"), i, v) print_version(v);
}

static void print_models(json_t *list)
{
    size_t i;
    json_t *m;
    json_t *models = json_object_get(list, "models");
    if (json_array_size(models) == 0) {
        printf("no models registered\n");
        return;
    }
    printf("%-24s %8s  %-16s %s\n", "MODEL", "VERSIONS", "STABLE", "CANDIDATE");
    json_array_foreach(models, i, m)
    {
        json_t *n = json_object_get(m, "version_count");
        printf("%-24s %8lld  %-16s %s\n", str(m, "name"),
               json_is_integer(n) ? json_integer_value(n) : 0LL,
               *str(m, "stable") ? str(m, "stable") : "-",
               *str(m, "candidate") ? str(m, "candidate") : "-");
    }
}

/* --meta KEY=VALUE, any number of times, into an object. */
static int meta_object(cn_args_t *a, json_t *meta)
{
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, "meta") != 0)
            continue;
        a->opts[i].used = 1;
        const char *kv = a->opts[i].value;
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq || eq == kv) {
            fprintf(stderr,
                    "canary model register: --meta wants KEY=VALUE, got '%.80s'\n",
                    kv ? kv : "");
            return -1;
        }
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        json_object_set_new(meta, key, json_string(eq + 1));
    }
    return 0;
}

static int do_register(cn_args_t *a)
{
    if (a->npos != 3) {
        fprintf(stderr, "canary model register: needs MODEL VERSION (try --help)\n");
        return CN_EXIT_USAGE;
    }
    const char *upstream = cn_args_str(a, "upstream", NULL);
    if (!upstream || !*upstream) {
        fprintf(stderr, "canary model register: --upstream ADDR[,ADDR] is required\n");
        return CN_EXIT_USAGE;
    }
    json_t *body = json_object();
    json_object_set_new(body, "version", json_string(a->pos[2]));
    json_t *addrs = json_array();
    char *list = cn_xstrdup(upstream), *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(addrs, json_string(t));
    free(list);
    json_object_set_new(body, "addresses", addrs);
    const char *artifact = cn_args_str(a, "artifact", NULL);
    if (artifact)
        json_object_set_new(body, "artifact", json_string(artifact));
    json_t *meta = json_object();
    if (meta_object(a, meta)) {
        json_decref(meta);
        json_decref(body);
        return CN_EXIT_USAGE;
    }
    json_object_set_new(body, "metadata", meta);
    char *model = cn_client_escape(a->pos[1]);
    char *path = path_of("/v1/models/%s/versions", model, NULL, NULL);
    int code = call(a, "model register", "POST", path, body, print_version);
    free(path);
    free(model);
    json_decref(body);
    return code;
}

static int do_tag(cn_args_t *a, bool untag)
{
    const char *prog = untag ? "model untag" : "model tag";
    if (a->npos != 4) {
        fprintf(stderr, "canary %s: needs MODEL VERSION TAG (try --help)\n", prog);
        return CN_EXIT_USAGE;
    }
    char *model = cn_client_escape(a->pos[1]), *version = cn_client_escape(a->pos[2]),
         *tag = cn_client_escape(a->pos[3]);
    char *path = path_of("/v1/models/%s/versions/%s/tags/%s", model, version, tag);
    int code = call(a, prog, untag ? "DELETE" : "PUT", path, NULL, print_version);
    free(path);
    free(model);
    free(version);
    free(tag);
    return code;
}

static int do_list(cn_args_t *a)
{
    if (a->npos > 2) {
        fprintf(stderr, "canary model list: takes at most one MODEL (try --help)\n");
        return CN_EXIT_USAGE;
    }
    if (a->npos == 1)
        return call(a, "model list", "GET", "/v1/models", NULL, print_models);
    char *model = cn_client_escape(a->pos[1]);
    char *path = path_of("/v1/models/%s", model, NULL, NULL);
    int code = call(a, "model list", "GET", path, NULL, print_model);
    free(path);
    free(model);
    return code;
}

int cn_cli_model(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CN_EXIT_OK;
        }
    static const char *const flags[] = {"json", NULL};
    static const char *const repeatable[] = {"meta", NULL};
    cn_args_t a;
    if (cn_args_parse_repeat(&a, "model", argc - 1, argv + 1, flags, repeatable))
        return CN_EXIT_USAGE;
    if (a.npos == 0) {
        fprintf(stderr, "canary model: missing command (try --help)\n");
        return CN_EXIT_USAGE;
    }
    const char *cmd = a.pos[0];
    if (strcmp(cmd, "register") == 0)
        return do_register(&a);
    if (strcmp(cmd, "tag") == 0)
        return do_tag(&a, false);
    if (strcmp(cmd, "untag") == 0)
        return do_tag(&a, true);
    if (strcmp(cmd, "list") == 0)
        return do_list(&a);
    fprintf(stderr, "canary model: unknown command '%.40s' (try --help)\n", cmd);
    return CN_EXIT_USAGE;
}
