/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What `canary rollout status --watch` shows (see watch.h): the block a
 * terminal redraws in place, the plain line a pipe gets, and what counts as
 * a change. Every text the server sent (names, reasons) passes through
 * emit(), which replaces control bytes, so that a model name cannot carry
 * an escape sequence to the terminal.
 */
#include "cli/watch.h"
#include "util/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long num_i(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v)
                              : (long long)json_number_value(v);
}

static bool is_final(const char *state)
{
    return strcmp(state, "promoted") == 0 || strcmp(state, "rolled-back") == 0 ||
           strcmp(state, "aborted") == 0;
}

size_t cn_watch_fit(const char *s, size_t len, unsigned cols)
{
    size_t i = 0;
    unsigned n = 0;
    while (i < len && n < cols) {
        size_t k = cn_text_utf8_len(s + i, len - i);
        i += k ? k : 1;
        n++;
    }
    return i;
}

/* Append one line: formatted, control bytes replaced, cut to `cols`
 * characters (0: no limit), and a newline. */
static void emit(cn_buf_t *out, unsigned cols, unsigned *lines, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void emit(cn_buf_t *out, unsigned cols, unsigned *lines, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    line[len] = '\0';
    len = cn_text_utf8_clip(line);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
            line[i] = '?';
    if (cols)
        len = cn_watch_fit(line, len, cols);
    cn_buf_add(out, line, len);
    cn_buf_byte(out, '\n');
    (*lines)++;
}

/* "1h02m", "4m05s", "12s" */
static void span_text(int64_t ms, char *buf, size_t len)
{
    int64_t s = ms <= 0 ? 0 : (ms + 999) / 1000;
    if (s >= 3600)
        snprintf(buf, len, "%lldh%02lldm", (long long)(s / 3600),
                 (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, len, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, len, "%llds", (long long)s);
}

static void clock_text(int64_t unix_ms, char *buf, size_t len)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    strftime(buf, len, "%H:%M:%S", gmtime_r(&t, &tm));
}

/* The fraction of the strategy done: whole steps, plus the part of a timed
 * step that has passed. */
static double progress(json_t *r, int64_t now_ms)
{
    long long steps = num_i(r, "steps"), step = num_i(r, "step");
    const char *state = str(r, "state");
    if (strcmp(state, "promoted") == 0)
        return 1;
    if (steps <= 0)
        return 0;
    double done = (double)(step < steps ? step : steps);
    json_t *cs = json_object_get(r, "current_step");
    double dur = json_number_value(json_object_get(cs, "duration_s"));
    json_t *ends = json_object_get(cs, "step_ends_unix_ms");
    if (dur > 0 && ends && strcmp(state, "progressing") == 0) {
        double left = (double)(json_integer_value(ends) - now_ms) / 1000.0;
        double part = 1 - left / dur;
        done += part < 0 ? 0 : part > 1 ? 1 : part;
    }
    return done / (double)steps;
}

/* The trigger states, in a few words each. */
static void triggers_text(json_t *r, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "triggers"), i, t)
    {
        const char *what = json_is_true(json_object_get(t, "fired")) ? "FIRED"
                           : json_is_true(json_object_get(t, "ran")) ? "ok"
                                                                     : "waiting";
        int n =
            snprintf(buf + o, len - o, "%s%s %s", o ? ", " : "", str(t, "check"), what);
        if (n < 0 || (size_t)n >= len - o)
            return;
        o += (size_t)n;
    }
    json_t *q = json_object_get(r, "sequential");
    json_array_foreach(json_object_get(q, "metrics"), i, t)
    {
        int n;
        if (json_is_true(json_object_get(t, "started")))
            n = snprintf(buf + o, len - o, "%ssequential %s e=%.3g of %g",
                         o ? ", " : "", str(t, "metric"),
                         json_number_value(json_object_get(t, "e_value")),
                         json_number_value(json_object_get(q, "threshold")));
        else
            n = snprintf(buf + o, len - o, "%ssequential %s waiting", o ? ", " : "",
                         str(t, "metric"));
        if (n < 0 || (size_t)n >= len - o)
            return;
        o += (size_t)n;
    }
}

