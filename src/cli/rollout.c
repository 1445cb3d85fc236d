/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary rollout start|status|list|history|pause|resume|promote|abort|retry`:
 * the rollouts of a running `canary serve`, through its admin API
 * (cli/client.h; docs/CLI.md). Readable output, or with --json the
 * server's JSON as it came (the API's keys).
 *
 * `status` answers with its exit code too, so a deploy script can wait on
 * it: 0 promoted, 1 rolled back or aborted, 2 holding or paused (a person
 * is needed), 3 still in progress. Every command returns the client's
 * codes for a failed call (69 unreachable, 77 refused token, 75 conflict,
 * 65 refused request, 70 server error) and 64 for a usage error.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/json_out.h"
#include "util/error.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds between two reads of --watch. */
#define WATCH_INTERVAL_S 2

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: canary rollout COMMAND [ARGS] [--server URL] [--token-file PATH] "
        "[--json]\n"
        "The rollouts of a running canary serve (its admin API).\n"
        "  start MODEL VERSION [--dry-run]   roll VERSION out along the strategy\n"
        "  status [ID|MODEL] [--watch]       one rollout (default: the newest);\n"
        "                                    exit 0 promoted, 1 rolled back or\n"
        "                                    aborted, 2 holding or paused, 3 in\n"
        "                                    progress; --watch follows it to the end\n"
        "  list [--model MODEL] [--state S]  rollouts, newest first\n"
        "  history ID                        the audit trail of a rollout\n"
        "  pause|resume|abort|retry ID [--reason TEXT]\n"
        "  promote ID [--full] [--reason TEXT]\n"
        "                                    finish the current step now; --full\n"
        "                                    skips every remaining step\n"
        "The server is --server or $CANARY_SERVER (default %s); the token\n"
        "is --token-file or $CANARY_TOKEN.\n",
        CN_CLIENT_DEFAULT_SERVER);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double num(json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

/* The exit code of `status` for a rollout's state. */
static int state_code(const char *state)
{
    if (strcmp(state, "promoted") == 0)
        return 0;
    if (strcmp(state, "rolled-back") == 0 || strcmp(state, "aborted") == 0)
        return 1;
    if (strcmp(state, "holding") == 0 || strcmp(state, "paused") == 0)
        return 2;
    return 3;
}

static void print_rollout(json_t *r)
{
    printf("rollout %lld: %s %s: %s",
           (long long)json_integer_value(json_object_get(r, "id")), str(r, "model"),
           str(r, "version"), str(r, "state"));
    if (json_is_true(json_object_get(r, "dry_run")))
        printf(" (dry run)");
    printf(", step %lld of %lld, canary weight %g%%\n",
           (long long)json_integer_value(json_object_get(r, "step")),
           (long long)json_integer_value(json_object_get(r, "steps")),
           num(r, "weight"));
    if (*str(r, "reason"))
        printf("  reason: %s\n", str(r, "reason"));
    json_t *v = json_object_get(r, "last_verdict");
    if (json_is_object(v)) {
        printf("  last analysis: %s", str(v, "verdict"));
        size_t i;
        json_t *why;
        json_array_foreach(json_object_get(v, "reasons"), i, why)
            printf("%s%s", i ? "; " : ": ", json_string_value(why));
        printf("\n");
    }
    json_t *s = json_object_get(r, "samples");
    if (json_is_object(s))
        printf("  samples: stable %lld, canary %lld of %lld needed\n",
               (long long)json_integer_value(json_object_get(s, "stable")),
               (long long)json_integer_value(json_object_get(s, "canary")),
               (long long)json_integer_value(json_object_get(s, "needed")));
    json_t *q = json_object_get(r, "sequential");
    if (json_is_object(q)) {
        printf("  sequential triggers (roll back at e-value %g):", num(q, "threshold"));
        size_t i;
        json_t *m;
        json_array_foreach(json_object_get(q, "metrics"), i, m)
        {
            if (json_is_true(json_object_get(m, "started")))
                printf("%s %s %.3g", i ? "," : "", str(m, "metric"), num(m, "e_value"));
            else
                printf("%s %s not started", i ? "," : "", str(m, "metric"));
        }
        printf("\n");
    }
}

static void print_list(json_t *list)
{
    json_t *items = json_object_get(list, "rollouts");
    if (json_array_size(items) == 0) {
        printf("no rollouts\n");
        return;
    }
    printf("%6s  %-20s %-12s %-12s %5s %8s\n", "ID", "MODEL", "VERSION", "STATE",
           "STEP", "WEIGHT");
    size_t i;
    json_t *r;
    json_array_foreach(items, i, r) printf(
        "%6lld  %-20s %-12s %-12s %5lld %7g%%\n",
        (long long)json_integer_value(json_object_get(r, "id")), str(r, "model"),
        str(r, "version"), str(r, "state"),
        (long long)json_integer_value(json_object_get(r, "step")), num(r, "weight"));
}

static void print_history(json_t *h)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(h, "entries"), i, e)
    {
        time_t t =
            (time_t)(json_integer_value(json_object_get(e, "time_unix_ms")) / 1000);
        struct tm tm;
        char when[32];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
        printf("%4lld  %s  %-10s %-16s %s\n",
               (long long)json_integer_value(json_object_get(e, "seq")), when,
               str(e, "kind"), str(e, "actor"), str(e, "reason"));
    }
}

/* A rollout id: digits only. */
static bool id_ok(const char *s)
{
    if (!*s || strlen(s) > 18)
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

static int do_status(cn_args_t *a, cn_client_t *c, bool json_out, bool watch)
{
    char path[300];
    const char *which = a->npos > 1 ? a->pos[1] : NULL;
    if (which && id_ok(which)) {
        snprintf(path, sizeof path, "/v1/rollouts/%s", which);
    } else {
        char *model = which ? cn_client_escape(which) : NULL;
        snprintf(path, sizeof path, "/v1/rollouts?latest=1%s%s", model ? "&model=" : "",
                 model ? model : "");
        free(model);
    }
    char last[4096] = "";
    for (;;) {
        json_t *answer;
        int code =
            cn_client_exchange(c, "rollout status", "GET", path, NULL, false, &answer);
        if (code) {
            json_decref(answer);
            return code;
        }
        json_t *r = answer;
        if (json_is_array(json_object_get(answer, "rollouts"))) {
            r = json_array_get(json_object_get(answer, "rollouts"), 0);
            if (!r) {
                fprintf(stderr, "canary rollout status: no rollout%s%s\n",
                        which ? " of model " : "", which ? which : "");
                json_decref(answer);
                return CN_EXIT_DATAERR;
            }
        }
        const char *state = str(r, "state");
        int sc = state_code(state);
        char *now = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
        if (!watch || strcmp(now ? now : "", last) != 0) {
            if (json_out)
                cn_json_print(stdout, r); /* the rollout, as GET /v1/rollouts/ID */
            else
                print_rollout(r);
        }
        snprintf(last, sizeof last, "%s", now ? now : "");
        free(now);
        json_decref(answer);
        if (!watch || sc == 0 || sc == 1)
            return sc;
        fflush(stdout);
        struct timespec ts = {WATCH_INTERVAL_S, 0};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
}

int cn_cli_rollout(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CN_EXIT_OK;
        }
    static const char *const flags[] = {"json", "watch", "dry-run", "full", NULL};
    cn_args_t a;
    if (cn_args_parse(&a, "rollout", argc - 1, argv + 1, flags))
        return CN_EXIT_USAGE;
    if (a.npos == 0) {
        fprintf(stderr, "canary rollout: missing command (try --help)\n");
        return CN_EXIT_USAGE;
    }
    const char *cmd = a.pos[0];
    char prog[64];
    snprintf(prog, sizeof prog, "rollout %.20s", cmd);
    bool json_out = cn_args_flag(&a, "json");
    static const char *const actions[] = {"pause", "resume", "promote",
                                          "abort", "retry",  NULL};
    bool is_action = false;
    for (size_t i = 0; actions[i]; i++)
        is_action = is_action || strcmp(cmd, actions[i]) == 0;
    if (!is_action && strcmp(cmd, "start") != 0 && strcmp(cmd, "status") != 0 &&
        strcmp(cmd, "list") != 0 && strcmp(cmd, "history") != 0) {
        fprintf(stderr, "canary rollout: unknown command '%.40s' (try --help)\n", cmd);
        return CN_EXIT_USAGE;
    }
    /* every option is read before the call, so a typo fails first */
    bool watch = cn_args_flag(&a, "watch");
    bool dry_run = cn_args_flag(&a, "dry-run");
    bool full = cn_args_flag(&a, "full");
    const char *reason = cn_args_str(&a, "reason", NULL);
    const char *model_filter = cn_args_str(&a, "model", NULL);
    const char *state_filter = cn_args_str(&a, "state", NULL);
    int code = 0;
    cn_client_t *c = cn_client_for(cn_args_str(&a, "server", NULL),
                                   cn_args_str(&a, "token-file", NULL), prog, &code);
    if (!c)
        return code;
    if (cn_args_finish(&a)) {
        cn_client_free(c);
        return CN_EXIT_USAGE;
    }
    json_t *answer = NULL, *body = NULL;
    char path[400];
    if (strcmp(cmd, "start") == 0) {
        if (a.npos != 3) {
            fprintf(stderr, "canary rollout start: needs MODEL VERSION (try --help)\n");
            code = CN_EXIT_USAGE;
        } else {
            body = json_pack("{s:s, s:s, s:b}", "model", a.pos[1], "version", a.pos[2],
                             "dry_run", dry_run);
            code = cn_client_exchange(c, prog, "POST", "/v1/rollouts", body, json_out,
                                      &answer);
            if (!code && !json_out && answer)
                print_rollout(answer);
        }
    } else if (strcmp(cmd, "status") == 0) {
        if (a.npos > 2) {
            fprintf(stderr, "canary rollout status: takes one ID or MODEL\n");
            code = CN_EXIT_USAGE;
        } else {
            code = do_status(&a, c, json_out, watch);
        }
    } else if (strcmp(cmd, "list") == 0) {
        char *m = model_filter ? cn_client_escape(model_filter) : NULL;
        char *s = state_filter ? cn_client_escape(state_filter) : NULL;
        snprintf(path, sizeof path, "/v1/rollouts?%s%s%s%s", m ? "model=" : "",
                 m ? m : "", s ? "&state=" : "", s ? s : "");
        free(m);
        free(s);
        code = cn_client_exchange(c, prog, "GET", path, NULL, json_out, &answer);
        if (!code && !json_out && answer)
            print_list(answer);
    } else if (a.npos != 2 || !id_ok(a.pos[1])) {
        fprintf(stderr, "canary %s: needs the rollout's ID (a number; try --help)\n",
                prog);
        code = CN_EXIT_USAGE;
    } else if (strcmp(cmd, "history") == 0) {
        snprintf(path, sizeof path, "/v1/rollouts/%s/history", a.pos[1]);
        code = cn_client_exchange(c, prog, "GET", path, NULL, json_out, &answer);
        if (!code && !json_out && answer)
            print_history(answer);
    } else {
        snprintf(path, sizeof path, "/v1/rollouts/%s/%s", a.pos[1], cmd);
        body = json_object();
        if (reason)
            json_object_set_new(body, "reason", json_string(reason));
        if (full)
            json_object_set_new(body, "full", json_true());
        code = cn_client_exchange(c, prog, "POST", path, body, json_out, &answer);
        if (!code && !json_out && answer)
            print_rollout(answer);
    }
    json_decref(body);
    json_decref(answer);
    cn_client_free(c);
    return code;
}
