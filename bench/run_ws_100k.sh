#!/usr/bin/env bash
# 100,000 concurrent idle WebSocket connections on one machine: server RSS per connection and
# the CPU of the heartbeat for all of them.
#
# Server: bench/src/bin/wm_ws_room.rs with PROCS worker processes (reuse_port: the kernel spreads
# connections evenly, each process stays under its open-file limit) and the built-in heartbeat
# every HEARTBEAT seconds (a silent connection gets a ping; the clients answer with pongs).
# Clients: CLIENTS processes of bench/src/bin/ws_room.rs `idle` (a tokio task per connection),
# from SOURCES addresses 127.0.0.2.. so that no source runs out of ports.
#
#   bench/run_ws_100k.sh
#   CONNS=20000 PROCS=2 CLIENTS=2 WINDOW=30 bench/run_ws_100k.sh   # smaller
#
# Reports: total RSS of the master and the worker processes before and after the connections
# (VmRSS, /proc/PID/status), per connection; then the server CPU (utime+stime, /proc/PID/stat)
# over WINDOW seconds with every connection idle (heartbeat ticks only), as % of one core; the
# pongs the clients sent and the connections that were closed (must be 0).
#
# Settings (environment): CONNS (100000), PROCS (8), CLIENTS (8), SOURCES (20), HEARTBEAT (25),
# WINDOW (4 x HEARTBEAT), PORT (2475). Everything it starts is stopped on exit.
#
# The window should be a multiple of 2 x HEARTBEAT: a client that answers its ping is "seen" at
# the next tick, so each connection is pinged every other tick, and all of them at the same
# ticks (they connected within seconds). A window of another length catches one burst of pings
# more or less than its share (the first runs used 40 s at a 15 s interval: up to twice the
# pings of a fair window).
set -euo pipefail
CONNS=${CONNS:-100000}
PROCS=${PROCS:-8}
CLIENTS=${CLIENTS:-8}
SOURCES=${SOURCES:-20}
HEARTBEAT=${HEARTBEAT:-25}
WINDOW=${WINDOW:-$((4 * HEARTBEAT))}
PORT=${PORT:-2475}
HOST=127.0.0.1
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PER_CLIENT=$(((CONNS + CLIENTS - 1) / CLIENTS))
if (($(ulimit -n) < PER_CLIENT + 100)); then echo "open file limit $(ulimit -n) is below CONNS/CLIENTS + 100" >&2; exit 1; fi
if (($(ulimit -n) < CONNS / PROCS * 12 / 10 + 100)); then echo "open file limit $(ulimit -n) is too low for CONNS/PROCS" >&2; exit 1; fi

cd "$(dirname "$0")/.."
echo "== building"
cargo build --release -p bench --bin wm_ws_room --bin ws_room
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d /tmp/ws_100k.XXXXXX)
export WORKERMAN_PID_FILE=$WORK/wm.pid WORKERMAN_LOG_FILE=$WORK/wm.log WORKERMAN_STDOUT_FILE=$WORK/wm.out
export WM_WS_ROOM_ADDR=$HOST:$PORT WM_WS_ROOM_COUNT=$PROCS WM_WS_ROOM_REUSE_PORT=1 WM_WS_ROOM_HEARTBEAT=$HEARTBEAT
HZ=$(getconf CLK_TCK)
CLIENT_PIDS=() WM_STARTED=
cleanup() {
    set +e
    for p in "${CLIENT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${CLIENT_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    [[ -n $WM_STARTED ]] && timeout 30 "$BIN/wm_ws_room" stop >/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
if port_open "$PORT"; then echo "port $PORT is busy" >&2; exit 1; fi
"$BIN/wm_ws_room" start -d >"$WORK/wm.start" 2>&1
WM_STARTED=1
for ((i = 0; i < 200; i++)); do port_open "$PORT" && break; sleep 0.05; done
MASTER=$(cat "$WORKERMAN_PID_FILE")
for ((i = 0; i < 200; i++)); do (($(pgrep -P "$MASTER" | wc -l) >= PROCS)) && break; sleep 0.05; done
WORKERS=$(pgrep -P "$MASTER" | tr '\n' ' ')
PIDS="$MASTER $WORKERS"
sleep 1

rss_kb() { local t=0 p; for p in $PIDS; do t=$((t + $(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status"))); done; echo $t; }
cpu_ticks() {
    local t=0 p rest
    for p in $PIDS; do
        rest=$(cat "/proc/$p/stat"); rest=${rest##*) }
        read -r _ _ _ _ _ _ _ _ _ _ _ ut st _ <<<"$rest"
        t=$((t + ut + st))
    done
    echo $t
}
fds() { local p; for p in $WORKERS; do printf "%s " "$(ls "/proc/$p/fd" | wc -l)"; done; }

before=$(rss_kb)
echo "== $CONNS idle connections: $PROCS worker processes, $CLIENTS client processes, heartbeat ${HEARTBEAT}s"
echo "server RSS before: $before KB (master + $PROCS workers)"
start=$(date +%s.%N)
for ((c = 0; c < CLIENTS; c++)); do
    n=$((c == CLIENTS - 1 ? CONNS - PER_CLIENT * (CLIENTS - 1) : PER_CLIENT))
    "$BIN/ws_room" idle --addr "$HOST:$PORT" --conns "$n" --sources "$SOURCES" \
        --hold $((WINDOW + 15)) >"$WORK/client.$c" 2>&1 &
    CLIENT_PIDS+=($!)
done
for ((c = 0; c < CLIENTS; c++)); do
    until grep -q READY "$WORK/client.$c"; do
        if ! kill -0 "${CLIENT_PIDS[$c]}" 2>/dev/null; then cat "$WORK/client.$c" >&2; exit 1; fi
        sleep 0.2
    done
done
echo "all connected in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s"
# Two independent counts: descriptors the workers hold, and established server-side sockets the
# kernel has on the port.
echo "open fds per worker: $(fds)(sum $(fds | tr ' ' '\n' | awk '{ s += $1 } END { print s }'))"
echo "established server sockets on port $PORT: $(ss -Htn state established "( sport = :$PORT )" | wc -l)"
sleep 3
after=$(rss_kb)
awk -v b="$before" -v a="$after" -v n="$CONNS" \
    'BEGIN { printf "server RSS after:  %d KB  => %.0f bytes per connection (target <= 2048)\n", a, (a - b) * 1024 / n }'

echo "== heartbeat CPU over ${WINDOW}s (every connection idle; pings every ${HEARTBEAT}s to the silent ones)"
t0=$(cpu_ticks)
s0=$(date +%s.%N)
sleep "$WINDOW"
t1=$(cpu_ticks)
s1=$(date +%s.%N)
awk -v t=$((t1 - t0)) -v hz="$HZ" -v s0="$s0" -v s1="$s1" \
    'BEGIN { printf "server CPU: %.2f s in %.1f s = %.2f%% of one core (target <= 5%%)\n", t / hz, s1 - s0, t / hz / (s1 - s0) * 100 }'
late=$(rss_kb)
awk -v b="$before" -v a="$late" -v n="$CONNS" \
    'BEGIN { printf "server RSS after the heartbeat ticks: %d KB => %.0f bytes per connection\n", a, (a - b) * 1024 / n }'
for p in "${CLIENT_PIDS[@]}"; do wait "$p" || true; done
CLIENT_PIDS=()
awk '/^PONGS/ { p += $2; c += $4 } END { printf "clients: %d pongs sent, %d connections closed by the server (must be 0)\n", p, c }' "$WORK"/client.*
