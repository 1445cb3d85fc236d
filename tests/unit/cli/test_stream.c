/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The stream CSV of `canary monitor` (cli/stream.h): the columns in any
 * order, the dialect (quotes, CRLF, blank lines, a BOM), the values each
 * metric accepts, time order, and for each bad input the exact one-line
 * message naming file, line and column. Rows are collected through the
 * callback, so the assertions see exactly what the monitor is given.
 */
#include "cli/stream.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cn_stream_row_t row;
    char segment[CN_STREAM_NAME_MAX + 1];
    int has_segment;
} got_t;

typedef struct {
    got_t rows[32];
    size_t n;
    size_t fail_at; /* return CN_ETOOBIG at this row (1-based); 0 never */
} rows_t;

static int collect(void *ctx, const cn_stream_row_t *row)
{
    rows_t *r = ctx;
    if (r->fail_at && r->n + 1 == r->fail_at)
        return CN_ETOOBIG;
    cr_assert_lt(r->n, 32);
    got_t *g = &r->rows[r->n++];
    g->row = *row;
    g->has_segment = row->segment != NULL;
    snprintf(g->segment, sizeof g->segment, "%s", row->segment ? row->segment : "");
    g->row.segment = NULL; /* borrowed for the call only */
    return 0;
}

static int parse(const char *text, rows_t *rows, char *err)
{
    memset(rows, 0, sizeof *rows);
    return cn_stream_parse(text, strlen(text), "s.csv", collect, rows, err, 256);
}

static void parse_ok(const char *text, rows_t *rows)
{
    char err[256];
    int rc = parse(text, rows, err);
    cr_assert_eq(rc, 0, "unexpected error: %s", err);
}

Test(stream, reads_time_version_metric_and_value_with_their_lines)
{
    rows_t r;
    parse_ok("t,version,metric,value\n"
             "0,stable,error,0\n"
             "0.5,canary,error,1\n"
             "\n"
             "0.5,canary,latency_ms,12.25\n"
             "7,stable,prediction,-3e2\n",
             &r);
    cr_assert_eq(r.n, 4);
    cr_assert_eq(r.rows[0].row.t, 0.0);
    cr_assert_eq(r.rows[0].row.version, CN_ROLE_STABLE);
    cr_assert_eq(r.rows[0].row.metric, CN_SEQ_ERROR);
    cr_assert_eq(r.rows[0].row.value, 0.0);
    cr_assert_eq(r.rows[0].row.line, 2);
    cr_assert_eq(r.rows[1].row.version, CN_ROLE_CANARY);
    cr_assert_eq(r.rows[1].row.value, 1.0);
    cr_assert_eq(r.rows[2].row.metric, CN_SEQ_LATENCY);
    cr_assert_eq(r.rows[2].row.value, 12.25);
    cr_assert_eq(r.rows[2].row.line, 5, "blank lines are counted");
    cr_assert_eq(r.rows[3].row.metric, CN_SEQ_PREDICTION);
    cr_assert_eq(r.rows[3].row.value, -300.0, "a prediction may be any finite number");
    cr_assert_eq(r.rows[3].row.t, 7.0);
    for (size_t i = 0; i < r.n; i++)
        cr_assert_eq(r.rows[i].has_segment, 0);
}

Test(stream, columns_in_any_order_with_an_optional_segment)
{
    rows_t r;
    parse_ok("segment,value,metric,version,t\n"
             "eu,3,latency_ms,canary,1\n"
             ",4,latency_ms,stable,2\n"
             "\"us \"\"west\"\"\",0,error,stable,2\n",
             &r);
    cr_assert_eq(r.n, 3);
    cr_assert_eq(r.rows[0].has_segment, 1);
    cr_assert_str_eq(r.rows[0].segment, "eu");
    cr_assert_eq(r.rows[0].row.t, 1.0);
    cr_assert_eq(r.rows[0].row.value, 3.0);
    cr_assert_eq(r.rows[1].has_segment, 0, "an empty segment is none");
    cr_assert_str_eq(r.rows[2].segment, "us \"west\"");
}

Test(stream, crlf_blanks_quotes_and_a_bom_are_accepted)
{
    rows_t r;
    parse_ok("\xEF\xBB\xBFt , version,metric,value\r\n"
             "\r\n"
             " 1 ,\"canary\", error ,\" 1 \"\r\n"
             "2,stable,latency_ms,0",
             &r);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.rows[0].row.t, 1.0);
    cr_assert_eq(r.rows[0].row.value, 1.0, "blanks around a number are trimmed");
    cr_assert_eq(r.rows[0].row.line, 3);
    cr_assert_eq(r.rows[1].row.value, 0.0, "a last line without a newline");
}

