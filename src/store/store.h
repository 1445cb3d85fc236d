/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The state file of `canary serve --state PATH`: a SQLite database that
 * keeps what the router routes with across restarts (the traffic split and
 * the stable and canary version sets, saved together as a generation) and
 * a history of every change (when, what, who, which generation); the model
 * registry (models, their versions and tags); and the rollouts, each with
 * the state a controller resumes from after a crash and an append-only
 * audit trail. This module is the only one that includes sqlite3.h; it
 * takes its plain types from types/types.h. The registry's rules for
 * people's input live in registry/registry.h, over this.
 *
 * The file. It is opened in WAL mode with synchronous=FULL, so a change
 * that a save reported as saved survives a crash or a power cut, and
 * readers (sqlite3 on the command line) do not block the writer. A busy
 * timeout makes a second process wait for a lock instead of failing at
 * once. A file is recognised as ours by its SQLite application_id ('CNRY')
 * and a schema_version table:
 *  - a path that does not exist is created (0644 less the umask) with the
 *    current schema; so is an empty file: zero bytes, or a SQLite database
 *    with no tables, application_id 0 and user_version 0;
 *  - a file of ours is used; an older schema is migrated in one
 *    transaction (version 1, the traffic split alone, becomes version 2
 *    with its rows kept, and version 2 becomes 3, which adds the registry
 *    and the rollouts); a newer one is refused, since this build cannot
 *    know what it means;
 *  - anything else is refused and left untouched: a directory, a file that
 *    is not SQLite or is corrupt, and a SQLite database of another
 *    application (another application_id, a user_version, or tables of
 *    its own), because writing our tables into someone else's database is
 *    never what was meant. The SQLite header is read with plain read(2)
 *    first, so a file refused on it is never opened by SQLite at all;
 *  - a file, or a directory to create it in, that this process may not
 *    write is refused before SQLite opens it (so no -wal or -shm file is
 *    left behind), with the system's reason ("Permission denied").
 * Every refusal is one line naming the path, e.g.
 *     state file '/tmp/x.db': not a canary state file (a SQLite database of
 *     another application: application_id 0, tables: users); refusing to
 *     change it
 *
 * Threads and event loops. A cn_store_t may be used from any thread; its
 * calls are serialised by a mutex. Every call does synchronous disk I/O,
 * and every save ends with an fsync (which can take tens of milliseconds
 * on a busy disk, and up to the busy timeout when another process holds
 * the lock), so callers run them off their event loops: on a writer
 * thread or through uv_queue_work.
 *
 * Errors: 0, or a negative CN_E* code with one line in err[0..errlen):
 * CN_EINVAL for a bad argument or a file that is not ours (or holds values
 * out of range), CN_EIO for a failed read or write; the registry and the
 * rollouts add CN_ENOTFOUND (no such model, version or rollout) and
 * CN_ECONFLICT (refused by what is stored: another active rollout, a
 * decision taken on a stale view). A refused write writes nothing: every
 * write is one transaction.
 */
#ifndef CN_STORE_STORE_H
#define CN_STORE_STORE_H

#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The schema this build writes. 1: the traffic split and its history.
 * 2: adds the version sets, their history, and generation numbers.
 * 3: adds models, their versions and tags, rollouts and their audit
 * trail. 4: adds the notification outbox. 5: adds each model's own
 * generation (model_generations, cn_store_scope_model). */
#define CN_STORE_SCHEMA_VERSION 5

/* SQLite application_id of a canary state file: "CNRY" in ASCII. */
#define CN_STORE_APPLICATION_ID 0x434E5259

/* Longest `who` saved with a change, in bytes. */
#define CN_STORE_WHO_MAX 200

/* Rows of traffic_history kept; older ones are deleted as new ones come. */
#define CN_STORE_HISTORY_MAX 100000

/* Rows of versions_history kept. Fewer than for the traffic, because a row
 * holds both address sets (a few hundred bytes usually, up to ~130 KiB
 * with 256 long addresses per set). */
#define CN_STORE_VERSIONS_HISTORY_MAX 10000

/* Longest address saved, in bytes ("host:port" as written). */
#define CN_STORE_ADDRESS_MAX 255

typedef struct cn_store_s cn_store_t;

