#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `canary rollout status --watch` on real processes (a model server per
# version, `canary serve` with a strategy, `canary loadgen` as the traffic):
#  1. in a terminal (a tmux pane, 100 columns): one block redrawn in place,
#     not lines scrolling: the header once, a progress bar through the
#     steps that fills, the time left in the pause, the samples against
#     those needed, the verdict with the analysis's rows, the triggers;
#     at the end the final state and the exit code of `status` (0);
#  2. a narrow pane (32 columns): the same block, no line wider than the
#     pane, still one block;
#  3. on a pipe: one plain line per change, no escape codes, from the
#     first state to promoted, no two lines alike, exit code 0.
. tests/integration/lib.sh
TOKEN=watch-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
command -v tmux >/dev/null || die "tmux not found (scripts/deps.sh --test)"

cat >"$TMP/canary.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
  health:
    interval: 400ms
    timeout: 400ms
strategy:
  warmup: 1s
  progress_deadline: 20s
  steps:
    - set_weight: 20
    - pause: {duration: 8s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 4s}
    - analysis: {}
  max_bake: 60s
  triggers:
    error_rate: {max: 0.05, max_ratio: 3.0}
analysis:
  alpha: 0.05
  min_per_arm: 100
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 100%
    - name: error
      test: proportion
      margin: 0.05
YAML

start_model s1 0.5 --delay-ms 2
start_model c1 0.5 --delay-ms 2
start_canary w1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/state.db"
export CANARY_SERVER="http://$w1_ADMIN"
start_bg load "$CANARY" loadgen --target "http://$w1_ADDR/v2/models/fraud/infer" --rps 300 \
    --duration 120s --body '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
run "$CANARY" model register fraud v2 --upstream "$c1_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok

# The watches: two tmux panes on a server of our own (its own socket), and
# a pipe. Each pane runs the watch, then prints its exit code and stays.
SOCK="canary-watch-$$"
tmux -L "$SOCK" -f /dev/null new-session -d -s wide -x 100 -y 40 \
    -e "CANARY_SERVER=$CANARY_SERVER" -e "CANARY_TOKEN=$TOKEN" \
    "$CANARY rollout status 1 --watch; echo EXIT=\$?; sleep 600"
PIDS="$PIDS $(tmux -L "$SOCK" display -p -t wide '#{pid}')"
tmux -L "$SOCK" new-session -d -s narrow -x 32 -y 40 \
    -e "CANARY_SERVER=$CANARY_SERVER" -e "CANARY_TOKEN=$TOKEN" \
    "$CANARY rollout status 1 --watch; echo EXIT=\$?; sleep 600"
start_bg pipe "$CANARY" rollout status 1 --watch
PIPE_PID=$LAST_PID

pane() { # pane SESSION FILE: the pane's text, trailing blank lines dropped
    tmux -L "$SOCK" capture-pane -p -t "$1" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}' >"$2"
}
# one_block FILE: the block is drawn once: one header, one bar, one read line
one_block() {
    for pat in '^rollout 1 ' '^\[[#.]+\]' '^(read|ended; read) at '; do
        n=$(grep -Ec "$pat" "$1" || true)
        [ "$n" -eq 1 ] || die "expected one line /$pat/ in the pane, got $n: $(cat "$1")"
    done
}

echo "watch: 1. a terminal: one block, redrawn in place"
# during the first pause: the time left counts down in the same block
i=0
until pane wide "$TMP/p1" && grep -q '^time left  [5-8]s of the 8s pause' "$TMP/p1" &&
    grep -q '^rollout 1 progressing: ' "$TMP/p1"; do
    i=$((i + 1))
    [ $i -lt 600 ] || die "no pause countdown in the pane: $(cat "$TMP/p1")"
    sleep 0.05
done
one_block "$TMP/p1"
grep -Eq '^rollout 1 progressing: fraud v2 \(from v1\)$' "$TMP/p1" ||
    die "header: $(cat "$TMP/p1")"
grep -Eq '^\[#+\.+\] step 2 of 6: pause, weight 20%$' "$TMP/p1" ||
    die "bar: $(sed -n 2p "$TMP/p1")"
grep -Eq '^samples    canary [0-9]+( of [0-9]+ needed)?, stable [0-9]+ \([0-9]+/min\)$' "$TMP/p1" ||
    die "samples: $(cat "$TMP/p1")"
grep -Eq '^triggers   error_rate\.max (ok|waiting), error_rate\.max_ratio (ok|waiting)$' "$TMP/p1" || die "triggers: $(cat "$TMP/p1")"
left1=$(sed -n 's/^time left  \([0-9]*\)s of.*/\1/p' "$TMP/p1")
bar1=$(grep -Eo '^\[#+' "$TMP/p1" | wc -c)
sleep 1.5
pane wide "$TMP/p2"
one_block "$TMP/p2"
left2=$(sed -n 's/^time left  \([0-9]*\)s of.*/\1/p' "$TMP/p2")
bar2=$(grep -Eo '^\[#+' "$TMP/p2" | wc -c)
[ -n "$left2" ] && [ "$left2" -lt "$left1" ] ||
    die "the time left did not count down in place: $left1 then '$left2': $(cat "$TMP/p2")"
