/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prediction extraction: compiling JSON Pointers (RFC 6901) and presets, and
 * reading the prediction out of KServe v2 / Open Inference and TF Serving
 * response bodies, with a distinct reason for each kind of bad body.
 */
#include "router/extract.h"
#include "util/error.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Compile `pointer`, extract from `body`, dispose; returns the code. */
static int extract(const char *pointer, const char *body, double *value)
{
    cn_router_pointer_t p;
    char err[256];
    int rc = cn_router_pointer_compile(pointer, &p, err, sizeof err);
    cr_assert_eq(rc, 0, "compile '%s': %s", pointer, err);
    rc = cn_router_extract_prediction(&p, body, strlen(body), value);
    cn_router_pointer_dispose(&p);
    return rc;
}

static int extract_preset(const char *preset, const char *body, double *value)
{
    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_pointer_preset(preset, &p, err, sizeof err), 0, "%s", err);
    int rc = cn_router_extract_prediction(&p, body, strlen(body), value);
    cn_router_pointer_dispose(&p);
    return rc;
}

Test(extract, reads_a_kserve_v2_response_with_the_preset)
{
    const char *body = "{\"model_name\":\"m\",\"model_version\":\"2\",\"id\":\"42\","
                       "\"outputs\":[{\"name\":\"out\",\"shape\":[1,1],"
                       "\"datatype\":\"FP32\",\"data\":[0.73]}]}";
    double v = -1;
    cr_assert_eq(extract_preset("kserve-v2", body, &v), 0);
    cr_assert_eq(v, 0.73);
    v = -1;
    cr_assert_eq(extract_preset("open-inference", body, &v), 0);
    cr_assert_eq(v, 0.73);
}

Test(extract, reads_the_first_of_several_kserve_outputs)
{
    const char *body = "{\"model_name\":\"iris\",\"outputs\":["
                       "{\"name\":\"proba\",\"shape\":[3],\"datatype\":\"FP64\","
                       "\"data\":[0.1,0.7,0.2]},"
                       "{\"name\":\"label\",\"shape\":[1],\"datatype\":\"INT64\","
                       "\"data\":[1]}]}";
    double v = -1;
    cr_assert_eq(extract_preset("kserve-v2", body, &v), 0);
    cr_assert_eq(v, 0.1);
    cr_assert_eq(extract("/outputs/1/data/0", body, &v), 0);
    cr_assert_eq(v, 1.0);
}

Test(extract, reads_tf_serving_scalar_and_one_element_row_predictions)
{
    double v = -1;
    cr_assert_eq(extract_preset("tf-serving", "{\"predictions\": [0.9, 0.1]}", &v), 0);
    cr_assert_eq(v, 0.9);
    /* A one-output model answers [[0.2]]: the row is unwrapped. */
    cr_assert_eq(extract_preset("tf-serving", "{\"predictions\":[[0.2]]}", &v), 0);
    cr_assert_eq(v, 0.2);
}

Test(extract, rejects_multi_element_and_nested_rows_as_wrong_type)
{
    double v = -1;
    cr_assert_eq(extract_preset("tf-serving", "{\"predictions\":[[0.2,0.8]]}", &v),
                 CN_EINVAL);
    cr_assert_eq(extract_preset("tf-serving", "{\"predictions\":[[]]}", &v), CN_EINVAL);
    cr_assert_eq(extract_preset("tf-serving", "{\"predictions\":[[[0.2]]]}", &v),
                 CN_EINVAL);
    cr_assert_eq(extract_preset("tf-serving", "{\"predictions\":[[true]]}", &v),
                 CN_EINVAL);
    cr_assert_eq(v, -1, "nothing is written on error");
}

