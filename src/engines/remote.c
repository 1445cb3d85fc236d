/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `remote` engine (remote.h): its config table, and apply, renew and
 * read over libcurl.
 *
 * Each kind of call has a lane: a libcurl multi handle, one easy handle per
 * replica and a lock. A call puts the replicas' requests on its lane's
 * multi handle at once and waits for all of them (curl_multi_poll), so
 * three replicas cost one round trip, not three. The easy handles are
 * reused from call to call (curl_easy_reset keeps their connections), so
 * a rollback finds its connections open: no connect, no slow start.
 * Apply, read and renew have a lane each, so the heartbeat never waits
 * behind a 100 MB snapshot, nor a rollback behind either.
 */
#include "engines/remote.h"
#include "engines/wire.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/file.h"
#include "util/text.h"
#include "util/units.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* libcurl could not make a handle: out of memory, as cn_xmalloc treats it. */
static void die(const char *what)
{
    fprintf(stderr, "canary: remote: %s\n", what);
    abort();
}

/* ------------------------------------------------------------ config */

static int check_url(const char *text, char *what, size_t len)
{
    const char *rest = strncmp(text, "http://", 7) == 0 ? text + 7 : NULL;
    char q[CN_TEXT_QUOTE_BUF(80)];
    if (!rest || !*rest || *rest == '/' || strpbrk(text, " \t\r\n?#") ||
        strchr(rest, '/')) {
        snprintf(what, len,
                 "must be a replica's admin API as http://host:port (no path), got "
                 "'%s'",
                 cn_text_quote(text, strlen(text), 80, q));
        return CN_EINVAL;
    }
    return 0;
}

static int check_name(const char *text, char *what, size_t len)
{
    size_t n = strlen(text);
    bool ok = n >= 1 && n <= CN_WIRE_CONTROLLER_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = text[i] > ' ' && text[i] <= '~' && text[i] != '"' && text[i] != '\\';
    if (!ok) {
        snprintf(what, len, "must be 1 to %u visible ASCII characters",
                 CN_WIRE_CONTROLLER_MAX);
        return CN_EINVAL;
    }
    return 0;
}

#define R(f)                                                                           \
    .offset = offsetof(cn_remote_replica_t, f),                                        \
    .width = sizeof(((cn_remote_replica_t *)0)->f)
#define C(f)                                                                           \
    .offset = offsetof(cn_remote_config_t, f),                                         \
    .width = sizeof(((cn_remote_config_t *)0)->f)

static const cn_config_key_t replica_keys[] = {
    {.key = "url",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .check = check_url,
     .help = "the replica's admin API, http://host:port",
     R(url)},
    {.key = "token_file",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_FILE,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "file holding the replica's admin token; default $CANARY_TOKEN",
     R(token_file)},
};

static const cn_config_table_t replica_table = {
    .keys = replica_keys,
    .n_keys = COUNT(replica_keys),
    .size = sizeof(cn_remote_replica_t),
    .line_at = CN_CONFIG_AT(cn_remote_replica_t, line),
    .item_want = "a mapping with url and token_file",
};

static int remote_check(const void *record, char *path, size_t pathlen, int *line,
                        char *what, size_t len)
{
    const cn_remote_config_t *c = record;
    if (c->n_replicas == 0) {
        snprintf(path, pathlen, "replicas");
        snprintf(what, len, "at least one replica is required");
        return CN_EINVAL;
    }
    for (size_t i = 0; i < c->n_replicas; i++)
        for (size_t j = 0; j < i; j++)
            if (c->replicas[i].url && c->replicas[j].url &&
                strcmp(c->replicas[i].url, c->replicas[j].url) == 0) {
                snprintf(path, pathlen, "replicas[%zu].url", i);
                *line = c->replicas[i].line;
                snprintf(what, len, "replica [%zu] is replica [%zu] again ('%.200s')",
                         i, j, c->replicas[i].url);
                return CN_EINVAL;
            }
    if (c->renew_every_ms * 2 > c->lease_ms) {
        snprintf(path, pathlen, "renew_every");
        snprintf(what, len,
                 "must be at most half the lease (%" PRIu64 " ms), got %" PRIu64
                 " ms: one lost heartbeat must not cost the lease",
                 c->lease_ms, c->renew_every_ms);
        return CN_EINVAL;
    }
    return 0;
}

