/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What a target receives (notify.h): the stored event rendered in the
 * target's format, its HMAC-SHA256 signature, and the retry schedule.
 * Pure: no I/O, no clock, no global state.
 *
 * Formats (docs/NOTIFY.md):
 *  - json: the event itself, with "schema" and "id" in front
 *    (docs/notification.schema.json);
 *  - slack: an incoming-webhook message: `text` (the summary, which Slack
 *    shows in notifications) and `blocks` (a section with the summary, a
 *    section of fields, and a context line with the per-metric reasons);
 *  - pagerduty: an Events API v2 event: `trigger` for rolled_back and
 *    trigger_fired (severity critical), `resolve` for promoted, with
 *    dedup_key "canary-MODEL-ROLLOUT" so that the promotion of a rollout
 *    resolves what its rollback or trigger opened (a pagerduty target is
 *    sent only those three events, whatever its filter says);
 *  - teams: a message with one Adaptive Card (a title and a fact set),
 *    the form Teams' workflow webhooks take.
 */
#include "notify/notify.h"
#include "util/error.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHEMA "https://canary.dev/schemas/notification/v1"

/* What cannot fail but for memory (jansson, OpenSSL): abort, as the
 * allocators do. */
static void die(const char *what)
{
    fprintf(stderr, "canary: out of memory building the %s\n", what);
    abort();
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* "model M, rollout 3 (v2 against v1): rolled back at step 2 of 5, weight
 * 25%: REASON" */
static void summary(const json_t *ev, char *buf, size_t len)
{
    char what[64];
    snprintf(what, sizeof what, "%s", str(ev, "event"));
    for (char *p = what; *p; p++)
        if (*p == '_')
            *p = ' ';
    double w = num(ev, "weight_pct");
    snprintf(buf, len,
             "canary: model %s, rollout %lld (%s against %s): %s at step %lld of %lld, "
             "weight %g%%: %s",
             str(ev, "model"),
             (long long)json_integer_value(json_object_get(ev, "rollout_id")),
             str(ev, "version"), str(ev, "baseline"), what,
             (long long)json_integer_value(json_object_get(ev, "step_index")),
             (long long)json_integer_value(json_object_get(ev, "step_count")),
             isnan(w) ? 0.0 : w, str(ev, "reason"));
}

/* The per-metric reasons of the event's analysis, one line each:
 * "latency_ms: pass, effect -0.3 [-1.2, 0.5], margin 5, p 0.003: ..." */
static void metric_lines(const json_t *ev, char *buf, size_t len)
{
    buf[0] = '\0';
    const json_t *metrics = json_object_get(json_object_get(ev, "analysis"), "metrics");
    size_t i, used = 0;
    const json_t *m;
    json_array_foreach(metrics, i, m)
    {
        const json_t *ci = json_object_get(m, "ci");
        int n =
            snprintf(buf + used, len - used,
                     "%s%s%s%s: %s, effect %.4g [%.4g, %.4g], "
                     "margin %.4g: %s",
                     used ? "\n" : "", str(m, "name"), *str(m, "segment") ? "/" : "",
                     str(m, "segment"), str(m, "classification"), num(m, "effect"),
                     json_number_value(json_array_get(ci, 0)),
                     json_number_value(json_array_get(ci, 1)), num(m, "margin"),
                     str(m, "reason"));
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

static json_t *render_json(const json_t *ev, const char *event_id)
{
    json_t *o = json_object();
    json_object_set_new(o, "schema", json_string(SCHEMA));
    json_object_set_new(o, "id", json_string(event_id));
    json_object_update(o, (json_t *)ev);
    return o;
}

static json_t *render_slack(const json_t *ev)
{
    char text[1024], lines[2900];
    summary(ev, text, sizeof text);
    metric_lines(ev, lines, sizeof lines);
    json_t *blocks = json_array();
    json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "section",
                                            "text", "type", "mrkdwn", "text", text));
    char f[4][160];
    snprintf(f[0], sizeof f[0], "*Event*\n%s", str(ev, "event"));
    snprintf(f[1], sizeof f[1], "*State*\n%s", str(ev, "state"));
    snprintf(f[2], sizeof f[2], "*Weight*\n%g%%", num(ev, "weight_pct"));
    const char *verdict = str(ev, "verdict");
    snprintf(f[3], sizeof f[3], "*Verdict*\n%s", *verdict ? verdict : "none yet");
    json_t *fields = json_array();
    for (int i = 0; i < 4; i++)
        json_array_append_new(fields,
                              json_pack("{s:s, s:s}", "type", "mrkdwn", "text", f[i]));
    json_array_append_new(blocks,
                          json_pack("{s:s, s:o}", "type", "section", "fields", fields));
    if (lines[0])
        json_array_append_new(blocks,
                              json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context",
                                        "elements", "type", "mrkdwn", "text", lines));
    return json_pack("{s:s, s:o}", "text", text, "blocks", blocks);
}

