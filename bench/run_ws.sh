#!/usr/bin/env bash
# WebSocket benchmarks, side by side in one run: workerman `websocket://` (examples/websocket_echo,
# one worker process, through its CLI) vs a tokio-tungstenite echo server (bench/src/bin/tokio_ws_echo.rs).
#
# 1. Echo: `ws_load echo` ping-pong against each server in alternating rounds; server CPU
#    (utime+stime of the serving processes, /proc/<pid>/stat) per echoed message.
# 2. Memory: `ws_load idle` opens CONNS_IDLE idle WebSocket connections (from 127.0.0.2..5) to each
#    server; RSS growth of the serving process divided by the connections.
#
#   bench/run_ws.sh
#   ROUNDS=2 DURATION=5 CONNS_IDLE=10000 bench/run_ws.sh
#
# Settings (environment): ROUNDS (3), DURATION s (6), CONNS (50), THREADS (1), SIZE bytes (32),
# CONNS_IDLE (10000), WM_PORT (2470), TT_PORT (2471), PIN (1 with taskset and 2+ CPUs).
# BASE_BIN=DIR adds `wm-base`: DIR/examples/websocket_echo of another build of workerman (an
# earlier commit, built with its own CARGO_TARGET_DIR) on WM_BASE_PORT (2472), in the same rounds.
# Everything it starts is stopped on exit.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
SIZE=${SIZE:-32}
CONNS_IDLE=${CONNS_IDLE:-10000}
WM_PORT=${WM_PORT:-2470}
TT_PORT=${TT_PORT:-2471}
WM_BASE_PORT=${WM_BASE_PORT:-2472}
BASE_BIN=${BASE_BIN:-}
if [[ -n $BASE_BIN && ! -x $BASE_BIN/examples/websocket_echo ]]; then
    echo "BASE_BIN: no $BASE_BIN/examples/websocket_echo" >&2
    exit 1
fi
HOST=127.0.0.1
if [[ -z ${PIN:-} ]]; then
    if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then PIN=1; else PIN=0; fi
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < CONNS_IDLE + 100 )); then echo "open file limit $(ulimit -n) is below CONNS_IDLE + 100" >&2; exit 1; fi

cd "$(dirname "$0")/.."
echo "== building"
cargo build --release -p bench -p workerman --bins --example websocket_echo
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d /tmp/ws_bench.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/wm.pid WORKERMAN_LOG_FILE=$WORK/wm.log WORKERMAN_STDOUT_FILE=$WORK/wm.out
CLK_TCK=$(getconf CLK_TCK)
SERVER_CPU=() LOAD_CPU=()
if [[ $PIN == 1 ]]; then SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1); fi

