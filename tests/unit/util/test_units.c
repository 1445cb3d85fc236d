/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Numbers with units and addresses (util/units.h): what each parser takes
 * and refuses, saturation instead of wrap-around, and the texts written
 * back, which must read back as the same value.
 */
#include "util/error.h"
#include "util/units.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

Test(units, percentages_have_at_most_two_decimals)
{
    static const struct {
        const char *text;
        int bp; /* -1: refused */
    } cases[] = {
        {"0", 0},
        {"2.5", 250},
        {"2.50", 250},
        {"2.500", 250},
        {"0.01", 1},
        {"100", 10000},
        {"100.00", 10000},
        {".5", 50},
        {"007", 700},
        {"12.34%", 1234},
        {"2.555", -1},
        {"0.001", -1},
        {"100.01", -1},
        {"150", -1},
        {"-1", -1},
        {"+1", -1},
        {"", -1},
        {".", -1},
        {"5.", -1},
        {"1e1", -1},
        {"2,5", -1},
        {" 2", -1},
        {"2 ", -1},
        {"%", -1},
        {"99999999999999999999999", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t bp = 4242;
        int rc = cn_units_parse_percent_bp(cases[i].text, &bp);
        if (cases[i].bp < 0) {
            cr_assert_eq(rc, CN_EINVAL, "'%s' refused", cases[i].text);
            cr_assert_eq(bp, 4242, "untouched on error");
        } else {
            cr_assert_eq(rc, 0, "'%s' accepted", cases[i].text);
            cr_assert_eq(bp, cases[i].bp, "'%s'", cases[i].text);
        }
    }
    uint16_t bp;
    cr_assert_eq(cn_units_parse_percent_bp(NULL, &bp), CN_EINVAL);
}

Test(units, durations_take_ms_s_m_h_or_bare_milliseconds)
{
    static const struct {
        const char *text;
        long long ms; /* -1: refused */
    } cases[] = {
        {"250ms", 250},
        {"10s", 10000},
        {"2m", 120000},
        {"1h", 3600000},
        {"1500", 1500},
        {"0", 0},
        {"0s", 0},
        {"4294967295", 4294967295LL},
        {"4294967296", 4294967296LL},
        {"1.5s", -1},
        {"soon", -1},
        {"10 s", -1},
        {"-1s", -1},
        {"10S", -1},
        {"", -1},
        {"s", -1},
        {"2d", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t ms = 7;
        int rc = cn_units_parse_duration_ms(cases[i].text, &ms);
        if (cases[i].ms < 0) {
            cr_assert_eq(rc, CN_EINVAL, "'%s' refused", cases[i].text);
            cr_assert_eq(ms, 7);
        } else {
            cr_assert_eq(rc, 0, "'%s' accepted", cases[i].text);
            cr_assert_eq(ms, (uint64_t)cases[i].ms, "'%s'", cases[i].text);
        }
    }
}

Test(units, sizes_take_binary_units_or_bare_bytes)
{
    static const struct {
        const char *text;
        long long bytes; /* -1: refused */
    } cases[] = {
        {"1024", 1024},       {"512B", 512},  {"32KiB", 32768}, {"16MiB", 16777216},
        {"1GiB", 1073741824}, {"0", 0},       {"16MB", -1},     {"16mib", -1},
        {"1.5MiB", -1},       {"lots", -1},   {"", -1},         {"-1", -1},
        {"KiB", -1},          {"16 MiB", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 7;
        int rc = cn_units_parse_size(cases[i].text, &v);
        if (cases[i].bytes < 0) {
            cr_assert_eq(rc, CN_EINVAL, "'%s' refused", cases[i].text);
            cr_assert_eq(v, 7);
        } else {
            cr_assert_eq(rc, 0, "'%s' accepted", cases[i].text);
            cr_assert_eq(v, (uint64_t)cases[i].bytes, "'%s'", cases[i].text);
        }
    }
}

Test(units, huge_values_saturate_rather_than_wrap)
{
    uint64_t v = 0;
    cr_assert_eq(cn_units_parse_duration_ms("99999999999999999999999h", &v), 0);
    cr_assert_eq(v, UINT64_MAX, "out of any range, never a small number");
    cr_assert_eq(cn_units_parse_size("18446744073709551615GiB", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(cn_units_parse_uint("99999999999999999999999", &v), 0);
    cr_assert_eq(v, UINT64_MAX);
    cr_assert_eq(cn_units_parse_uint("", &v), CN_EINVAL);
    cr_assert_eq(cn_units_parse_uint("-1", &v), CN_EINVAL);
    cr_assert_eq(cn_units_parse_uint("1 ", &v), CN_EINVAL);
}

Test(units, texts_use_the_largest_unit_and_read_back)
{
    static const struct {
        uint64_t v;
        const char *size, *duration;
    } cases[] = {
        {0, "0", "0ms"},
        {1, "1", "1ms"},
        {1000, "1000", "1s"},
        {1024, "1KiB", "1024ms"},
        {60000, "60000", "1m"},
        {3600000, "3600000", "1h"},
        {16777216, "16MiB", "16777216ms"},
        {1073741824, "1GiB", "1073741824ms"},
        {1536, "1536", "1536ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[CN_UNITS_TEXT_BUF];
        uint64_t back;
        cr_assert_str_eq(cn_units_size_text(cases[i].v, buf, sizeof buf),
                         cases[i].size);
        cr_assert_eq(cn_units_parse_size(buf, &back), 0);
        cr_assert_eq(back, cases[i].v);
        cr_assert_str_eq(cn_units_duration_text(cases[i].v, buf, sizeof buf),
                         cases[i].duration);
        cr_assert_eq(cn_units_parse_duration_ms(buf, &back), 0);
        cr_assert_eq(back, cases[i].v);
    }
    static const struct {
        unsigned bp;
        const char *text;
    } pct[] = {{0, "0"},     {1, "0.01"},     {10, "0.1"},
               {250, "2.5"}, {1234, "12.34"}, {10000, "100"}};
    for (size_t i = 0; i < sizeof pct / sizeof pct[0]; i++) {
        char buf[CN_UNITS_TEXT_BUF];
        uint16_t back;
        cr_assert_str_eq(cn_units_percent_text(pct[i].bp, buf, sizeof buf),
                         pct[i].text);
        cr_assert_eq(cn_units_parse_percent_bp(buf, &back), 0);
        cr_assert_eq(back, pct[i].bp);
    }
}

Test(units, addresses_are_checked_for_syntax_only)
{
    static const struct {
        const char *text;
        int listen, ok;
        size_t skip;
    } cases[] = {
        {"127.0.0.1:9001", 0, 1, 0}, {"http://model-a:8000", 0, 1, 7},
        {"[::1]:80", 0, 1, 0},       {"model_a.internal:1", 0, 1, 0},
        {":8080", 1, 1, 0},          {"0.0.0.0:0", 1, 1, 0},
        {":8080", 0, 0, 0},          {"127.0.0.1:0", 0, 0, 0},
        {"127.0.0.1", 0, 0, 0},      {"127.0.0.1:65536", 0, 0, 0},
        {"256.1.1.1:80", 0, 0, 0},   {"[::g]:80", 0, 0, 0},
        {"[::1]80", 0, 0, 0},        {"a b:80", 0, 0, 0},
        {"host:080000", 0, 0, 0},    {"host:-1", 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t skip = 99;
        int rc = cn_units_check_address(cases[i].text, cases[i].listen, &skip);
        cr_assert_eq(rc == 0, cases[i].ok, "'%s' (listen %d)", cases[i].text,
                     cases[i].listen);
        if (cases[i].ok)
            cr_assert_eq(skip, cases[i].skip, "'%s'", cases[i].text);
    }
    cr_assert_eq(cn_units_check_address(NULL, 0, NULL), CN_EINVAL);
}
