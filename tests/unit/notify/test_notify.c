/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The notifier's pure parts (notify.h, controller/notes.h): the signature
 * against RFC 4231's HMAC-SHA256 vectors, the retry schedule, the
 * `notifications:` config and its errors, the events the state changes
 * announce, and each format's payload; the json payload checked against
 * docs/notification.schema.json (every required field there, with its
 * type).
 */
#include "controller/notes.h"
#include "notify/notify.h"
#include "util/config.h"
#include "util/error.h"
#include "util/yaml.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <libfyaml.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------- signature */

static void hex_of(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
}

Test(notify_sign, rfc4231_vectors)
{
    unsigned char key[131], data[160];
    char hex[65];
    /* 1 */
    memset(key, 0x0b, 20);
    cn_notify_sign((char *)key, 20, "Hi There", 8, hex);
    cr_assert_str_eq(
        hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* 2 */
    cn_notify_sign("Jefe", 4, "what do ya want for nothing?", 28, hex);
    cr_assert_str_eq(
        hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* 3 */
    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    cn_notify_sign((char *)key, 20, data, 50, hex);
    cr_assert_str_eq(
        hex, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    /* 4 */
    hex_of("0102030405060708090a0b0c0d0e0f10111213141516171819", key, 25);
    memset(data, 0xcd, 50);
    cn_notify_sign((char *)key, 25, data, 50, hex);
    cr_assert_str_eq(
        hex, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    /* 6: a key longer than the block */
    memset(key, 0xaa, 131);
    const char *t6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    cn_notify_sign((char *)key, 131, t6, strlen(t6), hex);
    cr_assert_str_eq(
        hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    /* 7: key and data longer than the block */
    const char *t7 = "This is a test using a larger than block-size key and a larger "
                     "than block-size data. The key needs to be hashed before being "
                     "used by the HMAC algorithm.";
    cn_notify_sign((char *)key, 131, t7, strlen(t7), hex);
    cr_assert_str_eq(
        hex, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

Test(notify_sign, an_empty_body_is_signed_too)
{
    char hex[65];
    cn_notify_sign("key", 3, "", 0, hex);
    /* HMAC-SHA256("key", "") */
    cr_assert_str_eq(
        hex, "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
}

/* ------------------------------------------------------------ backoff */

Test(notify_backoff, full_jitter_under_a_doubling_cap)
{
    /* u just below 1 gives the cap: 1 s, 2 s, 4 s, ... up to 60 s */
    const double top = 0.999999999;
    uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (unsigned a = 1; a <= 9; a++) {
        uint64_t got = cn_notify_backoff_ms(1000, 60000, a, top);
        cr_assert_eq(got, want[a - 1], "attempt %u: %llu", a, (unsigned long long)got);
        cr_assert_eq(cn_notify_backoff_ms(1000, 60000, a, 0), 0, "u = 0: no wait");
        uint64_t half = cn_notify_backoff_ms(1000, 60000, a, 0.5);
        cr_assert(half >= want[a - 1] / 2 && half <= want[a - 1] / 2 + 1, "%u", a);
    }
    /* attempt 0 is the first; a huge attempt does not overflow */
    cr_assert_eq(cn_notify_backoff_ms(1000, 60000, 0, top), 1000);
    cr_assert_eq(cn_notify_backoff_ms(1000, 86400000, 4000000000u, top), 86400000);
    /* a bad draw waits nothing rather than forever */
    cr_assert_eq(cn_notify_backoff_ms(1000, 60000, 3, 1.5), 0);
    cr_assert_eq(cn_notify_backoff_ms(1000, 60000, 3, -0.1), 0);
}

Test(notify_backoff, the_draws_are_uniform_below_the_cap)
{
    /* 10,000 evenly spaced draws at attempt 3 (cap 4 s): mean 2 s */
    double sum = 0;
    for (int i = 0; i < 10000; i++)
        sum += (double)cn_notify_backoff_ms(1000, 60000, 3, (i + 0.5) / 10000);
    cr_assert(sum / 10000 > 1990 && sum / 10000 < 2010, "mean %g", sum / 10000);
}

/* ------------------------------------------------------------- config */

static int parse(const char *yaml, cn_notify_config_t *c, char *err, size_t errlen)
{
    cn_config_part_t part = {cn_notify_config_table(), c};
    cn_config_init(part.table, c);
    cn_yaml_t y;
    cn_yaml_init(&y, "n.yaml", err, errlen);
    struct fy_document *doc = NULL;
    int rc = cn_yaml_load(&y, yaml, strlen(yaml), &doc);
    if (!rc)
        rc = cn_config_read(&y, &part, 1, fy_document_root(doc), 1);
    cn_yaml_dispose(&y); /* and the document it loaded */
    return rc;
}

static void config_error(const char *yaml, const char *want)
{
    cn_notify_config_t c;
    char err[512] = "";
    cr_assert_eq(parse(yaml, &c, err, sizeof err), CN_EINVAL, "accepted: %s", yaml);
    cr_assert_str_eq(err, want, "for %s\ngot: %s", yaml, err);
    cn_config_dispose(cn_notify_config_table(), &c);
}

Test(notify_config, targets_with_their_defaults)
{
    cn_notify_config_t c;
    char err[512];
    cr_assert_eq(parse("notifications:\n"
                       "  - url: http://127.0.0.1:9/hook\n"
                       "    secret: s3cret\n"
                       "  - url: https://events.pagerduty.com/v2/enqueue\n"
                       "    format: pagerduty\n"
                       "    routing_key: R0UT1NG\n"
                       "    events: [rolled_back, promoted]\n"
                       "    timeout: 2s\n",
                       &c, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(c.n_targets, 2);
    cr_assert_eq(c.targets[0].format, CN_NOTIFY_JSON);
    cr_assert_eq(c.targets[0].timeout_ms, 5000);
    cr_assert_eq(c.targets[0].backoff_min_ms, 1000);
    cr_assert_eq(c.targets[0].backoff_max_ms, 300000);
    cr_assert_str_eq(cn_notify_target_name(&c.targets[0]), "http://127.0.0.1:9/hook");
    cr_assert_eq(c.targets[0].line, 2);
    for (int e = 0; e < CN_NOTIFY_EVENTS; e++)
        cr_assert(cn_notify_target_wants(&c.targets[0], (cn_notify_event_t)e));
    cr_assert_eq(c.targets[1].timeout_ms, 2000);
    /* pagerduty: only what opens or resolves an incident, within the filter */
    cr_assert(cn_notify_target_wants(&c.targets[1], CN_NOTIFY_ROLLED_BACK));
    cr_assert(cn_notify_target_wants(&c.targets[1], CN_NOTIFY_PROMOTED));
    cr_assert(!cn_notify_target_wants(&c.targets[1], CN_NOTIFY_TRIGGER_FIRED));
    cr_assert(!cn_notify_target_wants(&c.targets[1], CN_NOTIFY_STEP));
    cn_config_problem_t p;
    cr_assert_eq(cn_config_check(cn_notify_config_table(), &c, &p), 0, "%s", p.what);
    cn_config_dispose(cn_notify_config_table(), &c);
}

Test(notify_config, each_error_names_file_line_and_key)
{
    config_error("notifications:\n  - format: json\n",
                 "n.yaml:2: key 'notifications[0].url': required: where events are "
                 "POSTed (http:// or https://)");
    config_error("notifications:\n  - url: ftp://x/y\n",
                 "n.yaml:2: key 'notifications[0].url': must be an http:// or https:// "
                 "URL with a host, got 'ftp://x/y'");
    config_error("notifications:\n  - url: http://x/y\n    format: email\n",
                 "n.yaml:3: key 'notifications[0].format': must be one of json, slack, "
                 "pagerduty, teams, got 'email'");
    config_error("notifications:\n  - url: http://x/y\n    events: [step, stepped]\n",
                 "n.yaml:3: key 'notifications[0].events[1]': must be one of started, "
                 "step, held, resumed, promoted, rolled_back, aborted, trigger_fired, "
                 "got 'stepped'");
    config_error("notifications:\n  - url: http://x/y\n    format: pagerduty\n",
                 "n.yaml:2: key 'notifications[0].routing_key': is required by format "
                 "pagerduty");
    config_error(
        "notifications:\n  - url: http://x/y\n    secret: a\n    secret_file: /k\n",
        "n.yaml:4: key 'notifications[0].secret_file': give secret or secret_file, not "
        "both");
    config_error("notifications:\n  - url: http://x/y\n    timeout: 0s\n",
                 "n.yaml:3: key 'notifications[0].timeout': must be a duration in "
                 "[100ms, 5m], got '0s'");
    config_error("notifications:\n  - url: http://x/y\n  - url: http://x/y\n",
                 "n.yaml:3: key 'notifications[1]': two targets are named 'http://x/y' "
                 "(targets [0] and [1]): give one a distinct name");
    config_error(
        "notifications:\n  - url: http://x/y\n    retries: 3\n",
        "n.yaml:3: key 'notifications[0].retries': unknown key (expected one of "
        "name, url, format, events, secret, secret_file, routing_key, timeout, "
        "backoff_min, backoff_max)");
}

Test(notify_config, a_secret_file_is_read_once_without_its_newline)
{
    char path[] = "/tmp/canary-notify-key-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "k3y\n", 4), 4);
    close(fd);
    cn_notify_config_t c;
    char yaml[256], err[512];
    snprintf(yaml, sizeof yaml,
             "notifications:\n  - url: http://x/y\n    secret_file: %s\n", path);
    cr_assert_eq(parse(yaml, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_notify_config_load_secrets(&c, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(c.targets[0].secret, "k3y");
    cn_config_dispose(cn_notify_config_table(), &c);
    unlink(path);
    cr_assert_eq(parse(yaml, &c, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_notify_config_load_secrets(&c, err, sizeof err), CN_EIO);
    cr_assert(strstr(err, "notifications[0] (http://x/y): secret_file"), "%s", err);
    cn_config_dispose(cn_notify_config_table(), &c);
}

/* ------------------------------------------------------------- events */

Test(notify_events, each_state_change_announces_its_event)
{
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_PENDING, CN_ROLLOUT_PROGRESSING),
                 CN_NOTIFY_STARTED);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_ABORTED, CN_ROLLOUT_PROGRESSING),
                 CN_NOTIFY_STARTED, "a retry starts again");
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_PROGRESSING, CN_ROLLOUT_HOLDING),
                 CN_NOTIFY_HELD);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_WARMUP, CN_ROLLOUT_PAUSED),
                 CN_NOTIFY_HELD);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_HOLDING, CN_ROLLOUT_PROGRESSING),
                 CN_NOTIFY_RESUMED);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_PAUSED, CN_ROLLOUT_WARMUP),
                 CN_NOTIFY_RESUMED);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_PROMOTING, CN_ROLLOUT_PROMOTED),
                 CN_NOTIFY_PROMOTED);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_ROLLING_BACK, CN_ROLLOUT_ROLLED_BACK),
                 CN_NOTIFY_ROLLED_BACK);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_ROLLING_BACK, CN_ROLLOUT_ABORTED),
                 CN_NOTIFY_ABORTED);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_PROGRESSING, CN_ROLLOUT_WARMUP), -1,
                 "the first traffic is a step event, not a state's");
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_PROGRESSING, CN_ROLLOUT_ROLLING_BACK), -1);
    cr_assert_eq(cn_note_event_of(CN_ROLLOUT_PROGRESSING, CN_ROLLOUT_PROMOTING), -1);
    for (int e = 0; e < CN_NOTIFY_EVENTS; e++) {
        cn_notify_event_t back;
        cr_assert_eq(
            cn_notify_event_parse(cn_notify_event_name((cn_notify_event_t)e), &back),
            0);
        cr_assert_eq(back, (cn_notify_event_t)e);
    }
    cr_assert_str_eq(cn_notify_event_name((cn_notify_event_t)8), "?");
}

