/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * cn_text_utf8_clip (util/text.h): UTF-8 cut to size by a snprintf, maybe
 * inside a character, is made valid again by dropping the cut character,
 * and valid text is left alone.
 */
#include "util/text.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void clipped(const char *in, const char *want)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", in);
    size_t n = cn_text_utf8_clip(buf);
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));
}

Test(text_clip, leaves_valid_text_alone)
{
    clipped("", "");
    clipped("plain ascii", "plain ascii");
    clipped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa4",
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\xa4");
}

Test(text_clip, drops_a_character_cut_at_the_end)
{
    clipped("caf\xc3", "caf");
    clipped("1 \xe2\x82", "1 ");
    clipped("1 \xe2", "1 ");
    clipped("x\xf0\x9f\x90", "x");
}

Test(text_clip, cuts_at_the_first_byte_that_is_not_utf8)
{
    clipped("ab\xff"
            "cd",
            "ab");
    clipped("\x80tail", "");
    clipped("over\xc0\xaflong", "over");
}

Test(text_clip, makes_a_snprintf_cut_of_two_byte_characters_valid)
{
    char src[300];
    size_t n = 0;
    src[n++] = 'x';
    while (n + 2 < sizeof src) {
        src[n++] = '\xc3';
        src[n++] = '\xa9';
    }
    src[n] = '\0';
    for (int width = 1; width < 40; width++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.*s", width, src);
        size_t len = cn_text_utf8_clip(buf);
        /* 'x' then whole characters: an odd length, never more than cut */
        cr_assert_eq(len % 2, 1, "width %d left %zu bytes", width, len);
        cr_assert_leq(len, (size_t)width);
        cr_assert_geq(len + 1, (size_t)width);
    }
}
