/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The delivery thread (notify.h): one thread, one libcurl multi handle.
 *
 * The outbox is the source of truth. The thread reads the rows written
 * since the last it has (at start: all of them, so what a crash left is
 * delivered after the restart), queues each on its target, and per target
 * has at most one delivery in flight, the oldest event first: a target
 * therefore sees its events in the order they happened, and a target that
 * is down holds back only its own queue. A 2xx deletes the row (durable
 * before the next delivery to that target starts); anything else (another
 * status, a timeout, no connection) is one failed attempt, logged in one
 * line and counted, and the event is tried again after
 * cn_notify_backoff_ms() (full jitter: a uniform draw below a cap that
 * doubles per attempt up to backoff_max). There is no last attempt: an
 * event waits in the outbox until its target takes it or the target is
 * removed from the config.
 *
 * At-least-once: a crash between the target's 2xx and the row's delete
 * sends that event again after the restart, with the same event id
 * (X-Canary-Event-Id) for the receiver to drop.
 *
 * Gates are single requests with their own timeout on the same multi
 * handle; their answer goes to the caller's callback, on this thread.
 *
 * Nothing here runs on the router's or the control loop's thread: the
 * controller writes rows and calls cn_notify_kick(), which only sets a
 * flag and wakes curl_multi_poll().
 */
#include "notify/notify.h"
#include "metrics/prom.h"
#include "util/error.h"
#include "util/rand.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Rows read from the outbox per query. */
#define PAGE 256
/* The outbox is read again at least this often (ms). */
#define RELOAD_MS 10000
/* The longest poll when nothing is due: kicks and gates wake it anyway. */
#define POLL_MAX_MS 1000

typedef struct item_s {
    struct item_s *next;
    int64_t row_id;
    char event_id[64];
    char *event;
    char kind[32]; /* the event's name, for the log and a header */
    unsigned attempts;
    int64_t due_ms; /* monotonic */
} item_t;

typedef enum { REQ_DELIVERY = 1, REQ_GATE = 2 } req_kind_t;

/* One request in flight. */
typedef struct req_s {
    req_kind_t kind;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char errbuf[CURL_ERROR_SIZE];
    size_t target; /* REQ_DELIVERY */
    /* REQ_GATE */
    struct req_s *next;
    char *url;
    uint64_t timeout_ms;
    cn_notify_gate_cb cb;
    void *arg;
} req_t;

typedef struct target_state_s {
    item_t *head, *tail;
    req_t *busy;
    _Atomic uint64_t delivered, failed, pending;
} target_state_t;

struct cn_notify_s {
    const cn_notify_config_t *cfg;
    cn_store_t *store;
    FILE *log;
    CURLM *multi;
    pthread_t thread;
    bool started;
    target_state_t *targets;
    int64_t last_id;
    uint64_t rng;
    req_t *gates_busy; /* gates in flight (thread only) */

