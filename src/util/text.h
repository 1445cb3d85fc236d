/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Quoting untrusted text back into one-line error messages.
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

#endif
