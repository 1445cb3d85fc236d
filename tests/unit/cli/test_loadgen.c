/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pure parts of `canary loadgen` (cli/loadgen.h): the open-loop
 * schedule, the segment proportions and their seeded draw, the simulated
 * feedback spec, the bodies file's line format, the target URL and the
 * counting of the feedback endpoint's answers.
 */
#include "cli/loadgen.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ schedule */

Test(loadgen_schedule, schedules_rate_times_duration_requests)
{
    cr_assert_eq(cn_lg_scheduled(2000, 10000), 20000);
    cr_assert_eq(cn_lg_scheduled(3, 1000), 3);
    cr_assert_eq(cn_lg_scheduled(0.5, 3000), 2); /* at 0 s and 2 s */
    cr_assert_eq(cn_lg_scheduled(0.1, 1), 1);    /* request 0 is at the start */
    cr_assert_eq(cn_lg_scheduled(1000.5, 2000), 2001);
}

Test(loadgen_schedule, request_i_is_intended_at_i_over_n)
{
    cr_assert_eq(cn_lg_intended_ns(0, 2000), 0);
    cr_assert_eq(cn_lg_intended_ns(1, 2000), 500000);
    cr_assert_eq(cn_lg_intended_ns(19999, 2000), 9999500000ull);
    cr_assert_eq(cn_lg_intended_ns(1, 3), 333333333);
    cr_assert_eq(cn_lg_intended_ns(2, 3), 666666667);
}

Test(loadgen_schedule, due_counts_every_request_at_or_before_the_time)
{
    cr_assert_eq(cn_lg_due_by(0, 2000, 100), 1);
    cr_assert_eq(cn_lg_due_by(499999, 2000, 100), 1);
    cr_assert_eq(cn_lg_due_by(500000, 2000, 100), 2);
    cr_assert_eq(cn_lg_due_by(1000000000ull, 2000, 100), 100);
    cr_assert_eq(cn_lg_due_by(5, 2000, 0), 0);
    /* the same answer as counting the intended times one by one */
    const double rates[] = {3, 7.5, 2000, 12345.678};
    uint64_t seed = 1;
    for (size_t r = 0; r < 4; r++) {
        for (int k = 0; k < 2000; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t t = (seed >> 20) % 3000000000ull;
            uint64_t n = 0;
            while (n < 50000 && cn_lg_intended_ns(n, rates[r]) <= t)
                n++;
            cr_assert_eq(cn_lg_due_by(t, rates[r], 50000), n, "rate %g at %llu ns",
                         rates[r], (unsigned long long)t);
        }
    }
}

/* ------------------------------------------------------------ segments */

