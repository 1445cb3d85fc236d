/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Version swaps under load, on real backends: four build/model-server
 * processes (the one next to this test binary), a router with two workers,
 * four client threads sending keep-alive requests the whole time, and 20
 * publications that move the canary to the other canary backend, each
 * followed by one that moves the stable. After each publication returns,
 * the backend that left must receive no new request: its own request count
 * (GET /stats), read 200 ms after the publication and again 1 s later under
 * load, must not grow. And no client sees an error.
 *
 * A request decided before a publication may still reach the old address
 * just after it (it keeps its generation); the first read, 200 ms later,
 * is after any such request has long been answered.
 *
 * And the stop that ends it: cn_router_free right after a snapshot, with
 * the router's hook widening the window in which a worker still finishing
 * the snapshot's call could stop and close its loop before cn_router_free
 * had sent it its own wake (libuv then aborted the process: the swap
 * test's rare SIGABRT).
 */
#include "router/internal.h"
#include "router/router.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define BACKENDS 4
#define CLIENTS 4
#define SWAPS 20

typedef struct backend_s {
    pid_t pid;
    char address[64];
    FILE *out; /* its stdout, kept open: a closed pipe would kill it */
} backend_t;

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The model server built next to this test binary (build/ or build-asan/). */
static void model_server_path(char *out, size_t len)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0, "readlink /proc/self/exe: %s", strerror(errno));
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    *slash = '\0';
    int w = snprintf(out, len, "%.*s/model-server", (int)(len - 16), self);
    cr_assert(w > 0 && (size_t)w < len);
    cr_assert_eq(access(out, X_OK), 0, "%s: %s (make it first)", out, strerror(errno));
}

/* Start one model server on port 0 and read its "listening on ADDR". */
static void backend_start(backend_t *b, const char *path, const char *name)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {(char *)path, "--listen",   "127.0.0.1:0",
                    "--name",     (char *)name, NULL};
    int rc = posix_spawn(&b->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    cr_assert_eq(rc, 0, "spawn %s: %s", path, strerror(rc));
    FILE *f = fdopen(fds[0], "r");
    char line[256];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "listening on %63s", b->address) == 1;
    b->out = f;
    cr_assert(found, "%s printed no address", name);
}

static void backend_stop(backend_t *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        waitpid(b->pid, NULL, 0);
        b->pid = 0;
    }
    if (b->out)
        fclose(b->out);
    b->out = NULL;
}

