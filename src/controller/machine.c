/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A rollout's machine in its stored form (see machine.h): one JSON object,
 * every field of cn_rollout_t under its own name, and "format".
 */
#include "controller/machine.h"
#include "util/error.h"
#include "util/text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every integer field of cn_rollout_t with the largest value its type and
 * meaning allow (a value cast into a narrower field would wrap). */
#define MACHINE_INTS(X)                                                                \
    X(state, CN_ROLLOUT_STATES - 1)                                                    \
    X(resume_state, CN_ROLLOUT_STATES - 1)                                             \
    X(end_state, CN_ROLLOUT_STATES - 1)                                                \
    X(hold, CN_ROLLOUT_HOLD_GATE)                                                      \
    X(step, UINT32_MAX)                                                                \
    X(run, UINT32_MAX)                                                                 \
    X(weight_bp, 10000)                                                                \
    X(shadow_bp, 10000)                                                                \
    X(shadow, 1)                                                                       \
    X(dry_run, 1)                                                                      \
    X(paused_by_step, 1)                                                               \
    X(step_done, 1)                                                                    \
    X(healthy, 1)                                                                      \
    X(analysis_in_flight, 1)                                                           \
    X(superseded, 1)                                                                   \
    X(attempt, UINT32_MAX)                                                             \
    X(started_ms, INT64_MAX)                                                           \
    X(traffic_started_ms, INT64_MAX)                                                   \
    X(first_request_ms, INT64_MAX)                                                     \
    X(warmup_ends_ms, INT64_MAX)                                                       \
    X(step_started_ms, INT64_MAX)                                                      \
    X(window_started_ms, INT64_MAX)                                                    \
    X(updated_ms, INT64_MAX)                                                           \
    X(samples_have, INT64_MAX)                                                         \
    X(samples_need, INT64_MAX)                                                         \
    X(transitions, INT64_MAX)

/* The integer fields formats 4 (the gate) and 5 (the blast radius) added:
 * 0 when absent. */
#define MACHINE_INTS_4(X)                                                              \
    X(gate, CN_ROLLOUT_GATE_PROMOTION)                                                 \
    X(gate_in_flight, 1)                                                               \
    X(gate_asked_ms, INT64_MAX)                                                        \
    X(gate_passed, UINT32_MAX)                                                         \
    X(blast_requests, INT64_MAX)                                                       \
    X(blast_failed, INT64_MAX)                                                         \
    X(blast_all, INT64_MAX)

/* The keys besides the integers. */
static const char *const other_keys[] = {"format", "samples_per_minute", "reason",
                                         "sequential", "anytime"};