static const cn_config_key_t remote_keys[] = {
    {.key = "replicas",
     .type = CN_CONFIG_LIST,
     .table = &replica_table,
     .opts = CN_CONFIG_REQUIRED,
     .lo = 1,
     .hi = CN_REMOTE_MAX_REPLICAS,
     .want = "a list of replicas, each {url, token_file}",
     .help = "the canary serve replicas this engine drives (their admin APIs)",
     C(replicas),
     .count_offset = offsetof(cn_remote_config_t, n_replicas)},
    {.key = "lease",
     .type = CN_CONFIG_DURATION,
     .lo = 1000,
     .hi = CN_WIRE_LEASE_MAX_MS,
     .default_text = "10s",
     .help = "the replicas' fail-safe lease: a replica that hears nothing from the "
             "controller for this long sets its canary weight to 0 by itself",
     C(lease_ms)},
    {.key = "renew_every",
     .type = CN_CONFIG_DURATION,
     .lo = 100,
     .hi = CN_WIRE_LEASE_MAX_MS / 2,
     .default_text = "2s",
     .help = "how often the lease is renewed (at most half the lease)",
     C(renew_every_ms)},
    {.key = "timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 10,
     .hi = 5 * CN_UNITS_MINUTE_MS,
     .default_text = "2s",
     .help = "one request's timeout, connect to last byte",
     C(timeout_ms)},
    {.key = "connect_timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 10,
     .hi = CN_UNITS_MINUTE_MS,
     .default_text = "500ms",
     .help = "one connection's timeout",
     C(connect_timeout_ms)},
    {.key = "rollback_retry",
     .type = CN_CONFIG_DURATION,
     .lo = 0,
     .hi = CN_UNITS_HOUR_MS,
     .default_text = "0s",
     .help = "how long a canary weight of 0 is sent again to the replicas that "
             "did not confirm it; 0: the lease plus 1s (by then every replica "
             "cut off has fallen back by its lease)",
     C(rollback_retry_ms)},
    {.key = "controller",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .check = check_name,
     .help = "the name the replicas know this controller by (in their logs and "
             "409s); default: the host name",
     C(controller)},
};

const cn_config_table_t cn_remote_config_table = {
    .keys = remote_keys,
    .n_keys = COUNT(remote_keys),
    .size = sizeof(cn_remote_config_t),
    .item_want = "a mapping with replicas, lease, renew_every, timeout, "
                 "connect_timeout, rollback_retry, controller",
    .check = remote_check,
};

void cn_remote_config_dispose(cn_remote_config_t *c)
{
    cn_config_dispose(&cn_remote_config_table, c);
}

/* ------------------------------------------------------------ lanes */

typedef struct xfer_s {
    CURL *h;
    cn_buf_t body;
    long status;
    CURLcode cc;
    char curl_err[CURL_ERROR_SIZE];
    bool active;
} xfer_t;

typedef struct lane_s {
    pthread_mutex_t mu;
    CURLM *multi;
    xfer_t *x; /* one per replica */
} lane_t;

typedef struct replica_s {
    char *base; /* "http://host:port" */
    struct curl_slist *headers;
} replica_t;

typedef struct engine_s {
    cn_remote_t pub; /* first */
    size_t n;
    replica_t *r;
    lane_t apply, read, renew;
    char controller[CN_WIRE_CONTROLLER_MAX + 1];
    uint64_t lease_ms, renew_every_ms, timeout_ms, connect_timeout_ms, retry_ms;

    pthread_mutex_t mu;       /* guards what follows */
    uint64_t last_generation; /* the last generation sent; 0: none */
    bool *unreachable;        /* per replica, as the heartbeat last found it */
    uint64_t rng;
    bool stopping;
    pthread_cond_t cond;
    pthread_t heartbeat;
    bool heartbeat_started;
} engine_t;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    cn_buf_t *b = arg;
    return cn_buf_add(b, ptr, size * nmemb) ? 0 : size * nmemb;
}