/* One change of the traffic split, as kept in traffic_history. */
typedef struct cn_store_change_s {
    int64_t id;           /* increasing with time */
    int64_t time_unix_ms; /* wall clock when it was saved */
    uint64_t generation;  /* 0 for rows saved by schema version 1 */
    cn_traffic_t traffic;
    char who[CN_STORE_WHO_MAX + 1];
} cn_store_change_t;

/* Bits of cn_store_versions_change_t.changed. */
#define CN_STORE_CHANGED_STABLE (1u << CN_ROLE_STABLE)
#define CN_STORE_CHANGED_CANARY (1u << CN_ROLE_CANARY)

/*
 * One saved generation's version sets, as kept in versions_history: both
 * sets as they were after the save, and which of them differed from the
 * sets saved before (both, for the first save in a file). The sets are
 * owned: release each filled entry with cn_store_versions_change_dispose().
 */
typedef struct cn_store_versions_change_s {
    int64_t id;           /* increasing with time */
    int64_t time_unix_ms; /* wall clock when it was saved */
    uint64_t generation;
    unsigned changed; /* CN_STORE_CHANGED_* bits */
    cn_version_set_t sets[CN_ROLE_COUNT];
    char who[CN_STORE_WHO_MAX + 1];
} cn_store_versions_change_t;

/*
 * Open (or create) the state file at path (borrowed), as described above.
 * Returns 0 with a handle in *out, to be closed with cn_store_close(), or
 * an error with *out set to NULL.
 */
int cn_store_open(const char *path, cn_store_t **out, char *err, size_t errlen);

/* Close the file. NULL is a no-op. */
void cn_store_close(cn_store_t *s);

/* The path given to cn_store_open(), owned by the store. */
const char *cn_store_path(const cn_store_t *s);

/*
 * Scope this handle's generation to one model (canary control drives
 * several models from one file, each controller with its own handle):
 * from now on cn_store_save_generation, cn_store_load_generation and a
 * rollout update's generation read and write that model's row of
 * model_generations (the split and both sets; numbers grow per model; no
 * history table: the rollouts' audit trail says what changed), not the
 * file's one generation that `canary serve` keeps. Call it right after
 * cn_store_open, before any other use. model is checked as a registry
 * name (1-63 bytes): 0, or CN_EINVAL.
 */
int cn_store_scope_model(cn_store_t *s, const char *model, char *err, size_t errlen);

/* ------------------------------------------------------- generations */

/*
 * Save g as what the router routes with: the traffic split and both
 * version sets become current, the split is appended to traffic_history
 * and the sets to versions_history (with `who`, the time and g->number),
 * all in one transaction that is durable (fsynced) when this returns 0.
 * `who` is borrowed; NULL is ""; at most CN_STORE_WHO_MAX bytes (e.g.
 * "admin 10.0.0.7").
 *
 * Refused with CN_EINVAL, writing nothing:
 *  - a split out of range (cn_traffic_validate);
 *  - a version label that is empty, longer than CN_VERSION_LABEL_MAX
 *    bytes, or holds a control character;
 *  - more than CN_VERSION_MAX_ADDRESSES addresses in a set, or an address
 *    that is empty, longer than CN_STORE_ADDRESS_MAX bytes, or holds
 *    anything but printable ASCII without space, '"' and '\' (what an
 *    address as written never holds; this keeps the stored JSON plain);
 *  - g->number 0, not greater than the generation saved last (numbers
 *    only grow, so the history is in publication order), or above
 *    INT64_MAX. A caller loads the last number at start and counts on.
 * Whether the values suit the running process (a canary weight with no
 * canary address, duplicate addresses) is the caller's check.
 */
int cn_store_save_generation(cn_store_t *s, const cn_generation_t *g, const char *who,
                             char *err, size_t errlen);

/*
 * Read what was saved, onto *out, which the caller has initialised
 * (cn_generation_init, or the values from the config): what the file
 * holds replaces the matching parts of *out, and the rest is left as it
 * was, so a caller gets "the file, else the config" in one call.
 *  - *has_traffic: a current split was saved (by either save); it is in
 *    out->traffic.
 *  - *has_versions: version sets were saved (by cn_store_save_generation);
 *    they replace out->sets. False in a new file and in a file migrated
 *    from schema version 1 that has not saved a generation since.
 *  - out->number is the last generation saved (0 if the split came from
 *    schema version 1), set when either flag is true.
 * Both false (a new file): *out is untouched. On an error (a row edited
 * out of range by hand is CN_EINVAL, naming the table and the column),
 * *out is untouched too.
 */
