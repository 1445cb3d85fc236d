/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Quoting untrusted text into messages; see text.h. */
#include "util/text.h"

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
