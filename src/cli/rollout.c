/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary rollout start|status|list|history|pause|resume|promote|abort|retry`:
 * the rollouts of a running `canary serve`, through its admin API
 * (cli/client.h; docs/CLI.md). Readable output, or with --json the
 * server's JSON as it came (the API's keys).
 *
 * `status` answers with its exit code too, so a deploy script can wait on
 * it: 0 promoted, 1 rolled back or aborted, 2 holding or paused (a person
 * is needed), 3 still in progress. `status --watch` follows it to the end:
 * on a terminal one block redrawn in place, on a pipe one line per change
 * (the text is cli/watch.c's). Every command returns the client's
 * codes for a failed call (69 unreachable, 77 refused token, 75 conflict,
 * 65 refused request, 70 server error) and 64 for a usage error.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/json_out.h"
#include "cli/watch.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/error.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

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
        "  start MODEL --parity [--addresses HOST:PORT,...]\n"
        "                                    a parity (A/A) check: stable's own\n"
        "                                    version as the canary arm (on these\n"
        "                                    addresses; default stable's), judged\n"
        "                                    both ways: passed, failed or\n"
        "                                    inconclusive (strategy.parity)\n"
        "  status [ID|MODEL] [--watch]       one rollout (default: the newest);\n"
        "                                    exit 0 promoted, 1 rolled back or\n"
        "                                    aborted, 2 holding or paused, 3 in\n"
        "                                    progress; --watch follows it to the end\n"
        "                                    (a terminal: one block redrawn in place;\n"
        "                                    a pipe: one line per change)\n"
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
    json_t *pc = json_object_get(r, "parity_check");
    if (json_is_object(pc)) {
        printf("parity check %lld: %s %s as '%s' on %zu address%s: %s (%s)\n",
               (long long)json_integer_value(json_object_get(r, "id")), str(r, "model"),
               str(r, "version"), str(pc, "label"),
               json_array_size(json_object_get(pc, "addresses")),
               json_array_size(json_object_get(pc, "addresses")) == 1 ? "" : "es",
               str(pc, "result"), str(r, "state"));
    }
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
    json_t *pw = json_object_get(r, "parity_warning");
    if (json_is_object(pw))
        printf("  WARNING: %s\n", str(pw, "message"));
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

/* The terminal's width in columns: the tty's, else $COLUMNS, else 80. */
static unsigned term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    long n = c ? strtol(c, NULL, 10) : 0;
    return n > 0 && n < 10000 ? (unsigned)n : 80;
}

/* The judge's result of rollout r's last analysis (GET
 * /v1/rollouts/ID/analyses), or NULL; a failed read shows nothing rather
 * than stopping the watch. */
static json_t *last_analysis(cn_client_t *c, json_t *r)
{
    char path[80];
    snprintf(path, sizeof path, "/v1/rollouts/%lld/analyses",
             (long long)json_integer_value(json_object_get(r, "id")));
    cn_client_response_t res;
    char err[512];
    json_t *out = NULL;
    if (cn_client_call(c, "GET", path, NULL, &res, err, sizeof err) == 0 &&
        res.status == 200) {
        json_t *all = json_loadb(res.body, res.body_len, 0, NULL);
        json_t *list = json_object_get(all, "analyses");
        out =
            json_object_get(json_array_get(list, json_array_size(list) - 1), "result");
        json_incref(out);
        json_decref(all);
    }
    cn_client_response_dispose(&res);
    return out;
}

/* The watch on a terminal: the block of cli/watch.h, redrawn in place.
 * The cursor goes back up over the lines drawn last time (none wraps:
 * each is cut to the width), each line is erased and written again, and
 * what is left below of a longer block is cleared. */
static void redraw(cn_client_t *c, json_t *r, json_t **analysis, int64_t *analysis_ms,
                   unsigned *drawn)
{
    json_t *v = json_object_get(r, "last_verdict");
    int64_t vms = (int64_t)json_integer_value(json_object_get(v, "time_unix_ms"));
    if (v && vms != *analysis_ms) {
        json_decref(*analysis);
        *analysis = last_analysis(c, r);
        *analysis_ms = vms;
    }
    cn_buf_t block = CN_BUF_INIT(1 << 20), screen = CN_BUF_INIT(1 << 20);
    unsigned n = cn_watch_block(r, *analysis, cn_clock_unix_ms(), term_width(), &block);
    if (*drawn)
        cn_buf_printf(&screen, "\r\033[%uA", *drawn);
    for (const char *p = block.data, *end = block.data + block.len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        cn_buf_str(&screen, "\033[2K");
        cn_buf_add(&screen, p, (size_t)(nl - p) + 1);
        p = nl + 1;
    }
    cn_buf_str(&screen, "\033[J");
    fwrite(screen.data, 1, screen.len, stdout);
    fflush(stdout);
    *drawn = n;
    cn_buf_dispose(&block);
    cn_buf_dispose(&screen);
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
    /* --watch: on a terminal the block redrawn in place every second; on a
     * pipe one plain line per change; with --json the rollout's JSON
     * whenever any of it changed */
    bool tty = watch && !json_out && isatty(STDOUT_FILENO);
    char last[4096] = "";
    cn_buf_t sig = CN_BUF_INIT(8192), line = CN_BUF_INIT(1 << 16);
    json_t *analysis = NULL;
    int64_t analysis_ms = -1;
    unsigned drawn = 0;
    int code;
    for (;;) {
        json_t *answer;
        code =
            cn_client_exchange(c, "rollout status", "GET", path, NULL, false, &answer);
        if (code) {
            json_decref(answer);
            break;
        }
        json_t *r = answer;
        if (json_is_array(json_object_get(answer, "rollouts"))) {
            r = json_array_get(json_object_get(answer, "rollouts"), 0);
            if (!r) {
                fprintf(stderr, "canary rollout status: no rollout%s%s\n",
                        which ? " of model " : "", which ? which : "");
                json_decref(answer);
                code = CN_EXIT_DATAERR;
                break;
            }
        }
        code = state_code(str(r, "state"));
        if (tty) {
            redraw(c, r, &analysis, &analysis_ms, &drawn);
        } else if (watch && !json_out) {
            cn_watch_signature(r, &line);
            if (!sig.data || strcmp(sig.data, line.data) != 0) {
                cn_buf_reset(&sig);
                cn_buf_add(&sig, line.data, line.len);
                cn_buf_reset(&line);
                cn_watch_line(r, cn_clock_unix_ms(), &line);
                fwrite(line.data, 1, line.len, stdout);
            }
        } else {
            char *now = json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS);
            if (!watch || strcmp(now ? now : "", last) != 0) {
                if (json_out)
                    cn_json_print(stdout, r); /* the rollout, as GET /v1/rollouts/ID */
                else
                    print_rollout(r);
            }
            snprintf(last, sizeof last, "%s", now ? now : "");
            free(now);
        }
        json_decref(answer);
        if (!watch || code == 0 || code == 1)
            break;
        fflush(stdout);
        struct timespec ts = {tty ? 1 : WATCH_INTERVAL_S, 0};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
    }
    json_decref(analysis);
    cn_buf_dispose(&sig);
    cn_buf_dispose(&line);
    return code;
}

int cn_cli_rollout(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CN_EXIT_OK;
        }
    static const char *const flags[] = {"json", "watch",  "dry-run",
                                        "full", "parity", NULL};
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
    bool parity = cn_args_flag(&a, "parity");
    const char *addresses = cn_args_str(&a, "addresses", NULL);
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
    if (strcmp(cmd, "start") == 0 && (parity || addresses)) {
        if (!parity || a.npos != 2) {
            fprintf(stderr, "canary rollout start: %s (try --help)\n",
                    parity ? "--parity takes MODEL alone (the version is stable's)"
                           : "--addresses goes with --parity");
            code = CN_EXIT_USAGE;
        } else {
            body = json_pack("{s:s, s:b}", "model", a.pos[1], "parity", 1);
            if (dry_run)
                json_object_set_new(body, "dry_run", json_true());
            if (reason)
                json_object_set_new(body, "reason", json_string(reason));
            if (addresses) {
                /* "h:1,h:2": the server checks each one */
                json_t *list = json_array();
                const char *p = addresses;
                for (;;) {
                    const char *comma = strchr(p, ',');
                    size_t n = comma ? (size_t)(comma - p) : strlen(p);
                    json_array_append_new(list, json_stringn(p, n));
                    if (!comma)
                        break;
                    p = comma + 1;
                }
                json_object_set_new(body, "addresses", list);
            }
            code = cn_client_exchange(c, prog, "POST", "/v1/rollouts", body, json_out,
                                      &answer);
            if (!code && !json_out && answer)
                print_rollout(answer);
        }
    } else if (strcmp(cmd, "start") == 0) {
        if (a.npos != 3) {
            fprintf(stderr, "canary rollout start: needs MODEL VERSION (try --help)\n");
            code = CN_EXIT_USAGE;
        } else {
            body = json_pack("{s:s, s:s, s:b}", "model", a.pos[1], "version", a.pos[2],
                             "dry_run", dry_run);
            if (reason)
                json_object_set_new(body, "reason", json_string(reason));
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
