/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A worker's measurement shard (see shard.h for the contracts).
 *
 * Memory. A cell holds two latency histograms (about 35 KiB each, one
 * cumulative, one per step), the per-code counters, and two reservoirs of
 * reservoir_size doubles; cells are made on first use, so a shard costs
 * only what the traffic it saw needs, bounded by
 * 2 * (max_segments + 2) cells.
 *
 * Merging samples. Each worker keeps its own uniform reservoir, so worker
 * i holds k_i = min(n_i, capacity) values out of the n_i it saw. Pooling
 * the reservoirs as they are would over-represent a quiet worker. Instead
 * the merge gives each worker a share of the output proportional to n_i
 * (largest-remainder rounding) and draws that many values uniformly from
 * its reservoir: a proportionally stratified sample, which estimates every
 * distribution functional at least as well as a simple random sample of
 * the same size.
 */
#include "router/shard.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/rand.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-step data, allocated on the first value of a step and freed when
 * a new step starts: a cell of a version that left gets none again. */
typedef struct step_data_s {
    cn_metrics_hist_t latency;
    cn_metrics_reservoir_t lat, pred;
} step_data_t;

#define CODE_MIN 100u
#define CODE_COUNT 500u /* 100..599 */
#define CODE_WORDS ((CODE_COUNT + 63) / 64)

struct cn_router_shard_cell_s {
    cn_router_cell_t c; /* the counters; pointer fields unused */
    uint64_t codes[CODE_COUNT];
    uint64_t code_bits[CODE_WORDS]; /* codes seen: the copy visits only these */
    size_t ncodes;
    uint64_t *pred_buckets; /* per bucket, not cumulative: n_bounds + 1 */
    cn_metrics_hist_t latency;
    step_data_t *step;
};

typedef struct cn_router_idmap_entry_s {
    char id[CN_ROUTER_REQUEST_ID_MAX_LEN + 1];
    uint8_t len;
    uint8_t key;
    uint8_t shadowed;
    uint16_t seg;
    uint32_t key_epoch;
    int32_t next;
    uint32_t fed; /* feedback metrics already joined (cn_router_join) */
    uint64_t hash;
    uint64_t step;
    double unix_s;
    double prediction; /* NAN: none extracted */
} idmap_entry_t;
_Static_assert(sizeof(idmap_entry_t) + 2 * sizeof(int32_t) <= CN_ROUTER_ID_ENTRY_BYTES,
               "the memory budget counts CN_ROUTER_ID_ENTRY_BYTES per request id");

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = cn_hash_fnv1a64(p, n);
    return h ^ (h >> 29);
}

static char *dup_label(const char *s, size_t n)
{
    char *d = cn_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        /* Labels go into Prometheus text and JSON: keep printable ASCII. */
        d[i] = (ch < 0x20 || ch > 0x7e) ? '_' : (char)ch;
    }
    d[n] = '\0';
    return d;
}

static size_t ncells_max(const cn_router_shard_t *s)
{
    return s->max_segs * CN_ROUTER_SHARD_KEYS;
}

void cn_router_shard_init(cn_router_shard_t *s, const cn_router_shard_params_t *p)
{
    memset(s, 0, sizeof *s);
    s->params = *p;
    s->rng = p->seed ^ UINT64_C(0x5851f42d4c957f2d);
    /* "" (no segment) is index 0, the expected values follow in order,
     * and "_other" is last: the same indices on every worker. */
    size_t n = p->segments ? p->nsegments : 0;
    s->max_segs = n + 2;
    s->segments = cn_xcalloc(s->max_segs, sizeof *s->segments);
    s->segments[s->nsegments++] = dup_label("", 0);
    for (size_t i = 0; i < n; i++)
        s->segments[s->nsegments++] = dup_label(p->segments[i], strlen(p->segments[i]));
    s->segments[s->nsegments++] = dup_label(CN_ROUTER_SEGMENT_OTHER, 6);
    s->cells = cn_xcalloc(ncells_max(s), sizeof *s->cells);
    if (p->request_id_map_size) {
        size_t buckets = 1;
        while (buckets < p->request_id_map_size * 2)
            buckets <<= 1;
        s->ids = cn_xcalloc(p->request_id_map_size, sizeof *s->ids);
        s->id_buckets = cn_xmallocarray(buckets, sizeof *s->id_buckets);
        for (size_t i = 0; i < buckets; i++)
            s->id_buckets[i] = -1;
        s->id_mask = buckets - 1;
    }
    s->pairs = cn_xcalloc(p->reservoir_size ? p->reservoir_size : 1, sizeof *s->pairs);
}