TT_PID= WM_STARTED= IDLE_PID= BASE_STARTED=
base_env() { env WORKERMAN_PID_FILE="$WORK/base.pid" WORKERMAN_LOG_FILE="$WORK/base.log" WORKERMAN_STDOUT_FILE="$WORK/base.out" "$@"; }
cleanup() {
    set +e
    [[ -n $IDLE_PID ]] && kill "$IDLE_PID" 2>/dev/null && wait "$IDLE_PID" 2>/dev/null
    [[ -n $TT_PID ]] && kill "$TT_PID" 2>/dev/null && wait "$TT_PID" 2>/dev/null
    [[ -n $WM_STARTED ]] && timeout 10 "$BIN/examples/websocket_echo" stop >/dev/null
    [[ -n $BASE_STARTED ]] && base_env timeout 10 "$BASE_BIN/examples/websocket_echo" stop >/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
wait_port() {
    local i
    for ((i = 0; i < 200; i++)); do port_open "$1" && return 0; sleep 0.05; done
    echo "port $1 did not open" >&2
    return 1
}
for port in "$WM_PORT" "$TT_PORT" "$WM_BASE_PORT"; do
    if port_open "$port"; then echo "port $port is busy" >&2; exit 1; fi
done

echo "== starting servers"
"${SERVER_CPU[@]}" "$BIN/tokio_ws_echo" "$HOST:$TT_PORT" >"$WORK/tt.log" 2>&1 &
TT_PID=$!
WEBSOCKET_ECHO_ADDR=$HOST:$WM_PORT "${SERVER_CPU[@]}" "$BIN/examples/websocket_echo" start -d >"$WORK/wm.start" 2>&1
WM_STARTED=1
wait_port "$TT_PORT"
wait_port "$WM_PORT"
WM_MASTER=$(cat "$WORKERMAN_PID_FILE")
for ((i = 0; i < 200; i++)); do [[ -n $(pgrep -P "$WM_MASTER" || true) ]] && break; sleep 0.05; done
WM_WORKER=$(pgrep -P "$WM_MASTER")
NAMES="tokio-tungstenite workerman"
if [[ -n $BASE_BIN ]]; then
    base_env WEBSOCKET_ECHO_ADDR=$HOST:$WM_BASE_PORT "${SERVER_CPU[@]}" "$BASE_BIN/examples/websocket_echo" start -d >"$WORK/base.start" 2>&1
    BASE_STARTED=1
    wait_port "$WM_BASE_PORT"
    BASE_MASTER=$(cat "$WORK/base.pid")
    for ((i = 0; i < 200; i++)); do [[ -n $(pgrep -P "$BASE_MASTER" || true) ]] && break; sleep 0.05; done
    BASE_WORKER=$(pgrep -P "$BASE_MASTER")
    NAMES="$NAMES wm-base"
fi

server_pids() {
    case $1 in
    tokio-tungstenite) echo "$TT_PID" ;;
    workerman) echo "$WM_MASTER $WM_WORKER" ;;
    wm-base) echo "$BASE_MASTER $BASE_WORKER" ;;
    esac
}
server_port() {
    case $1 in tokio-tungstenite) echo "$TT_PORT" ;; workerman) echo "$WM_PORT" ;; wm-base) echo "$WM_BASE_PORT" ;; esac
}
serving_pid() {
    case $1 in tokio-tungstenite) echo "$TT_PID" ;; workerman) echo "$WM_WORKER" ;; wm-base) echo "$BASE_WORKER" ;; esac
}
cpu_ticks() {
    local u=0 s=0 pid rest
    for pid in "$@"; do
        rest=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${rest##*) }
        read -r _ _ _ _ _ _ _ _ _ _ _ ut st _ <<<"$rest"
        u=$((u + ut)) s=$((s + st))
    done
    echo "$u $s"
}

declare -A MSGS SECS UT ST
for n in $NAMES; do MSGS[$n]=0 SECS[$n]=0 UT[$n]=0 ST[$n]=0; done
echo "== echo: $ROUNDS rounds x ${DURATION}s, $CONNS conns, $THREADS load threads, $SIZE-byte text messages, pin=$PIN"
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=$NAMES; else order=$(tr ' ' '\n' <<<"$NAMES" | tac | paste -sd' '); fi
    for n in $order; do
        pids=$(server_pids "$n")
        read -r bu bs <<<"$(cpu_ticks $pids)"
        out=$("${LOAD_CPU[@]}" "$BIN/ws_load" echo --addr "$HOST:$(server_port "$n")" --conns "$CONNS" \
            --threads "$THREADS" --duration "$DURATION" --size "$SIZE") || { echo "$out" >&2; exit 1; }
        read -r au as <<<"$(cpu_ticks $pids)"
        res=${out##*RESULT }
        msgs=$(sed 's/.*msgs=\([0-9]*\).*/\1/' <<<"$res")
        secs=$(sed 's/.*secs=\([0-9.]*\).*/\1/' <<<"$res")
        MSGS[$n]=$((MSGS[$n] + msgs)) UT[$n]=$((UT[$n] + au - bu)) ST[$n]=$((ST[$n] + as - bs))
        SECS[$n]=$(awk -v a="${SECS[$n]}" -v b="$secs" 'BEGIN { print a + b }')
        awk -v r="$r" -v n="$n" -v m="$msgs" -v t="$secs" -v u=$((au - bu)) -v s=$((as - bs)) -v hz="$CLK_TCK" \
            'BEGIN { printf "  round %d  %-18s %9.0f msg/s  user %6.3f us/msg  total %6.3f us/msg\n", r, n, m / t, u / hz * 1e6 / m, (u + s) / hz * 1e6 / m }'
    done
done
echo
echo "== echo results (server CPU per echoed message, all rounds; CLK_TCK=$CLK_TCK)"
printf "%-18s %10s %10s %12s %12s %12s\n" server messages "msg/s" "user us/msg" "sys us/msg" "total us/msg"
for n in $NAMES; do
    awk -v n="$n" -v m="${MSGS[$n]}" -v t="${SECS[$n]}" -v u="${UT[$n]}" -v s="${ST[$n]}" -v hz="$CLK_TCK" \
        'BEGIN { printf "%-18s %10d %10.0f %12.3f %12.3f %12.3f\n", n, m, m / t, u / hz * 1e6 / m, s / hz * 1e6 / m, (u + s) / hz * 1e6 / m }'
done
awk -v mt="${MSGS[tokio-tungstenite]}" -v ut="${UT[tokio-tungstenite]}" -v st="${ST[tokio-tungstenite]}" \
    -v mw="${MSGS[workerman]}" -v uw="${UT[workerman]}" -v sw="${ST[workerman]}" 'BEGIN {
    if (mt == 0 || mw == 0 || ut == 0) { print "ratio: n/a"; exit }
    printf "ratio workerman/tokio-tungstenite: user %.2fx, total %.2fx  (target: user <= 0.5x)\n", (uw / mw) / (ut / mt), ((uw + sw) / mw) / ((ut + st) / mt) }'
if [[ -n $BASE_BIN ]]; then
    awk -v mb="${MSGS[wm-base]}" -v ub="${UT[wm-base]}" -v sb="${ST[wm-base]}" \
        -v mw="${MSGS[workerman]}" -v uw="${UT[workerman]}" -v sw="${ST[workerman]}" 'BEGIN {
        printf "ratio workerman/wm-base CPU per message: user %.2fx, total %.2fx; throughput %.2fx\n", (uw / mw) / (ub / mb), ((uw + sw) / mw) / ((ub + sb) / mb), mw / mb }'