/* A rolled_back event with an analysis, a trigger and a blast radius. */
static char *sample_event(cn_notify_event_t kind, bool with_analysis)
{
    json_t *analysis = json_loads(
        "{\"verdict\":\"fail\",\"score\":40,\"reason\":\"latency_ms failed\","
        "\"alpha_fail\":0.01,\"alpha_pass\":0,\"information_fraction\":1,"
        "\"metrics\":[{\"name\":\"latency_ms\",\"segment\":null,\"test\":"
        "\"mann-whitney\",\"classification\":\"fail\",\"pvalue\":1e-9,"
        "\"adjusted_pvalue\":2e-9,\"pvalue_noninf\":0.9,\"adjusted_pvalue_noninf\":0.9,"
        "\"pvalue_harm\":1e-9,\"adjusted_pvalue_harm\":2e-9,\"effect\":12.5,"
        "\"ci\":[10.1,14.9],\"margin\":5,\"n_canary\":4000,\"n_stable\":36000,"
        "\"min_samples\":200,\"reason\":\"canary 12.5 ms slower [10.1, 14.9] beyond "
        "the margin 5\"}]}",
        0, NULL);
    json_t *blast = json_pack("{s:i, s:i, s:f}", "canary_requests", 4000,
                              "canary_failed", 12, "share", 0.1);
    cn_note_info_t in = {
        .event = kind,
        .time_ms = 1765130400123,
        .model = "fraud",
        .version = "v2",
        .baseline = "v1",
        .rollout_id = 7,
        .run = 1,
        .state = "rolled-back",
        .reason = "analysis at step 2, attempt 1 failed: latency_ms failed",
        .actor = "judge",
        .step_index = 2,
        .step_count = 6,
        .weight_bp = 2500,
        .verdict = with_analysis ? "fail" : NULL,
        .analysis = with_analysis ? analysis : NULL,
        .trigger = kind == CN_NOTIFY_TRIGGER_FIRED ? "error rate 5% > max 1%" : NULL,
        .blast_radius = blast,
    };
    char *text = cn_note_json(&in);
    json_decref(analysis);
    json_decref(blast);
    return text;
}

