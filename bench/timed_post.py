#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""POST to the admin API and time it from inside the client (bench/rollout.sh).

timed_post.py HOST:PORT TOKEN PATH BODY

Opens the connection first, then sends POST PATH with BODY and reads the
whole response. Prints "T0 T1 STATUS": CLOCK_REALTIME nanoseconds just
before the first byte of the request is sent and just after the last byte
of the response arrived, and the HTTP status. Like bench/router/put_weight.py
(which times PUT /v1/traffic), so that starting a process (curl) is not
counted. Standard library only.
"""
import socket
import sys
import time


def main():
    addr, token, path, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    host, port = addr.rsplit(":", 1)
    request = (
        "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (path, addr, token, len(body), body)
    ).encode()
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.clock_gettime_ns(time.CLOCK_REALTIME)
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("timed_post.py: connection closed before the response head")
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("timed_post.py: connection closed before the response body")
        rest += chunk
    t1 = time.clock_gettime_ns(time.CLOCK_REALTIME)
    sock.close()
    print(t0, t1, status)


if __name__ == "__main__":
    main()
