/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pure parts of `canary loadgen` (see loadgen.h): the schedule, the
 * segment proportions, the simulated feedback spec, the bodies file's line
 * format and the target URL.
 */
#include "cli/loadgen.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/rand.h"
#include "util/text.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ schedule */

uint64_t cn_lg_scheduled(double rps, uint64_t duration_ms)
{
    /* ceil of rps * duration, computed so that 2000/s for 10 s is exactly
     * 20000 and not 20001 by a rounding error in the product */
    double n = rps * (double)duration_ms / 1000.0;
    double r = nearbyint(n);
    if (fabs(n - r) < 1e-9 * (r > 1 ? r : 1))
        return (uint64_t)r;
    return (uint64_t)ceil(n);
}

uint64_t cn_lg_intended_ns(uint64_t i, double rps)
{
    return (uint64_t)llround((double)i * 1e9 / rps);
}

uint64_t cn_lg_due_by(uint64_t elapsed_ns, double rps, uint64_t total)
{
    if (total == 0)
        return 0;
    /* the first estimate from the rate, then corrected against
     * cn_lg_intended_ns itself so that the two never disagree */
    double est = floor((double)elapsed_ns * rps / 1e9);
    uint64_t n = est >= (double)total ? total : (uint64_t)est + 1;
    while (n > 0 && cn_lg_intended_ns(n - 1, rps) > elapsed_ns)
        n--;
    while (n < total && cn_lg_intended_ns(n, rps) <= elapsed_ns)
        n++;
    return n;
}

/* ------------------------------------------------------------ segments */

bool cn_lg_segment_ok(const char *s, size_t len)
{
    if (len == 0 || len > CN_LG_SEGMENT_MAX_BYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c >= 127 || c == '"' || c == '\\' || c == ',')
            return false;
    }
    return true;
}

/* A share: a number in (0, 1]. */
static bool share_ok(const char *s, double *out)
{
    double v;
    if (cn_text_to_double(s, &v) != 0 || !(v > 0) || v > 1)
        return false;
    *out = v;
    return true;
}

int cn_lg_segments_parse(const char *spec, cn_lg_segments_t *out, char *err,
                         size_t errlen)
{
    memset(out, 0, sizeof *out);
    char q[96], q2[96];
    if (!*spec)
        return cn_fail(err, errlen, CN_EINVAL,
                       "expected NAME=SHARE[,NAME=SHARE...], e.g. us=0.7,eu=0.3");
    double sum = 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq)
            return cn_fail(err, errlen, CN_EINVAL, "'%s': expected NAME=SHARE",
                           cn_text_quote(p, len, 64, q));
        size_t nlen = (size_t)(eq - p);
        if (!cn_lg_segment_ok(p, nlen))
            return cn_fail(
                err, errlen, CN_EINVAL,
                "segment '%s': expected 1 to 64 visible ASCII characters, no "
                "quote, backslash or comma",
                cn_text_quote(p, nlen, 64, q));
        if (out->count == CN_LG_MAX_SEGMENTS)
            return cn_fail(err, errlen, CN_EINVAL, "more than %d segments",
                           CN_LG_MAX_SEGMENTS);
        for (size_t i = 0; i < out->count; i++)
            if (strlen(out->names[i]) == nlen && memcmp(out->names[i], p, nlen) == 0)
                return cn_fail(err, errlen, CN_EINVAL, "segment '%s' given twice",
                               cn_text_quote(p, nlen, 64, q));
        char num[64];
        size_t vlen = len - nlen - 1;
        double share;
        if (vlen >= sizeof num)
            vlen = sizeof num - 1;
        memcpy(num, eq + 1, vlen);
        num[vlen] = '\0';
        if (!share_ok(num, &share))
            return cn_fail(err, errlen, CN_EINVAL,
                           "segment '%s': share must be a number in (0, 1], got '%s'",
                           cn_text_quote(p, nlen, 64, q),
                           cn_text_quote(eq + 1, len - nlen - 1, 32, q2));
        memcpy(out->names[out->count], p, nlen);
        out->names[out->count][nlen] = '\0';
        out->share[out->count] = share;
        sum += share;
        out->upto[out->count] = sum;
        out->count++;
        if (!end)
            break;
        p = end + 1;
    }
    if (fabs(sum - 1) > 1e-6)
        return cn_fail(err, errlen, CN_EINVAL, "the shares add up to %.6g, not 1", sum);
    out->upto[out->count - 1] = 1; /* the last segment takes the rounding */
    return 0;
}

