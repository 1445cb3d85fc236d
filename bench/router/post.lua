-- SPDX-License-Identifier: GPL-3.0-or-later
-- wrk script for bench/router.sh: every request is a small KServe v2
-- inference POST, and done() prints one machine-readable RESULT line
-- (latencies in microseconds, from wrk's own histogram).
wrk.method = "POST"
wrk.path = "/v2/models/model/infer"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32",'
    .. '"data":[0.1,0.2,0.3,0.4]}]}'

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d "
            .. "max_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
        summary.requests, summary.duration, latency:percentile(50),
        latency:percentile(90), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
