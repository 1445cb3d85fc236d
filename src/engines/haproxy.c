/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HAProxy traffic engine (haproxy.h): its key table, apply and renew.
 * The pure parts are in haproxy_plan.c and haproxy_weights.c, the socket
 * in haproxy_cli.c.
 *
 * One apply: resolve the generation's addresses (dynamic servers take
 * IP addresses only: HAProxy 2.6 does not resolve a name given to `add
 * server`), read the backend (`show servers state B`, `show stat B 4
 * -1`), run the plan's commands one by one with every answer checked,
 * read the backend again and check that it is the plan's (so the
 * effective weight is what HAProxy runs, not what was asked), delete the
 * leaving servers that are idle, and write the state file. renew() does
 * the same against the last generation applied, runs commands only when
 * the backend left it, and deletes drained servers as their sessions end.
 * A mutex serialises apply and renew.
 */
#include "engines/haproxy.h"
#include "engines/haproxy_internal.h"
#include "util/addr.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/text.h"
#include "util/units.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define QUOTE_BUF CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)

/* ------------------------------------------------------------ config */

static int check_socket(const char *text, char *what, size_t len)
{
    char q[QUOTE_BUF];
    if (text[0] == '/') {
        if (strlen(text) < 108)
            return 0;
        snprintf(what, len, "must be a unix socket path under 108 bytes, got '%s'",
                 cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
        return CN_EINVAL;
    }
    size_t scheme = 0;
    if (cn_units_check_address(text, 0, &scheme) == 0 && scheme == 0)
        return 0;
    snprintf(what, len,
             "must be the admin socket: an absolute unix socket path or host:port, "
             "got '%s'",
             cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

/* HAProxy's names: letters, digits, '.', '_', '-' and ':'. */
static int check_name(const char *text, size_t max, const char *what_name, char *what,
                      size_t len)
{
    size_t n = strlen(text);
    bool ok = n > 0 && n <= max;
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        ok = isalnum(c) || c == '.' || c == '_' || c == '-' || c == ':';
    }
    if (ok)
        return 0;
    char q[QUOTE_BUF];
    snprintf(what, len,
             "must be %s of 1 to %zu letters, digits, '.', '_', '-' or ':', got '%s'",
             what_name, max, cn_text_quote(text, n, CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

static int check_backend(const char *text, char *what, size_t len)
{
    return check_name(text, 64, "an HAProxy backend name", what, len);
}

static int check_prefix(const char *text, char *what, size_t len)
{
    return check_name(text, 32, "an HAProxy server name prefix", what, len);
}

static int check_options(const char *text, char *what, size_t len)
{
    char q[QUOTE_BUF];
    const char *quoted = cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q);
    if (strlen(text) > 300 || strpbrk(text, ";#\r\n\\'\"")) {
        snprintf(what, len,
                 "must be `add server` keywords on one line (at most 300 bytes, "
                 "without ; # \\ or quotes), got '%s'",
                 quoted);
        return CN_EINVAL;
    }
    /* whole words only */
    static const char *const refused[] = {"enabled", "disabled", "weight", "backup"};
    for (size_t i = 0; i < COUNT(refused); i++) {
        size_t wl = strlen(refused[i]);
        for (const char *p = strstr(text, refused[i]); p; p = strstr(p + 1, refused[i]))
            if ((p == text || isspace((unsigned char)p[-1])) &&
                (!p[wl] || isspace((unsigned char)p[wl]))) {
                snprintf(what, len,
                         "must not hold '%s' (canary sets a server's weight and "
                         "state itself; a dynamic server added 'enabled' takes no "
                         "traffic in HAProxy 2.6.12, haproxy/haproxy#2497), got '%s'",
                         refused[i], quoted);
                return CN_EINVAL;
            }
    }
    return 0;
}

#define K(f)                                                                           \
    .offset = offsetof(cn_haproxy_config_t, f),                                        \
    .width = sizeof(((cn_haproxy_config_t *)0)->f)

static const cn_config_key_t haproxy_keys[] = {
    {.key = "socket",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .check = check_socket,
     .want = "a unix socket path (/run/haproxy/admin.sock) or host:port",
     .help = "HAProxy's admin socket (`stats socket ... level admin`): a unix "
             "socket path or host:port",
     K(socket)},
    {.key = "backend",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .check = check_backend,
     .help = "the backend whose servers canary manages (a dynamic algorithm: "
             "roundrobin, leastconn or random)",
     K(backend)},
    {.key = "server_prefix",
     .type = CN_CONFIG_STRING,
     .default_text = "cn-",
     .check = check_prefix,
     .help = "names of canary's servers start with it (PREFIX ROLE-VERSION-INDEX); "
             "other servers of the backend are left alone",
     K(server_prefix)},
    {.key = "server_options",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .check = check_options,
     .help = "more `add server` keywords for every server (\"check inter 1s "
             "maxconn 100\"); not weight, backup, enabled or disabled",
     K(server_options)},
    {.key = "state_file",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_FILE,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "after each change, write `show servers state` here (HAProxy's "
             "server-state-file, read on a reload for the servers its "
             "configuration declares)",
     K(state_file)},
    {.key = "connect_timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 10,
     .hi = CN_UNITS_MINUTE_MS,
     .default_text = "1s",
     .help = "connecting to the admin socket",
     K(connect_timeout_ms)},
    {.key = "timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 100,
     .hi = 5 * CN_UNITS_MINUTE_MS,
     .default_text = "5s",
     .help = "one command's whole answer",
     K(timeout_ms)},
    {.key = "drain_timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 0,
     .hi = CN_UNITS_HOUR_MS,
     .default_text = "30s",
     .help = "a leaving server is drained, then deleted when its sessions end; "
             "after this long they are shut down and it is deleted",
     K(drain_timeout_ms)},
};

const cn_config_table_t cn_haproxy_config_table = {
    .keys = haproxy_keys,
    .n_keys = COUNT(haproxy_keys),
    .size = sizeof(cn_haproxy_config_t),
    .line_at = CN_CONFIG_AT(cn_haproxy_config_t, line),
};

void cn_haproxy_config_dispose(cn_haproxy_config_t *cfg)
{
    cn_config_dispose(&cn_haproxy_config_table, cfg);
}

/* ------------------------------------------------------------ engine */

typedef struct drain_s {
    char name[CN_HAPROXY_NAME_MAX + 1];
    int64_t since_ms;
} drain_t;

struct cn_haproxy_s {
    cn_traffic_engine_t traffic; /* first */
    /* private */
    cn_haproxy_config_t cfg; /* owned copy */
    pthread_mutex_t mu;
    bool applied_any;
    uint64_t generation;     /* the last generation applied */
    cn_haproxy_want_t *want; /* its servers */
    size_t n_want;
    uint16_t effective_bp;
    cn_step_t step;
    /* the canary's servers as the last converge left them, for a
     * rollback's first commands */
    char (*canary_names)[CN_HAPROXY_NAME_MAX + 1];
    size_t n_canary_names;
    drain_t *drains; /* leaving servers, since when */
    size_t n_drains;
    uint64_t reapplied, deleted;
    char last_reapply[320];
    cn_buf_t answer;
};

static char *dup_or_null(const char *s)
{
    return s ? cn_xstrdup(s) : NULL;
}

static int haproxy_apply(cn_traffic_engine_t *self, const cn_generation_t *desired,
                         cn_traffic_applied_t *out, char *err, size_t errlen);
static int haproxy_renew(cn_traffic_engine_t *self, char *err, size_t errlen);

int cn_haproxy_new(const cn_haproxy_config_t *cfg, cn_haproxy_t **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    cn_config_problem_t p;
    if (cn_config_check(&cn_haproxy_config_table, cfg, &p))
        return cn_fail(err, errlen, CN_EINVAL, "haproxy: key '%s': %s", p.path, p.what);
    cn_haproxy_t *h = cn_xcalloc(1, sizeof *h);
    h->traffic = (cn_traffic_engine_t){"haproxy", haproxy_apply, haproxy_renew};
    h->cfg = *cfg;
    h->cfg.socket = dup_or_null(cfg->socket);
    h->cfg.backend = dup_or_null(cfg->backend);
    h->cfg.server_prefix = dup_or_null(cfg->server_prefix ? cfg->server_prefix : "cn-");
    h->cfg.server_options = dup_or_null(cfg->server_options);
    h->cfg.state_file = dup_or_null(cfg->state_file);
    pthread_mutex_init(&h->mu, NULL);
    cn_buf_init(&h->answer, CN_HAPROXY_ANSWER_MAX);
    *out = h;
    return 0;
}

void cn_haproxy_free(cn_haproxy_t *h)
{
    if (!h)
        return;
    cn_haproxy_config_dispose(&h->cfg);
    pthread_mutex_destroy(&h->mu);
    free(h->want);
    free(h->canary_names);
    free(h->drains);
    cn_buf_dispose(&h->answer);
    free(h);
}

cn_traffic_engine_t *cn_haproxy_traffic(cn_haproxy_t *h)
{
    return &h->traffic;
}

void cn_haproxy_counters(const cn_haproxy_t *h, cn_haproxy_counters_t *out)
{
    cn_haproxy_t *m = (cn_haproxy_t *)h; /* the lock only */
    pthread_mutex_lock(&m->mu);
    out->reapplied = h->reapplied;
    out->deleted = h->deleted;
    out->last_reapply = h->last_reapply;
    pthread_mutex_unlock(&m->mu);
}

/* One command, its answer checked; the answer stays in h->answer. */
static int command(cn_haproxy_t *h, const char *cmd, cn_haproxy_expect_t expect,
                   char *err, size_t errlen)
{
    int rc = cn_haproxy__send(&h->cfg, cmd, &h->answer, err, errlen);
    if (rc)
        return rc;
    return cn_haproxy__check_answer(cmd, expect, h->answer.data, err, errlen);
}

/* The backend as HAProxy runs it now. */
static int read_live(cn_haproxy_t *h, cn_haproxy_live_t *live, char *err, size_t errlen)
{
    char cmd[128];
    *live = (cn_haproxy_live_t){0};
    snprintf(cmd, sizeof cmd, "show servers state %s", h->cfg.backend);
    int rc = command(h, cmd, CN_HAPROXY_EXPECT_STATE, err, errlen);
    if (!rc)
        rc = cn_haproxy__parse_state(h->answer.data, h->cfg.backend,
                                     h->cfg.server_prefix, live, err, errlen);
    if (!rc) {
        snprintf(cmd, sizeof cmd, "show stat %s 4 -1", h->cfg.backend);
        rc = command(h, cmd, CN_HAPROXY_EXPECT_STAT, err, errlen);
    }
    if (!rc)
        rc = cn_haproxy__parse_stat(h->answer.data, h->cfg.backend, live, err, errlen);
    if (rc)
        cn_haproxy__live_dispose(live);
    return rc == CN_EPARSE ? CN_EIO : rc;
}

/* The generation's servers, addresses resolved, weights split. */
static int build_want(const cn_generation_t *g, cn_haproxy_want_t **out, size_t *n_out,
                      uint16_t *effective_bp, char *err, size_t errlen)
{
    const cn_version_set_t *st = &g->sets[CN_ROLE_STABLE],
                           *ca = &g->sets[CN_ROLE_CANARY];
    cn_haproxy_split_t split;
    if (cn_haproxy_split(g->traffic.canary_weight_bp, st->count, ca->count, &split))
        return cn_fail(err, errlen, CN_EINVAL,
                       "haproxy: canary weight %u bp or sets of %zu and %zu addresses "
                       "out of range",
                       (unsigned)g->traffic.canary_weight_bp, st->count, ca->count);
    size_t n = st->count + ca->count;
    cn_haproxy_want_t *w = cn_xcalloc(n ? n : 1, sizeof *w);
    size_t k = 0;
    for (int r = 0; r < CN_ROLE_COUNT; r++) {
        const cn_version_set_t *s = &g->sets[r];
        uint32_t total = r == CN_ROLE_STABLE ? split.stable_total : split.canary_total;
        for (size_t i = 0; i < s->count; i++, k++) {
            struct sockaddr_storage ss;
            char rerr[300];
            if (cn_addr_resolve(s->addresses[i], 0, &ss, NULL, rerr, sizeof rerr)) {
                free(w);
                return cn_fail(err, errlen, CN_EINVAL, "haproxy: %s version '%s': %s",
                               cn_role_name((cn_role_t)r), s->version, rerr);
            }
            w[k].role = (cn_role_t)r;
            cn_haproxy__name_label(s->version, w[k].label);
            cn_addr_format((struct sockaddr *)&ss, true, w[k].addr, sizeof w[k].addr);
            w[k].weight = cn_haproxy_weight(total, s->count, i);
        }
    }
    *out = w;
    *n_out = n;
    *effective_bp = split.effective_weight_bp;
    return 0;
}

static int run_plan(cn_haproxy_t *h, const cn_haproxy_plan_t *plan, char *err,
                    size_t errlen)
{
    for (size_t i = 0; i < plan->count; i++) {
        int rc = command(h, plan->cmds[i].text, plan->cmds[i].expect, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

static drain_t *drain_of(cn_haproxy_t *h, const char *name, int64_t now)
{
    for (size_t i = 0; i < h->n_drains; i++)
        if (strcmp(h->drains[i].name, name) == 0)
            return &h->drains[i];
    h->drains = cn_xrealloc(h->drains, (h->n_drains + 1) * sizeof *h->drains);
    drain_t *d = &h->drains[h->n_drains++];
    snprintf(d->name, sizeof d->name, "%s", name);
    d->since_ms = now;
    return d;
}

static void drain_forget(cn_haproxy_t *h, const char *name)
{
    for (size_t i = 0; i < h->n_drains; i++)
        if (strcmp(h->drains[i].name, name) == 0) {
            h->drains[i] = h->drains[--h->n_drains];
            return;
        }
}

/*
 * Delete the leaving servers whose sessions have ended, or that have
 * drained for drain_timeout (their sessions shut down first). A refusal
 * (HAProxy still sees a connection) is not an error: the next renew
 * tries again. Returns how many were deleted.
 */
static size_t reap(cn_haproxy_t *h, const cn_haproxy_live_t *live, const bool *leaving)
{
    int64_t now = cn_clock_unix_ms();
    size_t deleted = 0;
    char cmd[256], err[512];
    const char *be = h->cfg.backend;
    for (size_t i = 0; i < live->count; i++) {
        const cn_haproxy_server_t *s = &live->servers[i];
        if (!leaving[i])
            continue;
        drain_t *d = drain_of(h, s->name, now);
        bool late = now - d->since_ms >= (int64_t)h->cfg.drain_timeout_ms;
        if (s->scur > 0 && !late)
            continue;
        if (s->scur > 0) {
            snprintf(cmd, sizeof cmd, "shutdown sessions server %s/%s", be, s->name);
            (void)command(h, cmd, CN_HAPROXY_EXPECT_EMPTY, err, sizeof err);
        }
        if (!(s->admin & CN_HAPROXY_ADMF_FMAINT)) {
            snprintf(cmd, sizeof cmd, "disable server %s/%s", be, s->name);
            if (command(h, cmd, CN_HAPROXY_EXPECT_EMPTY, err, sizeof err))
                continue;
        }
        snprintf(cmd, sizeof cmd, "del server %s/%s", be, s->name);
        if (command(h, cmd, CN_HAPROXY_EXPECT_DELETED, err, sizeof err))
            continue;
        drain_forget(h, s->name);
        deleted++;
    }
    h->deleted += deleted;
    return deleted;
}

/* Write `show servers state` to the state file (all backends: HAProxy's
 * global server-state-file holds them all), atomically. */
static int dump_state(cn_haproxy_t *h, char *err, size_t errlen)
{
    if (!h->cfg.state_file)
        return 0;
    int rc = command(h, "show servers state", CN_HAPROXY_EXPECT_STATE, err, errlen);
    if (rc)
        return rc;
    /* A temporary file of its own: the engines of several models may
     * write one global state file at the same time; the last rename
     * wins, whole. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", h->cfg.state_file);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f && fd >= 0)
        close(fd);
    bool ok = f && fwrite(h->answer.data, 1, h->answer.len, f) == h->answer.len;
    ok = f && fclose(f) == 0 && ok;
    /* mkstemp makes it 0600: HAProxy (another user) must read it */
    ok = ok && chmod(tmp, 0644) == 0;
    if (!ok || rename(tmp, h->cfg.state_file) != 0) {
        if (fd >= 0)
            unlink(tmp);
        char q[CN_TEXT_QUOTE_BUF(160)];
        return cn_fail(
            err, errlen, CN_EIO, "haproxy: state_file '%s': cannot write it",
            cn_text_quote(h->cfg.state_file, strlen(h->cfg.state_file), 160, q));
    }
    return 0;
}

/*
 * Make the backend h->want's: read, plan, run, read again and check.
 * *changed: whether commands ran (why in h's why, for renew); the final
 * live view goes to reap.
 */
static int converge(cn_haproxy_t *h, const cn_haproxy_want_t *want, size_t n_want,
                    bool *changed, char *why, size_t whylen, char *err, size_t errlen)
{
    *changed = false;
    cn_haproxy_live_t live;
    int rc = read_live(h, &live, err, errlen);
    if (rc)
        return rc;
    cn_haproxy_plan_t plan;
    rc = cn_haproxy__plan(&h->cfg, &live, want, n_want, &plan, err, errlen);
    if (rc) {
        cn_haproxy__live_dispose(&live);
        return rc;
    }
    if (plan.count) {
        *changed = true;
        if (why)
            snprintf(why, whylen, "%s", plan.why);
        rc = run_plan(h, &plan, err, errlen);
        cn_haproxy__plan_dispose(&plan);
        cn_haproxy__live_dispose(&live);
        if (rc)
            return rc;
        /* what HAProxy runs now must be the plan's */
        rc = read_live(h, &live, err, errlen);
        if (rc)
            return rc;
        rc = cn_haproxy__plan(&h->cfg, &live, want, n_want, &plan, err, errlen);
        if (!rc && plan.count)
            rc = cn_fail(err, errlen, CN_EIO,
                         "haproxy backend '%s': still not the generation after the "
                         "change: %s",
                         h->cfg.backend, plan.why);
        if (rc) {
            cn_haproxy__plan_dispose(&plan);
            cn_haproxy__live_dispose(&live);
            return rc;
        }
    }
    h->n_canary_names = 0;
    h->canary_names = cn_xrealloc(h->canary_names, (live.count ? live.count : 1) *
                                                       sizeof *h->canary_names);
    for (size_t i = 0; i < live.count; i++)
        if (live.servers[i].ours && live.servers[i].role == CN_ROLE_CANARY &&
            !plan.leaving[i])
            memcpy(h->canary_names[h->n_canary_names++], live.servers[i].name,
                   sizeof h->canary_names[0]);
    if (reap(h, &live, plan.leaving))
        *changed = true;
    cn_haproxy__plan_dispose(&plan);
    cn_haproxy__live_dispose(&live);
    return 0;
}

static int haproxy_apply(cn_traffic_engine_t *self, const cn_generation_t *desired,
                         cn_traffic_applied_t *out, char *err, size_t errlen)
{
    cn_haproxy_t *h = (cn_haproxy_t *)self;
    cn_haproxy_want_t *want = NULL;
    size_t n_want = 0;
    uint16_t effective = 0;
    int rc = build_want(desired, &want, &n_want, &effective, err, errlen);
    if (rc)
        return rc;
    pthread_mutex_lock(&h->mu);
    bool changed = false;
    /* A rollback first: the canary's known servers go to weight 0 before
     * anything is read (two round trips sooner). A failure here is left
     * to converge, which reads what HAProxy really runs and reports. */
    bool canary_off = true;
    for (size_t i = 0; i < n_want; i++)
        canary_off = canary_off && (want[i].role != CN_ROLE_CANARY || !want[i].weight);
    for (size_t i = 0; canary_off && h->applied_any && i < h->n_canary_names; i++) {
        char cmd[256], ignored[512];
        snprintf(cmd, sizeof cmd, "set weight %s/%s 0", h->cfg.backend,
                 h->canary_names[i]);
        (void)command(h, cmd, CN_HAPROXY_EXPECT_EMPTY, ignored, sizeof ignored);
    }
    rc = converge(h, want, n_want, &changed, NULL, 0, err, errlen);
    if (!rc) {
        free(h->want);
        h->want = want;
        want = NULL;
        h->n_want = n_want;
        h->effective_bp = effective;
        if (!h->applied_any || h->generation != desired->number) {
            h->step.number++;
            h->step.generation = desired->number;
            h->step.started_unix_s = (double)cn_clock_unix_ms() / 1000.0;
        }
        h->applied_any = true;
        h->generation = desired->number;
        out->generation = desired->number;
        out->effective_weight_bp = effective;
        out->step = h->step;
        if (changed)
            rc = dump_state(h, err, errlen);
    }
    pthread_mutex_unlock(&h->mu);
    free(want);
    return rc;
}

static int haproxy_renew(cn_traffic_engine_t *self, char *err, size_t errlen)
{
    cn_haproxy_t *h = (cn_haproxy_t *)self;
    pthread_mutex_lock(&h->mu);
    int rc = 0;
    if (h->applied_any) {
        bool changed = false;
        char why[256] = "";
        rc = converge(h, h->want, h->n_want, &changed, why, sizeof why, err, errlen);
        if (why[0]) {
            h->reapplied++;
            snprintf(h->last_reapply, sizeof h->last_reapply,
                     "generation %llu re-applied: %s",
                     (unsigned long long)h->generation, why);
            fprintf(stderr, "haproxy backend '%s': %s%s%s\n", h->cfg.backend,
                    h->last_reapply, rc ? "; failed: " : "", rc ? err : "");
        }
        if (!rc && changed)
            rc = dump_state(h, err, errlen);
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}