/* "step 3 of 6: pause" (steps counted from 1), or "done". */
static void step_text(json_t *r, char *buf, size_t len)
{
    long long steps = num_i(r, "steps"), step = num_i(r, "step");
    json_t *cs = json_object_get(r, "current_step");
    const char *state = str(r, "state");
    if (strcmp(state, "promoted") == 0)
        snprintf(buf, len, "all %lld steps done, %s is stable", steps,
                 str(r, "version"));
    else if (strcmp(state, "rolled-back") == 0 || strcmp(state, "aborted") == 0)
        snprintf(buf, len, "%s at step %lld of %lld", state, step + 1, steps);
    else if (step >= steps)
        snprintf(buf, len, "all %lld steps done", steps);
    else if (cs)
        snprintf(buf, len, "step %lld of %lld: %s", step + 1, steps, str(cs, "kind"));
    else
        snprintf(buf, len, "step %lld of %lld", step + 1, steps);
}

unsigned cn_watch_block(json_t *r, json_t *analysis, int64_t now_ms, unsigned width,
                        cn_buf_t *out)
{
    unsigned lines = 0;
    if (width < CN_WATCH_MIN_WIDTH)
        width = CN_WATCH_MIN_WIDTH;
    unsigned cols = width - 1; /* never the last column: no pending wrap */
    const char *state = str(r, "state");
    char clock[16], a[64], b[64], text[1024];

    clock_text(now_ms, clock, sizeof clock);
    /* the state first: a narrow terminal cuts the end of the line */
    emit(out, cols, &lines, "rollout %lld %s%s%s%s: %s %s (from %s)", num_i(r, "id"),
         state, *str(r, "hold") ? " (" : "", str(r, "hold"), *str(r, "hold") ? ")" : "",
         str(r, "model"), str(r, "version"), str(r, "baseline"));

    /* the bar through the steps, as wide as the line allows (at most 50) */
    step_text(r, text, sizeof text);
    char tail[256];
    snprintf(a, sizeof a, ", weight %g%%",
             json_number_value(json_object_get(r, "weight")));
    snprintf(tail, sizeof tail, " %.120s%s%s", text, is_final(state) ? "" : a,
             json_is_true(json_object_get(r, "dry_run")) ? " (dry run)" : "");
    size_t tail_len = strlen(tail);
    unsigned bar = cols > tail_len + 2 + 10 ? (unsigned)(cols - tail_len - 2) : 10;
    if (bar > 50)
        bar = 50;
    char bartext[64];
    unsigned filled = (unsigned)floor(progress(r, now_ms) * bar + 1e-9);
    for (unsigned i = 0; i < bar; i++)
        bartext[i] = i < filled ? '#' : '.';
    bartext[bar] = '\0';
    emit(out, cols, &lines, "[%s]%s", bartext, tail);

    json_t *cs = json_object_get(r, "current_step");
    if (!is_final(state)) {
        json_t *ends = json_object_get(cs, "step_ends_unix_ms");
        json_t *limit = json_object_get(cs, "bake_limit_unix_ms");
        json_t *warm = json_object_get(r, "warmup_ends_unix_ms");
        if (strcmp(state, "warmup") == 0 &&
            !(warm && json_integer_value(warm) > now_ms)) {
            emit(out, cols, &lines,
                 "time left  warmup: waiting for the canary's traffic");
        } else if (warm && json_integer_value(warm) > now_ms) {
            span_text(json_integer_value(warm) - now_ms, a, sizeof a);
            emit(out, cols, &lines, "time left  warmup: %s", a);
        } else if (ends) {
            span_text(json_integer_value(ends) - now_ms, a, sizeof a);
            span_text(
                (int64_t)(json_number_value(json_object_get(cs, "duration_s")) * 1000),
                b, sizeof b);
            emit(out, cols, &lines, "time left  %s of the %s %s", a, b,
                 str(cs, "kind"));
        } else if (limit) {
            span_text(json_integer_value(limit) - now_ms, a, sizeof a);
            emit(out, cols, &lines, "time left  %s to gather samples (max_bake)", a);
        }
    }

    json_t *s = json_object_get(r, "samples");
    if (s) {
        long long need = num_i(s, "needed");
        if (need > 0)
            snprintf(a, sizeof a, " of %lld needed", need);
        else
            a[0] = '\0';
        emit(out, cols, &lines, "samples    canary %lld%s, stable %lld (%.0f/min)",
             num_i(s, "canary"), a, num_i(s, "stable"),
             json_number_value(json_object_get(s, "per_minute")));
    }

    json_t *v = json_object_get(r, "last_verdict");
    if (json_is_object(v)) {
        clock_text(num_i(v, "time_unix_ms"), a, sizeof a);
        json_t *why = json_array_get(json_object_get(v, "reasons"), 0);
        emit(out, cols, &lines, "verdict    %s at %s%s%s", str(v, "verdict"), a,
             json_string_value(why) ? ": " : "",
             json_string_value(why) ? json_string_value(why) : "");
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(analysis, "metrics"), i, row)
        {
            if (i == 8) {
                emit(out, cols, &lines, "  ... %zu more metrics",
                     json_array_size(json_object_get(analysis, "metrics")) - 8);
                break;
            }
            const char *seg = str(row, "segment");
            emit(out, cols, &lines,
                 "  %s%s%s  %s  canary %lld, stable %lld (needs %lld per arm)",
                 str(row, "name"), *seg ? "/" : "", seg, str(row, "classification"),
                 num_i(row, "n_canary"), num_i(row, "n_stable"),
                 num_i(row, "min_samples"));
        }
    }

    triggers_text(r, text, sizeof text);
    if (text[0])
        emit(out, cols, &lines, "triggers   %s", text);

    json_t *br = json_object_get(r, "blast_radius");
    if (json_is_object(br))
        emit(out, cols, &lines,
             "blast      %lld canary requests, %lld failed, %.2f%% of all traffic",
             num_i(br, "canary_requests"), num_i(br, "canary_failed"),
             100 * json_number_value(json_object_get(br, "share")));

    if (*str(r, "reason"))
        emit(out, cols, &lines, "reason     %s", str(r, "reason"));
    emit(out, cols, &lines, "%s at %s UTC", is_final(state) ? "ended; read" : "read",
         clock);
    return lines;
}

