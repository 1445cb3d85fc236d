/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The samples CSV: column order, quoting, CRLF, blank lines, segments, and
 * for each bad input the exact one-line message naming file, line and
 * column. Rows are collected through the callback, so the assertions see
 * exactly what the judge's data set would be given.
 */
#include "judge/csv.h"
#include "judge/data_internal.h"
#include "judge/judge.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char metric[300], segment[300];
    int has_segment;
    cn_judge_arm_t arm;
    double value;
} row_t;

typedef struct {
    row_t rows[64];
    size_t n;
    size_t fail_at; /* return CN_ETOOBIG at this row (1-based); 0 never */
} rows_t;

static int collect(void *ctx, const char *metric, cn_judge_arm_t arm,
                   const char *segment, double value)
{
    rows_t *r = ctx;
    if (r->fail_at && r->n + 1 == r->fail_at)
        return CN_ETOOBIG;
    cr_assert_lt(r->n, 64);
    row_t *x = &r->rows[r->n++];
    snprintf(x->metric, sizeof x->metric, "%s", metric);
    x->has_segment = segment != NULL;
    snprintf(x->segment, sizeof x->segment, "%s", segment ? segment : "");
    x->arm = arm;
    x->value = value;
    return 0;
}

static int parse(const char *text, rows_t *rows, char *err)
{
    memset(rows, 0, sizeof *rows);
    return cn_judge_csv_parse(text, strlen(text), "s.csv", collect, rows, err, 256);
}

static void parse_ok(const char *text, rows_t *rows)
{
    char err[256];
    int rc = parse(text, rows, err);
    cr_assert_eq(rc, 0, "unexpected error: %s", err);
}

Test(csv, reads_the_three_required_columns)
{
    rows_t r;
    parse_ok("version,metric,value\n"
             "stable,latency_ms,12.5\n"
             "canary,latency_ms,-3e2\n"
             "canary,error,1\n",
             &r);
    cr_assert_eq(r.n, 3);
    cr_assert_str_eq(r.rows[0].metric, "latency_ms");
    cr_assert_eq(r.rows[0].arm, CN_ARM_STABLE);
    cr_assert_eq(r.rows[0].value, 12.5);
    cr_assert_eq(r.rows[0].has_segment, 0);
    cr_assert_eq(r.rows[1].arm, CN_ARM_CANARY);
    cr_assert_eq(r.rows[1].value, -300.0);
    cr_assert_str_eq(r.rows[2].metric, "error");
    cr_assert_eq(r.rows[2].value, 1.0);
}

Test(csv, columns_may_come_in_any_order_with_an_optional_segment)
{
    rows_t r;
    parse_ok("segment,value,metric,version\n"
             "eu,1.5,lat,canary\n"
             ",2.5,lat,stable\n",
             &r);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.rows[0].segment, "eu");
    cr_assert_eq(r.rows[0].has_segment, 1);
    cr_assert_eq(r.rows[0].value, 1.5);
    cr_assert_eq(r.rows[0].arm, CN_ARM_CANARY);
    cr_assert_eq(r.rows[1].has_segment, 0, "an empty segment is no label");
    cr_assert_eq(r.rows[1].arm, CN_ARM_STABLE);
}

Test(csv, quoted_fields_follow_rfc_4180)
{
    rows_t r;
    parse_ok("\"version\",\"metric\",\"value\",\"segment\"\n"
             "\"canary\",\"lat, p50\",\"7\",\"say \"\"hi\"\"\"\n"
             "stable,m,0,\"\"\"\"\n"
             "stable,x,\"  8  \",\n",
             &r);
    cr_assert_eq(r.n, 3);
    cr_assert_str_eq(r.rows[0].metric, "lat, p50");
    cr_assert_str_eq(r.rows[0].segment, "say \"hi\"");
    cr_assert_eq(r.rows[0].value, 7.0);
    cr_assert_str_eq(r.rows[1].segment, "\"");
    cr_assert_eq(r.rows[2].value, 8.0, "blanks around a quoted number are ignored");
}

Test(csv, crlf_blank_lines_blanks_and_a_bom_are_accepted)
{
    rows_t r;
    parse_ok("\xEF\xBB\xBF\r\n"
             "version , metric,value\r\n"
             "\r\n"
             "   \t\r\n"
             " stable ,\tlat , 1 \r\n"
             "canary,lat,2",
             &r);
    cr_assert_eq(r.n, 2);
    cr_assert_str_eq(r.rows[0].metric, "lat", "unquoted fields are trimmed");
    cr_assert_eq(r.rows[0].arm, CN_ARM_STABLE);
    cr_assert_eq(r.rows[0].value, 1.0);
    cr_assert_eq(r.rows[1].value, 2.0, "the last line needs no newline");
}

Test(csv, quoted_blanks_are_kept)
{
    rows_t r;
    parse_ok("version,metric,value,segment\ncanary,\" lat \",1,\" eu\"\n", &r);
    cr_assert_str_eq(r.rows[0].metric, " lat ");
    cr_assert_str_eq(r.rows[0].segment, " eu");
}

