#!/usr/bin/env bash
# Chaos: a small swarm (two hm-dht processes, three hm-serve hosting a 3x4
# grid of ffn experts with checkpoints every second) in which one process at
# a time is killed with SIGKILL at a random moment and restarted on its port,
# for HM_CHAOS_SECONDS (default 25), while hm-moe train keeps training
# through it and one-shot hm-moe forward calls come and go. Nothing may
# crash (no exit by a signal we did not send), no hm-moe call may outlive
# its timeout, training must go on, and every checkpoint left behind must
# load. HM_CHAOS_SEED replays a run (the seed is printed).
source "$(dirname "$0")/lib.sh"
DATA=/usr/share/datasets/fashion-mnist
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || { echo "SKIP: no $DATA"; exit 0; }

SEED=${HM_CHAOS_SEED:-$((RANDOM))}
RANDOM=$SEED
echo "chaos seed $SEED (HM_CHAOS_SEED=$SEED replays the same kills)"
CHAOS_SECONDS=${HM_CHAOS_SECONDS:-25}
FORWARD_TIMEOUT=3

# Every component's name -> pid, address, restart count; kill/restart by name.
declare -A PID ADDR RUNS
port_of() { echo "${ADDR[$1]##*:}"; }

# The DHT addresses clients bootstrap from (joining needs one to answer).
dht_peers() { echo "${ADDR[dht0]} ${ADDR[dht1]}"; }

# Every DHT node but NAME's own (servers run one on their port too).
peers_except() {
  local name
  for name in "${!ADDR[@]}"; do
    if [ "$name" != "$1" ]; then echo "${ADDR[$name]}"; fi
  done
}

launch_dht() {  # launch_dht NAME [PORT]
  local name=$1 port=${2:-0} peers=()
  if [ -n "${ADDR[dht0]:-}" ]; then peers=(--peers $(peers_except "$name")); fi
  RUNS[$name]=$((${RUNS[$name]:-0} + 1))
  start_process "$name.${RUNS[$name]}" 1 "$HM_BIN/hm-dht" --listen "127.0.0.1:$port" \
    --allow-alone "${peers[@]}"
  PID[$name]=$PROCESS_PID
  ADDR[$name]=$(head -n1 "$WORK/$name.${RUNS[$name]}.out")
}

