/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The config engine: a module describes its keys in a table (name, type,
 * bounds, default, help, flag, and where the value goes in its struct),
 * and the engine does the rest the same way for every module, in the
 * manner of HAProxy's registered keyword lists and Redis's
 * static_configs[]:
 *  - the defaults (text such as "16MiB", parsed like a value, so a default
 *    cannot disagree with its bounds or with the documentation);
 *  - the YAML walk (util/yaml.h), with one message format for every error,
 *        FILE:LINE: key 'a.b[2].c': must be ..., got '...'
 *  - the command-line flags (--canary-weight 5);
 *  - the check of a struct built in code against the same bounds;
 *  - the effective configuration, written back as YAML or JSON.
 *
 * A table's keys are dotted paths ("traffic.mode"): a dot opens a nested
 * mapping, and keys of one section are contiguous in the table. Besides
 * scalars and lists of scalars, a key can hold
 *  - a record: a mapping read with its own table into a struct inside the
 *    parent struct (CN_CONFIG_RECORD);
 *  - a list of records: each item a mapping read with its own table into
 *    an element of an array the engine grows (CN_CONFIG_LIST), such as the
 *    judge's metrics;
 *  - a list of one-of items: each item a mapping of exactly one key out
 *    of the item table's keys, each with its own type, such as a rollout's
 *    steps (`- set_weight: 5`, `- pause: 10m`, `- analysis: {...}`)
 *    (CN_CONFIG_ONEOF_LIST);
 *  - a map: a mapping of free names to values of one type
 *    (CN_CONFIG_MAP), such as the judge's group weights.
 * A table may name one enumeration key as its discriminator: the keys
 * marked `when` are used only for some of its values, and any other use is
 * an error ("not used by test 'ks' (only by psi)"), because a key meant
 * for another kind of item must not be silently ignored.
 *
 * Several tables can be read as one section (cn_config_part_t): the
 * composition root assembles the server's, the router's and the store's
 * keys under `serve:` without any one of them knowing the others.
 *
 * Ownership: the engine allocates strings and arrays in the caller's
 * struct with cn_xmalloc and frees them in cn_config_dispose(); a string
 * field that is replaced is freed. Pure: no I/O except the FILE the
 * caller gives cn_config_emit(), no global state.
 */
#ifndef CN_UTIL_CONFIG_H
#define CN_UTIL_CONFIG_H

#include "util/yaml.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct fy_node;

typedef enum cn_config_type_e {
    CN_CONFIG_STRING,       /* char *, checked by kind (and check()) */
    CN_CONFIG_ADDRESS,      /* char *, "host:port" or "[v6]:port" */
    CN_CONFIG_ADDRESS_LIST, /* cn_config_strv_t; count in [lo, hi] */
    CN_CONFIG_BOOL,         /* bool or int (by width) */
    CN_CONFIG_PERCENT,      /* uint16_t basis points, 0.01% granularity */
    CN_CONFIG_UNSIGNED,     /* unsigned integer of 1, 2, 4 or 8 bytes, [lo, hi] */
    CN_CONFIG_SIZE,         /* unsigned integer of bytes, "16MiB", [lo, hi] */
    CN_CONFIG_DURATION,     /* unsigned integer of ms, "2s", [lo, hi] */
    CN_CONFIG_DOUBLE,       /* double in [dlo, dhi] (ends open by opts) */
    CN_CONFIG_DOUBLE_LIST,  /* double * and a size_t count; strictly ascending */
    CN_CONFIG_ENUM,         /* int-sized enum, one of names[] */
    CN_CONFIG_CUSTOM,       /* parsed and written by callbacks */
    CN_CONFIG_RECORD,       /* a mapping read with `table` at offset */
    CN_CONFIG_LIST,         /* list of mappings, each read with `table` */
    CN_CONFIG_ONEOF_LIST,   /* list of one-key mappings; the key is one of
                               `table`'s keys */
    CN_CONFIG_MAP,          /* mapping of names to values of table->keys[0] */
} cn_config_type_t;

/* What a CN_CONFIG_STRING may hold. */
typedef enum cn_config_kind_e {
    CN_CONFIG_ANY = 0, /* any string without NUL */
    CN_CONFIG_HEADER,  /* an HTTP header name (RFC 9110 token) */
    CN_CONFIG_COOKIE,  /* a cookie name (also a token) */
    CN_CONFIG_LABEL,   /* a label: header value and metric label, <= 63 */
    CN_CONFIG_URLPATH, /* "/healthz" */
    CN_CONFIG_FILE,    /* a file system path */
} cn_config_kind_t;

