/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The composition root of `canary control`: the control loop, the
 * registry, the store and the admin API without a data plane of its own.
 * One controller per configured model, each applying its generations
 * through the model's traffic engine and reading its windows through the
 * model's metrics source (control/kinds.h); one admin API in front of all
 * of them (rollouts and tags go to the model's controller), one state
 * file (each model's generation in its own row: store.h,
 * cn_store_scope_model), one notifier.
 *
 * Start-up: the token; the state file (one handle per model, scoped, plus
 * one for the registry and the admin API); each model's engines, then its
 * initial generation (its stored one, else the registry's stable set at
 * weight 0) and its controller, which applies that generation through the
 * engine from its own thread (retried every tick while the engine is
 * unreachable: one model's dead HAProxy stops no other model); the admin
 * API. Shutdown in reverse.
 */
#ifndef CN_CONTROL_CONTROL_H
#define CN_CONTROL_CONTROL_H

#include "control/config.h"

/*
 * Run `canary control` until SIGINT or SIGTERM. Prints "admin on ADDR" on
 * stdout once serving. Errors are one line on stderr ("canary control:
 * ..."). Returns a sysexits(3) code: 0 after a signal, 64 for a config an
 * engine refuses, 65 for a bad token or stored state, 66 for an
 * unreadable token or state file, 69 when the admin port cannot be bound,
 * 70 for an internal failure.
 */
int cn_control_run(cn_control_config_t *cfg);

#endif
