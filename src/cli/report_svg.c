/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The report's charts as inline SVG, written as text (see report.h): the
 * weight timeline of a rollout and the forest plot of an analysis. They
 * use no script, no font and no image: shapes, text in the page's own
 * font, and colours that survive a black-and-white printer (each mark
 * also differs by shape or label).
 *
 * Coordinates are SVG user units in a viewBox, so the page scales a chart
 * to its width on screen and on paper alike. Numbers are written with one
 * decimal ("%.1f"): a tenth of a unit is below a printer's dot at any
 * usual size, and the output stays short and stable for the tests.
 */
#include "cli/report.h"
#include "util/text.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ scales */

double cn_report_scale(const cn_report_scale_t *s, double v)
{
    double w = s->d1 - s->d0;
    if (!(w != 0) || !isfinite(w))
        return (s->r0 + s->r1) / 2;
    return s->r0 + (v - s->d0) / w * (s->r1 - s->r0);
}

size_t cn_report_ticks(double lo, double hi, size_t max_ticks, double *out, size_t cap)
{
    if (!isfinite(lo) || !isfinite(hi) || cap == 0)
        return 0;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    if (lo == hi) {
        out[0] = lo;
        return 1;
    }
    if (max_ticks < 2)
        max_ticks = 2;
    /* The smallest step of 1, 2 or 5 x 10^k that needs no more than
     * max_ticks ticks: start one decade below the raw step. */
    double raw = (hi - lo) / (double)(max_ticks - 1);
    double step = pow(10, floor(log10(raw)));
    static const double mult[] = {1, 2, 5, 10};
    for (size_t i = 0; i < 4; i++) {
        double s = step * mult[i];
        if (floor(hi / s) - ceil(lo / s) + 1 <= (double)max_ticks) {
            step = s;
            break;
        }
    }
    size_t n = 0;
    for (double k = ceil(lo / step); k * step <= hi * (1 + 1e-12) && n < cap; k++) {
        double v = k * step;
        out[n++] = fabs(v) < step * 1e-9 ? 0 : v; /* no "-0" */
    }
    return n;
}

/* ------------------------------------------------------------ helpers */

const char *cn_report_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

double cn_report_num(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *cn_report_class_of(const char *word)
{
    static const char *const known[] = {
        "pass",     "fail",        "marginal",  "inconclusive", "nodata", "error",
        "promoted", "rolled-back", "aborted",   "holding",      "paused", "progressing",
        "warmup",   "pending",     "promoting", "rolling-back", NULL};
    for (size_t i = 0; word && known[i]; i++)
        if (strcmp(word, known[i]) == 0)
            return known[i];
    return "other";
}

/* The colour of a verdict or a classification. */
static const char *verdict_colour(const char *v)
{
    if (strcmp(v, "pass") == 0)
        return "#1a7f37";
    if (strcmp(v, "fail") == 0 || strcmp(v, "error") == 0)
        return "#cf222e";
    if (strcmp(v, "marginal") == 0)
        return "#9a6700";
    return "#6e7781"; /* inconclusive, nodata, unknown */
}

/* A short number for a label: 4 significant digits. */
static void fmt_short(double v, char *buf, size_t len)
{
    if (!isfinite(v))
        snprintf(buf, len, "n/a");
    else
        snprintf(buf, len, "%.4g", v == 0 ? 0 : v);
}

static void svg_open(cn_buf_t *b, double w, double h, const char *cls,
                     const char *label)
{
    cn_buf_printf(b,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"%s\" "
                  "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"",
                  cls, w, h);
    cn_report_escape(b, label);
    cn_buf_str(b, "\">\n<title>");
    cn_report_escape(b, label);
    cn_buf_str(b, "</title>\n");
}

static void text_at(cn_buf_t *b, double x, double y, const char *anchor,
                    const char *cls, const char *s)
{
    cn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s%s>", x, y,
                  anchor, cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
    cn_report_escape(b, s);
    cn_buf_str(b, "</text>\n");
}

/* ------------------------------------------------------------ timeline */

#define TL_W 900.0
#define TL_H 300.0
#define TL_LEFT 56.0
#define TL_RIGHT 32.0
#define TL_TOP 52.0    /* room for up to three rows of marker labels */
#define TL_BOTTOM 76.0 /* axis labels and the legend */
#define TL_LABEL_ROWS 3

/* The time unit of the x axis: seconds, minutes or hours since the start,
 * whichever keeps the numbers readable. */
static void time_unit(double span_ms, double *unit_ms, const char **name)
{
    if (span_ms <= 180e3) {
        *unit_ms = 1e3;
        *name = "s";
    } else if (span_ms <= 3 * 3600e3) {
        *unit_ms = 60e3;
        *name = "min";
    } else {
        *unit_ms = 3600e3;
        *name = "h";
    }
}

typedef struct mark_s {
    double x;
    const char *kind; /* "analysis", "trigger", "manual" */
    const char *colour;
    char label[16];
    const char *why; /* the entry's reason, for the mark's tooltip */
} mark_t;

static void mark_shape(cn_buf_t *b, const mark_t *m, double y)
{
    if (strcmp(m->kind, "analysis") == 0)
        cn_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>", m->x,
                      y, m->colour);
    else if (strcmp(m->kind, "trigger") == 0)
        cn_buf_printf(b, "<path d=\"M%.1f %.1fl6 10h-12z\" fill=\"%s\"/>", m->x, y - 6,
                      m->colour);
    else
        cn_buf_printf(b, "<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\" fill=\"%s\"/>", m->x,
                      y - 5, m->colour);
}

