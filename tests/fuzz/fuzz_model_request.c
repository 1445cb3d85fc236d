/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the example model server's parsers
 * (examples/model-server/model.c). The first byte chooses: even, the rest
 * is an inference request for a small fixed model (one number as is, one
 * through log1p, one category); odd, the rest is a model file, and a model
 * that parses is asked one fixed request. Any bytes must give either an
 * error (CN_EINVAL for a request, CN_EPARSE for a model; one non-empty
 * line, no output) or an answer that is JSON with one output of N
 * probabilities, each in [0, 1].
 */
#include "model.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char MODEL[] =
    "{\"format\":\"canary-example-logreg/"
    "1\",\"model_name\":\"m\",\"model_version\":\"v1\","
    "\"output\":\"probability\",\"intercept\":-1.5,\"features\":["
    "{\"name\":\"age\",\"type\":\"numeric\",\"transform\":\"identity\",\"mean\":38.5,"
    "\"scale\":13.6,\"weight\":0.4},"
    "{\"name\":\"gain\",\"type\":\"numeric\",\"transform\":\"log1p\",\"mean\":0.7,"
    "\"scale\":2.4,\"weight\":0.8},"
    "{\"name\":\"sector\",\"type\":\"categorical\",\"categories\":[\"gov\",\"private\"]"
    ","
    "\"weights\":[0.3,-0.2]}]}";

static const char REQUEST[] =
    "{\"inputs\":[{\"name\":\"age\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[40]}"
    ","
    "{\"name\":\"gain\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[0]},"
    "{\"name\":\"sector\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"gov\"]}]}";

static void check_error(int rc, int want, const char *err)
{
    if (rc != want || !err[0] || strchr(err, '\n'))
        abort();
}

static void check_answer(const char *out, size_t len)
{
    if (strlen(out) != len)
        abort();
    json_error_t jerr;
    json_t *root = json_loadb(out, len, 0, &jerr);
    json_t *outputs = json_object_get(root, "outputs");
    json_t *values = json_object_get(json_array_get(outputs, 0), "data");
    json_t *shape = json_object_get(json_array_get(outputs, 0), "shape");
    if (!root || json_array_size(outputs) != 1 || json_array_size(values) == 0 ||
        json_integer_value(json_array_get(shape, 0)) !=
            (json_int_t)json_array_size(values))
        abort();
    for (size_t i = 0; i < json_array_size(values); i++) {
        double p = json_number_value(json_array_get(values, i));
        if (!json_is_number(json_array_get(values, i)) || !(p >= 0 && p <= 1))
            abort();
    }
    json_decref(root);
}

static void infer(const ms_model_t *m, const char *body, size_t len)
{
    char err[512] = "";
    char *out = NULL;
    size_t out_len = 0;
    int rc = ms_model_infer(m, body, len, &out, &out_len, err, sizeof err);
    if (rc) {
        check_error(rc, CN_EINVAL, err);
        if (out)
            abort();
        return;
    }
    check_answer(out, out_len);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char err[512] = "";
    ms_model_t *m = NULL;
    if (data[0] % 2 == 0) {
        if (ms_model_parse(MODEL, sizeof MODEL - 1, &m, err, sizeof err))
            abort();
        infer(m, text, len);
    } else {
        int rc = ms_model_parse(text, len, &m, err, sizeof err);
        if (rc) {
            check_error(rc, CN_EPARSE, err);
            return 0;
        }
        infer(m, REQUEST, sizeof REQUEST - 1);
    }
    ms_model_free(m);
    return 0;
}