int cn_store_load_generation(cn_store_t *s, cn_generation_t *out, bool *has_traffic,
                             bool *has_versions, char *err, size_t errlen);

/*
 * The most recent entries of versions_history, oldest first: up to max of
 * them into out[] (the caller's array; its entries need no initialising),
 * their number in *n. The caller disposes each of the *n entries. On an
 * error nothing is left to dispose and *n is 0.
 */
int cn_store_versions_history(cn_store_t *s, cn_store_versions_change_t *out,
                              size_t max, size_t *n, char *err, size_t errlen);

/* Free the sets of an entry filled by cn_store_versions_history() and zero
 * it. Twice is harmless. */
void cn_store_versions_change_dispose(cn_store_versions_change_t *c);

/* ----------------------------------------------------------- traffic */

/*
 * Read the saved traffic split. Returns 0 with *found false and *out
 * untouched if nothing was ever saved, or with *found true and *out set.
 * A saved row that is out of range (edited by hand) is CN_EINVAL, naming
 * the file and the column.
 */
int cn_store_load_traffic(cn_store_t *s, cn_traffic_t *out, bool *found, char *err,
                          size_t errlen);

/*
 * Save t as the current split and append it to traffic_history with the
 * time and `who` (as for cn_store_save_generation), in one durable
 * transaction. The version sets are not touched, and the generation number
 * stays the one saved last (so a load afterwards sees the new split with
 * the sets of that generation). t out of range is CN_EINVAL, and nothing
 * is written. New callers save whole generations instead.
 */
int cn_store_save_traffic(cn_store_t *s, const cn_traffic_t *t, const char *who,
                          char *err, size_t errlen);

/*
 * The most recent changes of the split, oldest first: up to max of them
 * into out[] (the caller's array), their number in *n. Returns 0 or an
 * error.
 */
int cn_store_history(cn_store_t *s, cn_store_change_t *out, size_t max, size_t *n,
                     char *err, size_t errlen);

/* ============================================================ registry */

/* Longest model name, in bytes (as a version label). */
#define CN_STORE_NAME_MAX 63
/* Longest artifact URI, in bytes. */
#define CN_STORE_ARTIFACT_MAX 1024
/* Most bytes of a version's metadata (JSON text). */
#define CN_STORE_METADATA_MAX (64 * 1024)
/* Longest reason of a rollout or an audit entry, in bytes. */
#define CN_STORE_REASON_MAX 1000
/* Most bytes of an audit entry's payload (JSON text: a judge's result). */
#define CN_STORE_PAYLOAD_MAX (1024 * 1024)
/* Most bytes of a rollout's strategy (JSON text). */
#define CN_STORE_STRATEGY_MAX (256 * 1024)
/* Most rows one list call returns; larger `max` is this. */
#define CN_STORE_PAGE_MAX 1000

/*
 * A version's tag: its status in the registry. A version has at most one.
 *  - stable: exactly one per model that has a version (the model's first
 *    version is made stable; setting it on another version moves it);
 *  - production-candidate: at most one per model (setting it moves it);
 *    the version a rollout is rolling out;
 *  - rolled-back, retired: set by the controller, on any number.
 */
typedef enum cn_store_tag_e {
    CN_STORE_TAG_NONE = 0,
    CN_STORE_TAG_STABLE = 1,
    CN_STORE_TAG_CANDIDATE = 2, /* "production-candidate" */
    CN_STORE_TAG_ROLLED_BACK = 3,
    CN_STORE_TAG_RETIRED = 4,
} cn_store_tag_t;
#define CN_STORE_TAG_COUNT 5

/* "stable", "production-candidate", "rolled-back", "retired"; "" for
 * NONE, "?" out of range. */
const char *cn_store_tag_name(cn_store_tag_t tag);

/* Parse a tag name (exact). 0, or CN_EINVAL with *out untouched (NONE's
 * "" is not a tag). */
int cn_store_tag_parse(const char *name, cn_store_tag_t *out);

