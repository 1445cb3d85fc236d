/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A rollout's machine in its stored form (controller/machine.h): the round
 * trip; what makes a stored machine unreadable (a newer format, an unknown
 * key, a missing or out-of-range one, not JSON, disagreement with its
 * row), each named in its message and leaving the caller's machine as it
 * was; and the machine a repair stores in place of an unreadable one,
 * from which a retry starts again at the first step.
 */
#include "controller/machine.h"
#include "controller/rollout.h"
#include "controller/strategy.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* A machine with every field away from its default. */
static cn_rollout_t busy_machine(void)
{
    cn_rollout_t m;
    cn_rollout_init(&m);
    m.state = CN_ROLLOUT_PAUSED;
    m.resume_state = CN_ROLLOUT_HOLDING;
    m.end_state = CN_ROLLOUT_ROLLED_BACK;
    m.hold = CN_ROLLOUT_HOLD_BUDGET;
    m.step = 7;
    m.run = 3;
    m.weight_bp = 2500;
    m.shadow_bp = 10000;
    m.shadow = true;
    m.dry_run = true;
    m.paused_by_step = true;
    m.step_done = true;
    m.healthy = true;
    m.analysis_in_flight = true;
    m.superseded = true;
    m.attempt = 2;
    m.started_ms = 1700000000001;
    m.traffic_started_ms = 1700000000002;
    m.first_request_ms = 1700000000003;
    m.warmup_ends_ms = 1700000000004;
    m.step_started_ms = 1700000000005;
    m.window_started_ms = 1700000000006;
    m.updated_ms = 1700000000007;
    m.samples_have = 12345;
    m.samples_need = 67890;
    m.samples_per_minute = 1234.5;
    m.transitions = 41;
    m.blast_requests = 9001;
    m.blast_failed = 12;
    m.blast_all = 90001;
    m.gate = CN_ROLLOUT_GATE_PROMOTION;
    m.gate_in_flight = true;
    m.gate_asked_ms = 1700000000008;
    m.gate_passed = 5;
    snprintf(m.reason, sizeof m.reason,
             "paused by admin 10.0.0.7: lunch \xc3\xa9t\xc3\xa9");
    return m;
}

/* The busy machine's JSON with one change made by jansson: key = value
 * (NULL: the key removed). The caller frees. */
