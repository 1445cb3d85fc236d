/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Real upstreams for the router's tests: build/model-server processes (the
 * one next to the test binary: build/ or build-asan/), each on port 0, and
 * a plain blocking HTTP/1.1 client to talk to them or to the router. Used
 * by the swap, parity and per-address tests.
 */
#ifndef CN_TEST_ROUTER_BACKEND_H
#define CN_TEST_ROUTER_BACKEND_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct test_backend_s {
    pid_t pid;
    char address[64]; /* "127.0.0.1:PORT", as it printed */
    FILE *out;        /* its stdout, kept open: a closed pipe would kill it */
} test_backend_t;

void test_sleep_ms(unsigned ms);

/* Start one model server named `name` on 127.0.0.1:0 with the extra
 * arguments `extra` (NULL-terminated; NULL for none), and read the address
 * it listens on. Asserts on failure. */
void test_backend_start(test_backend_t *b, const char *name, const char *const *extra);

/* SIGTERM and reap it; a backend never started (pid 0) is a no-op. */
void test_backend_stop(test_backend_t *b);

/* A TCP connection to "127.0.0.1:PORT" (TCP_NODELAY), or -1 (errno). */
int test_connect(const char *address);

/*
 * Send one request on fd and read the whole response (Content-Length
 * framing; every response here has one). Returns the status, or -1 if the
 * connection failed. body (may be NULL) gets the body, NUL-terminated and
 * cut to len.
 */
int test_exchange(int fd, const char *request, char *body, size_t len);

/* A KServe v2 model request (keep-alive) the model server answers 200. */
extern const char test_model_request[];

/* The model requests a backend answered, from its own GET /stats. */
long test_backend_requests(const test_backend_t *b);

#endif
