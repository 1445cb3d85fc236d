/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The example model server's model: the exported logistic regression
 * (parsed once, checked field by field) and the KServe v2 requests it
 * answers. See model.h for the contract and README.md for both formats.
 *
 * Every request is checked whole before anything is computed, so a bad
 * request gets one line naming its first fault, and a good one gets the
 * numbers sklearn would give. Both documents are parsed by jansson
 * (duplicate keys refused); the checks on top of it are this file's.
 */
#include "model.h"

#include "util/buf.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/text.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define FORMAT_NAME "canary-example-logreg/1"
#define NAME_MAX_BYTES 64u
#define MAX_FEATURES 256u
#define MAX_CATEGORIES 4096u
#define MAX_CATEGORY_BYTES 256u
/* The quoted pieces of a request in a message. */
#define QUOTE_MAX 64u
/* How much of the vocabulary a message about an unknown category lists. */
#define VOCAB_LIST_BYTES 160u

typedef enum kind_e {
    KIND_NUMERIC = 0,
    KIND_CATEGORICAL = 1,
} kind_t;

typedef enum transform_e {
    TRANSFORM_IDENTITY = 0,
    TRANSFORM_LOG1P = 1,
} transform_t;

typedef struct feature_s {
    char name[NAME_MAX_BYTES + 1];
    kind_t kind;
    /* numeric */
    transform_t transform;
    double mean, scale, weight;
    /* categorical */
    char **categories;
    double *weights;
    size_t ncategories;
} feature_t;

struct ms_model_s {
    char name[NAME_MAX_BYTES + 1];
    char version[NAME_MAX_BYTES + 1];
    char output[NAME_MAX_BYTES + 1];
    double intercept;
    feature_t *features;
    size_t nfeatures;
};

/* The datatypes of the Open Inference Protocol that a number may come
 * in, with the integral range of the integer ones. */
typedef struct datatype_s {
    const char *name;
    bool integral;
    long long min, max;
} datatype_t;

static const datatype_t NUMERIC_TYPES[] = {
    {"INT8", true, INT8_MIN, INT8_MAX},
    {"INT16", true, INT16_MIN, INT16_MAX},
    {"INT32", true, INT32_MIN, INT32_MAX},
    {"INT64", true, LLONG_MIN, LLONG_MAX},
    {"UINT8", true, 0, UINT8_MAX},
    {"UINT16", true, 0, UINT16_MAX},
    {"UINT32", true, 0, UINT32_MAX},
    {"UINT64", true, 0, LLONG_MAX}, /* jansson holds no more */
    {"FP16", false, 0, 0},
    {"FP32", false, 0, 0},
    {"FP64", false, 0, 0},
};

/* ------------------------------------------------------------ the model */

/* A name that may go into a URL or a message as it is. */
static bool name_ok(const char *s)
{
    static const char allowed[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_.-";
    size_t n = strlen(s);
    return n > 0 && n <= NAME_MAX_BYTES && strspn(s, allowed) == n;
}

static int get_name(const json_t *obj, const char *key, const char *where, char *dst,
                    char *err, size_t errlen)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s || !name_ok(s))
        return cn_fail(
            err, errlen, CN_EPARSE,
            "%s%s: expected a name of 1 to %u letters, digits, '_', '.' or '-'", where,
            key, NAME_MAX_BYTES);
    snprintf(dst, NAME_MAX_BYTES + 1, "%s", s);
    return 0;
}

static int get_finite(const json_t *obj, const char *key, const char *where,
                      double *out, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return cn_fail(err, errlen, CN_EPARSE, "%s%s: expected a finite number", where,
                       key);
    *out = json_number_value(v);
    return 0;
}

static void feature_dispose(feature_t *f)
{
    for (size_t i = 0; i < f->ncategories; i++)
        free(f->categories[i]);
    free(f->categories);
    free(f->weights);
}