static json_t *render(cn_notify_format_t format, const char *event)
{
    cn_notify_target_t t;
    memset(&t, 0, sizeof t);
    t.format = format;
    t.url = "http://x/y";
    t.routing_key = "R0UT1NG";
    size_t len = 0;
    char *body = cn_notify_render(&t, "7-12-0", event, &len);
    cr_assert_not_null(body);
    cr_assert_eq(strlen(body), len);
    json_t *o = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    cr_assert(json_is_object(o), "%s", body);
    free(body);
    return o;
}

/* Whether value v has (one of) the schema's type(s) t. */
static bool has_type(const json_t *v, const json_t *t)
{
    if (json_is_array(t)) {
        size_t i;
        json_t *x;
        json_array_foreach(t, i, x) if (has_type(v, x)) return true;
        return false;
    }
    const char *name = json_string_value(t);
    if (!name)
        return true;
    if (!strcmp(name, "string"))
        return json_is_string(v);
    if (!strcmp(name, "integer"))
        return json_is_integer(v);
    if (!strcmp(name, "number"))
        return json_is_number(v);
    if (!strcmp(name, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(name, "object"))
        return json_is_object(v);
    if (!strcmp(name, "array"))
        return json_is_array(v);
    if (!strcmp(name, "null"))
        return json_is_null(v);
    return false;
}

/* o against schema s: required keys present, every property typed and in
 * its enum, nested objects and array items likewise. */
static void validate(const json_t *o, const json_t *s, const char *where)
{
    const json_t *t = json_object_get(s, "type");
    cr_assert(!t || has_type(o, t), "%s: not of type %s", where, json_dumps(t, 0));
    const json_t *en = json_object_get(s, "enum");
    if (en) {
        bool found = false;
        size_t i;
        json_t *x;
        json_array_foreach(en, i, x) found |= json_equal(x, (json_t *)o);
        cr_assert(found, "%s: %s not in its enum", where,
                  json_dumps(o, JSON_ENCODE_ANY));
    }
    if (json_is_object(o)) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(s, "required"), i, r)
            cr_assert(json_object_get(o, json_string_value(r)), "%s lacks %s", where,
                      json_string_value(r));
        const char *key;
        json_t *ps;
        json_object_foreach(json_object_get(s, "properties"), key, ps)
        {
            json_t *v = json_object_get(o, key);
            if (v) {
                char sub[200];
                snprintf(sub, sizeof sub, "%s.%s", where, key);
                validate(v, ps, sub);
            }
        }
    }
    if (json_is_array(o) && json_object_get(s, "items")) {
        size_t i;
        json_t *x;
        json_array_foreach(o, i, x)
        {
            char sub[200];
            snprintf(sub, sizeof sub, "%s[%zu]", where, i);
            validate(x, json_object_get(s, "items"), sub);
        }
    }
}