static json_t *render_pagerduty(const cn_notify_target_t *t, const json_t *ev)
{
    const char *event = str(ev, "event");
    bool resolve = strcmp(event, "promoted") == 0;
    char dedup[256], text[1024];
    snprintf(dedup, sizeof dedup, "canary-%s-%lld", str(ev, "model"),
             (long long)json_integer_value(json_object_get(ev, "rollout_id")));
    summary(ev, text, sizeof text);
    json_t *o = json_pack("{s:s, s:s, s:s}", "routing_key",
                          t->routing_key ? t->routing_key : "", "event_action",
                          resolve ? "resolve" : "trigger", "dedup_key", dedup);
    if (!resolve) {
        char source[128];
        snprintf(source, sizeof source, "canary/%s", str(ev, "model"));
        json_object_set_new(o, "payload",
                            json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "summary",
                                      text, "source", source, "severity", "critical",
                                      "timestamp", str(ev, "time"), "component",
                                      str(ev, "version"), "class", event,
                                      "custom_details", ev));
    }
    return o;
}

static json_t *render_teams(const json_t *ev)
{
    char text[1024], lines[2900];
    summary(ev, text, sizeof text);
    metric_lines(ev, lines, sizeof lines);
    json_t *facts = json_array();
    const char *keys[] = {"event", "state", "version", "baseline"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        json_array_append_new(facts, json_pack("{s:s, s:s}", "title", keys[i], "value",
                                               str(ev, keys[i])));
    char w[32];
    snprintf(w, sizeof w, "%g%%", num(ev, "weight_pct"));
    json_array_append_new(facts,
                          json_pack("{s:s, s:s}", "title", "weight", "value", w));
    json_t *body = json_array();
    json_array_append_new(body, json_pack("{s:s, s:s, s:s, s:s, s:b}", "type",
                                          "TextBlock", "text", text, "weight", "Bolder",
                                          "size", "Medium", "wrap", 1));
    json_array_append_new(body,
                          json_pack("{s:s, s:o}", "type", "FactSet", "facts", facts));
    if (lines[0])
        json_array_append_new(body, json_pack("{s:s, s:s, s:b}", "type", "TextBlock",
                                              "text", lines, "wrap", 1));
    json_t *card = json_pack("{s:s, s:s, s:s, s:o}", "$schema",
                             "http://adaptivecards.io/schemas/adaptive-card.json",
                             "type", "AdaptiveCard", "version", "1.4", "body", body);
    return json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments",
                     "contentType", "application/vnd.microsoft.card.adaptive",
                     "contentUrl", "content", card);
}

char *cn_notify_render(const cn_notify_target_t *t, const char *event_id,
                       const char *event, size_t *len)
{
    json_t *ev = json_loads(event ? event : "", JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return NULL;
    }
    json_t *out = NULL;
    switch ((cn_notify_format_t)t->format) {
    case CN_NOTIFY_SLACK:
        out = render_slack(ev);
        break;
    case CN_NOTIFY_PAGERDUTY:
        out = render_pagerduty(t, ev);
        break;
    case CN_NOTIFY_TEAMS:
        out = render_teams(ev);
        break;
    case CN_NOTIFY_JSON:
    default:
        out = render_json(ev, event_id);
        break;
    }
    json_decref(ev);
    char *text = json_dumps(out, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(out);
    if (!text)
        die("notification body");
    if (len)
        *len = strlen(text);
    return text;
}

void cn_notify_sign(const char *key, size_t key_len, const void *body, size_t len,
                    char hex[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    static const unsigned char empty[1];
    if (!HMAC(EVP_sha256(), key, (int)key_len, len ? body : empty, len, mac, &mac_len))
        die("HMAC-SHA256");
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32 && i < mac_len; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
}

uint64_t cn_notify_backoff_ms(uint64_t min_ms, uint64_t max_ms, unsigned attempt,
                              double u)
{
    if (attempt < 1)
        attempt = 1;
    uint64_t cap = min_ms;
    for (unsigned i = 1; i < attempt && cap < max_ms; i++)
        cap = cap > max_ms / 2 ? max_ms : cap * 2;
    if (cap > max_ms)
        cap = max_ms;
    if (!(u >= 0) || u >= 1)
        u = 0;
    return (uint64_t)(u * (double)(cap + 1));
}
