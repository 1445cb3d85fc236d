/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus as a metrics source: the config table, the HTTP calls
 * (libcurl easy, blocking: read() runs on the controller's thread pool)
 * and the snapshot built from the answers. prometheus.h has the contract;
 * prometheus_parse.c the pure pieces; docs/SCALE.md the user's view.
 *
 * Why the raw counters and not increase(): Prometheus's increase()
 * extrapolates to the window's ends and answers fractions (10 requests
 * become 10.4), and summing counters across replicas before taking the
 * increase turns one replica's restart into a drop of the sum. So the
 * source asks for each counter series over the window at `step`
 * resolution, takes each series' increase itself (rises, a fall being a
 * reset), and sums the series per version, segment and `le`: whole
 * counts, as the judge's tests need, that match what the replicas counted
 * between the scrapes nearest the window's ends.
 */
#include "engines/prometheus.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/file.h"
#include "util/units.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_BODY_BYTES (64u << 20) /* one answer */
#define GENERATIONS 16             /* opened generations remembered */

/* ---------------------------------------------------------- the config */

static int check_url(const char *text, char *what, size_t len)
{
    return cn_units_check_http_url(text, 1, what, len);
}

static int check_selector(const char *text, char *what, size_t len)
{
    char out[16];
    return cn_prometheus_series_selector("x", "", text, "", out, sizeof out, what,
                                         len) == CN_EINVAL
               ? CN_EINVAL
               : 0;
}

static int check_series(const char *text, char *what, size_t len)
{
    char out[16];
    return cn_prometheus_series_selector(text, "", "{v=\"%s\"}", "", out, sizeof out,
                                         what, len) == CN_EINVAL
               ? CN_EINVAL
               : 0;
}

#define F(f)                                                                           \
    .offset = offsetof(cn_prometheus_config_t, f),                                     \
    .width = sizeof(((cn_prometheus_config_t *)0)->f)

static const cn_config_key_t keys[] = {
    {.key = "url",
     .type = CN_CONFIG_STRING,
     .opts = CN_CONFIG_REQUIRED,
     .check = check_url,
     .help = "the Prometheus server: http://host:9090 (a path prefix allowed)",
     F(url)},
    {.key = "selector",
     .type = CN_CONFIG_STRING,
     .default_text = "{version=\"%s\"}",
     .check = check_selector,
     .help = "label matchers with one %s for the version label: "
             "{job=\"model\",version=\"%s\"}",
     F(selector)},
    {.key = "requests",
     .type = CN_CONFIG_STRING,
     .default_text = "canary_requests_total",
     .check = check_series,
     .help = "the requests counter (a metric name, optionally with {matchers})",
     F(requests)},
    {.key = "errors",
     .type = CN_CONFIG_ADDRESS_LIST,
     .lo = 0,
     .hi = 8,
     .default_text =
         "canary_responses_total{class=\"5xx\"},canary_upstream_failures_total",
     .check = check_series,
     .want = "a list of counter series (names with optional {matchers})",
     .help = "counters summed as the errors (canary serve's: 5xx responses and "
             "upstream failures)",
     F(errors)},
    {.key = "latency",
     .type = CN_CONFIG_STRING,
     .default_text = "canary_request_duration_seconds",
     .check = check_series,
     .help = "the latency histogram's name (its _bucket series are read)",
     F(latency)},
    {.key = "latency_unit",
     .type = CN_CONFIG_DOUBLE,
     .dlo = 0,
     .dhi = 3600,
     .opts = CN_CONFIG_LO_OPEN,
     .default_text = "1",
     .help = "seconds per unit of the histogram's le (1: seconds, 0.001: ms)",
     F(latency_unit_s)},
    {.key = "segment_label",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_LABEL,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "the label whose values are segments (canary serve's: segment); "
             "unset: none",
     F(segment_label)},
    {.key = "step",
     .type = CN_CONFIG_DURATION,
     .lo = 100,
     .hi = CN_UNITS_HOUR_MS,
     .default_text = "5s",
     .help = "query_range resolution: at least the scrape interval",
     F(step_ms)},
    {.key = "timeout",
     .type = CN_CONFIG_DURATION,
     .lo = 100,
     .hi = 5 * CN_UNITS_MINUTE_MS,
     .default_text = "10s",
     .help = "one query's timeout (connect and answer)",
     F(timeout_ms)},
    {.key = "bearer_token_file",
     .type = CN_CONFIG_STRING,
     .kind = CN_CONFIG_FILE,
     .opts = CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS,
     .help = "file holding a bearer token sent to Prometheus; unset: none",
     F(bearer_token_file)},
};

