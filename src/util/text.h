/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Untrusted text: quoting it back into one-line error messages, checking
 * that it is UTF-8 (for writers whose formats require UTF-8, and for
 * parsers that must refuse anything else), and reading a number from it.
 */
#ifndef CN_UTIL_TEXT_H
#define CN_UTIL_TEXT_H

#include <stddef.h>

/* Bytes of buffer cn_text_quote() needs for a given max. */
#define CN_TEXT_QUOTE_BUF(max) ((max) + 8)

/*
 * Copy at most `max` bytes of s[0..len) into buf, replacing every byte that
 * is not printable ASCII by '?' (so a message stays one line), and append
 * "..." when the text was cut. buf must hold CN_TEXT_QUOTE_BUF(max) bytes.
 * Returns buf.
 */
const char *cn_text_quote(const char *s, size_t len, size_t max, char *buf);

/*
 * Length (1 to 4) of the valid UTF-8 sequence at the start of s[0..n), or
 * 0 if the bytes there are not one: a stray continuation byte, a sequence
 * cut short by n, an overlong form, a surrogate, or anything past U+10FFFF
 * (RFC 3629). An ASCII byte, NUL included, is a sequence of length 1;
 * callers that refuse NUL check for it themselves. n == 0 gives 0.
 *
 * A writer that must emit UTF-8 steps through its input with this and
 * writes U+FFFD (in its own format's spelling) for each byte where it
 * returns 0, then moves on by one byte.
 */
size_t cn_text_utf8_len(const char *s, size_t n);

/*
 * Cut the NUL-terminated s in place before the first byte that does not
 * start a valid UTF-8 sequence (cn_text_utf8_len), and return its new
 * length. This is for text that was UTF-8 before a fixed-size snprintf
 * ("%.200s", a buffer's end) cut it, possibly inside a character: the cut
 * character goes, and the rest is valid UTF-8 again.
 */
size_t cn_text_utf8_clip(char *s);

/*
 * Read the whole NUL-terminated s as a finite decimal number (strtod's
 * syntax without hex, infinities or NaN: it starts with a sign, a digit or
 * '.'). Returns 0 with *out set, or CN_EPARSE with *out untouched.
 */
int cn_text_to_double(const char *s, double *out);

#endif
