/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The configuration of `canary serve` (see config.h): one table of keys,
 * serve_keys[], read by the config engine (util/config.h), which drives
 * the YAML file, the command-line flags, the defaults, the range checks of
 * validate() and the effective configuration that `canary config check`
 * prints.
 *
 * Each entry names the YAML dotted key, the flag, the type, the bounds, the
 * default and the field it writes, in the manner of Redis's
 * static_configs[]. This file adds only what is the router's own: the
 * names of the split modes, the prediction pointer check, the cross-field
 * checks and the memory budget.
 */
#include "router/config.h"
#include "router/extract.h"
#include "router/router.h"
#include "router/shard.h"
#include "util/config.h"
#include "util/error.h"
#include "util/text.h"
#include "util/units.h"
#include "util/yaml.h"

#include <libfyaml.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Most addresses per version. */
#define ADDRESSES_MAX 64
/* Most prediction bucket bounds: enough for bins of 0.1% of the mass (the
 * anytime-valid prediction trigger compares the arms' CDFs at bounds near
 * stable's quantiles, so its resolution is the largest bin's mass). A
 * prediction costs a binary search over them; a cell 8 bytes a bound. */
#define BUCKETS_MAX 1024
/* The default bounds: 0 to 1 by 0.02, bins of at most a few percent of
 * the mass for scores in [0, 1] that are not strongly skewed (0.1 apart
 * was too coarse for a KS distance of 0.05 to 0.1). */
#define DEFAULT_PREDICTION_BUCKETS                                                     \
    "0,0.02,0.04,0.06,0.08,0.1,0.12,0.14,0.16,0.18,0.2,0.22,0.24,0.26,0.28,0.3,0.32,"  \
    "0.34,0.36,0.38,0.4,0.42,0.44,0.46,0.48,0.5,0.52,0.54,0.56,0.58,0.6,0.62,0.64,"    \
    "0.66,0.68,0.7,0.72,0.74,0.76,0.78,0.8,0.82,0.84,0.86,0.88,0.9,0.92,0.94,0.96,"    \
    "0.98,1"

#define NULLABLE (CN_CONFIG_NULLABLE | CN_CONFIG_EMPTY_UNSETS)

#define PREDICTION_WANT                                                                \
    "a preset (kserve-v2, open-inference, tf-serving) or a JSON pointer starting "     \
    "with '/'"

static const cn_config_name_t mode_names[] = {
    {"random", CN_TRAFFIC_MODE_RANDOM},
    {"sticky", CN_TRAFFIC_MODE_STICKY},
    {"shadow", CN_TRAFFIC_MODE_SHADOW},
    {NULL, 0},
};

/* Compile a prediction spec: a preset name, or a pointer when it starts
 * with '/'. */
static int compile_prediction(const char *text, cn_router_pointer_t *out, char *err,
                              size_t errlen)
{
    if (text && text[0] == '/')
        return cn_router_pointer_compile(text, out, err, errlen);
    return cn_router_pointer_preset(text, out, err, errlen);
}

static int check_prediction(const char *text, char *what, size_t len)
{
    char q[CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)];
    if (text[0] != '/' && !cn_router_pointer_preset_text(text)) {
        snprintf(what, len, "must be %s, got '%s'", PREDICTION_WANT,
                 cn_text_quote(text, strlen(text), CN_YAML_QUOTE_MAX, q));
        return CN_EINVAL;
    }
    cn_router_pointer_t p;
    if (compile_prediction(text, &p, what, len))
        return CN_EINVAL;
    cn_router_pointer_dispose(&p);
    return 0;
}

/* A segment value: a header value and a metric label (so visible ASCII
 * without quotes or backslashes, as a version label), and never the name
 * that stands for every other value. */
#define SEGMENTS_WANT                                                                  \
    "a list of segment values of 1 to 64 visible ASCII characters, no quotes or "      \
    "backslashes, not _other"

