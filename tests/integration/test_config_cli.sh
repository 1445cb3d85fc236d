#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `canary config check FILE [--json]`: every section of a file is checked;
# the effective configuration (every default filled in) is printed as YAML
# that reads back to the same configuration, or as JSON; bad input is one
# line naming file, line and key, with sysexits codes (65 bad data, 66
# unreadable, 64 usage) and nothing on stdout.
. tests/integration/lib.sh

# The documented examples are valid, each in its own form.
run "$CANARY" config check examples/canary.yaml --json
expect_ok
json_eq '.serve.traffic.canary_weight' 2.5
json_eq '.serve.stable.addresses' '["model-v1-a:9000","model-v1-b:9000"]'
json_eq '.serve.limits.memory_budget' '"4GiB"'
json_eq '.analysis.alpha' 0.05
json_eq '.analysis.metrics | length' 1
run "$CANARY" config check examples/analysis.yaml --json
expect_ok
json_eq 'keys' '["analysis"]'
json_eq '.analysis.metrics[0].margin' '"5%"'
json_eq '.analysis.metrics[0].min_samples' 400
json_eq '.analysis.groups.latency' 2

# Defaults are filled in: a minimal serve file in the root form.
printf 'stable:\n  addresses: ["127.0.0.1:9001"]\n' >"$TMP/min.yaml"
run "$CANARY" config check "$TMP/min.yaml" --json
expect_ok
json_eq 'keys' '["serve"]'
json_eq '.serve.listen' '"0.0.0.0:8080"'
json_eq '.serve.traffic.mode' '"random"'
json_eq '.serve.health.interval' '"2s"'
json_eq '.serve.limits.max_body_bytes' '"16MiB"'
json_eq '.serve.measure.request_id_map_size' 100000
json_eq '.serve.state' null

# A metric gets the defaults of its test, and only the keys its test uses.
printf 'analysis:\n  metrics:\n    - {name: d, test: ks}\n    - {name: b, test: bootstrap, margin: 1}\n' \
    >"$TMP/judge.yaml"
run "$CANARY" config check "$TMP/judge.yaml" --json
expect_ok
json_eq '.analysis.metrics[0]' \
    '{"name":"d","test":"ks","weight":1,"critical":false,"max_statistic":0.1}'
json_eq '.analysis.metrics[1].resamples' 2000
json_eq '.analysis.metrics[1].statistic' '"mean"'
json_eq '.analysis.correction' '"holm"'

# The YAML output is itself a config: checked again, it gives the same JSON.
for f in examples/canary.yaml examples/analysis.yaml "$TMP/min.yaml"; do
    run "$CANARY" config check "$f"
    expect_ok
    cp "$TMP/out" "$TMP/effective.yaml"
    run "$CANARY" config check "$f" --json
    expect_ok
    cp "$TMP/out" "$TMP/a.json"
    run "$CANARY" config check "$TMP/effective.yaml" --json
    expect_ok
    cmp -s "$TMP/a.json" "$TMP/out" || die "$f: the printed YAML does not read back the same"
done

# Bad data: 65, one line with file, line and key; nothing on stdout.
printf 'serve:\n  stable:\n    addresses: ["127.0.0.1:9001"]\n  limits:\n    max_body_bytes: 0\n' \
    >"$TMP/bad1.yaml"
run "$CANARY" config check "$TMP/bad1.yaml"
expect_error 65 "bad1\\.yaml:5: key 'serve\\.limits\\.max_body_bytes': must be a size in \\[1, 1GiB\\], got '0'"

printf 'serve:\n  stable:\n    addresses: ["127.0.0.1:9001"]\nanalysis:\n  metrics:\n    - name: a\n      test: welch\n      margin: -3\n' \
    >"$TMP/bad2.yaml"
run "$CANARY" config check "$TMP/bad2.yaml"
expect_error 65 "bad2\\.yaml:8: key 'analysis\\.metrics\\[0\\]\\.margin': must be >= 0, got '-3'"

printf 'serve:\n  stable:\n    addresses: ["127.0.0.1:9001"]\nanalysys:\n  alpha: 0.1\n' \
    >"$TMP/bad3.yaml"
run "$CANARY" config check "$TMP/bad3.yaml"
expect_error 65 "bad3\\.yaml:4: key 'analysys': unknown section \\(expected serve, analysis or strategy\\)"

# Cross-field rules as `canary serve` applies them: no stable address.
printf 'serve:\n  traffic:\n    canary_weight: 5\n' >"$TMP/bad4.yaml"
run "$CANARY" config check "$TMP/bad4.yaml"
expect_error 65 "bad4\\.yaml: serve: key 'stable\\.addresses' \\(--stable\\): at least one stable address is required"

# The memory budget, naming the keys that decide it.
printf 'serve:\n  workers: 8\n  stable:\n    addresses: ["127.0.0.1:9001"]\n  measure:\n    request_id_map_size: 100000000\n' \
    >"$TMP/budget.yaml"
