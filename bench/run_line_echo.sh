#!/usr/bin/env bash
# Line-echo benchmark: workerman `text://` (one worker process) vs a plain one-thread tokio server.
#
# Builds the bench crate, starts both servers on 127.0.0.1, runs `line_load` against each in
# alternating rounds, and reports the server CPU time (utime+stime from /proc/<pid>/stat; for
# workerman summed over the master and its worker processes) per echoed message.
#
#   bench/run_line_echo.sh                   # defaults below
#   ROUNDS=2 DURATION=5 bench/run_line_echo.sh
#
# Settings (environment): ROUNDS (3), DURATION seconds per run (6), CONNS (50), THREADS load
# threads (1), SIZE line bytes without "\n" (32), TOKIO_PORT (2450), WM_PORT (2451),
# PIN=1 to pin the servers to CPU 0 and the load generator to CPU 1 (default 1 when taskset exists
# and the machine has 2+ CPUs; PIN=0 to let the scheduler place them).
# Everything it starts is stopped on exit. Takes about ROUNDS*2*(DURATION+1) s plus the build.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6}
CONNS=${CONNS:-50}
THREADS=${THREADS:-1}
SIZE=${SIZE:-32}
TOKIO_PORT=${TOKIO_PORT:-2450}
WM_PORT=${WM_PORT:-2451}
HOST=127.0.0.1
if [[ -z ${PIN:-} ]]; then
    if command -v taskset >/dev/null && [[ $(nproc) -ge 2 ]]; then PIN=1; else PIN=0; fi
fi

cd "$(dirname "$0")/.."
echo "== building (cargo build --release -p bench)"
cargo build --release -p bench
BIN=${CARGO_TARGET_DIR:-target}/release
WM_PIDFILE=$BIN/workerman.wm_text_echo.pid
CLK_TCK=$(getconf CLK_TCK)
LOGDIR=$(mktemp -d /tmp/line_echo_bench.XXXXXX)

SERVER_CPU=() LOAD_CPU=()
if [[ $PIN == 1 ]]; then
    SERVER_CPU=(taskset -c 0)
    LOAD_CPU=(taskset -c 1)
fi

TOKIO_PID=
WM_STARTED=
cleanup() {
    set +e
    if [[ -n $TOKIO_PID ]] && kill -0 "$TOKIO_PID" 2>/dev/null; then
        kill "$TOKIO_PID"
        wait "$TOKIO_PID" 2>/dev/null
    fi
    if [[ -n $WM_STARTED ]]; then
        timeout 10 "$BIN/wm_text_echo" stop >/dev/null
    fi
    rm -rf "$LOGDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Polls until the port accepts connections (at most 10 s).
wait_port() {
    local port=$1 i
    for ((i = 0; i < 200; i++)); do
        port_open "$port" && return 0
        sleep 0.05
    done
    echo "server on port $port did not come up" >&2
    return 1
}

for port in "$TOKIO_PORT" "$WM_PORT"; do
    if port_open "$port"; then
        echo "port $port is already in use; set TOKIO_PORT / WM_PORT" >&2
        exit 1
    fi
done

echo "== starting servers"
"${SERVER_CPU[@]}" "$BIN/tokio_line_echo" "$HOST:$TOKIO_PORT" >"$LOGDIR/tokio.log" 2>&1 &
TOKIO_PID=$!
WM_TEXT_ECHO_ADDR=$HOST:$WM_PORT "${SERVER_CPU[@]}" "$BIN/wm_text_echo" start -d >"$LOGDIR/wm.log" 2>&1 || {
    cat "$LOGDIR/wm.log" >&2
    exit 1
}
WM_STARTED=1
wait_port "$TOKIO_PORT"
wait_port "$WM_PORT"
WM_MASTER=$(cat "$WM_PIDFILE")
# The master binds the port before forking: wait for its worker process too.
for ((i = 0; i < 200; i++)); do
    [[ -n $(pgrep -P "$WM_MASTER" || true) ]] && break
    sleep 0.05
done

# The pids whose CPU counts for a server.
server_pids() {
    case $1 in
    tokio) echo "$TOKIO_PID" ;;
    workerman) echo "$WM_MASTER" $(pgrep -P "$WM_MASTER" || true) ;;
    esac
}