static void lane_init(lane_t *l, size_t n, size_t max_body)
{
    pthread_mutex_init(&l->mu, NULL);
    l->multi = curl_multi_init();
    if (!l->multi)
        die("curl_multi_init failed");
    l->x = cn_xcalloc(n, sizeof *l->x);
    for (size_t i = 0; i < n; i++) {
        l->x[i].h = curl_easy_init();
        if (!l->x[i].h)
            die("curl_easy_init failed");
        cn_buf_init(&l->x[i].body, max_body);
    }
}

static void lane_dispose(lane_t *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        curl_easy_cleanup(l->x[i].h);
        cn_buf_dispose(&l->x[i].body);
    }
    free(l->x);
    curl_multi_cleanup(l->multi);
    pthread_mutex_destroy(&l->mu);
}

/*
 * One request to every replica i with want[i], at once; returns when all
 * have answered or failed. bodies[i] (or body for all, when bodies is
 * NULL) is sent with method; path is appended to each replica's base.
 * Results are in l->x[i] (status 0: no answer; curl_err says why).
 * Caller holds l->mu.
 */
static void lane_run(engine_t *e, lane_t *l, const bool *want, const char *method,
                     const char *path, const char *body, size_t body_len)
{
    for (size_t i = 0; i < e->n; i++) {
        xfer_t *x = &l->x[i];
        x->active = want[i];
        x->status = 0;
        x->cc = CURLE_OK;
        x->curl_err[0] = '\0';
        cn_buf_reset(&x->body);
        if (!want[i])
            continue;
        char url[512];
        snprintf(url, sizeof url, "%s%s", e->r[i].base, path);
        CURL *h = x->h;
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->r[i].headers);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->body);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curl_err);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)e->connect_timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
        if (body) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
        }
        curl_multi_add_handle(l->multi, h);
    }
    int running = 1;
    while (running) {
        CURLMcode mc = curl_multi_perform(l->multi, &running);
        if (mc != CURLM_OK)
            break;
        if (running)
            curl_multi_poll(l->multi, NULL, 0, 100, NULL);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            for (size_t i = 0; i < e->n; i++)
                if (l->x[i].h == msg->easy_handle)
                    l->x[i].cc = msg->data.result;
    for (size_t i = 0; i < e->n; i++) {
        xfer_t *x = &l->x[i];
        if (!x->active)
            continue;
        curl_multi_remove_handle(l->multi, x->h);
        if (x->cc == CURLE_OK)
            curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
    }
}

