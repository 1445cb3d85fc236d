/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * JSON output for the CLI: jansson's encoder, except that reals are printed
 * in the shortest form that reads back to the same double (0.95, not
 * 0.94999999999999996). Numbers still round-trip exactly.
 */
#ifndef CN_CLI_JSON_OUT_H
#define CN_CLI_JSON_OUT_H

#include <jansson.h>
#include <stdio.h>

/* Write `value` to f, indented by 2, followed by a newline. Returns 0 or -1
 * on a write error. Does not take ownership. */
int cn_json_print(FILE *f, const json_t *value);

/* Shortest "%.{15,16,17}g" rendering of d that strtod() maps back to d,
 * always with a '.' or exponent so it reads as a real. buf >= 32 bytes. */
void cn_json_format_real(double d, char *buf, size_t len);

#endif