enum {
    CN_CONFIG_NULLABLE = 1 << 0,     /* ~ unsets the key (stores NULL) */
    CN_CONFIG_EMPTY_UNSETS = 1 << 1, /* "" unsets it too */
    CN_CONFIG_LISTEN = 1 << 2,       /* address to listen on: port 0 and
                                        an empty host allowed */
    CN_CONFIG_REQUIRED = 1 << 3,     /* must be given (in a record) */
    CN_CONFIG_LO_OPEN = 1 << 4,      /* DOUBLE: dlo itself is out */
    CN_CONFIG_HI_OPEN = 1 << 5,      /* DOUBLE: dhi itself is out */
    CN_CONFIG_ZERO_UNSETS = 1 << 6,  /* UNSIGNED: 0 stands for "not set"
                                        (derived elsewhere): not checked,
                                        not written out */
};

/* A list of strings (addresses), owned. */
typedef struct cn_config_strv_s {
    size_t count;
    char **items;
} cn_config_strv_t;

/* One name of an enumeration; a table of them ends with {NULL, 0}. */
typedef struct cn_config_name_s {
    const char *name;
    int value;
} cn_config_name_t;

/* The value named s in names: 0, or CN_EINVAL (s NULL or not there). */
int cn_config_name_value(const cn_config_name_t *names, const char *s, int *out);

/* The name of value v in names, or NULL. */
const char *cn_config_name_of(const cn_config_name_t *names, int v);

typedef struct cn_config_key_s cn_config_key_t;
typedef struct cn_config_table_s cn_config_table_t;

/* Callbacks of a CN_CONFIG_CUSTOM key; `record` is the struct the table
 * describes (not the field), so one key may set several fields. */
typedef struct cn_config_custom_s {
    /* Parse text into record; 0, or CN_EINVAL with "must be ..., got ..."
     * (or another reason) in what. */
    int (*parse)(const cn_config_key_t *k, const char *text, void *record, char *what,
                 size_t len);
    /* The value as one would write it; returns buf. */
    const char *(*format)(const cn_config_key_t *k, const void *record, char *buf,
                          size_t len);
    /* Whether the value is a number when written (JSON and YAML output). */
    bool numeric;
} cn_config_custom_t;

struct cn_config_key_s {
    /* public: what the help text and the documentation see */
    const char *key;          /* dotted path in its table: "traffic.mode" */
    const char *flag;         /* flag without dashes, or NULL: none */
    const char *negated_flag; /* switch setting a boolean to false, or NULL */
    const char *default_text; /* as one would write it; NULL: none */
    const char *help;         /* one line: what the key means */
    /* the value */
    cn_config_type_t type;
    cn_config_kind_t kind;
    unsigned opts;
    uint64_t lo, hi;               /* integer bounds, or a list's length bounds */
    double dlo, dhi;               /* DOUBLE bounds; +-INFINITY: unbounded */
    const cn_config_name_t *names; /* ENUM */
    const cn_config_custom_t *custom;
    const cn_config_table_t *table; /* RECORD, LIST, ONEOF_LIST, MAP */
    /* STRING: an extra check after the kind's; 0 or CN_EINVAL with the
     * reason in what. */
    int (*check)(const char *text, char *what, size_t len);
    const char *want; /* overrides the "must be ..." text, or NULL */
    /* where it goes: offsets in the table's struct */
    size_t offset, width;
    size_t count_offset; /* lists: the size_t count */
    size_t set_at;       /* offset + 1 of an int set to 1 when the key is
                            given; 0: none. A key that has one and is not set
                            is not checked or written out. */
    int tag;             /* ONEOF_LIST items: the value stored in the
                            element's tag when this key is chosen */
    unsigned when;       /* bit v set: used when the table's discriminator
                            has value v; 0: always */
};

/*
 * A cross-field check of a table, run after a mapping is read and by
 * cn_config_check(). Returns 0, or CN_EINVAL with the blamed key (a path
 * relative to the table, "thresholds" or "metrics[2].name") in path and
 * the reason in what; *line may be set (> 0) when the check knows it
 * better than the engine (which otherwise uses the line of that key, if it
 * was read, or of the mapping).
 */
typedef int (*cn_config_check_fn)(const void *record, char *path, size_t pathlen,
                                  int *line, char *what, size_t len);

struct cn_config_table_s {
    const cn_config_key_t *keys;
    size_t n_keys;
    size_t size;               /* sizeof the struct (for lists and maps) */
    size_t line_at;            /* offset + 1 of an int: the mapping's line */
    size_t tag_at;             /* ONEOF_LIST elements: offset + 1 of the int tag */
    size_t name_at;            /* MAP elements: offset + 1 of the char * name */
    const char *discriminator; /* key (ENUM) whose value gates `when` keys */
    const char *item_want;     /* "a mapping with name, test, ..." for messages,
                                  or NULL: the keys are listed */
    cn_config_check_fn check;
};

/* Offset + 1 of a field, for set_at, line_at, tag_at and name_at. */
#define CN_CONFIG_AT(type, field) (offsetof(type, field) + 1)

