/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The `notifications:` key of the serve config (notify.h): a list of
 * targets, each a record read with the config engine, so that
 * `canary config check` reports "FILE:LINE: key 'serve.notifications[1].
 * format': ..." and the effective configuration lists every target.
 */
#include "notify/notify.h"
#include "util/error.h"
#include "util/file.h"
#include "util/text.h"
#include "util/units.h"
#include "util/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define QUOTE_BUF CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)

static const char *const event_names[CN_NOTIFY_EVENTS] = {
    "started",  "step",        "held",    "resumed",
    "promoted", "rolled_back", "aborted", "trigger_fired",
};

const char *cn_notify_event_name(cn_notify_event_t e)
{
    return (unsigned)e < CN_NOTIFY_EVENTS ? event_names[e] : "?";
}

int cn_notify_event_parse(const char *name, cn_notify_event_t *out)
{
    for (int i = 0; name && i < CN_NOTIFY_EVENTS; i++)
        if (strcmp(event_names[i], name) == 0) {
            *out = (cn_notify_event_t)i;
            return 0;
        }
    return CN_EINVAL;
}

static const cn_config_name_t format_names[] = {
    {"json", CN_NOTIFY_JSON},
    {"slack", CN_NOTIFY_SLACK},
    {"pagerduty", CN_NOTIFY_PAGERDUTY},
    {"teams", CN_NOTIFY_TEAMS},
    {NULL, 0},
};

