/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HAProxy engine's pieces (private to src/engines/haproxy*.c and its
 * tests): server names, the parsers of HAProxy's answers and the plan
 * that turns a live backend and a desired generation into runtime-API
 * commands (haproxy_plan.c, pure), and the socket (haproxy_cli.c).
 */
#ifndef CN_ENGINES_HAPROXY_INTERNAL_H
#define CN_ENGINES_HAPROXY_INTERNAL_H

#include "engines/haproxy.h"
#include "types/types.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest server name canary writes (prefix, role, label, index). */
#define CN_HAPROXY_NAME_MAX 127u
/* A label longer than this is cut and suffixed with its hash. */
#define CN_HAPROXY_LABEL_KEEP 40u
/* Largest answer read from the socket (`show stat` of a big backend). */
#define CN_HAPROXY_ANSWER_MAX ((size_t)8 << 20)

/* Admin state bits of `show servers state` (srv_admin_state). */
enum {
    CN_HAPROXY_ADMF_FMAINT = 0x01,
    CN_HAPROXY_ADMF_IMAINT = 0x02,
    CN_HAPROXY_ADMF_CMAINT = 0x04,
    CN_HAPROXY_ADMF_FDRAIN = 0x08,
    CN_HAPROXY_ADMF_IDRAIN = 0x10,
    CN_HAPROXY_ADMF_RMAINT = 0x20,
    CN_HAPROXY_ADMF_HMAINT = 0x40,
};
#define CN_HAPROXY_ADMF_MAINT                                                          \
    (CN_HAPROXY_ADMF_FMAINT | CN_HAPROXY_ADMF_IMAINT | CN_HAPROXY_ADMF_CMAINT |        \
     CN_HAPROXY_ADMF_RMAINT)

/* One server of the backend as HAProxy reports it. */
typedef struct cn_haproxy_server_s {
    char name[CN_HAPROXY_NAME_MAX + 1];
    char addr[64];   /* "127.0.0.1:8080", "[::1]:8080"; "-" unresolved */
    unsigned admin;  /* srv_admin_state */
    unsigned op;     /* srv_op_state: 0 stopped, 2 running */
    unsigned weight; /* srv_uweight */
    unsigned scur;   /* current sessions (`show stat`) */
    bool backup;     /* a backup server (`show stat` bck) */
    /* from the name, when it has the prefix */
    bool ours;
    cn_role_t role;
    char label[CN_HAPROXY_NAME_MAX + 1]; /* the name's label part */
    unsigned index;
} cn_haproxy_server_t;

typedef struct cn_haproxy_live_s {
    size_t count;
    cn_haproxy_server_t *servers; /* owned */
} cn_haproxy_live_t;

void cn_haproxy__live_dispose(cn_haproxy_live_t *live);

/*
 * A version label as it goes into a server name: letters, digits, '.',
 * '_' and '-' are kept; with any other byte (replaced by '_') or more
 * than CN_HAPROXY_LABEL_KEEP bytes, the label is cut to that and
 * suffixed with "-" and 8 hex digits of the label's FNV-1a hash, so two
 * labels never share a name. out holds CN_HAPROXY_NAME_MAX + 1 bytes.
 */
void cn_haproxy__name_label(const char *label, char *out);

/* PREFIX ROLE "-" LABEL "-" INDEX (the label as by name_label) into out
 * (CN_HAPROXY_NAME_MAX + 1 bytes); CN_EINVAL when it does not fit. */
int cn_haproxy__server_name(const char *prefix, cn_role_t role, const char *label,
                            unsigned index, char *out);

/* Read a name back: whether it has the prefix, then role, label part and
 * index; false for a name canary does not write. */
bool cn_haproxy__parse_name(const char *prefix, const char *name, cn_role_t *role,
                            char *label, unsigned *index);

