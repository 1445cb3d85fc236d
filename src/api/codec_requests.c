/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The requests resource's JSON (see api/codec.h): where a request id was
 * served; and percent-decoding, which the path and query parsers share.
 */
#include "api/codec.h"

#include <string.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool cn_api_percent_decode(const char *s, size_t len, bool plus_is_space, char *out,
                           size_t *out_len)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (len - i < 3)
                return false;
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[j++] = plus_is_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    out[j] = '\0';
    *out_len = j;
    return true;
}

void cn_api_lookup_write(cn_jsonw_t *w, const char *id, size_t id_len,
                         const cn_router_lookup_t *found)
{
    cn_jsonw_object_begin(w);
    cn_jsonw_key(w, "request_id");
    cn_jsonw_string(w, id, id_len);
    cn_jsonw_key(w, "version");
    cn_jsonw_string(w, found->version, strnlen(found->version, sizeof found->version));
    cn_jsonw_key(w, "role");
    cn_jsonw_cstr(w, found->role == CN_ROLE_CANARY ? "canary" : "stable");
    cn_jsonw_key(w, "segment");
    cn_jsonw_string(w, found->segment, strnlen(found->segment, sizeof found->segment));
    cn_jsonw_key(w, "time");
    cn_jsonw_double(w, found->unix_s);
    cn_jsonw_key(w, "shadowed");
    cn_jsonw_bool(w, found->shadowed);
    cn_jsonw_object_end(w);
}
