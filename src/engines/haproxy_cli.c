/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * HAProxy's runtime API over its admin socket (haproxy_internal.h,
 * cn_haproxy__send): one connection per command, as HAProxy's
 * non-interactive mode works (it answers the line it read and closes),
 * so that each answer is exactly one command's and a failure names it.
 * Blocking, with a deadline for the connect and one for the whole answer
 * (poll(2) on a non-blocking socket): the engine runs off every event
 * loop. A connection costs some 50 us on a unix socket.
 */
#include "engines/haproxy_internal.h"
#include "util/addr.h"
#include "util/error.h"
#include "util/text.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on fd until deadline: 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)(left > 60000 ? 60000 : left));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int sock_fail(const cn_haproxy_config_t *cfg, const char *what, int e, char *err,
                     size_t errlen)
{
    char q[CN_TEXT_QUOTE_BUF(120)];
    return cn_fail(err, errlen, CN_EIO, "haproxy socket '%s': %s: %s",
                   cn_text_quote(cfg->socket, strlen(cfg->socket), 120, q), what,
                   e ? strerror(e) : "timed out");
}

static int connect_to(const cn_haproxy_config_t *cfg, int *out, char *err,
                      size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    memset(&ss, 0, sizeof ss);
    if (cfg->socket[0] == '/') {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        if (strlen(cfg->socket) >= sizeof un->sun_path)
            return sock_fail(cfg, "connect", ENAMETOOLONG, err, errlen);
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, cfg->socket, strlen(cfg->socket) + 1);
        len = (socklen_t)sizeof *un;
    } else {
        char rerr[256];
        if (cn_addr_resolve(cfg->socket, 0, &ss, &len, rerr, sizeof rerr))
            return cn_fail(err, errlen, CN_EIO, "haproxy socket: %s", rerr);
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return sock_fail(cfg, "socket", errno, err, errlen);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            int e = errno;
            close(fd);
            return sock_fail(cfg, "connect", e, err, errlen);
        }
        int r = wait_fd(fd, POLLOUT, now_ms() + (int64_t)cfg->connect_timeout_ms);
        int e = 0;
        socklen_t el = sizeof e;
        if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e) {
            e = r < 0 ? errno : e;
            close(fd);
            return sock_fail(cfg, "connect", r == 0 ? 0 : e, err, errlen);
        }
    }
    *out = fd;
    return 0;
}

int cn_haproxy__send(const cn_haproxy_config_t *cfg, const char *command,
                     cn_buf_t *answer, char *err, size_t errlen)
{
    cn_buf_reset(answer);
    int fd = -1;
    int rc = connect_to(cfg, &fd, err, errlen);
    if (rc)
        return rc;
    int64_t deadline = now_ms() + (int64_t)cfg->timeout_ms;
    char line[600];
    int n = snprintf(line, sizeof line, "%s\n", command);
    size_t off = 0, total = n > 0 && (size_t)n < sizeof line ? (size_t)n : 0;
    if (!total) {
        close(fd);
        return cn_fail(err, errlen, CN_EINVAL, "haproxy: command too long: %.80s...",
                       command);
    }
    while (off < total) {
        /* MSG_NOSIGNAL: a closed socket is an error, not a SIGPIPE */
        ssize_t w = send(fd, line + off, total - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            int e = errno;
            close(fd);
            return sock_fail(cfg, "write", e, err, errlen);
        }
        int r = wait_fd(fd, POLLOUT, deadline);
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            close(fd);
            return sock_fail(cfg, "write", e, err, errlen);
        }
    }
    char buf[16384];
    for (;;) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r > 0) {
            if (cn_buf_add(answer, buf, (size_t)r)) {
                close(fd);
                return cn_fail(err, errlen, CN_EIO,
                               "haproxy: '%.80s': answer longer than %zu bytes",
                               command, answer->max);
            }
            continue;
        }
        if (r == 0)
            break; /* HAProxy closes after its answer */
        if (errno != EAGAIN && errno != EINTR) {
            int e = errno;
            close(fd);
            return sock_fail(cfg, "read", e, err, errlen);
        }
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0) {
            int e = w < 0 ? errno : 0;
            close(fd);
            if (!e)
                return cn_fail(err, errlen, CN_EIO,
                               "haproxy: '%.80s': no whole answer within %llu ms",
                               command, (unsigned long long)cfg->timeout_ms);
            return sock_fail(cfg, "read", e, err, errlen);
        }
    }
    close(fd);
    if (!answer->data)
        cn_buf_str(answer, ""); /* an empty answer is still a string */
    return 0;
}
