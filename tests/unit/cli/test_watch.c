/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What `canary rollout status --watch` shows (cli/watch.h): the block a
 * terminal redraws, at any width; the plain line of a pipe; what counts as
 * a change.
 */
#include "cli/watch.h"

#include <criterion/criterion.h>
#include <string.h>

/* 2026-12-07 18:19:14 UTC */
#define NOW_MS 1796667554000LL

static json_t *rollout(const char *state)
{
    json_error_t e;
    json_t *r = json_loads(
        "{\"id\": 1, \"model\": \"fraud\", \"version\": \"v2\", \"baseline\": \"v1\","
        " \"state\": \"progressing\", \"dry_run\": false, \"step\": 4, \"steps\": 6,"
        " \"weight\": 50, \"reason\": \"warmup done\","
        " \"current_step\": {\"kind\": \"pause\", \"duration_s\": 4,"
        "   \"step_ends_unix_ms\": 1796667556000},"
        " \"samples\": {\"stable\": 1461, \"canary\": 338, \"needed\": 100,"
        "   \"per_minute\": 3375.2},"
        " \"last_verdict\": {\"verdict\": \"nodata\", \"reasons\": [\"2 "
        "inconclusive\"],"
        "   \"time_unix_ms\": 1796667550000},"
        " \"triggers\": [{\"check\": \"error_rate.max\", \"ran\": true, \"fired\": "
        "false},"
        "   {\"check\": \"p99_latency_ms.max\", \"ran\": false, \"fired\": false}],"
        " \"blast_radius\": {\"canary_requests\": 338, \"canary_failed\": 2,"
        "   \"share\": 0.1875}}",
        0, &e);
    cr_assert_not_null(r, "%s", e.text);
    json_object_set_new(r, "state", json_string(state));
    return r;
}

static json_t *analysis(void)
{
    return json_loads(
        "{\"verdict\": \"marginal\", \"metrics\": ["
        "{\"name\": \"latency_ms\", \"segment\": null, \"classification\":"
        " \"inconclusive\", \"n_canary\": 339, \"n_stable\": 1465,"
        " \"min_samples\": 7},"
        "{\"name\": \"error\", \"segment\": \"eu\", \"classification\":"
        " \"pass\", \"n_canary\": 339, \"n_stable\": 1465,"
        " \"min_samples\": 437}]}",
        0, NULL);
}

/* Line i (from 0) of the text, without its newline. */
static const char *line_of(const char *text, unsigned i, char *buf, size_t len)
{
    for (; i > 0; i--)
        text = strchr(text, '\n') + 1;
    size_t n = (size_t)(strchr(text, '\n') - text);
    cr_assert_lt(n, len);
    memcpy(buf, text, n);
    buf[n] = '\0';
    return buf;
}

Test(watch, the_block_shows_progress_time_samples_verdict_triggers_blast)
{
    json_t *r = rollout("progressing"), *a = analysis();
    cn_buf_t b = CN_BUF_INIT(1 << 16);
    unsigned n = cn_watch_block(r, a, NOW_MS, 100, &b);
    cr_assert_eq(n, 11, "%s", b.data);
    char l[256];
    cr_assert_str_eq(line_of(b.data, 0, l, sizeof l),
                     "rollout 1 progressing: fraud v2 (from v1)");
    /* 4 whole steps of 6 and half of the 4 s pause: 4.5 / 6 of 50 */
    cr_assert_str_eq(
        line_of(b.data, 1, l, sizeof l),
        "[#####################################.............] step 5 of 6: "
        "pause, weight 50%");
    cr_assert_str_eq(line_of(b.data, 2, l, sizeof l), "time left  2s of the 4s pause");
    cr_assert_str_eq(line_of(b.data, 3, l, sizeof l),
                     "samples    canary 338 of 100 needed, stable 1461 (3375/min)");
    cr_assert_str_eq(line_of(b.data, 4, l, sizeof l),
                     "verdict    nodata at 18:19:10: 2 inconclusive");
    cr_assert_str_eq(
        line_of(b.data, 5, l, sizeof l),
        "  latency_ms  inconclusive  canary 339, stable 1465 (needs 7 per arm)");
    cr_assert_str_eq(line_of(b.data, 6, l, sizeof l),
                     "  error/eu  pass  canary 339, stable 1465 (needs 437 per arm)");
    cr_assert_str_eq(line_of(b.data, 7, l, sizeof l),
                     "triggers   error_rate.max ok, p99_latency_ms.max waiting");
    cr_assert_str_eq(line_of(b.data, 8, l, sizeof l),
                     "blast      338 canary requests, 2 failed, 18.75% of all traffic");
    cr_assert_str_eq(line_of(b.data, 9, l, sizeof l), "reason     warmup done");
    cr_assert_str_eq(line_of(b.data, 10, l, sizeof l), "read at 18:19:14 UTC");
    cn_buf_dispose(&b);
    json_decref(r);
    json_decref(a);
}

