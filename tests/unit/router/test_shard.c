/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The worker's measurement shard: cells, steps, segments, the request-id
 * map, and the merge of several workers' shards into one snapshot. */
#include "router/shard.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const double bounds[] = {0.25, 0.5, 0.75};
static const char *const regions[] = {"eu", "us"};

/* Key 0 is (stable, "v1") and key 1 (canary, "v2"): key == role. */
static void shard_init(cn_router_shard_t *sh, const cn_router_shard_params_t *p)
{
    cn_router_shard_init(sh, p);
    cr_assert_eq(cn_router_shard_key(sh, CN_ROLE_STABLE, "v1"), 0);
    cr_assert_eq(cn_router_shard_key(sh, CN_ROLE_CANARY, "v2"), 1);
}

static cn_router_shard_params_t params(unsigned max_segments, size_t reservoir,
                                       size_t ids)
{
    cn_router_shard_params_t p = {
        .segments = regions,
        .nsegments = 2,
        .max_segments = max_segments,
        .reservoir_size = reservoir,
        .request_id_map_size = ids,
        .prediction_bounds = bounds,
        .n_prediction_bounds = 3,
        .seed = 42,
    };
    return p;
}

static cn_router_obs_t ok_obs(cn_role_t role, uint64_t latency_us, double prediction,
                              uint64_t step)
{
    cn_router_obs_t o = {0};
    o.role = role;
    o.key = role;
    o.status = 200;
    o.failure = -1;
    o.has_latency = true;
    o.latency_us = latency_us;
    o.request_bytes = 100;
    o.response_bytes = 50;
    o.prediction = CN_ROUTER_PRED_OK;
    o.prediction_value = prediction;
    o.step = step;
    return o;
}

static cn_router_cell_t *find_cell(cn_router_snapshot_t *s, cn_role_t role,
                                   const char *seg)
{
    for (size_t i = 0; i < s->ncells; i++)
        if (s->cells[i].role == role && strcmp(s->cells[i].segment, seg) == 0)
            return &s->cells[i];
    return NULL;
}

static cn_router_snapshot_t merge_one(cn_router_shard_t *sh, size_t reservoir)
{
    cn_router_shard_part_t part;
    cn_router_shard_copy(sh, CN_ROUTER_SNAP_ALL, &part);
    cn_router_snapshot_t snap = {0};
    cn_router_shard_merge(&part, 1, reservoir, 3, 7, &snap);
    cn_router_shard_part_dispose(&part);
    return snap;
}

static void snap_dispose(cn_router_snapshot_t *s)
{
    cn_router_cells_free(s->cells, s->ncells);
    free(s->pairs);
}