Test(extract, reads_integers_booleans_and_whole_documents)
{
    double v = -1;
    cr_assert_eq(extract("/label", "{\"label\": 3}", &v), 0);
    cr_assert_eq(v, 3.0);
    cr_assert_eq(extract("/label", "{\"label\": -12}", &v), 0);
    cr_assert_eq(v, -12.0);
    cr_assert_eq(extract("/fraud", "{\"fraud\": true}", &v), 0);
    cr_assert_eq(v, 1.0);
    cr_assert_eq(extract("/fraud", "{\"fraud\": false}", &v), 0);
    cr_assert_eq(v, 0.0);
    cr_assert_eq(extract("", " 0.5\n", &v), 0);
    cr_assert_eq(v, 0.5);
    cr_assert_eq(extract("", "false", &v), 0);
    cr_assert_eq(v, 0.0);
    cr_assert_eq(extract("", "[7]", &v), 0);
    cr_assert_eq(v, 7.0);
}

Test(extract, reads_integers_beyond_int64_as_the_nearest_double)
{
    double v = -1;
    cr_assert_eq(extract("/n", "{\"n\": 100000000000000000000000}", &v), 0);
    cr_assert_eq(v, 1e23);
    cr_assert_eq(extract("/n", "{\"n\": 1e-400}", &v), 0);
    cr_assert_eq(v, 0.0);
}

Test(extract, unescapes_tilde_and_slash_in_keys)
{
    const char *body = "{\"a/b\": 1, \"m~n\": 2, \"~1\": 3, \"\": 4, \" \": 5}";
    double v = -1;
    cr_assert_eq(extract("/a~1b", body, &v), 0);
    cr_assert_eq(v, 1.0);
    cr_assert_eq(extract("/m~0n", body, &v), 0);
    cr_assert_eq(v, 2.0);
    cr_assert_eq(extract("/~01", body, &v), 0, "~01 is the key '~1', not '/'");
    cr_assert_eq(v, 3.0);
    cr_assert_eq(extract("/", body, &v), 0, "'/' is the empty key");
    cr_assert_eq(v, 4.0);
    cr_assert_eq(extract("/ ", body, &v), 0);
    cr_assert_eq(v, 5.0);
}

Test(extract, treats_digit_keys_as_object_keys_and_strict_indices_for_arrays)
{
    double v = -1;
    cr_assert_eq(extract("/0", "{\"0\": 8}", &v), 0);
    cr_assert_eq(v, 8.0);
    cr_assert_eq(extract("/01", "{\"01\": 9}", &v), 0);
    cr_assert_eq(v, 9.0);
    cr_assert_eq(extract("/1", "[5, 6]", &v), 0);
    cr_assert_eq(v, 6.0);
    cr_assert_eq(extract("/01", "[5, 6]", &v), CN_ENOTFOUND, "leading zero");
    cr_assert_eq(extract("/-", "[5, 6]", &v), CN_ENOTFOUND, "'-' is past the end");
    cr_assert_eq(extract("/+1", "[5, 6]", &v), CN_ENOTFOUND);
    cr_assert_eq(extract("/1x", "[5, 6]", &v), CN_ENOTFOUND);
    cr_assert_eq(extract("/2", "[5, 6]", &v), CN_ENOTFOUND);
    cr_assert_eq(extract("/", "[5, 6]", &v), CN_ENOTFOUND);
    cr_assert_eq(extract("/99999999999999999999999999", "[5]", &v), CN_ENOTFOUND);
}

Test(extract, reports_missing_fields)
{
    double v = -1;
    cr_assert_eq(extract_preset("kserve-v2", "{\"outputs\":[]}", &v), CN_ENOTFOUND);
    cr_assert_eq(extract_preset("kserve-v2", "{\"error\":\"model not ready\"}", &v),
                 CN_ENOTFOUND);
    cr_assert_eq(extract_preset("tf-serving", "{\"outputs\":[0.5]}", &v), CN_ENOTFOUND);
    cr_assert_eq(extract("/a/b", "{\"a\": 1}", &v), CN_ENOTFOUND, "through a number");
    cr_assert_eq(extract("/a/b", "{\"a\": \"xy\"}", &v), CN_ENOTFOUND);
    cr_assert_eq(extract("/A", "{\"a\": 1}", &v), CN_ENOTFOUND, "case matters");
    cr_assert_eq(v, -1);
}