static int check_segment(const char *text, char *what, size_t len)
{
    size_t n = strlen(text);
    bool ok = n >= 1 && n <= 64 && strcmp(text, "_other") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = text[i] > 0x20 && text[i] < 0x7f && text[i] != '"' && text[i] != '\\';
    if (ok)
        return 0;
    char q[CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)];
    snprintf(
        what, len,
        "must be a segment value of 1 to 64 visible ASCII characters, no quotes or "
        "backslashes, not _other, got '%s'",
        cn_text_quote(text, n, CN_YAML_QUOTE_MAX, q));
    return CN_EINVAL;
}

#define FIELD(f)                                                                       \
    .offset = offsetof(cn_router_config_t, f),                                         \
    .width = sizeof(((cn_router_config_t *)0)->f)

/*
 * The table. Entries of one section are contiguous, top-level keys first:
 * the unknown-key message lists a section's keys in this order, and so
 * do the help text and the effective configuration.
 */
#define SERVE_KEYS(X)                                                                  \
    X("listen", .flag = "listen", .type = CN_CONFIG_ADDRESS, .opts = CN_CONFIG_LISTEN, \
      FIELD(listen), .default_text = "0.0.0.0:8080",                                   \
      .help = "address the proxy accepts clients on")                                  \
    X("workers", .flag = "workers", .type = CN_CONFIG_UNSIGNED, .lo = 0, .hi = 256,    \
      FIELD(workers), .default_text = "0",                                             \
      .help = "worker threads; 0: one per online CPU")                                 \
    X("stable.addresses", .flag = "stable", .type = CN_CONFIG_ADDRESS_LIST, .lo = 0,   \
      .hi = ADDRESSES_MAX, FIELD(stable),                                              \
      .help = "upstream addresses of the stable version")                              \
    X("stable.version", .flag = "stable-version", .type = CN_CONFIG_STRING,            \
      .kind = CN_CONFIG_LABEL, FIELD(stable_version), .default_text = "stable",        \
      .help = "label of the stable version in metrics and X-Model-Version")            \
    X("canary.addresses", .flag = "canary", .type = CN_CONFIG_ADDRESS_LIST, .lo = 0,   \
      .hi = ADDRESSES_MAX, FIELD(canary),                                              \
      .help = "upstream addresses of the canary version")                              \
    X("canary.version", .flag = "canary-version", .type = CN_CONFIG_STRING,            \
      .kind = CN_CONFIG_LABEL, FIELD(canary_version), .default_text = "canary",        \
      .help = "label of the canary version in metrics and X-Model-Version")            \
    X("traffic.canary_weight", .flag = "canary-weight", .type = CN_CONFIG_PERCENT,     \
      FIELD(traffic.canary_weight_bp), .default_text = "0",                            \
      .help = "percentage of requests the canary answers")                             \
    X("traffic.mode", .flag = "mode", .type = CN_CONFIG_ENUM, .names = mode_names,     \
      FIELD(traffic.mode), .default_text = "random",                                   \
      .help = "how requests are split: random, sticky or shadow")                      \
    X("traffic.shadow_percent", .flag = "shadow-percent", .type = CN_CONFIG_PERCENT,   \
      FIELD(traffic.shadow_bp), .default_text = "100",                                 \
      .help = "shadow mode: percentage of requests copied to the canary")              \
    X("traffic.force_header", .flag = "force-header", .type = CN_CONFIG_STRING,        \
      .kind = CN_CONFIG_HEADER, FIELD(force_header), .default_text = "X-Canary",       \
      .help = "header whose value always|never forces the version")                    \
    X("traffic.force_enabled", .flag = "force", .type = CN_CONFIG_BOOL,                \
      FIELD(traffic.force_enabled), .default_text = "false",                           \
      .help = "honour the force header")                                               \
    X("traffic.sticky_header", .flag = "sticky-header", .type = CN_CONFIG_STRING,      \
      .kind = CN_CONFIG_HEADER, .opts = NULLABLE, FIELD(sticky_header),                \
      .help = "sticky mode: header carrying the user key")                             \
    X("traffic.sticky_cookie", .flag = "sticky-cookie", .type = CN_CONFIG_STRING,      \
      .kind = CN_CONFIG_COOKIE, .opts = NULLABLE, FIELD(sticky_cookie),                \
      .help = "sticky mode: cookie carrying the user key")                             \
    X("traffic.retry_on_stable", .flag = "retry-on-stable",                            \
      .negated_flag = "no-retry", .type = CN_CONFIG_BOOL, FIELD(retry_on_stable),      \
      .default_text = "true", .help = "answer from stable when the canary fails to")   \
    X("measure.segment_header", .flag = "segment-header", .type = CN_CONFIG_STRING,    \
      .kind = CN_CONFIG_HEADER, .opts = NULLABLE, FIELD(segment_header),               \
      .help = "header whose value labels the request's segment")                       \
    X("measure.segments", .flag = "segments", .type = CN_CONFIG_ADDRESS_LIST, .lo = 0, \
      .hi = 1024, .check = check_segment, .want = SEGMENTS_WANT, FIELD(segments),      \
      .help = "the expected segment values; any other is counted under _other")        \
    X("measure.max_segments", .flag = "max-segments", .type = CN_CONFIG_UNSIGNED,      \
      .lo = 1, .hi = 1024, FIELD(max_segments), .default_text = "32",                  \
      .help = "most values measure.segments may list")                                 \
    X("measure.prediction", .flag = "prediction", .type = CN_CONFIG_STRING,            \
      .check = check_prediction, .want = PREDICTION_WANT, FIELD(prediction),           \
      .default_text = "kserve-v2",                                                     \
      .help = "where the prediction is in a response: preset or JSON pointer")         \
    X("measure.prediction_buckets", .flag = "prediction-buckets",                      \
      .type = CN_CONFIG_DOUBLE_LIST, .lo = 1, .hi = BUCKETS_MAX,                       \
      FIELD(prediction_buckets),                                                       \
      .count_offset = offsetof(cn_router_config_t, n_prediction_buckets),              \
      .default_text = DEFAULT_PREDICTION_BUCKETS,                                      \
      .help = "upper bounds of the prediction histogram buckets")                      \
    X("measure.reservoir_size", .flag = "reservoir-size", .type = CN_CONFIG_UNSIGNED,  \
      .lo = 1, .hi = 10000000, FIELD(reservoir_size), .default_text = "10000",         \
      .help = "values sampled per version and segment for the judge")                  \
    X("measure.request_id_map_size", .flag = "request-id-map-size",                    \
      .type = CN_CONFIG_UNSIGNED, .lo = 0, .hi = 100000000,                            \
      FIELD(request_id_map_size), .default_text = "100000",                            \
      .help = "request ids remembered per worker for late labels; 0: none")            \
    X("health.path", .flag = "health-path", .type = CN_CONFIG_STRING,                  \
      .kind = CN_CONFIG_URLPATH, .opts = NULLABLE, FIELD(health_path),                 \
      .default_text = "/healthz",                                                      \
      .help = "path of the active health check; unset: no active checks")              \
    X("health.interval", .flag = "health-interval", .type = CN_CONFIG_DURATION,        \
      .lo = 10, .hi = CN_UNITS_HOUR_MS, FIELD(health_interval_ms),                     \
      .default_text = "2s", .help = "time between active checks of an address")        \
    X("health.timeout", .flag = "health-timeout", .type = CN_CONFIG_DURATION, .lo = 1, \
      .hi = CN_UNITS_HOUR_MS, FIELD(health_timeout_ms), .default_text = "1s",          \
      .help = "an active check slower than this fails")                                \
    X("health.passive_failures", .flag = "passive-failures",                           \
      .type = CN_CONFIG_UNSIGNED, .lo = 0, .hi = 1000, FIELD(passive_failures),        \
      .default_text = "3",                                                             \
      .help = "consecutive failures that mark an address down; 0: never")              \
    X("health.passive_cooldown", .flag = "passive-cooldown",                           \
      .type = CN_CONFIG_DURATION, .lo = 1, .hi = CN_UNITS_HOUR_MS,                     \
      FIELD(passive_cooldown_ms), .default_text = "5s",                                \
      .help = "how long an address marked down stays down")                            \
    X("limits.max_header_bytes", .flag = "max-header-bytes", .type = CN_CONFIG_SIZE,   \
      .lo = CN_UNITS_KIB, .hi = 80 * CN_UNITS_KIB, FIELD(max_header_bytes),            \
      .default_text = "32KiB", .help = "largest request or response header block")     \
    X("limits.max_body_bytes", .flag = "max-body-bytes", .type = CN_CONFIG_SIZE,       \
      .lo = 1, .hi = CN_UNITS_GIB, FIELD(max_body_bytes), .default_text = "16MiB",     \
      .help = "largest request or response body")                                      \
    X("limits.header_timeout", .flag = "header-timeout", .type = CN_CONFIG_DURATION,   \
      .lo = 1, .hi = CN_UNITS_HOUR_MS, FIELD(header_timeout_ms),                       \
      .default_text = "10s",                                                           \
      .help = "a client's whole request must arrive within this")                      \
    X("limits.idle_timeout", .flag = "idle-timeout", .type = CN_CONFIG_DURATION,       \
      .lo = 1, .hi = CN_UNITS_HOUR_MS, FIELD(idle_timeout_ms), .default_text = "60s",  \
      .help = "an idle keep-alive client connection is closed after this")             \
    X("limits.connect_timeout", .flag = "connect-timeout", .type = CN_CONFIG_DURATION, \
      .lo = 1, .hi = CN_UNITS_HOUR_MS, FIELD(connect_timeout_ms),                      \
      .default_text = "2s", .help = "connecting to an upstream address")               \
    X("limits.upstream_timeout", .flag = "upstream-timeout",                           \
      .type = CN_CONFIG_DURATION, .lo = 1, .hi = CN_UNITS_HOUR_MS,                     \
      FIELD(upstream_timeout_ms), .default_text = "30s",                               \
      .help = "an upstream's whole response must arrive within this")                  \
    X("limits.upstream_idle", .flag = "upstream-idle", .type = CN_CONFIG_DURATION,     \
      .lo = 1, .hi = CN_UNITS_HOUR_MS, FIELD(upstream_idle_ms), .default_text = "30s", \
      .help = "a pooled upstream connection idle this long is closed")                 \
    X("limits.max_connections", .flag = "max-connections", .type = CN_CONFIG_UNSIGNED, \
      .lo = 1, .hi = 1000000, FIELD(max_connections), .default_text = "10000",         \
      .help = "client connections open at once, all workers together")                 \
    X("limits.max_idle_upstream", .flag = "max-idle-upstream",                         \
      .type = CN_CONFIG_UNSIGNED, .lo = 0, .hi = 100000, FIELD(max_idle_upstream),     \
      .default_text = "10000",                                                         \
      .help = "idle pooled connections per address per worker; 0: no pool")            \
    X("limits.memory_budget", .flag = "memory-budget", .type = CN_CONFIG_SIZE,         \
      .lo = 16 * CN_UNITS_MIB, .hi = 1024 * CN_UNITS_GIB, FIELD(memory_budget_bytes),  \
      .default_text = "4GiB",                                                          \
      .help = "most memory the measurement state may take, all workers together")