Test(shard, records_counters_latency_and_predictions_per_role)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 100, 10);
    shard_init(&sh, &p);
    cn_router_shard_sync_step(&sh, 1);
    for (int i = 0; i < 10; i++) {
        cn_router_obs_t o = ok_obs(CN_ROLE_STABLE, 1000 + (uint64_t)i, 0.1 * i, 1);
        cn_router_shard_record(&sh, 0, &o);
    }
    cn_router_obs_t f = {0};
    f.role = CN_ROLE_CANARY;
    f.key = CN_ROLE_CANARY;
    f.failure = CN_ROUTER_FAIL_CONNECT;
    f.retried = true;
    f.prediction = -1;
    f.step = 1;
    cn_router_shard_record(&sh, 0, &f);
    cn_router_obs_t bad = ok_obs(CN_ROLE_CANARY, 500, 0, 1);
    bad.prediction = CN_ROUTER_PRED_NOT_JSON;
    bad.status = 503;
    cn_router_shard_record(&sh, 0, &bad);

    cn_router_snapshot_t s = merge_one(&sh, 100);
    cr_assert_eq(s.ncells, 2);
    cn_router_cell_t *st = find_cell(&s, CN_ROLE_STABLE, "");
    cn_router_cell_t *ca = find_cell(&s, CN_ROLE_CANARY, "");
    cr_assert(st && ca);
    cr_assert_eq(st->requests, 10);
    cr_assert_eq(st->ncodes, 1);
    cr_assert_eq(st->codes[0].code, 200);
    cr_assert_eq(st->codes[0].count, 10);
    cr_assert_str_eq(st->version, "v1");
    cr_assert_eq(ca->ncodes, 1);
    cr_assert_eq(ca->codes[0].code, 503);
    cr_assert_eq(st->responses_by_class[2], 10);
    cr_assert_eq(st->request_bytes, 1000);
    cr_assert_eq(cn_metrics_hist_count(st->latency), 10);
    cr_assert_eq(st->predictions[CN_ROUTER_PRED_OK], 10);
    /* predictions 0, .1, ..., .9 against le bounds .25 .5 .75 +Inf */
    cr_assert_eq(st->prediction_le[0], 3);
    cr_assert_eq(st->prediction_le[1], 6); /* 0.5 is not exactly 5 * 0.1 */
    cr_assert_eq(st->prediction_le[2], 8);
    cr_assert_eq(st->prediction_le[3], 10);
    cr_assert_eq(st->n_step_latency, 10);
    cr_assert_eq(st->n_step_predictions, 10);
    cr_assert_eq(ca->requests, 2);
    cr_assert_eq(ca->failures[CN_ROUTER_FAIL_CONNECT], 1);
    cr_assert_eq(ca->retried_on_stable, 1);
    cr_assert_eq(ca->step_errors, 2, "a failure and a 503 are both errors");
    cr_assert_eq(ca->predictions[CN_ROUTER_PRED_NOT_JSON], 1);
    cr_assert_eq(ca->n_step_predictions, 0);
    snap_dispose(&s);
    cn_router_shard_dispose(&sh);
}

Test(shard, a_new_step_resets_step_data_but_not_cumulative_counters)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 100, 0);
    shard_init(&sh, &p);
    cn_router_shard_sync_step(&sh, 1);
    for (int i = 0; i < 5; i++) {
        cn_router_obs_t o = ok_obs(CN_ROLE_CANARY, 100, 0.5, 1);
        cn_router_shard_record(&sh, 0, &o);
    }
    cn_router_shard_sync_step(&sh, 2);
    /* a request decided in step 1 that finishes in step 2 */
    cn_router_obs_t late = ok_obs(CN_ROLE_CANARY, 100, 0.5, 1);
    cn_router_shard_record(&sh, 0, &late);
    cn_router_obs_t now = ok_obs(CN_ROLE_CANARY, 100, 0.5, 2);
    cn_router_shard_record(&sh, 0, &now);
    cn_router_snapshot_t s = merge_one(&sh, 100);
    cn_router_cell_t *c = find_cell(&s, CN_ROLE_CANARY, "");
    cr_assert_eq(c->requests, 7);
    cr_assert_eq(c->step_requests, 1, "only the step-2 decision is in step 2");
    cr_assert_eq(c->n_step_latency, 1);
    cr_assert_eq(cn_metrics_hist_count(c->step_latency), 1);
    cr_assert_eq(cn_metrics_hist_count(c->latency), 7);
    snap_dispose(&s);
    /* an older step number never rewinds the shard */
    cn_router_shard_sync_step(&sh, 1);
    cn_router_obs_t again = ok_obs(CN_ROLE_CANARY, 100, 0.5, 2);
    cn_router_shard_record(&sh, 0, &again);
    s = merge_one(&sh, 100);
    cr_assert_eq(find_cell(&s, CN_ROLE_CANARY, "")->step_requests, 2);
    snap_dispose(&s);
    cn_router_shard_dispose(&sh);
}

Test(shard, only_the_listed_segments_get_their_own_label)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(32, 10, 0);
    shard_init(&sh, &p);
    /* a flood of junk first: it cannot take a real region's place */
    char junk[32];
    for (int i = 0; i < 200; i++) {
        snprintf(junk, sizeof junk, "junk-%d", i);
        cr_assert_str_eq(cn_router_shard_segment_name(
                             &sh, cn_router_shard_segment(&sh, junk, strlen(junk))),
                         "_other");
    }
    unsigned eu = cn_router_shard_segment(&sh, "eu", 2);
    unsigned us = cn_router_shard_segment(&sh, "us", 2);
    cr_assert_eq(eu, 1, "the list's order, on every worker");
    cr_assert_eq(us, 2);
    cr_assert_str_eq(cn_router_shard_segment_name(&sh, eu), "eu");
    cr_assert_eq(cn_router_shard_segment(&sh, NULL, 0), 0);
    cr_assert_eq(cn_router_shard_segment(&sh, "e", 1), 3, "a prefix is not the value");
    cr_assert_eq(cn_router_shard_segment(&sh, "eu\n", 3), 3);
    cr_assert_str_eq(cn_router_shard_segment_name(&sh, 3), "_other");
    cn_router_shard_dispose(&sh);
}

