/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * GET /metrics: the exposition of a router snapshot. Every family is there
 * with HELP and TYPE even when empty, every counter ends in _total, the
 * numbers are the snapshot's, and the whole text passes
 * `promtool check metrics`.
 */
#include "api/exposition.h"
#include "fake_router.h"
#include "metrics/prom.h"
#include "promtool.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The exposition of the fake's snapshot, as an allocated string. */
static char *expose(const fake_router_t *f)
{
    cn_router_snapshot_t *s = fake_router_snapshot(f);
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_admin_exposition(s, &w), 0);
    fake_router_snapshot_free(s);
    return cn_prom_take(&w, NULL);
}

static void assert_line(const char *text, const char *line)
{
    char *want = malloc(strlen(line) + 3);
    sprintf(want, "\n%s\n", line);
    cr_assert(strstr(text, want), "missing line: %s", line);
    free(want);
}

static const struct {
    const char *name, *type;
} families[] = {
    {"canary_requests_total", "counter"},
    {"canary_shadow_requests_total", "counter"},
    {"canary_responses_total", "counter"},
    {"canary_upstream_failures_total", "counter"},
    {"canary_retries_total", "counter"},
    {"canary_request_bytes_total", "counter"},
    {"canary_response_bytes_total", "counter"},
    {"canary_request_duration_seconds", "histogram"},
    {"canary_prediction", "histogram"},
    {"canary_prediction_errors_total", "counter"},
    {"canary_traffic_canary_weight_percent", "gauge"},
    {"canary_traffic_shadow_percent", "gauge"},
    {"canary_traffic_mode", "gauge"},
    {"canary_traffic_force_enabled", "gauge"},
    {"canary_traffic_step", "gauge"},
    {"canary_traffic_step_start_time_seconds", "gauge"},
    {"canary_workers", "gauge"},
    {"canary_connections_open", "gauge"},
    {"canary_connections_total", "counter"},
    {"canary_rejected_requests_total", "counter"},
    {"canary_upstream_up", "gauge"},
    {"canary_upstream_failures_passive_total", "counter"},
};
#define NFAMILIES (sizeof families / sizeof families[0])

Test(exposition, writes_every_family_with_help_and_type_even_without_cells)
{
    fake_router_t f;
    fake_router_init(&f);
    f.empty_snapshot = true;
    char *text = expose(&f);
    for (size_t i = 0; i < NFAMILIES; i++) {
        char type[128], help[128];
        snprintf(type, sizeof type, "# TYPE %s %s\n", families[i].name,
                 families[i].type);
        snprintf(help, sizeof help, "# HELP %s ", families[i].name);
        cr_assert(strstr(text, type), "missing %s", type);
        cr_assert(strstr(text, help), "missing %s", help);
    }
    char out[8192];
    cr_assert_eq(promtool_check(text, out, sizeof out), 0, "%s\n%s", out, text);
    free(text);
}

Test(exposition, every_family_is_written_once_and_every_counter_ends_in_total)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    size_t ntypes = 0;
    for (const char *p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128], type[32];
        cr_assert_eq(sscanf(p, "# TYPE %127s %31s", name, type), 2);
        if (strcmp(type, "counter") == 0)
            cr_assert(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"),
                      "counter %s", name);
        else
            cr_assert(!strstr(name, "_total"), "%s %s", type, name);
        cr_assert(!strncmp(name, "canary_", 7), "%s", name);
        ntypes++;
    }
    cr_assert_eq(ntypes, NFAMILIES, "one TYPE line per family");
    free(text);
}

Test(exposition, the_full_snapshot_passes_promtool)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    char out[8192];
    cr_assert_eq(promtool_check(text, out, sizeof out), 0, "%s\n%s", out, text);
    free(text);
}

