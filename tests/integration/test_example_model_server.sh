#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The demo's models and their server (examples/model-server/):
#  0. tools/train_demo_models.py (Debian's python3-sklearn) regenerates the
#     committed models, replay file, golden rows and MODELS.md byte for byte;
#  1. bad flags and model files: one line on stderr, exit 2 or 1;
#  2. each version's answers equal sklearn's predict_proba for the golden
#     rows (examples/model-server/testdata/golden.json, written by
#     tools/train_demo_models.py) within 1e-9 relative: all rows in one
#     batched request, and rows one request each;
#  3. malformed, mistyped, incomplete and oversized requests: a 400 (413
#     for a body over the limit) with a one-line JSON error each, and the
#     server still answers afterwards; every server stops cleanly on
#     SIGTERM (exit 0, no sanitizer report when built with SAN=1);
#  4. behind canary serve, the replay file (examples/model-server/
#     replay.jsonl) as `canary loadgen --bodies`: every request answered,
#     every prediction read at the kserve-v2 pointer (/outputs/0/data/0),
#     every label joined as feedback in its segment.
. tests/integration/lib.sh
: "${EXAMPLE_MODEL_SERVER:=$(dirname "$MODEL_SERVER")/example-model-server}"
EX=examples/model-server
GOLDEN=$EX/testdata/golden.json
TOKEN=example-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

echo "example model server: 0. the training script regenerates the committed files"
/usr/bin/python3 tools/train_demo_models.py --out "$TMP/gen" >"$TMP/train.out" 2>&1 ||
    die "tools/train_demo_models.py failed: $(tail -n 5 "$TMP/train.out")"
for f in models/adult-v1.json models/adult-v2.json models/adult-v3.json replay.jsonl \
    testdata/golden.json MODELS.md; do
    cmp -s "$TMP/gen/$f" "$EX/$f" || die "$EX/$f differs from what the script writes now"
done

echo "example model server: 1. bad flags and model files"
run "$EXAMPLE_MODEL_SERVER" --listen 127.0.0.1:0
expect_error 2 'example-model-server: --model FILE is required'
run "$EXAMPLE_MODEL_SERVER" --model "$EX/models/adult-v1.json" --listen nowhere
expect_error 2 "example-model-server: --listen: address 'nowhere'"
run "$EXAMPLE_MODEL_SERVER" --model "$TMP/none.json"
expect_error 1 'example-model-server: .*none\.json: No such file or directory'
printf '{"format": ' >"$TMP/cut.json"
run "$EXAMPLE_MODEL_SERVER" --model "$TMP/cut.json"
expect_error 1 'example-model-server: .*cut\.json: line 1, column 11: '
jq '.features[0].scale = 0' "$EX/models/adult-v1.json" >"$TMP/scale.json"
run "$EXAMPLE_MODEL_SERVER" --model "$TMP/scale.json"
expect_error 1 'scale\.json: features\[0\]\.scale: expected a number > 0$'
jq '.features[1].weights |= .[1:]' "$EX/models/adult-v1.json" >"$TMP/weights.json"
run "$EXAMPLE_MODEL_SERVER" --model "$TMP/weights.json"
expect_error 1 'weights\.json: features\[1\]\.weights: expected an array of 9 numbers'
jq '.model_name = "a b"' "$EX/models/adult-v1.json" >"$TMP/name.json"
run "$EXAMPLE_MODEL_SERVER" --model "$TMP/name.json"
expect_error 1 "name\.json: model_name: expected a name of 1 to 64 letters"

# start_example NAME VERSION [MODEL_FILE]: NAME_PID, NAME_ADDR; the file
# is the version's in examples/model-server/models/ unless given
start_example() {
    se_n=$1
    se_v=$2
    start_bg "$se_n" "$EXAMPLE_MODEL_SERVER" --model "${3:-$EX/models/adult-$se_v.json}" \
        --listen 127.0.0.1:0
    eval "${se_n}_PID=$LAST_PID"
    eval "${se_n}_ADDR=$(addr_of "$se_n" '^listening on')"
    grep -qx "model adult-income version $se_v" "$TMP/$se_n.out" ||
        die "$se_n: $(cat "$TMP/$se_n.out")"
}

# max_rel_error ANSWER VERSION: the largest relative difference between the
# answer's outputs[0].data and the golden expected[VERSION]
max_rel_error() {
    jq -n --slurpfile a "$1" --slurpfile g "$GOLDEN" --arg v "$2" '
        $a[0].outputs[0].data as $got | $g[0].expected[$v] as $want |
        if ($got | length) != ($want | length) then "length \($got | length)"
        else [range($want | length) | ($got[.] - $want[.]) / $want[.] |
              if . < 0 then -. else . end] | max end'
}

