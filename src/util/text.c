/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Quoting untrusted text into messages, UTF-8 checks, numbers; see text.h. */
#include "util/text.h"
#include "util/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *cn_text_quote(const char *s, size_t len, size_t max, char *buf)
{
    size_t j = 0;
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (len > max) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}

/*
 * The table of well-formed sequences in RFC 3629 section 4, read from the
 * first byte: it fixes the length and the range of the second byte (which
 * is where overlongs, surrogates and code points past U+10FFFF show), and
 * every later byte is a plain continuation byte, 0x80 to 0xBF.
 */
size_t cn_text_utf8_len(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

size_t cn_text_utf8_clip(char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        size_t len = cn_text_utf8_len(s + i, n - i);
        if (len == 0)
            break;
        i += len;
    }
    s[i] = '\0';
    return i;
}

int cn_text_to_double(const char *s, double *out)
{
    if (*s == '\0' || !strchr("+-.0123456789", *s) || strpbrk(s, "xX"))
        return CN_EPARSE;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return CN_EPARSE;
    *out = v;
    return 0;
}