Test(notify_payload, json_follows_the_schema)
{
    json_error_t jerr;
    json_t *schema = json_load_file("docs/notification.schema.json", 0, &jerr);
    cr_assert_not_null(schema, "docs/notification.schema.json: %s", jerr.text);
    for (int e = 0; e < CN_NOTIFY_EVENTS; e++) {
        for (int a = 0; a < 2; a++) {
            char *ev = sample_event((cn_notify_event_t)e, a);
            json_t *o = render(CN_NOTIFY_JSON, ev);
            validate(o, schema, cn_notify_event_name((cn_notify_event_t)e));
            cr_assert_str_eq(json_string_value(json_object_get(o, "id")), "7-12-0");
            cr_assert_str_eq(json_string_value(json_object_get(o, "time")),
                             "2025-12-07T18:00:00.123Z");
            cr_assert_eq(json_real_value(json_object_get(o, "weight_pct")), 25.0);
            if (a) {
                json_t *m = json_array_get(
                    json_object_get(json_object_get(o, "analysis"), "metrics"), 0);
                cr_assert_eq(
                    json_real_value(json_array_get(json_object_get(m, "ci"), 1)), 14.9);
                cr_assert_eq(json_number_value(json_object_get(m, "margin")), 5);
            } else {
                cr_assert(json_is_null(json_object_get(o, "analysis")));
            }
            json_decref(o);
            free(ev);
        }
    }
    json_decref(schema);
}