Test(extract, reports_wrong_types)
{
    double v = -1;
    cr_assert_eq(extract("/p", "{\"p\": \"0.5\"}", &v), CN_EINVAL);
    cr_assert_eq(extract("/p", "{\"p\": null}", &v), CN_EINVAL);
    cr_assert_eq(extract("/p", "{\"p\": {}}", &v), CN_EINVAL);
    cr_assert_eq(extract("/p", "{\"p\": {\"0\": 1}}", &v), CN_EINVAL);
    cr_assert_eq(extract("/p", "{\"p\": [\"1\"]}", &v), CN_EINVAL);
    cr_assert_eq(extract("", "{\"p\": 1}", &v), CN_EINVAL);
    cr_assert_eq(extract("", "\"1\"", &v), CN_EINVAL);
    cr_assert_eq(v, -1);
}

Test(extract, reports_bodies_that_are_not_json)
{
    const char *bodies[] = {
        "",
        " ",
        "<html><body>502 Bad Gateway</body></html>",
        "Internal Server Error",
        "{\"p\": 1}{\"p\": 2}",
        "{\"p\": 1} x",
        "{'p': 1}",
        "{\"p\": NaN}",
        "{\"p\": Infinity}",
        "{\"p\": -Infinity}",
        "{\"p\": 01}",
        "{\"p\": 1.}",
        "{\"p\": .5}",
        "{\"p\": 0x10}",
        "{\"p\": \"\xff\"}",
        "[1,]",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        double v = -1;
        cr_assert_eq(extract("/p", bodies[i], &v), CN_EPARSE, "body '%s'", bodies[i]);
        cr_assert_eq(v, -1);
    }
}

Test(extract, reports_every_truncation_of_a_kserve_body_as_not_json)
{
    const char *body = "{\"outputs\":[{\"name\":\"out\",\"shape\":[1],"
                       "\"datatype\":\"FP32\",\"data\":[0.73]}]}";
    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_pointer_preset("kserve-v2", &p, err, sizeof err), 0);
    for (size_t len = 0; len < strlen(body); len++) {
        double v = -1;
        cr_assert_eq(cn_router_extract_prediction(&p, body, len, &v), CN_EPARSE,
                     "prefix of %zu bytes", len);
    }
    double v = -1;
    cr_assert_eq(cn_router_extract_prediction(&p, body, strlen(body), &v), 0);
    cr_assert_eq(v, 0.73);
    cn_router_pointer_dispose(&p);
}

Test(extract, reads_bodies_that_are_not_nul_terminated)
{
    char body[] = {'{', '"', 'p', '"', ':', '4', '2', '}'};
    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_pointer_compile("/p", &p, err, sizeof err), 0);
    double v = -1;
    cr_assert_eq(cn_router_extract_prediction(&p, body, sizeof body, &v), 0);
    cr_assert_eq(v, 42.0);
    cr_assert_eq(cn_router_extract_prediction(&p, body, sizeof body - 2, &v),
                 CN_EPARSE);
    cn_router_pointer_dispose(&p);
}

Test(extract, reports_numbers_beyond_double_range_as_non_finite)
{
    double v = -1;
    cr_assert_eq(extract("/p", "{\"p\": 1e400}", &v), CN_ENONFINITE);
    cr_assert_eq(extract("/p", "{\"p\": -1e400}", &v), CN_ENONFINITE);
    /* jansson rejects the whole body, wherever the overflow is. */
    cr_assert_eq(extract("/p", "{\"p\": 1, \"q\": 1e309}", &v), CN_ENONFINITE);
    cr_assert_eq(v, -1);
}

/* "[[[...1...]]]" with `depth` brackets on each side. */
static char *nested(size_t depth, size_t *len)
{
    *len = 2 * depth + 1;
    char *s = malloc(*len + 1);
    memset(s, '[', depth);
    s[depth] = '1';
    memset(s + depth + 1, ']', depth);
    s[*len] = '\0';
    return s;
}

