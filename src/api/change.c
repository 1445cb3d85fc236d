/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * How a PUT becomes a change: the request's change goes to the controller,
 * and the request is answered when the controller's reply comes (on the
 * control loop's thread; cn_admin_respond posts it to the admin loop). The
 * admin loop does not wait meanwhile.
 */
#include "api/admin_internal.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct pending_s {
    cn_admin_request_t *req;
    cn_admin__render_fn render;
} pending_t;

/* On the control loop's thread. */
static void on_result(const cn_controller_result_t *r, void *arg)
{
    pending_t *p = arg;
    if (r->rc) {
        cn_admin__respond_error(p->req, cn_admin__status_of(r->rc), "%s",
                                r->error[0] ? r->error : cn_strerror(r->rc));
    } else {
        cn_jsonw_t w;
        cn_jsonw_init(&w, 1024 * 1024);
        p->render(&w, &r->generation, r->step.number);
        cn_admin__respond_json(p->req, 200, &w);
    }
    free(p);
}

void cn_admin__submit(cn_admin_request_t *req, const cn_controller_change_t *change,
                      cn_admin__render_fn render)
{
    cn_admin__submit_to(req, req->admin->controller, change, render);
}

void cn_admin__submit_to(cn_admin_request_t *req, cn_controller_t *controller,
                         const cn_controller_change_t *change,
                         cn_admin__render_fn render)
{
    if (!controller) {
        cn_admin__respond_error(req, 404, "%s", CN_ADMIN__NO_DATA_PLANE);
        return;
    }
    pending_t *p = cn_xmalloc(sizeof *p);
    p->req = req;
    p->render = render;
    int rc = cn_controller_submit(controller, change, on_result, p);
    if (rc) {
        free(p);
        cn_admin__respond_error(req, 503, "%s",
                                rc == CN_ETOOBIG ? "too many changes waiting; try again"
                                                 : "the controller is stopping");
    }
}

/* Only the canary weight, to 0: the way out, taken even from a replica a
 * controller manages. */
static bool weight_zero_only(const cn_controller_change_t *c)
{
    return c->has_canary_weight && c->traffic.canary_weight_bp == 0 && !c->has_shadow &&
           !c->has_mode && !c->has_force && !c->promote &&
           !c->has_set[CN_ROLE_STABLE] && !c->has_set[CN_ROLE_CANARY];
}

void cn_admin__generation_resource(cn_admin_request_t *req, cn_admin__parse_fn parse,
                                   cn_admin__render_fn render)
{
    const cn_http_message_t *msg = cn_admin_request_message(req);
    if (msg->method == HTTP_PUT) {
        char who[CN_CONTROLLER_WHO_MAX + 1], err[512];
        cn_admin__who(req, who, sizeof who);
        cn_controller_change_t change;
        cn_controller_change_init(&change, who);
        if (parse(msg->body, msg->body_len, &change, err, sizeof err))
            cn_admin__respond_error(req, 400, "%s", err);
        else if (!weight_zero_only(&change) && cn_admin__managed_refuse(req))
            ; /* answered: a controller drives this replica */
        else
            cn_admin__submit(req, &change, render);
        cn_controller_change_dispose(&change);
        return;
    }
    if (!req->admin->controller) {
        cn_admin__respond_error(req, 404, "%s", CN_ADMIN__NO_DATA_PLANE);
        return;
    }
    cn_generation_t g;
    cn_step_t step;
    cn_generation_init(&g);
    cn_controller_current(req->admin->controller, &g, &step);
    cn_jsonw_t w;
    cn_jsonw_init(&w, 1024 * 1024);
    render(&w, &g, step.number);
    cn_generation_dispose(&g);
    cn_admin__respond_json(req, 200, &w);
}

/* "admin 127.0.0.1": who asked, for the log and the history. */
void cn_admin__who(const cn_admin_request_t *req, char *buf, size_t len)
{
    snprintf(buf, len, "admin %s", req->peer);
}
