#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Slow readers (issue 13's probe): N clients (200) each POST one KServe v2
request for a large answer (run build/model-server --pad-bytes 4194304
behind the proxy) with a 4 KiB receive buffer, and never read. Prints the
proxy's VmRSS (kB) before, at its peak and at the end of HOLD seconds (10)
while they hang, and 2 s after they all close.

    bench/slow_readers.py PROXY_PID HOST PORT [N] [HOLD]
"""
import socket, sys, time

def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

pid, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
n = int(sys.argv[4]) if len(sys.argv) > 4 else 200
hold = float(sys.argv[5]) if len(sys.argv) > 5 else 10
before = rss(pid)
socks = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect((host, port))
    s.sendall(b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
    socks.append(s)
peak = before
t0 = time.time()
while time.time() - t0 < hold:
    peak = max(peak, rss(pid))
    time.sleep(0.2)
during = rss(pid)
for s in socks:
    s.close()
time.sleep(2)
after = rss(pid)
print(f"rss_kb before={before} peak={peak} during={during} after_close={after}")