const cn_config_table_t cn_prometheus_config_table = {
    .keys = keys,
    .n_keys = COUNT(keys),
    .size = sizeof(cn_prometheus_config_t),
    .line_at = CN_CONFIG_AT(cn_prometheus_config_t, line),
};

void cn_prometheus_config_init(cn_prometheus_config_t *cfg)
{
    cn_config_init(&cn_prometheus_config_table, cfg);
}

void cn_prometheus_config_dispose(cn_prometheus_config_t *cfg)
{
    cn_config_dispose(&cn_prometheus_config_table, cfg);
}

/* ----------------------------------------------------------- the source */

typedef struct opened_s {
    uint64_t generation;
    int64_t unix_ms;
    cn_traffic_t traffic;
    char *version[2];
} opened_t;

struct cn_prometheus_s {
    cn_metrics_source_t metrics; /* first */
    cn_prometheus_config_t cfg;
    char *token; /* NULL: none */
    pthread_mutex_t mu;
    opened_t opened[GENERATIONS]; /* a ring; generation 0: empty */
    size_t next;
};

cn_metrics_source_t *cn_prometheus_metrics(cn_prometheus_t *p)
{
    return &p->metrics;
}

/* One query's answer body, bounded. */
typedef struct body_s {
    char *data;
    size_t len;
    int over;
} body_t;

static size_t body_write(char *ptr, size_t size, size_t n, void *arg)
{
    body_t *b = arg;
    size_t add = size * n;
    if (b->len + add > MAX_BODY_BYTES) {
        b->over = 1;
        return 0;
    }
    b->data = cn_xrealloc(b->data, b->len + add + 1);
    memcpy(b->data + b->len, ptr, add);
    b->len += add;
    b->data[b->len] = 0;
    return add;
}

/*
 * GET path?params (params already escaped) and parse the answer into *res.
 * 0, or CN_EIO (no answer) / CN_EINVAL / CN_EPARSE with one line in err.
 */
static int query(cn_prometheus_t *p, CURL *h, const char *path, const char *params,
                 cn_prometheus_result_t *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    size_t ul = strlen(p->cfg.url) + strlen(path) + strlen(params) + 2;
    char *url = cn_xmalloc(ul);
    size_t base = strlen(p->cfg.url);
    while (base && p->cfg.url[base - 1] == '/')
        base--;
    snprintf(url, ul, "%.*s%s?%s", (int)base, p->cfg.url, path, params);
    body_t b = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    char *auth = NULL;
    if (p->token) {
        size_t al = strlen(p->token) + 32;
        auth = cn_xmalloc(al);
        snprintf(auth, al, "Authorization: Bearer %s", p->token);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)p->cfg.timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    free(auth);
    int rc = 0;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "prometheus %s: %s", path,
                 b.over    ? "the answer is over 64 MiB"
                 : cerr[0] ? cerr
                           : curl_easy_strerror(cc));
        rc = CN_EIO;
    } else {
        char perr[256];
        rc = cn_prometheus_parse(b.data ? b.data : "", b.len, p->cfg.segment_label, res,
                                 perr, sizeof perr);
        if (rc && status != 200)
            snprintf(err, errlen, "prometheus %s: HTTP %ld%s%s", path, status,
                     rc == CN_EINVAL ? ": " : "", rc == CN_EINVAL ? perr : "");
        else if (rc)
            snprintf(err, errlen, "prometheus %s: %s", path, perr);
        else if (status != 200) {
            snprintf(err, errlen, "prometheus %s: HTTP %ld", path, status);
            cn_prometheus_result_dispose(res);
            rc = CN_EIO;
        }
    }
    free(b.data);
    free(url);
    return rc;
}

