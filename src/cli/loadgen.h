/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary loadgen`: the pure parts of the load generator, apart from its
 * event loop (loadgen.c) so that the unit tests (tests/unit/cli/) can pin
 * them down: the open-loop schedule, the segment proportions and their
 * seeded draw, the simulated feedback spec, and the bodies file's line
 * format. Private to src/cli/; no I/O, no global state.
 *
 * The bodies file (docs/CLI.md, "canary loadgen") is JSON Lines. A line is
 * either a plain body, sent as it is written, or a wrapper object that
 * carries its body with the segment it belongs to and the feedback
 * recorded for it:
 *
 *     {"inputs": [...]}                                  a plain body
 *     {"body": {"inputs": [...]}, "segment": "eu", "feedback": {"label": 1}}
 *
 * A line is a wrapper when it is an object with a "body" key and no key
 * other than "body", "segment" and "feedback"; a body that itself looks
 * like that must be wrapped once more. A wrapper's body is sent as compact
 * JSON, or, when it is a JSON string, as the string's text (a body that is
 * not JSON). Blank lines are skipped.
 */
#ifndef CN_CLI_LOADGEN_H
#define CN_CLI_LOADGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ schedule */

/* The largest --rps. */
#define CN_LG_MAX_RPS 1e6

/* How many requests a run of duration_ms at rps schedules: those whose
 * intended send time i / rps lies before the end, ceil(rps * duration). */
uint64_t cn_lg_scheduled(double rps, uint64_t duration_ms);

/* Request i's intended send time, in ns after the start: i * 1e9 / rps,
 * rounded to the nearest ns. Independent of every earlier request (open
 * loop: the schedule never waits for an answer). */
uint64_t cn_lg_intended_ns(uint64_t i, double rps);

/* How many of the `total` requests are due elapsed_ns after the start:
 * those whose intended time is at or before it. */
uint64_t cn_lg_due_by(uint64_t elapsed_ns, double rps, uint64_t total);

/* ------------------------------------------------------------ segments */

#define CN_LG_MAX_SEGMENTS 64
#define CN_LG_SEGMENT_MAX_BYTES 64

/* A segment value as the router takes it (measure.segments): 1 to 64
 * visible ASCII characters, no quote, backslash or comma. */
bool cn_lg_segment_ok(const char *s, size_t len);

typedef struct cn_lg_segments_s {
    size_t count;
    char names[CN_LG_MAX_SEGMENTS][CN_LG_SEGMENT_MAX_BYTES + 1];
    double share[CN_LG_MAX_SEGMENTS];
    double upto[CN_LG_MAX_SEGMENTS]; /* cumulative share; the last is 1 */
} cn_lg_segments_t;

/*
 * Parse "us=0.7,eu=0.2,apac=0.1": distinct segment values, each with a
 * share in (0, 1]; the shares must add up to 1 (within 1e-6). Returns 0,
 * or CN_EINVAL with one line in err saying what is wrong and where.
 */
int cn_lg_segments_parse(const char *spec, cn_lg_segments_t *out, char *err,
                         size_t errlen);

/* A segment's index drawn with its share's probability, from the caller's
 * splitmix64 state (util/rand.h): one draw per call, so the sequence of
 * segments is fixed by the seed. */
size_t cn_lg_segments_draw(const cn_lg_segments_t *s, uint64_t *rng);

/* ------------------------------------------------------ simulated feedback */

#define CN_LG_MAX_SIM_VERSIONS 16
#define CN_LG_NAME_MAX_BYTES 64

/*
 * One simulated 0/1 metric, per response: "clicked=0.10" (every version
 * clicks with probability 0.10) or "clicked:v1=0.10,v2=0.08" (per version,
 * by the response's X-Model-Version; "*" names every other version; a
 * version with no probability gets no value).
 */
typedef struct cn_lg_sim_s {
    char metric[CN_LG_NAME_MAX_BYTES + 1];
    size_t nversions;
    char versions[CN_LG_MAX_SIM_VERSIONS][CN_LG_NAME_MAX_BYTES + 1];
    double p[CN_LG_MAX_SIM_VERSIONS];
    bool has_any;
    double any_p; /* every version: the spec without ':', or "*=" */
} cn_lg_sim_t;

/* Parse one --simulate spec. Returns 0, or CN_EINVAL with one line in err. */
int cn_lg_sim_parse(const char *spec, cn_lg_sim_t *out, char *err, size_t errlen);

/* The probability for version (NULL or "": the response named none); false
 * when the spec gives that version none. */
bool cn_lg_sim_p(const cn_lg_sim_t *s, const char *version, double *p);

/*
 * The simulated value (0 or 1) of metric number `metric` for request
 * number `request`, with probability p: a draw from the seed and the two
 * numbers alone, so the values do not depend on the order the answers
 * came back in.
 */
int cn_lg_sim_draw(uint64_t seed, uint64_t request, unsigned metric, double p);

/* ------------------------------------------------------------ bodies file */

typedef struct cn_lg_line_s {
    char *body; /* owned; the bytes to send */
    size_t body_len;
    char *segment;  /* owned, or NULL: the line names none */
    char *feedback; /* owned compact JSON object of name: number, or NULL */
} cn_lg_line_t;

typedef struct cn_lg_bodies_s {
    cn_lg_line_t *lines;
    size_t count;
} cn_lg_bodies_t;

/*
 * Parse one line (len bytes, no newline; may end in CR) into *out (disposed
 * by the caller with cn_lg_line_dispose, also after an error). Returns 0,
 * or CN_EPARSE with what is wrong in err (no file or line number: the
 * caller adds them).
 */
int cn_lg_line_parse(const char *text, size_t len, cn_lg_line_t *out, char *err,
                     size_t errlen);
void cn_lg_line_dispose(cn_lg_line_t *l);

/*
 * Every line of a bodies file (text of len bytes, named `name` in errors),
 * blank lines skipped. Returns 0, or CN_EPARSE with "NAME:LINE: what" in
 * err, or CN_EINVAL ("NAME: no bodies") when no line holds one. The caller
 * disposes *out (cn_lg_bodies_dispose), also after an error.
 */
int cn_lg_bodies_parse(const char *text, size_t len, const char *name,
                       cn_lg_bodies_t *out, char *err, size_t errlen);
void cn_lg_bodies_dispose(cn_lg_bodies_t *b);

/* ------------------------------------------------------------ target */

/* An http:// URL split into what the generator needs. */
typedef struct cn_lg_target_s {
    char hostport[300]; /* for the Host header and for resolving */
    char path[2048];    /* "/" when the URL has none; with the query */
} cn_lg_target_t;

/* Parse "http://HOST:PORT[/PATH]". Returns 0, or CN_EINVAL with one line in
 * err. */
int cn_lg_target_parse(const char *url, cn_lg_target_t *out, char *err, size_t errlen);

/* ------------------------------------------------------------ feedback */

/* What the feedback poster did, and what the server answered. */
typedef struct cn_lg_fb_counts_s {
    uint64_t queued;         /* items handed to the poster */
    uint64_t posted;         /* items in batches the server answered */
    uint64_t batches;        /* POSTs the server answered (any status) */
    uint64_t failed_batches; /* POSTs with no answer or a non-2xx status */
    uint64_t lost;           /* items in batches with no answer */
    /* the server's answers, summed */
    uint64_t accepted, unknown, expired, duplicate, invalid;
    char first_error[400]; /* the first failure or per-line error, or "" */
} cn_lg_fb_counts_t;

/*
 * Add one answer of POST /v1/feedback to c: the status and the body
 * ({"accepted":N,"unknown":N,"expired":N,"duplicate":N,"invalid":N,
 * "errors":[{"line":L,"error":"..."}]}), for a batch of `items` lines. A
 * 4xx answer may still carry counts (a batch with some bad lines); any
 * non-2xx counts as a failed batch, and the first error is kept. Pure.
 */
void cn_lg_fb_answer(cn_lg_fb_counts_t *c, long status, const char *body,
                     size_t body_len, uint64_t items);

/*
 * The poster: a thread that sends the queued items to POST /v1/feedback of
 * the admin API in JSON Lines batches (at most CN_LG_FB_BATCH lines and
 * CN_LG_FB_BATCH_BYTES bytes, sent when a batch is full or when the oldest
 * due item has waited CN_LG_FB_FLUSH_MS), so the load's event loop never
 * waits for it.
 */
#define CN_LG_FB_BATCH 1000u
/* ... and at most this many bytes (the admin API takes 1 MiB a body) */
#define CN_LG_FB_BATCH_BYTES ((size_t)512 * 1024)
#define CN_LG_FB_FLUSH_MS 200u

typedef struct cn_lg_fb_s cn_lg_fb_t;
struct cn_client_s;

/* Start the poster on client c (taken; freed by cn_lg_fb_finish). */
cn_lg_fb_t *cn_lg_fb_start(struct cn_client_s *c);

/* Queue one line (taken: a JSON object, no newline), to be sent once the
 * monotonic clock (CLOCK_MONOTONIC, uv_hrtime's) reaches due_ns. due_ns
 * must not decrease from one call to the next. Thread-safe. */
void cn_lg_fb_push(cn_lg_fb_t *f, uint64_t due_ns, char *line);

/* Send everything still queued (each at its due time), stop the thread,
 * write the counts to *out and free f. */
void cn_lg_fb_finish(cn_lg_fb_t *f, cn_lg_fb_counts_t *out);

#endif
