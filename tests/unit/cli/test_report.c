/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout report's pure parts (cli/report.h): escaping of the
 * server's strings, the charts' scales and ticks, and the structure of
 * the page for a fixed document.
 */
#include "cli/report.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static char *escaped(const char *s)
{
    cn_buf_t b = CN_BUF_INIT(1 << 20);
    cn_report_escape(&b, s);
    return cn_buf_take(&b, NULL);
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A rollout of two analyses (one marginal with a segment, one failing
 * with a metric beyond four margins and one without a margin), a
 * trigger, a manual action and a payload the report has no table for. */
static const char FIXTURE[] =
    "{\"format\": \"canary-report/1\", \"generated_unix_ms\": 1796666760000,"
    " \"server\": \"http://127.0.0.1:8081\","
    " \"rollout\": {\"id\": 7, \"model\": \"fraud\", \"version\": \"v2\","
    "  \"baseline\": \"v1\", \"state\": \"rolled-back\", \"dry_run\": false,"
    "  \"step\": 4, \"steps\": 6, \"weight\": 0, \"reason\": \"analysis failed\","
    "  \"analysis_attempts\": 1, \"generation\": 5, \"created_by\": \"admin\","
    "  \"started_unix_ms\": 1796666700000, \"updated_unix_ms\": 1796666750000,"
    "  \"step_started_unix_ms\": 1796666740000, \"ended_unix_ms\": 1796666750000,"
    "  \"new_field\": {\"x\": 1}},"
    " \"history\": ["
    "  {\"seq\": 1, \"time_unix_ms\": 1796666700000, \"kind\": \"manual\","
    "   \"actor\": \"admin\", \"reason\": \"started\", \"state\": \"pending\","
    "   \"step\": 0, \"weight\": 20},"
    "  {\"seq\": 2, \"time_unix_ms\": 1796666720000, \"kind\": \"analysis\","
    "   \"actor\": \"judge\", \"reason\": \"held\", \"state\": \"progressing\","
    "   \"step\": 2, \"weight\": 50, \"payload\": {\"verdict\": \"marginal\"}},"
    "  {\"seq\": 3, \"time_unix_ms\": 1796666730000, \"kind\": \"transition\","
    "   \"actor\": \"controller\", \"reason\": \"step 3\", \"state\": \"progressing\","
    "   \"step\": 3, \"weight\": 50, \"payload\": {\"gate\": \"ok\"}},"
    "  {\"seq\": 4, \"time_unix_ms\": 1796666740000, \"kind\": \"trigger\","
    "   \"actor\": \"controller\", \"reason\": \"error_rate fired\", \"state\": "
    "\"progressing\", \"step\": 4, \"weight\": 50, \"payload\": {\"check\": "
    "\"error_rate.max\", \"observed\": 0.3130841121495327, \"nested\": [1]}},"
    "  {\"seq\": 5, \"time_unix_ms\": 1796666750000, \"kind\": \"analysis\","
    "   \"actor\": \"judge\", \"reason\": \"failed\", \"state\": \"rolled-back\","
    "   \"step\": 4, \"weight\": 0, \"payload\": {\"verdict\": \"fail\"}}],"
    " \"analyses\": ["
    "  {\"seq\": 2, \"time_unix_ms\": 1796666720000, \"kind\": \"analysis\","
    "   \"reason\": \"held\", \"weight\": 50, \"result\": {\"verdict\": \"marginal\","
    "   \"score\": 50, \"step\": 2, \"attempt\": 1, \"reason\": \"inconclusive\","
    "   \"metrics\": ["
    "    {\"name\": \"latency_ms\", \"segment\": null, \"test\": \"mann-whitney\","
    "     \"classification\": \"inconclusive\", \"effect\": 0.5, \"ci\": [-1, 2],"
    "     \"margin\": 2, \"pvalue\": 0.2, \"adjusted_pvalue\": 0.4,"
    "     \"n_canary\": 100, \"n_stable\": 400, \"min_samples\": 90,"
    "     \"canary\": {\"n\": 100, \"mean\": 3, \"median\": 2.5, \"p95\": 9, \"p99\": "
    "12},"
    "     \"stable\": {\"n\": 400, \"mean\": 2.5, \"median\": 2, \"p95\": 8, \"p99\": "
    "11},"
    "     \"reason\": \"no harm shown\"},"
    "    {\"name\": \"latency_ms\", \"segment\": \"eu\", \"test\": \"mann-whitney\","
    "     \"classification\": \"inconclusive\", \"effect\": 0.4, \"ci\": [-1, 2],"
    "     \"margin\": 2, \"reason\": \"no harm shown in eu\"}]}},"
    "  {\"seq\": 5, \"time_unix_ms\": 1796666750000, \"kind\": \"analysis\","
    "   \"reason\": \"failed\", \"weight\": 0, \"result\": {\"verdict\": \"fail\","
    "   \"score\": 0, \"step\": 4, \"attempt\": 1, \"reason\": \"latency_ms failed\","
    "   \"metrics\": ["
    "    {\"name\": \"latency_ms\", \"segment\": null, \"test\": \"mann-whitney\","
    "     \"classification\": \"fail\", \"effect\": 20, \"ci\": [18, 22],"
    "     \"margin\": 2, \"reason\": \"worse than the margin allows\"},"
    "    {\"name\": \"p99\", \"segment\": null, \"test\": \"threshold\","
    "     \"classification\": \"pass\", \"effect\": 40, \"ci\": null,"
    "     \"margin\": null, \"reason\": \"under the gate\"}]}}]}";

static json_t *fixture(void)
{
    json_error_t e;
    json_t *doc = json_loads(FIXTURE, 0, &e);
    cr_assert_not_null(doc, "fixture: %s at %d", e.text, e.position);
    return doc;
}

static char *html_of(const json_t *doc)
{
    cn_buf_t b = CN_BUF_INIT(1 << 24);
    cr_assert_eq(cn_report_html(doc, &b), 0);
    return cn_buf_take(&b, NULL);
}

Test(report, escapes_markup_quotes_and_control_characters)
{
    char *s = escaped("<b>\"Tom\" & 'Jerry'</b>");
    cr_assert_str_eq(s, "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
    free(s);
    s = escaped("a\x01"
                "b\x7f"
                "c\td\ne\r");
    cr_assert_str_eq(s, "a\xef\xbf\xbd"
                        "b\xef\xbf\xbd"
                        "c\td\ne\r");
    free(s);
    s = escaped("caf\xc3\xa9 \xe2\x86\x92 ok"); /* UTF-8 passes as it is */
    cr_assert_str_eq(s, "caf\xc3\xa9 \xe2\x86\x92 ok");
    free(s);
    s = escaped("");
    cr_assert_str_eq(s, "");
    free(s);
    s = escaped(NULL);
    cr_assert_str_eq(s, "");
    free(s);
}

Test(report, every_server_string_reaches_the_page_escaped)
{
    json_t *doc = fixture();
    const char *evil = "<script>alert(1)</script>\"'><img src=x onerror=alert(2)>";
    json_t *r = json_object_get(doc, "rollout");
    json_object_set_new(r, "model", json_string(evil));
    json_object_set_new(r, "version", json_string(evil));
    json_object_set_new(r, "baseline", json_string(evil));
    json_object_set_new(r, "state", json_string(evil));
    json_object_set_new(r, "reason", json_string(evil));
    json_object_set_new(r, "created_by", json_string(evil));
    json_object_set_new(r, "hold", json_string(evil));
    json_object_set_new(r, evil, json_string(evil)); /* an unknown key */
    json_object_set_new(doc, "server", json_string(evil));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "history"), i, e)
    {
        json_object_set_new(e, "kind", json_string(i % 2 ? evil : "analysis"));
        json_object_set_new(e, "actor", json_string(evil));
        json_object_set_new(e, "reason", json_string(evil));
        json_object_set_new(e, "state", json_string(evil));
        json_object_set_new(e, "payload", json_pack("{s:s}", "verdict", evil));
    }
    json_t *a;
    json_array_foreach(json_object_get(doc, "analyses"), i, a)
    {
        json_t *res = json_object_get(a, "result");
        json_object_set_new(a, "reason", json_string(evil));
        json_object_set_new(res, "reason", json_string(evil));
        json_object_set_new(res, "verdict", json_string(evil));
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(res, "metrics"), j, m)
        {
            json_object_set_new(m, "name", json_string(evil));
            json_object_set_new(m, "segment", json_string(evil));
            json_object_set_new(m, "test", json_string(evil));
            json_object_set_new(m, "classification", json_string(evil));
            json_object_set_new(m, "reason", json_string(evil));
        }
    }
    char *html = html_of(doc);
    cr_assert_null(strstr(html, "<script"), "a server string became markup");
    cr_assert_null(strstr(html, "<img"), "a server string became markup");
    cr_assert_null(strstr(html, "\"'>"), "a server string closed an attribute");
    cr_assert_gt(count(html, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&gt;"),
                 30);
    /* a state or class the server names never becomes a class of ours */
    cr_assert_null(strstr(html, "b-&lt;"));
    cr_assert_null(strstr(html, "class=\"row &lt;"));
    free(html);
    json_decref(doc);
}