[ "$bar2" -gt "$bar1" ] || die "the bar did not fill: $bar1 then $bar2 characters"
# after the first analysis: its verdict and rows
i=0
until pane wide "$TMP/p3" && grep -Eq '^verdict    [a-z]+ at ' "$TMP/p3"; do
    i=$((i + 1))
    [ $i -lt 400 ] || die "no verdict in the pane: $(cat "$TMP/p3")"
    sleep 0.05
done
one_block "$TMP/p3"
grep -Eq '^  latency_ms  [a-z]+  canary [0-9]+, stable [0-9]+ \(needs [0-9]+ per arm\)$' "$TMP/p3" ||
    die "the analysis's rows: $(cat "$TMP/p3")"
# the blast radius, when the server's read has it
"$CANARY" rollout status 1 --json >"$TMP/st.json" || true
if jq -e 'has("blast_radius")' "$TMP/st.json" >/dev/null; then
    grep -Eq '^blast      [0-9]+ canary requests, [0-9]+ failed, [0-9.]+% of all traffic$' \
        "$TMP/p3" || die "no blast radius in the pane: $(cat "$TMP/p3")"
fi
# the end: the final state stays on screen, the exit code is status's
i=0
until pane wide "$TMP/p4" && grep -q '^EXIT=' "$TMP/p4"; do
    i=$((i + 1))
    [ $i -lt 600 ] || die "the watch did not end: $(cat "$TMP/p4")"
    sleep 0.05
done
one_block "$TMP/p4"
grep -Eq '^rollout 1 promoted: fraud v2 \(from v1\)$' "$TMP/p4" ||
    die "final header: $(cat "$TMP/p4")"
grep -Eq '^\[#+\] all 6 steps done, v2 is stable$' "$TMP/p4" ||
    die "final bar: $(cat "$TMP/p4")"
grep -q '^ended; read at ' "$TMP/p4" || die "final line: $(cat "$TMP/p4")"
grep -qx 'EXIT=0' "$TMP/p4" || die "exit code: $(cat "$TMP/p4")"
grep -q "$(printf '\033')" "$TMP/p4" && die "escape codes left on the screen"

echo "watch: 2. a narrow terminal: no line wider than the pane"
i=0
until pane narrow "$TMP/n1" && grep -q '^EXIT=' "$TMP/n1"; do
    i=$((i + 1))
    [ $i -lt 200 ] || die "the narrow watch did not end: $(cat "$TMP/n1")"
    sleep 0.05
done
one_block "$TMP/n1"
awk 'length($0) > 31 { print "line " NR " is " length($0) " wide: " $0; bad = 1 }
    END { exit bad }' "$TMP/n1" || die "a line is wider than 31 columns: $(cat "$TMP/n1")"
grep -q '^rollout 1 promoted: fraud v2' "$TMP/n1" || die "narrow header: $(cat "$TMP/n1")"
grep -qx 'EXIT=0' "$TMP/n1" || die "narrow exit code: $(cat "$TMP/n1")"

echo "watch: 3. a pipe: one plain line per change"
rc=0
wait "$PIPE_PID" || rc=$?
[ "$rc" -eq 0 ] || die "the piped watch exited $rc: $(cat "$TMP/pipe.err")"
[ ! -s "$TMP/pipe.err" ] || die "the piped watch wrote to stderr: $(cat "$TMP/pipe.err")"
if grep -q "$(printf '\033')" "$TMP/pipe.out"; then
    die "escape codes in the piped output: $(od -c "$TMP/pipe.out" | head)"
fi
n=$(wc -l <"$TMP/pipe.out")
[ "$n" -ge 4 ] || die "expected a line per change (at least 4), got $n: $(cat "$TMP/pipe.out")"
grep -Evq '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z rollout 1 fraud v2: ' "$TMP/pipe.out" &&
    die "a line that is not a status line: $(cat "$TMP/pipe.out")"
tail -1 "$TMP/pipe.out" |
    grep -Eq ': promoted, all 6 steps done, v2 is stable(, blast [0-9]+ canary requests \([0-9]+ failed, [0-9.]+%\))?; reason: promoted' ||
    die "the last line is not the promotion: $(tail -1 "$TMP/pipe.out")"
grep -q 'step 2 of 6: pause, weight 20%' "$TMP/pipe.out" ||
    die "no line for the first pause: $(cat "$TMP/pipe.out")"
grep -q 'step 5 of 6: pause, weight 50%' "$TMP/pipe.out" ||
    die "no line for the second pause: $(cat "$TMP/pipe.out")"
# a line per change: no two consecutive lines say the same (time aside)
cut -d' ' -f2- "$TMP/pipe.out" | uniq -d | grep -q . &&
    die "a line repeated without a change: $(cat "$TMP/pipe.out")"
cp "$TMP/pipe.out" "$TMP/n1" "$TMP/p3" "${WATCH_KEEP:-$TMP}/" 2>/dev/null || true
tmux -L "$SOCK" kill-server
stop_canary w1
echo "watch: $NCHECK checks passed"
