#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# canary loadgen on real processes:
#  1. bad flags and files: one line on stderr, the CLI's exit codes;
#  2. the rate: 2,000 requests/s for 10 s through `canary serve` to a
#     model server, held within 2% as the generator reports it and as the
#     model server saw it arrive (its own first and last arrival times);
#     every request answered; the segment proportions, as canary serve
#     counted them per segment, match the report and the asked shares;
#  3. bodies from a JSON Lines file (plain and wrapped lines, cycled), each
#     line's segment, and feedback (recorded and simulated per version)
#     posted in JSON Lines batches joined by the answers' X-Request-Id,
#     against a small local listener that records what it was sent;
#  4. a target slower than the rate: the pool is exhausted, the report says
#     so, and the latency from the intended time shows the queueing that
#     the service time does not (coordinated omission, corrected);
#  5. SIGINT: the schedule stops, the answers in flight are waited for, a
#     second SIGINT abandons them, and the report comes out;
#  6. a target that refuses connections, and no file descriptors left for
#     new ones: counted as connect errors, at the rate, and the run still
#     ends on time;
#  7. feedback end to end: canary serve's POST /v1/feedback accepts every
#     item once, joined to the version and segment that served it (GET
#     /v1/feedback): the simulated click rates per version, the recorded
#     revenue as sent.
. tests/integration/lib.sh
TOKEN=loadgen-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

echo "loadgen: 1. bad flags and files"
run "$CANARY" loadgen --rps 10 --duration 1s
expect_error 64 'loadgen: needs --target, --rps and --duration'
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 0 --duration 1s
expect_error 64 'loadgen: --rps must be in \(0, 1e\+06\], got 0'
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration ten
expect_error 64 "loadgen: --duration must be a duration such as 10s"
run "$CANARY" loadgen --target https://127.0.0.1:1 --rps 10 --duration 1s
expect_error 64 "loadgen: target 'https://127.0.0.1:1': expected http://HOST:PORT"
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --segments us=0.7,eu=0.2 \
    --segment-header X-Region
expect_error 64 'loadgen: --segments: the shares add up to 0.9, not 1'
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --segments us=1
expect_error 64 'loadgen: --segments needs --segment-header NAME'
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --simulate clicked=2 \
    --feedback http://127.0.0.1:1
expect_error 64 "loadgen: --simulate: clicked: the probability must be a number in \[0, 1\], got '2'"
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --simulate clicked=0.1
expect_error 64 'loadgen: --simulate and --feedback-delay need --feedback ADMIN_URL'
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --rate 5
expect_error 64 'loadgen: unknown option --rate'
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --bodies "$TMP/none.jsonl"
expect_error 66 "loadgen: --bodies: .*none\.jsonl: No such file or directory"
printf '{"inputs": [1]}\n\n{"body": {"inputs": [2]}, "segment": "eu", "feedback": {"label": "yes"}}\n' \
    >"$TMP/bad.jsonl"
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --bodies "$TMP/bad.jsonl"
expect_error 65 "loadgen: --bodies: .*bad\.jsonl:3: feedback metric 'label': expected a number"
printf '{"inputs": [1]}\n{"inputs": \n' >"$TMP/bad2.jsonl"
run "$CANARY" loadgen --target http://127.0.0.1:1 --rps 10 --duration 1s --bodies "$TMP/bad2.jsonl"
expect_error 65 "loadgen: --bodies: .*bad2\.jsonl:2: not JSON"

echo "loadgen: 2. 2,000 requests/s for 10 s, held within 2% at both ends; segments"
start_model m1
start_canary c1 --workers 1 --stable "$m1_ADDR" --stable-version v1 \
    --segment-header X-Region --segments us,eu,apac
export CANARY_SERVER="http://$c1_ADMIN"
# A pool as large as a second of the rate: on a loaded machine the target
# stalls now and then, and the schedule must not wait for it (a stall
# longer than the pool covers shows in the report as requests that waited
# for a connection, and lowers the rate sent).
run "$CANARY" loadgen --target "http://$c1_ADDR/v2/models/m/infer" --rps 2000 --duration 10s \
    --connections 2000 --body '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}' \
    --segments us=0.7,eu=0.2,apac=0.1 --segment-header X-Region --seed 7 --json
expect_ok
cp "$TMP/out" "$TMP/rate.json"
echo "  generator: $(jq -c '{achieved_rps, rate_error, latency_ms: .latency_ms.p99,
    send_lag_p99: .send_lag_ms.p99, connections: .connections.peak,
    waited: .connections.waited}' "$TMP/rate.json")"