    pthread_mutex_t mu; /* guards what follows */
    bool stopping;
    bool kicked;
    req_t *gates_in; /* queued by cn_notify_gate, newest first */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logf_(cn_notify_t *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(cn_notify_t *n, const char *fmt, ...)
{
    FILE *f = n->log ? n->log : stderr;
    va_list ap;
    va_start(ap, fmt);
    flockfile(f);
    fputs("notify: ", f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    funlockfile(f);
    fflush(f);
    va_end(ap);
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    (void)arg;
    return size * n;
}

static void req_free(req_t *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r->body);
    free(r->url);
    free(r);
}

static struct curl_slist *header(struct curl_slist *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static struct curl_slist *header(struct curl_slist *l, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n) {
        fprintf(stderr, "canary: out of memory (curl_slist_append)\n");
        abort();
    }
    return n;
}

/* A POST of r->body to url on the multi handle. */
static int start(cn_notify_t *n, req_t *r, const char *url, uint64_t timeout_ms)
{
    r->easy = curl_easy_init();
    if (!r->easy)
        return CN_EIO;
    r->headers = header(r->headers, "Content-Type: application/json");
    r->headers = header(r->headers, "User-Agent: canary");
    r->headers = header(r->headers, "Expect:");
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(n->multi, e) != CURLM_OK)
        return CN_EIO;
    return 0;
}

/* --------------------------------------------------------- the outbox */

static void enqueue(cn_notify_t *n, size_t t, cn_store_outbox_t *row, const char *kind)
{
    item_t *it = cn_xcalloc(1, sizeof *it);
    it->row_id = row->id;
    snprintf(it->event_id, sizeof it->event_id, "%s", row->event_id);
    snprintf(it->kind, sizeof it->kind, "%s", kind);
    it->event = row->event;
    row->event = NULL;
    it->due_ms = mono_ms();
    target_state_t *ts = &n->targets[t];
    if (ts->tail)
        ts->tail->next = it;
    else
        ts->head = it;
    ts->tail = it;
    atomic_fetch_add(&ts->pending, 1);
}

static bool target_of(const cn_notify_t *n, const char *name, size_t *out)
{
    for (size_t i = 0; i < n->cfg->n_targets; i++)
        if (strcmp(cn_notify_target_name(&n->cfg->targets[i]), name) == 0) {
            *out = i;
            return true;
        }
    return false;
}

/* The event's name, from its JSON text ("event":"..."): for the log and
 * the X-Canary-Event header only. */
static void kind_of(const char *event, char *out, size_t len)
{
    out[0] = '\0';
    const char *p = strstr(event, "\"event\":\"");
    if (!p)
        return;
    p += 9;
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < len) {
        out[i] = p[i];
        i++;
    }
    out[i] = '\0';
}

static void load(cn_notify_t *n)
{
    if (!n->store)
        return;
    cn_store_outbox_t rows[PAGE];
    for (;;) {
        size_t got = 0;
        char err[512];
        if (cn_store_outbox_list(n->store, n->last_id, rows, PAGE, &got, err,
                                 sizeof err)) {
            logf_(n, "the outbox cannot be read (tried again on the next event): %s",
                  err);
            return;
        }
        for (size_t i = 0; i < got; i++) {
            cn_store_outbox_t *row = &rows[i];
            n->last_id = row->id;
            size_t t;
            char kind[32];
            kind_of(row->event, kind, sizeof kind);
            if (target_of(n, row->target, &t)) {
                enqueue(n, t, row, kind);
            } else {
                logf_(n,
                      "event %s (%s) for target '%s' dropped: no such target in the "
                      "config",
                      row->event_id, kind, row->target);
                if (cn_store_outbox_delete(n->store, row->id, err, sizeof err))
                    logf_(n, "%s", err);
            }
            cn_store_outbox_dispose(row);
        }
        if (got < PAGE)
            return;
    }
}

/* ------------------------------------------------------- deliveries */

static void drop_head(target_state_t *ts)
{
    item_t *it = ts->head;
    ts->head = it->next;
    if (!ts->head)
        ts->tail = NULL;
    free(it->event);
    free(it);
    atomic_fetch_sub(&ts->pending, 1);
}