/* The cells being built: one per (role, segment). */
typedef struct build_s {
    cn_router_cell_t *cells;
    size_t n, cap;
    /* latency buckets per cell: le -> increase */
    struct le_s {
        size_t cell;
        double le, inc;
    } * les;
    size_t n_les, cap_les;
} build_t;

static size_t cell_of(build_t *b, cn_role_t role, const char *version,
                      const char *segment)
{
    const char *seg = segment ? segment : "";
    for (size_t i = 0; i < b->n; i++)
        if (b->cells[i].role == role && strcmp(b->cells[i].segment, seg) == 0)
            return i;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->cells = cn_xrealloc(b->cells, b->cap * sizeof *b->cells);
    }
    cn_router_cell_t *c = &b->cells[b->n];
    memset(c, 0, sizeof *c);
    c->role = role;
    c->segment = cn_xstrdup(seg);
    c->version = cn_xstrdup(version);
    return b->n++;
}

static uint64_t whole(double x)
{
    return x > 0 && isfinite(x) ? (uint64_t)llround(x) : 0;
}

/* Which counter a range query fills. */
enum { FILL_REQUESTS, FILL_ERRORS, FILL_LATENCY, FILL_CUMULATIVE };

/* One query of a read: a series (with the suffix for its name) and what
 * its answer fills. */
typedef struct spec_s {
    const char *series, *suffix;
    int what;
} spec_t;

static void fill(build_t *b, cn_role_t role, const char *version, int what,
                 const cn_prometheus_result_t *r, double born_after, double unit_us)
{
    for (size_t i = 0; i < r->n; i++) {
        const cn_prometheus_series_t *s = &r->series[i];
        size_t c = cell_of(b, role, version, s->segment);
        double inc = what == FILL_CUMULATIVE
                         ? (s->n ? s->v[s->n - 1] : 0)
                         : cn_prometheus_increase(s->t, s->v, s->n, born_after);
        if (what == FILL_REQUESTS)
            b->cells[c].step_requests += whole(inc);
        else if (what == FILL_ERRORS)
            b->cells[c].step_errors += whole(inc);
        else if (what == FILL_CUMULATIVE)
            b->cells[c].requests += whole(inc);
        else if (s->le) {
            char *end;
            double le = strtod(s->le, &end);
            if (end == s->le || *end || isnan(le))
                continue; /* not a bucket */
            le = isinf(le) ? INFINITY : le * unit_us;
            size_t k = 0;
            while (k < b->n_les && !(b->les[k].cell == c && b->les[k].le == le))
                k++;
            if (k == b->n_les) {
                if (b->n_les == b->cap_les) {
                    b->cap_les = b->cap_les ? 2 * b->cap_les : 32;
                    b->les = cn_xrealloc(b->les, b->cap_les * sizeof *b->les);
                }
                b->les[b->n_les++] = (struct le_s){c, le, 0};
            }
            b->les[k].inc += inc;
        }
    }
}

static int le_cmp(const void *a, const void *b)
{
    const struct le_s *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return (x->le > y->le) - (x->le < y->le);
}