fi

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
echo
echo "== memory: $CONNS_IDLE idle connections per server (sources 127.0.0.2-5)"
printf "%-18s %12s %12s %14s\n" server "RSS before" "RSS after" "bytes/conn"
for n in $NAMES; do
    pid=$(serving_pid "$n")
    before=$(rss_kb "$pid")
    "$BIN/ws_load" idle --addr "$HOST:$(server_port "$n")" --conns "$CONNS_IDLE" --sources 4 --hold 600 >"$WORK/idle.out" 2>&1 &
    IDLE_PID=$!
    for ((i = 0; i < 1200; i++)); do
        grep -q READY "$WORK/idle.out" && break
        kill -0 "$IDLE_PID" 2>/dev/null || { cat "$WORK/idle.out" >&2; exit 1; }
        sleep 0.05
    done
    grep -q READY "$WORK/idle.out" || { echo "idle connections did not open" >&2; exit 1; }
    sleep 1
    after=$(rss_kb "$pid")
    kill "$IDLE_PID"; wait "$IDLE_PID" 2>/dev/null || true; IDLE_PID=
    awk -v n="$n" -v b="$before" -v a="$after" -v c="$CONNS_IDLE" \
        'BEGIN { printf "%-18s %9d KB %9d KB %14.0f\n", n, b, a, (a - b) * 1024 / c }'
    sleep 1
done