echo "example model server: 2. the golden rows, as sklearn scores them"
rows=$(jq '.inputs[0].data | length' "$GOLDEN")
# the first 25 rows as single-row requests, one a line
jq -c '. as $g | range(25) as $i | {inputs: [$g.inputs[] | {name, datatype, shape: [1],
    data: [.data[$i]]}]}' "$GOLDEN" >"$TMP/rows.jsonl"
jq -c '{id: "golden", inputs: [.inputs[] | {name, datatype, shape: [.data | length], data}]}' \
    "$GOLDEN" >"$TMP/batch.json"
for v in v1 v2 v3; do
    start_example "m$v" "$v"
    eval "addr=\$m${v}_ADDR"
    http_json "http://$addr/v2/models/adult-income/infer" . -d @"$TMP/batch.json" \
        >"$TMP/answer.json"
    jq -e --arg v "$v" --argjson n "$rows" '.model_name == "adult-income" and
        .model_version == $v and .id == "golden" and (.outputs | length) == 1 and
        .outputs[0].name == "probability" and .outputs[0].shape == [$n] and
        .outputs[0].datatype == "FP64"' "$TMP/answer.json" >/dev/null ||
        die "$v: the answer's form: $(head -c 300 "$TMP/answer.json")"
    err=$(max_rel_error "$TMP/answer.json" "$v")
    echo "  $v: $rows rows in one request, largest relative error $err"
    awk -v e="$err" 'BEGIN { exit !(e + 0 == e && e <= 1e-9) }' ||
        die "$v: relative error $err over 1e-9"
    # one row per request, through the version path too: the same numbers
    : >"$TMP/single.txt"
    while IFS= read -r line; do
        printf '%s' "$line" >"$TMP/row.json"
        http_json "http://$addr/v2/models/adult-income/versions/$v/infer" \
            '.outputs[0].data[0]' -d @"$TMP/row.json" >>"$TMP/single.txt"
    done <"$TMP/rows.jsonl"
    jq -s '{outputs: [{data: .}]}' "$TMP/single.txt" >"$TMP/single.json"
    jq --arg v "$v" '.expected[$v] |= .[0:25]' "$GOLDEN" >"$TMP/golden25.json"
    err=$(GOLDEN=$TMP/golden25.json max_rel_error "$TMP/single.json" "$v")
    awk -v e="$err" 'BEGIN { exit !(e + 0 == e && e <= 1e-9) }' ||
        die "$v: one row per request: relative error $err over 1e-9"
done
stop_canary mv1
stop_canary mv2

echo "example model server: 3. bad requests get a one-line 400, the server lives on"
addr=$mv3_ADDR
url=http://$addr/v2/models/adult-income/infer
head -n 1 "$EX/replay.jsonl" | jq -c .body >"$TMP/good.json"
# bad CODE PATTERN JQ|-raw BODY: POST a body (jq applied to a good one, or
# the raw text); the answer must be CODE with a one-line error matching
bad() {
    if [ "$3" = -raw ]; then
        printf '%s' "$4" >"$TMP/bad.json"
    else
        jq -c "$3" "$TMP/good.json" >"$TMP/bad.json"
    fi
    code=$(curl -s -o "$TMP/bad.out" -w '%{http_code}' --data-binary @"$TMP/bad.json" "$url") ||
        die "no answer to $(head -c 200 "$TMP/bad.json")"
    [ "$code" = "$1" ] || die "expected $1, got $code: $(head -c 300 "$TMP/bad.out")"
    msg=$(jq -r .error "$TMP/bad.out") || die "not a JSON error: $(head -c 300 "$TMP/bad.out")"
    [ "$(printf '%s\n' "$msg" | wc -l)" -eq 1 ] || die "a message of several lines: $msg"
    printf '%s\n' "$msg" | grep -Eq -e "$2" || die "'$msg' does not match /$2/"
    NCHECK=$((NCHECK + 1))
}
bad 400 '^the body is not JSON \(line 1, column' -raw '{"inputs": ['
bad 400 '^the body is not JSON' -raw ''
bad 400 '^the body is not JSON' -raw "$(printf '{"id": "\377"}')"
bad 400 '^the body is not JSON' -raw '{"inputs": [], "inputs": []}'
bad 400 '^the body is not JSON' -raw '{"x": 1e999}'
bad 400 '^the body is not JSON' -raw "$(printf '%0.s[' $(seq 3000))"
bad 400 '^the body is an array, expected an object' -raw '[1, 2]'
bad 400 '^inputs: expected a non-empty array' -raw '{"inputs": {}}'
bad 400 '^inputs: expected a non-empty array' 'del(.inputs)'
bad 400 '^inputs\[0\]: expected an object, got a number' '.inputs[0] = 7'
bad 400 '^inputs\[2\]\.name: expected a string' '.inputs[2].name = 3'
bad 400 "^inputs\[12\]: 'colour' is not an input of model adult-income \(expected age, " \
    '.inputs += [{name: "colour", shape: [1], datatype: "BYTES", data: ["red"]}]'