Test(extract, bounds_nesting_depth)
{
    cn_router_pointer_t p;
    char err[256];
    size_t len;
    double v = -1;

    /* Shallow enough: the pointer walks 9 levels, the 10th is unwrapped. */
    char *ok = nested(10, &len);
    cr_assert_eq(cn_router_pointer_compile("/0/0/0/0/0/0/0/0/0", &p, err, sizeof err),
                 0);
    cr_assert_eq(cn_router_extract_prediction(&p, ok, len, &v), 0);
    cr_assert_eq(v, 1.0);
    cn_router_pointer_dispose(&p);
    free(ok);

    char *deep = nested(100000, &len);
    cr_assert_eq(cn_router_pointer_compile("/0", &p, err, sizeof err), 0);
    cr_assert_eq(cn_router_extract_prediction(&p, deep, len, &v), CN_ETOOBIG);
    /* Unbalanced, as an attacker would send: still bounded. */
    cr_assert_eq(cn_router_extract_prediction(&p, deep, len / 2, &v), CN_ETOOBIG);
    cn_router_pointer_dispose(&p);
    free(deep);
}

Test(extract, rejects_bodies_over_the_size_limit_before_parsing)
{
    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_pointer_compile("", &p, err, sizeof err), 0);
    double v = -1;
    /* The body is never read when the length is over the limit. */
    const char one[] = "1";
    cr_assert_eq(
        cn_router_extract_prediction(&p, one, CN_ROUTER_EXTRACT_MAX_BYTES + 1, &v),
        CN_ETOOBIG);
    cr_assert_eq(cn_router_extract_prediction(&p, one, 1, &v), 0);
    cr_assert_eq(v, 1.0);
    cr_assert_eq(cn_router_extract_prediction(&p, NULL, 0, &v), CN_EPARSE);
    cr_assert_eq(cn_router_extract_prediction(&p, NULL, 1, &v), CN_EINVAL);
    cr_assert_eq(cn_router_extract_prediction(NULL, one, 1, &v), CN_EINVAL);
    cn_router_pointer_dispose(&p);
}

Test(extract, compiles_tokens_with_decoded_indices)
{
    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_pointer_compile("/a~1b/0/~0/-/07/", &p, err, sizeof err), 0);
    cr_assert_eq(p.ntokens, 6);
    cr_assert_str_eq(p.tokens[0].name, "a/b");
    cr_assert_eq(p.tokens[0].index, SIZE_MAX);
    cr_assert_str_eq(p.tokens[1].name, "0");
    cr_assert_eq(p.tokens[1].index, 0);
    cr_assert_str_eq(p.tokens[2].name, "~");
    cr_assert_str_eq(p.tokens[3].name, "-");
    cr_assert_eq(p.tokens[3].index, SIZE_MAX);
    cr_assert_eq(p.tokens[4].index, SIZE_MAX);
    cr_assert_str_eq(p.tokens[5].name, "");
    cr_assert_eq(p.tokens[5].name_len, 0);
    cn_router_pointer_dispose(&p);
    cr_assert_eq(p.ntokens, 0);
    cn_router_pointer_dispose(&p); /* twice is harmless */
    cn_router_pointer_dispose(NULL);
}

struct bad_pointer {
    const char *text;
    const char *message;
};

Test(extract, rejects_malformed_pointers_with_one_line_messages)
{
    struct bad_pointer cases[] = {
        {"outputs/0", "JSON pointer 'outputs/0': must be empty or start with '/'"},
        {"#/a", "JSON pointer '#/a': must be empty or start with '/'"},
        {"/a~", "JSON pointer '/a~': '~' at offset 2 must be followed by '0' or '1'"},
        {"/a~2b", "JSON pointer '/a~2b': '~' at offset 2 must be followed by '0' or "
                  "'1'"},
        {"/~~0", "JSON pointer '/~~0': '~' at offset 1 must be followed by '0' or '1'"},
        {"a\nb", "JSON pointer 'a?b': must be empty or start with '/'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_router_pointer_t p;
        char err[256] = "";
        cr_assert_eq(cn_router_pointer_compile(cases[i].text, &p, err, sizeof err),
                     CN_EPARSE, "pointer '%s'", cases[i].text);
        cr_assert_str_eq(err, cases[i].message);
        cr_assert_eq(p.ntokens, 0);
        cr_assert_null(p.tokens);
        cn_router_pointer_dispose(&p);
    }
}

Test(extract, shortens_long_pointers_in_messages)
{
    char text[200];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_pointer_compile(text, &p, err, sizeof err), CN_EPARSE);
    cr_assert_lt(strlen(err), 140);
    cr_assert_not_null(strstr(err, "xxx...': must be empty"));
}