/*
 * Parse the answer of `show servers state BACKEND` (format version 1)
 * into live (appending). Servers of other backends are skipped.
 * Returns 0, or CN_EPARSE with one line in err (an error answer from
 * HAProxy, a version other than 1, a short line).
 */
int cn_haproxy__parse_state(const char *text, const char *backend, const char *prefix,
                            cn_haproxy_live_t *live, char *err, size_t errlen);

/* Fill scur and backup of live's servers from the answer of `show stat
 * BACKEND 4 -1` (CSV with its "# pxname,..." header, columns found by
 * name). 0 or CN_EPARSE with one line in err. */
int cn_haproxy__parse_stat(const char *text, const char *backend,
                           cn_haproxy_live_t *live, char *err, size_t errlen);

/* What an answer must look like for the command to have worked. */
typedef enum cn_haproxy_expect_e {
    CN_HAPROXY_EXPECT_EMPTY = 0, /* set weight, enable, disable, set server */
    CN_HAPROXY_EXPECT_ADDED,     /* add server: "New server registered." */
    CN_HAPROXY_EXPECT_DELETED,   /* del server: "Server deleted." */
    CN_HAPROXY_EXPECT_STATE,     /* show servers state: "1\n# be_id ..." */
    CN_HAPROXY_EXPECT_STAT,      /* show stat: "# pxname,..." */
} cn_haproxy_expect_t;

/* 0 if answer is what the command should answer; else CN_EIO with
 * "haproxy: 'COMMAND': ANSWER" (both quoted, newlines folded) in err. */
int cn_haproxy__check_answer(const char *command, cn_haproxy_expect_t expect,
                             const char *answer, char *err, size_t errlen);

/* One server the generation wants. */
typedef struct cn_haproxy_want_s {
    cn_role_t role;
    char label[CN_HAPROXY_NAME_MAX + 1]; /* as name_label gives it */
    char addr[64];                       /* resolved, as live's addr */
    unsigned weight;
} cn_haproxy_want_t;

/* One command of a plan. */
typedef struct cn_haproxy_cmd_s {
    char text[512];
    cn_haproxy_expect_t expect;
} cn_haproxy_cmd_t;

typedef struct cn_haproxy_plan_s {
    size_t count, cap;
    cn_haproxy_cmd_t *cmds; /* owned */
    bool *leaving;          /* [live->count]: a server of ours no want matches */
    /* what is wrong with the live backend, for the re-apply's reason */
    char why[256];
} cn_haproxy_plan_t;

void cn_haproxy__plan_dispose(cn_haproxy_plan_t *p);

/*
 * The commands that turn live into want (n_want servers), in an order
 * that never gives the canary more than the larger of its old and new
 * shares on the way: new servers are added (in maintenance, weighted);
 * the canary's decreases and leaving canary servers' drains first; then
 * the stable's new servers enabled, its weights and its leaving servers
 * drained; the canary's new servers and increases last. A live server
 * of ours matches a want of the same role, label and address (a ready
 * one first); the rest of ours are drained (if not already). A foreign
 * server that takes traffic (not backup, weight > 0, not in maintenance
 * or drain) is an error: CN_EINVAL with one line in err. An empty plan
 * means live is want (leaving servers already drained or in maintenance
 * need nothing more here: deleting them is the reaper's, haproxy.c).
 */
int cn_haproxy__plan(const cn_haproxy_config_t *cfg, const cn_haproxy_live_t *live,
                     const cn_haproxy_want_t *want, size_t n_want,
                     cn_haproxy_plan_t *plan, char *err, size_t errlen);

/* Send one command on a new connection to cfg->socket and read the whole
 * answer into answer (reset first). 0, or CN_EIO with one line in err
 * ("haproxy socket '...': connect: ..." / "...: timed out after N ms"). */
int cn_haproxy__send(const cn_haproxy_config_t *cfg, const char *command,
                     cn_buf_t *answer, char *err, size_t errlen);

#endif