/* Each cell's cumulative `le` increases as bins (router.h's layout). */
static void make_bins(build_t *b)
{
    if (b->n_les)
        qsort(b->les, b->n_les, sizeof *b->les, le_cmp);
    for (size_t i = 0; i < b->n_les;) {
        size_t j = i;
        while (j < b->n_les && b->les[j].cell == b->les[i].cell)
            j++;
        cn_router_cell_t *c = &b->cells[b->les[i].cell];
        size_t finite = 0;
        for (size_t k = i; k < j; k++)
            finite += isfinite(b->les[k].le);
        size_t nb = finite + 1;
        c->step_latency_bounds = cn_xmallocarray(finite ? finite : 1, sizeof(double));
        c->step_latency_bins = cn_xcalloc(nb, sizeof(uint64_t));
        c->n_step_latency_bins = nb;
        uint64_t below = 0;
        for (size_t k = i; k < i + finite; k++) {
            uint64_t cum = whole(b->les[k].inc);
            c->step_latency_bounds[k - i] = b->les[k].le;
            c->step_latency_bins[k - i] = cum > below ? cum - below : 0;
            below = cum > below ? cum : below;
        }
        /* +Inf: the total (a histogram without it keeps an empty top bin) */
        if (j - i > finite) {
            uint64_t all = whole(b->les[j - 1].inc);
            c->step_latency_bins[finite] = all > below ? all - below : 0;
        }
        for (size_t k = 0; k < nb; k++)
            c->step_latency_seen += c->step_latency_bins[k];
        i = j;
    }
}

static int cell_cmp(const void *a, const void *b)
{
    const cn_router_cell_t *x = a, *y = b;
    if (x->role != y->role)
        return x->role < y->role ? -1 : 1;
    int v = strcmp(x->version, y->version);
    return v ? v : strcmp(x->segment, y->segment);
}

/* The window's [start, end] in Unix ms and its versions. */
static int window_of(cn_prometheus_t *p, const cn_metrics_window_t *w, opened_t *out,
                     int64_t *start_ms, int64_t *end_ms, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->mu);
    const opened_t *found = NULL, *latest = NULL;
    for (size_t i = 0; i < GENERATIONS; i++) {
        const opened_t *o = &p->opened[i];
        if (!o->generation)
            continue;
        if (!latest || o->generation > latest->generation)
            latest = o;
        if (w->kind == CN_WINDOW_GENERATION && o->generation == w->generation)
            found = o;
    }
    if (w->kind == CN_WINDOW_TIME)
        found = latest;
    if (found) {
        *out = *found;
        out->version[0] = cn_xstrdup(found->version[0]);
        out->version[1] = cn_xstrdup(found->version[1]);
    }
    pthread_mutex_unlock(&p->mu);
    if (!found) {
        if (w->kind == CN_WINDOW_GENERATION)
            snprintf(err, errlen,
                     "prometheus: generation %llu was not opened by this controller",
                     (unsigned long long)w->generation);
        else
            snprintf(err, errlen, "prometheus: no generation opened yet (no versions)");
        return CN_ENOTFOUND;
    }
    if (w->kind == CN_WINDOW_TIME) {
        *start_ms = w->from_unix_ms;
        *end_ms = w->to_unix_ms;
    } else {
        *start_ms = found->unix_ms;
        *end_ms = cn_clock_unix_ms();
    }
    if (*end_ms < *start_ms)
        *end_ms = *start_ms;
    return 0;
}