run "$CANARY" config check "$TMP/budget.yaml"
expect_error 65 "budget\\.yaml: serve: key 'limits\\.memory_budget' \\(--memory-budget\\): the measurement state may take up to [0-9.]+ GiB, more than the budget of 4GiB: 8 workers x \\([0-9.]+ GiB for measure\\.request_id_map_size 100000000 \\+ [0-9.]+ MiB for 544 cells of 16 version keys x \\(measure\\.max_segments 32 \\+ 2\\) \\+ [0-9.]+ MiB for 68 step cells .*lower workers, measure\\.request_id_map_size"
printf '  limits:\n    memory_budget: 128GiB\n' >>"$TMP/budget.yaml"
run "$CANARY" config check "$TMP/budget.yaml" --json
expect_ok
json_eq '.serve.limits.memory_budget' '"128GiB"'

# `canary serve` applies the same budget at start, before it binds or
# allocates anything, and names the same keys.
run "$CANARY" serve --stable 127.0.0.1:9 --workers 64 --request-id-map-size 100000000 \
    --listen 127.0.0.1:0 --admin 127.0.0.1:0
expect_error 64 "^canary serve: key 'limits\\.memory_budget' \\(--memory-budget\\): the measurement state may take up to [0-9.]+ GiB, more than the budget of 4GiB: 64 workers"
run "$CANARY" serve --stable 127.0.0.1:9 --workers 64 --request-id-map-size 100000000 \
    --listen 127.0.0.1:0 --admin 127.0.0.1:0 --memory-budget 8GiB
expect_error 64 "more than the budget of 8GiB"

printf 'serve: [1]\n' >"$TMP/bad5.yaml"
run "$CANARY" config check "$TMP/bad5.yaml"
expect_error 65 "bad5\\.yaml:1: key 'serve': must be a mapping of keys"

printf '' >"$TMP/empty.yaml"
run "$CANARY" config check "$TMP/empty.yaml"
expect_error 65 "empty\\.yaml:1: empty config"

printf 'serve:\n  listen: [\n' >"$TMP/bad6.yaml"
run "$CANARY" config check "$TMP/bad6.yaml"
expect_error 65 "bad6\\.yaml:[0-9]+: invalid YAML"

# Unreadable: 66.
run "$CANARY" config check "$TMP/missing.yaml"
expect_error 66 "missing\\.yaml: No such file or directory"
run "$CANARY" config check "$TMP"
expect_error 66 "Is a directory"

# Usage: 64.
run "$CANARY" config check
expect_error 64 "missing FILE"
run "$CANARY" config check examples/canary.yaml --yaml
expect_error 64 "unknown option '--yaml'"
run "$CANARY" config check a.yaml b.yaml
expect_error 64 "one FILE only"
run "$CANARY" config lint examples/canary.yaml
[ "$RC" -eq 64 ] || die "an unknown subcommand is a usage error, got $RC"
run "$CANARY" config check --help
expect_ok
grep -q "usage: canary config check FILE" "$TMP/out" || die "no usage text"

# A strategy: section is checked with the rest, against the analysis
# section it judges with, and printed with its defaults.
cat >"$TMP/strategy.yaml" <<'YAML'
serve:
  stable: {addresses: ["127.0.0.1:9001"]}
analysis:
  metrics:
    - {name: latency_ms, test: mann-whitney, direction: lower-is-better, margin: 5%}
strategy:
  steps:
    - set_weight: 5
    - pause: {duration: 10m}
    - analysis: {metrics: [latency_ms]}
    - set_weight: 100
YAML
run "$CANARY" config check "$TMP/strategy.yaml" --json
expect_ok
json_eq '.strategy.steps[0].set_weight' 5
json_eq '.strategy.warmup' '"30s"'
json_eq '.strategy.triggers.level' 1e-07
printf 'strategy:\n  steps:\n    - set_weight: 100\n    - analysis: {}\n' >"$TMP/s100.yaml"
run "$CANARY" config check "$TMP/s100.yaml"
expect_error 65 "s100\\.yaml:4: key 'strategy\\.steps\\[1\\]\\.analysis': not allowed after set_weight 100"
sed 's/latency_ms\]}/p50]}/' "$TMP/strategy.yaml" >"$TMP/s-metric.yaml"
run "$CANARY" config check "$TMP/s-metric.yaml"
expect_error 65 "strategy\\.steps\\[2\\]\\.analysis\\.metrics"

# canary serve reads the same sections, and refuses a bad strategy at start.
printf 'serve:\n  listen: 127.0.0.1:0\n  admin: 127.0.0.1:0\n  stable: {addresses: ["127.0.0.1:9"]}\n' >"$TMP/serve-s100.yaml"
cat "$TMP/s100.yaml" >>"$TMP/serve-s100.yaml"
run "$CANARY" serve --config "$TMP/serve-s100.yaml"
expect_error 65 "^canary serve: .*serve-s100\\.yaml:8: key 'strategy\\.steps\\[1\\]\\.analysis': not allowed after set_weight 100"

echo "  $NCHECK checks"