Test(shard, two_versions_of_a_role_never_share_a_cell)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 10, 8);
    shard_init(&sh, &p);
    cn_router_shard_sync_step(&sh, 1);
    cn_router_obs_t o = ok_obs(CN_ROLE_CANARY, 100, 0.5, 1);
    for (int i = 0; i < 5; i++)
        cn_router_shard_record(&sh, 0, &o);
    /* the canary's addresses now serve v3 */
    int v3 = cn_router_shard_key(&sh, CN_ROLE_CANARY, "v3");
    cr_assert_eq(v3, 2);
    cn_router_shard_key_release(&sh, 1);
    cn_router_shard_sync_step(&sh, 2);
    o = ok_obs(CN_ROLE_CANARY, 100, 0.5, 2);
    o.key = (unsigned)v3;
    cn_router_shard_record(&sh, 0, &o);
    cn_router_shard_remember(&sh, "r-v3", 4, (unsigned)v3, 0, false, 1.0, NAN, 1);
    /* promotion: v3 as stable is a key of its own */
    int v3s = cn_router_shard_key(&sh, CN_ROLE_STABLE, "v3");
    cr_assert(v3s >= 0 && v3s != v3);
    cn_router_snapshot_t s = merge_one(&sh, 10);
    cr_assert_eq(s.ncells, 2);
    cr_assert_str_eq(s.cells[0].version, "v2");
    cr_assert_eq(s.cells[0].requests, 5);
    cr_assert_str_eq(s.cells[1].version, "v3");
    cr_assert_eq(s.cells[1].requests, 1, "v3 carries none of v2's history");
    snap_dispose(&s);
    /* every slot taken: the oldest one nobody holds (v2) is reused, its
     * cells go, and a lookup of a request it served no longer names it */
    cn_router_shard_remember(&sh, "r-v2", 4, 1, 0, false, 1.0, NAN, 1);
    char label[16];
    for (unsigned k = 4; k < CN_ROUTER_SHARD_KEYS; k++) {
        snprintf(label, sizeof label, "x%u", k);
        cr_assert_geq(cn_router_shard_key(&sh, CN_ROLE_STABLE, label), 0);
    }
    cr_assert_eq(cn_router_shard_key(&sh, CN_ROLE_CANARY, "v4"), 1);
    s = merge_one(&sh, 10);
    cr_assert_eq(s.ncells, 1, "v2's cells went with its slot");
    snap_dispose(&s);
    cn_router_lookup_t l;
    cr_assert(cn_router_shard_find(&sh, "r-v2", 4, &l));
    cr_assert_str_eq(l.version, "");
    cr_assert(cn_router_shard_find(&sh, "r-v3", 4, &l));
    cr_assert_str_eq(l.version, "v3");
    cr_assert_eq(l.role, CN_ROLE_CANARY);
    /* all held: none to give */
    for (unsigned k = 0; k < CN_ROUTER_SHARD_KEYS; k++)
        (void)cn_router_shard_key(&sh, CN_ROLE_STABLE, sh.keys[k].version);
    cr_assert_eq(cn_router_shard_key(&sh, CN_ROLE_CANARY, "v9"), -1);
    cn_router_shard_dispose(&sh);
}

