#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A synthetic Prometheus exporter for the scale benchmark (bench/scale.sh).

It stands for the model servers of N models with two versions each, as
their own /metrics would show them: per (model, version) a request
counter, an error counter and a classic latency histogram. The counts are
a deterministic function of the time since start (RATE requests/s per
version, latency log-normal around 20 ms, 0.5% errors), so every scrape is
cheap and consistent. It is synthetic traffic, not a model: what the
benchmark measures is the controller's cost (queries, analyses, memory)
and its reaction time, not a model's.

  GET /metrics                 the exposition
  GET /fault?model=m7&errors=0.3
                               from now on, m7's canary fails 30% of its
                               requests (the trigger the benchmark times)
  GET /versions?model=m7&stable=v1&canary=v2
                               the version labels a model's series carry
"""
import http.server
import math
import sys
import threading
import time
import urllib.parse

N = int(sys.argv[2]) if len(sys.argv) > 2 else 100
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0
RATE = float(sys.argv[3]) if len(sys.argv) > 3 else 20.0
BOUNDS = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28]
START = time.time()
LOCK = threading.Lock()
# per model: {"stable": "v1", "canary": "v2", "fault_at": t, "errors": x}
MODELS = {f"m{i}": {"labels": ["v1", "v2"], "fault_at": None, "errors": 0.0}
          for i in range(N)}


def cdf(x, mu=math.log(0.02), sigma=0.5):
    return 0.5 * (1 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2))))


def series(out, model, version, role, now):
    m = MODELS[model]
    n = int(RATE * (now - START))
    base_err = 0.005
    errors = int(n * base_err)
    if role == 1 and m["fault_at"] is not None and now > m["fault_at"]:
        errors += int(RATE * (now - m["fault_at"]) * m["errors"])
    lab = f'model="{model}",version="{version}"'
    out.append(f"bench_requests_total{{{lab}}} {n}")
    out.append(f"bench_errors_total{{{lab}}} {min(errors, n)}")
    for b in BOUNDS:
        out.append(f'bench_latency_seconds_bucket{{{lab},le="{b}"}} {int(n * cdf(b))}')
    out.append(f'bench_latency_seconds_bucket{{{lab},le="+Inf"}} {n}')
    out.append(f"bench_latency_seconds_count{{{lab}}} {n}")
    out.append(f"bench_latency_seconds_sum{{{lab}}} {n * 0.0227:.3f}")


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, body, ctype="text/plain; version=0.0.4"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/metrics":
            now = time.time()
            out = ["# TYPE bench_requests_total counter",
                   "# TYPE bench_errors_total counter",
                   "# TYPE bench_latency_seconds histogram"]
            with LOCK:
                for model, m in MODELS.items():
                    for role, version in enumerate(m["labels"]):
                        series(out, model, version, role, now)
            self.reply(200, "\n".join(out) + "\n")
        elif url.path == "/fault" and q.get("model") in MODELS:
            with LOCK:
                MODELS[q["model"]]["fault_at"] = time.time()
                MODELS[q["model"]]["errors"] = float(q.get("errors", "0.3"))
            self.reply(200, "ok\n")
        elif url.path == "/versions" and q.get("model") in MODELS:
            with LOCK:
                MODELS[q["model"]]["labels"] = [q.get("stable", "v1"),
                                                q.get("canary", "v2")]
            self.reply(200, "ok\n")
        else:
            self.reply(404, "not found\n")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"exporter on 127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
