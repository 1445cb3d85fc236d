/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary rollout status --watch`: what it shows, apart from how it is
 * shown (rollout.c), so that the unit tests can check the text. Private to
 * src/cli/; pure: a rollout's JSON (GET /v1/rollouts/ID) in, text out.
 *
 * On a terminal the watch redraws one block in place (plain ANSI: cursor
 * up, erase line; no curses), every line cut to the terminal's width so
 * that nothing wraps and the block's height is known. On a pipe it prints
 * one plain line, without escape codes, each time the rollout's state,
 * step, weight, verdict, fired triggers or reason change.
 */
#ifndef CN_CLI_WATCH_H
#define CN_CLI_WATCH_H

#include "util/buf.h"

#include <jansson.h>
#include <stdint.h>

/* The narrowest width the block is laid out for; narrower terminals get
 * the same lines, cut. */
#define CN_WATCH_MIN_WIDTH 20

/*
 * The block for rollout r (borrowed) at now_ms (Unix ms), for a terminal
 * `width` columns wide, as lines ending in '\n' appended to out: at most
 * width - 1 characters each (a UTF-8 sequence counts as one), so none
 * wraps. analysis (borrowed, NULL: none) is the judge's result of the
 * last analysis (its "metrics" rows: name, classification, n_canary,
 * n_stable, min_samples). Returns the number of lines.
 */
unsigned cn_watch_block(json_t *r, json_t *analysis, int64_t now_ms, unsigned width,
                        cn_buf_t *out);

/* One plain line for a pipe (no escape codes, ending in '\n'), appended to
 * out. */
void cn_watch_line(json_t *r, int64_t now_ms, cn_buf_t *out);

/* What a change is, for the pipe: state, step, weight, hold, reason, the
 * last verdict and its time, and which triggers fired (not the sample
 * counts or the time, which change at every read). Written to out (reset
 * first). */
void cn_watch_signature(json_t *r, cn_buf_t *out);

/* Cut the line s (no newline) to at most `cols` characters, a UTF-8
 * sequence counting as one; returns the bytes kept. */
size_t cn_watch_fit(const char *s, size_t len, unsigned cols);

#endif