Test(shard, a_counters_only_copy_holds_no_histogram_or_sample)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 100, 0);
    shard_init(&sh, &p);
    cn_router_shard_sync_step(&sh, 1);
    for (int i = 0; i < 50; i++) {
        cn_router_obs_t o = ok_obs(CN_ROLE_STABLE, 100, 0.5, 1);
        o.status = i % 10 ? 200 : 503;
        cn_router_shard_record(&sh, 1, &o);
    }
    cn_router_shard_pair(&sh, "r1", 0.1, 0.2, 1);
    cn_router_shard_part_t part;
    cn_router_shard_copy(&sh, CN_ROUTER_SNAP_COUNTERS, &part);
    cr_assert_eq(part.ncells, 1);
    cn_router_cell_t *c = &part.cells[0];
    cr_assert_eq(c->requests, 50);
    cr_assert_eq(c->step_requests, 50);
    cr_assert_eq(c->ncodes, 2);
    cr_assert_eq(c->codes[0].code, 200);
    cr_assert_eq(c->codes[0].count, 45);
    cr_assert_eq(c->codes[1].code, 503);
    cr_assert_not_null(c->prediction_le);
    cr_assert_null(c->latency);
    cr_assert_null(c->step_latency);
    cr_assert_null(c->step_latency_us);
    cr_assert_null(c->step_predictions);
    cr_assert_null(part.pairs);
    cn_router_snapshot_t s = {0};
    cn_router_shard_merge(&part, 1, 100, 3, 1, &s);
    cr_assert_eq(s.cells[0].ncodes, 2);
    cr_assert_eq(s.cells[0].codes[1].count, 5);
    cr_assert_null(s.cells[0].latency);
    cr_assert_null(s.cells[0].step_latency_us);
    cr_assert_str_eq(s.cells[0].segment, "eu");
    cr_assert_eq(s.npairs, 0);
    snap_dispose(&s);
    cn_router_shard_part_dispose(&part);
    /* samples and pairs only */
    cn_router_shard_copy(&sh, CN_ROUTER_SNAP_SAMPLES | CN_ROUTER_SNAP_PAIRS, &part);
    cr_assert_eq(part.cells[0].n_step_latency, 50);
    cr_assert_null(part.cells[0].latency);
    cr_assert_null(part.cells[0].codes);
    cr_assert_eq(part.npairs, 1);
    cn_router_shard_part_dispose(&part);
    cn_router_shard_dispose(&sh);
}

Test(shard, request_id_map_keeps_the_newest_entries)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 10, 4);
    shard_init(&sh, &p);
    unsigned eu = cn_router_shard_segment(&sh, "eu", 2);
    char id[16];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "req-%d", i);
        cn_router_shard_remember(&sh, id, strlen(id), i % 2 ? 1 : 0, eu, false,
                                 1000.0 + i, 0.25 * i, 7);
    }
    cn_router_lookup_t l;
    cr_assert_not(cn_router_shard_find(&sh, "req-0", 5, &l));
    cr_assert_not(cn_router_shard_find(&sh, "req-1", 5, &l));
    for (int i = 2; i < 6; i++) {
        snprintf(id, sizeof id, "req-%d", i);
        cr_assert(cn_router_shard_find(&sh, id, strlen(id), &l), "%s", id);
        cr_assert_eq(l.role, i % 2 ? CN_ROLE_CANARY : CN_ROLE_STABLE);
        cr_assert_str_eq(l.version, i % 2 ? "v2" : "v1");
        cr_assert_str_eq(l.segment, "eu");
        cr_assert_float_eq(l.unix_s, 1000.0 + i, 1e-9);
        cr_assert_float_eq(l.prediction, 0.25 * i, 1e-12);
        cr_assert_eq(l.step, 7);
    }
    cr_assert_float_eq(cn_router_shard_oldest_id(&sh), 1002.0, 1e-9);
    /* a repeated id resolves to its latest request */
    cn_router_shard_remember(&sh, "req-3", 5, 0, 0, true, 2000.0, NAN, 8);
    cr_assert(cn_router_shard_find(&sh, "req-3", 5, &l));
    cr_assert_eq(l.role, CN_ROLE_STABLE);
    cr_assert(l.shadowed);
    /* many more than the capacity: still bounded and consistent */
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "x%d", i);
        cn_router_shard_remember(&sh, id, strlen(id), 1, 0, false, i, NAN, 9);
    }
    cr_assert(cn_router_shard_find(&sh, "x9999", 5, &l));
    cr_assert_not(cn_router_shard_find(&sh, "x9995", 5, &l));
    cn_router_shard_dispose(&sh);
}

