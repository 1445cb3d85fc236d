/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The configuration of `canary serve`'s data plane: one table of keys
 * (name, type, bounds, default), read by the config engine (util/config.h),
 * drives the YAML file, the command-line flags, the documentation check and
 * the effective configuration, in the manner of Redis's static_configs[].
 * Flags override the file; flags alone are enough for a quick start. The
 * admin API's, the store's and the server's keys (admin, state,
 * token_file) are in their own tables, read with this one under `serve:`
 * by the composition root (server/config.h).
 *
 * Every key is documented in examples/canary.yaml, and a unit test checks
 * that every key of the table appears there.
 *
 * Pure: parsing only, no I/O beyond what the caller hands in, no global
 * state.
 */
#ifndef CN_ROUTER_CONFIG_H
#define CN_ROUTER_CONFIG_H

#include "router/extract.h"
#include "router/split.h"
#include "util/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "host:port" strings as written (without "http://"), owned. */
typedef cn_config_strv_t cn_router_addr_list_t;

typedef struct cn_router_config_s {
    /* where */
    char *listen; /* "0.0.0.0:8080" */
    cn_router_addr_list_t stable, canary;
    char *stable_version; /* label and X-Model-Version value; "stable" */
    char *canary_version; /* "canary" */

    /* split */
    cn_traffic_t traffic; /* weight, mode, shadow share, force */
    char *sticky_header;  /* NULL or header carrying the sticky key */
    char *sticky_cookie;  /* NULL or cookie carrying the sticky key */
    char *force_header;   /* "X-Canary" */
    bool retry_on_stable; /* true */

    /* measure */
    char *segment_header;           /* NULL: no segments */
    cn_router_addr_list_t segments; /* the expected values of the segment
                                       header; any other is "_other" */
    unsigned max_segments;          /* most values `segments` may list; 32 */
    char *prediction;               /* JSON pointer or preset name; "kserve-v2" */
    double *prediction_buckets;     /* ascending Prometheus `le` bounds */
    size_t n_prediction_buckets;
    size_t reservoir_size;      /* values kept per version/segment; 10000 */
    size_t request_id_map_size; /* request ids remembered per worker; 100000 */

    /* workers */
    unsigned workers; /* 0: number of online CPUs */

    /* health */
    char *health_path;            /* "/healthz"; NULL or "": no active checks */
    uint32_t health_interval_ms;  /* 2000 */
    uint32_t health_timeout_ms;   /* 1000 */
    unsigned passive_failures;    /* consecutive failures that mark an
                                     address down; 3 */
    uint32_t passive_cooldown_ms; /* how long it stays down; 5000 */

    /* limits */
    size_t max_header_bytes;      /* 32 KiB, <= 80 KiB */
    size_t max_body_bytes;        /* 16 MiB */
    uint32_t header_timeout_ms;   /* whole request must arrive within; 10000 */
    uint32_t idle_timeout_ms;     /* keep-alive client idle; 60000 */
    uint32_t connect_timeout_ms;  /* upstream connect; 2000 */
    uint32_t upstream_timeout_ms; /* upstream response; 30000 */
    uint32_t upstream_idle_ms;    /* pooled upstream connection idle; 30000 */
    unsigned max_connections;     /* client connections, all workers; 10000 */
    unsigned max_idle_upstream;   /* idle pooled conns per address per
                                     worker; 10000 (see docs/ROUTER.md) */
    uint64_t memory_budget_bytes; /* most the measurement state may take,
                                     all workers together; 4 GiB */
} cn_router_config_t;

/* Fill *c with every default (allocated strings). The defaults are the
 * table's default texts, parsed like a flag, so they are always in range.
 * Unset keys (sticky_*, segment_header) are NULL and the
 * address lists are empty. */
void cn_router_config_init(cn_router_config_t *c);

/* Free what *c owns and zero it. Twice is harmless; NULL is a no-op. */
void cn_router_config_dispose(cn_router_config_t *c);

/*
 * Parse YAML text (the `serve:` section if the root has one, else the root
 * mapping; other top-level sections such as `analysis:` are ignored) over
 * the values already in *c: only the keys present change. `text` is
 * borrowed and need not be NUL-terminated; NULL or empty (or only
 * comments) sets nothing. Unknown keys, wrong types and out-of-range values
 * are errors; the first one is reported, with the key path as written (so
 * prefixed by "serve." in the section form) and, for an item of a list, its
 * index. Returns 0, or CN_EPARSE (not YAML) / CN_EINVAL with one line in
 * err:
 *     FILE:LINE: key 'limits.max_body_bytes': must be a size in [1, 1GiB], got '0'
 * Keys that may be unset take ~ or "" for that; a list key takes ~ or []
 * for the empty list. Next to `serve:`, a top-level key named like a serve
 * key ("limits:") is an error: it is almost surely mis-indented. Cross-field checks are
 * left to cn_router_config_validate(), which runs after the flags. On error *c may be
 * partly updated; the caller disposes it either way.
 */
