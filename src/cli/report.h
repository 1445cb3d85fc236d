/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The rollout report (`canary report ID`): one self-contained document
 * about one rollout, for a post-incident review or a regulator.
 *
 * The command (report.c) reads three answers of the admin API, the
 * rollout (GET /v1/rollouts/ID), its audit trail (.../history) and its
 * analyses (.../analyses), and puts them as they came into one JSON
 * document (cn_report_doc). Both output formats are rendered from that
 * document alone: `--format json` prints it, the HTML writer
 * (report_html.c) turns it into a page with its charts drawn as inline SVG
 * (report_svg.c). Everything here but the command is pure: no I/O, the
 * same document gives the same bytes, which is what the unit tests check.
 *
 * Every string in the document came from the server (model and version
 * names, reasons, actors): it is untrusted, and reaches HTML or SVG only
 * through cn_report_escape.
 */
#ifndef CN_CLI_REPORT_H
#define CN_CLI_REPORT_H

#include "util/buf.h"

#include <jansson.h>
#include <stdint.h>

/* The "format" of the JSON document; a change that removes or renames a
 * key gets a new number. */
#define CN_REPORT_FORMAT "canary-report/1"

/* The largest report written: far above any real rollout's (a few KiB
 * per analysis), it bounds what a hostile or broken server can make us
 * write. */
#define CN_REPORT_MAX_BYTES ((size_t)256 << 20)

/*
 * The report's document: {"format", "generated_unix_ms", "server",
 * "rollout": the rollout's read, "history": its audit entries, "analyses":
 * its analyses}. Takes a new reference to each part (the caller keeps its
 * own); history and analyses are the arrays, not the API's envelopes.
 */
json_t *cn_report_doc(json_t *rollout, json_t *history, json_t *analyses,
                      const char *server, int64_t generated_unix_ms);

/*
 * The HTML page for doc (a cn_report_doc) appended to out. A document with
 * missing or mistyped parts still renders (the part shows as absent);
 * returns 0, or CN_ETOOBIG when out's maximum was reached.
 */
int cn_report_html(const json_t *doc, cn_buf_t *out);

/* s escaped for HTML text and attribute values alike (& < > " '), with
 * every control character but tab and newline replaced by U+FFFD: markup
 * in a reason or a model name shows as text. NULL appends nothing. */
void cn_report_escape(cn_buf_t *out, const char *s);

/* The string at key of the object o, "" when absent or not a string. */
const char *cn_report_str(const json_t *o, const char *key);

/* The number at key of o, NAN when absent, null or not a number. */
double cn_report_num(const json_t *o, const char *key);

/* word (a verdict, classification or state) when it is one the page has
 * a style for, else "other": a class name never comes from the server. */
const char *cn_report_class_of(const char *word);

/* ------------------------------------------------------------ charts */

/*
 * A linear scale from the domain [d0, d1] to the range [r0, r1] (SVG user
 * units; r0 > r1 for a y axis, which grows downwards). A domain of zero
 * width maps everything to the middle of the range.
 */
typedef struct cn_report_scale_s {
    double d0, d1, r0, r1;
} cn_report_scale_t;

double cn_report_scale(const cn_report_scale_t *s, double v);

/*
 * "Nice" tick values for [lo, hi]: multiples of 1, 2 or 5 times a power
 * of ten, at most max_ticks of them (max_ticks >= 2), all within [lo, hi].
 * Writes up to cap values to out and returns how many. lo == hi gives that
 * one value; a non-finite bound gives none.
 */
size_t cn_report_ticks(double lo, double hi, size_t max_ticks, double *out, size_t cap);

/*
 * The weight timeline: the canary's weight over the rollout's time, from
 * the audit entries (each carries the weight after it), with every
 * analysis marked by its verdict and every trigger and manual action
 * marked. rollout is the rollout's read (for its start and end).
 */
void cn_report_svg_timeline(cn_buf_t *out, const json_t *rollout,
                            const json_t *history);

/*
 * The forest plot of one analysis result (the judge's JSON): one row per
 * metric and segment, its effect and confidence interval drawn in units of
 * its margin, against the margin. Rows without a margin are listed
 * without a glyph. Appends nothing when the result has no rows.
 */
void cn_report_svg_forest(cn_buf_t *out, const json_t *result);

#endif
