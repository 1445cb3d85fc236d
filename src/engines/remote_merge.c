/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The replicas' snapshots merged into one (remote.h, cn_remote_merge): the
 * fleet's measurements as if one router had served every request.
 *
 * Counters and histograms are sums, exactly what one router would have
 * counted. Reservoirs cannot be summed: each replica kept a uniform sample
 * of its own requests, of a size that does not grow with its traffic, so
 * concatenating them would over-represent a quiet replica (its 1,000
 * values standing for 1,000 requests next to a busy one's 1,000 standing
 * for 100,000). The merge draws from each replica in proportion to what
 * its sample stands for; see remote.h for the rule and why it is uniform.
 */
#include "engines/remote.h"
#include "engines/wire.h"
#include "util/error.h"
#include "util/rand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cell_cmp(const cn_router_cell_t *a, const cn_router_cell_t *b)
{
    if (a->role != b->role)
        return a->role < b->role ? -1 : 1;
    int c = strcmp(a->version, b->version);
    return c ? c : strcmp(a->segment, b->segment);
}

static cn_router_cell_t *find_cell(cn_router_cell_t *cells, size_t n,
                                   const cn_router_cell_t *key)
{
    for (size_t i = 0; i < n; i++)
        if (cell_cmp(&cells[i], key) == 0)
            return &cells[i];
    return NULL;
}

static char *copy_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = cn_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

static void hist_add(cn_metrics_hist_t **dst, const cn_metrics_hist_t *src)
{
    if (!src)
        return;
    if (!*dst) {
        *dst = cn_xmalloc(sizeof **dst);
        cn_metrics_hist_init(*dst);
    }
    cn_metrics_hist_merge(*dst, src);
}

static void codes_add(cn_router_cell_t *d, const cn_router_cell_t *s)
{
    for (size_t i = 0; i < s->ncodes; i++) {
        size_t j = 0;
        while (j < d->ncodes && d->codes[j].code < s->codes[i].code)
            j++;
        if (j < d->ncodes && d->codes[j].code == s->codes[i].code) {
            d->codes[j].count += s->codes[i].count;
            continue;
        }
        d->codes = cn_xrealloc(d->codes, (d->ncodes + 1) * sizeof *d->codes);
        memmove(&d->codes[j + 1], &d->codes[j], (d->ncodes - j) * sizeof *d->codes);
        d->codes[j] = s->codes[i];
        d->ncodes++;
    }
}

/* Counters, histograms and bins of s into d. */
static int cell_add(cn_router_cell_t *d, const cn_router_cell_t *s, size_t n_le,
                    char *err, size_t errlen)
{
    d->requests += s->requests;
    d->shadow_requests += s->shadow_requests;
    for (int i = 0; i < 6; i++)
        d->responses_by_class[i] += s->responses_by_class[i];
    codes_add(d, s);
    for (int i = 0; i < CN_ROUTER_FAIL_COUNT; i++)
        d->failures[i] += s->failures[i];
    d->retried_on_stable += s->retried_on_stable;
    d->request_bytes += s->request_bytes;
    d->response_bytes += s->response_bytes;
    for (int i = 0; i < CN_ROUTER_PRED_COUNT; i++)
        d->predictions[i] += s->predictions[i];
    d->prediction_sum += s->prediction_sum;
    if (s->prediction_le) {
        if (!d->prediction_le)
            d->prediction_le = cn_xcalloc(n_le, sizeof *d->prediction_le);
        for (size_t i = 0; i < n_le; i++)
            d->prediction_le[i] += s->prediction_le[i];
    }
    d->step_requests += s->step_requests;
    d->step_errors += s->step_errors;
    d->step_latency_seen += s->step_latency_seen;
    d->step_predictions_seen += s->step_predictions_seen;
    hist_add(&d->latency, s->latency);
    hist_add(&d->step_latency, s->step_latency);
    if (s->step_latency_bins) {
        size_t nb = s->n_step_latency_bins;
        if (!d->step_latency_bins) {
            d->n_step_latency_bins = nb;
            d->step_latency_bins = cn_xcalloc(nb, sizeof *d->step_latency_bins);
            d->step_latency_bounds = cn_xcalloc(nb ? nb : 1, sizeof(double));
            if (nb > 1)
                memcpy(d->step_latency_bounds, s->step_latency_bounds,
                       (nb - 1) * sizeof(double));
        } else if (d->n_step_latency_bins != nb ||
                   (nb > 1 && memcmp(d->step_latency_bounds, s->step_latency_bounds,
                                     (nb - 1) * sizeof(double)))) {
            return cn_fail(err, errlen, CN_EINVAL,
                           "%s %s: the replicas bin latency with different bounds",
                           cn_role_name(d->role), d->version);
        }
        for (size_t i = 0; i < nb; i++)
            d->step_latency_bins[i] += s->step_latency_bins[i];
    }
    return 0;
}