Test(watch, a_narrow_terminal_gets_every_line_cut_never_wrapped)
{
    json_t *r = rollout("progressing"), *a = analysis();
    for (unsigned width = 1; width <= 40; width++) {
        cn_buf_t b = CN_BUF_INIT(1 << 16);
        unsigned n = cn_watch_block(r, a, NOW_MS, width, &b);
        cr_assert_eq(n, 11, "the same lines at width %u", width);
        unsigned cols = width < CN_WATCH_MIN_WIDTH ? CN_WATCH_MIN_WIDTH - 1 : width - 1;
        for (unsigned i = 0; i < n; i++) {
            char l[256];
            cr_assert_leq(strlen(line_of(b.data, i, l, sizeof l)), cols,
                          "width %u, line %u: '%s'", width, i, l);
        }
        cn_buf_dispose(&b);
    }
    json_decref(r);
    json_decref(a);
}

Test(watch, the_end_fills_the_bar_and_keeps_the_final_state)
{
    json_t *r = rollout("promoted");
    json_object_del(r, "current_step");
    json_object_set_new(r, "step", json_integer(6));
    cn_buf_t b = CN_BUF_INIT(1 << 16);
    cn_watch_block(r, NULL, NOW_MS, 100, &b);
    char l[256];
    cr_assert_str_eq(line_of(b.data, 0, l, sizeof l),
                     "rollout 1 promoted: fraud v2 (from v1)");
    cr_assert_str_eq(line_of(b.data, 1, l, sizeof l),
                     "[##################################################] all 6 steps "
                     "done, v2 is stable");
    cr_assert_null(strstr(b.data, "time left"), "nothing is left: %s", b.data);
    cr_assert_not_null(strstr(b.data, "\nended; read at 18:19:14 UTC\n"));
    cn_buf_dispose(&b);
    json_decref(r);
}

Test(watch, text_from_the_server_cannot_reach_the_terminal_as_escapes)
{
    json_t *r = rollout("progressing");
    json_object_set_new(r, "model", json_string("fr\033[2Jaud"));
    json_object_set_new(r, "reason", json_string("line\nbreak"));
    cn_buf_t b = CN_BUF_INIT(1 << 16);
    unsigned n = cn_watch_block(r, NULL, NOW_MS, 100, &b);
    cr_assert_null(strchr(b.data, '\033'));
    cr_assert_not_null(strstr(b.data, "fr?[2Jaud"));
    cr_assert_not_null(strstr(b.data, "reason     line?break\n"));
    size_t newlines = 0;
    for (const char *p = b.data; *p; p++)
        newlines += *p == '\n';
    cr_assert_eq(newlines, n, "one newline per line");
    cn_buf_dispose(&b);
    json_decref(r);
}

Test(watch, fit_counts_a_utf8_sequence_as_one_column)
{
    const char *s = "a\xc3\xa9\xe2\x89\xa5z"; /* a, e-acute, >=, z */
    cr_assert_eq(cn_watch_fit(s, strlen(s), 2), 3);
    cr_assert_eq(cn_watch_fit(s, strlen(s), 3), 6);
    cr_assert_eq(cn_watch_fit(s, strlen(s), 10), 7);
    cr_assert_eq(cn_watch_fit(s, strlen(s), 0), 0);
}

Test(watch, a_pipe_gets_one_plain_line)
{
    json_t *r = rollout("progressing");
    cn_buf_t b = CN_BUF_INIT(1 << 16);
    cn_watch_line(r, NOW_MS, &b);
    cr_assert_str_eq(b.data,
                     "2026-12-07T18:19:14Z rollout 1 fraud v2: progressing, step 5 "
                     "of 6: pause, weight 50%, samples 338 of 100, verdict nodata: 2 "
                     "inconclusive, triggers: error_rate.max ok, p99_latency_ms.max "
                     "waiting, blast 338 canary requests (2 failed, 18.75%); reason: "
                     "warmup done\n");
    cn_buf_dispose(&b);
    json_decref(r);
}

Test(watch, a_change_is_a_state_step_verdict_or_trigger_not_a_count)
{
    json_t *r = rollout("progressing");
    cn_buf_t s1 = CN_BUF_INIT(4096), s2 = CN_BUF_INIT(4096);
    cn_watch_signature(r, &s1);
    json_object_set_new(json_object_get(r, "samples"), "canary", json_integer(999));
    json_object_set_new(json_object_get(r, "blast_radius"), "canary_requests",
                        json_integer(999));
    cn_watch_signature(r, &s2);
    cr_assert_str_eq(s1.data, s2.data, "more samples are no change");
    json_object_set_new(json_array_get(json_object_get(r, "triggers"), 1), "fired",
                        json_true());
    cn_watch_signature(r, &s2);
    cr_assert_str_neq(s1.data, s2.data, "a trigger fired");
    json_decref(r);
    r = rollout("progressing");
    json_object_set_new(json_object_get(r, "last_verdict"), "time_unix_ms",
                        json_integer(NOW_MS));
    cn_watch_signature(r, &s2);
    cr_assert_str_neq(s1.data, s2.data, "a new verdict");
    json_object_set_new(r, "step", json_integer(5));
    cn_watch_signature(r, &s1);
    cr_assert_str_neq(s1.data, s2.data, "the next step");
    cn_buf_dispose(&s1);
    cn_buf_dispose(&s2);
    json_decref(r);
}