static int parse_numeric(const json_t *jf, const char *where, feature_t *f, char *err,
                         size_t errlen)
{
    const char *t = json_string_value(json_object_get(jf, "transform"));
    if (!t || (strcmp(t, "identity") != 0 && strcmp(t, "log1p") != 0))
        return cn_fail(err, errlen, CN_EPARSE,
                       "%stransform: expected \"identity\" or \"log1p\"", where);
    f->transform = strcmp(t, "log1p") == 0 ? TRANSFORM_LOG1P : TRANSFORM_IDENTITY;
    int rc = get_finite(jf, "mean", where, &f->mean, err, errlen);
    if (!rc)
        rc = get_finite(jf, "scale", where, &f->scale, err, errlen);
    if (!rc && !(f->scale > 0))
        rc = cn_fail(err, errlen, CN_EPARSE, "%sscale: expected a number > 0", where);
    if (!rc)
        rc = get_finite(jf, "weight", where, &f->weight, err, errlen);
    return rc;
}

static int parse_categorical(const json_t *jf, const char *where, feature_t *f,
                             char *err, size_t errlen)
{
    const json_t *cats = json_object_get(jf, "categories");
    const json_t *ws = json_object_get(jf, "weights");
    size_t n = json_array_size(cats);
    if (!json_is_array(cats) || n == 0 || n > MAX_CATEGORIES)
        return cn_fail(err, errlen, CN_EPARSE,
                       "%scategories: expected an array of 1 to %u strings", where,
                       MAX_CATEGORIES);
    if (!json_is_array(ws) || json_array_size(ws) != n)
        return cn_fail(err, errlen, CN_EPARSE,
                       "%sweights: expected an array of %zu numbers, one per category",
                       where, n);
    f->categories = cn_xcalloc(n, sizeof *f->categories);
    f->weights = cn_xcalloc(n, sizeof *f->weights);
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(cats, i);
        const json_t *w = json_array_get(ws, i);
        if (!json_is_string(c) || json_string_length(c) == 0 ||
            json_string_length(c) > MAX_CATEGORY_BYTES ||
            strlen(json_string_value(c)) != json_string_length(c))
            return cn_fail(err, errlen, CN_EPARSE,
                           "%scategories[%zu]: expected a string of 1 to %u bytes",
                           where, i, MAX_CATEGORY_BYTES);
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->categories[j], json_string_value(c)) == 0)
                return cn_fail(err, errlen, CN_EPARSE,
                               "%scategories[%zu]: repeats categories[%zu]", where, i,
                               j);
        if (!json_is_number(w) || !isfinite(json_number_value(w)))
            return cn_fail(err, errlen, CN_EPARSE,
                           "%sweights[%zu]: expected a finite number", where, i);
        f->categories[i] = cn_xstrdup(json_string_value(c));
        f->weights[i] = json_number_value(w);
        f->ncategories = i + 1;
    }
    return 0;
}

static int parse_feature(const json_t *jf, size_t i, feature_t *f, char *err,
                         size_t errlen)
{
    char where[48];
    snprintf(where, sizeof where, "features[%zu].", i);
    if (!json_is_object(jf))
        return cn_fail(err, errlen, CN_EPARSE, "features[%zu]: expected an object", i);
    int rc = get_name(jf, "name", where, f->name, err, errlen);
    if (rc)
        return rc;
    const char *type = json_string_value(json_object_get(jf, "type"));
    if (type && strcmp(type, "numeric") == 0) {
        f->kind = KIND_NUMERIC;
        return parse_numeric(jf, where, f, err, errlen);
    }
    if (type && strcmp(type, "categorical") == 0) {
        f->kind = KIND_CATEGORICAL;
        return parse_categorical(jf, where, f, err, errlen);
    }
    return cn_fail(err, errlen, CN_EPARSE,
                   "%stype: expected \"numeric\" or \"categorical\"", where);
}