static bool known_key(const char *key)
{
#define IS(f, max)                                                                     \
    if (strcmp(key, #f) == 0)                                                          \
        return true;
    MACHINE_INTS(IS)
    MACHINE_INTS_4(IS)
#undef IS
    for (size_t i = 0; i < sizeof other_keys / sizeof other_keys[0]; i++)
        if (strcmp(key, other_keys[i]) == 0)
            return true;
    return false;
}

char *cn_machine_json(const cn_rollout_t *m)
{
    return cn_machine_json_seq(m, NULL);
}

char *cn_machine_json_seq(const cn_rollout_t *m, const json_t *sequential)
{
    return cn_machine_json_state(m, sequential, NULL);
}

char *cn_machine_json_state(const cn_rollout_t *m, const json_t *sequential,
                            const json_t *anytime)
{
    json_t *o = json_object();
    if (sequential)
        json_object_set(o, "sequential", (json_t *)sequential);
    if (anytime)
        json_object_set(o, "anytime", (json_t *)anytime);
    json_object_set_new(o, "format", json_integer(CN_MACHINE_FORMAT));
#define PUT(f, max) json_object_set_new(o, #f, json_integer((json_int_t)m->f));
    MACHINE_INTS(PUT)
    MACHINE_INTS_4(PUT)
#undef PUT
    json_object_set_new(
        o, "samples_per_minute",
        json_real(isfinite(m->samples_per_minute) ? m->samples_per_minute : 0));
    /* a reason is UTF-8, but one cut to size by a snprintf may end inside
     * a character, which json_string refuses: that character goes */
    char reason[sizeof m->reason];
    snprintf(reason, sizeof reason, "%s", m->reason);
    cn_text_utf8_clip(reason);
    json_object_set_new(o, "reason", json_string(reason));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    if (!text)
        abort(); /* only out of memory: OOM aborts, as cn_xmalloc does */
    return text;
}

int cn_machine_parse(const char *text, cn_rollout_t *m, char *err, size_t errlen)
{
    return cn_machine_parse_seq(text, m, NULL, err, errlen);
}

int cn_machine_parse_seq(const char *text, cn_rollout_t *m, json_t **sequential,
                         char *err, size_t errlen)
{
    return cn_machine_parse_state(text, m, sequential, NULL, err, errlen);
}

int cn_machine_parse_state(const char *text, cn_rollout_t *m, json_t **sequential,
                           json_t **anytime, char *err, size_t errlen)
{
    static const char what[] = "the stored rollout state";
    json_error_t je;
    json_t *o = text ? json_loads(text, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!text)
        return cn_fail(err, errlen, CN_EINVAL, "%s is missing", what);
    if (!o)
        return cn_fail(err, errlen, CN_EINVAL, "%s is not JSON: %s", what, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return cn_fail(err, errlen, CN_EINVAL, "%s is not a JSON object", what);
    }
    int rc = 0;
    json_t *format = json_object_get(o, "format");
    if (format && (!json_is_integer(format) || json_integer_value(format) < 1)) {
        rc = cn_fail(err, errlen, CN_EINVAL, "%s has a bad 'format'", what);
    } else if (format && json_integer_value(format) > CN_MACHINE_FORMAT) {
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "%s is format %lld, written by a newer canary; this build reads "
                     "formats 1 to %d",
                     what, (long long)json_integer_value(format), CN_MACHINE_FORMAT);
    }
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (rc == 0 && !known_key(key)) {
            char quoted[80];
            snprintf(quoted, sizeof quoted, "%.60s%s", key,
                     strlen(key) > 60 ? "..." : "");
            rc = cn_fail(err, errlen, CN_EINVAL,
                         "%s has an unknown key '%s' (from a newer canary, or damaged)",
                         what, quoted);
        }
    }
    cn_rollout_t r;
    cn_rollout_init(&r);
    const char *bad = NULL;
#define GET(f, max)                                                                    \
    if (!bad) {                                                                        \
        json_t *x = json_object_get(o, #f);                                            \
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||                        \
            (uint64_t)json_integer_value(x) > (uint64_t)(max))                         \
            bad = #f;                                                                  \
        else                                                                           \
            r.f = (__typeof__(r.f))json_integer_value(x);                              \
    }
    MACHINE_INTS(GET)
#undef GET
#define GET4(f, max)                                                                   \
    if (!bad && json_object_get(o, #f)) {                                              \
        json_t *x = json_object_get(o, #f);                                            \
        if (!json_is_integer(x) || json_integer_value(x) < 0 ||                        \
            (uint64_t)json_integer_value(x) > (uint64_t)(max))                         \
            bad = #f;                                                                  \
        else                                                                           \
            r.f = (__typeof__(r.f))json_integer_value(x);                              \
    }
    MACHINE_INTS_4(GET4)
#undef GET4
    json_t *spm = json_object_get(o, "samples_per_minute");
    json_t *reason = json_object_get(o, "reason");
    if (!bad && (!json_is_number(spm) || !isfinite(json_number_value(spm)) ||
                 json_number_value(spm) < 0))
        bad = "samples_per_minute";
    if (!bad &&
        (!json_is_string(reason) || json_string_length(reason) >= sizeof r.reason ||
         memchr(json_string_value(reason), '\0', json_string_length(reason))))
        bad = "reason";
    json_t *seq = json_object_get(o, "sequential");
    if (!bad && seq && !json_is_object(seq))
        bad = "sequential";
    json_t *any = json_object_get(o, "anytime");
    if (!bad && any && !json_is_object(any))
        bad = "anytime";
    if (rc == 0 && bad)
        rc = cn_fail(err, errlen, CN_EINVAL, "%s has %s '%s'", what,
                     json_object_get(o, bad) ? "a bad" : "no", bad);
    if (rc == 0 && sequential)
        *sequential = seq ? json_incref(seq) : NULL;
    if (rc == 0 && anytime)
        *anytime = any ? json_incref(any) : NULL;
    if (rc == 0) {
        r.samples_per_minute = json_number_value(spm);
        snprintf(r.reason, sizeof r.reason, "%s", json_string_value(reason));
        *m = r;
    }
    json_decref(o);
    return rc;
}

int cn_machine_check_row(const cn_rollout_t *m, const cn_store_rollout_t *row,
                         char *err, size_t errlen)
{
    static const char what[] = "the stored rollout state";
    /* the store and the machine spell the states alike */
    const char *row_state = cn_store_rollout_state_name(row->state);
    if (strcmp(cn_rollout_state_name(m->state), row_state) != 0)
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s says %s, its row says %s (changed by hand, or damaged)",
                       what, cn_rollout_state_name(m->state), row_state);
    uint32_t step = m->step > 65535 ? 65535 : m->step;
    if (step != row->step_index)
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s says step %u, its row says step %u (changed by hand, or "
                       "damaged)",
                       what, (unsigned)m->step, (unsigned)row->step_index);
    if (m->weight_bp != row->weight_bp)
        return cn_fail(err, errlen, CN_EINVAL,
                       "%s says weight %u bp, its row says %u bp (changed by hand, or "
                       "damaged)",
                       what, (unsigned)m->weight_bp, (unsigned)row->weight_bp);
    return 0;
}

void cn_machine_ended(const cn_store_rollout_t *row, cn_rollout_state_t end,
                      const char *reason, int64_t now_ms, cn_rollout_t *out)
{
    cn_rollout_init(out);
    out->state = end;
    out->end_state = end;
    out->step = row->step_index;
    out->run = 1; /* unknown; 1 is "started once", what a retry counts on from */
    out->weight_bp = 0;
    out->dry_run = row->dry_run;
    out->attempt = row->analysis_attempts;
    out->started_ms = row->started_unix_ms > 0 ? row->started_unix_ms : 0;
    out->step_started_ms =
        row->step_started_unix_ms > 0 ? row->step_started_unix_ms : out->started_ms;
    out->updated_ms = now_ms;
    out->transitions = row->audit_seq > 0 ? (uint64_t)row->audit_seq + 1 : 1;
    /* cut on a character boundary: the reason is UTF-8 */
    size_t n = reason ? strlen(reason) : 0;
    if (n >= sizeof out->reason) {
        n = sizeof out->reason - 1;
        while (n > 0 && ((unsigned char)reason[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(out->reason, reason, n);
    out->reason[n] = '\0';
}