/* Why replica i's answer is not a 2xx, in one line. */
static void why(engine_t *e, const xfer_t *x, size_t i, char *buf, size_t len)
{
    if (!x->status) {
        snprintf(buf, len, "replica %s: %s", e->r[i].base,
                 x->curl_err[0] ? x->curl_err : curl_easy_strerror(x->cc));
        return;
    }
    const char *text = x->body.data ? x->body.data : "";
    json_t *j = json_loadb(text, x->body.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(j, "error"));
    char q[CN_TEXT_QUOTE_BUF(200)];
    snprintf(buf, len, "replica %s: HTTP %ld: %s", e->r[i].base, x->status,
             msg ? msg : cn_text_quote(text, x->body.len, 200, q));
    json_decref(j);
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ apply */

/* A replica's answer to PUT /v1/generation confirms g. */
static bool confirmed(const xfer_t *x, uint64_t g)
{
    if (x->status != 200)
        return false;
    json_t *j = json_loadb(x->body.data ? x->body.data : "", x->body.len, 0, NULL);
    json_t *n = json_object_get(j, "generation");
    bool ok = json_is_integer(n) && (uint64_t)json_integer_value(n) == g;
    json_decref(j);
    return ok;
}

static int remote_apply(cn_traffic_engine_t *self, const cn_generation_t *desired,
                        cn_traffic_applied_t *out, char *err, size_t errlen)
{
    engine_t *e = (engine_t *)self;
    cn_buf_t body;
    cn_buf_init(&body, 1 << 20);
    if (cn_wire_generation_render(&body, e->controller, desired, e->lease_ms)) {
        cn_buf_dispose(&body);
        return cn_fail(err, errlen, CN_EINVAL, "remote: the generation is too large");
    }
    pthread_mutex_lock(&e->mu);
    e->last_generation = desired->number;
    pthread_mutex_unlock(&e->mu);
    bool rollback = desired->traffic.canary_weight_bp == 0;
    uint64_t start = mono_ms(), deadline = start + e->retry_ms, backoff = 20;
    bool *want = cn_xcalloc(e->n, sizeof *want);
    for (size_t i = 0; i < e->n; i++)
        want[i] = true;
    size_t failed = 0;
    char line[512] = "";
    pthread_mutex_lock(&e->apply.mu);
    for (;;) {
        lane_run(e, &e->apply, want, "PUT", "/v1/generation", body.data, body.len);
        failed = 0;
        for (size_t i = 0; i < e->n; i++) {
            if (!want[i])
                continue;
            xfer_t *x = &e->apply.x[i];
            if (confirmed(x, desired->number)) {
                want[i] = false;
                continue;
            }
            if (!failed++)
                why(e, x, i, line, sizeof line);
        }
        /* A rollback is asked again even of a replica that refused it (a
         * 409 while another controller's lease runs out): weight 0 is the
         * way out, and the replica's state may change. */
        if (!failed || !rollback || mono_ms() + backoff > deadline)
            break;
        struct timespec ts = {(time_t)(backoff / 1000),
                              (long)(backoff % 1000) * 1000000};
        nanosleep(&ts, NULL);
        backoff = backoff * 2 > 500 ? 500 : backoff * 2;
    }
    pthread_mutex_unlock(&e->apply.mu);
    free(want);
    cn_buf_dispose(&body);
    if (failed)
        return cn_fail(
            err, errlen, CN_EIO,
            "%s%zu of %zu replicas did not confirm generation %" PRIu64 "%s; %s",
            rollback ? "rollback: " : "", failed, e->n, desired->number,
            rollback ? " (asked again for as long as rollback_retry)" : "", line);
    out->generation = desired->number;
    out->effective_weight_bp = desired->traffic.canary_weight_bp;
    out->step.number = desired->number;
    out->step.generation = desired->number;
    out->step.started_unix_s = (double)cn_clock_unix_ms() / 1000.0;
    return 0;
}

/* ------------------------------------------------------------ renew */

static int renew_all(engine_t *e, bool log_changes, char *err, size_t errlen)
{
    pthread_mutex_lock(&e->mu);
    uint64_t g = e->last_generation;
    pthread_mutex_unlock(&e->mu);
    if (g == 0)
        return 0; /* nothing applied: no lease to renew */
    cn_buf_t body;
    cn_buf_init(&body, 4096);
    cn_wire_lease_render(&body, e->controller, g, e->lease_ms);
    bool *want = cn_xcalloc(e->n, sizeof *want);
    for (size_t i = 0; i < e->n; i++)
        want[i] = true;
    pthread_mutex_lock(&e->renew.mu);
    lane_run(e, &e->renew, want, "POST", "/v1/lease", body.data, body.len);
    size_t failed = 0;
    char line[512] = "";
    for (size_t i = 0; i < e->n; i++) {
        xfer_t *x = &e->renew.x[i];
        bool ok = x->status == 200;
        char one[512] = "";
        if (!ok) {
            why(e, x, i, one, sizeof one);
            if (!failed++)
                snprintf(line, sizeof line, "%s", one);
        }
        pthread_mutex_lock(&e->mu);
        bool was = e->unreachable[i];
        e->unreachable[i] = !ok;
        pthread_mutex_unlock(&e->mu);
        /* the alert: one line when a replica stops or starts answering */
        if (log_changes && was != !ok) {
            if (ok)
                fprintf(stderr, "canary: remote: replica %s renews its lease again\n",
                        e->r[i].base);
            else
                fprintf(stderr,
                        "canary: remote: lease not renewed (the replica falls back "
                        "to canary weight 0 when it runs out; rollouts hold): %s\n",
                        one);
            fflush(stderr);
        }
    }
    pthread_mutex_unlock(&e->renew.mu);
    free(want);
    cn_buf_dispose(&body);
    if (failed)
        return cn_fail(err, errlen, CN_EIO,
                       "lease not renewed at %zu of %zu replicas: %s", failed, e->n,
                       line);
    return 0;
}

static int remote_renew(cn_traffic_engine_t *self, char *err, size_t errlen)
{
    return renew_all((engine_t *)self, false, err, errlen);
}

static void *heartbeat_main(void *arg)
{
    engine_t *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + e->renew_every_ms % 1000 * 1000000;
        ts.tv_sec += (time_t)(e->renew_every_ms / 1000 + ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&e->cond, &e->mu, &ts);
        if (e->stopping)
            break;
        pthread_mutex_unlock(&e->mu);
        char err[512];
        renew_all(e, true, err, sizeof err);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ------------------------------------------------------------ read */

static int remote_read(cn_metrics_source_t *self, const cn_metrics_window_t *w,
                       unsigned mask, cn_router_snapshot_t **out, char *err,
                       size_t errlen)
{
    engine_t *e = (engine_t *)((char *)self - offsetof(cn_remote_t, metrics));
    *out = NULL;
    if (w->kind != CN_WINDOW_GENERATION)
        return cn_fail(err, errlen, CN_EINVAL,
                       "the remote engine measures by generation, not by time");
    char path[128];
    snprintf(path, sizeof path, "/v1/snapshot?generation=%" PRIu64 "&mask=%u",
             w->generation, mask);
    bool *want = cn_xcalloc(e->n, sizeof *want);
    for (size_t i = 0; i < e->n; i++)
        want[i] = true;
    cn_router_snapshot_t **parts = cn_xcalloc(e->n, sizeof *parts);
    int rc = 0;
    pthread_mutex_lock(&e->read.mu);
    lane_run(e, &e->read, want, "GET", path, NULL, 0);
    for (size_t i = 0; i < e->n && !rc; i++) {
        xfer_t *x = &e->read.x[i];
        char line[512];
        if (x->status != 200) {
            why(e, x, i, line, sizeof line);
            rc = cn_fail(err, errlen, x->status == 404 ? CN_ENOTFOUND : CN_EIO, "%s",
                         line);
            break;
        }
        char perr[256];
        if (cn_wire_snapshot_parse(x->body.data, x->body.len, &parts[i], perr,
                                   sizeof perr)) {
            rc = cn_fail(err, errlen, CN_EIO, "replica %s: %s", e->r[i].base, perr);
            break;
        }
        if (parts[i]->generation != w->generation)
            rc = cn_fail(err, errlen, CN_EIO,
                         "replica %s: answered generation %" PRIu64 " for %" PRIu64,
                         e->r[i].base, parts[i]->generation, w->generation);
    }
    pthread_mutex_unlock(&e->read.mu);
    if (!rc) {
        pthread_mutex_lock(&e->mu);
        uint64_t rng = e->rng;
        e->rng += 0x9e3779b97f4a7c15ULL;
        pthread_mutex_unlock(&e->mu);
        rc = cn_remote_merge(parts, e->n, &rng, out, err, errlen);
    }
    for (size_t i = 0; i < e->n; i++)
        cn_wire_snapshot_free(parts[i]);
    free(parts);
    free(want);
    return rc;
}

static void remote_release(cn_metrics_source_t *self, cn_router_snapshot_t *s)
{
    (void)self;
    cn_wire_snapshot_free(s);
}

/* ------------------------------------------------------------ new, free */

static int load_token(const char *file, char **out, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    if (file) {
        char ferr[256];
        if (cn_file_read(file, 4096, &data, &len, ferr, sizeof ferr))
            return cn_fail(err, errlen, CN_EIO, "token_file: %s", ferr);
    } else {
        const char *env = getenv("CANARY_TOKEN");
        if (!env || !*env)
            return cn_fail(err, errlen, CN_EINVAL,
                           "token_file: not given, and $CANARY_TOKEN is not set");
        len = strlen(env);
        data = cn_xmalloc(len + 1);
        memcpy(data, env, len + 1);
    }
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r' ||
                   data[len - 1] == ' ' || data[len - 1] == '\t'))
        data[--len] = '\0';
    bool ok = len > 0;
    for (size_t i = 0; ok && i < len; i++)
        ok = data[i] > ' ' && data[i] <= '~';
    if (!ok) {
        free(data);
        return cn_fail(err, errlen, CN_EINVAL,
                       "token_file: the token must be visible ASCII characters, "
                       "not empty");
    }
    *out = data;
    return 0;
}

