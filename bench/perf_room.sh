#!/usr/bin/env bash
# One broadcast-room run against one server, optionally under a profiler attached to the
# server's worker once every client is connected: the tool behind the 2026-12-01 broadcast
# findings in BENCHMARKS.md (perf sees memory stalls that callgrind's instruction counts miss).
#
#   bench/perf_room.sh wm 10000 1000 20                          # workerman: CPU per delivery
#   bench/perf_room.sh tt 10000 1000 20                          # tokio-tungstenite
#   bench/perf_room.sh wm 10000 1000 20 perf record -F 4999 -o /tmp/perf.wm
#   bench/perf_room.sh wm 10000 1000 20 strace -c -f -o /tmp/strace.wm
#   perf report -i /tmp/perf.wm --sort dso,sym; perf annotate -i /tmp/perf.wm -s SYMBOL
#
# Arguments: SERVER (wm | tt), CONNS, MESSAGES, BURST (1 = paced), then an optional command to
# attach (it gets `-p PID` appended and is stopped with SIGINT after PROFILE_SECS, default 3;
# give the run more messages than that lasts: a run that ends first leaves nothing to see).
# Server pinned on CPU 0, load on CPU 1. Ports WM_PORT (2572), TT_PORT (2573). Release build.
set -euo pipefail
if (($# < 4)); then sed -n '2,16p' "$0" >&2; exit 2; fi
S=$1 N=$2 M=$3 B=$4
shift 4
cd "$(dirname "$0")/.."
cargo build --release -q -p bench --bin wm_ws_room --bin tokio_ws_room --bin ws_room
BIN=${CARGO_TARGET_DIR:-target}/release
W=$(mktemp -d /tmp/perf_room.XXXXXX)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
WM_PORT=${WM_PORT:-2572} TT_PORT=${TT_PORT:-2573}
PID= PP=
cleanup() {
    set +e
    [[ -n $PP ]] && kill -INT "$PP" 2>/dev/null && wait "$PP" 2>/dev/null
    if [[ $S == wm ]]; then
        WORKERMAN_PID_FILE=$W/wm.pid timeout 10 "$BIN/wm_ws_room" stop >/dev/null 2>&1
    elif [[ -n $PID ]]; then
        kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    fi
    rm -rf "$W"
}
trap cleanup EXIT
case $S in
wm)
    export WORKERMAN_PID_FILE=$W/wm.pid WORKERMAN_LOG_FILE=$W/wm.log WORKERMAN_STDOUT_FILE=$W/wm.out
    export WM_WS_ROOM_ADDR=127.0.0.1:$WM_PORT
    taskset -c 0 "$BIN/wm_ws_room" start -d >/dev/null
    for _ in $(seq 200); do [[ -s $W/wm.pid ]] && pgrep -P "$(cat "$W/wm.pid")" >/dev/null && break; sleep 0.05; done
    PID=$(pgrep -P "$(cat "$W/wm.pid")")
    PORT=$WM_PORT
    ;;
tt)
    taskset -c 0 "$BIN/tokio_ws_room" "127.0.0.1:$TT_PORT" >"$W/tt.log" 2>&1 &
    PID=$!
    PORT=$TT_PORT
    ;;
*) echo "SERVER is wm or tt" >&2; exit 2 ;;
esac
for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done
if (($#)); then
    (
        until (($(ls "/proc/$PID/fd" | wc -l) > N)); do sleep 0.05; done
        sleep 0.3
        timeout -s INT "${PROFILE_SECS:-3}" "$@" -p "$PID" || true
    ) &
    PP=$!
fi
taskset -c 1 "$BIN/ws_room" room --addr "127.0.0.1:$PORT" --conns "$N" --sources 4 --messages "$M" \
    --burst "$B" --size 32 --pids "$PID" --hz "$(getconf CLK_TCK)" | grep RESULT
if [[ -n $PP ]]; then wait "$PP" || true; PP=; fi