# "utime stime" in clock ticks, summed over the given pids (fields 14 and 15 of /proc/PID/stat;
# the command name in field 2 may hold spaces, so fields are counted after its closing paren).
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
for name in tokio workerman; do MSGS[$name]=0 SECS[$name]=0 UT[$name]=0 ST[$name]=0; done
RUNS="$LOGDIR/runs.txt"
: >"$RUNS"

run_one() {
    local name=$1 round=$2 port pids out msgs secs rate errors du ds bu bs au as
    [[ $name == tokio ]] && port=$TOKIO_PORT || port=$WM_PORT
    pids=$(server_pids "$name")
    read -r bu bs <<<"$(cpu_ticks $pids)"
    out=$(timeout $((DURATION + 30)) "${LOAD_CPU[@]}" "$BIN/line_load" --addr "$HOST:$port" \
        --conns "$CONNS" --threads "$THREADS" --duration "$DURATION" --size "$SIZE") || {
        echo "$out" >&2
        echo "line_load against $name failed" >&2
        exit 1
    }
    read -r au as <<<"$(cpu_ticks $pids)"
    if [[ $(server_pids "$name") != "$pids" ]]; then
        echo "warning: $name server processes changed during the run (restart?)" >&2
    fi
    local result=${out##*RESULT }
    msgs=$(sed 's/.*msgs=\([0-9]*\).*/\1/' <<<"$result")
    secs=$(sed 's/.*secs=\([0-9.]*\).*/\1/' <<<"$result")
    rate=$(sed 's/.*rate=\([0-9.]*\).*/\1/' <<<"$result")
    errors=$(sed 's/.*errors=\([0-9]*\).*/\1/' <<<"$result")
    du=$((au - bu)) ds=$((as - bs))
    MSGS[$name]=$((MSGS[$name] + msgs))
    SECS[$name]=$(awk -v a="${SECS[$name]}" -v b="$secs" 'BEGIN { print a + b }')
    UT[$name]=$((UT[$name] + du))
    ST[$name]=$((ST[$name] + ds))
    echo "$round $name $msgs $secs $rate $errors $du $ds" >>"$RUNS"
    awk -v r="$round" -v n="$name" -v m="$msgs" -v rate="$rate" -v e="$errors" -v u="$du" -v s="$ds" -v hz="$CLK_TCK" \
        'BEGIN { printf "  round %d  %-9s %9.0f msg/s  %d errors  user %6.3f us/msg  total %6.3f us/msg\n", r, n, rate, e, u / hz * 1e6 / m, (u + s) / hz * 1e6 / m }'
}

echo "== load: $ROUNDS rounds x ${DURATION}s per server, $CONNS conns, $THREADS load threads, $SIZE-byte lines, pin=$PIN"
for ((r = 1; r <= ROUNDS; r++)); do
    # Alternate the order (ABBA...) so drift on the machine hits both servers alike.
    if ((r % 2)); then order="tokio workerman"; else order="workerman tokio"; fi
    for name in $order; do run_one "$name" "$r"; done
done

echo
echo "== results (server CPU per echoed message, all rounds summed; CLK_TCK=$CLK_TCK)"
printf "%-10s %12s %12s %14s %14s %14s\n" server messages "msg/s" "user us/msg" "sys us/msg" "total us/msg"
for name in tokio workerman; do
    awk -v n="$name" -v m="${MSGS[$name]}" -v t="${SECS[$name]}" -v u="${UT[$name]}" -v s="${ST[$name]}" -v hz="$CLK_TCK" \
        'BEGIN { printf "%-10s %12d %12.0f %14.3f %14.3f %14.3f\n", n, m, m / t, u / hz * 1e6 / m, s / hz * 1e6 / m, (u + s) / hz * 1e6 / m }'
done
awk -v mt="${MSGS[tokio]}" -v ut="${UT[tokio]}" -v st="${ST[tokio]}" \
    -v mw="${MSGS[workerman]}" -v uw="${UT[workerman]}" -v sw="${ST[workerman]}" \
    'BEGIN {
        if (mt == 0 || mw == 0 || ut == 0 || ut + st == 0) { print "ratio workerman/tokio: n/a (no CPU time measured)"; exit }
        ru = (uw / mw) / (ut / mt); rt = ((uw + sw) / mw) / ((ut + st) / mt)
        printf "ratio workerman/tokio: user %.2fx, total %.2fx  (target: <= 1.10x)\n", ru, rt
    }'