void cn_watch_line(json_t *r, int64_t now_ms, cn_buf_t *out)
{
    unsigned lines = 0;
    char when[32], step[128], text[1024], verdict[600] = "", samples[96] = "",
                                          blast[128] = "";
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    step_text(r, step, sizeof step);
    json_t *s = json_object_get(r, "samples");
    if (s && num_i(s, "needed") > 0)
        snprintf(samples, sizeof samples, ", samples %lld of %lld", num_i(s, "canary"),
                 num_i(s, "needed"));
    else if (s)
        snprintf(samples, sizeof samples, ", samples %lld", num_i(s, "canary"));
    json_t *v = json_object_get(r, "last_verdict");
    if (json_is_object(v)) {
        const char *why =
            json_string_value(json_array_get(json_object_get(v, "reasons"), 0));
        snprintf(verdict, sizeof verdict, ", verdict %s%s%.500s", str(v, "verdict"),
                 why ? ": " : "", why ? why : "");
    }
    json_t *br = json_object_get(r, "blast_radius");
    if (json_is_object(br))
        snprintf(blast, sizeof blast,
                 ", blast %lld canary requests (%lld failed, %.2f%%)",
                 num_i(br, "canary_requests"), num_i(br, "canary_failed"),
                 100 * json_number_value(json_object_get(br, "share")));
    triggers_text(r, text, sizeof text);
    /* the reason last, where a long one hurts least */
    char weight[48] = "";
    if (!is_final(str(r, "state")))
        snprintf(weight, sizeof weight, ", weight %g%%",
                 json_number_value(json_object_get(r, "weight")));
    emit(out, 0, &lines, "%s rollout %lld %s %s: %s%s%s, %s%s%s%s%s%s%s%s%s", when,
         num_i(r, "id"), str(r, "model"), str(r, "version"), str(r, "state"),
         *str(r, "hold") ? " " : "", str(r, "hold"), step, weight, samples, verdict,
         text[0] ? ", triggers: " : "", text, blast,
         *str(r, "reason") ? "; reason: " : "", str(r, "reason"));
}

void cn_watch_signature(json_t *r, cn_buf_t *out)
{
    cn_buf_reset(out);
    json_t *v = json_object_get(r, "last_verdict");
    cn_buf_printf(out, "%s|%s|%lld|%g|%s|%s|%lld|", str(r, "state"), str(r, "hold"),
                  num_i(r, "step"), json_number_value(json_object_get(r, "weight")),
                  str(r, "reason"), str(v, "verdict"), num_i(v, "time_unix_ms"));
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "triggers"), i, t)
        cn_buf_printf(out, "%d", json_is_true(json_object_get(t, "fired")));
}
