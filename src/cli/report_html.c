/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The report as one HTML page (see report.h): summary, weight timeline,
 * every analysis (forest plot, decision table, the arms' numbers), the
 * whole audit trail. The page is self-contained: its style is inline, its
 * charts are inline SVG (report_svg.c), it has no script, and its
 * Content-Security-Policy forbids every fetch, so that it opens the same
 * from a mail attachment or an archive in ten years. A print style sheet
 * lays it out for paper (A4, no page break inside a chart or a table
 * row, colours kept).
 *
 * The page shows the document's values; the words come from the server
 * (the judge's and the controller's reasons), and every such string goes
 * through cn_report_escape.
 */
#include "cli/report.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cn_report_escape(cn_buf_t *b, const char *s)
{
    if (!s)
        return;
    const char *run = s;
    for (const char *p = s;; p++) {
        unsigned char c = (unsigned char)*p;
        const char *rep = NULL;
        switch (c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        case '\t':
        case '\n':
        case '\r':
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                rep = "\xef\xbf\xbd"; /* U+FFFD: no control characters in HTML */
        }
        if (!rep && c)
            continue;
        cn_buf_add(b, run, (size_t)(p - run));
        if (!c)
            return;
        cn_buf_str(b, rep);
        run = p + 1;
    }
}

/* ------------------------------------------------------------ values */

static void esc_printf(cn_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* printf, then escaped: for text that mixes our words and the server's. */
static void esc_printf(cn_buf_t *b, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    cn_report_escape(b, text);
}

/* A statistic: 4 significant digits, "-" when absent (JSON null). */
static void put_num(cn_buf_t *b, double v)
{
    if (!isfinite(v))
        cn_buf_str(b, "&ndash;");
    else
        cn_buf_printf(b, "%.4g", v == 0 ? 0 : v);
}

/* A p-value: 3 significant digits (1.2e-07 stays readable). */
static void put_p(cn_buf_t *b, double v)
{
    if (!isfinite(v))
        cn_buf_str(b, "&ndash;");
    else
        cn_buf_printf(b, "%.3g", v);
}

/* A count. */
static void put_int(cn_buf_t *b, const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        cn_buf_printf(b, "%lld", (long long)json_integer_value(v));
    else
        cn_buf_str(b, "&ndash;");
}

/* Unix milliseconds as "2026-12-07 18:05:43.040 UTC". */
static void put_time(cn_buf_t *b, double ms)
{
    struct tm tm;
    time_t t = 0;
    char when[40];
    /* up to the year 9999: a time past it is no time a rollout had */
    bool ok = isfinite(ms) && ms >= 0 && ms <= 253402300799999.0;
    if (ok)
        t = (time_t)(ms / 1000);
    if (!ok || !gmtime_r(&t, &tm) ||
        !strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm)) {
        cn_buf_str(b, "&ndash;");
        return;
    }
    cn_buf_printf(b, "<time>%s.%03d&nbsp;UTC</time>", when, (int)fmod(ms, 1000));
}

/* A duration in milliseconds as "8.9 s", "3 min 12 s" or "2 h 5 min". */
static void put_duration(cn_buf_t *b, double ms)
{
    if (!isfinite(ms) || ms < 0)
        cn_buf_str(b, "&ndash;");
    else if (ms < 60e3)
        cn_buf_printf(b, "%.1f&nbsp;s", ms / 1e3);
    else if (ms < 3600e3)
        cn_buf_printf(b, "%.0f&nbsp;min %.0f&nbsp;s", floor(ms / 60e3),
                      floor(fmod(ms / 1e3, 60)));
    else
        cn_buf_printf(b, "%.0f&nbsp;h %.0f&nbsp;min", floor(ms / 3600e3),
                      floor(fmod(ms / 60e3, 60)));
}

/* A verdict, classification or state as a coloured word; the class name
 * is the word itself when it is one we know, so that the server cannot
 * pick a class. */
static void put_badge(cn_buf_t *b, const char *word)
{
    cn_buf_printf(b, "<span class=\"badge b-%s\">", cn_report_class_of(word));
    cn_report_escape(b, *word ? word : "unknown");
    cn_buf_str(b, "</span>");
}

/* ------------------------------------------------------------ style */

static const char STYLE[] =
    ":root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--band:#f6f8fa;"
    "--pass:#1a7f37;--fail:#cf222e;--marginal:#9a6700;--grey:#6e7781;--blue:#0969da}\n"
    "*{box-sizing:border-box}\n"
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',"
    "'DejaVu Sans',Arial,sans-serif;color:var(--fg);margin:0 auto;max-width:1100px;"
    "padding:24px;font-size:14px;line-height:1.45}\n"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;"
    "border-bottom:1px solid var(--line);padding-bottom:4px}"
    "h3{font-size:16px;margin:24px 0 6px}\n"
    ".sub{color:var(--muted);margin:0 0 12px}\n"
    "nav{margin:8px 0 16px;color:var(--muted)}nav "
    "a{color:var(--blue);margin-right:12px}\n"
    "dl.summary{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;"
    "margin:0}dl.summary dt{color:var(--muted)}dl.summary dd{margin:0}\n"
    "table{border-collapse:collapse;width:100%;margin:6px 0 12px;font-size:12.5px}\n"
    "th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;"
    "vertical-align:top}th{background:var(--band);font-weight:600}\n"
    "table.steps{width:auto;min-width:60%}\n"
    "table.decisions td:nth-child(2){white-space:nowrap}\n"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".adj,.ci-text{color:var(--muted)}th .adj{font-weight:400}\n"
    "tr.why td{color:var(--muted);border-bottom:1px solid var(--line);padding-top:0}\n"
    "tr.metric td{border-bottom:none}tr.seg td:first-child{padding-left:18px}\n"
    "tr.fail-row td{background:#ffebe9}\n"
    ".badge{display:inline-block;padding:0 7px;border-radius:9px;font-size:12px;"
    "font-weight:600;color:#fff;background:var(--grey);white-space:nowrap}\n"
    ".b-pass,.b-promoted{background:var(--pass)}"
    ".b-fail,.b-error,.b-rolled-back,.b-aborted,.b-rolling-back{background:var(--fail)}"
    ".b-marginal,.b-holding,.b-paused{background:var(--marginal)}"
    ".b-progressing,.b-warmup,.b-promoting,.b-pending{background:var(--blue)}\n"
    ".verdict{border-left:4px solid var(--grey);padding:2px 10px;margin:6px 0}"
    ".verdict.pass{border-color:var(--pass)}.verdict.fail{border-color:var(--fail)}"
    ".verdict.marginal{border-color:var(--marginal)}\n"
    ".payload{color:var(--muted);font-size:11.5px}\n"
    "pre{white-space:pre-wrap;word-break:break-all;font-size:11px;margin:0}\n"
    "svg.chart{width:100%;height:auto;display:block;margin:4px 0 8px;"
    "font-size:12px;font-family:inherit}\n"
    "svg text{fill:var(--fg)}svg .axis line{stroke:#8c959f}"
    "svg .grid{stroke:#eaeef2}svg .axis text{fill:var(--muted)}\n"
    "svg .axis-title{fill:var(--muted);font-weight:600}\n"
    "svg .weight{fill:none;stroke:var(--blue);stroke-width:2.5}"
    "svg .weight-area{fill:#ddf4ff;stroke:none}\n"
    "svg .mark line{stroke-width:1;stroke-dasharray:3 3}svg .mark "
    "text{font-size:11px}\n"
    "svg .end-state{font-weight:600}\n"
    "svg .band{fill:var(--band)}svg .zero{stroke:#57606a;stroke-width:1}"
    "svg .margin{stroke:var(--fail);stroke-width:1;stroke-dasharray:5 3}"
    "svg .margin-label{fill:var(--fail);font-size:11px}\n"
    "svg .ci{stroke-width:2}svg .segment{fill:var(--muted)}svg .metric{font-weight:600}"
    "svg .value{font-size:11.5px;font-variant-numeric:tabular-nums}"
    "svg .note{fill:var(--muted);font-style:italic}\n"
    "section.analysis{border-top:1px solid var(--line);margin-top:18px}\n"
    "footer{margin-top:32px;color:var(--muted);font-size:12px;"
    "border-top:1px solid var(--line);padding-top:8px}\n"
    "@page{size:A4;margin:14mm 12mm}\n"
    "@media print{body{max-width:none;padding:0;font-size:10pt}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "nav{display:none}a{color:inherit;text-decoration:none}"
    "h2{break-after:avoid}h3{break-after:avoid}"
    "svg.chart,tr,.verdict{break-inside:avoid}"
    "#analyses,#audit,section.analysis+section.analysis{break-before:page}thead{"
    "display:table-header-group}"
    "table{font-size:8pt}}\n";

/* ------------------------------------------------------------ sections */

static void summary_row(cn_buf_t *b, const char *term)
{
    cn_buf_printf(b, "<dt>%s</dt><dd>", term);
}

/* Keys of the rollout's read that the summary shows in their own rows;
 * every other key is listed as it came, so that nothing the server said
 * is left out of the report. */
static const char *const SHOWN[] = {"id",
                                    "model",
                                    "version",
                                    "baseline",
                                    "state",
                                    "dry_run",
                                    "step",
                                    "steps",
                                    "weight",
                                    "reason",
                                    "analysis_attempts",
                                    "generation",
                                    "created_by",
                                    "started_unix_ms",
                                    "updated_unix_ms",
                                    "step_started_unix_ms",
                                    "ended_unix_ms",
                                    "blast_radius",
                                    "parity",
                                    "parity_check",
                                    "parity_warning",
                                    "hold",
                                    NULL};

static void section_summary(cn_buf_t *b, const json_t *r, const json_t *history,
                            const json_t *analyses)
{
    cn_buf_str(b, "<section id=\"summary\"><h2>Summary</h2>\n<dl class=\"summary\">\n");
    static const char *const names[][2] = {{"Model", "model"},
                                           {"Canary version", "version"},
                                           {"Stable version (baseline)", "baseline"}};
    for (size_t k = 0; k < 3; k++) {
        summary_row(b, names[k][0]);
        cn_report_escape(b, cn_report_str(r, names[k][1]));
        cn_buf_str(b, "</dd>\n");
    }
    summary_row(b, "Final state");
    put_badge(b, cn_report_str(r, "state"));
    if (json_is_true(json_object_get(r, "dry_run")))
        cn_buf_str(b, " (dry run: the traffic was never changed)");
    if (*cn_report_str(r, "hold")) {
        cn_buf_str(b, " (hold: ");
        cn_report_escape(b, cn_report_str(r, "hold"));
        cn_buf_str(b, ")");
    }
    cn_buf_str(b, "</dd>\n");
    summary_row(b, "Reason");
    cn_report_escape(b, cn_report_str(r, "reason"));
    cn_buf_str(b, "</dd>\n");
    summary_row(b, "Steps");
    cn_buf_str(b, "reached step ");
    put_int(b, r, "step");
    cn_buf_str(b, " of ");
    put_int(b, r, "steps");
    cn_buf_str(b, "; canary weight now ");
    put_num(b, cn_report_num(r, "weight"));
    cn_buf_str(b, "%; analysis attempts at the last step: ");
    put_int(b, r, "analysis_attempts");
    cn_buf_str(b, "</dd>\n");

    size_t counts[4] = {0};
    static const char *const verdicts[] = {"pass", "marginal", "fail"};
    size_t i;
    json_t *a;
    json_array_foreach(analyses, i, a)
    {
        const char *v = cn_report_str(json_object_get(a, "result"), "verdict");
        size_t k = 3;
        for (size_t j = 0; j < 3; j++)
            if (strcmp(v, verdicts[j]) == 0)
                k = j;
        counts[k]++;
    }
    size_t triggers = 0, manual = 0;
    json_t *e;
    json_array_foreach(history, i, e)
    {
        triggers += strcmp(cn_report_str(e, "kind"), "trigger") == 0;
        manual += strcmp(cn_report_str(e, "kind"), "manual") == 0;
    }
    summary_row(b, "Analyses");
    cn_buf_printf(b, "%zu: %zu passed, %zu marginal, %zu failed",
                  json_array_size(analyses), counts[0], counts[1], counts[2]);
    if (counts[3])
        cn_buf_printf(b, ", %zu other", counts[3]);
    cn_buf_str(b, "</dd>\n");
    summary_row(b, "Audit trail");
    cn_buf_printf(b, "%zu entries, %zu trigger(s) fired, %zu manual action(s)",
                  json_array_size(history), triggers, manual);
    cn_buf_str(b, "</dd>\n");

    double start = cn_report_num(r, "started_unix_ms"),
           end = cn_report_num(r, "ended_unix_ms");
    summary_row(b, "Started");
    put_time(b, start);
    cn_buf_str(b, " by ");
    cn_report_escape(b, cn_report_str(r, "created_by"));
    cn_buf_str(b, "</dd>\n");
    summary_row(b, "Ended");
    if (isfinite(end)) {
        put_time(b, end);
        cn_buf_str(b, " (after ");
        put_duration(b, end - start);
        cn_buf_str(b, ")");
    } else {
        cn_buf_str(b, "not yet: last update ");
        put_time(b, cn_report_num(r, "updated_unix_ms"));
    }
    cn_buf_str(b, "</dd>\n");
    summary_row(b, "Last step started");
    put_time(b, cn_report_num(r, "step_started_unix_ms"));
    cn_buf_str(b, "</dd>\n");

    json_t *blast = json_object_get(r, "blast_radius");
    if (json_is_object(blast)) {
        summary_row(b, "Blast radius");
        put_int(b, blast, "canary_requests");
        cn_buf_str(b, " requests served by the canary, ");
        put_int(b, blast, "canary_failed");
        cn_buf_str(b, " of them failed; ");
        double share = cn_report_num(blast, "share");
        if (isfinite(share))
            cn_buf_printf(b, "%.3g%%", share * 100);
        else
            cn_buf_str(b, "&ndash;");
        cn_buf_str(b, " of all requests since the rollout started</dd>\n");
    }
    json_t *parity = json_object_get(r, "parity");
    json_t *pc = json_object_get(r, "parity_check");
    if (parity) {
        summary_row(b, "Parity (A/A) check");
        if (json_is_true(parity) && json_is_object(pc)) {
            esc_printf(b,
                       "yes: stable's own version %s was the canary arm, as %s on "
                       "%zu address(es), at ",
                       cn_report_str(r, "version"), cn_report_str(pc, "label"),
                       json_array_size(json_object_get(pc, "addresses")));
            put_num(b, cn_report_num(pc, "weight"));
            cn_buf_str(b, "% for ");
            put_duration(b, cn_report_num(pc, "duration_s") * 1000);
            cn_buf_str(b, "; result: ");
            put_badge(b, cn_report_str(pc, "result"));
        } else if (json_is_boolean(parity)) {
            cn_buf_str(b, json_is_true(parity)
                              ? "yes: stable's own version was the canary arm"
                              : "no");
        } else {
            char *text = json_dumps(parity, JSON_COMPACT | JSON_ENCODE_ANY);
            cn_report_escape(b, text);
            free(text);
        }
        cn_buf_str(b, "</dd>\n");
    }
    json_t *pw = json_object_get(r, "parity_warning");
    if (json_is_object(pw)) {
        summary_row(b, "Parity warning");
        cn_buf_str(b, "<b>");
        cn_report_escape(b, cn_report_str(pw, "message"));
        cn_buf_str(b, "</b></dd>\n");
    }
    summary_row(b, "Rollout id, generation");
    put_int(b, r, "id");
    cn_buf_str(b, ", generation ");
    put_int(b, r, "generation");
    cn_buf_str(b, "</dd>\n");

    const char *key;
    json_t *v;
    json_object_foreach((json_t *)r, key, v)
    {
        bool shown = false;
        for (size_t k = 0; SHOWN[k] && !shown; k++)
            shown = strcmp(key, SHOWN[k]) == 0;
        if (shown)
            continue;
        cn_buf_str(b, "<dt>");
        cn_report_escape(b, key);
        cn_buf_str(b, "</dt><dd><pre>");
        char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        cn_report_escape(b, text);
        free(text);
        cn_buf_str(b, "</pre></dd>\n");
    }
    cn_buf_str(b, "</dl>\n</section>\n");
}

/* One metric row of an analysis: the decision, then the reason in words. */
static void decision_row(cn_buf_t *b, const json_t *m)
{
    const char *seg = json_string_value(json_object_get(m, "segment"));
    const char *cls = cn_report_str(m, "classification");
    bool failed = strcmp(cls, "fail") == 0 || strcmp(cls, "error") == 0;
    cn_buf_printf(b, "<tr class=\"metric%s%s\"><td>", seg ? " seg" : "",
                  failed ? " fail-row" : "");
    if (seg)
        cn_buf_str(b, "&#8627; ");
    cn_report_escape(b, seg ? seg : cn_report_str(m, "name"));
    cn_buf_str(b, "</td><td>");
    cn_report_escape(b, cn_report_str(m, "test"));
    cn_buf_str(b, "</td><td class=\"n\">");
    put_int(b, m, "n_canary");
    cn_buf_str(b, " / ");
    put_int(b, m, "n_stable");
    cn_buf_str(b, " (");
    put_int(b, m, "min_samples");
    cn_buf_str(b, ")</td><td class=\"n\">");
    put_num(b, cn_report_num(m, "effect"));
    json_t *ci = json_object_get(m, "ci");
    if (json_is_array(ci)) {
        cn_buf_str(b, "<br><span class=\"ci-text\">[");
        json_t *lo = json_array_get(ci, 0), *hi = json_array_get(ci, 1);
        put_num(b, json_is_number(lo) ? json_number_value(lo) : NAN);
        cn_buf_str(b, ", ");
        put_num(b, json_is_number(hi) ? json_number_value(hi) : NAN);
        cn_buf_str(b, "]</span>");
    }
    cn_buf_str(b, "</td><td class=\"n\">");
    put_num(b, cn_report_num(m, "margin"));
    /* each test's raw p-value, and under it the one adjusted across the
     * family */
    static const char *const ps[][2] = {{"pvalue", "adjusted_pvalue"},
                                        {"pvalue_harm", "adjusted_pvalue_harm"},
                                        {"pvalue_noninf", "adjusted_pvalue_noninf"}};
    for (size_t i = 0; i < 3; i++) {
        cn_buf_str(b, "</td><td class=\"n\">");
        put_p(b, cn_report_num(m, ps[i][0]));
        cn_buf_str(b, "<br><span class=\"adj\">");
        put_p(b, cn_report_num(m, ps[i][1]));
        cn_buf_str(b, "</span>");
    }
    cn_buf_str(b, "</td><td>");
    put_badge(b, cls);
    cn_buf_str(b, "</td></tr>\n<tr class=\"why\"><td></td><td colspan=\"8\">");
    cn_report_escape(b, cn_report_str(m, "reason"));
    cn_buf_str(b, "</td></tr>\n");
}

static void arm_cells(cn_buf_t *b, const json_t *arm)
{
    static const char *const keys[] = {"mean", "median", "p95", "p99"};
    cn_buf_str(b, "<td class=\"n\">");
    put_int(b, arm, "n");
    cn_buf_str(b, "</td>");
    for (size_t i = 0; i < 4; i++) {
        cn_buf_str(b, "<td class=\"n\">");
        put_num(b, cn_report_num(arm, keys[i]));
        cn_buf_str(b, "</td>");
    }
}

/* The decisions of one result: a row per metric and segment. */
static void decisions_table(cn_buf_t *b, const json_t *rows)
{
    cn_buf_str(b,
               "<table class=\"decisions\"><thead><tr><th>Metric / segment</th>"
               "<th>Test</th><th class=\"n\">n canary / stable (needed)</th>"
               "<th class=\"n\">Effect<br>[CI]</th><th class=\"n\">Margin</th>"
               "<th class=\"n\">p<br><span class=\"adj\">adjusted</span></th>"
               "<th class=\"n\">p harm<br><span class=\"adj\">adjusted</span></th>"
               "<th class=\"n\">p non-inf.<br><span class=\"adj\">adjusted</span></th>"
               "<th>Class</th></tr></thead>\n<tbody>\n");
    size_t i;
    json_t *m;
    json_array_foreach(rows, i, m) decision_row(b, m);
    cn_buf_str(b, "</tbody></table>\n");
}

/* A parity check's analysis: the verdict of both directions, the
 * reverse direction's decisions, and each address's latency. */
static void parity_analysis(cn_buf_t *b, const json_t *par)
{
    const char *verdict = cn_report_str(par, "verdict");
    cn_buf_printf(b, "<div class=\"verdict %s\"><p><b>Parity, both ways: ",
                  cn_report_class_of(verdict));
    put_badge(b, verdict);
    cn_buf_str(b, " ");
    cn_report_escape(b, cn_report_str(par, "reason"));
    cn_buf_str(b, "</b></p><p>The table above judges the canary arm against the "
                  "stable arm; the one below the stable arm against the canary arm "
                  "(both are stable's version). The arms are equivalent when both "
                  "pass, and differ when either fails.</p></div>\n");
    const json_t *rev = json_object_get(par, "reverse");
    cn_buf_str(b, "<h4>The other way: stable arm against canary arm</h4>\n");
    decisions_table(b, json_object_get(rev, "metrics"));
    const json_t *addrs = json_object_get(par, "addresses");
    if (json_array_size(addrs) == 0)
        return;
    cn_buf_str(b, "<h4>Latency per address</h4>\n<table class=\"arms\"><thead><tr>"
                  "<th>Arm</th><th>Address</th><th class=\"n\">Requests</th>"
                  "<th class=\"n\">Errors</th><th class=\"n\">p50 ms</th>"
                  "<th class=\"n\">p90 ms</th><th class=\"n\">p99 ms</th>"
                  "</tr></thead>\n<tbody>\n");
    size_t i;
    json_t *ad;
    json_array_foreach(addrs, i, ad)
    {
        cn_buf_str(b, "<tr><td>");
        cn_report_escape(b, cn_report_str(ad, "arm"));
        cn_buf_str(b, "</td><td>");
        cn_report_escape(b, cn_report_str(ad, "address"));
        cn_buf_str(b, "</td><td class=\"n\">");
        put_int(b, ad, "requests");
        cn_buf_str(b, "</td><td class=\"n\">");
        put_int(b, ad, "errors");
        static const char *const q[] = {"p50_ms", "p90_ms", "p99_ms"};
        for (size_t k = 0; k < 3; k++) {
            cn_buf_str(b, "</td><td class=\"n\">");
            put_num(b, cn_report_num(ad, q[k]));
        }
        cn_buf_str(b, "</td></tr>\n");
    }
    cn_buf_str(b, "</tbody></table>\n");
}

static void section_analysis(cn_buf_t *b, const json_t *a, size_t index, double t0)
{
    const json_t *res = json_object_get(a, "result");
    const char *verdict = cn_report_str(res, "verdict");
    cn_buf_printf(b, "<section class=\"analysis\" id=\"analysis-%lld\">\n",
                  (long long)json_integer_value(json_object_get(a, "seq")));
    cn_buf_printf(b, "<h3>A%zu: analysis at step ", index);
    put_int(b, res, "step");
    cn_buf_str(b, ", attempt ");
    put_int(b, res, "attempt");
    cn_buf_str(b, " &ndash; ");
    put_badge(b, verdict);
    cn_buf_str(b, "</h3>\n<p class=\"sub\">");
    put_time(b, cn_report_num(a, "time_unix_ms"));
    cn_buf_str(b, " (+");
    put_duration(b, cn_report_num(a, "time_unix_ms") - t0);
    cn_buf_printf(b, "), audit entry %lld, canary weight after it ",
                  (long long)json_integer_value(json_object_get(a, "seq")));
    put_num(b, cn_report_num(a, "weight"));
    cn_buf_str(b, "%, generation ");
    put_int(b, res, "generation");
    if (json_is_true(json_object_get(res, "paired")))
        cn_buf_str(b, ", judged on pairs (shadow step)");
    cn_buf_str(b, "</p>\n");
    cn_buf_printf(b, "<div class=\"verdict %s\"><p><b>", cn_report_class_of(verdict));
    cn_report_escape(b, cn_report_str(a, "reason"));
    cn_buf_str(b, "</b></p><p>Judge: ");
    cn_report_escape(b, cn_report_str(res, "reason"));
    /* the levels and the information the judge used, in words */
    static const struct {
        const char *words, *key;
        bool is_p;
    } levels[] = {{"<br>Score ", "score", false},
                  {" of 100; failing judged at level ", "alpha_fail", true},
                  {", passing at ", "alpha_pass", true},
                  {"; information fraction ", "information_fraction", false},
                  {" (previous ", "previous_fraction", false}};
    for (size_t k = 0; k < sizeof levels / sizeof levels[0]; k++) {
        cn_buf_str(b, levels[k].words);
        (levels[k].is_p ? put_p : put_num)(b, cn_report_num(res, levels[k].key));
    }
    cn_buf_str(b, ")</p></div>\n");

    json_t *rows = json_object_get(res, "metrics");
    cn_report_svg_forest(b, res);
    decisions_table(b, rows);
    const json_t *par = json_object_get(res, "parity");
    if (json_is_object(par))
        parity_analysis(b, par);

    size_t i;
    json_t *m;

    cn_buf_str(
        b, "<table class=\"arms\"><thead><tr><th>Metric / segment</th><th>Arm</th>"
           "<th class=\"n\">n</th><th class=\"n\">Mean</th><th class=\"n\">Median</th>"
           "<th class=\"n\">p95</th><th class=\"n\">p99</th>"
           "<th class=\"n\">Pairs</th></tr></thead>\n<tbody>\n");
    json_array_foreach(rows, i, m)
    {
        const char *seg = json_string_value(json_object_get(m, "segment"));
        for (int arm = 0; arm < 2; arm++) {
            cn_buf_printf(b, "<tr%s><td>", seg ? " class=\"seg\"" : "");
            if (arm == 0) {
                if (seg)
                    cn_buf_str(b, "&#8627; ");
                cn_report_escape(b, seg ? seg : cn_report_str(m, "name"));
            }
            cn_buf_printf(b, "</td><td>%s</td>", arm == 0 ? "canary" : "stable");
            arm_cells(b, json_object_get(m, arm == 0 ? "canary" : "stable"));
            cn_buf_str(b, "<td class=\"n\">");
            if (arm == 0)
                put_int(b, m, "pairs");
            cn_buf_str(b, "</td></tr>\n");
        }
    }
    cn_buf_str(b, "</tbody></table>\n</section>\n");
}

/*
 * A payload the report has no table for (a trigger's numbers, a gate's
 * answer): a flat object as "key: value" pairs, numbers at 4 significant
 * digits; anything else as compact JSON, as it came.
 */
static void put_payload(cn_buf_t *b, const json_t *payload)
{
    const char *key;
    json_t *v;
    bool flat = json_is_object(payload);
    json_object_foreach((json_t *)payload, key, v) flat =
        flat && !json_is_object(v) && !json_is_array(v);
    if (!flat) {
        char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
        cn_buf_str(b, "<pre>");
        cn_report_escape(b, text);
        cn_buf_str(b, "</pre>");
        free(text);
        return;
    }
    cn_buf_str(b, "<br><span class=\"payload\">");
    size_t i = 0;
    json_object_foreach((json_t *)payload, key, v)
    {
        cn_buf_str(b, i++ ? " &middot; " : "");
        cn_report_escape(b, key);
        cn_buf_str(b, ": ");
        if (json_is_integer(v)) {
            cn_buf_printf(b, "%lld", (long long)json_integer_value(v));
        } else if (json_is_real(v)) {
            put_num(b, json_real_value(v));
        } else {
            char *text = json_dumps(v, JSON_ENCODE_ANY);
            const char *str = json_string_value(v);
            cn_report_escape(b, str ? str : text);
            free(text);
        }
    }
    cn_buf_str(b, "</span>");
}

/*
 * The steps as the audit trail saw them: each run of consecutive entries
 * at the same step index, when it began, how long until the next run (or
 * the rollout's end), the canary weight and state after its last entry.
 */
static void section_steps(cn_buf_t *b, const json_t *r, const json_t *history,
                          double t0)
{
    size_t n = json_array_size(history);
    if (n == 0)
        return;
    cn_buf_str(b, "<table class=\"steps\"><thead><tr><th class=\"n\">Step</th>"
                  "<th class=\"n\">From</th><th class=\"n\">For</th>"
                  "<th class=\"n\">Canary weight after</th><th>State after</th>"
                  "<th>Audit entries</th></tr></thead>\n<tbody>\n");
    double end = cn_report_num(r, "ended_unix_ms");
    if (!isfinite(end))
        end = cn_report_num(r, "updated_unix_ms");
    for (size_t i = 0, j; i < n; i = j) {
        json_t *first = json_array_get(history, i);
        json_t *step = json_object_get(first, "step");
        for (j = i + 1; j < n; j++)
            if (!json_equal(json_object_get(json_array_get(history, j), "step"), step))
                break;
        json_t *last = json_array_get(history, j - 1);
        double from = cn_report_num(first, "time_unix_ms");
        double to =
            j < n ? cn_report_num(json_array_get(history, j), "time_unix_ms") : end;
        cn_buf_str(b, "<tr><td class=\"n\">");
        put_int(b, first, "step");
        cn_buf_str(b, "</td><td class=\"n\">+");
        put_duration(b, from - t0);
        cn_buf_str(b, "</td><td class=\"n\">");
        put_duration(b, to - from);
        cn_buf_str(b, "</td><td class=\"n\">");
        put_num(b, cn_report_num(last, "weight"));
        cn_buf_str(b, "%</td><td>");
        cn_report_escape(b, cn_report_str(last, "state"));
        cn_buf_printf(b, "</td><td><a href=\"#audit-%lld\">%lld</a>",
                      (long long)json_integer_value(json_object_get(first, "seq")),
                      (long long)json_integer_value(json_object_get(first, "seq")));
        if (j - 1 > i)
            cn_buf_printf(b, "&ndash;%lld",
                          (long long)json_integer_value(json_object_get(last, "seq")));
        cn_buf_str(b, "</td></tr>\n");
    }
    cn_buf_str(b, "</tbody></table>\n");
}

static void section_audit(cn_buf_t *b, const json_t *history, double t0)
{
    cn_buf_printf(b,
                  "<section id=\"audit\"><h2>Audit trail (%zu entries)</h2>\n"
                  "<table class=\"audit\"><thead><tr><th class=\"n\">#</th>"
                  "<th>Time (UTC)</th><th class=\"n\">+</th><th>Kind</th><th>Actor</th>"
                  "<th>State</th><th class=\"n\">Step</th><th class=\"n\">Weight</th>"
                  "<th>Reason</th></tr></thead>\n<tbody>\n",
                  json_array_size(history));
    size_t i, n_analysis = 0;
    json_t *e;
    json_array_foreach(history, i, e)
    {
        long long seq = (long long)json_integer_value(json_object_get(e, "seq"));
        const char *kind = cn_report_str(e, "kind");
        json_t *payload = json_object_get(e, "payload");
        bool is_analysis = strcmp(kind, "analysis") == 0 && json_is_object(payload);
        cn_buf_printf(b, "<tr id=\"audit-%lld\"><td class=\"n\">%lld</td><td>", seq,
                      seq);
        put_time(b, cn_report_num(e, "time_unix_ms"));
        cn_buf_str(b, "</td><td class=\"n\">");
        put_duration(b, cn_report_num(e, "time_unix_ms") - t0);
        cn_buf_str(b, "</td><td>");
        cn_report_escape(b, kind);
        if (is_analysis)
            cn_buf_printf(b, " <a href=\"#analysis-%lld\">A%zu</a>", seq, ++n_analysis);
        cn_buf_str(b, "</td><td>");
        cn_report_escape(b, cn_report_str(e, "actor"));
        cn_buf_str(b, "</td><td>");
        cn_report_escape(b, cn_report_str(e, "state"));
        cn_buf_str(b, "</td><td class=\"n\">");
        put_int(b, e, "step");
        cn_buf_str(b, "</td><td class=\"n\">");
        put_num(b, cn_report_num(e, "weight"));
        cn_buf_str(b, "%</td><td>");
        cn_report_escape(b, cn_report_str(e, "reason"));
        if (payload && !is_analysis)
            put_payload(b, payload);
        cn_buf_str(b, "</td></tr>\n");
    }
    cn_buf_str(b, "</tbody></table>\n</section>\n");
}

int cn_report_html(const json_t *doc, cn_buf_t *b)
{
    const json_t *r = json_object_get(doc, "rollout");
    const json_t *history = json_object_get(doc, "history");
    const json_t *analyses = json_object_get(doc, "analyses");
    double t0 = cn_report_num(r, "started_unix_ms");
    if (!isfinite(t0))
        t0 = cn_report_num(json_array_get(history, 0), "time_unix_ms");

    cn_buf_str(
        b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
           "'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action "
           "'none'\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
           "<meta name=\"generator\" content=\"canary report (" CN_REPORT_FORMAT
           ")\">\n<title>");
    esc_printf(b, "canary report: rollout %lld, %s %s (%s)",
               (long long)json_integer_value(json_object_get(r, "id")),
               cn_report_str(r, "model"), cn_report_str(r, "version"),
               cn_report_str(r, "state"));
    cn_buf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<header>\n<h1>",
                  STYLE);
    esc_printf(b, "Rollout %lld: %s %s",
               (long long)json_integer_value(json_object_get(r, "id")),
               cn_report_str(r, "model"), cn_report_str(r, "version"));
    cn_buf_str(b, " ");
    put_badge(b, cn_report_str(r, "state"));
    cn_buf_str(b, "</h1>\n<p class=\"sub\">");
    esc_printf(b, "canary %s against stable %s. ", cn_report_str(r, "version"),
               cn_report_str(r, "baseline"));
    cn_buf_str(b, "Report generated ");
    put_time(b, cn_report_num(doc, "generated_unix_ms"));
    cn_buf_str(b, " from ");
    cn_report_escape(b, cn_report_str(doc, "server"));
    cn_buf_str(b,
               ".</p>\n<nav><a href=\"#summary\">Summary</a><a href=\"#timeline\">"
               "Timeline</a><a href=\"#analyses\">Analyses</a><a href=\"#audit\">Audit "
               "trail</a></nav>\n</header>\n<main>\n");

    section_summary(b, r, history, analyses);

    cn_buf_str(b, "<section id=\"timeline\"><h2>Weight timeline</h2>\n");
    cn_report_svg_timeline(b, r, history);
    cn_buf_str(b,
               "<p class=\"sub\">The canary's share of the traffic after each audit "
               "entry. A<i>n</i>: the analyses below, coloured by verdict; "
               "T<i>n</i>: triggers fired; M<i>n</i>: manual actions. Times from the "
               "start of the rollout.</p>\n<h3>Steps</h3>\n<p class=\"sub\">Each "
               "run of audit entries at one step of the strategy: when it began, how "
               "long it lasted, and the weight and state it left.</p>\n");
    section_steps(b, r, history, t0);
    cn_buf_str(b, "</section>\n");

    cn_buf_printf(b, "<section id=\"analyses\"><h2>Analyses (%zu)</h2>\n",
                  json_array_size(analyses));
    if (json_array_size(analyses) == 0)
        cn_buf_str(b, "<p>No analysis ran in this rollout.</p>\n");
    else
        cn_buf_str(
            b, "<p class=\"sub\">Each analysis compares the canary with stable per "
               "metric and per segment. The forest plot draws each effect "
               "(canary &minus; stable) with its confidence interval in units of "
               "its margin: an interval wholly inside the dashed margin shows no "
               "harm, one wholly beyond it shows harm. The p-values are the raw and "
               "family-adjusted ones of the deciding test, of harm beyond the "
               "margin and of non-inferiority.</p>\n");
    size_t i;
    json_t *a;
    json_array_foreach(analyses, i, a) section_analysis(b, a, i + 1, t0);
    cn_buf_str(b, "</section>\n");

    section_audit(b, history, t0);

    cn_buf_str(b, "</main>\n<footer>Written by <code>canary report</code> "
                  "(format " CN_REPORT_FORMAT
                  ") from the admin API's rollout, history and analyses. "
                  "The same content as JSON: <code>canary report ");
    put_int(b, r, "id");
    cn_buf_str(b, " --format json</code>.</footer>\n</body>\n</html>\n");
    return b->overflow ? CN_ETOOBIG : 0;
}