/* A model, as listed. Plain data. */
typedef struct cn_store_model_s {
    char name[CN_STORE_NAME_MAX + 1];
    int64_t created_unix_ms;
    char created_by[CN_STORE_WHO_MAX + 1];
    size_t n_versions;
    char stable[CN_VERSION_LABEL_MAX + 1];    /* "" when it has no version */
    char candidate[CN_VERSION_LABEL_MAX + 1]; /* "" when none */
    int64_t active_rollout;                   /* id, 0 when none */
} cn_store_model_t;

/*
 * A registered version. `set` holds the version string (set.version) and
 * its upstream addresses. Owned strings: initialise with
 * cn_store_version_init(), release with cn_store_version_dispose().
 */
typedef struct cn_store_version_s {
    char model[CN_STORE_NAME_MAX + 1];
    cn_version_set_t set;
    char *artifact_uri; /* owned; "" or NULL: none */
    char *metadata;     /* owned; a JSON object as text; NULL: "{}" */
    /* Filled by the store when read; ignored when added. */
    int64_t created_unix_ms;
    char created_by[CN_STORE_WHO_MAX + 1];
    cn_store_tag_t tag;
    int64_t tag_unix_ms; /* when the tag was set; 0 with no tag */
} cn_store_version_t;

/* Zero *v, with an empty set labelled "". */
void cn_store_version_init(cn_store_version_t *v);
/* Free what *v owns and zero it. Twice is harmless; NULL is a no-op. */
void cn_store_version_dispose(cn_store_version_t *v);

/*
 * Register a model with no version yet. `name` is 1 to CN_STORE_NAME_MAX
 * bytes of UTF-8 without control characters (registry.h narrows it);
 * `who` as for cn_store_save_generation. A name registered already is
 * CN_EINVAL ("model 'm' is registered already"). One durable
 * transaction.
 */
int cn_store_model_add(cn_store_t *s, const char *name, const char *who, char *err,
                       size_t errlen);

/* Read one model into *out. CN_ENOTFOUND naming it if there is none. */
int cn_store_model_get(cn_store_t *s, const char *name, cn_store_model_t *out,
                       char *err, size_t errlen);

/* Models by name, from the first name after `after` (NULL or "": from the
 * start): up to max (at most CN_STORE_PAGE_MAX) into out[], their number
 * in *n. */
int cn_store_model_list(cn_store_t *s, const char *after, cn_store_model_t *out,
                        size_t max, size_t *n, char *err, size_t errlen);

/*
 * Register a version, creating its model if it has none (*created_model
 * tells, may be NULL). v is borrowed; its created_* and tag fields are
 * ignored. The version of a new model (or of one with no version) becomes
 * its stable version. Refused with CN_EINVAL naming the field, writing
 * nothing:
 *  - model: empty, longer than CN_STORE_NAME_MAX, not UTF-8 or a control
 *    character;
 *  - version: as a generation's label (1 to 63 bytes, no control char);
 *  - addresses: none, more than CN_VERSION_MAX_ADDRESSES, or address i
 *    as cn_store_save_generation refuses it ("address 2 is empty");
 *  - artifact_uri: longer than CN_STORE_ARTIFACT_MAX, control chars;
 *  - metadata: not a JSON object, or more than CN_STORE_METADATA_MAX;
 *  - a version the model has already: "model 'm': version 'v1' is
 *    registered already".
 */
int cn_store_version_add(cn_store_t *s, const cn_store_version_t *v, const char *who,
                         bool *created_model, char *err, size_t errlen);

/* Read one version (with its tag) into *out (initialised; replaced on
 * success). CN_ENOTFOUND naming the model or the version. */
int cn_store_version_get(cn_store_t *s, const char *model, const char *version,
                         cn_store_version_t *out, char *err, size_t errlen);

/*
 * A model's versions in the order they were registered, skipping the
 * first `offset`: up to max (at most CN_STORE_PAGE_MAX) into out[] (the
 * caller's; entries need no initialising), their number in *n, the
 * model's total in *total (may be NULL). The caller disposes each of the
 * *n entries; on an error there is nothing to dispose. CN_ENOTFOUND for
 * an unknown model.
 */
int cn_store_version_list(cn_store_t *s, const char *model, size_t offset,
                          cn_store_version_t *out, size_t max, size_t *n, size_t *total,
                          char *err, size_t errlen);

