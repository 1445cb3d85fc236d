#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The `canary analyze` contract: the exit code is the verdict (0 pass,
# 1 fail, 2 marginal), the JSON keys, the text table, the look options, and
# for every class of bad config, data or usage one stderr line naming the
# file, line and key or column, with a sysexits code and no stdout.
# (Whether verdicts are statistically right is tested by the judge's unit
# tests and simulations; here only one gross failure is checked end to end.)
. tests/integration/lib.sh

# ---- inputs ----------------------------------------------------------

# Identical arms, 4000 samples each: latency 10..109 ms, no errors (a rate
# floor with a 1-point margin, powered to fail at 2 points, is ~2,300).
awk 'BEGIN {
    print "version,metric,value,segment"
    for (i = 0; i < 4000; i++) {
        seg = (i % 2) ? "eu" : "us"
        printf "stable,latency_ms,%d,%s\n", 10 + i % 100, seg
        printf "canary,latency_ms,%d,%s\n", 10 + (i * 7) % 100, seg
        printf "stable,error,0,%s\ncanary,error,0,%s\n", seg, seg
    }
}' >"$TMP/same.csv"

cat >"$TMP/good.yaml" <<'EOF'
alpha: 0.05
metrics:
  - name: latency_ms
    test: mann-whitney
    margin: 10%
  - name: error
    test: proportion
    margin: 0.01
EOF

# The gross failure of the issue: 50% errors against 1%, 50 per arm.
awk 'BEGIN {
    print "version,metric,value"
    for (i = 0; i < 50; i++) {
        printf "stable,error,%d\n", (i == 25)
        printf "canary,error,%d\n", (i % 2)
    }
}' >"$TMP/gross.csv"
cat >"$TMP/errors.yaml" <<'EOF'
metrics:
  - name: error
    test: proportion
    margin: 0.005
EOF

# ---- a good config and data: exit code and JSON keys -----------------

run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" --json
[ -s "$TMP/err" ] && die "stderr on success: $(cat "$TMP/err")"
json_eq .verdict '"pass"'
[ "$RC" -eq 0 ] || die "a pass must exit 0, got $RC"
json_eq 'keys' '["alpha_fail","alpha_pass","information_fraction","metrics","previous_fraction","reason","score","verdict"]'
json_close .score 100
json_close .information_fraction 1
json_eq '.metrics | length' 2
json_eq '.metrics[0] | keys' '["adjusted_pvalue","adjusted_pvalue_harm","adjusted_pvalue_noninf","canary","ci","classification","effect","margin","min_samples","n_canary","n_stable","name","pairs","pvalue","pvalue_harm","pvalue_noninf","reason","segment","stable","test"]'
json_eq '.metrics[0].name' '"latency_ms"'
json_eq '.metrics[0].segment' 'null'
json_eq '.metrics[0].test' '"mann-whitney"'
json_eq '.metrics[0].classification' '"pass"'
json_eq '.metrics[0].n_canary' 4000
json_eq '.metrics[0].n_stable' 4000
json_eq '.metrics[0].ci | length' 2
json_eq '.metrics[0].canary | keys' '["mean","median","n","p95","p99"]'
json_close '.metrics[0].canary.mean' 59.5
json_close '.metrics[0].stable.median' 59.5
json_eq '.metrics[1].name' '"error"'
json_eq '.metrics[1].test' '"proportion"'
json_eq '[.metrics[] | .reason | type]' '["string","string"]'

# with segment_by, each segment gets its own row after the aggregate
printf 'segment_by: segment\n' >"$TMP/seg.yaml"
cat "$TMP/good.yaml" >>"$TMP/seg.yaml"
run "$CANARY" analyze --config "$TMP/seg.yaml" --data "$TMP/same.csv" --json
expect_ok
json_eq '[.metrics[] | .name]' '["latency_ms","latency_ms","latency_ms","error","error","error"]'
json_eq '[.metrics[] | .segment][0]' 'null'
json_eq '[.metrics[] | .segment][3]' 'null'
json_eq '[.metrics[] | select(.name == "latency_ms") | .segment] | sort' '[null,"eu","us"]'
json_eq '[.metrics[] | .n_canary]' '[4000,2000,2000,4000,2000,2000]'

# the same spec as the analysis: section of a service config, data on stdin
{ printf 'listen: 0.0.0.0:8080\nanalysis:\n'; sed 's/^/  /' "$TMP/good.yaml"; } >"$TMP/service.yaml"
run sh -c "'$CANARY' analyze --config '$TMP/service.yaml' --data - --json <'$TMP/same.csv'"
expect_ok
json_eq .verdict '"pass"'

# the documented example is a valid spec (its metrics without data are nodata)
run "$CANARY" analyze --config examples/analysis.yaml --data "$TMP/same.csv" --look 1 --json
[ "$RC" -le 2 ] || die "examples/analysis.yaml: exit $RC: $(cat "$TMP/err")"
json_eq '[.metrics[] | select(.segment == null) | .name]' '["latency_ms","cpu_ms","error","clicked","prediction","score","ttfb_ms","fraud_class","p99_latency"]'
json_eq '[.metrics[] | select(.name == "cpu_ms") | .classification] | unique' '["nodata"]'