#define AS_ENTRY(name, ...) {.key = name, __VA_ARGS__},
#define AS_NAME(name, ...) name,

static const cn_config_key_t serve_keys[] = {SERVE_KEYS(AS_ENTRY)};
static const char *const serve_key_names[] = {SERVE_KEYS(AS_NAME) NULL};
static const char *const serve_switches[] = {"no-retry", NULL};

_Static_assert(COUNT(serve_keys) <= CN_CONFIG_KEYS_MAX, "too many keys for one table");

static int serve_check(const void *record, char *path, size_t pathlen, int *line,
                       char *what, size_t len);

static const cn_config_table_t serve_table = {
    .keys = serve_keys,
    .n_keys = COUNT(serve_keys),
    .size = sizeof(cn_router_config_t),
};

const cn_config_table_t *cn_router_config_table(void)
{
    return &serve_table;
}

const char *const *cn_router_config_keys(void)
{
    return serve_key_names;
}

const char *const *cn_router_config_switches(void)
{
    return serve_switches;
}

const cn_router_config_key_t *cn_router_config_key(size_t i)
{
    return i < COUNT(serve_keys) ? &serve_keys[i] : NULL;
}

const char *cn_router_config_key_want(const cn_router_config_key_t *k, char *buf,
                                      size_t len)
{
    return cn_config_want(k, buf, len);
}