/*
 * The version sets a model's rows imply, read in one transaction:
 * sets[CN_ROLE_STABLE] the stable version (label and addresses),
 * sets[CN_ROLE_CANARY] the version of its active rollout, or an empty set
 * labelled "canary" when none is active; *rollout (may be NULL) that
 * rollout's id or 0. sets[] must be initialised; replaced on success.
 * CN_ENOTFOUND for an unknown model, CN_EINVAL for a model with no
 * version ("model 'm' has no version yet").
 */
int cn_store_model_sets(cn_store_t *s, const char *model,
                        cn_version_set_t sets[CN_ROLE_COUNT], int64_t *rollout,
                        char *err, size_t errlen);

/* What cn_store_tag_set did, and what the model looks like after it. */
typedef struct cn_store_tag_result_s {
    bool changed; /* false: the version had the tag already (or, to remove,
                     did not have it) */
    /* The version that held the tag before, for stable and
     * production-candidate, which move; "" if none or unchanged. */
    char previous[CN_VERSION_LABEL_MAX + 1];
    /* The model's active rollout after the change: its id (0 if none),
     * its version and its state. */
    int64_t active_rollout;
    char active_version[CN_VERSION_LABEL_MAX + 1];
    char active_state[16];
} cn_store_tag_result_t;

/*
 * Set (set true) or remove a tag of a version, in one durable
 * transaction; *result (may be NULL) says what happened. Setting a tag
 * replaces the version's own tag. Rules:
 *  - stable moves from the previous stable version; refused with
 *    CN_ECONFLICT while the model has an active rollout (naming it: the
 *    controller's promotion moves stable through cn_store_rollout_update);
 *    setting it on the production candidate removes that tag;
 *  - production-candidate moves from the previous candidate; refused on
 *    the stable version (CN_EINVAL); it starts no rollout (the caller
 *    does, see registry.h);
 *  - rolled-back and retired: refused on the stable version (CN_EINVAL);
 *  - removing stable is refused (CN_EINVAL: a model keeps exactly one);
 *    removing a tag the version does not have changes nothing.
 * CN_ENOTFOUND for an unknown model or version; CN_EINVAL for tag NONE.
 */
int cn_store_tag_set(cn_store_t *s, const char *model, const char *version,
                     cn_store_tag_t tag, bool set, const char *who,
                     cn_store_tag_result_t *result, char *err, size_t errlen);

/* ============================================================ rollouts */

/* The states of a rollout (the controller's state machine). The first
 * seven are active: at most one active rollout per model. */
typedef enum cn_store_rollout_state_e {
    CN_STORE_ROLLOUT_NONE = -1, /* resume_state only: none */
    CN_STORE_ROLLOUT_PENDING = 0,
    CN_STORE_ROLLOUT_WARMUP = 1,
    CN_STORE_ROLLOUT_PROGRESSING = 2,
    CN_STORE_ROLLOUT_PAUSED = 3,
    CN_STORE_ROLLOUT_HOLDING = 4,
    CN_STORE_ROLLOUT_PROMOTING = 5,
    CN_STORE_ROLLOUT_ROLLING_BACK = 6,
    CN_STORE_ROLLOUT_PROMOTED = 7,
    CN_STORE_ROLLOUT_ROLLED_BACK = 8,
    CN_STORE_ROLLOUT_ABORTED = 9,
} cn_store_rollout_state_t;
#define CN_STORE_ROLLOUT_STATE_COUNT 10

/* "pending", "warmup", "progressing", "paused", "holding", "promoting",
 * "rolling-back", "promoted", "rolled-back", "aborted"; "" for NONE, "?"
 * out of range. */
const char *cn_store_rollout_state_name(cn_store_rollout_state_t state);
/* Parse a state name (exact). 0, or CN_EINVAL with *out untouched. */
int cn_store_rollout_state_parse(const char *name, cn_store_rollout_state_t *out);
/* True for the states before an end (pending .. rolling-back). */
bool cn_store_rollout_state_active(cn_store_rollout_state_t state);

/*
 * A rollout: everything a controller needs to resume it after kill -9, in
 * named columns. Initialise with cn_store_rollout_init(), release with
 * cn_store_rollout_dispose() (it owns `strategy`).
 */
