/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The example model server's model: a logistic regression exported by
 * tools/train_demo_models.py as JSON (the format is described in
 * examples/model-server/README.md), and the Open Inference Protocol
 * (KServe v2) JSON that asks it for predictions.
 *
 * Pure: no I/O and no global state. The server (model_server.c) reads the
 * file and the requests; the fuzz target (tests/fuzz/fuzz_model_request.c)
 * feeds both functions arbitrary bytes.
 *
 * The score of one row is computed as sklearn's Pipeline.predict_proba
 * computes it for the exported parameters, operation for operation:
 * each number x becomes (t(x) - mean) / scale, with t the identity or
 * log1p; each category is a one-hot column; z = intercept + the sum of
 * the weights times the columns; p = 1 / (1 + exp(-z)). Only the order of
 * the sum differs, so the two agree to about 1e-15 relative.
 */
#ifndef MS_MODEL_H
#define MS_MODEL_H

#include <stddef.h>

/* The largest batch one request may ask for (rows per input). */
#define MS_MAX_BATCH 65536u

typedef struct ms_model_s ms_model_t;

/*
 * Parse a model file's text (borrowed; len bytes, no NUL needed). Returns
 * 0 with *out (free it with ms_model_free), or CN_EPARSE with one line in
 * err saying where and what, e.g. "features[3].scale: expected a number
 * > 0". Names (model, version, inputs, output) must be 1 to 64 of
 * [A-Za-z0-9_.-]: they appear in URLs and messages unescaped.
 */
int ms_model_parse(const char *text, size_t len, ms_model_t **out, char *err,
                   size_t errlen);
/* NULL is a no-op. */
void ms_model_free(ms_model_t *m);

const char *ms_model_name(const ms_model_t *m);
const char *ms_model_version(const ms_model_t *m);

/*
 * Answer an inference request: body (borrowed; len bytes) is a KServe v2
 * request, {"inputs": [{"name", "shape", "datatype", "data"}, ...]}, with
 * one input per model input, each holding the same number of rows N
 * (shape [N] or [N, 1], data flat). Numbers take any numeric datatype
 * (INT* and UINT* ones want integral values); categories take BYTES and
 * strings from the model's vocabulary. Returns 0 with *out, a response
 * {"model_name", "model_version", ["id",] "outputs": [{"name", "shape":
 * [N], "datatype": "FP64", "data": [p...]}]} (malloc'd, NUL-terminated,
 * *out_len bytes; each p in the shortest form that reads back to the same
 * double), or CN_EINVAL with one line in err naming the input, row and
 * what was expected (the body's own bytes are quoted with every byte that
 * is not printable ASCII replaced). Never reads past body[len).
 */
int ms_model_infer(const ms_model_t *m, const char *body, size_t len, char **out,
                   size_t *out_len, char *err, size_t errlen);

/* The model's metadata (GET /v2/models/NAME): {"name", "versions",
 * "platform", "inputs": [{"name", "datatype", "shape"}], "outputs": [...]},
 * malloc'd and NUL-terminated, *len bytes. */
char *ms_model_metadata(const ms_model_t *m, size_t *len);

#endif