Test(report, scales_map_the_domain_linearly_and_a_flat_domain_to_the_middle)
{
    cn_report_scale_t x = {0, 10, 100, 300};
    cr_assert_float_eq(cn_report_scale(&x, 0), 100, 1e-12);
    cr_assert_float_eq(cn_report_scale(&x, 2.5), 150, 1e-12);
    cr_assert_float_eq(cn_report_scale(&x, 10), 300, 1e-12);
    cr_assert_float_eq(cn_report_scale(&x, -5), 0, 1e-12); /* no clamping */
    cn_report_scale_t y = {0, 100, 224, 52};               /* y grows downwards */
    cr_assert_float_eq(cn_report_scale(&y, 20), 189.6, 1e-9);
    cr_assert_float_eq(cn_report_scale(&y, 100), 52, 1e-12);
    cn_report_scale_t flat = {5, 5, 0, 80};
    cr_assert_float_eq(cn_report_scale(&flat, 5), 40, 1e-12);
    cr_assert_float_eq(cn_report_scale(&flat, 1e9), 40, 1e-12);
}

Test(report, ticks_are_round_numbers_within_the_range)
{
    double t[32];
    size_t n = cn_report_ticks(0, 7.9, 10, t, 32);
    cr_assert_eq(n, 8);
    for (size_t i = 0; i < n; i++)
        cr_assert_float_eq(t[i], (double)i, 1e-12);
    n = cn_report_ticks(0, 100, 5, t, 32); /* steps of 1, 2 or 5 x 10^k only */
    cr_assert_eq(n, 3);
    cr_assert_float_eq(t[1], 50, 1e-12);
    n = cn_report_ticks(-2.8, 2.8, 9, t, 32);
    cr_assert_eq(n, 5);
    cr_assert_float_eq(t[0], -2, 1e-12);
    cr_assert_eq(t[2], 0);
    cr_assert(!signbit(t[2]), "zero is never -0");
    n = cn_report_ticks(0.003, 0.0071, 6, t, 32);
    cr_assert_eq(n, 5);
    cr_assert_float_eq(t[0], 0.003, 1e-15);
    cr_assert_float_eq(t[4], 0.007, 1e-15);
    n = cn_report_ticks(9, 1, 10, t, 32); /* reversed bounds */
    cr_assert_eq(n, 9);
    cr_assert_eq(cn_report_ticks(3, 3, 10, t, 32), 1);
    cr_assert_eq(t[0], 3);
    cr_assert_eq(cn_report_ticks(0, INFINITY, 10, t, 32), 0);
    cr_assert_eq(cn_report_ticks(NAN, 1, 10, t, 32), 0);
    cr_assert_eq(cn_report_ticks(0, 1000, 100, t, 4), 4); /* cap respected */
}

