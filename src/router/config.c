/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The configuration of `canary serve` (see config.h): one table of keys,
 * serve_keys[], drives the YAML file, the command-line flags, the defaults,
 * the range checks of validate() and the documentation check.
 *
 * Each entry names the YAML dotted key, the flag, the type, the bounds, the
 * default and the field it writes, in the manner of Redis's
 * static_configs[]. Every value, whatever its source, goes through the same
 * two steps: parse_text() turns text into a value_t, checking the syntax
 * and the bounds of the entry, and store() writes it into the field. The
 * defaults are text too ("16MiB", "2s") and go through the same steps in
 * cn_router_config_init(), so a default cannot disagree with its bounds or
 * with what the documentation says, and validate() checks a config built
 * in code against the same bounds by reading the fields back.
 *
 * YAML is read with libfyaml's document API through util/yaml.h, as the
 * judge's parser reads it: that module loads the document with its
 * workarounds for libfyaml's bugs, reads keys and scalars, follows aliases
 * without copying, and words the messages. Typing follows the YAML 1.2
 * core schema where it matters: a quoted "3" is a string, so it is refused
 * where an integer or a boolean is expected. Sizes,
 * durations and percentages are accepted quoted or not, since they are
 * strings to YAML anyway ("16MiB") except when they happen to be numbers.
 */
#include "router/config.h"
#include "router/extract.h"
#include "router/split.h"
#include "util/error.h"
#include "util/text.h"
#include "util/yaml.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Longest excerpt of a value or key quoted back in a message. */
#define QUOTE_MAX CN_YAML_QUOTE_MAX
#define QUOTE_BUF (QUOTE_MAX + 8)

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define SECOND_MS ((uint64_t)1000)
#define MINUTE_MS (60 * SECOND_MS)
#define HOUR_MS (60 * MINUTE_MS)

/* Most addresses per version and most prediction bucket bounds. */
#define ADDRESSES_MAX 64
#define BUCKETS_MAX 64
/* Longest version label: it must fit cn_router_lookup_t.version[64]. */
#define VERSION_MAX 63
/* Longest header or cookie name, URL path and file path. */
#define NAME_MAX_BYTES 128
#define PATH_MAX_BYTES 1024

/* ------------------------------------------------------------- table */

typedef enum key_type_e {
    T_STRING,       /* char *, checked by the entry's string kind */
    T_ADDRESS,      /* char *, "host:port" or "[v6]:port" */
    T_ADDRESS_LIST, /* cn_router_addr_list_t */
    T_BOOL,         /* bool */
    T_PERCENT,      /* uint16_t basis points, 0.01% granularity */
    T_UNSIGNED,     /* unsigned or size_t, in [lo, hi] */
    T_SIZE,         /* size_t bytes, "16MiB", in [lo, hi] */
    T_DURATION,     /* uint32_t milliseconds, "2s", in [lo, hi] */
    T_DOUBLE_LIST,  /* double * and its count, strictly ascending */
    T_MODE,         /* cn_traffic_mode_t: random | sticky | shadow */
    T_PREDICTION,   /* char *, a preset name or a JSON pointer */
} key_type_t;

/* What a T_STRING may hold. */
typedef enum string_kind_e {
    S_HEADER,  /* an HTTP header name (RFC 9110 token) */
    S_COOKIE,  /* a cookie name (also a token) */
    S_LABEL,   /* a version label: header value and metric label */
    S_URLPATH, /* "/healthz" */
    S_FILE,    /* a file system path */
    S_SEGMENT, /* T_ADDRESS_LIST of segment values instead of addresses */
} string_kind_t;

enum {
    O_NULLABLE = 1, /* ~ or "" unsets the key (stores NULL) */
    O_LISTEN = 2    /* an address to listen on: port 0 (any free port) and an
                       empty host (":8080", every interface) are allowed */
};

typedef struct serve_key_s {
    cn_router_config_key_t pub; /* first: cn_router_config_key() hands it out */
    key_type_t type;
    string_kind_t kind;
    unsigned opts;
    uint64_t lo, hi;     /* bounds of numbers, or of a list's length */
    size_t offset;       /* of the field in cn_router_config_t */
    size_t width;        /* sizeof the field */
    size_t count_offset; /* T_DOUBLE_LIST: of the size_t count */
} serve_key_t;

#define FIELD(f)                                                                       \
    .offset = offsetof(cn_router_config_t, f),                                         \
    .width = sizeof(((cn_router_config_t *)0)->f)

/*
 * The table. Entries of one section are contiguous, top-level keys first:
 * the unknown-key message lists a section's keys in this order, and so
 * does the help text.
 */
