/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A rollout's notifications (notes.h): the mapping from the machine's
 * state changes to events, and the event's JSON. The analysis is carried
 * in a compact form: the verdict, the reason and, per metric row, its
 * name, segment, test, classification, effect, interval, margin, the
 * p-values and the sample sizes, with the row's reason in words.
 */
#include "controller/notes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int cn_note_event_of(cn_rollout_state_t from, cn_rollout_state_t to)
{
    switch (to) {
    case CN_ROLLOUT_PROGRESSING:
    case CN_ROLLOUT_WARMUP:
        if (from == CN_ROLLOUT_PENDING || from == CN_ROLLOUT_ROLLED_BACK ||
            from == CN_ROLLOUT_ABORTED)
            return CN_NOTIFY_STARTED;
        if (from == CN_ROLLOUT_PAUSED || from == CN_ROLLOUT_HOLDING)
            return CN_NOTIFY_RESUMED;
        return -1;
    case CN_ROLLOUT_HOLDING:
    case CN_ROLLOUT_PAUSED:
        return from == to ? -1 : CN_NOTIFY_HELD;
    case CN_ROLLOUT_PROMOTED:
        return CN_NOTIFY_PROMOTED;
    case CN_ROLLOUT_ROLLED_BACK:
        return CN_NOTIFY_ROLLED_BACK;
    case CN_ROLLOUT_ABORTED:
        return CN_NOTIFY_ABORTED;
    default:
        return -1;
    }
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *copy_of(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v ? json_deep_copy(v) : json_null();
}

static json_t *analysis_json(const json_t *a)
{
    static const char *const keys[] = {
        "name",           "segment",       "test",
        "classification", "effect",        "ci",
        "margin",         "pvalue",        "adjusted_pvalue",
        "pvalue_harm",    "pvalue_noninf", "n_canary",
        "n_stable",       "reason",
    };
    json_t *rows = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(a, "metrics"), i, m)
    {
        json_t *row = json_object();
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            json_object_set_new(row, keys[k], copy_of(m, keys[k]));
        json_array_append_new(rows, row);
    }
    json_t *o = json_object();
    json_object_set_new(o, "verdict", copy_of(a, "verdict"));
    json_object_set_new(o, "score", copy_of(a, "score"));
    json_object_set_new(o, "reason", copy_of(a, "reason"));
    json_object_set_new(o, "alpha_fail", copy_of(a, "alpha_fail"));
    json_object_set_new(o, "alpha_pass", copy_of(a, "alpha_pass"));
    json_object_set_new(o, "metrics", rows);
    return o;
}

char *cn_note_json(const cn_note_info_t *in)
{
    char when[40];
    time_t secs = (time_t)(in->time_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03dZ", (int)(in->time_ms % 1000));
    json_t *o = json_object();
    json_object_set_new(o, "event", json_string(cn_notify_event_name(in->event)));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "time_unix_ms", json_integer(in->time_ms));
    json_object_set_new(o, "model", json_string(in->model ? in->model : ""));
    json_object_set_new(o, "rollout_id", json_integer(in->rollout_id));
    json_object_set_new(o, "run", json_integer(in->run));
    json_object_set_new(o, "version", json_string(in->version ? in->version : ""));
    json_object_set_new(o, "baseline", json_string(in->baseline ? in->baseline : ""));
    json_object_set_new(o, "state", json_string(in->state ? in->state : ""));
    json_object_set_new(o, "reason", json_string(in->reason ? in->reason : ""));
    json_object_set_new(o, "actor", json_string(in->actor ? in->actor : ""));
    json_object_set_new(o, "step_index", json_integer(in->step_index));
    json_object_set_new(o, "step_count", json_integer(in->step_count));
    json_object_set_new(o, "weight_pct", jnum(in->weight_bp / 100.0));
    json_object_set_new(o, "shadow", json_boolean(in->shadow));
    json_object_set_new(o, "shadow_pct", jnum(in->shadow_bp / 100.0));
    json_object_set_new(o, "dry_run", json_boolean(in->dry_run));
    json_object_set_new(o, "verdict",
                        in->verdict ? json_string(in->verdict) : json_null());
    json_object_set_new(o, "analysis",
                        in->analysis ? analysis_json(in->analysis) : json_null());
    if (in->trigger)
        json_object_set_new(o, "trigger", json_pack("{s:s}", "reason", in->trigger));
    if (in->blast_radius)
        json_object_set_new(o, "blast_radius", json_deep_copy(in->blast_radius));
    if (in->parity)
        json_object_set_new(o, "parity", json_pack("{s:s}", "result", in->parity));
    char *text =
        json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text)
        abort(); /* only out of memory: OOM aborts, as cn_xmalloc does */
    return text;
}
