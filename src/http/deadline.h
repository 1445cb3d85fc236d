/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Deadlines on one libuv loop: the timeouts of thousands of connections
 * behind one uv_timer_t.
 *
 * A connection's timeout moves on every request (idle, then head, then
 * send, then idle again; an upstream connection's connect, response and
 * pool idle). With one uv_timer_t per connection each move is a stop and a
 * start in libuv's binary heap: O(log n) with cache misses, 7% of the
 * proxy's instructions per request at 1,024 clients (callgrind), and a
 * 152-byte handle per connection.
 *
 * Here every timeout of the same duration goes into one list (a "lane")
 * in the order it was armed. Since time only moves forward, that order is
 * the order of the deadlines: arming appends at the tail, disarming
 * unlinks, both O(1) with no allocation; the one timer is set to the
 * earliest head and is restarted only when a deadline earlier than the
 * one it waits for appears (a lane that was empty). The durations are a
 * few configured timeouts, so lanes are few; a duration beyond
 * CN_DEADLINE_LANES distinct ones goes into a last, sorted lane (correct,
 * O(n) to arm), which no configuration of ours reaches.
 *
 * Semantics follow uv_timer_t with a repeat of 0: a deadline fires once,
 * no earlier than ms after uv_now() when armed, never from inside the call
 * that armed it, and deadlines due together fire earliest first. Callbacks
 * run on the loop's thread and may arm or disarm any deadline, their own
 * included.
 * The timer runs (and keeps uv_run going) only while a deadline is armed,
 * as the per-connection timers did.
 * Nothing here is thread-safe: one set per loop, used from its thread.
 */
#ifndef CN_HTTP_DEADLINE_H
#define CN_HTTP_DEADLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define CN_DEADLINE_LANES 16

typedef struct cn_deadline_s cn_deadline_t;
typedef struct cn_deadlines_s cn_deadlines_t;
typedef struct cn_deadline_lane_s cn_deadline_lane_t;

/* Called when d's deadline passed; d is disarmed by then. Use offsetof
 * (container_of) to get from d to the struct that embeds it. */
typedef void (*cn_deadline_fn)(cn_deadline_t *d);

/* Embedded in the caller's struct. Private but for the layout. */
struct cn_deadline_s {
    cn_deadline_t *prev, *next;
    cn_deadline_lane_t *lane; /* NULL: not armed */
    uint64_t due_ms;          /* uv_now() scale */
    cn_deadline_fn fn;
};

struct cn_deadline_lane_s {
    cn_deadline_t *first, *last;
    cn_deadlines_t *set;
    uint64_t ms; /* the duration of every entry; UINT64_MAX: the sorted lane */
};

struct cn_deadlines_s {
    /* private */
    uv_loop_t *loop;
    uv_timer_t timer;
    uint64_t timer_due; /* what the timer waits for; UINT64_MAX: stopped */
    size_t narmed;      /* 0: the timer is stopped, so an idle loop can end */
    unsigned nlanes;
    cn_deadline_lane_t lanes[CN_DEADLINE_LANES];
    cn_deadline_lane_t sorted; /* durations beyond the lanes */
    cn_deadline_lane_t firing; /* due, being called back */
    bool closing;
    void (*closed_cb)(cn_deadlines_t *ds, void *data);
    void *closed_data;
};

/* Prepare ds on loop (initialises its timer handle). */
void cn_deadlines_init(cn_deadlines_t *ds, uv_loop_t *loop);

/* Close ds's timer handle; closed_cb (may be NULL) runs from the loop once
 * it is closed, after which ds's memory may be freed. Every deadline must
 * be disarmed first: the armed ones are dropped without a call. */
void cn_deadlines_close(cn_deadlines_t *ds,
                        void (*closed_cb)(cn_deadlines_t *ds, void *data), void *data);

/* Prepare d, not armed; fn runs when it fires. */
void cn_deadline_init(cn_deadline_t *d, cn_deadline_fn fn);

/* Fire d ms after uv_now(loop); re-arming moves an armed d. */
void cn_deadline_arm(cn_deadlines_t *ds, cn_deadline_t *d, uint64_t ms);

/* Take d off (no-op if not armed). */
void cn_deadline_disarm(cn_deadline_t *d);

static inline bool cn_deadline_armed(const cn_deadline_t *d)
{
    return d->lane != NULL;
}

#endif