typedef struct cn_store_rollout_s {
    int64_t id; /* > 0, given by cn_store_rollout_start */
    char model[CN_STORE_NAME_MAX + 1];
    char version[CN_VERSION_LABEL_MAX + 1];  /* the candidate */
    char baseline[CN_VERSION_LABEL_MAX + 1]; /* stable when it started;
                                                set by the store */
    cn_store_rollout_state_t state;
    /* paused and holding: the state to go back to; otherwise NONE. */
    cn_store_rollout_state_t resume_state;
    uint32_t step_index;                  /* into the strategy's steps, <= 65535 */
    uint16_t weight_bp;                   /* the canary weight it set, 0 .. 10000 */
    bool dry_run;                         /* fixed at the start */
    uint32_t analysis_attempts;           /* spent at the current step, <= 65535; an
                                             attempt is saved as spent before it runs,
                                             so one a crash interrupts stays spent */
    uint64_t generation;                  /* the last generation it published; 0 */
    char reason[CN_STORE_REASON_MAX + 1]; /* why it is in its state */
    char *strategy; /* owned: the strategy it runs, as JSON; NULL none */
    /* Set by the store when read: the strategy is a parity check's spec
     * (an object with a "parity" object: controller/parity.h). A parity
     * check runs the model's stable version against itself and sets no
     * tag; any other rollout runs another version. */
    bool parity;
    /* owned: the controller's whole state machine as a JSON object (what a
     * restart resumes from; the named columns above are its queryable
     * part); NULL none. At most CN_STORE_STRATEGY_MAX bytes. */
    char *machine;
    char created_by[CN_STORE_WHO_MAX + 1]; /* set by the store */
    int64_t started_unix_ms;               /* set by the store */
    int64_t updated_unix_ms;               /* set by the store */
    /* When the current step started, set by the store: now at the start,
     * when step_index changes and when an ended rollout is restarted;
     * otherwise kept (a value given is ignored). After a crash the bake
     * restarts, but this stays the step's first start. */
    int64_t step_started_unix_ms;
    int64_t ended_unix_ms; /* set by the store on entering a final state;
                              0 while active */
    /* The number of its last audit entry. A write must carry the number
     * it read (it is the version of the record) and gets the next. */
    int64_t audit_seq;
} cn_store_rollout_t;

/* Zeroed, resume_state NONE, strategy NULL. */
void cn_store_rollout_init(cn_store_rollout_t *r);
/* Free the strategy and re-initialise. Twice is harmless; NULL no-op. */
void cn_store_rollout_dispose(cn_store_rollout_t *r);

/* What an audit entry records. */
typedef enum cn_store_audit_kind_e {
    CN_STORE_AUDIT_TRANSITION = 0, /* a change of state, step or weight */
    CN_STORE_AUDIT_ANALYSIS = 1,   /* an analysis, with the judge's JSON */
    CN_STORE_AUDIT_TRIGGER = 2,    /* a trigger fired, with its statistic */
    CN_STORE_AUDIT_MANUAL = 3,     /* a person's control (pause, promote ...) */
} cn_store_audit_kind_t;
#define CN_STORE_AUDIT_KIND_COUNT 4

/* "transition", "analysis", "trigger", "manual"; "?" out of range. */
const char *cn_store_audit_kind_name(cn_store_audit_kind_t kind);
/* Parse a kind name (exact). 0, or CN_EINVAL with *out untouched. */
int cn_store_audit_kind_parse(const char *name, cn_store_audit_kind_t *out);

/*
 * One entry of a rollout's audit trail. On a write, kind, actor, reason
 * and payload are the caller's (payload borrowed, NULL for none) and the
 * rest is filled by the store from the rollout as written. An entry read
 * by cn_store_audit_list owns its payload: cn_store_audit_dispose().
 */
typedef struct cn_store_audit_s {
    int64_t rollout_id;
    int64_t seq; /* 1, 2, 3, ... per rollout, no gap */
    int64_t time_unix_ms;
    cn_store_audit_kind_t kind;
    char actor[CN_STORE_WHO_MAX + 1]; /* "controller", "admin 10.0.0.7" */
    char reason[CN_STORE_REASON_MAX + 1];
    cn_store_rollout_state_t state; /* the rollout's, after this entry */
    uint32_t step_index;
    uint16_t weight_bp;
    char *payload; /* JSON text (any JSON value), or NULL */
    /* Write only (borrowed; ignored by reads): notifications to deliver,
     * added to the outbox in the same transaction as the entry. */
    const struct cn_store_note_s *notes;
    size_t n_notes;
} cn_store_audit_t;

