/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Numbers with units and addresses (units.h). Every parser reads digits
 * with one saturating reader, so that "99999999999999999999h" is a value
 * out of range (which the caller reports with its bounds) rather than a
 * syntax error or, worse, a value that wrapped around.
 */
#include "util/units.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/text.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Leading decimal digits of *s, saturating at UINT64_MAX. Advances *s;
 * returns the number of digits read. */
static size_t read_digits(const char **s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; is_digit(**s); (*s)++, n++) {
        unsigned d = (unsigned)(**s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return n;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

int cn_units_parse_uint(const char *text, uint64_t *out)
{
    const char *s = text;
    uint64_t v;
    if (!text || !out || read_digits(&s, &v) == 0 || *s)
        return CN_EINVAL;
    *out = v;
    return 0;
}

int cn_units_parse_percent_bp(const char *text, uint16_t *out_bp)
{
    if (!text || !out_bp)
        return CN_EINVAL;
    const char *s = text;
    uint64_t whole;
    size_t nint = read_digits(&s, &whole);
    uint64_t frac = 0;
    size_t nfrac = 0;
    if (*s == '.') {
        s++;
        /* Two decimals are the granularity (1 bp); further digits are
         * allowed only as zeros, so that 2.500 is 2.5 but 2.555 is refused
         * rather than rounded. */
        for (; is_digit(*s); s++, nfrac++) {
            if (nfrac < 2)
                frac = frac * 10 + (uint64_t)(*s - '0');
            else if (*s != '0')
                return CN_EINVAL;
        }
        if (nfrac == 0)
            return CN_EINVAL;
    }
    if (nint == 0 && nfrac == 0)
        return CN_EINVAL;
    if (*s == '%')
        s++;
    if (*s != '\0')
        return CN_EINVAL;
    if (nfrac == 1)
        frac *= 10;
    if (whole > 100 || whole * 100 + frac > CN_UNITS_BP_MAX)
        return CN_EINVAL;
    *out_bp = (uint16_t)(whole * 100 + frac);
    return 0;
}

/* A unit suffix and what one of it is worth. */
typedef struct unit_s {
    const char *unit;
    uint64_t scale;
} unit_t;

static const unit_t duration_units[] = {{"", 1},
                                        {"ms", 1},
                                        {"s", CN_UNITS_SECOND_MS},
                                        {"m", CN_UNITS_MINUTE_MS},
                                        {"h", CN_UNITS_HOUR_MS}};
static const unit_t size_units[] = {{"", 1},
                                    {"B", 1},
                                    {"KiB", CN_UNITS_KIB},
                                    {"MiB", CN_UNITS_MIB},
                                    {"GiB", CN_UNITS_GIB}};

/* Digits followed by one of the units (exactly), scaled, saturating. */
static int parse_with_unit(const char *text, const unit_t *units, size_t nunits,
                           uint64_t *out)
{
    const char *s = text;
    uint64_t v;
    if (!text || !out || read_digits(&s, &v) == 0)
        return CN_EINVAL;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(s, units[i].unit) == 0) {
            *out = mul_sat(v, units[i].scale);
            return 0;
        }
    }
    return CN_EINVAL;
}

int cn_units_parse_duration_ms(const char *text, uint64_t *out_ms)
{
    return parse_with_unit(text, duration_units, COUNT(duration_units), out_ms);
}

int cn_units_parse_size(const char *text, uint64_t *out_bytes)
{
    return parse_with_unit(text, size_units, COUNT(size_units), out_bytes);
}

/* v in the largest of units (scanned from the last) that divides it. */
static const char *unit_text(uint64_t v, const unit_t *units, size_t nunits,
                             const char *bare, char *buf, size_t len)
{
    for (size_t i = nunits; i-- > 2;) {
        if (v >= units[i].scale && v % units[i].scale == 0) {
            snprintf(buf, len, "%llu%s", (unsigned long long)(v / units[i].scale),
                     units[i].unit);
            return buf;
        }
    }
    snprintf(buf, len, "%llu%s", (unsigned long long)v, bare);
    return buf;
}

const char *cn_units_size_text(uint64_t bytes, char *buf, size_t len)
{
    return unit_text(bytes, size_units, COUNT(size_units), "", buf, len);
}

const char *cn_units_duration_text(uint64_t ms, char *buf, size_t len)
{
    return unit_text(ms, duration_units, COUNT(duration_units), "ms", buf, len);
}

const char *cn_units_percent_text(unsigned bp, char *buf, size_t len)
{
    /* util/fmt's "2.50%" without the sign and the trailing zeros: the
     * number as one writes it in a config. */
    char t[CN_FMT_BP_BUF];
    cn_fmt_bp(bp, t, sizeof t);
    size_t n = strlen(t) - 1; /* drop '%' */
    while (t[n - 1] == '0')
        n--;
    if (t[n - 1] == '.')
        n--;
    snprintf(buf, len, "%.*s", (int)n, t);
    return buf;
}

static int is_host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
           ch == '-' || ch == '.' || ch == '_';
}

/* The split is util/addr's; what is added here is the host's own syntax,
 * so that a typo is refused when the config is read, not when it is
 * resolved. */
int cn_units_check_address(const char *text, int for_listen, size_t *scheme_len)
{
    char host[CN_ADDR_HOST_BUF];
    uint16_t port;
    if (!text || cn_addr_split(text, CN_ADDR_SCHEME | (for_listen ? CN_ADDR_LISTEN : 0),
                               host, &port))
        return CN_EINVAL;
    size_t skip = strncmp(text, "http://", 7) == 0 ? 7 : 0;
    if (text[skip] == '[') {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return CN_EINVAL;
    } else {
        size_t n = strlen(host);
        int dotted = 1;
        if (n > 253)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++) {
            if (!is_host_char(host[i]))
                return CN_EINVAL;
            dotted &= is_digit(host[i]) || host[i] == '.';
        }
        struct in_addr a4;
        if (n && dotted && inet_pton(AF_INET, host, &a4) != 1)
            return CN_EINVAL;
    }
    if (scheme_len)
        *scheme_len = skip;
    return 0;
}

int cn_units_check_http_url(const char *text, int no_query, char *what, size_t len)
{
    const char *rest = NULL;
    if (strncmp(text, "http://", 7) == 0)
        rest = text + 7;
    else if (strncmp(text, "https://", 8) == 0)
        rest = text + 8;
    char q[CN_TEXT_QUOTE_BUF(80)];
    if (!rest || !*rest || *rest == '/' ||
        strpbrk(text, no_query ? " \t\r\n?#" : " \t\r\n")) {
        snprintf(
            what, len, "must be an http:// or https:// URL with a host%s, got '%s'",
            no_query ? " and no query" : "", cn_text_quote(text, strlen(text), 80, q));
        return CN_EINVAL;
    }
    return 0;
}