static void deliver(cn_notify_t *n, size_t t)
{
    target_state_t *ts = &n->targets[t];
    const cn_notify_target_t *tc = &n->cfg->targets[t];
    item_t *it = ts->head;
    size_t len = 0;
    /* the config may have changed since the row was written (a restart):
     * an event the target no longer wants (a pagerduty target would open
     * an incident for it) is dropped, as a row of a removed target is */
    cn_notify_event_t kind;
    bool wanted =
        cn_notify_event_parse(it->kind, &kind) == 0 && cn_notify_target_wants(tc, kind);
    char *body = wanted ? cn_notify_render(tc, it->event_id, it->event, &len) : NULL;
    if (!body) {
        logf_(n, "target '%s': event %s (%s) dropped: %s", cn_notify_target_name(tc),
              it->event_id, it->kind,
              wanted ? "its stored text is not a JSON object"
                     : "the target's config no longer wants it");
        if (n->store) {
            char err[512];
            if (cn_store_outbox_delete(n->store, it->row_id, err, sizeof err))
                logf_(n, "%s", err);
        }
        drop_head(ts);
        return;
    }
    req_t *r = cn_xcalloc(1, sizeof *r);
    r->kind = REQ_DELIVERY;
    r->target = t;
    r->body = body;
    r->headers = header(r->headers, "X-Canary-Event-Id: %s", it->event_id);
    r->headers = header(r->headers, "X-Canary-Event: %s", it->kind);
    r->headers = header(r->headers, "X-Canary-Delivery-Attempt: %u", it->attempts + 1);
    if (tc->secret) {
        char hex[65];
        cn_notify_sign(tc->secret, strlen(tc->secret), body, len, hex);
        r->headers = header(r->headers, "X-Canary-Signature: sha256=%s", hex);
    }
    if (start(n, r, tc->url, tc->timeout_ms)) {
        logf_(n, "target '%s': event %s: cannot start a request (tried again later)",
              cn_notify_target_name(tc), it->event_id);
        req_free(r);
        it->due_ms = mono_ms() + (int64_t)tc->backoff_min_ms;
        return;
    }
    ts->busy = r;
}

