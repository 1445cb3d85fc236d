/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Address splitting, resolving and formatting (see addr.h).
 */
#include "util/addr.h"
#include "util/error.h"
#include "util/text.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cn_addr_split(const char *text, unsigned flags, char host[CN_ADDR_HOST_BUF],
                  uint16_t *port)
{
    const char *s = text;
    if ((flags & CN_ADDR_SCHEME) && strncmp(s, "http://", 7) == 0)
        s += 7;
    const char *h, *colon;
    size_t hn;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return CN_EINVAL;
        h = s + 1;
        hn = (size_t)(close - h);
        colon = close + 1;
        if (hn == 0)
            return CN_EINVAL;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return CN_EINVAL;
        h = s;
        hn = (size_t)(colon - s);
        /* More than one colon outside brackets: an IPv6 address without
         * them, whose port cannot be told apart. */
        if (memchr(h, ':', hn))
            return CN_EINVAL;
        if (hn == 0 && !(flags & CN_ADDR_LISTEN))
            return CN_EINVAL;
    }
    if (hn >= CN_ADDR_HOST_BUF || memchr(h, '\0', hn))
        return CN_EINVAL;
    const char *p = colon + 1;
    size_t nd = strspn(p, "0123456789");
    if (nd == 0 || nd > 5 || p[nd] != '\0')
        return CN_EINVAL;
    unsigned long v = strtoul(p, NULL, 10);
    if (v > 65535 || (v == 0 && !(flags & CN_ADDR_LISTEN)))
        return CN_EINVAL;
    memcpy(host, h, hn);
    host[hn] = '\0';
    *port = (uint16_t)v;
    return 0;
}

int cn_addr_resolve(const char *text, unsigned flags, struct sockaddr_storage *out,
                    socklen_t *len, char *err, size_t errlen)
{
    char quoted[CN_TEXT_QUOTE_BUF(80)];
    char host[CN_ADDR_HOST_BUF];
    uint16_t port;
    if (cn_addr_split(text, flags, host, &port)) {
        cn_text_quote(text, strlen(text), 80, quoted);
        snprintf(err, errlen, "address '%s': expected %s", quoted,
                 (flags & CN_ADDR_LISTEN)
                     ? "host:port, [ipv6]:port or :port (port 0..65535)"
                     : "host:port or [ipv6]:port (port 1..65535)");
        return CN_EINVAL;
    }
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    int rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (rc != 0 || !res) {
        char qhost[CN_TEXT_QUOTE_BUF(80)];
        cn_text_quote(text, strlen(text), 80, quoted);
        cn_text_quote(host, strlen(host), 80, qhost);
        snprintf(err, errlen, "address '%s': cannot resolve '%s': %s", quoted, qhost,
                 rc ? gai_strerror(rc) : "no address");
        if (res)
            freeaddrinfo(res);
        return CN_EINVAL;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, res->ai_addr, res->ai_addrlen);
    if (len)
        *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

const char *cn_addr_format(const struct sockaddr *sa, bool with_port, char *buf,
                           size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        if (with_port)
            snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
        else
            snprintf(buf, len, "%s", ip);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        if (with_port)
            snprintf(buf, len, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
        else
            snprintf(buf, len, "%s", ip);
    } else {
        snprintf(buf, len, "?");
    }
    return buf;
}

static bool is_host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
}

bool cn_addr_upstream_ok(const char *text, unsigned flags)
{
    char host[CN_ADDR_HOST_BUF];
    uint16_t port;
    if (!text || cn_addr_split(text, flags & ~(unsigned)CN_ADDR_LISTEN, host, &port) ||
        !host[0])
        return false;
    if (strchr(text, '[')) {
        struct in6_addr a6;
        return inet_pton(AF_INET6, host, &a6) == 1;
    }
    bool dotted = true;
    for (const char *p = host; *p; p++) {
        if (!is_host_char(*p))
            return false;
        dotted &= (*p >= '0' && *p <= '9') || *p == '.';
    }
    struct in_addr a4;
    return !dotted || inet_pton(AF_INET, host, &a4) == 1;
}
