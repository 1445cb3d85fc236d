/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The dashboard's files (src/api/ui/), built into the binary: the Makefile
 * runs tools/embed-assets.sh over them into a generated C source that
 * defines this table. Private to the api module (res_ui.c serves it).
 */
#ifndef CN_API_UI_H
#define CN_API_UI_H

#include <stddef.h>

typedef struct cn_admin__ui_asset_s {
    const char *name;          /* the file's name, "index.html" */
    const unsigned char *data; /* its bytes, NUL-terminated at len */
    size_t len;
} cn_admin__ui_asset_t;

extern const cn_admin__ui_asset_t cn_admin__ui_assets[];
extern const size_t cn_admin__ui_nassets;

#endif