json_eq '[.scheduled, .sent, .answered, .status["2xx"]]' '[20000,20000,20000,20000]'
json_eq '[.errors[]] | add' 0
json_close '.achieved_rps' 2000 0.02
json_eq '.versions' '{"v1":20000}'
# the model server's own count and arrival times
stats=$(http_json "http://$m1_ADDR/stats" .)
n=$(echo "$stats" | jq .requests)
[ "$n" -eq 20000 ] || die "the model server counted $n requests, not 20000"
seen=$(echo "$stats" | jq '(.requests - 1) * 1e9 / (.last_request_unix_ns - .first_request_unix_ns)')
echo "  model server: $n requests at $seen requests/s"
awk -v r="$seen" 'BEGIN { exit !(r >= 1960 && r <= 2040) }' ||
    die "the model server saw $seen requests/s, not 2000 within 2%"
# canary serve's count per segment: the report's, and the shares asked
curl -s -H "Authorization: Bearer $TOKEN" "http://$c1_ADMIN/metrics" >"$TMP/metrics"
for seg in us:0.7 eu:0.2 apac:0.1; do
    name=${seg%%:*}
    got=$(awk -v s="segment=\"$name\"" '/^canary_requests_total\{/ && index($0, s) { n += $NF }
        END { printf "%d", n }' "$TMP/metrics")
    want=$(jq ".segments.$name" "$TMP/rate.json")
    [ "$got" -eq "$want" ] || die "segment $name: canary serve counted $got, loadgen sent $want"
    in_binomial "$got" 20000 "${seg#*:}"
done
stop_canary c1

echo "loadgen: 3. bodies from a file, segments per line, feedback posted"
# A target that records each request's body and headers and answers with
# an X-Request-Id and an X-Model-Version (v1 and v2 in turn), and the
# feedback endpoint, which records each batch and answers counts the way
# canary serve's POST /v1/feedback does (ids it did not hand out are
# "unknown").
cat >"$TMP/listener.py" <<'PY'
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
lock = threading.Lock()
requests, batches, ids = [], [], set()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, code, body, extra=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        with lock: self.answer(200, {"requests": requests, "batches": batches})
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        if self.path == "/v1/feedback":
            lines = [json.loads(l) for l in body.split("\n") if l]
            with lock:
                batches.append({"auth": self.headers.get("Authorization"), "lines": lines})
                known = sum(1 for l in lines if l["request_id"] in ids)
            self.answer(200, {"accepted": known, "unknown": len(lines) - known, "expired": 0,
                              "duplicate": 0, "invalid": 0, "errors": []})
            return
        with lock:
            n = len(requests)
            # the client's id when it sent one, as canary serve's router does
            rid = self.headers.get("X-Request-Id") or "req-%d" % n
            ids.add(rid)
            requests.append({"body": body, "segment": self.headers.get("X-Region"), "id": rid,
                             "version": "v%d" % (n % 2 + 1)})
        self.answer(200, {"ok": True}, [("X-Request-Id", rid), ("X-Model-Version", "v%d" % (n % 2 + 1))])
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening on 127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
PY
start_bg lst python3 "$TMP/listener.py"
lst_ADDR=$(addr_of lst '^listening on')
cat >"$TMP/bodies.jsonl" <<'JSONL'
{"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [0.5]}]}
{"body": {"inputs": [1]}, "segment": "eu", "feedback": {"label": 1, "revenue": 12.5}}

{"body": "not json at all", "segment": "us"}
{"body": {"body": "a plain body that has a body key"}, "feedback": {"label": false}}
JSONL
run "$CANARY" loadgen --target "http://$lst_ADDR/infer?x=1" --rps 100 --duration 400ms \
    --bodies "$TMP/bodies.jsonl" --segments apac=1 --segment-header X-Region \
    --feedback "http://$lst_ADDR" --simulate 'clicked:v1=1,v2=0' --feedback-delay 100ms \
    --request-ids --json
expect_ok
cp "$TMP/out" "$TMP/bodies.json"
json_eq '[.sent, .status["2xx"]]' '[40,40]'
json_eq '.segments' '{"apac":20,"eu":10,"us":10}'
json_eq '.versions == {"v1":20,"v2":20}' true
json_eq '.feedback | [.queued, .posted, .accepted, .unknown, .failed_batches, .lost]' \
    '[40,40,40,0,0,0]'
# in the order sent: --request-ids numbers them (lg-RUN-i); they may
# arrive out of order on different connections
curl -s "http://$lst_ADDR/" |
    jq '.requests |= sort_by(.id | capture("^lg-[0-9a-f]{16}-(?<i>[0-9]+)$").i | tonumber)' \
        >"$TMP/seen.json"
jq -e '[.requests[].id | capture("-(?<i>[0-9]+)$").i | tonumber] == [range(40)]' \
    "$TMP/seen.json" >/dev/null || die "request ids: $(jq -c '[.requests[].id]' "$TMP/seen.json")"
# the bodies in order, cycled, each with its segment (the plain lines drew
# apac, the only share)
jq -c '[.requests[] | [.body, .segment]] | .[0:4]' "$TMP/seen.json" >"$TMP/got"
echo '[["{\"inputs\": [{\"name\": \"x\", \"shape\": [1], \"datatype\": \"FP32\", \"data\": [0.5]}]}","apac"],["{\"inputs\":[1]}","eu"],["not json at all","us"],["{\"body\":\"a plain body that has a body key\"}","apac"]]' >"$TMP/want"
cmp -s "$TMP/got" "$TMP/want" || die "bodies sent: $(cat "$TMP/got"), expected $(cat "$TMP/want")"
jq -e '[.requests[] | .body] | (.[0:4] == .[4:8]) and (.[0:4] == .[36:40])' "$TMP/seen.json" \
    >/dev/null || die "the bodies are not cycled in order"
# feedback: every answer's id once, with the token; each line's recorded
# metrics, and clicked 1 for v1 and 0 for v2
jq -e '[.batches[].auth] | unique == ["Bearer '"$TOKEN"'"]' "$TMP/seen.json" >/dev/null ||
    die "the feedback batches did not carry the token"
jq -e '([.batches[].lines[].request_id] | sort) == ([.requests[].id] | sort)' "$TMP/seen.json" \
    >/dev/null || die "the feedback's request ids are not the answers' ids"
jq -e '[.requests as $r | .batches[].lines[] | . as $l |
        ($r[] | select(.id == $l.request_id)) as $q |
        ($l.metrics.clicked == (if $q.version == "v1" then 1 else 0 end)) and
        (($l.metrics | del(.clicked)) ==
            (if $q.body == "{\"inputs\":[1]}" then {"label": 1, "revenue": 12.5}
             elif $q.body == "{\"body\":\"a plain body that has a body key\"}" then {"label": 0}
             else {} end))] | length == 40 and all' "$TMP/seen.json" >/dev/null ||
    die "feedback posted: $(jq -c '[.batches[].lines[]]' "$TMP/seen.json")"
# the text report says the same
run "$CANARY" loadgen --target "http://$lst_ADDR/infer" --rps 50 --duration 200ms --body '{}' \
    --feedback "http://$lst_ADDR" --simulate 'clicked=0.5'
expect_ok
grep -q '^feedback  10 queued, 10 posted in [0-9]* batches (0 failed, 0 items lost); server: accepted 10, unknown 0' \
    "$TMP/out" || die "text report: $(cat "$TMP/out")"

echo "loadgen: 4. a target slower than the rate: the pool is exhausted and says so"
# 4 connections to a model server that answers in 50 ms hold 80 requests/s;
# 100/s are asked. The open loop keeps its schedule: the requests that
# found every connection busy waited, and their latency from the intended
# time grows while the service time stays near 50 ms.
start_model slow 0.5 --delay-ms 50
run "$CANARY" loadgen --target "http://$slow_ADDR/v2/models/m/infer" --rps 100 --duration 2s \
    --connections 4 --body '{}' --json
expect_ok
json_eq '[.sent, .status["2xx"], .connections.peak, .connections.exhausted]' '[200,200,4,true]'
json_eq '.connections.waited > 50' true
json_eq '.latency_ms.max > 4 * .service_ms.p99 and .service_ms.p50 >= 50' true
run "$CANARY" loadgen --target "http://$slow_ADDR/v2/models/m/infer" --rps 100 --duration 1s \
    --connections 4 --body '{}'
expect_ok
grep -Eq '^          pool exhausted: [0-9]+ requests waited for a connection .* because all 4 were busy: the target fell behind the rate, not the generator$' \
    "$TMP/out" || die "the text report does not say the pool was exhausted: $(cat "$TMP/out")"

echo "loadgen: 5. SIGINT stops the schedule and reports; a second one ends the wait"
start_model stall 0.5 --delay-ms 20000
start_bg int "$CANARY" loadgen --target "http://$stall_ADDR/" --rps 100 --duration 60s --json
# signal it once it runs (its handlers are set before the first request)
i=0
until [ "$(curl -s "http://$stall_ADDR/stats" | jq .requests)" -gt 20 ]; do
    i=$((i + 1))
    [ $i -lt 200 ] || die "loadgen sent nothing: $(cat "$TMP/int.err")"
    sleep 0.05
done
kill -INT "$LAST_PID"
sleep 0.3
kill -INT "$LAST_PID"
rc=0
wait "$LAST_PID" || rc=$?
[ "$rc" -eq 0 ] || die "loadgen exited $rc after two SIGINTs: $(cat "$TMP/int.err")"
cp "$TMP/int.out" "$TMP/out"
json_eq '[.interrupted, .abandoned == .sent, .answered, .sent > 20, .sent < 500]' \
    '[true,true,0,true,true]'
json_eq '.elapsed_s < 5' true

echo "loadgen: 6. a target that refuses connections"
# a port that was just free: bind to 0 with the model server, stop it
start_model gone
kill "$gone_PID"
wait "$gone_PID" 2>/dev/null || true
run "$CANARY" loadgen --target "http://$gone_ADDR/" --rps 200 --duration 1s --json
expect_ok
json_eq '[.sent, .answered, .errors.connect]' '[200,0,200]'
json_close '.achieved_rps' 200 0.05
# no file descriptor left for a new connection: each connect fails at once,
# which is counted, not recursed on (this once overflowed the stack)
run sh -c 'ulimit -n 40 && exec "$0" loadgen --target "http://$1/" --rps 50000 --duration 1s \
    --connections 2000 --timeout 500ms --json' "$CANARY" "$stall_ADDR"
expect_ok
json_eq '[.sent, .errors.connect > 40000]' '[50000,true]'
echo "loadgen: 7. feedback joined end to end by canary serve"
# canary serve splits 50/50 between two versions, with segments and two fed
# metrics; loadgen sends bodies whose lines carry recorded revenue, and
# simulates clicks per version (v1 10%, v2 50%); POST /v1/feedback joins
# each to the version and segment that served it.
cat >"$TMP/fb.yaml" <<'YAML'
serve:
  workers: 1
  measure: {segment_header: X-Region, segments: [us, eu, apac]}
  feedback:
    metrics: {clicked: proportion, revenue: mean}
YAML
printf '%s\n' '{"body": {"inputs": [1]}, "feedback": {"revenue": 10}}' \
    '{"body": {"inputs": [2]}, "feedback": {"revenue": 20}}' >"$TMP/fb.jsonl"
start_model fs 0.5
start_model fc 0.5
start_canary f1 --config "$TMP/fb.yaml" --stable "$fs_ADDR" --stable-version v1 \
    --canary "$fc_ADDR" --canary-version v2 --canary-weight 50
run "$CANARY" loadgen --target "http://$f1_ADDR/v2/models/m/infer" --rps 300 --duration 2s \
    --bodies "$TMP/fb.jsonl" --segments us=0.4,eu=0.4,apac=0.2 --segment-header X-Region \
    --feedback "http://$f1_ADMIN" --simulate 'clicked:v1=0.1,v2=0.5' --feedback-delay 200ms \
    --json
expect_ok
cp "$TMP/out" "$TMP/fb.json"
json_eq '.feedback | [.queued, .posted, .accepted, .unknown, .expired, .duplicate, .invalid]' \
    '[600,600,600,0,0,0,0]'
json_eq '.feedback | [.failed_batches, .lost, .no_request_id, .not_2xx]' '[0,0,0,0]'
fed=$(http_json "http://$f1_ADMIN/v1/feedback" . -H "Authorization: Bearer $TOKEN")
echo "$fed" >"$TMP/fed.json"
jq -e '.items.accepted == 600' "$TMP/fed.json" >/dev/null ||
    die "canary serve counted: $(jq -c .items "$TMP/fed.json")"
# per version, the clicks joined: as many as loadgen's answers from it,
# and the rate near the simulated one
for v in v1:0.1 v2:0.5; do
    name=${v%%:*}
    n=$(jq "[.cells[] | select(.version == \"$name\") | .clicked.n] | add" "$TMP/fed.json")
    want=$(jq ".versions.$name" "$TMP/fb.json")
    [ "$n" -eq "$want" ] || die "$name: $n clicks joined, loadgen had $want answers from it"
    k=$(jq "[.cells[] | select(.version == \"$name\") | .clicked.value * .clicked.n] | add |
        round" "$TMP/fed.json")
    in_binomial "$k" "$n" "${v#*:}"
done
# the recorded revenue: 10 and 20 in turn, so 15 on average over every cell
jq -e '([.cells[] | .revenue.value * .revenue.n] | add) / ([.cells[] | .revenue.n] | add)
    | . > 14.999999 and . < 15.000001' "$TMP/fed.json" >/dev/null ||
    die "the recorded revenue did not arrive as sent: $(jq -c '[.cells[] | .revenue]' "$TMP/fed.json")"
jq -e '[.cells[].segment] | unique == ["apac", "eu", "us"]' "$TMP/fed.json" >/dev/null ||
    die "segments: $(jq -c '[.cells[] | [.version, .segment]]' "$TMP/fed.json")"
stop_canary f1
echo "loadgen: $NCHECK checks passed"