/* Most keys in one table, and most tables read as one section. */
#define CN_CONFIG_KEYS_MAX 64
#define CN_CONFIG_PARTS_MAX 8

/* One table and the struct it fills: tables read as one section. */
typedef struct cn_config_part_s {
    const cn_config_table_t *table;
    void *record;
} cn_config_part_t;

/*
 * Fill *record with the table's defaults: everything zero, then every key
 * with a default_text parsed as a flag would be. A broken default is a bug
 * in the table, and aborts with a message. Lists start empty.
 */
void cn_config_init(const cn_config_table_t *t, void *record);

/* Free what the table's fields own (strings, lists, list elements,
 * recursively) and zero the struct. Twice is harmless. */
void cn_config_dispose(const cn_config_table_t *t, void *record);

/*
 * Read the mapping `map` (found at `line`) into the parts, as the section
 * at `prefix` ("" or "traffic."; y->prefix comes before it in messages).
 * Only the keys present change; unknown keys, wrong types and out-of-range
 * values are errors, reported through y as "FILE:LINE: key 'PATH': ...".
 * Each part's table check runs at the end. Returns 0, or CN_EINVAL (the
 * parts may be partly updated; dispose them either way).
 */
int cn_config_read(cn_yaml_t *y, const cn_config_part_t *parts, size_t n_parts,
                   struct fy_node *map, int line);

/*
 * Apply one command-line flag: `name` without dashes, its value as text
 * (lists comma-separated; "" unsets a nullable key or empties a list; a
 * boolean takes NULL as true; a negated flag sets false). Returns 0,
 * CN_ENOTFOUND when no part has the flag, or CN_EINVAL with one line in
 * err ("--canary-weight: must be ..., got '150'") and nothing changed.
 */
int cn_config_set_flag(const cn_config_part_t *parts, size_t n_parts, const char *name,
                       const char *value, char *err, size_t errlen);

/* A problem cn_config_check() found. */
typedef struct cn_config_problem_s {
    const cn_config_key_t *key; /* the key, or NULL (a cross-field check) */
    char path[200];             /* "metrics[2].margin" */
    int line;                   /* from the record's line_at, or 0 */
    char what[400];             /* "must be ..., got '...'" */
} cn_config_problem_t;

/*
 * Check a struct (built in code, or parsed and then changed) against its
 * table as if every field had been parsed from text: bounds, kinds and
 * list rules, recursively, then the table's cross-field checks. Keys that
 * the discriminator does not use and keys with set_at not set are
 * skipped. Returns 0, or CN_EINVAL with *p filled.
 */
int cn_config_check(const cn_config_table_t *t, const void *record,
                    cn_config_problem_t *p);

/* The key of table t (nested tables included) with this flag, and
 * whether it was the negated one; NULL when none. */
const cn_config_key_t *cn_config_find_flag(const cn_config_table_t *t, const char *flag,
                                           bool *negated);

/* The key at dotted path `key` in t (no list indices), or NULL. */
const cn_config_key_t *cn_config_find_key(const cn_config_table_t *t, const char *key);

/* What a key accepts, for messages and help: "an integer in [1, 1024]",
 * "a size in [1KiB, 80KiB]". Written into buf (200 bytes is plenty);
 * returns buf. */
const char *cn_config_want(const cn_config_key_t *k, char *buf, size_t len);

/* The names directly under `prefix` ("" or "traffic.") across the parts,
 * in table order: "listen, admin, ..., limits". Returns buf. */
const char *cn_config_children(const cn_config_part_t *parts, size_t n_parts,
                               const char *prefix, char *buf, size_t len);

/* Whether some key of the parts is `name` or lies under "name.". */
bool cn_config_has_name(const cn_config_part_t *parts, size_t n_parts,
                        const char *name);

/* The value of key k in record as one would write it ("16MiB", "2s",
 * "2.5", "true", "a:1,b:2"); "" when unset. Lists of records: "". */
const char *cn_config_format(const cn_config_key_t *k, const void *record, char *buf,
                             size_t len);

typedef enum cn_config_style_e {
    CN_CONFIG_YAML, /* block YAML, two spaces per level, that reads back */
    CN_CONFIG_JSON, /* one JSON object; sizes and durations as strings */
} cn_config_style_t;

/*
 * Write the effective configuration of a file's sections: sections[i] is
 * named names[i] ("serve") and made of its parts. Every key is written,
 * defaults included; an unset key is null. Lists of records are written
 * item by item. YAML output is itself a valid config with the same
 * values. Returns 0 or CN_EIO (a write failed).
 */
typedef struct cn_config_section_s {
    const char *name;
    const cn_config_part_t *parts;
    size_t n_parts;
} cn_config_section_t;

int cn_config_emit(FILE *out, cn_config_style_t style,
                   const cn_config_section_t *sections, size_t n_sections);

#endif
