/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for prediction extraction (router/extract.c). The first
 * line of the input is a JSON Pointer, the rest a response body. Any bytes
 * must give either a compile error (CN_EPARSE, one NUL-terminated line, an
 * empty pointer), or an extraction that returns 0 with a finite value or one
 * of the documented reason codes, leaving the output untouched; and the
 * result (code and value, bit for bit) must equal the jansson-only path's,
 * which checks the allocation-free fast path against the full parser.
 */
#include "router/extract.h"
#include "util/error.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nl = memchr(text, '\n', size);
    size_t pointer_len = nl ? (size_t)(nl - text) : size;
    const char *body = nl ? nl + 1 : text + size;
    size_t body_len = size - pointer_len - (nl ? 1 : 0);

    /* A pointer with a NUL in it would be cut short by strlen; keep it so,
     * as the config loader would. */
    char *pointer = malloc(pointer_len + 1);
    if (!pointer)
        return 0;
    memcpy(pointer, text, pointer_len);
    pointer[pointer_len] = '\0';

    cn_router_pointer_t p;
    char err[256];
    int rc = cn_router_pointer_compile(pointer, &p, err, sizeof err);
    if (rc != 0) {
        if (rc != CN_EPARSE || strchr(err, '\n') || p.tokens || p.ntokens)
            abort();
        free(pointer);
        return 0;
    }
    for (size_t i = 0; i < p.ntokens; i++)
        if (strlen(p.tokens[i].name) != p.tokens[i].name_len)
            abort();

    const double untouched = -12345.5;
    double value = untouched;
    rc = cn_router_extract_prediction(&p, body, body_len, &value);
    switch (rc) {
    case 0:
        if (!isfinite(value))
            abort();
        break;
    case CN_EPARSE:
    case CN_ENOTFOUND:
    case CN_EINVAL:
    case CN_ENONFINITE:
    case CN_ETOOBIG:
        if (value != untouched)
            abort();
        break;
    default:
        abort();
    }
    /* The fast path must agree with jansson's full parse, always. */
    double reference = untouched;
    int rrc = cn_router_extract_prediction_jansson(&p, body, body_len, &reference);
    if (rrc != rc || memcmp(&reference, &value, sizeof value) != 0)
        abort();
    cn_router_pointer_dispose(&p);
    free(pointer);
    return 0;
}