Test(stream, equal_times_are_in_order)
{
    rows_t r;
    parse_ok("t,version,metric,value\n5,stable,error,0\n5,canary,error,0\n"
             "5.0,stable,error,1\n",
             &r);
    cr_assert_eq(r.n, 3);
}

Test(stream, the_buffer_need_not_be_nul_terminated)
{
    const char text[] = "t,version,metric,value\n1,canary,latency_ms,12";
    rows_t r;
    memset(&r, 0, sizeof r);
    char err[256];
    cr_assert_eq(
        cn_stream_parse(text, sizeof text - 2, "s.csv", collect, &r, err, sizeof err),
        0, "%s", err);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.rows[0].row.value, 1.0);
}

Test(stream, the_range_of_t_ends_at_its_maximum)
{
    rows_t r;
    parse_ok("t,version,metric,value\n0,stable,error,0\n1e11,stable,error,0\n", &r);
    cr_assert_eq(r.rows[1].row.t, CN_STREAM_T_MAX);
}

struct bad_case {
    const char *text;
    const char *message;
};

#define H "t,version,metric,value\n"

static const struct bad_case bad_cases[] = {
    {"", "s.csv: no samples (empty file)"},
    {"\n\r\n  \n", "s.csv: no samples (only blank lines)"},
    {H, "s.csv: no samples (a header only)"},
    {H "\n\n", "s.csv: no samples (a header only)"},
    {"t,version,metric\n1,stable,error\n",
     "s.csv:1: the header has no 'value' column (expected t, version, metric, value "
     "and optionally segment)"},
    {"version,metric,value\nstable,error,0\n",
     "s.csv:1: the header has no 't' column (expected t, version, metric, value and "
     "optionally segment)"},
    {"\ntime,version,metric,value\n",
     "s.csv:2: unknown column 'time' in the header (expected t, version, metric, "
     "value and optionally segment)"},
    {"t,version,metric,value,host,ts\n",
     "s.csv:1: unknown columns 'host', 'ts' in the header (expected t, version, "
     "metric, value and optionally segment)"},
    {"t,version,metric,value,t\n", "s.csv:1: column 't' appears twice in the header"},
    {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n",
     "s.csv:1: header has 17 columns; expected t, version, metric, value and "
     "optionally segment"},
    {H "1,stable,error\n", "s.csv:2: expected 4 fields as in the header, got 3"},
    {H "1,stable,error,0,\n", "s.csv:2: expected 4 fields as in the header, got 5"},
    {H "1,stable,error,0\n0.5,stable,error,0\n",
     "s.csv:3: column 't': time goes backwards: '0.5' is before 1 on line 2 (rows "
     "must be in time order)"},
    {H "0.3,stable,error,0\n\n0.29999,stable,error,0\n",
     "s.csv:4: column 't': time goes backwards: '0.29999' is before 0.3 on line 2 "
     "(rows must be in time order)"},
    {H "-1,stable,error,0\n",
     "s.csv:2: column 't': '-1' is out of range: seconds in [0, 1e+11]"},
    {H "1733568000123,stable,error,0\n",
     "s.csv:2: column 't': '1733568000123' is out of range: seconds in [0, 1e+11]"},
    {H "nan,stable,error,0\n", "s.csv:2: column 't': 'nan' is not finite (NaN/Inf)"},
    {H "inf,stable,error,0\n", "s.csv:2: column 't': 'inf' is not finite (NaN/Inf)"},
    {H ",stable,error,0\n", "s.csv:2: column 't': empty, expected a number"},
    {H "2024-01-01,stable,error,0\n",
     "s.csv:2: column 't': '2024-01-01' is not a number"},
    {H "0x1p3,stable,error,0\n",
     "s.csv:2: column 't': '0x1p3' is not a decimal number"},
    {H "1,canary,latency_ms,NaN\n",
     "s.csv:2: column 'value': 'NaN' is not finite (NaN/Inf)"},
    {H "1,canary,latency_ms,1e999\n",
     "s.csv:2: column 'value': '1e999' overflows a double"},
    {H "1,canary,latency_ms,12ms\n", "s.csv:2: column 'value': '12ms' is not a number"},
    {H "1,canary,error,0x1\n",
     "s.csv:2: column 'value': '0x1' is not a decimal number"},
    {H "1,canary,error,2\n", "s.csv:2: column 'value': an error is 0 or 1, got '2'"},
    {H "1,canary,error,0.5\n",
     "s.csv:2: column 'value': an error is 0 or 1, got '0.5'"},
    {H "1,canary,latency_ms,-0.001\n",
     "s.csv:2: column 'value': a latency_ms must be >= 0, got '-0.001'"},
    {H "1,prod,error,0\n",
     "s.csv:2: column 'version': must be 'stable' or 'canary', got 'prod'"},
    {H "1,Canary,error,0\n",
     "s.csv:2: column 'version': must be 'stable' or 'canary', got 'Canary'"},
    {H "1,v2,error,0\n", "s.csv:2: column 'version': must be 'stable' or 'canary', got "
                         "'v2'"},
    {H "1,canary,cpu_ms,3\n",
     "s.csv:2: column 'metric': must be 'error', 'latency_ms' or 'prediction', got "
     "'cpu_ms'"},
    {H "1,canary,,3\n", "s.csv:2: column 'metric': must be 'error', 'latency_ms' or "
                        "'prediction', got ''"},
    {"t,version,metric,value,segment\n1,canary,error,0,\"a\tb\"\n",
     "s.csv:2: column 'segment': 'a?b' contains a control character"},
    {H "1,\"canary,error,0\n", "s.csv:2: column 'version': quoted field has no closing "
                               "quote"},
    {H "1,can\"ary,error,0\n",
     "s.csv:2: column 'version': quote inside an unquoted field (quote the whole "
     "field and double the quote: \"a \"\"b\"\"\")"},
    {H "1,\"canary\"x,error,0\n",
     "s.csv:2: column 'version': unexpected text 'x' after the closing quote"},
    {"t,\"version,metric,value\n", "s.csv:1: field 2: quoted field has no closing "
                                   "quote"},
    /* a quoted field spanning lines: later messages name the right lines */
    {"t,version,metric,value,segment\n1,canary,error,0,\"a\nb\"\n",
     "s.csv:2: column 'segment': 'a?b' contains a control character"},
    {H "1,\"canary\",error,\"1\n\"\n2,canary,error,zz\n",
     "s.csv:2: column 'value': '1?' is not a number"},
};