void cn_report_svg_timeline(cn_buf_t *b, const json_t *rollout, const json_t *history)
{
    size_t n = json_array_size(history);
    double t0 = cn_report_num(rollout, "started_unix_ms");
    double t1 = cn_report_num(rollout, "ended_unix_ms");
    for (size_t i = 0; i < n; i++) {
        double t = cn_report_num(json_array_get(history, i), "time_unix_ms");
        if (!isfinite(t))
            continue;
        if (!isfinite(t0) || t < t0)
            t0 = t;
        if (!isfinite(t1) || t > t1)
            t1 = t;
    }
    if (!isfinite(t1))
        t1 = cn_report_num(rollout, "updated_unix_ms");
    if (!isfinite(t0))
        t0 = isfinite(t1) ? t1 : 0;
    if (!isfinite(t1) || t1 <= t0)
        t1 = t0 + 1000;

    char label[300];
    snprintf(label, sizeof label,
             "Canary weight over time, with %zu audit entries marked: analyses by "
             "verdict, triggers and manual actions",
             n);
    svg_open(b, TL_W, TL_H, "chart timeline", label);
    double x0 = TL_LEFT, x1 = TL_W - TL_RIGHT, y0 = TL_H - TL_BOTTOM, y1 = TL_TOP;
    double unit_ms;
    const char *unit;
    time_unit(t1 - t0, &unit_ms, &unit);
    cn_report_scale_t xs = {0, (t1 - t0) / unit_ms, x0, x1};
    cn_report_scale_t ys = {0, 100, y0, y1};

    /* grid and axes */
    cn_buf_str(b, "<g class=\"axis\">\n");
    static const double weights[] = {0, 25, 50, 75, 100};
    for (size_t i = 0; i < 5; i++) {
        double y = cn_report_scale(&ys, weights[i]);
        cn_buf_printf(
            b,
            "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
            x0, y, x1, y);
        char t[16];
        snprintf(t, sizeof t, "%.0f%%", weights[i]);
        text_at(b, x0 - 6, y + 4, "end", NULL, t);
    }
    double ticks[16];
    size_t nt = cn_report_ticks(0, (t1 - t0) / unit_ms, 10, ticks, 16);
    for (size_t i = 0; i < nt; i++) {
        double x = cn_report_scale(&xs, ticks[i]);
        cn_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x,
                      y0, x, y0 + 5);
        char t[32];
        snprintf(t, sizeof t, "+%g %s", ticks[i], unit);
        text_at(b, x, y0 + 18, "middle", NULL, t);
    }
    cn_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0,
                  y0, x1, y0);
    cn_buf_str(b, "</g>\n");
    cn_buf_printf(b,
                  "<text x=\"0\" y=\"0\" text-anchor=\"middle\" class=\"axis-title\" "
                  "transform=\"translate(14 %.1f) rotate(-90)\">canary weight</text>\n",
                  (y0 + y1) / 2);

    /* the weight as a step function: each entry holds the weight after it */
    cn_buf_t path = CN_BUF_INIT(b->max);
    double w = 0;
    cn_buf_printf(&path, "M%.1f %.1f", x0, cn_report_scale(&ys, 0));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(history, i);
        double t = cn_report_num(e, "time_unix_ms"), nw = cn_report_num(e, "weight");
        if (!isfinite(t) || !isfinite(nw))
            continue;
        nw = nw < 0 ? 0 : nw > 100 ? 100 : nw;
        double x = cn_report_scale(&xs, (t - t0) / unit_ms);
        if (nw != w)
            cn_buf_printf(&path, "H%.1fV%.1f", x, cn_report_scale(&ys, nw));
        w = nw;
    }
    cn_buf_printf(&path, "H%.1f", x1);
    cn_buf_printf(b, "<path class=\"weight-area\" d=\"%sV%.1fH%.1fz\"/>\n",
                  path.data ? path.data : "", y0, x0);
    cn_buf_printf(b, "<path class=\"weight\" d=\"%s\"/>\n", path.data ? path.data : "");
    cn_buf_dispose(&path);

    /* marks: a rule across the plot and a labelled shape above it, the
     * labels staggered over three rows so that close events stay legible */
    double row_end[TL_LABEL_ROWS];
    for (size_t r = 0; r < TL_LABEL_ROWS; r++)
        row_end[r] = -1e9;
    size_t n_analysis = 0, n_trigger = 0, n_manual = 0;
    cn_buf_str(b, "<g class=\"marks\">\n");
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(history, i);
        const char *kind = cn_report_str(e, "kind");
        double t = cn_report_num(e, "time_unix_ms");
        if (!isfinite(t))
            continue;
        mark_t m = {.x = cn_report_scale(&xs, (t - t0) / unit_ms),
                    .kind = kind,
                    .why = cn_report_str(e, "reason")};
        json_t *payload = json_object_get(e, "payload");
        if (strcmp(kind, "analysis") == 0 && json_is_object(payload)) {
            m.colour = verdict_colour(cn_report_str(payload, "verdict"));
            snprintf(m.label, sizeof m.label, "A%zu", ++n_analysis);
        } else if (strcmp(kind, "trigger") == 0) {
            m.colour = "#cf222e";
            snprintf(m.label, sizeof m.label, "T%zu", ++n_trigger);
        } else if (strcmp(kind, "manual") == 0) {
            m.colour = "#0550ae";
            snprintf(m.label, sizeof m.label, "M%zu", ++n_manual);
        } else {
            continue;
        }
        size_t row = 0;
        while (row + 1 < TL_LABEL_ROWS && m.x - row_end[row] < 26)
            row++;
        row_end[row] = m.x;
        double my = TL_TOP - 10 - 14.0 * (double)row;
        cn_buf_printf(b, "<g class=\"mark %s\"><title>", kind);
        cn_report_escape(b, m.label);
        cn_buf_str(b, ": ");
        cn_report_escape(b, m.why);
        cn_buf_str(b, "</title>");
        cn_buf_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                      "stroke=\"%s\"/>",
                      m.x, my, m.x, y0, m.colour);
        mark_shape(b, &m, my);
        cn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">", m.x + 7, my + 4);
        cn_report_escape(b, m.label);
        cn_buf_str(b, "</text></g>\n");
    }
    cn_buf_str(b, "</g>\n");

    /* the end state, at the end of the line */
    const char *state = cn_report_str(rollout, "state");
    if (*state)
        text_at(b, x1, y0 + 34, "end", "end-state", state);

    /* legend */
    static const struct {
        const char *kind, *colour, *text;
    } legend[] = {
        {"analysis", "#1a7f37", "analysis: pass"},
        {"analysis", "#9a6700", "marginal"},
        {"analysis", "#cf222e", "fail"},
        {"trigger", "#cf222e", "trigger fired"},
        {"manual", "#0550ae", "manual action"},
    };
    double lx = x0, ly = TL_H - 14;
    cn_buf_str(b, "<g class=\"legend\">\n");
    cn_buf_printf(b, "<path class=\"weight\" d=\"M%.1f %.1fh22\"/>", lx, ly - 4);
    text_at(b, lx + 28, ly, "start", NULL, "canary weight");
    lx += 130;
    for (size_t i = 0; i < sizeof legend / sizeof legend[0]; i++) {
        mark_t m = {.x = lx + 5, .kind = legend[i].kind, .colour = legend[i].colour};
        mark_shape(b, &m, ly - 4);
        text_at(b, lx + 14, ly, "start", NULL, legend[i].text);
        lx += 20 + 7.0 * (double)strlen(legend[i].text);
    }
    cn_buf_str(b, "</g>\n</svg>\n");
}