static int parse_doc(const json_t *root, ms_model_t *m, char *err, size_t errlen)
{
    if (!json_is_object(root))
        return cn_fail(err, errlen, CN_EPARSE, "expected a JSON object");
    const char *format = json_string_value(json_object_get(root, "format"));
    if (!format || strcmp(format, FORMAT_NAME) != 0)
        return cn_fail(err, errlen, CN_EPARSE, "format: expected \"%s\"", FORMAT_NAME);
    int rc = get_name(root, "model_name", "", m->name, err, errlen);
    if (!rc)
        rc = get_name(root, "model_version", "", m->version, err, errlen);
    if (!rc)
        rc = get_name(root, "output", "", m->output, err, errlen);
    if (!rc)
        rc = get_finite(root, "intercept", "", &m->intercept, err, errlen);
    if (rc)
        return rc;
    const json_t *feats = json_object_get(root, "features");
    size_t n = json_array_size(feats);
    if (!json_is_array(feats) || n == 0 || n > MAX_FEATURES)
        return cn_fail(err, errlen, CN_EPARSE, "features: expected an array of 1 to %u",
                       MAX_FEATURES);
    m->features = cn_xcalloc(n, sizeof *m->features);
    for (size_t i = 0; i < n; i++) {
        m->nfeatures = i + 1;
        rc = parse_feature(json_array_get(feats, i), i, &m->features[i], err, errlen);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->features[j].name, m->features[i].name) == 0)
                return cn_fail(err, errlen, CN_EPARSE,
                               "features[%zu].name: '%s' repeats features[%zu]", i,
                               m->features[i].name, j);
    }
    return 0;
}

int ms_model_parse(const char *text, size_t len, ms_model_t **out, char *err,
                   size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char quoted[CN_TEXT_QUOTE_BUF(120)];
        return cn_fail(err, errlen, CN_EPARSE, "line %d, column %d: %s", jerr.line,
                       jerr.column,
                       cn_text_quote(jerr.text, strlen(jerr.text), 120, quoted));
    }
    ms_model_t *m = cn_xcalloc(1, sizeof *m);
    int rc = parse_doc(root, m, err, errlen);
    json_decref(root);
    if (rc) {
        ms_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void ms_model_free(ms_model_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nfeatures; i++)
        feature_dispose(&m->features[i]);
    free(m->features);
    free(m);
}

const char *ms_model_name(const ms_model_t *m)
{
    return m->name;
}

const char *ms_model_version(const ms_model_t *m)
{
    return m->version;
}

/* ------------------------------------------------------------- requests */

/* s[0..len) of a request, safe to put in a message. */
#define QUOTED(buf, s, len) cn_text_quote((s), (len), QUOTE_MAX, (buf))

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
    default:
        return "null";
    }
}

/* The model's input names, for a message: "age, workclass, ...". */
static void list_inputs(const ms_model_t *m, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->nfeatures && at < len; i++) {
        int w =
            snprintf(buf + at, len - at, "%s%s", i ? ", " : "", m->features[i].name);
        if (w < 0)
            break;
        at += (size_t)w;
    }
}

/* An input's rows, checked: the feature it feeds, its data array, and
 * the datatype's rules for numbers. */
typedef struct input_s {
    const json_t *data;
    const datatype_t *numeric; /* NULL for BYTES */
} input_t;

/* The number of rows an input's shape gives: [N] or [N, 1], N >= 1. */
static int shape_rows(const json_t *shape, size_t *rows)
{
    size_t dims = json_array_size(shape);
    if (!json_is_array(shape) || dims < 1 || dims > 2)
        return CN_EINVAL;
    for (size_t d = 0; d < dims; d++)
        if (!json_is_integer(json_array_get(shape, d)))
            return CN_EINVAL;
    json_int_t n = json_integer_value(json_array_get(shape, 0));
    if (n < 1 || n > (json_int_t)MS_MAX_BATCH)
        return CN_EINVAL;
    if (dims == 2 && json_integer_value(json_array_get(shape, 1)) != 1)
        return CN_EINVAL;
    *rows = (size_t)n;
    return 0;
}

