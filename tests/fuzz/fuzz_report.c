/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the rollout report's writer (cli/report.h): any
 * JSON document must render (or be refused as too big) without a crash,
 * with balanced charts and no markup of the server's making; and any
 * string must come out of the escaper with no character that could open
 * or close markup or an attribute.
 */
#include "cli/report.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void check_escape(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    cn_buf_t b = CN_BUF_INIT(1 << 24);
    cn_report_escape(&b, s);
    const char *out = b.data ? b.data : "";
    if (strpbrk(out, "<>\"'"))
        abort();
    for (const char *p = strchr(out, '&'); p; p = strchr(p + 1, '&'))
        if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) &&
            strncmp(p, "&quot;", 6) && strncmp(p, "&#39;", 5))
            abort();
    cn_buf_dispose(&b);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_escape(data, size);
    json_t *doc = json_loadb((const char *)data, size, 0, NULL);
    if (!doc)
        return 0;
    cn_buf_t b = CN_BUF_INIT(1 << 24);
    int rc = cn_report_html(doc, &b);
    if (rc == 0) {
        if (strncmp(b.data, "<!DOCTYPE html>\n", 16) != 0 ||
            strstr(b.data, "<script") || strstr(b.data, "<img") ||
            count(b.data, "<svg ") != count(b.data, "</svg>") ||
            !strstr(b.data, "</html>\n"))
            abort();
    } else if (rc != CN_ETOOBIG) {
        abort();
    }
    cn_buf_dispose(&b);
    json_decref(doc);
    return 0;
}