Test(notify_payload, slack_has_text_and_blocks)
{
    char *ev = sample_event(CN_NOTIFY_ROLLED_BACK, true);
    json_t *o = render(CN_NOTIFY_SLACK, ev);
    const char *text = json_string_value(json_object_get(o, "text"));
    cr_assert_str_eq(text,
                     "canary: model fraud, rollout 7 (v2 against v1): rolled back "
                     "at step 2 of 6, weight 25%: analysis at step 2, attempt 1 "
                     "failed: latency_ms failed");
    json_t *blocks = json_object_get(o, "blocks");
    cr_assert_eq(json_array_size(blocks), 3);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(blocks, 0), "type")),
        "section");
    json_t *ctx = json_array_get(blocks, 2);
    cr_assert_str_eq(json_string_value(json_object_get(ctx, "type")), "context");
    const char *line = json_string_value(
        json_object_get(json_array_get(json_object_get(ctx, "elements"), 0), "text"));
    cr_assert(strstr(line, "latency_ms: fail, effect 12.5 [10.1, 14.9], margin 5"),
              "%s", line);
    json_decref(o);
    free(ev);
}

Test(notify_payload, pagerduty_triggers_and_resolves_by_rollout)
{
    char *ev = sample_event(CN_NOTIFY_TRIGGER_FIRED, false);
    json_t *o = render(CN_NOTIFY_PAGERDUTY, ev);
    cr_assert_str_eq(json_string_value(json_object_get(o, "routing_key")), "R0UT1NG");
    cr_assert_str_eq(json_string_value(json_object_get(o, "event_action")), "trigger");
    cr_assert_str_eq(json_string_value(json_object_get(o, "dedup_key")),
                     "canary-fraud-7");
    json_t *p = json_object_get(o, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(p, "severity")), "critical");
    cr_assert_str_eq(json_string_value(json_object_get(p, "source")), "canary/fraud");
    cr_assert_str_eq(json_string_value(json_object_get(p, "timestamp")),
                     "2025-12-07T18:00:00.123Z");
    cr_assert(strlen(json_string_value(json_object_get(p, "summary"))) > 20);
    cr_assert_str_eq(
        json_string_value(json_object_get(
            json_object_get(json_object_get(p, "custom_details"), "trigger"),
            "reason")),
        "error rate 5% > max 1%");
    json_decref(o);
    free(ev);
    ev = sample_event(CN_NOTIFY_PROMOTED, false);
    o = render(CN_NOTIFY_PAGERDUTY, ev);
    cr_assert_str_eq(json_string_value(json_object_get(o, "event_action")), "resolve");
    cr_assert_str_eq(json_string_value(json_object_get(o, "dedup_key")),
                     "canary-fraud-7",
                     "the same key resolves what the rollback opened");
    cr_assert_null(json_object_get(o, "payload"));
    json_decref(o);
    free(ev);
}

Test(notify_payload, teams_is_an_adaptive_card)
{
    char *ev = sample_event(CN_NOTIFY_HELD, true);
    json_t *o = render(CN_NOTIFY_TEAMS, ev);
    cr_assert_str_eq(json_string_value(json_object_get(o, "type")), "message");
    json_t *att = json_array_get(json_object_get(o, "attachments"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(att, "contentType")),
                     "application/vnd.microsoft.card.adaptive");
    json_t *card = json_object_get(att, "content");
    cr_assert_str_eq(json_string_value(json_object_get(card, "type")), "AdaptiveCard");
    json_t *body = json_object_get(card, "body");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_array_get(body, 1), "type")), "FactSet");
    json_decref(o);
    free(ev);
}

Test(notify_payload, a_stored_text_that_is_not_an_object_renders_nothing)
{
    cn_notify_target_t t;
    memset(&t, 0, sizeof t);
    cr_assert_null(cn_notify_render(&t, "1-1-0", "[1]", NULL));
    cr_assert_null(cn_notify_render(&t, "1-1-0", "{", NULL));
    cr_assert_null(cn_notify_render(&t, "1-1-0", NULL, NULL));
}
