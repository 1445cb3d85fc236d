/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Numbers as text (see fmt.h).
 */
#include "util/fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

const char *cn_fmt_double(double value, char *buf, size_t len)
{
    if (isnan(value))
        snprintf(buf, len, "NaN");
    else if (isinf(value))
        snprintf(buf, len, value > 0 ? "+Inf" : "-Inf");
    else
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, value);
            if (strtod(buf, NULL) == value)
                break;
        }
    return buf;
}

const char *cn_fmt_bp(unsigned bp, char *buf, size_t len)
{
    snprintf(buf, len, "%u.%02u%%", bp / 100, bp % 100);
    return buf;
}