#define SERVE_KEYS(X)                                                                  \
    X("listen", .pub.flag = "listen", .type = T_ADDRESS, .opts = O_LISTEN,             \
      FIELD(listen), .pub.default_text = "0.0.0.0:8080",                               \
      .pub.help = "address the proxy accepts clients on")                              \
    X("admin", .pub.flag = "admin", .type = T_ADDRESS, .opts = O_LISTEN, FIELD(admin), \
      .pub.default_text = "127.0.0.1:8081",                                            \
      .pub.help = "address of the admin API and /metrics")                             \
    X("workers", .pub.flag = "workers", .type = T_UNSIGNED, .lo = 0, .hi = 256,        \
      FIELD(workers), .pub.default_text = "0",                                         \
      .pub.help = "worker threads; 0: one per online CPU")                             \
    X("state", .pub.flag = "state", .type = T_STRING, .kind = S_FILE,                  \
      .opts = O_NULLABLE, FIELD(state_path),                                           \
      .pub.help = "SQLite file keeping the traffic split across restarts")             \
    X("token_file", .pub.flag = "token-file", .type = T_STRING, .kind = S_FILE,        \
      .opts = O_NULLABLE, FIELD(token_file),                                           \
      .pub.help = "file holding the admin API token; default $CANARY_TOKEN")           \
    X("stable.addresses", .pub.flag = "stable", .type = T_ADDRESS_LIST, .lo = 0,       \
      .hi = ADDRESSES_MAX, FIELD(stable),                                              \
      .pub.help = "upstream addresses of the stable version")                          \
    X("stable.version", .pub.flag = "stable-version", .type = T_STRING,                \
      .kind = S_LABEL, FIELD(stable_version), .pub.default_text = "stable",            \
      .pub.help = "label of the stable version in metrics and X-Model-Version")        \
    X("canary.addresses", .pub.flag = "canary", .type = T_ADDRESS_LIST, .lo = 0,       \
      .hi = ADDRESSES_MAX, FIELD(canary),                                              \
      .pub.help = "upstream addresses of the canary version")                          \
    X("canary.version", .pub.flag = "canary-version", .type = T_STRING,                \
      .kind = S_LABEL, FIELD(canary_version), .pub.default_text = "canary",            \
      .pub.help = "label of the canary version in metrics and X-Model-Version")        \
    X("traffic.canary_weight", .pub.flag = "canary-weight", .type = T_PERCENT,         \
      FIELD(traffic.canary_weight_bp), .pub.default_text = "0",                        \
      .pub.help = "percentage of requests the canary answers")                         \
    X("traffic.mode", .pub.flag = "mode", .type = T_MODE, FIELD(traffic.mode),         \
      .pub.default_text = "random",                                                    \
      .pub.help = "how requests are split: random, sticky or shadow")                  \
    X("traffic.shadow_percent", .pub.flag = "shadow-percent", .type = T_PERCENT,       \
      FIELD(traffic.shadow_bp), .pub.default_text = "100",                             \
      .pub.help = "shadow mode: percentage of requests copied to the canary")          \
    X("traffic.force_header", .pub.flag = "force-header", .type = T_STRING,            \
      .kind = S_HEADER, FIELD(force_header), .pub.default_text = "X-Canary",           \
      .pub.help = "header whose value always|never forces the version")                \
    X("traffic.force_enabled", .pub.flag = "force", .type = T_BOOL,                    \
      FIELD(traffic.force_enabled), .pub.default_text = "false",                       \
      .pub.help = "honour the force header")                                           \
    X("traffic.sticky_header", .pub.flag = "sticky-header", .type = T_STRING,          \
      .kind = S_HEADER, .opts = O_NULLABLE, FIELD(sticky_header),                      \
      .pub.help = "sticky mode: header carrying the user key")                         \
    X("traffic.sticky_cookie", .pub.flag = "sticky-cookie", .type = T_STRING,          \
      .kind = S_COOKIE, .opts = O_NULLABLE, FIELD(sticky_cookie),                      \
      .pub.help = "sticky mode: cookie carrying the user key")                         \
    X("traffic.retry_on_stable", .pub.flag = "retry-on-stable",                        \
      .pub.negated_flag = "no-retry", .type = T_BOOL, FIELD(retry_on_stable),          \
      .pub.default_text = "true",                                                      \
      .pub.help = "answer from stable when the canary fails to")                       \
    X("measure.segment_header", .pub.flag = "segment-header", .type = T_STRING,        \
      .kind = S_HEADER, .opts = O_NULLABLE, FIELD(segment_header),                     \
      .pub.help = "header whose value labels the request's segment")                   \
    X("measure.segments", .pub.flag = "segments", .type = T_ADDRESS_LIST,              \
      .kind = S_SEGMENT, .lo = 0, .hi = 1024, FIELD(segments),                         \
      .pub.help = "the expected segment values; any other is counted under _other")    \
    X("measure.max_segments", .pub.flag = "max-segments", .type = T_UNSIGNED, .lo = 1, \
      .hi = 1024, FIELD(max_segments), .pub.default_text = "32",                       \
      .pub.help = "most values measure.segments may list")                             \
    X("measure.prediction", .pub.flag = "prediction", .type = T_PREDICTION,            \
      FIELD(prediction), .pub.default_text = "kserve-v2",                              \
      .pub.help = "where the prediction is in a response: preset or JSON pointer")     \
    X("measure.prediction_buckets", .pub.flag = "prediction-buckets",                  \
      .type = T_DOUBLE_LIST, .lo = 1, .hi = BUCKETS_MAX, FIELD(prediction_buckets),    \
      .count_offset = offsetof(cn_router_config_t, n_prediction_buckets),              \
      .pub.default_text = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1",                   \
      .pub.help = "upper bounds of the prediction histogram buckets")                  \
    X("measure.reservoir_size", .pub.flag = "reservoir-size", .type = T_UNSIGNED,      \
      .lo = 1, .hi = 10000000, FIELD(reservoir_size), .pub.default_text = "10000",     \
      .pub.help = "values sampled per version and segment for the judge")              \
    X("measure.request_id_map_size", .pub.flag = "request-id-map-size",                \
      .type = T_UNSIGNED, .lo = 0, .hi = 100000000, FIELD(request_id_map_size),        \
      .pub.default_text = "100000",                                                    \
      .pub.help = "request ids remembered per worker for late labels; 0: none")        \
    X("health.path", .pub.flag = "health-path", .type = T_STRING, .kind = S_URLPATH,   \
      .opts = O_NULLABLE, FIELD(health_path), .pub.default_text = "/healthz",          \
      .pub.help = "path of the active health check; unset: no active checks")          \
    X("health.interval", .pub.flag = "health-interval", .type = T_DURATION, .lo = 10,  \
      .hi = HOUR_MS, FIELD(health_interval_ms), .pub.default_text = "2s",              \
      .pub.help = "time between active checks of an address")                          \
    X("health.timeout", .pub.flag = "health-timeout", .type = T_DURATION, .lo = 1,     \
      .hi = HOUR_MS, FIELD(health_timeout_ms), .pub.default_text = "1s",               \
      .pub.help = "an active check slower than this fails")                            \
    X("health.passive_failures", .pub.flag = "passive-failures", .type = T_UNSIGNED,   \
      .lo = 0, .hi = 1000, FIELD(passive_failures), .pub.default_text = "3",           \
      .pub.help = "consecutive failures that mark an address down; 0: never")          \
    X("health.passive_cooldown", .pub.flag = "passive-cooldown", .type = T_DURATION,   \
      .lo = 1, .hi = HOUR_MS, FIELD(passive_cooldown_ms), .pub.default_text = "5s",    \
      .pub.help = "how long an address marked down stays down")                        \
    X("limits.max_header_bytes", .pub.flag = "max-header-bytes", .type = T_SIZE,       \
      .lo = KIB, .hi = 80 * KIB, FIELD(max_header_bytes), .pub.default_text = "32KiB", \
      .pub.help = "largest request or response header block")                          \
    X("limits.max_body_bytes", .pub.flag = "max-body-bytes", .type = T_SIZE, .lo = 1,  \
      .hi = GIB, FIELD(max_body_bytes), .pub.default_text = "16MiB",                   \
      .pub.help = "largest request or response body")                                  \
    X("limits.header_timeout", .pub.flag = "header-timeout", .type = T_DURATION,       \
      .lo = 1, .hi = HOUR_MS, FIELD(header_timeout_ms), .pub.default_text = "10s",     \
      .pub.help = "a client's whole request must arrive within this")                  \
    X("limits.idle_timeout", .pub.flag = "idle-timeout", .type = T_DURATION, .lo = 1,  \
      .hi = HOUR_MS, FIELD(idle_timeout_ms), .pub.default_text = "60s",                \
      .pub.help = "an idle keep-alive client connection is closed after this")         \
    X("limits.connect_timeout", .pub.flag = "connect-timeout", .type = T_DURATION,     \
      .lo = 1, .hi = HOUR_MS, FIELD(connect_timeout_ms), .pub.default_text = "2s",     \
      .pub.help = "connecting to an upstream address")                                 \
    X("limits.upstream_timeout", .pub.flag = "upstream-timeout", .type = T_DURATION,   \
      .lo = 1, .hi = HOUR_MS, FIELD(upstream_timeout_ms), .pub.default_text = "30s",   \
      .pub.help = "an upstream's whole response must arrive within this")              \
    X("limits.upstream_idle", .pub.flag = "upstream-idle", .type = T_DURATION,         \
      .lo = 1, .hi = HOUR_MS, FIELD(upstream_idle_ms), .pub.default_text = "30s",      \
      .pub.help = "a pooled upstream connection idle this long is closed")             \
    X("limits.max_connections", .pub.flag = "max-connections", .type = T_UNSIGNED,     \
      .lo = 1, .hi = 1000000, FIELD(max_connections), .pub.default_text = "10000",     \
      .pub.help = "client connections open at once, all workers together")             \
    X("limits.max_idle_upstream", .pub.flag = "max-idle-upstream", .type = T_UNSIGNED, \
      .lo = 0, .hi = 100000, FIELD(max_idle_upstream), .pub.default_text = "64",       \
      .pub.help = "idle pooled connections per address per worker; 0: no pool")

#define AS_ENTRY(name, ...) {.pub.key = name, __VA_ARGS__},
#define AS_NAME(name, ...) name,

static const serve_key_t serve_keys[] = {SERVE_KEYS(AS_ENTRY)};
static const char *const serve_key_names[] = {SERVE_KEYS(AS_NAME) NULL};
static const char *const serve_switches[] = {"no-retry", NULL};

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
    return i < COUNT(serve_keys) ? &serve_keys[i].pub : NULL;
}