/* Free the payload of an entry read by cn_store_audit_list and zero it.
 * Twice is harmless. */
void cn_store_audit_dispose(cn_store_audit_t *e);

/* Tag changes written with a rollout's change (see cn_store_tag_set for
 * the rules), on versions of the rollout's model. */
typedef struct cn_store_tag_op_s {
    const char *version; /* borrowed */
    cn_store_tag_t tag;
    bool set; /* false: remove */
} cn_store_tag_op_t;

/* What else to write in the same transaction as a rollout's change; each
 * part optional. */
typedef struct cn_store_rollout_also_s {
    const cn_store_tag_op_t *tags; /* applied in order */
    size_t n_tags;
    /* Saved as cn_store_save_generation would (the same checks and
     * history), with the entry's actor as `who`. */
    const cn_generation_t *generation;
} cn_store_rollout_also_t;

/*
 * Start a rollout of r->version of model r->model, in one durable
 * transaction: the rollout row with r's state (an active one), step,
 * weight, dry_run, attempts, generation, reason and strategy; its first
 * audit entry (seq 1, `entry`'s kind, actor and reason; the actor is
 * also created_by); and the production-candidate tag on the version
 * (moved from the previous candidate, if any). `also` may be NULL.
 *
 * supersede: 0, or the id of the model's active rollout, which is ended
 * in the same transaction: state aborted, reason "superseded by VERSION",
 * an audit entry (transition, the same actor). A model with an active
 * rollout that is not `supersede` is CN_ECONFLICT naming it; a
 * `supersede` that is not the model's active rollout is CN_ECONFLICT too.
 *
 * On success r->id, baseline (the model's stable version), created_by,
 * the times and audit_seq (1) are set. CN_ENOTFOUND for an unknown model
 * or version; CN_EINVAL naming the field for anything out of range
 * (state not active, step_index or attempts over 65535, weight over
 * 10000, reason or actor too long or not one line of UTF-8, payload or
 * strategy not JSON or too large, resume_state other than NONE unless
 * paused or holding); the candidate being the stable version is
 * CN_EINVAL, except for a parity check (r->strategy a parity spec: see
 * `parity`), which must be of the stable version and moves no tag.
 * Nothing is written on an error.
 */
int cn_store_rollout_start(cn_store_t *s, cn_store_rollout_t *r,
                           const cn_store_audit_t *entry, int64_t supersede,
                           const cn_store_rollout_also_t *also, char *err,
                           size_t errlen);

/*
 * Write a rollout's new state together with the audit entry that records
 * why, in one durable transaction, so that no decision is lost or
 * recorded twice: r->id names the rollout, and r->audit_seq must be the
 * number of its last entry (as read or returned by the last write); if
 * the stored one differs, another write came first (a decision taken on
 * a stale view, or taken twice) and this one is CN_ECONFLICT, writing
 * nothing. The changeable fields are state, resume_state, step_index,
 * weight_bp, analysis_attempts, generation, reason and strategy (NULL:
 * kept; step_started_unix_ms follows step_index);
 * model, version, baseline, dry_run, created_by and started_unix_ms are
 * fixed and ignored here. A final state sets ended_unix_ms; an active one
 * (a retry) clears it, and then must not collide with another active
 * rollout of the model (CN_ECONFLICT). `also` (may be NULL): tag changes
 * on versions of the model (stable may move: this is how a promotion
 * tags in the same transaction) and a generation to save.
 *
 * On success *r is what is stored (audit_seq + 1, the times). Errors as
 * for cn_store_rollout_start; CN_ENOTFOUND for an unknown id.
 */
int cn_store_rollout_update(cn_store_t *s, cn_store_rollout_t *r,
                            const cn_store_audit_t *entry,
                            const cn_store_rollout_also_t *also, char *err,
                            size_t errlen);

/*
 * Save only the machine column of rollout `id` (the controller's state
 * between audit entries, e.g. its sequential triggers every few seconds),
 * if its audit trail still ends at entry `audit_seq` (else CN_ECONFLICT:
 * a newer decision was stored; nothing is written) and it is active (else
 * CN_ECONFLICT). machine must be a JSON object (CN_EINVAL otherwise).
 * No audit entry is added. CN_ENOTFOUND for an unknown id.
 */
