/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The bounded buffer: appends, the maximum, sticky overflow, take. */
#include "util/buf.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(buf, appends_and_keeps_the_text_nul_terminated)
{
    cn_buf_t b;
    cn_buf_init(&b, 1 << 20);
    cr_assert_null(b.data, "nothing is allocated before the first append");
    cr_assert_eq(cn_buf_str(&b, "HTTP/1.1 "), 0);
    cr_assert_eq(cn_buf_u64(&b, 200), 0);
    cr_assert_eq(cn_buf_byte(&b, ' '), 0);
    cr_assert_eq(cn_buf_u64(&b, 0), 0);
    cr_assert_eq(cn_buf_printf(&b, " %s=%d", "x", -5), 0);
    cr_assert_eq(cn_buf_u64(&b, UINT64_MAX), 0);
    cr_assert_str_eq(b.data, "HTTP/1.1 200 0 x=-518446744073709551615");
    cr_assert_eq(b.len, strlen(b.data));
    cn_buf_dispose(&b);
    cr_assert_null(b.data);
    cr_assert_eq(b.len, 0);
    cr_assert_eq(b.max, 1 << 20, "dispose keeps the maximum for reuse");
}

Test(buf, grows_past_the_first_allocation)
{
    cn_buf_t b = CN_BUF_INIT(100000);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(cn_buf_add(&b, "0123456789", 10), 0, "append %d", i);
    cr_assert_eq(b.len, 100000);
    cr_assert_leq(b.cap, 100001, "never allocates past max + 1");
    for (size_t i = 0; i < b.len; i++)
        cr_assert_eq(b.data[i], (char)('0' + i % 10));
    cr_assert_eq(b.data[b.len], '\0');
    cn_buf_dispose(&b);
}

Test(buf, refuses_to_pass_its_maximum_and_stays_cut)
{
    cn_buf_t b;
    cn_buf_init(&b, 8);
    cr_assert_eq(cn_buf_str(&b, "12345678"), 0, "exactly max fits");
    cr_assert_eq(cn_buf_byte(&b, '9'), CN_ETOOBIG);
    cr_assert(b.overflow);
    cr_assert_str_eq(b.data, "12345678", "a refused append changes nothing");
    cn_buf_truncate(&b, 4);
    cr_assert(!b.overflow, "truncate undoes the partial write and the overflow");
    cr_assert_eq(cn_buf_str(&b, "abcdef"), CN_ETOOBIG);
    cr_assert_eq(cn_buf_str(&b, "a"), CN_ETOOBIG,
                 "after an overflow even a small append is refused: no holes");
    cr_assert_str_eq(b.data, "1234");
    cn_buf_reset(&b);
    cr_assert(!b.overflow);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(b.data, "");
    cr_assert_eq(cn_buf_printf(&b, "%s", "0123456789"), CN_ETOOBIG);
    cr_assert_eq(b.len, 0);
    cn_buf_dispose(&b);
}

Test(buf, printf_of_long_text_goes_straight_into_the_buffer)
{
    cn_buf_t b = CN_BUF_INIT(4096);
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(cn_buf_str(&b, "<"), 0);
    cr_assert_eq(cn_buf_printf(&b, "%s>", big), 0);
    cr_assert_eq(b.len, 1001);
    cr_assert_eq(b.data[0], '<');
    cr_assert_eq(b.data[999], 'x');
    cr_assert_eq(b.data[1000], '>');
    cn_buf_dispose(&b);
}

Test(buf, take_hands_over_the_text)
{
    cn_buf_t b = CN_BUF_INIT(64);
    size_t len = 99;
    char *empty = cn_buf_take(&b, &len);
    cr_assert_str_eq(empty, "", "an empty buffer gives an empty string, not NULL");
    cr_assert_eq(len, 0);
    free(empty);
    cn_buf_str(&b, "abc");
    char *text = cn_buf_take(&b, &len);
    cr_assert_str_eq(text, "abc");
    cr_assert_eq(len, 3);
    cr_assert_null(b.data);
    cr_assert_eq(b.max, 64);
    free(text);
}

Test(buf, a_huge_maximum_is_clamped_and_sizes_do_not_wrap)
{
    cn_buf_t b;
    cn_buf_init(&b, SIZE_MAX);
    cr_assert_eq(b.max, CN_BUF_MAX_MAX);
    cn_buf_str(&b, "ab");
    cr_assert_eq(cn_buf_reserve(&b, SIZE_MAX - 1), CN_ETOOBIG);
    cr_assert(b.overflow);
    cn_buf_dispose(&b);
}