launch_server() {  # launch_server NAME ROW [PORT]
  local name=$1 row=$2 port=${3:-0}
  RUNS[$name]=$((${RUNS[$name]:-0} + 1))
  "$HM_BIN/hm-serve" --listen "127.0.0.1:$port" --dht $(dht_peers) --update-period 1 \
    --expert-pattern "ffn.[$row:$((row + 1))].[0:4]" --hidden-dim 32 --seed "$row" \
    --checkpoint-dir "$WORK/ckpt.$name" --checkpoint-every 1 \
    > "$WORK/$name.${RUNS[$name]}.out" 2> "$WORK/$name.${RUNS[$name]}.err" &
  PID[$name]=$!
  PIDS+=("${PID[$name]}")
  local i
  for i in $(seq 300); do
    [ -s "$WORK/$name.${RUNS[$name]}.out" ] && break
    kill -0 "${PID[$name]}" 2>/dev/null ||
      { cat "$WORK/$name.${RUNS[$name]}.err" >&2; fail "hm-serve $name exited at start"; }
    sleep 0.1
  done
  ADDR[$name]=$(head -n1 "$WORK/$name.${RUNS[$name]}.out")
  [[ "${ADDR[$name]}" =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "hm-serve $name printed '${ADDR[$name]}'"
}

# alive_or_fail NAME: the process must still be running; one that exited on
# its own (a crash, an abort, an error) fails the test with its log.
alive_or_fail() {
  local name=$1 rc=0
  kill -0 "${PID[$name]}" 2>/dev/null && return 0
  wait "${PID[$name]}" || rc=$?
  tail -n 20 "$WORK/$name.${RUNS[$name]}.err" >&2
  fail "$name exited by itself with status $rc"
}

kill_hard() {  # kill_hard NAME
  alive_or_fail "$1"
  kill -KILL "${PID[$1]}"
  wait "${PID[$1]}" 2>/dev/null || true
}

launch_dht dht0
launch_dht dht1
declare -A ROW=([server0]=0 [server1]=1 [server2]=2)
for name in server0 server1 server2; do launch_server "$name" "${ROW[$name]}"; done

"$HM_PYTHON" -c "
import numpy as np
np.save('$WORK/x.npy', np.random.RandomState(0).randn(16, 32).astype('f4'))"

# The trainer: long enough to outlast the chaos; stopped by us at the end.
"$HM_BIN/hm-moe" train --dht "${ADDR[dht0]}" --prefix ffn --grid 3x4 --k-best 2 --hidden-dim 32 \
  --blocks 1 --batch-size 32 --trainers 2 --steps 1000000 --eval-every 50 --eval-samples 200 \
  --forward-timeout "$FORWARD_TIMEOUT" --backward-timeout "$FORWARD_TIMEOUT" \
  --allow-zero-outputs --json > "$WORK/train.out" 2> "$WORK/train.err" &
TRAIN_PID=$!
PIDS+=("$TRAIN_PID")

# one_forward N: a one-shot hm-moe forward. It may fail with a clear error
# (exit 1) when the kills leave no expert, but never crash or hang: the
# whole process, LibTorch load and DHT join included, gets 30 s.
one_forward() {
  local rc=0 start=$SECONDS
  timeout -s KILL 30 "$HM_BIN/hm-moe" forward --dht "${ADDR[dht$((RANDOM % 2))]}" --prefix ffn --grid 3x4 \
    --k-best 2 --forward-timeout "$FORWARD_TIMEOUT" -i "$WORK/x.npy" -o "$WORK/y.$1.npy" \
    2> "$WORK/forward.$1.err" || rc=$?
  [ "$rc" -eq 137 ] && fail "hm-moe forward $1 still running after 30 s (forward timeout $FORWARD_TIMEOUT s)"
  [ "$rc" -le 1 ] || { cat "$WORK/forward.$1.err" >&2; fail "hm-moe forward $1 exited with $rc"; }
  if [ "$rc" -eq 1 ]; then
    [ "$(wc -l < "$WORK/forward.$1.err")" -ge 1 ] || fail "hm-moe forward $1 failed silently"
    FAILED_FORWARDS=$((FAILED_FORWARDS + 1))
  fi
  echo "forward $1: exit $rc in $((SECONDS - start)) s"
}

NAMES=(dht0 dht1 server0 server1 server2)
FAILED_FORWARDS=0
KILLS=0
deadline=$((SECONDS + CHAOS_SECONDS))
round=0
while [ "$SECONDS" -lt "$deadline" ] && [ "$round" -lt 200 ]; do
  round=$((round + 1))
  victim=${NAMES[$((RANDOM % ${#NAMES[@]}))]}
  sleep "0.$((RANDOM % 10))"
  kill_hard "$victim"
  KILLS=$((KILLS + 1))
  sleep "0.$((RANDOM % 10))"
  case $victim in
    dht*) launch_dht "$victim" "$(port_of "$victim")" ;;
    server*) launch_server "$victim" "${ROW[$victim]}" "$(port_of "$victim")" ;;
  esac
  echo "round $round: killed and restarted $victim"
  if [ $((round % 3)) -eq 0 ]; then one_forward "$round"; fi
  kill -0 "$TRAIN_PID" 2>/dev/null || { tail -n 20 "$WORK/train.err" >&2; fail "hm-moe train died"; }
done
[ "$KILLS" -ge 3 ] || fail "only $KILLS kills in $CHAOS_SECONDS s"

# Training went on through the chaos: evaluations kept coming.
evaluations=$(wc -l < "$WORK/train.out")
[ "$evaluations" -ge 2 ] || { tail -n 20 "$WORK/train.err" >&2; fail "hm-moe train evaluated $evaluations times"; }
one_forward final
[ -s "$WORK/y.final.npy" ] || { cat "$WORK/forward.final.err" >&2; fail "no forward after the chaos"; }

# steps_of ADDR ROW: the training steps the four experts of ROW report.
steps_of() {
  local total=0 column steps
  for column in 0 1 2 3; do
    steps=$("$HM_BIN/hm-call" --server "$1" "ffn.$2.$column" info --json |
            "$HM_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["steps"])') || return 1
    total=$((total + steps))
  done
  echo "$total"
}
# Some expert has trained before the servers stop. (On a loaded machine
# under a sanitizer, the trainer may have had only zero-expert steps so far,
# --allow-zero-outputs, while declarations lagged: give it up to 60 s.)
LIVE_STEPS=0
for _ in $(seq 120); do
  for name in server0 server1 server2; do
    steps=$(steps_of "${ADDR[$name]}" "${ROW[$name]}") || steps=0  # may be declaring yet
    LIVE_STEPS=$((LIVE_STEPS + steps))
  done
  [ "$LIVE_STEPS" -gt 0 ] && break
  sleep 0.5
done
[ "$LIVE_STEPS" -gt 0 ] || { tail -n 20 "$WORK/train.err" >&2; fail "no expert trained within 60 s after the chaos"; }
kill -TERM "$TRAIN_PID"
wait "$TRAIN_PID" 2>/dev/null || true

# Every process still up stops cleanly; then every checkpoint must load.
for name in "${NAMES[@]}"; do
  alive_or_fail "$name"
  case $name in
    dht*) stop_dht "${PID[$name]}" ;;
    server*) stop_server "${PID[$name]}" ;;
  esac
done
TRAINED_STEPS=0
for name in server0 server1 server2; do
  ! grep -h "corrupt" "$WORK/$name".*.err || fail "$name found a corrupt checkpoint"
  start_server "check.$name" --expert-pattern "ffn.[${ROW[$name]}:$((ROW[$name] + 1))].[0:4]" \
    --hidden-dim 32 --checkpoint-dir "$WORK/ckpt.$name"
  ! grep "corrupt\|error" "$WORK/check.$name.err" || fail "$name's checkpoints do not load"
  steps=$(steps_of "$SERVER_ADDR" "${ROW[$name]}") || fail "$name's experts do not answer info"
  TRAINED_STEPS=$((TRAINED_STEPS + steps))
  stop_server "$SERVER_PID"
done
# The experts trained, and their checkpoints kept it.
[ "$TRAINED_STEPS" -gt 0 ] || fail "no expert's checkpoint holds a training step"
echo "chaos: $KILLS kills in $round rounds, $evaluations evaluations," \
  "$FAILED_FORWARDS failed forwards, $TRAINED_STEPS expert steps restored"