Test(report, a_fixed_document_gives_every_part_of_the_page)
{
    json_t *doc = fixture();
    char *html = html_of(doc);
    cr_assert_eq(strncmp(html, "<!DOCTYPE html>\n", 16), 0);
    cr_assert_eq(count(html, "</html>"), 1);
    /* every analysis, with its anchor, linked from its audit row */
    cr_assert_eq(count(html, "<section class=\"analysis\""), 2);
    cr_assert_eq(count(html, "id=\"analysis-2\""), 1);
    cr_assert_eq(count(html, "id=\"analysis-5\""), 1);
    cr_assert_eq(count(html, "href=\"#analysis-2\""), 1);
    cr_assert_eq(count(html, "href=\"#analysis-5\""), 1);
    /* every audit entry, and a payload without a table shown as it came */
    for (int seq = 1; seq <= 5; seq++) {
        char id[32];
        snprintf(id, sizeof id, "<tr id=\"audit-%d\">", seq);
        cr_assert_eq(count(html, id), 1, "%s", id);
    }
    cr_assert_not_null(strstr(html, "<span class=\"payload\">gate: ok</span>"));
    /* the timeline: weights 20 -> 50 -> 0 over 50 s, two analyses marked by
     * verdict, one trigger, one manual action */
    cr_assert_eq(count(html, "<svg "), 3); /* timeline + 2 forest plots */
    cr_assert_eq(count(html, "class=\"mark analysis\""), 2);
    cr_assert_eq(count(html, "class=\"mark trigger\""), 1);
    cr_assert_eq(count(html, "class=\"mark manual\""), 1);
    cr_assert_not_null(strstr(html, "<path class=\"weight\" d=\"M56.0 224.0H56.0V189.6"
                                    "H380.8V138.0H868.0V224.0H868.0\"/>"));
    cr_assert_not_null(strstr(html, ">+50 s</text>"));
    cr_assert_not_null(strstr(html, ">rolled-back</text>"));
    /* the steps: entries 1 | 2 | 3 | 4-5 by step index, with their times */
    cr_assert_eq(count(html, "<table class=\"steps\">"), 1);
    cr_assert_not_null(strstr(html,
                              "<tr><td class=\"n\">4</td><td class=\"n\">+40.0&nbsp;s"
                              "</td><td class=\"n\">10.0&nbsp;s</td><td class=\"n\">0%"
                              "</td><td>rolled-back</td><td><a href=\"#audit-4\">4</a>"
                              "&ndash;5</td></tr>"));
    /* the forest plots: one row per metric and segment; beyond four margins
     * an arrow, no margin no glyph */
    cr_assert_eq(count(html, "<g class=\"row "), 4);
    cr_assert_eq(count(html, "<rect class=\"effect\""), 3);
    cr_assert_eq(count(html, "l-8 -5v10z"), 1);
    cr_assert_eq(count(html, "no margin: not drawn"), 1);
    /* the tables: one decision row and one reason row per metric row */
    cr_assert_eq(count(html, "<tr class=\"why\">"), 4);
    cr_assert_eq(count(html, "<tr class=\"metric fail-row\">"), 1);
    cr_assert_not_null(strstr(html, "no harm shown in eu"));
    cr_assert_not_null(strstr(html, ">0.2<br><span class=\"adj\">0.4</span>"));
    /* a trigger's payload with a nested value: as it came */
    cr_assert_not_null(strstr(html,
                              "<pre>{&quot;check&quot;:&quot;error_rate.max&quot;,"
                              "&quot;observed&quot;:0.31308411214953269,"));
    /* a key the report does not know is still shown */
    cr_assert_not_null(strstr(html, "<dt>new_field</dt><dd><pre>{&quot;x&quot;:1}"));
    /* no blast radius or parity in the read: no row for them */
    cr_assert_null(strstr(html, "Blast radius"));
    cr_assert_null(strstr(html, "Parity"));
    /* nothing to fetch, nothing to run */
    cr_assert_null(strstr(html, "<script"));
    cr_assert_null(strstr(html, "src="));
    cr_assert_null(strstr(html, "url("));
    cr_assert_null(strstr(html, "@import"));
    for (const char *p = strstr(html, "href="); p; p = strstr(p + 1, "href="))
        cr_assert_eq(strncmp(p, "href=\"#", 7), 0, "%.60s", p);
    cr_assert_not_null(strstr(html, "default-src 'none'"));
    free(html);
    json_decref(doc);
}