static const serve_key_t *find_key(const char *path)
{
    for (size_t i = 0; i < COUNT(serve_keys); i++)
        if (strcmp(serve_keys[i].pub.key, path) == 0)
            return &serve_keys[i];
    return NULL;
}

/* The entry of a flag, and whether it is the negated form. */
static const serve_key_t *find_flag(const char *flag, int *negated)
{
    for (size_t i = 0; i < COUNT(serve_keys); i++) {
        const serve_key_t *k = &serve_keys[i];
        *negated = k->pub.negated_flag && strcmp(k->pub.negated_flag, flag) == 0;
        if (*negated || strcmp(k->pub.flag, flag) == 0)
            return k;
    }
    *negated = 0;
    return NULL;
}

static void *field(cn_router_config_t *c, const serve_key_t *k)
{
    return (char *)c + k->offset;
}

static const void *cfield(const cn_router_config_t *c, const serve_key_t *k)
{
    return (const char *)c + k->offset;
}

/* An unsigned field of 1, 2, 4 or 8 bytes (memcpy keeps the access within
 * the field's own type, whatever its declared name). */
static void store_uint(void *p, size_t width, uint64_t v)
{
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;
    switch (width) {
    case 1:
        memcpy(p, &u8, 1);
        break;
    case 2:
        memcpy(p, &u16, 2);
        break;
    case 4:
        memcpy(p, &u32, 4);
        break;
    default:
        memcpy(p, &v, 8);
        break;
    }
}

static uint64_t load_uint(const void *p, size_t width)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (width) {
    case 1:
        memcpy(&u8, p, 1);
        return u8;
    case 2:
        memcpy(&u16, p, 2);
        return u16;
    case 4:
        memcpy(&u32, p, 4);
        return u32;
    default:
        memcpy(&u64, p, 8);
        return u64;
    }
}

_Static_assert(sizeof(size_t) == 8 || sizeof(size_t) == 4, "size_t of 4 or 8 bytes");
_Static_assert(sizeof(unsigned) == 4, "unsigned of 4 bytes");

/* ----------------------------------------------------- small parsers */

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/*
 * Leading decimal digits of *s as a uint64_t, saturating at UINT64_MAX (so
 * that "99999999999999999999h" is out of range rather than malformed).
 * Advances *s; returns the number of digits read.
 */