bad 400 "^inputs\[12\]: input 'age' is given twice" '.inputs += [.inputs[0]]'
bad 400 "^missing input 'sex' \(model adult-income takes age, workclass" 'del(.inputs[7])'
bad 400 "^inputs\[0\] 'age': datatype: expected a string such as \"INT64\"" \
    'del(.inputs[0].datatype)'
bad 400 "^inputs\[0\] 'age': datatype 'BYTES': this input is a number" \
    '.inputs[0].datatype = "BYTES"'
bad 400 "^inputs\[1\] 'workclass': datatype 'FP32': this input is a category" \
    '.inputs[1].datatype = "FP32"'
bad 400 "^input 'age': data\[0\]: expected a number \(INT64\), got a string" \
    '.inputs[0].data = ["39"]'
bad 400 "^input 'age': data\[0\]: expected an integer \(INT64\)" '.inputs[0].data = [39.5]'
bad 400 "^input 'age': data\[0\]: 300 is out of the range of INT8" \
    '.inputs[0].datatype = "INT8" | .inputs[0].data = [300]'
bad 400 "^input 'age': data\[0\]: expected a number \(FP32\), got null" \
    '.inputs[0].datatype = "FP32" | .inputs[0].data = [null]'
bad 400 "^input 'capital_gain': data\[0\]: -5 is out of range \(expected > -1\)" \
    '.inputs[8].data = [-5]'
bad 400 "^input 'workclass': data\[0\]: expected a string \(BYTES\), got a number" \
    '.inputs[1].data = [3]'
bad 400 "^input 'workclass': data\[0\]: unknown category 'Pirate' \(the model knows 9: " \
    '.inputs[1].data = ["Pirate"]'
bad 400 "^input 'native_country': data\[0\]: unknown category 'x\?y' \(the model knows 42: .*\.\.\.\)$" \
    '.inputs[11].data = ["x\u0001y"]'
bad 400 "^inputs\[0\] 'age': shape: expected \[N\] or \[N, 1\]" '.inputs[0].shape = [0]'
bad 400 "^inputs\[0\] 'age': shape: expected \[N\] or \[N, 1\]" '.inputs[0].shape = [1, 2]'
bad 400 "^inputs\[0\] 'age': shape: expected \[N\] or \[N, 1\]" '.inputs[0].shape = "1"'
bad 400 "^input 'age': data\[0\]: expected a number \(INT64\), got an array" \
    '.inputs[0].data = [[39]]'
bad 400 "^inputs\[0\] 'age': data: expected a flat array of 2 values" '.inputs[0].shape = [2]'
bad 400 "^inputs\[1\] 'workclass': 2 rows, but the inputs before it have 1" \
    '.inputs[1].shape = [2] | .inputs[1].data = ["Private", "Private"]'
bad 400 '^id: expected a string, got a number' '.id = 5'
bad 400 '^outputs\[0\]\.name: expected "probability"' '.outputs = [{name: "score"}]'
# over the body limit (1 MiB): the HTTP layer answers 413
head -c 1100000 /dev/zero | tr '\0' ' ' >"$TMP/big.txt"
bad 413 'body' -raw "{\"inputs\": [], \"pad\": \"$(cat "$TMP/big.txt")\"}"
# a good request still gets its answer, and the other paths work
http_json "$url" '.outputs[0].data[0]' -d @"$TMP/good.json" >/dev/null
ready=$(http_json "http://$addr/v2/health/ready" .ready)
[ "$ready" = true ] || die "/v2/health/ready: $ready"
meta=$(http_json "http://$addr/v2/models/adult-income" '[.versions[0], (.inputs | length)]')
[ "$meta" = '["v3",12]' ] || die "metadata: $meta"
code=$(curl -s -o "$TMP/nf.out" -w '%{http_code}' -d @"$TMP/good.json" \
    "http://$addr/v2/models/other/infer")
[ "$code" = 404 ] || die "another model's name: $code"
grep -q "model 'other' is not served here (this server serves 'adult-income')" "$TMP/nf.out" ||
    die "another model's name: $(cat "$TMP/nf.out")"
code=$(curl -s -o "$TMP/nf.out" -w '%{http_code}' -d @"$TMP/good.json" \
    "http://$addr/v2/models/adult-income/versions/v1/infer")