static void step_free(step_data_t *d)
{
    if (!d)
        return;
    cn_metrics_reservoir_dispose(&d->lat);
    cn_metrics_reservoir_dispose(&d->pred);
    free(d);
}

static void cell_free(cn_router_shard_cell_t *c)
{
    if (!c)
        return;
    free(c->pred_buckets);
    step_free(c->step);
    free(c);
}

void cn_router_shard_dispose(cn_router_shard_t *s)
{
    for (size_t i = 0; i < ncells_max(s); i++)
        cell_free(s->cells[i]);
    for (size_t i = 0; i < s->nsegments; i++)
        free(s->segments[i]);
    for (size_t k = 0; k < CN_ROUTER_SHARD_KEYS; k++)
        free(s->keys[k].version);
    for (int role = 0; role < CN_ROLE_COUNT; role++)
        for (size_t i = 0; i < CN_ROUTER_ADDRESS_SLOTS; i++)
            free(s->addrs[role][i]);
    free(s->segments);
    free(s->cells);
    free(s->ids);
    free(s->id_buckets);
    free(s->pairs);
    memset(s, 0, sizeof *s);
}

size_t cn_router_shard_cell_bytes(size_t n_prediction_bounds)
{
    return sizeof(cn_router_shard_cell_t) +
           (n_prediction_bounds + 1) * sizeof(uint64_t);
}

size_t cn_router_shard_step_bytes(size_t reservoir_size)
{
    return sizeof(step_data_t) + 2 * reservoir_size * sizeof(double);
}

size_t cn_router_shard_address_bytes(void)
{
    return sizeof(cn_router_shard_addr_t);
}

/* Zero the per-address data (the slots stay, for the next step's use). */
static void addrs_reset(cn_router_shard_t *s)
{
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        for (size_t i = 0; i < s->addrs_used[role]; i++) {
            cn_router_shard_addr_t *a = s->addrs[role][i];
            if (!a)
                continue;
            a->requests = a->errors = 0;
            if (cn_metrics_hist_count(&a->latency))
                cn_metrics_hist_reset(&a->latency);
        }
        s->addrs_used[role] = 0;
    }
    s->addrs_generation = 0;
}

/* One attempt of this step in its address's slot (see shard.h). */
static void addr_record(cn_router_shard_t *s, const cn_router_obs_t *o)
{
    if (o->address < 0 || (size_t)o->address >= CN_ROUTER_ADDRESS_SLOTS ||
        o->generation == 0 || (unsigned)o->role >= CN_ROLE_COUNT)
        return;
    if (o->generation != s->addrs_generation) {
        if (o->generation < s->addrs_generation)
            return;
        addrs_reset(s);
        s->addrs_generation = o->generation;
    }
    size_t i = (size_t)o->address;
    cn_router_shard_addr_t *a = s->addrs[o->role][i];
    if (!a) {
        a = cn_xcalloc(1, sizeof *a);
        cn_metrics_hist_init(&a->latency);
        s->addrs[o->role][i] = a;
    }
    if (i >= s->addrs_used[o->role])
        s->addrs_used[o->role] = i + 1;
    a->requests++;
    if (o->failure >= 0 || o->status >= 500)
        a->errors++;
    if (o->has_latency)
        cn_metrics_hist_record(&a->latency, o->latency_us);
}

void cn_router_shard_sync_step(cn_router_shard_t *s, uint64_t step)
{
    if (step <= s->step)
        return;
    s->step = step;
    for (size_t i = 0; i < ncells_max(s); i++) {
        cn_router_shard_cell_t *c = s->cells[i];
        if (!c)
            continue;
        c->c.step_requests = 0;
        c->c.step_errors = 0;
        step_free(c->step);
        c->step = NULL;
    }
    s->npairs = 0;
    s->pairs_seen = 0;
    addrs_reset(s);
}

int cn_router_shard_key(cn_router_shard_t *s, cn_role_t role, const char *version)
{
    int free_slot = -1, oldest = -1;
    for (unsigned k = 0; k < CN_ROUTER_SHARD_KEYS; k++) {
        cn_router_shard_key_t *e = &s->keys[k];
        if (!e->version) {
            if (free_slot < 0)
                free_slot = (int)k;
            continue;
        }
        if (e->role == role && strcmp(e->version, version) == 0) {
            e->users++;
            return (int)k;
        }
        if (e->users == 0 && (oldest < 0 || e->born < s->keys[oldest].born))
            oldest = (int)k;
    }
    int k = free_slot >= 0 ? free_slot : oldest;
    if (k < 0)
        return -1;
    cn_router_shard_key_t *e = &s->keys[k];
    if (e->version) {
        /* reuse: the old version's cells go (its series end) */
        for (size_t seg = 0; seg < s->max_segs; seg++) {
            size_t i = seg * CN_ROUTER_SHARD_KEYS + (size_t)k;
            cell_free(s->cells[i]);
            s->cells[i] = NULL;
        }
        free(e->version);
    }
    e->role = role;
    e->version = dup_label(version, strlen(version));
    e->users = 1;
    e->epoch++;
    e->born = ++s->keys_born;
    return k;
}