/*
 * The weighted merge of one reservoir across the parts (remote.h): vals[j]
 * holds k[j] values standing for seen[j]. Returns the merged sample (n in
 * *out_n; an empty array, not NULL, when every part had one).
 */
static double *reservoir_merge(const double *const *vals, const size_t *k,
                               const uint64_t *seen, size_t nparts, uint64_t *rng,
                               size_t *out_n)
{
    uint64_t total = 0;
    size_t sum_k = 0;
    bool all_whole = true;
    for (size_t j = 0; j < nparts; j++) {
        /* a replica that saw fewer than it kept cannot be: take it as whole */
        uint64_t n = seen[j] < k[j] ? k[j] : seen[j];
        total += n;
        sum_k += k[j];
        all_whole = all_whole && n == k[j];
    }
    double *out = cn_xmalloc(sum_k ? sum_k * sizeof *out : 1);
    size_t m = 0;
    if (all_whole) {
        for (size_t j = 0; j < nparts; j++) {
            if (k[j])
                memcpy(out + m, vals[j], k[j] * sizeof *out);
            m += k[j];
        }
        *out_n = m;
        return out;
    }
    /* K: the most every part can give at its share */
    double big_k = (double)sum_k;
    for (size_t j = 0; j < nparts; j++) {
        uint64_t n = seen[j] < k[j] ? k[j] : seen[j];
        if (n == 0)
            continue;
        double cap = floor((double)k[j] * (double)total / (double)n);
        if (cap < big_k)
            big_k = cap;
    }
    double *pool = NULL;
    size_t pool_cap = 0;
    for (size_t j = 0; j < nparts; j++) {
        uint64_t n = seen[j] < k[j] ? k[j] : seen[j];
        if (n == 0 || k[j] == 0)
            continue;
        double quota = big_k * (double)n / (double)total;
        double fl = floor(quota);
        size_t mj = (size_t)fl + (cn_rand_unit(rng) < quota - fl ? 1 : 0);
        if (mj > k[j])
            mj = k[j];
        /* mj of k[j] without replacement: a partial Fisher-Yates on a copy */
        if (k[j] > pool_cap) {
            pool_cap = k[j];
            pool = cn_xrealloc(pool, pool_cap * sizeof *pool);
        }
        memcpy(pool, vals[j], k[j] * sizeof *pool);
        for (size_t i = 0; i < mj; i++) {
            size_t r = i + (size_t)cn_rand_below(rng, k[j] - i);
            double t = pool[i];
            pool[i] = pool[r];
            pool[r] = t;
            out[m++] = pool[i];
        }
    }
    free(pool);
    *out_n = m;
    return out;
}