static size_t read_digits(const char **s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = 0;
    for (; is_digit(**s); (*s)++, n++) {
        unsigned d = (unsigned)(**s - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return n;
}

static uint64_t mul_sat(uint64_t a, uint64_t b)
{
    return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

int cn_router_parse_percent_bp(const char *text, uint16_t *out_bp)
{
    if (!text || !out_bp)
        return CN_EINVAL;
    const char *s = text;
    uint64_t whole;
    size_t nint = read_digits(&s, &whole);
    uint64_t frac = 0;
    size_t nfrac = 0;
    if (*s == '.') {
        s++;
        /* Two decimals are the granularity (1 bp); further digits are
         * allowed only as zeros, so that 2.500 is 2.5 but 2.555 is refused
         * rather than rounded. */
        for (; is_digit(*s); s++, nfrac++) {
            if (nfrac < 2)
                frac = frac * 10 + (uint64_t)(*s - '0');
            else if (*s != '0')
                return CN_EINVAL;
        }
        if (nfrac == 0)
            return CN_EINVAL;
    }
    if (nint == 0 && nfrac == 0)
        return CN_EINVAL;
    if (*s == '%')
        s++;
    if (*s != '\0')
        return CN_EINVAL;
    if (nfrac == 1)
        frac *= 10;
    if (whole > 100 || whole * 100 + frac > CN_BP_MAX)
        return CN_EINVAL;
    *out_bp = (uint16_t)(whole * 100 + frac);
    return 0;
}

/* A unit suffix and what one of it is worth. */
typedef struct unit_s {
    const char *unit;
    uint64_t scale;
} unit_t;

static const unit_t duration_units[] = {
    {"", 1}, {"ms", 1}, {"s", SECOND_MS}, {"m", MINUTE_MS}, {"h", HOUR_MS}};
static const unit_t size_units[] = {
    {"", 1}, {"B", 1}, {"KiB", KIB}, {"MiB", MIB}, {"GiB", GIB}};

/* Digits followed by one of the units (exactly), scaled, saturating.
 * 0 or CN_EPARSE. */
static int parse_with_unit(const char *text, const unit_t *units, size_t nunits,
                           uint64_t *out)
{
    const char *s = text;
    uint64_t v;
    if (read_digits(&s, &v) == 0)
        return CN_EPARSE;
    for (size_t i = 0; i < nunits; i++) {
        if (strcmp(s, units[i].unit) == 0) {
            *out = mul_sat(v, units[i].scale);
            return 0;
        }
    }
    return CN_EPARSE;
}

/* A duration with its unit into milliseconds, saturating. 0 or CN_EPARSE. */
static int parse_duration_u64(const char *text, uint64_t *out_ms)
{
    return parse_with_unit(text, duration_units, COUNT(duration_units), out_ms);
}

int cn_router_parse_duration_ms(const char *text, uint32_t *out_ms)
{
    uint64_t ms;
    if (!text || !out_ms || parse_duration_u64(text, &ms) || ms > UINT32_MAX)
        return CN_EINVAL;
    *out_ms = (uint32_t)ms;
    return 0;
}

/* A size with its unit into bytes, saturating. 0 or CN_EPARSE. */
static int parse_size_u64(const char *text, uint64_t *out)
{
    return parse_with_unit(text, size_units, COUNT(size_units), out);
}

int cn_router_parse_size(const char *text, size_t *out_bytes)
{
    uint64_t v;
    if (!text || !out_bytes || parse_size_u64(text, &v) || v > SIZE_MAX)
        return CN_EINVAL;
    *out_bytes = (size_t)v;
    return 0;
}

static int parse_bool_text(const char *s, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    for (size_t i = 0; i < COUNT(yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return CN_EPARSE;
}

/* "16MiB", "1KiB", "1" for a message. */
static const char *size_text(uint64_t v, char *buf, size_t len)
{
    if (v >= GIB && v % GIB == 0)
        snprintf(buf, len, "%lluGiB", (unsigned long long)(v / GIB));
    else if (v >= MIB && v % MIB == 0)
        snprintf(buf, len, "%lluMiB", (unsigned long long)(v / MIB));
    else if (v >= KIB && v % KIB == 0)
        snprintf(buf, len, "%lluKiB", (unsigned long long)(v / KIB));
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

/* "1h", "2m", "10s", "250ms" for a message. */
static const char *duration_text(uint64_t ms, char *buf, size_t len)
{
    if (ms >= HOUR_MS && ms % HOUR_MS == 0)
        snprintf(buf, len, "%lluh", (unsigned long long)(ms / HOUR_MS));
    else if (ms >= MINUTE_MS && ms % MINUTE_MS == 0)
        snprintf(buf, len, "%llum", (unsigned long long)(ms / MINUTE_MS));
    else if (ms >= SECOND_MS && ms % SECOND_MS == 0)
        snprintf(buf, len, "%llus", (unsigned long long)(ms / SECOND_MS));
    else
        snprintf(buf, len, "%llums", (unsigned long long)ms);
    return buf;
}

/* ---------------------------------------------------------- addresses */

static int is_host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) ||
           ch == '-' || ch == '.' || ch == '_';
}

/*
 * Check "host:port", "[v6]:port" or either after "http://". Syntax only:
 * nothing is resolved here (cn_router_new does that). A host of digits and
 * dots must be a valid IPv4 address; any other host is a name of letters,
 * digits, '-', '.' and '_' (underscores for container names), at most 253
 * bytes. An address to listen on may have port 0 and an empty host. Sets
 * *skip to the length of the scheme prefix to drop.
 */
static int check_address(const char *s, int for_listen, size_t *skip)
{
    *skip = 0;
    if (strncmp(s, "http://", 7) == 0)
        *skip = 7;
    s += *skip;
    const char *colon;
    char host[256];
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
            return CN_EINVAL;
        memcpy(host, s + 1, (size_t)(close - s - 1));
        host[close - s - 1] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, host, &a6) != 1)
            return CN_EINVAL;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        size_t n = colon ? (size_t)(colon - s) : 0;
        if (!colon || (n == 0 && !for_listen) || n > 253)
            return CN_EINVAL;
        int dotted = 1;
        for (size_t i = 0; i < n; i++) {
            if (!is_host_char(s[i]))
                return CN_EINVAL;
            dotted &= is_digit(s[i]) || s[i] == '.';
        }
        memcpy(host, s, n);
        host[n] = '\0';
        struct in_addr a4;
        if (n && dotted && inet_pton(AF_INET, host, &a4) != 1)
            return CN_EINVAL;
    }
    const char *p = colon + 1;
    uint64_t port;
    size_t nd = read_digits(&p, &port);
    if (nd == 0 || nd > 5 || *p != '\0' || port > 65535 || (port == 0 && !for_listen))
        return CN_EINVAL;
    return 0;
}

/* -------------------------------------------------------------- strings */

/* RFC 9110 tchar: what a header or cookie name may hold. */
static int is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit((char)ch) ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int check_string(string_kind_t kind, const char *s)
{
    size_t n = strlen(s);
    switch (kind) {
    case S_HEADER:
    case S_COOKIE:
        if (n > NAME_MAX_BYTES)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (!is_tchar((unsigned char)s[i]))
                return CN_EINVAL;
        return 0;
    case S_LABEL:
        /* It is sent as a header value and quoted as a metric label, so
         * visible ASCII without quotes or backslashes keeps both simple. */
        if (n > VERSION_MAX)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == '"' || s[i] == '\\')
                return CN_EINVAL;
        return 0;
    case S_URLPATH:
        if (s[0] != '/' || n > PATH_MAX_BYTES)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if (s[i] <= 0x20 || s[i] >= 0x7f)
                return CN_EINVAL;
        return 0;
    case S_FILE:
        if (n > PATH_MAX_BYTES)
            return CN_EINVAL;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return CN_EINVAL;
        return 0;
    case S_SEGMENT: /* a list kind, never a T_STRING */
        return CN_EINVAL;
    }
    return CN_EINVAL;
}

static const char *string_want(string_kind_t kind)
{
    switch (kind) {
    case S_HEADER:
        return "an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, at most "
               "128)";
    case S_COOKIE:
        return "a cookie name (letters, digits and !#$%&'*+-.^_`|~, at most 128)";
    case S_LABEL:
        return "a label of 1 to 63 visible ASCII characters, no quotes or "
               "backslashes";
    case S_URLPATH:
        return "a URL path starting with '/', without spaces";
    case S_SEGMENT:
        return "a segment value of 1 to 64 visible ASCII characters, no quotes or "
               "backslashes, not _other";
    case S_FILE:
        return "a file path without control characters";
    }
    return "a string";
}

/* ------------------------------------------------------------- values */

/* A parsed value, before it is stored. */
typedef struct value_s {
    uint64_t u;                 /* bool, percent, integers, sizes, ms, mode */
    char *s;                    /* strings, owned; NULL: unset */
    cn_router_addr_list_t list; /* owned */
    double *d;                  /* owned */
    size_t nd;
} value_t;

