/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus as a metrics source (controller/engine.h's
 * cn_metrics_source_t): a model's request and error counters and its
 * latency histogram (classic `_bucket` series), read from a Prometheus
 * server's HTTP API for the window the controller asks about, and
 * answered as a router snapshot whose cells carry the step's counts and
 * the step's latency as bins (router.h: step_latency_bounds/bins). The
 * judge tests the bins exactly (docs/JUDGE.md, "Binned data").
 *
 * What is read. For each version of the generation (its label put into
 * the configured selector) and each series the selector matches (every
 * replica, every segment when a segment label is configured):
 *  - the window's counts: /api/v1/query_range of the counter series
 *    (requests, each errors series, each latency `_bucket` series) over
 *    [opened, now] at `step` resolution; each series' increase is the sum
 *    of its rises, a fall being a counter reset (the process restarted:
 *    its new value is the rise), so no extrapolation and no rounding (as
 *    increase() would do); series are then summed per (version, segment,
 *    le), and the buckets de-cumulated into bins;
 *  - the cumulative counters: an instant query (/api/v1/query) of the
 *    requests series at now.
 * A query that fails (connection, HTTP status, Prometheus's error, a body
 * that does not parse) fails the read with the reason, so the analysis
 * has no window (the driver's "no data": held, never passed, never
 * failed); a query that answers with no series leaves that metric out
 * (no requests: the cells are empty and every row is nodata; no latency
 * buckets: the latency rows are nodata), again never a pass or a fail.
 *
 * Threads: read() runs on the controller's thread pool (blocking libcurl
 * easy calls, one handle per read), opened() on the applying thread; a
 * mutex guards the generations the source was told about.
 */
#ifndef CN_ENGINES_PROMETHEUS_H
#define CN_ENGINES_PROMETHEUS_H

#include "controller/engine.h"
#include "util/config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cn_prometheus_config_s {
    char *url;               /* base URL: http://host:port[/prefix] */
    char *selector;          /* label matchers with one %s for the
                                version: {job="model",version="%s"} */
    char *requests;          /* counter series: canary_requests_total */
    cn_config_strv_t errors; /* counter series summed as the errors */
    char *latency;           /* histogram name (without _bucket) */
    double latency_unit_s;   /* seconds per unit of `le` (1: seconds) */
    char *segment_label;     /* NULL: no segments */
    uint64_t step_ms;        /* query_range resolution */
    uint64_t timeout_ms;     /* one HTTP request */
    char *bearer_token_file; /* NULL: no Authorization header */
    int line;
} cn_prometheus_config_t;

extern const cn_config_table_t cn_prometheus_config_table;

/* Defaults (the config engine's). */
void cn_prometheus_config_init(cn_prometheus_config_t *cfg);
void cn_prometheus_config_dispose(cn_prometheus_config_t *cfg);

typedef struct cn_prometheus_s cn_prometheus_t;

/*
 * The source. cfg is copied (strings too); the bearer token file, when
 * given, is read now (a trailing newline dropped). 0, or CN_EINVAL / CN_EIO
 * with one line in err. The metrics table is `(*out)->metrics` through
 * cn_prometheus_metrics().
 */
int cn_prometheus_new(const cn_prometheus_config_t *cfg, cn_prometheus_t **out,
                      char *err, size_t errlen);
void cn_prometheus_free(cn_prometheus_t *p);
cn_metrics_source_t *cn_prometheus_metrics(cn_prometheus_t *p);

/* ------------------------------------------------ pure pieces (tests) */

/*
 * The series selector of `series` (a metric name, with or without its own
 * matchers: `canary_responses_total{class="5xx"}`) restricted to one
 * version: the configured selector with the version substituted (quoted
 * as a PromQL string) and its matchers merged into the series' own.
 * `suffix` ("_bucket" or "") is appended to the metric name. 0, or
 * CN_EINVAL (a selector without exactly one %s or not in braces, a
 * series that is not a name with optional braces) / CN_ETOOBIG (out too
 * small), with one line in err.
 */
int cn_prometheus_series_selector(const char *series, const char *suffix,
                                  const char *selector, const char *version, char *out,
                                  size_t outlen, char *err, size_t errlen);

/* One series of a query's answer: two labels of interest and its points. */
typedef struct cn_prometheus_series_s {
    char *le;      /* the `le` label, or NULL */
    char *segment; /* the segment label's value, or NULL */
    double *t, *v; /* points: Unix seconds, values (NaN allowed) */
    size_t n;
} cn_prometheus_series_t;

typedef struct cn_prometheus_result_s {
    cn_prometheus_series_t *series;
    size_t n;
} cn_prometheus_result_t;

/*
 * Parse an /api/v1/query or /api/v1/query_range answer (a "vector" or a
 * "matrix"; a "scalar" or "string" is refused). segment_label (NULL: none)
 * names the label kept as `segment`. 0 with *out filled (n may be 0: no
 * series), or CN_EPARSE / CN_EINVAL (status "error": its errorType and
 * error) with one line in err; *out is then empty. Pure; any bytes.
 */
int cn_prometheus_parse(const char *body, size_t len, const char *segment_label,
                        cn_prometheus_result_t *out, char *err, size_t errlen);
void cn_prometheus_result_dispose(cn_prometheus_result_t *r);

/* The increase of a counter series over its points: the sum of its
 * rises, where a fall is a reset and the new value is the rise. A series
 * whose first point comes after `born_after` (Unix s: the window's start
 * plus half a step) was born in the window, from 0: its first value is a
 * rise too (a version's first requests). Points that are not a counter's
 * value (NaN, infinite, negative) are skipped: the result is >= 0. */
double cn_prometheus_increase(const double *t, const double *v, size_t n,
                              double born_after);

#endif