static void delivered(cn_notify_t *n, req_t *r, CURLcode res)
{
    size_t t = r->target;
    target_state_t *ts = &n->targets[t];
    const cn_notify_target_t *tc = &n->cfg->targets[t];
    item_t *it = ts->head;
    long status = 0;
    if (res == CURLE_OK)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    ts->busy = NULL;
    if (res == CURLE_OK && status >= 200 && status < 300) {
        char err[512];
        if (n->store && cn_store_outbox_delete(n->store, it->row_id, err, sizeof err))
            logf_(n,
                  "target '%s': event %s delivered, not removed from the outbox (it "
                  "may be sent again after a restart): %s",
                  cn_notify_target_name(tc), it->event_id, err);
        atomic_fetch_add(&ts->delivered, 1);
        drop_head(ts);
        return;
    }
    atomic_fetch_add(&ts->failed, 1);
    it->attempts++;
    uint64_t wait = cn_notify_backoff_ms(tc->backoff_min_ms, tc->backoff_max_ms,
                                         it->attempts, cn_rand_unit(&n->rng));
    it->due_ms = mono_ms() + (int64_t)wait;
    char what[CURL_ERROR_SIZE + 64];
    if (res != CURLE_OK)
        snprintf(what, sizeof what, "%s",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
    else
        snprintf(what, sizeof what, "HTTP %ld", status);
    logf_(n, "target '%s': event %s (%s) attempt %u failed: %s; next in %" PRIu64 " ms",
          cn_notify_target_name(tc), it->event_id, it->kind, it->attempts, what, wait);
}

/* ------------------------------------------------------------- gates */

static void gate_start(cn_notify_t *n, req_t *g)
{
    if (start(n, g, g->url, g->timeout_ms)) {
        g->cb(g->arg, false, 0, "cannot start the request");
        req_free(g);
        return;
    }
    g->next = n->gates_busy;
    n->gates_busy = g;
}

static void gate_unlink(cn_notify_t *n, req_t *g)
{
    for (req_t **p = &n->gates_busy; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            return;
        }
}

static void gate_done(req_t *g, CURLcode res)
{
    long status = 0;
    char what[CURL_ERROR_SIZE + 64];
    if (res == CURLE_OK) {
        curl_easy_getinfo(g->easy, CURLINFO_RESPONSE_CODE, &status);
        snprintf(what, sizeof what, "HTTP %ld", status);
    } else {
        snprintf(what, sizeof what, "%s",
                 g->errbuf[0] ? g->errbuf : curl_easy_strerror(res));
    }
    g->cb(g->arg, res == CURLE_OK && status >= 200 && status < 300, status, what);
}

/* -------------------------------------------------------------- loop */

static void *run(void *arg)
{
    cn_notify_t *n = arg;
    bool first = true;
    int64_t last_load = 0;
    for (;;) {
        pthread_mutex_lock(&n->mu);
        bool stop = n->stopping, kicked = n->kicked;
        n->kicked = false;
        req_t *gates = n->gates_in;
        n->gates_in = NULL;
        pthread_mutex_unlock(&n->mu);
        if (stop) {
            /* gates queued too late still get their one answer */
            while (gates) {
                req_t *g = gates;
                gates = g->next;
                g->cb(g->arg, false, 0, "canary is stopping");
                req_free(g);
            }
            break;
        }
        /* new rows come with a kick; a slow re-read covers an outbox
         * that could not be read when it was kicked */
        if (kicked || first || mono_ms() - last_load >= RELOAD_MS) {
            load(n);
            last_load = mono_ms();
        }
        first = false;
        /* oldest first: the list was pushed newest first */
        req_t *rev = NULL;
        while (gates) {
            req_t *g = gates;
            gates = g->next;
            g->next = rev;
            rev = g;
        }
        while (rev) {
            req_t *g = rev;
            rev = g->next;
            gate_start(n, g);
        }
        int64_t now = mono_ms();
        for (size_t t = 0; t < n->cfg->n_targets; t++) {
            target_state_t *ts = &n->targets[t];
            if (!ts->busy && ts->head && ts->head->due_ms <= now)
                deliver(n, t);
        }
        int running = 0;
        curl_multi_perform(n->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(n->multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            req_t *r = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
            CURLcode res = msg->data.result;
            curl_multi_remove_handle(n->multi, msg->easy_handle);
            if (r->kind == REQ_GATE) {
                gate_unlink(n, r);
                gate_done(r, res);
            } else
                delivered(n, r, res);
            req_free(r);
        }
        /* sleep until the next due retry, a socket event or a kick */
        int64_t wait = POLL_MAX_MS;
        now = mono_ms();
        for (size_t t = 0; t < n->cfg->n_targets; t++) {
            target_state_t *ts = &n->targets[t];
            if (!ts->busy && ts->head) {
                int64_t d = ts->head->due_ms - now;
                if (d < wait)
                    wait = d < 0 ? 0 : d;
            }
        }
        curl_multi_poll(n->multi, NULL, 0, (int)wait, NULL);
    }
    return NULL;
}

/* ---------------------------------------------------------------- API */

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int cn_notify_new(const cn_notify_config_t *c, cn_store_t *store, FILE *log,
                  cn_notify_t **out, char *err, size_t errlen)
{
    *out = NULL;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    cn_notify_t *n = cn_xcalloc(1, sizeof *n);
    n->cfg = c;
    n->store = store;
    n->log = log;
    n->targets = cn_xcalloc(c->n_targets ? c->n_targets : 1, sizeof *n->targets);
    n->rng = (uint64_t)mono_ms() ^ ((uint64_t)(uintptr_t)n << 16);
    pthread_mutex_init(&n->mu, NULL);
    n->multi = curl_multi_init();
    if (!n->multi) {
        cn_notify_free(n);
        return cn_fail(err, errlen, CN_EIO,
                       "notify: libcurl's multi handle cannot be made");
    }
    if (pthread_create(&n->thread, NULL, run, n)) {
        cn_notify_free(n);
        return cn_fail(err, errlen, CN_EIO, "notify: the delivery thread cannot start");
    }
    n->started = true;
    *out = n;
    return 0;
}

void cn_notify_free(cn_notify_t *n)
{
    if (!n)
        return;
    if (n->started) {
        pthread_mutex_lock(&n->mu);
        n->stopping = true;
        pthread_mutex_unlock(&n->mu);
        curl_multi_wakeup(n->multi);
        pthread_join(n->thread, NULL);
    }
    for (size_t t = 0; n->targets && t < n->cfg->n_targets; t++) {
        target_state_t *ts = &n->targets[t];
        if (ts->busy) {
            curl_multi_remove_handle(n->multi, ts->busy->easy);
            req_free(ts->busy);
        }
        while (ts->head)
            drop_head(ts);
    }
    /* gates in flight: answered, so that every caller hears once */
    while (n->gates_busy) {
        req_t *g = n->gates_busy;
        n->gates_busy = g->next;
        curl_multi_remove_handle(n->multi, g->easy);
        g->cb(g->arg, false, 0, "canary is stopping");
        req_free(g);
    }
    if (n->multi)
        curl_multi_cleanup(n->multi);
    pthread_mutex_destroy(&n->mu);
    free(n->targets);
    free(n);
}

const cn_notify_config_t *cn_notify_config(const cn_notify_t *n)
{
    return n ? n->cfg : NULL;
}

void cn_notify_kick(cn_notify_t *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->kicked = true;
    pthread_mutex_unlock(&n->mu);
    curl_multi_wakeup(n->multi);
}

int cn_notify_gate(cn_notify_t *n, const char *url, uint64_t timeout_ms,
                   const char *body, cn_notify_gate_cb cb, void *arg)
{
    if (!n || !url || !cb)
        return CN_EINVAL;
    req_t *g = cn_xcalloc(1, sizeof *g);
    g->kind = REQ_GATE;
    g->url = cn_xstrdup(url);
    g->body = cn_xstrdup(body ? body : "{}");
    g->timeout_ms = timeout_ms;
    g->cb = cb;
    g->arg = arg;
    pthread_mutex_lock(&n->mu);
    bool stopping = n->stopping;
    if (!stopping) {
        g->next = n->gates_in;
        n->gates_in = g;
    }
    pthread_mutex_unlock(&n->mu);
    if (stopping) {
        req_free(g);
        return CN_EINVAL;
    }
    curl_multi_wakeup(n->multi);
    return 0;
}

size_t cn_notify_stats(cn_notify_t *n, cn_notify_stats_t *out, size_t max)
{
    size_t k = 0;
    for (size_t t = 0; n && t < n->cfg->n_targets && k < max; t++, k++) {
        out[k].target = cn_notify_target_name(&n->cfg->targets[t]);
        out[k].delivered = atomic_load(&n->targets[t].delivered);
        out[k].failed_attempts = atomic_load(&n->targets[t].failed);
        out[k].pending = atomic_load(&n->targets[t].pending);
    }
    return k;
}

int cn_notify_write_metrics(cn_notify_t *ctx, cn_prom_writer_t *w)
{
    cn_notify_stats_t st[64];
    size_t n = cn_notify_stats(ctx, st, sizeof st / sizeof st[0]);
    static const struct {
        const char *name;
        cn_prom_type_t type;
        const char *help;
    } fam[] = {
        {"canary_notify_delivered_total", CN_PROM_COUNTER,
         "Events a notification target took (2xx)"},
        {"canary_notify_failed_attempts_total", CN_PROM_COUNTER,
         "Deliveries that failed (not 2xx, timeout, no connection); retried"},
        {"canary_notify_pending", CN_PROM_GAUGE,
         "Events waiting for a notification target (in the outbox)"},
    };
    int rc = 0;
    for (size_t f = 0; f < 3 && !rc; f++) {
        rc = cn_prom_family(w, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < n && !rc; i++) {
            cn_prom_label_t l = {"target", st[i].target};
            uint64_t v = f == 0   ? st[i].delivered
                         : f == 1 ? st[i].failed_attempts
                                  : st[i].pending;
            rc = cn_prom_sample_u64(w, NULL, &l, 1, v);
        }
    }
    return rc;
}
