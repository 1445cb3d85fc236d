/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the codecs of api/codec.h share. Not for other modules.
 */
#ifndef CN_API_CODEC_INTERNAL_H
#define CN_API_CODEC_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

/* A JSON value quoted for an error message: reals in their shortest form
 * (jansson would print 2.555 as 2.5550000000000002), the rest as jansson
 * encodes it, cut to 64 bytes. buf holds CN_TEXT_QUOTE_BUF(64) bytes. */
const char *cn_api__quote_value(const json_t *v, char *buf);

/* Parse body as one JSON object (duplicate keys refused). NULL with one
 * line in err otherwise. */
json_t *cn_api__load_object(const char *body, size_t len, char *err, size_t errlen);

#endif
