/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Address splitting, resolving (numeric only: no dependence on the
 * resolver's configuration) and formatting. */
#include "util/addr.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

Test(addr, splits_host_and_port)
{
    char host[CN_ADDR_HOST_BUF];
    uint16_t port;
    cr_assert_eq(cn_addr_split("127.0.0.1:8080", 0, host, &port), 0);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 8080);
    cr_assert_eq(cn_addr_split("[::1]:65535", 0, host, &port), 0);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 65535);
    cr_assert_eq(cn_addr_split("model-v2_a.local:1", 0, host, &port), 0);
    cr_assert_str_eq(host, "model-v2_a.local");
    cr_assert_eq(cn_addr_split("http://10.0.0.1:9001", CN_ADDR_SCHEME, host, &port), 0);
    cr_assert_str_eq(host, "10.0.0.1");
    cr_assert_eq(port, 9001);
    cr_assert_eq(cn_addr_split(":8080", CN_ADDR_LISTEN, host, &port), 0);
    cr_assert_str_eq(host, "");
    cr_assert_eq(cn_addr_split("127.0.0.1:0", CN_ADDR_LISTEN, host, &port), 0);
    cr_assert_eq(port, 0);
}

Test(addr, refuses_malformed_addresses)
{
    const char *bad[] = {"127.0.0.1",   "127.0.0.1:",        ":8080",
                         "127.0.0.1:0", "1.2.3.4:65536",     "1.2.3.4:123456",
                         "1.2.3.4:+80", "1.2.3.4: 80",       "1.2.3.4:80x",
                         "::1:80",      "[::1]80",           "[::1:80",
                         "[]:80",       "http://1.2.3.4:80", ""};
    char host[CN_ADDR_HOST_BUF] = "untouched";
    uint16_t port = 7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(cn_addr_split(bad[i], 0, host, &port), CN_EINVAL, "'%s'", bad[i]);
    cr_assert_str_eq(host, "untouched");
    cr_assert_eq(port, 7);
    char longname[300];
    memset(longname, 'a', sizeof longname);
    strcpy(longname + 280, ":80");
    cr_assert_eq(cn_addr_split(longname, 0, host, &port), CN_EINVAL, "a host over 255");
}

Test(addr, resolves_numeric_addresses)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[256] = "";
    cr_assert_eq(cn_addr_resolve("127.0.0.1:8080", 0, &ss, &len, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(ss.ss_family, AF_INET);
    cr_assert_eq(len, sizeof(struct sockaddr_in));
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    cr_assert_eq(ntohs(in->sin_port), 8080);
    cr_assert_eq(ntohl(in->sin_addr.s_addr), 0x7f000001);
    cr_assert_eq(cn_addr_resolve("[::1]:9", 0, &ss, &len, err, sizeof err), 0, "%s",
                 err);
    cr_assert_eq(ss.ss_family, AF_INET6);
    cr_assert_eq(ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port), 9);
    cr_assert_eq(cn_addr_resolve(":0", CN_ADDR_LISTEN, &ss, NULL, err, sizeof err), 0,
                 "%s", err);
    cr_assert_eq(ss.ss_family, AF_INET, "the empty host is the IPv4 wildcard");
    cr_assert_eq(in->sin_addr.s_addr, htonl(INADDR_ANY));
}

Test(addr, errors_name_the_address)
{
    struct sockaddr_storage ss;
    char err[256];
    cr_assert_eq(cn_addr_resolve("1.2.3.4:99999", 0, &ss, NULL, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "address '1.2.3.4:99999': expected host:port or [ipv6]:port "
                          "(port 1..65535)");
    cr_assert_eq(cn_addr_resolve("1.2.3.4", CN_ADDR_LISTEN, &ss, NULL, err, sizeof err),
                 CN_EINVAL);
    cr_assert_str_eq(err, "address '1.2.3.4': expected host:port, [ipv6]:port or :port "
                          "(port 0..65535)");
    cr_assert_eq(cn_addr_resolve("x\n:1", 0, &ss, NULL, err, sizeof err), CN_EINVAL);
    cr_assert(strchr(err, '\n') == NULL, "control bytes are quoted: %s", err);
    /* A numeric host that is not an address cannot resolve, whatever the
     * resolver's configuration (.invalid names are never resolved either). */
    cr_assert_eq(cn_addr_resolve("[1::2::3]:80", 0, &ss, NULL, err, sizeof err),
                 CN_EINVAL);
    cr_assert(strstr(err, "address '[1::2::3]:80': cannot resolve '1::2::3': ") == err,
              "%s", err);
}

Test(addr, formats_socket_addresses)
{
    char buf[CN_ADDR_TEXT_BUF];
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
    cr_assert_str_eq(cn_addr_format((struct sockaddr *)&in, true, buf, sizeof buf),
                     "10.1.2.3:8080");
    cr_assert_str_eq(cn_addr_format((struct sockaddr *)&in, false, buf, sizeof buf),
                     "10.1.2.3");
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(65535)};
    inet_pton(AF_INET6, "2001:db8::ffff:1.2.3.4", &in6.sin6_addr);
    cr_assert_str_eq(cn_addr_format((struct sockaddr *)&in6, true, buf, sizeof buf),
                     "[2001:db8::ffff:102:304]:65535");
    cr_assert_str_eq(cn_addr_format((struct sockaddr *)&in6, false, buf, sizeof buf),
                     "2001:db8::ffff:102:304");
    struct sockaddr un = {.sa_family = AF_UNIX};
    cr_assert_str_eq(cn_addr_format(&un, true, buf, sizeof buf), "?");
}

/* The one upstream check (router, controller, registry, admin API). */
Test(addr, an_upstream_has_a_real_host_and_port)
{
    static const char *const good[] = {"127.0.0.1:80", "[::1]:9001",
                                       "model-a.internal:80", "svc_b:8080",
                                       "10.0.0.1:65535"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(cn_addr_upstream_ok(good[i], 0), "%s", good[i]);
    static const char *const bad[] = {"127.0.0.1",    "127.0.0.1:0",  "127.0.0.1:65536",
                                      "300.1.1.1:80", "[nothost]:80", "host name:80",
                                      ":80",          "a:1:2",        ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(cn_addr_upstream_ok(bad[i], 0), "%s", bad[i]);
    cr_assert_not(cn_addr_upstream_ok(NULL, 0));
    cr_assert_not(cn_addr_upstream_ok("http://127.0.0.1:80", 0));
    cr_assert(cn_addr_upstream_ok("http://127.0.0.1:80", CN_ADDR_SCHEME));
    cr_assert(cn_addr_upstream_ok("http://[::1]:80", CN_ADDR_SCHEME));
}
