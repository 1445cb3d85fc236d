/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The parity arm's label (types.h): "<stable>+parity", cut to fit. */
#include "types/types.h"

#include <criterion/criterion.h>
#include <string.h>

Test(parity_label, appends_the_suffix)
{
    char out[CN_VERSION_LABEL_MAX + 1];
    cn_version_parity_label("v1", out);
    cr_assert_str_eq(out, "v1+parity");
    cr_assert(cn_version_is_parity("v1", "v1+parity"));
    cr_assert_not(cn_version_is_parity("v1", "v1"));
    cr_assert_not(cn_version_is_parity("v1", "v2+parity"));
    cr_assert_not(cn_version_is_parity("v1", NULL));
}

Test(parity_label, cuts_a_long_stable_label_to_fit)
{
    char stable[CN_VERSION_LABEL_MAX + 1];
    memset(stable, 'a', CN_VERSION_LABEL_MAX);
    stable[CN_VERSION_LABEL_MAX] = '\0';
    char out[CN_VERSION_LABEL_MAX + 1];
    cn_version_parity_label(stable, out);
    cr_assert_eq(strlen(out), CN_VERSION_LABEL_MAX);
    cr_assert(strcmp(out + strlen(out) - 7, "+parity") == 0);
    cr_assert(cn_version_is_parity(stable, out));
    /* a label one short of the cut keeps all of itself */
    stable[CN_VERSION_LABEL_MAX - 7] = '\0';
    cn_version_parity_label(stable, out);
    cr_assert_eq(strlen(out), CN_VERSION_LABEL_MAX);
    cr_assert(strncmp(out, stable, CN_VERSION_LABEL_MAX - 7) == 0);
}