# the gross failure fails at once: verdict fail, exit 1
run "$CANARY" analyze --config "$TMP/errors.yaml" --data "$TMP/gross.csv" --json
[ "$RC" -eq 1 ] || die "gross failure: expected exit 1, got $RC ($(cat "$TMP/err"))"
json_eq .verdict '"fail"'
json_eq '.metrics[0].classification' '"fail"'
json_eq '.metrics[0].n_canary' 50
json_close '.metrics[0].canary.mean' 0.5
json_close '.metrics[0].stable.mean' 0.02
json_close '.metrics[0].effect' 0.48

# ---- text output -----------------------------------------------------

run "$CANARY" analyze --config "$TMP/errors.yaml" --data "$TMP/gross.csv"
[ "$RC" -eq 1 ] || die "text mode: expected exit 1, got $RC"
head -n 1 "$TMP/out" | grep -q '^METRIC  *SEGMENT  *CLASS  *EFFECT \[CI\]  *P_ADJ  *N_C/N_S  *REASON' ||
    die "text output lacks the table header: $(head -n 1 "$TMP/out")"
grep -Eq '^error +all +fail +\+0\.48 \[' "$TMP/out" || die "text output lacks the metric row"
grep -q '50/50' "$TMP/out" || die "text output lacks n_c/n_s"
grep -q '^verdict: FAIL  score 0\.0' "$TMP/out" || die "text output lacks the verdict line"
jq -e . "$TMP/out" >/dev/null 2>&1 && die "text output is JSON"

run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv"
expect_ok
grep -q '^verdict: PASS' "$TMP/out" || die "text output lacks PASS"

run "$CANARY" analyze --help
expect_ok
grep -q 'usage: canary analyze' "$TMP/out" || die "--help prints no usage"

# ---- looks -------------------------------------------------------------

printf 'looks: 3\n' >"$TMP/looks.yaml"
cat "$TMP/good.yaml" >>"$TMP/looks.yaml"
run "$CANARY" analyze --config "$TMP/looks.yaml" --data "$TMP/same.csv" --json
expect_error 64 "looks.yaml plans 3 looks: give --look K \(1\.\.3\) or --information-fraction T"
run "$CANARY" analyze --config "$TMP/looks.yaml" --data "$TMP/same.csv" --json --look 2
[ "$RC" -le 2 ] || die "--look 2: exit $RC: $(cat "$TMP/err")"
json_close .information_fraction 0.6666666666666666
json_close .previous_fraction 0.3333333333333333
run "$CANARY" analyze --config "$TMP/looks.yaml" --data "$TMP/same.csv" --look 4
expect_error 64 "--look must be in \[1, 3\], got 4"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" --json --look 1 --looks 6
[ "$RC" -le 2 ] || die "--look 1 --looks 6: exit $RC"
json_close .information_fraction 0.16666666666666666
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" --json \
    --information-fraction 0.5 --previous-fraction 0.25
[ "$RC" -le 2 ] || die "--information-fraction: exit $RC"
json_close .information_fraction 0.5
json_close .previous_fraction 0.25
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" \
    --information-fraction 0.5 --previous-fraction 0.5
expect_error 64 "--previous-fraction \(0.5\) must be below --information-fraction \(0.5\)"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" --look 1 \
    --information-fraction 0.5
expect_error 64 "either --look K or --information-fraction T"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" --looks 3
expect_error 64 "--looks N needs --look K"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" --information-fraction 1.5
expect_error 64 "--information-fraction must be in \(0, 1\]"

# ---- usage errors: 64 --------------------------------------------------

run "$CANARY" analyze --data "$TMP/same.csv"
expect_error 64 "--config FILE is required"
run "$CANARY" analyze --config "$TMP/good.yaml"
expect_error 64 "--data FILE is required"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" --verbose 1
expect_error 64 "unknown option --verbose"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/same.csv" extra
expect_error 64 "unexpected argument 'extra'"
run "$CANARY" analyze --config - --data -
expect_error 64 "only one of --config and --data can be '-'"

# ---- unreadable files: 66 --------------------------------------------

run "$CANARY" analyze --config "$TMP/nope.yaml" --data "$TMP/same.csv"
expect_error 66 "nope.yaml: No such file or directory"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/nope.csv"
expect_error 66 "nope.csv: No such file or directory"
run "$CANARY" analyze --config "$TMP" --data "$TMP/same.csv"
expect_error 66 ": Is a directory"

# ---- bad configs: 65, FILE:LINE: key '...' -------------------------------

bad_config() { # NAME REGEX, with the YAML on stdin
    cat >"$TMP/$1.yaml"
    run "$CANARY" analyze --config "$TMP/$1.yaml" --data "$TMP/same.csv" --json
    expect_error 65 "$1\.yaml:$2"
}