static int prom_read(cn_metrics_source_t *self, const cn_metrics_window_t *window,
                     unsigned mask, cn_router_snapshot_t **out, char *err,
                     size_t errlen)
{
    cn_prometheus_t *p = (cn_prometheus_t *)self;
    *out = NULL;
    opened_t g;
    int64_t start_ms, end_ms;
    int rc = window_of(p, window, &g, &start_ms, &end_ms, err, errlen);
    if (rc)
        return rc;
    CURL *h = curl_easy_init();
    if (!h)
        abort();
    build_t b = {0};
    char sel[2048], range[128], instant[64];
    /* query_range's points are start + i step up to end: the last point
     * must be the window's end, or the newest counts are lost. A
     * generation's window ends now, so its range is carried to the next
     * whole step (a point after now sees what there is now); an explicit
     * time window keeps its end and starts its points a part of a step
     * late instead (no data from after `to`). */
    int64_t st = (int64_t)p->cfg.step_ms, span = end_ms - start_ms;
    int64_t q_start = start_ms, q_end = end_ms;
    if (window->kind == CN_WINDOW_GENERATION)
        q_end = start_ms + (span + st - 1) / st * st;
    else
        q_start = end_ms - span / st * st;
    snprintf(range, sizeof range, "&start=%.3f&end=%.3f&step=%.3f",
             (double)q_start / 1000.0, (double)q_end / 1000.0, (double)st / 1000.0);
    /* a series whose first point is after the range's first was born in
     * the window */
    double born_after = (double)q_start / 1000.0 + (double)st / 2000.0;
    snprintf(instant, sizeof instant, "&time=%.3f", (double)end_ms / 1000.0);

    /* per version: requests and each errors series over the window; the
     * buckets when the judge's samples are asked for; the cumulative
     * requests counter at the window's end when counters are */
    spec_t q[2 + 8 + 2];
    size_t nq = 0;
    q[nq++] = (spec_t){p->cfg.requests, "", FILL_REQUESTS};
    for (size_t i = 0; i < p->cfg.errors.count && i < 8; i++)
        q[nq++] = (spec_t){p->cfg.errors.items[i], "", FILL_ERRORS};
    if (mask & CN_ROUTER_SNAP_SAMPLES)
        q[nq++] = (spec_t){p->cfg.latency, "_bucket", FILL_LATENCY};
    if (mask & CN_ROUTER_SNAP_COUNTERS)
        q[nq++] = (spec_t){p->cfg.requests, "", FILL_CUMULATIVE};
    bool seen[2] = {false, false};
    for (int role = 0; role < 2 && !rc; role++) {
        const char *version = g.version[role];
        for (size_t k = 0; k < nq && !rc; k++) {
            int cumulative = q[k].what == FILL_CUMULATIVE;
            rc =
                cn_prometheus_series_selector(q[k].series, q[k].suffix, p->cfg.selector,
                                              version, sel, sizeof sel, err, errlen);
            if (rc)
                break;
            char *enc = curl_easy_escape(h, sel, 0);
            size_t pl = strlen(enc) + sizeof range + 16;
            char *params = cn_xmalloc(pl);
            snprintf(params, pl, "query=%s%s", enc, cumulative ? instant : range);
            curl_free(enc);
            cn_prometheus_result_t res;
            rc = query(p, h, cumulative ? "/api/v1/query" : "/api/v1/query_range",
                       params, &res, err, errlen);
            free(params);
            if (rc)
                break;
            fill(&b, (cn_role_t)role, version, q[k].what, &res, born_after,
                 p->cfg.latency_unit_s * 1e6);
            if (cumulative && res.n)
                seen[role] = true;
            cn_prometheus_result_dispose(&res);
        }
    }
    curl_easy_cleanup(h);
    if (!rc) {
        make_bins(&b);
        if (b.n)
            qsort(b.cells, b.n, sizeof *b.cells, cell_cmp);
        cn_router_snapshot_t *s = cn_xcalloc(1, sizeof *s);
        s->what = mask;
        s->generation = g.generation;
        s->traffic = g.traffic;
        s->step = g.generation;
        s->step_started_unix_s = (double)start_ms / 1000.0;
        s->now_unix_s = (double)end_ms / 1000.0;
        s->version_name[0] = g.version[0];
        s->version_name[1] = g.version[1];
        g.version[0] = g.version[1] = NULL;
        s->cells = b.cells;
        s->ncells = b.n;
        /* Health, as far as Prometheus can tell: a version is up while its
         * requests counter has fresh series (a failed scrape marks them
         * stale at once), one entry per version named by its label. */
        if (mask & CN_ROUTER_SNAP_COUNTERS) {
            s->upstreams = cn_xcalloc(2, sizeof *s->upstreams);
            for (int role = 0; role < 2; role++)
                s->upstreams[s->nupstreams++] = (cn_router_upstream_state_t){
                    .address = cn_xstrdup(s->version_name[role]),
                    .role = (cn_role_t)role,
                    .up = seen[role],
                    .checked = seen[role]};
        }
        b.cells = NULL;
        b.n = 0;
        *out = s;
    }
    if (b.cells) {
        /* a failed read: its cells go the way a snapshot's do */
        cn_router_snapshot_t *tmp = cn_xcalloc(1, sizeof *tmp);
        tmp->cells = b.cells;
        tmp->ncells = b.n;
        cn_router_snapshot_free(tmp);
    }
    free(b.les);
    free(g.version[0]);
    free(g.version[1]);
    return rc;
}

