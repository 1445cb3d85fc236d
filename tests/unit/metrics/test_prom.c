/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Prometheus text writer: HELP/TYPE once per family, label escaping,
 * the spelling of special values, histograms from the latency histogram and
 * from precomputed cumulative counts, the size bound, and the output passing
 * the real `promtool check metrics`.
 */
#include "metrics/metrics.h"
#include "metrics/prom.h"
#include "promtool.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(prom, writes_help_and_type_once_per_family_then_its_samples)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cn_prom_label_t a[] = {{"role", "stable"}};
    cn_prom_label_t b[] = {{"role", "canary"}};
    cr_assert_eq(cn_prom_family(&w, "canary_requests_total", CN_PROM_COUNTER,
                                "Requests answered."),
                 0);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, a, 1, 12), 0);
    /* Opening the open family again is harmless and writes nothing. */
    cr_assert_eq(cn_prom_family(&w, "canary_requests_total", CN_PROM_COUNTER,
                                "Requests answered."),
                 0);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, b, 1, 3), 0);
    cr_assert_eq(cn_prom_family(&w, "canary_up", CN_PROM_GAUGE, "Up."), 0);
    cr_assert_eq(cn_prom_sample_i64(&w, "", NULL, 0, -2), 0);
    cr_assert_str_eq(w.text, "# HELP canary_requests_total Requests answered.\n"
                             "# TYPE canary_requests_total counter\n"
                             "canary_requests_total{role=\"stable\"} 12\n"
                             "canary_requests_total{role=\"canary\"} 3\n"
                             "# HELP canary_up Up.\n"
                             "# TYPE canary_up gauge\n"
                             "canary_up -2\n");
    cr_assert_eq(w.len, strlen(w.text));
    cr_assert_eq(w.error, 0);
    cn_prom_dispose(&w);
}

Test(prom, refuses_to_reopen_a_closed_family_or_change_a_type)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "a_total", CN_PROM_COUNTER, "A."), 0);
    cr_assert_eq(cn_prom_family(&w, "a_total", CN_PROM_GAUGE, "A."), CN_EINVAL);
    cr_assert_eq(cn_prom_family(&w, "b", CN_PROM_GAUGE, "B."), 0);
    size_t len = w.len;
    cr_assert_eq(cn_prom_family(&w, "a_total", CN_PROM_COUNTER, "A."), CN_EINVAL);
    cr_assert_eq(w.len, len, "nothing written");
    cr_assert_eq(w.error, CN_EINVAL, "the first error is kept");
    cn_prom_dispose(&w);
}

Test(prom, a_family_may_have_no_samples)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "x_total", CN_PROM_COUNTER, "X."), 0);
    cr_assert_eq(cn_prom_family(&w, "y", CN_PROM_HISTOGRAM, "Y."), 0);
    cr_assert_str_eq(w.text, "# HELP x_total X.\n# TYPE x_total counter\n"
                             "# HELP y Y.\n# TYPE y histogram\n");
    char out[4096];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s", out);
    cn_prom_dispose(&w);
}

Test(prom, escapes_backslash_quote_and_newline_in_label_values_and_help)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "m", CN_PROM_GAUGE, "a \\ b\nc \"q\""), 0);
    cn_prom_label_t l[] = {{"seg", "a\\b\"c\nd"}, {"empty", ""}};
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, l, 2, 1), 0);
    /* HELP escapes only backslash and newline; label values also quote. */
    cr_assert_str_eq(w.text, "# HELP m a \\\\ b\\nc \"q\"\n"
                             "# TYPE m gauge\n"
                             "m{seg=\"a\\\\b\\\"c\\nd\",empty=\"\"} 1\n");
    char out[4096];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s", out);
    cn_prom_dispose(&w);
}

Test(prom, replaces_invalid_utf8_in_label_values_so_the_scrape_stays_valid)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "m", CN_PROM_GAUGE, "M \xff."), 0);
    cn_prom_label_t l[] = {{"seg", "caf\xc3\xa9 \xff\xc0\xaf \xe2\x82"}};
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, l, 1, 1), 0);
    cr_assert_str_eq(w.text, "# HELP m M \xef\xbf\xbd.\n"
                             "# TYPE m gauge\n"
                             "m{seg=\"caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
                             "\xef\xbf\xbd\xef\xbf\xbd\"} 1\n");
    char out[4096];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s", out);
    cn_prom_dispose(&w);
}