void cn_router_shard_key_release(cn_router_shard_t *s, unsigned k)
{
    if (k < CN_ROUTER_SHARD_KEYS && s->keys[k].users)
        s->keys[k].users--;
}

unsigned cn_router_shard_segment(cn_router_shard_t *s, const char *label, size_t len)
{
    if (!label || len == 0)
        return 0;
    /* Exact bytes against the expected values: whatever else a client
     * sends is _other, so no client can crowd a real value out. */
    for (size_t i = 1; i + 1 < s->nsegments; i++)
        if (strncmp(s->segments[i], label, len) == 0 && s->segments[i][len] == '\0')
            return (unsigned)i;
    return (unsigned)(s->nsegments - 1);
}

const char *cn_router_shard_segment_name(const cn_router_shard_t *s, unsigned seg)
{
    return seg < s->nsegments ? s->segments[seg] : "";
}

static cn_router_shard_cell_t *cell_get(cn_router_shard_t *s, unsigned seg,
                                        unsigned key)
{
    size_t i = (size_t)seg * CN_ROUTER_SHARD_KEYS + key;
    cn_router_shard_cell_t *c = s->cells[i];
    if (c)
        return c;
    c = cn_xcalloc(1, sizeof *c);
    c->c.role = s->keys[key].role;
    cn_metrics_hist_init(&c->latency);
    c->pred_buckets = cn_xcalloc(s->params.n_prediction_bounds + 1, sizeof(uint64_t));
    s->cells[i] = c;
    return c;
}

static step_data_t *step_get(cn_router_shard_t *s, cn_router_shard_cell_t *c)
{
    if (c->step)
        return c->step;
    step_data_t *d = cn_xmalloc(sizeof *d);
    cn_metrics_hist_init(&d->latency);
    size_t cap = s->params.reservoir_size ? s->params.reservoir_size : 1;
    cn_metrics_reservoir_init(&d->lat, cap, cn_rand_next(&s->rng));
    cn_metrics_reservoir_init(&d->pred, cap, cn_rand_next(&s->rng));
    c->step = d;
    return d;
}

void cn_router_shard_record(cn_router_shard_t *s, unsigned seg,
                            const cn_router_obs_t *o)
{
    if (seg >= s->nsegments)
        seg = 0;
    if (o->key >= CN_ROUTER_SHARD_KEYS || !s->keys[o->key].version)
        return; /* no key: the worker could not intern the version */
    cn_router_shard_cell_t *c = cell_get(s, seg, o->key);
    cn_router_cell_t *m = &c->c;
    bool this_step = o->step == s->step;

    m->requests++;
    if (o->shadow)
        m->shadow_requests++;
    if (o->status >= 100 && o->status <= 599) {
        unsigned i = o->status - CODE_MIN;
        m->responses_by_class[o->status / 100]++;
        if (c->codes[i]++ == 0) {
            c->code_bits[i / 64] |= UINT64_C(1) << (i % 64);
            c->ncodes++;
        }
    }
    if (o->failure >= 0 && o->failure < CN_ROUTER_FAIL_COUNT)
        m->failures[o->failure]++;
    if (o->retried)
        m->retried_on_stable++;
    m->request_bytes += o->request_bytes;
    m->response_bytes += o->response_bytes;
    if (o->has_latency)
        cn_metrics_hist_record(&c->latency, o->latency_us);
    if (o->prediction >= 0 && o->prediction < CN_ROUTER_PRED_COUNT) {
        m->predictions[o->prediction]++;
        if (o->prediction == CN_ROUTER_PRED_OK) {
            double v = o->prediction_value;
            m->prediction_sum += v;
            /* first bound >= v (Prometheus buckets are le) */
            size_t lo = 0, hi = s->params.n_prediction_bounds;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->params.prediction_bounds[mid] >= v)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            c->pred_buckets[lo]++;
        }
    }
    if (!this_step)
        return;
    addr_record(s, o);
    m->step_requests++;
    if (o->failure >= 0 || o->status >= 500)
        m->step_errors++;
    if (o->has_latency) {
        step_data_t *d = step_get(s, c);
        m->step_latency_seen++;
        cn_metrics_hist_record(&d->latency, o->latency_us);
        cn_metrics_reservoir_add(&d->lat, (double)o->latency_us);
    }
    if (o->prediction == CN_ROUTER_PRED_OK) {
        m->step_predictions_seen++;
        cn_metrics_reservoir_add(&step_get(s, c)->pred, o->prediction_value);
    }
}

