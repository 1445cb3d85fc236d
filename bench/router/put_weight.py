#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Set canary's weight and time it from inside the client (bench/router.sh).

put_weight.py HOST:PORT TOKEN WEIGHT

Opens the connection to the admin API first, then sends PUT /v1/traffic
{"canary_weight": WEIGHT} and reads the whole response. Prints
"T0 T1 STATUS STEP": CLOCK_REALTIME nanoseconds just before the first byte of
the request is sent and just after the last byte of the response arrived,
the HTTP status, and the "step" of the traffic object in the response body
(the measurement step this PUT opened; "-" if there is none). On a
busy machine starting a process (curl) takes tens of milliseconds, which
`date +%s%N; curl ...; date +%s%N` would count; this does not.
Standard library only.
"""
import json
import socket
import sys
import time


def main():
    addr, token, weight = sys.argv[1], sys.argv[2], sys.argv[3]
    host, port = addr.rsplit(":", 1)
    body = '{"canary_weight":%s}' % weight
    request = (
        "PUT /v1/traffic HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
        "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
        % (addr, token, len(body), body)
    ).encode()
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.clock_gettime_ns(time.CLOCK_REALTIME)
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            sys.exit("put_weight.py: connection closed before the response head")
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
            sys.exit("put_weight.py: connection closed before the response body")
        rest += chunk
    t1 = time.clock_gettime_ns(time.CLOCK_REALTIME)
    sock.close()
    step = "-"
    try:
        step = json.loads(rest[:length].decode()).get("step", "-")
    except (ValueError, AttributeError):
        pass
    print(t0, t1, status, step)


if __name__ == "__main__":
    main()
