/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary stat TEST X Y [options] [--json]`: the statistics engine from the
 * command line. X and Y are files of one number per line ("-" is stdin).
 *
 * The JSON keys of each test are a contract that later work and outside
 * checks rely on; they are listed in docs/CLI.md. Every error is one line
 * on stderr naming the file and line or the option, with a sysexits code
 * (cli.h), and nothing on stdout: a result is printed only once it is
 * complete.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/input.h"
#include "cli/json_out.h"
#include "cli/numbers.h"
#include "stats/stats.h"
#include "util/error.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cn_args_t args;
    int json;
    char cmd[32];
    cn_numbers_t x, y;
    const char *x_name, *y_name;
} stat_ctx_t;

/*
 * Load the two positional sample files; each must hold at least min_n
 * values. Returns 0 or an exit code after printing the error.
 */
static int load_two(stat_ctx_t *c, size_t min_n)
{
    cn_args_t *a = &c->args;
    if (a->npos != 2) {
        fprintf(stderr,
                "canary %s: expected two sample files X Y, got %zu "
                "argument(s)\n",
                c->cmd, a->npos);
        return CN_EXIT_USAGE;
    }
    if (strcmp(a->pos[0], "-") == 0 && strcmp(a->pos[1], "-") == 0) {
        fprintf(stderr, "canary %s: only one of X and Y can be '-' (stdin)\n", c->cmd);
        return CN_EXIT_USAGE;
    }
    char err[512];
    const char *paths[2] = {a->pos[0], a->pos[1]};
    cn_numbers_t *dst[2] = {&c->x, &c->y};
    for (int i = 0; i < 2; i++) {
        int rc = cn_numbers_load(paths[i], dst[i], err, sizeof err);
        if (rc) {
            fprintf(stderr, "canary %s: %s\n", c->cmd, err);
            return rc == CN_EIO ? CN_EXIT_NOINPUT : CN_EXIT_DATAERR;
        }
        if (dst[i]->n < min_n) {
            fprintf(stderr, "canary %s: %s: needs at least %zu values, got %zu\n",
                    c->cmd, cn_cli_input_name(paths[i]), min_n, dst[i]->n);
            return CN_EXIT_DATAERR;
        }
    }
    c->x_name = cn_cli_input_name(paths[0]);
    c->y_name = cn_cli_input_name(paths[1]);
    return 0;
}

static void print_samples(const stat_ctx_t *c)
{
    printf("  X: %s (n = %zu)   Y: %s (n = %zu)\n", c->x_name, c->x.n, c->y_name,
           c->y.n);
}

/* Report a failed statistics call. */
static int stat_failed(stat_ctx_t *c, int rc, const char *detail)
{
    fprintf(stderr, "canary %s: %s%s%s\n", c->cmd, cn_strerror(rc), detail ? ": " : "",
            detail ? detail : "");
    return rc == CN_EINVAL ? CN_EXIT_USAGE : CN_EXIT_DATAERR;
}

static int bad_choice(stat_ctx_t *c, const char *opt, const char *got,
                      const char *choices)
{
    fprintf(stderr, "canary %s: --%s must be one of %s, got '%s'\n", c->cmd, opt,
            choices, got);
    return CN_EXIT_USAGE;
}

static int emit_json(json_t *obj)
{
    int rc = obj ? cn_json_print(stdout, obj) : -1;
    json_decref(obj);
    if (rc) {
        fprintf(stderr, "canary stat: cannot write JSON output\n");
        return CN_EXIT_SOFTWARE;
    }
    return CN_EXIT_OK;
}

/* JSON real that turns a NaN into null (JSON has no NaN). */
static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jpair(double lo, double hi)
{
    json_t *arr = json_array();
    json_array_append_new(arr, jnum(lo));
    json_array_append_new(arr, jnum(hi));
    return arr;
}

static int parse_alternative(stat_ctx_t *c, cn_alternative_t *alt)
{
    const char *s = cn_args_str(&c->args, "alternative", "two-sided");
    if (cn_stats_parse_alternative(s, alt))
        return bad_choice(c, "alternative", s, "two-sided, less, greater");
    return 0;
}

/* ------------------------------------------------------------- mwu */

static int cmd_mwu(stat_ctx_t *c)
{
    cn_mwu_opts_t o;
    cn_stats_mwu_opts_init(&o);
    int rc = parse_alternative(c, &o.alternative);
    if (rc)
        return rc;
    o.use_continuity = !cn_args_flag(&c->args, "no-continuity");
    const char *m = cn_args_str(&c->args, "method", "auto");
    if (cn_stats_parse_mwu_method(m, &o.method))
        return bad_choice(c, "method", m, "auto, exact, asymptotic");
    if (cn_args_finish(&c->args))
        return CN_EXIT_USAGE;
    if ((rc = load_two(c, 1)))
        return rc;
    cn_mwu_result_t r;
    if ((rc = cn_stats_mwu(c->x.values, c->x.n, c->y.values, c->y.n, &o, &r)))
        return stat_failed(c, rc, NULL);
    if (c->json)
        return emit_json(json_pack(
            "{s:o, s:o, s:s, s:o, s:I, s:I, s:s, s:b}", "statistic", jnum(r.u),
            "pvalue", jnum(r.pvalue), "method", cn_stats_mwu_method_name(r.method), "z",
            jnum(r.z), "n_x", (json_int_t)c->x.n, "n_y", (json_int_t)c->y.n,
            "alternative", cn_stats_alternative_name(o.alternative), "use_continuity",
            o.use_continuity));
    printf("Mann-Whitney U test (%s, %s%s)\n", cn_stats_mwu_method_name(r.method),
           cn_stats_alternative_name(o.alternative),
           o.use_continuity ? "" : ", no continuity correction");
    print_samples(c);
    printf("  U = %.10g   p = %.6g\n", r.u, r.pvalue);
    return CN_EXIT_OK;
}

/* -------------------------------------------------------------- ks */

static int cmd_ks(stat_ctx_t *c)
{
    cn_alternative_t alt;
    int rc = parse_alternative(c, &alt);
    if (rc)
        return rc;
    cn_ks_method_t method;
    const char *m = cn_args_str(&c->args, "method", "auto");
    if (cn_stats_parse_ks_method(m, &method))
        return bad_choice(c, "method", m, "auto, exact, asymp");
    if (cn_args_finish(&c->args))
        return CN_EXIT_USAGE;
    if ((rc = load_two(c, 1)))
        return rc;
    cn_ks_result_t r;
    if ((rc = cn_stats_ks2(c->x.values, c->x.n, c->y.values, c->y.n, alt, method, &r)))
        return stat_failed(c, rc, NULL);
    if (c->json)
        return emit_json(json_pack("{s:o, s:o, s:s, s:I, s:I, s:s}", "statistic",
                                   jnum(r.d), "pvalue", jnum(r.pvalue), "method",
                                   cn_stats_ks_method_name(r.method), "n_x",
                                   (json_int_t)c->x.n, "n_y", (json_int_t)c->y.n,
                                   "alternative", cn_stats_alternative_name(alt)));
    printf("Two-sample Kolmogorov-Smirnov test (%s, %s)\n",
           cn_stats_ks_method_name(r.method), cn_stats_alternative_name(alt));
    print_samples(c);
    printf("  D = %.6g   p = %.6g\n", r.d, r.pvalue);
    return CN_EXIT_OK;
}

/* ----------------------------------------------------------- welch */

static int cmd_welch(stat_ctx_t *c)
{
    cn_alternative_t alt;
    int rc = parse_alternative(c, &alt);
    if (rc)
        return rc;
    if (cn_args_finish(&c->args))
        return CN_EXIT_USAGE;
    if ((rc = load_two(c, 2)))
        return rc;
    cn_welch_result_t r;
    if ((rc = cn_stats_welch(c->x.values, c->x.n, c->y.values, c->y.n, alt, &r)))
        return stat_failed(c, rc,
                           rc == CN_EDEGENERATE ? "both samples are constant" : NULL);
    if (c->json)
        return emit_json(json_pack(
            "{s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:s}", "statistic", jnum(r.t),
            "df", jnum(r.df), "pvalue", jnum(r.pvalue), "mean_x", jnum(r.mean_x),
            "mean_y", jnum(r.mean_y), "se", jnum(r.se), "n_x", (json_int_t)c->x.n,
            "n_y", (json_int_t)c->y.n, "alternative", cn_stats_alternative_name(alt)));
    printf("Welch's t-test (%s)\n", cn_stats_alternative_name(alt));
    printf("  X: %s (n = %zu, mean = %.6g)   Y: %s (n = %zu, mean = %.6g)\n", c->x_name,
           c->x.n, r.mean_x, c->y_name, c->y.n, r.mean_y);
    printf("  t = %.6g   df = %.6g   p = %.6g\n", r.t, r.df, r.pvalue);
    return CN_EXIT_OK;
}

/* -------------------------------------------------------------- hl */

static int cmd_hl(stat_ctx_t *c)
{
    double conf;
    if (cn_args_num(&c->args, "confidence", 0.95, 0, 1, 1, 1, &conf))
        return CN_EXIT_USAGE;
    if (cn_args_finish(&c->args))
        return CN_EXIT_USAGE;
    int rc = load_two(c, 1);
    if (rc)
        return rc;
    cn_hl_result_t r;
    if ((rc = cn_stats_hl(c->x.values, c->x.n, c->y.values, c->y.n, conf, &r)))
        return stat_failed(c, rc, NULL);
    if (c->json)
        return emit_json(json_pack("{s:o, s:o, s:o, s:o, s:b, s:I, s:I}", "estimate",
                                   jnum(r.estimate), "ci", jpair(r.ci_low, r.ci_high),
                                   "confidence", jnum(conf), "achieved_confidence",
                                   jnum(r.achieved_confidence), "exact", r.exact, "n_x",
                                   (json_int_t)c->x.n, "n_y", (json_int_t)c->y.n));
    printf("Hodges-Lehmann shift X - Y (%s)\n", r.exact ? "exact" : "normal");
    print_samples(c);
    printf("  estimate = %.6g   %g%% CI [%.6g, %.6g]\n", r.estimate, conf * 100,
           r.ci_low, r.ci_high);
    return CN_EXIT_OK;
}

/* ---------------------------------------------------------- adjust */

static int cmd_adjust(stat_ctx_t *c)
{
    const char *m = cn_args_str(&c->args, "method", NULL);
    cn_adjust_method_t method;
    if (!m) {
        fprintf(stderr, "canary %s: --method is required (bonferroni, holm, bh)\n",
                c->cmd);
        return CN_EXIT_USAGE;
    }
    if (cn_stats_parse_adjust(m, &method))
        return bad_choice(c, "method", m, "none, bonferroni, holm, bh");
    if (cn_args_finish(&c->args))
        return CN_EXIT_USAGE;
    size_t n = c->args.npos;
    if (n == 0) {
        fprintf(stderr, "canary %s: expected one or more p-values\n", c->cmd);
        return CN_EXIT_USAGE;
    }
    double p[CN_ARGS_MAX], adj[CN_ARGS_MAX];
    for (size_t i = 0; i < n; i++) {
        const char *s = c->args.pos[i];
        char *end;
        p[i] = strtod(s, &end);
        if (end == s || *end != '\0' || !(p[i] >= 0 && p[i] <= 1)) {
            fprintf(stderr,
                    "canary %s: argument %zu: '%s' is not a p-value in [0, 1]\n",
                    c->cmd, i + 1, s);
            return CN_EXIT_DATAERR;
        }
    }
    int rc = cn_stats_adjust(p, n, method, adj);
    if (rc)
        return stat_failed(c, rc, NULL);
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, jnum(adj[i]));
        return emit_json(json_pack("{s:o, s:s}", "adjusted", arr, "method", m));
    }
    printf("Adjusted p-values (%s)\n", m);
    for (size_t i = 0; i < n; i++)
        printf("  %-12.6g -> %.6g\n", p[i], adj[i]);
    return CN_EXIT_OK;
}

/* ----------------------------------------------------------- power */

static int cmd_power(stat_ctx_t *c)
{
    cn_args_t *a = &c->args;
    const char *test = cn_args_str(a, "test", "means");
    const char *sided = cn_args_str(a, "sided", "two");
    int two_sided;
    if (strcmp(sided, "two") == 0)
        two_sided = 1;
    else if (strcmp(sided, "one") == 0)
        two_sided = 0;
    else
        return bad_choice(c, "sided", sided, "one, two");
    double alpha, power, n;
    if (cn_args_num(a, "alpha", 0.05, 0, 1, 1, 1, &alpha))
        return CN_EXIT_USAGE;
    int want_power = cn_args_str(a, "n", NULL) != NULL;
    if (want_power && cn_args_str(a, "power", NULL)) {
        fprintf(stderr,
                "canary %s: give either --power (to get n) or --n (to "
                "get power), not both\n",
                c->cmd);
        return CN_EXIT_USAGE;
    }
    if (cn_args_num(a, "power", 0.8, 0, 1, 1, 1, &power) ||
        cn_args_num(a, "n", 0, 1, 0, INFINITY, 0, &n))
        return CN_EXIT_USAGE;
    int rc;
    double result;
    json_t *obj;
    if (strcmp(test, "means") == 0) {
        double delta, sd;
        if (!cn_args_str(a, "delta", NULL) || !cn_args_str(a, "sd", NULL)) {
            fprintf(stderr, "canary %s: --test means needs --delta and --sd\n", c->cmd);
            return CN_EXIT_USAGE;
        }
        if (cn_args_num(a, "delta", 0, 0, 1, INFINITY, 0, &delta) ||
            cn_args_num(a, "sd", 0, 0, 1, INFINITY, 0, &sd) || cn_args_finish(a))
            return CN_EXIT_USAGE;
        rc = want_power ? cn_stats_power_means(delta, sd, alpha, n, two_sided, &result)
                        : cn_stats_sample_size_means(delta, sd, alpha, power, two_sided,
                                                     &result);
        if (rc)
            return stat_failed(c, rc, NULL);
        obj = json_pack("{s:s, s:o, s:o}", "test", "means", "delta", jnum(delta), "sd",
                        jnum(sd));
    } else if (strcmp(test, "props") == 0) {
        double p1, p2;
        if (!cn_args_str(a, "p1", NULL) || !cn_args_str(a, "p2", NULL)) {
            fprintf(stderr, "canary %s: --test props needs --p1 and --p2\n", c->cmd);
            return CN_EXIT_USAGE;
        }
        if (cn_args_num(a, "p1", 0, 0, 1, 1, 1, &p1) ||
            cn_args_num(a, "p2", 0, 0, 1, 1, 1, &p2) || cn_args_finish(a))
            return CN_EXIT_USAGE;
        rc = want_power
                 ? cn_stats_power_props(p1, p2, alpha, n, two_sided, &result)
                 : cn_stats_sample_size_props(p1, p2, alpha, power, two_sided, &result);
        if (rc)
            return stat_failed(c, rc,
                               rc == CN_EINVAL ? "p1 must differ from p2" : NULL);
        obj = json_pack("{s:s, s:o, s:o}", "test", "props", "p1", jnum(p1), "p2",
                        jnum(p2));
    } else {
        return bad_choice(c, "test", test, "means, props");
    }
    json_object_set_new(obj, "alpha", jnum(alpha));
    json_object_set_new(obj, "sided", json_string(two_sided ? "two" : "one"));
    if (want_power) {
        json_object_set_new(obj, "n_per_arm", jnum(n));
        json_object_set_new(obj, "power", jnum(result));
    } else {
        json_object_set_new(obj, "power", jnum(power));
        json_object_set_new(obj, "n_per_arm", json_integer((json_int_t)ceil(result)));
        json_object_set_new(obj, "n_exact", jnum(result));
    }
    if (c->json)
        return emit_json(obj);
    json_decref(obj);
    if (want_power)
        printf("Power at n = %g per arm (%s-sided, alpha = %g): %.4f\n", n, sided,
               alpha, result);
    else
        printf("Sample size per arm (%s-sided, alpha = %g, power = %g): %.0f "
               "(exact %.2f)\n",
               sided, alpha, power, ceil(result), result);
    return CN_EXIT_OK;
}

/* ------------------------------------------------------------- psi */

static int cmd_psi(stat_ctx_t *c)
{
    unsigned long long bins;
    if (cn_args_uint(&c->args, "bins", 10, 2, 1000, &bins) || cn_args_finish(&c->args))
        return CN_EXIT_USAGE;
    int rc = load_two(c, 1);
    if (rc)
        return rc;
    cn_psi_result_t r;
    if ((rc = cn_stats_psi(c->x.values, c->x.n, c->y.values, c->y.n, (size_t)bins, &r)))
        return stat_failed(c, rc, NULL);
    if (c->json)
        return emit_json(json_pack("{s:o, s:I, s:I, s:I, s:I}", "psi", jnum(r.psi),
                                   "bins", (json_int_t)r.bins, "bins_requested",
                                   (json_int_t)bins, "n_x", (json_int_t)c->x.n, "n_y",
                                   (json_int_t)c->y.n));
    printf("Population stability index of X against Y's %zu quantile bins\n", r.bins);
    print_samples(c);
    printf("  PSI = %.6g\n", r.psi);
    return CN_EXIT_OK;
}

/* ------------------------------------------------------- bootstrap */

static int cmd_bootstrap(stat_ctx_t *c)
{
    cn_args_t *a = &c->args;
    const char *sname = cn_args_str(a, "statistic", "mean");
    cn_boot_stat_t stat;
    if (cn_stats_parse_boot_stat(sname, &stat))
        return bad_choice(c, "statistic", sname, "mean, median, p95, p99");
    unsigned long long seed, resamples;
    double conf;
    if (cn_args_uint(a, "seed", 1, 0, (1ull << 53), &seed) ||
        cn_args_uint(a, "resamples", 2000, 100, 1000000, &resamples) ||
        cn_args_num(a, "confidence", 0.95, 0, 1, 1, 1, &conf) || cn_args_finish(a))
        return CN_EXIT_USAGE;
    int rc = load_two(c, 1);
    if (rc)
        return rc;
    cn_boot_result_t r;
    if ((rc = cn_stats_bootstrap_diff(c->x.values, c->x.n, c->y.values, c->y.n, stat,
                                      (size_t)resamples, conf, seed, &r)))
        return stat_failed(c, rc, NULL);
    if (c->json)
        return emit_json(json_pack(
            "{s:s, s:o, s:o, s:o, s:I, s:I, s:I, s:I}", "statistic", sname, "estimate",
            jnum(r.estimate), "ci", jpair(r.ci_low, r.ci_high), "confidence",
            jnum(conf), "resamples", (json_int_t)r.resamples, "seed", (json_int_t)seed,
            "n_x", (json_int_t)c->x.n, "n_y", (json_int_t)c->y.n));
    printf("Bootstrap %s(X) - %s(Y), %zu resamples, seed %llu\n", sname, sname,
           r.resamples, seed);
    printf("  estimate = %.6g   %g%% CI [%.6g, %.6g]\n", r.estimate, conf * 100,
           r.ci_low, r.ci_high);
    return CN_EXIT_OK;
}

/* ------------------------------------------------------------ prop */

/* "SUCCESSES/TRIALS" for --x / --y. */
static int parse_count(stat_ctx_t *c, const char *opt, uint64_t *succ, uint64_t *trials)
{
    const char *s = cn_args_str(&c->args, opt, NULL);
    unsigned long long a, b;
    int used = 0;
    if (!s || sscanf(s, "%llu/%llu%n", &a, &b, &used) != 2 || s[used] != '\0' ||
        s[0] < '0' || s[0] > '9' || b == 0 || a > b) {
        fprintf(stderr,
                "canary %s: --%s must be SUCCESSES/TRIALS with "
                "0 <= SUCCESSES <= TRIALS and TRIALS >= 1, got '%s'\n",
                c->cmd, opt, s ? s : "");
        return CN_EXIT_USAGE;
    }
    *succ = a;
    *trials = b;
    return 0;
}

/* Count the 1s of a 0/1 sample; anything else is an error naming the line. */
static int count_ones(stat_ctx_t *c, const cn_numbers_t *v, const char *name,
                      uint64_t *ones)
{
    uint64_t k = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (v->values[i] == 1)
            k++;
        else if (v->values[i] != 0) {
            fprintf(stderr,
                    "canary %s: %s: value %zu is %g; a rate sample "
                    "holds only 0 and 1\n",
                    c->cmd, name, i + 1, v->values[i]);
            return CN_EXIT_DATAERR;
        }
    }
    *ones = k;
    return 0;
}

static int cmd_prop(stat_ctx_t *c)
{
    cn_args_t *a = &c->args;
    cn_direction_t dir;
    const char *d = cn_args_str(a, "direction", "lower-is-better");
    if (cn_stats_parse_direction(d, &dir))
        return bad_choice(c, "direction", d, "lower-is-better, higher-is-better");
    double margin, conf;
    cn_margin_kind_t kind;
    const char *ms = cn_args_str(a, "margin", "0");
    if (cn_stats_parse_margin(ms, &margin, &kind)) {
        fprintf(stderr,
                "canary %s: --margin must be a number >= 0, optionally "
                "with %%, got '%s'\n",
                c->cmd, ms);
        return CN_EXIT_USAGE;
    }
    if (cn_args_num(a, "confidence", 0.95, 0, 1, 1, 1, &conf))
        return CN_EXIT_USAGE;
    uint64_t sx, nx, sy, ny;
    int rc;
    int counts = cn_args_str(a, "x", NULL) || cn_args_str(a, "y", NULL);
    if (counts) {
        if (a->npos) {
            fprintf(stderr,
                    "canary %s: give either files X Y or --x/--y counts, "
                    "not both\n",
                    c->cmd);
            return CN_EXIT_USAGE;
        }
        if ((rc = parse_count(c, "x", &sx, &nx)) ||
            (rc = parse_count(c, "y", &sy, &ny)))
            return rc;
        if (cn_args_finish(a))
            return CN_EXIT_USAGE;
    } else {
        if (cn_args_finish(a))
            return CN_EXIT_USAGE;
        if ((rc = load_two(c, 1)) || (rc = count_ones(c, &c->x, c->x_name, &sx)) ||
            (rc = count_ones(c, &c->y, c->y_name, &sy)))
            return rc;
        nx = c->x.n;
        ny = c->y.n;
    }
    cn_prop_result_t r;
    if ((rc = cn_stats_prop(sx, nx, sy, ny, margin, kind, dir, conf, &r)))
        return stat_failed(c, rc, NULL);
    if (c->json)
        return emit_json(json_pack(
            "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:I, "
            "s:s}",
            "rate_x", jnum(r.p_x), "rate_y", jnum(r.p_y), "diff", jnum(r.diff), "ci",
            jpair(r.ci_low, r.ci_high), "margin_abs", jnum(r.margin_abs), "z_noninf",
            jnum(r.z_noninf), "pvalue_noninf", jnum(r.p_noninf), "z_pooled",
            jnum(r.z_pooled), "pvalue_equal", jnum(r.p_equal), "successes_x",
            (json_int_t)sx, "n_x", (json_int_t)nx, "successes_y", (json_int_t)sy, "n_y",
            (json_int_t)ny, "direction", cn_stats_direction_name(dir)));
    printf("Two proportions: X %llu/%llu = %.6g, Y %llu/%llu = %.6g\n",
           (unsigned long long)sx, (unsigned long long)nx, r.p_x,
           (unsigned long long)sy, (unsigned long long)ny, r.p_y);
    printf("  difference X - Y = %.6g   %g%% CI [%.6g, %.6g]\n", r.diff, conf * 100,
           r.ci_low, r.ci_high);
    printf("  non-inferiority (%s, margin %.6g): z = %.4g   p = %.6g\n",
           cn_stats_direction_name(dir), r.margin_abs, r.z_noninf, r.p_noninf);
    printf("  equality (pooled z): z = %.4g   p = %.6g\n", r.z_pooled, r.p_equal);
    return CN_EXIT_OK;
}

/* ---------------------------------------------------------- noninf */

static int cmd_noninf(stat_ctx_t *c)
{
    cn_args_t *a = &c->args;
    cn_ni_opts_t o = {.confidence = 0.95};
    const char *t = cn_args_str(a, "test", "mann-whitney");
    if (cn_stats_parse_ni_test(t, &o.test))
        return bad_choice(c, "test", t, "mann-whitney, welch");
    const char *d = cn_args_str(a, "direction", "lower-is-better");
    if (cn_stats_parse_direction(d, &o.direction))
        return bad_choice(c, "direction", d, "lower-is-better, higher-is-better");
    const char *ms = cn_args_str(a, "margin", NULL);
    if (!ms || cn_stats_parse_margin(ms, &o.margin, &o.kind)) {
        fprintf(stderr,
                "canary %s: --margin is required: a number >= 0, or a "
                "percentage of stable such as 5%%; got '%s'\n",
                c->cmd, ms ? ms : "");
        return CN_EXIT_USAGE;
    }
    if (cn_args_num(a, "confidence", 0.95, 0, 1, 1, 1, &o.confidence) ||
        cn_args_finish(a))
        return CN_EXIT_USAGE;
    int rc = load_two(c, o.test == CN_NI_WELCH ? 2 : 1);
    if (rc)
        return rc;
    cn_ni_result_t r;
    if ((rc = cn_stats_noninf(c->x.values, c->x.n, c->y.values, c->y.n, &o, &r)))
        return stat_failed(c, rc, NULL);
    if (c->json)
        return emit_json(json_pack(
            "{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "test",
            o.test == CN_NI_WELCH ? "welch" : "mann-whitney", "direction",
            cn_stats_direction_name(o.direction), "effect", jnum(r.effect), "ci",
            jpair(r.ci_low, r.ci_high), "margin_abs", jnum(r.margin_abs), "pvalue",
            jnum(r.pvalue), "stable_statistic", jnum(r.stable_stat), "confidence",
            jnum(o.confidence), "n_x", (json_int_t)c->x.n, "n_y", (json_int_t)c->y.n));
    printf("Non-inferiority of X (canary) against Y (stable), %s, %s\n",
           o.test == CN_NI_WELCH ? "Welch t" : "Mann-Whitney / Hodges-Lehmann",
           cn_stats_direction_name(o.direction));
    printf("  effect X - Y = %.6g   %g%% CI [%.6g, %.6g]\n", r.effect,
           o.confidence * 100, r.ci_low, r.ci_high);
    printf("  margin = %.6g   p(H0: X worse by >= margin) = %.6g\n", r.margin_abs,
           r.pvalue);
    return CN_EXIT_OK;
}

/* --------------------------------------------------------- dispatch */

typedef struct {
    const char *name;
    int (*run)(stat_ctx_t *c);
    const char *usage;
} stat_cmd_t;

static const stat_cmd_t commands[] = {
    {"mwu", cmd_mwu,
     "X Y [--alternative two-sided|less|greater] [--no-continuity] "
     "[--method auto|exact|asymptotic]"},
    {"ks", cmd_ks, "X Y [--alternative ...] [--method auto|exact|asymp]"},
    {"welch", cmd_welch, "X Y [--alternative ...]"},
    {"hl", cmd_hl, "X Y [--confidence 0.95]"},
    {"adjust", cmd_adjust, "--method bonferroni|holm|bh P1 P2 ..."},
    {"power", cmd_power,
     "--test means --delta D --sd S | --test props --p1 P --p2 P "
     "[--alpha 0.05] [--power 0.8 | --n N] [--sided two|one]"},
    {"psi", cmd_psi, "X Y [--bins 10]"},
    {"bootstrap", cmd_bootstrap,
     "X Y [--statistic mean|median|p95|p99] [--seed N] [--resamples 2000] "
     "[--confidence 0.95]"},
    {"prop", cmd_prop,
     "(X Y | --x S/N --y S/N) [--margin M[%]] "
     "[--direction lower-is-better|higher-is-better] [--confidence 0.95]"},
    {"noninf", cmd_noninf,
     "X Y --margin M[%] [--test mann-whitney|welch] "
     "[--direction lower-is-better|higher-is-better] [--confidence 0.95]"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: canary stat TEST ARGS [--json]\n"
               "X and Y are files with one number per line ('-' reads stdin).\n"
               "tests:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].usage);
}

int cn_cli_stat(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CN_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return CN_EXIT_OK;
    }
    const stat_cmd_t *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "canary stat: unknown test '%s' (try: canary stat --help)\n",
                argv[1]);
        return CN_EXIT_USAGE;
    }
    stat_ctx_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.cmd, sizeof c.cmd, "stat %s", cmd->name);
    static const char *const flags[] = {"json", "no-continuity", "help", NULL};
    if (cn_args_parse(&c.args, c.cmd, argc - 2, argv + 2, flags))
        return CN_EXIT_USAGE;
    if (cn_args_flag(&c.args, "help")) {
        printf("usage: canary %s %s [--json]\n", c.cmd, cmd->usage);
        return CN_EXIT_OK;
    }
    c.json = cn_args_flag(&c.args, "json");
    int rc = cmd->run(&c);
    cn_numbers_dispose(&c.x);
    cn_numbers_dispose(&c.y);
    return rc;
}