Test(shard, a_join_reports_earlier_feedback_and_marks_only_unexpired_requests)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 10, 8);
    shard_init(&sh, &p);
    cr_assert(isnan(cn_router_shard_oldest_id(&sh)));
    cn_router_shard_remember(&sh, "old", 3, 1, 0, false, 100.0, 0.9, 3);
    cn_router_shard_remember(&sh, "new", 3, 0, 0, false, 200.0, NAN, 4);
    cn_router_lookup_t l;
    cr_assert_not(cn_router_shard_join(&sh, "none", 4, 1u, 150.0, &l));
    /* the first join sees nothing joined before and marks */
    cr_assert(cn_router_shard_join(&sh, "new", 3, 1u, 150.0, &l));
    cr_assert_eq(l.fed, 0);
    cr_assert(isnan(l.prediction));
    cr_assert_eq(l.step, 4);
    /* the second sees the first's metric; a new metric adds to it */
    cr_assert(cn_router_shard_join(&sh, "new", 3, 2u, 150.0, &l));
    cr_assert_eq(l.fed, 1u);
    cr_assert(cn_router_shard_find(&sh, "new", 3, &l));
    cr_assert_eq(l.fed, 3u);
    /* served before not_before: reported, never marked */
    cr_assert(cn_router_shard_join(&sh, "old", 3, 1u, 150.0, &l));
    cr_assert_float_eq(l.prediction, 0.9, 1e-12);
    cr_assert(cn_router_shard_join(&sh, "old", 3, 1u, 150.0, &l));
    cr_assert_eq(l.fed, 0);
    cr_assert_float_eq(cn_router_shard_oldest_id(&sh), 100.0, 1e-9);
    cn_router_shard_dispose(&sh);
}

Test(shard, merge_samples_in_proportion_to_what_each_worker_saw)
{
    /* worker A saw 9000 values (all 1.0), worker B 1000 (all 2.0); each
     * keeps 500; the merged sample of 500 must be about 450 : 50 */
    cn_router_shard_t a, b;
    cn_router_shard_params_t p = params(4, 500, 0);
    shard_init(&a, &p);
    p.seed = 43;
    shard_init(&b, &p);
    cn_router_shard_sync_step(&a, 1);
    cn_router_shard_sync_step(&b, 1);
    for (int i = 0; i < 9000; i++) {
        cn_router_obs_t o = ok_obs(CN_ROLE_STABLE, 10, 1.0, 1);
        cn_router_shard_record(&a, 0, &o);
    }
    for (int i = 0; i < 1000; i++) {
        cn_router_obs_t o = ok_obs(CN_ROLE_STABLE, 20, 2.0, 1);
        cn_router_shard_record(&b, 0, &o);
    }
    cn_router_shard_part_t parts[2];
    cn_router_shard_copy(&a, CN_ROUTER_SNAP_ALL, &parts[0]);
    cn_router_shard_copy(&b, CN_ROUTER_SNAP_ALL, &parts[1]);
    cn_router_snapshot_t s = {0};
    cn_router_shard_merge(parts, 2, 500, 3, 1, &s);
    cn_router_cell_t *c = find_cell(&s, CN_ROLE_STABLE, "");
    cr_assert_eq(c->requests, 10000);
    cr_assert_eq(c->n_step_predictions, 500);
    cr_assert_eq(c->step_predictions_seen, 10000);
    size_t twos = 0;
    for (size_t i = 0; i < c->n_step_predictions; i++)
        twos += c->step_predictions[i] == 2.0;
    cr_assert_eq(twos, 50);
    cr_assert_eq(c->n_step_latency, 500);
    cr_assert_eq(cn_metrics_hist_count(c->latency), 10000);
    snap_dispose(&s);
    cn_router_shard_part_dispose(&parts[0]);
    cn_router_shard_part_dispose(&parts[1]);
    cn_router_shard_dispose(&a);
    cn_router_shard_dispose(&b);
}

