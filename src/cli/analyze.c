/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary analyze --config analysis.yaml --data samples.csv [--json]`: the
 * judge from the command line. It reads the metric specification (YAML,
 * standalone or the `analysis:` section of a service config) and the
 * samples (CSV: version,metric,value[,segment]), judges one look, and
 * prints the verdict with the numbers behind every metric.
 *
 * The exit code is the verdict -- 0 pass, 1 fail, 2 marginal -- so that a
 * deploy script can branch on it; every error is 64 or above (cli.h). As
 * in `canary stat`, an error is one line on stderr naming the file, line
 * and key or column, and nothing is printed on stdout: the output is
 * written only once the whole analysis has succeeded. The JSON keys are a
 * contract listed in docs/CLI.md.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/input.h"
#include "cli/json_out.h"
#include "judge/config.h"
#include "judge/csv.h"
#include "judge/judge.h"
#include "judge/json.h"
#include "util/error.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest files read: a spec is small; samples are held in memory twice
 * (the text and the parsed doubles), so cap them well below RAM. */
#define CONFIG_MAX_BYTES ((size_t)1 << 20)
#define DATA_MAX_BYTES ((size_t)1 << 30)

static const char USAGE[] =
    "usage: canary analyze --config FILE.yaml --data FILE.csv [--json]\n"
    "                      [--look K [--looks N] | --information-fraction T\n"
    "                       [--previous-fraction T0]]\n"
    "Judge a canary against stable. The config is the metric spec (see\n"
    "examples/analysis.yaml); the data is CSV with the header\n"
    "version,metric,value[,segment]. '-' reads stdin (for one of the two).\n"
    "Exit code: 0 pass, 1 fail, 2 marginal; 64 usage, 65 bad config or\n"
    "data, 66 unreadable file.\n";

static int input_error(int rc, const char *msg)
{
    fprintf(stderr, "canary analyze: %s\n", msg);
    return rc == CN_EIO ? CN_EXIT_NOINPUT : CN_EXIT_DATAERR;
}

/* ------------------------------------------------------------- looks */

typedef struct {
    int given; /* an explicit look was asked for */
    cn_judge_look_t look;
    unsigned index, total; /* 0 when given as fractions */
} look_opts_t;

/* Read the look options; usage errors are reported here (exit 64). */
static int parse_look_opts(cn_args_t *a, look_opts_t *lo)
{
    memset(lo, 0, sizeof *lo);
    int has_k = cn_args_str(a, "look", NULL) != NULL;
    int has_n = cn_args_str(a, "looks", NULL) != NULL;
    int has_t = cn_args_str(a, "information-fraction", NULL) != NULL;
    int has_t0 = cn_args_str(a, "previous-fraction", NULL) != NULL;
    if (has_k && has_t) {
        fprintf(stderr, "canary analyze: give either --look K or "
                        "--information-fraction T, not both\n");
        return -1;
    }
    if (has_n && !has_k) {
        fprintf(stderr, "canary analyze: --looks N needs --look K\n");
        return -1;
    }
    if (has_t0 && !has_t) {
        fprintf(stderr, "canary analyze: --previous-fraction needs "
                        "--information-fraction\n");
        return -1;
    }
    unsigned long long k, n;
    if (cn_args_uint(a, "look", 0, 1, 1000, &k) ||
        cn_args_uint(a, "looks", 0, 1, 1000, &n))
        return -1;
    double t, t0;
    if (cn_args_num(a, "information-fraction", 1, 0, 1, 1, 0, &t) ||
        cn_args_num(a, "previous-fraction", 0, 0, 0, 1, 1, &t0))
        return -1;
    if (has_t) {
        if (!(t0 < t)) {
            fprintf(stderr,
                    "canary analyze: --previous-fraction (%g) must be below "
                    "--information-fraction (%g)\n",
                    t0, t);
            return -1;
        }
        lo->given = 1;
        lo->look.t = t;
        lo->look.t_prev = t0;
    } else if (has_k) {
        lo->given = 1;
        lo->index = (unsigned)k;
        lo->total = (unsigned)n; /* 0: the config's looks */
    }
    return 0;
}

/* Settle the look against the config's planned looks. */
static int resolve_look(look_opts_t *lo, const cn_judge_config_t *cfg,
                        const char *config_name)
{
    if (!lo->given) {
        if (cfg->looks > 1) {
            fprintf(stderr,
                    "canary analyze: %s plans %u looks: give --look K (1..%u) "
                    "or --information-fraction T\n",
                    config_name, cfg->looks, cfg->looks);
            return -1;
        }
        return 0;
    }
    if (lo->index) {
        if (!lo->total)
            lo->total = cfg->looks;
        if (lo->index > lo->total) {
            fprintf(stderr, "canary analyze: --look must be in [1, %u], got %u\n",
                    lo->total, lo->index);
            return -1;
        }
        lo->look = cn_judge_look_index(lo->index, lo->total);
    }
    return 0;
}

/* -------------------------------------------------------------- JSON */

static int print_json(const cn_judge_result_t *res, const cn_judge_look_t *look)
{
    json_t *o = cn_judge_result_json(res, look);
    int rc = cn_json_print(stdout, o);
    json_decref(o);
    if (rc) {
        fprintf(stderr, "canary analyze: cannot write JSON output\n");
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- text */

static void fmt_num(char *buf, size_t len, double v, int sign)
{
    if (!isfinite(v))
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, sign ? "%+.4g" : "%.4g", v);
}

/* A difference gets a sign; a statistic (D, PSI, a quantile) does not. */
static void fmt_effect(char *buf, size_t len, const cn_judge_row_t *r)
{
    char e[32], lo[32], hi[32];
    int sign = r->test == CN_JTEST_MWU || r->test == CN_JTEST_WELCH ||
               r->test == CN_JTEST_PROPORTION || r->test == CN_JTEST_BOOTSTRAP;
    fmt_num(e, sizeof e, r->effect, sign);
    if (!isfinite(r->ci_low) && !isfinite(r->ci_high)) {
        snprintf(buf, len, "%s", e);
        return;
    }
    fmt_num(lo, sizeof lo, r->ci_low, sign);
    fmt_num(hi, sizeof hi, r->ci_high, sign);
    snprintf(buf, len, "%s [%s, %s]", e, lo, hi);
}

typedef struct {
    char metric[64], segment[48], cls[16], effect[112], padj[24], n[48];
} text_row_t;

#define COLS 6

static const char *cell(const text_row_t *t, int c)
{
    const char *cells[COLS] = {t->metric, t->segment, t->cls, t->effect, t->padj, t->n};
    return cells[c];
}

static void print_text(const cn_judge_config_t *cfg, const cn_judge_result_t *res)
{
    static const text_row_t head = {"METRIC",      "SEGMENT", "CLASS",
                                    "EFFECT [CI]", "P_ADJ",   "N_C/N_S"};
    text_row_t *rows = cn_xcalloc(res->n_rows ? res->n_rows : 1, sizeof *rows);
    int width[COLS];
    for (int c = 0; c < COLS; c++)
        width[c] = (int)strlen(cell(&head, c));
    for (size_t i = 0; i < res->n_rows; i++) {
        const cn_judge_row_t *r = &res->rows[i];
        text_row_t *t = &rows[i];
        snprintf(t->metric, sizeof t->metric, "%s", r->name);
        snprintf(t->segment, sizeof t->segment, "%s", r->segment ? r->segment : "all");
        snprintf(t->cls, sizeof t->cls, "%s", cn_judge_class_name(r->cls));
        fmt_effect(t->effect, sizeof t->effect, r);
        if (isfinite(r->adjusted_pvalue))
            snprintf(t->padj, sizeof t->padj, "%.2g", r->adjusted_pvalue);
        else
            snprintf(t->padj, sizeof t->padj, "-");
        snprintf(t->n, sizeof t->n, "%zu/%zu", r->canary.n, r->stable.n);
        for (int c = 0; c < COLS; c++) {
            int w = (int)strlen(cell(t, c));
            if (w > width[c])
                width[c] = w;
        }
    }
    for (size_t i = 0; i <= res->n_rows; i++) {
        const text_row_t *t = i == 0 ? &head : &rows[i - 1];
        for (int c = 0; c < COLS; c++)
            printf("%-*s  ", width[c], cell(t, c));
        printf("%s\n", i == 0 ? "REASON" : res->rows[i - 1].reason);
    }
    free(rows);
    char upper[16];
    const char *v = cn_judge_verdict_name(res->verdict);
    size_t j = 0;
    for (; v[j] && j + 1 < sizeof upper; j++)
        upper[j] = (char)(v[j] >= 'a' && v[j] <= 'z' ? v[j] - 'a' + 'A' : v[j]);
    upper[j] = '\0';
    printf("\nverdict: %s  score %.1f (pass >= %g, marginal >= %g)  alpha at this "
           "look: fail %.3g, pass %.3g\n",
           upper, res->score, cfg->pass_score, cfg->marginal_score, res->alpha_fail,
           res->alpha_pass);
    if (res->reason[0])
        printf("  %s\n", res->reason);
}

/* ---------------------------------------------------------- command */

int cn_cli_analyze(int argc, char **argv)
{
    cn_args_t a;
    static const char *const flags[] = {"json", "help", NULL};
    if (cn_args_parse(&a, "analyze", argc - 1, argv + 1, flags))
        return CN_EXIT_USAGE;
    if (cn_args_flag(&a, "help")) {
        fputs(USAGE, stdout);
        return CN_EXIT_OK;
    }
    int json = cn_args_flag(&a, "json");
    const char *config_path = cn_args_str(&a, "config", NULL);
    const char *data_path = cn_args_str(&a, "data", NULL);
    look_opts_t lo;
    if (parse_look_opts(&a, &lo) || cn_args_finish(&a))
        return CN_EXIT_USAGE;
    if (a.npos) {
        fprintf(stderr,
                "canary analyze: unexpected argument '%s' (try: canary "
                "analyze --help)\n",
                a.pos[0]);
        return CN_EXIT_USAGE;
    }
    if (!config_path || !data_path) {
        fprintf(stderr,
                "canary analyze: --%s FILE is required (try: canary "
                "analyze --help)\n",
                config_path ? "data" : "config");
        return CN_EXIT_USAGE;
    }
    if (strcmp(config_path, "-") == 0 && strcmp(data_path, "-") == 0) {
        fprintf(stderr, "canary analyze: only one of --config and --data can be "
                        "'-' (stdin)\n");
        return CN_EXIT_USAGE;
    }

    char err[512];
    char *text = NULL;
    size_t len = 0;
    cn_judge_config_t cfg;
    cn_judge_config_init(&cfg);
    cn_judge_data_t *data = NULL;
    cn_judge_result_t res;
    memset(&res, 0, sizeof res);
    int exit_code = CN_EXIT_OK, rc;

    if ((rc = cn_cli_read_input(config_path, CONFIG_MAX_BYTES, &text, &len, err,
                                sizeof err))) {
        exit_code = input_error(rc, err);
        goto out;
    }
    rc = cn_judge_config_parse(text, len, cn_cli_input_name(config_path), &cfg, err,
                               sizeof err);
    free(text);
    text = NULL;
    if (rc) {
        exit_code = input_error(rc, err);
        goto out;
    }
    if (resolve_look(&lo, &cfg, cn_cli_input_name(config_path))) {
        exit_code = CN_EXIT_USAGE;
        goto out;
    }
    if ((rc = cn_cli_read_input(data_path, DATA_MAX_BYTES, &text, &len, err,
                                sizeof err))) {
        exit_code = input_error(rc, err);
        goto out;
    }
    data = cn_judge_data_new();
    /* The segment column is the one the spec's segment_by names. */
    rc = cn_judge_data_parse_csv_column(text, len, cn_cli_input_name(data_path),
                                        cfg.segment_by, data, err, sizeof err);
    free(text);
    text = NULL;
    if (rc) {
        exit_code = input_error(rc, err);
        goto out;
    }
    const cn_judge_look_t *look = lo.given ? &lo.look : NULL;
    if ((rc = cn_judge_run(&cfg, data, look, &res))) {
        fprintf(stderr, "canary analyze: cannot judge: %s\n", cn_strerror(rc));
        exit_code = CN_EXIT_SOFTWARE;
        goto out;
    }
    if (json) {
        if (print_json(&res, look)) {
            exit_code = CN_EXIT_SOFTWARE;
            goto out;
        }
    } else {
        print_text(&cfg, &res);
        if (fflush(stdout)) {
            fprintf(stderr, "canary analyze: cannot write output\n");
            exit_code = CN_EXIT_SOFTWARE;
            goto out;
        }
    }
    /* The verdict is the exit code: 0 pass, 1 fail, 2 marginal. */
    exit_code = (int)res.verdict;
out:
    free(text);
    cn_judge_result_dispose(&res);
    cn_judge_data_free(data);
    cn_judge_config_dispose(&cfg);
    return exit_code;
}
