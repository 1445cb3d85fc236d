/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The composition root of `canary serve`: the one place that assembles the
 * router (data plane), the state store, the controller (control loop) and
 * the admin API, handles the signals, and tears everything down through one
 * exit. The CLI only parses arguments into a config and calls
 * cn_server_run.
 *
 * Start-up order, and why:
 *  1. the admin token (refuse an unreadable or empty one before binding);
 *  2. the state file, and the state it holds: a stored split wins over the
 *     config and the flags, so a restart after a rollback never sends
 *     traffic to the canary again because the config file still says 5%;
 *  3. the router (binds the data plane's port), the controller, the admin
 *     API (binds its port), then the worker threads.
 * Shutdown runs the other way: the admin API stops taking requests and
 * waits for the answers it owes; the controller finishes the changes it
 * has; the router drains; the store closes.
 */
#ifndef CN_SERVER_SERVER_H
#define CN_SERVER_SERVER_H

#include "server/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Run `canary serve` with a config that cn_server_config_validate accepted
 * (cfg may be changed: the stored state is applied to its router part). Blocks until
 * SIGINT or SIGTERM. Prints "listening on ADDR" and "admin on ADDR" on
 * stdout once serving. Errors are one line on stderr
 * ("canary serve: ..."). Returns a sysexits(3) code: 0 after a signal, 64
 * for a config the router refuses, 65 for a bad token or stored state, 66
 * for an unreadable token or state file, 69 when a port cannot be bound,
 * 70 for an internal failure.
 */
int cn_server_run(cn_server_config_t *cfg);

#endif
