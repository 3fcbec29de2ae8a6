#!/usr/bin/env bash
# HTTP hello-world benchmark: workerman `http_hello` (one worker process) vs nginx (`return 200`,
# one worker process) vs a one-thread hyper server, side by side in one run, with wrk.
#
# For each server and mode (plain keep-alive, and pipelined with bench/pipeline.lua) it runs wrk
# and reads the server's CPU time (utime+stime of every server process, from /proc/<pid>/stat)
# before and after, reporting requests/s and server CPU per request.
#
#   bench/run_http.sh                        # defaults below
#   ROUNDS=1 DURATION=5 bench/run_http.sh
#
# Settings (environment): ROUNDS (2), DURATION seconds per run (8), CONNS (100), DEPTH pipelining
# depth (16), WRK_THREADS (1), PORTS: HYPER_PORT (2460) NGINX_PORT (2461) WM_PORT (2462);
# PIN=1 pins the servers to CPU 0 and wrk to CPU 1 (default when the machine has 2+ CPUs).
# BASE_BIN=DIR adds a fourth server, `wm-base`: DIR/examples/http_hello of another build of
# workerman (an earlier commit, built with its own CARGO_TARGET_DIR) on WM_BASE_PORT (2463), run
# in the same rounds, so a change is compared with what came before on the same machine and load.
# Needs wrk and nginx (apt-get install wrk nginx-light). Everything it starts is stopped on exit.
set -euo pipefail

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8}
CONNS=${CONNS:-100}
DEPTH=${DEPTH:-16}
WRK_THREADS=${WRK_THREADS:-1}
HYPER_PORT=${HYPER_PORT:-2460}
NGINX_PORT=${NGINX_PORT:-2461}
WM_PORT=${WM_PORT:-2462}
WM_BASE_PORT=${WM_BASE_PORT:-2463}
BASE_BIN=${BASE_BIN:-}
SERVERS="hyper nginx workerman"
if [[ -n $BASE_BIN ]]; then
    [[ -x $BASE_BIN/examples/http_hello ]] || { echo "BASE_BIN: no $BASE_BIN/examples/http_hello" >&2; exit 1; }
    SERVERS="$SERVERS wm-base"
fi
HOST=127.0.0.1
if [[ -z ${PIN:-} ]]; then
    if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then PIN=1; else PIN=0; fi
fi
for tool in wrk nginx; do
    command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install wrk nginx-light" >&2; exit 1; }
done

cd "$(dirname "$0")/.."
ROOT=$PWD
echo "== building (release: bench crate, http_hello example)"
cargo build --release -p bench -q
cargo build --release -p workerman --example http_hello -q
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d /tmp/http_bench.XXXXXX)
CLK_TCK=$(getconf CLK_TCK)

SERVER_CPU=() LOAD_CPU=()
if [[ $PIN == 1 ]]; then
    SERVER_CPU=(taskset -c 0)
    LOAD_CPU=(taskset -c 1)
fi

HYPER_PID= NGINX_STARTED= WM_STARTED= BASE_STARTED=
export WORKERMAN_PID_FILE=$WORK/wm.pid WORKERMAN_LOG_FILE=$WORK/wm.log
cleanup() {
    set +e
    [[ -n $HYPER_PID ]] && kill "$HYPER_PID" 2>/dev/null && wait "$HYPER_PID" 2>/dev/null
    [[ -n $NGINX_STARTED && -f $WORK/nginx.pid ]] && kill -QUIT "$(cat "$WORK/nginx.pid")" 2>/dev/null
    [[ -n $WM_STARTED ]] && timeout 10 "$BIN/examples/http_hello" stop >/dev/null
    [[ -n $BASE_STARTED ]] && WORKERMAN_PID_FILE=$WORK/base.pid WORKERMAN_LOG_FILE=$WORK/base.log \
        timeout 10 "$BASE_BIN/examples/http_hello" stop >/dev/null
    sleep 0.5
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
wait_port() {
    local i
    for ((i = 0; i < 200; i++)); do port_open "$1" && return 0; sleep 0.05; done
    echo "server on port $1 did not come up" >&2
    return 1
}
for port in "$HYPER_PORT" "$NGINX_PORT" "$WM_PORT" "$WM_BASE_PORT"; do
    if port_open "$port"; then echo "port $port is already in use" >&2; exit 1; fi
done

cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen $HOST:$NGINX_PORT reuseport;
        location / {
            default_type "text/html;charset=utf-8";
            return 200 "hello world";
        }
    }
}
CONF