Test(shard, merge_keeps_every_value_when_under_capacity_and_sorts_cells)
{
    cn_router_shard_t a, b;
    cn_router_shard_params_t p = params(4, 100, 0);
    shard_init(&a, &p);
    shard_init(&b, &p);
    cn_router_shard_sync_step(&a, 3);
    cn_router_shard_sync_step(&b, 3);
    unsigned us_a = cn_router_shard_segment(&a, "us", 2);
    unsigned eu_b = cn_router_shard_segment(&b, "eu", 2);
    unsigned us_b = cn_router_shard_segment(&b, "us", 2);
    cn_router_obs_t o = ok_obs(CN_ROLE_CANARY, 5, 0.3, 3);
    cn_router_shard_record(&a, us_a, &o);
    cn_router_shard_record(&b, us_b, &o);
    cn_router_shard_record(&b, eu_b, &o);
    o.role = CN_ROLE_STABLE;
    o.key = 0;
    cn_router_shard_record(&b, eu_b, &o);
    cn_router_shard_pair(&a, "r1", 0.1, 0.2, 3);
    cn_router_shard_pair(&b, "r2", 0.3, 0.4, 3);
    cn_router_shard_pair(&b, "old", 0.3, 0.4, 2); /* another step: ignored */
    cn_router_shard_part_t parts[2];
    cn_router_shard_copy(&a, CN_ROUTER_SNAP_ALL, &parts[0]);
    cn_router_shard_copy(&b, CN_ROUTER_SNAP_ALL, &parts[1]);
    cn_router_snapshot_t s = {0};
    cn_router_shard_merge(parts, 2, 100, 3, 1, &s);
    cr_assert_eq(s.ncells, 3);
    cr_assert_eq(s.cells[0].role, CN_ROLE_STABLE);
    cr_assert_str_eq(s.cells[1].segment, "eu");
    cr_assert_str_eq(s.cells[2].segment, "us");
    cr_assert_eq(s.cells[2].requests, 2);
    cr_assert_eq(s.cells[2].n_step_latency, 2);
    cr_assert_eq(s.npairs, 2);
    double sum = 0;
    for (size_t i = 0; i < s.npairs; i++)
        sum += s.pairs[i].stable + s.pairs[i].canary;
    cr_assert_float_eq(sum, 1.0, 1e-12);
    snap_dispose(&s);
    cn_router_shard_part_dispose(&parts[0]);
    cn_router_shard_part_dispose(&parts[1]);
    cn_router_shard_dispose(&a);
    cn_router_shard_dispose(&b);
}

/* ok_obs for attempt `address` of generation `generation`. */
static cn_router_obs_t addr_obs(cn_role_t role, int address, uint64_t generation,
                                uint64_t latency_us, uint64_t step)
{
    cn_router_obs_t o = ok_obs(role, latency_us, 0.5, step);
    o.address = address;
    o.generation = generation;
    return o;
}

/* A generation numbered `number`: stable a, b; canary c (labels v1, v2). */
static void addr_generation(cn_generation_t *g, uint64_t number)
{
    cn_generation_init(g);
    g->number = number;
    cn_version_set_dispose(&g->sets[CN_ROLE_STABLE]);
    cn_version_set_init(&g->sets[CN_ROLE_STABLE], "v1");
    cn_version_set_add(&g->sets[CN_ROLE_STABLE], "127.0.0.1:1001");
    cn_version_set_add(&g->sets[CN_ROLE_STABLE], "127.0.0.1:1002");
    cn_version_set_dispose(&g->sets[CN_ROLE_CANARY]);
    cn_version_set_init(&g->sets[CN_ROLE_CANARY], "v2");
    cn_version_set_add(&g->sets[CN_ROLE_CANARY], "127.0.0.1:1003");
}

/* The per-address entries of parts merged for generation g. */
static cn_router_snapshot_t merge_addresses(cn_router_shard_part_t *parts, size_t n,
                                            const cn_generation_t *g)
{
    cn_router_snapshot_t snap = {0};
    cn_router_shard_merge_addresses(parts, n, g, &snap);
    return snap;
}