void cn_router_shard_pair(cn_router_shard_t *s, const char *request_id, double stable,
                          double canary, uint64_t step)
{
    if (step != s->step || s->params.reservoir_size == 0)
        return;
    s->pairs_seen++;
    size_t slot;
    if (s->npairs < s->params.reservoir_size) {
        slot = s->npairs++;
    } else {
        uint64_t j = cn_rand_next(&s->rng) % s->pairs_seen;
        if (j >= s->params.reservoir_size)
            return;
        slot = (size_t)j;
    }
    cn_router_pair_t *p = &s->pairs[slot];
    size_t n = strlen(request_id);
    if (n >= sizeof p->request_id)
        n = sizeof p->request_id - 1;
    memcpy(p->request_id, request_id, n);
    p->request_id[n] = '\0';
    p->stable = stable;
    p->canary = canary;
}

void cn_router_shard_remember(cn_router_shard_t *s, const char *id, size_t len,
                              unsigned key, unsigned seg, bool shadowed, double unix_s,
                              double prediction, uint64_t step)
{
    size_t cap = s->params.request_id_map_size;
    if (!cap || len == 0 || len > CN_ROUTER_REQUEST_ID_MAX_LEN)
        return;
    idmap_entry_t *e = &s->ids[s->id_next];
    if (s->id_count == cap) {
        /* evict the oldest: unlink it from its chain */
        int32_t *link = &s->id_buckets[e->hash & s->id_mask];
        int32_t self = (int32_t)s->id_next;
        while (*link >= 0 && *link != self)
            link = &s->ids[*link].next;
        if (*link == self)
            *link = e->next;
    } else {
        s->id_count++;
    }
    memcpy(e->id, id, len);
    e->id[len] = '\0';
    e->len = (uint8_t)len;
    e->key = (uint8_t)key;
    e->key_epoch = key < CN_ROUTER_SHARD_KEYS ? s->keys[key].epoch : 0;
    e->seg = (uint16_t)seg;
    e->shadowed = shadowed;
    e->unix_s = unix_s;
    e->prediction = prediction;
    e->step = step;
    e->fed = 0;
    e->hash = hash_bytes(id, len);
    int32_t *head = &s->id_buckets[e->hash & s->id_mask];
    e->next = *head;
    *head = (int32_t)s->id_next;
    s->id_next = (s->id_next + 1) % cap;
}

/* The newest entry for an id, or NULL. The newest is first in its chain
 * (head insertion), so a repeated client id resolves to its latest
 * request. */
static idmap_entry_t *idmap_find(const cn_router_shard_t *s, const char *id, size_t len)
{
    if (!s->params.request_id_map_size || len == 0 ||
        len > CN_ROUTER_REQUEST_ID_MAX_LEN)
        return NULL;
    uint64_t h = hash_bytes(id, len);
    for (int32_t i = s->id_buckets[h & s->id_mask]; i >= 0; i = s->ids[i].next) {
        idmap_entry_t *e = &s->ids[i];
        if (e->hash == h && e->len == len && memcmp(e->id, id, len) == 0)
            return e;
    }
    return NULL;
}

static void idmap_describe(const cn_router_shard_t *s, const idmap_entry_t *e,
                           cn_router_lookup_t *out)
{
    memset(out, 0, sizeof *out);
    const cn_router_shard_key_t *k =
        e->key < CN_ROUTER_SHARD_KEYS ? &s->keys[e->key] : NULL;
    if (k && k->version && k->epoch == e->key_epoch) {
        out->role = k->role;
        snprintf(out->version, sizeof out->version, "%s", k->version);
    }
    const char *seg = cn_router_shard_segment_name(s, e->seg);
    size_t n = strlen(seg);
    if (n >= sizeof out->segment)
        n = sizeof out->segment - 1;
    memcpy(out->segment, seg, n);
    out->unix_s = e->unix_s;
    out->shadowed = e->shadowed;
    out->prediction = e->prediction;
    out->step = e->step;
    out->fed = e->fed;
}

