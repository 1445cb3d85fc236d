/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The values a config holds that are numbers with a unit, and addresses:
 * parsing them from the text a person writes ("2.5%", "250ms", "16MiB",
 * "127.0.0.1:9001") and writing them back the way a person would. The
 * config engine (util/config.h) reads every key of these types through
 * here, and so does any other reader of such text (the admin API's JSON),
 * so that "2.5" means the same percentage wherever it is written.
 *
 * Pure functions, no allocation, no global state.
 */
#ifndef CN_UTIL_UNITS_H
#define CN_UTIL_UNITS_H

#include <stddef.h>
#include <stdint.h>

#define CN_UNITS_KIB ((uint64_t)1024)
#define CN_UNITS_MIB (CN_UNITS_KIB * 1024)
#define CN_UNITS_GIB (CN_UNITS_MIB * 1024)
#define CN_UNITS_SECOND_MS ((uint64_t)1000)
#define CN_UNITS_MINUTE_MS (60 * CN_UNITS_SECOND_MS)
#define CN_UNITS_HOUR_MS (60 * CN_UNITS_MINUTE_MS)

/* The largest percentage in basis points (100%). */
#define CN_UNITS_BP_MAX 10000

/*
 * Parse a percentage with at most two decimals ("2.5", "100", "0.01",
 * "2.50", an optional trailing "%") into basis points, in [0, 10000].
 * Further decimals must be zeros: "2.555" is refused, not rounded. No
 * sign, no exponent. Returns 0, or CN_EINVAL with *out_bp untouched.
 */
int cn_units_parse_percent_bp(const char *text, uint16_t *out_bp);

/*
 * Parse a duration: a whole number followed by ms, s, m or h ("250ms",
 * "10s", "2m", "1h"), or bare milliseconds ("1500"). Saturates at
 * UINT64_MAX milliseconds (so that a huge value is out of range, not
 * malformed). Returns 0, or CN_EINVAL with *out_ms untouched.
 */
int cn_units_parse_duration_ms(const char *text, uint64_t *out_ms);

/*
 * Parse a size: a whole number followed by B, KiB, MiB or GiB ("16MiB",
 * "32KiB"), or bare bytes ("1024"). Saturates at UINT64_MAX. Returns 0,
 * or CN_EINVAL with *out_bytes untouched.
 */
int cn_units_parse_size(const char *text, uint64_t *out_bytes);

/*
 * Parse a whole decimal number without sign or unit ("0", "100000").
 * Saturates at UINT64_MAX. Returns 0, or CN_EINVAL with *out untouched.
 */
int cn_units_parse_uint(const char *text, uint64_t *out);

/* Bytes of buffer the *_text() writers below need at most. */
#define CN_UNITS_TEXT_BUF 32

/* A size the way one writes it: "16MiB", "32KiB", "1GiB", "1000" (the
 * largest unit that divides it). Returns buf. */
const char *cn_units_size_text(uint64_t bytes, char *buf, size_t len);

/* A duration the way one writes it: "1h", "2m", "10s", "250ms". */
const char *cn_units_duration_text(uint64_t ms, char *buf, size_t len);

/* Basis points as a percentage without trailing zeros: 250 -> "2.5",
 * 10000 -> "100", 1 -> "0.01". */
const char *cn_units_percent_text(unsigned bp, char *buf, size_t len);

/*
 * Check the syntax of an address "host:port" or "[v6]:port", optionally
 * after "http://" (its length is stored in *scheme_len so that the caller
 * can drop it). Nothing is resolved. A host of digits and dots must be a
 * valid IPv4 address; any other host is a name of letters, digits, '-',
 * '.' and '_', at most 253 bytes. With for_listen, port 0 (any free port)
 * and an empty host (":8080", every interface) are allowed. Returns 0 or
 * CN_EINVAL.
 */
int cn_units_check_address(const char *text, int for_listen, size_t *scheme_len);

/*
 * An http:// or https:// URL with a host (no whitespace); with no_query,
 * no '?' or '#' either (a base URL that paths are appended to). 0, or
 * CN_EINVAL with "must be ..., got '...'" in what (the text quoted).
 */
int cn_units_check_http_url(const char *text, int no_query, char *what, size_t len);

#endif