echo "== starting servers"
"${SERVER_CPU[@]}" "$BIN/hyper_hello" "$HOST:$HYPER_PORT" >"$WORK/hyper.log" 2>&1 &
HYPER_PID=$!
"${SERVER_CPU[@]}" nginx -c "$WORK/nginx.conf" -p "$WORK" -e "$WORK/nginx-error.log"
NGINX_STARTED=1
HTTP_HELLO_ADDR=$HOST:$WM_PORT HTTP_HELLO_COUNT=1 "${SERVER_CPU[@]}" "$BIN/examples/http_hello" start -d >"$WORK/wm.out" 2>&1 || {
    cat "$WORK/wm.out" >&2
    exit 1
}
WM_STARTED=1
if [[ -n $BASE_BIN ]]; then
    WORKERMAN_PID_FILE=$WORK/base.pid WORKERMAN_LOG_FILE=$WORK/base.log HTTP_HELLO_ADDR=$HOST:$WM_BASE_PORT \
        HTTP_HELLO_COUNT=1 "${SERVER_CPU[@]}" "$BASE_BIN/examples/http_hello" start -d >"$WORK/base.out" 2>&1 || {
        cat "$WORK/base.out" >&2
        exit 1
    }
    BASE_STARTED=1
    wait_port "$WM_BASE_PORT"
    BASE_MASTER=$(cat "$WORK/base.pid")
    for ((i = 0; i < 200; i++)); do [[ -n $(pgrep -P "$BASE_MASTER" || true) ]] && break; sleep 0.05; done
fi
wait_port "$HYPER_PORT"
wait_port "$NGINX_PORT"
wait_port "$WM_PORT"
WM_MASTER=$(cat "$WORK/wm.pid")
for ((i = 0; i < 200; i++)); do [[ -n $(pgrep -P "$WM_MASTER" || true) ]] && break; sleep 0.05; done
for ((i = 0; i < 200; i++)); do [[ -f $WORK/nginx.pid ]] && break; sleep 0.05; done
NGINX_MASTER=$(cat "$WORK/nginx.pid")

server_pids() {
    case $1 in
    hyper) echo "$HYPER_PID" ;;
    nginx) echo "$NGINX_MASTER" $(pgrep -P "$NGINX_MASTER" || true) ;;
    workerman) echo "$WM_MASTER" $(pgrep -P "$WM_MASTER" || true) ;;
    wm-base) echo "$BASE_MASTER" $(pgrep -P "$BASE_MASTER" || true) ;;
    esac
}
server_port() {
    case $1 in hyper) echo "$HYPER_PORT" ;; nginx) echo "$NGINX_PORT" ;; workerman) echo "$WM_PORT" ;; wm-base) echo "$WM_BASE_PORT" ;; esac
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

for name in $SERVERS; do
    body=$(curl -s "http://$HOST:$(server_port $name)/") || true
    [[ $body == "hello world" ]] || { echo "$name answered '$body'" >&2; exit 1; }
done

