/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading the model's prediction out of an upstream response body.
 *
 * The router records one number per response: the value that a configured
 * JSON Pointer (RFC 6901) designates in the response JSON. The pointer is
 * compiled once, at configuration time, into a list of reference tokens, and
 * then applied to every response on the data plane. Presets name the usual
 * places: the Open Inference Protocol / KServe v2 ("/outputs/0/data/0") and
 * TF Serving ("/predictions/0").
 *
 * This module is pure: no I/O, no global state, no locks. A compiled pointer
 * is read-only after compilation, so every worker thread may share one.
 * Extraction fails with a reason code and never crashes, whatever the body:
 * the router counts the reasons per version and the request still succeeds.
 */
#ifndef CN_ROUTER_EXTRACT_H
#define CN_ROUTER_EXTRACT_H

#include <stddef.h>

/*
 * The largest body cn_router_extract_prediction() parses, in bytes, equal
 * to the router's default body limit. jansson's in-memory tree is several
 * times larger than the text (tens of bytes per array element), so this
 * bounds the memory one extraction can take.
 */
#define CN_ROUTER_EXTRACT_MAX_BYTES ((size_t)16 * 1024 * 1024)

/* One reference token. `index` is the token read as an RFC 6901 array index
 * ("0", or digits without a leading zero, fitting a size_t), or SIZE_MAX
 * when the token is no array index (including "-", which never matches). */
typedef struct cn_router_pointer_token_s {
    const char *name; /* unescaped, NUL-terminated; points into `storage` */
    size_t name_len;
    size_t index;
} cn_router_pointer_token_t;

typedef struct cn_router_pointer_s {
    /* read-only */
    size_t ntokens; /* 0 designates the whole document */
    /* private */
    cn_router_pointer_token_t *tokens;
    char *storage;
} cn_router_pointer_t;

/*
 * Compile a JSON Pointer. `text` is borrowed; the result owns copies of the
 * unescaped tokens. "" designates the whole document; otherwise the text
 * must start with '/', and each '~' must be followed by '0' (meaning '~') or
 * '1' (meaning '/'). Returns 0, or CN_EINVAL (text is NULL) or CN_EPARSE with
 * a one-line message in err[0..errlen) naming the pointer and the offset of
 * the fault. On error *out is left empty, and disposing it is harmless.
 */
int cn_router_pointer_compile(const char *text, cn_router_pointer_t *out, char *err,
                              size_t errlen);

/*
 * Compile the pointer of a named preset: "kserve-v2" and "open-inference"
 * give "/outputs/0/data/0", "tf-serving" gives "/predictions/0". Returns 0,
 * or CN_ENOTFOUND with a message listing the known names.
 */
int cn_router_pointer_preset(const char *name, cn_router_pointer_t *out, char *err,
                             size_t errlen);

/* The pointer text of a preset, or NULL for an unknown name. */
const char *cn_router_pointer_preset_text(const char *name);

/* Free what compilation allocated and leave *p empty. NULL is a no-op. */
void cn_router_pointer_dispose(cn_router_pointer_t *p);

/*
 * Parse `len` bytes of `body` (borrowed; need not be NUL-terminated) as one
 * JSON text with nothing after it, apply the pointer, and store the number
 * found in *out. The value at the target may be:
 *   - a JSON number, integer or real (integers are read as doubles, so those
 *     beyond 2^53 are rounded to the nearest double);
 *   - true or false, read as 1 or 0 (binary classifiers often answer so);
 *   - an array of exactly one number, read as that number: TF Serving wraps
 *     each prediction of a one-output model in an array,
 *     {"predictions": [[0.2]]}. Only one level is unwrapped, and a
 *     one-element array of a boolean is not accepted.
 * Object members are matched by exact key; when a key repeats, the last
 * occurrence wins (jansson's behaviour). An array index past the end, and
 * "-", are missing fields.
 *
 * Returns 0 and the value, which is always finite, or one of:
 *   CN_EPARSE      the body is not one complete JSON text (empty, truncated,
 *                  trailing bytes, invalid UTF-8, NaN or Infinity literals);
 *   CN_ENOTFOUND   the pointer designates nothing in this document;
 *   CN_EINVAL      the target is of another type (string, null, object, an
 *                  array that is not one number), or p/body/out is NULL;
 *   CN_ENONFINITE  a number in the body overflows a double (e.g. 1e400):
 *                  jansson rejects the whole body, so this is reported even
 *                  when the overflowing number is not at the target;
 *   CN_ETOOBIG     len exceeds CN_ROUTER_EXTRACT_MAX_BYTES, or arrays and
 *                  objects nest deeper than jansson's JSON_PARSER_MAX_DEPTH
 *                  (2048), which bounds the parser's recursion.
 * On error *out is not written.
 */
int cn_router_extract_prediction(const cn_router_pointer_t *p, const char *body,
                                 size_t len, double *out);

/*
 * The same contract, always through jansson's full parse. The function
 * above first tries an allocation-free scan that answers only when it is
 * certain to agree with this one (see extract.c); this one is kept public
 * so the tests and the fuzz target can check that agreement.
 */
int cn_router_extract_prediction_jansson(const cn_router_pointer_t *p, const char *body,
                                         size_t len, double *out);

#endif
