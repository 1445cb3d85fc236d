/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Deadlines in lanes behind one timer (http/deadline.h), on a real libuv
 * loop: order, never early, disarm and re-arm, a 0 ms deadline re-armed by
 * its callback, callbacks that disarm others, more distinct
 * durations than lanes, and a loop with nothing armed ends by itself.
 * Durations are a few ms; nothing asserts how long anything took, only
 * that nothing fired before its time (uv_now) and the order.
 */
#include "http/deadline.h"

#include <criterion/criterion.h>
#include <stddef.h>
#include <stdint.h>

typedef struct item_s {
    cn_deadline_t dl;
    int id;
    uint64_t armed_at, ms;
    uint64_t fired_at;
    int fired;
} item_t;

static uv_loop_t loop;
static cn_deadlines_t ds;
static int order[256];
static int norder;

static item_t *item_of(cn_deadline_t *d)
{
    return (item_t *)((char *)d - offsetof(item_t, dl));
}

static void fired(cn_deadline_t *d)
{
    item_t *it = item_of(d);
    it->fired++;
    it->fired_at = uv_now(&loop);
    if (norder < 256)
        order[norder++] = it->id;
}

static void arm(item_t *it, uint64_t ms)
{
    it->armed_at = uv_now(&loop);
    it->ms = ms;
    cn_deadline_arm(&ds, &it->dl, ms);
}

static void setup(void)
{
    cr_assert_eq(uv_loop_init(&loop), 0);
    cn_deadlines_init(&ds, &loop);
    norder = 0;
}

static void teardown(void)
{
    cn_deadlines_close(&ds, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
}

TestSuite(deadline, .init = setup, .fini = teardown);

Test(deadline, fire_in_deadline_order_across_lanes_and_never_early)
{
    item_t it[6];
    uint64_t ms[6] = {30, 10, 20, 10, 30, 1};
    for (int i = 0; i < 6; i++) {
        it[i] = (item_t){.id = i};
        cn_deadline_init(&it[i].dl, fired);
        arm(&it[i], ms[i]);
    }
    uv_run(&loop, UV_RUN_DEFAULT); /* returns once nothing is armed */
    cr_assert_eq(norder, 6);
    int want[6] = {5, 1, 3, 2, 0, 4};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(order[i], want[i], "position %d: %d, expected %d", i, order[i],
                     want[i]);
        cr_assert_eq(it[i].fired, 1);
        cr_assert_geq(it[i].fired_at, it[i].armed_at + it[i].ms, "item %d early", i);
        cr_assert_not(cn_deadline_armed(&it[i].dl));
    }
}

Test(deadline, a_disarmed_deadline_never_fires_and_rearming_moves_it)
{
    item_t a = {.id = 1}, b = {.id = 2}, c = {.id = 3};
    cn_deadline_init(&a.dl, fired);
    cn_deadline_init(&b.dl, fired);
    cn_deadline_init(&c.dl, fired);
    arm(&a, 5);
    arm(&b, 5);
    arm(&c, 5);
    cr_assert(cn_deadline_armed(&a.dl));
    cn_deadline_disarm(&a.dl);
    cn_deadline_disarm(&a.dl); /* twice: no-op */
    arm(&b, 40);               /* moved later, into another lane */
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(a.fired, 0);
    cr_assert_eq(b.fired, 1);
    cr_assert_eq(c.fired, 1);
    cr_assert_eq(norder, 2);
    cr_assert_eq(order[0], 3);
    cr_assert_eq(order[1], 2);
    cr_assert_geq(b.fired_at, b.armed_at + 40);
}

/* A callback that re-arms itself for 0 ms runs again, but never from
 * inside itself (no recursion on the stack). */
static int depth, max_depth;
static void rearm_zero(cn_deadline_t *d)
{
    item_t *it = item_of(d);
    depth++;
    if (depth > max_depth)
        max_depth = depth;
    if (++it->fired < 5)
        cn_deadline_arm(&ds, d, 0);
    depth--;
}

Test(deadline, a_zero_deadline_armed_by_its_callback_runs_again_but_not_inside_it)
{
    item_t it = {.id = 1};
    cn_deadline_init(&it.dl, rearm_zero);
    cn_deadline_arm(&ds, &it.dl, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(it.fired, 5);
    cr_assert_eq(max_depth, 1);
}

/* The first to fire disarms the second, due at the same time: the second
 * must not run (it was already taken for firing). */
static item_t *victim;
static void disarm_victim(cn_deadline_t *d)
{
    fired(d);
    cn_deadline_disarm(&victim->dl);
}

Test(deadline, a_callback_may_disarm_another_that_is_due_in_the_same_turn)
{
    item_t a = {.id = 1}, b = {.id = 2};
    cn_deadline_init(&a.dl, disarm_victim);
    cn_deadline_init(&b.dl, fired);
    victim = &b;
    arm(&a, 3);
    arm(&b, 3);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(a.fired, 1);
    cr_assert_eq(b.fired, 0);
}

Test(deadline, more_durations_than_lanes_still_fire_in_order)
{
    enum { N = CN_DEADLINE_LANES * 3 };
    static item_t it[N];
    /* descending durations, all distinct: the lanes fill, the rest go to
     * the sorted lane, and the order is still by deadline */
    for (int i = 0; i < N; i++) {
        it[i] = (item_t){.id = i};
        cn_deadline_init(&it[i].dl, fired);
        arm(&it[i], (uint64_t)(N - i));
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(norder, N);
    for (int i = 1; i < N; i++) {
        item_t *prev = &it[order[i - 1]], *cur = &it[order[i]];
        cr_assert_leq(prev->armed_at + prev->ms, cur->armed_at + cur->ms,
                      "position %d out of order", i);
    }
    for (int i = 0; i < N; i++)
        cr_assert_geq(it[i].fired_at, it[i].armed_at + it[i].ms, "item %d early", i);
}

Test(deadline, nothing_armed_lets_the_loop_end_even_after_a_far_deadline_was_disarmed)
{
    item_t a = {.id = 1};
    cn_deadline_init(&a.dl, fired);
    arm(&a, 3600 * 1000); /* an hour */
    cn_deadline_disarm(&a.dl);
    /* with the timer still running for the hour, this would not return */
    cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
    cr_assert_eq(a.fired, 0);
}
