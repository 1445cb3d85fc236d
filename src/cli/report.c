/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `canary report ID [-o FILE] [--format html|json]`: one rollout's report
 * (report.h; docs/CLI.md), read from a running `canary serve` through its
 * admin API (cli/client.h).
 *
 * The report is built whole in memory and then written: to stdout for
 * "-o -" or no -o, else to a temporary file beside FILE that is renamed
 * over it once it is complete and synced, so that a failed run (a server
 * gone mid-way, a full disk, a kill) never leaves half a report where a
 * reviewer would take it for a whole one.
 *
 * Exit codes: 0; 64 usage; the client's for a failed call (69
 * unreachable, 77 refused token, 65 a refused request such as an unknown
 * rollout, 70 a server error or an answer that is not JSON); 73 the file
 * cannot be created or written; 74 stdout cannot be written.
 */
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/json_out.h"
#include "cli/report.h"
#include "util/clock.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: canary report ID [-o FILE] [--format html|json] [--server URL] "
            "[--token-file PATH]\n"
            "One self-contained report of rollout ID, for a review or an audit: its\n"
            "summary, weight timeline, every analysis (tables and forest plots) and\n"
            "the whole audit trail. HTML (the default) has no script and fetches\n"
            "nothing; --format json writes the same content as one JSON document.\n"
            "  -o FILE, --output FILE   write to FILE (atomically: complete or not at\n"
            "                           all); - or none: stdout\n"
            "The server is --server or $CANARY_SERVER (default %s); the token\n"
            "is --token-file or $CANARY_TOKEN.\n",
            CN_CLIENT_DEFAULT_SERVER);
}

json_t *cn_report_doc(json_t *rollout, json_t *history, json_t *analyses,
                      const char *server, int64_t generated_unix_ms)
{
    return json_pack("{s:s, s:I, s:s, s:O, s:O, s:O}", "format", CN_REPORT_FORMAT,
                     "generated_unix_ms", (json_int_t)generated_unix_ms, "server",
                     server ? server : "", "rollout", rollout, "history", history,
                     "analyses", analyses);
}

/* A rollout id: 1 to 18 digits. */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 18 && strspn(s, "0123456789") == n;
}

/* GET path as JSON into *out; returns the exit code (0, or the client's
 * after its one line on stderr). */
static int get_json(cn_client_t *c, const char *path, json_t **out)
{
    char err[512];
    cn_client_response_t res;
    int rc = cn_client_call(c, "GET", path, NULL, &res, err, sizeof err);
    int code = cn_client_report(c, "report", rc, err, &res);
    *out = NULL;
    if (!code) {
        json_error_t jerr;
        *out = json_loadb(res.body, res.body_len, 0, &jerr);
        if (!json_is_object(*out)) {
            fprintf(stderr,
                    "canary report: GET %s: the answer is not a JSON object (%s)\n",
                    path, *out ? "another JSON value" : jerr.text);
            json_decref(*out);
            *out = NULL;
            code = CN_EXIT_SOFTWARE;
        }
    }
    cn_client_response_dispose(&res);
    return code;
}

/* The array under key of an envelope such as {"id": 1, "entries": [...]}. */
static json_t *array_in(json_t *envelope, const char *key, const char *path)
{
    json_t *a = json_object_get(envelope, key);
    if (!json_is_array(a))
        fprintf(stderr, "canary report: GET %s: the answer has no '%s' array\n", path,
                key);
    return json_is_array(a) ? a : NULL;
}

/* Write len bytes to fd; returns 0 or -1 with errno set. */
static int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * data to path, atomically: a temporary file in the same directory
 * (mkstemp), written, synced, given the mode a new file would have
 * (0666 less the umask), then renamed over path. On failure the temporary
 * file is removed and path is untouched. Returns 0 or prints one line
 * and returns -1.
 */
static int write_atomic(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path) + 16;
    char *tmp = cn_xmalloc(n);
    snprintf(tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "canary report: cannot write '%s': %s\n", path,
                strerror(errno));
        free(tmp);
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    int rc = write_all(fd, data, len);
    if (!rc)
        rc = fchmod(fd, 0666 & ~mask);
    if (!rc)
        rc = fsync(fd);
    int saved = errno;
    if (close(fd) && !rc) {
        rc = -1;
        saved = errno;
    }
    if (!rc && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc) {
        unlink(tmp);
        fprintf(stderr, "canary report: cannot write '%s': %s\n", path,
                strerror(saved));
    }
    free(tmp);
    return rc ? -1 : 0;
}