bool cn_router_shard_find(const cn_router_shard_t *s, const char *id, size_t len,
                          cn_router_lookup_t *out)
{
    const idmap_entry_t *e = idmap_find(s, id, len);
    if (!e)
        return false;
    idmap_describe(s, e, out);
    return true;
}

bool cn_router_shard_join(cn_router_shard_t *s, const char *id, size_t len,
                          uint32_t mark, double not_before, cn_router_lookup_t *out)
{
    idmap_entry_t *e = idmap_find(s, id, len);
    if (!e)
        return false;
    idmap_describe(s, e, out);
    if (e->unix_s >= not_before)
        e->fed |= mark;
    return true;
}

double cn_router_shard_oldest_id(const cn_router_shard_t *s)
{
    if (!s->id_count)
        return NAN;
    size_t oldest = s->id_count == s->params.request_id_map_size ? s->id_next : 0;
    return s->ids[oldest].unix_s;
}

static cn_metrics_hist_t *hist_dup(const cn_metrics_hist_t *h)
{
    cn_metrics_hist_t *d = cn_xmalloc(sizeof *d);
    memcpy(d, h, sizeof *d);
    return d;
}

static double *reservoir_dup(const cn_metrics_reservoir_t *r, size_t *n)
{
    *n = cn_metrics_reservoir_size(r);
    double *v = cn_xmallocarray(*n + 1, sizeof *v);
    memcpy(v, cn_metrics_reservoir_values(r), *n * sizeof *v);
    return v;
}

void cn_router_shard_copy(const cn_router_shard_t *s, unsigned what,
                          cn_router_shard_part_t *part)
{
    memset(part, 0, sizeof *part);
    part->what = what;
    size_t n = 0, ncodes = 0;
    for (size_t i = 0; i < ncells_max(s); i++)
        if (s->cells[i]) {
            n++;
            ncodes += s->cells[i]->ncodes;
        }
    part->cells = cn_xcalloc(n + 1, sizeof *part->cells);
    if (what & CN_ROUTER_SNAP_COUNTERS)
        part->codes = cn_xmallocarray(ncodes + 1, sizeof *part->codes);
    for (unsigned k = 0; k < CN_ROUTER_SHARD_KEYS; k++)
        if (s->keys[k].version)
            part->versions[k] =
                dup_label(s->keys[k].version, strlen(s->keys[k].version));
    size_t nb = s->params.n_prediction_bounds + 1;
    size_t code_at = 0;
    for (size_t i = 0; i < ncells_max(s); i++) {
        const cn_router_shard_cell_t *c = s->cells[i];
        if (!c)
            continue;
        cn_router_cell_t *out = &part->cells[part->ncells++];
        out->segment = s->segments[i / CN_ROUTER_SHARD_KEYS];
        out->version = part->versions[i % CN_ROUTER_SHARD_KEYS];
        out->role = c->c.role;
        if (what & CN_ROUTER_SNAP_COUNTERS) {
            /* the scalar counters; the pointer fields stay NULL */
            cn_router_cell_t m = c->c;
            m.segment = out->segment;
            m.version = out->version;
            m.codes = NULL;
            m.ncodes = 0;
            m.prediction_le = NULL;
            m.latency = m.step_latency = NULL;
            m.step_latency_us = m.step_predictions = NULL;
            *out = m;
            out->codes = part->codes + code_at;
            for (unsigned wd = 0; wd < CODE_WORDS; wd++)
                for (uint64_t bits = c->code_bits[wd]; bits; bits &= bits - 1) {
                    unsigned j = wd * 64 + (unsigned)__builtin_ctzll(bits);
                    out->codes[out->ncodes++] =
                        (cn_router_code_count_t){CODE_MIN + j, c->codes[j]};
                }
            code_at += out->ncodes;
            out->prediction_le = cn_xcalloc(nb, sizeof(uint64_t));
            uint64_t run = 0;
            for (size_t b = 0; b < nb; b++) {
                run += c->pred_buckets[b];
                out->prediction_le[b] = run;
            }
        }
        if (what & CN_ROUTER_SNAP_HISTOGRAMS) {
            out->latency = hist_dup(&c->latency);
            if (c->step) {
                out->step_latency = hist_dup(&c->step->latency);
            } else {
                out->step_latency = cn_xmalloc(sizeof *out->step_latency);
                cn_metrics_hist_init(out->step_latency);
            }
        }
        if (what & CN_ROUTER_SNAP_SAMPLES) {
            out->step_latency_seen = c->c.step_latency_seen;
            out->step_predictions_seen = c->c.step_predictions_seen;
            if (c->step) {
                out->step_latency_us =
                    reservoir_dup(&c->step->lat, &out->n_step_latency);
                out->step_predictions =
                    reservoir_dup(&c->step->pred, &out->n_step_predictions);
            }
        }
    }
    if (what & CN_ROUTER_SNAP_PAIRS) {
        part->npairs = s->npairs;
        part->pairs_seen = s->pairs_seen;
        part->pairs = cn_xmallocarray(s->npairs + 1, sizeof *part->pairs);
        memcpy(part->pairs, s->pairs, s->npairs * sizeof *part->pairs);
    }
    if (what & CN_ROUTER_SNAP_ADDRESSES) {
        part->addrs_generation = s->addrs_generation;
        for (int role = 0; role < CN_ROLE_COUNT; role++) {
            size_t used = s->addrs_used[role];
            part->naddrs[role] = used;
            part->addrs[role] = cn_xcalloc(used + 1, sizeof *part->addrs[role]);
            for (size_t i = 0; i < used; i++) {
                const cn_router_shard_addr_t *a = s->addrs[role][i];
                if (!a || !a->requests)
                    continue;
                part->addrs[role][i].role = (cn_role_t)role;
                part->addrs[role][i].requests = a->requests;
                part->addrs[role][i].errors = a->errors;
                part->addrs[role][i].latency = hist_dup(&a->latency);
            }
        }
    }
}

