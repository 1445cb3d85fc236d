/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The dashboard's static files, open (no token: the page asks for it and
 * sends it with each API call). index.html is served at "/", every other
 * file of src/api/ui/ at "/ui/NAME", from the copies built into the
 * binary (api/ui.h): no file is read at run time, and the page makes no
 * request outside this server. docs/DASHBOARD.md describes the page.
 */
#include "api/admin_internal.h"
#include "api/ui.h"

#include <stdlib.h>
#include <string.h>

static const char *type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".txt", "text/plain; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* "/ui/" + the longest file name the paths are built for */
#define UI_PATH_MAX 64
static char ui_paths[CN_ADMIN_MAX_ROUTES][UI_PATH_MAX];

void cn_admin__ui_routes(cn_admin_t *a)
{
    char err[160];
    for (size_t i = 0; i < cn_admin__ui_nassets && i < CN_ADMIN_MAX_ROUTES; i++) {
        const cn_admin__ui_asset_t *f = &cn_admin__ui_assets[i];
        const char *path = "/";
        if (strcmp(f->name, "index.html") != 0) {
            /* the same text for every server of the process: written once */
            snprintf(ui_paths[i], sizeof ui_paths[i], "/ui/%s", f->name);
            path = ui_paths[i];
        }
        if (cn_admin_add_static(a, path, type_of(f->name), (const char *)f->data,
                                f->len, err, sizeof err))
            abort();
    }
}