/* The report in the asked format, into *text (owned) and *len. Returns 0
 * or an exit code after one line on stderr. */
static int render(const json_t *doc, bool json_format, char **text, size_t *len)
{
    if (json_format) {
        FILE *f = open_memstream(text, len);
        if (!f || cn_json_print(f, doc) || fclose(f)) {
            fprintf(stderr, "canary report: cannot format the JSON document\n");
            return CN_EXIT_SOFTWARE;
        }
        return 0;
    }
    cn_buf_t b;
    cn_buf_init(&b, CN_REPORT_MAX_BYTES);
    if (cn_report_html(doc, &b)) {
        fprintf(stderr, "canary report: the report is over %zu bytes\n",
                CN_REPORT_MAX_BYTES);
        cn_buf_dispose(&b);
        return CN_EXIT_SOFTWARE;
    }
    *text = cn_buf_take(&b, len);
    return 0;
}

int cn_cli_report(int argc, char **argv)
{
    /* "-o FILE" is the one short option: read as --output */
    char **args = cn_xcalloc((size_t)argc + 1, sizeof *args);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            free(args);
            return CN_EXIT_OK;
        }
        static char output_opt[] = "--output";
        args[i] = strcmp(argv[i], "-o") == 0 ? output_opt : argv[i];
    }
    cn_args_t a;
    int code = 0;
    if (cn_args_parse(&a, "report", argc - 1, args + 1, NULL)) {
        free(args);
        return CN_EXIT_USAGE;
    }
    const char *output = cn_args_str(&a, "output", "-");
    const char *format = cn_args_str(&a, "format", "html");
    const char *server = cn_args_str(&a, "server", NULL);
    const char *token_file = cn_args_str(&a, "token-file", NULL);
    bool json_format = strcmp(format, "json") == 0;
    if (cn_args_finish(&a)) {
        code = CN_EXIT_USAGE;
    } else if (a.npos != 1 || !id_ok(a.pos[0])) {
        fprintf(stderr, "canary report: needs one rollout ID (a number; try --help)\n");
        code = CN_EXIT_USAGE;
    } else if (!json_format && strcmp(format, "html") != 0) {
        fprintf(stderr, "canary report: --format must be html or json, got '%.40s'\n",
                format);
        code = CN_EXIT_USAGE;
    } else if (!*output) {
        fprintf(stderr, "canary report: -o needs a file name (or - for stdout)\n");
        code = CN_EXIT_USAGE;
    }
    if (code) {
        free(args);
        return code;
    }
    cn_client_t *c = cn_client_for(server, token_file, "report", &code);
    if (!c) {
        free(args);
        return code;
    }
    const char *id = a.pos[0];
    char path[3][64];
    snprintf(path[0], sizeof path[0], "/v1/rollouts/%s", id);
    snprintf(path[1], sizeof path[1], "/v1/rollouts/%s/history", id);
    snprintf(path[2], sizeof path[2], "/v1/rollouts/%s/analyses", id);
    json_t *answer[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && !code; i++)
        code = get_json(c, path[i], &answer[i]);
    json_t *history = NULL, *analyses = NULL;
    if (!code) {
        history = array_in(answer[1], "entries", path[1]);
        analyses = history ? array_in(answer[2], "analyses", path[2]) : NULL;
        if (!history || !analyses)
            code = CN_EXIT_SOFTWARE;
    }
    char *text = NULL;
    size_t len = 0;
    if (!code) {
        json_t *doc = cn_report_doc(answer[0], history, analyses, cn_client_server(c),
                                    cn_clock_unix_ms());
        code = render(doc, json_format, &text, &len);
        json_decref(doc);
    }
    if (!code) {
        if (strcmp(output, "-") == 0) {
            if (fwrite(text, 1, len, stdout) != len || fflush(stdout)) {
                fprintf(stderr, "canary report: cannot write to stdout: %s\n",
                        strerror(errno));
                code = CN_EXIT_IOERR;
            }
        } else if (write_atomic(output, text, len)) {
            code = CN_EXIT_CANTCREAT;
        }
    }
    free(text);
    for (int i = 0; i < 3; i++)
        json_decref(answer[i]);
    cn_client_free(c);
    free(args);
    return code;
}
