/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The pure half of the HAProxy engine (haproxy_internal.h): server names,
 * the parsers of `show servers state` and `show stat`, the check of each
 * command's answer, and the plan from a live backend to a generation's
 * servers. No I/O, no global state: the unit tests run it on HAProxy
 * 2.6.12's own answers.
 */
#include "engines/haproxy_internal.h"
#include "util/error.h"
#include "util/hash.h"
#include "util/text.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 200u

void cn_haproxy__live_dispose(cn_haproxy_live_t *live)
{
    free(live->servers);
    live->servers = NULL;
    live->count = 0;
}

void cn_haproxy__plan_dispose(cn_haproxy_plan_t *p)
{
    free(p->cmds);
    free(p->leaving);
    *p = (cn_haproxy_plan_t){0};
}

/* ------------------------------------------------------------- names */

static bool name_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '_' || c == '-';
}

void cn_haproxy__name_label(const char *label, char *out)
{
    size_t n = strlen(label);
    bool clean = n > 0 && n <= CN_HAPROXY_LABEL_KEEP;
    for (size_t i = 0; clean && i < n; i++)
        clean = name_char((unsigned char)label[i]);
    if (clean) {
        memcpy(out, label, n + 1);
        return;
    }
    size_t keep = n < CN_HAPROXY_LABEL_KEEP ? n : CN_HAPROXY_LABEL_KEEP;
    for (size_t i = 0; i < keep; i++)
        out[i] = name_char((unsigned char)label[i]) ? label[i] : '_';
    uint32_t h = (uint32_t)cn_hash_fnv1a64(label, n);
    snprintf(out + keep, CN_HAPROXY_NAME_MAX + 1 - keep, "%s%08" PRIx32,
             keep ? "-" : "", h);
}

int cn_haproxy__server_name(const char *prefix, cn_role_t role, const char *label,
                            unsigned index, char *out)
{
    char l[CN_HAPROXY_NAME_MAX + 1];
    cn_haproxy__name_label(label, l);
    int n = snprintf(out, CN_HAPROXY_NAME_MAX + 1, "%s%s-%s-%u", prefix,
                     cn_role_name(role), l, index);
    return n < 0 || (size_t)n > CN_HAPROXY_NAME_MAX ? CN_EINVAL : 0;
}

bool cn_haproxy__parse_name(const char *prefix, const char *name, cn_role_t *role,
                            char *label, unsigned *index)
{
    size_t pl = strlen(prefix);
    if (strncmp(name, prefix, pl) != 0)
        return false;
    const char *r = name + pl;
    if (strncmp(r, "stable-", 7) == 0)
        *role = CN_ROLE_STABLE;
    else if (strncmp(r, "canary-", 7) == 0)
        *role = CN_ROLE_CANARY;
    else
        return false;
    const char *l = r + 7;
    const char *dash = strrchr(l, '-');
    if (!dash || dash == l || !dash[1] || strlen(dash + 1) > 9)
        return false;
    unsigned v = 0;
    for (const char *d = dash + 1; *d; d++) {
        if (!isdigit((unsigned char)*d))
            return false;
        v = v * 10 + (unsigned)(*d - '0');
    }
    size_t ll = (size_t)(dash - l);
    if (ll > CN_HAPROXY_NAME_MAX)
        return false;
    memcpy(label, l, ll);
    label[ll] = '\0';
    *index = v;
    return true;
}

/* ----------------------------------------------------------- answers */

/* The answer folded into one line and quoted, for messages. */
static const char *fold(const char *answer, char *buf)
{
    char line[QUOTE_MAX + 64];
    size_t n = 0;
    bool space = false;
    for (const char *p = answer; *p && n + 1 < sizeof line; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
            space = n > 0;
            continue;
        }
        if (space && n + 2 < sizeof line)
            line[n++] = ' ';
        space = false;
        line[n++] = *p;
    }
    line[n] = '\0';
    return cn_text_quote(line, n, QUOTE_MAX, buf);
}