declare -A REQS SECS UT ST ERRS
RESULTS=$WORK/results.txt
: >"$RESULTS"
run_one() {
    local name=$1 mode=$2 round=$3 pids out reqs rps errs bu bs au as du ds script=()
    [[ $mode == pipelined ]] && script=(-s "$ROOT/bench/pipeline.lua")
    pids=$(server_pids "$name")
    read -r bu bs <<<"$(cpu_ticks $pids)"
    out=$("${LOAD_CPU[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" "${script[@]}" \
        "http://$HOST:$(server_port "$name")/" -- "$DEPTH")
    read -r au as <<<"$(cpu_ticks $pids)"
    reqs=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 } /Non-2xx/ { print $5 }' <<<"$out" | paste -sd+ | bc 2>/dev/null || echo 0)
    errs=${errs:-0}
    du=$((au - bu)) ds=$((as - bs))
    local k="$name/$mode"
    REQS[$k]=$((${REQS[$k]:-0} + reqs))
    SECS[$k]=$(awk -v a="${SECS[$k]:-0}" -v b="$DURATION" 'BEGIN { print a + b }')
    UT[$k]=$((${UT[$k]:-0} + du))
    ST[$k]=$((${ST[$k]:-0} + ds))
    ERRS[$k]=$((${ERRS[$k]:-0} + errs))
    awk -v r="$round" -v k="$k" -v q="$reqs" -v rps="$rps" -v e="$errs" -v u="$du" -v s="$ds" -v hz="$CLK_TCK" \
        'BEGIN { printf "  round %d  %-20s %10.0f req/s  %d errors  user %6.3f us/req  total %6.3f us/req\n", r, k, rps, e, u / hz * 1e6 / q, (u + s) / hz * 1e6 / q }'
}

echo "== load: $ROUNDS rounds x ${DURATION}s per server and mode, $CONNS conns, wrk -t$WRK_THREADS, depth $DEPTH, pin=$PIN"
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=$SERVERS; else order=$(tr ' ' '\n' <<<"$SERVERS" | tac | paste -sd' '); fi
    for mode in plain pipelined; do
        for name in $order; do run_one "$name" "$mode" "$r"; done
    done
done

echo
echo "== results (all rounds summed; server CPU = utime+stime of the server's processes; CLK_TCK=$CLK_TCK)"
printf "%-22s %12s %10s %8s %12s %12s %12s %14s\n" server/mode requests "req/s" errors "user us/req" "sys us/req" "total us/req" "req/CPU-s"
for mode in plain pipelined; do
    for name in $SERVERS; do
        k="$name/$mode"
        awk -v k="$k" -v q="${REQS[$k]}" -v t="${SECS[$k]}" -v e="${ERRS[$k]}" -v u="${UT[$k]}" -v s="${ST[$k]}" -v hz="$CLK_TCK" \
            'BEGIN { c = (u + s) / hz; printf "%-22s %12d %10.0f %8d %12.3f %12.3f %12.3f %14.0f\n", k, q, q / t, e, u / hz * 1e6 / q, s / hz * 1e6 / q, c * 1e6 / q, (c > 0 ? q / c : 0) }'
    done
done
echo
awk -v wp="${REQS[workerman/plain]}" -v np="${REQS[nginx/plain]}" -v hp="${REQS[hyper/plain]}" \
    -v wq="${REQS[workerman/pipelined]}" -v hq="${REQS[hyper/pipelined]}" \
    -v wu="${UT[workerman/pipelined]}" -v ws="${ST[workerman/pipelined]}" \
    -v hu="${UT[hyper/pipelined]}" -v hs="${ST[hyper/pipelined]}" \
    'BEGIN {
        printf "plain throughput: workerman/nginx %.2fx, workerman/hyper %.2fx   (targets >= 1.0x)\n", wp / np, wp / hp
        wc = wq / (wu + ws); hc = hq / (hu + hs)
        printf "pipelined requests per server-CPU-second: workerman/hyper %.2fx   (target >= 1.5x)\n", wc / hc
    }'
if [[ -n $BASE_BIN ]]; then
    for mode in plain pipelined; do
        awk -v m="$mode" -v wq="${REQS[workerman/$mode]}" -v wu="${UT[workerman/$mode]}" -v ws="${ST[workerman/$mode]}" \
            -v bq="${REQS[wm-base/$mode]}" -v bu="${UT[wm-base/$mode]}" -v bs="${ST[wm-base/$mode]}" \
            'BEGIN { printf "%s: workerman / wm-base CPU per request: user %.2fx, total %.2fx; throughput %.2fx\n", m, (wu / wq) / (bu / bq), ((wu + ws) / wq) / ((bu + bs) / bq), wq / bq }'
    done
fi