static char *edited(const char *key, json_t *value)
{
    cn_rollout_t m = busy_machine();
    char *text = cn_machine_json(&m);
    json_t *o = json_loads(text, 0, NULL);
    cr_assert_not_null(o);
    free(text);
    if (value)
        json_object_set_new(o, key, value);
    else
        json_object_del(o, key);
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* Parsing text fails with a message containing want; *m is untouched. */
static void refused(const char *text, const char *want)
{
    cn_rollout_t m, before;
    memset(&m, 0x5a, sizeof m);
    before = m;
    char err[256] = "";
    cr_assert_eq(cn_machine_parse(text, &m, err, sizeof err), CN_EINVAL, "accepted: %s",
                 text ? text : "(null)");
    cr_assert(strstr(err, want), "'%s' does not say '%s'", err, want);
    cr_assert_eq(memcmp(&m, &before, sizeof m), 0, "the machine was changed");
}

static void refused_edit(const char *key, json_t *value, const char *want)
{
    char *text = edited(key, value);
    refused(text, want);
    free(text);
}

Test(machine, round_trips_every_field_with_its_format)
{
    cn_rollout_t m = busy_machine();
    char *text = cn_machine_json(&m);
    cr_assert(strstr(text, "\"format\":5"), "%s", text);
    cn_rollout_t back;
    char err[256];
    cr_assert_eq(cn_machine_parse(text, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(&back, &m, sizeof m), 0, "the machine changed in %s", text);
    free(text);
}

Test(machine, reads_a_machine_stored_before_the_format_key)
{
    char *text = edited("format", NULL);
    cn_rollout_t back, m = busy_machine();
    char err[256];
    cr_assert_eq(cn_machine_parse(text, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(&back, &m, sizeof m), 0);
    free(text);
}

Test(machine, refuses_a_newer_format_saying_so)
{
    refused_edit(
        "format", json_integer(6),
        "the stored rollout state is format 6, written by a newer canary; this "
        "build reads formats 1 to 5");
    refused_edit("format", json_integer(0), "has a bad 'format'");
    refused_edit("format", json_string("1"), "has a bad 'format'");
}

Test(machine, refuses_an_unknown_key_naming_it)
{
    refused_edit("shadow_pairs", json_integer(1),
                 "has an unknown key 'shadow_pairs' (from a newer canary, or damaged)");
}

Test(machine, refuses_a_missing_key_naming_it)
{
    refused_edit("step", NULL, "has no 'step'");
    refused_edit("reason", NULL, "has no 'reason'");
    refused_edit("samples_per_minute", NULL, "has no 'samples_per_minute'");
}

Test(machine, refuses_values_out_of_range_naming_the_key)
{
    refused_edit("state", json_integer(CN_ROLLOUT_STATES), "bad 'state'");
    refused_edit("resume_state", json_integer(-1), "bad 'resume_state'");
    refused_edit("hold", json_integer(6), "bad 'hold'");
    refused_edit("gate", json_integer(3), "bad 'gate'");
    refused_edit("gate_in_flight", json_integer(2), "bad 'gate_in_flight'");
    refused_edit("gate_passed", json_integer(4294967296LL), "bad 'gate_passed'");
    refused_edit("weight_bp", json_integer(10001), "bad 'weight_bp'");
    /* 65536 would wrap to 0 in the 16-bit field */
    refused_edit("shadow_bp", json_integer(65536), "bad 'shadow_bp'");
    refused_edit("shadow", json_integer(2), "bad 'shadow'");
    refused_edit("step", json_integer(4294967296LL), "bad 'step'");
    refused_edit("step", json_real(1.5), "bad 'step'");
    refused_edit("started_ms", json_string("yesterday"), "bad 'started_ms'");
    refused_edit("samples_per_minute", json_real(-1), "bad 'samples_per_minute'");
    refused_edit("samples_per_minute", json_string("1"), "bad 'samples_per_minute'");
    refused_edit("reason", json_integer(1), "bad 'reason'");
    char long_reason[CN_ROLLOUT_REASON_MAX + 1];
    memset(long_reason, 'x', CN_ROLLOUT_REASON_MAX);
    long_reason[CN_ROLLOUT_REASON_MAX] = '\0';
    refused_edit("reason", json_string(long_reason), "bad 'reason'");
}

Test(machine, refuses_what_is_not_a_json_object)
{
    refused(NULL, "the stored rollout state is missing");
    refused("", "the stored rollout state is not JSON");
    refused("{\"state\":", "is not JSON");
    refused("[1, 2]", "is not a JSON object");
    refused("{\"step\": 1, \"step\": 2}", "is not JSON");
    refused("{}", "has no 'state'");
}

Test(machine, checks_a_machine_against_its_row)
{
    cn_rollout_t m = busy_machine();
    cn_store_rollout_t row;
    cn_store_rollout_init(&row);
    row.state = CN_STORE_ROLLOUT_PAUSED;
    row.step_index = 7;
    row.weight_bp = 2500;
    char err[256];
    cr_assert_eq(cn_machine_check_row(&m, &row, err, sizeof err), 0, "%s", err);
    row.state = CN_STORE_ROLLOUT_PROGRESSING;
    cr_assert_eq(cn_machine_check_row(&m, &row, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "the stored rollout state says paused, its row says "
                          "progressing (changed by hand, or damaged)");
    row.state = CN_STORE_ROLLOUT_PAUSED;
    row.step_index = 8;
    cr_assert_eq(cn_machine_check_row(&m, &row, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "says step 7, its row says step 8"), "%s", err);
    row.step_index = 7;
    row.weight_bp = 500;
    cr_assert_eq(cn_machine_check_row(&m, &row, err, sizeof err), CN_EINVAL);
    cr_assert(strstr(err, "says weight 2500 bp, its row says 500 bp"), "%s", err);
    /* a step past 65535 is stored clamped */
    row.weight_bp = 2500;
    m.step = 70000;
    row.step_index = 65535;
    cr_assert_eq(cn_machine_check_row(&m, &row, err, sizeof err), 0, "%s", err);
}

static cn_store_rollout_t some_row(void)
{
    cn_store_rollout_t row;
    cn_store_rollout_init(&row);
    row.id = 4;
    row.state = CN_STORE_ROLLOUT_PROGRESSING;
    row.step_index = 3;
    row.weight_bp = 2000;
    row.dry_run = false;
    row.analysis_attempts = 2;
    row.started_unix_ms = 1700000000000;
    row.step_started_unix_ms = 1700000060000;
    row.audit_seq = 9;
    return row;
}

Test(machine, an_ended_machine_keeps_what_the_row_says_at_weight_0)
{
    cn_store_rollout_t row = some_row();
    cn_rollout_t m;
    cn_machine_ended(&row, CN_ROLLOUT_ABORTED, "machine state unreadable at restart: x",
                     1700000099000, &m);
    cr_assert_eq(m.state, CN_ROLLOUT_ABORTED);
    cr_assert_eq(m.end_state, CN_ROLLOUT_ABORTED);
    cr_assert_eq(m.step, 3);
    cr_assert_eq(m.attempt, 2);
    cr_assert_eq(m.weight_bp, 0);
    cr_assert_eq(m.run, 1);
    cr_assert(!m.dry_run && !m.shadow && !m.analysis_in_flight);
    cr_assert_eq(m.started_ms, 1700000000000);
    cr_assert_eq(m.step_started_ms, 1700000060000);
    cr_assert_eq(m.updated_ms, 1700000099000);
    cr_assert_eq(m.transitions, 10);
    cr_assert_str_eq(m.reason, "machine state unreadable at restart: x");
    /* it is stored, so it reads back */
    char *text = cn_machine_json(&m);
    cn_rollout_t back;
    char err[256];
    cr_assert_eq(cn_machine_parse(text, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(&back, &m, sizeof m), 0);
    free(text);
}

Test(machine, an_ended_machine_cuts_a_long_reason_on_a_character)
{
    cn_store_rollout_t row = some_row();
    /* 2-byte characters: a cut at 255 bytes would split one */
    char reason[600];
    size_t n = 0;
    while (n + 2 < sizeof reason) {
        reason[n++] = '\xc3';
        reason[n++] = '\xa9';
    }
    reason[n] = '\0';
    cn_rollout_t m;
    cn_machine_ended(&row, CN_ROLLOUT_ABORTED, reason, 1, &m);
    size_t len = strlen(m.reason);
    cr_assert_leq(len, CN_ROLLOUT_REASON_MAX - 1);
    cr_assert_eq(len % 2, 0, "cut inside a character: %zu bytes", len);
    cr_assert_gt(len, CN_ROLLOUT_REASON_MAX - 3);
    json_t *s = json_string(m.reason);
    cr_assert_not_null(s, "not UTF-8 after the cut");
    json_decref(s);
}

Test(machine, a_retry_of_an_ended_machine_starts_at_the_first_step)
{
    static const char yaml[] =
        "warmup: 1s\nsteps: [{set_weight: 20}, {pause: {duration: "
        "10m}}, {analysis: {}}, {set_weight: 50}]\n";
    cn_strategy_t s;
    char err[512];
    cr_assert_eq(cn_strategy_parse(yaml, strlen(yaml), "r.yaml", &s, err, sizeof err),
                 0, "%s", err);
    cn_rollout_config_t cfg = {&s, 0.05};
    cn_store_rollout_t row = some_row();
    cn_rollout_t m;
    cn_machine_ended(&row, CN_ROLLOUT_ABORTED, "machine state unreadable at restart: x",
                     1700000099000, &m);
    cn_rollout_event_t ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = CN_ROLLOUT_EV_RETRY;
    ev.now_ms = 1700000100000;
    snprintf(ev.actor, sizeof ev.actor, "admin");
    cn_rollout_output_t out;
    cr_assert_eq(cn_rollout_step(&cfg, &m, &ev, &out), 0, "%s", out.error);
    cr_assert_eq(m.state, CN_ROLLOUT_WARMUP);
    cr_assert_eq(m.step, 1, "step 0 (set_weight) done at once, baking step 1");
    cr_assert_eq(m.attempt, 0);
    cr_assert_eq(m.weight_bp, 2000);
    cr_assert_eq(m.run, 2);
    bool traffic = false;
    for (size_t i = 0; i < out.n_actions; i++)
        if (out.actions[i].kind == CN_ROLLOUT_SET_TRAFFIC) {
            traffic = true;
            cr_assert_eq(out.actions[i].weight_bp, 2000);
            cr_assert(!out.actions[i].dry_run);
        }
    cr_assert(traffic, "the retry sets the first step's weight");
    /* an abort of it is refused: it has ended (nothing to abort twice) */
    cn_machine_ended(&row, CN_ROLLOUT_ABORTED, "x", 1, &m);
    ev.kind = CN_ROLLOUT_EV_ABORT;
    cr_assert_eq(cn_rollout_step(&cfg, &m, &ev, &out), CN_EINVAL);
    cn_strategy_dispose(&s);
}

/* Format 2: the sequential triggers' state rides along; format 1 (before
 * it) still reads. */
Test(machine, carries_the_sequential_state_and_reads_format_1)
{
    cn_rollout_t m = busy_machine(), back;
    json_t *seq = json_pack("{s:i,s:f}", "version", 1, "alpha", 0.01);
    char *text = cn_machine_json_seq(&m, seq);
    json_t *got = NULL;
    char err[256];
    cr_assert_eq(cn_machine_parse_seq(text, &back, &got, err, sizeof err), 0, "%s",
                 err);
    cr_assert(json_equal(got, seq), "%s", text);
    cr_assert_eq(memcmp(&back, &m, sizeof m), 0);
    json_decref(got);
    json_decref(seq);
    free(text);
    text = edited("format", json_integer(1));
    got = (json_t *)1;
    cr_assert_eq(cn_machine_parse_seq(text, &back, &got, err, sizeof err), 0, "%s",
                 err);
    cr_assert_null(got, "no sequential state in a format 1 machine");
    free(text);
    refused_edit("sequential", json_integer(3), "has a bad 'sequential'");
}

/* Format 3: the anytime analysis's state rides along next to the
 * sequential one; hold 4 (anytime) reads; a format 2 machine still does. */
Test(machine, carries_the_anytime_state_and_reads_format_2)
{
    cn_rollout_t m = busy_machine(), back;
    m.hold = CN_ROLLOUT_HOLD_ANYTIME;
    json_t *seq = json_pack("{s:i}", "version", 1);
    json_t *any = json_pack("{s:i,s:I}", "step", 3, "window", (json_int_t)17);
    char *text = cn_machine_json_state(&m, seq, any);
    json_t *got_seq = NULL, *got_any = NULL;
    char err[256];
    cr_assert_eq(
        cn_machine_parse_state(text, &back, &got_seq, &got_any, err, sizeof err), 0,
        "%s", err);
    cr_assert(json_equal(got_seq, seq), "%s", text);
    cr_assert(json_equal(got_any, any), "%s", text);
    cr_assert_eq(memcmp(&back, &m, sizeof m), 0);
    cr_assert_str_eq(cn_rollout_hold_name(back.hold), "anytime");
    json_decref(got_seq);
    json_decref(got_any);
    json_decref(seq);
    json_decref(any);
    free(text);
    text = edited("format", json_integer(2));
    got_any = (json_t *)1;
    cr_assert_eq(cn_machine_parse_state(text, &back, NULL, &got_any, err, sizeof err),
                 0, "%s", err);
    cr_assert_null(got_any, "no anytime state in a format 2 machine");
    free(text);
    refused_edit("anytime", json_string("x"), "has a bad 'anytime'");
    refused_edit("hold", json_integer(6), "has a bad 'hold'");
}

/* Format 4: hold 5 (gate) and the gate hooks' fields; a format 3 machine,
 * which has none of them, reads with them at 0. */
Test(machine, carries_the_gate_state_and_reads_format_3)
{
    cn_rollout_t m = busy_machine(), back;
    m.state = CN_ROLLOUT_HOLDING;
    m.hold = CN_ROLLOUT_HOLD_GATE;
    char *text = cn_machine_json(&m);
    char err[256];
    cr_assert_eq(cn_machine_parse(text, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(memcmp(&back, &m, sizeof m), 0);
    cr_assert_str_eq(cn_rollout_hold_name(back.hold), "gate");
    cr_assert_str_eq(cn_rollout_gate_name(back.gate), "confirm_promotion");
    free(text);
    char *again = cn_machine_json(&m);
    json_t *o = json_loads(again, 0, NULL);
    free(again);
    json_object_set_new(o, "format", json_integer(3));
    json_object_set_new(o, "hold", json_integer(CN_ROLLOUT_HOLD_BUDGET));
    json_object_del(o, "gate");
    json_object_del(o, "gate_in_flight");
    json_object_del(o, "gate_asked_ms");
    json_object_del(o, "gate_passed");
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    cr_assert_eq(cn_machine_parse(text, &back, err, sizeof err), 0, "%s", err);
    cr_assert_eq(back.gate, CN_ROLLOUT_GATE_NONE);
    cr_assert_eq(back.gate_in_flight, false);
    cr_assert_eq(back.gate_asked_ms, 0);
    cr_assert_eq(back.gate_passed, 0);
    free(text);
}