int cn_router_config_parse_yaml(cn_router_config_t *c, const char *text, size_t len,
                                const char *filename, char *err, size_t errlen);

/*
 * Apply one command-line flag, `name` without the leading dashes (e.g.
 * "canary-weight"), with its value (borrowed). Values are written as in
 * YAML; lists are comma-separated ("a:1,b:2"; "" is the empty list), and
 * "" unsets a key that may be unset. A boolean flag with a NULL value
 * means true; its negated switch ("no-retry") sets false. Returns 0,
 * CN_ENOTFOUND for an unknown flag, or CN_EINVAL with one line in err
 * ("--canary-weight: must be a percentage in [0, 100] with at most 2
 * decimals, got '150'"), leaving *c unchanged.
 */
int cn_router_config_set_flag(cn_router_config_t *c, const char *name,
                              const char *value, char *err, size_t errlen);

/*
 * Checks after everything is applied. Every field is first checked against
 * its key's type and bounds (so a config built in code is held to the same
 * rules as a parsed one); then across fields: at least one stable address;
 * canary addresses if the weight is > 0 or the mode is shadow; sticky mode
 * needs a sticky header or cookie; the two version labels differ;
 * health.timeout <= health.interval;
 * the measurement state fits limits.memory_budget (see
 * cn_router_config_memory_bytes()).
 * Returns 0 or CN_EINVAL with one line in err naming the key and its flag:
 *     key 'stable.addresses' (--stable): at least one stable address is required
 */
int cn_router_config_validate(const cn_router_config_t *c, char *err, size_t errlen);

/* Names of every key of the table, in YAML dotted form, NULL-terminated
 * (for the documentation check). */
const char *const *cn_router_config_keys(void);

/*
 * Flags that take no value (switches), NULL-terminated, in the form
 * cn_args_parse() wants: "no-retry". Every other flag takes a value; a
 * boolean flag such as "force" takes "true" or "false", and also accepts
 * none (NULL), meaning true.
 */
const char *const *cn_router_config_switches(void);

/* One key of the table, as the help text and the documentation see it:
 * key, flag, negated_flag, default_text, help (util/config.h). */
typedef cn_config_key_t cn_router_config_key_t;

/* The i-th key of the table (the order of cn_router_config_keys()), or
 * NULL when i is past the end. The result is static. */
const cn_router_config_key_t *cn_router_config_key(size_t i);

/* What a key (from cn_router_config_key()) accepts, for help text: "a
 * percentage in [0, 100] with at most 2 decimals". Written into buf (160
 * bytes is plenty); returns buf. */
const char *cn_router_config_key_want(const cn_router_config_key_t *k, char *buf,
                                      size_t len);

/*
 * Compile c->prediction, a preset name or a JSON pointer, into *out (which
 * the caller disposes with cn_router_pointer_dispose). Returns 0, or
 * CN_EPARSE / CN_ENOTFOUND / CN_EINVAL with one line in err.
 */
int cn_router_config_prediction(const cn_router_config_t *c, cn_router_pointer_t *out,
                                char *err, size_t errlen);

/* The table itself, for the composition root (which reads it next to
 * other modules' tables under `serve:`) and `canary config check`. */
const cn_config_table_t *cn_router_config_table(void);

/*
 * Read the serve keys of a loaded document into the parts (the router's
 * table and whatever the composition root adds): the `serve:` section if
 * the root has one (other top-level keys are left to their owners, but
 * one named like a serve key is an error), else the root mapping (where an
 * `analysis:` key is an error that says to use sections). NULL doc or an
 * empty document sets nothing. Messages go through y; returns 0,
 * CN_EINVAL.
 */
int cn_router_config_read_section(cn_yaml_t *y, struct fy_document *doc,
                                  const cn_config_part_t *parts, size_t n_parts);

/* The number of workers c asks for: c->workers, or the online CPUs (at
 * most 256) when it is 0. */
unsigned cn_router_config_workers(const cn_router_config_t *c);

/*
 * The most memory the measurement state of all workers may take with c:
 * per worker, the request id map (112 bytes an id, hash buckets
 * included), the reservoir of shadow pairs, the cells of every version
 * key slot (counters and a ~35 KiB latency histogram each, for 16 keys x
 * (max_segments + 2) segments: versions that left keep theirs until their
 * slot is reused), and the current step's data (a histogram and two
 * sample reservoirs) for the 2 x (max_segments + 2) cells of the step's
 * two versions (router/shard.h). validate() refuses a config whose figure
 * exceeds limits.memory_budget, naming the keys.
 */
uint64_t cn_router_config_memory_bytes(const cn_router_config_t *c);

#endif