Test(shard, addresses_count_the_steps_attempts_per_role_and_index)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 100, 0);
    shard_init(&sh, &p);
    cn_router_shard_sync_step(&sh, 1);
    for (int i = 0; i < 6; i++) {
        cn_router_obs_t o = addr_obs(CN_ROLE_STABLE, i % 2, 5, 100 + 900 * (i % 2), 1);
        cn_router_shard_record(&sh, 0, &o);
    }
    cn_router_obs_t o = addr_obs(CN_ROLE_STABLE, 1, 5, 2000, 1);
    o.status = 502;
    cn_router_shard_record(&sh, 0, &o);
    /* canary: a failure retried on stable (no latency), a shadow copy */
    o = addr_obs(CN_ROLE_CANARY, 0, 5, 0, 1);
    o.has_latency = false;
    o.status = 0;
    o.failure = CN_ROUTER_FAIL_RESET;
    o.retried = true;
    cn_router_shard_record(&sh, 0, &o);
    o = addr_obs(CN_ROLE_CANARY, 0, 5, 300, 1);
    o.shadow = true;
    cn_router_shard_record(&sh, 1, &o);
    /* not per address: no address, no generation, an older step */
    o = addr_obs(CN_ROLE_CANARY, -1, 5, 300, 1);
    o.failure = CN_ROUTER_FAIL_UNAVAILABLE;
    cn_router_shard_record(&sh, 0, &o);
    o = addr_obs(CN_ROLE_STABLE, 0, 0, 300, 1);
    cn_router_shard_record(&sh, 0, &o);
    cn_router_shard_sync_step(&sh, 2);
    cn_router_shard_sync_step(&sh, 1); /* never rewinds */
    for (int i = 0; i < 3; i++) {
        o = addr_obs(CN_ROLE_STABLE, 0, 5, 100, 2);
        cn_router_shard_record(&sh, 0, &o);
    }
    o = addr_obs(CN_ROLE_STABLE, 1, 5, 100, 1); /* decided in step 1 */
    cn_router_shard_record(&sh, 0, &o);
    o = addr_obs(CN_ROLE_CANARY, 0, 5, 400, 2);
    o.failure = CN_ROUTER_FAIL_TIMEOUT;
    cn_router_shard_record(&sh, 0, &o);
    o = addr_obs(CN_ROLE_CANARY, 0, 5, 400, 2);
    o.shadow = true;
    cn_router_shard_record(&sh, 2, &o);

    cn_router_shard_part_t part;
    cn_router_shard_copy(&sh, CN_ROUTER_SNAP_ADDRESSES, &part);
    cr_assert_eq(part.ncells, 4, "the cells' labels, as for any mask");
    cr_assert_null(part.cells[0].latency, "no histogram was asked for");
    cn_generation_t g;
    addr_generation(&g, 5);
    cn_router_snapshot_t s = merge_addresses(&part, 1, &g);
    cr_assert_eq(s.naddresses, 3);
    const char *want[3] = {"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"};
    const cn_role_t roles[3] = {CN_ROLE_STABLE, CN_ROLE_STABLE, CN_ROLE_CANARY};
    const uint64_t requests[3] = {3, 0, 2}, errors[3] = {0, 0, 1}, timed[3] = {3, 0, 2};
    for (size_t i = 0; i < 3; i++) {
        const cn_router_address_stat_t *a = &s.addresses[i];
        cr_assert_str_eq(a->address, want[i]);
        cr_assert_eq(a->role, roles[i]);
        cr_assert_eq(a->requests, requests[i], "%s: %lu", want[i],
                     (unsigned long)a->requests);
        cr_assert_eq(a->errors, errors[i]);
        cr_assert_not_null(a->latency, "always a histogram, empty if nothing");
        cr_assert_eq(cn_metrics_hist_count(a->latency), timed[i]);
    }
    cr_assert_eq(cn_metrics_hist_quantile(s.addresses[2].latency, 0.5), 400);
    /* the cells count the same step: requests per role add up */
    cn_router_snapshot_t cells = merge_one(&sh, 100);
    uint64_t step_requests[2] = {0, 0};
    for (size_t i = 0; i < cells.ncells; i++)
        step_requests[cells.cells[i].role] += cells.cells[i].step_requests;
    cr_assert_eq(step_requests[CN_ROLE_STABLE], 3);
    cr_assert_eq(step_requests[CN_ROLE_CANARY], 2);
    snap_dispose(&cells);
    cn_router_addresses_free(s.addresses, s.naddresses);
    cn_router_shard_part_dispose(&part);
    cn_generation_dispose(&g);
    cn_router_shard_dispose(&sh);
}

