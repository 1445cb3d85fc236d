/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Notifications and gate hooks (docs/NOTIFY.md).
 *
 * A rollout's events (started, step, held, resumed, promoted, rolled_back,
 * aborted, trigger_fired) are written by the controller into the store's
 * outbox (store.h), in the transaction of the audit entry of the change
 * that caused them, one row per event and interested target. A notifier
 * (cn_notify_t) owns one delivery thread that reads the outbox, renders
 * each row in its target's format (json, slack, pagerduty, teams), signs
 * it (HMAC-SHA256 over the body, when the target has a secret), posts it
 * with libcurl's multi interface, and deletes the row once the target
 * answered 2xx. Each target gets its events one at a time, oldest first
 * (so in order); a failure is retried after an exponential backoff with
 * full jitter and a cap, and holds back only that target's later events.
 * The control loop and the router never wait for any of it: the
 * controller only writes rows (it was writing the audit entry anyway) and
 * wakes the thread.
 *
 * Gate hooks (strategy.gates) are HTTP calls made on the same thread: the
 * controller asks (cn_notify_gate), and the answer comes back through a
 * callback on the delivery thread, which the controller posts to its loop
 * as a job.
 *
 * The pure parts (config table, payloads, signature, backoff) are
 * separate functions so that unit tests and other callers use them
 * without a thread.
 */
#ifndef CN_NOTIFY_NOTIFY_H
#define CN_NOTIFY_NOTIFY_H

#include "store/store.h"
#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------ events */

typedef enum cn_notify_event_e {
    CN_NOTIFY_STARTED = 0,
    CN_NOTIFY_STEP = 1,
    CN_NOTIFY_HELD = 2,
    CN_NOTIFY_RESUMED = 3,
    CN_NOTIFY_PROMOTED = 4,
    CN_NOTIFY_ROLLED_BACK = 5,
    CN_NOTIFY_ABORTED = 6,
    CN_NOTIFY_TRIGGER_FIRED = 7,
} cn_notify_event_t;
#define CN_NOTIFY_EVENTS 8

/* "started", "step", ...; "?" out of range. */
const char *cn_notify_event_name(cn_notify_event_t e);
/* 0, or CN_EINVAL. */
int cn_notify_event_parse(const char *name, cn_notify_event_t *out);

typedef enum cn_notify_format_e {
    CN_NOTIFY_JSON = 0,
    CN_NOTIFY_SLACK = 1,
    CN_NOTIFY_PAGERDUTY = 2,
    CN_NOTIFY_TEAMS = 3,
} cn_notify_format_t;

/* ------------------------------------------------------------ config */

/* One target: an item of `notifications:`. */
typedef struct cn_notify_target_s {
    int line;                /* in the config file */
    char *name;              /* NULL: the url (names the outbox rows and metrics) */
    char *url;               /* required: http:// or https:// */
    int format;              /* cn_notify_format_t; default json */
    cn_config_strv_t events; /* names; empty: every event */
    char *secret;            /* HMAC key, or NULL */
    char *secret_file;       /* a file holding it (trailing newline dropped) */
    char *routing_key;       /* pagerduty: the integration's routing key */
    uint64_t timeout_ms;     /* one delivery; default 5s */
    uint64_t backoff_min_ms; /* first retry's cap; default 1s */
    uint64_t backoff_max_ms; /* any retry's cap; default 5m */
} cn_notify_target_t;

typedef struct cn_notify_config_s {
    cn_notify_target_t *targets;
    size_t n_targets;
} cn_notify_config_t;

/* The key table of the `notifications` key (a part of `serve:`). */
const cn_config_table_t *cn_notify_config_table(void);

/* The target's name as rows and metrics use it: name, else url. */
const char *cn_notify_target_name(const cn_notify_target_t *t);

/* Whether target t wants event e (an empty filter wants all). */
bool cn_notify_target_wants(const cn_notify_target_t *t, cn_notify_event_t e);

