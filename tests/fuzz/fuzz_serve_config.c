/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * libFuzzer target for the serve configuration as `canary serve` reads it
 * (server/config.c: the router's, admin API's, store's and server's keys).
 *
 * An input that starts with "--" is a list of flags, one per line,
 * "name=value" or a bare "name", applied with cn_server_config_set_flag();
 * any other input is a YAML file for cn_server_config_parse_yaml(). Either
 * way the result must be one of the documented codes with a one-line
 * message naming the file or the flag, no crash, no leak and no output
 * from libfyaml. A config that parsed must also be consistent with the
 * table: validate() may then fail only on a cross-field check, never on a
 * single key's type or bounds, and a config that validates must compile its
 * prediction pointer and publish its traffic split. And what the engine
 * writes back as the effective configuration (YAML) must read back to a
 * config that is written the same way, byte for byte.
 */
#include "router/config.h"
#include "router/extract.h"
#include "router/split.h"
#include "server/config.h"
#include "util/config.h"
#include "util/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int one_line(const char *err, const char *prefix)
{
    return err[0] && !strchr(err, '\n') && strncmp(err, prefix, strlen(prefix)) == 0;
}

/* The messages of validate()'s checks across fields. */
static int cross_field(const char *err)
{
    static const char *const phrases[] = {
        "at least one stable address",
        "required when the canary weight",
        "sticky mode needs",
        "must differ from",
        "must be at most health.interval",
        "the measurement state may take",
        "list the expected values of measure.segment_header",
        "at most measure.max_segments",
        "is also a stable address",
    };
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        if (strstr(err, phrases[i]))
            return 1;
    return 0;
}

static void apply_flags(cn_server_config_t *c, const char *text, size_t size, int *ok)
{
    char *copy = malloc(size + 1);
    if (!copy)
        abort();
    memcpy(copy, text, size);
    copy[size] = '\0';
    char *line = copy;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *name = line[0] == '-' && line[1] == '-' ? line + 2 : line;
        char *eq = strchr(name, '=');
        if (eq)
            *eq = '\0';
        char err[512] = "";
        int rc =
            cn_server_config_set_flag(c, name, eq ? eq + 1 : NULL, err, sizeof err);
        if (rc != 0 &&
            ((rc != CN_EINVAL && rc != CN_ENOTFOUND) || !one_line(err, "--")))
            abort();
        if (rc)
            *ok = 0;
        line = nl ? nl + 1 : NULL;
    }
    free(copy);
}

/* c as the YAML `canary config check` prints; the caller frees it. */
static char *emit(cn_server_config_t *c, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        abort();
    cn_config_part_t parts[CN_SERVER_CONFIG_PARTS];
    size_t n = cn_server_config_parts(c, parts);
    cn_config_section_t section = {"serve", parts, n};
    if (cn_config_emit(f, CN_CONFIG_YAML, &section, 1) != 0)
        abort();
    fclose(f);
    return buf;
}

/* The effective configuration reads back to itself. */
static void round_trip(cn_server_config_t *c)
{
    size_t len1, len2;
    char *one = emit(c, &len1);
    cn_server_config_t back;
    cn_server_config_init(&back);
    char err[512];
    if (cn_server_config_parse_yaml(&back, one, len1, "out.yaml", err, sizeof err) != 0)
        abort();
    char *two = emit(&back, &len2);
    if (len1 != len2 || memcmp(one, two, len1) != 0)
        abort();
    free(one);
    free(two);
    cn_server_config_dispose(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cn_server_config_t c;
    cn_server_config_init(&c);
    char err[512] = "";
    int ok = 1;
    if (size >= 2 && text[0] == '-' && text[1] == '-') {
        apply_flags(&c, text, size, &ok);
    } else {
        int rc =
            cn_server_config_parse_yaml(&c, text, size, "fuzz.yaml", err, sizeof err);
        if (rc != 0 &&
            ((rc != CN_EINVAL && rc != CN_EPARSE) || !one_line(err, "fuzz.yaml")))
            abort();
        ok = rc == 0;
    }

    /* Whatever happened, the config holds whole values: validate() runs on
     * it without harm. */
    char verr[512] = "";
    int vrc = cn_server_config_validate(&c, verr, sizeof verr);
    if (vrc != 0 && (vrc != CN_EINVAL || !one_line(verr, "key '")))
        abort();
    if (ok && vrc != 0 && !cross_field(verr))
        abort();
    if (vrc == 0) {
        cn_router_pointer_t p;
        char perr[256];
        if (cn_router_config_prediction(&c.router, &p, perr, sizeof perr) != 0)
            abort();
        cn_router_pointer_dispose(&p);
        cn_router_traffic_slot_t slot;
        if (cn_router_traffic_slot_init(&slot, &c.router.traffic) != 0)
            abort();
        if (c.router.stable.count == 0 || !c.router.listen || !c.admin.address ||
            c.router.n_prediction_buckets == 0)
            abort();
    }
    if (ok)
        round_trip(&c);
    cn_server_config_dispose(&c);
    return 0;
}