static int check_event(const char *text, char *what, size_t len)
{
    cn_notify_event_t e;
    if (cn_notify_event_parse(text, &e) == 0)
        return 0;
    char q[QUOTE_BUF];
    snprintf(what, len,
             "must be one of started, step, held, resumed, promoted, rolled_back, "
             "aborted, trigger_fired, got '%s'",
             cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

static int check_url(const char *text, char *what, size_t len)
{
    return cn_units_check_http_url(text, 0, what, len);
}

#define T(f)                                                                           \
    .offset = offsetof(cn_notify_target_t, f),                                         \
    .width = sizeof(((cn_notify_target_t *)0)->f)

static int target_check(const void *record, char *path, size_t pathlen, int *line,
                        char *what, size_t len);

static const cn_config_key_t target_keys[] = {
    {.key = "name",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_LABEL,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "names the target in /metrics and the outbox; default: its url",
     T(name)},
    {.key = "url",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .check = check_url,
     .help = "where events are POSTed (http:// or https://)",
     T(url)},
    {.key = "format",
     .type = CN_CONFIG_ENUM,
     .names = format_names,
     .default_text = "json",
     .help = "json (docs/notification.schema.json), slack, pagerduty or teams",
     T(format)},
    {.key = "events",
     .type = CN_CONFIG_ADDRESS_LIST,
     .lo = 0,
     .hi = CN_NOTIFY_EVENTS,
     .check = check_event,
     .want = "a list of started, step, held, resumed, promoted, rolled_back, "
             "aborted, trigger_fired",
     .help = "the events this target gets; empty: all",
     T(events)},
    {.key = "secret",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "HMAC-SHA256 key: signs each body (X-Canary-Signature); prefer "
             "secret_file",
     T(secret)},
    {.key = "secret_file",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_FILE,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "file holding the HMAC key (a trailing newline is dropped)",
     T(secret_file)},
    {.key = "routing_key",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "pagerduty: the Events API v2 integration's routing key",
     T(routing_key)},
    {.key = "timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 100,
     .hi = 5 * CN_UNITS_MINUTE_MS,
     .default_text = "5s",
     .help = "one delivery's timeout (connect and answer)",
     T(timeout_ms)},
    {.key = "backoff_min",
     .type = CN_CONFIG_DURATION,
     .lo = 10,
     .hi = CN_UNITS_HOUR_MS,
     .default_text = "1s",
     .help = "the first retry waits up to this (full jitter), doubling per retry",
     T(backoff_min_ms)},
    {.key = "backoff_max",
     .type = CN_CONFIG_DURATION,
     .lo = 10,
     .hi = 24 * CN_UNITS_HOUR_MS,
     .default_text = "5m",
     .help = "the cap of a retry's wait",
     T(backoff_max_ms)},
};

static const cn_config_table_t target_table = {
    .keys = target_keys,
    .n_keys = COUNT(target_keys),
    .size = sizeof(cn_notify_target_t),
    .line_at = CN_CONFIG_AT(cn_notify_target_t, line),
    .item_want = "a mapping with url, format, events, secret or secret_file, timeout",
    .check = target_check,
};

static int target_check(const void *record, char *path, size_t pathlen, int *line,
                        char *what, size_t len)
{
    (void)line;
    const cn_notify_target_t *t = record;
    if (t->secret && t->secret_file) {
        snprintf(path, pathlen, "secret_file");
        snprintf(what, len, "give secret or secret_file, not both");
        return CN_EINVAL;
    }
    if (t->format == CN_NOTIFY_PAGERDUTY && !t->routing_key) {
        snprintf(path, pathlen, "routing_key");
        snprintf(what, len, "is required by format pagerduty");
        return CN_EINVAL;
    }
    if (t->format != CN_NOTIFY_PAGERDUTY && t->routing_key) {
        snprintf(path, pathlen, "routing_key");
        snprintf(what, len, "is used only by format pagerduty");
        return CN_EINVAL;
    }
    if (t->backoff_min_ms > t->backoff_max_ms) {
        snprintf(path, pathlen, "backoff_min");
        snprintf(what, len, "must be <= backoff_max (%llu ms), got %llu ms",
                 (unsigned long long)t->backoff_max_ms,
                 (unsigned long long)t->backoff_min_ms);
        return CN_EINVAL;
    }
    return 0;
}

static int config_check(const void *record, char *path, size_t pathlen, int *line,
                        char *what, size_t len)
{
    const cn_notify_config_t *c = record;
    for (size_t i = 0; i < c->n_targets; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(cn_notify_target_name(&c->targets[i]),
                       cn_notify_target_name(&c->targets[j])) == 0) {
                snprintf(path, pathlen, "notifications[%zu]", i);
                *line = c->targets[i].line;
                snprintf(what, len,
                         "two targets are named '%.200s' (targets [%zu] and [%zu]): "
                         "give one a distinct name",
                         cn_notify_target_name(&c->targets[i]), j, i);
                return CN_EINVAL;
            }
    return 0;
}

static const cn_config_key_t notify_keys[] = {
    {.key = "notifications",
     .type = CN_CONFIG_LIST,
     .table = &target_table,
     .want = "a list of targets",
     .help = "webhook targets of rollout events (docs/NOTIFY.md)",
     .offset = offsetof(cn_notify_config_t, targets),
     .width = sizeof(cn_notify_target_t *),
     .count_offset = offsetof(cn_notify_config_t, n_targets)},
};

static const cn_config_table_t notify_table = {
    .keys = notify_keys,
    .n_keys = COUNT(notify_keys),
    .size = sizeof(cn_notify_config_t),
    .check = config_check,
};

const cn_config_table_t *cn_notify_config_table(void)
{
    return &notify_table;
}

const char *cn_notify_target_name(const cn_notify_target_t *t)
{
    return t->name ? t->name : t->url ? t->url : "";
}

bool cn_notify_target_wants(const cn_notify_target_t *t, cn_notify_event_t e)
{
    /* PagerDuty opens and resolves incidents: only these three mean one */
    if (t->format == CN_NOTIFY_PAGERDUTY && e != CN_NOTIFY_ROLLED_BACK &&
        e != CN_NOTIFY_TRIGGER_FIRED && e != CN_NOTIFY_PROMOTED)
        return false;
    if (t->events.count == 0)
        return true;
    for (size_t i = 0; i < t->events.count; i++)
        if (strcmp(t->events.items[i], cn_notify_event_name(e)) == 0)
            return true;
    return false;
}

int cn_notify_config_load_secrets(cn_notify_config_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; c && i < c->n_targets; i++) {
        cn_notify_target_t *t = &c->targets[i];
        if (!t->secret_file)
            continue;
        char *data = NULL;
        size_t len = 0;
        char ferr[512];
        int rc =
            cn_file_read(t->secret_file, 64 * 1024, &data, &len, ferr, sizeof ferr);
        if (rc)
            return cn_fail(err, errlen, rc, "notifications[%zu] (%s): secret_file %s",
                           i, cn_notify_target_name(t), ferr);
        while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
            data[--len] = '\0';
        if (len == 0 || strlen(data) != len) {
            free(data);
            return cn_fail(
                err, errlen, CN_EINVAL,
                "notifications[%zu] (%s): secret_file '%s' is empty or holds "
                "a NUL byte",
                i, cn_notify_target_name(t), t->secret_file);
        }
        free(t->secret);
        t->secret = data;
        /* read: the key is held as if given inline */
        free(t->secret_file);
        t->secret_file = NULL;
    }
    return 0;
}