static void cell_dispose_data(cn_router_cell_t *c)
{
    free(c->prediction_le);
    free(c->latency);
    free(c->step_latency);
    free(c->step_latency_us);
    free(c->step_predictions);
    free(c->step_latency_bounds);
    free(c->step_latency_bins);
}

void cn_router_cells_free(cn_router_cell_t *cells, size_t ncells)
{
    for (size_t i = 0; i < ncells; i++) {
        free(cells[i].segment);
        free(cells[i].version);
        free(cells[i].codes);
        cell_dispose_data(&cells[i]);
    }
    free(cells);
}

void cn_router_shard_part_dispose(cn_router_shard_part_t *part)
{
    for (size_t i = 0; i < part->ncells; i++)
        cell_dispose_data(&part->cells[i]);
    free(part->cells);
    free(part->codes);
    for (unsigned k = 0; k < CN_ROUTER_SHARD_KEYS; k++)
        free(part->versions[k]);
    free(part->pairs);
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        for (size_t i = 0; i < part->naddrs[role]; i++)
            free(part->addrs[role][i].latency);
        free(part->addrs[role]);
    }
    memset(part, 0, sizeof *part);
}

/* ------------------------------------------------------------------ merge */

static int cell_cmp(const void *a, const void *b)
{
    const cn_router_cell_t *x = a, *y = b;
    if (x->role != y->role)
        return x->role < y->role ? -1 : 1;
    int c = strcmp(x->version, y->version);
    return c ? c : strcmp(x->segment, y->segment);
}

/*
 * Largest-remainder allocation of `total` draws over k strata with
 * weights seen[i], each capped at have[i]; writes take[i].
 */
static void allocate(size_t total, const uint64_t *seen, const size_t *have, size_t k,
                     size_t *take)
{
    uint64_t n = 0;
    for (size_t i = 0; i < k; i++)
        n += seen[i];
    size_t used = 0;
    for (size_t i = 0; i < k; i++) {
        take[i] = n ? (size_t)((double)total * (double)seen[i] / (double)n) : 0;
        if (take[i] > have[i])
            take[i] = have[i];
        used += take[i];
    }
    /* hand out what rounding left, one at a time, to strata with room */
    for (size_t pass = 0; used < total && pass < k + 1; pass++)
        for (size_t i = 0; i < k && used < total; i++)
            if (take[i] < have[i]) {
                take[i]++;
                used++;
            }
}

/* Move `take` uniformly chosen values of v[0..n) to the front (partial
 * Fisher-Yates). */