static void addr_list_dispose(cn_router_addr_list_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

static void value_dispose(value_t *v)
{
    free(v->s);
    addr_list_dispose(&v->list);
    free(v->d);
    memset(v, 0, sizeof *v);
}

/* Move *v into the field of k, freeing what the field held. */
static void store(cn_router_config_t *c, const serve_key_t *k, value_t *v)
{
    void *p = field(c, k);
    switch (k->type) {
    case T_STRING:
    case T_ADDRESS:
    case T_PREDICTION: {
        char **sp = p;
        free(*sp);
        *sp = v->s;
        v->s = NULL;
        break;
    }
    case T_ADDRESS_LIST: {
        cn_router_addr_list_t *l = p;
        addr_list_dispose(l);
        *l = v->list;
        memset(&v->list, 0, sizeof v->list);
        break;
    }
    case T_DOUBLE_LIST: {
        double **dp = p;
        free(*dp);
        *dp = v->d;
        *(size_t *)((char *)c + k->count_offset) = v->nd;
        v->d = NULL;
        v->nd = 0;
        break;
    }
    case T_BOOL: {
        bool b = v->u != 0;
        memcpy(p, &b, sizeof b);
        break;
    }
    case T_MODE: {
        cn_traffic_mode_t m = (cn_traffic_mode_t)v->u;
        memcpy(p, &m, sizeof m);
        break;
    }
    case T_PERCENT:
    case T_UNSIGNED:
    case T_SIZE:
    case T_DURATION:
        store_uint(p, k->width, v->u);
        break;
    }
    value_dispose(v);
}

/* "an integer in [1, 1024]", "a size in [1KiB, 80KiB]", ... */
static const char *want_text(const serve_key_t *k, char *buf, size_t len)
{
    char a[32], b[32];
    switch (k->type) {
    case T_STRING:
        snprintf(buf, len, "%s", string_want(k->kind));
        break;
    case T_ADDRESS:
        if (k->opts & O_LISTEN)
            snprintf(buf, len,
                     "an address host:port, [ipv6]:port or :port with a port in "
                     "[0, 65535]");
        else
            snprintf(buf, len,
                     "an address host:port or [ipv6]:port with a port in [1, 65535]");
        break;
    case T_ADDRESS_LIST:
        if (k->kind == S_SEGMENT)
            snprintf(buf, len, "a list of segment values");
        else
            snprintf(buf, len,
                     "a list of addresses host:port or [ipv6]:port with a port in "
                     "[1, 65535]");
        break;
    case T_BOOL:
        snprintf(buf, len, "true or false");
        break;
    case T_PERCENT:
        snprintf(buf, len, "a percentage in [0, 100] with at most 2 decimals");
        break;
    case T_UNSIGNED:
        snprintf(buf, len, "an integer in [%llu, %llu]", (unsigned long long)k->lo,
                 (unsigned long long)k->hi);
        break;
    case T_SIZE:
        snprintf(buf, len, "a size in [%s, %s]", size_text(k->lo, a, sizeof a),
                 size_text(k->hi, b, sizeof b));
        break;
    case T_DURATION:
        snprintf(buf, len, "a duration in [%s, %s]", duration_text(k->lo, a, sizeof a),
                 duration_text(k->hi, b, sizeof b));
        break;
    case T_DOUBLE_LIST:
        snprintf(buf, len, "a list of %llu to %llu finite numbers in ascending order",
                 (unsigned long long)k->lo, (unsigned long long)k->hi);
        break;
    case T_MODE:
        snprintf(buf, len, "one of random, sticky, shadow");
        break;
    case T_PREDICTION:
        snprintf(buf, len,
                 "a preset (kserve-v2, open-inference, tf-serving) or a JSON "
                 "pointer starting with '/'");
        break;
    }
    return buf;
}

const char *cn_router_config_key_want(const cn_router_config_key_t *k, char *buf,
                                      size_t len)
{
    for (size_t i = 0; i < COUNT(serve_keys); i++)
        if (&serve_keys[i].pub == k)
            return want_text(&serve_keys[i], buf, len);
    snprintf(buf, len, "a value");
    return buf;
}

/* Write "must be WANT, got 'TEXT'" into what. */
static int bad_value(const serve_key_t *k, const char *text, char *what, size_t len)
{
    char want[200], q[QUOTE_BUF];
    snprintf(what, len, "must be %s, got '%s'", want_text(k, want, sizeof want),
             cn_text_quote(text, strlen(text), QUOTE_MAX, q));
    return CN_EINVAL;
}

/* Compile a prediction spec: a preset name, or a pointer when it starts
 * with '/'. */
static int compile_prediction(const char *text, cn_router_pointer_t *out, char *err,
                              size_t errlen)
{
    if (text && text[0] == '/')
        return cn_router_pointer_compile(text, out, err, errlen);
    return cn_router_pointer_preset(text, out, err, errlen);
}

/* One address of a list: check it, refuse a duplicate, append it. */
static int list_add_address(const serve_key_t *k, value_t *v, const char *text,
                            char *what, size_t len)
{
    size_t skip = 0;
    char q[QUOTE_BUF];
    if (k->kind == S_SEGMENT) {
        /* a header value and a metric label, like a version label */
        size_t n = strlen(text);
        bool ok = n >= 1 && n <= 64 && strcmp(text, "_other") != 0;
        for (size_t i = 0; ok && i < n; i++)
            ok = text[i] > 0x20 && text[i] < 0x7f && text[i] != '"' && text[i] != '\\';
        if (!ok) {
            snprintf(what, len, "must be %s, got '%s'", string_want(S_SEGMENT),
                     cn_text_quote(text, n, QUOTE_MAX, q));
            return CN_EINVAL;
        }
    } else if (check_address(text, (k->opts & O_LISTEN) != 0, &skip)) {
        snprintf(what, len,
                 "must be an address host:port or [ipv6]:port with a port in "
                 "[1, 65535], got '%s'",
                 cn_text_quote(text, strlen(text), QUOTE_MAX, q));
        return CN_EINVAL;
    }
    for (size_t i = 0; i < v->list.count; i++) {
        if (strcmp(v->list.items[i], text + skip) == 0) {
            snprintf(what, len, "duplicate %s '%s'",
                     k->kind == S_SEGMENT ? "value" : "address",
                     cn_text_quote(text, strlen(text), QUOTE_MAX, q));
            return CN_EINVAL;
        }
    }
    if (v->list.count >= k->hi) {
        snprintf(what, len, "at most %llu %s, got more", (unsigned long long)k->hi,
                 k->kind == S_SEGMENT ? "values" : "addresses");
        return CN_EINVAL;
    }
    v->list.items =
        cn_xrealloc(v->list.items, (v->list.count + 1) * sizeof *v->list.items);
    v->list.items[v->list.count++] = cn_xstrndup(text + skip, strlen(text + skip));
    return 0;
}

/* One bound of a double list: a finite number above the previous one. */
static int list_add_double(const serve_key_t *k, value_t *v, const char *text,
                           char *what, size_t len)
{
    double x;
    char q[QUOTE_BUF];
    if (cn_text_to_double(text, &x)) {
        snprintf(what, len, "must be a finite number, got '%s'",
                 cn_text_quote(text, strlen(text), QUOTE_MAX, q));
        return CN_EINVAL;
    }
    if (v->nd > 0 && !(x > v->d[v->nd - 1])) {
        snprintf(what, len, "bounds must be strictly ascending, got %g after %g", x,
                 v->d[v->nd - 1]);
        return CN_EINVAL;
    }
    if (v->nd >= k->hi) {
        snprintf(what, len, "at most %llu bounds, got more", (unsigned long long)k->hi);
        return CN_EINVAL;
    }
    v->d = cn_xrealloc(v->d, (v->nd + 1) * sizeof *v->d);
    v->d[v->nd++] = x;
    return 0;
}

static int list_done(const serve_key_t *k, const value_t *v, char *what, size_t len)
{
    size_t n = k->type == T_ADDRESS_LIST ? v->list.count : v->nd;
    if (n < k->lo) {
        char want[200];
        snprintf(what, len, "must be %s, got an empty list",
                 want_text(k, want, sizeof want));
        return CN_EINVAL;
    }
    return 0;
}

/*
 * Parse the text of a scalar key into *v, checking its syntax and bounds.
 * Returns 0, or CN_EINVAL with the reason in what ("must be ..., got ...").
 * v is empty on entry and, on error, on return.
 */
static int parse_text(const serve_key_t *k, const char *text, value_t *v, char *what,
                      size_t len)
{
    char want[200], q[QUOTE_BUF], a[32], b[32];
    uint64_t u;
    uint16_t bp;
    int flag;
    switch (k->type) {
    case T_STRING:
        if (!*text && (k->opts & O_NULLABLE))
            return 0; /* unset */
        if (!*text) {
            snprintf(what, len, "must not be empty");
            return CN_EINVAL;
        }
        if (check_string(k->kind, text))
            return bad_value(k, text, what, len);
        v->s = cn_xstrndup(text, strlen(text));
        return 0;
    case T_ADDRESS: {
        size_t skip;
        if (check_address(text, (k->opts & O_LISTEN) != 0, &skip))
            return bad_value(k, text, what, len);
        v->s = cn_xstrndup(text + skip, strlen(text + skip));
        return 0;
    }
    case T_PREDICTION: {
        cn_router_pointer_t p;
        char perr[200];
        if (!*text || (text[0] != '/' && !cn_router_pointer_preset_text(text)))
            return bad_value(k, text, what, len);
        if (compile_prediction(text, &p, perr, sizeof perr)) {
            snprintf(what, len, "%s", perr);
            return CN_EINVAL;
        }
        cn_router_pointer_dispose(&p);
        v->s = cn_xstrndup(text, strlen(text));
        return 0;
    }
    case T_BOOL:
        if (parse_bool_text(text, &flag))
            return bad_value(k, text, what, len);
        v->u = (uint64_t)flag;
        return 0;
    case T_MODE: {
        cn_traffic_mode_t m;
        if (cn_traffic_mode_parse(text, &m))
            return bad_value(k, text, what, len);
        v->u = (uint64_t)m;
        return 0;
    }
    case T_PERCENT:
        if (cn_router_parse_percent_bp(text, &bp))
            return bad_value(k, text, what, len);
        v->u = bp;
        return 0;
    case T_UNSIGNED: {
        const char *s = text;
        if (read_digits(&s, &u) == 0 || *s || u < k->lo || u > k->hi)
            return bad_value(k, text, what, len);
        v->u = u;
        return 0;
    }
    case T_SIZE:
        if (parse_size_u64(text, &u)) {
            snprintf(what, len, "must be a size like 16MiB, got '%s'",
                     cn_text_quote(text, strlen(text), QUOTE_MAX, q));
            return CN_EINVAL;
        }
        if (u < k->lo || u > k->hi) {
            snprintf(what, len, "must be a size in [%s, %s], got '%s'",
                     size_text(k->lo, a, sizeof a), size_text(k->hi, b, sizeof b),
                     cn_text_quote(text, strlen(text), QUOTE_MAX, q));
            return CN_EINVAL;
        }
        v->u = u;
        return 0;
    case T_DURATION:
        if (parse_duration_u64(text, &u)) {
            snprintf(what, len, "must be a duration like 250ms, 10s or 2m, got '%s'",
                     cn_text_quote(text, strlen(text), QUOTE_MAX, q));
            return CN_EINVAL;
        }
        if (u < k->lo || u > k->hi) {
            snprintf(what, len, "must be a duration in [%s, %s], got '%s'",
                     duration_text(k->lo, a, sizeof a),
                     duration_text(k->hi, b, sizeof b),
                     cn_text_quote(text, strlen(text), QUOTE_MAX, q));
            return CN_EINVAL;
        }
        v->u = u;
        return 0;
    case T_ADDRESS_LIST:
    case T_DOUBLE_LIST:
        break;
    }
    snprintf(what, len, "must be %s", want_text(k, want, sizeof want));
    return CN_EINVAL;
}

static int empty_item(const char *text, char *what, size_t len)
{
    char q[QUOTE_BUF];
    snprintf(what, len, "must not have an empty item, got '%s'",
             cn_text_quote(text, strlen(text), QUOTE_MAX, q));
    return CN_EINVAL;
}

/*
 * A list from comma-separated text (flags and defaults): "a:1,b:2" or
 * "0.1, 0.5, 1". Blanks around an item are dropped; "" is the empty list.
 */
static int parse_list_text(const serve_key_t *k, const char *text, value_t *v,
                           char *what, size_t len)
{
    const char *s = text;
    int rc = 0;
    while (*s && !rc) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        const char *b = s, *e = s + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        char *item = cn_xstrndup(b, (size_t)(e - b));
        if (!*item) {
            rc = empty_item(text, what, len);
        } else if (k->type == T_ADDRESS_LIST) {
            rc = list_add_address(k, v, item, what, len);
        } else {
            rc = list_add_double(k, v, item, what, len);
        }
        free(item);
        if (!comma)
            break;
        s = comma + 1;
        if (!*s && !rc)
            rc = empty_item(text, what, len);
    }
    if (!rc)
        rc = list_done(k, v, what, len);
    if (rc)
        value_dispose(v);
    return rc;
}

