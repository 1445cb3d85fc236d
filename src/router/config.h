/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The configuration of `canary serve`: one table of keys (name, type,
 * bounds, default) drives the YAML file, the command-line flags and the
 * documentation check, in the manner of Redis's static_configs[]. Flags
 * override the file; flags alone are enough for a quick start.
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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cn_router_addr_list_s {
    size_t count;
    char **items; /* "host:port" strings as written, owned */
} cn_router_addr_list_t;

typedef struct cn_router_config_s {
    /* where */
    char *listen; /* "0.0.0.0:8080" */
    char *admin;  /* "127.0.0.1:8081" */
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
    char *segment_header;       /* NULL: no segments */
    unsigned max_segments;      /* distinct labels kept per version; more go to
                                   "_other"; 32 */
    char *prediction;           /* JSON pointer or preset name; "kserve-v2" */
    double *prediction_buckets; /* ascending Prometheus `le` bounds */
    size_t n_prediction_buckets;
    size_t reservoir_size;      /* values kept per version/segment; 10000 */
    size_t request_id_map_size; /* request ids remembered per worker; 100000 */

    /* workers and state */
    unsigned workers; /* 0: number of online CPUs */
    char *state_path; /* NULL: no persistence */
    char *token_file; /* NULL: token from CANARY_TOKEN */

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
                                     worker; 64 */
} cn_router_config_t;

/* Fill *c with every default (allocated strings). The defaults are the
 * table's default texts, parsed like a flag, so they are always in range.
 * Unset keys (state, token_file, sticky_*, segment_header) are NULL and the
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
 * needs a sticky header or cookie; the two version labels differ; listen
 * and admin differ (unless port 0); health.timeout <= health.interval.
 * Returns 0 or CN_EINVAL with one line in err naming the key and its flag:
 *     key 'stable.addresses' (--stable): at least one stable address is required
 */
int cn_router_config_validate(const cn_router_config_t *c, char *err, size_t errlen);

/* Parse a percentage with at most two decimals ("2.5", "100", "0.01",
 * "2.50", an optional trailing "%") into basis points. Further decimals
 * must be zeros: "2.555" is refused, not rounded. No sign, no exponent.
 * 0 or CN_EINVAL (*out_bp untouched). */
int cn_router_parse_percent_bp(const char *text, uint16_t *out_bp);

/* Parse a duration: a whole number followed by ms, s, m or h ("250ms",
 * "10s", "2m", "1h"), or bare milliseconds. 0 or CN_EINVAL (also beyond
 * UINT32_MAX ms). */
int cn_router_parse_duration_ms(const char *text, uint32_t *out_ms);

/* Parse a size: a whole number followed by B, KiB, MiB or GiB ("16MiB",
 * "32KiB", "1GiB"), or bare bytes ("1024"). 0 or CN_EINVAL. */
int cn_router_parse_size(const char *text, size_t *out_bytes);

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

/* One key of the table, as the help text and the documentation see it. */
typedef struct cn_router_config_key_s {
    const char *key;          /* YAML dotted path: "traffic.canary_weight" */
    const char *flag;         /* flag without dashes: "canary-weight" */
    const char *negated_flag; /* switch setting a boolean to false
                                 ("no-retry"), or NULL */
    const char *default_text; /* the default as one would write it
                                 ("16MiB"); NULL: none (the key is unset) */
    const char *help;         /* one line: what the key means */
} cn_router_config_key_t;

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

#endif