Test(report, blast_radius_and_parity_are_shown_when_the_read_has_them)
{
    json_t *doc = fixture();
    json_t *r = json_object_get(doc, "rollout");
    json_object_set_new(r, "blast_radius",
                        json_pack("{s:i, s:i, s:f}", "canary_requests", 1234,
                                  "canary_failed", 56, "share", 0.125));
    json_object_set_new(r, "parity", json_true());
    char *html = html_of(doc);
    cr_assert_not_null(strstr(html, "<dt>Blast radius</dt><dd>1234 requests served by "
                                    "the canary, 56 of them failed; 12.5% of all"));
    cr_assert_not_null(strstr(html, "<dt>Parity (A/A) check</dt><dd>yes"));
    cr_assert_null(strstr(html, "<dt>blast_radius</dt>")); /* not listed twice */
    free(html);
    json_decref(doc);
}

Test(report, long_names_are_cut_at_a_character_in_the_chart_not_in_the_table)
{
    json_t *doc = fixture();
    json_t *a = json_array_get(json_object_get(doc, "analyses"), 0);
    json_t *rows = json_object_get(json_object_get(a, "result"), "metrics");
    json_object_set_new(json_array_get(rows, 0), "name",
                        json_string("a_very_long_metric_name_for_latency_ms"));
    /* 13 two-byte characters: 24 bytes hold 12 of them */
    json_object_set_new(
        json_array_get(rows, 1), "segment",
        json_string("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"));
    json_object_del(json_object_get(doc, "rollout"), "ended_unix_ms");
    char *html = html_of(doc);
    cr_assert_not_null(
        strstr(html, "class=\"metric\">a_very_long_metric_name_\xe2\x80\xa6<"));
    cr_assert_not_null(
        strstr(html, "class=\"segment\">\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                     "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
                     "\xe2\x80\xa6<"));
    cr_assert_not_null(strstr(html, "<td>a_very_long_metric_name_for_latency_ms</td>"));
    cr_assert_not_null(strstr(html, "<dt>Ended</dt><dd>not yet: last update"));
    free(html);
    json_decref(doc);
}