/* ------------------------------------------------------------ forest plot */

#define FP_W 1000.0
#define FP_LABEL_W 170.0
#define FP_PLOT_W 360.0
#define FP_LABEL_MAX 24 /* bytes of a name shown; the whole in the row's title */
#define FP_ROW_H 22.0
#define FP_TOP 30.0
#define FP_BOTTOM 40.0
#define FP_MAX_UNITS 4.0 /* the axis stops at 4 margins; beyond, an arrow */

/* Tests whose statistic is a distance or a level: only the upper margin
 * means anything (a KS distance is never negative). */
static bool one_sided(const char *test)
{
    return strcmp(test, "ks") == 0 || strcmp(test, "psi") == 0 ||
           strcmp(test, "threshold") == 0;
}

/* One end of an interval at (x, y): a whisker, or an arrow pointing
 * outwards (side -1 left, +1 right) when the interval goes on beyond the
 * axis. */
static void interval_end(cn_buf_t *b, double x, double y, bool beyond, int side,
                         const char *colour)
{
    if (beyond)
        cn_buf_printf(b, "<path d=\"M%.1f %.1fl%d -5v10z\" fill=\"%s\"/>", x, y,
                      -8 * side, colour);
    else
        cn_buf_printf(b,
                      "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\" stroke=\"%s\"/>",
                      x, y - 5, x, y + 5, colour);
}