/* Check one input object against its feature; sets in and *rows. */
static int check_input(const json_t *ji, size_t idx, const feature_t *f, input_t *in,
                       size_t *rows, char *err, size_t errlen)
{
    const char *dt = json_string_value(json_object_get(ji, "datatype"));
    char q[CN_TEXT_QUOTE_BUF(QUOTE_MAX)];
    if (!dt)
        return cn_fail(err, errlen, CN_EINVAL,
                       "inputs[%zu] '%s': datatype: expected a string such as \"%s\"",
                       idx, f->name, f->kind == KIND_NUMERIC ? "INT64" : "BYTES");
    in->numeric = NULL;
    if (f->kind == KIND_NUMERIC) {
        for (size_t t = 0; t < sizeof NUMERIC_TYPES / sizeof NUMERIC_TYPES[0]; t++)
            if (strcmp(dt, NUMERIC_TYPES[t].name) == 0)
                in->numeric = &NUMERIC_TYPES[t];
        if (!in->numeric)
            return cn_fail(err, errlen, CN_EINVAL,
                           "inputs[%zu] '%s': datatype '%s': this input is a number "
                           "(expected INT8..INT64, UINT8..UINT64, FP16, FP32 or FP64)",
                           idx, f->name, QUOTED(q, dt, strlen(dt)));
    } else if (strcmp(dt, "BYTES") != 0) {
        return cn_fail(err, errlen, CN_EINVAL,
                       "inputs[%zu] '%s': datatype '%s': this input is a category "
                       "(expected BYTES)",
                       idx, f->name, QUOTED(q, dt, strlen(dt)));
    }
    if (shape_rows(json_object_get(ji, "shape"), rows))
        return cn_fail(
            err, errlen, CN_EINVAL,
            "inputs[%zu] '%s': shape: expected [N] or [N, 1] with N from 1 to %u", idx,
            f->name, MS_MAX_BATCH);
    in->data = json_object_get(ji, "data");
    if (!json_is_array(in->data) || json_array_size(in->data) != *rows)
        return cn_fail(
            err, errlen, CN_EINVAL,
            "inputs[%zu] '%s': data: expected a flat array of %zu values (the "
            "shape's)",
            idx, f->name, *rows);
    return 0;
}

/* Row r of a numeric input as the column the model multiplies. */
static int numeric_column(const feature_t *f, const input_t *in, size_t r, double *out,
                          char *err, size_t errlen)
{
    const json_t *v = json_array_get(in->data, r);
    if (!json_is_number(v))
        return cn_fail(err, errlen, CN_EINVAL,
                       "input '%s': data[%zu]: expected a number (%s), got %s", f->name,
                       r, in->numeric->name, json_kind(v));
    if (in->numeric->integral) {
        if (!json_is_integer(v))
            return cn_fail(err, errlen, CN_EINVAL,
                           "input '%s': data[%zu]: expected an integer (%s)", f->name,
                           r, in->numeric->name);
        json_int_t i = json_integer_value(v);
        if (i < in->numeric->min || i > in->numeric->max)
            return cn_fail(err, errlen, CN_EINVAL,
                           "input '%s': data[%zu]: %" JSON_INTEGER_FORMAT
                           " is out of the range of %s",
                           f->name, r, i, in->numeric->name);
    }
    double x = json_number_value(v);
    if (f->transform == TRANSFORM_LOG1P) {
        if (!(x > -1)) {
            char num[CN_FMT_DOUBLE_BUF];
            return cn_fail(err, errlen, CN_EINVAL,
                           "input '%s': data[%zu]: %s is out of range (expected > -1)",
                           f->name, r, cn_fmt_double(x, num, sizeof num));
        }
        x = log1p(x);
    }
    /* As StandardScaler.transform: subtract, then divide. */
    *out = (x - f->mean) / f->scale;
    return 0;
}

/* Row r of a categorical input as the index of its category. */
static int category_index(const feature_t *f, const input_t *in, size_t r, size_t *out,
                          char *err, size_t errlen)
{
    const json_t *v = json_array_get(in->data, r);
    if (!json_is_string(v))
        return cn_fail(err, errlen, CN_EINVAL,
                       "input '%s': data[%zu]: expected a string (BYTES), got %s",
                       f->name, r, json_kind(v));
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    for (size_t c = 0; c < f->ncategories; c++)
        if (strlen(f->categories[c]) == len && memcmp(f->categories[c], s, len) == 0) {
            *out = c;
            return 0;
        }
    char vocab[VOCAB_LIST_BYTES + 8];
    size_t at = 0;
    for (size_t c = 0; c < f->ncategories; c++) {
        const char *name = f->categories[c];
        if (at + strlen(name) + 2 > VOCAB_LIST_BYTES) {
            snprintf(vocab + at, sizeof vocab - at, "%s...", c ? ", " : "");
            break;
        }
        at += (size_t)snprintf(vocab + at, sizeof vocab - at, "%s%s", c ? ", " : "",
                               name);
    }
    char q[CN_TEXT_QUOTE_BUF(QUOTE_MAX)], qv[CN_TEXT_QUOTE_BUF(VOCAB_LIST_BYTES + 8)];
    return cn_fail(
        err, errlen, CN_EINVAL,
        "input '%s': data[%zu]: unknown category '%s' (the model knows %zu: %s)",
        f->name, r, QUOTED(q, s, len), f->ncategories,
        cn_text_quote(vocab, strlen(vocab), sizeof vocab, qv));
}