Test(prom, writes_gauges_as_doubles_with_special_values)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "g", CN_PROM_GAUGE, "G."), 0);
    cn_prom_label_t k[3] = {{"k", "nan"}, {"k", "inf"}, {"k", "ninf"}};
    cr_assert_eq(cn_prom_sample_double(&w, NULL, &k[0], 1, NAN), 0);
    cr_assert_eq(cn_prom_sample_double(&w, NULL, &k[1], 1, INFINITY), 0);
    cr_assert_eq(cn_prom_sample_double(&w, NULL, &k[2], 1, -INFINITY), 0);
    cr_assert_eq(cn_prom_sample_double(&w, NULL, NULL, 0, 2.5), 0);
    cr_assert_str_eq(w.text, "# HELP g G.\n# TYPE g gauge\n"
                             "g{k=\"nan\"} NaN\ng{k=\"inf\"} +Inf\n"
                             "g{k=\"ninf\"} -Inf\ng 2.5\n");
    char out[4096];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s", out);
    cn_prom_dispose(&w);
}

Test(prom, rejects_bad_names_and_samples_outside_a_family)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, NULL, 0, 1), CN_EINVAL, "no family");
    cr_assert_eq(cn_prom_family(&w, "", CN_PROM_GAUGE, "x"), CN_EINVAL);
    cr_assert_eq(cn_prom_family(&w, "9lives", CN_PROM_GAUGE, "x"), CN_EINVAL);
    cr_assert_eq(cn_prom_family(&w, "a-b", CN_PROM_GAUGE, "x"), CN_EINVAL);
    cr_assert_eq(cn_prom_family(&w, "ns:sub_total", CN_PROM_COUNTER, "x"), 0);
    cn_prom_label_t colon[] = {{"a:b", "x"}};
    cn_prom_label_t reserved[] = {{"__name__", "x"}};
    cn_prom_label_t digit[] = {{"1a", "x"}};
    cn_prom_label_t twice[] = {{"a", "x"}, {"a", "y"}};
    cn_prom_label_t null_value[] = {{"a", NULL}};
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, colon, 1, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, reserved, 1, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, digit, 1, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, twice, 2, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, null_value, 1, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_sample_u64(&w, "-x", NULL, 0, 1), CN_EINVAL);
    cr_assert_str_eq(w.text, "# HELP ns:sub_total x\n# TYPE ns:sub_total counter\n",
                     "no sample was written");
    cn_prom_dispose(&w);
}

Test(prom, writes_a_latency_histogram_in_seconds_with_cumulative_buckets)
{
    static cn_metrics_hist_t h;
    cn_metrics_hist_init(&h);
    /* 100 us, 400 us, 2 ms, 2 ms, 30 ms, 20 s */
    uint64_t values_us[] = {100, 400, 2000, 2000, 30000, 20000000};
    for (size_t i = 0; i < 6; i++)
        cn_metrics_hist_record(&h, values_us[i]);
    double le[] = {0.0005, 0.001, 0.0025, 0.05, 10};
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "lat_seconds", CN_PROM_HISTOGRAM, "Latency."), 0);
    cn_prom_label_t l[] = {{"role", "canary"}};
    cr_assert_eq(cn_prom_histogram(&w, l, 1, &h, le, 5), 0);
    cr_assert_str_eq(w.text, "# HELP lat_seconds Latency.\n"
                             "# TYPE lat_seconds histogram\n"
                             "lat_seconds_bucket{role=\"canary\",le=\"0.0005\"} 2\n"
                             "lat_seconds_bucket{role=\"canary\",le=\"0.001\"} 2\n"
                             "lat_seconds_bucket{role=\"canary\",le=\"0.0025\"} 4\n"
                             "lat_seconds_bucket{role=\"canary\",le=\"0.05\"} 5\n"
                             "lat_seconds_bucket{role=\"canary\",le=\"10\"} 5\n"
                             "lat_seconds_bucket{role=\"canary\",le=\"+Inf\"} 6\n"
                             "lat_seconds_sum{role=\"canary\"} 20.0345\n"
                             "lat_seconds_count{role=\"canary\"} 6\n");
    char out[4096];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s", out);
    cn_prom_dispose(&w);
}