void cn_router_config_init(cn_router_config_t *c)
{
    cn_config_init(&serve_table, c);
}

void cn_router_config_dispose(cn_router_config_t *c)
{
    if (c)
        cn_config_dispose(&serve_table, c);
}

int cn_router_config_set_flag(cn_router_config_t *c, const char *name,
                              const char *value, char *err, size_t errlen)
{
    cn_config_part_t part = {&serve_table, c};
    return cn_config_set_flag(&part, 1, name, value, err, errlen);
}

/* ----------------------------------------------------------- validate */

/* One line in err; CN_EINVAL. */
#define fail(err, errlen, ...) cn_fail(err, errlen, CN_EINVAL, __VA_ARGS__)

/*
 * Memory the measurement state of one worker may take, at most (see
 * config.h): its request id map (an entry of about 96 bytes and up to 16
 * bytes of hash buckets per remembered id), its reservoir of shadow pairs,
 * the cells of every key slot, the step data of the current step's
 * cells, and the step's per-address data: a slot (a histogram) per role
 * and address index some step counted, as many as the largest sets
 * published, CN_ROUTER_ADDRESS_SLOTS each at most (router/shard.h gives
 * the sizes).
 */
/* A remembered request id: the map's entry and its two bucket slots. */
#define ID_ENTRY_BYTES CN_ROUTER_ID_ENTRY_BYTES

