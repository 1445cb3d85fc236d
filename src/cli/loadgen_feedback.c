/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary loadgen --feedback`: the feedback poster (see loadgen.h). The
 * load's event loop queues one JSON line per answered request; this thread
 * sends them in JSON Lines batches to POST /v1/feedback of the admin API
 * through the CLI's client (cli/client.h: the same server and token rules
 * as every client command), so a slow or absent admin API never delays a
 * request of the load. The queue is a FIFO: due times come from one
 * thread with one fixed delay, so they never decrease.
 */
#include "cli/client.h"
#include "cli/loadgen.h"
#include "util/buf.h"
#include "util/error.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct item_s {
    struct item_s *next;
    uint64_t due_ns;
    char *line;
} item_t;

struct cn_lg_fb_s {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item_t *head, *tail;
    bool finishing;
    cn_client_t *client;
    cn_lg_fb_counts_t counts; /* the thread's; read after the join */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t answer_count(json_t *j, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(j, key));
    return v > 0 ? (uint64_t)v : 0;
}

void cn_lg_fb_answer(cn_lg_fb_counts_t *c, long status, const char *body,
                     size_t body_len, uint64_t items)
{
    c->batches++;
    c->posted += items;
    json_t *j = json_loadb(body ? body : "", body_len, 0, NULL);
    c->accepted += answer_count(j, "accepted");
    c->unknown += answer_count(j, "unknown");
    c->expired += answer_count(j, "expired");
    c->duplicate += answer_count(j, "duplicate");
    c->invalid += answer_count(j, "invalid");
    bool ok = status >= 200 && status < 300;
    if (!ok)
        c->failed_batches++;
    if (!c->first_error[0]) {
        json_t *e = json_array_get(json_object_get(j, "errors"), 0);
        const char *why = json_string_value(json_object_get(e, "error"));
        if (why)
            snprintf(c->first_error, sizeof c->first_error,
                     "HTTP %ld, batch %llu line %lld: %.300s", status,
                     (unsigned long long)c->batches,
                     (long long)json_integer_value(json_object_get(e, "line")), why);
        else if (!ok)
            snprintf(c->first_error, sizeof c->first_error, "HTTP %ld: %.300s", status,
                     json_string_value(json_object_get(j, "error"))
                         ? json_string_value(json_object_get(j, "error"))
                         : "the server gave no reason");
    }
    json_decref(j);
}

/* POST one batch and count the answer. */
static void post(cn_lg_fb_t *f, item_t *batch, uint64_t n)
{
    cn_buf_t b = CN_BUF_INIT(CN_BUF_MAX_MAX);
    for (item_t *it = batch; it; it = it->next) {
        cn_buf_str(&b, it->line);
        cn_buf_byte(&b, '\n');
    }
    cn_client_response_t res;
    char err[512];
    int rc = cn_client_call(f->client, "POST", "/v1/feedback", b.data, &res, err,
                            sizeof err);
    if (rc) {
        f->counts.failed_batches++;
        f->counts.lost += n;
        if (!f->counts.first_error[0])
            snprintf(f->counts.first_error, sizeof f->counts.first_error, "%.390s",
                     err);
    } else {
        cn_lg_fb_answer(&f->counts, res.status, res.body, res.body_len, n);
    }
    cn_client_response_dispose(&res);
    cn_buf_dispose(&b);
}

static void *run(void *arg)
{
    cn_lg_fb_t *f = arg;
    pthread_mutex_lock(&f->mu);
    for (;;) {
        uint64_t now = now_ns();
        /* the due prefix of the queue, up to a batch */
        uint64_t due = 0;
        item_t *last = NULL;
        for (item_t *it = f->head; it && it->due_ns <= now && due < CN_LG_FB_BATCH;
             it = it->next) {
            due++;
            last = it;
        }
        bool flush =
            due > 0 && (due == CN_LG_FB_BATCH || f->finishing ||
                        now - f->head->due_ns >= CN_LG_FB_FLUSH_MS * 1000000ull);
        if (flush) {
            item_t *batch = f->head;
            f->head = last->next;
            if (!f->head)
                f->tail = NULL;
            last->next = NULL;
            pthread_mutex_unlock(&f->mu);
            post(f, batch, due);
            while (batch) {
                item_t *next = batch->next;
                free(batch->line);
                free(batch);
                batch = next;
            }
            pthread_mutex_lock(&f->mu);
            continue;
        }
        if (f->finishing && !f->head)
            break;
        /* sleep until the head is due, or its flush time, or 50 ms */
        uint64_t wake = now + 50000000ull;
        if (f->head) {
            uint64_t at = f->head->due_ns <= now
                              ? f->head->due_ns + CN_LG_FB_FLUSH_MS * 1000000ull
                              : f->head->due_ns;
            if (at < wake)
                wake = at;
        }
        struct timespec ts = {(time_t)(wake / 1000000000u), (long)(wake % 1000000000u)};
        pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

cn_lg_fb_t *cn_lg_fb_start(struct cn_client_s *c)
{
    cn_lg_fb_t *f = cn_xcalloc(1, sizeof *f);
    f->client = c;
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        fprintf(stderr, "canary loadgen: cannot start the feedback thread\n");
        abort();
    }
    return f;
}

void cn_lg_fb_push(cn_lg_fb_t *f, uint64_t due_ns, char *line)
{
    item_t *it = cn_xmalloc(sizeof *it);
    it->next = NULL;
    it->due_ns = due_ns;
    it->line = line;
    pthread_mutex_lock(&f->mu);
    f->counts.queued++;
    if (f->tail)
        f->tail->next = it;
    else
        f->head = it;
    f->tail = it;
    pthread_mutex_unlock(&f->mu);
    /* no signal: the thread wakes at least every 50 ms, and a batch waits
     * up to CN_LG_FB_FLUSH_MS anyway */
}

void cn_lg_fb_finish(cn_lg_fb_t *f, cn_lg_fb_counts_t *out)
{
    pthread_mutex_lock(&f->mu);
    f->finishing = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    *out = f->counts;
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    cn_client_free(f->client);
    free(f);
}