/* Every sample of cell `key` across the parts, merged into d. */
static void samples_merge(cn_router_cell_t *d, cn_router_snapshot_t *const *parts,
                          size_t n, bool want, uint64_t *rng)
{
    const double **lv = cn_xcalloc(n, sizeof *lv), **pv = cn_xcalloc(n, sizeof *pv);
    size_t *lk = cn_xcalloc(n, sizeof *lk), *pk = cn_xcalloc(n, sizeof *pk);
    uint64_t *ls = cn_xcalloc(n, sizeof *ls), *ps = cn_xcalloc(n, sizeof *ps);
    bool any = false;
    for (size_t j = 0; j < n; j++) {
        const cn_router_cell_t *c = find_cell(parts[j]->cells, parts[j]->ncells, d);
        if (!c)
            continue;
        if (c->step_latency_us || c->step_predictions)
            any = true;
        lv[j] = c->step_latency_us;
        lk[j] = c->step_latency_us ? c->n_step_latency : 0;
        ls[j] = c->step_latency_us ? c->step_latency_seen : 0;
        pv[j] = c->step_predictions;
        pk[j] = c->step_predictions ? c->n_step_predictions : 0;
        ps[j] = c->step_predictions ? c->step_predictions_seen : 0;
    }
    if (any || want) {
        d->step_latency_us = reservoir_merge(lv, lk, ls, n, rng, &d->n_step_latency);
        d->step_predictions =
            reservoir_merge(pv, pk, ps, n, rng, &d->n_step_predictions);
    }
    free(lv);
    free(pv);
    free(lk);
    free(pk);
    free(ls);
    free(ps);
}

static int cmp_cells(const void *a, const void *b)
{
    return cell_cmp(a, b);
}

static int check_same(cn_router_snapshot_t *const *parts, size_t n, char *err,
                      size_t errlen)
{
    const cn_router_snapshot_t *a = parts[0];
    for (size_t j = 1; j < n; j++) {
        const cn_router_snapshot_t *b = parts[j];
        if (b->generation != a->generation)
            return cn_fail(err, errlen, CN_EINVAL,
                           "replica %zu measured generation %llu, replica 0 %llu", j,
                           (unsigned long long)b->generation,
                           (unsigned long long)a->generation);
        for (int r = 0; r < CN_ROLE_COUNT; r++)
            if (strcmp(a->version_name[r] ? a->version_name[r] : "",
                       b->version_name[r] ? b->version_name[r] : ""))
                return cn_fail(err, errlen, CN_EINVAL,
                               "replica %zu runs %s version '%s', replica 0 '%s'", j,
                               cn_role_name((cn_role_t)r), b->version_name[r],
                               a->version_name[r]);
        if (b->n_prediction_bounds != a->n_prediction_bounds ||
            (a->n_prediction_bounds &&
             memcmp(a->prediction_bounds, b->prediction_bounds,
                    a->n_prediction_bounds * sizeof(double))))
            return cn_fail(err, errlen, CN_EINVAL,
                           "replica %zu has other prediction bounds than replica 0 "
                           "(configure them alike)",
                           j);
    }
    return 0;
}