static void prom_release(cn_metrics_source_t *self, cn_router_snapshot_t *s)
{
    (void)self;
    cn_router_snapshot_free(s);
}

static void prom_opened(cn_metrics_source_t *self, const cn_generation_t *g,
                        int64_t unix_ms)
{
    cn_prometheus_t *p = (cn_prometheus_t *)self;
    pthread_mutex_lock(&p->mu);
    opened_t *o = NULL;
    for (size_t i = 0; i < GENERATIONS && !o; i++)
        if (p->opened[i].generation == g->number)
            o = &p->opened[i]; /* told again: the later opening counts */
    if (!o) {
        o = &p->opened[p->next];
        p->next = (p->next + 1) % GENERATIONS;
    }
    free(o->version[0]);
    free(o->version[1]);
    o->generation = g->number;
    o->unix_ms = unix_ms;
    o->traffic = g->traffic;
    o->version[0] = cn_xstrdup(g->sets[CN_ROLE_STABLE].version);
    o->version[1] = cn_xstrdup(g->sets[CN_ROLE_CANARY].version);
    pthread_mutex_unlock(&p->mu);
}

int cn_prometheus_new(const cn_prometheus_config_t *cfg, cn_prometheus_t **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    cn_config_problem_t prob;
    if (cn_config_check(&cn_prometheus_config_table, cfg, &prob)) {
        snprintf(err, errlen, "prometheus: %s: %s", prob.path, prob.what);
        return CN_EINVAL;
    }
    char *token = NULL;
    if (cfg->bearer_token_file) {
        size_t len;
        int rc =
            cn_file_read(cfg->bearer_token_file, 64 * 1024, &token, &len, err, errlen);
        if (rc)
            return rc;
        while (len && (token[len - 1] == '\n' || token[len - 1] == '\r'))
            token[--len] = 0;
        if (!len || strpbrk(token, "\r\n")) {
            snprintf(err, errlen, "prometheus: bearer_token_file %s: %s",
                     cfg->bearer_token_file,
                     len ? "the token must be one line" : "the file is empty");
            free(token);
            return CN_EINVAL;
        }
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cn_prometheus_t *p = cn_xcalloc(1, sizeof *p);
    p->metrics =
        (cn_metrics_source_t){"prometheus", prom_read, prom_release, prom_opened};
    /* the fields the source reads, copied (the caller keeps its cfg) */
    p->cfg.url = cn_xstrdup(cfg->url);
    p->cfg.selector = cn_xstrdup(cfg->selector);
    p->cfg.requests = cn_xstrdup(cfg->requests);
    p->cfg.latency = cn_xstrdup(cfg->latency);
    p->cfg.segment_label = cfg->segment_label ? cn_xstrdup(cfg->segment_label) : NULL;
    p->cfg.errors.count = cfg->errors.count;
    p->cfg.errors.items =
        cn_xcalloc(cfg->errors.count ? cfg->errors.count : 1, sizeof(char *));
    for (size_t i = 0; i < cfg->errors.count; i++)
        p->cfg.errors.items[i] = cn_xstrdup(cfg->errors.items[i]);
    p->cfg.latency_unit_s = cfg->latency_unit_s;
    p->cfg.step_ms = cfg->step_ms;
    p->cfg.timeout_ms = cfg->timeout_ms;
    p->token = token;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

void cn_prometheus_free(cn_prometheus_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < GENERATIONS; i++) {
        free(p->opened[i].version[0]);
        free(p->opened[i].version[1]);
    }
    pthread_mutex_destroy(&p->mu);
    cn_prometheus_config_dispose(&p->cfg);
    free(p->token);
    free(p);
    curl_global_cleanup();
}