/* Map the request's inputs to the model's features, checking each. */
static int match_inputs(const ms_model_t *m, const json_t *inputs, input_t *ins,
                        size_t *rows, char *err, size_t errlen)
{
    char q[CN_TEXT_QUOTE_BUF(QUOTE_MAX)];
    size_t n = json_array_size(inputs);
    *rows = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *ji = json_array_get(inputs, i);
        if (!json_is_object(ji))
            return cn_fail(err, errlen, CN_EINVAL,
                           "inputs[%zu]: expected an object, got %s", i, json_kind(ji));
        const json_t *jn = json_object_get(ji, "name");
        if (!json_is_string(jn))
            return cn_fail(err, errlen, CN_EINVAL,
                           "inputs[%zu].name: expected a string", i);
        const char *name = json_string_value(jn);
        size_t name_len = json_string_length(jn);
        size_t f = 0;
        while (f < m->nfeatures && !(strlen(m->features[f].name) == name_len &&
                                     memcmp(m->features[f].name, name, name_len) == 0))
            f++;
        if (f == m->nfeatures) {
            char all[512];
            list_inputs(m, all, sizeof all);
            return cn_fail(
                err, errlen, CN_EINVAL,
                "inputs[%zu]: '%s' is not an input of model %s (expected %s)", i,
                QUOTED(q, name, name_len), m->name, all);
        }
        if (ins[f].data)
            return cn_fail(err, errlen, CN_EINVAL,
                           "inputs[%zu]: input '%s' is given twice", i,
                           m->features[f].name);
        size_t r = 0;
        int rc = check_input(ji, i, &m->features[f], &ins[f], &r, err, errlen);
        if (rc)
            return rc;
        if (*rows && r != *rows)
            return cn_fail(
                err, errlen, CN_EINVAL,
                "inputs[%zu] '%s': %zu rows, but the inputs before it have %zu", i,
                m->features[f].name, r, *rows);
        *rows = r;
    }
    for (size_t f = 0; f < m->nfeatures; f++)
        if (!ins[f].data) {
            char all[512];
            list_inputs(m, all, sizeof all);
            return cn_fail(err, errlen, CN_EINVAL,
                           "missing input '%s' (model %s takes %s)",
                           m->features[f].name, m->name, all);
        }
    return 0;
}

/* The requested outputs, if any, must be the model's one output. */
static int check_outputs(const ms_model_t *m, const json_t *outputs, char *err,
                         size_t errlen)
{
    if (!outputs)
        return 0;
    if (!json_is_array(outputs))
        return cn_fail(err, errlen, CN_EINVAL, "outputs: expected an array, got %s",
                       json_kind(outputs));
    for (size_t i = 0; i < json_array_size(outputs); i++) {
        const char *name =
            json_string_value(json_object_get(json_array_get(outputs, i), "name"));
        if (!name || strcmp(name, m->output) != 0)
            return cn_fail(
                err, errlen, CN_EINVAL,
                "outputs[%zu].name: expected \"%s\" (the model's one output)", i,
                m->output);
    }
    return 0;
}

/* The scores of every row; the inputs are checked as they are read. */
static int score_rows(const ms_model_t *m, const input_t *ins, size_t rows, double *p,
                      char *err, size_t errlen)
{
    for (size_t r = 0; r < rows; r++) {
        double z = m->intercept;
        for (size_t f = 0; f < m->nfeatures; f++) {
            const feature_t *ft = &m->features[f];
            int rc;
            if (ft->kind == KIND_NUMERIC) {
                double col = 0;
                rc = numeric_column(ft, &ins[f], r, &col, err, errlen);
                if (!rc)
                    z += ft->weight * col;
            } else {
                size_t c = 0;
                rc = category_index(ft, &ins[f], r, &c, err, errlen);
                if (!rc)
                    z += ft->weights[c];
            }
            if (rc)
                return rc;
        }
        /* A number so large that two terms cancel to NaN has no score. */
        if (isnan(z))
            return cn_fail(
                err, errlen, CN_EINVAL,
                "row %zu: the inputs are too large to score (the sum is undefined)", r);
        p[r] = 1.0 / (1.0 + exp(-z));
    }
    return 0;
}

