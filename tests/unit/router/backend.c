/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Real upstreams for the router's tests (see backend.h). */
#include "backend.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const char test_model_request[] =
    "POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: 66\r\n\r\n"
    "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1]}]}";

void test_sleep_ms(unsigned ms)
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

void test_backend_start(test_backend_t *b, const char *name, const char *const *extra)
{
    char path[PATH_MAX + 16];
    model_server_path(path, sizeof path);
    char *argv[32] = {path, "--listen", "127.0.0.1:0", "--name", (char *)name};
    size_t argc = 5;
    for (size_t i = 0; extra && extra[i]; i++) {
        cr_assert_lt(argc + 1, sizeof argv / sizeof argv[0], "too many arguments");
        argv[argc++] = (char *)extra[i];
    }
    argv[argc] = NULL;
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
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

void test_backend_stop(test_backend_t *b)
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

int test_connect(const char *address)
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

int test_exchange(int fd, const char *request, char *body, size_t len)
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

long test_backend_requests(const test_backend_t *b)
{
    int fd = test_connect(b->address);
    cr_assert_geq(fd, 0, "connect %s", b->address);
    char body[512];
    int status =
        test_exchange(fd, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n", body, sizeof body);
    close(fd);
    cr_assert_eq(status, 200, "/stats of %s", b->address);
    const char *at = strstr(body, "\"requests\":");
    cr_assert_not_null(at, "%s", body);
    return atol(at + 11);
}