/*
 * Read each target's secret_file into secret (once, at start). 0, or
 * CN_EIO / CN_EINVAL with one line naming the target and file.
 */
int cn_notify_config_load_secrets(cn_notify_config_t *c, char *err, size_t errlen);

/* --------------------------------------------------------- payloads */

/*
 * The body for one target, from the stored event (a JSON object: see
 * docs/notification.schema.json; the "id" is added here from event_id).
 * json: the event with "id" and "schema"; slack: an incoming-webhook
 * message, `text` and `blocks`; pagerduty: an Events API v2 event
 * (trigger on rolled_back and trigger_fired, resolve on promoted, info
 * for the rest, dedup_key per rollout) with the target's routing_key;
 * teams: a MessageCard. Returns a new NUL-terminated string (*len its
 * length), or NULL when the event is not a JSON object.
 */
char *cn_notify_render(const cn_notify_target_t *t, const char *event_id,
                       const char *event, size_t *len);

/* HMAC-SHA256 of body under key, as 64 lowercase hex digits and a NUL
 * into hex[65]. */
void cn_notify_sign(const char *key, size_t key_len, const void *body, size_t len,
                    char hex[65]);

/*
 * The delay before retry `attempt` (1 = the first retry): full jitter,
 * uniform in [0, min(max_ms, min_ms * 2^(attempt-1))], drawn from u in
 * [0, 1). Pure.
 */
uint64_t cn_notify_backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned attempt,
                              double u);

/* ---------------------------------------------------------- notifier */

typedef struct cn_notify_s cn_notify_t;

/*
 * Start the delivery thread over store (borrowed; may be NULL: then
 * events are not kept and only gates work) and the targets of c
 * (borrowed; must outlive the notifier; secrets loaded). Rows of the
 * outbox for a target not in c are dropped with a log line. log: one
 * line per failure (NULL: stderr). Returns 0 or CN_EIO with err.
 */
int cn_notify_new(const cn_notify_config_t *c, cn_store_t *store, FILE *log,
                  cn_notify_t **out, char *err, size_t errlen);

/* Stop the thread (deliveries in flight are abandoned: their rows stay
 * in the outbox) and free. NULL is a no-op. */
void cn_notify_free(cn_notify_t *n);

/* The configured targets (borrowed), for the controller's filter. n may
 * be NULL (no targets). */
const cn_notify_config_t *cn_notify_config(const cn_notify_t *n);

/* New rows are in the outbox: read them. Any thread, cheap. */
void cn_notify_kick(cn_notify_t *n);

/* A gate's answer, on the delivery thread: ok (a 2xx), the HTTP status
 * (0: none), and one line saying what happened. */
typedef void (*cn_notify_gate_cb)(void *arg, bool ok, long status, const char *what);

/*
 * POST body (JSON, copied) to url with a timeout; cb is called exactly
 * once, on the delivery thread, with the answer (a non-2xx, a timeout or
 * a connection error is not ok). Returns 0, or CN_EINVAL (n NULL or
 * stopping: cb is never called).
 */
int cn_notify_gate(cn_notify_t *n, const char *url, uint64_t timeout_ms,
                   const char *body, cn_notify_gate_cb cb, void *arg);

/* Counters per target, for /metrics. */
typedef struct cn_notify_stats_s {
    const char *target; /* borrowed from the config */
    uint64_t delivered;
    uint64_t failed_attempts;
    uint64_t pending;
} cn_notify_stats_t;

/* Up to max targets' counters into out; returns how many. Any thread. */
size_t cn_notify_stats(cn_notify_t *n, cn_notify_stats_t *out, size_t max);

/* The notifier's counters per target as Prometheus families
 * (canary_notify_delivered_total, canary_notify_failed_attempts_total,
 * canary_notify_pending), for /metrics: 0 or the writer's error. */
struct cn_prom_writer_s;
int cn_notify_write_metrics(cn_notify_t *n, struct cn_prom_writer_s *w);

#endif