Test(prom, an_empty_histogram_and_one_without_bounds_have_only_inf)
{
    static cn_metrics_hist_t h;
    cn_metrics_hist_init(&h);
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "h", CN_PROM_HISTOGRAM, "H."), 0);
    cr_assert_eq(cn_prom_histogram(&w, NULL, 0, &h, NULL, 0), 0);
    cr_assert_str_eq(w.text, "# HELP h H.\n# TYPE h histogram\n"
                             "h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
    cn_prom_dispose(&w);
}

Test(prom, bounds_below_zero_count_nothing_and_huge_bounds_everything)
{
    static cn_metrics_hist_t h;
    cn_metrics_hist_init(&h);
    cn_metrics_hist_record(&h, 0);
    cn_metrics_hist_record(&h, CN_METRICS_HIST_MAX_US);
    double le[] = {-1, 0, 1e300};
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "h", CN_PROM_HISTOGRAM, "H."), 0);
    cr_assert_eq(cn_prom_histogram(&w, NULL, 0, &h, le, 3), 0);
    cr_assert(strstr(w.text, "h_bucket{le=\"-1\"} 0\n"
                             "h_bucket{le=\"0\"} 1\n"
                             "h_bucket{le=\"1e+300\"} 2\n"
                             "h_bucket{le=\"+Inf\"} 2\n"),
              "%s", w.text);
    cn_prom_dispose(&w);
}

Test(prom, writes_a_histogram_from_precomputed_cumulative_counts)
{
    double le[] = {0.1, 0.5, 0.9};
    uint64_t cumulative[] = {1, 4, 4, 7};
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "pred", CN_PROM_HISTOGRAM, "Predictions."), 0);
    cn_prom_label_t l[] = {{"version", "v2"}, {"segment", ""}};
    cr_assert_eq(cn_prom_histogram_cumulative(&w, l, 2, le, cumulative, 3, 4.25), 0);
    cr_assert_str_eq(w.text, "# HELP pred Predictions.\n"
                             "# TYPE pred histogram\n"
                             "pred_bucket{version=\"v2\",segment=\"\",le=\"0.1\"} 1\n"
                             "pred_bucket{version=\"v2\",segment=\"\",le=\"0.5\"} 4\n"
                             "pred_bucket{version=\"v2\",segment=\"\",le=\"0.9\"} 4\n"
                             "pred_bucket{version=\"v2\",segment=\"\",le=\"+Inf\"} 7\n"
                             "pred_sum{version=\"v2\",segment=\"\"} 4.25\n"
                             "pred_count{version=\"v2\",segment=\"\"} 7\n");
    char out[4096];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s", out);
    cn_prom_dispose(&w);
}