static char *render(const ms_model_t *m, const json_t *id, const double *p, size_t rows,
                    size_t *out_len)
{
    cn_buf_t b = CN_BUF_INIT(CN_BUF_MAX_MAX);
    cn_buf_printf(&b, "{\"model_name\":\"%s\",\"model_version\":\"%s\",", m->name,
                  m->version);
    if (id) {
        char *text = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
        cn_buf_str(&b, "\"id\":");
        cn_buf_str(&b, text ? text : "\"\"");
        cn_buf_byte(&b, ',');
        free(text);
    }
    cn_buf_printf(&b,
                  "\"outputs\":[{\"name\":\"%s\",\"shape\":[%zu],\"datatype\":\"FP64\","
                  "\"data\":[",
                  m->output, rows);
    for (size_t r = 0; r < rows; r++) {
        char num[CN_FMT_DOUBLE_BUF];
        if (r)
            cn_buf_byte(&b, ',');
        cn_buf_str(&b, cn_fmt_double(p[r], num, sizeof num));
    }
    cn_buf_str(&b, "]}]}");
    return cn_buf_take(&b, out_len);
}

int ms_model_infer(const ms_model_t *m, const char *body, size_t len, char **out,
                   size_t *out_len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char quoted[CN_TEXT_QUOTE_BUF(120)];
        return cn_fail(err, errlen, CN_EINVAL,
                       "the body is not JSON (line %d, column %d: %s)", jerr.line,
                       jerr.column,
                       cn_text_quote(jerr.text, strlen(jerr.text), 120, quoted));
    }
    int rc = 0;
    input_t *ins = NULL;
    double *p = NULL;
    const json_t *inputs = json_object_get(root, "inputs");
    const json_t *id = json_object_get(root, "id");
    size_t rows = 0;
    if (!json_is_object(root)) {
        rc = cn_fail(
            err, errlen, CN_EINVAL,
            "the body is %s, expected an object {\"inputs\": [...]} (KServe v2)",
            json_kind(root));
        goto out;
    }
    if (!json_is_array(inputs) || json_array_size(inputs) == 0) {
        rc = cn_fail(err, errlen, CN_EINVAL,
                     "inputs: expected a non-empty array of {\"name\", \"shape\", "
                     "\"datatype\", \"data\"}");
        goto out;
    }
    if (id && !json_is_string(id)) {
        rc = cn_fail(err, errlen, CN_EINVAL, "id: expected a string, got %s",
                     json_kind(id));
        goto out;
    }
    rc = check_outputs(m, json_object_get(root, "outputs"), err, errlen);
    if (rc)
        goto out;
    ins = cn_xcalloc(m->nfeatures, sizeof *ins);
    rc = match_inputs(m, inputs, ins, &rows, err, errlen);
    if (rc)
        goto out;
    p = cn_xmallocarray(rows, sizeof *p);
    rc = score_rows(m, ins, rows, p, err, errlen);
    if (rc)
        goto out;
    *out = render(m, id, p, rows, out_len);
out:
    free(p);
    free(ins);
    json_decref(root);
    return rc;
}

char *ms_model_metadata(const ms_model_t *m, size_t *len)
{
    cn_buf_t b = CN_BUF_INIT(CN_BUF_MAX_MAX);
    cn_buf_printf(
        &b, "{\"name\":\"%s\",\"versions\":[\"%s\"],\"platform\":\"%s\",\"inputs\":[",
        m->name, m->version, FORMAT_NAME);
    for (size_t f = 0; f < m->nfeatures; f++)
        cn_buf_printf(&b, "%s{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":[-1]}",
                      f ? "," : "", m->features[f].name,
                      m->features[f].kind == KIND_NUMERIC ? "FP64" : "BYTES");
    cn_buf_printf(
        &b, "],\"outputs\":[{\"name\":\"%s\",\"datatype\":\"FP64\",\"shape\":[-1]}]}",
        m->output);
    return cn_buf_take(&b, len);
}