Test(exposition, labels_each_cell_with_version_role_and_segment)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    assert_line(
        text, "canary_requests_total{version=\"v1\",role=\"stable\",segment=\"\"} 100");
    assert_line(text, "canary_requests_total{version=\"v1\",role=\"stable\","
                      "segment=\"eu \\\"west\\\"\\n\"} 10");
    assert_line(
        text, "canary_requests_total{version=\"v2\",role=\"canary\",segment=\"\"} 20");
    assert_line(
        text,
        "canary_shadow_requests_total{version=\"v2\",role=\"canary\",segment=\"\"} 15");
    assert_line(text,
                "canary_retries_total{version=\"v2\",role=\"canary\",segment=\"\"} 1");
    assert_line(text, "canary_request_bytes_total{version=\"v1\",role=\"stable\","
                      "segment=\"\"} 12345");
    assert_line(text, "canary_response_bytes_total{version=\"v1\",role=\"stable\","
                      "segment=\"\"} 67890");
    free(text);
}

Test(exposition, counts_responses_by_code_and_class_only_for_codes_seen)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    assert_line(text,
                "canary_responses_total{version=\"v1\",role=\"stable\",segment=\"\","
                "code=\"200\",class=\"2xx\"} 95");
    assert_line(text,
                "canary_responses_total{version=\"v1\",role=\"stable\",segment=\"\","
                "code=\"503\",class=\"5xx\"} 3");
    assert_line(text,
                "canary_responses_total{version=\"v2\",role=\"canary\",segment=\"\","
                "code=\"500\",class=\"5xx\"} 1");
    cr_assert_null(strstr(text, "code=\"404\""));
    free(text);
}

Test(exposition, writes_every_failure_kind_and_prediction_error_reason_even_at_zero)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    const char *kinds[] = {"connect", "reset", "timeout", "bad_response",
                           "unavailable"};
    for (int k = 0; k < 5; k++) {
        char line[256];
        snprintf(line, sizeof line,
                 "canary_upstream_failures_total{version=\"v2\",role=\"canary\","
                 "segment=\"\",kind=\"%s\"} %d",
                 kinds[k], k == 1);
        assert_line(text, line);
    }
    assert_line(text, "canary_upstream_failures_total{version=\"v1\",role=\"stable\","
                      "segment=\"\",kind=\"timeout\"} 1");
    const char *reasons[] = {"not_json", "missing", "not_number", "non_finite",
                             "too_big"};
    unsigned stable_counts[] = {2, 1, 0, 0, 0};
    for (int r = 0; r < 5; r++) {
        char line[256];
        snprintf(line, sizeof line,
                 "canary_prediction_errors_total{version=\"v1\",role=\"stable\","
                 "segment=\"\",reason=\"%s\"} %u",
                 reasons[r], stable_counts[r]);
        assert_line(text, line);
    }
    free(text);
}

Test(exposition, writes_the_duration_histogram_in_seconds_with_conventional_buckets)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    /* stable "": 50 x 1 ms, 48 x 3 ms */
    const char *prefix = "canary_request_duration_seconds_bucket{version=\"v1\","
                         "role=\"stable\",segment=\"\",le=";
    const char *bounds[] = {"0.0005", "0.001", "0.0025", "0.005", "0.01",
                            "0.025",  "0.05",  "0.1",    "0.25",  "0.5",
                            "1",      "2.5",   "5",      "10",    "+Inf"};
    for (size_t i = 0; i < 15; i++) {
        char line[256];
        /* 1000 us is the lower end of its bucket [1000, 1003], which lies
         * above 0.001 s: the le="0.001" bucket does not count it. */
        unsigned want = i < 2 ? 0 : i < 3 ? 50 : 98;
        snprintf(line, sizeof line, "%s\"%s\"} %u", prefix, bounds[i], want);
        assert_line(text, line);
    }
    assert_line(text,
                "canary_request_duration_seconds_sum{version=\"v1\",role=\"stable\","
                "segment=\"\"} 0.194");
    assert_line(text, "canary_request_duration_seconds_count{version=\"v1\","
                      "role=\"stable\",segment=\"\"} 98");
    free(text);
}