static int parse_any_text(const serve_key_t *k, const char *text, value_t *v,
                          char *what, size_t len)
{
    int rc;
    if (k->type == T_ADDRESS_LIST || k->type == T_DOUBLE_LIST)
        return parse_list_text(k, text, v, what, len);
    if ((rc = parse_text(k, text, v, what, len)))
        value_dispose(v);
    return rc;
}

/* ----------------------------------------------------- init, dispose */

void cn_router_config_init(cn_router_config_t *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < COUNT(serve_keys); i++) {
        const serve_key_t *k = &serve_keys[i];
        if (!k->pub.default_text)
            continue; /* unset: NULL, as memset left it */
        value_t v = {0};
        char what[256];
        if (parse_any_text(k, k->pub.default_text, &v, what, sizeof what)) {
            /* A broken table is a bug in this file, not a user error. */
            fprintf(stderr, "canary: bad default for %s: %s\n", k->pub.key, what);
            abort();
        }
        store(c, k, &v);
    }
}

void cn_router_config_dispose(cn_router_config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < COUNT(serve_keys); i++) {
        const serve_key_t *k = &serve_keys[i];
        void *p = field(c, k);
        if (k->type == T_STRING || k->type == T_ADDRESS || k->type == T_PREDICTION)
            free(*(char **)p);
        else if (k->type == T_ADDRESS_LIST)
            addr_list_dispose(p);
        else if (k->type == T_DOUBLE_LIST)
            free(*(double **)p);
    }
    memset(c, 0, sizeof *c);
}

/* -------------------------------------------------------------- flags */

int cn_router_config_set_flag(cn_router_config_t *c, const char *name,
                              const char *value, char *err, size_t errlen)
{
    char q[QUOTE_BUF], what[320];
    if (err && errlen)
        err[0] = '\0';
    int negated;
    const serve_key_t *k = name ? find_flag(name, &negated) : NULL;
    if (!k) {
        if (err && errlen)
            snprintf(
                err, errlen, "--%s: unknown option",
                cn_text_quote(name ? name : "", name ? strlen(name) : 0, QUOTE_MAX, q));
        return CN_ENOTFOUND;
    }
    const char *flag = negated ? k->pub.negated_flag : k->pub.flag;
    value_t v = {0};
    int rc;
    if (!value && k->type != T_BOOL) {
        snprintf(what, sizeof what, "needs a value");
        rc = CN_EINVAL;
    } else if (!value) {
        v.u = 1;
        rc = 0;
    } else {
        rc = parse_any_text(k, value, &v, what, sizeof what);
    }
    if (rc) {
        if (err && errlen)
            snprintf(err, errlen, "--%s: %s", flag, what);
        return rc;
    }
    if (negated)
        v.u = !v.u;
    store(c, k, &v);
    return 0;
}

