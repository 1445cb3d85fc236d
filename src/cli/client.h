/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The admin API's client for the command line (libcurl): the commands
 * that talk to a running `canary serve` (`canary model ...`, `canary
 * rollout ...`) build on it.
 *
 * Where and who: the server is --server URL, else $CANARY_SERVER, else
 * http://127.0.0.1:8081 (serve's default admin address); the token is the
 * file named by --token-file, else $CANARY_TOKEN. A request without a
 * token is still sent (GET /healthz needs none); the server's 401 then
 * says what to do.
 *
 * Failures become one line on stderr and a sysexits(3) code that scripts
 * can act on (cn_client_exit_code): the server unreachable 69
 * (EX_UNAVAILABLE), a refused token 77 (EX_NOPERM), a conflict such as a
 * manual change during a rollout 75 (EX_TEMPFAIL: retry later or
 * override), any other 4xx 65 (EX_DATAERR: the request was wrong), a 5xx
 * 70 (EX_SOFTWARE).
 *
 * Limits: a response body is read up to CN_CLIENT_MAX_RESPONSE_BYTES; a
 * request takes at most CN_CLIENT_TIMEOUT_MS (connecting at most
 * CN_CLIENT_CONNECT_TIMEOUT_MS). Not thread-safe: one client per thread.
 */
#ifndef CN_CLI_CLIENT_H
#define CN_CLI_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CN_CLIENT_DEFAULT_SERVER "http://127.0.0.1:8081"
#define CN_CLIENT_MAX_RESPONSE_BYTES ((size_t)64 << 20)
#define CN_CLIENT_TIMEOUT_MS 30000L
#define CN_CLIENT_CONNECT_TIMEOUT_MS 5000L

enum {
    CN_CLIENT_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE */
    CN_CLIENT_EXIT_TEMPFAIL = 75,    /* EX_TEMPFAIL: 409 */
    CN_CLIENT_EXIT_NOPERM = 77       /* EX_NOPERM: 401 */
};

typedef struct cn_client_s cn_client_t;

/* One answer: the HTTP status and the body (owned, NUL-terminated). */
typedef struct cn_client_response_s {
    long status;
    char *body;
    size_t body_len;
} cn_client_response_t;

void cn_client_response_dispose(cn_client_response_t *r);

/*
 * A client for server (NULL: $CANARY_SERVER, else the default) with the
 * token of token_file (NULL: $CANARY_TOKEN, else none). The server must be
 * an http:// URL without a path, e.g. "http://10.0.0.5:8081". Returns 0,
 * or CN_EINVAL (a bad URL; a token file that is empty or several lines) /
 * CN_EIO (an unreadable token file) with one line in err.
 */
int cn_client_new(const char *server, const char *token_file, cn_client_t **out,
                  char *err, size_t errlen);
void cn_client_free(cn_client_t *c);

/* s percent-encoded for a path segment or a query value (every byte but
 * the unreserved A-Z a-z 0-9 - _ . ~), for the caller to free: a name is
 * the server's to check, and a '/' or '&' in it must not change the
 * request. */
char *cn_client_escape(const char *s);

/* The server's base URL, as used. */
const char *cn_client_server(const cn_client_t *c);

/*
 * Send METHOD path (starting with '/') with an optional JSON body (NULL:
 * none) and read the answer into *res (disposed by the caller, also after
 * an error). Returns 0 when the server answered, whatever the status;
 * CN_EIO when it could not be reached or the exchange failed (err says
 * why, naming the server); CN_ETOOBIG for a body over the limit.
 */
int cn_client_call(cn_client_t *c, const char *method, const char *path,
                   const char *json_body, cn_client_response_t *res, char *err,
                   size_t errlen);

/*
 * The exit code and one line for a failed exchange or a non-2xx answer,
 * written to stderr as "canary PROG: ..." (the server's {"error": ...}
 * message when it sent one). call_rc is cn_client_call's return. Returns 0
 * for a 2xx answer (and prints nothing).
 */
int cn_client_report(const cn_client_t *c, const char *prog, int call_rc,
                     const char *call_err, const cn_client_response_t *res);

/*
 * What every client command does: a client for server and token_file
 * (NULL: the environment), or NULL after printing "canary PROG: ..." with
 * the exit code in *code (66 unreadable token file, 64 otherwise).
 */
cn_client_t *cn_client_for(const char *server, const char *token_file, const char *prog,
                           int *code);

/*
 * One call, reported: the body (NULL: none) is sent as compact JSON; a
 * failure is reported by cn_client_report; on a 2xx answer *answer is the
 * parsed body (NULL if it is not JSON; the caller decrefs it), and the
 * body is printed to stdout as it came when print_raw or when it is not
 * JSON. Returns the exit code (0 on a 2xx).
 */
int cn_client_exchange(cn_client_t *c, const char *prog, const char *method,
                       const char *path, const json_t *body, bool print_raw,
                       json_t **answer);

#endif