Test(stream_errors, each_bad_input_gives_one_exact_line)
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

Test(stream_errors, line_numbers_count_newlines_inside_quotes)
{
    rows_t r;
    char err[256];
    cr_assert_eq(parse("t,version,metric,value,segment\n"
                       "1,canary,error,0,\"\"\n"
                       "\"2\",\"stable\",error,\"1\",\"\"\n"
                       "\n"
                       "3,canary,latency_ms,x,\n",
                       &r, err),
                 CN_EPARSE);
    cr_assert_str_eq(err, "s.csv:5: column 'value': 'x' is not a number");
    cr_assert_eq(r.n, 2, "rows before the error were delivered");
}

Test(stream_errors, a_nul_byte_is_rejected)
{
    const char text[] = "t,version,metric,value\n1,canary,er\0ror,1\n";
    rows_t r;
    memset(&r, 0, sizeof r);
    char err[256];
    cr_assert_eq(
        cn_stream_parse(text, sizeof text - 1, "s.csv", collect, &r, err, sizeof err),
        CN_EPARSE);
    cr_assert_str_eq(err, "s.csv:2: unexpected NUL byte");
}

Test(stream_errors, segments_longer_than_the_limit_are_rejected)
{
    char text[700];
    char name[CN_STREAM_NAME_MAX + 2];
    memset(name, 's', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    snprintf(text, sizeof text, "t,version,metric,value,segment\n1,canary,error,1,%s\n",
             name);
    rows_t r;
    char err[256];
    cr_assert_eq(parse(text, &r, err), CN_EPARSE);
    cr_assert_str_eq(err, "s.csv:2: column 'segment': longer than 256 bytes");
    name[CN_STREAM_NAME_MAX] = '\0';
    snprintf(text, sizeof text, "t,version,metric,value,segment\n1,canary,error,1,%s\n",
             name);
    parse_ok(text, &r);
    cr_assert_eq(strlen(r.rows[0].segment), CN_STREAM_NAME_MAX);
}

Test(stream_errors, a_callback_error_stops_the_parse_and_names_the_line)
{
    rows_t r;
    memset(&r, 0, sizeof r);
    r.fail_at = 2;
    char err[256];
    const char *text = H "1,canary,error,1\n\n2,canary,error,0\n3,canary,error,0\n";
    cr_assert_eq(
        cn_stream_parse(text, strlen(text), "s.csv", collect, &r, err, sizeof err),
        CN_ETOOBIG);
    cr_assert_str_eq(err, "s.csv:4: cannot use the row: input too large");
    cr_assert_eq(r.n, 1);
}

Test(stream_errors, a_null_text_is_an_empty_file_and_err_may_be_null)
{
    rows_t r;
    memset(&r, 0, sizeof r);
    char err[256];
    cr_assert_eq(cn_stream_parse(NULL, 0, "s.csv", collect, &r, err, sizeof err),
                 CN_EPARSE);
    cr_assert_str_eq(err, "s.csv: no samples (empty file)");
    const char *bad = H "1,canary,error,7\n";
    cr_assert_eq(cn_stream_parse(bad, strlen(bad), NULL, collect, &r, NULL, 0),
                 CN_EPARSE);
}
