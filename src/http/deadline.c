/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Deadlines in per-duration lanes behind one timer (see deadline.h).
 */
#include "http/deadline.h"

#include <string.h>

/* Unlink d from its lane l; the count of armed deadlines is the caller's. */
static void unlink_from(cn_deadline_lane_t *l, cn_deadline_t *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        l->first = d->next;
    if (d->next)
        d->next->prev = d->prev;
    else
        l->last = d->prev;
    d->prev = d->next = NULL;
    d->lane = NULL;
}

static void append(cn_deadline_lane_t *l, cn_deadline_t *d)
{
    d->lane = l;
    d->next = NULL;
    d->prev = l->last;
    if (l->last)
        l->last->next = d;
    else
        l->first = d;
    l->last = d;
}

/* The sorted lane: from the tail, since later deadlines are the common
 * case; equal deadlines keep the order they were armed in. */
static void insert_sorted(cn_deadline_lane_t *l, cn_deadline_t *d)
{
    cn_deadline_t *after = l->last;
    while (after && after->due_ms > d->due_ms)
        after = after->prev;
    d->lane = l;
    d->prev = after;
    d->next = after ? after->next : l->first;
    if (d->next)
        d->next->prev = d;
    else
        l->last = d;
    if (after)
        after->next = d;
    else
        l->first = d;
}

/* The lane for duration ms: an existing one, a new one, or an empty one
 * taken over; NULL when all are busy with other durations. */
static cn_deadline_lane_t *lane_for(cn_deadlines_t *ds, uint64_t ms)
{
    cn_deadline_lane_t *empty = NULL;
    for (unsigned i = 0; i < ds->nlanes; i++) {
        if (ds->lanes[i].ms == ms)
            return &ds->lanes[i];
        if (!empty && !ds->lanes[i].first)
            empty = &ds->lanes[i];
    }
    if (!empty && ds->nlanes < CN_DEADLINE_LANES)
        empty = &ds->lanes[ds->nlanes++];
    if (empty)
        empty->ms = ms;
    return empty;
}

static void on_timer(uv_timer_t *t);

static void schedule(cn_deadlines_t *ds)
{
    if (ds->closing)
        return;
    uint64_t due = UINT64_MAX;
    for (unsigned i = 0; i < ds->nlanes; i++)
        if (ds->lanes[i].first && ds->lanes[i].first->due_ms < due)
            due = ds->lanes[i].first->due_ms;
    if (ds->sorted.first && ds->sorted.first->due_ms < due)
        due = ds->sorted.first->due_ms;
    if (due == ds->timer_due)
        return;
    ds->timer_due = due;
    if (due == UINT64_MAX) {
        uv_timer_stop(&ds->timer);
        return;
    }
    uint64_t now = uv_now(ds->loop);
    uv_timer_start(&ds->timer, on_timer, due > now ? due - now : 0, 0);
}

/* Move every entry due by now to the firing list, earliest first (a
 * merge of the lanes' heads; ties in lane order). */
static void take_due(cn_deadlines_t *ds, uint64_t now)
{
    for (;;) {
        cn_deadline_lane_t *best = NULL;
        for (unsigned i = 0; i < ds->nlanes; i++) {
            cn_deadline_t *h = ds->lanes[i].first;
            if (h && h->due_ms <= now && (!best || h->due_ms < best->first->due_ms))
                best = &ds->lanes[i];
        }
        cn_deadline_t *h = ds->sorted.first;
        if (h && h->due_ms <= now && (!best || h->due_ms < best->first->due_ms))
            best = &ds->sorted;
        if (!best)
            return;
        cn_deadline_t *d = best->first;
        unlink_from(best, d);
        append(&ds->firing, d);
    }
}

static void on_timer(uv_timer_t *t)
{
    cn_deadlines_t *ds = t->data;
    ds->timer_due = UINT64_MAX;
    uint64_t now = uv_now(ds->loop);
    /* Take the due entries first, then call back: an entry armed by a
     * callback is not run from inside it (for 0 ms it runs when libuv next
     * runs timers, which libuv 1.44 may do in the same pass, as for its
     * own timers), and one disarmed by a callback before its turn here is
     * simply no longer in the firing list. */
    take_due(ds, now);
    while (ds->firing.first) {
        cn_deadline_t *d = ds->firing.first;
        unlink_from(&ds->firing, d);
        ds->narmed--;
        d->fn(d);
    }
    schedule(ds);
}

void cn_deadlines_init(cn_deadlines_t *ds, uv_loop_t *loop)
{
    memset(ds, 0, sizeof *ds);
    ds->loop = loop;
    ds->timer_due = UINT64_MAX;
    ds->sorted.ms = UINT64_MAX;
    for (unsigned i = 0; i < CN_DEADLINE_LANES; i++)
        ds->lanes[i].set = ds;
    ds->sorted.set = ds->firing.set = ds;
    uv_timer_init(loop, &ds->timer);
    ds->timer.data = ds;
}

static void timer_closed(uv_handle_t *h)
{
    cn_deadlines_t *ds = h->data;
    if (ds->closed_cb)
        ds->closed_cb(ds, ds->closed_data);
}

void cn_deadlines_close(cn_deadlines_t *ds,
                        void (*closed_cb)(cn_deadlines_t *ds, void *data), void *data)
{
    ds->closing = true;
    ds->closed_cb = closed_cb;
    ds->closed_data = data;
    uv_close((uv_handle_t *)&ds->timer, timer_closed);
}

void cn_deadline_init(cn_deadline_t *d, cn_deadline_fn fn)
{
    memset(d, 0, sizeof *d);
    d->fn = fn;
}

void cn_deadline_arm(cn_deadlines_t *ds, cn_deadline_t *d, uint64_t ms)
{
    if (d->lane)
        unlink_from(d->lane, d);
    else
        ds->narmed++;
    uint64_t now = uv_now(ds->loop);
    d->due_ms = ms > UINT64_MAX - now ? UINT64_MAX - 1 : now + ms;
    cn_deadline_lane_t *l = lane_for(ds, ms);
    if (l)
        append(l, d);
    else
        insert_sorted(&ds->sorted, d);
    if (d->due_ms < ds->timer_due)
        schedule(ds);
}

void cn_deadline_disarm(cn_deadline_t *d)
{
    /* While others are armed the timer may now fire for nothing; it then
     * finds nothing due and waits for the next head. Cheaper than a restart
     * on every disarm. */
    if (!d->lane)
        return;
    cn_deadlines_t *ds = d->lane->set;
    unlink_from(d->lane, d);
    if (--ds->narmed == 0 && ds->timer_due != UINT64_MAX) {
        ds->timer_due = UINT64_MAX;
        uv_timer_stop(&ds->timer);
    }
}
