/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Reading the judge's samples from CSV: one observation per row, with the
 * header `version,metric,value` and an optional segment column, in any
 * order. The segment column is named `segment`, or whatever the analysis
 * spec's `segment_by` names (`region`, `user_tier`). This is the format of `canary
 * analyze --data` (docs/CLI.md).
 *
 * Accepted: RFC 4180 quoting ("a ""b""" is `a "b"`, and a quoted field may
 * span lines), LF or CRLF line ends, a UTF-8 byte-order mark, blank lines
 * (skipped), and blanks around unquoted fields (trimmed; a quoted field is
 * taken exactly). `version` is `stable` or `canary`; `value` is a finite
 * number as strtod(3) reads the whole field (rates are 0/1); an empty
 * `segment` means the row has no segment label.
 *
 * Rejected, with one line naming the file, the line and the column: a
 * header that lacks a required column or has one twice or has any other
 * column; a row with the wrong number of fields; an unknown version; an
 * empty metric; a metric or segment longer than CN_JUDGE_CSV_NAME_MAX bytes
 * or with control characters (they would break one-line messages); a value
 * that is not a number, NaN, infinite or overflows; an unterminated quote,
 * a quote inside an unquoted field, text after a closing quote; NUL bytes;
 * and a file with no samples (empty, or a header only).
 */
#ifndef CN_JUDGE_CSV_H
#define CN_JUDGE_CSV_H

#include "judge/judge.h"

#include <stddef.h>

/* Longest metric or segment name accepted, in bytes. */
#define CN_JUDGE_CSV_NAME_MAX 256

/*
 * Called once per sample row, in file order. segment is NULL when the file
 * has no segment column or the field is empty. The strings are borrowed for
 * the call only. Return 0 to go on, or a negative CN_E* code to stop.
 */
typedef int (*cn_judge_csv_row_cb)(void *ctx, const char *metric, cn_judge_arm_t arm,
                                   const char *segment, double value);

/*
 * Parse `len` bytes of CSV (no NUL terminator needed), calling row_cb for
 * each sample. `filename` is used only in messages. Returns 0 when every
 * row was delivered; CN_EPARSE with "FILE:LINE: what" (or "FILE: no
 * samples (...)") in err[0..errlen) for bad input; or the callback's code,
 * with "FILE:LINE: cannot add the sample: ..." in err. On error some rows
 * may already have been delivered: the caller discards what it collected.
 */
int cn_judge_csv_parse(const char *text, size_t len, const char *filename,
                       cn_judge_csv_row_cb row_cb, void *ctx, char *err, size_t errlen);

/*
 * The same, with the segment column named segment_column (the config's
 * segment_by, e.g. "region") instead of "segment"; NULL or "" means
 * "segment".
 */
int cn_judge_csv_parse_column(const char *text, size_t len, const char *filename,
                              const char *segment_column, cn_judge_csv_row_cb row_cb,
                              void *ctx, char *err, size_t errlen);

/*
 * cn_judge_csv_parse() into a data set, through cn_judge_data_add(). On
 * error the data holds a partial file and should be freed.
 */
int cn_judge_data_parse_csv(const char *text, size_t len, const char *filename,
                            cn_judge_data_t *data, char *err, size_t errlen);
int cn_judge_data_parse_csv_column(const char *text, size_t len, const char *filename,
                                   const char *segment_column, cn_judge_data_t *data,
                                   char *err, size_t errlen);

#endif