size_t cn_lg_segments_draw(const cn_lg_segments_t *s, uint64_t *rng)
{
    double u = cn_rand_unit(rng);
    for (size_t i = 0; i + 1 < s->count; i++)
        if (u < s->upto[i])
            return i;
    return s->count - 1;
}

/* ------------------------------------------------------ simulated feedback */

/* A metric or version name: 1 to 64 of [A-Za-z0-9_.-]. */
static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > CN_LG_NAME_MAX_BYTES)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* A probability in [0, 1]. */
static bool prob_ok(const char *s, size_t len, double *out)
{
    char num[64];
    if (len == 0 || len >= sizeof num)
        return false;
    memcpy(num, s, len);
    num[len] = '\0';
    double v;
    if (cn_text_to_double(num, &v) != 0 || !(v >= 0) || v > 1)
        return false;
    *out = v;
    return true;
}

int cn_lg_sim_parse(const char *spec, cn_lg_sim_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char q[96], q2[96];
    const char *colon = strchr(spec, ':');
    const char *eq = strchr(spec, '=');
    if (!eq)
        return cn_fail(err, errlen, CN_EINVAL,
                       "'%s': expected METRIC=P or METRIC:VERSION=P[,VERSION=P...]",
                       cn_text_quote(spec, strlen(spec), 64, q));
    const char *mend = colon && colon < eq ? colon : eq;
    size_t mlen = (size_t)(mend - spec);
    if (!name_ok(spec, mlen))
        return cn_fail(err, errlen, CN_EINVAL,
                       "metric '%s': expected 1 to 64 letters, digits, '_', '.' or '-'",
                       cn_text_quote(spec, mlen, 64, q));
    memcpy(out->metric, spec, mlen);
    out->metric[mlen] = '\0';
    if (mend == eq) {
        const char *v = eq + 1;
        if (!prob_ok(v, strlen(v), &out->any_p))
            return cn_fail(err, errlen, CN_EINVAL,
                           "%s: the probability must be a number in [0, 1], got '%s'",
                           out->metric, cn_text_quote(v, strlen(v), 32, q));
        out->has_any = true;
        return 0;
    }
    const char *p = colon + 1;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *veq = memchr(p, '=', len);
        if (!veq)
            return cn_fail(err, errlen, CN_EINVAL, "%s: '%s': expected VERSION=P",
                           out->metric, cn_text_quote(p, len, 64, q));
        size_t vlen = (size_t)(veq - p);
        double prob;
        if (!prob_ok(veq + 1, len - vlen - 1, &prob))
            return cn_fail(err, errlen, CN_EINVAL,
                           "%s: version '%s': the probability must be a number in [0, "
                           "1], got '%s'",
                           out->metric, cn_text_quote(p, vlen, 64, q),
                           cn_text_quote(veq + 1, len - vlen - 1, 32, q2));
        if (vlen == 1 && *p == '*') {
            if (out->has_any)
                return cn_fail(err, errlen, CN_EINVAL, "%s: '*' given twice",
                               out->metric);
            out->has_any = true;
            out->any_p = prob;
        } else {
            if (!name_ok(p, vlen))
                return cn_fail(
                    err, errlen, CN_EINVAL,
                    "%s: version '%s': expected 1 to 64 letters, digits, '_', "
                    "'.' or '-', or '*'",
                    out->metric, cn_text_quote(p, vlen, 64, q));
            for (size_t i = 0; i < out->nversions; i++)
                if (strlen(out->versions[i]) == vlen &&
                    memcmp(out->versions[i], p, vlen) == 0)
                    return cn_fail(err, errlen, CN_EINVAL,
                                   "%s: version '%s' given twice", out->metric,
                                   cn_text_quote(p, vlen, 64, q));
            if (out->nversions == CN_LG_MAX_SIM_VERSIONS)
                return cn_fail(err, errlen, CN_EINVAL, "%s: more than %d versions",
                               out->metric, CN_LG_MAX_SIM_VERSIONS);
            memcpy(out->versions[out->nversions], p, vlen);
            out->versions[out->nversions][vlen] = '\0';
            out->p[out->nversions++] = prob;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

bool cn_lg_sim_p(const cn_lg_sim_t *s, const char *version, double *p)
{
    for (size_t i = 0; version && i < s->nversions; i++)
        if (strcmp(s->versions[i], version) == 0) {
            *p = s->p[i];
            return true;
        }
    if (s->has_any) {
        *p = s->any_p;
        return true;
    }
    return false;
}

int cn_lg_sim_draw(uint64_t seed, uint64_t request, unsigned metric, double p)
{
    /* one splitmix64 output per (seed, request, metric): mixing the
     * request number through the generator's constant keeps neighbouring
     * requests' words unrelated */
    uint64_t state = cn_rand_mix(seed ^ UINT64_C(0x5f4c6f6164676e21)) +
                     request * UINT64_C(0x9e3779b97f4a7c15) +
                     (uint64_t)metric * UINT64_C(0xd1b54a32d192ed03);
    return cn_rand_unit(&state) < p ? 1 : 0;
}

/* ------------------------------------------------------------ bodies file */

void cn_lg_line_dispose(cn_lg_line_t *l)
{
    if (!l)
        return;
    free(l->body);
    free(l->segment);
    free(l->feedback);
    memset(l, 0, sizeof *l);
}

/* Is the object a wrapper: "body" and nothing but body/segment/feedback? */
static bool is_wrapper(json_t *o)
{
    if (!json_is_object(o) || !json_object_get(o, "body"))
        return false;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (strcmp(key, "body") != 0 && strcmp(key, "segment") != 0 &&
            strcmp(key, "feedback") != 0)
            return false;
    }
    return true;
}

/* The recorded feedback: an object of metric name to a finite number
 * (true and false are 1 and 0), as compact JSON. */
static int feedback_of(json_t *fb, char **out, char *err, size_t errlen)
{
    char q[96];
    if (!json_is_object(fb) || json_object_size(fb) == 0)
        return cn_fail(err, errlen, CN_EPARSE,
                       "'feedback' must be an object of metric names to numbers, such "
                       "as {\"label\": 1}");
    json_t *clean = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(fb, key, v)
    {
        if (!name_ok(key, strlen(key))) {
            json_decref(clean);
            return cn_fail(
                err, errlen, CN_EPARSE,
                "feedback metric '%s': expected 1 to 64 letters, digits, '_', "
                "'.' or '-'",
                cn_text_quote(key, strlen(key), 64, q));
        }
        if (json_is_boolean(v)) {
            json_object_set_new(clean, key, json_integer(json_is_true(v)));
        } else if (json_is_number(v)) {
            json_object_set(clean, key, v);
        } else {
            json_decref(clean);
            return cn_fail(err, errlen, CN_EPARSE,
                           "feedback metric '%s': expected a number", key);
        }
    }
    *out = json_dumps(clean, JSON_COMPACT);
    json_decref(clean);
    return 0;
}

int cn_lg_line_parse(const char *text, size_t len, cn_lg_line_t *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    while (len > 0 &&
           (text[len - 1] == '\r' || text[len - 1] == ' ' || text[len - 1] == '\t'))
        len--;
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return cn_fail(err, errlen, CN_EPARSE, "not JSON: %s (column %d)", je.text,
                       je.column);
    int rc = 0;
    if (!is_wrapper(j)) {
        out->body = cn_xstrndup(text, len);
        out->body_len = len;
        json_decref(j);
        return 0;
    }
    json_t *body = json_object_get(j, "body");
    json_t *seg = json_object_get(j, "segment");
    json_t *fb = json_object_get(j, "feedback");
    if (json_is_string(body)) {
        out->body_len = json_string_length(body);
        out->body = cn_xstrndup(json_string_value(body), out->body_len);
    } else {
        out->body = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        out->body_len = strlen(out->body);
    }
    if (seg) {
        const char *s = json_string_value(seg);
        if (!s || !cn_lg_segment_ok(s, json_string_length(seg))) {
            rc = cn_fail(err, errlen, CN_EPARSE,
                         "'segment' must be a string of 1 to 64 visible ASCII "
                         "characters, no quote, backslash or comma");
            goto out;
        }
        out->segment = cn_xstrdup(s);
    }
    if (fb) {
        rc = feedback_of(fb, &out->feedback, err, errlen);
        if (rc)
            goto out;
    }
out:
    json_decref(j);
    return rc;
}

void cn_lg_bodies_dispose(cn_lg_bodies_t *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->count; i++)
        cn_lg_line_dispose(&b->lines[i]);
    free(b->lines);
    memset(b, 0, sizeof *b);
}