Test(prom, refuses_histograms_that_would_be_invalid)
{
    double le[] = {0.1, 0.5};
    double unsorted[] = {0.5, 0.1};
    double same[] = {0.5, 0.5};
    double inf[] = {0.5, INFINITY};
    uint64_t ok[] = {1, 2, 3};
    uint64_t down[] = {2, 1, 3};
    uint64_t above_total[] = {1, 4, 3};
    cn_prom_label_t le_label[] = {{"le", "1"}};
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    cr_assert_eq(cn_prom_family(&w, "g", CN_PROM_GAUGE, "G."), 0);
    cr_assert_eq(cn_prom_histogram_cumulative(&w, NULL, 0, le, ok, 2, 1), CN_EINVAL,
                 "not a histogram family");
    cr_assert_eq(cn_prom_family(&w, "h", CN_PROM_HISTOGRAM, "H."), 0);
    size_t len = w.len;
    cr_assert_eq(cn_prom_histogram_cumulative(&w, NULL, 0, unsorted, ok, 2, 1),
                 CN_EINVAL);
    cr_assert_eq(cn_prom_histogram_cumulative(&w, NULL, 0, same, ok, 2, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_histogram_cumulative(&w, NULL, 0, inf, ok, 2, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_histogram_cumulative(&w, NULL, 0, le, down, 2, 1), CN_EINVAL);
    cr_assert_eq(cn_prom_histogram_cumulative(&w, NULL, 0, le, above_total, 2, 1),
                 CN_EINVAL);
    cr_assert_eq(cn_prom_histogram_cumulative(&w, le_label, 1, le, ok, 2, 1),
                 CN_EINVAL);
    static cn_metrics_hist_t h;
    cn_metrics_hist_init(&h);
    cr_assert_eq(cn_prom_histogram(&w, NULL, 0, &h, inf, 2), CN_EINVAL);
    cr_assert_eq(cn_prom_histogram(&w, NULL, 0, NULL, le, 2), CN_EINVAL);
    cr_assert_eq(w.len, len, "nothing written");
    cn_prom_dispose(&w);
}

Test(prom, stops_at_max_bytes_without_writing_half_a_line)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 64);
    cr_assert_eq(cn_prom_family(&w, "m", CN_PROM_GAUGE, "M."), 0);
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, NULL, 0, 1), 0);
    size_t len = w.len;
    cn_prom_label_t l[] = {{"long", "0123456789012345678901234567890123456789"}};
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, l, 1, 1), CN_ETOOBIG);
    cr_assert_eq(w.len, len);
    cr_assert_eq(strlen(w.text), len, "the text still ends at a line");
    cr_assert_eq(w.error, CN_ETOOBIG);
    /* Something small still fits; the first error stays recorded. */
    cr_assert_eq(cn_prom_sample_u64(&w, NULL, NULL, 0, 2), 0);
    cr_assert_eq(w.error, CN_ETOOBIG);
    cn_prom_dispose(&w);
}

Test(prom, hands_the_text_over)
{
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    size_t len = 99;
    char *empty = cn_prom_take(&w, &len);
    cr_assert_str_eq(empty, "");
    cr_assert_eq(len, 0);
    free(empty);
    cn_prom_init(&w, 0);
    cn_prom_family(&w, "m", CN_PROM_GAUGE, "M.");
    char *text = cn_prom_take(&w, &len);
    cr_assert_eq(len, strlen(text));
    cr_assert_null(w.text);
    free(text);
}

Test(prom, a_whole_exposition_passes_promtool)
{
    static cn_metrics_hist_t h;
    cn_metrics_hist_init(&h);
    for (uint64_t v = 1; v < 3000000; v = v * 3 + 7)
        cn_metrics_hist_record(&h, v);
    double le[] = {.0005, .001, .0025, .005, .01, .025, .05,
                   .1,    .25,  .5,    1,    2.5, 5,    10};
    double ple[] = {0.25, 0.5, 0.75};
    uint64_t pcum[] = {3, 5, 8, 9};
    cn_prom_writer_t w;
    cn_prom_init(&w, 0);
    const char *roles[] = {"stable", "canary"};
    cn_prom_family(&w, "canary_requests_total", CN_PROM_COUNTER, "Requests.");
    for (int r = 0; r < 2; r++) {
        cn_prom_label_t l[] = {{"role", roles[r]}, {"segment", "eu \"west\"\n\\"}};
        cn_prom_sample_u64(&w, NULL, l, 2, 10 + (uint64_t)r);
    }
    cn_prom_family(&w, "canary_request_duration_seconds", CN_PROM_HISTOGRAM,
                   "Latency, first byte in to last byte out.");
    for (int r = 0; r < 2; r++) {
        cn_prom_label_t l[] = {{"role", roles[r]}};
        cn_prom_histogram(&w, l, 1, &h, le, sizeof le / sizeof le[0]);
    }
    cn_prom_family(&w, "canary_prediction", CN_PROM_HISTOGRAM, "Predictions.");
    cn_prom_histogram_cumulative(&w, NULL, 0, ple, pcum, 3, 4.5);
    cn_prom_family(&w, "canary_traffic_canary_weight_percent", CN_PROM_GAUGE,
                   "Canary share.");
    cn_prom_sample_double(&w, NULL, NULL, 0, 2.5);
    cr_assert_eq(w.error, 0);
    char out[4096];
    cr_assert_eq(promtool_check(w.text, out, sizeof out), 0, "%s\n%s", out, w.text);
    cn_prom_dispose(&w);
}
