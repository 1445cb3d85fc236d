#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small webhook receiver for the notification tests (test_notify.sh).

Usage: webhook_receiver.py DIR [PORT]

Listens on 127.0.0.1:PORT (0: any free port) and prints
"listening on 127.0.0.1:N". Each POST is appended to DIR/requests.jsonl as
one JSON object: path, the X-Canary-* headers and the body (text). The
answer is read from DIR/mode at each request: a status code ("200",
"503"), or "sleep N" (wait N seconds, then 200: a hook that times out).
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DIR = sys.argv[1]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
LOCK = threading.Lock()


def mode():
    try:
        with open(os.path.join(DIR, "mode")) as f:
            return f.read().strip() or "200"
    except OSError:
        return "200"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode("utf-8")
        m = mode()
        status = 200
        if m.startswith("sleep"):
            time.sleep(float(m.split()[1]))
        else:
            status = int(m)
        with LOCK:
            with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
                f.write(json.dumps({
                    "path": self.path,
                    "received_unix_ms": int(time.time() * 1000),
                    "status": status,
                    "event_id": self.headers.get("X-Canary-Event-Id"),
                    "event": self.headers.get("X-Canary-Event"),
                    "signature": self.headers.get("X-Canary-Signature"),
                    "attempt": self.headers.get("X-Canary-Delivery-Attempt"),
                    "content_type": self.headers.get("Content-Type"),
                    "body": body,
                }) + "\n")
        out = b'{"ok":true}' if status < 300 else b'{"ok":false}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, fmt, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
server.daemon_threads = True
print("listening on 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
