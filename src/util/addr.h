/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Socket addresses as people write them: "host:port", "[v6]:port", ":port"
 * (every interface, to listen on) and "http://host:port" (an upstream).
 * Splitting and resolving them, and writing a socket address back
 * ("127.0.0.1:8080", "[::1]:8080"), the same way for the router's
 * listener and upstreams and the admin API.
 */
#ifndef CN_UTIL_ADDR_H
#define CN_UTIL_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Flags of cn_addr_split and cn_addr_resolve. */
enum {
    /* An address to listen on: an empty host (":8080", every interface)
     * and port 0 (any free port) are allowed. */
    CN_ADDR_LISTEN = 1 << 0,
    /* An "http://" prefix is allowed and dropped. */
    CN_ADDR_SCHEME = 1 << 1,
};

/* Bytes of the host buffer of cn_addr_split: a DNS name is at most 253. */
#define CN_ADDR_HOST_BUF 256

/* Bytes of a cn_addr_format buffer: "[" IPv6 "]:65535" and NUL. */
#define CN_ADDR_TEXT_BUF 64

/*
 * Split text into its host (without brackets; "" for an empty host) and
 * port. Syntax only: the host is not checked or resolved. The port is 1 to
 * 5 digits, at most 65535, and not 0 unless CN_ADDR_LISTEN. host holds
 * CN_ADDR_HOST_BUF bytes. Returns 0, or CN_EINVAL (nothing written).
 */
int cn_addr_split(const char *text, unsigned flags, char host[CN_ADDR_HOST_BUF],
                  uint16_t *port);

/*
 * Is text an upstream address as it may be published: cn_addr_split's
 * syntax (flags as there; CN_ADDR_LISTEN makes no sense here) with a host
 * that is an IPv6 literal in brackets, a dotted IPv4 address, or a name of
 * letters, digits, '.', '_' and '-' (container names may hold '_'). No
 * DNS. The one check of the router's publication, the controller's
 * validation, the registry and the admin API's codecs.
 */
bool cn_addr_upstream_ok(const char *text, unsigned flags);

/*
 * Split text (see cn_addr_split) and resolve it with getaddrinfo: a
 * numeric address, or a name (this may block on DNS: never call it on an
 * event loop). The first address wins; an empty host is the wildcard
 * (0.0.0.0). Returns 0 with *out and *len (may be NULL), or with one line
 * in err naming the address (the text is quoted safely), and CN_EINVAL:
 * "address 'TEXT': expected host:port or [ipv6]:port (port 1..65535)", or
 * "address 'TEXT': cannot resolve 'HOST': REASON".
 */
int cn_addr_resolve(const char *text, unsigned flags, struct sockaddr_storage *out,
                    socklen_t *len, char *err, size_t errlen);

/*
 * Write a socket address as "1.2.3.4:80" or "[::1]:80", or without the
 * port ("1.2.3.4", "::1") if !with_port; "?" for another family. len >=
 * CN_ADDR_TEXT_BUF. Returns buf.
 */
const char *cn_addr_format(const struct sockaddr *sa, bool with_port, char *buf,
                           size_t len);

#endif