Test(loadgen_segments, parses_names_and_shares)
{
    cn_lg_segments_t s;
    char err[256];
    cr_assert_eq(cn_lg_segments_parse("us=0.7,eu=0.2,apac=0.1", &s, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(s.count, 3);
    cr_assert_str_eq(s.names[0], "us");
    cr_assert_str_eq(s.names[2], "apac");
    cr_assert_float_eq(s.share[1], 0.2, 1e-15);
    cr_assert_float_eq(s.upto[0], 0.7, 1e-15);
    cr_assert_eq(s.upto[2], 1.0);
}

static void segments_refused(const char *spec, const char *want)
{
    cn_lg_segments_t s;
    char err[256];
    cr_assert_eq(cn_lg_segments_parse(spec, &s, err, sizeof err), CN_EINVAL, "%s",
                 spec);
    cr_assert_str_eq(err, want);
}

Test(loadgen_segments, refuses_bad_specs_saying_why)
{
    segments_refused("", "expected NAME=SHARE[,NAME=SHARE...], e.g. us=0.7,eu=0.3");
    segments_refused("us=0.7,eu=0.2", "the shares add up to 0.9, not 1");
    segments_refused("us=0.5,us=0.5", "segment 'us' given twice");
    segments_refused("us", "'us': expected NAME=SHARE");
    segments_refused("us=0,eu=1",
                     "segment 'us': share must be a number in (0, 1], got '0'");
    segments_refused("us=x", "segment 'us': share must be a number in (0, 1], got 'x'");
    segments_refused("u s=1",
                     "segment 'u s': expected 1 to 64 visible ASCII characters, no "
                     "quote, backslash or comma");
    segments_refused("=1", "segment '': expected 1 to 64 visible ASCII characters, no "
                           "quote, backslash or comma");
}

Test(loadgen_segments, the_draw_follows_the_shares_and_the_seed)
{
    cn_lg_segments_t s;
    char err[256];
    cr_assert_eq(cn_lg_segments_parse("us=0.7,eu=0.2,apac=0.1", &s, err, sizeof err),
                 0);
    uint64_t rng = 42, again = 42;
    uint64_t n[3] = {0, 0, 0};
    const uint64_t draws = 100000;
    for (uint64_t i = 0; i < draws; i++) {
        size_t k = cn_lg_segments_draw(&s, &rng);
        cr_assert_eq(cn_lg_segments_draw(&s, &again), k,
                     "the same seed, the same draws");
        n[k]++;
    }
    /* each count within 4 standard deviations of its binomial mean */
    for (size_t k = 0; k < 3; k++) {
        double m = (double)draws * s.share[k];
        double sd = sqrt(m * (1 - s.share[k]));
        cr_assert(fabs((double)n[k] - m) < 4 * sd, "segment %s: %llu of %llu",
                  s.names[k], (unsigned long long)n[k], (unsigned long long)draws);
    }
}

/* ------------------------------------------------------ simulated feedback */

Test(loadgen_simulate, one_probability_for_every_version)
{
    cn_lg_sim_t s;
    char err[256];
    cr_assert_eq(cn_lg_sim_parse("clicked=0.10", &s, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(s.metric, "clicked");
    double p = -1;
    cr_assert(cn_lg_sim_p(&s, "v7", &p));
    cr_assert_float_eq(p, 0.10, 1e-15);
    cr_assert(cn_lg_sim_p(&s, NULL, &p), "an answer without a version too");
}

Test(loadgen_simulate, a_probability_per_version)
{
    cn_lg_sim_t s;
    char err[256];
    cr_assert_eq(cn_lg_sim_parse("clicked:v1=0.10,v2=0.08", &s, err, sizeof err), 0,
                 "%s", err);
    double p;
    cr_assert(cn_lg_sim_p(&s, "v2", &p));
    cr_assert_float_eq(p, 0.08, 1e-15);
    cr_assert_not(cn_lg_sim_p(&s, "v3", &p), "no probability: no value");
    cr_assert_not(cn_lg_sim_p(&s, NULL, &p));
    cr_assert_eq(cn_lg_sim_parse("clicked:v1=0.10,*=0.05", &s, err, sizeof err), 0);
    cr_assert(cn_lg_sim_p(&s, "v3", &p));
    cr_assert_float_eq(p, 0.05, 1e-15);
}

static void sim_refused(const char *spec, const char *want)
{
    cn_lg_sim_t s;
    char err[256];
    cr_assert_eq(cn_lg_sim_parse(spec, &s, err, sizeof err), CN_EINVAL, "%s", spec);
    cr_assert_str_eq(err, want);
}

Test(loadgen_simulate, refuses_bad_specs_saying_why)
{
    sim_refused("clicked",
                "'clicked': expected METRIC=P or METRIC:VERSION=P[,VERSION=P...]");
    sim_refused("clicked=1.5",
                "clicked: the probability must be a number in [0, 1], got "
                "'1.5'");
    sim_refused("=0.1", "metric '': expected 1 to 64 letters, digits, '_', '.' or '-'");
    sim_refused("clicked:v1=0.1,v1=0.2", "clicked: version 'v1' given twice");
    sim_refused("clicked:v1,v2=0.1", "clicked: 'v1': expected VERSION=P");
    sim_refused(
        "clicked:v 1=0.1",
        "clicked: version 'v 1': expected 1 to 64 letters, digits, '_', '.' or '-', "
        "or '*'");
}

Test(loadgen_simulate, draws_depend_on_the_request_not_the_order)
{
    cr_assert_eq(cn_lg_sim_draw(1, 5, 0, 0.0), 0);
    cr_assert_eq(cn_lg_sim_draw(1, 5, 0, 1.0), 1);
    uint64_t ones = 0;
    const uint64_t n = 100000;
    for (uint64_t i = 0; i < n; i++) {
        int v = cn_lg_sim_draw(9, i, 0, 0.1);
        cr_assert_eq(cn_lg_sim_draw(9, i, 0, 0.1), v,
                     "a pure function of its arguments");
        ones += (uint64_t)v;
    }
    double sd = sqrt((double)n * 0.1 * 0.9);
    cr_assert(fabs((double)ones - 0.1 * (double)n) < 4 * sd, "%llu ones of %llu",
              (unsigned long long)ones, (unsigned long long)n);
    /* two metrics of one request are not the same draw */
    uint64_t same = 0;
    for (uint64_t i = 0; i < 10000; i++)
        same += cn_lg_sim_draw(9, i, 0, 0.5) == cn_lg_sim_draw(9, i, 1, 0.5);
    cr_assert(same > 4700 && same < 5300, "%llu of 10000 agree",
              (unsigned long long)same);
}

/* ------------------------------------------------------------ bodies file */

static cn_lg_line_t line_ok(const char *text)
{
    cn_lg_line_t l;
    char err[256];
    cr_assert_eq(cn_lg_line_parse(text, strlen(text), &l, err, sizeof err), 0, "%s: %s",
                 text, err);
    return l;
}

Test(loadgen_bodies, a_plain_line_is_sent_as_written)
{
    cn_lg_line_t l = line_ok("{\"inputs\": [1, 2]}  \r");
    cr_assert_str_eq(l.body, "{\"inputs\": [1, 2]}");
    cr_assert_eq(l.body_len, 18);
    cr_assert_null(l.segment);
    cr_assert_null(l.feedback);
    cn_lg_line_dispose(&l);
    /* "body" with another key: a body, not a wrapper */
    l = line_ok("{\"body\": 1, \"id\": 2}");
    cr_assert_str_eq(l.body, "{\"body\": 1, \"id\": 2}");
    cn_lg_line_dispose(&l);
}

Test(loadgen_bodies, a_wrapper_carries_segment_and_feedback)
{
    cn_lg_line_t l =
        line_ok("{\"body\": {\"inputs\": [1, 2]}, \"segment\": \"eu\", "
                "\"feedback\": {\"label\": 1, \"clicked\": true, \"r\": 2.5}}");
    cr_assert_str_eq(l.body, "{\"inputs\":[1,2]}");
    cr_assert_str_eq(l.segment, "eu");
    cr_assert_str_eq(l.feedback, "{\"label\":1,\"clicked\":1,\"r\":2.5}");
    cn_lg_line_dispose(&l);
    l = line_ok("{\"body\": \"raw text\"}");
    cr_assert_str_eq(l.body, "raw text", "a string body is sent as its text");
    cn_lg_line_dispose(&l);
    l = line_ok("{\"body\": {\"body\": 1}}");
    cr_assert_str_eq(l.body, "{\"body\":1}",
                     "a body that looks like a wrapper, wrapped");
    cn_lg_line_dispose(&l);
}

static void line_refused(const char *text, const char *want_prefix)
{
    cn_lg_line_t l;
    char err[256];
    cr_assert_eq(cn_lg_line_parse(text, strlen(text), &l, err, sizeof err), CN_EPARSE,
                 "%s", text);
    cr_assert(strncmp(err, want_prefix, strlen(want_prefix)) == 0, "%s: got '%s'", text,
              err);
    cn_lg_line_dispose(&l);
}

Test(loadgen_bodies, refuses_bad_lines_saying_why)
{
    line_refused("{\"inputs\": ", "not JSON: ");
    line_refused("{\"body\": 1, \"segment\": 5}", "'segment' must be a string");
    line_refused("{\"body\": 1, \"segment\": \"e u\"}", "'segment' must be a string");
    line_refused("{\"body\": 1, \"feedback\": [1]}", "'feedback' must be an object");
    line_refused("{\"body\": 1, \"feedback\": {}}", "'feedback' must be an object");
    line_refused("{\"body\": 1, \"feedback\": {\"label\": \"1\"}}",
                 "feedback metric 'label': expected a number");
    line_refused("{\"body\": 1, \"feedback\": {\"a b\": 1}}", "feedback metric 'a b'");
    line_refused("{\"body\": 1, \"body\": 2}", "not JSON: duplicate object key");
}

Test(loadgen_bodies, a_file_skips_blank_lines_and_names_the_bad_one)
{
    cn_lg_bodies_t b;
    char err[256];
    const char *text = "{\"a\": 1}\n\n  \n{\"body\": 2, \"segment\": \"us\"}\n";
    cr_assert_eq(cn_lg_bodies_parse(text, strlen(text), "b.jsonl", &b, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(b.count, 2);
    cr_assert_str_eq(b.lines[1].body, "2");
    cr_assert_str_eq(b.lines[1].segment, "us");
    cn_lg_bodies_dispose(&b);
    text = "{\"a\": 1}\n\n{\"a\": \n";
    cr_assert_eq(cn_lg_bodies_parse(text, strlen(text), "b.jsonl", &b, err, sizeof err),
                 CN_EPARSE);
    cr_assert(strncmp(err, "b.jsonl:3: not JSON", 19) == 0, "%s", err);
    cn_lg_bodies_dispose(&b);
    text = "\n \n";
    cr_assert_eq(cn_lg_bodies_parse(text, strlen(text), "b.jsonl", &b, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "b.jsonl: no bodies (every line is blank)");
    cn_lg_bodies_dispose(&b);
}

/* ------------------------------------------------------------ target */

Test(loadgen_target, splits_host_port_and_path)
{
    cn_lg_target_t t;
    char err[256];
    cr_assert_eq(cn_lg_target_parse("http://127.0.0.1:8080/v2/models/m/infer?x=1", &t,
                                    err, sizeof err),
                 0, "%s", err);
    cr_assert_str_eq(t.hostport, "127.0.0.1:8080");
    cr_assert_str_eq(t.path, "/v2/models/m/infer?x=1");
    cr_assert_eq(cn_lg_target_parse("http://localhost:80", &t, err, sizeof err), 0);
    cr_assert_str_eq(t.path, "/");
    cr_assert_eq(cn_lg_target_parse("http://[::1]:80/", &t, err, sizeof err), 0);
    cr_assert_str_eq(t.hostport, "[::1]:80");
}

Test(loadgen_target, refuses_what_it_cannot_send_to)
{
    cn_lg_target_t t;
    char err[256];
    cr_assert_eq(cn_lg_target_parse("https://h:1/", &t, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err,
                     "target 'https://h:1/': expected http://HOST:PORT[/PATH] (https "
                     "is not supported)");
    cr_assert_eq(cn_lg_target_parse("http://h/", &t, err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_lg_target_parse("http://:80/", &t, err, sizeof err), CN_EINVAL);
    cr_assert_eq(cn_lg_target_parse("http://h:80/a b", &t, err, sizeof err), CN_EINVAL);
    cr_assert_str_eq(err, "target 'http://h:80/a b': the path may not hold spaces, "
                          "control characters or '#'");
}

/* ------------------------------------------------------------ feedback */

Test(loadgen_feedback, sums_the_servers_answers)
{
    cn_lg_fb_counts_t c;
    memset(&c, 0, sizeof c);
    const char *ok = "{\"accepted\":8,\"unknown\":1,\"expired\":1,\"duplicate\":0,"
                     "\"invalid\":0,\"errors\":[]}";
    cn_lg_fb_answer(&c, 200, ok, strlen(ok), 10);
    cr_assert_eq(c.batches, 1);
    cr_assert_eq(c.posted, 10);
    cr_assert_eq(c.accepted, 8);
    cr_assert_eq(c.unknown, 1);
    cr_assert_eq(c.expired, 1);
    cr_assert_eq(c.failed_batches, 0);
    cr_assert_str_eq(c.first_error, "");
    /* a batch with a bad line: 400, the rest still counted */
    const char *bad = "{\"accepted\":4,\"unknown\":0,\"expired\":0,\"duplicate\":2,"
                      "\"invalid\":1,\"errors\":[{\"line\":3,\"error\":\"metrics: "
                      "expected an object\"}]}";
    cn_lg_fb_answer(&c, 400, bad, strlen(bad), 7);
    cr_assert_eq(c.batches, 2);
    cr_assert_eq(c.posted, 17);
    cr_assert_eq(c.accepted, 12);
    cr_assert_eq(c.duplicate, 2);
    cr_assert_eq(c.invalid, 1);
    cr_assert_eq(c.failed_batches, 1);
    cr_assert_str_eq(c.first_error,
                     "HTTP 400, batch 2 line 3: metrics: expected an object");
    /* the first error is kept */
    cn_lg_fb_answer(&c, 401, "{\"error\":\"token\"}", 17, 3);
    cr_assert_eq(c.failed_batches, 2);
    cr_assert_str_eq(c.first_error,
                     "HTTP 400, batch 2 line 3: metrics: expected an object");
    memset(&c, 0, sizeof c);
    cn_lg_fb_answer(&c, 401, "{\"error\":\"token\"}", 17, 3);
    cr_assert_str_eq(c.first_error, "HTTP 401: token");
}