Test(extract, names_presets_and_rejects_unknown_ones)
{
    cr_assert_str_eq(cn_router_pointer_preset_text("kserve-v2"), "/outputs/0/data/0");
    cr_assert_str_eq(cn_router_pointer_preset_text("open-inference"),
                     "/outputs/0/data/0");
    cr_assert_str_eq(cn_router_pointer_preset_text("tf-serving"), "/predictions/0");
    cr_assert_null(cn_router_pointer_preset_text("triton"));
    cr_assert_null(cn_router_pointer_preset_text(NULL));

    cn_router_pointer_t p;
    char err[256];
    cr_assert_eq(cn_router_pointer_preset("kserve", &p, err, sizeof err), CN_ENOTFOUND);
    cr_assert_str_eq(err, "unknown prediction preset 'kserve' (expected kserve-v2, "
                          "open-inference or tf-serving)");
    cr_assert_null(p.tokens);
    cn_router_pointer_dispose(&p);
}

/* The allocation-free fast path answers only when it agrees with the full
 * jansson parse: same code, same value bits, on inputs that exercise each
 * of its give-up rules. */
Test(extract, fast_path_agrees_with_jansson)
{
    static const struct {
        const char *pointer, *body;
    } cases[] = {
        {"/outputs/0/data/0",
         "{\"model_name\":\"m\",\"outputs\":[{\"name\":\"p\",\"shape\":[1],"
         "\"datatype\":\"FP64\",\"data\":[0.25]}]}"},
        {"/predictions/0", " { \"predictions\" : [ [ 0.5 ] ] } \n"},
        {"/predictions/0", "{\"predictions\":[true]}"},
        {"/a", "{\"a\":1,\"a\":2}"}, /* repeated key: last wins */
        {"/a", "{\"a\":{\"b\":1},\"a\":3}"},
        {"/a", "{\"a\":1e308,\"b\":1e309}"}, /* overflow elsewhere */
        {"/a", "{\"a\":12345678901234567890123456789012345678901234}"},
        {"/a", "{\"a\":-0.0e-99}"},
        {"/a", "{\"a\":1,\"s\":\"caf\\u00e9\"}"},  /* escape: jansson decides */
        {"/a", "{\"a\":1,\"s\":\"caf\xc3\xa9\"}"}, /* UTF-8: jansson decides */
        {"/a", "{\"a\":1,\"s\":\"bad \xff\"}"},    /* invalid UTF-8 */
        {"/a", "{\"a\":01}"},
        {"/a", "{\"a\":1} x"},
        {"/a", "{\"a\":[1,2]}"},
        {"/a", "{\"a\":[\"1\"]}"},
        {"/a", "{\"a\":null}"},
        {"/b", "{\"a\":1}"},
        {"", "42"},
        {"", " 4.5e1 "},
        {"/0", "[7,8]"},
        {"/1", "[7,8]"},
        {"/-", "[7,8]"},
        {"/a", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
               "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_router_pointer_t p;
        char err[200];
        cr_assert_eq(cn_router_pointer_compile(cases[i].pointer, &p, err, sizeof err),
                     0);
        double a = -1, b = -1;
        size_t n = strlen(cases[i].body);
        int ra = cn_router_extract_prediction(&p, cases[i].body, n, &a);
        int rb = cn_router_extract_prediction_jansson(&p, cases[i].body, n, &b);
        cr_assert_eq(ra, rb, "case %zu: %d vs jansson %d", i, ra, rb);
        cr_assert(memcmp(&a, &b, sizeof a) == 0, "case %zu: %.17g vs %.17g", i, a, b);
        cn_router_pointer_dispose(&p);
    }
}
