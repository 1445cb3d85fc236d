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

/* Shortest token that is not warned about, in bytes. */
#define CN_SERVER_TOKEN_MIN_BYTES 16u
/* Longest token accepted, in bytes. */
#define CN_SERVER_TOKEN_MAX_BYTES 255u

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

/*
 * The admin token: read from token_file (one non-empty line; trailing
 * whitespace dropped) if given, else the environment's CANARY_TOKEN if set
 * and non-empty, else CN_SERVER_TOKEN_MIN_BYTES*2 hex characters from
 * /dev/urandom (*generated is then true). token holds
 * CN_SERVER_TOKEN_MAX_BYTES + 1 bytes.
 *
 * Warnings, one line each on warn (NULL: none), for a token that works but
 * should not be trusted: shorter than CN_SERVER_TOKEN_MIN_BYTES, and a
 * token file that users other than its owner can read or write. Neither is
 * refused: the admin API listens on loopback by default, and refusing
 * would turn a weak but working setup into an outage at upgrade; the
 * warning says what to do instead.
 *
 * Returns 0, CN_EIO (unreadable file, no /dev/urandom) or CN_EINVAL (empty,
 * several lines, too long) with one line in err naming the file or the
 * variable.
 */
int cn_server_load_token(const char *token_file, char *token, bool *generated,
                         FILE *warn, char *err, size_t errlen);

#endif