Test(csv, the_buffer_need_not_be_nul_terminated)
{
    const char text[] = "version,metric,value\ncanary,lat,12";
    rows_t r;
    memset(&r, 0, sizeof r);
    char err[256];
    cr_assert_eq(cn_judge_csv_parse(text, sizeof text - 2, "s.csv", collect, &r, err,
                                    sizeof err),
                 0, "%s", err);
    cr_assert_eq(r.rows[0].value, 1.0);
}

struct bad_case {
    const char *text;
    const char *message;
};

static const struct bad_case bad_cases[] = {
    {"", "s.csv: no samples (empty file)"},
    {"\n\r\n  \n", "s.csv: no samples (only blank lines)"},
    {"version,metric,value\n", "s.csv: no samples (a header only)"},
    {"version,metric,value\n\n\n", "s.csv: no samples (a header only)"},
    {"version,metric\nstable,x\n",
     "s.csv:1: the header has no 'value' column (expected version, metric, value and "
     "optionally segment)"},
    {"\nversion,metric,value,host\n",
     "s.csv:2: unknown column 'host' in the header (expected version, metric, value "
     "and optionally segment)"},
    {"version,metric,value,host,ts\n",
     "s.csv:1: unknown columns 'host', 'ts' in the header (expected version, metric, "
     "value and optionally segment)"},
    {"stable,lat,12\n",
     "s.csv:1: unknown columns 'stable', 'lat', '12' in the header (expected "
     "version, metric, value and optionally segment)"},
    {"version,metric,value,metric\n", "s.csv:1: column 'metric' appears twice in the "
                                      "header"},
    {"Version,metric,value\n",
     "s.csv:1: unknown column 'Version' in the header (expected version, metric, "
     "value and optionally segment)"},
    {"version,metric,value\nstable,lat\n",
     "s.csv:2: expected 3 fields as in the header, got 2"},
    {"version,metric,value\nstable,lat,1,\n",
     "s.csv:2: expected 3 fields as in the header, got 4"},
    {"version,metric,value\nstable,lat,1\nprod,lat,1\n",
     "s.csv:3: column 'version': must be 'stable' or 'canary', got 'prod'"},
    {"version,metric,value\nStable,lat,1\n",
     "s.csv:2: column 'version': must be 'stable' or 'canary', got 'Stable'"},
    {"metric,version,value\nlat,canary,abc\n",
     "s.csv:2: column 'value': 'abc' is not a number"},
    {"version,metric,value\ncanary,lat,1.5ms\n",
     "s.csv:2: column 'value': '1.5ms' is not a number"},
    {"version,metric,value\ncanary,lat,\n", "s.csv:2: column 'value': empty, expected "
                                            "a number"},
    {"version,metric,value\ncanary,lat,nan\n",
     "s.csv:2: column 'value': 'nan' is not finite (NaN/Inf)"},
    {"version,metric,value\ncanary,lat,-inf\n",
     "s.csv:2: column 'value': '-inf' is not finite (NaN/Inf)"},
    {"version,metric,value\ncanary,lat,1e999\n",
     "s.csv:2: column 'value': '1e999' overflows a double"},
    {"version,metric,value\ncanary,,1\n", "s.csv:2: column 'metric': must not be "
                                          "empty"},
    {"version,metric,value\ncanary,\"a\tb\",1\n",
     "s.csv:2: column 'metric': 'a?b' contains a control character"},
    {"version,metric,value,segment\ncanary,a,1,\"e\nu\"\n",
     "s.csv:2: column 'segment': 'e?u' contains a control character"},
    {"version,metric,value\ncanary,\"lat,1\n",
     "s.csv:2: column 'metric': quoted field has no closing quote"},
    {"version,metric,value\ncanary,lat\"x\",1\n",
     "s.csv:2: column 'metric': quote inside an unquoted field (quote the whole "
     "field and double the quote: \"a \"\"b\"\"\")"},
    {"version,metric,value\ncanary,\"lat\"x,1\n",
     "s.csv:2: column 'metric': unexpected text 'x' after the closing quote"},
    {"version,\"metric,value\n", "s.csv:1: field 2: quoted field has no closing quote"},
    /* a quoted field spanning lines: the error names the lines that follow */
    {"version,metric,value\n\"canary\",\"lat\",\"1\n2\"\nstable,lat,zz\n",
     "s.csv:2: column 'value': '1?2' is not a number"},
    {"version,metric,value,segment\n\"canary\",lat,1,\"a\nb\"\nprod,lat,1,x\n",
     "s.csv:2: column 'segment': 'a?b' contains a control character"},
};

