#!/usr/bin/env bash
# Server memory per connection in each state a connection waits in: idle keep-alive HTTP, a
# partial HTTP request head, idle WebSocket, a partial WebSocket frame.
#
# For each state and round: start a fresh server (examples/http_hello or examples/websocket_echo,
# one worker process, through its CLI), read the worker process's VmRSS (/proc/<pid>/status),
# open CONNS connections in that state with bench/src/bin/conn_hold.rs, wait for its READY line
# plus SETTLE seconds, read VmRSS again, close the connections and stop the server. Reported:
# (after - before) / CONNS in bytes, per round and the median over rounds. States are interleaved
# within each round.
#
#   bench/run_conn_memory.sh
#   ROUNDS=3 CONNS=5000 bench/run_conn_memory.sh
#   BIN=/path/to/other/target/release bench/run_conn_memory.sh   # measure another build
#
# Settings (environment): ROUNDS (3), CONNS (5000), SETTLE s (1), STATES (all four), HTTP_PORT
# (2480), WS_PORT (2481), BIN (target/release; set it to skip the build), PIN (1 with taskset:
# server on CPU 0, clients on CPU 1). Everything it starts is stopped on exit.
set -euo pipefail
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-5000}
SETTLE=${SETTLE:-1}
STATES=${STATES:-"http-idle http-partial ws-idle ws-partial"}
HTTP_PORT=${HTTP_PORT:-2480}
WS_PORT=${WS_PORT:-2481}
HOST=127.0.0.1
if [[ -z ${PIN:-} ]]; then
    if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then PIN=1; else PIN=0; fi
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < CONNS + 100 )); then echo "open file limit $(ulimit -n) is below CONNS + 100" >&2; exit 1; fi

cd "$(dirname "$0")/.."
if [[ -z ${BIN:-} ]]; then
    echo "== building (release)"
    cargo build --release -p bench --bin conn_hold
    cargo build --release -p workerman --example http_hello --example websocket_echo
    BIN=${CARGO_TARGET_DIR:-target}/release
fi
WORK=$(mktemp -d /tmp/conn_memory.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/wm.pid WORKERMAN_LOG_FILE=$WORK/wm.log WORKERMAN_STDOUT_FILE=$WORK/wm.out
SERVER_CPU=() LOAD_CPU=()
if [[ $PIN == 1 ]]; then SERVER_CPU=(taskset -c 0) LOAD_CPU=(taskset -c 1); fi

SERVER= HOLD_PID=
stop_server() {
    if [[ -n $SERVER ]]; then timeout 10 "$BIN/examples/$SERVER" stop >/dev/null 2>&1 || true; fi
    SERVER=
}
cleanup() {
    set +e
    if [[ -n $HOLD_PID ]]; then kill "$HOLD_PID" 2>/dev/null; wait "$HOLD_PID" 2>/dev/null; fi
    stop_server
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
for port in "$HTTP_PORT" "$WS_PORT"; do
    if port_open "$port"; then echo "port $port is busy" >&2; exit 1; fi
done
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# Starts the server a state needs; sets SERVER, PORT, WORKER (the worker process's pid).
start_server() {
    case $1 in
        http-*) SERVER=http_hello PORT=$HTTP_PORT
            HTTP_HELLO_ADDR=$HOST:$PORT HTTP_HELLO_COUNT=1 "${SERVER_CPU[@]}" "$BIN/examples/http_hello" start -d >"$WORK/start.out" 2>&1 ;;
        ws-*) SERVER=websocket_echo PORT=$WS_PORT
            WEBSOCKET_ECHO_ADDR=$HOST:$PORT "${SERVER_CPU[@]}" "$BIN/examples/websocket_echo" start -d >"$WORK/start.out" 2>&1 ;;
    esac
    wait_port "$PORT"
    local master i
    master=$(cat "$WORKERMAN_PID_FILE")
    WORKER=
    for ((i = 0; i < 200; i++)); do WORKER=$(pgrep -P "$master" || true); [[ -n $WORKER ]] && break; sleep 0.05; done
    [[ -n $WORKER ]] || { echo "no worker process for $SERVER" >&2; exit 1; }
}

declare -A RESULTS
echo "== $ROUNDS rounds, $CONNS connections per state, pin=$PIN"
for ((r = 1; r <= ROUNDS; r++)); do
    for state in $STATES; do
        start_server "$state"
        before=$(rss_kb "$WORKER")
        "${LOAD_CPU[@]}" "$BIN/conn_hold" "$state" --addr "$HOST:$PORT" --conns "$CONNS" >"$WORK/hold.out" 2>&1 &
        HOLD_PID=$!
        until grep -q '^READY' "$WORK/hold.out"; do
            if ! kill -0 "$HOLD_PID" 2>/dev/null; then cat "$WORK/hold.out" >&2; exit 1; fi
            sleep 0.1
        done
        sleep "$SETTLE"
        after=$(rss_kb "$WORKER")
        kill "$HOLD_PID" 2>/dev/null || true
        wait "$HOLD_PID" 2>/dev/null || true
        HOLD_PID=
        stop_server
        per=$(( (after - before) * 1024 / CONNS ))
        RESULTS[$state]="${RESULTS[$state]:-} $per"
        printf "  round %d  %-13s RSS %7d KB -> %7d KB  %6d bytes/connection\n" "$r" "$state" "$before" "$after" "$per"
    done
done
echo
echo "== bytes of worker RSS per connection (median of $ROUNDS rounds; rounds in brackets)"
for state in $STATES; do
    # shellcheck disable=SC2086
    median=$(printf '%s\n' ${RESULTS[$state]} | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
    printf "%-13s %7d   [%s ]\n" "$state" "$median" "${RESULTS[$state]}"
done