int cn_lg_bodies_parse(const char *text, size_t len, const char *name,
                       cn_lg_bodies_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        size_t blank = 0;
        while (blank < n && (p[blank] == ' ' || p[blank] == '\t' || p[blank] == '\r'))
            blank++;
        if (blank < n) {
            if (out->count == cap) {
                cap = cap ? 2 * cap : 64;
                out->lines = cn_xrealloc(out->lines, cap * sizeof *out->lines);
            }
            char why[400];
            cn_lg_line_t *l = &out->lines[out->count];
            int rc = cn_lg_line_parse(p, n, l, why, sizeof why);
            if (rc) {
                cn_lg_line_dispose(l);
                return cn_fail(err, errlen, rc, "%s:%zu: %s", name, lineno, why);
            }
            out->count++;
        }
        p = nl ? nl + 1 : end;
    }
    if (out->count == 0)
        return cn_fail(err, errlen, CN_EINVAL, "%s: no bodies (every line is blank)",
                       name);
    return 0;
}

/* ------------------------------------------------------------ target */

int cn_lg_target_parse(const char *url, cn_lg_target_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char q[300];
    if (strncmp(url, "http://", 7) != 0)
        return cn_fail(err, errlen, CN_EINVAL,
                       "target '%s': expected http://HOST:PORT[/PATH] (https is not "
                       "supported)",
                       cn_text_quote(url, strlen(url), 200, q));
    const char *hp = url + 7;
    const char *slash = strchr(hp, '/');
    size_t hlen = slash ? (size_t)(slash - hp) : strlen(hp);
    char host[CN_ADDR_HOST_BUF];
    uint16_t port;
    if (hlen == 0 || hlen >= sizeof out->hostport)
        return cn_fail(err, errlen, CN_EINVAL, "target '%s': expected http://HOST:PORT",
                       cn_text_quote(url, strlen(url), 200, q));
    memcpy(out->hostport, hp, hlen);
    out->hostport[hlen] = '\0';
    if (cn_addr_split(out->hostport, 0, host, &port) != 0 || !host[0])
        return cn_fail(err, errlen, CN_EINVAL,
                       "target '%s': expected http://HOST:PORT with a port in 1..65535",
                       cn_text_quote(url, strlen(url), 200, q));
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof out->path)
        return cn_fail(err, errlen, CN_EINVAL, "target: the path is over %zu bytes",
                       sizeof out->path - 1);
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 127 || *c == '#')
            return cn_fail(err, errlen, CN_EINVAL,
                           "target '%s': the path may not hold spaces, control "
                           "characters or '#'",
                           cn_text_quote(url, strlen(url), 200, q));
    strcpy(out->path, path);
    return 0;
}