[ "$code" = 404 ] || die "another version: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url")
[ "$code" = 405 ] || die "GET .../infer: $code"
[ "$(curl -s "http://$addr/healthz")" = ok ] || die "/healthz"
stop_canary mv3
# a model whose sum can be inf - inf: no score, a 400
jq '.features[0].scale = 1e-300 | .features[10].scale = 1e-300' "$EX/models/adult-v1.json" \
    >"$TMP/tiny.json"
start_example tiny v1 "$TMP/tiny.json"
url=http://$tiny_ADDR/v2/models/adult-income/infer
bad 400 '^row 0: the inputs are too large to score' \
    '.inputs[0].data = [10000000000] | .inputs[10].data = [-10000000000]'
stop_canary tiny

echo "example model server: 4. the replay file through canary serve, with its labels"
cat >"$TMP/serve.yaml" <<'YAML'
serve:
  workers: 1
  measure:
    segment_header: X-Segment
    segments: [private, self-employed, government, other]
  feedback:
    metrics: {label: label}
YAML
start_example s1 v1
start_example s3 v3
start_canary c1 --config "$TMP/serve.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --canary "$s3_ADDR" --canary-version v3 --canary-weight 50
run "$CANARY" loadgen --target "http://$c1_ADDR/v2/models/adult-income/infer" --rps 500 \
    --duration 4s --bodies "$EX/replay.jsonl" --segment-header X-Segment \
    --feedback "http://$c1_ADMIN" --json
expect_ok
cp "$TMP/out" "$TMP/lg.json"
json_eq '[.sent, .answered, .status["2xx"]]' '[2000,2000,2000]'
json_eq '.feedback | [.queued, .posted, .accepted, .unknown, .invalid, .not_2xx]' \
    '[2000,2000,2000,0,0,0]'
want=$(jq -r .segment "$EX/replay.jsonl" | sort | uniq -c | awk '{print $2 ":" $1}' | sort |
    paste -sd, -)
got=$(jq -r '.segments | to_entries | map("\(.key):\(.value)") | sort | join(",")' "$TMP/lg.json")
[ "$got" = "$want" ] || die "segments sent: $got, the file's: $want"
curl -s -H "Authorization: Bearer $TOKEN" "http://$c1_ADMIN/metrics" >"$TMP/metrics"
if grep -E '^canary_prediction_errors_total' "$TMP/metrics" | awk '$NF > 0' | grep -q .; then
    die "predictions not read: $(grep -E '^canary_prediction_errors_total' "$TMP/metrics")"
fi
fed=$(http_json "http://$c1_ADMIN/v1/feedback" . -H "Authorization: Bearer $TOKEN")
echo "$fed" >"$TMP/fed.json"
# every label joined to a prediction, in a cell of its version and segment
jq -e '[.cells[] | [.version, .segment]] | sort == [["v1","government"],["v1","other"],
    ["v1","private"],["v1","self-employed"],["v3","government"],["v3","other"],
    ["v3","private"],["v3","self-employed"]]' "$TMP/fed.json" >/dev/null ||
    die "cells: $(jq -c '[.cells[] | [.version, .segment]]' "$TMP/fed.json")"

jq -e '[.cells[].label.n] | add == 2000' "$TMP/fed.json" >/dev/null ||
    die "labels joined: $(jq -c '[.cells[].label.n]' "$TMP/fed.json")"
if grep -E '^canary_feedback_values_dropped_total' "$TMP/metrics" | awk '$NF > 0' | grep -q .; then
    die "feedback dropped: $(grep -E '^canary_feedback_values_dropped_total' "$TMP/metrics")"
fi
# v3's damage shows in the government segment: its mean score there is
# about 0.57 against v1's 0.31 (on the whole held-out file; each arm gets
# a random half of the file's 264 government rows, so the means are many
# standard errors apart), and the log loss rises (printed, not asserted:
# at n = 130 a half may, rarely, hide it)
mean_score() {
    awk -v v="version=\"$1\"" -v s='segment="government"' '
        /^canary_prediction_sum\{/ && index($0, v) && index($0, s) { sum = $NF }
        /^canary_prediction_count\{/ && index($0, v) && index($0, s) { n = $NF }
        END { if (n > 0) printf "%.4f", sum / n; else print "none" }' "$TMP/metrics"
}
gov() { jq ".cells[] | select(.version == \"$1\" and .segment == \"government\") | $2" \
    "$TMP/fed.json"; }
m1=$(mean_score v1)
m3=$(mean_score v3)
echo "  government: mean score v1 $m1, v3 $m3; log loss v1 $(gov v1 .log_loss.value)" \
    "(n $(gov v1 .log_loss.n)), v3 $(gov v3 .log_loss.value) (n $(gov v3 .log_loss.n))"
awk -v a="$m1" -v b="$m3" 'BEGIN { exit !(a > 0.2 && a < 0.4 && b > 0.45 && b < 0.7) }' ||
    die "government mean scores: v1 $m1 (expected about 0.31), v3 $m3 (about 0.57)"
stop_canary c1
stop_canary s1
stop_canary s3