Test(report, a_document_without_its_parts_still_renders)
{
    json_t *doc = json_object();
    char *html = html_of(doc);
    cr_assert_not_null(strstr(html, "Analyses (0)"));
    cr_assert_not_null(strstr(html, "Audit trail (0 entries)"));
    cr_assert_not_null(strstr(html, "</html>"));
    free(html);
    json_decref(doc);
}

Test(report, times_out_of_any_calendar_show_as_absent)
{
    /* found by fuzz_report: a duration of 5e10 ms overflowed an int */
    json_t *doc = json_pack("{s:{s:f, s:f, s:f}, s:[{s:f, s:s, s:f}]}", "rollout",
                            "started_unix_ms", 1e300, "ended_unix_ms", -5.0,
                            "updated_unix_ms", 4.99056e10, "history", "time_unix_ms",
                            1e19, "kind", "manual", "weight", 1e9);
    char *html = html_of(doc);
    cr_assert_not_null(strstr(html, "<dt>Started</dt><dd>&ndash; by"));
    cr_assert_null(strstr(html, "<time>"));
    free(html);
    json_decref(doc);
}

Test(report, a_page_over_the_maximum_is_refused_not_cut_silently)
{
    json_t *doc = fixture();
    cn_buf_t b = CN_BUF_INIT(4096);
    cr_assert_eq(cn_report_html(doc, &b), CN_ETOOBIG);
    cr_assert(b.overflow);
    cn_buf_dispose(&b);
    json_decref(doc);
}

Test(report, the_document_holds_the_three_answers_as_they_came)
{
    json_t *r = json_pack("{s:i}", "id", 3);
    json_t *h = json_pack("[{s:i}]", "seq", 1);
    json_t *a = json_array();
    json_t *doc = cn_report_doc(r, h, a, "http://h:1", 42);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "format")),
                     CN_REPORT_FORMAT);
    cr_assert_eq(json_integer_value(json_object_get(doc, "generated_unix_ms")), 42);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "server")), "http://h:1");
    cr_assert(json_equal(json_object_get(doc, "rollout"), r));
    cr_assert(json_equal(json_object_get(doc, "history"), h));
    cr_assert(json_equal(json_object_get(doc, "analyses"), a));
    json_decref(doc);
    cr_assert_eq(r->refcount, 1); /* the caller's references are its own */
    json_decref(r);
    json_decref(h);
    json_decref(a);
}