typedef struct budget_s {
    uint64_t ids, pairs, cells, cell_bytes, step_cells, step_bytes, addresses, total;
} budget_t;

static void per_worker(const cn_router_config_t *c, budget_t *b)
{
    uint64_t segs = (uint64_t)c->max_segments + 2;
    b->ids = (uint64_t)c->request_id_map_size * ID_ENTRY_BYTES;
    b->pairs = (uint64_t)c->reservoir_size * sizeof(cn_router_pair_t);
    b->cells = CN_ROUTER_SHARD_KEYS * segs;
    b->cell_bytes = cn_router_shard_cell_bytes(c->n_prediction_buckets);
    b->step_cells = 2 * segs;
    b->step_bytes = cn_router_shard_step_bytes(c->reservoir_size);
    b->addresses = (uint64_t)CN_ROLE_COUNT * CN_ROUTER_ADDRESS_SLOTS *
                   cn_router_shard_address_bytes();
    b->total = b->ids + b->pairs + b->cells * b->cell_bytes +
               b->step_cells * b->step_bytes + b->addresses;
}

unsigned cn_router_config_workers(const cn_router_config_t *c)
{
    if (c->workers)
        return c->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (unsigned)n;
}

uint64_t cn_router_config_memory_bytes(const cn_router_config_t *c)
{
    budget_t b;
    per_worker(c, &b);
    return b.total * cn_router_config_workers(c);
}

/* "5.9 GiB" for a message. */
static const char *bytes_text(uint64_t v, char *buf, size_t len)
{
    if (v >= CN_UNITS_GIB)
        snprintf(buf, len, "%.1f GiB", (double)v / (double)CN_UNITS_GIB);
    else
        snprintf(buf, len, "%.1f MiB", (double)v / (double)CN_UNITS_MIB);
    return buf;
}