int cn_haproxy__check_answer(const char *command, cn_haproxy_expect_t expect,
                             const char *answer, char *err, size_t errlen)
{
    bool ok = false;
    switch (expect) {
    case CN_HAPROXY_EXPECT_EMPTY:
        ok = true;
        for (const char *p = answer; *p && ok; p++)
            ok = isspace((unsigned char)*p);
        break;
    case CN_HAPROXY_EXPECT_ADDED:
        ok = strncmp(answer, "New server registered.", 22) == 0;
        break;
    case CN_HAPROXY_EXPECT_DELETED:
        ok = strncmp(answer, "Server deleted.", 15) == 0;
        break;
    case CN_HAPROXY_EXPECT_STATE:
        ok = strncmp(answer, "1\n", 2) == 0;
        break;
    case CN_HAPROXY_EXPECT_STAT:
        ok = strncmp(answer, "# pxname,", 9) == 0;
        break;
    }
    if (ok)
        return 0;
    char qc[CN_TEXT_QUOTE_BUF(QUOTE_MAX)], qa[CN_TEXT_QUOTE_BUF(QUOTE_MAX)];
    return cn_fail(err, errlen, CN_EIO, "haproxy: '%s': %s",
                   cn_text_quote(command, strlen(command), QUOTE_MAX, qc),
                   answer[0] ? fold(answer, qa) : "(no answer)");
}

/* Split line (modified) at spaces or at sep into at most max fields. */
static size_t split(char *line, char sep, char **f, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (*p && n < max) {
        if (sep == ' ')
            while (*p == ' ')
                p++;
        if (!*p)
            break;
        f[n++] = p;
        while (*p && *p != sep)
            p++;
        if (*p)
            *p++ = '\0';
    }
    return n;
}

static bool parse_uint(const char *s, unsigned *out)
{
    if (!*s)
        return false;
    unsigned long v = 0;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s) || v > 100000000ul)
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    *out = (unsigned)v;
    return true;
}

/* Next line of text from *p into a copy (cut at 4 KiB); NULL at the end. */
static char *next_line(const char **p, char *buf, size_t len)
{
    if (!**p)
        return NULL;
    const char *e = strchr(*p, '\n');
    size_t n = e ? (size_t)(e - *p) : strlen(*p);
    size_t k = n < len - 1 ? n : len - 1;
    memcpy(buf, *p, k);
    buf[k] = '\0';
    if (k && buf[k - 1] == '\r')
        buf[k - 1] = '\0';
    *p += n + (e ? 1 : 0);
    return buf;
}

int cn_haproxy__parse_state(const char *text, const char *backend, const char *prefix,
                            cn_haproxy_live_t *live, char *err, size_t errlen)
{
    const char *p = text;
    char line[4096];
    if (!next_line(&p, line, sizeof line) || strcmp(line, "1") != 0) {
        char q[CN_TEXT_QUOTE_BUF(QUOTE_MAX)];
        return cn_fail(err, errlen, CN_EPARSE,
                       "haproxy: 'show servers state %s': expected format version 1, "
                       "got %s",
                       backend, fold(text, q));
    }
    size_t cap = live->count;
    int lineno = 1;
    while (next_line(&p, line, sizeof line)) {
        lineno++;
        if (!line[0] || line[0] == '#')
            continue;
        char *f[32];
        size_t n = split(line, ' ', f, 32);
        if (n == 0)
            continue;
        /* be_id be_name srv_id srv_name srv_addr op admin uweight iweight
         * ... srv_fqdn srv_port (field 18) ... */
        cn_haproxy_server_t s = {0};
        if (n < 19 || !parse_uint(f[5], &s.op) || !parse_uint(f[6], &s.admin) ||
            !parse_uint(f[7], &s.weight) || strlen(f[3]) > CN_HAPROXY_NAME_MAX)
            return cn_fail(err, errlen, CN_EPARSE,
                           "haproxy: 'show servers state %s': line %d: expected 19 "
                           "or more fields (name, address, states, weight, port)",
                           backend, lineno);
        if (strcmp(f[1], backend) != 0)
            continue;
        snprintf(s.name, sizeof s.name, "%s", f[3]);
        if (strcmp(f[4], "-") == 0)
            snprintf(s.addr, sizeof s.addr, "-");
        else if (strchr(f[4], ':'))
            snprintf(s.addr, sizeof s.addr, "[%.40s]:%.5s", f[4], f[18]);
        else
            snprintf(s.addr, sizeof s.addr, "%.40s:%.5s", f[4], f[18]);
        s.ours = cn_haproxy__parse_name(prefix, s.name, &s.role, s.label, &s.index);
        if (live->count == cap) {
            cap = cap ? 2 * cap : 8;
            live->servers = cn_xrealloc(live->servers, cap * sizeof *live->servers);
        }
        live->servers[live->count++] = s;
    }
    return 0;
}