Test(csv_errors, each_bad_input_gives_one_exact_line)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        rows_t r;
        char err[256];
        int rc = parse(bad_cases[i].text, &r, err);
        cr_expect_eq(rc, CN_EPARSE, "case %zu: rc %d (%s)", i, rc, err);
        cr_expect_str_eq(err, bad_cases[i].message, "case %zu", i);
        cr_expect_null(strchr(err, '\n'), "case %zu: one line", i);
    }
}

Test(csv_errors, line_numbers_count_newlines_inside_quotes)
{
    rows_t r;
    char err[256];
    cr_assert_eq(parse("version,metric,value\n"
                       "canary,lat,\"1\"\n"
                       "\"stable\",lat,\"2\"\n"
                       "\n"
                       "canary,lat,x\n",
                       &r, err),
                 CN_EPARSE);
    cr_assert_str_eq(err, "s.csv:5: column 'value': 'x' is not a number");
    cr_assert_eq(r.n, 2, "rows before the error were delivered");
}

Test(csv_errors, a_nul_byte_is_rejected)
{
    const char text[] = "version,metric,value\ncanary,l\0t,1\n";
    rows_t r;
    memset(&r, 0, sizeof r);
    char err[256];
    cr_assert_eq(cn_judge_csv_parse(text, sizeof text - 1, "s.csv", collect, &r, err,
                                    sizeof err),
                 CN_EPARSE);
    cr_assert_str_eq(err, "s.csv:2: unexpected NUL byte");
}

Test(csv_errors, names_longer_than_the_limit_are_rejected)
{
    char text[600];
    char name[CN_JUDGE_CSV_NAME_MAX + 2];
    memset(name, 'm', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(text, sizeof text, "version,metric,value\ncanary,%s,1\n", name);
    rows_t r;
    char err[256];
    cr_assert_eq(parse(text, &r, err), CN_EPARSE);
    cr_assert_str_eq(err, "s.csv:2: column 'metric': longer than 256 bytes");
    name[CN_JUDGE_CSV_NAME_MAX] = '\0';
    snprintf(text, sizeof text, "version,metric,value\ncanary,%s,1\n", name);
    parse_ok(text, &r);
}

Test(csv_errors, a_callback_error_stops_the_parse_and_names_the_line)
{
    rows_t r;
    memset(&r, 0, sizeof r);
    r.fail_at = 2;
    char err[256];
    const char *text = "version,metric,value\ncanary,a,1\n\ncanary,a,2\ncanary,a,3\n";
    cr_assert_eq(
        cn_judge_csv_parse(text, strlen(text), "s.csv", collect, &r, err, sizeof err),
        CN_ETOOBIG);
    cr_assert_str_eq(err, "s.csv:4: cannot add the sample: input too large");
    cr_assert_eq(r.n, 1);
}

Test(csv_data, rows_reach_the_data_set_by_metric_arm_and_segment)
{
    const char *text = "version,metric,value,segment\n"
                       "stable,lat,1,eu\n"
                       "stable,lat,2,\n"
                       "canary,lat,3,us\n"
                       "canary,err,0,eu\n";
    cn_judge_data_t *d = cn_judge_data_new();
    char err[256];
    cr_assert_eq(
        cn_judge_data_parse_csv(text, strlen(text), "s.csv", d, err, sizeof err), 0,
        "%s", err);
    const cn__judge_metric_data_t *lat = cn__judge_data_metric(d, "lat");
    cr_assert_not_null(lat);
    cr_assert_eq(lat->arm[CN_ARM_STABLE].n, 2);
    cr_assert_eq(lat->arm[CN_ARM_CANARY].n, 1);
    cr_assert_eq(lat->arm[CN_ARM_CANARY].values[0], 3.0);
    cr_assert_eq(cn__judge_data_n_segments(d), 2);
    const cn__judge_metric_data_t *e = cn__judge_data_metric(d, "err");
    cr_assert_not_null(e);
    cr_assert_eq(e->arm[CN_ARM_CANARY].n, 1);
    cn_judge_data_free(d);
}

static int count_segments(void *ctx, const char *metric, cn_judge_arm_t arm,
                          const char *segment, double value)
{
    (void)metric;
    (void)arm;
    (void)value;
    if (segment && strcmp(segment, "eu-west") == 0)
        ++*(int *)ctx;
    return 0;
}

Test(csv, the_segment_column_is_named_by_segment_by)
{
    const char *text = "version,metric,value,region\nstable,m,1,eu-west\n"
                       "canary,m,2,us-east\n";
    char err[256];
    int n = 0;
    cr_assert_eq(cn_judge_csv_parse_column(text, strlen(text), "s.csv", "region",
                                           count_segments, &n, err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(n, 1);
    /* Without it, 'region' is an unknown column, and the message says which
     * segment column was expected. */
    cr_assert_eq(cn_judge_csv_parse_column(text, strlen(text), "s.csv", "tier",
                                           count_segments, &n, err, sizeof err),
                 CN_EPARSE);
    cr_assert_str_eq(err, "s.csv:1: unknown column 'region' in the header (expected "
                          "version, metric, value and optionally tier)");
}
