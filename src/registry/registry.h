/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The model registry: models, their versions and tags, and the rules for
 * them, over the state file (store/store.h keeps the rows and the rules
 * that involve stored rows; this module checks what people and clients
 * send, says what a change means for the controller, and writes the
 * controller's promotions and rollbacks together with their tags).
 *
 * The rules:
 *  - A version has a version string, its upstream addresses, an artifact
 *    URI, free-form metadata (a JSON object), and the time it was
 *    registered and by whom. Registering a version of an unknown model
 *    creates the model; a model's first version becomes its stable one.
 *  - Names are what a URL path and a metric label carry without quoting:
 *    a model is 1 to 63 of [A-Za-z0-9._-] starting with a letter or a
 *    digit; a version is 1 to 63 of [A-Za-z0-9._+-] starting likewise.
 *    Addresses are "host:port" or "[v6]:port" (util/addr.h's syntax,
 *    the host a name, an IPv4 or an IPv6 address), at least one, at most
 *    CN_VERSION_MAX_ADDRESSES, no duplicates.
 *  - Tags (a version has at most one): `stable`, exactly one version per
 *    model, moved by setting it on another version, never removed, and
 *    not moved while the model has an active rollout (that rollout's
 *    promotion moves it); `production-candidate`, at most one per model,
 *    moved likewise: setting it means "roll this version out" (as a
 *    registry webhook would), so the answer tells the caller to start a
 *    rollout, and which active rollout the new one supersedes;
 *    `rolled-back` and `retired`, set by the controller (through
 *    cn_registry_roll_back and cn_registry_promote), never on the stable
 *    version. The tags of the version of an active rollout change only
 *    with that rollout.
 *  - A duplicate version, a malformed address, an unknown tag or a bad
 *    field is CN_EINVAL with one line naming the field (`addresses[2]`,
 *    `tag 'gold'`); an unknown model, version or rollout CN_ENOTFOUND; a
 *    change refused because of an active rollout CN_ECONFLICT naming it.
 *    Nothing changes on an error. A failure to read or write the file is
 *    CN_EIO with the store's message (naming the file); the messages of
 *    the other errors do not name the file, so an API may show them.
 *
 * The registry starts no rollout and publishes nothing: it answers what
 * the controller must do (cn_registry_tag_result_t) and gives the version
 * sets a model's tags imply (cn_registry_sets) for the controller to
 * publish.
 *
 * Threads. A cn_registry_t may be used from any number of threads at
 * once: it holds no state of its own but the store handle, and every call
 * is one store call, serialised by the store's mutex and made atomic by
 * one SQLite transaction (the reads of a call that needs several see one
 * snapshot), so no rule is checked against rows another call is
 * changing. Every call does synchronous disk I/O (each write is
 * fsynced): like the store, run it on a worker thread or through
 * uv_queue_work, never on an event loop. No other I/O.
 */
#ifndef CN_REGISTRY_REGISTRY_H
#define CN_REGISTRY_REGISTRY_H

#include "store/store.h"
#include "types/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cn_registry_s cn_registry_t;

/* A registry over store (borrowed: it must outlive the registry). Never
 * NULL (allocation aborts). */
cn_registry_t *cn_registry_new(cn_store_t *store);

/* Free the registry (not the store). NULL is a no-op. */
void cn_registry_free(cn_registry_t *reg);

/* ------------------------------------------------------------- checks */

/*
 * The syntax checks, pure, for a caller that wants to refuse early (an
 * API codec, the CLI). Each returns 0, or CN_EINVAL with one line:
 *   model: "model: must be 1 to 63 letters, digits, '.', '_' or '-',
 *           starting with a letter or a digit, got 'x y'"
 *   version: the same with '+' allowed, naming "version"
 *   address: "addresses[2]: must be host:port or [ipv6]:port (port
 *             1..65535), got 'x'" (index from 0), or "addresses[2]:
 *             duplicate of addresses[0]"
 *   metadata: "metadata: not a JSON object" or "metadata: not JSON
 *             (line 1, column 7: ...)"
 */
int cn_registry_check_model(const char *name, char *err, size_t errlen);
int cn_registry_check_version(const char *version, char *err, size_t errlen);
int cn_registry_check_addresses(const char *const *addresses, size_t n, char *err,
                                size_t errlen);
int cn_registry_check_metadata(const char *json, char *err, size_t errlen);

/* Parse a tag name: 0, or CN_EINVAL with "tag 'gold': expected one of
 * stable, production-candidate, rolled-back, retired". */
int cn_registry_parse_tag(const char *name, cn_store_tag_t *out, char *err,
                          size_t errlen);

/* ----------------------------------------------------------- register */

/* What a client asks to register. Everything borrowed. */
typedef struct cn_registry_version_spec_s {
    const char *model;
    const char *version;
    const char *const *addresses;
    size_t n_addresses;
    const char *artifact_uri; /* NULL or "": none; at most
                                 CN_STORE_ARTIFACT_MAX bytes of printable
                                 ASCII (a URI) */
    const char *metadata;     /* NULL: {}; a JSON object (no duplicate
                                 key), at most CN_STORE_METADATA_MAX
                                 bytes; stored as written */
} cn_registry_version_spec_t;

/*
 * Register a version (creating its model if it has none: *created_model,
 * may be NULL). `who` (borrowed; NULL is "") is recorded as its creator,
 * at most CN_STORE_WHO_MAX bytes. A version the model has already is
 * CN_EINVAL: "model 'fraud': version 'v2' is registered already". One
 * durable transaction.
 */
int cn_registry_register(cn_registry_t *reg, const cn_registry_version_spec_t *spec,
                         const char *who, bool *created_model, char *err,
                         size_t errlen);

/* Register a model with no version yet (POST /v1/models). A model that
 * exists is CN_EINVAL: "model 'fraud' is registered already". */
int cn_registry_add_model(cn_registry_t *reg, const char *name, const char *who,
                          char *err, size_t errlen);

/*
 * A model's first version, as a start-up fills an empty registry (canary
 * serve's --stable, canary control's models[].stable): spec registered
 * (its model created if new) and tagged stable, by `who`. Two
 * transactions; 0, or the first call's error with its line in err.
 */
int cn_registry_first_stable(cn_registry_t *reg, const cn_registry_version_spec_t *spec,
                             const char *who, char *err, size_t errlen);

/* --------------------------------------------------------------- tags */

/* What a tag change did and what the controller must do about it. */
typedef struct cn_registry_tag_result_s {
    bool changed; /* false: it was so already (a repeated PUT or DELETE) */
    /* The version that held stable or production-candidate before this
     * change moved it; "" otherwise. */
    char previous[CN_VERSION_LABEL_MAX + 1];
    /* Stable moved: the router's stable set changes (a manual cut-over);
     * publish cn_registry_sets(). */
    bool publish;
    /* production-candidate is on this version and no rollout of it is
     * active: start one (also when the tag was set already but its
     * rollout never started, e.g. a crash in between). */
    bool start_rollout;
    /* ... superseding this active rollout of another version (0: none):
     * end it with the reason "superseded by VERSION", e.g. through
     * cn_store_rollout_start(supersede). */
    int64_t supersede;
    char supersede_version[CN_VERSION_LABEL_MAX + 1];
} cn_registry_tag_result_t;

/*
 * Set `tag` (a name, checked) on a version, by the rules above, in one
 * durable transaction; *result (may be NULL) says what it means. Errors:
 * CN_EINVAL for an unknown tag or a rule ("model 'fraud': version 'v1'
 * is its stable version, so it cannot be retired; ..."), CN_ENOTFOUND for
 * an unknown model or version, CN_ECONFLICT for a change an active rollout
 * forbids (naming it).
 */
int cn_registry_tag(cn_registry_t *reg, const char *model, const char *version,
                    const char *tag, const char *who, cn_registry_tag_result_t *result,
                    char *err, size_t errlen);

/* Remove `tag` from a version (a version without it: nothing changes).
 * Removing stable is CN_EINVAL (a model keeps exactly one); removing the
 * candidate tag of an active rollout's version is CN_ECONFLICT (abort the
 * rollout instead). */
int cn_registry_untag(cn_registry_t *reg, const char *model, const char *version,
                      const char *tag, const char *who,
                      cn_registry_tag_result_t *result, char *err, size_t errlen);

/* -------------------------------------------------------------- reads */

/* Models by name after `after` (NULL: from the first), up to max (at most
 * CN_STORE_PAGE_MAX) into out[], their number in *n. */
int cn_registry_list_models(cn_registry_t *reg, const char *after,
                            cn_store_model_t *out, size_t max, size_t *n, char *err,
                            size_t errlen);

/* Most versions cn_registry_get_model returns. */
#define CN_REGISTRY_MODEL_VERSIONS_MAX CN_STORE_PAGE_MAX

/* A model with its versions and their tags. Owned: dispose it. */
typedef struct cn_registry_model_s {
    cn_store_model_t model;
    cn_store_version_t *versions; /* in registration order */
    size_t n_versions;
    size_t total_versions; /* more than n_versions: the newest are left out;
                              read them with cn_store_version_list */
} cn_registry_model_t;

/* Read a model and its first CN_REGISTRY_MODEL_VERSIONS_MAX versions into
 * *out (zeroed here; dispose it after a success). CN_ENOTFOUND for an
 * unknown model. */
int cn_registry_get_model(cn_registry_t *reg, const char *name,
                          cn_registry_model_t *out, char *err, size_t errlen);

/* Free what a cn_registry_model_t holds and zero it. Twice is harmless. */
void cn_registry_model_dispose(cn_registry_model_t *m);

/* Read one version with its tag into *out (initialised with
 * cn_store_version_init; replaced on success). CN_ENOTFOUND naming the
 * model or the version. */
int cn_registry_get_version(cn_registry_t *reg, const char *model, const char *version,
                            cn_store_version_t *out, char *err, size_t errlen);

/*
 * The version sets a model's registry state implies, for the controller
 * to publish: sets[CN_ROLE_STABLE] is the stable version (its string as
 * the label, its addresses); sets[CN_ROLE_CANARY] is the version of the
 * model's active rollout, or an empty set labelled "canary" when none is
 * active or the active one is a parity check (whose arm is the
 * controller's, from its spec: controller/parity.h). *rollout (may be NULL) is that
 * rollout's id, 0 if none. Read in one transaction. sets[] must be initialised
 * (cn_version_set_init); they are replaced on success. CN_ENOTFOUND for an unknown
 * model; CN_EINVAL for a model with no version yet ("model 'fraud' has no version
 * yet").
 */
int cn_registry_sets(cn_registry_t *reg, const char *model,
                     cn_version_set_t sets[CN_ROLE_COUNT], int64_t *rollout, char *err,
                     size_t errlen);

/* ------------------------------------------- the controller's changes */

/*
 * Record a promotion in one durable transaction: *r (as read, audit_seq
 * included) with state promoted, `entry` in its audit trail, stable moved
 * to r->version (whose production-candidate tag it replaces), the
 * previous stable version tagged retired, and, if not NULL, the
 * generation the controller published with the new stable set (saved as
 * cn_store_save_generation does). The caller sets r's other fields (e.g.
 * reason, weight); the state is set here. On success *r is what is
 * stored. Errors as for cn_store_rollout_update (CN_ECONFLICT for a stale
 * r), the store's file path dropped from the message as above.
 */
int cn_registry_promote(cn_registry_t *reg, cn_store_rollout_t *r,
                        const cn_store_audit_t *entry,
                        const cn_generation_t *generation, char *err, size_t errlen);

/*
 * Record a rollback (state: rolled-back, or aborted for a person's abort)
 * in one durable transaction: *r with that state, `entry`, and r->version
 * tagged rolled-back (replacing production-candidate); stable untouched.
 * The traffic is the caller's to have set to 0 first. `state` must be
 * CN_STORE_ROLLOUT_ROLLED_BACK or CN_STORE_ROLLOUT_ABORTED (else
 * CN_EINVAL).
 */
int cn_registry_roll_back(cn_registry_t *reg, cn_store_rollout_t *r,
                          cn_store_rollout_state_t state, const cn_store_audit_t *entry,
                          char *err, size_t errlen);

#endif
