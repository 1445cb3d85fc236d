/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * idle-conns: the client side of the idle-connection memory benchmark
 * (bench/router.sh). It opens N keep-alive TCP connections to HOST:PORT,
 * sends one small request on each and reads the whole response, so that
 * every connection has been through the proxy's request path once (buffers
 * a proxy allocates lazily are allocated), then holds them all idle for S
 * seconds, or until SIGTERM/SIGINT, while the benchmark reads the proxy's
 * memory.
 *
 *   idle-conns [--count N] [--hold-s S] [--concurrency C] [--timeout-s T]
 *              [--method M] [--path P] [--body B] HOST:PORT
 *
 * Output (stdout, flushed): "open K" once every connection has either been
 * answered or failed, K being the number answered with a 2xx that are still
 * open; then, at the end, "held K closed_by_peer D". Failures are counted
 * by kind on stderr ("failed F: connect A, reset B, timeout C, status D");
 * the exit status is 1 if any connection failed or was closed by the peer,
 * else 0.
 *
 * One thread, non-blocking sockets on epoll; at most C connects are in
 * flight at once so that the listener's accept queue does not overflow.
 * RLIMIT_NOFILE is raised to its hard limit. Sockets are closed with an RST
 * at the end (SO_LINGER 0), so that a run leaves no TIME_WAIT behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

typedef enum state_e {
    STATE_CONNECTING = 0,
    STATE_READING = 1, /* request sent, waiting for the whole response */
    STATE_IDLE = 2,    /* answered; held open */
    STATE_CLOSED = 3,
} state_t;

typedef enum failure_e {
    FAIL_CONNECT = 0,
    FAIL_RESET = 1, /* reset or closed before a whole response */
    FAIL_TIMEOUT = 2,
    FAIL_STATUS = 3, /* answered, but not 2xx */
    FAIL_COUNT = 4,
} failure_t;

typedef struct conn_s {
    int fd;
    state_t state;
    bool complete; /* the parser saw the end of the response */
    http_parser parser;
} conn_t;

typedef struct options_s {
    unsigned count;
    double hold_s;
    unsigned concurrency;
    double timeout_s;
    const char *method;
    const char *path;
    const char *body;
    const char *target;
} options_t;

static options_t opt = {
    .count = 10000,
    .hold_s = 60,
    .concurrency = 256,
    .timeout_s = 60,
    .method = "POST",
    .path = "/v2/models/model/infer",
    .body = "{\"inputs\":[{\"name\":\"x\",\"shape\":[1,4],\"datatype\":\"FP32\","
            "\"data\":[0.1,0.2,0.3,0.4]}]}",
    .target = NULL,
};

static volatile sig_atomic_t stop_requested;
static char request[4096];
static size_t request_len;
static uint64_t failures[FAIL_COUNT];