int cn_remote_merge(cn_router_snapshot_t *const *parts, size_t n, uint64_t *rng,
                    cn_router_snapshot_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (n == 0)
        return cn_fail(err, errlen, CN_EINVAL, "no snapshot to merge");
    int rc = check_same(parts, n, err, errlen);
    if (rc)
        return rc;
    const cn_router_snapshot_t *a = parts[0];
    cn_router_snapshot_t *m = cn_xcalloc(1, sizeof *m);
    m->what = a->what;
    m->generation = a->generation;
    m->traffic = a->traffic;
    m->step = a->step;
    for (int r = 0; r < CN_ROLE_COUNT; r++)
        m->version_name[r] = copy_string(a->version_name[r] ? a->version_name[r] : "");
    m->n_prediction_bounds = a->n_prediction_bounds;
    if (a->n_prediction_bounds) {
        double *b = cn_xmalloc(a->n_prediction_bounds * sizeof *b);
        memcpy(b, a->prediction_bounds, a->n_prediction_bounds * sizeof *b);
        m->prediction_bounds = b;
    }
    size_t n_le = a->n_prediction_bounds + 1;
    size_t cap_cells = 0, cap_up = 0, cap_addr = 0;
    for (size_t j = 0; j < n; j++) {
        const cn_router_snapshot_t *s = parts[j];
        /* the latest start: the span every replica measured */
        if (s->step_started_unix_s > m->step_started_unix_s)
            m->step_started_unix_s = s->step_started_unix_s;
        if (s->now_unix_s > m->now_unix_s)
            m->now_unix_s = s->now_unix_s;
        m->workers += s->workers;
        m->connections_open += s->connections_open;
        m->connections_total += s->connections_total;
        for (int i = 0; i < CN_ROUTER_REJECT_COUNT; i++)
            m->rejects[i] += s->rejects[i];
        for (size_t i = 0; i < s->ncells && !rc; i++) {
            const cn_router_cell_t *c = &s->cells[i];
            cn_router_cell_t *d = find_cell(m->cells, m->ncells, c);
            if (!d) {
                if (m->ncells == cap_cells) {
                    cap_cells = cap_cells ? 2 * cap_cells : 8;
                    m->cells = cn_xrealloc(m->cells, cap_cells * sizeof *m->cells);
                }
                d = &m->cells[m->ncells++];
                memset(d, 0, sizeof *d);
                d->segment = copy_string(c->segment);
                d->version = copy_string(c->version);
                d->role = c->role;
            }
            rc = cell_add(d, c, n_le, err, errlen);
        }
        if (s->npairs) {
            m->pairs =
                cn_xrealloc(m->pairs, (m->npairs + s->npairs) * sizeof *m->pairs);
            memcpy(m->pairs + m->npairs, s->pairs, s->npairs * sizeof *s->pairs);
            m->npairs += s->npairs;
        }
        for (size_t i = 0; i < s->nupstreams; i++) {
            const cn_router_upstream_state_t *u = &s->upstreams[i];
            cn_router_upstream_state_t *d = NULL;
            for (size_t k = 0; k < m->nupstreams && !d; k++)
                if (m->upstreams[k].role == u->role &&
                    strcmp(m->upstreams[k].address, u->address) == 0)
                    d = &m->upstreams[k];
            if (d) {
                /* up only where every replica finds it up */
                d->up = d->up && u->up;
                d->checked = d->checked && u->checked;
                d->failures += u->failures;
                continue;
            }
            if (m->nupstreams == cap_up) {
                cap_up = cap_up ? 2 * cap_up : 8;
                m->upstreams = cn_xrealloc(m->upstreams, cap_up * sizeof *m->upstreams);
            }
            m->upstreams[m->nupstreams] = *u;
            m->upstreams[m->nupstreams++].address = copy_string(u->address);
        }
        for (size_t i = 0; i < s->naddresses; i++) {
            const cn_router_address_stat_t *x = &s->addresses[i];
            cn_router_address_stat_t *d = NULL;
            for (size_t k = 0; k < m->naddresses && !d; k++)
                if (m->addresses[k].role == x->role &&
                    strcmp(m->addresses[k].address, x->address) == 0)
                    d = &m->addresses[k];
            if (!d) {
                if (m->naddresses == cap_addr) {
                    cap_addr = cap_addr ? 2 * cap_addr : 8;
                    m->addresses =
                        cn_xrealloc(m->addresses, cap_addr * sizeof *m->addresses);
                }
                d = &m->addresses[m->naddresses++];
                memset(d, 0, sizeof *d);
                d->address = copy_string(x->address);
                d->role = x->role;
            }
            d->requests += x->requests;
            d->errors += x->errors;
            hist_add(&d->latency, x->latency);
        }
    }
    for (size_t i = 0; i < m->naddresses; i++)
        if (!m->addresses[i].latency) {
            m->addresses[i].latency = cn_xmalloc(sizeof *m->addresses[i].latency);
            cn_metrics_hist_init(m->addresses[i].latency);
        }
    if (rc) {
        cn_wire_snapshot_free(m);
        return rc;
    }
    if (m->ncells > 1)
        qsort(m->cells, m->ncells, sizeof *m->cells, cmp_cells);
    for (size_t i = 0; i < m->ncells; i++)
        samples_merge(&m->cells[i], parts, n, (m->what & CN_ROUTER_SNAP_SAMPLES) != 0,
                      rng);
    *out = m;
    return 0;
}
