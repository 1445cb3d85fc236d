/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's JSON writer: commas, shortest reals, escaping, and valid
 * UTF-8 out whatever bytes come in (segment labels come from headers).
 */
#include "api/jsonw.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

Test(jsonw, places_commas_and_colons)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "a");
    cn_jsonw_u64(&w, 1);
    cn_jsonw_key(&w, "b");
    cn_jsonw_array_begin(&w);
    cn_jsonw_bool(&w, true);
    cn_jsonw_null(&w);
    cn_jsonw_object_begin(&w);
    cn_jsonw_object_end(&w);
    cn_jsonw_array_begin(&w);
    cn_jsonw_array_end(&w);
    cn_jsonw_array_end(&w);
    cn_jsonw_key(&w, "c");
    cn_jsonw_cstr(&w, "x");
    cn_jsonw_object_end(&w);
    cr_assert_str_eq(w.text, "{\"a\":1,\"b\":[true,null,{},[]],\"c\":\"x\"}");
    cr_assert_not(w.overflow);
    cn_jsonw_dispose(&w);
}

Test(jsonw, writes_reals_in_the_shortest_form_and_non_finite_as_null)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024);
    cn_jsonw_array_begin(&w);
    double values[] = {0.1, 2.5, 1700000060.25, 1.0 / 3.0, 1e300, NAN, INFINITY};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        cn_jsonw_double(&w, values[i]);
    cn_jsonw_array_end(&w);
    cr_assert_str_eq(w.text,
                     "[0.1,2.5,1700000060.25,0.3333333333333333,1e+300,null,null]");
    json_t *j = json_loads(w.text, 0, NULL);
    cr_assert_eq(json_real_value(json_array_get(j, 3)), 1.0 / 3.0, "round trip");
    json_decref(j);
    cn_jsonw_dispose(&w);
}

Test(jsonw, escapes_quotes_backslashes_and_control_bytes)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024);
    cn_jsonw_string(&w, "a\"b\\c\nd\te\x01\x7f", 11);
    cr_assert_str_eq(w.text, "\"a\\\"b\\\\c\\nd\\te\\u0001\\u007f\"");
    cn_jsonw_dispose(&w);
}

Test(jsonw, keeps_valid_utf8_and_replaces_invalid_bytes)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"caf\xc3\xa9", "\"caf\xc3\xa9\""},                       /* U+00E9 */
        {"\xe2\x82\xac", "\"\xe2\x82\xac\""},                     /* U+20AC */
        {"\xf0\x9f\x90\xa6", "\"\xf0\x9f\x90\xa6\""},             /* U+1F426 */
        {"\xff", "\"\\ufffd\""},                                  /* never valid */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\""},                       /* overlong */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            /* surrogate */
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* > U+10FFFF */
        {"a\xc3", "\"a\\ufffd\""},                                /* cut short */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_jsonw_t w;
        cn_jsonw_init(&w, 1024);
        cn_jsonw_string(&w, cases[i].in, strlen(cases[i].in));
        cr_assert_str_eq(w.text, cases[i].out, "case %zu", i);
        json_error_t err;
        json_t *j = json_loads(w.text, JSON_DECODE_ANY, &err);
        cr_assert_not_null(j, "case %zu: %s", i, err.text);
        json_decref(j);
        cn_jsonw_dispose(&w);
    }
}

Test(jsonw, escapes_keys_like_strings)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024);
    cn_jsonw_object_begin(&w);
    cn_jsonw_key(&w, "eu \"west\"\n");
    cn_jsonw_u64(&w, 18446744073709551615u);
    cn_jsonw_object_end(&w);
    cr_assert_str_eq(w.text, "{\"eu \\\"west\\\"\\n\":18446744073709551615}");
    cn_jsonw_dispose(&w);
}

Test(jsonw, stops_at_max_bytes_and_says_so)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 16);
    cn_jsonw_array_begin(&w);
    for (int i = 0; i < 100; i++)
        cn_jsonw_u64(&w, 12345);
    cn_jsonw_array_end(&w);
    cr_assert(w.overflow);
    cr_assert_leq(w.len, 16);
    size_t len;
    char *text = cn_jsonw_take(&w, &len);
    cr_assert_eq(strlen(text), len);
    free(text);
}

Test(jsonw, aborts_on_a_value_without_a_key, .signal = SIGABRT)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024);
    cn_jsonw_object_begin(&w);
    cn_jsonw_u64(&w, 1);
}

Test(jsonw, ends_top_level_values_with_a_newline_and_no_comma)
{
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024);
    cn_jsonw_object_begin(&w);
    cn_jsonw_object_end(&w);
    cn_jsonw_newline(&w);
    cn_jsonw_u64(&w, 1);
    cn_jsonw_newline(&w);
    cr_assert_str_eq(w.text, "{}\n1\n");
    cn_jsonw_dispose(&w);
}