bad_config unknown "3: key 'metrics\[0\]\.margn': unknown key" <<'EOF'
metrics:
  - name: latency_ms
    margn: 5%
    test: welch
EOF
bad_config type "1: key 'alpha': must be a number in \(0, 1\), got the string '0.05'" <<'EOF'
alpha: "0.05"
metrics: [{name: x, test: ks}]
EOF
bad_config listmap "2: key 'thresholds': must be a mapping of keys \(pass, marginal\), got a list" <<'EOF'
metrics: [{name: x, test: ks}]
thresholds: [95, 60]
EOF
bad_config margin "5: key 'metrics\[0\]\.margin': must be >= 0, got '-1'" <<'EOF'
alpha: 0.05
metrics:
  - name: latency_ms
    test: welch
    margin: -1
EOF
bad_config alpha "1: key 'alpha': must be in \(0, 1\), got '1.5'" <<'EOF'
alpha: 1.5
metrics: [{name: x, test: ks}]
EOF
bad_config test "4: key 'metrics\[1\]\.test': must be one of mann-whitney, .*, got 't-test'" <<'EOF'
metrics:
  - {name: x, test: ks}
  - name: y
    test: t-test
EOF
bad_config weight "2: key 'metrics\[0\]\.weight': must be > 0, got '0'" <<'EOF'
metrics:
  - {name: x, test: ks, weight: 0}
EOF
bad_config quantile "6: key 'metrics\[0\]\.quantile': must be in \(0, 1\), got '99'" <<'EOF'
metrics:
  - name: p99
    test: threshold
    source: latency_ms
    max: 200
    quantile: 99
EOF
bad_config scores "1: key 'thresholds': marginal \(80\) must be <= pass \(70\)" <<'EOF'
thresholds: {pass: 70, marginal: 80}
metrics: [{name: x, test: ks}]
EOF
bad_config dup "3: key 'metrics\[1\]\.name': duplicate metric name 'x' \(first at line 2\)" <<'EOF'
metrics:
  - {name: x, test: ks}
  - {name: x, test: psi}
EOF
bad_config nomargin "2: key 'metrics\[0\]\.margin': required for test 'mann-whitney'" <<'EOF'
metrics:
  - name: latency_ms
    test: mann-whitney
EOF
bad_config nolimit "2: key 'metrics\[0\]': test 'threshold' needs a limit" <<'EOF'
metrics:
  - name: p99
    test: threshold
EOF
bad_config syntax "3: invalid YAML: " <<'EOF'
metrics:
  - name: x
    test: [ks
EOF
bad_config section "7: key 'analysis\.metrics\[1\]\.max_psi': not used by test 'ks'" <<'EOF'
server: {port: 80}
analysis:
  metrics:
    - {name: x, test: ks}
    - name: y
      test: ks
      max_psi: 0.1
EOF
bad_config nometrics "1: key 'metrics': required" <<'EOF'
alpha: 0.05
EOF
: >"$TMP/empty.yaml"
run "$CANARY" analyze --config "$TMP/empty.yaml" --data "$TMP/same.csv"
expect_error 65 "empty\.yaml:1: empty config"

# ---- bad data: 65, FILE:LINE: column '...' ------------------------------

bad_data() { # NAME REGEX, with the CSV on stdin
    cat >"$TMP/$1.csv"
    run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/$1.csv" --json
    expect_error 65 "$1\.csv:$2"
}

bad_data nocol "1: the header has no 'value' column" <<'EOF'
version,metric
stable,latency_ms
EOF
bad_data extracol "1: unknown column 'host' in the header" <<'EOF'
version,metric,value,host
stable,latency_ms,1,a
EOF
bad_data version "3: column 'version': must be 'stable' or 'canary', got 'prod'" <<'EOF'
version,metric,value
stable,latency_ms,1
prod,latency_ms,2
EOF
bad_data value "2: column 'value': '12ms' is not a number" <<'EOF'
metric,value,version
latency_ms,12ms,canary
EOF
bad_data nan "2: column 'value': 'NaN' is not finite" <<'EOF'
version,metric,value
canary,latency_ms,NaN
EOF
bad_data fields "2: expected 3 fields as in the header, got 4" <<'EOF'
version,metric,value
canary,latency_ms,1,2
EOF
bad_data quote "2: column 'metric': quoted field has no closing quote" <<'EOF'
version,metric,value
canary,"latency_ms,1
EOF
bad_data headeronly ' no samples \(a header only\)' <<'EOF'
version,metric,value
EOF
: >"$TMP/empty.csv"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/empty.csv"
expect_error 65 "empty\.csv: no samples \(empty file\)"

# CRLF and quoted fields are fine
printf 'version,metric,value\r\n"canary","error","0"\r\nstable,error,0\r\n' >"$TMP/crlf.csv"
run "$CANARY" analyze --config "$TMP/good.yaml" --data "$TMP/crlf.csv" --json
[ "$RC" -le 2 ] || die "CRLF data: exit $RC: $(cat "$TMP/err")"
json_eq '.metrics[1].n_canary' 1

echo "  $NCHECK checks"