int cn_haproxy__parse_stat(const char *text, const char *backend,
                           cn_haproxy_live_t *live, char *err, size_t errlen)
{
    const char *p = text;
    char line[8192];
    if (!next_line(&p, line, sizeof line) || strncmp(line, "# pxname,", 9) != 0) {
        char q[CN_TEXT_QUOTE_BUF(QUOTE_MAX)];
        return cn_fail(err, errlen, CN_EPARSE,
                       "haproxy: 'show stat %s 4 -1': expected a CSV header, got %s",
                       backend, fold(text, q));
    }
    char *h[256];
    size_t nh = split(line + 2, ',', h, 256);
    int c_px = -1, c_sv = -1, c_scur = -1, c_bck = -1;
    for (size_t i = 0; i < nh; i++) {
        if (strcmp(h[i], "pxname") == 0)
            c_px = (int)i;
        else if (strcmp(h[i], "svname") == 0)
            c_sv = (int)i;
        else if (strcmp(h[i], "scur") == 0)
            c_scur = (int)i;
        else if (strcmp(h[i], "bck") == 0)
            c_bck = (int)i;
    }
    if (c_px < 0 || c_sv < 0 || c_scur < 0 || c_bck < 0)
        return cn_fail(err, errlen, CN_EPARSE,
                       "haproxy: 'show stat %s 4 -1': the header lacks pxname, svname, "
                       "scur or bck",
                       backend);
    int need = c_px;
    if (c_sv > need)
        need = c_sv;
    if (c_scur > need)
        need = c_scur;
    if (c_bck > need)
        need = c_bck;
    while (next_line(&p, line, sizeof line)) {
        if (!line[0] || line[0] == '#')
            continue;
        /* fields may be empty: split by hand, keeping empty ones */
        char *f[256];
        size_t n = 0;
        for (char *q = line; n < 256;) {
            f[n++] = q;
            char *c = strchr(q, ',');
            if (!c)
                break;
            *c = '\0';
            q = c + 1;
        }
        if ((int)n <= need || strcmp(f[c_px], backend) != 0)
            continue;
        for (size_t i = 0; i < live->count; i++) {
            if (strcmp(live->servers[i].name, f[c_sv]) != 0)
                continue;
            unsigned v = 0;
            live->servers[i].scur = parse_uint(f[c_scur], &v) ? v : 0;
            live->servers[i].backup = parse_uint(f[c_bck], &v) && v > 0;
        }
    }
    return 0;
}

/* -------------------------------------------------------------- plan */

