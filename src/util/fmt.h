/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Numbers as text, the same way everywhere: reals in the shortest form that
 * reads back to the same double (Prometheus text, JSON, messages), and
 * basis points as a percentage with two decimals (log lines).
 */
#ifndef CN_UTIL_FMT_H
#define CN_UTIL_FMT_H

#include <stddef.h>

/* Bytes a cn_fmt_double buffer needs: "-1.2345678901234567e-308" and NUL. */
#define CN_FMT_DOUBLE_BUF 32

/*
 * Write value in the shortest "%.Ng" form (N from 15 to 17) that strtod()
 * reads back to the same double: 0.95 as "0.95", not
 * "0.94999999999999996"; 1 as "1"; 2.5e-05 as "2.5e-05". Up to 15
 * significant digits every double prints exactly (DBL_DIG), and %g drops
 * trailing zeros, so starting at 15 gives the shortest form. NaN is "NaN",
 * infinities "+Inf" and "-Inf" (Prometheus spelling; JSON writers check
 * isfinite first). len >= CN_FMT_DOUBLE_BUF. Returns buf.
 */
const char *cn_fmt_double(double value, char *buf, size_t len);

/* Bytes a cn_fmt_bp buffer needs: "42949672.95%" and NUL. */
#define CN_FMT_BP_BUF 16

/* Basis points (1/100 of a percent) as "12.34%": 2000 -> "20.00%",
 * 5 -> "0.05%". len >= CN_FMT_BP_BUF. Returns buf. */
const char *cn_fmt_bp(unsigned bp, char *buf, size_t len);

#endif
