/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A rollout's notifications as the driver writes them into the outbox
 * (notify.h, store.h): which state change is which event, and the event
 * as one JSON object (docs/notification.schema.json, less the "schema"
 * and "id" that the delivery adds). Pure. Private to the controller.
 */
#ifndef CN_CONTROLLER_NOTES_H
#define CN_CONTROLLER_NOTES_H

#include "controller/rollout.h"
#include "notify/notify.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct cn_note_info_s {
    cn_notify_event_t event;
    int64_t time_ms;
    const char *model, *version, *baseline;
    int64_t rollout_id;
    uint32_t run;
    const char *state;  /* the rollout's state after the change */
    const char *reason; /* in words */
    const char *actor;
    uint32_t step_index, step_count;
    uint16_t weight_bp;
    bool shadow;
    uint16_t shadow_bp;
    bool dry_run;
    const char *verdict;        /* pass, fail, marginal, nodata; NULL: none */
    const json_t *analysis;     /* the judge's result JSON (judge/json.h); NULL */
    const char *trigger;        /* the trigger's reason; NULL: none */
    const json_t *blast_radius; /* the rollout read's; NULL: not known */
    /* a parity check's (parity.h): its result so far ("running",
     * "passed", "failed", "inconclusive"); NULL: a candidate's rollout */
    const char *parity;
} cn_note_info_t;

/* The event a NOTIFY action from -> to announces, or -1: started (into
 * progressing from pending or an end: a start or a retry), held (into
 * holding or paused), resumed (out of paused or holding into a running
 * state), promoted, rolled_back, aborted. step and trigger_fired come
 * from SET_TRAFFIC and TRIGGER, not from here. */
int cn_note_event_of(cn_rollout_state_t from, cn_rollout_state_t to);

/* The event as compact JSON text (the caller frees it). */
char *cn_note_json(const cn_note_info_t *in);

#endif
