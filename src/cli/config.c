/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary config check FILE [--json]`: read a config file the way the
 * commands that use it do, check every section of it, and print the
 * effective configuration, every key with its default filled in, as YAML
 * (which reads back as the same config) or JSON.
 *
 * A file with top-level sections (`serve:`, `analysis:`) is checked
 * section by section, and a top-level key that is no section is an error
 * here, although `canary serve` and `canary analyze` each skip the
 * sections that are not theirs: a checker must not let a misspelt section
 * pass. A file without sections is one section in the root form, as
 * `canary serve --config` and `canary analyze --config` accept it: the
 * serve keys if its first key is one, else the judge's spec.
 *
 * The serve section is checked as `canary serve` checks it after reading
 * its flags (cross-field rules and the memory budget included), but
 * without them: a file that needs a flag to be complete (no stable
 * address) fails here.
 */
#include "cli/cli.h"
#include "controller/strategy.h"
#include "judge/config.h"
#include "judge/judge.h"
#include "router/config.h"
#include "server/config.h"
#include "util/config.h"
#include "util/error.h"
#include "util/file.h"
#include "util/text.h"
#include "util/yaml.h"

#include <libfyaml.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_BYTES ((size_t)16 << 20)

static void usage(FILE *f)
{
    fprintf(f, "usage: canary config check FILE [--json]\n"
               "Check every section of a config file (serve:, analysis:, strategy:,\n"
               "or the keys of serve: or analysis: at the top level) and print the\n"
               "effective configuration with\n"
               "every default filled in, as YAML (or JSON with --json).\n"
               "Exit 0 if valid, 65 if not (one line naming the file, line and key),\n"
               "66 if the file cannot be read, 64 on a usage error.\n");
}

/* The sections a file may have, in the order they are printed. */
enum { SEC_SERVE, SEC_ANALYSIS, SEC_STRATEGY, SEC_COUNT };
static const char *const section_names[SEC_COUNT] = {"serve", "analysis", "strategy"};

/* Which sections the document holds; 0, or CN_EINVAL after reporting an
 * unknown top-level key next to sections. */
static int find_sections(cn_yaml_t *y, struct fy_node *root,
                         const cn_config_part_t *serve_parts, size_t n_serve,
                         bool present[SEC_COUNT])
{
    void *it = NULL;
    struct fy_node_pair *p;
    bool sections = false;
    const char *first = NULL;
    size_t first_len = 0;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        if (!k || !fy_node_is_scalar(k) || fy_node_is_alias(k))
            continue;
        size_t klen = 0;
        const char *key = cn_yaml_scalar_text(y, k, &klen);
        if (!first) {
            first = key;
            first_len = klen;
        }
        for (int s = 0; s < SEC_COUNT; s++)
            if (cn_yaml_key_is(key, klen, section_names[s]))
                sections = present[s] = true;
    }
    if (!sections) {
        /* The root form of one section: serve keys, or the judge's. */
        char name[64] = "";
        if (first && first_len < sizeof name && !memchr(first, '\0', first_len)) {
            memcpy(name, first, first_len);
            name[first_len] = '\0';
        }
        if (*name && cn_config_has_name(serve_parts, n_serve, name))
            present[SEC_SERVE] = true;
        else
            present[SEC_ANALYSIS] = true;
        return 0;
    }
    it = NULL;
    while ((p = fy_node_mapping_iterate(root, &it))) {
        const char *key;
        size_t klen;
        int kline;
        int rc = cn_yaml_get_key(y, p, 1, "", &key, &klen, &kline);
        if (rc)
            return rc;
        bool known = false;
        for (int s = 0; s < SEC_COUNT; s++)
            known |= cn_yaml_key_is(key, klen, section_names[s]) != 0;
        if (!known) {
            char q[CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)];
            return cn_yaml_report(
                y, CN_EINVAL, kline, cn_text_quote(key, klen, CN_YAML_QUOTE_MAX, q),
                "unknown section (expected serve, analysis or strategy)");
        }
    }
    return 0;
}

static int check(const char *path, bool json)
{
    char err[1024] = "";
    char *text = NULL;
    size_t len = 0;
    if (cn_file_read(path, CONFIG_MAX_BYTES, &text, &len, err, sizeof err)) {
        fprintf(stderr, "canary config: %s\n", err);
        return CN_EXIT_NOINPUT;
    }
    cn_server_config_t serve;
    cn_judge_config_t analysis;
    cn_strategy_t strategy;
    cn_server_config_init(&serve);
    cn_judge_config_init(&analysis);
    cn_strategy_init(&strategy);
    /* The serve section as the composition root assembles it. */
    cn_config_part_t serve_parts[CN_SERVER_CONFIG_PARTS];
    size_t n_serve = cn_server_config_parts(&serve, serve_parts);
    cn_config_part_t analysis_part = {cn_judge_config_table(), &analysis};
    cn_config_part_t strategy_part = cn_strategy_config_part(&strategy);
    bool present[SEC_COUNT] = {false, false, false};
    int exit_code = CN_EXIT_OK;

    cn_yaml_t y;
    cn_yaml_init(&y, path, err, sizeof err);
    struct fy_document *doc;
    int rc = cn_yaml_load(&y, text, len, &doc);
    struct fy_node *root = !rc && doc ? fy_document_root(doc) : NULL;
    char d[CN_YAML_DESCRIBE_BUF];
    if (!rc && (!root || cn_yaml_is_null(root)))
        rc = cn_yaml_report(
            &y, CN_EINVAL, 1, NULL,
            "empty config: expected serve:, analysis: or the keys of one "
            "of them");
    else if (!rc && !fy_node_is_mapping(root))
        rc = cn_yaml_report(&y, CN_EINVAL, cn_yaml_node_line(root, 1), NULL,
                            "the config must be a mapping, got %s",
                            cn_yaml_describe(&y, root, d));
    if (!rc)
        rc = find_sections(&y, root, serve_parts, n_serve, present);
    if (!rc && present[SEC_SERVE])
        rc = cn_router_config_read_section(&y, doc, serve_parts, n_serve);
    if (!rc && present[SEC_ANALYSIS])
        rc = cn_judge_config_read_section(&y, doc, &analysis);
    if (!rc && present[SEC_STRATEGY])
        rc = cn_strategy_read_section(&y, doc, &strategy, &present[SEC_STRATEGY]);
    /* A strategy judges with the analysis section: each analysis step is
     * one look, and names only the section's metrics. */
    if (!rc && present[SEC_STRATEGY] && present[SEC_ANALYSIS])
        rc = cn_strategy_check_analysis(&y, doc, &strategy, &analysis, &serve.feedback);
    cn_yaml_dispose(&y);
    if (rc) {
        fprintf(stderr, "canary config: %s\n", err);
        exit_code = CN_EXIT_DATAERR;
        goto out;
    }
    /* What `canary serve` checks once its flags are in. */
    if (present[SEC_SERVE] && cn_server_config_validate(&serve, err, sizeof err)) {
        fprintf(stderr, "canary config: %s: serve: %s\n", path, err);
        exit_code = CN_EXIT_DATAERR;
        goto out;
    }
    cn_config_section_t sections[SEC_COUNT];
    size_t n = 0;
    if (present[SEC_SERVE])
        sections[n++] = (cn_config_section_t){"serve", serve_parts, n_serve};
    if (present[SEC_ANALYSIS])
        sections[n++] = (cn_config_section_t){"analysis", &analysis_part, 1};
    if (present[SEC_STRATEGY])
        sections[n++] = (cn_config_section_t){"strategy", &strategy_part, 1};
    if (cn_config_emit(stdout, json ? CN_CONFIG_JSON : CN_CONFIG_YAML, sections, n) ||
        fflush(stdout)) {
        fprintf(stderr, "canary config: cannot write the configuration\n");
        exit_code = CN_EXIT_SOFTWARE;
    }
out:
    cn_server_config_dispose(&serve);
    cn_judge_config_dispose(&analysis);
    cn_strategy_dispose(&strategy);
    free(text);
    return exit_code;
}

int cn_cli_config(int argc, char **argv)
{
    const char *file = NULL;
    bool json = false;
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return CN_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        char q[CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)];
        if (argc < 2)
            fprintf(stderr, "canary config: missing subcommand\n");
        else
            fprintf(stderr, "canary config: unknown subcommand '%s'\n",
                    cn_text_quote(argv[1], strlen(argv[1]), CN_YAML_QUOTE_MAX, q));
        usage(stderr);
        return CN_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CN_EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            char q[CN_TEXT_QUOTE_BUF(CN_YAML_QUOTE_MAX)];
            fprintf(stderr, "canary config: unknown option '%s' (try --help)\n",
                    cn_text_quote(a, strlen(a), CN_YAML_QUOTE_MAX, q));
            return CN_EXIT_USAGE;
        } else if (file) {
            fprintf(stderr, "canary config: one FILE only (try --help)\n");
            return CN_EXIT_USAGE;
        } else {
            file = a;
        }
    }
    if (!file) {
        fprintf(stderr, "canary config check: missing FILE (try --help)\n");
        return CN_EXIT_USAGE;
    }
    return check(file, json);
}