/* ----------------------------------------------------------- validate */

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return CN_EINVAL;
}

/* Check one field against its entry, as if it had been parsed. */
static int validate_key(const cn_router_config_t *c, const serve_key_t *k, char *err,
                        size_t errlen)
{
    const void *p = cfield(c, k);
    char text[64], what[320];
    value_t v = {0};
    int rc = 0;
    switch (k->type) {
    case T_STRING:
    case T_ADDRESS:
    case T_PREDICTION: {
        const char *s = *(char *const *)p;
        if (!s && (k->opts & O_NULLABLE))
            return 0;
        if (!s)
            return fail(err, errlen, "key '%s' (--%s): must be set", k->pub.key,
                        k->pub.flag);
        rc = parse_text(k, s, &v, what, sizeof what);
        break;
    }
    case T_ADDRESS_LIST: {
        const cn_router_addr_list_t *l = p;
        if (l->count && !l->items)
            return fail(err, errlen, "key '%s' (--%s): %zu addresses but no items",
                        k->pub.key, k->pub.flag, l->count);
        for (size_t i = 0; i < l->count && !rc; i++) {
            if (!l->items[i])
                return fail(err, errlen, "key '%s' (--%s): address %zu is NULL",
                            k->pub.key, k->pub.flag, i);
            rc = list_add_address(k, &v, l->items[i], what, sizeof what);
        }
        if (!rc)
            rc = list_done(k, &v, what, sizeof what);
        break;
    }
    case T_DOUBLE_LIST: {
        const double *d = *(double *const *)p;
        size_t n = *(const size_t *)((const char *)c + k->count_offset);
        if (n && !d)
            return fail(err, errlen, "key '%s' (--%s): %zu bounds but no array",
                        k->pub.key, k->pub.flag, n);
        for (size_t i = 0; i < n && !rc; i++) {
            if (!isfinite(d[i])) {
                snprintf(what, sizeof what, "bounds must be finite, got %g", d[i]);
                rc = CN_EINVAL;
            } else {
                snprintf(text, sizeof text, "%.17g", d[i]);
                rc = list_add_double(k, &v, text, what, sizeof what);
            }
        }
        if (!rc)
            rc = list_done(k, &v, what, sizeof what);
        break;
    }
    case T_BOOL:
        return 0;
    case T_MODE: {
        cn_traffic_mode_t m;
        memcpy(&m, p, sizeof m);
        snprintf(text, sizeof text, "%s", cn_traffic_mode_name(m));
        rc = parse_text(k, text, &v, what, sizeof what);
        break;
    }
    case T_PERCENT: {
        uint64_t bp = load_uint(p, k->width);
        if (bp > CN_BP_MAX) {
            snprintf(text, sizeof text, "%llu.%02llu", (unsigned long long)(bp / 100),
                     (unsigned long long)(bp % 100));
            rc = bad_value(k, text, what, sizeof what);
        }
        break;
    }
    case T_UNSIGNED:
    case T_SIZE:
    case T_DURATION:
        snprintf(text, sizeof text, "%llu", (unsigned long long)load_uint(p, k->width));
        rc = parse_text(k, text, &v, what, sizeof what);
        break;
    }
    value_dispose(&v);
    if (rc)
        return fail(err, errlen, "key '%s' (--%s): %s", k->pub.key, k->pub.flag, what);
    return 0;
}

int cn_router_config_validate(const cn_router_config_t *c, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!c)
        return fail(err, errlen, "no config");
    for (size_t i = 0; i < COUNT(serve_keys); i++) {
        int rc = validate_key(c, &serve_keys[i], err, errlen);
        if (rc)
            return rc;
    }
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
    if (strcmp(c->listen, c->admin) == 0 && strcmp(strrchr(c->listen, ':'), ":0") != 0)
        return fail(err, errlen,
                    "key 'admin' (--admin): must differ from listen, both are '%s'",
                    c->admin);
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

static const char *quote(const char *s, size_t len, char *buf)
{
    return cn_text_quote(s, len, QUOTE_MAX, buf);
}

/* Keys that must be plain YAML (a quoted "3" is not an integer). */
static int wants_plain(const serve_key_t *k)
{
    return k->type == T_UNSIGNED || k->type == T_BOOL || k->type == T_DOUBLE_LIST;
}

/* A list key: a YAML sequence of scalars, each checked with its line. */
static int yaml_list(cn_yaml_t *y, const serve_key_t *k, struct fy_node *n, int line,
                     cn_router_config_t *cfg)
{
    char want[200], d[CN_YAML_DESCRIBE_BUF], what[320], path[160];
    int rc = 0;
    line = cn_yaml_node_line(n, line);
    n = cn_yaml_deref(y, n, line, k->pub.key, &rc);
    if (rc)
        return rc;
    value_t v = {0};
    if (!cn_yaml_is_null(n) && !fy_node_is_sequence(n))
        return cn_yaml_report(y, CN_EINVAL, line, k->pub.key, "must be %s, got %s",
                              want_text(k, want, sizeof want),
                              cn_yaml_describe(y, n, d));
    void *it = NULL;
    struct fy_node *item;
    size_t idx = 0;
    while (!rc && !cn_yaml_is_null(n) && (item = fy_node_sequence_iterate(n, &it))) {
        snprintf(path, sizeof path, "%s[%zu]", k->pub.key, idx++);
        const char *iwant = k->type != T_ADDRESS_LIST ? "a finite number"
                            : k->kind == S_SEGMENT    ? "a segment value"
                                                      : "an address host:port";
        cn_yaml_scalar_t s;
        if ((rc = cn_yaml_get_scalar(y, item, line, path, iwant, 0, &s)))
            break;
        char q[QUOTE_BUF];
        if (k->type == T_DOUBLE_LIST && s.is_string)
            rc = cn_yaml_report(y, CN_EINVAL, s.line, path,
                                "must be %s, got the string '%s'", iwant,
                                quote(s.text, strlen(s.text), q));
        else if ((k->type == T_ADDRESS_LIST
                      ? list_add_address(k, &v, s.text, what, sizeof what)
                      : list_add_double(k, &v, s.text, what, sizeof what)))
            rc = cn_yaml_report(y, CN_EINVAL, s.line, path, "%s", what);
        free(s.text);
    }
    if (!rc && (rc = list_done(k, &v, what, sizeof what)))
        rc = cn_yaml_report(y, CN_EINVAL, line, k->pub.key, "%s", what);
    if (rc) {
        value_dispose(&v);
        return rc;
    }
    store(cfg, k, &v);
    return 0;
}

