/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading the stream that `canary monitor` replays (docs/CLI.md): CSV with
 * the header `t,version,metric,value` and an optional `segment` column, in
 * any order, one observation per row in time order. Pure: text in, rows out
 * through a callback; no I/O.
 *
 * The columns:
 *  - t: data time in seconds, a finite number in [0, CN_STREAM_T_MAX],
 *    never smaller than the row before (equal is fine);
 *  - version: the literal word `stable` or `canary` (the two arms, as in
 *    `canary analyze`; a model's version names do not appear);
 *  - metric: one the sequential triggers know: `error` (value 0 or 1, one
 *    request each), `latency_ms` (milliseconds, >= 0) or `prediction` (any
 *    finite number);
 *  - segment: optional; checked as a name (bounded, no control characters)
 *    and passed on; empty means none.
 *
 * The CSV dialect is `canary analyze`'s (judge/csv.h): RFC 4180 quoting (a
 * quoted field may span lines), LF or CRLF, a UTF-8 byte-order mark, blank
 * lines skipped, blanks around unquoted fields trimmed. Rejected, with one
 * line "FILE:LINE: column 'NAME': what" (or "FILE:LINE: what" for the
 * header and the shape of a row): a header that lacks a required column,
 * has one twice or has any other; a row with the wrong number of fields; a
 * value or t that is not a decimal number (hex floats are refused, as
 * cn_text_to_double does), NaN, infinite or overflows; a time going
 * backwards; an unknown version or metric; an error value other than
 * 0 or 1; a negative latency; a segment too long or with control
 * characters; quoting mistakes; NUL bytes; and a stream with no rows
 * ("FILE: no samples (...)").
 */
#ifndef CN_CLI_STREAM_H
#define CN_CLI_STREAM_H

#include "controller/sequential.h"
#include "types/types.h"

#include <stddef.h>

/* Longest segment name accepted, in bytes (as judge/csv.h's names). */
#define CN_STREAM_NAME_MAX 256
/* Largest t, in seconds (about 3,000 years): keeps interval arithmetic
 * exact, and catches Unix milliseconds given where seconds are wanted. */
#define CN_STREAM_T_MAX 1e11

typedef struct {
    double t;             /* seconds, >= the previous row's */
    cn_role_t version;    /* CN_ROLE_STABLE or CN_ROLE_CANARY */
    cn_seq_kind_t metric; /* CN_SEQ_ERROR, CN_SEQ_LATENCY, CN_SEQ_PREDICTION */
    double value;         /* error: 0 or 1; latency_ms: >= 0; finite */
    const char *segment;  /* NULL: none; borrowed for the call only */
    size_t line;          /* where the row starts */
} cn_stream_row_t;

/* Called once per row, in file order. Return 0 to go on, or a negative
 * CN_E* code to stop. */
typedef int (*cn_stream_row_cb)(void *ctx, const cn_stream_row_t *row);

/*
 * Parse len bytes of CSV (no NUL terminator needed), calling row_cb for
 * each row. filename is used only in messages. Returns 0 when every row
 * was delivered; CN_EPARSE with one line in err[0..errlen) for bad input;
 * or the callback's code with "FILE:LINE: cannot use the row: ..." in err.
 * On error some rows may already have been delivered.
 */
int cn_stream_parse(const char *text, size_t len, const char *filename,
                    cn_stream_row_cb row_cb, void *ctx, char *err, size_t errlen);

#endif
