/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /v1/versions: the stable and canary version sets (label and addresses).
 * GET reads the controller's current generation. PUT replaces either set
 * or both; the controller validates the whole resulting generation (bad or
 * duplicate addresses, a label clash, a canary weight with no canary left:
 * 400 naming the field, nothing changes), publishes it with the traffic as
 * one generation (a new measurement step) and stores it with its history.
 */
#include "api/admin_internal.h"
#include "api/codec.h"
#include "util/error.h"

#include <stdlib.h>

static void handle_versions(cn_admin_request_t *req)
{
    cn_admin__generation_resource(req, cn_api_versions_parse, cn_api_versions_write);
}

void cn_admin__versions_routes(cn_admin_t *a)
{
    static const cn_admin_route_t route = {CN_ADMIN_GET | CN_ADMIN_PUT, "/v1/versions",
                                           true, handle_versions, NULL};
    char err[128];
    if (cn_admin_add_route(a, &route, err, sizeof err))
        abort();
}