static int check_budget(const cn_router_config_t *c, char *err, size_t errlen)
{
    budget_t b;
    per_worker(c, &b);
    unsigned workers = cn_router_config_workers(c);
    uint64_t total = b.total * workers;
    if (total <= c->memory_budget_bytes)
        return 0;
    char t[32], budget[CN_UNITS_TEXT_BUF], ids[32], cells[32], steps[32], addrs[32];
    return fail(err, errlen,
                "key 'limits.memory_budget' (--memory-budget): the measurement state "
                "may take up to %s, more than the budget of %s: %u workers%s x (%s "
                "for measure.request_id_map_size %zu + %s for %llu cells of 16 "
                "version keys x (measure.max_segments %u + 2) + %s for %llu step "
                "cells of 2 reservoirs of measure.reservoir_size %zu + %s for the "
                "step's latency per address, %u per set); lower "
                "workers, measure.request_id_map_size, measure.reservoir_size or "
                "measure.max_segments, or raise limits.memory_budget",
                bytes_text(total, t, sizeof t),
                cn_units_size_text(c->memory_budget_bytes, budget, sizeof budget),
                workers, c->workers ? "" : " (one per online CPU)",
                bytes_text(b.ids, ids, sizeof ids), c->request_id_map_size,
                bytes_text(b.cells * b.cell_bytes, cells, sizeof cells),
                (unsigned long long)b.cells, c->max_segments,
                bytes_text(b.step_cells * b.step_bytes + b.pairs, steps, sizeof steps),
                (unsigned long long)b.step_cells, c->reservoir_size,
                bytes_text(b.addresses, addrs, sizeof addrs), CN_ROUTER_ADDRESS_SLOTS);
}

int cn_router_config_validate(const cn_router_config_t *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!c)
        return fail(err, errlen, "no config");
    cn_config_problem_t p;
    if (cn_config_check(&serve_table, c, &p)) {
        if (p.key && p.key->flag)
            return fail(err, errlen, "key '%s' (--%s): %s", p.path, p.key->flag,
                        p.what);
        return fail(err, errlen, "key '%s': %s", p.path, p.what);
    }
    char path[64];
    int line;
    if (serve_check(c, path, sizeof path, &line, err, errlen))
        return CN_EINVAL;
    return check_budget(c, err, errlen);
}

/*
 * The cross-field checks, worded with the key and its flag. They run after
 * the flags (cn_router_config_validate), not after the file alone, since
 * a flag may complete what the file leaves out.
 */
static int serve_check(const void *record, char *path, size_t pathlen, int *line,
                       char *err, size_t errlen)
{
    const cn_router_config_t *c = record;
    (void)line;
    snprintf(path, pathlen, "%s", "");
    if (c->stable.count == 0)
        return fail(err, errlen,
                    "key 'stable.addresses' (--stable): at least one stable address "
                    "is required");
    if (c->canary.count == 0 &&
        (c->traffic.canary_weight_bp > 0 || c->traffic.mode == CN_TRAFFIC_MODE_SHADOW))
        return fail(err, errlen,
                    "key 'canary.addresses' (--canary): required when the canary "
                    "weight is above 0 or the mode is shadow");
    if (c->traffic.mode == CN_TRAFFIC_MODE_STICKY && !c->sticky_header &&
        !c->sticky_cookie)
        return fail(err, errlen,
                    "key 'traffic.mode' (--mode): sticky mode needs "
                    "traffic.sticky_header (--sticky-header) or traffic.sticky_cookie "
                    "(--sticky-cookie)");
    if (strcmp(c->stable_version, c->canary_version) == 0)
        return fail(err, errlen,
                    "key 'canary.version' (--canary-version): must differ from "
                    "stable.version, both are '%s'",
                    c->canary_version);
    /* one server, one version; except a parity check's arm (types.h),
     * stable's version on stable's servers, as a state file of one
     * interrupted by a crash holds it */
    bool parity = cn_version_is_parity(c->stable_version, c->canary_version);
    for (size_t i = 0; i < c->canary.count && !parity; i++)
        for (size_t j = 0; j < c->stable.count; j++)
            if (strcmp(c->canary.items[i], c->stable.items[j]) == 0)
                return fail(err, errlen,
                            "key 'canary.addresses' (--canary): '%s' is also a stable "
                            "address; one server cannot be measured as two versions",
                            c->canary.items[i]);
    if (c->segment_header && c->segments.count == 0)
        return fail(err, errlen,
                    "key 'measure.segments' (--segments): list the expected values of "
                    "measure.segment_header (any other value is counted under _other)");
    if (c->segments.count > c->max_segments)
        return fail(err, errlen,
                    "key 'measure.segments' (--segments): at most measure.max_segments "
                    "(%u) values, got %zu",
                    c->max_segments, c->segments.count);
    if (c->health_path && c->health_timeout_ms > c->health_interval_ms)
        return fail(err, errlen,
                    "key 'health.timeout' (--health-timeout): must be at most "
                    "health.interval (%ums), got %ums",
                    (unsigned)c->health_interval_ms, (unsigned)c->health_timeout_ms);
    return 0;
}