void cn_report_svg_forest(cn_buf_t *b, const json_t *result)
{
    json_t *rows = json_object_get(result, "metrics");
    size_t n = json_array_size(rows);
    if (n == 0)
        return;
    /* the axis: wide enough for every interval, in margins, within a cap */
    double reach = 1.25;
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        double m = cn_report_num(r, "margin");
        if (!(m > 0))
            continue;
        json_t *ci = json_object_get(r, "ci");
        double vals[3] = {cn_report_num(r, "effect"),
                          json_number_value(json_array_get(ci, 0)),
                          json_number_value(json_array_get(ci, 1))};
        for (size_t k = 0; k < 3; k++)
            if (isfinite(vals[k]) && fabs(vals[k] / m) > reach)
                reach = fabs(vals[k] / m);
    }
    if (reach > FP_MAX_UNITS)
        reach = FP_MAX_UNITS;
    reach *= 1.05;

    double h = FP_TOP + FP_ROW_H * (double)n + FP_BOTTOM;
    char label[200];
    snprintf(label, sizeof label,
             "Forest plot: the effect of each of %zu metric rows (canary minus stable) "
             "with its confidence interval, in units of its margin",
             n);
    svg_open(b, FP_W, h, "chart forest", label);
    double px0 = FP_LABEL_W, px1 = FP_LABEL_W + FP_PLOT_W;
    double top = FP_TOP, bottom = FP_TOP + FP_ROW_H * (double)n;
    cn_report_scale_t xs = {-reach, reach, px0, px1};

    text_at(b, 4, 16, "start", "axis-title", "metric / segment");
    text_at(b, (px0 + px1) / 2, 16, "middle", "axis-title",
            "effect / margin (canary - stable)");
    text_at(b, px1 + 12, 16, "start", "axis-title", "effect [CI] vs margin");

    /* the rows' bands, then the reference lines over them */
    for (size_t i = 0; i < n; i += 2)
        cn_buf_printf(b,
                      "<rect class=\"band\" x=\"0\" y=\"%.1f\" width=\"%.0f\" "
                      "height=\"%.0f\"/>\n",
                      top + FP_ROW_H * (double)i, FP_W, FP_ROW_H);
    double ticks[16];
    size_t nt = cn_report_ticks(-reach, reach, 9, ticks, 16);
    cn_buf_str(b, "<g class=\"axis\">\n");
    for (size_t i = 0; i < nt; i++) {
        double x = cn_report_scale(&xs, ticks[i]);
        cn_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x,
                      bottom, x, bottom + 5);
        char t[32];
        snprintf(t, sizeof t, "%g", ticks[i]);
        text_at(b, x, bottom + 18, "middle", NULL, t);
    }
    cn_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", px0,
                  bottom, px1, bottom);
    cn_buf_str(b, "</g>\n");
    double zx = cn_report_scale(&xs, 0);
    cn_buf_printf(
        b, "<line class=\"zero\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
        zx, top, zx, bottom);
    for (int sign = -1; sign <= 1; sign += 2) {
        double mx = cn_report_scale(&xs, sign);
        cn_buf_printf(b,
                      "<line class=\"margin\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                      "y2=\"%.1f\"/>\n",
                      mx, top, mx, bottom);
        text_at(b, mx, bottom + 32, "middle", "margin-label",
                sign < 0 ? "-margin" : "+margin");
    }

    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(rows, i);
        double cy = top + FP_ROW_H * ((double)i + 0.5);
        const char *name = cn_report_str(r, "name"), *test = cn_report_str(r, "test");
        const char *seg = json_string_value(json_object_get(r, "segment"));
        const char *cls = cn_report_str(r, "classification");
        const char *colour = verdict_colour(cls);
        cn_buf_printf(b, "<g class=\"row %s\">", cn_report_class_of(cls));
        cn_buf_str(b, "<title>");
        cn_report_escape(b, name);
        if (seg) {
            cn_buf_str(b, ", segment ");
            cn_report_escape(b, seg);
        }
        cn_buf_str(b, ": ");
        cn_report_escape(b, cn_report_str(r, "reason"));
        cn_buf_str(b, "</title>\n");
        /* a long name is cut (at a character) to keep off the plot */
        char shown[FP_LABEL_MAX + 8];
        snprintf(shown, FP_LABEL_MAX + 1, "%s", seg ? seg : name);
        size_t cut = cn_text_utf8_clip(shown);
        if (cut < strlen(seg ? seg : name))
            memcpy(shown + cut, "\xe2\x80\xa6", 4); /* ... */
        text_at(b, seg ? 18 : 4, cy + 4, "start", seg ? "segment" : "metric", shown);

        double m = cn_report_num(r, "margin"), eff = cn_report_num(r, "effect");
        json_t *ci = json_object_get(r, "ci");
        double lo = json_is_number(json_array_get(ci, 0))
                        ? json_number_value(json_array_get(ci, 0))
                        : NAN;
        double hi = json_is_number(json_array_get(ci, 1))
                        ? json_number_value(json_array_get(ci, 1))
                        : NAN;
        char a[24], c[24], d[24], e[24], text[128];
        fmt_short(eff, a, sizeof a);
        fmt_short(lo, c, sizeof c);
        fmt_short(hi, d, sizeof d);
        fmt_short(m, e, sizeof e);
        const char *vs = one_sided(test) ? "limit" : "margin";
        if (!(m > 0))
            snprintf(text, sizeof text, "%s%s%s%s%s", a, isfinite(lo) ? " [" : "",
                     isfinite(lo) ? c : "", isfinite(lo) ? ", " : "",
                     isfinite(lo) ? d : "");
        else if (isfinite(lo) || isfinite(hi))
            snprintf(text, sizeof text, "%s [%s, %s] vs %s %s", a, c, d, vs, e);
        else
            snprintf(text, sizeof text, "%s vs %s %s", a, vs, e);
        if (!isfinite(eff))
            snprintf(text, sizeof text, "no effect estimated");
        cn_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"value\">", px1 + 12,
                      cy + 4);
        cn_report_escape(b, text);
        cn_buf_str(b, " (");
        cn_report_escape(b, cls);
        cn_buf_str(b, ")</text>\n");

        if (m > 0 && isfinite(eff)) {
            double cap = reach;
            double l = isfinite(lo) ? lo / m : eff / m,
                   u = isfinite(hi) ? hi / m : eff / m;
            double cl = fmax(-cap, fmin(cap, l)), cu = fmax(-cap, fmin(cap, u));
            double ce = fmax(-cap, fmin(cap, eff / m));
            double xl = cn_report_scale(&xs, cl), xu = cn_report_scale(&xs, cu);
            cn_buf_printf(b,
                          "<line class=\"ci\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
                          "y2=\"%.1f\" stroke=\"%s\"/>",
                          xl, cy, xu, cy, colour);
            interval_end(b, xl, cy, l < -cap, -1, colour);
            interval_end(b, xu, cy, u > cap, +1, colour);
            double ex = cn_report_scale(&xs, ce);
            cn_buf_printf(b,
                          "<rect class=\"effect\" x=\"%.1f\" y=\"%.1f\" width=\"8\" "
                          "height=\"8\" fill=\"%s\"/>",
                          ex - 4, cy - 4, colour);
        } else if (isfinite(eff)) {
            text_at(b, (px0 + px1) / 2, cy + 4, "middle", "note",
                    "no margin: not drawn");
        }
        cn_buf_str(b, "</g>\n");
    }
    cn_buf_str(b, "</svg>\n");
}