static void fatal(const char *fmt, ...)
{
    va_list ap;
    fputs("idle-conns: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void on_signal(int signum)
{
    (void)signum;
    stop_requested = 1;
}

static int on_message_complete(http_parser *p)
{
    conn_t *c = p->data;
    c->complete = true;
    http_parser_pause(p, 1); /* nothing more is expected on it */
    return 0;
}

static http_parser_settings settings = {.on_message_complete = on_message_complete};

/* Close with an RST: no TIME_WAIT left behind by a benchmark. */
static void close_reset(conn_t *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(c->fd);
    c->fd = -1;
    c->state = STATE_CLOSED;
}

static void fail(conn_t *c, failure_t why)
{
    failures[why]++;
    close_reset(c);
}

static void parse_target(const char *text, struct sockaddr_in *addr)
{
    const char *colon = strrchr(text, ':');
    if (!colon)
        fatal("expected HOST:PORT, got '%s'", text);
    char host[64];
    size_t len = (size_t)(colon - text);
    if (len == 0 || len >= sizeof host)
        fatal("expected a numeric IPv4 HOST:PORT, got '%s'", text);
    memcpy(host, text, len);
    host[len] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (*end || port < 1 || port > 65535 ||
        inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        fatal("expected a numeric IPv4 HOST:PORT, got '%s'", text);
}

static double parse_number(const char *flag, const char *text, double min, double max)
{
    char *end;
    double v = strtod(text, &end);
    if (end == text || *end || !(v >= min && v <= max))
        fatal("%s: expected a number from %g to %g, got '%s'", flag, min, max, text);
    return v;
}

static void parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"count", required_argument, NULL, 'n'},
        {"hold-s", required_argument, NULL, 's'},
        {"concurrency", required_argument, NULL, 'c'},
        {"timeout-s", required_argument, NULL, 't'},
        {"method", required_argument, NULL, 'm'},
        {"path", required_argument, NULL, 'p'},
        {"body", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            opt.count = (unsigned)parse_number("--count", optarg, 1, 1000000);
            break;
        case 's':
            opt.hold_s = parse_number("--hold-s", optarg, 0, 86400);
            break;
        case 'c':
            opt.concurrency =
                (unsigned)parse_number("--concurrency", optarg, 1, 100000);
            break;
        case 't':
            opt.timeout_s = parse_number("--timeout-s", optarg, 0.001, 86400);
            break;
        case 'm':
            opt.method = optarg;
            break;
        case 'p':
            opt.path = optarg;
            break;
        case 'b':
            opt.body = optarg;
            break;
        case 'h':
            puts(
                "usage: idle-conns [--count N] [--hold-s S] [--concurrency C]\n"
                "                  [--timeout-s T] [--method M] [--path P] [--body B]\n"
                "                  HOST:PORT\n"
                "Opens N keep-alive connections (default 10000), sends one request\n"
                "on each, prints \"open K\", holds them S seconds (default 60) or\n"
                "until SIGTERM, prints \"held K closed_by_peer D\".");
            exit(0);
        default:
            exit(2);
        }
    }
    if (optind + 1 != argc)
        fatal("expected one HOST:PORT argument (see --help)");
    opt.target = argv[optind];

    bool has_body = strcmp(opt.method, "GET") != 0 && strcmp(opt.method, "HEAD") != 0;
    int n;
    if (has_body)
        n = snprintf(request, sizeof request,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: idle-conns\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     opt.method, opt.path, opt.target, strlen(opt.body), opt.body);
    else
        n = snprintf(request, sizeof request,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: idle-conns\r\n\r\n",
                     opt.method, opt.path, opt.target);
    if (n < 0 || (size_t)n >= sizeof request)
        fatal("the request is longer than %zu bytes", sizeof request - 1);
    request_len = (size_t)n;
}

static void raise_fd_limit(unsigned need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        fatal("getrlimit: %s", strerror(errno));
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        fatal("setrlimit: %s", strerror(errno));
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need + 16)
        fatal("--count %u needs %u file descriptors, the hard limit is %llu", need,
              need + 16, (unsigned long long)rl.rlim_cur);
}

/* Start a non-blocking connect for c. Returns false if it failed at once. */
static bool start_connect(int ep, conn_t *c, const struct sockaddr_in *addr)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        failures[FAIL_CONNECT]++;
        c->state = STATE_CLOSED;
        return false;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    c->complete = false;
    c->state = STATE_CONNECTING;
    if (connect(c->fd, (const struct sockaddr *)addr, sizeof *addr) != 0 &&
        errno != EINPROGRESS) {
        fail(c, FAIL_CONNECT);
        return false;
    }
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        fail(c, FAIL_CONNECT);
        return false;
    }
    return true;
}

/* Handle an event on a connection in the opening phase. Returns true when
 * the connection has left it (answered or failed). */
