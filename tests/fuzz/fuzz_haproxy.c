/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the HAProxy engine's parsers of HAProxy's answers
 * (engines/haproxy_plan.c): the first byte picks what the rest is read
 * as: 0 the answer of `show servers state`, 1 that of `show stat` (over
 * the servers of a fixed state answer), 2 any command's answer under
 * each expectation, 3 a state answer planned against a fixed generation.
 * Any bytes must give either an error of one line, or servers whose
 * names and addresses are NUL-terminated within their buffers and whose
 * `ours` agrees with the name parser, and a plan whose commands are one
 * line each.
 */
#include "engines/haproxy_internal.h"
#include "util/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixed_state[] =
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n"
    "3 be 1 cn-stable-v1-0 127.0.0.1 2 0 256 256 1 1 0 0 0 0 0 0 - 18081 - 0 0 - - 0\n"
    "3 be 2 cn-canary-v2-0 ::1 2 8 3 1 1 1 0 0 0 0 0 0 - 18083 - 0 0 - - 0\n";

static void one_line(int rc, const char *err)
{
    if (rc == 0 || !err[0] || strchr(err, '\n'))
        abort();
}

static void check_live(const cn_haproxy_live_t *live)
{
    for (size_t i = 0; i < live->count; i++) {
        const cn_haproxy_server_t *s = &live->servers[i];
        if (!memchr(s->name, '\0', sizeof s->name) ||
            !memchr(s->addr, '\0', sizeof s->addr) ||
            !memchr(s->label, '\0', sizeof s->label))
            abort();
        cn_role_t role;
        char label[CN_HAPROXY_NAME_MAX + 1];
        unsigned idx;
        if (s->ours != cn_haproxy__parse_name("cn-", s->name, &role, label, &idx))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *text = cn_xstrndup((const char *)data + 1, size - 1);
    char err[512] = "";
    cn_haproxy_live_t live = {0};
    switch (data[0] % 4) {
    case 0: {
        int rc = cn_haproxy__parse_state(text, "be", "cn-", &live, err, sizeof err);
        if (rc)
            one_line(rc, err);
        else
            check_live(&live);
        break;
    }
    case 1: {
        if (cn_haproxy__parse_state(fixed_state, "be", "cn-", &live, err, sizeof err))
            abort();
        int rc = cn_haproxy__parse_stat(text, "be", &live, err, sizeof err);
        if (rc)
            one_line(rc, err);
        check_live(&live);
        break;
    }
    case 2:
        for (int e = CN_HAPROXY_EXPECT_EMPTY; e <= CN_HAPROXY_EXPECT_STAT; e++) {
            err[0] = '\0';
            int rc = cn_haproxy__check_answer(
                "set weight be/s 1", (cn_haproxy_expect_t)e, text, err, sizeof err);
            if (rc)
                one_line(rc, err);
        }
        break;
    case 3: {
        int rc = cn_haproxy__parse_state(text, "be", "cn-", &live, err, sizeof err);
        if (rc) {
            one_line(rc, err);
            break;
        }
        cn_haproxy_config_t cfg = {0};
        cfg.socket = "/s";
        cfg.backend = "be";
        cfg.server_prefix = "cn-";
        cn_haproxy_want_t want[2] = {{.role = CN_ROLE_STABLE, .weight = 200},
                                     {.role = CN_ROLE_CANARY, .weight = 56}};
        cn_haproxy__name_label("v1", want[0].label);
        cn_haproxy__name_label("v2+parity", want[1].label);
        strcpy(want[0].addr, "127.0.0.1:18081");
        strcpy(want[1].addr, "[::1]:18083");
        cn_haproxy_plan_t plan;
        rc = cn_haproxy__plan(&cfg, &live, want, 2, &plan, err, sizeof err);
        if (rc) {
            one_line(rc, err);
            break;
        }
        for (size_t i = 0; i < plan.count; i++)
            if (strchr(plan.cmds[i].text, '\n'))
                abort();
        cn_haproxy__plan_dispose(&plan);
        break;
    }
    }
    cn_haproxy__live_dispose(&live);
    free(text);
    return 0;
}