Test(shard, address_slots_are_made_once_and_zeroed_by_a_new_step)
{
    cn_router_shard_t sh;
    cn_router_shard_params_t p = params(4, 100, 0);
    shard_init(&sh, &p);
    cn_router_shard_sync_step(&sh, 1);
    cn_router_obs_t o = addr_obs(CN_ROLE_CANARY, 20, 3, 700, 1);
    cn_router_shard_record(&sh, 0, &o);
    cn_router_shard_addr_t *slot = sh.addrs[CN_ROLE_CANARY][20];
    cr_assert_not_null(slot);
    cr_assert_null(sh.addrs[CN_ROLE_CANARY][19], "only an index with traffic");
    cr_assert_null(sh.addrs[CN_ROLE_STABLE][20]);
    cr_assert_eq(slot->requests, 1);
    cr_assert_eq(cn_metrics_hist_count(&slot->latency), 1);
    cn_router_shard_sync_step(&sh, 2);
    cr_assert_eq(sh.addrs[CN_ROLE_CANARY][20], slot, "kept, not freed");
    cr_assert_eq(slot->requests, 0);
    cr_assert_eq(cn_metrics_hist_count(&slot->latency), 0);
    o.step = 2;
    cn_router_shard_record(&sh, 0, &o);
    cr_assert_eq(sh.addrs[CN_ROLE_CANARY][20], slot, "reused");
    cr_assert_eq(slot->requests, 1);
    /* an index beyond the slots is not counted */
    o.address = (int)CN_ROUTER_ADDRESS_SLOTS;
    cn_router_shard_record(&sh, 0, &o);
    cr_assert_eq(slot->requests, 1);
    cn_router_shard_dispose(&sh);
}

/* A publication between a request's reading the step and the generation:
 * the newer generation's indices win the step, an older one's attempts
 * are not counted, and a worker whose data is of another generation than
 * the snapshot's is left out of the merge. */
Test(shard, addresses_count_one_generation_the_newest_seen_in_the_step)
{
    cn_router_shard_t a, b;
    cn_router_shard_params_t p = params(4, 100, 0);
    shard_init(&a, &p);
    shard_init(&b, &p);
    cn_router_shard_sync_step(&a, 4);
    cn_router_shard_sync_step(&b, 4);
    cn_router_obs_t o = addr_obs(CN_ROLE_STABLE, 0, 7, 100, 4);
    cn_router_shard_record(&a, 0, &o);
    cn_router_shard_record(&a, 0, &o);
    o.generation = 8; /* newer: a's data is generation 8's from now on */
    cn_router_shard_record(&a, 0, &o);
    o.generation = 7; /* older than a's: not counted */
    cn_router_shard_record(&a, 0, &o);
    cn_router_shard_record(&b, 0, &o); /* b saw only generation 7 */
    cn_router_shard_part_t parts[2];
    cn_router_shard_copy(&a, CN_ROUTER_SNAP_ADDRESSES, &parts[0]);
    cn_router_shard_copy(&b, CN_ROUTER_SNAP_ADDRESSES, &parts[1]);
    cr_assert_eq(parts[0].addrs_generation, 8);
    cr_assert_eq(parts[1].addrs_generation, 7);
    cn_generation_t g;
    addr_generation(&g, 8);
    cn_router_snapshot_t s = merge_addresses(parts, 2, &g);
    cr_assert_eq(s.addresses[0].requests, 1, "a's one attempt of generation 8");
    cn_router_addresses_free(s.addresses, s.naddresses);
    g.number = 7;
    s = merge_addresses(parts, 2, &g);
    cr_assert_eq(s.addresses[0].requests, 1, "b's; a's generation 7 data is gone");
    cn_router_addresses_free(s.addresses, s.naddresses);
    cn_generation_dispose(&g);
    cn_router_shard_part_dispose(&parts[0]);
    cn_router_shard_part_dispose(&parts[1]);
    cn_router_shard_dispose(&a);
    cn_router_shard_dispose(&b);
}
