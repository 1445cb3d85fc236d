/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A real control plane for the tests: a router built from a config (bound
 * to 127.0.0.1:0, not started: the tests change its traffic word and read
 * its step, which need no worker), optionally a real SQLite state file,
 * and a running controller over both. Used by the controller's and the
 * admin API's tests.
 */
#ifndef CN_TEST_PLANE_H
#define CN_TEST_PLANE_H

#include "controller/controller.h"
#include "router/config.h"
#include "router/router.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdio.h>

typedef struct test_plane_s {
    cn_router_config_t cfg;
    cn_router_t *router;
    cn_store_t *store; /* NULL unless asked for */
    cn_controller_t *controller;
    FILE *log; /* the controller's log */
    char dir[64];
    char state_path[128];
} test_plane_t;

/*
 * Start a plane. The config is: stable 127.0.0.1:1 "v1", canary
 * 127.0.0.1:2 "v2", weight 2.5%, random, shadow 100%, one worker; then
 * `flags` (name, value pairs, NULL-terminated; NULL for none) are applied
 * over it. with_store opens a state file in a fresh temporary directory.
 */
void test_plane_start(test_plane_t *p, const char *const *flags, bool with_store);

/* The same with the controller applying changes through engine (borrowed;
 * NULL: the router). */
void test_plane_start_engine(test_plane_t *p, const char *const *flags, bool with_store,
                             cn_traffic_engine_t *engine);

/* Stop and free everything, and remove the temporary directory. */
void test_plane_stop(test_plane_t *p);

/* What the controller logged so far. */
const char *test_plane_log(test_plane_t *p);

/* Submit a change and wait for its result (copied into *out; dispose
 * out->generation). Returns cn_controller_submit's code. */
int test_plane_apply(test_plane_t *p, const cn_controller_change_t *change,
                     cn_controller_result_t *out);

#endif