static void curl_init_once(void)
{
    /* libcurl's global state, once per process (the CLI's client and the
     * notifier do the same: a second call only counts) */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        die("curl_global_init failed");
}

void cn_remote_free(cn_remote_t *pub)
{
    engine_t *e = (engine_t *)pub;
    if (!e)
        return;
    if (e->heartbeat_started) {
        pthread_mutex_lock(&e->mu);
        e->stopping = true;
        pthread_cond_signal(&e->cond);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->heartbeat, NULL);
    }
    lane_dispose(&e->apply, e->n);
    lane_dispose(&e->read, e->n);
    lane_dispose(&e->renew, e->n);
    for (size_t i = 0; i < e->n; i++) {
        free(e->r[i].base);
        curl_slist_free_all(e->r[i].headers);
    }
    free(e->r);
    free(e->unreachable);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

int cn_remote_new(const cn_remote_config_t *cfg, cn_remote_t **out, char *err,
                  size_t errlen)
{
    *out = NULL;
    cn_config_problem_t p;
    if (cn_config_check(&cn_remote_config_table, cfg, &p))
        return cn_fail(err, errlen, CN_EINVAL, "key '%s': %s", p.path, p.what);
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    engine_t *e = cn_xcalloc(1, sizeof *e);
    e->pub.traffic = (cn_traffic_engine_t){"remote", remote_apply, remote_renew};
    e->pub.metrics = (cn_metrics_source_t){"remote", remote_read, remote_release, NULL};
    e->n = cfg->n_replicas;
    e->lease_ms = cfg->lease_ms;
    e->renew_every_ms = cfg->renew_every_ms;
    e->timeout_ms = cfg->timeout_ms;
    e->connect_timeout_ms = cfg->connect_timeout_ms;
    e->retry_ms =
        cfg->rollback_retry_ms ? cfg->rollback_retry_ms : cfg->lease_ms + 1000;
    e->rng = 0x5eed0fa11ULL;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cond, NULL);
    if (cfg->controller) {
        snprintf(e->controller, sizeof e->controller, "%s", cfg->controller);
    } else {
        char host[256] = "";
        if (gethostname(host, sizeof host - 1) || !host[0])
            snprintf(host, sizeof host, "canary-control");
        snprintf(e->controller, sizeof e->controller, "%.*s",
                 (int)CN_WIRE_CONTROLLER_MAX, host);
    }
    e->r = cn_xcalloc(e->n, sizeof *e->r);
    e->unreachable = cn_xcalloc(e->n, sizeof *e->unreachable);
    lane_init(&e->apply, e->n, 64 * 1024);
    lane_init(&e->read, e->n, CN_REMOTE_MAX_SNAPSHOT_BYTES);
    lane_init(&e->renew, e->n, 64 * 1024);
    int rc = 0;
    for (size_t i = 0; i < e->n && !rc; i++) {
        const cn_remote_replica_t *r = &cfg->replicas[i];
        e->r[i].base = cn_xmalloc(strlen(r->url) + 1);
        memcpy(e->r[i].base, r->url, strlen(r->url) + 1);
        char *token = NULL, terr[384];
        rc = load_token(r->token_file, &token, terr, sizeof terr);
        if (rc) {
            cn_fail(err, errlen, rc, "replicas[%zu].%s", i, terr);
            break;
        }
        size_t hl = strlen(token) + 32;
        char *h = cn_xmalloc(hl);
        snprintf(h, hl, "Authorization: Bearer %s", token);
        e->r[i].headers = curl_slist_append(NULL, h);
        memset(h, 0, hl);
        memset(token, 0, strlen(token));
        free(h);
        free(token);
        e->r[i].headers =
            curl_slist_append(e->r[i].headers, "Content-Type: application/json");
        e->r[i].headers = curl_slist_append(e->r[i].headers, "Expect:");
    }
    if (!rc) {
        if (pthread_create(&e->heartbeat, NULL, heartbeat_main, e)) {
            rc = cn_fail(err, errlen, CN_EIO, "remote: heartbeat thread: %s",
                         strerror(errno));
        } else {
            e->heartbeat_started = true;
        }
    }
    if (rc) {
        cn_remote_free(&e->pub);
        return rc;
    }
    *out = &e->pub;
    return 0;
}