static int connect_to(const char *address)
{
    char host[64];
    snprintf(host, sizeof host, "%s", address);
    char *colon = strrchr(host, ':');
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, host, &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/*
 * Send one request on fd and read the whole response (Content-Length
 * framing; every response here has one). Returns the status, or -1 if the
 * connection failed. body gets the body (NUL-terminated, cut to len).
 */
static int exchange(int fd, const char *request, char *body, size_t len)
{
    size_t n = strlen(request);
    if (send(fd, request, n, MSG_NOSIGNAL) != (ssize_t)n)
        return -1;
    char buf[16384];
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got == sizeof buf - 1)
            return -1;
        ssize_t k = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
        return -1;
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    size_t clen = cl ? strtoul(cl + 17, NULL, 10) : 0;
    size_t head = (size_t)(end + 4 - buf);
    if (head + clen > sizeof buf - 1)
        return -1;
    while (got < head + clen) {
        ssize_t k = recv(fd, buf + got, head + clen - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    if (body) {
        size_t b = clen < len - 1 ? clen : len - 1;
        memcpy(body, buf + head, b);
        body[b] = '\0';
    }
    return status;
}

/* Requests the model server answered, from its own counter. */
static long backend_requests(const backend_t *b)
{
    int fd = connect_to(b->address);
    cr_assert_geq(fd, 0, "connect %s", b->address);
    char body[512];
    int status =
        exchange(fd, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body);
    close(fd);
    cr_assert_eq(status, 200, "/stats of %s", b->address);
    const char *at = strstr(body, "\"requests\":");
    cr_assert_not_null(at, "%s", body);
    return atol(at + 11);
}

typedef struct load_s {
    const char *address;
    atomic_bool stop;
    atomic_long ok, errors;
    char first_error[200];
    pthread_mutex_t mu;
} load_t;

static void note_error(load_t *l, const char *what, int code)
{
    atomic_fetch_add(&l->errors, 1);
    pthread_mutex_lock(&l->mu);
    if (!l->first_error[0])
        snprintf(l->first_error, sizeof l->first_error, "%s: %d (%s) after %ld ok",
                 what, code, code > 0 && code < 200 ? strerror(code) : "",
                 atomic_load(&l->ok));
    pthread_mutex_unlock(&l->mu);
}

static void *client_main(void *arg)
{
    load_t *l = arg;
    static const char req[] = "POST /v2/models/m/infer HTTP/1.1\r\nHost: "
                              "x\r\nContent-Type: application/json\r\n"
                              "Content-Length: 66\r\n\r\n"
                              "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":"
                              "\"FP32\",\"data\":[1]}]}";
    int fd = -1;
    while (!atomic_load(&l->stop)) {
        if (fd < 0 && (fd = connect_to(l->address)) < 0) {
            note_error(l, "connect", errno);
            sleep_ms(10);
            continue;
        }
        char body[256];
        errno = 0;
        int status = exchange(fd, req, body, sizeof body);
        if (status == 200) {
            atomic_fetch_add(&l->ok, 1);
            continue;
        }
        note_error(l, status < 0 ? "exchange" : body, status < 0 ? errno : status);
        close(fd);
        fd = -1;
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

/* Publish the current generation with one role's set moved to `to`,
 * labelled `version`. */
static void move_role(cn_router_t *r, cn_role_t role, const backend_t *to,
                      const char *version)
{
    cn_generation_t g;
    cn_generation_init(&g);
    cn_router_current(r, &g, NULL);
    g.number++;
    cn_version_set_dispose(&g.sets[role]);
    cn_version_set_init(&g.sets[role], version);
    cn_version_set_add(&g.sets[role], to->address);
    char err[300];
    cr_assert_eq(cn_router_publish(r, &g, err, sizeof err), 0, "%s", err);
    cn_generation_dispose(&g);
}

/*
 * Everything the test starts lives here, not on the test's stack, and
 * teardown() (.fini) stops it in order: the clients, then the router, then
 * the backends. A failed assertion ends the test body with a longjmp; the
 * client threads and the router's worker and health threads would
 * otherwise keep running on the body's dead frame (the config, the load
 * counters) and crash the test process, leaving the backends orphaned.
 */
static backend_t b[BACKENDS];
static cn_router_config_t cfg;
static bool cfg_ready;
static cn_router_t *router;
static load_t load = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_t clients[CLIENTS];
static int nclients;

static void stop_clients(void)
{
    atomic_store(&load.stop, true);
    for (int i = 0; i < nclients; i++)
        pthread_join(clients[i], NULL);
    nclients = 0;
}

static void teardown(void)
{
    stop_clients();
    cn_router_free(router);
    router = NULL;
    if (cfg_ready)
        cn_router_config_dispose(&cfg);
    cfg_ready = false;
    for (int i = 0; i < BACKENDS; i++)
        backend_stop(&b[i]);
}

Test(swap, under_load_no_request_reaches_an_address_that_left, .timeout = 600,
     .fini = teardown)
{
    signal(SIGPIPE, SIG_IGN); /* as canary serve does (router.h) */
    char path[PATH_MAX + 16];
    model_server_path(path, sizeof path);
    const char *names[BACKENDS] = {"s1", "s2", "c1", "c2"};
    for (int i = 0; i < BACKENDS; i++)
        backend_start(&b[i], path, names[i]);

    cn_router_config_init(&cfg);
    cfg_ready = true;
    char err[300];
    const char *flags[][2] = {{"listen", "127.0.0.1:0"},  {"workers", "2"},
                              {"stable", b[0].address},   {"canary", b[2].address},
                              {"canary-weight", "30"},    {"health-interval", "200ms"},
                              {"health-timeout", "100ms"}};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        cr_assert_eq(
            cn_router_config_set_flag(&cfg, flags[i][0], flags[i][1], err, sizeof err),
            0, "%s", err);
    cr_assert_eq(cn_router_config_validate(&cfg, err, sizeof err), 0, "%s", err);
    cr_assert_eq(cn_router_new(&cfg, &router, err, sizeof err), 0, "%s", err);
    cn_router_t *r = router;
    cr_assert_eq(cn_router_start(r, err, sizeof err), 0, "%s", err);

    load.address = cn_router_listen_address(r);
    for (int i = 0; i < CLIENTS; i++) {
        cr_assert_eq(pthread_create(&clients[i], NULL, client_main, &load), 0);
        nclients++;
    }
    sleep_ms(300);

    int stable = 0, canary = 2; /* indices of the current backends */
    for (int k = 0; k < SWAPS; k++) {
        for (int role = CN_ROLE_CANARY; role >= CN_ROLE_STABLE; role--) {
            int *cur = role == CN_ROLE_CANARY ? &canary : &stable;
            int from = *cur, to = from ^ 1;
            long served_before = atomic_load(&load.ok);
            /* a new canary label every time: more labels than a shard
             * has key slots, so old ones are reused under load */
            char version[32];
            snprintf(version, sizeof version, "%s-%d",
                     role == CN_ROLE_CANARY ? "canary" : "stable", k);
            move_role(r, (cn_role_t)role, &b[to], version);
            *cur = to;
            sleep_ms(200);
            long c1 = backend_requests(&b[from]);
            sleep_ms(1000);
            long c2 = backend_requests(&b[from]);
            cr_assert_eq(c2, c1,
                         "swap %d (%s): %s got %ld requests after it left the set "
                         "(1 s, under load)",
                         k, role == CN_ROLE_CANARY ? "canary" : "stable",
                         b[from].address, c2 - c1);
            cr_assert_gt(atomic_load(&load.ok), served_before, "the load kept flowing");
        }
    }
    stop_clients();
    cr_assert_eq(atomic_load(&load.errors), 0, "client errors: %ld (first: %s)",
                 atomic_load(&load.errors), load.first_error);
    cr_assert_gt(atomic_load(&load.ok), 1000);
    fprintf(stderr, "swap: %d publications under load, %ld requests, 0 client errors\n",
            2 * SWAPS, atomic_load(&load.ok));
    /* the new backends answered, so the swaps did move traffic */
    for (int i = 0; i < BACKENDS; i++)
        cr_assert_gt(backend_requests(&b[i]), 0, "%s got nothing", names[i]);

    cn_router_snapshot_t *s = cn_router_snapshot(r, CN_ROUTER_SNAP_COUNTERS);
    uint64_t generation = s->generation;
    cn_router_snapshot_free(s);
    cr_assert_eq(generation, 1 + 2 * SWAPS);
}

static void stop_race_reset(void)
{
    cn_router__test_stop_race_ms = 0;
}

/* Snapshot, then free at once: every worker is still inside the
 * snapshot's wake (the hook holds it there 100 ms) when cn_router_free
 * sets `stopping`, and cn_router_free waits 100 ms before each wake it
 * sends. A worker that stopped on seeing `stopping` alone would close its
 * loop before the second wake reaches it, and uv_async_send would abort
 * the test process. */
Test(swap, free_right_after_a_snapshot_wakes_no_closed_loop, .fini = stop_race_reset)
{
    for (int round = 0; round < 3; round++) {
        cn_router_config_t c;
        cn_router_config_init(&c);
        char err[300];
        const char *flags[][2] = {
            {"listen", "127.0.0.1:0"}, {"workers", "2"}, {"stable", "127.0.0.1:9"}};
        for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
            cr_assert_eq(cn_router_config_set_flag(&c, flags[i][0], flags[i][1], err,
                                                   sizeof err),
                         0, "%s", err);
        cr_assert_eq(cn_router_config_validate(&c, err, sizeof err), 0, "%s", err);
        cn_router_t *r;
        cr_assert_eq(cn_router_new(&c, &r, err, sizeof err), 0, "%s", err);
        cr_assert_eq(cn_router_start(r, err, sizeof err), 0, "%s", err);
        cn_router__test_stop_race_ms = 100;
        cn_router_snapshot_t *s = cn_router_snapshot(r, CN_ROUTER_SNAP_COUNTERS);
        cn_router_snapshot_free(s);
        cn_router_free(r);
        cn_router__test_stop_race_ms = 0;
        cn_router_config_dispose(&c);
    }
}