static bool step(int ep, conn_t *c, uint32_t events)
{
    if (c->state == STATE_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (events & EPOLLERR)) {
            fail(c, FAIL_CONNECT);
            return true;
        }
        /* The request is small: one send fits in an empty socket buffer. */
        ssize_t n = send(c->fd, request, request_len, MSG_NOSIGNAL);
        if (n != (ssize_t)request_len) {
            fail(c, FAIL_RESET);
            return true;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->state = STATE_READING;
        return false;
    }
    char buf[16384];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        if (n <= 0) {
            fail(c, FAIL_RESET);
            return true;
        }
        http_parser_execute(&c->parser, &settings, buf, (size_t)n);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e != HPE_OK && e != HPE_PAUSED) {
            fail(c, FAIL_RESET);
            return true;
        }
        if (c->complete) {
            unsigned status = c->parser.status_code;
            if (status < 200 || status > 299 || !http_should_keep_alive(&c->parser)) {
                fail(c, FAIL_STATUS);
                return true;
            }
            /* Held idle from now on: only a close by the peer wakes us. */
            struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            c->state = STATE_IDLE;
            return true;
        }
    }
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    raise_fd_limit(opt.count);
    struct sockaddr_in addr;
    parse_target(opt.target, &addr);

    /* SIGTERM/SIGINT are delivered only inside epoll_pwait, so a signal
     * cannot slip in between the check of the flag and the wait. */
    sigset_t block, wait_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &wait_mask);
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    conn_t *conns = calloc(opt.count, sizeof *conns);
    if (!conns)
        fatal("out of memory");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        fatal("epoll_create1: %s", strerror(errno));

    enum { MAX_EVENTS = 512 };
    struct epoll_event events[MAX_EVENTS];
    unsigned next = 0, in_flight = 0, finished = 0;
    double deadline = now_s() + opt.timeout_s;
    while (finished < opt.count && !stop_requested) {
        while (next < opt.count && in_flight < opt.concurrency) {
            if (start_connect(ep, &conns[next++], &addr))
                in_flight++;
            else
                finished++;
        }
        double left = deadline - now_s();
        if (left <= 0)
            break;
        int n = epoll_pwait(ep, events, MAX_EVENTS, (int)(left * 1000) + 1, &wait_mask);
        if (n < 0 && errno != EINTR)
            fatal("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c->state == STATE_IDLE || c->state == STATE_CLOSED)
                continue;
            if (step(ep, c, events[i].events)) {
                in_flight--;
                finished++;
            }
        }
    }
    /* Whatever has not finished by the deadline timed out. */
    for (unsigned i = 0; i < opt.count; i++) {
        conn_t *c = &conns[i];
        if (i >= next) {
            failures[FAIL_TIMEOUT]++;
        } else if (c->state == STATE_CONNECTING || c->state == STATE_READING) {
            fail(c, FAIL_TIMEOUT);
        }
    }

    unsigned open = 0;
    for (unsigned i = 0; i < opt.count; i++)
        open += conns[i].state == STATE_IDLE;
    uint64_t failed = 0;
    for (int k = 0; k < FAIL_COUNT; k++)
        failed += failures[k];
    printf("open %u\n", open);
    fflush(stdout);
    if (failed)
        fprintf(stderr,
                "idle-conns: failed %" PRIu64 ": connect %" PRIu64 ", reset %" PRIu64
                ", timeout %" PRIu64 ", status %" PRIu64 "\n",
                failed, failures[FAIL_CONNECT], failures[FAIL_RESET],
                failures[FAIL_TIMEOUT], failures[FAIL_STATUS]);

    /* Hold. */
    unsigned closed_by_peer = 0;
    double hold_end = now_s() + opt.hold_s;
    while (!stop_requested) {
        double left = hold_end - now_s();
        if (left <= 0)
            break;
        int n = epoll_pwait(ep, events, MAX_EVENTS, (int)(left * 1000) + 1, &wait_mask);
        if (n < 0 && errno != EINTR)
            fatal("epoll_wait: %s", strerror(errno));
        for (int i = 0; i < n; i++) {
            conn_t *c = events[i].data.ptr;
            if (c->state != STATE_IDLE)
                continue;
            closed_by_peer++;
            close_reset(c);
        }
    }
    unsigned held = 0;
    for (unsigned i = 0; i < opt.count; i++) {
        if (conns[i].state == STATE_IDLE) {
            held++;
            close_reset(&conns[i]);
        }
    }
    printf("held %u closed_by_peer %u\n", held, closed_by_peer);
    fflush(stdout);
    close(ep);
    free(conns);
    return failed || closed_by_peer ? 1 : 0;
}