int cn_router_config_prediction(const cn_router_config_t *c, cn_router_pointer_t *out,
                                char *err, size_t errlen)
{
    if (!c || !c->prediction) {
        if (out)
            memset(out, 0, sizeof *out);
        return fail(err, errlen, "key 'measure.prediction' (--prediction): not set");
    }
    return compile_prediction(c->prediction, out, err, errlen);
}

/* -------------------------------------------------------------- YAML */

/*
 * Next to a `serve:` section, the other top-level keys belong to other
 * components and are not read, but one named like a serve key ("limits:")
 * is almost surely a serve key indented wrongly, and ignoring it would
 * silently drop a setting.
 */
static int stray_serve_keys(cn_yaml_t *y, struct fy_node *root,
                            const cn_config_part_t *parts, size_t n_parts)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t klen = 0;
        if (!k || !fy_node_is_scalar(k) || fy_node_is_alias(k))
            continue;
        const char *key = cn_yaml_scalar_text(y, k, &klen);
        char name[64];
        if (klen == 0 || klen >= sizeof name || memchr(key, '.', klen) ||
            memchr(key, '\0', klen))
            continue;
        memcpy(name, key, klen);
        name[klen] = '\0';
        if (cn_config_has_name(parts, n_parts, name))
            return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(k, 1), name,
                                  "a serve key outside the 'serve:' section; indent it "
                                  "under 'serve:'");
    }
    return 0;
}

int cn_router_config_read_section(cn_yaml_t *y, struct fy_document *doc,
                                  const cn_config_part_t *parts, size_t n_parts)
{
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    char d[CN_YAML_DESCRIBE_BUF], expected[600];
    if (!root || cn_yaml_is_null(root))
        return 0; /* nothing set: the defaults and the flags stand */
    cn_config_children(parts, n_parts, "", expected, sizeof expected);
    if (!fy_node_is_mapping(root))
        return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(root, 1), NULL,
                              "the config must be a mapping of keys (%s), got %s",
                              expected, cn_yaml_describe(y, root, d));
    struct fy_node *section;
    int kline;
    int rc = cn_yaml_section(y, root, "serve", expected, &section, &kline);
    if (rc)
        return rc;
    if (!section) {
        /* The judge's section next to serve keys at the top level: say how
         * to combine the two rather than just "unknown". */
        void *it = NULL;
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(root, &it))) {
            struct fy_node *k = fy_node_pair_key(p);
            size_t klen = 0;
            if (!k || !fy_node_is_scalar(k) || fy_node_is_alias(k))
                continue;
            const char *key = cn_yaml_scalar_text(y, k, &klen);
            if (cn_yaml_key_is(key, klen, "analysis"))
                return cn_yaml_report(
                    y, CN_EINVAL, cn_yaml_node_line(k, 1), "analysis",
                    "unknown key; to keep the judge's section in this file, put "
                    "the serve keys under 'serve:'");
        }
        return cn_config_read(y, parts, n_parts, root, cn_yaml_node_line(root, 1));
    }
    if ((rc = stray_serve_keys(y, root, parts, n_parts)))
        return rc;
    y->prefix = "serve.";
    rc = cn_config_read(y, parts, n_parts, section, kline);
    y->prefix = "";
    return rc;
}

int cn_router_config_parse_yaml(cn_router_config_t *cfg, const char *text, size_t len,
                                const char *filename, char *err, size_t errlen)
{
    cn_yaml_t yaml;
    cn_yaml_init(&yaml, filename, err, errlen);
    struct fy_document *doc;
    int rc = cn_yaml_load(&yaml, text, len, &doc);
    cn_config_part_t part = {&serve_table, cfg};
    if (!rc)
        rc = cn_router_config_read_section(&yaml, doc, &part, 1);
    cn_yaml_dispose(&yaml);
    return rc;
}