int cn_store_rollout_save_machine(cn_store_t *s, int64_t id, int64_t audit_seq,
                                  const char *machine, char *err, size_t errlen);

/* Read rollout `id` into *out (initialised; replaced on success).
 * CN_ENOTFOUND if there is none. */
int cn_store_rollout_get(cn_store_t *s, int64_t id, cn_store_rollout_t *out, char *err,
                         size_t errlen);

/* The active rollout of a model into *out (initialised; replaced when
 * *found). *found false if it has none; CN_ENOTFOUND for an unknown
 * model. */
int cn_store_rollout_active(cn_store_t *s, const char *model, cn_store_rollout_t *out,
                            bool *found, char *err, size_t errlen);

/* The model's newest parity check (a rollout with `parity`) with an id
 * below `before` (0: the newest of all) into *out (initialised; replaced
 * when *found). *found false if there is none. */
int cn_store_rollout_parity_before(cn_store_t *s, const char *model, int64_t before,
                                   cn_store_rollout_t *out, bool *found, char *err,
                                   size_t errlen);

/* Bit of a state in a cn_store_rollout_list filter. */
#define CN_STORE_ROLLOUT_BIT(state) (1u << (unsigned)(state))
/* Every active state's bit. */
#define CN_STORE_ROLLOUT_ACTIVE_BITS 0x7Fu

/*
 * Rollouts, newest first, with an id below `before` (0: from the newest):
 * of `model` (NULL: any) in one of the states whose bits are in `states`
 * (0: any); up to max (at most CN_STORE_PAGE_MAX) into out[] (the
 * caller's; entries need no initialising), their number in *n. The
 * caller disposes each of the *n entries; on an error there is nothing
 * to dispose. Page on with `before` = the last id returned. An unknown
 * model lists nothing (0).
 */
int cn_store_rollout_list(cn_store_t *s, const char *model, unsigned states,
                          int64_t before, cn_store_rollout_t *out, size_t max,
                          size_t *n, char *err, size_t errlen);

/*
 * A rollout's audit trail, oldest first, from the entry after `after_seq`
 * (0: from the first): up to max (at most CN_STORE_PAGE_MAX) entries into
 * out[] (the caller's), their number in *n. The caller disposes each of
 * the *n entries; on an error there is nothing to dispose. Page on with
 * after_seq = the last seq returned. CN_ENOTFOUND for an unknown rollout.
 */
int cn_store_audit_list(cn_store_t *s, int64_t rollout_id, int64_t after_seq,
                        cn_store_audit_t *out, size_t max, size_t *n, char *err,
                        size_t errlen);

/* ============================================================== outbox */

/*
 * The notification outbox: an event waiting for one target. Written with
 * an audit entry (cn_store_audit_t.notes), so that the change and the
 * news of it are stored together; deleted when the target has taken it.
 * The event id is "ROLLOUT-SEQ-INDEX": the rollout, its audit entry and
 * the event's index among that entry's, the same for every target of one
 * event and never reused (an entry's number is written once), so a
 * receiver can drop a delivery it already had.
 */
typedef struct cn_store_note_s {
    unsigned index;     /* the event's index within its entry */
    const char *target; /* borrowed: the target's name, 1 to 200 bytes */
    const char *event;  /* borrowed: a JSON object */
} cn_store_note_t;

/* A stored outbox row; owns target and event (cn_store_outbox_dispose). */
typedef struct cn_store_outbox_s {
    int64_t id; /* grows with each row written */
    char event_id[64];
    char *target;
    char *event;
    int64_t created_unix_ms;
} cn_store_outbox_t;

/* Free a row's texts and zero it. Twice is harmless. */
void cn_store_outbox_dispose(cn_store_outbox_t *o);

/* Rows with an id above after_id, oldest first: up to max (at most
 * CN_STORE_PAGE_MAX) into out[], their number in *n; the caller disposes
 * each. 0, or CN_EIO with nothing to dispose. */
int cn_store_outbox_list(cn_store_t *s, int64_t after_id, cn_store_outbox_t *out,
                         size_t max, size_t *n, char *err, size_t errlen);

/* Delete row id (delivered, or its target is gone): durable before it
 * returns. Deleting a row that is not there is not an error. 0 or CN_EIO. */
int cn_store_outbox_delete(cn_store_t *s, int64_t id, char *err, size_t errlen);

#endif
