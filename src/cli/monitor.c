/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary monitor --config FILE --data stream.csv [--every 1s] [--json]`:
 * replay a stream of observations through the anytime-valid sequential
 * triggers (controller/sequential.h), as the controller evaluates them
 * during a rollout, and say whether and when one would have fired.
 *
 * The config is the file `canary serve` reads: the strategy's
 * `triggers.sequential` and the analysis section's margins give the
 * triggers (cn_strategy_sequential_config), the serve section's
 * `measure.prediction_buckets` the prediction bins. The stream (stream.h)
 * is read in time order and cut into intervals of --every of data time,
 * aligned on multiples of --every from t = 0; each interval becomes one
 * cn_seq_second_t built as the router's counts give it to the controller:
 * requests and errors per arm from the `error` rows, latencies recorded
 * into a histogram per arm (milliseconds to the router's microseconds),
 * predictions counted in the buckets of the configured bounds (Prometheus
 * `le`: the first bound >= the value, as router/shard.c does), and
 * stable's cumulative latency histogram and prediction counts, which fix
 * the thresholds when monitoring of a metric starts. Intervals without
 * rows between the first and the last row are evaluated too (empty), as
 * the controller's clock keeps ticking. The canary's warmup is replayed as
 * the rollout's state machine has it: from the start until `warmup` (the
 * strategy's, or --warmup) after the canary's first row, an interval that
 * ends before then is a warmup second (cn_seq_second_t.warmup: only the
 * error rate is checked, and latency and predictions do not start).
 *
 * The exit code is the answer: 1 when a trigger fired, 0 when none did;
 * every error is 64 or above (cli.h) and, as in `canary analyze`, is one
 * line on stderr with nothing on stdout: the whole stream is read and
 * checked before anything is printed, also after a firing.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/input.h"
#include "cli/json_out.h"
#include "cli/stream.h"
#include "controller/sequential.h"
#include "controller/strategy.h"
#include "metrics/metrics.h"
#include "server/config.h"
#include "util/error.h"
#include "util/fmt.h"
#include "util/units.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* As in analyze.c: a config is small; a stream is held in memory once. */
#define CONFIG_MAX_BYTES ((size_t)1 << 20)
#define DATA_MAX_BYTES ((size_t)1 << 30)
/* --every: from 1 ms to an hour */
#define EVERY_MAX_MS CN_UNITS_HOUR_MS

static const char USAGE[] =
    "usage: canary monitor --config FILE.yaml --data STREAM.csv [--every 1s]\n"
    "                      [--warmup D] [--json]\n"
    "Replay a stream through the sequential triggers (strategy\n"
    "triggers.sequential of a canary serve config) every --every of data\n"
    "time, and print the first firing or \"no trigger fired\". The stream is\n"
    "CSV with the header t,version,metric,value[,segment]: t in seconds, in\n"
    "time order; version stable or canary; metric error (0/1), latency_ms or\n"
    "prediction. '-' reads stdin (for one of the two files).\n"
    "--warmup D (default: the strategy's warmup) replays the canary's warmup:\n"
    "until D after its first row only the error rate is checked.\n"
    "Exit code: 1 a trigger fired, 0 none fired; 64 usage, 65 bad config or\n"
    "data, 66 unreadable file.\n";

/* One arm's counts over the current interval. */
typedef struct {
    uint64_t requests, errors;
    cn_metrics_hist_t latency;
    uint64_t *pred; /* n_bounds + 1 */
} arm_acc_t;

typedef struct {
    cn_seq_t q;
    const double *bounds;
    size_t nb;
    uint64_t every_ms;
    bool started;     /* a row was seen: cur is meaningful */
    uint64_t cur;     /* the current interval: [cur, cur + 1) * every */
    arm_acc_t arm[2]; /* by cn_role_t */
    cn_metrics_hist_t stable_latency_total;
    uint64_t *stable_pred_total;
    uint64_t first;       /* the first row's interval */
    uint64_t warmup_ms;   /* 0: none */
    bool canary_seen;     /* the canary's first row was read: warmup ends */
    double warmup_end_ms; /* warmup_ms after the canary's first row */
    uint64_t evaluated;   /* intervals fed to the triggers */
    size_t rows, last_line;
    double last_t;
    /* the first firing */
    bool fired;
    uint64_t fired_interval;
    size_t fired_line;
    double fired_last_t;
} mon_t;

static void mon_init(mon_t *m, const cn_seq_config_t *cfg, const double *bounds,
                     size_t nb, uint64_t every_ms, uint64_t warmup_ms)
{
    memset(m, 0, sizeof *m);
    m->warmup_ms = warmup_ms;
    cn_seq_init(&m->q, cfg); /* cfg came from cn_strategy_sequential_config */
    m->bounds = bounds;
    m->nb = nb;
    m->every_ms = every_ms;
    for (int a = 0; a < 2; a++) {
        cn_metrics_hist_init(&m->arm[a].latency);
        m->arm[a].pred = cn_xcalloc(nb + 1, sizeof(uint64_t));
    }
    cn_metrics_hist_init(&m->stable_latency_total);
    m->stable_pred_total = cn_xcalloc(nb + 1, sizeof(uint64_t));
}

static void mon_dispose(mon_t *m)
{
    for (int a = 0; a < 2; a++)
        free(m->arm[a].pred);
    free(m->stable_pred_total);
}

/*
 * Whether interval k is a warmup second: the rollout waits for the
 * canary's first request, then warms up for warmup_ms; the controller's
 * look at the end of an interval sees the warmup while that end is
 * before the warmup's.
 */
static bool in_warmup(const mon_t *m, uint64_t k)
{
    if (m->warmup_ms == 0)
        return false;
    if (!m->canary_seen)
        return true;
    return (double)(k + 1) * (double)m->every_ms < m->warmup_end_ms;
}

/* The first interval after cur that is not a warmup second, or
 * UINT64_MAX while the canary has not been seen (warmup goes on). */
static uint64_t first_after_warmup(const mon_t *m)
{
    if (!m->warmup_ms)
        return m->cur + 1;
    if (!m->canary_seen)
        return UINT64_MAX;
    /* the smallest k with (k + 1) * every >= warmup_end_ms; the double
     * estimate is corrected by the exact test */
    double est = ceil(m->warmup_end_ms / (double)m->every_ms) - 1;
    uint64_t k = est > 0 ? (uint64_t)est : 0;
    while (k > 0 && !in_warmup(m, k - 1))
        k--;
    while (in_warmup(m, k))
        k++;
    return k > m->cur ? k : m->cur + 1;
}

/* Feed the current interval's counts to the triggers, then empty them. */
static void flush(mon_t *m)
{
    if (!m->fired) {
        const arm_acc_t *s = &m->arm[CN_ROLE_STABLE], *c = &m->arm[CN_ROLE_CANARY];
        cn_seq_second_t in = {
            .stable = {s->requests, s->errors, &s->latency, s->pred},
            .canary = {c->requests, c->errors, &c->latency, c->pred},
            .stable_latency_total = &m->stable_latency_total,
            .stable_predictions_total = m->stable_pred_total,
            .prediction_bounds = m->bounds,
            .n_prediction_bounds = m->nb,
            .warmup = in_warmup(m, m->cur),
        };
        m->evaluated++;
        if (cn_seq_update(&m->q, &in)) {
            m->fired = true;
            m->fired_interval = m->cur;
            m->fired_line = m->last_line;
            m->fired_last_t = m->last_t;
        }
    }
    for (int a = 0; a < 2; a++) {
        arm_acc_t *r = &m->arm[a];
        r->requests = r->errors = 0;
        if (cn_metrics_hist_count(&r->latency))
            cn_metrics_hist_reset(&r->latency);
        memset(r->pred, 0, (m->nb + 1) * sizeof(uint64_t));
    }
}

/* Count n empty intervals as evaluated without updating (see advance). */
static void skip(mon_t *m, uint64_t n)
{
    if (!m->fired) {
        m->q.seconds += n;
        m->evaluated += n;
    }
}

/*
 * Move on to interval k > cur, evaluating the empty intervals in between.
 * An update without counts bets nothing (each e-process stays where it
 * is); all it can do is start a metric from stable's reference, which an
 * empty interval does not change: so only the first empty interval and
 * the first one after the warmup can change anything. Those two are fed
 * to cn_seq_update; the others only count a second, as cn_seq_update
 * would. A long pause in the stream then costs no loop of one update per
 * interval (10^11 s at --every 1ms is 10^14 of them).
 */
static void advance(mon_t *m, uint64_t k)
{
    flush(m);
    uint64_t next = m->cur + 1;
    if (next < k && !m->fired) {
        uint64_t w = first_after_warmup(m); /* before this, cur's rows counted */
        m->cur = next;
        flush(m);
        if (w > next && w < k) {
            skip(m, w - next - 1);
            m->cur = w;
            flush(m);
            next = w;
        }
        skip(m, k - next - 1);
    }
    m->cur = k;
}

/* Latency in ms to the router's whole microseconds, saturating. */
static uint64_t ms_to_us(double ms)
{
    double us = nearbyint(ms * 1000.0);
    return us >= 18446744073709549568.0 ? UINT64_MAX : (uint64_t)us;
}

/* The prediction bucket of v: the first bound >= v, else the last. */
static size_t pred_bucket(const mon_t *m, double v)
{
    size_t lo = 0, hi = m->nb;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/*
 * The interval of a time t (seconds): floor(t / every). A t written in
 * decimal is rarely exact in binary (4.35 is 4.3499999...), so t * 1000
 * is snapped to the nearest whole millisecond when it is within a
 * micro-millisecond of it, and whole milliseconds (below 2^47 since t <=
 * CN_STREAM_T_MAX) are divided as integers: a row at exactly 4.35 s falls
 * in [4.35, 4.40) with --every 50ms, as a reader of the file expects.
 */
static uint64_t interval_of(double t, uint64_t every_ms)
{
    double ms = t * 1000.0, whole = nearbyint(ms);
    if (fabs(ms - whole) <= 1e-6)
        return (uint64_t)whole / every_ms;
    return (uint64_t)floor(ms / (double)every_ms);
}

static int on_row(void *ctx, const cn_stream_row_t *row)
{
    mon_t *m = ctx;
    uint64_t k = interval_of(row->t, m->every_ms);
    if (!m->started) {
        m->started = true;
        m->cur = m->first = k;
    } else if (k > m->cur) {
        advance(m, k);
    }
    if (row->version == CN_ROLE_CANARY && !m->canary_seen) {
        m->canary_seen = true;
        m->warmup_end_ms = row->t * 1000.0 + (double)m->warmup_ms;
    }
    arm_acc_t *a = &m->arm[row->version];
    bool stable = row->version == CN_ROLE_STABLE;
    switch (row->metric) {
    case CN_SEQ_ERROR:
        a->requests++;
        a->errors += row->value != 0;
        break;
    case CN_SEQ_LATENCY: {
        uint64_t us = ms_to_us(row->value);
        cn_metrics_hist_record(&a->latency, us);
        if (stable)
            cn_metrics_hist_record(&m->stable_latency_total, us);
        break;
    }
    case CN_SEQ_PREDICTION: {
        size_t b = pred_bucket(m, row->value);
        a->pred[b]++;
        if (stable)
            m->stable_pred_total[b]++;
        break;
    }
    }
    m->rows++;
    m->last_line = row->line;
    m->last_t = row->t;
    return 0;
}

/* ------------------------------------------------------------- output */

/* The end of interval k in data seconds: when the controller would look. */
static double interval_end(const mon_t *m, uint64_t k)
{
    return (double)(k + 1) * (double)m->every_ms / 1000.0;
}

static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static int print_json(const mon_t *m)
{
    const cn_seq_t *q = &m->q;
    char every[CN_UNITS_TEXT_BUF];
    cn_units_duration_text(m->every_ms, every, sizeof every);
    json_t *o = json_object();
    json_object_set_new(o, "fired", json_boolean(m->fired));
    json_object_set_new(o, "every", json_string(every));
    json_object_set_new(o, "every_ms", json_integer((json_int_t)m->every_ms));
    json_object_set_new(o, "warmup_ms", json_integer((json_int_t)m->warmup_ms));
    json_object_set_new(o, "rows", json_integer((json_int_t)m->rows));
    json_object_set_new(o, "intervals", json_integer((json_int_t)m->evaluated));
    json_object_set_new(o, "alpha", json_real(q->cfg.alpha));
    json_object_set_new(o, "threshold", json_real(cn_seq_threshold(q)));
    if (m->fired) {
        const cn_seq_metric_t *f = &q->m[q->fired_metric];
        char why[512];
        cn_seq_reason(q, q->fired_metric, why, sizeof why);
        json_object_set_new(o, "t", json_real(interval_end(m, m->fired_interval)));
        json_object_set_new(o, "last_row_t", json_real(m->fired_last_t));
        json_object_set_new(o, "line", json_integer((json_int_t)m->fired_line));
        json_object_set_new(o, "metric", json_string(cn_seq_kind_name(f->cfg.kind)));
        json_object_set_new(o, "e_value", real_or_null(exp(f->log_e)));
        json_object_set_new(o, "log_e_value", json_real(f->log_e));
        json_object_set_new(o, "pvalue", json_real(cn_seq_pvalue(f)));
        json_object_set_new(o, "reason", json_string(why));
    } else {
        const char *keys[] = {"t",       "last_row_t",  "line",   "metric",
                              "e_value", "log_e_value", "pvalue", "reason"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            json_object_set_new(o, keys[i], json_null());
    }
    json_t *ev = cn_seq_evidence_json(q);
    json_object_set_new(o, "evidence", ev ? ev : json_null());
    int rc = cn_json_print(stdout, o);
    json_decref(o);
    return rc;
}

/* An e-value as text: "%.4g", or "exp(6755)" beyond a double's range (a
 * gross failure in a long interval). */
static const char *e_text(double log_e, char *buf, size_t len)
{
    if (isfinite(exp(log_e)))
        snprintf(buf, len, "%.4g", exp(log_e));
    else
        snprintf(buf, len, "exp(%.0f)", log_e);
    return buf;
}

/* An anytime-valid p-value (1 / the largest e-value) as text: "%.2g", or
 * "exp(-6755)" where it underflows. */
static const char *p_text(const cn_seq_metric_t *f, char *buf, size_t len)
{
    double p = cn_seq_pvalue(f);
    if (p >= 1e-300)
        snprintf(buf, len, "%.2g", p);
    else
        snprintf(buf, len, "exp(-%.0f)", f->log_e_max);
    return buf;
}

/* The stable observations a metric has as its reference so far. */
static uint64_t reference_count(const mon_t *m, cn_seq_kind_t kind)
{
    if (kind == CN_SEQ_LATENCY)
        return cn_metrics_hist_count(&m->stable_latency_total);
    uint64_t n = 0;
    for (size_t b = 0; b <= m->nb; b++)
        n += m->stable_pred_total[b];
    return n;
}

static void print_text(const mon_t *m)
{
    char e[48], p[48];
    const cn_seq_t *q = &m->q;
    char every[CN_UNITS_TEXT_BUF];
    cn_units_duration_text(m->every_ms, every, sizeof every);
    if (m->fired) {
        const cn_seq_metric_t *f = &q->m[q->fired_metric];
        char why[512];
        cn_seq_reason(q, q->fired_metric, why, sizeof why);
        char at[CN_FMT_DOUBLE_BUF], last[CN_FMT_DOUBLE_BUF];
        cn_fmt_double(interval_end(m, m->fired_interval), at, sizeof at);
        cn_fmt_double(m->fired_last_t, last, sizeof last);
        printf("trigger fired: %s at t = %s s (the end of its %s interval; its last "
               "row: line %zu, t = %s)\n",
               cn_seq_kind_name(f->cfg.kind), at, every, m->fired_line, last);
        printf("  e-value %s >= %.4g (%zu metric%s / alpha %g), anytime-valid p = "
               "%s\n",
               e_text(f->log_e, e, sizeof e), cn_seq_threshold(q), q->cfg.n_metrics,
               q->cfg.n_metrics == 1 ? "" : "s", q->cfg.alpha, p_text(f, p, sizeof p));
        printf("  %s\n", why);
        return;
    }
    char warmup[CN_UNITS_TEXT_BUF];
    cn_units_duration_text(m->warmup_ms, warmup, sizeof warmup);
    printf("no trigger fired (%zu rows, %llu intervals of %s, warmup %s; threshold "
           "%.4g = %zu metric%s / alpha %g)\n",
           m->rows, (unsigned long long)m->evaluated, every, warmup,
           cn_seq_threshold(q), q->cfg.n_metrics, q->cfg.n_metrics == 1 ? "" : "s",
           q->cfg.alpha);
    for (size_t i = 0; i < q->cfg.n_metrics; i++) {
        const cn_seq_metric_t *mm = &q->m[i];
        if (!mm->started) {
            /* the error rate starts at once; the others on stable's reference */
            printf("  %-10s  not started (stable's reference: %llu %s; it needs %d)\n",
                   cn_seq_kind_name(mm->cfg.kind),
                   (unsigned long long)reference_count(m, mm->cfg.kind),
                   mm->cfg.kind == CN_SEQ_LATENCY ? "latencies" : "predictions",
                   CN_SEQ_MIN_REFERENCE);
            continue;
        }
        printf("  %-10s  e-value %s  anytime-valid p = %s  canary %llu, stable "
               "%llu\n",
               cn_seq_kind_name(mm->cfg.kind), e_text(mm->log_e, e, sizeof e),
               p_text(mm, p, sizeof p), (unsigned long long)mm->canary_n,
               (unsigned long long)mm->stable_n);
    }
}

/* ---------------------------------------------------------- command */

static int input_error(int rc, const char *msg)
{
    fprintf(stderr, "canary monitor: %s\n", msg);
    return rc == CN_EIO ? CN_EXIT_NOINPUT : CN_EXIT_DATAERR;
}

/* The triggers and the prediction bounds from a serve config. */
static int read_config(const char *path, cn_server_config_t *sc, cn_seq_config_t *seq)
{
    char err[512];
    char *text = NULL;
    size_t len = 0;
    int rc = cn_cli_read_input(path, CONFIG_MAX_BYTES, &text, &len, err, sizeof err);
    if (rc)
        return input_error(rc, err);
    const char *name = cn_cli_input_name(path);
    rc = cn_server_config_parse_yaml(sc, text, len, name, err, sizeof err);
    free(text);
    if (rc)
        return input_error(rc, err);
    if (!sc->has_strategy || !sc->strategy.triggers.has_sequential) {
        fprintf(stderr,
                "canary monitor: %s: no strategy.triggers.sequential: nothing to "
                "monitor (docs/STRATEGY.md)\n",
                name);
        return CN_EXIT_DATAERR;
    }
    size_t bad = 0;
    char what[384];
    if (cn_strategy_sequential_config(&sc->strategy,
                                      sc->has_analysis ? &sc->analysis : NULL, seq,
                                      &bad, what, sizeof what)) {
        fprintf(stderr,
                "canary monitor: %s: key 'strategy.triggers.sequential.metrics[%zu]': "
                "%s\n",
                name, bad, what);
        return CN_EXIT_DATAERR;
    }
    if (cn_seq_config_check(seq, what, sizeof what)) {
        fprintf(stderr, "canary monitor: %s: key 'strategy.triggers.sequential': %s\n",
                name, what);
        return CN_EXIT_DATAERR;
    }
    return 0;
}

int cn_cli_monitor(int argc, char **argv)
{
    cn_args_t a;
    static const char *const flags[] = {"json", "help", NULL};
    if (cn_args_parse(&a, "monitor", argc - 1, argv + 1, flags))
        return CN_EXIT_USAGE;
    if (cn_args_flag(&a, "help")) {
        fputs(USAGE, stdout);
        return CN_EXIT_OK;
    }
    int json = cn_args_flag(&a, "json");
    const char *config_path = cn_args_str(&a, "config", NULL);
    const char *data_path = cn_args_str(&a, "data", NULL);
    const char *every_text = cn_args_str(&a, "every", "1s");
    const char *warmup_text = cn_args_str(&a, "warmup", NULL);
    if (cn_args_finish(&a))
        return CN_EXIT_USAGE;
    if (a.npos) {
        fprintf(stderr,
                "canary monitor: unexpected argument '%s' (try: canary monitor "
                "--help)\n",
                a.pos[0]);
        return CN_EXIT_USAGE;
    }
    if (!config_path || !data_path) {
        fprintf(stderr,
                "canary monitor: --%s FILE is required (try: canary monitor "
                "--help)\n",
                config_path ? "data" : "config");
        return CN_EXIT_USAGE;
    }
    if (strcmp(config_path, "-") == 0 && strcmp(data_path, "-") == 0) {
        fprintf(stderr, "canary monitor: only one of --config and --data can be "
                        "'-' (stdin)\n");
        return CN_EXIT_USAGE;
    }
    uint64_t every_ms = 0;
    if (cn_units_parse_duration_ms(every_text, &every_ms) || every_ms < 1 ||
        every_ms > EVERY_MAX_MS) {
        fprintf(stderr,
                "canary monitor: --every must be a duration from 1ms to 1h (500ms, "
                "1s, 2s), got '%s'\n",
                every_text);
        return CN_EXIT_USAGE;
    }
    uint64_t warmup_ms = 0;
    if (warmup_text && (cn_units_parse_duration_ms(warmup_text, &warmup_ms) ||
                        warmup_ms > CN_UNITS_HOUR_MS)) {
        fprintf(stderr,
                "canary monitor: --warmup must be a duration from 0 to 1h (0, 30s, "
                "2m), got '%s'\n",
                warmup_text);
        return CN_EXIT_USAGE;
    }

    cn_server_config_t sc;
    cn_server_config_init(&sc);
    cn_seq_config_t seq;
    mon_t *m = NULL;
    char *text = NULL, err[512];
    size_t len = 0;
    int exit_code = read_config(config_path, &sc, &seq), rc;
    if (exit_code)
        goto out;
    if ((rc = cn_cli_read_input(data_path, DATA_MAX_BYTES, &text, &len, err,
                                sizeof err))) {
        exit_code = input_error(rc, err);
        goto out;
    }
    m = cn_xmalloc(sizeof *m); /* three latency histograms: about 100 KiB */
    mon_init(m, &seq, sc.router.prediction_buckets, sc.router.n_prediction_buckets,
             every_ms, warmup_text ? warmup_ms : sc.strategy.warmup_ms);
    rc = cn_stream_parse(text, len, cn_cli_input_name(data_path), on_row, m, err,
                         sizeof err);
    free(text);
    text = NULL;
    if (rc) {
        exit_code = input_error(rc, err);
        goto out;
    }
    flush(m); /* the last interval */
    if (json) {
        if (print_json(m)) {
            fprintf(stderr, "canary monitor: cannot write JSON output\n");
            exit_code = CN_EXIT_SOFTWARE;
            goto out;
        }
    } else {
        print_text(m);
        if (fflush(stdout)) {
            fprintf(stderr, "canary monitor: cannot write output\n");
            exit_code = CN_EXIT_SOFTWARE;
            goto out;
        }
    }
    exit_code = m->fired ? 1 : 0;
out:
    free(text);
    if (m) {
        mon_dispose(m);
        free(m);
    }
    cn_server_config_dispose(&sc);
    return exit_code;
}
