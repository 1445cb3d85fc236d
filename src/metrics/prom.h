/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A writer for the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/), into a
 * growable, bounded, in-memory buffer.
 *
 * The format groups every sample of a metric family after one "# HELP" and
 * one "# TYPE" line. The writer enforces that: cn_prom_family() opens a
 * family (writing its HELP and TYPE), every sample goes to the family that
 * is open, and opening a family that was already closed is refused rather
 * than writing a second, invalid, HELP/TYPE pair.
 *
 * Errors: every writing call either appends its whole line(s) or nothing,
 * and returns 0 or a negative CN_E* code (util/error.h):
 *  - CN_EINVAL: a metric or label name that is not valid, a sample with no
 *    family open, a histogram call on a family that is not a histogram,
 *    bounds not ascending, cumulative counts that go down;
 *  - CN_ETOOBIG: the text would exceed the writer's max_bytes.
 * The first error is also kept in w->error, so a caller may write a whole
 * exposition and check once at the end.
 *
 * Pure: no I/O, no global state. One writer per thread.
 */
#ifndef CN_METRICS_PROM_H
#define CN_METRICS_PROM_H

#include "metrics/metrics.h"

#include <stdbool.h>
#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

/* Default bound of a writer's text (max_bytes 0 in cn_prom_init). */
#define CN_PROM_DEFAULT_MAX_BYTES ((size_t)64 * 1024 * 1024)

typedef enum cn_prom_type_e {
    CN_PROM_COUNTER = 0,
    CN_PROM_GAUGE = 1,
    CN_PROM_HISTOGRAM = 2,
    CN_PROM_UNTYPED = 3,
} cn_prom_type_t;

/* One label pair, borrowed for the duration of a call. The name must match
 * [a-zA-Z_][a-zA-Z0-9_]* and not start with "__" (reserved); the value is
 * any bytes up to its NUL and is escaped as the format requires, with every
 * byte that is not part of valid UTF-8 written as U+FFFD (Prometheus
 * refuses a whole scrape over one invalid label value). */
typedef struct cn_prom_label_s {
    const char *name;
    const char *value;
} cn_prom_label_t;

/*
 * The writer. The caller allocates it, calls cn_prom_init, and
 * cn_prom_dispose when done (or takes the text with cn_prom_take).
 */
typedef struct cn_prom_writer_s {
    /* read-only */
    union {
        cn_buf_t out;   /* the text, bounded by max_bytes (util/buf.h) */
        struct {        /* out's first two fields under their old names */
            char *text; /* NUL-terminated; NULL until something is written */
            size_t len; /* bytes of text, without the NUL */
        };
    };
    int error; /* first error any call returned; 0 if none */
    /* private */
    char *family; /* name of the open family, owned; NULL if none */
    cn_prom_type_t type;
    char **closed; /* names of the families written before, owned */
    size_t nclosed, closed_cap;
} cn_prom_writer_t;

/* Prepare an empty writer whose text may grow to max_bytes (0: the
 * default above). Allocation aborts on out-of-memory. */
void cn_prom_init(cn_prom_writer_t *w, size_t max_bytes);

/* Free the text and the bookkeeping; w may then be initialised again. */
void cn_prom_dispose(cn_prom_writer_t *w);

/*
 * Hand the text over to the caller (free() it), NUL-terminated, with its
 * length in *len (may be NULL); never NULL, "" if nothing was written.
 * The writer is then disposed.
 */
char *cn_prom_take(cn_prom_writer_t *w, size_t *len);

/*
 * Open a metric family: write "# HELP name help" (help escaped: backslash
 * and newline) and "# TYPE name type". The name must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*. Opening the family that is already open is a
 * no-op returning 0; opening one that was open earlier is CN_EINVAL. A
 * family may have no samples at all (valid in the format).
 */
int cn_prom_family(cn_prom_writer_t *w, const char *name, cn_prom_type_t type,
                   const char *help);

/*
 * One sample of the open family: "name[suffix]{labels} value". suffix is
 * NULL or "" for a plain sample, or e.g. "_bucket" (the caller's business
 * which suffixes make sense; the histogram helpers below write them).
 * Integer and double variants; a double is written in the shortest form
 * that reads back exactly, NaN as "NaN", infinities as "+Inf" / "-Inf".
 */
int cn_prom_sample_u64(cn_prom_writer_t *w, const char *suffix,
                       const cn_prom_label_t *labels, size_t nlabels, uint64_t value);
int cn_prom_sample_i64(cn_prom_writer_t *w, const char *suffix,
                       const cn_prom_label_t *labels, size_t nlabels, int64_t value);
int cn_prom_sample_double(cn_prom_writer_t *w, const char *suffix,
                          const cn_prom_label_t *labels, size_t nlabels, double value);

/*
 * A whole histogram of the open family (which must be a histogram) from a
 * latency histogram in microseconds: one _bucket{le="b"} per bound in
 * le_s[] (seconds, finite, strictly ascending; may be empty), then
 * _bucket{le="+Inf"}, _sum (seconds) and _count, each with `labels` plus
 * le. A bucket counts the values whose histogram bucket lies wholly at or
 * below the bound (cn_metrics_hist_count_le, bound rounded to the nearest
 * microsecond), so it never counts a value above its bound. labels must not
 * contain "le". CN_EINVAL, writing nothing, if any of that does not hold.
 */
int cn_prom_histogram(cn_prom_writer_t *w, const cn_prom_label_t *labels,
                      size_t nlabels, const cn_metrics_hist_t *h, const double *le_s,
                      size_t nle);

/*
 * The same from counts kept by the caller: cumulative[i] is the number of
 * observations <= le[i] for i < nle, and cumulative[nle] is the total (the
 * +Inf bucket and _count); sum is written as _sum. le[] finite and strictly
 * ascending, cumulative[] non-decreasing: otherwise CN_EINVAL, nothing
 * written.
 */
int cn_prom_histogram_cumulative(cn_prom_writer_t *w, const cn_prom_label_t *labels,
                                 size_t nlabels, const double *le,
                                 const uint64_t *cumulative, size_t nle, double sum);

/* "counter", "gauge", "histogram", "untyped"; "?" if out of range. */
const char *cn_prom_type_name(cn_prom_type_t type);

#endif