Test(exposition, writes_the_prediction_histogram_from_the_cumulative_counts)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    const char *c = "version=\"v2\",role=\"canary\",segment=\"\"";
    char line[256];
    const char *le[] = {"0.25", "0.5", "0.75", "+Inf"};
    unsigned counts[] = {5, 10, 15, 19};
    for (int i = 0; i < 4; i++) {
        snprintf(line, sizeof line, "canary_prediction_bucket{%s,le=\"%s\"} %u", c,
                 le[i], counts[i]);
        assert_line(text, line);
    }
    snprintf(line, sizeof line, "canary_prediction_sum{%s} 9.5", c);
    assert_line(text, line);
    snprintf(line, sizeof line, "canary_prediction_count{%s} 19", c);
    assert_line(text, line);
    free(text);
}

Test(exposition, writes_the_traffic_config_and_process_gauges)
{
    fake_router_t f;
    fake_router_init(&f);
    f.traffic.mode = CN_TRAFFIC_MODE_STICKY;
    f.traffic.force_enabled = true;
    char *text = expose(&f);
    assert_line(text, "canary_traffic_canary_weight_percent 2.5");
    assert_line(text, "canary_traffic_shadow_percent 100");
    assert_line(text, "canary_traffic_mode{mode=\"random\"} 0");
    assert_line(text, "canary_traffic_mode{mode=\"sticky\"} 1");
    assert_line(text, "canary_traffic_mode{mode=\"shadow\"} 0");
    assert_line(text, "canary_traffic_force_enabled 1");
    assert_line(text, "canary_traffic_step 7");
    assert_line(text, "canary_traffic_step_start_time_seconds 1700000000.5");
    assert_line(text, "canary_workers 2");
    assert_line(text, "canary_connections_open 3");
    assert_line(text, "canary_connections_total 120");
    assert_line(text, "canary_rejected_requests_total{reason=\"bad_request\"} 1");
    assert_line(text, "canary_rejected_requests_total{reason=\"timeout\"} 0");
    assert_line(text, "canary_rejected_requests_total{reason=\"body_too_large\"} 2");
    assert_line(text, "canary_rejected_requests_total{reason=\"header_too_large\"} 0");
    assert_line(text, "canary_rejected_requests_total{reason=\"max_connections\"} 5");
    free(text);
}

Test(exposition, writes_upstream_health_per_address)
{
    fake_router_t f;
    fake_router_init(&f);
    char *text = expose(&f);
    assert_line(text,
                "canary_upstream_up{address=\"127.0.0.1:9001\",role=\"stable\"} 1");
    assert_line(text,
                "canary_upstream_up{address=\"127.0.0.1:9002\",role=\"canary\"} 0");
    assert_line(text,
                "canary_upstream_failures_passive_total{address=\"127.0.0.1:9002\","
                "role=\"canary\"} 4");
    free(text);
}

Test(exposition, falls_back_to_the_role_when_a_version_has_no_name)
{
    fake_router_t f;
    fake_router_init(&f);
    cn_router_snapshot_t *s = fake_router_snapshot(&f);
    s->version_name[1] = NULL;
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_admin_exposition(s, &w), 0);
    assert_line(w.text, "canary_requests_total{version=\"canary\",role=\"canary\","
                        "segment=\"\"} 20");
    cn_prom_dispose(&w);
    fake_router_snapshot_free(s);
}

Test(exposition, reports_a_writer_that_runs_out_of_room)
{
    fake_router_t f;
    fake_router_init(&f);
    cn_router_snapshot_t *s = fake_router_snapshot(&f);
    cn_prom_writer_t w;
    cn_prom_init(&w, 1024);
    cr_assert_eq(cn_admin_exposition(s, &w), CN_ETOOBIG);
    cn_prom_dispose(&w);
    fake_router_snapshot_free(s);
}

Test(exposition, a_segment_label_that_is_not_utf8_does_not_break_the_scrape)
{
    fake_router_t f;
    fake_router_init(&f);
    cn_router_snapshot_t *s = fake_router_snapshot(&f);
    free(s->cells[1].segment);
    s->cells[1].segment = strdup("bad \xff\xfe byte");
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_admin_exposition(s, &w), 0);
    char out[8192];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s", out);
    cn_prom_dispose(&w);
    fake_router_snapshot_free(s);
}