static cn_haproxy_cmd_t *push(cn_haproxy_plan_t *p, cn_haproxy_expect_t expect,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static cn_haproxy_cmd_t *push(cn_haproxy_plan_t *p, cn_haproxy_expect_t expect,
                              const char *fmt, ...)
{
    if (p->count == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 16;
        p->cmds = cn_xrealloc(p->cmds, p->cap * sizeof *p->cmds);
    }
    cn_haproxy_cmd_t *c = &p->cmds[p->count++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof c->text, fmt, ap);
    va_end(ap);
    c->expect = expect;
    return c;
}

static void why(cn_haproxy_plan_t *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why(cn_haproxy_plan_t *p, const char *fmt, ...)
{
    if (p->why[0])
        return; /* the first difference says enough */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof p->why, fmt, ap);
    va_end(ap);
}

static bool is_ready(const cn_haproxy_server_t *s)
{
    return (s->admin & (CN_HAPROXY_ADMF_MAINT | CN_HAPROXY_ADMF_FDRAIN |
                        CN_HAPROXY_ADMF_IDRAIN)) == 0;
}

/* Whether words (space-separated) holds word. */
static bool has_word(const char *words, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = strstr(words, word); p; p = strstr(p + 1, word))
        if ((p == words || p[-1] == ' ') && (!p[wl] || p[wl] == ' '))
            return true;
    return false;
}

/* Whether index i is free for role/label: no live server of ours and no
 * name given earlier in this plan has it. */
static bool index_free(const cn_haproxy_live_t *live, cn_role_t role, const char *label,
                       unsigned i, const unsigned *taken, size_t n_taken)
{
    for (size_t k = 0; k < live->count; k++) {
        const cn_haproxy_server_t *s = &live->servers[k];
        if (s->ours && s->role == role && s->index == i && strcmp(s->label, label) == 0)
            return false;
    }
    for (size_t k = 0; k < n_taken; k++)
        if (taken[k] == i)
            return false;
    return true;
}