static void choose(double *v, size_t n, size_t take, uint64_t *rng)
{
    for (size_t i = 0; i < take && i + 1 < n; i++) {
        size_t j = i + (size_t)(cn_rand_next(rng) % (n - i));
        double t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void merge_samples(cn_router_shard_part_t *parts, size_t nparts, size_t **map,
                          size_t cell, size_t cap, uint64_t *rng, bool latency,
                          double **out, size_t *nout)
{
    uint64_t *seen = cn_xcalloc(nparts, sizeof *seen);
    size_t *have = cn_xcalloc(nparts, sizeof *have);
    size_t *take = cn_xcalloc(nparts, sizeof *take);
    cn_router_cell_t **src = cn_xcalloc(nparts, sizeof *src);
    uint64_t total_seen = 0;
    size_t total_have = 0;
    for (size_t p = 0; p < nparts; p++)
        for (size_t i = 0; i < parts[p].ncells; i++)
            if (map[p][i] == cell) {
                cn_router_cell_t *c = &parts[p].cells[i];
                src[p] = c;
                seen[p] = latency ? c->step_latency_seen : c->step_predictions_seen;
                have[p] = latency ? c->n_step_latency : c->n_step_predictions;
                total_seen += seen[p];
                total_have += have[p];
            }
    size_t total = total_have < cap ? total_have : cap;
    allocate(total, seen, have, nparts, take);
    double *v = cn_xmallocarray(total + 1, sizeof *v);
    size_t k = 0;
    for (size_t p = 0; p < nparts; p++) {
        if (!src[p] || !take[p])
            continue;
        double *values = latency ? src[p]->step_latency_us : src[p]->step_predictions;
        choose(values, have[p], take[p], rng);
        memcpy(v + k, values, take[p] * sizeof *v);
        k += take[p];
    }
    *out = v;
    *nout = k;
    free(seen);
    free(have);
    free(take);
    free(src);
}

void cn_router_shard_merge(cn_router_shard_part_t *parts, size_t nparts,
                           size_t reservoir_size, size_t n_prediction_bounds,
                           uint64_t seed, cn_router_snapshot_t *snap)
{
    size_t maxcells = 0;
    unsigned what = nparts ? parts[0].what : 0;
    for (size_t p = 0; p < nparts; p++)
        maxcells += parts[p].ncells;
    cn_router_cell_t *cells = cn_xcalloc(maxcells + 1, sizeof *cells);
    uint64_t **codes = cn_xcalloc(maxcells + 1, sizeof *codes); /* dense, temporary */
    size_t ncells = 0;
    size_t **map = cn_xcalloc(nparts + 1, sizeof *map);
    size_t nb = n_prediction_bounds + 1;

    for (size_t p = 0; p < nparts; p++) {
        map[p] = cn_xcalloc(parts[p].ncells + 1, sizeof **map);
        for (size_t i = 0; i < parts[p].ncells; i++) {
            cn_router_cell_t *c = &parts[p].cells[i];
            size_t j = 0;
            while (j < ncells && !(cells[j].role == c->role &&
                                   strcmp(cells[j].version, c->version) == 0 &&
                                   strcmp(cells[j].segment, c->segment) == 0))
                j++;
            cn_router_cell_t *m = &cells[j];
            if (j == ncells) {
                ncells++;
                m->role = c->role;
                m->segment = dup_label(c->segment, strlen(c->segment));
                m->version = dup_label(c->version, strlen(c->version));
                if (what & CN_ROUTER_SNAP_COUNTERS) {
                    m->prediction_le = cn_xcalloc(nb, sizeof(uint64_t));
                    codes[j] = cn_xcalloc(CODE_COUNT, sizeof(uint64_t));
                }
                if (what & CN_ROUTER_SNAP_HISTOGRAMS) {
                    m->latency = cn_xmalloc(sizeof *m->latency);
                    m->step_latency = cn_xmalloc(sizeof *m->step_latency);
                    cn_metrics_hist_init(m->latency);
                    cn_metrics_hist_init(m->step_latency);
                }
            }
            map[p][i] = j;
            m->requests += c->requests;
            m->shadow_requests += c->shadow_requests;
            for (size_t k = 0; k < 6; k++)
                m->responses_by_class[k] += c->responses_by_class[k];
            for (size_t k = 0; k < c->ncodes; k++)
                codes[j][c->codes[k].code - CODE_MIN] += c->codes[k].count;
            for (size_t k = 0; k < CN_ROUTER_FAIL_COUNT; k++)
                m->failures[k] += c->failures[k];
            m->retried_on_stable += c->retried_on_stable;
            m->request_bytes += c->request_bytes;
            m->response_bytes += c->response_bytes;
            for (size_t k = 0; k < CN_ROUTER_PRED_COUNT; k++)
                m->predictions[k] += c->predictions[k];
            m->prediction_sum += c->prediction_sum;
            if (m->prediction_le && c->prediction_le)
                for (size_t k = 0; k < nb; k++)
                    m->prediction_le[k] += c->prediction_le[k];
            if (m->latency && c->latency)
                cn_metrics_hist_merge(m->latency, c->latency);
            if (m->step_latency && c->step_latency)
                cn_metrics_hist_merge(m->step_latency, c->step_latency);
            m->step_requests += c->step_requests;
            m->step_errors += c->step_errors;
            m->step_latency_seen += c->step_latency_seen;
            m->step_predictions_seen += c->step_predictions_seen;
        }
    }
    for (size_t j = 0; j < ncells; j++) {
        if (!codes[j])
            continue;
        size_t n = 0;
        for (size_t k = 0; k < CODE_COUNT; k++)
            n += codes[j][k] != 0;
        cells[j].codes = cn_xmallocarray(n + 1, sizeof *cells[j].codes);
        for (size_t k = 0; k < CODE_COUNT; k++)
            if (codes[j][k])
                cells[j].codes[cells[j].ncodes++] =
                    (cn_router_code_count_t){CODE_MIN + (unsigned)k, codes[j][k]};
        free(codes[j]);
    }
    free(codes);
    uint64_t rng = seed;
    for (size_t j = 0; j < ncells && (what & CN_ROUTER_SNAP_SAMPLES); j++) {
        merge_samples(parts, nparts, map, j, reservoir_size, &rng, true,
                      &cells[j].step_latency_us, &cells[j].n_step_latency);
        merge_samples(parts, nparts, map, j, reservoir_size, &rng, false,
                      &cells[j].step_predictions, &cells[j].n_step_predictions);
    }
    /* Sort after sampling: map[] holds pre-sort indices. */
    qsort(cells, ncells, sizeof *cells, cell_cmp);

    /* shadow pairs: the same proportional allocation over pair samples */
    uint64_t *seen = cn_xcalloc(nparts + 1, sizeof *seen);
    size_t *have = cn_xcalloc(nparts + 1, sizeof *have);
    size_t *take = cn_xcalloc(nparts + 1, sizeof *take);
    size_t total_have = 0;
    for (size_t p = 0; p < nparts; p++) {
        seen[p] = parts[p].pairs_seen;
        have[p] = parts[p].npairs;
        total_have += have[p];
    }
    size_t total = total_have < reservoir_size ? total_have : reservoir_size;
    allocate(total, seen, have, nparts, take);
    cn_router_pair_t *pairs = cn_xcalloc(total + 1, sizeof *pairs);
    size_t np = 0;
    for (size_t p = 0; p < nparts; p++) {
        for (size_t i = 0; i < take[p] && i + 1 < have[p]; i++) {
            size_t j = i + (size_t)(cn_rand_next(&rng) % (have[p] - i));
            cn_router_pair_t t = parts[p].pairs[i];
            parts[p].pairs[i] = parts[p].pairs[j];
            parts[p].pairs[j] = t;
        }
        if (take[p])
            memcpy(pairs + np, parts[p].pairs, take[p] * sizeof *pairs);
        np += take[p];
    }
    free(seen);
    free(have);
    free(take);
    for (size_t p = 0; p < nparts; p++)
        free(map[p]);
    free(map);
    snap->cells = cells;
    snap->ncells = ncells;
    snap->pairs = pairs;
    snap->npairs = np;
}

void cn_router_shard_merge_addresses(const cn_router_shard_part_t *parts, size_t nparts,
                                     const cn_generation_t *g,
                                     cn_router_snapshot_t *snap)
{
    size_t each[CN_ROLE_COUNT], n = 0;
    for (int role = 0; role < CN_ROLE_COUNT; role++) {
        each[role] = g->sets[role].count < CN_ROUTER_ADDRESS_SLOTS
                         ? g->sets[role].count
                         : CN_ROUTER_ADDRESS_SLOTS;
        n += each[role];
    }
    cn_router_address_stat_t *out = cn_xcalloc(n + 1, sizeof *out);
    size_t k = 0;
    for (int role = 0; role < CN_ROLE_COUNT; role++)
        for (size_t i = 0; i < each[role]; i++, k++) {
            cn_router_address_stat_t *a = &out[k];
            const char *address = g->sets[role].addresses[i];
            a->address = dup_label(address, strlen(address));
            a->role = (cn_role_t)role;
            a->latency = cn_xmalloc(sizeof *a->latency);
            cn_metrics_hist_init(a->latency);
            for (size_t p = 0; p < nparts; p++) {
                if (parts[p].addrs_generation != g->number ||
                    i >= parts[p].naddrs[role])
                    continue;
                const cn_router_address_stat_t *from = &parts[p].addrs[role][i];
                a->requests += from->requests;
                a->errors += from->errors;
                if (from->latency)
                    cn_metrics_hist_merge(a->latency, from->latency);
            }
        }
    snap->addresses = out;
    snap->naddresses = n;
}

void cn_router_addresses_free(cn_router_address_stat_t *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].address);
        free(a[i].latency);
    }
    free(a);
}