static int yaml_leaf(cn_yaml_t *y, const serve_key_t *k, struct fy_node *n, int line,
                     cn_router_config_t *cfg)
{
    if (k->type == T_ADDRESS_LIST || k->type == T_DOUBLE_LIST)
        return yaml_list(y, k, n, line, cfg);
    char want[200], what[320], q[QUOTE_BUF];
    cn_yaml_scalar_t s;
    int rc = cn_yaml_get_scalar(y, n, line, k->pub.key, want_text(k, want, sizeof want),
                                (k->opts & O_NULLABLE) != 0, &s);
    if (rc)
        return rc;
    value_t v = {0};
    if (wants_plain(k) && s.is_string)
        rc = cn_yaml_report(y, CN_EINVAL, s.line, k->pub.key,
                            "must be %s, got the string '%s'", want,
                            quote(s.text, strlen(s.text), q));
    else if (parse_text(k, s.text, &v, what, sizeof what))
        rc = cn_yaml_report(y, CN_EINVAL, s.line, k->pub.key, "%s", what);
    free(s.text);
    if (rc) {
        value_dispose(&v);
        return rc;
    }
    store(cfg, k, &v);
    return 0;
}

/* The keys directly under a section ("" for the top), in table order:
 * "listen, admin, ..., limits" or "path, interval, timeout, ...". */
static const char *children_text(const char *prefix, char *buf, size_t len)
{
    size_t plen = strlen(prefix), used = 0;
    const char *last = NULL;
    size_t last_len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < COUNT(serve_keys); i++) {
        const char *key = serve_keys[i].pub.key;
        if (strncmp(key, prefix, plen) != 0)
            continue;
        const char *child = key + plen;
        size_t n = strcspn(child, ".");
        if (last && n == last_len && memcmp(child, last, n) == 0)
            continue;
        last = child;
        last_len = n;
        int w =
            snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)n, child);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    return buf;
}

/* Is there any key under "prefix." (a section)? */
static int is_section(const char *path)
{
    size_t n = strlen(path);
    for (size_t i = 0; i < COUNT(serve_keys); i++)
        if (strncmp(serve_keys[i].pub.key, path, n) == 0 &&
            serve_keys[i].pub.key[n] == '.')
            return 1;
    return 0;
}

/* The keys of a mapping at `prefix` ("" or "traffic."). */
static int yaml_mapping(cn_yaml_t *y, struct fy_node *map, int line, const char *prefix,
                        cn_router_config_t *cfg)
{
    void *it = NULL;
    struct fy_node_pair *p;
    char expected[400];
    while ((p = fy_node_mapping_iterate(map, &it))) {
        char d[CN_YAML_DESCRIBE_BUF], q[QUOTE_BUF], path[200];
        /* Name the section ("traffic") in a message, or nothing at the top. */
        snprintf(path, sizeof path, "%s", prefix);
        path[strlen(path) ? strlen(path) - 1 : 0] = '\0';
        const char *key;
        size_t klen;
        int kline;
        int rc = cn_yaml_get_key(y, p, line, path, &key, &klen, &kline);
        if (rc)
            return rc;
        snprintf(path, sizeof path, "%s%s", prefix, quote(key, klen, q));
        /* A key is one name: "traffic.mode" at the top is not traffic's
         * mode, and a quoted excerpt (cut or with '?') matches nothing. */
        int exact =
            klen == strlen(q) && memcmp(key, q, klen) == 0 && !memchr(key, '.', klen);
        const serve_key_t *k = exact ? find_key(path) : NULL;
        struct fy_node *v = fy_node_pair_value(p);
        if (k) {
            rc = yaml_leaf(y, k, v, kline, cfg);
        } else if (exact && is_section(path)) {
            char sub[208];
            snprintf(sub, sizeof sub, "%s.", path);
            v = cn_yaml_deref(y, v, kline, path, &rc);
            if (rc)
                return rc;
            if (!v || !fy_node_is_mapping(v))
                return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(v, kline), path,
                                      "must be a mapping of keys (%s), got %s",
                                      children_text(sub, expected, sizeof expected),
                                      cn_yaml_describe(y, v, d));
            rc = yaml_mapping(y, v, kline, sub, cfg);
        } else if (!*prefix && !*y->prefix && strcmp(path, "analysis") == 0) {
            /* The judge's section next to serve keys at the top level: say
             * how to combine the two rather than just "unknown". */
            rc = cn_yaml_report(
                y, CN_EINVAL, kline, path,
                "unknown key; to keep the judge's section in this file, put "
                "the serve keys under 'serve:'");
        } else {
            rc = cn_yaml_report(y, CN_EINVAL, kline, path,
                                "unknown key (expected one of %s)",
                                children_text(prefix, expected, sizeof expected));
        }
        if (rc)
            return rc;
    }
    return 0;
}

/*
 * Next to a `serve:` section, the other top-level keys belong to other
 * components and are not read, but one named like a serve key ("limits:")
 * is almost surely a serve key indented wrongly, and ignoring it would
 * silently drop a setting.
 */
static int stray_serve_keys(cn_yaml_t *y, struct fy_node *root)
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
        if (find_key(name) || is_section(name))
            return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(k, 1), name,
                                  "a serve key outside the 'serve:' section; indent it "
                                  "under 'serve:'");
    }
    return 0;
}

/*
 * The serve keys of doc: the `serve` section if the root has one (the rest
 * belongs to other components), else the root. Sets y->prefix to match.
 */
static int parse_document(cn_yaml_t *y, struct fy_document *doc,
                          cn_router_config_t *cfg)
{
    struct fy_node *root = doc ? fy_document_root(doc) : NULL;
    char d[CN_YAML_DESCRIBE_BUF], expected[400];
    if (!root || cn_yaml_is_null(root))
        return 0; /* nothing set: the defaults and the flags stand */
    children_text("", expected, sizeof expected);
    if (!fy_node_is_mapping(root))
        return cn_yaml_report(y, CN_EINVAL, cn_yaml_node_line(root, 1), NULL,
                              "the config must be a mapping of keys (%s), got %s",
                              expected, cn_yaml_describe(y, root, d));
    struct fy_node *section;
    int kline;
    int rc = cn_yaml_section(y, root, "serve", expected, &section, &kline);
    if (rc)
        return rc;
    if (!section)
        return yaml_mapping(y, root, cn_yaml_node_line(root, 1), "", cfg);
    if ((rc = stray_serve_keys(y, root)))
        return rc;
    y->prefix = "serve.";
    return yaml_mapping(y, section, kline, "", cfg);
}

int cn_router_config_parse_yaml(cn_router_config_t *cfg, const char *text, size_t len,
                                const char *filename, char *err, size_t errlen)
{
    cn_yaml_t yaml;
    cn_yaml_init(&yaml, filename, err, errlen);
    struct fy_document *doc;
    int rc = cn_yaml_load(&yaml, text, len, &doc);
    if (!rc)
        rc = parse_document(&yaml, doc, cfg);
    cn_yaml_dispose(&yaml);
    return rc;
}