int cn_haproxy__plan(const cn_haproxy_config_t *cfg, const cn_haproxy_live_t *live,
                     const cn_haproxy_want_t *want, size_t n_want,
                     cn_haproxy_plan_t *plan, char *err, size_t errlen)
{
    *plan = (cn_haproxy_plan_t){0};
    const char *be = cfg->backend;
    plan->leaving = cn_xcalloc(live->count ? live->count : 1, sizeof *plan->leaving);
    for (size_t i = 0; i < live->count; i++) {
        const cn_haproxy_server_t *s = &live->servers[i];
        if (!s->ours && !s->backup && s->weight > 0 && is_ready(s)) {
            cn_haproxy__plan_dispose(plan);
            return cn_fail(
                err, errlen, CN_EINVAL,
                "haproxy backend '%s': server '%s' is not canary's (its name "
                "does not start with '%s') and takes traffic (weight %u, not "
                "a backup server): the split would be wrong; make it a backup "
                "server, give it weight 0 or remove it",
                be, s->name, cfg->server_prefix, s->weight);
        }
    }
    /* match[j]: the live server of want j, or -1 (to add) */
    long *match = cn_xmalloc((n_want ? n_want : 1) * sizeof *match);
    bool *used = cn_xcalloc(live->count ? live->count : 1, sizeof *used);
    for (size_t j = 0; j < n_want; j++) {
        match[j] = -1;
        for (int pass = 0; pass < 2 && match[j] < 0; pass++)
            for (size_t i = 0; i < live->count; i++) {
                const cn_haproxy_server_t *s = &live->servers[i];
                if (used[i] || !s->ours || s->role != want[j].role ||
                    strcmp(s->label, want[j].label) != 0 ||
                    strcmp(s->addr, want[j].addr) != 0 || (pass == 0 && !is_ready(s)))
                    continue;
                match[j] = (long)i;
                used[i] = true;
                break;
            }
    }
    for (size_t i = 0; i < live->count; i++)
        plan->leaving[i] = live->servers[i].ours && !used[i];

    /* names of the servers to add */
    char(*names)[CN_HAPROXY_NAME_MAX + 1] =
        cn_xcalloc(n_want ? n_want : 1, sizeof *names);
    unsigned *taken = cn_xmalloc((n_want ? n_want : 1) * sizeof *taken);
    int rc = 0;
    for (size_t j = 0; j < n_want && !rc; j++) {
        if (match[j] >= 0) {
            snprintf(names[j], sizeof names[j], "%s", live->servers[match[j]].name);
            continue;
        }
        /* the lowest index free among this role and label's names */
        size_t n_taken = 0;
        for (size_t k = 0; k < j; k++)
            if (match[k] < 0 && want[k].role == want[j].role &&
                strcmp(want[k].label, want[j].label) == 0)
                taken[n_taken++] =
                    (unsigned)strtoul(strrchr(names[k], '-') + 1, NULL, 10);
        unsigned idx = 0;
        while (!index_free(live, want[j].role, want[j].label, idx, taken, n_taken))
            idx++;
        /* the label is already in name form: build the name by hand */
        int n = snprintf(names[j], sizeof names[j], "%s%s-%s-%u", cfg->server_prefix,
                         cn_role_name(want[j].role), want[j].label, idx);
        if (n < 0 || (size_t)n > CN_HAPROXY_NAME_MAX)
            rc =
                cn_fail(err, errlen, CN_EINVAL,
                        "haproxy: the server name for %s version '%s' is longer than "
                        "%u bytes (shorten server_prefix)",
                        cn_role_name(want[j].role), want[j].label, CN_HAPROXY_NAME_MAX);
    }
    const char *opts = cfg->server_options ? cfg->server_options : "";
    const char *sp = opts[0] ? " " : "";
    bool checks = has_word(opts, "check");
    /* 1. add (in maintenance: no traffic yet) */
    for (size_t j = 0; j < n_want && !rc; j++)
        if (match[j] < 0) {
            why(plan, "server %s (%s) is missing", names[j], want[j].addr);
            push(plan, CN_HAPROXY_EXPECT_ADDED, "add server %s/%s %s weight %u%s%s", be,
                 names[j], want[j].addr, want[j].weight, sp, opts);
        }
    /* 2-4: the canary's decreases, the stable, the canary's increases */
    for (int phase = 0; phase < 3 && !rc; phase++) {
        cn_role_t role = phase == 1 ? CN_ROLE_STABLE : CN_ROLE_CANARY;
        bool down = phase == 0, up = phase == 2, all = phase == 1;
        for (size_t j = 0; j < n_want; j++) {
            if (want[j].role != role)
                continue;
            if (match[j] < 0) {
                if (all || up) {
                    push(plan, CN_HAPROXY_EXPECT_EMPTY, "enable server %s/%s", be,
                         names[j]);
                    /* a dynamic server's checks start disabled */
                    if (checks)
                        push(plan, CN_HAPROXY_EXPECT_EMPTY, "enable health %s/%s", be,
                             names[j]);
                }
                continue;
            }
            const cn_haproxy_server_t *s = &live->servers[match[j]];
            bool lower = want[j].weight<s->weight, higher = want[j].weight> s->weight;
            if ((all && (lower || higher)) || (down && lower) || (up && higher)) {
                why(plan, "server %s has weight %u, not %u", s->name, s->weight,
                    want[j].weight);
                push(plan, CN_HAPROXY_EXPECT_EMPTY, "set weight %s/%s %u", be, s->name,
                     want[j].weight);
            }
            if ((all || up) && !is_ready(s)) {
                why(plan, "server %s is in %s", s->name,
                    s->admin & CN_HAPROXY_ADMF_MAINT ? "maintenance" : "drain");
                push(plan, CN_HAPROXY_EXPECT_EMPTY, "set server %s/%s state ready", be,
                     s->name);
            }
        }
        if (up)
            continue;
        for (size_t i = 0; i < live->count; i++) {
            const cn_haproxy_server_t *s = &live->servers[i];
            if (!plan->leaving[i] || s->role != role || !is_ready(s))
                continue;
            why(plan, "server %s is not in the generation", s->name);
            push(plan, CN_HAPROXY_EXPECT_EMPTY, "set server %s/%s state drain", be,
                 s->name);
        }
    }
    free(taken);
    free(names);
    free(used);
    free(match);
    if (rc)
        cn_haproxy__plan_dispose(plan);
    return rc;
}
